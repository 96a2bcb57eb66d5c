/* Mapping between flovyn.v1 messages and the core's types (see pb_map.h). */
#include "adapters/grpc/pb_map.h"

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
