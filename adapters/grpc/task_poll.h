/*
 * The long poll of PollTask: a hub where calls that found no task wait,
 * parked without holding a thread (grpc_server.h), until a task of their
 * (tenant, queue) can be claimed for them or their wait ends.
 *
 * How a poll flows (task_execution.c):
 *
 *     uint64_t ticket = fv_task_poll_ticket(hub);     before the claim
 *     fv_task_claim(...)                              found: reply, done
 *     end = fv_task_poll_wait_end(hub, call, timeout_seconds);
 *     if (end <= fv_grpc_monotonic_ms()) reply empty, done
 *     fv_task_poll_park(hub, call, &wait);            the hub completes it
 *
 * Inside the hub:
 *   - Waiters are kept per (tenant, queue) in arrival order (FIFO) and in a
 *     min-heap by the end of their wait.
 *   - The hub subscribes once to the task notices (fv_task_watch). Its
 *     callback only records them (QUEUE: that queue is to be tried; RESYNC:
 *     every queue is) and signals the hub's thread; it does no I/O.
 *   - The hub's one thread sleeps on a condition variable until a queue is
 *     marked, the earliest wait ends, or a scheduled task of a queue with
 *     waiters becomes claimable (the next_at fv_task_claim gives back).
 *     For a marked queue it claims for its waiters in FIFO order until a
 *     claim finds nothing; a waiter whose wait ended gets OK without a task.
 *     Parked polls cost nothing while idle: nothing runs until one of those.
 *   - No lost wake-up: the ticket is the count of notices seen before the
 *     handler's claim; each QUEUE notice also stamps a slot of a small table
 *     hashed by (tenant, queue). A park that finds its slot (or a RESYNC)
 *     stamped after its ticket marks its queue at once, so a submit that
 *     lands between the empty claim and the park is claimed by the hub.
 *   - Cancellation (the cancel hook): a client that cancels or whose
 *     deadline passes is removed and its call completed CANCELLED (nothing
 *     reaches the client); on server shutdown (FV_GRPC_CANCEL_SHUTDOWN) a
 *     waiter is answered OK without a task. Whoever removes a waiter
 *     completes its call; a waiter the hub thread is claiming for stays
 *     listed and is completed by the hub thread right after that claim.
 *
 * Lifetime: create the hub before the gRPC server that parks calls in it,
 * free it after fv_grpc_server_stop returned (which completes every parked
 * call through the hooks). Thread-safe.
 *
 * Locking: the hub's mutex is never held while it calls the core or
 * completes a call; parking takes the call's mutex (fv_grpc_call_on_cancel)
 * under the hub's, the order grpc_server.h allows.
 */
#ifndef FV_ADAPTERS_GRPC_TASK_POLL_H
#define FV_ADAPTERS_GRPC_TASK_POLL_H

#include <stdint.h>

#include "adapters/grpc/flovyn_services.h"
#include "adapters/grpc/grpc_server.h"
#include "core/deps.h"
#include "core/util/error.h"

/* Answer a parked poll this long before its client's deadline, so that the
 * empty OK reaches the client before its own deadline fires. */
#define FV_TASK_POLL_DEADLINE_MARGIN_MS 150

typedef struct fv_task_poll_config {
    /* What claims run on; borrowed, must outlive the hub. deps->tasks and
     * deps->bus must be present. */
    const fv_deps *deps;
    /* The longest a poll waits, in ms, whatever its timeout_seconds
     * (--poll-timeout-max); 0: polls are never parked. */
    int64_t max_wait_ms;
    /* Where claims that fail on the hub's thread are reported (the client
     * gets the status without detail). NULL = silent. */
    fv_grpc_log_fn log;
    void *log_user;
} fv_task_poll_config;

/* Create the hub: subscribe to the task notices and start its thread.
 * Returns a new hub (release with fv_task_poll_hub_free), or NULL with err:
 * FV_E_INVALID (no deps, a negative max_wait_ms), FV_E_EXHAUSTED (memory,
 * thread), or the error of fv_task_watch (FV_E_UNAVAILABLE when the bundle
 * has no task repository). Call from a thread that blocks the signals the
 * process handles: the new thread inherits its mask. */
fv_task_poll_hub *fv_task_poll_hub_new(const fv_task_poll_config *cfg, fv_error *err);

/* Unsubscribe, stop and join the thread, free the hub. Only after the server
 * stopped (no call is parked any more). NULL-safe. */
void fv_task_poll_hub_free(fv_task_poll_hub *h);

/* The ticket of a poll: read it before the claim whose miss leads to
 * fv_task_poll_park. One atomic load. */
uint64_t fv_task_poll_ticket(fv_task_poll_hub *h);

/* When a poll of timeout_seconds on `call` must be answered, on the
 * fv_grpc_monotonic_ms clock: now + min(timeout_seconds, max_wait), and no
 * later than the call's deadline minus FV_TASK_POLL_DEADLINE_MARGIN_MS. A
 * value <= now means "answer now" (timeout_seconds <= 0, max_wait 0, or no
 * time left before the deadline). */
int64_t fv_task_poll_wait_end(const fv_task_poll_hub *h, fv_grpc_call *call,
                              int64_t timeout_seconds);

/* What a parked poll waits for. Strings are borrowed and must live as long
 * as the call (its decoded request, in the call's arena, does). */
typedef struct fv_task_poll_wait {
    fv_uuid tenant;
    const char *queue;     /* validated, "default" when the request said "" */
    const char *worker_id; /* validated */
    int64_t end_ms;        /* from fv_task_poll_wait_end, > now */
    uint64_t ticket;       /* from fv_task_poll_ticket, read before the claim */
    fv_time next_at;       /* the claim's next_at (wall clock), or FV_TIME_NONE */
} fv_task_poll_wait;

/*
 * Park `call` (which the caller owns and hands over: afterwards it must not
 * be touched). The hub completes it exactly once: with a task claimed for
 * it (PollTaskResponse), OK without a task at end_ms, CANCELLED when the
 * client went away, OK without a task at shutdown, or the claim's error.
 * When it cannot park (out of memory, the call already cancelled, the server
 * stopping) it answers OK without a task at once.
 */
void fv_task_poll_park(fv_task_poll_hub *h, fv_grpc_call *call, const fv_task_poll_wait *w);

/* Answer `call` OK without a task (an empty PollTaskResponse). */
void fv_task_poll_reply_empty(fv_grpc_call *call);

#endif
