/*
 * The closed set of domain errors, from one X-macro table (libuv's
 * UV_ERRNO_MAP). Every layer returns fv_err; each edge (HTTP, gRPC, CLI, the
 * Postgres SQLSTATE classifier) maps it exactly once with an exhaustive
 * switch. Values are never renumbered or reused.
 *
 * Detail travels in an optional caller-provided fv_error: the code plus a
 * fixed-size message in the PostgreSQL style (lower case, no trailing period,
 * identifiers quoted), fit to show to a client. Nothing is allocated on the
 * error path.
 */
#ifndef FV_CORE_UTIL_ERROR_H
#define FV_CORE_UTIL_ERROR_H

#include <stdbool.h>
#include <stddef.h>

/* X(enum suffix, value, canonical name shown to clients, default message) */
#define FV_ERR_MAP(X)                                                                              \
    X(INVALID, -1, "INVALID_ARGUMENT", "invalid argument")                                         \
    X(NOT_FOUND, -2, "NOT_FOUND", "not found")                                                     \
    X(CONFLICT, -3, "ALREADY_EXISTS", "already exists")                                            \
    X(PRECONDITION, -4, "FAILED_PRECONDITION", "failed precondition")                              \
    X(ABORTED, -5, "ABORTED", "aborted by a concurrent change, retry")                             \
    X(UNAUTHENTICATED, -6, "UNAUTHENTICATED", "missing or invalid credentials")                    \
    X(PERMISSION, -7, "PERMISSION_DENIED", "permission denied")                                    \
    X(EXHAUSTED, -8, "RESOURCE_EXHAUSTED", "resource exhausted")                                   \
    X(UNAVAILABLE, -9, "UNAVAILABLE", "service unavailable")                                       \
    X(TIMEOUT, -10, "DEADLINE_EXCEEDED", "deadline exceeded")                                      \
    X(INTERNAL, -11, "INTERNAL", "internal error")

typedef enum fv_err {
    FV_OK = 0,
#define FV_ERR_ENUM(suffix, value, name, msg) FV_E_##suffix = value,
    FV_ERR_MAP(FV_ERR_ENUM)
#undef FV_ERR_ENUM
} fv_err;

/* Number of error codes, FV_OK excluded. */
#define FV_ERR_COUNT 11

#define FV_ERROR_MSG_MAX 256

typedef struct fv_error {
    fv_err code;
    char msg[FV_ERROR_MSG_MAX];
} fv_error;

/* Canonical name ("NOT_FOUND", "OK"); "UNKNOWN" for a value not in the
 * table. Static storage. */
const char *fv_err_name(fv_err e);

/* Default human text for a code. Static storage. */
const char *fv_strerror(fv_err e);

/* Record code and a formatted message in err (NULL-safe) and return code, so
 * a failure reads `return fv_error_set(err, FV_E_INVALID, "...", ...);`.
 * Messages longer than FV_ERROR_MSG_MAX - 1 bytes are truncated on a UTF-8
 * character boundary. */
fv_err fv_error_set(fv_error *err, fv_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* True when e is the client's mistake: bad input, something missing or
 * already there, a failed precondition, a lost race (retry), missing or
 * invalid credentials, no permission. Each edge answers those with the
 * core's message, which is written to be shown. False for FV_OK and for the
 * failures of the server or its storage (EXHAUSTED, UNAVAILABLE, TIMEOUT,
 * INTERNAL) and values outside the table: edges log their detail and answer
 * with the code's generic text. An edge may refine a code by its cause (an
 * HTTP body over the limit is EXHAUSTED and the client's doing). */
bool fv_err_is_client(fv_err e);

/* Reset err to FV_OK with an empty message (NULL-safe). */
void fv_error_clear(fv_error *err);

/* The message in err, or the default text of code when err is NULL or its
 * message is empty. */
const char *fv_error_message(const fv_error *err, fv_err code);

#endif
