/*
 * The in-memory event bus (ports/event_bus.h): the subscribers of this
 * process, called synchronously by publish.
 *
 * One mutex guards the subscriber list and is held by publish for the
 * whole delivery. That gives the port's guarantees at once: callbacks run
 * one at a time (so one at a time per subscriber), every subscriber sees
 * the notices in the order they were published, and unsubscribe, which
 * takes the same mutex, returns only when the callback is not running, and
 * after it removed the subscription, so the callback never runs again.
 * Callbacks are quick by contract (they hand work to their own thread), so
 * holding the mutex while calling them costs publishers little; a
 * readers-writer lock would let two publishers run one subscriber's callback
 * at once, which the port forbids.
 *
 * The price, documented in mem_store.h: a callback must not publish,
 * subscribe or unsubscribe on this bus (the mutex is not recursive), nor
 * wait for a lock that a publisher may hold while publishing.
 */
#include "adapters/memory/mem_store.h"

#include <pthread.h>

#include "adapters/memory/mem_store_int.h"
#include "core/util/alloc.h"

struct fv_bus_sub {
    fv_bus_fn fn;
    void *user;
};

struct fv_mem_bus {
    pthread_mutex_t lock;
    fv__mem_vec subs; /* fv_bus_sub *, in subscription order */
};

fv_mem_bus *fv_mem_bus_new(fv_error *err)
{
    fv_mem_bus *b = fv_calloc(1, sizeof *b);
    if (b == NULL) {
        fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
        return NULL;
    }
    if (pthread_mutex_init(&b->lock, NULL) != 0) {
        fv_free(b);
        fv_error_set(err, FV_E_EXHAUSTED, "could not create the event bus's mutex");
        return NULL;
    }
    return b;
}

void fv_mem_bus_free(fv_mem_bus *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->subs.n; i++)
        fv_free(b->subs.v[i]);
    fv__mem_vec_release(&b->subs);
    pthread_mutex_destroy(&b->lock);
    fv_free(b);
}

static fv_err op_publish(void *self, const fv_bus_msg *m, fv_error *err)
{
    fv_mem_bus *b = self;
    (void)err;
    pthread_mutex_lock(&b->lock);
    for (size_t i = 0; i < b->subs.n; i++) {
        const fv_bus_sub *sub = b->subs.v[i];
        sub->fn(sub->user, m);
    }
    pthread_mutex_unlock(&b->lock);
    return FV_OK;
}

static fv_err op_subscribe(void *self, fv_bus_fn fn, void *user, fv_bus_sub **out, fv_error *err)
{
    fv_mem_bus *b = self;
    fv_bus_sub *sub = fv_malloc(sizeof *sub);
    if (sub == NULL)
        return fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
    sub->fn = fn;
    sub->user = user;
    pthread_mutex_lock(&b->lock);
    if (!fv__mem_vec_reserve(&b->subs, 1)) {
        pthread_mutex_unlock(&b->lock);
        fv_free(sub);
        return fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
    }
    fv__mem_vec_insert(&b->subs, b->subs.n, sub);
    pthread_mutex_unlock(&b->lock);
    *out = sub;
    return FV_OK;
}

static void op_unsubscribe(void *self, fv_bus_sub *sub)
{
    fv_mem_bus *b = self;
    if (sub == NULL)
        return;
    pthread_mutex_lock(&b->lock);
    for (size_t i = 0; i < b->subs.n; i++) {
        if (b->subs.v[i] == sub) {
            fv__mem_vec_remove(&b->subs, i);
            break;
        }
    }
    pthread_mutex_unlock(&b->lock);
    fv_free(sub);
}

static const fv_event_bus_ops bus_ops = {
    .publish = op_publish,
    .subscribe = op_subscribe,
    .unsubscribe = op_unsubscribe,
};

fv_event_bus fv_mem_event_bus(fv_mem_bus *b)
{
    return (fv_event_bus){&bus_ops, b};
}
