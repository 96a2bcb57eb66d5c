/*
 * The pure domain rules: effective status, availability, effective settings,
 * configuration patches, value validators, registration request validation,
 * enum names, slugs and liveness thresholds. No store involved.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/definition.h"
#include "core/registration.h"
#include "core/tenant.h"
#include "core/util/arena.h"
#include "core/util/error.h"
#include "core/worker.h"
#include "tests/support/cunit_main.h"
#include "tests/support/fixture.h"

#define T0 FV_FIXTURE_T0

static const fv_liveness live = {45000, 60000, 86400000};

/* A worker registered at `seen` (status ONLINE written then). */
static fv_worker worker_seen_at(fv_time seen)
{
    fv_worker w;
    memset(&w, 0, sizeof w);
    w.status = FV_STATUS_ONLINE;
    w.registered_at = w.last_heartbeat_at = w.last_seen_at = w.status_changed_at = seen;
    return w;
}

static bool msg_has(const fv_error *e, const char *needle)
{
    return strstr(e->msg, needle) != NULL;
}

/* ---------------------------------------------------------------------- */
/* Effective status                                                       */
/* ---------------------------------------------------------------------- */

static void test_domain__effective_status_follows_the_age_of_the_last_sign_of_life(void)
{
    fv_worker w = worker_seen_at(T0);
    FV_ASSERT_INT_EQ(fv_worker_effective_status(&w, T0, &live), FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(fv_worker_effective_status(&w, T0 + 45000, &live), FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(fv_worker_effective_status(&w, T0 + 45001, &live), FV_STATUS_DEGRADED);
    FV_ASSERT_INT_EQ(fv_worker_effective_status(&w, T0 + 60000, &live), FV_STATUS_DEGRADED);
    FV_ASSERT_INT_EQ(fv_worker_effective_status(&w, T0 + 60001, &live), FV_STATUS_OFFLINE);
    FV_ASSERT_INT_EQ(fv_worker_effective_status(&w, T0 + 86400000, &live), FV_STATUS_OFFLINE);
}

static void test_domain__effective_status_uses_the_configured_thresholds(void)
{
    fv_liveness l = {1000, 2000, 0};
    fv_worker w = worker_seen_at(T0);
    FV_ASSERT_INT_EQ(fv_worker_effective_status(&w, T0 + 1000, &l), FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(fv_worker_effective_status(&w, T0 + 1001, &l), FV_STATUS_DEGRADED);
    FV_ASSERT_INT_EQ(fv_worker_effective_status(&w, T0 + 2001, &l), FV_STATUS_OFFLINE);
}

static void test_domain__effective_status_of_a_fresh_worker_with_degraded_health_is_degraded(void)
{
    fv_worker w = worker_seen_at(T0);
    w.last_seen_at = w.last_heartbeat_at = T0 + 5000;
    w.health_degraded = true;
    FV_ASSERT_INT_EQ(fv_worker_effective_status(&w, T0 + 6000, &live), FV_STATUS_DEGRADED);
    /* Silence still wins over health. */
    FV_ASSERT_INT_EQ(fv_worker_effective_status(&w, T0 + 5000 + 60001, &live), FV_STATUS_OFFLINE);
}

static void test_domain__effective_status_reports_the_worse_of_stored_and_derived(void)
{
    /* A stale ONLINE never shows: stored ONLINE, silent for 61 s. */
    fv_worker w = worker_seen_at(T0);
    FV_ASSERT_INT_EQ(fv_worker_effective_status(&w, T0 + 61000, &live), FV_STATUS_OFFLINE);

    /* Stored DEGRADED by the job, no newer sign of life, still fresh by age
     * (thresholds changed): the stored status is worse and shows. */
    w.status = FV_STATUS_DEGRADED;
    w.status_changed_at = T0 + 46000;
    FV_ASSERT_INT_EQ(fv_worker_effective_status(&w, T0 + 50000, &live), FV_STATUS_DEGRADED);
    fv_liveness lax = {100000, 200000, 0};
    FV_ASSERT_INT_EQ(fv_worker_effective_status(&w, T0 + 50000, &lax), FV_STATUS_DEGRADED);
}

static void test_domain__operator_status_holds_until_a_new_sign_of_life(void)
{
    /* The operator set OFFLINE one second after the last sign of life. */
    fv_worker w = worker_seen_at(T0);
    w.status = FV_STATUS_OFFLINE;
    w.status_changed_at = T0 + 1000;
    FV_ASSERT_INT_EQ(fv_worker_effective_status(&w, T0 + 1000, &live), FV_STATUS_OFFLINE);
    FV_ASSERT_INT_EQ(fv_worker_effective_status(&w, T0 + 30000, &live), FV_STATUS_OFFLINE);

    /* An operator DEGRADED on a fresh worker shows DEGRADED, and it does not
     * hide a worse derived status later. */
    w.status = FV_STATUS_DEGRADED;
    FV_ASSERT_INT_EQ(fv_worker_effective_status(&w, T0 + 2000, &live), FV_STATUS_DEGRADED);
    FV_ASSERT_INT_EQ(fv_worker_effective_status(&w, T0 + 60001, &live), FV_STATUS_OFFLINE);

    /* A new sign of life after the change wins outright. */
    w.status = FV_STATUS_OFFLINE;
    w.last_seen_at = T0 + 1001;
    FV_ASSERT_INT_EQ(fv_worker_effective_status(&w, T0 + 2000, &live), FV_STATUS_ONLINE);
    w.health_degraded = true;
    FV_ASSERT_INT_EQ(fv_worker_effective_status(&w, T0 + 2000, &live), FV_STATUS_DEGRADED);
    w.health_degraded = false;
    FV_ASSERT_INT_EQ(fv_worker_effective_status(&w, T0 + 1001 + 45001, &live), FV_STATUS_DEGRADED);

    /* Stored OFFLINE by the job, then a heartbeat: ONLINE before activation. */
    fv_worker j = worker_seen_at(T0);
    j.status = FV_STATUS_OFFLINE;
    j.status_changed_at = T0 + 61000;
    j.last_seen_at = j.last_heartbeat_at = T0 + 70000;
    FV_ASSERT_INT_EQ(fv_worker_effective_status(&j, T0 + 70000, &live), FV_STATUS_ONLINE);
}

/* ---------------------------------------------------------------------- */
/* Availability, effective settings, patches                              */
/* ---------------------------------------------------------------------- */

static void test_domain__availability_from_counts(void)
{
    FV_ASSERT_INT_EQ(fv_availability_from_counts(0, 0), FV_AVAIL_UNAVAILABLE);
    FV_ASSERT_INT_EQ(fv_availability_from_counts(1, 0), FV_AVAIL_AVAILABLE);
    FV_ASSERT_INT_EQ(fv_availability_from_counts(1, 7), FV_AVAIL_AVAILABLE);
    FV_ASSERT_INT_EQ(fv_availability_from_counts(0, 1), FV_AVAIL_DEGRADED);
    FV_ASSERT_INT_EQ(fv_availability_from_counts(0, 3), FV_AVAIL_DEGRADED);
    FV_ASSERT_INT_EQ(fv_availability_from_counts(8, 0), FV_AVAIL_AVAILABLE);
}

static const char *const declared_tags[] = {"declared"};
static const char *const ops_tags[] = {"ops", "critical"};

static fv_definition def_with_declared(void)
{
    fv_definition d;
    memset(&d, 0, sizeof d);
    d.cls = FV_DEF_TASK;
    d.kind = "task-0";
    d.declared.has_timeout = true;
    d.declared.timeout_seconds = 30;
    d.declared.has_retry_policy = true;
    d.declared.retry_policy = (fv_retry_policy){.set = FV_RETRY_HAS_MAX_RETRIES, .max_retries = 2};
    d.declared.has_tags = true;
    d.declared.tags = (fv_tags){declared_tags, 1};
    return d;
}

static void test_domain__definition_effective_prefers_configured_values(void)
{
    fv_definition d = def_with_declared();
    fv_def_settings e = fv_definition_effective(&d);
    CU_ASSERT_TRUE(e.has_timeout);
    FV_ASSERT_INT_EQ(e.timeout_seconds, 30);
    FV_ASSERT_INT_EQ(e.retry_policy.max_retries, 2);
    FV_ASSERT_INT_EQ(e.tags.n, 1);
    FV_ASSERT_STR_EQ(e.tags.v[0], "declared");

    d.configured.has_timeout = true;
    d.configured.timeout_seconds = 120;
    e = fv_definition_effective(&d);
    FV_ASSERT_INT_EQ(e.timeout_seconds, 120);
    FV_ASSERT_INT_EQ(e.retry_policy.max_retries, 2); /* not overridden */
    FV_ASSERT_STR_EQ(e.tags.v[0], "declared");

    d.configured.has_retry_policy = true;
    d.configured.retry_policy =
        (fv_retry_policy){.set = FV_RETRY_HAS_MAX_RETRIES, .max_retries = 7};
    d.configured.has_tags = true;
    d.configured.tags = (fv_tags){ops_tags, 2};
    e = fv_definition_effective(&d);
    FV_ASSERT_INT_EQ(e.retry_policy.max_retries, 7);
    FV_ASSERT_INT_EQ(e.tags.n, 2);
    FV_ASSERT_STR_EQ(e.tags.v[0], "ops");
    /* Declared values are untouched. */
    FV_ASSERT_INT_EQ(d.declared.timeout_seconds, 30);
    FV_ASSERT_INT_EQ(d.declared.retry_policy.max_retries, 2);

    /* Nothing declared, nothing configured: nothing effective. */
    fv_definition empty;
    memset(&empty, 0, sizeof empty);
    e = fv_definition_effective(&empty);
    CU_ASSERT_FALSE(e.has_timeout);
    CU_ASSERT_FALSE(e.has_retry_policy);
    CU_ASSERT_FALSE(e.has_tags);

    /* A configured value without a declared one. */
    empty.configured.has_timeout = true;
    empty.configured.timeout_seconds = 9;
    e = fv_definition_effective(&empty);
    CU_ASSERT_TRUE(e.has_timeout);
    FV_ASSERT_INT_EQ(e.timeout_seconds, 9);
}

static void test_domain__config_patch_validate_checks_set_fields_only(void)
{
    fv_error e;
    fv_def_config_patch p;
    memset(&p, 0, sizeof p);
    FV_ASSERT_INT_EQ(fv_def_config_patch_validate(&p, &e), FV_OK); /* all KEEP */

    /* KEEP and CLEAR ignore the values that come with them. */
    p.timeout_op = FV_PATCH_CLEAR;
    p.timeout_seconds = -5;
    p.retry_op = FV_PATCH_KEEP;
    p.retry_policy = (fv_retry_policy){.set = FV_RETRY_HAS_MAX_RETRIES, .max_retries = 99};
    FV_ASSERT_INT_EQ(fv_def_config_patch_validate(&p, &e), FV_OK);

    p.timeout_op = FV_PATCH_SET;
    p.timeout_seconds = 0;
    FV_ASSERT_INT_EQ(fv_def_config_patch_validate(&p, &e), FV_E_INVALID);
    FV_ASSERT_INT_EQ(e.code, FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "timeoutSeconds"));
    p.timeout_seconds = FV_TIMEOUT_MAX_SECONDS + 1;
    FV_ASSERT_INT_EQ(fv_def_config_patch_validate(&p, &e), FV_E_INVALID);
    p.timeout_seconds = FV_TIMEOUT_MAX_SECONDS;
    FV_ASSERT_INT_EQ(fv_def_config_patch_validate(&p, &e), FV_OK);

    p.retry_op = FV_PATCH_SET;
    FV_ASSERT_INT_EQ(fv_def_config_patch_validate(&p, &e), FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "retryPolicy"));
    p.retry_policy = (fv_retry_policy){.set = FV_RETRY_HAS_BACKOFF, .backoff_coefficient = 0.5};
    FV_ASSERT_INT_EQ(fv_def_config_patch_validate(&p, &e), FV_E_INVALID);
    p.retry_policy = (fv_retry_policy){.set = FV_RETRY_HAS_MAX_RETRIES, .max_retries = 10};
    FV_ASSERT_INT_EQ(fv_def_config_patch_validate(&p, &e), FV_OK);

    fv_arena a;
    fv_arena_init(&a, 0);
    p.tags_op = FV_PATCH_SET;
    p.tags = fv_fixture_tags(&a, FV_TAGS_MAX + 1);
    FV_ASSERT_INT_EQ(fv_def_config_patch_validate(&p, &e), FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "tags"));
    p.tags = fv_fixture_tags(&a, FV_TAGS_MAX);
    FV_ASSERT_INT_EQ(fv_def_config_patch_validate(&p, &e), FV_OK);
    const char *long_tag[] = {fv_fixture_str(&a, 't', FV_TAG_MAX + 1)};
    p.tags = (fv_tags){long_tag, 1};
    FV_ASSERT_INT_EQ(fv_def_config_patch_validate(&p, &e), FV_E_INVALID);
    const char *empty_tag[] = {""};
    p.tags = (fv_tags){empty_tag, 1};
    FV_ASSERT_INT_EQ(fv_def_config_patch_validate(&p, &e), FV_E_INVALID);
    p.tags = (fv_tags){NULL, 0}; /* SET to no tags at all is valid */
    FV_ASSERT_INT_EQ(fv_def_config_patch_validate(&p, &e), FV_OK);
    fv_arena_release(&a);
}

static void test_domain__config_patch_apply_sets_clears_and_keeps(void)
{
    fv_def_settings c;
    memset(&c, 0, sizeof c);
    fv_def_config_patch p;
    memset(&p, 0, sizeof p);
    p.timeout_op = FV_PATCH_SET;
    p.timeout_seconds = 120;
    p.retry_op = FV_PATCH_SET;
    p.retry_policy = (fv_retry_policy){.set = FV_RETRY_HAS_MAX_RETRIES, .max_retries = 4};
    p.tags_op = FV_PATCH_SET;
    p.tags = (fv_tags){ops_tags, 2};
    fv_def_config_patch_apply(&p, &c);
    CU_ASSERT_TRUE(c.has_timeout && c.has_retry_policy && c.has_tags);
    FV_ASSERT_INT_EQ(c.timeout_seconds, 120);
    FV_ASSERT_INT_EQ(c.retry_policy.max_retries, 4);
    FV_ASSERT_INT_EQ(c.tags.n, 2);

    /* KEEP touches nothing. */
    fv_def_config_patch keep;
    memset(&keep, 0, sizeof keep);
    keep.timeout_seconds = 1;
    fv_def_config_patch_apply(&keep, &c);
    CU_ASSERT_TRUE(c.has_timeout && c.has_retry_policy && c.has_tags);
    FV_ASSERT_INT_EQ(c.timeout_seconds, 120);

    /* CLEAR removes one override, the others stay. */
    fv_def_config_patch clear;
    memset(&clear, 0, sizeof clear);
    clear.timeout_op = FV_PATCH_CLEAR;
    fv_def_config_patch_apply(&clear, &c);
    CU_ASSERT_FALSE(c.has_timeout);
    CU_ASSERT_TRUE(c.has_retry_policy);
    CU_ASSERT_TRUE(c.has_tags);
    clear.retry_op = FV_PATCH_CLEAR;
    clear.tags_op = FV_PATCH_CLEAR;
    fv_def_config_patch_apply(&clear, &c);
    CU_ASSERT_FALSE(c.has_retry_policy);
    CU_ASSERT_FALSE(c.has_tags);

    /* Applied to a definition, CLEAR brings the declared value back. */
    fv_definition d = def_with_declared();
    fv_def_config_patch_apply(&p, &d.configured);
    FV_ASSERT_INT_EQ(fv_definition_effective(&d).timeout_seconds, 120);
    fv_def_config_patch_apply(&clear, &d.configured);
    fv_def_settings e = fv_definition_effective(&d);
    FV_ASSERT_INT_EQ(e.timeout_seconds, 30); /* every override cleared */
    FV_ASSERT_INT_EQ(e.retry_policy.max_retries, 2);
    FV_ASSERT_STR_EQ(e.tags.v[0], "declared");
}

/* ---------------------------------------------------------------------- */
/* Validators                                                             */
/* ---------------------------------------------------------------------- */

static fv_err retry(unsigned set, int64_t max, int64_t init, double backoff, int64_t max_delay)
{
    fv_retry_policy p = {set, max, init, backoff, max_delay};
    fv_error e;
    fv_err rc = fv_retry_policy_validate("retry_policy", &p, &e);
    if (rc != FV_OK && (e.code != rc || !msg_has(&e, "retry_policy")))
        return FV_E_INTERNAL; /* the message must name the field */
    return rc;
}

static void test_domain__retry_policy_bounds(void)
{
    const unsigned M = FV_RETRY_HAS_MAX_RETRIES, I = FV_RETRY_HAS_INITIAL_DELAY,
                   B = FV_RETRY_HAS_BACKOFF, D = FV_RETRY_HAS_MAX_DELAY;
    const int64_t month = FV_RETRY_DELAY_MAX_MS;
    FV_ASSERT_INT_EQ(retry(0, 99, -1, 0.0, -1), FV_OK); /* nothing set, nothing checked */
    FV_ASSERT_INT_EQ(retry(M, 0, 0, 0, 0), FV_OK);
    FV_ASSERT_INT_EQ(retry(M, 10, 0, 0, 0), FV_OK);
    FV_ASSERT_INT_EQ(retry(M, 11, 0, 0, 0), FV_E_INVALID);
    FV_ASSERT_INT_EQ(retry(M, -1, 0, 0, 0), FV_E_INVALID);
    FV_ASSERT_INT_EQ(retry(I, 0, 0, 0, 0), FV_OK);
    FV_ASSERT_INT_EQ(retry(I, 0, month, 0, 0), FV_OK);
    FV_ASSERT_INT_EQ(retry(I, 0, month + 1, 0, 0), FV_E_INVALID);
    FV_ASSERT_INT_EQ(retry(I, 0, -1, 0, 0), FV_E_INVALID);
    FV_ASSERT_INT_EQ(retry(B, 0, 0, 1.0, 0), FV_OK);
    FV_ASSERT_INT_EQ(retry(B, 0, 0, 2.5, 0), FV_OK);
    FV_ASSERT_INT_EQ(retry(B, 0, 0, FV_RETRY_BACKOFF_MAX, 0), FV_OK);
    FV_ASSERT_INT_EQ(retry(B, 0, 0, 0.5, 0), FV_E_INVALID);
    FV_ASSERT_INT_EQ(retry(B, 0, 0, 0.0, 0), FV_E_INVALID);
    FV_ASSERT_INT_EQ(retry(B, 0, 0, FV_RETRY_BACKOFF_MAX + 0.5, 0), FV_E_INVALID);
    FV_ASSERT_INT_EQ(retry(B, 0, 0, NAN, 0), FV_E_INVALID);
    FV_ASSERT_INT_EQ(retry(B, 0, 0, INFINITY, 0), FV_E_INVALID);
    FV_ASSERT_INT_EQ(retry(I | D, 0, 5000, 0, 5000), FV_OK);
    FV_ASSERT_INT_EQ(retry(I | D, 0, 5000, 0, 4999), FV_E_INVALID);
    FV_ASSERT_INT_EQ(retry(D, 0, 0, 0, month), FV_OK);
    FV_ASSERT_INT_EQ(retry(D, 0, 0, 0, month + 1), FV_E_INVALID);
    FV_ASSERT_INT_EQ(retry(D, 0, 0, 0, -1), FV_E_INVALID);
    FV_ASSERT_INT_EQ(retry(M | I | B | D, 3, 1000, 2.0, 60000), FV_OK);
}

static void test_domain__timeout_bounds(void)
{
    fv_error e;
    FV_ASSERT_INT_EQ(fv_timeout_validate("timeout", 1, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_timeout_validate("timeout", FV_TIMEOUT_MAX_SECONDS, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_timeout_validate("timeout", 0, &e), FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "timeout"));
    FV_ASSERT_INT_EQ(fv_timeout_validate("timeout", 31536001, &e), FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_timeout_validate("timeout", -5, &e), FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_timeout_validate("timeout", INT64_MAX, &e), FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_timeout_validate("timeout", INT64_MIN, NULL), FV_E_INVALID);
}

static void test_domain__tags_bounds(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_error e;
    fv_tags none = {NULL, 0};
    FV_ASSERT_INT_EQ(fv_tags_validate("tags", &none, &e), FV_OK);
    fv_tags fifty = fv_fixture_tags(&a, FV_TAGS_MAX);
    FV_ASSERT_INT_EQ(fv_tags_validate("tags", &fifty, &e), FV_OK);
    fv_tags fifty_one = fv_fixture_tags(&a, FV_TAGS_MAX + 1);
    FV_ASSERT_INT_EQ(fv_tags_validate("tags", &fifty_one, &e), FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "tags"));

    const char *v[2] = {"ok", fv_fixture_str(&a, 't', FV_TAG_MAX)};
    fv_tags t = {v, 2};
    FV_ASSERT_INT_EQ(fv_tags_validate("tags", &t, &e), FV_OK);
    v[1] = fv_fixture_str(&a, 't', FV_TAG_MAX + 1);
    FV_ASSERT_INT_EQ(fv_tags_validate("tags", &t, &e), FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "tags[1]"));
    v[1] = "";
    FV_ASSERT_INT_EQ(fv_tags_validate("tags", &t, &e), FV_E_INVALID);
    v[1] = "\xc3\x28";
    FV_ASSERT_INT_EQ(fv_tags_validate("tags", &t, &e), FV_E_INVALID);
    v[1] = "caf\xc3\xa9"; /* café */
    FV_ASSERT_INT_EQ(fv_tags_validate("tags", &t, &e), FV_OK);
    fv_arena_release(&a);
}

/* ---------------------------------------------------------------------- */
/* Registration requests                                                  */
/* ---------------------------------------------------------------------- */

static const fv_uuid some_tenant = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}};

static void test_domain__register_request_valid_forms_are_accepted(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_fixture_req r;
    CU_ASSERT_FATAL(fv_fixture_req_build(&a, &some_tenant, "w", 2, 2, &r));
    fv_error e;
    fv_worker_type type = 0;
    FV_ASSERT_INT_EQ(fv_register_request_validate(&r.req, &type, &e), FV_OK);
    FV_ASSERT_INT_EQ(type, FV_WORKER_UNIFIED);

    r.req.worker_type = "WORKFLOW";
    FV_ASSERT_INT_EQ(fv_register_request_validate(&r.req, &type, &e), FV_OK);
    FV_ASSERT_INT_EQ(type, FV_WORKER_WORKFLOW);
    r.req.worker_type = "TASK";
    FV_ASSERT_INT_EQ(fv_register_request_validate(&r.req, &type, &e), FV_OK);
    FV_ASSERT_INT_EQ(type, FV_WORKER_TASK);

    /* Limits are inclusive. */
    r.req.worker_name = fv_fixture_str(&a, 'n', FV_NAME_MAX);
    r.tasks[0].kind = fv_fixture_str(&a, 'k', FV_NAME_MAX);
    r.tasks[0].tags = fv_fixture_tags(&a, FV_TAGS_MAX);
    r.tasks[0].has_timeout = true;
    r.tasks[0].timeout_seconds = FV_TIMEOUT_MAX_SECONDS;
    r.tasks[1].has_timeout = true;
    r.tasks[1].timeout_seconds = 1;
    r.tasks[0].metadata = fv_fixture_json(&a, FV_METADATA_MAX);
    r.tasks[0].input_schema = fv_fixture_json(&a, FV_SCHEMA_MAX);
    r.req.metadata = fv_fixture_json(&a, FV_METADATA_MAX);
    r.tasks[0].has_retry_policy = true;
    r.tasks[0].retry_policy = (fv_retry_policy){.set = FV_RETRY_HAS_MAX_RETRIES, .max_retries = 10};
    r.workflows[0].description = "multi\nline\tdescription";
    FV_ASSERT_INT_EQ(fv_register_request_validate(&r.req, &type, &e), FV_OK);
    r.req.worker_name = "caf\xc3\xa9 worker";
    FV_ASSERT_INT_EQ(fv_register_request_validate(&r.req, &type, &e), FV_OK);

    /* The same kind in both classes is two definitions, not a duplicate. */
    r.tasks[0].kind = "wf-0";
    FV_ASSERT_INT_EQ(fv_register_request_validate(&r.req, &type, &e), FV_OK);

    /* Optional fields may be empty or absent; no capabilities at all is fine. */
    r.req.worker_version = "";
    r.req.host_name = "";
    r.req.process_id = NULL;
    r.req.n_tasks = 0;
    r.req.tasks = NULL;
    r.req.n_workflows = 0;
    r.req.workflows = NULL;
    FV_ASSERT_INT_EQ(fv_register_request_validate(&r.req, &type, &e), FV_OK);
    fv_arena_release(&a);
}

static void test_domain__register_request_every_invalid_input_is_rejected(void)
{
    for (size_t i = 0; i < fv_fixture_invalid_request_count; i++) {
        const fv_fixture_invalid *c = &fv_fixture_invalid_requests[i];
        fv_arena a;
        fv_arena_init(&a, 0);
        fv_fixture_req r;
        CU_ASSERT_FATAL(fv_fixture_req_build(&a, &some_tenant, "w", 2, 2, &r));
        c->mutate(&a, &r);
        fv_error e;
        fv_error_clear(&e);
        fv_worker_type type = 0;
        fv_err rc = fv_register_request_validate(&r.req, &type, &e);
        if (rc != FV_E_INVALID || e.code != FV_E_INVALID || !msg_has(&e, c->field))
            fprintf(stderr, "\n  case \"%s\": rc %s, message \"%s\" (expected to name \"%s\")\n",
                    c->name, fv_err_name(rc), e.msg, c->field);
        FV_ASSERT_INT_EQ(rc, FV_E_INVALID);
        FV_ASSERT_INT_EQ(e.code, FV_E_INVALID);
        CU_ASSERT_TRUE(msg_has(&e, c->field));
        /* Also without an error buffer. */
        FV_ASSERT_INT_EQ(fv_register_request_validate(&r.req, &type, NULL), FV_E_INVALID);
        fv_arena_release(&a);
    }
}

/* ---------------------------------------------------------------------- */
/* Names, slugs, liveness                                                 */
/* ---------------------------------------------------------------------- */

static void test_domain__worker_type_names_round_trip(void)
{
    static const fv_worker_type all[] = {FV_WORKER_WORKFLOW, FV_WORKER_TASK, FV_WORKER_UNIFIED};
    static const char *const names[] = {"WORKFLOW", "TASK", "UNIFIED"};
    for (size_t i = 0; i < 3; i++) {
        FV_ASSERT_STR_EQ(fv_worker_type_name(all[i]), names[i]);
        fv_worker_type t = 0;
        CU_ASSERT_TRUE(fv_worker_type_parse(names[i], &t));
        FV_ASSERT_INT_EQ(t, all[i]);
    }
    CU_ASSERT_PTR_NULL(fv_worker_type_name((fv_worker_type)0));
    CU_ASSERT_PTR_NULL(fv_worker_type_name((fv_worker_type)4));
    fv_worker_type t = FV_WORKER_TASK;
    CU_ASSERT_FALSE(fv_worker_type_parse("task", &t));
    CU_ASSERT_FALSE(fv_worker_type_parse("", &t));
    CU_ASSERT_FALSE(fv_worker_type_parse("TASKS", &t));
    CU_ASSERT_FALSE(fv_worker_type_parse(NULL, &t));
    FV_ASSERT_INT_EQ(t, FV_WORKER_TASK); /* untouched */
}

static void test_domain__worker_status_names_round_trip(void)
{
    static const fv_worker_status all[] = {FV_STATUS_ONLINE, FV_STATUS_DEGRADED, FV_STATUS_OFFLINE};
    static const char *const names[] = {"ONLINE", "DEGRADED", "OFFLINE"};
    for (size_t i = 0; i < 3; i++) {
        FV_ASSERT_STR_EQ(fv_worker_status_name(all[i]), names[i]);
        fv_worker_status s = 0;
        CU_ASSERT_TRUE(fv_worker_status_parse(names[i], &s));
        FV_ASSERT_INT_EQ(s, all[i]);
    }
    CU_ASSERT_PTR_NULL(fv_worker_status_name((fv_worker_status)0));
    CU_ASSERT_PTR_NULL(fv_worker_status_name((fv_worker_status)9));
    fv_worker_status s = FV_STATUS_ONLINE;
    CU_ASSERT_FALSE(fv_worker_status_parse("online", &s));
    CU_ASSERT_FALSE(fv_worker_status_parse("UNKNOWN", &s));
    CU_ASSERT_FALSE(fv_worker_status_parse(NULL, &s));
    /* Distinct bits for the scan masks. */
    CU_ASSERT_EQUAL(FV_STATUS_BIT(FV_STATUS_ONLINE) &
                        (FV_STATUS_BIT(FV_STATUS_DEGRADED) | FV_STATUS_BIT(FV_STATUS_OFFLINE)),
                    0u);
}

static void test_domain__role_names_round_trip(void)
{
    static const fv_role all[] = {FV_ROLE_WORKER, FV_ROLE_OPERATOR, FV_ROLE_ADMIN};
    static const char *const names[] = {"worker", "operator", "admin"};
    for (size_t i = 0; i < 3; i++) {
        FV_ASSERT_STR_EQ(fv_role_name(all[i]), names[i]);
        fv_role r = 0;
        CU_ASSERT_TRUE(fv_role_parse(names[i], &r));
        FV_ASSERT_INT_EQ(r, all[i]);
    }
    CU_ASSERT_PTR_NULL(fv_role_name((fv_role)0));
    CU_ASSERT_PTR_NULL(fv_role_name((fv_role)4));
    fv_role r = FV_ROLE_ADMIN;
    CU_ASSERT_FALSE(fv_role_parse("Admin", &r));
    CU_ASSERT_FALSE(fv_role_parse("root", &r));
    CU_ASSERT_FALSE(fv_role_parse(NULL, &r));
    FV_ASSERT_INT_EQ(r, FV_ROLE_ADMIN);
}

static void test_domain__availability_and_class_names(void)
{
    static const fv_availability all[] = {FV_AVAIL_AVAILABLE, FV_AVAIL_DEGRADED,
                                          FV_AVAIL_UNAVAILABLE};
    static const char *const names[] = {"AVAILABLE", "DEGRADED", "UNAVAILABLE"};
    for (size_t i = 0; i < 3; i++) {
        FV_ASSERT_STR_EQ(fv_availability_name(all[i]), names[i]);
        fv_availability a = 0;
        CU_ASSERT_TRUE(fv_availability_parse(names[i], &a));
        FV_ASSERT_INT_EQ(a, all[i]);
    }
    CU_ASSERT_PTR_NULL(fv_availability_name((fv_availability)0));
    fv_availability a;
    CU_ASSERT_FALSE(fv_availability_parse("available", &a));
    CU_ASSERT_FALSE(fv_availability_parse(NULL, &a));
    FV_ASSERT_STR_EQ(fv_def_class_name(FV_DEF_WORKFLOW), "workflow");
    FV_ASSERT_STR_EQ(fv_def_class_name(FV_DEF_TASK), "task");
    CU_ASSERT_PTR_NULL(fv_def_class_name((fv_def_class)0));
}

static void test_domain__slug_rules(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_error e;
    FV_ASSERT_INT_EQ(fv_slug_validate("tenant slug", "a", &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_slug_validate("tenant slug", "acme-2", &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_slug_validate("tenant slug", "-", &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_slug_validate("tenant slug", fv_fixture_str(&a, 'z', FV_SLUG_MAX), &e),
                     FV_OK);
    FV_ASSERT_INT_EQ(fv_slug_validate("tenant slug", fv_fixture_str(&a, 'z', FV_SLUG_MAX + 1), &e),
                     FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "tenant slug"));
    static const char *const bad[] = {"", "Acme", "a_b", "a b", "a.b", "caf\xc3\xa9", "a/b", "A"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fv_error_clear(&e);
        FV_ASSERT_INT_EQ(fv_slug_validate("space slug", bad[i], &e), FV_E_INVALID);
        CU_ASSERT_TRUE(msg_has(&e, "space slug"));
    }
    FV_ASSERT_INT_EQ(fv_slug_validate("space slug", NULL, &e), FV_E_INVALID);
    fv_arena_release(&a);
}

static void test_domain__liveness_rules(void)
{
    fv_error e;
    fv_liveness l = FV_LIVENESS_DEFAULTS;
    FV_ASSERT_INT_EQ(l.degraded_after_ms, 45000);
    FV_ASSERT_INT_EQ(l.offline_after_ms, 60000);
    FV_ASSERT_INT_EQ(l.retention_ms, 86400000);
    FV_ASSERT_INT_EQ(fv_liveness_validate(&l, &e), FV_OK);
    l.retention_ms = 0; /* keep forever */
    FV_ASSERT_INT_EQ(fv_liveness_validate(&l, &e), FV_OK);
    l.retention_ms = -1;
    FV_ASSERT_INT_EQ(fv_liveness_validate(&l, &e), FV_E_INVALID);
    l = FV_LIVENESS_DEFAULTS;
    l.degraded_after_ms = 0;
    FV_ASSERT_INT_EQ(fv_liveness_validate(&l, &e), FV_E_INVALID);
    l.degraded_after_ms = -1;
    FV_ASSERT_INT_EQ(fv_liveness_validate(&l, &e), FV_E_INVALID);
    l = FV_LIVENESS_DEFAULTS;
    l.offline_after_ms = l.degraded_after_ms;
    FV_ASSERT_INT_EQ(fv_liveness_validate(&l, &e), FV_E_INVALID);
    l.offline_after_ms = l.degraded_after_ms - 1;
    FV_ASSERT_INT_EQ(fv_liveness_validate(&l, NULL), FV_E_INVALID);
    l.offline_after_ms = l.degraded_after_ms + 1;
    FV_ASSERT_INT_EQ(fv_liveness_validate(&l, &e), FV_OK);
}

static void test_domain__text_and_json_size_validators(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_error e;
    FV_ASSERT_INT_EQ(fv_text_validate("name", "", 10, false, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_text_validate("name", NULL, 10, false, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_text_validate("name", "", 10, true, &e), FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "name"));
    FV_ASSERT_INT_EQ(fv_text_validate("name", "0123456789", 10, true, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_text_validate("name", "0123456789a", 10, true, &e), FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_text_validate("name", "tab\there", 100, true, &e), FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_text_validate("name", "del\x7f", 100, true, &e), FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_text_validate("name", "\xf4\x90\x80\x80", 100, true, &e), FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_json_validate_size("schema", FV_JSON_NONE, 4, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_json_validate_size("schema", fv_fixture_json(&a, 4), 4, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_json_validate_size("schema", fv_fixture_json(&a, 5), 4, &e), FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "schema"));
    fv_arena_release(&a);
}

static const fv_test_case cases[] = {
    FV_TEST_CASE(test_domain__effective_status_follows_the_age_of_the_last_sign_of_life),
    FV_TEST_CASE(test_domain__effective_status_uses_the_configured_thresholds),
    FV_TEST_CASE(test_domain__effective_status_of_a_fresh_worker_with_degraded_health_is_degraded),
    FV_TEST_CASE(test_domain__effective_status_reports_the_worse_of_stored_and_derived),
    FV_TEST_CASE(test_domain__operator_status_holds_until_a_new_sign_of_life),
    FV_TEST_CASE(test_domain__availability_from_counts),
    FV_TEST_CASE(test_domain__definition_effective_prefers_configured_values),
    FV_TEST_CASE(test_domain__config_patch_validate_checks_set_fields_only),
    FV_TEST_CASE(test_domain__config_patch_apply_sets_clears_and_keeps),
    FV_TEST_CASE(test_domain__retry_policy_bounds),
    FV_TEST_CASE(test_domain__timeout_bounds),
    FV_TEST_CASE(test_domain__tags_bounds),
    FV_TEST_CASE(test_domain__register_request_valid_forms_are_accepted),
    FV_TEST_CASE(test_domain__register_request_every_invalid_input_is_rejected),
    FV_TEST_CASE(test_domain__worker_type_names_round_trip),
    FV_TEST_CASE(test_domain__worker_status_names_round_trip),
    FV_TEST_CASE(test_domain__role_names_round_trip),
    FV_TEST_CASE(test_domain__availability_and_class_names),
    FV_TEST_CASE(test_domain__slug_rules),
    FV_TEST_CASE(test_domain__liveness_rules),
    FV_TEST_CASE(test_domain__text_and_json_size_validators),
};

int main(void)
{
    return fv_test_run("domain", cases, FV_TEST_COUNT(cases));
}
