/* The in-memory store: its lock, its tables and the hash maps and arrays
 * that index them. */
#include "adapters/memory/mem_store.h"

#include <stdint.h>
#include <string.h>

#include "adapters/memory/mem_store_int.h"
#include "core/util/alloc.h"

/* ------------------------------------------------------------------------ */
/* Hash maps                                                                 */
/* ------------------------------------------------------------------------ */

static void map_put(fv__mem_slot *slots, size_t cap, uint64_t h, void *p)
{
    size_t mask = cap - 1;
    size_t i = (size_t)h & mask;
    while (slots[i].p != NULL)
        i = (i + 1) & mask;
    slots[i].h = h;
    slots[i].p = p;
}

bool fv__mem_map_reserve(fv__mem_map *m, size_t extra)
{
    if (extra > SIZE_MAX / 4 - m->n)
        return false;
    size_t need = m->n + extra;
    if (m->cap != 0 && need <= m->cap / 4 * 3)
        return true;
    size_t cap = m->cap != 0 ? m->cap : 16;
    while (need > cap / 4 * 3) {
        if (cap > SIZE_MAX / 2 / sizeof(fv__mem_slot))
            return false;
        cap *= 2;
    }
    fv__mem_slot *slots = fv_calloc(cap, sizeof *slots);
    if (slots == NULL)
        return false;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].p != NULL)
            map_put(slots, cap, m->slots[i].h, m->slots[i].p);
    fv_free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return true;
}

void fv__mem_map_insert(fv__mem_map *m, uint64_t h, void *p)
{
    map_put(m->slots, m->cap, h, p);
    m->n++;
}

void fv__mem_map_remove(fv__mem_map *m, uint64_t h, const void *p)
{
    if (m->cap == 0)
        return;
    size_t mask = m->cap - 1;
    size_t i = (size_t)h & mask;
    for (;; i = (i + 1) & mask) {
        if (m->slots[i].p == NULL)
            return;
        if (m->slots[i].p == p)
            break;
    }
    /* Backward-shift deletion: pull later entries of the probe run into the
     * hole unless their home slot lies cyclically in (hole, j]. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (m->slots[j].p == NULL)
            break;
        size_t home = (size_t)m->slots[j].h & mask;
        bool stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].p = NULL;
    m->slots[i].h = 0;
    m->n--;
}

void fv__mem_map_release(fv__mem_map *m)
{
    fv_free(m->slots);
    m->slots = NULL;
    m->cap = 0;
    m->n = 0;
}

/* ------------------------------------------------------------------------ */
/* Pointer arrays                                                            */
/* ------------------------------------------------------------------------ */

void *fv__mem_grow(void *v, size_t size, size_t n, size_t extra, size_t *cap, size_t first)
{
    if (extra > SIZE_MAX / 2 / size - n)
        return NULL;
    size_t need = n + extra;
    if (need <= *cap)
        return v;
    size_t c = *cap != 0 ? *cap : first;
    while (c < need)
        c *= 2;
    void *p = fv_realloc(v, c * size);
    if (p == NULL)
        return NULL;
    *cap = c;
    return p;
}

bool fv__mem_vec_reserve(fv__mem_vec *v, size_t extra)
{
    if (extra == 0)
        return true;
    void **p = fv__mem_grow(v->v, sizeof *v->v, v->n, extra, &v->cap, 8);
    if (p == NULL)
        return false;
    v->v = p;
    return true;
}

void fv__mem_vec_insert(fv__mem_vec *v, size_t pos, void *p)
{
    memmove(v->v + pos + 1, v->v + pos, (v->n - pos) * sizeof *v->v);
    v->v[pos] = p;
    v->n++;
}

void fv__mem_vec_remove(fv__mem_vec *v, size_t pos)
{
    memmove(v->v + pos, v->v + pos + 1, (v->n - pos - 1) * sizeof *v->v);
    v->n--;
}

void fv__mem_vec_release(fv__mem_vec *v)
{
    fv_free(v->v);
    v->v = NULL;
    v->n = 0;
    v->cap = 0;
}

/* ------------------------------------------------------------------------ */
/* Small shared helpers                                                      */
/* ------------------------------------------------------------------------ */

fv_err fv__mem_exhausted(fv_error *err)
{
    return fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
}

fv_err fv__mem_worker_not_found(fv_error *err, const fv_uuid *id)
{
    char s[FV_UUID_STR_LEN + 1];
    fv_uuid_format(id, s);
    return fv_error_set(err, FV_E_NOT_FOUND, "worker %s not found", s);
}

void fv__mem_page_bounds(fv_page page, int64_t total, int64_t *from, int64_t *to)
{
    int64_t off = page.offset > 0 ? page.offset : 0;
    int64_t lim = page.limit > 0 ? page.limit : 0;
    *from = off < total ? off : total;
    *to = (lim < total - *from) ? *from + lim : total;
}

/* ------------------------------------------------------------------------ */
/* The store                                                                 */
/* ------------------------------------------------------------------------ */

fv_mem_store *fv_mem_store_new(const fv_mem_options *opt)
{
    fv_mem_store *s = fv_calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->tasks = fv__mem_tasks_new();
    if (s->tasks == NULL) {
        fv_free(s);
        return NULL;
    }
    if (pthread_rwlock_init(&s->lock, NULL) != 0) {
        fv__mem_tasks_free(s->tasks);
        fv_free(s);
        return NULL;
    }
    s->heartbeat_history_max = FV_MEM_DEFAULT_HISTORY;
    s->status_history_max = FV_MEM_DEFAULT_HISTORY;
    if (opt != NULL && opt->heartbeat_history_max != 0)
        s->heartbeat_history_max = opt->heartbeat_history_max;
    if (opt != NULL && opt->status_history_max != 0)
        s->status_history_max = opt->status_history_max;
    s->def_views[0] = (fv__mem_def_view){s, FV_DEF_WORKFLOW};
    s->def_views[1] = (fv__mem_def_view){s, FV_DEF_TASK};
    return s;
}

void fv__mem_map_free_all(fv__mem_map *m, void (*fn)(void *))
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].p != NULL)
            fn(m->slots[i].p);
    fv__mem_map_release(m);
}

static void free_worker(void *p)
{
    fv__mem_worker_free(p);
}

static void free_def(void *p)
{
    fv__mem_def_free(p);
}

static void free_hb(void *p)
{
    fv__mem_hb_free(p);
}

void fv_mem_store_free(fv_mem_store *s)
{
    if (s == NULL)
        return;
    /* Workers own their links; definitions only point at them. */
    fv__mem_map_release(&s->workers_by_ident);
    fv__mem_map_free_all(&s->workers_by_id, free_worker);
    fv__mem_vec_release(&s->worker_order);
    fv__mem_map_release(&s->defs_by_key);
    fv__mem_map_free_all(&s->defs_by_id, free_def);
    fv__mem_vec_release(&s->def_order[0]);
    fv__mem_vec_release(&s->def_order[1]);
    fv__mem_map_free_all(&s->heartbeats, free_hb);
    fv__mem_map_release(&s->tenants_by_slug);
    fv__mem_map_free_all(&s->tenants_by_id, fv_free);
    fv__mem_map_release(&s->spaces_by_slug);
    fv__mem_map_free_all(&s->spaces_by_id, fv_free);
    fv__mem_map_release(&s->keys_by_prefix);
    fv__mem_map_free_all(&s->keys_by_id, fv_free);
    fv__mem_vec_release(&s->keys);
    fv__mem_tasks_free(s->tasks);
    pthread_rwlock_destroy(&s->lock);
    fv_free(s);
}
