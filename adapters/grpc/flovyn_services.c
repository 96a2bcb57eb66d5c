/* The method table of every served flovyn.v1 service: WorkerLifecycle
 * (worker_lifecycle.c) and TaskExecution (task_execution.c). */
#include "adapters/grpc/flovyn_services.h"

#include "adapters/grpc/task_execution.h"
#include "adapters/grpc/worker_lifecycle.h"

size_t fv_grpc_flovyn_methods(const fv_grpc_services *svc, fv_grpc_method *out, size_t cap)
{
    size_t n = 0;
    n += fv_grpc_worker_lifecycle_methods(svc, out + n, cap - n);
    n += fv_grpc_task_execution_methods(svc, out + n, cap - n);
    return n;
}
