/*
 * Definition repository port: the workflow definitions and, as a second
 * instance of the same port, the task definitions. An instance serves one
 * class (fv_def_class); definitions are written by registration (the worker
 * repository's register op) and read and configured here.
 *
 * Common contract: as ports/worker_repo.h (arena copies, thread-safe, a
 * failed op changes nothing, FV_E_NOT_FOUND across tenants). Lists are
 * ordered by kind, tenant-level definitions before those of spaces, then id.
 */
#ifndef FV_PORTS_DEFINITION_REPO_H
#define FV_PORTS_DEFINITION_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/definition.h"
#include "core/types.h"
#include "core/util/arena.h"
#include "core/util/error.h"
#include "core/worker.h"

typedef struct fv_definition_filter {
    fv_uuid tenant_id;
    fv_space_sel space;
    bool has_availability;
    fv_availability availability; /* matched against the effective availability */
    const char *tag;              /* NULL = any; else one of the effective tags */
} fv_definition_filter;

typedef struct fv_definition_list {
    fv_definition *items;
    size_t n;
    int64_t total; /* matches before pagination */
} fv_definition_list;

/* Definitions of one class, every tenant, by effective availability
 * (count_by_availability). */
typedef struct fv_availability_counts {
    int64_t available;
    int64_t degraded;
    int64_t unavailable;
} fv_availability_counts;

typedef struct fv_availability_change_list {
    fv_availability_change *items;
    size_t n;
} fv_availability_change_list;

typedef struct fv_definition_repo_ops {
    /* The definition of `kind` in (tenant, space); space is FV_SPACE_NONE or
     * FV_SPACE_ID. `availability` and `worker_count` are derived at `now`
     * from the effective statuses of the linked workers. FV_E_NOT_FOUND. */
    fv_err (*get)(void *self, fv_arena *a, const fv_uuid *tenant, const fv_space_sel *space,
                  const char *kind, fv_time now, const fv_liveness *l, fv_definition *out,
                  fv_error *err);

    /* Definitions matching f, derived as `get` does, the page of them and the
     * total number of matches. */
    fv_err (*list)(void *self, fv_arena *a, const fv_definition_filter *f, fv_page page,
                   fv_time now, const fv_liveness *l, fv_definition_list *out, fv_error *err);

    /* Apply a validated patch to the operator configuration of `kind` in
     * (tenant, space) atomically and return the definition as `get` would.
     * Declared values are never touched. FV_E_NOT_FOUND. */
    fv_err (*configure)(void *self, fv_arena *a, const fv_uuid *tenant, const fv_space_sel *space,
                        const char *kind, const fv_def_config_patch *patch, fv_time now,
                        const fv_liveness *l, fv_definition *out, fv_error *err);

    /* Recompute the stored availability of every definition of this class
     * (all tenants) from the stored statuses of its linked workers; the
     * definitions whose stored value changed go to `out`. */
    fv_err (*refresh_availability)(void *self, fv_arena *a, fv_availability_change_list *out,
                                   fv_error *err);

    /* Metrics: the number of definitions of this class in every tenant by
     * availability derived at `now` as `get` does, as one consistent read.
     * Optional at wiring like fv_worker_repo_ops.count_by_status (same
     * terms). */
    fv_err (*count_by_availability)(void *self, fv_time now, const fv_liveness *l,
                                    fv_availability_counts *out, fv_error *err);
} fv_definition_repo_ops;

typedef struct fv_definition_repo {
    const fv_definition_repo_ops *ops;
    void *self;
} fv_definition_repo;

static inline fv_err fv_definition_repo_get(fv_definition_repo r, fv_arena *a,
                                            const fv_uuid *tenant, const fv_space_sel *space,
                                            const char *kind, fv_time now, const fv_liveness *l,
                                            fv_definition *out, fv_error *err)
{
    return r.ops->get(r.self, a, tenant, space, kind, now, l, out, err);
}

static inline fv_err fv_definition_repo_list(fv_definition_repo r, fv_arena *a,
                                             const fv_definition_filter *f, fv_page page,
                                             fv_time now, const fv_liveness *l,
                                             fv_definition_list *out, fv_error *err)
{
    return r.ops->list(r.self, a, f, page, now, l, out, err);
}

static inline fv_err fv_definition_repo_configure(fv_definition_repo r, fv_arena *a,
                                                  const fv_uuid *tenant, const fv_space_sel *space,
                                                  const char *kind,
                                                  const fv_def_config_patch *patch, fv_time now,
                                                  const fv_liveness *l, fv_definition *out,
                                                  fv_error *err)
{
    return r.ops->configure(r.self, a, tenant, space, kind, patch, now, l, out, err);
}

static inline fv_err fv_definition_repo_refresh_availability(fv_definition_repo r, fv_arena *a,
                                                             fv_availability_change_list *out,
                                                             fv_error *err)
{
    return r.ops->refresh_availability(r.self, a, out, err);
}

static inline fv_err fv_definition_repo_count_by_availability(fv_definition_repo r, fv_time now,
                                                              const fv_liveness *l,
                                                              fv_availability_counts *out,
                                                              fv_error *err)
{
    return r.ops->count_by_availability(r.self, now, l, out, err);
}

#endif
