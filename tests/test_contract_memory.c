/* The port contract suite against the in-memory adapter (adapters/memory). */
#include <stdlib.h>
#include <string.h>

#include "adapters/crypto/crypto.h"
#include "adapters/memory/mem_store.h"
#include "core/util/alloc.h"
#include "tests/support/contract.h"

typedef struct mem_ctx {
    fv_mem_store *store;
    fv_mem_bus *bus;
} mem_ctx;

static int mem_open(void **ctx, fv_deps *deps)
{
    mem_ctx *c = fv_calloc(1, sizeof *c);
    if (c == NULL)
        return -1;
    fv_mem_store *s = fv_mem_store_new(NULL);
    c->store = s;
    c->bus = fv_mem_bus_new(NULL);
    if (s == NULL || c->bus == NULL) {
        fv_mem_store_free(s);
        fv_mem_bus_free(c->bus);
        fv_free(c);
        return -1;
    }
    memset(deps, 0, sizeof *deps);
    deps->workers = fv_mem_worker_repo(s);
    deps->workflow_defs = fv_mem_definition_repo(s, FV_DEF_WORKFLOW);
    deps->task_defs = fv_mem_definition_repo(s, FV_DEF_TASK);
    deps->heartbeats = fv_mem_heartbeat_store(s);
    deps->tenants = fv_mem_tenant_store(s);
    deps->tasks = fv_mem_task_repo(s);
    deps->bus = fv_mem_event_bus(c->bus);
    deps->clock = fv_system_clock();
    deps->hasher = fv_nettle_hasher();
    deps->liveness = FV_LIVENESS_DEFAULTS;
    *ctx = c;
    return 0;
}

static void mem_close(void *ctx)
{
    mem_ctx *c = ctx;
    fv_mem_store_free(c->store);
    fv_mem_bus_free(c->bus);
    fv_free(c);
}

static const fv_contract_adapter memory_adapter = {
    .name = "memory",
    .open = mem_open,
    .close = mem_close,
    .flush = NULL, /* writes are visible at once */
};

int main(void)
{
    return fv_contract_run(&memory_adapter) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
