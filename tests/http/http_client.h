/*
 * A small libcurl client for the HTTP tests: one request per call on a fresh
 * connection, the status, the raw header block and the body captured, the
 * body parsed as JSON when it is JSON. Test-thread only (curl easy handles
 * and jansson values are not shared); curl_global_init belongs to main.
 */
#ifndef FV_TESTS_HTTP_HTTP_CLIENT_H
#define FV_TESTS_HTTP_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

typedef struct fv_test_http_req {
    const char *method; /* "GET", "PATCH", ... */
    const char *url;    /* full URL */
    /* The Authorization header value, or NULL for none. */
    const char *authorization;
    /* The Content-Type header, or NULL for none. */
    const char *content_type;
    const void *body; /* NULL: no body */
    size_t body_n;
    /* Send the body with Transfer-Encoding: chunked (no Content-Length). */
    bool chunked;
    /* Give up after this many ms (0 = 10 s). */
    long timeout_ms;
} fv_test_http_req;

typedef struct fv_test_http_resp {
    long status; /* 0 when the request failed at the transport */
    char *body;  /* NUL-terminated, owned */
    size_t body_n;
    char *headers; /* the raw header block, NUL-terminated, owned */
    size_t headers_n;
    json_t *json;    /* the body parsed as JSON (any value), or NULL */
    char error[256]; /* curl's message when status == 0 */
} fv_test_http_resp;

/* Send the request; returns out->status (0 on a transport failure). */
long fv_test_http(const fv_test_http_req *req, fv_test_http_resp *out);

/* Release what a response holds and zero it (NULL-safe). */
void fv_test_http_resp_clear(fv_test_http_resp *r);

/* The value of the last header `name` (case-insensitive) copied into buf, or
 * NULL when absent. */
const char *fv_test_http_header(const fv_test_http_resp *r, const char *name, char *buf,
                                size_t cap);

#endif
