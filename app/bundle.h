/*
 * Bundles: the concrete ports the server runs on, wired into one fv_deps.
 * The in-memory bundle (tests, demos, `make run`) and the PostgreSQL bundle
 * (production: the repositories of adapters/postgres over a connection
 * pool, the schema migrated at start).
 */
#ifndef FV_APP_BUNDLE_H
#define FV_APP_BUNDLE_H

#include "adapters/memory/mem_store.h"
#include "adapters/postgres/migrate.h"
#include "adapters/postgres/pg.h"
#include "adapters/postgres/pg_bus.h"
#include "adapters/postgres/pg_store.h"
#include "app/config.h"
#include "core/deps.h"
#include "core/util/error.h"

typedef struct fv_app_bundle {
    fv_deps deps;        /* what the use cases, queries and jobs run on */
    fv_mem_store *store; /* owned; in-memory bundle only */
    fv_pg_pool *pool;    /* owned; PostgreSQL bundle only */
    fv_pg_store *pg;     /* owned; PostgreSQL bundle only */
    fv_mem_bus *mem_bus; /* owned; in-memory bundle only */
    fv_pg_bus *pg_bus;   /* owned; PostgreSQL bundle only */
} fv_app_bundle;

/*
 * The in-memory bundle: one fv_mem_store and its port views (task
 * executions included), the in-process event bus, the system clock, system ids (getrandom), the
 * nettle SHA-256 hasher and the liveness thresholds of cfg. The result is checked with
 * fv_deps_validate. FV_E_EXHAUSTED (out of memory), FV_E_INVALID (wiring or thresholds). On failure
 * *b holds nothing to release. Release with fv_app_bundle_close once nothing uses b->deps any more
 * (after the servers and the scheduler stop).
 */
fv_err fv_app_bundle_open_memory(const fv_app_config *cfg, fv_app_bundle *b, fv_error *err);

/*
 * The PostgreSQL bundle on cfg->database_url: a pool of cfg->db_pool_size
 * connections (application_name flovyn-server, logged through
 * fv_app_log_pg), then the migrations embedded in this binary: applied when
 * cfg->migrate (under the advisory lock, so replicas starting together are
 * safe), else only checked, and a database that lacks some is refused with
 * FV_E_PRECONDITION naming the command to run. Then the store of
 * pg_store.h (task executions included), the event bus of pg_bus.h
 * (LISTEN/NOTIFY on a connection of its own to cfg->database_url, so a
 * submit through one server wakes the polls parked on every server of the
 * database), the system clock and ids, the nettle hasher and the liveness
 * thresholds, checked with fv_deps_validate. *report (may be NULL) says
 * what the migration step found and did. Errors: those of fv_pg_pool_new
 * (FV_E_INVALID URL, FV_E_UNAVAILABLE database), of fv_pg_migrate and
 * fv_pg_migrate_check (FV_E_PRECONDITION: edited or unknown migrations),
 * of fv_pg_store_new; on failure *b holds nothing to release. Release with
 * fv_app_bundle_close after the servers and the scheduler stopped: it
 * flushes the buffered heartbeats.
 */
fv_err fv_app_bundle_open_postgres(const fv_app_config *cfg, fv_app_bundle *b,
                                   fv_pg_migrate_report *report, fv_error *err);

/* Release what the bundle owns (the bus first, then the PostgreSQL store:
 * it writes its buffered heartbeats). Unsubscribe from the bus before
 * (fv_task_unwatch). Safe on a zeroed bundle and twice. */
void fv_app_bundle_close(fv_app_bundle *b);

#endif
