/*
 * Task executions (spec/domain.md "Task executions", spec/README.md
 * decisions 12-16 and 21): the record, its state machine, attempts, events,
 * logs, task state, and the pure rules the use cases apply (limits, retry
 * arithmetic, backoff). No I/O here: the use cases (core/usecases/
 * task_usecases.h) run these rules over the task repository port.
 *
 *   PENDING --claim--> RUNNING --complete--> COMPLETED
 *      ^                  |----fail/timeout/reclaim, retries left--> PENDING
 *      |                  |----fail/timeout/reclaim, none left-----> FAILED
 *      +--cancel--> CANCELLED <--cancel-- RUNNING
 *
 * Terminal states (COMPLETED, FAILED, CANCELLED) never change again.
 */
#ifndef FV_CORE_TASK_H
#define FV_CORE_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/definition.h"
#include "core/types.h"
#include "core/util/arena.h"
#include "core/util/error.h"
#include "core/util/time.h"
#include "core/util/uuid.h"

/* ---- Limits (spec/domain.md; rest-api.md) ------------------------------ */

#define FV_TASK_KIND_MAX            255 /* bytes */
#define FV_TASK_QUEUE_MAX           100 /* bytes */
#define FV_TASK_DEFAULT_QUEUE       "default"
#define FV_TASK_INPUT_MAX           ((size_t)1 << 20) /* input, output: 1 MiB of JSON */
#define FV_TASK_META_MAX_KEYS       50
#define FV_TASK_META_MAX_BYTES      ((size_t)64 * 1024) /* keys + values */
#define FV_TASK_META_RESERVED       "_flovyn_"          /* no key may start with it */
#define FV_TASK_DEFAULT_MAX_RETRIES 3
#define FV_TASK_ERROR_MAX           ((size_t)64 * 1024) /* FailTask error text, kept whole up to this */
#define FV_TASK_WORKER_ID_MAX       255                 /* the poller's worker_id string */
#define FV_TASK_IDEM_KEY_MAX        255
#define FV_TASK_IDEM_TTL_DEFAULT_S  ((int64_t)86400)      /* 1 day */
#define FV_TASK_IDEM_TTL_MAX_S      ((int64_t)30 * 86400) /* 30 days */
/* Attempt timeout when neither the request nor the definition sets one
 * (the SDK's own executor gives up at 300 s and reports a failure first). */
#define FV_TASK_DEFAULT_TIMEOUT_MS ((int64_t)3600 * 1000)
#define FV_TASK_TIMEOUT_MAX_MS     ((int64_t)FV_TIMEOUT_MAX_SECONDS * 1000)
/* Scheduled at most this far ahead. */
#define FV_TASK_SCHEDULE_MAX_AHEAD_MS ((int64_t)366 * 86400 * 1000)
#define FV_TASK_PROGRESS_DETAILS_MAX  ((size_t)4096)
#define FV_TASK_LOG_MESSAGE_MAX       ((size_t)64 * 1024)
#define FV_TASK_STREAM_PAYLOAD_MAX    ((size_t)256 * 1024)
#define FV_TASK_STATE_KEY_MAX         255
#define FV_TASK_STATE_VALUE_MAX       ((size_t)1 << 20)
#define FV_TASK_STATE_MAX_KEYS        100 /* per task; one more is FV_E_EXHAUSTED */

/* ---- States -------------------------------------------------------------- */

/* Values never renumbered: adapters store them. */
typedef enum fv_task_status {
    FV_TASK_PENDING = 1,
    FV_TASK_RUNNING = 2,
    FV_TASK_COMPLETED = 3,
    FV_TASK_FAILED = 4,
    FV_TASK_CANCELLED = 5,
} fv_task_status;

#define FV_TASK_BIT(s) (1u << (unsigned)(s))

/* "PENDING" ... ; parse is exact (upper case). */
const char *fv_task_status_name(fv_task_status s);
bool fv_task_status_parse(const char *s, fv_task_status *out);
bool fv_task_status_terminal(fv_task_status s);

/* How an attempt ended. Values stored by adapters. */
typedef enum fv_attempt_status {
    FV_ATTEMPT_COMPLETED = 1,
    FV_ATTEMPT_FAILED = 2,
    FV_ATTEMPT_TIMEOUT = 3, /* attempt timeout, or its worker went OFFLINE (reclaim) */
    FV_ATTEMPT_CANCELLED = 4,
} fv_attempt_status;

const char *fv_attempt_status_name(fv_attempt_status s);

/* ---- The record ---------------------------------------------------------- */

/* One metadata entry (string -> string). */
typedef struct fv_kv {
    const char *key;
    const char *value;
} fv_kv;

typedef struct fv_task {
    fv_uuid id;
    fv_uuid tenant_id;
    fv_opt_uuid workflow_execution_id; /* has == false: standalone */
    const char *kind;
    const char *queue;
    fv_task_status status;
    fv_json input;         /* as submitted (JSON text) */
    fv_json output;        /* COMPLETED: as reported; else absent */
    const char *error;     /* last failure text (FAILED, and kept through a retry); NULL = none */
    const fv_kv *metadata; /* by key, byte order */
    size_t n_metadata;
    int32_t execution_count;      /* attempts started so far; the RUNNING attempt's number */
    int32_t max_retries;          /* effective (request, else definition, else default) */
    int64_t timeout_ms;           /* effective attempt timeout */
    fv_retry_policy retry_policy; /* effective backoff (set == 0: retry at once) */
    bool has_progress;
    double progress;              /* 0..1, reported by ReportProgress */
    const char *progress_details; /* NULL = none */
    const char *worker_id;        /* the poller's worker_id, verbatim; NULL when never claimed */
    fv_opt_uuid worker_uuid;      /* the registered worker that poll resolved to, if any */
    fv_time scheduled_at;         /* not claimable before */
    fv_time created_at;
    fv_time started_at;          /* current/last attempt; FV_TIME_NONE before the first claim */
    fv_time completed_at;        /* terminal states; else FV_TIME_NONE */
    fv_time last_heartbeat_at;   /* claim or TaskExecution.Heartbeat; FV_TIME_NONE before */
    const char *idempotency_key; /* NULL = none */
    int64_t last_event_id;       /* id of the newest event of the task (>= 1 once created) */
} fv_task;

/* A finished attempt (one row per attempt that ended). */
typedef struct fv_task_attempt {
    int32_t attempt; /* 1-based */
    fv_attempt_status status;
    fv_time started_at;
    fv_time finished_at;
    int64_t duration_ms;
    fv_json output;    /* COMPLETED */
    const char *error; /* FAILED, TIMEOUT (the reason), CANCELLED; NULL = none */
    const char *worker_id;
} fv_task_attempt;

/* ---- Events (the live stream's record; logs are events of type LOG) ----- */

/* Values stored by adapters. Names are the SSE `event:` values. */
typedef enum fv_task_event_type {
    FV_TEV_TASK_CREATED = 1,
    FV_TEV_TASK_STARTED = 2,
    FV_TEV_PROGRESS = 3, /* ReportProgress, or StreamTaskData PROGRESS */
    FV_TEV_LOG = 4,
    FV_TEV_TOKEN = 5, /* StreamTaskData TOKEN */
    FV_TEV_DATA = 6,  /* StreamTaskData DATA */
    FV_TEV_ERROR = 7, /* StreamTaskData ERROR */
    FV_TEV_RETRY = 8, /* an attempt ended and the task went back to PENDING */
    FV_TEV_TASK_COMPLETED = 9,
    FV_TEV_TASK_FAILED = 10,
    FV_TEV_TASK_CANCELLED = 11,
} fv_task_event_type;

/* "TASK_CREATED", "TASK_STARTED", "PROGRESS", "LOG", "TOKEN", "DATA",
 * "ERROR", "RETRY", "TASK_COMPLETED", "TASK_FAILED", "TASK_CANCELLED". */
const char *fv_task_event_type_name(fv_task_event_type t);
/* True for the events after which the task is over (the stream ends). */
bool fv_task_event_is_final(fv_task_event_type t);

typedef enum fv_log_level {
    FV_LOG_DEBUG = 1,
    FV_LOG_INFO = 2,
    FV_LOG_WARN = 3,
    FV_LOG_ERROR = 4,
} fv_log_level;

/* "DEBUG", "INFO", "WARN", "ERROR"; parse is exact. */
const char *fv_log_level_name(fv_log_level l);
bool fv_log_level_parse(const char *s, fv_log_level *out);

/*
 * One event of a task. `id` increases by one per event of the task,
 * starting at 1 (TASK_CREATED); the adapter assigns it. `data` is the
 * event's JSON text, built by the core (fv_task_event_data_*) or, for
 * stream events, the worker's payload verbatim. Typed columns beside it
 * let adapters filter logs without parsing JSON.
 */
typedef struct fv_task_event {
    int64_t id;
    fv_task_event_type type;
    fv_time at;
    fv_log_level level;  /* LOG only; 0 otherwise */
    const char *message; /* LOG only: the message (also inside data); NULL otherwise */
    fv_json data;
} fv_task_event;

/* A log line as the log list shows it (an event of type LOG). */
typedef struct fv_task_log_line {
    int64_t id; /* the event id */
    fv_log_level level;
    const char *message;
    fv_time at;
    fv_json metadata; /* absent = none */
} fv_task_log_line;

/* ---- Rules ---------------------------------------------------------------- */

/* Kind 1..FV_TASK_KIND_MAX bytes, UTF-8, no control characters. */
fv_err fv_task_kind_validate(const char *kind, fv_error *err);
/* Queue 1..FV_TASK_QUEUE_MAX bytes, UTF-8, no control characters. */
fv_err fv_task_queue_validate(const char *queue, fv_error *err);
/* At most 50 keys, 64 KiB of keys and values, keys non-empty, distinct and not
 * starting with "_flovyn_", all UTF-8. */
fv_err fv_task_metadata_validate(const fv_kv *kv, size_t n, fv_error *err);

/* Decision 12: after attempt `execution_count` failed, is there another
 * one? (execution_count <= max_retries). */
bool fv_task_should_retry(int32_t execution_count, int32_t max_retries);

/* Backoff before the attempt that follows failed attempt `execution_count`
 * (>= 1): initial_delay_ms * backoff_coefficient^(execution_count - 1),
 * capped at max_delay_ms (when set) and at FV_RETRY_DELAY_MAX_MS; 0 when the
 * policy sets no initial delay. Never overflows. */
int64_t fv_task_retry_delay_ms(const fv_retry_policy *p, int32_t execution_count);

/* ---- Event data (JSON text built by the core, in arena a) ----------------
 * Every function returns FV_JSON_NONE when the arena is full. Strings are
 * escaped as JSON requires; NULL strings become null or are omitted as said. */

/* TASK_CREATED {"kind":..,"queue":..,"scheduledAt":..} */
fv_json fv_task_event_data_created(fv_arena *a, const fv_task *t);
/* TASK_STARTED {"attempt":n,"workerId":..} */
fv_json fv_task_event_data_started(fv_arena *a, int32_t attempt, const char *worker_id);
/* PROGRESS {"progress":p,"details":..} (details omitted when NULL) */
fv_json fv_task_event_data_progress(fv_arena *a, double progress, const char *details);
/* LOG {"level":..,"message":..,"metadata":{..}} (metadata omitted when absent) */
fv_json fv_task_event_data_log(fv_arena *a, fv_log_level level, const char *message,
                               fv_json metadata);
/* TASK_COMPLETED {"attempt":n,"output":<json>} */
fv_json fv_task_event_data_completed(fv_arena *a, int32_t attempt, fv_json output);
/* RETRY / TASK_FAILED {"attempt":n,"status":"FAILED"|"TIMEOUT","error":..,
 * "nextAttemptAt":..} (nextAttemptAt for RETRY only) */
fv_json fv_task_event_data_failed(fv_arena *a, int32_t attempt, fv_attempt_status st,
                                  const char *error, fv_time next_at);
/* TASK_CANCELLED {"attempt":n|null,"reason":..} (attempt null when it was PENDING) */
fv_json fv_task_event_data_cancelled(fv_arena *a, int32_t attempt, const char *reason);

/* ---- Transitions: planned by the core, applied atomically by adapters ----
 *
 * The task repository applies these inside its atomic unit (one transaction,
 * one lock hold): it reads the current task, asks the core what the change
 * is, and writes it with its attempt row and its event. So the retry rule
 * lives here once, and no second process can slip between the read and the
 * write. */

/* How a RUNNING attempt ended, as reported or decided. */
typedef struct fv_attempt_outcome {
    fv_attempt_status status; /* COMPLETED, FAILED, TIMEOUT */
    int32_t attempt;          /* 0: the RUNNING attempt, whichever; else must be it */
    fv_json output;           /* COMPLETED */
    const char *error;        /* FAILED, TIMEOUT: why (NULL = none) */
    fv_time now;
} fv_attempt_outcome;

/* What a transition writes. */
typedef struct fv_task_transition {
    fv_task_status next;  /* PENDING (a retry), COMPLETED, FAILED, CANCELLED */
    fv_time scheduled_at; /* next == PENDING: when the next attempt may be claimed */
    bool has_attempt;     /* an attempt ended: attempt_row is to be stored */
    fv_task_attempt attempt_row;
    fv_task_event_type event; /* RETRY, TASK_COMPLETED, TASK_FAILED, TASK_CANCELLED */
    fv_json event_data;
} fv_task_transition;

/* The end of the RUNNING attempt of `cur`. FV_E_PRECONDITION (nothing
 * changes) when cur is not RUNNING, or not at attempt o->attempt: "task <id>
 * is COMPLETED, not RUNNING" (decision 15). COMPLETED -> COMPLETED;
 * FAILED/TIMEOUT -> PENDING at now + fv_task_retry_delay_ms when
 * fv_task_should_retry, else FAILED. FV_E_EXHAUSTED when a is full. */
fv_err fv_task_plan_attempt_end(fv_arena *a, const fv_task *cur, const fv_attempt_outcome *o,
                                fv_task_transition *out, fv_error *err);

/* Cancellation of `cur` when its status is in from_mask (FV_TASK_BIT):
 * PENDING -> CANCELLED (no attempt), RUNNING -> CANCELLED (its attempt ends
 * CANCELLED). FV_E_PRECONDITION otherwise ("task <id> is RUNNING; only a
 * PENDING task can be cancelled" and the like). `reason` may be NULL. */
fv_err fv_task_plan_cancel(fv_arena *a, const fv_task *cur, unsigned from_mask, const char *reason,
                           fv_time now, fv_task_transition *out, fv_error *err);

/* Apply a transition to the record (what an adapter stores): status,
 * scheduled_at, completed_at (terminal: now), output, error, worker fields
 * kept. The attempt row and the event are the adapter's to store. Borrows
 * from tr. */
void fv_task_apply_transition(fv_task *t, const fv_task_transition *tr, fv_time now);

/* Apply a claim to a PENDING record: RUNNING, execution_count + 1,
 * worker_id and worker_uuid, started_at = last_heartbeat_at = now. Borrows
 * worker_id. */
void fv_task_apply_claim(fv_task *t, const char *worker_id, const fv_opt_uuid *worker_uuid,
                         fv_time now);

#endif
