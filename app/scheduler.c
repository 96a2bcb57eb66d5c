/* The scheduler thread (scheduler.h). */
#include "app/scheduler.h"

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "app/log.h"
#include "core/definition.h"
#include "core/jobs/task_jobs.h"
#include "core/jobs/worker_jobs.h"
#include "core/util/alloc.h"
#include "core/util/arena.h"
#include "core/worker.h"

/* Detail lines logged per run; a summary covers the rest. */
#define DETAIL_MAX 20

/* Arena cap of one job run. */
#define JOB_ARENA_CAP ((size_t)256 * 1024 * 1024)

typedef fv_err (*job_fn)(const fv_deps *d, fv_arena *a, fv_time now, fv_job_report *out,
                         fv_error *err);
typedef fv_err (*task_job_fn)(const fv_deps *d, fv_arena *a, fv_time now, fv_task_job_report *out,
                              fv_error *err);

/* A job of core/jobs/worker_jobs.h (fn) or of core/jobs/task_jobs.h
 * (task_fn); exactly one is set. */
typedef struct job {
    const char *name;
    job_fn fn;
    task_job_fn task_fn;
    int64_t interval_ms;
    int64_t due_ms; /* on the monotonic clock; INT64_MAX: never (not enabled) */
    int metrics_id; /* fv_metrics_job; -1 = not counted */
} job;

enum { JOB_COUNT = 7 };

struct fv_app_scheduler {
    const fv_deps *deps;
    fv_metrics *metrics; /* NULL = none */
    job jobs[JOB_COUNT];
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    bool stop;
};

static int64_t monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void log_report(const char *name, const fv_job_report *r, fv_arena *a)
{
    size_t shown = 0;
    size_t total = r->n_changes + r->n_availability + r->n_removed;

    if (total == 0)
        return;
    fv_app_log(FV_APP_LOG_INFO, "scheduler %s changed workers=%zu definitions=%zu removed=%zu",
               name, r->n_changes, r->n_availability, r->n_removed);
    for (size_t i = 0; i < r->n_changes && shown < DETAIL_MAX; i++, shown++) {
        const fv_status_change *c = &r->changes[i];
        const char *id = fv_uuid_str(a, &c->worker_id);
        fv_app_log(FV_APP_LOG_INFO, "scheduler %s worker=%s status=%s->%s reason=\"%s\"", name,
                   id != NULL ? id : "?", fv_worker_status_name(c->from),
                   fv_worker_status_name(c->to), c->reason != NULL ? c->reason : "");
    }
    for (size_t i = 0; i < r->n_availability && shown < DETAIL_MAX; i++, shown++) {
        const fv_availability_change *c = &r->availability[i];
        fv_app_log(FV_APP_LOG_INFO, "scheduler %s definition=%s/%s availability=%s->%s", name,
                   fv_def_class_name(c->cls), c->kind != NULL ? c->kind : "?",
                   fv_availability_name(c->from), fv_availability_name(c->to));
    }
    for (size_t i = 0; i < r->n_removed && shown < DETAIL_MAX; i++, shown++) {
        const char *id = fv_uuid_str(a, &r->removed[i]);
        fv_app_log(FV_APP_LOG_INFO, "scheduler %s worker=%s removed by retention", name,
                   id != NULL ? id : "?");
    }
    if (total > shown)
        fv_app_log(FV_APP_LOG_INFO, "scheduler %s ... and %zu more changes", name, total - shown);
}

static void log_task_report(const char *name, const fv_task_job_report *r)
{
    if (r->expired > 0)
        fv_app_log(FV_APP_LOG_INFO, "scheduler %s dropped idempotency-keys=%lld", name,
                   (long long)r->expired);
    if (r->retried > 0 || r->failed > 0)
        fv_app_log(FV_APP_LOG_INFO, "scheduler %s ended attempts retried=%zu failed=%zu", name,
                   r->retried, r->failed);
}

static void run_job(fv_app_scheduler *s, const job *j, fv_arena *a)
{
    fv_job_report report = {0};
    fv_task_job_report task_report = {0};
    fv_error err;
    int64_t started = monotonic_ms();
    int64_t started_ns = fv_metrics_now_ns();
    fv_time now = fv_clock_now(s->deps->clock);
    uint64_t changes = 0;
    fv_err rc;

    fv_error_clear(&err);
    if (j->task_fn != NULL) {
        rc = j->task_fn(s->deps, a, now, &task_report, &err);
        changes = (uint64_t)task_report.retried + (uint64_t)task_report.failed +
                  (task_report.expired > 0 ? (uint64_t)task_report.expired : 0);
    } else {
        rc = j->fn(s->deps, a, now, &report, &err);
        changes = report.n_changes + report.n_availability + report.n_removed;
    }
    fv_metrics_job_observe(s->metrics, j->metrics_id, rc == FV_OK, rc == FV_OK ? changes : 0,
                           fv_metrics_seconds_since(started_ns));
    if (rc != FV_OK) {
        fv_app_log(FV_APP_LOG_WARN, "scheduler %s failed code=%s error=\"%s\"", j->name,
                   fv_err_name(rc), fv_error_message(&err, rc));
    } else {
        if (j->task_fn != NULL)
            log_task_report(j->name, &task_report);
        else
            log_report(j->name, &report, a);
        fv_app_log(FV_APP_LOG_DEBUG, "scheduler %s ran in %lld ms", j->name,
                   (long long)(monotonic_ms() - started));
    }
    fv_arena_reset(a);
}

static void *scheduler_main(void *arg)
{
    fv_app_scheduler *s = arg;
    fv_arena a;

    fv_arena_init(&a, JOB_ARENA_CAP);
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        int64_t now = monotonic_ms();
        job *next = &s->jobs[0];

        for (int i = 1; i < JOB_COUNT; i++) {
            if (s->jobs[i].due_ms < next->due_ms)
                next = &s->jobs[i];
        }
        if (next->due_ms > now) {
            struct timespec until = {(time_t)(next->due_ms / 1000),
                                     (long)(next->due_ms % 1000) * 1000000L};
            pthread_cond_timedwait(&s->cv, &s->mu, &until);
            continue;
        }
        /* Run without the lock so that stop never waits for the lock, only
         * for the job. */
        pthread_mutex_unlock(&s->mu);
        run_job(s, next, &a);
        now = monotonic_ms();
        next->due_ms += next->interval_ms;
        if (next->due_ms <= now)
            next->due_ms = now + next->interval_ms; /* skip missed slots */
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    fv_arena_release(&a);
    return NULL;
}

static job worker_job(const char *name, job_fn fn, int64_t interval_ms, int64_t now)
{
    return (job){name, fn, NULL, interval_ms, now + interval_ms, -1};
}

static job task_job(const char *name, task_job_fn fn, int64_t interval_ms, int64_t now,
                    const fv_deps *d)
{
    return (job){name, NULL, fn, interval_ms, d->tasks.ops != NULL ? now + interval_ms : INT64_MAX,
                 -1};
}

fv_app_scheduler *fv_app_scheduler_start(const fv_deps *d, const fv_app_schedule *sch,
                                         fv_error *err)
{
    fv_app_scheduler *s;
    pthread_condattr_t ca;
    int64_t now = monotonic_ms();
    int rc;

    if (sch->activate_ms <= 0 || sch->stale_ms <= 0 || sch->availability_ms <= 0 ||
        sch->retention_ms <= 0) {
        fv_error_set(err, FV_E_INVALID, "scheduler intervals must be positive");
        return NULL;
    }
    s = fv_calloc(1, sizeof *s);
    if (s == NULL) {
        fv_error_set(err, FV_E_EXHAUSTED, "could not start the scheduler: out of memory");
        return NULL;
    }
    s->deps = d;
    s->jobs[0] = worker_job("activate", fv_job_activate, sch->activate_ms, now);
    s->jobs[1] = worker_job("stale", fv_job_detect_stale, sch->stale_ms, now);
    s->jobs[2] = worker_job("availability", fv_job_refresh_availability, sch->availability_ms, now);
    s->jobs[3] = worker_job("retention", fv_job_retention, sch->retention_ms, now);
    /* The task jobs run only on a bundle with task executions. */
    s->jobs[4] =
        task_job("task-timeouts", fv_job_task_timeouts, FV_JOB_TASK_TIMEOUT_INTERVAL_MS, now, d);
    s->jobs[5] =
        task_job("task-reclaim", fv_job_task_reclaim, FV_JOB_TASK_RECLAIM_INTERVAL_MS, now, d);
    s->jobs[6] = task_job("idempotency-expiry", fv_job_idempotency_expiry,
                          FV_JOB_IDEM_EXPIRY_INTERVAL_MS, now, d);
    s->metrics = sch->metrics;
    for (int i = 0; i < JOB_COUNT; i++) {
        if (s->jobs[i].due_ms == INT64_MAX)
            continue;
        fv_error merr;
        if (fv_metrics_job(s->metrics, s->jobs[i].name, &s->jobs[i].metrics_id, &merr) != FV_OK)
            fv_app_log(FV_APP_LOG_WARN, "scheduler %s will not be counted in the metrics: %s",
                       s->jobs[i].name, merr.msg);
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    rc = pthread_create(&s->thread, NULL, scheduler_main, s);
    if (rc != 0) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        fv_free(s);
        fv_error_set(err, FV_E_EXHAUSTED, "could not start the scheduler thread (error %d)", rc);
        return NULL;
    }
    return s;
}

void fv_app_scheduler_stop(fv_app_scheduler *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    fv_free(s);
}
