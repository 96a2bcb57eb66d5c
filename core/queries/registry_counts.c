/* Counts across every tenant, for metrics (registry_counts.h). */
#include "core/queries/registry_counts.h"

#include <string.h>

fv_err fv_query_registry_counts(const fv_deps *d, fv_registry_counts *out, fv_error *err)
{
    fv_time now = fv_clock_now(d->clock);
    fv_err rc;

    memset(out, 0, sizeof *out);
    if (d->workers.ops->count_by_status == NULL ||
        d->workflow_defs.ops->count_by_availability == NULL ||
        d->task_defs.ops->count_by_availability == NULL)
        return fv_error_set(err, FV_E_UNAVAILABLE, "the storage of this bundle cannot count");
    rc = fv_worker_repo_count_by_status(d->workers, now, &d->liveness, &out->workers, err);
    if (rc == FV_OK)
        rc = fv_definition_repo_count_by_availability(d->workflow_defs, now, &d->liveness,
                                                      &out->workflows, err);
    if (rc == FV_OK)
        rc = fv_definition_repo_count_by_availability(d->task_defs, now, &d->liveness, &out->tasks,
                                                      err);
    if (rc != FV_OK)
        memset(out, 0, sizeof *out);
    return rc;
}
