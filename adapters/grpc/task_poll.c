/* The long-poll hub of PollTask (task_poll.h). */
#include "adapters/grpc/task_poll.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "adapters/grpc/pb_map.h"
#include "adapters/grpc/svc_call.h"
#include "core/usecases/task_usecases.h"
#include "core/usecases/worker_usecases.h"
#include "core/util/alloc.h"
#include "core/util/arena.h"
#include "flovyn.pb-c.h"

/* Chains of the (tenant, queue) table of queues with waiters. */
#define QUEUE_BUCKETS 256
/* Slots of the notice stamps (a collision only costs one extra claim). */
#define STAMP_SLOTS 1024
/* Arena of the hub thread's claims: a task (1 MiB of input at most, its
 * metadata) and its encoded answer, reset after each claim. */
#define CLAIM_ARENA_CAP ((size_t)32 * 1024 * 1024)
/* A scheduled task further ahead than this is looked at again then. */
#define NEXT_AT_HORIZON_MS ((int64_t)24 * 3600 * 1000)

typedef struct queue_ent queue_ent;

/* One parked poll; lives in its call's arena, which stays alive while the
 * call's cancel hook runs (grpc_server.c holds a reference then). The links
 * and flags are guarded by the hub's mutex; what the poll waits for (call,
 * hub, end, tenant, queue, worker) is set before it is listed and never
 * changes. */
typedef struct waiter {
    fv_grpc_call *call;
    fv_task_poll_hub *hub;
    queue_ent *q;
    struct waiter *prev, *next; /* the queue's FIFO */
    size_t heap_at;             /* index in the hub's heap */
    int64_t end_ms;
    fv_uuid tenant;
    const char *queue;
    const char *worker_id;
    bool listed; /* in the queue and the heap */
    bool busy;   /* the hub thread is claiming for it (unlocked) */
    bool hooked; /* its cancel hook ran while it was busy */
    fv_grpc_cancel_reason why;
} waiter;

/* A (tenant, queue) with at least one waiter; freed with its last. */
struct queue_ent {
    fv_uuid tenant;
    char *queue; /* owned */
    uint64_t hash;
    queue_ent *chain;
    waiter *head, *tail;
    bool marked; /* in the hub's marked list: claim for its waiters */
    queue_ent *mprev, *mnext;
    int64_t next_at_ms; /* a scheduled task becomes claimable (monotonic); INT64_MAX none */
};

struct fv_task_poll_hub {
    const fv_deps *deps;
    int64_t max_wait_ms;
    fv_grpc_log_fn log;
    void *log_user;
    fv_bus_sub *sub;
    pthread_t thread;
    bool started;
    fv_arena arena; /* the hub thread's */

    _Atomic uint64_t seq; /* notices recorded: the tickets */

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;  /* CLOCK_MONOTONIC; the hub thread waits on it */
    bool stop;
    bool sleeping;       /* the hub thread waits on cv ... */
    int64_t sleep_until; /* ... until then (INT64_MAX: until signalled) */
    uint64_t stamps[STAMP_SLOTS];
    uint64_t resync_stamp;
    queue_ent *buckets[QUEUE_BUCKETS];
    queue_ent *marked_head, *marked_tail;
    int64_t next_at_min; /* lower bound of every queue's next_at_ms */
    waiter **heap;       /* min-heap by end_ms */
    size_t n_heap, cap_heap;
    int64_t touch_every_ms; /* parked polls are signs of life this often */
    int64_t next_touch_ms;
    fv_arena touch_arena; /* the hub thread's, for touch_parked */
};

static void hub_log(const fv_task_poll_hub *h, fv_grpc_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void hub_log(const fv_task_poll_hub *h, fv_grpc_log_level level, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    if (h->log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    h->log(h->log_user, level, line);
}

/* ---- the table of queues ---------------------------------------------- */

static uint64_t key_hash(const fv_uuid *tenant, const char *queue)
{
    uint64_t x = fv_uuid_hash(tenant) ^ 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)queue; *p != '\0'; p++) {
        x ^= *p;
        x *= 1099511628211ULL;
    }
    return x;
}

static queue_ent *queue_find(fv_task_poll_hub *h, const fv_uuid *tenant, const char *queue,
                             uint64_t hash)
{
    for (queue_ent *q = h->buckets[hash % QUEUE_BUCKETS]; q != NULL; q = q->chain) {
        if (q->hash == hash && fv_uuid_eq(&q->tenant, tenant) && strcmp(q->queue, queue) == 0)
            return q;
    }
    return NULL;
}

/* The queue's entry, created when missing; NULL when out of memory. */
static queue_ent *queue_get(fv_task_poll_hub *h, const fv_uuid *tenant, const char *queue,
                            uint64_t hash)
{
    queue_ent *q = queue_find(h, tenant, queue, hash);
    if (q != NULL)
        return q;
    q = fv_calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    q->queue = fv_strdup(queue);
    if (q->queue == NULL) {
        fv_free(q);
        return NULL;
    }
    q->tenant = *tenant;
    q->hash = hash;
    q->next_at_ms = INT64_MAX;
    q->chain = h->buckets[hash % QUEUE_BUCKETS];
    h->buckets[hash % QUEUE_BUCKETS] = q;
    return q;
}

static void mark(fv_task_poll_hub *h, queue_ent *q)
{
    if (q->marked)
        return;
    q->marked = true;
    q->mnext = NULL;
    q->mprev = h->marked_tail;
    if (h->marked_tail != NULL)
        h->marked_tail->mnext = q;
    else
        h->marked_head = q;
    h->marked_tail = q;
}

static void unmark(fv_task_poll_hub *h, queue_ent *q)
{
    if (!q->marked)
        return;
    if (q->mprev != NULL)
        q->mprev->mnext = q->mnext;
    else
        h->marked_head = q->mnext;
    if (q->mnext != NULL)
        q->mnext->mprev = q->mprev;
    else
        h->marked_tail = q->mprev;
    q->marked = false;
    q->mprev = q->mnext = NULL;
}

/* Free an entry that has no waiter left. */
static void queue_drop(fv_task_poll_hub *h, queue_ent *q)
{
    queue_ent **pp = &h->buckets[q->hash % QUEUE_BUCKETS];
    while (*pp != q)
        pp = &(*pp)->chain;
    *pp = q->chain;
    unmark(h, q);
    fv_free(q->queue);
    fv_free(q);
}

/* ---- the heap of wait ends --------------------------------------------- */

static void heap_set(fv_task_poll_hub *h, size_t i, waiter *w)
{
    h->heap[i] = w;
    w->heap_at = i;
}

static void heap_up(fv_task_poll_hub *h, size_t i)
{
    waiter *w = h->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->heap[parent]->end_ms <= w->end_ms)
            break;
        heap_set(h, i, h->heap[parent]);
        i = parent;
    }
    heap_set(h, i, w);
}

static void heap_down(fv_task_poll_hub *h, size_t i)
{
    waiter *w = h->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n_heap)
            break;
        if (c + 1 < h->n_heap && h->heap[c + 1]->end_ms < h->heap[c]->end_ms)
            c++;
        if (w->end_ms <= h->heap[c]->end_ms)
            break;
        heap_set(h, i, h->heap[c]);
        i = c;
    }
    heap_set(h, i, w);
}

static bool heap_reserve(fv_task_poll_hub *h)
{
    if (h->n_heap < h->cap_heap)
        return true;
    size_t cap = h->cap_heap == 0 ? 64 : h->cap_heap * 2;
    waiter **heap = fv_realloc(h->heap, cap * sizeof *heap);
    if (heap == NULL)
        return false;
    h->heap = heap;
    h->cap_heap = cap;
    return true;
}

static void heap_remove(fv_task_poll_hub *h, waiter *w)
{
    size_t i = w->heap_at;
    waiter *last = h->heap[--h->n_heap];
    if (i == h->n_heap)
        return;
    heap_set(h, i, last);
    if (i > 0 && h->heap[(i - 1) / 2]->end_ms > last->end_ms)
        heap_up(h, i);
    else
        heap_down(h, i);
}

/* ---- waiters ------------------------------------------------------------ */

/* Take a listed waiter out of its queue and the heap (the caller then
 * completes its call). Returns true when that freed its queue's entry. */
static bool unlink_waiter(fv_task_poll_hub *h, waiter *w)
{
    queue_ent *q = w->q;
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->prev = w->next = NULL;
    heap_remove(h, w);
    w->listed = false;
    w->q = NULL;
    if (q->head != NULL)
        return false;
    queue_drop(h, q);
    return true;
}

void fv_task_poll_reply_empty(fv_grpc_call *call)
{
    /* An empty PollTaskResponse (no task) is zero bytes. */
    fv_grpc_call_reply(call, NULL, 0);
}

/* The answer to a waiter whose client went away, or at shutdown. */
static void complete_gone(fv_grpc_call *call, fv_grpc_cancel_reason why)
{
    switch (why) {
    case FV_GRPC_CANCEL_SHUTDOWN:
        fv_task_poll_reply_empty(call);
        return;
    case FV_GRPC_CANCEL_CLIENT:
        break;
    }
    fv_grpc_call_fail(call, GRPC_STATUS_CANCELLED, "the poll was cancelled");
}

static void on_cancel(fv_grpc_call *call, fv_grpc_cancel_reason why, void *user)
{
    waiter *w = user;
    fv_task_poll_hub *h = w->hub;
    bool mine = false;

    pthread_mutex_lock(&h->mu);
    if (w->listed) {
        if (w->busy) {
            /* The hub thread completes it after its claim. */
            w->hooked = true;
            w->why = why;
        } else {
            unlink_waiter(h, w);
            mine = true;
        }
    }
    pthread_mutex_unlock(&h->mu);
    if (mine)
        complete_gone(call, why);
}

static void wake(fv_task_poll_hub *h)
{
    if (h->sleeping)
        pthread_cond_signal(&h->cv);
}

/* A wall-clock time (the claim's next_at) on the monotonic clock. */
static int64_t wall_to_mono(const fv_task_poll_hub *h, fv_time at)
{
    if (at == FV_TIME_NONE)
        return INT64_MAX;
    fv_time now = fv_clock_now(h->deps->clock);
    int64_t delta;
    if (at <= now)
        delta = 0;
    else if (at - now > NEXT_AT_HORIZON_MS)
        delta = NEXT_AT_HORIZON_MS;
    else
        delta = at - now;
    return fv_grpc_monotonic_ms() + delta;
}

static void set_next_at(fv_task_poll_hub *h, queue_ent *q, int64_t at_ms)
{
    if (at_ms < q->next_at_ms)
        q->next_at_ms = at_ms;
    if (at_ms < h->next_at_min)
        h->next_at_min = at_ms;
}

/* ---- the bus subscriber -------------------------------------------------- */

static void on_notice(void *user, const fv_bus_msg *m)
{
    fv_task_poll_hub *h = user;
    bool marked = false;

    if (m->kind != FV_BUS_QUEUE && m->kind != FV_BUS_RESYNC)
        return; /* task events concern live streams */
    if (m->kind == FV_BUS_QUEUE && m->queue == NULL)
        return;
    pthread_mutex_lock(&h->mu);
    uint64_t s = atomic_load(&h->seq) + 1;
    atomic_store(&h->seq, s);
    if (m->kind == FV_BUS_QUEUE) {
        uint64_t hash = key_hash(&m->tenant_id, m->queue);
        h->stamps[hash % STAMP_SLOTS] = s;
        queue_ent *q = queue_find(h, &m->tenant_id, m->queue, hash);
        if (q != NULL) {
            mark(h, q);
            marked = true;
        }
    } else {
        h->resync_stamp = s;
        for (size_t b = 0; b < QUEUE_BUCKETS; b++) {
            for (queue_ent *q = h->buckets[b]; q != NULL; q = q->chain) {
                mark(h, q);
                marked = true;
            }
        }
    }
    if (marked)
        wake(h);
    pthread_mutex_unlock(&h->mu);
}

/* ---- parking ------------------------------------------------------------- */

uint64_t fv_task_poll_ticket(fv_task_poll_hub *h)
{
    return h != NULL ? atomic_load(&h->seq) : 0;
}

int64_t fv_task_poll_wait_end(const fv_task_poll_hub *h, fv_grpc_call *call,
                              int64_t timeout_seconds)
{
    int64_t now = fv_grpc_monotonic_ms();
    if (h == NULL || timeout_seconds <= 0 || h->max_wait_ms <= 0)
        return now;
    int64_t want =
        timeout_seconds > h->max_wait_ms / 1000 ? h->max_wait_ms : timeout_seconds * 1000;
    int64_t end = now + want;
    int64_t deadline = fv_grpc_call_deadline_ms(call);
    if (deadline != INT64_MAX && deadline - FV_TASK_POLL_DEADLINE_MARGIN_MS < end)
        end = deadline - FV_TASK_POLL_DEADLINE_MARGIN_MS;
    return end;
}

void fv_task_poll_park(fv_task_poll_hub *h, fv_grpc_call *call, const fv_task_poll_wait *in)
{
    waiter *w = fv_arena_calloc(fv_grpc_call_arena(call), 1, sizeof *w);
    if (w == NULL) {
        hub_log(h, FV_GRPC_LOG_WARN, "PollTask: out of memory parking a poll; answered empty");
        fv_task_poll_reply_empty(call);
        return;
    }
    w->call = call;
    w->hub = h;
    w->end_ms = in->end_ms;
    w->tenant = in->tenant;
    w->queue = in->queue;
    w->worker_id = in->worker_id;
    int64_t next_at_ms = wall_to_mono(h, in->next_at);
    uint64_t hash = key_hash(&in->tenant, in->queue);

    pthread_mutex_lock(&h->mu);
    queue_ent *q = h->stop ? NULL : queue_get(h, &in->tenant, in->queue, hash);
    if (q == NULL || !heap_reserve(h)) {
        if (q != NULL && q->head == NULL)
            queue_drop(h, q);
        bool stopping = h->stop;
        pthread_mutex_unlock(&h->mu);
        if (!stopping)
            hub_log(h, FV_GRPC_LOG_WARN, "PollTask: out of memory parking a poll; answered empty");
        fv_task_poll_reply_empty(call);
        return;
    }
    w->q = q;
    w->prev = q->tail;
    if (q->tail != NULL)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
    h->n_heap++;
    heap_set(h, h->n_heap - 1, w);
    heap_up(h, h->n_heap - 1);
    w->listed = true;
    /* Under the hub's mutex: a hook that runs from now on finds the waiter
     * listed (grpc_server.h's park pattern). */
    if (!fv_grpc_call_on_cancel(call, on_cancel, w)) {
        unlink_waiter(h, w);
        pthread_mutex_unlock(&h->mu);
        fv_task_poll_reply_empty(call); /* cancelled (dropped) or stopping */
        return;
    }
    /* A notice for this queue after the ticket: its task may have been
     * submitted after the handler's claim looked. */
    if (h->stamps[hash % STAMP_SLOTS] > in->ticket || h->resync_stamp > in->ticket)
        mark(h, q);
    if (next_at_ms != INT64_MAX)
        set_next_at(h, q, next_at_ms);
    if (h->sleeping && (q->marked || w->end_ms < h->sleep_until || q->next_at_ms < h->sleep_until))
        pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* ---- the hub thread ------------------------------------------------------ */

/* Encode a PollTaskResponse with the task into the hub's arena. */
static fv_err encode_task(fv_task_poll_hub *h, const fv_task *t, uint8_t **bytes, size_t *n,
                          fv_error *err)
{
    Flovyn__V1__TaskExecutionInfo info;
    Flovyn__V1__PollTaskResponse resp = FLOVYN__V1__POLL_TASK_RESPONSE__INIT;
    fv_err rc = fv_pb_from_task_info(&h->arena, t, &info, err);
    if (rc != FV_OK)
        return rc;
    resp.task = &info;
    *n = protobuf_c_message_get_packed_size(&resp.base);
    *bytes = fv_arena_alloc(&h->arena, *n == 0 ? 1 : *n);
    if (*bytes == NULL)
        return fv_error_set(err, FV_E_EXHAUSTED, "out of memory encoding the answer");
    *n = protobuf_c_message_pack(&resp.base, *bytes);
    return FV_OK;
}

/*
 * Claim for the waiters of a marked queue, oldest first, until a claim
 * finds nothing (the queue is empty for now) or the queue has no waiter
 * left. Called and returns with the mutex held; releases it around each
 * claim and each completion. The waiter being served stays listed (busy),
 * so its queue entry cannot be freed meanwhile.
 */
static void serve_queue(fv_task_poll_hub *h, queue_ent *q)
{
    while (!h->stop) {
        waiter *w = q->head;
        fv_task task;
        fv_error err;
        fv_time next_at = FV_TIME_NONE;
        bool found = false, gone;
        uint8_t *bytes = NULL;
        size_t n = 0;
        fv_err rc = FV_OK;

        w->busy = true;
        pthread_mutex_unlock(&h->mu);

        fv_error_clear(&err);
        /* A client already gone gets no task claimed for it. */
        gone = fv_grpc_call_is_cancelled(w->call);
        if (!gone)
            rc = fv_task_claim(h->deps, &h->arena, &w->tenant, w->queue, w->worker_id, &task,
                               &found, &next_at, &err);
        if (rc == FV_OK && found)
            rc = encode_task(h, &task, &bytes, &n, &err);
        int64_t next_at_ms = rc == FV_OK && !found ? wall_to_mono(h, next_at) : INT64_MAX;

        pthread_mutex_lock(&h->mu);
        w->busy = false;
        if (rc == FV_OK && !found && !gone && !w->hooked) {
            /* Nothing to claim: the waiter keeps waiting. */
            fv_arena_reset(&h->arena);
            if (next_at_ms != INT64_MAX)
                set_next_at(h, q, next_at_ms);
            return;
        }
        bool hooked = w->hooked;
        fv_grpc_cancel_reason why = w->why;
        fv_grpc_call *call = w->call;
        bool freed = unlink_waiter(h, w);
        pthread_mutex_unlock(&h->mu);

        if (rc != FV_OK)
            fv_svc_fail_call(call, h->log, h->log_user, rc, &err);
        else if (found)
            fv_grpc_call_reply(call, bytes, n); /* dropped if the client has gone */
        else if (gone)
            fv_grpc_call_fail(call, GRPC_STATUS_CANCELLED, "the poll was cancelled");
        else if (hooked)
            complete_gone(call, why);
        fv_arena_reset(&h->arena);

        pthread_mutex_lock(&h->mu);
        if (freed)
            return;
        if (rc != FV_OK || (!found && !gone)) {
            /* A failed claim or an empty queue: the others keep waiting. */
            if (next_at_ms != INT64_MAX)
                set_next_at(h, q, next_at_ms);
            return;
        }
    }
}

/* Mark the queues whose scheduled task became claimable; recompute the
 * lower bound of the others. */
static void mark_due(fv_task_poll_hub *h, int64_t now)
{
    int64_t min = INT64_MAX;
    for (size_t b = 0; b < QUEUE_BUCKETS; b++) {
        for (queue_ent *q = h->buckets[b]; q != NULL; q = q->chain) {
            if (q->next_at_ms <= now) {
                q->next_at_ms = INT64_MAX;
                mark(h, q);
            } else if (q->next_at_ms < min) {
                min = q->next_at_ms;
            }
        }
    }
    h->next_at_min = min;
}

/* A parked poll is a sign of life of the worker it names (decision 6), all
 * the time it waits, not only when it arrives: otherwise a worker that only
 * polls, with polls as long as the OFFLINE threshold, would read DEGRADED
 * and OFFLINE while it waits, and the reclaim job would take its running
 * tasks. Called and returns with the mutex held; the signs of life are
 * recorded without it (they may reach storage). */
static void touch_parked(fv_task_poll_hub *h)
{
    typedef struct {
        fv_uuid tenant;
        const char *worker_id;
    } who;
    size_t n = h->n_heap;
    who *list = fv_arena_calloc(&h->touch_arena, n ? n : 1, sizeof *list);
    size_t k = 0;
    for (size_t i = 0; list != NULL && i < n; i++) {
        const waiter *w = h->heap[i];
        /* Consecutive duplicates are common (one worker, several slots). */
        if (k > 0 && fv_uuid_eq(&list[k - 1].tenant, &w->tenant) &&
            strcmp(list[k - 1].worker_id, w->worker_id) == 0)
            continue;
        const char *copy = fv_arena_strdup(&h->touch_arena, w->worker_id);
        if (copy == NULL)
            break;
        list[k++] = (who){w->tenant, copy};
    }
    pthread_mutex_unlock(&h->mu);
    for (size_t i = 0; i < k; i++)
        (void)fv_worker_record_poll(h->deps, &list[i].tenant, list[i].worker_id, NULL);
    fv_arena_reset(&h->touch_arena);
    pthread_mutex_lock(&h->mu);
}

static void *hub_main(void *arg)
{
    fv_task_poll_hub *h = arg;

    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        int64_t now = fv_grpc_monotonic_ms();

        /* Ended waits first: answering one is cheap, and a stream of
         * notices must not keep a poll waiting past its end. */
        if (h->n_heap > 0 && h->heap[0]->end_ms <= now) {
            waiter *w = h->heap[0];
            fv_grpc_call *call = w->call;
            unlink_waiter(h, w);
            pthread_mutex_unlock(&h->mu);
            fv_task_poll_reply_empty(call);
            pthread_mutex_lock(&h->mu);
            continue;
        }
        if (h->marked_head != NULL) {
            queue_ent *q = h->marked_head;
            unmark(h, q);
            serve_queue(h, q);
            continue;
        }
        if (h->next_at_min <= now) {
            mark_due(h, now);
            continue;
        }
        if (h->n_heap > 0 && h->next_touch_ms <= now) {
            h->next_touch_ms = now + h->touch_every_ms;
            touch_parked(h);
            continue;
        }
        if (h->n_heap == 0)
            h->next_touch_ms = now + h->touch_every_ms; /* the first waiter just arrived */

        int64_t until = h->n_heap > 0 ? h->heap[0]->end_ms : INT64_MAX;
        if (h->n_heap > 0 && h->next_touch_ms < until)
            until = h->next_touch_ms;
        if (h->next_at_min < until)
            until = h->next_at_min;
        h->sleeping = true;
        h->sleep_until = until;
        if (until == INT64_MAX) {
            pthread_cond_wait(&h->cv, &h->mu);
        } else {
            struct timespec ts = {(time_t)(until / 1000), (long)(until % 1000) * 1000000L};
            pthread_cond_timedwait(&h->cv, &h->mu, &ts);
        }
        h->sleeping = false;
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* ---- lifetime ------------------------------------------------------------ */

fv_task_poll_hub *fv_task_poll_hub_new(const fv_task_poll_config *cfg, fv_error *err)
{
    fv_task_poll_hub *h;
    pthread_condattr_t ca;
    fv_err rc;
    int e;

    if (cfg == NULL || cfg->deps == NULL || cfg->max_wait_ms < 0) {
        fv_error_set(err, FV_E_INVALID, "the poll hub needs the deps and a wait cap >= 0");
        return NULL;
    }
    h = fv_calloc(1, sizeof *h);
    if (h == NULL) {
        fv_error_set(err, FV_E_EXHAUSTED, "could not create the poll hub: out of memory");
        return NULL;
    }
    h->deps = cfg->deps;
    h->max_wait_ms = cfg->max_wait_ms;
    h->log = cfg->log;
    h->log_user = cfg->log_user;
    h->next_at_min = INT64_MAX;
    h->sleep_until = INT64_MAX;
    atomic_init(&h->seq, 0);
    fv_arena_init(&h->arena, CLAIM_ARENA_CAP);
    fv_arena_init(&h->touch_arena, 0);
    /* Well within the DEGRADED threshold, at most every second. */
    h->touch_every_ms = h->deps->liveness.degraded_after_ms / 3;
    if (h->touch_every_ms < 1000)
        h->touch_every_ms = 1000;
    if (h->touch_every_ms > 15000)
        h->touch_every_ms = 15000;
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);

    rc = fv_task_watch(h->deps, on_notice, h, &h->sub, err);
    if (rc != FV_OK) {
        h->sub = NULL;
        fv_task_poll_hub_free(h);
        return NULL;
    }
    e = pthread_create(&h->thread, NULL, hub_main, h);
    if (e != 0) {
        fv_error_set(err, FV_E_EXHAUSTED, "could not start the poll hub thread (error %d)", e);
        fv_task_poll_hub_free(h);
        return NULL;
    }
    h->started = true;
    return h;
}

void fv_task_poll_hub_free(fv_task_poll_hub *h)
{
    if (h == NULL)
        return;
    /* No callback runs once this returns. */
    if (h->sub != NULL)
        fv_task_unwatch(h->deps, h->sub);
    h->sub = NULL;
    pthread_mutex_lock(&h->mu);
    h->stop = true;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    if (h->started)
        pthread_join(h->thread, NULL);

    /* Waiters are left only when the server still runs (freed too early):
     * answer them rather than leave them hanging. */
    pthread_mutex_lock(&h->mu);
    while (h->n_heap > 0) {
        waiter *w = h->heap[0];
        fv_grpc_call *call = w->call;
        unlink_waiter(h, w);
        pthread_mutex_unlock(&h->mu);
        fv_task_poll_reply_empty(call);
        pthread_mutex_lock(&h->mu);
    }
    pthread_mutex_unlock(&h->mu);

    fv_free(h->heap);
    fv_arena_release(&h->arena);
    fv_arena_release(&h->touch_arena);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    fv_free(h);
}
