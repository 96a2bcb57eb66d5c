-- Tenants, spaces and API keys (ports/tenant_store.h; adapters/postgres/pg_tenants.c).

-- name: CreateTenant :exec
-- params: id, slug, name?, created_at
INSERT INTO tenant (id, slug, name, created_at)
VALUES ($1::uuid, $2::text, $3::text, fv_ms_to_ts($4::bigint));

-- name: GetTenant :one
-- params: id
SELECT t.* FROM tenant_v t WHERE t.id = $1::uuid;

-- name: GetTenantBySlug :one
-- params: slug
SELECT t.* FROM tenant_v t WHERE t.slug = $1::text;

-- A space of an existing tenant: no row when the tenant is unknown.
-- name: CreateSpace :one
-- params: id, tenant_id, slug, name?, created_at
INSERT INTO space (id, tenant_id, slug, name, created_at)
SELECT $1::uuid, t.id, $3::text, $4::text, fv_ms_to_ts($5::bigint)
FROM tenant t
WHERE t.id = $2::uuid
RETURNING id;

-- name: GetSpace :one
-- params: tenant_id, id
SELECT s.* FROM space_v s WHERE s.tenant_id = $1::uuid AND s.id = $2::uuid;

-- name: GetSpaceBySlug :one
-- params: tenant_id, slug
SELECT s.* FROM space_v s WHERE s.tenant_id = $1::uuid AND s.slug = $2::text;

-- A key of an existing tenant: no row when the tenant is unknown.
-- name: CreateApiKey :one
-- params: id, tenant_id, role, name?, prefix, hash, created_at, revoked_at?
INSERT INTO api_key (id, tenant_id, role, name, prefix, hash, created_at, revoked_at)
SELECT $1::uuid, t.id, $3::text, $4::text, $5::text, $6::bytea, fv_ms_to_ts($7::bigint),
       fv_ms_to_ts($8::bigint)
FROM tenant t
WHERE t.id = $2::uuid
RETURNING id;

-- name: FindApiKey :one
-- params: prefix
SELECT k.* FROM api_key_v k WHERE k.prefix = $1::text;

-- Oldest first; keys created in the same millisecond in insertion order.
-- name: ListApiKeys :many
-- params: tenant_id
SELECT k.* FROM api_key_v k WHERE k.tenant_id = $1::uuid ORDER BY k.created_at, k.seq;

-- A revoked key keeps its first revoked_at.
-- name: RevokeApiKey :execrows
-- params: tenant_id, id, now
UPDATE api_key
SET revoked_at = COALESCE(revoked_at, fv_ms_to_ts($3::bigint))
WHERE tenant_id = $1::uuid AND id = $2::uuid;
