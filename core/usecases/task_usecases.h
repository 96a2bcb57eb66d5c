/*
 * Commands on task executions (spec/domain.md "Task executions", README
 * decisions 12-16 and 21). Driving adapters (gRPC TaskExecution, REST task
 * routes) call these and core/queries/task_queries.h, never the task
 * repository or the event bus.
 *
 * Every function: `d` borrowed; results in the caller's arena `a`; errors as
 * fv_err with detail in `err` (NULL allowed). Invalid input is FV_E_INVALID
 * naming the field and changes nothing. A task of another tenant is
 * FV_E_NOT_FOUND. Storage failures pass through. After each change the use
 * case publishes the bus notices (queue wake-ups, task events); a lost
 * notice is not an error (waiters also look on their own).
 */
#ifndef FV_CORE_USECASES_TASK_USECASES_H
#define FV_CORE_USECASES_TASK_USECASES_H

#include <stdbool.h>
#include <stdint.h>

#include "core/deps.h"
#include "core/task.h"
#include "core/util/arena.h"
#include "core/util/error.h"

/* A submission as the edges decode it. Strings NUL-terminated, JSON already
 * checked well-formed by the edge. */
typedef struct fv_task_submit_request {
    fv_uuid tenant_id;
    const char *workflow_execution_id; /* NULL or "" = standalone; anything else is a
                                          parent workflow: FV_E_INVALID if not a UUID,
                                          FV_E_NOT_FOUND (no workflow executions yet) */
    const char *kind;
    const char *queue; /* NULL or "" = "default" */
    fv_json input;     /* absent = JSON null */
    const fv_kv *metadata;
    size_t n_metadata;
    bool has_max_retries;  /* else the definition's retry policy, else 3 */
    int64_t max_retries;   /* 0..10 */
    bool has_timeout_ms;   /* else the definition's timeout, else the default */
    int64_t timeout_ms;    /* 1 ms .. one year */
    bool has_retry_policy; /* backoff; else the definition's, else none */
    fv_retry_policy retry_policy;
    bool has_scheduled_at; /* else now; in the past = now; at most a year ahead */
    fv_time scheduled_at;
    const char *idempotency_key; /* NULL = none; 1..255 bytes */
    bool has_idempotency_ttl;
    int64_t idempotency_ttl_seconds; /* 1 .. 30 days; default 1 day */
} fv_task_submit_request;

typedef struct fv_task_submit_result {
    fv_task task;
    bool idempotency_key_used; /* a key was given */
    bool created;              /* false: the key returned an existing task */
    /* A warning, not a refusal: no ONLINE worker declares the kind (spec
     * "beyond the peers"); the task waits in its queue. */
    bool no_online_worker;
} fv_task_submit_result;

/* Submit. The effective max_retries, timeout and backoff are fixed here:
 * the request's, else the task definition's (tenant level, effective:
 * operator configuration over declaration), else the defaults. An
 * idempotency key bound to a live task of another kind is FV_E_CONFLICT;
 * of the same kind, that task is returned (created = false). */
fv_err fv_task_submit(const fv_deps *d, fv_arena *a, const fv_task_submit_request *req,
                      fv_task_submit_result *out, fv_error *err);

/*
 * PollTask's claim: the poll is a sign of life of the worker named by
 * `worker_id` (its registered id or name; an unknown one is fine), then the
 * oldest claimable task of (tenant, queue) is claimed for it. *found says
 * whether one was; when not, *next_at is when a scheduled task of the queue
 * becomes claimable (FV_TIME_NONE: none known). Empty queue is FV_OK.
 * FV_E_INVALID: queue or worker_id malformed (worker_id 1..255 bytes).
 */
fv_err fv_task_claim(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const char *queue,
                     const char *worker_id, fv_task *out, bool *found, fv_time *next_at,
                     fv_error *err);

/* CompleteTask: output absent = JSON null; at most 1 MiB. FV_E_PRECONDITION
 * when the task is not RUNNING (decision 15). */
fv_err fv_task_complete(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                        fv_json output, fv_error *err);

/* FailTask: retried (back to PENDING, with backoff) while execution_count <=
 * max_retries, else FAILED. `error` may be NULL; longer than
 * FV_TASK_ERROR_MAX is cut at a character boundary. FV_E_PRECONDITION. */
fv_err fv_task_fail(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                    const char *error, fv_error *err);

/* Cancel from a status in from_mask: gRPC CancelTask allows PENDING and
 * RUNNING, REST DELETE only PENDING. FV_E_PRECONDITION otherwise. The
 * cancelled task is returned in *out (may be NULL). */
fv_err fv_task_cancel(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                      unsigned from_mask, fv_task *out, fv_error *err);

/* ReportProgress: 0 <= progress <= 1 (finite), details <= 4 KiB UTF-8 ("" =
 * none). A finished task: accepted, nothing changes. */
fv_err fv_task_report_progress(const fv_deps *d, const fv_uuid *tenant, const fv_uuid *id,
                               double progress, const char *details, fv_error *err);

/* LogMessage: level DEBUG/INFO/WARN/ERROR, message <= 64 KiB UTF-8. Kept
 * even after the task finished. */
fv_err fv_task_log(const fv_deps *d, const fv_uuid *tenant, const fv_uuid *id, fv_log_level level,
                   const char *message, fv_error *err);

/* StreamTaskData: type TOKEN, PROGRESS, DATA or ERROR as an event type
 * (FV_TEV_TOKEN, FV_TEV_PROGRESS, FV_TEV_DATA, FV_TEV_ERROR; anything else
 * FV_E_INVALID), payload JSON <= 256 KiB passed through verbatim. Ignored
 * once the task finished. */
fv_err fv_task_stream(const fv_deps *d, const fv_uuid *tenant, const fv_uuid *id,
                      fv_task_event_type type, fv_json payload, fv_error *err);

/* TaskExecution.Heartbeat (decision 21): FV_OK for a RUNNING task,
 * FV_E_PRECONDITION otherwise (how a worker learns of a cancellation). */
fv_err fv_task_heartbeat(const fv_deps *d, const fv_uuid *tenant, const fv_uuid *id, fv_error *err);

/* Task state. Keys 1..255 bytes UTF-8; values JSON <= 1 MiB. */
fv_err fv_task_state_get(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                         const char *key, fv_json *value, bool *found, fv_error *err);
fv_err fv_task_state_set(const fv_deps *d, const fv_uuid *tenant, const fv_uuid *id,
                         const char *key, fv_json value, fv_error *err);
fv_err fv_task_state_clear(const fv_deps *d, const fv_uuid *tenant, const fv_uuid *id,
                           const char *key, fv_error *err);
fv_err fv_task_state_clear_all(const fv_deps *d, const fv_uuid *tenant, const fv_uuid *id,
                               fv_error *err);
fv_err fv_task_state_keys(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                          fv_state_key_list *out, fv_error *err);

/* Watching (long polls, live streams): receive every bus notice (see
 * ports/event_bus.h for the rules of callbacks). */
fv_err fv_task_watch(const fv_deps *d, fv_bus_fn fn, void *user, fv_bus_sub **out, fv_error *err);
void fv_task_unwatch(const fv_deps *d, fv_bus_sub *sub);

#endif
