/*
 * The PostgreSQL plumbing (pg.h): the connection pool, the per-connection
 * cache of prepared statements, statement execution with arena-owned
 * results, the SQLSTATE -> fv_err table and transactions with retry.
 *
 * The pool is an array of slots under one mutex; a condition variable
 * (CLOCK_MONOTONIC) wakes waiters when a slot is given back. Connecting,
 * health checks and statements run outside the lock, on the one thread that
 * borrowed the slot, so a slow connect never blocks other borrowers.
 */
#include "adapters/postgres/pg.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapters/postgres/pg_int.h"
#include "core/util/alloc.h"

#define FV_PG_DEFAULT_SIZE       8
#define FV_PG_MAX_SIZE           1024
#define FV_PG_DEFAULT_ACQUIRE_MS 5000
#define FV_PG_DEFAULT_CONNECT_S  5
#define FV_PG_APPLICATION_NAME   "flovyn-server"
#define FV_PG_TX_RETRIES         5
#define FV_PG_LOG_MAX            2048
#define FV_PG_REDACTED           "****"
#define FV_PG_STMT_CACHE_MIN     16

struct fv_pg_conn {
    fv_pg_pool *pool;
    PGconn *pg;  /* NULL until connected (lazily) or after a broken one closed */
    bool broken; /* close on release, reconnect on the next acquire */
    bool in_use; /* lent to a thread */
    /* Names of the statements prepared on pg: an open-addressing hash set
     * of owned strings (NULL = empty slot), capacity a power of two, at
     * most half full. */
    char **stmts;
    size_t stmt_cap;
    size_t stmt_n;
};

struct fv_pg_pool {
    char *url; /* owned copy; never printed as it is (see fv_pg__redact) */
    int size;
    int acquire_timeout_ms;
    int connect_timeout_s;
    fv_pg_log_fn log;
    void *log_user;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a slot was given back */
    fv_pg_conn *conns; /* size slots */
};

/* ------------------------------------------------------------------------ */
/* Logging and messages                                                     */
/* ------------------------------------------------------------------------ */

static void pool_vlog(const fv_pg_pool *p, fv_pg_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void pool_vlog(const fv_pg_pool *p, fv_pg_log_level level, const char *fmt, va_list ap)
{
    char buf[FV_PG_LOG_MAX];

    if (p == NULL || p->log == NULL)
        return;
    vsnprintf(buf, sizeof buf, fmt, ap);
    p->log(p->log_user, level, buf);
}

static void pool_log(const fv_pg_pool *p, fv_pg_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void pool_log(const fv_pg_pool *p, fv_pg_log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    pool_vlog(p, level, fmt, ap);
    va_end(ap);
}

void fv_pg__log(fv_pg_conn *c, fv_pg_log_level level, const char *fmt, ...)
{
    va_list ap;

    if (c == NULL)
        return;
    va_start(ap, fmt);
    pool_vlog(c->pool, level, fmt, ap);
    va_end(ap);
}

/* Copy a libpq message onto one line: no trailing newline or spaces, inner
 * newlines as "; ". */
static void one_line(const char *in, char *out, size_t cap)
{
    size_t o = 0;

    if (cap == 0)
        return;
    for (const char *s = in ? in : ""; *s != '\0' && o + 1 < cap; s++) {
        if (*s == '\n') {
            const char *rest = s + 1;
            while (*rest == '\n' || *rest == ' ' || *rest == '\t')
                rest++;
            if (*rest == '\0')
                break;
            if (o + 2 < cap) {
                out[o++] = ';';
                out[o++] = ' ';
            }
            s = rest - 1;
            continue;
        }
        out[o++] = *s;
    }
    while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
        o--;
    out[o] = '\0';
}

const char *fv_pg__primary_message(fv_pg_conn *c, const PGresult *res, char *buf, size_t cap)
{
    const char *m = NULL;

    if (res != NULL)
        m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (m == NULL && res != NULL)
        m = PQresultErrorMessage(res);
    if ((m == NULL || *m == '\0') && c != NULL && c->pg != NULL)
        m = PQerrorMessage(c->pg);
    one_line(m != NULL && *m != '\0' ? m : "no message from the server", buf, cap);
    return buf;
}

/* ------------------------------------------------------------------------ */
/* Redaction of passwords in URLs and in messages that may quote them       */
/* ------------------------------------------------------------------------ */

typedef struct secret_span {
    const char *p;
    size_t n;
} secret_span;

#define FV_PG_MAX_SECRETS 8

static bool has_prefix_ci(const char *s, const char *prefix)
{
    for (; *prefix != '\0'; s++, prefix++) {
        char a = *s, b = *prefix;
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (a != b)
            return false;
    }
    return true;
}

static size_t find_secrets(const char *url, secret_span *spans, size_t max)
{
    size_t n = 0;
    bool uri = has_prefix_ci(url, "postgresql://") || has_prefix_ci(url, "postgres://");

    if (uri) {
        /* postgresql://[user[:password]@]host... : the authority ends at the
         * first '/', '?' or the end; the user info at its last '@'. */
        const char *start = strstr(url, "://") + 3;
        const char *end = start + strcspn(start, "/?");
        const char *at = NULL;
        for (const char *s = start; s < end; s++)
            if (*s == '@')
                at = s;
        if (at != NULL) {
            const char *colon = memchr(start, ':', (size_t)(at - start));
            if (colon != NULL && at - colon > 1 && n < max)
                spans[n++] = (secret_span){colon + 1, (size_t)(at - colon - 1)};
        }
    }
    /* Any "password" parameter: in a URI query (?password=x&...) or in the
     * key=value form (password = 'x y' or password=x). */
    for (const char *s = url; (s = strstr(s, "password")) != NULL; s += 8) {
        if (s != url && s[-1] != ' ' && s[-1] != '\t' && s[-1] != '?' && s[-1] != '&')
            continue;
        const char *v = s + 8;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v != '=')
            continue;
        v++;
        while (!uri && (*v == ' ' || *v == '\t'))
            v++;
        const char *e = v;
        if (!uri && *v == '\'') {
            for (e = v + 1; *e != '\0' && *e != '\''; e++)
                if (*e == '\\' && e[1] != '\0')
                    e++;
            v++;
        } else {
            while (*e != '\0' && (uri ? *e != '&' && *e != '#' : *e != ' ' && *e != '\t'))
                e++;
        }
        if (e > v && n < max)
            spans[n++] = (secret_span){v, (size_t)(e - v)};
    }
    return n;
}

void fv_pg__redact(const char *url, const char *in, char *out, size_t cap)
{
    secret_span spans[FV_PG_MAX_SECRETS];
    size_t ns = url != NULL ? find_secrets(url, spans, FV_PG_MAX_SECRETS) : 0;
    size_t o = 0;
    const size_t rlen = sizeof FV_PG_REDACTED - 1;

    if (cap == 0)
        return;
    for (const char *s = in ? in : ""; *s != '\0' && o + 1 < cap;) {
        bool hit = false;
        for (size_t i = 0; i < ns && !hit; i++) {
            if (strncmp(s, spans[i].p, spans[i].n) == 0) {
                size_t k = rlen < cap - 1 - o ? rlen : cap - 1 - o;
                memcpy(out + o, FV_PG_REDACTED, k);
                o += k;
                s += spans[i].n;
                hit = true;
            }
        }
        if (!hit)
            out[o++] = *s++;
    }
    out[o] = '\0';
}

/* ------------------------------------------------------------------------ */
/* Prepared-statement cache                                                 */
/* ------------------------------------------------------------------------ */

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static bool stmt_cached(const fv_pg_conn *c, const char *name)
{
    if (c->stmt_cap == 0)
        return false;
    size_t mask = c->stmt_cap - 1;
    for (size_t i = (size_t)name_hash(name) & mask;; i = (i + 1) & mask) {
        if (c->stmts[i] == NULL)
            return false;
        if (strcmp(c->stmts[i], name) == 0)
            return true;
    }
}

static void stmt_place(char **slots, size_t cap, char *name)
{
    size_t mask = cap - 1;
    size_t i = (size_t)name_hash(name) & mask;
    while (slots[i] != NULL)
        i = (i + 1) & mask;
    slots[i] = name;
}

/* Make room for one more name, so that recording a statement the server
 * has just prepared cannot fail. */
static bool stmt_reserve(fv_pg_conn *c)
{
    if ((c->stmt_n + 1) * 2 <= c->stmt_cap)
        return true;
    size_t cap = c->stmt_cap ? c->stmt_cap * 2 : FV_PG_STMT_CACHE_MIN;
    char **slots = fv_calloc(cap, sizeof *slots);
    if (slots == NULL)
        return false;
    for (size_t i = 0; i < c->stmt_cap; i++)
        if (c->stmts[i] != NULL)
            stmt_place(slots, cap, c->stmts[i]);
    fv_free(c->stmts);
    c->stmts = slots;
    c->stmt_cap = cap;
    return true;
}

/* Record name (copied) after a successful prepare; room was reserved. */
static bool stmt_add(fv_pg_conn *c, const char *name)
{
    char *copy = fv_strdup(name);
    if (copy == NULL)
        return false;
    stmt_place(c->stmts, c->stmt_cap, copy);
    c->stmt_n++;
    return true;
}

static void stmt_clear(fv_pg_conn *c)
{
    for (size_t i = 0; i < c->stmt_cap; i++)
        fv_free(c->stmts[i]);
    fv_free(c->stmts);
    c->stmts = NULL;
    c->stmt_cap = 0;
    c->stmt_n = 0;
}

/* ------------------------------------------------------------------------ */
/* Connections                                                              */
/* ------------------------------------------------------------------------ */

/* Notices and warnings of the server, and the FATAL a backend sends before
 * it closes an idle connection, go to the log instead of stderr. */
static void notice_receiver(void *arg, const PGresult *res)
{
    fv_pg_conn *c = arg;
    char msg[512];
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    fv_pg_log_level level = FV_PG_LOG_INFO;

    if (sev != NULL && (strcmp(sev, "WARNING") == 0 || strcmp(sev, "FATAL") == 0 ||
                        strcmp(sev, "PANIC") == 0 || strcmp(sev, "ERROR") == 0))
        level = FV_PG_LOG_WARN;
    fv_pg__primary_message(NULL, res, msg, sizeof msg);
    fv_pg__log(c, level, "database %s: %s sqlstate=%s", sev != NULL ? sev : "notice", msg,
               state != NULL ? state : "-");
}

static void conn_close(fv_pg_conn *c)
{
    if (c->pg != NULL)
        PQfinish(c->pg);
    c->pg = NULL;
    c->broken = false;
    stmt_clear(c);
}

/* Open c->pg. FV_E_UNAVAILABLE with the server's reason (redacted) on
 * failure, FV_E_EXHAUSTED when libpq could not allocate. */
static fv_err conn_open(fv_pg_pool *p, fv_pg_conn *c, fv_error *err)
{
    char timeout[16];
    char reason[FV_ERROR_MSG_MAX];
    char redacted[FV_ERROR_MSG_MAX];

    snprintf(timeout, sizeof timeout, "%d", p->connect_timeout_s);
    /* Entries before the expanded dbname are defaults the URL may override
     * (application_name); entries after it win over the URL
     * (connect_timeout, the pool's setting). */
    const char *const keys[] = {"application_name", "dbname", "connect_timeout", NULL};
    const char *const values[] = {FV_PG_APPLICATION_NAME, p->url, timeout, NULL};

    conn_close(c);
    c->pg = PQconnectdbParams(keys, values, 1);
    if (c->pg == NULL)
        return fv_error_set(err, FV_E_EXHAUSTED,
                            "could not connect to the database: out of memory");
    if (PQstatus(c->pg) != CONNECTION_OK) {
        one_line(PQerrorMessage(c->pg), reason, sizeof reason);
        fv_pg__redact(p->url, reason, redacted, sizeof redacted);
        conn_close(c);
        pool_log(p, FV_PG_LOG_WARN, "could not connect to the database: %s", redacted);
        return fv_error_set(err, FV_E_UNAVAILABLE, "could not connect to the database: %s",
                            redacted);
    }
    PQsetNoticeReceiver(c->pg, notice_receiver, c);
    return FV_OK;
}

/* Is an idle connection still usable? A backend that was terminated, or a
 * server that restarted, leaves the socket readable (a FATAL message, then
 * end of file): read it, and libpq tells us the connection is gone. One
 * poll(2) with no wait when nothing happened. */
static bool conn_healthy(fv_pg_conn *c)
{
    if (c->pg == NULL || c->broken || PQstatus(c->pg) != CONNECTION_OK)
        return false;
    if (PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        return false;
    /* A few rounds: the FATAL message and the end of file may need two
     * reads. */
    for (int round = 0; round < 4; round++) {
        struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLIN, .revents = 0};
        if (pfd.fd < 0)
            return false;
        int r = poll(&pfd, 1, 0);
        if (r < 0)
            return errno == EINTR;
        if (r == 0)
            return true;
        /* Read, then parse (PQisBusy parses: a FATAL goes to the notice
         * receiver); end of file turns the status to CONNECTION_BAD. */
        if (PQconsumeInput(c->pg) == 0)
            return false;
        (void)PQisBusy(c->pg);
        if (PQstatus(c->pg) != CONNECTION_OK)
            return false;
        /* Asynchronous notifications are not used on pooled connections;
         * drop what arrived so it does not pile up. */
        for (PGnotify *n = PQnotifies(c->pg); n != NULL; n = PQnotifies(c->pg))
            PQfreemem(n);
    }
    return true;
}

void fv_pg__conn_mark_broken(fv_pg_conn *c)
{
    if (c != NULL)
        c->broken = true;
}

PGconn *fv_pg_conn_raw(fv_pg_conn *c)
{
    return c->pg;
}

/* ------------------------------------------------------------------------ */
/* The pool                                                                 */
/* ------------------------------------------------------------------------ */

fv_pg_pool *fv_pg_pool_new(const fv_pg_pool_config *cfg, fv_error *err)
{
    fv_pg_pool *p = NULL;
    char *perr = NULL;
    PQconninfoOption *opts = NULL;
    pthread_condattr_t ca;
    bool mu_ok = false, cv_ok = false;

    if (cfg == NULL || cfg->url == NULL || cfg->url[0] == '\0') {
        fv_error_set(err, FV_E_INVALID, "no database URL given");
        return NULL;
    }
    if (cfg->size < 0 || cfg->size > FV_PG_MAX_SIZE) {
        fv_error_set(err, FV_E_INVALID, "database pool size must be between 1 and %d, not %d",
                     FV_PG_MAX_SIZE, cfg->size);
        return NULL;
    }
    if (cfg->acquire_timeout_ms < 0 || cfg->connect_timeout_s < 0) {
        fv_error_set(err, FV_E_INVALID, "database timeouts must not be negative");
        return NULL;
    }
    /* Check the syntax first, so a typo is INVALID (a configuration
     * mistake) rather than UNAVAILABLE (a database that is down). */
    opts = PQconninfoParse(cfg->url, &perr);
    if (opts == NULL) {
        char reason[FV_ERROR_MSG_MAX], redacted[FV_ERROR_MSG_MAX];
        if (perr == NULL) {
            fv_error_set(err, FV_E_EXHAUSTED, "could not parse the database URL: out of memory");
            return NULL;
        }
        one_line(perr, reason, sizeof reason);
        fv_pg__redact(cfg->url, reason, redacted, sizeof redacted);
        PQfreemem(perr);
        fv_error_set(err, FV_E_INVALID, "invalid database URL: %s", redacted);
        return NULL;
    }
    PQconninfoFree(opts);

    p = fv_calloc(1, sizeof *p);
    if (p == NULL)
        goto oom;
    p->size = cfg->size ? cfg->size : FV_PG_DEFAULT_SIZE;
    p->acquire_timeout_ms =
        cfg->acquire_timeout_ms ? cfg->acquire_timeout_ms : FV_PG_DEFAULT_ACQUIRE_MS;
    p->connect_timeout_s =
        cfg->connect_timeout_s ? cfg->connect_timeout_s : FV_PG_DEFAULT_CONNECT_S;
    p->log = cfg->log;
    p->log_user = cfg->log_user;
    p->url = fv_strdup(cfg->url);
    p->conns = fv_calloc((size_t)p->size, sizeof *p->conns);
    if (p->url == NULL || p->conns == NULL)
        goto oom;
    for (int i = 0; i < p->size; i++)
        p->conns[i].pool = p;
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        goto oom;
    mu_ok = true;
    if (pthread_condattr_init(&ca) != 0)
        goto oom;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    cv_ok = pthread_cond_init(&p->cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!cv_ok)
        goto oom;
    /* One connection now proves the URL; the others open on demand. */
    if (conn_open(p, &p->conns[0], err) != FV_OK)
        goto fail;
    return p;

oom:
    fv_error_set(err, FV_E_EXHAUSTED, "could not create the database pool: out of memory");
fail:
    if (p != NULL) {
        if (cv_ok)
            pthread_cond_destroy(&p->cv);
        if (mu_ok)
            pthread_mutex_destroy(&p->mu);
        fv_free(p->conns);
        fv_free(p->url);
        fv_free(p);
    }
    return NULL;
}

void fv_pg_pool_free(fv_pg_pool *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < p->size; i++)
        conn_close(&p->conns[i]);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    fv_free(p->conns);
    fv_free(p->url);
    fv_free(p);
}

int fv_pg_pool_size(const fv_pg_pool *p)
{
    return p->size;
}

static void deadline_after_ms(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* A free slot, preferring one that is connected and not broken. Lock held. */
static fv_pg_conn *take_slot(fv_pg_pool *p)
{
    fv_pg_conn *any = NULL;
    for (int i = 0; i < p->size; i++) {
        fv_pg_conn *c = &p->conns[i];
        if (c->in_use)
            continue;
        if (c->pg != NULL && !c->broken) {
            any = c;
            break;
        }
        if (any == NULL)
            any = c;
    }
    if (any != NULL)
        any->in_use = true;
    return any;
}

static void give_slot(fv_pg_pool *p, fv_pg_conn *c)
{
    pthread_mutex_lock(&p->mu);
    c->in_use = false;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

fv_err fv_pg_acquire(fv_pg_pool *p, fv_pg_conn **out, fv_error *err)
{
    struct timespec deadline;
    fv_pg_conn *c;
    fv_err rc;

    *out = NULL;
    deadline_after_ms(&deadline, p->acquire_timeout_ms);
    pthread_mutex_lock(&p->mu);
    c = take_slot(p);
    while (c == NULL) {
        bool timed_out = pthread_cond_timedwait(&p->cv, &p->mu, &deadline) == ETIMEDOUT;
        c = take_slot(p);
        if (c == NULL && timed_out) {
            pthread_mutex_unlock(&p->mu);
            pool_log(p, FV_PG_LOG_WARN,
                     "no database connection free within %d ms (pool of %d connections)",
                     p->acquire_timeout_ms, p->size);
            return fv_error_set(err, FV_E_EXHAUSTED,
                                "no database connection free within %d ms (pool of %d)",
                                p->acquire_timeout_ms, p->size);
        }
    }
    pthread_mutex_unlock(&p->mu);

    /* The slot is ours: check or (re)connect it outside the lock. */
    if (!conn_healthy(c)) {
        if (c->pg != NULL)
            pool_log(p, FV_PG_LOG_INFO, "database connection lost, reconnecting");
        rc = conn_open(p, c, err);
        if (rc != FV_OK) {
            give_slot(p, c);
            return rc;
        }
    }
    *out = c;
    return FV_OK;
}

void fv_pg_release(fv_pg_pool *p, fv_pg_conn *c)
{
    if (c == NULL)
        return;
    if (c->pg != NULL && !c->broken) {
        switch (PQtransactionStatus(c->pg)) {
        case PQTRANS_IDLE:
            break;
        case PQTRANS_INTRANS:
        case PQTRANS_INERROR: {
            PGresult *r = PQexec(c->pg, "ROLLBACK");
            if (PQresultStatus(r) != PGRES_COMMAND_OK)
                c->broken = true;
            PQclear(r);
            break;
        }
        case PQTRANS_ACTIVE:
        case PQTRANS_UNKNOWN:
            c->broken = true;
            break;
        }
    }
    /* A broken connection is closed now (its socket and backend freed) and
     * opened again by the acquire that next takes this slot. */
    if (c->broken || (c->pg != NULL && PQstatus(c->pg) != CONNECTION_OK))
        conn_close(c);
    give_slot(p, c);
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/* The class of a SQLSTATE is its first two characters. */
static bool state_class(const char *state, const char *cls)
{
    return state[0] == cls[0] && state[1] == cls[1];
}

/* The one table of STYLE.md rule 16; *connection_lost tells the caller to
 * mark the connection for reset. */
static fv_err map_sqlstate(const char *state, bool *connection_lost)
{
    *connection_lost = false;
    if (strcmp(state, "23505") == 0)
        return FV_E_CONFLICT;
    if (strcmp(state, "23502") == 0 || strcmp(state, "23514") == 0 || state_class(state, "22"))
        return FV_E_INVALID;
    if (strcmp(state, "23503") == 0)
        return FV_E_PRECONDITION;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
        return FV_E_ABORTED;
    if (state_class(state, "08") || strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 ||
        strcmp(state, "57P03") == 0) {
        *connection_lost = true;
        return FV_E_UNAVAILABLE;
    }
    if (strcmp(state, "57014") == 0)
        return FV_E_TIMEOUT;
    if (state_class(state, "53"))
        return FV_E_EXHAUSTED;
    return FV_E_INTERNAL;
}

/* What a client may read about a failure of this kind (no SQL, no values). */
static const char *client_text(fv_err code, const char *state)
{
    switch (code) {
    case FV_E_CONFLICT:
        return "a row with the same key already exists";
    case FV_E_INVALID:
        if (strcmp(state, "23502") == 0)
            return "a required value is missing";
        if (strcmp(state, "23514") == 0)
            return "a value is out of the allowed range";
        return "a value is not valid for the database";
    case FV_E_PRECONDITION:
        return "a referenced row does not exist";
    case FV_E_ABORTED:
        return "aborted by a concurrent transaction, retry";
    case FV_E_UNAVAILABLE:
        return "the database is unavailable";
    case FV_E_TIMEOUT:
        return "the statement timed out";
    case FV_E_EXHAUSTED:
        return "the database is out of resources";
    case FV_OK:
    case FV_E_NOT_FOUND:
    case FV_E_UNAUTHENTICATED:
    case FV_E_PERMISSION:
    case FV_E_INTERNAL:
        break;
    }
    return "database error";
}

static fv_pg_log_level log_level_of(fv_err code)
{
    switch (code) {
    case FV_E_CONFLICT:
    case FV_E_INVALID:
    case FV_E_PRECONDITION:
    case FV_E_NOT_FOUND:
        return FV_PG_LOG_INFO;
    case FV_E_ABORTED:
    case FV_E_TIMEOUT:
    case FV_E_EXHAUSTED:
        return FV_PG_LOG_WARN;
    case FV_OK:
    case FV_E_UNAUTHENTICATED:
    case FV_E_PERMISSION:
    case FV_E_UNAVAILABLE:
    case FV_E_INTERNAL:
        break;
    }
    return FV_PG_LOG_ERROR;
}

/*
 * fv_pg_error with the statement's text for the log. The log line carries
 * the SQLSTATE, the server's primary message (except for class 22, whose
 * messages quote the offending value), the schema objects involved, the
 * hint and the SQL text, but never the DETAIL field (which quotes row and
 * key values) nor the parameters.
 */
static fv_err pg_error_sql(fv_pg_conn *c, const PGresult *res, const char *what, const char *sql,
                           fv_error *err)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    bool lost = false;
    fv_err code;
    char primary[512];

    if (what == NULL)
        what = "run a statement";
    if (state != NULL && strlen(state) == 5) {
        code = map_sqlstate(state, &lost);
    } else if (res == NULL || c == NULL || c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK) {
        /* No SQLSTATE: libpq's own failure (lost connection, out of
         * memory): the connection cannot be trusted any more. */
        code = FV_E_UNAVAILABLE;
        lost = true;
        state = NULL;
    } else {
        code = FV_E_INTERNAL;
        state = NULL;
    }
    if (lost && c != NULL)
        c->broken = true;

    if (state != NULL && state_class(state, "22"))
        snprintf(primary, sizeof primary, "data exception");
    else
        fv_pg__primary_message(c, res, primary, sizeof primary);
    const char *table = res ? PQresultErrorField(res, PG_DIAG_TABLE_NAME) : NULL;
    const char *column = res ? PQresultErrorField(res, PG_DIAG_COLUMN_NAME) : NULL;
    const char *constraint = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
    char sql_line[1024];
    one_line(sql, sql_line, sizeof sql_line);
    fv_pg__log(c, log_level_of(code), "could not %s: %s sqlstate=%s code=%s%s%s%s%s%s%s%s%s%s%s",
               what, primary, state != NULL ? state : "-", fv_err_name(code),
               table ? " table=" : "", table ? table : "", column ? " column=" : "",
               column ? column : "", constraint ? " constraint=" : "", constraint ? constraint : "",
               hint ? " hint=" : "", hint ? hint : "", sql ? " statement=" : "",
               sql ? sql_line : "");
    return fv_error_set(err, code, "could not %s: %s", what, client_text(code, state ? state : ""));
}

fv_err fv_pg_error(fv_pg_conn *c, const PGresult *res, const char *what, fv_error *err)
{
    return pg_error_sql(c, res, what, NULL, err);
}

/* ------------------------------------------------------------------------ */
/* Statements                                                               */
/* ------------------------------------------------------------------------ */

/* The cleanup of a result, registered on the arena before the statement
 * runs (the slot is filled after), so that no failure to allocate can
 * follow a statement that ran: an autocommit write that happened is never
 * answered RESOURCE_EXHAUSTED. */
static void clear_result_slot(void *p)
{
    PGresult **slot = p;
    PQclear(*slot);
    *slot = NULL;
}

fv_err fv_pg_exec(fv_pg_conn *c, fv_arena *a, const char *name, const char *sql, int n,
                  const char *const *values, const int *lengths, const int *formats, PGresult **out,
                  fv_error *err)
{
    PGresult *r;
    PGresult **slot = NULL;
    char what[160];

    *out = NULL;
    snprintf(what, sizeof what, "run query \"%s\"", name != NULL ? name : "(unnamed)");
    if (c->pg == NULL || c->broken)
        return fv_error_set(err, FV_E_UNAVAILABLE, "could not %s: %s", what,
                            "the database connection was lost");
    if (a != NULL) {
        slot = fv_arena_alloc(a, sizeof *slot);
        if (slot == NULL)
            return fv_error_set(err, FV_E_EXHAUSTED, "could not %s: out of memory", what);
        *slot = NULL;
        if (!fv_arena_add_cleanup(a, clear_result_slot, slot))
            return fv_error_set(err, FV_E_EXHAUSTED, "could not %s: out of memory", what);
    }

    if (name == NULL || name[0] == '\0') {
        r = PQexecParams(c->pg, sql, n, NULL, values, lengths, formats, 0);
    } else {
        if (!stmt_cached(c, name)) {
            if (!stmt_reserve(c))
                return fv_error_set(err, FV_E_EXHAUSTED, "could not %s: out of memory", what);
            PGresult *pr = PQprepare(c->pg, name, sql, n, NULL);
            if (PQresultStatus(pr) != PGRES_COMMAND_OK) {
                /* Not cached: the next use prepares again. */
                fv_err rc = pg_error_sql(c, pr, what, sql, err);
                PQclear(pr);
                return rc;
            }
            PQclear(pr);
            if (!stmt_add(c, name)) {
                /* The server has it but we could not remember it: forget
                 * it there too, else the next prepare would collide. */
                PGresult *dr = PQexec(c->pg, "DEALLOCATE ALL");
                if (PQresultStatus(dr) != PGRES_COMMAND_OK)
                    c->broken = true;
                PQclear(dr);
                stmt_clear(c);
                return fv_error_set(err, FV_E_EXHAUSTED, "could not %s: out of memory", what);
            }
        }
        r = PQexecPrepared(c->pg, name, n, values, lengths, formats, 0);
    }
    ExecStatusType st = PQresultStatus(r);
    if (r == NULL || (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)) {
        fv_err rc = pg_error_sql(c, r, what, sql, err);
        PQclear(r);
        return rc;
    }
    if (slot != NULL)
        *slot = r; /* cleared with the arena */
    *out = r;
    return FV_OK;
}

/* A statement without parameters nor result (BEGIN, COMMIT...). */
static fv_err exec_simple(fv_pg_conn *c, const char *sql, const char *what, fv_error *err)
{
    PGresult *r = PQexec(c->pg, sql);
    fv_err rc = FV_OK;

    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pg_error_sql(c, r, what, sql, err);
    PQclear(r);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Transactions                                                             */
/* ------------------------------------------------------------------------ */

/* COMMIT; a transaction that had failed answers COMMIT with the tag
 * ROLLBACK, which is a failure too. */
static fv_err commit(fv_pg_conn *c, fv_error *err)
{
    PGresult *r = PQexec(c->pg, "COMMIT");
    fv_err rc = FV_OK;

    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pg_error_sql(c, r, "commit a transaction", "COMMIT", err);
    else if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
        rc = fv_error_set(err, FV_E_INTERNAL,
                          "could not commit a transaction: a statement of it had failed");
    PQclear(r);
    return rc;
}

static void pause_before_retry(int attempt, unsigned *seed)
{
    /* 2, 4, 8, 16, 32 ms plus up to as much again of jitter, so that the
     * transactions that collided do not collide again in lockstep. */
    long base_us = 2000L << attempt;
    long us = base_us + (long)(rand_r(seed) % (unsigned)base_us);
    struct timespec ts = {.tv_sec = us / 1000000L, .tv_nsec = (us % 1000000L) * 1000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

fv_err fv_pg_tx(fv_pg_pool *p, bool serializable, fv_pg_tx_fn fn, void *user, fv_error *err)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    unsigned seed = (unsigned)now.tv_nsec ^ (unsigned)(uintptr_t)&now;
    const char *begin = serializable ? "BEGIN ISOLATION LEVEL SERIALIZABLE" : "BEGIN";
    fv_err rc = FV_OK;

    for (int attempt = 0; attempt <= FV_PG_TX_RETRIES; attempt++) {
        fv_pg_conn *c;
        if (attempt > 0) {
            pause_before_retry(attempt - 1, &seed);
            fv_error_clear(err);
        }
        rc = fv_pg_acquire(p, &c, err);
        if (rc != FV_OK)
            return rc;
        rc = exec_simple(c, begin, "begin a transaction", err);
        if (rc == FV_OK) {
            rc = fn(c, user, err);
            if (rc == FV_OK)
                rc = commit(c, err);
        }
        /* Whatever failed, the connection goes back idle: release rolls
         * back a transaction still open and resets a broken connection. */
        fv_pg_release(p, c);
        if (rc != FV_E_ABORTED)
            return rc;
        if (attempt < FV_PG_TX_RETRIES)
            pool_log(p, FV_PG_LOG_INFO, "transaction aborted by a concurrent one, retry %d of %d",
                     attempt + 1, FV_PG_TX_RETRIES);
    }
    return rc;
}
