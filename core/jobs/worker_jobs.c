/* Scheduled transitions of workers and definitions (seed 002 scheduler). */
#include "core/jobs/worker_jobs.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void report_clear(fv_job_report *r)
{
    memset(r, 0, sizeof *r);
}

static fv_err exhausted(fv_error *err)
{
    return fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
}

/* Append the availability changes of both classes to the report. */
static fv_err refresh_availability(const fv_deps *d, fv_arena *a, fv_job_report *r, fv_error *err)
{
    fv_availability_change_list wf, tasks;
    fv_err rc = fv_definition_repo_refresh_availability(d->workflow_defs, a, &wf, err);
    if (rc != FV_OK)
        return rc;
    if ((rc = fv_definition_repo_refresh_availability(d->task_defs, a, &tasks, err)) != FV_OK)
        return rc;
    size_t n = wf.n + tasks.n;
    if (n == 0)
        return FV_OK;
    fv_availability_change *all = fv_arena_alloc(a, n * sizeof *all);
    if (all == NULL)
        return exhausted(err);
    if (wf.n)
        memcpy(all, wf.items, wf.n * sizeof *all);
    if (tasks.n)
        memcpy(all + wf.n, tasks.items, tasks.n * sizeof *all);
    r->availability = all;
    r->n_availability = n;
    return FV_OK;
}

/* Move each scanned worker to its effective status when it differs from the
 * stored one; record what changed. Compare-and-set: a worker another replica
 * moved first is skipped. */
static fv_err reconcile(const fv_deps *d, fv_arena *a, fv_time now, const fv_worker_list *ws,
                        const char *why, fv_job_report *r, fv_error *err)
{
    if (ws->n == 0)
        return FV_OK;
    r->changes = fv_arena_calloc(a, ws->n, sizeof *r->changes);
    if (r->changes == NULL)
        return exhausted(err);
    for (size_t i = 0; i < ws->n; i++) {
        const fv_worker *w = &ws->items[i];
        fv_worker_status to = fv_worker_effective_status(w, now, &d->liveness);
        if (to == w->status)
            continue;
        const char *reason = why;
        if (reason == NULL) {
            long long secs = (long long)((now - w->last_seen_at) / 1000);
            reason = fv_arena_printf(a, "no sign of life for %llds", secs);
            if (reason == NULL)
                return exhausted(err);
        }
        bool changed = false;
        fv_err rc = fv_worker_repo_transition(d->workers, &w->tenant_id, &w->id, w->status, to, now,
                                              reason, &changed, err);
        if (rc == FV_E_NOT_FOUND) /* removed meanwhile */
            continue;
        if (rc != FV_OK)
            return rc;
        if (changed)
            r->changes[r->n_changes++] = (fv_status_change){
                .worker_id = w->id, .from = w->status, .to = to, .at = now, .reason = reason};
    }
    if (r->n_changes == 0)
        return FV_OK;
    return refresh_availability(d, a, r, err);
}

fv_err fv_job_activate(const fv_deps *d, fv_arena *a, fv_time now, fv_job_report *out,
                       fv_error *err)
{
    report_clear(out);
    fv_worker_list ws;
    unsigned mask = FV_STATUS_BIT(FV_STATUS_DEGRADED) | FV_STATUS_BIT(FV_STATUS_OFFLINE);
    fv_err rc = fv_worker_repo_scan(d->workers, a, mask, now - d->liveness.degraded_after_ms,
                                    INT64_MAX, &ws, err);
    if (rc != FV_OK)
        return rc;
    return reconcile(d, a, now, &ws, "sign of life", out, err);
}

fv_err fv_job_detect_stale(const fv_deps *d, fv_arena *a, fv_time now, fv_job_report *out,
                           fv_error *err)
{
    report_clear(out);
    fv_worker_list ws;
    unsigned mask = FV_STATUS_BIT(FV_STATUS_ONLINE) | FV_STATUS_BIT(FV_STATUS_DEGRADED);
    fv_err rc = fv_worker_repo_scan(d->workers, a, mask, INT64_MIN,
                                    now - d->liveness.degraded_after_ms, &ws, err);
    if (rc != FV_OK)
        return rc;
    return reconcile(d, a, now, &ws, NULL, out, err);
}

fv_err fv_job_refresh_availability(const fv_deps *d, fv_arena *a, fv_time now, fv_job_report *out,
                                   fv_error *err)
{
    (void)now; /* stored availability follows stored statuses, not the clock */
    report_clear(out);
    return refresh_availability(d, a, out, err);
}

fv_err fv_job_retention(const fv_deps *d, fv_arena *a, fv_time now, fv_job_report *out,
                        fv_error *err)
{
    report_clear(out);
    if (d->liveness.retention_ms == 0)
        return FV_OK;
    /* A worker is OFFLINE from offline_after past its last sign of life, so
     * "OFFLINE for longer than retention" is silent for both together. */
    fv_time cutoff = now - d->liveness.offline_after_ms - d->liveness.retention_ms;
    fv_uuid_list removed;
    fv_err rc = fv_worker_repo_remove_offline(d->workers, a, cutoff, &removed, err);
    if (rc != FV_OK)
        return rc;
    for (size_t i = 0; i < removed.n; i++)
        if ((rc = fv_heartbeat_store_forget(d->heartbeats, &removed.items[i], err)) != FV_OK)
            return rc;
    out->removed = removed.items;
    out->n_removed = removed.n;
    return FV_OK;
}
