/*
 * The reads on workers and definitions (core/queries/worker_queries.h) on
 * the in-memory adapter with a fake clock: pagination, filters, statuses and
 * availability derived at read time, detail views, histories and tenant
 * isolation.
 */
#include <stdio.h>
#include <string.h>

#include "core/jobs/worker_jobs.h"
#include "core/queries/worker_queries.h"
#include "core/usecases/worker_usecases.h"
#include "tests/support/cunit_main.h"
#include "tests/support/fixture.h"

#define T0 FV_FIXTURE_T0

static fv_fixture fx;

static int setup(void)
{
    return fv_fixture_init(&fx);
}

static void teardown(void)
{
    fv_fixture_release(&fx);
}

static const fv_space_sel no_space = {.mode = FV_SPACE_NONE};

static fv_uuid must_register(const fv_fixture_req *r)
{
    fv_uuid id;
    memset(&id, 0, sizeof id);
    fv_error e;
    fv_register_result res;
    fv_err rc = fv_worker_register(&fx.deps, &fx.arena, &r->req, &res, &e);
    if (rc != FV_OK)
        fprintf(stderr, "\n  registration failed: %s: %s\n", fv_err_name(rc), e.msg);
    CU_ASSERT_FATAL(rc == FV_OK);
    return res.worker_id;
}

static fv_worker get_worker(const fv_uuid *id)
{
    fv_worker w;
    memset(&w, 0, sizeof w);
    FV_ASSERT_INT_EQ(fv_query_worker(&fx.deps, &fx.arena, &fx.tenant, id, &w, NULL), FV_OK);
    return w;
}

static fv_definition_detail definition(fv_def_class cls, const char *kind)
{
    fv_definition_detail d;
    memset(&d, 0, sizeof d);
    FV_ASSERT_INT_EQ(
        fv_query_definition(&fx.deps, &fx.arena, cls, &fx.tenant, &no_space, kind, &d, NULL),
        FV_OK);
    return d;
}

static fv_err list_workers(const fv_worker_filter *f, int64_t limit, int64_t offset,
                           fv_worker_list *out)
{
    memset(out, 0, sizeof *out);
    return fv_query_workers(&fx.deps, &fx.arena, f, (fv_page){limit, offset}, out, NULL);
}

static fv_err list_defs(fv_def_class cls, const fv_definition_filter *f, int64_t limit,
                        int64_t offset, fv_definition_list *out)
{
    memset(out, 0, sizeof *out);
    return fv_query_definitions(&fx.deps, &fx.arena, cls, f, (fv_page){limit, offset}, out, NULL);
}

static bool id_eq(const fv_uuid *x, const fv_uuid *y)
{
    return fv_uuid_eq(x, y);
}

/* ---------------------------------------------------------------------- */
/* Pagination                                                             */
/* ---------------------------------------------------------------------- */

static void test_worker_queries__page_validate_enforces_the_bounds(void)
{
    fv_error e;
    FV_ASSERT_INT_EQ(fv_page_validate((fv_page){1, 0}, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_page_validate((fv_page){FV_PAGE_DEFAULT_LIMIT, 0}, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_page_validate((fv_page){100, 0}, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_page_validate((fv_page){100, FV_PAGE_MAX_OFFSET}, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_page_validate((fv_page){0, 0}, &e), FV_E_INVALID);
    CU_ASSERT_TRUE(strstr(e.msg, "limit") != NULL);
    FV_ASSERT_INT_EQ(fv_page_validate((fv_page){101, 0}, &e), FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_page_validate((fv_page){-1, 0}, &e), FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_page_validate((fv_page){INT64_MAX, 0}, &e), FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_page_validate((fv_page){10, -1}, &e), FV_E_INVALID);
    CU_ASSERT_TRUE(strstr(e.msg, "offset") != NULL);
    FV_ASSERT_INT_EQ(fv_page_validate((fv_page){10, FV_PAGE_MAX_OFFSET + 1}, &e), FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_page_validate((fv_page){10, INT64_MIN}, NULL), FV_E_INVALID);
}

static void test_worker_queries__pagination_bounds_are_enforced(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 1, 1);
    must_register(&r);
    fv_worker_filter wf = {.tenant_id = fx.tenant, .space = {.mode = FV_SPACE_ANY}};
    fv_definition_filter df = {.tenant_id = fx.tenant, .space = {.mode = FV_SPACE_ANY}};
    fv_worker_list wl;
    fv_definition_list dl;
    static const int64_t bad[][2] = {{0, 0}, {101, 0}, {-1, 0}, {10, -1}, {10, 1000000001}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FV_ASSERT_INT_EQ(list_workers(&wf, bad[i][0], bad[i][1], &wl), FV_E_INVALID);
        FV_ASSERT_INT_EQ(list_defs(FV_DEF_TASK, &df, bad[i][0], bad[i][1], &dl), FV_E_INVALID);
        FV_ASSERT_INT_EQ(list_defs(FV_DEF_WORKFLOW, &df, bad[i][0], bad[i][1], &dl), FV_E_INVALID);
    }
    FV_ASSERT_INT_EQ(list_workers(&wf, 100, 0, &wl), FV_OK);
    FV_ASSERT_INT_EQ(wl.n, 1);
    FV_ASSERT_INT_EQ(list_defs(FV_DEF_TASK, &df, 100, 0, &dl), FV_OK);
    FV_ASSERT_INT_EQ(dl.n, 1);
    FV_ASSERT_INT_EQ(list_workers(&wf, 1, FV_PAGE_MAX_OFFSET, &wl), FV_OK);
    FV_ASSERT_INT_EQ(wl.n, 0);
    FV_ASSERT_INT_EQ(wl.total, 1);
}

static void test_worker_queries__workers_pages_are_ordered_and_the_total_is_exact(void)
{
    /* 120 workers registered out of order. */
    for (int i = 0; i < 120; i++) {
        char name[16];
        snprintf(name, sizeof name, "w-%03d", (i * 7) % 120);
        fv_fixture_req r = fv_fixture_request(&fx, name, 0, 0);
        must_register(&r);
    }
    fv_worker_filter f = {.tenant_id = fx.tenant, .space = {.mode = FV_SPACE_ANY}};
    fv_worker_list l;
    FV_ASSERT_INT_EQ(list_workers(&f, 100, 0, &l), FV_OK);
    FV_ASSERT_INT_EQ(l.n, 100);
    FV_ASSERT_INT_EQ(l.total, 120);
    for (size_t i = 0; i < l.n; i++) {
        char name[32];
        snprintf(name, sizeof name, "w-%03d", (int)i);
        FV_ASSERT_STR_EQ(l.items[i].name, name);
    }
    FV_ASSERT_INT_EQ(list_workers(&f, 100, 100, &l), FV_OK);
    FV_ASSERT_INT_EQ(l.n, 20);
    FV_ASSERT_INT_EQ(l.total, 120);
    if (l.n == 20) {
        FV_ASSERT_STR_EQ(l.items[0].name, "w-100");
        FV_ASSERT_STR_EQ(l.items[19].name, "w-119");
    }
    FV_ASSERT_INT_EQ(list_workers(&f, 50, 120, &l), FV_OK);
    FV_ASSERT_INT_EQ(l.n, 0);
    FV_ASSERT_INT_EQ(l.total, 120);
    FV_ASSERT_INT_EQ(list_workers(&f, 1, 119, &l), FV_OK);
    FV_ASSERT_INT_EQ(l.n, 1);
    if (l.n == 1)
        FV_ASSERT_STR_EQ(l.items[0].name, "w-119");
    FV_ASSERT_INT_EQ(list_workers(&f, 7, 30, &l), FV_OK);
    FV_ASSERT_INT_EQ(l.n, 7);
    if (l.n == 7)
        FV_ASSERT_STR_EQ(l.items[0].name, "w-030");
}

static void test_worker_queries__definition_pages_are_ordered_and_the_total_is_exact(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 130);
    must_register(&r);
    fv_definition_filter f = {.tenant_id = fx.tenant, .space = {.mode = FV_SPACE_ANY}};
    fv_definition_list l;
    const char *prev = NULL;
    size_t seen = 0;
    for (int64_t off = 0; off < 200; off += 100) {
        FV_ASSERT_INT_EQ(list_defs(FV_DEF_TASK, &f, 100, off, &l), FV_OK);
        FV_ASSERT_INT_EQ(l.total, 130);
        FV_ASSERT_INT_EQ(l.n, off == 0 ? 100 : 30);
        for (size_t i = 0; i < l.n; i++) {
            if (prev != NULL)
                CU_ASSERT_TRUE(strcmp(prev, l.items[i].kind) < 0); /* by kind, no repeats */
            prev = l.items[i].kind;
            FV_ASSERT_INT_EQ(l.items[i].worker_count, 1);
            seen++;
        }
    }
    FV_ASSERT_INT_EQ(seen, 130);
    FV_ASSERT_INT_EQ(list_defs(FV_DEF_WORKFLOW, &f, 100, 0, &l), FV_OK);
    FV_ASSERT_INT_EQ(l.total, 0);
    FV_ASSERT_INT_EQ(l.n, 0);
}

/* ---------------------------------------------------------------------- */
/* Statuses and availability at read time                                 */
/* ---------------------------------------------------------------------- */

static void test_worker_queries__effective_status_is_right_between_job_runs(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    fv_uuid id = must_register(&r);
    fv_worker_filter by = {
        .tenant_id = fx.tenant, .space = {.mode = FV_SPACE_ANY}, .has_status = true};
    fv_worker_list l;
    static const struct {
        int64_t at;
        fv_worker_status status;
        fv_availability avail;
        int64_t count;
    } steps[] = {
        {0, FV_STATUS_ONLINE, FV_AVAIL_AVAILABLE, 1},
        {45000, FV_STATUS_ONLINE, FV_AVAIL_AVAILABLE, 1},
        {45001, FV_STATUS_DEGRADED, FV_AVAIL_DEGRADED, 1},
        {60000, FV_STATUS_DEGRADED, FV_AVAIL_DEGRADED, 1},
        {60001, FV_STATUS_OFFLINE, FV_AVAIL_UNAVAILABLE, 0},
        {3600000, FV_STATUS_OFFLINE, FV_AVAIL_UNAVAILABLE, 0},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        fv_fixture_set_now(&fx, T0 + steps[i].at);
        fv_worker w = get_worker(&id);
        FV_ASSERT_INT_EQ(w.effective_status, steps[i].status);
        FV_ASSERT_INT_EQ(w.status, FV_STATUS_ONLINE); /* no job ran */
        by.status = steps[i].status;
        FV_ASSERT_INT_EQ(list_workers(&by, 10, 0, &l), FV_OK);
        FV_ASSERT_INT_EQ(l.total, 1);
        if (l.n == 1)
            FV_ASSERT_INT_EQ(l.items[0].effective_status, steps[i].status);
        by.status = steps[i].status == FV_STATUS_ONLINE ? FV_STATUS_OFFLINE : FV_STATUS_ONLINE;
        FV_ASSERT_INT_EQ(list_workers(&by, 10, 0, &l), FV_OK);
        FV_ASSERT_INT_EQ(l.total, 0);

        fv_definition_detail d = definition(FV_DEF_TASK, "task-0");
        FV_ASSERT_INT_EQ(d.def.availability, steps[i].avail);
        FV_ASSERT_INT_EQ(d.def.worker_count, steps[i].count);
        FV_ASSERT_INT_EQ(d.n_workers, steps[i].count);
        if (d.n_workers == 1)
            FV_ASSERT_INT_EQ(d.workers[0].status, steps[i].status);
        fv_definition_filter df = {.tenant_id = fx.tenant,
                                   .space = {.mode = FV_SPACE_ANY},
                                   .has_availability = true,
                                   .availability = steps[i].avail};
        fv_definition_list dl;
        FV_ASSERT_INT_EQ(list_defs(FV_DEF_TASK, &df, 10, 0, &dl), FV_OK);
        FV_ASSERT_INT_EQ(dl.total, 1);
        fv_linked_worker_list lw;
        FV_ASSERT_INT_EQ(fv_query_definition_workers(&fx.deps, &fx.arena, FV_DEF_TASK, &fx.tenant,
                                                     &no_space, "task-0", &lw, NULL),
                         FV_OK);
        FV_ASSERT_INT_EQ(lw.n, 1);
        if (lw.n == 1)
            FV_ASSERT_INT_EQ(lw.items[0].worker.effective_status, steps[i].status);
    }
    fv_status_change_list h;
    FV_ASSERT_INT_EQ(fv_query_status_history(&fx.deps, &fx.arena, &fx.tenant, &id, 100, &h, NULL),
                     FV_OK);
    for (size_t i = 0; i < h.n; i++)
        CU_ASSERT_TRUE(h.items[i].to == FV_STATUS_ONLINE); /* reads never write */
}

static void test_worker_queries__filters_by_type_status_and_space(void)
{
    fv_uuid space;
    FV_ASSERT_INT_EQ(fv_fixture_add_space(&fx, &fx.tenant, "prod", &space), FV_OK);
    fv_fixture_req a = fv_fixture_request(&fx, "a", 0, 1);
    a.req.worker_type = "TASK";
    fv_fixture_req b = fv_fixture_request(&fx, "b", 1, 0);
    b.req.worker_type = "WORKFLOW";
    fv_fixture_req c = fv_fixture_request(&fx, "c", 1, 1);
    c.req.space = (fv_opt_uuid){true, space};
    fv_uuid ia = must_register(&a), ib = must_register(&b), ic = must_register(&c);
    /* At T0 + 50 s only b has shown life recently. */
    fv_fixture_set_now(&fx, T0 + 40000);
    FV_ASSERT_INT_EQ(fv_fixture_heartbeat(&fx, &fx.tenant, &ib), FV_OK);
    fv_fixture_set_now(&fx, T0 + 50000);

    fv_worker_filter f = {.tenant_id = fx.tenant, .space = {.mode = FV_SPACE_ANY}};
    fv_worker_list l;
    FV_ASSERT_INT_EQ(list_workers(&f, 10, 0, &l), FV_OK);
    FV_ASSERT_INT_EQ(l.total, 3);

    f.has_type = true;
    f.type = FV_WORKER_TASK;
    FV_ASSERT_INT_EQ(list_workers(&f, 10, 0, &l), FV_OK);
    FV_ASSERT_INT_EQ(l.total, 1);
    if (l.n == 1)
        CU_ASSERT_TRUE(id_eq(&l.items[0].id, &ia));
    f.type = FV_WORKER_UNIFIED;
    FV_ASSERT_INT_EQ(list_workers(&f, 10, 0, &l), FV_OK);
    FV_ASSERT_INT_EQ(l.total, 1);
    if (l.n == 1)
        CU_ASSERT_TRUE(id_eq(&l.items[0].id, &ic));
    f.has_type = false;

    f.has_status = true;
    f.status = FV_STATUS_DEGRADED;
    FV_ASSERT_INT_EQ(list_workers(&f, 10, 0, &l), FV_OK);
    FV_ASSERT_INT_EQ(l.total, 2); /* a and c, by name */
    if (l.n == 2) {
        FV_ASSERT_STR_EQ(l.items[0].name, "a");
        FV_ASSERT_STR_EQ(l.items[1].name, "c");
    }
    f.status = FV_STATUS_ONLINE;
    FV_ASSERT_INT_EQ(list_workers(&f, 10, 0, &l), FV_OK);
    FV_ASSERT_INT_EQ(l.total, 1);
    f.has_status = false;

    f.space = (fv_space_sel){.mode = FV_SPACE_ID, .id = space};
    FV_ASSERT_INT_EQ(list_workers(&f, 10, 0, &l), FV_OK);
    FV_ASSERT_INT_EQ(l.total, 1);
    f.space.mode = FV_SPACE_NONE;
    FV_ASSERT_INT_EQ(list_workers(&f, 10, 0, &l), FV_OK);
    FV_ASSERT_INT_EQ(l.total, 2);
    /* Combined: tenant level, DEGRADED. */
    f.has_status = true;
    f.status = FV_STATUS_DEGRADED;
    FV_ASSERT_INT_EQ(list_workers(&f, 10, 0, &l), FV_OK);
    FV_ASSERT_INT_EQ(l.total, 1);

    /* Filters outside the enums are refused. */
    f.status = (fv_worker_status)42;
    FV_ASSERT_INT_EQ(list_workers(&f, 10, 0, &l), FV_E_INVALID);
    f.has_status = false;
    f.has_type = true;
    f.type = (fv_worker_type)0;
    FV_ASSERT_INT_EQ(list_workers(&f, 10, 0, &l), FV_E_INVALID);
}

static void test_worker_queries__definitions_filter_by_availability_tag_and_space(void)
{
    static const char *const blue[] = {"blue", "shared"};
    static const char *const red[] = {"red", "shared"};
    fv_fixture_req a = fv_fixture_request(&fx, "a", 0, 1); /* task-0, goes silent */
    a.tasks[0].tags = (fv_tags){blue, 2};
    fv_fixture_req b = fv_fixture_request(&fx, "b", 0, 2); /* task-0 and task-1 -> task-1 */
    b.tasks[0].kind = "task-1";
    b.tasks[0].tags = (fv_tags){red, 2};
    b.req.n_tasks = 1;
    fv_fixture_req c = fv_fixture_request(&fx, "c", 0, 1); /* task-2, then unlinked */
    c.tasks[0].kind = "task-2";
    must_register(&a);
    fv_uuid ib = must_register(&b);
    must_register(&c);
    c.req.n_tasks = 0;
    must_register(&c);
    fv_fixture_set_now(&fx, T0 + 40000);
    FV_ASSERT_INT_EQ(fv_fixture_heartbeat(&fx, &fx.tenant, &ib), FV_OK);
    fv_fixture_set_now(&fx, T0 + 50000);

    fv_definition_filter f = {
        .tenant_id = fx.tenant, .space = {.mode = FV_SPACE_ANY}, .has_availability = true};
    fv_definition_list l;
    static const struct {
        fv_availability a;
        const char *kind;
    } want[] = {{FV_AVAIL_DEGRADED, "task-0"},
                {FV_AVAIL_AVAILABLE, "task-1"},
                {FV_AVAIL_UNAVAILABLE, "task-2"}};
    for (size_t i = 0; i < 3; i++) {
        f.availability = want[i].a;
        FV_ASSERT_INT_EQ(list_defs(FV_DEF_TASK, &f, 10, 0, &l), FV_OK);
        FV_ASSERT_INT_EQ(l.total, 1);
        if (l.n == 1) {
            FV_ASSERT_STR_EQ(l.items[0].kind, want[i].kind);
            FV_ASSERT_INT_EQ(l.items[0].availability, want[i].a);
        }
    }
    f.has_availability = false;
    f.tag = "shared";
    FV_ASSERT_INT_EQ(list_defs(FV_DEF_TASK, &f, 10, 0, &l), FV_OK);
    FV_ASSERT_INT_EQ(l.total, 2);
    f.tag = "red";
    FV_ASSERT_INT_EQ(list_defs(FV_DEF_TASK, &f, 10, 0, &l), FV_OK);
    FV_ASSERT_INT_EQ(l.total, 1);
    if (l.n == 1)
        FV_ASSERT_STR_EQ(l.items[0].kind, "task-1");
    f.tag = "RED"; /* exact match */
    FV_ASSERT_INT_EQ(list_defs(FV_DEF_TASK, &f, 10, 0, &l), FV_OK);
    FV_ASSERT_INT_EQ(l.total, 0);
    f.tag = "blue";
    f.has_availability = true;
    f.availability = FV_AVAIL_AVAILABLE;
    FV_ASSERT_INT_EQ(list_defs(FV_DEF_TASK, &f, 10, 0, &l), FV_OK);
    FV_ASSERT_INT_EQ(l.total, 0);
    f.availability = FV_AVAIL_DEGRADED;
    FV_ASSERT_INT_EQ(list_defs(FV_DEF_TASK, &f, 10, 0, &l), FV_OK);
    FV_ASSERT_INT_EQ(l.total, 1);

    /* Bad filters. */
    f.tag = "";
    FV_ASSERT_INT_EQ(list_defs(FV_DEF_TASK, &f, 10, 0, &l), FV_E_INVALID);
    f.tag = fv_fixture_str(&fx.arena, 't', FV_TAG_MAX + 1);
    FV_ASSERT_INT_EQ(list_defs(FV_DEF_TASK, &f, 10, 0, &l), FV_E_INVALID);
    f.tag = NULL;
    f.availability = (fv_availability)9;
    FV_ASSERT_INT_EQ(list_defs(FV_DEF_TASK, &f, 10, 0, &l), FV_E_INVALID);

    /* Space filter. */
    fv_definition_filter s = {.tenant_id = fx.tenant, .space = {.mode = FV_SPACE_NONE}};
    FV_ASSERT_INT_EQ(list_defs(FV_DEF_TASK, &s, 10, 0, &l), FV_OK);
    FV_ASSERT_INT_EQ(l.total, 3);
    fv_uuid space;
    FV_ASSERT_INT_EQ(fv_fixture_add_space(&fx, &fx.tenant, "prod", &space), FV_OK);
    s.space = (fv_space_sel){.mode = FV_SPACE_ID, .id = space};
    FV_ASSERT_INT_EQ(list_defs(FV_DEF_TASK, &s, 10, 0, &l), FV_OK);
    FV_ASSERT_INT_EQ(l.total, 0);
}

/* ---------------------------------------------------------------------- */
/* Detail views                                                           */
/* ---------------------------------------------------------------------- */

static void test_worker_queries__worker_detail_lists_its_capabilities(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 2, 2);
    r.workflows[0].kind = "wf-b";
    r.workflows[1].kind = "wf-a";
    r.workflows[1].version = "2.1.0";
    r.workflows[1].content_hash = "h2";
    r.workflows[1].name = "Workflow A";
    r.tasks[0].kind = "task-b";
    r.tasks[1].kind = "task-a";
    fv_fixture_set_now(&fx, T0 + 7);
    fv_uuid id = must_register(&r);
    fv_worker_detail det;
    FV_ASSERT_INT_EQ(fv_query_worker_detail(&fx.deps, &fx.arena, &fx.tenant, &id, &det, NULL),
                     FV_OK);
    CU_ASSERT_TRUE(id_eq(&det.worker.id, &id));
    FV_ASSERT_INT_EQ(det.worker.effective_status, FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(det.worker.workflow_kinds, 2);
    FV_ASSERT_INT_EQ(det.worker.task_kinds, 2);
    FV_ASSERT_INT_EQ(det.workflows.n, 2);
    FV_ASSERT_INT_EQ(det.tasks.n, 2);
    if (det.workflows.n == 2) {
        const fv_capability_ref *a = &det.workflows.items[0], *b = &det.workflows.items[1];
        FV_ASSERT_STR_EQ(a->kind, "wf-a");
        FV_ASSERT_STR_EQ(b->kind, "wf-b");
        FV_ASSERT_INT_EQ(a->cls, FV_DEF_WORKFLOW);
        FV_ASSERT_STR_EQ(a->name, "Workflow A");
        FV_ASSERT_STR_EQ(b->name, "wf-b");
        FV_ASSERT_STR_EQ(a->version, "2.1.0");
        FV_ASSERT_STR_EQ(a->content_hash, "h2");
        FV_ASSERT_STR_EQ(b->version, "1.0.0");
        FV_ASSERT_STR_EQ(b->content_hash, "hash-1");
        FV_ASSERT_INT_EQ(a->registered_at, T0 + 7);
        fv_definition_detail d = definition(FV_DEF_WORKFLOW, "wf-a");
        CU_ASSERT_TRUE(id_eq(&a->definition_id, &d.def.id));
    }
    if (det.tasks.n == 2) {
        FV_ASSERT_STR_EQ(det.tasks.items[0].kind, "task-a");
        FV_ASSERT_STR_EQ(det.tasks.items[1].kind, "task-b");
        FV_ASSERT_INT_EQ(det.tasks.items[0].cls, FV_DEF_TASK);
        fv_definition_detail d = definition(FV_DEF_TASK, "task-b");
        CU_ASSERT_TRUE(id_eq(&det.tasks.items[1].definition_id, &d.def.id));
    }
    fv_uuid nobody;
    memset(nobody.b, 0x42, sizeof nobody.b);
    FV_ASSERT_INT_EQ(fv_query_worker_detail(&fx.deps, &fx.arena, &fx.tenant, &nobody, &det, NULL),
                     FV_E_NOT_FOUND);
}

static fv_uuid register_wf_worker(const char *name, const char *worker_version,
                                  const char *wf_version)
{
    fv_fixture_req r = fv_fixture_request(&fx, name, 1, 0);
    r.req.worker_version = worker_version;
    r.workflows[0].version = wf_version;
    return must_register(&r);
}

static void test_worker_queries__definition_detail_lists_live_workers_and_their_versions(void)
{
    fv_uuid d = register_wf_worker("d", "0.4.0", "2.0.0-rc.1"); /* will go silent */
    fv_uuid c = register_wf_worker("c", "0.3.0", "1.10.0");
    fv_uuid a = register_wf_worker("a", "0.1.0", "1.9.0");
    fv_uuid b = register_wf_worker("b", "0.2.0", "1.10.0");
    fv_definition_detail det = definition(FV_DEF_WORKFLOW, "wf-0");
    FV_ASSERT_INT_EQ(det.n_versions, 3);
    if (det.n_versions == 3) {
        FV_ASSERT_STR_EQ(det.versions[0], "2.0.0-rc.1"); /* highest first */
        FV_ASSERT_STR_EQ(det.versions[1], "1.10.0");
        FV_ASSERT_STR_EQ(det.versions[2], "1.9.0");
    }

    fv_fixture_set_now(&fx, T0 + 61000);
    FV_ASSERT_INT_EQ(fv_fixture_heartbeat(&fx, &fx.tenant, &a), FV_OK);
    FV_ASSERT_INT_EQ(fv_fixture_heartbeat(&fx, &fx.tenant, &b), FV_OK);
    FV_ASSERT_INT_EQ(fv_fixture_heartbeat(&fx, &fx.tenant, &c), FV_OK);
    det = definition(FV_DEF_WORKFLOW, "wf-0");
    FV_ASSERT_STR_EQ(det.def.latest_version, "2.0.0-rc.1"); /* highest seen */
    FV_ASSERT_INT_EQ(det.def.worker_count, 3);
    FV_ASSERT_INT_EQ(det.def.availability, FV_AVAIL_AVAILABLE);
    FV_ASSERT_INT_EQ(det.n_workers, 3);
    if (det.n_workers == 3) {
        FV_ASSERT_STR_EQ(det.workers[0].name, "a"); /* by name */
        FV_ASSERT_STR_EQ(det.workers[1].name, "b");
        FV_ASSERT_STR_EQ(det.workers[2].name, "c");
        CU_ASSERT_TRUE(id_eq(&det.workers[0].id, &a));
        FV_ASSERT_STR_EQ(det.workers[0].version, "0.1.0");
        FV_ASSERT_INT_EQ(det.workers[0].status, FV_STATUS_ONLINE);
    }
    FV_ASSERT_INT_EQ(det.n_versions, 2); /* distinct, of live workers only */
    if (det.n_versions == 2) {
        FV_ASSERT_STR_EQ(det.versions[0], "1.10.0");
        FV_ASSERT_STR_EQ(det.versions[1], "1.9.0");
    }

    /* Every linked worker, OFFLINE ones too, with the version it serves. */
    fv_linked_worker_list lw;
    FV_ASSERT_INT_EQ(fv_query_definition_workers(&fx.deps, &fx.arena, FV_DEF_WORKFLOW, &fx.tenant,
                                                 &no_space, "wf-0", &lw, NULL),
                     FV_OK);
    FV_ASSERT_INT_EQ(lw.n, 4);
    if (lw.n == 4) {
        FV_ASSERT_STR_EQ(lw.items[3].worker.name, "d");
        CU_ASSERT_TRUE(id_eq(&lw.items[3].worker.id, &d));
        FV_ASSERT_INT_EQ(lw.items[3].worker.effective_status, FV_STATUS_OFFLINE);
        FV_ASSERT_STR_EQ(lw.items[3].version, "2.0.0-rc.1");
        FV_ASSERT_STR_EQ(lw.items[3].content_hash, "hash-1");
        FV_ASSERT_STR_EQ(lw.items[1].version, "1.10.0");
        FV_ASSERT_INT_EQ(lw.items[1].worker.effective_status, FV_STATUS_ONLINE);
    }

    /* Tasks have no versions. */
    fv_fixture_req t = fv_fixture_request(&fx, "t", 0, 1);
    must_register(&t);
    fv_definition_detail td = definition(FV_DEF_TASK, "task-0");
    FV_ASSERT_INT_EQ(td.n_versions, 0);
    CU_ASSERT_PTR_NULL(td.def.latest_version);
    FV_ASSERT_INT_EQ(td.n_workers, 1);
}

static void test_worker_queries__unknown_or_invalid_kinds(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 1, 1);
    must_register(&r);
    fv_definition_detail d;
    fv_linked_worker_list lw;
    fv_error e;
    FV_ASSERT_INT_EQ(fv_query_definition(&fx.deps, &fx.arena, FV_DEF_TASK, &fx.tenant, &no_space,
                                         "task-9", &d, &e),
                     FV_E_NOT_FOUND);
    CU_ASSERT_TRUE(strstr(e.msg, "task-9") != NULL);
    /* A workflow kind is not a task kind. */
    FV_ASSERT_INT_EQ(fv_query_definition(&fx.deps, &fx.arena, FV_DEF_TASK, &fx.tenant, &no_space,
                                         "wf-0", &d, &e),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_query_definition_workers(&fx.deps, &fx.arena, FV_DEF_WORKFLOW, &fx.tenant,
                                                 &no_space, "wf-9", &lw, &e),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(
        fv_query_definition(&fx.deps, &fx.arena, FV_DEF_TASK, &fx.tenant, &no_space, "", &d, &e),
        FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_query_definition(&fx.deps, &fx.arena, FV_DEF_TASK, &fx.tenant, &no_space,
                                         fv_fixture_str(&fx.arena, 'k', FV_NAME_MAX + 1), &d, &e),
                     FV_E_INVALID);
    fv_space_sel any = {.mode = FV_SPACE_ANY};
    FV_ASSERT_INT_EQ(
        fv_query_definition(&fx.deps, &fx.arena, FV_DEF_TASK, &fx.tenant, &any, "task-0", &d, &e),
        FV_E_INVALID);
    FV_ASSERT_INT_EQ(fv_query_definition_workers(&fx.deps, &fx.arena, FV_DEF_TASK, &fx.tenant, &any,
                                                 "task-0", &lw, &e),
                     FV_E_INVALID);
    /* The tenant-level definition is not in a space. */
    fv_uuid space;
    FV_ASSERT_INT_EQ(fv_fixture_add_space(&fx, &fx.tenant, "prod", &space), FV_OK);
    fv_space_sel in_space = {.mode = FV_SPACE_ID, .id = space};
    FV_ASSERT_INT_EQ(fv_query_definition(&fx.deps, &fx.arena, FV_DEF_TASK, &fx.tenant, &in_space,
                                         "task-0", &d, &e),
                     FV_E_NOT_FOUND);
}

/* ---------------------------------------------------------------------- */
/* Histories                                                              */
/* ---------------------------------------------------------------------- */

static void test_worker_queries__history_limits_are_enforced(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    fv_uuid id = must_register(&r);
    FV_ASSERT_INT_EQ(fv_fixture_heartbeat(&fx, &fx.tenant, &id), FV_OK);
    fv_heartbeat_list hb;
    fv_status_change_list sc;
    static const int64_t bad[] = {0, -1, FV_HISTORY_MAX_LIMIT + 1, INT64_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FV_ASSERT_INT_EQ(
            fv_query_heartbeats(&fx.deps, &fx.arena, &fx.tenant, &id, bad[i], &hb, NULL),
            FV_E_INVALID);
        FV_ASSERT_INT_EQ(
            fv_query_status_history(&fx.deps, &fx.arena, &fx.tenant, &id, bad[i], &sc, NULL),
            FV_E_INVALID);
    }
    FV_ASSERT_INT_EQ(
        fv_query_heartbeats(&fx.deps, &fx.arena, &fx.tenant, &id, FV_HISTORY_MAX_LIMIT, &hb, NULL),
        FV_OK);
    FV_ASSERT_INT_EQ(hb.n, 1);
    FV_ASSERT_INT_EQ(fv_query_status_history(&fx.deps, &fx.arena, &fx.tenant, &id,
                                             FV_HISTORY_MAX_LIMIT, &sc, NULL),
                     FV_OK);
    FV_ASSERT_INT_EQ(fv_query_heartbeats(&fx.deps, &fx.arena, &fx.tenant, &id, 1, &hb, NULL),
                     FV_OK);
    FV_ASSERT_INT_EQ(hb.n, 1);
}

static void test_worker_queries__heartbeat_history_is_newest_first_and_bounded(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    fv_uuid id = must_register(&r);
    for (int i = 1; i <= 300; i++) {
        fv_fixture_set_now(&fx, T0 + (fv_time)i * 1000);
        FV_ASSERT_INT_EQ(fv_fixture_heartbeat(&fx, &fx.tenant, &id), FV_OK);
    }
    fv_heartbeat_list hb;
    FV_ASSERT_INT_EQ(
        fv_query_heartbeats(&fx.deps, &fx.arena, &fx.tenant, &id, FV_HISTORY_MAX_LIMIT, &hb, NULL),
        FV_OK);
    CU_ASSERT_TRUE(hb.n >= 1 && hb.n < 300); /* the store keeps a bounded history */
    for (size_t i = 0; i < hb.n; i++)
        FV_ASSERT_INT_EQ(hb.items[i].at, T0 + (fv_time)(300 - i) * 1000);
    FV_ASSERT_INT_EQ(fv_query_heartbeats(&fx.deps, &fx.arena, &fx.tenant, &id, 5, &hb, NULL),
                     FV_OK);
    FV_ASSERT_INT_EQ(hb.n, 5);
    fv_heartbeat last;
    FV_ASSERT_INT_EQ(fv_query_last_heartbeat(&fx.deps, &fx.arena, &fx.tenant, &id, &last, NULL),
                     FV_OK);
    FV_ASSERT_INT_EQ(last.at, T0 + 300000);
}

static void test_worker_queries__status_history_is_newest_first_with_reasons(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 0, 1);
    fv_uuid id = must_register(&r);
    fv_job_report rep;
    fv_fixture_set_now(&fx, T0 + 50000);
    FV_ASSERT_INT_EQ(fv_job_detect_stale(&fx.deps, &fx.arena, T0 + 50000, &rep, NULL), FV_OK);
    fv_fixture_set_now(&fx, T0 + 70000);
    FV_ASSERT_INT_EQ(fv_job_detect_stale(&fx.deps, &fx.arena, T0 + 70000, &rep, NULL), FV_OK);
    fv_fixture_set_now(&fx, T0 + 80000);
    FV_ASSERT_INT_EQ(fv_worker_set_status(&fx.deps, &fx.arena, &fx.tenant, &id, FV_STATUS_DEGRADED,
                                          "drain", NULL),
                     FV_OK);
    fv_status_change_list h;
    FV_ASSERT_INT_EQ(fv_query_status_history(&fx.deps, &fx.arena, &fx.tenant, &id, 100, &h, NULL),
                     FV_OK);
    CU_ASSERT_FATAL(h.n >= 3);
    FV_ASSERT_INT_EQ(h.items[0].at, T0 + 80000);
    FV_ASSERT_INT_EQ(h.items[0].from, FV_STATUS_OFFLINE);
    FV_ASSERT_INT_EQ(h.items[0].to, FV_STATUS_DEGRADED);
    CU_ASSERT_TRUE(strstr(h.items[0].reason, "drain") != NULL);
    FV_ASSERT_INT_EQ(h.items[1].at, T0 + 70000);
    FV_ASSERT_INT_EQ(h.items[1].to, FV_STATUS_OFFLINE);
    FV_ASSERT_INT_EQ(h.items[2].at, T0 + 50000);
    FV_ASSERT_INT_EQ(h.items[2].from, FV_STATUS_ONLINE);
    FV_ASSERT_INT_EQ(h.items[2].to, FV_STATUS_DEGRADED);
    for (size_t i = 0; i < 3; i++) {
        CU_ASSERT_TRUE(id_eq(&h.items[i].worker_id, &id));
        CU_ASSERT_TRUE(h.items[i].reason != NULL && h.items[i].reason[0] != '\0');
    }
    FV_ASSERT_INT_EQ(fv_query_status_history(&fx.deps, &fx.arena, &fx.tenant, &id, 2, &h, NULL),
                     FV_OK);
    FV_ASSERT_INT_EQ(h.n, 2);
}

/* ---------------------------------------------------------------------- */
/* Tenants                                                                */
/* ---------------------------------------------------------------------- */

static void test_worker_queries__another_tenants_worker_is_not_found(void)
{
    fv_fixture_req r = fv_fixture_request(&fx, "w", 1, 1);
    fv_uuid id = must_register(&r);
    FV_ASSERT_INT_EQ(fv_fixture_heartbeat(&fx, &fx.tenant, &id), FV_OK);
    fv_uuid other;
    FV_ASSERT_INT_EQ(fv_fixture_add_tenant(&fx, "other", &other), FV_OK);

    fv_worker w;
    fv_worker_detail det;
    fv_heartbeat last;
    fv_heartbeat_list hb;
    fv_status_change_list sc;
    fv_definition_detail d;
    fv_linked_worker_list lw;
    fv_error e;
    FV_ASSERT_INT_EQ(fv_query_worker(&fx.deps, &fx.arena, &other, &id, &w, &e), FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(e.code, FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_query_worker_detail(&fx.deps, &fx.arena, &other, &id, &det, NULL),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_query_last_heartbeat(&fx.deps, &fx.arena, &other, &id, &last, NULL),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_query_heartbeats(&fx.deps, &fx.arena, &other, &id, 10, &hb, NULL),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_query_status_history(&fx.deps, &fx.arena, &other, &id, 10, &sc, NULL),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_query_definition(&fx.deps, &fx.arena, FV_DEF_TASK, &other, &no_space,
                                         "task-0", &d, NULL),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_query_definition(&fx.deps, &fx.arena, FV_DEF_WORKFLOW, &other, &no_space,
                                         "wf-0", &d, NULL),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_query_definition_workers(&fx.deps, &fx.arena, FV_DEF_TASK, &other,
                                                 &no_space, "task-0", &lw, NULL),
                     FV_E_NOT_FOUND);
    fv_worker_filter wf = {.tenant_id = other, .space = {.mode = FV_SPACE_ANY}};
    fv_worker_list wl;
    FV_ASSERT_INT_EQ(list_workers(&wf, 100, 0, &wl), FV_OK);
    FV_ASSERT_INT_EQ(wl.total, 0);
    FV_ASSERT_INT_EQ(wl.n, 0);
    fv_definition_filter df = {.tenant_id = other, .space = {.mode = FV_SPACE_ANY}};
    fv_definition_list dl;
    FV_ASSERT_INT_EQ(list_defs(FV_DEF_TASK, &df, 100, 0, &dl), FV_OK);
    FV_ASSERT_INT_EQ(dl.total, 0);
    FV_ASSERT_INT_EQ(list_defs(FV_DEF_WORKFLOW, &df, 100, 0, &dl), FV_OK);
    FV_ASSERT_INT_EQ(dl.total, 0);

    /* The owner still sees everything. */
    FV_ASSERT_INT_EQ(get_worker(&id).task_kinds, 1);
    FV_ASSERT_INT_EQ(fv_query_last_heartbeat(&fx.deps, &fx.arena, &fx.tenant, &id, &last, NULL),
                     FV_OK);

    /* A worker of the other tenant does not show in this one's lists or
     * counts. */
    fv_fixture_req r2;
    CU_ASSERT_FATAL(fv_fixture_req_build(&fx.arena, &other, "w", 1, 1, &r2));
    fv_register_result res;
    FV_ASSERT_INT_EQ(fv_worker_register(&fx.deps, &fx.arena, &r2.req, &res, NULL), FV_OK);
    fv_worker_filter mine = {.tenant_id = fx.tenant, .space = {.mode = FV_SPACE_ANY}};
    FV_ASSERT_INT_EQ(list_workers(&mine, 100, 0, &wl), FV_OK);
    FV_ASSERT_INT_EQ(wl.total, 1);
    FV_ASSERT_INT_EQ(definition(FV_DEF_TASK, "task-0").def.worker_count, 1);
    FV_ASSERT_INT_EQ(fv_query_worker(&fx.deps, &fx.arena, &fx.tenant, &res.worker_id, &w, NULL),
                     FV_E_NOT_FOUND);
}

static void test_worker_queries__unknown_worker_is_not_found(void)
{
    fv_uuid nobody;
    memset(nobody.b, 0x99, sizeof nobody.b);
    fv_worker w;
    fv_heartbeat last;
    fv_heartbeat_list hb;
    fv_status_change_list sc;
    fv_error e;
    FV_ASSERT_INT_EQ(fv_query_worker(&fx.deps, &fx.arena, &fx.tenant, &nobody, &w, &e),
                     FV_E_NOT_FOUND);
    CU_ASSERT_TRUE(strstr(e.msg, "worker") != NULL);
    FV_ASSERT_INT_EQ(fv_query_last_heartbeat(&fx.deps, &fx.arena, &fx.tenant, &nobody, &last, NULL),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_query_heartbeats(&fx.deps, &fx.arena, &fx.tenant, &nobody, 10, &hb, NULL),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(
        fv_query_status_history(&fx.deps, &fx.arena, &fx.tenant, &nobody, 10, &sc, NULL),
        FV_E_NOT_FOUND);
}

static const fv_test_case cases[] = {
    FV_TEST_CASE(test_worker_queries__page_validate_enforces_the_bounds),
    FV_TEST_CASE(test_worker_queries__pagination_bounds_are_enforced),
    FV_TEST_CASE(test_worker_queries__workers_pages_are_ordered_and_the_total_is_exact),
    FV_TEST_CASE(test_worker_queries__definition_pages_are_ordered_and_the_total_is_exact),
    FV_TEST_CASE(test_worker_queries__effective_status_is_right_between_job_runs),
    FV_TEST_CASE(test_worker_queries__filters_by_type_status_and_space),
    FV_TEST_CASE(test_worker_queries__definitions_filter_by_availability_tag_and_space),
    FV_TEST_CASE(test_worker_queries__worker_detail_lists_its_capabilities),
    FV_TEST_CASE(test_worker_queries__definition_detail_lists_live_workers_and_their_versions),
    FV_TEST_CASE(test_worker_queries__unknown_or_invalid_kinds),
    FV_TEST_CASE(test_worker_queries__history_limits_are_enforced),
    FV_TEST_CASE(test_worker_queries__heartbeat_history_is_newest_first_and_bounded),
    FV_TEST_CASE(test_worker_queries__status_history_is_newest_first_with_reasons),
    FV_TEST_CASE(test_worker_queries__another_tenants_worker_is_not_found),
    FV_TEST_CASE(test_worker_queries__unknown_worker_is_not_found),
};

int main(void)
{
    const fv_test_suite suite = {"worker_queries", cases, FV_TEST_COUNT(cases), setup, teardown};
    return fv_test_run_suites(&suite, 1) == 0 ? 0 : 1;
}
