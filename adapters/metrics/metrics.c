/*
 * The metrics of flovyn-server on the registry (metrics.h, registry.h).
 *
 * Each dimension is a fixed table: HTTP routes, gRPC methods and jobs are
 * registered at startup and get the index of the first of their series (a
 * block: one series per status, per code, per result), stored here and
 * published with a release store of the count that observers load with
 * acquire. Registration holds this object's mutex, so the series of one
 * block are contiguous; a registration that fails half-way leaves orphan
 * series that no index reaches (sparse families never show them).
 */
#include "adapters/metrics/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "adapters/metrics/registry.h"
#include "core/definition.h"
#include "core/queries/registry_counts.h"
#include "core/queries/task_queries.h"
#include "core/util/alloc.h"
#include "core/worker.h"

/* HTTP statuses with a label value of their own; the others count as their
 * class, or "other" outside 100..599. */
/* clang-format off */
#define HTTP_STATUSES(X)                                                                           \
    X(200) X(201) X(202) X(204) X(206)                                                             \
    X(301) X(302) X(304) X(307) X(308)                                                             \
    X(400) X(401) X(403) X(404) X(405) X(406) X(408) X(409) X(410) X(411) X(412) X(413) X(414)     \
    X(415) X(416) X(422) X(429) X(431)                                                             \
    X(500) X(501) X(502) X(503) X(504)
/* clang-format on */

enum {
#define X(c) ST_##c,
    HTTP_STATUSES(X)
#undef X
        ST_1XX,
    ST_2XX,
    ST_3XX,
    ST_4XX,
    ST_5XX,
    ST_OTHER,
    N_STATUS
};

static const char *const status_labels[N_STATUS] = {
#define X(c) #c,
    HTTP_STATUSES(X)
#undef X
        "1xx",
    "2xx",
    "3xx",
    "4xx",
    "5xx",
    "other",
};

/* Slot + 1 of each listed status; 0 = not listed. */
static const unsigned char status_slot_plus1[600] = {
#define X(c) [c] = ST_##c + 1,
    HTTP_STATUSES(X)
#undef X
};

static size_t status_slot(int status)
{
    if (status < 100 || status > 599)
        return ST_OTHER;
    if (status_slot_plus1[status] != 0)
        return (size_t)status_slot_plus1[status] - 1;
    return ST_1XX + (size_t)(status / 100 - 1);
}

/* Methods of unmatched requests: route ids 0..N_UNMATCHED-1. */
static const char *const unmatched_methods[] = {"GET",   "HEAD",   "POST",    "PUT",
                                                "PATCH", "DELETE", "OPTIONS", "other"};
#define N_UNMATCHED (sizeof unmatched_methods / sizeof unmatched_methods[0])

static size_t unmatched_index(const char *method)
{
    if (method != NULL) {
        for (size_t i = 0; i + 1 < N_UNMATCHED; i++)
            if (strcmp(method, unmatched_methods[i]) == 0)
                return i;
    }
    return N_UNMATCHED - 1;
}

/* grpc_status_code names, 0..16 (grpc/status.h; doc/statuscodes.md). */
static const char *const grpc_codes[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};
#define N_GRPC_CODES  (sizeof grpc_codes / sizeof grpc_codes[0])
#define GRPC_UNKNOWN  2
#define ROUTE_LEN_MAX 1024
#define NAME_LEN_MAX  256

static const fv_worker_status worker_statuses[] = {FV_STATUS_ONLINE, FV_STATUS_DEGRADED,
                                                   FV_STATUS_OFFLINE};
static const fv_def_class def_classes[] = {FV_DEF_WORKFLOW, FV_DEF_TASK};
static const fv_availability availabilities[] = {FV_AVAIL_AVAILABLE, FV_AVAIL_DEGRADED,
                                                 FV_AVAIL_UNAVAILABLE};

struct fv_metrics {
    fv_metrics_registry *reg;
    const fv_deps *deps;
    pthread_mutex_t mu; /* registrations */

    fv_metric *build_info, *start_time;
    fv_metric *http_requests, *http_duration;
    fv_metric *grpc_calls, *grpc_duration;
    fv_metric *workers, *definitions;
    fv_metric *job_runs, *job_changes, *job_duration;
    fv_metric *backlog, *backlog_age;

    /* Series of the backlog families, one per (tenant, kind) seen so far,
     * the same index in both; sorted by key ("<tenant id> <kind>") for
     * bsearch. Only the collector (under mu) touches them. */
    struct backlog_series {
        char *key;
        size_t idx;
    } * backlog_keys;
    size_t n_backlog;

    /* HTTP routes: ids 0..N_UNMATCHED-1 are the unmatched ones. */
    atomic_int n_routes;
    char *route_method[FV_METRICS_HTTP_ROUTES_MAX];
    char *route_path[FV_METRICS_HTTP_ROUTES_MAX];
    size_t route_requests[FV_METRICS_HTTP_ROUTES_MAX]; /* first of N_STATUS series */
    size_t route_duration[FV_METRICS_HTTP_ROUTES_MAX];

    /* gRPC: block 0 is "unknown", block i + 1 the table's method i. */
    atomic_size_t n_grpc; /* methods of the table */
    bool grpc_set;
    size_t grpc_calls_base[FV_METRICS_GRPC_METHODS_MAX + 1]; /* first of N_GRPC_CODES */
    size_t grpc_duration_series[FV_METRICS_GRPC_METHODS_MAX + 1];

    /* Jobs. */
    atomic_int n_jobs;
    char *job_names[FV_METRICS_JOBS_MAX];
    size_t job_runs_base[FV_METRICS_JOBS_MAX]; /* ok, error */
    size_t job_changes_series[FV_METRICS_JOBS_MAX];
    size_t job_duration_series[FV_METRICS_JOBS_MAX];
};

/* ---- time ------------------------------------------------------------------- */

int64_t fv_metrics_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double fv_metrics_seconds_since(int64_t start_ns)
{
    return (double)(fv_metrics_now_ns() - start_ns) / 1e9;
}

/* ---- construction --------------------------------------------------------------- */

static fv_metric *family(fv_metrics *m, fv_metric_type type, const char *name, const char *help,
                         const char *const *labels, size_t n_labels, size_t max_series, bool sparse,
                         bool scrape, fv_error *err)
{
    fv_metric_desc d;

    memset(&d, 0, sizeof d);
    d.type = type;
    d.name = name;
    d.help = help;
    d.labels = labels;
    d.n_labels = n_labels;
    d.max_series = max_series;
    d.sparse = sparse;
    d.scrape = scrape;
    return fv_metrics_registry_add(m->reg, &d, err);
}

static fv_err create_families(fv_metrics *m, fv_error *err)
{
    static const char *const l_version[] = {"version"};
    static const char *const l_route_method_status[] = {"route", "method", "status"};
    static const char *const l_route_method[] = {"route", "method"};
    static const char *const l_method_code[] = {"method", "code"};
    static const char *const l_method[] = {"method"};
    static const char *const l_status[] = {"status"};
    static const char *const l_class_availability[] = {"class", "availability"};
    static const char *const l_job_result[] = {"job", "result"};
    static const char *const l_job[] = {"job"};
    const size_t grpc_blocks = FV_METRICS_GRPC_METHODS_MAX + 1;

    m->build_info = family(m, FV_METRIC_GAUGE, "flovyn_build_info",
                           "Build information of this flovyn-server; the value is always 1.",
                           l_version, 1, 1, false, false, err);
    if (m->build_info == NULL)
        return err->code;
    m->start_time = family(m, FV_METRIC_GAUGE, "process_start_time_seconds",
                           "Start time of the process since the Unix epoch, in seconds.", NULL, 0,
                           1, false, false, err);
    if (m->start_time == NULL)
        return err->code;
    m->http_requests = family(m, FV_METRIC_COUNTER, "flovyn_http_requests_total",
                              "HTTP requests answered, by route template, method and status.",
                              l_route_method_status, 3,
                              (size_t)FV_METRICS_HTTP_ROUTES_MAX * N_STATUS, true, false, err);
    if (m->http_requests == NULL)
        return err->code;
    m->http_duration = family(m, FV_METRIC_HISTOGRAM, "flovyn_http_request_duration_seconds",
                              "Time from the arrival of an HTTP request to its answer, by route "
                              "template and method.",
                              l_route_method, 2, FV_METRICS_HTTP_ROUTES_MAX, true, false, err);
    if (m->http_duration == NULL)
        return err->code;
    m->grpc_calls = family(m, FV_METRIC_COUNTER, "flovyn_grpc_calls_total",
                           "gRPC calls completed, by method and status code.", l_method_code, 2,
                           grpc_blocks * N_GRPC_CODES, true, false, err);
    if (m->grpc_calls == NULL)
        return err->code;
    m->grpc_duration = family(m, FV_METRIC_HISTOGRAM, "flovyn_grpc_call_duration_seconds",
                              "Time from the arrival of a gRPC call to its completion, by method.",
                              l_method, 1, grpc_blocks, true, false, err);
    if (m->grpc_duration == NULL)
        return err->code;
    if (m->deps != NULL) {
        m->workers = family(m, FV_METRIC_GAUGE, "flovyn_workers",
                            "Workers of every tenant by effective status, counted at scrape time.",
                            l_status, 1, 3, false, true, err);
        if (m->workers == NULL)
            return err->code;
        m->definitions =
            family(m, FV_METRIC_GAUGE, "flovyn_definitions",
                   "Workflow and task definitions of every tenant by class and effective "
                   "availability, counted at scrape time.",
                   l_class_availability, 2, 6, false, true, err);
        if (m->definitions == NULL)
            return err->code;
    }
    m->job_runs = family(m, FV_METRIC_COUNTER, "flovyn_scheduler_job_runs_total",
                         "Scheduler job runs, by job and result.", l_job_result, 2,
                         2 * FV_METRICS_JOBS_MAX, false, false, err);
    if (m->job_runs == NULL)
        return err->code;
    m->job_changes = family(m, FV_METRIC_COUNTER, "flovyn_scheduler_job_changes_total",
                            "Changes made by scheduler job runs (status transitions, "
                            "availability changes, removals), by job.",
                            l_job, 1, FV_METRICS_JOBS_MAX, false, false, err);
    if (m->job_changes == NULL)
        return err->code;
    m->job_duration = family(m, FV_METRIC_HISTOGRAM, "flovyn_scheduler_job_duration_seconds",
                             "Duration of scheduler job runs, by job.", l_job, 1,
                             FV_METRICS_JOBS_MAX, false, false, err);
    if (m->job_duration == NULL)
        return err->code;
    if (m->deps != NULL && m->deps->tasks.ops != NULL) {
        static const char *const l_tenant_kind[] = {"tenant_id", "kind"};
        m->backlog = family(m, FV_METRIC_GAUGE, "flovyn_task_backlog",
                            "PENDING task executions by tenant and kind (scheduled ones "
                            "included), counted at scrape time.",
                            l_tenant_kind, 2, FV_METRICS_BACKLOG_SERIES_MAX, false, true, err);
        if (m->backlog == NULL)
            return err->code;
        m->backlog_age = family(m, FV_METRIC_GAUGE, "flovyn_task_backlog_oldest_age_seconds",
                                "Age of the oldest PENDING task execution by tenant and kind "
                                "(0 when none), at scrape time.",
                                l_tenant_kind, 2, FV_METRICS_BACKLOG_SERIES_MAX, false, true, err);
        if (m->backlog_age == NULL)
            return err->code;
        m->backlog_keys = fv_calloc(FV_METRICS_BACKLOG_SERIES_MAX, sizeof *m->backlog_keys);
        if (m->backlog_keys == NULL)
            return fv_error_set(err, FV_E_EXHAUSTED, "out of memory for the metrics");
    }
    return FV_OK;
}

/* Add n consecutive series; *first is the first one's index. */
static fv_err add_block(fv_metric *f, const char *const *const *values, size_t n, size_t *first,
                        fv_error *err)
{
    for (size_t i = 0; i < n; i++) {
        size_t idx;
        fv_err rc = fv_metric_series(f, values[i], &idx, err);
        if (rc != FV_OK)
            return rc;
        if (i == 0)
            *first = idx;
    }
    return FV_OK;
}

/* The series of route (method, path) as route id `id` (mutex held). */
static fv_err add_route_series(fv_metrics *m, int id, const char *method, const char *path,
                               fv_error *err)
{
    const char *vals[N_STATUS][3];
    const char *const *rows[N_STATUS];
    const char *hist[2] = {path, method};
    fv_err rc;

    for (size_t s = 0; s < N_STATUS; s++) {
        vals[s][0] = path;
        vals[s][1] = method;
        vals[s][2] = status_labels[s];
        rows[s] = vals[s];
    }
    rc = add_block(m->http_requests, rows, N_STATUS, &m->route_requests[id], err);
    if (rc == FV_OK)
        rc = fv_metric_series(m->http_duration, hist, &m->route_duration[id], err);
    return rc;
}

/* The series of gRPC block b (mutex held). */
static fv_err add_grpc_series(fv_metrics *m, size_t b, const char *path, fv_error *err)
{
    const char *vals[N_GRPC_CODES][2];
    const char *const *rows[N_GRPC_CODES];
    const char *one[1] = {path};
    fv_err rc;

    for (size_t c = 0; c < N_GRPC_CODES; c++) {
        vals[c][0] = path;
        vals[c][1] = grpc_codes[c];
        rows[c] = vals[c];
    }
    rc = add_block(m->grpc_calls, rows, N_GRPC_CODES, &m->grpc_calls_base[b], err);
    if (rc == FV_OK)
        rc = fv_metric_series(m->grpc_duration, one, &m->grpc_duration_series[b], err);
    return rc;
}

static fv_err add_fixed_series(fv_metrics *m, const char *version, double start, fv_error *err)
{
    const char *v[1] = {version};
    size_t idx;
    fv_err rc;

    rc = fv_metric_series(m->build_info, v, &idx, err);
    if (rc != FV_OK)
        return rc;
    fv_metric_set(m->build_info, idx, 1);
    rc = fv_metric_series(m->start_time, NULL, &idx, err);
    if (rc != FV_OK)
        return rc;
    fv_metric_set(m->start_time, idx, start);
    for (size_t i = 0; i < N_UNMATCHED; i++) {
        rc = add_route_series(m, (int)i, unmatched_methods[i], "unmatched", err);
        if (rc != FV_OK)
            return rc;
    }
    atomic_store_explicit(&m->n_routes, (int)N_UNMATCHED, memory_order_release);
    rc = add_grpc_series(m, 0, "unknown", err);
    if (rc != FV_OK)
        return rc;
    if (m->workers != NULL) {
        for (size_t i = 0; i < 3; i++) {
            const char *s[1] = {fv_worker_status_name(worker_statuses[i])};
            rc = fv_metric_series(m->workers, s, &idx, err);
            if (rc != FV_OK)
                return rc;
        }
        for (size_t c = 0; c < 2; c++) {
            for (size_t a = 0; a < 3; a++) {
                const char *s[2] = {fv_def_class_name(def_classes[c]),
                                    fv_availability_name(availabilities[a])};
                rc = fv_metric_series(m->definitions, s, &idx, err);
                if (rc != FV_OK)
                    return rc;
            }
        }
    }
    return FV_OK;
}

/* The collector of flovyn_workers and flovyn_definitions. Series indexes
 * follow the order of add_fixed_series. */
static fv_err collect_counts(void *user, fv_metrics_scrape *s, fv_arena *a, fv_error *err)
{
    const fv_metrics *m = user;
    fv_registry_counts c;
    fv_err rc;

    (void)a;
    rc = fv_query_registry_counts(m->deps, &c, err);
    if (rc != FV_OK)
        return rc;
    fv_metrics_scrape_set(s, m->workers, 0, (double)c.workers.online);
    fv_metrics_scrape_set(s, m->workers, 1, (double)c.workers.degraded);
    fv_metrics_scrape_set(s, m->workers, 2, (double)c.workers.offline);
    fv_metrics_scrape_set(s, m->definitions, 0, (double)c.workflows.available);
    fv_metrics_scrape_set(s, m->definitions, 1, (double)c.workflows.degraded);
    fv_metrics_scrape_set(s, m->definitions, 2, (double)c.workflows.unavailable);
    fv_metrics_scrape_set(s, m->definitions, 3, (double)c.tasks.available);
    fv_metrics_scrape_set(s, m->definitions, 4, (double)c.tasks.degraded);
    fv_metrics_scrape_set(s, m->definitions, 5, (double)c.tasks.unavailable);
    return FV_OK;
}

static int backlog_key_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct backlog_series *)elem)->key);
}

/* The series of (tenant, kind) in both backlog families, added on first
 * sight; false when the families are full (that backlog is not shown). */
static bool backlog_series(fv_metrics *m, const char *tenant, const char *kind, size_t *idx)
{
    char key[FV_UUID_STR_LEN + 1 + FV_TASK_KIND_MAX + 1];
    snprintf(key, sizeof key, "%s %s", tenant, kind);
    const struct backlog_series *hit =
        m->n_backlog
            ? bsearch(key, m->backlog_keys, m->n_backlog, sizeof *m->backlog_keys, backlog_key_cmp)
            : NULL;
    if (hit != NULL) {
        *idx = hit->idx;
        return true;
    }
    if (m->n_backlog == FV_METRICS_BACKLOG_SERIES_MAX)
        return false;
    const char *values[2] = {tenant, kind};
    size_t i1, i2;
    char *copy = fv_strdup(key);
    if (copy == NULL || fv_metric_series(m->backlog, values, &i1, NULL) != FV_OK) {
        fv_free(copy);
        return false;
    }
    if (fv_metric_series(m->backlog_age, values, &i2, NULL) != FV_OK || i1 != i2) {
        /* Orphan series no index reaches; scrape families omit them. */
        fv_free(copy);
        return false;
    }
    size_t pos = 0;
    while (pos < m->n_backlog && strcmp(m->backlog_keys[pos].key, key) < 0)
        pos++;
    memmove(&m->backlog_keys[pos + 1], &m->backlog_keys[pos],
            (m->n_backlog - pos) * sizeof *m->backlog_keys);
    m->backlog_keys[pos] = (struct backlog_series){copy, i1};
    m->n_backlog++;
    *idx = i1;
    return true;
}

/* The collector of the backlog families: every (tenant, kind) seen since the
 * start, 0 once drained. */
static fv_err collect_backlog(void *user, fv_metrics_scrape *s, fv_arena *a, fv_error *err)
{
    fv_metrics *m = user;
    fv_task_backlog_list bl;
    struct timespec ts;

    fv_err rc = fv_query_task_backlog(m->deps, a, NULL, &bl, err);
    if (rc != FV_OK)
        return rc;
    clock_gettime(CLOCK_REALTIME, &ts);
    fv_time now = (fv_time)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n_backlog; i++) {
        fv_metrics_scrape_set(s, m->backlog, m->backlog_keys[i].idx, 0);
        fv_metrics_scrape_set(s, m->backlog_age, m->backlog_keys[i].idx, 0);
    }
    for (size_t i = 0; i < bl.n; i++) {
        char tenant[FV_UUID_STR_LEN + 1];
        size_t idx;
        fv_uuid_format(&bl.items[i].tenant_id, tenant);
        if (!backlog_series(m, tenant, bl.items[i].kind, &idx))
            continue;
        double age =
            bl.items[i].oldest_created_at == FV_TIME_NONE || bl.items[i].oldest_created_at > now
                ? 0
                : (double)(now - bl.items[i].oldest_created_at) / 1000.0;
        fv_metrics_scrape_set(s, m->backlog, idx, (double)bl.items[i].pending);
        fv_metrics_scrape_set(s, m->backlog_age, idx, age);
    }
    pthread_mutex_unlock(&m->mu);
    return FV_OK;
}

fv_metrics *fv_metrics_new(const fv_metrics_config *cfg, fv_error *err)
{
    fv_metrics *m = fv_calloc(1, sizeof *m);
    fv_error local;
    double start = cfg->start_time_seconds;
    fv_err rc;

    if (err == NULL)
        err = &local;
    if (m == NULL) {
        fv_error_set(err, FV_E_EXHAUSTED, "out of memory for the metrics");
        return NULL;
    }
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        fv_free(m);
        fv_error_set(err, FV_E_EXHAUSTED, "could not create a mutex");
        return NULL;
    }
    atomic_init(&m->n_routes, 0);
    atomic_init(&m->n_grpc, 0);
    atomic_init(&m->n_jobs, 0);
    m->deps = cfg->deps;
    m->reg = fv_metrics_registry_new();
    if (m->reg == NULL) {
        fv_error_set(err, FV_E_EXHAUSTED, "out of memory for the metrics");
        goto fail;
    }
    if (start == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        start = (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1e3;
    }
    rc = create_families(m, err);
    if (rc == FV_OK)
        rc = add_fixed_series(m, cfg->version != NULL ? cfg->version : "unknown", start, err);
    if (rc == FV_OK && m->deps != NULL)
        rc = fv_metrics_registry_collector(m->reg, collect_counts, m, err);
    if (rc == FV_OK && m->backlog != NULL)
        rc = fv_metrics_registry_collector(m->reg, collect_backlog, m, err);
    if (rc != FV_OK)
        goto fail;
    return m;

fail:
    fv_metrics_free(m);
    return NULL;
}

void fv_metrics_free(fv_metrics *m)
{
    if (m == NULL)
        return;
    for (int i = 0; i < atomic_load(&m->n_routes); i++) {
        fv_free(m->route_method[i]);
        fv_free(m->route_path[i]);
    }
    for (int i = 0; i < atomic_load(&m->n_jobs); i++)
        fv_free(m->job_names[i]);
    for (size_t i = 0; i < m->n_backlog; i++)
        fv_free(m->backlog_keys[i].key);
    fv_free(m->backlog_keys);
    fv_metrics_registry_free(m->reg);
    pthread_mutex_destroy(&m->mu);
    fv_free(m);
}

/* ---- HTTP ------------------------------------------------------------------------ */

static bool valid_method(const char *s)
{
    size_t n = 0;

    if (s == NULL)
        return false;
    for (; s[n] != '\0'; n++)
        if (s[n] < 'A' || s[n] > 'Z')
            return false;
    return n > 0 && n <= 16;
}

fv_err fv_metrics_http_route(fv_metrics *m, const char *method, const char *route, int *id,
                             fv_error *err)
{
    int n;
    fv_err rc;

    *id = -1;
    if (m == NULL)
        return FV_OK;
    if (!valid_method(method))
        return fv_error_set(err, FV_E_INVALID, "invalid HTTP method \"%s\"",
                            method != NULL ? method : "");
    if (route == NULL || route[0] == '\0' || strlen(route) > ROUTE_LEN_MAX)
        return fv_error_set(err, FV_E_INVALID, "a route needs a template of 1..%d bytes",
                            ROUTE_LEN_MAX);
    pthread_mutex_lock(&m->mu);
    n = atomic_load_explicit(&m->n_routes, memory_order_relaxed);
    for (int i = (int)N_UNMATCHED; i < n; i++) {
        if (strcmp(m->route_method[i], method) == 0 && strcmp(m->route_path[i], route) == 0) {
            pthread_mutex_unlock(&m->mu);
            *id = i;
            return FV_OK;
        }
    }
    if (n == FV_METRICS_HTTP_ROUTES_MAX) {
        pthread_mutex_unlock(&m->mu);
        return fv_error_set(err, FV_E_EXHAUSTED, "more than %d HTTP routes for metrics",
                            FV_METRICS_HTTP_ROUTES_MAX - (int)N_UNMATCHED);
    }
    m->route_method[n] = fv_strdup(method);
    m->route_path[n] = fv_strdup(route);
    if (m->route_method[n] == NULL || m->route_path[n] == NULL)
        rc = fv_error_set(err, FV_E_EXHAUSTED, "out of memory for a route's metrics");
    else
        rc = add_route_series(m, n, method, route, err);
    if (rc != FV_OK) {
        fv_free(m->route_method[n]);
        fv_free(m->route_path[n]);
        m->route_method[n] = m->route_path[n] = NULL;
        pthread_mutex_unlock(&m->mu);
        return rc;
    }
    atomic_store_explicit(&m->n_routes, n + 1, memory_order_release);
    pthread_mutex_unlock(&m->mu);
    *id = n;
    return FV_OK;
}

void fv_metrics_http_observe(fv_metrics *m, int route, int status, double seconds)
{
    if (m == NULL || route < 0 || route >= atomic_load_explicit(&m->n_routes, memory_order_acquire))
        return;
    fv_metric_add(m->http_requests, m->route_requests[route] + status_slot(status), 1);
    fv_metric_observe(m->http_duration, m->route_duration[route], seconds);
}

void fv_metrics_http_observe_unmatched(fv_metrics *m, const char *method, int status,
                                       double seconds)
{
    fv_metrics_http_observe(m, (int)unmatched_index(method), status, seconds);
}

/* ---- gRPC ------------------------------------------------------------------------ */

fv_err fv_metrics_grpc_methods(fv_metrics *m, const char *const *paths, size_t n, fv_error *err)
{
    fv_err rc = FV_OK;

    if (m == NULL)
        return FV_OK;
    if (n > FV_METRICS_GRPC_METHODS_MAX)
        return fv_error_set(err, FV_E_EXHAUSTED, "more than %d gRPC methods for metrics",
                            FV_METRICS_GRPC_METHODS_MAX);
    for (size_t i = 0; i < n; i++)
        if (paths == NULL || paths[i] == NULL)
            return fv_error_set(err, FV_E_INVALID, "gRPC method %zu has no path", i);
    pthread_mutex_lock(&m->mu);
    if (m->grpc_set) {
        pthread_mutex_unlock(&m->mu);
        return fv_error_set(err, FV_E_INVALID, "the gRPC methods of the metrics are set already");
    }
    m->grpc_set = true;
    for (size_t i = 0; i < n && rc == FV_OK; i++) {
        rc = add_grpc_series(m, i + 1, paths[i], err);
        if (rc == FV_OK)
            atomic_store_explicit(&m->n_grpc, i + 1, memory_order_release);
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

void fv_metrics_grpc_observe(fv_metrics *m, size_t method, int code, double seconds)
{
    size_t b, c;

    if (m == NULL)
        return;
    b = method < atomic_load_explicit(&m->n_grpc, memory_order_acquire) ? method + 1 : 0;
    c = code >= 0 && (size_t)code < N_GRPC_CODES ? (size_t)code : GRPC_UNKNOWN;
    fv_metric_add(m->grpc_calls, m->grpc_calls_base[b] + c, 1);
    fv_metric_observe(m->grpc_duration, m->grpc_duration_series[b], seconds);
}

/* ---- Scheduler ----------------------------------------------------------------------- */

fv_err fv_metrics_job(fv_metrics *m, const char *name, int *id, fv_error *err)
{
    const char *ok[2], *fail[2], *one[1];
    const char *const *rows[2];
    int n;
    fv_err rc;

    *id = -1;
    if (m == NULL)
        return FV_OK;
    if (name == NULL || name[0] == '\0' || strlen(name) > NAME_LEN_MAX)
        return fv_error_set(err, FV_E_INVALID, "a job needs a name of 1..%d bytes", NAME_LEN_MAX);
    pthread_mutex_lock(&m->mu);
    n = atomic_load_explicit(&m->n_jobs, memory_order_relaxed);
    for (int i = 0; i < n; i++) {
        if (strcmp(m->job_names[i], name) == 0) {
            pthread_mutex_unlock(&m->mu);
            *id = i;
            return FV_OK;
        }
    }
    if (n == FV_METRICS_JOBS_MAX) {
        pthread_mutex_unlock(&m->mu);
        return fv_error_set(err, FV_E_EXHAUSTED, "more than %d jobs for metrics",
                            FV_METRICS_JOBS_MAX);
    }
    ok[0] = fail[0] = one[0] = name;
    ok[1] = "ok";
    fail[1] = "error";
    rows[0] = ok;
    rows[1] = fail;
    m->job_names[n] = fv_strdup(name);
    if (m->job_names[n] == NULL)
        rc = fv_error_set(err, FV_E_EXHAUSTED, "out of memory for a job's metrics");
    else
        rc = add_block(m->job_runs, rows, 2, &m->job_runs_base[n], err);
    if (rc == FV_OK)
        rc = fv_metric_series(m->job_changes, one, &m->job_changes_series[n], err);
    if (rc == FV_OK)
        rc = fv_metric_series(m->job_duration, one, &m->job_duration_series[n], err);
    if (rc != FV_OK) {
        fv_free(m->job_names[n]);
        m->job_names[n] = NULL;
        pthread_mutex_unlock(&m->mu);
        return rc;
    }
    atomic_store_explicit(&m->n_jobs, n + 1, memory_order_release);
    pthread_mutex_unlock(&m->mu);
    *id = n;
    return FV_OK;
}

void fv_metrics_job_observe(fv_metrics *m, int job, bool ok, uint64_t changes, double seconds)
{
    if (m == NULL || job < 0 || job >= atomic_load_explicit(&m->n_jobs, memory_order_acquire))
        return;
    fv_metric_add(m->job_runs, m->job_runs_base[job] + (ok ? 0 : 1), 1);
    fv_metric_add(m->job_changes, m->job_changes_series[job], changes);
    fv_metric_observe(m->job_duration, m->job_duration_series[job], seconds);
}

/* ---- Rendering ----------------------------------------------------------------------- */

fv_err fv_metrics_render(const fv_metrics *m, fv_arena *a, const char **text, size_t *n,
                         fv_error *err)
{
    if (m == NULL) {
        *text = fv_arena_strdup(a, "");
        *n = 0;
        if (*text == NULL)
            return fv_error_set(err, FV_E_EXHAUSTED, "out of memory rendering the metrics");
        return FV_OK;
    }
    return fv_metrics_registry_render(m->reg, a, text, n, err);
}
