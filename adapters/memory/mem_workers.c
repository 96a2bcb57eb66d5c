/* The worker repository of the in-memory store: worker records, their
 * capability links and status history, and registration as one atomic
 * unit under the write lock. */
#include "adapters/memory/mem_store.h"

#include <stdlib.h>
#include <string.h>

#include "adapters/memory/mem_store_int.h"
#include "core/util/alloc.h"
#include "core/util/semver.h"

/* ------------------------------------------------------------------------ */
/* Lookups and order                                                         */
/* ------------------------------------------------------------------------ */

static bool worker_id_eq(const void *rec, const void *key)
{
    const fv__mem_worker *mw = rec;
    return fv_uuid_eq(&mw->w.id, key);
}

fv__mem_worker *fv__mem_worker_find(const fv_mem_store *s, const fv_uuid *id)
{
    return fv__mem_map_find(&s->workers_by_id, fv_uuid_hash(id), worker_id_eq, id);
}

fv__mem_worker *fv__mem_worker_find_in(const fv_mem_store *s, const fv_uuid *tenant,
                                       const fv_uuid *id)
{
    fv__mem_worker *mw = fv__mem_worker_find(s, id);
    if (mw == NULL || !fv_uuid_eq(&mw->w.tenant_id, tenant))
        return NULL;
    return mw;
}

/* Identity of spec decision 5; a NULL space, host or pid is one value. */
typedef struct ident_key {
    const fv_uuid *tenant;
    const fv_opt_uuid *space;
    const char *name;
    const char *host;
    const char *pid;
} ident_key;

static uint64_t ident_hash(const ident_key *k)
{
    uint64_t h = fv__mem_hash_uuid(FV__MEM_HASH_SEED, k->tenant);
    h = fv__mem_hash_space(h, k->space);
    h = fv__mem_hash_str(h, k->name);
    h = fv__mem_hash_str(h, k->host);
    return fv__mem_hash_final(fv__mem_hash_str(h, k->pid));
}

static bool ident_eq(const void *rec, const void *key)
{
    const fv__mem_worker *mw = rec;
    const ident_key *k = key;
    return fv_uuid_eq(&mw->w.tenant_id, k->tenant) && fv_opt_uuid_eq(&mw->w.space, k->space) &&
           strcmp(mw->w.name, k->name) == 0 && fv__mem_streq(mw->w.host_name, k->host) &&
           fv__mem_streq(mw->w.process_id, k->pid);
}

int fv__mem_worker_cmp_name_id(const fv_worker *a, const fv_worker *b)
{
    int c = strcmp(a->name, b->name);
    if (c != 0)
        return c;
    return fv_uuid_cmp(&a->id, &b->id);
}

/* The order index sorts by tenant, name, id. First position whose worker
 * is not below (tenant, name, id); name NULL
 * means "before every name", id NULL "before every id". */
static size_t order_lower(const fv__mem_vec *order, const fv_uuid *tenant, const char *name,
                          const fv_uuid *id)
{
    size_t lo = 0, hi = order->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const fv_worker *w = &((const fv__mem_worker *)order->v[mid])->w;
        int c = fv_uuid_cmp(&w->tenant_id, tenant);
        if (c == 0 && name != NULL) {
            c = strcmp(w->name, name);
            if (c == 0 && id != NULL)
                c = fv_uuid_cmp(&w->id, id);
        } else if (c == 0) {
            c = 1; /* every name is above NULL */
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* [*lo, *hi) of a tenant's workers in the order. */
static void tenant_range(const fv__mem_vec *order, const fv_uuid *tenant, size_t *lo_out,
                         size_t *hi_out)
{
    size_t lo = order_lower(order, tenant, NULL, NULL);
    size_t hi = order->n;
    *lo_out = lo;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const fv_worker *w = &((const fv__mem_worker *)order->v[mid])->w;
        if (fv_uuid_cmp(&w->tenant_id, tenant) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *hi_out = lo;
}

static size_t order_pos(const fv__mem_vec *order, const fv__mem_worker *mw)
{
    return order_lower(order, &mw->w.tenant_id, mw->w.name, &mw->w.id);
}

/* ------------------------------------------------------------------------ */
/* Records                                                                   */
/* ------------------------------------------------------------------------ */

static void pack_worker(fv__mem_pack *k, const fv_worker *src, fv_worker *dst, bool health)
{
    dst->name = fv__mem_pack_str(k, src->name);
    dst->version = fv__mem_pack_str(k, src->version);
    dst->host_name = fv__mem_pack_str(k, src->host_name);
    dst->process_id = fv__mem_pack_str(k, src->process_id);
    dst->metadata = fv__mem_pack_json(k, src->metadata);
    if (health)
        dst->health_info = fv__mem_pack_json(k, src->health_info);
}

bool fv__mem_worker_copy(fv_arena *a, const fv__mem_worker *mw, fv_worker *out)
{
    fv_worker w = mw->w;
    fv__mem_pack k = {NULL, 0};
    pack_worker(&k, &mw->w, &w, true);
    char *block = fv_arena_alloc(a, k.off);
    if (block == NULL)
        return false;
    k = (fv__mem_pack){block, 0};
    w = mw->w;
    pack_worker(&k, &mw->w, &w, true);
    w.effective_status = w.status;
    w.workflow_kinds = mw->n_workflows;
    w.task_kinds = mw->n_tasks;
    *out = w;
    return true;
}

/* An owned block of a worker's strings; *w gets pointers into it. */
static void *worker_block(const fv_worker *src, fv_worker *w)
{
    fv__mem_pack k = {NULL, 0};
    fv_worker scratch = *src;
    pack_worker(&k, src, &scratch, false);
    char *block = fv_malloc(k.off);
    if (block == NULL)
        return NULL;
    k = (fv__mem_pack){block, 0};
    pack_worker(&k, src, w, false);
    return block;
}

static void status_entry_release(fv__mem_status_entry *e)
{
    fv_free(e->reason);
    e->reason = NULL;
}

void fv__mem_worker_free(fv__mem_worker *mw)
{
    if (mw == NULL)
        return;
    for (size_t i = 0; i < mw->n_links; i++)
        fv_free(mw->links[i]);
    fv_free(mw->links);
    fv_free(mw->block);
    fv_free(mw->health);
    if (mw->hist != NULL) {
        for (size_t i = 0; i < mw->hist_n; i++)
            status_entry_release(&mw->hist[i]);
        /* Entries beyond hist_n were never written (calloc'ed). */
    }
    fv_free(mw->hist);
    fv_free(mw);
}

/* Room for one status change: the ring (when the worker has none yet) and
 * the owned reason. Commit with hist_push. */
typedef struct hist_prep {
    fv__mem_status_entry *ring; /* new ring, or NULL when the worker has one */
    char *reason;
} hist_prep;

static bool hist_prepare(const fv_mem_store *s, const fv__mem_worker *mw, const char *reason,
                         hist_prep *p)
{
    p->ring = NULL;
    p->reason = NULL;
    if (mw == NULL || mw->hist == NULL) {
        p->ring = fv_calloc(s->status_history_max, sizeof *p->ring);
        if (p->ring == NULL)
            return false;
    }
    if (reason != NULL) {
        p->reason = fv_strdup(reason);
        if (p->reason == NULL) {
            fv_free(p->ring);
            p->ring = NULL;
            return false;
        }
    }
    return true;
}

static void hist_discard(hist_prep *p)
{
    fv_free(p->ring);
    fv_free(p->reason);
}

static void hist_push(const fv_mem_store *s, fv__mem_worker *mw, hist_prep *p,
                      fv_worker_status from, fv_worker_status to, fv_time at)
{
    size_t cap = s->status_history_max;
    if (mw->hist == NULL) {
        mw->hist = p->ring;
        mw->hist_start = 0;
        mw->hist_n = 0;
    } else {
        fv_free(p->ring);
    }
    size_t idx;
    if (mw->hist_n < cap) {
        idx = (mw->hist_start + mw->hist_n) % cap;
        mw->hist_n++;
    } else {
        idx = mw->hist_start;
        status_entry_release(&mw->hist[idx]);
        mw->hist_start = (mw->hist_start + 1) % cap;
    }
    mw->hist[idx] = (fv__mem_status_entry){from, to, at, p->reason};
    p->ring = NULL;
    p->reason = NULL;
}

/* Take a worker out of every index and its definitions, then free it. The
 * caller removes it from worker_order. */
static void worker_unlink_free(fv_mem_store *s, fv__mem_worker *mw)
{
    for (size_t i = 0; i < mw->n_links; i++)
        fv__mem_def_detach(mw->links[i]);
    for (size_t i = 0; i < mw->n_links; i++)
        fv__mem_def_refresh(mw->links[i]->d);
    fv__mem_map_remove(&s->workers_by_id, mw->id_hash, mw);
    fv__mem_map_remove(&s->workers_by_ident, mw->ident_hash, mw);
    fv__mem_worker_free(mw);
}

/* ------------------------------------------------------------------------ */
/* Registration                                                              */
/* ------------------------------------------------------------------------ */

/* The plan for one declared capability, all of it allocated before the
 * store is touched. */
typedef struct cap_plan {
    const fv_capability *c;
    fv_def_class cls;
    const fv_uuid *fresh_id;
    fv__mem_def *d; /* existing, or new (is_new) */
    bool is_new;
    void *decl;           /* the new declared block */
    fv_definition fields; /* declared fields pointing into decl */
    bool latest_change;
    char *latest; /* the new latest_version when latest_change */
    fv__mem_link *link;
} cap_plan;

static int plan_cmp(const void *x, const void *y)
{
    const cap_plan *a = x, *b = y;
    if (a->cls != b->cls)
        return a->cls < b->cls ? -1 : 1;
    return strcmp(a->c->kind, b->c->kind);
}

static void pack_decl(fv__mem_pack *k, const fv_capability *c, fv_definition *dst)
{
    dst->name = fv__mem_pack_str(k, c->name != NULL ? c->name : c->kind);
    dst->description = fv__mem_pack_str(k, c->description);
    dst->declared.tags = fv__mem_pack_tags(k, c->tags);
    dst->metadata = fv__mem_pack_json(k, c->metadata);
    dst->input_schema = fv__mem_pack_json(k, c->input_schema);
    dst->output_schema = fv__mem_pack_json(k, c->output_schema);
}

static bool plan_decl(cap_plan *p)
{
    const fv_capability *c = p->c;
    fv__mem_pack k = {NULL, 0};
    fv_definition scratch = {0};
    pack_decl(&k, c, &scratch);
    p->decl = fv_malloc(k.off);
    if (p->decl == NULL)
        return false;
    k = (fv__mem_pack){p->decl, 0};
    memset(&p->fields, 0, sizeof p->fields);
    pack_decl(&k, c, &p->fields);
    p->fields.cancellable = c->cancellable;
    p->fields.declared.has_timeout = c->has_timeout;
    p->fields.declared.timeout_seconds = c->has_timeout ? c->timeout_seconds : 0;
    p->fields.declared.has_retry_policy = c->has_retry_policy;
    if (c->has_retry_policy)
        p->fields.declared.retry_policy = c->retry_policy;
    p->fields.declared.has_tags = c->tags.n > 0;
    return true;
}

static fv__mem_link *link_new(const cap_plan *p)
{
    const char *ver = p->cls == FV_DEF_WORKFLOW ? p->c->version : NULL;
    const char *hash = p->cls == FV_DEF_WORKFLOW ? p->c->content_hash : NULL;
    fv__mem_pack k = {NULL, sizeof(fv__mem_link)};
    fv__mem_pack_str(&k, ver);
    fv__mem_pack_str(&k, hash);
    fv__mem_link *l = fv_malloc(k.off);
    if (l == NULL)
        return NULL;
    memset(l, 0, sizeof *l);
    k = (fv__mem_pack){(char *)l, sizeof(fv__mem_link)};
    l->version = fv__mem_pack_str(&k, ver);
    l->content_hash = fv__mem_pack_str(&k, hash);
    return l;
}

static fv__mem_def *def_new(const fv_registration *reg, const cap_plan *p)
{
    size_t n = strlen(p->c->kind);
    fv__mem_def *d = fv_calloc(1, sizeof *d + n + 1);
    if (d == NULL)
        return NULL;
    memcpy(d->kind, p->c->kind, n + 1);
    if (!fv__mem_vec_reserve(&d->links, 1)) {
        fv_free(d);
        return NULL;
    }
    d->d.id = *p->fresh_id;
    d->d.tenant_id = reg->worker.tenant_id;
    d->d.space = reg->worker.space;
    d->d.cls = p->cls;
    d->d.kind = d->kind;
    d->d.availability = FV_AVAIL_UNAVAILABLE;
    d->d.first_seen_at = reg->now;
    d->id_hash = fv_uuid_hash(&d->d.id);
    d->key_hash = fv__mem_def_key_hash(&d->d.tenant_id, &d->d.space, p->cls, d->kind);
    return d;
}

static void plans_discard(cap_plan *plans, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fv_free(plans[i].decl);
        fv_free(plans[i].latest);
        fv_free(plans[i].link);
        if (plans[i].is_new)
            fv__mem_def_free(plans[i].d);
    }
    fv_free(plans);
}

static fv_err plan_one(fv_mem_store *s, const fv_registration *reg, cap_plan *p, fv_error *err)
{
    p->d = fv__mem_def_find(s, &reg->worker.tenant_id, &reg->worker.space, p->cls, p->c->kind);
    if (p->d == NULL) {
        if (fv__mem_def_find_id(s, p->fresh_id) != NULL) {
            char id[FV_UUID_STR_LEN + 1];
            fv_uuid_format(p->fresh_id, id);
            return fv_error_set(err, FV_E_CONFLICT, "definition %s already exists", id);
        }
        p->d = def_new(reg, p);
        if (p->d == NULL)
            return fv__mem_exhausted(err);
        p->is_new = true;
    } else if (!fv__mem_vec_reserve(&p->d->links, 1)) {
        /* Growing the link array of an existing definition changes no
         * content, so it needs no undo. */
        return fv__mem_exhausted(err);
    }
    if (!plan_decl(p))
        return fv__mem_exhausted(err);
    if (p->cls == FV_DEF_WORKFLOW && p->c->version != NULL &&
        (p->is_new || fv_semver_cmp(p->c->version, p->d->latest) > 0)) {
        p->latest_change = true;
        p->latest = fv_strdup(p->c->version);
        if (p->latest == NULL)
            return fv__mem_exhausted(err);
    }
    p->link = link_new(p);
    if (p->link == NULL)
        return fv__mem_exhausted(err);
    return FV_OK;
}

static int peer_cmp(const void *x, const void *y)
{
    const fv_workflow_peer *a = x, *b = y;
    return fv__mem_worker_cmp_name_id(&a->worker, &b->worker);
}

/* A possible conflict: another worker linked with the same version and a
 * different content hash (both given). */
static bool is_peer(const fv__mem_link *l, const fv__mem_worker *self, const fv_capability *c)
{
    return l->w != self && fv__mem_streq(l->version, c->version) && c->content_hash != NULL &&
           l->content_hash != NULL && strcmp(l->content_hash, c->content_hash) != 0;
}

/* The peers of the answer, copied into the arena before anything changes:
 * the possible conflicts of each registered workflow definition. The commit
 * changes no other worker, so this is the state after it too. */
static fv_err collect_peers(fv_arena *a, const fv__mem_worker *self, const cap_plan *plans,
                            size_t n_plans, fv_registration_outcome *out, fv_error *err)
{
    out->peers = NULL;
    out->n_peers = 0;
    size_t total = 0;
    for (size_t i = 0; i < n_plans; i++) {
        const cap_plan *p = &plans[i];
        if (p->cls != FV_DEF_WORKFLOW || p->is_new)
            continue;
        for (size_t j = 0; j < p->d->links.n; j++) {
            if (is_peer(p->d->links.v[j], self, p->c))
                total++;
        }
    }
    if (total == 0)
        return FV_OK;
    fv_workflow_peer *peers = fv_arena_alloc(a, total * sizeof *peers);
    if (peers == NULL)
        return fv__mem_exhausted(err);
    size_t n = 0;
    for (size_t i = 0; i < n_plans; i++) {
        const cap_plan *p = &plans[i];
        if (p->cls != FV_DEF_WORKFLOW || p->is_new)
            continue;
        const char *kind = NULL;
        size_t first = n;
        for (size_t j = 0; j < p->d->links.n; j++) {
            const fv__mem_link *l = p->d->links.v[j];
            if (!is_peer(l, self, p->c))
                continue;
            if (kind == NULL)
                kind = fv_arena_strdup(a, p->d->kind);
            if (kind == NULL)
                return fv__mem_exhausted(err);
            fv_workflow_peer *o = &peers[n++];
            o->kind = kind;
            o->content_hash = fv_arena_strdup(a, l->content_hash);
            if ((l->content_hash != NULL && o->content_hash == NULL) ||
                !fv__mem_worker_copy(a, l->w, &o->worker))
                return fv__mem_exhausted(err);
        }
        qsort(peers + first, n - first, sizeof *peers, peer_cmp);
    }
    out->peers = peers;
    out->n_peers = n;
    return FV_OK;
}

static fv_err op_register(void *self, fv_arena *a, const fv_registration *reg,
                          fv_registration_outcome *out, fv_error *err)
{
    fv_mem_store *s = self;
    const fv_worker *rw = &reg->worker;
    if (rw->name == NULL)
        return fv_error_set(err, FV_E_INVALID, "worker name must not be empty");
    for (size_t i = 0; i < reg->n_workflows + reg->n_tasks; i++) {
        const fv_capability *c =
            i < reg->n_workflows ? &reg->workflows[i] : &reg->tasks[i - reg->n_workflows];
        if (c->kind == NULL)
            return fv_error_set(err, FV_E_INVALID, "capability kind must not be empty");
    }
    size_t n_plans = reg->n_workflows + reg->n_tasks;
    cap_plan *plans = fv_calloc(n_plans ? n_plans : 1, sizeof *plans);
    if (plans == NULL)
        return fv__mem_exhausted(err);
    for (size_t i = 0; i < n_plans; i++) {
        bool wf = i < reg->n_workflows;
        plans[i].cls = wf ? FV_DEF_WORKFLOW : FV_DEF_TASK;
        plans[i].c = wf ? &reg->workflows[i] : &reg->tasks[i - reg->n_workflows];
        plans[i].fresh_id =
            wf ? &reg->workflow_def_ids[i] : &reg->task_def_ids[i - reg->n_workflows];
    }
    /* Class then kind: the order of the worker's links, and duplicates side
     * by side. */
    qsort(plans, n_plans, sizeof *plans, plan_cmp);
    for (size_t i = 1; i < n_plans; i++) {
        if (plan_cmp(&plans[i - 1], &plans[i]) == 0) {
            fv_err rc = fv_error_set(err, FV_E_INVALID, "%s kind \"%s\" is declared twice",
                                     fv_def_class_name(plans[i].cls), plans[i].c->kind);
            fv_free(plans);
            return rc;
        }
    }

    fv__mem_worker *fresh = NULL;
    void *block = NULL;
    fv__mem_link **links = NULL;
    hist_prep hp = {NULL, NULL};
    fv_worker nw = *rw;
    fv_err rc = FV_OK;

    fv__mem_wrlock(s);

    /* Prepare: look up, allocate, reserve. Nothing is changed yet. */
    ident_key ik = {&rw->tenant_id, &rw->space, rw->name, rw->host_name, rw->process_id};
    uint64_t ih = ident_hash(&ik);
    fv__mem_worker *mw = fv__mem_map_find(&s->workers_by_ident, ih, ident_eq, &ik);
    if (mw == NULL && fv__mem_worker_find(s, &rw->id) != NULL) {
        char id[FV_UUID_STR_LEN + 1];
        fv_uuid_format(&rw->id, id);
        rc = fv_error_set(err, FV_E_CONFLICT, "worker %s already exists", id);
        goto fail;
    }
    bool created = mw == NULL;
    if (created) {
        fresh = fv_calloc(1, sizeof *fresh);
        if (fresh == NULL)
            goto oom;
    }
    block = worker_block(rw, &nw);
    if (block == NULL)
        goto oom;
    fv_worker_status old_status = created ? FV_STATUS_OFFLINE : mw->w.status;
    bool status_changed = created || old_status != FV_STATUS_ONLINE;
    if (status_changed && !hist_prepare(s, mw, "registered", &hp))
        goto oom;
    size_t new_wf = 0, new_task = 0;
    for (size_t i = 0; i < n_plans; i++) {
        rc = plan_one(s, reg, &plans[i], err);
        if (rc != FV_OK)
            goto fail;
        if (plans[i].is_new && plans[i].cls == FV_DEF_WORKFLOW)
            new_wf++;
        else if (plans[i].is_new)
            new_task++;
    }
    if (n_plans > 0) {
        links = fv_malloc(n_plans * sizeof *links);
        if (links == NULL)
            goto oom;
    }
    if (created && (!fv__mem_map_reserve(&s->workers_by_id, 1) ||
                    !fv__mem_map_reserve(&s->workers_by_ident, 1) ||
                    !fv__mem_vec_reserve(&s->worker_order, 1)))
        goto oom;
    if (!fv__mem_map_reserve(&s->defs_by_id, new_wf + new_task) ||
        !fv__mem_map_reserve(&s->defs_by_key, new_wf + new_task) ||
        !fv__mem_vec_reserve(&s->def_order[0], new_wf) ||
        !fv__mem_vec_reserve(&s->def_order[1], new_task))
        goto oom;
    rc = collect_peers(a, mw, plans, n_plans, out, err);
    if (rc != FV_OK)
        goto fail;

    /* Commit: nothing below can fail. */
    if (created) {
        mw = fresh;
        fresh = NULL;
    }
    /* 1. The old links leave their definitions (counted at the old status). */
    for (size_t i = 0; i < mw->n_links; i++)
        fv__mem_def_detach(mw->links[i]);
    /* 2. The worker itself. */
    nw.id = created ? rw->id : mw->w.id;
    nw.registered_at = nw.last_heartbeat_at = nw.last_seen_at = reg->now;
    nw.status = FV_STATUS_ONLINE;
    nw.status_changed_at = status_changed ? reg->now : mw->w.status_changed_at;
    nw.health_info = FV_JSON_NONE;
    nw.health_degraded = rw->health_degraded;
    nw.effective_status = FV_STATUS_ONLINE;
    nw.workflow_kinds = (int64_t)reg->n_workflows;
    nw.task_kinds = (int64_t)reg->n_tasks;
    fv_free(mw->block);
    mw->block = block;
    block = NULL;
    mw->w = nw;
    if (status_changed)
        hist_push(s, mw, &hp, old_status, FV_STATUS_ONLINE, reg->now);
    if (created) {
        mw->id_hash = fv_uuid_hash(&mw->w.id);
        mw->ident_hash = ih;
        fv__mem_map_insert(&s->workers_by_id, mw->id_hash, mw);
        fv__mem_map_insert(&s->workers_by_ident, ih, mw);
        fv__mem_vec_insert(&s->worker_order, order_pos(&s->worker_order, mw), mw);
    }
    /* 3. Definitions: created or updated, then linked. */
    for (size_t i = 0; i < n_plans; i++) {
        cap_plan *p = &plans[i];
        fv__mem_def *d = p->d;
        if (p->is_new) {
            fv__mem_map_insert(&s->defs_by_id, d->id_hash, d);
            fv__mem_map_insert(&s->defs_by_key, d->key_hash, d);
            fv__mem_vec *order = &s->def_order[fv__mem_class_index(p->cls)];
            fv__mem_vec_insert(order, fv__mem_def_order_pos(order, d), d);
        }
        fv_free(d->decl);
        d->decl = p->decl;
        d->d.name = p->fields.name;
        d->d.description = p->fields.description;
        d->d.cancellable = p->fields.cancellable;
        d->d.declared = p->fields.declared;
        d->d.metadata = p->fields.metadata;
        d->d.input_schema = p->fields.input_schema;
        d->d.output_schema = p->fields.output_schema;
        if (p->latest_change) {
            fv_free(d->latest);
            d->latest = p->latest;
            d->d.latest_version = d->latest;
        }
        d->d.last_registered_at = reg->now;
        p->link->w = mw;
        p->link->d = d;
        p->link->registered_at = reg->now;
        fv__mem_def_attach(p->link);
        links[i] = p->link;
    }
    /* 4. Stored availability of every definition linked or unlinked. */
    for (size_t i = 0; i < mw->n_links; i++) {
        fv__mem_def_refresh(mw->links[i]->d);
        fv_free(mw->links[i]);
    }
    for (size_t i = 0; i < n_plans; i++)
        fv__mem_def_refresh(plans[i].d);
    fv_free(mw->links);
    mw->links = links;
    mw->n_links = n_plans;
    mw->n_workflows = (int64_t)reg->n_workflows;
    mw->n_tasks = (int64_t)reg->n_tasks;
    out->worker_id = mw->w.id;
    out->created = created;
    fv__mem_unlock(s);
    fv_free(plans);
    return FV_OK;

oom:
    rc = fv__mem_exhausted(err);
fail:
    fv__mem_unlock(s);
    plans_discard(plans, n_plans);
    hist_discard(&hp);
    fv_free(links);
    fv_free(block);
    fv_free(fresh);
    out->peers = NULL;
    out->n_peers = 0;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Reads                                                                     */
/* ------------------------------------------------------------------------ */

static fv_err op_get(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                     fv_worker *out, fv_error *err)
{
    fv_mem_store *s = self;
    fv_err rc = FV_OK;
    fv__mem_rdlock(s);
    const fv__mem_worker *mw = fv__mem_worker_find_in(s, tenant, id);
    if (mw == NULL)
        rc = fv__mem_worker_not_found(err, id);
    else if (!fv__mem_worker_copy(a, mw, out))
        rc = fv__mem_exhausted(err);
    fv__mem_unlock(s);
    return rc;
}

static fv_err op_list(void *self, fv_arena *a, const fv_worker_filter *f, fv_page page, fv_time now,
                      const fv_liveness *l, fv_worker_list *out, fv_error *err)
{
    fv_mem_store *s = self;
    fv_err rc = FV_OK;
    fv__mem_rdlock(s);
    const fv__mem_vec *order = &s->worker_order;
    size_t lo, hi;
    tenant_range(order, &f->tenant_id, &lo, &hi);
    int64_t off = page.offset > 0 ? page.offset : 0;
    int64_t lim = page.limit > 0 ? page.limit : 0;
    size_t room = (size_t)((uint64_t)lim < hi - lo ? (uint64_t)lim : hi - lo);
    out->items = fv_arena_calloc(a, room ? room : 1, sizeof *out->items);
    out->n = 0;
    out->total = 0;
    if (out->items == NULL) {
        rc = fv__mem_exhausted(err);
        goto done;
    }
    if (f->space.mode == FV_SPACE_ANY && !f->has_type && !f->has_status) {
        /* Every worker of the tenant matches: slice the order. */
        out->total = (int64_t)(hi - lo);
        for (int64_t i = off; i < out->total && out->n < room; i++) {
            const fv__mem_worker *mw = order->v[lo + (size_t)i];
            fv_worker *o = &out->items[out->n++];
            if (!fv__mem_worker_copy(a, mw, o)) {
                rc = fv__mem_exhausted(err);
                goto done;
            }
            o->effective_status = fv_worker_effective_status(&mw->w, now, l);
        }
        goto done;
    }
    for (size_t i = lo; i < hi; i++) {
        const fv__mem_worker *mw = order->v[i];
        if (f->has_type && mw->w.type != f->type)
            continue;
        if (!fv_space_sel_match(&f->space, &mw->w.space))
            continue;
        fv_worker_status eff = fv_worker_effective_status(&mw->w, now, l);
        if (f->has_status && eff != f->status)
            continue;
        int64_t idx = out->total++;
        if (idx < off || out->n >= room)
            continue;
        fv_worker *o = &out->items[out->n++];
        if (!fv__mem_worker_copy(a, mw, o)) {
            rc = fv__mem_exhausted(err);
            goto done;
        }
        o->effective_status = eff;
    }
done:
    fv__mem_unlock(s);
    if (rc != FV_OK) {
        out->items = NULL;
        out->n = 0;
        out->total = 0;
    }
    return rc;
}

static bool copy_ref(fv_arena *a, const fv__mem_link *l, fv_capability_ref *o)
{
    const fv__mem_def *d = l->d;
    o->definition_id = d->d.id;
    o->cls = d->d.cls;
    o->kind = fv_arena_strdup(a, d->kind);
    o->name = fv_arena_strdup(a, d->d.name);
    o->version = fv_arena_strdup(a, l->version);
    o->content_hash = fv_arena_strdup(a, l->content_hash);
    o->registered_at = l->registered_at;
    return o->kind != NULL && (o->name != NULL || d->d.name == NULL) &&
           (o->version != NULL || l->version == NULL) &&
           (o->content_hash != NULL || l->content_hash == NULL);
}

static fv_err op_capabilities(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                              fv_capability_ref_list *workflows, fv_capability_ref_list *tasks,
                              fv_error *err)
{
    fv_mem_store *s = self;
    fv_err rc = FV_OK;
    *workflows = (fv_capability_ref_list){NULL, 0};
    *tasks = (fv_capability_ref_list){NULL, 0};
    fv__mem_rdlock(s);
    const fv__mem_worker *mw = fv__mem_worker_find_in(s, tenant, id);
    if (mw == NULL) {
        rc = fv__mem_worker_not_found(err, id);
        goto done;
    }
    size_t nwf = (size_t)mw->n_workflows, nt = (size_t)mw->n_tasks;
    fv_capability_ref *wf = fv_arena_calloc(a, nwf ? nwf : 1, sizeof *wf);
    fv_capability_ref *tk = fv_arena_calloc(a, nt ? nt : 1, sizeof *tk);
    if (wf == NULL || tk == NULL) {
        rc = fv__mem_exhausted(err);
        goto done;
    }
    /* Links are kept sorted by class (workflows first), then kind. */
    for (size_t i = 0; i < mw->n_links; i++) {
        fv_capability_ref *o = i < nwf ? &wf[i] : &tk[i - nwf];
        if (!copy_ref(a, mw->links[i], o)) {
            rc = fv__mem_exhausted(err);
            goto done;
        }
    }
    *workflows = (fv_capability_ref_list){wf, nwf};
    *tasks = (fv_capability_ref_list){tk, nt};
done:
    fv__mem_unlock(s);
    return rc;
}

static int linked_cmp(const void *x, const void *y)
{
    const fv_linked_worker *a = x, *b = y;
    return fv__mem_worker_cmp_name_id(&a->worker, &b->worker);
}

static fv_err op_linked_workers(void *self, fv_arena *a, const fv_uuid *tenant, fv_def_class cls,
                                const fv_uuid *definition_id, fv_linked_worker_list *out,
                                fv_error *err)
{
    fv_mem_store *s = self;
    fv_err rc = FV_OK;
    *out = (fv_linked_worker_list){NULL, 0};
    fv__mem_rdlock(s);
    const fv__mem_def *d = fv__mem_def_find_id(s, definition_id);
    if (d == NULL || d->d.cls != cls || !fv_uuid_eq(&d->d.tenant_id, tenant))
        goto done;
    size_t n = d->links.n;
    fv_linked_worker *items = fv_arena_calloc(a, n ? n : 1, sizeof *items);
    if (items == NULL) {
        rc = fv__mem_exhausted(err);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const fv__mem_link *l = d->links.v[i];
        fv_linked_worker *o = &items[i];
        o->version = fv_arena_strdup(a, l->version);
        o->content_hash = fv_arena_strdup(a, l->content_hash);
        if (!fv__mem_worker_copy(a, l->w, &o->worker) ||
            (o->version == NULL && l->version != NULL) ||
            (o->content_hash == NULL && l->content_hash != NULL)) {
            rc = fv__mem_exhausted(err);
            goto done;
        }
    }
    qsort(items, n, sizeof *items, linked_cmp);
    *out = (fv_linked_worker_list){items, n};
done:
    fv__mem_unlock(s);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Signs of life and status                                                  */
/* ------------------------------------------------------------------------ */

static fv_err op_touch(void *self, const fv_uuid *tenant, const fv_uuid *id, fv_sign_of_life kind,
                       fv_time now, fv_json health, bool health_degraded, fv_error *err)
{
    fv_mem_store *s = self;
    fv_err rc = FV_OK;
    if (kind != FV_SIGN_HEARTBEAT && kind != FV_SIGN_POLL)
        return fv_error_set(err, FV_E_INVALID, "unknown sign of life %d", (int)kind);
    fv__mem_wrlock(s);
    fv__mem_worker *mw = fv__mem_worker_find_in(s, tenant, id);
    if (mw == NULL) {
        rc = fv__mem_worker_not_found(err, id);
        goto done;
    }
    if (kind == FV_SIGN_POLL) {
        mw->w.last_seen_at = now;
        goto done;
    }
    if (health.p != NULL) {
        size_t need = health.n > 0 ? health.n : 1;
        if (need > mw->health_cap) {
            /* realloc keeps the old bytes, so a failure changes nothing and a
             * success only moves them. */
            char *p = fv_realloc(mw->health, need);
            if (p == NULL) {
                rc = fv__mem_exhausted(err);
                goto done;
            }
            mw->health = p;
            mw->health_cap = need;
            if (mw->w.health_info.p != NULL)
                mw->w.health_info.p = p;
        }
        if (health.n > 0)
            memcpy(mw->health, health.p, health.n);
        mw->w.health_info = (fv_json){mw->health, health.n};
    } else {
        mw->w.health_info = FV_JSON_NONE;
    }
    mw->w.health_degraded = health_degraded;
    mw->w.last_heartbeat_at = now;
    mw->w.last_seen_at = now;
done:
    fv__mem_unlock(s);
    return rc;
}

static fv_err op_touch_by_name(void *self, const fv_uuid *tenant, const char *name, fv_time now,
                               fv_uuid *id_out, fv_error *err)
{
    fv_mem_store *s = self;
    fv_err rc = FV_OK;
    if (name == NULL)
        return fv_error_set(err, FV_E_NOT_FOUND, "worker \"\" not found");
    fv__mem_wrlock(s);
    const fv__mem_vec *order = &s->worker_order;
    fv__mem_worker *best = NULL;
    for (size_t i = order_lower(order, tenant, name, NULL); i < order->n; i++) {
        fv__mem_worker *mw = order->v[i];
        if (!fv_uuid_eq(&mw->w.tenant_id, tenant) || strcmp(mw->w.name, name) != 0)
            break;
        if (best == NULL || mw->w.registered_at > best->w.registered_at)
            best = mw;
    }
    if (best == NULL) {
        rc = fv_error_set(err, FV_E_NOT_FOUND, "worker \"%s\" not found", name);
    } else {
        best->w.last_seen_at = now;
        *id_out = best->w.id;
    }
    fv__mem_unlock(s);
    return rc;
}

static fv_err op_transition(void *self, const fv_uuid *tenant, const fv_uuid *id,
                            fv_worker_status from, fv_worker_status to, fv_time now,
                            const char *reason, bool *changed, fv_error *err)
{
    fv_mem_store *s = self;
    fv_err rc = FV_OK;
    *changed = false;
    fv__mem_wrlock(s);
    fv__mem_worker *mw = fv__mem_worker_find_in(s, tenant, id);
    if (mw == NULL) {
        rc = fv__mem_worker_not_found(err, id);
        goto done;
    }
    if (mw->w.status != from)
        goto done;
    hist_prep hp;
    if (!hist_prepare(s, mw, reason, &hp)) {
        rc = fv__mem_exhausted(err);
        goto done;
    }
    for (size_t i = 0; i < mw->n_links; i++) {
        fv__mem_def_count(mw->links[i]->d, from, -1);
        fv__mem_def_count(mw->links[i]->d, to, 1);
    }
    hist_push(s, mw, &hp, from, to, now);
    mw->w.status = to;
    mw->w.status_changed_at = now;
    *changed = true;
done:
    fv__mem_unlock(s);
    return rc;
}

static fv_err op_status_history(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                                size_t limit, fv_status_change_list *out, fv_error *err)
{
    fv_mem_store *s = self;
    fv_err rc = FV_OK;
    *out = (fv_status_change_list){NULL, 0};
    fv__mem_rdlock(s);
    const fv__mem_worker *mw = fv__mem_worker_find_in(s, tenant, id);
    if (mw == NULL) {
        rc = fv__mem_worker_not_found(err, id);
        goto done;
    }
    size_t n = mw->hist_n < limit ? mw->hist_n : limit;
    fv_status_change *items = fv_arena_calloc(a, n ? n : 1, sizeof *items);
    if (items == NULL) {
        rc = fv__mem_exhausted(err);
        goto done;
    }
    size_t cap = s->status_history_max;
    for (size_t i = 0; i < n; i++) {
        const fv__mem_status_entry *e = &mw->hist[(mw->hist_start + mw->hist_n - 1 - i) % cap];
        items[i] = (fv_status_change){
            .worker_id = mw->w.id,
            .from = e->from,
            .to = e->to,
            .at = e->at,
            .reason = fv_arena_strdup(a, e->reason),
        };
        if (e->reason != NULL && items[i].reason == NULL) {
            rc = fv__mem_exhausted(err);
            goto done;
        }
    }
    *out = (fv_status_change_list){items, n};
done:
    fv__mem_unlock(s);
    return rc;
}

static int worker_cmp(const void *x, const void *y)
{
    return fv__mem_worker_cmp_name_id(x, y);
}

static bool scan_match(const fv__mem_worker *mw, unsigned mask, fv_time from, fv_time to)
{
    return (mask & FV_STATUS_BIT(mw->w.status)) != 0 && mw->w.last_seen_at >= from &&
           mw->w.last_seen_at < to;
}

static fv_err op_scan(void *self, fv_arena *a, unsigned status_mask, fv_time seen_from,
                      fv_time seen_to, fv_worker_list *out, fv_error *err)
{
    fv_mem_store *s = self;
    fv_err rc = FV_OK;
    *out = (fv_worker_list){NULL, 0, 0};
    fv__mem_rdlock(s);
    const fv__mem_vec *order = &s->worker_order;
    size_t n = 0;
    for (size_t i = 0; i < order->n; i++)
        if (scan_match(order->v[i], status_mask, seen_from, seen_to))
            n++;
    fv_worker *items = fv_arena_calloc(a, n ? n : 1, sizeof *items);
    if (items == NULL) {
        rc = fv__mem_exhausted(err);
        goto done;
    }
    size_t k = 0;
    for (size_t i = 0; i < order->n && k < n; i++) {
        const fv__mem_worker *mw = order->v[i];
        if (!scan_match(mw, status_mask, seen_from, seen_to))
            continue;
        if (!fv__mem_worker_copy(a, mw, &items[k++])) {
            rc = fv__mem_exhausted(err);
            goto done;
        }
    }
    /* The order index groups by tenant; a scan spans tenants. */
    qsort(items, n, sizeof *items, worker_cmp);
    *out = (fv_worker_list){items, n, (int64_t)n};
done:
    fv__mem_unlock(s);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Removal                                                                   */
/* ------------------------------------------------------------------------ */

static fv_err op_remove(void *self, const fv_uuid *tenant, const fv_uuid *id, fv_error *err)
{
    fv_mem_store *s = self;
    fv_err rc = FV_OK;
    fv__mem_wrlock(s);
    fv__mem_worker *mw = fv__mem_worker_find_in(s, tenant, id);
    if (mw == NULL) {
        rc = fv__mem_worker_not_found(err, id);
    } else {
        fv__mem_vec_remove(&s->worker_order, order_pos(&s->worker_order, mw));
        worker_unlink_free(s, mw);
    }
    fv__mem_unlock(s);
    return rc;
}

static bool retention_match(const fv__mem_worker *mw, fv_time cutoff)
{
    return mw->w.status == FV_STATUS_OFFLINE && mw->w.last_seen_at < cutoff;
}

static fv_err op_remove_offline(void *self, fv_arena *a, fv_time cutoff, fv_uuid_list *out,
                                fv_error *err)
{
    fv_mem_store *s = self;
    fv_err rc = FV_OK;
    *out = (fv_uuid_list){NULL, 0};
    fv__mem_wrlock(s);
    fv__mem_vec *order = &s->worker_order;
    size_t n = 0;
    for (size_t i = 0; i < order->n; i++)
        if (retention_match(order->v[i], cutoff))
            n++;
    fv_uuid *ids = fv_arena_calloc(a, n ? n : 1, sizeof *ids);
    if (ids == NULL) {
        rc = fv__mem_exhausted(err);
        goto done;
    }
    /* One compaction pass over the order, so a large sweep stays linear. */
    size_t k = 0, kept = 0;
    for (size_t i = 0; i < order->n; i++) {
        fv__mem_worker *mw = order->v[i];
        if (!retention_match(mw, cutoff)) {
            order->v[kept++] = mw;
            continue;
        }
        ids[k++] = mw->w.id;
        worker_unlink_free(s, mw);
    }
    order->n = kept;
    *out = (fv_uuid_list){ids, k};
done:
    fv__mem_unlock(s);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Counts (metrics)                                                          */
/* ------------------------------------------------------------------------ */

static fv_err op_count_by_status(void *self, fv_time now, const fv_liveness *l,
                                 fv_worker_counts *out, fv_error *err)
{
    fv_mem_store *s = self;
    fv_worker_counts c = {0, 0, 0};
    (void)err;
    fv__mem_rdlock(s);
    const fv__mem_vec *order = &s->worker_order;
    for (size_t i = 0; i < order->n; i++) {
        const fv__mem_worker *mw = order->v[i];
        switch (fv_worker_effective_status(&mw->w, now, l)) {
        case FV_STATUS_ONLINE:
            c.online++;
            break;
        case FV_STATUS_DEGRADED:
            c.degraded++;
            break;
        case FV_STATUS_OFFLINE:
            c.offline++;
            break;
        }
    }
    fv__mem_unlock(s);
    *out = c;
    return FV_OK;
}

static const fv_worker_repo_ops worker_ops = {
    .register_worker = op_register,
    .get = op_get,
    .list = op_list,
    .capabilities = op_capabilities,
    .linked_workers = op_linked_workers,
    .touch = op_touch,
    .touch_by_name = op_touch_by_name,
    .transition = op_transition,
    .status_history = op_status_history,
    .scan = op_scan,
    .remove = op_remove,
    .remove_offline = op_remove_offline,
    .count_by_status = op_count_by_status,
};

fv_worker_repo fv_mem_worker_repo(fv_mem_store *s)
{
    return (fv_worker_repo){&worker_ops, s};
}
