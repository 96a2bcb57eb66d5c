/* Scheduled transitions of task executions: attempt timeouts, reclaim of
 * tasks whose worker went OFFLINE, idempotency key expiry
 * (core/jobs/task_jobs.h). */
#include "core/jobs/task_jobs.h"

#include "core/task.h"
#include "core/usecases/task_usecases_int.h"
#include "core/worker.h"

#include <string.h>

static fv_err exhausted(fv_error *err)
{
    return fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
}

/* End attempt `t->execution_count` of t as TIMEOUT and count the outcome. A
 * task another replica (or the worker) ended first, or removed meanwhile,
 * is skipped: the attempt number makes the end a compare-and-set. */
static fv_err end_as_timeout(const fv_deps *d, fv_arena *a, const fv_task *t, const char *why,
                             fv_time now, fv_task_job_report *r, fv_error *err)
{
    fv_attempt_outcome o = {FV_ATTEMPT_TIMEOUT, t->execution_count, FV_JSON_NONE, why, now};
    fv_task after;
    fv_error local;
    fv_err rc = fv__task_end_attempt(d, a, &t->tenant_id, &t->id, &o, &after, NULL, &local);
    if (rc == FV_E_PRECONDITION || rc == FV_E_NOT_FOUND)
        return FV_OK;
    if (rc != FV_OK) {
        if (err != NULL)
            *err = local;
        return rc;
    }
    if (after.status == FV_TASK_PENDING)
        r->retried++;
    else if (after.status == FV_TASK_FAILED)
        r->failed++;
    return FV_OK;
}

fv_err fv_job_task_timeouts(const fv_deps *d, fv_arena *a, fv_time now, fv_task_job_report *out,
                            fv_error *err)
{
    memset(out, 0, sizeof *out);
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    fv_task_list expired;
    if ((rc = fv_task_repo_expired_attempts(d->tasks, a, now, FV_JOB_TASK_BATCH, &expired, err)) !=
        FV_OK)
        return rc;
    for (size_t i = 0; i < expired.n; i++) {
        const fv_task *t = &expired.items[i];
        const char *why =
            fv_arena_printf(a, "attempt timed out after %lld ms", (long long)t->timeout_ms);
        if (why == NULL)
            return exhausted(err);
        if ((rc = end_as_timeout(d, a, t, why, now, out, err)) != FV_OK)
            return rc;
    }
    return FV_OK;
}

/* Is the registered worker gone or OFFLINE at now? */
static fv_err worker_gone(const fv_deps *d, fv_arena *a, const fv_task_holder *h, fv_time now,
                          bool *gone, fv_error *err)
{
    fv_worker w;
    fv_error local;
    fv_err rc = fv_worker_repo_get(d->workers, a, &h->tenant_id, &h->worker_uuid, &w, &local);
    if (rc == FV_E_NOT_FOUND) {
        *gone = true;
        return FV_OK;
    }
    if (rc != FV_OK) {
        if (err != NULL)
            *err = local;
        return rc;
    }
    *gone = fv_worker_effective_status(&w, now, &d->liveness) == FV_STATUS_OFFLINE;
    return FV_OK;
}

fv_err fv_job_task_reclaim(const fv_deps *d, fv_arena *a, fv_time now, fv_task_job_report *out,
                           fv_error *err)
{
    memset(out, 0, sizeof *out);
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    fv_task_holder_list holders;
    if ((rc = fv_task_repo_holders(d->tasks, a, &holders, err)) != FV_OK)
        return rc;
    size_t budget = FV_JOB_TASK_BATCH;
    for (size_t i = 0; i < holders.n && budget > 0; i++) {
        const fv_task_holder *h = &holders.items[i];
        bool gone = false;
        if ((rc = worker_gone(d, a, h, now, &gone, err)) != FV_OK)
            return rc;
        if (!gone)
            continue;
        fv_task_list held;
        rc = fv_task_repo_held_by(d->tasks, a, &h->tenant_id, &h->worker_uuid, budget, &held, err);
        if (rc != FV_OK)
            return rc;
        char wid[FV_UUID_STR_LEN + 1];
        fv_uuid_format(&h->worker_uuid, wid);
        const char *why = fv_arena_printf(a, "worker %s went OFFLINE", wid);
        if (why == NULL)
            return exhausted(err);
        for (size_t k = 0; k < held.n && budget > 0; k++, budget--) {
            if ((rc = end_as_timeout(d, a, &held.items[k], why, now, out, err)) != FV_OK)
                return rc;
        }
    }
    return FV_OK;
}

fv_err fv_job_idempotency_expiry(const fv_deps *d, fv_arena *a, fv_time now,
                                 fv_task_job_report *out, fv_error *err)
{
    (void)a;
    memset(out, 0, sizeof *out);
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    int64_t removed = 0;
    if ((rc = fv_task_repo_expire_idempotency_keys(d->tasks, now, &removed, err)) != FV_OK)
        return rc;
    out->expired = removed;
    return FV_OK;
}
