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
/* The notices waiting for the sender, payloads with their NULs (80 to 140
 * bytes each): room for 7,000 to 13,000 notices, a second or more of a busy
 * server's, should the database stall; twice (the queue, and the batch
 * being sent). */
#define QUEUE_BYTES (1024 * 1024)

/* Payloads, each followed by its NUL, in publication order. */
typedef struct notice_buf {
    char *bytes; /* QUEUE_BYTES */
    size_t len;  /* bytes used */
    size_t n;    /* notices */
} notice_buf;

struct fv_bus_sub {
    fv_bus_fn fn;
    void *user;
    fv_bus_sub *prev, *next;
    bool removed; /* unsubscribed from inside its own callback */
};

struct fv_pg_bus {
    fv_pg_pool *pool;        /* borrowed: the sender's statements */
    fv_pg_pool *listen_pool; /* owned: the listener's one connection */
    fv_pg_conn *conn;        /* the listener's connection (listener thread after new) */
    fv_pg_log_fn log;
    void *log_user;
    int stop_fd; /* eventfd: readable once fv_pg_bus_free wants the thread to end */
    pthread_t thread;
    bool started;

    pthread_mutex_t mu;  /* guards down to has_listener; never held during a callback */
    pthread_cond_t idle; /* signalled whenever `running` is cleared */
    fv_bus_sub *subs;
    fv_bus_sub *running; /* whose callback runs now, on the listener thread */
    pthread_t listener;  /* the listener thread's id (set by it) */
    bool has_listener;

    /* publish -> queue -> the sender thread -> one statement per batch. */
    pthread_mutex_t qmu; /* guards the fields down to `refused` */
    pthread_cond_t qcv;  /* the queue got its first notice, or the bus stops */
    notice_buf queued;
    bool stopping;
    bool full;          /* a publish was refused since the sender last took a batch */
    size_t refused;     /* how many */
    notice_buf sending; /* the sender thread's own */
    bool send_failing;  /* the last batch was lost (sender thread only) */
    pthread_t sender;
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
        /* The receivers' rule (parse_payload), so nothing sent is dropped. */
        if (m->queue == NULL || fv_task_queue_validate(m->queue, NULL) != FV_OK)
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
        /* Any client of the database may notify: the queue gets the checks
         * of a submitted one (length, UTF-8, no control characters). */
        if (!take_uuid(&p, &m->tenant_id) || fv_task_queue_validate(p, NULL) != FV_OK)
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
/* Publish and the sender                                                    */
/* ------------------------------------------------------------------------ */

static fv_err bus_publish(void *self, const fv_bus_msg *m, fv_error *err)
{
    fv_pg_bus *b = self;
    char payload[PAYLOAD_MAX];
    if (!format_payload(m, payload))
        return fv_error_set(err, FV_E_INVALID, "a bus notice of kind %d cannot be sent",
                            (int)m->kind);
    size_t len = strlen(payload) + 1;
    pthread_mutex_lock(&b->qmu);
    if (b->queued.len + len > QUEUE_BYTES) {
        bool first = !b->full;
        b->full = true;
        b->refused++;
        pthread_mutex_unlock(&b->qmu);
        if (first)
            blog(b, FV_PG_LOG_WARN,
                 "event bus: the queue of notices to send is full (%d bytes): notices are "
                 "refused until the database takes them",
                 QUEUE_BYTES);
        return fv_error_set(err, FV_E_EXHAUSTED, "the event bus's queue of notices is full");
    }
    memcpy(b->queued.bytes + b->queued.len, payload, len);
    b->queued.len += len;
    bool wake = ++b->queued.n == 1;
    pthread_mutex_unlock(&b->qmu);
    if (wake)
        pthread_cond_signal(&b->qcv);
    return FV_OK;
}

/* Send the batch in b->sending in one statement on a connection of the
 * shared pool. A failure loses the batch (notices are best effort) and is
 * logged once until a batch goes through again. */
static void send_batch(fv_pg_bus *b)
{
    notice_buf *q = &b->sending;
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_error e;
    fv_error_clear(&e);
    fv_err rc = FV_OK;
    const char **items = fv_arena_calloc(&a, q->n, sizeof *items);
    if (items == NULL)
        rc = fv_error_set(&e, FV_E_EXHAUSTED, "out of memory");
    else {
        const char *p = q->bytes;
        for (size_t i = 0; i < q->n; i++) {
            items[i] = p;
            p += strlen(p) + 1;
        }
        fv_db_text_array payloads = {items, q->n};
        rc = fv_db_notify_tasks_on(b->pool, &a, &payloads, &e);
    }
    fv_arena_release(&a);
    if (rc != FV_OK && !b->send_failing)
        blog(b, FV_PG_LOG_WARN, "event bus: could not send %zu notices (lost): %s", q->n, e.msg);
    else if (rc == FV_OK && b->send_failing)
        blog(b, FV_PG_LOG_INFO, "event bus: notices are sent again");
    b->send_failing = rc != FV_OK;
}

/* Wait for notices, take everything queued, send it; at the stop, send what
 * is left and end. */
static void *sender_main(void *arg)
{
    fv_pg_bus *b = arg;
    for (;;) {
        pthread_mutex_lock(&b->qmu);
        while (b->queued.n == 0 && !b->stopping)
            pthread_cond_wait(&b->qcv, &b->qmu);
        if (b->queued.n == 0) {
            pthread_mutex_unlock(&b->qmu);
            return NULL;
        }
        notice_buf taken = b->queued;
        b->queued = (notice_buf){b->sending.bytes, 0, 0};
        b->sending = taken;
        size_t refused = b->full ? b->refused : 0;
        b->full = false;
        b->refused = 0;
        pthread_mutex_unlock(&b->qmu);
        if (refused > 0)
            blog(b, FV_PG_LOG_INFO,
                 "event bus: the queue of notices has room again (%zu notices were refused)",
                 refused);
        send_batch(b);
        b->sending.len = 0;
        b->sending.n = 0;
    }
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

/* Stop and join the listener thread. */
static void stop_listener(fv_pg_bus *b)
{
    uint64_t one = 1;
    ssize_t w;
    do
        w = write(b->stop_fd, &one, sizeof one);
    while (w < 0 && errno == EINTR);
    pthread_join(b->thread, NULL);
}

/* Stop the sender thread once it has sent everything queued; join it. */
static void stop_sender(fv_pg_bus *b)
{
    pthread_mutex_lock(&b->qmu);
    b->stopping = true;
    pthread_mutex_unlock(&b->qmu);
    pthread_cond_signal(&b->qcv);
    pthread_join(b->sender, NULL);
}

/* Free what fv_pg_bus_new made, threads stopped (or never started). */
static void bus_destroy(fv_pg_bus *b, int made)
{
    listen_close(b);
    fv_pg_pool_free(b->listen_pool);
    if (b->stop_fd >= 0)
        close(b->stop_fd);
    fv_bus_sub *s = b->subs;
    while (s != NULL) {
        fv_bus_sub *next = s->next;
        fv_free(s);
        s = next;
    }
    fv_free(b->queued.bytes);
    fv_free(b->sending.bytes);
    if (made >= 4)
        pthread_cond_destroy(&b->qcv);
    if (made >= 3)
        pthread_mutex_destroy(&b->qmu);
    if (made >= 2)
        pthread_cond_destroy(&b->idle);
    if (made >= 1)
        pthread_mutex_destroy(&b->mu);
    fv_free(b);
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
    /* What has been made so far, for bus_destroy: 1 mu, 2 idle, 3 qmu,
     * 4 qcv. */
    int made = 0;
    if (pthread_mutex_init(&b->mu, NULL) != 0 || (made = 1, pthread_cond_init(&b->idle, NULL)) ||
        (made = 2, pthread_mutex_init(&b->qmu, NULL)) ||
        (made = 3, pthread_cond_init(&b->qcv, NULL)) ||
        (made = 4, (b->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)) {
        fv_error_set(err, FV_E_EXHAUSTED, "could not create the event bus's synchronisation");
        goto fail;
    }
    b->queued.bytes = fv_malloc(QUEUE_BYTES);
    b->sending.bytes = fv_malloc(QUEUE_BYTES);
    if (b->queued.bytes == NULL || b->sending.bytes == NULL) {
        fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
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
    if (pthread_create(&b->sender, NULL, sender_main, b) != 0) {
        fv_error_set(err, FV_E_EXHAUSTED, "could not start the event bus's sender thread");
        stop_listener(b);
        goto fail;
    }
    b->started = true;
    return b;
fail:
    bus_destroy(b, made);
    return NULL;
}

void fv_pg_bus_free(fv_pg_bus *b)
{
    if (b == NULL)
        return;
    if (b->started) {
        /* The listener first: notices its callbacks publish are still
         * sent. */
        stop_listener(b);
        stop_sender(b);
    }
    bus_destroy(b, 4);
}
