-- Tenants, their spaces and their API keys (spec/domain.md "Tenants, spaces,
-- keys"), and the two time conversions every later migration uses.
--
-- Time crosses the C boundary as fv_time (milliseconds since the Unix epoch,
-- UTC) and is stored as timestamptz. fv_ms_to_ts and fv_ts_to_ms are the
-- only conversions: exact for whole milliseconds, inlined by the planner
-- (STABLE like the timestamptz operators they use, else they would not be).
-- Values beyond the range of timestamptz (the INT64_MIN / INT64_MAX bounds
-- of open-ended scans) become -infinity / infinity.

CREATE FUNCTION fv_ms_to_ts(ms bigint) RETURNS timestamptz
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    RETURN CASE
        WHEN ms >= 9000000000000000 THEN 'infinity'::timestamptz
        WHEN ms <= -200000000000000 THEN '-infinity'::timestamptz
        ELSE 'epoch'::timestamptz + ms * interval '1 millisecond'
    END;

-- date_part (double precision) rather than extract (numeric): two to three
-- times faster in the filters that compute statuses, and exact for whole
-- milliseconds (a double holds them exactly; the product is rounded).
CREATE FUNCTION fv_ts_to_ms(ts timestamptz) RETURNS bigint
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    RETURN (date_part('epoch', ts) * 1000)::bigint;

-- Slugs, prefixes, kinds and names compare and sort bytewise (COLLATE "C"),
-- as the in-memory adapter's strcmp does, whatever the database locale.

CREATE TABLE tenant (
    id uuid PRIMARY KEY,
    slug varchar(63) COLLATE "C" NOT NULL CONSTRAINT tenant_slug_key UNIQUE,
    name varchar(255),
    created_at timestamptz NOT NULL
);

-- "No space" is the tenant level: rows elsewhere carry a NULL space_id.
CREATE TABLE space (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    slug varchar(63) COLLATE "C" NOT NULL,
    name varchar(255),
    created_at timestamptz NOT NULL,
    CONSTRAINT space_tenant_slug_key UNIQUE (tenant_id, slug),
    -- Target of the (tenant_id, space_id) foreign keys: a row's space
    -- belongs to the row's tenant.
    CONSTRAINT space_tenant_id_key UNIQUE (tenant_id, id)
);

-- Only SHA-256 of the whole key text is stored (docs/architecture.md,
-- "Authentication"); the prefix is the public lookup part.
CREATE TABLE api_key (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    role varchar(16) NOT NULL CONSTRAINT api_key_role_check
        CHECK (role IN ('worker', 'operator', 'admin')),
    name varchar(255),
    prefix varchar(32) COLLATE "C" NOT NULL CONSTRAINT api_key_prefix_key UNIQUE,
    hash bytea NOT NULL CONSTRAINT api_key_hash_check CHECK (octet_length(hash) = 32),
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    -- Insertion order: "oldest first" among keys created in the same
    -- millisecond.
    seq bigint GENERATED ALWAYS AS IDENTITY
);

CREATE INDEX api_key_tenant_idx ON api_key (tenant_id, created_at, seq);

-- The rows as the C code reads them (times in milliseconds). The generated
-- query code embeds these shapes (`SELECT t.* FROM tenant_v t`).

CREATE VIEW tenant_v AS
SELECT t.id, t.slug, t.name, fv_ts_to_ms(t.created_at)::bigint AS created_at
FROM tenant t;

CREATE VIEW space_v AS
SELECT s.id, s.tenant_id, s.slug, s.name, fv_ts_to_ms(s.created_at)::bigint AS created_at
FROM space s;

CREATE VIEW api_key_v AS
SELECT k.id, k.tenant_id, k.role, k.name, k.prefix, k.hash,
       fv_ts_to_ms(k.created_at)::bigint AS created_at,
       fv_ts_to_ms(k.revoked_at)::bigint AS revoked_at,
       k.seq
FROM api_key k;
