/*
 * The scheduler thread: runs the core jobs (core/jobs/worker_jobs.h, and
 * core/jobs/task_jobs.h on a bundle with task executions) on their
 * intervals, each run with its own arena and the bundle's clock, and logs
 * what a run changed (info) or why it failed (warn). One thread for all the
 * jobs; stopping wakes it at once (a condition variable, not a sleep).
 */
#ifndef FV_APP_SCHEDULER_H
#define FV_APP_SCHEDULER_H

#include <stdint.h>

#include "adapters/metrics/metrics.h"
#include "core/deps.h"
#include "core/util/error.h"

typedef struct fv_app_scheduler fv_app_scheduler;

/* Intervals of the worker jobs in ms, each > 0. The task jobs run at the
 * core's intervals (FV_JOB_TASK_TIMEOUT_INTERVAL_MS 1 s,
 * FV_JOB_TASK_RECLAIM_INTERVAL_MS 10 s, FV_JOB_IDEM_EXPIRY_INTERVAL_MS 5 min),
 * and only when the deps have a task repository. */
typedef struct fv_app_schedule {
    int64_t activate_ms;     /* fv_job_activate */
    int64_t stale_ms;        /* fv_job_detect_stale */
    int64_t availability_ms; /* fv_job_refresh_availability */
    int64_t retention_ms;    /* fv_job_retention */
    /* Optional (NULL = none): counts each run (flovyn_scheduler_job_*).
     * Borrowed: must outlive fv_app_scheduler_stop. */
    fv_metrics *metrics;
} fv_app_schedule;

/*
 * Start the thread. Each job first runs one interval after the start, then
 * every interval (a run that overlaps its next slot skips it). `d` is
 * borrowed and must outlive fv_app_scheduler_stop. Returns a new scheduler,
 * or NULL with err set: FV_E_INVALID (an interval <= 0), FV_E_EXHAUSTED (no
 * memory or no thread). Call from a thread that blocks the signals the
 * process handles: the new thread inherits its mask.
 */
fv_app_scheduler *fv_app_scheduler_start(const fv_deps *d, const fv_app_schedule *s, fv_error *err);

/* Stop the thread (a job that is running finishes first), join it and free
 * the scheduler. NULL-safe. */
void fv_app_scheduler_stop(fv_app_scheduler *s);

#endif
