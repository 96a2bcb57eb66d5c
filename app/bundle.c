/* Wiring of the in-memory bundle (bundle.h). */
#include "app/bundle.h"

#include <string.h>

#include "adapters/crypto/crypto.h"

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
    b->deps.clock = fv_system_clock();
    b->deps.ids = fv_system_ids();
    b->deps.hasher = fv_nettle_hasher();
    b->deps.liveness = cfg->liveness;
    rc = fv_deps_validate(&b->deps, err);
    if (rc != FV_OK)
        fv_app_bundle_close(b);
    return rc;
}

void fv_app_bundle_close(fv_app_bundle *b)
{
    if (b->store == NULL)
        return;
    fv_ids_destroy(b->deps.ids);
    fv_clock_destroy(b->deps.clock);
    fv_mem_store_free(b->store);
    memset(b, 0, sizeof *b);
}
