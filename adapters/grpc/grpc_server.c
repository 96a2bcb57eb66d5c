/*
 * The completion-queue server behind grpc_server.h: request slots kept armed
 * per method, call contexts counted by reference (one reference for the
 * owner until the call is completed, one per outstanding batch), cancel hooks
 * for parked calls, and the stop sequence of STYLE.md 3.1.12.
 *
 * Every completion-queue tag points at an fv_grpc_tag whose kind says what
 * finished: an armed request (a new call or, with success == 0, a request
 * killed by shutdown), the RECV_CLOSE_ON_SERVER batch of a call (the call is
 * over; cancelled == 1 means the client side went away first), the send batch
 * of a call, or the server's shutdown notification.
 *
 * Lock order: server mutex, then call mutex. No lock of this module is held
 * while a handler or a cancel hook runs. grpc_call_start_batch is called
 * under the call mutex (batches on one call must be serialised, grpc.h), which
 * is safe because completions are only ever delivered by
 * grpc_completion_queue_next on our threads, never inline.
 */
#include "adapters/grpc/grpc_server.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#include "adapters/grpc/grpc_status.h"
#include "core/util/alloc.h"

#define DEFAULT_CQ_THREADS          2
#define DEFAULT_MAX_RECEIVE_BYTES   (4 * 1024 * 1024)
#define DEFAULT_REQUESTS_PER_METHOD 32
#define DEFAULT_UNKNOWN_REQUESTS    4
#define DEFAULT_SHUTDOWN_GRACE_MS   5000
/* While waiting for stubborn calls after cancel_all, say so this often. */
#define STOP_NAG_MS 5000

typedef enum tag_kind { TAG_REQUEST, TAG_CLOSE, TAG_SEND, TAG_SHUTDOWN } tag_kind;

typedef struct fv_grpc_tag {
    tag_kind kind;
    void *owner; /* request_slot, fv_grpc_call or fv_grpc_server */
} fv_grpc_tag;

typedef struct method_entry {
    char *path;
    fv_grpc_handler_fn handler;
    void *user;
    void *handle; /* from grpc_server_register_method */
} method_entry;

/* One armed grpc_server_request_(registered_)call: gRPC writes the new call
 * into it, so it lives until its tag fires with success == 0. */
typedef struct request_slot {
    fv_grpc_tag tag;
    fv_grpc_server *srv;
    const method_entry *method; /* NULL: a slot for unregistered methods */
    grpc_call *call;
    gpr_timespec deadline;     /* registered slots */
    grpc_byte_buffer *payload; /* registered slots */
    grpc_call_details details; /* unregistered slots */
    grpc_metadata_array md;
} request_slot;

struct fv_grpc_call {
    fv_grpc_server *srv;
    const method_entry *method; /* NULL for an unregistered method */
    const char *path;
    grpc_call *call;
    grpc_metadata_array md;
    grpc_call_details details; /* only when has_details */
    bool has_details;
    grpc_slice request;
    int64_t deadline_ms;
    int64_t arrived_ns; /* CLOCK_MONOTONIC, only with an observer */
    fv_arena arena;

    fv_grpc_tag close_tag;
    fv_grpc_tag send_tag;
    int cancelled_out;         /* written by RECV_CLOSE_ON_SERVER */
    grpc_byte_buffer *send_bb; /* the response, until the send batch ends */

    pthread_mutex_t mu; /* guards everything below */
    int refs;
    bool completed; /* reply/fail was called */
    bool cancelled; /* RECV_CLOSE_ON_SERVER said cancelled */
    fv_grpc_cancel_fn on_cancel;
    void *on_cancel_user;

    /* Trailing metadata of the answer (fv_grpc_call_add_trailer), in the
     * call's arena; the owner's. */
    const char *trailer_key[FV_GRPC_TRAILERS_MAX];
    const char *trailer_value[FV_GRPC_TRAILERS_MAX];
    size_t n_trailers;

    /* Server's list of live calls (server mutex). */
    fv_grpc_call *prev, *next;
    /* Private to flush_parked. */
    fv_grpc_call *flush_next;
    fv_grpc_cancel_fn flush_fn;
    void *flush_user;
};

struct fv_grpc_server {
    grpc_server *server;
    grpc_completion_queue *cq;
    pthread_t *threads;
    int n_threads; /* started */
    method_entry *methods;
    size_t n_methods;
    int port;

    int cq_threads;
    int max_receive_bytes;
    int requests_per_method;
    int unknown_requests;
    int shutdown_grace_ms;
    size_t arena_cap;
    fv_grpc_log_fn log;
    void *log_user;
    fv_grpc_observe_fn observe;
    void *observe_user;

    fv_grpc_tag shutdown_tag;
    atomic_bool stopping; /* read without the mutex by slots and on_cancel */

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;  /* CLOCK_MONOTONIC */
    bool shutdown_done;
    bool stopped;
    fv_grpc_call *calls; /* live calls */
    size_t n_calls;
    size_t n_slots;
};

static const uint8_t empty_request[1];

/* ---- small helpers ------------------------------------------------------ */

static void srv_log(const fv_grpc_server *srv, fv_grpc_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void srv_log(const fv_grpc_server *srv, fv_grpc_log_level level, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    if (srv->log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    srv->log(srv->log_user, level, buf);
}

/* A broken promise of the API (a call completed twice): no way to go on. */
static _Noreturn void bug(const fv_grpc_server *srv, const char *what)
{
    srv_log(srv, FV_GRPC_LOG_ERROR, "bug: %s", what);
    fprintf(stderr, "fv_grpc: bug: %s\n", what);
    abort();
}

int64_t fv_grpc_monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A gRPC deadline (any clock) on our monotonic ms clock. Computed from the
 * time left, so nothing depends on how gpr's clocks are based. */
static int64_t deadline_to_ms(gpr_timespec deadline)
{
    gpr_timespec left;
    int64_t now = fv_grpc_monotonic_ms();

    if (deadline.tv_sec == INT64_MAX)
        return INT64_MAX;
    left = gpr_time_sub(deadline, gpr_now(deadline.clock_type));
    if (left.tv_sec >= (int64_t)1000 * 1000 * 1000)
        return INT64_MAX;
    if (left.tv_sec < -(int64_t)1000 * 1000 * 1000)
        return now - (int64_t)1000 * 1000 * 1000 * 1000;
    return now + left.tv_sec * 1000 + left.tv_nsec / 1000000;
}

static void abs_after_ms(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec += 1;
        ts->tv_nsec -= 1000000000L;
    }
}

static int64_t monotonic_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Tell the observer (if any) how a call ended. */
static void observe(const fv_grpc_server *srv, const method_entry *method, grpc_status_code code,
                    int64_t arrived_ns)
{
    size_t idx = FV_GRPC_METHOD_UNKNOWN;
    const char *path = "unknown";

    if (srv->observe == NULL)
        return;
    if (method != NULL) {
        idx = (size_t)(method - srv->methods);
        path = method->path;
    }
    srv->observe(srv->observe_user, idx, path, code,
                 arrived_ns != 0 ? (double)(monotonic_ns() - arrived_ns) / 1e9 : 0.0);
}

/* ---- calls -------------------------------------------------------------- */

static void call_release(fv_grpc_call *c)
{
    fv_grpc_server *srv = c->srv;
    int left;

    pthread_mutex_lock(&c->mu);
    left = --c->refs;
    pthread_mutex_unlock(&c->mu);
    if (left > 0)
        return;

    /* gRPC objects first: when n_calls reaches 0, no call holds anything of
     * gRPC, so fv_grpc_server_stop may destroy the server and the queue. */
    grpc_call_unref(c->call);
    grpc_metadata_array_destroy(&c->md);
    if (c->has_details)
        grpc_call_details_destroy(&c->details);
    grpc_slice_unref(c->request);
    fv_arena_release(&c->arena);

    /* Then unlink: until here flush_parked may look at c (its mutex, refs,
     * flags) under the server mutex. This is the last use of srv: stop frees
     * the server only after n_calls reached 0. */
    pthread_mutex_lock(&srv->mu);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        srv->calls = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    srv->n_calls--;
    if (srv->n_calls == 0)
        pthread_cond_broadcast(&srv->cv);
    pthread_mutex_unlock(&srv->mu);

    pthread_mutex_destroy(&c->mu);
    fv_free(c);
}

/* Send the answer (or drop it if the client is gone) and give up the owner's
 * reference. with_message: reply with bytes/n and status OK. */
static fv_err call_complete(fv_grpc_call *c, grpc_status_code code, const char *message,
                            const uint8_t *bytes, size_t n, bool with_message)
{
    fv_grpc_server *srv = c->srv;
    grpc_op ops[3];
    size_t nops = 0;
    grpc_slice details;
    grpc_byte_buffer *bb = NULL;
    grpc_call_error e;
    bool cancelled;

    pthread_mutex_lock(&c->mu);
    if (c->completed) {
        pthread_mutex_unlock(&c->mu);
        bug(srv, "a gRPC call was completed twice");
    }
    c->completed = true;
    c->on_cancel = NULL;
    cancelled = c->cancelled;
    pthread_mutex_unlock(&c->mu);

    if (cancelled) {
        observe(srv, c->method, GRPC_STATUS_CANCELLED, c->arrived_ns);
        call_release(c);
        return FV_E_UNAVAILABLE;
    }

    if (with_message) {
        grpc_slice s = grpc_slice_from_copied_buffer((const char *)bytes, n);
        bb = grpc_raw_byte_buffer_create(&s, 1);
        grpc_slice_unref(s);
    }
    details = message != NULL ? grpc_slice_from_copied_string(message) : grpc_empty_slice();

    memset(ops, 0, sizeof ops);
    ops[nops].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[nops].data.send_initial_metadata.count = 0;
    nops++;
    if (bb != NULL) {
        ops[nops].op = GRPC_OP_SEND_MESSAGE;
        ops[nops].data.send_message.send_message = bb;
        nops++;
    }
    /* Trailing metadata: gRPC takes its own references to the slices while
     * start_batch runs, so ours are released right after it. */
    grpc_metadata trailers[FV_GRPC_TRAILERS_MAX];
    size_t n_trailers = c->n_trailers;
    for (size_t i = 0; i < n_trailers; i++) {
        memset(&trailers[i], 0, sizeof trailers[i]);
        trailers[i].key = grpc_slice_from_copied_string(c->trailer_key[i]);
        trailers[i].value = grpc_slice_from_copied_string(c->trailer_value[i]);
    }
    ops[nops].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[nops].data.send_status_from_server.trailing_metadata_count = n_trailers;
    ops[nops].data.send_status_from_server.trailing_metadata = n_trailers ? trailers : NULL;
    ops[nops].data.send_status_from_server.status = code;
    /* Copied by gRPC before start_batch returns (grpc_types.h). */
    ops[nops].data.send_status_from_server.status_details = message != NULL ? &details : NULL;
    nops++;

    pthread_mutex_lock(&c->mu);
    c->send_bb = bb;
    c->refs++;
    e = grpc_call_start_batch(c->call, ops, nops, &c->send_tag, NULL);
    if (e != GRPC_CALL_OK) {
        c->refs--;
        c->send_bb = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    grpc_slice_unref(details);
    for (size_t i = 0; i < n_trailers; i++) {
        grpc_slice_unref(trailers[i].key);
        grpc_slice_unref(trailers[i].value);
    }

    if (e != GRPC_CALL_OK) {
        /* No completion will come for this batch (grpc.h). */
        if (bb != NULL)
            grpc_byte_buffer_destroy(bb);
        srv_log(srv, FV_GRPC_LOG_ERROR, "could not answer a call to \"%s\": grpc_call_error %d",
                c->path, (int)e);
        grpc_call_cancel_with_status(c->call, GRPC_STATUS_INTERNAL, "internal error", NULL);
        observe(srv, c->method, GRPC_STATUS_INTERNAL, c->arrived_ns);
        call_release(c);
        return FV_E_INTERNAL;
    }
    /* Before our reference goes: until then the server outlives us. */
    observe(srv, c->method, code, c->arrived_ns);
    call_release(c);
    return FV_OK;
}

/* Everything a request slot hands over when its call arrives. */
typedef struct arrival {
    const method_entry *method;
    grpc_call *call;
    gpr_timespec deadline;
    grpc_byte_buffer *payload;
    grpc_call_details details;
    bool has_details;
    grpc_metadata_array md;
} arrival;

static void arrival_clear(arrival *a)
{
    grpc_metadata_array_destroy(&a->md);
    if (a->has_details)
        grpc_call_details_destroy(&a->details);
    if (a->payload != NULL)
        grpc_byte_buffer_destroy(a->payload);
}

/* A new call: build its context, watch it for cancellation, and hand it to
 * its handler (or answer it here when there is nothing to hand over). */
static void call_begin(fv_grpc_server *srv, arrival *a)
{
    fv_grpc_call *c = fv_calloc(1, sizeof *c);
    grpc_op op;
    grpc_call_error e;
    bool readable = true;

    if (c != NULL && pthread_mutex_init(&c->mu, NULL) != 0) {
        fv_free(c);
        c = NULL;
    }
    if (c == NULL) {
        srv_log(srv, FV_GRPC_LOG_ERROR, "out of memory for a new call to \"%s\"",
                a->method != NULL ? a->method->path : "(unregistered method)");
        grpc_call_cancel_with_status(a->call, GRPC_STATUS_RESOURCE_EXHAUSTED,
                                     "server out of memory", NULL);
        grpc_call_unref(a->call);
        arrival_clear(a);
        observe(srv, a->method, GRPC_STATUS_RESOURCE_EXHAUSTED, 0);
        return;
    }

    c->srv = srv;
    c->method = a->method;
    c->call = a->call;
    c->md = a->md;
    c->details = a->details;
    c->has_details = a->has_details;
    c->deadline_ms = deadline_to_ms(a->deadline);
    if (srv->observe != NULL)
        c->arrived_ns = monotonic_ns();
    c->refs = 1; /* the owner's, until the call is completed */
    c->close_tag.kind = TAG_CLOSE;
    c->close_tag.owner = c;
    c->send_tag.kind = TAG_SEND;
    c->send_tag.owner = c;
    fv_arena_init(&c->arena, srv->arena_cap);
    c->request = grpc_empty_slice();
    if (a->payload != NULL) {
        grpc_byte_buffer_reader reader;
        /* Fails when a compressed message cannot be decompressed. */
        if (grpc_byte_buffer_reader_init(&reader, a->payload)) {
            c->request = grpc_byte_buffer_reader_readall(&reader);
            grpc_byte_buffer_reader_destroy(&reader);
        } else {
            readable = false;
        }
        grpc_byte_buffer_destroy(a->payload);
    }
    if (c->method != NULL) {
        c->path = c->method->path;
    } else {
        c->path = fv_arena_strndup(&c->arena, (const char *)GRPC_SLICE_START_PTR(c->details.method),
                                   GRPC_SLICE_LENGTH(c->details.method));
        if (c->path == NULL)
            c->path = "?";
    }

    pthread_mutex_lock(&srv->mu);
    c->next = srv->calls;
    if (srv->calls != NULL)
        srv->calls->prev = c;
    srv->calls = c;
    srv->n_calls++;
    pthread_mutex_unlock(&srv->mu);

    /* Always post RECV_CLOSE_ON_SERVER: it is how we learn of a cancel. */
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &c->cancelled_out;
    pthread_mutex_lock(&c->mu);
    c->refs++;
    e = grpc_call_start_batch(c->call, &op, 1, &c->close_tag, NULL);
    if (e != GRPC_CALL_OK)
        c->refs--;
    pthread_mutex_unlock(&c->mu);
    if (e != GRPC_CALL_OK)
        srv_log(srv, FV_GRPC_LOG_ERROR,
                "could not watch a call to \"%s\" for cancellation: grpc_call_error %d", c->path,
                (int)e);

    if (c->method == NULL) {
        char msg[256];
        snprintf(msg, sizeof msg, "method \"%.200s\" is not implemented", c->path);
        fv_grpc_call_fail(c, GRPC_STATUS_UNIMPLEMENTED, msg);
        return;
    }
    if (a->payload == NULL) {
        /* Half-closed without a message: request cardinality violation (or
         * the call died before its message arrived). */
        srv_log(srv, FV_GRPC_LOG_DEBUG, "a call to \"%s\" carried no request message", c->path);
        fv_grpc_call_fail(c, GRPC_STATUS_UNIMPLEMENTED,
                          "a unary method expects exactly one request message");
        return;
    }
    if (!readable) {
        fv_grpc_call_fail(c, GRPC_STATUS_INTERNAL, "could not decompress the request message");
        return;
    }
    c->method->handler(c, c->method->user);
}

static void on_close(fv_grpc_call *c)
{
    fv_grpc_cancel_fn fn = NULL;
    void *user = NULL;

    pthread_mutex_lock(&c->mu);
    if (c->cancelled_out) {
        c->cancelled = true;
        if (!c->completed && c->on_cancel != NULL) {
            fn = c->on_cancel;
            user = c->on_cancel_user;
            c->on_cancel = NULL;
        }
    }
    pthread_mutex_unlock(&c->mu);
    /* Our batch reference keeps c alive while the hook runs, even if the
     * hook completes it. */
    if (fn != NULL)
        fn(c, FV_GRPC_CANCEL_CLIENT, user);
    call_release(c);
}

static void on_sent(fv_grpc_call *c, bool ok)
{
    grpc_byte_buffer *bb;

    pthread_mutex_lock(&c->mu);
    bb = c->send_bb;
    c->send_bb = NULL;
    pthread_mutex_unlock(&c->mu);
    if (bb != NULL)
        grpc_byte_buffer_destroy(bb);
    if (!ok)
        srv_log(c->srv, FV_GRPC_LOG_DEBUG, "the answer to a call to \"%s\" was not delivered",
                c->path);
    call_release(c);
}

/* ---- request slots ------------------------------------------------------- */

static grpc_call_error slot_arm(request_slot *s)
{
    fv_grpc_server *srv = s->srv;

    if (s->method != NULL)
        return grpc_server_request_registered_call(srv->server, s->method->handle, &s->call,
                                                   &s->deadline, &s->md, &s->payload, srv->cq,
                                                   srv->cq, &s->tag);
    return grpc_server_request_call(srv->server, &s->call, &s->details, &s->md, srv->cq, srv->cq,
                                    &s->tag);
}

static void slot_free(request_slot *s)
{
    fv_grpc_server *srv = s->srv;

    grpc_metadata_array_destroy(&s->md);
    if (s->method == NULL)
        grpc_call_details_destroy(&s->details);
    if (s->payload != NULL)
        grpc_byte_buffer_destroy(s->payload);
    fv_free(s);
    pthread_mutex_lock(&srv->mu);
    srv->n_slots--;
    /* fv_grpc_server_stop waits for the last slot (see on_request). */
    pthread_cond_broadcast(&srv->cv);
    pthread_mutex_unlock(&srv->mu);
}

/* A new armed slot; false when out of memory or refused by gRPC. */
static bool slot_new(fv_grpc_server *srv, const method_entry *method)
{
    request_slot *s = fv_calloc(1, sizeof *s);
    grpc_call_error e;

    if (s == NULL)
        return false;
    s->tag.kind = TAG_REQUEST;
    s->tag.owner = s;
    s->srv = srv;
    s->method = method;
    grpc_metadata_array_init(&s->md);
    if (method == NULL)
        grpc_call_details_init(&s->details);
    pthread_mutex_lock(&srv->mu);
    srv->n_slots++;
    pthread_mutex_unlock(&srv->mu);
    e = slot_arm(s);
    if (e != GRPC_CALL_OK) {
        srv_log(srv, FV_GRPC_LOG_ERROR, "could not request calls: grpc_call_error %d", (int)e);
        slot_free(s);
        return false;
    }
    return true;
}

static void on_request(request_slot *s, bool ok)
{
    fv_grpc_server *srv = s->srv;
    arrival a;
    grpc_call_error e;

    if (!ok) {
        /* The server is shutting down: this request will never match. */
        slot_free(s);
        return;
    }

    /* Take the call out of the slot, then re-arm it at once. */
    memset(&a, 0, sizeof a);
    a.method = s->method;
    a.call = s->call;
    a.md = s->md;
    if (s->method != NULL) {
        a.deadline = s->deadline;
        a.payload = s->payload;
    } else {
        a.details = s->details;
        a.has_details = true;
        a.deadline = s->details.deadline;
        grpc_call_details_init(&s->details);
    }
    s->call = NULL;
    s->payload = NULL;
    grpc_metadata_array_init(&s->md);

    bool release = atomic_load(&srv->stopping);
    if (!release) {
        /* After shutdown began, gRPC fails the request with success == 0. */
        e = slot_arm(s);
        if (e != GRPC_CALL_OK) {
            srv_log(srv, FV_GRPC_LOG_ERROR,
                    "could not re-arm a request for \"%s\": grpc_call_error %d",
                    s->method != NULL ? s->method->path : "(unregistered)", (int)e);
            release = true;
        }
    }
    /* The call is counted (call_begin) before its slot is released: stop
     * waits until no slot is left and no call is counted, so it can never
     * destroy the server between a call's arrival and its first batch. */
    call_begin(srv, &a);
    if (release)
        slot_free(s);
}

/* ---- completion-queue threads ------------------------------------------- */

static void on_shutdown(fv_grpc_server *srv)
{
    pthread_mutex_lock(&srv->mu);
    srv->shutdown_done = true;
    pthread_cond_broadcast(&srv->cv);
    pthread_mutex_unlock(&srv->mu);
}

static void dispatch(void *tag, bool ok)
{
    fv_grpc_tag *t = tag;

    switch (t->kind) {
    case TAG_REQUEST:
        on_request(t->owner, ok);
        break;
    case TAG_CLOSE:
        /* RECV_CLOSE_ON_SERVER always succeeds; cancelled_out says how. */
        on_close(t->owner);
        break;
    case TAG_SEND:
        on_sent(t->owner, ok);
        break;
    case TAG_SHUTDOWN:
        on_shutdown(t->owner);
        break;
    }
}

static void *cq_thread(void *arg)
{
    fv_grpc_server *srv = arg;

    for (;;) {
        grpc_event ev =
            grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        switch (ev.type) {
        case GRPC_QUEUE_SHUTDOWN:
            return NULL;
        case GRPC_QUEUE_TIMEOUT:
            break;
        case GRPC_OP_COMPLETE:
            dispatch(ev.tag, ev.success != 0);
            break;
        }
    }
}

/* ---- the server ---------------------------------------------------------- */

static int or_default(int v, int def)
{
    return v > 0 ? v : def;
}

static fv_err check_config(const fv_grpc_server_config *cfg, fv_error *err)
{
    if (cfg == NULL || cfg->listen == NULL || cfg->listen[0] == '\0')
        return fv_error_set(err, FV_E_INVALID, "a listen address is required");
    if (cfg->cq_threads < 0 || cfg->max_receive_bytes < 0 || cfg->requests_per_method < 0 ||
        cfg->unknown_requests < 0 || cfg->shutdown_grace_ms < 0)
        return fv_error_set(err, FV_E_INVALID, "gRPC server limits cannot be negative");
    if (cfg->n_methods > 0 && cfg->methods == NULL)
        return fv_error_set(err, FV_E_INVALID, "method table is missing");
    for (size_t i = 0; i < cfg->n_methods; i++) {
        const fv_grpc_method *m = &cfg->methods[i];
        if (m->path == NULL || m->path[0] != '/')
            return fv_error_set(err, FV_E_INVALID, "method path \"%s\" must start with '/'",
                                m->path != NULL ? m->path : "");
        if (m->handler == NULL)
            return fv_error_set(err, FV_E_INVALID, "method \"%s\" has no handler", m->path);
        for (size_t j = 0; j < i; j++)
            if (strcmp(cfg->methods[j].path, m->path) == 0)
                return fv_error_set(err, FV_E_INVALID, "method \"%s\" is registered twice",
                                    m->path);
    }
    return FV_OK;
}

/* Ends the completion queue: threads return, queue destroyed. The server
 * (if any) must be destroyed already. */
static void close_queue(fv_grpc_server *srv)
{
    if (srv->cq == NULL)
        return;
    grpc_completion_queue_shutdown(srv->cq);
    for (int i = 0; i < srv->n_threads; i++)
        pthread_join(srv->threads[i], NULL);
    srv->n_threads = 0;
    grpc_completion_queue_destroy(srv->cq);
    srv->cq = NULL;
}

static void release_memory(fv_grpc_server *srv)
{
    for (size_t i = 0; i < srv->n_methods; i++)
        fv_free(srv->methods[i].path);
    fv_free(srv->methods);
    fv_free(srv->threads);
    pthread_cond_destroy(&srv->cv);
    pthread_mutex_destroy(&srv->mu);
    fv_free(srv);
}

static bool init_sync(fv_grpc_server *srv)
{
    pthread_condattr_t attr;
    bool ok;

    if (pthread_mutex_init(&srv->mu, NULL) != 0)
        return false;
    if (pthread_condattr_init(&attr) != 0) {
        pthread_mutex_destroy(&srv->mu);
        return false;
    }
    ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
         pthread_cond_init(&srv->cv, &attr) == 0;
    pthread_condattr_destroy(&attr);
    if (!ok)
        pthread_mutex_destroy(&srv->mu);
    return ok;
}

fv_grpc_server *fv_grpc_server_new(const fv_grpc_server_config *cfg, fv_error *err)
{
    fv_grpc_server *srv;
    grpc_arg args[2];
    grpc_channel_args chargs;
    grpc_server_credentials *creds;
    fv_err rc;

    rc = check_config(cfg, err);
    if (rc != FV_OK)
        return NULL;

    srv = fv_calloc(1, sizeof *srv);
    if (srv == NULL) {
        fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
        return NULL;
    }
    if (!init_sync(srv)) {
        fv_free(srv);
        fv_error_set(err, FV_E_EXHAUSTED, "could not create a mutex");
        return NULL;
    }
    atomic_init(&srv->stopping, false);
    srv->cq_threads = or_default(cfg->cq_threads, DEFAULT_CQ_THREADS);
    srv->max_receive_bytes = or_default(cfg->max_receive_bytes, DEFAULT_MAX_RECEIVE_BYTES);
    srv->requests_per_method = or_default(cfg->requests_per_method, DEFAULT_REQUESTS_PER_METHOD);
    srv->unknown_requests = or_default(cfg->unknown_requests, DEFAULT_UNKNOWN_REQUESTS);
    srv->shutdown_grace_ms = or_default(cfg->shutdown_grace_ms, DEFAULT_SHUTDOWN_GRACE_MS);
    srv->arena_cap = cfg->arena_cap > 0 ? cfg->arena_cap : FV_ARENA_DEFAULT_CAP;
    srv->log = cfg->log;
    srv->log_user = cfg->log_user;
    srv->observe = cfg->observe;
    srv->observe_user = cfg->observe_user;
    srv->shutdown_tag.kind = TAG_SHUTDOWN;
    srv->shutdown_tag.owner = srv;

    srv->threads = fv_calloc((size_t)srv->cq_threads, sizeof *srv->threads);
    srv->methods = fv_calloc(cfg->n_methods, sizeof *srv->methods);
    if (srv->threads == NULL || srv->methods == NULL)
        goto oom;
    srv->n_methods = cfg->n_methods;
    for (size_t i = 0; i < cfg->n_methods; i++) {
        srv->methods[i].path = fv_strdup(cfg->methods[i].path);
        if (srv->methods[i].path == NULL)
            goto oom;
        srv->methods[i].handler = cfg->methods[i].handler;
        srv->methods[i].user = cfg->methods[i].user;
    }

    /* Queue and its threads first: every later failure is undone through
     * them. */
    srv->cq = grpc_completion_queue_create_for_next(NULL);
    for (int i = 0; i < srv->cq_threads; i++) {
        if (pthread_create(&srv->threads[i], NULL, cq_thread, srv) != 0) {
            fv_error_set(err, FV_E_EXHAUSTED, "could not start gRPC threads");
            goto fail_queue;
        }
        srv->n_threads++;
    }

    memset(args, 0, sizeof args);
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = srv->max_receive_bytes;
    /* gRPC sets SO_REUSEPORT by default: a second server on the same port
     * would bind happily and share the traffic. */
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = GRPC_ARG_ALLOW_REUSEPORT;
    args[1].value.integer = 0;
    chargs.num_args = sizeof args / sizeof args[0];
    chargs.args = args;
    srv->server = grpc_server_create(&chargs, NULL);
    grpc_server_register_completion_queue(srv->server, srv->cq, NULL);
    for (size_t i = 0; i < srv->n_methods; i++) {
        srv->methods[i].handle = grpc_server_register_method(
            srv->server, srv->methods[i].path, NULL, GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
        if (srv->methods[i].handle == NULL) {
            fv_error_set(err, FV_E_INVALID, "could not register method \"%s\"",
                         srv->methods[i].path);
            goto fail_server;
        }
    }
    creds = grpc_insecure_server_credentials_create();
    srv->port = grpc_server_add_http2_port(srv->server, cfg->listen, creds);
    grpc_server_credentials_release(creds);
    if (srv->port == 0) {
        fv_error_set(err, FV_E_UNAVAILABLE, "could not listen on \"%s\"", cfg->listen);
        goto fail_server;
    }
    grpc_server_start(srv->server);

    for (size_t i = 0; i < srv->n_methods; i++)
        for (int k = 0; k < srv->requests_per_method; k++)
            if (!slot_new(srv, &srv->methods[i]))
                goto fail_started;
    for (int k = 0; k < srv->unknown_requests; k++)
        if (!slot_new(srv, NULL))
            goto fail_started;
    return srv;

fail_started:
    fv_error_set(err, FV_E_EXHAUSTED, "could not arm gRPC requests");
    fv_grpc_server_free(srv);
    return NULL;
fail_server:
    /* Never started and no listener added: destroy needs no shutdown. */
    grpc_server_destroy(srv->server);
    srv->server = NULL;
fail_queue:
    close_queue(srv);
    release_memory(srv);
    return NULL;
oom:
    fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
    release_memory(srv);
    return NULL;
}

int fv_grpc_server_port(const fv_grpc_server *srv)
{
    return srv->port;
}

/* Run the hook of every parked call with FV_GRPC_CANCEL_SHUTDOWN. */
static void flush_parked(fv_grpc_server *srv)
{
    fv_grpc_call *list = NULL;

    pthread_mutex_lock(&srv->mu);
    for (fv_grpc_call *c = srv->calls; c != NULL; c = c->next) {
        pthread_mutex_lock(&c->mu);
        if (c->refs > 0 && !c->completed && c->on_cancel != NULL) {
            c->flush_fn = c->on_cancel;
            c->flush_user = c->on_cancel_user;
            c->on_cancel = NULL;
            c->refs++;
            c->flush_next = list;
            list = c;
        }
        pthread_mutex_unlock(&c->mu);
    }
    pthread_mutex_unlock(&srv->mu);

    while (list != NULL) {
        fv_grpc_call *c = list;
        list = c->flush_next;
        c->flush_fn(c, FV_GRPC_CANCEL_SHUTDOWN, c->flush_user);
        call_release(c);
    }
}

/* Wait (server mutex held) until no call is left and, with need_shutdown,
 * the shutdown is notified and every request slot has come back (a slot
 * whose call arrived is released only after the call is counted); for at
 * most ms (< 0: forever). Returns whether that happened. */
static bool wait_drained(fv_grpc_server *srv, bool need_shutdown, int64_t ms)
{
    struct timespec until;

#define DRAINED()                                                                                  \
    ((!need_shutdown || (srv->shutdown_done && srv->n_slots == 0)) && srv->n_calls == 0)
    abs_after_ms(&until, ms < 0 ? STOP_NAG_MS : ms);
    while (!DRAINED()) {
        int rc = pthread_cond_timedwait(&srv->cv, &srv->mu, &until);
        if (rc == ETIMEDOUT) {
            if (ms >= 0)
                return DRAINED();
            srv_log(srv, FV_GRPC_LOG_WARN, "still waiting for %zu gRPC calls to complete",
                    srv->n_calls);
            abs_after_ms(&until, STOP_NAG_MS);
        }
    }
#undef DRAINED
    return true;
}

void fv_grpc_server_stop(fv_grpc_server *srv)
{
    bool drained;

    if (srv == NULL)
        return;
    pthread_mutex_lock(&srv->mu);
    if (srv->stopped || atomic_load(&srv->stopping)) {
        pthread_mutex_unlock(&srv->mu);
        return;
    }
    atomic_store(&srv->stopping, true);
    pthread_mutex_unlock(&srv->mu);

    /* 1. No new calls; armed requests complete with success == 0. */
    grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->shutdown_tag);
    /* 2. Parked calls are answered by their owners. */
    flush_parked(srv);
    /* 3. Let in-flight calls finish, then cancel what is left. The cancel
     * also closes idle connections: the shutdown notification waits for
     * every connection to close, and a client may keep an idle one open for
     * as long as it likes. */
    pthread_mutex_lock(&srv->mu);
    drained = wait_drained(srv, false, srv->shutdown_grace_ms);
    if (!drained)
        srv_log(srv, FV_GRPC_LOG_WARN, "cancelling %zu gRPC calls still in flight after %d ms",
                srv->n_calls, srv->shutdown_grace_ms);
    pthread_mutex_unlock(&srv->mu);
    grpc_server_cancel_all_calls(srv->server);
    pthread_mutex_lock(&srv->mu);
    wait_drained(srv, true, -1);
    pthread_mutex_unlock(&srv->mu);
    /* 4. Server, then queue (drained to GRPC_QUEUE_SHUTDOWN by its threads). */
    grpc_server_destroy(srv->server);
    srv->server = NULL;
    close_queue(srv);

    pthread_mutex_lock(&srv->mu);
    srv->stopped = true;
    if (srv->n_slots != 0)
        srv_log(srv, FV_GRPC_LOG_ERROR, "%zu gRPC request slots left after shutdown", srv->n_slots);
    pthread_mutex_unlock(&srv->mu);
}

void fv_grpc_server_free(fv_grpc_server *srv)
{
    if (srv == NULL)
        return;
    fv_grpc_server_stop(srv);
    release_memory(srv);
}

/* ---- call accessors and completion --------------------------------------- */

const char *fv_grpc_call_method(const fv_grpc_call *call)
{
    return call->path;
}

const uint8_t *fv_grpc_call_request(const fv_grpc_call *call, size_t *n)
{
    *n = GRPC_SLICE_LENGTH(call->request);
    if (*n == 0)
        return empty_request;
    return GRPC_SLICE_START_PTR(call->request);
}

const char *fv_grpc_call_metadata_n(fv_grpc_call *call, const char *key, size_t *n)
{
    if (n != NULL)
        *n = 0;
    for (size_t i = 0; i < call->md.count; i++) {
        const grpc_metadata *m = &call->md.metadata[i];
        if (grpc_slice_str_cmp(m->key, key) == 0) {
            size_t len = GRPC_SLICE_LENGTH(m->value);
            char *v =
                fv_arena_strndup(&call->arena, (const char *)GRPC_SLICE_START_PTR(m->value), len);
            if (v != NULL && n != NULL)
                *n = len;
            return v;
        }
    }
    return NULL;
}

const char *fv_grpc_call_metadata(fv_grpc_call *call, const char *key)
{
    return fv_grpc_call_metadata_n(call, key, NULL);
}

int64_t fv_grpc_call_deadline_ms(const fv_grpc_call *call)
{
    return call->deadline_ms;
}

fv_arena *fv_grpc_call_arena(fv_grpc_call *call)
{
    return &call->arena;
}

bool fv_grpc_call_on_cancel(fv_grpc_call *call, fv_grpc_cancel_fn fn, void *user)
{
    bool ok;

    pthread_mutex_lock(&call->mu);
    /* Checked under the call mutex, which flush_parked also takes after
     * `stopping` is set: a hook is either seen by the flush or refused. */
    ok = !call->cancelled && !call->completed && !atomic_load(&call->srv->stopping);
    if (ok) {
        call->on_cancel = fn;
        call->on_cancel_user = user;
    }
    pthread_mutex_unlock(&call->mu);
    return ok;
}

bool fv_grpc_call_is_cancelled(fv_grpc_call *call)
{
    bool cancelled;

    pthread_mutex_lock(&call->mu);
    cancelled = call->cancelled;
    pthread_mutex_unlock(&call->mu);
    return cancelled;
}

static bool trailer_char_ok(unsigned char ch, bool key)
{
    if (key)
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
               ch == '.';
    return ch >= 0x20 && ch <= 0x7e;
}

fv_err fv_grpc_call_add_trailer(fv_grpc_call *call, const char *key, const char *value)
{
    if (key == NULL || value == NULL || key[0] == '\0' || strncmp(key, "grpc-", 5) == 0)
        return FV_E_INVALID;
    size_t kn = strlen(key);
    if (kn >= 4 && strcmp(key + kn - 4, "-bin") == 0)
        return FV_E_INVALID;
    for (const char *k = key; *k != '\0'; k++)
        if (!trailer_char_ok((unsigned char)*k, true))
            return FV_E_INVALID;
    for (const char *v = value; *v != '\0'; v++)
        if (!trailer_char_ok((unsigned char)*v, false))
            return FV_E_INVALID;
    if (call->n_trailers == FV_GRPC_TRAILERS_MAX)
        return FV_E_EXHAUSTED;
    const char *kc = fv_arena_strdup(&call->arena, key);
    const char *vc = fv_arena_strdup(&call->arena, value);
    if (kc == NULL || vc == NULL)
        return FV_E_EXHAUSTED;
    call->trailer_key[call->n_trailers] = kc;
    call->trailer_value[call->n_trailers] = vc;
    call->n_trailers++;
    return FV_OK;
}

fv_err fv_grpc_call_reply(fv_grpc_call *call, const uint8_t *bytes, size_t n)
{
    static const uint8_t none[1];

    return call_complete(call, GRPC_STATUS_OK, NULL, bytes != NULL ? bytes : none, n, true);
}

fv_err fv_grpc_call_fail(fv_grpc_call *call, grpc_status_code code, const char *message)
{
    if (code == GRPC_STATUS_OK) {
        /* Not a failure: answering OK without a message would break the
         * unary contract for the client. */
        code = GRPC_STATUS_INTERNAL;
        srv_log(call->srv, FV_GRPC_LOG_ERROR, "a call to \"%s\" was failed with status OK",
                call->path);
    }
    return call_complete(call, code, message, NULL, 0, false);
}

fv_err fv_grpc_call_fail_err(fv_grpc_call *call, fv_err code, const char *message)
{
    return fv_grpc_call_fail(call, fv_grpc_status_from_err(code),
                             message != NULL ? message : fv_strerror(code));
}
