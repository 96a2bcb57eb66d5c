/*
 * Heartbeat store port (seed 002 HeartbeatStore): the history of heartbeats
 * of each worker with their optional health info. Retention is bounded by the
 * adapter (a number of entries per worker), so the store cannot grow without
 * limit. Heartbeats are the hottest write of the system: an adapter may
 * buffer them, but a recorded heartbeat is visible to reads within one flush
 * interval and survives a clean shutdown.
 *
 * Contract: thread-safe; results copied into the caller's arena; the store
 * does not check that the worker exists (the use cases do).
 */
#ifndef FV_PORTS_HEARTBEAT_STORE_H
#define FV_PORTS_HEARTBEAT_STORE_H

#include <stddef.h>

#include "core/types.h"
#include "core/util/arena.h"
#include "core/util/error.h"
#include "core/worker.h"

typedef struct fv_heartbeat_list {
    fv_heartbeat *items;
    size_t n;
} fv_heartbeat_list;

typedef struct fv_heartbeat_store_ops {
    /* Append a heartbeat (health may be absent); the oldest entries of the
     * worker beyond the retention bound are dropped. */
    fv_err (*record)(void *self, const fv_uuid *worker_id, fv_time at, fv_json health,
                     fv_error *err);
    /* The latest heartbeat of a worker; FV_E_NOT_FOUND when it has none. */
    fv_err (*last)(void *self, fv_arena *a, const fv_uuid *worker_id, fv_heartbeat *out,
                   fv_error *err);
    /* At most `limit` heartbeats of a worker, newest first (empty when none). */
    fv_err (*history)(void *self, fv_arena *a, const fv_uuid *worker_id, size_t limit,
                      fv_heartbeat_list *out, fv_error *err);
    /* Drop the whole history of a worker (nothing to drop is not an error). */
    fv_err (*forget)(void *self, const fv_uuid *worker_id, fv_error *err);
} fv_heartbeat_store_ops;

typedef struct fv_heartbeat_store {
    const fv_heartbeat_store_ops *ops;
    void *self;
} fv_heartbeat_store;

static inline fv_err fv_heartbeat_store_record(fv_heartbeat_store s, const fv_uuid *worker_id,
                                               fv_time at, fv_json health, fv_error *err)
{
    return s.ops->record(s.self, worker_id, at, health, err);
}

static inline fv_err fv_heartbeat_store_last(fv_heartbeat_store s, fv_arena *a,
                                             const fv_uuid *worker_id, fv_heartbeat *out,
                                             fv_error *err)
{
    return s.ops->last(s.self, a, worker_id, out, err);
}

static inline fv_err fv_heartbeat_store_history(fv_heartbeat_store s, fv_arena *a,
                                                const fv_uuid *worker_id, size_t limit,
                                                fv_heartbeat_list *out, fv_error *err)
{
    return s.ops->history(s.self, a, worker_id, limit, out, err);
}

static inline fv_err fv_heartbeat_store_forget(fv_heartbeat_store s, const fv_uuid *worker_id,
                                               fv_error *err)
{
    return s.ops->forget(s.self, worker_id, err);
}

#endif
