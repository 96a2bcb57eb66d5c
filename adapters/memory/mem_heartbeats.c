/* The heartbeat store of the in-memory store: a bounded ring of heartbeats
 * per worker, allocated once, so that a heartbeat without health info
 * allocates nothing. */
#include "adapters/memory/mem_store.h"

#include <string.h>

#include "adapters/memory/mem_store_int.h"
#include "core/util/alloc.h"

static bool hb_eq(const void *rec, const void *key)
{
    const fv__mem_hb *hb = rec;
    return fv_uuid_eq(&hb->worker_id, key);
}

static fv__mem_hb *hb_find(const fv_mem_store *s, const fv_uuid *worker_id)
{
    return fv__mem_map_find(&s->heartbeats, fv_uuid_hash(worker_id), hb_eq, worker_id);
}

void fv__mem_hb_free(fv__mem_hb *hb)
{
    if (hb == NULL)
        return;
    for (size_t i = 0; i < hb->cap; i++)
        fv_free(hb->e[i].health);
    fv_free(hb);
}

/* A new empty ring for a worker, with room for it in the map; NULL on OOM. */
static fv__mem_hb *hb_new(fv_mem_store *s, const fv_uuid *worker_id)
{
    size_t cap = s->heartbeat_history_max;
    fv__mem_hb *hb = fv_calloc(1, sizeof *hb + cap * sizeof hb->e[0]);
    if (hb == NULL)
        return NULL;
    if (!fv__mem_map_reserve(&s->heartbeats, 1)) {
        fv_free(hb);
        return NULL;
    }
    hb->worker_id = *worker_id;
    hb->hash = fv_uuid_hash(worker_id);
    hb->cap = cap;
    return hb;
}

/* Make the slot hold n bytes of health info; false (slot unchanged: a failed
 * realloc keeps the old bytes) on OOM. */
static bool slot_reserve(fv__mem_hb_entry *e, size_t n)
{
    size_t need = n > 0 ? n : 1;
    if (need <= e->health_cap)
        return true;
    char *p = fv_realloc(e->health, need);
    if (p == NULL)
        return false;
    e->health = p;
    e->health_cap = need;
    return true;
}

static fv_err op_record(void *self, const fv_uuid *worker_id, fv_time at, fv_json health,
                        fv_error *err)
{
    fv_mem_store *s = self;
    fv__mem_hb *fresh = NULL;
    fv__mem_wrlock(s);
    fv__mem_hb *hb = hb_find(s, worker_id);
    if (hb == NULL) {
        fresh = hb_new(s, worker_id);
        if (fresh == NULL) {
            fv__mem_unlock(s);
            return fv__mem_exhausted(err);
        }
        hb = fresh;
    }
    /* The slot of this heartbeat: the next free one, else the oldest. */
    fv__mem_hb_entry *e = &hb->e[hb->n < hb->cap ? (hb->start + hb->n) % hb->cap : hb->start];
    if (health.p != NULL && !slot_reserve(e, health.n)) {
        fv__mem_unlock(s);
        fv__mem_hb_free(fresh);
        return fv__mem_exhausted(err);
    }
    if (fresh != NULL)
        fv__mem_map_insert(&s->heartbeats, hb->hash, hb);
    if (health.p != NULL && health.n > 0)
        memcpy(e->health, health.p, health.n);
    e->at = at;
    e->has_health = health.p != NULL;
    e->health_n = health.p != NULL ? health.n : 0;
    if (hb->n < hb->cap)
        hb->n++;
    else
        hb->start = (hb->start + 1) % hb->cap;
    fv__mem_unlock(s);
    return FV_OK;
}

static bool copy_entry(fv_arena *a, const fv__mem_hb *hb, size_t age, fv_heartbeat *out)
{
    const fv__mem_hb_entry *e = &hb->e[(hb->start + hb->n - 1 - age) % hb->cap];
    out->worker_id = hb->worker_id;
    out->at = e->at;
    out->health_info = FV_JSON_NONE;
    if (e->has_health) {
        out->health_info.p = fv_arena_memdup(a, e->health, e->health_n);
        out->health_info.n = e->health_n;
        if (out->health_info.p == NULL)
            return false;
    }
    return true;
}

static fv_err op_last(void *self, fv_arena *a, const fv_uuid *worker_id, fv_heartbeat *out,
                      fv_error *err)
{
    fv_mem_store *s = self;
    fv_err rc = FV_OK;
    fv__mem_rdlock(s);
    const fv__mem_hb *hb = hb_find(s, worker_id);
    if (hb == NULL || hb->n == 0) {
        char id[FV_UUID_STR_LEN + 1];
        fv_uuid_format(worker_id, id);
        rc = fv_error_set(err, FV_E_NOT_FOUND, "worker %s has no heartbeat", id);
    } else if (!copy_entry(a, hb, 0, out)) {
        rc = fv__mem_exhausted(err);
    }
    fv__mem_unlock(s);
    return rc;
}

static fv_err op_history(void *self, fv_arena *a, const fv_uuid *worker_id, size_t limit,
                         fv_heartbeat_list *out, fv_error *err)
{
    fv_mem_store *s = self;
    fv_err rc = FV_OK;
    *out = (fv_heartbeat_list){NULL, 0};
    fv__mem_rdlock(s);
    const fv__mem_hb *hb = hb_find(s, worker_id);
    size_t n = hb == NULL ? 0 : (hb->n < limit ? hb->n : limit);
    fv_heartbeat *items = fv_arena_calloc(a, n ? n : 1, sizeof *items);
    if (items == NULL) {
        rc = fv__mem_exhausted(err);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (!copy_entry(a, hb, i, &items[i])) {
            rc = fv__mem_exhausted(err);
            goto done;
        }
    }
    *out = (fv_heartbeat_list){items, n};
done:
    fv__mem_unlock(s);
    return rc;
}

static fv_err op_forget(void *self, const fv_uuid *worker_id, fv_error *err)
{
    fv_mem_store *s = self;
    (void)err;
    fv__mem_wrlock(s);
    fv__mem_hb *hb = hb_find(s, worker_id);
    if (hb != NULL)
        fv__mem_map_remove(&s->heartbeats, hb->hash, hb);
    fv__mem_unlock(s);
    fv__mem_hb_free(hb);
    return FV_OK;
}

static const fv_heartbeat_store_ops heartbeat_ops = {
    .record = op_record,
    .last = op_last,
    .history = op_history,
    .forget = op_forget,
};

fv_heartbeat_store fv_mem_heartbeat_store(fv_mem_store *s)
{
    return (fv_heartbeat_store){&heartbeat_ops, s};
}
