/*
 * What the `flovyn` CLI prints in table mode (cli/render.h): relative times,
 * display widths, the table layout, and every renderer against the expected
 * text in the files tests/cli/render/NAME.txt. Each of them holds
 *
 *     # comments
 *     @render workers|worker|workflow-definitions|task-definitions|
 *             workflow-definition|task-definition
 *     @now <RFC 3339 time the relative times are computed from>
 *     @json
 *     <the server's JSON>
 *     @expect
 *     <the exact output, to the end of the file>
 *
 * so a new case is a new file. No server is involved.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/buf.h"
#include "cli/render.h"
#include "core/util/alloc.h"
#include "core/util/arena.h"
#include "core/util/time.h"
#include "tests/support/cunit_main.h"

#define RENDER_DIR FV_SOURCE_DIR "/tests/cli/render"

static fv_time at(const char *rfc3339)
{
    fv_time t = 0;
    CU_ASSERT_FATAL(fv_time_parse(rfc3339, strlen(rfc3339), &t));
    return t;
}

/* ---------------------------------------------------------------------- */
/* Relative times and widths                                              */
/* ---------------------------------------------------------------------- */

static void expect_ago(fv_time now, int64_t delta_ms, const char *want)
{
    char out[FV_CLI_RELTIME_MAX];
    fv_cli_relative_time(now, now - delta_ms, out);
    FV_ASSERT_STR_EQ(out, want);
}

static void test_cli_format__relative_times_in_whole_units(void)
{
    fv_time now = at("2026-11-29T03:30:00.000Z");
    expect_ago(now, 0, "0s ago");
    expect_ago(now, 999, "0s ago");
    expect_ago(now, 2000, "2s ago");
    expect_ago(now, 15500, "15s ago");
    expect_ago(now, 59999, "59s ago");
    expect_ago(now, 60000, "1m ago");
    expect_ago(now, 5 * 60000 + 59000, "5m ago");
    expect_ago(now, 3599999, "59m ago");
    expect_ago(now, 3600000, "1h ago");
    expect_ago(now, 3 * 3600000 + 1, "3h ago");
    expect_ago(now, 86399999, "23h ago");
    expect_ago(now, 86400000, "1d ago");
    expect_ago(now, 2 * 86400000 + 5, "2d ago");
    expect_ago(now, (int64_t)400 * 86400000, "400d ago");
}

static void test_cli_format__times_ahead_of_now_within_a_second_read_as_now(void)
{
    fv_time now = at("2026-11-29T03:30:00.000Z");
    expect_ago(now, -1, "0s ago");
    expect_ago(now, -999, "0s ago");
    expect_ago(now, -1000, "in 1s");
    expect_ago(now, -5000, "in 5s");
    expect_ago(now, -120000, "in 2m");
    expect_ago(now, -(int64_t)3 * 86400000, "in 3d");
}

static void test_cli_format__display_width_counts_characters(void)
{
    FV_ASSERT_INT_EQ(fv_cli_text_width(""), 0);
    FV_ASSERT_INT_EQ(fv_cli_text_width("abc"), 3);
    FV_ASSERT_INT_EQ(fv_cli_text_width("café"), 4);
    FV_ASSERT_INT_EQ(fv_cli_text_width("wörker-😀"), 8);
}

/* ---------------------------------------------------------------------- */
/* The table                                                              */
/* ---------------------------------------------------------------------- */

static void test_cli_format__table_columns_fit_content_two_spaces_last_unpadded(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    static const char *const headers[] = {"A", "LONG HEADER", "C"};
    fv_cli_table t;
    fv_cli_table_init(&t, &a, headers, 3);
    const char *r1[] = {"wide cell here", "x", "last"};
    const char *r2[] = {NULL, "", "tab\there"};
    fv_cli_table_add(&t, r1);
    fv_cli_table_add(&t, r2);
    fv_cli_buf b;
    fv_cli_buf_init(&b, 0);
    FV_ASSERT_INT_EQ(fv_cli_table_render(&t, "> ", &b), FV_OK);
    FV_ASSERT_STR_EQ(fv_cli_buf_str(&b), "> A               LONG HEADER  C\n"
                                         "> wide cell here  x            last\n"
                                         "> -               -            tab here\n");
    fv_cli_buf_release(&b);
    fv_arena_release(&a);
}

static void test_cli_format__table_with_no_rows_is_its_header(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    static const char *const headers[] = {"KIND", "NAME"};
    fv_cli_table t;
    fv_cli_table_init(&t, &a, headers, 2);
    fv_cli_buf b;
    fv_cli_buf_init(&b, 0);
    FV_ASSERT_INT_EQ(fv_cli_table_render(&t, "", &b), FV_OK);
    FV_ASSERT_STR_EQ(fv_cli_buf_str(&b), "KIND  NAME\n");
    fv_cli_buf_release(&b);
    fv_arena_release(&a);
}

static void test_cli_format__table_grows_past_its_first_chunk(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    static const char *const headers[] = {"N"};
    fv_cli_table t;
    fv_cli_table_init(&t, &a, headers, 1);
    char cell[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(cell, sizeof cell, "%d", i);
        const char *row[] = {cell};
        fv_cli_table_add(&t, row);
    }
    fv_cli_buf b;
    fv_cli_buf_init(&b, 0);
    FV_ASSERT_INT_EQ(fv_cli_table_render(&t, "", &b), FV_OK);
    FV_ASSERT_INT_EQ(t.rows, 1000);
    CU_ASSERT_PTR_NOT_NULL(strstr(fv_cli_buf_str(&b), "\n999\n"));
    fv_cli_buf_release(&b);
    fv_arena_release(&a);
}

/* ---------------------------------------------------------------------- */
/* Renderers on wrong shapes and out of memory                            */
/* ---------------------------------------------------------------------- */

static void test_cli_format__a_list_that_is_not_an_array_is_an_error(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_cli_buf b;
    fv_cli_buf_init(&b, 0);
    fv_error e;
    json_t *obj = json_pack("{s:i}", "workers", 1);
    FV_ASSERT_INT_EQ(fv_cli_render_workers(&a, obj, 0, &b, &e), FV_E_INTERNAL);
    FV_ASSERT_STR_EQ(e.msg, "the server's answer is not a list of workers");
    FV_ASSERT_INT_EQ(fv_cli_render_definitions(&a, FV_CLI_DEF_TASK, obj, 0, &b, &e), FV_E_INTERNAL);
    FV_ASSERT_INT_EQ(fv_cli_render_worker(&a, obj, 0, &b, &e), FV_E_INTERNAL);
    json_t *arr = json_array();
    FV_ASSERT_INT_EQ(fv_cli_render_definition(&a, FV_CLI_DEF_WORKFLOW, arr, 0, &b, &e),
                     FV_E_INTERNAL);
    FV_ASSERT_INT_EQ(b.n, 0);
    json_decref(obj);
    json_decref(arr);
    fv_cli_buf_release(&b);
    fv_arena_release(&a);
}

/* One rendering of `doc` as `what` into b. */
static fv_err render(fv_arena *a, const char *what, const json_t *doc, fv_cli_def_class cls,
                     fv_cli_buf *b, fv_error *e)
{
    fv_time now = at("2026-11-29T03:30:00.000Z");
    if (strcmp(what, "workers") == 0)
        return fv_cli_render_workers(a, doc, now, b, e);
    if (strcmp(what, "worker") == 0)
        return fv_cli_render_worker(a, doc, now, b, e);
    if (strcmp(what, "definitions") == 0)
        return fv_cli_render_definitions(a, cls, doc, now, b, e);
    return fv_cli_render_definition(a, cls, doc, now, b, e);
}

#define SWEEP_CAP ((size_t)64 * 1024)

/*
 * Render with too little memory, in two sweeps: the arena may hand out only
 * `budget` more bytes (budget 0, 16, 32, ...: every arena allocation of the
 * renderer is the first to fail in some run), and the heap fails at its Nth
 * allocation (the output buffer). Until a run needs no failure, each run
 * either fails with FV_E_EXHAUSTED or prints exactly what a run with enough
 * memory prints: never "-" for a value it could not copy.
 */
static void oom_sweep(const char *what, const json_t *doc, fv_cli_def_class cls)
{
    fv_cli_buf want;
    fv_cli_buf_init(&want, 0);
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_error e;
    CU_ASSERT_FATAL(render(&a, what, doc, cls, &want, &e) == FV_OK);
    fv_arena_release(&a);

    int failures = 0;
    bool complete = false;
    for (size_t budget = 0; budget <= SWEEP_CAP && !complete; budget += 16) {
        fv_arena_init(&a, SWEEP_CAP);
        CU_ASSERT_FATAL(fv_arena_alloc(&a, SWEEP_CAP - budget) != NULL);
        fv_cli_buf b;
        fv_cli_buf_init(&b, 0);
        fv_err rc = render(&a, what, doc, cls, &b, &e);
        if (rc != FV_OK) {
            FV_ASSERT_INT_EQ(rc, FV_E_EXHAUSTED);
            failures++;
        } else {
            FV_ASSERT_STR_EQ(fv_cli_buf_str(&b), fv_cli_buf_str(&want));
            complete = true;
        }
        fv_cli_buf_release(&b);
        fv_arena_release(&a);
    }
    CU_ASSERT(complete);
    CU_ASSERT(failures > 10);

    complete = false;
    for (long n = 0; n < 1000 && !complete; n++) {
        fv_arena_init(&a, 0);
        fv_cli_buf b;
        fv_cli_buf_init(&b, 0);
        fv_alloc_fail_after(n);
        fv_err rc = render(&a, what, doc, cls, &b, &e);
        fv_alloc_fail_reset();
        if (rc != FV_OK) {
            FV_ASSERT_INT_EQ(rc, FV_E_EXHAUSTED);
        } else {
            FV_ASSERT_STR_EQ(fv_cli_buf_str(&b), fv_cli_buf_str(&want));
            complete = true;
        }
        fv_cli_buf_release(&b);
        fv_arena_release(&a);
    }
    CU_ASSERT(complete);
    fv_cli_buf_release(&want);
}

/* The @json of a render file. */
static json_t *render_file_json(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", RENDER_DIR, name);
    FILE *f = fopen(path, "rb");
    CU_ASSERT_FATAL(f != NULL);
    char text[16384];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *j = strstr(text, "\n@json\n");
    const char *x = strstr(text, "\n@expect\n");
    CU_ASSERT_FATAL(j != NULL && x != NULL);
    j += strlen("\n@json\n");
    json_t *doc = json_loadb(j, (size_t)(x - j), 0, NULL);
    CU_ASSERT_FATAL(doc != NULL);
    return doc;
}

static void test_cli_format__out_of_memory_fails_and_never_prints_a_wrong_cell(void)
{
    static const struct {
        const char *file, *what;
        fv_cli_def_class cls;
    } cases[] = {
        {"workers_seed_example.txt", "workers", FV_CLI_DEF_WORKFLOW},
        {"worker_detail.txt", "worker", FV_CLI_DEF_WORKFLOW},
        {"workflow_definitions_seed_example.txt", "definitions", FV_CLI_DEF_WORKFLOW},
        {"workflow_definition_detail.txt", "definition", FV_CLI_DEF_WORKFLOW},
        {"task_definition_configured.txt", "definition", FV_CLI_DEF_TASK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *doc = render_file_json(cases[i].file);
        oom_sweep(cases[i].what, doc, cases[i].cls);
        json_decref(doc);
    }
}

/* ---------------------------------------------------------------------- */
/* The data files                                                         */
/* ---------------------------------------------------------------------- */

/* The text of a file (fv_free), NULL when it cannot be read. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fv_cli_buf b;
    fv_cli_buf_init(&b, 0);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fv_cli_buf_add(&b, chunk, n);
    fclose(f);
    if (b.failed || b.p == NULL) {
        fv_cli_buf_release(&b);
        return NULL;
    }
    return b.p;
}

/* The value after "@<name> " on its own line, copied into out. */
static bool directive(const char *text, const char *name, char *out, size_t size)
{
    char key[32];
    snprintf(key, sizeof key, "\n@%s ", name);
    const char *p = strstr(text, key);
    if (p != NULL)
        p += strlen(key);
    else if (strncmp(text, key + 1, strlen(key + 1)) == 0)
        p = text + strlen(key + 1); /* on the first line */
    else
        return false;
    size_t n = strcspn(p, "\n");
    if (n >= size)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

/* Run one file; true when the output is the expected text (else the
 * difference is printed). */
static bool run_file(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", RENDER_DIR, name);
    char *text = slurp(path);
    if (text == NULL) {
        printf("\n%s: cannot read\n", path);
        return false;
    }
    char what[64], now_text[64];
    const char *json_at = strstr(text, "\n@json\n");
    const char *expect_at = strstr(text, "\n@expect\n");
    bool ok = directive(text, "render", what, sizeof what) &&
              directive(text, "now", now_text, sizeof now_text) && json_at != NULL &&
              expect_at != NULL && json_at < expect_at;
    fv_time now = 0;
    if (ok)
        ok = fv_time_parse(now_text, strlen(now_text), &now);
    if (!ok) {
        printf("\n%s: needs @render, @now, @json and @expect\n", path);
        fv_free(text);
        return false;
    }
    const char *json_text = json_at + strlen("\n@json\n");
    const char *expect = expect_at + strlen("\n@expect\n");
    json_error_t jerr;
    json_t *doc = json_loadb(json_text, (size_t)(expect_at - json_text), 0, &jerr);
    if (doc == NULL) {
        printf("\n%s: @json: %s (line %d)\n", path, jerr.text, jerr.line);
        fv_free(text);
        return false;
    }

    fv_arena a;
    fv_arena_init(&a, 0);
    fv_cli_buf out;
    fv_cli_buf_init(&out, 0);
    fv_error e;
    fv_err rc = FV_E_INVALID;
    if (strcmp(what, "workers") == 0)
        rc = fv_cli_render_workers(&a, doc, now, &out, &e);
    else if (strcmp(what, "worker") == 0)
        rc = fv_cli_render_worker(&a, doc, now, &out, &e);
    else if (strcmp(what, "workflow-definitions") == 0)
        rc = fv_cli_render_definitions(&a, FV_CLI_DEF_WORKFLOW, doc, now, &out, &e);
    else if (strcmp(what, "task-definitions") == 0)
        rc = fv_cli_render_definitions(&a, FV_CLI_DEF_TASK, doc, now, &out, &e);
    else if (strcmp(what, "workflow-definition") == 0)
        rc = fv_cli_render_definition(&a, FV_CLI_DEF_WORKFLOW, doc, now, &out, &e);
    else if (strcmp(what, "task-definition") == 0)
        rc = fv_cli_render_definition(&a, FV_CLI_DEF_TASK, doc, now, &out, &e);
    else
        snprintf(e.msg, sizeof e.msg, "unknown @render \"%s\"", what);

    ok = rc == FV_OK && strcmp(fv_cli_buf_str(&out), expect) == 0;
    if (rc != FV_OK)
        printf("\n%s: %s\n", path, e.msg);
    else if (!ok)
        printf("\n%s: output differs\n--- expected\n%s--- got\n%s---\n", path, expect,
               fv_cli_buf_str(&out));
    fv_cli_buf_release(&out);
    fv_arena_release(&a);
    json_decref(doc);
    fv_free(text);
    return ok;
}

static int by_name(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static void test_cli_format__every_render_file_gives_its_expected_text(void)
{
    DIR *d = opendir(RENDER_DIR);
    CU_ASSERT_FATAL(d != NULL);
    char *names[256] = {NULL};
    size_t n = 0;
    const struct dirent *ent;
    while ((ent = readdir(d)) != NULL && n < 256) {
        size_t len = strlen(ent->d_name);
        if (len > 4 && strcmp(ent->d_name + len - 4, ".txt") == 0)
            names[n++] = fv_strdup(ent->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], by_name);
    CU_ASSERT(n >= 10);
    size_t passed = 0;
    for (size_t i = 0; i < n; i++) {
        bool ok = run_file(names[i]);
        CU_ASSERT(ok);
        passed += ok;
        fv_free(names[i]);
    }
    FV_ASSERT_INT_EQ(passed, n);
}

static const fv_test_case cases[] = {
    FV_TEST_CASE(test_cli_format__relative_times_in_whole_units),
    FV_TEST_CASE(test_cli_format__times_ahead_of_now_within_a_second_read_as_now),
    FV_TEST_CASE(test_cli_format__display_width_counts_characters),
    FV_TEST_CASE(test_cli_format__table_columns_fit_content_two_spaces_last_unpadded),
    FV_TEST_CASE(test_cli_format__table_with_no_rows_is_its_header),
    FV_TEST_CASE(test_cli_format__table_grows_past_its_first_chunk),
    FV_TEST_CASE(test_cli_format__a_list_that_is_not_an_array_is_an_error),
    FV_TEST_CASE(test_cli_format__out_of_memory_fails_and_never_prints_a_wrong_cell),
    FV_TEST_CASE(test_cli_format__every_render_file_gives_its_expected_text),
};

int main(void)
{
    return fv_test_run("cli_format", cases, FV_TEST_COUNT(cases));
}
