/*
 * Counts across every tenant, for metrics: workers by effective status and
 * definitions of each class by effective availability, derived at the
 * clock's now (spec decision 7), as the discovery reads show them. Not
 * scoped to a tenant: only the operator-facing metrics endpoint uses it.
 */
#ifndef FV_CORE_QUERIES_REGISTRY_COUNTS_H
#define FV_CORE_QUERIES_REGISTRY_COUNTS_H

#include "core/deps.h"
#include "core/util/error.h"

typedef struct fv_registry_counts {
    fv_worker_counts workers;
    fv_availability_counts workflows; /* workflow definitions */
    fv_availability_counts tasks;     /* task definitions */
} fv_registry_counts;

/*
 * Fill *out (zeroed first). Each of the three counts is one consistent read
 * of its repository; the three are not one snapshot together. Thread-safe.
 * Errors: the repositories' (FV_E_UNAVAILABLE, FV_E_TIMEOUT, FV_E_INTERNAL
 * when storage fails), or FV_E_UNAVAILABLE when a repository of the bundle
 * cannot count (an optional op left NULL by a test double).
 */
fv_err fv_query_registry_counts(const fv_deps *d, fv_registry_counts *out, fv_error *err);

#endif
