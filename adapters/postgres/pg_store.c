/* The Postgres store: its configuration, its ports and the helpers the
 * repositories share (pg_store_int.h). */
#include "adapters/postgres/pg_store.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "adapters/postgres/pg_store_int.h"
#include "core/util/alloc.h"

fv_pg_store *fv_pg_store_new(fv_pg_pool *pool, const fv_pg_store_config *cfg, fv_error *err)
{
    if (pool == NULL) {
        fv_error_set(err, FV_E_INVALID, "a Postgres store needs a connection pool");
        return NULL;
    }
    if (cfg != NULL && cfg->heartbeat_flush_ms < 0) {
        fv_error_set(err, FV_E_INVALID, "heartbeat flush interval must not be negative");
        return NULL;
    }
    fv_pg_store *s = fv_calloc(1, sizeof *s);
    if (s == NULL) {
        fv__pg_exhausted(err);
        return NULL;
    }
    s->pool = pool;
    s->heartbeat_history_max = FV_PG_DEFAULT_HISTORY;
    s->status_history_max = FV_PG_DEFAULT_HISTORY;
    s->flush_ms = FV_PG_DEFAULT_FLUSH_MS;
    if (cfg != NULL) {
        if (cfg->heartbeat_history_max != 0)
            s->heartbeat_history_max = cfg->heartbeat_history_max;
        if (cfg->status_history_max != 0)
            s->status_history_max = cfg->status_history_max;
        if (cfg->heartbeat_flush_ms != 0)
            s->flush_ms = cfg->heartbeat_flush_ms;
        s->log = cfg->log;
        s->log_user = cfg->log_user;
    }
    s->def_views[0] = (fv__pg_def_view){s, FV_DEF_WORKFLOW};
    s->def_views[1] = (fv__pg_def_view){s, FV_DEF_TASK};
    if (fv__pg_touches_new(s, err) != FV_OK) {
        fv_free(s);
        return NULL;
    }
    if (fv__pg_hb_start(s, err) != FV_OK) {
        fv__pg_touches_free(s);
        fv_free(s);
        return NULL;
    }
    return s;
}

void fv_pg_store_free(fv_pg_store *s)
{
    if (s == NULL)
        return;
    fv__pg_hb_stop(s); /* writes both buffers */
    fv__pg_touches_free(s);
    fv_free(s);
}

void fv_pg_store_deps(fv_pg_store *s, fv_deps *out)
{
    out->workers = fv__pg_worker_repo(s);
    out->workflow_defs = fv__pg_definition_repo(s, FV_DEF_WORKFLOW);
    out->task_defs = fv__pg_definition_repo(s, FV_DEF_TASK);
    out->heartbeats = fv__pg_heartbeat_store(s);
    out->tenants = fv__pg_tenant_store(s);
    out->tasks = fv__pg_task_repo(s);
}

void fv_pg_store_flush(fv_pg_store *s)
{
    fv_error err;
    fv_error_clear(&err);
    (void)fv__pg_hb_flush(s, &err); /* a failure is logged and kept buffered */
}

void fv__pg_log(const fv_pg_store *s, fv_pg_log_level level, const char *fmt, ...)
{
    if (s->log == NULL)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->log(s->log_user, level, msg);
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

fv_err fv__pg_scratch_init(fv_arena *a, fv_error *err)
{
    fv_arena_init(a, 0);
    if (fv_arena_alloc(a, 1) == NULL)
        return fv__pg_exhausted(err);
    return FV_OK;
}

fv_err fv__pg_exhausted(fv_error *err)
{
    return fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
}

fv_err fv__pg_worker_not_found(const fv_uuid *id, fv_error *err)
{
    char s[FV_UUID_STR_LEN + 1];
    fv_uuid_format(id, s);
    return fv_error_set(err, FV_E_NOT_FOUND, "worker %s not found", s);
}

bool fv__pg_json_text(fv_arena *a, fv_json j, const char **out)
{
    if (j.p == NULL) {
        *out = NULL;
        return true;
    }
    *out = fv_arena_strndup(a, j.p, j.n);
    return *out != NULL;
}

fv_json fv__pg_json_of(const char *s)
{
    if (s == NULL)
        return FV_JSON_NONE;
    return (fv_json){s, strlen(s)};
}

fv_retry_policy fv__pg_retry_of(bool max_retries_valid, int64_t max_retries,
                                bool initial_delay_ms_valid, int64_t initial_delay_ms,
                                bool backoff_coefficient_valid, double backoff_coefficient,
                                bool max_delay_ms_valid, int64_t max_delay_ms)
{
    fv_retry_policy p = {0};
    if (max_retries_valid) {
        p.set |= FV_RETRY_HAS_MAX_RETRIES;
        p.max_retries = max_retries;
    }
    if (initial_delay_ms_valid) {
        p.set |= FV_RETRY_HAS_INITIAL_DELAY;
        p.initial_delay_ms = initial_delay_ms;
    }
    if (backoff_coefficient_valid) {
        p.set |= FV_RETRY_HAS_BACKOFF;
        p.backoff_coefficient = backoff_coefficient;
    }
    if (max_delay_ms_valid) {
        p.set |= FV_RETRY_HAS_MAX_DELAY;
        p.max_delay_ms = max_delay_ms;
    }
    return p;
}

fv_db_text_array fv__pg_tags(const fv_tags *t)
{
    return (fv_db_text_array){t->v, t->n};
}

const char *fv__pg_status_name(fv_worker_status s)
{
    return fv_worker_status_name(s);
}

fv_err fv__pg_parse_status(const char *s, fv_worker_status *out, fv_error *err)
{
    if (s == NULL || !fv_worker_status_parse(s, out))
        return fv_error_set(err, FV_E_INTERNAL, "the database holds an unknown worker status");
    return FV_OK;
}

fv_err fv__pg_parse_availability(const char *s, fv_availability *out, fv_error *err)
{
    if (s == NULL || !fv_availability_parse(s, out))
        return fv_error_set(err, FV_E_INTERNAL, "the database holds an unknown availability");
    return FV_OK;
}

void fv__pg_page(fv_page page, int64_t *limit, int64_t *offset)
{
    *limit = page.limit > 0 ? page.limit : 0;
    *offset = page.offset > 0 ? page.offset : 0;
}
