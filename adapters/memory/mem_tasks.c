/*
 * The task repository of the in-memory store (ports/task_repo.h): task
 * executions with their events, attempts and state, idempotency bindings,
 * and the indexes that keep every hot op O(1) or O(log n).
 *
 * Lock. The task tables sit behind one pthread mutex of their own, apart
 * from the registry's rwlock (fv_mem_store.lock):
 * - nearly every task op writes (submit, claim, attempt ends, progress,
 *   logs, stream data), and the reads (get, events) are as short as the
 *   writes, so a readers-writer lock would buy no parallelism and costs more
 *   per acquisition than a mutex;
 * - separate from the registry so that worker heartbeats, polls' signs of
 *   life and registrations (the worker tables) never wait for claims and
 *   completions, nor the other way round. No task op takes the store's
 *   rwlock (the repository reads no worker), so there is no lock order to
 *   keep.
 * Allocations that do not depend on the tables (a submitted record, its
 * first event) are made before the lock is taken, to keep it short.
 *
 * Indexes (n = tasks in the store):
 * - tasks by id (hash map): get and every op on one task, O(1);
 * - per (tenant, queue): a min-heap of claimable PENDING tasks by
 *   (created_at, id), and a min-heap of PENDING tasks scheduled later, by
 *   scheduled_at. A claim at `now` first moves the due scheduled tasks into
 *   the claimable heap (and, should `now` go back in time, claimable ones
 *   not yet due back out), then pops the oldest: O(log n) per task moved and
 *   per claim; the scheduled heap's top is next_at. Retries and cancels move
 *   a task in or out in O(log n);
 * - per (tenant, kind): a min-heap of PENDING tasks by (created_at, id):
 *   backlog reads count and oldest in O(1) per kind;
 * - RUNNING tasks: a min-heap by attempt deadline (started_at + timeout_ms);
 *   expired_attempts visits only the expired part of it;
 * - per (tenant, worker_uuid): the RUNNING tasks it holds (intrusive list),
 *   for holders and held_by;
 * - per tenant: tasks by (created_at, id), for lists (a scan of the tenant's
 *   tasks, as lists may);
 * - idempotency bindings by (tenant, key) (hash map) and by expires_at
 *   (min-heap): expiry visits only what expires;
 * - per task: its events in id order (event id = index + 1, so "after id"
 *   is an index), its attempts, and its state keys sorted by bytes (binary
 *   search, at most FV_TASK_STATE_MAX_KEYS).
 *
 * Every op follows mem_store_int.h: look up, allocate everything the change
 * needs (records, blocks, map, heap and array room, and the arena copy of
 * the answer), and only then commit, in a phase that cannot fail. A failure
 * frees what it allocated and leaves the tables as they were (room reserved
 * in maps and arrays is not observable).
 *
 * Nothing is ever deleted: tasks stay until the store is freed (no retention
 * yet).
 */
#include "adapters/memory/mem_store.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/memory/mem_store_int.h"
#include "core/util/alloc.h"

/* ------------------------------------------------------------------------ */
/* Indexed min-heaps                                                         */
/* ------------------------------------------------------------------------ */

/* An entry caches its key so that sifting touches only the heap array; the
 * record keeps its position (*pos) so that it can leave the heap in
 * O(log n). Equal keys are ordered by *tie (a UUID) when it is set. */
typedef struct heap_ent {
    fv_time key;
    const fv_uuid *tie;
    size_t *pos;
    void *rec;
} heap_ent;

typedef struct mheap {
    heap_ent *v;
    size_t n;
    size_t cap;
} mheap;

static bool ent_less(const heap_ent *x, const heap_ent *y)
{
    if (x->key != y->key)
        return x->key < y->key;
    if (x->tie == NULL || y->tie == NULL)
        return false;
    return fv_uuid_cmp(x->tie, y->tie) < 0;
}

static void heap_place(mheap *h, size_t i, heap_ent e)
{
    h->v[i] = e;
    *e.pos = i;
}

static void sift_up(mheap *h, size_t i)
{
    heap_ent e = h->v[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ent_less(&e, &h->v[p]))
            break;
        heap_place(h, i, h->v[p]);
        i = p;
    }
    heap_place(h, i, e);
}

static void sift_down(mheap *h, size_t i)
{
    heap_ent e = h->v[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && ent_less(&h->v[c + 1], &h->v[c]))
            c++;
        if (!ent_less(&h->v[c], &e))
            break;
        heap_place(h, i, h->v[c]);
        i = c;
    }
    heap_place(h, i, e);
}

/* Room for `extra` more entries; false (heap unchanged) on OOM. */
static bool heap_reserve(mheap *h, size_t extra)
{
    if (extra == 0)
        return true;
    heap_ent *v = fv__mem_grow(h->v, sizeof *v, h->n, extra, &h->cap, 16);
    if (v == NULL)
        return false;
    h->v = v;
    return true;
}

/* Add an entry; room must have been reserved. */
static void heap_push(mheap *h, fv_time key, const fv_uuid *tie, size_t *pos, void *rec)
{
    heap_ent e = {key, tie, pos, rec};
    h->v[h->n] = e;
    *pos = h->n;
    h->n++;
    sift_up(h, h->n - 1);
}

/* Remove the entry at position i. */
static void heap_remove(mheap *h, size_t i)
{
    h->n--;
    if (i == h->n)
        return;
    heap_place(h, i, h->v[h->n]);
    if (i > 0 && ent_less(&h->v[i], &h->v[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

/* Change the key of the entry at position i. */
static void heap_rekey(mheap *h, size_t i, fv_time key)
{
    h->v[i].key = key;
    if (i > 0 && ent_less(&h->v[i], &h->v[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

static void *heap_top(const mheap *h)
{
    return h->n > 0 ? h->v[0].rec : NULL;
}

static void heap_release(mheap *h)
{
    fv_free(h->v);
    h->v = NULL;
    h->n = 0;
    h->cap = 0;
}

/* ------------------------------------------------------------------------ */
/* Records                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct mtask mtask;

/* A (tenant, queue): its claimable and its scheduled PENDING tasks. */
typedef struct mqueue {
    fv_uuid tenant;
    uint64_t hash;
    mheap ready;   /* by (created_at, id) */
    mheap delayed; /* by scheduled_at (then id) */
    char name[];
} mqueue;

/* A (tenant, kind): its PENDING tasks, for the backlog. */
typedef struct mkind {
    fv_uuid tenant;
    uint64_t hash;
    mheap pending; /* by (created_at, id) */
    char kind[];
} mkind;

/* A tenant's tasks in list order. */
typedef struct mtenant {
    fv_uuid id;
    uint64_t hash;
    fv__mem_vec order; /* mtask by (created_at, id) ascending */
} mtenant;

/* A registered worker holding RUNNING tasks. */
typedef struct mholder {
    fv_uuid tenant;
    fv_uuid worker;
    uint64_t hash;
    size_t n;
    mtask *head; /* intrusive list through mtask.hnext/hprev */
} mholder;

/* An idempotency key bound to a task until expires_at. */
typedef struct mbinding {
    fv_uuid tenant;
    uint64_t hash;
    fv_time expires_at;
    mtask *task;
    size_t hpos; /* in the expiry heap */
    char key[];
} mbinding;

/* One event; message and data live in block. */
typedef struct mevent {
    fv_time at;
    fv_task_event_type type;
    fv_log_level level;
    const char *message;
    fv_json data;
    void *block;
} mevent;

/* One finished attempt; output, error and worker_id live in block. */
typedef struct mattempt {
    fv_task_attempt a;
    void *block;
} mattempt;

/* One state entry; key and value live in block (the key first). */
typedef struct mstate {
    const char *key;
    fv_json value;
    void *block;
} mstate;

struct mtask {
    /* kind, queue, input, metadata and idempotency_key point into block;
     * output, error, progress_details and worker_id are owned one by one
     * (they change); last_event_id is nev. */
    fv_task t;
    void *block;
    uint64_t hash;
    mqueue *q;
    mkind *k;
    size_t qpos;     /* in q->ready or q->delayed (PENDING) */
    bool delayed;    /* which of the two */
    size_t kpos;     /* in k->pending (PENDING) */
    size_t rpos;     /* in the running heap (RUNNING) */
    mholder *holder; /* RUNNING with a worker_uuid */
    mtask *hprev;
    mtask *hnext;
    mevent *ev;
    size_t nev;
    size_t evcap;
    mattempt *att;
    size_t natt;
    size_t attcap;
    mstate *st; /* by key, byte order */
    size_t nst;
    size_t stcap;
};

struct fv__mem_tasks {
    pthread_mutex_t lock;
    fv__mem_map by_id;    /* mtask */
    fv__mem_map tenants;  /* mtenant */
    fv__mem_map queues;   /* mqueue by (tenant, name) */
    fv__mem_map kinds;    /* mkind by (tenant, kind) */
    fv__mem_map holders;  /* mholder by (tenant, worker) */
    fv__mem_map bindings; /* mbinding by (tenant, key) */
    mheap running;        /* RUNNING mtask by deadline, then id */
    mheap expiry;         /* mbinding by expires_at */
};

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

static fv_err exhausted(fv_error *err)
{
    return fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
}

static fv_err not_found(fv_error *err, const fv_uuid *id)
{
    char s[FV_UUID_STR_LEN + 1];
    fv_uuid_format(id, s);
    return fv_error_set(err, FV_E_NOT_FOUND, "task %s not found", s);
}

/* ------------------------------------------------------------------------ */
/* Lookups                                                                   */
/* ------------------------------------------------------------------------ */

static bool task_eq(const void *rec, const void *key)
{
    return fv_uuid_eq(&((const mtask *)rec)->t.id, key);
}

static mtask *task_find(const fv__mem_tasks *T, const fv_uuid *id)
{
    return fv__mem_map_find(&T->by_id, fv_uuid_hash(id), task_eq, id);
}

/* The task `id` of `tenant`, or NULL. */
static mtask *task_find_in(const fv__mem_tasks *T, const fv_uuid *tenant, const fv_uuid *id)
{
    mtask *mt = task_find(T, id);
    if (mt == NULL || !fv_uuid_eq(&mt->t.tenant_id, tenant))
        return NULL;
    return mt;
}

static bool tenant_eq(const void *rec, const void *key)
{
    return fv_uuid_eq(&((const mtenant *)rec)->id, key);
}

static mtenant *tenant_find(const fv__mem_tasks *T, const fv_uuid *id)
{
    return fv__mem_map_find(&T->tenants, fv_uuid_hash(id), tenant_eq, id);
}

/* (tenant, name) keys of queues, kinds and bindings. */
typedef struct named_key {
    const fv_uuid *tenant;
    const char *name;
} named_key;

static uint64_t named_hash(const fv_uuid *tenant, const char *name)
{
    uint64_t h = fv__mem_hash_uuid(FV__MEM_HASH_SEED, tenant);
    return fv__mem_hash_final(fv__mem_hash_str(h, name));
}

static bool queue_eq(const void *rec, const void *key)
{
    const mqueue *q = rec;
    const named_key *k = key;
    return fv_uuid_eq(&q->tenant, k->tenant) && strcmp(q->name, k->name) == 0;
}

static mqueue *queue_find(const fv__mem_tasks *T, const fv_uuid *tenant, const char *name,
                          uint64_t h)
{
    named_key k = {tenant, name};
    return fv__mem_map_find(&T->queues, h, queue_eq, &k);
}

static bool kind_eq(const void *rec, const void *key)
{
    const mkind *d = rec;
    const named_key *k = key;
    return fv_uuid_eq(&d->tenant, k->tenant) && strcmp(d->kind, k->name) == 0;
}

static mkind *kind_find(const fv__mem_tasks *T, const fv_uuid *tenant, const char *kind, uint64_t h)
{
    named_key k = {tenant, kind};
    return fv__mem_map_find(&T->kinds, h, kind_eq, &k);
}

static bool binding_eq(const void *rec, const void *key)
{
    const mbinding *b = rec;
    const named_key *k = key;
    return fv_uuid_eq(&b->tenant, k->tenant) && strcmp(b->key, k->name) == 0;
}

static mbinding *binding_find(const fv__mem_tasks *T, const fv_uuid *tenant, const char *key,
                              uint64_t h)
{
    named_key k = {tenant, key};
    return fv__mem_map_find(&T->bindings, h, binding_eq, &k);
}

typedef struct holder_key {
    const fv_uuid *tenant;
    const fv_uuid *worker;
} holder_key;

static uint64_t holder_hash(const fv_uuid *tenant, const fv_uuid *worker)
{
    uint64_t h = fv__mem_hash_uuid(FV__MEM_HASH_SEED, tenant);
    return fv__mem_hash_final(fv__mem_hash_uuid(h, worker));
}

static bool holder_eq(const void *rec, const void *key)
{
    const mholder *m = rec;
    const holder_key *k = key;
    return fv_uuid_eq(&m->tenant, k->tenant) && fv_uuid_eq(&m->worker, k->worker);
}

static mholder *holder_find(const fv__mem_tasks *T, const fv_uuid *tenant, const fv_uuid *worker,
                            uint64_t h)
{
    holder_key k = {tenant, worker};
    return fv__mem_map_find(&T->holders, h, holder_eq, &k);
}

/* A new container with a copy of its name, not yet in any map. */
static void *named_new(size_t head, const char *name)
{
    size_t n = strlen(name) + 1;
    char *p = fv_calloc(1, head + n);
    if (p != NULL)
        memcpy(p + head, name, n);
    return p;
}

static void queue_free(mqueue *q)
{
    if (q == NULL)
        return;
    heap_release(&q->ready);
    heap_release(&q->delayed);
    fv_free(q);
}

static void kind_free(mkind *k)
{
    if (k == NULL)
        return;
    heap_release(&k->pending);
    fv_free(k);
}

static void tenant_free(mtenant *tn)
{
    if (tn == NULL)
        return;
    fv__mem_vec_release(&tn->order);
    fv_free(tn);
}

/* ------------------------------------------------------------------------ */
/* Packing and copies                                                        */
/* ------------------------------------------------------------------------ */

static const fv_kv *pack_meta(fv__mem_pack *k, const fv_kv *kv, size_t n)
{
    if (n == 0 || kv == NULL)
        return NULL;
    fv_kv *v = fv__mem_pack_raw(k, NULL, n * sizeof *v, alignof(fv_kv));
    for (size_t i = 0; i < n; i++) {
        const char *key = fv__mem_pack_str(k, kv[i].key);
        const char *value = fv__mem_pack_str(k, kv[i].value);
        if (v != NULL) {
            v[i].key = key;
            v[i].value = value;
        }
    }
    return v;
}

/* The fields of a task that never change after submit. */
static void pack_fixed(fv__mem_pack *k, const fv_task *src, fv_task *dst)
{
    dst->metadata = pack_meta(k, src->metadata, src->n_metadata);
    dst->n_metadata = dst->metadata != NULL ? src->n_metadata : 0;
    dst->kind = fv__mem_pack_str(k, src->kind);
    dst->queue = fv__mem_pack_str(k, src->queue);
    dst->input = fv__mem_pack_json(k, src->input);
    dst->idempotency_key = fv__mem_pack_str(k, src->idempotency_key);
}

/* Every string of a task (arena copies). */
static void pack_task(fv__mem_pack *k, const fv_task *src, fv_task *dst)
{
    pack_fixed(k, src, dst);
    dst->output = fv__mem_pack_json(k, src->output);
    dst->error = fv__mem_pack_str(k, src->error);
    dst->progress_details = fv__mem_pack_str(k, src->progress_details);
    dst->worker_id = fv__mem_pack_str(k, src->worker_id);
}

/* Copy a task record (any strings) into the arena. */
static bool task_copy(fv_arena *a, const fv_task *src, fv_task *out)
{
    fv_task t = *src;
    fv__mem_pack k = {NULL, 0};
    pack_task(&k, src, &t);
    char *block = fv_arena_alloc(a, k.off);
    if (block == NULL)
        return false;
    k = (fv__mem_pack){block, 0};
    t = *src;
    pack_task(&k, src, &t);
    *out = t;
    return true;
}

static bool mtask_copy(fv_arena *a, const mtask *mt, fv_task *out)
{
    return task_copy(a, &mt->t, out);
}

/* An owned copy of a string (NULL stays NULL). */
static bool own_str(const char *s, const char **out)
{
    *out = NULL;
    if (s == NULL)
        return true;
    char *p = fv_strdup(s);
    if (p == NULL)
        return false;
    *out = p;
    return true;
}

/* An owned copy of JSON text (absent stays absent). */
static bool own_json(fv_json j, fv_json *out)
{
    *out = FV_JSON_NONE;
    if (j.p == NULL)
        return true;
    char *p = fv_malloc(j.n > 0 ? j.n : 1);
    if (p == NULL)
        return false;
    if (j.n > 0)
        memcpy(p, j.p, j.n);
    *out = (fv_json){p, j.n};
    return true;
}

static void own_free(const void *p)
{
    fv_free((void *)(uintptr_t)p);
}

/* ---- Events ---- */

static void pack_event(fv__mem_pack *k, const char *message, fv_json data, mevent *e)
{
    e->message = fv__mem_pack_str(k, message);
    e->data = fv__mem_pack_json(k, data);
}

/* A new event (not yet in its task); false on OOM. */
static bool event_build(fv_time at, fv_task_event_type type, fv_log_level level,
                        const char *message, fv_json data, mevent *e)
{
    memset(e, 0, sizeof *e);
    fv__mem_pack k = {NULL, 0};
    pack_event(&k, message, data, e);
    char *block = fv_malloc(k.off);
    if (block == NULL)
        return false;
    k = (fv__mem_pack){block, 0};
    pack_event(&k, message, data, e);
    e->at = at;
    e->type = type;
    e->level = level;
    e->block = block;
    return true;
}

/* Room for one more event of mt; false on OOM. */
static bool events_reserve(mtask *mt)
{
    mevent *v = fv__mem_grow(mt->ev, sizeof *v, mt->nev, 1, &mt->evcap, 4);
    if (v == NULL)
        return false;
    mt->ev = v;
    return true;
}

/* A new event for mt with room for it there, not yet appended; false on
 * OOM (nothing to free: reserved room is not observable). */
static bool event_prepare(mtask *mt, fv_time at, fv_task_event_type type, fv_log_level level,
                          const char *message, fv_json data, mevent *e)
{
    return events_reserve(mt) && event_build(at, type, level, message, data, e);
}

/* Append a built event (room reserved); returns its id. */
static int64_t events_append(mtask *mt, const mevent *e)
{
    mt->ev[mt->nev++] = *e;
    mt->t.last_event_id = (int64_t)mt->nev;
    return (int64_t)mt->nev;
}

static bool event_copy(fv_arena *a, const mevent *e, int64_t id, fv_task_event *out)
{
    memset(out, 0, sizeof *out);
    out->id = id;
    out->type = e->type;
    out->at = e->at;
    out->level = e->level;
    out->message = NULL;
    out->data = FV_JSON_NONE;
    if (e->message != NULL) {
        out->message = fv_arena_strdup(a, e->message);
        if (out->message == NULL)
            return false;
    }
    if (e->data.p != NULL) {
        void *p = fv_arena_memdup(a, e->data.p, e->data.n);
        if (p == NULL)
            return false;
        out->data = (fv_json){p, e->data.n};
    }
    return true;
}

/* ---- Attempts ---- */

static void pack_attempt(fv__mem_pack *k, const fv_task_attempt *src, fv_task_attempt *dst)
{
    dst->output = fv__mem_pack_json(k, src->output);
    dst->error = fv__mem_pack_str(k, src->error);
    dst->worker_id = fv__mem_pack_str(k, src->worker_id);
}

static bool attempt_build(const fv_task_attempt *src, mattempt *out)
{
    out->a = *src;
    fv__mem_pack k = {NULL, 0};
    pack_attempt(&k, src, &out->a);
    char *block = fv_malloc(k.off);
    if (block == NULL)
        return false;
    k = (fv__mem_pack){block, 0};
    pack_attempt(&k, src, &out->a);
    out->block = block;
    return true;
}

static bool attempts_reserve(mtask *mt)
{
    mattempt *v = fv__mem_grow(mt->att, sizeof *v, mt->natt, 1, &mt->attcap, 2);
    if (v == NULL)
        return false;
    mt->att = v;
    return true;
}

static bool attempt_copy(fv_arena *a, const fv_task_attempt *src, fv_task_attempt *out)
{
    fv_task_attempt r = *src;
    fv__mem_pack k = {NULL, 0};
    pack_attempt(&k, src, &r);
    char *block = fv_arena_alloc(a, k.off);
    if (block == NULL)
        return false;
    k = (fv__mem_pack){block, 0};
    r = *src;
    pack_attempt(&k, src, &r);
    *out = r;
    return true;
}

/* ---- The whole task ---- */

static void task_free(mtask *mt)
{
    if (mt == NULL)
        return;
    for (size_t i = 0; i < mt->nev; i++)
        fv_free(mt->ev[i].block);
    fv_free(mt->ev);
    for (size_t i = 0; i < mt->natt; i++)
        fv_free(mt->att[i].block);
    fv_free(mt->att);
    for (size_t i = 0; i < mt->nst; i++)
        fv_free(mt->st[i].block);
    fv_free(mt->st);
    own_free(mt->t.output.p);
    own_free(mt->t.error);
    own_free(mt->t.progress_details);
    own_free(mt->t.worker_id);
    fv_free(mt->block);
    fv_free(mt);
}

/* A new record for a submitted task with its TASK_CREATED event, outside
 * every index; NULL on OOM. */
static mtask *task_build(const fv_task_new *in)
{
    const fv_task *src = &in->task;
    mtask *mt = fv_calloc(1, sizeof *mt);
    if (mt == NULL)
        return NULL;
    mt->t = *src;
    mt->t.output = FV_JSON_NONE;
    mt->t.error = NULL;
    mt->t.progress_details = NULL;
    mt->t.worker_id = NULL;
    fv__mem_pack k = {NULL, 0};
    fv_task scratch = *src;
    pack_fixed(&k, src, &scratch);
    mt->block = fv_malloc(k.off);
    if (mt->block == NULL)
        goto fail;
    k = (fv__mem_pack){mt->block, 0};
    pack_fixed(&k, src, &mt->t);
    if (!own_json(src->output, &mt->t.output) || !own_str(src->error, &mt->t.error) ||
        !own_str(src->progress_details, &mt->t.progress_details) ||
        !own_str(src->worker_id, &mt->t.worker_id))
        goto fail;
    mevent e;
    if (!event_prepare(mt, src->created_at, FV_TEV_TASK_CREATED, 0, NULL, in->created_event_data,
                       &e))
        goto fail;
    events_append(mt, &e);
    mt->hash = fv_uuid_hash(&src->id);
    return mt;
fail:
    task_free(mt);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Index membership                                                          */
/* ------------------------------------------------------------------------ */

static fv_time sat_add(fv_time t, int64_t ms)
{
    if (ms > 0 && t > INT64_MAX - ms)
        return INT64_MAX;
    if (ms < 0 && t < INT64_MIN - ms)
        return INT64_MIN;
    return t + ms;
}

static fv_time deadline_of(const fv_task *t)
{
    return sat_add(t->started_at, t->timeout_ms);
}

/* Which queue heap a PENDING task belongs in at `now`. */
static bool due(const fv_task *t, fv_time now)
{
    return t->scheduled_at <= now;
}

/* Room in the queue and kind heaps of mt for it becoming PENDING as t. */
static bool pending_reserve(mtask *mt, const fv_task *t, fv_time now)
{
    mheap *qh = due(t, now) ? &mt->q->ready : &mt->q->delayed;
    return heap_reserve(qh, 1) && heap_reserve(&mt->k->pending, 1);
}

static void pending_enter(mtask *mt, fv_time now)
{
    mt->delayed = !due(&mt->t, now);
    if (mt->delayed)
        heap_push(&mt->q->delayed, mt->t.scheduled_at, &mt->t.id, &mt->qpos, mt);
    else
        heap_push(&mt->q->ready, mt->t.created_at, &mt->t.id, &mt->qpos, mt);
    heap_push(&mt->k->pending, mt->t.created_at, &mt->t.id, &mt->kpos, mt);
}

static void pending_leave(mtask *mt)
{
    heap_remove(mt->delayed ? &mt->q->delayed : &mt->q->ready, mt->qpos);
    heap_remove(&mt->k->pending, mt->kpos);
}

/* A holder for a claim by (tenant, worker), found or new (not yet in the
 * map, room reserved there). */
typedef struct holder_prep {
    mholder *h;
    bool fresh;
} holder_prep;

static bool holder_prepare(fv__mem_tasks *T, const fv_uuid *tenant, const fv_opt_uuid *worker,
                           holder_prep *p)
{
    p->h = NULL;
    p->fresh = false;
    if (worker == NULL || !worker->has)
        return true;
    uint64_t h = holder_hash(tenant, &worker->id);
    p->h = holder_find(T, tenant, &worker->id, h);
    if (p->h != NULL)
        return true;
    if (!fv__mem_map_reserve(&T->holders, 1))
        return false;
    p->h = fv_calloc(1, sizeof *p->h);
    if (p->h == NULL)
        return false;
    p->h->tenant = *tenant;
    p->h->worker = worker->id;
    p->h->hash = h;
    p->fresh = true;
    return true;
}

static void holder_discard(holder_prep *p)
{
    if (p->fresh)
        fv_free(p->h);
    p->h = NULL;
    p->fresh = false;
}

static void running_enter(fv__mem_tasks *T, mtask *mt, holder_prep *hp)
{
    heap_push(&T->running, deadline_of(&mt->t), &mt->t.id, &mt->rpos, mt);
    mholder *h = hp->h;
    if (h == NULL)
        return;
    if (hp->fresh)
        fv__mem_map_insert(&T->holders, h->hash, h);
    mt->holder = h;
    mt->hprev = NULL;
    mt->hnext = h->head;
    if (h->head != NULL)
        h->head->hprev = mt;
    h->head = mt;
    h->n++;
}

static void running_leave(fv__mem_tasks *T, mtask *mt)
{
    heap_remove(&T->running, mt->rpos);
    mholder *h = mt->holder;
    if (h == NULL)
        return;
    if (mt->hprev != NULL)
        mt->hprev->hnext = mt->hnext;
    else
        h->head = mt->hnext;
    if (mt->hnext != NULL)
        mt->hnext->hprev = mt->hprev;
    mt->holder = NULL;
    mt->hprev = mt->hnext = NULL;
    if (--h->n == 0) {
        fv__mem_map_remove(&T->holders, h->hash, h);
        fv_free(h);
    }
}

/* Claimable tasks of q at `now`: due scheduled tasks move in, and (when now
 * went back in time) claimable ones not yet due move out. False on OOM, the
 * heaps then holding every task still (some may have moved). */
static bool queue_settle(mqueue *q, fv_time now)
{
    for (;;) {
        mtask *mt = heap_top(&q->delayed);
        if (mt == NULL || !due(&mt->t, now))
            break;
        if (!heap_reserve(&q->ready, 1))
            return false;
        heap_remove(&q->delayed, mt->qpos);
        heap_push(&q->ready, mt->t.created_at, &mt->t.id, &mt->qpos, mt);
        mt->delayed = false;
    }
    for (;;) {
        mtask *mt = heap_top(&q->ready);
        if (mt == NULL || due(&mt->t, now))
            break;
        if (!heap_reserve(&q->delayed, 1))
            return false;
        heap_remove(&q->ready, mt->qpos);
        heap_push(&q->delayed, mt->t.scheduled_at, &mt->t.id, &mt->qpos, mt);
        mt->delayed = true;
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Submit                                                                    */
/* ------------------------------------------------------------------------ */

static bool binding_live(const mbinding *b, fv_time now)
{
    return b->expires_at > now && b->task->t.status != FV_TASK_FAILED &&
           b->task->t.status != FV_TASK_CANCELLED;
}

static bool order_below(const mtask *x, const mtask *y)
{
    return x->t.created_at < y->t.created_at ||
           (x->t.created_at == y->t.created_at && fv_uuid_cmp(&x->t.id, &y->t.id) < 0);
}

/* Position of mt in a tenant's order (created_at, id). A new task is
 * nearly always the newest: the end is checked first. */
static size_t order_pos(const fv__mem_vec *order, const mtask *mt)
{
    size_t lo = 0, hi = order->n;
    if (hi > 0 && order_below(order->v[hi - 1], mt))
        return hi;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (order_below(order->v[mid], mt))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static fv_err op_submit(void *self, fv_arena *a, const fv_task_new *in, fv_task *out, bool *created,
                        fv_error *err)
{
    fv__mem_tasks *T = self;
    const fv_task *src = &in->task;
    fv_time now = src->created_at;
    *created = false;

    /* The record does not depend on the tables: build it unlocked. */
    mtask *mt = task_build(in);
    if (mt == NULL)
        return exhausted(err);

    mqueue *nq = NULL;
    mkind *nk = NULL;
    mtenant *ntn = NULL;
    mbinding *nb = NULL;
    fv_err rc = FV_OK;
    pthread_mutex_lock(&T->lock);

    mbinding *b = NULL;
    uint64_t bh = 0;
    if (src->idempotency_key != NULL) {
        bh = named_hash(&src->tenant_id, src->idempotency_key);
        b = binding_find(T, &src->tenant_id, src->idempotency_key, bh);
        if (b != NULL && binding_live(b, now)) {
            if (!mtask_copy(a, b->task, out))
                rc = exhausted(err);
            pthread_mutex_unlock(&T->lock);
            task_free(mt);
            return rc;
        }
    }
    if (task_find(T, &src->id) != NULL) {
        char s[FV_UUID_STR_LEN + 1];
        fv_uuid_format(&src->id, s);
        rc = fv_error_set(err, FV_E_CONFLICT, "task %s already exists", s);
        goto fail;
    }

    /* Prepare: containers, room in every index, the answer. */
    uint64_t qh = named_hash(&src->tenant_id, src->queue);
    mt->q = queue_find(T, &src->tenant_id, src->queue, qh);
    if (mt->q == NULL) {
        nq = named_new(offsetof(mqueue, name), src->queue);
        if (nq == NULL || !fv__mem_map_reserve(&T->queues, 1))
            goto oom;
        nq->tenant = src->tenant_id;
        nq->hash = qh;
        mt->q = nq;
    }
    uint64_t kh = named_hash(&src->tenant_id, src->kind);
    mt->k = kind_find(T, &src->tenant_id, src->kind, kh);
    if (mt->k == NULL) {
        nk = named_new(offsetof(mkind, kind), src->kind);
        if (nk == NULL || !fv__mem_map_reserve(&T->kinds, 1))
            goto oom;
        nk->tenant = src->tenant_id;
        nk->hash = kh;
        mt->k = nk;
    }
    mtenant *tn = tenant_find(T, &src->tenant_id);
    if (tn == NULL) {
        ntn = fv_calloc(1, sizeof *ntn);
        if (ntn == NULL || !fv__mem_map_reserve(&T->tenants, 1))
            goto oom;
        ntn->id = src->tenant_id;
        ntn->hash = fv_uuid_hash(&src->tenant_id);
        tn = ntn;
    }
    if (src->idempotency_key != NULL && b == NULL) {
        nb = named_new(offsetof(mbinding, key), src->idempotency_key);
        if (nb == NULL || !fv__mem_map_reserve(&T->bindings, 1) || !heap_reserve(&T->expiry, 1))
            goto oom;
        nb->tenant = src->tenant_id;
        nb->hash = bh;
    }
    if (!fv__mem_map_reserve(&T->by_id, 1) || !fv__mem_vec_reserve(&tn->order, 1) ||
        !pending_reserve(mt, &mt->t, now) || !mtask_copy(a, mt, out))
        goto oom;

    /* Commit. */
    if (nq != NULL)
        fv__mem_map_insert(&T->queues, nq->hash, nq);
    if (nk != NULL)
        fv__mem_map_insert(&T->kinds, nk->hash, nk);
    if (ntn != NULL)
        fv__mem_map_insert(&T->tenants, ntn->hash, ntn);
    fv__mem_map_insert(&T->by_id, mt->hash, mt);
    fv__mem_vec_insert(&tn->order, order_pos(&tn->order, mt), mt);
    pending_enter(mt, now);
    if (b != NULL) {
        b->task = mt;
        b->expires_at = in->idempotency_expires_at;
        heap_rekey(&T->expiry, b->hpos, b->expires_at);
    } else if (nb != NULL) {
        nb->task = mt;
        nb->expires_at = in->idempotency_expires_at;
        fv__mem_map_insert(&T->bindings, nb->hash, nb);
        heap_push(&T->expiry, nb->expires_at, NULL, &nb->hpos, nb);
    }
    pthread_mutex_unlock(&T->lock);
    *created = true;
    return FV_OK;

oom:
    rc = exhausted(err);
fail:
    pthread_mutex_unlock(&T->lock);
    queue_free(nq);
    kind_free(nk);
    tenant_free(ntn);
    fv_free(nb);
    task_free(mt);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Reads of one task                                                         */
/* ------------------------------------------------------------------------ */

static fv_err op_get(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                     fv_task *out, fv_error *err)
{
    fv__mem_tasks *T = self;
    fv_err rc = FV_OK;
    pthread_mutex_lock(&T->lock);
    const mtask *mt = task_find_in(T, tenant, id);
    if (mt == NULL)
        rc = not_found(err, id);
    else if (!mtask_copy(a, mt, out))
        rc = exhausted(err);
    pthread_mutex_unlock(&T->lock);
    return rc;
}

static bool filter_match(const fv_task_filter *f, const fv_task *t)
{
    if (f->status_mask != 0 && !(f->status_mask & FV_TASK_BIT(t->status)))
        return false;
    if (f->queue != NULL && strcmp(f->queue, t->queue) != 0)
        return false;
    if (f->kind != NULL && strcmp(f->kind, t->kind) != 0)
        return false;
    if (f->standalone_only && t->workflow_execution_id.has)
        return false;
    return true;
}

static fv_err op_list(void *self, fv_arena *a, const fv_task_filter *f, fv_page page,
                      fv_task_list *out, fv_error *err)
{
    fv__mem_tasks *T = self;
    fv_err rc = FV_OK;
    int64_t off = page.offset > 0 ? page.offset : 0;
    int64_t lim = page.limit > 0 ? page.limit : 0;
    fv_task_list l = {NULL, 0, 0};
    pthread_mutex_lock(&T->lock);
    const mtenant *tn = tenant_find(T, &f->tenant_id);
    size_t n = tn != NULL ? tn->order.n : 0;
    l.items =
        fv_arena_calloc(a, (size_t)(lim < (int64_t)n ? lim : (int64_t)n) + 1, sizeof *l.items);
    if (l.items == NULL) {
        rc = exhausted(err);
        goto done;
    }
    /* Newest first: the order index backwards. */
    for (size_t i = n; i-- > 0;) {
        const mtask *mt = tn->order.v[i];
        if (!filter_match(f, &mt->t))
            continue;
        int64_t pos = l.total++;
        if (pos < off || pos - off >= lim)
            continue;
        if (!mtask_copy(a, mt, &l.items[l.n])) {
            rc = exhausted(err);
            goto done;
        }
        l.n++;
    }
    *out = l;
done:
    pthread_mutex_unlock(&T->lock);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Claim                                                                     */
/* ------------------------------------------------------------------------ */

/* Prepared replacement of the owned, changing strings of a task: for each
 * field whose pointer differs in `next`, an owned copy of the new value. */
typedef struct owned_prep {
    bool output, error, details, worker;
    fv_json output_v;
    const char *error_v;
    const char *details_v;
    const char *worker_v;
} owned_prep;

static void owned_discard(owned_prep *p)
{
    own_free(p->output_v.p);
    own_free(p->error_v);
    own_free(p->details_v);
    own_free(p->worker_v);
    memset(p, 0, sizeof *p);
}

static bool owned_prepare(const fv_task *cur, const fv_task *next, owned_prep *p)
{
    memset(p, 0, sizeof *p);
    p->output = next->output.p != cur->output.p || next->output.n != cur->output.n;
    p->error = next->error != cur->error;
    p->details = next->progress_details != cur->progress_details;
    p->worker = next->worker_id != cur->worker_id;
    if ((p->output && !own_json(next->output, &p->output_v)) ||
        (p->error && !own_str(next->error, &p->error_v)) ||
        (p->details && !own_str(next->progress_details, &p->details_v)) ||
        (p->worker && !own_str(next->worker_id, &p->worker_v))) {
        owned_discard(p);
        return false;
    }
    return true;
}

/* Store `next` as the task's record: replaced owned strings are freed. */
static void owned_commit(mtask *mt, fv_task *next, owned_prep *p)
{
    if (p->output) {
        own_free(mt->t.output.p);
        next->output = p->output_v;
    }
    if (p->error) {
        own_free(mt->t.error);
        next->error = p->error_v;
    }
    if (p->details) {
        own_free(mt->t.progress_details);
        next->progress_details = p->details_v;
    }
    if (p->worker) {
        own_free(mt->t.worker_id);
        next->worker_id = p->worker_v;
    }
    next->last_event_id = mt->t.last_event_id;
    mt->t = *next;
    memset(p, 0, sizeof *p);
}

static fv_err op_claim(void *self, fv_arena *a, const fv_claim_request *c, fv_task *out,
                       bool *found, fv_time *next_at, fv_error *err)
{
    fv__mem_tasks *T = self;
    fv_err rc = FV_OK;
    *found = false;
    *next_at = FV_TIME_NONE;
    pthread_mutex_lock(&T->lock);
    mqueue *q = queue_find(T, &c->tenant_id, c->queue, named_hash(&c->tenant_id, c->queue));
    if (q == NULL)
        goto done;
    if (!queue_settle(q, c->now)) {
        rc = exhausted(err);
        goto done;
    }
    mtask *mt = heap_top(&q->ready);
    if (mt == NULL) {
        const mtask *later = heap_top(&q->delayed);
        if (later != NULL)
            *next_at = later->t.scheduled_at;
        goto done;
    }

    /* Prepare: the record after the claim, its owned worker id, the event,
     * room in the running heap, the holder, the answer. */
    fv_task next = mt->t;
    fv_task_apply_claim(&next, c->worker_id, &c->worker_uuid, c->now);
    if (fv__mem_streq(next.worker_id, mt->t.worker_id))
        next.worker_id = mt->t.worker_id; /* the same poller again: keep its copy */
    fv_json data = fv_task_event_data_started(a, next.execution_count, c->worker_id);
    if (data.p == NULL) {
        rc = exhausted(err);
        goto done;
    }
    owned_prep op;
    holder_prep hp = {NULL, false};
    mevent e;
    if (!owned_prepare(&mt->t, &next, &op)) {
        rc = exhausted(err);
        goto done;
    }
    if (!event_prepare(mt, c->now, FV_TEV_TASK_STARTED, 0, NULL, data, &e)) {
        owned_discard(&op);
        rc = exhausted(err);
        goto done;
    }
    next.last_event_id = (int64_t)mt->nev + 1;
    if (!heap_reserve(&T->running, 1) || !holder_prepare(T, &c->tenant_id, &c->worker_uuid, &hp) ||
        !task_copy(a, &next, out)) {
        holder_discard(&hp);
        fv_free(e.block);
        owned_discard(&op);
        rc = exhausted(err);
        goto done;
    }

    /* Commit. */
    pending_leave(mt);
    owned_commit(mt, &next, &op);
    events_append(mt, &e);
    running_enter(T, mt, &hp);
    *found = true;
done:
    pthread_mutex_unlock(&T->lock);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Transitions (attempt ends, cancel)                                        */
/* ------------------------------------------------------------------------ */

/* Copy the strings of a plan into the arena (they may point into the
 * stored record, which the caller must not see). */
static bool transition_copy(fv_arena *a, const fv_task_transition *src, fv_task_transition *out)
{
    fv_task_transition tr = *src;
    if (src->event_data.p != NULL) {
        void *p = fv_arena_memdup(a, src->event_data.p, src->event_data.n);
        if (p == NULL)
            return false;
        tr.event_data = (fv_json){p, src->event_data.n};
    }
    if (src->has_attempt && !attempt_copy(a, &src->attempt_row, &tr.attempt_row))
        return false;
    *out = tr;
    return true;
}

/* Apply a planned transition to mt atomically: record, indexes, attempt row,
 * event. The answer goes to *out and the plan (copied) to *tr_out. */
static fv_err apply_plan(fv__mem_tasks *T, fv_arena *a, mtask *mt, const fv_task_transition *tr,
                         fv_time now, fv_task *out, fv_task_transition *tr_out, fv_error *err)
{
    fv_task next = mt->t;
    fv_task_apply_transition(&next, tr, now);
    bool was_pending = mt->t.status == FV_TASK_PENDING;
    bool was_running = mt->t.status == FV_TASK_RUNNING;
    bool to_pending = next.status == FV_TASK_PENDING;

    owned_prep op;
    mevent e;
    mattempt at = {{0}, NULL};
    if (!owned_prepare(&mt->t, &next, &op))
        return exhausted(err);
    if (!event_prepare(mt, now, tr->event, 0, NULL, tr->event_data, &e)) {
        owned_discard(&op);
        return exhausted(err);
    }
    if (tr->has_attempt && !attempt_build(&tr->attempt_row, &at))
        goto oom;
    next.last_event_id = (int64_t)mt->nev + 1;
    if ((tr->has_attempt && !attempts_reserve(mt)) ||
        (to_pending && !pending_reserve(mt, &next, now)) || !task_copy(a, &next, out))
        goto oom;
    if (tr_out != NULL && !transition_copy(a, tr, tr_out))
        goto oom;

    /* Commit. */
    if (was_pending)
        pending_leave(mt);
    if (was_running)
        running_leave(T, mt);
    owned_commit(mt, &next, &op);
    events_append(mt, &e);
    if (tr->has_attempt)
        mt->att[mt->natt++] = at;
    if (mt->t.status == FV_TASK_PENDING)
        pending_enter(mt, now);
    return FV_OK;

oom:
    fv_free(at.block);
    fv_free(e.block);
    owned_discard(&op);
    return exhausted(err);
}

static fv_err op_end_attempt(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                             const fv_attempt_outcome *o, fv_task *out, fv_task_transition *tr,
                             fv_error *err)
{
    fv__mem_tasks *T = self;
    fv_err rc;
    pthread_mutex_lock(&T->lock);
    mtask *mt = task_find_in(T, tenant, id);
    if (mt == NULL) {
        rc = not_found(err, id);
        goto done;
    }
    fv_task_transition plan;
    rc = fv_task_plan_attempt_end(a, &mt->t, o, &plan, err);
    if (rc != FV_OK)
        goto done;
    rc = apply_plan(T, a, mt, &plan, o->now, out, tr, err);
done:
    pthread_mutex_unlock(&T->lock);
    return rc;
}

static fv_err op_cancel(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                        unsigned from_mask, const char *reason, fv_time now, fv_task *out,
                        fv_error *err)
{
    fv__mem_tasks *T = self;
    fv_err rc;
    pthread_mutex_lock(&T->lock);
    mtask *mt = task_find_in(T, tenant, id);
    if (mt == NULL) {
        rc = not_found(err, id);
        goto done;
    }
    fv_task_transition plan;
    rc = fv_task_plan_cancel(a, &mt->t, from_mask, reason, now, &plan, err);
    if (rc != FV_OK)
        goto done;
    rc = apply_plan(T, a, mt, &plan, now, out, NULL, err);
done:
    pthread_mutex_unlock(&T->lock);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Heartbeat, progress, events                                               */
/* ------------------------------------------------------------------------ */

static bool live(const fv_task *t)
{
    return t->status == FV_TASK_PENDING || t->status == FV_TASK_RUNNING;
}

static fv_err op_heartbeat(void *self, const fv_uuid *tenant, const fv_uuid *id, fv_time now,
                           fv_error *err)
{
    fv__mem_tasks *T = self;
    fv_err rc = FV_OK;
    pthread_mutex_lock(&T->lock);
    mtask *mt = task_find_in(T, tenant, id);
    if (mt == NULL) {
        rc = not_found(err, id);
    } else if (mt->t.status != FV_TASK_RUNNING) {
        char s[FV_UUID_STR_LEN + 1];
        fv_uuid_format(id, s);
        rc = fv_error_set(err, FV_E_PRECONDITION, "task %s is %s, not RUNNING", s,
                          fv_task_status_name(mt->t.status));
    } else {
        mt->t.last_heartbeat_at = now;
    }
    pthread_mutex_unlock(&T->lock);
    return rc;
}

static fv_err op_report_progress(void *self, const fv_uuid *tenant, const fv_uuid *id,
                                 double progress, const char *details, fv_json data, fv_time now,
                                 int64_t *event_id, fv_error *err)
{
    fv__mem_tasks *T = self;
    fv_err rc = FV_OK;
    *event_id = 0;
    pthread_mutex_lock(&T->lock);
    mtask *mt = task_find_in(T, tenant, id);
    if (mt == NULL) {
        rc = not_found(err, id);
        goto done;
    }
    if (!live(&mt->t))
        goto done;
    fv_task next = mt->t;
    next.has_progress = true;
    next.progress = progress;
    next.progress_details = details;
    owned_prep op;
    mevent e;
    if (!owned_prepare(&mt->t, &next, &op)) {
        rc = exhausted(err);
        goto done;
    }
    if (!event_prepare(mt, now, FV_TEV_PROGRESS, 0, NULL, data, &e)) {
        owned_discard(&op);
        rc = exhausted(err);
        goto done;
    }
    owned_commit(mt, &next, &op);
    *event_id = events_append(mt, &e);
done:
    pthread_mutex_unlock(&T->lock);
    return rc;
}

static fv_err op_append_event(void *self, const fv_uuid *tenant, const fv_uuid *id,
                              const fv_task_event *ev, int64_t *event_id, fv_error *err)
{
    fv__mem_tasks *T = self;
    fv_err rc = FV_OK;
    *event_id = 0;
    pthread_mutex_lock(&T->lock);
    mtask *mt = task_find_in(T, tenant, id);
    if (mt == NULL) {
        rc = not_found(err, id);
        goto done;
    }
    bool is_log = ev->type == FV_TEV_LOG;
    if (!is_log && !live(&mt->t))
        goto done;
    mevent e;
    if (!event_prepare(mt, ev->at, ev->type, is_log ? ev->level : 0, is_log ? ev->message : NULL,
                       ev->data, &e)) {
        rc = exhausted(err);
        goto done;
    }
    *event_id = events_append(mt, &e);
done:
    pthread_mutex_unlock(&T->lock);
    return rc;
}

static fv_err op_events(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                        int64_t after_id, size_t limit, fv_task_event_list *out, fv_error *err)
{
    fv__mem_tasks *T = self;
    fv_err rc = FV_OK;
    pthread_mutex_lock(&T->lock);
    const mtask *mt = task_find_in(T, tenant, id);
    if (mt == NULL) {
        rc = not_found(err, id);
        goto done;
    }
    size_t from = after_id > 0 ? (size_t)after_id : 0;
    if (from > mt->nev)
        from = mt->nev;
    size_t n = mt->nev - from;
    if (n > limit)
        n = limit;
    fv_task_event_list l = {fv_arena_calloc(a, n + 1, sizeof(fv_task_event)), 0};
    if (l.items == NULL) {
        rc = exhausted(err);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (!event_copy(a, &mt->ev[from + i], (int64_t)(from + i + 1), &l.items[i])) {
            rc = exhausted(err);
            goto done;
        }
    }
    l.n = n;
    *out = l;
done:
    pthread_mutex_unlock(&T->lock);
    return rc;
}

static fv_err op_attempts(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                          fv_task_attempt_list *out, fv_error *err)
{
    fv__mem_tasks *T = self;
    fv_err rc = FV_OK;
    pthread_mutex_lock(&T->lock);
    const mtask *mt = task_find_in(T, tenant, id);
    if (mt == NULL) {
        rc = not_found(err, id);
        goto done;
    }
    fv_task_attempt_list l = {fv_arena_calloc(a, mt->natt + 1, sizeof(fv_task_attempt)), 0};
    if (l.items == NULL) {
        rc = exhausted(err);
        goto done;
    }
    for (size_t i = 0; i < mt->natt; i++) {
        if (!attempt_copy(a, &mt->att[i].a, &l.items[i])) {
            rc = exhausted(err);
            goto done;
        }
    }
    l.n = mt->natt;
    *out = l;
done:
    pthread_mutex_unlock(&T->lock);
    return rc;
}

static fv_err op_logs(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                      bool has_level, fv_log_level level, fv_page page, fv_task_log_list *out,
                      fv_error *err)
{
    fv__mem_tasks *T = self;
    fv_err rc = FV_OK;
    int64_t off = page.offset > 0 ? page.offset : 0;
    int64_t lim = page.limit > 0 ? page.limit : 0;
    pthread_mutex_lock(&T->lock);
    const mtask *mt = task_find_in(T, tenant, id);
    if (mt == NULL) {
        rc = not_found(err, id);
        goto done;
    }
    size_t cap = (size_t)(lim < (int64_t)mt->nev ? lim : (int64_t)mt->nev);
    fv_task_log_list l = {fv_arena_calloc(a, cap + 1, sizeof(fv_task_log_line)), 0, 0};
    if (l.items == NULL) {
        rc = exhausted(err);
        goto done;
    }
    for (size_t i = 0; i < mt->nev; i++) {
        const mevent *e = &mt->ev[i];
        if (e->type != FV_TEV_LOG || (has_level && e->level != level))
            continue;
        int64_t pos = l.total++;
        if (pos < off || pos - off >= lim)
            continue;
        fv_task_log_line *line = &l.items[l.n];
        line->id = (int64_t)i + 1;
        line->level = e->level;
        line->at = e->at;
        line->metadata = FV_JSON_NONE; /* the port's events carry none apart from data */
        line->message = fv_arena_strdup(a, e->message != NULL ? e->message : "");
        if (line->message == NULL) {
            rc = exhausted(err);
            goto done;
        }
        l.n++;
    }
    *out = l;
done:
    pthread_mutex_unlock(&T->lock);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Task state                                                                */
/* ------------------------------------------------------------------------ */

/* Index of key in mt->st, or where it would go (*hit false). */
static size_t state_pos(const mtask *mt, const char *key, bool *hit)
{
    size_t lo = 0, hi = mt->nst;
    *hit = false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(mt->st[mid].key, key);
        if (c == 0) {
            *hit = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static fv_err op_state_get(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                           const char *key, fv_json *value, bool *found, fv_error *err)
{
    fv__mem_tasks *T = self;
    fv_err rc = FV_OK;
    *found = false;
    *value = FV_JSON_NONE;
    pthread_mutex_lock(&T->lock);
    const mtask *mt = task_find_in(T, tenant, id);
    if (mt == NULL) {
        rc = not_found(err, id);
        goto done;
    }
    bool hit;
    size_t i = state_pos(mt, key, &hit);
    if (!hit)
        goto done;
    const mstate *e = &mt->st[i];
    void *p = fv_arena_memdup(a, e->value.p, e->value.n > 0 ? e->value.n : 1);
    if (p == NULL) {
        rc = exhausted(err);
        goto done;
    }
    *value = (fv_json){p, e->value.n};
    *found = true;
done:
    pthread_mutex_unlock(&T->lock);
    return rc;
}

static fv_err op_state_set(void *self, const fv_uuid *tenant, const fv_uuid *id, const char *key,
                           fv_json value, fv_error *err)
{
    fv__mem_tasks *T = self;
    /* Key and value in one block (the key, its NUL, then the value), built
     * before the lock: it does not depend on the tables. */
    size_t kn = strlen(key) + 1;
    char *block = fv_malloc(kn + (value.n > 0 ? value.n : 1));
    if (block == NULL)
        return exhausted(err);
    memcpy(block, key, kn);
    if (value.n > 0)
        memcpy(block + kn, value.p, value.n);
    mstate e = {block, {block + kn, value.n}, block};

    fv_err rc = FV_OK;
    pthread_mutex_lock(&T->lock);
    mtask *mt = task_find_in(T, tenant, id);
    if (mt == NULL) {
        rc = not_found(err, id);
        goto done;
    }
    bool hit;
    size_t i = state_pos(mt, key, &hit);
    if (hit) {
        fv_free(mt->st[i].block);
        mt->st[i] = e;
        block = NULL;
        goto done;
    }
    if (mt->nst >= FV_TASK_STATE_MAX_KEYS) {
        char s[FV_UUID_STR_LEN + 1];
        fv_uuid_format(id, s);
        rc =
            fv_error_set(err, FV_E_EXHAUSTED, "task %s already has %d state keys, the most allowed",
                         s, FV_TASK_STATE_MAX_KEYS);
        goto done;
    }
    mstate *v = fv__mem_grow(mt->st, sizeof *v, mt->nst, 1, &mt->stcap, 4);
    if (v == NULL) {
        rc = exhausted(err);
        goto done;
    }
    mt->st = v;
    memmove(mt->st + i + 1, mt->st + i, (mt->nst - i) * sizeof *mt->st);
    mt->st[i] = e;
    mt->nst++;
    block = NULL;
done:
    pthread_mutex_unlock(&T->lock);
    fv_free(block); /* not kept */
    return rc;
}

static fv_err op_state_clear(void *self, const fv_uuid *tenant, const fv_uuid *id, const char *key,
                             fv_error *err)
{
    fv__mem_tasks *T = self;
    fv_err rc = FV_OK;
    pthread_mutex_lock(&T->lock);
    mtask *mt = task_find_in(T, tenant, id);
    if (mt == NULL) {
        rc = not_found(err, id);
        goto done;
    }
    bool hit;
    size_t i = state_pos(mt, key, &hit);
    if (hit) {
        fv_free(mt->st[i].block);
        memmove(mt->st + i, mt->st + i + 1, (mt->nst - i - 1) * sizeof *mt->st);
        mt->nst--;
    }
done:
    pthread_mutex_unlock(&T->lock);
    return rc;
}

static fv_err op_state_clear_all(void *self, const fv_uuid *tenant, const fv_uuid *id,
                                 fv_error *err)
{
    fv__mem_tasks *T = self;
    fv_err rc = FV_OK;
    pthread_mutex_lock(&T->lock);
    mtask *mt = task_find_in(T, tenant, id);
    if (mt == NULL) {
        rc = not_found(err, id);
    } else {
        for (size_t i = 0; i < mt->nst; i++)
            fv_free(mt->st[i].block);
        mt->nst = 0;
    }
    pthread_mutex_unlock(&T->lock);
    return rc;
}

static fv_err op_state_keys(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                            fv_state_key_list *out, fv_error *err)
{
    fv__mem_tasks *T = self;
    fv_err rc = FV_OK;
    pthread_mutex_lock(&T->lock);
    const mtask *mt = task_find_in(T, tenant, id);
    if (mt == NULL) {
        rc = not_found(err, id);
        goto done;
    }
    const char **keys = fv_arena_calloc(a, mt->nst + 1, sizeof *keys);
    if (keys == NULL) {
        rc = exhausted(err);
        goto done;
    }
    for (size_t i = 0; i < mt->nst; i++) {
        keys[i] = fv_arena_strdup(a, mt->st[i].key);
        if (keys[i] == NULL) {
            rc = exhausted(err);
            goto done;
        }
    }
    *out = (fv_state_key_list){keys, mt->nst};
done:
    pthread_mutex_unlock(&T->lock);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Backlog and jobs                                                          */
/* ------------------------------------------------------------------------ */

static int kind_cmp(const void *x, const void *y)
{
    const mkind *a = *(const mkind *const *)x;
    const mkind *b = *(const mkind *const *)y;
    int c = fv_uuid_cmp(&a->tenant, &b->tenant);
    return c != 0 ? c : strcmp(a->kind, b->kind);
}

static fv_err op_backlog(void *self, fv_arena *a, const fv_uuid *tenant, fv_task_backlog_list *out,
                         fv_error *err)
{
    fv__mem_tasks *T = self;
    fv_err rc = FV_OK;
    pthread_mutex_lock(&T->lock);
    const mkind **ks = fv_arena_calloc(a, T->kinds.n + 1, sizeof *ks);
    if (ks == NULL) {
        rc = exhausted(err);
        goto done;
    }
    size_t n = 0;
    for (size_t i = 0; i < T->kinds.cap; i++) {
        const mkind *k = T->kinds.slots[i].p;
        if (k == NULL || k->pending.n == 0)
            continue;
        if (tenant != NULL && !fv_uuid_eq(&k->tenant, tenant))
            continue;
        ks[n++] = k;
    }
    qsort(ks, n, sizeof *ks, kind_cmp);
    fv_task_backlog_list l = {fv_arena_calloc(a, n + 1, sizeof(fv_task_backlog)), n};
    if (l.items == NULL) {
        rc = exhausted(err);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const mtask *oldest = heap_top(&ks[i]->pending);
        l.items[i].tenant_id = ks[i]->tenant;
        l.items[i].kind = fv_arena_strdup(a, ks[i]->kind);
        l.items[i].pending = (int64_t)ks[i]->pending.n;
        l.items[i].oldest_created_at = oldest->t.created_at;
        if (l.items[i].kind == NULL) {
            rc = exhausted(err);
            goto done;
        }
    }
    *out = l;
done:
    pthread_mutex_unlock(&T->lock);
    return rc;
}

/* Copy a list of task pointers into an fv_task_list in the arena. */
/* v holds mtask pointers stored as void * (an fv__mem_vec's entries). */
static bool tasks_copy(fv_arena *a, void *const *v, size_t n, fv_task_list *out)
{
    fv_task_list l = {fv_arena_calloc(a, n + 1, sizeof(fv_task)), 0, 0};
    if (l.items == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        const mtask *mt = v[i];
        if (!mtask_copy(a, mt, &l.items[i]))
            return false;
    }
    l.n = n;
    l.total = (int64_t)n;
    *out = l;
    return true;
}

/* The RUNNING tasks whose deadline is <= now: the part of the heap above
 * the first later entry of each branch. */
static bool collect_expired(const mheap *h, size_t i, fv_time now, fv__mem_vec *acc)
{
    if (i >= h->n || h->v[i].key > now)
        return true;
    if (!fv__mem_vec_reserve(acc, 1))
        return false;
    acc->v[acc->n++] = h->v[i].rec;
    return collect_expired(h, 2 * i + 1, now, acc) && collect_expired(h, 2 * i + 2, now, acc);
}

static int started_cmp(const void *x, const void *y)
{
    const mtask *ma = *(void *const *)x; /* entries of an fv__mem_vec */
    const mtask *mb = *(void *const *)y;
    const fv_task *a = &ma->t;
    const fv_task *b = &mb->t;
    if (a->started_at != b->started_at)
        return a->started_at < b->started_at ? -1 : 1;
    return fv_uuid_cmp(&a->id, &b->id);
}

static fv_err op_expired_attempts(void *self, fv_arena *a, fv_time now, size_t limit,
                                  fv_task_list *out, fv_error *err)
{
    fv__mem_tasks *T = self;
    fv_err rc = FV_OK;
    fv__mem_vec acc = {NULL, 0, 0};
    pthread_mutex_lock(&T->lock);
    if (!collect_expired(&T->running, 0, now, &acc)) {
        rc = exhausted(err);
        goto done;
    }
    if (acc.n > 0)
        qsort(acc.v, acc.n, sizeof *acc.v, started_cmp);
    if (!tasks_copy(a, acc.v, acc.n < limit ? acc.n : limit, out))
        rc = exhausted(err);
done:
    pthread_mutex_unlock(&T->lock);
    fv__mem_vec_release(&acc);
    return rc;
}

static int holder_cmp(const void *x, const void *y)
{
    const fv_task_holder *a = x;
    const fv_task_holder *b = y;
    int c = fv_uuid_cmp(&a->tenant_id, &b->tenant_id);
    return c != 0 ? c : fv_uuid_cmp(&a->worker_uuid, &b->worker_uuid);
}

static fv_err op_holders(void *self, fv_arena *a, fv_task_holder_list *out, fv_error *err)
{
    fv__mem_tasks *T = self;
    fv_err rc = FV_OK;
    pthread_mutex_lock(&T->lock);
    fv_task_holder_list l = {fv_arena_calloc(a, T->holders.n + 1, sizeof(fv_task_holder)), 0};
    if (l.items == NULL) {
        rc = exhausted(err);
        goto done;
    }
    for (size_t i = 0; i < T->holders.cap; i++) {
        const mholder *h = T->holders.slots[i].p;
        if (h == NULL)
            continue;
        l.items[l.n].tenant_id = h->tenant;
        l.items[l.n].worker_uuid = h->worker;
        l.n++;
    }
    qsort(l.items, l.n, sizeof *l.items, holder_cmp);
    *out = l;
done:
    pthread_mutex_unlock(&T->lock);
    return rc;
}

static fv_err op_held_by(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *worker_uuid,
                         size_t limit, fv_task_list *out, fv_error *err)
{
    fv__mem_tasks *T = self;
    fv_err rc = FV_OK;
    pthread_mutex_lock(&T->lock);
    const mholder *h = holder_find(T, tenant, worker_uuid, holder_hash(tenant, worker_uuid));
    size_t n = h != NULL ? (h->n < limit ? h->n : limit) : 0;
    fv_task_list l = {fv_arena_calloc(a, n + 1, sizeof(fv_task)), 0, 0};
    if (l.items == NULL) {
        rc = exhausted(err);
        goto done;
    }
    const mtask *mt = h != NULL ? h->head : NULL;
    for (size_t i = 0; i < n; i++, mt = mt->hnext) {
        if (!mtask_copy(a, mt, &l.items[i])) {
            rc = exhausted(err);
            goto done;
        }
    }
    l.n = n;
    l.total = (int64_t)n;
    *out = l;
done:
    pthread_mutex_unlock(&T->lock);
    return rc;
}

static fv_err op_expire_idempotency_keys(void *self, fv_time now, int64_t *removed, fv_error *err)
{
    fv__mem_tasks *T = self;
    (void)err;
    int64_t n = 0;
    pthread_mutex_lock(&T->lock);
    for (;;) {
        mbinding *b = heap_top(&T->expiry);
        if (b == NULL || b->expires_at > now)
            break;
        heap_remove(&T->expiry, b->hpos);
        fv__mem_map_remove(&T->bindings, b->hash, b);
        fv_free(b);
        n++;
    }
    pthread_mutex_unlock(&T->lock);
    *removed = n;
    return FV_OK;
}

/* ------------------------------------------------------------------------ */
/* The tables                                                                */
/* ------------------------------------------------------------------------ */

fv__mem_tasks *fv__mem_tasks_new(void)
{
    fv__mem_tasks *T = fv_calloc(1, sizeof *T);
    if (T == NULL)
        return NULL;
    if (pthread_mutex_init(&T->lock, NULL) != 0) {
        fv_free(T);
        return NULL;
    }
    return T;
}

static void free_task(void *p)
{
    task_free(p);
}

static void free_queue(void *p)
{
    queue_free(p);
}

static void free_kind(void *p)
{
    kind_free(p);
}

static void free_tenant(void *p)
{
    tenant_free(p);
}

void fv__mem_tasks_free(fv__mem_tasks *T)
{
    if (T == NULL)
        return;
    fv__mem_map_free_all(&T->by_id, free_task);
    fv__mem_map_free_all(&T->tenants, free_tenant);
    fv__mem_map_free_all(&T->queues, free_queue);
    fv__mem_map_free_all(&T->kinds, free_kind);
    fv__mem_map_free_all(&T->holders, fv_free);
    fv__mem_map_free_all(&T->bindings, fv_free);
    heap_release(&T->running);
    heap_release(&T->expiry);
    pthread_mutex_destroy(&T->lock);
    fv_free(T);
}

static const fv_task_repo_ops task_ops = {
    .submit = op_submit,
    .get = op_get,
    .list = op_list,
    .claim = op_claim,
    .end_attempt = op_end_attempt,
    .cancel = op_cancel,
    .heartbeat = op_heartbeat,
    .report_progress = op_report_progress,
    .append_event = op_append_event,
    .events = op_events,
    .attempts = op_attempts,
    .logs = op_logs,
    .state_get = op_state_get,
    .state_set = op_state_set,
    .state_clear = op_state_clear,
    .state_clear_all = op_state_clear_all,
    .state_keys = op_state_keys,
    .backlog = op_backlog,
    .expired_attempts = op_expired_attempts,
    .holders = op_holders,
    .held_by = op_held_by,
    .expire_idempotency_keys = op_expire_idempotency_keys,
};

fv_task_repo fv_mem_task_repo(fv_mem_store *s)
{
    return (fv_task_repo){&task_ops, s->tasks};
}
