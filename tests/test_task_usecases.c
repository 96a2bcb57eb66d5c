/*
 * The commands and reads of task executions (core/usecases/task_usecases.h,
 * core/queries/task_queries.h) on the in-memory adapter with a fake clock:
 * the state machine end to end, retry arithmetic and backoff, idempotency,
 * scheduled_at, claim order, effective settings, cancellation and late
 * calls, progress, logs, stream data, task state, bus notices, and rejected
 * input naming its field.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/queries/task_queries.h"
#include "core/queries/worker_queries.h"
#include "core/usecases/task_usecases.h"
#include "core/usecases/worker_usecases.h"
#include "tests/support/cunit_main.h"
#include "tests/support/fixture.h"

#define T0 FV_FIXTURE_T0

static fv_fixture fx;

static int setup(void)
{
    return fv_fixture_init_tasks(&fx);
}

static void teardown(void)
{
    fv_fixture_release(&fx);
}

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */
/* ---------------------------------------------------------------------- */

static const unsigned grpc_cancel = FV_TASK_BIT(FV_TASK_PENDING) | FV_TASK_BIT(FV_TASK_RUNNING);
static const unsigned rest_cancel = FV_TASK_BIT(FV_TASK_PENDING);

static bool msg_has(const fv_error *e, const char *needle)
{
    if (strstr(e->msg, needle) != NULL)
        return true;
    fprintf(stderr, "\n  message \"%s\" lacks \"%s\"\n", e->msg, needle);
    return false;
}

static fv_json J(const char *s)
{
    return (fv_json){s, strlen(s)};
}

static const char *js(fv_json j)
{
    if (!fv_json_present(j))
        return "<none>";
    return fv_arena_strndup(&fx.arena, j.p, j.n);
}

static fv_task_submit_request request(const char *kind, const char *queue)
{
    fv_task_submit_request r;
    memset(&r, 0, sizeof r);
    r.tenant_id = fx.tenant;
    r.kind = kind;
    r.queue = queue;
    return r;
}

static fv_task_submit_result must_submit_req(const fv_task_submit_request *r)
{
    fv_task_submit_result res;
    memset(&res, 0, sizeof res);
    fv_error e;
    fv_err rc = fv_task_submit(&fx.deps, &fx.arena, r, &res, &e);
    if (rc != FV_OK)
        fprintf(stderr, "\n  submit failed: %s: %s\n", fv_err_name(rc), e.msg);
    CU_ASSERT_FATAL(rc == FV_OK);
    return res;
}

static fv_task must_submit(const char *kind, const char *queue)
{
    fv_task_submit_request r = request(kind, queue);
    return must_submit_req(&r).task;
}

/* Claim from queue as worker; found or not. */
static bool claim(const char *queue, const char *worker, fv_task *out, fv_time *next_at)
{
    bool found = false;
    fv_time next = 0;
    fv_error e;
    fv_err rc =
        fv_task_claim(&fx.deps, &fx.arena, &fx.tenant, queue, worker, out, &found, &next, &e);
    if (rc != FV_OK)
        fprintf(stderr, "\n  claim failed: %s: %s\n", fv_err_name(rc), e.msg);
    CU_ASSERT_FATAL(rc == FV_OK);
    if (next_at != NULL)
        *next_at = next;
    return found;
}

static fv_task must_claim(const char *queue, const char *worker)
{
    fv_task t;
    memset(&t, 0, sizeof t);
    CU_ASSERT_FATAL(claim(queue, worker, &t, NULL));
    return t;
}

static bool same_id(fv_task t, const fv_uuid *id)
{
    return fv_uuid_eq(&t.id, id);
}

static fv_task get_task(const fv_uuid *id)
{
    fv_task t;
    memset(&t, 0, sizeof t);
    FV_ASSERT_INT_EQ(fv_query_task(&fx.deps, &fx.arena, &fx.tenant, id, false, &t, NULL), FV_OK);
    return t;
}

static fv_task_event_list events_of(const fv_uuid *id)
{
    fv_task_event_list l;
    memset(&l, 0, sizeof l);
    FV_ASSERT_INT_EQ(fv_query_task_events(&fx.deps, &fx.arena, &fx.tenant, id, 0, 1000, &l, NULL),
                     FV_OK);
    return l;
}

static fv_task_attempt_list attempts_of(const fv_uuid *id)
{
    fv_task_attempt_list l;
    memset(&l, 0, sizeof l);
    FV_ASSERT_INT_EQ(fv_query_task_attempts(&fx.deps, &fx.arena, &fx.tenant, id, &l, NULL), FV_OK);
    return l;
}

/* Event types of a task as "TASK_CREATED,TASK_STARTED,...". */
static const char *event_types(const fv_uuid *id)
{
    fv_task_event_list l = events_of(id);
    char *s = fv_arena_strdup(&fx.arena, "");
    for (size_t i = 0; i < l.n; i++) {
        if (l.items[i].id != (int64_t)i + 1)
            return "<gap in event ids>";
        s = fv_arena_printf(&fx.arena, "%s%s%s", s, i ? "," : "",
                            fv_task_event_type_name(l.items[i].type));
    }
    return s;
}

static int64_t count_tasks(void)
{
    fv_task_filter f;
    memset(&f, 0, sizeof f);
    f.tenant_id = fx.tenant;
    fv_task_list l;
    FV_ASSERT_INT_EQ(fv_query_tasks(&fx.deps, &fx.arena, &f, (fv_page){100, 0}, &l, NULL), FV_OK);
    return l.total;
}

static fv_err complete(const fv_uuid *id, const char *output, fv_error *e)
{
    return fv_task_complete(&fx.deps, &fx.arena, &fx.tenant, id, output ? J(output) : FV_JSON_NONE,
                            e);
}

static fv_err fail(const fv_uuid *id, const char *error, fv_error *e)
{
    return fv_task_fail(&fx.deps, &fx.arena, &fx.tenant, id, error, e);
}

/* A registered worker "name" declaring task-0 .. task-<n-1>. */
static fv_uuid register_worker(const char *name, size_t n_tasks)
{
    fv_fixture_req r = fv_fixture_request(&fx, name, 0, n_tasks);
    fv_uuid id;
    FV_ASSERT_INT_EQ(fv_fixture_register(&fx, &r, &id), FV_OK);
    return id;
}

/* ---- A bus subscriber that keeps what it heard -------------------------- */

#define HEARD_MAX 64

typedef struct heard {
    pthread_mutex_t mu;
    size_t n;
    fv_bus_msg m[HEARD_MAX];
    char queue[HEARD_MAX][FV_TASK_QUEUE_MAX + 1];
} heard;

static void on_notice(void *user, const fv_bus_msg *m)
{
    heard *h = user;
    pthread_mutex_lock(&h->mu);
    if (h->n < HEARD_MAX) {
        h->m[h->n] = *m;
        h->queue[h->n][0] = '\0';
        if (m->queue != NULL)
            snprintf(h->queue[h->n], sizeof h->queue[h->n], "%s", m->queue);
        h->m[h->n].queue = h->queue[h->n];
        h->n++;
    }
    pthread_mutex_unlock(&h->mu);
}

/* The notices heard since the last call, as "QUEUE:q TASK:3 ..." (task ids
 * checked against `id` when given). */
static const char *drain(heard *h, const fv_uuid *id)
{
    pthread_mutex_lock(&h->mu);
    char *s = fv_arena_strdup(&fx.arena, "");
    for (size_t i = 0; i < h->n; i++) {
        const fv_bus_msg *m = &h->m[i];
        const char *one = "?";
        switch (m->kind) {
        case FV_BUS_QUEUE:
            one = fv_uuid_eq(&m->tenant_id, &fx.tenant)
                      ? fv_arena_printf(&fx.arena, "QUEUE:%s", m->queue)
                      : "QUEUE:<other tenant>";
            break;
        case FV_BUS_TASK:
            one = (id == NULL || fv_uuid_eq(&m->task_id, id))
                      ? fv_arena_printf(&fx.arena, "TASK:%lld", (long long)m->event_id)
                      : "TASK:<other task>";
            break;
        case FV_BUS_RESYNC:
            one = "RESYNC";
            break;
        }
        s = fv_arena_printf(&fx.arena, "%s%s%s", s, i ? " " : "", one);
    }
    h->n = 0;
    pthread_mutex_unlock(&h->mu);
    return s;
}

/* ---------------------------------------------------------------------- */
/* Without a task repository                                              */
/* ---------------------------------------------------------------------- */

static void test_task_usecases__without_a_task_repository_everything_is_unavailable(void)
{
    fv_fixture plain;
    CU_ASSERT_FATAL(fv_fixture_init(&plain) == 0);
    fv_error e;
    fv_task_submit_request r = request("k", NULL);
    r.tenant_id = plain.tenant;
    fv_task_submit_result res;
    FV_ASSERT_INT_EQ(fv_task_submit(&plain.deps, &plain.arena, &r, &res, &e), FV_E_UNAVAILABLE);
    CU_ASSERT_TRUE(msg_has(&e, "task executions are not configured"));
    fv_task t;
    bool found;
    fv_time next;
    fv_uuid id = plain.tenant;
    FV_ASSERT_INT_EQ(
        fv_task_claim(&plain.deps, &plain.arena, &plain.tenant, "q", "w", &t, &found, &next, &e),
        FV_E_UNAVAILABLE);
    FV_ASSERT_INT_EQ(
        fv_task_complete(&plain.deps, &plain.arena, &plain.tenant, &id, FV_JSON_NONE, &e),
        FV_E_UNAVAILABLE);
    FV_ASSERT_INT_EQ(fv_task_fail(&plain.deps, &plain.arena, &plain.tenant, &id, "x", &e),
                     FV_E_UNAVAILABLE);
    FV_ASSERT_INT_EQ(
        fv_task_cancel(&plain.deps, &plain.arena, &plain.tenant, &id, grpc_cancel, NULL, &e),
        FV_E_UNAVAILABLE);
    FV_ASSERT_INT_EQ(fv_task_report_progress(&plain.deps, &plain.tenant, &id, 0.5, NULL, &e),
                     FV_E_UNAVAILABLE);
    FV_ASSERT_INT_EQ(fv_task_log(&plain.deps, &plain.tenant, &id, FV_LOG_INFO, "m", &e),
                     FV_E_UNAVAILABLE);
    FV_ASSERT_INT_EQ(fv_task_stream(&plain.deps, &plain.tenant, &id, FV_TEV_DATA, J("1"), &e),
                     FV_E_UNAVAILABLE);
    FV_ASSERT_INT_EQ(fv_task_heartbeat(&plain.deps, &plain.tenant, &id, &e), FV_E_UNAVAILABLE);
    FV_ASSERT_INT_EQ(fv_task_state_set(&plain.deps, &plain.tenant, &id, "k", J("1"), &e),
                     FV_E_UNAVAILABLE);
    FV_ASSERT_INT_EQ(fv_query_task(&plain.deps, &plain.arena, &plain.tenant, &id, false, &t, &e),
                     FV_E_UNAVAILABLE);
    fv_task_backlog_list bl;
    FV_ASSERT_INT_EQ(fv_query_task_backlog(&plain.deps, &plain.arena, NULL, &bl, &e),
                     FV_E_UNAVAILABLE);
    fv_bus_sub *sub = NULL;
    FV_ASSERT_INT_EQ(fv_task_watch(&plain.deps, on_notice, NULL, &sub, &e), FV_E_UNAVAILABLE);
    fv_task_unwatch(&plain.deps, NULL);
    fv_fixture_release(&plain);
}

/* ---------------------------------------------------------------------- */
/* Submit                                                                 */
/* ---------------------------------------------------------------------- */

static void test_task_usecases__submit_fills_the_defaults(void)
{
    fv_fixture_advance(&fx, 5);
    fv_task_submit_request r = request("send-email", NULL);
    fv_task_submit_result res = must_submit_req(&r);
    const fv_task *t = &res.task;
    CU_ASSERT_TRUE(res.created);
    CU_ASSERT_FALSE(res.idempotency_key_used);
    CU_ASSERT_TRUE(res.no_online_worker);
    CU_ASSERT_TRUE(fv_uuid_eq(&t->tenant_id, &fx.tenant));
    CU_ASSERT_FALSE(t->workflow_execution_id.has);
    FV_ASSERT_STR_EQ(t->kind, "send-email");
    FV_ASSERT_STR_EQ(t->queue, "default");
    FV_ASSERT_INT_EQ(t->status, FV_TASK_PENDING);
    FV_ASSERT_STR_EQ(js(t->input), "null");
    CU_ASSERT_FALSE(fv_json_present(t->output));
    CU_ASSERT_PTR_NULL(t->error);
    FV_ASSERT_INT_EQ(t->n_metadata, 0);
    FV_ASSERT_INT_EQ(t->execution_count, 0);
    FV_ASSERT_INT_EQ(t->max_retries, 3);
    FV_ASSERT_INT_EQ(t->timeout_ms, FV_TASK_DEFAULT_TIMEOUT_MS);
    FV_ASSERT_INT_EQ(t->retry_policy.set, 0);
    CU_ASSERT_FALSE(t->has_progress);
    CU_ASSERT_PTR_NULL(t->worker_id);
    FV_ASSERT_INT_EQ(t->scheduled_at, T0 + 5);
    FV_ASSERT_INT_EQ(t->created_at, T0 + 5);
    FV_ASSERT_INT_EQ(t->started_at, FV_TIME_NONE);
    FV_ASSERT_INT_EQ(t->completed_at, FV_TIME_NONE);
    FV_ASSERT_INT_EQ(t->last_heartbeat_at, FV_TIME_NONE);
    CU_ASSERT_PTR_NULL(t->idempotency_key);
    FV_ASSERT_INT_EQ(t->last_event_id, 1);

    fv_task_event_list ev = events_of(&t->id);
    FV_ASSERT_INT_EQ(ev.n, 1);
    FV_ASSERT_INT_EQ(ev.items[0].id, 1);
    FV_ASSERT_INT_EQ(ev.items[0].type, FV_TEV_TASK_CREATED);
    FV_ASSERT_STR_EQ(js(ev.items[0].data), "{\"kind\":\"send-email\",\"queue\":\"default\","
                                           "\"scheduledAt\":\"2026-01-01T00:00:00.005Z\"}");

    /* Input and metadata as given, metadata by key. */
    fv_kv meta[] = {{"zeta", "1"}, {"alpha", "2"}, {"mid", ""}};
    r = request("send-email", "mail");
    r.input = J("{\"to\":\"a@b\"}");
    r.metadata = meta;
    r.n_metadata = 3;
    fv_task_submit_result res2 = must_submit_req(&r);
    t = &res2.task;
    FV_ASSERT_STR_EQ(js(t->input), "{\"to\":\"a@b\"}");
    FV_ASSERT_STR_EQ(t->queue, "mail");
    FV_ASSERT_INT_EQ(t->n_metadata, 3);
    FV_ASSERT_STR_EQ(t->metadata[0].key, "alpha");
    FV_ASSERT_STR_EQ(t->metadata[1].key, "mid");
    FV_ASSERT_STR_EQ(t->metadata[2].key, "zeta");
    FV_ASSERT_STR_EQ(t->metadata[2].value, "1");
    fv_task back = get_task(&t->id);
    FV_ASSERT_STR_EQ(back.metadata[0].key, "alpha");
    FV_ASSERT_STR_EQ(js(back.input), "{\"to\":\"a@b\"}");
}

/* One invalid submission: mutate a valid request; expect the error code
 * and a message containing `field`. */
typedef struct bad_submit {
    const char *name;
    fv_err code;
    const char *field;
    void (*mutate)(fv_task_submit_request *r);
} bad_submit;

static void m_kind_empty(fv_task_submit_request *r)
{
    r->kind = "";
}
static void m_kind_null(fv_task_submit_request *r)
{
    r->kind = NULL;
}
static void m_kind_long(fv_task_submit_request *r)
{
    r->kind = fv_fixture_str(&fx.arena, 'k', FV_TASK_KIND_MAX + 1);
}
static void m_kind_control(fv_task_submit_request *r)
{
    r->kind = "a\tb";
}
static void m_queue_long(fv_task_submit_request *r)
{
    r->queue = fv_fixture_str(&fx.arena, 'q', FV_TASK_QUEUE_MAX + 1);
}
static void m_queue_utf8(fv_task_submit_request *r)
{
    r->queue = "q\xc3";
}
static void m_input_big(fv_task_submit_request *r)
{
    r->input = fv_fixture_json(&fx.arena, FV_TASK_INPUT_MAX + 1);
}
static void m_meta_reserved(fv_task_submit_request *r)
{
    static fv_kv kv[] = {{"_flovyn_trace", "x"}};
    r->metadata = kv;
    r->n_metadata = 1;
}
static void m_meta_many(fv_task_submit_request *r)
{
    fv_kv *kv = fv_arena_calloc(&fx.arena, 51, sizeof *kv);
    for (size_t i = 0; i < 51; i++) {
        kv[i].key = fv_arena_printf(&fx.arena, "k%zu", i);
        kv[i].value = "v";
    }
    r->metadata = kv;
    r->n_metadata = 51;
}
static void m_meta_big(fv_task_submit_request *r)
{
    fv_kv *kv = fv_arena_calloc(&fx.arena, 1, sizeof *kv);
    kv[0].key = "k";
    kv[0].value = fv_fixture_str(&fx.arena, 'v', FV_TASK_META_MAX_BYTES);
    r->metadata = kv;
    r->n_metadata = 1;
}
static void m_retries_negative(fv_task_submit_request *r)
{
    r->has_max_retries = true;
    r->max_retries = -1;
}
static void m_retries_11(fv_task_submit_request *r)
{
    r->has_max_retries = true;
    r->max_retries = 11;
}
static void m_timeout_zero(fv_task_submit_request *r)
{
    r->has_timeout_ms = true;
    r->timeout_ms = 0;
}
static void m_timeout_huge(fv_task_submit_request *r)
{
    r->has_timeout_ms = true;
    r->timeout_ms = FV_TASK_TIMEOUT_MAX_MS + 1;
}
static void m_policy_coefficient(fv_task_submit_request *r)
{
    r->has_retry_policy = true;
    r->retry_policy.set = FV_RETRY_HAS_BACKOFF;
    r->retry_policy.backoff_coefficient = 0.5;
}
static void m_policy_delay(fv_task_submit_request *r)
{
    r->has_retry_policy = true;
    r->retry_policy.set = FV_RETRY_HAS_INITIAL_DELAY;
    r->retry_policy.initial_delay_ms = -1;
}
static void m_scheduled_far(fv_task_submit_request *r)
{
    r->has_scheduled_at = true;
    r->scheduled_at = T0 + FV_TASK_SCHEDULE_MAX_AHEAD_MS + 1;
}
static void m_scheduled_none(fv_task_submit_request *r)
{
    r->has_scheduled_at = true;
    r->scheduled_at = FV_TIME_NONE;
}
static void m_meta_missing(fv_task_submit_request *r)
{
    r->metadata = NULL;
    r->n_metadata = 2;
}
static void m_key_empty(fv_task_submit_request *r)
{
    r->idempotency_key = "";
}
static void m_key_long(fv_task_submit_request *r)
{
    r->idempotency_key = fv_fixture_str(&fx.arena, 'i', FV_TASK_IDEM_KEY_MAX + 1);
}
static void m_key_utf8(fv_task_submit_request *r)
{
    r->idempotency_key = "\xff";
}
static void m_ttl_zero(fv_task_submit_request *r)
{
    r->idempotency_key = "k";
    r->has_idempotency_ttl = true;
    r->idempotency_ttl_seconds = 0;
}
static void m_ttl_long(fv_task_submit_request *r)
{
    r->idempotency_key = "k";
    r->has_idempotency_ttl = true;
    r->idempotency_ttl_seconds = FV_TASK_IDEM_TTL_MAX_S + 1;
}
static void m_workflow_bad(fv_task_submit_request *r)
{
    r->workflow_execution_id = "not-a-uuid";
}
static void m_workflow_unknown(fv_task_submit_request *r)
{
    r->workflow_execution_id = "0b7e1a52-3c6f-4d8e-9a10-5f2b3c4d5e6f";
}

static const bad_submit bad_submits[] = {
    {"kind empty", FV_E_INVALID, "kind", m_kind_empty},
    {"kind missing", FV_E_INVALID, "kind", m_kind_null},
    {"kind too long", FV_E_INVALID, "kind", m_kind_long},
    {"kind with a tab", FV_E_INVALID, "kind", m_kind_control},
    {"queue too long", FV_E_INVALID, "queue", m_queue_long},
    {"queue not UTF-8", FV_E_INVALID, "queue", m_queue_utf8},
    {"input over 1 MiB", FV_E_INVALID, "input", m_input_big},
    {"metadata key reserved", FV_E_INVALID, "metadata", m_meta_reserved},
    {"metadata 51 keys", FV_E_INVALID, "metadata", m_meta_many},
    {"metadata over 64 KiB", FV_E_INVALID, "metadata", m_meta_big},
    {"maxRetries -1", FV_E_INVALID, "maxRetries", m_retries_negative},
    {"maxRetries 11", FV_E_INVALID, "maxRetries", m_retries_11},
    {"timeout 0", FV_E_INVALID, "timeout", m_timeout_zero},
    {"timeout over a year", FV_E_INVALID, "timeout", m_timeout_huge},
    {"backoff below 1", FV_E_INVALID, "retryPolicy.backoffCoefficient", m_policy_coefficient},
    {"initial delay negative", FV_E_INVALID, "retryPolicy.initialDelayMs", m_policy_delay},
    {"scheduledAt too far", FV_E_INVALID, "scheduledAt", m_scheduled_far},
    {"scheduledAt not a time", FV_E_INVALID, "scheduledAt", m_scheduled_none},
    {"metadata count without entries", FV_E_INVALID, "metadata", m_meta_missing},
    {"idempotency key empty", FV_E_INVALID, "idempotencyKey", m_key_empty},
    {"idempotency key too long", FV_E_INVALID, "idempotencyKey", m_key_long},
    {"idempotency key not UTF-8", FV_E_INVALID, "idempotencyKey", m_key_utf8},
    {"ttl 0", FV_E_INVALID, "idempotencyKeyTtlSeconds", m_ttl_zero},
    {"ttl over 30 days", FV_E_INVALID, "idempotencyKeyTtlSeconds", m_ttl_long},
    {"workflow id not a UUID", FV_E_INVALID, "workflow_execution_id", m_workflow_bad},
    {"workflow unknown", FV_E_NOT_FOUND,
     "workflow execution 0b7e1a52-3c6f-4d8e-9a10-5f2b3c4d5e6f not found", m_workflow_unknown},
};

static void test_task_usecases__every_invalid_submission_names_its_field_and_changes_nothing(void)
{
    heard h = {.mu = PTHREAD_MUTEX_INITIALIZER};
    fv_bus_sub *sub = NULL;
    FV_ASSERT_INT_EQ(fv_task_watch(&fx.deps, on_notice, &h, &sub, NULL), FV_OK);
    for (size_t i = 0; i < sizeof bad_submits / sizeof bad_submits[0]; i++) {
        const bad_submit *b = &bad_submits[i];
        fv_task_submit_request r = request("k", "q");
        b->mutate(&r);
        fv_error e;
        fv_task_submit_result res;
        fv_err rc = fv_task_submit(&fx.deps, &fx.arena, &r, &res, &e);
        if (rc != b->code || strstr(e.msg, b->field) == NULL)
            fprintf(stderr, "\n  %s: %s \"%s\"\n", b->name, fv_err_name(rc), e.msg);
        FV_ASSERT_INT_EQ(rc, b->code);
        CU_ASSERT_TRUE(msg_has(&e, b->field));
    }
    FV_ASSERT_INT_EQ(count_tasks(), 0);
    FV_ASSERT_STR_EQ(drain(&h, NULL), "");
    fv_task_unwatch(&fx.deps, sub);

    /* The limits themselves pass. */
    fv_task_submit_request r = request(fv_fixture_str(&fx.arena, 'k', FV_TASK_KIND_MAX),
                                       fv_fixture_str(&fx.arena, 'q', FV_TASK_QUEUE_MAX));
    r.input = fv_fixture_json(&fx.arena, FV_TASK_INPUT_MAX);
    r.has_max_retries = true;
    r.max_retries = 10;
    r.has_timeout_ms = true;
    r.timeout_ms = FV_TASK_TIMEOUT_MAX_MS;
    r.has_scheduled_at = true;
    r.scheduled_at = T0 + FV_TASK_SCHEDULE_MAX_AHEAD_MS;
    r.idempotency_key = fv_fixture_str(&fx.arena, 'i', FV_TASK_IDEM_KEY_MAX);
    r.has_idempotency_ttl = true;
    r.idempotency_ttl_seconds = FV_TASK_IDEM_TTL_MAX_S;
    fv_task_submit_result res = must_submit_req(&r);
    FV_ASSERT_INT_EQ(res.task.max_retries, 10);
    FV_ASSERT_INT_EQ(res.task.timeout_ms, FV_TASK_TIMEOUT_MAX_MS);
    FV_ASSERT_INT_EQ(res.task.scheduled_at, T0 + FV_TASK_SCHEDULE_MAX_AHEAD_MS);
    CU_ASSERT_TRUE(res.idempotency_key_used);
    FV_ASSERT_INT_EQ(count_tasks(), 1);
}

/* ---------------------------------------------------------------------- */
/* The state machine                                                      */
/* ---------------------------------------------------------------------- */

static void test_task_usecases__a_task_runs_end_to_end(void)
{
    fv_error e;
    fv_task t = must_submit("resize", "img");
    fv_fixture_advance(&fx, 100);
    fv_task c = must_claim("img", "worker-a");
    CU_ASSERT_TRUE(fv_uuid_eq(&c.id, &t.id));
    FV_ASSERT_INT_EQ(c.status, FV_TASK_RUNNING);
    FV_ASSERT_INT_EQ(c.execution_count, 1);
    FV_ASSERT_STR_EQ(c.worker_id, "worker-a");
    CU_ASSERT_FALSE(c.worker_uuid.has); /* no registered worker of that name */
    FV_ASSERT_INT_EQ(c.started_at, T0 + 100);
    FV_ASSERT_INT_EQ(c.last_heartbeat_at, T0 + 100);
    FV_ASSERT_INT_EQ(c.last_event_id, 2);

    fv_fixture_advance(&fx, 10);
    FV_ASSERT_INT_EQ(fv_task_heartbeat(&fx.deps, &fx.tenant, &t.id, &e), FV_OK);
    FV_ASSERT_INT_EQ(get_task(&t.id).last_heartbeat_at, T0 + 110);
    FV_ASSERT_INT_EQ(fv_task_report_progress(&fx.deps, &fx.tenant, &t.id, 0.5, "half", &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_log(&fx.deps, &fx.tenant, &t.id, FV_LOG_WARN, "slow \"disk\"", &e),
                     FV_OK);
    FV_ASSERT_INT_EQ(
        fv_task_stream(&fx.deps, &fx.tenant, &t.id, FV_TEV_TOKEN, J("{\"type\":\"token\"}"), &e),
        FV_OK);
    fv_task mid = get_task(&t.id);
    CU_ASSERT_TRUE(mid.has_progress);
    CU_ASSERT_DOUBLE_EQUAL(mid.progress, 0.5, 1e-12);
    FV_ASSERT_STR_EQ(mid.progress_details, "half");

    fv_fixture_advance(&fx, 40);
    FV_ASSERT_INT_EQ(complete(&t.id, "{\"w\":64}", &e), FV_OK);
    fv_task done = get_task(&t.id);
    FV_ASSERT_INT_EQ(done.status, FV_TASK_COMPLETED);
    FV_ASSERT_STR_EQ(js(done.output), "{\"w\":64}");
    FV_ASSERT_INT_EQ(done.completed_at, T0 + 150);
    FV_ASSERT_INT_EQ(done.execution_count, 1);
    FV_ASSERT_STR_EQ(event_types(&t.id),
                     "TASK_CREATED,TASK_STARTED,PROGRESS,LOG,TOKEN,TASK_COMPLETED");
    fv_task_event_list ev = events_of(&t.id);
    FV_ASSERT_STR_EQ(js(ev.items[1].data), "{\"attempt\":1,\"workerId\":\"worker-a\"}");
    FV_ASSERT_STR_EQ(js(ev.items[2].data), "{\"progress\":0.5,\"details\":\"half\"}");
    FV_ASSERT_INT_EQ(ev.items[3].level, FV_LOG_WARN);
    FV_ASSERT_STR_EQ(ev.items[3].message, "slow \"disk\"");
    FV_ASSERT_STR_EQ(js(ev.items[3].data),
                     "{\"level\":\"WARN\",\"message\":\"slow \\\"disk\\\"\"}");
    FV_ASSERT_STR_EQ(js(ev.items[4].data), "{\"type\":\"token\"}");
    FV_ASSERT_STR_EQ(js(ev.items[5].data), "{\"attempt\":1,\"output\":{\"w\":64}}");

    fv_task_attempt_list at = attempts_of(&t.id);
    FV_ASSERT_INT_EQ(at.n, 1);
    FV_ASSERT_INT_EQ(at.items[0].attempt, 1);
    FV_ASSERT_INT_EQ(at.items[0].status, FV_ATTEMPT_COMPLETED);
    FV_ASSERT_INT_EQ(at.items[0].started_at, T0 + 100);
    FV_ASSERT_INT_EQ(at.items[0].finished_at, T0 + 150);
    FV_ASSERT_INT_EQ(at.items[0].duration_ms, 50);
    FV_ASSERT_STR_EQ(at.items[0].worker_id, "worker-a");
    FV_ASSERT_STR_EQ(js(at.items[0].output), "{\"w\":64}");

    /* Late calls: Complete/Fail refused, nothing changes. */
    FV_ASSERT_INT_EQ(complete(&t.id, "1", &e), FV_E_PRECONDITION);
    CU_ASSERT_TRUE(msg_has(&e, "is COMPLETED, not RUNNING"));
    FV_ASSERT_INT_EQ(fail(&t.id, "late", &e), FV_E_PRECONDITION);
    FV_ASSERT_INT_EQ(fv_task_heartbeat(&fx.deps, &fx.tenant, &t.id, &e), FV_E_PRECONDITION);
    /* Late progress and stream data: accepted and ignored; late logs kept. */
    FV_ASSERT_INT_EQ(fv_task_report_progress(&fx.deps, &fx.tenant, &t.id, 0.9, NULL, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_stream(&fx.deps, &fx.tenant, &t.id, FV_TEV_DATA, J("2"), &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_log(&fx.deps, &fx.tenant, &t.id, FV_LOG_INFO, "after", &e), FV_OK);
    fv_task after = get_task(&t.id);
    FV_ASSERT_INT_EQ(after.status, FV_TASK_COMPLETED);
    CU_ASSERT_DOUBLE_EQUAL(after.progress, 0.5, 1e-12);
    FV_ASSERT_STR_EQ(js(after.output), "{\"w\":64}");
    FV_ASSERT_STR_EQ(event_types(&t.id),
                     "TASK_CREATED,TASK_STARTED,PROGRESS,LOG,TOKEN,TASK_COMPLETED,LOG");
    FV_ASSERT_INT_EQ(attempts_of(&t.id).n, 1);

    /* Complete without output stores JSON null. */
    fv_task u = must_submit("resize", "img");
    must_claim("img", "worker-a");
    FV_ASSERT_INT_EQ(complete(&u.id, NULL, &e), FV_OK);
    FV_ASSERT_STR_EQ(js(get_task(&u.id).output), "null");
    /* Empty text (an empty bytes field) too. */
    fv_task v = must_submit("resize", "img");
    must_claim("img", "worker-a");
    FV_ASSERT_INT_EQ(fv_task_complete(&fx.deps, &fx.arena, &fx.tenant, &v.id, (fv_json){"", 0}, &e),
                     FV_OK);
    FV_ASSERT_STR_EQ(js(get_task(&v.id).output), "null");
}

/* Fail every attempt of a task with max_retries `max` until it is FAILED;
 * the attempts it took. */
static int run_until_failed(int max)
{
    fv_task_submit_request r = request("flaky", "retry");
    r.has_max_retries = true;
    r.max_retries = max;
    fv_task t = must_submit_req(&r).task;
    for (int attempt = 1; attempt <= 20; attempt++) {
        fv_task c = must_claim("retry", "w");
        FV_ASSERT_INT_EQ(c.execution_count, attempt);
        fv_error e;
        FV_ASSERT_INT_EQ(fail(&t.id, "boom", &e), FV_OK);
        fv_task after = get_task(&t.id);
        if (after.status == FV_TASK_FAILED) {
            FV_ASSERT_INT_EQ(after.execution_count, attempt);
            FV_ASSERT_STR_EQ(after.error, "boom");
            fv_task_attempt_list at = attempts_of(&t.id);
            FV_ASSERT_INT_EQ(at.n, (size_t)attempt);
            for (size_t i = 0; i < at.n; i++) {
                FV_ASSERT_INT_EQ(at.items[i].attempt, (int)i + 1);
                FV_ASSERT_INT_EQ(at.items[i].status, FV_ATTEMPT_FAILED);
                FV_ASSERT_STR_EQ(at.items[i].error, "boom");
            }
            /* Nothing left to claim. */
            fv_task none;
            CU_ASSERT_FALSE(claim("retry", "w", &none, NULL));
            return attempt;
        }
        FV_ASSERT_INT_EQ(after.status, FV_TASK_PENDING);
        FV_ASSERT_STR_EQ(after.error, "boom");
        FV_ASSERT_INT_EQ(after.scheduled_at, fv_fixture_now(&fx)); /* no backoff */
    }
    return -1;
}

static void test_task_usecases__retries_follow_max_retries(void)
{
    FV_ASSERT_INT_EQ(run_until_failed(0), 1);
    FV_ASSERT_INT_EQ(run_until_failed(3), 4);
    FV_ASSERT_INT_EQ(run_until_failed(10), 11);

    /* The event record of a task with one retry. */
    fv_task_submit_request r = request("flaky", "one");
    r.has_max_retries = true;
    r.max_retries = 1;
    fv_task t = must_submit_req(&r).task;
    must_claim("one", "w");
    FV_ASSERT_INT_EQ(fail(&t.id, "first", NULL), FV_OK);
    must_claim("one", "w");
    FV_ASSERT_INT_EQ(fail(&t.id, "second", NULL), FV_OK);
    FV_ASSERT_STR_EQ(event_types(&t.id),
                     "TASK_CREATED,TASK_STARTED,RETRY,TASK_STARTED,TASK_FAILED");
    fv_task_event_list ev = events_of(&t.id);
    FV_ASSERT_STR_EQ(js(ev.items[2].data),
                     "{\"attempt\":1,\"status\":\"FAILED\",\"error\":\"first\","
                     "\"nextAttemptAt\":\"2026-01-01T00:00:00.000Z\"}");
    FV_ASSERT_STR_EQ(js(ev.items[4].data),
                     "{\"attempt\":2,\"status\":\"FAILED\",\"error\":\"second\"}");
    fv_task f = get_task(&t.id);
    FV_ASSERT_STR_EQ(f.error, "second");
    FV_ASSERT_INT_EQ(f.completed_at, T0);

    /* A retry then a success: COMPLETED with execution_count 2. */
    fv_task s = must_submit("flaky", "ok");
    must_claim("ok", "w");
    FV_ASSERT_INT_EQ(fail(&s.id, NULL, NULL), FV_OK);
    FV_ASSERT_INT_EQ(must_claim("ok", "w").execution_count, 2);
    FV_ASSERT_INT_EQ(complete(&s.id, "true", NULL), FV_OK);
    fv_task sd = get_task(&s.id);
    FV_ASSERT_INT_EQ(sd.status, FV_TASK_COMPLETED);
    FV_ASSERT_INT_EQ(sd.execution_count, 2);
    fv_task_attempt_list at = attempts_of(&s.id);
    FV_ASSERT_INT_EQ(at.n, 2);
    FV_ASSERT_INT_EQ(at.items[0].status, FV_ATTEMPT_FAILED);
    CU_ASSERT_PTR_NULL(at.items[0].error);
    FV_ASSERT_INT_EQ(at.items[1].status, FV_ATTEMPT_COMPLETED);
}

static void test_task_usecases__backoff_delays_the_next_attempt(void)
{
    fv_task_submit_request r = request("flaky", "slow");
    r.has_max_retries = true;
    r.max_retries = 10;
    r.has_retry_policy = true;
    r.retry_policy.set = FV_RETRY_HAS_INITIAL_DELAY | FV_RETRY_HAS_BACKOFF | FV_RETRY_HAS_MAX_DELAY;
    r.retry_policy.initial_delay_ms = 1000;
    r.retry_policy.backoff_coefficient = 2.0;
    r.retry_policy.max_delay_ms = 3000;
    fv_task t = must_submit_req(&r).task;
    FV_ASSERT_INT_EQ(t.retry_policy.initial_delay_ms, 1000);
    const int64_t expected[] = {1000, 2000, 3000, 3000, 3000};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        must_claim("slow", "w");
        fv_time failed_at = fv_fixture_now(&fx);
        FV_ASSERT_INT_EQ(fail(&t.id, "again", NULL), FV_OK);
        fv_task p = get_task(&t.id);
        FV_ASSERT_INT_EQ(p.status, FV_TASK_PENDING);
        FV_ASSERT_INT_EQ(p.scheduled_at - failed_at, expected[i]);
        /* Not claimable before; the poll learns when to look again. */
        fv_task none;
        fv_time next = 0;
        fv_fixture_advance(&fx, expected[i] - 1);
        CU_ASSERT_FALSE(claim("slow", "w", &none, &next));
        FV_ASSERT_INT_EQ(next, failed_at + expected[i]);
        fv_fixture_advance(&fx, 1);
    }
    fv_task_event_list ev = events_of(&t.id);
    FV_ASSERT_STR_EQ(js(ev.items[2].data), "{\"attempt\":1,\"status\":\"FAILED\",\"error\":"
                                           "\"again\",\"nextAttemptAt\":\"2026-01-01T00:00:"
                                           "01.000Z\"}");
}

static void test_task_usecases__error_text_is_cut_at_a_character_boundary(void)
{
    fv_task t = must_submit("k", "q");
    must_claim("q", "w");
    /* FV_TASK_ERROR_MAX - 1 ASCII bytes then "é" (2 bytes): cutting at the
     * limit would split the character; the cut goes before it. */
    char *text = fv_fixture_str(&fx.arena, 'a', FV_TASK_ERROR_MAX + 10);
    memcpy(text + FV_TASK_ERROR_MAX - 1, "\xc3\xa9", 2);
    FV_ASSERT_INT_EQ(fail(&t.id, text, NULL), FV_OK);
    fv_task f = get_task(&t.id);
    FV_ASSERT_INT_EQ(strlen(f.error), FV_TASK_ERROR_MAX - 1);
    CU_ASSERT_EQUAL(f.error[FV_TASK_ERROR_MAX - 2], 'a');

    /* Exactly the limit is kept whole. */
    must_claim("q", "w");
    text = fv_fixture_str(&fx.arena, 'b', FV_TASK_ERROR_MAX);
    FV_ASSERT_INT_EQ(fail(&t.id, text, NULL), FV_OK);
    FV_ASSERT_INT_EQ(strlen(get_task(&t.id).error), FV_TASK_ERROR_MAX);

    /* Bytes that are not UTF-8 become U+FFFD. */
    must_claim("q", "w");
    FV_ASSERT_INT_EQ(fail(&t.id, "bad \xff byte \xc3", NULL), FV_OK);
    FV_ASSERT_STR_EQ(get_task(&t.id).error, "bad \xef\xbf\xbd byte \xef\xbf\xbd");
}

/* ---------------------------------------------------------------------- */
/* Idempotency                                                            */
/* ---------------------------------------------------------------------- */

static void test_task_usecases__idempotency_keys(void)
{
    fv_error e;
    fv_task_submit_request r = request("charge", "pay");
    r.idempotency_key = "order-42";
    fv_task_submit_result first = must_submit_req(&r);
    CU_ASSERT_TRUE(first.created);
    CU_ASSERT_TRUE(first.idempotency_key_used);
    FV_ASSERT_STR_EQ(first.task.idempotency_key, "order-42");

    /* Same key, same kind: the same task. */
    fv_fixture_advance(&fx, 1000);
    fv_task_submit_result again = must_submit_req(&r);
    CU_ASSERT_FALSE(again.created);
    CU_ASSERT_TRUE(again.idempotency_key_used);
    CU_ASSERT_TRUE(fv_uuid_eq(&again.task.id, &first.task.id));
    FV_ASSERT_INT_EQ(count_tasks(), 1);

    /* Same key, another kind: a conflict naming the key and both kinds. */
    fv_task_submit_request other = r;
    other.kind = "refund";
    fv_task_submit_result res;
    FV_ASSERT_INT_EQ(fv_task_submit(&fx.deps, &fx.arena, &other, &res, &e), FV_E_CONFLICT);
    CU_ASSERT_TRUE(msg_has(&e, "order-42"));
    CU_ASSERT_TRUE(msg_has(&e, "\"charge\""));
    CU_ASSERT_TRUE(msg_has(&e, "\"refund\""));
    FV_ASSERT_INT_EQ(count_tasks(), 1);

    /* While RUNNING and COMPLETED the key still answers the task. */
    must_claim("pay", "w");
    CU_ASSERT_FALSE(must_submit_req(&r).created);
    FV_ASSERT_INT_EQ(complete(&first.task.id, "1", NULL), FV_OK);
    CU_ASSERT_FALSE(must_submit_req(&r).created);

    /* FAILED: the key may be reused. */
    fv_task_submit_request rf = request("charge", "pay");
    rf.idempotency_key = "order-43";
    rf.has_max_retries = true;
    rf.max_retries = 0;
    fv_task_submit_result f1 = must_submit_req(&rf);
    must_claim("pay", "w");
    FV_ASSERT_INT_EQ(fail(&f1.task.id, "no", NULL), FV_OK);
    fv_task_submit_result f2 = must_submit_req(&rf);
    CU_ASSERT_TRUE(f2.created);
    CU_ASSERT_FALSE(fv_uuid_eq(&f1.task.id, &f2.task.id));
    /* ... and the new task holds it now. */
    CU_ASSERT_TRUE(same_id(must_submit_req(&rf).task, &f2.task.id));

    /* CANCELLED: reusable too, with another kind even. */
    fv_task_submit_request rc = request("charge", "pay");
    rc.idempotency_key = "order-44";
    fv_task_submit_result c1 = must_submit_req(&rc);
    FV_ASSERT_INT_EQ(
        fv_task_cancel(&fx.deps, &fx.arena, &fx.tenant, &c1.task.id, rest_cancel, NULL, &e), FV_OK);
    rc.kind = "refund";
    fv_task_submit_result c2 = must_submit_req(&rc);
    CU_ASSERT_TRUE(c2.created);
    FV_ASSERT_STR_EQ(c2.task.kind, "refund");

    /* Expired: reusable once the TTL has passed. */
    fv_task_submit_request rt = request("charge", "pay");
    rt.idempotency_key = "order-45";
    rt.has_idempotency_ttl = true;
    rt.idempotency_ttl_seconds = 60;
    fv_task_submit_result t1 = must_submit_req(&rt);
    fv_fixture_advance(&fx, 59999);
    CU_ASSERT_FALSE(must_submit_req(&rt).created);
    fv_fixture_advance(&fx, 1);
    fv_task_submit_result t2 = must_submit_req(&rt);
    CU_ASSERT_TRUE(t2.created);
    CU_ASSERT_FALSE(fv_uuid_eq(&t1.task.id, &t2.task.id));

    /* Keys are per tenant. */
    fv_uuid other_tenant;
    FV_ASSERT_INT_EQ(fv_fixture_add_tenant(&fx, "globex", &other_tenant), FV_OK);
    fv_task_submit_request ro = r;
    ro.tenant_id = other_tenant;
    fv_task_submit_result o = must_submit_req(&ro);
    CU_ASSERT_TRUE(o.created);
    CU_ASSERT_FALSE(fv_uuid_eq(&o.task.id, &first.task.id));
}

/* ---------------------------------------------------------------------- */
/* Claims                                                                 */
/* ---------------------------------------------------------------------- */

static void test_task_usecases__scheduled_tasks_wait_for_their_time(void)
{
    fv_fixture_advance(&fx, 10000);
    fv_time now = fv_fixture_now(&fx);
    fv_task_submit_request r = request("later", "sched");
    r.has_scheduled_at = true;
    r.scheduled_at = now + 3600000;
    fv_task later = must_submit_req(&r).task;
    FV_ASSERT_INT_EQ(later.scheduled_at, now + 3600000);

    /* A time in the past means now. */
    r.scheduled_at = now - 5000;
    fv_task past = must_submit_req(&r).task;
    FV_ASSERT_INT_EQ(past.scheduled_at, now);

    fv_task got = must_claim("sched", "w");
    CU_ASSERT_TRUE(fv_uuid_eq(&got.id, &past.id));
    fv_task none;
    fv_time next = 0;
    CU_ASSERT_FALSE(claim("sched", "w", &none, &next));
    FV_ASSERT_INT_EQ(next, now + 3600000);
    fv_fixture_advance(&fx, 3600000 - 1);
    CU_ASSERT_FALSE(claim("sched", "w", &none, &next));
    fv_fixture_advance(&fx, 1);
    got = must_claim("sched", "w");
    CU_ASSERT_TRUE(fv_uuid_eq(&got.id, &later.id));
    CU_ASSERT_FALSE(claim("sched", "w", &none, &next));
    FV_ASSERT_INT_EQ(next, FV_TIME_NONE);
}

static void test_task_usecases__claims_take_the_oldest_of_their_tenant_and_queue(void)
{
    fv_task a = must_submit("k", "q1");
    fv_fixture_advance(&fx, 1);
    fv_task b = must_submit("k", "q2");
    fv_fixture_advance(&fx, 1);
    fv_task c = must_submit("k", "q1");
    fv_uuid other_tenant;
    FV_ASSERT_INT_EQ(fv_fixture_add_tenant(&fx, "globex", &other_tenant), FV_OK);
    fv_task_submit_request ro = request("k", "q1");
    ro.tenant_id = other_tenant;
    fv_task o = must_submit_req(&ro).task;

    CU_ASSERT_TRUE(same_id(must_claim("q1", "w"), &a.id));
    CU_ASSERT_TRUE(same_id(must_claim("q1", "w"), &c.id));
    fv_task none;
    CU_ASSERT_FALSE(claim("q1", "w", &none, NULL));
    CU_ASSERT_TRUE(same_id(must_claim("q2", "w"), &b.id));
    /* NULL or "" is the default queue. */
    fv_task d = must_submit("k", "");
    CU_ASSERT_TRUE(same_id(must_claim(NULL, "w"), &d.id));

    /* The other tenant's task is its own. */
    bool found = false;
    fv_time next;
    fv_task got;
    FV_ASSERT_INT_EQ(
        fv_task_claim(&fx.deps, &fx.arena, &other_tenant, "q1", "w", &got, &found, &next, NULL),
        FV_OK);
    CU_ASSERT_TRUE(found && fv_uuid_eq(&got.id, &o.id));
    /* And invisible to this tenant's calls. */
    fv_error e;
    FV_ASSERT_INT_EQ(complete(&o.id, "1", &e), FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_task_cancel(&fx.deps, &fx.arena, &fx.tenant, &o.id, grpc_cancel, NULL, &e),
                     FV_E_NOT_FOUND);
    fv_task t;
    FV_ASSERT_INT_EQ(fv_query_task(&fx.deps, &fx.arena, &fx.tenant, &o.id, false, &t, &e),
                     FV_E_NOT_FOUND);
}

static void test_task_usecases__claim_checks_its_input(void)
{
    fv_error e;
    fv_task t;
    bool found;
    fv_time next;
    FV_ASSERT_INT_EQ(fv_task_claim(&fx.deps, &fx.arena, &fx.tenant, "q", "", &t, &found, &next, &e),
                     FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "worker_id"));
    FV_ASSERT_INT_EQ(fv_task_claim(&fx.deps, &fx.arena, &fx.tenant, "q",
                                   fv_fixture_str(&fx.arena, 'w', FV_TASK_WORKER_ID_MAX + 1), &t,
                                   &found, &next, &e),
                     FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "worker_id"));
    FV_ASSERT_INT_EQ(fv_task_claim(&fx.deps, &fx.arena, &fx.tenant,
                                   fv_fixture_str(&fx.arena, 'q', FV_TASK_QUEUE_MAX + 1), "w", &t,
                                   &found, &next, &e),
                     FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "queue"));
}

static void test_task_usecases__a_poll_is_a_sign_of_life_and_names_the_worker(void)
{
    fv_uuid wid = register_worker("pool-a", 1);
    fv_task t1 = must_submit("task-0", "q");
    fv_task t2 = must_submit("task-0", "q");
    fv_fixture_advance(&fx, 30000);

    /* By name. */
    fv_task c = must_claim("q", "pool-a");
    CU_ASSERT_TRUE(fv_uuid_eq(&c.id, &t1.id));
    CU_ASSERT_TRUE(c.worker_uuid.has && fv_uuid_eq(&c.worker_uuid.id, &wid));
    FV_ASSERT_STR_EQ(c.worker_id, "pool-a");
    fv_worker w;
    FV_ASSERT_INT_EQ(fv_query_worker(&fx.deps, &fx.arena, &fx.tenant, &wid, &w, NULL), FV_OK);
    FV_ASSERT_INT_EQ(w.last_seen_at, T0 + 30000);

    /* By id (the registered UUID text). */
    fv_fixture_advance(&fx, 1000);
    const char *idtext = fv_uuid_str(&fx.arena, &wid);
    c = must_claim("q", idtext);
    CU_ASSERT_TRUE(fv_uuid_eq(&c.id, &t2.id));
    CU_ASSERT_TRUE(c.worker_uuid.has && fv_uuid_eq(&c.worker_uuid.id, &wid));
    FV_ASSERT_STR_EQ(c.worker_id, idtext);
    FV_ASSERT_INT_EQ(fv_query_worker(&fx.deps, &fx.arena, &fx.tenant, &wid, &w, NULL), FV_OK);
    FV_ASSERT_INT_EQ(w.last_seen_at, T0 + 31000);

    /* An empty poll is a sign of life too. */
    fv_fixture_advance(&fx, 1000);
    fv_task none;
    CU_ASSERT_FALSE(claim("q", "pool-a", &none, NULL));
    FV_ASSERT_INT_EQ(fv_query_worker(&fx.deps, &fx.arena, &fx.tenant, &wid, &w, NULL), FV_OK);
    FV_ASSERT_INT_EQ(w.last_seen_at, T0 + 32000);
}

/* ---------------------------------------------------------------------- */
/* Effective settings                                                     */
/* ---------------------------------------------------------------------- */

static void test_task_usecases__settings_come_from_request_then_definition_then_defaults(void)
{
    static const fv_space_sel tenant_level = {.mode = FV_SPACE_NONE};
    register_worker("w", 2);
    fv_def_config_patch p;
    memset(&p, 0, sizeof p);
    p.timeout_op = FV_PATCH_SET;
    p.timeout_seconds = 120;
    p.retry_op = FV_PATCH_SET;
    p.retry_policy.set = FV_RETRY_HAS_MAX_RETRIES | FV_RETRY_HAS_INITIAL_DELAY;
    p.retry_policy.max_retries = 5;
    p.retry_policy.initial_delay_ms = 250;
    fv_definition def;
    FV_ASSERT_INT_EQ(fv_definition_configure(&fx.deps, &fx.arena, FV_DEF_TASK, &fx.tenant,
                                             &tenant_level, "task-0", &p, &def, NULL),
                     FV_OK);

    /* From the definition's configuration. */
    fv_task_submit_result r0 =
        must_submit_req(&(fv_task_submit_request){.tenant_id = fx.tenant, .kind = "task-0"});
    FV_ASSERT_INT_EQ(r0.task.max_retries, 5);
    FV_ASSERT_INT_EQ(r0.task.timeout_ms, 120000);
    FV_ASSERT_INT_EQ(r0.task.retry_policy.initial_delay_ms, 250);
    CU_ASSERT_FALSE(r0.no_online_worker);

    /* The request wins field by field. */
    fv_task_submit_request rq = request("task-0", NULL);
    rq.has_max_retries = true;
    rq.max_retries = 1;
    rq.has_timeout_ms = true;
    rq.timeout_ms = 10;
    fv_task t = must_submit_req(&rq).task;
    FV_ASSERT_INT_EQ(t.max_retries, 1);
    FV_ASSERT_INT_EQ(t.timeout_ms, 10);
    FV_ASSERT_INT_EQ(t.retry_policy.initial_delay_ms, 250); /* backoff still the definition's */
    rq.has_retry_policy = true;
    rq.retry_policy.set = FV_RETRY_HAS_INITIAL_DELAY;
    rq.retry_policy.initial_delay_ms = 7;
    t = must_submit_req(&rq).task;
    FV_ASSERT_INT_EQ(t.retry_policy.initial_delay_ms, 7);
    /* A request policy's maxRetries counts when maxRetries itself is absent. */
    rq.has_max_retries = false;
    rq.retry_policy.set |= FV_RETRY_HAS_MAX_RETRIES;
    rq.retry_policy.max_retries = 2;
    FV_ASSERT_INT_EQ(must_submit_req(&rq).task.max_retries, 2);

    /* task-1: declared by the worker, not configured: defaults. */
    fv_task_submit_result r1 =
        must_submit_req(&(fv_task_submit_request){.tenant_id = fx.tenant, .kind = "task-1"});
    FV_ASSERT_INT_EQ(r1.task.max_retries, FV_TASK_DEFAULT_MAX_RETRIES);
    FV_ASSERT_INT_EQ(r1.task.timeout_ms, FV_TASK_DEFAULT_TIMEOUT_MS);
    FV_ASSERT_INT_EQ(r1.task.retry_policy.set, 0);
    CU_ASSERT_FALSE(r1.no_online_worker);

    /* The configured retry applies: 5 retries with 250 ms between. */
    fv_task_submit_result rr = must_submit_req(
        &(fv_task_submit_request){.tenant_id = fx.tenant, .kind = "task-0", .queue = "cfg"});
    must_claim("cfg", "w");
    fv_time now = fv_fixture_now(&fx);
    FV_ASSERT_INT_EQ(fail(&rr.task.id, "x", NULL), FV_OK);
    FV_ASSERT_INT_EQ(get_task(&rr.task.id).scheduled_at, now + 250);

    /* Clearing the configuration: back to defaults for new tasks only. */
    p.timeout_op = FV_PATCH_CLEAR;
    p.retry_op = FV_PATCH_CLEAR;
    FV_ASSERT_INT_EQ(fv_definition_configure(&fx.deps, &fx.arena, FV_DEF_TASK, &fx.tenant,
                                             &tenant_level, "task-0", &p, &def, NULL),
                     FV_OK);
    fv_task_submit_result rc =
        must_submit_req(&(fv_task_submit_request){.tenant_id = fx.tenant, .kind = "task-0"});
    FV_ASSERT_INT_EQ(rc.task.max_retries, FV_TASK_DEFAULT_MAX_RETRIES);
    FV_ASSERT_INT_EQ(rc.task.timeout_ms, FV_TASK_DEFAULT_TIMEOUT_MS);
    FV_ASSERT_INT_EQ(get_task(&r0.task.id).timeout_ms, 120000);
}

static void test_task_usecases__declared_settings_apply_when_not_configured(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    r.tasks[0].has_timeout = true;
    r.tasks[0].timeout_seconds = 30;
    r.tasks[0].has_retry_policy = true;
    r.tasks[0].retry_policy.set = FV_RETRY_HAS_MAX_RETRIES;
    r.tasks[0].retry_policy.max_retries = 0;
    FV_ASSERT_INT_EQ(fv_fixture_register(&fx, &r, NULL), FV_OK);
    fv_task t = must_submit("task-0", NULL);
    FV_ASSERT_INT_EQ(t.timeout_ms, 30000);
    FV_ASSERT_INT_EQ(t.max_retries, 0);
}

static void test_task_usecases__no_online_worker_follows_live_statuses(void)
{
    fv_task_submit_result r;
    /* No definition at all. */
    r = must_submit_req(&(fv_task_submit_request){.tenant_id = fx.tenant, .kind = "task-0"});
    CU_ASSERT_TRUE(r.no_online_worker);
    CU_ASSERT_TRUE(r.created); /* a warning, not a refusal */
    /* A replay of an idempotency key is warned about like a new submit. */
    fv_task_submit_request replay = {
        .tenant_id = fx.tenant, .kind = "task-0", .idempotency_key = "k0"};
    CU_ASSERT_TRUE(must_submit_req(&replay).created);
    r = must_submit_req(&replay);
    CU_ASSERT_FALSE(r.created);
    CU_ASSERT_TRUE(r.no_online_worker);

    fv_uuid wid = register_worker("w", 1);
    r = must_submit_req(&(fv_task_submit_request){.tenant_id = fx.tenant, .kind = "task-0"});
    CU_ASSERT_FALSE(r.no_online_worker);
    r = must_submit_req(&replay);
    CU_ASSERT_FALSE(r.created);
    CU_ASSERT_FALSE(r.no_online_worker);

    /* Silent past the DEGRADED threshold: no ONLINE worker, though no job
     * has run to store it. */
    fv_fixture_advance(&fx, fx.deps.liveness.degraded_after_ms + 1);
    r = must_submit_req(&(fv_task_submit_request){.tenant_id = fx.tenant, .kind = "task-0"});
    CU_ASSERT_TRUE(r.no_online_worker);

    /* A heartbeat brings it back. */
    FV_ASSERT_INT_EQ(fv_fixture_heartbeat(&fx, &fx.tenant, &wid), FV_OK);
    r = must_submit_req(&(fv_task_submit_request){.tenant_id = fx.tenant, .kind = "task-0"});
    CU_ASSERT_FALSE(r.no_online_worker);

    /* Another tenant's worker does not count. */
    fv_uuid other_tenant;
    FV_ASSERT_INT_EQ(fv_fixture_add_tenant(&fx, "globex", &other_tenant), FV_OK);
    r = must_submit_req(&(fv_task_submit_request){.tenant_id = other_tenant, .kind = "task-0"});
    CU_ASSERT_TRUE(r.no_online_worker);
}

/* ---------------------------------------------------------------------- */
/* Cancellation                                                           */
/* ---------------------------------------------------------------------- */

static void test_task_usecases__cancel_while_pending_and_while_running(void)
{
    fv_error e;
    fv_task p = must_submit("k", "q");
    fv_task out;
    FV_ASSERT_INT_EQ(fv_task_cancel(&fx.deps, &fx.arena, &fx.tenant, &p.id, rest_cancel, &out, &e),
                     FV_OK);
    FV_ASSERT_INT_EQ(out.status, FV_TASK_CANCELLED);
    FV_ASSERT_INT_EQ(out.completed_at, T0);
    FV_ASSERT_STR_EQ(event_types(&p.id), "TASK_CREATED,TASK_CANCELLED");
    FV_ASSERT_INT_EQ(attempts_of(&p.id).n, 0);
    fv_task none;
    CU_ASSERT_FALSE(claim("q", "w", &none, NULL));

    /* RUNNING: REST refuses, gRPC cancels. */
    fv_task r = must_submit("k", "q");
    must_claim("q", "w");
    FV_ASSERT_INT_EQ(fv_task_cancel(&fx.deps, &fx.arena, &fx.tenant, &r.id, rest_cancel, NULL, &e),
                     FV_E_PRECONDITION);
    CU_ASSERT_TRUE(msg_has(&e, "is RUNNING; only a PENDING task can be cancelled"));
    FV_ASSERT_INT_EQ(get_task(&r.id).status, FV_TASK_RUNNING);
    fv_fixture_advance(&fx, 20);
    FV_ASSERT_INT_EQ(fv_task_cancel(&fx.deps, &fx.arena, &fx.tenant, &r.id, grpc_cancel, NULL, &e),
                     FV_OK);
    fv_task_attempt_list at = attempts_of(&r.id);
    FV_ASSERT_INT_EQ(at.n, 1);
    FV_ASSERT_INT_EQ(at.items[0].status, FV_ATTEMPT_CANCELLED);
    FV_ASSERT_INT_EQ(at.items[0].duration_ms, 20);

    /* The worker does not learn it but through its heartbeat, and its late
     * Complete or Fail does not revive the task. */
    FV_ASSERT_INT_EQ(fv_task_heartbeat(&fx.deps, &fx.tenant, &r.id, &e), FV_E_PRECONDITION);
    FV_ASSERT_INT_EQ(complete(&r.id, "1", &e), FV_E_PRECONDITION);
    CU_ASSERT_TRUE(msg_has(&e, "is CANCELLED, not RUNNING"));
    FV_ASSERT_INT_EQ(fail(&r.id, "x", &e), FV_E_PRECONDITION);
    FV_ASSERT_INT_EQ(fv_task_report_progress(&fx.deps, &fx.tenant, &r.id, 1.0, NULL, &e), FV_OK);
    fv_task after = get_task(&r.id);
    FV_ASSERT_INT_EQ(after.status, FV_TASK_CANCELLED);
    CU_ASSERT_FALSE(after.has_progress);
    CU_ASSERT_FALSE(fv_json_present(after.output));
    FV_ASSERT_STR_EQ(event_types(&r.id), "TASK_CREATED,TASK_STARTED,TASK_CANCELLED");

    /* Terminal states cannot be cancelled. */
    FV_ASSERT_INT_EQ(fv_task_cancel(&fx.deps, &fx.arena, &fx.tenant, &r.id, grpc_cancel, NULL, &e),
                     FV_E_PRECONDITION);
    CU_ASSERT_TRUE(msg_has(&e, "is CANCELLED"));
    fv_uuid unknown;
    fv_uuid_parse("0b7e1a52-3c6f-4d8e-9a10-5f2b3c4d5e6f", FV_UUID_STR_LEN, &unknown);
    FV_ASSERT_INT_EQ(
        fv_task_cancel(&fx.deps, &fx.arena, &fx.tenant, &unknown, grpc_cancel, NULL, &e),
        FV_E_NOT_FOUND);
}

/* ---------------------------------------------------------------------- */
/* Progress, logs, stream data, state                                     */
/* ---------------------------------------------------------------------- */

static void test_task_usecases__progress_logs_and_stream_data_are_checked(void)
{
    fv_error e;
    fv_task t = must_submit("k", "q");
    /* Progress while PENDING is recorded. */
    FV_ASSERT_INT_EQ(fv_task_report_progress(&fx.deps, &fx.tenant, &t.id, 0.0, "", &e), FV_OK);
    fv_task p = get_task(&t.id);
    CU_ASSERT_TRUE(p.has_progress);
    CU_ASSERT_PTR_NULL(p.progress_details); /* "" = none */
    FV_ASSERT_INT_EQ(fv_task_report_progress(&fx.deps, &fx.tenant, &t.id, 1.0, "done", &e), FV_OK);

    const double bad[] = {-0.01, 1.01, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FV_ASSERT_INT_EQ(fv_task_report_progress(&fx.deps, &fx.tenant, &t.id, bad[i], NULL, &e),
                         FV_E_INVALID);
        CU_ASSERT_TRUE(msg_has(&e, "progress"));
    }
    FV_ASSERT_INT_EQ(fv_task_report_progress(
                         &fx.deps, &fx.tenant, &t.id, 0.5,
                         fv_fixture_str(&fx.arena, 'd', FV_TASK_PROGRESS_DETAILS_MAX + 1), &e),
                     FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "details"));
    FV_ASSERT_INT_EQ(
        fv_task_report_progress(&fx.deps, &fx.tenant, &t.id, 0.5,
                                fv_fixture_str(&fx.arena, 'd', FV_TASK_PROGRESS_DETAILS_MAX), &e),
        FV_OK);
    FV_ASSERT_INT_EQ(fv_task_report_progress(&fx.deps, &fx.tenant, &t.id, 0.5, "\xc3", &e),
                     FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "details"));

    FV_ASSERT_INT_EQ(fv_task_log(&fx.deps, &fx.tenant, &t.id, (fv_log_level)0, "m", &e),
                     FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "level"));
    FV_ASSERT_INT_EQ(fv_task_log(&fx.deps, &fx.tenant, &t.id, (fv_log_level)9, "m", &e),
                     FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_task_log(&fx.deps, &fx.tenant, &t.id, FV_LOG_INFO,
                                 fv_fixture_str(&fx.arena, 'm', FV_TASK_LOG_MESSAGE_MAX + 1), &e),
                     FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "message"));
    FV_ASSERT_INT_EQ(fv_task_log(&fx.deps, &fx.tenant, &t.id, FV_LOG_INFO, "bad \xff", &e),
                     FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "message"));
    FV_ASSERT_INT_EQ(fv_task_log(&fx.deps, &fx.tenant, &t.id, FV_LOG_DEBUG, "d", &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_log(&fx.deps, &fx.tenant, &t.id, FV_LOG_ERROR, "x", &e), FV_OK);

    const fv_task_event_type bad_types[] = {0, FV_TEV_LOG, FV_TEV_TASK_COMPLETED, FV_TEV_RETRY, 42};
    for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
        FV_ASSERT_INT_EQ(fv_task_stream(&fx.deps, &fx.tenant, &t.id, bad_types[i], J("1"), &e),
                         FV_E_INVALID);
        CU_ASSERT_TRUE(msg_has(&e, "type"));
    }
    FV_ASSERT_INT_EQ(fv_task_stream(&fx.deps, &fx.tenant, &t.id, FV_TEV_DATA,
                                    fv_fixture_json(&fx.arena, FV_TASK_STREAM_PAYLOAD_MAX + 1), &e),
                     FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "payload"));
    const fv_task_event_type ok_types[] = {FV_TEV_TOKEN, FV_TEV_PROGRESS, FV_TEV_DATA,
                                           FV_TEV_ERROR};
    for (size_t i = 0; i < 4; i++)
        FV_ASSERT_INT_EQ(fv_task_stream(&fx.deps, &fx.tenant, &t.id, ok_types[i], J("{}"), &e),
                         FV_OK);
    FV_ASSERT_STR_EQ(event_types(&t.id),
                     "TASK_CREATED,PROGRESS,PROGRESS,PROGRESS,LOG,LOG,TOKEN,PROGRESS,DATA,ERROR");

    /* Logs read back with their level filter. */
    fv_task_log_list logs;
    FV_ASSERT_INT_EQ(fv_query_task_logs(&fx.deps, &fx.arena, &fx.tenant, &t.id, true, FV_LOG_ERROR,
                                        (fv_page){50, 0}, &logs, &e),
                     FV_OK);
    FV_ASSERT_INT_EQ(logs.n, 1);
    FV_ASSERT_STR_EQ(logs.items[0].message, "x");
    FV_ASSERT_INT_EQ(fv_query_task_logs(&fx.deps, &fx.arena, &fx.tenant, &t.id, false, 0,
                                        (fv_page){50, 0}, &logs, &e),
                     FV_OK);
    FV_ASSERT_INT_EQ(logs.total, 2);
    FV_ASSERT_INT_EQ(fv_query_task_logs(&fx.deps, &fx.arena, &fx.tenant, &t.id, false, 0,
                                        (fv_page){0, 0}, &logs, &e),
                     FV_E_INVALID);

    /* Unknown task: NOT_FOUND everywhere. */
    fv_uuid unknown;
    fv_uuid_parse("0b7e1a52-3c6f-4d8e-9a10-5f2b3c4d5e6f", FV_UUID_STR_LEN, &unknown);
    FV_ASSERT_INT_EQ(fv_task_report_progress(&fx.deps, &fx.tenant, &unknown, 0.5, NULL, &e),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_task_log(&fx.deps, &fx.tenant, &unknown, FV_LOG_INFO, "m", &e),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_task_stream(&fx.deps, &fx.tenant, &unknown, FV_TEV_DATA, J("1"), &e),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_task_heartbeat(&fx.deps, &fx.tenant, &unknown, &e), FV_E_NOT_FOUND);
}

static void test_task_usecases__task_state(void)
{
    fv_error e;
    fv_task t = must_submit("k", "q");
    fv_json v;
    bool found = true;
    FV_ASSERT_INT_EQ(fv_task_state_get(&fx.deps, &fx.arena, &fx.tenant, &t.id, "a", &v, &found, &e),
                     FV_OK);
    CU_ASSERT_FALSE(found);
    FV_ASSERT_INT_EQ(fv_task_state_set(&fx.deps, &fx.tenant, &t.id, "b", J("{\"n\":1}"), &e),
                     FV_OK);
    FV_ASSERT_INT_EQ(fv_task_state_set(&fx.deps, &fx.tenant, &t.id, "a", FV_JSON_NONE, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_state_get(&fx.deps, &fx.arena, &fx.tenant, &t.id, "b", &v, &found, &e),
                     FV_OK);
    CU_ASSERT_TRUE(found);
    FV_ASSERT_STR_EQ(js(v), "{\"n\":1}");
    FV_ASSERT_INT_EQ(fv_task_state_get(&fx.deps, &fx.arena, &fx.tenant, &t.id, "a", &v, &found, &e),
                     FV_OK);
    FV_ASSERT_STR_EQ(js(v), "null");
    fv_state_key_list keys;
    FV_ASSERT_INT_EQ(fv_task_state_keys(&fx.deps, &fx.arena, &fx.tenant, &t.id, &keys, &e), FV_OK);
    FV_ASSERT_INT_EQ(keys.n, 2);
    FV_ASSERT_STR_EQ(keys.items[0], "a");
    FV_ASSERT_STR_EQ(keys.items[1], "b");
    FV_ASSERT_INT_EQ(fv_task_state_clear(&fx.deps, &fx.tenant, &t.id, "a", &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_state_clear(&fx.deps, &fx.tenant, &t.id, "missing", &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_state_keys(&fx.deps, &fx.arena, &fx.tenant, &t.id, &keys, &e), FV_OK);
    FV_ASSERT_INT_EQ(keys.n, 1);
    FV_ASSERT_INT_EQ(fv_task_state_clear_all(&fx.deps, &fx.tenant, &t.id, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_state_keys(&fx.deps, &fx.arena, &fx.tenant, &t.id, &keys, &e), FV_OK);
    FV_ASSERT_INT_EQ(keys.n, 0);

    /* Keys and values checked, naming the field. */
    FV_ASSERT_INT_EQ(fv_task_state_set(&fx.deps, &fx.tenant, &t.id, "", J("1"), &e), FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "key"));
    FV_ASSERT_INT_EQ(fv_task_state_set(&fx.deps, &fx.tenant, &t.id,
                                       fv_fixture_str(&fx.arena, 'k', FV_TASK_STATE_KEY_MAX + 1),
                                       J("1"), &e),
                     FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "key"));
    FV_ASSERT_INT_EQ(
        fv_task_state_get(&fx.deps, &fx.arena, &fx.tenant, &t.id, "\xff", &v, &found, &e),
        FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "key"));
    FV_ASSERT_INT_EQ(fv_task_state_set(&fx.deps, &fx.tenant, &t.id, "k",
                                       fv_fixture_json(&fx.arena, FV_TASK_STATE_VALUE_MAX + 1), &e),
                     FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "value"));

    /* Beyond FV_TASK_STATE_MAX_KEYS: EXHAUSTED. */
    for (int i = 0; i < FV_TASK_STATE_MAX_KEYS; i++)
        FV_ASSERT_INT_EQ(fv_task_state_set(&fx.deps, &fx.tenant, &t.id,
                                           fv_arena_printf(&fx.arena, "k%d", i), J("1"), &e),
                         FV_OK);
    FV_ASSERT_INT_EQ(fv_task_state_set(&fx.deps, &fx.tenant, &t.id, "one-more", J("1"), &e),
                     FV_E_EXHAUSTED);
    /* Replacing an existing key is fine. */
    FV_ASSERT_INT_EQ(fv_task_state_set(&fx.deps, &fx.tenant, &t.id, "k0", J("2"), &e), FV_OK);

    fv_uuid unknown;
    fv_uuid_parse("0b7e1a52-3c6f-4d8e-9a10-5f2b3c4d5e6f", FV_UUID_STR_LEN, &unknown);
    FV_ASSERT_INT_EQ(fv_task_state_set(&fx.deps, &fx.tenant, &unknown, "k", J("1"), &e),
                     FV_E_NOT_FOUND);
}

/* ---------------------------------------------------------------------- */
/* Bus notices                                                            */
/* ---------------------------------------------------------------------- */

static void test_task_usecases__watchers_hear_submits_claims_and_retries(void)
{
    heard h = {.mu = PTHREAD_MUTEX_INITIALIZER};
    fv_bus_sub *sub = NULL;
    FV_ASSERT_INT_EQ(fv_task_watch(&fx.deps, on_notice, &h, &sub, NULL), FV_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sub);

    fv_task t = must_submit("k", "jobs");
    FV_ASSERT_STR_EQ(drain(&h, &t.id), "QUEUE:jobs TASK:1");
    must_claim("jobs", "w");
    FV_ASSERT_STR_EQ(drain(&h, &t.id), "TASK:2");
    fv_task none;
    CU_ASSERT_FALSE(claim("jobs", "w", &none, NULL)); /* an empty poll says nothing */
    FV_ASSERT_STR_EQ(drain(&h, &t.id), "");
    FV_ASSERT_INT_EQ(fv_task_report_progress(&fx.deps, &fx.tenant, &t.id, 0.1, NULL, NULL), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_log(&fx.deps, &fx.tenant, &t.id, FV_LOG_INFO, "m", NULL), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_stream(&fx.deps, &fx.tenant, &t.id, FV_TEV_DATA, J("1"), NULL), FV_OK);
    FV_ASSERT_STR_EQ(drain(&h, &t.id), "TASK:3 TASK:4 TASK:5");
    /* A retry: the task's event and a queue wake-up. */
    FV_ASSERT_INT_EQ(fail(&t.id, "x", NULL), FV_OK);
    FV_ASSERT_STR_EQ(drain(&h, &t.id), "TASK:6 QUEUE:jobs");
    must_claim("jobs", "w");
    FV_ASSERT_STR_EQ(drain(&h, &t.id), "TASK:7");
    FV_ASSERT_INT_EQ(complete(&t.id, "1", NULL), FV_OK);
    FV_ASSERT_STR_EQ(drain(&h, &t.id), "TASK:8");
    /* Ignored calls publish nothing. */
    FV_ASSERT_INT_EQ(fv_task_report_progress(&fx.deps, &fx.tenant, &t.id, 0.1, NULL, NULL), FV_OK);
    FV_ASSERT_INT_EQ(complete(&t.id, "1", NULL), FV_E_PRECONDITION);
    FV_ASSERT_STR_EQ(drain(&h, &t.id), "");

    /* Cancel; an idempotent repeat publishes nothing. */
    fv_task_submit_request r = request("k", "jobs");
    r.idempotency_key = "once";
    fv_task c = must_submit_req(&r).task;
    FV_ASSERT_STR_EQ(drain(&h, &c.id), "QUEUE:jobs TASK:1");
    must_submit_req(&r);
    FV_ASSERT_STR_EQ(drain(&h, &c.id), "");
    FV_ASSERT_INT_EQ(
        fv_task_cancel(&fx.deps, &fx.arena, &fx.tenant, &c.id, grpc_cancel, NULL, NULL), FV_OK);
    FV_ASSERT_STR_EQ(drain(&h, &c.id), "TASK:2");

    fv_task_unwatch(&fx.deps, sub);
    must_submit("k", "jobs");
    FV_ASSERT_STR_EQ(drain(&h, NULL), "");
}

/* ---------------------------------------------------------------------- */
/* Queries                                                                */
/* ---------------------------------------------------------------------- */

static void test_task_usecases__queries_check_their_input(void)
{
    fv_error e;
    fv_task a = must_submit("alpha", "q1");
    fv_fixture_advance(&fx, 1);
    fv_task b = must_submit("beta", "q2");
    must_claim("q2", "w");

    fv_task_filter f;
    memset(&f, 0, sizeof f);
    f.tenant_id = fx.tenant;
    fv_task_list l;
    FV_ASSERT_INT_EQ(fv_query_tasks(&fx.deps, &fx.arena, &f, (fv_page){50, 0}, &l, &e), FV_OK);
    FV_ASSERT_INT_EQ(l.total, 2);
    CU_ASSERT_TRUE(fv_uuid_eq(&l.items[0].id, &b.id)); /* newest first */
    f.status_mask = FV_TASK_BIT(FV_TASK_PENDING);
    FV_ASSERT_INT_EQ(fv_query_tasks(&fx.deps, &fx.arena, &f, (fv_page){50, 0}, &l, &e), FV_OK);
    FV_ASSERT_INT_EQ(l.total, 1);
    CU_ASSERT_TRUE(fv_uuid_eq(&l.items[0].id, &a.id));
    f.status_mask = 0;
    f.kind = "beta";
    FV_ASSERT_INT_EQ(fv_query_tasks(&fx.deps, &fx.arena, &f, (fv_page){50, 0}, &l, &e), FV_OK);
    FV_ASSERT_INT_EQ(l.total, 1);
    f.kind = NULL;
    f.queue = "q1";
    FV_ASSERT_INT_EQ(fv_query_tasks(&fx.deps, &fx.arena, &f, (fv_page){50, 0}, &l, &e), FV_OK);
    FV_ASSERT_INT_EQ(l.total, 1);

    FV_ASSERT_INT_EQ(fv_query_tasks(&fx.deps, &fx.arena, &f, (fv_page){101, 0}, &l, &e),
                     FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_query_tasks(&fx.deps, &fx.arena, &f, (fv_page){10, -1}, &l, &e),
                     FV_E_INVALID);
    f.queue = "";
    FV_ASSERT_INT_EQ(fv_query_tasks(&fx.deps, &fx.arena, &f, (fv_page){10, 0}, &l, &e),
                     FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "queue"));
    f.queue = NULL;
    f.status_mask = 1u << 9;
    FV_ASSERT_INT_EQ(fv_query_tasks(&fx.deps, &fx.arena, &f, (fv_page){10, 0}, &l, &e),
                     FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "status"));

    fv_task_event_list ev;
    FV_ASSERT_INT_EQ(fv_query_task_events(&fx.deps, &fx.arena, &fx.tenant, &b.id, 1, 10, &ev, &e),
                     FV_OK);
    FV_ASSERT_INT_EQ(ev.n, 1);
    FV_ASSERT_INT_EQ(ev.items[0].id, 2);
    FV_ASSERT_INT_EQ(fv_query_task_events(&fx.deps, &fx.arena, &fx.tenant, &b.id, 0, 0, &ev, &e),
                     FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "limit"));
    FV_ASSERT_INT_EQ(fv_query_task_events(&fx.deps, &fx.arena, &fx.tenant, &b.id, 0, 1001, &ev, &e),
                     FV_E_INVALID);

    fv_task_backlog_list bl;
    FV_ASSERT_INT_EQ(fv_query_task_backlog(&fx.deps, &fx.arena, &fx.tenant, &bl, &e), FV_OK);
    FV_ASSERT_INT_EQ(bl.n, 1);
    FV_ASSERT_STR_EQ(bl.items[0].kind, "alpha");
    FV_ASSERT_INT_EQ(bl.items[0].pending, 1);
    FV_ASSERT_INT_EQ(bl.items[0].oldest_created_at, T0);
}

static const fv_test_case cases[] = {
    FV_TEST_CASE(test_task_usecases__without_a_task_repository_everything_is_unavailable),
    FV_TEST_CASE(test_task_usecases__submit_fills_the_defaults),
    FV_TEST_CASE(test_task_usecases__every_invalid_submission_names_its_field_and_changes_nothing),
    FV_TEST_CASE(test_task_usecases__a_task_runs_end_to_end),
    FV_TEST_CASE(test_task_usecases__retries_follow_max_retries),
    FV_TEST_CASE(test_task_usecases__backoff_delays_the_next_attempt),
    FV_TEST_CASE(test_task_usecases__error_text_is_cut_at_a_character_boundary),
    FV_TEST_CASE(test_task_usecases__idempotency_keys),
    FV_TEST_CASE(test_task_usecases__scheduled_tasks_wait_for_their_time),
    FV_TEST_CASE(test_task_usecases__claims_take_the_oldest_of_their_tenant_and_queue),
    FV_TEST_CASE(test_task_usecases__claim_checks_its_input),
    FV_TEST_CASE(test_task_usecases__a_poll_is_a_sign_of_life_and_names_the_worker),
    FV_TEST_CASE(test_task_usecases__settings_come_from_request_then_definition_then_defaults),
    FV_TEST_CASE(test_task_usecases__declared_settings_apply_when_not_configured),
    FV_TEST_CASE(test_task_usecases__no_online_worker_follows_live_statuses),
    FV_TEST_CASE(test_task_usecases__cancel_while_pending_and_while_running),
    FV_TEST_CASE(test_task_usecases__progress_logs_and_stream_data_are_checked),
    FV_TEST_CASE(test_task_usecases__task_state),
    FV_TEST_CASE(test_task_usecases__watchers_hear_submits_claims_and_retries),
    FV_TEST_CASE(test_task_usecases__queries_check_their_input),
};

int main(void)
{
    const fv_test_suite suite = {"task_usecases", cases, FV_TEST_COUNT(cases), setup, teardown};
    return fv_test_run_suites(&suite, 1) == 0 ? 0 : 1;
}
