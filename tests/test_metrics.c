/*
 * The metrics registry and its text exposition (adapters/metrics/registry.h)
 * and the metrics of the server on it (adapters/metrics/metrics.h): exact
 * sums under concurrent updates, the exact text of a small registry, label
 * and help escaping, refused descriptions, scrape-time collectors, arena and
 * allocation failures, and the server's families on the in-memory bundle of
 * the fixture (workers in every status, definitions in every availability).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/metrics/metrics.h"
#include "adapters/metrics/registry.h"
#include "core/usecases/task_usecases.h"
#include "core/usecases/worker_usecases.h"
#include "core/util/alloc.h"
#include "tests/support/cunit_main.h"
#include "tests/support/fixture.h"

#define SEC ((int64_t)1000)

/* ---- helpers ------------------------------------------------------------------ */

static fv_metric *add(fv_metrics_registry *r, fv_metric_type type, const char *name,
                      const char *help, const char *const *labels, size_t n_labels, size_t cap)
{
    fv_metric_desc d;
    fv_error err;
    memset(&d, 0, sizeof d);
    d.type = type;
    d.name = name;
    d.help = help;
    d.labels = labels;
    d.n_labels = n_labels;
    d.max_series = cap;
    fv_metric *m = fv_metrics_registry_add(r, &d, &err);
    if (m == NULL)
        fprintf(stderr, "\n  add %s: %s\n", name, err.msg);
    CU_ASSERT_FATAL(m != NULL);
    return m;
}

static size_t series(fv_metric *m, const char *const *values)
{
    size_t i = 0;
    fv_error err;
    fv_err rc = fv_metric_series(m, values, &i, &err);
    if (rc != FV_OK)
        fprintf(stderr, "\n  series: %s\n", err.msg);
    CU_ASSERT_FATAL(rc == FV_OK);
    return i;
}

static const char *render_reg(const fv_metrics_registry *r, fv_arena *a)
{
    const char *text = NULL;
    size_t n = 0;
    fv_error err;
    fv_err rc = fv_metrics_registry_render(r, a, &text, &n, &err);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    CU_ASSERT_FATAL(text != NULL);
    FV_ASSERT_INT_EQ(strlen(text), n);
    return text;
}

static const char *render(const fv_metrics *m, fv_arena *a)
{
    const char *text = NULL;
    size_t n = 0;
    fv_error err;
    fv_err rc = fv_metrics_render(m, a, &text, &n, &err);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    CU_ASSERT_FATAL(text != NULL);
    FV_ASSERT_INT_EQ(strlen(text), n);
    return text;
}

/* Whether `text` holds `line` as a whole line. */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    }
    return false;
}

#define ASSERT_LINE(text, line)                                                                    \
    do {                                                                                           \
        if (!has_line((text), (line)))                                                             \
            fprintf(stderr, "\n  missing line: %s\n", (line));                                     \
        CU_ASSERT(has_line((text), (line)));                                                       \
    } while (0)

#define ASSERT_NO_LINE(text, line)                                                                 \
    do {                                                                                           \
        if (has_line((text), (line)))                                                              \
            fprintf(stderr, "\n  unexpected line: %s\n", (line));                                  \
        CU_ASSERT(!has_line((text), (line)));                                                      \
    } while (0)

/* ---- registry: concurrency ------------------------------------------------------- */

#define THREADS 4
#define ITERS   20000

typedef struct hammer {
    fv_metric *counter;
    fv_metric *hist;
    size_t n_series;
} hammer;

static const double hammer_values[] = {0.00005, 0.0003, 0.002, 0.7, 100};
#define N_HAMMER_VALUES (sizeof hammer_values / sizeof hammer_values[0])

static void *hammer_main(void *arg)
{
    const hammer *h = arg;
    for (size_t i = 0; i < ITERS; i++) {
        fv_metric_add(h->counter, i % h->n_series, 1);
        fv_metric_add(h->counter, 0, 2);
        for (size_t v = 0; v < N_HAMMER_VALUES; v++)
            fv_metric_observe(h->hist, 0, hammer_values[v]);
    }
    return NULL;
}

static void test_metrics__counters_and_histograms_under_4_threads_sum_exactly(void)
{
    static const char *const lk[] = {"k"};
    static const char *const keys[][1] = {{"a"}, {"b"}, {"c"}, {"d"}};
    fv_metrics_registry *r = fv_metrics_registry_new();
    CU_ASSERT_FATAL(r != NULL);
    hammer h;
    h.counter = add(r, FV_METRIC_COUNTER, "hits_total", "Hits.", lk, 1, 4);
    h.hist = add(r, FV_METRIC_HISTOGRAM, "wait_seconds", "Waits.", NULL, 0, 1);
    h.n_series = 4;
    for (size_t i = 0; i < 4; i++)
        series(h.counter, keys[i]);
    series(h.hist, NULL);

    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CU_ASSERT_FATAL(pthread_create(&t[i], NULL, hammer_main, &h) == 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);

    fv_arena a;
    fv_arena_init(&a, 0);
    const char *text = render_reg(r, &a);
    /* Series 0: ITERS/4 single adds per thread plus 2 per iteration. */
    char line[128];
    snprintf(line, sizeof line, "hits_total{k=\"a\"} %d", THREADS * (ITERS / 4 + 2 * ITERS));
    ASSERT_LINE(text, line);
    snprintf(line, sizeof line, "hits_total{k=\"d\"} %d", THREADS * (ITERS / 4));
    ASSERT_LINE(text, line);

    /* Each value THREADS * ITERS times; cumulative buckets. */
    const int each = THREADS * ITERS;
    static const struct {
        const char *le;
        int values_at_or_below;
    } want[] = {{"0.0001", 1}, {"0.00025", 1}, {"0.0005", 2}, {"0.001", 2}, {"0.0025", 3},
                {"0.5", 3},    {"1", 4},       {"60", 4},     {"+Inf", 5}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        snprintf(line, sizeof line, "wait_seconds_bucket{le=\"%s\"} %d", want[i].le,
                 each * want[i].values_at_or_below);
        ASSERT_LINE(text, line);
    }
    snprintf(line, sizeof line, "wait_seconds_count %d", each * 5);
    ASSERT_LINE(text, line);
    /* 100.70235 s per round, in exact nanoseconds. */
    snprintf(line, sizeof line, "wait_seconds_sum %.0f", (double)each * 100.70235);
    ASSERT_LINE(text, line);
    fv_arena_release(&a);
    fv_metrics_registry_free(r);
}

/* ---- registry: the text ----------------------------------------------------------- */

static void test_metrics__rendering_matches_the_expected_text(void)
{
    static const char *const l2[] = {"path", "code"};
    static const char *const l1[] = {"queue"};
    static const double bounds[] = {0.1, 1};
    fv_metrics_registry *r = fv_metrics_registry_new();
    CU_ASSERT_FATAL(r != NULL);
    fv_metric *req = add(r, FV_METRIC_COUNTER, "app_requests_total", "Requests.", l2, 2, 4);
    fv_metric_desc d;
    fv_error err;
    memset(&d, 0, sizeof d);
    d.type = FV_METRIC_COUNTER;
    d.name = "app_rare_total";
    d.help = "Rare events.";
    d.labels = l1;
    d.n_labels = 1;
    d.max_series = 2;
    d.sparse = true;
    fv_metric *rare = fv_metrics_registry_add(r, &d, &err);
    CU_ASSERT_FATAL(rare != NULL);
    fv_metric *temp =
        add(r, FV_METRIC_GAUGE, "app_temperature_celsius", "Temperature.", NULL, 0, 1);
    fv_metric *odd = add(r, FV_METRIC_GAUGE, "app_odd", "Odd values.", l1, 1, 3);
    memset(&d, 0, sizeof d);
    d.type = FV_METRIC_HISTOGRAM;
    d.name = "app_latency_seconds";
    d.help = "Latency.";
    d.labels = l1;
    d.n_labels = 1;
    d.max_series = 2;
    d.buckets = bounds;
    d.n_buckets = 2;
    fv_metric *lat = fv_metrics_registry_add(r, &d, &err);
    CU_ASSERT_FATAL(lat != NULL);

    const char *const s_ok[] = {"/a", "200"}, *const s_bad[] = {"/a", "500"};
    const char *const q1[] = {"q1"}, *const q2[] = {"q2"}, *const q3[] = {"q3"};
    size_t ok = series(req, s_ok), bad = series(req, s_bad);
    FV_ASSERT_INT_EQ(ok, 0);
    FV_ASSERT_INT_EQ(bad, 1);
    fv_metric_add(req, ok, 41);
    fv_metric_add(req, ok, 1);
    series(rare, q1); /* never incremented: omitted (sparse) */
    size_t r2 = series(rare, q2);
    fv_metric_add(rare, r2, 3);
    fv_metric_set(temp, series(temp, NULL), 21.5);
    fv_metric_set(odd, series(odd, q1), NAN);
    fv_metric_set(odd, series(odd, q2), -INFINITY);
    fv_metric_set(odd, series(odd, q3), 1e21);
    size_t l_q1 = series(lat, q1);
    series(lat, q2); /* never observed: zeros (not sparse) */
    fv_metric_observe(lat, l_q1, 0.05);
    fv_metric_observe(lat, l_q1, 0.1); /* on the bound: le="0.1" */
    fv_metric_observe(lat, l_q1, 3);
    /* Updates that do not fit are ignored. */
    fv_metric_add(temp, 0, 1);
    fv_metric_observe(req, 0, 1);
    fv_metric_set(req, 0, 1);
    fv_metric_add(req, 99, 1);
    fv_metric_add(NULL, 0, 1);

    fv_arena a;
    fv_arena_init(&a, 0);
    const char *text = render_reg(r, &a);
    FV_ASSERT_STR_EQ(text, "# HELP app_requests_total Requests.\n"
                           "# TYPE app_requests_total counter\n"
                           "app_requests_total{path=\"/a\",code=\"200\"} 42\n"
                           "app_requests_total{path=\"/a\",code=\"500\"} 0\n"
                           "# HELP app_rare_total Rare events.\n"
                           "# TYPE app_rare_total counter\n"
                           "app_rare_total{queue=\"q2\"} 3\n"
                           "# HELP app_temperature_celsius Temperature.\n"
                           "# TYPE app_temperature_celsius gauge\n"
                           "app_temperature_celsius 21.5\n"
                           "# HELP app_odd Odd values.\n"
                           "# TYPE app_odd gauge\n"
                           "app_odd{queue=\"q1\"} NaN\n"
                           "app_odd{queue=\"q2\"} -Inf\n"
                           "app_odd{queue=\"q3\"} 1e+21\n"
                           "# HELP app_latency_seconds Latency.\n"
                           "# TYPE app_latency_seconds histogram\n"
                           "app_latency_seconds_bucket{queue=\"q1\",le=\"0.1\"} 2\n"
                           "app_latency_seconds_bucket{queue=\"q1\",le=\"1\"} 2\n"
                           "app_latency_seconds_bucket{queue=\"q1\",le=\"+Inf\"} 3\n"
                           "app_latency_seconds_sum{queue=\"q1\"} 3.15\n"
                           "app_latency_seconds_count{queue=\"q1\"} 3\n"
                           "app_latency_seconds_bucket{queue=\"q2\",le=\"0.1\"} 0\n"
                           "app_latency_seconds_bucket{queue=\"q2\",le=\"1\"} 0\n"
                           "app_latency_seconds_bucket{queue=\"q2\",le=\"+Inf\"} 0\n"
                           "app_latency_seconds_sum{queue=\"q2\"} 0\n"
                           "app_latency_seconds_count{queue=\"q2\"} 0\n");
    FV_ASSERT_INT_EQ(fv_metric_series_count(req), 2);
    fv_arena_release(&a);
    fv_metrics_registry_free(r);
}

static void test_metrics__label_values_and_help_are_escaped(void)
{
    static const char *const l[] = {"v"};
    fv_metrics_registry *r = fv_metrics_registry_new();
    CU_ASSERT_FATAL(r != NULL);
    fv_metric *m =
        add(r, FV_METRIC_COUNTER, "esc_total", "Back\\slash, \"quotes\" and\nnewline.", l, 1, 4);
    const char *const v1[] = {"a\\b\"c\nd"};
    const char *const v2[] = {"caf\xc3\xa9 \xe2\x9c\x93"};
    fv_metric_add(m, series(m, v1), 1);
    fv_metric_add(m, series(m, v2), 2);
    fv_arena a;
    fv_arena_init(&a, 0);
    const char *text = render_reg(r, &a);
    FV_ASSERT_STR_EQ(text, "# HELP esc_total Back\\\\slash, \"quotes\" and\\nnewline.\n"
                           "# TYPE esc_total counter\n"
                           "esc_total{v=\"a\\\\b\\\"c\\nd\"} 1\n"
                           "esc_total{v=\"caf\xc3\xa9 \xe2\x9c\x93\"} 2\n");
    fv_arena_release(&a);
    fv_metrics_registry_free(r);
}

static void test_metrics__invalid_descriptions_and_series_are_refused(void)
{
    static const char *const le[] = {"le"};
    static const char *const dup[] = {"a", "a"};
    static const char *const reserved[] = {"__x"};
    static const char *const bad_label[] = {"a-b"};
    static const char *const ok[] = {"a"};
    static const double decreasing[] = {1, 0.5};
    static const double inf[] = {1, INFINITY};
    fv_metrics_registry *r = fv_metrics_registry_new();
    CU_ASSERT_FATAL(r != NULL);
    struct {
        const char *what;
        fv_metric_desc d;
        fv_err want;
    } cases[] = {
        {"no name",
         {FV_METRIC_COUNTER, NULL, "h", NULL, 0, 1, NULL, 0, false, false},
         FV_E_INVALID},
        {"digit first",
         {FV_METRIC_COUNTER, "1x", "h", NULL, 0, 1, NULL, 0, false, false},
         FV_E_INVALID},
        {"dash", {FV_METRIC_COUNTER, "a-b", "h", NULL, 0, 1, NULL, 0, false, false}, FV_E_INVALID},
        {"no help",
         {FV_METRIC_COUNTER, "x", NULL, NULL, 0, 1, NULL, 0, false, false},
         FV_E_INVALID},
        {"bad type",
         {(fv_metric_type)9, "x", "h", NULL, 0, 1, NULL, 0, false, false},
         FV_E_INVALID},
        {"le on a histogram",
         {FV_METRIC_HISTOGRAM, "x", "h", le, 1, 1, NULL, 0, false, false},
         FV_E_INVALID},
        {"label twice",
         {FV_METRIC_COUNTER, "x", "h", dup, 2, 1, NULL, 0, false, false},
         FV_E_INVALID},
        {"reserved label",
         {FV_METRIC_COUNTER, "x", "h", reserved, 1, 1, NULL, 0, false, false},
         FV_E_INVALID},
        {"bad label",
         {FV_METRIC_COUNTER, "x", "h", bad_label, 1, 1, NULL, 0, false, false},
         FV_E_INVALID},
        {"too many labels",
         {FV_METRIC_COUNTER, "x", "h", ok, 5, 1, NULL, 0, false, false},
         FV_E_INVALID},
        {"no series",
         {FV_METRIC_COUNTER, "x", "h", NULL, 0, 0, NULL, 0, false, false},
         FV_E_INVALID},
        {"decreasing buckets",
         {FV_METRIC_HISTOGRAM, "x", "h", NULL, 0, 1, decreasing, 2, false, false},
         FV_E_INVALID},
        {"infinite bucket",
         {FV_METRIC_HISTOGRAM, "x", "h", NULL, 0, 1, inf, 2, false, false},
         FV_E_INVALID},
        {"scrape counter",
         {FV_METRIC_COUNTER, "x", "h", NULL, 0, 1, NULL, 0, false, true},
         FV_E_INVALID},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fv_error err;
        fv_error_clear(&err);
        fv_metric *m = fv_metrics_registry_add(r, &cases[i].d, &err);
        if (m != NULL || err.code != cases[i].want)
            fprintf(stderr, "\n  case \"%s\": got %s\n", cases[i].what, fv_err_name(err.code));
        CU_ASSERT(m == NULL);
        FV_ASSERT_INT_EQ(err.code, cases[i].want);
    }
    fv_metric *m = add(r, FV_METRIC_COUNTER, "x_total", "X.", ok, 1, 1);
    fv_error err;
    fv_metric_desc again = {FV_METRIC_GAUGE, "x_total", "h", NULL, 0, 1, NULL, 0, false, false};
    CU_ASSERT(fv_metrics_registry_add(r, &again, &err) == NULL);
    FV_ASSERT_INT_EQ(err.code, FV_E_INVALID);

    size_t idx = 7;
    const char *const none[] = {NULL};
    const char *const not_utf8[] = {"\xff"};
    const char *const v[] = {"v"};
    FV_ASSERT_INT_EQ(fv_metric_series(m, none, &idx, &err), FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_metric_series(m, NULL, &idx, &err), FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_metric_series(m, not_utf8, &idx, &err), FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_metric_series(m, v, &idx, &err), FV_OK);
    FV_ASSERT_INT_EQ(idx, 0);
    FV_ASSERT_INT_EQ(fv_metric_series(m, v, &idx, &err), FV_E_EXHAUSTED);
    FV_ASSERT_INT_EQ(fv_metric_series_count(m), 1);

    /* The families limit. */
    char name[32];
    fv_err last = FV_OK;
    for (int i = 0; i < FV_METRICS_FAMILIES_MAX + 1 && last == FV_OK; i++) {
        fv_metric_desc d = {FV_METRIC_GAUGE, name, "h", NULL, 0, 1, NULL, 0, false, false};
        snprintf(name, sizeof name, "g%d", i);
        if (fv_metrics_registry_add(r, &d, &err) == NULL)
            last = err.code;
    }
    FV_ASSERT_INT_EQ(last, FV_E_EXHAUSTED);
    fv_metrics_registry_free(r);
}

/* ---- registry: collectors ----------------------------------------------------------- */

typedef struct coll {
    fv_metric *g;
    int calls;
    bool fail;
    double base;
} coll;

static fv_err collect(void *user, fv_metrics_scrape *s, fv_arena *a, fv_error *err)
{
    coll *c = user;
    (void)a;
    c->calls++;
    fv_metrics_scrape_set(s, c->g, 0, c->base + c->calls);
    fv_metrics_scrape_set(s, c->g, 1, c->base);
    fv_metrics_scrape_set(s, c->g, 5, 1); /* no such series: ignored */
    if (c->fail)
        return fv_error_set(err, FV_E_UNAVAILABLE, "storage is down");
    return FV_OK;
}

static void test_metrics__collectors_fill_scrape_gauges_per_rendering(void)
{
    static const char *const l[] = {"k"};
    const char *const k0[] = {"zero"}, *const k1[] = {"one"}, *const k2[] = {"two"};
    fv_metrics_registry *r = fv_metrics_registry_new();
    CU_ASSERT_FATAL(r != NULL);
    fv_metric_desc d = {FV_METRIC_GAUGE, "live", "Live.", l, 1, 3, NULL, 0, false, true};
    fv_error err;
    fv_metric *live = fv_metrics_registry_add(r, &d, &err);
    d.name = "flaky";
    fv_metric *flaky = fv_metrics_registry_add(r, &d, &err);
    CU_ASSERT_FATAL(live != NULL && flaky != NULL);
    series(live, k0);
    series(live, k1);
    series(live, k2); /* never set: omitted */
    series(flaky, k0);
    series(flaky, k1);
    /* Scrape gauges are not set by hand. */
    fv_metric_set(live, 0, 99);
    coll good = {live, 0, false, 10}, bad = {flaky, 0, true, 20};
    FV_ASSERT_INT_EQ(fv_metrics_registry_collector(r, collect, &good, &err), FV_OK);
    FV_ASSERT_INT_EQ(fv_metrics_registry_collector(r, collect, &bad, &err), FV_OK);
    FV_ASSERT_INT_EQ(fv_metrics_registry_collector(r, NULL, NULL, &err), FV_E_INVALID);

    fv_arena a;
    fv_arena_init(&a, 0);
    const char *text = render_reg(r, &a);
    FV_ASSERT_STR_EQ(text, "# HELP live Live.\n"
                           "# TYPE live gauge\n"
                           "live{k=\"zero\"} 11\n"
                           "live{k=\"one\"} 10\n"
                           "# HELP flaky Live.\n"
                           "# TYPE flaky gauge\n");
    text = render_reg(r, &a);
    ASSERT_LINE(text, "live{k=\"zero\"} 12");
    FV_ASSERT_INT_EQ(good.calls, 2);
    FV_ASSERT_INT_EQ(bad.calls, 2);
    bad.fail = false;
    text = render_reg(r, &a);
    ASSERT_LINE(text, "flaky{k=\"zero\"} 23");
    ASSERT_LINE(text, "flaky{k=\"one\"} 20");

    /* Limit of collectors. */
    fv_err last = FV_OK;
    for (int i = 0; i < FV_METRICS_COLLECTORS_MAX && last == FV_OK; i++)
        last = fv_metrics_registry_collector(r, collect, &good, &err);
    FV_ASSERT_INT_EQ(last, FV_E_EXHAUSTED);
    fv_arena_release(&a);
    fv_metrics_registry_free(r);
}

static void test_metrics__rendering_fails_cleanly_when_the_arena_is_full(void)
{
    static const char *const l[] = {"k"};
    fv_metrics_registry *r = fv_metrics_registry_new();
    CU_ASSERT_FATAL(r != NULL);
    fv_metric *m = add(r, FV_METRIC_HISTOGRAM, "big_seconds", "Big.", l, 1, 64);
    char key[16];
    for (int i = 0; i < 64; i++) {
        const char *const v[] = {key};
        snprintf(key, sizeof key, "k%d", i);
        series(m, v);
    }
    fv_arena a;
    fv_arena_init(&a, 16 * 1024);
    const char *text = "x";
    size_t n = 7;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_metrics_registry_render(r, &a, &text, &n, &err), FV_E_EXHAUSTED);
    CU_ASSERT(text == NULL);
    FV_ASSERT_INT_EQ(n, 0);
    fv_arena_release(&a);
    fv_arena_init(&a, 0);
    FV_ASSERT_INT_EQ(fv_metrics_registry_render(r, &a, &text, &n, &err), FV_OK);
    CU_ASSERT(n > 16 * 1024);
    fv_arena_release(&a);
    fv_metrics_registry_free(r);
}

/* ---- the server's metrics ------------------------------------------------------------- */

static fv_fixture fx;

static int setup(void)
{
    return fv_fixture_init(&fx);
}

static void teardown(void)
{
    fv_alloc_fail_reset();
    fv_fixture_release(&fx);
}

static fv_metrics *new_metrics(const fv_deps *deps)
{
    fv_metrics_config cfg = {"1.2.3", 1767225600.25, deps};
    fv_error err;
    fv_metrics *m = fv_metrics_new(&cfg, &err);
    if (m == NULL)
        fprintf(stderr, "\n  fv_metrics_new: %s\n", err.msg);
    CU_ASSERT_FATAL(m != NULL);
    return m;
}

static void must_register(fv_fixture_req *r)
{
    fv_error err;
    fv_register_result res;
    fv_err rc = fv_worker_register(&fx.deps, &fx.arena, &r->req, &res, &err);
    if (rc != FV_OK)
        fprintf(stderr, "\n  register: %s\n", err.msg);
    CU_ASSERT_FATAL(rc == FV_OK);
}

/* Tenant acme: "c" silent 70 s (OFFLINE) alone on workflow "only-c"; "a"
 * silent 50 s (DEGRADED) on workflow wf-0 and task task-0; "b" fresh
 * (ONLINE) on task-0. Tenant globex: "d" fresh on its own wf-0. */
static void populate(void)
{
    fv_fixture_req c = fv_fixture_request(&fx, "c", 1, 0);
    c.workflows[0].kind = "only-c";
    must_register(&c);
    fv_fixture_advance(&fx, 20 * SEC);
    fv_fixture_req a = fv_fixture_request(&fx, "a", 1, 1);
    must_register(&a);
    fv_fixture_advance(&fx, 50 * SEC);
    fv_fixture_req b = fv_fixture_request(&fx, "b", 0, 1);
    must_register(&b);
    fv_uuid globex;
    FV_ASSERT_INT_EQ(fv_fixture_add_tenant(&fx, "globex", &globex), FV_OK);
    fv_fixture_req d;
    CU_ASSERT_FATAL(fv_fixture_req_build(&fx.arena, &globex, "d", 1, 0, &d));
    must_register(&d);
}

static void test_metrics__workers_and_definitions_are_counted_at_scrape_time(void)
{
    fv_metrics *m = new_metrics(&fx.deps);
    fv_arena a;
    fv_arena_init(&a, 0);
    const char *text = render(m, &a);
    ASSERT_LINE(text, "flovyn_workers{status=\"ONLINE\"} 0");
    ASSERT_LINE(text, "flovyn_definitions{class=\"task\",availability=\"UNAVAILABLE\"} 0");

    populate();
    text = render(m, &a);
    ASSERT_LINE(text, "# TYPE flovyn_workers gauge");
    ASSERT_LINE(text, "flovyn_workers{status=\"ONLINE\"} 2");
    ASSERT_LINE(text, "flovyn_workers{status=\"DEGRADED\"} 1");
    ASSERT_LINE(text, "flovyn_workers{status=\"OFFLINE\"} 1");
    ASSERT_LINE(text, "# TYPE flovyn_definitions gauge");
    ASSERT_LINE(text, "flovyn_definitions{class=\"workflow\",availability=\"AVAILABLE\"} 1");
    ASSERT_LINE(text, "flovyn_definitions{class=\"workflow\",availability=\"DEGRADED\"} 1");
    ASSERT_LINE(text, "flovyn_definitions{class=\"workflow\",availability=\"UNAVAILABLE\"} 1");
    ASSERT_LINE(text, "flovyn_definitions{class=\"task\",availability=\"AVAILABLE\"} 1");
    ASSERT_LINE(text, "flovyn_definitions{class=\"task\",availability=\"DEGRADED\"} 0");
    ASSERT_LINE(text, "flovyn_definitions{class=\"task\",availability=\"UNAVAILABLE\"} 0");

    /* Derived at each scrape from the clock: ten minutes later nobody is
     * alive, with no job run in between. */
    fv_fixture_advance(&fx, 600 * SEC);
    text = render(m, &a);
    ASSERT_LINE(text, "flovyn_workers{status=\"ONLINE\"} 0");
    ASSERT_LINE(text, "flovyn_workers{status=\"OFFLINE\"} 4");
    ASSERT_LINE(text, "flovyn_definitions{class=\"workflow\",availability=\"UNAVAILABLE\"} 3");
    ASSERT_LINE(text, "flovyn_definitions{class=\"task\",availability=\"UNAVAILABLE\"} 1");

    /* The fixed families. */
    ASSERT_LINE(text, "flovyn_build_info{version=\"1.2.3\"} 1");
    ASSERT_LINE(text, "process_start_time_seconds 1767225600.25");
    fv_arena_release(&a);
    fv_metrics_free(m);
}

static void test_metrics__no_counts_when_the_storage_cannot_count(void)
{
    fv_deps deps = fx.deps;
    fv_worker_repo_ops ops = *fx.deps.workers.ops;
    ops.count_by_status = NULL;
    deps.workers.ops = &ops;
    fv_metrics *m = new_metrics(&deps);
    fv_arena a;
    fv_arena_init(&a, 0);
    const char *text = render(m, &a);
    ASSERT_LINE(text, "# TYPE flovyn_workers gauge");
    CU_ASSERT(strstr(text, "flovyn_workers{") == NULL);
    CU_ASSERT(strstr(text, "flovyn_definitions{") == NULL);
    ASSERT_LINE(text, "flovyn_build_info{version=\"1.2.3\"} 1");
    fv_metrics_free(m);

    /* Without a bundle the two families are absent. */
    m = new_metrics(NULL);
    text = render(m, &a);
    CU_ASSERT(strstr(text, "flovyn_workers") == NULL);
    CU_ASSERT(strstr(text, "flovyn_definitions") == NULL);
    fv_arena_release(&a);
    fv_metrics_free(m);
}

static void test_metrics__http_routes_statuses_and_unmatched_requests(void)
{
    fv_metrics *m = new_metrics(NULL);
    fv_error err;
    int list = -2, again = -2, del = -2, bad = 7;
    FV_ASSERT_INT_EQ(
        fv_metrics_http_route(m, "GET", "/api/tenants/{tenant_slug}/workers", &list, &err), FV_OK);
    FV_ASSERT_INT_EQ(
        fv_metrics_http_route(m, "GET", "/api/tenants/{tenant_slug}/workers", &again, &err), FV_OK);
    FV_ASSERT_INT_EQ(again, list);
    FV_ASSERT_INT_EQ(
        fv_metrics_http_route(m, "DELETE", "/api/tenants/{tenant_slug}/workers", &del, &err),
        FV_OK);
    CU_ASSERT(del != list && del >= 0 && list >= 0);
    FV_ASSERT_INT_EQ(fv_metrics_http_route(m, "get", "/x", &bad, &err), FV_E_INVALID);
    FV_ASSERT_INT_EQ(bad, -1);
    FV_ASSERT_INT_EQ(fv_metrics_http_route(m, "GET", "", &bad, &err), FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_metrics_http_route(m, NULL, "/x", &bad, &err), FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_metrics_http_route(m, "GET", "/\xff", &bad, &err), FV_E_INVALID);

    fv_metrics_http_observe(m, list, 200, 0.01);
    fv_metrics_http_observe(m, list, 200, 0.03);
    fv_metrics_http_observe(m, list, 418, 0.001);
    fv_metrics_http_observe(m, list, 99, 0.001);
    fv_metrics_http_observe(m, list, 700, 0.001);
    fv_metrics_http_observe(m, del, 503, 2);
    fv_metrics_http_observe(m, -1, 200, 1);     /* ignored */
    fv_metrics_http_observe(m, 100000, 200, 1); /* ignored */
    fv_metrics_http_observe_unmatched(m, "POST", 404, 0.0002);
    fv_metrics_http_observe_unmatched(m, "get", 404, 0.0002);
    fv_metrics_http_observe_unmatched(m, NULL, 400, 0.0002);

    fv_arena a;
    fv_arena_init(&a, 0);
    const char *text = render(m, &a);
    static const char *const want[] = {
        "flovyn_http_requests_total{route=\"/api/tenants/{tenant_slug}/workers\",method=\"GET\","
        "status=\"200\"} 2",
        "flovyn_http_requests_total{route=\"/api/tenants/{tenant_slug}/workers\",method=\"GET\","
        "status=\"4xx\"} 1",
        "flovyn_http_requests_total{route=\"/api/tenants/{tenant_slug}/workers\",method=\"GET\","
        "status=\"other\"} 2",
        "flovyn_http_requests_total{route=\"/api/tenants/{tenant_slug}/workers\",method=\"DELETE\","
        "status=\"503\"} 1",
        "flovyn_http_requests_total{route=\"unmatched\",method=\"POST\",status=\"404\"} 1",
        "flovyn_http_requests_total{route=\"unmatched\",method=\"other\",status=\"404\"} 1",
        "flovyn_http_requests_total{route=\"unmatched\",method=\"other\",status=\"400\"} 1",
        "flovyn_http_request_duration_seconds_bucket{route=\"/api/tenants/{tenant_slug}/workers\","
        "method=\"GET\",le=\"0.01\"} 4",
        "flovyn_http_request_duration_seconds_bucket{route=\"/api/tenants/{tenant_slug}/workers\","
        "method=\"GET\",le=\"0.025\"} 4",
        "flovyn_http_request_duration_seconds_bucket{route=\"/api/tenants/{tenant_slug}/workers\","
        "method=\"GET\",le=\"0.05\"} 5",
        "flovyn_http_request_duration_seconds_count{route=\"/api/tenants/{tenant_slug}/workers\","
        "method=\"GET\"} 5",
        "flovyn_http_request_duration_seconds_sum{route=\"/api/tenants/{tenant_slug}/workers\","
        "method=\"GET\"} 0.043",
        "flovyn_http_request_duration_seconds_sum{route=\"/api/tenants/{tenant_slug}/workers\","
        "method=\"DELETE\"} 2",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ASSERT_LINE(text, want[i]);
    /* Statuses and routes never seen are not shown. */
    CU_ASSERT(strstr(text, "status=\"201\"") == NULL);
    CU_ASSERT(strstr(text, "route=\"unmatched\",method=\"GET\"") == NULL);

    /* The table is bounded. */
    char route[32];
    fv_err last = FV_OK;
    int id = 0;
    for (int i = 0; i < FV_METRICS_HTTP_ROUTES_MAX && last == FV_OK; i++) {
        snprintf(route, sizeof route, "/r/%d", i);
        last = fv_metrics_http_route(m, "GET", route, &id, &err);
    }
    FV_ASSERT_INT_EQ(last, FV_E_EXHAUSTED);
    FV_ASSERT_INT_EQ(id, -1);
    fv_arena_release(&a);
    fv_metrics_free(m);
}

static void test_metrics__grpc_methods_codes_and_unknown_calls(void)
{
    static const char *const paths[] = {"/p.S/A", "/p.S/B"};
    fv_metrics *m = new_metrics(NULL);
    fv_error err;
    /* Before the table is set every call is "unknown". */
    fv_metrics_grpc_observe(m, 0, 0, 0.001);
    FV_ASSERT_INT_EQ(fv_metrics_grpc_methods(m, paths, 2, &err), FV_OK);
    FV_ASSERT_INT_EQ(fv_metrics_grpc_methods(m, paths, 2, &err), FV_E_INVALID);
    fv_metrics_grpc_observe(m, 0, 0, 0.00002);
    fv_metrics_grpc_observe(m, 1, 0, 0.00002);
    fv_metrics_grpc_observe(m, 1, 0, 0.00002);
    fv_metrics_grpc_observe(m, 1, 16, 0.00002);
    fv_metrics_grpc_observe(m, 1, 17, 0.00002); /* not a code: UNKNOWN */
    fv_metrics_grpc_observe(m, 1, -1, 0.00002);
    fv_metrics_grpc_observe(m, 2, 12, 0.00002); /* not in the table */
    fv_metrics_grpc_observe(m, FV_METRICS_GRPC_UNKNOWN, 12, 0.00002);
    fv_arena a;
    fv_arena_init(&a, 0);
    const char *text = render(m, &a);
    ASSERT_LINE(text, "flovyn_grpc_calls_total{method=\"unknown\",code=\"OK\"} 1");
    ASSERT_LINE(text, "flovyn_grpc_calls_total{method=\"unknown\",code=\"UNIMPLEMENTED\"} 2");
    ASSERT_LINE(text, "flovyn_grpc_calls_total{method=\"/p.S/A\",code=\"OK\"} 1");
    ASSERT_LINE(text, "flovyn_grpc_calls_total{method=\"/p.S/B\",code=\"OK\"} 2");
    ASSERT_LINE(text, "flovyn_grpc_calls_total{method=\"/p.S/B\",code=\"UNAUTHENTICATED\"} 1");
    ASSERT_LINE(text, "flovyn_grpc_calls_total{method=\"/p.S/B\",code=\"UNKNOWN\"} 2");
    ASSERT_LINE(text,
                "flovyn_grpc_call_duration_seconds_bucket{method=\"/p.S/B\",le=\"0.0001\"} 5");
    ASSERT_LINE(text, "flovyn_grpc_call_duration_seconds_count{method=\"unknown\"} 3");
    fv_arena_release(&a);
    fv_metrics_free(m);

    m = new_metrics(NULL);
    const char *const with_null[] = {"/p.S/A", NULL};
    FV_ASSERT_INT_EQ(fv_metrics_grpc_methods(m, with_null, 2, &err), FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_metrics_grpc_methods(m, paths, FV_METRICS_GRPC_METHODS_MAX + 1, &err),
                     FV_E_EXHAUSTED);
    fv_metrics_free(m);
}

static void test_metrics__scheduler_job_runs(void)
{
    fv_metrics *m = new_metrics(NULL);
    fv_error err;
    int stale = -2, again = -2, retention = -2;
    FV_ASSERT_INT_EQ(fv_metrics_job(m, "stale", &stale, &err), FV_OK);
    FV_ASSERT_INT_EQ(fv_metrics_job(m, "retention", &retention, &err), FV_OK);
    FV_ASSERT_INT_EQ(fv_metrics_job(m, "stale", &again, &err), FV_OK);
    FV_ASSERT_INT_EQ(again, stale);
    FV_ASSERT_INT_EQ(fv_metrics_job(m, "", &again, &err), FV_E_INVALID);
    fv_metrics_job_observe(m, stale, true, 3, 0.002);
    fv_metrics_job_observe(m, stale, true, 0, 0.002);
    fv_metrics_job_observe(m, stale, false, 0, 0.5);
    fv_metrics_job_observe(m, 9, true, 100, 1); /* ignored */
    fv_arena a;
    fv_arena_init(&a, 0);
    const char *text = render(m, &a);
    ASSERT_LINE(text, "flovyn_scheduler_job_runs_total{job=\"stale\",result=\"ok\"} 2");
    ASSERT_LINE(text, "flovyn_scheduler_job_runs_total{job=\"stale\",result=\"error\"} 1");
    ASSERT_LINE(text, "flovyn_scheduler_job_runs_total{job=\"retention\",result=\"ok\"} 0");
    ASSERT_LINE(text, "flovyn_scheduler_job_changes_total{job=\"stale\"} 3");
    ASSERT_LINE(text, "flovyn_scheduler_job_changes_total{job=\"retention\"} 0");
    ASSERT_LINE(text, "flovyn_scheduler_job_duration_seconds_count{job=\"stale\"} 3");
    ASSERT_LINE(text, "flovyn_scheduler_job_duration_seconds_sum{job=\"stale\"} 0.504");
    fv_arena_release(&a);
    fv_metrics_free(m);
}

static void test_metrics__null_metrics_do_nothing(void)
{
    fv_error err;
    int id = 5;
    FV_ASSERT_INT_EQ(fv_metrics_http_route(NULL, "GET", "/", &id, &err), FV_OK);
    FV_ASSERT_INT_EQ(id, -1);
    FV_ASSERT_INT_EQ(fv_metrics_job(NULL, "x", &id, &err), FV_OK);
    FV_ASSERT_INT_EQ(id, -1);
    FV_ASSERT_INT_EQ(fv_metrics_grpc_methods(NULL, NULL, 3, &err), FV_OK);
    fv_metrics_http_observe(NULL, 0, 200, 1);
    fv_metrics_http_observe_unmatched(NULL, "GET", 404, 1);
    fv_metrics_grpc_observe(NULL, 0, 0, 1);
    fv_metrics_job_observe(NULL, 0, true, 1, 1);
    fv_arena a;
    fv_arena_init(&a, 0);
    FV_ASSERT_STR_EQ(render(NULL, &a), "");
    fv_arena_release(&a);
    fv_metrics_free(NULL);
    CU_ASSERT(fv_metrics_seconds_since(fv_metrics_now_ns()) >= 0);
}

/* Every allocation of fv_metrics_new and of a route registration failing in
 * turn: a clean failure (the ASan build proves nothing leaks), then success. */
static void test_metrics__allocation_failures_unwind_cleanly(void)
{
    fv_metrics_config cfg = {"v", 1, &fx.deps};
    fv_metrics *m = NULL;
    fv_error err;
    long n;
    for (n = 0; n < 10000 && m == NULL; n++) {
        fv_alloc_fail_after(n);
        m = fv_metrics_new(&cfg, &err);
        fv_alloc_fail_reset();
        if (m == NULL)
            FV_ASSERT_INT_EQ(err.code, FV_E_EXHAUSTED);
    }
    CU_ASSERT_FATAL(m != NULL);
    CU_ASSERT(n > 5);
    int id = -2;
    fv_err rc = FV_E_EXHAUSTED;
    for (n = 0; n < 1000 && rc != FV_OK; n++) {
        fv_alloc_fail_after(n);
        rc =
            fv_metrics_http_route(m, "GET", "/a/route/with/a/rather/long/template/{id}", &id, &err);
        fv_alloc_fail_reset();
        if (rc != FV_OK) {
            FV_ASSERT_INT_EQ(rc, FV_E_EXHAUSTED);
            FV_ASSERT_INT_EQ(id, -1);
        }
    }
    FV_ASSERT_INT_EQ(rc, FV_OK);
    CU_ASSERT(n > 1);
    fv_metrics_http_observe(m, id, 200, 0.1);
    fv_arena a;
    fv_arena_init(&a, 0);
    const char *text = render(m, &a);
    ASSERT_LINE(text, "flovyn_http_requests_total{route=\"/a/route/with/a/rather/long/template/"
                      "{id}\",method=\"GET\",status=\"200\"} 1");
    fv_arena_release(&a);
    fv_metrics_free(m);
}

/* Observers on 4 threads while routes are registered and the metrics
 * rendered: the final counts are exact. */
typedef struct racer {
    fv_metrics *m;
    int route;
} racer;

static void *racer_main(void *arg)
{
    racer *r = arg;
    for (int i = 0; i < ITERS; i++) {
        fv_metrics_http_observe(r->m, r->route, 200, 0.001);
        fv_metrics_grpc_observe(r->m, 0, 0, 0.00001);
        fv_metrics_http_observe_unmatched(r->m, "GET", 404, 0.001);
    }
    return NULL;
}

static void test_metrics__observers_race_registrations_and_renderings(void)
{
    static const char *const paths[] = {"/p.S/Beat"};
    fv_metrics *m = new_metrics(&fx.deps);
    fv_error err;
    racer r = {m, -1};
    FV_ASSERT_INT_EQ(fv_metrics_grpc_methods(m, paths, 1, &err), FV_OK);
    FV_ASSERT_INT_EQ(fv_metrics_http_route(m, "GET", "/hot", &r.route, &err), FV_OK);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CU_ASSERT_FATAL(pthread_create(&t[i], NULL, racer_main, &r) == 0);
    fv_arena a;
    fv_arena_init(&a, 0);
    char route[32];
    for (int i = 0; i < 50; i++) {
        int id;
        snprintf(route, sizeof route, "/cold/%d", i);
        FV_ASSERT_INT_EQ(fv_metrics_http_route(m, "PUT", route, &id, &err), FV_OK);
        render(m, &a);
        fv_arena_reset(&a);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    const char *text = render(m, &a);
    char line[160];
    snprintf(line, sizeof line,
             "flovyn_http_requests_total{route=\"/hot\",method=\"GET\",status=\"200\"} %d",
             THREADS * ITERS);
    ASSERT_LINE(text, line);
    snprintf(line, sizeof line,
             "flovyn_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} %d",
             THREADS * ITERS);
    ASSERT_LINE(text, line);
    snprintf(line, sizeof line, "flovyn_grpc_calls_total{method=\"/p.S/Beat\",code=\"OK\"} %d",
             THREADS * ITERS);
    ASSERT_LINE(text, line);
    fv_arena_release(&a);
    fv_metrics_free(m);
}

static const fv_test_case registry_cases[] = {
    FV_TEST_CASE(test_metrics__counters_and_histograms_under_4_threads_sum_exactly),
    FV_TEST_CASE(test_metrics__rendering_matches_the_expected_text),
    FV_TEST_CASE(test_metrics__label_values_and_help_are_escaped),
    FV_TEST_CASE(test_metrics__invalid_descriptions_and_series_are_refused),
    FV_TEST_CASE(test_metrics__collectors_fill_scrape_gauges_per_rendering),
    FV_TEST_CASE(test_metrics__rendering_fails_cleanly_when_the_arena_is_full),
};

static void submit_task(const char *kind, fv_task *out)
{
    fv_task_submit_request r;
    fv_task_submit_result res;
    fv_error err;
    memset(&r, 0, sizeof r);
    r.tenant_id = fx.tenant;
    r.kind = kind;
    fv_err rc = fv_task_submit(&fx.deps, &fx.arena, &r, &res, &err);
    if (rc != FV_OK)
        fprintf(stderr, "\n  submit: %s\n", err.msg);
    CU_ASSERT_FATAL(rc == FV_OK);
    if (out != NULL)
        *out = res.task;
}

/* The backlog families: PENDING tasks by tenant and kind and the age of the
 * oldest, read at each scrape; a kind whose backlog drained stays at 0. */
static void test_metrics__task_backlog_by_tenant_and_kind(void)
{
    fv_fixture_release(&fx);
    CU_ASSERT_FATAL(fv_fixture_init_tasks(&fx) == 0);
    fv_metrics *m = new_metrics(&fx.deps);
    fv_arena a;
    fv_arena_init(&a, 0);
    char tenant[FV_UUID_STR_LEN + 1], line[256];
    fv_uuid_format(&fx.tenant, tenant);

    const char *text = render(m, &a);
    ASSERT_LINE(text, "# TYPE flovyn_task_backlog gauge");
    CU_ASSERT(strstr(text, "flovyn_task_backlog{") == NULL);

    submit_task("send-email", NULL);
    fv_fixture_advance(&fx, 30 * SEC);
    submit_task("send-email", NULL);
    submit_task("resize", NULL);
    fv_fixture_advance(&fx, 15 * SEC);
    text = render(m, &a);
    snprintf(line, sizeof line, "flovyn_task_backlog{tenant_id=\"%s\",kind=\"send-email\"} 2",
             tenant);
    ASSERT_LINE(text, line);
    snprintf(line, sizeof line, "flovyn_task_backlog{tenant_id=\"%s\",kind=\"resize\"} 1", tenant);
    ASSERT_LINE(text, line);
    /* The age is measured on the real clock against the fake one's creation
     * times, so only its presence and sign are checked. */
    snprintf(line, sizeof line,
             "flovyn_task_backlog_oldest_age_seconds{tenant_id=\"%s\",kind=\"resize\"} ", tenant);
    const char *age = strstr(text, line);
    CU_ASSERT_FATAL(age != NULL);
    CU_ASSERT(strtod(age + strlen(line), NULL) >= 0);

    /* Claimed: no longer pending; the series stays, at 0. */
    fv_task t;
    bool found = false;
    fv_time next;
    FV_ASSERT_INT_EQ(
        fv_task_claim(&fx.deps, &fx.arena, &fx.tenant, "default", "w-1", &t, &found, &next, NULL),
        FV_OK);
    CU_ASSERT_TRUE(found);
    FV_ASSERT_INT_EQ(
        fv_task_claim(&fx.deps, &fx.arena, &fx.tenant, "default", "w-1", &t, &found, &next, NULL),
        FV_OK);
    FV_ASSERT_INT_EQ(
        fv_task_claim(&fx.deps, &fx.arena, &fx.tenant, "default", "w-1", &t, &found, &next, NULL),
        FV_OK);
    text = render(m, &a);
    snprintf(line, sizeof line, "flovyn_task_backlog{tenant_id=\"%s\",kind=\"send-email\"} 0",
             tenant);
    ASSERT_LINE(text, line);
    snprintf(line, sizeof line,
             "flovyn_task_backlog_oldest_age_seconds{tenant_id=\"%s\",kind=\"resize\"} 0", tenant);
    ASSERT_LINE(text, line);
    fv_arena_release(&a);
    fv_metrics_free(m);
}

static const fv_test_case server_cases[] = {
    FV_TEST_CASE(test_metrics__workers_and_definitions_are_counted_at_scrape_time),
    FV_TEST_CASE(test_metrics__no_counts_when_the_storage_cannot_count),
    FV_TEST_CASE(test_metrics__task_backlog_by_tenant_and_kind),
    FV_TEST_CASE(test_metrics__http_routes_statuses_and_unmatched_requests),
    FV_TEST_CASE(test_metrics__grpc_methods_codes_and_unknown_calls),
    FV_TEST_CASE(test_metrics__scheduler_job_runs),
    FV_TEST_CASE(test_metrics__null_metrics_do_nothing),
    FV_TEST_CASE(test_metrics__allocation_failures_unwind_cleanly),
    FV_TEST_CASE(test_metrics__observers_race_registrations_and_renderings),
};

int main(void)
{
    const fv_test_suite suites[] = {
        {"metrics_registry", registry_cases, FV_TEST_COUNT(registry_cases), NULL, NULL},
        {"metrics_server", server_cases, FV_TEST_COUNT(server_cases), setup, teardown},
    };
    return fv_test_run_suites(suites, FV_TEST_COUNT(suites)) == 0 ? 0 : 1;
}
