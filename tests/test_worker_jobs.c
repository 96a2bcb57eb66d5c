/*
 * The scheduled jobs (core/jobs/worker_jobs.h) driven by a fake clock on the
 * in-memory adapter: stale detection, activation, availability and
 * retention, with the transitions they report and record.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/jobs/worker_jobs.h"
#include "core/queries/worker_queries.h"
#include "core/usecases/worker_usecases.h"
#include "tests/support/cunit_main.h"
#include "tests/support/fixture.h"

#define T0  FV_FIXTURE_T0
#define DAY ((int64_t)86400000)

static fv_fixture fx;

static int setup(void)
{
    return fv_fixture_init(&fx);
}

static void teardown(void)
{
    fv_fixture_release(&fx);
}

static const fv_space_sel no_space = {.mode = FV_SPACE_NONE};

static fv_uuid must_register(const fv_fixture_req *r)
{
    fv_uuid id;
    memset(&id, 0, sizeof id);
    fv_error e;
    fv_register_result res;
    fv_err rc = fv_worker_register(&fx.deps, &fx.arena, &r->req, &res, &e);
    if (rc != FV_OK)
        fprintf(stderr, "\n  registration failed: %s: %s\n", fv_err_name(rc), e.msg);
    CU_ASSERT_FATAL(rc == FV_OK);
    return res.worker_id;
}

static fv_worker get_worker(const fv_uuid *id)
{
    fv_worker w;
    memset(&w, 0, sizeof w);
    FV_ASSERT_INT_EQ(fv_query_worker(&fx.deps, &fx.arena, &fx.tenant, id, &w, NULL), FV_OK);
    return w;
}

static bool worker_exists(const fv_uuid *id)
{
    fv_worker w;
    return fv_query_worker(&fx.deps, &fx.arena, &fx.tenant, id, &w, NULL) == FV_OK;
}

static fv_status_change_list history(const fv_uuid *id)
{
    fv_status_change_list h = {0};
    FV_ASSERT_INT_EQ(fv_query_status_history(&fx.deps, &fx.arena, &fx.tenant, id,
                                             FV_HISTORY_MAX_LIMIT, &h, NULL),
                     FV_OK);
    return h;
}

static fv_definition_detail definition(fv_def_class cls, const char *kind)
{
    fv_definition_detail d;
    memset(&d, 0, sizeof d);
    FV_ASSERT_INT_EQ(
        fv_query_definition(&fx.deps, &fx.arena, cls, &fx.tenant, &no_space, kind, &d, NULL),
        FV_OK);
    return d;
}

typedef fv_err (*job_fn)(const fv_deps *, fv_arena *, fv_time, fv_job_report *, fv_error *);

/* Run a job at `at` (the clock is moved there first). */
static fv_job_report run_at(job_fn job, fv_time at)
{
    fv_fixture_set_now(&fx, at);
    fv_job_report r;
    memset(&r, 0, sizeof r);
    fv_error e;
    fv_error_clear(&e);
    fv_err rc = job(&fx.deps, &fx.arena, at, &r, &e);
    if (rc != FV_OK)
        fprintf(stderr, "\n  job failed: %s: %s\n", fv_err_name(rc), e.msg);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    return r;
}

static fv_job_report stale_at(fv_time at)
{
    return run_at(fv_job_detect_stale, at);
}

static fv_job_report activate_at(fv_time at)
{
    return run_at(fv_job_activate, at);
}

static fv_job_report retention_at(fv_time at)
{
    return run_at(fv_job_retention, at);
}

static fv_job_report refresh_at(fv_time at)
{
    return run_at(fv_job_refresh_availability, at);
}

static void heartbeat_at(const fv_uuid *id, fv_time at)
{
    fv_fixture_set_now(&fx, at);
    FV_ASSERT_INT_EQ(fv_fixture_heartbeat(&fx, &fx.tenant, id), FV_OK);
}

static bool id_eq(const fv_uuid *x, const fv_uuid *y)
{
    return fv_uuid_eq(x, y);
}

/* Every availability change of the report goes from `from` to `to`, and
 * the kinds are exactly `kinds` (in any order). */
static void check_availability(const fv_job_report *r, fv_availability from, fv_availability to,
                               const char *const *kinds, size_t n)
{
    FV_ASSERT_INT_EQ(r->n_availability, n);
    for (size_t i = 0; i < r->n_availability; i++) {
        const fv_availability_change *c = &r->availability[i];
        FV_ASSERT_INT_EQ(c->from, from);
        FV_ASSERT_INT_EQ(c->to, to);
        bool known = false;
        for (size_t k = 0; k < n && !known; k++)
            known = c->kind != NULL && strcmp(c->kind, kinds[k]) == 0;
        if (!known)
            fprintf(stderr, "\n  unexpected availability change of \"%s\"\n",
                    c->kind ? c->kind : "(null)");
        CU_ASSERT_TRUE(known);
    }
}

/* ---------------------------------------------------------------------- */
/* Stale detection and activation                                         */
/* ---------------------------------------------------------------------- */

static void test_worker_jobs__a_silent_worker_goes_online_degraded_offline_and_back(void)
{
    static const char *const kinds[] = {"wf-0", "task-0", "task-1"};
    fv_fixture_req r = fv_fixture_request(&fx, "w", 1, 2);
    fv_uuid id = must_register(&r);
    size_t n0 = history(&id).n;

    fv_job_report rep = stale_at(T0 + 30000);
    FV_ASSERT_INT_EQ(rep.n_changes, 0);
    FV_ASSERT_INT_EQ(rep.n_availability, 0);
    rep = stale_at(T0 + 45000); /* exactly degraded_after: still ONLINE */
    FV_ASSERT_INT_EQ(rep.n_changes, 0);

    /* ONLINE -> DEGRADED */
    rep = stale_at(T0 + 46000);
    FV_ASSERT_INT_EQ(rep.n_changes, 1);
    if (rep.n_changes == 1) {
        CU_ASSERT_TRUE(id_eq(&rep.changes[0].worker_id, &id));
        FV_ASSERT_INT_EQ(rep.changes[0].from, FV_STATUS_ONLINE);
        FV_ASSERT_INT_EQ(rep.changes[0].to, FV_STATUS_DEGRADED);
        FV_ASSERT_INT_EQ(rep.changes[0].at, T0 + 46000);
        CU_ASSERT_TRUE(rep.changes[0].reason != NULL && rep.changes[0].reason[0] != '\0');
    }
    check_availability(&rep, FV_AVAIL_AVAILABLE, FV_AVAIL_DEGRADED, kinds, 3);
    fv_worker w = get_worker(&id);
    FV_ASSERT_INT_EQ(w.status, FV_STATUS_DEGRADED);
    FV_ASSERT_INT_EQ(w.effective_status, FV_STATUS_DEGRADED);
    FV_ASSERT_INT_EQ(w.status_changed_at, T0 + 46000);
    fv_status_change_list h = history(&id);
    FV_ASSERT_INT_EQ(h.n, n0 + 1);
    if (h.n >= 1) {
        FV_ASSERT_INT_EQ(h.items[0].from, FV_STATUS_ONLINE);
        FV_ASSERT_INT_EQ(h.items[0].to, FV_STATUS_DEGRADED);
        FV_ASSERT_INT_EQ(h.items[0].at, T0 + 46000);
        CU_ASSERT_TRUE(h.items[0].reason != NULL && h.items[0].reason[0] != '\0');
        if (rep.n_changes == 1)
            FV_ASSERT_STR_EQ(h.items[0].reason, rep.changes[0].reason);
    }

    /* Nothing new 10 s later. */
    rep = stale_at(T0 + 56000);
    FV_ASSERT_INT_EQ(rep.n_changes, 0);
    FV_ASSERT_INT_EQ(rep.n_availability, 0);

    /* DEGRADED -> OFFLINE */
    rep = stale_at(T0 + 61000);
    FV_ASSERT_INT_EQ(rep.n_changes, 1);
    if (rep.n_changes == 1) {
        FV_ASSERT_INT_EQ(rep.changes[0].from, FV_STATUS_DEGRADED);
        FV_ASSERT_INT_EQ(rep.changes[0].to, FV_STATUS_OFFLINE);
    }
    check_availability(&rep, FV_AVAIL_DEGRADED, FV_AVAIL_UNAVAILABLE, kinds, 3);
    FV_ASSERT_INT_EQ(get_worker(&id).status, FV_STATUS_OFFLINE);
    FV_ASSERT_INT_EQ(definition(FV_DEF_TASK, "task-0").def.availability, FV_AVAIL_UNAVAILABLE);
    h = history(&id);
    FV_ASSERT_INT_EQ(h.n, n0 + 2);
    if (h.n >= 2) {
        FV_ASSERT_INT_EQ(h.items[0].from, FV_STATUS_DEGRADED);
        FV_ASSERT_INT_EQ(h.items[0].to, FV_STATUS_OFFLINE);
        FV_ASSERT_INT_EQ(h.items[0].at, T0 + 61000);
        FV_ASSERT_INT_EQ(h.items[1].to, FV_STATUS_DEGRADED);
    }

    /* A heartbeat: ONLINE on reads at once; stale detection leaves it; the
     * activation job stores it. */
    heartbeat_at(&id, T0 + 70000);
    w = get_worker(&id);
    FV_ASSERT_INT_EQ(w.status, FV_STATUS_OFFLINE);
    FV_ASSERT_INT_EQ(w.effective_status, FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(stale_at(T0 + 70000).n_changes, 0);
    rep = activate_at(T0 + 70000);
    FV_ASSERT_INT_EQ(rep.n_changes, 1);
    if (rep.n_changes == 1) {
        CU_ASSERT_TRUE(id_eq(&rep.changes[0].worker_id, &id));
        FV_ASSERT_INT_EQ(rep.changes[0].from, FV_STATUS_OFFLINE);
        FV_ASSERT_INT_EQ(rep.changes[0].to, FV_STATUS_ONLINE);
        CU_ASSERT_TRUE(rep.changes[0].reason != NULL && rep.changes[0].reason[0] != '\0');
    }
    check_availability(&rep, FV_AVAIL_UNAVAILABLE, FV_AVAIL_AVAILABLE, kinds, 3);
    FV_ASSERT_INT_EQ(get_worker(&id).status, FV_STATUS_ONLINE);
    h = history(&id);
    FV_ASSERT_INT_EQ(h.n, n0 + 3);
    if (h.n >= 1) {
        FV_ASSERT_INT_EQ(h.items[0].from, FV_STATUS_OFFLINE);
        FV_ASSERT_INT_EQ(h.items[0].to, FV_STATUS_ONLINE);
        FV_ASSERT_INT_EQ(h.items[0].at, T0 + 70000);
    }
    FV_ASSERT_INT_EQ(activate_at(T0 + 71000).n_changes, 0);
    FV_ASSERT_INT_EQ(definition(FV_DEF_WORKFLOW, "wf-0").def.availability, FV_AVAIL_AVAILABLE);
}

static void test_worker_jobs__stale_detection_can_skip_degraded(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    fv_uuid id = must_register(&r);
    fv_job_report rep = stale_at(T0 + 120000); /* the job did not run for a while */
    FV_ASSERT_INT_EQ(rep.n_changes, 1);
    if (rep.n_changes == 1) {
        FV_ASSERT_INT_EQ(rep.changes[0].from, FV_STATUS_ONLINE);
        FV_ASSERT_INT_EQ(rep.changes[0].to, FV_STATUS_OFFLINE);
    }
    static const char *const kinds[] = {"task-0"};
    check_availability(&rep, FV_AVAIL_AVAILABLE, FV_AVAIL_UNAVAILABLE, kinds, 1);
    FV_ASSERT_INT_EQ(get_worker(&id).status, FV_STATUS_OFFLINE);
}

static void test_worker_jobs__a_run_never_records_a_transition_twice(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    fv_uuid id = must_register(&r);
    FV_ASSERT_INT_EQ(stale_at(T0 + 50000).n_changes, 1);
    size_t n = history(&id).n;
    fv_job_report rep = stale_at(T0 + 50000);
    FV_ASSERT_INT_EQ(rep.n_changes, 0);
    FV_ASSERT_INT_EQ(rep.n_availability, 0);
    FV_ASSERT_INT_EQ(stale_at(T0 + 51000).n_changes, 0);
    FV_ASSERT_INT_EQ(activate_at(T0 + 51000).n_changes, 0);
    FV_ASSERT_INT_EQ(refresh_at(T0 + 51000).n_availability, 0);
    FV_ASSERT_INT_EQ(history(&id).n, n);
}

typedef struct job_thread {
    const fv_deps *deps;
    fv_time now;
    pthread_barrier_t *start;
    fv_err rc;
    size_t changes;
} job_thread;

static void *stale_thread(void *p)
{
    job_thread *t = p;
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_job_report rep;
    pthread_barrier_wait(t->start);
    t->rc = fv_job_detect_stale(t->deps, &a, t->now, &rep, NULL);
    t->changes = t->rc == FV_OK ? rep.n_changes : 0;
    fv_arena_release(&a);
    return NULL;
}

static void test_worker_jobs__concurrent_runs_record_each_transition_once(void)
{
    enum { WORKERS = 60, RUNNERS = 4 };
    fv_uuid ids[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        char name[32];
        snprintf(name, sizeof name, "w-%02d", i);
        fv_fixture_req r = fv_fixture_request(&fx, name, 0, 1);
        ids[i] = must_register(&r);
    }
    fv_fixture_set_now(&fx, T0 + 50000);
    pthread_barrier_t start;
    CU_ASSERT_FATAL(pthread_barrier_init(&start, NULL, RUNNERS) == 0);
    pthread_t th[RUNNERS];
    job_thread t[RUNNERS];
    int started = 0;
    for (int i = 0; i < RUNNERS; i++) {
        t[i] = (job_thread){.deps = &fx.deps, .now = T0 + 50000, .start = &start};
        if (pthread_create(&th[i], NULL, stale_thread, &t[i]) == 0)
            started++;
    }
    CU_ASSERT_FATAL(started == RUNNERS);
    for (int i = 0; i < RUNNERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
    size_t total = 0;
    for (int i = 0; i < RUNNERS; i++) {
        FV_ASSERT_INT_EQ(t[i].rc, FV_OK);
        total += t[i].changes;
    }
    FV_ASSERT_INT_EQ(total, WORKERS);
    for (int i = 0; i < WORKERS; i++) {
        fv_status_change_list h = history(&ids[i]);
        size_t degraded = 0;
        for (size_t k = 0; k < h.n; k++)
            degraded += h.items[k].to == FV_STATUS_DEGRADED;
        FV_ASSERT_INT_EQ(degraded, 1);
        FV_ASSERT_INT_EQ(get_worker(&ids[i]).status, FV_STATUS_DEGRADED);
    }
    FV_ASSERT_INT_EQ(refresh_at(T0 + 50000).n_availability, 0);
}

static void test_worker_jobs__activation_needs_a_fresh_sign_of_life(void)
{
    fv_fixture_req a = fv_fixture_request(&fx, "a", 0, 1);
    fv_fixture_req b = fv_fixture_request(&fx, "b", 0, 1);
    fv_uuid ia = must_register(&a), ib = must_register(&b);
    FV_ASSERT_INT_EQ(stale_at(T0 + 61000).n_changes, 2);
    /* Nobody showed life: nothing to activate, now or much later. */
    FV_ASSERT_INT_EQ(activate_at(T0 + 62000).n_changes, 0);
    FV_ASSERT_INT_EQ(activate_at(T0 + DAY).n_changes, 0);
    /* b polls (by name): b alone comes back. */
    fv_fixture_set_now(&fx, T0 + DAY + 1000);
    FV_ASSERT_INT_EQ(fv_worker_record_poll(&fx.deps, &fx.tenant, "b", NULL), FV_OK);
    fv_job_report rep = activate_at(T0 + DAY + 2000);
    FV_ASSERT_INT_EQ(rep.n_changes, 1);
    if (rep.n_changes == 1)
        CU_ASSERT_TRUE(id_eq(&rep.changes[0].worker_id, &ib));
    FV_ASSERT_INT_EQ(get_worker(&ia).status, FV_STATUS_OFFLINE);
    FV_ASSERT_INT_EQ(get_worker(&ib).status, FV_STATUS_ONLINE);
    /* A sign of life older than degraded_after does not activate. */
    FV_ASSERT_INT_EQ(stale_at(T0 + DAY + 1000 + 61000).n_changes, 1);
    FV_ASSERT_INT_EQ(activate_at(T0 + DAY + 1000 + 62000).n_changes, 0);
}

static void test_worker_jobs__activation_with_degraded_health_stores_degraded(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    fv_uuid id = must_register(&r);
    FV_ASSERT_INT_EQ(stale_at(T0 + 61000).n_changes, 1);
    fv_fixture_set_now(&fx, T0 + 70000);
    fv_heartbeat_request hb = {.tenant_id = fx.tenant,
                               .worker_id = id,
                               .health_info = {"{\"status\":\"degraded\"}", 21},
                               .health_degraded = true};
    FV_ASSERT_INT_EQ(fv_worker_heartbeat(&fx.deps, &hb, NULL), FV_OK);
    fv_job_report rep = activate_at(T0 + 70000);
    FV_ASSERT_INT_EQ(rep.n_changes, 1);
    if (rep.n_changes == 1) {
        FV_ASSERT_INT_EQ(rep.changes[0].from, FV_STATUS_OFFLINE);
        FV_ASSERT_INT_EQ(rep.changes[0].to, FV_STATUS_DEGRADED);
    }
    static const char *const kinds[] = {"task-0"};
    check_availability(&rep, FV_AVAIL_UNAVAILABLE, FV_AVAIL_DEGRADED, kinds, 1);
    FV_ASSERT_INT_EQ(get_worker(&id).status, FV_STATUS_DEGRADED);
    /* Healthy again. */
    fv_fixture_set_now(&fx, T0 + 80000);
    hb.health_info = FV_JSON_NONE;
    hb.health_degraded = false;
    FV_ASSERT_INT_EQ(fv_worker_heartbeat(&fx.deps, &hb, NULL), FV_OK);
    rep = activate_at(T0 + 80000);
    FV_ASSERT_INT_EQ(rep.n_changes, 1);
    if (rep.n_changes == 1)
        FV_ASSERT_INT_EQ(rep.changes[0].to, FV_STATUS_ONLINE);
    check_availability(&rep, FV_AVAIL_DEGRADED, FV_AVAIL_AVAILABLE, kinds, 1);
}

static void test_worker_jobs__thresholds_come_from_the_configuration(void)
{
    fx.deps.liveness = (fv_liveness){1000, 2000, 5000};
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    fv_uuid id = must_register(&r);
    FV_ASSERT_INT_EQ(stale_at(T0 + 1000).n_changes, 0);
    fv_job_report rep = stale_at(T0 + 1500);
    FV_ASSERT_INT_EQ(rep.n_changes, 1);
    if (rep.n_changes == 1)
        FV_ASSERT_INT_EQ(rep.changes[0].to, FV_STATUS_DEGRADED);
    rep = stale_at(T0 + 2500);
    FV_ASSERT_INT_EQ(rep.n_changes, 1);
    if (rep.n_changes == 1)
        FV_ASSERT_INT_EQ(rep.changes[0].to, FV_STATUS_OFFLINE);
    /* OFFLINE from T0 + 2000 (offline_after), so retention (5 s) ends after
     * T0 + 7000: silent for 6.5 s is not yet OFFLINE for 5 s. */
    rep = retention_at(T0 + 6500);
    FV_ASSERT_INT_EQ(rep.n_removed, 0);
    rep = retention_at(T0 + 7000);
    FV_ASSERT_INT_EQ(rep.n_removed, 0);
    rep = retention_at(T0 + 7001);
    FV_ASSERT_INT_EQ(rep.n_removed, 1);
    CU_ASSERT_FALSE(worker_exists(&id));
}

static void test_worker_jobs__stale_detection_spans_tenants(void)
{
    fv_uuid other;
    FV_ASSERT_INT_EQ(fv_fixture_add_tenant(&fx, "other", &other), FV_OK);
    fv_fixture_req a = fv_fixture_request(&fx, "w", 0, 1);
    fv_fixture_req b;
    CU_ASSERT_FATAL(fv_fixture_req_build(&fx.arena, &other, "w", 0, 1, &b));
    fv_uuid ia = must_register(&a), ib = must_register(&b);
    fv_job_report rep = stale_at(T0 + 50000);
    FV_ASSERT_INT_EQ(rep.n_changes, 2);
    FV_ASSERT_INT_EQ(rep.n_availability, 2); /* task-0 of each tenant */
    FV_ASSERT_INT_EQ(get_worker(&ia).status, FV_STATUS_DEGRADED);
    fv_worker w;
    FV_ASSERT_INT_EQ(fv_query_worker(&fx.deps, &fx.arena, &other, &ib, &w, NULL), FV_OK);
    FV_ASSERT_INT_EQ(w.status, FV_STATUS_DEGRADED);
}

/* ---------------------------------------------------------------------- */
/* Availability                                                           */
/* ---------------------------------------------------------------------- */

static void test_worker_jobs__availability_follows_its_workers(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    fv_uuid id = must_register(&r);
    FV_ASSERT_INT_EQ(definition(FV_DEF_TASK, "task-0").def.availability, FV_AVAIL_AVAILABLE);
    FV_ASSERT_INT_EQ(refresh_at(T0).n_availability, 0);

    stale_at(T0 + 46000);
    FV_ASSERT_INT_EQ(definition(FV_DEF_TASK, "task-0").def.availability, FV_AVAIL_DEGRADED);
    FV_ASSERT_INT_EQ(refresh_at(T0 + 46000).n_availability, 0); /* stored already follows */

    stale_at(T0 + 61000);
    fv_definition_detail d = definition(FV_DEF_TASK, "task-0");
    FV_ASSERT_INT_EQ(d.def.availability, FV_AVAIL_UNAVAILABLE);
    FV_ASSERT_INT_EQ(d.def.worker_count, 0);
    FV_ASSERT_INT_EQ(refresh_at(T0 + 61000).n_availability, 0);

    heartbeat_at(&id, T0 + 90000);
    FV_ASSERT_INT_EQ(definition(FV_DEF_TASK, "task-0").def.availability, FV_AVAIL_AVAILABLE);
    activate_at(T0 + 90000);
    d = definition(FV_DEF_TASK, "task-0");
    FV_ASSERT_INT_EQ(d.def.availability, FV_AVAIL_AVAILABLE);
    FV_ASSERT_INT_EQ(d.def.worker_count, 1);
    FV_ASSERT_INT_EQ(refresh_at(T0 + 90000).n_availability, 0);

    /* The availability filter sees the same. */
    fv_definition_filter f = {.tenant_id = fx.tenant,
                              .space = {.mode = FV_SPACE_ANY},
                              .has_availability = true,
                              .availability = FV_AVAIL_AVAILABLE};
    fv_definition_list l;
    FV_ASSERT_INT_EQ(
        fv_query_definitions(&fx.deps, &fx.arena, FV_DEF_TASK, &f, (fv_page){10, 0}, &l, NULL),
        FV_OK);
    FV_ASSERT_INT_EQ(l.total, 1);
}

static void test_worker_jobs__one_online_worker_keeps_a_definition_available(void)
{
    fv_fixture_req r1 = fv_fixture_request(&fx, "w1", 0, 1);
    fv_fixture_req r2 = fv_fixture_request(&fx, "w2", 0, 1);
    fv_uuid w1 = must_register(&r1), w2 = must_register(&r2);

    heartbeat_at(&w2, T0 + 30000);
    fv_job_report rep = stale_at(T0 + 46000);
    FV_ASSERT_INT_EQ(rep.n_changes, 1); /* w1 DEGRADED */
    FV_ASSERT_INT_EQ(rep.n_availability, 0);
    heartbeat_at(&w2, T0 + 55000);
    rep = stale_at(T0 + 61000);
    FV_ASSERT_INT_EQ(rep.n_changes, 1); /* w1 OFFLINE */
    FV_ASSERT_INT_EQ(rep.n_availability, 0);
    FV_ASSERT_INT_EQ(get_worker(&w1).status, FV_STATUS_OFFLINE);
    fv_definition_detail d = definition(FV_DEF_TASK, "task-0");
    FV_ASSERT_INT_EQ(d.def.availability, FV_AVAIL_AVAILABLE);
    FV_ASSERT_INT_EQ(d.def.worker_count, 1);
    FV_ASSERT_INT_EQ(d.n_workers, 1);
    if (d.n_workers == 1)
        CU_ASSERT_TRUE(id_eq(&d.workers[0].id, &w2));

    /* w2 DEGRADED, w1 OFFLINE: DEGRADED. */
    rep = stale_at(T0 + 101000);
    FV_ASSERT_INT_EQ(rep.n_changes, 1);
    static const char *const kinds[] = {"task-0"};
    check_availability(&rep, FV_AVAIL_AVAILABLE, FV_AVAIL_DEGRADED, kinds, 1);
    FV_ASSERT_INT_EQ(definition(FV_DEF_TASK, "task-0").def.availability, FV_AVAIL_DEGRADED);
}

static void test_worker_jobs__refresh_availability_keeps_stored_values_in_step(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 1, 1);
    fv_uuid id = must_register(&r);
    FV_ASSERT_INT_EQ(refresh_at(T0).n_availability, 0);
    /* Silent beyond the thresholds but no job ran: reads derive UNAVAILABLE;
     * stored statuses are still ONLINE, so the refresh has nothing to do. */
    fv_job_report rep = refresh_at(T0 + 120000);
    FV_ASSERT_INT_EQ(rep.n_availability, 0);
    FV_ASSERT_INT_EQ(rep.n_changes, 0);
    FV_ASSERT_INT_EQ(definition(FV_DEF_TASK, "task-0").def.availability, FV_AVAIL_UNAVAILABLE);
    /* After operator actions and removals too. */
    FV_ASSERT_INT_EQ(fv_worker_set_status(&fx.deps, &fx.arena, &fx.tenant, &id, FV_STATUS_DEGRADED,
                                          "drain", NULL),
                     FV_OK);
    FV_ASSERT_INT_EQ(refresh_at(T0 + 120000).n_availability, 0);
    FV_ASSERT_INT_EQ(fv_worker_unregister(&fx.deps, &fx.tenant, &id, NULL), FV_OK);
    FV_ASSERT_INT_EQ(refresh_at(T0 + 120000).n_availability, 0);
    FV_ASSERT_INT_EQ(definition(FV_DEF_WORKFLOW, "wf-0").def.availability, FV_AVAIL_UNAVAILABLE);
}

/* ---------------------------------------------------------------------- */
/* Retention                                                              */
/* ---------------------------------------------------------------------- */

static void test_worker_jobs__retention_removes_workers_and_links_but_keeps_definitions(void)
{
    fv_fixture_req r1 = fv_fixture_request(&fx, "w1", 1, 1); /* wf-0, task-0 */
    fv_fixture_req r2 = fv_fixture_request(&fx, "w2", 0, 1); /* task-0 */
    fv_uuid w1 = must_register(&r1), w2 = must_register(&r2);
    heartbeat_at(&w1, T0 + 1000);
    heartbeat_at(&w2, T0 + 50000);
    FV_ASSERT_INT_EQ(stale_at(T0 + 62000).n_changes, 1); /* w1 OFFLINE */
    FV_ASSERT_INT_EQ(get_worker(&w1).status, FV_STATUS_OFFLINE);

    /* Not yet: OFFLINE for less than the retention. */
    heartbeat_at(&w2, T0 + DAY - 1000);
    fv_job_report rep = retention_at(T0 + DAY - 1000);
    FV_ASSERT_INT_EQ(rep.n_removed, 0);
    CU_ASSERT_TRUE(worker_exists(&w1));

    /* Well past the retention. */
    heartbeat_at(&w2, T0 + DAY + 120000);
    rep = retention_at(T0 + DAY + 120000);
    FV_ASSERT_INT_EQ(rep.n_removed, 1);
    if (rep.n_removed == 1)
        CU_ASSERT_TRUE(id_eq(&rep.removed[0], &w1));
    CU_ASSERT_FALSE(worker_exists(&w1));
    CU_ASSERT_TRUE(worker_exists(&w2));
    fv_status_change_list sc;
    FV_ASSERT_INT_EQ(fv_query_status_history(&fx.deps, &fx.arena, &fx.tenant, &w1, 10, &sc, NULL),
                     FV_E_NOT_FOUND);
    fv_heartbeat_list hb = {0};
    FV_ASSERT_INT_EQ(fv_heartbeat_store_history(fx.deps.heartbeats, &fx.arena, &w1, 10, &hb, NULL),
                     FV_OK);
    FV_ASSERT_INT_EQ(hb.n, 0);

    /* Definitions stay, without the removed worker's links. */
    fv_definition_detail wf = definition(FV_DEF_WORKFLOW, "wf-0");
    FV_ASSERT_INT_EQ(wf.def.worker_count, 0);
    FV_ASSERT_INT_EQ(wf.def.availability, FV_AVAIL_UNAVAILABLE);
    FV_ASSERT_STR_EQ(wf.def.latest_version, "1.0.0");
    fv_linked_worker_list lw;
    FV_ASSERT_INT_EQ(fv_query_definition_workers(&fx.deps, &fx.arena, FV_DEF_WORKFLOW, &fx.tenant,
                                                 &no_space, "wf-0", &lw, NULL),
                     FV_OK);
    FV_ASSERT_INT_EQ(lw.n, 0);
    FV_ASSERT_INT_EQ(fv_query_definition_workers(&fx.deps, &fx.arena, FV_DEF_TASK, &fx.tenant,
                                                 &no_space, "task-0", &lw, NULL),
                     FV_OK);
    FV_ASSERT_INT_EQ(lw.n, 1);
    if (lw.n == 1)
        CU_ASSERT_TRUE(id_eq(&lw.items[0].worker.id, &w2));
    FV_ASSERT_INT_EQ(definition(FV_DEF_TASK, "task-0").def.availability, FV_AVAIL_AVAILABLE);
    FV_ASSERT_INT_EQ(refresh_at(T0 + DAY + 120000).n_availability, 0);

    /* Again: nothing left to remove. */
    FV_ASSERT_INT_EQ(retention_at(T0 + DAY + 130000).n_removed, 0);
}

static void test_worker_jobs__retention_does_nothing_when_zero(void)
{
    fx.deps.liveness.retention_ms = 0;
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    fv_uuid id = must_register(&r);
    FV_ASSERT_INT_EQ(stale_at(T0 + 61000).n_changes, 1);
    fv_job_report rep = retention_at(T0 + 365 * DAY);
    FV_ASSERT_INT_EQ(rep.n_removed, 0);
    CU_ASSERT_TRUE(worker_exists(&id));
    FV_ASSERT_INT_EQ(definition(FV_DEF_TASK, "task-0").def.worker_count, 0);
    fv_linked_worker_list lw;
    FV_ASSERT_INT_EQ(fv_query_definition_workers(&fx.deps, &fx.arena, FV_DEF_TASK, &fx.tenant,
                                                 &no_space, "task-0", &lw, NULL),
                     FV_OK);
    FV_ASSERT_INT_EQ(lw.n, 1); /* the link is kept */
}

static void test_worker_jobs__retention_spares_an_offline_worker_seen_again(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    fv_uuid id = must_register(&r);
    FV_ASSERT_INT_EQ(stale_at(T0 + 61000).n_changes, 1);
    /* It polls again a day later, before activation had a chance to run. */
    fv_fixture_set_now(&fx, T0 + 2 * DAY);
    FV_ASSERT_INT_EQ(fv_worker_record_poll(&fx.deps, &fx.tenant, "w", NULL), FV_OK);
    FV_ASSERT_INT_EQ(get_worker(&id).status, FV_STATUS_OFFLINE);
    fv_job_report rep = retention_at(T0 + 2 * DAY + 1000);
    FV_ASSERT_INT_EQ(rep.n_removed, 0);
    CU_ASSERT_TRUE(worker_exists(&id));
    FV_ASSERT_INT_EQ(activate_at(T0 + 2 * DAY + 2000).n_changes, 1);
}

static const fv_test_case cases[] = {
    FV_TEST_CASE(test_worker_jobs__a_silent_worker_goes_online_degraded_offline_and_back),
    FV_TEST_CASE(test_worker_jobs__stale_detection_can_skip_degraded),
    FV_TEST_CASE(test_worker_jobs__a_run_never_records_a_transition_twice),
    FV_TEST_CASE(test_worker_jobs__concurrent_runs_record_each_transition_once),
    FV_TEST_CASE(test_worker_jobs__activation_needs_a_fresh_sign_of_life),
    FV_TEST_CASE(test_worker_jobs__activation_with_degraded_health_stores_degraded),
    FV_TEST_CASE(test_worker_jobs__thresholds_come_from_the_configuration),
    FV_TEST_CASE(test_worker_jobs__stale_detection_spans_tenants),
    FV_TEST_CASE(test_worker_jobs__availability_follows_its_workers),
    FV_TEST_CASE(test_worker_jobs__one_online_worker_keeps_a_definition_available),
    FV_TEST_CASE(test_worker_jobs__refresh_availability_keeps_stored_values_in_step),
    FV_TEST_CASE(test_worker_jobs__retention_removes_workers_and_links_but_keeps_definitions),
    FV_TEST_CASE(test_worker_jobs__retention_does_nothing_when_zero),
    FV_TEST_CASE(test_worker_jobs__retention_spares_an_offline_worker_seen_again),
};

int main(void)
{
    const fv_test_suite suite = {"worker_jobs", cases, FV_TEST_COUNT(cases), setup, teardown};
    return fv_test_run_suites(&suite, 1) == 0 ? 0 : 1;
}
