/*
 * The PostgreSQL repositories: every registry port (worker repository, the
 * two definition repositories, heartbeat store, tenant store) and the task
 * repository (pg_tasks.c) over one connection pool, on the queries
 * generated from the files of adapters/postgres/queries/ (codegen/sqlgen.py,
 * into build/gen/db/). app/ builds the production bundle from it.
 *
 * The store needs the schema of migrations/ (the caller runs the migrations
 * first); it never creates or alters tables itself.
 *
 * Heartbeats are coalesced, both their history and the sign of life they
 * give the worker (last_seen_at, last_heartbeat_at, health; polls likewise):
 * they wait in memory, per worker, and a flusher thread writes all of them
 * every `heartbeat_flush_ms` (one UPDATE of every buffered worker, then one
 * INSERT of the history and its trim), so a heartbeat costs no commit of
 * its own; only a worker the store does not know yet costs one indexed read
 * (SendHeartbeat still answers NOT_FOUND at once). Reads of the store see
 * what is still buffered (they merge it, or, where SQL decides on the last
 * sign of life: a status filter, the jobs' scans, the metrics count,
 * retention, write the buffered signs of life first), so a heartbeat is
 * visible at once in this process, to other processes and to the
 * definition repository's derived availability within one flush interval,
 * and written by fv_pg_store_flush and fv_pg_store_free (a clean shutdown
 * keeps every acknowledged heartbeat). ports/worker_repo.h (touch) has the
 * contract.
 */
#ifndef FV_ADAPTERS_POSTGRES_PG_STORE_H
#define FV_ADAPTERS_POSTGRES_PG_STORE_H

#include <stddef.h>

#include "adapters/postgres/pg.h"
#include "core/deps.h"
#include "core/util/error.h"

typedef struct fv_pg_store fv_pg_store;

/* Zero-initialise, then set what you need; 0 / NULL means the default. */
typedef struct fv_pg_store_config {
    size_t heartbeat_history_max; /* heartbeats kept per worker, default 100 */
    size_t status_history_max;    /* status changes kept per worker, default 100 */
    int heartbeat_flush_ms;       /* flush interval of buffered heartbeats and signs of
                                     life, default 200 (far below the liveness thresholds) */
    fv_pg_log_fn log;             /* optional: failed flushes are reported here */
    void *log_user;
} fv_pg_store_config;

/*
 * A store on `pool` (borrowed: it must outlive the store), with its
 * heartbeat flusher thread started; cfg may be NULL. Touches no table.
 * NULL with FV_E_INVALID (a negative interval) or FV_E_EXHAUSTED (memory,
 * thread). The caller owns the store and releases it with fv_pg_store_free.
 */
fv_pg_store *fv_pg_store_new(fv_pg_pool *pool, const fv_pg_store_config *cfg, fv_error *err);

/*
 * Stop the flusher, write what is still buffered, free everything.
 * Heartbeats that cannot be written (the database is down) are lost and
 * reported through the log hook. No port of the store may be in use or
 * used afterwards. NULL-safe.
 */
void fv_pg_store_free(fv_pg_store *s);

/*
 * Fill out->workers, workflow_defs, task_defs, heartbeats, tenants and tasks
 * with the ports of the store (valid while it lives; thread-safe); the other
 * members of out (the event bus among them: adapters/postgres/pg_bus.h) are
 * left as they are.
 */
void fv_pg_store_deps(fv_pg_store *s, fv_deps *out);

/*
 * Write every heartbeat and sign of life buffered so far now (tests,
 * shutdown). A failure is reported through the log hook and everything
 * stays buffered for the next flush. Thread-safe.
 */
void fv_pg_store_flush(fv_pg_store *s);

#endif
