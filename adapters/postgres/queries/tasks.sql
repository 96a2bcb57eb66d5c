-- Task executions, their attempts, events, idempotency keys and state
-- (ports/task_repo.h; adapters/postgres/pg_tasks.c), and the notices of the
-- event bus (ports/event_bus.h; adapters/postgres/pg_bus.c).
--
-- Numbers in these statements are the values of core/task.h (never
-- renumbered): status PENDING 1, RUNNING 2, FAILED 4, CANCELLED 5; event
-- types PROGRESS 3, LOG 4.
--
-- Rows are found on task_execution (its indexes) and read through
-- task_execution_v (times in milliseconds). A row that a transaction is
-- about to change is read with FOR NO KEY UPDATE on the view: the lock
-- makes the statement return the row's newest version (READ COMMITTED
-- rechecks a row updated since the snapshot), never an older one.
--
-- Plans. These statements are prepared once per connection, and after five
-- runs PostgreSQL keeps a generic plan, made without the parameters' values
-- and with the statistics of that moment, until the table is next analyzed
-- or vacuumed; a server that starts on a new database plans on an empty
-- table, where every index costs the same. So each statement is written to
-- leave the planner one sensible index, whatever the statistics:
-- - a task is found by its id alone, `t.id = $2`: the primary key. Its
--   tenant (and, for a heartbeat, its status) is compared with IS NOT
--   DISTINCT FROM, which no index can serve (the columns are NOT NULL, so
--   it means `=`). With `t.tenant_id = $1 AND t.id = $2` the planner may
--   take task_execution_tenant_created_idx and filter on id, reading every
--   task of the tenant at each lookup (1.5-1.9 ms with 5,000 tasks);
-- - a claim reads task_execution_claim_idx, the earliest scheduled_at
--   task_execution_scheduled_idx (ORDER BY ... LIMIT 1, in that index's
--   order, rather than min(), which the planner may answer from the tenant
--   index);
-- - tests/test_pg_tasks.c checks these generic plans on an empty table and on
--   an analyzed one of thousands of tasks. The only other plan left is a
--   sequential scan of a table of a few pages once analyzed (cheaper there),
--   planned again at the next analyze, a few thousand changes later
--   (migrations/0004_tasks.sql).
--
-- Commits: a claim, and the appends of progress, logs and stream data,
-- commit without waiting for the WAL flush (synchronous_commit off for that
-- transaction only, set by the statement itself); see pg_tasks.c for what a
-- crash may lose. Submissions, attempt ends, cancellations and task state
-- are ordinary, durable commits.

-- ---------------------------------------------------------------------------
-- Submission
-- ---------------------------------------------------------------------------

-- A new task with its TASK_CREATED event (id 1), in one statement.
-- name: InsertTask :exec
-- params: id, tenant_id, workflow_execution_id?, kind, queue, input?, metadata_keys, metadata_values, max_retries, timeout_ms, retry_max_retries?, retry_initial_delay_ms?, retry_backoff_coefficient?, retry_max_delay_ms?, scheduled_at, created_at, idempotency_key?, created_event_data?
WITH created AS (
    INSERT INTO task_event (task_id, event_id, type, at, data)
    VALUES ($1::uuid, 1, 1, fv_ms_to_ts($16::bigint), $18::json)
)
INSERT INTO task_execution (id, tenant_id, workflow_execution_id, kind, queue, status, input,
                            metadata_keys, metadata_values, max_retries, timeout_ms,
                            retry_max_retries, retry_initial_delay_ms, retry_backoff_coefficient,
                            retry_max_delay_ms, scheduled_at, created_at, idempotency_key,
                            last_event_id)
VALUES ($1::uuid, $2::uuid, $3::uuid, $4::text, $5::text, 1, $6::json, $7::text[], $8::text[],
        $9::integer, $10::bigint, $11::bigint, $12::bigint, $13::double precision, $14::bigint,
        fv_ms_to_ts($15::bigint), fv_ms_to_ts($16::bigint), $17::text, 1);

-- Bind an idempotency key to a new task: a new binding, or the rebinding
-- of one whose binding expired or whose task FAILED or was CANCELLED.
-- Without a row, the key is bound to a live task (GetBoundTask reads it). A
-- concurrent submission of the same key waits here for the first one's
-- commit and then finds its binding.
-- name: BindIdempotencyKey :one
-- params: tenant_id, key, task_id, expires_at, now
INSERT INTO task_idempotency_key AS k (tenant_id, key, task_id, expires_at)
VALUES ($1::uuid, $2::text, $3::uuid, fv_ms_to_ts($4::bigint))
ON CONFLICT (tenant_id, key) DO UPDATE
SET task_id = excluded.task_id, expires_at = excluded.expires_at
WHERE k.expires_at <= fv_ms_to_ts($5::bigint)
   OR EXISTS (SELECT 1 FROM task_execution x WHERE x.id = k.task_id AND x.status IN (4, 5))
RETURNING k.task_id;

-- The task a key is bound to, and until when.
-- name: GetBoundTask :one
-- params: tenant_id, key
SELECT fv_ts_to_ms(k.expires_at)::bigint AS expires_at, t.*
FROM task_idempotency_key k
JOIN task_execution_v t ON t.id = k.task_id
WHERE k.tenant_id = $1::uuid AND k.key = $2::text;

-- ---------------------------------------------------------------------------
-- Reads
-- ---------------------------------------------------------------------------

-- name: GetTask :one
-- params: tenant_id, id
SELECT t.* FROM task_execution_v t WHERE t.id = $2::uuid AND t.tenant_id IS NOT DISTINCT FROM $1::uuid;

-- name: TaskExists :one
-- params: tenant_id, id
SELECT x.id FROM task_execution x WHERE x.id = $2::uuid AND x.tenant_id IS NOT DISTINCT FROM $1::uuid;

-- A page of the tasks of a tenant matching the filter, newest first, and
-- the number of matches (every row carries it). `statuses` NULL = any.
-- name: ListTasks :many
-- params: tenant_id, statuses?, queue?, kind?, standalone_only, page_limit, page_offset
-- notnull: total
SELECT t.*,
       (SELECT count(*)
        FROM task_execution y
        WHERE y.tenant_id = $1::uuid
          AND ($2::smallint[] IS NULL OR y.status = ANY ($2::smallint[]))
          AND ($3::text IS NULL OR y.queue = $3::text)
          AND ($4::text IS NULL OR y.kind = $4::text)
          AND (NOT $5::boolean OR y.workflow_execution_id IS NULL))::bigint AS total
FROM task_execution x
JOIN task_execution_v t ON t.id = x.id
WHERE x.tenant_id = $1::uuid
  AND ($2::smallint[] IS NULL OR x.status = ANY ($2::smallint[]))
  AND ($3::text IS NULL OR x.queue = $3::text)
  AND ($4::text IS NULL OR x.kind = $4::text)
  AND (NOT $5::boolean OR x.workflow_execution_id IS NULL)
ORDER BY x.created_at DESC, x.id DESC
LIMIT $6::bigint OFFSET $7::bigint;

-- The number of matches of ListTasks (for a page beyond the last).
-- name: CountTasks :one
-- params: tenant_id, statuses?, queue?, kind?, standalone_only
SELECT count(*)::bigint AS total
FROM task_execution y
WHERE y.tenant_id = $1::uuid
  AND ($2::smallint[] IS NULL OR y.status = ANY ($2::smallint[]))
  AND ($3::text IS NULL OR y.queue = $3::text)
  AND ($4::text IS NULL OR y.kind = $4::text)
  AND (NOT $5::boolean OR y.workflow_execution_id IS NULL);

-- ---------------------------------------------------------------------------
-- Claim and transitions (one transaction each, see pg_tasks.c)
-- ---------------------------------------------------------------------------

-- The oldest claimable task of (tenant, queue), locked; a row locked by a
-- concurrent claim is skipped, not waited for. The subquery walks
-- task_execution_claim_idx from its head. The claim's transaction commits
-- without waiting for the WAL flush (set here, for this transaction only).
-- name: ClaimNextTask :one
-- params: tenant_id, queue, now
SELECT t.*
FROM task_execution_v t,
     (SELECT set_config('synchronous_commit', 'off', true)) AS async (setting)
WHERE t.id = (SELECT x.id
              FROM task_execution x
              WHERE x.tenant_id = $1::uuid AND x.queue = $2::text AND x.status = 1
                AND x.scheduled_at <= fv_ms_to_ts($3::bigint)
              ORDER BY x.created_at, x.id
              LIMIT 1
              FOR NO KEY UPDATE SKIP LOCKED)
FOR NO KEY UPDATE OF t;

-- When nothing is claimable: the earliest scheduled_at to come in (tenant,
-- queue) (NULL: none), one probe of task_execution_scheduled_idx.
-- name: NextScheduledAt :one
-- params: tenant_id, queue, now
-- nullable: next_at
SELECT (SELECT fv_ts_to_ms(x.scheduled_at)
        FROM task_execution x
        WHERE x.tenant_id = $1::uuid AND x.queue = $2::text AND x.status = 1
          AND x.scheduled_at > fv_ms_to_ts($3::bigint)
        ORDER BY x.scheduled_at
        LIMIT 1)::bigint AS next_at;

-- The task, locked until the end of the transaction (an attempt end or a
-- cancellation plans on it).
-- name: LockTask :one
-- params: tenant_id, id
SELECT t.*
FROM task_execution_v t
WHERE t.id = $2::uuid AND t.tenant_id IS NOT DISTINCT FROM $1::uuid
FOR NO KEY UPDATE OF t;

-- Store the record as the core changed it (fv_task_apply_claim or
-- fv_task_apply_transition: every field those may change), the attempt
-- that ended (when has_attempt) and the event of the change, numbered by
-- the row's event counter. The row is locked by the caller's transaction.
-- Returns the event's id.
-- name: StoreTask :one
-- params: tenant_id, id, status, output?, error?, execution_count, progress?, progress_details?, worker_id?, worker_uuid?, scheduled_at, started_at?, completed_at?, last_heartbeat_at?, has_attempt, attempt, attempt_status, attempt_started_at?, attempt_finished_at, attempt_duration_ms, attempt_output?, attempt_error?, attempt_worker_id?, event_type, event_at, event_data?
WITH stored AS (
    UPDATE task_execution t
    SET status = $3::smallint,
        output = $4::json,
        error = $5::text,
        execution_count = $6::integer,
        progress = $7::double precision,
        progress_details = $8::text,
        worker_id = $9::text,
        worker_uuid = $10::uuid,
        scheduled_at = fv_ms_to_ts($11::bigint),
        started_at = fv_ms_to_ts($12::bigint),
        completed_at = fv_ms_to_ts($13::bigint),
        last_heartbeat_at = fv_ms_to_ts($14::bigint),
        last_event_id = t.last_event_id + 1
    WHERE t.id = $2::uuid AND t.tenant_id IS NOT DISTINCT FROM $1::uuid
    RETURNING t.id, t.last_event_id
), ended AS (
    INSERT INTO task_attempt (task_id, attempt, status, started_at, finished_at, duration_ms,
                              output, error, worker_id)
    SELECT s.id, $16::integer, $17::smallint, fv_ms_to_ts($18::bigint), fv_ms_to_ts($19::bigint),
           $20::bigint, $21::json, $22::text, $23::text
    FROM stored s
    WHERE $15::boolean
)
INSERT INTO task_event (task_id, event_id, type, at, data)
SELECT s.id, s.last_event_id, $24::smallint, fv_ms_to_ts($25::bigint), $26::json
FROM stored s
RETURNING event_id;

-- ---------------------------------------------------------------------------
-- Signs of life, progress, logs, stream data (one statement each, committed
-- without waiting for the WAL flush)
-- ---------------------------------------------------------------------------

-- TaskExecution.Heartbeat: a RUNNING task records the time. `status` is
-- the task's status as the statement found it (the reason when nothing
-- changed); no row: no such task. (`status = 2` would let the planner read
-- the whole of task_execution_running_idx for the id.)
-- name: TaskHeartbeat :one
-- params: tenant_id, id, now
WITH beat AS (
    UPDATE task_execution t
    SET last_heartbeat_at = fv_ms_to_ts($3::bigint)
    FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async (setting)
    WHERE t.id = $2::uuid AND t.tenant_id IS NOT DISTINCT FROM $1::uuid
      AND t.status IS NOT DISTINCT FROM 2
    RETURNING t.id
)
SELECT x.status, EXISTS (SELECT 1 FROM beat)::boolean AS changed
FROM task_execution x
WHERE x.id = $2::uuid AND x.tenant_id IS NOT DISTINCT FROM $1::uuid;

-- Progress of a PENDING or RUNNING task with its PROGRESS event. `found`
-- tells an unknown task from a finished one (event_id 0: nothing
-- recorded).
-- name: ReportTaskProgress :one
-- params: tenant_id, id, progress, details?, data?, at
-- notnull: event_id
WITH reported AS (
    UPDATE task_execution t
    SET progress = $3::double precision,
        progress_details = $4::text,
        last_event_id = t.last_event_id + 1
    FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async (setting)
    WHERE t.id = $2::uuid AND t.tenant_id IS NOT DISTINCT FROM $1::uuid AND t.status IN (1, 2)
    RETURNING t.id, t.last_event_id
), recorded AS (
    INSERT INTO task_event (task_id, event_id, type, at, data)
    SELECT r.id, r.last_event_id, 3, fv_ms_to_ts($6::bigint), $5::json
    FROM reported r
    RETURNING event_id
)
SELECT EXISTS (SELECT 1 FROM task_execution x
               WHERE x.id = $2::uuid AND x.tenant_id IS NOT DISTINCT FROM $1::uuid)::boolean AS found,
       COALESCE((SELECT e.event_id FROM recorded e), 0)::bigint AS event_id;

-- An event that changes no state: recorded whatever the status when
-- any_status (logs), else only while the task is PENDING or RUNNING.
-- name: AppendTaskEvent :one
-- params: tenant_id, id, any_status, type, at, level?, message?, data?
-- notnull: event_id
WITH counted AS (
    UPDATE task_execution t
    SET last_event_id = t.last_event_id + 1
    FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async (setting)
    WHERE t.id = $2::uuid AND t.tenant_id IS NOT DISTINCT FROM $1::uuid AND ($3::boolean OR t.status IN (1, 2))
    RETURNING t.id, t.last_event_id
), recorded AS (
    INSERT INTO task_event (task_id, event_id, type, at, level, message, data)
    SELECT c.id, c.last_event_id, $4::smallint, fv_ms_to_ts($5::bigint), $6::smallint,
           $7::text, $8::json
    FROM counted c
    RETURNING event_id
)
SELECT EXISTS (SELECT 1 FROM task_execution x
               WHERE x.id = $2::uuid AND x.tenant_id IS NOT DISTINCT FROM $1::uuid)::boolean AS found,
       COALESCE((SELECT e.event_id FROM recorded e), 0)::bigint AS event_id;

-- ---------------------------------------------------------------------------
-- Events, attempts, logs
-- ---------------------------------------------------------------------------

-- Events with id > after_id, oldest first, at most `max_rows`. No row: no
-- such task; one row without event_id: no such event.
-- name: TaskEvents :many
-- params: tenant_id, id, after_id, max_rows
SELECT e.event_id::bigint AS event_id, e.type::smallint AS type, e.at::bigint AS at,
       e.level::smallint AS level, e.message::text AS message, e.data::json AS data
FROM task_execution t
LEFT JOIN LATERAL (SELECT v.event_id, v.type, fv_ts_to_ms(v.at) AS at, v.level, v.message, v.data
                   FROM task_event v
                   WHERE v.task_id = t.id AND v.event_id > $3::bigint
                   ORDER BY v.event_id
                   LIMIT $4::bigint) e ON true
WHERE t.id = $2::uuid AND t.tenant_id IS NOT DISTINCT FROM $1::uuid
ORDER BY e.event_id;

-- Attempts by number. No row: no such task; one row without attempt: none.
-- name: TaskAttempts :many
-- params: tenant_id, id
SELECT a.attempt, a.status, fv_ts_to_ms(a.started_at)::bigint AS started_at,
       fv_ts_to_ms(a.finished_at)::bigint AS finished_at, a.duration_ms, a.output, a.error,
       a.worker_id
FROM task_execution t
LEFT JOIN task_attempt a ON a.task_id = t.id
WHERE t.id = $2::uuid AND t.tenant_id IS NOT DISTINCT FROM $1::uuid
ORDER BY a.attempt;

-- A page of the LOG events of a task (of one level when `level` is given),
-- oldest first, and their number (every row carries it). The log line's
-- metadata is the "metadata" member of the event's data.
-- name: TaskLogs :many
-- params: task_id, level?, page_limit, page_offset
-- notnull: total
SELECT e.event_id, e.level, e.message, fv_ts_to_ms(e.at)::bigint AS at,
       (e.data -> 'metadata')::json AS metadata,
       (SELECT count(*)
        FROM task_event y
        WHERE y.task_id = $1::uuid AND y.type = 4
          AND ($2::smallint IS NULL OR y.level = $2::smallint))::bigint AS total
FROM task_event e
WHERE e.task_id = $1::uuid AND e.type = 4 AND ($2::smallint IS NULL OR e.level = $2::smallint)
ORDER BY e.event_id
LIMIT $3::bigint OFFSET $4::bigint;

-- name: CountTaskLogs :one
-- params: task_id, level?
SELECT count(*)::bigint AS total
FROM task_event y
WHERE y.task_id = $1::uuid AND y.type = 4 AND ($2::smallint IS NULL OR y.level = $2::smallint);

-- ---------------------------------------------------------------------------
-- Task state
-- ---------------------------------------------------------------------------

-- No row: no such task; value NULL: no such key.
-- name: GetTaskState :one
-- params: tenant_id, id, key
SELECT s.value
FROM task_execution t
LEFT JOIN task_state s ON s.task_id = t.id AND s.key = $3::text
WHERE t.id = $2::uuid AND t.tenant_id IS NOT DISTINCT FROM $1::uuid;

-- The task, locked while its state changes (so that two writers count its
-- keys one after the other).
-- name: LockTaskForState :one
-- params: tenant_id, id
SELECT x.id
FROM task_execution x
WHERE x.id = $2::uuid AND x.tenant_id IS NOT DISTINCT FROM $1::uuid
FOR NO KEY UPDATE;

-- Insert or replace a key; a new key is refused (no row affected) when the
-- task has `max_keys` already.
-- name: SetTaskState :execrows
-- params: task_id, key, value, max_keys
INSERT INTO task_state (task_id, key, value)
SELECT $1::uuid, $2::text, $3::json
WHERE EXISTS (SELECT 1 FROM task_state s WHERE s.task_id = $1::uuid AND s.key = $2::text)
   OR (SELECT count(*) FROM task_state s WHERE s.task_id = $1::uuid) < $4::bigint
ON CONFLICT (task_id, key) DO UPDATE SET value = excluded.value;

-- Drop one key (or every key when `key` is NULL); `found` tells whether
-- the task exists.
-- name: ClearTaskState :one
-- params: tenant_id, id, key?
WITH task AS (
    SELECT x.id FROM task_execution x WHERE x.id = $2::uuid AND x.tenant_id IS NOT DISTINCT FROM $1::uuid
), cleared AS (
    DELETE FROM task_state s
    USING task k
    WHERE s.task_id = k.id AND ($3::text IS NULL OR s.key = $3::text)
)
SELECT EXISTS (SELECT 1 FROM task)::boolean AS found;

-- Keys in byte order. No row: no such task; one row without key: none.
-- name: TaskStateKeys :many
-- params: tenant_id, id
SELECT s.key
FROM task_execution t
LEFT JOIN task_state s ON s.task_id = t.id
WHERE t.id = $2::uuid AND t.tenant_id IS NOT DISTINCT FROM $1::uuid
ORDER BY s.key;

-- ---------------------------------------------------------------------------
-- Backlog, jobs
-- ---------------------------------------------------------------------------

-- PENDING tasks per (tenant, kind) (of one tenant, or of all when NULL).
-- name: TaskBacklog :many
-- params: tenant_id?
-- notnull: oldest_created_at
SELECT x.tenant_id, x.kind, count(*)::bigint AS pending,
       fv_ts_to_ms(min(x.created_at))::bigint AS oldest_created_at
FROM task_execution x
WHERE x.status = 1 AND ($1::uuid IS NULL OR x.tenant_id = $1::uuid)
GROUP BY x.tenant_id, x.kind
ORDER BY x.tenant_id, x.kind;

-- RUNNING tasks whose attempt outlived its timeout, oldest started first.
-- name: ExpiredAttempts :many
-- params: now, max_rows
SELECT t.*
FROM task_execution x
JOIN task_execution_v t ON t.id = x.id
WHERE x.status = 2 AND fv_ts_to_ms(x.started_at) + x.timeout_ms <= $1::bigint
ORDER BY x.started_at, x.id
LIMIT $2::bigint;

-- Registered workers holding RUNNING tasks.
-- name: TaskHolders :many
-- notnull: worker_uuid
SELECT DISTINCT x.tenant_id, x.worker_uuid
FROM task_execution x
WHERE x.status = 2 AND x.worker_uuid IS NOT NULL
ORDER BY x.tenant_id, x.worker_uuid;

-- The RUNNING tasks of one registered worker, oldest started first.
-- name: TasksHeldBy :many
-- params: tenant_id, worker_uuid, max_rows
SELECT t.*
FROM task_execution x
JOIN task_execution_v t ON t.id = x.id
WHERE x.status = 2 AND x.tenant_id = $1::uuid AND x.worker_uuid = $2::uuid
ORDER BY x.started_at, x.id
LIMIT $3::bigint;

-- name: ExpireIdempotencyKeys :execrows
-- params: now
DELETE FROM task_idempotency_key WHERE expires_at <= fv_ms_to_ts($1::bigint);

-- ---------------------------------------------------------------------------
-- Event bus (pg_bus.c): one channel, compact text payloads
-- ---------------------------------------------------------------------------

-- The listener's LISTEN (a function: LISTEN itself cannot be prepared).
-- name: ListenTasks :exec
SELECT fv_listen_tasks();

-- Notices to every listener of the database, in the array's order, in one
-- transaction (the bus's sender sends everything queued at once).
-- PostgreSQL delivers them at commit, in order, and delivers a payload
-- repeated within one transaction once (the first time): a notice is a
-- wake-up, so one does what several would. Best effort by contract, so the
-- commit does not wait for the WAL flush (notifications are delivered at
-- commit, flushed or not).
-- name: NotifyTasks :exec
-- params: payloads
SELECT pg_notify('flovyn_tasks', p.payload)
FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async (setting),
     unnest($1::text[]) AS p (payload);
