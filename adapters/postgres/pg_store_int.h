/*
 * Internals of the Postgres repositories shared by pg_store.c,
 * pg_workers.c, pg_definitions.c, pg_heartbeats.c, pg_tenants.c and
 * pg_tasks.c (never included outside adapters/postgres/): the store, the
 * lifecycle of its two write buffers (heartbeat history in pg_heartbeats.c,
 * signs of life in pg_workers.c) and of the flusher thread that writes both,
 * and the small helpers every repository uses around the generated queries
 * (build/gen/db/db_*.h).
 *
 * Discipline of every op: one port call borrows one connection and gives it
 * back before returning: a single statement outside a transaction through
 * the pool variant of its query (fv_db_<query>_on, which borrows and gives
 * back around the statement), several on one connection with fv_pg_acquire
 * and fv_pg_release, a transaction with fv_pg_tx. A write of several
 * statements runs in one transaction (fv_pg_tx), and everything its answer
 * needs is allocated inside that transaction, so a failure rolls back and
 * changes nothing. A write of one statement runs on a scratch arena whose
 * first chunk is taken before the statement (fv__pg_scratch_init): nothing
 * can then fail after the statement ran, so it is atomic too.
 */
#ifndef FV_ADAPTERS_POSTGRES_PG_STORE_INT_H
#define FV_ADAPTERS_POSTGRES_PG_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapters/postgres/pg.h"
#include "adapters/postgres/pg_store.h"
#include "core/definition.h"
#include "core/types.h"
#include "core/util/arena.h"
#include "core/util/error.h"
#include "core/util/uuid.h"
#include "core/worker.h"
#include "db_runtime.h"
#include "ports/definition_repo.h"
#include "ports/heartbeat_store.h"
#include "ports/task_repo.h"
#include "ports/tenant_store.h"
#include "ports/worker_repo.h"

#define FV_PG_DEFAULT_HISTORY  100
#define FV_PG_DEFAULT_FLUSH_MS 200

typedef struct fv__pg_hb fv__pg_hb;           /* pg_heartbeats.c */
typedef struct fv__pg_touches fv__pg_touches; /* pg_workers.c */

/* The definition repository of one class is a view of the store. */
typedef struct fv__pg_def_view {
    fv_pg_store *s;
    fv_def_class cls;
} fv__pg_def_view;

struct fv_pg_store {
    fv_pg_pool *pool; /* borrowed */
    size_t heartbeat_history_max;
    size_t status_history_max;
    int flush_ms;
    fv_pg_log_fn log;
    void *log_user;
    fv__pg_def_view def_views[2];
    fv__pg_hb *hb;
    fv__pg_touches *touches;
};

/* The ports, one per file. */
fv_worker_repo fv__pg_worker_repo(fv_pg_store *s);
fv_definition_repo fv__pg_definition_repo(fv_pg_store *s, fv_def_class cls);
fv_heartbeat_store fv__pg_heartbeat_store(fv_pg_store *s);
fv_tenant_store fv__pg_tenant_store(fv_pg_store *s);
fv_task_repo fv__pg_task_repo(fv_pg_store *s);

/* The heartbeat buffer and the store's flusher thread (pg_heartbeats.c):
 * start it (the touch buffer must exist); stop it, write what is left of
 * both buffers and free the heartbeat buffer (NULL-safe); write both
 * buffers now, the signs of life first (FV_OK, or the first failure; a
 * failure is also logged and what failed stays buffered for the next
 * flush); drop what is buffered for some workers (a flush found them
 * removed). */
fv_err fv__pg_hb_start(fv_pg_store *s, fv_error *err);
void fv__pg_hb_stop(fv_pg_store *s);
fv_err fv__pg_hb_flush(fv_pg_store *s, fv_error *err);
void fv__pg_hb_drop_buffered(fv_pg_store *s, const fv_uuid *workers, size_t n);

/*
 * The buffered signs of life (pg_workers.c): touches wait in memory, per
 * worker, latest wins. Lifecycle: new (before the flusher starts), free
 * (after it stopped and wrote the buffer; what is left is lost).
 */
fv_err fv__pg_touches_new(fv_pg_store *s, fv_error *err);
void fv__pg_touches_free(fv_pg_store *s);
/* The number of workers whose touch waits to be written. */
size_t fv__pg_touches_pending(fv_pg_store *s);
/* Write every buffered touch now: one transaction of one UPDATE
 * (FlushTouches) for all buffered workers (plus, when some of them were
 * removed meanwhile, the delete of their heartbeat history); one flush at a
 * time; nothing when the buffer is empty. The flusher calls it every
 * interval, and the ops whose SQL decides on last_seen_at (a status filter,
 * scan, count_by_status, remove_offline) call it first. FV_OK or why not
 * (logged; the touches stay buffered). */
fv_err fv__pg_touches_flush(fv_pg_store *s, fv_error *err);

/* Report through the store's log hook, if any (printf style). */
void fv__pg_log(const fv_pg_store *s, fv_pg_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

/* An arena of the op's own with its first chunk taken (see above).
 * FV_E_EXHAUSTED when memory runs out; release it with fv_arena_release in
 * every case. */
fv_err fv__pg_scratch_init(fv_arena *a, fv_error *err);

fv_err fv__pg_exhausted(fv_error *err);

/* "worker <id> not found" (FV_E_NOT_FOUND). */
fv_err fv__pg_worker_not_found(const fv_uuid *id, fv_error *err);

/* JSON text as a NUL-terminated copy in the arena (fv_json need not be
 * terminated); *out NULL for an absent value. False when the arena is
 * full. */
bool fv__pg_json_text(fv_arena *a, fv_json j, const char **out);

/* A JSON column (NULL pointer = absent). */
fv_json fv__pg_json_of(const char *s);

/* A retry policy from its four nullable columns: a NULL column (valid
 * false) leaves its field unset. */
fv_retry_policy fv__pg_retry_of(bool max_retries_valid, int64_t max_retries,
                                bool initial_delay_ms_valid, int64_t initial_delay_ms,
                                bool backoff_coefficient_valid, double backoff_coefficient,
                                bool max_delay_ms_valid, int64_t max_delay_ms);

/* Text arrays of parameters: tags as fv_db_text_array (no copy). */
fv_db_text_array fv__pg_tags(const fv_tags *t);

/* Upper-case status and availability names, as stored. */
const char *fv__pg_status_name(fv_worker_status s);

/* Parse what the database holds; FV_E_INTERNAL naming the value when it is
 * not one of ours. */
fv_err fv__pg_parse_status(const char *s, fv_worker_status *out, fv_error *err);
fv_err fv__pg_parse_availability(const char *s, fv_availability *out, fv_error *err);

/* Clamp a page to what SQL accepts (negative values act as 0). */
void fv__pg_page(fv_page page, int64_t *limit, int64_t *offset);

#endif
