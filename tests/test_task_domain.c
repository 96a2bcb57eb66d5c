/*
 * The pure task rules of core/task.h: names, validators, the retry decision
 * and backoff arithmetic, the event data builders (and the JSON writer under
 * them), and the transitions the repositories apply. No store involved.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/task.h"
#include "core/util/arena.h"
#include "core/util/error.h"
#include "core/util/jsonw.h"
#include "tests/support/cunit_main.h"
#include "tests/support/fixture.h"

#define T0 FV_FIXTURE_T0

static bool msg_has(const fv_error *e, const char *needle)
{
    return strstr(e->msg, needle) != NULL;
}

/* The JSON text as a NUL-terminated string ("<none>" when absent). */
static const char *js(fv_arena *a, fv_json j)
{
    if (!fv_json_present(j))
        return "<none>";
    return fv_arena_strndup(a, j.p, j.n);
}

/* A RUNNING task at attempt `count` that started at T0. */
static fv_task running_task(int32_t count, int32_t max_retries)
{
    fv_task t;
    memset(&t, 0, sizeof t);
    fv_uuid_parse("11111111-2222-3333-4444-555555555555", FV_UUID_STR_LEN, &t.id);
    t.kind = "send-email";
    t.queue = "default";
    t.status = FV_TASK_RUNNING;
    t.execution_count = count;
    t.max_retries = max_retries;
    t.timeout_ms = FV_TASK_DEFAULT_TIMEOUT_MS;
    t.worker_id = "worker-1";
    t.scheduled_at = T0 - 1000;
    t.created_at = T0 - 1000;
    t.started_at = T0;
    t.last_heartbeat_at = T0;
    t.completed_at = FV_TIME_NONE;
    return t;
}

/* ---------------------------------------------------------------------- */
/* Names                                                                  */
/* ---------------------------------------------------------------------- */

static void test_task_domain__status_names_round_trip(void)
{
    const fv_task_status all[] = {FV_TASK_PENDING, FV_TASK_RUNNING, FV_TASK_COMPLETED,
                                  FV_TASK_FAILED, FV_TASK_CANCELLED};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        fv_task_status back = 0;
        CU_ASSERT_TRUE(fv_task_status_parse(fv_task_status_name(all[i]), &back));
        FV_ASSERT_INT_EQ(back, all[i]);
    }
    FV_ASSERT_STR_EQ(fv_task_status_name(FV_TASK_CANCELLED), "CANCELLED");
    fv_task_status s = FV_TASK_PENDING;
    CU_ASSERT_FALSE(fv_task_status_parse("pending", &s));
    CU_ASSERT_FALSE(fv_task_status_parse("", &s));
    CU_ASSERT_FALSE(fv_task_status_parse(NULL, &s));
    CU_ASSERT_FALSE(fv_task_status_terminal(FV_TASK_PENDING));
    CU_ASSERT_FALSE(fv_task_status_terminal(FV_TASK_RUNNING));
    CU_ASSERT_TRUE(fv_task_status_terminal(FV_TASK_COMPLETED));
    CU_ASSERT_TRUE(fv_task_status_terminal(FV_TASK_FAILED));
    CU_ASSERT_TRUE(fv_task_status_terminal(FV_TASK_CANCELLED));
    /* Stored values never move. */
    FV_ASSERT_INT_EQ(FV_TASK_PENDING, 1);
    FV_ASSERT_INT_EQ(FV_TASK_CANCELLED, 5);
}

static void test_task_domain__attempt_event_and_level_names(void)
{
    FV_ASSERT_STR_EQ(fv_attempt_status_name(FV_ATTEMPT_COMPLETED), "COMPLETED");
    FV_ASSERT_STR_EQ(fv_attempt_status_name(FV_ATTEMPT_FAILED), "FAILED");
    FV_ASSERT_STR_EQ(fv_attempt_status_name(FV_ATTEMPT_TIMEOUT), "TIMEOUT");
    FV_ASSERT_STR_EQ(fv_attempt_status_name(FV_ATTEMPT_CANCELLED), "CANCELLED");
    const char *names[] = {"TASK_CREATED",   "TASK_STARTED", "PROGRESS",      "LOG",
                           "TOKEN",          "DATA",         "ERROR",         "RETRY",
                           "TASK_COMPLETED", "TASK_FAILED",  "TASK_CANCELLED"};
    for (int t = FV_TEV_TASK_CREATED; t <= FV_TEV_TASK_CANCELLED; t++) {
        FV_ASSERT_STR_EQ(fv_task_event_type_name((fv_task_event_type)t), names[t - 1]);
        bool final =
            t == FV_TEV_TASK_COMPLETED || t == FV_TEV_TASK_FAILED || t == FV_TEV_TASK_CANCELLED;
        FV_ASSERT_INT_EQ(fv_task_event_is_final((fv_task_event_type)t), final);
    }
    const char *levels[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    for (int l = FV_LOG_DEBUG; l <= FV_LOG_ERROR; l++) {
        fv_log_level back = 0;
        FV_ASSERT_STR_EQ(fv_log_level_name((fv_log_level)l), levels[l - 1]);
        CU_ASSERT_TRUE(fv_log_level_parse(levels[l - 1], &back));
        FV_ASSERT_INT_EQ(back, l);
    }
    fv_log_level lv = FV_LOG_INFO;
    CU_ASSERT_FALSE(fv_log_level_parse("info", &lv));
    CU_ASSERT_FALSE(fv_log_level_parse("WARNING", &lv));
    CU_ASSERT_FALSE(fv_log_level_parse(NULL, &lv));
}

/* ---------------------------------------------------------------------- */
/* Validators                                                             */
/* ---------------------------------------------------------------------- */

static void test_task_domain__kind_and_queue_bounds(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_error e;
    FV_ASSERT_INT_EQ(fv_task_kind_validate("send-email", &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_kind_validate("é", &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_kind_validate(fv_fixture_str(&a, 'k', FV_TASK_KIND_MAX), &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_kind_validate(fv_fixture_str(&a, 'k', FV_TASK_KIND_MAX + 1), &e),
                     FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "kind"));
    FV_ASSERT_INT_EQ(fv_task_kind_validate("", &e), FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "kind"));
    FV_ASSERT_INT_EQ(fv_task_kind_validate(NULL, &e), FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_task_kind_validate("a\nb", &e), FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "kind"));
    FV_ASSERT_INT_EQ(fv_task_kind_validate("\xc3\x28", &e), FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "kind"));

    FV_ASSERT_INT_EQ(fv_task_queue_validate("default", &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_queue_validate(fv_fixture_str(&a, 'q', FV_TASK_QUEUE_MAX), &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_queue_validate(fv_fixture_str(&a, 'q', FV_TASK_QUEUE_MAX + 1), &e),
                     FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "queue"));
    FV_ASSERT_INT_EQ(fv_task_queue_validate("", &e), FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "queue"));
    FV_ASSERT_INT_EQ(fv_task_queue_validate("q\x7f", &e), FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "queue"));
    fv_arena_release(&a);
}

static void test_task_domain__metadata_rules(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_error e;
    FV_ASSERT_INT_EQ(fv_task_metadata_validate(NULL, 0, &e), FV_OK);
    fv_kv ok[] = {{"a", "1"}, {"b", ""}, {"é", "ü"}, {"flovyn_", "x"}};
    FV_ASSERT_INT_EQ(fv_task_metadata_validate(ok, 4, &e), FV_OK);

    fv_kv empty_key[] = {{"a", "1"}, {"", "2"}};
    FV_ASSERT_INT_EQ(fv_task_metadata_validate(empty_key, 2, &e), FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "metadata key"));
    fv_kv reserved[] = {{"_flovyn_x", "1"}};
    FV_ASSERT_INT_EQ(fv_task_metadata_validate(reserved, 1, &e), FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "_flovyn_"));
    CU_ASSERT_TRUE(msg_has(&e, "metadata"));
    fv_kv dup[] = {{"a", "1"}, {"b", "2"}, {"a", "3"}};
    FV_ASSERT_INT_EQ(fv_task_metadata_validate(dup, 3, &e), FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "\"a\""));
    fv_kv bad_key[] = {{"\xff", "1"}};
    FV_ASSERT_INT_EQ(fv_task_metadata_validate(bad_key, 1, &e), FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "UTF-8"));
    fv_kv bad_value[] = {{"k", "\xed\xa0\x80"}};
    FV_ASSERT_INT_EQ(fv_task_metadata_validate(bad_value, 1, &e), FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "metadata value"));

    /* 50 keys pass, 51 do not. */
    fv_kv many[FV_TASK_META_MAX_KEYS + 1];
    for (size_t i = 0; i < FV_TASK_META_MAX_KEYS + 1; i++) {
        many[i].key = fv_arena_printf(&a, "k%zu", i);
        many[i].value = "v";
    }
    FV_ASSERT_INT_EQ(fv_task_metadata_validate(many, FV_TASK_META_MAX_KEYS, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_metadata_validate(many, FV_TASK_META_MAX_KEYS + 1, &e), FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "metadata has 51 keys"));

    /* 64 KiB of keys and values pass, one byte more does not. */
    fv_kv big[2] = {{"k", fv_fixture_str(&a, 'v', FV_TASK_META_MAX_BYTES - 2)}, {"l", ""}};
    FV_ASSERT_INT_EQ(fv_task_metadata_validate(big, 2, &e), FV_OK);
    big[1].value = "x";
    FV_ASSERT_INT_EQ(fv_task_metadata_validate(big, 2, &e), FV_E_INVALID);
    CU_ASSERT_TRUE(msg_has(&e, "metadata holds"));
    fv_arena_release(&a);
}

/* ---------------------------------------------------------------------- */
/* Retry arithmetic                                                       */
/* ---------------------------------------------------------------------- */

static void test_task_domain__should_retry_counts_retries(void)
{
    /* max_retries 0: the first failure is final. */
    CU_ASSERT_FALSE(fv_task_should_retry(1, 0));
    /* max_retries 3: attempts 1..3 are retried, the 4th failure is final. */
    CU_ASSERT_TRUE(fv_task_should_retry(1, 3));
    CU_ASSERT_TRUE(fv_task_should_retry(3, 3));
    CU_ASSERT_FALSE(fv_task_should_retry(4, 3));
    CU_ASSERT_TRUE(fv_task_should_retry(10, 10));
    CU_ASSERT_FALSE(fv_task_should_retry(11, 10));
}

static void test_task_domain__retry_delay_backoff_and_caps(void)
{
    fv_retry_policy none = {0};
    FV_ASSERT_INT_EQ(fv_task_retry_delay_ms(&none, 1), 0);
    FV_ASSERT_INT_EQ(fv_task_retry_delay_ms(NULL, 5), 0);

    /* A coefficient without an initial delay: no delay. */
    fv_retry_policy coef_only = {.set = FV_RETRY_HAS_BACKOFF, .backoff_coefficient = 2.0};
    FV_ASSERT_INT_EQ(fv_task_retry_delay_ms(&coef_only, 3), 0);

    /* Constant delay when no coefficient is set. */
    fv_retry_policy constant = {.set = FV_RETRY_HAS_INITIAL_DELAY, .initial_delay_ms = 500};
    FV_ASSERT_INT_EQ(fv_task_retry_delay_ms(&constant, 1), 500);
    FV_ASSERT_INT_EQ(fv_task_retry_delay_ms(&constant, 7), 500);
    FV_ASSERT_INT_EQ(fv_task_retry_delay_ms(&constant, INT32_MAX), 500);

    fv_retry_policy p = {.set = FV_RETRY_HAS_INITIAL_DELAY | FV_RETRY_HAS_BACKOFF,
                         .initial_delay_ms = 1000,
                         .backoff_coefficient = 2.0};
    FV_ASSERT_INT_EQ(fv_task_retry_delay_ms(&p, 1), 1000);
    FV_ASSERT_INT_EQ(fv_task_retry_delay_ms(&p, 2), 2000);
    FV_ASSERT_INT_EQ(fv_task_retry_delay_ms(&p, 3), 4000);
    FV_ASSERT_INT_EQ(fv_task_retry_delay_ms(&p, 4), 8000);
    /* Out-of-range attempt numbers: 0 and negatives count as the first. */
    FV_ASSERT_INT_EQ(fv_task_retry_delay_ms(&p, 0), 1000);
    FV_ASSERT_INT_EQ(fv_task_retry_delay_ms(&p, -5), 1000);
    /* Huge attempt numbers hit the global cap, never overflow. */
    FV_ASSERT_INT_EQ(fv_task_retry_delay_ms(&p, 64), FV_RETRY_DELAY_MAX_MS);
    FV_ASSERT_INT_EQ(fv_task_retry_delay_ms(&p, 2000), FV_RETRY_DELAY_MAX_MS);
    FV_ASSERT_INT_EQ(fv_task_retry_delay_ms(&p, INT32_MAX), FV_RETRY_DELAY_MAX_MS);

    /* The policy's own cap. */
    p.set |= FV_RETRY_HAS_MAX_DELAY;
    p.max_delay_ms = 5000;
    FV_ASSERT_INT_EQ(fv_task_retry_delay_ms(&p, 3), 4000);
    FV_ASSERT_INT_EQ(fv_task_retry_delay_ms(&p, 4), 5000);
    FV_ASSERT_INT_EQ(fv_task_retry_delay_ms(&p, INT32_MAX), 5000);

    /* Largest values the validator accepts. */
    fv_retry_policy big = {.set = FV_RETRY_HAS_INITIAL_DELAY | FV_RETRY_HAS_BACKOFF,
                           .initial_delay_ms = FV_RETRY_DELAY_MAX_MS,
                           .backoff_coefficient = FV_RETRY_BACKOFF_MAX};
    FV_ASSERT_INT_EQ(fv_task_retry_delay_ms(&big, 1), FV_RETRY_DELAY_MAX_MS);
    FV_ASSERT_INT_EQ(fv_task_retry_delay_ms(&big, INT32_MAX), FV_RETRY_DELAY_MAX_MS);

    /* Values the validator refuses are not trusted: NaN reads as 1. */
    fv_retry_policy nan_coef = {.set = FV_RETRY_HAS_INITIAL_DELAY | FV_RETRY_HAS_BACKOFF,
                                .initial_delay_ms = 100,
                                .backoff_coefficient = NAN};
    FV_ASSERT_INT_EQ(fv_task_retry_delay_ms(&nan_coef, 9), 100);
    fv_retry_policy too_long = {.set = FV_RETRY_HAS_INITIAL_DELAY, .initial_delay_ms = INT64_MAX};
    FV_ASSERT_INT_EQ(fv_task_retry_delay_ms(&too_long, 1), FV_RETRY_DELAY_MAX_MS);

    /* 1.5 grows by half each time. */
    fv_retry_policy half = {.set = FV_RETRY_HAS_INITIAL_DELAY | FV_RETRY_HAS_BACKOFF,
                            .initial_delay_ms = 1000,
                            .backoff_coefficient = 1.5};
    FV_ASSERT_INT_EQ(fv_task_retry_delay_ms(&half, 3), 2250);
}

/* ---------------------------------------------------------------------- */
/* JSON writer and event data                                             */
/* ---------------------------------------------------------------------- */

static void test_task_domain__json_writer_escapes_and_nests(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_jsonw w;
    fv_jsonw_init(&w, &a);
    fv_jsonw_object_begin(&w);
    fv_jsonw_key(&w, "s");
    fv_jsonw_str(&w, "q\"b\\n\n\t\x01\x1f/é");
    fv_jsonw_key(&w, "k\"");
    fv_jsonw_array_begin(&w);
    fv_jsonw_int(&w, -3);
    fv_jsonw_double(&w, 0.1);
    fv_jsonw_bool(&w, true);
    fv_jsonw_null(&w);
    fv_jsonw_double(&w, NAN);
    fv_jsonw_object_begin(&w);
    fv_jsonw_object_end(&w);
    fv_jsonw_array_end(&w);
    fv_jsonw_key(&w, "t");
    fv_jsonw_time(&w, T0);
    fv_jsonw_key(&w, "none");
    fv_jsonw_time(&w, FV_TIME_NONE);
    fv_jsonw_key(&w, "raw");
    fv_jsonw_raw(&w, (fv_json){"{\"x\":1}", 7});
    fv_jsonw_key(&w, "bad");
    fv_jsonw_strn(&w, "a\xff\0z", 4);
    fv_jsonw_key(&w, "nul");
    fv_jsonw_strn(&w, "\xc3\xa9\0\xc3\xa9", 5); /* a NUL does not make é invalid */
    fv_jsonw_object_end(&w);
    fv_json j = fv_jsonw_finish(&w);
    FV_ASSERT_STR_EQ(js(&a, j),
                     "{\"s\":\"q\\\"b\\\\n\\n\\t\\u0001\\u001f/é\",\"k\\\"\":[-3,0.1,true,"
                     "null,null,{}],\"t\":\"2026-01-01T00:00:00.000Z\",\"none\":null,"
                     "\"raw\":{\"x\":1},\"bad\":\"a\\ufffd\\u0000z\",\"nul\":\"é\\u0000é\"}");
    FV_ASSERT_INT_EQ(j.n, strlen(j.p));

    /* The other short escapes, DEL kept as it is (JSON allows it), numbers
     * JSON cannot hold, a double that needs 17 digits, the smallest int. */
    fv_jsonw_init(&w, &a);
    fv_jsonw_array_begin(&w);
    fv_jsonw_str(&w, "\r\b\f\x7f");
    fv_jsonw_double(&w, INFINITY);
    fv_jsonw_double(&w, -INFINITY);
    fv_jsonw_double(&w, 0.1 + 0.2);
    fv_jsonw_int(&w, INT64_MIN);
    fv_jsonw_array_end(&w);
    FV_ASSERT_STR_EQ(js(&a, fv_jsonw_finish(&w)),
                     "[\"\\r\\b\\f\x7f\",null,null,0.30000000000000004,-9223372036854775808]");

    /* Unbalanced nesting is refused. */
    fv_jsonw_init(&w, &a);
    fv_jsonw_object_begin(&w);
    CU_ASSERT_FALSE(fv_json_present(fv_jsonw_finish(&w)));

    /* FV_JSONW_MAX_DEPTH levels pass; one more fails the writer. */
    for (int extra = 0; extra <= 1; extra++) {
        fv_jsonw_init(&w, &a);
        for (int i = 0; i < FV_JSONW_MAX_DEPTH + extra; i++)
            fv_jsonw_array_begin(&w);
        for (int i = 0; i < FV_JSONW_MAX_DEPTH + extra; i++)
            fv_jsonw_array_end(&w);
        j = fv_jsonw_finish(&w);
        CU_ASSERT_EQUAL(fv_json_present(j), extra == 0);
        if (extra == 0)
            FV_ASSERT_INT_EQ(j.n, 2 * FV_JSONW_MAX_DEPTH);
    }

    /* A full arena gives FV_JSON_NONE, never a truncated document. */
    fv_arena small;
    fv_arena_init(&small, 256);
    fv_jsonw_init(&w, &small);
    fv_jsonw_array_begin(&w);
    for (int i = 0; i < 200; i++)
        fv_jsonw_str(&w, "0123456789");
    fv_jsonw_array_end(&w);
    CU_ASSERT_FALSE(fv_json_present(fv_jsonw_finish(&w)));
    fv_arena_release(&small);
    fv_arena_release(&a);
}

static void test_task_domain__event_data_shapes(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_task t = running_task(1, 3);
    t.kind = "k\"1";
    t.scheduled_at = T0;
    FV_ASSERT_STR_EQ(js(&a, fv_task_event_data_created(&a, &t)),
                     "{\"kind\":\"k\\\"1\",\"queue\":\"default\","
                     "\"scheduledAt\":\"2026-01-01T00:00:00.000Z\"}");
    FV_ASSERT_STR_EQ(js(&a, fv_task_event_data_started(&a, 2, "w\n1")),
                     "{\"attempt\":2,\"workerId\":\"w\\n1\"}");
    FV_ASSERT_STR_EQ(js(&a, fv_task_event_data_progress(&a, 0.5, NULL)), "{\"progress\":0.5}");
    FV_ASSERT_STR_EQ(js(&a, fv_task_event_data_progress(&a, 1, "half \"way\"")),
                     "{\"progress\":1,\"details\":\"half \\\"way\\\"\"}");
    FV_ASSERT_STR_EQ(js(&a, fv_task_event_data_log(&a, FV_LOG_WARN, "disk\tfull", FV_JSON_NONE)),
                     "{\"level\":\"WARN\",\"message\":\"disk\\tfull\"}");
    FV_ASSERT_STR_EQ(
        js(&a, fv_task_event_data_log(&a, FV_LOG_INFO, "m", (fv_json){"{\"a\":\"b\"}", 9})),
        "{\"level\":\"INFO\",\"message\":\"m\",\"metadata\":{\"a\":\"b\"}}");
    FV_ASSERT_STR_EQ(js(&a, fv_task_event_data_completed(&a, 3, (fv_json){"[1,2]", 5})),
                     "{\"attempt\":3,\"output\":[1,2]}");
    FV_ASSERT_STR_EQ(js(&a, fv_task_event_data_completed(&a, 1, FV_JSON_NONE)),
                     "{\"attempt\":1,\"output\":null}");
    FV_ASSERT_STR_EQ(js(&a, fv_task_event_data_failed(&a, 1, FV_ATTEMPT_FAILED, "boom", T0 + 1000)),
                     "{\"attempt\":1,\"status\":\"FAILED\",\"error\":\"boom\","
                     "\"nextAttemptAt\":\"2026-01-01T00:00:01.000Z\"}");
    FV_ASSERT_STR_EQ(
        js(&a, fv_task_event_data_failed(&a, 4, FV_ATTEMPT_TIMEOUT, NULL, FV_TIME_NONE)),
        "{\"attempt\":4,\"status\":\"TIMEOUT\",\"error\":null}");
    FV_ASSERT_STR_EQ(js(&a, fv_task_event_data_cancelled(&a, 0, NULL)),
                     "{\"attempt\":null,\"reason\":null}");
    FV_ASSERT_STR_EQ(js(&a, fv_task_event_data_cancelled(&a, 2, "user")),
                     "{\"attempt\":2,\"reason\":\"user\"}");

    /* A full arena: FV_JSON_NONE. */
    fv_arena tiny;
    fv_arena_init(&tiny, 64);
    char *big = fv_fixture_str(&a, 'x', 4096);
    CU_ASSERT_FALSE(fv_json_present(fv_task_event_data_started(&tiny, 1, big)));
    fv_arena_release(&tiny);
    fv_arena_release(&a);
}

/* ---------------------------------------------------------------------- */
/* Transitions                                                            */
/* ---------------------------------------------------------------------- */

static void test_task_domain__complete_ends_the_attempt(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_error e;
    fv_task t = running_task(2, 3);
    fv_attempt_outcome o = {FV_ATTEMPT_COMPLETED, 0, {"{\"ok\":true}", 11}, NULL, T0 + 250};
    fv_task_transition tr;
    FV_ASSERT_INT_EQ(fv_task_plan_attempt_end(&a, &t, &o, &tr, &e), FV_OK);
    FV_ASSERT_INT_EQ(tr.next, FV_TASK_COMPLETED);
    FV_ASSERT_INT_EQ(tr.event, FV_TEV_TASK_COMPLETED);
    CU_ASSERT_TRUE(tr.has_attempt);
    FV_ASSERT_INT_EQ(tr.attempt_row.attempt, 2);
    FV_ASSERT_INT_EQ(tr.attempt_row.status, FV_ATTEMPT_COMPLETED);
    FV_ASSERT_INT_EQ(tr.attempt_row.started_at, T0);
    FV_ASSERT_INT_EQ(tr.attempt_row.finished_at, T0 + 250);
    FV_ASSERT_INT_EQ(tr.attempt_row.duration_ms, 250);
    FV_ASSERT_STR_EQ(tr.attempt_row.worker_id, "worker-1");
    FV_ASSERT_STR_EQ(js(&a, tr.attempt_row.output), "{\"ok\":true}");
    FV_ASSERT_STR_EQ(js(&a, tr.event_data), "{\"attempt\":2,\"output\":{\"ok\":true}}");

    fv_task_apply_transition(&t, &tr, T0 + 250);
    FV_ASSERT_INT_EQ(t.status, FV_TASK_COMPLETED);
    FV_ASSERT_INT_EQ(t.completed_at, T0 + 250);
    FV_ASSERT_STR_EQ(js(&a, t.output), "{\"ok\":true}");
    FV_ASSERT_INT_EQ(t.execution_count, 2);
    FV_ASSERT_STR_EQ(t.worker_id, "worker-1");

    /* Terminal: a second end changes nothing and names the state. */
    fv_task_transition tr2;
    FV_ASSERT_INT_EQ(fv_task_plan_attempt_end(&a, &t, &o, &tr2, &e), FV_E_PRECONDITION);
    CU_ASSERT_TRUE(msg_has(&e, "task 11111111-2222-3333-4444-555555555555 is COMPLETED, not "
                               "RUNNING"));
    o.status = FV_ATTEMPT_FAILED;
    FV_ASSERT_INT_EQ(fv_task_plan_attempt_end(&a, &t, &o, &tr2, &e), FV_E_PRECONDITION);
    fv_arena_release(&a);
}

static void test_task_domain__attempt_number_must_match(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_error e;
    fv_task t = running_task(3, 5);
    fv_attempt_outcome o = {FV_ATTEMPT_TIMEOUT, 2, FV_JSON_NONE, "timed out", T0 + 10};
    fv_task_transition tr;
    FV_ASSERT_INT_EQ(fv_task_plan_attempt_end(&a, &t, &o, &tr, &e), FV_E_PRECONDITION);
    CU_ASSERT_TRUE(msg_has(&e, "attempt 3, not attempt 2"));
    o.attempt = 3;
    FV_ASSERT_INT_EQ(fv_task_plan_attempt_end(&a, &t, &o, &tr, &e), FV_OK);
    FV_ASSERT_INT_EQ(tr.next, FV_TASK_PENDING);
    FV_ASSERT_INT_EQ(tr.attempt_row.status, FV_ATTEMPT_TIMEOUT);
    FV_ASSERT_STR_EQ(tr.attempt_row.error, "timed out");

    /* PENDING is not RUNNING either. */
    t.status = FV_TASK_PENDING;
    FV_ASSERT_INT_EQ(fv_task_plan_attempt_end(&a, &t, &o, &tr, &e), FV_E_PRECONDITION);
    CU_ASSERT_TRUE(msg_has(&e, "is PENDING, not RUNNING"));

    /* CANCELLED is not an attempt end of its own. */
    t.status = FV_TASK_RUNNING;
    o.status = FV_ATTEMPT_CANCELLED;
    FV_ASSERT_INT_EQ(fv_task_plan_attempt_end(&a, &t, &o, &tr, &e), FV_E_INVALID);
    fv_arena_release(&a);
}

/* Fail attempt after attempt through claims until the task is FAILED; the
 * number of attempts it took. */
static int attempts_until_failed(fv_arena *a, int32_t max_retries, const fv_retry_policy *p,
                                 fv_time *last_next_at)
{
    fv_task t = running_task(1, max_retries);
    if (p != NULL)
        t.retry_policy = *p;
    fv_time now = T0;
    for (int i = 0; i < 100; i++) {
        fv_error e;
        fv_task_transition tr;
        fv_attempt_outcome o = {FV_ATTEMPT_FAILED, 0, FV_JSON_NONE, "boom", now};
        if (fv_task_plan_attempt_end(a, &t, &o, &tr, &e) != FV_OK)
            return -1;
        fv_task_apply_transition(&t, &tr, now);
        if (t.status == FV_TASK_FAILED) {
            if (tr.event != FV_TEV_TASK_FAILED || t.completed_at != now ||
                strcmp(t.error, "boom") != 0)
                return -2;
            return t.execution_count;
        }
        if (t.status != FV_TASK_PENDING || tr.event != FV_TEV_RETRY ||
            t.completed_at != FV_TIME_NONE)
            return -3;
        *last_next_at = t.scheduled_at - now;
        now = t.scheduled_at;
        fv_task_apply_claim(&t, "worker-2", NULL, now);
    }
    return -4;
}

static void test_task_domain__retries_until_exhausted(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_time delay = -1;
    FV_ASSERT_INT_EQ(attempts_until_failed(&a, 0, NULL, &delay), 1);
    FV_ASSERT_INT_EQ(attempts_until_failed(&a, 3, NULL, &delay), 4);
    FV_ASSERT_INT_EQ(delay, 0); /* no backoff: claimable at once */
    FV_ASSERT_INT_EQ(attempts_until_failed(&a, 10, NULL, &delay), 11);
    fv_retry_policy p = {.set = FV_RETRY_HAS_INITIAL_DELAY | FV_RETRY_HAS_BACKOFF,
                         .initial_delay_ms = 100,
                         .backoff_coefficient = 3.0};
    FV_ASSERT_INT_EQ(attempts_until_failed(&a, 2, &p, &delay), 3);
    FV_ASSERT_INT_EQ(delay, 300); /* after attempt 2: 100 * 3 */
    fv_arena_release(&a);
}

static void test_task_domain__retry_event_carries_the_next_attempt_time(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_error e;
    fv_task t = running_task(1, 3);
    t.retry_policy = (fv_retry_policy){.set = FV_RETRY_HAS_INITIAL_DELAY, .initial_delay_ms = 1000};
    fv_attempt_outcome o = {FV_ATTEMPT_FAILED, 1, FV_JSON_NONE, "bad \"input\"", T0};
    fv_task_transition tr;
    FV_ASSERT_INT_EQ(fv_task_plan_attempt_end(&a, &t, &o, &tr, &e), FV_OK);
    FV_ASSERT_INT_EQ(tr.next, FV_TASK_PENDING);
    FV_ASSERT_INT_EQ(tr.scheduled_at, T0 + 1000);
    FV_ASSERT_STR_EQ(js(&a, tr.event_data),
                     "{\"attempt\":1,\"status\":\"FAILED\",\"error\":\"bad \\\"input\\\"\","
                     "\"nextAttemptAt\":\"2026-01-01T00:00:01.000Z\"}");
    fv_task_apply_transition(&t, &tr, T0);
    FV_ASSERT_STR_EQ(t.error, "bad \"input\"");
    FV_ASSERT_INT_EQ(t.scheduled_at, T0 + 1000);
    FV_ASSERT_INT_EQ(t.completed_at, FV_TIME_NONE);
    FV_ASSERT_STR_EQ(t.worker_id, "worker-1"); /* kept */

    /* The next attempt completes: the old error stays, output is set. */
    fv_uuid wid;
    fv_uuid_parse("aaaaaaaa-2222-3333-4444-555555555555", FV_UUID_STR_LEN, &wid);
    fv_opt_uuid w = {true, wid};
    fv_task_apply_claim(&t, "worker-2", &w, T0 + 1000);
    FV_ASSERT_INT_EQ(t.status, FV_TASK_RUNNING);
    FV_ASSERT_INT_EQ(t.execution_count, 2);
    FV_ASSERT_STR_EQ(t.worker_id, "worker-2");
    CU_ASSERT_TRUE(t.worker_uuid.has && fv_uuid_eq(&t.worker_uuid.id, &wid));
    FV_ASSERT_INT_EQ(t.started_at, T0 + 1000);
    FV_ASSERT_INT_EQ(t.last_heartbeat_at, T0 + 1000);
    o = (fv_attempt_outcome){FV_ATTEMPT_COMPLETED, 2, {"1", 1}, NULL, T0 + 1500};
    FV_ASSERT_INT_EQ(fv_task_plan_attempt_end(&a, &t, &o, &tr, &e), FV_OK);
    FV_ASSERT_INT_EQ(tr.attempt_row.duration_ms, 500);
    FV_ASSERT_STR_EQ(tr.attempt_row.worker_id, "worker-2");
    fv_task_apply_transition(&t, &tr, T0 + 1500);
    FV_ASSERT_INT_EQ(t.status, FV_TASK_COMPLETED);
    FV_ASSERT_STR_EQ(js(&a, t.output), "1");

    /* A claim without a registered worker clears worker_uuid. */
    fv_task u = running_task(1, 0);
    u.status = FV_TASK_PENDING;
    u.worker_uuid = w;
    fv_task_apply_claim(&u, "anon", NULL, T0);
    CU_ASSERT_FALSE(u.worker_uuid.has);
    fv_arena_release(&a);
}

static void test_task_domain__cancel_from_each_state(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_error e;
    const unsigned both = FV_TASK_BIT(FV_TASK_PENDING) | FV_TASK_BIT(FV_TASK_RUNNING);
    const unsigned pending_only = FV_TASK_BIT(FV_TASK_PENDING);
    fv_task_transition tr;

    /* PENDING: no attempt ends. */
    fv_task t = running_task(0, 3);
    t.status = FV_TASK_PENDING;
    t.worker_id = NULL;
    FV_ASSERT_INT_EQ(fv_task_plan_cancel(&a, &t, pending_only, "no longer needed", T0 + 5, &tr, &e),
                     FV_OK);
    FV_ASSERT_INT_EQ(tr.next, FV_TASK_CANCELLED);
    FV_ASSERT_INT_EQ(tr.event, FV_TEV_TASK_CANCELLED);
    CU_ASSERT_FALSE(tr.has_attempt);
    FV_ASSERT_STR_EQ(js(&a, tr.event_data), "{\"attempt\":null,\"reason\":\"no longer needed\"}");
    fv_task_apply_transition(&t, &tr, T0 + 5);
    FV_ASSERT_INT_EQ(t.status, FV_TASK_CANCELLED);
    FV_ASSERT_INT_EQ(t.completed_at, T0 + 5);
    CU_ASSERT_PTR_NULL(t.error);

    /* Again: terminal. */
    FV_ASSERT_INT_EQ(fv_task_plan_cancel(&a, &t, both, NULL, T0 + 6, &tr, &e), FV_E_PRECONDITION);
    CU_ASSERT_TRUE(msg_has(&e, "is CANCELLED; only a PENDING or RUNNING task can be cancelled"));

    /* RUNNING with the REST mask: refused, names the state. */
    fv_task r = running_task(2, 3);
    FV_ASSERT_INT_EQ(fv_task_plan_cancel(&a, &r, pending_only, NULL, T0 + 7, &tr, &e),
                     FV_E_PRECONDITION);
    CU_ASSERT_TRUE(msg_has(&e, "task 11111111-2222-3333-4444-555555555555 is RUNNING; only a "
                               "PENDING task can be cancelled"));
    /* RUNNING with gRPC's mask: its attempt ends CANCELLED. */
    FV_ASSERT_INT_EQ(fv_task_plan_cancel(&a, &r, both, NULL, T0 + 7, &tr, &e), FV_OK);
    CU_ASSERT_TRUE(tr.has_attempt);
    FV_ASSERT_INT_EQ(tr.attempt_row.attempt, 2);
    FV_ASSERT_INT_EQ(tr.attempt_row.status, FV_ATTEMPT_CANCELLED);
    FV_ASSERT_INT_EQ(tr.attempt_row.duration_ms, 7);
    FV_ASSERT_STR_EQ(js(&a, tr.event_data), "{\"attempt\":2,\"reason\":null}");
    fv_task_apply_transition(&r, &tr, T0 + 7);
    FV_ASSERT_INT_EQ(r.status, FV_TASK_CANCELLED);
    CU_ASSERT_FALSE(fv_json_present(r.output));

    /* A late completion does not revive it. */
    fv_attempt_outcome o = {FV_ATTEMPT_COMPLETED, 2, {"1", 1}, NULL, T0 + 8};
    FV_ASSERT_INT_EQ(fv_task_plan_attempt_end(&a, &r, &o, &tr, &e), FV_E_PRECONDITION);
    CU_ASSERT_TRUE(msg_has(&e, "is CANCELLED, not RUNNING"));

    /* COMPLETED and FAILED cannot be cancelled with any mask. */
    r.status = FV_TASK_COMPLETED;
    FV_ASSERT_INT_EQ(fv_task_plan_cancel(&a, &r, 0xffffffffu, NULL, T0, &tr, &e),
                     FV_E_PRECONDITION);
    CU_ASSERT_TRUE(msg_has(&e, "is COMPLETED"));
    r.status = FV_TASK_FAILED;
    FV_ASSERT_INT_EQ(fv_task_plan_cancel(&a, &r, 0, NULL, T0, &tr, &e), FV_E_PRECONDITION);
    CU_ASSERT_TRUE(msg_has(&e, "is FAILED and cannot be cancelled"));
    fv_arena_release(&a);
}

static void test_task_domain__plans_report_a_full_arena(void)
{
    fv_arena tiny;
    fv_arena_init(&tiny, 32);
    fv_error e;
    fv_task t = running_task(1, 3);
    char big[2048];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    fv_attempt_outcome o = {FV_ATTEMPT_FAILED, 0, FV_JSON_NONE, big, T0};
    fv_task_transition tr;
    FV_ASSERT_INT_EQ(fv_task_plan_attempt_end(&tiny, &t, &o, &tr, &e), FV_E_EXHAUSTED);
    FV_ASSERT_INT_EQ(fv_task_plan_cancel(&tiny, &t, FV_TASK_BIT(FV_TASK_RUNNING), big, T0, &tr, &e),
                     FV_E_EXHAUSTED);
    fv_arena_release(&tiny);
}

static const fv_test_case cases[] = {
    FV_TEST_CASE(test_task_domain__status_names_round_trip),
    FV_TEST_CASE(test_task_domain__attempt_event_and_level_names),
    FV_TEST_CASE(test_task_domain__kind_and_queue_bounds),
    FV_TEST_CASE(test_task_domain__metadata_rules),
    FV_TEST_CASE(test_task_domain__should_retry_counts_retries),
    FV_TEST_CASE(test_task_domain__retry_delay_backoff_and_caps),
    FV_TEST_CASE(test_task_domain__json_writer_escapes_and_nests),
    FV_TEST_CASE(test_task_domain__event_data_shapes),
    FV_TEST_CASE(test_task_domain__complete_ends_the_attempt),
    FV_TEST_CASE(test_task_domain__attempt_number_must_match),
    FV_TEST_CASE(test_task_domain__retries_until_exhausted),
    FV_TEST_CASE(test_task_domain__retry_event_carries_the_next_attempt_time),
    FV_TEST_CASE(test_task_domain__cancel_from_each_state),
    FV_TEST_CASE(test_task_domain__plans_report_a_full_arena),
};

int main(void)
{
    return fv_test_run("task_domain", cases, FV_TEST_COUNT(cases));
}
