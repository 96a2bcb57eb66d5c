/*
 * The in-memory adapters: one store holding every table behind a
 * readers-writer lock, and the ports as views of it. Used by tests, demos and
 * `make run`. Every result is copied into the caller's arena under the lock;
 * nothing shared is ever handed out (STYLE rule 21).
 */
#ifndef FV_ADAPTERS_MEMORY_MEM_STORE_H
#define FV_ADAPTERS_MEMORY_MEM_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/definition.h"
#include "ports/clock.h"
#include "ports/definition_repo.h"
#include "ports/event_bus.h"
#include "ports/heartbeat_store.h"
#include "ports/ids.h"
#include "ports/task_repo.h"
#include "ports/tenant_store.h"
#include "ports/worker_repo.h"

typedef struct fv_mem_store fv_mem_store;

typedef struct fv_mem_options {
    /* Heartbeats kept per worker (older ones are dropped); 0 = default 100. */
    size_t heartbeat_history_max;
    /* Status changes kept per worker; 0 = default 100. */
    size_t status_history_max;
} fv_mem_options;

/* A new empty store; opt may be NULL. NULL when memory runs out. The caller
 * owns it and releases it with fv_mem_store_free after every view is done. */
fv_mem_store *fv_mem_store_new(const fv_mem_options *opt);
void fv_mem_store_free(fv_mem_store *s); /* NULL-safe */

/* Port views of the store, valid while the store lives (nothing to free). */
fv_worker_repo fv_mem_worker_repo(fv_mem_store *s);
fv_definition_repo fv_mem_definition_repo(fv_mem_store *s, fv_def_class cls);
fv_heartbeat_store fv_mem_heartbeat_store(fv_mem_store *s);
fv_tenant_store fv_mem_tenant_store(fv_mem_store *s);
/* The task repository: task executions, attempts, events, idempotency keys
 * and task state, behind a mutex of their own (not the registry's lock), so
 * that claims and heartbeats never wait for each other. */
fv_task_repo fv_mem_task_repo(fv_mem_store *s);

/*
 * The in-memory event bus (ports/event_bus.h): subscribers of this process
 * only. publish calls every subscriber's callback synchronously, on the
 * publisher's thread, under the bus's mutex, so callbacks run one at a time
 * and in the order of publication. A callback must therefore never publish,
 * subscribe or unsubscribe on the same bus, nor wait for a lock that a
 * thread may hold while it publishes (that would deadlock). unsubscribe
 * takes the same mutex: when it returns, the callback is not running and
 * never runs again.
 *
 * fv_mem_bus_new: NULL with FV_E_EXHAUSTED in err when memory runs out. The
 * caller owns the bus and frees it with fv_mem_bus_free (NULL-safe) after
 * every user is done; subscriptions still open are released with it.
 * fv_mem_event_bus: the port view, valid while the bus lives.
 */
typedef struct fv_mem_bus fv_mem_bus;
fv_mem_bus *fv_mem_bus_new(fv_error *err);
void fv_mem_bus_free(fv_mem_bus *b);
fv_event_bus fv_mem_event_bus(fv_mem_bus *b);

/* The real clock (CLOCK_REALTIME, ms). Owns nothing. */
fv_clock fv_system_clock(void);

/* A clock for tests that moves only when told; release with fv_clock_destroy.
 * ops == NULL when memory runs out. Thread-safe. */
fv_clock fv_fake_clock_new(fv_time start);
void fv_fake_clock_set(fv_clock c, fv_time t);
void fv_fake_clock_advance(fv_clock c, int64_t ms);

/* Random (version 4) UUIDs and bytes, both from getrandom(2). Thread-safe. */
fv_ids fv_system_ids(void);

/* Deterministic ids for tests: UUIDs counting up from a seed; "random" bytes
 * from a seeded generator. Release with fv_ids_destroy. ops == NULL on OOM. */
fv_ids fv_seq_ids_new(uint64_t seed);

#endif
