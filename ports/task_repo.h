/*
 * Task repository port: task executions, their attempts, their events (the
 * live stream's record; logs are events of type LOG), idempotency keys and
 * task state (spec/domain.md "Task executions").
 *
 * Common contract of every op (as ports/worker_repo.h):
 * - Records and lists are copied into the caller's arena `a`.
 * - Thread-safe; several processes may share one store (Postgres): every
 *   write is atomic and compare-and-set where the state matters, so two
 *   callers never both win.
 * - A task of another tenant does not exist for the caller: FV_E_NOT_FOUND.
 * - FV_E_EXHAUSTED (arena or memory), FV_E_UNAVAILABLE / FV_E_TIMEOUT /
 *   FV_E_ABORTED / FV_E_INTERNAL (storage). A failed op changes nothing.
 * - Inputs are valid (the core checked them).
 * - Events: each task has its own event sequence, 1, 2, 3, ... with no gap,
 *   assigned by the adapter in the same atomic unit as the change the event
 *   records; fv_task.last_event_id is the newest. Each op below says which
 *   event it records.
 */
#ifndef FV_PORTS_TASK_REPO_H
#define FV_PORTS_TASK_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/task.h"
#include "core/types.h"
#include "core/util/arena.h"
#include "core/util/error.h"

typedef struct fv_task_list {
    fv_task *items;
    size_t n;
    int64_t total; /* matches before pagination (list only) */
} fv_task_list;

typedef struct fv_task_filter {
    fv_uuid tenant_id;
    unsigned status_mask; /* FV_TASK_BIT set; 0 = any */
    const char *queue;    /* NULL = any */
    const char *kind;     /* NULL = any */
    bool standalone_only; /* workflow_execution_id absent */
} fv_task_filter;

typedef struct fv_task_attempt_list {
    fv_task_attempt *items;
    size_t n;
} fv_task_attempt_list;

typedef struct fv_task_event_list {
    fv_task_event *items;
    size_t n;
} fv_task_event_list;

typedef struct fv_task_log_list {
    fv_task_log_line *items;
    size_t n;
    int64_t total;
} fv_task_log_list;

typedef struct fv_state_key_list {
    const char **items; /* byte order */
    size_t n;
} fv_state_key_list;

/* Pending work of one kind (backlog). */
typedef struct fv_task_backlog {
    fv_uuid tenant_id;
    const char *kind;
    int64_t pending;           /* PENDING tasks, scheduled or not */
    fv_time oldest_created_at; /* of those; FV_TIME_NONE when pending == 0 */
} fv_task_backlog;

typedef struct fv_task_backlog_list {
    fv_task_backlog *items; /* by tenant id, then kind */
    size_t n;
} fv_task_backlog_list;

/* Registered workers that hold RUNNING tasks (reclaim). */
typedef struct fv_task_holder {
    fv_uuid tenant_id;
    fv_uuid worker_uuid;
} fv_task_holder;

typedef struct fv_task_holder_list {
    fv_task_holder *items;
    size_t n;
} fv_task_holder_list;

/* A new task (submit). */
typedef struct fv_task_new {
    /* Complete record: fresh id, status PENDING, execution_count 0, effective
     * max_retries / timeout_ms / retry_policy, scheduled_at (>= created_at),
     * created_at = now, started_at = completed_at = last_heartbeat_at =
     * FV_TIME_NONE, last_event_id ignored (the adapter sets it to 1). */
    fv_task task;
    /* The TASK_CREATED event's data. */
    fv_json created_event_data;
    /* task.idempotency_key != NULL: the key lives until this time. */
    fv_time idempotency_expires_at;
} fv_task_new;

/* One claim (PollTask). */
typedef struct fv_claim_request {
    fv_uuid tenant_id;
    const char *queue;
    const char *worker_id;   /* the poller's id, verbatim (stored on the task) */
    fv_opt_uuid worker_uuid; /* the registered worker it resolved to, if any */
    fv_time now;
} fv_claim_request;

typedef struct fv_task_repo_ops {
    /*
     * Store a new task with its TASK_CREATED event (id 1), *created = true.
     * With an idempotency key: when the tenant has a live binding of that key
     * (expires_at > now, and its task neither FAILED nor CANCELLED), nothing
     * is stored: *created = false and *out is that bound task (whatever its
     * kind: the core decides on a mismatch). Otherwise the key is (re)bound
     * to the new task until idempotency_expires_at. Concurrent submits of one
     * key: exactly one creates, the others get it.
     */
    fv_err (*submit)(void *self, fv_arena *a, const fv_task_new *in, fv_task *out, bool *created,
                     fv_error *err);

    /* The task. FV_E_NOT_FOUND. */
    fv_err (*get)(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id, fv_task *out,
                  fv_error *err);

    /* Tasks matching f, newest first (created_at desc, then id desc), the
     * page of them and the total of matches. */
    fv_err (*list)(void *self, fv_arena *a, const fv_task_filter *f, fv_page page,
                   fv_task_list *out, fv_error *err);

    /*
     * Claim the oldest claimable task of (tenant, queue): PENDING,
     * scheduled_at <= now, oldest created_at first (then id). Two claims
     * never get the same task; a task locked by a concurrent claim is
     * skipped, not waited for. Applies fv_task_apply_claim and records
     * TASK_STARTED (data fv_task_event_data_started). *found says whether one
     * was claimed (then *out is the task after the claim). When none was,
     * *next_at is the earliest scheduled_at > now of a PENDING task of that
     * (tenant, queue), or FV_TIME_NONE: when to look again.
     */
    fv_err (*claim)(void *self, fv_arena *a, const fv_claim_request *c, fv_task *out, bool *found,
                    fv_time *next_at, fv_error *err);

    /*
     * End the RUNNING attempt: atomically read the task, plan with
     * fv_task_plan_attempt_end (its FV_E_PRECONDITION passes through and
     * nothing changes), store the record (fv_task_apply_transition), the
     * attempt row and the event of the plan. *out: the task after; *tr: the
     * plan applied (may be NULL).
     */
    fv_err (*end_attempt)(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                          const fv_attempt_outcome *o, fv_task *out, fv_task_transition *tr,
                          fv_error *err);

    /* Cancel as fv_task_plan_cancel plans it (PRECONDITION passes through),
     * atomically, with its attempt row (from RUNNING) and TASK_CANCELLED. */
    fv_err (*cancel)(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                     unsigned from_mask, const char *reason, fv_time now, fv_task *out,
                     fv_error *err);

    /* TaskExecution.Heartbeat: a RUNNING task gets last_heartbeat_at = now;
     * FV_E_PRECONDITION when it is not RUNNING (decision 21). No event. */
    fv_err (*heartbeat)(void *self, const fv_uuid *tenant, const fv_uuid *id, fv_time now,
                        fv_error *err);

    /*
     * Record progress: when the task is PENDING or RUNNING, set progress and
     * progress_details and record a PROGRESS event with `data`; *event_id is
     * its id. A finished task changes nothing (*event_id = 0, FV_OK: late
     * progress is accepted and ignored, decision 15).
     */
    fv_err (*report_progress)(void *self, const fv_uuid *tenant, const fv_uuid *id, double progress,
                              const char *details, fv_json data, fv_time now, int64_t *event_id,
                              fv_error *err);

    /*
     * Append an event that changes no state: LOG (level and message set;
     * recorded whatever the task's status: late logs are kept) or a stream
     * event TOKEN / DATA / ERROR / PROGRESS (recorded only while the task is
     * PENDING or RUNNING; else *event_id = 0 and FV_OK). ev->id is ignored;
     * *event_id is the id given.
     */
    fv_err (*append_event)(void *self, const fv_uuid *tenant, const fv_uuid *id,
                           const fv_task_event *ev, int64_t *event_id, fv_error *err);

    /* Events of the task with id > after_id, oldest first, at most limit.
     * FV_E_NOT_FOUND when the task is not in the tenant. */
    fv_err (*events)(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                     int64_t after_id, size_t limit, fv_task_event_list *out, fv_error *err);

    /* Attempts of the task by attempt number. FV_E_NOT_FOUND. */
    fv_err (*attempts)(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                       fv_task_attempt_list *out, fv_error *err);

    /* Logs (LOG events) of the task, oldest first, of one level when
     * has_level, the page of them and their total. FV_E_NOT_FOUND. */
    fv_err (*logs)(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                   bool has_level, fv_log_level level, fv_page page, fv_task_log_list *out,
                   fv_error *err);

    /* Task state (GetState & co). FV_E_NOT_FOUND for an unknown task, in
     * every op. state_get: *found false and value FV_JSON_NONE for a missing
     * key. state_set: insert or replace; a new key beyond
     * FV_TASK_STATE_MAX_KEYS is FV_E_EXHAUSTED. state_clear: no-op for a
     * missing key. */
    fv_err (*state_get)(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                        const char *key, fv_json *value, bool *found, fv_error *err);
    fv_err (*state_set)(void *self, const fv_uuid *tenant, const fv_uuid *id, const char *key,
                        fv_json value, fv_error *err);
    fv_err (*state_clear)(void *self, const fv_uuid *tenant, const fv_uuid *id, const char *key,
                          fv_error *err);
    fv_err (*state_clear_all)(void *self, const fv_uuid *tenant, const fv_uuid *id, fv_error *err);
    fv_err (*state_keys)(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                         fv_state_key_list *out, fv_error *err);

    /* Backlog per (tenant, kind) with pending > 0; tenant NULL = every
     * tenant. */
    fv_err (*backlog)(void *self, fv_arena *a, const fv_uuid *tenant, fv_task_backlog_list *out,
                      fv_error *err);

    /* Jobs. RUNNING tasks of every tenant whose attempt outlived its timeout
     * (started_at + timeout_ms <= now), oldest started first, at most
     * limit. */
    fv_err (*expired_attempts)(void *self, fv_arena *a, fv_time now, size_t limit,
                               fv_task_list *out, fv_error *err);
    /* Distinct registered workers (worker_uuid) holding RUNNING tasks. */
    fv_err (*holders)(void *self, fv_arena *a, fv_task_holder_list *out, fv_error *err);
    /* RUNNING tasks held by one registered worker, at most limit. */
    fv_err (*held_by)(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *worker_uuid,
                      size_t limit, fv_task_list *out, fv_error *err);
    /* Drop idempotency bindings with expires_at <= now; *removed counts them. */
    fv_err (*expire_idempotency_keys)(void *self, fv_time now, int64_t *removed, fv_error *err);
} fv_task_repo_ops;

typedef struct fv_task_repo {
    const fv_task_repo_ops *ops;
    void *self;
} fv_task_repo;

static inline fv_err fv_task_repo_submit(fv_task_repo r, fv_arena *a, const fv_task_new *in,
                                         fv_task *out, bool *created, fv_error *err)
{
    return r.ops->submit(r.self, a, in, out, created, err);
}

static inline fv_err fv_task_repo_get(fv_task_repo r, fv_arena *a, const fv_uuid *tenant,
                                      const fv_uuid *id, fv_task *out, fv_error *err)
{
    return r.ops->get(r.self, a, tenant, id, out, err);
}

static inline fv_err fv_task_repo_list(fv_task_repo r, fv_arena *a, const fv_task_filter *f,
                                       fv_page page, fv_task_list *out, fv_error *err)
{
    return r.ops->list(r.self, a, f, page, out, err);
}

static inline fv_err fv_task_repo_claim(fv_task_repo r, fv_arena *a, const fv_claim_request *c,
                                        fv_task *out, bool *found, fv_time *next_at, fv_error *err)
{
    return r.ops->claim(r.self, a, c, out, found, next_at, err);
}

static inline fv_err fv_task_repo_end_attempt(fv_task_repo r, fv_arena *a, const fv_uuid *tenant,
                                              const fv_uuid *id, const fv_attempt_outcome *o,
                                              fv_task *out, fv_task_transition *tr, fv_error *err)
{
    return r.ops->end_attempt(r.self, a, tenant, id, o, out, tr, err);
}

static inline fv_err fv_task_repo_cancel(fv_task_repo r, fv_arena *a, const fv_uuid *tenant,
                                         const fv_uuid *id, unsigned from_mask, const char *reason,
                                         fv_time now, fv_task *out, fv_error *err)
{
    return r.ops->cancel(r.self, a, tenant, id, from_mask, reason, now, out, err);
}

static inline fv_err fv_task_repo_heartbeat(fv_task_repo r, const fv_uuid *tenant,
                                            const fv_uuid *id, fv_time now, fv_error *err)
{
    return r.ops->heartbeat(r.self, tenant, id, now, err);
}

static inline fv_err fv_task_repo_report_progress(fv_task_repo r, const fv_uuid *tenant,
                                                  const fv_uuid *id, double progress,
                                                  const char *details, fv_json data, fv_time now,
                                                  int64_t *event_id, fv_error *err)
{
    return r.ops->report_progress(r.self, tenant, id, progress, details, data, now, event_id, err);
}

static inline fv_err fv_task_repo_append_event(fv_task_repo r, const fv_uuid *tenant,
                                               const fv_uuid *id, const fv_task_event *ev,
                                               int64_t *event_id, fv_error *err)
{
    return r.ops->append_event(r.self, tenant, id, ev, event_id, err);
}

static inline fv_err fv_task_repo_events(fv_task_repo r, fv_arena *a, const fv_uuid *tenant,
                                         const fv_uuid *id, int64_t after_id, size_t limit,
                                         fv_task_event_list *out, fv_error *err)
{
    return r.ops->events(r.self, a, tenant, id, after_id, limit, out, err);
}

static inline fv_err fv_task_repo_attempts(fv_task_repo r, fv_arena *a, const fv_uuid *tenant,
                                           const fv_uuid *id, fv_task_attempt_list *out,
                                           fv_error *err)
{
    return r.ops->attempts(r.self, a, tenant, id, out, err);
}

static inline fv_err fv_task_repo_logs(fv_task_repo r, fv_arena *a, const fv_uuid *tenant,
                                       const fv_uuid *id, bool has_level, fv_log_level level,
                                       fv_page page, fv_task_log_list *out, fv_error *err)
{
    return r.ops->logs(r.self, a, tenant, id, has_level, level, page, out, err);
}

static inline fv_err fv_task_repo_state_get(fv_task_repo r, fv_arena *a, const fv_uuid *tenant,
                                            const fv_uuid *id, const char *key, fv_json *value,
                                            bool *found, fv_error *err)
{
    return r.ops->state_get(r.self, a, tenant, id, key, value, found, err);
}

static inline fv_err fv_task_repo_state_set(fv_task_repo r, const fv_uuid *tenant,
                                            const fv_uuid *id, const char *key, fv_json value,
                                            fv_error *err)
{
    return r.ops->state_set(r.self, tenant, id, key, value, err);
}

static inline fv_err fv_task_repo_state_clear(fv_task_repo r, const fv_uuid *tenant,
                                              const fv_uuid *id, const char *key, fv_error *err)
{
    return r.ops->state_clear(r.self, tenant, id, key, err);
}

static inline fv_err fv_task_repo_state_clear_all(fv_task_repo r, const fv_uuid *tenant,
                                                  const fv_uuid *id, fv_error *err)
{
    return r.ops->state_clear_all(r.self, tenant, id, err);
}

static inline fv_err fv_task_repo_state_keys(fv_task_repo r, fv_arena *a, const fv_uuid *tenant,
                                             const fv_uuid *id, fv_state_key_list *out,
                                             fv_error *err)
{
    return r.ops->state_keys(r.self, a, tenant, id, out, err);
}

static inline fv_err fv_task_repo_backlog(fv_task_repo r, fv_arena *a, const fv_uuid *tenant,
                                          fv_task_backlog_list *out, fv_error *err)
{
    return r.ops->backlog(r.self, a, tenant, out, err);
}

static inline fv_err fv_task_repo_expired_attempts(fv_task_repo r, fv_arena *a, fv_time now,
                                                   size_t limit, fv_task_list *out, fv_error *err)
{
    return r.ops->expired_attempts(r.self, a, now, limit, out, err);
}

static inline fv_err fv_task_repo_holders(fv_task_repo r, fv_arena *a, fv_task_holder_list *out,
                                          fv_error *err)
{
    return r.ops->holders(r.self, a, out, err);
}

static inline fv_err fv_task_repo_held_by(fv_task_repo r, fv_arena *a, const fv_uuid *tenant,
                                          const fv_uuid *worker_uuid, size_t limit,
                                          fv_task_list *out, fv_error *err)
{
    return r.ops->held_by(r.self, a, tenant, worker_uuid, limit, out, err);
}

static inline fv_err fv_task_repo_expire_idempotency_keys(fv_task_repo r, fv_time now,
                                                          int64_t *removed, fv_error *err)
{
    return r.ops->expire_idempotency_keys(r.self, now, removed, err);
}

#endif
