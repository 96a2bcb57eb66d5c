/*
 * flovyn.v1 protobuf messages <-> the core's request and result types. Pure
 * mapping and edge validation (UUID text, JSON bytes); no call handling, no
 * use case. Everything built lives in the caller's arena and borrows from
 * the decoded message, which lives in the same arena.
 */
#ifndef FV_ADAPTERS_GRPC_PB_MAP_H
#define FV_ADAPTERS_GRPC_PB_MAP_H

#include "core/registration.h"
#include "core/task.h"
#include "core/usecases/task_usecases.h"
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

/* ---- TaskExecution --------------------------------------------------- */

/* A task_execution_id: a UUID, else FV_E_INVALID "invalid task_execution_id:
 * not a UUID". `text` may be NULL (absent). */
fv_err fv_pb_task_id(const char *text, fv_uuid *out, fv_error *err);

/*
 * SubmitTaskRequest -> fv_task_submit_request for `tenant` (org_id is checked
 * by the caller). proto3 implicit presence: max_retries 0 and timeout_ms 0
 * cannot be told from "not sent", so both mean "not given" (the task
 * definition's setting, else the default); a client cannot ask for 0 retries
 * over gRPC (REST can). Any other value is handed to the core, which refuses
 * what is out of range (max_retries 11, a negative timeout). The optional
 * idempotency_key and its TTL are given when their oneof is set;
 * worker_pool_id is accepted and ignored (there are no worker pools).
 * input: empty = absent (JSON null), else one well-formed JSON value of at
 * most FV_TASK_INPUT_MAX bytes. metadata: a protobuf map, so a key sent twice
 * keeps its last value; the entries are handed over sorted by key (the core
 * checks count, size and reserved keys). FV_E_INVALID naming the field,
 * FV_E_EXHAUSTED (arena).
 */
fv_err fv_pb_to_submit_request(fv_arena *a, const Flovyn__V1__SubmitTaskRequest *m,
                               const fv_uuid *tenant, fv_task_submit_request *out, fv_error *err);

/* A claimed task -> TaskExecutionInfo: its id, kind, input (JSON null when
 * absent), workflow_execution_id ("" for a standalone task),
 * execution_count, queue; no worker pool, empty traceparent. FV_E_EXHAUSTED
 * (arena). */
fv_err fv_pb_from_task_info(fv_arena *a, const fv_task *t, Flovyn__V1__TaskExecutionInfo *out,
                            fv_error *err);

/* StreamEventType TOKEN, PROGRESS, DATA, ERROR -> FV_TEV_TOKEN, FV_TEV_PROGRESS,
 * FV_TEV_DATA, FV_TEV_ERROR; STREAM_EVENT_TYPE_UNSPECIFIED (0) and values the
 * contract does not define are FV_E_INVALID. */
fv_err fv_pb_stream_event_type(int type, fv_task_event_type *out, fv_error *err);

/* LogMessageRequest.level: DEBUG, INFO, WARN or ERROR exactly, else
 * FV_E_INVALID. */
fv_err fv_pb_log_level(const char *level, fv_log_level *out, fv_error *err);

#endif
