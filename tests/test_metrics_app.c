/*
 * The scheduler of app/ counting its runs in the metrics: every job's runs
 * by result, what they changed and how long they took, on the in-memory
 * bundle of the fixture with its fake clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapters/metrics/metrics.h"
#include "app/log.h"
#include "app/scheduler.h"
#include "tests/support/cunit_main.h"
#include "tests/support/fixture.h"

#define SEC ((int64_t)1000)

static fv_fixture fx;

static int setup(void)
{
    return fv_fixture_init(&fx);
}

static void teardown(void)
{
    fv_fixture_release(&fx);
}

/* The value of the sample line that starts with `prefix` (-1 if absent). */
static long long sample(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *p = text; (p = strstr(p, prefix)) != NULL; p++)
        if (p == text || p[-1] == '\n')
            return strtoll(p + n, NULL, 10);
    return -1;
}

static const char *render(const fv_metrics *m, fv_arena *a)
{
    const char *text = NULL;
    size_t n;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_metrics_render(m, a, &text, &n, &err), FV_OK);
    CU_ASSERT_FATAL(text != NULL);
    return text;
}

static void test_metrics_app__scheduler_counts_runs_and_changes(void)
{
    static const char *const jobs[] = {"activate", "stale", "availability", "retention"};
    fv_metrics_config mcfg = {"test", 1, &fx.deps};
    fv_error err;
    fv_metrics *m = fv_metrics_new(&mcfg, &err);
    CU_ASSERT_FATAL(m != NULL);
    fv_app_log_set_level(FV_APP_LOG_WARN);

    /* A worker silent for 50 s: the stale job moves it to DEGRADED. */
    fv_fixture_req r = fv_fixture_request(&fx, "w", 1, 0);
    FV_ASSERT_INT_EQ(fv_fixture_register(&fx, &r, NULL), FV_OK);
    fv_fixture_advance(&fx, 50 * SEC);

    fv_app_schedule sch = {5, 5, 5, 5, m};
    fv_app_scheduler *s = fv_app_scheduler_start(&fx.deps, &sch, &err);
    CU_ASSERT_FATAL(s != NULL);
    fv_arena a;
    fv_arena_init(&a, 0);
    bool all_ran = false;
    for (int i = 0; i < 500 && !all_ran; i++) {
        const char *text = render(m, &a);
        all_ran = sample(text, "flovyn_scheduler_job_changes_total{job=\"stale\"} ") >= 1;
        for (size_t j = 0; j < 4; j++) {
            char prefix[96];
            snprintf(prefix, sizeof prefix,
                     "flovyn_scheduler_job_runs_total{job=\"%s\",result=\"ok\"} ", jobs[j]);
            all_ran = all_ran && sample(text, prefix) >= 1;
        }
        fv_arena_reset(&a);
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fv_app_scheduler_stop(s);
    CU_ASSERT(all_ran);

    const char *text = render(m, &a);
    for (size_t j = 0; j < 4; j++) {
        char prefix[96];
        snprintf(prefix, sizeof prefix,
                 "flovyn_scheduler_job_runs_total{job=\"%s\",result=\"error\"} ", jobs[j]);
        FV_ASSERT_INT_EQ(sample(text, prefix), 0);
        snprintf(prefix, sizeof prefix, "flovyn_scheduler_job_duration_seconds_count{job=\"%s\"} ",
                 jobs[j]);
        CU_ASSERT(sample(text, prefix) >= 1);
    }
    /* Exactly one transition was there to make. */
    FV_ASSERT_INT_EQ(sample(text, "flovyn_scheduler_job_changes_total{job=\"stale\"} "), 2);
    FV_ASSERT_INT_EQ(sample(text, "flovyn_workers{status=\"DEGRADED\"} "), 1);
    fv_arena_release(&a);
    fv_metrics_free(m);
}

static const fv_test_case cases[] = {
    FV_TEST_CASE(test_metrics_app__scheduler_counts_runs_and_changes),
};

int main(void)
{
    const fv_test_suite suite = {"metrics_app", cases, FV_TEST_COUNT(cases), setup, teardown};
    return fv_test_run_suites(&suite, 1) == 0 ? 0 : 1;
}
