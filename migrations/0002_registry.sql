-- The registry: workers, workflow and task definitions, the capability links
-- between them and the status history of workers. Seed 000's normalized
-- schema, adapted to the ports (ports/worker_repo.h, ports/definition_repo.h)
-- and to what the spec adds (docs/architecture.md "The Postgres schema"):
--   - worker: last_seen_at (last sign of life of any kind), the last health
--     info, status_changed_at, and its link counts;
--   - definitions: declared values (latest registration) and operator
--     overrides (configured_*) in separate columns;
--   - "no space" (NULL space_id) is one value for uniqueness (UNIQUE NULLS
--     NOT DISTINCT), so it never lets duplicates in;
--   - JSON that workers send (metadata, schemas, health info) is `json`,
--     kept verbatim; retry policies, which we build, are `jsonb`.

-- ---------------------------------------------------------------------------
-- Workers
-- ---------------------------------------------------------------------------

CREATE TABLE worker (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    space_id uuid,
    worker_name varchar(255) COLLATE "C" NOT NULL,
    worker_version varchar(50),
    worker_type varchar(16) NOT NULL CONSTRAINT worker_type_check
        CHECK (worker_type IN ('WORKFLOW', 'TASK', 'UNIFIED')),
    -- Stored status, moved by registration, jobs and operators; reads derive
    -- the effective one (fv_effective_status).
    status varchar(16) NOT NULL CONSTRAINT worker_status_check
        CHECK (status IN ('ONLINE', 'DEGRADED', 'OFFLINE')),
    status_changed_at timestamptz NOT NULL,
    host_name varchar(255),
    process_id varchar(100),
    registered_at timestamptz NOT NULL,
    last_heartbeat_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    metadata json,
    health_info json,
    health_degraded boolean NOT NULL DEFAULT false,
    -- Numbers of capability links, written by registration (the only writer
    -- of links), so that lists need no count per row.
    workflow_kinds integer NOT NULL DEFAULT 0,
    task_kinds integer NOT NULL DEFAULT 0,
    CONSTRAINT worker_space_fkey FOREIGN KEY (tenant_id, space_id)
        REFERENCES space (tenant_id, id),
    -- Identity (spec decision 5): the same process registering again is the
    -- same row; a NULL space, host or pid is one value.
    CONSTRAINT worker_identity UNIQUE NULLS NOT DISTINCT
        (tenant_id, space_id, worker_name, host_name, process_id)
);

-- Lists (by name, then id) and polls by name.
CREATE INDEX worker_tenant_name_idx ON worker (tenant_id, worker_name, id);
-- Jobs: scans by stored status and last sign of life, retention.
CREATE INDEX worker_status_seen_idx ON worker (status, last_seen_at);

-- Status transitions (seed 002), newest last; bounded per worker by the
-- adapter.
CREATE TABLE worker_status_change (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    worker_id uuid NOT NULL REFERENCES worker (id) ON DELETE CASCADE,
    from_status varchar(16) NOT NULL,
    to_status varchar(16) NOT NULL,
    changed_at timestamptz NOT NULL,
    reason text
);

CREATE INDEX worker_status_change_worker_idx ON worker_status_change (worker_id, seq);

-- ---------------------------------------------------------------------------
-- Definitions
-- ---------------------------------------------------------------------------

CREATE TABLE workflow_definition (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    space_id uuid,
    kind varchar(255) COLLATE "C" NOT NULL,
    -- Declared by the latest registration:
    name varchar(255) NOT NULL,
    description text,
    timeout_seconds integer,
    retry_policy jsonb,
    tags text[],
    cancellable boolean NOT NULL DEFAULT false,
    metadata json,
    input_schema json,
    output_schema json,
    -- Set by operators (PATCH .../configuration); NULL = no override:
    configured_timeout_seconds integer,
    configured_retry_policy jsonb,
    configured_tags text[],
    -- The highest semantic version seen:
    latest_version varchar(50),
    -- Stored availability, from the stored statuses of the linked workers:
    availability_status varchar(16) NOT NULL DEFAULT 'UNAVAILABLE'
        CONSTRAINT workflow_definition_availability_check
        CHECK (availability_status IN ('AVAILABLE', 'DEGRADED', 'UNAVAILABLE')),
    first_seen_at timestamptz NOT NULL,
    last_registered_at timestamptz NOT NULL,
    CONSTRAINT workflow_definition_space_fkey FOREIGN KEY (tenant_id, space_id)
        REFERENCES space (tenant_id, id),
    CONSTRAINT workflow_definition_tenant_space_kind_key UNIQUE NULLS NOT DISTINCT
        (tenant_id, space_id, kind)
);

-- Lists: by kind, tenant level first, then id; lookups by kind.
CREATE INDEX workflow_definition_list_idx
    ON workflow_definition (tenant_id, kind, (space_id IS NOT NULL), id);
CREATE INDEX workflow_definition_availability_idx
    ON workflow_definition (availability_status);
-- The tag filter matches the effective tags.
CREATE INDEX workflow_definition_tags_idx
    ON workflow_definition USING gin ((COALESCE(configured_tags, tags)));

-- The same columns but latest_version (tasks have no versions).
CREATE TABLE task_definition (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    space_id uuid,
    kind varchar(255) COLLATE "C" NOT NULL,
    name varchar(255) NOT NULL,
    description text,
    timeout_seconds integer,
    retry_policy jsonb,
    tags text[],
    cancellable boolean NOT NULL DEFAULT false,
    metadata json,
    input_schema json,
    output_schema json,
    configured_timeout_seconds integer,
    configured_retry_policy jsonb,
    configured_tags text[],
    availability_status varchar(16) NOT NULL DEFAULT 'UNAVAILABLE'
        CONSTRAINT task_definition_availability_check
        CHECK (availability_status IN ('AVAILABLE', 'DEGRADED', 'UNAVAILABLE')),
    first_seen_at timestamptz NOT NULL,
    last_registered_at timestamptz NOT NULL,
    CONSTRAINT task_definition_space_fkey FOREIGN KEY (tenant_id, space_id)
        REFERENCES space (tenant_id, id),
    CONSTRAINT task_definition_tenant_space_kind_key UNIQUE NULLS NOT DISTINCT
        (tenant_id, space_id, kind)
);

CREATE INDEX task_definition_list_idx
    ON task_definition (tenant_id, kind, (space_id IS NOT NULL), id);
CREATE INDEX task_definition_availability_idx ON task_definition (availability_status);
CREATE INDEX task_definition_tags_idx
    ON task_definition USING gin ((COALESCE(configured_tags, tags)));

-- ---------------------------------------------------------------------------
-- Capability links (join tables). Keyed by (worker, definition): a worker
-- declares a kind once.
-- ---------------------------------------------------------------------------

CREATE TABLE worker_workflow_capability (
    worker_id uuid NOT NULL REFERENCES worker (id) ON DELETE CASCADE,
    workflow_definition_id uuid NOT NULL
        REFERENCES workflow_definition (id) ON DELETE CASCADE,
    version varchar(50),
    content_hash varchar(128),
    registered_at timestamptz NOT NULL,
    PRIMARY KEY (worker_id, workflow_definition_id)
);

-- The workers of a definition, read from the index alone.
CREATE INDEX worker_workflow_capability_definition_idx
    ON worker_workflow_capability (workflow_definition_id, worker_id);

CREATE TABLE worker_task_capability (
    worker_id uuid NOT NULL REFERENCES worker (id) ON DELETE CASCADE,
    task_definition_id uuid NOT NULL REFERENCES task_definition (id) ON DELETE CASCADE,
    registered_at timestamptz NOT NULL,
    PRIMARY KEY (worker_id, task_definition_id)
);

CREATE INDEX worker_task_capability_definition_idx
    ON worker_task_capability (task_definition_id, worker_id);

-- ---------------------------------------------------------------------------
-- Derived values, the same rules as core/worker.c and core/definition.c so
-- that filters run before pagination and totals stay exact. Arguments are
-- milliseconds, as in the C code.
-- ---------------------------------------------------------------------------

CREATE FUNCTION fv_status_rank(status text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE status WHEN 'ONLINE' THEN 1 WHEN 'DEGRADED' THEN 2 ELSE 3 END;

-- From the age of the last sign of life alone.
CREATE FUNCTION fv_derived_status(last_seen_at bigint, health_degraded boolean, now bigint,
                                  degraded_after bigint, offline_after bigint) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE
        WHEN now - last_seen_at <= degraded_after THEN
            CASE WHEN health_degraded THEN 'DEGRADED' ELSE 'ONLINE' END
        WHEN now - last_seen_at <= offline_after THEN 'DEGRADED'
        ELSE 'OFFLINE'
    END;

-- fv_worker_effective_status: a sign of life newer than the last status
-- change wins outright; otherwise the worse of stored and derived.
CREATE FUNCTION fv_effective_status(status text, last_seen_at bigint, status_changed_at bigint,
                                    health_degraded boolean, now bigint, degraded_after bigint,
                                    offline_after bigint) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE
        WHEN last_seen_at > status_changed_at
             OR fv_status_rank(status) <= fv_status_rank(fv_derived_status(
                    last_seen_at, health_degraded, now, degraded_after, offline_after))
        THEN fv_derived_status(last_seen_at, health_degraded, now, degraded_after, offline_after)
        ELSE status
    END;

-- fv_availability_from_counts.
CREATE FUNCTION fv_availability_of(online bigint, degraded bigint) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN online > 0 THEN 'AVAILABLE' WHEN degraded > 0 THEN 'DEGRADED'
                ELSE 'UNAVAILABLE' END;

-- ---------------------------------------------------------------------------
-- The rows as the C code reads them (times in milliseconds; both classes of
-- definitions and links in one shape, `cls` being fv_def_class: 1 workflow,
-- 2 task).
-- ---------------------------------------------------------------------------

CREATE VIEW worker_v AS
SELECT w.id, w.tenant_id, w.space_id, w.worker_name, w.worker_version, w.worker_type, w.status,
       w.host_name, w.process_id,
       fv_ts_to_ms(w.registered_at)::bigint AS registered_at,
       fv_ts_to_ms(w.last_heartbeat_at)::bigint AS last_heartbeat_at,
       fv_ts_to_ms(w.last_seen_at)::bigint AS last_seen_at,
       fv_ts_to_ms(w.status_changed_at)::bigint AS status_changed_at,
       w.metadata, w.health_info, w.health_degraded, w.workflow_kinds, w.task_kinds
FROM worker w;

-- A retry policy is {maxRetries, initialDelayMs, backoffCoefficient,
-- maxDelayMs}, each key optional; has_* tells a policy ({} included) from
-- none.
-- sqlgen: notnull has_retry_policy, has_configured_retry_policy
CREATE VIEW definition_v AS
SELECT 1::integer AS cls, d.id, d.tenant_id, d.space_id, d.kind, d.name, d.description,
       d.cancellable,
       d.timeout_seconds,
       (d.retry_policy IS NOT NULL)::boolean AS has_retry_policy,
       (d.retry_policy ->> 'maxRetries')::bigint AS retry_max_retries,
       (d.retry_policy ->> 'initialDelayMs')::bigint AS retry_initial_delay_ms,
       (d.retry_policy ->> 'backoffCoefficient')::double precision AS retry_backoff_coefficient,
       (d.retry_policy ->> 'maxDelayMs')::bigint AS retry_max_delay_ms,
       d.tags,
       d.configured_timeout_seconds,
       (d.configured_retry_policy IS NOT NULL)::boolean AS has_configured_retry_policy,
       (d.configured_retry_policy ->> 'maxRetries')::bigint AS configured_retry_max_retries,
       (d.configured_retry_policy ->> 'initialDelayMs')::bigint
           AS configured_retry_initial_delay_ms,
       (d.configured_retry_policy ->> 'backoffCoefficient')::double precision
           AS configured_retry_backoff_coefficient,
       (d.configured_retry_policy ->> 'maxDelayMs')::bigint AS configured_retry_max_delay_ms,
       d.configured_tags,
       d.latest_version,
       d.availability_status,
       fv_ts_to_ms(d.first_seen_at)::bigint AS first_seen_at,
       fv_ts_to_ms(d.last_registered_at)::bigint AS last_registered_at,
       d.metadata, d.input_schema, d.output_schema
FROM workflow_definition d
UNION ALL
SELECT 2, d.id, d.tenant_id, d.space_id, d.kind, d.name, d.description,
       d.cancellable,
       d.timeout_seconds,
       d.retry_policy IS NOT NULL,
       (d.retry_policy ->> 'maxRetries')::bigint,
       (d.retry_policy ->> 'initialDelayMs')::bigint,
       (d.retry_policy ->> 'backoffCoefficient')::double precision,
       (d.retry_policy ->> 'maxDelayMs')::bigint,
       d.tags,
       d.configured_timeout_seconds,
       d.configured_retry_policy IS NOT NULL,
       (d.configured_retry_policy ->> 'maxRetries')::bigint,
       (d.configured_retry_policy ->> 'initialDelayMs')::bigint,
       (d.configured_retry_policy ->> 'backoffCoefficient')::double precision,
       (d.configured_retry_policy ->> 'maxDelayMs')::bigint,
       d.configured_tags,
       NULL::varchar,
       d.availability_status,
       fv_ts_to_ms(d.first_seen_at)::bigint,
       fv_ts_to_ms(d.last_registered_at)::bigint,
       d.metadata, d.input_schema, d.output_schema
FROM task_definition d;

CREATE VIEW capability_v AS
SELECT 1::integer AS cls, l.worker_id, l.workflow_definition_id AS definition_id, l.version,
       l.content_hash, fv_ts_to_ms(l.registered_at)::bigint AS registered_at
FROM worker_workflow_capability l
UNION ALL
SELECT 2, l.worker_id, l.task_definition_id, NULL::varchar, NULL::varchar,
       fv_ts_to_ms(l.registered_at)::bigint
FROM worker_task_capability l;
