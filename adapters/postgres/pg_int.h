/*
 * Internals of the Postgres plumbing shared by pg.c and migrate.c, never
 * included outside adapters/postgres/ (STYLE.md rule 2).
 */
#ifndef FV_ADAPTERS_POSTGRES_PG_INT_H
#define FV_ADAPTERS_POSTGRES_PG_INT_H

#include <stddef.h>

#include "adapters/postgres/pg.h"

/* Mark c broken: it is closed when released and reconnected on a later
 * acquire (used when a session-level state such as an advisory lock could
 * not be cleaned up, so the session must die). */
void fv_pg__conn_mark_broken(fv_pg_conn *c);

/* Log through the pool's hook, if any (printf style). The text must never
 * hold a password or a statement parameter. */
void fv_pg__log(fv_pg_conn *c, fv_pg_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The primary message of a failed result (or of the connection when res is
 * NULL) on one line, for operator-facing text such as a migration failure:
 * trailing newlines dropped, inner newlines turned into "; ". Written into
 * buf (cap bytes, always NUL-terminated); returns buf.
 */
const char *fv_pg__primary_message(fv_pg_conn *c, const PGresult *res, char *buf, size_t cap);

/*
 * Copy `in` into out (cap bytes, NUL-terminated, truncated) with every
 * password that `url` carries replaced by "****": the password of a URI's
 * user info (postgresql://user:SECRET@host), and the value of any
 * "password" parameter (URI query or key=value form). Used on the URL
 * itself and on every libpq message about connecting, which may quote it.
 */
void fv_pg__redact(const char *url, const char *in, char *out, size_t cap);

#endif
