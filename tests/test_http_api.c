/*
 * The REST API (adapters/http/http_api.h) on the in-memory bundle with a fake
 * clock, through real HTTP requests (libcurl) to a server started in-process
 * on 127.0.0.1, port 0: every discovery and admin route under both prefixes,
 * the JSON shapes of spec/rest-api.md, authentication and roles, tenant
 * isolation by every route, every bad input of the spec (bad limit/offset,
 * unknown enum, malformed UUID, invalid JSON, wrong content type, oversized
 * body, unknown field, unknown route, wrong method), and the OpenAPI
 * document against the route table and the answers, and the metrics of
 * every request on /_/metrics.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "adapters/http/http_api.h"
#include "core/queries/tenant_queries.h"
#include "core/queries/worker_queries.h"
#include "core/usecases/auth_usecases.h"
#include "core/usecases/worker_usecases.h"
#include "core/util/alloc.h"
#include "tests/http/http_client.h"
#include "tests/support/cunit_main.h"
#include "tests/support/fixture.h"

#define MAX_BODY (64 * 1024)
#define T0_TEXT  "2026-01-01T00:00:00.000Z"

static fv_fixture fx;
static fv_uuid globex;
static fv_http_api *api;
static int port;
static fv_test_http_resp resp;
/* The next request is expected not to connect (do not report it). */
static bool expect_down;

/* "Bearer <key>" of each key the tests use. */
static const char *acme_worker, *acme_operator, *acme_admin, *globex_operator, *revoked;

/* ---------------------------------------------------------------------- */
/* Fixture                                                                */
/* ---------------------------------------------------------------------- */

static const char *issue(const fv_uuid *tenant, fv_role role, bool revoke)
{
    fv_issued_key k;
    fv_error err = {0};
    fv_err rc = fv_api_key_issue(&fx.deps, &fx.arena, tenant, role, "test key", &k, &err);
    if (rc != FV_OK)
        return NULL;
    if (revoke && fv_api_key_revoke(&fx.deps, tenant, &k.key.id, &err) != FV_OK)
        return NULL;
    return fv_arena_printf(&fx.arena, "Bearer %s", k.text);
}

static int setup(void)
{
    if (fv_fixture_init(&fx) != 0)
        return 1;
    if (fv_fixture_add_tenant(&fx, "globex", &globex) != FV_OK)
        return 1;
    acme_worker = issue(&fx.tenant, FV_ROLE_WORKER, false);
    acme_operator = issue(&fx.tenant, FV_ROLE_OPERATOR, false);
    acme_admin = issue(&fx.tenant, FV_ROLE_ADMIN, false);
    globex_operator = issue(&globex, FV_ROLE_OPERATOR, false);
    revoked = issue(&fx.tenant, FV_ROLE_OPERATOR, true);
    if (!acme_worker || !acme_operator || !acme_admin || !globex_operator || !revoked)
        return 1;
    fv_http_config c;
    memset(&c, 0, sizeof c);
    c.listen = "127.0.0.1:0";
    c.threads = 2;
    c.max_body_bytes = MAX_BODY;
    c.shutdown_grace_ms = 2000;
    c.version = "test-version";
    fv_error err = {0};
    api = fv_http_api_new(&fx.deps, &c, &err);
    if (api == NULL) {
        fprintf(stderr, "api: %s\n", err.msg);
        return 1;
    }
    port = fv_http_api_port(api);
    return 0;
}

static void teardown(void)
{
    fv_http_api_free(api);
    api = NULL;
    fv_test_http_resp_clear(&resp);
    fv_fixture_release(&fx);
}

/* ---------------------------------------------------------------------- */
/* Requests                                                               */
/* ---------------------------------------------------------------------- */

static long send_req(const char *method, const char *auth, const char *ctype, const char *body,
                     size_t body_n, const char *path)
{
    char url[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    fv_test_http_resp_clear(&resp);
    fv_test_http_req r = {method, url, auth, ctype, body, body_n, false, 0};
    long st = fv_test_http(&r, &resp);
    if (st == 0 && !expect_down)
        fprintf(stderr, "\n  %s %s: %s\n", method, path, resp.error);
    return st;
}

static long callv(const char *method, const char *auth, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static long callv(const char *method, const char *auth, const char *fmt, va_list ap)
{
    char path[1024];
    vsnprintf(path, sizeof path, fmt, ap);
    return send_req(method, auth, NULL, NULL, 0, path);
}

/* A request without a body; the path is a printf format. */
static long call(const char *method, const char *auth, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static long call(const char *method, const char *auth, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    long st = callv(method, auth, fmt, ap);
    va_end(ap);
    return st;
}

static long patch(const char *auth, const char *ctype, const char *body, const char *path)
{
    return send_req("PATCH", auth, ctype, body, body != NULL ? strlen(body) : 0, path);
}

static long post(const char *auth, const char *ctype, const char *body, const char *path)
{
    return send_req("POST", auth, ctype, body, body != NULL ? strlen(body) : 0, path);
}

static const char *str_at(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static const char *uuid_text(const fv_uuid *u)
{
    return fv_uuid_str(&fx.arena, u);
}

static const char *header(const char *name)
{
    static char buf[256];
    return fv_test_http_header(&resp, name, buf, sizeof buf);
}

/* The response is an error with this status, code, and a message that
 * contains `part` (NULL: any). */
static void assert_error_at(long status, const char *code, const char *part, int line)
{
    const char *got =
        json_string_value(json_object_get(json_object_get(resp.json, "error"), "code"));
    if (resp.status != status || got == NULL || strcmp(got, code) != 0) {
        fprintf(stderr, "\n  line %d: want %ld %s, got %ld %s\n", line, status, code, resp.status,
                resp.body != NULL ? resp.body : "");
        CU_FAIL("error answer");
        return;
    }
    const char *msg = str_at(json_object_get(resp.json, "error"), "message");
    if (msg == NULL || (part != NULL && strstr(msg, part) == NULL)) {
        fprintf(stderr, "\n  line %d: message \"%s\" lacks \"%s\"\n", line, msg ? msg : "(none)",
                part);
        CU_FAIL("error message");
    }
    FV_ASSERT_STR_EQ(header("Content-Type"), "application/json");
}

#define assert_error(status, code, part) assert_error_at((status), (code), (part), __LINE__)

/* The body equals the JSON text `want` (key order ignored). */
static void assert_json_at(const char *want, int line)
{
    json_error_t jerr;
    json_t *w = json_loads(want, 0, &jerr);
    if (w == NULL) {
        fprintf(stderr, "\n  line %d: bad expected JSON: %s\n", line, jerr.text);
        CU_FAIL("expected JSON");
        return;
    }
    if (resp.json == NULL || !json_equal(w, resp.json)) {
        fprintf(stderr, "\n  line %d:\n  want %s\n  got  %s\n", line, want,
                resp.body != NULL ? resp.body : "(none)");
        CU_FAIL("JSON body");
    }
    json_decref(w);
}

#define assert_json(want) assert_json_at((want), __LINE__)

/* ---------------------------------------------------------------------- */
/* Data                                                                   */
/* ---------------------------------------------------------------------- */

/* Register `name` in `tenant` with the fixture's defaults, edited by `edit`
 * (may be NULL). */
static fv_uuid reg(const fv_uuid *tenant, const char *name, size_t n_wf, size_t n_tasks,
                   void (*edit)(fv_fixture_req *r))
{
    fv_fixture_req r;
    CU_ASSERT_FATAL(fv_fixture_req_build(&fx.arena, tenant, name, n_wf, n_tasks, &r));
    if (edit != NULL)
        edit(&r);
    fv_uuid id;
    fv_register_result res;
    fv_error err = {0};
    fv_err rc = fv_worker_register(&fx.deps, &fx.arena, &r.req, &res, &err);
    if (rc != FV_OK)
        fprintf(stderr, "\n  register %s: %s\n", name, err.msg);
    CU_ASSERT_FATAL(rc == FV_OK);
    id = res.worker_id;
    return id;
}

static void with_metadata(fv_fixture_req *r)
{
    static const char md[] = "{\"zone\":\"eu\",\"n\":[1,2]}";
    r->req.metadata = (fv_json){md, sizeof md - 1};
}

static void bare(fv_fixture_req *r)
{
    r->req.worker_version = "";
    r->req.host_name = "";
    r->req.process_id = "";
}

/* ---------------------------------------------------------------------- */
/* Operations and the machinery                                           */
/* ---------------------------------------------------------------------- */

static void test_http_api__health(void)
{
    FV_ASSERT_INT_EQ(call("GET", NULL, "/_/health"), 200);
    assert_json("{\"status\":\"UP\",\"version\":\"test-version\"}");
    FV_ASSERT_INT_EQ(call("GET", "Bearer nonsense", "/_/health"), 200);
    call("GET", NULL, "/_/health?verbose=1");
    assert_error(400, "INVALID_ARGUMENT", "unknown query parameter \"verbose\"");
    call("POST", NULL, "/_/health");
    assert_error(405, "INVALID_ARGUMENT", "not allowed");
    FV_ASSERT_STR_EQ(header("Allow"), "GET, HEAD");
}

static void test_http_api__unknown_routes_and_methods(void)
{
    static const char *const paths[] = {
        "/",
        "/api",
        "/api/docs",
        "/api/tenants/acme/nothing",
        "/api/tenants/acme/workers/",
        "/api/teams/acme/workers",
        "/api/orgs/acme/workflow-definitions/a/b",
        "/api/tenants/acme/workers/x/heartbeats/y",
    };
    for (size_t i = 0; i < FV_TEST_COUNT(paths); i++) {
        call("GET", acme_operator, "%s", paths[i]);
        assert_error(404, "NOT_FOUND", "no route for GET");
    }
    call("PUT", acme_operator, "/api/tenants/acme/workers");
    assert_error(405, "INVALID_ARGUMENT", "method PUT is not allowed");
    FV_ASSERT_STR_EQ(header("Allow"), "GET, HEAD");
    call("POST", acme_operator, "/api/orgs/acme/workers/%s", uuid_text(&fx.tenant));
    assert_error(405, "INVALID_ARGUMENT", NULL);
    FV_ASSERT_STR_EQ(header("Allow"), "GET, HEAD, DELETE");
    call("GET", acme_operator, "/api/tenants/acme/workflow-definitions/wf-0/configuration");
    assert_error(405, "INVALID_ARGUMENT", NULL);
    FV_ASSERT_STR_EQ(header("Allow"), "PATCH");
    call("DELETE", acme_operator, "/api/tenants/acme/task-definitions/task-0");
    FV_ASSERT_STR_EQ(header("Allow"), "GET, HEAD");
    call("GET", acme_admin, "/api/tenants");
    assert_error(405, "INVALID_ARGUMENT", NULL);
    FV_ASSERT_STR_EQ(header("Allow"), "POST");
    call("DELETE", acme_admin, "/api/orgs/acme");
    FV_ASSERT_STR_EQ(header("Allow"), "GET, HEAD");
    call("PATCH", acme_admin, "/api/orgs/acme/api-keys");
    FV_ASSERT_STR_EQ(header("Allow"), "POST, GET, HEAD");
    call("GET", acme_admin, "/api/tenants/acme/api-keys/%s", uuid_text(&fx.tenant));
    FV_ASSERT_STR_EQ(header("Allow"), "DELETE");
    call("POST", NULL, "/api/docs/openapi.json");
    FV_ASSERT_STR_EQ(header("Allow"), "GET, HEAD");
    call("DELETE", NULL, "/_/metrics");
    FV_ASSERT_STR_EQ(header("Allow"), "GET, HEAD");
    /* 404 and 405 come before authentication: they say nothing about data. */
    call("PUT", NULL, "/api/tenants/acme/workers");
    assert_error(405, "INVALID_ARGUMENT", NULL);
    call("GET", NULL, "/api/tenants/acme/nothing");
    assert_error(404, "NOT_FOUND", NULL);
}

static void test_http_api__head(void)
{
    reg(&fx.tenant, "alpha", 1, 1, NULL);
    FV_ASSERT_INT_EQ(call("HEAD", acme_worker, "/api/tenants/acme/workers"), 200);
    FV_ASSERT_INT_EQ(resp.body_n, 0);
    FV_ASSERT_STR_EQ(header("X-Total-Count"), "1");
    FV_ASSERT_INT_EQ(call("HEAD", NULL, "/api/tenants/acme/workers"), 401);
}

static void test_http_api__new_errors(void)
{
    fv_http_config c;
    memset(&c, 0, sizeof c);
    fv_error err = {0};
    CU_ASSERT_PTR_NULL(fv_http_api_new(NULL, &c, &err));
    FV_ASSERT_INT_EQ(err.code, FV_E_INVALID);
    CU_ASSERT_PTR_NULL(fv_http_api_new(&fx.deps, NULL, &err));
    FV_ASSERT_INT_EQ(err.code, FV_E_INVALID);
    CU_ASSERT_PTR_NULL(fv_http_api_new(&fx.deps, &c, &err)); /* no listen address */
    FV_ASSERT_INT_EQ(err.code, FV_E_INVALID);
    char taken[64];
    snprintf(taken, sizeof taken, "127.0.0.1:%d", port);
    c.listen = taken;
    CU_ASSERT_PTR_NULL(fv_http_api_new(&fx.deps, &c, &err));
    FV_ASSERT_INT_EQ(err.code, FV_E_UNAVAILABLE);
    fv_deps broken = fx.deps;
    broken.hasher.ops = NULL;
    c.listen = "127.0.0.1:0";
    CU_ASSERT_PTR_NULL(fv_http_api_new(&broken, &c, &err));
    FV_ASSERT_INT_EQ(err.code, FV_E_INVALID);
    /* Stop, then free; stop twice. */
    fv_http_api_stop(api);
    fv_http_api_stop(api);
    expect_down = true;
    CU_ASSERT_EQUAL(send_req("GET", NULL, NULL, NULL, 0, "/_/health"), 0);
    expect_down = false;
}

/* ---------------------------------------------------------------------- */
/* Authentication, tenants, roles, isolation                              */
/* ---------------------------------------------------------------------- */

/* Every tenant route of the API, with {w} for an id (a worker's, or an API
 * key's), and whether only admins may use it. */
static const struct {
    const char *method;
    const char *path;
    bool admin;
} tenant_routes[] = {
    {"GET", "/workers", false},
    {"GET", "/workers/{w}", false},
    {"DELETE", "/workers/{w}", false},
    {"GET", "/workers/{w}/heartbeats", false},
    {"GET", "/workers/{w}/status-history", false},
    {"GET", "/workflow-definitions", false},
    {"GET", "/workflow-definitions/wf-0", false},
    {"PATCH", "/workflow-definitions/wf-0/configuration", false},
    {"GET", "/task-definitions", false},
    {"GET", "/task-definitions/task-0", false},
    {"PATCH", "/task-definitions/task-0/configuration", false},
    {"GET", "", true},
    {"GET", "/api-keys", true},
    {"POST", "/api-keys", true},
    {"DELETE", "/api-keys/{w}", true},
};

static const char *const prefixes[] = {"/api/tenants/", "/api/orgs/"};

/* prefix + slug + route path with {w} replaced, in the fixture's arena. */
static const char *route_path(size_t prefix, const char *slug, size_t route, const fv_uuid *w)
{
    const char *p = tenant_routes[route].path;
    const char *brace = strstr(p, "{w}");
    if (brace == NULL)
        return fv_arena_printf(&fx.arena, "%s%s%s", prefixes[prefix], slug, p);
    return fv_arena_printf(&fx.arena, "%s%s%.*s%s%s", prefixes[prefix], slug, (int)(brace - p), p,
                           uuid_text(w), brace + 3);
}

static long route_call(size_t prefix, const char *slug, size_t route, const fv_uuid *w,
                       const char *auth)
{
    const char *path = route_path(prefix, slug, route, w);
    if (strcmp(tenant_routes[route].method, "PATCH") == 0)
        return patch(auth, "application/json", "{}", path);
    if (strcmp(tenant_routes[route].method, "POST") == 0)
        return post(auth, "application/json", "{\"role\":\"worker\",\"name\":\"k\"}", path);
    return send_req(tenant_routes[route].method, auth, NULL, NULL, 0, path);
}

static void test_http_api__auth_on_every_route(void)
{
    fv_uuid w = reg(&fx.tenant, "alpha", 1, 1, NULL);
    static const char *const bad_auth[] = {
        NULL,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer flovyn_sk_0123456789abcdef_short",
        "Bearer flovyn_wk_test_abc",
        "Token abc",
    };
    for (size_t p = 0; p < FV_TEST_COUNT(prefixes); p++) {
        for (size_t r = 0; r < FV_TEST_COUNT(tenant_routes); r++) {
            for (size_t a = 0; a < FV_TEST_COUNT(bad_auth); a++) {
                route_call(p, "acme", r, &w, bad_auth[a]);
                assert_error(401, "UNAUTHENTICATED", NULL);
                FV_ASSERT_STR_EQ(header("WWW-Authenticate"), "Bearer realm=\"flovyn\"");
            }
            route_call(p, "acme", r, &w, revoked);
            assert_error(401, "UNAUTHENTICATED", NULL);
        }
    }
    /* A wrong secret with a real prefix. */
    char *forged = fv_arena_strdup(&fx.arena, acme_operator);
    size_t n = strlen(forged);
    forged[n - 2] = forged[n - 2] == 'A' ? 'B' : 'A';
    call("GET", forged, "/api/tenants/acme/workers");
    assert_error(401, "UNAUTHENTICATED", NULL);
    /* Authentication comes before input checks. */
    call("GET", NULL, "/api/tenants/acme/workers?limit=abc");
    assert_error(401, "UNAUTHENTICATED", NULL);
    call("GET", NULL, "/api/tenants/acme/workers/not-a-uuid");
    assert_error(401, "UNAUTHENTICATED", NULL);
    call("GET", NULL, "/api/tenants/nope/workers");
    assert_error(401, "UNAUTHENTICATED", NULL);
    /* The scheme is case-insensitive. */
    const char *lower = fv_arena_printf(&fx.arena, "bearer %s", acme_operator + 7);
    FV_ASSERT_INT_EQ(call("GET", lower, "/api/tenants/acme/workers"), 200);
}

static void test_http_api__unknown_tenant_is_404(void)
{
    static const char *const slugs[] = {"nope", "ACME", "acme%20", "a_b", "x%2Fy"};
    for (size_t i = 0; i < FV_TEST_COUNT(slugs); i++) {
        for (size_t p = 0; p < FV_TEST_COUNT(prefixes); p++) {
            call("GET", acme_operator, "%s%s/workers", prefixes[p], slugs[i]);
            assert_error(404, "NOT_FOUND", "tenant \"");
        }
    }
    call("GET", acme_operator, "/api/tenants/nope/workers");
    assert_error(404, "NOT_FOUND", "tenant \"nope\" not found");
}

static void test_http_api__roles(void)
{
    fv_uuid w = reg(&fx.tenant, "alpha", 1, 1, NULL);
    const char *const readers[] = {acme_worker, acme_operator, acme_admin};
    for (size_t k = 0; k < FV_TEST_COUNT(readers); k++) {
        for (size_t r = 0; r < FV_TEST_COUNT(tenant_routes); r++) {
            if (strcmp(tenant_routes[r].method, "GET") != 0 || tenant_routes[r].admin)
                continue;
            FV_ASSERT_INT_EQ(route_call(0, "acme", r, &w, readers[k]), 200);
        }
    }
    /* Operator actions refuse the worker role; admin routes every role but
     * admin, under both prefixes. */
    for (size_t r = 0; r < FV_TEST_COUNT(tenant_routes); r++) {
        if (strcmp(tenant_routes[r].method, "GET") == 0 && !tenant_routes[r].admin)
            continue;
        route_call(1, "acme", r, &w, acme_worker);
        assert_error(403, "PERMISSION_DENIED", "role \"worker\" may not do this");
        if (!tenant_routes[r].admin)
            continue;
        for (size_t p = 0; p < FV_TEST_COUNT(prefixes); p++) {
            route_call(p, "acme", r, &w, acme_operator);
            assert_error(403, "PERMISSION_DENIED", "role \"operator\" may not do this");
        }
    }
    post(acme_operator, "application/json", "{\"slug\":\"x\",\"name\":\"x\"}", "/api/tenants");
    assert_error(403, "PERMISSION_DENIED", "role \"operator\" may not do this");
    post(acme_worker, "application/json", "{\"slug\":\"x\",\"name\":\"x\"}", "/api/orgs");
    assert_error(403, "PERMISSION_DENIED", "role \"worker\" may not do this");
    FV_ASSERT_INT_EQ(patch(acme_admin, "application/json", "{}",
                           "/api/tenants/acme/workflow-definitions/wf-0/configuration"),
                     200);
    FV_ASSERT_INT_EQ(call("DELETE", acme_admin, "/api/tenants/acme/workers/%s", uuid_text(&w)),
                     204);
}

static void test_http_api__tenant_isolation(void)
{
    fv_uuid mine = reg(&fx.tenant, "acme-w", 1, 1, NULL);
    fv_uuid theirs = reg(&globex, "globex-w", 2, 2, with_metadata);
    /* Kinds only globex has. */
    reg(&globex, "globex-only", 0, 0, NULL);
    fv_error err = {0};
    char *before = fv_fixture_dump(&fx, &fx.arena, &globex, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(before);

    /* A key of acme on globex's paths: 403 on every route, any role, both
     * prefixes, whatever the worker id. */
    const char *const acme_keys[] = {acme_worker, acme_operator, acme_admin};
    for (size_t k = 0; k < FV_TEST_COUNT(acme_keys); k++) {
        for (size_t p = 0; p < FV_TEST_COUNT(prefixes); p++) {
            for (size_t r = 0; r < FV_TEST_COUNT(tenant_routes); r++) {
                route_call(p, "globex", r, &theirs, acme_keys[k]);
                assert_error(403, "PERMISSION_DENIED", "api key does not belong to this tenant");
                route_call(p, "globex", r, &mine, acme_keys[k]);
                assert_error(403, "PERMISSION_DENIED", NULL);
            }
        }
    }
    /* globex's worker through acme's own paths does not exist. */
    for (size_t p = 0; p < FV_TEST_COUNT(prefixes); p++) {
        for (size_t r = 0; r < FV_TEST_COUNT(tenant_routes); r++) {
            if (strstr(tenant_routes[r].path, "{w}") == NULL)
                continue;
            route_call(p, "acme", r, &theirs, acme_admin);
            assert_error(404, "NOT_FOUND", NULL);
        }
    }
    /* Lists of acme show acme's only. */
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "/api/tenants/acme/workers?limit=100"), 200);
    FV_ASSERT_INT_EQ(json_array_size(resp.json), 1);
    FV_ASSERT_STR_EQ(str_at(json_array_get(resp.json, 0), "name"), "acme-w");
    FV_ASSERT_STR_EQ(header("X-Total-Count"), "1");
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "/api/tenants/acme/workflow-definitions"), 200);
    FV_ASSERT_INT_EQ(json_array_size(resp.json), 1);
    FV_ASSERT_STR_EQ(header("X-Total-Count"), "1");
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "/api/tenants/acme/task-definitions"), 200);
    FV_ASSERT_INT_EQ(json_array_size(resp.json), 1);
    /* wf-1 and task-1 are globex's only: unknown here. */
    call("GET", acme_operator, "/api/tenants/acme/workflow-definitions/wf-1");
    assert_error(404, "NOT_FOUND", NULL);
    call("GET", acme_operator, "/api/tenants/acme/task-definitions/task-1");
    assert_error(404, "NOT_FOUND", NULL);
    patch(acme_operator, "application/json", "{\"timeoutSeconds\":5}",
          "/api/tenants/acme/workflow-definitions/wf-1/configuration");
    assert_error(404, "NOT_FOUND", NULL);
    /* wf-0 exists in both: acme's PATCH changes acme's only. */
    FV_ASSERT_INT_EQ(patch(acme_operator, "application/json", "{\"timeoutSeconds\":5}",
                           "/api/tenants/acme/workflow-definitions/wf-0/configuration"),
                     200);

    char *after = fv_fixture_dump(&fx, &fx.arena, &globex, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(after);
    FV_ASSERT_STR_EQ(after, before);

    /* And globex's key sees its own, not acme's. */
    FV_ASSERT_INT_EQ(call("GET", globex_operator, "/api/orgs/globex/workers"), 200);
    FV_ASSERT_STR_EQ(header("X-Total-Count"), "2");
    FV_ASSERT_INT_EQ(call("GET", globex_operator, "/api/orgs/globex/workflow-definitions/wf-0"),
                     200);
    CU_ASSERT_TRUE(json_is_null(
        json_object_get(json_object_get(resp.json, "configuration"), "timeoutSeconds")));
    call("GET", globex_operator, "/api/tenants/acme/workers/%s", uuid_text(&mine));
    assert_error(403, "PERMISSION_DENIED", NULL);
}

/* ---------------------------------------------------------------------- */
/* Workers                                                                */
/* ---------------------------------------------------------------------- */

static void test_http_api__worker_shape(void)
{
    fv_uuid a = reg(&fx.tenant, "alpha", 2, 1, with_metadata);
    fv_fixture_advance(&fx, 1500);
    fv_uuid b = reg(&fx.tenant, "beta", 0, 0, bare);
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "/api/tenants/acme/workers"), 200);
    FV_ASSERT_STR_EQ(header("X-Total-Count"), "2");
    FV_ASSERT_STR_EQ(header("Content-Type"), "application/json");
    char *want = fv_arena_printf(
        &fx.arena,
        "[{\"id\":\"%s\",\"name\":\"alpha\",\"type\":\"UNIFIED\",\"status\":\"ONLINE\","
        "\"version\":\"1.0.0\",\"hostName\":\"host-a\",\"processId\":\"1\",\"spaceId\":null,"
        "\"registeredAt\":\"" T0_TEXT "\",\"lastHeartbeatAt\":\"" T0_TEXT "\","
        "\"lastSeenAt\":\"" T0_TEXT "\",\"metadata\":{\"zone\":\"eu\",\"n\":[1,2]},"
        "\"workflowKinds\":2,\"taskKinds\":1},"
        "{\"id\":\"%s\",\"name\":\"beta\",\"type\":\"UNIFIED\",\"status\":\"ONLINE\","
        "\"version\":null,\"hostName\":null,\"processId\":null,\"spaceId\":null,"
        "\"registeredAt\":\"2026-01-01T00:00:01.500Z\","
        "\"lastHeartbeatAt\":\"2026-01-01T00:00:01.500Z\","
        "\"lastSeenAt\":\"2026-01-01T00:00:01.500Z\",\"metadata\":null,"
        "\"workflowKinds\":0,\"taskKinds\":0}]",
        uuid_text(&a), uuid_text(&b));
    assert_json(want);
    /* The same under the other prefix, byte for byte. */
    char *body = fv_arena_strdup(&fx.arena, resp.body);
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "/api/orgs/acme/workers"), 200);
    FV_ASSERT_STR_EQ(resp.body, body);
}

static void as_type(fv_fixture_req *r, const char *type, const char *version)
{
    r->req.worker_type = type;
    r->req.worker_version = version;
}

static void type_workflow(fv_fixture_req *r)
{
    as_type(r, "WORKFLOW", "1.0.0");
}

static void type_task(fv_fixture_req *r)
{
    as_type(r, "TASK", "2.0.0");
}

static fv_uuid blue;

static void in_blue(fv_fixture_req *r)
{
    r->req.space = (fv_opt_uuid){true, blue};
}

/* The names of the workers in the response, comma-separated. */
static const char *names(void)
{
    char *s = fv_arena_strdup(&fx.arena, "");
    for (size_t i = 0; i < json_array_size(resp.json); i++)
        s = fv_arena_printf(&fx.arena, "%s%s%s", s, i > 0 ? "," : "",
                            str_at(json_array_get(resp.json, i), "name"));
    return s;
}

static void test_http_api__list_workers_filters_and_pages(void)
{
    CU_ASSERT_FATAL(fv_fixture_add_space(&fx, &fx.tenant, "blue", &blue) == FV_OK);
    fv_uuid w1 = reg(&fx.tenant, "w1", 1, 0, type_workflow);
    fv_uuid w2 = reg(&fx.tenant, "w2", 0, 1, type_task);
    reg(&fx.tenant, "w3", 1, 1, NULL);
    reg(&fx.tenant, "w4", 0, 1, type_task);
    fv_uuid w5 = reg(&fx.tenant, "w5", 1, 1, in_blue);
    /* 50 s later w1 and w2 heartbeat; the others go DEGRADED (45 s), then
     * OFFLINE after 61 s of silence. */
    fv_fixture_advance(&fx, 50000);
    CU_ASSERT_FATAL(fv_fixture_heartbeat(&fx, &fx.tenant, &w1) == FV_OK);
    CU_ASSERT_FATAL(fv_fixture_heartbeat(&fx, &fx.tenant, &w2) == FV_OK);
    const char *P = "/api/tenants/acme/workers";

    FV_ASSERT_INT_EQ(call("GET", acme_operator, "%s?status=DEGRADED", P), 200);
    FV_ASSERT_STR_EQ(names(), "w3,w4,w5");
    fv_fixture_advance(&fx, 11000);
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "%s?status=OFFLINE", P), 200);
    FV_ASSERT_STR_EQ(names(), "w3,w4,w5");
    FV_ASSERT_STR_EQ(header("X-Total-Count"), "3");
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "%s?status=ONLINE", P), 200);
    FV_ASSERT_STR_EQ(names(), "w1,w2");
    FV_ASSERT_STR_EQ(str_at(json_array_get(resp.json, 0), "status"), "ONLINE");
    FV_ASSERT_STR_EQ(str_at(json_array_get(resp.json, 0), "lastHeartbeatAt"),
                     "2026-01-01T00:00:50.000Z");
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "%s?type=TASK", P), 200);
    FV_ASSERT_STR_EQ(names(), "w2,w4");
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "%s?type=TASK&status=ONLINE", P), 200);
    FV_ASSERT_STR_EQ(names(), "w2");
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "%s?type=WORKFLOW", P), 200);
    FV_ASSERT_STR_EQ(names(), "w1");
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "%s?space=%s", P, uuid_text(&blue)), 200);
    FV_ASSERT_STR_EQ(names(), "w5");
    FV_ASSERT_STR_EQ(str_at(json_array_get(resp.json, 0), "spaceId"), uuid_text(&blue));
    FV_ASSERT_STR_EQ(str_at(json_array_get(resp.json, 0), "id"), uuid_text(&w5));
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "%s?space=none", P), 200);
    FV_ASSERT_STR_EQ(names(), "w1,w2,w3,w4");
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "%s?space=%s", P, uuid_text(&globex)), 200);
    FV_ASSERT_STR_EQ(names(), "");
    FV_ASSERT_STR_EQ(header("X-Total-Count"), "0");
    /* Pages: the total counts every match. */
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "%s?limit=2", P), 200);
    FV_ASSERT_STR_EQ(names(), "w1,w2");
    FV_ASSERT_STR_EQ(header("X-Total-Count"), "5");
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "%s?limit=2&offset=2", P), 200);
    FV_ASSERT_STR_EQ(names(), "w3,w4");
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "%s?offset=4&limit=100", P), 200);
    FV_ASSERT_STR_EQ(names(), "w5");
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "%s?offset=1000000000", P), 200);
    FV_ASSERT_STR_EQ(names(), "");
    FV_ASSERT_STR_EQ(header("X-Total-Count"), "5");
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "%s?limit=1&offset=1&type=UNIFIED&space=none", P),
                     200);
    FV_ASSERT_STR_EQ(names(), "");
    FV_ASSERT_STR_EQ(header("X-Total-Count"), "1");
}

/* Every bad input of the discovery routes: status 400 and a message naming
 * the parameter. */
static void test_http_api__bad_inputs_are_400(void)
{
    fv_uuid w = reg(&fx.tenant, "alpha", 1, 1, NULL);
    const char *W = uuid_text(&w);
    const struct {
        const char *path;
        const char *message;
    } bad[] = {
        {"/workers?limit=0", "limit must be between 1 and 100, not 0"},
        {"/workers?limit=101", "limit must be between 1 and 100, not 101"},
        {"/workers?limit=-1", "limit must be between 1 and 100, not -1"},
        {"/workers?limit=abc", "limit must be an integer, not \"abc\""},
        {"/workers?limit=", "limit must be an integer"},
        {"/workers?limit=10.0", "limit must be an integer"},
        {"/workers?limit=1e2", "limit must be an integer"},
        {"/workers?limit=%2010", "limit must be an integer"},
        {"/workers?limit=1&limit=2", "query parameter \"limit\" is given more than once"},
        {"/workers?offset=-1", "offset must be between 0 and 1000000000, not -1"},
        {"/workers?offset=1000000001", "offset must be between 0"},
        {"/workers?offset=x", "offset must be an integer"},
        {"/workers?offset=99999999999999999999", "offset must be between 0"},
        {"/workers?type=FOO", "type must be WORKFLOW, TASK or UNIFIED, not \"FOO\""},
        {"/workers?type=workflow", "type must be WORKFLOW, TASK or UNIFIED"},
        {"/workers?type=", "type must be"},
        {"/workers?status=BUSY", "status must be ONLINE, DEGRADED or OFFLINE, not \"BUSY\""},
        {"/workers?status=online", "status must be ONLINE"},
        {"/workers?space=blue", "space must be a space id (UUID) or \"none\""},
        {"/workers?space=", "space must be"},
        {"/workers?foo=1", "unknown query parameter \"foo\" (accepted: type, status, space, "
                           "limit, offset)"},
        {"/workers?Limit=5", "unknown query parameter \"Limit\""},
        {"/workers?limit=%ZZ", "malformed percent-encoding"},
        {"/workers/not-a-uuid", "worker id \"not-a-uuid\" is not a valid UUID"},
        {"/workers/12345678-1234-1234-1234-12345678901", "is not a valid UUID"},
        {"/workers/%7B12345678-1234-1234-1234-123456789012%7D", "is not a valid UUID"},
        {"/workers/not-a-uuid/heartbeats", "worker id \"not-a-uuid\" is not a valid UUID"},
        {"/workers/not-a-uuid/status-history", "is not a valid UUID"},
        {"/workflow-definitions?availabilityStatus=GONE",
         "availabilityStatus must be AVAILABLE, DEGRADED or UNAVAILABLE, not \"GONE\""},
        {"/workflow-definitions?availabilityStatus=available", "availabilityStatus must be"},
        {"/workflow-definitions?tag=", "tag"},
        {"/workflow-definitions?limit=0", "limit must be between 1 and 100"},
        {"/workflow-definitions?offset=-5", "offset must be between 0"},
        {"/workflow-definitions?space=x", "space must be"},
        {"/workflow-definitions?availability=AVAILABLE", "unknown query parameter"},
        {"/workflow-definitions/wf-0?space=x", "space must be"},
        {"/workflow-definitions/wf-0?limit=1", "unknown query parameter \"limit\""},
        {"/task-definitions?availabilityStatus=x", "availabilityStatus must be"},
        {"/task-definitions?limit=1000", "limit must be between 1 and 100"},
        {"/task-definitions?type=TASK", "unknown query parameter \"type\""},
        {"/task-definitions/task-0?x=1", "unknown query parameter \"x\""},
    };
    for (size_t i = 0; i < FV_TEST_COUNT(bad); i++) {
        for (size_t p = 0; p < FV_TEST_COUNT(prefixes); p++) {
            call("GET", acme_operator, "%sacme%s", prefixes[p], bad[i].path);
            assert_error(400, "INVALID_ARGUMENT", bad[i].message);
        }
    }
    const struct {
        const char *suffix; /* after /workers/<id> */
        const char *message;
    } bad_w[] = {
        {"?x=1", "unknown query parameter \"x\" (this route takes none)"},
        {"/heartbeats?limit=0", "limit must be between 1 and 1000, not 0"},
        {"/heartbeats?limit=1001", "limit must be between 1 and 1000, not 1001"},
        {"/heartbeats?offset=1", "unknown query parameter \"offset\""},
        {"/status-history?limit=x", "limit must be an integer"},
        {"/status-history?limit=2000", "limit must be between 1 and 1000"},
    };
    for (size_t i = 0; i < FV_TEST_COUNT(bad_w); i++) {
        call("GET", acme_operator, "/api/tenants/acme/workers/%s%s", W, bad_w[i].suffix);
        assert_error(400, "INVALID_ARGUMENT", bad_w[i].message);
    }
    call("DELETE", acme_operator, "/api/tenants/acme/workers/nope");
    assert_error(400, "INVALID_ARGUMENT", "worker id \"nope\" is not a valid UUID");
    call("DELETE", acme_operator, "/api/tenants/acme/workers/%s?force=1", W);
    assert_error(400, "INVALID_ARGUMENT", "unknown query parameter \"force\"");
    /* Nothing was deleted. */
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "/api/tenants/acme/workers/%s", W), 200);
}

static void test_http_api__worker_detail(void)
{
    fv_uuid w = reg(&fx.tenant, "alpha", 2, 1, NULL);
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "/api/tenants/acme/workflow-definitions/wf-0"),
                     200);
    const char *wf0 = fv_arena_strdup(&fx.arena, str_at(resp.json, "id"));
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "/api/tenants/acme/workflow-definitions/wf-1"),
                     200);
    const char *wf1 = fv_arena_strdup(&fx.arena, str_at(resp.json, "id"));
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "/api/tenants/acme/task-definitions/task-0"), 200);
    const char *t0 = fv_arena_strdup(&fx.arena, str_at(resp.json, "id"));

    FV_ASSERT_INT_EQ(call("GET", acme_worker, "/api/tenants/acme/workers/%s", uuid_text(&w)), 200);
    char *want =
        fv_arena_printf(&fx.arena,
                        "{\"worker\":{\"id\":\"%s\",\"name\":\"alpha\",\"type\":\"UNIFIED\","
                        "\"status\":\"ONLINE\",\"version\":\"1.0.0\",\"hostName\":\"host-a\","
                        "\"processId\":\"1\",\"spaceId\":null,\"registeredAt\":\"" T0_TEXT "\","
                        "\"lastHeartbeatAt\":\"" T0_TEXT "\",\"lastSeenAt\":\"" T0_TEXT "\","
                        "\"metadata\":null,\"workflowKinds\":2,\"taskKinds\":1},"
                        "\"workflowCapabilities\":["
                        "{\"id\":\"%s\",\"kind\":\"wf-0\",\"name\":\"wf-0\",\"version\":\"1.0.0\","
                        "\"contentHash\":\"hash-1\",\"registeredAt\":\"" T0_TEXT "\"},"
                        "{\"id\":\"%s\",\"kind\":\"wf-1\",\"name\":\"wf-1\",\"version\":\"1.0.0\","
                        "\"contentHash\":\"hash-1\",\"registeredAt\":\"" T0_TEXT "\"}],"
                        "\"taskCapabilities\":["
                        "{\"id\":\"%s\",\"kind\":\"task-0\",\"name\":\"task-0\","
                        "\"registeredAt\":\"" T0_TEXT "\"}]}",
                        uuid_text(&w), wf0, wf1, t0);
    assert_json(want);
    /* Upper-case hex is the same id. */
    char upper[FV_UUID_STR_LEN + 1];
    snprintf(upper, sizeof upper, "%s", uuid_text(&w));
    for (char *c = upper; *c != '\0'; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 'a' + 'A');
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "/api/orgs/acme/workers/%s", upper), 200);
    /* A well-formed id nobody has. */
    call("GET", acme_worker, "/api/tenants/acme/workers/00000000-0000-0000-0000-000000000042");
    assert_error(404, "NOT_FOUND", NULL);
}

static void test_http_api__heartbeats_and_status_history(void)
{
    fv_uuid w = reg(&fx.tenant, "alpha", 1, 0, NULL);
    static const char health[] = "{\"status\":\"DEGRADED\",\"cpu\":0.5}";
    fv_fixture_advance(&fx, 1000);
    fv_heartbeat_request hb = {.tenant_id = fx.tenant,
                               .worker_id = w,
                               .health_info = {health, sizeof health - 1},
                               .health_degraded = true};
    CU_ASSERT_FATAL(fv_worker_heartbeat(&fx.deps, &hb, NULL) == FV_OK);
    fv_fixture_advance(&fx, 1000);
    CU_ASSERT_FATAL(fv_fixture_heartbeat(&fx, &fx.tenant, &w) == FV_OK);

    const char *W = uuid_text(&w);
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "/api/tenants/acme/workers/%s/heartbeats", W), 200);
    CU_ASSERT_TRUE(json_array_size(resp.json) >= 2);
    json_t *first = json_array_get(resp.json, 0), *second = json_array_get(resp.json, 1);
    FV_ASSERT_STR_EQ(str_at(first, "at"), "2026-01-01T00:00:02.000Z");
    CU_ASSERT_TRUE(json_is_null(json_object_get(first, "healthInfo")));
    FV_ASSERT_INT_EQ(json_object_size(first), 2);
    FV_ASSERT_STR_EQ(str_at(second, "at"), "2026-01-01T00:00:01.000Z");
    json_t *want = json_loads(health, 0, NULL);
    CU_ASSERT_TRUE(json_equal(json_object_get(second, "healthInfo"), want));
    json_decref(want);
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "/api/orgs/acme/workers/%s/heartbeats?limit=1", W),
                     200);
    FV_ASSERT_INT_EQ(json_array_size(resp.json), 1);
    FV_ASSERT_STR_EQ(str_at(json_array_get(resp.json, 0), "at"), "2026-01-01T00:00:02.000Z");

    fv_error err = {0};
    fv_fixture_advance(&fx, 1000);
    CU_ASSERT_FATAL(fv_worker_set_status(&fx.deps, &fx.arena, &fx.tenant, &w, FV_STATUS_OFFLINE,
                                         "maintenance", &err) == FV_OK);
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "/api/tenants/acme/workers/%s/status-history", W),
                     200);
    CU_ASSERT_TRUE(json_array_size(resp.json) >= 1);
    first = json_array_get(resp.json, 0);
    FV_ASSERT_STR_EQ(str_at(first, "at"), "2026-01-01T00:00:03.000Z");
    FV_ASSERT_STR_EQ(str_at(first, "from"), "ONLINE");
    FV_ASSERT_STR_EQ(str_at(first, "to"), "OFFLINE");
    FV_ASSERT_STR_EQ(str_at(first, "reason"), "operator: maintenance");
    FV_ASSERT_INT_EQ(json_object_size(first), 4);
    FV_ASSERT_INT_EQ(
        call("GET", acme_worker, "/api/tenants/acme/workers/%s/status-history?limit=1", W), 200);
    FV_ASSERT_INT_EQ(json_array_size(resp.json), 1);
    /* The operator's status holds in reads until the worker shows life. */
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "/api/tenants/acme/workers/%s", W), 200);
    FV_ASSERT_STR_EQ(str_at(json_object_get(resp.json, "worker"), "status"), "OFFLINE");

    const char *nobody = "00000000-0000-0000-0000-000000000042";
    call("GET", acme_worker, "/api/tenants/acme/workers/%s/heartbeats", nobody);
    assert_error(404, "NOT_FOUND", NULL);
    call("GET", acme_worker, "/api/tenants/acme/workers/%s/status-history", nobody);
    assert_error(404, "NOT_FOUND", NULL);
}

static void test_http_api__delete_worker(void)
{
    fv_uuid w = reg(&fx.tenant, "alpha", 1, 1, NULL);
    fv_uuid other = reg(&fx.tenant, "beta", 1, 1, NULL);
    const char *W = uuid_text(&w);
    call("DELETE", acme_worker, "/api/tenants/acme/workers/%s", W);
    assert_error(403, "PERMISSION_DENIED", "role \"worker\" may not do this");
    FV_ASSERT_INT_EQ(call("DELETE", acme_operator, "/api/tenants/acme/workers/%s", W), 204);
    FV_ASSERT_INT_EQ(resp.body_n, 0);
    call("GET", acme_operator, "/api/tenants/acme/workers/%s", W);
    assert_error(404, "NOT_FOUND", NULL);
    call("DELETE", acme_operator, "/api/orgs/acme/workers/%s", W);
    assert_error(404, "NOT_FOUND", NULL);
    call("GET", acme_operator, "/api/tenants/acme/workers/%s/heartbeats", W);
    assert_error(404, "NOT_FOUND", NULL);
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "/api/tenants/acme/workflow-definitions/wf-0"),
                     200);
    FV_ASSERT_INT_EQ(json_integer_value(json_object_get(resp.json, "workerCount")), 1);
    FV_ASSERT_INT_EQ(call("DELETE", acme_admin, "/api/orgs/acme/workers/%s", uuid_text(&other)),
                     204);
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "/api/tenants/acme/workflow-definitions/wf-0"),
                     200);
    FV_ASSERT_INT_EQ(json_integer_value(json_object_get(resp.json, "workerCount")), 0);
    FV_ASSERT_STR_EQ(str_at(resp.json, "availabilityStatus"), "UNAVAILABLE");
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "/api/tenants/acme/workers"), 200);
    FV_ASSERT_STR_EQ(header("X-Total-Count"), "0");
}

/* ---------------------------------------------------------------------- */
/* Definitions                                                            */
/* ---------------------------------------------------------------------- */

static const char *const order_tags[] = {"billing"};

static void order_v1(fv_fixture_req *r)
{
    fv_capability *c = &r->workflows[0];
    c->kind = "order";
    c->name = "Order Processing";
    c->description = "Processes orders";
    c->version = "1.0.0";
    c->has_timeout = true;
    c->timeout_seconds = 30;
    c->has_retry_policy = true;
    c->retry_policy = (fv_retry_policy){.set = FV_RETRY_HAS_MAX_RETRIES, .max_retries = 3};
    c->tags = (fv_tags){order_tags, 1};
    c->cancellable = true;
    static const char schema[] = "{\"type\":\"object\"}";
    c->input_schema = (fv_json){schema, sizeof schema - 1};
    fv_capability *t = &r->tasks[0];
    t->kind = "send email/v2";
    t->name = "Send Email";
}

static void order_v2(fv_fixture_req *r)
{
    order_v1(r);
    r->workflows[0].version = "1.10.0";
    r->workflows[0].content_hash = "hash-2";
    r->req.worker_version = "2.0.0";
}

static void test_http_api__definitions(void)
{
    fv_uuid w1 = reg(&fx.tenant, "w1", 1, 1, order_v1);
    fv_fixture_advance(&fx, 2000);
    fv_uuid w2 = reg(&fx.tenant, "w2", 1, 1, order_v2);

    FV_ASSERT_INT_EQ(call("GET", acme_worker, "/api/tenants/acme/workflow-definitions"), 200);
    FV_ASSERT_STR_EQ(header("X-Total-Count"), "1");
    const char *id = fv_arena_strdup(&fx.arena, str_at(json_array_get(resp.json, 0), "id"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    char *list_want = fv_arena_printf(
        &fx.arena,
        "[{\"id\":\"%s\",\"kind\":\"order\",\"name\":\"Order Processing\","
        "\"description\":\"Processes orders\",\"spaceId\":null,\"timeoutSeconds\":30,"
        "\"retryPolicy\":{\"maxRetries\":3},\"tags\":[\"billing\"],\"cancellable\":true,"
        "\"configuration\":{\"timeoutSeconds\":null,\"retryPolicy\":null,\"tags\":null},"
        "\"availabilityStatus\":\"AVAILABLE\",\"workerCount\":2,"
        "\"firstSeenAt\":\"" T0_TEXT "\",\"lastRegisteredAt\":\"2026-01-01T00:00:02.000Z\","
        "\"metadata\":null,\"inputSchema\":{\"type\":\"object\"},\"outputSchema\":null,"
        "\"latestVersion\":\"1.10.0\"}]",
        id);
    assert_json(list_want);

    FV_ASSERT_INT_EQ(call("GET", acme_worker, "/api/orgs/acme/workflow-definitions/order"), 200);
    char *detail_want = fv_arena_printf(
        &fx.arena,
        "{\"id\":\"%s\",\"kind\":\"order\",\"name\":\"Order Processing\","
        "\"description\":\"Processes orders\",\"spaceId\":null,\"timeoutSeconds\":30,"
        "\"retryPolicy\":{\"maxRetries\":3},\"tags\":[\"billing\"],\"cancellable\":true,"
        "\"configuration\":{\"timeoutSeconds\":null,\"retryPolicy\":null,\"tags\":null},"
        "\"availabilityStatus\":\"AVAILABLE\",\"workerCount\":2,"
        "\"firstSeenAt\":\"" T0_TEXT "\",\"lastRegisteredAt\":\"2026-01-01T00:00:02.000Z\","
        "\"metadata\":null,\"inputSchema\":{\"type\":\"object\"},\"outputSchema\":null,"
        "\"latestVersion\":\"1.10.0\","
        "\"workers\":[{\"id\":\"%s\",\"name\":\"w1\",\"status\":\"ONLINE\",\"version\":\"1.0.0\"},"
        "{\"id\":\"%s\",\"name\":\"w2\",\"status\":\"ONLINE\",\"version\":\"2.0.0\"}],"
        "\"versions\":[\"1.10.0\",\"1.0.0\"]}",
        id, uuid_text(&w1), uuid_text(&w2));
    assert_json(detail_want);

    /* Task definitions: no latestVersion, no versions; kinds that need
     * percent-encoding in a path. */
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "/api/tenants/acme/task-definitions"), 200);
    json_t *t = json_array_get(resp.json, 0);
    FV_ASSERT_STR_EQ(str_at(t, "kind"), "send email/v2");
    CU_ASSERT_PTR_NULL(json_object_get(t, "latestVersion"));
    CU_ASSERT_TRUE(json_is_array(json_object_get(t, "tags")));
    FV_ASSERT_INT_EQ(json_array_size(json_object_get(t, "tags")), 0);
    CU_ASSERT_TRUE(json_is_null(json_object_get(t, "timeoutSeconds")));
    CU_ASSERT_TRUE(json_is_null(json_object_get(t, "retryPolicy")));
    CU_ASSERT_TRUE(json_is_false(json_object_get(t, "cancellable")));
    /* The backlog of a bundle without task executions: 0 and null. */
    FV_ASSERT_INT_EQ(json_integer_value(json_object_get(t, "pendingTasks")), 0);
    CU_ASSERT_TRUE(json_is_null(json_object_get(t, "oldestPendingAt")));
    FV_ASSERT_INT_EQ(json_object_size(t), 19);
    FV_ASSERT_INT_EQ(
        call("GET", acme_worker, "/api/tenants/acme/task-definitions/send%%20email%%2Fv2"), 200);
    FV_ASSERT_STR_EQ(str_at(resp.json, "name"), "Send Email");
    FV_ASSERT_INT_EQ(json_array_size(json_object_get(resp.json, "workers")), 2);
    CU_ASSERT_PTR_NULL(json_object_get(resp.json, "versions"));
    call("GET", acme_worker, "/api/tenants/acme/task-definitions/send%%20email");
    assert_error(404, "NOT_FOUND", NULL);
    call("GET", acme_worker, "/api/tenants/acme/workflow-definitions/nope");
    assert_error(404, "NOT_FOUND", NULL);
    call("GET", acme_worker, "/api/tenants/acme/workflow-definitions/order?space=%s",
         uuid_text(&globex));
    assert_error(404, "NOT_FOUND", NULL);
    FV_ASSERT_INT_EQ(
        call("GET", acme_worker, "/api/tenants/acme/workflow-definitions/order?space=none"), 200);

    /* Filters. */
    const char *P = "/api/tenants/acme/workflow-definitions";
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "%s?availabilityStatus=AVAILABLE", P), 200);
    FV_ASSERT_INT_EQ(json_array_size(resp.json), 1);
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "%s?availabilityStatus=UNAVAILABLE", P), 200);
    FV_ASSERT_INT_EQ(json_array_size(resp.json), 0);
    FV_ASSERT_STR_EQ(header("X-Total-Count"), "0");
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "%s?tag=billing", P), 200);
    FV_ASSERT_INT_EQ(json_array_size(resp.json), 1);
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "%s?tag=other", P), 200);
    FV_ASSERT_INT_EQ(json_array_size(resp.json), 0);
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "%s?space=none&limit=1&offset=0", P), 200);
    FV_ASSERT_INT_EQ(json_array_size(resp.json), 1);
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "%s?offset=1", P), 200);
    FV_ASSERT_INT_EQ(json_array_size(resp.json), 0);
    FV_ASSERT_STR_EQ(header("X-Total-Count"), "1");

    /* Silence: DEGRADED after 45 s, UNAVAILABLE and no live worker after
     * 60 s (read-time effective statuses, no job run). */
    fv_fixture_advance(&fx, 50000);
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "%s/order", P), 200);
    FV_ASSERT_STR_EQ(str_at(resp.json, "availabilityStatus"), "DEGRADED");
    FV_ASSERT_STR_EQ(str_at(json_array_get(json_object_get(resp.json, "workers"), 0), "status"),
                     "DEGRADED");
    fv_fixture_advance(&fx, 11000);
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "%s/order", P), 200);
    FV_ASSERT_STR_EQ(str_at(resp.json, "availabilityStatus"), "UNAVAILABLE");
    FV_ASSERT_INT_EQ(json_integer_value(json_object_get(resp.json, "workerCount")), 0);
    FV_ASSERT_INT_EQ(json_array_size(json_object_get(resp.json, "workers")), 0);
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "%s?availabilityStatus=UNAVAILABLE", P), 200);
    FV_ASSERT_INT_EQ(json_array_size(resp.json), 1);
}

static const char *const WF_CONFIG = "/api/tenants/acme/workflow-definitions/order/configuration";

static void test_http_api__patch_configuration(void)
{
    reg(&fx.tenant, "w1", 1, 1, order_v1);
    FV_ASSERT_INT_EQ(
        patch(acme_operator, "application/json",
              "{\"timeoutSeconds\":120,\"retryPolicy\":{\"maxRetries\":5,\"initialDelayMs\":1000,"
              "\"backoffCoefficient\":2.5,\"maxDelayMs\":60000},\"tags\":[\"x\",\"y\"]}",
              WF_CONFIG),
        200);
    FV_ASSERT_INT_EQ(json_integer_value(json_object_get(resp.json, "timeoutSeconds")), 120);
    const char *policy = "{\"maxRetries\":5,\"initialDelayMs\":1000,\"backoffCoefficient\":2.5,"
                         "\"maxDelayMs\":60000}";
    json_t *want = json_loads(policy, 0, NULL);
    CU_ASSERT_TRUE(json_equal(json_object_get(resp.json, "retryPolicy"), want));
    json_t *cfg = json_object_get(resp.json, "configuration");
    CU_ASSERT_TRUE(json_equal(json_object_get(cfg, "retryPolicy"), want));
    json_decref(want);
    FV_ASSERT_INT_EQ(json_integer_value(json_object_get(cfg, "timeoutSeconds")), 120);
    FV_ASSERT_INT_EQ(json_array_size(json_object_get(resp.json, "tags")), 2);
    FV_ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(cfg, "tags"), 1)), "y");
    FV_ASSERT_INT_EQ(json_object_size(resp.json), 18);

    /* null removes one override; the others stay. */
    FV_ASSERT_INT_EQ(patch(acme_operator, "application/json; charset=utf-8",
                           "{\"timeoutSeconds\":null}", WF_CONFIG),
                     200);
    FV_ASSERT_INT_EQ(json_integer_value(json_object_get(resp.json, "timeoutSeconds")), 30);
    cfg = json_object_get(resp.json, "configuration");
    CU_ASSERT_TRUE(json_is_null(json_object_get(cfg, "timeoutSeconds")));
    FV_ASSERT_INT_EQ(json_array_size(json_object_get(cfg, "tags")), 2);

    /* snake_case spellings; an empty tag list is an override too. */
    FV_ASSERT_INT_EQ(patch(acme_admin, "application/json",
                           "{\"timeout_seconds\":60,\"retry_policy\":{\"max_retries\":1},"
                           "\"tags\":[]}",
                           "/api/orgs/acme/workflow-definitions/order/configuration"),
                     200);
    FV_ASSERT_INT_EQ(json_integer_value(json_object_get(resp.json, "timeoutSeconds")), 60);
    FV_ASSERT_INT_EQ(json_array_size(json_object_get(resp.json, "tags")), 0);
    cfg = json_object_get(resp.json, "configuration");
    FV_ASSERT_INT_EQ(json_array_size(json_object_get(cfg, "tags")), 0);
    CU_ASSERT_TRUE(json_is_array(json_object_get(cfg, "tags")));

    /* {} changes nothing; the overrides survive a new registration. */
    FV_ASSERT_INT_EQ(patch(acme_operator, "application/json", "{}", WF_CONFIG), 200);
    FV_ASSERT_INT_EQ(json_integer_value(json_object_get(resp.json, "timeoutSeconds")), 60);
    fv_fixture_advance(&fx, 1000);
    reg(&fx.tenant, "w1", 1, 1, order_v1);
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "/api/tenants/acme/workflow-definitions/order"),
                     200);
    FV_ASSERT_INT_EQ(json_integer_value(json_object_get(resp.json, "timeoutSeconds")), 60);
    FV_ASSERT_INT_EQ(json_integer_value(
                         json_object_get(json_object_get(resp.json, "retryPolicy"), "maxRetries")),
                     1);

    /* Clearing everything gives the declared values back. */
    FV_ASSERT_INT_EQ(patch(acme_operator, "application/json",
                           "{\"timeoutSeconds\":null,\"retryPolicy\":null,\"tags\":null}",
                           WF_CONFIG),
                     200);
    FV_ASSERT_INT_EQ(json_integer_value(json_object_get(resp.json, "timeoutSeconds")), 30);
    FV_ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(resp.json, "tags"), 0)),
                     "billing");

    /* Task definitions the same way. */
    FV_ASSERT_INT_EQ(patch(acme_operator, "application/json", "{\"timeoutSeconds\":15}",
                           "/api/tenants/acme/task-definitions/send%20email%2Fv2/configuration"),
                     200);
    FV_ASSERT_INT_EQ(json_integer_value(json_object_get(resp.json, "timeoutSeconds")), 15);
    CU_ASSERT_PTR_NULL(json_object_get(resp.json, "latestVersion"));
}

static void test_http_api__patch_bad_inputs(void)
{
    reg(&fx.tenant, "w1", 1, 1, order_v1);
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "/api/tenants/acme/workflow-definitions/order"),
                     200);
    char *before = fv_arena_strdup(&fx.arena, resp.body);

    patch(acme_operator, NULL, "{}", WF_CONFIG);
    assert_error(415, "INVALID_ARGUMENT", "Content-Type must be application/json");
    patch(acme_operator, "text/plain", "{}", WF_CONFIG);
    assert_error(415, "INVALID_ARGUMENT", "not \"text/plain\"");
    patch(acme_operator, "application/x-www-form-urlencoded", "timeoutSeconds=5", WF_CONFIG);
    assert_error(415, "INVALID_ARGUMENT", NULL);

    char *fifty_one = fv_arena_strdup(&fx.arena, "{\"tags\":[");
    for (int i = 0; i < 51; i++)
        fifty_one = fv_arena_printf(&fx.arena, "%s%s\"t%d\"", fifty_one, i > 0 ? "," : "", i);
    fifty_one = fv_arena_printf(&fx.arena, "%s]}", fifty_one);
    const struct {
        const char *body;
        const char *message;
    } bad[] = {
        {"", "request body is empty"},
        {"{", "request body is not valid JSON"},
        {"{\"timeoutSeconds\":}", "request body is not valid JSON"},
        {"[]", "request body must be a JSON object"},
        {"null", "request body must be a JSON object"},
        {"{\"tags\":[],\"tags\":[]}", "request body is not valid JSON"},
        {"{\"foo\":1}", "unknown field \"foo\" (expected timeoutSeconds, retryPolicy, tags)"},
        {"{\"timeoutSeconds\":5,\"foo\":1,\"bar\":2}", "unknown fields \"foo\", \"bar\""},
        {"{\"TimeoutSeconds\":5}", "unknown field \"TimeoutSeconds\""},
        {"{\"timeoutSeconds\":\"60\"}", "timeoutSeconds must be an integer or null"},
        {"{\"timeoutSeconds\":1.5}", "timeoutSeconds must be an integer or null"},
        {"{\"timeoutSeconds\":true}", "timeoutSeconds must be an integer or null"},
        {"{\"timeout_seconds\":[]}", "timeout_seconds must be an integer or null"},
        {"{\"timeoutSeconds\":0}", "timeoutSeconds"},
        {"{\"timeoutSeconds\":-5}", "timeoutSeconds"},
        {"{\"timeoutSeconds\":31536001}", "timeoutSeconds"},
        {"{\"timeoutSeconds\":5,\"timeout_seconds\":5}", "\"timeoutSeconds\" is given twice"},
        {"{\"retryPolicy\":[1]}", "retryPolicy must be a JSON object"},
        {"{\"retryPolicy\":5}", "retryPolicy must be a JSON object"},
        {"{\"retryPolicy\":{\"bogus\":1}}", "retryPolicy has an unknown field \"bogus\""},
        {"{\"retryPolicy\":{\"maxRetries\":11}}", "maxRetries"},
        {"{\"retryPolicy\":{\"maxRetries\":-1}}", "maxRetries"},
        {"{\"retryPolicy\":{\"maxRetries\":\"3\"}}", "retryPolicy.maxRetries must be an integer"},
        {"{\"retryPolicy\":{\"initialDelayMs\":5000,\"maxDelayMs\":1000}}", "maxDelayMs"},
        {"{\"retryPolicy\":{\"backoffCoefficient\":0.5}}", "backoffCoefficient"},
        {"{\"retry_policy\":{\"maxRetries\":1,\"max_retries\":1}}", "twice"},
        {"{\"tags\":\"a\"}", "tags must be an array of strings or null"},
        {"{\"tags\":{}}", "tags must be an array of strings or null"},
        {"{\"tags\":[1]}", "tags[0] must be a string"},
        {"{\"tags\":[\"a\",null]}", "tags[1] must be a string"},
        {"{\"tags\":[\"\"]}", "tags"},
        {fifty_one, "tags"},
    };
    for (size_t i = 0; i < FV_TEST_COUNT(bad); i++) {
        patch(acme_operator, "application/json", bad[i].body, WF_CONFIG);
        assert_error(400, "INVALID_ARGUMENT", bad[i].message);
    }
    /* Over the body limit, with a valid object. */
    char *big = fv_arena_alloc(&fx.arena, MAX_BODY + 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    memset(big, ' ', MAX_BODY + 1);
    big[0] = '{';
    big[MAX_BODY] = '}';
    big[MAX_BODY + 1] = '\0';
    patch(acme_operator, "application/json", big, WF_CONFIG);
    assert_error(413, "RESOURCE_EXHAUSTED", "request body is larger than 65536 bytes");
    /* Exactly at the limit is fine. */
    big[MAX_BODY - 1] = '}';
    big[MAX_BODY] = '\0';
    FV_ASSERT_INT_EQ(patch(acme_operator, "application/json", big, WF_CONFIG), 200);
    /* Unknown kinds, bad space. */
    patch(acme_operator, "application/json", "{\"timeoutSeconds\":5}",
          "/api/tenants/acme/workflow-definitions/nope/configuration");
    assert_error(404, "NOT_FOUND", NULL);
    patch(acme_operator, "application/json", "{\"timeoutSeconds\":5}",
          "/api/tenants/acme/task-definitions/order/configuration");
    assert_error(404, "NOT_FOUND", NULL);
    patch(acme_operator, "application/json", "{}",
          "/api/tenants/acme/workflow-definitions/order/configuration?space=mars");
    assert_error(400, "INVALID_ARGUMENT", "space must be");
    /* Wrong role before any body check. */
    patch(acme_worker, "text/plain", "nonsense", WF_CONFIG);
    assert_error(403, "PERMISSION_DENIED", NULL);

    /* Nothing changed. */
    FV_ASSERT_INT_EQ(call("GET", acme_operator, "/api/tenants/acme/workflow-definitions/order"),
                     200);
    FV_ASSERT_STR_EQ(resp.body, before);
}

/* ---------------------------------------------------------------------- */
/* Concurrency                                                            */
/* ---------------------------------------------------------------------- */

typedef struct reader {
    const char *auth;
    int ok;
} reader;

static void *read_thread(void *arg)
{
    reader *r = arg;
    static const char *const paths[] = {
        "/api/tenants/acme/workers?limit=10",
        "/api/orgs/acme/workflow-definitions",
        "/api/tenants/acme/task-definitions/task-0",
        "/api/orgs/acme/workflow-definitions/wf-0",
    };
    for (int i = 0; i < 40; i++) {
        char url[256];
        snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, paths[i % 4]);
        fv_test_http_resp out;
        fv_test_http_req q = {"GET", url, r->auth, NULL, NULL, 0, false, 0};
        if (fv_test_http(&q, &out) == 200 && out.json != NULL)
            r->ok++;
        fv_test_http_resp_clear(&out);
    }
    return NULL;
}

static void test_http_api__concurrent_reads(void)
{
    for (int i = 0; i < 20; i++) {
        char name[16];
        snprintf(name, sizeof name, "w%02d", i);
        reg(&fx.tenant, name, 2, 2, NULL);
    }
    pthread_t t[6];
    reader r[6];
    for (int i = 0; i < 6; i++) {
        r[i].auth = i % 2 ? acme_worker : acme_operator;
        r[i].ok = 0;
        CU_ASSERT_FATAL(pthread_create(&t[i], NULL, read_thread, &r[i]) == 0);
    }
    /* Writes while they read. */
    for (int i = 0; i < 20; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"timeoutSeconds\":%d}", i + 1);
        FV_ASSERT_INT_EQ(patch(acme_operator, "application/json", body,
                               "/api/tenants/acme/workflow-definitions/wf-1/configuration"),
                         200);
    }
    int ok = 0;
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        ok += r[i].ok;
    }
    FV_ASSERT_INT_EQ(ok, 6 * 40);
}

/* ---------------------------------------------------------------------- */
/* Tenants and keys                                                       */
/* ---------------------------------------------------------------------- */

/* The object's member names, sorted, comma-separated. */
static const char *members(const json_t *o)
{
    const char *names[64];
    size_t n = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)o, key, v)
    {
        if (n < FV_TEST_COUNT(names))
            names[n++] = key;
    }
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && strcmp(names[k - 1], names[k]) > 0; k--) {
            const char *t = names[k];
            names[k] = names[k - 1];
            names[k - 1] = t;
        }
    char *s = fv_arena_strdup(&fx.arena, "");
    for (size_t i = 0; i < n; i++)
        s = fv_arena_printf(&fx.arena, "%s%s%s", s, i > 0 ? "," : "", names[i]);
    return s;
}

/* "Bearer <key>" of an ApiKeyCreated in the response (at `o`). */
static const char *bearer_of(const json_t *o)
{
    return fv_arena_printf(&fx.arena, "Bearer %s", str_at(o, "key"));
}

static void test_http_api__create_tenant(void)
{
    FV_ASSERT_INT_EQ(post(acme_admin, "application/json",
                          "{\"slug\":\"initech\",\"name\":\"Initech Corp.\"}", "/api/tenants"),
                     201);
    FV_ASSERT_STR_EQ(header("Content-Type"), "application/json");
    FV_ASSERT_STR_EQ(members(resp.json), "adminKey,createdAt,id,name,slug");
    FV_ASSERT_STR_EQ(str_at(resp.json, "slug"), "initech");
    FV_ASSERT_STR_EQ(str_at(resp.json, "name"), "Initech Corp.");
    FV_ASSERT_STR_EQ(str_at(resp.json, "createdAt"), T0_TEXT);
    const char *id = fv_arena_strdup(&fx.arena, str_at(resp.json, "id"));
    json_t *k = json_object_get(resp.json, "adminKey");
    FV_ASSERT_STR_EQ(members(k), "createdAt,id,key,name,prefix,revokedAt,role");
    FV_ASSERT_STR_EQ(str_at(k, "role"), "admin");
    FV_ASSERT_STR_EQ(str_at(k, "name"), "initial admin key");
    CU_ASSERT_TRUE(json_is_null(json_object_get(k, "revokedAt")));
    const char *text = str_at(k, "key");
    CU_ASSERT_TRUE_FATAL(text != NULL && strncmp(text, "flovyn_sk_", 10) == 0);
    FV_ASSERT_INT_EQ(strlen(text), FV_API_KEY_TEXT_LEN);
    CU_ASSERT_TRUE(strncmp(text + 10, str_at(k, "prefix"), 16) == 0);
    const char *initech_admin = bearer_of(k);

    /* The new tenant's key administers it, under both prefixes. */
    FV_ASSERT_INT_EQ(call("GET", initech_admin, "/api/tenants/initech"), 200);
    FV_ASSERT_STR_EQ(str_at(resp.json, "id"), id);
    FV_ASSERT_STR_EQ(members(resp.json), "createdAt,id,name,slug");
    FV_ASSERT_INT_EQ(call("GET", initech_admin, "/api/orgs/initech/api-keys"), 200);
    FV_ASSERT_INT_EQ(json_array_size(resp.json), 1);
    FV_ASSERT_INT_EQ(call("GET", initech_admin, "/api/orgs/initech/workers"), 200);
    FV_ASSERT_STR_EQ(header("X-Total-Count"), "0");
    /* The creator's key gains nothing there; the new key nothing elsewhere. */
    call("GET", acme_admin, "/api/tenants/initech");
    assert_error(403, "PERMISSION_DENIED", "api key does not belong to this tenant");
    call("GET", initech_admin, "/api/tenants/acme/workers");
    assert_error(403, "PERMISSION_DENIED", NULL);

    /* Through the other collection, and by the new tenant's admin. */
    FV_ASSERT_INT_EQ(post(initech_admin, "application/json; charset=utf-8",
                          "{\"name\":\"Hooli\",\"slug\":\"hooli\"}", "/api/orgs"),
                     201);
    FV_ASSERT_STR_EQ(str_at(resp.json, "slug"), "hooli");
    /* A taken slug: 409, and the tenant is unchanged. */
    post(acme_admin, "application/json", "{\"slug\":\"initech\",\"name\":\"Other\"}",
         "/api/tenants");
    assert_error(409, "ALREADY_EXISTS", "tenant \"initech\" already exists");
    post(acme_admin, "application/json", "{\"slug\":\"acme\",\"name\":\"Other\"}", "/api/orgs");
    assert_error(409, "ALREADY_EXISTS", NULL);
    FV_ASSERT_INT_EQ(call("GET", initech_admin, "/api/tenants/initech"), 200);
    FV_ASSERT_STR_EQ(str_at(resp.json, "name"), "Initech Corp.");

    /* Keys that may not. */
    post(NULL, "application/json", "{\"slug\":\"x\",\"name\":\"x\"}", "/api/tenants");
    assert_error(401, "UNAUTHENTICATED", NULL);
    post(revoked, "application/json", "{\"slug\":\"x\",\"name\":\"x\"}", "/api/tenants");
    assert_error(401, "UNAUTHENTICATED", NULL);
    post(acme_admin, "application/json", "{\"slug\":\"x\",\"name\":\"x\"}", "/api/tenants?x=1");
    assert_error(400, "INVALID_ARGUMENT", "unknown query parameter \"x\"");
}

static void test_http_api__create_tenant_bad_inputs(void)
{
    char *long_name = fv_arena_alloc(&fx.arena, 300);
    CU_ASSERT_PTR_NOT_NULL_FATAL(long_name);
    memcpy(long_name, "{\"slug\":\"t\",\"name\":\"", 20);
    memset(long_name + 20, 'n', 256);
    memcpy(long_name + 276, "\"}", 3);
    const struct {
        const char *body;
        const char *message;
    } bad[] = {
        {"", "request body is empty"},
        {"{", "request body is not valid JSON"},
        {"[]", "request body must be a JSON object"},
        {"\"initech\"", "request body must be a JSON object"},
        {"{}", "slug is required"},
        {"{\"slug\":\"t\"}", "name is required"},
        {"{\"name\":\"t\"}", "slug is required"},
        {"{\"slug\":1,\"name\":\"t\"}", "slug must be a string"},
        {"{\"slug\":null,\"name\":\"t\"}", "slug must be a string"},
        {"{\"slug\":\"t\",\"name\":[\"t\"]}", "name must be a string"},
        {"{\"slug\":\"t\",\"name\":\"t\",\"id\":\"x\"}",
         "unknown field \"id\" (expected slug, name)"},
        {"{\"Slug\":\"t\",\"name\":\"t\"}", "unknown field \"Slug\""},
        {"{\"slug\":\"t\",\"slug\":\"u\",\"name\":\"t\"}", "request body is not valid JSON"},
        {"{\"slug\":\"\",\"name\":\"t\"}", "tenant slug"},
        {"{\"slug\":\"Init Tech\",\"name\":\"t\"}", "tenant slug"},
        {"{\"slug\":\"a_b\",\"name\":\"t\"}", "tenant slug"},
        {"{\"slug\":\"t\",\"name\":\"\"}", "tenant name"},
        {"{\"slug\":\"t\",\"name\":\"a\\u0000b\"}", "request body is not valid JSON"},
        {"{\"slug\":\"t\",\"name\":\"a\\u0001b\"}", "tenant name"},
        {long_name, "tenant name"},
    };
    for (size_t i = 0; i < FV_TEST_COUNT(bad); i++) {
        post(acme_admin, "application/json", bad[i].body, i % 2 ? "/api/orgs" : "/api/tenants");
        assert_error(400, "INVALID_ARGUMENT", bad[i].message);
    }
    post(acme_admin, NULL, "{\"slug\":\"t\",\"name\":\"t\"}", "/api/tenants");
    assert_error(415, "INVALID_ARGUMENT", "Content-Type must be application/json");
    post(acme_admin, "text/plain", "{\"slug\":\"t\",\"name\":\"t\"}", "/api/tenants");
    assert_error(415, "INVALID_ARGUMENT", NULL);
    char *big = fv_arena_alloc(&fx.arena, MAX_BODY + 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    memset(big, ' ', MAX_BODY + 1);
    big[0] = '{';
    big[MAX_BODY] = '}';
    big[MAX_BODY + 1] = '\0';
    post(acme_admin, "application/json", big, "/api/tenants");
    assert_error(413, "RESOURCE_EXHAUSTED", NULL);
    /* The role is checked before the body. */
    post(acme_operator, "text/plain", "nonsense", "/api/tenants");
    assert_error(403, "PERMISSION_DENIED", NULL);
    /* Nothing was created. */
    fv_tenant t;
    fv_error err = {0};
    FV_ASSERT_INT_EQ(fv_query_tenant_by_slug(&fx.deps, &fx.arena, "t", &t, &err), FV_E_NOT_FOUND);
}

static void test_http_api__get_tenant(void)
{
    for (size_t p = 0; p < FV_TEST_COUNT(prefixes); p++) {
        FV_ASSERT_INT_EQ(call("GET", acme_admin, "%sacme", prefixes[p]), 200);
        char *want = fv_arena_printf(&fx.arena,
                                     "{\"id\":\"%s\",\"slug\":\"acme\",\"name\":\"acme\","
                                     "\"createdAt\":\"" T0_TEXT "\"}",
                                     uuid_text(&fx.tenant));
        assert_json(want);
    }
    FV_ASSERT_INT_EQ(call("HEAD", acme_admin, "/api/orgs/acme"), 200);
    call("GET", acme_admin, "/api/tenants/nope");
    assert_error(404, "NOT_FOUND", "tenant \"nope\" not found");
    call("GET", globex_operator, "/api/tenants/acme");
    assert_error(403, "PERMISSION_DENIED", NULL);
    call("GET", acme_admin, "/api/tenants/acme?verbose=1");
    assert_error(400, "INVALID_ARGUMENT", "(this route takes none)");
}

static void test_http_api__api_keys(void)
{
    const char *P = "/api/tenants/acme/api-keys";
    /* The fixture's four keys of acme, oldest first, the revoked one
     * included (globex's is not there). */
    FV_ASSERT_INT_EQ(call("GET", acme_admin, "%s", P), 200);
    FV_ASSERT_STR_EQ(header("X-Total-Count"), "4");
    FV_ASSERT_INT_EQ(json_array_size(resp.json), 4);
    static const char *const roles[] = {"worker", "operator", "admin", "operator"};
    for (size_t i = 0; i < json_array_size(resp.json) && i < FV_TEST_COUNT(roles); i++) {
        json_t *k = json_array_get(resp.json, i);
        FV_ASSERT_STR_EQ(members(k), "createdAt,id,name,prefix,revokedAt,role");
        FV_ASSERT_STR_EQ(str_at(k, "role"), roles[i]);
        FV_ASSERT_STR_EQ(str_at(k, "name"), "test key");
        FV_ASSERT_INT_EQ(strlen(str_at(k, "prefix")), 16);
        CU_ASSERT_EQUAL(json_is_null(json_object_get(k, "revokedAt")), i < 3);
    }
    /* "Bearer flovyn_sk_" is 17 bytes, then the prefix. */
    CU_ASSERT_TRUE(
        strncmp(str_at(json_array_get(resp.json, 1), "prefix"), acme_operator + 17, 16) == 0);
    /* Never a secret. */
    CU_ASSERT_PTR_NULL(strstr(resp.body, acme_operator + 7));
    CU_ASSERT_PTR_NULL(strstr(resp.body, "\"key\""));
    CU_ASSERT_PTR_NULL(strstr(resp.body, "hash"));

    /* Issue one of each role; each works as its role says. */
    static const struct {
        const char *role;
        const char *kind;
        long workers, keys;
    } issue_as[] = {
        {"worker", "flovyn_wk_", 200, 403},
        {"operator", "flovyn_sk_", 200, 403},
        {"admin", "flovyn_sk_", 200, 200},
    };
    for (size_t i = 0; i < FV_TEST_COUNT(issue_as); i++) {
        fv_fixture_advance(&fx, 1000);
        char *body = fv_arena_printf(&fx.arena, "{\"role\":\"%s\",\"name\":\"ci %s\"}",
                                     issue_as[i].role, issue_as[i].role);
        FV_ASSERT_INT_EQ(
            post(acme_admin, "application/json", body, i == 1 ? "/api/orgs/acme/api-keys" : P),
            201);
        FV_ASSERT_STR_EQ(members(resp.json), "createdAt,id,key,name,prefix,revokedAt,role");
        FV_ASSERT_STR_EQ(str_at(resp.json, "role"), issue_as[i].role);
        CU_ASSERT_TRUE(strncmp(str_at(resp.json, "key"), issue_as[i].kind, 10) == 0);
        CU_ASSERT_TRUE(json_is_null(json_object_get(resp.json, "revokedAt")));
        const char *auth = bearer_of(resp.json);
        FV_ASSERT_INT_EQ(call("GET", auth, "/api/tenants/acme/workers"), issue_as[i].workers);
        FV_ASSERT_INT_EQ(call("GET", auth, "%s", P), issue_as[i].keys);
        if (i == 2)
            FV_ASSERT_STR_EQ(header("X-Total-Count"), "7");
    }
    FV_ASSERT_INT_EQ(call("GET", acme_admin, "/api/orgs/acme/api-keys"), 200);
    FV_ASSERT_STR_EQ(str_at(json_array_get(resp.json, 6), "name"), "ci admin");
    FV_ASSERT_STR_EQ(str_at(json_array_get(resp.json, 6), "createdAt"), "2026-01-01T00:00:03.000Z");

    /* Revoke: 204, the key stops working at once, again is 204 and keeps
     * the first time. */
    post(acme_admin, "application/json", "{\"role\":\"operator\",\"name\":\"doomed\"}", P);
    const char *doomed = bearer_of(resp.json);
    const char *doomed_id = fv_arena_strdup(&fx.arena, str_at(resp.json, "id"));
    FV_ASSERT_INT_EQ(call("GET", doomed, "/api/tenants/acme/workers"), 200);
    fv_fixture_advance(&fx, 1000);
    FV_ASSERT_INT_EQ(call("DELETE", acme_admin, "%s/%s", P, doomed_id), 204);
    FV_ASSERT_INT_EQ(resp.body_n, 0);
    call("GET", doomed, "/api/tenants/acme/workers");
    assert_error(401, "UNAUTHENTICATED", NULL);
    fv_fixture_advance(&fx, 1000);
    FV_ASSERT_INT_EQ(call("DELETE", acme_admin, "/api/orgs/acme/api-keys/%s", doomed_id), 204);
    FV_ASSERT_INT_EQ(call("GET", acme_admin, "%s", P), 200);
    json_t *last = json_array_get(resp.json, json_array_size(resp.json) - 1);
    FV_ASSERT_STR_EQ(str_at(last, "id"), doomed_id);
    FV_ASSERT_STR_EQ(str_at(last, "revokedAt"), "2026-01-01T00:00:04.000Z");

    /* Another tenant's key id, a key id nobody has, a malformed one. */
    FV_ASSERT_INT_EQ(call("GET", globex_operator, "/api/tenants/globex/workers"), 200);
    fv_api_key_list theirs;
    fv_error err = {0};
    CU_ASSERT_FATAL(fv_query_api_keys(&fx.deps, &fx.arena, &globex, &theirs, &err) == FV_OK);
    FV_ASSERT_INT_EQ(theirs.n, 1);
    call("DELETE", acme_admin, "%s/%s", P, uuid_text(&theirs.items[0].id));
    assert_error(404, "NOT_FOUND", "api key");
    FV_ASSERT_INT_EQ(call("GET", globex_operator, "/api/tenants/globex/workers"), 200);
    call("DELETE", acme_admin, "%s/00000000-0000-0000-0000-000000000042", P);
    assert_error(404, "NOT_FOUND", NULL);
    call("DELETE", acme_admin, "%s/not-a-uuid", P);
    assert_error(400, "INVALID_ARGUMENT", "api key id \"not-a-uuid\" is not a valid UUID");
    call("DELETE", acme_admin, "%s/%s?force=1", P, doomed_id);
    assert_error(400, "INVALID_ARGUMENT", "unknown query parameter \"force\"");
    call("GET", acme_admin, "%s?limit=10", P);
    assert_error(400, "INVALID_ARGUMENT", "unknown query parameter \"limit\"");

    /* An admin may revoke its own key. */
    FV_ASSERT_INT_EQ(call("GET", acme_admin, "%s", P), 200);
    const char *admin_id = fv_arena_strdup(&fx.arena, str_at(json_array_get(resp.json, 2), "id"));
    FV_ASSERT_INT_EQ(call("DELETE", acme_admin, "%s/%s", P, admin_id), 204);
    call("GET", acme_admin, "%s", P);
    assert_error(401, "UNAUTHENTICATED", NULL);
}

static void test_http_api__api_key_bad_inputs(void)
{
    const char *P = "/api/orgs/acme/api-keys";
    char *long_name = fv_arena_alloc(&fx.arena, 300);
    CU_ASSERT_PTR_NOT_NULL_FATAL(long_name);
    memcpy(long_name, "{\"role\":\"worker\",\"name\":\"", 25);
    memset(long_name + 25, 'n', 256);
    memcpy(long_name + 281, "\"}", 3);
    const struct {
        const char *body;
        const char *message;
    } bad[] = {
        {"", "request body is empty"},
        {"{\"role\":", "request body is not valid JSON"},
        {"null", "request body must be a JSON object"},
        {"{}", "role is required"},
        {"{\"role\":\"worker\"}", "name is required"},
        {"{\"name\":\"x\"}", "role is required"},
        {"{\"role\":\"root\",\"name\":\"x\"}",
         "role must be worker, operator or admin, not \"root\""},
        {"{\"role\":\"ADMIN\",\"name\":\"x\"}", "role must be worker, operator or admin"},
        {"{\"role\":\"\",\"name\":\"x\"}", "role must be worker, operator or admin"},
        {"{\"role\":3,\"name\":\"x\"}", "role must be a string"},
        {"{\"role\":\"worker\",\"name\":true}", "name must be a string"},
        {"{\"role\":\"worker\",\"name\":\"\"}", "api key name"},
        {"{\"role\":\"worker\",\"name\":\"a\\nb\"}", "api key name"},
        {long_name, "api key name"},
        {"{\"role\":\"worker\",\"name\":\"x\",\"tenant\":\"globex\"}",
         "unknown field \"tenant\" (expected role, name)"},
        {"{\"role\":\"worker\",\"name\":\"x\",\"expiresAt\":1,\"scope\":2}",
         "unknown fields \"expiresAt\", \"scope\""},
    };
    for (size_t i = 0; i < FV_TEST_COUNT(bad); i++) {
        post(acme_admin, "application/json", bad[i].body, P);
        assert_error(400, "INVALID_ARGUMENT", bad[i].message);
    }
    post(acme_admin, "application/x-www-form-urlencoded", "role=worker&name=x", P);
    assert_error(415, "INVALID_ARGUMENT", NULL);
    post(acme_operator, "application/json", "{\"role\":\"admin\",\"name\":\"x\"}", P);
    assert_error(403, "PERMISSION_DENIED", NULL);
    /* Nothing was issued. */
    FV_ASSERT_INT_EQ(call("GET", acme_admin, "%s", P), 200);
    FV_ASSERT_STR_EQ(header("X-Total-Count"), "4");
}

/* ---------------------------------------------------------------------- */
/* The OpenAPI document                                                   */
/* ---------------------------------------------------------------------- */

/* adapters/http/openapi.json as a NUL-terminated string in the arena. */
static char *read_source_doc(size_t *n)
{
    FILE *f = fopen(FV_SOURCE_DIR "/adapters/http/openapi.json", "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 20;
    char *buf = fv_arena_alloc(&fx.arena, cap + 1);
    *n = buf != NULL ? fread(buf, 1, cap, f) : 0;
    fclose(f);
    if (buf == NULL || *n == cap)
        return NULL;
    buf[*n] = '\0';
    return buf;
}

/* GET the document; resp.json holds it. */
static json_t *get_doc(void)
{
    if (call("GET", NULL, "/api/docs/openapi.json") != 200 || !json_is_object(resp.json))
        return NULL;
    return resp.json;
}

static void test_http_api__openapi_served(void)
{
    size_t n = 0;
    char *file = read_source_doc(&n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(file);
    CU_ASSERT_PTR_NOT_NULL_FATAL(get_doc());
    FV_ASSERT_STR_EQ(header("Content-Type"), "application/json");
    /* The file, byte for byte. */
    FV_ASSERT_INT_EQ(resp.body_n, n);
    CU_ASSERT_TRUE(resp.body_n == n && memcmp(resp.body, file, n) == 0);
    FV_ASSERT_STR_EQ(str_at(resp.json, "openapi"), "3.0.3");
    /* No key needed; a bad one is ignored. */
    FV_ASSERT_INT_EQ(call("GET", "Bearer nonsense", "/api/docs/openapi.json"), 200);
    FV_ASSERT_INT_EQ(call("HEAD", NULL, "/api/docs/openapi.json"), 200);
    call("GET", NULL, "/api/docs/openapi.json?format=yaml");
    assert_error(400, "INVALID_ARGUMENT", "unknown query parameter \"format\"");
}

/* doc.paths[path][method] (method in lower case), or NULL. */
static json_t *doc_operation(json_t *doc, const char *path, const char *method)
{
    char lower[16];
    size_t i = 0;
    for (; i < sizeof lower - 1 && method[i] != '\0'; i++)
        lower[i] = (char)(method[i] >= 'A' && method[i] <= 'Z' ? method[i] - 'A' + 'a' : method[i]);
    lower[i] = '\0';
    return json_object_get(json_object_get(json_object_get(doc, "paths"), path), lower);
}

/* A served pattern made into a request path: slugs "acme", ids a UUID
 * nobody has, kinds "wf-0". */
static const char *instantiate(const char *pattern)
{
    static const struct {
        const char *capture;
        const char *value;
    } values[] = {
        {"{tenant_slug}", "acme"},
        {"{org_slug}", "acme"},
        {"{worker_id}", "00000000-0000-0000-0000-000000000042"},
        {"{key_id}", "00000000-0000-0000-0000-000000000042"},
        {"{kind}", "wf-0"},
    };
    const char *out = fv_arena_strdup(&fx.arena, "");
    const char *p = pattern;
    while (*p != '\0') {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            size_t len = (size_t)(close - p + 1);
            size_t k = 0;
            while (k < FV_TEST_COUNT(values) &&
                   (strlen(values[k].capture) != len || strncmp(values[k].capture, p, len) != 0))
                k++;
            if (k == FV_TEST_COUNT(values)) {
                CU_FAIL("a capture the test does not know");
                return out;
            }
            out = fv_arena_printf(&fx.arena, "%s%s", out, values[k].value);
            p = close + 1;
        } else {
            out = fv_arena_printf(&fx.arena, "%s%c", out, *p);
            p++;
        }
    }
    return out;
}

/* Every route the server serves is in the document and nothing else is; a
 * route is documented as needing a key exactly when the server answers it
 * 401 without one. */
static void test_http_api__openapi_lists_every_route(void)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(get_doc());
    json_t *doc = json_incref(resp.json);
    json_t *global_security = json_object_get(doc, "security");
    CU_ASSERT_TRUE(json_array_size(global_security) > 0);

    size_t served = 0, keyed = 0;
    const char *method, *pattern;
    for (size_t i = 0; fv_http_api_route(api, i, &method, &pattern); i++) {
        served++;
        json_t *op = doc_operation(doc, pattern, method);
        if (op == NULL) {
            fprintf(stderr, "\n  served but not documented: %s %s\n", method, pattern);
            CU_FAIL("route missing from the document");
            continue;
        }
        CU_ASSERT_TRUE(json_is_string(json_object_get(op, "operationId")));
        json_t *responses = json_object_get(op, "responses");
        /* Ask the server without a key. */
        const char *path = instantiate(pattern);
        long st = strcmp(method, "PATCH") == 0 || strcmp(method, "POST") == 0
                      ? send_req(method, NULL, "application/json", "{}", 2, path)
                      : send_req(method, NULL, NULL, NULL, 0, path);
        json_t *security = json_object_get(op, "security");
        bool documented_keyed =
            security == NULL ? json_array_size(global_security) > 0 : json_array_size(security) > 0;
        if ((st == 401) != documented_keyed) {
            fprintf(stderr, "\n  %s %s: answered %ld without a key, documented %s\n", method,
                    pattern, st, documented_keyed ? "with a key" : "without");
            CU_FAIL("security of a route");
        }
        keyed += st == 401;
        /* Every keyed route documents 401 and 403; every route its
         * answer's status without a key when that is an error. */
        if (documented_keyed) {
            CU_ASSERT_PTR_NOT_NULL(json_object_get(responses, "401"));
            CU_ASSERT_PTR_NOT_NULL(json_object_get(responses, "403"));
        }
        char st_text[8];
        snprintf(st_text, sizeof st_text, "%ld", st);
        if (st >= 400 && json_object_get(responses, st_text) == NULL) {
            fprintf(stderr, "\n  %s %s: status %ld is not documented\n", method, pattern, st);
            CU_FAIL("status of a route");
        }
    }
    /* 3 operations, 2 x (11 discovery + 5 admin) routes. */
    FV_ASSERT_INT_EQ(served, 35);
    FV_ASSERT_INT_EQ(keyed, 32);

    /* Nothing documented that is not served. */
    size_t documented = 0;
    const char *path;
    json_t *item;
    json_object_foreach(json_object_get(doc, "paths"), path, item)
    {
        const char *m;
        json_t *op;
        json_object_foreach(item, m, op)
        {
            if (strcmp(m, "parameters") == 0 || strcmp(m, "summary") == 0 ||
                strcmp(m, "description") == 0 || strcmp(m, "servers") == 0)
                continue;
            documented++;
            bool found = false;
            for (size_t i = 0; !found && fv_http_api_route(api, i, &method, &pattern); i++)
                found = strcmp(pattern, path) == 0 && doc_operation(doc, path, method) == op;
            if (!found) {
                fprintf(stderr, "\n  documented but not served: %s %s\n", m, path);
                CU_FAIL("route in the document that is not served");
            }
        }
    }
    FV_ASSERT_INT_EQ(documented, served);
    json_decref(doc);
}

/* The property names of a component schema (following allOf), sorted,
 * comma-separated; the required ones must be all of them (every member of
 * an answer is always there, null when absent). */
static const char *schema_members(json_t *doc, const char *name)
{
    json_t *schema =
        json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(schema);
    json_t *all = json_object();
    json_t *parts = json_object_get(schema, "allOf");
    size_t n = parts != NULL ? json_array_size(parts) : 1;
    for (size_t i = 0; i < n; i++) {
        json_t *part = parts != NULL ? json_array_get(parts, i) : schema;
        const char *ref = str_at(part, "$ref");
        if (ref != NULL) {
            const char *inner = schema_members(doc, strrchr(ref, '/') + 1);
            char *copy = fv_arena_strdup(&fx.arena, inner);
            for (char *tok = copy; tok != NULL && *tok != '\0';) {
                char *comma = strchr(tok, ',');
                if (comma != NULL)
                    *comma = '\0';
                json_object_set_new(all, tok, json_true());
                tok = comma != NULL ? comma + 1 : NULL;
            }
            continue;
        }
        json_t *props = json_object_get(part, "properties");
        json_t *required = json_object_get(part, "required");
        FV_ASSERT_INT_EQ(json_array_size(required), json_object_size(props));
        json_object_update(all, props);
    }
    const char *out = members(all);
    json_decref(all);
    return out;
}

#define assert_shape(doc, name, obj) FV_ASSERT_STR_EQ(members(obj), schema_members((doc), (name)))

/* The documented schemas have exactly the members of real answers. */
static void test_http_api__openapi_schemas_match_answers(void)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(get_doc());
    json_t *doc = json_incref(resp.json);
    fv_uuid w = reg(&fx.tenant, "alpha", 1, 1, NULL);
    CU_ASSERT_FATAL(fv_fixture_heartbeat(&fx, &fx.tenant, &w) == FV_OK);
    fv_error err = {0};
    CU_ASSERT_FATAL(fv_worker_set_status(&fx.deps, &fx.arena, &fx.tenant, &w, FV_STATUS_OFFLINE,
                                         "test", &err) == FV_OK);
    const char *P = "/api/tenants/acme";

    FV_ASSERT_INT_EQ(call("GET", NULL, "/_/health"), 200);
    FV_ASSERT_STR_EQ(members(resp.json), "status,version");
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "%s/workers", P), 200);
    assert_shape(doc, "Worker", json_array_get(resp.json, 0));
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "%s/workers/%s", P, uuid_text(&w)), 200);
    assert_shape(doc, "WorkerDetail", resp.json);
    assert_shape(doc, "WorkflowCapability",
                 json_array_get(json_object_get(resp.json, "workflowCapabilities"), 0));
    assert_shape(doc, "TaskCapability",
                 json_array_get(json_object_get(resp.json, "taskCapabilities"), 0));
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "%s/workers/%s/heartbeats", P, uuid_text(&w)), 200);
    assert_shape(doc, "Heartbeat", json_array_get(resp.json, 0));
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "%s/workers/%s/status-history", P, uuid_text(&w)),
                     200);
    assert_shape(doc, "StatusChange", json_array_get(resp.json, 0));
    reg(&fx.tenant, "alpha", 1, 1, NULL);
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "%s/workflow-definitions", P), 200);
    assert_shape(doc, "WorkflowDefinition", json_array_get(resp.json, 0));
    assert_shape(doc, "DefinitionConfiguration",
                 json_object_get(json_array_get(resp.json, 0), "configuration"));
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "%s/workflow-definitions/wf-0", P), 200);
    assert_shape(doc, "WorkflowDefinitionDetail", resp.json);
    assert_shape(doc, "DefinitionWorker", json_array_get(json_object_get(resp.json, "workers"), 0));
    FV_ASSERT_INT_EQ(patch(acme_operator, "application/json",
                           "{\"retryPolicy\":{\"maxRetries\":1,\"initialDelayMs\":1,"
                           "\"backoffCoefficient\":2,\"maxDelayMs\":5}}",
                           "/api/tenants/acme/task-definitions/task-0/configuration"),
                     200);
    assert_shape(doc, "TaskDefinition", resp.json);
    FV_ASSERT_STR_EQ(members(json_object_get(resp.json, "retryPolicy")),
                     "backoffCoefficient,initialDelayMs,maxDelayMs,maxRetries");
    FV_ASSERT_STR_EQ(
        members(json_object_get(resp.json, "retryPolicy")),
        members(json_object_get(
            json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"),
                            "RetryPolicy"),
            "properties")));
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "%s/task-definitions/task-0", P), 200);
    assert_shape(doc, "TaskDefinitionDetail", resp.json);
    FV_ASSERT_INT_EQ(call("GET", acme_admin, "%s", P), 200);
    assert_shape(doc, "Tenant", resp.json);
    FV_ASSERT_INT_EQ(call("GET", acme_admin, "%s/api-keys", P), 200);
    assert_shape(doc, "ApiKey", json_array_get(resp.json, 0));
    FV_ASSERT_INT_EQ(post(acme_admin, "application/json", "{\"role\":\"admin\",\"name\":\"x\"}",
                          "/api/tenants/acme/api-keys"),
                     201);
    assert_shape(doc, "ApiKeyCreated", resp.json);
    FV_ASSERT_INT_EQ(
        post(acme_admin, "application/json", "{\"slug\":\"new\",\"name\":\"x\"}", "/api/tenants"),
        201);
    assert_shape(doc, "TenantCreated", resp.json);
    call("GET", NULL, "/nowhere");
    assert_shape(doc, "Error", resp.json);
    FV_ASSERT_STR_EQ(members(json_object_get(resp.json, "error")), "code,message");
    json_decref(doc);
}

/* ---------------------------------------------------------------------- */
/* Metrics                                                                */
/* ---------------------------------------------------------------------- */

/* The response body has this line, whole. */
static void assert_line_at(const char *line, int at)
{
    const char *body = resp.body != NULL ? resp.body : "";
    size_t n = strlen(line);
    for (const char *p = strstr(body, line); p != NULL; p = strstr(p + 1, line)) {
        if ((p == body || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return;
    }
    fprintf(stderr, "\n  line %d: no line \"%s\" in:\n%s\n", at, line, body);
    CU_FAIL("metrics line");
}

#define assert_line(line) assert_line_at((line), __LINE__)

static void test_http_api__metrics_off(void)
{
    call("GET", NULL, "/_/metrics");
    assert_error(404, "NOT_FOUND", "metrics are not enabled on this server");
}

static void test_http_api__metrics(void)
{
    fv_metrics_config mc = {"test-version", 1767225600, &fx.deps};
    fv_error err = {0};
    fv_metrics *m = fv_metrics_new(&mc, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    fv_http_config c;
    memset(&c, 0, sizeof c);
    c.listen = "127.0.0.1:0";
    c.threads = 2;
    c.max_body_bytes = MAX_BODY;
    c.metrics = m;
    fv_http_api *with = fv_http_api_new(&fx.deps, &c, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(with);
    int saved_port = port;
    port = fv_http_api_port(with);

    reg(&fx.tenant, "alpha", 1, 1, NULL);
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "/api/tenants/acme/workers"), 200);
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "/api/tenants/acme/workers?limit=5"), 200);
    FV_ASSERT_INT_EQ(call("HEAD", acme_worker, "/api/tenants/acme/workers"), 200);
    FV_ASSERT_INT_EQ(call("GET", acme_worker, "/api/tenants/acme/workers?limit=0"), 400);
    FV_ASSERT_INT_EQ(call("GET", NULL, "/api/orgs/acme/workers"), 401);
    FV_ASSERT_INT_EQ(call("DELETE", acme_worker, "/api/orgs/acme/workers/%s", uuid_text(&globex)),
                     403);
    FV_ASSERT_INT_EQ(call("GET", NULL, "/nowhere"), 404);
    FV_ASSERT_INT_EQ(call("PUT", NULL, "/api/tenants/acme/workers"), 405);
    FV_ASSERT_INT_EQ(post(acme_admin, "application/json", "{\"role\":\"worker\",\"name\":\"m\"}",
                          "/api/tenants/acme/api-keys"),
                     201);

    FV_ASSERT_INT_EQ(call("GET", NULL, "/_/metrics"), 200);
    FV_ASSERT_STR_EQ(header("Content-Type"), FV_METRICS_CONTENT_TYPE);
    assert_line("flovyn_http_requests_total{route=\"/api/tenants/{tenant_slug}/workers\","
                "method=\"GET\",status=\"200\"} 3");
    assert_line("flovyn_http_requests_total{route=\"/api/tenants/{tenant_slug}/workers\","
                "method=\"GET\",status=\"400\"} 1");
    assert_line("flovyn_http_requests_total{route=\"/api/orgs/{org_slug}/workers\","
                "method=\"GET\",status=\"401\"} 1");
    assert_line("flovyn_http_requests_total{route=\"/api/orgs/{org_slug}/workers/{worker_id}\","
                "method=\"DELETE\",status=\"403\"} 1");
    assert_line("flovyn_http_requests_total{route=\"/api/tenants/{tenant_slug}/api-keys\","
                "method=\"POST\",status=\"201\"} 1");
    assert_line("flovyn_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1");
    assert_line("flovyn_http_requests_total{route=\"unmatched\",method=\"PUT\",status=\"405\"} 1");
    assert_line("flovyn_http_request_duration_seconds_count{route=\"/api/tenants/{tenant_slug}/"
                "workers\",method=\"GET\"} 4");
    assert_line("flovyn_workers{status=\"ONLINE\"} 1");
    assert_line("flovyn_build_info{version=\"test-version\"} 1");
    /* The scrape counts itself once answered. */
    FV_ASSERT_INT_EQ(call("GET", "Bearer nonsense", "/_/metrics"), 200);
    assert_line("flovyn_http_requests_total{route=\"/_/metrics\",method=\"GET\",status=\"200\"} 1");
    call("GET", NULL, "/_/metrics?name=x");
    assert_error(400, "INVALID_ARGUMENT", "unknown query parameter \"name\"");

    /* What the route serves passes promtool (Debian's prometheus package),
     * lint included. */
    FV_ASSERT_INT_EQ(call("GET", NULL, "/_/metrics"), 200);
    FILE *p = popen("promtool check metrics > /dev/null 2>&1", "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    fwrite(resp.body, 1, resp.body_n, p);
    int status = pclose(p);
    if (status != 0)
        fprintf(stderr, "\n  promtool check metrics: status %d (is promtool installed?)\n", status);
    FV_ASSERT_INT_EQ(status, 0);

    fv_http_api_free(with);
    port = saved_port;
    fv_metrics_free(m);
}

static const fv_test_case cases[] = {
    FV_TEST_CASE(test_http_api__health),
    FV_TEST_CASE(test_http_api__unknown_routes_and_methods),
    FV_TEST_CASE(test_http_api__head),
    FV_TEST_CASE(test_http_api__new_errors),
    FV_TEST_CASE(test_http_api__auth_on_every_route),
    FV_TEST_CASE(test_http_api__unknown_tenant_is_404),
    FV_TEST_CASE(test_http_api__roles),
    FV_TEST_CASE(test_http_api__tenant_isolation),
    FV_TEST_CASE(test_http_api__worker_shape),
    FV_TEST_CASE(test_http_api__list_workers_filters_and_pages),
    FV_TEST_CASE(test_http_api__bad_inputs_are_400),
    FV_TEST_CASE(test_http_api__worker_detail),
    FV_TEST_CASE(test_http_api__heartbeats_and_status_history),
    FV_TEST_CASE(test_http_api__delete_worker),
    FV_TEST_CASE(test_http_api__definitions),
    FV_TEST_CASE(test_http_api__patch_configuration),
    FV_TEST_CASE(test_http_api__patch_bad_inputs),
    FV_TEST_CASE(test_http_api__concurrent_reads),
    FV_TEST_CASE(test_http_api__create_tenant),
    FV_TEST_CASE(test_http_api__create_tenant_bad_inputs),
    FV_TEST_CASE(test_http_api__get_tenant),
    FV_TEST_CASE(test_http_api__api_keys),
    FV_TEST_CASE(test_http_api__api_key_bad_inputs),
    FV_TEST_CASE(test_http_api__openapi_served),
    FV_TEST_CASE(test_http_api__openapi_lists_every_route),
    FV_TEST_CASE(test_http_api__openapi_schemas_match_answers),
    FV_TEST_CASE(test_http_api__metrics_off),
    FV_TEST_CASE(test_http_api__metrics),
};

int main(void)
{
    /* Library global init before any thread (STYLE rule 24). */
    json_object_seed(0);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    fv_test_suite suite = {"http_api", cases, FV_TEST_COUNT(cases), setup, teardown};
    int failed = fv_test_run_suites(&suite, 1);
    curl_global_cleanup();
    return failed == 0 ? 0 : 1;
}
