/*
 * Schema migrations: numbered, forward-only SQL files (migrations/NNNN_name.sql)
 * embedded in the binary at build time, applied in order, each in its own
 * transaction together with its row in schema_migrations, under an advisory
 * lock so that replicas starting together never apply one twice.
 */
#ifndef FV_ADAPTERS_POSTGRES_MIGRATE_H
#define FV_ADAPTERS_POSTGRES_MIGRATE_H

#include <stddef.h>
#include <stdint.h>

#include "adapters/postgres/pg.h"
#include "core/util/error.h"

/* The key of the session advisory lock every migration run holds
 * (pg_advisory_lock): the bytes of "flovyn" read as a number. */
#define FV_PG_MIGRATE_LOCK_KEY INT64_C(0x666c6f76796e)

/* One migration. Static storage (the embedded list) or the caller's. */
typedef struct fv_pg_migration {
    int64_t version;      /* NNNN of the file name; > 0 */
    const char *name;     /* the rest of the file name, without ".sql" */
    const char *sql;      /* the whole file; may hold several statements */
    const char *checksum; /* SHA-256 of the file, lower-case hex */
} fv_pg_migration;

/* What a run did. */
typedef struct fv_pg_migrate_report {
    size_t applied;       /* migrations this run applied */
    size_t already;       /* migrations found applied before this run */
    int64_t from_version; /* highest version before the run; 0 = none */
    int64_t to_version;   /* highest version after the run; 0 = none */
    size_t pending;       /* migrations of the list still not applied */
} fv_pg_migrate_report;

/*
 * Bring the database up to date with list[0..n) (strictly increasing
 * versions). On one session of `pool`, under pg_advisory_lock
 * (FV_PG_MIGRATE_LOCK_KEY): create schema_migrations(version bigint primary
 * key, name text not null, checksum text not null, applied_at timestamptz not
 * null default now()) if absent, check what is recorded, then apply each
 * pending migration in order, each in its own transaction with its
 * schema_migrations row, and release the lock. A migration therefore cannot
 * use statements that refuse to run in a transaction (CREATE INDEX
 * CONCURRENTLY, VACUUM) nor contain BEGIN/COMMIT itself.
 *
 * Refuses with FV_E_PRECONDITION, applying nothing, when:
 *   - an applied migration's checksum differs from the list's (someone edited
 *     a forward-only migration after it ran; write a new one instead);
 *   - the database records a version the list does not have (a newer server
 *     migrated it: run that server, or a newer build of this one);
 *   - a pending migration is older than the newest applied one (it was added
 *     out of order; give it a number after the newest).
 * Other errors: FV_E_INVALID (a malformed list), those of fv_pg_acquire, and
 * the mapped error of a failed statement; a migration that fails is rolled
 * back (the earlier ones of the run stay applied, as recorded) and err names
 * it with the server's message (err is for the operator here, not a client).
 * *out (may be NULL) is filled on success and as far as the run got on
 * failure. Blocks while another session holds the lock.
 */
fv_err fv_pg_migrate(fv_pg_pool *pool, const fv_pg_migration *list, size_t n,
                     fv_pg_migrate_report *out, fv_error *err);

/*
 * Check, changing nothing (no lock, no table created): the same refusals as
 * fv_pg_migrate (FV_E_PRECONDITION for an edited, unknown or out-of-order
 * migration), then *out (may be NULL) says how many of the list are pending
 * (`pending`; 0 = up to date) and which version the database has
 * (`from_version` = `to_version`). A database without schema_migrations has
 * every migration pending. For servers and commands that must not migrate
 * but need the schema. Errors of fv_pg_acquire and of the reads.
 */
fv_err fv_pg_migrate_check(fv_pg_pool *pool, const fv_pg_migration *list, size_t n,
                           fv_pg_migrate_report *out, fv_error *err);

/*
 * The migrations embedded in this binary (migrations/NNNN_name.sql at build
 * time, in version order): static storage, *n their count (0 when there are
 * none: the result may then be NULL). Defined by the generated file
 * gen/pg/migrations.c.
 */
const fv_pg_migration *fv_pg_migrations(size_t *n);

#endif
