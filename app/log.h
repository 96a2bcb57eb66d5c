/*
 * The process log of flovyn-server: one structured line per event on stderr,
 *
 *     2026-11-29T03:40:00.123Z INFO  grpc listening addr=127.0.0.1:9090
 *
 * (UTC timestamp with milliseconds, level padded to five columns, then the
 * message: a component, an event and key=value pairs). Lines below the
 * current level are dropped. Control characters in a message are written as
 * '?' so that one event is always one line.
 *
 * Thread-safe: any thread may log at any time; each line is written whole.
 * The level is the one mutable global of this module (app/ may hold such
 * process state, STYLE rule 24).
 */
#ifndef FV_APP_LOG_H
#define FV_APP_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include "adapters/grpc/grpc_server.h"
#include "adapters/http/http_server.h"
#include "adapters/postgres/pg.h"

typedef enum fv_app_log_level {
    FV_APP_LOG_ERROR,
    FV_APP_LOG_WARN,
    FV_APP_LOG_INFO,
    FV_APP_LOG_DEBUG
} fv_app_log_level;

/* "error", "warn", "info", "debug"; NULL for a value outside the enum. */
const char *fv_app_log_level_name(fv_app_log_level l);

/* Parse a level name (case-insensitive; "warning" is accepted for "warn").
 * Returns false (out untouched) for anything else, NULL included. */
bool fv_app_log_level_parse(const char *s, fv_app_log_level *out);

/* Log lines at `l` and more severe ones from now on (default info). */
void fv_app_log_set_level(fv_app_log_level l);

/* Whether a line at `l` would be written (to skip costly formatting). */
bool fv_app_log_enabled(fv_app_log_level l);

/* Write one line at `level` (printf format). Messages longer than about
 * 2 KiB are cut and end with "...". */
void fv_app_log(fv_app_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fv_app_vlog(fv_app_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* An fv_grpc_log_fn for the gRPC machinery and services (grpc_server.h):
 * logs `msg` at the matching level, prefixed with "grpc ". `user` is
 * ignored. */
void fv_app_log_grpc(void *user, fv_grpc_log_level level, const char *msg);

/* The same for the HTTP machinery and the REST API (http_server.h), prefixed
 * with "http ". */
void fv_app_log_http(void *user, fv_http_log_level level, const char *msg);

/* The same for the PostgreSQL pool, migrations and store (pg.h,
 * pg_store.h), prefixed with "db ". */
void fv_app_log_pg(void *user, fv_pg_log_level level, const char *msg);

#endif
