/*
 * `flovyn-server serve`: the life of the server process, from the signal
 * mask to the exit status.
 *
 * Order (STYLE.md rule 24 and section 3.1): block SIGINT/SIGTERM before
 * grpc_init and before any thread starts (every thread inherits the mask, so
 * only sigwait sees them); grpc_init; build the bundle; with --dev create the
 * tenant and keys; start the gRPC server; start the scheduler; print the dev
 * credentials and write the credentials file (now the server is listening);
 * sigwait. On the signal: stop the gRPC server (new calls refused, in-flight
 * ones finish within the grace), stop the scheduler, free everything,
 * grpc_shutdown. A second signal during that exits at once (status 1).
 */
#ifndef FV_APP_SERVE_H
#define FV_APP_SERVE_H

#include "app/config.h"

/* Run the server until SIGINT or SIGTERM. Returns the exit status: 0 after a
 * clean stop, 1 when it could not start (bind failure, out of memory, the
 * credentials file could not be written). Call once, from main, before any
 * other thread exists. */
int fv_app_serve(const fv_app_config *cfg);

#endif
