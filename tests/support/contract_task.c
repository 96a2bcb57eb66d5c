/*
 * Contract of the task repository (ports/task_repo.h) and of the event bus
 * (ports/event_bus.h), run on every adapter through the ports alone: hand-
 * built valid input (the core's checks are not the port's), an explicit
 * `now` on the fixed time base CT_T0, and bounded waits (never timings) for
 * the bus, whose delivery may be asynchronous (Postgres LISTEN/NOTIFY).
 *
 * Three suites: task_repo (every op), event_bus (notices, unsubscribe), and
 * task_atomicity ("a failed op changes nothing": every write op run with
 * the Nth allocation failing and with a capped arena, against a snapshot of
 * everything the port can observe).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/util/alloc.h"
#include "tests/support/contract_int.h"

#define SEC ((fv_time)1000)

/* ------------------------------------------------------------------------
 * Fixture and helpers
 */

static bool task_ports_complete(const fv_deps *d)
{
    const fv_task_repo_ops *t = d->tasks.ops;
    const fv_event_bus_ops *b = d->bus.ops;
    if (t == NULL || b == NULL)
        return false;
    return t->submit && t->get && t->list && t->claim && t->end_attempt && t->cancel &&
           t->heartbeat && t->report_progress && t->append_event && t->events && t->attempts &&
           t->logs && t->state_get && t->state_set && t->state_clear && t->state_clear_all &&
           t->state_keys && t->backlog && t->expired_attempts && t->holders && t->held_by &&
           t->expire_idempotency_keys && b->publish && b->subscribe && b->unsubscribe;
}

int ct_task_setup(void)
{
    if (ct_setup() != 0)
        return -1;
    if (!task_ports_complete(&ct.d)) {
        fprintf(stderr,
                "contract: adapter \"%s\" opened no task repository or event bus, or "
                "left one of their ops NULL\n",
                ct.adapter->name);
        ct_teardown();
        return -1;
    }
    return 0;
}

static const char *const created_data = "{\"created\":true}";

/* A valid new PENDING task of (tenant, kind, queue) submitted at `now`:
 * fresh id, input {"n":1}, 3 retries, 60 s timeout, no backoff, claimable
 * at once. */
static fv_task_new tk_new(const fv_uuid *tenant, const char *kind, const char *queue, fv_time now)
{
    fv_task_new n;
    memset(&n, 0, sizeof n);
    fv_task *t = &n.task;
    t->id = ct_fresh_id();
    t->tenant_id = *tenant;
    t->kind = kind;
    t->queue = queue;
    t->status = FV_TASK_PENDING;
    t->input = ct_json("{\"n\":1}");
    t->output = FV_JSON_NONE;
    t->max_retries = 3;
    t->timeout_ms = 60 * SEC;
    t->scheduled_at = now;
    t->created_at = now;
    t->started_at = FV_TIME_NONE;
    t->completed_at = FV_TIME_NONE;
    t->last_heartbeat_at = FV_TIME_NONE;
    n.created_event_data = ct_json(created_data);
    n.idempotency_expires_at = FV_TIME_NONE;
    return n;
}

/* Bind an idempotency key until `expires`. */
static void tk_key(fv_task_new *n, const char *key, fv_time expires)
{
    n->task.idempotency_key = key;
    n->idempotency_expires_at = expires;
}

static fv_err tk_submit(const fv_task_new *n, fv_task *out, bool *created)
{
    fv_error err;
    fv_error_clear(&err);
    memset(out, 0, sizeof *out);
    *created = false;
    fv_err rc = fv_task_repo_submit(ct.d.tasks, &ct.a, n, out, created, &err);
    if (rc != FV_OK)
        fprintf(stderr, "  submit: %s: %s\n", fv_err_name(rc), err.msg);
    return rc;
}

/* Submit and assert a new task was stored; returns it. */
static fv_task tk_submit_ok(const fv_task_new *n)
{
    fv_task out;
    bool created;
    fv_err rc = tk_submit(n, &out, &created);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    CU_ASSERT_FATAL(rc == FV_OK);
    CU_ASSERT_FATAL(created);
    return out;
}

/* Shorthand: a task of (tenant, kind, queue) created at `now`; its id. */
static fv_uuid tk_add(const fv_uuid *tenant, const char *kind, const char *queue, fv_time now)
{
    fv_task_new n = tk_new(tenant, kind, queue, now);
    return tk_submit_ok(&n).id;
}

static fv_err tk_get(const fv_uuid *tenant, const fv_uuid *id, fv_task *out)
{
    fv_error err;
    memset(out, 0, sizeof *out);
    return fv_task_repo_get(ct.d.tasks, &ct.a, tenant, id, out, &err);
}

static fv_task tk_get_ok(const fv_uuid *tenant, const fv_uuid *id)
{
    fv_task t;
    fv_err rc = tk_get(tenant, id, &t);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    CU_ASSERT_FATAL(rc == FV_OK);
    return t;
}

/* Claim; returns whether a task was claimed. worker_uuid may be NULL. */
static bool tk_claim(const fv_uuid *tenant, const char *queue, const char *worker,
                     const fv_uuid *worker_uuid, fv_time now, fv_task *out, fv_time *next_at)
{
    fv_claim_request c;
    memset(&c, 0, sizeof c);
    c.tenant_id = *tenant;
    c.queue = queue;
    c.worker_id = worker;
    c.worker_uuid = ct_space(worker_uuid);
    c.now = now;
    bool found = false;
    fv_time next = 0;
    fv_task t;
    fv_error err;
    memset(&t, 0, sizeof t);
    fv_err rc = fv_task_repo_claim(ct.d.tasks, &ct.a, &c, &t, &found, &next, &err);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    CU_ASSERT_FATAL(rc == FV_OK);
    if (out != NULL)
        *out = t;
    if (next_at != NULL)
        *next_at = next;
    return found;
}

static fv_task tk_claim_ok(const fv_uuid *tenant, const char *queue, const char *worker,
                           const fv_uuid *worker_uuid, fv_time now)
{
    fv_task t;
    bool found = tk_claim(tenant, queue, worker, worker_uuid, now, &t, NULL);
    CU_ASSERT_FATAL(found);
    return t;
}

static fv_attempt_outcome outcome(fv_attempt_status st, int32_t attempt, const char *output,
                                  const char *error, fv_time now)
{
    fv_attempt_outcome o;
    memset(&o, 0, sizeof o);
    o.status = st;
    o.attempt = attempt;
    o.output = ct_json(output);
    o.error = error;
    o.now = now;
    return o;
}

static fv_err tk_end(const fv_uuid *tenant, const fv_uuid *id, const fv_attempt_outcome *o,
                     fv_task *out, fv_task_transition *tr)
{
    fv_task t;
    fv_error err;
    return fv_task_repo_end_attempt(ct.d.tasks, &ct.a, tenant, id, o, out != NULL ? out : &t, tr,
                                    &err);
}

static fv_task tk_end_ok(const fv_uuid *tenant, const fv_uuid *id, fv_attempt_status st,
                         const char *output, const char *error, fv_time now)
{
    fv_attempt_outcome o = outcome(st, 0, output, error, now);
    fv_task t;
    fv_err rc = tk_end(tenant, id, &o, &t, NULL);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    CU_ASSERT_FATAL(rc == FV_OK);
    return t;
}

static fv_err tk_cancel(const fv_uuid *tenant, const fv_uuid *id, unsigned mask, const char *reason,
                        fv_time now, fv_task *out)
{
    fv_task t;
    fv_error err;
    return fv_task_repo_cancel(ct.d.tasks, &ct.a, tenant, id, mask, reason, now,
                               out != NULL ? out : &t, &err);
}

static fv_task_event_list tk_events(const fv_uuid *tenant, const fv_uuid *id, int64_t after,
                                    size_t limit)
{
    fv_task_event_list l;
    fv_error err;
    memset(&l, 0, sizeof l);
    fv_err rc = fv_task_repo_events(ct.d.tasks, &ct.a, tenant, id, after, limit, &l, &err);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    CU_ASSERT_FATAL(rc == FV_OK);
    return l;
}

static fv_task_attempt_list tk_attempts(const fv_uuid *tenant, const fv_uuid *id)
{
    fv_task_attempt_list l;
    fv_error err;
    memset(&l, 0, sizeof l);
    fv_err rc = fv_task_repo_attempts(ct.d.tasks, &ct.a, tenant, id, &l, &err);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    CU_ASSERT_FATAL(rc == FV_OK);
    return l;
}

static fv_task_list tk_list(const fv_task_filter *f, int64_t limit, int64_t offset)
{
    fv_task_list l;
    fv_error err;
    fv_page page = {limit, offset};
    memset(&l, 0, sizeof l);
    fv_err rc = fv_task_repo_list(ct.d.tasks, &ct.a, f, page, &l, &err);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    CU_ASSERT_FATAL(rc == FV_OK);
    return l;
}

static fv_task_filter tk_filter(const fv_uuid *tenant)
{
    fv_task_filter f;
    memset(&f, 0, sizeof f);
    f.tenant_id = *tenant;
    return f;
}

static int64_t tk_append(const fv_uuid *tenant, const fv_uuid *id, fv_task_event_type type,
                         fv_log_level level, const char *message, const char *data, fv_time at)
{
    fv_task_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.at = at;
    ev.level = level;
    ev.message = message;
    ev.data = ct_json(data);
    int64_t id_out = -1;
    fv_error err;
    fv_err rc = fv_task_repo_append_event(ct.d.tasks, tenant, id, &ev, &id_out, &err);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    CU_ASSERT_FATAL(rc == FV_OK);
    return id_out;
}

static int64_t tk_log(const fv_uuid *tenant, const fv_uuid *id, fv_log_level level,
                      const char *message, fv_time at)
{
    char *data = fv_arena_printf(&ct.a, "{\"level\":\"%s\",\"message\":\"%s\"}",
                                 fv_log_level_name(level), message);
    CU_ASSERT_FATAL(data != NULL);
    return tk_append(tenant, id, FV_TEV_LOG, level, message, data, at);
}

static fv_err tk_state_set(const fv_uuid *tenant, const fv_uuid *id, const char *key,
                           const char *value)
{
    fv_error err;
    return fv_task_repo_state_set(ct.d.tasks, tenant, id, key, ct_json(value), &err);
}

/* The value of a key, or NULL when missing (asserts the op succeeded). */
static fv_json tk_state_get(const fv_uuid *tenant, const fv_uuid *id, const char *key, bool *found)
{
    fv_json v = {"x", 1};
    fv_error err;
    *found = true;
    fv_err rc = fv_task_repo_state_get(ct.d.tasks, &ct.a, tenant, id, key, &v, found, &err);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    CU_ASSERT_FATAL(rc == FV_OK);
    return v;
}

static fv_state_key_list tk_state_keys(const fv_uuid *tenant, const fv_uuid *id)
{
    fv_state_key_list l;
    fv_error err;
    memset(&l, 0, sizeof l);
    fv_err rc = fv_task_repo_state_keys(ct.d.tasks, &ct.a, tenant, id, &l, &err);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    CU_ASSERT_FATAL(rc == FV_OK);
    return l;
}

static fv_task_backlog_list tk_backlog(const fv_uuid *tenant)
{
    fv_task_backlog_list l;
    fv_error err;
    memset(&l, 0, sizeof l);
    fv_err rc = fv_task_repo_backlog(ct.d.tasks, &ct.a, tenant, &l, &err);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    CU_ASSERT_FATAL(rc == FV_OK);
    return l;
}

static bool list_has(const fv_task_list *l, const fv_uuid *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (fv_uuid_eq(&l->items[i].id, id))
            return true;
    return false;
}

static bool json_same(fv_json a, fv_json b)
{
    if (a.p == NULL || b.p == NULL)
        return a.p == b.p;
    return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

/* A registered worker of the tenant (adapters may tie worker_uuid to the
 * worker table); returns its id. */
static fv_uuid tk_worker(const fv_uuid *tenant, const char *name)
{
    return ct_worker(tenant, NULL, name, "1", CT_T0, NULL, NULL);
}

/* ------------------------------------------------------------------------
 * submit and get
 */

/* Every field of the record comes back as submitted, with TASK_CREATED as
 * event 1 at created_at. */
static void test_task_repo__submit_stores_record_and_created_event(void)
{
    static const fv_kv meta[] = {{"env", "prod"}, {"team", "core"}};
    fv_task_new n = tk_new(&ct.t1, "send-mail", "mail-q", CT_T0 + 5 * SEC);
    n.task.input = ct_json("{\"to\":\"a@b.c\",\"body\":\"h\\u00e9\"}");
    n.task.metadata = meta;
    n.task.n_metadata = 2;
    n.task.max_retries = 7;
    n.task.timeout_ms = 1234;
    n.task.retry_policy.set = FV_RETRY_HAS_INITIAL_DELAY | FV_RETRY_HAS_BACKOFF;
    n.task.retry_policy.initial_delay_ms = 500;
    n.task.retry_policy.backoff_coefficient = 2.0;
    n.task.scheduled_at = CT_T0 + 9 * SEC;
    tk_key(&n, "order-42", CT_T0 + 3600 * SEC);
    fv_task s = tk_submit_ok(&n);
    fv_task g = tk_get_ok(&ct.t1, &n.task.id);
    const fv_task *both[2] = {&s, &g};
    for (int i = 0; i < 2; i++) {
        const fv_task *t = both[i];
        CU_ASSERT(fv_uuid_eq(&t->id, &n.task.id));
        CU_ASSERT(fv_uuid_eq(&t->tenant_id, &ct.t1));
        CU_ASSERT(!t->workflow_execution_id.has);
        FV_ASSERT_STR_EQ(t->kind, "send-mail");
        FV_ASSERT_STR_EQ(t->queue, "mail-q");
        FV_ASSERT_INT_EQ(t->status, FV_TASK_PENDING);
        CU_ASSERT(json_same(t->input, n.task.input));
        CU_ASSERT(ct_json_eq(t->output, NULL));
        CU_ASSERT(t->error == NULL);
        CU_ASSERT_FATAL(t->n_metadata == 2);
        FV_ASSERT_STR_EQ(t->metadata[0].key, "env");
        FV_ASSERT_STR_EQ(t->metadata[0].value, "prod");
        FV_ASSERT_STR_EQ(t->metadata[1].key, "team");
        FV_ASSERT_STR_EQ(t->metadata[1].value, "core");
        FV_ASSERT_INT_EQ(t->execution_count, 0);
        FV_ASSERT_INT_EQ(t->max_retries, 7);
        FV_ASSERT_INT_EQ(t->timeout_ms, 1234);
        FV_ASSERT_INT_EQ(t->retry_policy.set, FV_RETRY_HAS_INITIAL_DELAY | FV_RETRY_HAS_BACKOFF);
        FV_ASSERT_INT_EQ(t->retry_policy.initial_delay_ms, 500);
        CU_ASSERT(t->retry_policy.backoff_coefficient == 2.0);
        CU_ASSERT(!t->has_progress);
        CU_ASSERT(t->progress_details == NULL);
        CU_ASSERT(t->worker_id == NULL);
        CU_ASSERT(!t->worker_uuid.has);
        FV_ASSERT_INT_EQ(t->scheduled_at, CT_T0 + 9 * SEC);
        FV_ASSERT_INT_EQ(t->created_at, CT_T0 + 5 * SEC);
        FV_ASSERT_INT_EQ(t->started_at, FV_TIME_NONE);
        FV_ASSERT_INT_EQ(t->completed_at, FV_TIME_NONE);
        FV_ASSERT_INT_EQ(t->last_heartbeat_at, FV_TIME_NONE);
        FV_ASSERT_STR_EQ(t->idempotency_key, "order-42");
        FV_ASSERT_INT_EQ(t->last_event_id, 1);
    }
    fv_task_event_list ev = tk_events(&ct.t1, &n.task.id, 0, 100);
    CU_ASSERT_FATAL(ev.n == 1);
    FV_ASSERT_INT_EQ(ev.items[0].id, 1);
    FV_ASSERT_INT_EQ(ev.items[0].type, FV_TEV_TASK_CREATED);
    FV_ASSERT_INT_EQ(ev.items[0].at, CT_T0 + 5 * SEC);
    CU_ASSERT(ct_json_eq(ev.items[0].data, created_data));
    CU_ASSERT(ev.items[0].message == NULL);
    FV_ASSERT_INT_EQ(tk_attempts(&ct.t1, &n.task.id).n, 0);
}

/* A live binding returns the bound task, whatever the kind asked for; a
 * key is per tenant. */
static void test_task_repo__submit_idempotency_returns_bound_task(void)
{
    fv_task_new n = tk_new(&ct.t1, "send-mail", "default", CT_T0);
    tk_key(&n, "k-1", CT_T0 + 100 * SEC);
    fv_task first = tk_submit_ok(&n);

    fv_task_new again = tk_new(&ct.t1, "other-kind", "other-q", CT_T0 + 10 * SEC);
    tk_key(&again, "k-1", CT_T0 + 500 * SEC);
    fv_task out;
    bool created = true;
    FV_ASSERT_INT_EQ(tk_submit(&again, &out, &created), FV_OK);
    CU_ASSERT(!created);
    CU_ASSERT(fv_uuid_eq(&out.id, &first.id));
    FV_ASSERT_STR_EQ(out.kind, "send-mail");
    FV_ASSERT_STR_EQ(out.queue, "default");
    FV_ASSERT_INT_EQ(out.last_event_id, 1);
    fv_task missing;
    FV_ASSERT_INT_EQ(tk_get(&ct.t1, &again.task.id, &missing), FV_E_NOT_FOUND);

    /* Still bound once RUNNING and once COMPLETED. */
    tk_claim_ok(&ct.t1, "default", "w-1", NULL, CT_T0 + 20 * SEC);
    again.task.id = ct_fresh_id();
    FV_ASSERT_INT_EQ(tk_submit(&again, &out, &created), FV_OK);
    CU_ASSERT(!created);
    CU_ASSERT(fv_uuid_eq(&out.id, &first.id));
    FV_ASSERT_INT_EQ(out.status, FV_TASK_RUNNING);
    tk_end_ok(&ct.t1, &first.id, FV_ATTEMPT_COMPLETED, "{}", NULL, CT_T0 + 30 * SEC);
    again.task.id = ct_fresh_id();
    FV_ASSERT_INT_EQ(tk_submit(&again, &out, &created), FV_OK);
    CU_ASSERT(!created);
    CU_ASSERT(fv_uuid_eq(&out.id, &first.id));
    FV_ASSERT_INT_EQ(out.status, FV_TASK_COMPLETED);

    /* The same key in the other tenant is another binding. */
    fv_task_new other = tk_new(&ct.t2, "send-mail", "default", CT_T0 + 40 * SEC);
    tk_key(&other, "k-1", CT_T0 + 100 * SEC);
    fv_task o = tk_submit_ok(&other);
    CU_ASSERT(!fv_uuid_eq(&o.id, &first.id));

    fv_task_filter f = tk_filter(&ct.t1);
    FV_ASSERT_INT_EQ(tk_list(&f, 100, 0).total, 1);
}

/* A key whose task FAILED or was CANCELLED, or whose binding expired, is
 * bound again to the new task. */
static void test_task_repo__submit_idempotency_rebinds(void)
{
    /* CANCELLED */
    fv_task_new n = tk_new(&ct.t1, "k", "q", CT_T0);
    tk_key(&n, "cancelled-key", CT_T0 + 1000 * SEC);
    fv_uuid a = tk_submit_ok(&n).id;
    FV_ASSERT_INT_EQ(tk_cancel(&ct.t1, &a, FV_TASK_BIT(FV_TASK_PENDING), NULL, CT_T0 + SEC, NULL),
                     FV_OK);
    n = tk_new(&ct.t1, "k", "q", CT_T0 + 2 * SEC);
    tk_key(&n, "cancelled-key", CT_T0 + 1000 * SEC);
    fv_uuid b = tk_submit_ok(&n).id;
    CU_ASSERT(!fv_uuid_eq(&a, &b));
    /* ... and now the key returns the new task. */
    n = tk_new(&ct.t1, "k", "q", CT_T0 + 3 * SEC);
    tk_key(&n, "cancelled-key", CT_T0 + 1000 * SEC);
    fv_task out;
    bool created = true;
    FV_ASSERT_INT_EQ(tk_submit(&n, &out, &created), FV_OK);
    CU_ASSERT(!created);
    CU_ASSERT(fv_uuid_eq(&out.id, &b));

    /* FAILED (no retry left) */
    n = tk_new(&ct.t1, "k", "fq", CT_T0);
    n.task.max_retries = 0;
    tk_key(&n, "failed-key", CT_T0 + 1000 * SEC);
    fv_uuid c = tk_submit_ok(&n).id;
    tk_claim_ok(&ct.t1, "fq", "w", NULL, CT_T0 + SEC);
    fv_task f = tk_end_ok(&ct.t1, &c, FV_ATTEMPT_FAILED, NULL, "boom", CT_T0 + 2 * SEC);
    FV_ASSERT_INT_EQ(f.status, FV_TASK_FAILED);
    n = tk_new(&ct.t1, "k", "fq", CT_T0 + 3 * SEC);
    tk_key(&n, "failed-key", CT_T0 + 1000 * SEC);
    fv_uuid d = tk_submit_ok(&n).id;
    CU_ASSERT(!fv_uuid_eq(&c, &d));

    /* Expired: live while expires_at > now, not at expires_at. */
    n = tk_new(&ct.t1, "k", "eq", CT_T0);
    tk_key(&n, "expiring-key", CT_T0 + 10 * SEC);
    fv_uuid e = tk_submit_ok(&n).id;
    n = tk_new(&ct.t1, "k", "eq", CT_T0 + 10 * SEC - 1);
    tk_key(&n, "expiring-key", CT_T0 + 20 * SEC);
    FV_ASSERT_INT_EQ(tk_submit(&n, &out, &created), FV_OK);
    CU_ASSERT(!created);
    CU_ASSERT(fv_uuid_eq(&out.id, &e));
    n = tk_new(&ct.t1, "k", "eq", CT_T0 + 10 * SEC);
    tk_key(&n, "expiring-key", CT_T0 + 20 * SEC);
    fv_uuid g = tk_submit_ok(&n).id;
    CU_ASSERT(!fv_uuid_eq(&e, &g));
    /* The new binding lives until its own expiry. */
    n = tk_new(&ct.t1, "k", "eq", CT_T0 + 20 * SEC - 1);
    tk_key(&n, "expiring-key", CT_T0 + 30 * SEC);
    FV_ASSERT_INT_EQ(tk_submit(&n, &out, &created), FV_OK);
    CU_ASSERT(!created);
    CU_ASSERT(fv_uuid_eq(&out.id, &g));
    /* The old tasks keep their key. */
    FV_ASSERT_STR_EQ(tk_get_ok(&ct.t1, &e).idempotency_key, "expiring-key");
}

#define N_THREADS 8

typedef struct submit_thread {
    const fv_contract_adapter *adapter;
    fv_task_repo repo;
    pthread_barrier_t *start;
    fv_task_new n;
    fv_err rc;
    bool created;
    fv_uuid got;
} submit_thread;

static void *submit_main(void *arg)
{
    submit_thread *s = arg;
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_task out;
    fv_error err;
    pthread_barrier_wait(s->start);
    s->rc = fv_task_repo_submit(s->repo, &a, &s->n, &out, &s->created, &err);
    if (s->rc == FV_OK)
        s->got = out.id;
    fv_arena_release(&a);
    return NULL;
}

/* 8 threads submit one key at once: exactly one creates, all see its id. */
static void test_task_repo__submit_concurrent_same_key(void)
{
    for (int round = 0; round < 5; round++) {
        submit_thread th[N_THREADS];
        pthread_t tid[N_THREADS];
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, N_THREADS);
        char *key = fv_arena_printf(&ct.a, "same-key-%d", round);
        CU_ASSERT_FATAL(key != NULL);
        for (int i = 0; i < N_THREADS; i++) {
            memset(&th[i], 0, sizeof th[i]);
            th[i].repo = ct.d.tasks;
            th[i].start = &start;
            th[i].n = tk_new(&ct.t1, "k", "q", CT_T0 + round);
            tk_key(&th[i].n, key, CT_T0 + 1000 * SEC);
        }
        for (int i = 0; i < N_THREADS; i++)
            CU_ASSERT_FATAL(pthread_create(&tid[i], NULL, submit_main, &th[i]) == 0);
        for (int i = 0; i < N_THREADS; i++)
            pthread_join(tid[i], NULL);
        pthread_barrier_destroy(&start);
        int created = 0;
        for (int i = 0; i < N_THREADS; i++) {
            FV_ASSERT_INT_EQ(th[i].rc, FV_OK);
            created += th[i].created ? 1 : 0;
            CU_ASSERT(fv_uuid_eq(&th[i].got, &th[0].got));
            if (th[i].created)
                CU_ASSERT(fv_uuid_eq(&th[i].got, &th[i].n.task.id));
        }
        FV_ASSERT_INT_EQ(created, 1);
    }
    fv_task_filter f = tk_filter(&ct.t1);
    FV_ASSERT_INT_EQ(tk_list(&f, 100, 0).total, 5);
}

/* Tenant isolation: a task of another tenant does not exist, for every op. */
static void test_task_repo__other_tenant_is_not_found(void)
{
    fv_uuid id = tk_add(&ct.t1, "k", "q", CT_T0);
    fv_uuid unknown = ct_uuid(CT_K_OTHER, 1);
    const fv_uuid *probes[2][2] = {{&ct.t2, &id}, {&ct.t1, &unknown}};
    for (int i = 0; i < 2; i++) {
        const fv_uuid *tenant = probes[i][0];
        const fv_uuid *tid = probes[i][1];
        fv_error err;
        fv_task t;
        FV_ASSERT_INT_EQ(tk_get(tenant, tid, &t), FV_E_NOT_FOUND);
        fv_attempt_outcome o = outcome(FV_ATTEMPT_COMPLETED, 0, "{}", NULL, CT_T0 + SEC);
        FV_ASSERT_INT_EQ(tk_end(tenant, tid, &o, NULL, NULL), FV_E_NOT_FOUND);
        FV_ASSERT_INT_EQ(tk_cancel(tenant, tid, FV_TASK_BIT(FV_TASK_PENDING), NULL, CT_T0, NULL),
                         FV_E_NOT_FOUND);
        FV_ASSERT_INT_EQ(fv_task_repo_heartbeat(ct.d.tasks, tenant, tid, CT_T0, &err),
                         FV_E_NOT_FOUND);
        int64_t ev = -1;
        FV_ASSERT_INT_EQ(fv_task_repo_report_progress(ct.d.tasks, tenant, tid, 0.5, NULL,
                                                      ct_json("{\"progress\":0.5}"), CT_T0, &ev,
                                                      &err),
                         FV_E_NOT_FOUND);
        fv_task_event e = {0, FV_TEV_LOG, CT_T0, FV_LOG_INFO, "m", ct_json("{}")};
        FV_ASSERT_INT_EQ(fv_task_repo_append_event(ct.d.tasks, tenant, tid, &e, &ev, &err),
                         FV_E_NOT_FOUND);
        fv_task_event_list el;
        FV_ASSERT_INT_EQ(fv_task_repo_events(ct.d.tasks, &ct.a, tenant, tid, 0, 10, &el, &err),
                         FV_E_NOT_FOUND);
        fv_task_attempt_list al;
        FV_ASSERT_INT_EQ(fv_task_repo_attempts(ct.d.tasks, &ct.a, tenant, tid, &al, &err),
                         FV_E_NOT_FOUND);
        fv_task_log_list ll;
        fv_page page = {10, 0};
        FV_ASSERT_INT_EQ(
            fv_task_repo_logs(ct.d.tasks, &ct.a, tenant, tid, false, FV_LOG_INFO, page, &ll, &err),
            FV_E_NOT_FOUND);
        fv_json v;
        bool found;
        FV_ASSERT_INT_EQ(
            fv_task_repo_state_get(ct.d.tasks, &ct.a, tenant, tid, "k", &v, &found, &err),
            FV_E_NOT_FOUND);
        FV_ASSERT_INT_EQ(tk_state_set(tenant, tid, "k", "1"), FV_E_NOT_FOUND);
        FV_ASSERT_INT_EQ(fv_task_repo_state_clear(ct.d.tasks, tenant, tid, "k", &err),
                         FV_E_NOT_FOUND);
        FV_ASSERT_INT_EQ(fv_task_repo_state_clear_all(ct.d.tasks, tenant, tid, &err),
                         FV_E_NOT_FOUND);
        fv_state_key_list kl;
        FV_ASSERT_INT_EQ(fv_task_repo_state_keys(ct.d.tasks, &ct.a, tenant, tid, &kl, &err),
                         FV_E_NOT_FOUND);
    }
    /* Nothing happened to the task. */
    fv_task t = tk_get_ok(&ct.t1, &id);
    FV_ASSERT_INT_EQ(t.status, FV_TASK_PENDING);
    FV_ASSERT_INT_EQ(t.last_event_id, 1);
    bool found;
    tk_state_get(&ct.t1, &id, "k", &found);
    CU_ASSERT(!found);
}

/* ------------------------------------------------------------------------
 * list
 */

static void test_task_repo__list_filters_order_and_pages(void)
{
    /* Created at T0+1..T0+6 s; two at T0+3 s (the second has the larger
     * id, so it lists first among the two). */
    fv_uuid ids[7];
    ids[0] = tk_add(&ct.t1, "mail", "q1", CT_T0 + 1 * SEC);
    ids[1] = tk_add(&ct.t1, "pdf", "q1", CT_T0 + 2 * SEC);
    ids[2] = tk_add(&ct.t1, "mail", "q2", CT_T0 + 3 * SEC);
    ids[3] = tk_add(&ct.t1, "mail", "q2", CT_T0 + 3 * SEC);
    fv_task_new wf = tk_new(&ct.t1, "mail", "q1", CT_T0 + 4 * SEC);
    wf.task.workflow_execution_id.has = true;
    wf.task.workflow_execution_id.id = ct_uuid(CT_K_OTHER, 77);
    ids[4] = tk_submit_ok(&wf).id;
    ids[5] = tk_add(&ct.t1, "pdf", "q2", CT_T0 + 5 * SEC);
    ids[6] = tk_add(&ct.t2, "mail", "q1", CT_T0 + 6 * SEC);
    /* ids[0] RUNNING, ids[1] CANCELLED. */
    fv_task c = tk_claim_ok(&ct.t1, "q1", "w", NULL, CT_T0 + 10 * SEC);
    CU_ASSERT_FATAL(fv_uuid_eq(&c.id, &ids[0]));
    FV_ASSERT_INT_EQ(
        tk_cancel(&ct.t1, &ids[1], FV_TASK_BIT(FV_TASK_PENDING), NULL, CT_T0 + 11 * SEC, NULL),
        FV_OK);

    fv_task_filter f = tk_filter(&ct.t1);
    fv_task_list l = tk_list(&f, 100, 0);
    FV_ASSERT_INT_EQ(l.total, 6);
    CU_ASSERT_FATAL(l.n == 6);
    const int order[6] = {5, 4, 3, 2, 1, 0};
    for (int i = 0; i < 6; i++)
        CU_ASSERT(fv_uuid_eq(&l.items[i].id, &ids[order[i]]));
    FV_ASSERT_INT_EQ(l.items[5].status, FV_TASK_RUNNING);
    FV_ASSERT_INT_EQ(l.items[4].status, FV_TASK_CANCELLED);

    /* Pages of 2. */
    l = tk_list(&f, 2, 2);
    FV_ASSERT_INT_EQ(l.total, 6);
    CU_ASSERT_FATAL(l.n == 2);
    CU_ASSERT(fv_uuid_eq(&l.items[0].id, &ids[3]));
    CU_ASSERT(fv_uuid_eq(&l.items[1].id, &ids[2]));
    l = tk_list(&f, 2, 5);
    FV_ASSERT_INT_EQ(l.total, 6);
    CU_ASSERT_FATAL(l.n == 1);
    CU_ASSERT(fv_uuid_eq(&l.items[0].id, &ids[0]));
    l = tk_list(&f, 2, 6);
    FV_ASSERT_INT_EQ(l.total, 6);
    FV_ASSERT_INT_EQ(l.n, 0);

    /* Filters. */
    f.status_mask = FV_TASK_BIT(FV_TASK_PENDING);
    l = tk_list(&f, 100, 0);
    FV_ASSERT_INT_EQ(l.total, 4);
    CU_ASSERT(!list_has(&l, &ids[0]) && !list_has(&l, &ids[1]));
    f.status_mask = FV_TASK_BIT(FV_TASK_RUNNING) | FV_TASK_BIT(FV_TASK_CANCELLED);
    l = tk_list(&f, 100, 0);
    FV_ASSERT_INT_EQ(l.total, 2);
    CU_ASSERT(list_has(&l, &ids[0]) && list_has(&l, &ids[1]));
    f.status_mask = FV_TASK_BIT(FV_TASK_COMPLETED);
    FV_ASSERT_INT_EQ(tk_list(&f, 100, 0).total, 0);

    f = tk_filter(&ct.t1);
    f.queue = "q2";
    l = tk_list(&f, 100, 0);
    FV_ASSERT_INT_EQ(l.total, 3);
    CU_ASSERT_FATAL(l.n == 3);
    CU_ASSERT(fv_uuid_eq(&l.items[0].id, &ids[5]));

    f = tk_filter(&ct.t1);
    f.kind = "mail";
    l = tk_list(&f, 100, 0);
    FV_ASSERT_INT_EQ(l.total, 4);
    f.standalone_only = true;
    l = tk_list(&f, 100, 0);
    FV_ASSERT_INT_EQ(l.total, 3);
    CU_ASSERT(!list_has(&l, &ids[4]));
    f.queue = "q1";
    f.status_mask = FV_TASK_BIT(FV_TASK_RUNNING);
    l = tk_list(&f, 1, 0);
    FV_ASSERT_INT_EQ(l.total, 1);
    CU_ASSERT_FATAL(l.n == 1);
    CU_ASSERT(fv_uuid_eq(&l.items[0].id, &ids[0]));
    FV_ASSERT_STR_EQ(l.items[0].worker_id, "w");

    /* The workflow task is in the unfiltered list with its parent. */
    f = tk_filter(&ct.t1);
    l = tk_list(&f, 100, 0);
    CU_ASSERT(l.items[1].workflow_execution_id.has);

    /* The other tenant sees only its own. */
    f = tk_filter(&ct.t2);
    l = tk_list(&f, 100, 0);
    FV_ASSERT_INT_EQ(l.total, 1);
    CU_ASSERT_FATAL(l.n == 1);
    CU_ASSERT(fv_uuid_eq(&l.items[0].id, &ids[6]));
    fv_uuid nobody = ct_uuid(CT_K_TENANT, 99);
    f = tk_filter(&nobody);
    l = tk_list(&f, 100, 0);
    FV_ASSERT_INT_EQ(l.total, 0);
    FV_ASSERT_INT_EQ(l.n, 0);
}

/* ------------------------------------------------------------------------
 * claim
 */

/* Oldest created_at first, then the smaller id; nothing left: not found,
 * no next time. */
static void test_task_repo__claim_oldest_first(void)
{
    fv_uuid late = tk_add(&ct.t1, "k", "q", CT_T0 + 2 * SEC);
    /* Fresh ids count up: b's is the smaller; a (larger id, same time) is
     * submitted first. */
    fv_task_new b = tk_new(&ct.t1, "k", "q", CT_T0 + SEC);
    fv_task_new a = tk_new(&ct.t1, "k", "q", CT_T0 + SEC);
    CU_ASSERT_FATAL(fv_uuid_cmp(&a.task.id, &b.task.id) > 0);
    tk_submit_ok(&a);
    tk_submit_ok(&b);
    fv_task c1 = tk_claim_ok(&ct.t1, "q", "w", NULL, CT_T0 + 10 * SEC);
    fv_task c2 = tk_claim_ok(&ct.t1, "q", "w", NULL, CT_T0 + 10 * SEC);
    fv_task c3 = tk_claim_ok(&ct.t1, "q", "w", NULL, CT_T0 + 10 * SEC);
    CU_ASSERT(fv_uuid_eq(&c1.id, &b.task.id));
    CU_ASSERT(fv_uuid_eq(&c2.id, &a.task.id));
    CU_ASSERT(fv_uuid_eq(&c3.id, &late));
    fv_time next = 0;
    CU_ASSERT(!tk_claim(&ct.t1, "q", "w", NULL, CT_T0 + 10 * SEC, NULL, &next));
    FV_ASSERT_INT_EQ(next, FV_TIME_NONE);
    /* An unknown queue is empty too. */
    next = 0;
    CU_ASSERT(!tk_claim(&ct.t1, "never-used", "w", NULL, CT_T0, NULL, &next));
    FV_ASSERT_INT_EQ(next, FV_TIME_NONE);
}

/* The claim's changes (fv_task_apply_claim) and its TASK_STARTED event. */
static void test_task_repo__claim_sets_fields_and_started_event(void)
{
    fv_uuid wu = tk_worker(&ct.t1, "poller");
    fv_uuid id = tk_add(&ct.t1, "k", "q", CT_T0);
    fv_task c = tk_claim_ok(&ct.t1, "q", "worker-7@host", &wu, CT_T0 + 3 * SEC);
    fv_task g = tk_get_ok(&ct.t1, &id);
    const fv_task *both[2] = {&c, &g};
    for (int i = 0; i < 2; i++) {
        const fv_task *t = both[i];
        CU_ASSERT(fv_uuid_eq(&t->id, &id));
        FV_ASSERT_INT_EQ(t->status, FV_TASK_RUNNING);
        FV_ASSERT_INT_EQ(t->execution_count, 1);
        FV_ASSERT_STR_EQ(t->worker_id, "worker-7@host");
        CU_ASSERT(t->worker_uuid.has && fv_uuid_eq(&t->worker_uuid.id, &wu));
        FV_ASSERT_INT_EQ(t->started_at, CT_T0 + 3 * SEC);
        FV_ASSERT_INT_EQ(t->last_heartbeat_at, CT_T0 + 3 * SEC);
        FV_ASSERT_INT_EQ(t->completed_at, FV_TIME_NONE);
        FV_ASSERT_INT_EQ(t->created_at, CT_T0);
        FV_ASSERT_INT_EQ(t->last_event_id, 2);
    }
    fv_task_event_list ev = tk_events(&ct.t1, &id, 0, 100);
    CU_ASSERT_FATAL(ev.n == 2);
    FV_ASSERT_INT_EQ(ev.items[1].id, 2);
    FV_ASSERT_INT_EQ(ev.items[1].type, FV_TEV_TASK_STARTED);
    FV_ASSERT_INT_EQ(ev.items[1].at, CT_T0 + 3 * SEC);
    fv_json want = fv_task_event_data_started(&ct.a, 1, "worker-7@host");
    CU_ASSERT(json_same(ev.items[1].data, want));

    /* A claim without a registered worker leaves worker_uuid absent. */
    fv_uuid id2 = tk_add(&ct.t1, "k", "q", CT_T0);
    fv_task c2 = tk_claim_ok(&ct.t1, "q", "anonymous", NULL, CT_T0 + 4 * SEC);
    CU_ASSERT(fv_uuid_eq(&c2.id, &id2));
    CU_ASSERT(!c2.worker_uuid.has);
    CU_ASSERT(!tk_get_ok(&ct.t1, &id2).worker_uuid.has);
}

/* A task is claimable from its scheduled_at on; next_at tells when the
 * next scheduled one of the queue becomes claimable. */
static void test_task_repo__claim_waits_for_scheduled_at(void)
{
    fv_task_new a = tk_new(&ct.t1, "k", "q", CT_T0);
    a.task.scheduled_at = CT_T0 + 10 * SEC;
    fv_task_new b = tk_new(&ct.t1, "k", "q", CT_T0);
    b.task.scheduled_at = CT_T0 + 20 * SEC;
    tk_submit_ok(&b);
    tk_submit_ok(&a);
    fv_task_new other = tk_new(&ct.t1, "k", "other-q", CT_T0);
    other.task.scheduled_at = CT_T0 + 5 * SEC;
    tk_submit_ok(&other);

    fv_time next = 0;
    CU_ASSERT(!tk_claim(&ct.t1, "q", "w", NULL, CT_T0 + 5 * SEC, NULL, &next));
    FV_ASSERT_INT_EQ(next, CT_T0 + 10 * SEC);
    CU_ASSERT(!tk_claim(&ct.t1, "q", "w", NULL, CT_T0 + 10 * SEC - 1, NULL, &next));
    FV_ASSERT_INT_EQ(next, CT_T0 + 10 * SEC);
    fv_task c = tk_claim_ok(&ct.t1, "q", "w", NULL, CT_T0 + 10 * SEC);
    CU_ASSERT(fv_uuid_eq(&c.id, &a.task.id));
    CU_ASSERT(!tk_claim(&ct.t1, "q", "w", NULL, CT_T0 + 15 * SEC, NULL, &next));
    FV_ASSERT_INT_EQ(next, CT_T0 + 20 * SEC);

    /* Among claimable tasks the oldest created wins, not the earliest
     * scheduled. */
    fv_task_new old = tk_new(&ct.t1, "k", "q", CT_T0 + SEC);
    old.task.scheduled_at = CT_T0 + 30 * SEC;
    tk_submit_ok(&old);
    fv_uuid young = tk_add(&ct.t1, "k", "q", CT_T0 + 25 * SEC);
    c = tk_claim_ok(&ct.t1, "q", "w", NULL, CT_T0 + 31 * SEC);
    CU_ASSERT(fv_uuid_eq(&c.id, &b.task.id)); /* created T0, due since T0+20 */
    c = tk_claim_ok(&ct.t1, "q", "w", NULL, CT_T0 + 31 * SEC);
    CU_ASSERT(fv_uuid_eq(&c.id, &old.task.id));
    c = tk_claim_ok(&ct.t1, "q", "w", NULL, CT_T0 + 31 * SEC);
    CU_ASSERT(fv_uuid_eq(&c.id, &young));

    /* Exact at every `now`, even one earlier than a previous claim's. */
    fv_task_new early = tk_new(&ct.t1, "k", "q", CT_T0);
    fv_task_new later = tk_new(&ct.t1, "k", "q", CT_T0 + SEC);
    later.task.scheduled_at = CT_T0 + 40 * SEC;
    tk_submit_ok(&early);
    tk_submit_ok(&later);
    c = tk_claim_ok(&ct.t1, "q", "w", NULL, CT_T0 + 45 * SEC);
    CU_ASSERT(fv_uuid_eq(&c.id, &early.task.id));
    CU_ASSERT(!tk_claim(&ct.t1, "q", "w", NULL, CT_T0 + 35 * SEC, NULL, &next));
    FV_ASSERT_INT_EQ(next, CT_T0 + 40 * SEC);
    c = tk_claim_ok(&ct.t1, "q", "w", NULL, CT_T0 + 40 * SEC);
    CU_ASSERT(fv_uuid_eq(&c.id, &later.task.id));

    /* The other queue was never touched. */
    c = tk_claim_ok(&ct.t1, "other-q", "w", NULL, CT_T0 + 50 * SEC);
    CU_ASSERT(fv_uuid_eq(&c.id, &other.task.id));
}

/* Claims see only their tenant's queue. */
static void test_task_repo__claim_queue_and_tenant_isolation(void)
{
    fv_uuid id = tk_add(&ct.t1, "k", "a", CT_T0);
    fv_task_new sched = tk_new(&ct.t1, "k", "a", CT_T0);
    sched.task.scheduled_at = CT_T0 + 100 * SEC;
    tk_submit_ok(&sched);
    fv_time next = 0;
    CU_ASSERT(!tk_claim(&ct.t1, "b", "w", NULL, CT_T0 + SEC, NULL, &next));
    FV_ASSERT_INT_EQ(next, FV_TIME_NONE);
    CU_ASSERT(!tk_claim(&ct.t2, "a", "w", NULL, CT_T0 + SEC, NULL, &next));
    FV_ASSERT_INT_EQ(next, FV_TIME_NONE);
    CU_ASSERT(!tk_claim(&ct.t1, "A", "w", NULL, CT_T0 + SEC, NULL, &next)); /* exact match */
    fv_task c = tk_claim_ok(&ct.t1, "a", "w", NULL, CT_T0 + SEC);
    CU_ASSERT(fv_uuid_eq(&c.id, &id));
    CU_ASSERT(!tk_claim(&ct.t1, "a", "w", NULL, CT_T0 + SEC, NULL, &next));
    FV_ASSERT_INT_EQ(next, CT_T0 + 100 * SEC);
}

#define N_CLAIM_TASKS 500

typedef struct claim_thread {
    fv_task_repo repo;
    pthread_barrier_t *start;
    fv_uuid tenant;
    char worker[16];
    fv_uuid got[N_CLAIM_TASKS];
    size_t n;
    fv_err rc;
    fv_err end_rc;
} claim_thread;

static void *claim_main(void *arg)
{
    claim_thread *s = arg;
    fv_arena a;
    fv_arena_init(&a, 0);
    pthread_barrier_wait(s->start);
    for (;;) {
        fv_claim_request c = {s->tenant, "bulk", s->worker, {false, {{0}}}, CT_T0 + 100 * SEC};
        fv_task t;
        bool found = false;
        fv_time next;
        fv_error err;
        fv_arena_reset(&a);
        s->rc = fv_task_repo_claim(s->repo, &a, &c, &t, &found, &next, &err);
        if (s->rc != FV_OK || !found || s->n == N_CLAIM_TASKS)
            break;
        s->got[s->n++] = t.id;
        fv_attempt_outcome o = {FV_ATTEMPT_COMPLETED, 1, {"true", 4}, NULL, CT_T0 + 101 * SEC};
        fv_task done;
        fv_err rc = fv_task_repo_end_attempt(s->repo, &a, &s->tenant, &t.id, &o, &done, NULL, &err);
        if (rc != FV_OK)
            s->end_rc = rc;
    }
    fv_arena_release(&a);
    return NULL;
}

/* 8 threads claim (and complete) 500 tasks: each is claimed exactly once. */
static void test_task_repo__claim_concurrent_each_task_once(void)
{
    fv_uuid *ids = fv_arena_calloc(&ct.a, N_CLAIM_TASKS, sizeof *ids);
    CU_ASSERT_FATAL(ids != NULL);
    for (int i = 0; i < N_CLAIM_TASKS; i++)
        ids[i] = tk_add(&ct.t1, "k", "bulk", CT_T0 + i);
    static claim_thread th[N_THREADS];
    pthread_t tid[N_THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N_THREADS);
    for (int i = 0; i < N_THREADS; i++) {
        memset(&th[i], 0, sizeof th[i]);
        th[i].repo = ct.d.tasks;
        th[i].start = &start;
        th[i].tenant = ct.t1;
        snprintf(th[i].worker, sizeof th[i].worker, "w-%d", i);
    }
    for (int i = 0; i < N_THREADS; i++)
        CU_ASSERT_FATAL(pthread_create(&tid[i], NULL, claim_main, &th[i]) == 0);
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(tid[i], NULL);
    pthread_barrier_destroy(&start);

    int *seen = fv_arena_calloc(&ct.a, N_CLAIM_TASKS, sizeof *seen);
    CU_ASSERT_FATAL(seen != NULL);
    size_t total = 0;
    for (int i = 0; i < N_THREADS; i++) {
        FV_ASSERT_INT_EQ(th[i].rc, FV_OK);
        FV_ASSERT_INT_EQ(th[i].end_rc, FV_OK);
        total += th[i].n;
        for (size_t j = 0; j < th[i].n; j++) {
            int k = -1;
            for (int m = 0; m < N_CLAIM_TASKS; m++)
                if (fv_uuid_eq(&ids[m], &th[i].got[j]))
                    k = m;
            CU_ASSERT_FATAL(k >= 0);
            seen[k]++;
        }
    }
    FV_ASSERT_INT_EQ(total, N_CLAIM_TASKS);
    int twice = 0, never = 0;
    for (int m = 0; m < N_CLAIM_TASKS; m++) {
        twice += seen[m] > 1;
        never += seen[m] == 0;
    }
    FV_ASSERT_INT_EQ(twice, 0);
    FV_ASSERT_INT_EQ(never, 0);
    fv_task_filter f = tk_filter(&ct.t1);
    f.status_mask = FV_TASK_BIT(FV_TASK_COMPLETED);
    FV_ASSERT_INT_EQ(tk_list(&f, 1, 0).total, N_CLAIM_TASKS);
    fv_task t = tk_get_ok(&ct.t1, &ids[N_CLAIM_TASKS / 2]);
    FV_ASSERT_INT_EQ(t.execution_count, 1);
    FV_ASSERT_INT_EQ(t.last_event_id, 3);
}

/* ------------------------------------------------------------------------
 * end_attempt
 */

static void test_task_repo__complete_records_attempt_and_event(void)
{
    fv_uuid wu = tk_worker(&ct.t1, "runner");
    fv_uuid id = tk_add(&ct.t1, "k", "q", CT_T0);
    tk_claim_ok(&ct.t1, "q", "runner-1", &wu, CT_T0 + 2 * SEC);
    fv_attempt_outcome o =
        outcome(FV_ATTEMPT_COMPLETED, 1, "{\"ok\":[1,2]}", NULL, CT_T0 + 7 * SEC + 250);
    fv_task t;
    fv_task_transition tr;
    memset(&tr, 0, sizeof tr);
    FV_ASSERT_INT_EQ(tk_end(&ct.t1, &id, &o, &t, &tr), FV_OK);
    FV_ASSERT_INT_EQ(tr.next, FV_TASK_COMPLETED);
    FV_ASSERT_INT_EQ(tr.event, FV_TEV_TASK_COMPLETED);
    CU_ASSERT(tr.has_attempt);
    FV_ASSERT_INT_EQ(tr.attempt_row.attempt, 1);
    fv_task g = tk_get_ok(&ct.t1, &id);
    const fv_task *both[2] = {&t, &g};
    for (int i = 0; i < 2; i++) {
        FV_ASSERT_INT_EQ(both[i]->status, FV_TASK_COMPLETED);
        CU_ASSERT(ct_json_eq(both[i]->output, "{\"ok\":[1,2]}"));
        FV_ASSERT_INT_EQ(both[i]->completed_at, CT_T0 + 7 * SEC + 250);
        FV_ASSERT_INT_EQ(both[i]->execution_count, 1);
        FV_ASSERT_STR_EQ(both[i]->worker_id, "runner-1");
        FV_ASSERT_INT_EQ(both[i]->started_at, CT_T0 + 2 * SEC);
        FV_ASSERT_INT_EQ(both[i]->last_event_id, 3);
    }
    fv_task_attempt_list at = tk_attempts(&ct.t1, &id);
    CU_ASSERT_FATAL(at.n == 1);
    FV_ASSERT_INT_EQ(at.items[0].attempt, 1);
    FV_ASSERT_INT_EQ(at.items[0].status, FV_ATTEMPT_COMPLETED);
    FV_ASSERT_INT_EQ(at.items[0].started_at, CT_T0 + 2 * SEC);
    FV_ASSERT_INT_EQ(at.items[0].finished_at, CT_T0 + 7 * SEC + 250);
    FV_ASSERT_INT_EQ(at.items[0].duration_ms, 5 * SEC + 250);
    CU_ASSERT(ct_json_eq(at.items[0].output, "{\"ok\":[1,2]}"));
    CU_ASSERT(at.items[0].error == NULL);
    FV_ASSERT_STR_EQ(at.items[0].worker_id, "runner-1");
    fv_task_event_list ev = tk_events(&ct.t1, &id, 2, 100);
    CU_ASSERT_FATAL(ev.n == 1);
    FV_ASSERT_INT_EQ(ev.items[0].id, 3);
    FV_ASSERT_INT_EQ(ev.items[0].type, FV_TEV_TASK_COMPLETED);
    FV_ASSERT_INT_EQ(ev.items[0].at, CT_T0 + 7 * SEC + 250);
    CU_ASSERT(json_same(ev.items[0].data, tr.event_data));
    CU_ASSERT(json_same(ev.items[0].data,
                        fv_task_event_data_completed(&ct.a, 1, ct_json("{\"ok\":[1,2]}"))));
    /* Gone from the queue and from the holders. */
    CU_ASSERT(!tk_claim(&ct.t1, "q", "w", NULL, CT_T0 + 100 * SEC, NULL, NULL));
    fv_task_holder_list h;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_task_repo_holders(ct.d.tasks, &ct.a, &h, &err), FV_OK);
    FV_ASSERT_INT_EQ(h.n, 0);
}

/* Decision 12 with a backoff: retried while execution_count <= max_retries,
 * each time claimable again at now + delay, then FAILED. */
static void test_task_repo__fail_retries_with_backoff_then_fails(void)
{
    fv_task_new n = tk_new(&ct.t1, "k", "q", CT_T0);
    n.task.max_retries = 2;
    n.task.retry_policy.set = FV_RETRY_HAS_INITIAL_DELAY | FV_RETRY_HAS_BACKOFF;
    n.task.retry_policy.initial_delay_ms = 1000;
    n.task.retry_policy.backoff_coefficient = 3.0;
    fv_uuid id = tk_submit_ok(&n).id;
    const fv_retry_policy *p = &n.task.retry_policy;

    fv_time now = CT_T0 + 10 * SEC;
    for (int32_t attempt = 1; attempt <= 3; attempt++) {
        fv_task c = tk_claim_ok(&ct.t1, "q", "w-a", NULL, now);
        FV_ASSERT_INT_EQ(c.execution_count, attempt);
        fv_time end = now + 500;
        bool timeout = attempt == 2;
        const char *why = timeout ? "attempt timed out" : "it broke";
        fv_attempt_outcome o =
            outcome(timeout ? FV_ATTEMPT_TIMEOUT : FV_ATTEMPT_FAILED, attempt, NULL, why, end);
        fv_task t;
        fv_task_transition tr;
        FV_ASSERT_INT_EQ(tk_end(&ct.t1, &id, &o, &t, &tr), FV_OK);
        FV_ASSERT_STR_EQ(t.error, why);
        fv_task_event_list ev = tk_events(&ct.t1, &id, t.last_event_id - 1, 10);
        CU_ASSERT_FATAL(ev.n == 1);
        FV_ASSERT_INT_EQ(ev.items[0].at, end);
        if (attempt < 3) {
            fv_time due = end + fv_task_retry_delay_ms(p, attempt);
            CU_ASSERT(due > end);
            FV_ASSERT_INT_EQ(t.status, FV_TASK_PENDING);
            FV_ASSERT_INT_EQ(t.scheduled_at, due);
            FV_ASSERT_INT_EQ(t.completed_at, FV_TIME_NONE);
            FV_ASSERT_INT_EQ(tr.event, FV_TEV_RETRY);
            FV_ASSERT_INT_EQ(ev.items[0].type, FV_TEV_RETRY);
            CU_ASSERT(json_same(ev.items[0].data,
                                fv_task_event_data_failed(&ct.a, attempt, o.status, why, due)));
            fv_time next = 0;
            CU_ASSERT(!tk_claim(&ct.t1, "q", "w-a", NULL, due - 1, NULL, &next));
            FV_ASSERT_INT_EQ(next, due);
            now = due;
        } else {
            FV_ASSERT_INT_EQ(t.status, FV_TASK_FAILED);
            FV_ASSERT_INT_EQ(t.completed_at, end);
            FV_ASSERT_INT_EQ(tr.event, FV_TEV_TASK_FAILED);
            FV_ASSERT_INT_EQ(ev.items[0].type, FV_TEV_TASK_FAILED);
        }
    }
    fv_time next = 0;
    CU_ASSERT(!tk_claim(&ct.t1, "q", "w", NULL, CT_T0 + 1000 * SEC, NULL, &next));
    FV_ASSERT_INT_EQ(next, FV_TIME_NONE);
    fv_task_attempt_list at = tk_attempts(&ct.t1, &id);
    CU_ASSERT_FATAL(at.n == 3);
    for (size_t i = 0; i < 3; i++) {
        FV_ASSERT_INT_EQ(at.items[i].attempt, (int)i + 1);
        FV_ASSERT_INT_EQ(at.items[i].duration_ms, 500);
        FV_ASSERT_STR_EQ(at.items[i].worker_id, "w-a");
        CU_ASSERT(ct_json_eq(at.items[i].output, NULL));
    }
    FV_ASSERT_INT_EQ(at.items[0].status, FV_ATTEMPT_FAILED);
    FV_ASSERT_INT_EQ(at.items[1].status, FV_ATTEMPT_TIMEOUT);
    FV_ASSERT_STR_EQ(at.items[1].error, "attempt timed out");
    FV_ASSERT_INT_EQ(at.items[2].status, FV_ATTEMPT_FAILED);
    /* 1 created + 3 x (started, ended) */
    FV_ASSERT_INT_EQ(tk_get_ok(&ct.t1, &id).last_event_id, 7);
}

/* Without a backoff a retry is claimable at once. */
static void test_task_repo__fail_without_backoff_is_claimable_at_once(void)
{
    fv_uuid id = tk_add(&ct.t1, "k", "q", CT_T0);
    tk_claim_ok(&ct.t1, "q", "w", NULL, CT_T0 + SEC);
    fv_task t = tk_end_ok(&ct.t1, &id, FV_ATTEMPT_FAILED, NULL, NULL, CT_T0 + 2 * SEC);
    FV_ASSERT_INT_EQ(t.status, FV_TASK_PENDING);
    FV_ASSERT_INT_EQ(t.scheduled_at, CT_T0 + 2 * SEC);
    CU_ASSERT(t.error == NULL);
    fv_task c = tk_claim_ok(&ct.t1, "q", "w2", NULL, CT_T0 + 2 * SEC);
    CU_ASSERT(fv_uuid_eq(&c.id, &id));
    FV_ASSERT_INT_EQ(c.execution_count, 2);
    FV_ASSERT_STR_EQ(c.worker_id, "w2");
}

/* Not RUNNING, or not at that attempt: FV_E_PRECONDITION, nothing changes. */
static void test_task_repo__end_attempt_refusals_change_nothing(void)
{
    fv_uuid id = tk_add(&ct.t1, "k", "q", CT_T0);
    fv_attempt_outcome o = outcome(FV_ATTEMPT_COMPLETED, 0, "1", NULL, CT_T0 + SEC);
    FV_ASSERT_INT_EQ(tk_end(&ct.t1, &id, &o, NULL, NULL), FV_E_PRECONDITION);
    fv_task t = tk_get_ok(&ct.t1, &id);
    FV_ASSERT_INT_EQ(t.status, FV_TASK_PENDING);
    FV_ASSERT_INT_EQ(t.last_event_id, 1);

    tk_claim_ok(&ct.t1, "q", "w", NULL, CT_T0 + SEC);
    o = outcome(FV_ATTEMPT_FAILED, 2, NULL, "x", CT_T0 + 2 * SEC);
    FV_ASSERT_INT_EQ(tk_end(&ct.t1, &id, &o, NULL, NULL), FV_E_PRECONDITION);
    t = tk_get_ok(&ct.t1, &id);
    FV_ASSERT_INT_EQ(t.status, FV_TASK_RUNNING);
    FV_ASSERT_INT_EQ(t.last_event_id, 2);
    CU_ASSERT(t.error == NULL);
    FV_ASSERT_INT_EQ(tk_attempts(&ct.t1, &id).n, 0);

    o = outcome(FV_ATTEMPT_COMPLETED, 1, "\"done\"", NULL, CT_T0 + 3 * SEC);
    FV_ASSERT_INT_EQ(tk_end(&ct.t1, &id, &o, NULL, NULL), FV_OK);
    /* A late Complete or Fail of a finished task. */
    o = outcome(FV_ATTEMPT_FAILED, 0, NULL, "late", CT_T0 + 4 * SEC);
    FV_ASSERT_INT_EQ(tk_end(&ct.t1, &id, &o, NULL, NULL), FV_E_PRECONDITION);
    o = outcome(FV_ATTEMPT_COMPLETED, 1, "\"again\"", NULL, CT_T0 + 4 * SEC);
    FV_ASSERT_INT_EQ(tk_end(&ct.t1, &id, &o, NULL, NULL), FV_E_PRECONDITION);
    t = tk_get_ok(&ct.t1, &id);
    FV_ASSERT_INT_EQ(t.status, FV_TASK_COMPLETED);
    CU_ASSERT(ct_json_eq(t.output, "\"done\""));
    CU_ASSERT(t.error == NULL);
    FV_ASSERT_INT_EQ(t.completed_at, CT_T0 + 3 * SEC);
    FV_ASSERT_INT_EQ(t.last_event_id, 3);
    FV_ASSERT_INT_EQ(tk_attempts(&ct.t1, &id).n, 1);
}

/* ------------------------------------------------------------------------
 * cancel
 */

static void test_task_repo__cancel_pending(void)
{
    fv_uuid id = tk_add(&ct.t1, "k", "q", CT_T0);
    fv_task t;
    FV_ASSERT_INT_EQ(tk_cancel(&ct.t1, &id, FV_TASK_BIT(FV_TASK_PENDING), "no longer needed",
                               CT_T0 + 5 * SEC, &t),
                     FV_OK);
    FV_ASSERT_INT_EQ(t.status, FV_TASK_CANCELLED);
    FV_ASSERT_INT_EQ(t.completed_at, CT_T0 + 5 * SEC);
    FV_ASSERT_INT_EQ(t.last_event_id, 2);
    FV_ASSERT_INT_EQ(tk_get_ok(&ct.t1, &id).status, FV_TASK_CANCELLED);
    FV_ASSERT_INT_EQ(tk_attempts(&ct.t1, &id).n, 0);
    fv_task_event_list ev = tk_events(&ct.t1, &id, 1, 10);
    CU_ASSERT_FATAL(ev.n == 1);
    FV_ASSERT_INT_EQ(ev.items[0].type, FV_TEV_TASK_CANCELLED);
    FV_ASSERT_INT_EQ(ev.items[0].at, CT_T0 + 5 * SEC);
    CU_ASSERT(
        json_same(ev.items[0].data, fv_task_event_data_cancelled(&ct.a, 0, "no longer needed")));
    CU_ASSERT(!tk_claim(&ct.t1, "q", "w", NULL, CT_T0 + 10 * SEC, NULL, NULL));
    FV_ASSERT_INT_EQ(tk_backlog(&ct.t1).n, 0);
    /* Twice: refused. */
    FV_ASSERT_INT_EQ(tk_cancel(&ct.t1, &id,
                               FV_TASK_BIT(FV_TASK_PENDING) | FV_TASK_BIT(FV_TASK_RUNNING), NULL,
                               CT_T0 + 6 * SEC, NULL),
                     FV_E_PRECONDITION);
    FV_ASSERT_INT_EQ(tk_get_ok(&ct.t1, &id).last_event_id, 2);

    /* A scheduled task is cancelled as well and never becomes claimable. */
    fv_task_new n = tk_new(&ct.t1, "k", "q", CT_T0);
    n.task.scheduled_at = CT_T0 + 50 * SEC;
    tk_submit_ok(&n);
    FV_ASSERT_INT_EQ(
        tk_cancel(&ct.t1, &n.task.id, FV_TASK_BIT(FV_TASK_PENDING), NULL, CT_T0 + 6 * SEC, NULL),
        FV_OK);
    fv_time next = 0;
    CU_ASSERT(!tk_claim(&ct.t1, "q", "w", NULL, CT_T0 + 60 * SEC, NULL, &next));
    FV_ASSERT_INT_EQ(next, FV_TIME_NONE);
}

static void test_task_repo__cancel_running_ends_its_attempt(void)
{
    fv_uuid wu = tk_worker(&ct.t1, "holder");
    fv_uuid id = tk_add(&ct.t1, "k", "q", CT_T0);
    tk_claim_ok(&ct.t1, "q", "h-1", &wu, CT_T0 + SEC);
    /* Refused by the mask (REST DELETE: PENDING only). */
    FV_ASSERT_INT_EQ(
        tk_cancel(&ct.t1, &id, FV_TASK_BIT(FV_TASK_PENDING), NULL, CT_T0 + 2 * SEC, NULL),
        FV_E_PRECONDITION);
    fv_task t = tk_get_ok(&ct.t1, &id);
    FV_ASSERT_INT_EQ(t.status, FV_TASK_RUNNING);
    FV_ASSERT_INT_EQ(t.last_event_id, 2);

    FV_ASSERT_INT_EQ(tk_cancel(&ct.t1, &id,
                               FV_TASK_BIT(FV_TASK_PENDING) | FV_TASK_BIT(FV_TASK_RUNNING),
                               "operator", CT_T0 + 4 * SEC, &t),
                     FV_OK);
    FV_ASSERT_INT_EQ(t.status, FV_TASK_CANCELLED);
    FV_ASSERT_INT_EQ(t.completed_at, CT_T0 + 4 * SEC);
    FV_ASSERT_INT_EQ(t.last_event_id, 3);
    fv_task_attempt_list at = tk_attempts(&ct.t1, &id);
    CU_ASSERT_FATAL(at.n == 1);
    FV_ASSERT_INT_EQ(at.items[0].attempt, 1);
    FV_ASSERT_INT_EQ(at.items[0].status, FV_ATTEMPT_CANCELLED);
    FV_ASSERT_INT_EQ(at.items[0].started_at, CT_T0 + SEC);
    FV_ASSERT_INT_EQ(at.items[0].finished_at, CT_T0 + 4 * SEC);
    FV_ASSERT_INT_EQ(at.items[0].duration_ms, 3 * SEC);
    FV_ASSERT_STR_EQ(at.items[0].error, "operator");
    FV_ASSERT_STR_EQ(at.items[0].worker_id, "h-1");
    fv_task_event_list ev = tk_events(&ct.t1, &id, 2, 10);
    CU_ASSERT_FATAL(ev.n == 1);
    FV_ASSERT_INT_EQ(ev.items[0].type, FV_TEV_TASK_CANCELLED);
    CU_ASSERT(json_same(ev.items[0].data, fv_task_event_data_cancelled(&ct.a, 1, "operator")));
    /* The worker's later Complete does not revive it; it holds nothing. */
    fv_attempt_outcome o = outcome(FV_ATTEMPT_COMPLETED, 1, "1", NULL, CT_T0 + 5 * SEC);
    FV_ASSERT_INT_EQ(tk_end(&ct.t1, &id, &o, NULL, NULL), FV_E_PRECONDITION);
    FV_ASSERT_INT_EQ(tk_get_ok(&ct.t1, &id).status, FV_TASK_CANCELLED);
    fv_task_holder_list h;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_task_repo_holders(ct.d.tasks, &ct.a, &h, &err), FV_OK);
    FV_ASSERT_INT_EQ(h.n, 0);
    fv_task_list exp;
    FV_ASSERT_INT_EQ(
        fv_task_repo_expired_attempts(ct.d.tasks, &ct.a, CT_T0 + 100000 * SEC, 100, &exp, &err),
        FV_OK);
    FV_ASSERT_INT_EQ(exp.n, 0);
}

/* ------------------------------------------------------------------------
 * heartbeat, progress, events, logs
 */

static void test_task_repo__heartbeat_only_while_running(void)
{
    fv_uuid id = tk_add(&ct.t1, "k", "q", CT_T0);
    fv_error err;
    FV_ASSERT_INT_EQ(fv_task_repo_heartbeat(ct.d.tasks, &ct.t1, &id, CT_T0 + SEC, &err),
                     FV_E_PRECONDITION);
    tk_claim_ok(&ct.t1, "q", "w", NULL, CT_T0 + 2 * SEC);
    FV_ASSERT_INT_EQ(fv_task_repo_heartbeat(ct.d.tasks, &ct.t1, &id, CT_T0 + 9 * SEC, &err), FV_OK);
    fv_task t = tk_get_ok(&ct.t1, &id);
    FV_ASSERT_INT_EQ(t.last_heartbeat_at, CT_T0 + 9 * SEC);
    FV_ASSERT_INT_EQ(t.started_at, CT_T0 + 2 * SEC);
    FV_ASSERT_INT_EQ(t.last_event_id, 2); /* no event */
    FV_ASSERT_INT_EQ(
        tk_cancel(&ct.t1, &id, FV_TASK_BIT(FV_TASK_RUNNING), NULL, CT_T0 + 10 * SEC, NULL), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_repo_heartbeat(ct.d.tasks, &ct.t1, &id, CT_T0 + 11 * SEC, &err),
                     FV_E_PRECONDITION);
    FV_ASSERT_INT_EQ(err.code, FV_E_PRECONDITION);
    FV_ASSERT_INT_EQ(tk_get_ok(&ct.t1, &id).last_heartbeat_at, CT_T0 + 9 * SEC);
}

static void test_task_repo__report_progress(void)
{
    fv_uuid id = tk_add(&ct.t1, "k", "q", CT_T0);
    fv_error err;
    int64_t ev = -1;
    const char *d1 = "{\"progress\":0.25}";
    FV_ASSERT_INT_EQ(fv_task_repo_report_progress(ct.d.tasks, &ct.t1, &id, 0.25, NULL, ct_json(d1),
                                                  CT_T0 + SEC, &ev, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(ev, 2); /* PENDING counts as live */
    tk_claim_ok(&ct.t1, "q", "w", NULL, CT_T0 + 2 * SEC);
    const char *d2 = "{\"progress\":0.5,\"details\":\"half way\"}";
    FV_ASSERT_INT_EQ(fv_task_repo_report_progress(ct.d.tasks, &ct.t1, &id, 0.5, "half way",
                                                  ct_json(d2), CT_T0 + 3 * SEC, &ev, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(ev, 4);
    fv_task t = tk_get_ok(&ct.t1, &id);
    CU_ASSERT(t.has_progress);
    CU_ASSERT(t.progress == 0.5);
    FV_ASSERT_STR_EQ(t.progress_details, "half way");
    FV_ASSERT_INT_EQ(t.last_event_id, 4);
    fv_task_event_list l = tk_events(&ct.t1, &id, 0, 10);
    CU_ASSERT_FATAL(l.n == 4);
    FV_ASSERT_INT_EQ(l.items[1].type, FV_TEV_PROGRESS);
    CU_ASSERT(ct_json_eq(l.items[1].data, d1));
    FV_ASSERT_INT_EQ(l.items[3].type, FV_TEV_PROGRESS);
    FV_ASSERT_INT_EQ(l.items[3].at, CT_T0 + 3 * SEC);
    CU_ASSERT(ct_json_eq(l.items[3].data, d2));

    /* Details back to none. */
    FV_ASSERT_INT_EQ(fv_task_repo_report_progress(ct.d.tasks, &ct.t1, &id, 0.75, NULL,
                                                  ct_json("{\"progress\":0.75}"), CT_T0 + 4 * SEC,
                                                  &ev, &err),
                     FV_OK);
    t = tk_get_ok(&ct.t1, &id);
    CU_ASSERT(t.progress == 0.75);
    CU_ASSERT(t.progress_details == NULL);

    /* Late progress: accepted, ignored. */
    tk_end_ok(&ct.t1, &id, FV_ATTEMPT_COMPLETED, "1", NULL, CT_T0 + 5 * SEC);
    ev = -1;
    FV_ASSERT_INT_EQ(fv_task_repo_report_progress(ct.d.tasks, &ct.t1, &id, 1.0, "late",
                                                  ct_json("{\"progress\":1}"), CT_T0 + 6 * SEC, &ev,
                                                  &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(ev, 0);
    t = tk_get_ok(&ct.t1, &id);
    CU_ASSERT(t.progress == 0.75);
    CU_ASSERT(t.progress_details == NULL);
    FV_ASSERT_INT_EQ(t.last_event_id, 6);
}

static void test_task_repo__append_event_logs_always_stream_while_live(void)
{
    fv_uuid id = tk_add(&ct.t1, "k", "q", CT_T0);
    FV_ASSERT_INT_EQ(
        tk_append(&ct.t1, &id, FV_TEV_TOKEN, 0, NULL, "{\"type\":\"token\"}", CT_T0 + SEC), 2);
    tk_claim_ok(&ct.t1, "q", "w", NULL, CT_T0 + 2 * SEC); /* 3 */
    FV_ASSERT_INT_EQ(tk_append(&ct.t1, &id, FV_TEV_DATA, 0, NULL, "{\"type\":\"data\",\"data\":[]}",
                               CT_T0 + 3 * SEC),
                     4);
    FV_ASSERT_INT_EQ(tk_log(&ct.t1, &id, FV_LOG_WARN, "careful", CT_T0 + 4 * SEC), 5);
    FV_ASSERT_INT_EQ(tk_append(&ct.t1, &id, FV_TEV_ERROR, 0, NULL,
                               "{\"type\":\"error\",\"message\":\"e\"}", CT_T0 + 5 * SEC),
                     6);
    FV_ASSERT_INT_EQ(tk_append(&ct.t1, &id, FV_TEV_PROGRESS, 0, NULL,
                               "{\"type\":\"progress\",\"progress\":0.1}", CT_T0 + 6 * SEC),
                     7);
    /* A stream PROGRESS changes no state. */
    CU_ASSERT(!tk_get_ok(&ct.t1, &id).has_progress);
    tk_end_ok(&ct.t1, &id, FV_ATTEMPT_COMPLETED, "1", NULL, CT_T0 + 7 * SEC); /* 8 */
    /* Finished: stream data dropped, logs kept. */
    FV_ASSERT_INT_EQ(
        tk_append(&ct.t1, &id, FV_TEV_TOKEN, 0, NULL, "{\"type\":\"token\"}", CT_T0 + 8 * SEC), 0);
    FV_ASSERT_INT_EQ(tk_append(&ct.t1, &id, FV_TEV_DATA, 0, NULL, "{}", CT_T0 + 8 * SEC), 0);
    FV_ASSERT_INT_EQ(tk_append(&ct.t1, &id, FV_TEV_ERROR, 0, NULL, "{}", CT_T0 + 8 * SEC), 0);
    FV_ASSERT_INT_EQ(tk_append(&ct.t1, &id, FV_TEV_PROGRESS, 0, NULL, "{}", CT_T0 + 8 * SEC), 0);
    FV_ASSERT_INT_EQ(tk_log(&ct.t1, &id, FV_LOG_INFO, "after the end", CT_T0 + 9 * SEC), 9);
    fv_task_event_list l = tk_events(&ct.t1, &id, 0, 100);
    CU_ASSERT_FATAL(l.n == 9);
    const fv_task_event_type want[9] = {
        FV_TEV_TASK_CREATED, FV_TEV_TOKEN,    FV_TEV_TASK_STARTED,   FV_TEV_DATA, FV_TEV_LOG,
        FV_TEV_ERROR,        FV_TEV_PROGRESS, FV_TEV_TASK_COMPLETED, FV_TEV_LOG};
    for (size_t i = 0; i < 9; i++) {
        FV_ASSERT_INT_EQ(l.items[i].id, (int64_t)i + 1);
        FV_ASSERT_INT_EQ(l.items[i].type, want[i]);
    }
    FV_ASSERT_INT_EQ(l.items[4].level, FV_LOG_WARN);
    FV_ASSERT_STR_EQ(l.items[4].message, "careful");
    CU_ASSERT(ct_json_eq(l.items[4].data, "{\"level\":\"WARN\",\"message\":\"careful\"}"));
    FV_ASSERT_INT_EQ(l.items[3].level, 0);
    CU_ASSERT(l.items[3].message == NULL);
    CU_ASSERT(ct_json_eq(l.items[3].data, "{\"type\":\"data\",\"data\":[]}"));
    FV_ASSERT_INT_EQ(l.items[8].at, CT_T0 + 9 * SEC);
    fv_task t = tk_get_ok(&ct.t1, &id);
    FV_ASSERT_INT_EQ(t.status, FV_TASK_COMPLETED);
    FV_ASSERT_INT_EQ(t.last_event_id, 9);
}

static void test_task_repo__events_after_id_with_limit(void)
{
    fv_uuid id = tk_add(&ct.t1, "k", "q", CT_T0);
    for (int i = 0; i < 9; i++)
        tk_log(&ct.t1, &id, FV_LOG_INFO, "line", CT_T0 + i);
    fv_task_event_list l = tk_events(&ct.t1, &id, 0, 3);
    CU_ASSERT_FATAL(l.n == 3);
    FV_ASSERT_INT_EQ(l.items[0].id, 1);
    FV_ASSERT_INT_EQ(l.items[2].id, 3);
    l = tk_events(&ct.t1, &id, 3, 4);
    CU_ASSERT_FATAL(l.n == 4);
    FV_ASSERT_INT_EQ(l.items[0].id, 4);
    FV_ASSERT_INT_EQ(l.items[3].id, 7);
    l = tk_events(&ct.t1, &id, 7, 100);
    CU_ASSERT_FATAL(l.n == 3);
    FV_ASSERT_INT_EQ(l.items[2].id, 10);
    FV_ASSERT_INT_EQ(tk_events(&ct.t1, &id, 10, 100).n, 0);
    FV_ASSERT_INT_EQ(tk_events(&ct.t1, &id, 1000, 100).n, 0);
    FV_ASSERT_INT_EQ(tk_events(&ct.t1, &id, 0, 0).n, 0);
    /* Events of one task only. */
    fv_uuid other = tk_add(&ct.t1, "k", "q", CT_T0);
    FV_ASSERT_INT_EQ(tk_events(&ct.t1, &other, 0, 100).n, 1);
}

static void test_task_repo__logs_filter_and_pages(void)
{
    fv_uuid id = tk_add(&ct.t1, "k", "q", CT_T0);
    static const fv_log_level lv[7] = {FV_LOG_INFO, FV_LOG_DEBUG, FV_LOG_INFO, FV_LOG_ERROR,
                                       FV_LOG_INFO, FV_LOG_WARN,  FV_LOG_INFO};
    int64_t ids[7];
    for (int i = 0; i < 7; i++) {
        char *m = fv_arena_printf(&ct.a, "message %d", i);
        CU_ASSERT_FATAL(m != NULL);
        ids[i] = tk_log(&ct.t1, &id, lv[i], m, CT_T0 + i * SEC);
        if (i == 2)
            tk_append(&ct.t1, &id, FV_TEV_TOKEN, 0, NULL, "{}", CT_T0 + i * SEC);
    }
    fv_task_log_list l;
    fv_error err;
    fv_page page = {100, 0};
    FV_ASSERT_INT_EQ(
        fv_task_repo_logs(ct.d.tasks, &ct.a, &ct.t1, &id, false, FV_LOG_INFO, page, &l, &err),
        FV_OK);
    FV_ASSERT_INT_EQ(l.total, 7);
    CU_ASSERT_FATAL(l.n == 7);
    for (int i = 0; i < 7; i++) {
        FV_ASSERT_INT_EQ(l.items[i].id, ids[i]);
        FV_ASSERT_INT_EQ(l.items[i].level, lv[i]);
        FV_ASSERT_INT_EQ(l.items[i].at, CT_T0 + i * SEC);
    }
    FV_ASSERT_STR_EQ(l.items[3].message, "message 3");
    CU_ASSERT(ct_json_eq(l.items[3].metadata, NULL));
    FV_ASSERT_INT_EQ(ids[3], 6); /* the token event took id 5 */

    page = (fv_page){2, 1};
    FV_ASSERT_INT_EQ(
        fv_task_repo_logs(ct.d.tasks, &ct.a, &ct.t1, &id, true, FV_LOG_INFO, page, &l, &err),
        FV_OK);
    FV_ASSERT_INT_EQ(l.total, 4);
    CU_ASSERT_FATAL(l.n == 2);
    FV_ASSERT_STR_EQ(l.items[0].message, "message 2");
    FV_ASSERT_STR_EQ(l.items[1].message, "message 4");
    page = (fv_page){2, 3};
    FV_ASSERT_INT_EQ(
        fv_task_repo_logs(ct.d.tasks, &ct.a, &ct.t1, &id, true, FV_LOG_INFO, page, &l, &err),
        FV_OK);
    FV_ASSERT_INT_EQ(l.total, 4);
    CU_ASSERT_FATAL(l.n == 1);
    FV_ASSERT_STR_EQ(l.items[0].message, "message 6");
    page = (fv_page){10, 0};
    FV_ASSERT_INT_EQ(
        fv_task_repo_logs(ct.d.tasks, &ct.a, &ct.t1, &id, true, FV_LOG_ERROR, page, &l, &err),
        FV_OK);
    FV_ASSERT_INT_EQ(l.total, 1);
    CU_ASSERT_FATAL(l.n == 1);
    FV_ASSERT_INT_EQ(l.items[0].level, FV_LOG_ERROR);
    page = (fv_page){10, 20};
    FV_ASSERT_INT_EQ(
        fv_task_repo_logs(ct.d.tasks, &ct.a, &ct.t1, &id, false, FV_LOG_INFO, page, &l, &err),
        FV_OK);
    FV_ASSERT_INT_EQ(l.total, 7);
    FV_ASSERT_INT_EQ(l.n, 0);
    /* A task without logs. */
    fv_uuid quiet = tk_add(&ct.t1, "k", "q", CT_T0);
    page = (fv_page){10, 0};
    FV_ASSERT_INT_EQ(
        fv_task_repo_logs(ct.d.tasks, &ct.a, &ct.t1, &quiet, false, FV_LOG_INFO, page, &l, &err),
        FV_OK);
    FV_ASSERT_INT_EQ(l.total, 0);
    FV_ASSERT_INT_EQ(l.n, 0);
}

/* ------------------------------------------------------------------------
 * Task state
 */

static void test_task_repo__state_ops(void)
{
    fv_uuid id = tk_add(&ct.t1, "k", "q", CT_T0);
    fv_uuid other = tk_add(&ct.t1, "k", "q", CT_T0);
    bool found = true;
    fv_json v = tk_state_get(&ct.t1, &id, "missing", &found);
    CU_ASSERT(!found);
    CU_ASSERT(v.p == NULL);
    FV_ASSERT_INT_EQ(tk_state_keys(&ct.t1, &id).n, 0);

    FV_ASSERT_INT_EQ(tk_state_set(&ct.t1, &id, "cursor", "{\"page\":1}"), FV_OK);
    v = tk_state_get(&ct.t1, &id, "cursor", &found);
    CU_ASSERT(found);
    CU_ASSERT(ct_json_eq(v, "{\"page\":1}"));
    FV_ASSERT_INT_EQ(tk_state_set(&ct.t1, &id, "cursor", "[2,\"x\"]"), FV_OK);
    v = tk_state_get(&ct.t1, &id, "cursor", &found);
    CU_ASSERT(found);
    CU_ASSERT(ct_json_eq(v, "[2,\"x\"]"));
    /* Per task. */
    tk_state_get(&ct.t1, &other, "cursor", &found);
    CU_ASSERT(!found);

    /* Keys in byte order. */
    static const char *const keys[] = {"b", "a", "\xc3\xa4", "B", "a-1", "A"};
    for (size_t i = 0; i < 6; i++)
        FV_ASSERT_INT_EQ(tk_state_set(&ct.t1, &id, keys[i], "true"), FV_OK);
    fv_state_key_list kl = tk_state_keys(&ct.t1, &id);
    static const char *const sorted[] = {"A", "B", "a", "a-1", "b", "cursor", "\xc3\xa4"};
    CU_ASSERT_FATAL(kl.n == 7);
    for (size_t i = 0; i < 7; i++)
        FV_ASSERT_STR_EQ(kl.items[i], sorted[i]);

    /* clear: one key; a missing one is a no-op. */
    FV_ASSERT_INT_EQ(fv_task_repo_state_clear(ct.d.tasks, &ct.t1, &id, "a", NULL), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_repo_state_clear(ct.d.tasks, &ct.t1, &id, "never", NULL), FV_OK);
    tk_state_get(&ct.t1, &id, "a", &found);
    CU_ASSERT(!found);
    FV_ASSERT_INT_EQ(tk_state_keys(&ct.t1, &id).n, 6);

    /* The state survives the task's end and changes no event. */
    tk_claim_ok(&ct.t1, "q", "w", NULL, CT_T0 + SEC);
    tk_end_ok(&ct.t1, &id, FV_ATTEMPT_COMPLETED, "1", NULL, CT_T0 + 2 * SEC);
    v = tk_state_get(&ct.t1, &id, "cursor", &found);
    CU_ASSERT(found && ct_json_eq(v, "[2,\"x\"]"));
    FV_ASSERT_INT_EQ(tk_get_ok(&ct.t1, &id).last_event_id, 3);

    /* clear_all */
    FV_ASSERT_INT_EQ(tk_state_set(&ct.t1, &other, "keep", "1"), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_repo_state_clear_all(ct.d.tasks, &ct.t1, &id, NULL), FV_OK);
    FV_ASSERT_INT_EQ(tk_state_keys(&ct.t1, &id).n, 0);
    FV_ASSERT_INT_EQ(tk_state_keys(&ct.t1, &other).n, 1);
    FV_ASSERT_INT_EQ(fv_task_repo_state_clear_all(ct.d.tasks, &ct.t1, &id, NULL), FV_OK);
}

/* At most FV_TASK_STATE_MAX_KEYS keys: one more is FV_E_EXHAUSTED; a full
 * task may still replace a value, and take a key again once one is gone. */
static void test_task_repo__state_key_limit(void)
{
    fv_uuid id = tk_add(&ct.t1, "k", "q", CT_T0);
    for (int i = 0; i < FV_TASK_STATE_MAX_KEYS; i++) {
        char *k = fv_arena_printf(&ct.a, "key-%03d", i);
        CU_ASSERT_FATAL(k != NULL);
        FV_ASSERT_INT_EQ(tk_state_set(&ct.t1, &id, k, "0"), FV_OK);
    }
    FV_ASSERT_INT_EQ(tk_state_set(&ct.t1, &id, "one-too-many", "0"), FV_E_EXHAUSTED);
    bool found = true;
    tk_state_get(&ct.t1, &id, "one-too-many", &found);
    CU_ASSERT(!found);
    FV_ASSERT_INT_EQ(tk_state_keys(&ct.t1, &id).n, FV_TASK_STATE_MAX_KEYS);
    FV_ASSERT_INT_EQ(tk_state_set(&ct.t1, &id, "key-050", "{\"replaced\":true}"), FV_OK);
    fv_json v = tk_state_get(&ct.t1, &id, "key-050", &found);
    CU_ASSERT(found && ct_json_eq(v, "{\"replaced\":true}"));
    FV_ASSERT_INT_EQ(fv_task_repo_state_clear(ct.d.tasks, &ct.t1, &id, "key-000", NULL), FV_OK);
    FV_ASSERT_INT_EQ(tk_state_set(&ct.t1, &id, "one-too-many", "0"), FV_OK);
    FV_ASSERT_INT_EQ(tk_state_keys(&ct.t1, &id).n, FV_TASK_STATE_MAX_KEYS);
}

/* ------------------------------------------------------------------------
 * backlog and jobs
 */

static void test_task_repo__backlog_per_tenant_and_kind(void)
{
    FV_ASSERT_INT_EQ(tk_backlog(NULL).n, 0);
    tk_add(&ct.t1, "mail", "q", CT_T0 + 5 * SEC);
    fv_task_new sched = tk_new(&ct.t1, "mail", "q", CT_T0 + 3 * SEC);
    sched.task.scheduled_at = CT_T0 + 1000 * SEC; /* scheduled tasks count */
    tk_submit_ok(&sched);
    fv_uuid pdf1 = tk_add(&ct.t1, "pdf", "other", CT_T0 + 1 * SEC);
    tk_add(&ct.t1, "pdf", "other", CT_T0 + 2 * SEC);
    fv_uuid gone = tk_add(&ct.t1, "zip", "other", CT_T0);
    tk_add(&ct.t2, "mail", "q", CT_T0 + 7 * SEC);
    /* pdf1 RUNNING and zip CANCELLED: not pending. */
    fv_task c = tk_claim_ok(&ct.t1, "other", "w", NULL, CT_T0 + 10 * SEC);
    CU_ASSERT_FATAL(fv_uuid_eq(&c.id, &gone));
    FV_ASSERT_INT_EQ(
        tk_cancel(&ct.t1, &gone, FV_TASK_BIT(FV_TASK_RUNNING), NULL, CT_T0 + 10 * SEC, NULL),
        FV_OK);
    c = tk_claim_ok(&ct.t1, "other", "w", NULL, CT_T0 + 10 * SEC);
    CU_ASSERT_FATAL(fv_uuid_eq(&c.id, &pdf1));

    fv_task_backlog_list b = tk_backlog(&ct.t1);
    CU_ASSERT_FATAL(b.n == 2);
    FV_ASSERT_STR_EQ(b.items[0].kind, "mail");
    CU_ASSERT(fv_uuid_eq(&b.items[0].tenant_id, &ct.t1));
    FV_ASSERT_INT_EQ(b.items[0].pending, 2);
    FV_ASSERT_INT_EQ(b.items[0].oldest_created_at, CT_T0 + 3 * SEC);
    FV_ASSERT_STR_EQ(b.items[1].kind, "pdf");
    FV_ASSERT_INT_EQ(b.items[1].pending, 1);
    FV_ASSERT_INT_EQ(b.items[1].oldest_created_at, CT_T0 + 2 * SEC);

    b = tk_backlog(NULL);
    CU_ASSERT_FATAL(b.n == 3);
    /* By tenant id (t1 < t2), then kind. */
    CU_ASSERT(fv_uuid_eq(&b.items[2].tenant_id, &ct.t2));
    FV_ASSERT_STR_EQ(b.items[2].kind, "mail");
    FV_ASSERT_INT_EQ(b.items[2].pending, 1);
    FV_ASSERT_INT_EQ(b.items[2].oldest_created_at, CT_T0 + 7 * SEC);

    /* A retry is pending again; a completion leaves. */
    tk_end_ok(&ct.t1, &pdf1, FV_ATTEMPT_FAILED, NULL, "x", CT_T0 + 11 * SEC);
    b = tk_backlog(&ct.t1);
    CU_ASSERT_FATAL(b.n == 2);
    FV_ASSERT_INT_EQ(b.items[1].pending, 2);
    FV_ASSERT_INT_EQ(b.items[1].oldest_created_at, CT_T0 + 1 * SEC);
    fv_uuid nobody = ct_uuid(CT_K_TENANT, 99);
    FV_ASSERT_INT_EQ(tk_backlog(&nobody).n, 0);
}

static void test_task_repo__expired_attempts(void)
{
    /* Timeouts 10 s, 5 s, 30 s; started at +1, +2, +3 s: deadlines +11,
     * +7, +33. */
    const int64_t timeouts[3] = {10 * SEC, 5 * SEC, 30 * SEC};
    fv_uuid ids[3];
    for (int i = 0; i < 3; i++) {
        fv_task_new n = tk_new(i == 1 ? &ct.t2 : &ct.t1, "k", "q", CT_T0);
        n.task.timeout_ms = timeouts[i];
        ids[i] = tk_submit_ok(&n).id;
        tk_claim_ok(i == 1 ? &ct.t2 : &ct.t1, "q", "w", NULL, CT_T0 + (i + 1) * SEC);
    }
    fv_uuid pending = tk_add(&ct.t1, "k", "q2", CT_T0);
    (void)pending;
    fv_task_list l;
    fv_error err;
    FV_ASSERT_INT_EQ(
        fv_task_repo_expired_attempts(ct.d.tasks, &ct.a, CT_T0 + 7 * SEC - 1, 100, &l, &err),
        FV_OK);
    FV_ASSERT_INT_EQ(l.n, 0);
    FV_ASSERT_INT_EQ(
        fv_task_repo_expired_attempts(ct.d.tasks, &ct.a, CT_T0 + 7 * SEC, 100, &l, &err), FV_OK);
    CU_ASSERT_FATAL(l.n == 1);
    CU_ASSERT(fv_uuid_eq(&l.items[0].id, &ids[1]));
    CU_ASSERT(fv_uuid_eq(&l.items[0].tenant_id, &ct.t2));
    FV_ASSERT_INT_EQ(l.items[0].status, FV_TASK_RUNNING);
    /* Oldest started first. */
    FV_ASSERT_INT_EQ(
        fv_task_repo_expired_attempts(ct.d.tasks, &ct.a, CT_T0 + 40 * SEC, 100, &l, &err), FV_OK);
    CU_ASSERT_FATAL(l.n == 3);
    for (int i = 0; i < 3; i++)
        CU_ASSERT(fv_uuid_eq(&l.items[i].id, &ids[i]));
    FV_ASSERT_INT_EQ(
        fv_task_repo_expired_attempts(ct.d.tasks, &ct.a, CT_T0 + 40 * SEC, 2, &l, &err), FV_OK);
    CU_ASSERT_FATAL(l.n == 2);
    CU_ASSERT(fv_uuid_eq(&l.items[0].id, &ids[0]));
    CU_ASSERT(fv_uuid_eq(&l.items[1].id, &ids[1]));
    /* A heartbeat does not extend the attempt; an ended attempt leaves. */
    FV_ASSERT_INT_EQ(fv_task_repo_heartbeat(ct.d.tasks, &ct.t1, &ids[0], CT_T0 + 10 * SEC, &err),
                     FV_OK);
    tk_end_ok(&ct.t2, &ids[1], FV_ATTEMPT_TIMEOUT, NULL, "timed out", CT_T0 + 12 * SEC);
    FV_ASSERT_INT_EQ(
        fv_task_repo_expired_attempts(ct.d.tasks, &ct.a, CT_T0 + 12 * SEC, 100, &l, &err), FV_OK);
    CU_ASSERT_FATAL(l.n == 1);
    CU_ASSERT(fv_uuid_eq(&l.items[0].id, &ids[0]));
    /* The retried task's next attempt has its own deadline. */
    fv_task c = tk_claim_ok(&ct.t2, "q", "w", NULL, CT_T0 + 20 * SEC);
    CU_ASSERT(fv_uuid_eq(&c.id, &ids[1]));
    FV_ASSERT_INT_EQ(
        fv_task_repo_expired_attempts(ct.d.tasks, &ct.a, CT_T0 + 24 * SEC, 100, &l, &err), FV_OK);
    FV_ASSERT_INT_EQ(l.n, 1);
    FV_ASSERT_INT_EQ(
        fv_task_repo_expired_attempts(ct.d.tasks, &ct.a, CT_T0 + 25 * SEC, 100, &l, &err), FV_OK);
    CU_ASSERT_FATAL(l.n == 2);
    CU_ASSERT(fv_uuid_eq(&l.items[1].id, &ids[1]));
    FV_ASSERT_INT_EQ(l.items[1].execution_count, 2);
}

static bool holders_has(const fv_task_holder_list *h, const fv_uuid *tenant, const fv_uuid *w)
{
    for (size_t i = 0; i < h->n; i++)
        if (fv_uuid_eq(&h->items[i].tenant_id, tenant) && fv_uuid_eq(&h->items[i].worker_uuid, w))
            return true;
    return false;
}

static void test_task_repo__holders_and_held_by(void)
{
    fv_uuid w1 = tk_worker(&ct.t1, "one");
    fv_uuid w2 = tk_worker(&ct.t1, "two");
    fv_uuid w3 = tk_worker(&ct.t2, "three");
    fv_task_holder_list h;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_task_repo_holders(ct.d.tasks, &ct.a, &h, &err), FV_OK);
    FV_ASSERT_INT_EQ(h.n, 0);
    fv_uuid a = tk_add(&ct.t1, "k", "q", CT_T0);
    fv_uuid b = tk_add(&ct.t1, "k", "q", CT_T0 + 1);
    fv_uuid c = tk_add(&ct.t1, "k", "q", CT_T0 + 2);
    tk_add(&ct.t1, "k", "q", CT_T0 + 3);
    fv_uuid e = tk_add(&ct.t2, "k", "q", CT_T0);
    tk_claim_ok(&ct.t1, "q", "one", &w1, CT_T0 + SEC);
    tk_claim_ok(&ct.t1, "q", "one", &w1, CT_T0 + SEC);
    tk_claim_ok(&ct.t1, "q", "two", &w2, CT_T0 + SEC);
    tk_claim_ok(&ct.t1, "q", "unregistered", NULL, CT_T0 + SEC);
    tk_claim_ok(&ct.t2, "q", "three", &w3, CT_T0 + SEC);

    FV_ASSERT_INT_EQ(fv_task_repo_holders(ct.d.tasks, &ct.a, &h, &err), FV_OK);
    FV_ASSERT_INT_EQ(h.n, 3);
    CU_ASSERT(holders_has(&h, &ct.t1, &w1));
    CU_ASSERT(holders_has(&h, &ct.t1, &w2));
    CU_ASSERT(holders_has(&h, &ct.t2, &w3));

    fv_task_list l;
    FV_ASSERT_INT_EQ(fv_task_repo_held_by(ct.d.tasks, &ct.a, &ct.t1, &w1, 100, &l, &err), FV_OK);
    CU_ASSERT_FATAL(l.n == 2);
    CU_ASSERT(list_has(&l, &a) && list_has(&l, &b));
    FV_ASSERT_INT_EQ(l.items[0].status, FV_TASK_RUNNING);
    CU_ASSERT(l.items[0].worker_uuid.has && fv_uuid_eq(&l.items[0].worker_uuid.id, &w1));
    FV_ASSERT_INT_EQ(fv_task_repo_held_by(ct.d.tasks, &ct.a, &ct.t1, &w1, 1, &l, &err), FV_OK);
    FV_ASSERT_INT_EQ(l.n, 1);
    FV_ASSERT_INT_EQ(fv_task_repo_held_by(ct.d.tasks, &ct.a, &ct.t2, &w1, 100, &l, &err), FV_OK);
    FV_ASSERT_INT_EQ(l.n, 0);
    FV_ASSERT_INT_EQ(fv_task_repo_held_by(ct.d.tasks, &ct.a, &ct.t2, &w3, 100, &l, &err), FV_OK);
    CU_ASSERT_FATAL(l.n == 1);
    CU_ASSERT(fv_uuid_eq(&l.items[0].id, &e));

    /* Ending, retrying and cancelling release the tasks. */
    tk_end_ok(&ct.t1, &c, FV_ATTEMPT_COMPLETED, "1", NULL, CT_T0 + 2 * SEC);
    tk_end_ok(&ct.t1, &a, FV_ATTEMPT_FAILED, NULL, "x", CT_T0 + 2 * SEC);
    FV_ASSERT_INT_EQ(
        tk_cancel(&ct.t2, &e, FV_TASK_BIT(FV_TASK_RUNNING), NULL, CT_T0 + 2 * SEC, NULL), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_repo_holders(ct.d.tasks, &ct.a, &h, &err), FV_OK);
    CU_ASSERT_FATAL(h.n == 1);
    CU_ASSERT(holders_has(&h, &ct.t1, &w1));
    FV_ASSERT_INT_EQ(fv_task_repo_held_by(ct.d.tasks, &ct.a, &ct.t1, &w1, 100, &l, &err), FV_OK);
    CU_ASSERT_FATAL(l.n == 1);
    CU_ASSERT(fv_uuid_eq(&l.items[0].id, &b));
    /* Claimed again by another worker: held by that one. */
    fv_task again = tk_claim_ok(&ct.t1, "q", "two", &w2, CT_T0 + 3 * SEC);
    CU_ASSERT(fv_uuid_eq(&again.id, &a));
    FV_ASSERT_INT_EQ(fv_task_repo_held_by(ct.d.tasks, &ct.a, &ct.t1, &w2, 100, &l, &err), FV_OK);
    CU_ASSERT_FATAL(l.n == 1);
    CU_ASSERT(fv_uuid_eq(&l.items[0].id, &a));
}

static void test_task_repo__expire_idempotency_keys(void)
{
    fv_task_new n = tk_new(&ct.t1, "k", "q", CT_T0);
    tk_key(&n, "short", CT_T0 + 10 * SEC);
    fv_uuid s = tk_submit_ok(&n).id;
    n = tk_new(&ct.t2, "k", "q", CT_T0);
    tk_key(&n, "long", CT_T0 + 20 * SEC);
    fv_uuid l = tk_submit_ok(&n).id;
    tk_add(&ct.t1, "k", "q", CT_T0); /* no key */
    int64_t removed = -1;
    fv_error err;
    FV_ASSERT_INT_EQ(
        fv_task_repo_expire_idempotency_keys(ct.d.tasks, CT_T0 + 10 * SEC - 1, &removed, &err),
        FV_OK);
    FV_ASSERT_INT_EQ(removed, 0);
    FV_ASSERT_INT_EQ(
        fv_task_repo_expire_idempotency_keys(ct.d.tasks, CT_T0 + 10 * SEC, &removed, &err), FV_OK);
    FV_ASSERT_INT_EQ(removed, 1);
    FV_ASSERT_INT_EQ(
        fv_task_repo_expire_idempotency_keys(ct.d.tasks, CT_T0 + 10 * SEC, &removed, &err), FV_OK);
    FV_ASSERT_INT_EQ(removed, 0);
    /* The live one still returns its task; the dropped one binds anew. */
    n = tk_new(&ct.t2, "k", "q", CT_T0 + 15 * SEC);
    tk_key(&n, "long", CT_T0 + 100 * SEC);
    fv_task out;
    bool created = true;
    FV_ASSERT_INT_EQ(tk_submit(&n, &out, &created), FV_OK);
    CU_ASSERT(!created);
    CU_ASSERT(fv_uuid_eq(&out.id, &l));
    n = tk_new(&ct.t1, "k", "q", CT_T0 + 15 * SEC);
    tk_key(&n, "short", CT_T0 + 30 * SEC);
    fv_uuid s2 = tk_submit_ok(&n).id;
    CU_ASSERT(!fv_uuid_eq(&s, &s2));
    /* The task keeps its record. */
    FV_ASSERT_STR_EQ(tk_get_ok(&ct.t1, &s).idempotency_key, "short");
    FV_ASSERT_INT_EQ(
        fv_task_repo_expire_idempotency_keys(ct.d.tasks, CT_T0 + 1000 * SEC, &removed, &err),
        FV_OK);
    FV_ASSERT_INT_EQ(removed, 2);
}

const fv_test_case ct_task_cases[] = {
    FV_TEST_CASE(test_task_repo__submit_stores_record_and_created_event),
    FV_TEST_CASE(test_task_repo__submit_idempotency_returns_bound_task),
    FV_TEST_CASE(test_task_repo__submit_idempotency_rebinds),
    FV_TEST_CASE(test_task_repo__submit_concurrent_same_key),
    FV_TEST_CASE(test_task_repo__other_tenant_is_not_found),
    FV_TEST_CASE(test_task_repo__list_filters_order_and_pages),
    FV_TEST_CASE(test_task_repo__claim_oldest_first),
    FV_TEST_CASE(test_task_repo__claim_sets_fields_and_started_event),
    FV_TEST_CASE(test_task_repo__claim_waits_for_scheduled_at),
    FV_TEST_CASE(test_task_repo__claim_queue_and_tenant_isolation),
    FV_TEST_CASE(test_task_repo__claim_concurrent_each_task_once),
    FV_TEST_CASE(test_task_repo__complete_records_attempt_and_event),
    FV_TEST_CASE(test_task_repo__fail_retries_with_backoff_then_fails),
    FV_TEST_CASE(test_task_repo__fail_without_backoff_is_claimable_at_once),
    FV_TEST_CASE(test_task_repo__end_attempt_refusals_change_nothing),
    FV_TEST_CASE(test_task_repo__cancel_pending),
    FV_TEST_CASE(test_task_repo__cancel_running_ends_its_attempt),
    FV_TEST_CASE(test_task_repo__heartbeat_only_while_running),
    FV_TEST_CASE(test_task_repo__report_progress),
    FV_TEST_CASE(test_task_repo__append_event_logs_always_stream_while_live),
    FV_TEST_CASE(test_task_repo__events_after_id_with_limit),
    FV_TEST_CASE(test_task_repo__logs_filter_and_pages),
    FV_TEST_CASE(test_task_repo__state_ops),
    FV_TEST_CASE(test_task_repo__state_key_limit),
    FV_TEST_CASE(test_task_repo__backlog_per_tenant_and_kind),
    FV_TEST_CASE(test_task_repo__expired_attempts),
    FV_TEST_CASE(test_task_repo__holders_and_held_by),
    FV_TEST_CASE(test_task_repo__expire_idempotency_keys),
};
const size_t ct_task_cases_n = FV_TEST_COUNT(ct_task_cases);

/* ------------------------------------------------------------------------
 * Event bus
 */

#define BUS_WAIT_MS 5000

/* What one subscriber received. Callbacks may run on another thread. */
typedef struct bus_rec {
    pthread_mutex_t m;
    int queue_n;  /* QUEUE notices for (t1, "bus-q") */
    int task_n;   /* TASK notices for (t1, bus task) */
    int resync_n; /* RESYNC: valid at any time, counted apart */
    int other_n;  /* notices of other tenants, queues or tasks (ignored) */
    int64_t last_event_id;
    bool queue_intact;
    bool task_intact;
} bus_rec;

static fv_uuid bus_task_id(void)
{
    return ct_uuid(CT_K_OTHER, 4242);
}

static void bus_cb(void *user, const fv_bus_msg *m)
{
    bus_rec *r = user;
    fv_uuid tid = bus_task_id();
    pthread_mutex_lock(&r->m);
    switch (m->kind) {
    case FV_BUS_QUEUE:
        if (fv_uuid_eq(&m->tenant_id, &ct.t1) && m->queue != NULL &&
            strcmp(m->queue, "bus-q") == 0) {
            r->queue_n++;
            r->queue_intact = true;
        } else {
            r->other_n++;
        }
        break;
    case FV_BUS_TASK:
        if (fv_uuid_eq(&m->tenant_id, &ct.t1) && fv_uuid_eq(&m->task_id, &tid)) {
            r->task_n++;
            r->last_event_id = m->event_id;
            r->task_intact = true;
        } else {
            r->other_n++;
        }
        break;
    case FV_BUS_RESYNC:
        r->resync_n++;
        break;
    }
    pthread_mutex_unlock(&r->m);
}

static void rec_init(bus_rec *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->m, NULL);
}

static void rec_get(bus_rec *r, int *queue_n, int *task_n, int64_t *event_id)
{
    pthread_mutex_lock(&r->m);
    *queue_n = r->queue_n;
    *task_n = r->task_n;
    if (event_id != NULL)
        *event_id = r->last_event_id;
    pthread_mutex_unlock(&r->m);
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Wait (bounded) until r has at least q QUEUE notices and a TASK notice
 * of event id >= ev (ev 0: none needed). A bus may coalesce notices (the
 * port promises at most once), so waits are on the newest event id, not
 * on a count of TASK notices. */
static bool rec_wait(bus_rec *r, int q, int64_t ev)
{
    double end = mono_ms() + BUS_WAIT_MS;
    for (;;) {
        int qn, tn;
        int64_t last;
        rec_get(r, &qn, &tn, &last);
        if (qn >= q && (ev == 0 || (tn > 0 && last >= ev)))
            return true;
        if (mono_ms() > end)
            return false;
        struct timespec d = {0, 1000000};
        nanosleep(&d, NULL);
    }
}

static fv_err bus_publish_queue(void)
{
    fv_bus_msg m;
    memset(&m, 0, sizeof m);
    m.kind = FV_BUS_QUEUE;
    m.tenant_id = ct.t1;
    m.queue = "bus-q";
    fv_error err;
    return fv_event_bus_publish(ct.d.bus, &m, &err);
}

static fv_err bus_publish_task(int64_t event_id)
{
    fv_bus_msg m;
    memset(&m, 0, sizeof m);
    m.kind = FV_BUS_TASK;
    m.tenant_id = ct.t1;
    m.task_id = bus_task_id();
    m.event_id = event_id;
    fv_error err;
    return fv_event_bus_publish(ct.d.bus, &m, &err);
}

/* Two subscribers both receive QUEUE and TASK notices with their fields. */
static void test_event_bus__subscribers_receive_notices(void)
{
    bus_rec a, b;
    rec_init(&a);
    rec_init(&b);
    fv_bus_sub *sa = NULL, *sb = NULL;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_event_bus_subscribe(ct.d.bus, bus_cb, &a, &sa, &err), FV_OK);
    FV_ASSERT_INT_EQ(fv_event_bus_subscribe(ct.d.bus, bus_cb, &b, &sb, &err), FV_OK);
    CU_ASSERT(sa != NULL && sb != NULL);
    FV_ASSERT_INT_EQ(bus_publish_queue(), FV_OK);
    FV_ASSERT_INT_EQ(bus_publish_task(17), FV_OK);
    CU_ASSERT(rec_wait(&a, 1, 17));
    CU_ASSERT(rec_wait(&b, 1, 17));
    bus_rec *both[2] = {&a, &b};
    for (int i = 0; i < 2; i++) {
        int qn, tn;
        int64_t ev;
        rec_get(both[i], &qn, &tn, &ev);
        FV_ASSERT_INT_EQ(qn, 1);
        FV_ASSERT_INT_EQ(tn, 1);
        FV_ASSERT_INT_EQ(ev, 17);
        CU_ASSERT(both[i]->queue_intact && both[i]->task_intact);
    }
    /* In publication order: the newest event id arrives last. */
    FV_ASSERT_INT_EQ(bus_publish_task(18), FV_OK);
    FV_ASSERT_INT_EQ(bus_publish_task(19), FV_OK);
    CU_ASSERT(rec_wait(&a, 1, 19));
    CU_ASSERT(rec_wait(&b, 1, 19));
    int qn, tn;
    int64_t ev;
    rec_get(&a, &qn, &tn, &ev);
    FV_ASSERT_INT_EQ(ev, 19);
    rec_get(&b, &qn, &tn, &ev);
    FV_ASSERT_INT_EQ(ev, 19);
    fv_event_bus_unsubscribe(ct.d.bus, sa);
    fv_event_bus_unsubscribe(ct.d.bus, sb);
    fv_event_bus_unsubscribe(ct.d.bus, NULL);
    pthread_mutex_destroy(&a.m);
    pthread_mutex_destroy(&b.m);
}

/* After unsubscribe returns, the callback never runs again. */
static void test_event_bus__unsubscribe_stops_delivery(void)
{
    bus_rec a, b;
    rec_init(&a);
    rec_init(&b);
    fv_bus_sub *sa = NULL, *sb = NULL;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_event_bus_subscribe(ct.d.bus, bus_cb, &a, &sa, &err), FV_OK);
    FV_ASSERT_INT_EQ(fv_event_bus_subscribe(ct.d.bus, bus_cb, &b, &sb, &err), FV_OK);
    FV_ASSERT_INT_EQ(bus_publish_queue(), FV_OK);
    CU_ASSERT(rec_wait(&a, 1, 0));
    CU_ASSERT(rec_wait(&b, 1, 0));
    fv_event_bus_unsubscribe(ct.d.bus, sa);
    int aq, at;
    rec_get(&a, &aq, &at, NULL);
    FV_ASSERT_INT_EQ(bus_publish_queue(), FV_OK);
    FV_ASSERT_INT_EQ(bus_publish_task(5), FV_OK);
    /* b got the later notices, so they were delivered; a got none. */
    CU_ASSERT(rec_wait(&b, 1, 5));
    int aq2, at2;
    rec_get(&a, &aq2, &at2, NULL);
    FV_ASSERT_INT_EQ(aq2, aq);
    FV_ASSERT_INT_EQ(at2, 0);
    /* A subscriber may come back. */
    FV_ASSERT_INT_EQ(fv_event_bus_subscribe(ct.d.bus, bus_cb, &a, &sa, &err), FV_OK);
    FV_ASSERT_INT_EQ(bus_publish_task(6), FV_OK);
    CU_ASSERT(rec_wait(&a, aq2, 6));
    CU_ASSERT(rec_wait(&b, 1, 6));
    fv_event_bus_unsubscribe(ct.d.bus, sa);
    fv_event_bus_unsubscribe(ct.d.bus, sb);
    pthread_mutex_destroy(&a.m);
    pthread_mutex_destroy(&b.m);
}

/* Publishers on many threads at once: every publish succeeds and the
 * subscriber keeps receiving (a notice published after them arrives). */
typedef struct pub_thread {
    fv_event_bus bus;
    fv_uuid tenant;
    fv_err rc;
} pub_thread;

static void *pub_main(void *arg)
{
    pub_thread *p = arg;
    for (int i = 0; i < 50 && p->rc == FV_OK; i++) {
        fv_bus_msg m;
        memset(&m, 0, sizeof m);
        m.kind = FV_BUS_QUEUE;
        m.tenant_id = p->tenant;
        m.queue = "bus-q";
        fv_error err;
        p->rc = fv_event_bus_publish(p->bus, &m, &err);
    }
    return NULL;
}

static void test_event_bus__concurrent_publishers(void)
{
    bus_rec a;
    rec_init(&a);
    fv_bus_sub *sa = NULL;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_event_bus_subscribe(ct.d.bus, bus_cb, &a, &sa, &err), FV_OK);
    pub_thread th[4];
    pthread_t tid[4];
    for (int i = 0; i < 4; i++) {
        th[i] = (pub_thread){ct.d.bus, ct.t1, FV_OK};
        CU_ASSERT_FATAL(pthread_create(&tid[i], NULL, pub_main, &th[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(tid[i], NULL);
        FV_ASSERT_INT_EQ(th[i].rc, FV_OK);
    }
    FV_ASSERT_INT_EQ(bus_publish_task(999), FV_OK);
    CU_ASSERT(rec_wait(&a, 1, 999));
    fv_event_bus_unsubscribe(ct.d.bus, sa);
    pthread_mutex_destroy(&a.m);
}

const fv_test_case ct_bus_cases[] = {
    FV_TEST_CASE(test_event_bus__subscribers_receive_notices),
    FV_TEST_CASE(test_event_bus__unsubscribe_stops_delivery),
    FV_TEST_CASE(test_event_bus__concurrent_publishers),
};
const size_t ct_bus_cases_n = FV_TEST_COUNT(ct_bus_cases);

/* ------------------------------------------------------------------------
 * Atomicity: a failed op changes nothing
 */

static const char *sn(const char *s)
{
    return s != NULL ? s : "(null)";
}

static void snap_task(ct_sbuf *b, const fv_task *t)
{
    ct_sb_printf(b, "task %s kind=%s queue=%s status=%d wf=%d count=%d max=%d timeout=%lld",
                 fv_uuid_str(&ct.a, &t->id), t->kind, t->queue, (int)t->status,
                 (int)t->workflow_execution_id.has, (int)t->execution_count, (int)t->max_retries,
                 (long long)t->timeout_ms);
    ct_sb_json(b, "in", t->input);
    ct_sb_json(b, "out", t->output);
    ct_sb_printf(b, " error=%s progress=%d:%g details=%s worker=%s wu=%d sched=%lld created=%lld",
                 sn(t->error), (int)t->has_progress, t->has_progress ? t->progress : 0.0,
                 sn(t->progress_details), sn(t->worker_id), (int)t->worker_uuid.has,
                 (long long)t->scheduled_at, (long long)t->created_at);
    ct_sb_printf(
        b, " started=%lld completed=%lld hb=%lld key=%s last=%lld meta=", (long long)t->started_at,
        (long long)t->completed_at, (long long)t->last_heartbeat_at, sn(t->idempotency_key),
        (long long)t->last_event_id);
    for (size_t i = 0; i < t->n_metadata; i++)
        ct_sb_printf(b, "%s:%s,", t->metadata[i].key, t->metadata[i].value);
    ct_sb_printf(b, "\n");
    fv_task_event_list ev = tk_events(&t->tenant_id, &t->id, 0, 100000);
    for (size_t i = 0; i < ev.n; i++) {
        const fv_task_event *e = &ev.items[i];
        ct_sb_printf(b, "  event %lld type=%d at=%lld level=%d msg=%s", (long long)e->id,
                     (int)e->type, (long long)e->at, (int)e->level, sn(e->message));
        ct_sb_json(b, "data", e->data);
        ct_sb_printf(b, "\n");
    }
    fv_task_attempt_list at = tk_attempts(&t->tenant_id, &t->id);
    for (size_t i = 0; i < at.n; i++) {
        const fv_task_attempt *r = &at.items[i];
        ct_sb_printf(b, "  attempt %d st=%d %lld-%lld %lld err=%s worker=%s", (int)r->attempt,
                     (int)r->status, (long long)r->started_at, (long long)r->finished_at,
                     (long long)r->duration_ms, sn(r->error), sn(r->worker_id));
        ct_sb_json(b, "out", r->output);
        ct_sb_printf(b, "\n");
    }
    fv_state_key_list keys = tk_state_keys(&t->tenant_id, &t->id);
    for (size_t i = 0; i < keys.n; i++) {
        bool found;
        fv_json v = tk_state_get(&t->tenant_id, &t->id, keys.items[i], &found);
        ct_sb_printf(b, "  state %s", keys.items[i]);
        ct_sb_json(b, "=", v);
        ct_sb_printf(b, "\n");
    }
}

/* Everything the task port can observe without changing it. */
static char *tk_snapshot(void *user)
{
    (void)user;
    fv_alloc_fail_reset();
    ct_sbuf b = {NULL, 0, 0};
    ct_sb_printf(&b, "tasks\n");
    const fv_uuid *tenants[2] = {&ct.t1, &ct.t2};
    for (int i = 0; i < 2; i++) {
        fv_task_filter f = tk_filter(tenants[i]);
        for (int64_t off = 0;; off += FV_PAGE_MAX_LIMIT) {
            fv_task_list l = tk_list(&f, FV_PAGE_MAX_LIMIT, off);
            if (off == 0)
                ct_sb_printf(&b, "tenant %d: %lld tasks\n", i, (long long)l.total);
            for (size_t j = 0; j < l.n; j++)
                snap_task(&b, &l.items[j]);
            if (l.n < FV_PAGE_MAX_LIMIT)
                break;
        }
    }
    fv_task_backlog_list bl = tk_backlog(NULL);
    for (size_t i = 0; i < bl.n; i++)
        ct_sb_printf(&b, "backlog %s %s %lld %lld\n", fv_uuid_str(&ct.a, &bl.items[i].tenant_id),
                     bl.items[i].kind, (long long)bl.items[i].pending,
                     (long long)bl.items[i].oldest_created_at);
    fv_task_holder_list h;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_task_repo_holders(ct.d.tasks, &ct.a, &h, &err), FV_OK);
    for (size_t i = 0; i < h.n; i++)
        ct_sb_printf(&b, "holder %s\n", fv_uuid_str(&ct.a, &h.items[i].worker_uuid));
    fv_task_list run;
    FV_ASSERT_INT_EQ(
        fv_task_repo_expired_attempts(ct.d.tasks, &ct.a, INT64_MAX / 2, 100000, &run, &err), FV_OK);
    for (size_t i = 0; i < run.n; i++)
        ct_sb_printf(&b, "running %s\n", fv_uuid_str(&ct.a, &run.items[i].id));
    return b.p;
}

/* Every task op allocates (both adapters): attempt 0 must fail. */
static void tk_fail_loop(const char *what, ct_op_fn op, void *arg)
{
    ct_fail_loop(what, op, arg, tk_snapshot, NULL, true);
}

static void tk_cap_loop(const char *what, ct_op_fn op, void *arg)
{
    ct_cap_loop(what, op, arg, tk_snapshot, NULL);
}

/* Existing state: tasks of both tenants in several states, with keys,
 * events, attempts, state and a holder. */
typedef struct atomic_seed {
    fv_uuid worker;
    fv_uuid pending;   /* t1 "q", key "seed-key" */
    fv_uuid running;   /* t1 "q", held by worker, attempt 1 */
    fv_uuid finished;  /* t1 "q", COMPLETED */
    fv_uuid cancelled; /* t1 "q", key "dead-key" */
    fv_uuid scheduled; /* t2 "q", scheduled later */
} atomic_seed;

static void seed_tasks(atomic_seed *s)
{
    static const fv_kv meta[] = {{"a", "1"}, {"b", "2"}};
    s->worker = tk_worker(&ct.t1, "seed-worker");
    fv_task_new n = tk_new(&ct.t1, "mail", "q", CT_T0);
    n.task.metadata = meta;
    n.task.n_metadata = 2;
    s->finished = tk_submit_ok(&n).id;
    tk_claim_ok(&ct.t1, "q", "seed-worker", &s->worker, CT_T0 + SEC);
    tk_end_ok(&ct.t1, &s->finished, FV_ATTEMPT_COMPLETED, "{\"r\":1}", NULL, CT_T0 + 2 * SEC);
    n = tk_new(&ct.t1, "mail", "q", CT_T0 + 3 * SEC);
    n.task.retry_policy.set = FV_RETRY_HAS_INITIAL_DELAY;
    n.task.retry_policy.initial_delay_ms = 5000;
    s->running = tk_submit_ok(&n).id;
    n = tk_new(&ct.t1, "pdf", "q", CT_T0 + 4 * SEC);
    tk_key(&n, "seed-key", CT_T0 + 1000 * SEC);
    s->pending = tk_submit_ok(&n).id;
    n = tk_new(&ct.t1, "pdf", "q2", CT_T0 + 5 * SEC);
    tk_key(&n, "dead-key", CT_T0 + 1000 * SEC);
    s->cancelled = tk_submit_ok(&n).id;
    FV_ASSERT_INT_EQ(
        tk_cancel(&ct.t1, &s->cancelled, FV_TASK_BIT(FV_TASK_PENDING), "x", CT_T0 + 6 * SEC, NULL),
        FV_OK);
    fv_task c = tk_claim_ok(&ct.t1, "q", "seed-worker", &s->worker, CT_T0 + 7 * SEC);
    CU_ASSERT_FATAL(fv_uuid_eq(&c.id, &s->running));
    tk_log(&ct.t1, &s->running, FV_LOG_INFO, "working", CT_T0 + 8 * SEC);
    FV_ASSERT_INT_EQ(tk_state_set(&ct.t1, &s->running, "cursor", "1"), FV_OK);
    n = tk_new(&ct.t2, "mail", "q", CT_T0 + 9 * SEC);
    n.task.scheduled_at = CT_T0 + 100 * SEC;
    s->scheduled = tk_submit_ok(&n).id;
}

static fv_err op_submit_new(fv_arena *a, void *arg)
{
    static const fv_kv meta[] = {{"k", "v"}};
    (void)arg;
    /* A new queue, kind and key of a tenant: every container is new. */
    fv_task_new n = tk_new(&ct.t2, "brand-new-kind", "brand-new-queue", CT_T0 + 20 * SEC);
    n.task.id = ct_uuid(CT_K_OTHER, 500);
    n.task.metadata = meta;
    n.task.n_metadata = 1;
    tk_key(&n, "fresh-key", CT_T0 + 500 * SEC);
    fv_task out;
    bool created;
    fv_error err;
    fv_err rc = fv_task_repo_submit(ct.d.tasks, a, &n, &out, &created, &err);
    return rc == FV_OK && !created ? FV_E_INTERNAL : rc;
}

static fv_err op_submit_rebind(fv_arena *a, void *arg)
{
    (void)arg;
    fv_task_new n = tk_new(&ct.t1, "pdf", "q2", CT_T0 + 20 * SEC);
    n.task.id = ct_uuid(CT_K_OTHER, 501);
    tk_key(&n, "dead-key", CT_T0 + 500 * SEC);
    fv_task out;
    bool created;
    fv_error err;
    fv_err rc = fv_task_repo_submit(ct.d.tasks, a, &n, &out, &created, &err);
    return rc == FV_OK && !created ? FV_E_INTERNAL : rc;
}

static fv_err op_claim(fv_arena *a, void *arg)
{
    const atomic_seed *s = arg;
    fv_claim_request c = {ct.t1, "q", "claimer", {true, s->worker}, CT_T0 + 30 * SEC};
    fv_task out;
    bool found = false;
    fv_time next;
    fv_error err;
    fv_err rc = fv_task_repo_claim(ct.d.tasks, a, &c, &out, &found, &next, &err);
    return rc == FV_OK && !found ? FV_E_INTERNAL : rc;
}

static fv_err op_retry(fv_arena *a, void *arg)
{
    const atomic_seed *s = arg;
    fv_attempt_outcome o = {FV_ATTEMPT_FAILED, 1, FV_JSON_NONE, "a long enough error text",
                            CT_T0 + 30 * SEC};
    fv_task out;
    fv_task_transition tr;
    fv_error err;
    return fv_task_repo_end_attempt(ct.d.tasks, a, &ct.t1, &s->running, &o, &out, &tr, &err);
}

static fv_err op_complete(fv_arena *a, void *arg)
{
    const atomic_seed *s = arg;
    fv_attempt_outcome o = {FV_ATTEMPT_COMPLETED, 0, ct_json("{\"result\":[1,2,3]}"), NULL,
                            CT_T0 + 30 * SEC};
    fv_task out;
    fv_task_transition tr;
    fv_error err;
    return fv_task_repo_end_attempt(ct.d.tasks, a, &ct.t1, &s->running, &o, &out, &tr, &err);
}

static fv_err op_cancel_running(fv_arena *a, void *arg)
{
    const atomic_seed *s = arg;
    fv_task out;
    fv_error err;
    return fv_task_repo_cancel(ct.d.tasks, a, &ct.t1, &s->running, FV_TASK_BIT(FV_TASK_RUNNING),
                               "cancelled by the test", CT_T0 + 30 * SEC, &out, &err);
}

static fv_err op_cancel_pending(fv_arena *a, void *arg)
{
    const atomic_seed *s = arg;
    fv_task out;
    fv_error err;
    return fv_task_repo_cancel(ct.d.tasks, a, &ct.t2, &s->scheduled, FV_TASK_BIT(FV_TASK_PENDING),
                               NULL, CT_T0 + 30 * SEC, &out, &err);
}

static fv_err op_progress(fv_arena *a, void *arg)
{
    const atomic_seed *s = arg;
    (void)a;
    int64_t id;
    fv_error err;
    return fv_task_repo_report_progress(ct.d.tasks, &ct.t1, &s->running, 0.5, "halfway there",
                                        ct_json("{\"progress\":0.5}"), CT_T0 + 30 * SEC, &id, &err);
}

static fv_err op_log(fv_arena *a, void *arg)
{
    const atomic_seed *s = arg;
    (void)a;
    fv_task_event e = {0,
                       FV_TEV_LOG,
                       CT_T0 + 30 * SEC,
                       FV_LOG_ERROR,
                       "a log line",
                       ct_json("{\"level\":\"ERROR\",\"message\":\"a log line\"}")};
    int64_t id;
    fv_error err;
    return fv_task_repo_append_event(ct.d.tasks, &ct.t1, &s->finished, &e, &id, &err);
}

static fv_err op_state_new(fv_arena *a, void *arg)
{
    const atomic_seed *s = arg;
    (void)a;
    fv_error err;
    return fv_task_repo_state_set(ct.d.tasks, &ct.t1, &s->running, "another-key",
                                  ct_json("{\"x\":1}"), &err);
}

static fv_err op_state_replace(fv_arena *a, void *arg)
{
    const atomic_seed *s = arg;
    (void)a;
    fv_error err;
    return fv_task_repo_state_set(ct.d.tasks, &ct.t1, &s->running, "cursor",
                                  ct_json("{\"page\":2}"), &err);
}

static fv_err op_state_clear(fv_arena *a, void *arg)
{
    const atomic_seed *s = arg;
    (void)a;
    fv_error err;
    return fv_task_repo_state_clear(ct.d.tasks, &ct.t1, &s->running, "cursor", &err);
}

static fv_err op_state_clear_all(fv_arena *a, void *arg)
{
    const atomic_seed *s = arg;
    (void)a;
    fv_error err;
    return fv_task_repo_state_clear_all(ct.d.tasks, &ct.t1, &s->running, &err);
}

static void test_task_atomicity__failed_submits_change_nothing(void)
{
    atomic_seed s;
    seed_tasks(&s);
    tk_fail_loop("submit", op_submit_new, &s);
    tk_fail_loop("submit rebinding a key", op_submit_rebind, &s);
}

static void test_task_atomicity__submit_with_tiny_arena_changes_nothing(void)
{
    atomic_seed s;
    seed_tasks(&s);
    tk_cap_loop("submit with a capped arena", op_submit_new, &s);
}

static void test_task_atomicity__failed_claim_changes_nothing(void)
{
    atomic_seed s;
    seed_tasks(&s);
    tk_fail_loop("claim", op_claim, &s);
}

static void test_task_atomicity__claim_with_tiny_arena_changes_nothing(void)
{
    atomic_seed s;
    seed_tasks(&s);
    tk_cap_loop("claim with a capped arena", op_claim, &s);
}

static void test_task_atomicity__failed_retry_changes_nothing(void)
{
    atomic_seed s;
    seed_tasks(&s);
    tk_fail_loop("end_attempt (retry)", op_retry, &s);
}

static void test_task_atomicity__failed_complete_changes_nothing(void)
{
    atomic_seed s;
    seed_tasks(&s);
    tk_fail_loop("end_attempt (complete)", op_complete, &s);
}

static void test_task_atomicity__attempt_end_with_tiny_arena_changes_nothing(void)
{
    atomic_seed s;
    seed_tasks(&s);
    tk_cap_loop("end_attempt with a capped arena", op_complete, &s);
}

static void test_task_atomicity__failed_cancels_change_nothing(void)
{
    atomic_seed s;
    seed_tasks(&s);
    tk_fail_loop("cancel RUNNING", op_cancel_running, &s);
    tk_fail_loop("cancel PENDING", op_cancel_pending, &s);
}

static void test_task_atomicity__cancel_with_tiny_arena_changes_nothing(void)
{
    atomic_seed s;
    seed_tasks(&s);
    tk_cap_loop("cancel with a capped arena", op_cancel_running, &s);
}

static void test_task_atomicity__failed_event_and_state_writes_change_nothing(void)
{
    atomic_seed s;
    seed_tasks(&s);
    tk_fail_loop("report_progress", op_progress, &s);
    tk_fail_loop("append_event", op_log, &s);
    tk_fail_loop("state_set (new key)", op_state_new, &s);
    tk_fail_loop("state_set (replace)", op_state_replace, &s);
}

/* Clearing state need not allocate (the memory adapter does not): no
 * attempt has to fail, but every one that does must change nothing. */
static void test_task_atomicity__failed_state_clears_change_nothing(void)
{
    atomic_seed s;
    seed_tasks(&s);
    ct_fail_loop("state_clear", op_state_clear, &s, tk_snapshot, NULL, false);
    /* The running task has state again. */
    FV_ASSERT_INT_EQ(tk_state_set(&ct.t1, &s.running, "cursor", "2"), FV_OK);
    ct_fail_loop("state_clear_all", op_state_clear_all, &s, tk_snapshot, NULL, false);
}

const fv_test_case ct_task_atomic_cases[] = {
    FV_TEST_CASE(test_task_atomicity__failed_submits_change_nothing),
    FV_TEST_CASE(test_task_atomicity__submit_with_tiny_arena_changes_nothing),
    FV_TEST_CASE(test_task_atomicity__failed_claim_changes_nothing),
    FV_TEST_CASE(test_task_atomicity__claim_with_tiny_arena_changes_nothing),
    FV_TEST_CASE(test_task_atomicity__failed_retry_changes_nothing),
    FV_TEST_CASE(test_task_atomicity__failed_complete_changes_nothing),
    FV_TEST_CASE(test_task_atomicity__attempt_end_with_tiny_arena_changes_nothing),
    FV_TEST_CASE(test_task_atomicity__failed_cancels_change_nothing),
    FV_TEST_CASE(test_task_atomicity__cancel_with_tiny_arena_changes_nothing),
    FV_TEST_CASE(test_task_atomicity__failed_event_and_state_writes_change_nothing),
    FV_TEST_CASE(test_task_atomicity__failed_state_clears_change_nothing),
};
const size_t ct_task_atomic_cases_n = FV_TEST_COUNT(ct_task_atomic_cases);
