-- One job through the queue in three transactions (every statement commits
-- on its own): submit it; claim the oldest pending job of the queue (SKIP
-- LOCKED on the partial index) and mark it running; mark that job done.
-- The claim always answers one row (0 when it found nothing), so \gset never
-- fails; bench/task_bench.py counts the jobs really done afterwards.
INSERT INTO bench_jobs (queue, payload) VALUES ('bench', '{"bench": true}');
WITH next AS (SELECT id FROM bench_jobs WHERE queue = 'bench' AND state = 0 ORDER BY queue, id LIMIT 1 FOR UPDATE SKIP LOCKED), claimed AS (UPDATE bench_jobs j SET state = 1, worker = :client_id, started_at = now() FROM next WHERE j.id = next.id RETURNING j.id) SELECT coalesce(max(id), 0) AS claimed_id FROM claimed \gset
UPDATE bench_jobs SET state = 2, finished_at = now() WHERE id = :claimed_id AND state = 1;
