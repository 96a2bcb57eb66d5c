/* The method table of every served flovyn.v1 service. TaskExecution is not
 * served yet: its calls are answered UNIMPLEMENTED by the machinery. */
#include "adapters/grpc/flovyn_services.h"

#include "adapters/grpc/worker_lifecycle.h"

size_t fv_grpc_flovyn_methods(const fv_grpc_services *svc, fv_grpc_method *out, size_t cap)
{
    size_t n = 0;
    n += fv_grpc_worker_lifecycle_methods(svc, out + n, cap - n);
    return n;
}
