/*
 * The port contract suite (STYLE rule 13, DESIGN.md section 2 rule 6): one
 * set of CUnit assertions over the repository ports (worker repository, the
 * two definition repositories, heartbeat store, tenant store, task
 * repository) and the event bus, run against
 * every adapter through a factory. An adapter that passes it is
 * interchangeable with the others; a failure is a bug in the adapter (or,
 * after review, an ambiguity of the port header to settle there).
 *
 * The suite calls the ports directly through the wrappers of ports/, never
 * the use cases, with hand-built valid input (validation is the core's job)
 * and an explicit `now` on a fixed time base.
 *
 * Usage (tests/test_contract_<adapter>.c):
 *
 *     static const fv_contract_adapter mem = {"memory", mem_open, mem_close, NULL};
 *     int main(void) { return fv_contract_run(&mem) == 0 ? EXIT_SUCCESS : EXIT_FAILURE; }
 */
#ifndef FV_TESTS_SUPPORT_CONTRACT_H
#define FV_TESTS_SUPPORT_CONTRACT_H

#include "core/deps.h"

typedef struct fv_contract_adapter {
    const char *name; /* shown in suite names: "worker_repo[memory]" */
    /*
     * Open fresh, empty ports into *deps: workers, workflow_defs, task_defs,
     * heartbeats, tenants, tasks and bus are required (the task and bus
     * suites fail without the last two; the others do not use them); clock,
     * ids and liveness may be left zeroed (the suite does not use them).
     * The bus must deliver to subscribers of this process what is published
     * through it (asynchronously is fine: the suite waits, bounded). *ctx is
     * the adapter's state, handed back to close. Returns 0 on success.
     * Called before every test.
     */
    int (*open)(void **ctx, fv_deps *deps);
    /* Release everything open created. Called after every test that opened. */
    void (*close)(void *ctx);
    /*
     * Optional (may be NULL): make every heartbeat recorded so far visible to
     * reads, for adapters that buffer heartbeats (ports/heartbeat_store.h
     * allows a flush interval). The suite calls it before reading heartbeats.
     */
    void (*flush)(void *ctx);
} fv_contract_adapter;

/*
 * Register the contract suites for this adapter with CUnit, run them, print
 * the failures. Returns the number of failed tests (0 = the adapter passes).
 * The adapter must stay valid during the call. Not thread-safe (CUnit).
 */
int fv_contract_run(const fv_contract_adapter *adapter);

#endif
