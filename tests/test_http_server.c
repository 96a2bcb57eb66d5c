/*
 * The HTTP machinery (adapters/http/http_server.h) with a table of test
 * routes, through real HTTP requests (libcurl): routing, captures and
 * percent-decoding, JSON 404 and 405 with Allow, strict query parsing, JSON
 * bodies and their content type, the body limit with and without
 * Content-Length, the one error path (status table, detail only for client
 * mistakes, logs), binding (port 0, errors), the idle timeout, a graceful
 * stop with a request in progress, both threading modes under concurrency,
 * raw bodies, the route table as served and the per-request observer.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "adapters/http/http_server.h"
#include "adapters/http/http_status.h"
#include "core/util/alloc.h"
#include "tests/http/http_client.h"
#include "tests/support/cunit_main.h"

/* ---------------------------------------------------------------------- */
/* A log sink that remembers every line                                   */
/* ---------------------------------------------------------------------- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[65536];
static size_t log_len;

static void test_log(void *user, fv_http_log_level level, const char *msg)
{
    (void)user;
    static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    pthread_mutex_lock(&log_lock);
    int w = snprintf(log_text + log_len, sizeof log_text - log_len, "%s %s\n",
                     (unsigned)level < 4 ? names[level] : "?", msg);
    if (w > 0 && (size_t)w < sizeof log_text - log_len)
        log_len += (size_t)w;
    pthread_mutex_unlock(&log_lock);
}

static bool log_has(const char *needle)
{
    pthread_mutex_lock(&log_lock);
    bool found = strstr(log_text, needle) != NULL;
    pthread_mutex_unlock(&log_lock);
    return found;
}

static void log_clear(void)
{
    pthread_mutex_lock(&log_lock);
    log_len = 0;
    log_text[0] = '\0';
    pthread_mutex_unlock(&log_lock);
}

/* ---------------------------------------------------------------------- */
/* Test routes                                                            */
/* ---------------------------------------------------------------------- */

static const char *const echo_query[] = {"x", "y", "n", NULL};

/* {"a": ..., "b": ..., "x": ..., "y": ..., "n": ...} */
static fv_err echo(fv_http_req *r, void *user, fv_error *err)
{
    (void)user;
    fv_err rc = fv_http_req_query_check(r, echo_query, err);
    int64_t n = 0;
    if (rc == FV_OK)
        rc = fv_http_req_query_int(r, "n", -1, 0, 100, &n, err);
    if (rc != FV_OK)
        return rc;
    const char *x = fv_http_req_query(r, "x");
    const char *y = fv_http_req_query(r, "y");
    return fv_http_reply_json_take(r, 200,
                                   json_pack("{s:s, s:s, s:s?, s:s?, s:I, s:s}", "a",
                                             fv_http_req_param(r, "a"), "b",
                                             fv_http_req_param(r, "b"), "x", x, "y", y, "n",
                                             (json_int_t)n, "method", fv_http_req_method(r)));
}

static fv_err echo_delete(fv_http_req *r, void *user, fv_error *err)
{
    (void)user;
    fv_err rc = fv_http_req_query_check(r, NULL, err);
    if (rc != FV_OK)
        return rc;
    return fv_http_reply_empty(r, 204);
}

static fv_err root(fv_http_req *r, void *user, fv_error *err)
{
    (void)user;
    (void)err;
    return fv_http_reply_json_take(r, 200, json_pack("{s:b}", "root", 1));
}

static fv_err json_echo(fv_http_req *r, void *user, fv_error *err)
{
    (void)user;
    json_t *in = NULL;
    fv_err rc = fv_http_req_json_object(r, &in, err);
    if (rc != FV_OK)
        return rc;
    return fv_http_reply_json_take(r, 200, in);
}

static const struct {
    const char *name;
    fv_err code;
} codes[] = {
    {"INVALID", FV_E_INVALID},         {"NOT_FOUND", FV_E_NOT_FOUND},
    {"CONFLICT", FV_E_CONFLICT},       {"PRECONDITION", FV_E_PRECONDITION},
    {"ABORTED", FV_E_ABORTED},         {"UNAUTHENTICATED", FV_E_UNAUTHENTICATED},
    {"PERMISSION", FV_E_PERMISSION},   {"EXHAUSTED", FV_E_EXHAUSTED},
    {"UNAVAILABLE", FV_E_UNAVAILABLE}, {"TIMEOUT", FV_E_TIMEOUT},
    {"INTERNAL", FV_E_INTERNAL},
};

/* Fails with the code named by {code}, message "detail secret". */
static fv_err fail_with(fv_http_req *r, void *user, fv_error *err)
{
    (void)user;
    const char *name = fv_http_req_param(r, "code");
    for (size_t i = 0; i < FV_TEST_COUNT(codes); i++) {
        if (strcmp(codes[i].name, name) == 0)
            return fv_error_set(err, codes[i].code, "detail secret \"%s\"", name);
    }
    return fv_error_set(err, FV_E_INVALID, "no such code");
}

static fv_err silent(fv_http_req *r, void *user, fv_error *err)
{
    (void)r;
    (void)user;
    (void)err;
    return FV_OK;
}

static fv_err answer_then_fail(fv_http_req *r, void *user, fv_error *err)
{
    (void)user;
    fv_http_reply_header(r, "X-Custom", "yes");
    fv_http_reply_json_take(r, 200, json_pack("{s:b}", "ok", 1));
    return fv_error_set(err, FV_E_NOT_FOUND, "gone after all");
}

static fv_err with_header(fv_http_req *r, void *user, fv_error *err)
{
    (void)user;
    (void)err;
    fv_err rc = fv_http_reply_header(r, "X-Custom", "yes");
    if (rc == FV_OK)
        rc = fv_http_reply_json_take(r, 201, json_pack("[i, i]", 1, 2));
    return rc;
}

static fv_err slow(fv_http_req *r, void *user, fv_error *err)
{
    (void)user;
    (void)err;
    struct timespec ts = {0, 400 * 1000 * 1000};
    nanosleep(&ts, NULL);
    return fv_http_reply_json_take(r, 200, json_pack("{s:b}", "slow", 1));
}

static fv_err text(fv_http_req *r, void *user, fv_error *err)
{
    (void)user;
    (void)err;
    static const char body[] = "hello\nworld\n";
    return fv_http_reply_body(r, 200, "text/plain; version=0.0.4", body, sizeof body - 1);
}

static const fv_http_route test_routes[] = {
    {"GET", "/", root, NULL},
    {"GET", "/echo/{a}/{b}", echo, NULL},
    {"DELETE", "/echo/{a}/{b}", echo_delete, NULL},
    {"POST", "/json", json_echo, NULL},
    {"PATCH", "/json", json_echo, NULL},
    {"GET", "/fail/{code}", fail_with, NULL},
    {"GET", "/silent", silent, NULL},
    {"GET", "/answer-then-fail", answer_then_fail, NULL},
    {"GET", "/header", with_header, NULL},
    {"GET", "/slow", slow, NULL},
    {"GET", "/text", text, NULL},
};

/* ---------------------------------------------------------------------- */
/* Fixture                                                                */
/* ---------------------------------------------------------------------- */

#define MAX_BODY 1024

static fv_http_server *srv;
static int port;

static fv_http_server_config base_config(void)
{
    fv_http_server_config c;
    memset(&c, 0, sizeof c);
    c.listen = "127.0.0.1:0";
    c.threads = 2;
    c.max_body_bytes = MAX_BODY;
    c.idle_timeout_s = 1;
    c.shutdown_grace_ms = 3000;
    c.routes = test_routes;
    c.n_routes = FV_TEST_COUNT(test_routes);
    c.log = test_log;
    return c;
}

static int setup(void)
{
    log_clear();
    fv_http_server_config c = base_config();
    fv_error err = {0};
    srv = fv_http_server_new(&c, &err);
    if (srv == NULL) {
        fprintf(stderr, "server: %s\n", err.msg);
        return 1;
    }
    port = fv_http_server_port(srv);
    return 0;
}

static void teardown(void)
{
    fv_http_server_free(srv);
    srv = NULL;
}

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */
/* ---------------------------------------------------------------------- */

static fv_test_http_resp resp;
/* The next request is expected not to connect (do not report it). */
static bool expect_down;

static long send_to(int p, const char *method, const char *path, const char *ctype,
                    const char *body, size_t body_n, bool chunked)
{
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", p, path);
    fv_test_http_resp_clear(&resp);
    fv_test_http_req req = {method, url, NULL, ctype, body, body_n, chunked, 0};
    long st = fv_test_http(&req, &resp);
    if (st == 0 && !expect_down)
        fprintf(stderr, "\n  %s %s: %s\n", method, path, resp.error);
    return st;
}

static long req(const char *method, const char *path)
{
    return send_to(port, method, path, NULL, NULL, 0, false);
}

static long req_body(const char *method, const char *path, const char *ctype, const char *body)
{
    return send_to(port, method, path, ctype, body, strlen(body), false);
}

static const char *jstr(const json_t *o, const char *path1, const char *path2)
{
    const json_t *v = json_object_get(o, path1);
    if (path2 != NULL)
        v = json_object_get(v, path2);
    return json_string_value(v);
}

/* The error body's code and message. */
static void assert_error(long status, const char *code, const char *message_part)
{
    FV_ASSERT_INT_EQ(resp.status, status);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp.json);
    FV_ASSERT_STR_EQ(jstr(resp.json, "error", "code"), code);
    const char *msg = jstr(resp.json, "error", "message");
    CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
    if (message_part != NULL && strstr(msg, message_part) == NULL) {
        fprintf(stderr, "\n  message \"%s\" lacks \"%s\"\n", msg, message_part);
        CU_FAIL("message");
    }
    char ct[128];
    FV_ASSERT_STR_EQ(fv_test_http_header(&resp, "Content-Type", ct, sizeof ct), "application/json");
    CU_ASSERT_EQUAL(json_object_size(resp.json), 1);
    CU_ASSERT_EQUAL(json_object_size(json_object_get(resp.json, "error")), 2);
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                  */
/* ---------------------------------------------------------------------- */

static void test_http_server__status_table(void)
{
    FV_ASSERT_INT_EQ(fv_http_status_for(FV_E_INVALID, FV_HTTP_CAUSE_NONE), 400);
    FV_ASSERT_INT_EQ(fv_http_status_for(FV_E_INVALID, FV_HTTP_CAUSE_METHOD), 405);
    FV_ASSERT_INT_EQ(fv_http_status_for(FV_E_INVALID, FV_HTTP_CAUSE_MEDIA_TYPE), 415);
    FV_ASSERT_INT_EQ(fv_http_status_for(FV_E_INVALID, FV_HTTP_CAUSE_BODY_SIZE), 400);
    FV_ASSERT_INT_EQ(fv_http_status_for(FV_E_NOT_FOUND, FV_HTTP_CAUSE_NONE), 404);
    FV_ASSERT_INT_EQ(fv_http_status_for(FV_E_CONFLICT, FV_HTTP_CAUSE_NONE), 409);
    FV_ASSERT_INT_EQ(fv_http_status_for(FV_E_PRECONDITION, FV_HTTP_CAUSE_NONE), 400);
    FV_ASSERT_INT_EQ(fv_http_status_for(FV_E_ABORTED, FV_HTTP_CAUSE_NONE), 409);
    FV_ASSERT_INT_EQ(fv_http_status_for(FV_E_UNAUTHENTICATED, FV_HTTP_CAUSE_NONE), 401);
    FV_ASSERT_INT_EQ(fv_http_status_for(FV_E_PERMISSION, FV_HTTP_CAUSE_NONE), 403);
    FV_ASSERT_INT_EQ(fv_http_status_for(FV_E_EXHAUSTED, FV_HTTP_CAUSE_NONE), 503);
    FV_ASSERT_INT_EQ(fv_http_status_for(FV_E_EXHAUSTED, FV_HTTP_CAUSE_BODY_SIZE), 413);
    FV_ASSERT_INT_EQ(fv_http_status_for(FV_E_UNAVAILABLE, FV_HTTP_CAUSE_NONE), 503);
    FV_ASSERT_INT_EQ(fv_http_status_for(FV_E_TIMEOUT, FV_HTTP_CAUSE_NONE), 504);
    FV_ASSERT_INT_EQ(fv_http_status_for(FV_E_INTERNAL, FV_HTTP_CAUSE_NONE), 500);
    FV_ASSERT_INT_EQ(fv_http_status_for(FV_OK, FV_HTTP_CAUSE_NONE), 500);
    FV_ASSERT_INT_EQ(fv_http_status_for((fv_err)-99, FV_HTTP_CAUSE_NONE), 500);
    CU_ASSERT_TRUE(fv_http_err_shows_detail(FV_E_INVALID, FV_HTTP_CAUSE_NONE));
    CU_ASSERT_TRUE(fv_http_err_shows_detail(FV_E_EXHAUSTED, FV_HTTP_CAUSE_BODY_SIZE));
    CU_ASSERT_FALSE(fv_http_err_shows_detail(FV_E_EXHAUSTED, FV_HTTP_CAUSE_NONE));
    CU_ASSERT_FALSE(fv_http_err_shows_detail(FV_E_INTERNAL, FV_HTTP_CAUSE_NONE));
    CU_ASSERT_FALSE(fv_http_err_shows_detail(FV_E_UNAVAILABLE, FV_HTTP_CAUSE_NONE));
}

static void test_http_server__root_captures_and_decoding(void)
{
    FV_ASSERT_INT_EQ(req("GET", "/"), 200);
    CU_ASSERT_TRUE(json_is_true(json_object_get(resp.json, "root")));
    FV_ASSERT_INT_EQ(req("GET", "/echo/x%20y/z%2Fw%C3%A9"), 200);
    FV_ASSERT_STR_EQ(jstr(resp.json, "a", NULL), "x y");
    FV_ASSERT_STR_EQ(jstr(resp.json, "b", NULL), "z/w\xc3\xa9");
    /* "+" is a space in the query only. */
    FV_ASSERT_INT_EQ(req("GET", "/echo/a+b/c?x=two+words&y=%26%3D&n=7"), 200);
    FV_ASSERT_STR_EQ(jstr(resp.json, "a", NULL), "a+b");
    FV_ASSERT_STR_EQ(jstr(resp.json, "x", NULL), "two words");
    FV_ASSERT_STR_EQ(jstr(resp.json, "y", NULL), "&=");
    FV_ASSERT_INT_EQ(json_integer_value(json_object_get(resp.json, "n")), 7);
    /* An empty value and a name without "=" are both "". */
    FV_ASSERT_INT_EQ(req("GET", "/echo/a/b?x=&y"), 200);
    FV_ASSERT_STR_EQ(jstr(resp.json, "x", NULL), "");
    FV_ASSERT_STR_EQ(jstr(resp.json, "y", NULL), "");
    /* A JSON answer with a status and a header of the handler's. */
    FV_ASSERT_INT_EQ(req("GET", "/header"), 201);
    char h[64];
    FV_ASSERT_STR_EQ(fv_test_http_header(&resp, "X-Custom", h, sizeof h), "yes");
    FV_ASSERT_STR_EQ(resp.body, "[1,2]");
}

static void test_http_server__unknown_routes_are_json_404(void)
{
    static const char *const paths[] = {
        "/nope", "/echo/a", "/echo/a/b/", "/echo/a/b/c", "/echo//b", "//", "/json/", "/_/x",
    };
    for (size_t i = 0; i < FV_TEST_COUNT(paths); i++) {
        FV_ASSERT_INT_EQ(req("GET", paths[i]), 404);
        assert_error(404, "NOT_FOUND", "no route for GET");
    }
    FV_ASSERT_INT_EQ(req("POST", "/nope"), 404);
    assert_error(404, "NOT_FOUND", "no route for POST /nope");
}

static void test_http_server__wrong_method_is_405_with_allow(void)
{
    char allow[128];
    FV_ASSERT_INT_EQ(req("PUT", "/echo/a/b"), 405);
    assert_error(405, "INVALID_ARGUMENT", "method PUT is not allowed");
    FV_ASSERT_STR_EQ(fv_test_http_header(&resp, "Allow", allow, sizeof allow), "GET, HEAD, DELETE");
    FV_ASSERT_INT_EQ(req("DELETE", "/json"), 405);
    FV_ASSERT_STR_EQ(fv_test_http_header(&resp, "Allow", allow, sizeof allow), "POST, PATCH");
    FV_ASSERT_INT_EQ(req("OPTIONS", "/"), 405);
    FV_ASSERT_STR_EQ(fv_test_http_header(&resp, "Allow", allow, sizeof allow), "GET, HEAD");
    /* HEAD is served by GET routes, without a body. */
    FV_ASSERT_INT_EQ(req("HEAD", "/echo/a/b"), 200);
    FV_ASSERT_INT_EQ(resp.body_n, 0);
    FV_ASSERT_INT_EQ(req("DELETE", "/echo/a/b"), 204);
    FV_ASSERT_INT_EQ(resp.body_n, 0);
}

static void test_http_server__strict_query(void)
{
    static const struct {
        const char *path;
        const char *message;
    } bad[] = {
        {"/echo/a/b?z=1", "unknown query parameter \"z\" (accepted: x, y, n)"},
        {"/echo/a/b?x=1&x=2", "query parameter \"x\" is given more than once"},
        {"/echo/a/b?x=%G1", "malformed percent-encoding in the query"},
        {"/echo/a/b?x=%4", "malformed percent-encoding in the query"},
        {"/echo/a/b?x=%FF", "not valid UTF-8"},
        {"/echo/a/b?x=%00", "not valid UTF-8"},
        {"/echo/a/b?=3", "empty name"},
        {"/echo/a/b?n=abc", "n must be an integer, not \"abc\""},
        {"/echo/a/b?n=", "n must be an integer, not \"\""},
        {"/echo/a/b?n=1.5", "n must be an integer"},
        {"/echo/a/b?n=%2B5", "n must be an integer"},
        {"/echo/a/b?n=+5", "n must be an integer"},
        {"/echo/a/b?n=0x10", "n must be an integer"},
        {"/echo/a/b?n=101", "n must be between 0 and 100, not 101"},
        {"/echo/a/b?n=-1", "n must be between 0 and 100, not -1"},
        {"/echo/a/b?n=99999999999999999999999", "n must be between 0 and 100"},
        {"/echo/a/b?n=-9223372036854775809", "n must be between 0 and 100"},
        {"/echo/a/b?n=-", "n must be an integer"},
        {"/echo/a/b?n=1,2", "n must be an integer"},
    };
    for (size_t i = 0; i < FV_TEST_COUNT(bad); i++) {
        req("GET", bad[i].path);
        assert_error(400, "INVALID_ARGUMENT", bad[i].message);
    }
    FV_ASSERT_INT_EQ(req("DELETE", "/echo/a/b?x=1"), 400);
    assert_error(400, "INVALID_ARGUMENT", "unknown query parameter \"x\" (this route takes none)");
    FV_ASSERT_INT_EQ(req("GET", "/echo/a/b?n=0100&&x=1&"), 200);
    FV_ASSERT_INT_EQ(json_integer_value(json_object_get(resp.json, "n")), 100);
}

static void test_http_server__malformed_paths_are_400(void)
{
    req("GET", "/echo/%zz/b");
    assert_error(400, "INVALID_ARGUMENT", "malformed percent-encoding in the path");
    req("GET", "/echo/%FF%FE/b");
    assert_error(400, "INVALID_ARGUMENT", "the path is not valid UTF-8");
    req("GET", "/echo/a%00b/c");
    assert_error(400, "INVALID_ARGUMENT", "the path is not valid UTF-8");
}

static void test_http_server__json_bodies(void)
{
    FV_ASSERT_INT_EQ(req_body("POST", "/json", "application/json", "{\"a\":[1,\"\\u00e9\"]}"), 200);
    FV_ASSERT_STR_EQ(resp.body, "{\"a\":[1,\"\xc3\xa9\"]}");
    FV_ASSERT_INT_EQ(req_body("PATCH", "/json", "Application/JSON ; charset=utf-8", "{}"), 200);

    req_body("POST", "/json", NULL, "{}");
    assert_error(415, "INVALID_ARGUMENT", "Content-Type must be application/json (none was given)");
    req_body("POST", "/json", "text/plain", "{}");
    assert_error(415, "INVALID_ARGUMENT", "not \"text/plain\"");
    req_body("POST", "/json", "application/jsonx", "{}");
    assert_error(415, "INVALID_ARGUMENT", NULL);
    req_body("POST", "/json", "application/x-www-form-urlencoded", "a=1");
    assert_error(415, "INVALID_ARGUMENT", NULL);

    static const struct {
        const char *body;
        const char *message;
    } bad[] = {
        {"", "request body is empty"},
        {"{", "request body is not valid JSON"},
        {"{\"a\":1,}", "request body is not valid JSON"},
        {"{} {}", "request body is not valid JSON"},
        {"[1]", "request body must be a JSON object"},
        {"\"text\"", "request body must be a JSON object"},
        {"{\"a\":1,\"a\":2}", "request body is not valid JSON"},
        {"{\"a\":\"\\u0000\"}", "request body is not valid JSON"},
        {"{\"a\":\"\xff\"}", "request body is not valid JSON"},
    };
    for (size_t i = 0; i < FV_TEST_COUNT(bad); i++) {
        req_body("POST", "/json", "application/json", bad[i].body);
        assert_error(400, "INVALID_ARGUMENT", bad[i].message);
    }
}

/* A JSON object of exactly n bytes: {"a":"xxx..."}. */
static char *object_of(size_t n)
{
    char *s = fv_malloc(n + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    memset(s, 'x', n);
    memcpy(s, "{\"a\":\"", 6);
    memcpy(s + n - 2, "\"}", 2);
    s[n] = '\0';
    return s;
}

static void test_http_server__body_limit(void)
{
    char *exact = object_of(MAX_BODY);
    char *over = object_of(MAX_BODY + 1);
    char *huge = object_of(3 * 1024 * 1024);
    FV_ASSERT_INT_EQ(send_to(port, "POST", "/json", "application/json", exact, MAX_BODY, false),
                     200);
    FV_ASSERT_INT_EQ(resp.body_n, MAX_BODY);
    FV_ASSERT_INT_EQ(send_to(port, "POST", "/json", "application/json", exact, MAX_BODY, true),
                     200);

    send_to(port, "POST", "/json", "application/json", over, MAX_BODY + 1, false);
    assert_error(413, "RESOURCE_EXHAUSTED", "request body is larger than 1024 bytes");
    /* Without Content-Length (chunked), the limit holds the same way. */
    send_to(port, "POST", "/json", "application/json", over, MAX_BODY + 1, true);
    assert_error(413, "RESOURCE_EXHAUSTED", "request body is larger than 1024 bytes");
    send_to(port, "POST", "/json", "application/json", huge, strlen(huge), true);
    assert_error(413, "RESOURCE_EXHAUSTED", NULL);
    send_to(port, "POST", "/json", "application/json", huge, strlen(huge), false);
    assert_error(413, "RESOURCE_EXHAUSTED", NULL);
    /* Before routing: any path, any method. */
    send_to(port, "PUT", "/nowhere", "text/plain", over, MAX_BODY + 1, false);
    assert_error(413, "RESOURCE_EXHAUSTED", NULL);
    /* And the server still serves. */
    FV_ASSERT_INT_EQ(req("GET", "/"), 200);
    fv_free(exact);
    fv_free(over);
    fv_free(huge);
}

static void test_http_server__error_path(void)
{
    static const struct {
        const char *name;
        long status;
        const char *code;
        bool detail;
    } want[] = {
        {"INVALID", 400, "INVALID_ARGUMENT", true},
        {"NOT_FOUND", 404, "NOT_FOUND", true},
        {"CONFLICT", 409, "ALREADY_EXISTS", true},
        {"PRECONDITION", 400, "FAILED_PRECONDITION", true},
        {"ABORTED", 409, "ABORTED", true},
        {"UNAUTHENTICATED", 401, "UNAUTHENTICATED", true},
        {"PERMISSION", 403, "PERMISSION_DENIED", true},
        {"EXHAUSTED", 503, "RESOURCE_EXHAUSTED", false},
        {"UNAVAILABLE", 503, "UNAVAILABLE", false},
        {"TIMEOUT", 504, "DEADLINE_EXCEEDED", false},
        {"INTERNAL", 500, "INTERNAL", false},
    };
    for (size_t i = 0; i < FV_TEST_COUNT(want); i++) {
        char path[64];
        snprintf(path, sizeof path, "/fail/%s", want[i].name);
        log_clear();
        req("GET", path);
        assert_error(want[i].status, want[i].code, NULL);
        const char *msg = jstr(resp.json, "error", "message");
        char detail[64];
        snprintf(detail, sizeof detail, "detail secret \"%s\"", want[i].name);
        if (want[i].detail) {
            FV_ASSERT_STR_EQ(msg, detail);
            CU_ASSERT_FALSE(log_has("detail secret"));
        } else {
            /* Generic text to the client, the detail to the log. */
            CU_ASSERT_PTR_NULL(strstr(msg, "secret"));
            CU_ASSERT_TRUE(log_has(detail));
        }
        char h[64];
        if (want[i].status == 401)
            FV_ASSERT_STR_EQ(fv_test_http_header(&resp, "WWW-Authenticate", h, sizeof h),
                             "Bearer realm=\"flovyn\"");
        else
            CU_ASSERT_PTR_NULL(fv_test_http_header(&resp, "WWW-Authenticate", h, sizeof h));
    }
    /* INTERNAL is logged as an error, the others as warnings. */
    log_clear();
    req("GET", "/fail/INTERNAL");
    CU_ASSERT_TRUE(log_has("ERROR GET /fail/INTERNAL failed: INTERNAL: detail secret"));
    log_clear();
    req("GET", "/fail/UNAVAILABLE");
    CU_ASSERT_TRUE(log_has("WARN GET /fail/UNAVAILABLE failed: UNAVAILABLE"));

    /* A handler that answers nothing is a bug: 500 and a log line. */
    log_clear();
    req("GET", "/silent");
    assert_error(500, "INTERNAL", "internal error");
    CU_ASSERT_TRUE(log_has("the handler returned without an answer"));
    /* A failure discards the answer set before it, headers included. */
    req("GET", "/answer-then-fail");
    assert_error(404, "NOT_FOUND", "gone after all");
    char h[64];
    CU_ASSERT_PTR_NULL(fv_test_http_header(&resp, "X-Custom", h, sizeof h));
}

static void test_http_server__configuration_errors(void)
{
    static const char *const listens[] = {
        NULL,
        "",
        "8080",
        ":8080",
        "127.0.0.1:",
        "127.0.0.1:65536",
        "127.0.0.1:http",
        "[::1:80",
        "127.0.0.1:-1",
        "127.0.0.1:123456",
    };
    for (size_t i = 0; i < FV_TEST_COUNT(listens); i++) {
        fv_http_server_config c = base_config();
        c.listen = listens[i];
        fv_error err = {0};
        CU_ASSERT_PTR_NULL(fv_http_server_new(&c, &err));
        FV_ASSERT_INT_EQ(err.code, FV_E_INVALID);
    }
    /* The port is taken (by the fixture's server). */
    char taken[64];
    snprintf(taken, sizeof taken, "127.0.0.1:%d", port);
    fv_http_server_config c = base_config();
    c.listen = taken;
    fv_error err = {0};
    CU_ASSERT_PTR_NULL(fv_http_server_new(&c, &err));
    FV_ASSERT_INT_EQ(err.code, FV_E_UNAVAILABLE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "could not listen on"));
    c.listen = "no-such-host.invalid:0";
    CU_ASSERT_PTR_NULL(fv_http_server_new(&c, &err));
    FV_ASSERT_INT_EQ(err.code, FV_E_UNAVAILABLE);

    static const fv_http_route bad_routes[][2] = {
        {{"GET", "/a", NULL, NULL}, {"GET", "/b", root, NULL}},
        {{"get", "/a", root, NULL}, {"GET", "/b", root, NULL}},
        {{"GET", "a", root, NULL}, {"GET", "/b", root, NULL}},
        {{"GET", "/a//b", root, NULL}, {"GET", "/b", root, NULL}},
        {{"GET", "/a/", root, NULL}, {"GET", "/b", root, NULL}},
        {{"GET", "/{A}", root, NULL}, {"GET", "/b", root, NULL}},
        {{"GET", "/{}", root, NULL}, {"GET", "/b", root, NULL}},
        {{"GET", "/a{b}", root, NULL}, {"GET", "/b", root, NULL}},
        {{"GET", "/a/{x}", root, NULL}, {"GET", "/a/{y}", root, NULL}},
        {{"GET", "/b", root, NULL}, {"GET", "/b", root, NULL}},
    };
    for (size_t i = 0; i < FV_TEST_COUNT(bad_routes); i++) {
        c = base_config();
        c.routes = bad_routes[i];
        c.n_routes = 2;
        memset(&err, 0, sizeof err);
        CU_ASSERT_PTR_NULL(fv_http_server_new(&c, &err));
        FV_ASSERT_INT_EQ(err.code, FV_E_INVALID);
    }
    c = base_config();
    c.threads = -1;
    CU_ASSERT_PTR_NULL(fv_http_server_new(&c, &err));
    FV_ASSERT_INT_EQ(err.code, FV_E_INVALID);
    c = base_config();
    c.routes = NULL;
    CU_ASSERT_PTR_NULL(fv_http_server_new(&c, &err));
    FV_ASSERT_INT_EQ(err.code, FV_E_INVALID);
    /* No routes at all is valid: everything is 404. */
    c = base_config();
    c.routes = NULL;
    c.n_routes = 0;
    fv_http_server *empty = fv_http_server_new(&c, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(empty);
    send_to(fv_http_server_port(empty), "GET", "/", NULL, NULL, 0, false);
    assert_error(404, "NOT_FOUND", "no route for GET /");
    fv_http_server_free(empty);
}

static void test_http_server__ipv6_and_host_names(void)
{
    fv_http_server_config c = base_config();
    c.listen = "localhost:0";
    fv_error err = {0};
    fv_http_server *s = fv_http_server_new(&c, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_TRUE(fv_http_server_port(s) > 0);
    fv_http_server_free(s);

    c.listen = "[::1]:0";
    s = fv_http_server_new(&c, &err);
    if (s == NULL) {
        /* No IPv6 loopback in this sandbox: nothing more to check. */
        FV_ASSERT_INT_EQ(err.code, FV_E_UNAVAILABLE);
        return;
    }
    char url[128];
    snprintf(url, sizeof url, "http://[::1]:%d/", fv_http_server_port(s));
    fv_test_http_resp_clear(&resp);
    fv_test_http_req r = {"GET", url, NULL, NULL, NULL, 0, false, 0};
    FV_ASSERT_INT_EQ(fv_test_http(&r, &resp), 200);
    fv_http_server_free(s);
}

static int connect_raw(int p)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CU_ASSERT_FATAL(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)p);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CU_ASSERT_FATAL(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    return fd;
}

static void test_http_server__idle_connections_are_closed(void)
{
    int fd = connect_raw(port);
    static const char partial[] = "GET / HTTP/1.1\r\nHost: x\r\n";
    CU_ASSERT_FATAL(write(fd, partial, sizeof partial - 1) == (ssize_t)(sizeof partial - 1));
    int64_t t0 = fv_http_monotonic_ms();
    struct pollfd pfd = {fd, POLLIN, 0};
    int n = poll(&pfd, 1, 6000);
    CU_ASSERT_EQUAL(n, 1);
    char buf[256];
    ssize_t got = read(fd, buf, sizeof buf);
    int64_t waited = fv_http_monotonic_ms() - t0;
    /* Closed without an answer, after about idle_timeout_s (1 s). */
    CU_ASSERT_TRUE(got <= 0);
    CU_ASSERT_TRUE(waited >= 500);
    CU_ASSERT_TRUE(waited < 6000);
    close(fd);
    FV_ASSERT_INT_EQ(req("GET", "/"), 200);
}

typedef struct slow_call {
    int port;
    fv_test_http_resp resp;
} slow_call;

static void *slow_thread(void *arg)
{
    slow_call *s = arg;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/slow", s->port);
    fv_test_http_req r = {"GET", url, NULL, NULL, NULL, 0, false, 0};
    fv_test_http(&r, &s->resp);
    return NULL;
}

static void test_http_server__stop_lets_requests_finish(void)
{
    slow_call s;
    memset(&s, 0, sizeof s);
    s.port = port;
    pthread_t t;
    CU_ASSERT_FATAL(pthread_create(&t, NULL, slow_thread, &s) == 0);
    struct timespec ts = {0, 150 * 1000 * 1000};
    nanosleep(&ts, NULL);
    int64_t t0 = fv_http_monotonic_ms();
    fv_http_server_stop(srv);
    int64_t took = fv_http_monotonic_ms() - t0;
    pthread_join(t, NULL);
    /* The request in progress was answered, with Connection: close. */
    FV_ASSERT_INT_EQ(s.resp.status, 200);
    char h[64];
    FV_ASSERT_STR_EQ(fv_test_http_header(&s.resp, "Connection", h, sizeof h), "close");
    CU_ASSERT_TRUE(took < 3000);
    fv_test_http_resp_clear(&s.resp);
    /* Nothing listens any more. */
    expect_down = true;
    CU_ASSERT_EQUAL(req("GET", "/"), 0);
    expect_down = false;
    fv_http_server_stop(srv); /* idempotent */
}

static void test_http_server__stop_gives_up_after_the_grace(void)
{
    fv_http_server_config c = base_config();
    c.shutdown_grace_ms = 100;
    fv_error err = {0};
    fv_http_server *s2 = fv_http_server_new(&c, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s2);
    slow_call s;
    memset(&s, 0, sizeof s);
    s.port = fv_http_server_port(s2);
    pthread_t t;
    CU_ASSERT_FATAL(pthread_create(&t, NULL, slow_thread, &s) == 0);
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    log_clear();
    fv_http_server_free(s2);
    pthread_join(t, NULL);
    CU_ASSERT_TRUE(log_has("still in progress after 100 ms"));
    fv_test_http_resp_clear(&s.resp);
}

typedef struct hammer {
    int port;
    int ok;
} hammer;

static void *hammer_thread(void *arg)
{
    hammer *h = arg;
    for (int i = 0; i < 25; i++) {
        char url[128];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/echo/t%d/%d?n=%d", h->port, i, i, i % 100);
        fv_test_http_resp r;
        fv_test_http_req q = {"GET", url, NULL, NULL, NULL, 0, false, 0};
        if (fv_test_http(&q, &r) == 200 &&
            json_integer_value(json_object_get(r.json, "n")) == i % 100)
            h->ok++;
        fv_test_http_resp_clear(&r);
    }
    return NULL;
}

static void hammer_server(int p)
{
    pthread_t t[8];
    hammer h[8];
    for (int i = 0; i < 8; i++) {
        h[i].port = p;
        h[i].ok = 0;
        CU_ASSERT_FATAL(pthread_create(&t[i], NULL, hammer_thread, &h[i]) == 0);
    }
    int ok = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        ok += h[i].ok;
    }
    FV_ASSERT_INT_EQ(ok, 8 * 25);
}

static void test_http_server__concurrent_requests_pool(void)
{
    hammer_server(port);
}

static void test_http_server__thread_per_connection(void)
{
    fv_http_server_config c = base_config();
    c.threading = FV_HTTP_THREAD_PER_CONNECTION;
    fv_error err = {0};
    fv_http_server *s = fv_http_server_new(&c, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    send_to(fv_http_server_port(s), "GET", "/nope", NULL, NULL, 0, false);
    assert_error(404, "NOT_FOUND", NULL);
    hammer_server(fv_http_server_port(s));
    fv_http_server_free(s);
}

static void test_http_server__request_log(void)
{
    fv_http_server_config c = base_config();
    c.log_requests = true;
    fv_error err = {0};
    fv_http_server *s = fv_http_server_new(&c, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    log_clear();
    send_to(fv_http_server_port(s), "GET", "/nope?x=1", NULL, NULL, 0, false);
    send_to(fv_http_server_port(s), "GET", "/", NULL, NULL, 0, false);
    fv_http_server_free(s);
    CU_ASSERT_TRUE(log_has("DEBUG GET /nope 404 "));
    CU_ASSERT_TRUE(log_has("DEBUG GET / 200 "));
}

static void test_http_server__raw_body(void)
{
    FV_ASSERT_INT_EQ(req("GET", "/text"), 200);
    FV_ASSERT_STR_EQ(resp.body, "hello\nworld\n");
    char ct[128];
    FV_ASSERT_STR_EQ(fv_test_http_header(&resp, "Content-Type", ct, sizeof ct),
                     "text/plain; version=0.0.4");
    FV_ASSERT_INT_EQ(req("HEAD", "/text"), 200);
    FV_ASSERT_INT_EQ(resp.body_n, 0);
}

static void test_http_server__route_table(void)
{
    const char *method = NULL, *pattern = NULL;
    size_t i = 0;
    for (; fv_http_server_route(srv, i, &method, &pattern); i++) {
        CU_ASSERT_TRUE_FATAL(i < FV_TEST_COUNT(test_routes));
        FV_ASSERT_STR_EQ(method, test_routes[i].method);
        FV_ASSERT_STR_EQ(pattern, test_routes[i].pattern);
        /* Copies, not the caller's strings. */
        CU_ASSERT_PTR_NOT_EQUAL(pattern, test_routes[i].pattern);
    }
    FV_ASSERT_INT_EQ(i, FV_TEST_COUNT(test_routes));
    CU_ASSERT_FALSE(fv_http_server_route(srv, SIZE_MAX, &method, &pattern));
}

/* What the observer was told, in order. */
typedef struct observation {
    size_t route;
    char method[16];
    int status;
    double seconds;
} observation;

static pthread_mutex_t obs_lock = PTHREAD_MUTEX_INITIALIZER;
static observation obs[32];
static size_t n_obs;

static void observe(void *user, size_t route, const char *method, int status, double seconds)
{
    CU_ASSERT_PTR_EQUAL(user, &obs);
    pthread_mutex_lock(&obs_lock);
    if (n_obs < FV_TEST_COUNT(obs)) {
        observation *o = &obs[n_obs++];
        o->route = route;
        snprintf(o->method, sizeof o->method, "%s", method);
        o->status = status;
        o->seconds = seconds;
    }
    pthread_mutex_unlock(&obs_lock);
}

static void test_http_server__observer(void)
{
    fv_http_server_config c = base_config();
    c.observe = observe;
    c.observe_user = &obs;
    fv_error err = {0};
    fv_http_server *s = fv_http_server_new(&c, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    int p = fv_http_server_port(s);
    n_obs = 0;
    char big[MAX_BODY + 2];
    memset(big, ' ', sizeof big);
    const struct {
        const char *method;
        const char *path;
        const char *body;
        size_t route;
        int status;
    } want[] = {
        {"GET", "/", NULL, 0, 200},
        {"HEAD", "/echo/x/y", NULL, 1, 200},
        {"DELETE", "/echo/x/y", NULL, 2, 204},
        {"GET", "/fail/NOT_FOUND", NULL, 5, 404},
        {"GET", "/fail/INTERNAL", NULL, 5, 500},
        {"GET", "/echo/x/y?zzz=1", NULL, 1, 400},
        {"GET", "/silent", NULL, 6, 500},
        {"GET", "/slow", NULL, 9, 200},
        {"GET", "/nope", NULL, FV_HTTP_NO_ROUTE, 404},
        {"PUT", "/", NULL, FV_HTTP_NO_ROUTE, 405},
        {"GET", "/%ZZ", NULL, FV_HTTP_NO_ROUTE, 400},
        {"POST", "/json", big, FV_HTTP_NO_ROUTE, 413},
    };
    for (size_t i = 0; i < FV_TEST_COUNT(want); i++) {
        if (want[i].body != NULL)
            send_to(p, want[i].method, want[i].path, "application/json", big, sizeof big, false);
        else
            send_to(p, want[i].method, want[i].path, NULL, NULL, 0, false);
        FV_ASSERT_INT_EQ(resp.status, want[i].status);
    }
    fv_http_server_free(s);
    FV_ASSERT_INT_EQ(n_obs, FV_TEST_COUNT(want));
    for (size_t i = 0; i < n_obs && i < FV_TEST_COUNT(want); i++) {
        FV_ASSERT_INT_EQ(obs[i].route, want[i].route);
        FV_ASSERT_STR_EQ(obs[i].method, want[i].method);
        FV_ASSERT_INT_EQ(obs[i].status, want[i].status);
        CU_ASSERT_TRUE(obs[i].seconds >= 0 && obs[i].seconds < 5);
    }
    /* The slow route took its 400 ms. */
    CU_ASSERT_TRUE(obs[7].seconds >= 0.39);
}

static const fv_test_case cases[] = {
    FV_TEST_CASE(test_http_server__status_table),
    FV_TEST_CASE(test_http_server__root_captures_and_decoding),
    FV_TEST_CASE(test_http_server__unknown_routes_are_json_404),
    FV_TEST_CASE(test_http_server__wrong_method_is_405_with_allow),
    FV_TEST_CASE(test_http_server__strict_query),
    FV_TEST_CASE(test_http_server__malformed_paths_are_400),
    FV_TEST_CASE(test_http_server__json_bodies),
    FV_TEST_CASE(test_http_server__body_limit),
    FV_TEST_CASE(test_http_server__error_path),
    FV_TEST_CASE(test_http_server__configuration_errors),
    FV_TEST_CASE(test_http_server__ipv6_and_host_names),
    FV_TEST_CASE(test_http_server__idle_connections_are_closed),
    FV_TEST_CASE(test_http_server__stop_lets_requests_finish),
    FV_TEST_CASE(test_http_server__stop_gives_up_after_the_grace),
    FV_TEST_CASE(test_http_server__concurrent_requests_pool),
    FV_TEST_CASE(test_http_server__thread_per_connection),
    FV_TEST_CASE(test_http_server__request_log),
    FV_TEST_CASE(test_http_server__raw_body),
    FV_TEST_CASE(test_http_server__route_table),
    FV_TEST_CASE(test_http_server__observer),
};

int main(void)
{
    /* Library global init before any thread (STYLE rule 24). */
    json_object_seed(0);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    fv_test_suite suite = {"http_server", cases, FV_TEST_COUNT(cases), setup, teardown};
    int failed = fv_test_run_suites(&suite, 1);
    fv_test_http_resp_clear(&resp);
    curl_global_cleanup();
    return failed == 0 ? 0 : 1;
}
