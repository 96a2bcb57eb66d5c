/*
 * A small server on the generic gRPC machinery, for test_grpc_machinery.py.
 * Methods take and return raw bytes (no protobuf):
 *
 *   /test.v1.Echo/Echo      replies with the request bytes
 *   /test.v1.Echo/Auth      replies with the "authorization" metadata value
 *                           ("" when absent)
 *   /test.v1.Echo/Park      parks the call; a timer thread replies "parked N"
 *                           after N ms (N = request as decimal text); on a
 *                           client cancel it counts the cancel, on stop it
 *                           replies "shutdown"
 *   /test.v1.Echo/Hold      like Park but without a cancel hook: only the
 *                           timer completes it (exercises the forced
 *                           shutdown after the grace period)
 *   /test.v1.Echo/Oom       replies "ok", then makes every fv_ allocation
 *                           fail until the process gets SIGUSR1
 *   /test.v1.Echo/Fail      fails with the domain error named by the request
 *                           ("NOT_FOUND", "ALREADY_EXISTS", ...; empty =
 *                           NOT_FOUND), mapped by fv_grpc_status_from_err
 *   /test.v1.Echo/Deadline  replies with the ms left before the deadline, or
 *                           "none"
 *   /test.v1.Echo/Stats     replies "cancels=C flushed=F parked=P"
 *
 * Usage: echo_server [LISTEN [THREADS [GRACE_MS]]] (default 127.0.0.1:0, 2
 * and the machinery's default). Prints the bound port on stdout, serves until
 * SIGTERM or SIGINT, stops cleanly and exits 0 (2 when it cannot start).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/grpc.h>

#include "adapters/grpc/grpc_server.h"
#include "adapters/grpc/grpc_status.h"
#include "core/util/alloc.h"

/* A parked call, in the call's arena (alive until the call is completed and
 * released, so also while its cancel hook runs). */
typedef struct echo echo;

typedef struct parked {
    echo *owner;
    fv_grpc_call *call;
    int64_t due_ms;
    struct parked *prev, *next;
    bool listed;
} parked;

struct echo {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    parked *head;
    size_t n_parked;
    bool quit;
    atomic_long cancels;
    atomic_long flushed;
};

static void unlink_locked(echo *e, parked *p)
{
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        e->head = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
    p->listed = false;
    e->n_parked--;
}

static void reply_text(fv_grpc_call *call, const char *s)
{
    fv_grpc_call_reply(call, (const uint8_t *)s, strlen(s));
}

static void on_log(void *user, fv_grpc_log_level level, const char *msg)
{
    static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

    (void)user;
    fprintf(stderr, "echo_server: %s: %s\n", names[level], msg);
}

static void handle_echo(fv_grpc_call *call, void *user)
{
    size_t n;
    const uint8_t *p = fv_grpc_call_request(call, &n);

    (void)user;
    fv_grpc_call_reply(call, p, n);
}

static void handle_auth(fv_grpc_call *call, void *user)
{
    const char *v = fv_grpc_call_metadata(call, "authorization");

    (void)user;
    reply_text(call, v != NULL ? v : "");
}

static void handle_fail(fv_grpc_call *call, void *user)
{
    size_t n;
    const char *name = (const char *)fv_grpc_call_request(call, &n);
    fv_err code = FV_E_NOT_FOUND;
    char msg[128];

    (void)user;
#define MATCH_NAME(suffix, value, cname, text)                                                     \
    if (n == strlen(cname) && memcmp(name, cname, n) == 0)                                         \
        code = FV_E_##suffix;
    FV_ERR_MAP(MATCH_NAME)
#undef MATCH_NAME
    snprintf(msg, sizeof msg, "thing \"x\" failed with %s", fv_err_name(code));
    fv_grpc_call_fail_err(call, code, msg);
}

static void handle_deadline(fv_grpc_call *call, void *user)
{
    int64_t d = fv_grpc_call_deadline_ms(call);
    char buf[32];

    (void)user;
    if (d == INT64_MAX)
        snprintf(buf, sizeof buf, "none");
    else
        snprintf(buf, sizeof buf, "%" PRId64, d - fv_grpc_monotonic_ms());
    reply_text(call, buf);
}

static void handle_stats(fv_grpc_call *call, void *user)
{
    echo *e = user;
    char buf[96];
    size_t n_parked;

    pthread_mutex_lock(&e->mu);
    n_parked = e->n_parked;
    pthread_mutex_unlock(&e->mu);
    snprintf(buf, sizeof buf, "cancels=%ld flushed=%ld parked=%zu", atomic_load(&e->cancels),
             atomic_load(&e->flushed), n_parked);
    reply_text(call, buf);
}

/* Whoever unlinks a parked call completes it: the timer, this hook, or stop. */
static void park_cancel_hook(fv_grpc_call *call, fv_grpc_cancel_reason why, void *user)
{
    parked *p = user;
    echo *e = p->owner;
    bool mine;

    pthread_mutex_lock(&e->mu);
    mine = p->listed;
    if (mine)
        unlink_locked(e, p);
    pthread_mutex_unlock(&e->mu);
    if (!mine)
        return;
    switch (why) {
    case FV_GRPC_CANCEL_CLIENT:
        atomic_fetch_add(&e->cancels, 1);
        fv_grpc_call_fail(call, GRPC_STATUS_CANCELLED, "cancelled");
        break;
    case FV_GRPC_CANCEL_SHUTDOWN:
        atomic_fetch_add(&e->flushed, 1);
        reply_text(call, "shutdown");
        break;
    }
}

static void park(fv_grpc_call *call, echo *e, bool hooked)
{
    size_t n;
    const uint8_t *req = fv_grpc_call_request(call, &n);
    char *text = fv_arena_strndup(fv_grpc_call_arena(call), (const char *)req, n);
    parked *p = fv_arena_calloc(fv_grpc_call_arena(call), 1, sizeof *p);
    char *end;
    long ms;
    bool ok = true;

    if (text == NULL || p == NULL) {
        fv_grpc_call_fail_err(call, FV_E_EXHAUSTED, NULL);
        return;
    }
    errno = 0;
    ms = strtol(text, &end, 10);
    if (n == 0 || *end != '\0' || errno != 0 || ms < 0) {
        fv_grpc_call_fail_err(call, FV_E_INVALID, "park time must be a number of ms");
        return;
    }
    p->owner = e;
    p->call = call;
    p->due_ms = fv_grpc_monotonic_ms() + ms;

    pthread_mutex_lock(&e->mu);
    p->next = e->head;
    if (e->head != NULL)
        e->head->prev = p;
    e->head = p;
    p->listed = true;
    e->n_parked++;
    if (hooked)
        ok = fv_grpc_call_on_cancel(call, park_cancel_hook, p);
    if (!ok)
        unlink_locked(e, p);
    else
        pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    if (!ok) {
        /* Already cancelled, or the server is stopping. */
        if (fv_grpc_call_is_cancelled(call)) {
            atomic_fetch_add(&e->cancels, 1);
            fv_grpc_call_fail(call, GRPC_STATUS_CANCELLED, "cancelled");
        } else {
            reply_text(call, "shutdown");
        }
    }
}

static void handle_park(fv_grpc_call *call, void *user)
{
    park(call, user, true);
}

static void handle_hold(fv_grpc_call *call, void *user)
{
    park(call, user, false);
}

static void handle_oom(fv_grpc_call *call, void *user)
{
    (void)user;
    /* Armed before the answer leaves: once the client has it, its next call
     * must find the failures armed (armed after the reply, a call sent at
     * once could arrive on the other completion-queue thread first). The
     * reply itself allocates nothing with fv_ (gRPC slices). */
    fv_alloc_fail_after(0);
    reply_text(call, "ok");
}

/* Trailing metadata: refuses what gRPC would refuse, then sends two
 * entries; the reply says which refusal went wrong, if any. */
static void handle_trailer(fv_grpc_call *call, void *user)
{
    static const struct {
        const char *key, *value;
        fv_err want;
    } cases[] = {
        {"Upper-Case", "v", FV_E_INVALID},
        {"grpc-status", "v", FV_E_INVALID},
        {"blob-bin", "v", FV_E_INVALID},
        {"", "v", FV_E_INVALID},
        {"x-utf8", "caf\xc3\xa9", FV_E_INVALID},
        {"x-newline", "a\nb", FV_E_INVALID},
        {"x-first", "one", FV_OK},
        {"x-second", "two words", FV_OK},
        {"x-third", "3", FV_OK},
        {"x-fourth", "4", FV_OK},
        {"x-fifth", "5", FV_E_EXHAUSTED},
    };
    (void)user;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (fv_grpc_call_add_trailer(call, cases[i].key, cases[i].value) != cases[i].want) {
            char msg[64];
            snprintf(msg, sizeof msg, "case %zu", i);
            reply_text(call, msg);
            return;
        }
    }
    reply_text(call, "ok");
}

static void *timer_thread(void *arg)
{
    echo *e = arg;

    pthread_mutex_lock(&e->mu);
    while (!e->quit) {
        int64_t now = fv_grpc_monotonic_ms();
        int64_t next = now + 1000;
        parked *due = NULL;

        for (parked *p = e->head, *nx; p != NULL; p = nx) {
            nx = p->next;
            if (p->due_ms <= now) {
                unlink_locked(e, p);
                p->next = due;
                due = p;
            } else if (p->due_ms < next) {
                next = p->due_ms;
            }
        }
        if (due != NULL) {
            pthread_mutex_unlock(&e->mu);
            while (due != NULL) {
                parked *p = due;
                char buf[48];
                due = p->next;
                /* p lives in the call's arena: read it before completing. */
                snprintf(buf, sizeof buf, "parked %" PRId64, p->due_ms);
                reply_text(p->call, buf);
            }
            pthread_mutex_lock(&e->mu);
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        int64_t wait = next - now;
        until.tv_sec += (time_t)(wait / 1000);
        until.tv_nsec += (long)(wait % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&e->cv, &e->mu, &until);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

int main(int argc, char **argv)
{
    static echo e;
    sigset_t sigs;
    int sig = 0;
    pthread_t timer;
    pthread_condattr_t ca;
    fv_error err;
    fv_grpc_server *srv;
    const fv_grpc_method methods[] = {
        {"/test.v1.Echo/Echo", handle_echo, NULL},
        {"/test.v1.Echo/Auth", handle_auth, NULL},
        {"/test.v1.Echo/Park", handle_park, &e},
        {"/test.v1.Echo/Hold", handle_hold, &e},
        {"/test.v1.Echo/Oom", handle_oom, NULL},
        {"/test.v1.Echo/Fail", handle_fail, NULL},
        {"/test.v1.Echo/Deadline", handle_deadline, NULL},
        {"/test.v1.Echo/Stats", handle_stats, &e},
        {"/test.v1.Echo/Trailer", handle_trailer, NULL},
    };
    fv_grpc_server_config cfg = {
        .listen = argc > 1 ? argv[1] : "127.0.0.1:0",
        .cq_threads = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 2,
        .shutdown_grace_ms = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 0,
        .methods = methods,
        .n_methods = sizeof methods / sizeof methods[0],
        .log = on_log,
    };

    /* Before grpc_init: every thread inherits this mask, so only sigwait
     * below sees SIGTERM/SIGINT. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    pthread_mutex_init(&e.mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e.cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&timer, NULL, timer_thread, &e) != 0) {
        fprintf(stderr, "echo_server: could not start the timer thread\n");
        return 1;
    }

    grpc_init();
    srv = fv_grpc_server_new(&cfg, &err);
    if (srv == NULL) {
        fprintf(stderr, "echo_server: %s: %s\n", fv_err_name(err.code), err.msg);
        grpc_shutdown();
        pthread_mutex_lock(&e.mu);
        e.quit = true;
        pthread_cond_signal(&e.cv);
        pthread_mutex_unlock(&e.mu);
        pthread_join(timer, NULL);
        return 2;
    }
    printf("%d\n", fv_grpc_server_port(srv));
    fflush(stdout);

    /* SIGUSR1 ends the allocation failures started by /test.v1.Echo/Oom. */
    while (sigwait(&sigs, &sig) == 0 && sig == SIGUSR1) {
        fv_alloc_fail_reset();
        fprintf(stderr, "echo_server: allocations restored\n");
    }
    fprintf(stderr, "echo_server: signal %d, stopping\n", sig);

    /* Stop flushes the parked calls through their hooks, so the timer has
     * nothing left when it is told to quit. */
    fv_grpc_server_stop(srv);
    fv_grpc_server_free(srv);
    pthread_mutex_lock(&e.mu);
    e.quit = true;
    pthread_cond_signal(&e.cv);
    pthread_mutex_unlock(&e.mu);
    pthread_join(timer, NULL);
    /* Blocking: see app/serve.c (gRPC's own threads must be gone at exit). */
    grpc_shutdown_blocking();
    pthread_cond_destroy(&e.cv);
    pthread_mutex_destroy(&e.mu);
    fprintf(stderr, "echo_server: stopped (cancels=%ld flushed=%ld)\n", atomic_load(&e.cancels),
            atomic_load(&e.flushed));
    return 0;
}
