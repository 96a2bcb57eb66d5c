/*
 * The ulfius server behind http_server.h.
 *
 * ulfius sees one endpoint, method "*" and format "*", whose callback is
 * dispatch(): routing, 404 and 405 are ours, so that every answer is JSON and
 * a known path with another method can name the allowed ones (ulfius matches
 * method and path together and answers a plain-text 404 for both). The path
 * is split and percent-decoded here, and the query parsed from the raw URI,
 * so that malformed input is refused rather than dropped (ulfius skips
 * parameters that are not UTF-8 and joins repeated ones with ",").
 *
 * libmicrohttpd runs with options of our own (ulfius_start_framework_with_
 * mhd_options): a listening socket bound here (any address family, port 0,
 * a clear bind error), epoll threads or one thread per connection, the idle
 * timeout, the connection cap and our logger. ulfius' two mandatory
 * callbacks are wrapped to count the requests in progress, which is what
 * fv_http_server_stop waits for.
 *
 * Error answers are built without allocating, into a stack buffer, so that
 * even an out-of-memory failure is answered in JSON.
 */
#include "adapters/http/http_server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

#include <microhttpd.h>
#include <ulfius.h>

#include "adapters/json/json_codec.h"
#include "core/util/alloc.h"
#include "core/util/hex.h"
#include "core/util/utf8.h"

#define DEFAULT_THREADS           4
#define DEFAULT_IDLE_TIMEOUT_S    30
#define DEFAULT_MAX_CONNECTIONS   1024
#define DEFAULT_SHUTDOWN_GRACE_MS 5000
#define LISTEN_BACKLOG            128
/* Path segments and query parameters beyond these are refused. */
#define MAX_SEGMENTS     32
#define MAX_QUERY_PARAMS 64
#define MAX_CAPTURES     8
/* An error body: code, and a message of at most FV_ERROR_MSG_MAX bytes, each
 * byte escaped to at most 6. */
#define ERROR_BODY_MAX (64 + 6 * FV_ERROR_MSG_MAX)

/* ---- Types ------------------------------------------------------------- */

typedef struct segment {
    char *text;   /* literal, or the capture's name */
    bool capture; /* {name} */
} segment;

typedef struct route_entry {
    char *method;
    char *pattern;
    segment *segs;
    size_t n_segs;
    fv_http_handler_fn handler;
    void *user;
} route_entry;

struct fv_http_server {
    struct _u_instance inst;
    bool inst_ready;
    route_entry *routes;
    size_t n_routes;
    int port;
    fv_http_threading threading;
    int threads;
    size_t max_body;
    int idle_timeout_s;
    int max_connections;
    int shutdown_grace_ms;
    size_t arena_cap;
    fv_http_log_fn log;
    void *log_user;
    bool log_requests;
    fv_http_observe_fn observe;
    void *observe_user;
    atomic_int active; /* requests between their first line and completion */
    atomic_bool stopping;
    pthread_mutex_t stop_lock;
    bool stopped;
};

typedef struct kv {
    const char *name;
    const char *value;
} kv;

typedef struct header {
    const char *name;
    const char *value;
    struct header *next;
} header;

struct fv_http_req {
    fv_http_server *srv;
    const struct _u_request *ureq;
    fv_arena arena;
    const char *method;
    const char *path; /* raw, without the query */
    char *segs[MAX_SEGMENTS];
    size_t n_segs;
    const route_entry *route;
    kv captures[MAX_CAPTURES];
    size_t n_captures;
    /* The query, parsed at arrival; a parse failure is kept for
     * fv_http_req_query_check to report. */
    kv query[MAX_QUERY_PARAMS];
    size_t n_query;
    fv_err query_rc;
    fv_error query_err;
    const char *allow; /* the Allow header of a 405 */
    fv_http_cause cause;
    /* The answer. */
    bool answered;
    int status;
    const char *content_type;
    const char *body;
    size_t body_n;
    header *headers;
};

/* ---- Logging ----------------------------------------------------------- */

static void srv_log(const fv_http_server *srv, fv_http_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void srv_log(const fv_http_server *srv, fv_http_log_level level, const char *fmt, ...)
{
    if (srv->log == NULL)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    srv->log(srv->log_user, level, line);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* libmicrohttpd's own errors (MHD_OPTION_EXTERNAL_LOGGER). */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    const fv_http_server *srv = cls;
    if (srv->log == NULL)
        return;
    char line[1024] = "microhttpd: ";
    size_t n = strlen(line);
    vsnprintf(line + n, sizeof line - n, fmt, ap);
    /* Its messages end with a newline; ours do not. */
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    srv->log(srv->log_user, FV_HTTP_LOG_WARN, line);
}

int64_t fv_http_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The same in ns, for request durations (most take well under 1 ms). */
static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- Text helpers ------------------------------------------------------ */

/* Percent-decode p[0..n) into a NUL-terminated copy in the arena ("+" is a
 * space when plus_space). FV_E_INVALID for a malformed escape, FV_E_EXHAUSTED
 * when the arena is full (no message: the caller says what it decoded). */
static fv_err percent_decode(fv_arena *a, const char *p, size_t n, bool plus_space, char **out,
                             size_t *out_n)
{
    char *d = fv_arena_alloc(a, n + 1);
    if (d == NULL)
        return FV_E_EXHAUSTED;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '%') {
            if (n - i < 3)
                return FV_E_INVALID;
            int b = fv_hex_byte(p + i + 1);
            if (b < 0)
                return FV_E_INVALID;
            d[j++] = (char)b;
            i += 2;
        } else if (plus_space && p[i] == '+') {
            d[j++] = ' ';
        } else {
            d[j++] = p[i];
        }
    }
    d[j] = '\0';
    *out = d;
    *out_n = j;
    return FV_OK;
}

/* Append s to buf[*len..cap) as the inside of a JSON string: quotes,
 * backslashes and control characters escaped, bytes that are not UTF-8
 * replaced by U+FFFD; stops on a character boundary before the buffer is
 * full (one byte is kept for the terminator). */
static void json_escape(char *buf, size_t cap, size_t *len, const char *s)
{
    size_t n = strlen(s);
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        char tmp[8];
        size_t tn = 0, adv = 1;
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            tn = 2;
        } else if (c < 0x20) {
            tn = (size_t)snprintf(tmp, sizeof tmp, "\\u%04x", c);
        } else if (c < 0x80) {
            tmp[0] = (char)c;
            tn = 1;
        } else {
            size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            if (want <= n - i && fv_utf8_valid(s + i, want)) {
                memcpy(tmp, s + i, want);
                tn = adv = want;
            } else {
                memcpy(tmp, "\xEF\xBF\xBD", 3);
                tn = 3;
            }
        }
        if (*len + tn >= cap)
            break;
        memcpy(buf + *len, tmp, tn);
        *len += tn;
        i += adv;
    }
    buf[*len] = '\0';
}

/* ---- Answers ----------------------------------------------------------- */

/* The error answer, built in the request without allocating. */
typedef struct error_body {
    char text[ERROR_BODY_MAX];
} error_body;

static void answer_failure(fv_http_req *r, error_body *eb, fv_err code, const fv_error *err)
{
    const fv_http_server *srv = r->srv;
    if (code == FV_OK) {
        srv_log(srv, FV_HTTP_LOG_ERROR, "%s %s: a failure without an error code", r->method,
                r->path);
        code = FV_E_INTERNAL;
        err = NULL;
    }
    int status = fv_http_status_for(code, r->cause);
    bool detail = fv_http_err_shows_detail(code, r->cause);
    const char *msg = detail ? fv_error_message(err, code) : fv_strerror(code);
    if (!detail)
        srv_log(srv, code == FV_E_INTERNAL ? FV_HTTP_LOG_ERROR : FV_HTTP_LOG_WARN,
                "%s %s failed: %s: %s", r->method, r->path, fv_err_name(code),
                fv_error_message(err, code));

    size_t len = 0;
    const size_t cap = sizeof eb->text;
    len = (size_t)snprintf(eb->text, cap, "{\"error\":{\"code\":\"%s\",\"message\":\"",
                           fv_err_name(code));
    json_escape(eb->text, cap - 4, &len, msg);
    memcpy(eb->text + len, "\"}}", 4);
    len += 3;

    r->answered = true;
    r->status = status;
    r->content_type = "application/json";
    r->body = eb->text;
    r->body_n = len;
    r->headers = NULL; /* an answer set before the failure is discarded */
}

fv_err fv_http_reply_header(fv_http_req *r, const char *name, const char *value)
{
    header *h = fv_arena_alloc(&r->arena, sizeof *h);
    if (h == NULL)
        return FV_E_EXHAUSTED;
    h->name = fv_arena_strdup(&r->arena, name);
    h->value = fv_arena_strdup(&r->arena, value);
    if (h->name == NULL || h->value == NULL)
        return FV_E_EXHAUSTED;
    h->next = NULL;
    header **tail = &r->headers;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = h;
    return FV_OK;
}

/* A growing buffer in the request's arena for json_dump_callback. */
typedef struct arena_buf {
    fv_arena *arena;
    char *p;
    size_t n;
    size_t cap;
} arena_buf;

static int arena_buf_put(const char *buf, size_t size, void *data)
{
    arena_buf *b = data;
    if (size > b->cap - b->n) {
        size_t cap = b->cap == 0 ? 1024 : b->cap;
        while (size > cap - b->n) {
            if (cap > SIZE_MAX / 2)
                return -1;
            cap *= 2;
        }
        char *p = fv_arena_grow(b->arena, b->p, b->n, cap);
        if (p == NULL)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, buf, size);
    b->n += size;
    return 0;
}

fv_err fv_http_reply_json(fv_http_req *r, int status, const json_t *body)
{
    arena_buf b = {&r->arena, NULL, 0, 0};
    if (body == NULL || json_dump_callback(body, arena_buf_put, &b, JSON_COMPACT) != 0)
        return FV_E_EXHAUSTED;
    r->answered = true;
    r->status = status;
    r->content_type = "application/json";
    r->body = b.p;
    r->body_n = b.n;
    return FV_OK;
}

fv_err fv_http_reply_json_take(fv_http_req *r, int status, json_t *body)
{
    if (body == NULL)
        return FV_E_EXHAUSTED;
    fv_err rc = fv_http_reply_json(r, status, body);
    json_decref(body);
    return rc;
}

fv_err fv_http_reply_empty(fv_http_req *r, int status)
{
    r->answered = true;
    r->status = status;
    r->content_type = NULL;
    r->body = NULL;
    r->body_n = 0;
    return FV_OK;
}

fv_err fv_http_reply_body(fv_http_req *r, int status, const char *content_type, const void *body,
                          size_t n)
{
    r->answered = true;
    r->status = status;
    r->content_type = content_type;
    r->body = body;
    r->body_n = n;
    return FV_OK;
}

/* Hand the answer to ulfius (which copies everything). */
static int transfer(const fv_http_req *r, struct _u_response *u)
{
    int rc = r->body_n > 0
                 ? ulfius_set_binary_body_response(u, (unsigned int)r->status, r->body, r->body_n)
                 : ulfius_set_empty_body_response(u, (unsigned int)r->status);
    if (rc == U_OK && r->content_type != NULL)
        rc = u_map_put(u->map_header, "Content-Type", r->content_type);
    for (const header *h = r->headers; rc == U_OK && h != NULL; h = h->next)
        rc = u_map_put(u->map_header, h->name, h->value);
    if (rc == U_OK && r->status == 401)
        rc = u_map_put(u->map_header, "WWW-Authenticate", "Bearer realm=\"flovyn\"");
    if (rc == U_OK && r->status == 405 && r->allow != NULL)
        rc = u_map_put(u->map_header, "Allow", r->allow);
    if (rc == U_OK && atomic_load(&r->srv->stopping))
        rc = u_map_put(u->map_header, "Connection", "close");
    if (rc != U_OK) {
        /* ulfius answers a plain 500; nothing better is possible here. */
        srv_log(r->srv, FV_HTTP_LOG_ERROR, "%s %s: could not hand the answer to ulfius (%d)",
                r->method, r->path, rc);
        return U_CALLBACK_ERROR;
    }
    return U_CALLBACK_COMPLETE;
}

/* ---- The request ------------------------------------------------------- */

const char *fv_http_req_method(const fv_http_req *r)
{
    return r->method;
}

const char *fv_http_req_path(const fv_http_req *r)
{
    return r->path;
}

const char *fv_http_req_param(const fv_http_req *r, const char *name)
{
    for (size_t i = 0; i < r->n_captures; i++) {
        if (strcmp(r->captures[i].name, name) == 0)
            return r->captures[i].value;
    }
    return NULL;
}

const char *fv_http_req_header(const fv_http_req *r, const char *name)
{
    return u_map_get_case(r->ureq->map_header, name);
}

const void *fv_http_req_body(const fv_http_req *r, size_t *n)
{
    *n = r->ureq->binary_body_length;
    return r->ureq->binary_body;
}

fv_arena *fv_http_req_arena(fv_http_req *r)
{
    return &r->arena;
}

void fv_http_req_set_cause(fv_http_req *r, fv_http_cause cause)
{
    r->cause = cause;
}

/* Parse the raw query of the URI into r->query; a failure is kept in
 * r->query_rc / r->query_err. */
static void parse_query(fv_http_req *r)
{
    const char *url = r->ureq->http_url;
    const char *q = url != NULL ? strchr(url, '?') : NULL;
    if (q == NULL)
        return;
    q++;
    for (;;) {
        const char *amp = strchr(q, '&');
        size_t len = amp != NULL ? (size_t)(amp - q) : strlen(q);
        if (len > 0) {
            const char *eq = memchr(q, '=', len);
            size_t name_len = eq != NULL ? (size_t)(eq - q) : len;
            char *name = NULL, *value = NULL;
            size_t name_n = 0, value_n = 0;
            fv_err rc = percent_decode(&r->arena, q, name_len, true, &name, &name_n);
            if (rc == FV_OK)
                rc = eq != NULL ? percent_decode(&r->arena, eq + 1, len - name_len - 1, true,
                                                 &value, &value_n)
                                : percent_decode(&r->arena, "", 0, true, &value, &value_n);
            if (rc == FV_E_EXHAUSTED) {
                r->query_rc = fv_error_set(&r->query_err, rc, "out of memory reading the query");
                return;
            }
            if (rc != FV_OK) {
                r->query_rc = fv_error_set(&r->query_err, FV_E_INVALID,
                                           "malformed percent-encoding in the query");
                return;
            }
            if (name_n == 0) {
                r->query_rc = fv_error_set(&r->query_err, FV_E_INVALID,
                                           "a query parameter has an empty name");
                return;
            }
            if (!fv_utf8_valid(name, name_n) || !fv_utf8_valid(value, value_n)) {
                r->query_rc = fv_error_set(&r->query_err, FV_E_INVALID,
                                           "a query parameter is not valid UTF-8");
                return;
            }
            for (size_t i = 0; i < r->n_query; i++) {
                if (strcmp(r->query[i].name, name) == 0) {
                    r->query_rc =
                        fv_error_set(&r->query_err, FV_E_INVALID,
                                     "query parameter \"%.64s\" is given more than once", name);
                    return;
                }
            }
            if (r->n_query == MAX_QUERY_PARAMS) {
                r->query_rc = fv_error_set(&r->query_err, FV_E_INVALID,
                                           "more than %d query parameters", MAX_QUERY_PARAMS);
                return;
            }
            r->query[r->n_query].name = name;
            r->query[r->n_query].value = value;
            r->n_query++;
        }
        if (amp == NULL)
            return;
        q = amp + 1;
    }
}

fv_err fv_http_req_query_check(fv_http_req *r, const char *const *allowed, fv_error *err)
{
    if (r->query_rc != FV_OK) {
        if (err != NULL)
            *err = r->query_err;
        return r->query_rc;
    }
    for (size_t i = 0; i < r->n_query; i++) {
        bool known = false;
        for (size_t k = 0; allowed != NULL && allowed[k] != NULL && !known; k++)
            known = strcmp(allowed[k], r->query[i].name) == 0;
        if (known)
            continue;
        char list[160] = "";
        size_t len = 0;
        for (size_t k = 0; allowed != NULL && allowed[k] != NULL; k++) {
            int w = snprintf(list + len, sizeof list - len, "%s%s", k > 0 ? ", " : "", allowed[k]);
            if (w < 0 || (size_t)w >= sizeof list - len)
                break;
            len += (size_t)w;
        }
        if (len == 0)
            return fv_error_set(err, FV_E_INVALID,
                                "unknown query parameter \"%.64s\" (this route takes none)",
                                r->query[i].name);
        return fv_error_set(err, FV_E_INVALID, "unknown query parameter \"%.64s\" (accepted: %s)",
                            r->query[i].name, list);
    }
    return FV_OK;
}

const char *fv_http_req_query(const fv_http_req *r, const char *name)
{
    for (size_t i = 0; i < r->n_query; i++) {
        if (strcmp(r->query[i].name, name) == 0)
            return r->query[i].value;
    }
    return NULL;
}

fv_err fv_http_req_query_int(const fv_http_req *r, const char *name, int64_t def, int64_t min,
                             int64_t max, int64_t *out, fv_error *err)
{
    const char *s = fv_http_req_query(r, name);
    if (s == NULL) {
        *out = def;
        return FV_OK;
    }
    const char *p = s;
    bool neg = *p == '-';
    if (neg)
        p++;
    size_t nd = strspn(p, "0123456789");
    if (nd == 0 || p[nd] != '\0')
        return fv_error_set(err, FV_E_INVALID, "%s must be an integer, not \"%.32s\"", name, s);
    /* Accumulate negatively so that INT64_MIN fits; more than 19 digits
     * (after leading zeros) cannot fit. */
    int64_t v = 0;
    bool overflow = false;
    for (size_t i = 0; i < nd; i++) {
        int d = p[i] - '0';
        if (v < (INT64_MIN + d) / 10) {
            overflow = true;
            break;
        }
        v = v * 10 - d;
    }
    if (!neg && !overflow && v == INT64_MIN)
        overflow = true;
    if (!neg && !overflow)
        v = -v;
    if (overflow || v < min || v > max)
        return fv_error_set(err, FV_E_INVALID, "%s must be between %lld and %lld, not %.32s", name,
                            (long long)min, (long long)max, s);
    *out = v;
    return FV_OK;
}

/* Whether a Content-Type names application/json (parameters allowed). */
static bool is_json_media_type(const char *ct)
{
    if (ct == NULL)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    static const char want[] = "application/json";
    if (strncasecmp(ct, want, sizeof want - 1) != 0)
        return false;
    const char *rest = ct + sizeof want - 1;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    return *rest == '\0' || *rest == ';';
}

fv_err fv_http_req_json_object(fv_http_req *r, json_t **out, fv_error *err)
{
    *out = NULL;
    const char *ct = fv_http_req_header(r, "Content-Type");
    if (!is_json_media_type(ct)) {
        r->cause = FV_HTTP_CAUSE_MEDIA_TYPE;
        if (ct == NULL)
            return fv_error_set(err, FV_E_INVALID,
                                "Content-Type must be application/json (none was given)");
        return fv_error_set(err, FV_E_INVALID,
                            "Content-Type must be application/json, not \"%.64s\"", ct);
    }
    size_t n = 0;
    const void *body = fv_http_req_body(r, &n);
    if (n == 0)
        return fv_error_set(err, FV_E_INVALID, "request body is empty (expected a JSON object)");
    fv_json checked;
    fv_err rc =
        fv_json_check("request body", body, n, r->srv->max_body, FV_JSON_OBJECT, &checked, err);
    if (rc != FV_OK)
        return rc;
    json_error_t jerr;
    json_t *v = json_loadb(body, n, JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL)
        return fv_error_set(err, FV_E_EXHAUSTED, "could not decode the request body: %s",
                            jerr.text);
    *out = v;
    return FV_OK;
}

/* ---- Routing ----------------------------------------------------------- */

/* Split the raw path into percent-decoded segments ("/" has none). A path
 * that does not start with "/" or has more than MAX_SEGMENTS segments matches
 * no route (n_segs = SIZE_MAX). */
static fv_err split_path(fv_http_req *r, fv_error *err)
{
    const char *p = r->path;
    r->n_segs = 0;
    if (p == NULL || p[0] != '/') {
        r->n_segs = SIZE_MAX;
        return FV_OK;
    }
    p++;
    if (*p == '\0')
        return FV_OK;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash != NULL ? (size_t)(slash - p) : strlen(p);
        if (r->n_segs == MAX_SEGMENTS) {
            r->n_segs = SIZE_MAX;
            return FV_OK;
        }
        char *seg = NULL;
        size_t seg_n = 0;
        fv_err rc = percent_decode(&r->arena, p, len, false, &seg, &seg_n);
        if (rc == FV_E_EXHAUSTED)
            return fv_error_set(err, rc, "out of memory reading the path");
        if (rc != FV_OK)
            return fv_error_set(err, FV_E_INVALID, "malformed percent-encoding in the path");
        if (!fv_utf8_valid(seg, seg_n))
            return fv_error_set(err, FV_E_INVALID, "the path is not valid UTF-8");
        r->segs[r->n_segs++] = seg;
        if (slash == NULL)
            return FV_OK;
        p = slash + 1;
    }
}

static bool route_matches_path(const route_entry *e, const fv_http_req *r)
{
    if (e->n_segs != r->n_segs)
        return false;
    for (size_t i = 0; i < e->n_segs; i++) {
        if (r->segs[i][0] == '\0')
            return false;
        if (!e->segs[i].capture && strcmp(e->segs[i].text, r->segs[i]) != 0)
            return false;
    }
    return true;
}

static bool method_matches(const char *route_method, const char *method)
{
    return strcmp(route_method, method) == 0 ||
           (strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0);
}

/* Find the route of the request; 404 / 405 otherwise. */
static fv_err find_route(fv_http_req *r, fv_error *err)
{
    const fv_http_server *srv = r->srv;
    char allow[128] = "";
    size_t allow_n = 0;
    bool path_known = false;
    for (size_t i = 0; i < srv->n_routes; i++) {
        const route_entry *e = &srv->routes[i];
        if (!route_matches_path(e, r))
            continue;
        if (method_matches(e->method, r->method)) {
            r->route = e;
            for (size_t k = 0; k < e->n_segs; k++) {
                if (e->segs[k].capture && r->n_captures < MAX_CAPTURES) {
                    r->captures[r->n_captures].name = e->segs[k].text;
                    r->captures[r->n_captures].value = r->segs[k];
                    r->n_captures++;
                }
            }
            return FV_OK;
        }
        path_known = true;
        /* Allow: each method once, GET followed by HEAD. */
        const char *m[2] = {e->method, strcmp(e->method, "GET") == 0 ? "HEAD" : NULL};
        for (size_t k = 0; k < 2 && m[k] != NULL; k++) {
            if (strstr(allow, m[k]) != NULL)
                continue;
            int w = snprintf(allow + allow_n, sizeof allow - allow_n, "%s%s",
                             allow_n > 0 ? ", " : "", m[k]);
            if (w > 0 && (size_t)w < sizeof allow - allow_n)
                allow_n += (size_t)w;
        }
    }
    if (path_known) {
        r->allow = fv_arena_strdup(&r->arena, allow);
        r->cause = FV_HTTP_CAUSE_METHOD;
        return fv_error_set(err, FV_E_INVALID,
                            "method %.16s is not allowed on %.128s (allowed: %s)", r->method,
                            r->path, allow);
    }
    return fv_error_set(err, FV_E_NOT_FOUND, "no route for %.16s %.160s", r->method, r->path);
}

/* Everything between the arrival and the handler's answer. */
static fv_err serve(fv_http_req *r, fv_error *err)
{
    const fv_http_server *srv = r->srv;
    if (r->ureq->binary_body_length > srv->max_body) {
        r->cause = FV_HTTP_CAUSE_BODY_SIZE;
        return fv_error_set(err, FV_E_EXHAUSTED, "request body is larger than %zu bytes",
                            srv->max_body);
    }
    fv_err rc = split_path(r, err);
    if (rc == FV_OK)
        rc = find_route(r, err);
    if (rc != FV_OK)
        return rc;
    parse_query(r);
    return r->route->handler(r, r->route->user, err);
}

/* The one ulfius endpoint: every request of every method and path. */
static int dispatch(const struct _u_request *ureq, struct _u_response *uresp, void *user)
{
    fv_http_server *srv = user;
    int64_t t0 = srv->log_requests || srv->observe != NULL ? monotonic_ns() : 0;
    fv_http_req r;
    memset(&r, 0, sizeof r);
    r.srv = srv;
    r.ureq = ureq;
    fv_arena_init(&r.arena, srv->arena_cap);
    r.method = ureq->http_verb != NULL ? ureq->http_verb : "?";
    r.path = ureq->url_path != NULL ? ureq->url_path : "";

    error_body eb;
    fv_error err = {0};
    fv_err rc = serve(&r, &err);
    if (rc != FV_OK) {
        answer_failure(&r, &eb, rc, &err);
    } else if (!r.answered) {
        srv_log(srv, FV_HTTP_LOG_ERROR, "%s %s: the handler returned without an answer", r.method,
                r.path);
        answer_failure(&r, &eb, FV_E_INTERNAL, NULL);
    }
    int ret = transfer(&r, uresp);
    int status = ret == U_CALLBACK_COMPLETE ? r.status : 500;
    if (srv->log_requests || srv->observe != NULL) {
        int64_t ns = monotonic_ns() - t0;
        if (srv->log_requests)
            srv_log(srv, FV_HTTP_LOG_DEBUG, "%s %s %d %lldms", r.method, r.path, status,
                    (long long)(ns / 1000000));
        if (srv->observe != NULL)
            srv->observe(srv->observe_user,
                         r.route != NULL ? (size_t)(r.route - srv->routes) : FV_HTTP_NO_ROUTE,
                         r.method, status, (double)ns / 1e9);
    }
    fv_arena_release(&r.arena);
    return ret;
}

/* ulfius' mandatory libmicrohttpd callbacks, wrapped to count the requests in
 * progress (libmicrohttpd calls the completion callback for every request
 * whose first line reached the URI callback). */
static void *on_uri(void *cls, const char *uri)
{
    fv_http_server *srv = cls;
    void *con_info = ulfius_uri_logger(NULL, uri);
    if (con_info != NULL)
        atomic_fetch_add(&srv->active, 1);
    return con_info;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    fv_http_server *srv = cls;
    bool counted = *con_cls != NULL;
    mhd_request_completed(NULL, connection, con_cls, toe);
    if (counted)
        atomic_fetch_sub(&srv->active, 1);
}

/* ---- Configuration ----------------------------------------------------- */

static void routes_free(route_entry *routes, size_t n)
{
    for (size_t i = 0; routes != NULL && i < n; i++) {
        for (size_t k = 0; k < routes[i].n_segs; k++)
            fv_free(routes[i].segs[k].text);
        fv_free(routes[i].segs);
        fv_free(routes[i].method);
        fv_free(routes[i].pattern);
    }
    fv_free(routes);
}

static bool valid_method(const char *m)
{
    if (m == NULL || m[0] == '\0' || strlen(m) > 16)
        return false;
    for (const char *p = m; *p != '\0'; p++) {
        if (*p < 'A' || *p > 'Z')
            return false;
    }
    return true;
}

static bool valid_capture_name(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

/* Compile one route into e (zeroed by the caller). */
static fv_err compile_route(const fv_http_route *in, size_t idx, route_entry *e, fv_error *err)
{
    if (in->handler == NULL)
        return fv_error_set(err, FV_E_INVALID, "route %zu has no handler", idx);
    if (!valid_method(in->method))
        return fv_error_set(err, FV_E_INVALID, "route %zu: method must be upper-case letters", idx);
    if (in->pattern == NULL || in->pattern[0] != '/')
        return fv_error_set(err, FV_E_INVALID, "route %zu: pattern must start with \"/\"", idx);
    e->handler = in->handler;
    e->user = in->user;
    e->method = fv_strdup(in->method);
    e->pattern = fv_strdup(in->pattern);
    e->segs = fv_calloc(MAX_SEGMENTS, sizeof *e->segs);
    if (e->method == NULL || e->pattern == NULL || e->segs == NULL)
        return fv_error_set(err, FV_E_EXHAUSTED, "out of memory compiling the routes");
    const char *p = in->pattern + 1;
    size_t captures = 0;
    while (*p != '\0') {
        const char *slash = strchr(p, '/');
        size_t len = slash != NULL ? (size_t)(slash - p) : strlen(p);
        if (len == 0)
            return fv_error_set(err, FV_E_INVALID, "route \"%.64s\": empty segment", in->pattern);
        if (e->n_segs == MAX_SEGMENTS)
            return fv_error_set(err, FV_E_INVALID, "route \"%.64s\": more than %d segments",
                                in->pattern, MAX_SEGMENTS);
        segment *s = &e->segs[e->n_segs];
        if (p[0] == '{') {
            if (len < 3 || p[len - 1] != '}' || !valid_capture_name(p + 1, len - 2))
                return fv_error_set(err, FV_E_INVALID,
                                    "route \"%.64s\": a capture must be {name} with [a-z0-9_]",
                                    in->pattern);
            if (++captures > MAX_CAPTURES)
                return fv_error_set(err, FV_E_INVALID, "route \"%.64s\": more than %d captures",
                                    in->pattern, MAX_CAPTURES);
            s->capture = true;
            s->text = fv_strndup(p + 1, len - 2);
        } else {
            if (memchr(p, '{', len) != NULL || memchr(p, '}', len) != NULL ||
                memchr(p, '%', len) != NULL)
                return fv_error_set(err, FV_E_INVALID,
                                    "route \"%.64s\": a literal segment has a brace or a %%",
                                    in->pattern);
            s->text = fv_strndup(p, len);
        }
        e->n_segs++;
        if (s->text == NULL)
            return fv_error_set(err, FV_E_EXHAUSTED, "out of memory compiling the routes");
        if (slash == NULL)
            break;
        p = slash + 1;
        if (*p == '\0')
            return fv_error_set(err, FV_E_INVALID, "route \"%.64s\": trailing \"/\"", in->pattern);
    }
    return FV_OK;
}

/* Same method and the same segments (captures are equal whatever their
 * names): the second could never be reached. */
static bool same_route(const route_entry *a, const route_entry *b)
{
    if (strcmp(a->method, b->method) != 0 || a->n_segs != b->n_segs)
        return false;
    for (size_t i = 0; i < a->n_segs; i++) {
        if (a->segs[i].capture != b->segs[i].capture)
            return false;
        if (!a->segs[i].capture && strcmp(a->segs[i].text, b->segs[i].text) != 0)
            return false;
    }
    return true;
}

static fv_err compile_routes(fv_http_server *srv, const fv_http_server_config *cfg, fv_error *err)
{
    if (cfg->n_routes > 0 && cfg->routes == NULL)
        return fv_error_set(err, FV_E_INVALID, "n_routes is %zu but routes is NULL", cfg->n_routes);
    if (cfg->n_routes == 0)
        return FV_OK;
    srv->routes = fv_calloc(cfg->n_routes, sizeof *srv->routes);
    if (srv->routes == NULL)
        return fv_error_set(err, FV_E_EXHAUSTED, "out of memory compiling the routes");
    for (size_t i = 0; i < cfg->n_routes; i++) {
        srv->n_routes = i + 1; /* so that routes_free releases the partial entry */
        fv_err rc = compile_route(&cfg->routes[i], i, &srv->routes[i], err);
        if (rc != FV_OK)
            return rc;
        for (size_t k = 0; k < i; k++) {
            if (same_route(&srv->routes[k], &srv->routes[i]))
                return fv_error_set(err, FV_E_INVALID, "route %s %.64s is given twice",
                                    srv->routes[i].method, srv->routes[i].pattern);
        }
    }
    return FV_OK;
}

/* "HOST:PORT" -> host (brackets of an IPv6 literal removed) and port text. */
static fv_err parse_listen(const char *addr, char *host, size_t host_cap, char *port,
                           size_t port_cap, fv_error *err)
{
    if (addr == NULL || addr[0] == '\0')
        return fv_error_set(err, FV_E_INVALID, "no addr address");
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || colon == addr)
        return fv_error_set(err, FV_E_INVALID, "addr address \"%.64s\" is not HOST:PORT", addr);
    const char *h = addr;
    size_t hn = (size_t)(colon - addr);
    if (h[0] == '[') {
        if (hn < 3 || h[hn - 1] != ']')
            return fv_error_set(err, FV_E_INVALID, "addr address \"%.64s\" is not HOST:PORT", addr);
        h++;
        hn -= 2;
    }
    const char *pt = colon + 1;
    size_t pn = strlen(pt);
    if (pn == 0 || pn > 5 || strspn(pt, "0123456789") != pn || strtol(pt, NULL, 10) > 65535)
        return fv_error_set(err, FV_E_INVALID, "addr address \"%.64s\": bad port", addr);
    if (hn + 1 > host_cap || pn + 1 > port_cap)
        return fv_error_set(err, FV_E_INVALID, "addr address \"%.64s\" is too long", addr);
    memcpy(host, h, hn);
    host[hn] = '\0';
    memcpy(port, pt, pn + 1);
    return FV_OK;
}

/* Bind and listen; the socket is non-blocking and close-on-exec. */
static fv_err bind_listen(const char *addr, int *fd_out, int *port_out, fv_error *err)
{
    char host[256], port[8];
    fv_err rc = parse_listen(addr, host, sizeof host, port, sizeof port, err);
    if (rc != FV_OK)
        return rc;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0)
        return fv_error_set(err, FV_E_UNAVAILABLE, "could not resolve \"%.64s\": %s", host,
                            gai_strerror(gai));
    int fd = -1, last_errno = 0;
    for (const struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        int one = 1;
        int flags = fcntl(fd, F_GETFL);
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
            fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || flags < 0 ||
            fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
            bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
            last_errno = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        char reason[128] = "no address";
        if (last_errno != 0 && strerror_r(last_errno, reason, sizeof reason) != 0)
            snprintf(reason, sizeof reason, "error %d", last_errno);
        return fv_error_set(err, FV_E_UNAVAILABLE, "could not listen on %.128s: %s", addr, reason);
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        int e = errno;
        close(fd);
        return fv_error_set(err, FV_E_UNAVAILABLE, "could not read the bound port (error %d)", e);
    }
    int p = 0;
    if (ss.ss_family == AF_INET)
        p = ntohs(((const struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
        p = ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
    *fd_out = fd;
    *port_out = p;
    return FV_OK;
}

/* ---- Lifecycle --------------------------------------------------------- */

static int or_default(int v, int def)
{
    return v == 0 ? def : v;
}

static fv_err check_config(const fv_http_server_config *cfg, fv_error *err)
{
    if (cfg == NULL)
        return fv_error_set(err, FV_E_INVALID, "no configuration");
    if (cfg->threads < 0 || cfg->idle_timeout_s < 0 || cfg->max_connections < 0 ||
        cfg->shutdown_grace_ms < 0)
        return fv_error_set(err, FV_E_INVALID,
                            "threads, idle_timeout_s, max_connections and shutdown_grace_ms "
                            "must not be negative");
    if (cfg->threading != FV_HTTP_THREAD_POOL && cfg->threading != FV_HTTP_THREAD_PER_CONNECTION)
        return fv_error_set(err, FV_E_INVALID, "unknown threading mode %d", (int)cfg->threading);
    if (cfg->max_body_bytes >= SIZE_MAX / 2)
        return fv_error_set(err, FV_E_INVALID, "max_body_bytes is too large");
    return FV_OK;
}

fv_http_server *fv_http_server_new(const fv_http_server_config *cfg, fv_error *err)
{
    fv_err rc = check_config(cfg, err);
    if (rc != FV_OK)
        return NULL;
    fv_http_server *srv = fv_calloc(1, sizeof *srv);
    if (srv == NULL) {
        fv_error_set(err, FV_E_EXHAUSTED, "out of memory creating the HTTP server");
        return NULL;
    }
    int fd = -1;
    srv->threading = cfg->threading;
    srv->threads = or_default(cfg->threads, DEFAULT_THREADS);
    srv->max_body = cfg->max_body_bytes == 0 ? FV_HTTP_DEFAULT_MAX_BODY : cfg->max_body_bytes;
    srv->idle_timeout_s = or_default(cfg->idle_timeout_s, DEFAULT_IDLE_TIMEOUT_S);
    srv->max_connections = or_default(cfg->max_connections, DEFAULT_MAX_CONNECTIONS);
    srv->shutdown_grace_ms = or_default(cfg->shutdown_grace_ms, DEFAULT_SHUTDOWN_GRACE_MS);
    srv->arena_cap = cfg->arena_cap == 0 ? FV_ARENA_DEFAULT_CAP : cfg->arena_cap;
    srv->log = cfg->log;
    srv->log_user = cfg->log_user;
    srv->log_requests = cfg->log_requests;
    srv->observe = cfg->observe;
    srv->observe_user = cfg->observe_user;
    atomic_init(&srv->active, 0);
    atomic_init(&srv->stopping, false);
    if (pthread_mutex_init(&srv->stop_lock, NULL) != 0) {
        fv_free(srv);
        fv_error_set(err, FV_E_EXHAUSTED, "could not create a mutex");
        return NULL;
    }

    rc = compile_routes(srv, cfg, err);
    if (rc == FV_OK)
        rc = bind_listen(cfg->listen, &fd, &srv->port, err);
    if (rc != FV_OK)
        goto fail;
    if (ulfius_init_instance(&srv->inst, (unsigned int)srv->port, NULL, NULL) != U_OK) {
        rc = fv_error_set(err, FV_E_EXHAUSTED, "could not initialise the ulfius instance");
        goto fail;
    }
    srv->inst_ready = true;
    /* One byte more than the limit: a body that reached it was over the
     * limit (ulfius truncates silently, STYLE.md 3.2.3). */
    srv->inst.max_post_body_size = srv->max_body + 1;
    if (ulfius_add_endpoint_by_val(&srv->inst, "*", NULL, "*", 0, dispatch, srv) != U_OK) {
        rc = fv_error_set(err, FV_E_EXHAUSTED, "could not add the ulfius endpoint");
        goto fail;
    }

    unsigned int flags = MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (srv->threading == FV_HTTP_THREAD_POOL)
        flags |= MHD_USE_EPOLL_INTERNAL_THREAD;
    else
        flags |= MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    /* libmicrohttpd owns the descriptor it is given and closes it when it
     * stops; ours is closed below in every case. If the start fails,
     * libmicrohttpd may or may not have closed its copy; at worst one
     * descriptor leaks on a failed start, never a double close. */
    int mhd_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (mhd_fd < 0) {
        rc = fv_error_set(err, FV_E_EXHAUSTED, "could not duplicate the listening socket");
        goto fail;
    }
    struct MHD_OptionItem ops[10];
    size_t n = 0;
    /* The logger first: libmicrohttpd warns about (and prints with its own
     * logger) whatever comes before it. */
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, srv};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, mhd_fd, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, srv};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
                                       (intptr_t)(unsigned int)srv->idle_timeout_s, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                       (intptr_t)(unsigned int)srv->max_connections, NULL};
    if (srv->threading == FV_HTTP_THREAD_POOL && srv->threads > 1)
        ops[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE,
                                           (intptr_t)(unsigned int)srv->threads, NULL};
    ops[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    if (ulfius_start_framework_with_mhd_options(&srv->inst, flags, ops) != U_OK) {
        rc = fv_error_set(err, FV_E_EXHAUSTED,
                          "could not start libmicrohttpd on %.128s (threads or memory)",
                          cfg->listen);
        goto fail;
    }
    close(fd);
    return srv;

fail:
    if (fd >= 0)
        close(fd);
    if (srv->inst_ready)
        ulfius_clean_instance(&srv->inst);
    routes_free(srv->routes, srv->n_routes);
    pthread_mutex_destroy(&srv->stop_lock);
    fv_free(srv);
    return NULL;
}

int fv_http_server_port(const fv_http_server *srv)
{
    return srv->port;
}

bool fv_http_server_route(const fv_http_server *srv, size_t i, const char **method,
                          const char **pattern)
{
    if (i >= srv->n_routes)
        return false;
    *method = srv->routes[i].method;
    *pattern = srv->routes[i].pattern;
    return true;
}

void fv_http_server_stop(fv_http_server *srv)
{
    if (srv == NULL)
        return;
    pthread_mutex_lock(&srv->stop_lock);
    if (srv->stopped) {
        pthread_mutex_unlock(&srv->stop_lock);
        return;
    }
    atomic_store(&srv->stopping, true);
    /* No new connections; the open ones are served until they finish. The
     * listening socket is ours to close, but only once the daemon stopped:
     * with the epoll thread pool each worker removes it from its epoll set
     * at its next turn, and a socket closed before that makes
     * libmicrohttpd abort ("Failed to remove listen FD from epoll set"). */
    MHD_socket lfd = MHD_quiesce_daemon(srv->inst.mhd_daemon);
    int64_t deadline = fv_http_monotonic_ms() + srv->shutdown_grace_ms;
    while (atomic_load(&srv->active) > 0 && fv_http_monotonic_ms() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    int left = atomic_load(&srv->active);
    if (left > 0)
        srv_log(srv, FV_HTTP_LOG_WARN,
                "stopping with %d request(s) still in progress after %d ms: their connections "
                "are closed",
                left, srv->shutdown_grace_ms);
    ulfius_stop_framework(&srv->inst);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    srv->stopped = true;
    pthread_mutex_unlock(&srv->stop_lock);
}

void fv_http_server_free(fv_http_server *srv)
{
    if (srv == NULL)
        return;
    fv_http_server_stop(srv);
    ulfius_clean_instance(&srv->inst);
    routes_free(srv->routes, srv->n_routes);
    pthread_mutex_destroy(&srv->stop_lock);
    fv_free(srv);
}
