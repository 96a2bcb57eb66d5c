/* The shared CUnit runner: suites with per-test fixtures, failures printed. */
#include "tests/support/cunit_main.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * CUnit calls test bodies, setups and teardowns without any argument, so the
 * trampolines below find the running suite and case by the names CUnit
 * reports. These globals live only for one fv_test_run_suites call.
 */
static const fv_test_suite *run_suites;
static size_t run_n;
static int setup_failed;

static const fv_test_suite *current_suite(void)
{
    CU_pSuite s = CU_get_current_suite();
    for (size_t i = 0; s != NULL && i < run_n; i++)
        if (strcmp(run_suites[i].name, s->pName) == 0)
            return &run_suites[i];
    return NULL;
}

static void setup_trampoline(void)
{
    const fv_test_suite *s = current_suite();
    setup_failed = 0;
    if (s != NULL && s->setup != NULL && s->setup() != 0)
        setup_failed = 1;
}

static void teardown_trampoline(void)
{
    const fv_test_suite *s = current_suite();
    if (!setup_failed && s != NULL && s->teardown != NULL)
        s->teardown();
}

static void test_trampoline(void)
{
    const fv_test_suite *s = current_suite();
    CU_pTest t = CU_get_current_test();
    CU_ASSERT_FATAL(s != NULL && t != NULL);
    if (setup_failed) {
        CU_FAIL("fixture setup failed: the test did not run");
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->cases[i].name, t->pName) == 0) {
            s->cases[i].fn();
            return;
        }
    }
    CU_FAIL("test case not found by name (duplicate or renamed?)");
}

static int register_suites(const fv_test_suite *suites, size_t n, const char *only)
{
    for (size_t i = 0; i < n; i++) {
        CU_pSuite cs = CU_add_suite_with_setup_and_teardown(suites[i].name, NULL, NULL,
                                                            setup_trampoline, teardown_trampoline);
        if (cs == NULL)
            return -1;
        for (size_t j = 0; j < suites[i].n; j++) {
            CU_pTest ct = CU_add_test(cs, suites[i].cases[j].name, test_trampoline);
            if (ct == NULL)
                return -1;
            if (only != NULL && strstr(suites[i].cases[j].name, only) == NULL)
                CU_set_test_active(ct, CU_FALSE);
        }
    }
    return 0;
}

int fv_test_run_suites(const fv_test_suite *suites, size_t n)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
        return 1;
    }
    const char *only = getenv("FV_TEST_ONLY");
    if (only != NULL && only[0] == '\0')
        only = NULL;
    /* Inactive tests must not count as failures when filtering. */
    CU_set_fail_on_inactive(CU_FALSE);

    run_suites = suites;
    run_n = n;
    int failed;
    if (register_suites(suites, n, only) != 0) {
        fprintf(stderr, "CUnit: could not register the tests: %s\n", CU_get_error_msg());
        failed = 1;
    } else {
        CU_basic_set_mode(CU_BRM_VERBOSE);
        CU_ErrorCode rc = CU_basic_run_tests();
        failed = (int)CU_get_number_of_tests_failed() + (int)CU_get_number_of_suites_failed();
        if (CU_get_number_of_failures() > 0) {
            fprintf(stdout, "\nFailures:\n");
            CU_basic_show_failures(CU_get_failure_list());
            fprintf(stdout, "\n");
        }
        if (rc != CUE_SUCCESS && failed == 0) {
            fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
            failed = 1;
        }
        if (CU_get_number_of_tests_run() == 0 && only == NULL) {
            fprintf(stderr, "no test ran\n");
            failed = failed ? failed : 1;
        }
    }
    run_suites = NULL;
    run_n = 0;
    CU_cleanup_registry();
    return failed;
}

int fv_test_run(const char *suite_name, const fv_test_case *cases, size_t n)
{
    const fv_test_suite suite = {suite_name, cases, n, NULL, NULL};
    return fv_test_run_suites(&suite, 1) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

void fv_test_assert_int_eq(long long actual, long long expected, const char *a_expr,
                           const char *e_expr, unsigned int line, const char *file)
{
    char buf[512];
    if (actual == expected) {
        CU_assertImplementation(CU_TRUE, line, "", file, "", CU_FALSE);
        return;
    }
    snprintf(buf, sizeof buf, "%s == %s (%lld != %lld)", a_expr, e_expr, actual, expected);
    CU_assertImplementation(CU_FALSE, line, buf, file, "", CU_FALSE);
}

void fv_test_assert_str_eq(const char *actual, const char *expected, const char *a_expr,
                           const char *e_expr, unsigned int line, const char *file)
{
    char buf[512];
    int same =
        (actual == NULL || expected == NULL) ? actual == expected : strcmp(actual, expected) == 0;
    if (same) {
        CU_assertImplementation(CU_TRUE, line, "", file, "", CU_FALSE);
        return;
    }
    snprintf(buf, sizeof buf, "%s == %s (\"%.200s\" != \"%.200s\")", a_expr, e_expr,
             actual ? actual : "(null)", expected ? expected : "(null)");
    CU_assertImplementation(CU_FALSE, line, buf, file, "", CU_FALSE);
}
