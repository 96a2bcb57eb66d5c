/* Commands on task executions: submit, claim, attempt ends, cancel, progress,
 * logs, stream data, task heartbeats and task state, with their bus notices
 * (core/usecases/task_usecases.h). */
#include "core/usecases/task_usecases.h"

#include "core/usecases/task_usecases_int.h"
#include "core/usecases/worker_usecases_int.h"
#include "core/worker.h"
#include "core/util/utf8.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const fv_json json_null = {"null", 4};

/* Absent or empty JSON text is JSON null (a bytes field left empty on the
 * wire is "no value", and empty text is not JSON). */
static fv_json or_null(fv_json j)
{
    return (j.p != NULL && j.n > 0) ? j : json_null;
}

fv_err fv__tasks_unavailable(const fv_deps *d, fv_error *err)
{
    if (d->tasks.ops != NULL && d->bus.ops != NULL)
        return FV_OK;
    return fv_error_set(err, FV_E_UNAVAILABLE, "task executions are not configured");
}

void fv__task_notify_queue(const fv_deps *d, const fv_uuid *tenant, const char *queue)
{
    fv_bus_msg m;
    memset(&m, 0, sizeof m);
    m.kind = FV_BUS_QUEUE;
    m.tenant_id = *tenant;
    m.queue = queue;
    /* A lost notice is not an error: waiters also look on their own. */
    (void)fv_event_bus_publish(d->bus, &m, NULL);
}

void fv__task_notify_events(const fv_deps *d, const fv_uuid *tenant, const fv_uuid *id,
                            int64_t event_id)
{
    if (event_id <= 0)
        return;
    fv_bus_msg m;
    memset(&m, 0, sizeof m);
    m.kind = FV_BUS_TASK;
    m.tenant_id = *tenant;
    m.task_id = *id;
    m.event_id = event_id;
    (void)fv_event_bus_publish(d->bus, &m, NULL);
}

void fv__task_notify_after(const fv_deps *d, const fv_task *t)
{
    fv__task_notify_events(d, &t->tenant_id, &t->id, t->last_event_id);
    if (t->status == FV_TASK_PENDING)
        fv__task_notify_queue(d, &t->tenant_id, t->queue);
}

static fv_err exhausted(fv_error *err)
{
    return fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
}

static bool empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

/* ---- Submit ----------------------------------------------------------------- */

static int kv_cmp(const void *x, const void *y)
{
    return strcmp(((const fv_kv *)x)->key, ((const fv_kv *)y)->key);
}

/* The metadata sorted by key (byte order), values NULL made "". */
static fv_kv *sorted_metadata(fv_arena *a, const fv_kv *kv, size_t n)
{
    fv_kv *out = fv_arena_calloc(a, n ? n : 1, sizeof *out);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        out[i].key = kv[i].key;
        out[i].value = kv[i].value ? kv[i].value : "";
    }
    if (n > 1)
        qsort(out, n, sizeof *out, kv_cmp);
    return out;
}

static fv_err validate_submit(const fv_task_submit_request *r, fv_time now, fv_error *err)
{
    fv_err rc;
    if (!empty(r->workflow_execution_id)) {
        fv_uuid wf;
        if (!fv_uuid_parse(r->workflow_execution_id, strlen(r->workflow_execution_id), &wf))
            return fv_error_set(err, FV_E_INVALID, "workflow_execution_id is not a valid UUID");
    }
    if ((rc = fv_task_kind_validate(r->kind, err)) != FV_OK)
        return rc;
    if (!empty(r->queue) && (rc = fv_task_queue_validate(r->queue, err)) != FV_OK)
        return rc;
    if ((rc = fv_json_validate_size("input", r->input, FV_TASK_INPUT_MAX, err)) != FV_OK)
        return rc;
    if (r->n_metadata > 0 && r->metadata == NULL)
        return fv_error_set(err, FV_E_INVALID, "metadata is missing its entries");
    if ((rc = fv_task_metadata_validate(r->metadata, r->n_metadata, err)) != FV_OK)
        return rc;
    if (r->has_max_retries && (r->max_retries < 0 || r->max_retries > FV_RETRY_MAX_RETRIES))
        return fv_error_set(err, FV_E_INVALID, "maxRetries must be between 0 and %d, not %lld",
                            FV_RETRY_MAX_RETRIES, (long long)r->max_retries);
    if (r->has_timeout_ms && (r->timeout_ms < 1 || r->timeout_ms > FV_TASK_TIMEOUT_MAX_MS))
        return fv_error_set(err, FV_E_INVALID,
                            "timeout must be between 1 and %lld ms (one year), not %lld ms",
                            (long long)FV_TASK_TIMEOUT_MAX_MS, (long long)r->timeout_ms);
    if (r->has_retry_policy &&
        (rc = fv_retry_policy_validate("retryPolicy", &r->retry_policy, err)) != FV_OK)
        return rc;
    if (r->has_scheduled_at) {
        if (r->scheduled_at == FV_TIME_NONE)
            return fv_error_set(err, FV_E_INVALID, "scheduledAt is not a time");
        if (r->scheduled_at > now && r->scheduled_at - now > FV_TASK_SCHEDULE_MAX_AHEAD_MS)
            return fv_error_set(err, FV_E_INVALID,
                                "scheduledAt is more than %lld days ahead, the limit",
                                (long long)(FV_TASK_SCHEDULE_MAX_AHEAD_MS / 86400000));
    }
    if (r->idempotency_key != NULL &&
        (rc = fv_free_text_validate("idempotencyKey", r->idempotency_key, FV_TASK_IDEM_KEY_MAX,
                                    true, err)) != FV_OK)
        return rc;
    if (r->has_idempotency_ttl &&
        (r->idempotency_ttl_seconds < 1 || r->idempotency_ttl_seconds > FV_TASK_IDEM_TTL_MAX_S))
        return fv_error_set(err, FV_E_INVALID,
                            "idempotencyKeyTtlSeconds must be between 1 and %lld (30 days), not "
                            "%lld",
                            (long long)FV_TASK_IDEM_TTL_MAX_S,
                            (long long)r->idempotency_ttl_seconds);
    return FV_OK;
}

/* The tenant-level task definition of `kind`, *found false when there is
 * none. Its availability is derived at `now` from the live statuses of its
 * workers (the repository's get), so it is never stale. */
static fv_err task_definition(const fv_deps *d, fv_arena *a, const fv_uuid *tenant,
                              const char *kind, fv_time now, fv_definition *out, bool *found,
                              fv_error *err)
{
    fv_space_sel tenant_level = {FV_SPACE_NONE, {{0}}};
    *found = false;
    fv_err rc = fv_definition_repo_get(d->task_defs, a, tenant, &tenant_level, kind, now,
                                       &d->liveness, out, err);
    if (rc == FV_E_NOT_FOUND) {
        fv_error_clear(err);
        return FV_OK;
    }
    if (rc == FV_OK)
        *found = true;
    return rc;
}

/* Effective max_retries, timeout and backoff: the request's, else the
 * definition's (configuration over declaration), else the defaults. */
static void effective_settings(const fv_task_submit_request *r, const fv_definition *def,
                               fv_task *t)
{
    fv_def_settings eff;
    memset(&eff, 0, sizeof eff);
    if (def != NULL)
        eff = fv_definition_effective(def);

    if (r->has_retry_policy)
        t->retry_policy = r->retry_policy;
    else if (eff.has_retry_policy)
        t->retry_policy = eff.retry_policy;
    else
        memset(&t->retry_policy, 0, sizeof t->retry_policy);

    if (r->has_max_retries)
        t->max_retries = (int32_t)r->max_retries;
    else if (r->has_retry_policy && (r->retry_policy.set & FV_RETRY_HAS_MAX_RETRIES))
        t->max_retries = (int32_t)r->retry_policy.max_retries;
    else if (eff.has_retry_policy && (eff.retry_policy.set & FV_RETRY_HAS_MAX_RETRIES))
        t->max_retries = (int32_t)eff.retry_policy.max_retries;
    else
        t->max_retries = FV_TASK_DEFAULT_MAX_RETRIES;

    if (r->has_timeout_ms)
        t->timeout_ms = r->timeout_ms;
    else if (eff.has_timeout && eff.timeout_seconds > 0)
        t->timeout_ms = eff.timeout_seconds * FV_MS_PER_SEC;
    else
        t->timeout_ms = FV_TASK_DEFAULT_TIMEOUT_MS;
}

fv_err fv_task_submit(const fv_deps *d, fv_arena *a, const fv_task_submit_request *req,
                      fv_task_submit_result *out, fv_error *err)
{
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    fv_time now = fv_clock_now(d->clock);
    if ((rc = validate_submit(req, now, err)) != FV_OK)
        return rc;
    if (!empty(req->workflow_execution_id))
        return fv_error_set(err, FV_E_NOT_FOUND, "workflow execution %s not found",
                            req->workflow_execution_id);

    fv_definition def;
    bool has_def = false;
    if ((rc = task_definition(d, a, &req->tenant_id, req->kind, now, &def, &has_def, err)) != FV_OK)
        return rc;

    fv_task_new in;
    memset(&in, 0, sizeof in);
    fv_task *t = &in.task;
    if ((rc = fv_ids_new_uuid(d->ids, &t->id, err)) != FV_OK)
        return rc;
    t->tenant_id = req->tenant_id;
    t->kind = req->kind;
    t->queue = empty(req->queue) ? FV_TASK_DEFAULT_QUEUE : req->queue;
    t->status = FV_TASK_PENDING;
    t->input = or_null(req->input);
    t->output = FV_JSON_NONE;
    t->metadata = sorted_metadata(a, req->metadata, req->n_metadata);
    if (t->metadata == NULL)
        return exhausted(err);
    t->n_metadata = req->n_metadata;
    effective_settings(req, has_def ? &def : NULL, t);
    t->scheduled_at = now;
    if (req->has_scheduled_at && req->scheduled_at > now)
        t->scheduled_at = req->scheduled_at; /* a time in the past means now */
    t->created_at = now;
    t->started_at = t->completed_at = t->last_heartbeat_at = FV_TIME_NONE;
    t->idempotency_key = req->idempotency_key;
    int64_t ttl =
        req->has_idempotency_ttl ? req->idempotency_ttl_seconds : FV_TASK_IDEM_TTL_DEFAULT_S;
    in.idempotency_expires_at = now + ttl * FV_MS_PER_SEC;
    in.created_event_data = fv_task_event_data_created(a, t);
    if (!fv_json_present(in.created_event_data))
        return exhausted(err);

    bool created = false;
    fv_task got;
    if ((rc = fv_task_repo_submit(d->tasks, a, &in, &got, &created, err)) != FV_OK)
        return rc;
    if (!created && strcmp(got.kind, req->kind) != 0) {
        char id[FV_UUID_STR_LEN + 1];
        fv_uuid_format(&got.id, id);
        return fv_error_set(err, FV_E_CONFLICT,
                            "idempotency key \"%s\" is already used by task %s of kind \"%s\", "
                            "not \"%s\"",
                            req->idempotency_key, id, got.kind, req->kind);
    }
    memset(out, 0, sizeof *out);
    out->task = got;
    out->idempotency_key_used = req->idempotency_key != NULL;
    out->created = created;
    out->no_online_worker = !(has_def && def.availability == FV_AVAIL_AVAILABLE);
    if (created) {
        fv__task_notify_queue(d, &got.tenant_id, got.queue);
        fv__task_notify_events(d, &got.tenant_id, &got.id, got.last_event_id);
    }
    return FV_OK;
}

/* ---- Claim and attempt ends ---------------------------------------------------- */

fv_err fv_task_claim(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const char *queue,
                     const char *worker_id, fv_task *out, bool *found, fv_time *next_at,
                     fv_error *err)
{
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    *found = false;
    *next_at = FV_TIME_NONE;
    if (empty(queue))
        queue = FV_TASK_DEFAULT_QUEUE;
    else if ((rc = fv_task_queue_validate(queue, err)) != FV_OK)
        return rc;
    if ((rc = fv_text_validate("worker_id", worker_id, FV_TASK_WORKER_ID_MAX, true, err)) != FV_OK)
        return rc;
    fv_time now = fv_clock_now(d->clock);

    /* The poll is a sign of life of the registered worker it names, if any. */
    fv_claim_request c;
    memset(&c, 0, sizeof c);
    rc = fv__worker_record_poll(d, tenant, worker_id, now, &c.worker_uuid.id, err);
    if (rc == FV_OK)
        c.worker_uuid.has = true;
    else if (rc == FV_E_NOT_FOUND)
        fv_error_clear(err);
    else
        return rc;

    c.tenant_id = *tenant;
    c.queue = queue;
    c.worker_id = worker_id;
    c.now = now;
    if ((rc = fv_task_repo_claim(d->tasks, a, &c, out, found, next_at, err)) != FV_OK)
        return rc;
    if (*found)
        fv__task_notify_events(d, &out->tenant_id, &out->id, out->last_event_id);
    return FV_OK;
}

fv_err fv__task_end_attempt(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                            const fv_attempt_outcome *o, fv_task *out, fv_task_transition *tr,
                            fv_error *err)
{
    fv_task t;
    fv_err rc = fv_task_repo_end_attempt(d->tasks, a, tenant, id, o, &t, tr, err);
    if (rc != FV_OK)
        return rc;
    fv__task_notify_after(d, &t);
    if (out != NULL)
        *out = t;
    return FV_OK;
}

fv_err fv_task_complete(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                        fv_json output, fv_error *err)
{
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    if ((rc = fv_json_validate_size("output", output, FV_TASK_INPUT_MAX, err)) != FV_OK)
        return rc;
    fv_attempt_outcome o = {FV_ATTEMPT_COMPLETED, 0, or_null(output), NULL, fv_clock_now(d->clock)};
    return fv__task_end_attempt(d, a, tenant, id, &o, NULL, NULL, err);
}

/* Length of the valid UTF-8 sequence at s[0..n), 0 when it is not one. */
static size_t utf8_seq(const char *s, size_t n)
{
    for (size_t len = 1; len <= 4 && len <= n; len++)
        if (fv_utf8_valid(s, len))
            return len;
    return 0;
}

char *fv__task_error_text(fv_arena *a, const char *error)
{
    size_t n = strlen(error);
    if (n > FV_TASK_ERROR_MAX) {
        n = FV_TASK_ERROR_MAX;
        /* Cut before a continuation byte, so no character is split. */
        while (n > 0 && ((unsigned char)error[n] & 0xC0) == 0x80)
            n--;
    }
    if (fv_utf8_valid(error, n))
        return fv_arena_strndup(a, error, n);
    /* Bytes that are not UTF-8 (the text is stored and shown as text)
     * become U+FFFD, 3 bytes each at most. */
    char *out = fv_arena_alloc(a, n * 3 + 1);
    if (out == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq(error + i, n - i);
        if (len == 0) {
            memcpy(out + k, "\xEF\xBF\xBD", 3);
            k += 3;
            i++;
            continue;
        }
        memcpy(out + k, error + i, len);
        k += len;
        i += len;
    }
    out[k] = '\0';
    return out;
}

fv_err fv_task_fail(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                    const char *error, fv_error *err)
{
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    const char *text = NULL;
    if (error != NULL) {
        text = fv__task_error_text(a, error);
        if (text == NULL)
            return exhausted(err);
    }
    fv_attempt_outcome o = {FV_ATTEMPT_FAILED, 0, FV_JSON_NONE, text, fv_clock_now(d->clock)};
    return fv__task_end_attempt(d, a, tenant, id, &o, NULL, NULL, err);
}

fv_err fv_task_cancel(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                      unsigned from_mask, fv_task *out, fv_error *err)
{
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    fv_task t;
    rc = fv_task_repo_cancel(d->tasks, a, tenant, id, from_mask, NULL, fv_clock_now(d->clock), &t,
                             err);
    if (rc != FV_OK)
        return rc;
    fv__task_notify_events(d, &t.tenant_id, &t.id, t.last_event_id);
    if (out != NULL)
        *out = t;
    return FV_OK;
}

/* ---- Progress, logs, stream data, heartbeats ------------------------------------- */

fv_err fv_task_report_progress(const fv_deps *d, const fv_uuid *tenant, const fv_uuid *id,
                               double progress, const char *details, fv_error *err)
{
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    if (!isfinite(progress) || progress < 0.0 || progress > 1.0)
        return fv_error_set(err, FV_E_INVALID, "progress must be between 0 and 1, not %g",
                            progress);
    if (empty(details))
        details = NULL;
    if ((rc = fv_free_text_validate("details", details, FV_TASK_PROGRESS_DETAILS_MAX, false,
                                    err)) != FV_OK)
        return rc;
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_json data = fv_task_event_data_progress(&a, progress, details);
    int64_t event_id = 0;
    if (!fv_json_present(data))
        rc = exhausted(err);
    else
        rc = fv_task_repo_report_progress(d->tasks, tenant, id, progress, details, data,
                                          fv_clock_now(d->clock), &event_id, err);
    fv_arena_release(&a);
    if (rc == FV_OK)
        fv__task_notify_events(d, tenant, id, event_id);
    return rc;
}

static bool level_known(fv_log_level l)
{
    switch (l) {
    case FV_LOG_DEBUG:
    case FV_LOG_INFO:
    case FV_LOG_WARN:
    case FV_LOG_ERROR:
        return true;
    }
    return false;
}

fv_err fv_task_log(const fv_deps *d, const fv_uuid *tenant, const fv_uuid *id, fv_log_level level,
                   const char *message, fv_error *err)
{
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    if (!level_known(level))
        return fv_error_set(err, FV_E_INVALID, "level must be DEBUG, INFO, WARN or ERROR, not %d",
                            (int)level);
    if (message == NULL)
        message = "";
    if ((rc = fv_free_text_validate("message", message, FV_TASK_LOG_MESSAGE_MAX, false, err)) !=
        FV_OK)
        return rc;
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_task_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = FV_TEV_LOG;
    ev.at = fv_clock_now(d->clock);
    ev.level = level;
    ev.message = message;
    ev.data = fv_task_event_data_log(&a, level, message, FV_JSON_NONE);
    int64_t event_id = 0;
    if (!fv_json_present(ev.data))
        rc = exhausted(err);
    else
        rc = fv_task_repo_append_event(d->tasks, tenant, id, &ev, &event_id, err);
    fv_arena_release(&a);
    if (rc == FV_OK)
        fv__task_notify_events(d, tenant, id, event_id);
    return rc;
}

fv_err fv_task_stream(const fv_deps *d, const fv_uuid *tenant, const fv_uuid *id,
                      fv_task_event_type type, fv_json payload, fv_error *err)
{
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    switch (type) {
    case FV_TEV_TOKEN:
    case FV_TEV_PROGRESS:
    case FV_TEV_DATA:
    case FV_TEV_ERROR:
        break;
    case FV_TEV_TASK_CREATED:
    case FV_TEV_TASK_STARTED:
    case FV_TEV_LOG:
    case FV_TEV_RETRY:
    case FV_TEV_TASK_COMPLETED:
    case FV_TEV_TASK_FAILED:
    case FV_TEV_TASK_CANCELLED:
    default:
        return fv_error_set(err, FV_E_INVALID,
                            "type must be TOKEN, PROGRESS, DATA or ERROR, not %d", (int)type);
    }
    if ((rc = fv_json_validate_size("payload", payload, FV_TASK_STREAM_PAYLOAD_MAX, err)) != FV_OK)
        return rc;
    fv_task_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.at = fv_clock_now(d->clock);
    ev.data = or_null(payload);
    int64_t event_id = 0;
    rc = fv_task_repo_append_event(d->tasks, tenant, id, &ev, &event_id, err);
    if (rc == FV_OK)
        fv__task_notify_events(d, tenant, id, event_id);
    return rc;
}

fv_err fv_task_heartbeat(const fv_deps *d, const fv_uuid *tenant, const fv_uuid *id, fv_error *err)
{
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    return fv_task_repo_heartbeat(d->tasks, tenant, id, fv_clock_now(d->clock), err);
}

/* ---- Task state ---------------------------------------------------------------- */

static fv_err state_key(const char *key, fv_error *err)
{
    return fv_free_text_validate("key", key, FV_TASK_STATE_KEY_MAX, true, err);
}

fv_err fv_task_state_get(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                         const char *key, fv_json *value, bool *found, fv_error *err)
{
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    if ((rc = state_key(key, err)) != FV_OK)
        return rc;
    return fv_task_repo_state_get(d->tasks, a, tenant, id, key, value, found, err);
}

fv_err fv_task_state_set(const fv_deps *d, const fv_uuid *tenant, const fv_uuid *id,
                         const char *key, fv_json value, fv_error *err)
{
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    if ((rc = state_key(key, err)) != FV_OK)
        return rc;
    if ((rc = fv_json_validate_size("value", value, FV_TASK_STATE_VALUE_MAX, err)) != FV_OK)
        return rc;
    return fv_task_repo_state_set(d->tasks, tenant, id, key, or_null(value), err);
}

fv_err fv_task_state_clear(const fv_deps *d, const fv_uuid *tenant, const fv_uuid *id,
                           const char *key, fv_error *err)
{
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    if ((rc = state_key(key, err)) != FV_OK)
        return rc;
    return fv_task_repo_state_clear(d->tasks, tenant, id, key, err);
}

fv_err fv_task_state_clear_all(const fv_deps *d, const fv_uuid *tenant, const fv_uuid *id,
                               fv_error *err)
{
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    return fv_task_repo_state_clear_all(d->tasks, tenant, id, err);
}

fv_err fv_task_state_keys(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                          fv_state_key_list *out, fv_error *err)
{
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    return fv_task_repo_state_keys(d->tasks, a, tenant, id, out, err);
}

/* ---- Watching ------------------------------------------------------------------------ */

fv_err fv_task_watch(const fv_deps *d, fv_bus_fn fn, void *user, fv_bus_sub **out, fv_error *err)
{
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    return fv_event_bus_subscribe(d->bus, fn, user, out, err);
}

void fv_task_unwatch(const fv_deps *d, fv_bus_sub *sub)
{
    if (sub == NULL || d->bus.ops == NULL)
        return;
    fv_event_bus_unsubscribe(d->bus, sub);
}
