/*
 * "A failed op changes nothing" (ports/worker_repo.h common contract): every
 * write op is run with the Nth allocation failing, for N = 0, 1, 2, ... until
 * it succeeds, and with the caller's arena capped ever larger; after each
 * failure the store must read exactly as before (ct_snapshot).
 */
#include <stdio.h>
#include <string.h>

#include "core/util/alloc.h"
#include "tests/support/contract_int.h"

#define SEC          ((fv_time)1000)
#define MAX_ATTEMPTS 20000

static const fv_uuid *no_space = NULL;

/* Report the first differing line of two snapshots. */
static void report_diff(const char *what, long attempt, const char *before, const char *after)
{
    size_t i = 0;
    while (before[i] != '\0' && before[i] == after[i])
        i++;
    size_t start = i;
    while (start > 0 && before[start - 1] != '\n')
        start--;
    fprintf(stderr,
            "\n  %s: attempt %ld failed but changed the store near:\n  before: %.200s\n"
            "  after:  %.200s\n",
            what, attempt, before + start, after + start);
}

void ct_fail_loop(const char *what, ct_op_fn op, void *arg, ct_snapshot_fn snap, void *user,
                  bool allocates)
{
    char *before = snap(user);
    fv_err rc = FV_E_INTERNAL;
    long n;
    for (n = 0; n < MAX_ATTEMPTS; n++) {
        fv_arena a;
        fv_arena_init(&a, 0);
        fv_alloc_fail_after(n);
        rc = op(&a, arg);
        fv_alloc_fail_reset();
        fv_arena_release(&a);
        if (rc == FV_OK)
            break;
        if (rc != FV_E_EXHAUSTED) {
            fprintf(stderr, "\n  %s: attempt %ld answered %s, not RESOURCE_EXHAUSTED\n", what, n,
                    fv_err_name(rc));
            FV_ASSERT_INT_EQ(rc, FV_E_EXHAUSTED);
        }
        char *after = snap(user);
        if (strcmp(before, after) != 0) {
            report_diff(what, n, before, after);
            CU_FAIL("a failed op changed the store");
            return;
        }
        if (rc != FV_E_EXHAUSTED)
            return;
    }
    FV_ASSERT_INT_EQ(rc, FV_OK);
    if (allocates)
        CU_ASSERT(n > 0);
    CU_ASSERT(strcmp(before, snap(user)) != 0);
}

void ct_cap_loop(const char *what, ct_op_fn op, void *arg, ct_snapshot_fn snap, void *user)
{
    char *before = snap(user);
    fv_err rc = FV_E_INTERNAL;
    size_t cap;
    long attempt = 0;
    for (cap = 1; cap < ((size_t)1 << 20); cap += 32, attempt++) {
        fv_arena a;
        fv_arena_init(&a, cap);
        rc = op(&a, arg);
        fv_arena_release(&a);
        if (rc == FV_OK)
            break;
        FV_ASSERT_INT_EQ(rc, FV_E_EXHAUSTED);
        char *after = snap(user);
        if (strcmp(before, after) != 0) {
            report_diff(what, attempt, before, after);
            CU_FAIL("a failed op changed the store");
            return;
        }
        if (rc != FV_E_EXHAUSTED)
            return;
    }
    FV_ASSERT_INT_EQ(rc, FV_OK);
    CU_ASSERT(attempt > 0); /* an arena of 1 byte cannot hold the result */
    CU_ASSERT(strcmp(before, snap(user)) != 0);
}

static char *snapshot_at(void *user)
{
    return ct_snapshot(*(const fv_time *)user);
}

/* The loops on ct_snapshot. The first snapshot settles stale stored
 * availability (its refresh writes); the loop's own first is the reference. */
static void fail_loop(const char *what, ct_op_fn op, void *arg, fv_time now, bool allocates)
{
    ct_snapshot(now);
    ct_fail_loop(what, op, arg, snapshot_at, &now, allocates);
}

static void cap_loop(const char *what, ct_op_fn op, void *arg, fv_time now)
{
    ct_snapshot(now);
    ct_cap_loop(what, op, arg, snapshot_at, &now);
}

/* ------------------------------------------------------------------------
 * Registration
 */

static fv_err op_register(fv_arena *a, void *arg)
{
    ct_reg *g = arg;
    g->r.workflows = g->wf;
    g->r.workflow_def_ids = g->wf_ids;
    g->r.tasks = g->tk;
    g->r.task_def_ids = g->tk_ids;
    fv_registration_outcome out;
    fv_error err;
    return fv_worker_repo_register(ct.d.workers, a, &g->r, &out, &err);
}

/* Existing state: worker "old" serving order@1.0.0 (hash "h-old"), refund
 * and task mail; "peer" serving the same in the other tenant; "spaced" in
 * space s1. */
static void seed(void)
{
    const fv_uuid *tenants[] = {&ct.t1, &ct.t2, &ct.t1};
    const char *names[] = {"old", "peer", "spaced"};
    for (size_t i = 0; i < 3; i++) {
        ct_reg g;
        ct_reg_init(&g, tenants[i], names[i], "h", "1", CT_T0);
        if (i == 2)
            g.r.worker.space = ct_space(&ct.s1);
        ct_reg_workflow(&g, "order", "1.0.0", "h-old");
        ct_reg_workflow(&g, "refund", "1.0.0", NULL);
        if (i != 1)
            ct_reg_task(&g, "mail");
        ct_register_ok(&g);
    }
}

static void build_new_worker(ct_reg *g, fv_time now)
{
    static const char *const tags[] = {"a", "b"};
    ct_reg_init(g, &ct.t1, "newcomer", "host-n", "77", now);
    g->r.worker.space = ct_space(NULL);
    fv_capability *c = ct_reg_workflow(g, "order", "1.0.0", "hash-new"); /* existing kind */
    c->description = "orders";
    c->tags = (fv_tags){tags, 2};
    c->input_schema = ct_json("{\"type\":\"object\"}");
    c = ct_reg_workflow(g, "brand-new", "0.1.0", NULL);
    c->has_timeout = true;
    c->timeout_seconds = 60;
    c = ct_reg_task(g, "mail");
    c->has_retry_policy = true;
    c->retry_policy.set = FV_RETRY_HAS_MAX_RETRIES;
    c->retry_policy.max_retries = 2;
    ct_reg_task(g, "new-task");
}

static void test_worker_repo__failed_register_changes_nothing(void)
{
    seed();
    ct_reg g;
    build_new_worker(&g, CT_T0 + 5 * SEC);
    fail_loop("register new worker", op_register, &g, CT_T0 + 5 * SEC, true);
}

/* Re-registration of an OFFLINE worker that changes its links: the most
 * steps of one unit (status, history, links added and dropped, versions). */
static void test_worker_repo__failed_reregister_changes_nothing(void)
{
    seed();
    ct_reg g;
    ct_reg_init(&g, &ct.t1, "old", "h", "1", CT_T0);
    fv_uuid id = ct_register_ok(&g); /* same identity as seed(): no links now */
    ct_reg_init(&g, &ct.t1, "old", "h", "1", CT_T0 + SEC);
    ct_reg_workflow(&g, "order", "1.0.0", NULL);
    ct_reg_task(&g, "mail");
    ct_register_ok(&g);
    ct_transition_ok(&ct.t1, &id, FV_STATUS_ONLINE, FV_STATUS_OFFLINE, CT_T0 + 90 * SEC, "gone");
    fv_availability_change_list ch;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_definition_repo_refresh_availability(ct.d.workflow_defs, &ct.a, &ch, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(fv_definition_repo_refresh_availability(ct.d.task_defs, &ct.a, &ch, &err),
                     FV_OK);

    ct_reg_init(&g, &ct.t1, "old", "h", "1", CT_T0 + 100 * SEC);
    g.r.worker.version = "2.0.0";
    g.r.worker.metadata = ct_json("{\"v\":2}");
    ct_reg_workflow(&g, "order", "2.0.0", "h2");   /* kept, new version */
    ct_reg_workflow(&g, "refund", "1.0.0", NULL);  /* linked again */
    ct_reg_workflow(&g, "another", "1.0.0", NULL); /* new definition */
    ct_reg_task(&g, "other-task");                 /* mail dropped */
    fail_loop("re-register worker", op_register, &g, CT_T0 + 100 * SEC, true);
    fv_worker w = ct_get_worker(&ct.t1, &id);
    FV_ASSERT_INT_EQ(w.status, FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(w.workflow_kinds, 3);
}

/* A registration whose answer does not fit in the caller's arena fails and
 * changes nothing. */
static void test_worker_repo__register_with_tiny_arena_changes_nothing(void)
{
    seed();
    ct_reg g;
    build_new_worker(&g, CT_T0 + 5 * SEC); /* "old" is a peer: the answer needs the arena */
    cap_loop("register with a capped arena", op_register, &g, CT_T0 + 5 * SEC);
}

/* ------------------------------------------------------------------------
 * Other write ops of the worker repository
 */

typedef struct worker_op_arg {
    fv_uuid tenant;
    fv_uuid id;
    fv_time now;
} worker_op_arg;

static fv_err op_transition(fv_arena *a, void *arg)
{
    (void)a;
    const worker_op_arg *w = arg;
    bool changed = false;
    fv_error err;
    fv_err rc = fv_worker_repo_transition(
        ct.d.workers, &w->tenant, &w->id, FV_STATUS_ONLINE, FV_STATUS_DEGRADED, w->now,
        "a reason long enough to need its own copy", &changed, &err);
    if (rc == FV_OK && !changed)
        return FV_E_INTERNAL;
    return rc;
}

static fv_err op_touch(fv_arena *a, void *arg)
{
    (void)a;
    const worker_op_arg *w = arg;
    fv_error err;
    return fv_worker_repo_touch(ct.d.workers, &w->tenant, &w->id, FV_SIGN_HEARTBEAT, w->now,
                                ct_json("{\"cpu\":0.25,\"mem\":\"512M\"}"), true, &err);
}

static fv_err op_remove(fv_arena *a, void *arg)
{
    (void)a;
    const worker_op_arg *w = arg;
    fv_error err;
    return fv_worker_repo_remove(ct.d.workers, &w->tenant, &w->id, &err);
}

static fv_err op_remove_offline(fv_arena *a, void *arg)
{
    const worker_op_arg *w = arg;
    fv_uuid_list out;
    fv_error err;
    return fv_worker_repo_remove_offline(ct.d.workers, a, w->now, &out, &err);
}

static void test_worker_repo__failed_transition_changes_nothing(void)
{
    seed();
    worker_op_arg arg = {ct.t1, {{0}}, CT_T0 + 50 * SEC};
    arg.id = ct_worker(&ct.t1, no_space, "old", "1", CT_T0, NULL, NULL);
    fail_loop("transition", op_transition, &arg, CT_T0 + 50 * SEC, false);
    FV_ASSERT_INT_EQ(ct_get_worker(&ct.t1, &arg.id).status, FV_STATUS_DEGRADED);
}

static void test_worker_repo__failed_touch_changes_nothing(void)
{
    seed();
    worker_op_arg arg = {ct.t1, {{0}}, CT_T0 + 30 * SEC};
    arg.id = ct_worker(&ct.t1, no_space, "old", "1", CT_T0, NULL, NULL);
    fail_loop("touch", op_touch, &arg, CT_T0 + 30 * SEC, false);
    FV_ASSERT_INT_EQ(ct_get_worker(&ct.t1, &arg.id).last_heartbeat_at, CT_T0 + 30 * SEC);
}

static void test_worker_repo__failed_remove_changes_nothing(void)
{
    seed();
    static const char *const wf[] = {"order", "refund", NULL};
    static const char *const tk[] = {"mail", NULL};
    worker_op_arg arg = {ct.t1, {{0}}, CT_T0};
    arg.id = ct_worker(&ct.t1, no_space, "old", "1", CT_T0, wf, tk);
    ct_transition_ok(&ct.t1, &arg.id, FV_STATUS_ONLINE, FV_STATUS_DEGRADED, CT_T0 + SEC, "x");
    fail_loop("remove", op_remove, &arg, CT_T0 + 2 * SEC, false);
    fv_worker w;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_worker_repo_get(ct.d.workers, &ct.a, &ct.t1, &arg.id, &w, &err),
                     FV_E_NOT_FOUND);
}

static void offline_seed(void)
{
    seed();
    static const char *const wf[] = {"order", NULL};
    fv_uuid a = ct_worker(&ct.t1, no_space, "gone-a", "1", CT_T0, wf, NULL);
    fv_uuid b = ct_worker(&ct.t2, no_space, "gone-b", "1", CT_T0, wf, NULL);
    ct_transition_ok(&ct.t1, &a, FV_STATUS_ONLINE, FV_STATUS_OFFLINE, CT_T0 + 90 * SEC, "x");
    ct_transition_ok(&ct.t2, &b, FV_STATUS_ONLINE, FV_STATUS_OFFLINE, CT_T0 + 90 * SEC, "x");
}

static void test_worker_repo__failed_remove_offline_changes_nothing(void)
{
    offline_seed();
    worker_op_arg arg = {ct.t1, {{0}}, CT_T0 + SEC};
    fail_loop("remove_offline", op_remove_offline, &arg, CT_T0 + 100 * SEC, true);
}

/* remove_offline returns the ids in the arena: when they do not fit,
 * nothing may be removed. */
static void test_worker_repo__remove_offline_with_tiny_arena_changes_nothing(void)
{
    offline_seed();
    worker_op_arg arg = {ct.t1, {{0}}, CT_T0 + SEC};
    cap_loop("remove_offline with a capped arena", op_remove_offline, &arg, CT_T0 + 100 * SEC);
}

/* ------------------------------------------------------------------------
 * Definitions
 */

static fv_err op_configure(fv_arena *a, void *arg)
{
    static const char *const tags[] = {"ops", "europe", "critical"};
    (void)arg;
    fv_def_config_patch p;
    memset(&p, 0, sizeof p);
    p.timeout_op = FV_PATCH_SET;
    p.timeout_seconds = 42;
    p.retry_op = FV_PATCH_SET;
    p.retry_policy.set = FV_RETRY_HAS_MAX_RETRIES | FV_RETRY_HAS_BACKOFF;
    p.retry_policy.max_retries = 4;
    p.retry_policy.backoff_coefficient = 1.5;
    p.tags_op = FV_PATCH_SET;
    p.tags = (fv_tags){tags, 3};
    fv_space_sel none = ct_sel_none();
    fv_definition out;
    fv_error err;
    return fv_definition_repo_configure(ct.d.workflow_defs, a, &ct.t1, &none, "order", &p,
                                        CT_T0 + SEC, &ct.l, &out, &err);
}

static void test_definition_repo__failed_configure_changes_nothing(void)
{
    seed();
    fail_loop("configure", op_configure, NULL, CT_T0 + SEC, true);
    fv_definition d = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "order", CT_T0 + SEC);
    CU_ASSERT(d.configured.has_timeout && d.configured.timeout_seconds == 42);
    CU_ASSERT(d.configured.has_tags && d.configured.tags.n == 3);
}

/* configure answers in the arena: when it does not fit, nothing changes. */
static void test_definition_repo__configure_with_tiny_arena_changes_nothing(void)
{
    seed();
    cap_loop("configure with a capped arena", op_configure, NULL, CT_T0 + SEC);
}

/* ------------------------------------------------------------------------
 * Tenant store
 */

static fv_err op_create_space(fv_arena *a, void *arg)
{
    (void)a;
    (void)arg;
    fv_space s = {ct_uuid(CT_K_SPACE, 50), ct.t2, "space-new", "A new space", CT_T0};
    fv_error err;
    return fv_tenant_store_create_space(ct.d.tenants, &s, &err);
}

static fv_err op_create_key(fv_arena *a, void *arg)
{
    (void)a;
    (void)arg;
    fv_api_key k;
    memset(&k, 0, sizeof k);
    k.id = ct_uuid(CT_K_KEY, 50);
    k.tenant_id = ct.t1;
    k.role = FV_ROLE_WORKER;
    k.name = "worker key";
    k.prefix = "fv_atomic";
    k.hash[0] = 0xAB;
    k.created_at = CT_T0;
    k.revoked_at = FV_TIME_NONE;
    fv_error err;
    return fv_tenant_store_create_api_key(ct.d.tenants, &k, &err);
}

static void test_tenant_store__failed_creates_change_nothing(void)
{
    seed();
    fail_loop("create_space", op_create_space, NULL, CT_T0, true);
    fail_loop("create_api_key", op_create_key, NULL, CT_T0, true);
}

const fv_test_case ct_atomic_cases[] = {
    FV_TEST_CASE(test_worker_repo__failed_register_changes_nothing),
    FV_TEST_CASE(test_worker_repo__failed_reregister_changes_nothing),
    FV_TEST_CASE(test_worker_repo__register_with_tiny_arena_changes_nothing),
    FV_TEST_CASE(test_worker_repo__failed_transition_changes_nothing),
    FV_TEST_CASE(test_worker_repo__failed_touch_changes_nothing),
    FV_TEST_CASE(test_worker_repo__failed_remove_changes_nothing),
    FV_TEST_CASE(test_worker_repo__failed_remove_offline_changes_nothing),
    FV_TEST_CASE(test_worker_repo__remove_offline_with_tiny_arena_changes_nothing),
    FV_TEST_CASE(test_definition_repo__failed_configure_changes_nothing),
    FV_TEST_CASE(test_definition_repo__configure_with_tiny_arena_changes_nothing),
    FV_TEST_CASE(test_tenant_store__failed_creates_change_nothing),
};
const size_t ct_atomic_cases_n = FV_TEST_COUNT(ct_atomic_cases);
