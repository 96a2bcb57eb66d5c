/*
 * The REST API's route table and the plumbing every route with a key shares
 * (see http_api.h and http_api_int.h): one table of routes served under both
 * prefixes, the wrapper that authenticates and authorizes before any route
 * function runs, the operations routes, and small parameter helpers.
 */
#include "adapters/http/http_api.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "adapters/http/admin.h"
#include "adapters/http/discovery.h"
#include "adapters/http/http_api_int.h"
#include "adapters/http/openapi.h"
#include "core/queries/tenant_queries.h"
#include "core/queries/worker_queries.h"
#include "core/tenant.h"
#include "core/usecases/auth_usecases.h"
#include "core/util/alloc.h"

/* The two spellings of every route (spec decision 2): the collection, and
 * the capture of the tenant's slug after it (named as the spec names it, so
 * that the OpenAPI document and the metrics show the same templates). */
static const struct {
    const char *collection;
    const char *slug;
} prefixes[] = {
    {"/api/tenants", "{tenant_slug}"},
    {"/api/orgs", "{org_slug}"},
};
#define N_PREFIXES (sizeof prefixes / sizeof prefixes[0])

/* The operations routes (no key). */
#define N_OPERATIONS 3

/* Where the routes with a key come from (one entry per resource file). */
static const struct {
    const fv_http__tenant_route *rows;
    const size_t *n;
} route_sets[] = {
    {fv_http__discovery_routes, &fv_http__discovery_route_count},
    {fv_http__admin_routes, &fv_http__admin_route_count},
};

/* A route bound to this API: the user pointer of its two rows. */
typedef struct binding {
    const fv_http_api *api;
    const fv_http__tenant_route *def;
} binding;

struct fv_http_api {
    const fv_deps *deps;
    const char *version;
    binding *bindings;
    size_t n_bindings;
    fv_metrics *metrics;
    /* The metrics id of each route, by its index in the server's table. */
    int *metric_ids;
    size_t n_routes;
    fv_http_server *server;
};

/* ---- Tenants ----------------------------------------------------------- */

/* The tenant of the path's slug (under either spelling) into c->tenant and
 * c->tenant_record. */
static fv_err resolve_tenant(fv_http_ctx *c, fv_error *err)
{
    const char *slug = fv_http_req_param(c->req, "tenant_slug");
    if (slug == NULL)
        slug = fv_http_req_param(c->req, "org_slug");
    fv_err rc = fv_query_tenant_by_slug(c->deps, c->arena, slug, &c->tenant_record, err);
    if (rc == FV_OK)
        c->tenant = c->tenant_record.id;
    return rc;
}

/* Every route with a key: authenticate (401); for a tenant route resolve the
 * tenant (404) and check that the key is of this tenant (403); check that it
 * may do this (403), check the query parameters (400), then run the route. */
static fv_err keyed_route(fv_http_req *r, void *user, fv_error *err)
{
    const binding *b = user;
    fv_http_ctx c;
    memset(&c, 0, sizeof c);
    c.req = r;
    c.deps = b->api->deps;
    c.arena = fv_http_req_arena(r);
    fv_err rc =
        fv_authenticate(c.deps, c.arena, fv_http_req_header(r, "Authorization"), &c.who, err);
    if (rc == FV_OK && b->def->scope == FV_HTTP_SCOPE_TENANT) {
        rc = resolve_tenant(&c, err);
        if (rc == FV_OK)
            rc = fv_authorize_tenant(&c.who, &c.tenant, err);
    }
    if (rc == FV_OK)
        rc = fv_authorize_role(&c.who, b->def->roles, err);
    if (rc == FV_OK)
        rc = fv_http_req_query_check(r, b->def->query, err);
    if (rc != FV_OK)
        return rc;
    return b->def->fn(&c, err);
}

/* ---- Operations -------------------------------------------------------- */

/* GET /_/health: UP when storage answers a read, DOWN (503) otherwise. */
static fv_err health(fv_http_req *r, void *user, fv_error *err)
{
    const fv_http_api *api = user;
    fv_err rc = fv_http_req_query_check(r, NULL, err);
    if (rc != FV_OK)
        return rc;
    fv_error probe_err;
    fv_err probe = fv_query_storage_ready(api->deps, fv_http_req_arena(r), &probe_err);
    const char *version = api->version != NULL ? api->version : "unknown";
    if (probe == FV_OK)
        return fv_http_reply_json_take(r, 200,
                                       json_pack("{s:s, s:s}", "status", "UP", "version", version));
    return fv_http_reply_json_take(r, 503,
                                   json_pack("{s:s, s:s, s:s}", "status", "DOWN", "version",
                                             version, "reason", fv_err_name(probe)));
}

/* GET /_/metrics: the Prometheus text exposition of the metrics. */
static fv_err metrics(fv_http_req *r, void *user, fv_error *err)
{
    const fv_http_api *api = user;
    fv_err rc = fv_http_req_query_check(r, NULL, err);
    if (rc != FV_OK)
        return rc;
    if (api->metrics == NULL)
        return fv_error_set(err, FV_E_NOT_FOUND, "metrics are not enabled on this server");
    const char *text = NULL;
    size_t n = 0;
    rc = fv_metrics_render(api->metrics, fv_http_req_arena(r), &text, &n, err);
    if (rc != FV_OK)
        return rc;
    return fv_http_reply_body(r, 200, FV_METRICS_CONTENT_TYPE, text, n);
}

/* Every request, once answered, into the metrics (the server's observer). */
static void observe(void *user, size_t route, const char *method, int status, double seconds)
{
    const fv_http_api *api = user;
    if (route < api->n_routes)
        fv_metrics_http_observe(api->metrics, api->metric_ids[route], status, seconds);
    else
        fv_metrics_http_observe_unmatched(api->metrics, method, status, seconds);
}

/* Register every route of the table with the metrics, by index. */
static fv_err register_metrics(fv_http_api *api, const fv_http_route *routes, size_t n,
                               fv_error *err)
{
    api->metric_ids = fv_calloc(n == 0 ? 1 : n, sizeof *api->metric_ids);
    if (api->metric_ids == NULL)
        return fv_error_set(err, FV_E_EXHAUSTED, "out of memory registering the metrics");
    api->n_routes = n;
    for (size_t i = 0; i < n; i++) {
        fv_err rc = fv_metrics_http_route(api->metrics, routes[i].method, routes[i].pattern,
                                          &api->metric_ids[i], err);
        if (rc != FV_OK)
            return rc;
    }
    return FV_OK;
}

/* GET /api/docs/openapi.json: adapters/http/openapi.json as it is, embedded
 * at build time (openapi.h). */
static fv_err openapi_doc(fv_http_req *r, void *user, fv_error *err)
{
    (void)user;
    fv_err rc = fv_http_req_query_check(r, NULL, err);
    if (rc != FV_OK)
        return rc;
    return fv_http_reply_body(r, 200, "application/json", fv_http__openapi_json,
                              fv_http__openapi_json_len);
}

/* ---- Helpers for route functions --------------------------------------- */

fv_err fv_http__param_uuid(const fv_http_ctx *c, const char *name, const char *what, fv_uuid *out,
                           fv_error *err)
{
    const char *s = fv_http_req_param(c->req, name);
    if (s == NULL || !fv_uuid_parse(s, strlen(s), out))
        return fv_error_set(err, FV_E_INVALID, "%s \"%.40s\" is not a valid UUID", what,
                            s != NULL ? s : "");
    return FV_OK;
}

fv_err fv_http__query_space(const fv_http_ctx *c, bool any_allowed, fv_space_sel *out,
                            fv_error *err)
{
    memset(out, 0, sizeof *out);
    const char *s = fv_http_req_query(c->req, "space");
    if (s == NULL) {
        out->mode = any_allowed ? FV_SPACE_ANY : FV_SPACE_NONE;
        return FV_OK;
    }
    if (strcmp(s, "none") == 0) {
        out->mode = FV_SPACE_NONE;
        return FV_OK;
    }
    if (fv_uuid_parse(s, strlen(s), &out->id)) {
        out->mode = FV_SPACE_ID;
        return FV_OK;
    }
    return fv_error_set(err, FV_E_INVALID,
                        "space must be a space id (UUID) or \"none\" (the tenant level), not "
                        "\"%.40s\"",
                        s);
}

fv_err fv_http__query_page(const fv_http_ctx *c, fv_page *out, fv_error *err)
{
    fv_err rc = fv_http_req_query_int(c->req, "limit", FV_PAGE_DEFAULT_LIMIT, 1, FV_PAGE_MAX_LIMIT,
                                      &out->limit, err);
    if (rc == FV_OK)
        rc = fv_http_req_query_int(c->req, "offset", 0, 0, FV_PAGE_MAX_OFFSET, &out->offset, err);
    return rc;
}

fv_err fv_http__reply_list(fv_http_ctx *c, json_t *body, int64_t total)
{
    char n[24];
    snprintf(n, sizeof n, "%" PRId64, total);
    fv_err rc = fv_http_reply_json_take(c->req, 200, body);
    if (rc == FV_OK)
        rc = fv_http_reply_header(c->req, "X-Total-Count", n);
    return rc;
}

/* ---- Construction ------------------------------------------------------ */

fv_http_api *fv_http_api_new(const fv_deps *deps, const fv_http_config *cfg, fv_error *err)
{
    if (deps == NULL || cfg == NULL) {
        fv_error_set(err, FV_E_INVALID, "no bundle or no configuration");
        return NULL;
    }
    if (fv_deps_validate(deps, err) != FV_OK)
        return NULL;
    fv_http_api *api = fv_calloc(1, sizeof *api);
    size_t n_defs = 0;
    for (size_t s = 0; s < sizeof route_sets / sizeof route_sets[0]; s++)
        n_defs += *route_sets[s].n;
    size_t n_routes = N_OPERATIONS + n_defs * N_PREFIXES;
    fv_http_route *routes = fv_calloc(n_routes, sizeof *routes);
    char **patterns = fv_calloc(n_routes, sizeof *patterns);
    if (api != NULL)
        api->bindings = fv_calloc(n_defs == 0 ? 1 : n_defs, sizeof *api->bindings);
    if (api == NULL || routes == NULL || patterns == NULL || api->bindings == NULL) {
        fv_error_set(err, FV_E_EXHAUSTED, "out of memory building the routes");
        goto fail;
    }
    api->deps = deps;
    api->version = cfg->version;
    api->metrics = cfg->metrics;

    size_t n = 0;
    routes[n++] = (fv_http_route){"GET", "/_/health", health, api};
    routes[n++] = (fv_http_route){"GET", "/_/metrics", metrics, api};
    routes[n++] = (fv_http_route){"GET", "/api/docs/openapi.json", openapi_doc, api};
    for (size_t s = 0; s < sizeof route_sets / sizeof route_sets[0]; s++) {
        for (size_t i = 0; i < *route_sets[s].n; i++) {
            binding *b = &api->bindings[api->n_bindings++];
            b->api = api;
            b->def = &route_sets[s].rows[i];
            for (size_t p = 0; p < N_PREFIXES; p++) {
                bool tenant = b->def->scope == FV_HTTP_SCOPE_TENANT;
                const char *slug = tenant ? prefixes[p].slug : "";
                size_t len =
                    strlen(prefixes[p].collection) + 1 + strlen(slug) + strlen(b->def->pattern) + 1;
                patterns[n] = fv_malloc(len);
                if (patterns[n] == NULL) {
                    fv_error_set(err, FV_E_EXHAUSTED, "out of memory building the routes");
                    goto fail;
                }
                snprintf(patterns[n], len, "%s%s%s%s", prefixes[p].collection, tenant ? "/" : "",
                         slug, b->def->pattern);
                routes[n] = (fv_http_route){b->def->method, patterns[n], keyed_route, b};
                n++;
            }
        }
    }

    if (api->metrics != NULL && register_metrics(api, routes, n, err) != FV_OK)
        goto fail;

    fv_http_server_config sc;
    memset(&sc, 0, sizeof sc);
    sc.listen = cfg->listen;
    sc.threading = cfg->threading;
    sc.threads = cfg->threads;
    sc.max_body_bytes = cfg->max_body_bytes;
    sc.idle_timeout_s = cfg->idle_timeout_s;
    sc.max_connections = cfg->max_connections;
    sc.shutdown_grace_ms = cfg->shutdown_grace_ms;
    sc.arena_cap = cfg->arena_cap;
    sc.routes = routes;
    sc.n_routes = n;
    sc.log = cfg->log;
    sc.log_user = cfg->log_user;
    sc.log_requests = cfg->log_requests;
    if (api->metrics != NULL) {
        sc.observe = observe;
        sc.observe_user = api;
    }
    api->server = fv_http_server_new(&sc, err);
    if (api->server == NULL)
        goto fail;
    for (size_t i = 0; i < n_routes; i++)
        fv_free(patterns[i]);
    fv_free(patterns);
    fv_free(routes);
    return api;

fail:
    for (size_t i = 0; patterns != NULL && i < n_routes; i++)
        fv_free(patterns[i]);
    fv_free(patterns);
    fv_free(routes);
    if (api != NULL) {
        fv_free(api->bindings);
        fv_free(api->metric_ids);
    }
    fv_free(api);
    return NULL;
}

int fv_http_api_port(const fv_http_api *api)
{
    return fv_http_server_port(api->server);
}

bool fv_http_api_route(const fv_http_api *api, size_t i, const char **method, const char **pattern)
{
    return fv_http_server_route(api->server, i, method, pattern);
}

void fv_http_api_stop(fv_http_api *api)
{
    if (api != NULL)
        fv_http_server_stop(api->server);
}

void fv_http_api_free(fv_http_api *api)
{
    if (api == NULL)
        return;
    fv_http_server_free(api->server);
    fv_free(api->bindings);
    fv_free(api->metric_ids);
    fv_free(api);
}
