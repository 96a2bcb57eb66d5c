/*
 * The metrics registry and the text exposition (registry.h).
 *
 * Storage: each family owns one array of 64-bit atomic cells, max_series x
 * stride (stride 1 for counters and gauges, n_buckets + 2 for histograms:
 * the buckets, the +Inf bucket, then the sum in nanoseconds), and one array
 * of label-value pointers, max_series x n_labels, into the registry's string
 * arena. Both are allocated at the family's creation and never move, so an
 * update is an index computation and a relaxed atomic add. Writers of the
 * structure (families, series, collectors) hold the registry mutex and
 * publish with a release store of the count that readers load with acquire.
 */
#include "adapters/metrics/registry.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/alloc.h"
#include "core/util/utf8.h"

const double fv_metrics_latency_buckets[FV_METRICS_LATENCY_BUCKETS_N] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60,
};

/* Largest max_series of one family (a guard against size overflow). */
#define SERIES_MAX ((size_t)1 << 20)
/* Histogram values are clamped to this many seconds (the sum is in ns). */
#define OBSERVE_MAX_SECONDS 1e9

struct fv_metric {
    fv_metrics_registry *reg;
    size_t index; /* in the registry's families */
    fv_metric_type type;
    const char *name;
    const char *help;
    const char *labels[FV_METRIC_LABELS_MAX];
    size_t n_labels;
    bool sparse;
    bool scrape;
    double bounds[FV_METRIC_BUCKETS_MAX];
    size_t n_buckets;
    size_t stride; /* cells per series */
    size_t cap;    /* max_series */
    atomic_size_t n;
    const char **values;     /* cap * n_labels */
    _Atomic uint64_t *cells; /* cap * stride; NULL for scrape-time families */
};

typedef struct collector {
    fv_metrics_collect_fn fn;
    void *user;
} collector;

struct fv_metrics_registry {
    pthread_mutex_t mu; /* writers: families, series, collectors, strings */
    fv_arena strings;   /* names, help texts, label names and values */
    fv_metric *families[FV_METRICS_FAMILIES_MAX];
    atomic_size_t n_families;
    collector collectors[FV_METRICS_COLLECTORS_MAX];
    atomic_size_t n_collectors;
};

struct fv_metrics_scrape {
    fv_arena *a;
    double *values[FV_METRICS_FAMILIES_MAX];
    /* Per series: 0 = not set, else the number of the collector that set it
     * (1-based). */
    unsigned char *setter[FV_METRICS_FAMILIES_MAX];
    unsigned char current;
    bool oom;
};

/* ---- names ---------------------------------------------------------------- */

static bool name_char(char c, bool first, bool colon)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
        return true;
    if (colon && c == ':')
        return true;
    return !first && c >= '0' && c <= '9';
}

static bool valid_name(const char *s, bool colon)
{
    if (s == NULL || s[0] == '\0')
        return false;
    for (size_t i = 0; s[i] != '\0'; i++)
        if (!name_char(s[i], i == 0, colon))
            return false;
    return true;
}

/* ---- the registry ----------------------------------------------------------- */

fv_metrics_registry *fv_metrics_registry_new(void)
{
    fv_metrics_registry *r = fv_calloc(1, sizeof *r);

    if (r == NULL)
        return NULL;
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        fv_free(r);
        return NULL;
    }
    fv_arena_init(&r->strings, 0);
    atomic_init(&r->n_families, 0);
    atomic_init(&r->n_collectors, 0);
    return r;
}

static void metric_free(fv_metric *m)
{
    if (m == NULL)
        return;
    fv_free(m->values);
    fv_free(m->cells);
    fv_free(m);
}

void fv_metrics_registry_free(fv_metrics_registry *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < atomic_load(&r->n_families); i++)
        metric_free(r->families[i]);
    fv_arena_release(&r->strings);
    pthread_mutex_destroy(&r->mu);
    fv_free(r);
}

static fv_err check_desc(const fv_metrics_registry *r, const fv_metric_desc *d, fv_error *err)
{
    if (d->type != FV_METRIC_COUNTER && d->type != FV_METRIC_GAUGE &&
        d->type != FV_METRIC_HISTOGRAM)
        return fv_error_set(err, FV_E_INVALID, "unknown metric type %d", (int)d->type);
    if (!valid_name(d->name, true))
        return fv_error_set(err, FV_E_INVALID, "invalid metric name \"%s\"",
                            d->name != NULL ? d->name : "");
    if (d->help == NULL)
        return fv_error_set(err, FV_E_INVALID, "metric \"%s\" has no help text", d->name);
    if (d->n_labels > FV_METRIC_LABELS_MAX || (d->n_labels > 0 && d->labels == NULL))
        return fv_error_set(err, FV_E_INVALID, "metric \"%s\": at most %d labels", d->name,
                            FV_METRIC_LABELS_MAX);
    for (size_t i = 0; i < d->n_labels; i++) {
        const char *l = d->labels[i];
        if (!valid_name(l, false) || strncmp(l, "__", 2) == 0 ||
            (d->type == FV_METRIC_HISTOGRAM && strcmp(l, "le") == 0))
            return fv_error_set(err, FV_E_INVALID, "metric \"%s\": invalid label name \"%s\"",
                                d->name, l != NULL ? l : "");
        for (size_t j = 0; j < i; j++)
            if (strcmp(d->labels[j], l) == 0)
                return fv_error_set(err, FV_E_INVALID, "metric \"%s\": label \"%s\" given twice",
                                    d->name, l);
    }
    if (d->max_series == 0 || d->max_series > SERIES_MAX)
        return fv_error_set(err, FV_E_INVALID, "metric \"%s\": max_series must be 1..%zu", d->name,
                            SERIES_MAX);
    if (d->scrape && d->type != FV_METRIC_GAUGE)
        return fv_error_set(err, FV_E_INVALID, "metric \"%s\": only gauges are set at scrape time",
                            d->name);
    if (d->type == FV_METRIC_HISTOGRAM && d->buckets != NULL) {
        if (d->n_buckets == 0 || d->n_buckets > FV_METRIC_BUCKETS_MAX)
            return fv_error_set(err, FV_E_INVALID, "metric \"%s\": 1..%d buckets", d->name,
                                FV_METRIC_BUCKETS_MAX);
        for (size_t i = 0; i < d->n_buckets; i++)
            if (!isfinite(d->buckets[i]) || (i > 0 && !(d->buckets[i] > d->buckets[i - 1])))
                return fv_error_set(err, FV_E_INVALID,
                                    "metric \"%s\": buckets must be finite and increasing",
                                    d->name);
    }
    size_t n = atomic_load(&r->n_families);
    for (size_t i = 0; i < n; i++)
        if (strcmp(r->families[i]->name, d->name) == 0)
            return fv_error_set(err, FV_E_INVALID, "metric \"%s\" is registered twice", d->name);
    if (n == FV_METRICS_FAMILIES_MAX)
        return fv_error_set(err, FV_E_EXHAUSTED, "too many metric families");
    return FV_OK;
}

fv_metric *fv_metrics_registry_add(fv_metrics_registry *r, const fv_metric_desc *d, fv_error *err)
{
    fv_metric *m = NULL;
    fv_err rc;

    pthread_mutex_lock(&r->mu);
    rc = check_desc(r, d, err);
    if (rc != FV_OK)
        goto fail;
    m = fv_calloc(1, sizeof *m);
    if (m == NULL)
        goto oom;
    m->reg = r;
    m->index = atomic_load(&r->n_families);
    m->type = d->type;
    m->sparse = d->sparse;
    m->scrape = d->scrape;
    m->cap = d->max_series;
    atomic_init(&m->n, 0);
    if (d->type == FV_METRIC_HISTOGRAM) {
        const double *b = d->buckets != NULL ? d->buckets : fv_metrics_latency_buckets;
        m->n_buckets = d->buckets != NULL ? d->n_buckets : FV_METRICS_LATENCY_BUCKETS_N;
        memcpy(m->bounds, b, m->n_buckets * sizeof *b);
        m->stride = m->n_buckets + 2;
    } else {
        m->stride = 1;
    }
    m->name = fv_arena_strdup(&r->strings, d->name);
    m->help = fv_arena_strdup(&r->strings, d->help);
    if (m->name == NULL || m->help == NULL)
        goto oom;
    m->n_labels = d->n_labels;
    for (size_t i = 0; i < d->n_labels; i++) {
        m->labels[i] = fv_arena_strdup(&r->strings, d->labels[i]);
        if (m->labels[i] == NULL)
            goto oom;
    }
    if (d->n_labels > 0) {
        m->values = fv_calloc(m->cap * d->n_labels, sizeof *m->values);
        if (m->values == NULL)
            goto oom;
    }
    if (!d->scrape) {
        size_t n = m->cap * m->stride;
        m->cells = fv_calloc(n, sizeof *m->cells);
        if (m->cells == NULL)
            goto oom;
        for (size_t i = 0; i < n; i++)
            atomic_init(&m->cells[i], 0);
    }
    r->families[m->index] = m;
    atomic_store_explicit(&r->n_families, m->index + 1, memory_order_release);
    pthread_mutex_unlock(&r->mu);
    return m;

oom:
    fv_error_set(err, FV_E_EXHAUSTED, "out of memory for metric \"%s\"", d->name);
fail:
    pthread_mutex_unlock(&r->mu);
    metric_free(m);
    return NULL;
}

fv_err fv_metric_series(fv_metric *m, const char *const *values, size_t *index, fv_error *err)
{
    fv_metrics_registry *r = m->reg;
    const char *copy[FV_METRIC_LABELS_MAX];
    size_t n;

    for (size_t i = 0; i < m->n_labels; i++) {
        if (values == NULL || values[i] == NULL)
            return fv_error_set(err, FV_E_INVALID, "metric \"%s\": label \"%s\" has no value",
                                m->name, m->labels[i]);
        if (!fv_utf8_valid(values[i], strlen(values[i])))
            return fv_error_set(err, FV_E_INVALID,
                                "metric \"%s\": the value of label \"%s\" is not UTF-8", m->name,
                                m->labels[i]);
    }
    pthread_mutex_lock(&r->mu);
    n = atomic_load_explicit(&m->n, memory_order_relaxed);
    if (n == m->cap) {
        pthread_mutex_unlock(&r->mu);
        return fv_error_set(err, FV_E_EXHAUSTED, "metric \"%s\" is full (%zu series)", m->name,
                            m->cap);
    }
    for (size_t i = 0; i < m->n_labels; i++) {
        /* Series are usually added in blocks that share most values (a
         * route with each status): reuse the previous copy when equal. */
        const char *prev = n > 0 ? m->values[(n - 1) * m->n_labels + i] : NULL;
        copy[i] = prev != NULL && strcmp(prev, values[i]) == 0
                      ? prev
                      : fv_arena_strdup(&r->strings, values[i]);
        if (copy[i] == NULL) {
            pthread_mutex_unlock(&r->mu);
            return fv_error_set(err, FV_E_EXHAUSTED, "out of memory for metric \"%s\"", m->name);
        }
    }
    for (size_t i = 0; i < m->n_labels; i++)
        m->values[n * m->n_labels + i] = copy[i];
    atomic_store_explicit(&m->n, n + 1, memory_order_release);
    pthread_mutex_unlock(&r->mu);
    *index = n;
    return FV_OK;
}

size_t fv_metric_series_count(const fv_metric *m)
{
    return atomic_load_explicit(&m->n, memory_order_acquire);
}

/* ---- updates ------------------------------------------------------------------ */

void fv_metric_add(fv_metric *m, size_t series, uint64_t n)
{
    if (m == NULL || m->type != FV_METRIC_COUNTER || series >= m->cap)
        return;
    atomic_fetch_add_explicit(&m->cells[series], n, memory_order_relaxed);
}

void fv_metric_set(fv_metric *m, size_t series, double v)
{
    uint64_t bits;

    if (m == NULL || m->type != FV_METRIC_GAUGE || m->scrape || series >= m->cap)
        return;
    memcpy(&bits, &v, sizeof bits);
    atomic_store_explicit(&m->cells[series], bits, memory_order_relaxed);
}

void fv_metric_observe(fv_metric *m, size_t series, double v)
{
    _Atomic uint64_t *c;
    size_t b = 0;

    if (m == NULL || m->type != FV_METRIC_HISTOGRAM || series >= m->cap)
        return;
    if (!(v >= 0)) /* negative or NaN */
        v = 0;
    if (v > OBSERVE_MAX_SECONDS)
        v = OBSERVE_MAX_SECONDS;
    while (b < m->n_buckets && v > m->bounds[b])
        b++;
    c = &m->cells[series * m->stride];
    atomic_fetch_add_explicit(&c[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c[m->n_buckets + 1], (uint64_t)(v * 1e9 + 0.5),
                              memory_order_relaxed);
}

/* ---- collectors ------------------------------------------------------------------ */

fv_err fv_metrics_registry_collector(fv_metrics_registry *r, fv_metrics_collect_fn fn, void *user,
                                     fv_error *err)
{
    size_t n;

    if (fn == NULL)
        return fv_error_set(err, FV_E_INVALID, "a collector needs a function");
    pthread_mutex_lock(&r->mu);
    n = atomic_load_explicit(&r->n_collectors, memory_order_relaxed);
    if (n == FV_METRICS_COLLECTORS_MAX) {
        pthread_mutex_unlock(&r->mu);
        return fv_error_set(err, FV_E_EXHAUSTED, "too many metric collectors");
    }
    r->collectors[n] = (collector){fn, user};
    atomic_store_explicit(&r->n_collectors, n + 1, memory_order_release);
    pthread_mutex_unlock(&r->mu);
    return FV_OK;
}

void fv_metrics_scrape_set(fv_metrics_scrape *s, const fv_metric *m, size_t series, double v)
{
    size_t f;

    if (s == NULL || m == NULL || !m->scrape || series >= fv_metric_series_count(m))
        return;
    f = m->index;
    if (s->values[f] == NULL) {
        s->values[f] = fv_arena_calloc(s->a, m->cap, sizeof *s->values[f]);
        s->setter[f] = fv_arena_calloc(s->a, m->cap, sizeof *s->setter[f]);
        if (s->values[f] == NULL || s->setter[f] == NULL) {
            s->values[f] = NULL;
            s->setter[f] = NULL;
            s->oom = true;
            return;
        }
    }
    s->values[f][series] = v;
    s->setter[f][series] = s->current;
}

/* Forget every value the current collector set. */
static void scrape_drop_current(fv_metrics_scrape *s, const fv_metrics_registry *r, size_t n_fam)
{
    for (size_t f = 0; f < n_fam; f++) {
        if (s->setter[f] == NULL)
            continue;
        for (size_t i = 0; i < r->families[f]->cap; i++)
            if (s->setter[f][i] == s->current)
                s->setter[f][i] = 0;
    }
}

/* ---- the text exposition ---------------------------------------------------------- */

/* A growing text in the rendering's arena. */
typedef struct wbuf {
    fv_arena *a;
    char *p;
    size_t n, cap;
    bool failed;
} wbuf;

static bool wb_reserve(wbuf *w, size_t more)
{
    size_t want, cap;
    char *p;

    if (w->failed)
        return false;
    if (w->n + more + 1 <= w->cap)
        return true;
    want = w->n + more + 1;
    cap = w->cap > 0 ? w->cap : 4096;
    while (cap < want)
        cap *= 2;
    p = w->p == NULL ? fv_arena_alloc(w->a, cap) : fv_arena_grow(w->a, w->p, w->n, cap);
    if (p == NULL) {
        w->failed = true;
        return false;
    }
    w->p = p;
    w->cap = cap;
    return true;
}

static void wb_put(wbuf *w, const char *s, size_t n)
{
    if (!wb_reserve(w, n))
        return;
    memcpy(w->p + w->n, s, n);
    w->n += n;
    w->p[w->n] = '\0';
}

static void wb_str(wbuf *w, const char *s)
{
    wb_put(w, s, strlen(s));
}

/* A label value (quote_too) or a HELP text: backslash, newline and, in
 * label values, the double quote escaped. */
static void wb_escaped(wbuf *w, const char *s, bool quote_too)
{
    size_t start = 0, i;

    for (i = 0; s[i] != '\0'; i++) {
        const char *rep = NULL;
        if (s[i] == '\\')
            rep = "\\\\";
        else if (s[i] == '\n')
            rep = "\\n";
        else if (quote_too && s[i] == '"')
            rep = "\\\"";
        if (rep == NULL)
            continue;
        wb_put(w, s + start, i - start);
        wb_str(w, rep);
        start = i + 1;
    }
    wb_put(w, s + start, i - start);
}

/* The shortest text that reads back as v ("+Inf", "-Inf", "NaN" as the
 * format spells them; integers without exponent). */
static void format_double(double v, char out[40])
{
    if (isnan(v)) {
        snprintf(out, 40, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, 40, "%s", v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        snprintf(out, 40, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, 40, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

static void wb_double(wbuf *w, double v)
{
    char s[40];

    format_double(v, s);
    wb_str(w, s);
}

static void wb_u64(wbuf *w, uint64_t v)
{
    char s[24];

    snprintf(s, sizeof s, "%" PRIu64, v);
    wb_str(w, s);
}

/* name + suffix + {labels of the series[, le="..."]} + ' ' */
static void wb_series(wbuf *w, const fv_metric *m, const char *suffix, size_t series,
                      const char *le)
{
    bool any = m->n_labels > 0 || le != NULL;

    wb_str(w, m->name);
    wb_str(w, suffix);
    if (any)
        wb_put(w, "{", 1);
    for (size_t i = 0; i < m->n_labels; i++) {
        if (i > 0)
            wb_put(w, ",", 1);
        wb_str(w, m->labels[i]);
        wb_put(w, "=\"", 2);
        wb_escaped(w, m->values[series * m->n_labels + i], true);
        wb_put(w, "\"", 1);
    }
    if (le != NULL) {
        if (m->n_labels > 0)
            wb_put(w, ",", 1);
        wb_str(w, "le=\"");
        wb_str(w, le);
        wb_put(w, "\"", 1);
    }
    if (any)
        wb_put(w, "}", 1);
    wb_put(w, " ", 1);
}

static const char *type_name(fv_metric_type t)
{
    switch (t) {
    case FV_METRIC_COUNTER:
        return "counter";
    case FV_METRIC_GAUGE:
        return "gauge";
    case FV_METRIC_HISTOGRAM:
        return "histogram";
    }
    return "untyped";
}

static void render_histogram(wbuf *w, const fv_metric *m, size_t series)
{
    const _Atomic uint64_t *c = &m->cells[series * m->stride];
    uint64_t counts[FV_METRIC_BUCKETS_MAX + 1];
    uint64_t total = 0, sum_ns;
    char le[40];

    for (size_t b = 0; b <= m->n_buckets; b++) {
        counts[b] = atomic_load_explicit(&c[b], memory_order_relaxed);
        total += counts[b];
    }
    if (m->sparse && total == 0)
        return;
    sum_ns = atomic_load_explicit(&c[m->n_buckets + 1], memory_order_relaxed);
    total = 0;
    for (size_t b = 0; b <= m->n_buckets; b++) {
        total += counts[b];
        if (b < m->n_buckets)
            format_double(m->bounds[b], le);
        else
            snprintf(le, sizeof le, "+Inf");
        wb_series(w, m, "_bucket", series, le);
        wb_u64(w, total);
        wb_put(w, "\n", 1);
    }
    wb_series(w, m, "_sum", series, NULL);
    wb_double(w, (double)sum_ns / 1e9);
    wb_put(w, "\n", 1);
    wb_series(w, m, "_count", series, NULL);
    wb_u64(w, total);
    wb_put(w, "\n", 1);
}

static void render_family(wbuf *w, const fv_metric *m, const fv_metrics_scrape *s)
{
    size_t n = fv_metric_series_count(m);

    wb_str(w, "# HELP ");
    wb_str(w, m->name);
    wb_put(w, " ", 1);
    wb_escaped(w, m->help, false);
    wb_str(w, "\n# TYPE ");
    wb_str(w, m->name);
    wb_put(w, " ", 1);
    wb_str(w, type_name(m->type));
    wb_put(w, "\n", 1);

    for (size_t i = 0; i < n && !w->failed; i++) {
        switch (m->type) {
        case FV_METRIC_COUNTER: {
            uint64_t v = atomic_load_explicit(&m->cells[i], memory_order_relaxed);
            if (m->sparse && v == 0)
                continue;
            wb_series(w, m, "", i, NULL);
            wb_u64(w, v);
            wb_put(w, "\n", 1);
            break;
        }
        case FV_METRIC_GAUGE: {
            double v;
            if (m->scrape) {
                const unsigned char *set = s->setter[m->index];
                if (set == NULL || set[i] == 0)
                    continue;
                v = s->values[m->index][i];
            } else {
                uint64_t bits = atomic_load_explicit(&m->cells[i], memory_order_relaxed);
                memcpy(&v, &bits, sizeof v);
            }
            if (m->sparse && v == 0)
                continue;
            wb_series(w, m, "", i, NULL);
            wb_double(w, v);
            wb_put(w, "\n", 1);
            break;
        }
        case FV_METRIC_HISTOGRAM:
            render_histogram(w, m, i);
            break;
        }
    }
}

fv_err fv_metrics_registry_render(const fv_metrics_registry *r, fv_arena *a, const char **text,
                                  size_t *n, fv_error *err)
{
    fv_metrics_scrape s;
    wbuf w = {a, NULL, 0, 0, false};
    size_t n_fam = atomic_load_explicit(&r->n_families, memory_order_acquire);
    size_t n_col = atomic_load_explicit(&r->n_collectors, memory_order_acquire);

    *text = NULL;
    *n = 0;
    memset(&s, 0, sizeof s);
    s.a = a;
    for (size_t i = 0; i < n_col; i++) {
        fv_error cerr;
        s.current = (unsigned char)(i + 1);
        fv_error_clear(&cerr);
        if (r->collectors[i].fn(r->collectors[i].user, &s, a, &cerr) != FV_OK)
            scrape_drop_current(&s, r, n_fam);
    }
    if (s.oom)
        return fv_error_set(err, FV_E_EXHAUSTED, "out of memory rendering the metrics");
    wb_reserve(&w, 0);
    for (size_t f = 0; f < n_fam && !w.failed; f++)
        render_family(&w, r->families[f], &s);
    if (w.failed)
        return fv_error_set(err, FV_E_EXHAUSTED, "out of memory rendering the metrics");
    *text = w.p;
    *n = w.n;
    return FV_OK;
}
