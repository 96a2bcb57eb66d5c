/*
 * Scheduled transitions (seed 002 WorkerScheduler). Each job is a plain
 * function of (deps, now, arena) that returns what it changed, so tests drive
 * it with a fake clock and no sleeping, and app/ runs it on its interval.
 * Transitions are compare-and-set in the repository, so several replicas
 * running the same job never record a transition twice.
 */
#ifndef FV_CORE_JOBS_WORKER_JOBS_H
#define FV_CORE_JOBS_WORKER_JOBS_H

#include <stddef.h>

#include "core/deps.h"
#include "core/util/arena.h"
#include "core/util/error.h"

/* Default intervals (spec/domain.md). */
#define FV_JOB_ACTIVATION_INTERVAL_MS   10000
#define FV_JOB_STALE_INTERVAL_MS        30000
#define FV_JOB_AVAILABILITY_INTERVAL_MS 30000
#define FV_JOB_RETENTION_INTERVAL_MS    300000

typedef struct fv_job_report {
    fv_status_change *changes; /* worker status transitions made by this run */
    size_t n_changes;
    fv_availability_change *availability; /* definition availability transitions */
    size_t n_availability;
    fv_uuid *removed; /* workers removed by retention */
    size_t n_removed;
} fv_job_report;

/* Activation / reactivation: DEGRADED or OFFLINE workers with a sign of life
 * within degraded_after move to their effective status (ONLINE, or DEGRADED
 * when their health says so); availability follows. */
fv_err fv_job_activate(const fv_deps *d, fv_arena *a, fv_time now, fv_job_report *out,
                       fv_error *err);

/* Stale detection: ONLINE or DEGRADED workers silent beyond the thresholds
 * move to DEGRADED or OFFLINE; availability follows. */
fv_err fv_job_detect_stale(const fv_deps *d, fv_arena *a, fv_time now, fv_job_report *out,
                           fv_error *err);

/* Availability recomputation of every definition from the stored statuses. */
fv_err fv_job_refresh_availability(const fv_deps *d, fv_arena *a, fv_time now, fv_job_report *out,
                                   fv_error *err);

/* Retention (decision 9): workers OFFLINE for longer than retention_ms (silent
 * for offline_after_ms + retention_ms) are
 * removed with their links and heartbeat history; definitions stay. Does
 * nothing when retention_ms is 0. */
fv_err fv_job_retention(const fv_deps *d, fv_arena *a, fv_time now, fv_job_report *out,
                        fv_error *err);

#endif
