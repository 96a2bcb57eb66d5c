/* Mapping between flovyn.v1 messages and the core's types (see pb_map.h). */
#include "adapters/grpc/pb_map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/json/json_codec.h"
#include "core/worker.h"

/* Name of a field of the i-th element of a repeated field, in the arena. */
#define FIELD(a, list, i, field) fv_arena_printf((a), "%s[%zu].%s", (list), (i), (field))

static fv_err exhausted(fv_error *err)
{
    return fv_error_set(err, FV_E_EXHAUSTED, "out of memory decoding the request");
}

/* The fields both capability messages share. */
typedef struct cap_in {
    const char *kind, *name, *description;
    bool has_timeout;
    int32_t timeout_seconds;
    bool cancellable;
    size_t n_tags;
    char **tags;
    ProtobufCBinaryData retry_policy, metadata, input_schema, output_schema;
    const char *version, *content_hash;
} cap_in;

/* The cap_in members both capability messages fill alike (field names are
 * the same in both; only the oneof case constant differs). */
#define CAP_COMMON(c, timeout_case)                                                                \
    .kind = (c)->kind, .name = (c)->name, .description = (c)->description,                         \
    .has_timeout = (c)->opt_timeout_seconds_case == (timeout_case),                                \
    .timeout_seconds = (c)->timeout_seconds, .cancellable = (c)->cancellable,                      \
    .n_tags = (c)->n_tags, .tags = (c)->tags, .retry_policy = (c)->retry_policy,                   \
    .metadata = (c)->metadata, .input_schema = (c)->input_schema,                                  \
    .output_schema = (c)->output_schema

static fv_err map_capability(fv_arena *a, const char *list, size_t i, const cap_in *in,
                             fv_capability *out, fv_error *err)
{
    memset(out, 0, sizeof *out);
    out->kind = in->kind;
    out->name = in->name;
    out->description = in->description;
    out->has_timeout = in->has_timeout;
    out->timeout_seconds = in->timeout_seconds;
    out->cancellable = in->cancellable;
    out->tags = (fv_tags){(const char *const *)in->tags, in->n_tags};
    out->version = in->version != NULL ? in->version : "";
    out->content_hash = in->content_hash != NULL ? in->content_hash : "";

    const char *what = FIELD(a, list, i, "retry_policy");
    if (what == NULL)
        return exhausted(err);
    fv_err rc = fv_json_decode_retry_policy(what, in->retry_policy.data, in->retry_policy.len,
                                            &out->has_retry_policy, &out->retry_policy, err);
    if (rc != FV_OK)
        return rc;
    static const struct {
        const char *name;
        size_t max;
        fv_json_shape shape;
    } json_fields[] = {
        {"metadata", FV_METADATA_MAX, FV_JSON_ANY},
        {"input_schema", FV_SCHEMA_MAX, FV_JSON_SCHEMA},
        {"output_schema", FV_SCHEMA_MAX, FV_JSON_SCHEMA},
    };
    const ProtobufCBinaryData *bytes[] = {&in->metadata, &in->input_schema, &in->output_schema};
    fv_json *dst[] = {&out->metadata, &out->input_schema, &out->output_schema};
    for (size_t f = 0; f < sizeof json_fields / sizeof json_fields[0]; f++) {
        what = FIELD(a, list, i, json_fields[f].name);
        if (what == NULL)
            return exhausted(err);
        rc = fv_json_check(what, bytes[f]->data, bytes[f]->len, json_fields[f].max,
                           json_fields[f].shape, dst[f], err);
        if (rc != FV_OK)
            return rc;
    }
    return FV_OK;
}

fv_err fv_pb_to_register_request(fv_arena *a, const Flovyn__V1__WorkerRegistrationRequest *m,
                                 const fv_uuid *tenant, fv_register_request *out, fv_error *err)
{
    memset(out, 0, sizeof *out);
    out->tenant_id = *tenant;
    if (m->opt_team_id_case == FLOVYN__V1__WORKER_REGISTRATION_REQUEST__OPT_TEAM_ID_TEAM_ID &&
        m->team_id != NULL && m->team_id[0] != '\0') {
        if (!fv_uuid_parse(m->team_id, strlen(m->team_id), &out->space.id))
            return fv_error_set(err, FV_E_INVALID, "team_id is not a valid UUID");
        out->space.has = true;
    }
    out->worker_name = m->worker_name;
    out->worker_version = m->worker_version;
    out->worker_type = m->worker_type;
    out->host_name = m->host_name;
    out->process_id = m->process_id;
    fv_err rc = fv_json_check("metadata", m->metadata.data, m->metadata.len, FV_METADATA_MAX,
                              FV_JSON_ANY, &out->metadata, err);
    if (rc != FV_OK)
        return rc;
    if (m->n_workflows > FV_CAPABILITIES_MAX || m->n_tasks > FV_CAPABILITIES_MAX)
        return fv_error_set(err, FV_E_INVALID, "%s has more than %d capabilities",
                            m->n_workflows > FV_CAPABILITIES_MAX ? "workflows" : "tasks",
                            FV_CAPABILITIES_MAX);

    fv_capability *wf = fv_arena_calloc(a, m->n_workflows + 1, sizeof *wf);
    fv_capability *tk = fv_arena_calloc(a, m->n_tasks + 1, sizeof *tk);
    if (wf == NULL || tk == NULL)
        return exhausted(err);
    for (size_t i = 0; i < m->n_workflows; i++) {
        const Flovyn__V1__WorkflowCapability *c = m->workflows[i];
        cap_in in = {
            CAP_COMMON(c, FLOVYN__V1__WORKFLOW_CAPABILITY__OPT_TIMEOUT_SECONDS_TIMEOUT_SECONDS),
            .version = c->version, .content_hash = c->content_hash};
        rc = map_capability(a, "workflows", i, &in, &wf[i], err);
        if (rc != FV_OK)
            return rc;
    }
    for (size_t i = 0; i < m->n_tasks; i++) {
        const Flovyn__V1__TaskCapability *c = m->tasks[i];
        cap_in in = {
            CAP_COMMON(c, FLOVYN__V1__TASK_CAPABILITY__OPT_TIMEOUT_SECONDS_TIMEOUT_SECONDS)};
        rc = map_capability(a, "tasks", i, &in, &tk[i], err);
        if (rc != FV_OK)
            return rc;
    }
    out->workflows = wf;
    out->n_workflows = m->n_workflows;
    out->tasks = tk;
    out->n_tasks = m->n_tasks;
    return FV_OK;
}

fv_err fv_pb_from_register_result(fv_arena *a, const fv_register_result *r,
                                  Flovyn__V1__WorkerRegistrationResponse *out, fv_error *err)
{
    flovyn__v1__worker_registration_response__init(out);
    out->worker_id = fv_uuid_str(a, &r->worker_id);
    out->success = true;
    size_t n_wf = 0, n_tk = 0;
    for (size_t i = 0; i < r->n_conflicts; i++) {
        if (r->conflicts[i].cls == FV_DEF_WORKFLOW)
            n_wf++;
        else
            n_tk++;
    }
    Flovyn__V1__WorkflowConflict **wf = fv_arena_calloc(a, n_wf + 1, sizeof *wf);
    Flovyn__V1__TaskConflict **tk = fv_arena_calloc(a, n_tk + 1, sizeof *tk);
    if (out->worker_id == NULL || wf == NULL || tk == NULL)
        return fv_error_set(err, FV_E_EXHAUSTED, "out of memory encoding the answer");
    for (size_t i = 0; i < r->n_conflicts; i++) {
        const fv_conflict *c = &r->conflicts[i];
        char *existing = fv_uuid_str(a, &c->existing_worker_id);
        if (existing == NULL)
            return fv_error_set(err, FV_E_EXHAUSTED, "out of memory encoding the answer");
        if (c->cls == FV_DEF_WORKFLOW) {
            Flovyn__V1__WorkflowConflict *w = fv_arena_alloc(a, sizeof *w);
            if (w == NULL)
                return fv_error_set(err, FV_E_EXHAUSTED, "out of memory encoding the answer");
            flovyn__v1__workflow_conflict__init(w);
            w->kind = (char *)(uintptr_t)c->kind;
            w->reason = (char *)(uintptr_t)c->reason;
            w->existing_worker_id = existing;
            wf[out->n_workflow_conflicts++] = w;
        } else {
            Flovyn__V1__TaskConflict *t = fv_arena_alloc(a, sizeof *t);
            if (t == NULL)
                return fv_error_set(err, FV_E_EXHAUSTED, "out of memory encoding the answer");
            flovyn__v1__task_conflict__init(t);
            t->kind = (char *)(uintptr_t)c->kind;
            t->reason = (char *)(uintptr_t)c->reason;
            t->existing_worker_id = existing;
            tk[out->n_task_conflicts++] = t;
        }
    }
    out->workflow_conflicts = wf;
    out->task_conflicts = tk;
    return FV_OK;
}

fv_err fv_pb_to_heartbeat_request(const Flovyn__V1__WorkerHeartbeatRequest *m,
                                  const fv_uuid *tenant, fv_heartbeat_request *out, fv_error *err)
{
    memset(out, 0, sizeof *out);
    out->tenant_id = *tenant;
    if (m->worker_id == NULL || !fv_uuid_parse(m->worker_id, strlen(m->worker_id), &out->worker_id))
        return fv_error_set(err, FV_E_INVALID, "worker_id is not a valid UUID");
    fv_err rc = fv_json_check("health_info", m->health_info.data, m->health_info.len,
                              FV_HEALTH_INFO_MAX, FV_JSON_ANY, &out->health_info, err);
    if (rc != FV_OK)
        return rc;
    out->health_degraded = fv_json_health_degraded(out->health_info);
    return FV_OK;
}

/* ---- TaskExecution ----------------------------------------------------- */

fv_err fv_pb_task_id(const char *text, fv_uuid *out, fv_error *err)
{
    if (text == NULL || !fv_uuid_parse(text, strlen(text), out))
        return fv_error_set(err, FV_E_INVALID, "invalid task_execution_id: not a UUID");
    return FV_OK;
}

/* A metadata entry with its position on the wire, to sort by key and keep
 * the last of equal keys (protobuf map semantics). */
typedef struct meta_entry {
    const char *key;
    const char *value;
    size_t pos;
} meta_entry;

static int meta_cmp(const void *x, const void *y)
{
    const meta_entry *a = x, *b = y;
    int c = strcmp(a->key, b->key);
    if (c != 0)
        return c;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

fv_err fv_pb_to_submit_request(fv_arena *a, const Flovyn__V1__SubmitTaskRequest *m,
                               const fv_uuid *tenant, fv_task_submit_request *out, fv_error *err)
{
    memset(out, 0, sizeof *out);
    out->tenant_id = *tenant;
    out->workflow_execution_id = m->workflow_execution_id;
    out->kind = m->kind;
    out->queue = m->queue;
    fv_err rc = fv_json_check("input", m->input.data, m->input.len, FV_TASK_INPUT_MAX, FV_JSON_ANY,
                              &out->input, err);
    if (rc != FV_OK)
        return rc;

    if (m->n_metadata > 0) {
        meta_entry *e = fv_arena_calloc(a, m->n_metadata, sizeof *e);
        fv_kv *kv = fv_arena_calloc(a, m->n_metadata, sizeof *kv);
        if (e == NULL || kv == NULL)
            return exhausted(err);
        for (size_t i = 0; i < m->n_metadata; i++) {
            const Flovyn__V1__SubmitTaskRequest__MetadataEntry *me = m->metadata[i];
            e[i] =
                (meta_entry){me->key != NULL ? me->key : "", me->value != NULL ? me->value : "", i};
        }
        qsort(e, m->n_metadata, sizeof *e, meta_cmp);
        size_t n = 0;
        for (size_t i = 0; i < m->n_metadata; i++) {
            /* Of equal keys, only the last sent (sorted last) is kept. */
            if (i + 1 < m->n_metadata && strcmp(e[i].key, e[i + 1].key) == 0)
                continue;
            kv[n++] = (fv_kv){e[i].key, e[i].value};
        }
        out->metadata = kv;
        out->n_metadata = n;
    }

    /* Implicit presence: 0 is "not sent" (see pb_map.h). */
    out->has_max_retries = m->max_retries != 0;
    out->max_retries = m->max_retries;
    out->has_timeout_ms = m->timeout_ms != 0;
    out->timeout_ms = m->timeout_ms;
    if (m->opt_idempotency_key_case ==
        FLOVYN__V1__SUBMIT_TASK_REQUEST__OPT_IDEMPOTENCY_KEY_IDEMPOTENCY_KEY)
        out->idempotency_key = m->idempotency_key != NULL ? m->idempotency_key : "";
    if (m->opt_idempotency_key_ttl_seconds_case ==
        FLOVYN__V1__SUBMIT_TASK_REQUEST__OPT_IDEMPOTENCY_KEY_TTL_SECONDS_IDEMPOTENCY_KEY_TTL_SECONDS) {
        out->has_idempotency_ttl = true;
        out->idempotency_ttl_seconds = m->idempotency_key_ttl_seconds;
    }
    return FV_OK;
}

fv_err fv_pb_from_task_info(fv_arena *a, const fv_task *t, Flovyn__V1__TaskExecutionInfo *out,
                            fv_error *err)
{
    static const char json_null[] = "null";

    flovyn__v1__task_execution_info__init(out);
    out->task_execution_id = fv_uuid_str(a, &t->id);
    out->workflow_execution_id = t->workflow_execution_id.has
                                     ? fv_uuid_str(a, &t->workflow_execution_id.id)
                                     : (char *)(uintptr_t) "";
    if (out->task_execution_id == NULL || out->workflow_execution_id == NULL)
        return fv_error_set(err, FV_E_EXHAUSTED, "out of memory encoding the answer");
    out->kind = (char *)(uintptr_t)(t->kind != NULL ? t->kind : "");
    out->queue = (char *)(uintptr_t)(t->queue != NULL ? t->queue : "");
    if (fv_json_present(t->input))
        out->input = (ProtobufCBinaryData){t->input.n, (uint8_t *)(uintptr_t)t->input.p};
    else
        out->input = (ProtobufCBinaryData){sizeof json_null - 1, (uint8_t *)(uintptr_t)json_null};
    out->execution_count = t->execution_count;
    return FV_OK;
}

fv_err fv_pb_stream_event_type(int type, fv_task_event_type *out, fv_error *err)
{
    switch (type) {
    case FLOVYN__V1__STREAM_EVENT_TYPE__TOKEN:
        *out = FV_TEV_TOKEN;
        return FV_OK;
    case FLOVYN__V1__STREAM_EVENT_TYPE__PROGRESS:
        *out = FV_TEV_PROGRESS;
        return FV_OK;
    case FLOVYN__V1__STREAM_EVENT_TYPE__DATA:
        *out = FV_TEV_DATA;
        return FV_OK;
    case FLOVYN__V1__STREAM_EVENT_TYPE__ERROR:
        *out = FV_TEV_ERROR;
        return FV_OK;
    default:
        break;
    }
    if (type == FLOVYN__V1__STREAM_EVENT_TYPE__STREAM_EVENT_TYPE_UNSPECIFIED)
        return fv_error_set(err, FV_E_INVALID,
                            "type is STREAM_EVENT_TYPE_UNSPECIFIED: give TOKEN, PROGRESS, DATA "
                            "or ERROR");
    return fv_error_set(err, FV_E_INVALID,
                        "type %d is not a stream event type (TOKEN, PROGRESS, DATA or ERROR)",
                        type);
}

/* Whether s is short printable ASCII, safe to quote back in a message. */
static bool quotable(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        if (n >= 32 || s[n] < 0x20 || s[n] > 0x7e || s[n] == '"')
            return false;
    }
    return true;
}

fv_err fv_pb_log_level(const char *level, fv_log_level *out, fv_error *err)
{
    if (level != NULL && fv_log_level_parse(level, out))
        return FV_OK;
    if (level != NULL && quotable(level))
        return fv_error_set(err, FV_E_INVALID,
                            "level \"%s\" is not a log level (DEBUG, INFO, WARN or ERROR)", level);
    return fv_error_set(err, FV_E_INVALID, "level is not a log level (DEBUG, INFO, WARN or ERROR)");
}
