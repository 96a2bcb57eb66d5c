/*
 * Reads on workers and definitions (seed 002 WorkerQueries, seed 000
 * repository reads). Statuses and availability are derived at read time
 * (spec decision 7). Conventions as core/usecases/worker_usecases.h; a page
 * outside limit 1..100 / offset 0..1e9 is FV_E_INVALID.
 */
#ifndef FV_CORE_QUERIES_WORKER_QUERIES_H
#define FV_CORE_QUERIES_WORKER_QUERIES_H

#include <stddef.h>

#include "core/definition.h"
#include "core/deps.h"
#include "core/util/arena.h"
#include "core/util/error.h"
#include "core/worker.h"

/* Check a page against the limits of spec decision 4. */
fv_err fv_page_validate(fv_page page, fv_error *err);

/* Largest `limit` of history reads (heartbeats, status changes). */
#define FV_HISTORY_MAX_LIMIT 1000

/* A worker with its effective status. FV_E_NOT_FOUND. */
fv_err fv_query_worker(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                       fv_worker *out, fv_error *err);

/* Workers of a tenant by type, effective status and space; the page and the
 * total. */
fv_err fv_query_workers(const fv_deps *d, fv_arena *a, const fv_worker_filter *f, fv_page page,
                        fv_worker_list *out, fv_error *err);

typedef struct fv_worker_detail {
    fv_worker worker;
    fv_capability_ref_list workflows;
    fv_capability_ref_list tasks;
} fv_worker_detail;

/* A worker with its capabilities. FV_E_NOT_FOUND. */
fv_err fv_query_worker_detail(const fv_deps *d, fv_arena *a, const fv_uuid *tenant,
                              const fv_uuid *id, fv_worker_detail *out, fv_error *err);

/* The last heartbeat of a worker. FV_E_NOT_FOUND (no worker, or none yet). */
fv_err fv_query_last_heartbeat(const fv_deps *d, fv_arena *a, const fv_uuid *tenant,
                               const fv_uuid *id, fv_heartbeat *out, fv_error *err);

/* The most recent heartbeats, newest first; limit 1..FV_HISTORY_MAX_LIMIT.
 * FV_E_NOT_FOUND, FV_E_INVALID. */
fv_err fv_query_heartbeats(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                           int64_t limit, fv_heartbeat_list *out, fv_error *err);

/* Status transitions, newest first; limit 1..FV_HISTORY_MAX_LIMIT. */
fv_err fv_query_status_history(const fv_deps *d, fv_arena *a, const fv_uuid *tenant,
                               const fv_uuid *id, int64_t limit, fv_status_change_list *out,
                               fv_error *err);

/* Definitions of a class with effective settings, availability and worker
 * counts; filters availability, tag (1..100 bytes), space. */
fv_err fv_query_definitions(const fv_deps *d, fv_arena *a, fv_def_class cls,
                            const fv_definition_filter *f, fv_page page, fv_definition_list *out,
                            fv_error *err);

/* WorkerSummary of a detail view. */
typedef struct fv_worker_summary {
    fv_uuid id;
    const char *name;
    fv_worker_status status; /* effective */
    const char *version;     /* worker version */
} fv_worker_summary;

typedef struct fv_definition_detail {
    fv_definition def;
    fv_worker_summary *workers; /* the live (not OFFLINE) workers, by name */
    size_t n_workers;
    const char **versions; /* workflows: distinct versions the live workers serve,
                              highest first */
    size_t n_versions;
} fv_definition_detail;

/* Fill the backlog (has_backlog, pending_tasks, oldest_pending_at) of n task
 * definitions of `tenant` from one read of the task repository. Nothing to do
 * for workflows or a bundle without task executions. */
fv_err fv_query_attach_backlog(const fv_deps *d, fv_arena *a, fv_def_class cls,
                               const fv_uuid *tenant, fv_definition *defs, size_t n, fv_error *err);

/* One definition by kind with its live workers and versions. `space` is
 * FV_SPACE_NONE or FV_SPACE_ID. FV_E_NOT_FOUND, FV_E_INVALID (bad kind). */
fv_err fv_query_definition(const fv_deps *d, fv_arena *a, fv_def_class cls, const fv_uuid *tenant,
                           const fv_space_sel *space, const char *kind, fv_definition_detail *out,
                           fv_error *err);

/* Every worker linked to a definition (any status), effective statuses set.
 * FV_E_NOT_FOUND for an unknown kind. */
fv_err fv_query_definition_workers(const fv_deps *d, fv_arena *a, fv_def_class cls,
                                   const fv_uuid *tenant, const fv_space_sel *space,
                                   const char *kind, fv_linked_worker_list *out, fv_error *err);

#endif
