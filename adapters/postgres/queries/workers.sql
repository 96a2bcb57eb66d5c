-- Workers, their capability links and status history (ports/worker_repo.h;
-- adapters/postgres/pg_workers.c).
--
-- Row locks are always taken in one order, so that concurrent registrations,
-- removals and jobs never deadlock: worker rows first (by id when several),
-- then definitions by (tenant, space, kind), workflows before tasks. A
-- registration creates the definitions it lacks before it locks any.

-- ---------------------------------------------------------------------------
-- Registration (one transaction, see pg_workers.c)
-- ---------------------------------------------------------------------------

-- The worker with this identity (a NULL space, host or pid is one value),
-- locked until the end of the transaction.
-- name: LockWorkerByIdentity :one
-- params: tenant_id, space_id?, worker_name, host_name?, process_id?
SELECT w.id, w.status
FROM worker w
WHERE w.tenant_id = $1::uuid
  AND w.worker_name = $3::text
  AND w.space_id IS NOT DISTINCT FROM $2::uuid
  AND w.host_name IS NOT DISTINCT FROM $4::text
  AND w.process_id IS NOT DISTINCT FROM $5::text
FOR UPDATE;

-- A new worker; no row when a concurrent registration of the same identity
-- committed first (the caller then locks that one).
-- name: InsertWorker :one
-- params: id, tenant_id, space_id?, worker_name, worker_version?, worker_type, host_name?, process_id?, now, metadata?, health_degraded, workflow_kinds, task_kinds
INSERT INTO worker (id, tenant_id, space_id, worker_name, worker_version, worker_type, status,
                    status_changed_at, host_name, process_id, registered_at, last_heartbeat_at,
                    last_seen_at, metadata, health_info, health_degraded, workflow_kinds,
                    task_kinds)
VALUES ($1::uuid, $2::uuid, $3::uuid, $4::text, $5::text, $6::text, 'ONLINE',
        fv_ms_to_ts($9::bigint), $7::text, $8::text, fv_ms_to_ts($9::bigint),
        fv_ms_to_ts($9::bigint), fv_ms_to_ts($9::bigint), $10::json, NULL, $11::boolean,
        $12::integer, $13::integer)
ON CONFLICT ON CONSTRAINT worker_identity DO NOTHING
RETURNING id;

-- The same process registering again: the declared fields and times of
-- this registration, ONLINE (status_changed_at moves only when the status
-- does).
-- name: UpdateRegisteredWorker :exec
-- params: id, worker_version?, worker_type, now, metadata?, health_degraded, workflow_kinds, task_kinds
UPDATE worker
SET worker_version = $2::text,
    worker_type = $3::text,
    status_changed_at = CASE WHEN status = 'ONLINE' THEN status_changed_at
                             ELSE fv_ms_to_ts($4::bigint) END,
    status = 'ONLINE',
    registered_at = fv_ms_to_ts($4::bigint),
    last_heartbeat_at = fv_ms_to_ts($4::bigint),
    last_seen_at = fv_ms_to_ts($4::bigint),
    metadata = $5::json,
    health_info = NULL,
    health_degraded = $6::boolean,
    workflow_kinds = $7::integer,
    task_kinds = $8::integer
WHERE id = $1::uuid;

-- Record a status change and keep the newest `keep` of the worker.
-- name: InsertStatusChange :exec
-- params: worker_id, from_status, to_status, at, reason?, keep
WITH added AS (
    INSERT INTO worker_status_change (worker_id, from_status, to_status, changed_at, reason)
    VALUES ($1::uuid, $2::text, $3::text, fv_ms_to_ts($4::bigint), $5::text)
)
DELETE FROM worker_status_change h
WHERE h.worker_id = $1::uuid
  AND h.seq <= (SELECT x.seq FROM worker_status_change x
                WHERE x.worker_id = $1::uuid
                ORDER BY x.seq DESC
                OFFSET $6::bigint - 1 LIMIT 1);

-- Create the declared definitions that do not exist yet (with their name
-- for now; UpdateXDefinitions writes the declared fields), in kind order,
-- without locking the existing ones. Run before any definition row is
-- locked: a registration waits here only for another's insert of the same
-- kind, never while holding a definition row, so the locks of
-- LockXDefinitionsForRegistration are the only ones it takes and they are
-- taken in one order.
-- name: Insert{Cls}DefinitionsIfMissing :exec
-- variant: Cls=Workflow cls=workflow
-- variant: Cls=Task cls=task
-- params: tenant_id, space_id?, now, ids, kinds
INSERT INTO {cls}_definition (id, tenant_id, space_id, kind, name, first_seen_at,
                              last_registered_at)
SELECT u.id, $1::uuid, $2::uuid, u.kind, u.kind, fv_ms_to_ts($3::bigint),
       fv_ms_to_ts($3::bigint)
FROM unnest($4::uuid[], $5::text[]) AS u (id, kind)
ORDER BY u.kind COLLATE "C"
ON CONFLICT (tenant_id, space_id, kind) DO NOTHING;

-- Lock the definitions a registration touches: those the worker is linked
-- to now and those of the declared kinds (all exist by now), in key order.
-- name: Lock{Cls}DefinitionsForRegistration :many
-- variant: Cls=Workflow cls=workflow
-- variant: Cls=Task cls=task
-- params: worker_id, tenant_id, space_id?, kinds
SELECT d.id
FROM {cls}_definition d
WHERE d.id IN (SELECT l.{cls}_definition_id FROM worker_{cls}_capability l
               WHERE l.worker_id = $1::uuid
               UNION ALL
               SELECT x.id FROM {cls}_definition x
               WHERE x.tenant_id = $2::uuid AND x.kind = ANY ($4::text[])
                 AND x.space_id IS NOT DISTINCT FROM $3::uuid)
ORDER BY d.tenant_id, d.space_id NULLS FIRST, d.kind
FOR NO KEY UPDATE;

-- Write the declared fields of this registration into the (locked)
-- definitions of the declared kinds; first_seen_at and the operator's
-- configuration are kept. Tags are flattened: tag_owner[k] is the 1-based
-- position of tag_value[k]'s definition in the arrays. Returns each row's id
-- and latest_version (the caller raises it when the declared version is
-- higher).
-- name: UpdateWorkflowDefinitions :many
-- params: tenant_id, space_id?, now, kinds, names, descriptions, timeouts, cancellables, metadata, input_schemas, output_schemas, has_retry, retry_max_retries, retry_initial_delay_ms, retry_backoff_coefficient, retry_max_delay_ms, tag_owner, tag_value
UPDATE workflow_definition d
SET name = u.name,
    description = u.description,
    timeout_seconds = u.timeout::integer,
    retry_policy = CASE WHEN u.has_retry THEN jsonb_strip_nulls(jsonb_build_object(
        'maxRetries', u.max_retries, 'initialDelayMs', u.initial_delay_ms,
        'backoffCoefficient', u.backoff, 'maxDelayMs', u.max_delay_ms)) END,
    tags = (SELECT array_agg(t.tag ORDER BY t.k)
            FROM unnest($17::bigint[], $18::text[]) WITH ORDINALITY AS t (owner, tag, k)
            WHERE t.owner = u.ord),
    cancellable = u.cancellable,
    metadata = u.metadata::json,
    input_schema = u.input_schema::json,
    output_schema = u.output_schema::json,
    last_registered_at = fv_ms_to_ts($3::bigint)
FROM unnest($4::text[], $5::text[], $6::text[], $7::bigint[], $8::boolean[], $9::text[],
            $10::text[], $11::text[], $12::boolean[], $13::bigint[], $14::bigint[],
            $15::double precision[], $16::bigint[])
     WITH ORDINALITY AS u (kind, name, description, timeout, cancellable, metadata,
                           input_schema, output_schema, has_retry, max_retries,
                           initial_delay_ms, backoff, max_delay_ms, ord)
WHERE d.tenant_id = $1::uuid AND d.space_id IS NOT DISTINCT FROM $2::uuid AND d.kind = u.kind
RETURNING d.id, d.kind, d.latest_version;

-- name: UpdateTaskDefinitions :many
-- params: tenant_id, space_id?, now, kinds, names, descriptions, timeouts, cancellables, metadata, input_schemas, output_schemas, has_retry, retry_max_retries, retry_initial_delay_ms, retry_backoff_coefficient, retry_max_delay_ms, tag_owner, tag_value
UPDATE task_definition d
SET name = u.name,
    description = u.description,
    timeout_seconds = u.timeout::integer,
    retry_policy = CASE WHEN u.has_retry THEN jsonb_strip_nulls(jsonb_build_object(
        'maxRetries', u.max_retries, 'initialDelayMs', u.initial_delay_ms,
        'backoffCoefficient', u.backoff, 'maxDelayMs', u.max_delay_ms)) END,
    tags = (SELECT array_agg(t.tag ORDER BY t.k)
            FROM unnest($17::bigint[], $18::text[]) WITH ORDINALITY AS t (owner, tag, k)
            WHERE t.owner = u.ord),
    cancellable = u.cancellable,
    metadata = u.metadata::json,
    input_schema = u.input_schema::json,
    output_schema = u.output_schema::json,
    last_registered_at = fv_ms_to_ts($3::bigint)
FROM unnest($4::text[], $5::text[], $6::text[], $7::bigint[], $8::boolean[], $9::text[],
            $10::text[], $11::text[], $12::boolean[], $13::bigint[], $14::bigint[],
            $15::double precision[], $16::bigint[])
     WITH ORDINALITY AS u (kind, name, description, timeout, cancellable, metadata,
                           input_schema, output_schema, has_retry, max_retries,
                           initial_delay_ms, backoff, max_delay_ms, ord)
WHERE d.tenant_id = $1::uuid AND d.space_id IS NOT DISTINCT FROM $2::uuid AND d.kind = u.kind
RETURNING d.id, d.kind;

-- name: SetLatestVersions :exec
-- params: ids, versions
UPDATE workflow_definition d
SET latest_version = u.version
FROM unnest($1::uuid[], $2::text[]) AS u (id, version)
WHERE d.id = u.id;

-- Drop every link of a worker; returns the definitions it was linked to.
-- name: Delete{Cls}Links :many
-- variant: Cls=Workflow cls=workflow
-- variant: Cls=Task cls=task
-- params: worker_id
DELETE FROM worker_{cls}_capability l
WHERE l.worker_id = $1::uuid
RETURNING l.{cls}_definition_id AS definition_id;

-- name: InsertWorkflowLinks :exec
-- params: worker_id, now, definition_ids, versions, content_hashes
INSERT INTO worker_workflow_capability (worker_id, workflow_definition_id, version, content_hash,
                                        registered_at)
SELECT $1::uuid, u.id, u.version, u.hash, fv_ms_to_ts($2::bigint)
FROM unnest($3::uuid[], $4::text[], $5::text[]) AS u (id, version, hash);

-- name: InsertTaskLinks :exec
-- params: worker_id, now, definition_ids
INSERT INTO worker_task_capability (worker_id, task_definition_id, registered_at)
SELECT $1::uuid, u.id, fv_ms_to_ts($2::bigint)
FROM unnest($3::uuid[]) AS u (id);

-- Recompute the stored availability of some definitions from the stored
-- statuses of their linked workers (rows already locked by the caller).
-- name: Refresh{Cls}Availability :exec
-- variant: Cls=Workflow cls=workflow
-- variant: Cls=Task cls=task
-- params: definition_ids
UPDATE {cls}_definition d
SET availability_status = c.availability
FROM (SELECT x.id,
             fv_availability_of(count(w.id) FILTER (WHERE w.status = 'ONLINE'),
                                count(w.id) FILTER (WHERE w.status = 'DEGRADED')) AS availability
      FROM unnest($1::uuid[]) AS x (id)
      LEFT JOIN worker_{cls}_capability l ON l.{cls}_definition_id = x.id
      LEFT JOIN worker w ON w.id = l.worker_id
      GROUP BY x.id) c
WHERE d.id = c.id AND d.availability_status <> c.availability;

-- Possible conflicts (fv_workflow_peer): other workers linked to one of the
-- registered workflow definitions with the same version and a different
-- content hash, both given; per definition in kind order, then by worker
-- name and id.
-- name: WorkflowPeers :many
-- params: worker_id, definition_ids, versions, content_hashes
SELECT d.kind, l.content_hash, w.*
FROM unnest($2::uuid[], $3::text[], $4::text[]) AS u (id, version, hash)
JOIN workflow_definition d ON d.id = u.id
JOIN worker_workflow_capability l ON l.workflow_definition_id = u.id
JOIN worker_v w ON w.id = l.worker_id
WHERE l.worker_id <> $1::uuid
  AND l.version IS NOT DISTINCT FROM u.version
  AND u.hash IS NOT NULL
  AND l.content_hash IS NOT NULL
  AND l.content_hash <> u.hash
ORDER BY d.kind, w.worker_name, w.id;

-- ---------------------------------------------------------------------------
-- Reads
-- ---------------------------------------------------------------------------

-- name: GetWorker :one
-- params: tenant_id, id
SELECT w.* FROM worker_v w WHERE w.tenant_id = $1::uuid AND w.id = $2::uuid;

-- Workers of a tenant matching the filter (the status filter on the
-- effective status at `now`), one page of them by name then id, and the
-- number of matches (every row carries it; counted once, by an index-only
-- scan when there is no filter).
-- name: ListWorkers :many
-- params: tenant_id, any_space, space_id?, worker_type?, status?, now, degraded_after, offline_after, page_limit, page_offset
-- notnull: total
SELECT w.*,
       (SELECT count(*)
        FROM worker_v x
        WHERE x.tenant_id = $1::uuid
          AND ($2::boolean OR x.space_id IS NOT DISTINCT FROM $3::uuid)
          AND ($4::text IS NULL OR x.worker_type = $4::text)
          AND ($5::text IS NULL
               OR fv_effective_status(x.status, x.last_seen_at, x.status_changed_at,
                                      x.health_degraded, $6::bigint, $7::bigint, $8::bigint)
                  = $5::text))::bigint AS total
FROM worker_v w
WHERE w.tenant_id = $1::uuid
  AND ($2::boolean OR w.space_id IS NOT DISTINCT FROM $3::uuid)
  AND ($4::text IS NULL OR w.worker_type = $4::text)
  AND ($5::text IS NULL
       OR fv_effective_status(w.status, w.last_seen_at, w.status_changed_at, w.health_degraded,
                              $6::bigint, $7::bigint, $8::bigint) = $5::text)
ORDER BY w.worker_name, w.id
LIMIT $9::bigint OFFSET $10::bigint;

-- The number of matches of ListWorkers (for a page beyond the last).
-- name: CountWorkers :one
-- params: tenant_id, any_space, space_id?, worker_type?, status?, now, degraded_after, offline_after
SELECT count(*)::bigint AS total
FROM worker_v w
WHERE w.tenant_id = $1::uuid
  AND ($2::boolean OR w.space_id IS NOT DISTINCT FROM $3::uuid)
  AND ($4::text IS NULL OR w.worker_type = $4::text)
  AND ($5::text IS NULL
       OR fv_effective_status(w.status, w.last_seen_at, w.status_changed_at, w.health_degraded,
                              $6::bigint, $7::bigint, $8::bigint) = $5::text);

-- name: WorkerExists :one
-- params: tenant_id, id
SELECT w.id FROM worker w WHERE w.tenant_id = $1::uuid AND w.id = $2::uuid;

-- The capability links of a worker of the tenant: workflows, then tasks,
-- each by kind.
-- name: WorkerCapabilities :many
-- params: tenant_id, worker_id
SELECT l.cls, l.definition_id, d.kind, d.name, l.version, l.content_hash, l.registered_at
FROM capability_v l
JOIN worker w ON w.id = l.worker_id
JOIN definition_v d ON d.cls = l.cls AND d.id = l.definition_id
WHERE w.tenant_id = $1::uuid AND l.worker_id = $2::uuid
ORDER BY l.cls, d.kind;

-- Workers linked to a definition of the tenant, by name then id.
-- name: Linked{Cls}Workers :many
-- variant: Cls=Workflow n=1
-- variant: Cls=Task n=2
-- params: tenant_id, definition_id
SELECT w.*, l.version, l.content_hash
FROM capability_v l
JOIN worker_v w ON w.id = l.worker_id
WHERE l.cls = {n} AND l.definition_id = $2::uuid AND w.tenant_id = $1::uuid
ORDER BY w.worker_name, w.id;

-- ---------------------------------------------------------------------------
-- Signs of life and status
-- ---------------------------------------------------------------------------

-- Signs of life are the hottest writes: the adapter buffers them per worker
-- (latest wins) and writes the whole buffer with FlushTouches, one
-- statement per flush (pg_workers.c), every flush interval and before the
-- reads whose SQL decides on last_seen_at. A touch itself only reads: the
-- existence check of a worker the store does not know yet (WorkerExists)
-- or the worker a poll names (WorkerIdByName).

-- The buffered signs of life of some workers: times never move back (two
-- replicas may flush in any order), and the health info of a heartbeat is
-- kept unless the row holds a newer heartbeat or a registration at the same
-- time or later (which reset it: a registration that commits while a flush
-- of an older touch waits for its row lock wins). `heartbeat_ats` is NULL
-- for a worker that only polled. The rows are locked in id order first, so
-- that two replicas flushing overlapping batches never deadlock. Returns
-- the workers still there (the others were removed meanwhile, maybe by
-- another replica). An ordinary commit (one per flush, so the WAL flush is
-- no longer worth skipping as it was for one commit per heartbeat).
-- name: FlushTouches :many
-- params: ids, seen, heartbeat_ats, health_infos, health_degraded
WITH locked AS MATERIALIZED (
    SELECT x.id FROM worker x WHERE x.id = ANY ($1::uuid[]) ORDER BY x.id FOR NO KEY UPDATE
)
UPDATE worker w
SET last_seen_at = GREATEST(w.last_seen_at, fv_ms_to_ts(u.seen)),
    last_heartbeat_at = GREATEST(w.last_heartbeat_at, fv_ms_to_ts(u.heartbeat_at)),
    health_info = CASE WHEN fv_ms_to_ts(u.heartbeat_at) >= w.last_heartbeat_at
                            AND fv_ms_to_ts(u.heartbeat_at) > w.registered_at
                       THEN u.health_info::json ELSE w.health_info END,
    health_degraded = CASE WHEN fv_ms_to_ts(u.heartbeat_at) >= w.last_heartbeat_at
                                AND fv_ms_to_ts(u.heartbeat_at) > w.registered_at
                           THEN u.health_degraded ELSE w.health_degraded END
FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::text[], $5::boolean[])
     AS u (id, seen, heartbeat_at, health_info, health_degraded)
WHERE w.id = u.id AND w.id IN (SELECT l.id FROM locked l)
RETURNING w.id;

-- A poll by name: the most recently registered worker of that name.
-- name: WorkerIdByName :one
-- params: tenant_id, worker_name
SELECT x.id
FROM worker x
WHERE x.tenant_id = $1::uuid AND x.worker_name = $2::text
ORDER BY x.registered_at DESC, x.id
LIMIT 1;

-- Compare-and-set of the stored status, with its history entry (and the
-- history trimmed to the newest `keep`), in one statement. `found` tells an
-- unknown worker from a lost race.
-- name: TransitionWorker :one
-- params: tenant_id, id, from_status, to_status, now, reason?, keep
WITH changed AS (
    UPDATE worker
    SET status = $4::text, status_changed_at = fv_ms_to_ts($5::bigint)
    WHERE tenant_id = $1::uuid AND id = $2::uuid AND status = $3::text
    RETURNING id
), added AS (
    INSERT INTO worker_status_change (worker_id, from_status, to_status, changed_at, reason)
    SELECT c.id, $3::text, $4::text, fv_ms_to_ts($5::bigint), $6::text FROM changed c
), trimmed AS (
    DELETE FROM worker_status_change h
    WHERE h.worker_id = $2::uuid
      AND EXISTS (SELECT 1 FROM changed)
      AND h.seq <= (SELECT x.seq FROM worker_status_change x
                    WHERE x.worker_id = $2::uuid
                    ORDER BY x.seq DESC
                    OFFSET $7::bigint - 1 LIMIT 1)
)
SELECT EXISTS (SELECT 1 FROM worker x WHERE x.tenant_id = $1::uuid AND x.id = $2::uuid)::boolean
           AS found,
       EXISTS (SELECT 1 FROM changed)::boolean AS changed;

-- Newest first.
-- name: StatusHistory :many
-- params: worker_id, max_rows
SELECT h.from_status, h.to_status, fv_ts_to_ms(h.changed_at)::bigint AS changed_at, h.reason
FROM worker_status_change h
WHERE h.worker_id = $1::uuid
ORDER BY h.seq DESC
LIMIT $2::bigint;

-- ---------------------------------------------------------------------------
-- Jobs, removal, metrics
-- ---------------------------------------------------------------------------

-- Workers of every tenant by stored status and last sign of life in
-- [seen_from, seen_to), by name then id.
-- name: ScanWorkers :many
-- params: statuses, seen_from, seen_to
SELECT w.*
FROM worker_v w
WHERE w.id IN (SELECT b.id FROM worker b
               WHERE b.status = ANY ($1::text[])
                 AND b.last_seen_at >= fv_ms_to_ts($2::bigint)
                 AND b.last_seen_at < fv_ms_to_ts($3::bigint))
ORDER BY w.worker_name, w.id;

-- The worker to remove, locked.
-- name: LockWorker :one
-- params: tenant_id, id
SELECT w.id FROM worker w WHERE w.tenant_id = $1::uuid AND w.id = $2::uuid FOR UPDATE;

-- Retention: workers stored OFFLINE and last seen before the cutoff, locked
-- by id (those another replica holds are left to it).
-- name: LockOfflineWorkers :many
-- params: cutoff
SELECT w.id
FROM worker w
WHERE w.status = 'OFFLINE' AND w.last_seen_at < fv_ms_to_ts($1::bigint)
ORDER BY w.id
FOR UPDATE SKIP LOCKED;

-- The definitions linked to some workers, locked in key order.
-- name: Lock{Cls}DefinitionsOfWorkers :many
-- variant: Cls=Workflow cls=workflow
-- variant: Cls=Task cls=task
-- params: worker_ids
SELECT d.id
FROM {cls}_definition d
WHERE d.id IN (SELECT l.{cls}_definition_id FROM worker_{cls}_capability l
               WHERE l.worker_id = ANY ($1::uuid[]))
ORDER BY d.tenant_id, d.space_id NULLS FIRST, d.kind
FOR NO KEY UPDATE;

-- Removes the workers with their links and status history (ON DELETE
-- CASCADE).
-- name: DeleteWorkers :execrows
-- params: ids
DELETE FROM worker WHERE id = ANY ($1::uuid[]);

-- Metrics: workers of every tenant by effective status at `now`.
-- name: CountWorkersByStatus :one
-- params: now, degraded_after, offline_after
SELECT (count(*) FILTER (WHERE s.status = 'ONLINE'))::bigint AS online,
       (count(*) FILTER (WHERE s.status = 'DEGRADED'))::bigint AS degraded,
       (count(*) FILTER (WHERE s.status = 'OFFLINE'))::bigint AS offline
FROM (SELECT fv_effective_status(w.status, w.last_seen_at, w.status_changed_at,
                                 w.health_degraded, $1::bigint, $2::bigint, $3::bigint)
             AS status
      FROM worker_v w) s;
