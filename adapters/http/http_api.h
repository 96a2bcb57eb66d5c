/*
 * The REST API of this server (spec/rest-api.md) as one running HTTP server:
 * what app/ starts for `flovyn-server serve --http-listen HOST:PORT`.
 *
 *     fv_http_config hc = {.listen = cfg->http_listen, .version = FV_APP_VERSION,
 *                          .log = my_log, .log_user = me, .metrics = metrics};
 *     fv_http_api *api = fv_http_api_new(&bundle.deps, &hc, &err);
 *     if (api == NULL) ... (err: FV_E_UNAVAILABLE = could not bind)
 *     log "http listening port=%d", fv_http_api_port(api)
 *     ... sigwait ...
 *     fv_http_api_stop(api);           (before the bundle is torn down)
 *     fv_http_api_free(api);
 *
 * Served: GET /_/health, GET /_/metrics (Prometheus text of the metrics
 * given in the configuration, 404 without) and GET /api/docs/openapi.json
 * (no key; the document is adapters/http/openapi.json, see openapi.h), the
 * discovery routes
 * under both /api/tenants/{tenant_slug} and /api/orgs/{org_slug} (spec
 * decision 2, one table): the workers (list, get, heartbeats, status
 * history, delete) and the workflow and task definitions (list, get, PATCH
 * configuration), and the admin routes: POST /api/tenants (and /api/orgs),
 * GET P, POST / GET P/api-keys, DELETE P/api-keys/{key_id}. Every route
 * under a tenant needs `Authorization: Bearer <key>` of that tenant: 401
 * (with WWW-Authenticate) without a valid key, 404 for an unknown tenant
 * slug, 403 for a key of another tenant or a role that may not do it (reads:
 * any role; DELETE and PATCH of discovery: operator or admin; tenants and
 * keys: admin). POST /api/tenants takes an admin key of any tenant.
 *
 * Library lifetime: as http_server.h (json_object_seed(0) before the first
 * start; no ulfius global init is needed for serving).
 */
#ifndef FV_ADAPTERS_HTTP_HTTP_API_H
#define FV_ADAPTERS_HTTP_HTTP_API_H

#include <stdbool.h>
#include <stddef.h>

#include "adapters/http/http_server.h"
#include "adapters/metrics/metrics.h"
#include "core/deps.h"
#include "core/util/error.h"

typedef struct fv_http_api fv_http_api;

/* Zero-initialise, then set what you need; 0 / NULL means the default of
 * http_server.h. */
typedef struct fv_http_config {
    /* "HOST:PORT" (port 0 picks a free one). Required. */
    const char *listen;
    fv_http_threading threading;
    int threads;
    size_t max_body_bytes;
    int idle_timeout_s;
    int max_connections;
    int shutdown_grace_ms;
    size_t arena_cap;
    /* Shown by GET /_/health; NULL = "unknown". Borrowed: must outlive the
     * server. */
    const char *version;
    /* Optional log sink (failures that are not the client's fault, with
     * their detail; libmicrohttpd errors; with log_requests one DEBUG line per
     * request). */
    fv_http_log_fn log;
    void *log_user;
    bool log_requests;
    /* Optional metrics (adapters/metrics/metrics.h): every request is
     * counted by route template, method and status with its duration (HEAD
     * under its GET route; requests no route matched under "unmatched"), and
     * GET /_/metrics renders them. NULL: nothing is counted and /_/metrics
     * answers 404. Borrowed: must outlive the server (free it after
     * fv_http_api_free). */
    fv_metrics *metrics;
} fv_http_config;

/*
 * Build the route table and start serving on cfg->listen. `deps` is borrowed
 * and must outlive the server (stop the server before tearing the bundle
 * down); it must pass fv_deps_validate. cfg is borrowed for the duration of
 * the call, except `version`, `log_user` and `metrics`.
 *
 * Returns a running server, or NULL with err (optional) set to FV_E_INVALID
 * (bad configuration), FV_E_UNAVAILABLE (could not bind the address) or
 * FV_E_EXHAUSTED (out of memory or threads).
 */
fv_http_api *fv_http_api_new(const fv_deps *deps, const fv_http_config *cfg, fv_error *err);

/* The bound TCP port. */
int fv_http_api_port(const fv_http_api *api);

/* The routes served, in table order: route i's method ("GET", ...) and
 * pattern ("/api/orgs/{org_slug}/workers/{worker_id}"), borrowed until
 * fv_http_api_free; false past the last. HEAD is served wherever GET is and
 * not listed. For tests and tools that check the OpenAPI document against
 * what is served. */
bool fv_http_api_route(const fv_http_api *api, size_t i, const char **method, const char **pattern);

/* Stop serving (fv_http_server_stop: in-flight requests finish within the
 * grace period). Idempotent; never from a handler. */
void fv_http_api_stop(fv_http_api *api);

/* Stop if needed and release everything. NULL-safe. */
void fv_http_api_free(fv_http_api *api);

#endif
