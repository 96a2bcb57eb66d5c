/* Wiring of the in-memory and PostgreSQL bundles (bundle.h). */
#include "app/bundle.h"

#include <inttypes.h>
#include <string.h>

#include "adapters/crypto/crypto.h"
#include "app/log.h"

/* The ports every bundle shares: time, ids, hashing, thresholds. */
static void common_ports(const fv_app_config *cfg, fv_app_bundle *b)
{
    b->deps.clock = fv_system_clock();
    b->deps.ids = fv_system_ids();
    b->deps.hasher = fv_nettle_hasher();
    b->deps.liveness = cfg->liveness;
}

fv_err fv_app_bundle_open_memory(const fv_app_config *cfg, fv_app_bundle *b, fv_error *err)
{
    fv_err rc;

    memset(b, 0, sizeof *b);
    b->store = fv_mem_store_new(NULL);
    if (b->store == NULL)
        return fv_error_set(err, FV_E_EXHAUSTED,
                            "could not create the in-memory store: out of "
                            "memory");
    b->deps.workers = fv_mem_worker_repo(b->store);
    b->deps.workflow_defs = fv_mem_definition_repo(b->store, FV_DEF_WORKFLOW);
    b->deps.task_defs = fv_mem_definition_repo(b->store, FV_DEF_TASK);
    b->deps.heartbeats = fv_mem_heartbeat_store(b->store);
    b->deps.tenants = fv_mem_tenant_store(b->store);
    b->deps.tasks = fv_mem_task_repo(b->store);
    b->mem_bus = fv_mem_bus_new(err);
    if (b->mem_bus == NULL) {
        rc = err != NULL ? err->code : FV_E_EXHAUSTED;
        fv_app_bundle_close(b);
        return rc;
    }
    b->deps.bus = fv_mem_event_bus(b->mem_bus);
    common_ports(cfg, b);
    rc = fv_deps_validate(&b->deps, err);
    if (rc != FV_OK)
        fv_app_bundle_close(b);
    return rc;
}

/* Apply (or check) the embedded migrations. */
static fv_err schema_ready(const fv_app_config *cfg, fv_pg_pool *pool, fv_pg_migrate_report *rep,
                           fv_error *err)
{
    size_t n = 0;
    const fv_pg_migration *list = fv_pg_migrations(&n);
    fv_err rc;

    if (cfg->migrate)
        return fv_pg_migrate(pool, list, n, rep, err);
    rc = fv_pg_migrate_check(pool, list, n, rep, err);
    if (rc == FV_OK && rep->pending > 0)
        return fv_error_set(err, FV_E_PRECONDITION,
                            "the database lacks %zu migration%s of this build (it has version "
                            "%" PRId64 ", this build %" PRId64 "): run flovyn-server migrate first",
                            rep->pending, rep->pending == 1 ? "" : "s", rep->from_version,
                            n > 0 ? list[n - 1].version : 0);
    return rc;
}

fv_err fv_app_bundle_open_postgres(const fv_app_config *cfg, fv_app_bundle *b,
                                   fv_pg_migrate_report *report, fv_error *err)
{
    fv_pg_pool_config pcfg;
    fv_pg_store_config scfg;
    fv_pg_migrate_report rep;
    fv_err rc;

    memset(b, 0, sizeof *b);
    memset(&rep, 0, sizeof rep);
    memset(&pcfg, 0, sizeof pcfg);
    pcfg.url = cfg->database_url;
    pcfg.size = cfg->db_pool_size;
    pcfg.log = fv_app_log_pg;
    b->pool = fv_pg_pool_new(&pcfg, err);
    if (b->pool == NULL)
        return err != NULL ? err->code : FV_E_UNAVAILABLE;
    rc = schema_ready(cfg, b->pool, &rep, err);
    if (report != NULL)
        *report = rep;
    if (rc != FV_OK)
        goto fail;

    memset(&scfg, 0, sizeof scfg);
    scfg.log = fv_app_log_pg;
    b->pg = fv_pg_store_new(b->pool, &scfg, err);
    if (b->pg == NULL) {
        rc = err != NULL ? err->code : FV_E_EXHAUSTED;
        goto fail;
    }
    fv_pg_store_deps(b->pg, &b->deps);
    b->pg_bus = fv_pg_bus_new(b->pool, cfg->database_url, fv_app_log_pg, NULL, err);
    if (b->pg_bus == NULL) {
        rc = err != NULL ? err->code : FV_E_UNAVAILABLE;
        goto fail;
    }
    b->deps.bus = fv_pg_event_bus(b->pg_bus);
    common_ports(cfg, b);
    rc = fv_deps_validate(&b->deps, err);
    if (rc != FV_OK)
        goto fail;
    return FV_OK;

fail:
    fv_app_bundle_close(b);
    return rc;
}

void fv_app_bundle_close(fv_app_bundle *b)
{
    if (b->store == NULL && b->pool == NULL)
        return;
    /* The buses first (nothing publishes any more), then the store before
     * the pool it writes through. */
    fv_pg_bus_free(b->pg_bus);
    fv_mem_bus_free(b->mem_bus);
    fv_pg_store_free(b->pg);
    fv_pg_pool_free(b->pool);
    fv_ids_destroy(b->deps.ids);
    fv_clock_destroy(b->deps.clock);
    fv_mem_store_free(b->store);
    memset(b, 0, sizeof *b);
}
