/*
 * The PostgreSQL plumbing every Postgres repository stands on: a fixed-size
 * connection pool (one connection per request, never shared between
 * threads), prepared statements cached per connection, transactions with
 * retry, and the one SQLSTATE -> fv_err mapping (STYLE.md rule 16).
 *
 * Generated query functions (codegen/, build/gen/db/) take an fv_pg_conn and
 * run their statement through fv_pg_exec; repositories borrow a connection
 * per port call (or run a transaction with fv_pg_tx), never hold one across
 * calls, and never touch a PGconn directly.
 *
 * Reconnection: a connection found broken (PQstatus != CONNECTION_OK, or a
 * statement failed with a connection-class error) is reset on its next
 * acquire; while the database is down, acquire and every statement answer
 * FV_E_UNAVAILABLE, and the pool recovers by itself when it is back.
 */
#ifndef FV_ADAPTERS_POSTGRES_PG_H
#define FV_ADAPTERS_POSTGRES_PG_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "core/util/arena.h"
#include "core/util/error.h"

typedef struct fv_pg_pool fv_pg_pool;

/* One pooled connection: the PGconn and the statements prepared on it.
 * Opaque; owned by the pool, lent to one thread at a time. */
typedef struct fv_pg_conn fv_pg_conn;

typedef enum fv_pg_log_level { FV_PG_LOG_ERROR, FV_PG_LOG_WARN, FV_PG_LOG_INFO } fv_pg_log_level;
typedef void (*fv_pg_log_fn)(void *user, fv_pg_log_level level, const char *msg);

/* Zero-initialise, then set what you need; 0 / NULL means the default. */
typedef struct fv_pg_pool_config {
    const char *url;        /* libpq connection string or URI; required */
    int size;               /* connections, default 8 */
    int acquire_timeout_ms; /* wait for a free connection, default 5000 */
    int connect_timeout_s;  /* per connection attempt, default 5 */
    fv_pg_log_fn log;       /* optional */
    void *log_user;
} fv_pg_pool_config;

/* Create the pool and open one connection to prove the URL works (the others
 * open lazily). NULL with FV_E_INVALID (bad config or URL) or
 * FV_E_UNAVAILABLE (cannot connect: the server's reason, never the
 * password), FV_E_EXHAUSTED (out of memory).
 *
 * Every connection sets application_name=flovyn-server unless the URL names
 * another, and connect_timeout to cfg->connect_timeout_s (over the URL's).
 * Notices and warnings of the server go to the log hook, never to stderr.
 * The log hook is called from any thread that uses the pool; its messages
 * never hold a password nor a statement parameter (SQL text is fine). */
fv_pg_pool *fv_pg_pool_new(const fv_pg_pool_config *cfg, fv_error *err);

/* The number of connections the pool may hold (cfg->size or the default). */
int fv_pg_pool_size(const fv_pg_pool *p);

/* Close every connection and free the pool; no connection may be lent.
 * NULL-safe. */
void fv_pg_pool_free(fv_pg_pool *p);

/* Borrow a connection (reconnecting it if it was broken). FV_E_UNAVAILABLE
 * when the database cannot be reached, FV_E_EXHAUSTED when none is free
 * within the acquire timeout. Thread-safe; a thread must not hold two
 * connections of one pool at a time (DESIGN.md section 7). An idle
 * connection whose backend went away (server restart, terminated backend)
 * is noticed here, without a round trip, and opened again. */
fv_err fv_pg_acquire(fv_pg_pool *p, fv_pg_conn **out, fv_error *err);

/* Give it back. A connection left inside a transaction is rolled back; one
 * found broken is closed now and opened again by a later acquire (its cache
 * of prepared statements starts empty). NULL-safe. */
void fv_pg_release(fv_pg_pool *p, fv_pg_conn *c);

/* The raw connection, for the generated code and the migration runner. */
PGconn *fv_pg_conn_raw(fv_pg_conn *c);

/*
 * Run one statement as a prepared statement named `name` (prepared on this
 * connection at first use, then reused), with n text or binary parameters
 * (values[i] NULL = SQL NULL). On success *out is the result (PGRES_TUPLES_OK
 * or PGRES_COMMAND_OK), registered as a cleanup of arena `a` (PQclear when
 * the arena dies) so no path leaks it. On failure: the mapped error
 * (fv_pg_error), *out NULL, the result already cleared.
 *
 * Results come in text format. One name means one SQL text for the life of
 * the process (the cache is keyed by name). A prepare that fails is not
 * cached (the next use prepares again). name NULL or "" runs the statement
 * unnamed, without caching (PQexecParams). lengths and formats may be NULL
 * when every parameter is text. a may be NULL only for tests: the caller
 * then owns *out and PQclears it. The failure message names the statement
 * ("could not run query \"ListWorkers\": ...") with a generic reason; a
 * repository turns client-visible failures (CONFLICT, INVALID, PRECONDITION)
 * into messages in its own words. FV_E_UNAVAILABLE at once when the
 * connection is already known to be lost; FV_E_EXHAUSTED when memory runs
 * out.
 */
fv_err fv_pg_exec(fv_pg_conn *c, fv_arena *a, const char *name, const char *sql, int n,
                  const char *const *values, const int *lengths, const int *formats, PGresult **out,
                  fv_error *err);

/* The fv_err of a failed result by SQLSTATE (never by message text):
 * 23505 CONFLICT; 23502, 23514, 22xxx INVALID; 23503 PRECONDITION;
 * 40001, 40P01 ABORTED; class 08, 57P01-57P03 and a NULL result or broken
 * connection UNAVAILABLE (the connection is marked for reset); 57014
 * TIMEOUT; 53xxx EXHAUSTED; else INTERNAL. `what` names the operation in
 * the message ("register worker" gives "could not register worker: ...");
 * the server's detail goes to the log, not to err (clients never see SQL
 * text). The log line has the SQLSTATE, the primary message (not for class
 * 22, whose messages quote the bad value), table, column, constraint and
 * hint, never the DETAIL field (it quotes row values). c may be NULL. */
fv_err fv_pg_error(fv_pg_conn *c, const PGresult *res, const char *what, fv_error *err);

/*
 * Run fn inside BEGIN ... COMMIT on one borrowed connection; roll back when
 * fn fails; retry the whole transaction (up to 5 times, with a short
 * jittered pause) when it failed with FV_E_ABORTED (serialization failure,
 * deadlock), whether fn or the COMMIT said so. Isolation READ COMMITTED
 * unless `serializable`. fn runs once per attempt, so it must not keep
 * effects outside the database between attempts (or undo them). A COMMIT
 * of a transaction in which a statement failed (fn ignored the failure)
 * is FV_E_INTERNAL, never FV_OK. Returns fn's error (after the last retry
 * for ABORTED), or those of fv_pg_acquire, BEGIN and COMMIT.
 */
typedef fv_err (*fv_pg_tx_fn)(fv_pg_conn *c, void *user, fv_error *err);
fv_err fv_pg_tx(fv_pg_pool *p, bool serializable, fv_pg_tx_fn fn, void *user, fv_error *err);

#endif
