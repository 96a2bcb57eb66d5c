/*
 * The metrics of flovyn-server, served as Prometheus text on GET /_/metrics:
 *
 *   flovyn_build_info{version}                      gauge, always 1
 *   process_start_time_seconds                      gauge, Unix time
 *   flovyn_http_requests_total{route,method,status} counter
 *   flovyn_http_request_duration_seconds{route,method}  histogram
 *   flovyn_grpc_calls_total{method,code}            counter
 *   flovyn_grpc_call_duration_seconds{method}       histogram
 *   flovyn_workers{status}                          gauge, at scrape time
 *   flovyn_definitions{class,availability}          gauge, at scrape time
 *   flovyn_scheduler_job_runs_total{job,result}     counter
 *   flovyn_scheduler_job_changes_total{job}         counter
 *   flovyn_scheduler_job_duration_seconds{job}      histogram
 *
 * app/ creates one fv_metrics, hands it to the gRPC server (through the
 * observe hook of grpc_server.h), the HTTP adapter and the scheduler, and
 * frees it after all of them stopped. Every label set is fixed up front
 * (routes and jobs registered at startup, gRPC methods from the method
 * table, codes and statuses from fixed tables), so an observation is an
 * index computation and relaxed atomic adds: no lock, no allocation, no
 * string lookup (registry.h).
 *
 * How the HTTP adapter uses it (routes registered once, before serving):
 *
 *     // at startup, once per route of the table (the route template, not
 *     // the path of a request):
 *     int id;
 *     rc = fv_metrics_http_route(m, "GET", "/api/tenants/{tenant_slug}/workers", &id, &err);
 *     row->metrics_id = id;
 *
 *     // per request, once its status is known:
 *     int64_t t0 = fv_metrics_now_ns();
 *     ... route, answer ...
 *     fv_metrics_http_observe(m, row->metrics_id, 200, fv_metrics_seconds_since(t0));
 *
 *     // a request no route matched (JSON 404, or 405 from the default
 *     // handler): the method is folded into GET..OPTIONS or "other"
 *     fv_metrics_http_observe_unmatched(m, request_method, 404, seconds);
 *
 *     // GET /_/metrics:
 *     const char *text; size_t n;
 *     rc = fv_metrics_render(m, request_arena, &text, &n, &err);
 *     answer 200, Content-Type FV_METRICS_CONTENT_TYPE, body text/n
 *     (rc FV_E_EXHAUSTED: answer 503)
 *
 * Every function accepts m == NULL (observations are then dropped and
 * registrations give id -1), so adapters run without metrics in tests.
 */
#ifndef FV_ADAPTERS_METRICS_METRICS_H
#define FV_ADAPTERS_METRICS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/deps.h"
#include "core/util/arena.h"
#include "core/util/error.h"

typedef struct fv_metrics fv_metrics;

/* The Content-Type of the text fv_metrics_render writes. */
#define FV_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Routes fv_metrics_http_route accepts (distinct method + route pairs). */
#define FV_METRICS_HTTP_ROUTES_MAX 256
/* Methods fv_metrics_grpc_methods accepts. */
#define FV_METRICS_GRPC_METHODS_MAX 64
/* Jobs fv_metrics_job accepts. */
#define FV_METRICS_JOBS_MAX 16
/* (tenant, kind) pairs the task backlog families can show; more are left out. */
#define FV_METRICS_BACKLOG_SERIES_MAX 4096

/* The gRPC method index of a call to a method not in the table. */
#define FV_METRICS_GRPC_UNKNOWN SIZE_MAX

typedef struct fv_metrics_config {
    /* flovyn_build_info{version}; NULL = "unknown". Copied. */
    const char *version;
    /* process_start_time_seconds, Unix time in seconds; 0 = the realtime
     * clock at fv_metrics_new. */
    double start_time_seconds;
    /* Where flovyn_workers and flovyn_definitions are counted at each scrape
     * (fv_query_registry_counts). Borrowed: must outlive the metrics. NULL =
     * those two families are absent. */
    const fv_deps *deps;
} fv_metrics_config;

/* Create the metrics. NULL with err set: FV_E_EXHAUSTED (out of memory),
 * FV_E_INVALID (a version that is not UTF-8). cfg is borrowed for the call. */
fv_metrics *fv_metrics_new(const fv_metrics_config *cfg, fv_error *err);

/* Release. Nothing may observe any more (stop the servers and the scheduler
 * first). NULL-safe. */
void fv_metrics_free(fv_metrics *m);

/* A monotonic clock in nanoseconds, and the seconds elapsed since one of its
 * readings: what the observe functions want. */
int64_t fv_metrics_now_ns(void);
double fv_metrics_seconds_since(int64_t start_ns);

/* ---- HTTP ------------------------------------------------------------------- */

/*
 * Register a route: `method` (an HTTP method, upper-case letters, e.g. "GET")
 * and `route` (the route's template as the table spells it, e.g.
 * "/api/orgs/{org_slug}/workers/{worker_id}"; UTF-8, not the request's path:
 * one series per template keeps the label set bounded). Both are copied.
 * Registering the same pair again gives the same id. Call at startup, from
 * any thread. *id is >= 0, or -1 when m is NULL (FV_OK).
 * Errors: FV_E_INVALID (a bad method or route), FV_E_EXHAUSTED (more than
 * FV_METRICS_HTTP_ROUTES_MAX routes, out of memory); *id is then -1.
 */
fv_err fv_metrics_http_route(fv_metrics *m, const char *method, const char *route, int *id,
                             fv_error *err);

/*
 * Count one request on a registered route: flovyn_http_requests_total
 * {route, method, status} + 1 and flovyn_http_request_duration_seconds
 * {route, method} observes `seconds` (from the request's arrival to its
 * answer). `status` is the HTTP status sent: the usual codes each have their
 * own label value; any other code of 100..599 counts as its class ("4xx"),
 * anything else as "other". A negative or unknown id is ignored. Lock-free;
 * any thread.
 */
void fv_metrics_http_observe(fv_metrics *m, int route, int status, double seconds);

/* The same for a request that matched no route: route label "unmatched",
 * method folded into GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or
 * "other" (method may be NULL). */
void fv_metrics_http_observe_unmatched(fv_metrics *m, const char *method, int status,
                                       double seconds);

/* ---- gRPC ------------------------------------------------------------------- */

/*
 * The gRPC method table: paths[i] ("/flovyn.v1.WorkerLifecycle/SendHeartbeat")
 * becomes method index i, the index the gRPC machinery's observe hook
 * reports (the row of fv_grpc_server_config.methods). Copied. Call once,
 * before the gRPC server starts. Errors: FV_E_INVALID (called twice, a NULL
 * or non-UTF-8 path), FV_E_EXHAUSTED (n > FV_METRICS_GRPC_METHODS_MAX, out of
 * memory). m NULL: FV_OK.
 */
fv_err fv_metrics_grpc_methods(fv_metrics *m, const char *const *paths, size_t n, fv_error *err);

/*
 * Count one completed call: flovyn_grpc_calls_total{method, code} + 1 and
 * flovyn_grpc_call_duration_seconds{method} observes `seconds`. `method` is
 * an index of the table (anything else, FV_METRICS_GRPC_UNKNOWN included,
 * counts as method "unknown"); `code` a grpc_status_code 0..16, shown by
 * name ("OK", "NOT_FOUND"...; anything else counts as "UNKNOWN"). Lock-free.
 */
void fv_metrics_grpc_observe(fv_metrics *m, size_t method, int code, double seconds);

/* ---- Scheduler ----------------------------------------------------------------- */

/* Register a job by name ("activate"; copied, UTF-8); the same name again
 * gives the same id. *id >= 0, or -1 when m is NULL (FV_OK). Errors:
 * FV_E_INVALID, FV_E_EXHAUSTED (more than FV_METRICS_JOBS_MAX). */
fv_err fv_metrics_job(fv_metrics *m, const char *name, int *id, fv_error *err);

/* Count one run: flovyn_scheduler_job_runs_total{job, result="ok"|"error"}
 * + 1, flovyn_scheduler_job_changes_total{job} + changes (what the run
 * changed: transitions, availability changes, removals) and the run's
 * duration. A negative or unknown id is ignored. */
void fv_metrics_job_observe(fv_metrics *m, int job, bool ok, uint64_t changes, double seconds);

/* ---- Rendering ---------------------------------------------------------------- */

/*
 * The whole exposition (text format 0.0.4, FV_METRICS_CONTENT_TYPE) in `a`:
 * *n bytes at *text, NUL-terminated. Counts workers and definitions through
 * the core (one read of each repository). FV_OK, or FV_E_EXHAUSTED when the
 * arena is full (*text NULL). When counting fails (storage down), the
 * rendering still succeeds and flovyn_workers and flovyn_definitions carry no
 * samples. Thread-safe, concurrent renderings allowed. m NULL: an empty
 * text.
 */
fv_err fv_metrics_render(const fv_metrics *m, fv_arena *a, const char **text, size_t *n,
                         fv_error *err);

#endif
