/*
 * Internals of the in-memory store shared by the files of adapters/memory
 * (never included by another layer): the tables, the records they own, the
 * open-addressing hash maps and ordered arrays that index them, and the
 * copy helpers that move records into a caller's arena.
 *
 * Discipline of every op: take the lock, look up, allocate everything the
 * change needs (blocks, records, map and array room, the arena copies of the
 * answer), and only then mutate, in a commit phase that cannot fail. A
 * failure before the commit frees what it allocated and leaves the store as
 * it was.
 */
#ifndef FV_ADAPTERS_MEMORY_MEM_STORE_INT_H
#define FV_ADAPTERS_MEMORY_MEM_STORE_INT_H

#include <pthread.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "adapters/memory/mem_store.h"
#include "core/definition.h"
#include "core/tenant.h"
#include "core/types.h"
#include "core/util/arena.h"
#include "core/util/error.h"
#include "core/util/uuid.h"
#include "core/worker.h"

#define FV_MEM_DEFAULT_HISTORY 100

/* ------------------------------------------------------------------------ */
/* Hash maps: linear probing over (hash, pointer) slots, backward-shift      */
/* deletion, capacity a power of two, load factor at most 3/4. A map only    */
/* indexes records owned elsewhere; p == NULL marks an empty slot.           */
/* ------------------------------------------------------------------------ */

typedef struct fv__mem_slot {
    uint64_t h;
    void *p;
} fv__mem_slot;

typedef struct fv__mem_map {
    fv__mem_slot *slots;
    size_t cap; /* 0 or a power of two */
    size_t n;
} fv__mem_map;

/* Make room for `extra` more entries (may rehash; the content is unchanged).
 * False when memory runs out, the map then being as it was. */
bool fv__mem_map_reserve(fv__mem_map *m, size_t extra);
/* Insert p under h; room must have been reserved. */
void fv__mem_map_insert(fv__mem_map *m, uint64_t h, void *p);
/* Remove the entry holding exactly p (stored under h); no-op when absent. */
void fv__mem_map_remove(fv__mem_map *m, uint64_t h, const void *p);
void fv__mem_map_release(fv__mem_map *m);
/* Free every record the map holds with fn, then the map. */
void fv__mem_map_free_all(fv__mem_map *m, void (*fn)(void *));

/* The first record under h that `eq` accepts, or NULL. Inline so that the
 * hot lookups (worker by id) compile to a tight loop. */
static inline void *fv__mem_map_find(const fv__mem_map *m, uint64_t h,
                                     bool (*eq)(const void *rec, const void *key), const void *key)
{
    if (m->cap == 0)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        const fv__mem_slot *s = &m->slots[i];
        if (s->p == NULL)
            return NULL;
        if (s->h == h && eq(s->p, key))
            return s->p;
    }
}

/* Hashing of composite keys: a 64-bit FNV-1a stream with a final mix. */
static inline uint64_t fv__mem_hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001B3ULL;
    }
    return h;
}

/* Strings hash with their terminating NUL, and NULL differently from "". */
static inline uint64_t fv__mem_hash_str(uint64_t h, const char *s)
{
    if (s == NULL)
        return fv__mem_hash_bytes(h, "\xff", 1);
    return fv__mem_hash_bytes(h, s, strlen(s) + 1);
}

static inline uint64_t fv__mem_hash_uuid(uint64_t h, const fv_uuid *u)
{
    return fv__mem_hash_bytes(h, u->b, sizeof u->b);
}

static inline uint64_t fv__mem_hash_space(uint64_t h, const fv_opt_uuid *sp)
{
    if (!sp->has)
        return fv__mem_hash_bytes(h, "\xfe", 1);
    return fv__mem_hash_uuid(fv__mem_hash_bytes(h, "\x01", 1), &sp->id);
}

#define FV__MEM_HASH_SEED 0xCBF29CE484222325ULL

static inline uint64_t fv__mem_hash_final(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 33;
    return h;
}

static inline bool fv__mem_streq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* ------------------------------------------------------------------------ */
/* Growable arrays of pointers (ordered indexes, link lists).                */
/* ------------------------------------------------------------------------ */

typedef struct fv__mem_vec {
    void **v;
    size_t n;
    size_t cap;
} fv__mem_vec;

/* Room for n + extra elements of `size` bytes in the array v of capacity
 * *cap, doubling from `first`: every growable array of the adapter (pointer
 * vectors, heaps, a task's events, attempts and state) grows through here.
 * Returns the array to keep (v itself when it had room) and updates *cap;
 * NULL on OOM or overflow, v and *cap then unchanged. extra must be > 0. */
void *fv__mem_grow(void *v, size_t size, size_t n, size_t extra, size_t *cap, size_t first);

/* Room for `extra` more pointers; false (vector unchanged) on OOM. */
bool fv__mem_vec_reserve(fv__mem_vec *v, size_t extra);
/* Insert at pos (room reserved); later entries move up. */
void fv__mem_vec_insert(fv__mem_vec *v, size_t pos, void *p);
/* Remove at pos; later entries move down. */
void fv__mem_vec_remove(fv__mem_vec *v, size_t pos);
void fv__mem_vec_release(fv__mem_vec *v);

/* ------------------------------------------------------------------------ */
/* Packing: a record's strings and JSON in one block. Run a pack function    */
/* once with base == NULL to measure, allocate `off` bytes, run it again.   */
/* ------------------------------------------------------------------------ */

typedef struct fv__mem_pack {
    char *base; /* NULL while measuring */
    size_t off;
} fv__mem_pack;

static inline void *fv__mem_pack_raw(fv__mem_pack *k, const void *src, size_t n, size_t align)
{
    k->off = (k->off + align - 1) & ~(align - 1);
    void *dst = k->base != NULL ? k->base + k->off : NULL;
    if (dst != NULL && src != NULL && n > 0)
        memcpy(dst, src, n);
    /* A zero-length value still gets a byte, so its pointer is inside. */
    k->off += n > 0 ? n : 1;
    return dst;
}

static inline const char *fv__mem_pack_str(fv__mem_pack *k, const char *s)
{
    if (s == NULL)
        return NULL;
    return fv__mem_pack_raw(k, s, strlen(s) + 1, 1);
}

static inline fv_json fv__mem_pack_json(fv__mem_pack *k, fv_json j)
{
    if (j.p == NULL)
        return FV_JSON_NONE;
    return (fv_json){fv__mem_pack_raw(k, j.p, j.n, 1), j.n};
}

static inline fv_tags fv__mem_pack_tags(fv__mem_pack *k, fv_tags t)
{
    if (t.n == 0 || t.v == NULL)
        return (fv_tags){NULL, 0};
    const char **v = fv__mem_pack_raw(k, NULL, t.n * sizeof *v, alignof(const char *));
    for (size_t i = 0; i < t.n; i++) {
        const char *s = fv__mem_pack_str(k, t.v[i]);
        if (v != NULL)
            v[i] = s;
    }
    return (fv_tags){v, t.n};
}

/* ------------------------------------------------------------------------ */
/* Records                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct fv__mem_worker fv__mem_worker;
typedef struct fv__mem_def fv__mem_def;

/* A capability link worker -> definition: one block, strings inline. */
typedef struct fv__mem_link {
    fv__mem_worker *w;
    fv__mem_def *d;
    size_t def_pos; /* index in d->links */
    fv_time registered_at;
    const char *version;      /* workflows */
    const char *content_hash; /* workflows */
} fv__mem_link;

typedef struct fv__mem_status_entry {
    fv_worker_status from;
    fv_worker_status to;
    fv_time at;
    char *reason; /* owned; NULL when none */
} fv__mem_status_entry;

struct fv__mem_worker {
    fv_worker w;  /* strings point into block, health_info into health */
    void *block;  /* name, version, host_name, process_id, metadata */
    char *health; /* buffer of the last health info, reused */
    size_t health_cap;
    fv__mem_link **links; /* sorted by class, then kind */
    size_t n_links;
    int64_t n_workflows;
    int64_t n_tasks;
    fv__mem_status_entry *hist; /* ring of status_history_max, allocated lazily */
    size_t hist_start;
    size_t hist_n;
    uint64_t id_hash;
    uint64_t ident_hash;
};

struct fv__mem_def {
    fv_definition d;    /* strings point into kind, decl, conf and latest */
    void *decl;         /* name, description, declared.tags, metadata, schemas */
    void *conf;         /* configured.tags; NULL when none */
    char *latest;       /* d.latest_version */
    fv__mem_vec links;  /* fv__mem_link *, unordered */
    int64_t n_online;   /* linked workers stored ONLINE */
    int64_t n_degraded; /* linked workers stored DEGRADED */
    uint64_t id_hash;
    uint64_t key_hash;
    char kind[]; /* d.kind */
};

typedef struct fv__mem_hb_entry {
    fv_time at;
    bool has_health;
    char *health; /* buffer kept for reuse across the ring */
    size_t health_n;
    size_t health_cap;
} fv__mem_hb_entry;

typedef struct fv__mem_hb {
    fv_uuid worker_id;
    uint64_t hash;
    size_t cap;   /* heartbeat_history_max */
    size_t start; /* oldest entry */
    size_t n;
    fv__mem_hb_entry e[];
} fv__mem_hb;

typedef struct fv__mem_tenant {
    fv_tenant t;
    uint64_t id_hash;
    uint64_t slug_hash;
} fv__mem_tenant;

typedef struct fv__mem_space {
    fv_space s;
    uint64_t id_hash;
    uint64_t slug_hash;
} fv__mem_space;

typedef struct fv__mem_key {
    fv_api_key k;
    uint64_t seq; /* insertion order, for "oldest first" among equal times */
    uint64_t id_hash;
    uint64_t prefix_hash;
} fv__mem_key;

/* The definition repository of one class is a view of the store. */
typedef struct fv__mem_def_view {
    fv_mem_store *s;
    fv_def_class cls;
} fv__mem_def_view;

/* The task tables (mem_tasks.c), opaque to the other files. They have a lock
 * of their own; task ops never take the store's rwlock. */
typedef struct fv__mem_tasks fv__mem_tasks;

/* Empty task tables; NULL when memory runs out. */
fv__mem_tasks *fv__mem_tasks_new(void);
/* Free the tables and every task, event, attempt, state entry and binding
 * they hold. NULL-safe. */
void fv__mem_tasks_free(fv__mem_tasks *t);

struct fv_mem_store {
    pthread_rwlock_t lock;
    size_t heartbeat_history_max;
    size_t status_history_max;

    fv__mem_map workers_by_id;    /* fv__mem_worker */
    fv__mem_map workers_by_ident; /* fv__mem_worker by (tenant, space, name, host, pid) */
    fv__mem_vec worker_order;     /* fv__mem_worker by (tenant, name, id) */

    fv__mem_map defs_by_id;   /* fv__mem_def, both classes */
    fv__mem_map defs_by_key;  /* fv__mem_def by (tenant, space, class, kind) */
    fv__mem_vec def_order[2]; /* per class: by (tenant, kind, tenant level first, id) */
    fv__mem_def_view def_views[2];

    fv__mem_map heartbeats; /* fv__mem_hb by worker id */

    fv__mem_map tenants_by_id;
    fv__mem_map tenants_by_slug;
    fv__mem_map spaces_by_id;
    fv__mem_map spaces_by_slug; /* by (tenant, slug) */
    fv__mem_map keys_by_id;
    fv__mem_map keys_by_prefix;
    fv__mem_vec keys; /* fv__mem_key in insertion order */
    uint64_t key_seq;

    fv__mem_tasks *tasks; /* task executions (mem_tasks.c), under their own mutex */
};

static inline void fv__mem_rdlock(fv_mem_store *s)
{
    pthread_rwlock_rdlock(&s->lock);
}

static inline void fv__mem_wrlock(fv_mem_store *s)
{
    pthread_rwlock_wrlock(&s->lock);
}

static inline void fv__mem_unlock(fv_mem_store *s)
{
    pthread_rwlock_unlock(&s->lock);
}

static inline size_t fv__mem_class_index(fv_def_class cls)
{
    return cls == FV_DEF_WORKFLOW ? 0 : 1;
}

/* ------------------------------------------------------------------------ */
/* Shared helpers (mem_store.c, mem_workers.c, mem_definitions.c)           */
/* ------------------------------------------------------------------------ */

fv_err fv__mem_exhausted(fv_error *err);
fv_err fv__mem_worker_not_found(fv_error *err, const fv_uuid *id);

/* Page bounds [*from, *to) of `total` matches; negative values act as 0. */
void fv__mem_page_bounds(fv_page page, int64_t total, int64_t *from, int64_t *to);

/* The worker `id` (any tenant), or NULL. */
fv__mem_worker *fv__mem_worker_find(const fv_mem_store *s, const fv_uuid *id);
/* The worker `id` of `tenant`, or NULL. */
fv__mem_worker *fv__mem_worker_find_in(const fv_mem_store *s, const fv_uuid *tenant,
                                       const fv_uuid *id);

/* Copy a worker (strings, JSON, link counts) into the arena; effective_status
 * is set to the stored status. False when the arena is full. */
bool fv__mem_worker_copy(fv_arena *a, const fv__mem_worker *mw, fv_worker *out);

/* Copy a definition with all its strings into the arena. */
bool fv__mem_definition_copy(fv_arena *a, const fv_definition *src, fv_definition *out);

/* Effective availability and live worker count of a definition at `now`. */
void fv__mem_def_derive(const fv__mem_def *d, fv_time now, const fv_liveness *l,
                        fv_availability *avail, int64_t *count);

/* Stored availability from the counters; true when it changed. */
bool fv__mem_def_refresh(fv__mem_def *d);

/* Counters of a definition as a linked worker's stored status moves. */
void fv__mem_def_count(fv__mem_def *d, fv_worker_status st, int64_t delta);

/* Add a link to its definition (room reserved) / take it out. */
void fv__mem_def_attach(fv__mem_link *l);
void fv__mem_def_detach(fv__mem_link *l);

/* The definition of (tenant, space, class, kind), or NULL. */
fv__mem_def *fv__mem_def_find(const fv_mem_store *s, const fv_uuid *tenant,
                              const fv_opt_uuid *space, fv_def_class cls, const char *kind);
/* The definition `id` (any class and tenant), or NULL. */
fv__mem_def *fv__mem_def_find_id(const fv_mem_store *s, const fv_uuid *id);
uint64_t fv__mem_def_key_hash(const fv_uuid *tenant, const fv_opt_uuid *space, fv_def_class cls,
                              const char *kind);

/* Position of d in its class order (insertion point when absent). */
size_t fv__mem_def_order_pos(const fv__mem_vec *order, const fv__mem_def *d);

void fv__mem_def_free(fv__mem_def *d);
void fv__mem_worker_free(fv__mem_worker *mw);
void fv__mem_hb_free(fv__mem_hb *hb);

/* Compare workers by name, then id (list order). */
int fv__mem_worker_cmp_name_id(const fv_worker *a, const fv_worker *b);

#endif
