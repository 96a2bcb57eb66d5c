/* Contract of the heartbeat store port (ports/heartbeat_store.h). */
#include <string.h>

#include "core/util/alloc.h"
#include "tests/support/contract_int.h"

#define SEC ((fv_time)1000)

static fv_err record(const fv_uuid *w, fv_time at, const char *health)
{
    fv_error err;
    return fv_heartbeat_store_record(ct.d.heartbeats, w, at, ct_json(health), &err);
}

static fv_heartbeat_list history(const fv_uuid *w, size_t limit)
{
    fv_heartbeat_list l;
    fv_error err;
    ct_flush();
    fv_err rc = fv_heartbeat_store_history(ct.d.heartbeats, &ct.a, w, limit, &l, &err);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    CU_ASSERT_FATAL(rc == FV_OK);
    return l;
}

static void test_heartbeat_store__unknown_worker_has_no_heartbeat(void)
{
    fv_uuid w = ct_uuid(CT_K_WORKER, 1);
    fv_heartbeat hb;
    fv_error err;
    ct_flush();
    FV_ASSERT_INT_EQ(fv_heartbeat_store_last(ct.d.heartbeats, &ct.a, &w, &hb, &err),
                     FV_E_NOT_FOUND);
    fv_heartbeat_list l = history(&w, 10);
    FV_ASSERT_INT_EQ(l.n, 0);
}

/* last: the newest heartbeat with its health info. */
static void test_heartbeat_store__record_and_last(void)
{
    fv_uuid w = ct_uuid(CT_K_WORKER, 1);
    FV_ASSERT_INT_EQ(record(&w, CT_T0, "{\"n\":1}"), FV_OK);
    FV_ASSERT_INT_EQ(record(&w, CT_T0 + SEC, NULL), FV_OK);
    FV_ASSERT_INT_EQ(record(&w, CT_T0 + 2 * SEC, "{\"n\":3}"), FV_OK);
    ct_flush();
    fv_heartbeat hb;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_heartbeat_store_last(ct.d.heartbeats, &ct.a, &w, &hb, &err), FV_OK);
    CU_ASSERT(fv_uuid_eq(&hb.worker_id, &w));
    FV_ASSERT_INT_EQ(hb.at, CT_T0 + 2 * SEC);
    CU_ASSERT(ct_json_eq(hb.health_info, "{\"n\":3}"));
    FV_ASSERT_INT_EQ(record(&w, CT_T0 + 3 * SEC, NULL), FV_OK);
    ct_flush();
    FV_ASSERT_INT_EQ(fv_heartbeat_store_last(ct.d.heartbeats, &ct.a, &w, &hb, &err), FV_OK);
    FV_ASSERT_INT_EQ(hb.at, CT_T0 + 3 * SEC);
    CU_ASSERT(ct_json_eq(hb.health_info, NULL));
}

/* history: newest first, at most `limit`. */
static void test_heartbeat_store__history_newest_first_with_limit(void)
{
    fv_uuid w = ct_uuid(CT_K_WORKER, 1);
    for (int i = 0; i < 5; i++)
        FV_ASSERT_INT_EQ(record(&w, CT_T0 + i * SEC, i % 2 ? NULL : "{\"even\":true}"), FV_OK);
    fv_heartbeat_list l = history(&w, 3);
    CU_ASSERT_FATAL(l.n == 3);
    FV_ASSERT_INT_EQ(l.items[0].at, CT_T0 + 4 * SEC);
    FV_ASSERT_INT_EQ(l.items[1].at, CT_T0 + 3 * SEC);
    FV_ASSERT_INT_EQ(l.items[2].at, CT_T0 + 2 * SEC);
    CU_ASSERT(ct_json_eq(l.items[0].health_info, "{\"even\":true}"));
    CU_ASSERT(ct_json_eq(l.items[1].health_info, NULL));
    CU_ASSERT(fv_uuid_eq(&l.items[2].worker_id, &w));
    l = history(&w, 100);
    CU_ASSERT_FATAL(l.n == 5);
    FV_ASSERT_INT_EQ(l.items[4].at, CT_T0);
    l = history(&w, 0);
    FV_ASSERT_INT_EQ(l.n, 0);
}

static void test_heartbeat_store__workers_are_separate(void)
{
    fv_uuid a = ct_uuid(CT_K_WORKER, 1);
    fv_uuid b = ct_uuid(CT_K_WORKER, 2);
    FV_ASSERT_INT_EQ(record(&a, CT_T0, NULL), FV_OK);
    FV_ASSERT_INT_EQ(record(&b, CT_T0 + SEC, "{\"b\":1}"), FV_OK);
    FV_ASSERT_INT_EQ(record(&a, CT_T0 + 2 * SEC, NULL), FV_OK);
    fv_heartbeat_list la = history(&a, 10);
    fv_heartbeat_list lb = history(&b, 10);
    FV_ASSERT_INT_EQ(la.n, 2);
    CU_ASSERT_FATAL(lb.n == 1);
    CU_ASSERT(fv_uuid_eq(&lb.items[0].worker_id, &b));
    CU_ASSERT(ct_json_eq(lb.items[0].health_info, "{\"b\":1}"));
    fv_heartbeat hb;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_heartbeat_store_last(ct.d.heartbeats, &ct.a, &b, &hb, &err), FV_OK);
    FV_ASSERT_INT_EQ(hb.at, CT_T0 + SEC);
}

/* forget drops one worker's history; forgetting nothing is not an error. */
static void test_heartbeat_store__forget_drops_history(void)
{
    fv_uuid a = ct_uuid(CT_K_WORKER, 1);
    fv_uuid b = ct_uuid(CT_K_WORKER, 2);
    FV_ASSERT_INT_EQ(record(&a, CT_T0, NULL), FV_OK);
    FV_ASSERT_INT_EQ(record(&a, CT_T0 + SEC, NULL), FV_OK);
    FV_ASSERT_INT_EQ(record(&b, CT_T0, NULL), FV_OK);
    fv_error err;
    FV_ASSERT_INT_EQ(fv_heartbeat_store_forget(ct.d.heartbeats, &a, &err), FV_OK);
    ct_flush();
    fv_heartbeat hb;
    FV_ASSERT_INT_EQ(fv_heartbeat_store_last(ct.d.heartbeats, &ct.a, &a, &hb, &err),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(history(&a, 10).n, 0);
    FV_ASSERT_INT_EQ(history(&b, 10).n, 1);
    FV_ASSERT_INT_EQ(fv_heartbeat_store_forget(ct.d.heartbeats, &a, &err), FV_OK);
    fv_uuid never = ct_uuid(CT_K_OTHER, 1);
    FV_ASSERT_INT_EQ(fv_heartbeat_store_forget(ct.d.heartbeats, &never, &err), FV_OK);
    /* A forgotten worker may record again. */
    FV_ASSERT_INT_EQ(record(&a, CT_T0 + 5 * SEC, NULL), FV_OK);
    fv_heartbeat_list l = history(&a, 10);
    CU_ASSERT(l.n == 1 && l.items[0].at == CT_T0 + 5 * SEC);
}

/* Retention is bounded: 100000 heartbeats of one worker are not all kept,
 * and what is kept is the newest. */
static void test_heartbeat_store__retention_is_bounded(void)
{
    fv_uuid w = ct_uuid(CT_K_WORKER, 1);
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        fv_err rc = record(&w, CT_T0 + i, NULL);
        if (rc != FV_OK) {
            FV_ASSERT_INT_EQ(rc, FV_OK);
            return;
        }
    }
    fv_heartbeat_list l = history(&w, 1000000);
    CU_ASSERT(l.n >= 10);
    CU_ASSERT(l.n < (size_t)n);
    CU_ASSERT_FATAL(l.n > 0);
    FV_ASSERT_INT_EQ(l.items[0].at, CT_T0 + n - 1);
    for (size_t i = 1; i < l.n; i++)
        if (l.items[i].at != l.items[i - 1].at - 1) {
            FV_ASSERT_INT_EQ(l.items[i].at, l.items[i - 1].at - 1);
            break;
        }
    fv_heartbeat hb;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_heartbeat_store_last(ct.d.heartbeats, &ct.a, &w, &hb, &err), FV_OK);
    FV_ASSERT_INT_EQ(hb.at, CT_T0 + n - 1);
}

/* The store copies the health info; reads copy it out. */
static void test_heartbeat_store__health_info_is_copied(void)
{
    fv_uuid w = ct_uuid(CT_K_WORKER, 1);
    char *h = fv_strdup("{\"load\":[1,2,3]}");
    CU_ASSERT_FATAL(h != NULL);
    FV_ASSERT_INT_EQ(record(&w, CT_T0, h), FV_OK);
    memset(h, 'X', strlen(h));
    fv_free(h);
    fv_arena mine;
    fv_arena_init(&mine, 0);
    fv_heartbeat hb;
    fv_error err;
    ct_flush();
    FV_ASSERT_INT_EQ(fv_heartbeat_store_last(ct.d.heartbeats, &mine, &w, &hb, &err), FV_OK);
    CU_ASSERT(ct_json_eq(hb.health_info, "{\"load\":[1,2,3]}"));
    FV_ASSERT_INT_EQ(fv_heartbeat_store_forget(ct.d.heartbeats, &w, &err), FV_OK);
    CU_ASSERT(ct_json_eq(hb.health_info, "{\"load\":[1,2,3]}"));
    fv_arena_release(&mine);
}

const fv_test_case ct_heartbeat_cases[] = {
    FV_TEST_CASE(test_heartbeat_store__unknown_worker_has_no_heartbeat),
    FV_TEST_CASE(test_heartbeat_store__record_and_last),
    FV_TEST_CASE(test_heartbeat_store__history_newest_first_with_limit),
    FV_TEST_CASE(test_heartbeat_store__workers_are_separate),
    FV_TEST_CASE(test_heartbeat_store__forget_drops_history),
    FV_TEST_CASE(test_heartbeat_store__retention_is_bounded),
    FV_TEST_CASE(test_heartbeat_store__health_info_is_copied),
};
const size_t ct_heartbeat_cases_n = FV_TEST_COUNT(ct_heartbeat_cases);
