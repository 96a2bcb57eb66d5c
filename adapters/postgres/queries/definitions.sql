-- Workflow and task definitions (ports/definition_repo.h;
-- adapters/postgres/pg_definitions.c). One variant per class: reads embed
-- definition_v (both classes in one shape, `cls` being fv_def_class) with
-- the class fixed, so the planner keeps only that class's tables, and count
-- the live workers on that class's link table.
--
-- Availability and worker_count are derived at `now` from the effective
-- statuses of the linked workers (fv_effective_status), before any filter
-- on them and before pagination, so totals are exact.

-- name: Get{Cls}Definition :one
-- variant: Cls=Workflow cls=workflow n=1
-- variant: Cls=Task cls=task n=2
-- params: tenant_id, space_id?, kind, now, degraded_after, offline_after
-- notnull: availability, worker_count
SELECT d.*,
       fv_availability_of(c.online, c.degraded)::text AS availability,
       (c.online + c.degraded)::bigint AS worker_count
FROM definition_v d
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE s.status = 'ONLINE') AS online,
           count(*) FILTER (WHERE s.status = 'DEGRADED') AS degraded
    FROM worker_{cls}_capability l
    CROSS JOIN LATERAL (
        SELECT fv_effective_status(w.status, w.last_seen_at, w.status_changed_at,
                                   w.health_degraded, $4::bigint, $5::bigint, $6::bigint)
                   AS status
        FROM worker_v w
        WHERE w.id = l.worker_id
        OFFSET 0) s
    WHERE l.{cls}_definition_id = d.id
) c
WHERE d.cls = {n} AND d.tenant_id = $1::uuid AND d.kind = $3::text
  AND d.space_id IS NOT DISTINCT FROM $2::uuid;

-- Definitions of a tenant matching the filter (no availability filter),
-- one page by kind, tenant level first, then id: the page is cut from the
-- list index first, and only its definitions count their workers, through
-- the link index (each link's worker status computed once: OFFSET 0 keeps
-- the planner from copying the expression into both counts). Every row
-- carries the number of matches.
-- name: List{Cls}Definitions :many
-- variant: Cls=Workflow cls=workflow n=1
-- variant: Cls=Task cls=task n=2
-- params: tenant_id, any_space, space_id?, tag?, now, degraded_after, offline_after, page_limit, page_offset
-- row: definition_page
-- notnull: availability, worker_count, total
WITH page AS MATERIALIZED (
    SELECT x.id
    FROM {cls}_definition x
    WHERE x.tenant_id = $1::uuid
      AND ($2::boolean OR x.space_id IS NOT DISTINCT FROM $3::uuid)
      AND ($4::text IS NULL OR COALESCE(x.configured_tags, x.tags) @> ARRAY[$4::text])
    ORDER BY x.kind, x.space_id IS NOT NULL, x.id
    LIMIT $8::bigint OFFSET $9::bigint
), live AS (
    SELECT p.id, c.online, c.degraded
    FROM page p
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE s.status = 'ONLINE') AS online,
               count(*) FILTER (WHERE s.status = 'DEGRADED') AS degraded
        FROM worker_{cls}_capability l
        CROSS JOIN LATERAL (
            SELECT fv_effective_status(w.status, w.last_seen_at, w.status_changed_at,
                                       w.health_degraded, $5::bigint, $6::bigint, $7::bigint)
                       AS status
            FROM worker_v w
            WHERE w.id = l.worker_id
            OFFSET 0) s
        WHERE l.{cls}_definition_id = p.id
    ) c
)
SELECT d.*,
       fv_availability_of(COALESCE(c.online, 0), COALESCE(c.degraded, 0))::text AS availability,
       (COALESCE(c.online, 0) + COALESCE(c.degraded, 0))::bigint AS worker_count,
       (SELECT count(*)
        FROM {cls}_definition y
        WHERE y.tenant_id = $1::uuid
          AND ($2::boolean OR y.space_id IS NOT DISTINCT FROM $3::uuid)
          AND ($4::text IS NULL OR COALESCE(y.configured_tags, y.tags) @> ARRAY[$4::text])
       )::bigint AS total
FROM page p
JOIN definition_v d ON d.cls = {n} AND d.id = p.id
LEFT JOIN live c ON c.id = p.id
ORDER BY d.kind, d.space_id IS NOT NULL, d.id;

-- The same with an availability filter: the status of each worker of the
-- tenant is computed once, every definition of the tenant counts its live
-- workers (one pass over the tenant's links), then the filter, then the
-- page.
-- name: List{Cls}DefinitionsByAvailability :many
-- variant: Cls=Workflow cls=workflow n=1
-- variant: Cls=Task cls=task n=2
-- params: tenant_id, any_space, space_id?, tag?, availability, now, degraded_after, offline_after, page_limit, page_offset
-- row: definition_page
-- notnull: availability, worker_count
WITH status AS MATERIALIZED (
    SELECT w.id,
           fv_effective_status(w.status, w.last_seen_at, w.status_changed_at, w.health_degraded,
                               $6::bigint, $7::bigint, $8::bigint) AS status
    FROM worker_v w
    WHERE w.tenant_id = $1::uuid
), live AS (
    SELECT l.{cls}_definition_id AS id,
           count(*) FILTER (WHERE s.status = 'ONLINE') AS online,
           count(*) FILTER (WHERE s.status = 'DEGRADED') AS degraded
    FROM worker_{cls}_capability l
    JOIN status s ON s.id = l.worker_id
    GROUP BY l.{cls}_definition_id
), matching AS (
    SELECT x.id,
           fv_availability_of(COALESCE(c.online, 0), COALESCE(c.degraded, 0)) AS availability,
           COALESCE(c.online, 0) + COALESCE(c.degraded, 0) AS worker_count
    FROM {cls}_definition x
    LEFT JOIN live c ON c.id = x.id
    WHERE x.tenant_id = $1::uuid
      AND ($2::boolean OR x.space_id IS NOT DISTINCT FROM $3::uuid)
      AND ($4::text IS NULL OR COALESCE(x.configured_tags, x.tags) @> ARRAY[$4::text])
)
SELECT d.*, m.availability::text AS availability, m.worker_count::bigint AS worker_count,
       (count(*) OVER ())::bigint AS total
FROM matching m
JOIN definition_v d ON d.cls = {n} AND d.id = m.id
WHERE m.availability = $5::text
ORDER BY d.kind, d.space_id IS NOT NULL, d.id
LIMIT $9::bigint OFFSET $10::bigint;

-- The number of matches of either list (for a page beyond the last).
-- name: Count{Cls}Definitions :one
-- variant: Cls=Workflow cls=workflow n=1
-- variant: Cls=Task cls=task n=2
-- params: tenant_id, any_space, space_id?, tag?, availability?, now, degraded_after, offline_after
WITH status AS MATERIALIZED (
    SELECT w.id,
           fv_effective_status(w.status, w.last_seen_at, w.status_changed_at, w.health_degraded,
                               $6::bigint, $7::bigint, $8::bigint) AS status
    FROM worker_v w
    WHERE w.tenant_id = $1::uuid AND $5::text IS NOT NULL
), live AS (
    SELECT l.{cls}_definition_id AS id,
           count(*) FILTER (WHERE s.status = 'ONLINE') AS online,
           count(*) FILTER (WHERE s.status = 'DEGRADED') AS degraded
    FROM worker_{cls}_capability l
    JOIN status s ON s.id = l.worker_id
    GROUP BY l.{cls}_definition_id
)
SELECT count(*)::bigint AS total
FROM {cls}_definition x
LEFT JOIN live c ON c.id = x.id
WHERE x.tenant_id = $1::uuid
  AND ($2::boolean OR x.space_id IS NOT DISTINCT FROM $3::uuid)
  AND ($4::text IS NULL OR COALESCE(x.configured_tags, x.tags) @> ARRAY[$4::text])
  AND ($5::text IS NULL
       OR fv_availability_of(COALESCE(c.online, 0), COALESCE(c.degraded, 0)) = $5::text);

-- Apply an operator's patch: per field keep it, or set it to the value
-- given (NULL clears the override). Declared values are never touched.
-- name: Configure{Cls}Definition :execrows
-- variant: Cls=Workflow cls=workflow
-- variant: Cls=Task cls=task
-- params: tenant_id, space_id?, kind, keep_timeout, timeout_seconds?, keep_retry, has_retry, retry_max_retries?, retry_initial_delay_ms?, retry_backoff_coefficient?, retry_max_delay_ms?, keep_tags, tags?
UPDATE {cls}_definition
SET configured_timeout_seconds = CASE WHEN $4::boolean THEN configured_timeout_seconds
                                      ELSE $5::bigint::integer END,
    configured_retry_policy = CASE
        WHEN $6::boolean THEN configured_retry_policy
        WHEN $7::boolean THEN jsonb_strip_nulls(jsonb_build_object(
            'maxRetries', $8::bigint, 'initialDelayMs', $9::bigint,
            'backoffCoefficient', $10::double precision, 'maxDelayMs', $11::bigint))
        END,
    configured_tags = CASE WHEN $12::boolean THEN configured_tags ELSE $13::text[] END
WHERE tenant_id = $1::uuid AND kind = $3::text AND space_id IS NOT DISTINCT FROM $2::uuid;

-- Recompute the stored availability of every definition of a class (all
-- tenants) from the stored statuses of the linked workers; returns the ones
-- that changed. Rows to change are locked in key order first.
-- name: Refresh{Cls}Definitions :many
-- variant: Cls=Workflow cls=workflow
-- variant: Cls=Task cls=task
WITH computed AS (
    SELECT x.id, x.availability_status AS old,
           fv_availability_of(count(w.id) FILTER (WHERE w.status = 'ONLINE'),
                              count(w.id) FILTER (WHERE w.status = 'DEGRADED')) AS new
    FROM {cls}_definition x
    LEFT JOIN worker_{cls}_capability l ON l.{cls}_definition_id = x.id
    LEFT JOIN worker w ON w.id = l.worker_id
    GROUP BY x.id
), locked AS (
    SELECT d.id, c.old, c.new
    FROM {cls}_definition d
    JOIN computed c ON c.id = d.id
    WHERE c.old <> c.new
    ORDER BY d.tenant_id, d.space_id NULLS FIRST, d.kind
    FOR NO KEY UPDATE OF d
)
UPDATE {cls}_definition d
SET availability_status = k.new
FROM locked k
WHERE d.id = k.id
RETURNING d.id, d.kind, k.old::text AS from_availability, k.new::text AS to_availability;

-- Metrics: definitions of a class in every tenant by availability derived
-- at `now` (each worker's status computed once, one pass over the links).
-- name: Count{Cls}DefinitionsByAvailability :one
-- variant: Cls=Workflow cls=workflow
-- variant: Cls=Task cls=task
-- params: now, degraded_after, offline_after
WITH status AS MATERIALIZED (
    SELECT w.id,
           fv_effective_status(w.status, w.last_seen_at, w.status_changed_at, w.health_degraded,
                               $1::bigint, $2::bigint, $3::bigint) AS status
    FROM worker_v w
), live AS (
    SELECT l.{cls}_definition_id AS id,
           count(*) FILTER (WHERE s.status = 'ONLINE') AS online,
           count(*) FILTER (WHERE s.status = 'DEGRADED') AS degraded
    FROM worker_{cls}_capability l
    JOIN status s ON s.id = l.worker_id
    GROUP BY l.{cls}_definition_id
)
SELECT (count(*) FILTER (WHERE a.availability = 'AVAILABLE'))::bigint AS available,
       (count(*) FILTER (WHERE a.availability = 'DEGRADED'))::bigint AS degraded,
       (count(*) FILTER (WHERE a.availability = 'UNAVAILABLE'))::bigint AS unavailable
FROM (SELECT fv_availability_of(COALESCE(c.online, 0), COALESCE(c.degraded, 0)) AS availability
      FROM {cls}_definition x
      LEFT JOIN live c ON c.id = x.id) a;
