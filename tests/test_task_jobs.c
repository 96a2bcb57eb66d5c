/*
 * The scheduled transitions of task executions (core/jobs/task_jobs.h) on
 * the in-memory adapter with a fake clock: attempt timeouts, reclaim of
 * tasks whose worker went OFFLINE (and never of a worker that only polls),
 * lost compare-and-sets, idempotency key expiry.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/jobs/task_jobs.h"
#include "core/queries/task_queries.h"
#include "core/usecases/task_usecases.h"
#include "core/usecases/worker_usecases.h"
#include "tests/support/cunit_main.h"
#include "tests/support/fixture.h"

#define T0 FV_FIXTURE_T0

static fv_fixture fx;

static int setup(void)
{
    return fv_fixture_init_tasks(&fx);
}

static void teardown(void)
{
    fv_fixture_release(&fx);
}

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */
/* ---------------------------------------------------------------------- */

static fv_task submit(const char *queue, int64_t max_retries, int64_t timeout_ms)
{
    fv_task_submit_request r;
    memset(&r, 0, sizeof r);
    r.tenant_id = fx.tenant;
    r.kind = "task-0";
    r.queue = queue;
    r.has_max_retries = true;
    r.max_retries = max_retries;
    if (timeout_ms > 0) {
        r.has_timeout_ms = true;
        r.timeout_ms = timeout_ms;
    }
    fv_task_submit_result res;
    fv_error e;
    fv_err rc = fv_task_submit(&fx.deps, &fx.arena, &r, &res, &e);
    if (rc != FV_OK)
        fprintf(stderr, "\n  submit failed: %s\n", e.msg);
    CU_ASSERT_FATAL(rc == FV_OK);
    return res.task;
}

static bool poll(const char *queue, const char *worker, fv_task *out)
{
    bool found = false;
    fv_time next;
    fv_task t;
    fv_err rc = fv_task_claim(&fx.deps, &fx.arena, &fx.tenant, queue, worker, out ? out : &t,
                              &found, &next, NULL);
    CU_ASSERT_FATAL(rc == FV_OK);
    return found;
}

static fv_task must_claim(const char *queue, const char *worker)
{
    fv_task t;
    memset(&t, 0, sizeof t);
    CU_ASSERT_FATAL(poll(queue, worker, &t));
    return t;
}

static fv_task get_task(const fv_uuid *id)
{
    fv_task t;
    memset(&t, 0, sizeof t);
    FV_ASSERT_INT_EQ(fv_query_task(&fx.deps, &fx.arena, &fx.tenant, id, false, &t, NULL), FV_OK);
    return t;
}

static fv_task_attempt_list attempts_of(const fv_uuid *id)
{
    fv_task_attempt_list l;
    memset(&l, 0, sizeof l);
    FV_ASSERT_INT_EQ(fv_query_task_attempts(&fx.deps, &fx.arena, &fx.tenant, id, &l, NULL), FV_OK);
    return l;
}

static fv_task_job_report run_timeouts(void)
{
    fv_task_job_report r;
    memset(&r, 0xff, sizeof r);
    fv_error e;
    fv_err rc = fv_job_task_timeouts(&fx.deps, &fx.arena, fv_fixture_now(&fx), &r, &e);
    if (rc != FV_OK)
        fprintf(stderr, "\n  timeouts failed: %s\n", e.msg);
    CU_ASSERT_FATAL(rc == FV_OK);
    return r;
}

static fv_task_job_report run_reclaim(void)
{
    fv_task_job_report r;
    memset(&r, 0xff, sizeof r);
    fv_error e;
    fv_err rc = fv_job_task_reclaim(&fx.deps, &fx.arena, fv_fixture_now(&fx), &r, &e);
    if (rc != FV_OK)
        fprintf(stderr, "\n  reclaim failed: %s\n", e.msg);
    CU_ASSERT_FATAL(rc == FV_OK);
    return r;
}

static fv_uuid register_worker(const char *name)
{
    fv_fixture_req r = fv_fixture_request(&fx, name, 0, 1);
    fv_uuid id;
    FV_ASSERT_INT_EQ(fv_fixture_register(&fx, &r, &id), FV_OK);
    return id;
}

/* Queue wake-ups heard on the bus. */
typedef struct wakeups {
    pthread_mutex_t mu;
    int queue;
    int task;
} wakeups;

static void on_notice(void *user, const fv_bus_msg *m)
{
    wakeups *w = user;
    pthread_mutex_lock(&w->mu);
    if (m->kind == FV_BUS_QUEUE && strcmp(m->queue, "q") == 0)
        w->queue++;
    if (m->kind == FV_BUS_TASK)
        w->task++;
    pthread_mutex_unlock(&w->mu);
}

/* ---------------------------------------------------------------------- */
/* Attempt timeouts                                                       */
/* ---------------------------------------------------------------------- */

static void test_task_jobs__an_attempt_that_outlives_its_timeout_is_retried_then_failed(void)
{
    wakeups w = {.mu = PTHREAD_MUTEX_INITIALIZER};
    fv_bus_sub *sub = NULL;
    FV_ASSERT_INT_EQ(fv_task_watch(&fx.deps, on_notice, &w, &sub, NULL), FV_OK);

    fv_task t = submit("q", 1, 1000);
    must_claim("q", "anon");
    w.queue = w.task = 0;

    fv_fixture_advance(&fx, 999);
    fv_task_job_report r = run_timeouts();
    FV_ASSERT_INT_EQ(r.retried, 0);
    FV_ASSERT_INT_EQ(r.failed, 0);
    FV_ASSERT_INT_EQ(r.expired, 0);
    FV_ASSERT_INT_EQ(get_task(&t.id).status, FV_TASK_RUNNING);

    fv_fixture_advance(&fx, 1);
    r = run_timeouts();
    FV_ASSERT_INT_EQ(r.retried, 1);
    FV_ASSERT_INT_EQ(r.failed, 0);
    fv_task p = get_task(&t.id);
    FV_ASSERT_INT_EQ(p.status, FV_TASK_PENDING);
    FV_ASSERT_STR_EQ(p.error, "attempt timed out after 1000 ms");
    fv_task_attempt_list at = attempts_of(&t.id);
    FV_ASSERT_INT_EQ(at.n, 1);
    FV_ASSERT_INT_EQ(at.items[0].status, FV_ATTEMPT_TIMEOUT);
    FV_ASSERT_INT_EQ(at.items[0].duration_ms, 1000);
    FV_ASSERT_STR_EQ(at.items[0].error, "attempt timed out after 1000 ms");
    /* The retry woke the queue and the task's watchers. */
    FV_ASSERT_INT_EQ(w.queue, 1);
    FV_ASSERT_INT_EQ(w.task, 1);
    /* Running the job again changes nothing. */
    r = run_timeouts();
    FV_ASSERT_INT_EQ(r.retried + r.failed, 0);

    /* The second attempt is the last. */
    must_claim("q", "anon");
    fv_fixture_advance(&fx, 5000);
    r = run_timeouts();
    FV_ASSERT_INT_EQ(r.retried, 0);
    FV_ASSERT_INT_EQ(r.failed, 1);
    fv_task f = get_task(&t.id);
    FV_ASSERT_INT_EQ(f.status, FV_TASK_FAILED);
    FV_ASSERT_INT_EQ(f.execution_count, 2);
    FV_ASSERT_INT_EQ(attempts_of(&t.id).n, 2);
    fv_task_event_list ev;
    FV_ASSERT_INT_EQ(
        fv_query_task_events(&fx.deps, &fx.arena, &fx.tenant, &t.id, 0, 100, &ev, NULL), FV_OK);
    FV_ASSERT_INT_EQ(ev.items[ev.n - 1].type, FV_TEV_TASK_FAILED);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(fv_arena_strndup(&fx.arena, ev.items[ev.n - 1].data.p, ev.items[ev.n - 1].data.n),
               "\"status\":\"TIMEOUT\""));
    FV_ASSERT_INT_EQ(w.queue, 1); /* no wake-up for a task that FAILED */
    fv_task_unwatch(&fx.deps, sub);
}

static void test_task_jobs__only_expired_attempts_end(void)
{
    fv_task quick = submit("q", 3, 1000);
    fv_task slow = submit("q", 3, 60000);
    fv_task waiting = submit("other", 3, 1000);
    must_claim("q", "anon");
    must_claim("q", "anon");
    fv_fixture_advance(&fx, 30000);
    fv_task_job_report r = run_timeouts();
    FV_ASSERT_INT_EQ(r.retried, 1);
    FV_ASSERT_INT_EQ(get_task(&quick.id).status, FV_TASK_PENDING);
    FV_ASSERT_INT_EQ(get_task(&slow.id).status, FV_TASK_RUNNING);
    FV_ASSERT_INT_EQ(get_task(&waiting.id).status, FV_TASK_PENDING); /* never claimed */
    /* A heartbeat does not extend the attempt: the timeout is per attempt. */
    FV_ASSERT_INT_EQ(fv_task_heartbeat(&fx.deps, &fx.tenant, &slow.id, NULL), FV_OK);
    fv_fixture_advance(&fx, 30000);
    r = run_timeouts();
    FV_ASSERT_INT_EQ(r.retried, 1);
    FV_ASSERT_INT_EQ(get_task(&slow.id).status, FV_TASK_PENDING);
}

/* A task repository whose expired_attempts answers a list read earlier, as
 * another replica may see it just before this one ends the attempts. */
static fv_task_repo_ops stale_ops;
static fv_task_list stale_list;

static fv_err stale_expired(void *self, fv_arena *a, fv_time now, size_t limit, fv_task_list *out,
                            fv_error *err)
{
    (void)self, (void)a, (void)now, (void)limit, (void)err;
    *out = stale_list;
    return FV_OK;
}

static void test_task_jobs__an_attempt_ended_meanwhile_is_left_alone(void)
{
    fv_task done = submit("q", 3, 1000);
    fv_task again = submit("q", 3, 1000);
    must_claim("q", "anon");
    must_claim("q", "anon");
    fv_fixture_advance(&fx, 1000);
    FV_ASSERT_INT_EQ(fv_task_repo_expired_attempts(fx.deps.tasks, &fx.arena, fv_fixture_now(&fx),
                                                   10, &stale_list, NULL),
                     FV_OK);
    FV_ASSERT_INT_EQ(stale_list.n, 2);

    /* Meanwhile: one completes, the other is retried and claimed again. */
    FV_ASSERT_INT_EQ(
        fv_task_complete(&fx.deps, &fx.arena, &fx.tenant, &done.id, FV_JSON_NONE, NULL), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_fail(&fx.deps, &fx.arena, &fx.tenant, &again.id, "x", NULL), FV_OK);
    must_claim("q", "anon");

    stale_ops = *fx.deps.tasks.ops;
    stale_ops.expired_attempts = stale_expired;
    fv_deps d = fx.deps;
    d.tasks.ops = &stale_ops;
    fv_task_job_report r;
    fv_error e;
    FV_ASSERT_INT_EQ(fv_job_task_timeouts(&d, &fx.arena, fv_fixture_now(&fx), &r, &e), FV_OK);
    FV_ASSERT_INT_EQ(r.retried, 0);
    FV_ASSERT_INT_EQ(r.failed, 0);
    FV_ASSERT_INT_EQ(get_task(&done.id).status, FV_TASK_COMPLETED);
    fv_task a = get_task(&again.id);
    FV_ASSERT_INT_EQ(a.status, FV_TASK_RUNNING);
    FV_ASSERT_INT_EQ(a.execution_count, 2);
    FV_ASSERT_INT_EQ(attempts_of(&again.id).n, 1);
}

/* ---------------------------------------------------------------------- */
/* Reclaim                                                                */
/* ---------------------------------------------------------------------- */

static void test_task_jobs__tasks_of_a_worker_gone_offline_are_reclaimed(void)
{
    fv_uuid wid = register_worker("w1");
    register_worker("w2");
    fv_task t = submit("q", 3, 0);
    fv_task c = must_claim("q", "w1");
    CU_ASSERT_TRUE(c.worker_uuid.has && fv_uuid_eq(&c.worker_uuid.id, &wid));

    /* DEGRADED is not OFFLINE. */
    fv_fixture_advance(&fx, fx.deps.liveness.degraded_after_ms + 1);
    fv_task_job_report r = run_reclaim();
    FV_ASSERT_INT_EQ(r.retried + r.failed, 0);
    /* Silent past the OFFLINE threshold (no job stored the status). */
    fv_fixture_set_now(&fx, T0 + fx.deps.liveness.offline_after_ms);
    r = run_reclaim();
    FV_ASSERT_INT_EQ(r.retried + r.failed, 0);
    fv_fixture_set_now(&fx, T0 + fx.deps.liveness.offline_after_ms + 1);
    r = run_reclaim();
    FV_ASSERT_INT_EQ(r.retried, 1);
    FV_ASSERT_INT_EQ(r.failed, 0);
    fv_task p = get_task(&t.id);
    FV_ASSERT_INT_EQ(p.status, FV_TASK_PENDING);
    char expected[96];
    char wtext[FV_UUID_STR_LEN + 1];
    fv_uuid_format(&wid, wtext);
    snprintf(expected, sizeof expected, "worker %s went OFFLINE", wtext);
    FV_ASSERT_STR_EQ(p.error, expected);
    fv_task_attempt_list at = attempts_of(&t.id);
    FV_ASSERT_INT_EQ(at.n, 1);
    FV_ASSERT_INT_EQ(at.items[0].status, FV_ATTEMPT_TIMEOUT);
    FV_ASSERT_STR_EQ(at.items[0].worker_id, "w1");
    r = run_reclaim();
    FV_ASSERT_INT_EQ(r.retried + r.failed, 0);

    /* Another worker takes it over and completes it. */
    fv_task c2 = must_claim("q", "w2");
    FV_ASSERT_INT_EQ(c2.execution_count, 2);
    FV_ASSERT_INT_EQ(
        fv_task_complete(&fx.deps, &fx.arena, &fx.tenant, &t.id, (fv_json){"1", 1}, NULL), FV_OK);
    fv_task d = get_task(&t.id);
    FV_ASSERT_INT_EQ(d.status, FV_TASK_COMPLETED);
    FV_ASSERT_INT_EQ(d.execution_count, 2);
    FV_ASSERT_STR_EQ(d.worker_id, "w2");

    /* The first worker's late Complete changes nothing. */
    FV_ASSERT_INT_EQ(
        fv_task_complete(&fx.deps, &fx.arena, &fx.tenant, &t.id, (fv_json){"2", 1}, NULL),
        FV_E_PRECONDITION);
}

static void test_task_jobs__a_worker_that_only_polls_is_never_robbed(void)
{
    register_worker("poller");
    fv_task t = submit("q", 3, 0);
    must_claim("q", "poller");
    /* Ten minutes of polls on another queue, never a SendHeartbeat. */
    for (int i = 0; i < 60; i++) {
        fv_fixture_advance(&fx, 10000);
        CU_ASSERT_FALSE(poll("idle", "poller", NULL));
        fv_task_job_report r = run_reclaim();
        FV_ASSERT_INT_EQ(r.retried + r.failed, 0);
        r = run_timeouts();
        FV_ASSERT_INT_EQ(r.retried + r.failed, 0);
    }
    fv_task still = get_task(&t.id);
    FV_ASSERT_INT_EQ(still.status, FV_TASK_RUNNING);
    FV_ASSERT_INT_EQ(still.execution_count, 1);

    /* A worker that only sends heartbeats is alive too. */
    fv_uuid hb = register_worker("beater");
    fv_task t2 = submit("q2", 3, 0);
    must_claim("q2", "beater");
    for (int i = 0; i < 12; i++) {
        fv_fixture_advance(&fx, 30000);
        FV_ASSERT_INT_EQ(fv_fixture_heartbeat(&fx, &fx.tenant, &hb), FV_OK);
        CU_ASSERT_FALSE(poll("idle", "poller", NULL));
        fv_task_job_report r = run_reclaim();
        FV_ASSERT_INT_EQ(r.retried + r.failed, 0);
    }
    FV_ASSERT_INT_EQ(get_task(&t2.id).status, FV_TASK_RUNNING);

    /* Once the poller stops, it is OFFLINE after a minute. */
    fv_fixture_advance(&fx, fx.deps.liveness.offline_after_ms + 1);
    FV_ASSERT_INT_EQ(fv_fixture_heartbeat(&fx, &fx.tenant, &hb), FV_OK);
    fv_task_job_report r = run_reclaim();
    FV_ASSERT_INT_EQ(r.retried, 1);
    FV_ASSERT_INT_EQ(get_task(&t.id).status, FV_TASK_PENDING);
    FV_ASSERT_INT_EQ(get_task(&t2.id).status, FV_TASK_RUNNING);
}

static void test_task_jobs__reclaim_of_removed_and_operator_offline_workers(void)
{
    fv_uuid gone = register_worker("gone");
    fv_uuid down = register_worker("down");
    fv_task a = submit("q", 3, 0);
    fv_task b = submit("q", 0, 0);
    must_claim("q", "gone");
    must_claim("q", "down");
    FV_ASSERT_INT_EQ(fv_worker_unregister(&fx.deps, &fx.tenant, &gone, NULL), FV_OK);
    FV_ASSERT_INT_EQ(fv_worker_set_status(&fx.deps, &fx.arena, &fx.tenant, &down, FV_STATUS_OFFLINE,
                                          "maintenance", NULL),
                     FV_OK);
    fv_task_job_report r = run_reclaim();
    FV_ASSERT_INT_EQ(r.retried, 1); /* a: retries left */
    FV_ASSERT_INT_EQ(r.failed, 1);  /* b: max_retries 0 */
    FV_ASSERT_INT_EQ(get_task(&a.id).status, FV_TASK_PENDING);
    FV_ASSERT_INT_EQ(get_task(&b.id).status, FV_TASK_FAILED);
}

static void test_task_jobs__an_unregistered_poller_is_left_to_the_timeout(void)
{
    fv_task t = submit("q", 3, 0);
    fv_task c = must_claim("q", "worker-7f3a");
    CU_ASSERT_FALSE(c.worker_uuid.has);
    fv_fixture_advance(&fx, 24 * 3600 * 1000LL);
    fv_task_job_report r = run_reclaim();
    FV_ASSERT_INT_EQ(r.retried + r.failed, 0);
    FV_ASSERT_INT_EQ(get_task(&t.id).status, FV_TASK_RUNNING);
    /* The default attempt timeout (1 h) ends it. */
    r = run_timeouts();
    FV_ASSERT_INT_EQ(r.retried, 1);
}

/* A run ends FV_JOB_TASK_BATCH attempts at most; the next run takes the
 * rest. Half of the tasks outlive their timeout, half are held by a worker
 * gone OFFLINE, so each job meets more than a batch. */
static void test_task_jobs__each_run_ends_a_batch_at_most(void)
{
    register_worker("w");
    const size_t n = FV_JOB_TASK_BATCH + 1;
    for (size_t i = 0; i < n; i++) {
        submit("slow", 3, 1000);
        submit("held", 3, 0);
    }
    for (size_t i = 0; i < n; i++) {
        must_claim("slow", "anon");
        must_claim("held", "w");
    }
    fv_fixture_advance(&fx, fx.deps.liveness.offline_after_ms + 1);
    fv_task_job_report r = run_timeouts();
    FV_ASSERT_INT_EQ(r.retried, FV_JOB_TASK_BATCH);
    r = run_timeouts();
    FV_ASSERT_INT_EQ(r.retried, 1);
    FV_ASSERT_INT_EQ(run_timeouts().retried, 0);
    r = run_reclaim();
    FV_ASSERT_INT_EQ(r.retried, FV_JOB_TASK_BATCH);
    r = run_reclaim();
    FV_ASSERT_INT_EQ(r.retried, 1);
    FV_ASSERT_INT_EQ(run_reclaim().retried, 0);
}

/* ---------------------------------------------------------------------- */
/* Idempotency keys                                                       */
/* ---------------------------------------------------------------------- */

static void test_task_jobs__idempotency_keys_expire(void)
{
    fv_task_submit_request r;
    memset(&r, 0, sizeof r);
    r.tenant_id = fx.tenant;
    r.kind = "k";
    r.idempotency_key = "short";
    r.has_idempotency_ttl = true;
    r.idempotency_ttl_seconds = 60;
    fv_task_submit_result res;
    FV_ASSERT_INT_EQ(fv_task_submit(&fx.deps, &fx.arena, &r, &res, NULL), FV_OK);
    r.idempotency_key = "long";
    r.idempotency_ttl_seconds = 120;
    FV_ASSERT_INT_EQ(fv_task_submit(&fx.deps, &fx.arena, &r, &res, NULL), FV_OK);
    r.idempotency_key = "default";
    r.has_idempotency_ttl = false;
    FV_ASSERT_INT_EQ(fv_task_submit(&fx.deps, &fx.arena, &r, &res, NULL), FV_OK);

    fv_task_job_report rep;
    fv_fixture_advance(&fx, 59999);
    FV_ASSERT_INT_EQ(
        fv_job_idempotency_expiry(&fx.deps, &fx.arena, fv_fixture_now(&fx), &rep, NULL), FV_OK);
    FV_ASSERT_INT_EQ(rep.expired, 0);
    fv_fixture_advance(&fx, 1);
    FV_ASSERT_INT_EQ(
        fv_job_idempotency_expiry(&fx.deps, &fx.arena, fv_fixture_now(&fx), &rep, NULL), FV_OK);
    FV_ASSERT_INT_EQ(rep.expired, 1);
    FV_ASSERT_INT_EQ(rep.retried + rep.failed, 0);
    fv_fixture_advance(&fx, 60000);
    FV_ASSERT_INT_EQ(
        fv_job_idempotency_expiry(&fx.deps, &fx.arena, fv_fixture_now(&fx), &rep, NULL), FV_OK);
    FV_ASSERT_INT_EQ(rep.expired, 1);
    fv_fixture_advance(&fx, FV_TASK_IDEM_TTL_DEFAULT_S * 1000);
    FV_ASSERT_INT_EQ(
        fv_job_idempotency_expiry(&fx.deps, &fx.arena, fv_fixture_now(&fx), &rep, NULL), FV_OK);
    FV_ASSERT_INT_EQ(rep.expired, 1);

    /* A dropped key binds anew. */
    r.idempotency_key = "short";
    FV_ASSERT_INT_EQ(fv_task_submit(&fx.deps, &fx.arena, &r, &res, NULL), FV_OK);
    CU_ASSERT_TRUE(res.created);
}

static void test_task_jobs__without_a_task_repository_jobs_are_unavailable(void)
{
    fv_fixture plain;
    CU_ASSERT_FATAL(fv_fixture_init(&plain) == 0);
    fv_task_job_report r;
    fv_error e;
    FV_ASSERT_INT_EQ(fv_job_task_timeouts(&plain.deps, &plain.arena, T0, &r, &e), FV_E_UNAVAILABLE);
    FV_ASSERT_INT_EQ(r.retried + r.failed, 0);
    FV_ASSERT_INT_EQ(fv_job_task_reclaim(&plain.deps, &plain.arena, T0, &r, &e), FV_E_UNAVAILABLE);
    FV_ASSERT_INT_EQ(fv_job_idempotency_expiry(&plain.deps, &plain.arena, T0, &r, &e),
                     FV_E_UNAVAILABLE);
    FV_ASSERT_INT_EQ(r.expired, 0);
    fv_fixture_release(&plain);
}

static const fv_test_case cases[] = {
    FV_TEST_CASE(test_task_jobs__an_attempt_that_outlives_its_timeout_is_retried_then_failed),
    FV_TEST_CASE(test_task_jobs__only_expired_attempts_end),
    FV_TEST_CASE(test_task_jobs__an_attempt_ended_meanwhile_is_left_alone),
    FV_TEST_CASE(test_task_jobs__tasks_of_a_worker_gone_offline_are_reclaimed),
    FV_TEST_CASE(test_task_jobs__a_worker_that_only_polls_is_never_robbed),
    FV_TEST_CASE(test_task_jobs__reclaim_of_removed_and_operator_offline_workers),
    FV_TEST_CASE(test_task_jobs__an_unregistered_poller_is_left_to_the_timeout),
    FV_TEST_CASE(test_task_jobs__each_run_ends_a_batch_at_most),
    FV_TEST_CASE(test_task_jobs__idempotency_keys_expire),
    FV_TEST_CASE(test_task_jobs__without_a_task_repository_jobs_are_unavailable),
};

int main(void)
{
    const fv_test_suite suite = {"task_jobs", cases, FV_TEST_COUNT(cases), setup, teardown};
    return fv_test_run_suites(&suite, 1) == 0 ? 0 : 1;
}
