/* flovyn.v1.TaskExecution: the 14 methods of grpc-contract.md 1.2/1.4. */
#ifndef FV_ADAPTERS_GRPC_TASK_EXECUTION_H
#define FV_ADAPTERS_GRPC_TASK_EXECUTION_H

#include <stddef.h>

#include "adapters/grpc/flovyn_services.h"

/* Trailing metadata of a SubmitTask answer whose kind no ONLINE worker
 * declares (a warning: the task is stored and waits in its queue). */
#define FV_GRPC_WARNING_KEY "flovyn-warning"

/* Write the service's method rows into out[0..cap); returns how many (14
 * when cap allows). */
size_t fv_grpc_task_execution_methods(const fv_grpc_services *svc, fv_grpc_method *out, size_t cap);

#endif
