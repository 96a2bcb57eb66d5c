/*
 * The flovyn.v1 services of this server as rows of the gRPC machinery's
 * method table (grpc_server.h). app/ builds the table once and passes it to
 * fv_grpc_server_new:
 *
 *     fv_task_poll_hub *hub = fv_task_poll_hub_new(&poll_cfg, &err);   (task_poll.h)
 *     fv_grpc_services svc = {.deps = &deps, .poll_hub = hub, .log = my_log, .log_user = me};
 *     fv_grpc_method methods[FV_GRPC_FLOVYN_METHODS_MAX];
 *     size_t n = fv_grpc_flovyn_methods(&svc, methods, FV_GRPC_FLOVYN_METHODS_MAX);
 *     cfg.methods = methods; cfg.n_methods = n;
 *
 * Every method authenticates the call (`authorization: Bearer <key>`),
 * decodes the request with protobuf-c, maps it to the core's request types
 * (pb_map.c), calls the use case and encodes the answer. PollTask may park
 * the call in the long-poll hub (task_poll.h); free the hub only after
 * fv_grpc_server_stop returned.
 */
#ifndef FV_ADAPTERS_GRPC_FLOVYN_SERVICES_H
#define FV_ADAPTERS_GRPC_FLOVYN_SERVICES_H

#include <stddef.h>

#include "adapters/grpc/grpc_server.h"
#include "core/deps.h"

typedef struct fv_task_poll_hub fv_task_poll_hub;

/* Upper bound of the rows fv_grpc_flovyn_methods writes. */
#define FV_GRPC_FLOVYN_METHODS_MAX 32

/* What the services run on; borrowed, must outlive the server. */
typedef struct fv_grpc_services {
    const fv_deps *deps;
    /* Where PollTask parks calls that wait for a task (task_poll.h);
     * borrowed, must outlive the server. NULL: no long poll (every poll is
     * answered at once, with a task or without). */
    fv_task_poll_hub *poll_hub;
    /* Where failures that are not the client's fault are reported (the
     * client gets INTERNAL/UNAVAILABLE without detail). NULL = silent. */
    fv_grpc_log_fn log;
    void *log_user;
} fv_grpc_services;

/* Write the method rows of every served flovyn.v1 method into out[0..cap)
 * (each row's user pointer is svc) and return how many: WorkerLifecycle
 * (2 methods) and TaskExecution (14). A method absent from the table (none
 * of the contract's today) is answered UNIMPLEMENTED by the machinery. */
size_t fv_grpc_flovyn_methods(const fv_grpc_services *svc, fv_grpc_method *out, size_t cap);

#endif
