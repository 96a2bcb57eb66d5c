/*
 * Helpers for tests that need PostgreSQL. ctest starts one throwaway cluster
 * per build tree (scripts/pg-test-cluster.sh, the fixture "pg" of
 * CMakeLists.txt) and gives every Postgres test the variable
 * FLOVYN_TEST_PG_URL_FILE, the path of a file holding the cluster's URL
 * (superuser, database "postgres"). Each test executable then works in a
 * database of its own, created here and dropped at its end, so tests run in
 * parallel (ctest -j) never see each other's rows.
 *
 *     fv_pg_test_db db;
 *     if (fv_pg_test_db_create(&db) != 0) return EXIT_FAILURE;
 *     ... connect with db.url ...
 *     fv_pg_test_db_drop(&db);
 *
 * Not thread-safe (call from main); the URLs may be read from any thread.
 */
#ifndef FV_TESTS_SUPPORT_PG_TEST_H
#define FV_TESTS_SUPPORT_PG_TEST_H

#include "adapters/postgres/pg.h"

#define FV_PG_TEST_URL_MAX 1024

typedef struct fv_pg_test_db {
    char name[64];                      /* "fv_test_<pid>_<random hex>" */
    char admin_url[FV_PG_TEST_URL_MAX]; /* the cluster's URL, as in the file */
    char url[FV_PG_TEST_URL_MAX];       /* the same server, database `name`
                                           (libpq key=value form) */
} fv_pg_test_db;

/*
 * Read the cluster's URL from $FLOVYN_TEST_PG_URL_FILE and create a fresh,
 * empty database. Returns 0, or -1 after printing why on stderr (variable
 * not set: the test was not started by ctest; file unreadable; server
 * unreachable).
 */
int fv_pg_test_db_create(fv_pg_test_db *db);

/* Drop the database (terminating sessions still connected to it). Safe on a
 * db whose create failed. Returns 0, or -1 after printing why. */
int fv_pg_test_db_drop(fv_pg_test_db *db);

/*
 * A log hook (fv_pg_log_fn: give it to pools, stores and buses) that keeps
 * what they log in one process-wide buffer (64 KiB; what does not fit is
 * cut), for the tests that check what is logged. These four are
 * thread-safe.
 */
void fv_pg_test_log(void *user, fv_pg_log_level level, const char *msg);

/* Forget what was logged. */
void fv_pg_test_log_reset(void);

/* How many times `needle` occurs in what was logged since the last reset. */
int fv_pg_test_log_count(const char *needle);

/* Print what was logged on stderr (to explain a failed assertion). */
void fv_pg_test_log_dump(void);

#endif
