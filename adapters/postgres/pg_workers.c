/* The worker repository on Postgres (ports/worker_repo.h): workers, their
 * capability links and status history, and registration as one
 * transaction, on the queries of queries/workers.sql.
 *
 * Signs of life are buffered, not written one by one: a touch records the
 * newest times and health of the worker in memory (latest wins, times never
 * move back) and fv__pg_touches_flush writes every buffered worker with one
 * statement (FlushTouches) in a transaction of its own: the store's flusher
 * (pg_heartbeats.c) calls it every `flush_ms`, before the heartbeat
 * history, and on fv_pg_store_flush and fv_pg_store_free. So a heartbeat
 * costs no commit of its own.
 *
 * What still holds:
 * - NOT_FOUND is decided at once: a touch checks the worker against a cache
 *   of known (tenant, worker) pairs, filled by registrations and by one
 *   indexed SELECT (WorkerExists) on a miss, emptied of a worker when this
 *   store removes it (remove, retention) and when a flush finds the row gone
 *   (removed by another replica: NOT_FOUND from that flush on, at most one
 *   flush interval late; the heartbeats of that window are dropped with
 *   their history).
 * - Reads of this repository see the buffer at once: get, linked workers,
 *   registration peers and a list without status filter patch the rows
 *   they read (a touch changes neither the page nor the total); the ops
 *   whose SQL decides on last_seen_at or health (a status filter with its
 *   total, scan for the jobs, count_by_status, remove_offline) flush the
 *   buffer first (nothing to do when it is empty), so stale detection never
 *   takes a worker for silent because its touch waited here, and retention
 *   never removes a worker that a buffered touch keeps alive. Passing the
 *   buffer to those queries instead was measured: the join keeps
 *   PostgreSQL from paging by index and costs 3 to 10 times the query.
 * - Other processes, and the definition repository (which derives
 *   availability from the stored rows), see a touch within one flush
 *   interval; a clean shutdown writes it; a failed flush keeps it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/postgres/pg_store_int.h"
#include "core/util/alloc.h"
#include "core/util/semver.h"
#include "db_heartbeats.h"
#include "db_workers.h"

/* ------------------------------------------------------------------------ */
/* Buffered signs of life and the cache of known workers                     */
/* ------------------------------------------------------------------------ */

/* The key every map entry starts with. */
typedef struct map_key {
    fv_uuid id;
    bool used;
} map_key;

/* Open addressing over inline entries of `esz` bytes starting with a
 * map_key: linear probing, power-of-two capacity, at most 3/4 full,
 * backward-shift deletion (no tombstones). */
typedef struct umap {
    unsigned char *slots;
    size_t esz, cap, n;
} umap;

static map_key *key_at(const umap *m, size_t i)
{
    return (map_key *)(void *)(m->slots + i * m->esz);
}

static size_t home_of(const umap *m, const fv_uuid *id)
{
    return (size_t)fv_uuid_hash(id) & (m->cap - 1);
}

static void *map_find(const umap *m, const fv_uuid *id)
{
    if (m->cap == 0)
        return NULL;
    for (size_t i = home_of(m, id);; i = (i + 1) & (m->cap - 1)) {
        map_key *k = key_at(m, i);
        if (!k->used)
            return NULL;
        if (fv_uuid_eq(&k->id, id))
            return k;
    }
}

/* Room for one more entry; false (map unchanged) when memory runs out. */
static bool map_reserve(umap *m)
{
    if (m->cap != 0 && m->n + 1 <= m->cap / 4 * 3)
        return true;
    size_t cap = m->cap != 0 ? m->cap * 2 : 64;
    unsigned char *slots = fv_calloc(cap, m->esz);
    if (slots == NULL)
        return false;
    umap grown = {slots, m->esz, cap, m->n};
    for (size_t i = 0; i < m->cap; i++) {
        map_key *k = key_at(m, i);
        if (!k->used)
            continue;
        size_t j = home_of(&grown, &k->id);
        while (key_at(&grown, j)->used)
            j = (j + 1) & (cap - 1);
        memcpy(key_at(&grown, j), k, m->esz);
    }
    fv_free(m->slots);
    *m = grown;
    return true;
}

/* A zeroed entry for id (not in the map; map_reserve succeeded). */
static void *map_insert(umap *m, const fv_uuid *id)
{
    size_t i = home_of(m, id);
    while (key_at(m, i)->used)
        i = (i + 1) & (m->cap - 1);
    map_key *k = key_at(m, i);
    memset(k, 0, m->esz);
    k->id = *id;
    k->used = true;
    m->n++;
    return k;
}

/* Remove the entry `e` points to (its owned memory already released). */
static void map_delete(umap *m, void *e)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)((unsigned char *)e - m->slots) / m->esz;
    for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
        map_key *k = key_at(m, j);
        if (!k->used)
            break;
        /* The entry at j may fill the hole at i unless its home lies in
         * the cyclic range (i, j]. */
        size_t h = home_of(m, &k->id);
        bool stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
        if (!stays) {
            memcpy(key_at(m, i), k, m->esz);
            i = j;
        }
    }
    memset(key_at(m, i), 0, m->esz);
    m->n--;
}

/* The buffered signs of life of one worker. */
typedef struct touch_entry {
    map_key k;
    bool has_heartbeat;
    bool degraded;
    fv_uuid tenant;
    fv_time seen;
    fv_time heartbeat_at;
    char *health; /* owned; NULL: the last heartbeat carried none */
    size_t health_n;
    uint64_t stamp; /* changes with every touch (the flush drops what it wrote) */
} touch_entry;

/* A worker known to exist in a tenant. */
typedef struct known_entry {
    map_key k;
    fv_uuid tenant;
} known_entry;

/* The cache is bounded: past this many workers it starts again empty (a
 * miss costs one indexed read). */
#define KNOWN_MAX ((size_t)1 << 16)

struct fv__pg_touches {
    pthread_mutex_t flush_mu; /* one flush of this buffer at a time */
    pthread_mutex_t mu;       /* guards everything below; held for memory work only */
    umap buf;                 /* touch_entry */
    umap known;               /* known_entry */
    uint64_t stamp;
    /* Bumped by every removal: a cache fill decided on a read made before
     * a removal is not trusted. */
    uint64_t removals;
};

fv_err fv__pg_touches_new(fv_pg_store *s, fv_error *err)
{
    fv__pg_touches *t = fv_calloc(1, sizeof *t);
    if (t == NULL)
        return fv__pg_exhausted(err);
    if (pthread_mutex_init(&t->mu, NULL) != 0) {
        fv_free(t);
        return fv_error_set(err, FV_E_EXHAUSTED, "could not create a mutex");
    }
    if (pthread_mutex_init(&t->flush_mu, NULL) != 0) {
        pthread_mutex_destroy(&t->mu);
        fv_free(t);
        return fv_error_set(err, FV_E_EXHAUSTED, "could not create a mutex");
    }
    t->buf.esz = sizeof(touch_entry);
    t->known.esz = sizeof(known_entry);
    s->touches = t;
    return FV_OK;
}

void fv__pg_touches_free(fv_pg_store *s)
{
    fv__pg_touches *t = s->touches;
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->buf.cap; i++) {
        touch_entry *e = (touch_entry *)(void *)key_at(&t->buf, i);
        if (e->k.used)
            fv_free(e->health);
    }
    fv_free(t->buf.slots);
    fv_free(t->known.slots);
    pthread_mutex_destroy(&t->flush_mu);
    pthread_mutex_destroy(&t->mu);
    fv_free(t);
    s->touches = NULL;
}

size_t fv__pg_touches_pending(fv_pg_store *s)
{
    fv__pg_touches *t = s->touches;
    pthread_mutex_lock(&t->mu);
    size_t n = t->buf.n;
    pthread_mutex_unlock(&t->mu);
    return n;
}

static bool known_locked(const fv__pg_touches *t, const fv_uuid *tenant, const fv_uuid *id)
{
    const known_entry *e = map_find(&t->known, id);
    return e != NULL && fv_uuid_eq(&e->tenant, tenant);
}

/* Best effort: a cache that cannot grow only costs reads. */
static void known_put_locked(fv__pg_touches *t, const fv_uuid *tenant, const fv_uuid *id)
{
    known_entry *e = map_find(&t->known, id);
    if (e == NULL) {
        if (t->known.n >= KNOWN_MAX) {
            memset(t->known.slots, 0, t->known.cap * t->known.esz);
            t->known.n = 0;
        }
        if (!map_reserve(&t->known))
            return;
        e = map_insert(&t->known, id);
    }
    e->tenant = *tenant;
}

/* Drop the buffered touch of a worker (nothing to drop is fine). */
static void unbuffer_locked(fv__pg_touches *t, const fv_uuid *id)
{
    touch_entry *e = map_find(&t->buf, id);
    if (e != NULL) {
        fv_free(e->health);
        map_delete(&t->buf, e);
    }
}

/* A worker is gone: NOT_FOUND from now on, its buffered touch dropped. */
static void forget_locked(fv__pg_touches *t, const fv_uuid *id)
{
    known_entry *k = map_find(&t->known, id);
    if (k != NULL)
        map_delete(&t->known, k);
    unbuffer_locked(t, id);
    t->removals++;
}

/* Buffer a sign of life (the worker exists). Takes *health (owned) when the
 * heartbeat is the newest of the entry. FV_E_EXHAUSTED changes nothing. */
static fv_err buffer_locked(fv__pg_touches *t, const fv_uuid *tenant, const fv_uuid *id,
                            fv_sign_of_life kind, fv_time now, char **health, size_t health_n,
                            bool degraded, fv_error *err)
{
    touch_entry *e = map_find(&t->buf, id);
    if (e == NULL) {
        if (!map_reserve(&t->buf))
            return fv__pg_exhausted(err);
        e = map_insert(&t->buf, id);
        e->tenant = *tenant;
        e->seen = now;
    } else if (now > e->seen) {
        e->seen = now;
    }
    if (kind == FV_SIGN_HEARTBEAT && (!e->has_heartbeat || now >= e->heartbeat_at)) {
        fv_free(e->health);
        e->has_heartbeat = true;
        e->heartbeat_at = now;
        e->health = *health;
        e->health_n = health_n;
        e->degraded = degraded;
        *health = NULL;
    }
    e->stamp = ++t->stamp;
    return FV_OK;
}

/* What a buffered touch changes in a worker read from the table (the rules
 * of FlushTouches: times never move back; the health of a heartbeat counts
 * unless the row holds a newer heartbeat or a registration at the same
 * time or later). */
static fv_err patch_worker(fv_arena *a, fv_worker *w, fv_time seen, bool has_heartbeat,
                           fv_time heartbeat_at, const char *health, size_t health_n, bool degraded,
                           fv_error *err)
{
    if (seen > w->last_seen_at)
        w->last_seen_at = seen;
    if (!has_heartbeat || heartbeat_at < w->last_heartbeat_at)
        return FV_OK;
    w->last_heartbeat_at = heartbeat_at;
    if (heartbeat_at <= w->registered_at)
        return FV_OK;
    w->health_degraded = degraded;
    w->health_info = FV_JSON_NONE;
    if (health != NULL) {
        char *copy = fv_arena_strndup(a, health, health_n);
        if (copy == NULL)
            return fv__pg_exhausted(err);
        w->health_info = (fv_json){copy, health_n};
    }
    return FV_OK;
}

/* Patch `n` workers (each `stride` bytes after the previous one) from the
 * buffer. */
static fv_err patch_from_buffer(fv_pg_store *s, fv_arena *a, fv_worker *first, size_t n,
                                size_t stride, fv_error *err)
{
    fv__pg_touches *t = s->touches;
    fv_err rc = FV_OK;
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < n && rc == FV_OK && t->buf.n > 0; i++) {
        fv_worker *w = (fv_worker *)(void *)((unsigned char *)first + i * stride);
        const touch_entry *e = map_find(&t->buf, &w->id);
        if (e != NULL && fv_uuid_eq(&e->tenant, &w->tenant_id))
            rc = patch_worker(a, w, e->seen, e->has_heartbeat, e->heartbeat_at, e->health,
                              e->health_n, e->degraded, err);
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

/* A copy of the buffer taken by one flush, in the flush's arena. */
typedef struct touch_batch {
    size_t n;
    fv_uuid *ids;
    int64_t *seen;
    int64_t *heartbeat_at;
    bool *has_heartbeat;
    const char **health; /* NULL: none */
    bool *degraded;
    uint64_t *stamps; /* the version of each entry copied */
    /* Filled by write_touches: workers no longer in the table. */
    fv_uuid *vanished;
    size_t n_vanished;
} touch_batch;

/* Copy what is buffered (nothing leaves the buffer yet). */
static fv_err take(fv_pg_store *s, fv_arena *a, touch_batch *b, fv_error *err)
{
    fv__pg_touches *t = s->touches;
    memset(b, 0, sizeof *b);
    fv_err rc = FV_OK;
    pthread_mutex_lock(&t->mu);
    size_t n = t->buf.n;
    if (n > 0 && ((b->ids = fv_arena_calloc(a, n, sizeof *b->ids)) == NULL ||
                  (b->seen = fv_arena_calloc(a, n, sizeof *b->seen)) == NULL ||
                  (b->heartbeat_at = fv_arena_calloc(a, n, sizeof *b->heartbeat_at)) == NULL ||
                  (b->has_heartbeat = fv_arena_calloc(a, n, sizeof *b->has_heartbeat)) == NULL ||
                  (b->health = fv_arena_calloc(a, n, sizeof *b->health)) == NULL ||
                  (b->degraded = fv_arena_calloc(a, n, sizeof *b->degraded)) == NULL ||
                  (b->stamps = fv_arena_calloc(a, n, sizeof *b->stamps)) == NULL ||
                  (b->vanished = fv_arena_calloc(a, n, sizeof *b->vanished)) == NULL))
        rc = fv__pg_exhausted(err);
    size_t k = 0;
    for (size_t i = 0; rc == FV_OK && i < t->buf.cap; i++) {
        const touch_entry *e = (const touch_entry *)(void *)key_at(&t->buf, i);
        if (!e->k.used)
            continue;
        b->ids[k] = e->k.id;
        b->seen[k] = e->seen;
        b->heartbeat_at[k] = e->heartbeat_at;
        b->has_heartbeat[k] = e->has_heartbeat;
        b->degraded[k] = e->degraded;
        b->stamps[k] = e->stamp;
        if (e->health != NULL &&
            (b->health[k] = fv_arena_strndup(a, e->health, e->health_n)) == NULL)
            rc = fv__pg_exhausted(err);
        k++;
    }
    pthread_mutex_unlock(&t->mu);
    if (rc != FV_OK) {
        memset(b, 0, sizeof *b);
        return rc;
    }
    b->n = k;
    return FV_OK;
}

static int flushed_cmp(const void *x, const void *y)
{
    return fv_uuid_cmp(&((const fv_db_flush_touches_row *)x)->id,
                       &((const fv_db_flush_touches_row *)y)->id);
}

static fv_err write_touches(fv_pg_conn *c, fv_arena *a, touch_batch *b, fv_error *err)
{
    b->n_vanished = 0;
    if (b->n == 0)
        return FV_OK;
    fv_db_uuid_array ids = {b->ids, b->n};
    fv_db_int64_array seen = {b->seen, NULL, b->n};
    fv_db_int64_array hb = {b->heartbeat_at, b->has_heartbeat, b->n};
    fv_db_text_array health = {b->health, b->n};
    fv_db_bool_array degraded = {b->degraded, b->n};
    fv_db_flush_touches_params p = {.ids = &ids,
                                    .seen = &seen,
                                    .heartbeat_ats = &hb,
                                    .health_infos = &health,
                                    .health_degraded = &degraded};
    fv_db_flush_touches_row *rows;
    size_t n;
    fv_err rc = fv_db_flush_touches(c, a, &p, &rows, &n, err);
    if (rc != FV_OK || n == b->n)
        return rc;
    if (n > 1)
        qsort(rows, n, sizeof *rows, flushed_cmp);
    for (size_t i = 0; i < b->n; i++) {
        fv_db_flush_touches_row key = {b->ids[i]};
        if (n == 0 || bsearch(&key, rows, n, sizeof *rows, flushed_cmp) == NULL)
            b->vanished[b->n_vanished++] = b->ids[i];
    }
    return FV_OK;
}

static void done(fv_pg_store *s, const touch_batch *b)
{
    fv__pg_touches *t = s->touches;
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < b->n; i++) {
        touch_entry *e = map_find(&t->buf, &b->ids[i]);
        if (e != NULL && e->stamp == b->stamps[i]) {
            fv_free(e->health);
            map_delete(&t->buf, e);
        }
    }
    for (size_t i = 0; i < b->n_vanished; i++)
        forget_locked(t, &b->vanished[i]);
    pthread_mutex_unlock(&t->mu);
}

typedef struct flush_tx {
    fv_arena *a;
    touch_batch *b;
} flush_tx;

/* One statement for every buffered worker, and the history of the workers
 * it found removed. May run again when the transaction is retried. */
static fv_err flush_fn(fv_pg_conn *c, void *user, fv_error *err)
{
    flush_tx *t = user;
    fv_err rc = write_touches(c, t->a, t->b, err);
    if (rc == FV_OK && t->b->n_vanished > 0) {
        fv_db_uuid_array gone = {t->b->vanished, t->b->n_vanished};
        rc = fv_db_forget_heartbeats_of(c, t->a, &gone, err);
    }
    return rc;
}

fv_err fv__pg_touches_flush(fv_pg_store *s, fv_error *out)
{
    fv__pg_touches *t = s->touches;
    fv_error e, *err = &e;
    fv_error_clear(&e);
    /* One flush at a time: callers that queue behind one usually find the
     * buffer emptied by it (group commit). */
    pthread_mutex_lock(&t->flush_mu);
    if (fv__pg_touches_pending(s) == 0) {
        pthread_mutex_unlock(&t->flush_mu);
        return FV_OK;
    }
    fv_arena a;
    touch_batch b;
    memset(&b, 0, sizeof b);
    fv_err rc = fv__pg_scratch_init(&a, err);
    if (rc == FV_OK)
        rc = take(s, &a, &b, err);
    if (rc == FV_OK && b.n > 0) {
        flush_tx ft = {&a, &b};
        rc = fv_pg_tx(s->pool, false, flush_fn, &ft, err);
    }
    if (rc == FV_OK) {
        done(s, &b);
        fv__pg_hb_drop_buffered(s, b.vanished, b.n_vanished);
    } else {
        fv__pg_log(s, FV_PG_LOG_WARN,
                   "could not write the signs of life of %zu workers (kept for the next flush): "
                   "%s: %s",
                   b.n, fv_err_name(rc), e.msg);
    }
    fv_arena_release(&a);
    pthread_mutex_unlock(&t->flush_mu);
    if (rc != FV_OK && out != NULL)
        *out = e;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Rows                                                                      */
/* ------------------------------------------------------------------------ */

/* A worker as the port gives it (effective_status = the stored status);
 * strings point into the query's result, which lives in the caller's
 * arena. */
static fv_err worker_of(const fv_db_worker_v *r, fv_worker *w, fv_error *err)
{
    memset(w, 0, sizeof *w);
    w->id = r->id;
    w->tenant_id = r->tenant_id;
    w->space.has = r->space_id_valid;
    if (r->space_id_valid)
        w->space.id = r->space_id;
    w->name = r->worker_name;
    w->version = r->worker_version;
    if (!fv_worker_type_parse(r->worker_type, &w->type))
        return fv_error_set(err, FV_E_INTERNAL, "the database holds an unknown worker type");
    fv_err rc = fv__pg_parse_status(r->status, &w->status, err);
    if (rc != FV_OK)
        return rc;
    w->host_name = r->host_name;
    w->process_id = r->process_id;
    w->registered_at = r->registered_at;
    w->last_heartbeat_at = r->last_heartbeat_at;
    w->last_seen_at = r->last_seen_at;
    w->status_changed_at = r->status_changed_at;
    w->metadata = fv__pg_json_of(r->metadata);
    w->health_info = fv__pg_json_of(r->health_info);
    w->health_degraded = r->health_degraded;
    w->effective_status = w->status;
    w->workflow_kinds = r->workflow_kinds;
    w->task_kinds = r->task_kinds;
    return FV_OK;
}

/* ------------------------------------------------------------------------ */
/* Registration                                                              */
/* ------------------------------------------------------------------------ */

/* The declared capabilities of one class as the parameter arrays of its
 * statements, built once (before the transaction) in the caller's arena. */
typedef struct class_arrays {
    size_t n;
    fv_uuid *ids;
    const char **kinds;
    const char **names;
    const char **descriptions;
    int64_t *timeouts;
    bool *has_timeout;
    bool *cancellable;
    const char **metadata;
    const char **input_schemas;
    const char **output_schemas;
    const char **versions; /* workflows */
    const char **hashes;   /* workflows */
    bool *has_retry;
    int64_t *retry_max;
    bool *retry_max_ok;
    int64_t *retry_init;
    bool *retry_init_ok;
    double *retry_backoff;
    bool *retry_backoff_ok;
    int64_t *retry_max_delay;
    bool *retry_max_delay_ok;
    int64_t *tag_owner;
    const char **tag_value;
    size_t n_tags;
    /* Filled in the transaction: the id of each declared definition. */
    fv_uuid *def_ids;
} class_arrays;

#define ALLOC_N(a, p, n) ((p) = fv_arena_calloc((a), (n) ? (n) : 1, sizeof *(p))) == NULL

static bool arrays_build(fv_arena *a, const fv_capability *caps, const fv_uuid *fresh, size_t n,
                         class_arrays *x)
{
    memset(x, 0, sizeof *x);
    x->n = n;
    size_t tags = 0;
    for (size_t i = 0; i < n; i++)
        tags += caps[i].tags.n;
    if (ALLOC_N(a, x->ids, n) || ALLOC_N(a, x->kinds, n) || ALLOC_N(a, x->names, n) ||
        ALLOC_N(a, x->descriptions, n) || ALLOC_N(a, x->timeouts, n) ||
        ALLOC_N(a, x->has_timeout, n) || ALLOC_N(a, x->cancellable, n) ||
        ALLOC_N(a, x->metadata, n) || ALLOC_N(a, x->input_schemas, n) ||
        ALLOC_N(a, x->output_schemas, n) || ALLOC_N(a, x->versions, n) ||
        ALLOC_N(a, x->hashes, n) || ALLOC_N(a, x->has_retry, n) || ALLOC_N(a, x->retry_max, n) ||
        ALLOC_N(a, x->retry_max_ok, n) || ALLOC_N(a, x->retry_init, n) ||
        ALLOC_N(a, x->retry_init_ok, n) || ALLOC_N(a, x->retry_backoff, n) ||
        ALLOC_N(a, x->retry_backoff_ok, n) || ALLOC_N(a, x->retry_max_delay, n) ||
        ALLOC_N(a, x->retry_max_delay_ok, n) || ALLOC_N(a, x->tag_owner, tags) ||
        ALLOC_N(a, x->tag_value, tags) || ALLOC_N(a, x->def_ids, n))
        return false;
    for (size_t i = 0; i < n; i++) {
        const fv_capability *c = &caps[i];
        x->ids[i] = fresh[i];
        x->kinds[i] = c->kind;
        x->names[i] = c->name != NULL ? c->name : c->kind;
        x->descriptions[i] = c->description;
        x->has_timeout[i] = c->has_timeout;
        x->timeouts[i] = c->has_timeout ? c->timeout_seconds : 0;
        x->cancellable[i] = c->cancellable;
        if (!fv__pg_json_text(a, c->metadata, &x->metadata[i]) ||
            !fv__pg_json_text(a, c->input_schema, &x->input_schemas[i]) ||
            !fv__pg_json_text(a, c->output_schema, &x->output_schemas[i]))
            return false;
        x->versions[i] = c->version;
        x->hashes[i] = c->content_hash;
        const fv_retry_policy *r = &c->retry_policy;
        x->has_retry[i] = c->has_retry_policy;
        x->retry_max[i] = r->max_retries;
        x->retry_max_ok[i] = c->has_retry_policy && (r->set & FV_RETRY_HAS_MAX_RETRIES);
        x->retry_init[i] = r->initial_delay_ms;
        x->retry_init_ok[i] = c->has_retry_policy && (r->set & FV_RETRY_HAS_INITIAL_DELAY);
        x->retry_backoff[i] = r->backoff_coefficient;
        x->retry_backoff_ok[i] = c->has_retry_policy && (r->set & FV_RETRY_HAS_BACKOFF);
        x->retry_max_delay[i] = r->max_delay_ms;
        x->retry_max_delay_ok[i] = c->has_retry_policy && (r->set & FV_RETRY_HAS_MAX_DELAY);
        for (size_t k = 0; k < c->tags.n; k++) {
            x->tag_owner[x->n_tags] = (int64_t)i + 1;
            x->tag_value[x->n_tags] = c->tags.v[k];
            x->n_tags++;
        }
    }
    return true;
}

static int strcmp_p(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* INVALID when a kind is missing or declared twice in its class. */
static fv_err check_kinds(fv_arena *a, const fv_capability *caps, size_t n, fv_def_class cls,
                          fv_error *err)
{
    const char **k = fv_arena_calloc(a, n ? n : 1, sizeof *k);
    if (k == NULL)
        return fv__pg_exhausted(err);
    for (size_t i = 0; i < n; i++) {
        if (caps[i].kind == NULL)
            return fv_error_set(err, FV_E_INVALID, "capability kind must not be empty");
        k[i] = caps[i].kind;
    }
    qsort(k, n, sizeof *k, strcmp_p);
    for (size_t i = 1; i < n; i++)
        if (strcmp(k[i - 1], k[i]) == 0)
            return fv_error_set(err, FV_E_INVALID, "%s kind \"%s\" is declared twice",
                                fv_def_class_name(cls), k[i]);
    return FV_OK;
}

typedef struct reg_tx {
    fv_arena *a;
    const fv_registration *reg;
    const fv_pg_store *s;
    class_arrays wf;
    class_arrays tk;
    fv_registration_outcome *out;
} reg_tx;

/* The index of the row of `kind` among the rows an update returned, or n:
 * start where the last one was found (capabilities are often declared in
 * the order rows come back), then wrap. */
static size_t row_of(const char *const *kinds, size_t n, const char *kind, size_t *pos)
{
    for (size_t k = 0; k < n; k++) {
        size_t i = (*pos + k) % n;
        if (strcmp(kinds[i], kind) == 0) {
            *pos = (i + 1) % n;
            return i;
        }
    }
    return n;
}

/* Step 1: the worker row, locked; a status change when its status moves. */
static fv_err reg_worker(fv_pg_conn *c, reg_tx *t, fv_uuid *id, bool *created, fv_error *err)
{
    const fv_worker *w = &t->reg->worker;
    const char *type = fv_worker_type_name(w->type);
    const char *metadata;
    if (type == NULL)
        return fv_error_set(err, FV_E_INVALID, "unknown worker type %d", (int)w->type);
    if (!fv__pg_json_text(t->a, w->metadata, &metadata))
        return fv__pg_exhausted(err);
    fv_db_lock_worker_by_identity_params lp = {
        .tenant_id = &w->tenant_id,
        .space_id = w->space.has ? &w->space.id : NULL,
        .worker_name = w->name,
        .host_name = w->host_name,
        .process_id = w->process_id,
    };
    fv_worker_status old = FV_STATUS_OFFLINE;
    fv_err rc = FV_OK;
    /* A concurrent registration of the same identity may insert between our
     * look-up and our insert; its row is then there to lock. */
    for (int attempt = 0;; attempt++) {
        fv_db_lock_worker_by_identity_row found;
        rc = fv_db_lock_worker_by_identity(c, t->a, &lp, &found, err);
        if (rc == FV_OK) {
            *id = found.id;
            *created = false;
            rc = fv__pg_parse_status(found.status, &old, err);
            if (rc != FV_OK)
                return rc;
            fv_db_update_registered_worker_params up = {
                .id = id,
                .worker_version = w->version,
                .worker_type = type,
                .now = t->reg->now,
                .metadata = metadata,
                .health_degraded = w->health_degraded,
                .workflow_kinds = (int32_t)t->reg->n_workflows,
                .task_kinds = (int32_t)t->reg->n_tasks,
            };
            rc = fv_db_update_registered_worker(c, t->a, &up, err);
            break;
        }
        if (rc != FV_E_NOT_FOUND)
            return rc;
        fv_db_insert_worker_params ip = {
            .id = &w->id,
            .tenant_id = &w->tenant_id,
            .space_id = lp.space_id,
            .worker_name = w->name,
            .worker_version = w->version,
            .worker_type = type,
            .host_name = w->host_name,
            .process_id = w->process_id,
            .now = t->reg->now,
            .metadata = metadata,
            .health_degraded = w->health_degraded,
            .workflow_kinds = (int32_t)t->reg->n_workflows,
            .task_kinds = (int32_t)t->reg->n_tasks,
        };
        fv_db_insert_worker_row ins;
        rc = fv_db_insert_worker(c, t->a, &ip, &ins, err);
        if (rc == FV_OK) {
            *id = ins.id;
            *created = true;
            break;
        }
        if (rc == FV_E_CONFLICT) {
            char s[FV_UUID_STR_LEN + 1];
            fv_uuid_format(&w->id, s);
            return fv_error_set(err, rc, "worker %s already exists", s);
        }
        if (rc != FV_E_NOT_FOUND)
            return rc;
        if (attempt >= 3)
            return fv_error_set(err, FV_E_ABORTED,
                                "worker \"%s\" is being registered concurrently, retry", w->name);
    }
    if (rc != FV_OK)
        return rc;
    if (old == FV_STATUS_ONLINE)
        return FV_OK;
    fv_db_insert_status_change_params hp = {
        .worker_id = id,
        .from_status = fv__pg_status_name(old),
        .to_status = fv__pg_status_name(FV_STATUS_ONLINE),
        .at = t->reg->now,
        .reason = "registered",
        .keep = (int64_t)t->s->status_history_max,
    };
    return fv_db_insert_status_change(c, t->a, &hp, err);
}

/* Step 2: create the declared definitions that are missing (workflows then
 * tasks, each in kind order), before any definition row is locked. */
static fv_err reg_insert_missing(fv_pg_conn *c, reg_tx *t, fv_error *err)
{
    const fv_worker *w = &t->reg->worker;
    const class_arrays *xs[2] = {&t->wf, &t->tk};
    for (int k = 0; k < 2; k++) {
        const class_arrays *x = xs[k];
        if (x->n == 0)
            continue;
        fv_db_uuid_array ids = {x->ids, x->n};
        fv_db_text_array kinds = {x->kinds, x->n};
        fv_db_insert_definitions_if_missing_params p = {
            .tenant_id = &w->tenant_id,
            .space_id = w->space.has ? &w->space.id : NULL,
            .now = t->reg->now,
            .ids = &ids,
            .kinds = &kinds,
        };
        fv_err rc = k == 0 ? fv_db_insert_workflow_definitions_if_missing(c, t->a, &p, err)
                           : fv_db_insert_task_definitions_if_missing(c, t->a, &p, err);
        if (rc == FV_E_CONFLICT)
            return fv_error_set(err, rc, "the id of a new %s definition is taken",
                                fv_def_class_name(k == 0 ? FV_DEF_WORKFLOW : FV_DEF_TASK));
        if (rc != FV_OK)
            return rc;
    }
    return FV_OK;
}

/* Step 3: lock the definitions this registration touches, in key order. */
static fv_err reg_lock(fv_pg_conn *c, reg_tx *t, const fv_uuid *id, fv_error *err)
{
    const fv_worker *w = &t->reg->worker;
    fv_db_text_array wk = {t->wf.kinds, t->wf.n};
    fv_db_text_array tk = {t->tk.kinds, t->tk.n};
    fv_db_lock_definitions_for_registration_params p = {
        .worker_id = id,
        .tenant_id = &w->tenant_id,
        .space_id = w->space.has ? &w->space.id : NULL,
        .kinds = &wk,
    };
    fv_db_lock_definitions_for_registration_row *rows;
    size_t n;
    fv_err rc = fv_db_lock_workflow_definitions_for_registration(c, t->a, &p, &rows, &n, err);
    if (rc != FV_OK)
        return rc;
    p.kinds = &tk;
    return fv_db_lock_task_definitions_for_registration(c, t->a, &p, &rows, &n, err);
}

/* The parameters of UpdateWorkflowDefinitions and UpdateTaskDefinitions:
 * two generated types with the same members, filled from one class's arrays
 * (declares the arrays they point at and `p`). */
#define DEFINITION_UPDATE_PARAMS(params_type, p, x, w, now_)                                       \
    fv_db_text_array kinds_ = {(x)->kinds, (x)->n}, names_ = {(x)->names, (x)->n},                 \
                     desc_ = {(x)->descriptions, (x)->n}, meta_ = {(x)->metadata, (x)->n},         \
                     in_ = {(x)->input_schemas, (x)->n}, out_ = {(x)->output_schemas, (x)->n},     \
                     tag_value_ = {(x)->tag_value, (x)->n_tags};                                   \
    fv_db_int64_array timeouts_ = {(x)->timeouts, (x)->has_timeout, (x)->n},                       \
                      rmax_ = {(x)->retry_max, (x)->retry_max_ok, (x)->n},                         \
                      rinit_ = {(x)->retry_init, (x)->retry_init_ok, (x)->n},                      \
                      rdelay_ = {(x)->retry_max_delay, (x)->retry_max_delay_ok, (x)->n},           \
                      tag_owner_ = {(x)->tag_owner, NULL, (x)->n_tags};                            \
    fv_db_bool_array cancel_ = {(x)->cancellable, (x)->n}, has_retry_ = {(x)->has_retry, (x)->n};  \
    fv_db_double_array rback_ = {(x)->retry_backoff, (x)->retry_backoff_ok, (x)->n};               \
    params_type p = {                                                                              \
        .tenant_id = &(w)->tenant_id,                                                              \
        .space_id = (w)->space.has ? &(w)->space.id : NULL,                                        \
        .now = (now_),                                                                             \
        .kinds = &kinds_,                                                                          \
        .names = &names_,                                                                          \
        .descriptions = &desc_,                                                                    \
        .timeouts = &timeouts_,                                                                    \
        .cancellables = &cancel_,                                                                  \
        .metadata = &meta_,                                                                        \
        .input_schemas = &in_,                                                                     \
        .output_schemas = &out_,                                                                   \
        .has_retry = &has_retry_,                                                                  \
        .retry_max_retries = &rmax_,                                                               \
        .retry_initial_delay_ms = &rinit_,                                                         \
        .retry_backoff_coefficient = &rback_,                                                      \
        .retry_max_delay_ms = &rdelay_,                                                            \
        .tag_owner = &tag_owner_,                                                                  \
        .tag_value = &tag_value_,                                                                  \
    }

/* Step 4: the declared fields of the workflow definitions, a higher
 * latest_version. */
static fv_err reg_update_workflows(fv_pg_conn *c, reg_tx *t, fv_error *err)
{
    class_arrays *x = &t->wf;
    if (x->n == 0)
        return FV_OK;
    DEFINITION_UPDATE_PARAMS(fv_db_update_workflow_definitions_params, p, x, &t->reg->worker,
                             t->reg->now);
    fv_db_update_workflow_definitions_row *rows;
    size_t n;
    fv_err rc = fv_db_update_workflow_definitions(c, t->a, &p, &rows, &n, err);
    if (rc != FV_OK)
        return rc;
    const char **rkinds = fv_arena_calloc(t->a, n ? n : 1, sizeof *rkinds);
    fv_uuid *raise_ids = fv_arena_calloc(t->a, x->n, sizeof *raise_ids);
    const char **raise_to = fv_arena_calloc(t->a, x->n, sizeof *raise_to);
    if (rkinds == NULL || raise_ids == NULL || raise_to == NULL)
        return fv__pg_exhausted(err);
    for (size_t i = 0; i < n; i++)
        rkinds[i] = rows[i].kind;
    size_t pos = 0, n_raise = 0;
    for (size_t i = 0; i < x->n; i++) {
        size_t r = row_of(rkinds, n, x->kinds[i], &pos);
        if (r == n)
            return fv_error_set(err, FV_E_INTERNAL, "workflow definition \"%s\" was not updated",
                                x->kinds[i]);
        x->def_ids[i] = rows[r].id;
        /* The row is locked by this transaction: its latest_version is
         * current. */
        if (x->versions[i] != NULL && fv_semver_cmp(x->versions[i], rows[r].latest_version) > 0) {
            raise_ids[n_raise] = rows[r].id;
            raise_to[n_raise] = x->versions[i];
            n_raise++;
        }
    }
    if (n_raise == 0)
        return FV_OK;
    fv_db_uuid_array lid = {raise_ids, n_raise};
    fv_db_text_array lver = {raise_to, n_raise};
    fv_db_set_latest_versions_params lp = {.ids = &lid, .versions = &lver};
    return fv_db_set_latest_versions(c, t->a, &lp, err);
}

/* Step 4, tasks. */
static fv_err reg_update_tasks(fv_pg_conn *c, reg_tx *t, fv_error *err)
{
    class_arrays *x = &t->tk;
    if (x->n == 0)
        return FV_OK;
    DEFINITION_UPDATE_PARAMS(fv_db_update_task_definitions_params, p, x, &t->reg->worker,
                             t->reg->now);
    fv_db_update_task_definitions_row *rows;
    size_t n;
    fv_err rc = fv_db_update_task_definitions(c, t->a, &p, &rows, &n, err);
    if (rc != FV_OK)
        return rc;
    const char **rkinds = fv_arena_calloc(t->a, n ? n : 1, sizeof *rkinds);
    if (rkinds == NULL)
        return fv__pg_exhausted(err);
    for (size_t i = 0; i < n; i++)
        rkinds[i] = rows[i].kind;
    size_t pos = 0;
    for (size_t i = 0; i < x->n; i++) {
        size_t r = row_of(rkinds, n, x->kinds[i], &pos);
        if (r == n)
            return fv_error_set(err, FV_E_INTERNAL, "task definition \"%s\" was not updated",
                                x->kinds[i]);
        x->def_ids[i] = rows[r].id;
    }
    return FV_OK;
}

/* The ids of old links and new links together (for the availability
 * refresh). */
static fv_uuid *ids_union(fv_arena *a, const fv_db_delete_links_row *old, size_t n_old,
                          const fv_uuid *fresh, size_t n_fresh, size_t *n)
{
    fv_uuid *all = fv_arena_calloc(a, n_old + n_fresh + 1, sizeof *all);
    if (all == NULL)
        return NULL;
    for (size_t i = 0; i < n_old; i++)
        all[i] = old[i].definition_id;
    if (n_fresh > 0)
        memcpy(all + n_old, fresh, n_fresh * sizeof *fresh);
    *n = n_old + n_fresh;
    return all;
}

/* Steps 5-6: replace the links, recompute stored availability. */
static fv_err reg_links(fv_pg_conn *c, reg_tx *t, const fv_uuid *id, fv_error *err)
{
    fv_db_delete_links_row *old_wf, *old_tk;
    size_t n_old_wf, n_old_tk, n;
    fv_err rc = fv_db_delete_workflow_links(c, t->a, id, &old_wf, &n_old_wf, err);
    if (rc == FV_OK)
        rc = fv_db_delete_task_links(c, t->a, id, &old_tk, &n_old_tk, err);
    if (rc != FV_OK)
        return rc;
    if (t->wf.n > 0) {
        fv_db_uuid_array defs = {t->wf.def_ids, t->wf.n};
        fv_db_text_array versions = {t->wf.versions, t->wf.n};
        fv_db_text_array hashes = {t->wf.hashes, t->wf.n};
        fv_db_insert_workflow_links_params p = {.worker_id = id,
                                                .now = t->reg->now,
                                                .definition_ids = &defs,
                                                .versions = &versions,
                                                .content_hashes = &hashes};
        rc = fv_db_insert_workflow_links(c, t->a, &p, err);
        if (rc != FV_OK)
            return rc;
    }
    if (t->tk.n > 0) {
        fv_db_uuid_array defs = {t->tk.def_ids, t->tk.n};
        fv_db_insert_task_links_params p = {
            .worker_id = id, .now = t->reg->now, .definition_ids = &defs};
        rc = fv_db_insert_task_links(c, t->a, &p, err);
        if (rc != FV_OK)
            return rc;
    }
    fv_uuid *all = ids_union(t->a, old_wf, n_old_wf, t->wf.def_ids, t->wf.n, &n);
    if (all == NULL)
        return fv__pg_exhausted(err);
    if (n > 0) {
        fv_db_uuid_array ids = {all, n};
        rc = fv_db_refresh_workflow_availability(c, t->a, &ids, err);
        if (rc != FV_OK)
            return rc;
    }
    all = ids_union(t->a, old_tk, n_old_tk, t->tk.def_ids, t->tk.n, &n);
    if (all == NULL)
        return fv__pg_exhausted(err);
    if (n > 0) {
        fv_db_uuid_array ids = {all, n};
        rc = fv_db_refresh_task_availability(c, t->a, &ids, err);
    }
    return rc;
}

/* Step 7: the possible conflicts of the answer, in the caller's arena. */
static fv_err reg_peers(fv_pg_conn *c, reg_tx *t, const fv_uuid *id, fv_error *err)
{
    if (t->wf.n == 0)
        return FV_OK;
    fv_db_uuid_array defs = {t->wf.def_ids, t->wf.n};
    fv_db_text_array versions = {t->wf.versions, t->wf.n};
    fv_db_text_array hashes = {t->wf.hashes, t->wf.n};
    fv_db_workflow_peers_params p = {
        .worker_id = id, .definition_ids = &defs, .versions = &versions, .content_hashes = &hashes};
    fv_db_workflow_peers_row *rows;
    size_t n;
    fv_err rc = fv_db_workflow_peers(c, t->a, &p, &rows, &n, err);
    if (rc != FV_OK || n == 0)
        return rc;
    fv_workflow_peer *peers = fv_arena_calloc(t->a, n, sizeof *peers);
    if (peers == NULL)
        return fv__pg_exhausted(err);
    for (size_t i = 0; i < n; i++) {
        peers[i].kind = rows[i].kind;
        peers[i].content_hash = rows[i].content_hash;
        rc = worker_of(&rows[i].w, &peers[i].worker, err);
        if (rc != FV_OK)
            return rc;
    }
    t->out->peers = peers;
    t->out->n_peers = n;
    return FV_OK;
}

static fv_err register_fn(fv_pg_conn *c, void *user, fv_error *err)
{
    reg_tx *t = user;
    fv_uuid id;
    bool created = false;
    t->out->peers = NULL;
    t->out->n_peers = 0;
    fv_err rc = reg_worker(c, t, &id, &created, err);
    if (rc == FV_OK)
        rc = reg_insert_missing(c, t, err);
    if (rc == FV_OK)
        rc = reg_lock(c, t, &id, err);
    if (rc == FV_OK)
        rc = reg_update_workflows(c, t, err);
    if (rc == FV_OK)
        rc = reg_update_tasks(c, t, err);
    if (rc == FV_OK)
        rc = reg_links(c, t, &id, err);
    if (rc == FV_OK)
        rc = reg_peers(c, t, &id, err);
    if (rc != FV_OK)
        return rc;
    t->out->worker_id = id;
    t->out->created = created;
    return FV_OK;
}

static fv_err op_register(void *self, fv_arena *a, const fv_registration *reg,
                          fv_registration_outcome *out, fv_error *err)
{
    fv_pg_store *s = self;
    out->peers = NULL;
    out->n_peers = 0;
    if (reg->worker.name == NULL)
        return fv_error_set(err, FV_E_INVALID, "worker name must not be empty");
    fv_err rc = check_kinds(a, reg->workflows, reg->n_workflows, FV_DEF_WORKFLOW, err);
    if (rc == FV_OK)
        rc = check_kinds(a, reg->tasks, reg->n_tasks, FV_DEF_TASK, err);
    if (rc != FV_OK)
        return rc;
    reg_tx t = {.a = a, .reg = reg, .s = s, .out = out};
    if (!arrays_build(a, reg->workflows, reg->workflow_def_ids, reg->n_workflows, &t.wf) ||
        !arrays_build(a, reg->tasks, reg->task_def_ids, reg->n_tasks, &t.tk))
        return fv__pg_exhausted(err);
    rc = fv_pg_tx(s->pool, false, register_fn, &t, err);
    if (rc == FV_OK) {
        /* Registration wrote every time and the health: a touch buffered
         * before it is older news. */
        fv__pg_touches *tb = s->touches;
        pthread_mutex_lock(&tb->mu);
        unbuffer_locked(tb, &out->worker_id);
        known_put_locked(tb, &reg->worker.tenant_id, &out->worker_id);
        pthread_mutex_unlock(&tb->mu);
        if (out->n_peers > 0)
            rc = patch_from_buffer(s, a, &out->peers[0].worker, out->n_peers, sizeof *out->peers,
                                   err);
    }
    if (rc != FV_OK) {
        out->peers = NULL;
        out->n_peers = 0;
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Reads                                                                     */
/* ------------------------------------------------------------------------ */

static fv_err op_get(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                     fv_worker *out, fv_error *err)
{
    fv_pg_store *s = self;
    fv_db_get_worker_params p = {.tenant_id = tenant, .id = id};
    fv_db_worker_v r;
    fv_err rc = fv_db_get_worker_on(s->pool, a, &p, &r, err);
    if (rc == FV_E_NOT_FOUND)
        return fv__pg_worker_not_found(id, err);
    if (rc == FV_OK)
        rc = worker_of(&r, out, err);
    if (rc == FV_OK)
        rc = patch_from_buffer(s, a, out, 1, sizeof *out, err);
    return rc;
}

static fv_err op_list(void *self, fv_arena *a, const fv_worker_filter *f, fv_page page, fv_time now,
                      const fv_liveness *l, fv_worker_list *out, fv_error *err)
{
    fv_pg_store *s = self;
    *out = (fv_worker_list){NULL, 0, 0};
    int64_t limit, offset;
    fv__pg_page(page, &limit, &offset);
    const char *type = f->has_type ? fv_worker_type_name(f->type) : NULL;
    const char *status = f->has_status ? fv__pg_status_name(f->status) : NULL;
    if (f->has_type && type == NULL)
        return fv_error_set(err, FV_E_INVALID, "unknown worker type %d", (int)f->type);
    if (f->has_status && status == NULL)
        return fv_error_set(err, FV_E_INVALID, "unknown worker status %d", (int)f->status);
    /* A status filter decides on last_seen_at and health in SQL: write the
     * buffered touches first (nothing to do when none waits). Without one,
     * they change neither the page nor the total: the rows are patched. */
    fv_err rc = FV_OK;
    if (f->has_status && (rc = fv__pg_touches_flush(s, err)) != FV_OK)
        return rc;
    fv_pg_conn *c;
    rc = fv_pg_acquire(s->pool, &c, err);
    if (rc != FV_OK)
        return rc;
    fv_db_list_workers_params p = {
        .tenant_id = &f->tenant_id,
        .any_space = f->space.mode == FV_SPACE_ANY,
        .space_id = f->space.mode == FV_SPACE_ID ? &f->space.id : NULL,
        .worker_type = type,
        .status = status,
        .now = now,
        .degraded_after = l->degraded_after_ms,
        .offline_after = l->offline_after_ms,
        .page_limit = limit,
        .page_offset = offset,
    };
    fv_db_list_workers_row *rows;
    size_t n;
    int64_t total = 0;
    rc = fv_db_list_workers(c, a, &p, &rows, &n, err);
    if (rc == FV_OK && n > 0) {
        total = rows[0].total;
    } else if (rc == FV_OK && offset > 0) {
        /* A page beyond the last: the total still counts. */
        fv_db_count_workers_params cp = {
            .tenant_id = p.tenant_id,
            .any_space = p.any_space,
            .space_id = p.space_id,
            .worker_type = p.worker_type,
            .status = p.status,
            .now = p.now,
            .degraded_after = p.degraded_after,
            .offline_after = p.offline_after,
        };
        fv_db_count_workers_row cr;
        rc = fv_db_count_workers(c, a, &cp, &cr, err);
        total = cr.total;
    }
    fv_pg_release(s->pool, c);
    if (rc != FV_OK)
        return rc;
    fv_worker *items = fv_arena_calloc(a, n ? n : 1, sizeof *items);
    if (items == NULL)
        return fv__pg_exhausted(err);
    for (size_t i = 0; i < n; i++)
        if ((rc = worker_of(&rows[i].w, &items[i], err)) != FV_OK)
            return rc;
    if (!f->has_status && (rc = patch_from_buffer(s, a, items, n, sizeof *items, err)) != FV_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        items[i].effective_status = fv_worker_effective_status(&items[i], now, l);
    *out = (fv_worker_list){items, n, total};
    return FV_OK;
}

/* FV_OK when the worker is in the tenant, else FV_E_NOT_FOUND: on the
 * connection c, or on one of the pool when c is NULL. */
static fv_err worker_exists(fv_pg_pool *pool, fv_pg_conn *c, fv_arena *a, const fv_uuid *tenant,
                            const fv_uuid *id, fv_error *err)
{
    fv_db_worker_exists_params p = {.tenant_id = tenant, .id = id};
    fv_db_worker_exists_row r;
    fv_err rc = c != NULL ? fv_db_worker_exists(c, a, &p, &r, err)
                          : fv_db_worker_exists_on(pool, a, &p, &r, err);
    if (rc == FV_E_NOT_FOUND)
        return fv__pg_worker_not_found(id, err);
    return rc;
}

static fv_err op_capabilities(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                              fv_capability_ref_list *workflows, fv_capability_ref_list *tasks,
                              fv_error *err)
{
    fv_pg_store *s = self;
    *workflows = (fv_capability_ref_list){NULL, 0};
    *tasks = (fv_capability_ref_list){NULL, 0};
    fv_pg_conn *c;
    fv_err rc = fv_pg_acquire(s->pool, &c, err);
    if (rc != FV_OK)
        return rc;
    fv_db_worker_capabilities_params p = {.tenant_id = tenant, .worker_id = id};
    fv_db_worker_capabilities_row *rows;
    size_t n;
    rc = fv_db_worker_capabilities(c, a, &p, &rows, &n, err);
    if (rc == FV_OK && n == 0)
        rc = worker_exists(NULL, c, a, tenant, id, err);
    fv_pg_release(s->pool, c);
    if (rc != FV_OK)
        return rc;
    size_t nwf = 0;
    while (nwf < n && rows[nwf].cls == FV_DEF_WORKFLOW)
        nwf++;
    fv_capability_ref *wf = fv_arena_calloc(a, nwf ? nwf : 1, sizeof *wf);
    fv_capability_ref *tk = fv_arena_calloc(a, n - nwf ? n - nwf : 1, sizeof *tk);
    if (wf == NULL || tk == NULL)
        return fv__pg_exhausted(err);
    for (size_t i = 0; i < n; i++) {
        const fv_db_worker_capabilities_row *r = &rows[i];
        fv_capability_ref *o = i < nwf ? &wf[i] : &tk[i - nwf];
        if (r->cls != FV_DEF_WORKFLOW && r->cls != FV_DEF_TASK)
            return fv_error_set(err, FV_E_INTERNAL, "the database holds an unknown class");
        o->definition_id = r->definition_id;
        o->cls = (fv_def_class)r->cls;
        o->kind = r->kind;
        o->name = r->name;
        o->version = r->version;
        o->content_hash = r->content_hash;
        o->registered_at = r->registered_at;
    }
    *workflows = (fv_capability_ref_list){wf, nwf};
    *tasks = (fv_capability_ref_list){tk, n - nwf};
    return FV_OK;
}

static fv_err op_linked_workers(void *self, fv_arena *a, const fv_uuid *tenant, fv_def_class cls,
                                const fv_uuid *definition_id, fv_linked_worker_list *out,
                                fv_error *err)
{
    fv_pg_store *s = self;
    *out = (fv_linked_worker_list){NULL, 0};
    fv_db_linked_workers_params p = {.tenant_id = tenant, .definition_id = definition_id};
    fv_db_linked_workers_row *rows;
    size_t n;
    fv_err rc = cls == FV_DEF_WORKFLOW
                    ? fv_db_linked_workflow_workers_on(s->pool, a, &p, &rows, &n, err)
                    : fv_db_linked_task_workers_on(s->pool, a, &p, &rows, &n, err);
    if (rc != FV_OK)
        return rc;
    fv_linked_worker *items = fv_arena_calloc(a, n ? n : 1, sizeof *items);
    if (items == NULL)
        return fv__pg_exhausted(err);
    for (size_t i = 0; i < n; i++) {
        rc = worker_of(&rows[i].w, &items[i].worker, err);
        if (rc != FV_OK)
            return rc;
        items[i].version = rows[i].version;
        items[i].content_hash = rows[i].content_hash;
    }
    rc = patch_from_buffer(s, a, &items[0].worker, n, sizeof *items, err);
    if (rc != FV_OK)
        return rc;
    *out = (fv_linked_worker_list){items, n};
    return FV_OK;
}

/* ------------------------------------------------------------------------ */
/* Signs of life and status                                                  */
/* ------------------------------------------------------------------------ */

/* The miss of the cache: FV_OK when the worker is in the tenant (one
 * indexed read), else FV_E_NOT_FOUND; on FV_OK the cache knows it, unless
 * a removal ran since `removals` was read. */
static fv_err check_exists(fv_pg_store *s, const fv_uuid *tenant, const fv_uuid *id,
                           uint64_t removals, fv_error *err)
{
    fv__pg_touches *t = s->touches;
    fv_arena a;
    fv_err rc = fv__pg_scratch_init(&a, err);
    if (rc == FV_OK)
        rc = worker_exists(s->pool, NULL, &a, tenant, id, err);
    fv_arena_release(&a);
    if (rc == FV_OK) {
        pthread_mutex_lock(&t->mu);
        if (t->removals == removals)
            known_put_locked(t, tenant, id);
        pthread_mutex_unlock(&t->mu);
    }
    return rc;
}

/* The hottest write: no statement when the worker is known, never a
 * commit (the flusher writes the buffer). */
static fv_err op_touch(void *self, const fv_uuid *tenant, const fv_uuid *id, fv_sign_of_life kind,
                       fv_time now, fv_json health, bool health_degraded, fv_error *err)
{
    fv_pg_store *s = self;
    fv__pg_touches *t = s->touches;
    if (kind != FV_SIGN_HEARTBEAT && kind != FV_SIGN_POLL)
        return fv_error_set(err, FV_E_INVALID, "unknown sign of life %d", (int)kind);
    char *copy = NULL;
    if (kind == FV_SIGN_HEARTBEAT && health.p != NULL &&
        (copy = fv_strndup(health.p, health.n)) == NULL)
        return fv__pg_exhausted(err);
    fv_err rc = FV_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        pthread_mutex_lock(&t->mu);
        bool known = known_locked(t, tenant, id);
        uint64_t removals = t->removals;
        /* Known, or it existed a moment ago (a removal since then is
         * linearised after this touch; the flush notices it). */
        if (known || attempt > 0)
            rc = buffer_locked(t, tenant, id, kind, now, &copy, health.n, health_degraded, err);
        pthread_mutex_unlock(&t->mu);
        if (known || attempt > 0)
            break;
        if ((rc = check_exists(s, tenant, id, removals, err)) != FV_OK)
            break;
    }
    fv_free(copy);
    return rc;
}

static fv_err op_touch_by_name(void *self, const fv_uuid *tenant, const char *name, fv_time now,
                               fv_uuid *id_out, fv_error *err)
{
    fv_pg_store *s = self;
    fv__pg_touches *t = s->touches;
    if (name == NULL)
        return fv_error_set(err, FV_E_NOT_FOUND, "worker \"\" not found");
    pthread_mutex_lock(&t->mu);
    uint64_t removals = t->removals;
    pthread_mutex_unlock(&t->mu);
    fv_arena a;
    fv_db_worker_id_by_name_row r;
    fv_err rc = fv__pg_scratch_init(&a, err);
    if (rc == FV_OK) {
        fv_db_worker_id_by_name_params p = {.tenant_id = tenant, .worker_name = name};
        rc = fv_db_worker_id_by_name_on(s->pool, &a, &p, &r, err);
        if (rc == FV_E_NOT_FOUND)
            fv_error_set(err, rc, "worker \"%s\" not found", name);
    }
    fv_arena_release(&a);
    if (rc != FV_OK)
        return rc;
    pthread_mutex_lock(&t->mu);
    rc = buffer_locked(t, tenant, &r.id, FV_SIGN_POLL, now, NULL, 0, false, err);
    if (rc == FV_OK && t->removals == removals)
        known_put_locked(t, tenant, &r.id);
    pthread_mutex_unlock(&t->mu);
    if (rc == FV_OK)
        *id_out = r.id;
    return rc;
}

static fv_err op_transition(void *self, const fv_uuid *tenant, const fv_uuid *id,
                            fv_worker_status from, fv_worker_status to, fv_time now,
                            const char *reason, bool *changed, fv_error *err)
{
    fv_pg_store *s = self;
    *changed = false;
    const char *from_s = fv__pg_status_name(from), *to_s = fv__pg_status_name(to);
    if (from_s == NULL || to_s == NULL)
        return fv_error_set(err, FV_E_INVALID, "unknown worker status");
    fv_arena a;
    fv_db_transition_worker_row r = {false, false};
    fv_err rc = fv__pg_scratch_init(&a, err);
    if (rc == FV_OK) {
        fv_db_transition_worker_params p = {
            .tenant_id = tenant,
            .id = id,
            .from_status = from_s,
            .to_status = to_s,
            .now = now,
            .reason = reason,
            .keep = (int64_t)s->status_history_max,
        };
        rc = fv_db_transition_worker_on(s->pool, &a, &p, &r, err);
    }
    fv_arena_release(&a);
    if (rc != FV_OK)
        return rc;
    if (!r.found)
        return fv__pg_worker_not_found(id, err);
    *changed = r.changed;
    return FV_OK;
}

static fv_err op_status_history(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                                size_t limit, fv_status_change_list *out, fv_error *err)
{
    fv_pg_store *s = self;
    *out = (fv_status_change_list){NULL, 0};
    fv_pg_conn *c;
    fv_err rc = fv_pg_acquire(s->pool, &c, err);
    if (rc != FV_OK)
        return rc;
    fv_db_status_history_row *rows = NULL;
    size_t n = 0;
    rc = worker_exists(NULL, c, a, tenant, id, err);
    if (rc == FV_OK && limit > 0) {
        fv_db_status_history_params p = {
            .worker_id = id, .max_rows = limit > INT64_MAX ? INT64_MAX : (int64_t)limit};
        rc = fv_db_status_history(c, a, &p, &rows, &n, err);
    }
    fv_pg_release(s->pool, c);
    if (rc != FV_OK)
        return rc;
    fv_status_change *items = fv_arena_calloc(a, n ? n : 1, sizeof *items);
    if (items == NULL)
        return fv__pg_exhausted(err);
    for (size_t i = 0; i < n; i++) {
        items[i].worker_id = *id;
        rc = fv__pg_parse_status(rows[i].from_status, &items[i].from, err);
        if (rc == FV_OK)
            rc = fv__pg_parse_status(rows[i].to_status, &items[i].to, err);
        if (rc != FV_OK)
            return rc;
        items[i].at = rows[i].changed_at;
        items[i].reason = rows[i].reason;
    }
    *out = (fv_status_change_list){items, n};
    return FV_OK;
}

/* ------------------------------------------------------------------------ */
/* Jobs and removal                                                          */
/* ------------------------------------------------------------------------ */

static fv_err op_scan(void *self, fv_arena *a, unsigned status_mask, fv_time seen_from,
                      fv_time seen_to, fv_worker_list *out, fv_error *err)
{
    fv_pg_store *s = self;
    *out = (fv_worker_list){NULL, 0, 0};
    static const fv_worker_status all[] = {FV_STATUS_ONLINE, FV_STATUS_DEGRADED, FV_STATUS_OFFLINE};
    const char *names[3];
    size_t k = 0;
    for (size_t i = 0; i < 3; i++)
        if (status_mask & FV_STATUS_BIT(all[i]))
            names[k++] = fv__pg_status_name(all[i]);
    if (k == 0)
        return FV_OK;
    /* The jobs decide on last_seen_at: write the buffered touches first. */
    fv_err rc = fv__pg_touches_flush(s, err);
    if (rc != FV_OK)
        return rc;
    fv_db_text_array statuses = {names, k};
    fv_db_scan_workers_params p = {
        .statuses = &statuses, .seen_from = seen_from, .seen_to = seen_to};
    fv_db_worker_v *rows;
    size_t n;
    rc = fv_db_scan_workers_on(s->pool, a, &p, &rows, &n, err);
    if (rc != FV_OK)
        return rc;
    fv_worker *items = fv_arena_calloc(a, n ? n : 1, sizeof *items);
    if (items == NULL)
        return fv__pg_exhausted(err);
    for (size_t i = 0; i < n; i++) {
        rc = worker_of(&rows[i], &items[i], err);
        if (rc != FV_OK)
            return rc;
    }
    *out = (fv_worker_list){items, n, (int64_t)n};
    return FV_OK;
}

/* Lock the definitions of the workers (key order), delete the workers with
 * their links and history, recompute those definitions' availability. The
 * worker rows are locked by the caller. */
static fv_err delete_locked(fv_pg_conn *c, fv_arena *a, const fv_uuid *ids, size_t n, fv_error *err)
{
    fv_db_uuid_array workers = {ids, n};
    fv_db_lock_definitions_of_workers_row *wf, *tk;
    size_t n_wf, n_tk;
    int64_t affected;
    fv_err rc = fv_db_lock_workflow_definitions_of_workers(c, a, &workers, &wf, &n_wf, err);
    if (rc == FV_OK)
        rc = fv_db_lock_task_definitions_of_workers(c, a, &workers, &tk, &n_tk, err);
    if (rc == FV_OK)
        rc = fv_db_delete_workers(c, a, &workers, &affected, err);
    if (rc != FV_OK)
        return rc;
    fv_uuid *defs = fv_arena_calloc(a, (n_wf > n_tk ? n_wf : n_tk) + 1, sizeof *defs);
    if (defs == NULL)
        return fv__pg_exhausted(err);
    if (n_wf > 0) {
        for (size_t i = 0; i < n_wf; i++)
            defs[i] = wf[i].id;
        fv_db_uuid_array d = {defs, n_wf};
        rc = fv_db_refresh_workflow_availability(c, a, &d, err);
    }
    if (rc == FV_OK && n_tk > 0) {
        for (size_t i = 0; i < n_tk; i++)
            defs[i] = tk[i].id;
        fv_db_uuid_array d = {defs, n_tk};
        rc = fv_db_refresh_task_availability(c, a, &d, err);
    }
    return rc;
}

typedef struct remove_tx {
    fv_arena *a;
    const fv_uuid *tenant;
    const fv_uuid *id;
} remove_tx;

static fv_err remove_fn(fv_pg_conn *c, void *user, fv_error *err)
{
    remove_tx *t = user;
    fv_db_lock_worker_params p = {.tenant_id = t->tenant, .id = t->id};
    fv_db_lock_worker_row r;
    fv_err rc = fv_db_lock_worker(c, t->a, &p, &r, err);
    if (rc == FV_E_NOT_FOUND)
        return fv__pg_worker_not_found(t->id, err);
    if (rc != FV_OK)
        return rc;
    return delete_locked(c, t->a, t->id, 1, err);
}

static fv_err op_remove(void *self, const fv_uuid *tenant, const fv_uuid *id, fv_error *err)
{
    fv_pg_store *s = self;
    fv_arena a;
    fv_err rc = fv__pg_scratch_init(&a, err);
    if (rc == FV_OK) {
        remove_tx t = {&a, tenant, id};
        rc = fv_pg_tx(s->pool, false, remove_fn, &t, err);
    }
    fv_arena_release(&a);
    if (rc == FV_OK) {
        pthread_mutex_lock(&s->touches->mu);
        forget_locked(s->touches, id);
        pthread_mutex_unlock(&s->touches->mu);
    }
    return rc;
}

typedef struct retention_tx {
    fv_arena *a;
    fv_time cutoff;
    fv_uuid_list *out;
} retention_tx;

static fv_err retention_fn(fv_pg_conn *c, void *user, fv_error *err)
{
    retention_tx *t = user;
    *t->out = (fv_uuid_list){NULL, 0};
    fv_db_lock_offline_workers_row *rows;
    size_t n;
    fv_err rc = fv_db_lock_offline_workers(c, t->a, t->cutoff, &rows, &n, err);
    if (rc != FV_OK)
        return rc;
    fv_uuid *ids = fv_arena_calloc(t->a, n ? n : 1, sizeof *ids);
    if (ids == NULL)
        return fv__pg_exhausted(err);
    for (size_t i = 0; i < n; i++)
        ids[i] = rows[i].id;
    if (n > 0) {
        rc = delete_locked(c, t->a, ids, n, err);
        if (rc != FV_OK)
            return rc;
    }
    *t->out = (fv_uuid_list){ids, n};
    return FV_OK;
}

static fv_err op_remove_offline(void *self, fv_arena *a, fv_time cutoff, fv_uuid_list *out,
                                fv_error *err)
{
    fv_pg_store *s = self;
    *out = (fv_uuid_list){NULL, 0};
    /* A worker whose touch waits in the buffer is alive: write it first. */
    fv_err rc = fv__pg_touches_flush(s, err);
    if (rc != FV_OK)
        return rc;
    retention_tx t = {a, cutoff, out};
    rc = fv_pg_tx(s->pool, false, retention_fn, &t, err);
    if (rc != FV_OK) {
        *out = (fv_uuid_list){NULL, 0};
        return rc;
    }
    pthread_mutex_lock(&s->touches->mu);
    for (size_t i = 0; i < out->n; i++)
        forget_locked(s->touches, &out->items[i]);
    pthread_mutex_unlock(&s->touches->mu);
    return FV_OK;
}

/* ------------------------------------------------------------------------ */
/* Counts (metrics)                                                          */
/* ------------------------------------------------------------------------ */

static fv_err op_count_by_status(void *self, fv_time now, const fv_liveness *l,
                                 fv_worker_counts *out, fv_error *err)
{
    fv_pg_store *s = self;
    fv_arena a;
    fv_db_count_workers_by_status_row r = {0, 0, 0};
    fv_arena_init(&a, 0);
    /* Every tenant's touches count: write the buffered ones first. */
    fv_err rc = fv__pg_touches_flush(s, err);
    if (rc == FV_OK)
        rc = fv__pg_scratch_init(&a, err);
    if (rc == FV_OK) {
        fv_db_count_workers_by_status_params p = {.now = now,
                                                  .degraded_after = l->degraded_after_ms,
                                                  .offline_after = l->offline_after_ms};
        rc = fv_db_count_workers_by_status_on(s->pool, &a, &p, &r, err);
    }
    fv_arena_release(&a);
    if (rc == FV_OK)
        *out = (fv_worker_counts){r.online, r.degraded, r.offline};
    return rc;
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

fv_worker_repo fv__pg_worker_repo(fv_pg_store *s)
{
    return (fv_worker_repo){&worker_ops, s};
}
