/* The shared fixture of the core tests: deps on the in-memory adapter, a fake
 * clock, deterministic ids, request builders and a dump of a tenant. */
#include "tests/support/fixture.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/crypto/crypto.h"
#include "core/definition.h"
#include "core/queries/worker_queries.h"
#include "core/usecases/worker_usecases.h"
#include "core/worker.h"

int fv_fixture_init(fv_fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    fv_arena_init(&fx->arena, 0);
    fx->store = fv_mem_store_new(NULL);
    if (fx->store == NULL)
        goto fail;
    fx->deps.workers = fv_mem_worker_repo(fx->store);
    fx->deps.workflow_defs = fv_mem_definition_repo(fx->store, FV_DEF_WORKFLOW);
    fx->deps.task_defs = fv_mem_definition_repo(fx->store, FV_DEF_TASK);
    fx->deps.heartbeats = fv_mem_heartbeat_store(fx->store);
    fx->deps.tenants = fv_mem_tenant_store(fx->store);
    fx->deps.clock = fv_fake_clock_new(FV_FIXTURE_T0);
    if (fx->deps.clock.ops == NULL)
        goto fail;
    fx->deps.ids = fv_seq_ids_new(FV_FIXTURE_ID_SEED);
    if (fx->deps.ids.ops == NULL)
        goto fail;
    fx->deps.hasher = fv_nettle_hasher();
    fx->deps.liveness = FV_LIVENESS_DEFAULTS;
    if (fv_deps_validate(&fx->deps, NULL) != FV_OK)
        goto fail;
    if (fv_fixture_add_tenant(fx, "acme", &fx->tenant) != FV_OK)
        goto fail;
    return 0;
fail:
    fv_fixture_release(fx);
    return -1;
}

int fv_fixture_init_tasks(fv_fixture *fx)
{
    if (fv_fixture_init(fx) != 0)
        return -1;
    fx->bus = fv_mem_bus_new(NULL);
    if (fx->bus == NULL)
        goto fail;
    fx->deps.tasks = fv_mem_task_repo(fx->store);
    fx->deps.bus = fv_mem_event_bus(fx->bus);
    if (fv_deps_validate(&fx->deps, NULL) != FV_OK)
        goto fail;
    return 0;
fail:
    fv_fixture_release(fx);
    return -1;
}

void fv_fixture_release(fv_fixture *fx)
{
    if (fx == NULL)
        return;
    fv_arena_release(&fx->arena);
    fv_clock_destroy(fx->deps.clock);
    fv_ids_destroy(fx->deps.ids);
    fv_mem_store_free(fx->store);
    fv_mem_bus_free(fx->bus);
    memset(fx, 0, sizeof *fx);
}

fv_time fv_fixture_now(const fv_fixture *fx)
{
    return fv_clock_now(fx->deps.clock);
}

void fv_fixture_set_now(fv_fixture *fx, fv_time t)
{
    fv_fake_clock_set(fx->deps.clock, t);
}

void fv_fixture_advance(fv_fixture *fx, int64_t ms)
{
    fv_fake_clock_advance(fx->deps.clock, ms);
}

fv_err fv_fixture_add_tenant(fv_fixture *fx, const char *slug, fv_uuid *out)
{
    fv_tenant t;
    fv_err rc = fv_tenant_create(&fx->deps, &fx->arena, slug, slug, &t, NULL);
    if (rc == FV_OK && out != NULL)
        *out = t.id;
    return rc;
}

fv_err fv_fixture_add_space(fv_fixture *fx, const fv_uuid *tenant, const char *slug, fv_uuid *out)
{
    fv_space s;
    fv_err rc = fv_space_create(&fx->deps, &fx->arena, tenant, slug, slug, &s, NULL);
    if (rc == FV_OK && out != NULL)
        *out = s.id;
    return rc;
}

bool fv_fixture_req_build(fv_arena *a, const fv_uuid *tenant, const char *name, size_t n_workflows,
                          size_t n_tasks, fv_fixture_req *out)
{
    memset(out, 0, sizeof *out);
    out->workflows = fv_arena_calloc(a, n_workflows ? n_workflows : 1, sizeof *out->workflows);
    out->tasks = fv_arena_calloc(a, n_tasks ? n_tasks : 1, sizeof *out->tasks);
    const char *wname = fv_arena_strdup(a, name);
    if (out->workflows == NULL || out->tasks == NULL || wname == NULL)
        return false;
    for (size_t i = 0; i < n_workflows; i++) {
        fv_capability *c = &out->workflows[i];
        c->kind = fv_arena_printf(a, "wf-%zu", i);
        if (c->kind == NULL)
            return false;
        c->name = "";
        c->description = "";
        c->version = "1.0.0";
        c->content_hash = "hash-1";
    }
    for (size_t i = 0; i < n_tasks; i++) {
        fv_capability *c = &out->tasks[i];
        c->kind = fv_arena_printf(a, "task-%zu", i);
        if (c->kind == NULL)
            return false;
        c->name = "";
        c->description = "";
        c->version = "";
        c->content_hash = "";
    }
    fv_register_request *r = &out->req;
    r->tenant_id = *tenant;
    r->space = (fv_opt_uuid){0};
    r->worker_name = wname;
    r->worker_version = "1.0.0";
    r->worker_type = "UNIFIED";
    r->host_name = "host-a";
    r->process_id = "1";
    r->metadata = FV_JSON_NONE;
    r->workflows = out->workflows;
    r->n_workflows = n_workflows;
    r->tasks = out->tasks;
    r->n_tasks = n_tasks;
    return true;
}

fv_fixture_req fv_fixture_request(fv_fixture *fx, const char *name, size_t n_workflows,
                                  size_t n_tasks)
{
    fv_fixture_req r;
    if (!fv_fixture_req_build(&fx->arena, &fx->tenant, name, n_workflows, n_tasks, &r)) {
        fputs("fixture: arena full\n", stderr);
        abort();
    }
    return r;
}

char *fv_fixture_str(fv_arena *a, char c, size_t n)
{
    char *s = fv_arena_alloc(a, n + 1);
    if (s == NULL)
        return NULL;
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

fv_json fv_fixture_json(fv_arena *a, size_t n)
{
    char *s = fv_fixture_str(a, 'x', n < 2 ? 2 : n);
    if (s == NULL)
        return FV_JSON_NONE;
    s[0] = '"';
    s[(n < 2 ? 2 : n) - 1] = '"';
    return (fv_json){s, n < 2 ? 2 : n};
}

fv_tags fv_fixture_tags(fv_arena *a, size_t n)
{
    const char **v = fv_arena_calloc(a, n ? n : 1, sizeof *v);
    if (v == NULL)
        return (fv_tags){NULL, 0};
    for (size_t i = 0; i < n; i++)
        v[i] = fv_arena_printf(a, "tag-%zu", i);
    return (fv_tags){v, n};
}

fv_err fv_fixture_register(fv_fixture *fx, const fv_fixture_req *r, fv_uuid *id)
{
    fv_register_result res;
    fv_err rc = fv_worker_register(&fx->deps, &fx->arena, &r->req, &res, NULL);
    if (rc == FV_OK && id != NULL)
        *id = res.worker_id;
    return rc;
}

fv_err fv_fixture_heartbeat(fv_fixture *fx, const fv_uuid *tenant, const fv_uuid *id)
{
    fv_heartbeat_request hb = {.tenant_id = *tenant, .worker_id = *id};
    return fv_worker_heartbeat(&fx->deps, &hb, NULL);
}

/* ---------------------------------------------------------------------- */
/* Dump                                                                   */
/* ---------------------------------------------------------------------- */

typedef struct buf {
    fv_arena *a;
    char *p;
    size_t n, cap;
    bool failed;
} buf;

__attribute__((format(printf, 2, 3))) static void put(buf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0) {
        b->failed = true;
        return;
    }
    size_t need = b->n + (size_t)k + 1;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < need)
            cap *= 2;
        char *p = fv_arena_grow(b->a, b->p, b->cap, cap);
        if (p == NULL) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

static const char *str(const char *s)
{
    return s ? s : "<null>";
}

static void put_uuid(buf *b, const fv_uuid *u)
{
    char s[FV_UUID_STR_LEN + 1];
    fv_uuid_format(u, s);
    put(b, "%s", s);
}

static void put_space(buf *b, const fv_opt_uuid *s)
{
    if (!s->has) {
        put(b, " space=-");
        return;
    }
    put(b, " space=");
    put_uuid(b, &s->id);
}

static void put_json(buf *b, const char *label, fv_json j)
{
    if (j.p == NULL)
        put(b, " %s=<none>", label);
    else
        put(b, " %s=%.*s", label, (int)j.n, j.p);
}

static void put_retry(buf *b, const fv_retry_policy *p)
{
    put(b, "{set=%u", p->set);
    if (p->set & FV_RETRY_HAS_MAX_RETRIES)
        put(b, " max=%" PRId64, p->max_retries);
    if (p->set & FV_RETRY_HAS_INITIAL_DELAY)
        put(b, " init=%" PRId64, p->initial_delay_ms);
    if (p->set & FV_RETRY_HAS_BACKOFF)
        put(b, " backoff=%g", p->backoff_coefficient);
    if (p->set & FV_RETRY_HAS_MAX_DELAY)
        put(b, " maxdelay=%" PRId64, p->max_delay_ms);
    put(b, "}");
}

static void put_settings(buf *b, const char *label, const fv_def_settings *s)
{
    put(b, " %s(", label);
    if (s->has_timeout)
        put(b, "timeout=%" PRId64, s->timeout_seconds);
    else
        put(b, "timeout=-");
    if (s->has_retry_policy) {
        put(b, " retry=");
        put_retry(b, &s->retry_policy);
    } else {
        put(b, " retry=-");
    }
    if (s->has_tags) {
        put(b, " tags=[");
        for (size_t i = 0; i < s->tags.n; i++)
            put(b, "%s%s", i ? "," : "", str(s->tags.v[i]));
        put(b, "]");
    } else {
        put(b, " tags=-");
    }
    put(b, ")");
}

static void put_worker(buf *b, const fv_worker *w)
{
    put(b, "worker ");
    put_uuid(b, &w->id);
    put(b, " tenant=");
    put_uuid(b, &w->tenant_id);
    put_space(b, &w->space);
    put(b,
        " name=%s version=%s type=%d status=%d effective=%d host=%s pid=%s registered=%" PRId64
        " heartbeat=%" PRId64 " seen=%" PRId64 " changed=%" PRId64 " degraded=%d wf=%" PRId64
        " tasks=%" PRId64,
        str(w->name), str(w->version), (int)w->type, (int)w->status, (int)w->effective_status,
        str(w->host_name), str(w->process_id), w->registered_at, w->last_heartbeat_at,
        w->last_seen_at, w->status_changed_at, (int)w->health_degraded, w->workflow_kinds,
        w->task_kinds);
    put_json(b, "metadata", w->metadata);
    put_json(b, "health", w->health_info);
    put(b, "\n");
}

static void put_caps(buf *b, const char *label, const fv_capability_ref_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        const fv_capability_ref *c = &l->items[i];
        put(b, "  %s ", label);
        put_uuid(b, &c->definition_id);
        put(b, " cls=%d kind=%s name=%s version=%s hash=%s at=%" PRId64 "\n", (int)c->cls,
            str(c->kind), str(c->name), str(c->version), str(c->content_hash), c->registered_at);
    }
}

static fv_err dump_workers(fv_fixture *fx, buf *b, const fv_uuid *tenant, fv_error *err)
{
    fv_worker_filter f = {.tenant_id = *tenant, .space = {.mode = FV_SPACE_ANY}};
    fv_page page = {.limit = FV_PAGE_MAX_LIMIT, .offset = 0};
    for (;;) {
        fv_worker_list l;
        fv_err rc = fv_query_workers(&fx->deps, b->a, &f, page, &l, err);
        if (rc != FV_OK)
            return rc;
        if (page.offset == 0)
            put(b, "workers total=%" PRId64 "\n", l.total);
        for (size_t i = 0; i < l.n; i++) {
            const fv_worker *w = &l.items[i];
            put_worker(b, w);
            fv_worker_detail det;
            if ((rc = fv_query_worker_detail(&fx->deps, b->a, tenant, &w->id, &det, err)) != FV_OK)
                return rc;
            put(b, " detail:");
            put_worker(b, &det.worker);
            put_caps(b, "wf", &det.workflows);
            put_caps(b, "task", &det.tasks);
            fv_status_change_list h;
            rc = fv_query_status_history(&fx->deps, b->a, tenant, &w->id, FV_HISTORY_MAX_LIMIT, &h,
                                         err);
            if (rc != FV_OK)
                return rc;
            for (size_t k = 0; k < h.n; k++)
                put(b, "  status %d->%d at=%" PRId64 " reason=%s\n", (int)h.items[k].from,
                    (int)h.items[k].to, h.items[k].at, str(h.items[k].reason));
            fv_heartbeat_list hb;
            rc = fv_query_heartbeats(&fx->deps, b->a, tenant, &w->id, FV_HISTORY_MAX_LIMIT, &hb,
                                     err);
            if (rc != FV_OK)
                return rc;
            for (size_t k = 0; k < hb.n; k++) {
                put(b, "  heartbeat at=%" PRId64, hb.items[k].at);
                put_json(b, "health", hb.items[k].health_info);
                put(b, "\n");
            }
        }
        if (l.n < (size_t)page.limit)
            return FV_OK;
        page.offset += page.limit;
    }
}

static fv_err dump_definitions(fv_fixture *fx, buf *b, fv_def_class cls, const fv_uuid *tenant,
                               fv_error *err)
{
    fv_definition_filter f = {.tenant_id = *tenant, .space = {.mode = FV_SPACE_ANY}};
    fv_page page = {.limit = FV_PAGE_MAX_LIMIT, .offset = 0};
    for (;;) {
        fv_definition_list l;
        fv_err rc = fv_query_definitions(&fx->deps, b->a, cls, &f, page, &l, err);
        if (rc != FV_OK)
            return rc;
        if (page.offset == 0)
            put(b, "definitions %s total=%" PRId64 "\n", fv_def_class_name(cls), l.total);
        for (size_t i = 0; i < l.n; i++) {
            const fv_definition *d = &l.items[i];
            put(b, "def ");
            put_uuid(b, &d->id);
            put_space(b, &d->space);
            put(b,
                " cls=%d kind=%s name=%s description=%s cancellable=%d latest=%s avail=%d "
                "first=%" PRId64 " last=%" PRId64 " count=%" PRId64,
                (int)d->cls, str(d->kind), str(d->name), str(d->description), (int)d->cancellable,
                str(d->latest_version), (int)d->availability, d->first_seen_at,
                d->last_registered_at, d->worker_count);
            put_settings(b, "declared", &d->declared);
            put_settings(b, "configured", &d->configured);
            put_json(b, "metadata", d->metadata);
            put_json(b, "in", d->input_schema);
            put_json(b, "out", d->output_schema);
            put(b, "\n");
            fv_space_sel sel = {.mode = d->space.has ? FV_SPACE_ID : FV_SPACE_NONE,
                                .id = d->space.id};
            fv_linked_worker_list lw;
            rc = fv_query_definition_workers(&fx->deps, b->a, cls, tenant, &sel, d->kind, &lw, err);
            if (rc != FV_OK)
                return rc;
            for (size_t k = 0; k < lw.n; k++) {
                put(b, "  linked ");
                put_uuid(b, &lw.items[k].worker.id);
                put(b, " version=%s hash=%s effective=%d\n", str(lw.items[k].version),
                    str(lw.items[k].content_hash), (int)lw.items[k].worker.effective_status);
            }
        }
        if (l.n < (size_t)page.limit)
            return FV_OK;
        page.offset += page.limit;
    }
}

char *fv_fixture_dump(fv_fixture *fx, fv_arena *a, const fv_uuid *tenant, fv_error *err)
{
    buf b = {.a = a};
    put(&b, "now=%" PRId64 "\n", fv_fixture_now(fx));
    if (dump_workers(fx, &b, tenant, err) != FV_OK ||
        dump_definitions(fx, &b, FV_DEF_WORKFLOW, tenant, err) != FV_OK ||
        dump_definitions(fx, &b, FV_DEF_TASK, tenant, err) != FV_OK)
        return NULL;
    if (b.failed) {
        fv_error_set(err, FV_E_EXHAUSTED, "dump: arena full");
        return NULL;
    }
    return b.p;
}

/* ---------------------------------------------------------------------- */
/* Invalid registration requests                                          */
/* ---------------------------------------------------------------------- */

static void empty_name(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->req.worker_name = "";
}

static void null_name(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->req.worker_name = NULL;
}

static void long_name(fv_arena *a, fv_fixture_req *r)
{
    r->req.worker_name = fv_fixture_str(a, 'n', FV_NAME_MAX + 1);
}

static void bad_utf8_name(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->req.worker_name = "worker-\xc3\x28";
}

static void overlong_utf8_name(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->req.worker_name = "w\xc0\xaf";
}

static void surrogate_name(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->req.worker_name = "w\xed\xa0\x80";
}

static void control_char_name(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->req.worker_name = "a\nb";
}

static void unknown_type(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->req.worker_type = "SERVICE";
}

static void lower_case_type(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->req.worker_type = "task";
}

static void null_type(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->req.worker_type = NULL;
}

static void long_version(fv_arena *a, fv_fixture_req *r)
{
    r->req.worker_version = fv_fixture_str(a, '1', FV_VERSION_MAX + 1);
}

static void long_host(fv_arena *a, fv_fixture_req *r)
{
    r->req.host_name = fv_fixture_str(a, 'h', FV_NAME_MAX + 1);
}

static void long_pid(fv_arena *a, fv_fixture_req *r)
{
    r->req.process_id = fv_fixture_str(a, '7', FV_PROCESS_ID_MAX + 1);
}

static void big_worker_metadata(fv_arena *a, fv_fixture_req *r)
{
    r->req.metadata = fv_fixture_json(a, FV_METADATA_MAX + 1);
}

static void tasks_missing(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->req.tasks = NULL;
}

static void too_many_tasks(fv_arena *a, fv_fixture_req *r)
{
    size_t n = FV_CAPABILITIES_MAX + 1;
    fv_capability *c = fv_arena_calloc(a, n, sizeof *c);
    if (c == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        c[i].kind = fv_arena_printf(a, "k-%zu", i);
    r->tasks = c;
    r->req.tasks = c;
    r->req.n_tasks = n;
}

static void empty_task_kind(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->tasks[1].kind = "";
}

static void null_task_kind(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->tasks[0].kind = NULL;
}

static void empty_workflow_kind(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->workflows[1].kind = "";
}

static void long_task_kind(fv_arena *a, fv_fixture_req *r)
{
    r->tasks[0].kind = fv_fixture_str(a, 'k', FV_NAME_MAX + 1);
}

static void long_workflow_kind(fv_arena *a, fv_fixture_req *r)
{
    r->workflows[0].kind = fv_fixture_str(a, 'k', FV_NAME_MAX + 1);
}

static void bad_utf8_kind(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->tasks[0].kind = "\xff\xfe";
}

static void duplicate_task_kind(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->tasks[1].kind = "task-0";
}

static void duplicate_workflow_kind(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->workflows[1].kind = "wf-0";
}

static void long_display_name(fv_arena *a, fv_fixture_req *r)
{
    r->tasks[0].name = fv_fixture_str(a, 'd', FV_NAME_MAX + 1);
}

static void long_description(fv_arena *a, fv_fixture_req *r)
{
    r->tasks[0].description = fv_fixture_str(a, 'd', FV_DESCRIPTION_MAX + 1);
}

static void too_many_tags(fv_arena *a, fv_fixture_req *r)
{
    r->tasks[0].tags = fv_fixture_tags(a, FV_TAGS_MAX + 1);
}

static void long_tag(fv_arena *a, fv_fixture_req *r)
{
    const char **v = fv_arena_calloc(a, 2, sizeof *v);
    if (v == NULL)
        return;
    v[0] = "ok";
    v[1] = fv_fixture_str(a, 't', FV_TAG_MAX + 1);
    r->tasks[0].tags = (fv_tags){v, 2};
}

static void empty_tag(fv_arena *a, fv_fixture_req *r)
{
    const char **v = fv_arena_calloc(a, 1, sizeof *v);
    if (v == NULL)
        return;
    v[0] = "";
    r->workflows[0].tags = (fv_tags){v, 1};
}

static void zero_timeout(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->tasks[0].has_timeout = true;
    r->tasks[0].timeout_seconds = 0;
}

static void huge_timeout(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->tasks[0].has_timeout = true;
    r->tasks[0].timeout_seconds = FV_TIMEOUT_MAX_SECONDS + 1;
}

static void negative_timeout(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->workflows[0].has_timeout = true;
    r->workflows[0].timeout_seconds = -1;
}

static void retry_max_retries_11(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->tasks[0].has_retry_policy = true;
    r->tasks[0].retry_policy =
        (fv_retry_policy){.set = FV_RETRY_HAS_MAX_RETRIES, .max_retries = FV_RETRY_MAX_RETRIES + 1};
}

static void retry_negative_max_retries(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->tasks[0].has_retry_policy = true;
    r->tasks[0].retry_policy =
        (fv_retry_policy){.set = FV_RETRY_HAS_MAX_RETRIES, .max_retries = -1};
}

static void retry_backoff_half(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->tasks[0].has_retry_policy = true;
    r->tasks[0].retry_policy =
        (fv_retry_policy){.set = FV_RETRY_HAS_BACKOFF, .backoff_coefficient = 0.5};
}

static void retry_max_delay_below_initial(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->tasks[0].has_retry_policy = true;
    r->tasks[0].retry_policy = (fv_retry_policy){
        .set = FV_RETRY_HAS_INITIAL_DELAY | FV_RETRY_HAS_MAX_DELAY,
        .initial_delay_ms = 5000,
        .max_delay_ms = 4999,
    };
}

static void retry_negative_initial_delay(fv_arena *a, fv_fixture_req *r)
{
    (void)a;
    r->workflows[0].has_retry_policy = true;
    r->workflows[0].retry_policy =
        (fv_retry_policy){.set = FV_RETRY_HAS_INITIAL_DELAY, .initial_delay_ms = -1};
}

static void big_capability_metadata(fv_arena *a, fv_fixture_req *r)
{
    r->tasks[0].metadata = fv_fixture_json(a, FV_METADATA_MAX + 1);
}

static void big_input_schema(fv_arena *a, fv_fixture_req *r)
{
    r->tasks[1].input_schema = fv_fixture_json(a, FV_SCHEMA_MAX + 1);
}

static void big_output_schema(fv_arena *a, fv_fixture_req *r)
{
    r->workflows[0].output_schema = fv_fixture_json(a, FV_SCHEMA_MAX + 1);
}

static void long_workflow_version(fv_arena *a, fv_fixture_req *r)
{
    r->workflows[0].version = fv_fixture_str(a, '9', FV_VERSION_MAX + 1);
}

static void long_content_hash(fv_arena *a, fv_fixture_req *r)
{
    r->workflows[1].content_hash = fv_fixture_str(a, 'f', FV_CONTENT_HASH_MAX + 1);
}

const fv_fixture_invalid fv_fixture_invalid_requests[] = {
    {"empty worker name", "worker_name", empty_name},
    {"NULL worker name", "worker_name", null_name},
    {"worker name of 256 bytes", "worker_name", long_name},
    {"worker name not UTF-8", "worker_name", bad_utf8_name},
    {"worker name with an overlong UTF-8 form", "worker_name", overlong_utf8_name},
    {"worker name with a UTF-16 surrogate", "worker_name", surrogate_name},
    {"worker name with a control character", "worker_name", control_char_name},
    {"unknown worker type", "worker_type", unknown_type},
    {"lower-case worker type", "worker_type", lower_case_type},
    {"NULL worker type", "worker_type", null_type},
    {"worker version of 51 bytes", "worker_version", long_version},
    {"host name of 256 bytes", "host_name", long_host},
    {"process id of 101 bytes", "process_id", long_pid},
    {"worker metadata of 65537 bytes", "metadata", big_worker_metadata},
    {"tasks counted but missing", "tasks", tasks_missing},
    {"1001 tasks", "tasks", too_many_tasks},
    {"empty task kind", "tasks[1].kind", empty_task_kind},
    {"NULL task kind", "tasks[0].kind", null_task_kind},
    {"empty workflow kind", "workflows[1].kind", empty_workflow_kind},
    {"task kind of 256 bytes", "tasks[0].kind", long_task_kind},
    {"workflow kind of 256 bytes", "workflows[0].kind", long_workflow_kind},
    {"task kind not UTF-8", "tasks[0].kind", bad_utf8_kind},
    {"duplicate task kind in one request", "tasks[1].kind", duplicate_task_kind},
    {"duplicate workflow kind in one request", "workflows[1].kind", duplicate_workflow_kind},
    {"display name of 256 bytes", "tasks[0].name", long_display_name},
    {"description of 16385 bytes", "tasks[0].description", long_description},
    {"51 tags", "tasks[0].tags", too_many_tags},
    {"a tag of 101 bytes", "tasks[0].tags[1]", long_tag},
    {"an empty tag", "workflows[0].tags[0]", empty_tag},
    {"timeout 0", "tasks[0].timeout", zero_timeout},
    {"timeout 31536001", "tasks[0].timeout", huge_timeout},
    {"timeout -1", "workflows[0].timeout", negative_timeout},
    {"retry policy maxRetries 11", "tasks[0].retry", retry_max_retries_11},
    {"retry policy maxRetries -1", "tasks[0].retry", retry_negative_max_retries},
    {"retry policy backoff 0.5", "tasks[0].retry", retry_backoff_half},
    {"retry policy maxDelay below initialDelay", "tasks[0].retry", retry_max_delay_below_initial},
    {"retry policy initialDelay -1", "workflows[0].retry", retry_negative_initial_delay},
    {"capability metadata of 65537 bytes", "tasks[0].metadata", big_capability_metadata},
    {"input schema of 262145 bytes", "tasks[1].input_schema", big_input_schema},
    {"output schema of 262145 bytes", "workflows[0].output_schema", big_output_schema},
    {"workflow version of 51 bytes", "workflows[0].version", long_workflow_version},
    {"content hash of 129 bytes", "workflows[1].content_hash", long_content_hash},
};

const size_t fv_fixture_invalid_request_count =
    sizeof fv_fixture_invalid_requests / sizeof fv_fixture_invalid_requests[0];
