-- The reference queue of bench/task_bench.py: the jobs table pgbench's
-- three-transaction cycle (task_cycle.sql) runs on. A partial index holds
-- only pending jobs, in the order they are claimed (queue, then oldest
-- first), as TOOLCHAIN.md section 6 describes.
CREATE TABLE bench_jobs (
    id          bigserial PRIMARY KEY,
    queue       text        NOT NULL,
    state       smallint    NOT NULL DEFAULT 0,  -- 0 pending, 1 running, 2 done
    payload     jsonb       NOT NULL,
    worker      integer,
    created_at  timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    finished_at timestamptz
);
CREATE INDEX bench_jobs_pending ON bench_jobs (queue, id) WHERE state = 0;
