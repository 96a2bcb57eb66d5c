/*
 * The generic HTTP server machinery on ulfius 2.7 / libmicrohttpd 0.9.75: a
 * listening socket we bind ourselves (any HOST:PORT, port 0 included), a
 * route table matched by this module, a per-request arena, strict query
 * parsing, JSON answers, and one error path. Nothing here knows a flovyn
 * resource: a service is a table of routes whose handlers read the request
 * and answer JSON, or return a domain error.
 *
 * What the machinery does for every route (STYLE.md section 3.2):
 *   - answers every failure with a JSON body
 *     {"error": {"code": "NOT_FOUND", "message": "..."}}, the status from
 *     http_status.h: unknown paths 404, a known path with another method 405
 *     with an Allow header, a handler's domain error, and its own limits;
 *   - refuses a request body over max_body_bytes with 413 before any handler
 *     runs (ulfius silently truncates an over-limit body and calls the
 *     handler anyway: the instance is told limit + 1, so a body that reached
 *     limit + 1 bytes was over the limit, whatever its framing);
 *   - closes connections idle for idle_timeout_s seconds (a client that
 *     stops sending mid-request), and caps the number of connections;
 *   - treats HEAD as GET (libmicrohttpd sends no body);
 *   - gives each request an arena, released after the answer is copied out.
 *
 * Library lifetime: nothing to initialise for the server side of ulfius
 * (ulfius_global_init is only for its HTTP client). Call
 * json_object_seed(0) once before the first server starts (STYLE.md 3.2.12,
 * app/ does it before any thread exists). Block the signals the process
 * handles before fv_http_server_new: libmicrohttpd's threads inherit the
 * signal mask of their creator.
 *
 * Threading: handlers run concurrently on libmicrohttpd's threads (a pool of
 * `threads` epoll threads, or one thread per connection); a request and its
 * arena belong to the one thread running its handler. A handler that blocks
 * holds its thread and, in pool mode, delays the other connections of that
 * thread: size the pool for blocking storage. Route tables and user
 * pointers are shared by every thread and must be read-only.
 */
#ifndef FV_ADAPTERS_HTTP_HTTP_SERVER_H
#define FV_ADAPTERS_HTTP_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "adapters/http/http_status.h"
#include "core/util/arena.h"
#include "core/util/error.h"

typedef struct fv_http_server fv_http_server;

/* One request, from its arrival at a handler until the answer is copied out.
 * Opaque; valid only inside the handler call. */
typedef struct fv_http_req fv_http_req;

/*
 * A route handler. It answers the request with one fv_http_reply_* call and
 * returns FV_OK, or returns a domain error (detail in err) which the
 * machinery answers as JSON with the status of http_status.h (an answer set
 * before a failure is discarded). `user` is the route's user pointer.
 * Returning FV_OK without an answer is a bug, answered 500 and logged.
 */
typedef fv_err (*fv_http_handler_fn)(fv_http_req *req, void *user, fv_error *err);

/* One row of the route table. */
typedef struct fv_http_route {
    /* "GET", "PATCH", ...: upper case, exact. */
    const char *method;
    /* "/api/tenants/{slug}/workers/{worker_id}": literal segments and
     * {name} segments that capture one non-empty, percent-decoded segment
     * (read with fv_http_req_param). "/" alone is the root. Copied. */
    const char *pattern;
    fv_http_handler_fn handler;
    /* Passed to the handler; borrowed, must outlive the server. */
    void *user;
} fv_http_route;

typedef enum fv_http_threading {
    /* `threads` threads each serving many connections with epoll. */
    FV_HTTP_THREAD_POOL = 0,
    /* One thread per connection (handlers that block for long: SSE). */
    FV_HTTP_THREAD_PER_CONNECTION,
} fv_http_threading;

typedef enum fv_http_log_level {
    FV_HTTP_LOG_ERROR,
    FV_HTTP_LOG_WARN,
    FV_HTTP_LOG_INFO,
    FV_HTTP_LOG_DEBUG
} fv_http_log_level;

/* Where the machinery reports what it cannot return to a client: failures
 * that are not the client's fault (with their detail), libmicrohttpd's own
 * errors, handler bugs and, with log_requests, one DEBUG line per request.
 * `msg` is borrowed for the duration of the call. Called from any thread,
 * concurrently. */
typedef void (*fv_http_log_fn)(void *user, fv_http_log_level level, const char *msg);

/* Told once per request after its answer was handed over: `route` is the
 * index of the route that served it in the configuration's table, or
 * FV_HTTP_NO_ROUTE when none matched (404, 405, and failures before
 * routing: a body over the limit, a malformed path); `method` as sent
 * (borrowed for the call); `status` the status sent; `seconds` from the
 * start of the request's dispatch (its body fully received) to its answer.
 * Called from any thread, concurrently: keep it short and lock-free. */
typedef void (*fv_http_observe_fn)(void *user, size_t route, const char *method, int status,
                                   double seconds);

#define FV_HTTP_NO_ROUTE SIZE_MAX

/* Zero-initialise, then set what you need; 0 / NULL means the default. */
typedef struct fv_http_server_config {
    /* "HOST:PORT": an IPv4 address, "[IPv6]" or a host name; port 0 picks a
     * free port (read it back with fv_http_server_port). Required. */
    const char *listen;
    fv_http_threading threading;
    /* Pool threads (FV_HTTP_THREAD_POOL). Default 4. */
    int threads;
    /* Largest request body, in bytes; larger ones are answered 413. Default
     * FV_HTTP_DEFAULT_MAX_BODY. */
    size_t max_body_bytes;
    /* Seconds a connection may stay silent (mid-request or between
     * keep-alive requests) before it is closed. Default 30. */
    int idle_timeout_s;
    /* Concurrent connections accepted; more wait in the listen backlog.
     * Default 1024. */
    int max_connections;
    /* How long fv_http_server_stop lets requests in progress finish, in ms.
     * Default 5000. */
    int shutdown_grace_ms;
    /* Size cap of each request's arena. Default FV_ARENA_DEFAULT_CAP. */
    size_t arena_cap;
    /* The routes, tried in order; (method, pattern) pairs must be distinct.
     * Borrowed for the duration of fv_http_server_new (copied). */
    const fv_http_route *routes;
    size_t n_routes;
    /* Optional log sink; NULL = silent. */
    fv_http_log_fn log;
    void *log_user;
    /* Log one DEBUG line per request: method, path, status, duration. */
    bool log_requests;
    /* Optional per-request observer (metrics); NULL = none. */
    fv_http_observe_fn observe;
    void *observe_user;
} fv_http_server_config;

#define FV_HTTP_DEFAULT_MAX_BODY ((size_t)2 * 1024 * 1024)

/*
 * Bind the listen address, start libmicrohttpd's threads and serve.
 *
 * Returns a new server (release with fv_http_server_free), or NULL with err
 * (optional) set to:
 *   FV_E_INVALID      bad configuration (no or malformed listen address, a
 *                     route with no handler, a malformed pattern, a
 *                     duplicate (method, pattern), a negative number);
 *   FV_E_UNAVAILABLE  could not resolve or bind the listen address;
 *   FV_E_EXHAUSTED    out of memory or threads.
 * cfg and the strings in it are borrowed for the duration of the call only.
 */
fv_http_server *fv_http_server_new(const fv_http_server_config *cfg, fv_error *err);

/* The bound TCP port (useful with port 0). */
int fv_http_server_port(const fv_http_server *srv);

/* The routes being served, in table order: route i's method and pattern
 * (borrowed, valid until fv_http_server_free), or false when i is past the
 * last. What the server matches requests against, for checks such as "the
 * OpenAPI document lists every route". Thread-safe (the table is
 * read-only). */
bool fv_http_server_route(const fv_http_server *srv, size_t i, const char **method,
                          const char **pattern);

/*
 * Stop serving, blocking until done: close the listening socket (new
 * connections are refused), answer the requests still arriving on open
 * connections with "Connection: close", wait up to shutdown_grace_ms for
 * every request in progress to be answered, then close every connection and
 * join the threads. Idempotent; call it from one thread, never from a
 * handler.
 */
void fv_http_server_stop(fv_http_server *srv);

/* Stop (if not yet stopped) and release the server. NULL-safe. */
void fv_http_server_free(fv_http_server *srv);

/* ---- The request, for handlers ------------------------------------------ */

/* "GET", "PATCH", ... as sent (HEAD for a HEAD request served by a GET
 * route). Borrowed, valid during the handler call, like every pointer
 * below. */
const char *fv_http_req_method(const fv_http_req *r);

/* The path as sent, without the query (still percent-encoded). */
const char *fv_http_req_path(const fv_http_req *r);

/* The percent-decoded value of the route's {name} segment; NULL when the
 * pattern has no such capture. Valid UTF-8 without NUL, else the request
 * was answered 400 before the handler ran. */
const char *fv_http_req_param(const fv_http_req *r, const char *name);

/* The value of request header `name` (case-insensitive); NULL when absent.
 * Repeated headers are joined with ",". */
const char *fv_http_req_header(const fv_http_req *r, const char *name);

/* The request body: *n bytes (0 when none; the pointer may then be NULL).
 * Never over max_body_bytes. */
const void *fv_http_req_body(const fv_http_req *r, size_t *n);

/* The request's arena: everything allocated in it lives until the answer has
 * been copied out. */
fv_arena *fv_http_req_arena(fv_http_req *r);

/*
 * Check the query string against the parameters the route accepts
 * (`allowed`: a NULL-terminated list of names; NULL = none). A parameter not
 * in the list, one given twice, an empty name, malformed percent-encoding, a
 * value that is not UTF-8 or more than 64 parameters is FV_E_INVALID naming
 * it. The query is never checked unless a handler calls this: a service
 * calls it once per request in the wrapper all its routes share, so that no
 * route can forget it.
 */
fv_err fv_http_req_query_check(fv_http_req *r, const char *const *allowed, fv_error *err);

/* The percent-decoded value of query parameter `name` ("+" is a space);
 * NULL when absent; "" when given empty ("?limit=" or "?limit"). */
const char *fv_http_req_query(const fv_http_req *r, const char *name);

/*
 * Strict integer parameter: absent -> *out = def; otherwise an optional "-"
 * and 1..19 decimal digits in [min, max], else FV_E_INVALID: "limit must be
 * an integer, not \"abc\"" or "limit must be between 1 and 100, not 500".
 */
fv_err fv_http_req_query_int(const fv_http_req *r, const char *name, int64_t def, int64_t min,
                             int64_t max, int64_t *out, fv_error *err);

/*
 * The JSON body of a request that must carry one: Content-Type must be
 * application/json (parameters such as charset allowed), else FV_E_INVALID
 * answered 415; the body must be one well-formed JSON object (UTF-8, no
 * duplicate keys), else FV_E_INVALID naming the reason ("request body is not
 * valid JSON: ... at line 1, column 7"). *out is a new reference: the caller
 * json_decref's it.
 */
fv_err fv_http_req_json_object(fv_http_req *r, json_t **out, fv_error *err);

/* Mark the failure the handler is about to return with a cause that refines
 * its status (see http_status.h). */
void fv_http_req_set_cause(fv_http_req *r, fv_http_cause cause);

/* ---- Answers ------------------------------------------------------------ */

/* Add a response header (copied into the request's arena; name and value
 * must be printable ASCII). FV_E_EXHAUSTED when the arena is full. */
fv_err fv_http_reply_header(fv_http_req *r, const char *name, const char *value);

/* Answer `status` with `body` serialised compactly as application/json.
 * Borrows body (the caller still json_decref's it). FV_E_EXHAUSTED when
 * serialising runs out of memory. */
fv_err fv_http_reply_json(fv_http_req *r, int status, const json_t *body);

/* The same, stealing the reference to body (json_decref'd on every path);
 * body == NULL is FV_E_EXHAUSTED (a failed jansson constructor). */
fv_err fv_http_reply_json_take(fv_http_req *r, int status, json_t *body);

/* Answer `status` with no body (204). */
fv_err fv_http_reply_empty(fv_http_req *r, int status);

/* Answer `status` with n bytes of `body` and the Content-Type
 * `content_type` (printable ASCII). Both are borrowed until the answer has
 * been copied out: static data, or memory of the request's arena. */
fv_err fv_http_reply_body(fv_http_req *r, int status, const char *content_type, const void *body,
                          size_t n);

/* Monotonic clock in ms (request timing, stop deadlines). */
int64_t fv_http_monotonic_ms(void);

#endif
