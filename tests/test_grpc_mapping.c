/*
 * The gRPC edge's pure parts: the JSON checks and decodings shared by the
 * edges (adapters/json) and the protobuf <-> domain mapping (pb_map.c), on
 * messages really encoded and decoded by protobuf-c.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "adapters/grpc/pb_map.h"
#include "adapters/json/json_codec.h"
#include "core/util/arena.h"
#include "core/util/error.h"
#include "tests/support/cunit_main.h"

static bool msg_has(const fv_error *e, const char *needle)
{
    return strstr(e->msg, needle) != NULL;
}

#define BYTES(s) ((ProtobufCBinaryData){sizeof(s) - 1, (uint8_t *)(uintptr_t)(s)})

/* ---------------------------------------------------------------------- */
/* JSON checks                                                            */
/* ---------------------------------------------------------------------- */

static void test_json__check_accepts_values_of_the_shape(void)
{
    fv_error err = {0};
    fv_json out;
    CU_ASSERT_EQUAL(fv_json_check("m", "", 0, 100, FV_JSON_OBJECT, &out, &err), FV_OK);
    CU_ASSERT_FALSE(fv_json_present(out));
    CU_ASSERT_EQUAL(fv_json_check("m", "[1,2]", 5, 100, FV_JSON_ANY, &out, &err), FV_OK);
    CU_ASSERT_EQUAL(out.n, 5);
    CU_ASSERT_EQUAL(fv_json_check("m", "\"x\"", 3, 100, FV_JSON_ANY, &out, &err), FV_OK);
    CU_ASSERT_EQUAL(
        fv_json_check("s", "{\"type\":\"object\"}", 17, 100, FV_JSON_SCHEMA, &out, &err), FV_OK);
    CU_ASSERT_EQUAL(fv_json_check("s", "true", 4, 100, FV_JSON_SCHEMA, &out, &err), FV_OK);
}

static void test_json__check_refuses_what_is_not_json_of_the_shape(void)
{
    static const struct {
        const char *text;
        fv_json_shape shape;
        const char *says;
    } bad[] = {
        {"{", FV_JSON_ANY, "s is not valid JSON"},
        {"{\"a\":1}x", FV_JSON_ANY, "not valid JSON"},
        {"{\"a\":1,\"a\":2}", FV_JSON_ANY, "not valid JSON"},
        {"\"\\u0000\"", FV_JSON_ANY, "not valid JSON"},
        {"\"\xff\"", FV_JSON_ANY, "not valid JSON"},
        {"[1]", FV_JSON_OBJECT, "must be a JSON object"},
        {"1", FV_JSON_SCHEMA, "must be a JSON Schema"},
        {"null", FV_JSON_SCHEMA, "must be a JSON Schema"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fv_error err = {0};
        fv_json out;
        fv_err rc =
            fv_json_check("s", bad[i].text, strlen(bad[i].text), 100, bad[i].shape, &out, &err);
        CU_ASSERT_EQUAL(rc, FV_E_INVALID);
        CU_ASSERT_TRUE(msg_has(&err, bad[i].says));
        CU_ASSERT_FALSE(fv_json_present(out));
    }
    fv_error err = {0};
    fv_json out;
    CU_ASSERT_EQUAL(fv_json_check("m", "[1,2,3]", 7, 6, FV_JSON_ANY, &out, &err), FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&err, "m is larger than 6 bytes"));
}

static void test_json__retry_policy_in_both_spellings(void)
{
    fv_error err = {0};
    fv_retry_policy p;
    bool present = true;
    CU_ASSERT_EQUAL(fv_json_decode_retry_policy("rp", "", 0, &present, &p, &err), FV_OK);
    CU_ASSERT_FALSE(present);

    const char *camel = "{\"maxRetries\":3,\"initialDelayMs\":100,\"backoffCoefficient\":2.5,"
                        "\"maxDelayMs\":1000}";
    CU_ASSERT_EQUAL(fv_json_decode_retry_policy("rp", camel, strlen(camel), &present, &p, &err),
                    FV_OK);
    CU_ASSERT_TRUE(present);
    CU_ASSERT_EQUAL(p.set, FV_RETRY_HAS_MAX_RETRIES | FV_RETRY_HAS_INITIAL_DELAY |
                               FV_RETRY_HAS_BACKOFF | FV_RETRY_HAS_MAX_DELAY);
    CU_ASSERT_EQUAL(p.max_retries, 3);
    CU_ASSERT_EQUAL(p.initial_delay_ms, 100);
    CU_ASSERT_DOUBLE_EQUAL(p.backoff_coefficient, 2.5, 1e-9);
    CU_ASSERT_EQUAL(p.max_delay_ms, 1000);

    const char *snake = "{\"max_retries\":2,\"backoff_coefficient\":2}";
    CU_ASSERT_EQUAL(fv_json_decode_retry_policy("rp", snake, strlen(snake), &present, &p, &err),
                    FV_OK);
    CU_ASSERT_EQUAL(p.set, FV_RETRY_HAS_MAX_RETRIES | FV_RETRY_HAS_BACKOFF);
    CU_ASSERT_EQUAL(p.max_retries, 2);
    CU_ASSERT_DOUBLE_EQUAL(p.backoff_coefficient, 2.0, 1e-9);
}

static void test_json__retry_policy_refusals_name_the_field(void)
{
    static const struct {
        const char *text;
        const char *says;
    } bad[] = {
        {"[]", "rp must be a JSON object"},
        {"{\"maxRetries\":\"3\"}", "rp.maxRetries must be an integer"},
        {"{\"maxRetries\":1.5}", "rp.maxRetries must be an integer"},
        {"{\"initial_delay_ms\":true}", "rp.initial_delay_ms must be an integer"},
        {"{\"backoffCoefficient\":\"x\"}", "rp.backoffCoefficient must be a number"},
        {"{\"retries\":1}", "unknown field \"retries\""},
        {"{\"maxRetries\":1,\"max_retries\":2}", "gives \"maxRetries\" twice"},
        {"{\"maxRetries\":1", "rp is not valid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fv_error err = {0};
        fv_retry_policy p;
        bool present = true;
        fv_err rc =
            fv_json_decode_retry_policy("rp", bad[i].text, strlen(bad[i].text), &present, &p, &err);
        CU_ASSERT_EQUAL(rc, FV_E_INVALID);
        CU_ASSERT_FALSE(present);
        if (!msg_has(&err, bad[i].says))
            fprintf(stderr, "\n  %s: got \"%s\"\n", bad[i].text, err.msg);
        CU_ASSERT_TRUE(msg_has(&err, bad[i].says));
    }
}

static void test_json__health_degraded(void)
{
    CU_ASSERT_FALSE(fv_json_health_degraded(FV_JSON_NONE));
    CU_ASSERT_TRUE(fv_json_health_degraded((fv_json){"{\"status\":\"DEGRADED\"}", 21}));
    CU_ASSERT_TRUE(fv_json_health_degraded((fv_json){"{\"status\":\"degraded\"}", 21}));
    CU_ASSERT_TRUE(fv_json_health_degraded((fv_json){"{\"healthy\":false}", 17}));
    CU_ASSERT_FALSE(fv_json_health_degraded((fv_json){"{\"status\":\"ok\"}", 15}));
    CU_ASSERT_FALSE(fv_json_health_degraded((fv_json){"[\"degraded\"]", 12}));
}

/* ---------------------------------------------------------------------- */
/* Protobuf mapping, through real encoding                                */
/* ---------------------------------------------------------------------- */

static void *arena_alloc(void *a, size_t n)
{
    return fv_arena_alloc(a, n == 0 ? 1 : n);
}

static void arena_free(void *a, void *p)
{
    (void)a;
    (void)p;
}

/* Encode a message with protobuf-c and decode it back into the arena, as
 * the service does with the bytes it receives. */
static void *round_trip(fv_arena *a, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = fv_arena_alloc(a, n + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    protobuf_c_message_pack(m, buf);
    ProtobufCAllocator arena_allocator = {
        .alloc = arena_alloc, .free = arena_free, .allocator_data = a};
    void *out = protobuf_c_message_unpack(m->descriptor, &arena_allocator, n, buf);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    return out;
}

static const fv_uuid tenant = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}};

typedef struct reg_msg {
    Flovyn__V1__WorkerRegistrationRequest req;
    Flovyn__V1__WorkflowCapability wf;
    Flovyn__V1__WorkflowCapability *wfs[1];
    Flovyn__V1__TaskCapability tk;
    Flovyn__V1__TaskCapability *tks[1];
    char *tags[2];
} reg_msg;

static void reg_msg_init(reg_msg *m)
{
    flovyn__v1__worker_registration_request__init(&m->req);
    flovyn__v1__workflow_capability__init(&m->wf);
    flovyn__v1__task_capability__init(&m->tk);
    m->req.worker_name = "w";
    m->req.worker_type = "UNIFIED";
    m->req.org_id = "01020304-0506-0708-090a-0b0c0d0e0f10";
    m->req.host_name = "h";
    m->req.process_id = "42";
    m->wf.kind = "order";
    m->wf.version = "1.2.0";
    m->wf.content_hash = "abc";
    m->wf.cancellable = true;
    m->wf.opt_timeout_seconds_case =
        FLOVYN__V1__WORKFLOW_CAPABILITY__OPT_TIMEOUT_SECONDS_TIMEOUT_SECONDS;
    m->wf.timeout_seconds = 60;
    m->tags[0] = "a";
    m->tags[1] = "b";
    m->wf.tags = m->tags;
    m->wf.n_tags = 2;
    m->wf.input_schema = BYTES("{\"type\":\"object\"}");
    m->wf.retry_policy = BYTES("{\"maxRetries\":2}");
    m->tk.kind = "send-mail";
    m->tk.metadata = BYTES("{\"team\":\"x\"}");
    m->wfs[0] = &m->wf;
    m->tks[0] = &m->tk;
    m->req.workflows = m->wfs;
    m->req.n_workflows = 1;
    m->req.tasks = m->tks;
    m->req.n_tasks = 1;
}

static void test_pb__registration_maps_every_field(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    reg_msg m;
    reg_msg_init(&m);
    m.req.opt_team_id_case = FLOVYN__V1__WORKER_REGISTRATION_REQUEST__OPT_TEAM_ID_TEAM_ID;
    m.req.team_id = "11111111-2222-3333-4444-555555555555";
    const Flovyn__V1__WorkerRegistrationRequest *wire = round_trip(&a, &m.req.base);

    fv_error err = {0};
    fv_register_request r;
    CU_ASSERT_EQUAL_FATAL(fv_pb_to_register_request(&a, wire, &tenant, &r, &err), FV_OK);
    CU_ASSERT_TRUE(fv_uuid_eq(&r.tenant_id, &tenant));
    CU_ASSERT_TRUE(r.space.has);
    CU_ASSERT_STRING_EQUAL(fv_uuid_str(&a, &r.space.id), "11111111-2222-3333-4444-555555555555");
    CU_ASSERT_STRING_EQUAL(r.worker_name, "w");
    CU_ASSERT_STRING_EQUAL(r.worker_type, "UNIFIED");
    CU_ASSERT_STRING_EQUAL(r.process_id, "42");
    CU_ASSERT_FALSE(fv_json_present(r.metadata));
    CU_ASSERT_EQUAL_FATAL(r.n_workflows, 1);
    const fv_capability *wf = &r.workflows[0];
    CU_ASSERT_STRING_EQUAL(wf->kind, "order");
    CU_ASSERT_STRING_EQUAL(wf->version, "1.2.0");
    CU_ASSERT_STRING_EQUAL(wf->content_hash, "abc");
    CU_ASSERT_TRUE(wf->has_timeout);
    CU_ASSERT_EQUAL(wf->timeout_seconds, 60);
    CU_ASSERT_TRUE(wf->cancellable);
    CU_ASSERT_EQUAL_FATAL(wf->tags.n, 2);
    CU_ASSERT_STRING_EQUAL(wf->tags.v[1], "b");
    CU_ASSERT_TRUE(wf->has_retry_policy);
    CU_ASSERT_EQUAL(wf->retry_policy.max_retries, 2);
    CU_ASSERT_EQUAL(wf->input_schema.n, strlen("{\"type\":\"object\"}"));
    CU_ASSERT_FALSE(fv_json_present(wf->output_schema));
    CU_ASSERT_EQUAL_FATAL(r.n_tasks, 1);
    CU_ASSERT_STRING_EQUAL(r.tasks[0].kind, "send-mail");
    CU_ASSERT_FALSE(r.tasks[0].has_timeout);
    CU_ASSERT_FALSE(r.tasks[0].has_retry_policy);
    CU_ASSERT_EQUAL(r.tasks[0].metadata.n, strlen("{\"team\":\"x\"}"));
    fv_arena_release(&a);
}

static void test_pb__registration_absent_and_empty_team_is_the_tenant_level(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    reg_msg m;
    reg_msg_init(&m);
    fv_error err = {0};
    fv_register_request r;
    CU_ASSERT_EQUAL(fv_pb_to_register_request(&a, round_trip(&a, &m.req.base), &tenant, &r, &err),
                    FV_OK);
    CU_ASSERT_FALSE(r.space.has);
    m.req.opt_team_id_case = FLOVYN__V1__WORKER_REGISTRATION_REQUEST__OPT_TEAM_ID_TEAM_ID;
    m.req.team_id = "";
    CU_ASSERT_EQUAL(fv_pb_to_register_request(&a, round_trip(&a, &m.req.base), &tenant, &r, &err),
                    FV_OK);
    CU_ASSERT_FALSE(r.space.has);
    fv_arena_release(&a);
}

static void test_pb__registration_refusals_name_the_field(void)
{
    static const struct {
        int which;
        const char *says;
    } cases[] = {
        {0, "team_id is not a valid UUID"},
        {1, "metadata is not valid JSON"},
        {2, "workflows[0].input_schema must be a JSON Schema"},
        {3, "workflows[0].retry_policy is not valid JSON"},
        {4, "tasks[0].metadata is not valid JSON"},
        {5, "tasks[0].retry_policy has an unknown field"},
        {6, "tasks[0].output_schema is not valid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fv_arena a;
        fv_arena_init(&a, 0);
        reg_msg m;
        reg_msg_init(&m);
        switch (cases[i].which) {
        case 0:
            m.req.opt_team_id_case = FLOVYN__V1__WORKER_REGISTRATION_REQUEST__OPT_TEAM_ID_TEAM_ID;
            m.req.team_id = "not-a-uuid";
            break;
        case 1:
            m.req.metadata = BYTES("{oops}");
            break;
        case 2:
            m.wf.input_schema = BYTES("[]");
            break;
        case 3:
            m.wf.retry_policy = BYTES("{");
            break;
        case 4:
            m.tk.metadata = BYTES("\xc3\x28");
            break;
        case 5:
            m.tk.retry_policy = BYTES("{\"attempts\":3}");
            break;
        default:
            m.tk.output_schema = BYTES("{\"a\":1,\"a\":2}");
            break;
        }
        fv_error err = {0};
        fv_register_request r;
        fv_err rc = fv_pb_to_register_request(&a, round_trip(&a, &m.req.base), &tenant, &r, &err);
        CU_ASSERT_EQUAL(rc, FV_E_INVALID);
        if (!msg_has(&err, cases[i].says))
            fprintf(stderr, "\n  case %zu: got \"%s\"\n", i, err.msg);
        CU_ASSERT_TRUE(msg_has(&err, cases[i].says));
        fv_arena_release(&a);
    }
}

static void test_pb__registration_result_splits_conflicts_by_class(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_conflict conflicts[] = {
        {FV_DEF_WORKFLOW, "order", "other code", {{0xaa}}},
        {FV_DEF_TASK, "mail", "other code", {{0xbb}}},
        {FV_DEF_WORKFLOW, "ship", "other code", {{0xcc}}},
    };
    fv_register_result res = {.worker_id = tenant, .conflicts = conflicts, .n_conflicts = 3};
    Flovyn__V1__WorkerRegistrationResponse resp;
    fv_error err = {0};
    CU_ASSERT_EQUAL_FATAL(fv_pb_from_register_result(&a, &res, &resp, &err), FV_OK);
    const Flovyn__V1__WorkerRegistrationResponse *wire = round_trip(&a, &resp.base);
    CU_ASSERT_TRUE(wire->success);
    CU_ASSERT_EQUAL(wire->opt_error_case,
                    FLOVYN__V1__WORKER_REGISTRATION_RESPONSE__OPT_ERROR__NOT_SET);
    CU_ASSERT_STRING_EQUAL(wire->worker_id, "01020304-0506-0708-090a-0b0c0d0e0f10");
    CU_ASSERT_EQUAL_FATAL(wire->n_workflow_conflicts, 2);
    CU_ASSERT_EQUAL_FATAL(wire->n_task_conflicts, 1);
    CU_ASSERT_STRING_EQUAL(wire->workflow_conflicts[1]->kind, "ship");
    CU_ASSERT_STRING_EQUAL(wire->workflow_conflicts[0]->existing_worker_id,
                           "aa000000-0000-0000-0000-000000000000");
    CU_ASSERT_STRING_EQUAL(wire->task_conflicts[0]->reason, "other code");
    fv_arena_release(&a);
}

static void test_pb__heartbeat_checks_id_and_health(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    Flovyn__V1__WorkerHeartbeatRequest m = FLOVYN__V1__WORKER_HEARTBEAT_REQUEST__INIT;
    m.worker_id = "01020304-0506-0708-090a-0b0c0d0e0f10";
    fv_heartbeat_request hb;
    fv_error err = {0};
    CU_ASSERT_EQUAL(fv_pb_to_heartbeat_request(round_trip(&a, &m.base), &tenant, &hb, &err), FV_OK);
    CU_ASSERT_TRUE(fv_uuid_eq(&hb.worker_id, &tenant));
    CU_ASSERT_FALSE(fv_json_present(hb.health_info));
    CU_ASSERT_FALSE(hb.health_degraded);

    m.health_info = BYTES("{\"status\":\"DEGRADED\"}");
    CU_ASSERT_EQUAL(fv_pb_to_heartbeat_request(round_trip(&a, &m.base), &tenant, &hb, &err), FV_OK);
    CU_ASSERT_TRUE(hb.health_degraded);

    m.health_info = BYTES("not json");
    CU_ASSERT_EQUAL(fv_pb_to_heartbeat_request(round_trip(&a, &m.base), &tenant, &hb, &err),
                    FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&err, "health_info is not valid JSON"));

    m.health_info = (ProtobufCBinaryData){0, NULL};
    m.worker_id = "worker-1";
    CU_ASSERT_EQUAL(fv_pb_to_heartbeat_request(round_trip(&a, &m.base), &tenant, &hb, &err),
                    FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&err, "worker_id is not a valid UUID"));
    fv_arena_release(&a);
}

/* ---------------------------------------------------------------------- */
/* TaskExecution mapping                                                  */
/* ---------------------------------------------------------------------- */

typedef struct submit_msg {
    Flovyn__V1__SubmitTaskRequest req;
    Flovyn__V1__SubmitTaskRequest__MetadataEntry e[3];
    Flovyn__V1__SubmitTaskRequest__MetadataEntry *ep[3];
} submit_msg;

static void submit_msg_init(submit_msg *m)
{
    flovyn__v1__submit_task_request__init(&m->req);
    m->req.org_id = "01020304-0506-0708-090a-0b0c0d0e0f10";
    m->req.kind = "send-mail";
    for (size_t i = 0; i < 3; i++) {
        flovyn__v1__submit_task_request__metadata_entry__init(&m->e[i]);
        m->ep[i] = &m->e[i];
    }
}

static void test_pb__submit_maps_every_field(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    submit_msg m;
    submit_msg_init(&m);
    m.req.workflow_execution_id = "";
    m.req.queue = "billing";
    m.req.input = BYTES("{\"to\":\"a@b.c\"}");
    m.e[0].key = "zeta";
    m.e[0].value = "1";
    m.e[1].key = "alpha";
    m.e[1].value = "2";
    m.req.metadata = m.ep;
    m.req.n_metadata = 2;
    m.req.max_retries = 5;
    m.req.timeout_ms = 30000;
    m.req.opt_idempotency_key_case =
        FLOVYN__V1__SUBMIT_TASK_REQUEST__OPT_IDEMPOTENCY_KEY_IDEMPOTENCY_KEY;
    m.req.idempotency_key = "order-42";
    m.req.opt_idempotency_key_ttl_seconds_case =
        FLOVYN__V1__SUBMIT_TASK_REQUEST__OPT_IDEMPOTENCY_KEY_TTL_SECONDS_IDEMPOTENCY_KEY_TTL_SECONDS;
    m.req.idempotency_key_ttl_seconds = 3600;
    m.req.opt_worker_pool_id_case =
        FLOVYN__V1__SUBMIT_TASK_REQUEST__OPT_WORKER_POOL_ID_WORKER_POOL_ID;
    m.req.worker_pool_id = "pool-1";
    const Flovyn__V1__SubmitTaskRequest *wire = round_trip(&a, &m.req.base);

    fv_error err = {0};
    fv_task_submit_request r;
    CU_ASSERT_EQUAL_FATAL(fv_pb_to_submit_request(&a, wire, &tenant, &r, &err), FV_OK);
    CU_ASSERT_TRUE(fv_uuid_eq(&r.tenant_id, &tenant));
    CU_ASSERT_STRING_EQUAL(r.workflow_execution_id, "");
    CU_ASSERT_STRING_EQUAL(r.kind, "send-mail");
    CU_ASSERT_STRING_EQUAL(r.queue, "billing");
    CU_ASSERT_EQUAL(r.input.n, strlen("{\"to\":\"a@b.c\"}"));
    CU_ASSERT_EQUAL_FATAL(r.n_metadata, 2);
    /* Sorted by key. */
    CU_ASSERT_STRING_EQUAL(r.metadata[0].key, "alpha");
    CU_ASSERT_STRING_EQUAL(r.metadata[0].value, "2");
    CU_ASSERT_STRING_EQUAL(r.metadata[1].key, "zeta");
    CU_ASSERT_TRUE(r.has_max_retries);
    CU_ASSERT_EQUAL(r.max_retries, 5);
    CU_ASSERT_TRUE(r.has_timeout_ms);
    CU_ASSERT_EQUAL(r.timeout_ms, 30000);
    CU_ASSERT_FALSE(r.has_retry_policy);
    CU_ASSERT_FALSE(r.has_scheduled_at);
    CU_ASSERT_STRING_EQUAL(r.idempotency_key, "order-42");
    CU_ASSERT_TRUE(r.has_idempotency_ttl);
    CU_ASSERT_EQUAL(r.idempotency_ttl_seconds, 3600);
    fv_arena_release(&a);
}

static void test_pb__submit_zero_means_not_given(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    submit_msg m;
    submit_msg_init(&m);
    fv_error err = {0};
    fv_task_submit_request r;
    CU_ASSERT_EQUAL_FATAL(
        fv_pb_to_submit_request(&a, round_trip(&a, &m.req.base), &tenant, &r, &err), FV_OK);
    /* proto3 implicit presence: 0 is what an unset field reads as. */
    CU_ASSERT_FALSE(r.has_max_retries);
    CU_ASSERT_FALSE(r.has_timeout_ms);
    CU_ASSERT_PTR_NULL(r.idempotency_key);
    CU_ASSERT_FALSE(r.has_idempotency_ttl);
    CU_ASSERT_FALSE(fv_json_present(r.input)); /* empty bytes: absent (JSON null) */
    CU_ASSERT_EQUAL(r.n_metadata, 0);
    CU_ASSERT_STRING_EQUAL(r.queue, ""); /* the core reads "" as "default" */

    /* Out-of-range values reach the core intact, which refuses them. */
    m.req.max_retries = -1;
    m.req.timeout_ms = -5;
    CU_ASSERT_EQUAL_FATAL(
        fv_pb_to_submit_request(&a, round_trip(&a, &m.req.base), &tenant, &r, &err), FV_OK);
    CU_ASSERT_TRUE(r.has_max_retries);
    CU_ASSERT_EQUAL(r.max_retries, -1);
    CU_ASSERT_TRUE(r.has_timeout_ms);
    CU_ASSERT_EQUAL(r.timeout_ms, -5);

    /* An explicitly present empty key is handed over as "" (the core
     * refuses it), never dropped silently. */
    m.req.opt_idempotency_key_case =
        FLOVYN__V1__SUBMIT_TASK_REQUEST__OPT_IDEMPOTENCY_KEY_IDEMPOTENCY_KEY;
    m.req.idempotency_key = "";
    CU_ASSERT_EQUAL_FATAL(
        fv_pb_to_submit_request(&a, round_trip(&a, &m.req.base), &tenant, &r, &err), FV_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.idempotency_key);
    CU_ASSERT_STRING_EQUAL(r.idempotency_key, "");
    fv_arena_release(&a);
}

static void test_pb__submit_metadata_key_sent_twice_keeps_the_last(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    submit_msg m;
    submit_msg_init(&m);
    m.e[0].key = "k";
    m.e[0].value = "first";
    m.e[1].key = "b";
    m.e[1].value = "x";
    m.e[2].key = "k";
    m.e[2].value = "last";
    m.req.metadata = m.ep;
    m.req.n_metadata = 3;
    fv_error err = {0};
    fv_task_submit_request r;
    CU_ASSERT_EQUAL_FATAL(
        fv_pb_to_submit_request(&a, round_trip(&a, &m.req.base), &tenant, &r, &err), FV_OK);
    CU_ASSERT_EQUAL_FATAL(r.n_metadata, 2);
    CU_ASSERT_STRING_EQUAL(r.metadata[0].key, "b");
    CU_ASSERT_STRING_EQUAL(r.metadata[1].key, "k");
    CU_ASSERT_STRING_EQUAL(r.metadata[1].value, "last");
    fv_arena_release(&a);
}

static void test_pb__submit_input_must_be_json(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    submit_msg m;
    submit_msg_init(&m);
    static const char *const bad[] = {"{", "not json", "{\"a\":1,\"a\":2}", "1 2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m.req.input = (ProtobufCBinaryData){strlen(bad[i]), (uint8_t *)(uintptr_t)bad[i]};
        fv_error err = {0};
        fv_task_submit_request r;
        CU_ASSERT_EQUAL(fv_pb_to_submit_request(&a, round_trip(&a, &m.req.base), &tenant, &r, &err),
                        FV_E_INVALID);
        CU_ASSERT_TRUE(msg_has(&err, "input is not valid JSON"));
    }
    /* Any JSON value is an input. */
    m.req.input = BYTES("42");
    fv_error err = {0};
    fv_task_submit_request r;
    CU_ASSERT_EQUAL(fv_pb_to_submit_request(&a, round_trip(&a, &m.req.base), &tenant, &r, &err),
                    FV_OK);
    CU_ASSERT_EQUAL(r.input.n, 2);
    fv_arena_release(&a);
}

static void test_pb__task_info_of_a_claimed_task(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_task t;
    memset(&t, 0, sizeof t);
    t.id = tenant;
    t.kind = "send-mail";
    t.queue = "default";
    t.input = (fv_json){"{\"x\":1}", 7};
    t.execution_count = 2;
    Flovyn__V1__TaskExecutionInfo info;
    fv_error err = {0};
    CU_ASSERT_EQUAL_FATAL(fv_pb_from_task_info(&a, &t, &info, &err), FV_OK);
    const Flovyn__V1__TaskExecutionInfo *wire = round_trip(&a, &info.base);
    CU_ASSERT_STRING_EQUAL(wire->task_execution_id, "01020304-0506-0708-090a-0b0c0d0e0f10");
    CU_ASSERT_STRING_EQUAL(wire->kind, "send-mail");
    CU_ASSERT_STRING_EQUAL(wire->queue, "default");
    CU_ASSERT_STRING_EQUAL(wire->workflow_execution_id, "");
    CU_ASSERT_EQUAL(wire->execution_count, 2);
    CU_ASSERT_EQUAL_FATAL(wire->input.len, 7);
    CU_ASSERT_EQUAL(memcmp(wire->input.data, "{\"x\":1}", 7), 0);
    CU_ASSERT_EQUAL(wire->opt_worker_pool_id_case,
                    FLOVYN__V1__TASK_EXECUTION_INFO__OPT_WORKER_POOL_ID__NOT_SET);
    CU_ASSERT_STRING_EQUAL(wire->traceparent, "");

    /* No input: JSON null; a workflow's task names its workflow. */
    t.input = FV_JSON_NONE;
    t.workflow_execution_id.has = true;
    t.workflow_execution_id.id = tenant;
    CU_ASSERT_EQUAL_FATAL(fv_pb_from_task_info(&a, &t, &info, &err), FV_OK);
    wire = round_trip(&a, &info.base);
    CU_ASSERT_EQUAL_FATAL(wire->input.len, 4);
    CU_ASSERT_EQUAL(memcmp(wire->input.data, "null", 4), 0);
    CU_ASSERT_STRING_EQUAL(wire->workflow_execution_id, "01020304-0506-0708-090a-0b0c0d0e0f10");
    fv_arena_release(&a);
}

static void test_pb__task_ids_must_be_uuids(void)
{
    fv_uuid id;
    fv_error err = {0};
    CU_ASSERT_EQUAL(fv_pb_task_id("01020304-0506-0708-090a-0b0c0d0e0f10", &id, &err), FV_OK);
    CU_ASSERT_TRUE(fv_uuid_eq(&id, &tenant));
    static const char *const bad[] = {"", "task-1", "01020304-0506-0708-090a-0b0c0d0e0f1",
                                      "01020304-0506-0708-090a-0b0c0d0e0f10x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT_EQUAL(fv_pb_task_id(bad[i], &id, &err), FV_E_INVALID);
        CU_ASSERT_TRUE(msg_has(&err, "invalid task_execution_id"));
    }
    CU_ASSERT_EQUAL(fv_pb_task_id(NULL, &id, &err), FV_E_INVALID);
}

static void test_pb__stream_event_types(void)
{
    static const struct {
        int wire;
        fv_task_event_type type;
    } ok[] = {
        {FLOVYN__V1__STREAM_EVENT_TYPE__TOKEN, FV_TEV_TOKEN},
        {FLOVYN__V1__STREAM_EVENT_TYPE__PROGRESS, FV_TEV_PROGRESS},
        {FLOVYN__V1__STREAM_EVENT_TYPE__DATA, FV_TEV_DATA},
        {FLOVYN__V1__STREAM_EVENT_TYPE__ERROR, FV_TEV_ERROR},
    };
    fv_error err = {0};
    fv_task_event_type t;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        CU_ASSERT_EQUAL(fv_pb_stream_event_type(ok[i].wire, &t, &err), FV_OK);
        CU_ASSERT_EQUAL(t, ok[i].type);
    }
    CU_ASSERT_EQUAL(fv_pb_stream_event_type(0, &t, &err), FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&err, "STREAM_EVENT_TYPE_UNSPECIFIED"));
    CU_ASSERT_EQUAL(fv_pb_stream_event_type(5, &t, &err), FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&err, "type 5 is not a stream event type"));
    CU_ASSERT_EQUAL(fv_pb_stream_event_type(-1, &t, &err), FV_E_INVALID);
}

static void test_pb__log_levels(void)
{
    fv_error err = {0};
    fv_log_level l;
    CU_ASSERT_EQUAL(fv_pb_log_level("DEBUG", &l, &err), FV_OK);
    CU_ASSERT_EQUAL(l, FV_LOG_DEBUG);
    CU_ASSERT_EQUAL(fv_pb_log_level("ERROR", &l, &err), FV_OK);
    CU_ASSERT_EQUAL(l, FV_LOG_ERROR);
    static const char *const bad[] = {"", "info", "TRACE", "WARNING"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT_EQUAL(fv_pb_log_level(bad[i], &l, &err), FV_E_INVALID);
        CU_ASSERT_TRUE(msg_has(&err, "is not a log level"));
    }
    CU_ASSERT_TRUE(msg_has(&err, "level \"WARNING\" is not"));
    /* Long or non-ASCII text is not quoted back. */
    CU_ASSERT_EQUAL(fv_pb_log_level("\xc3\xa9", &l, &err), FV_E_INVALID);
    CU_ASSERT_STRING_EQUAL(err.msg, "level is not a log level (DEBUG, INFO, WARN or ERROR)");
    CU_ASSERT_EQUAL(fv_pb_log_level("INFOINFOINFOINFOINFOINFOINFOINFOINFO", &l, &err),
                    FV_E_INVALID);
    CU_ASSERT_STRING_EQUAL(err.msg, "level is not a log level (DEBUG, INFO, WARN or ERROR)");
}

static const fv_test_case cases[] = {
    FV_TEST_CASE(test_json__check_accepts_values_of_the_shape),
    FV_TEST_CASE(test_json__check_refuses_what_is_not_json_of_the_shape),
    FV_TEST_CASE(test_json__retry_policy_in_both_spellings),
    FV_TEST_CASE(test_json__retry_policy_refusals_name_the_field),
    FV_TEST_CASE(test_json__health_degraded),
    FV_TEST_CASE(test_pb__registration_maps_every_field),
    FV_TEST_CASE(test_pb__registration_absent_and_empty_team_is_the_tenant_level),
    FV_TEST_CASE(test_pb__registration_refusals_name_the_field),
    FV_TEST_CASE(test_pb__registration_result_splits_conflicts_by_class),
    FV_TEST_CASE(test_pb__heartbeat_checks_id_and_health),
    FV_TEST_CASE(test_pb__submit_maps_every_field),
    FV_TEST_CASE(test_pb__submit_zero_means_not_given),
    FV_TEST_CASE(test_pb__submit_metadata_key_sent_twice_keeps_the_last),
    FV_TEST_CASE(test_pb__submit_input_must_be_json),
    FV_TEST_CASE(test_pb__task_info_of_a_claimed_task),
    FV_TEST_CASE(test_pb__task_ids_must_be_uuids),
    FV_TEST_CASE(test_pb__stream_event_types),
    FV_TEST_CASE(test_pb__log_levels),
};

int main(void)
{
    return fv_test_run("grpc_mapping", cases, FV_TEST_COUNT(cases));
}
