/* Task executions: names, validators, retry arithmetic, event data and the
 * transitions the repositories apply atomically (core/task.h). */
#include "core/task.h"

#include <math.h>
#include <string.h>

#include "core/util/jsonw.h"
#include "core/util/utf8.h"
#include "core/worker.h"

/* ---- Names ---------------------------------------------------------------- */

const char *fv_task_status_name(fv_task_status s)
{
    switch (s) {
    case FV_TASK_PENDING:
        return "PENDING";
    case FV_TASK_RUNNING:
        return "RUNNING";
    case FV_TASK_COMPLETED:
        return "COMPLETED";
    case FV_TASK_FAILED:
        return "FAILED";
    case FV_TASK_CANCELLED:
        return "CANCELLED";
    }
    return "UNKNOWN";
}

bool fv_task_status_parse(const char *s, fv_task_status *out)
{
    static const fv_task_status all[] = {FV_TASK_PENDING, FV_TASK_RUNNING, FV_TASK_COMPLETED,
                                         FV_TASK_FAILED, FV_TASK_CANCELLED};
    for (size_t i = 0; s != NULL && i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(s, fv_task_status_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

bool fv_task_status_terminal(fv_task_status s)
{
    switch (s) {
    case FV_TASK_PENDING:
    case FV_TASK_RUNNING:
        return false;
    case FV_TASK_COMPLETED:
    case FV_TASK_FAILED:
    case FV_TASK_CANCELLED:
        return true;
    }
    return false;
}

const char *fv_attempt_status_name(fv_attempt_status s)
{
    switch (s) {
    case FV_ATTEMPT_COMPLETED:
        return "COMPLETED";
    case FV_ATTEMPT_FAILED:
        return "FAILED";
    case FV_ATTEMPT_TIMEOUT:
        return "TIMEOUT";
    case FV_ATTEMPT_CANCELLED:
        return "CANCELLED";
    }
    return "UNKNOWN";
}

const char *fv_task_event_type_name(fv_task_event_type t)
{
    switch (t) {
    case FV_TEV_TASK_CREATED:
        return "TASK_CREATED";
    case FV_TEV_TASK_STARTED:
        return "TASK_STARTED";
    case FV_TEV_PROGRESS:
        return "PROGRESS";
    case FV_TEV_LOG:
        return "LOG";
    case FV_TEV_TOKEN:
        return "TOKEN";
    case FV_TEV_DATA:
        return "DATA";
    case FV_TEV_ERROR:
        return "ERROR";
    case FV_TEV_RETRY:
        return "RETRY";
    case FV_TEV_TASK_COMPLETED:
        return "TASK_COMPLETED";
    case FV_TEV_TASK_FAILED:
        return "TASK_FAILED";
    case FV_TEV_TASK_CANCELLED:
        return "TASK_CANCELLED";
    }
    return "UNKNOWN";
}

bool fv_task_event_is_final(fv_task_event_type t)
{
    switch (t) {
    case FV_TEV_TASK_COMPLETED:
    case FV_TEV_TASK_FAILED:
    case FV_TEV_TASK_CANCELLED:
        return true;
    case FV_TEV_TASK_CREATED:
    case FV_TEV_TASK_STARTED:
    case FV_TEV_PROGRESS:
    case FV_TEV_LOG:
    case FV_TEV_TOKEN:
    case FV_TEV_DATA:
    case FV_TEV_ERROR:
    case FV_TEV_RETRY:
        return false;
    }
    return false;
}

const char *fv_log_level_name(fv_log_level l)
{
    switch (l) {
    case FV_LOG_DEBUG:
        return "DEBUG";
    case FV_LOG_INFO:
        return "INFO";
    case FV_LOG_WARN:
        return "WARN";
    case FV_LOG_ERROR:
        return "ERROR";
    }
    return "UNKNOWN";
}

bool fv_log_level_parse(const char *s, fv_log_level *out)
{
    static const fv_log_level all[] = {FV_LOG_DEBUG, FV_LOG_INFO, FV_LOG_WARN, FV_LOG_ERROR};
    for (size_t i = 0; s != NULL && i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(s, fv_log_level_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

/* ---- Rules ---------------------------------------------------------------- */

fv_err fv_task_kind_validate(const char *kind, fv_error *err)
{
    return fv_text_validate("kind", kind, FV_TASK_KIND_MAX, true, err);
}

fv_err fv_task_queue_validate(const char *queue, fv_error *err)
{
    return fv_text_validate("queue", queue, FV_TASK_QUEUE_MAX, true, err);
}

fv_err fv_task_metadata_validate(const fv_kv *kv, size_t n, fv_error *err)
{
    if (n > FV_TASK_META_MAX_KEYS)
        return fv_error_set(err, FV_E_INVALID, "metadata has %zu keys, the limit is %d", n,
                            FV_TASK_META_MAX_KEYS);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const char *k = kv[i].key;
        const char *v = kv[i].value;
        size_t kn = k ? strlen(k) : 0;
        size_t vn = v ? strlen(v) : 0;
        if (kn == 0)
            return fv_error_set(err, FV_E_INVALID, "metadata key #%zu must not be empty", i + 1);
        if (!fv_utf8_valid(k, kn))
            return fv_error_set(err, FV_E_INVALID, "metadata key #%zu is not valid UTF-8", i + 1);
        if (strncmp(k, FV_TASK_META_RESERVED, strlen(FV_TASK_META_RESERVED)) == 0)
            return fv_error_set(err, FV_E_INVALID,
                                "metadata key \"%s\" must not start with \"" FV_TASK_META_RESERVED
                                "\" (reserved)",
                                k);
        if (v != NULL && !fv_utf8_valid(v, vn))
            return fv_error_set(err, FV_E_INVALID,
                                "metadata value of key \"%s\" is not valid UTF-8", k);
        for (size_t j = 0; j < i; j++) {
            if (kv[j].key != NULL && strcmp(kv[j].key, k) == 0)
                return fv_error_set(err, FV_E_INVALID, "metadata key \"%s\" appears twice", k);
        }
        total += kn + vn;
    }
    if (total > FV_TASK_META_MAX_BYTES)
        return fv_error_set(err, FV_E_INVALID,
                            "metadata holds %zu bytes of keys and values, the limit is %zu", total,
                            FV_TASK_META_MAX_BYTES);
    return FV_OK;
}

bool fv_task_should_retry(int32_t execution_count, int32_t max_retries)
{
    return execution_count <= max_retries;
}

int64_t fv_task_retry_delay_ms(const fv_retry_policy *p, int32_t execution_count)
{
    if (p == NULL || !(p->set & FV_RETRY_HAS_INITIAL_DELAY) || p->initial_delay_ms <= 0)
        return 0;
    double cap = (double)FV_RETRY_DELAY_MAX_MS;
    if ((p->set & FV_RETRY_HAS_MAX_DELAY) && p->max_delay_ms >= 0 && (double)p->max_delay_ms < cap)
        cap = (double)p->max_delay_ms;
    /* No coefficient: a constant delay. A value the validator would refuse
     * (NaN, below 1) is read as 1 rather than trusted. */
    double c = 1.0;
    if ((p->set & FV_RETRY_HAS_BACKOFF) && isfinite(p->backoff_coefficient) &&
        p->backoff_coefficient > 1.0)
        c = p->backoff_coefficient;
    double e = execution_count > 1 ? (double)execution_count - 1.0 : 0.0;
    /* pow gives +inf rather than wrapping; the comparison caps it. */
    double d = (double)p->initial_delay_ms * pow(c, e);
    if (!(d < cap))
        d = cap;
    return (int64_t)d;
}

/* ---- Event data ------------------------------------------------------------ */

fv_json fv_task_event_data_created(fv_arena *a, const fv_task *t)
{
    fv_jsonw w;
    fv_jsonw_init(&w, a);
    fv_jsonw_object_begin(&w);
    fv_jsonw_key(&w, "kind");
    fv_jsonw_str(&w, t->kind);
    fv_jsonw_key(&w, "queue");
    fv_jsonw_str(&w, t->queue);
    fv_jsonw_key(&w, "scheduledAt");
    fv_jsonw_time(&w, t->scheduled_at);
    fv_jsonw_object_end(&w);
    return fv_jsonw_finish(&w);
}

fv_json fv_task_event_data_started(fv_arena *a, int32_t attempt, const char *worker_id)
{
    fv_jsonw w;
    fv_jsonw_init(&w, a);
    fv_jsonw_object_begin(&w);
    fv_jsonw_key(&w, "attempt");
    fv_jsonw_int(&w, attempt);
    fv_jsonw_key(&w, "workerId");
    fv_jsonw_str(&w, worker_id);
    fv_jsonw_object_end(&w);
    return fv_jsonw_finish(&w);
}

fv_json fv_task_event_data_progress(fv_arena *a, double progress, const char *details)
{
    fv_jsonw w;
    fv_jsonw_init(&w, a);
    fv_jsonw_object_begin(&w);
    fv_jsonw_key(&w, "progress");
    fv_jsonw_double(&w, progress);
    if (details != NULL) {
        fv_jsonw_key(&w, "details");
        fv_jsonw_str(&w, details);
    }
    fv_jsonw_object_end(&w);
    return fv_jsonw_finish(&w);
}

fv_json fv_task_event_data_log(fv_arena *a, fv_log_level level, const char *message,
                               fv_json metadata)
{
    fv_jsonw w;
    fv_jsonw_init(&w, a);
    fv_jsonw_object_begin(&w);
    fv_jsonw_key(&w, "level");
    fv_jsonw_str(&w, fv_log_level_name(level));
    fv_jsonw_key(&w, "message");
    fv_jsonw_str(&w, message);
    if (fv_json_present(metadata)) {
        fv_jsonw_key(&w, "metadata");
        fv_jsonw_raw(&w, metadata);
    }
    fv_jsonw_object_end(&w);
    return fv_jsonw_finish(&w);
}

fv_json fv_task_event_data_completed(fv_arena *a, int32_t attempt, fv_json output)
{
    fv_jsonw w;
    fv_jsonw_init(&w, a);
    fv_jsonw_object_begin(&w);
    fv_jsonw_key(&w, "attempt");
    fv_jsonw_int(&w, attempt);
    fv_jsonw_key(&w, "output");
    fv_jsonw_raw(&w, output);
    fv_jsonw_object_end(&w);
    return fv_jsonw_finish(&w);
}

fv_json fv_task_event_data_failed(fv_arena *a, int32_t attempt, fv_attempt_status st,
                                  const char *error, fv_time next_at)
{
    fv_jsonw w;
    fv_jsonw_init(&w, a);
    fv_jsonw_object_begin(&w);
    fv_jsonw_key(&w, "attempt");
    fv_jsonw_int(&w, attempt);
    fv_jsonw_key(&w, "status");
    fv_jsonw_str(&w, fv_attempt_status_name(st));
    fv_jsonw_key(&w, "error");
    fv_jsonw_str(&w, error);
    if (next_at != FV_TIME_NONE) {
        fv_jsonw_key(&w, "nextAttemptAt");
        fv_jsonw_time(&w, next_at);
    }
    fv_jsonw_object_end(&w);
    return fv_jsonw_finish(&w);
}

fv_json fv_task_event_data_cancelled(fv_arena *a, int32_t attempt, const char *reason)
{
    fv_jsonw w;
    fv_jsonw_init(&w, a);
    fv_jsonw_object_begin(&w);
    fv_jsonw_key(&w, "attempt");
    if (attempt > 0)
        fv_jsonw_int(&w, attempt);
    else
        fv_jsonw_null(&w);
    fv_jsonw_key(&w, "reason");
    fv_jsonw_str(&w, reason);
    fv_jsonw_object_end(&w);
    return fv_jsonw_finish(&w);
}

/* ---- Transitions -------------------------------------------------------------- */

static int64_t sat_add(int64_t x, int64_t y)
{
    if (y > 0 && x > INT64_MAX - y)
        return INT64_MAX;
    if (y < 0 && x < INT64_MIN + 1 - y)
        return INT64_MIN + 1;
    return x + y;
}

/* The attempt row of cur's RUNNING attempt ending at now. */
static fv_task_attempt attempt_row(const fv_task *cur, fv_attempt_status st, fv_time now)
{
    fv_task_attempt r;
    memset(&r, 0, sizeof r);
    r.attempt = cur->execution_count;
    r.status = st;
    r.started_at = cur->started_at;
    r.finished_at = now;
    r.duration_ms = 0;
    if (cur->started_at != FV_TIME_NONE && now > cur->started_at)
        r.duration_ms = now - cur->started_at;
    r.output = FV_JSON_NONE;
    r.error = NULL;
    r.worker_id = cur->worker_id;
    return r;
}

static fv_err exhausted(fv_error *err)
{
    return fv_error_set(err, FV_E_EXHAUSTED, "out of memory building a task event");
}

fv_err fv_task_plan_attempt_end(fv_arena *a, const fv_task *cur, const fv_attempt_outcome *o,
                                fv_task_transition *out, fv_error *err)
{
    char id[FV_UUID_STR_LEN + 1];
    fv_uuid_format(&cur->id, id);
    if (cur->status != FV_TASK_RUNNING)
        return fv_error_set(err, FV_E_PRECONDITION, "task %s is %s, not RUNNING", id,
                            fv_task_status_name(cur->status));
    if (o->attempt != 0 && o->attempt != cur->execution_count)
        return fv_error_set(err, FV_E_PRECONDITION, "task %s is RUNNING attempt %d, not attempt %d",
                            id, (int)cur->execution_count, (int)o->attempt);
    memset(out, 0, sizeof *out);
    out->scheduled_at = cur->scheduled_at;
    out->has_attempt = true;
    switch (o->status) {
    case FV_ATTEMPT_COMPLETED:
        out->next = FV_TASK_COMPLETED;
        out->attempt_row = attempt_row(cur, FV_ATTEMPT_COMPLETED, o->now);
        out->attempt_row.output = o->output;
        out->event = FV_TEV_TASK_COMPLETED;
        out->event_data = fv_task_event_data_completed(a, cur->execution_count, o->output);
        break;
    case FV_ATTEMPT_FAILED:
    case FV_ATTEMPT_TIMEOUT:
        out->attempt_row = attempt_row(cur, o->status, o->now);
        out->attempt_row.error = o->error;
        if (fv_task_should_retry(cur->execution_count, cur->max_retries)) {
            int64_t delay = fv_task_retry_delay_ms(&cur->retry_policy, cur->execution_count);
            out->next = FV_TASK_PENDING;
            out->scheduled_at = sat_add(o->now, delay);
            out->event = FV_TEV_RETRY;
            out->event_data = fv_task_event_data_failed(a, cur->execution_count, o->status,
                                                        o->error, out->scheduled_at);
        } else {
            out->next = FV_TASK_FAILED;
            out->event = FV_TEV_TASK_FAILED;
            out->event_data = fv_task_event_data_failed(a, cur->execution_count, o->status,
                                                        o->error, FV_TIME_NONE);
        }
        break;
    case FV_ATTEMPT_CANCELLED:
        return fv_error_set(err, FV_E_INVALID,
                            "an attempt ends CANCELLED only through a cancellation");
    }
    if (!fv_json_present(out->event_data))
        return exhausted(err);
    return FV_OK;
}

/* "PENDING", "PENDING or RUNNING", "PENDING, RUNNING or ..." for a mask. */
static void mask_text(unsigned mask, char *buf, size_t cap)
{
    static const fv_task_status all[] = {FV_TASK_PENDING, FV_TASK_RUNNING, FV_TASK_COMPLETED,
                                         FV_TASK_FAILED, FV_TASK_CANCELLED};
    size_t count = 0, seen = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        count += (mask & FV_TASK_BIT(all[i])) ? 1 : 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (!(mask & FV_TASK_BIT(all[i])))
            continue;
        seen++;
        const char *sep = seen == 1 ? "" : (seen == count ? " or " : ", ");
        size_t len = strlen(buf);
        size_t add = strlen(sep) + strlen(fv_task_status_name(all[i]));
        if (len + add + 1 > cap)
            break;
        memcpy(buf + len, sep, strlen(sep));
        memcpy(buf + len + strlen(sep), fv_task_status_name(all[i]),
               strlen(fv_task_status_name(all[i])) + 1);
    }
}

fv_err fv_task_plan_cancel(fv_arena *a, const fv_task *cur, unsigned from_mask, const char *reason,
                           fv_time now, fv_task_transition *out, fv_error *err)
{
    char id[FV_UUID_STR_LEN + 1];
    fv_uuid_format(&cur->id, id);
    bool cancellable = cur->status == FV_TASK_PENDING || cur->status == FV_TASK_RUNNING;
    if (!cancellable || !(from_mask & FV_TASK_BIT(cur->status))) {
        char allowed[80];
        mask_text(from_mask & (FV_TASK_BIT(FV_TASK_PENDING) | FV_TASK_BIT(FV_TASK_RUNNING)),
                  allowed, sizeof allowed);
        if (allowed[0] == '\0')
            return fv_error_set(err, FV_E_PRECONDITION, "task %s is %s and cannot be cancelled", id,
                                fv_task_status_name(cur->status));
        return fv_error_set(err, FV_E_PRECONDITION,
                            "task %s is %s; only a %s task can be cancelled", id,
                            fv_task_status_name(cur->status), allowed);
    }
    memset(out, 0, sizeof *out);
    out->next = FV_TASK_CANCELLED;
    out->scheduled_at = cur->scheduled_at;
    out->event = FV_TEV_TASK_CANCELLED;
    if (cur->status == FV_TASK_RUNNING) {
        out->has_attempt = true;
        out->attempt_row = attempt_row(cur, FV_ATTEMPT_CANCELLED, now);
        out->attempt_row.error = reason;
        out->event_data = fv_task_event_data_cancelled(a, cur->execution_count, reason);
    } else {
        out->event_data = fv_task_event_data_cancelled(a, 0, reason);
    }
    if (!fv_json_present(out->event_data))
        return exhausted(err);
    return FV_OK;
}

void fv_task_apply_transition(fv_task *t, const fv_task_transition *tr, fv_time now)
{
    t->status = tr->next;
    t->scheduled_at = tr->scheduled_at;
    if (fv_task_status_terminal(tr->next))
        t->completed_at = now;
    if (tr->next == FV_TASK_COMPLETED && tr->has_attempt)
        t->output = tr->attempt_row.output;
    if (tr->has_attempt && (tr->attempt_row.status == FV_ATTEMPT_FAILED ||
                            tr->attempt_row.status == FV_ATTEMPT_TIMEOUT))
        t->error = tr->attempt_row.error;
}

void fv_task_apply_claim(fv_task *t, const char *worker_id, const fv_opt_uuid *worker_uuid,
                         fv_time now)
{
    t->status = FV_TASK_RUNNING;
    t->execution_count++;
    t->worker_id = worker_id;
    if (worker_uuid != NULL)
        t->worker_uuid = *worker_uuid;
    else
        t->worker_uuid = (fv_opt_uuid){false, {{0}}};
    t->started_at = now;
    t->last_heartbeat_at = now;
}
