/* Domain error -> HTTP status, the one table (see http_status.h). */
#include "adapters/http/http_status.h"

int fv_http_status_for(fv_err e, fv_http_cause cause)
{
    switch (e) {
    case FV_OK:
        return 500; /* never a failure: a caller bug */
    case FV_E_INVALID:
        if (cause == FV_HTTP_CAUSE_METHOD)
            return 405;
        if (cause == FV_HTTP_CAUSE_MEDIA_TYPE)
            return 415;
        return 400;
    case FV_E_NOT_FOUND:
        return 404;
    case FV_E_CONFLICT:
        return 409;
    case FV_E_PRECONDITION:
        return 400;
    case FV_E_ABORTED:
        return 409;
    case FV_E_UNAUTHENTICATED:
        return 401;
    case FV_E_PERMISSION:
        return 403;
    case FV_E_EXHAUSTED:
        return cause == FV_HTTP_CAUSE_BODY_SIZE ? 413 : 503;
    case FV_E_UNAVAILABLE:
        return 503;
    case FV_E_TIMEOUT:
        return 504;
    case FV_E_INTERNAL:
        return 500;
    }
    return 500;
}

bool fv_http_err_shows_detail(fv_err e, fv_http_cause cause)
{
    /* A body over the limit is RESOURCE_EXHAUSTED, but the client's doing. */
    if (e == FV_E_EXHAUSTED && cause == FV_HTTP_CAUSE_BODY_SIZE)
        return true;
    return fv_err_is_client(e);
}
