/*
 * flovyn.v1.TaskExecution on the core's task use cases (grpc-contract.md
 * 2.5-2.8, spec decisions 12-16 and 21).
 *
 * Every method needs the worker or admin role (the SDKs use the worker key
 * for client calls too, 2.1). SubmitTask and PollTask name their tenant
 * (org_id, checked against the key's); the other twelve name a task, which
 * must be one of the key's tenant: a task_execution_id that is not a UUID is
 * INVALID_ARGUMENT, another tenant's task or an unknown one NOT_FOUND.
 * PollTask is a long poll: a call that finds no task is parked in the hub of
 * task_poll.h, which answers it when a task of its queue can be claimed or
 * its wait ends (OK without a task: an empty queue is never an error).
 */
#include "adapters/grpc/task_execution.h"

#include <string.h>

#include "adapters/grpc/pb_map.h"
#include "adapters/grpc/svc_call.h"
#include "adapters/grpc/task_poll.h"
#include "adapters/json/json_codec.h"
#include "core/usecases/task_usecases.h"
#include "google/protobuf/empty.pb-c.h"

static void reply_empty_message(fv_svc_call *c)
{
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    fv_svc_reply(c, &empty.base);
}

/* Answer a method whose reply is google.protobuf.Empty. */
static void finish_empty(fv_svc_call *c, fv_err rc, const fv_error *err)
{
    if (rc != FV_OK) {
        fv_svc_fail(c, rc, err);
        return;
    }
    reply_empty_message(c);
}

/*
 * Begin a method on one task: authenticate, decode the request, parse its
 * task_execution_id (every such message has that string field) into *id.
 * Returns the decoded request, or NULL when the call was answered.
 */
static void *begin_task(fv_svc_call *c, fv_grpc_call *call, void *user,
                        const ProtobufCMessageDescriptor *desc, fv_uuid *id)
{
    if (!fv_svc_begin(c, call, user, FV_SVC_WORKER_ROLES))
        return NULL;
    void *req = fv_svc_decode(c, desc);
    if (req == NULL)
        return NULL;
    fv_error err = {0};
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(desc, "task_execution_id");
    if (f == NULL || f->type != PROTOBUF_C_TYPE_STRING) {
        fv_error_set(&err, FV_E_INTERNAL, "%s has no task_execution_id", desc->name);
        fv_svc_fail(c, FV_E_INTERNAL, &err);
        return NULL;
    }
    const char *text = *(char *const *)(void *)((char *)req + f->offset);
    fv_err rc = fv_pb_task_id(text, id, &err);
    if (rc != FV_OK) {
        fv_svc_fail(c, rc, &err);
        return NULL;
    }
    return req;
}

/* ---- SubmitTask, PollTask ---------------------------------------------- */

static void submit_task(fv_grpc_call *call, void *user)
{
    fv_svc_call c;
    if (!fv_svc_begin(&c, call, user, FV_SVC_WORKER_ROLES))
        return;
    const Flovyn__V1__SubmitTaskRequest *req =
        fv_svc_decode(&c, &flovyn__v1__submit_task_request__descriptor);
    fv_uuid tenant;
    if (req == NULL || !fv_svc_check_org(&c, req->org_id, &tenant))
        return;

    fv_error err = {0};
    fv_task_submit_request in;
    fv_task_submit_result out;
    fv_err rc = fv_pb_to_submit_request(c.arena, req, &tenant, &in, &err);
    if (rc == FV_OK)
        rc = fv_task_submit(c.svc->deps, c.arena, &in, &out, &err);
    if (rc != FV_OK) {
        /* An idempotency key bound to another kind: FV_E_CONFLICT,
         * ALREADY_EXISTS. */
        fv_svc_fail(&c, rc, &err);
        return;
    }
    Flovyn__V1__SubmitTaskResponse resp = FLOVYN__V1__SUBMIT_TASK_RESPONSE__INIT;
    resp.task_execution_id = fv_uuid_str(c.arena, &out.task.id);
    if (resp.task_execution_id == NULL) {
        fv_error_set(&err, FV_E_EXHAUSTED, "out of memory encoding the answer");
        fv_svc_fail(&c, FV_E_EXHAUSTED, &err);
        return;
    }
    resp.idempotency_key_used = out.idempotency_key_used;
    resp.idempotency_key_new = out.created;
    /* A warning, not a refusal ("beyond the peers"): SubmitTaskResponse has
     * no field for it, so it travels as trailing metadata. */
    if (out.no_online_worker)
        (void)fv_grpc_call_add_trailer(call, FV_GRPC_WARNING_KEY,
                                       "no ONLINE worker declares this task's kind; the task "
                                       "waits in its queue");
    fv_svc_reply(&c, &resp.base);
}

/*
 * PollTask: claim at once; when nothing is claimable and the poll may wait,
 * park the call in the hub. The path of a poll that does not wait
 * (timeout_seconds <= 0) is authentication, one claim and the answer:
 * nothing else, since idle workers poll that way up to 100 times a second.
 */
static void poll_task(fv_grpc_call *call, void *user)
{
    fv_svc_call c;
    if (!fv_svc_begin(&c, call, user, FV_SVC_WORKER_ROLES))
        return;
    const Flovyn__V1__PollTaskRequest *req =
        fv_svc_decode(&c, &flovyn__v1__poll_task_request__descriptor);
    fv_uuid tenant;
    if (req == NULL || !fv_svc_check_org(&c, req->org_id, &tenant))
        return;
    /* worker_labels and worker_pool_id are accepted and ignored (the SDKs
     * send them empty; there are no pools). */
    const char *queue = req->queue[0] != '\0' ? req->queue : FV_TASK_DEFAULT_QUEUE;
    fv_task_poll_hub *hub = c.svc->poll_hub;
    bool may_wait = hub != NULL && req->timeout_seconds > 0;
    /* Read before the claim: see task_poll.h, "No lost wake-up". */
    uint64_t ticket = may_wait ? fv_task_poll_ticket(hub) : 0;

    fv_error err = {0};
    fv_task task;
    bool found = false;
    fv_time next_at = FV_TIME_NONE;
    fv_err rc = fv_task_claim(c.svc->deps, c.arena, &tenant, queue, req->worker_id, &task, &found,
                              &next_at, &err);
    if (rc != FV_OK) {
        fv_svc_fail(&c, rc, &err);
        return;
    }
    Flovyn__V1__PollTaskResponse resp = FLOVYN__V1__POLL_TASK_RESPONSE__INIT;
    if (found) {
        Flovyn__V1__TaskExecutionInfo info;
        rc = fv_pb_from_task_info(c.arena, &task, &info, &err);
        if (rc != FV_OK) {
            fv_svc_fail(&c, rc, &err);
            return;
        }
        resp.task = &info;
        fv_svc_reply(&c, &resp.base);
        return;
    }
    int64_t end = may_wait ? fv_task_poll_wait_end(hub, call, req->timeout_seconds) : 0;
    if (!may_wait || end <= fv_grpc_monotonic_ms()) {
        fv_svc_reply(&c, &resp.base); /* OK, no task */
        return;
    }
    fv_task_poll_wait w = {.tenant = tenant,
                           .queue = queue,
                           .worker_id = req->worker_id,
                           .end_ms = end,
                           .ticket = ticket,
                           .next_at = next_at};
    fv_task_poll_park(hub, call, &w);
}

/* ---- Outcomes, progress, heartbeat, cancel, logs --------------------------- */

static void complete_task(fv_grpc_call *call, void *user)
{
    fv_svc_call c;
    fv_uuid id;
    const Flovyn__V1__CompleteTaskRequest *req =
        begin_task(&c, call, user, &flovyn__v1__complete_task_request__descriptor, &id);
    if (req == NULL)
        return;
    fv_error err = {0};
    fv_json output;
    fv_err rc = fv_json_check("output", req->output.data, req->output.len, FV_TASK_INPUT_MAX,
                              FV_JSON_ANY, &output, &err);
    if (rc == FV_OK)
        rc = fv_task_complete(c.svc->deps, c.arena, &c.who.tenant_id, &id, output, &err);
    finish_empty(&c, rc, &err);
}

static void fail_task(fv_grpc_call *call, void *user)
{
    fv_svc_call c;
    fv_uuid id;
    const Flovyn__V1__FailTaskRequest *req =
        begin_task(&c, call, user, &flovyn__v1__fail_task_request__descriptor, &id);
    if (req == NULL)
        return;
    fv_error err = {0};
    const char *error = req->error[0] != '\0' ? req->error : NULL;
    fv_err rc = fv_task_fail(c.svc->deps, c.arena, &c.who.tenant_id, &id, error, &err);
    finish_empty(&c, rc, &err);
}

static void report_progress(fv_grpc_call *call, void *user)
{
    fv_svc_call c;
    fv_uuid id;
    const Flovyn__V1__ReportProgressRequest *req =
        begin_task(&c, call, user, &flovyn__v1__report_progress_request__descriptor, &id);
    if (req == NULL)
        return;
    fv_error err = {0};
    fv_err rc = fv_task_report_progress(c.svc->deps, &c.who.tenant_id, &id, req->progress,
                                        req->details, &err);
    finish_empty(&c, rc, &err);
}

static void heartbeat(fv_grpc_call *call, void *user)
{
    fv_svc_call c;
    fv_uuid id;
    if (begin_task(&c, call, user, &flovyn__v1__heartbeat_request__descriptor, &id) == NULL)
        return;
    fv_error err = {0};
    /* FAILED_PRECONDITION once the task is no longer RUNNING: how a worker
     * learns of a cancellation (decision 21). */
    fv_err rc = fv_task_heartbeat(c.svc->deps, &c.who.tenant_id, &id, &err);
    finish_empty(&c, rc, &err);
}

static void cancel_task(fv_grpc_call *call, void *user)
{
    fv_svc_call c;
    fv_uuid id;
    if (begin_task(&c, call, user, &flovyn__v1__cancel_task_request__descriptor, &id) == NULL)
        return;
    fv_error err = {0};
    fv_err rc =
        fv_task_cancel(c.svc->deps, c.arena, &c.who.tenant_id, &id,
                       FV_TASK_BIT(FV_TASK_PENDING) | FV_TASK_BIT(FV_TASK_RUNNING), NULL, &err);
    finish_empty(&c, rc, &err);
}

static void log_message(fv_grpc_call *call, void *user)
{
    fv_svc_call c;
    fv_uuid id;
    const Flovyn__V1__LogMessageRequest *req =
        begin_task(&c, call, user, &flovyn__v1__log_message_request__descriptor, &id);
    if (req == NULL)
        return;
    fv_error err = {0};
    fv_log_level level;
    fv_err rc = fv_pb_log_level(req->level, &level, &err);
    if (rc == FV_OK)
        rc = fv_task_log(c.svc->deps, &c.who.tenant_id, &id, level, req->message, &err);
    finish_empty(&c, rc, &err);
}

/* ---- Task state ------------------------------------------------------------- */

static void get_state(fv_grpc_call *call, void *user)
{
    fv_svc_call c;
    fv_uuid id;
    const Flovyn__V1__GetStateRequest *req =
        begin_task(&c, call, user, &flovyn__v1__get_state_request__descriptor, &id);
    if (req == NULL)
        return;
    fv_error err = {0};
    fv_json value = FV_JSON_NONE;
    bool found = false;
    fv_err rc = fv_task_state_get(c.svc->deps, c.arena, &c.who.tenant_id, &id, req->key, &value,
                                  &found, &err);
    if (rc != FV_OK) {
        fv_svc_fail(&c, rc, &err);
        return;
    }
    Flovyn__V1__GetStateResponse resp = FLOVYN__V1__GET_STATE_RESPONSE__INIT;
    resp.found = found;
    if (found && fv_json_present(value))
        resp.value = (ProtobufCBinaryData){value.n, (uint8_t *)(uintptr_t)value.p};
    fv_svc_reply(&c, &resp.base);
}

static void set_state(fv_grpc_call *call, void *user)
{
    fv_svc_call c;
    fv_uuid id;
    const Flovyn__V1__SetStateRequest *req =
        begin_task(&c, call, user, &flovyn__v1__set_state_request__descriptor, &id);
    if (req == NULL)
        return;
    fv_error err = {0};
    fv_json value = FV_JSON_NONE;
    fv_err rc;
    if (req->value.len == 0)
        rc = fv_error_set(&err, FV_E_INVALID, "value is empty: give a JSON value");
    else
        rc = fv_json_check("value", req->value.data, req->value.len, FV_TASK_STATE_VALUE_MAX,
                           FV_JSON_ANY, &value, &err);
    if (rc == FV_OK)
        rc = fv_task_state_set(c.svc->deps, &c.who.tenant_id, &id, req->key, value, &err);
    finish_empty(&c, rc, &err);
}

static void clear_state(fv_grpc_call *call, void *user)
{
    fv_svc_call c;
    fv_uuid id;
    const Flovyn__V1__ClearStateRequest *req =
        begin_task(&c, call, user, &flovyn__v1__clear_state_request__descriptor, &id);
    if (req == NULL)
        return;
    fv_error err = {0};
    fv_err rc = fv_task_state_clear(c.svc->deps, &c.who.tenant_id, &id, req->key, &err);
    finish_empty(&c, rc, &err);
}

static void clear_all_state(fv_grpc_call *call, void *user)
{
    fv_svc_call c;
    fv_uuid id;
    if (begin_task(&c, call, user, &flovyn__v1__clear_all_state_request__descriptor, &id) == NULL)
        return;
    fv_error err = {0};
    fv_err rc = fv_task_state_clear_all(c.svc->deps, &c.who.tenant_id, &id, &err);
    finish_empty(&c, rc, &err);
}

static void get_state_keys(fv_grpc_call *call, void *user)
{
    fv_svc_call c;
    fv_uuid id;
    if (begin_task(&c, call, user, &flovyn__v1__get_state_keys_request__descriptor, &id) == NULL)
        return;
    fv_error err = {0};
    fv_state_key_list keys = {0};
    fv_err rc = fv_task_state_keys(c.svc->deps, c.arena, &c.who.tenant_id, &id, &keys, &err);
    if (rc != FV_OK) {
        fv_svc_fail(&c, rc, &err);
        return;
    }
    Flovyn__V1__GetStateKeysResponse resp = FLOVYN__V1__GET_STATE_KEYS_RESPONSE__INIT;
    resp.n_keys = keys.n;
    resp.keys = (char **)(uintptr_t)keys.items;
    fv_svc_reply(&c, &resp.base);
}

/* ---- Stream data -------------------------------------------------------------- */

static void stream_task_data(fv_grpc_call *call, void *user)
{
    fv_svc_call c;
    fv_uuid id;
    const Flovyn__V1__StreamTaskDataRequest *req =
        begin_task(&c, call, user, &flovyn__v1__stream_task_data_request__descriptor, &id);
    if (req == NULL)
        return;
    /* workflow_execution_id, sequence and timestamp_ms are not used: the
     * task knows its workflow, and sequence numbers repeat (FFI clients send
     * 0 every time), so nothing is ever deduplicated or dropped on them. */
    fv_error err = {0};
    fv_task_event_type type;
    fv_json payload = FV_JSON_NONE;
    fv_err rc = fv_pb_stream_event_type((int)req->type, &type, &err);
    if (rc == FV_OK && req->payload[0] == '\0')
        rc = fv_error_set(&err, FV_E_INVALID, "payload is empty: give the event as JSON");
    if (rc == FV_OK)
        rc = fv_json_check("payload", req->payload, strlen(req->payload),
                           FV_TASK_STREAM_PAYLOAD_MAX, FV_JSON_ANY, &payload, &err);
    if (rc == FV_OK)
        rc = fv_task_stream(c.svc->deps, &c.who.tenant_id, &id, type, payload, &err);
    if (rc != FV_OK) {
        fv_svc_fail(&c, rc, &err);
        return;
    }
    Flovyn__V1__StreamTaskDataResponse resp = FLOVYN__V1__STREAM_TASK_DATA_RESPONSE__INIT;
    resp.acknowledged = true;
    fv_svc_reply(&c, &resp.base);
}

size_t fv_grpc_task_execution_methods(const fv_grpc_services *svc, fv_grpc_method *out, size_t cap)
{
    void *u = (void *)(uintptr_t)svc;
    const fv_grpc_method rows[] = {
        {"/flovyn.v1.TaskExecution/SubmitTask", submit_task, u},
        {"/flovyn.v1.TaskExecution/PollTask", poll_task, u},
        {"/flovyn.v1.TaskExecution/CompleteTask", complete_task, u},
        {"/flovyn.v1.TaskExecution/FailTask", fail_task, u},
        {"/flovyn.v1.TaskExecution/ReportProgress", report_progress, u},
        {"/flovyn.v1.TaskExecution/Heartbeat", heartbeat, u},
        {"/flovyn.v1.TaskExecution/CancelTask", cancel_task, u},
        {"/flovyn.v1.TaskExecution/LogMessage", log_message, u},
        {"/flovyn.v1.TaskExecution/GetState", get_state, u},
        {"/flovyn.v1.TaskExecution/SetState", set_state, u},
        {"/flovyn.v1.TaskExecution/ClearState", clear_state, u},
        {"/flovyn.v1.TaskExecution/ClearAllState", clear_all_state, u},
        {"/flovyn.v1.TaskExecution/GetStateKeys", get_state_keys, u},
        {"/flovyn.v1.TaskExecution/StreamTaskData", stream_task_data, u},
    };
    size_t n = 0;
    for (; n < sizeof rows / sizeof rows[0] && n < cap; n++)
        out[n] = rows[n];
    return n;
}
