/*
 * The REST client (see client.h): URL building with percent-encoding, one
 * libcurl easy handle per client (its connection cache keeps the connection
 * alive between calls), the body and X-Total-Count collected by callbacks,
 * and every failure turned into one sentence for the user.
 */
#include "cli/client.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/buf.h"
#include "core/util/alloc.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 5000L
#define DEFAULT_TIMEOUT_MS         30000L

struct fv_cli_client {
    CURL *curl;
    char *server;      /* base URL without trailing slashes */
    char *tenant;      /* slug, percent-encoded */
    char *auth_header; /* "Authorization: Bearer <key>" or NULL */
    char *user_agent;
    long connect_timeout_ms;
    long timeout_ms;
    const volatile sig_atomic_t *cancel;
    char errbuf[CURL_ERROR_SIZE];
};

/* What the callbacks collect during one request. */
typedef struct exchange {
    fv_cli_buf body;
    long long total; /* X-Total-Count of the last response; -1 when absent */
    bool too_large;  /* the body passed FV_CLI_MAX_BODY */
} exchange;

void fv_cli_response_release(fv_cli_response *r)
{
    if (r == NULL)
        return;
    fv_free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
    r->total = -1;
}

static void error_clear(fv_cli_error *err)
{
    if (err == NULL)
        return;
    err->code = FV_OK;
    err->http_status = 0;
    err->server_code[0] = '\0';
    err->msg[0] = '\0';
}

static fv_err fail(fv_cli_error *err, fv_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static fv_err fail(fv_cli_error *err, fv_err code, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

/* ---- Opening ------------------------------------------------------------ */

static bool starts_with_nocase(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\0' || tolower((unsigned char)s[i]) != prefix[i])
            return false;
    return true;
}

/* A percent-encoded copy of n bytes of s (curl_easy_escape), in our heap. */
static char *escape(CURL *curl, const char *s, size_t n)
{
    if (n > (size_t)1 << 20)
        return NULL;
    char *e = curl_easy_escape(curl, s, (int)n);
    if (e == NULL)
        return NULL;
    char *copy = fv_strdup(e);
    curl_free(e);
    return copy;
}

fv_err fv_cli_client_open(const fv_cli_client_config *cfg, fv_cli_client **out, fv_cli_error *err)
{
    error_clear(err);
    *out = NULL;
    const char *server = cfg->server;
    if (server == NULL ||
        (!starts_with_nocase(server, "http://") && !starts_with_nocase(server, "https://")))
        return fail(err, FV_E_INVALID,
                    "the server URL \"%.200s\" is not an http:// or https:// URL",
                    server != NULL ? server : "");
    size_t n = strlen(server);
    while (n > 0 && server[n - 1] == '/')
        n--;
    if (n <= strlen(starts_with_nocase(server, "http://") ? "http://" : "https://"))
        return fail(err, FV_E_INVALID, "the server URL \"%.200s\" has no host", server);
    if (cfg->tenant == NULL || cfg->tenant[0] == '\0')
        return fail(err, FV_E_INVALID, "the tenant is empty");
    /* The key goes into a header line: a line break would smuggle another. */
    for (const char *p = cfg->api_key; p != NULL && *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return fail(err, FV_E_INVALID, "the API key contains a control character");

    fv_cli_client *c = fv_calloc(1, sizeof *c);
    if (c == NULL)
        return fail(err, FV_E_EXHAUSTED, "out of memory");
    c->curl = curl_easy_init();
    c->server = fv_strndup(server, n);
    c->user_agent = fv_strdup(cfg->user_agent != NULL ? cfg->user_agent : "flovyn-cli");
    if (c->curl != NULL)
        c->tenant = escape(c->curl, cfg->tenant, strlen(cfg->tenant));
    bool ok = c->curl != NULL && c->server != NULL && c->user_agent != NULL && c->tenant != NULL;
    if (ok && cfg->api_key != NULL) {
        fv_cli_buf h;
        fv_cli_buf_init(&h, 0);
        fv_cli_buf_printf(&h, "Authorization: Bearer %s", cfg->api_key);
        if (h.failed) {
            fv_cli_buf_release(&h);
            ok = false;
        } else {
            c->auth_header = h.p; /* the buffer's text is ours now */
        }
    }
    if (!ok) {
        fv_cli_client_close(c);
        return fail(err, FV_E_EXHAUSTED, "out of memory setting up the HTTP client");
    }
    c->connect_timeout_ms =
        cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->cancel = cfg->cancel;
    *out = c;
    return FV_OK;
}

void fv_cli_client_close(fv_cli_client *c)
{
    if (c == NULL)
        return;
    if (c->curl != NULL)
        curl_easy_cleanup(c->curl);
    fv_free(c->server);
    fv_free(c->tenant);
    if (c->auth_header != NULL) {
        /* The key is a secret: do not leave it in freed memory. */
        volatile char *p = c->auth_header;
        while (*p != '\0')
            *p++ = '\0';
    }
    fv_free(c->auth_header);
    fv_free(c->user_agent);
    fv_free(c);
}

const char *fv_cli_client_server(const fv_cli_client *c)
{
    return c->server;
}

/* ---- Callbacks ---------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t nmemb, void *user)
{
    exchange *x = user;
    size_t n = size * nmemb;
    if (n > FV_CLI_MAX_BODY - x->body.n) {
        x->too_large = true;
        return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
    }
    fv_cli_buf_add(&x->body, p, n);
    return x->body.failed ? 0 : n;
}

/* A non-negative decimal count, nothing else; -1 otherwise. */
static long long parse_count(const char *p, size_t n)
{
    while (n > 0 && (p[0] == ' ' || p[0] == '\t')) {
        p++;
        n--;
    }
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n'))
        n--;
    if (n == 0 || n > 18)
        return -1;
    long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *user)
{
    exchange *x = user;
    size_t n = size * nmemb;
    static const char name[] = "x-total-count:";
    const size_t name_len = sizeof name - 1;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        x->total = -1; /* a new response (after a 100 Continue): forget the last */
    } else if (n > name_len) {
        size_t i = 0;
        while (i < name_len && tolower((unsigned char)p[i]) == name[i])
            i++;
        if (i == name_len)
            x->total = parse_count(p + name_len, n - name_len);
    }
    return n;
}

/* Progress callback: a non-zero answer makes libcurl abort the transfer. */
static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    const fv_cli_client *c = user;
    return c->cancel != NULL && *c->cancel != 0;
}

/* ---- Errors ------------------------------------------------------------- */

/* No answer: say why in the user's terms. */
static fv_err transport_error(fv_cli_client *c, CURLcode rc, const exchange *x, fv_cli_error *err)
{
    long os_errno = 0;
    curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
    const char *why = c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(rc);
    /* if/else, not a switch: CURLcode is libcurl's open-ended enum and we
     * name only the few codes worth their own sentence. */
    if (rc == CURLE_COULDNT_CONNECT)
        return fail(err, FV_E_UNAVAILABLE,
                    "could not connect to %s: %s; is flovyn-server running? "
                    "(--server / FLOVYN_SERVER)",
                    c->server, os_errno != 0 ? strerror((int)os_errno) : why);
    if (rc == CURLE_COULDNT_RESOLVE_HOST)
        return fail(err, FV_E_UNAVAILABLE,
                    "could not connect to %s: the host name does not resolve (%s) "
                    "(--server / FLOVYN_SERVER)",
                    c->server, why);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return fail(err, FV_E_TIMEOUT, "no answer from %s in time: %s", c->server, why);
    if (rc == CURLE_WRITE_ERROR && x->too_large)
        return fail(err, FV_E_INTERNAL, "the answer of %s is larger than 64 MiB", c->server);
    if (rc == CURLE_WRITE_ERROR && x->body.failed)
        return fail(err, FV_E_EXHAUSTED, "out of memory reading the answer of %s", c->server);
    if (rc == CURLE_OUT_OF_MEMORY)
        return fail(err, FV_E_EXHAUSTED, "out of memory talking to %s", c->server);
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        return fail(err, FV_E_ABORTED, "interrupted");
    return fail(err, FV_E_UNAVAILABLE, "request to %s failed: %s", c->server, why);
}

/* Our error code for a canonical name the server sent ("NOT_FOUND"). */
static bool err_from_name(const char *name, fv_err *out)
{
#define FV_CLI_ERR_BY_NAME(suffix, value, cname, msg)                                              \
    if (strcmp(name, cname) == 0) {                                                                \
        *out = FV_E_##suffix;                                                                      \
        return true;                                                                               \
    }
    FV_ERR_MAP(FV_CLI_ERR_BY_NAME)
#undef FV_CLI_ERR_BY_NAME
    return false;
}

/* The status code's meaning when the body names no code (DESIGN.md 6). */
static fv_err err_from_status(long status)
{
    switch (status) {
    case 400:
        return FV_E_INVALID;
    case 401:
        return FV_E_UNAUTHENTICATED;
    case 403:
        return FV_E_PERMISSION;
    case 404:
        return FV_E_NOT_FOUND;
    case 409:
        return FV_E_CONFLICT;
    case 413:
    case 429:
        return FV_E_EXHAUSTED;
    case 502:
    case 503:
        return FV_E_UNAVAILABLE;
    case 504:
        return FV_E_TIMEOUT;
    default:
        return FV_E_INTERNAL;
    }
}

/* At most `max` bytes of s with control characters shown as '?', so that a
 * body we print cannot drive the terminal. */
static void printable(char *dst, size_t dst_size, const char *s, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < dst_size; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\n' || ch == '\r')
            break;
        dst[j++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    dst[j] = '\0';
}

/* A hint after messages whose fix is on the user's side. */
static const char *status_hint(long status)
{
    switch (status) {
    case 401:
        return "; check the API key (--api-key / FLOVYN_API_KEY / the config file)";
    default:
        return "";
    }
}

/* The server said no: its error JSON, or what we can say without it. */
static fv_err http_error(fv_cli_client *c, long status, const exchange *x, fv_cli_error *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(fv_cli_buf_str(&x->body), x->body.n, 0, &jerr);
    json_t *e = json_is_object(doc) ? json_object_get(doc, "error") : NULL;
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *message = json_string_value(json_object_get(e, "message"));
    fv_err rc = FV_OK;
    if (code == NULL || !err_from_name(code, &rc))
        rc = err_from_status(status);
    char shown_code[48] = "";
    if (code != NULL)
        printable(shown_code, sizeof shown_code, code, strlen(code));
    if (err != NULL) {
        err->http_status = status;
        memcpy(err->server_code, shown_code, sizeof shown_code);
    }
    if (message != NULL) {
        char text[512];
        printable(text, sizeof text, message, strlen(message));
        fail(err, rc, "%s (%s, HTTP %ld)%s", text, code != NULL ? shown_code : "error", status,
             status_hint(status));
    } else {
        char text[200];
        printable(text, sizeof text, fv_cli_buf_str(&x->body), x->body.n);
        fail(err, rc, "the server at %s answered HTTP %ld%s%s%s", c->server, status,
             text[0] != '\0' ? ": \"" : "", text, text[0] != '\0' ? "\"" : "");
        if (err != NULL && status_hint(status)[0] != '\0') {
            size_t len = strlen(err->msg);
            snprintf(err->msg + len, sizeof err->msg - len, "%s", status_hint(status));
        }
    }
    json_decref(doc);
    return rc;
}

/* ---- One request -------------------------------------------------------- */

/*
 * method path?query with an optional JSON body. `path` and `query` are
 * already encoded; `path` starts with '/' and is appended to the tenant
 * prefix; `query` has no '?' and may be empty.
 */
static fv_err request(fv_cli_client *c, const char *method, const char *path, const char *query,
                      const char *body, fv_cli_response *out, fv_cli_error *err)
{
    memset(out, 0, sizeof *out);
    out->total = -1;
    exchange x;
    fv_cli_buf_init(&x.body, 0);
    x.total = -1;
    x.too_large = false;
    fv_cli_buf url;
    fv_cli_buf_init(&url, 0);
    fv_cli_buf_printf(&url, "%s/api/tenants/%s%s%s%s", c->server, c->tenant, path,
                      query != NULL && query[0] != '\0' ? "?" : "", query != NULL ? query : "");
    struct curl_slist *headers = NULL;
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
    headers = h;
    if (h != NULL && c->auth_header != NULL) {
        h = curl_slist_append(headers, c->auth_header);
        headers = h != NULL ? h : headers;
    }
    if (h != NULL && body != NULL) {
        h = curl_slist_append(headers, "Content-Type: application/json");
        headers = h != NULL ? h : headers;
    }
    fv_err rc = FV_OK;
    if (url.failed || h == NULL) {
        rc = fail(err, FV_E_EXHAUSTED, "out of memory building the request");
        goto done;
    }

    CURL *curl = c->curl;
    curl_easy_reset(curl); /* keeps the connection cache */
    c->errbuf[0] = '\0';
    CURLcode set = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (set == CURLE_OK)                                                                       \
            set = curl_easy_setopt(curl, opt, val);                                                \
    } while (0)
    SET(CURLOPT_URL, fv_cli_buf_str(&url));
    SET(CURLOPT_ERRORBUFFER, c->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, c->timeout_ms);
    SET(CURLOPT_USERAGENT, c->user_agent);
    SET(CURLOPT_HTTPHEADER, headers);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, &x);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, &x);
    if (c->cancel != NULL) {
        SET(CURLOPT_XFERINFOFUNCTION, on_progress);
        SET(CURLOPT_XFERINFODATA, c);
        SET(CURLOPT_NOPROGRESS, 0L);
    }
    if (body != NULL) {
        SET(CURLOPT_CUSTOMREQUEST, method);
        SET(CURLOPT_POSTFIELDS, body);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    } else if (strcmp(method, "GET") != 0) {
        SET(CURLOPT_CUSTOMREQUEST, method);
    }
#undef SET
    if (set != CURLE_OK) {
        rc = fail(err, FV_E_INTERNAL, "could not set up the request: %s", curl_easy_strerror(set));
        goto done;
    }

    CURLcode cc = curl_easy_perform(curl);
    if (cc != CURLE_OK) {
        rc = transport_error(c, cc, &x, err);
        goto done;
    }
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300) {
        rc = http_error(c, status, &x, err);
        goto done;
    }
    if (x.body.failed) {
        rc = fail(err, FV_E_EXHAUSTED, "out of memory reading the answer of %s", c->server);
        goto done;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(fv_cli_buf_str(&x.body), x.body.n, 0, &jerr);
    if (doc == NULL) {
        rc = fail(err, FV_E_INTERNAL,
                  "the answer of %s to %s %s is not JSON: %s (line %d, column %d)", c->server,
                  method, path, jerr.text, jerr.line, jerr.column);
        goto done;
    }
    out->http_status = status;
    out->json = doc;
    out->total = x.total;
    out->body_len = x.body.n;
    if (x.body.p == NULL) {
        out->body = fv_strdup("");
        if (out->body == NULL) {
            fv_cli_response_release(out);
            rc = fail(err, FV_E_EXHAUSTED, "out of memory");
            goto done;
        }
    } else {
        out->body = x.body.p; /* the buffer's text is the response's now */
        fv_cli_buf_init(&x.body, 0);
    }

done:
    curl_slist_free_all(headers);
    fv_cli_buf_release(&url);
    fv_cli_buf_release(&x.body);
    return rc;
}

/* ---- Query strings ------------------------------------------------------ */

typedef struct query {
    fv_cli_client *c;
    fv_cli_buf text;
} query;

static void query_init(query *q, fv_cli_client *c)
{
    q->c = c;
    fv_cli_buf_init(&q->text, 0);
}

static void query_str(query *q, const char *name, const char *value)
{
    if (value == NULL)
        return;
    char *e = escape(q->c->curl, value, strlen(value));
    if (e == NULL) {
        q->text.failed = true;
        return;
    }
    fv_cli_buf_printf(&q->text, "%s%s=%s", q->text.n > 0 ? "&" : "", name, e);
    fv_free(e);
}

static void query_num(query *q, const char *name, long long value)
{
    if (value < 0)
        return;
    fv_cli_buf_printf(&q->text, "%s%s=%lld", q->text.n > 0 ? "&" : "", name, value);
}

/* A path "/<prefix>/<escaped segment><suffix>". */
static char *segment_path(fv_cli_client *c, const char *prefix, const char *segment,
                          const char *suffix)
{
    char *e = escape(c->curl, segment, strlen(segment));
    if (e == NULL)
        return NULL;
    fv_cli_buf p;
    fv_cli_buf_init(&p, 0);
    fv_cli_buf_printf(&p, "%s/%s%s", prefix, e, suffix);
    fv_free(e);
    if (p.failed) {
        fv_cli_buf_release(&p);
        return NULL;
    }
    return p.p;
}

static const char *definitions_path(fv_cli_def_class cls)
{
    return cls == FV_CLI_DEF_WORKFLOW ? "/workflow-definitions" : "/task-definitions";
}

/* GET path?<query text>, then release q. A query string that ran out of
 * memory is EXHAUSTED, without a request. */
static fv_err get_with_query(fv_cli_client *c, const char *path, query *q, fv_cli_response *out,
                             fv_cli_error *err)
{
    fv_err rc;
    if (q->text.failed) {
        memset(out, 0, sizeof *out);
        rc = fail(err, FV_E_EXHAUSTED, "out of memory building the request");
    } else {
        rc = request(c, "GET", path, fv_cli_buf_str(&q->text), NULL, out, err);
    }
    fv_cli_buf_release(&q->text);
    return rc;
}

/* GET "<prefix>/<escaped segment>": one worker or definition. */
static fv_err get_one(fv_cli_client *c, const char *prefix, const char *segment,
                      fv_cli_response *out, fv_cli_error *err)
{
    memset(out, 0, sizeof *out);
    char *path = segment_path(c, prefix, segment, "");
    if (path == NULL)
        return fail(err, FV_E_EXHAUSTED, "out of memory building the request");
    fv_err rc = request(c, "GET", path, NULL, NULL, out, err);
    fv_free(path);
    return rc;
}

/* ---- Routes ------------------------------------------------------------- */

fv_err fv_cli_list_workers(fv_cli_client *c, const fv_cli_worker_query *q, fv_cli_response *out,
                           fv_cli_error *err)
{
    error_clear(err);
    query qs;
    query_init(&qs, c);
    if (q != NULL) {
        query_str(&qs, "type", q->type);
        query_str(&qs, "status", q->status);
        query_str(&qs, "space", q->space);
        query_num(&qs, "limit", q->limit);
        query_num(&qs, "offset", q->offset);
    }
    return get_with_query(c, "/workers", &qs, out, err);
}

fv_err fv_cli_get_worker(fv_cli_client *c, const char *worker_id, fv_cli_response *out,
                         fv_cli_error *err)
{
    error_clear(err);
    return get_one(c, "/workers", worker_id, out, err);
}

fv_err fv_cli_list_definitions(fv_cli_client *c, fv_cli_def_class cls,
                               const fv_cli_definition_query *q, fv_cli_response *out,
                               fv_cli_error *err)
{
    error_clear(err);
    query qs;
    query_init(&qs, c);
    if (q != NULL) {
        query_str(&qs, "availabilityStatus", q->availability);
        query_str(&qs, "tag", q->tag);
        query_str(&qs, "space", q->space);
        query_num(&qs, "limit", q->limit);
        query_num(&qs, "offset", q->offset);
    }
    return get_with_query(c, definitions_path(cls), &qs, out, err);
}

fv_err fv_cli_get_definition(fv_cli_client *c, fv_cli_def_class cls, const char *kind,
                             fv_cli_response *out, fv_cli_error *err)
{
    error_clear(err);
    return get_one(c, definitions_path(cls), kind, out, err);
}

fv_err fv_cli_configure_definition(fv_cli_client *c, fv_cli_def_class cls, const char *kind,
                                   const json_t *patch, fv_cli_response *out, fv_cli_error *err)
{
    error_clear(err);
    memset(out, 0, sizeof *out);
    size_t body_len = json_dumpb(patch, NULL, 0, JSON_COMPACT);
    char *body = body_len > 0 ? fv_malloc(body_len + 1) : NULL;
    if (body != NULL) {
        json_dumpb(patch, body, body_len, JSON_COMPACT);
        body[body_len] = '\0';
    }
    char *path = segment_path(c, definitions_path(cls), kind, "/configuration");
    fv_err rc;
    if (body == NULL || path == NULL)
        rc = fail(err, FV_E_EXHAUSTED, "out of memory building the request");
    else
        rc = request(c, "PATCH", path, NULL, body, out, err);
    fv_free(path);
    fv_free(body);
    return rc;
}
