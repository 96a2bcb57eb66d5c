/*
 * The heartbeat store on Postgres (ports/heartbeat_store.h), with
 * coalesced writes, and the store's flusher: a recorded heartbeat goes into
 * an in-memory buffer (at most `heartbeat_history_max` per worker, the
 * newest), and a flusher thread writes every `flush_ms` first the buffered
 * signs of life of the worker repository (pg_workers.c: one transaction,
 * one UPDATE of every buffered worker), then the whole heartbeat buffer as
 * one transaction of two statements (insert the batch, trim each flushed
 * worker to its newest N). So the hottest write of the system, a
 * heartbeat, costs no statement and no commit of its own.
 *
 * What the spec asks of a buffering store holds:
 * - a recorded heartbeat is visible at once to reads of this store (reads
 *   merge the buffer, which is newer than the table), and to other
 *   processes within one flush interval;
 * - a clean shutdown (fv_pg_store_free) writes what is buffered; a flush
 *   that fails (database down) puts its heartbeats back, older than those
 *   recorded since (the signs of life leave their buffer only once
 *   written), and the next flush retries.
 *
 * Locks: `mu` guards the buffer and is held only for memory work, never
 * around a statement, so recording never waits for the database. `io`
 * orders the database work: a flush or a forget holds it exclusively (from
 * taking the buffer to its commit), reads hold it shared while they read
 * the buffer and the table, so a read never sees a batch twice or not at
 * all.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "adapters/postgres/pg_store_int.h"
#include "core/util/alloc.h"
#include "db_heartbeats.h"

typedef struct hb_entry {
    fv_time at;
    char *health; /* owned; NULL when the heartbeat carried none */
    size_t health_n;
} hb_entry;

/* The buffered heartbeats of one worker, oldest first, in a ring that grows
 * up to the retention bound. */
typedef struct hb_ring {
    fv_uuid worker;
    size_t start, n, cap;
    hb_entry *e;
} hb_ring;

/* Open addressing over ring pointers (linear probing, power-of-two size,
 * never more than 3/4 full); rings are never removed from a map, only
 * emptied: the whole map is swapped out by each flush. */
typedef struct hb_map {
    hb_ring **slots;
    size_t cap, n;
    size_t entries; /* heartbeats buffered, all rings */
} hb_map;

struct fv__pg_hb {
    fv_pg_store *s;
    size_t keep;
    pthread_mutex_t mu;
    pthread_rwlock_t io;
    pthread_cond_t wake;
    bool stop;
    bool started;
    pthread_t thread;
    hb_map buf;
};

/* ------------------------------------------------------------------------ */
/* The buffer                                                                */
/* ------------------------------------------------------------------------ */

static void ring_free(hb_ring *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++)
        fv_free(r->e[(r->start + i) % r->cap].health);
    fv_free(r->e);
    fv_free(r);
}

static void map_release(hb_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        ring_free(m->slots[i]);
    fv_free(m->slots);
    memset(m, 0, sizeof *m);
}

static hb_ring **map_slot(const hb_map *m, const fv_uuid *w)
{
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)fv_uuid_hash(w) & mask;; i = (i + 1) & mask) {
        if (m->slots[i] == NULL || fv_uuid_eq(&m->slots[i]->worker, w))
            return &m->slots[i];
    }
}

static hb_ring *map_find(const hb_map *m, const fv_uuid *w)
{
    return m->cap == 0 ? NULL : *map_slot(m, w);
}

/* Room for one more ring; false (map unchanged) when memory runs out. */
static bool map_reserve(hb_map *m)
{
    if (m->cap != 0 && m->n + 1 <= m->cap / 4 * 3)
        return true;
    size_t cap = m->cap != 0 ? m->cap * 2 : 64;
    hb_ring **slots = fv_calloc(cap, sizeof *slots);
    if (slots == NULL)
        return false;
    hb_map grown = {slots, cap, 0, m->entries};
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i] != NULL) {
            *map_slot(&grown, &m->slots[i]->worker) = m->slots[i];
            grown.n++;
        }
    fv_free(m->slots);
    *m = grown;
    return true;
}

/* Make the ring hold one more entry (growing up to keep); false (ring
 * unchanged) when memory runs out. */
static bool ring_reserve(hb_ring *r, size_t keep)
{
    if (r->n < r->cap || r->cap >= keep)
        return true;
    size_t cap = r->cap != 0 ? r->cap * 2 : 2;
    if (cap > keep)
        cap = keep;
    hb_entry *e = fv_calloc(cap, sizeof *e);
    if (e == NULL)
        return false;
    for (size_t i = 0; i < r->n; i++)
        e[i] = r->e[(r->start + i) % r->cap];
    fv_free(r->e);
    r->e = e;
    r->start = 0;
    r->cap = cap;
    return true;
}

/* Append the newest entry (the ring has room or is at the bound, where the
 * oldest goes). Takes entry->health. */
static void ring_push(hb_ring *r, hb_entry *entry, size_t *entries)
{
    if (r->n < r->cap) {
        r->e[(r->start + r->n) % r->cap] = *entry;
        r->n++;
        (*entries)++;
    } else {
        fv_free(r->e[r->start].health);
        r->e[r->start] = *entry;
        r->start = (r->start + 1) % r->cap;
    }
    entry->health = NULL;
}

static void ring_clear(hb_ring *r, size_t *entries)
{
    for (size_t i = 0; i < r->n; i++) {
        hb_entry *e = &r->e[(r->start + i) % r->cap];
        fv_free(e->health);
        e->health = NULL;
    }
    *entries -= r->n;
    r->n = 0;
    r->start = 0;
}

/* Put the rings of a failed flush back into the buffer, before what was
 * recorded since (keeping the newest `keep` of each worker). Takes the old
 * map. Heartbeats that cannot be kept for want of memory are dropped and
 * counted. */
static size_t map_merge_back(hb_map *cur, hb_map *old, size_t keep)
{
    size_t dropped = 0;
    for (size_t i = 0; i < old->cap; i++) {
        hb_ring *o = old->slots[i];
        if (o == NULL)
            continue;
        old->slots[i] = NULL;
        hb_ring *c = map_find(cur, &o->worker);
        if (c == NULL) {
            if (o->n > 0 && map_reserve(cur)) {
                *map_slot(cur, &o->worker) = o;
                cur->n++;
                cur->entries += o->n;
            } else {
                dropped += o->n;
                ring_free(o);
            }
            continue;
        }
        /* Newest first from the current ring, then the old one. */
        size_t total = o->n + c->n < keep ? o->n + c->n : keep;
        hb_entry *e = total > 0 ? fv_calloc(total, sizeof *e) : NULL;
        if (e == NULL) {
            dropped += o->n;
            ring_free(o);
            continue;
        }
        size_t k = total;
        for (size_t j = c->n; j > 0 && k > 0; j--)
            e[--k] = c->e[(c->start + j - 1) % c->cap];
        for (size_t j = o->n; j > 0 && k > 0; j--) {
            hb_entry *src = &o->e[(o->start + j - 1) % o->cap];
            e[--k] = *src;
            src->health = NULL;
        }
        dropped += o->n + c->n - total;
        cur->entries += total - c->n;
        /* Entries of c that did not fit: none (c->n <= keep, and they come
         * first), so only the old ring's leftovers are freed. */
        fv_free(c->e);
        c->e = e;
        c->start = 0;
        c->n = total;
        c->cap = total;
        ring_free(o);
    }
    fv_free(old->slots);
    memset(old, 0, sizeof *old);
    return dropped;
}

/* ------------------------------------------------------------------------ */
/* Flushing                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct flush_tx {
    fv_arena *a;
    const fv_db_insert_heartbeats_params *ins;
    const fv_db_trim_heartbeats_params *trim;
} flush_tx;

static fv_err flush_fn(fv_pg_conn *c, void *user, fv_error *err)
{
    flush_tx *t = user;
    fv_err rc = fv_db_insert_heartbeats(c, t->a, t->ins, err);
    if (rc == FV_OK)
        rc = fv_db_trim_heartbeats(c, t->a, t->trim, err);
    return rc;
}

/* Write the rings of `m` (one batch); FV_OK or why not. */
static fv_err write_batch(fv__pg_hb *h, const hb_map *m, fv_error *err)
{
    fv_arena a;
    fv_err rc = fv__pg_scratch_init(&a, err);
    if (rc != FV_OK)
        return rc;
    size_t n = m->entries;
    fv_uuid *workers = fv_arena_calloc(&a, n + 1, sizeof *workers);
    int64_t *ats = fv_arena_calloc(&a, n + 1, sizeof *ats);
    const char **healths = fv_arena_calloc(&a, n + 1, sizeof *healths);
    fv_uuid *distinct = fv_arena_calloc(&a, m->n + 1, sizeof *distinct);
    if (workers == NULL || ats == NULL || healths == NULL || distinct == NULL) {
        rc = fv__pg_exhausted(err);
        goto done;
    }
    size_t k = 0, d = 0;
    for (size_t i = 0; i < m->cap; i++) {
        const hb_ring *r = m->slots[i];
        if (r == NULL || r->n == 0)
            continue;
        distinct[d++] = r->worker;
        for (size_t j = 0; j < r->n && k < n; j++) {
            const hb_entry *e = &r->e[(r->start + j) % r->cap];
            workers[k] = r->worker;
            ats[k] = e->at;
            healths[k] = e->health;
            k++;
        }
    }
    if (k == 0)
        goto done;
    fv_db_uuid_array wa = {workers, k};
    fv_db_int64_array ta = {ats, NULL, k};
    fv_db_text_array ha = {healths, k};
    fv_db_insert_heartbeats_params ins = {.worker_ids = &wa, .ats = &ta, .health_infos = &ha};
    fv_db_uuid_array da = {distinct, d};
    fv_db_trim_heartbeats_params trim = {.worker_ids = &da, .keep = (int64_t)h->keep};
    flush_tx t = {&a, &ins, &trim};
    rc = fv_pg_tx(h->s->pool, false, flush_fn, &t, err);
done:
    fv_arena_release(&a);
    return rc;
}

/* Take the buffer, write it, put it back if that failed; FV_OK or why
 * not (logged). */
static fv_err flush_now(fv__pg_hb *h, fv_error *out)
{
    fv_err rc = FV_OK;
    pthread_rwlock_wrlock(&h->io);
    pthread_mutex_lock(&h->mu);
    hb_map batch = h->buf;
    memset(&h->buf, 0, sizeof h->buf);
    pthread_mutex_unlock(&h->mu);
    size_t count = batch.entries;
    if (count > 0) {
        fv_error err;
        fv_error_clear(&err);
        rc = write_batch(h, &batch, &err);
        if (rc != FV_OK && out != NULL)
            *out = err;
        if (rc != FV_OK) {
            pthread_mutex_lock(&h->mu);
            size_t dropped = map_merge_back(&h->buf, &batch, h->keep);
            pthread_mutex_unlock(&h->mu);
            fv__pg_log(h->s, FV_PG_LOG_WARN,
                       "could not write %zu buffered heartbeats (kept for the next flush, "
                       "%zu dropped): %s: %s",
                       count, dropped, fv_err_name(rc), err.msg);
        }
    }
    map_release(&batch);
    pthread_rwlock_unlock(&h->io);
    return rc;
}

void fv__pg_hb_drop_buffered(fv_pg_store *s, const fv_uuid *workers, size_t n)
{
    fv__pg_hb *h = s->hb;
    if (n == 0 || h == NULL)
        return;
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < n; i++) {
        hb_ring *r = map_find(&h->buf, &workers[i]);
        if (r != NULL)
            ring_clear(r, &h->buf.entries);
    }
    pthread_mutex_unlock(&h->mu);
}

static void *flusher(void *arg)
{
    fv__pg_hb *h = arg;
    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += h->s->flush_ms / 1000;
        until.tv_nsec += (long)(h->s->flush_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!h->stop && pthread_cond_timedwait(&h->wake, &h->mu, &until) != ETIMEDOUT)
            ;
        if (h->stop)
            break;
        bool pending = h->buf.entries > 0;
        pthread_mutex_unlock(&h->mu);
        if (pending || fv__pg_touches_pending(h->s) > 0) {
            fv_error err;
            fv_error_clear(&err);
            (void)fv__pg_hb_flush(h->s, &err); /* logged; kept for the next one */
        }
        pthread_mutex_lock(&h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

fv_err fv__pg_hb_start(fv_pg_store *s, fv_error *err)
{
    fv__pg_hb *h = fv_calloc(1, sizeof *h);
    if (h == NULL)
        return fv__pg_exhausted(err);
    h->s = s;
    h->keep = s->heartbeat_history_max;
    pthread_condattr_t ca;
    bool mu = false, io = false, cv = false;
    mu = pthread_mutex_init(&h->mu, NULL) == 0;
    io = mu && pthread_rwlock_init(&h->io, NULL) == 0;
    if (io && pthread_condattr_init(&ca) == 0) {
        cv = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
             pthread_cond_init(&h->wake, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (cv && pthread_create(&h->thread, NULL, flusher, h) == 0) {
        h->started = true;
        s->hb = h;
        return FV_OK;
    }
    if (cv)
        pthread_cond_destroy(&h->wake);
    if (io)
        pthread_rwlock_destroy(&h->io);
    if (mu)
        pthread_mutex_destroy(&h->mu);
    fv_free(h);
    return fv_error_set(err, FV_E_EXHAUSTED, "could not start the heartbeat flusher");
}

void fv__pg_hb_stop(fv_pg_store *s)
{
    fv__pg_hb *h = s->hb;
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = true;
    pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->mu);
    if (h->started)
        pthread_join(h->thread, NULL);
    fv_error err;
    fv_error_clear(&err);
    (void)fv__pg_hb_flush(s, &err);
    size_t touches = fv__pg_touches_pending(s);
    if (h->buf.entries > 0 || touches > 0)
        fv__pg_log(s, FV_PG_LOG_ERROR,
                   "%zu heartbeats and the signs of life of %zu workers could not be written at "
                   "shutdown",
                   h->buf.entries, touches);
    map_release(&h->buf);
    pthread_cond_destroy(&h->wake);
    pthread_rwlock_destroy(&h->io);
    pthread_mutex_destroy(&h->mu);
    fv_free(h);
    s->hb = NULL;
}

fv_err fv__pg_hb_flush(fv_pg_store *s, fv_error *err)
{
    /* Signs of life first, each in its own transaction, so that a flush of
     * touches (its row locks) never waits for a large batch of history. */
    fv_err rc = fv__pg_touches_flush(s, err);
    fv_err hrc = flush_now(s->hb, rc == FV_OK ? err : NULL);
    return rc != FV_OK ? rc : hrc;
}

/* ------------------------------------------------------------------------ */
/* Ops                                                                       */
/* ------------------------------------------------------------------------ */

static fv_err op_record(void *self, const fv_uuid *worker_id, fv_time at, fv_json health,
                        fv_error *err)
{
    fv_pg_store *s = self;
    fv__pg_hb *h = s->hb;
    hb_entry e = {at, NULL, 0};
    if (health.p != NULL) {
        e.health = fv_strndup(health.p, health.n);
        if (e.health == NULL)
            return fv__pg_exhausted(err);
        e.health_n = health.n;
    }
    pthread_mutex_lock(&h->mu);
    hb_ring *r = map_find(&h->buf, worker_id);
    if (r == NULL) {
        r = fv_calloc(1, sizeof *r);
        if (r == NULL || !map_reserve(&h->buf) || !ring_reserve(r, h->keep)) {
            pthread_mutex_unlock(&h->mu);
            ring_free(r);
            fv_free(e.health);
            return fv__pg_exhausted(err);
        }
        r->worker = *worker_id;
        *map_slot(&h->buf, worker_id) = r;
        h->buf.n++;
    } else if (!ring_reserve(r, h->keep)) {
        pthread_mutex_unlock(&h->mu);
        fv_free(e.health);
        return fv__pg_exhausted(err);
    }
    ring_push(r, &e, &h->buf.entries);
    pthread_mutex_unlock(&h->mu);
    return FV_OK;
}

/* At most `limit` heartbeats of a worker, newest first: the buffered ones,
 * then the table's; never more than the retention bound. */
static fv_err read_history(fv__pg_hb *h, fv_arena *a, const fv_uuid *worker_id, size_t limit,
                           fv_heartbeat_list *out, fv_error *err)
{
    *out = (fv_heartbeat_list){NULL, 0};
    if (limit > h->keep)
        limit = h->keep;
    fv_heartbeat *items = fv_arena_calloc(a, limit ? limit : 1, sizeof *items);
    if (items == NULL)
        return fv__pg_exhausted(err);
    fv_err rc = FV_OK;
    size_t n = 0;
    pthread_rwlock_rdlock(&h->io);
    pthread_mutex_lock(&h->mu);
    const hb_ring *r = map_find(&h->buf, worker_id);
    for (size_t j = r != NULL ? r->n : 0; j > 0 && n < limit; j--) {
        const hb_entry *e = &r->e[(r->start + j - 1) % r->cap];
        items[n].worker_id = *worker_id;
        items[n].at = e->at;
        items[n].health_info = FV_JSON_NONE;
        if (e->health != NULL) {
            char *copy = fv_arena_memdup(a, e->health, e->health_n + 1);
            if (copy == NULL) {
                rc = fv__pg_exhausted(err);
                break;
            }
            items[n].health_info = (fv_json){copy, e->health_n};
        }
        n++;
    }
    pthread_mutex_unlock(&h->mu);
    if (rc == FV_OK && n < limit) {
        fv_db_heartbeat_history_params p = {.worker_id = worker_id,
                                            .max_rows = (int64_t)(limit - n)};
        fv_db_heartbeat_history_row *rows;
        size_t m;
        rc = fv_db_heartbeat_history_on(h->s->pool, a, &p, &rows, &m, err);
        for (size_t i = 0; rc == FV_OK && i < m && n < limit; i++, n++) {
            items[n].worker_id = *worker_id;
            items[n].at = rows[i].at;
            items[n].health_info = fv__pg_json_of(rows[i].health_info);
        }
    }
    pthread_rwlock_unlock(&h->io);
    if (rc == FV_OK)
        *out = (fv_heartbeat_list){items, n};
    return rc;
}

static fv_err op_last(void *self, fv_arena *a, const fv_uuid *worker_id, fv_heartbeat *out,
                      fv_error *err)
{
    fv_pg_store *s = self;
    fv_heartbeat_list l;
    fv_err rc = read_history(s->hb, a, worker_id, 1, &l, err);
    if (rc != FV_OK)
        return rc;
    if (l.n == 0) {
        char id[FV_UUID_STR_LEN + 1];
        fv_uuid_format(worker_id, id);
        return fv_error_set(err, FV_E_NOT_FOUND, "worker %s has no heartbeat", id);
    }
    *out = l.items[0];
    return FV_OK;
}

static fv_err op_history(void *self, fv_arena *a, const fv_uuid *worker_id, size_t limit,
                         fv_heartbeat_list *out, fv_error *err)
{
    fv_pg_store *s = self;
    return read_history(s->hb, a, worker_id, limit, out, err);
}

static fv_err op_forget(void *self, const fv_uuid *worker_id, fv_error *err)
{
    fv_pg_store *s = self;
    fv__pg_hb *h = s->hb;
    fv_arena a;
    fv_err rc = fv__pg_scratch_init(&a, err);
    /* No flush runs meanwhile, so none can write this worker's heartbeats
     * back after the delete. */
    pthread_rwlock_wrlock(&h->io);
    if (rc == FV_OK)
        rc = fv_db_forget_heartbeats_on(s->pool, &a, worker_id, err);
    if (rc == FV_OK) {
        pthread_mutex_lock(&h->mu);
        hb_ring *r = map_find(&h->buf, worker_id);
        if (r != NULL)
            ring_clear(r, &h->buf.entries);
        pthread_mutex_unlock(&h->mu);
    }
    pthread_rwlock_unlock(&h->io);
    fv_arena_release(&a);
    return rc;
}

static const fv_heartbeat_store_ops heartbeat_ops = {
    .record = op_record,
    .last = op_last,
    .history = op_history,
    .forget = op_forget,
};

fv_heartbeat_store fv__pg_heartbeat_store(fv_pg_store *s)
{
    return (fv_heartbeat_store){&heartbeat_ops, s};
}
