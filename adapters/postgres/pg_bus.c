/* The event bus on PostgreSQL LISTEN/NOTIFY (pg_bus.h has the design). */
#include "adapters/postgres/pg_bus.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "adapters/postgres/pg_int.h"
#include "core/task.h"
#include "core/util/alloc.h"
#include "core/util/arena.h"
#include "db_tasks.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
/* A listener that cannot reach the database gives up connecting after
 * this long (then waits its backoff), so that a stop never waits longer. */
#define LISTEN_CONNECT_TIMEOUT_S 2
/* "T " + tenant + " " + task + " " + event id: well below pg_notify's
 * 8000 bytes, as is "Q " + tenant + " " + a queue of FV_TASK_QUEUE_MAX. */
#define PAYLOAD_MAX 256

struct fv_bus_sub {
    fv_bus_fn fn;
    void *user;
    fv_bus_sub *prev, *next;
    bool removed; /* unsubscribed from inside its own callback */
};

struct fv_pg_bus {
    fv_pg_pool *pool;        /* borrowed: publish */
    fv_pg_pool *listen_pool; /* owned: the listener's one connection */
    fv_pg_conn *conn;        /* the listener's connection (listener thread after new) */
    fv_pg_log_fn log;
    void *log_user;
    int stop_fd; /* eventfd: readable once fv_pg_bus_free wants the thread to end */
    pthread_t thread;
    bool started;

    pthread_mutex_t mu;  /* guards everything below; never held during a callback */
    pthread_cond_t idle; /* signalled whenever `running` is cleared */
    fv_bus_sub *subs;
    fv_bus_sub *running; /* whose callback runs now, on the listener thread */
    pthread_t listener;  /* the listener thread's id (set by it) */
    bool has_listener;
};

static void blog(const fv_pg_bus *b, fv_pg_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void blog(const fv_pg_bus *b, fv_pg_log_level level, const char *fmt, ...)
{
    if (b->log == NULL)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    b->log(b->log_user, level, msg);
}

/* ------------------------------------------------------------------------ */
/* Payloads                                                                  */
/* ------------------------------------------------------------------------ */

/* The text of a notice into buf; false when m is not one we can send. */
static bool format_payload(const fv_bus_msg *m, char buf[PAYLOAD_MAX])
{
    char tenant[FV_UUID_STR_LEN + 1], task[FV_UUID_STR_LEN + 1];
    int w;
    switch (m->kind) {
    case FV_BUS_QUEUE: {
        if (m->queue == NULL)
            return false;
        size_t n = strlen(m->queue);
        if (n == 0 || n > FV_TASK_QUEUE_MAX)
            return false;
        fv_uuid_format(&m->tenant_id, tenant);
        w = snprintf(buf, PAYLOAD_MAX, "Q %s %s", tenant, m->queue);
        break;
    }
    case FV_BUS_TASK:
        fv_uuid_format(&m->tenant_id, tenant);
        fv_uuid_format(&m->task_id, task);
        w = snprintf(buf, PAYLOAD_MAX, "T %s %s %" PRId64, tenant, task, m->event_id);
        break;
    case FV_BUS_RESYNC:
        w = snprintf(buf, PAYLOAD_MAX, "R");
        break;
    default:
        return false;
    }
    return w > 0 && w < PAYLOAD_MAX;
}

/* A uuid followed by a space at *p; advances past both. */
static bool take_uuid(const char **p, fv_uuid *out)
{
    if (strlen(*p) < FV_UUID_STR_LEN + 1 || (*p)[FV_UUID_STR_LEN] != ' ' ||
        !fv_uuid_parse(*p, FV_UUID_STR_LEN, out))
        return false;
    *p += FV_UUID_STR_LEN + 1;
    return true;
}

/* Parse a payload; m->queue points into s. */
static bool parse_payload(const char *s, fv_bus_msg *m)
{
    memset(m, 0, sizeof *m);
    if (strcmp(s, "R") == 0) {
        m->kind = FV_BUS_RESYNC;
        return true;
    }
    if (s[0] == '\0' || s[1] != ' ')
        return false;
    const char *p = s + 2;
    if (s[0] == 'Q') {
        size_t n = strlen(p) > FV_UUID_STR_LEN ? strlen(p) - FV_UUID_STR_LEN - 1 : 0;
        if (!take_uuid(&p, &m->tenant_id) || n == 0 || n > FV_TASK_QUEUE_MAX)
            return false;
        m->kind = FV_BUS_QUEUE;
        m->queue = p;
        return true;
    }
    if (s[0] == 'T') {
        if (!take_uuid(&p, &m->tenant_id) || !take_uuid(&p, &m->task_id))
            return false;
        if (*p < '0' || *p > '9')
            return false;
        char *end;
        errno = 0;
        long long id = strtoll(p, &end, 10);
        if (errno != 0 || *end != '\0')
            return false;
        m->kind = FV_BUS_TASK;
        m->event_id = (int64_t)id;
        return true;
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* Subscribers                                                               */
/* ------------------------------------------------------------------------ */

static void unlink_locked(fv_pg_bus *b, fv_bus_sub *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        b->subs = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
}

/* Call every subscriber with m, one after the other, without the lock. */
static void dispatch(fv_pg_bus *b, const fv_bus_msg *m)
{
    pthread_mutex_lock(&b->mu);
    fv_bus_sub *s = b->subs;
    while (s != NULL) {
        b->running = s;
        pthread_mutex_unlock(&b->mu);
        s->fn(s->user, m);
        pthread_mutex_lock(&b->mu);
        b->running = NULL;
        /* s is still linked (unsubscribe waited for it or marked it), so
         * its next pointer is current. */
        fv_bus_sub *next = s->next;
        if (s->removed) {
            unlink_locked(b, s);
            fv_free(s);
        }
        pthread_cond_broadcast(&b->idle);
        s = next;
    }
    pthread_mutex_unlock(&b->mu);
}

static fv_err bus_subscribe(void *self, fv_bus_fn fn, void *user, fv_bus_sub **out, fv_error *err)
{
    fv_pg_bus *b = self;
    *out = NULL;
    if (fn == NULL)
        return fv_error_set(err, FV_E_INVALID, "a bus subscriber needs a callback");
    fv_bus_sub *s = fv_calloc(1, sizeof *s);
    if (s == NULL)
        return fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
    s->fn = fn;
    s->user = user;
    pthread_mutex_lock(&b->mu);
    s->next = b->subs;
    if (b->subs != NULL)
        b->subs->prev = s;
    b->subs = s;
    pthread_mutex_unlock(&b->mu);
    *out = s;
    return FV_OK;
}

static void bus_unsubscribe(void *self, fv_bus_sub *s)
{
    fv_pg_bus *b = self;
    if (s == NULL)
        return;
    pthread_mutex_lock(&b->mu);
    if (b->running == s && b->has_listener && pthread_equal(b->listener, pthread_self())) {
        /* From inside its own callback: the dispatcher frees it after. */
        s->removed = true;
        pthread_mutex_unlock(&b->mu);
        return;
    }
    while (b->running == s)
        pthread_cond_wait(&b->idle, &b->mu);
    unlink_locked(b, s);
    pthread_mutex_unlock(&b->mu);
    fv_free(s);
}

/* ------------------------------------------------------------------------ */
/* Publish                                                                   */
/* ------------------------------------------------------------------------ */

static fv_err bus_publish(void *self, const fv_bus_msg *m, fv_error *err)
{
    fv_pg_bus *b = self;
    char payload[PAYLOAD_MAX];
    if (!format_payload(m, payload))
        return fv_error_set(err, FV_E_INVALID, "a bus notice of kind %d cannot be sent",
                            (int)m->kind);
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_err rc =
        fv_arena_alloc(&a, 1) != NULL ? FV_OK : fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
    if (rc == FV_OK)
        rc = fv_db_notify_tasks_on(b->pool, &a, payload, err);
    fv_arena_release(&a);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The listener                                                              */
/* ------------------------------------------------------------------------ */

/* Borrow the listener's connection and LISTEN on it. */
static fv_err listen_open(fv_pg_bus *b, fv_error *err)
{
    fv_pg_conn *c;
    fv_err rc = fv_pg_acquire(b->listen_pool, &c, err);
    if (rc != FV_OK)
        return rc;
    fv_arena a;
    fv_arena_init(&a, 0);
    rc = fv_db_listen_tasks(c, &a, err);
    fv_arena_release(&a);
    if (rc != FV_OK) {
        fv_pg__conn_mark_broken(c);
        fv_pg_release(b->listen_pool, c);
        return rc;
    }
    b->conn = c;
    return FV_OK;
}

/* Give the broken connection back (the pool closes it). */
static void listen_close(fv_pg_bus *b)
{
    if (b->conn == NULL)
        return;
    fv_pg__conn_mark_broken(b->conn);
    fv_pg_release(b->listen_pool, b->conn);
    b->conn = NULL;
}

/* Wait up to ms for the stop signal; true when the bus stops. */
static bool wait_stop(fv_pg_bus *b, int ms)
{
    struct pollfd p = {.fd = b->stop_fd, .events = POLLIN};
    for (;;) {
        int r = poll(&p, 1, ms);
        if (r < 0 && errno == EINTR)
            continue;
        return r > 0;
    }
}

/* Hand every notification that libpq has read to the subscribers. */
static void drain(fv_pg_bus *b, PGconn *raw)
{
    PGnotify *n;
    while ((n = PQnotifies(raw)) != NULL) {
        fv_bus_msg m;
        if (strcmp(n->relname, "flovyn_tasks") == 0 && n->extra != NULL &&
            parse_payload(n->extra, &m))
            dispatch(b, &m);
        else
            blog(b, FV_PG_LOG_WARN, "event bus: dropped a malformed notification on \"%s\"",
                 n->relname);
        PQfreemem(n);
    }
}

static void *listener_main(void *arg)
{
    fv_pg_bus *b = arg;
    pthread_mutex_lock(&b->mu);
    b->listener = pthread_self();
    b->has_listener = true;
    pthread_mutex_unlock(&b->mu);
    /* The wait before the next attempt to listen again: 0 for the first
     * attempt after a loss, then doubling from BACKOFF_MIN_MS. */
    int backoff = 0;
    for (;;) {
        if (b->conn == NULL) {
            if (wait_stop(b, backoff))
                break;
            fv_error e;
            fv_error_clear(&e);
            if (listen_open(b, &e) != FV_OK) {
                if (backoff == 0 || backoff == BACKOFF_MAX_MS)
                    blog(b, FV_PG_LOG_WARN,
                         "event bus: could not listen again (retrying, at least every %d ms): "
                         "%s",
                         BACKOFF_MAX_MS, e.msg);
                backoff = backoff == 0                   ? BACKOFF_MIN_MS
                          : backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                         : backoff * 2;
                continue;
            }
            backoff = 0;
            blog(b, FV_PG_LOG_INFO,
                 "event bus: listening again; notices of the gap are lost, subscribers resync");
            fv_bus_msg resync = {.kind = FV_BUS_RESYNC};
            dispatch(b, &resync);
        }
        PGconn *raw = fv_pg_conn_raw(b->conn);
        drain(b, raw);
        struct pollfd fds[2] = {{.fd = PQsocket(raw), .events = POLLIN},
                                {.fd = b->stop_fd, .events = POLLIN}};
        bool lost = fds[0].fd < 0;
        if (!lost) {
            int r = poll(fds, 2, -1);
            if (r < 0 && errno != EINTR) {
                blog(b, FV_PG_LOG_ERROR, "event bus: poll failed: %s", strerror(errno));
                if (wait_stop(b, BACKOFF_MAX_MS))
                    break;
                continue;
            }
            if (r > 0 && (fds[1].revents & POLLIN))
                break;
            if (r > 0 && fds[0].revents != 0) {
                lost = PQconsumeInput(raw) == 0;
                drain(b, raw);
                lost = lost || PQstatus(raw) == CONNECTION_BAD;
            }
        }
        if (lost) {
            char why[256];
            blog(b, FV_PG_LOG_WARN, "event bus: lost the listening connection: %s",
                 fv_pg__primary_message(b->conn, NULL, why, sizeof why));
            listen_close(b);
        }
    }
    listen_close(b);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                 */
/* ------------------------------------------------------------------------ */

static const fv_event_bus_ops bus_ops = {
    .publish = bus_publish,
    .subscribe = bus_subscribe,
    .unsubscribe = bus_unsubscribe,
};

fv_event_bus fv_pg_event_bus(fv_pg_bus *b)
{
    return (fv_event_bus){&bus_ops, b};
}

fv_pg_bus *fv_pg_bus_new(fv_pg_pool *pool, const char *conninfo, fv_pg_log_fn log, void *log_user,
                         fv_error *err)
{
    if (pool == NULL || conninfo == NULL || conninfo[0] == '\0') {
        fv_error_set(err, FV_E_INVALID, "an event bus needs a pool and a connection string");
        return NULL;
    }
    fv_pg_bus *b = fv_calloc(1, sizeof *b);
    if (b == NULL) {
        fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
        return NULL;
    }
    b->pool = pool;
    b->log = log;
    b->log_user = log_user;
    b->stop_fd = -1;
    bool mu = false, cv = false;
    if (pthread_mutex_init(&b->mu, NULL) != 0 ||
        (mu = true, pthread_cond_init(&b->idle, NULL) != 0) ||
        (cv = true, (b->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)) {
        fv_error_set(err, FV_E_EXHAUSTED, "could not create the event bus's synchronisation");
        goto fail;
    }
    fv_pg_pool_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.url = conninfo;
    cfg.size = 1;
    cfg.connect_timeout_s = LISTEN_CONNECT_TIMEOUT_S;
    cfg.log = log;
    cfg.log_user = log_user;
    b->listen_pool = fv_pg_pool_new(&cfg, err);
    if (b->listen_pool == NULL)
        goto fail;
    if (listen_open(b, err) != FV_OK)
        goto fail;
    if (pthread_create(&b->thread, NULL, listener_main, b) != 0) {
        fv_error_set(err, FV_E_EXHAUSTED, "could not start the event bus's listener thread");
        goto fail;
    }
    b->started = true;
    return b;
fail:
    listen_close(b);
    fv_pg_pool_free(b->listen_pool);
    if (b->stop_fd >= 0)
        close(b->stop_fd);
    if (cv)
        pthread_cond_destroy(&b->idle);
    if (mu)
        pthread_mutex_destroy(&b->mu);
    fv_free(b);
    return NULL;
}

void fv_pg_bus_free(fv_pg_bus *b)
{
    if (b == NULL)
        return;
    if (b->started) {
        uint64_t one = 1;
        ssize_t w;
        do
            w = write(b->stop_fd, &one, sizeof one);
        while (w < 0 && errno == EINTR);
        pthread_join(b->thread, NULL);
    }
    listen_close(b);
    fv_pg_pool_free(b->listen_pool);
    close(b->stop_fd);
    fv_bus_sub *s = b->subs;
    while (s != NULL) {
        fv_bus_sub *next = s->next;
        fv_free(s);
        s = next;
    }
    pthread_cond_destroy(&b->idle);
    pthread_mutex_destroy(&b->mu);
    fv_free(b);
}
