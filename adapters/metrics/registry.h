/*
 * A small metrics registry and its Prometheus text exposition (format
 * 0.0.4): counters, gauges and histograms, each a family of series with a
 * fixed set of label names, whose series (one set of label values each) are
 * added up front and then updated by index.
 *
 * Why by index: the hot paths (a gRPC heartbeat, an HTTP request) must not
 * look a label set up under a lock. A family's storage is allocated once at
 * its creation for max_series series, so adding a series never moves a cell;
 * an update is one or two relaxed C11 atomic additions (a histogram: one
 * bucket and the sum), no lock, no allocation. Rendering sums the buckets
 * (cumulative `le` buckets, `_count` = the +Inf bucket) at scrape time.
 *
 * Scrape-time gauges: a family created with `scrape` has no stored values;
 * collectors (fv_metrics_registry_collector) fill its series for one
 * rendering only, so concurrent scrapes never see each other's values.
 *
 * Threading: every function is thread-safe. Creating families, adding series
 * and collectors take the registry's mutex (startup work); updates and
 * rendering take no lock. A series is visible to rendering once
 * fv_metric_series returned it.
 *
 * Histogram sums are kept as integer nanoseconds (exact for durations, which
 * are what we observe): observed values are clamped to [0, 1e9]; NaN counts
 * as 0.
 */
#ifndef FV_ADAPTERS_METRICS_REGISTRY_H
#define FV_ADAPTERS_METRICS_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/util/arena.h"
#include "core/util/error.h"

typedef struct fv_metrics_registry fv_metrics_registry;

/* One family (name, help, type, label names) and its series. Owned by its
 * registry. */
typedef struct fv_metric fv_metric;

/* The values of scrape-time families during one rendering. */
typedef struct fv_metrics_scrape fv_metrics_scrape;

typedef enum fv_metric_type {
    FV_METRIC_COUNTER = 1,
    FV_METRIC_GAUGE = 2,
    FV_METRIC_HISTOGRAM = 3,
} fv_metric_type;

/* Limits of one family. */
#define FV_METRIC_LABELS_MAX  4
#define FV_METRIC_BUCKETS_MAX 32
/* Families and collectors of one registry. */
#define FV_METRICS_FAMILIES_MAX   64
#define FV_METRICS_COLLECTORS_MAX 8

/* Latency buckets in seconds: Prometheus' defaults (5 ms .. 10 s) extended
 * down to 100 us (a heartbeat takes tens of microseconds) and up to 60 s
 * (long polls). */
#define FV_METRICS_LATENCY_BUCKETS_N 18
extern const double fv_metrics_latency_buckets[FV_METRICS_LATENCY_BUCKETS_N];

typedef struct fv_metric_desc {
    fv_metric_type type;
    /* [a-zA-Z_:][a-zA-Z0-9_:]*, unique in the registry. Copied. */
    const char *name;
    /* One line of text (escaped on output). Copied. */
    const char *help;
    /* n_labels names, [a-zA-Z_][a-zA-Z0-9_]*, distinct, not starting with
     * "__"; "le" is reserved (histograms). Copied. */
    const char *const *labels;
    size_t n_labels;
    /* Series this family can hold, > 0 (storage is allocated for all). */
    size_t max_series;
    /* Histograms: upper bounds, finite and strictly increasing, at most
     * FV_METRIC_BUCKETS_MAX (+Inf is implicit); NULL = the latency buckets. */
    const double *buckets;
    size_t n_buckets;
    /* Omit series whose value is still 0 (a counter never incremented, a
     * histogram never observed): for label sets that are mostly unused, such
     * as route x status. */
    bool sparse;
    /* Gauges only: values come from collectors at rendering time; series of
     * such a family that no collector set are omitted. */
    bool scrape;
} fv_metric_desc;

/* A new empty registry (release with fv_metrics_registry_free); NULL when
 * out of memory. */
fv_metrics_registry *fv_metrics_registry_new(void);

/* Release the registry and its families. Nothing may use it or its families
 * any more. NULL-safe. */
void fv_metrics_registry_free(fv_metrics_registry *r);

/*
 * Create a family; it is rendered after the families created before it.
 * Returns it (owned by the registry), or NULL with err set: FV_E_INVALID (a
 * bad name, label or bucket list, a duplicate name, a type/flag mismatch),
 * FV_E_EXHAUSTED (out of memory, FV_METRICS_FAMILIES_MAX reached).
 */
fv_metric *fv_metrics_registry_add(fv_metrics_registry *r, const fv_metric_desc *d, fv_error *err);

/*
 * Add a series with one value per label name (any UTF-8 text; copied, and
 * escaped on output) and store its index in *index. Indexes are given in
 * order: 0, 1, 2... Errors: FV_E_INVALID (a NULL value, invalid UTF-8),
 * FV_E_EXHAUSTED (max_series reached, out of memory).
 */
fv_err fv_metric_series(fv_metric *m, const char *const *values, size_t *index, fv_error *err);

/* Series added so far. */
size_t fv_metric_series_count(const fv_metric *m);

/* Updates (no lock, no allocation). `series` must be an index returned by
 * fv_metric_series; an index past the family's capacity, or an update that
 * does not fit the family's type, is ignored. m may be NULL (ignored). */
void fv_metric_add(fv_metric *m, size_t series, uint64_t n);   /* counter */
void fv_metric_set(fv_metric *m, size_t series, double v);     /* gauge */
void fv_metric_observe(fv_metric *m, size_t series, double v); /* histogram */

/*
 * A collector: called once per rendering, before anything is written, on
 * the rendering thread, with the rendering's arena (for its own scratch
 * memory). It sets scrape-time values with fv_metrics_scrape_set. When it
 * fails (returns an error), every value it set in this rendering is dropped:
 * its families are rendered without samples.
 */
typedef fv_err (*fv_metrics_collect_fn)(void *user, fv_metrics_scrape *s, fv_arena *a,
                                        fv_error *err);

/* Register a collector (`user` is borrowed and must outlive the registry).
 * FV_E_EXHAUSTED beyond FV_METRICS_COLLECTORS_MAX. */
fv_err fv_metrics_registry_collector(fv_metrics_registry *r, fv_metrics_collect_fn fn, void *user,
                                     fv_error *err);

/* For collectors: the value of one series of a scrape-time gauge in this
 * rendering. Ignored for other families or a series index not yet added.
 * When the rendering's arena is full, the value is lost and the rendering
 * fails with FV_E_EXHAUSTED. */
void fv_metrics_scrape_set(fv_metrics_scrape *s, const fv_metric *m, size_t series, double v);

/*
 * Run the collectors, then write every family in the text exposition format
 * 0.0.4: per family `# HELP` and `# TYPE`, then one line per series (a
 * histogram: cumulative `_bucket{...,le="..."}` lines ending with
 * le="+Inf", then `_sum` in seconds and `_count`). The text (*n bytes,
 * NUL-terminated) lives in `a`. Returns FV_OK, or FV_E_EXHAUSTED when the
 * arena is full (*text = NULL, *n = 0). A failing collector does not fail
 * the rendering (see fv_metrics_collect_fn).
 */
fv_err fv_metrics_registry_render(const fv_metrics_registry *r, fv_arena *a, const char **text,
                                  size_t *n, fv_error *err);

#endif
