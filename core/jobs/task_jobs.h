/*
 * Scheduled transitions of task executions (decision 14), plain functions
 * of (deps, arena, now) like core/jobs/worker_jobs.h. Every transition is a
 * compare-and-set on the attempt (ports/task_repo.h end_attempt), so
 * replicas running the same job never end an attempt twice.
 */
#ifndef FV_CORE_JOBS_TASK_JOBS_H
#define FV_CORE_JOBS_TASK_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "core/deps.h"
#include "core/util/arena.h"
#include "core/util/error.h"

#define FV_JOB_TASK_TIMEOUT_INTERVAL_MS 1000
#define FV_JOB_TASK_RECLAIM_INTERVAL_MS 10000
#define FV_JOB_IDEM_EXPIRY_INTERVAL_MS  300000
/* Tasks handled per run at most (the next run takes the rest). */
#define FV_JOB_TASK_BATCH 1000

typedef struct fv_task_job_report {
    size_t retried;  /* attempts ended and put back to PENDING */
    size_t failed;   /* attempts ended with no retry left: FAILED */
    int64_t expired; /* idempotency keys dropped */
} fv_task_job_report;

/* RUNNING attempts older than their timeout end as TIMEOUT ("attempt timed
 * out after N ms") and are retried or failed like a failure. */
fv_err fv_job_task_timeouts(const fv_deps *d, fv_arena *a, fv_time now, fv_task_job_report *out,
                            fv_error *err);

/* RUNNING tasks whose registered worker is OFFLINE (effective status) or
 * gone end as TIMEOUT ("worker <id> went OFFLINE") and are retried or
 * failed. A worker that polls is alive (a poll is a sign of life), so a
 * worker that never sends SendHeartbeat is never robbed. */
fv_err fv_job_task_reclaim(const fv_deps *d, fv_arena *a, fv_time now, fv_task_job_report *out,
                           fv_error *err);

/* Idempotency keys past their TTL are dropped. */
fv_err fv_job_idempotency_expiry(const fv_deps *d, fv_arena *a, fv_time now,
                                 fv_task_job_report *out, fv_error *err);

#endif
