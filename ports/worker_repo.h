/*
 * Worker repository port: workers, their capability links and their status
 * history. Registration is one op so that an adapter runs it as one atomic
 * unit (one transaction on Postgres, one write lock in memory).
 *
 * Common contract of every op:
 * - Records and lists are copied into the caller's arena `a` and live as long
 *   as it does; nothing points into the adapter's own state.
 * - Thread-safe: ops may run concurrently from any thread.
 * - Errors: FV_E_NOT_FOUND as documented per op (a worker of another tenant
 *   does not exist for the caller); FV_E_EXHAUSTED when the arena or memory
 *   runs out; FV_E_UNAVAILABLE / FV_E_TIMEOUT / FV_E_ABORTED / FV_E_INTERNAL
 *   when storage fails. A failed op changes nothing.
 * - Lists of workers are ordered by name, then id.
 */
#ifndef FV_PORTS_WORKER_REPO_H
#define FV_PORTS_WORKER_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/definition.h"
#include "core/registration.h"
#include "core/types.h"
#include "core/util/arena.h"
#include "core/util/error.h"
#include "core/worker.h"

/* A validated, normalised registration (empty strings already NULL). */
typedef struct fv_registration {
    /* Identity (tenant, space, name, host_name, process_id) and declared
     * fields. `id` is a fresh id the adapter uses only when no worker has
     * this identity; otherwise the existing row keeps its id. */
    fv_worker worker;
    fv_time now;
    const fv_capability *workflows;
    size_t n_workflows;
    const fv_uuid *workflow_def_ids; /* fresh ids for definitions to create, one per workflow */
    const fv_capability *tasks;
    size_t n_tasks;
    const fv_uuid *task_def_ids; /* fresh ids for definitions to create, one per task */
} fv_registration;

/* A possible conflict: another worker linked to one of the registered
 * workflow definitions with the same version and a different content hash,
 * both given (the core decides by liveness which of them are conflicts).
 * Peers with the same hash are not reported, so that registering the Nth
 * replica of a workflow does not copy the N-1 others. */
typedef struct fv_workflow_peer {
    const char *kind;
    const char *content_hash; /* NULL when the peer declared none */
    fv_worker worker;
} fv_workflow_peer;

typedef struct fv_registration_outcome {
    fv_uuid worker_id;
    bool created;
    fv_workflow_peer *peers;
    size_t n_peers;
} fv_registration_outcome;

typedef struct fv_worker_filter {
    fv_uuid tenant_id;
    fv_space_sel space;
    bool has_type;
    fv_worker_type type;
    bool has_status;
    fv_worker_status status; /* matched against the effective status */
} fv_worker_filter;

typedef struct fv_worker_list {
    fv_worker *items;
    size_t n;
    int64_t total; /* matches before pagination */
} fv_worker_list;

/* A capability link seen from the worker. */
typedef struct fv_capability_ref {
    fv_uuid definition_id;
    fv_def_class cls;
    const char *kind;
    const char *name;
    const char *version;      /* workflows: the version this worker serves */
    const char *content_hash; /* workflows */
    fv_time registered_at;
} fv_capability_ref;

typedef struct fv_capability_ref_list {
    fv_capability_ref *items;
    size_t n;
} fv_capability_ref_list;

/* A worker seen from a definition it is linked to. */
typedef struct fv_linked_worker {
    fv_worker worker;
    const char *version;      /* workflows */
    const char *content_hash; /* workflows */
} fv_linked_worker;

typedef struct fv_linked_worker_list {
    fv_linked_worker *items;
    size_t n;
} fv_linked_worker_list;

typedef struct fv_status_change_list {
    fv_status_change *items;
    size_t n;
} fv_status_change_list;

typedef struct fv_uuid_list {
    fv_uuid *items;
    size_t n;
} fv_uuid_list;

/* Workers of every tenant by effective status (count_by_status). */
typedef struct fv_worker_counts {
    int64_t online;
    int64_t degraded;
    int64_t offline;
} fv_worker_counts;

/* What kind of sign of life a touch records. */
typedef enum fv_sign_of_life {
    FV_SIGN_HEARTBEAT = 1, /* sets last_heartbeat_at, last_seen_at and the health info */
    FV_SIGN_POLL = 2,      /* sets last_seen_at only */
} fv_sign_of_life;

typedef struct fv_worker_repo_ops {
    /* Registration steps 2-4 as one atomic unit: upsert the worker by its
     * identity (registered_at = last_heartbeat_at = last_seen_at = now,
     * status ONLINE, a status change "registered" recorded when the stored
     * status changes); upsert each definition by (tenant, space, class, kind)
     * with the declared fields (first_seen_at kept, last_registered_at = now,
     * latest_version = highest semantic version, operator configuration
     * untouched); replace the worker's capability links with the declared
     * ones; recompute the stored availability of every definition linked or
     * unlinked. Fills `out` with the worker id and the peers of each workflow
     * (fv_workflow_peer: same version, different content hash). Concurrent registrations
     * of the same kinds all succeed. */
    fv_err (*register_worker)(void *self, fv_arena *a, const fv_registration *reg,
                              fv_registration_outcome *out, fv_error *err);

    /* The worker `id` of `tenant` (workflow_kinds/task_kinds filled,
     * effective_status left to the caller). FV_E_NOT_FOUND. */
    fv_err (*get)(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id, fv_worker *out,
                  fv_error *err);

    /* Workers matching f (status against fv_worker_effective_status at now),
     * the page of them, and the total number of matches. The page is valid
     * (the core checked it). */
    fv_err (*list)(void *self, fv_arena *a, const fv_worker_filter *f, fv_page page, fv_time now,
                   const fv_liveness *l, fv_worker_list *out, fv_error *err);

    /* The capability links of a worker, workflows then tasks, each by kind.
     * FV_E_NOT_FOUND when the worker is not in the tenant. */
    fv_err (*capabilities)(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                           fv_capability_ref_list *workflows, fv_capability_ref_list *tasks,
                           fv_error *err);

    /* Workers linked to a definition, by name then id (empty list when
     * none or the definition does not exist). */
    fv_err (*linked_workers)(void *self, fv_arena *a, const fv_uuid *tenant, fv_def_class cls,
                             const fv_uuid *definition_id, fv_linked_worker_list *out,
                             fv_error *err);

    /* Record a sign of life of worker `id` at `now`. For heartbeats,
     * `health` and `health_degraded` replace the stored health info. Never
     * changes the stored status. FV_E_NOT_FOUND, decided at once (never
     * deferred to a later write).
     *
     * Buffering: an adapter may keep touches in memory for up to its flush
     * interval instead of writing each one (the hottest write of the
     * system; Postgres writes all buffered workers in one statement per
     * flush). Then:
     * - every op of this repository instance sees a touch at once (get,
     *   list and its status filter and total, linked_workers, the peers of
     *   register_worker, scan, count_by_status; remove_offline never
     *   removes a worker that a buffered touch keeps alive), so jobs and
     *   reads on the same server never take a worker for silent because its
     *   touch is still buffered;
     * - what derives liveness from stored rows elsewhere (the definition
     *   repository's availability and worker counts, another process on
     *   the same database) sees it within the flush interval, or after the
     *   adapter's explicit flush (the contract suite's `flush`);
     * - a clean shutdown of the adapter writes it;
     * - a registration of the worker after a touch wins (it sets every time
     *   and the health), as if the touch had been written first (at the
     *   same millisecond the registration's health wins in any order);
     * - times never move back: a touch older than the stored sign of life
     *   may leave it as it is (callers pass a clock that does not go back;
     *   this orders replicas that flush in any order).
     * A worker removed by another process may still be acknowledged until
     * the adapter's next flush notices it (Postgres: at most one flush
     * interval); removed through this instance, it is NOT_FOUND at once. */
    fv_err (*touch)(void *self, const fv_uuid *tenant, const fv_uuid *id, fv_sign_of_life kind,
                    fv_time now, fv_json health, bool health_degraded, fv_error *err);

    /* A poll that names a worker by name: touch (FV_SIGN_POLL) the most
     * recently registered worker of the tenant with that name and return its
     * id. FV_E_NOT_FOUND when none has it. Buffered like touch. */
    fv_err (*touch_by_name)(void *self, const fv_uuid *tenant, const char *name, fv_time now,
                            fv_uuid *id_out, fv_error *err);

    /* Compare-and-set the stored status: when it is `from`, set `to` at `now`
     * and record the change with `reason`; *changed says whether it did
     * (false, FV_OK when the stored status is no longer `from`, e.g. another
     * replica moved it first). Stored availability is NOT recomputed here:
     * callers follow with refresh_availability. FV_E_NOT_FOUND. */
    fv_err (*transition)(void *self, const fv_uuid *tenant, const fv_uuid *id,
                         fv_worker_status from, fv_worker_status to, fv_time now,
                         const char *reason, bool *changed, fv_error *err);

    /* Status changes of a worker, newest first, at most `limit`.
     * FV_E_NOT_FOUND when the worker is not in the tenant. */
    fv_err (*status_history)(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                             size_t limit, fv_status_change_list *out, fv_error *err);

    /* Jobs: workers of every tenant whose stored status is in `status_mask`
     * (FV_STATUS_BIT) and whose last_seen_at is in [seen_from, seen_to). */
    fv_err (*scan)(void *self, fv_arena *a, unsigned status_mask, fv_time seen_from,
                   fv_time seen_to, fv_worker_list *out, fv_error *err);

    /* Remove a worker with its capability links and status history and
     * recompute the stored availability of the definitions it was linked to.
     * FV_E_NOT_FOUND. */
    fv_err (*remove)(void *self, const fv_uuid *tenant, const fv_uuid *id, fv_error *err);

    /* Retention: remove (as `remove` does) every worker stored OFFLINE whose
     * last_seen_at < cutoff, in every tenant; their ids go to `out`. */
    fv_err (*remove_offline)(void *self, fv_arena *a, fv_time cutoff, fv_uuid_list *out,
                             fv_error *err);

    /* Metrics: the number of workers of every tenant by effective status at
     * `now` (fv_worker_effective_status), as one consistent read. Every
     * repository adapter implements it and the contract suite checks it;
     * fv_deps_validate does not require it yet (test doubles may leave it
     * NULL), and fv_query_registry_counts then answers FV_E_UNAVAILABLE. */
    fv_err (*count_by_status)(void *self, fv_time now, const fv_liveness *l, fv_worker_counts *out,
                              fv_error *err);
} fv_worker_repo_ops;

typedef struct fv_worker_repo {
    const fv_worker_repo_ops *ops;
    void *self;
} fv_worker_repo;

static inline fv_err fv_worker_repo_register(fv_worker_repo r, fv_arena *a,
                                             const fv_registration *reg,
                                             fv_registration_outcome *out, fv_error *err)
{
    return r.ops->register_worker(r.self, a, reg, out, err);
}

static inline fv_err fv_worker_repo_get(fv_worker_repo r, fv_arena *a, const fv_uuid *tenant,
                                        const fv_uuid *id, fv_worker *out, fv_error *err)
{
    return r.ops->get(r.self, a, tenant, id, out, err);
}

static inline fv_err fv_worker_repo_list(fv_worker_repo r, fv_arena *a, const fv_worker_filter *f,
                                         fv_page page, fv_time now, const fv_liveness *l,
                                         fv_worker_list *out, fv_error *err)
{
    return r.ops->list(r.self, a, f, page, now, l, out, err);
}

static inline fv_err fv_worker_repo_capabilities(fv_worker_repo r, fv_arena *a,
                                                 const fv_uuid *tenant, const fv_uuid *id,
                                                 fv_capability_ref_list *workflows,
                                                 fv_capability_ref_list *tasks, fv_error *err)
{
    return r.ops->capabilities(r.self, a, tenant, id, workflows, tasks, err);
}

static inline fv_err fv_worker_repo_linked_workers(fv_worker_repo r, fv_arena *a,
                                                   const fv_uuid *tenant, fv_def_class cls,
                                                   const fv_uuid *definition_id,
                                                   fv_linked_worker_list *out, fv_error *err)
{
    return r.ops->linked_workers(r.self, a, tenant, cls, definition_id, out, err);
}

static inline fv_err fv_worker_repo_touch(fv_worker_repo r, const fv_uuid *tenant,
                                          const fv_uuid *id, fv_sign_of_life kind, fv_time now,
                                          fv_json health, bool health_degraded, fv_error *err)
{
    return r.ops->touch(r.self, tenant, id, kind, now, health, health_degraded, err);
}

static inline fv_err fv_worker_repo_touch_by_name(fv_worker_repo r, const fv_uuid *tenant,
                                                  const char *name, fv_time now, fv_uuid *id_out,
                                                  fv_error *err)
{
    return r.ops->touch_by_name(r.self, tenant, name, now, id_out, err);
}

static inline fv_err fv_worker_repo_transition(fv_worker_repo r, const fv_uuid *tenant,
                                               const fv_uuid *id, fv_worker_status from,
                                               fv_worker_status to, fv_time now, const char *reason,
                                               bool *changed, fv_error *err)
{
    return r.ops->transition(r.self, tenant, id, from, to, now, reason, changed, err);
}

static inline fv_err fv_worker_repo_status_history(fv_worker_repo r, fv_arena *a,
                                                   const fv_uuid *tenant, const fv_uuid *id,
                                                   size_t limit, fv_status_change_list *out,
                                                   fv_error *err)
{
    return r.ops->status_history(r.self, a, tenant, id, limit, out, err);
}

static inline fv_err fv_worker_repo_scan(fv_worker_repo r, fv_arena *a, unsigned status_mask,
                                         fv_time seen_from, fv_time seen_to, fv_worker_list *out,
                                         fv_error *err)
{
    return r.ops->scan(r.self, a, status_mask, seen_from, seen_to, out, err);
}

static inline fv_err fv_worker_repo_remove(fv_worker_repo r, const fv_uuid *tenant,
                                           const fv_uuid *id, fv_error *err)
{
    return r.ops->remove(r.self, tenant, id, err);
}

static inline fv_err fv_worker_repo_remove_offline(fv_worker_repo r, fv_arena *a, fv_time cutoff,
                                                   fv_uuid_list *out, fv_error *err)
{
    return r.ops->remove_offline(r.self, a, cutoff, out, err);
}

static inline fv_err fv_worker_repo_count_by_status(fv_worker_repo r, fv_time now,
                                                    const fv_liveness *l, fv_worker_counts *out,
                                                    fv_error *err)
{
    return r.ops->count_by_status(r.self, now, l, out, err);
}

#endif
