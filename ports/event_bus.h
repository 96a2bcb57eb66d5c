/*
 * Event bus port: wake-ups about tasks, across every process that shares
 * the store. It carries notices, never the events themselves (those are in
 * the task repository, where a late reader finds them by id):
 *
 *   FV_BUS_QUEUE  (tenant, queue) may have a claimable task now: a submit, a
 *                 retry put back to PENDING, a reclaim. Parked polls of that
 *                 queue look again.
 *   FV_BUS_TASK   task (tenant, task) recorded events up to event_id. Live
 *                 streams of that task read what they have not sent yet.
 *   FV_BUS_RESYNC notices may have been lost (the bus reconnected): every
 *                 subscriber looks again at everything it waits for.
 *
 * Delivery is at-most-once and best effort, to every subscriber of every
 * process (the in-memory bus: this process; Postgres: LISTEN/NOTIFY), in
 * the publisher's order per process. A subscriber must therefore never rely
 * on a notice alone (it also looks when it starts waiting, and on a timer);
 * a notice only makes it look sooner.
 *
 * Thread-safe. Subscriber callbacks run on the bus's own thread (or, in
 * memory, on the publisher's thread), one at a time per subscriber, and
 * must be quick: no I/O, no waiting; hand the work to your own thread.
 */
#ifndef FV_PORTS_EVENT_BUS_H
#define FV_PORTS_EVENT_BUS_H

#include <stdint.h>

#include "core/task.h"
#include "core/util/error.h"
#include "core/util/uuid.h"

typedef enum fv_bus_kind {
    FV_BUS_QUEUE = 1,
    FV_BUS_TASK = 2,
    FV_BUS_RESYNC = 3,
} fv_bus_kind;

typedef struct fv_bus_msg {
    fv_bus_kind kind;
    fv_uuid tenant_id; /* QUEUE, TASK */
    const char *queue; /* QUEUE: 1..FV_TASK_QUEUE_MAX bytes; borrowed for the callback */
    fv_uuid task_id;   /* TASK */
    int64_t event_id;  /* TASK: the newest event id recorded */
} fv_bus_msg;

/* A subscriber callback; `m` and its strings are borrowed for the call. */
typedef void (*fv_bus_fn)(void *user, const fv_bus_msg *m);

typedef struct fv_bus_sub fv_bus_sub;

typedef struct fv_event_bus_ops {
    /* Send a notice to every subscriber of every process. FV_OK once handed
     * to the transport (delivery is not confirmed); storage failures
     * otherwise (callers treat a failure as a lost notice). */
    fv_err (*publish)(void *self, const fv_bus_msg *m, fv_error *err);
    /* Receive every notice from now on (subscribers filter). *out is the
     * subscription, released by unsubscribe. FV_E_EXHAUSTED. */
    fv_err (*subscribe)(void *self, fv_bus_fn fn, void *user, fv_bus_sub **out, fv_error *err);
    /* End a subscription: when it returns, fn runs no more and is not
     * running. Never call it from inside a callback. NULL-safe. */
    void (*unsubscribe)(void *self, fv_bus_sub *sub);
} fv_event_bus_ops;

typedef struct fv_event_bus {
    const fv_event_bus_ops *ops;
    void *self;
} fv_event_bus;

static inline fv_err fv_event_bus_publish(fv_event_bus b, const fv_bus_msg *m, fv_error *err)
{
    return b.ops->publish(b.self, m, err);
}

static inline fv_err fv_event_bus_subscribe(fv_event_bus b, fv_bus_fn fn, void *user,
                                            fv_bus_sub **out, fv_error *err)
{
    return b.ops->subscribe(b.self, fn, user, out, err);
}

static inline void fv_event_bus_unsubscribe(fv_event_bus b, fv_bus_sub *sub)
{
    b.ops->unsubscribe(b.self, sub);
}

#endif
