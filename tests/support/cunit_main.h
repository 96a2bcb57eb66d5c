/*
 * The shared CUnit runner of every tests/test_<module>.c (STYLE rule 27):
 * one list of cases per suite, run in CUnit's basic mode, failures printed,
 * and an answer fit for main's exit status.
 *
 * A test file looks like this:
 *
 *     static void test_arena__alignment(void) { CU_ASSERT(...); }
 *     static void test_arena__cap(void) { ... }
 *
 *     static const fv_test_case cases[] = {
 *         FV_TEST_CASE(test_arena__alignment),
 *         FV_TEST_CASE(test_arena__cap),
 *     };
 *
 *     int main(void)
 *     {
 *         return fv_test_run("arena", cases, FV_TEST_COUNT(cases));
 *     }
 *
 * Suites that need a fresh fixture per test (a store, an arena) use
 * fv_test_suite with setup/teardown and fv_test_run_suites.
 *
 * Environment: FV_TEST_ONLY=<substring> runs only the tests whose name
 * contains it (the others are reported as inactive), for debugging.
 *
 * CUnit keeps its registry in globals, so a process runs one registry at a
 * time and none of this is thread-safe; test bodies may start threads of
 * their own but must assert from the test's thread.
 */
#ifndef FV_TESTS_SUPPORT_CUNIT_MAIN_H
#define FV_TESTS_SUPPORT_CUNIT_MAIN_H

#include <stddef.h>

#include <CUnit/Basic.h>

/* One test: a name (unique within its suite) and its body. */
typedef struct fv_test_case {
    const char *name;
    void (*fn)(void);
} fv_test_case;

/* {"test_x__y", test_x__y}: the registered name is the function's name. */
#define FV_TEST_CASE(fn)                                                                           \
    {                                                                                              \
#fn, fn                                                                                    \
    }

/* Number of elements of an array of cases or suites. */
#define FV_TEST_COUNT(arr) (sizeof(arr) / sizeof((arr)[0]))

/* A suite with an optional fixture run around each test. */
typedef struct fv_test_suite {
    const char *name; /* unique within one run */
    const fv_test_case *cases;
    size_t n;
    /* Before each test; 0 = ready. Non-zero fails the test without running
     * its body (and skips teardown). May be NULL. */
    int (*setup)(void);
    /* After each test whose setup succeeded, also when a fatal assertion
     * ended the test early. May be NULL. */
    void (*teardown)(void);
} fv_test_suite;

/*
 * Register the suites, run them all, print each failure and the summary.
 * Returns the number of failed tests (at least 1 when CUnit itself failed or
 * a suite could not be registered); 0 when everything passed. The suites
 * array and its cases must stay valid for the duration of the call.
 */
int fv_test_run_suites(const fv_test_suite *suites, size_t n);

/* One suite without fixture. Returns an exit status: EXIT_SUCCESS when every
 * test passed, EXIT_FAILURE otherwise, so main can return it directly. */
int fv_test_run(const char *suite_name, const fv_test_case *cases, size_t n);

/* Like CU_ASSERT_EQUAL on integers but prints both values on failure. */
#define FV_ASSERT_INT_EQ(actual, expected)                                                         \
    fv_test_assert_int_eq((long long)(actual), (long long)(expected), #actual, #expected,          \
                          __LINE__, __FILE__)

/* Strings (NULL allowed on either side: equal only when both are NULL). */
#define FV_ASSERT_STR_EQ(actual, expected)                                                         \
    fv_test_assert_str_eq((actual), (expected), #actual, #expected, __LINE__, __FILE__)

/* Helpers behind the macros above; they record a CUnit assertion. */
void fv_test_assert_int_eq(long long actual, long long expected, const char *a_expr,
                           const char *e_expr, unsigned int line, const char *file);
void fv_test_assert_str_eq(const char *actual, const char *expected, const char *a_expr,
                           const char *e_expr, unsigned int line, const char *file);

#endif
