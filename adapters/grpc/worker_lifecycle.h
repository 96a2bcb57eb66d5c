/* flovyn.v1.WorkerLifecycle (RegisterWorker, SendHeartbeat). */
#ifndef FV_ADAPTERS_GRPC_WORKER_LIFECYCLE_H
#define FV_ADAPTERS_GRPC_WORKER_LIFECYCLE_H

#include <stddef.h>

#include "adapters/grpc/flovyn_services.h"

/* Write the service's method rows into out[0..cap); returns how many. */
size_t fv_grpc_worker_lifecycle_methods(const fv_grpc_services *svc, fv_grpc_method *out,
                                        size_t cap);

#endif
