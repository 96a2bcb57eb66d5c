-- Task executions (spec/domain.md "Task executions"; ports/task_repo.h;
-- adapters/postgres/pg_tasks.c): the task record, its finished attempts,
-- its events (the live stream's record; logs are events of type LOG), the
-- idempotency keys of submissions and the task state.
--
-- Enumerations are stored as the small integers of core/task.h, which are
-- never renumbered: status (PENDING 1, RUNNING 2, COMPLETED 3, FAILED 4,
-- CANCELLED 5), attempt status (COMPLETED 1, FAILED 2, TIMEOUT 3,
-- CANCELLED 4), event type (TASK_CREATED 1 ... TASK_CANCELLED 11) and log
-- level (DEBUG 1 ... ERROR 4). JSON from workers and submitters (input,
-- output, event data, state values) is `json`, returned byte for byte.
-- Kinds, queues and keys are COLLATE "C" (bytewise, as the in-memory
-- adapter compares them).

-- fv_ms_to_ts of 0001, the same results (NULL for NULL included), without
-- STRICT: PostgreSQL inlines a SQL function into the statement that calls
-- it only if a STRICT one's body is strict too, and a CASE is not. Not
-- inlined, every statement that calls it started a SQL function executor
-- per call site, reading and decompressing the function's body each time:
-- a fifth of the database's CPU in the task cycle (perf, bench/
-- task_bench.py), as every write of a time goes through it.
CREATE OR REPLACE FUNCTION fv_ms_to_ts(ms bigint) RETURNS timestamptz
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN CASE
        WHEN ms >= 9000000000000000 THEN 'infinity'::timestamptz
        WHEN ms <= -200000000000000 THEN '-infinity'::timestamptz
        ELSE 'epoch'::timestamptz + ms * interval '1 millisecond'
    END;

CREATE TABLE task_execution (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    -- NULL for a standalone task (workflow executions come later: no
    -- foreign key yet).
    workflow_execution_id uuid,
    kind varchar(255) COLLATE "C" NOT NULL,
    queue varchar(100) COLLATE "C" NOT NULL,
    status smallint NOT NULL CONSTRAINT task_execution_status_check
        CHECK (status BETWEEN 1 AND 5),
    input json,
    output json,
    -- The last failure (kept through a retry).
    error text,
    -- Metadata (string -> string) as two arrays of the same length, by key
    -- in byte order.
    metadata_keys text[] COLLATE "C" NOT NULL DEFAULT '{}',
    metadata_values text[] NOT NULL DEFAULT '{}',
    execution_count integer NOT NULL DEFAULT 0,
    -- The effective settings, fixed at submission: max_retries, the attempt
    -- timeout and the backoff (each field of the retry policy NULL when the
    -- policy does not set it; all NULL: retry at once).
    max_retries integer NOT NULL,
    timeout_ms bigint NOT NULL,
    retry_max_retries bigint,
    retry_initial_delay_ms bigint,
    retry_backoff_coefficient double precision,
    retry_max_delay_ms bigint,
    progress double precision,
    progress_details text,
    -- The poller's worker_id, verbatim, and the registered worker it
    -- resolved to (no foreign key: retention removes workers, tasks keep
    -- the id).
    worker_id text,
    worker_uuid uuid,
    scheduled_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    started_at timestamptz,
    completed_at timestamptz,
    last_heartbeat_at timestamptz,
    idempotency_key varchar(255) COLLATE "C",
    -- Id of the newest event of the task: every event is numbered by
    -- `UPDATE ... SET last_event_id = last_event_id + 1 RETURNING` in the
    -- transaction that records it, so ids have no gap and never repeat.
    last_event_id bigint NOT NULL DEFAULT 1,
    CONSTRAINT task_execution_metadata_check
        CHECK (cardinality(metadata_keys) = cardinality(metadata_values))
);

-- The claim (PollTask): the oldest PENDING task of (tenant, queue), by
-- created_at then id, whose scheduled_at has passed, FOR UPDATE SKIP LOCKED.
-- The key columns are in the order of that ORDER BY, so the claim reads the
-- index from its head and stops at the first row it can lock; scheduled_at
-- comes after id (where it changes no order) so that delayed tasks waiting
-- at the head are skipped inside the index, without a visit to the table.
-- Partial: only PENDING rows are in it, so it stays as small as the queue.
CREATE INDEX task_execution_claim_idx
    ON task_execution (tenant_id, queue, created_at, id, scheduled_at)
    WHERE status = 1;

-- When nothing is claimable: the earliest scheduled_at still to come in
-- (tenant, queue), one probe.
CREATE INDEX task_execution_scheduled_idx
    ON task_execution (tenant_id, queue, scheduled_at)
    WHERE status = 1;

-- RUNNING tasks, by start (attempt timeouts; their holders for reclaims).
CREATE INDEX task_execution_running_idx
    ON task_execution (started_at, id)
    WHERE status = 2;

-- Lists: a tenant's tasks, newest first (ties on created_at are put in id
-- order by an incremental sort). Deliberately without id: an index on
-- (tenant_id, created_at, id) gives the claim's order too, and the planner,
-- misled by statistics taken while the queue was full, then claims through
-- it, stepping over every finished task of the tenant from the oldest on.
CREATE INDEX task_execution_tenant_created_idx
    ON task_execution (tenant_id, created_at);

-- Index decay (TOOLCHAIN.md section 6). Every claim moves the row at the
-- head of task_execution_claim_idx out of PENDING: the new row version is
-- not in the partial index, but the entry of the old one stays there, dead,
-- until VACUUM removes it, and every later claim steps over all of them
-- from the head (PostgreSQL marks an entry dead once a scan has found its
-- row dead, which saves the visit to the table but not the step). At the
-- default settings (vacuum after 20 % of the table has changed) a busy queue
-- of a large table piles up hundreds of thousands of dead entries before
-- each vacuum and the claim rate decays with them. So this table is
-- vacuumed after a fixed number of dead rows whatever its size, without
-- cost-based pauses (a vacuum of a hot queue must finish quickly), and is
-- analyzed as often (a fixed 2,000 changed rows): a young table gets
-- statistics after a few hundred tasks, not after 20 % of its size, and
-- every analyze makes each session plan its prepared statements again
-- (queries/tasks.sql: those are written to use the right index whatever the
-- statistics; a generic plan made on a table of a few pages may be a
-- sequential scan, replaced at the next analyze). No ANALYZE here: on the
-- empty table it would record 0 rows, for which the planner prefers
-- sequential scans until the next analyze; never analyzed, it assumes at
-- least 10 pages.
-- Room is left in every page (fillfactor 85) so that the updates that touch
-- no indexed column (heartbeats, progress, the event counter of logs) stay
-- HOT: new version on the same page, no new index entry at all.
ALTER TABLE task_execution SET (
    fillfactor = 85,
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 2000,
    autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 20000,
    autovacuum_analyze_scale_factor = 0,
    autovacuum_analyze_threshold = 2000,
    autovacuum_vacuum_cost_delay = 0
);

-- Every finished attempt: COMPLETED, FAILED, TIMEOUT or CANCELLED.
CREATE TABLE task_attempt (
    task_id uuid NOT NULL REFERENCES task_execution (id) ON DELETE CASCADE,
    attempt integer NOT NULL,
    status smallint NOT NULL CONSTRAINT task_attempt_status_check
        CHECK (status BETWEEN 1 AND 4),
    started_at timestamptz,
    finished_at timestamptz NOT NULL,
    duration_ms bigint NOT NULL,
    output json,
    error text,
    worker_id text,
    PRIMARY KEY (task_id, attempt)
);

-- The events of a task, numbered 1, 2, 3, ... per task. A LOG event has its
-- level and message in columns of their own (the log list filters on them);
-- the other events leave them NULL.
CREATE TABLE task_event (
    task_id uuid NOT NULL REFERENCES task_execution (id) ON DELETE CASCADE,
    event_id bigint NOT NULL,
    type smallint NOT NULL CONSTRAINT task_event_type_check CHECK (type BETWEEN 1 AND 11),
    at timestamptz NOT NULL,
    level smallint CONSTRAINT task_event_level_check CHECK (level BETWEEN 1 AND 4),
    message text,
    data json,
    PRIMARY KEY (task_id, event_id),
    CONSTRAINT task_event_log_level_check CHECK ((type = 4) = (level IS NOT NULL))
);

-- Idempotency keys: unique per tenant while bound. A submission rebinds a
-- key whose task FAILED or was CANCELLED, or whose binding expired, in the
-- statement that finds it (INSERT ... ON CONFLICT DO UPDATE ... WHERE), so
-- concurrent submissions of one key create one task. The task is inserted
-- after its binding in the same transaction: the foreign key is checked at
-- commit.
CREATE TABLE task_idempotency_key (
    tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    key varchar(255) COLLATE "C" NOT NULL,
    task_id uuid NOT NULL REFERENCES task_execution (id) ON DELETE CASCADE
        DEFERRABLE INITIALLY DEFERRED,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

-- The expiry job.
CREATE INDEX task_idempotency_key_expires_idx ON task_idempotency_key (expires_at);

-- Task state (GetState & co): key -> JSON, at most 100 keys per task
-- (counted under the task's row lock).
CREATE TABLE task_state (
    task_id uuid NOT NULL REFERENCES task_execution (id) ON DELETE CASCADE,
    key varchar(255) COLLATE "C" NOT NULL,
    value json NOT NULL,
    PRIMARY KEY (task_id, key)
);

-- The record as the C code reads it (times in milliseconds). Queries filter
-- and order on task_execution itself (its indexes) and read the rows they
-- found through this view.
CREATE VIEW task_execution_v AS
SELECT t.id, t.tenant_id, t.workflow_execution_id, t.kind, t.queue, t.status, t.input, t.output,
       t.error, t.metadata_keys, t.metadata_values, t.execution_count, t.max_retries,
       t.timeout_ms, t.retry_max_retries, t.retry_initial_delay_ms, t.retry_backoff_coefficient,
       t.retry_max_delay_ms, t.progress, t.progress_details, t.worker_id, t.worker_uuid,
       fv_ts_to_ms(t.scheduled_at)::bigint AS scheduled_at,
       fv_ts_to_ms(t.created_at)::bigint AS created_at,
       fv_ts_to_ms(t.started_at)::bigint AS started_at,
       fv_ts_to_ms(t.completed_at)::bigint AS completed_at,
       fv_ts_to_ms(t.last_heartbeat_at)::bigint AS last_heartbeat_at,
       t.idempotency_key, t.last_event_id
FROM task_execution t;

-- LISTEN cannot be prepared: the event bus's listener calls this instead
-- (adapters/postgres/pg_bus.c). The channel is named here and in the
-- NotifyTasks query only.
CREATE FUNCTION fv_listen_tasks() RETURNS void
    LANGUAGE plpgsql
    AS $$ BEGIN LISTEN flovyn_tasks; END $$;
