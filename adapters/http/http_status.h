/*
 * The one translation of domain errors into HTTP statuses (DESIGN.md section
 * 6, STYLE rule 16). Every failed request of the REST API is answered through
 * these two functions, never with a status of a handler's own choosing.
 *
 * The JSON `code` of an error body is always a domain code name
 * (fv_err_name); a few failures that the HTTP protocol names more precisely
 * than the domain carry a cause that refines the status: a known path with
 * another method (405), a body over the limit (413), a body that is not
 * application/json (415).
 */
#ifndef FV_ADAPTERS_HTTP_HTTP_STATUS_H
#define FV_ADAPTERS_HTTP_HTTP_STATUS_H

#include <stdbool.h>

#include "core/util/error.h"

/* What refines the status of a failure (FV_HTTP_CAUSE_NONE: the code alone). */
typedef enum fv_http_cause {
    FV_HTTP_CAUSE_NONE = 0,
    FV_HTTP_CAUSE_METHOD,     /* FV_E_INVALID -> 405 Method Not Allowed */
    FV_HTTP_CAUSE_BODY_SIZE,  /* FV_E_EXHAUSTED -> 413 Content Too Large */
    FV_HTTP_CAUSE_MEDIA_TYPE, /* FV_E_INVALID -> 415 Unsupported Media Type */
} fv_http_cause;

/*
 * The status of a failure:
 *   INVALID_ARGUMENT 400 (405 / 415 with their cause), NOT_FOUND 404,
 *   ALREADY_EXISTS 409, FAILED_PRECONDITION 400, ABORTED 409,
 *   UNAUTHENTICATED 401, PERMISSION_DENIED 403, RESOURCE_EXHAUSTED 503
 *   (413 with FV_HTTP_CAUSE_BODY_SIZE), UNAVAILABLE 503, DEADLINE_EXCEEDED
 *   504, INTERNAL 500.
 * A cause that does not fit the code is ignored. FV_OK and values outside
 * the table give 500 (a caller bug). Pure and thread-safe.
 */
int fv_http_status_for(fv_err e, fv_http_cause cause);

/* Whether the client may see the detail message of a failure with this code
 * (its own mistakes: bad input, unknown ids, credentials, conflicts, and a
 * body over the limit); otherwise the body carries fv_strerror(e) and the
 * detail goes to the log only (storage, resources, internal errors). */
bool fv_http_err_shows_detail(fv_err e, fv_http_cause cause);

#endif
