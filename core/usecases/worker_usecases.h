/*
 * Commands on workers and definitions (seed 002 WorkerUseCases). Driving
 * adapters (gRPC, HTTP) call these and the queries, never a port.
 *
 * Every function: `d` borrowed; results in the caller's arena `a`; errors as
 * fv_err with detail in `err` (NULL allowed). Invalid input is FV_E_INVALID
 * and changes nothing. Storage failures pass through (FV_E_UNAVAILABLE, ...).
 * Thread-safe as the ports are.
 */
#ifndef FV_CORE_USECASES_WORKER_USECASES_H
#define FV_CORE_USECASES_WORKER_USECASES_H

#include <stdbool.h>

#include "core/definition.h"
#include "core/deps.h"
#include "core/registration.h"
#include "core/util/arena.h"
#include "core/util/error.h"
#include "core/worker.h"

/*
 * Register a worker with its capabilities (spec/domain.md "Registration"):
 * validate, upsert by identity (tenant, space, name, host, pid; decision 5),
 * upsert and link definitions, recompute availability, all atomically, and
 * answer the worker id and the workflow conflicts (decision 11: another live
 * worker serves the same kind and version with another content hash).
 * Registration counts as the first sign of life.
 * FV_E_INVALID, FV_E_NOT_FOUND (unknown tenant or space).
 */
fv_err fv_worker_register(const fv_deps *d, fv_arena *a, const fv_register_request *req,
                          fv_register_result *out, fv_error *err);

/* SendHeartbeat as the core sees it. */
typedef struct fv_heartbeat_request {
    fv_uuid tenant_id;
    fv_uuid worker_id;
    fv_json health_info;  /* absent or empty: none */
    bool health_degraded; /* the edge found the health info says "degraded" */
} fv_heartbeat_request;

/* Record a heartbeat: the time and health info only, never a status change
 * (seed 002). FV_E_NOT_FOUND for a worker not in the tenant, FV_E_INVALID
 * for oversized health info. */
fv_err fv_worker_heartbeat(const fv_deps *d, const fv_heartbeat_request *req, fv_error *err);

/* A PollTask counts as a sign of life (decision 6): `worker_ref` is the
 * worker's id (UUID text) or its name. FV_E_NOT_FOUND when it matches no
 * worker of the tenant (callers of a poll ignore that). */
fv_err fv_worker_record_poll(const fv_deps *d, const fv_uuid *tenant, const char *worker_ref,
                             fv_error *err);

/* Unregister (operator action, decision 20): remove the worker, its links,
 * its status history and its heartbeat history; availability recomputed.
 * FV_E_NOT_FOUND. */
fv_err fv_worker_unregister(const fv_deps *d, const fv_uuid *tenant, const fv_uuid *id,
                            fv_error *err);

/* An operator sets the stored status (seed 002 updateWorkerStatus); the
 * change is recorded with "operator: <reason>" and availability recomputed.
 * It holds until the worker shows a new sign of life (see
 * fv_worker_effective_status). `reason` may be NULL. FV_E_NOT_FOUND,
 * FV_E_INVALID (reason too long or not UTF-8), FV_E_ABORTED when a
 * concurrent change won. */
fv_err fv_worker_set_status(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                            fv_worker_status to, const char *reason, fv_error *err);

/* PATCH .../configuration: validate the patch and apply it to the operator
 * overrides of `kind` (declared values untouched, no registration erases
 * overrides, CLEAR removes one). Returns the definition as a read would.
 * FV_E_INVALID, FV_E_NOT_FOUND. */
fv_err fv_definition_configure(const fv_deps *d, fv_arena *a, fv_def_class cls,
                               const fv_uuid *tenant, const fv_space_sel *space, const char *kind,
                               const fv_def_config_patch *patch, fv_definition *out, fv_error *err);

/* Create a tenant (slug rules of fv_slug_validate, name 1..255 bytes).
 * FV_E_INVALID, FV_E_CONFLICT (slug taken). */
fv_err fv_tenant_create(const fv_deps *d, fv_arena *a, const char *slug, const char *name,
                        fv_tenant *out, fv_error *err);

/* Create a space of a tenant. FV_E_INVALID, FV_E_NOT_FOUND, FV_E_CONFLICT. */
fv_err fv_space_create(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const char *slug,
                       const char *name, fv_space *out, fv_error *err);

#endif
