/* Domain error -> gRPC status, in one exhaustive switch (STYLE.md rule 16). */
#include "adapters/grpc/grpc_status.h"

grpc_status_code fv_grpc_status_from_err(fv_err e)
{
    /* No default: -Wswitch-enum makes a new fv_err a build error here. */
    switch (e) {
    case FV_OK:
        return GRPC_STATUS_OK;
    case FV_E_INVALID:
        return GRPC_STATUS_INVALID_ARGUMENT;
    case FV_E_NOT_FOUND:
        return GRPC_STATUS_NOT_FOUND;
    case FV_E_CONFLICT:
        return GRPC_STATUS_ALREADY_EXISTS;
    case FV_E_PRECONDITION:
        return GRPC_STATUS_FAILED_PRECONDITION;
    case FV_E_ABORTED:
        return GRPC_STATUS_ABORTED;
    case FV_E_UNAUTHENTICATED:
        return GRPC_STATUS_UNAUTHENTICATED;
    case FV_E_PERMISSION:
        return GRPC_STATUS_PERMISSION_DENIED;
    case FV_E_EXHAUSTED:
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case FV_E_UNAVAILABLE:
        return GRPC_STATUS_UNAVAILABLE;
    case FV_E_TIMEOUT:
        return GRPC_STATUS_DEADLINE_EXCEEDED;
    case FV_E_INTERNAL:
        return GRPC_STATUS_INTERNAL;
    }
    /* A value that is not in the table (memory corruption, a cast int). */
    return GRPC_STATUS_INTERNAL;
}

const char *fv_grpc_status_name(grpc_status_code code)
{
    switch (code) {
    case GRPC_STATUS_OK:
        return "OK";
    case GRPC_STATUS_CANCELLED:
        return "CANCELLED";
    case GRPC_STATUS_UNKNOWN:
        return "UNKNOWN";
    case GRPC_STATUS_INVALID_ARGUMENT:
        return "INVALID_ARGUMENT";
    case GRPC_STATUS_DEADLINE_EXCEEDED:
        return "DEADLINE_EXCEEDED";
    case GRPC_STATUS_NOT_FOUND:
        return "NOT_FOUND";
    case GRPC_STATUS_ALREADY_EXISTS:
        return "ALREADY_EXISTS";
    case GRPC_STATUS_PERMISSION_DENIED:
        return "PERMISSION_DENIED";
    case GRPC_STATUS_UNAUTHENTICATED:
        return "UNAUTHENTICATED";
    case GRPC_STATUS_RESOURCE_EXHAUSTED:
        return "RESOURCE_EXHAUSTED";
    case GRPC_STATUS_FAILED_PRECONDITION:
        return "FAILED_PRECONDITION";
    case GRPC_STATUS_ABORTED:
        return "ABORTED";
    case GRPC_STATUS_OUT_OF_RANGE:
        return "OUT_OF_RANGE";
    case GRPC_STATUS_UNIMPLEMENTED:
        return "UNIMPLEMENTED";
    case GRPC_STATUS_INTERNAL:
        return "INTERNAL";
    case GRPC_STATUS_UNAVAILABLE:
        return "UNAVAILABLE";
    case GRPC_STATUS_DATA_LOSS:
        return "DATA_LOSS";
    case GRPC_STATUS__DO_NOT_USE:
        break;
    }
    return "UNKNOWN";
}
