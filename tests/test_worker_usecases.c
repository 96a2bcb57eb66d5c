/*
 * The commands on workers and definitions (core/usecases/worker_usecases.h)
 * on the in-memory adapter with a fake clock: registration and identity,
 * heartbeats and polls as signs of life, unregistration, operator statuses,
 * configuration overrides, versions, conflicts, tenants, rejected input and
 * allocation failures.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/jobs/worker_jobs.h"
#include "core/queries/worker_queries.h"
#include "core/usecases/worker_usecases.h"
#include "core/util/alloc.h"
#include "tests/support/cunit_main.h"
#include "tests/support/fixture.h"

#define T0 FV_FIXTURE_T0

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

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */
/* ---------------------------------------------------------------------- */

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
    fv_err rc = fv_query_worker(&fx.deps, &fx.arena, &fx.tenant, id, &w, NULL);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    return w;
}

static fv_status_change_list history(const fv_uuid *id)
{
    fv_status_change_list h = {0};
    fv_err rc = fv_query_status_history(&fx.deps, &fx.arena, &fx.tenant, id, FV_HISTORY_MAX_LIMIT,
                                        &h, NULL);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    return h;
}

static fv_definition_detail definition(fv_def_class cls, const char *kind)
{
    fv_definition_detail d;
    memset(&d, 0, sizeof d);
    fv_err rc =
        fv_query_definition(&fx.deps, &fx.arena, cls, &fx.tenant, &no_space, kind, &d, NULL);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    return d;
}

static int64_t definitions_total(fv_def_class cls, const char *tag)
{
    fv_definition_filter f = {.tenant_id = fx.tenant, .space = {.mode = FV_SPACE_ANY}, .tag = tag};
    fv_definition_list l = {0};
    fv_err rc = fv_query_definitions(&fx.deps, &fx.arena, cls, &f, (fv_page){100, 0}, &l, NULL);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    return l.total;
}

static int64_t workers_total(const fv_uuid *tenant)
{
    fv_worker_filter f = {.tenant_id = *tenant, .space = {.mode = FV_SPACE_ANY}};
    fv_worker_list l = {0};
    fv_err rc = fv_query_workers(&fx.deps, &fx.arena, &f, (fv_page){100, 0}, &l, NULL);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    return l.total;
}

static char *dump_of(const fv_uuid *tenant)
{
    fv_error e;
    fv_error_clear(&e);
    char *s = fv_fixture_dump(&fx, &fx.arena, tenant, &e);
    if (s == NULL)
        fprintf(stderr, "\n  dump failed: %s: %s\n", fv_err_name(e.code), e.msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    return s;
}

static char *dump(void)
{
    return dump_of(&fx.tenant);
}

/* Report the first differing line of two dumps. */
static bool same_dump(const char *before, const char *after, const char *what)
{
    if (before != NULL && after != NULL && strcmp(before, after) == 0)
        return true;
    if (before == NULL || after == NULL) {
        fprintf(stderr, "\n  %s: a dump is missing\n", what);
        return false;
    }
    size_t i = 0, line = 0;
    while (before[i] == after[i]) {
        if (before[i] == '\n')
            line = i + 1;
        i++;
    }
    fprintf(stderr, "\n  %s changed the store:\n    before: %.300s\n    after:  %.300s\n", what,
            before + line, after + line);
    return false;
}

static fv_job_report run_stale(void)
{
    fv_job_report r;
    memset(&r, 0, sizeof r);
    FV_ASSERT_INT_EQ(fv_job_detect_stale(&fx.deps, &fx.arena, fv_fixture_now(&fx), &r, NULL),
                     FV_OK);
    return r;
}

static fv_job_report run_activate(void)
{
    fv_job_report r;
    memset(&r, 0, sizeof r);
    FV_ASSERT_INT_EQ(fv_job_activate(&fx.deps, &fx.arena, fv_fixture_now(&fx), &r, NULL), FV_OK);
    return r;
}

static fv_job_report run_refresh(void)
{
    fv_job_report r;
    memset(&r, 0, sizeof r);
    FV_ASSERT_INT_EQ(
        fv_job_refresh_availability(&fx.deps, &fx.arena, fv_fixture_now(&fx), &r, NULL), FV_OK);
    return r;
}

static bool has_text(const char *s, const char *needle)
{
    return s != NULL && strstr(s, needle) != NULL;
}

static bool id_eq(const fv_uuid *x, const fv_uuid *y)
{
    return fv_uuid_eq(x, y);
}

/* ---------------------------------------------------------------------- */
/* Identity                                                               */
/* ---------------------------------------------------------------------- */

static void test_worker_usecases__same_process_registering_twice_keeps_its_id(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "billing", 1, 2);
    fv_register_result first, second;
    FV_ASSERT_INT_EQ(fv_worker_register(&fx.deps, &fx.arena, &r.req, &first, NULL), FV_OK);
    CU_ASSERT_TRUE(first.created);
    fv_fixture_advance(&fx, 5000);
    FV_ASSERT_INT_EQ(fv_worker_register(&fx.deps, &fx.arena, &r.req, &second, NULL), FV_OK);
    CU_ASSERT_FALSE(second.created);
    CU_ASSERT_TRUE(id_eq(&first.worker_id, &second.worker_id));
    FV_ASSERT_INT_EQ(workers_total(&fx.tenant), 1);
    fv_worker w = get_worker(&first.worker_id);
    FV_ASSERT_INT_EQ(w.registered_at, T0 + 5000);
    FV_ASSERT_INT_EQ(w.last_seen_at, T0 + 5000);
    FV_ASSERT_INT_EQ(definition(FV_DEF_TASK, "task-1").def.worker_count, 1);
}

static void test_worker_usecases__replicas_sharing_a_name_are_distinct_workers(void)
{
    fv_fixture_req a = fv_fixture_request(&fx, "billing", 0, 1);
    fv_fixture_req b = fv_fixture_request(&fx, "billing", 0, 1);
    fv_fixture_req c = fv_fixture_request(&fx, "billing", 0, 1);
    b.req.process_id = "2";     /* same host, other pid */
    c.req.host_name = "host-b"; /* other host, same pid */
    fv_uuid ia = must_register(&a), ib = must_register(&b), ic = must_register(&c);
    CU_ASSERT_FALSE(id_eq(&ia, &ib));
    CU_ASSERT_FALSE(id_eq(&ia, &ic));
    CU_ASSERT_FALSE(id_eq(&ib, &ic));
    FV_ASSERT_INT_EQ(workers_total(&fx.tenant), 3);
    fv_definition_detail d = definition(FV_DEF_TASK, "task-0");
    FV_ASSERT_INT_EQ(d.def.worker_count, 3);
    FV_ASSERT_INT_EQ(d.n_workers, 3);
    FV_ASSERT_STR_EQ(get_worker(&ic).host_name, "host-b");
    FV_ASSERT_STR_EQ(get_worker(&ib).process_id, "2");

    /* A restarted process (new pid) is a new worker too. */
    fv_fixture_req restarted = fv_fixture_request(&fx, "billing", 0, 1);
    restarted.req.process_id = "3";
    fv_register_result res;
    FV_ASSERT_INT_EQ(fv_worker_register(&fx.deps, &fx.arena, &restarted.req, &res, NULL), FV_OK);
    CU_ASSERT_TRUE(res.created);
    FV_ASSERT_INT_EQ(workers_total(&fx.tenant), 4);
}

typedef struct reg_thread {
    const fv_deps *deps;
    fv_uuid tenant;
    pthread_barrier_t *start;
    int index;
    fv_err rc;
    fv_uuid id;
    size_t conflicts;
    char msg[FV_ERROR_MSG_MAX];
} reg_thread;

#define THREADS 8
#define ROUNDS  25

static void *register_thread(void *p)
{
    reg_thread *t = p;
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_fixture_req r;
    t->rc = FV_E_INTERNAL;
    pthread_barrier_wait(t->start);
    if (!fv_fixture_req_build(&a, &t->tenant, "pool", 3, 5, &r))
        goto done;
    char pid[16];
    snprintf(pid, sizeof pid, "%d", 100 + t->index);
    r.req.process_id = pid;
    /* Register again and again, so the registrations overlap for real. */
    for (int round = 0; round < ROUNDS; round++) {
        fv_register_result res;
        fv_error e;
        fv_error_clear(&e);
        t->rc = fv_worker_register(t->deps, &a, &r.req, &res, &e);
        if (t->rc != FV_OK) {
            memcpy(t->msg, e.msg, sizeof t->msg);
            break;
        }
        t->id = res.worker_id;
        t->conflicts += res.n_conflicts;
        fv_arena_reset(&a);
        if (!fv_fixture_req_build(&a, &t->tenant, "pool", 3, 5, &r)) {
            t->rc = FV_E_EXHAUSTED;
            break;
        }
        r.req.process_id = pid;
    }
done:
    fv_arena_release(&a);
    return NULL;
}

static void test_worker_usecases__concurrent_registrations_of_the_same_kinds_all_succeed(void)
{
    pthread_t th[THREADS];
    reg_thread t[THREADS];
    pthread_barrier_t start;
    CU_ASSERT_FATAL(pthread_barrier_init(&start, NULL, THREADS) == 0);
    for (int i = 0; i < THREADS; i++) {
        memset(&t[i], 0, sizeof t[i]);
        t[i].deps = &fx.deps;
        t[i].tenant = fx.tenant;
        t[i].start = &start;
        t[i].index = i;
    }
    int started = 0;
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&th[i], NULL, register_thread, &t[i]) == 0)
            started++;
    CU_ASSERT_FATAL(started == THREADS);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);

    for (int i = 0; i < THREADS; i++) {
        if (t[i].rc != FV_OK)
            fprintf(stderr, "\n  thread %d: %s: %s\n", i, fv_err_name(t[i].rc), t[i].msg);
        FV_ASSERT_INT_EQ(t[i].rc, FV_OK);
        FV_ASSERT_INT_EQ(t[i].conflicts, 0);
        for (int j = 0; j < i; j++)
            CU_ASSERT_FALSE(id_eq(&t[i].id, &t[j].id));
    }
    FV_ASSERT_INT_EQ(workers_total(&fx.tenant), THREADS);
    FV_ASSERT_INT_EQ(definitions_total(FV_DEF_TASK, NULL), 5);
    FV_ASSERT_INT_EQ(definitions_total(FV_DEF_WORKFLOW, NULL), 3);
    static const char *const tasks[] = {"task-0", "task-1", "task-2", "task-3", "task-4"};
    static const char *const wfs[] = {"wf-0", "wf-1", "wf-2"};
    for (size_t k = 0; k < 5; k++) {
        fv_definition_detail d = definition(FV_DEF_TASK, tasks[k]);
        FV_ASSERT_INT_EQ(d.def.worker_count, THREADS);
        FV_ASSERT_INT_EQ(d.n_workers, THREADS);
        FV_ASSERT_INT_EQ(d.def.availability, FV_AVAIL_AVAILABLE);
    }
    for (size_t k = 0; k < 3; k++) {
        fv_definition_detail d = definition(FV_DEF_WORKFLOW, wfs[k]);
        FV_ASSERT_INT_EQ(d.def.worker_count, THREADS);
        FV_ASSERT_STR_EQ(d.def.latest_version, "1.0.0");
    }
    for (int i = 0; i < THREADS; i++) {
        fv_worker w = get_worker(&t[i].id);
        FV_ASSERT_INT_EQ(w.task_kinds, 5);
        FV_ASSERT_INT_EQ(w.workflow_kinds, 3);
    }
}

static void test_worker_usecases__registration_stores_the_worker_online(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "billing", 1, 2);
    r.req.worker_type = "TASK";
    r.req.worker_version = ""; /* not given */
    r.req.metadata = (fv_json){"{\"sdk\":\"rust\"}", 14};
    fv_fixture_advance(&fx, 250);
    fv_uuid id = must_register(&r);
    fv_worker w = get_worker(&id);
    CU_ASSERT_TRUE(id_eq(&w.tenant_id, &fx.tenant));
    CU_ASSERT_FALSE(w.space.has);
    FV_ASSERT_STR_EQ(w.name, "billing");
    CU_ASSERT_PTR_NULL(w.version);
    FV_ASSERT_INT_EQ(w.type, FV_WORKER_TASK);
    FV_ASSERT_INT_EQ(w.status, FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(w.effective_status, FV_STATUS_ONLINE);
    FV_ASSERT_STR_EQ(w.host_name, "host-a");
    FV_ASSERT_STR_EQ(w.process_id, "1");
    FV_ASSERT_INT_EQ(w.registered_at, T0 + 250);
    FV_ASSERT_INT_EQ(w.last_heartbeat_at, T0 + 250);
    FV_ASSERT_INT_EQ(w.last_seen_at, T0 + 250);
    FV_ASSERT_INT_EQ(w.workflow_kinds, 1);
    FV_ASSERT_INT_EQ(w.task_kinds, 2);
    FV_ASSERT_INT_EQ(w.metadata.n, 14);
    CU_ASSERT_TRUE(w.metadata.p != NULL && memcmp(w.metadata.p, "{\"sdk\":\"rust\"}", 14) == 0);

    fv_definition_detail d = definition(FV_DEF_TASK, "task-0");
    FV_ASSERT_STR_EQ(d.def.name, "task-0"); /* display name defaults to the kind */
    CU_ASSERT_PTR_NULL(d.def.description);
    FV_ASSERT_INT_EQ(d.def.first_seen_at, T0 + 250);
    FV_ASSERT_INT_EQ(d.def.last_registered_at, T0 + 250);
    FV_ASSERT_INT_EQ(d.def.availability, FV_AVAIL_AVAILABLE);
    FV_ASSERT_INT_EQ(d.def.worker_count, 1);
    CU_ASSERT_PTR_NULL(d.def.latest_version);

    /* Re-registration later keeps first_seen_at, moves last_registered_at. */
    fv_fixture_advance(&fx, 1000);
    r.tasks[0].name = "Task zero";
    r.tasks[0].description = "does zero";
    must_register(&r);
    d = definition(FV_DEF_TASK, "task-0");
    FV_ASSERT_INT_EQ(d.def.first_seen_at, T0 + 250);
    FV_ASSERT_INT_EQ(d.def.last_registered_at, T0 + 1250);
    FV_ASSERT_STR_EQ(d.def.name, "Task zero"); /* the latest registration wins */
    FV_ASSERT_STR_EQ(d.def.description, "does zero");
}

static void test_worker_usecases__reregistration_replaces_capability_links(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 1, 2); /* wf-0, task-0, task-1 */
    fv_uuid id = must_register(&r);
    /* Again with task-2, task-1, task-3 and no workflow. */
    fv_fixture_req again = fv_fixture_request(&fx, "w", 0, 3);
    again.tasks[0].kind = "task-2";
    again.tasks[2].kind = "task-3";
    fv_fixture_advance(&fx, 1000);
    fv_uuid id2 = must_register(&again);
    CU_ASSERT_TRUE(id_eq(&id, &id2));

    fv_worker_detail det;
    FV_ASSERT_INT_EQ(fv_query_worker_detail(&fx.deps, &fx.arena, &fx.tenant, &id, &det, NULL),
                     FV_OK);
    FV_ASSERT_INT_EQ(det.workflows.n, 0);
    FV_ASSERT_INT_EQ(det.tasks.n, 3);
    if (det.tasks.n == 3) {
        FV_ASSERT_STR_EQ(det.tasks.items[0].kind, "task-1"); /* by kind */
        FV_ASSERT_STR_EQ(det.tasks.items[1].kind, "task-2");
        FV_ASSERT_STR_EQ(det.tasks.items[2].kind, "task-3");
    }
    FV_ASSERT_INT_EQ(det.worker.task_kinds, 3);
    FV_ASSERT_INT_EQ(det.worker.workflow_kinds, 0);

    /* Unlinked definitions stay, without workers. */
    fv_definition_detail old = definition(FV_DEF_TASK, "task-0");
    FV_ASSERT_INT_EQ(old.def.worker_count, 0);
    FV_ASSERT_INT_EQ(old.n_workers, 0);
    FV_ASSERT_INT_EQ(old.def.availability, FV_AVAIL_UNAVAILABLE);
    fv_definition_detail wf = definition(FV_DEF_WORKFLOW, "wf-0");
    FV_ASSERT_INT_EQ(wf.def.worker_count, 0);
    FV_ASSERT_INT_EQ(definitions_total(FV_DEF_TASK, NULL), 4);
    /* Stored availability was recomputed with the links. */
    FV_ASSERT_INT_EQ(run_refresh().n_availability, 0);
}

static void test_worker_usecases__reregistration_brings_an_offline_worker_back_online(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    fv_uuid id = must_register(&r);
    fv_fixture_advance(&fx, 61000);
    fv_job_report rep = run_stale();
    FV_ASSERT_INT_EQ(rep.n_changes, 1);
    FV_ASSERT_INT_EQ(get_worker(&id).status, FV_STATUS_OFFLINE);
    FV_ASSERT_INT_EQ(definition(FV_DEF_TASK, "task-0").def.availability, FV_AVAIL_UNAVAILABLE);

    fv_fixture_advance(&fx, 1000);
    must_register(&r);
    fv_worker w = get_worker(&id);
    FV_ASSERT_INT_EQ(w.status, FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(w.effective_status, FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(w.status_changed_at, T0 + 62000);
    fv_status_change_list h = history(&id);
    CU_ASSERT_FATAL(h.n >= 2);
    FV_ASSERT_INT_EQ(h.items[0].from, FV_STATUS_OFFLINE);
    FV_ASSERT_INT_EQ(h.items[0].to, FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(h.items[0].at, T0 + 62000);
    CU_ASSERT_TRUE(h.items[0].reason != NULL && h.items[0].reason[0] != '\0');
    FV_ASSERT_INT_EQ(definition(FV_DEF_TASK, "task-0").def.availability, FV_AVAIL_AVAILABLE);
    FV_ASSERT_INT_EQ(run_refresh().n_availability, 0);
    FV_ASSERT_INT_EQ(run_activate().n_changes, 0);
}

static void test_worker_usecases__reregistration_ends_an_operator_status(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    fv_uuid id = must_register(&r);
    fv_fixture_set_now(&fx, T0 + 1000);
    FV_ASSERT_INT_EQ(fv_worker_set_status(&fx.deps, &fx.arena, &fx.tenant, &id, FV_STATUS_OFFLINE,
                                          "maintenance", NULL),
                     FV_OK);
    FV_ASSERT_INT_EQ(definition(FV_DEF_TASK, "task-0").def.availability, FV_AVAIL_UNAVAILABLE);
    fv_fixture_set_now(&fx, T0 + 2000);
    must_register(&r); /* the process restarted its registration: a sign of life */
    fv_worker w = get_worker(&id);
    FV_ASSERT_INT_EQ(w.status, FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(w.effective_status, FV_STATUS_ONLINE);
    fv_status_change_list h = history(&id);
    CU_ASSERT_FATAL(h.n >= 2);
    FV_ASSERT_INT_EQ(h.items[0].from, FV_STATUS_OFFLINE);
    FV_ASSERT_INT_EQ(h.items[0].to, FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(h.items[0].at, T0 + 2000);
    FV_ASSERT_INT_EQ(definition(FV_DEF_TASK, "task-0").def.availability, FV_AVAIL_AVAILABLE);
    FV_ASSERT_INT_EQ(run_refresh().n_availability, 0);
}

static void test_worker_usecases__an_unregistered_identity_registers_as_a_new_worker(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 1, 1);
    fv_uuid id = must_register(&r);
    FV_ASSERT_INT_EQ(fv_worker_unregister(&fx.deps, &fx.tenant, &id, NULL), FV_OK);
    fv_fixture_advance(&fx, 1000);
    fv_register_result res;
    FV_ASSERT_INT_EQ(fv_worker_register(&fx.deps, &fx.arena, &r.req, &res, NULL), FV_OK);
    CU_ASSERT_TRUE(res.created);
    CU_ASSERT_FALSE(id_eq(&res.worker_id, &id));
    FV_ASSERT_INT_EQ(workers_total(&fx.tenant), 1);
    fv_definition_detail d = definition(FV_DEF_TASK, "task-0");
    FV_ASSERT_INT_EQ(d.def.worker_count, 1);
    FV_ASSERT_INT_EQ(d.def.first_seen_at, T0); /* the definition is the same one */
    FV_ASSERT_INT_EQ(definitions_total(FV_DEF_TASK, NULL), 1);
}

/* ---------------------------------------------------------------------- */
/* Heartbeats and polls                                                   */
/* ---------------------------------------------------------------------- */

static void test_worker_usecases__heartbeat_does_not_change_the_stored_status(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    fv_uuid id = must_register(&r);

    /* A fresh ONLINE worker: the heartbeat writes no status. */
    fv_fixture_advance(&fx, 10000);
    size_t n0 = history(&id).n;
    FV_ASSERT_INT_EQ(fv_fixture_heartbeat(&fx, &fx.tenant, &id), FV_OK);
    fv_worker w = get_worker(&id);
    FV_ASSERT_INT_EQ(w.status, FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(w.status_changed_at, T0);
    FV_ASSERT_INT_EQ(history(&id).n, n0);

    /* Stored DEGRADED by the job; a heartbeat makes it look ONLINE at once
     * but the stored status only moves with the activation job. */
    fv_fixture_set_now(&fx, T0 + 10000 + 46000);
    FV_ASSERT_INT_EQ(run_stale().n_changes, 1);
    FV_ASSERT_INT_EQ(get_worker(&id).status, FV_STATUS_DEGRADED);
    size_t n1 = history(&id).n;
    FV_ASSERT_INT_EQ(n1, n0 + 1);
    fv_fixture_advance(&fx, 1000);
    FV_ASSERT_INT_EQ(fv_fixture_heartbeat(&fx, &fx.tenant, &id), FV_OK);
    w = get_worker(&id);
    FV_ASSERT_INT_EQ(w.status, FV_STATUS_DEGRADED);
    FV_ASSERT_INT_EQ(w.effective_status, FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(w.last_heartbeat_at, fv_fixture_now(&fx));
    FV_ASSERT_INT_EQ(w.last_seen_at, fv_fixture_now(&fx));
    FV_ASSERT_INT_EQ(history(&id).n, n1);

    /* A heartbeat saying "degraded" does not write DEGRADED either. */
    fv_fixture_req r2 = fv_fixture_request(&fx, "w2", 0, 1);
    fv_uuid id2 = must_register(&r2);
    size_t n2 = history(&id2).n;
    fv_fixture_advance(&fx, 1000);
    fv_heartbeat_request hb = {.tenant_id = fx.tenant,
                               .worker_id = id2,
                               .health_info = {"{\"status\":\"degraded\"}", 21},
                               .health_degraded = true};
    FV_ASSERT_INT_EQ(fv_worker_heartbeat(&fx.deps, &hb, NULL), FV_OK);
    w = get_worker(&id2);
    FV_ASSERT_INT_EQ(w.status, FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(w.effective_status, FV_STATUS_DEGRADED);
    CU_ASSERT_TRUE(w.health_degraded);
    FV_ASSERT_INT_EQ(history(&id2).n, n2);
}

static void test_worker_usecases__heartbeat_records_time_and_health_info(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    fv_uuid id = must_register(&r);
    static const char h1[] = "{\"load\":1}";
    static const char h3[] = "{\"load\":3}";
    fv_heartbeat_request hb = {.tenant_id = fx.tenant, .worker_id = id};
    fv_fixture_set_now(&fx, T0 + 1000);
    hb.health_info = (fv_json){h1, sizeof h1 - 1};
    FV_ASSERT_INT_EQ(fv_worker_heartbeat(&fx.deps, &hb, NULL), FV_OK);
    fv_fixture_set_now(&fx, T0 + 2000);
    hb.health_info = (fv_json){"", 0}; /* empty: none */
    FV_ASSERT_INT_EQ(fv_worker_heartbeat(&fx.deps, &hb, NULL), FV_OK);
    fv_fixture_set_now(&fx, T0 + 3000);
    hb.health_info = (fv_json){h3, sizeof h3 - 1};
    FV_ASSERT_INT_EQ(fv_worker_heartbeat(&fx.deps, &hb, NULL), FV_OK);

    fv_heartbeat last;
    FV_ASSERT_INT_EQ(fv_query_last_heartbeat(&fx.deps, &fx.arena, &fx.tenant, &id, &last, NULL),
                     FV_OK);
    FV_ASSERT_INT_EQ(last.at, T0 + 3000);
    CU_ASSERT_TRUE(id_eq(&last.worker_id, &id));
    CU_ASSERT_TRUE(last.health_info.n == sizeof h3 - 1 &&
                   memcmp(last.health_info.p, h3, sizeof h3 - 1) == 0);

    fv_heartbeat_list l;
    FV_ASSERT_INT_EQ(fv_query_heartbeats(&fx.deps, &fx.arena, &fx.tenant, &id, 10, &l, NULL),
                     FV_OK);
    FV_ASSERT_INT_EQ(l.n, 3);
    if (l.n == 3) {
        FV_ASSERT_INT_EQ(l.items[0].at, T0 + 3000); /* newest first */
        FV_ASSERT_INT_EQ(l.items[1].at, T0 + 2000);
        FV_ASSERT_INT_EQ(l.items[2].at, T0 + 1000);
        CU_ASSERT_PTR_NULL(l.items[1].health_info.p);
        CU_ASSERT_TRUE(l.items[2].health_info.n == sizeof h1 - 1 &&
                       memcmp(l.items[2].health_info.p, h1, sizeof h1 - 1) == 0);
    }
    FV_ASSERT_INT_EQ(fv_query_heartbeats(&fx.deps, &fx.arena, &fx.tenant, &id, 2, &l, NULL), FV_OK);
    FV_ASSERT_INT_EQ(l.n, 2);

    fv_worker w = get_worker(&id);
    FV_ASSERT_INT_EQ(w.last_heartbeat_at, T0 + 3000);
    CU_ASSERT_TRUE(w.health_info.n == sizeof h3 - 1 &&
                   memcmp(w.health_info.p, h3, sizeof h3 - 1) == 0);
    CU_ASSERT_FALSE(w.health_degraded);
}

static void test_worker_usecases__heartbeat_of_an_unknown_worker_is_not_found(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    must_register(&r);
    fv_fixture_advance(&fx, 1000);
    char *before = dump();
    fv_heartbeat_request hb = {.tenant_id = fx.tenant};
    memset(hb.worker_id.b, 0xab, sizeof hb.worker_id.b);
    fv_error e;
    FV_ASSERT_INT_EQ(fv_worker_heartbeat(&fx.deps, &hb, &e), FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(e.code, FV_E_NOT_FOUND);
    CU_ASSERT_TRUE(same_dump(before, dump(), "a heartbeat of an unknown worker"));
}

static void test_worker_usecases__oversized_health_info_is_rejected_and_changes_nothing(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    fv_uuid id = must_register(&r);
    fv_fixture_advance(&fx, 1000);
    char *before = dump();
    fv_heartbeat_request hb = {.tenant_id = fx.tenant,
                               .worker_id = id,
                               .health_info = fv_fixture_json(&fx.arena, FV_HEALTH_INFO_MAX + 1)};
    fv_error e;
    FV_ASSERT_INT_EQ(fv_worker_heartbeat(&fx.deps, &hb, &e), FV_E_INVALID);
    CU_ASSERT_TRUE(has_text(e.msg, "health"));
    CU_ASSERT_TRUE(same_dump(before, dump(), "an oversized health info"));
    /* The limit itself is fine. */
    hb.health_info = fv_fixture_json(&fx.arena, FV_HEALTH_INFO_MAX);
    FV_ASSERT_INT_EQ(fv_worker_heartbeat(&fx.deps, &hb, NULL), FV_OK);
}

static void test_worker_usecases__poll_by_id_counts_as_a_sign_of_life(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    fv_uuid id = must_register(&r);
    const char *ref = fv_uuid_str(&fx.arena, &id);
    fv_fixture_set_now(&fx, T0 + 40000);
    FV_ASSERT_INT_EQ(fv_worker_record_poll(&fx.deps, &fx.tenant, ref, NULL), FV_OK);
    fv_worker w = get_worker(&id);
    FV_ASSERT_INT_EQ(w.last_seen_at, T0 + 40000);
    FV_ASSERT_INT_EQ(w.last_heartbeat_at, T0); /* a poll is not a heartbeat */

    /* 80 s after registration, 40 s after the poll: still ONLINE. */
    fv_fixture_set_now(&fx, T0 + 80000);
    FV_ASSERT_INT_EQ(get_worker(&id).effective_status, FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(run_stale().n_changes, 0);
    FV_ASSERT_INT_EQ(get_worker(&id).status, FV_STATUS_ONLINE);

    /* The id text in upper case names the same worker. */
    char upper[FV_UUID_STR_LEN + 1];
    for (size_t i = 0; i <= FV_UUID_STR_LEN; i++)
        upper[i] = (ref[i] >= 'a' && ref[i] <= 'f') ? (char)(ref[i] - 'a' + 'A') : ref[i];
    fv_fixture_set_now(&fx, T0 + 90000);
    FV_ASSERT_INT_EQ(fv_worker_record_poll(&fx.deps, &fx.tenant, upper, NULL), FV_OK);
    FV_ASSERT_INT_EQ(get_worker(&id).last_seen_at, T0 + 90000);
}

static void test_worker_usecases__poll_by_name_counts_as_a_sign_of_life(void)
{
    fv_fixture_req a = fv_fixture_request(&fx, "pool", 0, 1);
    fv_uuid ia = must_register(&a);
    fv_fixture_set_now(&fx, T0 + 1000);
    fv_fixture_req b = fv_fixture_request(&fx, "pool", 0, 1);
    b.req.process_id = "2";
    fv_uuid ib = must_register(&b);

    fv_fixture_set_now(&fx, T0 + 30000);
    FV_ASSERT_INT_EQ(fv_worker_record_poll(&fx.deps, &fx.tenant, "pool", NULL), FV_OK);
    /* The most recently registered worker of that name is touched. */
    fv_worker wb = get_worker(&ib);
    FV_ASSERT_INT_EQ(wb.last_seen_at, T0 + 30000);
    FV_ASSERT_INT_EQ(wb.last_heartbeat_at, T0 + 1000);
    FV_ASSERT_INT_EQ(get_worker(&ia).last_seen_at, T0);

    /* B stays ONLINE thanks to its polls, A goes stale. */
    fv_fixture_set_now(&fx, T0 + 70000);
    FV_ASSERT_INT_EQ(fv_worker_record_poll(&fx.deps, &fx.tenant, "pool", NULL), FV_OK);
    fv_job_report rep = run_stale();
    FV_ASSERT_INT_EQ(rep.n_changes, 1);
    if (rep.n_changes == 1)
        CU_ASSERT_TRUE(id_eq(&rep.changes[0].worker_id, &ia));
    FV_ASSERT_INT_EQ(get_worker(&ib).status, FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(get_worker(&ia).status, FV_STATUS_OFFLINE);
}

static void test_worker_usecases__poll_of_an_unknown_worker_is_not_found(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    must_register(&r);
    fv_fixture_advance(&fx, 1000);
    char *before = dump();
    fv_error e;
    FV_ASSERT_INT_EQ(fv_worker_record_poll(&fx.deps, &fx.tenant, "nobody", &e), FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(e.code, FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(
        fv_worker_record_poll(&fx.deps, &fx.tenant, "00000000-0000-0000-0000-0000000000ff", NULL),
        FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_worker_record_poll(&fx.deps, &fx.tenant, "W", NULL), FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_worker_record_poll(&fx.deps, &fx.tenant, "", NULL), FV_E_INVALID);
    CU_ASSERT_TRUE(same_dump(before, dump(), "a poll of an unknown worker"));
}

static void test_worker_usecases__a_worker_that_only_polls_never_goes_stale(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 2);
    fv_uuid id = must_register(&r);
    const char *ref = fv_uuid_str(&fx.arena, &id);
    size_t n0 = history(&id).n;
    for (int i = 1; i <= 40; i++) {
        fv_fixture_set_now(&fx, T0 + (fv_time)i * 30000);
        FV_ASSERT_INT_EQ(fv_worker_record_poll(&fx.deps, &fx.tenant, ref, NULL), FV_OK);
        fv_fixture_advance(&fx, 29000); /* the jobs run just before the next poll */
        FV_ASSERT_INT_EQ(run_stale().n_changes, 0);
        FV_ASSERT_INT_EQ(run_activate().n_changes, 0);
        FV_ASSERT_INT_EQ(get_worker(&id).effective_status, FV_STATUS_ONLINE);
    }
    fv_worker w = get_worker(&id);
    FV_ASSERT_INT_EQ(w.status, FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(w.last_heartbeat_at, T0);
    FV_ASSERT_INT_EQ(history(&id).n, n0);
    FV_ASSERT_INT_EQ(definition(FV_DEF_TASK, "task-1").def.availability, FV_AVAIL_AVAILABLE);
}

/* ---------------------------------------------------------------------- */
/* Unregister, operator status                                            */
/* ---------------------------------------------------------------------- */

static void test_worker_usecases__unregister_removes_the_worker_its_heartbeats_and_links(void)
{
    fv_fixture_req r1 = fv_fixture_request(&fx, "w1", 1, 2); /* wf-0, task-0, task-1 */
    fv_uuid w1 = must_register(&r1);
    fv_fixture_req r2 = fv_fixture_request(&fx, "w2", 0, 2);
    r2.req.n_tasks = 1;
    r2.tasks[0].kind = "task-1";
    fv_uuid w2 = must_register(&r2);
    fv_fixture_advance(&fx, 1000);
    FV_ASSERT_INT_EQ(fv_fixture_heartbeat(&fx, &fx.tenant, &w1), FV_OK);
    fv_fixture_advance(&fx, 1000);
    FV_ASSERT_INT_EQ(fv_fixture_heartbeat(&fx, &fx.tenant, &w1), FV_OK);
    FV_ASSERT_INT_EQ(definition(FV_DEF_TASK, "task-1").def.worker_count, 2);

    fv_error e;
    FV_ASSERT_INT_EQ(fv_worker_unregister(&fx.deps, &fx.tenant, &w1, &e), FV_OK);

    fv_worker w;
    FV_ASSERT_INT_EQ(fv_query_worker(&fx.deps, &fx.arena, &fx.tenant, &w1, &w, NULL),
                     FV_E_NOT_FOUND);
    fv_status_change_list h;
    FV_ASSERT_INT_EQ(fv_query_status_history(&fx.deps, &fx.arena, &fx.tenant, &w1, 10, &h, NULL),
                     FV_E_NOT_FOUND);
    fv_heartbeat_list hb = {0};
    FV_ASSERT_INT_EQ(fv_heartbeat_store_history(fx.deps.heartbeats, &fx.arena, &w1, 10, &hb, NULL),
                     FV_OK);
    FV_ASSERT_INT_EQ(hb.n, 0);
    fv_heartbeat last;
    FV_ASSERT_INT_EQ(fv_heartbeat_store_last(fx.deps.heartbeats, &fx.arena, &w1, &last, NULL),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(workers_total(&fx.tenant), 1);

    /* Definitions stay; links are gone; availability follows. */
    fv_definition_detail t0 = definition(FV_DEF_TASK, "task-0");
    FV_ASSERT_INT_EQ(t0.def.worker_count, 0);
    FV_ASSERT_INT_EQ(t0.def.availability, FV_AVAIL_UNAVAILABLE);
    fv_linked_worker_list lw;
    FV_ASSERT_INT_EQ(fv_query_definition_workers(&fx.deps, &fx.arena, FV_DEF_TASK, &fx.tenant,
                                                 &no_space, "task-0", &lw, NULL),
                     FV_OK);
    FV_ASSERT_INT_EQ(lw.n, 0);
    fv_definition_detail t1 = definition(FV_DEF_TASK, "task-1");
    FV_ASSERT_INT_EQ(t1.def.worker_count, 1);
    FV_ASSERT_INT_EQ(t1.n_workers, 1);
    if (t1.n_workers == 1)
        CU_ASSERT_TRUE(id_eq(&t1.workers[0].id, &w2));
    FV_ASSERT_INT_EQ(t1.def.availability, FV_AVAIL_AVAILABLE);
    FV_ASSERT_INT_EQ(definition(FV_DEF_WORKFLOW, "wf-0").def.worker_count, 0);
    /* The stored availability was recomputed by the removal itself. */
    FV_ASSERT_INT_EQ(run_refresh().n_availability, 0);

    /* Twice is NOT_FOUND. */
    FV_ASSERT_INT_EQ(fv_worker_unregister(&fx.deps, &fx.tenant, &w1, &e), FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(e.code, FV_E_NOT_FOUND);
}

static void test_worker_usecases__set_status_by_an_operator_holds_until_a_sign_of_life(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    fv_uuid id = must_register(&r);
    fv_fixture_set_now(&fx, T0 + 1000);
    FV_ASSERT_INT_EQ(fv_worker_set_status(&fx.deps, &fx.arena, &fx.tenant, &id, FV_STATUS_OFFLINE,
                                          "maintenance", NULL),
                     FV_OK);
    fv_worker w = get_worker(&id);
    FV_ASSERT_INT_EQ(w.status, FV_STATUS_OFFLINE);
    FV_ASSERT_INT_EQ(w.effective_status, FV_STATUS_OFFLINE); /* although fresh */
    FV_ASSERT_INT_EQ(w.status_changed_at, T0 + 1000);
    fv_status_change_list h = history(&id);
    CU_ASSERT_FATAL(h.n >= 1);
    FV_ASSERT_INT_EQ(h.items[0].from, FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(h.items[0].to, FV_STATUS_OFFLINE);
    FV_ASSERT_INT_EQ(h.items[0].at, T0 + 1000);
    CU_ASSERT_TRUE(has_text(h.items[0].reason, "operator"));
    CU_ASSERT_TRUE(has_text(h.items[0].reason, "maintenance"));
    fv_definition_detail d = definition(FV_DEF_TASK, "task-0");
    FV_ASSERT_INT_EQ(d.def.availability, FV_AVAIL_UNAVAILABLE);
    FV_ASSERT_INT_EQ(d.def.worker_count, 0);
    FV_ASSERT_INT_EQ(run_refresh().n_availability, 0); /* stored availability recomputed */

    /* The jobs do not undo it: the worker showed no life since. */
    fv_fixture_set_now(&fx, T0 + 2000);
    FV_ASSERT_INT_EQ(run_activate().n_changes, 0);
    FV_ASSERT_INT_EQ(run_stale().n_changes, 0);
    FV_ASSERT_INT_EQ(get_worker(&id).effective_status, FV_STATUS_OFFLINE);

    /* A heartbeat ends it: ONLINE at once on reads, stored by activation. */
    fv_fixture_set_now(&fx, T0 + 3000);
    FV_ASSERT_INT_EQ(fv_fixture_heartbeat(&fx, &fx.tenant, &id), FV_OK);
    w = get_worker(&id);
    FV_ASSERT_INT_EQ(w.effective_status, FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(w.status, FV_STATUS_OFFLINE);
    FV_ASSERT_INT_EQ(definition(FV_DEF_TASK, "task-0").def.availability, FV_AVAIL_AVAILABLE);
    fv_job_report rep = run_activate();
    FV_ASSERT_INT_EQ(rep.n_changes, 1);
    FV_ASSERT_INT_EQ(get_worker(&id).status, FV_STATUS_ONLINE);

    /* DEGRADED without a reason. */
    fv_fixture_set_now(&fx, T0 + 4000);
    FV_ASSERT_INT_EQ(
        fv_worker_set_status(&fx.deps, &fx.arena, &fx.tenant, &id, FV_STATUS_DEGRADED, NULL, NULL),
        FV_OK);
    w = get_worker(&id);
    FV_ASSERT_INT_EQ(w.status, FV_STATUS_DEGRADED);
    FV_ASSERT_INT_EQ(w.effective_status, FV_STATUS_DEGRADED);
    h = history(&id);
    CU_ASSERT_FATAL(h.n >= 1);
    FV_ASSERT_INT_EQ(h.items[0].to, FV_STATUS_DEGRADED);
    CU_ASSERT_TRUE(has_text(h.items[0].reason, "operator"));
    FV_ASSERT_INT_EQ(definition(FV_DEF_TASK, "task-0").def.availability, FV_AVAIL_DEGRADED);
    /* A poll is a sign of life too. */
    fv_fixture_set_now(&fx, T0 + 5000);
    FV_ASSERT_INT_EQ(fv_worker_record_poll(&fx.deps, &fx.tenant, "w", NULL), FV_OK);
    FV_ASSERT_INT_EQ(get_worker(&id).effective_status, FV_STATUS_ONLINE);
}

static void test_worker_usecases__set_status_rejects_bad_input_and_changes_nothing(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    fv_uuid id = must_register(&r);
    fv_fixture_advance(&fx, 1000);
    char *before = dump();
    fv_error e;
    FV_ASSERT_INT_EQ(
        fv_worker_set_status(&fx.deps, &fx.arena, &fx.tenant, &id, (fv_worker_status)0, NULL, &e),
        FV_E_INVALID);
    FV_ASSERT_INT_EQ(
        fv_worker_set_status(&fx.deps, &fx.arena, &fx.tenant, &id, (fv_worker_status)99, NULL, &e),
        FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_worker_set_status(&fx.deps, &fx.arena, &fx.tenant, &id, FV_STATUS_OFFLINE,
                                          fv_fixture_str(&fx.arena, 'r', FV_REASON_MAX + 1), &e),
                     FV_E_INVALID);
    CU_ASSERT_TRUE(has_text(e.msg, "reason"));
    FV_ASSERT_INT_EQ(fv_worker_set_status(&fx.deps, &fx.arena, &fx.tenant, &id, FV_STATUS_OFFLINE,
                                          "bad \xc3\x28", &e),
                     FV_E_INVALID);
    fv_uuid nobody;
    memset(nobody.b, 0xcd, sizeof nobody.b);
    FV_ASSERT_INT_EQ(
        fv_worker_set_status(&fx.deps, &fx.arena, &fx.tenant, &nobody, FV_STATUS_OFFLINE, NULL, &e),
        FV_E_NOT_FOUND);
    CU_ASSERT_TRUE(same_dump(before, dump(), "a rejected status change"));
    /* A reason of exactly the limit is fine. */
    FV_ASSERT_INT_EQ(fv_worker_set_status(&fx.deps, &fx.arena, &fx.tenant, &id, FV_STATUS_OFFLINE,
                                          fv_fixture_str(&fx.arena, 'r', FV_REASON_MAX), &e),
                     FV_OK);
    FV_ASSERT_INT_EQ(get_worker(&id).status, FV_STATUS_OFFLINE);
    fv_status_change_list h = history(&id);
    CU_ASSERT_TRUE(h.n >= 1 && has_text(h.items[0].reason, "operator"));
}

/* ---------------------------------------------------------------------- */
/* Configuration overrides                                                */
/* ---------------------------------------------------------------------- */

static const char *const declared_tags[] = {"declared"};
static const char *const declared_tags_2[] = {"declared-2"};
static const char *const ops_tags[] = {"ops"};

static fv_err configure(const char *kind, const fv_def_config_patch *p, fv_definition *out,
                        fv_error *e)
{
    return fv_definition_configure(&fx.deps, &fx.arena, FV_DEF_TASK, &fx.tenant, &no_space, kind, p,
                                   out, e);
}

static void test_worker_usecases__an_override_survives_reregistration_and_clear_removes_it(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    r.tasks[0].has_timeout = true;
    r.tasks[0].timeout_seconds = 30;
    r.tasks[0].has_retry_policy = true;
    r.tasks[0].retry_policy = (fv_retry_policy){.set = FV_RETRY_HAS_MAX_RETRIES, .max_retries = 2};
    r.tasks[0].tags = (fv_tags){declared_tags, 1};
    must_register(&r);

    fv_def_config_patch p;
    memset(&p, 0, sizeof p);
    p.timeout_op = FV_PATCH_SET;
    p.timeout_seconds = 120;
    p.retry_op = FV_PATCH_SET;
    p.retry_policy = (fv_retry_policy){.set = FV_RETRY_HAS_MAX_RETRIES | FV_RETRY_HAS_BACKOFF,
                                       .max_retries = 5,
                                       .backoff_coefficient = 2.0};
    p.tags_op = FV_PATCH_SET;
    p.tags = (fv_tags){ops_tags, 1};
    fv_definition out;
    FV_ASSERT_INT_EQ(configure("task-0", &p, &out, NULL), FV_OK);
    CU_ASSERT_TRUE(out.configured.has_timeout);
    FV_ASSERT_INT_EQ(out.configured.timeout_seconds, 120);
    FV_ASSERT_INT_EQ(out.declared.timeout_seconds, 30);
    FV_ASSERT_INT_EQ(fv_definition_effective(&out).timeout_seconds, 120);
    FV_ASSERT_INT_EQ(fv_definition_effective(&out).retry_policy.max_retries, 5);

    /* The worker registers again with other declared values. */
    fv_fixture_advance(&fx, 1000);
    r.tasks[0].timeout_seconds = 45;
    r.tasks[0].retry_policy.max_retries = 3;
    r.tasks[0].tags = (fv_tags){declared_tags_2, 1};
    must_register(&r);
    fv_definition d = definition(FV_DEF_TASK, "task-0").def;
    FV_ASSERT_INT_EQ(d.declared.timeout_seconds, 45);
    FV_ASSERT_INT_EQ(d.declared.retry_policy.max_retries, 3);
    CU_ASSERT_TRUE(d.configured.has_timeout);
    FV_ASSERT_INT_EQ(d.configured.timeout_seconds, 120);
    fv_def_settings eff = fv_definition_effective(&d);
    FV_ASSERT_INT_EQ(eff.timeout_seconds, 120);
    FV_ASSERT_INT_EQ(eff.retry_policy.max_retries, 5);
    CU_ASSERT_TRUE(eff.retry_policy.backoff_coefficient == 2.0);
    FV_ASSERT_INT_EQ(eff.tags.n, 1);
    if (eff.tags.n == 1)
        FV_ASSERT_STR_EQ(eff.tags.v[0], "ops");
    /* The tag filter matches effective tags. */
    FV_ASSERT_INT_EQ(definitions_total(FV_DEF_TASK, "ops"), 1);
    FV_ASSERT_INT_EQ(definitions_total(FV_DEF_TASK, "declared-2"), 0);

    /* CLEAR the timeout only. */
    fv_def_config_patch clear;
    memset(&clear, 0, sizeof clear);
    clear.timeout_op = FV_PATCH_CLEAR;
    FV_ASSERT_INT_EQ(configure("task-0", &clear, &out, NULL), FV_OK);
    CU_ASSERT_FALSE(out.configured.has_timeout);
    eff = fv_definition_effective(&out);
    FV_ASSERT_INT_EQ(eff.timeout_seconds, 45);
    FV_ASSERT_INT_EQ(eff.retry_policy.max_retries, 5);
    d = definition(FV_DEF_TASK, "task-0").def;
    CU_ASSERT_FALSE(d.configured.has_timeout);
    CU_ASSERT_TRUE(d.configured.has_retry_policy);

    /* CLEAR the rest: effective values are the declared ones again. */
    clear.timeout_op = FV_PATCH_KEEP;
    clear.retry_op = FV_PATCH_CLEAR;
    clear.tags_op = FV_PATCH_CLEAR;
    FV_ASSERT_INT_EQ(configure("task-0", &clear, &out, NULL), FV_OK);
    d = definition(FV_DEF_TASK, "task-0").def;
    CU_ASSERT_FALSE(d.configured.has_timeout);
    CU_ASSERT_FALSE(d.configured.has_retry_policy);
    CU_ASSERT_FALSE(d.configured.has_tags);
    eff = fv_definition_effective(&d);
    FV_ASSERT_INT_EQ(eff.timeout_seconds, 45);
    FV_ASSERT_INT_EQ(eff.retry_policy.max_retries, 3);
    FV_ASSERT_INT_EQ(eff.tags.n, 1);
    if (eff.tags.n == 1)
        FV_ASSERT_STR_EQ(eff.tags.v[0], "declared-2");
    FV_ASSERT_INT_EQ(definitions_total(FV_DEF_TASK, "ops"), 0);
    FV_ASSERT_INT_EQ(definitions_total(FV_DEF_TASK, "declared-2"), 1);

    /* An all-KEEP patch changes nothing and answers the definition. */
    fv_fixture_advance(&fx, 1000);
    char *before = dump();
    fv_def_config_patch keep;
    memset(&keep, 0, sizeof keep);
    FV_ASSERT_INT_EQ(configure("task-0", &keep, &out, NULL), FV_OK);
    FV_ASSERT_STR_EQ(out.kind, "task-0");
    CU_ASSERT_TRUE(same_dump(before, dump(), "an all-KEEP patch"));
}

static void test_worker_usecases__an_override_applies_to_workflows_too(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 1, 0);
    must_register(&r);
    fv_def_config_patch p;
    memset(&p, 0, sizeof p);
    p.timeout_op = FV_PATCH_SET;
    p.timeout_seconds = 600;
    fv_definition out;
    FV_ASSERT_INT_EQ(fv_definition_configure(&fx.deps, &fx.arena, FV_DEF_WORKFLOW, &fx.tenant,
                                             &no_space, "wf-0", &p, &out, NULL),
                     FV_OK);
    FV_ASSERT_INT_EQ(definition(FV_DEF_WORKFLOW, "wf-0").def.configured.timeout_seconds, 600);
    /* A task of the same kind does not exist. */
    FV_ASSERT_INT_EQ(configure("wf-0", &p, &out, NULL), FV_E_NOT_FOUND);
}

static void test_worker_usecases__configure_rejects_bad_values_and_changes_nothing(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    must_register(&r);
    fv_fixture_advance(&fx, 1000);
    char *before = dump();
    fv_definition out;
    fv_error e;
    fv_def_config_patch p;

    memset(&p, 0, sizeof p);
    p.timeout_op = FV_PATCH_SET;
    p.timeout_seconds = 0;
    FV_ASSERT_INT_EQ(configure("task-0", &p, &out, &e), FV_E_INVALID);
    p.timeout_seconds = FV_TIMEOUT_MAX_SECONDS + 1;
    FV_ASSERT_INT_EQ(configure("task-0", &p, &out, &e), FV_E_INVALID);

    /* A valid field does not get through when another is bad. */
    p.timeout_seconds = 60;
    p.retry_op = FV_PATCH_SET;
    p.retry_policy = (fv_retry_policy){.set = FV_RETRY_HAS_MAX_RETRIES, .max_retries = 11};
    FV_ASSERT_INT_EQ(configure("task-0", &p, &out, &e), FV_E_INVALID);
    p.retry_policy = (fv_retry_policy){.set = FV_RETRY_HAS_BACKOFF, .backoff_coefficient = 0.5};
    FV_ASSERT_INT_EQ(configure("task-0", &p, &out, &e), FV_E_INVALID);
    p.retry_policy = (fv_retry_policy){.set = FV_RETRY_HAS_INITIAL_DELAY | FV_RETRY_HAS_MAX_DELAY,
                                       .initial_delay_ms = 1000,
                                       .max_delay_ms = 10};
    FV_ASSERT_INT_EQ(configure("task-0", &p, &out, &e), FV_E_INVALID);
    p.retry_op = FV_PATCH_KEEP;
    p.tags_op = FV_PATCH_SET;
    p.tags = fv_fixture_tags(&fx.arena, FV_TAGS_MAX + 1);
    FV_ASSERT_INT_EQ(configure("task-0", &p, &out, &e), FV_E_INVALID);
    const char *long_tag[] = {fv_fixture_str(&fx.arena, 't', FV_TAG_MAX + 1)};
    p.tags = (fv_tags){long_tag, 1};
    FV_ASSERT_INT_EQ(configure("task-0", &p, &out, &e), FV_E_INVALID);
    FV_ASSERT_INT_EQ(e.code, FV_E_INVALID);

    /* Bad references. */
    memset(&p, 0, sizeof p);
    p.timeout_op = FV_PATCH_SET;
    p.timeout_seconds = 60;
    FV_ASSERT_INT_EQ(configure("", &p, &out, &e), FV_E_INVALID);
    FV_ASSERT_INT_EQ(configure(fv_fixture_str(&fx.arena, 'k', FV_NAME_MAX + 1), &p, &out, &e),
                     FV_E_INVALID);
    fv_space_sel any = {.mode = FV_SPACE_ANY};
    FV_ASSERT_INT_EQ(fv_definition_configure(&fx.deps, &fx.arena, FV_DEF_TASK, &fx.tenant, &any,
                                             "task-0", &p, &out, &e),
                     FV_E_INVALID);
    FV_ASSERT_INT_EQ(configure("task-9", &p, &out, &e), FV_E_NOT_FOUND);
    CU_ASSERT_TRUE(has_text(e.msg, "task-9"));
    CU_ASSERT_TRUE(same_dump(before, dump(), "a rejected configuration"));
}

/* ---------------------------------------------------------------------- */
/* Versions and conflicts                                                 */
/* ---------------------------------------------------------------------- */

static fv_register_result register_wf(const char *pid, const char *version, const char *hash)
{
    fv_fixture_req r = fv_fixture_request(&fx, "wf-worker", 1, 0);
    r.req.process_id = pid;
    r.workflows[0].version = version;
    r.workflows[0].content_hash = hash;
    fv_register_result res;
    memset(&res, 0, sizeof res);
    FV_ASSERT_INT_EQ(fv_worker_register(&fx.deps, &fx.arena, &r.req, &res, NULL), FV_OK);
    return res;
}

static void test_worker_usecases__latest_version_orders_semantic_versions(void)
{
    register_wf("1", "1.9.0", "h");
    FV_ASSERT_STR_EQ(definition(FV_DEF_WORKFLOW, "wf-0").def.latest_version, "1.9.0");
    register_wf("2", "1.10.0", "h");
    FV_ASSERT_STR_EQ(definition(FV_DEF_WORKFLOW, "wf-0").def.latest_version, "1.10.0");
    register_wf("3", "1.2.0", "h"); /* registered last, but lower */
    FV_ASSERT_STR_EQ(definition(FV_DEF_WORKFLOW, "wf-0").def.latest_version, "1.10.0");
    register_wf("2", "1.9.1", "h"); /* the 1.10.0 worker downgrades: highest seen stays */
    FV_ASSERT_STR_EQ(definition(FV_DEF_WORKFLOW, "wf-0").def.latest_version, "1.10.0");
    register_wf("4", "2.0.0-rc.1", "h");
    FV_ASSERT_STR_EQ(definition(FV_DEF_WORKFLOW, "wf-0").def.latest_version, "2.0.0-rc.1");
    register_wf("5", "2.0.0", "h");
    FV_ASSERT_STR_EQ(definition(FV_DEF_WORKFLOW, "wf-0").def.latest_version, "2.0.0");
    register_wf("6", "2.0.0-rc.2", "h");
    FV_ASSERT_STR_EQ(definition(FV_DEF_WORKFLOW, "wf-0").def.latest_version, "2.0.0");
    register_wf("7", "10.0.0", "h");
    FV_ASSERT_STR_EQ(definition(FV_DEF_WORKFLOW, "wf-0").def.latest_version, "10.0.0");
}

static void test_worker_usecases__conflict_when_a_live_peer_has_another_content_hash(void)
{
    fv_register_result a = register_wf("1", "1.0.0", "hash-1");
    FV_ASSERT_INT_EQ(a.n_conflicts, 0);
    fv_fixture_advance(&fx, 1000);
    fv_register_result b = register_wf("2", "1.0.0", "hash-2");
    FV_ASSERT_INT_EQ(b.n_conflicts, 1);
    if (b.n_conflicts == 1) {
        FV_ASSERT_INT_EQ(b.conflicts[0].cls, FV_DEF_WORKFLOW);
        FV_ASSERT_STR_EQ(b.conflicts[0].kind, "wf-0");
        CU_ASSERT_TRUE(id_eq(&b.conflicts[0].existing_worker_id, &a.worker_id));
        CU_ASSERT_TRUE(b.conflicts[0].reason != NULL && b.conflicts[0].reason[0] != '\0');
    }
    /* A warning, not a refusal: B is registered and linked. */
    FV_ASSERT_INT_EQ(get_worker(&b.worker_id).status, FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(definition(FV_DEF_WORKFLOW, "wf-0").def.worker_count, 2);

    /* A third hash conflicts with both. */
    fv_register_result c = register_wf("3", "1.0.0", "hash-3");
    FV_ASSERT_INT_EQ(c.n_conflicts, 2);

    /* A DEGRADED peer is still live. */
    fv_fixture_advance(&fx, 50000);
    FV_ASSERT_INT_EQ(get_worker(&a.worker_id).effective_status, FV_STATUS_DEGRADED);
    fv_register_result d = register_wf("4", "1.0.0", "hash-4");
    FV_ASSERT_INT_EQ(d.n_conflicts, 3);
}

static void test_worker_usecases__no_conflict_when_the_content_hash_matches(void)
{
    register_wf("1", "1.0.0", "hash-1");
    fv_register_result b = register_wf("2", "1.0.0", "hash-1");
    FV_ASSERT_INT_EQ(b.n_conflicts, 0);
    fv_register_result c = register_wf("3", "1.0.0", "hash-1");
    FV_ASSERT_INT_EQ(c.n_conflicts, 0);
    FV_ASSERT_INT_EQ(definition(FV_DEF_WORKFLOW, "wf-0").def.worker_count, 3);
}

static void test_worker_usecases__no_conflict_with_an_offline_peer(void)
{
    fv_register_result a = register_wf("1", "1.0.0", "hash-1");
    fv_fixture_advance(&fx, 61000);
    FV_ASSERT_INT_EQ(get_worker(&a.worker_id).effective_status, FV_STATUS_OFFLINE);
    /* Not yet stored OFFLINE (no job ran): derived at read time. */
    fv_register_result b = register_wf("2", "1.0.0", "hash-2");
    FV_ASSERT_INT_EQ(b.n_conflicts, 0);
    /* Stored OFFLINE too. */
    FV_ASSERT_INT_EQ(run_stale().n_changes, 1);
    fv_register_result c = register_wf("3", "1.0.0", "hash-3");
    FV_ASSERT_INT_EQ(c.n_conflicts, 1); /* with B, which is live; not with A */
    if (c.n_conflicts == 1)
        CU_ASSERT_TRUE(id_eq(&c.conflicts[0].existing_worker_id, &b.worker_id));
}

static void test_worker_usecases__no_conflict_across_versions_or_with_itself(void)
{
    fv_register_result a = register_wf("1", "1.0.0", "hash-1");
    fv_register_result b = register_wf("2", "2.0.0", "hash-2");
    FV_ASSERT_INT_EQ(b.n_conflicts, 0);
    /* The same worker with a new hash is no conflict with its old self. */
    fv_register_result a2 = register_wf("1", "1.0.0", "hash-9");
    CU_ASSERT_TRUE(id_eq(&a.worker_id, &a2.worker_id));
    FV_ASSERT_INT_EQ(a2.n_conflicts, 0);
    /* Tasks never conflict. */
    fv_fixture_req t1 = fv_fixture_request(&fx, "t1", 0, 1);
    fv_fixture_req t2 = fv_fixture_request(&fx, "t2", 0, 1);
    t2.tasks[0].description = "another description";
    fv_register_result rt;
    FV_ASSERT_INT_EQ(fv_worker_register(&fx.deps, &fx.arena, &t1.req, &rt, NULL), FV_OK);
    FV_ASSERT_INT_EQ(fv_worker_register(&fx.deps, &fx.arena, &t2.req, &rt, NULL), FV_OK);
    FV_ASSERT_INT_EQ(rt.n_conflicts, 0);
}

/* ---------------------------------------------------------------------- */
/* Tenants and spaces                                                     */
/* ---------------------------------------------------------------------- */

static void test_worker_usecases__unknown_tenant_or_space_is_not_found(void)
{
    fv_fixture_req seed = fv_fixture_request(&fx, "w", 1, 1);
    must_register(&seed);
    fv_fixture_advance(&fx, 1000);
    char *before = dump();
    fv_error e;
    fv_register_result res;

    fv_fixture_req r = fv_fixture_request(&fx, "x", 1, 1);
    memset(r.req.tenant_id.b, 0xee, sizeof r.req.tenant_id.b);
    FV_ASSERT_INT_EQ(fv_worker_register(&fx.deps, &fx.arena, &r.req, &res, &e), FV_E_NOT_FOUND);
    CU_ASSERT_TRUE(has_text(e.msg, "tenant"));

    r = fv_fixture_request(&fx, "x", 1, 1);
    r.req.space.has = true;
    memset(r.req.space.id.b, 0x5a, sizeof r.req.space.id.b);
    FV_ASSERT_INT_EQ(fv_worker_register(&fx.deps, &fx.arena, &r.req, &res, &e), FV_E_NOT_FOUND);
    CU_ASSERT_TRUE(has_text(e.msg, "space"));

    /* A space of another tenant does not exist for this one. */
    fv_uuid other, other_space;
    FV_ASSERT_INT_EQ(fv_fixture_add_tenant(&fx, "other", &other), FV_OK);
    FV_ASSERT_INT_EQ(fv_fixture_add_space(&fx, &other, "prod", &other_space), FV_OK);
    r.req.space.id = other_space;
    FV_ASSERT_INT_EQ(fv_worker_register(&fx.deps, &fx.arena, &r.req, &res, &e), FV_E_NOT_FOUND);

    CU_ASSERT_TRUE(same_dump(before, dump(), "a registration for an unknown tenant or space"));
    FV_ASSERT_INT_EQ(workers_total(&other), 0);
}

static void test_worker_usecases__another_tenants_worker_is_not_found(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 1, 1);
    fv_uuid id = must_register(&r);
    fv_uuid other;
    FV_ASSERT_INT_EQ(fv_fixture_add_tenant(&fx, "other", &other), FV_OK);
    fv_fixture_advance(&fx, 1000);
    char *before = dump();
    fv_error e;

    fv_heartbeat_request hb = {.tenant_id = other, .worker_id = id};
    FV_ASSERT_INT_EQ(fv_worker_heartbeat(&fx.deps, &hb, &e), FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_worker_record_poll(&fx.deps, &other, fv_uuid_str(&fx.arena, &id), &e),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_worker_record_poll(&fx.deps, &other, "w", &e), FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_worker_unregister(&fx.deps, &other, &id, &e), FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(
        fv_worker_set_status(&fx.deps, &fx.arena, &other, &id, FV_STATUS_OFFLINE, NULL, &e),
        FV_E_NOT_FOUND);
    fv_def_config_patch p;
    memset(&p, 0, sizeof p);
    p.timeout_op = FV_PATCH_SET;
    p.timeout_seconds = 5;
    fv_definition out;
    FV_ASSERT_INT_EQ(fv_definition_configure(&fx.deps, &fx.arena, FV_DEF_TASK, &other, &no_space,
                                             "task-0", &p, &out, &e),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_definition_configure(&fx.deps, &fx.arena, FV_DEF_WORKFLOW, &other,
                                             &no_space, "wf-0", &p, &out, &e),
                     FV_E_NOT_FOUND);
    CU_ASSERT_TRUE(same_dump(before, dump(), "another tenant's commands"));

    /* The same identity in another tenant is another worker with its own
     * definitions. */
    fv_fixture_req r2;
    CU_ASSERT_FATAL(fv_fixture_req_build(&fx.arena, &other, "w", 1, 1, &r2));
    fv_register_result res;
    FV_ASSERT_INT_EQ(fv_worker_register(&fx.deps, &fx.arena, &r2.req, &res, NULL), FV_OK);
    CU_ASSERT_TRUE(res.created);
    CU_ASSERT_FALSE(id_eq(&res.worker_id, &id));
    FV_ASSERT_INT_EQ(definition(FV_DEF_TASK, "task-0").def.worker_count, 1);
    fv_definition_detail od;
    FV_ASSERT_INT_EQ(fv_query_definition(&fx.deps, &fx.arena, FV_DEF_TASK, &other, &no_space,
                                         "task-0", &od, NULL),
                     FV_OK);
    FV_ASSERT_INT_EQ(od.def.worker_count, 1);
    fv_definition_detail mine = definition(FV_DEF_TASK, "task-0");
    CU_ASSERT_FALSE(id_eq(&od.def.id, &mine.def.id));
}

static void test_worker_usecases__spaces_keep_workers_and_definitions_apart(void)
{
    fv_uuid space;
    FV_ASSERT_INT_EQ(fv_fixture_add_space(&fx, &fx.tenant, "prod", &space), FV_OK);
    fv_fixture_req top = fv_fixture_request(&fx, "w", 0, 1);
    fv_fixture_req in = fv_fixture_request(&fx, "w", 0, 1); /* same name, host and pid */
    in.req.space = (fv_opt_uuid){true, space};
    fv_uuid it = must_register(&top), is = must_register(&in);
    CU_ASSERT_FALSE(id_eq(&it, &is));
    fv_worker w = get_worker(&is);
    CU_ASSERT_TRUE(w.space.has && id_eq(&w.space.id, &space));

    FV_ASSERT_INT_EQ(definitions_total(FV_DEF_TASK, NULL), 2);
    fv_space_sel in_space = {.mode = FV_SPACE_ID, .id = space};
    fv_definition_detail ds, dn = definition(FV_DEF_TASK, "task-0");
    FV_ASSERT_INT_EQ(fv_query_definition(&fx.deps, &fx.arena, FV_DEF_TASK, &fx.tenant, &in_space,
                                         "task-0", &ds, NULL),
                     FV_OK);
    CU_ASSERT_FALSE(id_eq(&ds.def.id, &dn.def.id));
    FV_ASSERT_INT_EQ(ds.n_workers, 1);
    FV_ASSERT_INT_EQ(dn.n_workers, 1);
    if (ds.n_workers == 1 && dn.n_workers == 1) {
        CU_ASSERT_TRUE(id_eq(&ds.workers[0].id, &is));
        CU_ASSERT_TRUE(id_eq(&dn.workers[0].id, &it));
    }
    CU_ASSERT_TRUE(ds.def.space.has && id_eq(&ds.def.space.id, &space));
    CU_ASSERT_FALSE(dn.def.space.has);

    fv_worker_filter f = {.tenant_id = fx.tenant, .space = in_space};
    fv_worker_list l;
    FV_ASSERT_INT_EQ(fv_query_workers(&fx.deps, &fx.arena, &f, (fv_page){10, 0}, &l, NULL), FV_OK);
    FV_ASSERT_INT_EQ(l.total, 1);
    f.space.mode = FV_SPACE_NONE;
    FV_ASSERT_INT_EQ(fv_query_workers(&fx.deps, &fx.arena, &f, (fv_page){10, 0}, &l, NULL), FV_OK);
    FV_ASSERT_INT_EQ(l.total, 1);
    if (l.n == 1)
        CU_ASSERT_TRUE(id_eq(&l.items[0].id, &it));
}

static void test_worker_usecases__tenant_and_space_creation_rules(void)
{
    fv_tenant t;
    fv_error e;
    FV_ASSERT_INT_EQ(fv_tenant_create(&fx.deps, &fx.arena, "acme", "Acme again", &t, &e),
                     FV_E_CONFLICT);
    FV_ASSERT_INT_EQ(fv_tenant_create(&fx.deps, &fx.arena, "Bad_Slug", "x", &t, &e), FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_tenant_create(&fx.deps, &fx.arena, "ok", "", &t, &e), FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_tenant_create(&fx.deps, &fx.arena, "beta", "Beta", &t, &e), FV_OK);
    FV_ASSERT_STR_EQ(t.slug, "beta");
    FV_ASSERT_INT_EQ(t.created_at, T0);

    fv_space s;
    fv_uuid nowhere;
    memset(nowhere.b, 0x77, sizeof nowhere.b);
    FV_ASSERT_INT_EQ(fv_space_create(&fx.deps, &fx.arena, &nowhere, "prod", "", &s, &e),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_space_create(&fx.deps, &fx.arena, &fx.tenant, "prod", "", &s, &e), FV_OK);
    FV_ASSERT_STR_EQ(s.name, "prod"); /* name defaults to the slug */
    FV_ASSERT_INT_EQ(fv_space_create(&fx.deps, &fx.arena, &fx.tenant, "prod", "", &s, &e),
                     FV_E_CONFLICT);
    FV_ASSERT_INT_EQ(fv_space_create(&fx.deps, &fx.arena, &t.id, "prod", "Prod", &s, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_space_create(&fx.deps, &fx.arena, &t.id, "Prod!", "", &s, &e),
                     FV_E_INVALID);
}

/* ---------------------------------------------------------------------- */
/* Rejected input, allocation failures                                    */
/* ---------------------------------------------------------------------- */

static void test_worker_usecases__every_invalid_request_is_rejected_and_changes_nothing(void)
{
    /* The existing worker has the identity of the invalid requests, so a
     * half-applied registration would show on it. */
    fv_fixture_req seed = fv_fixture_request(&fx, "w", 2, 2);
    fv_uuid id = must_register(&seed);
    FV_ASSERT_INT_EQ(fv_fixture_heartbeat(&fx, &fx.tenant, &id), FV_OK);
    fv_fixture_advance(&fx, 5000);
    char *before = dump();
    for (size_t i = 0; i < fv_fixture_invalid_request_count; i++) {
        const fv_fixture_invalid *c = &fv_fixture_invalid_requests[i];
        fv_fixture_req r = fv_fixture_request(&fx, "w", 2, 2);
        c->mutate(&fx.arena, &r);
        fv_register_result res;
        fv_error e;
        fv_error_clear(&e);
        fv_err rc = fv_worker_register(&fx.deps, &fx.arena, &r.req, &res, &e);
        if (rc != FV_E_INVALID)
            fprintf(stderr, "\n  case \"%s\": %s (%s)\n", c->name, fv_err_name(rc), e.msg);
        FV_ASSERT_INT_EQ(rc, FV_E_INVALID);
        FV_ASSERT_INT_EQ(e.code, FV_E_INVALID);
        CU_ASSERT_TRUE(same_dump(before, dump(), c->name));
    }
    /* Also for a new identity. */
    fv_fixture_req r = fv_fixture_request(&fx, "fresh", 0, 2);
    r.tasks[1].kind = "task-0";
    FV_ASSERT_INT_EQ(
        fv_worker_register(&fx.deps, &fx.arena, &r.req, &(fv_register_result){0}, NULL),
        FV_E_INVALID);
    CU_ASSERT_TRUE(same_dump(before, dump(), "an invalid new worker"));
}

/* Register `r` with allocation n failing, for n = 0, 1, ... until it
 * succeeds; every failure must be FV_E_EXHAUSTED and leave the dump as it
 * was. Returns the number of failed attempts. */
static long register_under_failures(const fv_fixture_req *r, const char *what)
{
    char *before = dump();
    long failures = 0, wrong_code = 0, changed = 0;
    bool ok = false;
    for (long n = 0; n < 100000 && !ok; n++) {
        fv_arena a;
        fv_arena_init(&a, 0);
        fv_register_result res;
        fv_error e;
        fv_error_clear(&e);
        fv_alloc_fail_after(n);
        fv_err rc = fv_worker_register(&fx.deps, &a, &r->req, &res, &e);
        fv_alloc_fail_reset();
        if (rc == FV_OK) {
            ok = true;
        } else {
            failures++;
            if (rc != FV_E_EXHAUSTED) {
                if (wrong_code++ == 0)
                    fprintf(stderr, "\n  %s: allocation %ld failing gave %s (%s)\n", what, n,
                            fv_err_name(rc), e.msg);
            }
            fv_error de;
            char *after = fv_fixture_dump(&fx, &a, &fx.tenant, &de);
            if (after == NULL || strcmp(after, before) != 0) {
                if (changed++ == 0) {
                    fprintf(stderr, "\n  %s: allocation %ld failing:", what, n);
                    same_dump(before, after, "a failed registration");
                }
            }
        }
        fv_arena_release(&a);
    }
    CU_ASSERT_TRUE(ok);
    FV_ASSERT_INT_EQ(wrong_code, 0);
    FV_ASSERT_INT_EQ(changed, 0);
    return failures;
}

static void test_worker_usecases__allocation_failure_leaves_the_store_unchanged(void)
{
    fv_fixture_req seed = fv_fixture_request(&fx, "w", 2, 2);
    fv_uuid id = must_register(&seed);
    FV_ASSERT_INT_EQ(fv_fixture_heartbeat(&fx, &fx.tenant, &id), FV_OK);
    fv_fixture_advance(&fx, 5000);

    /* Re-registration of the same process with other capabilities (links
     * replaced, definitions created and updated). */
    fv_fixture_req again = fv_fixture_request(&fx, "w", 3, 3);
    again.workflows[0].version = "2.0.0";
    again.tasks[1].has_timeout = true;
    again.tasks[1].timeout_seconds = 10;
    long f1 = register_under_failures(&again, "re-registration");
    CU_ASSERT_TRUE(f1 > 0);
    fv_worker_detail det;
    FV_ASSERT_INT_EQ(fv_query_worker_detail(&fx.deps, &fx.arena, &fx.tenant, &id, &det, NULL),
                     FV_OK);
    FV_ASSERT_INT_EQ(det.tasks.n, 3);
    FV_ASSERT_INT_EQ(det.workflows.n, 3);
    FV_ASSERT_STR_EQ(definition(FV_DEF_WORKFLOW, "wf-0").def.latest_version, "2.0.0");

    /* A new worker. */
    fv_fixture_advance(&fx, 1000);
    fv_fixture_req fresh = fv_fixture_request(&fx, "fresh", 2, 4);
    long f2 = register_under_failures(&fresh, "new registration");
    CU_ASSERT_TRUE(f2 > 0);
    FV_ASSERT_INT_EQ(workers_total(&fx.tenant), 2);
    FV_ASSERT_INT_EQ(definition(FV_DEF_TASK, "task-2").def.worker_count, 2);
    FV_ASSERT_INT_EQ(definition(FV_DEF_TASK, "task-3").def.worker_count, 1);
}

static void test_worker_usecases__allocation_failure_in_other_commands_is_clean(void)
{
    fv_fixture_req seed = fv_fixture_request(&fx, "w", 1, 1);
    fv_uuid id = must_register(&seed);
    fv_fixture_advance(&fx, 1000);
    char *before = dump();
    /* Heartbeat, status change and configuration under a failure at every
     * allocation: either done or cleanly refused. */
    long bad = 0;
    for (long n = 0; n < 200; n++) {
        fv_arena a;
        fv_arena_init(&a, 0);
        fv_def_config_patch p;
        memset(&p, 0, sizeof p);
        p.timeout_op = FV_PATCH_SET;
        p.timeout_seconds = 77;
        fv_definition out;
        fv_alloc_fail_after(n);
        fv_err rc = fv_definition_configure(&fx.deps, &a, FV_DEF_TASK, &fx.tenant, &no_space,
                                            "task-0", &p, &out, NULL);
        fv_alloc_fail_reset();
        if (rc == FV_OK) {
            fv_arena_release(&a);
            break;
        }
        if (rc != FV_E_EXHAUSTED)
            bad++;
        char *after = fv_fixture_dump(&fx, &a, &fx.tenant, NULL);
        if (after == NULL || strcmp(after, before) != 0)
            bad++;
        fv_arena_release(&a);
    }
    FV_ASSERT_INT_EQ(bad, 0);
    FV_ASSERT_INT_EQ(definition(FV_DEF_TASK, "task-0").def.configured.timeout_seconds, 77);
    (void)id;
}

static const fv_test_case cases[] = {
    FV_TEST_CASE(test_worker_usecases__same_process_registering_twice_keeps_its_id),
    FV_TEST_CASE(test_worker_usecases__replicas_sharing_a_name_are_distinct_workers),
    FV_TEST_CASE(test_worker_usecases__concurrent_registrations_of_the_same_kinds_all_succeed),
    FV_TEST_CASE(test_worker_usecases__registration_stores_the_worker_online),
    FV_TEST_CASE(test_worker_usecases__reregistration_replaces_capability_links),
    FV_TEST_CASE(test_worker_usecases__reregistration_brings_an_offline_worker_back_online),
    FV_TEST_CASE(test_worker_usecases__reregistration_ends_an_operator_status),
    FV_TEST_CASE(test_worker_usecases__an_unregistered_identity_registers_as_a_new_worker),
    FV_TEST_CASE(test_worker_usecases__heartbeat_does_not_change_the_stored_status),
    FV_TEST_CASE(test_worker_usecases__heartbeat_records_time_and_health_info),
    FV_TEST_CASE(test_worker_usecases__heartbeat_of_an_unknown_worker_is_not_found),
    FV_TEST_CASE(test_worker_usecases__oversized_health_info_is_rejected_and_changes_nothing),
    FV_TEST_CASE(test_worker_usecases__poll_by_id_counts_as_a_sign_of_life),
    FV_TEST_CASE(test_worker_usecases__poll_by_name_counts_as_a_sign_of_life),
    FV_TEST_CASE(test_worker_usecases__poll_of_an_unknown_worker_is_not_found),
    FV_TEST_CASE(test_worker_usecases__a_worker_that_only_polls_never_goes_stale),
    FV_TEST_CASE(test_worker_usecases__unregister_removes_the_worker_its_heartbeats_and_links),
    FV_TEST_CASE(test_worker_usecases__set_status_by_an_operator_holds_until_a_sign_of_life),
    FV_TEST_CASE(test_worker_usecases__set_status_rejects_bad_input_and_changes_nothing),
    FV_TEST_CASE(test_worker_usecases__an_override_survives_reregistration_and_clear_removes_it),
    FV_TEST_CASE(test_worker_usecases__an_override_applies_to_workflows_too),
    FV_TEST_CASE(test_worker_usecases__configure_rejects_bad_values_and_changes_nothing),
    FV_TEST_CASE(test_worker_usecases__latest_version_orders_semantic_versions),
    FV_TEST_CASE(test_worker_usecases__conflict_when_a_live_peer_has_another_content_hash),
    FV_TEST_CASE(test_worker_usecases__no_conflict_when_the_content_hash_matches),
    FV_TEST_CASE(test_worker_usecases__no_conflict_with_an_offline_peer),
    FV_TEST_CASE(test_worker_usecases__no_conflict_across_versions_or_with_itself),
    FV_TEST_CASE(test_worker_usecases__unknown_tenant_or_space_is_not_found),
    FV_TEST_CASE(test_worker_usecases__another_tenants_worker_is_not_found),
    FV_TEST_CASE(test_worker_usecases__spaces_keep_workers_and_definitions_apart),
    FV_TEST_CASE(test_worker_usecases__tenant_and_space_creation_rules),
    FV_TEST_CASE(test_worker_usecases__every_invalid_request_is_rejected_and_changes_nothing),
    FV_TEST_CASE(test_worker_usecases__allocation_failure_leaves_the_store_unchanged),
    FV_TEST_CASE(test_worker_usecases__allocation_failure_in_other_commands_is_clean),
};

int main(void)
{
    const fv_test_suite suite = {"worker_usecases", cases, FV_TEST_COUNT(cases), setup, teardown};
    return fv_test_run_suites(&suite, 1) == 0 ? 0 : 1;
}
