/*
 * Tenant reads: the slug of a REST path resolved to its tenant, and the
 * storage health check behind GET /_/health.
 */
#include <string.h>

#include "core/queries/tenant_queries.h"
#include "tests/support/cunit_main.h"
#include "tests/support/fixture.h"

static fv_fixture fx;

static int setup(void)
{
    return fv_fixture_init(&fx);
}

static void teardown(void)
{
    fv_fixture_release(&fx);
}

static void test_tenant_queries__slug_resolves_to_its_tenant(void)
{
    fv_uuid other;
    CU_ASSERT_EQUAL_FATAL(fv_fixture_add_tenant(&fx, "globex", &other), FV_OK);
    fv_tenant t;
    fv_error err = {0};
    CU_ASSERT_EQUAL_FATAL(fv_query_tenant_by_slug(&fx.deps, &fx.arena, "acme", &t, &err), FV_OK);
    CU_ASSERT_TRUE(fv_uuid_eq(&t.id, &fx.tenant));
    CU_ASSERT_STRING_EQUAL(t.slug, "acme");
    CU_ASSERT_EQUAL_FATAL(fv_query_tenant_by_slug(&fx.deps, &fx.arena, "globex", &t, &err), FV_OK);
    CU_ASSERT_TRUE(fv_uuid_eq(&t.id, &other));
}

static void test_tenant_queries__unknown_and_malformed_slugs_are_not_found(void)
{
    static const char *const slugs[] = {
        "initech", "ACME",   "",
        "a b",     "acme/x", "0123456789012345678901234567890123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof slugs / sizeof slugs[0]; i++) {
        fv_tenant t;
        fv_error err = {0};
        CU_ASSERT_EQUAL(fv_query_tenant_by_slug(&fx.deps, &fx.arena, slugs[i], &t, &err),
                        FV_E_NOT_FOUND);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not found"));
    }
    fv_tenant t;
    fv_error err = {0};
    CU_ASSERT_EQUAL(fv_query_tenant_by_slug(&fx.deps, &fx.arena, NULL, &t, &err), FV_E_NOT_FOUND);
}

static void test_tenant_queries__storage_ready_on_a_working_store(void)
{
    fv_error err = {0};
    CU_ASSERT_EQUAL(fv_query_storage_ready(&fx.deps, &fx.arena, &err), FV_OK);
}

static const fv_test_case cases[] = {
    FV_TEST_CASE(test_tenant_queries__slug_resolves_to_its_tenant),
    FV_TEST_CASE(test_tenant_queries__unknown_and_malformed_slugs_are_not_found),
    FV_TEST_CASE(test_tenant_queries__storage_ready_on_a_working_store),
};

static const fv_test_suite suites[] = {
    {"tenant_queries", cases, FV_TEST_COUNT(cases), setup, teardown},
};

int main(void)
{
    return fv_test_run_suites(suites, FV_TEST_COUNT(suites));
}
