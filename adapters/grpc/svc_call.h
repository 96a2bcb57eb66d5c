/*
 * What every flovyn.v1 method does around its use case, in one place:
 * authenticate the call, decode the request into the call's arena, encode
 * the answer, and translate a domain error into a status once (STYLE rule
 * 16), logging the failures that are not the client's fault.
 *
 * A handler reads:
 *
 *     fv_svc_call c;
 *     if (!fv_svc_begin(&c, call, user, FV_SVC_WORKER_ROLES))
 *         return;                            (answered UNAUTHENTICATED/...)
 *     Flovyn__V1__X *req = fv_svc_decode(&c, &flovyn__v1__x__descriptor);
 *     if (req == NULL)
 *         return;                            (answered INVALID_ARGUMENT)
 *     ... fv_svc_fail(&c, rc, &err) or fv_svc_reply(&c, &resp.base);
 *
 * Every path completes the call exactly once.
 */
#ifndef FV_ADAPTERS_GRPC_SVC_CALL_H
#define FV_ADAPTERS_GRPC_SVC_CALL_H

#include <stdbool.h>

#include <protobuf-c/protobuf-c.h>

#include "adapters/grpc/flovyn_services.h"
#include "adapters/grpc/grpc_server.h"
#include "core/usecases/auth_usecases.h"
#include "core/util/arena.h"
#include "core/util/error.h"

/* Roles that may call worker methods: workers, and admins (who may do
 * anything in their tenant). Operators use REST. */
#define FV_SVC_WORKER_ROLES (FV_ROLE_BIT(FV_ROLE_WORKER) | FV_ROLE_BIT(FV_ROLE_ADMIN))

typedef struct fv_svc_call {
    fv_grpc_call *call;
    const fv_grpc_services *svc;
    fv_arena *arena;
    fv_principal who;
} fv_svc_call;

/* Authenticate the call's `authorization` metadata and check the role.
 * Returns false when the call was answered (UNAUTHENTICATED,
 * PERMISSION_DENIED, or the storage failure) and must not be touched. */
bool fv_svc_begin(fv_svc_call *c, fv_grpc_call *call, void *user, unsigned roles);

/* Decode the request into the call's arena (nothing to free). Returns NULL
 * when the call was answered INVALID_ARGUMENT: undecodable bytes, or a string
 * field holding a NUL byte ("<field> contains a NUL byte", a nested field
 * named by its path, e.g. "metadata.value"). */
void *fv_svc_decode(fv_svc_call *c, const ProtobufCMessageDescriptor *desc);

/* Check that the request's org_id is a UUID (INVALID_ARGUMENT) naming the
 * caller's tenant (PERMISSION_DENIED). Returns false when the call was
 * answered. */
bool fv_svc_check_org(fv_svc_call *c, const char *org_id, fv_uuid *tenant);

/* Encode and send the answer (OK). */
void fv_svc_reply(fv_svc_call *c, const ProtobufCMessage *resp);

/* Answer a domain error: client mistakes with the core's message; storage
 * and internal failures are logged with their detail and answered with the
 * code's generic message (no internals reach the client). */
void fv_svc_fail(fv_svc_call *c, fv_err rc, const fv_error *err);

/* fv_svc_fail for a call answered outside its handler (a parked poll the
 * hub completes): `call` is completed; the failures not the client's fault
 * go to `log` (may be NULL) as "<method> failed: <code>: <detail>". */
void fv_svc_fail_call(fv_grpc_call *call, fv_grpc_log_fn log, void *log_user, fv_err rc,
                      const fv_error *err);

#endif
