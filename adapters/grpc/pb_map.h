/*
 * flovyn.v1 protobuf messages <-> the core's request and result types. Pure
 * mapping and edge validation (UUID text, JSON bytes); no call handling, no
 * use case. Everything built lives in the caller's arena and borrows from
 * the decoded message, which lives in the same arena.
 */
#ifndef FV_ADAPTERS_GRPC_PB_MAP_H
#define FV_ADAPTERS_GRPC_PB_MAP_H

#include "core/registration.h"
#include "core/usecases/worker_usecases.h"
#include "core/util/arena.h"
#include "core/util/error.h"
#include "flovyn.pb-c.h"

/* WorkerRegistrationRequest -> fv_register_request for `tenant` (org_id is
 * checked by the caller). Checks team_id (a UUID when given), every JSON
 * field (metadata: any JSON value; schemas: JSON Schema; retry_policy: the
 * retry policy object). Agent capabilities are accepted and ignored (agents
 * are served by another service). FV_E_INVALID naming the field,
 * FV_E_EXHAUSTED (arena). The core validates the rest. */
fv_err fv_pb_to_register_request(fv_arena *a, const Flovyn__V1__WorkerRegistrationRequest *m,
                                 const fv_uuid *tenant, fv_register_request *out, fv_error *err);

/* fv_register_result -> WorkerRegistrationResponse (success = true). */
fv_err fv_pb_from_register_result(fv_arena *a, const fv_register_result *r,
                                  Flovyn__V1__WorkerRegistrationResponse *out, fv_error *err);

/* WorkerHeartbeatRequest -> fv_heartbeat_request for `tenant`: worker_id a
 * UUID, health_info valid JSON (and whether it says "degraded"). The kind
 * lists are ignored (the SDKs send them empty; capabilities change only by
 * registration). FV_E_INVALID naming the field. */
fv_err fv_pb_to_heartbeat_request(const Flovyn__V1__WorkerHeartbeatRequest *m,
                                  const fv_uuid *tenant, fv_heartbeat_request *out, fv_error *err);

#endif
