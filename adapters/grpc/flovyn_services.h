/*
 * The flovyn.v1 services of this server as rows of the gRPC machinery's
 * method table (grpc_server.h). app/ builds the table once and passes it to
 * fv_grpc_server_new:
 *
 *     fv_grpc_services svc = {.deps = &deps, .log = my_log, .log_user = me};
 *     fv_grpc_method methods[FV_GRPC_FLOVYN_METHODS_MAX];
 *     size_t n = fv_grpc_flovyn_methods(&svc, methods, FV_GRPC_FLOVYN_METHODS_MAX);
 *     cfg.methods = methods; cfg.n_methods = n;
 *
 * Every method authenticates the call (`authorization: Bearer <key>`),
 * decodes the request with protobuf-c, maps it to the core's request types
 * (pb_map.c), calls the use case and encodes the answer.
 */
#ifndef FV_ADAPTERS_GRPC_FLOVYN_SERVICES_H
#define FV_ADAPTERS_GRPC_FLOVYN_SERVICES_H

#include <stddef.h>

#include "adapters/grpc/grpc_server.h"
#include "core/deps.h"

/* Upper bound of the rows fv_grpc_flovyn_methods writes. */
#define FV_GRPC_FLOVYN_METHODS_MAX 32

/* What the services run on; borrowed, must outlive the server. */
typedef struct fv_grpc_services {
    const fv_deps *deps;
    /* Where failures that are not the client's fault are reported (the
     * client gets INTERNAL/UNAVAILABLE without detail). NULL = silent. */
    fv_grpc_log_fn log;
    void *log_user;
} fv_grpc_services;

/* Write the method rows of every served flovyn.v1 method into out[0..cap)
 * (each row's user pointer is svc) and return how many. Methods of the
 * contract not served yet are absent, so the machinery answers them
 * UNIMPLEMENTED. */
size_t fv_grpc_flovyn_methods(const fv_grpc_services *svc, fv_grpc_method *out, size_t cap);

#endif
