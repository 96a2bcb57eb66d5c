/* The definition repository of the in-memory store: definition records,
 * their link counters and availability, and the read and configure ops. */
#include "adapters/memory/mem_store.h"

#include <string.h>

#include "adapters/memory/mem_store_int.h"
#include "core/util/alloc.h"

/* ------------------------------------------------------------------------ */
/* Records and indexes                                                       */
/* ------------------------------------------------------------------------ */

typedef struct def_key {
    const fv_uuid *tenant;
    const fv_opt_uuid *space;
    fv_def_class cls;
    const char *kind;
} def_key;

uint64_t fv__mem_def_key_hash(const fv_uuid *tenant, const fv_opt_uuid *space, fv_def_class cls,
                              const char *kind)
{
    uint64_t h = fv__mem_hash_uuid(FV__MEM_HASH_SEED, tenant);
    h = fv__mem_hash_space(h, space);
    unsigned char c = (unsigned char)cls;
    h = fv__mem_hash_bytes(h, &c, 1);
    return fv__mem_hash_final(fv__mem_hash_str(h, kind));
}

static bool def_key_eq(const void *rec, const void *key)
{
    const fv__mem_def *d = rec;
    const def_key *k = key;
    return d->d.cls == k->cls && fv_uuid_eq(&d->d.tenant_id, k->tenant) &&
           fv_opt_uuid_eq(&d->d.space, k->space) && strcmp(d->kind, k->kind) == 0;
}

fv__mem_def *fv__mem_def_find(const fv_mem_store *s, const fv_uuid *tenant,
                              const fv_opt_uuid *space, fv_def_class cls, const char *kind)
{
    def_key k = {tenant, space, cls, kind};
    return fv__mem_map_find(&s->defs_by_key, fv__mem_def_key_hash(tenant, space, cls, kind),
                            def_key_eq, &k);
}

static bool def_id_eq(const void *rec, const void *key)
{
    const fv__mem_def *d = rec;
    return fv_uuid_eq(&d->d.id, key);
}

fv__mem_def *fv__mem_def_find_id(const fv_mem_store *s, const fv_uuid *id)
{
    return fv__mem_map_find(&s->defs_by_id, fv_uuid_hash(id), def_id_eq, id);
}

/* List order within a class: tenant, kind, tenant level first, id. */
static int def_cmp(const fv__mem_def *a, const fv__mem_def *b)
{
    int c = fv_uuid_cmp(&a->d.tenant_id, &b->d.tenant_id);
    if (c != 0)
        return c;
    c = strcmp(a->kind, b->kind);
    if (c != 0)
        return c;
    if (a->d.space.has != b->d.space.has)
        return a->d.space.has ? 1 : -1;
    return fv_uuid_cmp(&a->d.id, &b->d.id);
}

size_t fv__mem_def_order_pos(const fv__mem_vec *order, const fv__mem_def *d)
{
    size_t lo = 0, hi = order->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (def_cmp(order->v[mid], d) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* [*lo, *hi) of the definitions of a tenant in a class order. */
static void tenant_range(const fv__mem_vec *order, const fv_uuid *tenant, size_t *lo_out,
                         size_t *hi_out)
{
    size_t lo = 0, hi = order->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const fv__mem_def *d = order->v[mid];
        if (fv_uuid_cmp(&d->d.tenant_id, tenant) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *lo_out = lo;
    hi = order->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const fv__mem_def *d = order->v[mid];
        if (fv_uuid_cmp(&d->d.tenant_id, tenant) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *hi_out = lo;
}

void fv__mem_def_free(fv__mem_def *d)
{
    if (d == NULL)
        return;
    fv_free(d->decl);
    fv_free(d->conf);
    fv_free(d->latest);
    fv__mem_vec_release(&d->links);
    fv_free(d);
}

/* ------------------------------------------------------------------------ */
/* Links and availability                                                    */
/* ------------------------------------------------------------------------ */

void fv__mem_def_count(fv__mem_def *d, fv_worker_status st, int64_t delta)
{
    switch (st) {
    case FV_STATUS_ONLINE:
        d->n_online += delta;
        break;
    case FV_STATUS_DEGRADED:
        d->n_degraded += delta;
        break;
    case FV_STATUS_OFFLINE:
        break;
    }
}

void fv__mem_def_attach(fv__mem_link *l)
{
    fv__mem_def *d = l->d;
    l->def_pos = d->links.n;
    d->links.v[d->links.n++] = l;
    fv__mem_def_count(d, l->w->w.status, 1);
}

void fv__mem_def_detach(fv__mem_link *l)
{
    fv__mem_def *d = l->d;
    /* Swap-remove: the last link takes the hole. */
    fv__mem_link *last = d->links.v[d->links.n - 1];
    d->links.v[l->def_pos] = last;
    last->def_pos = l->def_pos;
    d->links.n--;
    fv__mem_def_count(d, l->w->w.status, -1);
}

bool fv__mem_def_refresh(fv__mem_def *d)
{
    fv_availability a = fv_availability_from_counts(d->n_online, d->n_degraded);
    if (a == d->d.availability)
        return false;
    d->d.availability = a;
    return true;
}

void fv__mem_def_derive(const fv__mem_def *d, fv_time now, const fv_liveness *l,
                        fv_availability *avail, int64_t *count)
{
    int64_t online = 0, degraded = 0;
    for (size_t i = 0; i < d->links.n; i++) {
        const fv__mem_link *k = d->links.v[i];
        switch (fv_worker_effective_status(&k->w->w, now, l)) {
        case FV_STATUS_ONLINE:
            online++;
            break;
        case FV_STATUS_DEGRADED:
            degraded++;
            break;
        case FV_STATUS_OFFLINE:
            break;
        }
    }
    *avail = fv_availability_from_counts(online, degraded);
    *count = online + degraded;
}

/* ------------------------------------------------------------------------ */
/* Copies into an arena                                                      */
/* ------------------------------------------------------------------------ */

static void pack_definition(fv__mem_pack *k, const fv_definition *src, fv_definition *dst)
{
    dst->kind = fv__mem_pack_str(k, src->kind);
    dst->name = fv__mem_pack_str(k, src->name);
    dst->description = fv__mem_pack_str(k, src->description);
    dst->declared.tags = fv__mem_pack_tags(k, src->declared.tags);
    dst->configured.tags = fv__mem_pack_tags(k, src->configured.tags);
    dst->latest_version = fv__mem_pack_str(k, src->latest_version);
    dst->metadata = fv__mem_pack_json(k, src->metadata);
    dst->input_schema = fv__mem_pack_json(k, src->input_schema);
    dst->output_schema = fv__mem_pack_json(k, src->output_schema);
}

bool fv__mem_definition_copy(fv_arena *a, const fv_definition *src, fv_definition *out)
{
    fv_definition scratch = *src;
    fv__mem_pack k = {NULL, 0};
    pack_definition(&k, src, &scratch);
    char *block = fv_arena_alloc(a, k.off);
    if (block == NULL)
        return false;
    fv_definition d = *src;
    k = (fv__mem_pack){block, 0};
    pack_definition(&k, src, &d);
    *out = d;
    return true;
}

/* A record as reads show it: a copy with derived availability and count. */
static bool copy_derived(fv_arena *a, const fv__mem_def *d, const fv_definition *view, fv_time now,
                         const fv_liveness *l, fv_definition *out)
{
    if (!fv__mem_definition_copy(a, view, out))
        return false;
    fv__mem_def_derive(d, now, l, &out->availability, &out->worker_count);
    return true;
}

/* ------------------------------------------------------------------------ */
/* Ops                                                                       */
/* ------------------------------------------------------------------------ */

static fv_err space_of(const fv_space_sel *sel, fv_opt_uuid *out, fv_error *err)
{
    switch (sel->mode) {
    case FV_SPACE_NONE:
        *out = (fv_opt_uuid){.has = false};
        return FV_OK;
    case FV_SPACE_ID:
        *out = (fv_opt_uuid){.has = true, .id = sel->id};
        return FV_OK;
    case FV_SPACE_ANY:
        break;
    }
    return fv_error_set(err, FV_E_INVALID, "a definition is looked up in one space");
}

static fv_err def_not_found(fv_error *err, fv_def_class cls, const char *kind)
{
    return fv_error_set(err, FV_E_NOT_FOUND, "%s definition \"%s\" not found",
                        fv_def_class_name(cls), kind);
}

static fv_err op_get(void *self, fv_arena *a, const fv_uuid *tenant, const fv_space_sel *space,
                     const char *kind, fv_time now, const fv_liveness *l, fv_definition *out,
                     fv_error *err)
{
    const fv__mem_def_view *v = self;
    fv_opt_uuid sp;
    fv_err rc = space_of(space, &sp, err);
    if (rc != FV_OK)
        return rc;
    if (kind == NULL)
        return def_not_found(err, v->cls, "");
    fv__mem_rdlock(v->s);
    const fv__mem_def *d = fv__mem_def_find(v->s, tenant, &sp, v->cls, kind);
    if (d == NULL)
        rc = def_not_found(err, v->cls, kind);
    else if (!copy_derived(a, d, &d->d, now, l, out))
        rc = fv__mem_exhausted(err);
    fv__mem_unlock(v->s);
    return rc;
}

static bool has_tag(const fv_tags *t, const char *tag)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i], tag) == 0)
            return true;
    return false;
}

static fv_err op_list(void *self, fv_arena *a, const fv_definition_filter *f, fv_page page,
                      fv_time now, const fv_liveness *l, fv_definition_list *out, fv_error *err)
{
    const fv__mem_def_view *v = self;
    fv_err rc = FV_OK;
    fv__mem_rdlock(v->s);
    const fv__mem_vec *order = &v->s->def_order[fv__mem_class_index(v->cls)];
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
    bool plain = f->space.mode == FV_SPACE_ANY && !f->has_availability && f->tag == NULL;
    if (plain) {
        /* Every definition of the tenant matches: slice the order. */
        out->total = (int64_t)(hi - lo);
        for (int64_t i = off; i < out->total && out->n < room; i++) {
            const fv__mem_def *d = order->v[lo + (size_t)i];
            if (!copy_derived(a, d, &d->d, now, l, &out->items[out->n++])) {
                rc = fv__mem_exhausted(err);
                goto done;
            }
        }
        goto done;
    }
    for (size_t i = lo; i < hi; i++) {
        const fv__mem_def *d = order->v[i];
        if (!fv_space_sel_match(&f->space, &d->d.space))
            continue;
        if (f->tag != NULL) {
            fv_def_settings eff = fv_definition_effective(&d->d);
            if (!eff.has_tags || !has_tag(&eff.tags, f->tag))
                continue;
        }
        fv_availability avail = FV_AVAIL_UNAVAILABLE;
        int64_t count = 0;
        if (f->has_availability) {
            fv__mem_def_derive(d, now, l, &avail, &count);
            if (avail != f->availability)
                continue;
        }
        int64_t idx = out->total++;
        if (idx < off || out->n >= room)
            continue;
        fv_definition *o = &out->items[out->n++];
        if (!fv__mem_definition_copy(a, &d->d, o)) {
            rc = fv__mem_exhausted(err);
            goto done;
        }
        if (f->has_availability) {
            o->availability = avail;
            o->worker_count = count;
        } else {
            fv__mem_def_derive(d, now, l, &o->availability, &o->worker_count);
        }
    }
done:
    fv__mem_unlock(v->s);
    if (rc != FV_OK) {
        out->items = NULL;
        out->n = 0;
        out->total = 0;
    }
    return rc;
}

static fv_err op_configure(void *self, fv_arena *a, const fv_uuid *tenant,
                           const fv_space_sel *space, const char *kind,
                           const fv_def_config_patch *patch, fv_time now, const fv_liveness *l,
                           fv_definition *out, fv_error *err)
{
    const fv__mem_def_view *v = self;
    fv_opt_uuid sp;
    fv_err rc = space_of(space, &sp, err);
    if (rc != FV_OK)
        return rc;
    if (kind == NULL)
        return def_not_found(err, v->cls, "");
    void *block = NULL;
    fv__mem_wrlock(v->s);
    fv__mem_def *d = fv__mem_def_find(v->s, tenant, &sp, v->cls, kind);
    if (d == NULL) {
        rc = def_not_found(err, v->cls, kind);
        goto done;
    }
    fv_def_settings conf = d->d.configured;
    fv_def_config_patch_apply(patch, &conf);
    if (patch->tags_op == FV_PATCH_SET) {
        /* The patch's tags are borrowed: keep an owned copy. */
        fv__mem_pack k = {NULL, 0};
        fv__mem_pack_tags(&k, patch->tags);
        conf.tags = (fv_tags){NULL, 0};
        if (patch->tags.n > 0) {
            block = fv_malloc(k.off);
            if (block == NULL) {
                rc = fv__mem_exhausted(err);
                goto done;
            }
            k = (fv__mem_pack){block, 0};
            conf.tags = fv__mem_pack_tags(&k, patch->tags);
        }
    }
    /* The answer is copied before the change, so a full arena changes nothing. */
    fv_definition view = d->d;
    view.configured = conf;
    if (!copy_derived(a, d, &view, now, l, out)) {
        fv_free(block);
        rc = fv__mem_exhausted(err);
        goto done;
    }
    if (patch->tags_op != FV_PATCH_KEEP) {
        fv_free(d->conf);
        d->conf = block;
    }
    d->d.configured = conf;
done:
    fv__mem_unlock(v->s);
    return rc;
}

static fv_err op_refresh_availability(void *self, fv_arena *a, fv_availability_change_list *out,
                                      fv_error *err)
{
    const fv__mem_def_view *v = self;
    fv_err rc = FV_OK;
    out->items = NULL;
    out->n = 0;
    fv__mem_wrlock(v->s);
    const fv__mem_vec *order = &v->s->def_order[fv__mem_class_index(v->cls)];
    size_t changed = 0;
    for (size_t i = 0; i < order->n; i++) {
        const fv__mem_def *d = order->v[i];
        if (fv_availability_from_counts(d->n_online, d->n_degraded) != d->d.availability)
            changed++;
    }
    if (changed == 0)
        goto done;
    /* Build the whole answer first; then write. */
    fv_availability_change *items = fv_arena_calloc(a, changed, sizeof *items);
    if (items == NULL) {
        rc = fv__mem_exhausted(err);
        goto done;
    }
    size_t n = 0;
    for (size_t i = 0; i < order->n; i++) {
        const fv__mem_def *d = order->v[i];
        fv_availability to = fv_availability_from_counts(d->n_online, d->n_degraded);
        if (to == d->d.availability)
            continue;
        const char *kind = fv_arena_strdup(a, d->kind);
        if (kind == NULL) {
            rc = fv__mem_exhausted(err);
            goto done;
        }
        items[n++] = (fv_availability_change){
            .definition_id = d->d.id,
            .cls = d->d.cls,
            .kind = kind,
            .from = d->d.availability,
            .to = to,
        };
    }
    for (size_t i = 0; i < order->n; i++)
        fv__mem_def_refresh(order->v[i]);
    out->items = items;
    out->n = n;
done:
    fv__mem_unlock(v->s);
    return rc;
}

static fv_err op_count_by_availability(void *self, fv_time now, const fv_liveness *l,
                                       fv_availability_counts *out, fv_error *err)
{
    const fv__mem_def_view *v = self;
    fv_availability_counts c = {0, 0, 0};
    (void)err;
    fv__mem_rdlock(v->s);
    const fv__mem_vec *order = &v->s->def_order[fv__mem_class_index(v->cls)];
    for (size_t i = 0; i < order->n; i++) {
        fv_availability avail;
        int64_t count;
        fv__mem_def_derive(order->v[i], now, l, &avail, &count);
        switch (avail) {
        case FV_AVAIL_AVAILABLE:
            c.available++;
            break;
        case FV_AVAIL_DEGRADED:
            c.degraded++;
            break;
        case FV_AVAIL_UNAVAILABLE:
            c.unavailable++;
            break;
        }
    }
    fv__mem_unlock(v->s);
    *out = c;
    return FV_OK;
}

static const fv_definition_repo_ops definition_ops = {
    .get = op_get,
    .list = op_list,
    .configure = op_configure,
    .refresh_availability = op_refresh_availability,
    .count_by_availability = op_count_by_availability,
};

fv_definition_repo fv_mem_definition_repo(fv_mem_store *s, fv_def_class cls)
{
    return (fv_definition_repo){&definition_ops, &s->def_views[fv__mem_class_index(cls)]};
}
