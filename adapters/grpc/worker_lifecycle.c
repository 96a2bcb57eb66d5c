/*
 * flovyn.v1.WorkerLifecycle: RegisterWorker and SendHeartbeat on the core's
 * use cases (grpc-contract.md 2.3-2.4, spec decisions 5, 6, 11).
 */
#include "adapters/grpc/worker_lifecycle.h"

#include "adapters/grpc/pb_map.h"
#include "adapters/grpc/svc_call.h"
#include "core/usecases/worker_usecases.h"
#include "google/protobuf/empty.pb-c.h"

static void register_worker(fv_grpc_call *call, void *user)
{
    fv_svc_call c;
    if (!fv_svc_begin(&c, call, user, FV_SVC_WORKER_ROLES))
        return;
    const Flovyn__V1__WorkerRegistrationRequest *req =
        fv_svc_decode(&c, &flovyn__v1__worker_registration_request__descriptor);
    fv_uuid tenant;
    if (req == NULL || !fv_svc_check_org(&c, req->org_id, &tenant))
        return;

    fv_error err = {0};
    fv_register_request in;
    fv_register_result result;
    Flovyn__V1__WorkerRegistrationResponse resp;
    fv_err rc = fv_pb_to_register_request(c.arena, req, &tenant, &in, &err);
    if (rc == FV_OK)
        rc = fv_worker_register(c.svc->deps, c.arena, &in, &result, &err);
    if (rc == FV_OK)
        rc = fv_pb_from_register_result(c.arena, &result, &resp, &err);
    if (rc != FV_OK) {
        /* A refused registration is an error status, never success=false:
         * the Rust SDK would start polling without an id (2.3). */
        fv_svc_fail(&c, rc, &err);
        return;
    }
    fv_svc_reply(&c, &resp.base);
}

static void send_heartbeat(fv_grpc_call *call, void *user)
{
    fv_svc_call c;
    if (!fv_svc_begin(&c, call, user, FV_SVC_WORKER_ROLES))
        return;
    const Flovyn__V1__WorkerHeartbeatRequest *req =
        fv_svc_decode(&c, &flovyn__v1__worker_heartbeat_request__descriptor);
    if (req == NULL)
        return;
    /* The message carries no org: the worker must be one of the caller's
     * tenant, else it is unknown (NOT_FOUND), never another tenant's. */
    fv_error err = {0};
    fv_heartbeat_request in;
    fv_err rc = fv_pb_to_heartbeat_request(req, &c.who.tenant_id, &in, &err);
    if (rc == FV_OK)
        rc = fv_worker_heartbeat(c.svc->deps, &in, &err);
    if (rc != FV_OK) {
        fv_svc_fail(&c, rc, &err);
        return;
    }
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    fv_svc_reply(&c, &empty.base);
}

size_t fv_grpc_worker_lifecycle_methods(const fv_grpc_services *svc, fv_grpc_method *out,
                                        size_t cap)
{
    const fv_grpc_method rows[] = {
        {"/flovyn.v1.WorkerLifecycle/RegisterWorker", register_worker, (void *)(uintptr_t)svc},
        {"/flovyn.v1.WorkerLifecycle/SendHeartbeat", send_heartbeat, (void *)(uintptr_t)svc},
    };
    size_t n = 0;
    for (; n < sizeof rows / sizeof rows[0] && n < cap; n++)
        out[n] = rows[n];
    return n;
}
