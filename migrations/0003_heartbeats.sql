-- Heartbeat history (seed 002 HeartbeatStore, spec/domain.md "Heartbeat
-- history"). The hottest write of the system: the adapter buffers
-- heartbeats and writes them in one statement per flush, then trims each
-- flushed worker to its newest N rows (retention bounded per worker). No
-- foreign key to worker: the port does not check that the worker exists, and
-- the use cases forget a worker's history when they remove it.

CREATE TABLE worker_heartbeat (
    -- Order of recording: history is newest first by seq.
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    worker_id uuid NOT NULL,
    at timestamptz NOT NULL,
    health_info json
);

CREATE INDEX worker_heartbeat_worker_idx ON worker_heartbeat (worker_id, seq);

-- Rows are inserted and trimmed all the time: vacuum this table early.
ALTER TABLE worker_heartbeat SET (autovacuum_vacuum_scale_factor = 0.02,
                                  autovacuum_vacuum_insert_scale_factor = 0.05);
