/*
 * JSON at the edges (jansson): the checks and decodings both driving
 * adapters need before they hand JSON to the core, which never parses it
 * (docs/architecture.md section 2). One place, so gRPC bytes and REST bodies
 * obey the same rules and the same messages.
 *
 * Every function is thread-safe and allocates only inside jansson (released
 * before it returns). `what` names the field in messages
 * ("workflows[0].input_schema").
 */
#ifndef FV_ADAPTERS_JSON_JSON_CODEC_H
#define FV_ADAPTERS_JSON_JSON_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/definition.h"
#include "core/types.h"
#include "core/util/error.h"

/* What a JSON value must be. */
typedef enum fv_json_shape {
    FV_JSON_ANY,    /* any value */
    FV_JSON_OBJECT, /* an object */
    FV_JSON_SCHEMA, /* a JSON Schema: an object or true/false */
} fv_json_shape;

/*
 * Check that p[0..n) is exactly one well-formed JSON value of the shape
 * (UTF-8, no duplicate keys, no \u0000, nesting within jansson's limit) and
 * at most `max` bytes. n == 0 means absent and is accepted (*out becomes
 * FV_JSON_NONE); otherwise *out points at p (borrowed). FV_E_INVALID:
 * "<what> is not valid JSON: <reason> at line L, column C", "<what> must be
 * a JSON object", "<what> is larger than MAX bytes".
 */
fv_err fv_json_check(const char *what, const void *p, size_t n, size_t max, fv_json_shape shape,
                     fv_json *out, fv_error *err);

/*
 * Decode a retry policy from JSON bytes: an object with any of maxRetries,
 * initialDelayMs, backoffCoefficient, maxDelayMs (or their snake_case
 * spellings, spec decision 3); integers for the first, second and fourth, a
 * number for the third. Unknown fields, wrong types and duplicates are
 * FV_E_INVALID naming the field; ranges are the core's business
 * (fv_retry_policy_validate). n == 0: *present = false.
 */
fv_err fv_json_decode_retry_policy(const char *what, const void *p, size_t n, bool *present,
                                   fv_retry_policy *out, fv_error *err);

/* The same from a value already parsed (a REST body's member). */
fv_err fv_json_retry_policy_from(const char *what, const json_t *v, fv_retry_policy *out,
                                 fv_error *err);

/* Whether well-formed health info says the worker is degraded: an object
 * whose "status" is "DEGRADED" (any case) or whose "healthy" is false.
 * Anything else, absent or malformed is not degraded. */
bool fv_json_health_degraded(fv_json health);

#endif
