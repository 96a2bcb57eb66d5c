/*
 * The REST API (adapters/http/http_api.h) on the in-memory bundle with a fake
 * clock, through real HTTP requests (libcurl) to a server started in-process
 * on 127.0.0.1, port 0: every discovery route under both prefixes, the JSON
 * shapes of spec/rest-api.md, authentication and roles, tenant isolation by
 * every route, and every bad input of the spec (bad limit/offset, unknown
 * enum, malformed UUID, invalid JSON, wrong content type, oversized body,
 * unknown field, unknown route, wrong method).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "adapters/http/http_api.h"
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
        "/api/tenants",
        "/api/tenants/acme",
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

/* Every tenant route of the API, with {w} for a worker id. */
static const struct {
    const char *method;
    const char *path;
} tenant_routes[] = {
    {"GET", "/workers"},
    {"GET", "/workers/{w}"},
    {"DELETE", "/workers/{w}"},
    {"GET", "/workers/{w}/heartbeats"},
    {"GET", "/workers/{w}/status-history"},
    {"GET", "/workflow-definitions"},
    {"GET", "/workflow-definitions/wf-0"},
    {"PATCH", "/workflow-definitions/wf-0/configuration"},
    {"GET", "/task-definitions"},
    {"GET", "/task-definitions/task-0"},
    {"PATCH", "/task-definitions/task-0/configuration"},
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
            if (strcmp(tenant_routes[r].method, "GET") != 0)
                continue;
            FV_ASSERT_INT_EQ(route_call(0, "acme", r, &w, readers[k]), 200);
        }
    }
    /* Operator actions refuse the worker role. */
    for (size_t r = 0; r < FV_TEST_COUNT(tenant_routes); r++) {
        if (strcmp(tenant_routes[r].method, "GET") == 0)
            continue;
        route_call(1, "acme", r, &w, acme_worker);
        assert_error(403, "PERMISSION_DENIED", "role \"worker\" may not do this");
    }
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
    FV_ASSERT_INT_EQ(json_object_size(t), 17);
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
