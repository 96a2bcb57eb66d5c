/*
 * The migration runner (migrate.h): one session holds the advisory lock for
 * the whole run; each pending migration is one transaction with its
 * schema_migrations row, so a migration is recorded if and only if it
 * committed.
 */
#include "adapters/postgres/migrate.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/postgres/pg_int.h"
#include "core/util/alloc.h"

#define STR_(x) #x
#define STR(x)  STR_(x)

/* The advisory lock statements, with the key spelled out in the SQL text
 * (it is a constant, not input). */
#define LOCK_KEY_SQL                 "(" STR(FV_PG_MIGRATE_LOCK_KEY_VALUE) ")"
#define FV_PG_MIGRATE_LOCK_KEY_VALUE 112615912536430

_Static_assert(FV_PG_MIGRATE_LOCK_KEY == FV_PG_MIGRATE_LOCK_KEY_VALUE,
               "the lock key of the SQL text is the documented one");

static const char lock_sql[] = "SELECT pg_advisory_lock" LOCK_KEY_SQL;
static const char unlock_sql[] = "SELECT pg_advisory_unlock" LOCK_KEY_SQL;

static const char exists_sql[] = "SELECT to_regclass('schema_migrations') IS NOT NULL";

static const char create_sql[] = "CREATE TABLE schema_migrations (\n"
                                 "    version bigint PRIMARY KEY,\n"
                                 "    name text NOT NULL,\n"
                                 "    checksum text NOT NULL,\n"
                                 "    applied_at timestamptz NOT NULL DEFAULT now()\n"
                                 ")";

static const char applied_sql[] =
    "SELECT version, name, checksum FROM schema_migrations ORDER BY version";

static const char record_sql[] =
    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1::bigint, $2, $3)";

/* One recorded migration, as read back (strings point into a PGresult). */
typedef struct applied_row {
    int64_t version;
    const char *name;
    const char *checksum;
} applied_row;

static fv_err check_list(const fv_pg_migration *list, size_t n, fv_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const fv_pg_migration *m = &list[i];
        if (m->version <= 0 || m->name == NULL || m->name[0] == '\0' || m->sql == NULL ||
            m->checksum == NULL || m->checksum[0] == '\0')
            return fv_error_set(err, FV_E_INVALID, "migration %zu of the list is incomplete", i);
        if (i > 0 && m->version <= list[i - 1].version)
            return fv_error_set(err, FV_E_INVALID,
                                "migrations must be in increasing version order: %" PRId64
                                " follows %" PRId64,
                                m->version, list[i - 1].version);
    }
    return FV_OK;
}

/* Run sql (no parameters); *out is the result on success, owned by the
 * caller. The error names `what`, with the server's message. */
static fv_err run(fv_pg_conn *c, const char *sql, const char *what, PGresult **out, fv_error *err)
{
    PGresult *r = PQexec(fv_pg_conn_raw(c), sql);
    ExecStatusType st = PQresultStatus(r);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        char primary[160];
        fv_err rc = fv_pg_error(c, r, what, err);
        fv_pg__primary_message(c, r, primary, sizeof primary);
        PQclear(r);
        return fv_error_set(err, rc, "could not %s: %s", what, primary);
    }
    if (out != NULL)
        *out = r;
    else
        PQclear(r);
    return FV_OK;
}

/* The recorded migrations, in version order; with `create`, the table is
 * created when absent, else a missing table reads as no rows (*res NULL). */
static fv_err read_applied(fv_pg_conn *c, bool create, PGresult **res, applied_row **rows,
                           size_t *n, fv_error *err)
{
    PGresult *r = NULL;
    *res = NULL;
    *rows = NULL;
    *n = 0;
    fv_err rc = run(c, exists_sql, "look for table \"schema_migrations\"", &r, err);
    if (rc != FV_OK)
        return rc;
    bool exists = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!exists && !create)
        return FV_OK;
    if (!exists) {
        rc = run(c, create_sql, "create table \"schema_migrations\"", NULL, err);
        if (rc != FV_OK)
            return rc;
    }
    rc = run(c, applied_sql, "read table \"schema_migrations\"", &r, err);
    if (rc != FV_OK)
        return rc;
    int nt = PQntuples(r);
    *rows = fv_calloc(nt > 0 ? (size_t)nt : 1, sizeof **rows);
    if (*rows == NULL) {
        PQclear(r);
        return fv_error_set(err, FV_E_EXHAUSTED, "could not read the migrations: out of memory");
    }
    for (int i = 0; i < nt; i++) {
        char *end = NULL;
        (*rows)[i].version = strtoll(PQgetvalue(r, i, 0), &end, 10);
        (*rows)[i].name = PQgetvalue(r, i, 1);
        (*rows)[i].checksum = PQgetvalue(r, i, 2);
    }
    *n = (size_t)nt;
    *res = r;
    return FV_OK;
}

static const fv_pg_migration *find(const fv_pg_migration *list, size_t n, int64_t version)
{
    for (size_t i = 0; i < n; i++)
        if (list[i].version == version)
            return &list[i];
    return NULL;
}

/* What is recorded must be a prefix of the list, unchanged. */
static fv_err check_applied(const fv_pg_migration *list, size_t n, const applied_row *rows,
                            size_t nrows, fv_error *err)
{
    int64_t newest = nrows > 0 ? rows[nrows - 1].version : 0;

    for (size_t i = 0; i < nrows; i++) {
        const fv_pg_migration *m = find(list, n, rows[i].version);
        if (m == NULL)
            return fv_error_set(err, FV_E_PRECONDITION,
                                "the database has migration %" PRId64
                                " \"%.60s\", which this build does not know: a newer "
                                "flovyn-server has migrated it",
                                rows[i].version, rows[i].name);
        if (strcmp(m->checksum, rows[i].checksum) != 0)
            return fv_error_set(err, FV_E_PRECONDITION,
                                "migration %" PRId64
                                " \"%.60s\" was changed after it was applied (its checksum "
                                "differs): migrations are forward-only, add a new one instead",
                                m->version, m->name);
    }
    for (size_t i = 0; i < n; i++) {
        if (list[i].version >= newest)
            break;
        bool recorded = false;
        for (size_t j = 0; j < nrows && !recorded; j++)
            recorded = rows[j].version == list[i].version;
        if (!recorded)
            return fv_error_set(
                err, FV_E_PRECONDITION,
                "migration %" PRId64 " \"%.60s\" was never applied but is older than the "
                "database's newest migration %" PRId64 ": give it a number after %" PRId64,
                list[i].version, list[i].name, newest, newest);
    }
    return FV_OK;
}

/* One migration and its record in one transaction. */
static fv_err apply_one(fv_pg_conn *c, const fv_pg_migration *m, fv_error *err)
{
    char what[128];
    char version[24];
    fv_err rc;

    snprintf(what, sizeof what, "apply migration %" PRId64 " \"%.60s\"", m->version, m->name);
    snprintf(version, sizeof version, "%" PRId64, m->version);
    rc = run(c, "BEGIN", what, NULL, err);
    if (rc != FV_OK)
        return rc;
    rc = run(c, m->sql, what, NULL, err);
    if (rc == FV_OK) {
        const char *const values[] = {version, m->name, m->checksum};
        PGresult *r = PQexecParams(fv_pg_conn_raw(c), record_sql, 3, NULL, values, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            char primary[160];
            rc = fv_pg_error(c, r, what, err);
            fv_pg__primary_message(c, r, primary, sizeof primary);
            fv_error_set(err, rc, "could not record migration %" PRId64 ": %s", m->version,
                         primary);
        }
        PQclear(r);
    }
    if (rc == FV_OK) {
        PGresult *r = NULL;
        rc = run(c, "COMMIT", what, &r, err);
        if (rc == FV_OK && strcmp(PQcmdStatus(r), "COMMIT") != 0)
            rc = fv_error_set(err, FV_E_INTERNAL, "could not %s: the transaction was rolled back",
                              what);
        PQclear(r);
        if (rc == FV_OK)
            return FV_OK;
    }
    if (PQtransactionStatus(fv_pg_conn_raw(c)) != PQTRANS_IDLE) {
        PGresult *r = PQexec(fv_pg_conn_raw(c), "ROLLBACK");
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            fv_pg__conn_mark_broken(c);
        PQclear(r);
    }
    return rc;
}

/* After check_applied, the pending migrations are those newer than the
 * database's newest. */
static size_t count_pending(const fv_pg_migration *list, size_t n, int64_t newest)
{
    size_t pending = 0;
    for (size_t i = 0; i < n; i++)
        if (list[i].version > newest)
            pending++;
    return pending;
}

fv_err fv_pg_migrate(fv_pg_pool *pool, const fv_pg_migration *list, size_t n,
                     fv_pg_migrate_report *out, fv_error *err)
{
    fv_pg_migrate_report rep = {0, 0, 0, 0, 0};
    fv_pg_conn *c = NULL;
    PGresult *applied = NULL;
    applied_row *rows = NULL;
    size_t nrows = 0;
    bool locked = false;
    fv_err rc;

    if (out != NULL)
        *out = rep;
    rc = check_list(list, n, err);
    if (rc != FV_OK)
        return rc;
    rc = fv_pg_acquire(pool, &c, err);
    if (rc != FV_OK)
        return rc;
    rc = run(c, lock_sql, "take the migration lock", NULL, err);
    if (rc != FV_OK)
        goto done;
    locked = true;

    rc = read_applied(c, true, &applied, &rows, &nrows, err);
    if (rc != FV_OK)
        goto done;
    rep.already = nrows;
    rep.from_version = nrows > 0 ? rows[nrows - 1].version : 0;
    rep.to_version = rep.from_version;
    rc = check_applied(list, n, rows, nrows, err);
    if (rc != FV_OK)
        goto done;
    rep.pending = count_pending(list, n, rep.from_version);

    for (size_t i = 0; i < n; i++) {
        if (list[i].version <= rep.from_version)
            continue;
        rc = apply_one(c, &list[i], err);
        if (rc != FV_OK)
            goto done;
        rep.applied++;
        rep.pending--;
        rep.to_version = list[i].version;
        fv_pg__log(c, FV_PG_LOG_INFO, "applied migration %" PRId64 " \"%s\"", list[i].version,
                   list[i].name);
    }

done:
    if (locked) {
        PGresult *r = PQexec(fv_pg_conn_raw(c), unlock_sql);
        /* A lock we could not give back would outlive this run on a pooled
         * session: end the session instead. */
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 ||
            strcmp(PQgetvalue(r, 0, 0), "t") != 0)
            fv_pg__conn_mark_broken(c);
        PQclear(r);
    }
    fv_free(rows);
    PQclear(applied);
    fv_pg_release(pool, c);
    if (out != NULL)
        *out = rep;
    return rc;
}

fv_err fv_pg_migrate_check(fv_pg_pool *pool, const fv_pg_migration *list, size_t n,
                           fv_pg_migrate_report *out, fv_error *err)
{
    fv_pg_migrate_report rep = {0, 0, 0, 0, 0};
    fv_pg_conn *c = NULL;
    PGresult *applied = NULL;
    applied_row *rows = NULL;
    size_t nrows = 0;
    fv_err rc;

    if (out != NULL)
        *out = rep;
    rc = check_list(list, n, err);
    if (rc != FV_OK)
        return rc;
    rc = fv_pg_acquire(pool, &c, err);
    if (rc != FV_OK)
        return rc;
    rc = read_applied(c, false, &applied, &rows, &nrows, err);
    if (rc == FV_OK) {
        rep.already = nrows;
        rep.from_version = nrows > 0 ? rows[nrows - 1].version : 0;
        rep.to_version = rep.from_version;
        rc = check_applied(list, n, rows, nrows, err);
    }
    if (rc == FV_OK)
        rep.pending = count_pending(list, n, rep.from_version);
    fv_free(rows);
    PQclear(applied);
    fv_pg_release(pool, c);
    if (out != NULL)
        *out = rep;
    return rc;
}
