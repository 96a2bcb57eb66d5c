/* The libcurl client of the HTTP tests (see http_client.h). */
#include "tests/http/http_client.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "core/util/alloc.h"

typedef struct grow_buf {
    char *p;
    size_t n;
    bool failed;
} grow_buf;

static size_t buf_put(char *data, size_t size, size_t nmemb, void *user)
{
    grow_buf *b = user;
    size_t add = size * nmemb;
    char *p = fv_realloc(b->p, b->n + add + 1);
    if (p == NULL) {
        b->failed = true;
        return 0;
    }
    memcpy(p + b->n, data, add);
    b->p = p;
    b->n += add;
    b->p[b->n] = '\0';
    return add;
}

typedef struct reader {
    const char *p;
    size_t left;
} reader;

static size_t read_body(char *dest, size_t size, size_t nmemb, void *user)
{
    reader *r = user;
    size_t n = size * nmemb;
    if (n > r->left)
        n = r->left;
    memcpy(dest, r->p, n);
    r->p += n;
    r->left -= n;
    return n;
}

long fv_test_http(const fv_test_http_req *req, fv_test_http_resp *out)
{
    memset(out, 0, sizeof *out);
    grow_buf body = {NULL, 0, false}, headers = {NULL, 0, false};
    struct curl_slist *hdrs = NULL;
    char line[1024];
    CURL *c = curl_easy_init();
    if (c == NULL) {
        snprintf(out->error, sizeof out->error, "curl_easy_init failed");
        return 0;
    }
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 10000L);
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_put);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, buf_put);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &headers);
    /* No "Expect: 100-continue" round trip, no default Content-Type. */
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (req->authorization != NULL) {
        snprintf(line, sizeof line, "Authorization: %s", req->authorization);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (req->content_type != NULL) {
        snprintf(line, sizeof line, "Content-Type: %s", req->content_type);
        hdrs = curl_slist_append(hdrs, line);
    } else {
        hdrs = curl_slist_append(hdrs, "Content-Type:");
    }
    reader rd = {req->body, req->body_n};
    if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (req->body != NULL && req->chunked) {
        hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, read_body);
        curl_easy_setopt(c, CURLOPT_READDATA, &rd);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    } else if (req->body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_n);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    } else if (strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    } else {
        snprintf(out->error, sizeof out->error, "%s", curl_easy_strerror(rc));
        out->status = 0;
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (body.failed || headers.failed) {
        snprintf(out->error, sizeof out->error, "out of memory");
        out->status = 0;
    }
    out->body = body.p != NULL ? body.p : fv_strdup("");
    out->body_n = body.n;
    out->headers = headers.p != NULL ? headers.p : fv_strdup("");
    out->headers_n = headers.n;
    if (out->body_n > 0)
        out->json = json_loadb(out->body, out->body_n, JSON_DECODE_ANY, NULL);
    return out->status;
}

void fv_test_http_resp_clear(fv_test_http_resp *r)
{
    if (r == NULL)
        return;
    json_decref(r->json);
    fv_free(r->body);
    fv_free(r->headers);
    memset(r, 0, sizeof *r);
}

const char *fv_test_http_header(const fv_test_http_resp *r, const char *name, char *buf, size_t cap)
{
    const char *found = NULL;
    size_t found_n = 0;
    size_t name_n = strlen(name);
    const char *p = r->headers;
    while (p != NULL && *p != '\0') {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);
        if (len > name_n && p[name_n] == ':' && strncasecmp(p, name, name_n) == 0) {
            const char *v = p + name_n + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            found = v;
            found_n = (size_t)(p + len - v);
        }
        p = eol != NULL ? eol + 2 : NULL;
    }
    if (found == NULL || cap == 0)
        return NULL;
    if (found_n >= cap)
        found_n = cap - 1;
    memcpy(buf, found, found_n);
    buf[found_n] = '\0';
    return buf;
}
