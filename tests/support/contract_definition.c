/* Contract of the definition repository port (ports/definition_repo.h),
 * with definitions written by the worker repository's registration. */
#include <stdint.h>
#include <string.h>

#include "core/util/alloc.h"
#include "tests/support/contract_int.h"

#define SEC ((fv_time)1000)

static const fv_uuid *no_space = NULL;

static bool same_retry(const fv_retry_policy *a, const fv_retry_policy *b)
{
    if (a->set != b->set)
        return false;
    if ((a->set & FV_RETRY_HAS_MAX_RETRIES) && a->max_retries != b->max_retries)
        return false;
    if ((a->set & FV_RETRY_HAS_INITIAL_DELAY) && a->initial_delay_ms != b->initial_delay_ms)
        return false;
    if ((a->set & FV_RETRY_HAS_BACKOFF) && a->backoff_coefficient != b->backoff_coefficient)
        return false;
    if ((a->set & FV_RETRY_HAS_MAX_DELAY) && a->max_delay_ms != b->max_delay_ms)
        return false;
    return true;
}

static fv_retry_policy retry3(void)
{
    fv_retry_policy p;
    memset(&p, 0, sizeof p);
    p.set = FV_RETRY_HAS_MAX_RETRIES | FV_RETRY_HAS_INITIAL_DELAY | FV_RETRY_HAS_BACKOFF |
            FV_RETRY_HAS_MAX_DELAY;
    p.max_retries = 3;
    p.initial_delay_ms = 1000;
    p.backoff_coefficient = 2.0;
    p.max_delay_ms = 60000;
    return p;
}

static fv_retry_policy retry_max(int64_t n)
{
    fv_retry_policy p;
    memset(&p, 0, sizeof p);
    p.set = FV_RETRY_HAS_MAX_RETRIES;
    p.max_retries = n;
    return p;
}

static const char *const tags_billing[] = {"billing", "eu", NULL};

/* Registration creates the definition with every declared field. */
static void test_definition_repo__registration_creates_definition(void)
{
    ct_reg g;
    ct_reg_init(&g, &ct.t1, "w", "h", "1", CT_T0);
    fv_capability *c = ct_reg_workflow(&g, "order", "1.0.0", "h1");
    c->name = "Order flow";
    c->description = "Handles orders";
    c->has_timeout = true;
    c->timeout_seconds = 30;
    c->cancellable = true;
    c->tags = (fv_tags){tags_billing, 2};
    c->has_retry_policy = true;
    c->retry_policy = retry3();
    c->metadata = ct_json("{\"m\":1}");
    c->input_schema = ct_json("{\"type\":\"object\"}");
    c->output_schema = ct_json("{\"type\":\"string\"}");
    ct_reg_task(&g, "mail");
    ct_register_ok(&g);

    fv_definition d = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "order", CT_T0);
    CU_ASSERT(fv_uuid_eq(&d.id, &g.wf_ids[0]));
    CU_ASSERT(fv_uuid_eq(&d.tenant_id, &ct.t1));
    CU_ASSERT(!d.space.has);
    FV_ASSERT_INT_EQ(d.cls, FV_DEF_WORKFLOW);
    FV_ASSERT_STR_EQ(d.kind, "order");
    FV_ASSERT_STR_EQ(d.name, "Order flow");
    FV_ASSERT_STR_EQ(d.description, "Handles orders");
    CU_ASSERT(d.cancellable);
    CU_ASSERT(d.declared.has_timeout && d.declared.timeout_seconds == 30);
    CU_ASSERT(d.declared.has_retry_policy);
    fv_retry_policy want = retry3();
    CU_ASSERT(same_retry(&d.declared.retry_policy, &want));
    CU_ASSERT(d.declared.has_tags && ct_tags_eq(&d.declared.tags, tags_billing));
    CU_ASSERT(!d.configured.has_timeout);
    CU_ASSERT(!d.configured.has_retry_policy);
    CU_ASSERT(!d.configured.has_tags);
    FV_ASSERT_STR_EQ(d.latest_version, "1.0.0");
    FV_ASSERT_INT_EQ(d.availability, FV_AVAIL_AVAILABLE);
    FV_ASSERT_INT_EQ(d.first_seen_at, CT_T0);
    FV_ASSERT_INT_EQ(d.last_registered_at, CT_T0);
    FV_ASSERT_INT_EQ(d.worker_count, 1);
    CU_ASSERT(ct_json_eq(d.metadata, "{\"m\":1}"));
    CU_ASSERT(ct_json_eq(d.input_schema, "{\"type\":\"object\"}"));
    CU_ASSERT(ct_json_eq(d.output_schema, "{\"type\":\"string\"}"));

    fv_definition t = ct_get_def_ok(FV_DEF_TASK, &ct.t1, no_space, "mail", CT_T0);
    CU_ASSERT(fv_uuid_eq(&t.id, &g.tk_ids[0]));
    FV_ASSERT_INT_EQ(t.cls, FV_DEF_TASK);
    FV_ASSERT_STR_EQ(t.name, "mail");
    CU_ASSERT_PTR_NULL(t.description);
    CU_ASSERT_PTR_NULL(t.latest_version);
    CU_ASSERT(!t.cancellable);
    CU_ASSERT(!t.declared.has_timeout);
    CU_ASSERT(!t.declared.has_retry_policy);
    CU_ASSERT(ct_json_eq(t.metadata, NULL));
    CU_ASSERT(ct_json_eq(t.input_schema, NULL));
    FV_ASSERT_INT_EQ(t.worker_count, 1);

    /* Each repository serves its own class. */
    fv_definition x;
    FV_ASSERT_INT_EQ(ct_get_def(FV_DEF_WORKFLOW, &ct.t1, no_space, "mail", CT_T0, &x),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(ct_get_def(FV_DEF_TASK, &ct.t1, no_space, "order", CT_T0, &x), FV_E_NOT_FOUND);
}

/* The latest registration wins for declared fields (decision 8);
 * first_seen_at is kept, last_registered_at moves, the id stays. */
static void test_definition_repo__declared_fields_replaced_by_latest_registration(void)
{
    ct_reg g;
    ct_reg_init(&g, &ct.t1, "w", "h", "1", CT_T0);
    fv_capability *c = ct_reg_workflow(&g, "order", "1.0.0", "h1");
    c->name = "Order flow";
    c->description = "Handles orders";
    c->has_timeout = true;
    c->timeout_seconds = 30;
    c->cancellable = true;
    c->tags = (fv_tags){tags_billing, 2};
    c->has_retry_policy = true;
    c->retry_policy = retry3();
    c->metadata = ct_json("{\"m\":1}");
    c->input_schema = ct_json("{\"v\":1}");
    c->output_schema = ct_json("{\"o\":1}");
    ct_register_ok(&g);
    fv_uuid def_id = g.wf_ids[0];

    /* Another worker declares the kind differently a minute later. */
    static const char *const tags_new[] = {"new", NULL};
    ct_reg_init(&g, &ct.t1, "w2", "h", "2", CT_T0 + 60 * SEC);
    c = ct_reg_workflow(&g, "order", "1.0.1", "h2");
    c->name = "Orders";
    c->tags = (fv_tags){tags_new, 1};
    c->has_retry_policy = true;
    c->retry_policy = retry_max(5);
    c->input_schema = ct_json("{\"v\":2}");
    ct_register_ok(&g);

    fv_definition d = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "order", CT_T0 + 60 * SEC);
    CU_ASSERT(fv_uuid_eq(&d.id, &def_id));
    FV_ASSERT_STR_EQ(d.name, "Orders");
    CU_ASSERT_PTR_NULL(d.description);
    CU_ASSERT(!d.cancellable);
    CU_ASSERT(!d.declared.has_timeout);
    fv_retry_policy want = retry_max(5);
    CU_ASSERT(d.declared.has_retry_policy && same_retry(&d.declared.retry_policy, &want));
    CU_ASSERT(d.declared.has_tags && ct_tags_eq(&d.declared.tags, tags_new));
    CU_ASSERT(ct_json_eq(d.metadata, NULL));
    CU_ASSERT(ct_json_eq(d.input_schema, "{\"v\":2}"));
    CU_ASSERT(ct_json_eq(d.output_schema, NULL));
    FV_ASSERT_INT_EQ(d.first_seen_at, CT_T0);
    FV_ASSERT_INT_EQ(d.last_registered_at, CT_T0 + 60 * SEC);
    FV_ASSERT_STR_EQ(d.latest_version, "1.0.1");
    FV_ASSERT_INT_EQ(d.worker_count, 2);
}

static void register_version(const char *version, fv_time at)
{
    ct_reg g;
    ct_reg_init(&g, &ct.t1, "w", "h", "1", at);
    ct_reg_workflow(&g, "flow", version, NULL);
    ct_reg_task(&g, "job");
    ct_register_ok(&g);
}

/* latest_version is the highest semantic version seen, not the latest. */
static void test_definition_repo__latest_version_is_highest_semver(void)
{
    register_version("1.9.0", CT_T0);
    FV_ASSERT_STR_EQ(ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "flow", CT_T0).latest_version,
                     "1.9.0");
    register_version("1.10.0", CT_T0 + SEC);
    FV_ASSERT_STR_EQ(ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "flow", CT_T0).latest_version,
                     "1.10.0");
    register_version("1.2.0", CT_T0 + 2 * SEC);
    fv_definition d = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "flow", CT_T0 + 2 * SEC);
    FV_ASSERT_STR_EQ(d.latest_version, "1.10.0");
    FV_ASSERT_INT_EQ(d.last_registered_at, CT_T0 + 2 * SEC);
    /* A pre-release of 1.10.0 ranks below it. */
    register_version("1.10.0-rc.1", CT_T0 + 3 * SEC);
    FV_ASSERT_STR_EQ(ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "flow", CT_T0).latest_version,
                     "1.10.0");
    CU_ASSERT_PTR_NULL(ct_get_def_ok(FV_DEF_TASK, &ct.t1, no_space, "job", CT_T0).latest_version);
}

/* A NULL space is one value: two tenant-level workers share one definition. */
static void test_definition_repo__same_kind_without_space_is_one_definition(void)
{
    static const char *const wf[] = {"k", NULL};
    static const char *const tk[] = {"t", NULL};
    ct_worker(&ct.t1, no_space, "a", "1", CT_T0, wf, tk);
    ct_worker(&ct.t1, no_space, "b", "1", CT_T0 + SEC, wf, tk);
    fv_definition_filter f = ct_def_filter(&ct.t1);
    f.space = ct_sel_none();
    fv_definition_list l = ct_list_defs(FV_DEF_WORKFLOW, &f, CT_T0 + SEC);
    FV_ASSERT_INT_EQ(l.total, 1);
    CU_ASSERT_FATAL(l.n == 1);
    FV_ASSERT_INT_EQ(l.items[0].worker_count, 2);
    FV_ASSERT_INT_EQ(l.items[0].first_seen_at, CT_T0);
    l = ct_list_defs(FV_DEF_TASK, &f, CT_T0 + SEC);
    FV_ASSERT_INT_EQ(l.total, 1);
    CU_ASSERT_FATAL(l.n == 1);
    FV_ASSERT_INT_EQ(l.items[0].worker_count, 2);
}

/* Definitions are per (tenant, space, kind). */
static void test_definition_repo__space_and_tenant_scope_definitions(void)
{
    static const char *const wf[] = {"k", NULL};
    ct_worker(&ct.t1, no_space, "a", "1", CT_T0, wf, NULL);
    ct_worker(&ct.t1, &ct.s1, "b", "1", CT_T0, wf, NULL);
    ct_worker(&ct.t1, &ct.s2, "c", "1", CT_T0, wf, NULL);
    ct_worker(&ct.t2, no_space, "d", "1", CT_T0, wf, NULL);
    fv_definition top = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "k", CT_T0);
    fv_definition in1 = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, &ct.s1, "k", CT_T0);
    fv_definition in2 = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, &ct.s2, "k", CT_T0);
    fv_definition other = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t2, no_space, "k", CT_T0);
    CU_ASSERT(!fv_uuid_eq(&top.id, &in1.id));
    CU_ASSERT(!fv_uuid_eq(&top.id, &in2.id));
    CU_ASSERT(!fv_uuid_eq(&in1.id, &in2.id));
    CU_ASSERT(!fv_uuid_eq(&top.id, &other.id));
    CU_ASSERT(!top.space.has);
    CU_ASSERT(in1.space.has && fv_uuid_eq(&in1.space.id, &ct.s1));
    CU_ASSERT(fv_uuid_eq(&other.tenant_id, &ct.t2));
    FV_ASSERT_INT_EQ(top.worker_count, 1);
    FV_ASSERT_INT_EQ(in1.worker_count, 1);
    fv_definition x;
    fv_uuid nowhere = ct_uuid(CT_K_OTHER, 3);
    FV_ASSERT_INT_EQ(ct_get_def(FV_DEF_WORKFLOW, &ct.t1, &nowhere, "k", CT_T0, &x), FV_E_NOT_FOUND);
    fv_definition_filter f = ct_def_filter(&ct.t1);
    FV_ASSERT_INT_EQ(ct_list_defs(FV_DEF_WORKFLOW, &f, CT_T0).total, 3);
}

static fv_err configure(fv_def_class cls, const fv_uuid *tenant, const fv_uuid *space,
                        const char *kind, const fv_def_config_patch *p, fv_time now,
                        fv_definition *out)
{
    fv_space_sel sel = space ? ct_sel_id(space) : ct_sel_none();
    fv_error err;
    memset(out, 0, sizeof *out);
    return fv_definition_repo_configure(ct_defs(cls), &ct.a, tenant, &sel, kind, p, now, &ct.l, out,
                                        &err);
}

static fv_def_config_patch keep_all(void)
{
    fv_def_config_patch p;
    memset(&p, 0, sizeof p);
    p.timeout_op = FV_PATCH_KEEP;
    p.retry_op = FV_PATCH_KEEP;
    p.tags_op = FV_PATCH_KEEP;
    return p;
}

/* What an operator configured survives every registration. */
static void test_definition_repo__configured_settings_untouched_by_registration(void)
{
    static const char *const ops[] = {"ops", NULL};
    static const char *const dev[] = {"dev", NULL};
    ct_reg g;
    ct_reg_init(&g, &ct.t1, "w", "h", "1", CT_T0);
    fv_capability *c = ct_reg_task(&g, "mail");
    c->has_timeout = true;
    c->timeout_seconds = 20;
    ct_register_ok(&g);

    fv_def_config_patch p = keep_all();
    p.timeout_op = FV_PATCH_SET;
    p.timeout_seconds = 99;
    p.tags_op = FV_PATCH_SET;
    p.tags = (fv_tags){ops, 1};
    fv_definition d;
    FV_ASSERT_INT_EQ(configure(FV_DEF_TASK, &ct.t1, no_space, "mail", &p, CT_T0, &d), FV_OK);

    ct_reg_init(&g, &ct.t1, "w", "h", "1", CT_T0 + SEC);
    c = ct_reg_task(&g, "mail");
    c->has_timeout = true;
    c->timeout_seconds = 30;
    c->tags = (fv_tags){dev, 1};
    c->has_retry_policy = true;
    c->retry_policy = retry_max(1);
    ct_register_ok(&g);
    ct_reg_init(&g, &ct.t1, "w2", "h", "1", CT_T0 + 2 * SEC);
    c = ct_reg_task(&g, "mail");
    c->has_timeout = true;
    c->timeout_seconds = 30;
    c->tags = (fv_tags){dev, 1};
    c->has_retry_policy = true;
    c->retry_policy = retry_max(1);
    ct_register_ok(&g);

    d = ct_get_def_ok(FV_DEF_TASK, &ct.t1, no_space, "mail", CT_T0 + 2 * SEC);
    CU_ASSERT(d.configured.has_timeout && d.configured.timeout_seconds == 99);
    CU_ASSERT(d.configured.has_tags && ct_tags_eq(&d.configured.tags, ops));
    CU_ASSERT(!d.configured.has_retry_policy);
    CU_ASSERT(d.declared.has_timeout && d.declared.timeout_seconds == 30);
    CU_ASSERT(d.declared.has_tags && ct_tags_eq(&d.declared.tags, dev));
    CU_ASSERT(d.declared.has_retry_policy);
}

/* configure: SET, CLEAR and KEEP per field; declared values never move. */
static void test_definition_repo__configure_set_clear_keep(void)
{
    static const char *const ops[] = {"ops", "eu", NULL};
    ct_reg g;
    ct_reg_init(&g, &ct.t1, "w", "h", "1", CT_T0);
    fv_capability *c = ct_reg_workflow(&g, "flow", "1.0.0", NULL);
    c->has_timeout = true;
    c->timeout_seconds = 30;
    c->tags = (fv_tags){tags_billing, 2};
    ct_register_ok(&g);

    fv_def_config_patch p = keep_all();
    p.timeout_op = FV_PATCH_SET;
    p.timeout_seconds = 10;
    p.retry_op = FV_PATCH_SET;
    p.retry_policy = retry3();
    p.tags_op = FV_PATCH_SET;
    p.tags = (fv_tags){ops, 2};
    fv_definition d;
    FV_ASSERT_INT_EQ(configure(FV_DEF_WORKFLOW, &ct.t1, no_space, "flow", &p, CT_T0 + SEC, &d),
                     FV_OK);
    fv_retry_policy want = retry3();
    FV_ASSERT_STR_EQ(d.kind, "flow");
    CU_ASSERT(d.configured.has_timeout && d.configured.timeout_seconds == 10);
    CU_ASSERT(d.configured.has_retry_policy && same_retry(&d.configured.retry_policy, &want));
    CU_ASSERT(d.configured.has_tags && ct_tags_eq(&d.configured.tags, ops));
    CU_ASSERT(d.declared.has_timeout && d.declared.timeout_seconds == 30);
    CU_ASSERT(!d.declared.has_retry_policy);
    CU_ASSERT(d.declared.has_tags && ct_tags_eq(&d.declared.tags, tags_billing));
    FV_ASSERT_INT_EQ(d.availability, FV_AVAIL_AVAILABLE);
    FV_ASSERT_INT_EQ(d.worker_count, 1);

    fv_definition got = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "flow", CT_T0 + SEC);
    CU_ASSERT(got.configured.has_timeout && got.configured.timeout_seconds == 10);
    CU_ASSERT(got.configured.has_retry_policy && same_retry(&got.configured.retry_policy, &want));
    CU_ASSERT(got.configured.has_tags && ct_tags_eq(&got.configured.tags, ops));
    FV_ASSERT_INT_EQ(got.last_registered_at, CT_T0);
    FV_ASSERT_INT_EQ(got.first_seen_at, CT_T0);

    p = keep_all();
    p.timeout_op = FV_PATCH_CLEAR;
    FV_ASSERT_INT_EQ(configure(FV_DEF_WORKFLOW, &ct.t1, no_space, "flow", &p, CT_T0 + SEC, &d),
                     FV_OK);
    CU_ASSERT(!d.configured.has_timeout);
    CU_ASSERT(d.configured.has_retry_policy && same_retry(&d.configured.retry_policy, &want));
    CU_ASSERT(d.configured.has_tags && ct_tags_eq(&d.configured.tags, ops));
    CU_ASSERT(d.declared.has_timeout && d.declared.timeout_seconds == 30);

    p = keep_all();
    FV_ASSERT_INT_EQ(configure(FV_DEF_WORKFLOW, &ct.t1, no_space, "flow", &p, CT_T0 + SEC, &d),
                     FV_OK);
    CU_ASSERT(!d.configured.has_timeout);
    CU_ASSERT(d.configured.has_retry_policy);
    CU_ASSERT(d.configured.has_tags);

    p = keep_all();
    p.retry_op = FV_PATCH_CLEAR;
    p.tags_op = FV_PATCH_CLEAR;
    FV_ASSERT_INT_EQ(configure(FV_DEF_WORKFLOW, &ct.t1, no_space, "flow", &p, CT_T0 + SEC, &d),
                     FV_OK);
    CU_ASSERT(!d.configured.has_timeout);
    CU_ASSERT(!d.configured.has_retry_policy);
    CU_ASSERT(!d.configured.has_tags);
    got = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "flow", CT_T0 + SEC);
    CU_ASSERT(!got.configured.has_timeout && !got.configured.has_retry_policy &&
              !got.configured.has_tags);
    CU_ASSERT(got.declared.has_tags && ct_tags_eq(&got.declared.tags, tags_billing));
}

/* configure: unknown kind, other tenant, other space, other class. */
static void test_definition_repo__configure_unknown_kind_not_found(void)
{
    static const char *const wf[] = {"flow", NULL};
    ct_worker(&ct.t1, no_space, "w", "1", CT_T0, wf, NULL);
    char *before = ct_snapshot(CT_T0);
    fv_def_config_patch p = keep_all();
    p.timeout_op = FV_PATCH_SET;
    p.timeout_seconds = 5;
    fv_definition d;
    FV_ASSERT_INT_EQ(configure(FV_DEF_WORKFLOW, &ct.t1, no_space, "nope", &p, CT_T0, &d),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(configure(FV_DEF_WORKFLOW, &ct.t2, no_space, "flow", &p, CT_T0, &d),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(configure(FV_DEF_WORKFLOW, &ct.t1, &ct.s1, "flow", &p, CT_T0, &d),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(configure(FV_DEF_TASK, &ct.t1, no_space, "flow", &p, CT_T0, &d),
                     FV_E_NOT_FOUND);
    FV_ASSERT_STR_EQ(ct_snapshot(CT_T0), before);
}

/* Availability and worker_count are derived at `now` from the effective
 * statuses of the linked workers. */
static void test_definition_repo__availability_derived_from_effective_statuses(void)
{
    static const char *const wf[] = {"flow", NULL};
    fv_uuid w1 = ct_worker(&ct.t1, no_space, "a", "1", CT_T0, wf, NULL);
    ct_worker(&ct.t1, no_space, "b", "1", CT_T0, wf, NULL);
    fv_definition d = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "flow", CT_T0);
    FV_ASSERT_INT_EQ(d.availability, FV_AVAIL_AVAILABLE);
    FV_ASSERT_INT_EQ(d.worker_count, 2);
    d = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "flow", CT_T0 + 50 * SEC);
    FV_ASSERT_INT_EQ(d.availability, FV_AVAIL_DEGRADED);
    FV_ASSERT_INT_EQ(d.worker_count, 2);
    d = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "flow", CT_T0 + 120 * SEC);
    FV_ASSERT_INT_EQ(d.availability, FV_AVAIL_UNAVAILABLE);
    FV_ASSERT_INT_EQ(d.worker_count, 0);

    fv_error err;
    FV_ASSERT_INT_EQ(fv_worker_repo_touch(ct.d.workers, &ct.t1, &w1, FV_SIGN_POLL,
                                          CT_T0 + 100 * SEC, FV_JSON_NONE, false, &err),
                     FV_OK);
    /* Definitions derive from stored signs of life (ports/worker_repo.h,
     * touch): an adapter that buffers touches makes them visible here by
     * its flush. */
    ct_flush();
    d = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "flow", CT_T0 + 120 * SEC);
    FV_ASSERT_INT_EQ(d.availability, FV_AVAIL_AVAILABLE);
    FV_ASSERT_INT_EQ(d.worker_count, 1);

    /* A fresh worker whose heartbeat says degraded counts as DEGRADED. */
    FV_ASSERT_INT_EQ(fv_worker_repo_touch(ct.d.workers, &ct.t1, &w1, FV_SIGN_HEARTBEAT,
                                          CT_T0 + 110 * SEC, FV_JSON_NONE, true, &err),
                     FV_OK);
    ct_flush();
    d = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "flow", CT_T0 + 120 * SEC);
    FV_ASSERT_INT_EQ(d.availability, FV_AVAIL_DEGRADED);
    FV_ASSERT_INT_EQ(d.worker_count, 1);

    /* An operator's OFFLINE holds until the worker shows life again. */
    ct_transition_ok(&ct.t1, &w1, FV_STATUS_ONLINE, FV_STATUS_OFFLINE, CT_T0 + 115 * SEC, "op");
    d = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "flow", CT_T0 + 120 * SEC);
    FV_ASSERT_INT_EQ(d.availability, FV_AVAIL_UNAVAILABLE);
    FV_ASSERT_INT_EQ(d.worker_count, 0);
}

static bool has_kind(const fv_definition_list *l, const char *kind)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].kind, kind) == 0)
            return true;
    return false;
}

static void test_definition_repo__list_filters_by_availability(void)
{
    const fv_time now = CT_T0 + 200 * SEC;
    static const char *const live[] = {"live", NULL};
    static const char *const slow[] = {"slow", NULL};
    static const char *const dead[] = {"dead", NULL};
    static const char *const orphan[] = {"orphan", NULL};
    ct_worker(&ct.t1, no_space, "a", "1", now - 10 * SEC, live, NULL);
    ct_worker(&ct.t1, no_space, "b", "1", now - 50 * SEC, slow, NULL);
    ct_worker(&ct.t1, no_space, "c", "1", now - 150 * SEC, dead, NULL);
    ct_worker(&ct.t1, no_space, "d", "1", now - 20 * SEC, orphan, NULL);
    ct_worker(&ct.t1, no_space, "d", "1", now - 10 * SEC, NULL, NULL); /* drops "orphan" */

    fv_definition_filter f = ct_def_filter(&ct.t1);
    f.has_availability = true;
    f.availability = FV_AVAIL_AVAILABLE;
    fv_definition_list l = ct_list_defs(FV_DEF_WORKFLOW, &f, now);
    FV_ASSERT_INT_EQ(l.total, 1);
    CU_ASSERT(l.n == 1 && has_kind(&l, "live"));
    f.availability = FV_AVAIL_DEGRADED;
    l = ct_list_defs(FV_DEF_WORKFLOW, &f, now);
    FV_ASSERT_INT_EQ(l.total, 1);
    CU_ASSERT(l.n == 1 && has_kind(&l, "slow"));
    CU_ASSERT_FATAL(l.n == 1);
    FV_ASSERT_INT_EQ(l.items[0].availability, FV_AVAIL_DEGRADED);
    f.availability = FV_AVAIL_UNAVAILABLE;
    l = ct_list_defs(FV_DEF_WORKFLOW, &f, now);
    FV_ASSERT_INT_EQ(l.total, 2);
    CU_ASSERT(l.n == 2 && has_kind(&l, "dead") && has_kind(&l, "orphan"));
}

/* The tag filter matches the effective tags: configured where set, else
 * declared; exact match. */
static void test_definition_repo__list_filters_by_effective_tag(void)
{
    static const char *const xy[] = {"x", "y", NULL};
    static const char *const x[] = {"x", NULL};
    static const char *const z[] = {"z", NULL};
    static const char *const xx[] = {"xx", NULL};
    ct_reg g;
    ct_reg_init(&g, &ct.t1, "w", "h", "1", CT_T0);
    ct_reg_task(&g, "a")->tags = (fv_tags){xy, 2};
    ct_reg_task(&g, "b")->tags = (fv_tags){x, 1};
    ct_reg_task(&g, "c");
    ct_reg_task(&g, "d")->tags = (fv_tags){z, 1};
    ct_reg_task(&g, "e")->tags = (fv_tags){xx, 1};
    ct_register_ok(&g);

    fv_definition d;
    fv_def_config_patch p = keep_all();
    p.tags_op = FV_PATCH_SET;
    p.tags = (fv_tags){z, 1};
    FV_ASSERT_INT_EQ(configure(FV_DEF_TASK, &ct.t1, no_space, "b", &p, CT_T0, &d), FV_OK);
    p.tags = (fv_tags){x, 1};
    FV_ASSERT_INT_EQ(configure(FV_DEF_TASK, &ct.t1, no_space, "c", &p, CT_T0, &d), FV_OK);
    FV_ASSERT_INT_EQ(configure(FV_DEF_TASK, &ct.t1, no_space, "d", &p, CT_T0, &d), FV_OK);
    p.tags_op = FV_PATCH_CLEAR;
    FV_ASSERT_INT_EQ(configure(FV_DEF_TASK, &ct.t1, no_space, "d", &p, CT_T0, &d), FV_OK);

    fv_definition_filter f = ct_def_filter(&ct.t1);
    f.tag = "x";
    fv_definition_list l = ct_list_defs(FV_DEF_TASK, &f, CT_T0);
    FV_ASSERT_INT_EQ(l.total, 2);
    CU_ASSERT(l.n == 2 && has_kind(&l, "a") && has_kind(&l, "c"));
    f.tag = "z";
    l = ct_list_defs(FV_DEF_TASK, &f, CT_T0);
    FV_ASSERT_INT_EQ(l.total, 2);
    CU_ASSERT(l.n == 2 && has_kind(&l, "b") && has_kind(&l, "d"));
    f.tag = "y";
    l = ct_list_defs(FV_DEF_TASK, &f, CT_T0);
    CU_ASSERT(l.n == 1 && has_kind(&l, "a"));
    f.tag = "nope";
    l = ct_list_defs(FV_DEF_TASK, &f, CT_T0);
    CU_ASSERT(l.n == 0 && l.total == 0);
    f.tag = NULL;
    l = ct_list_defs(FV_DEF_TASK, &f, CT_T0);
    FV_ASSERT_INT_EQ(l.total, 5);
}

static void test_definition_repo__list_filters_by_space(void)
{
    static const char *const top[] = {"top", NULL};
    static const char *const one[] = {"one", NULL};
    static const char *const two[] = {"two", NULL};
    ct_worker(&ct.t1, no_space, "a", "1", CT_T0, top, NULL);
    ct_worker(&ct.t1, &ct.s1, "b", "1", CT_T0, one, NULL);
    ct_worker(&ct.t1, &ct.s2, "c", "1", CT_T0, two, NULL);
    ct_worker(&ct.t2, no_space, "d", "1", CT_T0, top, NULL);
    fv_definition_filter f = ct_def_filter(&ct.t1);
    fv_definition_list l = ct_list_defs(FV_DEF_WORKFLOW, &f, CT_T0);
    FV_ASSERT_INT_EQ(l.total, 3);
    f.space = ct_sel_none();
    l = ct_list_defs(FV_DEF_WORKFLOW, &f, CT_T0);
    CU_ASSERT(l.total == 1 && l.n == 1 && has_kind(&l, "top"));
    f.space = ct_sel_id(&ct.s1);
    l = ct_list_defs(FV_DEF_WORKFLOW, &f, CT_T0);
    CU_ASSERT(l.total == 1 && l.n == 1 && has_kind(&l, "one"));
    f.space = ct_sel_id(&ct.s2);
    l = ct_list_defs(FV_DEF_WORKFLOW, &f, CT_T0);
    CU_ASSERT(l.total == 1 && l.n == 1 && has_kind(&l, "two"));
}

static void test_definition_repo__list_paginates_with_total(void)
{
    static const char *const kinds[] = {"k5", "k4", "k3", "k2", "k1", NULL};
    ct_worker(&ct.t1, no_space, "w", "1", CT_T0, kinds, NULL);
    ct_worker(&ct.t2, no_space, "w", "1", CT_T0, kinds, NULL);
    fv_definition_filter f = ct_def_filter(&ct.t1);
    fv_error err;
    fv_definition_list l;
    const char *want[] = {"k1", "k2", "k3", "k4", "k5"};
    size_t k = 0;
    for (int64_t off = 0; off < 6; off += 2) {
        fv_page page = {2, off};
        FV_ASSERT_INT_EQ(
            fv_definition_repo_list(ct.d.workflow_defs, &ct.a, &f, page, CT_T0, &ct.l, &l, &err),
            FV_OK);
        FV_ASSERT_INT_EQ(l.total, 5);
        FV_ASSERT_INT_EQ(l.n, off < 4 ? 2 : 1);
        for (size_t i = 0; i < l.n && k < 5; i++, k++)
            FV_ASSERT_STR_EQ(l.items[i].kind, want[k]);
    }
    FV_ASSERT_INT_EQ(k, 5);
    fv_page beyond = {50, 50};
    FV_ASSERT_INT_EQ(
        fv_definition_repo_list(ct.d.workflow_defs, &ct.a, &f, beyond, CT_T0, &ct.l, &l, &err),
        FV_OK);
    FV_ASSERT_INT_EQ(l.n, 0);
    FV_ASSERT_INT_EQ(l.total, 5);
}

/* Lists are ordered by kind, tenant-level before spaces, then id. */
static void test_definition_repo__list_ordered_by_kind_then_space_then_id(void)
{
    const struct {
        const char *kind;
        const fv_uuid *space;
        uint32_t id;
    } rows[] = {
        {"b", NULL, 3}, {"a", &ct.s1, 2}, {"a", NULL, 9}, {"c", NULL, 4}, {"a", &ct.s2, 1},
    };
    for (size_t i = 0; i < FV_TEST_COUNT(rows); i++) {
        ct_reg g;
        ct_reg_init(&g, &ct.t1, "w", "h", rows[i].kind, CT_T0);
        g.r.worker.space = ct_space(rows[i].space);
        ct_reg_workflow(&g, rows[i].kind, "1.0.0", NULL);
        g.wf_ids[0] = ct_uuid(CT_K_DEF, rows[i].id);
        ct_register_ok(&g);
    }
    fv_definition_filter f = ct_def_filter(&ct.t1);
    fv_definition_list l = ct_list_defs(FV_DEF_WORKFLOW, &f, CT_T0);
    CU_ASSERT_FATAL(l.n == 5);
    const uint32_t want[] = {9, 1, 2, 3, 4};
    for (size_t i = 0; i < 5; i++) {
        fv_uuid id = ct_uuid(CT_K_DEF, want[i]);
        CU_ASSERT(fv_uuid_eq(&l.items[i].id, &id));
    }
    FV_ASSERT_STR_EQ(l.items[0].kind, "a");
    CU_ASSERT(!l.items[0].space.has);
    FV_ASSERT_STR_EQ(l.items[3].kind, "b");
    FV_ASSERT_STR_EQ(l.items[4].kind, "c");
}

static void test_definition_repo__other_tenant_not_found(void)
{
    static const char *const wf[] = {"flow", NULL};
    ct_worker(&ct.t1, no_space, "w", "1", CT_T0, wf, wf);
    fv_definition d;
    FV_ASSERT_INT_EQ(ct_get_def(FV_DEF_WORKFLOW, &ct.t2, no_space, "flow", CT_T0, &d),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(ct_get_def(FV_DEF_TASK, &ct.t2, no_space, "flow", CT_T0, &d), FV_E_NOT_FOUND);
    fv_definition_filter f = ct_def_filter(&ct.t2);
    fv_definition_list l = ct_list_defs(FV_DEF_WORKFLOW, &f, CT_T0);
    CU_ASSERT(l.n == 0 && l.total == 0);
    l = ct_list_defs(FV_DEF_TASK, &f, CT_T0);
    CU_ASSERT(l.n == 0 && l.total == 0);
    FV_ASSERT_INT_EQ(ct_get_def(FV_DEF_WORKFLOW, &ct.t1, no_space, "nope", CT_T0, &d),
                     FV_E_NOT_FOUND);
}

static const fv_availability_change *find_change(const fv_availability_change_list *l,
                                                 const fv_uuid *def)
{
    for (size_t i = 0; i < l->n; i++)
        if (fv_uuid_eq(&l->items[i].definition_id, def))
            return &l->items[i];
    return NULL;
}

/* refresh_availability follows stored statuses and reports only the
 * definitions whose stored value changed, in every tenant. */
static void test_definition_repo__refresh_availability_returns_only_changed(void)
{
    static const char *const one[] = {"one", NULL};
    static const char *const two[] = {"two", NULL};
    static const char *const task[] = {"job", NULL};
    fv_uuid w1 = ct_worker(&ct.t1, no_space, "a", "1", CT_T0, one, task);
    fv_uuid w2 = ct_worker(&ct.t1, no_space, "b", "1", CT_T0, two, NULL);
    fv_uuid w3 = ct_worker(&ct.t2, no_space, "c", "1", CT_T0, one, NULL);
    fv_definition d1 = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "one", CT_T0);
    fv_definition d2 = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "two", CT_T0);
    fv_definition d3 = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t2, no_space, "one", CT_T0);
    fv_definition dj = ct_get_def_ok(FV_DEF_TASK, &ct.t1, no_space, "job", CT_T0);

    fv_availability_change_list ch;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_definition_repo_refresh_availability(ct.d.workflow_defs, &ct.a, &ch, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(ch.n, 0);

    ct_transition_ok(&ct.t1, &w1, FV_STATUS_ONLINE, FV_STATUS_OFFLINE, CT_T0 + SEC, "x");
    ct_transition_ok(&ct.t2, &w3, FV_STATUS_ONLINE, FV_STATUS_DEGRADED, CT_T0 + SEC, "x");
    FV_ASSERT_INT_EQ(fv_definition_repo_refresh_availability(ct.d.workflow_defs, &ct.a, &ch, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(ch.n, 2);
    const fv_availability_change *c1 = find_change(&ch, &d1.id);
    CU_ASSERT_FATAL(c1 != NULL);
    FV_ASSERT_INT_EQ(c1->cls, FV_DEF_WORKFLOW);
    FV_ASSERT_STR_EQ(c1->kind, "one");
    FV_ASSERT_INT_EQ(c1->from, FV_AVAIL_AVAILABLE);
    FV_ASSERT_INT_EQ(c1->to, FV_AVAIL_UNAVAILABLE);
    const fv_availability_change *c3 = find_change(&ch, &d3.id);
    CU_ASSERT_FATAL(c3 != NULL);
    FV_ASSERT_INT_EQ(c3->from, FV_AVAIL_AVAILABLE);
    FV_ASSERT_INT_EQ(c3->to, FV_AVAIL_DEGRADED);
    CU_ASSERT(find_change(&ch, &d2.id) == NULL);

    /* Nothing changed since: nothing to report. */
    FV_ASSERT_INT_EQ(fv_definition_repo_refresh_availability(ct.d.workflow_defs, &ct.a, &ch, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(ch.n, 0);

    /* The task repository refreshes its own class. */
    FV_ASSERT_INT_EQ(fv_definition_repo_refresh_availability(ct.d.task_defs, &ct.a, &ch, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(ch.n, 1);
    CU_ASSERT_FATAL(ch.n == 1);
    CU_ASSERT(fv_uuid_eq(&ch.items[0].definition_id, &dj.id));
    FV_ASSERT_INT_EQ(ch.items[0].cls, FV_DEF_TASK);
    FV_ASSERT_INT_EQ(ch.items[0].to, FV_AVAIL_UNAVAILABLE);

    ct_transition_ok(&ct.t1, &w2, FV_STATUS_ONLINE, FV_STATUS_DEGRADED, CT_T0 + 2 * SEC, "x");
    FV_ASSERT_INT_EQ(fv_definition_repo_refresh_availability(ct.d.workflow_defs, &ct.a, &ch, &err),
                     FV_OK);
    CU_ASSERT_FATAL(ch.n == 1);
    CU_ASSERT(fv_uuid_eq(&ch.items[0].definition_id, &d2.id));
    FV_ASSERT_INT_EQ(ch.items[0].from, FV_AVAIL_AVAILABLE);
    FV_ASSERT_INT_EQ(ch.items[0].to, FV_AVAIL_DEGRADED);
}

/* Registration recomputes the stored availability of what it links. */
static void test_definition_repo__registration_recomputes_stored_availability(void)
{
    static const char *const wf[] = {"flow", NULL};
    fv_uuid w = ct_worker(&ct.t1, no_space, "a", "1", CT_T0, wf, NULL);
    ct_transition_ok(&ct.t1, &w, FV_STATUS_ONLINE, FV_STATUS_OFFLINE, CT_T0 + 100 * SEC, "gone");
    fv_availability_change_list ch;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_definition_repo_refresh_availability(ct.d.workflow_defs, &ct.a, &ch, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(ch.n, 1); /* stored now UNAVAILABLE */
    ct_worker(&ct.t1, no_space, "a", "1", CT_T0 + 200 * SEC, wf, NULL);
    FV_ASSERT_INT_EQ(fv_definition_repo_refresh_availability(ct.d.workflow_defs, &ct.a, &ch, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(ch.n, 0);
    /* A new worker on a new kind: stored AVAILABLE from the start. */
    static const char *const nw[] = {"fresh", NULL};
    ct_worker(&ct.t1, no_space, "b", "1", CT_T0 + 200 * SEC, nw, NULL);
    FV_ASSERT_INT_EQ(fv_definition_repo_refresh_availability(ct.d.workflow_defs, &ct.a, &ch, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(ch.n, 0);
}

/* Results are copies in the caller's arena; the store copies its input. */
static void test_definition_repo__results_live_in_callers_arena(void)
{
    char *tag = fv_strdup("heap-tag");
    char *schema = fv_strdup("{\"s\":1}");
    CU_ASSERT_FATAL(tag != NULL && schema != NULL);
    const char *tags[] = {tag};
    ct_reg g;
    ct_reg_init(&g, &ct.t1, "w", "h", "1", CT_T0);
    fv_capability *c = ct_reg_workflow(&g, "flow", "1.0.0", NULL);
    c->tags = (fv_tags){tags, 1};
    c->input_schema = ct_json(schema);
    ct_register_ok(&g);
    char *otag = fv_strdup("op-tag");
    CU_ASSERT_FATAL(otag != NULL);
    const char *otags[] = {otag};
    fv_def_config_patch p = keep_all();
    p.tags_op = FV_PATCH_SET;
    p.tags = (fv_tags){otags, 1};
    fv_definition d;
    FV_ASSERT_INT_EQ(configure(FV_DEF_WORKFLOW, &ct.t1, no_space, "flow", &p, CT_T0, &d), FV_OK);
    memset(tag, 'X', strlen(tag));
    memset(schema, 'X', strlen(schema));
    memset(otag, 'X', strlen(otag));
    fv_free(tag);
    fv_free(schema);
    fv_free(otag);

    fv_arena mine;
    fv_arena_init(&mine, 0);
    fv_space_sel none = ct_sel_none();
    fv_error err;
    FV_ASSERT_INT_EQ(fv_definition_repo_get(ct.d.workflow_defs, &mine, &ct.t1, &none, "flow", CT_T0,
                                            &ct.l, &d, &err),
                     FV_OK);
    CU_ASSERT_FATAL(d.declared.tags.n == 1 && d.configured.tags.n == 1);
    FV_ASSERT_STR_EQ(d.declared.tags.v[0], "heap-tag");
    FV_ASSERT_STR_EQ(d.configured.tags.v[0], "op-tag");
    CU_ASSERT(ct_json_eq(d.input_schema, "{\"s\":1}"));

    /* Change the store; the copies stay. */
    static const char *const later[] = {"later", NULL};
    ct_reg_init(&g, &ct.t1, "w", "h", "1", CT_T0 + SEC);
    c = ct_reg_workflow(&g, "flow", "2.0.0", NULL);
    c->tags = (fv_tags){later, 1};
    ct_register_ok(&g);
    p.tags = (fv_tags){later, 1};
    fv_definition d2;
    FV_ASSERT_INT_EQ(configure(FV_DEF_WORKFLOW, &ct.t1, no_space, "flow", &p, CT_T0, &d2), FV_OK);
    FV_ASSERT_STR_EQ(d.declared.tags.v[0], "heap-tag");
    FV_ASSERT_STR_EQ(d.configured.tags.v[0], "op-tag");
    FV_ASSERT_STR_EQ(d.latest_version, "1.0.0");
    fv_arena_release(&mine);

    d = ct_get_def_ok(FV_DEF_WORKFLOW, &ct.t1, no_space, "flow", CT_T0 + SEC);
    CU_ASSERT(ct_tags_eq(&d.declared.tags, later));
    CU_ASSERT(ct_tags_eq(&d.configured.tags, later));
    FV_ASSERT_STR_EQ(d.latest_version, "2.0.0");
    CU_ASSERT(ct_json_eq(d.input_schema, NULL));
}

/* Metrics: definitions of each class in every tenant by availability
 * derived at `now` from the effective statuses of their linked workers
 * (a definition left without workers is UNAVAILABLE). */
static void test_definition_repo__count_by_availability_across_tenants(void)
{
    CU_ASSERT_FATAL(ct.d.workflow_defs.ops->count_by_availability != NULL);
    CU_ASSERT_FATAL(ct.d.task_defs.ops->count_by_availability != NULL);
    fv_availability_counts wc, tc;
    fv_error err;
    FV_ASSERT_INT_EQ(
        fv_definition_repo_count_by_availability(ct.d.workflow_defs, CT_T0, &ct.l, &wc, &err),
        FV_OK);
    FV_ASSERT_INT_EQ(wc.available + wc.degraded + wc.unavailable, 0);

    static const char *const flow[] = {"flow", NULL};
    static const char *const orphan[] = {"orphan", NULL};
    static const char *const ta[] = {"t-a", NULL};
    static const char *const tb[] = {"t-b", NULL};
    ct_worker(&ct.t1, no_space, "w1", "1", CT_T0, flow, ta);
    fv_uuid w2 = ct_worker(&ct.t1, no_space, "w2", "1", CT_T0, flow, NULL);
    ct_worker(&ct.t2, no_space, "w3", "1", CT_T0 - 100 * SEC, flow, NULL);
    fv_uuid w4 = ct_worker(&ct.t2, no_space, "w4", "1", CT_T0 + 45 * SEC, NULL, tb);
    fv_uuid w5 = ct_worker(&ct.t1, no_space, "w5", "1", CT_T0 + 45 * SEC, orphan, NULL);
    FV_ASSERT_INT_EQ(fv_worker_repo_touch(ct.d.workers, &ct.t1, &w2, FV_SIGN_POLL, CT_T0 + 40 * SEC,
                                          FV_JSON_NONE, false, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(fv_worker_repo_touch(ct.d.workers, &ct.t2, &w4, FV_SIGN_HEARTBEAT,
                                          CT_T0 + 46 * SEC, FV_JSON_NONE, true, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(fv_worker_repo_remove(ct.d.workers, &ct.t1, &w5, &err), FV_OK);
    ct_flush(); /* definitions see stored signs of life */

    /* At +50 s: flow of T1 has w2 ONLINE (AVAILABLE); flow of T2 only w3,
     * OFFLINE (UNAVAILABLE); orphan has no worker (UNAVAILABLE); t-a has w1,
     * silent 50 s (DEGRADED); t-b has w4, whose health says degraded. */
    fv_time now = CT_T0 + 50 * SEC;
    FV_ASSERT_INT_EQ(
        fv_definition_repo_count_by_availability(ct.d.workflow_defs, now, &ct.l, &wc, &err), FV_OK);
    FV_ASSERT_INT_EQ(wc.available, 1);
    FV_ASSERT_INT_EQ(wc.degraded, 0);
    FV_ASSERT_INT_EQ(wc.unavailable, 2);
    FV_ASSERT_INT_EQ(
        fv_definition_repo_count_by_availability(ct.d.task_defs, now, &ct.l, &tc, &err), FV_OK);
    FV_ASSERT_INT_EQ(tc.available, 0);
    FV_ASSERT_INT_EQ(tc.degraded, 2);
    FV_ASSERT_INT_EQ(tc.unavailable, 0);

    /* Everyone silent: every definition UNAVAILABLE, none forgotten. */
    now = CT_T0 + 500 * SEC;
    FV_ASSERT_INT_EQ(
        fv_definition_repo_count_by_availability(ct.d.workflow_defs, now, &ct.l, &wc, &err), FV_OK);
    FV_ASSERT_INT_EQ(wc.available + wc.degraded, 0);
    FV_ASSERT_INT_EQ(wc.unavailable, 3);
    FV_ASSERT_INT_EQ(
        fv_definition_repo_count_by_availability(ct.d.task_defs, now, &ct.l, &tc, &err), FV_OK);
    FV_ASSERT_INT_EQ(tc.available + tc.degraded, 0);
    FV_ASSERT_INT_EQ(tc.unavailable, 2);
}

const fv_test_case ct_definition_cases[] = {
    FV_TEST_CASE(test_definition_repo__registration_creates_definition),
    FV_TEST_CASE(test_definition_repo__declared_fields_replaced_by_latest_registration),
    FV_TEST_CASE(test_definition_repo__latest_version_is_highest_semver),
    FV_TEST_CASE(test_definition_repo__same_kind_without_space_is_one_definition),
    FV_TEST_CASE(test_definition_repo__space_and_tenant_scope_definitions),
    FV_TEST_CASE(test_definition_repo__configured_settings_untouched_by_registration),
    FV_TEST_CASE(test_definition_repo__configure_set_clear_keep),
    FV_TEST_CASE(test_definition_repo__configure_unknown_kind_not_found),
    FV_TEST_CASE(test_definition_repo__availability_derived_from_effective_statuses),
    FV_TEST_CASE(test_definition_repo__list_filters_by_availability),
    FV_TEST_CASE(test_definition_repo__list_filters_by_effective_tag),
    FV_TEST_CASE(test_definition_repo__list_filters_by_space),
    FV_TEST_CASE(test_definition_repo__list_paginates_with_total),
    FV_TEST_CASE(test_definition_repo__list_ordered_by_kind_then_space_then_id),
    FV_TEST_CASE(test_definition_repo__other_tenant_not_found),
    FV_TEST_CASE(test_definition_repo__refresh_availability_returns_only_changed),
    FV_TEST_CASE(test_definition_repo__registration_recomputes_stored_availability),
    FV_TEST_CASE(test_definition_repo__results_live_in_callers_arena),
    FV_TEST_CASE(test_definition_repo__count_by_availability_across_tenants),
};
const size_t ct_definition_cases_n = FV_TEST_COUNT(ct_definition_cases);
