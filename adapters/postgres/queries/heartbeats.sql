-- Heartbeat history (ports/heartbeat_store.h; adapters/postgres/pg_heartbeats.c).
-- The adapter buffers heartbeats and writes each batch with InsertHeartbeats
-- then TrimHeartbeats in one transaction.

-- A batch in recording order (seq follows the order of the arrays).
-- name: InsertHeartbeats :exec
-- params: worker_ids, ats, health_infos
INSERT INTO worker_heartbeat (worker_id, at, health_info)
SELECT u.worker_id, fv_ms_to_ts(u.at), u.health_info::json
FROM unnest($1::uuid[], $2::bigint[], $3::text[]) WITH ORDINALITY
     AS u (worker_id, at, health_info, k)
ORDER BY u.k;

-- Keep the newest `keep` heartbeats of each of these workers.
-- name: TrimHeartbeats :exec
-- params: worker_ids, keep
DELETE FROM worker_heartbeat h
USING unnest($1::uuid[]) AS u (id)
WHERE h.worker_id = u.id
  AND h.seq <= (SELECT x.seq FROM worker_heartbeat x
                WHERE x.worker_id = u.id
                ORDER BY x.seq DESC
                OFFSET $2::bigint LIMIT 1);

-- Newest first.
-- name: HeartbeatHistory :many
-- params: worker_id, max_rows
SELECT fv_ts_to_ms(h.at)::bigint AS at, h.health_info
FROM worker_heartbeat h
WHERE h.worker_id = $1::uuid
ORDER BY h.seq DESC
LIMIT $2::bigint;

-- name: ForgetHeartbeats :exec
-- params: worker_id
DELETE FROM worker_heartbeat WHERE worker_id = $1::uuid;

-- The history of workers a flush of signs of life (FlushTouches) found
-- removed, maybe by another replica: their last heartbeats were recorded
-- before this process learnt it.
-- name: ForgetHeartbeatsOf :exec
-- params: worker_ids
DELETE FROM worker_heartbeat WHERE worker_id = ANY ($1::uuid[]);
