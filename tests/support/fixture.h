/*
 * The shared fixture of the core tests: an fv_deps on the in-memory adapter
 * with a fake clock and deterministic ids, one tenant, builders of
 * registration requests, the catalogue of invalid registration requests, and
 * a dump of everything the queries can see of a tenant (to prove that a
 * rejected command changed nothing).
 *
 * Not thread-safe except where said: the store, the clock and the ids are,
 * the fixture's arena is not (threads use arenas of their own).
 */
#ifndef FV_TESTS_SUPPORT_FIXTURE_H
#define FV_TESTS_SUPPORT_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapters/memory/mem_store.h"
#include "core/deps.h"
#include "core/registration.h"
#include "core/util/arena.h"
#include "core/util/error.h"
#include "core/util/time.h"
#include "core/util/uuid.h"

/* 2026-01-01T00:00:00.000Z: the fake clock starts here. */
#define FV_FIXTURE_T0 ((fv_time)1767225600000)

/* Seed of the deterministic ids. */
#define FV_FIXTURE_ID_SEED 1000

typedef struct fv_fixture {
    fv_mem_store *store;
    fv_deps deps;    /* liveness = FV_LIVENESS_DEFAULTS; tests may change it */
    fv_arena arena;  /* for the test's own results; released with the fixture */
    fv_uuid tenant;  /* the tenant "acme", created at FV_FIXTURE_T0 */
    fv_mem_bus *bus; /* fv_fixture_init_tasks only; else NULL */
} fv_fixture;

/* Build the store, the clock (at FV_FIXTURE_T0), the ids and the tenant
 * "acme". Returns 0, or -1 with everything released. */
int fv_fixture_init(fv_fixture *fx);

/* fv_fixture_init, then task executions too: the in-memory task repository
 * of the store and an in-memory bus in deps.tasks and deps.bus (fixtures of
 * the registry tests leave the pair absent). Returns 0, or -1 with
 * everything released. */
int fv_fixture_init_tasks(fv_fixture *fx);

/* Release everything the fixture holds (NULL-safe, idempotent). */
void fv_fixture_release(fv_fixture *fx);

/* The fake clock. */
fv_time fv_fixture_now(const fv_fixture *fx);
void fv_fixture_set_now(fv_fixture *fx, fv_time t);
void fv_fixture_advance(fv_fixture *fx, int64_t ms);

/* Another tenant / a space of a tenant, through the use cases. */
fv_err fv_fixture_add_tenant(fv_fixture *fx, const char *slug, fv_uuid *out);
fv_err fv_fixture_add_space(fv_fixture *fx, const fv_uuid *tenant, const char *slug, fv_uuid *out);

/* A registration request with writable capability arrays. */
typedef struct fv_fixture_req {
    fv_register_request req; /* req.workflows == workflows, req.tasks == tasks */
    fv_capability *workflows;
    fv_capability *tasks;
} fv_fixture_req;

/*
 * Build in `a` a request of worker `name` of `tenant` at the tenant level:
 * type UNIFIED, version "1.0.0", host "host-a", process "1", no metadata,
 * workflows "wf-0" .. "wf-<n_workflows-1>" (version "1.0.0", content hash
 * "hash-1") and tasks "task-0" .. "task-<n_tasks-1>", nothing else declared.
 * The caller edits what it needs. Returns false when the arena is full.
 */
bool fv_fixture_req_build(fv_arena *a, const fv_uuid *tenant, const char *name, size_t n_workflows,
                          size_t n_tasks, fv_fixture_req *out);

/* The same with the fixture's arena and tenant; aborts the process when the
 * arena is full (never in practice). */
fv_fixture_req fv_fixture_request(fv_fixture *fx, const char *name, size_t n_workflows,
                                  size_t n_tasks);

/* n copies of c, NUL-terminated, in `a` (NULL when full). */
char *fv_fixture_str(fv_arena *a, char c, size_t n);

/* A JSON text of exactly n bytes ("\"xxx...\"", n >= 2) in `a`. */
fv_json fv_fixture_json(fv_arena *a, size_t n);

/* n tags "tag-0" .. in `a`. */
fv_tags fv_fixture_tags(fv_arena *a, size_t n);

/* Register through the use case (with the fixture's arena); *id may be NULL. */
fv_err fv_fixture_register(fv_fixture *fx, const fv_fixture_req *r, fv_uuid *id);

/* A heartbeat without health info through the use case. */
fv_err fv_fixture_heartbeat(fv_fixture *fx, const fv_uuid *tenant, const fv_uuid *id);

/*
 * Everything the queries show of a tenant, as text in `a`: every worker (all
 * spaces) with all fields and effective status, its capabilities, status
 * history and heartbeat history; every workflow and task definition with
 * declared and configured settings, latest version, availability, worker
 * count and linked workers. Two dumps at the same clock are equal iff the
 * tenant's visible state is the same. NULL when a query failed (`err` says
 * which; NULL allowed).
 */
char *fv_fixture_dump(fv_fixture *fx, fv_arena *a, const fv_uuid *tenant, fv_error *err);

/* One invalid registration request: `mutate` turns a valid request built by
 * fv_fixture_req_build(a, tenant, "w", 2, 2, r) into one step 1 must reject
 * with FV_E_INVALID and a message that contains `field`. */
typedef struct fv_fixture_invalid {
    const char *name;  /* what is wrong, for failure messages */
    const char *field; /* a substring of the expected error message */
    void (*mutate)(fv_arena *a, fv_fixture_req *r);
} fv_fixture_invalid;

extern const fv_fixture_invalid fv_fixture_invalid_requests[];
extern const size_t fv_fixture_invalid_request_count;

#endif
