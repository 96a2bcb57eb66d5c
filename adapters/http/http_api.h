/*
 * The REST API of this server (spec/rest-api.md) as one running HTTP server:
 * what app/ starts for `flovyn-server serve --http-listen HOST:PORT`.
 *
 *     fv_http_config hc = {.listen = cfg->http_listen, .version = FV_APP_VERSION,
 *                          .log = my_log, .log_user = me};
 *     fv_http_api *api = fv_http_api_new(&bundle.deps, &hc, &err);
 *     if (api == NULL) ... (err: FV_E_UNAVAILABLE = could not bind)
 *     log "http listening port=%d", fv_http_api_port(api)
 *     ... sigwait ...
 *     fv_http_api_stop(api);           (before the bundle is torn down)
 *     fv_http_api_free(api);
 *
 * Served now: GET /_/health (no auth) and the discovery routes under both
 * /api/tenants/{slug} and /api/orgs/{slug} (spec decision 2, one table): the
 * workers (list, get, heartbeats, status history, delete) and the workflow
 * and task definitions (list, get, PATCH configuration). Every tenant route
 * needs `Authorization: Bearer <key>` of that tenant: 401 (with
 * WWW-Authenticate) without a valid key, 404 for an unknown tenant slug, 403
 * for a key of another tenant or a role that may not do it (reads: any role;
 * DELETE and PATCH: operator or admin).
 *
 * Library lifetime: as http_server.h (json_object_seed(0) before the first
 * start; no ulfius global init is needed for serving).
 */
#ifndef FV_ADAPTERS_HTTP_HTTP_API_H
#define FV_ADAPTERS_HTTP_HTTP_API_H

#include <stdbool.h>
#include <stddef.h>

#include "adapters/http/http_server.h"
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
} fv_http_config;

/*
 * Build the route table and start serving on cfg->listen. `deps` is borrowed
 * and must outlive the server (stop the server before tearing the bundle
 * down); it must pass fv_deps_validate. cfg is borrowed for the duration of
 * the call, except `version` and `log_user`.
 *
 * Returns a running server, or NULL with err (optional) set to FV_E_INVALID
 * (bad configuration), FV_E_UNAVAILABLE (could not bind the address) or
 * FV_E_EXHAUSTED (out of memory or threads).
 */
fv_http_api *fv_http_api_new(const fv_deps *deps, const fv_http_config *cfg, fv_error *err);

/* The bound TCP port. */
int fv_http_api_port(const fv_http_api *api);

/* Stop serving (fv_http_server_stop: in-flight requests finish within the
 * grace period). Idempotent; never from a handler. */
void fv_http_api_stop(fv_http_api *api);

/* Stop if needed and release everything. NULL-safe. */
void fv_http_api_free(fv_http_api *api);

#endif
