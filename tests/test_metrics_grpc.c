/*
 * The observe hook of the gRPC machinery (grpc_server.h) feeding the
 * metrics, with real calls from a gRPC C-core client on loopback: one
 * observation per completed call with the method's row (or "unknown"), the
 * status sent (the handler's, UNIMPLEMENTED for an unregistered method,
 * CANCELLED for a call whose client went away) and the time since arrival;
 * then the same calls as flovyn_grpc_* series in the exposition.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#include "adapters/grpc/grpc_server.h"
#include "adapters/metrics/metrics.h"
#include "tests/support/cunit_main.h"

#define OBS_MAX 32

typedef struct obs_rec {
    size_t method;
    char path[64];
    grpc_status_code code;
    double seconds;
} obs_rec;

typedef struct observer {
    pthread_mutex_t mu;
    obs_rec recs[OBS_MAX];
    size_t n;
    fv_metrics *metrics;
} observer;

static void on_observe(void *user, size_t method, const char *path, grpc_status_code code,
                       double seconds)
{
    observer *o = user;
    pthread_mutex_lock(&o->mu);
    if (o->n < OBS_MAX) {
        obs_rec *r = &o->recs[o->n++];
        r->method = method;
        snprintf(r->path, sizeof r->path, "%s", path);
        r->code = code;
        r->seconds = seconds;
    }
    pthread_mutex_unlock(&o->mu);
    fv_metrics_grpc_observe(o->metrics, method, (int)code, seconds);
}

static size_t observed(observer *o)
{
    pthread_mutex_lock(&o->mu);
    size_t n = o->n;
    pthread_mutex_unlock(&o->mu);
    return n;
}

/* Wait until n observations arrived (they may trail the client's answer). */
static bool wait_observed(observer *o, size_t n)
{
    for (int i = 0; i < 500; i++) {
        if (observed(o) >= n)
            return true;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return false;
}

/* ---- the service ------------------------------------------------------------------ */

static void echo(fv_grpc_call *call, void *user)
{
    size_t n;
    const uint8_t *b = fv_grpc_call_request(call, &n);
    (void)user;
    fv_grpc_call_reply(call, b, n);
}

static void fail(fv_grpc_call *call, void *user)
{
    (void)user;
    fv_grpc_call_fail(call, GRPC_STATUS_NOT_FOUND, "no such thing");
}

/* Parks the call; whoever runs the hook completes it. */
static void park_hook(fv_grpc_call *call, fv_grpc_cancel_reason why, void *user)
{
    (void)why;
    (void)user;
    fv_grpc_call_fail(call, GRPC_STATUS_UNAVAILABLE, "gone");
}

static void park(fv_grpc_call *call, void *user)
{
    (void)user;
    if (!fv_grpc_call_on_cancel(call, park_hook, NULL))
        fv_grpc_call_fail(call, GRPC_STATUS_UNAVAILABLE, "stopping");
}

/* ---- a client -------------------------------------------------------------------- */

static grpc_status_code unary(grpc_channel *ch, const char *method, const char *msg, int timeout_ms)
{
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_slice path = grpc_slice_from_copied_string(method);
    gpr_timespec deadline =
        gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
    grpc_call *c =
        grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, path, NULL, deadline, NULL);
    grpc_slice body = grpc_slice_from_copied_string(msg);
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&body, 1);
    grpc_byte_buffer *recv = NULL;
    grpc_metadata_array initial, trailing;
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    grpc_op ops[6];
    int tag = 1;

    grpc_metadata_array_init(&initial);
    grpc_metadata_array_init(&trailing);
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
    ops[5].data.recv_status_on_client.status = &status;
    ops[5].data.recv_status_on_client.status_details = &details;
    CU_ASSERT_FATAL(grpc_call_start_batch(c, ops, 6, &tag, NULL) == GRPC_CALL_OK);
    grpc_event ev = grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    CU_ASSERT(ev.type == GRPC_OP_COMPLETE);

    if (recv != NULL)
        grpc_byte_buffer_destroy(recv);
    grpc_byte_buffer_destroy(send);
    grpc_slice_unref(body);
    grpc_slice_unref(details);
    grpc_slice_unref(path);
    grpc_metadata_array_destroy(&initial);
    grpc_metadata_array_destroy(&trailing);
    grpc_call_unref(c);
    grpc_completion_queue_shutdown(cq);
    ev = grpc_completion_queue_pluck(cq, &tag, gpr_inf_past(GPR_CLOCK_REALTIME), NULL);
    CU_ASSERT(ev.type == GRPC_QUEUE_SHUTDOWN);
    grpc_completion_queue_destroy(cq);
    return status;
}

/* ---- the test -------------------------------------------------------------------------- */

static const obs_rec *find(observer *o, grpc_status_code code)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->recs[i].code == code)
            return &o->recs[i];
    return NULL;
}

static void test_metrics_grpc__every_completed_call_is_observed_once(void)
{
    static const char *const paths[] = {"/t.S/Echo", "/t.S/Fail", "/t.S/Park"};
    const fv_grpc_method methods[] = {
        {paths[0], echo, NULL},
        {paths[1], fail, NULL},
        {paths[2], park, NULL},
    };
    observer o;
    memset(&o, 0, sizeof o);
    pthread_mutex_init(&o.mu, NULL);
    fv_metrics_config mcfg = {"test", 1, NULL};
    fv_error err;
    o.metrics = fv_metrics_new(&mcfg, &err);
    CU_ASSERT_FATAL(o.metrics != NULL);
    FV_ASSERT_INT_EQ(fv_metrics_grpc_methods(o.metrics, paths, 3, &err), FV_OK);

    fv_grpc_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.listen = "127.0.0.1:0";
    cfg.methods = methods;
    cfg.n_methods = 3;
    cfg.shutdown_grace_ms = 500;
    cfg.observe = on_observe;
    cfg.observe_user = &o;
    fv_grpc_server *srv = fv_grpc_server_new(&cfg, &err);
    if (srv == NULL) {
        fprintf(stderr, "\n  server: %s\n", err.msg);
        fv_metrics_free(o.metrics);
        CU_FAIL_FATAL("could not start the server");
        return;
    }
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", fv_grpc_server_port(srv));
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(target, creds, NULL);
    grpc_channel_credentials_release(creds);

    FV_ASSERT_INT_EQ(unary(ch, "/t.S/Echo", "hello", 5000), GRPC_STATUS_OK);
    FV_ASSERT_INT_EQ(unary(ch, "/t.S/Echo", "again", 5000), GRPC_STATUS_OK);
    FV_ASSERT_INT_EQ(unary(ch, "/t.S/Fail", "x", 5000), GRPC_STATUS_NOT_FOUND);
    FV_ASSERT_INT_EQ(unary(ch, "/t.S/Nope", "x", 5000), GRPC_STATUS_UNIMPLEMENTED);
    /* The client gives up after 200 ms: the parked call is cancelled. */
    FV_ASSERT_INT_EQ(unary(ch, "/t.S/Park", "x", 200), GRPC_STATUS_DEADLINE_EXCEEDED);
    CU_ASSERT(wait_observed(&o, 5));

    pthread_mutex_lock(&o.mu);
    FV_ASSERT_INT_EQ(o.n, 5);
    size_t oks = 0;
    for (size_t i = 0; i < o.n; i++) {
        const obs_rec *r = &o.recs[i];
        CU_ASSERT(r->seconds >= 0 && r->seconds < 10);
        if (r->code == GRPC_STATUS_OK) {
            oks++;
            FV_ASSERT_INT_EQ(r->method, 0);
            FV_ASSERT_STR_EQ(r->path, "/t.S/Echo");
        }
    }
    FV_ASSERT_INT_EQ(oks, 2);
    const obs_rec *r = find(&o, GRPC_STATUS_NOT_FOUND);
    CU_ASSERT_FATAL(r != NULL);
    FV_ASSERT_INT_EQ(r->method, 1);
    FV_ASSERT_STR_EQ(r->path, "/t.S/Fail");
    r = find(&o, GRPC_STATUS_UNIMPLEMENTED);
    CU_ASSERT_FATAL(r != NULL);
    CU_ASSERT(r->method == FV_GRPC_METHOD_UNKNOWN);
    FV_ASSERT_STR_EQ(r->path, "unknown");
    r = find(&o, GRPC_STATUS_CANCELLED);
    CU_ASSERT_FATAL(r != NULL);
    FV_ASSERT_INT_EQ(r->method, 2);
    FV_ASSERT_STR_EQ(r->path, "/t.S/Park");
    CU_ASSERT(r->seconds >= 0.15);
    pthread_mutex_unlock(&o.mu);

    grpc_channel_destroy(ch);
    fv_grpc_server_free(srv);
    FV_ASSERT_INT_EQ(observed(&o), 5);

    fv_arena a;
    fv_arena_init(&a, 0);
    const char *text;
    size_t n;
    FV_ASSERT_INT_EQ(fv_metrics_render(o.metrics, &a, &text, &n, &err), FV_OK);
    static const char *const want[] = {
        "flovyn_grpc_calls_total{method=\"/t.S/Echo\",code=\"OK\"} 2\n",
        "flovyn_grpc_calls_total{method=\"/t.S/Fail\",code=\"NOT_FOUND\"} 1\n",
        "flovyn_grpc_calls_total{method=\"/t.S/Park\",code=\"CANCELLED\"} 1\n",
        "flovyn_grpc_calls_total{method=\"unknown\",code=\"UNIMPLEMENTED\"} 1\n",
        "flovyn_grpc_call_duration_seconds_count{method=\"/t.S/Echo\"} 2\n",
        "flovyn_grpc_call_duration_seconds_bucket{method=\"/t.S/Park\",le=\"0.1\"} 0\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (strstr(text, want[i]) == NULL)
            fprintf(stderr, "\n  missing: %s", want[i]);
        CU_ASSERT(strstr(text, want[i]) != NULL);
    }
    fv_arena_release(&a);
    fv_metrics_free(o.metrics);
    pthread_mutex_destroy(&o.mu);
}

static const fv_test_case cases[] = {
    FV_TEST_CASE(test_metrics_grpc__every_completed_call_is_observed_once),
};

int main(void)
{
    grpc_init();
    int rc = fv_test_run("metrics_grpc", cases, FV_TEST_COUNT(cases));
    grpc_shutdown_blocking();
    return rc;
}
