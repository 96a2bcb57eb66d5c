/* The port contract suite: fixture, shared helpers, snapshot and runner. */
#include "tests/support/contract.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/util/alloc.h"
#include "tests/support/contract_int.h"

ct_fixture ct;

static const fv_contract_adapter *the_adapter;

void ct_set_adapter(const fv_contract_adapter *adapter)
{
    the_adapter = adapter;
}

fv_uuid ct_uuid(unsigned kind, uint32_t n)
{
    fv_uuid u;
    memset(&u, 0, sizeof u);
    u.b[0] = (unsigned char)kind;
    u.b[6] = 0x40; /* looks like a version 4 UUID */
    u.b[8] = 0x80;
    u.b[12] = (unsigned char)(n >> 24);
    u.b[13] = (unsigned char)(n >> 16);
    u.b[14] = (unsigned char)(n >> 8);
    u.b[15] = (unsigned char)n;
    return u;
}

fv_uuid ct_fresh_id(void)
{
    return ct_uuid(CT_K_FRESH, ++ct.seq);
}

fv_space_sel ct_sel_none(void)
{
    fv_space_sel s;
    memset(&s, 0, sizeof s);
    s.mode = FV_SPACE_NONE;
    return s;
}

fv_space_sel ct_sel_any(void)
{
    fv_space_sel s;
    memset(&s, 0, sizeof s);
    s.mode = FV_SPACE_ANY;
    return s;
}

fv_space_sel ct_sel_id(const fv_uuid *space)
{
    fv_space_sel s;
    memset(&s, 0, sizeof s);
    s.mode = FV_SPACE_ID;
    s.id = *space;
    return s;
}

fv_opt_uuid ct_space(const fv_uuid *space)
{
    fv_opt_uuid o;
    memset(&o, 0, sizeof o);
    if (space != NULL) {
        o.has = true;
        o.id = *space;
    }
    return o;
}

fv_json ct_json(const char *s)
{
    fv_json j = {s, s ? strlen(s) : 0};
    return j;
}

bool ct_json_eq(fv_json j, const char *s)
{
    if (s == NULL)
        return j.p == NULL;
    return j.p != NULL && j.n == strlen(s) && memcmp(j.p, s, j.n) == 0;
}

void ct_flush(void)
{
    if (ct.adapter->flush != NULL)
        ct.adapter->flush(ct.ctx);
}

/* ------------------------------------------------------------------------
 * Fixture
 */

static int ports_complete(const fv_deps *d)
{
    const fv_worker_repo_ops *w = d->workers.ops;
    const fv_definition_repo_ops *wf = d->workflow_defs.ops;
    const fv_definition_repo_ops *tk = d->task_defs.ops;
    const fv_heartbeat_store_ops *h = d->heartbeats.ops;
    const fv_tenant_store_ops *t = d->tenants.ops;
    if (w == NULL || wf == NULL || tk == NULL || h == NULL || t == NULL)
        return 0;
    if (!w->register_worker || !w->get || !w->list || !w->capabilities || !w->linked_workers ||
        !w->touch || !w->touch_by_name || !w->transition || !w->status_history || !w->scan ||
        !w->remove || !w->remove_offline)
        return 0;
    if (!wf->get || !wf->list || !wf->configure || !wf->refresh_availability || !tk->get ||
        !tk->list || !tk->configure || !tk->refresh_availability)
        return 0;
    if (!h->record || !h->last || !h->history || !h->forget)
        return 0;
    if (!t->create_tenant || !t->get_tenant || !t->get_tenant_by_slug || !t->create_space ||
        !t->get_space || !t->get_space_by_slug || !t->create_api_key || !t->find_api_key ||
        !t->list_api_keys || !t->revoke_api_key)
        return 0;
    return 1;
}

static int create_owners(void)
{
    fv_error err;
    fv_tenant t1 = {ct.t1, "acme", "Acme Corp", CT_T0 - 1000};
    fv_tenant t2 = {ct.t2, "globex", "Globex", CT_T0 - 900};
    fv_space s1 = {ct.s1, ct.t1, "space-one", "Space One", CT_T0 - 800};
    fv_space s2 = {ct.s2, ct.t1, "space-two", "Space Two", CT_T0 - 700};
    if (fv_tenant_store_create_tenant(ct.d.tenants, &t1, &err) != FV_OK ||
        fv_tenant_store_create_tenant(ct.d.tenants, &t2, &err) != FV_OK ||
        fv_tenant_store_create_space(ct.d.tenants, &s1, &err) != FV_OK ||
        fv_tenant_store_create_space(ct.d.tenants, &s2, &err) != FV_OK) {
        fprintf(stderr, "contract: could not create the fixture's tenants: %s\n", err.msg);
        return -1;
    }
    return 0;
}

int ct_setup(void)
{
    fv_alloc_fail_reset();
    memset(&ct, 0, sizeof ct);
    ct.adapter = the_adapter;
    ct.l = FV_LIVENESS_DEFAULTS;
    ct.t1 = ct_uuid(CT_K_TENANT, 1);
    ct.t2 = ct_uuid(CT_K_TENANT, 2);
    ct.s1 = ct_uuid(CT_K_SPACE, 1);
    ct.s2 = ct_uuid(CT_K_SPACE, 2);
    fv_arena_init(&ct.a, 0);
    if (ct.adapter->open(&ct.ctx, &ct.d) != 0) {
        fprintf(stderr, "contract: adapter \"%s\" could not open\n", ct.adapter->name);
        return -1;
    }
    if (!ports_complete(&ct.d)) {
        fprintf(stderr, "contract: adapter \"%s\" left a mandatory op NULL\n", ct.adapter->name);
        ct.adapter->close(ct.ctx);
        return -1;
    }
    ct.d.liveness = ct.l;
    if (create_owners() != 0) {
        ct.adapter->close(ct.ctx);
        return -1;
    }
    return 0;
}

void ct_teardown(void)
{
    fv_alloc_fail_reset();
    fv_arena_release(&ct.a);
    ct.adapter->close(ct.ctx);
    memset(&ct.d, 0, sizeof ct.d);
}

/* ------------------------------------------------------------------------
 * Registration builder
 */

void ct_reg_init(ct_reg *g, const fv_uuid *tenant, const char *name, const char *host,
                 const char *pid, fv_time now)
{
    memset(g, 0, sizeof *g);
    fv_worker *w = &g->r.worker;
    w->id = ct_fresh_id();
    w->tenant_id = *tenant;
    w->space = ct_space(NULL);
    w->name = name;
    w->version = "1.0.0";
    w->type = FV_WORKER_UNIFIED;
    w->status = FV_STATUS_ONLINE;
    w->host_name = host;
    w->process_id = pid;
    w->registered_at = w->last_heartbeat_at = w->last_seen_at = w->status_changed_at = now;
    w->metadata = ct_json("{\"team\":\"core\"}");
    w->health_info = FV_JSON_NONE;
    w->effective_status = FV_STATUS_ONLINE;
    g->r.now = now;
}

static fv_capability *add_cap(fv_capability *caps, fv_uuid *ids, size_t *n, const char *kind)
{
    CU_ASSERT_FATAL(*n < CT_CAPS_MAX);
    fv_capability *c = &caps[*n];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->name = kind;
    c->metadata = FV_JSON_NONE;
    c->input_schema = FV_JSON_NONE;
    c->output_schema = FV_JSON_NONE;
    ids[*n] = ct_fresh_id();
    (*n)++;
    return c;
}

fv_capability *ct_reg_workflow(ct_reg *g, const char *kind, const char *version,
                               const char *content_hash)
{
    fv_capability *c = add_cap(g->wf, g->wf_ids, &g->r.n_workflows, kind);
    c->version = version;
    c->content_hash = content_hash;
    return c;
}

fv_capability *ct_reg_task(ct_reg *g, const char *kind)
{
    return add_cap(g->tk, g->tk_ids, &g->r.n_tasks, kind);
}

fv_err ct_register(ct_reg *g, fv_registration_outcome *out)
{
    g->r.workflows = g->wf;
    g->r.workflow_def_ids = g->wf_ids;
    g->r.tasks = g->tk;
    g->r.task_def_ids = g->tk_ids;
    fv_error err;
    fv_error_clear(&err);
    memset(out, 0, sizeof *out);
    fv_err rc = fv_worker_repo_register(ct.d.workers, &ct.a, &g->r, out, &err);
    if (rc != FV_OK)
        fprintf(stderr, "  register \"%s\": %s: %s\n", g->r.worker.name, fv_err_name(rc), err.msg);
    return rc;
}

fv_uuid ct_register_ok(ct_reg *g)
{
    fv_registration_outcome out;
    fv_err rc = ct_register(g, &out);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    CU_ASSERT_FATAL(rc == FV_OK);
    return out.worker_id;
}

fv_uuid ct_worker(const fv_uuid *tenant, const fv_uuid *space, const char *name, const char *pid,
                  fv_time now, const char *const *workflows, const char *const *tasks)
{
    ct_reg g;
    ct_reg_init(&g, tenant, name, "h", pid, now);
    g.r.worker.space = ct_space(space);
    for (size_t i = 0; workflows != NULL && workflows[i] != NULL; i++)
        ct_reg_workflow(&g, workflows[i], "1.0.0", NULL);
    for (size_t i = 0; tasks != NULL && tasks[i] != NULL; i++)
        ct_reg_task(&g, tasks[i]);
    return ct_register_ok(&g);
}

/* ------------------------------------------------------------------------
 * Reads
 */

fv_worker ct_get_worker(const fv_uuid *tenant, const fv_uuid *id)
{
    fv_worker w;
    fv_error err;
    memset(&w, 0, sizeof w);
    fv_err rc = fv_worker_repo_get(ct.d.workers, &ct.a, tenant, id, &w, &err);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    CU_ASSERT_FATAL(rc == FV_OK);
    return w;
}

fv_definition_repo ct_defs(fv_def_class cls)
{
    return cls == FV_DEF_WORKFLOW ? ct.d.workflow_defs : ct.d.task_defs;
}

fv_err ct_get_def(fv_def_class cls, const fv_uuid *tenant, const fv_uuid *space, const char *kind,
                  fv_time now, fv_definition *out)
{
    fv_space_sel sel = space ? ct_sel_id(space) : ct_sel_none();
    fv_error err;
    memset(out, 0, sizeof *out);
    return fv_definition_repo_get(ct_defs(cls), &ct.a, tenant, &sel, kind, now, &ct.l, out, &err);
}

fv_definition ct_get_def_ok(fv_def_class cls, const fv_uuid *tenant, const fv_uuid *space,
                            const char *kind, fv_time now)
{
    fv_definition d;
    fv_err rc = ct_get_def(cls, tenant, space, kind, now, &d);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    CU_ASSERT_FATAL(rc == FV_OK);
    return d;
}

fv_worker_filter ct_worker_filter(const fv_uuid *tenant)
{
    fv_worker_filter f;
    memset(&f, 0, sizeof f);
    f.tenant_id = *tenant;
    f.space = ct_sel_any();
    return f;
}

fv_definition_filter ct_def_filter(const fv_uuid *tenant)
{
    fv_definition_filter f;
    memset(&f, 0, sizeof f);
    f.tenant_id = *tenant;
    f.space = ct_sel_any();
    return f;
}

fv_worker_list ct_list_workers(const fv_worker_filter *f, fv_time now)
{
    fv_worker_list all = {NULL, 0, 0};
    fv_page page = {FV_PAGE_MAX_LIMIT, 0};
    for (;;) {
        fv_worker_list l;
        fv_error err;
        fv_err rc = fv_worker_repo_list(ct.d.workers, &ct.a, f, page, now, &ct.l, &l, &err);
        FV_ASSERT_INT_EQ(rc, FV_OK);
        CU_ASSERT_FATAL(rc == FV_OK);
        fv_worker *items = fv_arena_grow(&ct.a, all.items, all.n * sizeof *items,
                                         (all.n + l.n + 1) * sizeof *items);
        CU_ASSERT_FATAL(items != NULL);
        if (l.n > 0)
            memcpy(items + all.n, l.items, l.n * sizeof *items);
        all.items = items;
        all.n += l.n;
        all.total = l.total;
        if (l.n < (size_t)page.limit)
            break;
        page.offset += page.limit;
    }
    return all;
}

fv_definition_list ct_list_defs(fv_def_class cls, const fv_definition_filter *f, fv_time now)
{
    fv_definition_list all = {NULL, 0, 0};
    fv_page page = {FV_PAGE_MAX_LIMIT, 0};
    for (;;) {
        fv_definition_list l;
        fv_error err;
        fv_err rc = fv_definition_repo_list(ct_defs(cls), &ct.a, f, page, now, &ct.l, &l, &err);
        FV_ASSERT_INT_EQ(rc, FV_OK);
        CU_ASSERT_FATAL(rc == FV_OK);
        fv_definition *items = fv_arena_grow(&ct.a, all.items, all.n * sizeof *items,
                                             (all.n + l.n + 1) * sizeof *items);
        CU_ASSERT_FATAL(items != NULL);
        if (l.n > 0)
            memcpy(items + all.n, l.items, l.n * sizeof *items);
        all.items = items;
        all.n += l.n;
        all.total = l.total;
        if (l.n < (size_t)page.limit)
            break;
        page.offset += page.limit;
    }
    return all;
}

size_t ct_history_len(const fv_uuid *tenant, const fv_uuid *id)
{
    fv_status_change_list h;
    fv_error err;
    fv_err rc = fv_worker_repo_status_history(ct.d.workers, &ct.a, tenant, id, 100000, &h, &err);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    CU_ASSERT_FATAL(rc == FV_OK);
    return h.n;
}

bool ct_has_uuid(const fv_uuid *v, size_t n, const fv_uuid *id)
{
    for (size_t i = 0; i < n; i++)
        if (fv_uuid_eq(&v[i], id))
            return true;
    return false;
}

bool ct_has_worker(const fv_worker_list *l, const fv_uuid *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (fv_uuid_eq(&l->items[i].id, id))
            return true;
    return false;
}

void ct_transition_ok(const fv_uuid *tenant, const fv_uuid *id, fv_worker_status from,
                      fv_worker_status to, fv_time now, const char *reason)
{
    bool changed = false;
    fv_error err;
    fv_err rc =
        fv_worker_repo_transition(ct.d.workers, tenant, id, from, to, now, reason, &changed, &err);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    CU_ASSERT_FATAL(rc == FV_OK);
    CU_ASSERT_FATAL(changed);
}

bool ct_tags_eq(const fv_tags *t, const char *const *want)
{
    size_t n = 0;
    while (want[n] != NULL)
        n++;
    if (t->n != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (t->v[i] == NULL || strcmp(t->v[i], want[i]) != 0)
            return false;
    return true;
}

/* ------------------------------------------------------------------------
 * Snapshot
 */

void ct_sb_printf(ct_sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = fv_arena_vprintf(&ct.a, fmt, ap);
    va_end(ap);
    CU_ASSERT_FATAL(s != NULL);
    size_t k = strlen(s);
    if (b->n + k + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + k + 1)
            cap *= 2;
        char *p = fv_arena_grow(&ct.a, b->p, b->n + (b->p ? 1 : 0), cap);
        CU_ASSERT_FATAL(p != NULL);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, k + 1);
    b->n += k;
}

static const char *uuid_s(const fv_uuid *u)
{
    return fv_uuid_str(&ct.a, u);
}

static const char *opt_s(const char *s)
{
    return s ? s : "(null)";
}

void ct_sb_json(ct_sbuf *b, const char *what, fv_json j)
{
    if (j.p == NULL)
        ct_sb_printf(b, " %s=(none)", what);
    else
        ct_sb_printf(b, " %s=%.*s", what, (int)j.n, j.p);
}

static void sb_worker(ct_sbuf *b, const fv_worker *w)
{
    ct_sb_printf(b, "worker %s tenant=%s space=%s name=%s version=%s type=%d status=%d",
                 uuid_s(&w->id), uuid_s(&w->tenant_id), w->space.has ? uuid_s(&w->space.id) : "-",
                 w->name, opt_s(w->version), (int)w->type, (int)w->status);
    ct_sb_printf(b, " host=%s pid=%s reg=%lld hb=%lld seen=%lld changed=%lld degraded=%d",
                 opt_s(w->host_name), opt_s(w->process_id), (long long)w->registered_at,
                 (long long)w->last_heartbeat_at, (long long)w->last_seen_at,
                 (long long)w->status_changed_at, (int)w->health_degraded);
    ct_sb_json(b, "metadata", w->metadata);
    ct_sb_json(b, "health", w->health_info);
}

static void sb_retry(ct_sbuf *b, const fv_retry_policy *p)
{
    ct_sb_printf(b, "{set=%u", p->set);
    if (p->set & FV_RETRY_HAS_MAX_RETRIES)
        ct_sb_printf(b, " max=%lld", (long long)p->max_retries);
    if (p->set & FV_RETRY_HAS_INITIAL_DELAY)
        ct_sb_printf(b, " init=%lld", (long long)p->initial_delay_ms);
    if (p->set & FV_RETRY_HAS_BACKOFF)
        ct_sb_printf(b, " backoff=%g", p->backoff_coefficient);
    if (p->set & FV_RETRY_HAS_MAX_DELAY)
        ct_sb_printf(b, " maxdelay=%lld", (long long)p->max_delay_ms);
    ct_sb_printf(b, "}");
}

static void sb_settings(ct_sbuf *b, const char *what, const fv_def_settings *s)
{
    ct_sb_printf(b, " %s=[", what);
    if (s->has_timeout)
        ct_sb_printf(b, "timeout=%lld ", (long long)s->timeout_seconds);
    if (s->has_retry_policy) {
        ct_sb_printf(b, "retry=");
        sb_retry(b, &s->retry_policy);
        ct_sb_printf(b, " ");
    }
    if (s->has_tags) {
        ct_sb_printf(b, "tags=");
        for (size_t i = 0; i < s->tags.n; i++)
            ct_sb_printf(b, "%s,", s->tags.v[i]);
    }
    ct_sb_printf(b, "]");
}

static void sb_definition(ct_sbuf *b, const fv_definition *d)
{
    ct_sb_printf(b, "def %s tenant=%s space=%s cls=%d kind=%s name=%s desc=%s cancellable=%d",
                 uuid_s(&d->id), uuid_s(&d->tenant_id), d->space.has ? uuid_s(&d->space.id) : "-",
                 (int)d->cls, d->kind, opt_s(d->name), opt_s(d->description), (int)d->cancellable);
    sb_settings(b, "declared", &d->declared);
    sb_settings(b, "configured", &d->configured);
    ct_sb_printf(b, " latest=%s avail=%d first=%lld last=%lld count=%lld", opt_s(d->latest_version),
                 (int)d->availability, (long long)d->first_seen_at,
                 (long long)d->last_registered_at, (long long)d->worker_count);
    ct_sb_json(b, "metadata", d->metadata);
    ct_sb_json(b, "in", d->input_schema);
    ct_sb_json(b, "out", d->output_schema);
}

static void snapshot_tenant(ct_sbuf *b, const fv_uuid *tenant, fv_time now)
{
    fv_error err;
    fv_worker_filter wf = ct_worker_filter(tenant);
    fv_worker_list ws = ct_list_workers(&wf, now);
    ct_sb_printf(b, "tenant %s: %zu workers (total %lld)\n", uuid_s(tenant), ws.n,
                 (long long)ws.total);
    for (size_t i = 0; i < ws.n; i++) {
        fv_worker w = ct_get_worker(tenant, &ws.items[i].id);
        sb_worker(b, &w);
        ct_sb_printf(b, " kinds=%lld/%lld\n", (long long)w.workflow_kinds, (long long)w.task_kinds);
        fv_capability_ref_list cw, cts;
        fv_err rc =
            fv_worker_repo_capabilities(ct.d.workers, &ct.a, tenant, &w.id, &cw, &cts, &err);
        FV_ASSERT_INT_EQ(rc, FV_OK);
        CU_ASSERT_FATAL(rc == FV_OK);
        const fv_capability_ref_list *both[2] = {&cw, &cts};
        for (int k = 0; k < 2; k++)
            for (size_t j = 0; j < both[k]->n; j++) {
                const fv_capability_ref *c = &both[k]->items[j];
                ct_sb_printf(b, "  cap %s cls=%d kind=%s name=%s version=%s hash=%s at=%lld\n",
                             uuid_s(&c->definition_id), (int)c->cls, c->kind, opt_s(c->name),
                             opt_s(c->version), opt_s(c->content_hash),
                             (long long)c->registered_at);
            }
        fv_status_change_list h;
        rc = fv_worker_repo_status_history(ct.d.workers, &ct.a, tenant, &w.id, 100000, &h, &err);
        FV_ASSERT_INT_EQ(rc, FV_OK);
        CU_ASSERT_FATAL(rc == FV_OK);
        for (size_t j = 0; j < h.n; j++)
            ct_sb_printf(b, "  change %d->%d at=%lld reason=%s\n", (int)h.items[j].from,
                         (int)h.items[j].to, (long long)h.items[j].at, opt_s(h.items[j].reason));
    }
    static const fv_def_class classes[2] = {FV_DEF_WORKFLOW, FV_DEF_TASK};
    for (int k = 0; k < 2; k++) {
        fv_definition_filter df = ct_def_filter(tenant);
        fv_definition_list ds = ct_list_defs(classes[k], &df, now);
        ct_sb_printf(b, "%zu definitions of class %d (total %lld)\n", ds.n, (int)classes[k],
                     (long long)ds.total);
        for (size_t i = 0; i < ds.n; i++) {
            sb_definition(b, &ds.items[i]);
            ct_sb_printf(b, "\n");
            fv_linked_worker_list lw;
            fv_err rc = fv_worker_repo_linked_workers(ct.d.workers, &ct.a, tenant, classes[k],
                                                      &ds.items[i].id, &lw, &err);
            FV_ASSERT_INT_EQ(rc, FV_OK);
            CU_ASSERT_FATAL(rc == FV_OK);
            for (size_t j = 0; j < lw.n; j++)
                ct_sb_printf(b, "  linked %s version=%s hash=%s\n", uuid_s(&lw.items[j].worker.id),
                             opt_s(lw.items[j].version), opt_s(lw.items[j].content_hash));
        }
    }
    fv_api_key_list keys;
    fv_err rc = fv_tenant_store_list_api_keys(ct.d.tenants, &ct.a, tenant, &keys, &err);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    CU_ASSERT_FATAL(rc == FV_OK);
    for (size_t i = 0; i < keys.n; i++) {
        const fv_api_key *k = &keys.items[i];
        ct_sb_printf(b, "key %s role=%d name=%s prefix=%s created=%lld revoked=%lld hash0=%02x\n",
                     uuid_s(&k->id), (int)k->role, opt_s(k->name), opt_s(k->prefix),
                     (long long)k->created_at, (long long)k->revoked_at, k->hash[0]);
    }
}

static const char *const snapshot_space_slugs[] = {"space-one", "space-two", "space-three",
                                                   "space-new", NULL};

char *ct_snapshot(fv_time now)
{
    fv_alloc_fail_reset();
    ct_sbuf b = {NULL, 0, 0};
    ct_sb_printf(&b, "snapshot\n");
    snapshot_tenant(&b, &ct.t1, now);
    snapshot_tenant(&b, &ct.t2, now);
    /* Spaces the tests may create. */
    const fv_uuid *tenants[2] = {&ct.t1, &ct.t2};
    for (int t = 0; t < 2; t++)
        for (size_t i = 0; snapshot_space_slugs[i] != NULL; i++) {
            fv_space s;
            fv_error err;
            fv_err rc = fv_tenant_store_get_space_by_slug(ct.d.tenants, &ct.a, tenants[t],
                                                          snapshot_space_slugs[i], &s, &err);
            if (rc == FV_OK)
                ct_sb_printf(&b, "space %s %s %s\n", uuid_s(&s.id), s.slug, opt_s(s.name));
            else
                ct_sb_printf(&b, "space %s: %s\n", snapshot_space_slugs[i], fv_err_name(rc));
        }
    /* Stored availability: a consistent store has nothing to refresh. */
    static const fv_def_class classes[2] = {FV_DEF_WORKFLOW, FV_DEF_TASK};
    for (int k = 0; k < 2; k++) {
        fv_availability_change_list ch;
        fv_error err;
        fv_err rc = fv_definition_repo_refresh_availability(ct_defs(classes[k]), &ct.a, &ch, &err);
        FV_ASSERT_INT_EQ(rc, FV_OK);
        CU_ASSERT_FATAL(rc == FV_OK);
        for (size_t i = 0; i < ch.n; i++)
            ct_sb_printf(&b, "stale availability %s %s %d->%d\n",
                         uuid_s(&ch.items[i].definition_id), ch.items[i].kind,
                         (int)ch.items[i].from, (int)ch.items[i].to);
    }
    return b.p;
}

/* ------------------------------------------------------------------------
 * Runner
 */

int fv_contract_run(const fv_contract_adapter *adapter)
{
    ct_set_adapter(adapter);
    const char *n = adapter->name;
    char names[8][96];
    snprintf(names[0], sizeof names[0], "worker_repo[%s]", n);
    snprintf(names[1], sizeof names[1], "definition_repo[%s]", n);
    snprintf(names[2], sizeof names[2], "heartbeat_store[%s]", n);
    snprintf(names[3], sizeof names[3], "tenant_store[%s]", n);
    snprintf(names[4], sizeof names[4], "atomicity[%s]", n);
    snprintf(names[5], sizeof names[5], "task_repo[%s]", n);
    snprintf(names[6], sizeof names[6], "event_bus[%s]", n);
    snprintf(names[7], sizeof names[7], "task_atomicity[%s]", n);
    const fv_test_suite suites[] = {
        {names[0], ct_worker_cases, ct_worker_cases_n, ct_setup, ct_teardown},
        {names[1], ct_definition_cases, ct_definition_cases_n, ct_setup, ct_teardown},
        {names[2], ct_heartbeat_cases, ct_heartbeat_cases_n, ct_setup, ct_teardown},
        {names[3], ct_tenant_cases, ct_tenant_cases_n, ct_setup, ct_teardown},
        {names[4], ct_atomic_cases, ct_atomic_cases_n, ct_setup, ct_teardown},
        {names[5], ct_task_cases, ct_task_cases_n, ct_task_setup, ct_teardown},
        {names[6], ct_bus_cases, ct_bus_cases_n, ct_task_setup, ct_teardown},
        {names[7], ct_task_atomic_cases, ct_task_atomic_cases_n, ct_task_setup, ct_teardown},
    };
    int failed = fv_test_run_suites(suites, FV_TEST_COUNT(suites));
    ct_set_adapter(NULL);
    return failed;
}
