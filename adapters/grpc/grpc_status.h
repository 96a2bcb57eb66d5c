/*
 * The one translation of domain errors into gRPC status codes (DESIGN.md
 * section 6, after googleapis google/rpc/code.proto). Every gRPC service
 * answers a failed use case through fv_grpc_status_from_err, never with a
 * status of its own choosing for a domain error.
 */
#ifndef FV_ADAPTERS_GRPC_GRPC_STATUS_H
#define FV_ADAPTERS_GRPC_GRPC_STATUS_H

#include <grpc/status.h>

#include "core/util/error.h"

/* The gRPC status for a domain error: FV_OK gives GRPC_STATUS_OK; a value
 * outside the fv_err table gives GRPC_STATUS_INTERNAL. Pure and thread-safe. */
grpc_status_code fv_grpc_status_from_err(fv_err e);

/* The canonical upper-case name of a status ("NOT_FOUND"), for logs; "UNKNOWN"
 * for a value outside the table (GRPC_STATUS_UNKNOWN is named "UNKNOWN" too).
 * Static storage. */
const char *fv_grpc_status_name(grpc_status_code code);

#endif
