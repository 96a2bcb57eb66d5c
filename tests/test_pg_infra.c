/*
 * The PostgreSQL plumbing (adapters/postgres/pg.h, migrate.h) against a real
 * server (the ctest cluster, one database for this executable): the pool's
 * bound and acquire timeout, statements with NULL and binary parameters, the
 * prepared-statement cache, every class of the SQLSTATE table provoked by
 * real statements, lost connections and recovery, transactions (rollback,
 * retry on ABORTED), password redaction, and migrations (order, records,
 * idempotence, edited and unknown migrations, 4 concurrent runners).
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapters/postgres/migrate.h"
#include "adapters/postgres/pg.h"
#include "adapters/postgres/pg_int.h"
#include "core/util/arena.h"
#include "tests/support/cunit_main.h"
#include "tests/support/pg_test.h"

static fv_pg_test_db db;

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */
/* ---------------------------------------------------------------------- */

/* The test database's URL, with search_path set to `schema` when given. */
static const char *url_for(const char *schema, char *buf, size_t cap)
{
    if (schema == NULL)
        snprintf(buf, cap, "%s", db.url);
    else
        snprintf(buf, cap, "%s options='-c search_path=%s'", db.url, schema);
    return buf;
}

static fv_pg_pool *pool_open_schema(int size, int acquire_ms, const char *schema)
{
    char url[FV_PG_TEST_URL_MAX + 64];
    fv_pg_pool_config cfg;
    fv_error e;

    memset(&cfg, 0, sizeof cfg);
    cfg.url = url_for(schema, url, sizeof url);
    cfg.size = size;
    cfg.acquire_timeout_ms = acquire_ms;
    cfg.log = fv_pg_test_log;
    fv_pg_pool *p = fv_pg_pool_new(&cfg, &e);
    if (p == NULL)
        fprintf(stderr, "\n  pool: %s: %s\n", fv_err_name(e.code), e.msg);
    CU_ASSERT_FATAL(p != NULL);
    return p;
}

static fv_pg_pool *pool_open(int size, int acquire_ms)
{
    return pool_open_schema(size, acquire_ms, NULL);
}

static fv_pg_conn *must_acquire(fv_pg_pool *p)
{
    fv_pg_conn *c = NULL;
    fv_error e;
    fv_err rc = fv_pg_acquire(p, &c, &e);
    if (rc != FV_OK)
        fprintf(stderr, "\n  acquire: %s: %s\n", fv_err_name(rc), e.msg);
    CU_ASSERT_FATAL(rc == FV_OK && c != NULL);
    return c;
}

/* One unnamed statement without parameters; the result lives in `a`. */
static fv_err q(fv_pg_conn *c, fv_arena *a, const char *sql, PGresult **out, fv_error *e)
{
    PGresult *r = NULL;
    fv_err rc = fv_pg_exec(c, a, NULL, sql, 0, NULL, NULL, NULL, &r, e);
    if (out != NULL)
        *out = r;
    return rc;
}

static void must_q(fv_pg_conn *c, fv_arena *a, const char *sql)
{
    fv_error e;
    fv_err rc = q(c, a, sql, NULL, &e);
    if (rc != FV_OK)
        fprintf(stderr, "\n  %s: %s: %s\n", sql, fv_err_name(rc), e.msg);
    CU_ASSERT_FATAL(rc == FV_OK);
}

/* The first column of the first row of a one-value query, as a number. */
static long long q_int(fv_pg_conn *c, const char *sql)
{
    fv_arena a;
    PGresult *r = NULL;
    fv_error e;
    long long v = -1;

    fv_arena_init(&a, 0);
    fv_err rc = q(c, &a, sql, &r, &e);
    if (rc != FV_OK)
        fprintf(stderr, "\n  %s: %s: %s\n", sql, fv_err_name(rc), e.msg);
    CU_ASSERT(rc == FV_OK);
    if (rc == FV_OK && PQntuples(r) == 1)
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    fv_arena_release(&a);
    return v;
}

static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* A plain libpq session beside the pool (for the other side of races);
 * its notices ("table ... does not exist, skipping") are dropped. */
static PGconn *side_open(const char *schema)
{
    char url[FV_PG_TEST_URL_MAX + 64];
    PGconn *s = PQconnectdb(url_for(schema, url, sizeof url));
    if (PQstatus(s) != CONNECTION_OK)
        fprintf(stderr, "\n  side connection: %s", PQerrorMessage(s));
    CU_ASSERT_FATAL(PQstatus(s) == CONNECTION_OK);
    PQsetNoticeProcessor(s, quiet_notice, NULL);
    return s;
}

static void side_exec(PGconn *s, const char *sql)
{
    PGresult *r = PQexec(s, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fprintf(stderr, "\n  side: %s: %s", sql, PQresultErrorMessage(r));
    CU_ASSERT(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);
    PQclear(r);
}

static long long side_int(PGconn *s, const char *sql)
{
    PGresult *r = PQexec(s, sql);
    long long v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    else
        fprintf(stderr, "\n  side: %s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    return v;
}

/* End the backend of a pooled connection from another session, and wait
 * until it is gone. */
static void terminate_backend_of(fv_pg_conn *c)
{
    char sql[96];
    PGconn *s = side_open(NULL);
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d, 5000)::int",
             PQbackendPID(fv_pg_conn_raw(c)));
    FV_ASSERT_INT_EQ(side_int(s, sql), 1);
    PQfinish(s);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ---------------------------------------------------------------------- */
/* Pool                                                                   */
/* ---------------------------------------------------------------------- */

static void test_pg_infra__bad_urls(void)
{
    fv_pg_pool_config cfg;
    fv_error e;

    memset(&cfg, 0, sizeof cfg);
    CU_ASSERT(fv_pg_pool_new(&cfg, &e) == NULL);
    FV_ASSERT_INT_EQ(e.code, FV_E_INVALID);

    /* A URL libpq cannot parse: INVALID, and the password is not quoted. */
    cfg.url = "postgresql://app:hunter2secret@[::1/db";
    CU_ASSERT(fv_pg_pool_new(&cfg, &e) == NULL);
    FV_ASSERT_INT_EQ(e.code, FV_E_INVALID);
    CU_ASSERT(strstr(e.msg, "hunter2secret") == NULL);
    CU_ASSERT(strstr(e.msg, "invalid database URL") != NULL);

    cfg.url = "host=127.0.0.1 port=notaport password=hunter2secret";
    CU_ASSERT(fv_pg_pool_new(&cfg, &e) == NULL);
    CU_ASSERT(e.code == FV_E_INVALID || e.code == FV_E_UNAVAILABLE);
    CU_ASSERT(strstr(e.msg, "hunter2secret") == NULL);

    /* Nobody listens there: UNAVAILABLE with libpq's reason, no password. */
    cfg.url = "postgresql://app:hunter2secret@127.0.0.1:1/db?connect_timeout=2";
    CU_ASSERT(fv_pg_pool_new(&cfg, &e) == NULL);
    FV_ASSERT_INT_EQ(e.code, FV_E_UNAVAILABLE);
    CU_ASSERT(strstr(e.msg, "hunter2secret") == NULL);
    CU_ASSERT(strstr(e.msg, "could not connect to the database") != NULL);

    cfg.url = db.url;
    cfg.size = -1;
    CU_ASSERT(fv_pg_pool_new(&cfg, &e) == NULL);
    FV_ASSERT_INT_EQ(e.code, FV_E_INVALID);
}

static void test_pg_infra__redact(void)
{
    char out[256];

    fv_pg__redact("postgresql://app:s3cret@db:5432/x", "postgresql://app:s3cret@db:5432/x", out,
                  sizeof out);
    FV_ASSERT_STR_EQ(out, "postgresql://app:****@db:5432/x");
    fv_pg__redact("postgres://app:p%40ss@db/x?password=other&sslmode=require",
                  "bad \"postgres://app:p%40ss@db/x?password=other&sslmode=require\"", out,
                  sizeof out);
    FV_ASSERT_STR_EQ(out, "bad \"postgres://app:****@db/x?password=****&sslmode=require\"");
    fv_pg__redact("host=db password='a b\\'c' user=x", "host=db password='a b\\'c' user=x", out,
                  sizeof out);
    FV_ASSERT_STR_EQ(out, "host=db password='****' user=x");
    fv_pg__redact("host=db password = plain user=x", "[plain]", out, sizeof out);
    FV_ASSERT_STR_EQ(out, "[****]");
    /* No password: unchanged. */
    fv_pg__redact("postgresql://app@db/x", "postgresql://app@db/x", out, sizeof out);
    FV_ASSERT_STR_EQ(out, "postgresql://app@db/x");
    /* Truncation keeps a NUL. */
    fv_pg__redact("x", "0123456789", out, 5);
    FV_ASSERT_STR_EQ(out, "0123");
}

static void test_pg_infra__application_name(void)
{
    fv_pg_pool *p = pool_open(2, 1000);
    fv_pg_conn *c = must_acquire(p);
    fv_arena a;
    PGresult *r = NULL;
    fv_error e;

    fv_arena_init(&a, 0);
    FV_ASSERT_INT_EQ(q(c, &a, "SHOW application_name", &r, &e), FV_OK);
    FV_ASSERT_STR_EQ(PQgetvalue(r, 0, 0), "flovyn-server");
    FV_ASSERT_INT_EQ(fv_pg_pool_size(p), 2);
    fv_arena_release(&a);
    fv_pg_release(p, c);
    fv_pg_pool_free(p);
}

typedef struct waiter {
    fv_pg_pool *pool;
    fv_err rc;
    double waited_ms;
} waiter;

static void *wait_for_conn(void *arg)
{
    waiter *w = arg;
    fv_pg_conn *c = NULL;
    double t0 = now_ms();
    w->rc = fv_pg_acquire(w->pool, &c, NULL);
    w->waited_ms = now_ms() - t0;
    if (w->rc == FV_OK)
        fv_pg_release(w->pool, c);
    return NULL;
}

static void test_pg_infra__pool_bound_and_timeout(void)
{
    fv_pg_pool *p = pool_open(2, 300);
    fv_pg_conn *a = must_acquire(p);
    fv_pg_conn *b = must_acquire(p);
    fv_pg_conn *c = NULL;
    fv_error e;

    CU_ASSERT(a != b);
    double t0 = now_ms();
    FV_ASSERT_INT_EQ(fv_pg_acquire(p, &c, &e), FV_E_EXHAUSTED);
    double waited = now_ms() - t0;
    CU_ASSERT(c == NULL);
    CU_ASSERT(waited >= 250.0);
    CU_ASSERT(strstr(e.msg, "no database connection free") != NULL);

    /* A release wakes a waiter at once. */
    waiter w = {p, FV_E_INTERNAL, 0};
    pthread_t th;
    fv_pg_pool_free(NULL);
    fv_pg_release(p, NULL);
    FV_ASSERT_INT_EQ(pthread_create(&th, NULL, wait_for_conn, &w), 0);
    struct timespec pause = {0, 50 * 1000000L};
    nanosleep(&pause, NULL);
    fv_pg_release(p, a);
    pthread_join(th, NULL);
    FV_ASSERT_INT_EQ(w.rc, FV_OK);
    CU_ASSERT(w.waited_ms < 290.0);

    fv_pg_release(p, b);
    fv_pg_pool_free(p);
}

typedef struct hammer {
    fv_pg_pool *pool;
    int ok;
    int exhausted;
} hammer;

static void *hammer_pool(void *arg)
{
    hammer *h = arg;
    for (int i = 0; i < 40; i++) {
        fv_pg_conn *c = NULL;
        fv_arena a;
        PGresult *r = NULL;
        fv_err rc = fv_pg_acquire(h->pool, &c, NULL);
        if (rc == FV_E_EXHAUSTED) {
            h->exhausted++;
            continue;
        }
        if (rc != FV_OK)
            continue;
        fv_arena_init(&a, 0);
        const char *v[] = {"21"};
        if (fv_pg_exec(c, &a, "double", "SELECT $1::int * 2, pg_sleep(0.001)", 1, v, NULL, NULL, &r,
                       NULL) == FV_OK &&
            strcmp(PQgetvalue(r, 0, 0), "42") == 0)
            h->ok++;
        fv_arena_release(&a);
        fv_pg_release(h->pool, c);
    }
    return NULL;
}

static void test_pg_infra__pool_never_exceeds_size(void)
{
    fv_pg_pool *p = pool_open(3, 10000);
    hammer hs[8];
    pthread_t th[8];

    for (int i = 0; i < 8; i++) {
        hs[i] = (hammer){p, 0, 0};
        FV_ASSERT_INT_EQ(pthread_create(&th[i], NULL, hammer_pool, &hs[i]), 0);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    int ok = 0;
    for (int i = 0; i < 8; i++) {
        ok += hs[i].ok;
        FV_ASSERT_INT_EQ(hs[i].exhausted, 0);
    }
    FV_ASSERT_INT_EQ(ok, 8 * 40);

    /* The server saw at most 3 sessions of this pool. */
    fv_pg_conn *c = must_acquire(p);
    long long n = q_int(c, "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                           "current_database() AND application_name = 'flovyn-server'");
    CU_ASSERT(n >= 1 && n <= 3);
    fv_pg_release(p, c);
    fv_pg_pool_free(p);
}

/* ---------------------------------------------------------------------- */
/* Statements                                                             */
/* ---------------------------------------------------------------------- */

static void test_pg_infra__exec_nulls_and_binary(void)
{
    fv_pg_pool *p = pool_open(1, 1000);
    fv_pg_conn *c = must_acquire(p);
    fv_arena a;
    PGresult *r = NULL;
    fv_error e;

    fv_arena_init(&a, 0);
    uint32_t be = htonl(41);
    const unsigned char bytes[] = {0x00, 0xff, 0x10};
    const char *values[] = {NULL, (const char *)&be, (const char *)bytes, "text"};
    const int lengths[] = {0, 4, 3, 0};
    const int formats[] = {0, 1, 1, 0};
    fv_err rc = fv_pg_exec(c, &a, "params",
                           "SELECT $1::text IS NULL, $2::int4 + 1, encode($3::bytea, 'hex'), "
                           "length($3::bytea), $4::text, $1::text",
                           4, values, lengths, formats, &r, &e);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    CU_ASSERT_FATAL(r != NULL);
    FV_ASSERT_STR_EQ(PQgetvalue(r, 0, 0), "t");
    FV_ASSERT_STR_EQ(PQgetvalue(r, 0, 1), "42");
    FV_ASSERT_STR_EQ(PQgetvalue(r, 0, 2), "00ff10");
    FV_ASSERT_STR_EQ(PQgetvalue(r, 0, 3), "3");
    FV_ASSERT_STR_EQ(PQgetvalue(r, 0, 4), "text");
    CU_ASSERT(PQgetisnull(r, 0, 5));

    /* Text parameters without lengths/formats; a COMMAND_OK result. */
    const char *tv[] = {"7"};
    FV_ASSERT_INT_EQ(
        fv_pg_exec(c, &a, "cmd", "SELECT set_config('fv.x', $1, false)", 1, tv, NULL, NULL, &r, &e),
        FV_OK);
    FV_ASSERT_INT_EQ(
        fv_pg_exec(c, &a, NULL, "CREATE TEMP TABLE tmp_x (v int)", 0, NULL, NULL, NULL, &r, &e),
        FV_OK);
    FV_ASSERT_INT_EQ(PQresultStatus(r), PGRES_COMMAND_OK);
    /* Results are arena cleanups: releasing the arena clears them (ASan
     * would report a leak otherwise). */
    fv_arena_release(&a);
    fv_pg_release(p, c);
    fv_pg_pool_free(p);
}

static void test_pg_infra__prepared_cache(void)
{
    fv_pg_pool *p = pool_open(1, 1000);
    fv_pg_conn *c = must_acquire(p);
    fv_arena a;
    PGresult *r = NULL;
    fv_error e;

    fv_arena_init(&a, 0);
    for (int i = 0; i < 3; i++) {
        FV_ASSERT_INT_EQ(fv_pg_exec(c, &a, "q_one", "SELECT 1", 0, NULL, NULL, NULL, &r, &e),
                         FV_OK);
        FV_ASSERT_STR_EQ(PQgetvalue(r, 0, 0), "1");
    }
    /* Prepared once, on this session. */
    FV_ASSERT_INT_EQ(q_int(c, "SELECT count(*) FROM pg_prepared_statements WHERE name = 'q_one'"),
                     1);
    /* Many names (the set grows). */
    for (int i = 0; i < 100; i++) {
        char name[32];
        snprintf(name, sizeof name, "q_many_%d", i);
        FV_ASSERT_INT_EQ(fv_pg_exec(c, &a, name, "SELECT 2", 0, NULL, NULL, NULL, &r, &e), FV_OK);
    }
    FV_ASSERT_INT_EQ(
        q_int(c, "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'q_many_%'"), 100);

    /* A statement whose prepare fails is not cached: the same name can be
     * prepared later (a cached name would run without prepare and fail
     * with "prepared statement does not exist"). */
    FV_ASSERT_INT_EQ(fv_pg_exec(c, &a, "q_bad", "SELEC 1", 0, NULL, NULL, NULL, &r, &e),
                     FV_E_INTERNAL);
    CU_ASSERT(r == NULL);
    FV_ASSERT_INT_EQ(fv_pg_exec(c, &a, "q_bad", "SELECT 3", 0, NULL, NULL, NULL, &r, &e), FV_OK);
    FV_ASSERT_STR_EQ(PQgetvalue(r, 0, 0), "3");
    fv_arena_release(&a);

    /* After the connection is reset the cache starts empty: q_one is
     * prepared again on the new session. */
    terminate_backend_of(c);
    fv_pg_release(p, c);
    c = must_acquire(p);
    fv_arena_init(&a, 0);
    FV_ASSERT_INT_EQ(fv_pg_exec(c, &a, "q_one", "SELECT 1", 0, NULL, NULL, NULL, &r, &e), FV_OK);
    FV_ASSERT_INT_EQ(q_int(c, "SELECT count(*) FROM pg_prepared_statements"), 1);
    fv_arena_release(&a);
    fv_pg_release(p, c);
    fv_pg_pool_free(p);
}

/* ---------------------------------------------------------------------- */
/* The SQLSTATE table                                                     */
/* ---------------------------------------------------------------------- */

static void setup_tables(void)
{
    PGconn *s = side_open(NULL);
    side_exec(s, "DROP TABLE IF EXISTS e_child, e_parent, e_ser, e_dl");
    side_exec(s, "CREATE TABLE e_parent (id int PRIMARY KEY)");
    side_exec(s, "INSERT INTO e_parent VALUES (1)");
    side_exec(s, "CREATE TABLE e_child (k text PRIMARY KEY, v int NOT NULL CHECK (v >= 0), "
                 "parent int REFERENCES e_parent (id))");
    side_exec(s, "CREATE TABLE e_ser (id int PRIMARY KEY, v int)");
    side_exec(s, "INSERT INTO e_ser VALUES (1, 0)");
    side_exec(s, "CREATE TABLE e_dl (id int PRIMARY KEY, v int)");
    side_exec(s, "INSERT INTO e_dl VALUES (1, 0), (2, 0)");
    PQfinish(s);
}

/* Insert into e_child with text parameters (v NULL when v is NULL). */
static fv_err insert_child(fv_pg_conn *c, fv_arena *a, const char *k, const char *v,
                           const char *parent, fv_error *e)
{
    PGresult *r = NULL;
    const char *values[] = {k, v, parent};
    return fv_pg_exec(c, a, "insert_child",
                      "INSERT INTO e_child (k, v, parent) VALUES ($1, $2::int, $3::int)", 3, values,
                      NULL, NULL, &r, e);
}

static void test_pg_infra__sqlstate_constraints(void)
{
    fv_pg_pool *p = pool_open(1, 1000);
    fv_pg_conn *c = must_acquire(p);
    fv_arena a;
    fv_error e;

    setup_tables();
    fv_arena_init(&a, 0);
    FV_ASSERT_INT_EQ(insert_child(c, &a, "s3cr3t-key", "1", "1", &e), FV_OK);

    /* 23505 unique violation: CONFLICT; neither the message nor the log
     * quotes the value (the server's DETAIL does: "Key (k)=(...)"). */
    fv_pg_test_log_reset();
    FV_ASSERT_INT_EQ(insert_child(c, &a, "s3cr3t-key", "2", "1", &e), FV_E_CONFLICT);
    FV_ASSERT_INT_EQ(e.code, FV_E_CONFLICT);
    CU_ASSERT(strstr(e.msg, "s3cr3t") == NULL);
    CU_ASSERT(strstr(e.msg, "INSERT") == NULL);
    CU_ASSERT(strstr(e.msg, "insert_child") != NULL);
    CU_ASSERT(fv_pg_test_log_count("sqlstate=23505") > 0);
    CU_ASSERT(fv_pg_test_log_count("constraint=e_child_pkey") > 0);
    CU_ASSERT(fv_pg_test_log_count("statement=INSERT INTO e_child") > 0);
    FV_ASSERT_INT_EQ(fv_pg_test_log_count("s3cr3t"), 0);

    /* 23502 not null, 23514 check: INVALID. */
    FV_ASSERT_INT_EQ(insert_child(c, &a, "k2", NULL, "1", &e), FV_E_INVALID);
    CU_ASSERT(fv_pg_test_log_count("sqlstate=23502") > 0);
    FV_ASSERT_INT_EQ(insert_child(c, &a, "k3", "-5", "1", &e), FV_E_INVALID);
    CU_ASSERT(fv_pg_test_log_count("sqlstate=23514") > 0);
    /* 23503 foreign key: PRECONDITION. */
    FV_ASSERT_INT_EQ(insert_child(c, &a, "k4", "1", "999", &e), FV_E_PRECONDITION);
    CU_ASSERT(fv_pg_test_log_count("sqlstate=23503") > 0);
    /* Class 22: 22012 division by zero, 22P02 bad text; the value is not
     * logged (class 22 messages quote it). */
    fv_pg_test_log_reset();
    PGresult *r = NULL;
    const char *zero[] = {"0"};
    FV_ASSERT_INT_EQ(fv_pg_exec(c, &a, "divide", "SELECT 1 / $1::int", 1, zero, NULL, NULL, &r, &e),
                     FV_E_INVALID);
    CU_ASSERT(fv_pg_test_log_count("sqlstate=22012") > 0);
    const char *word[] = {"n0t-a-number"};
    FV_ASSERT_INT_EQ(fv_pg_exec(c, &a, "to_int", "SELECT $1::int", 1, word, NULL, NULL, &r, &e),
                     FV_E_INVALID);
    CU_ASSERT(fv_pg_test_log_count("sqlstate=22P02") > 0);
    FV_ASSERT_INT_EQ(fv_pg_test_log_count("n0t-a-number"), 0);
    /* Anything else: INTERNAL (42P01 undefined table). */
    FV_ASSERT_INT_EQ(q(c, &a, "SELECT * FROM no_such_table", NULL, &e), FV_E_INTERNAL);
    CU_ASSERT(fv_pg_test_log_count("sqlstate=42P01") > 0);

    /* None of these broke the connection. */
    FV_ASSERT_INT_EQ(q_int(c, "SELECT 5"), 5);
    fv_arena_release(&a);
    fv_pg_release(p, c);
    fv_pg_pool_free(p);
}

static void test_pg_infra__sqlstate_timeout_and_resources(void)
{
    fv_pg_pool *p = pool_open(1, 1000);
    fv_pg_conn *c = must_acquire(p);
    fv_arena a;
    fv_error e;

    fv_arena_init(&a, 0);
    /* 57014 statement timeout: TIMEOUT. */
    must_q(c, &a, "SET statement_timeout = '50ms'");
    FV_ASSERT_INT_EQ(q(c, &a, "SELECT pg_sleep(2)", NULL, &e), FV_E_TIMEOUT);
    must_q(c, &a, "RESET statement_timeout");
    /* 53400 configuration limit exceeded (a sort spilling past
     * temp_file_limit): EXHAUSTED. */
    must_q(c, &a, "SET work_mem = '64kB'");
    must_q(c, &a, "SET temp_file_limit = '64kB'");
    fv_pg_test_log_reset();
    FV_ASSERT_INT_EQ(q(c, &a,
                       "SELECT count(*) FROM (SELECT g FROM generate_series(1, 300000) g "
                       "ORDER BY g DESC) s",
                       NULL, &e),
                     FV_E_EXHAUSTED);
    CU_ASSERT(fv_pg_test_log_count("sqlstate=53400") > 0);
    must_q(c, &a, "RESET ALL");
    /* 53200 out of memory, raised as such. */
    FV_ASSERT_INT_EQ(
        q(c, &a, "DO $$ BEGIN RAISE EXCEPTION 'oom' USING ERRCODE = '53200'; END $$", NULL, &e),
        FV_E_EXHAUSTED);
    FV_ASSERT_INT_EQ(q_int(c, "SELECT 6"), 6);
    fv_arena_release(&a);
    fv_pg_release(p, c);
    fv_pg_pool_free(p);
}

static void test_pg_infra__sqlstate_serialization_failure(void)
{
    fv_pg_pool *p = pool_open(1, 1000);
    fv_pg_conn *c = must_acquire(p);
    PGconn *s = side_open(NULL);
    fv_arena a;
    fv_error e;

    setup_tables();
    fv_arena_init(&a, 0);
    /* 40001: a repeatable-read transaction updates a row another session
     * changed after its snapshot. */
    must_q(c, &a, "BEGIN ISOLATION LEVEL REPEATABLE READ");
    must_q(c, &a, "SELECT v FROM e_ser WHERE id = 1");
    side_exec(s, "UPDATE e_ser SET v = v + 1 WHERE id = 1");
    fv_pg_test_log_reset();
    FV_ASSERT_INT_EQ(q(c, &a, "UPDATE e_ser SET v = v + 10 WHERE id = 1", NULL, &e), FV_E_ABORTED);
    CU_ASSERT(fv_pg_test_log_count("sqlstate=40001") > 0);
    /* Released inside a failed transaction: rolled back, usable again. */
    fv_pg_release(p, c);
    c = must_acquire(p);
    FV_ASSERT_INT_EQ(q_int(c, "SELECT v FROM e_ser WHERE id = 1"), 1);
    fv_arena_release(&a);
    fv_pg_release(p, c);
    PQfinish(s);
    fv_pg_pool_free(p);
}

static void test_pg_infra__sqlstate_deadlock(void)
{
    fv_pg_pool *p = pool_open(1, 1000);
    fv_pg_conn *c = must_acquire(p);
    PGconn *s = side_open(NULL);
    fv_arena a;
    fv_error e;

    setup_tables();
    fv_arena_init(&a, 0);
    /* The pooled session is the one that detects the deadlock (and is
     * chosen as its victim): its deadlock_timeout is the short one. */
    side_exec(s, "SET deadlock_timeout = '10s'");
    must_q(c, &a, "SET deadlock_timeout = '100ms'");
    must_q(c, &a, "BEGIN");
    must_q(c, &a, "UPDATE e_dl SET v = 1 WHERE id = 1");
    side_exec(s, "BEGIN");
    side_exec(s, "UPDATE e_dl SET v = 2 WHERE id = 2");
    CU_ASSERT_FATAL(PQsendQuery(s, "UPDATE e_dl SET v = 2 WHERE id = 1") == 1);
    fv_pg_test_log_reset();
    FV_ASSERT_INT_EQ(q(c, &a, "UPDATE e_dl SET v = 1 WHERE id = 2", NULL, &e), FV_E_ABORTED);
    CU_ASSERT(fv_pg_test_log_count("sqlstate=40P01") > 0);
    fv_pg_release(p, c); /* rolls back: the side session goes on */
    for (PGresult *r = PQgetResult(s); r != NULL; r = PQgetResult(s)) {
        CU_ASSERT(PQresultStatus(r) == PGRES_COMMAND_OK);
        PQclear(r);
    }
    side_exec(s, "COMMIT");
    fv_arena_release(&a);
    PQfinish(s);
    fv_pg_pool_free(p);
}

/* Class 08 and 57P01-57P03 mean the session is gone: UNAVAILABLE, and the
 * connection is not trusted again (closed at release, opened anew). */
static void test_pg_infra__sqlstate_connection_classes(void)
{
    static const char *const states[] = {"08006", "08003", "57P01", "57P02", "57P03"};
    fv_pg_pool *p = pool_open(1, 1000);
    fv_arena a;
    fv_error e;

    fv_arena_init(&a, 0);
    for (size_t i = 0; i < FV_TEST_COUNT(states); i++) {
        char sql[128];
        fv_pg_conn *c = must_acquire(p);
        int pid = PQbackendPID(fv_pg_conn_raw(c));
        snprintf(sql, sizeof sql, "DO $$ BEGIN RAISE EXCEPTION 'gone' USING ERRCODE = '%s'; END $$",
                 states[i]);
        FV_ASSERT_INT_EQ(q(c, &a, sql, NULL, &e), FV_E_UNAVAILABLE);
        /* Marked: the next statement on it fails at once. */
        FV_ASSERT_INT_EQ(q(c, &a, "SELECT 1", NULL, &e), FV_E_UNAVAILABLE);
        fv_pg_release(p, c);
        c = must_acquire(p);
        CU_ASSERT(PQbackendPID(fv_pg_conn_raw(c)) != pid);
        FV_ASSERT_INT_EQ(q_int(c, "SELECT 7"), 7);
        fv_pg_release(p, c);
    }
    fv_arena_release(&a);
    fv_pg_pool_free(p);
}

/* ---------------------------------------------------------------------- */
/* Lost connections                                                       */
/* ---------------------------------------------------------------------- */

static void test_pg_infra__terminated_while_held(void)
{
    fv_pg_pool *p = pool_open(1, 1000);
    fv_pg_conn *c = must_acquire(p);
    fv_arena a;
    fv_error e;

    fv_arena_init(&a, 0);
    FV_ASSERT_INT_EQ(
        fv_pg_exec(c, &a, "q_held", "SELECT 1", 0, NULL, NULL, NULL, &(PGresult *){NULL}, &e),
        FV_OK);
    terminate_backend_of(c);
    FV_ASSERT_INT_EQ(
        fv_pg_exec(c, &a, "q_held", "SELECT 1", 0, NULL, NULL, NULL, &(PGresult *){NULL}, &e),
        FV_E_UNAVAILABLE);
    CU_ASSERT(strstr(e.msg, "unavailable") != NULL || strstr(e.msg, "lost") != NULL);
    fv_pg_release(p, c);
    /* Recovery: the next acquire opens a new session. */
    c = must_acquire(p);
    FV_ASSERT_INT_EQ(
        fv_pg_exec(c, &a, "q_held", "SELECT 1", 0, NULL, NULL, NULL, &(PGresult *){NULL}, &e),
        FV_OK);
    fv_arena_release(&a);
    fv_pg_release(p, c);
    fv_pg_pool_free(p);
}

static void test_pg_infra__terminated_while_idle(void)
{
    fv_pg_pool *p = pool_open(1, 1000);
    fv_pg_conn *c = must_acquire(p);
    int pid = PQbackendPID(fv_pg_conn_raw(c));

    terminate_backend_of(c);
    fv_pg_release(p, c);
    /* The idle connection's backend is gone: acquire notices (the socket
     * says so) and reconnects, so the caller never sees the failure. */
    fv_pg_test_log_reset();
    c = must_acquire(p);
    CU_ASSERT(PQbackendPID(fv_pg_conn_raw(c)) != pid);
    FV_ASSERT_INT_EQ(q_int(c, "SELECT 8"), 8);
    CU_ASSERT(fv_pg_test_log_count("reconnecting") > 0);
    fv_pg_release(p, c);
    fv_pg_pool_free(p);
}

/* ---------------------------------------------------------------------- */
/* Transactions                                                           */
/* ---------------------------------------------------------------------- */

typedef struct tx_ctx {
    int calls;
    int fail_with;     /* fv_err to return after the insert (FV_OK = none) */
    int abort_first;   /* provoke a real 40001 on the first N attempts */
    bool ignore_error; /* run a failing statement and return FV_OK */
    const char *key;
} tx_ctx;

static fv_err tx_body(fv_pg_conn *c, void *user, fv_error *err)
{
    tx_ctx *t = user;
    fv_arena a;
    PGresult *r = NULL;
    fv_err rc;

    t->calls++;
    fv_arena_init(&a, 0);
    if (t->calls <= t->abort_first) {
        /* Read e_ser, let another session change it, then write it. */
        rc = fv_pg_exec(c, &a, "tx_read", "SELECT v FROM e_ser WHERE id = 1", 0, NULL, NULL, NULL,
                        &r, err);
        if (rc == FV_OK) {
            PGconn *s = side_open(NULL);
            side_exec(s, "UPDATE e_ser SET v = v + 1 WHERE id = 1");
            PQfinish(s);
            rc = fv_pg_exec(c, &a, "tx_write", "UPDATE e_ser SET v = v + 100 WHERE id = 1", 0, NULL,
                            NULL, NULL, &r, err);
        }
        fv_arena_release(&a);
        return rc;
    }
    const char *v[] = {t->key};
    rc = fv_pg_exec(c, &a, "tx_insert", "INSERT INTO e_child (k, v) VALUES ($1, 1)", 1, v, NULL,
                    NULL, &r, err);
    if (rc == FV_OK && t->ignore_error)
        (void)fv_pg_exec(c, &a, NULL, "SELECT 1 / 0", 0, NULL, NULL, NULL, &r, NULL);
    fv_arena_release(&a);
    if (rc == FV_OK && t->fail_with != FV_OK)
        return fv_error_set(err, (fv_err)t->fail_with, "told to fail");
    return rc;
}

static long long child_count(const char *key)
{
    char sql[128];
    PGconn *s = side_open(NULL);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM e_child WHERE k = '%s'", key);
    long long n = side_int(s, sql);
    PQfinish(s);
    return n;
}

static void test_pg_infra__tx_commit_and_rollback(void)
{
    fv_pg_pool *p = pool_open(2, 1000);
    fv_error e;

    setup_tables();
    tx_ctx ok = {0, FV_OK, 0, false, "tx-ok"};
    FV_ASSERT_INT_EQ(fv_pg_tx(p, false, tx_body, &ok, &e), FV_OK);
    FV_ASSERT_INT_EQ(ok.calls, 1);
    FV_ASSERT_INT_EQ(child_count("tx-ok"), 1);

    /* fn fails: rolled back, its error returned as it is, no retry. */
    tx_ctx bad = {0, FV_E_NOT_FOUND, 0, false, "tx-bad"};
    FV_ASSERT_INT_EQ(fv_pg_tx(p, false, tx_body, &bad, &e), FV_E_NOT_FOUND);
    FV_ASSERT_STR_EQ(e.msg, "told to fail");
    FV_ASSERT_INT_EQ(bad.calls, 1);
    FV_ASSERT_INT_EQ(child_count("tx-bad"), 0);

    /* A statement failed but fn said OK: COMMIT answers ROLLBACK, which is
     * a failure, and nothing is kept. */
    tx_ctx ign = {0, FV_OK, 0, true, "tx-ignored"};
    FV_ASSERT_INT_EQ(fv_pg_tx(p, false, tx_body, &ign, &e), FV_E_INTERNAL);
    FV_ASSERT_INT_EQ(child_count("tx-ignored"), 0);

    /* The connections went back clean. */
    fv_pg_conn *c = must_acquire(p);
    FV_ASSERT_INT_EQ(PQtransactionStatus(fv_pg_conn_raw(c)), PQTRANS_IDLE);
    fv_pg_release(p, c);
    fv_pg_pool_free(p);
}

static void test_pg_infra__tx_retries_aborted(void)
{
    fv_pg_pool *p = pool_open(2, 1000);
    fv_error e;

    setup_tables();
    /* A real serialization failure on the first attempt, then success. */
    tx_ctx t = {0, FV_OK, 1, false, "tx-retried"};
    fv_pg_test_log_reset();
    FV_ASSERT_INT_EQ(fv_pg_tx(p, true, tx_body, &t, &e), FV_OK);
    FV_ASSERT_INT_EQ(t.calls, 2);
    FV_ASSERT_INT_EQ(child_count("tx-retried"), 1);
    CU_ASSERT(fv_pg_test_log_count("retry 1 of 5") > 0);
    /* The first attempt's write was rolled back: only the side update. */
    PGconn *s = side_open(NULL);
    FV_ASSERT_INT_EQ(side_int(s, "SELECT v FROM e_ser WHERE id = 1"), 1);
    PQfinish(s);

    /* Always ABORTED: the first try and 5 retries, then ABORTED. */
    tx_ctx always = {0, FV_E_ABORTED, 0, false, "tx-always"};
    FV_ASSERT_INT_EQ(fv_pg_tx(p, false, tx_body, &always, &e), FV_E_ABORTED);
    FV_ASSERT_INT_EQ(always.calls, 6);
    FV_ASSERT_INT_EQ(child_count("tx-always"), 0);
    fv_pg_pool_free(p);
}

/* ---------------------------------------------------------------------- */
/* Migrations                                                             */
/* ---------------------------------------------------------------------- */

static void fresh_schema(const char *schema)
{
    char sql[160];
    PGconn *s = side_open(NULL);
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
    side_exec(s, sql);
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
    side_exec(s, sql);
    PQfinish(s);
}

static const fv_pg_migration three[] = {
    {1, "create_log", "CREATE TABLE mlog (v int NOT NULL);\nINSERT INTO mlog VALUES (1);", "c1"},
    {2, "second", "INSERT INTO mlog VALUES (2); SELECT pg_sleep(0.02);", "c2"},
    {10, "tenth", "-- a comment\nINSERT INTO mlog VALUES (10);\n", "c10"},
};

static long long schema_int(const char *schema, const char *sql)
{
    PGconn *s = side_open(schema);
    long long v = side_int(s, sql);
    PQfinish(s);
    return v;
}

static long long advisory_locks(void)
{
    return schema_int(NULL, "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = "
                            "l.database WHERE l.locktype = 'advisory' AND d.datname = "
                            "current_database()");
}

static fv_err migrate(const char *schema, const fv_pg_migration *list, size_t n,
                      fv_pg_migrate_report *rep, fv_error *e)
{
    fv_pg_pool *p = pool_open_schema(1, 5000, schema);
    fv_err rc = fv_pg_migrate(p, list, n, rep, e);
    fv_pg_pool_free(p);
    return rc;
}

static void test_pg_infra__migrate_applies_in_order(void)
{
    fv_pg_migrate_report rep;
    fv_error e;

    fresh_schema("m_order");
    /* The first two, then all three: only the third is new. */
    FV_ASSERT_INT_EQ(migrate("m_order", three, 2, &rep, &e), FV_OK);
    FV_ASSERT_INT_EQ(rep.applied, 2);
    FV_ASSERT_INT_EQ(rep.already, 0);
    FV_ASSERT_INT_EQ(rep.from_version, 0);
    FV_ASSERT_INT_EQ(rep.to_version, 2);
    FV_ASSERT_INT_EQ(migrate("m_order", three, 3, &rep, &e), FV_OK);
    FV_ASSERT_INT_EQ(rep.applied, 1);
    FV_ASSERT_INT_EQ(rep.already, 2);
    FV_ASSERT_INT_EQ(rep.from_version, 2);
    FV_ASSERT_INT_EQ(rep.to_version, 10);
    /* Idempotent. */
    FV_ASSERT_INT_EQ(migrate("m_order", three, 3, &rep, &e), FV_OK);
    FV_ASSERT_INT_EQ(rep.applied, 0);
    FV_ASSERT_INT_EQ(rep.already, 3);
    FV_ASSERT_INT_EQ(rep.to_version, 10);

    /* Applied in order, each once, each recorded with its name and
     * checksum. */
    FV_ASSERT_INT_EQ(schema_int("m_order", "SELECT count(*) FROM mlog"), 3);
    FV_ASSERT_INT_EQ(schema_int("m_order", "SELECT (string_agg(v::text, ',' ORDER BY v) = "
                                           "'1,2,10')::int FROM mlog"),
                     1);
    FV_ASSERT_INT_EQ(schema_int("m_order", "SELECT count(*) FROM schema_migrations WHERE "
                                           "(version, name, checksum) IN ((1, 'create_log', "
                                           "'c1'), (2, 'second', 'c2'), (10, 'tenth', 'c10')) "
                                           "AND applied_at <= now()"),
                     3);
    FV_ASSERT_INT_EQ(advisory_locks(), 0);
}

static void test_pg_infra__migrate_refuses_edited(void)
{
    fv_pg_migrate_report rep;
    fv_error e;

    fresh_schema("m_edit");
    FV_ASSERT_INT_EQ(migrate("m_edit", three, 2, &rep, &e), FV_OK);
    fv_pg_migration edited[3];
    memcpy(edited, three, sizeof edited);
    edited[1].checksum = "c2-edited";
    FV_ASSERT_INT_EQ(migrate("m_edit", edited, 3, &rep, &e), FV_E_PRECONDITION);
    CU_ASSERT(strstr(e.msg, "migration 2 \"second\" was changed after it was applied") != NULL);
    /* Nothing applied, lock released. */
    FV_ASSERT_INT_EQ(schema_int("m_edit", "SELECT count(*) FROM schema_migrations"), 2);
    FV_ASSERT_INT_EQ(schema_int("m_edit", "SELECT count(*) FROM mlog"), 2);
    FV_ASSERT_INT_EQ(advisory_locks(), 0);
}

static void test_pg_infra__migrate_refuses_unknown_and_out_of_order(void)
{
    fv_pg_migrate_report rep;
    fv_error e;

    /* A newer server applied 10; this build knows only 1 and 2. */
    fresh_schema("m_newer");
    FV_ASSERT_INT_EQ(migrate("m_newer", three, 3, &rep, &e), FV_OK);
    FV_ASSERT_INT_EQ(migrate("m_newer", three, 2, &rep, &e), FV_E_PRECONDITION);
    CU_ASSERT(strstr(e.msg, "the database has migration 10 \"tenth\", which this build does "
                            "not know") != NULL);
    FV_ASSERT_INT_EQ(rep.applied, 0);

    /* 1 and 10 applied, then 2 appears: it is older than 10. */
    fresh_schema("m_gap");
    const fv_pg_migration first_last[] = {three[0], three[2]};
    FV_ASSERT_INT_EQ(migrate("m_gap", first_last, 2, &rep, &e), FV_OK);
    FV_ASSERT_INT_EQ(migrate("m_gap", three, 3, &rep, &e), FV_E_PRECONDITION);
    CU_ASSERT(strstr(e.msg, "migration 2 \"second\" was never applied") != NULL);
    FV_ASSERT_INT_EQ(schema_int("m_gap", "SELECT count(*) FROM mlog"), 2);
    FV_ASSERT_INT_EQ(advisory_locks(), 0);
}

static void test_pg_infra__migrate_failure_rolls_back(void)
{
    fv_pg_migrate_report rep;
    fv_error e;
    const fv_pg_migration list[] = {
        three[0],
        {2, "broken", "INSERT INTO mlog VALUES (2); INSERT INTO no_such_table VALUES (1);", "b2"},
        {3, "after", "INSERT INTO mlog VALUES (3);", "b3"},
    };

    fresh_schema("m_fail");
    FV_ASSERT_INT_EQ(migrate("m_fail", list, 3, &rep, &e), FV_E_INTERNAL);
    CU_ASSERT(strstr(e.msg, "could not apply migration 2 \"broken\"") != NULL);
    CU_ASSERT(strstr(e.msg, "no_such_table") != NULL);
    FV_ASSERT_INT_EQ(rep.applied, 1);
    FV_ASSERT_INT_EQ(rep.to_version, 1);
    FV_ASSERT_INT_EQ(rep.pending, 2);
    /* 1 stays; 2 left no row and no record; 3 never ran. */
    FV_ASSERT_INT_EQ(schema_int("m_fail", "SELECT count(*) FROM mlog"), 1);
    FV_ASSERT_INT_EQ(schema_int("m_fail", "SELECT max(version) FROM schema_migrations"), 1);
    FV_ASSERT_INT_EQ(advisory_locks(), 0);
}

static fv_err check(const char *schema, const fv_pg_migration *list, size_t n,
                    fv_pg_migrate_report *rep, fv_error *e)
{
    fv_pg_pool *p = pool_open_schema(1, 5000, schema);
    fv_err rc = fv_pg_migrate_check(p, list, n, rep, e);
    fv_pg_pool_free(p);
    return rc;
}

static void test_pg_infra__migrate_check(void)
{
    fv_pg_migrate_report rep;
    fv_error e;

    /* Nothing there: every migration pending, and nothing created. */
    fresh_schema("m_check");
    FV_ASSERT_INT_EQ(check("m_check", three, 3, &rep, &e), FV_OK);
    FV_ASSERT_INT_EQ(rep.pending, 3);
    FV_ASSERT_INT_EQ(rep.already, 0);
    FV_ASSERT_INT_EQ(rep.from_version, 0);
    FV_ASSERT_INT_EQ(schema_int("m_check", "SELECT count(*) FROM pg_tables WHERE tablename = "
                                           "'schema_migrations' AND schemaname = 'm_check'"),
                     0);
    /* Part applied. */
    FV_ASSERT_INT_EQ(migrate("m_check", three, 2, &rep, &e), FV_OK);
    FV_ASSERT_INT_EQ(rep.pending, 0);
    FV_ASSERT_INT_EQ(check("m_check", three, 3, &rep, &e), FV_OK);
    FV_ASSERT_INT_EQ(rep.pending, 1);
    FV_ASSERT_INT_EQ(rep.already, 2);
    FV_ASSERT_INT_EQ(rep.from_version, 2);
    FV_ASSERT_INT_EQ(rep.to_version, 2);
    FV_ASSERT_INT_EQ(schema_int("m_check", "SELECT count(*) FROM schema_migrations"), 2);
    /* The same refusals as migrate. */
    fv_pg_migration edited[3];
    memcpy(edited, three, sizeof edited);
    edited[0].checksum = "c1-edited";
    FV_ASSERT_INT_EQ(check("m_check", edited, 3, &rep, &e), FV_E_PRECONDITION);
    FV_ASSERT_INT_EQ(check("m_check", three, 1, &rep, &e), FV_E_PRECONDITION);
    CU_ASSERT(strstr(e.msg, "does not know") != NULL);
    FV_ASSERT_INT_EQ(migrate("m_check", three, 3, &rep, &e), FV_OK);
    FV_ASSERT_INT_EQ(check("m_check", three, 3, &rep, &e), FV_OK);
    FV_ASSERT_INT_EQ(rep.pending, 0);
    FV_ASSERT_INT_EQ(rep.to_version, 10);
}

static void test_pg_infra__migrate_invalid_list(void)
{
    fv_pg_migrate_report rep;
    fv_error e;
    const fv_pg_migration unordered[] = {three[1], three[0]};
    const fv_pg_migration incomplete[] = {{1, "x", "SELECT 1", NULL}};
    const fv_pg_migration zero[] = {{0, "x", "SELECT 1", "c"}};

    fresh_schema("m_invalid");
    FV_ASSERT_INT_EQ(migrate("m_invalid", unordered, 2, &rep, &e), FV_E_INVALID);
    FV_ASSERT_INT_EQ(migrate("m_invalid", incomplete, 1, &rep, &e), FV_E_INVALID);
    FV_ASSERT_INT_EQ(migrate("m_invalid", zero, 1, &rep, &e), FV_E_INVALID);
    /* An empty list on an empty database: creates the table, applies none. */
    FV_ASSERT_INT_EQ(migrate("m_invalid", NULL, 0, &rep, &e), FV_OK);
    FV_ASSERT_INT_EQ(rep.applied, 0);
    FV_ASSERT_INT_EQ(schema_int("m_invalid", "SELECT count(*) FROM schema_migrations"), 0);
}

typedef struct migrator {
    pthread_barrier_t *go;
    fv_err rc;
    fv_pg_migrate_report rep;
    char msg[FV_ERROR_MSG_MAX];
} migrator;

static const fv_pg_migration slow_three[] = {
    {1, "one",
     "CREATE TABLE mlog (v int NOT NULL); SELECT pg_sleep(0.05);"
     " INSERT INTO mlog VALUES (1);",
     "s1"},
    {2, "two", "SELECT pg_sleep(0.05); INSERT INTO mlog VALUES (2);", "s2"},
    {3, "three", "INSERT INTO mlog VALUES (3);", "s3"},
};

static void *run_migrator(void *arg)
{
    migrator *m = arg;
    char url[FV_PG_TEST_URL_MAX + 64];
    fv_pg_pool_config cfg;
    fv_error e;

    memset(&cfg, 0, sizeof cfg);
    cfg.url = url_for("m_conc", url, sizeof url);
    cfg.size = 1;
    fv_pg_pool *p = fv_pg_pool_new(&cfg, &e);
    pthread_barrier_wait(m->go);
    if (p == NULL) {
        m->rc = e.code;
        return NULL;
    }
    m->rc = fv_pg_migrate(p, slow_three, 3, &m->rep, &e);
    snprintf(m->msg, sizeof m->msg, "%s", e.msg);
    fv_pg_pool_free(p);
    return NULL;
}

static void test_pg_infra__migrate_concurrent_runners(void)
{
    pthread_barrier_t go;
    migrator ms[4];
    pthread_t th[4];

    fresh_schema("m_conc");
    pthread_barrier_init(&go, NULL, 4);
    for (int i = 0; i < 4; i++) {
        memset(&ms[i], 0, sizeof ms[i]);
        ms[i].go = &go;
        FV_ASSERT_INT_EQ(pthread_create(&th[i], NULL, run_migrator, &ms[i]), 0);
    }
    size_t applied = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        if (ms[i].rc != FV_OK)
            fprintf(stderr, "\n  migrator %d: %s: %s\n", i, fv_err_name(ms[i].rc), ms[i].msg);
        FV_ASSERT_INT_EQ(ms[i].rc, FV_OK);
        FV_ASSERT_INT_EQ(ms[i].rep.to_version, 3);
        applied += ms[i].rep.applied;
    }
    pthread_barrier_destroy(&go);
    /* Each migration ran exactly once. */
    FV_ASSERT_INT_EQ(applied, 3);
    FV_ASSERT_INT_EQ(schema_int("m_conc", "SELECT count(*) FROM mlog"), 3);
    FV_ASSERT_INT_EQ(schema_int("m_conc", "SELECT count(DISTINCT v) FROM mlog"), 3);
    FV_ASSERT_INT_EQ(schema_int("m_conc", "SELECT count(*) FROM schema_migrations"), 3);
    FV_ASSERT_INT_EQ(advisory_locks(), 0);
}

/* The migrations embedded from migrations/ apply to an empty schema, once. */
static void test_pg_infra__migrate_embedded(void)
{
    size_t n = 99;
    const fv_pg_migration *list = fv_pg_migrations(&n);
    fv_pg_migrate_report rep;
    fv_error e;

    CU_ASSERT(n == 0 || list != NULL);
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT(list[i].version > 0);
        CU_ASSERT(i == 0 || list[i].version > list[i - 1].version);
        CU_ASSERT(list[i].checksum != NULL && strlen(list[i].checksum) == 64);
        CU_ASSERT(list[i].checksum != NULL && strspn(list[i].checksum, "0123456789abcdef") == 64);
    }
    fresh_schema("m_embedded");
    FV_ASSERT_INT_EQ(migrate("m_embedded", list, n, &rep, &e), FV_OK);
    FV_ASSERT_INT_EQ(rep.applied, n);
    FV_ASSERT_INT_EQ(migrate("m_embedded", list, n, &rep, &e), FV_OK);
    FV_ASSERT_INT_EQ(rep.applied, 0);
    FV_ASSERT_INT_EQ(rep.already, n);
}

static const fv_test_case cases[] = {
    FV_TEST_CASE(test_pg_infra__bad_urls),
    FV_TEST_CASE(test_pg_infra__redact),
    FV_TEST_CASE(test_pg_infra__application_name),
    FV_TEST_CASE(test_pg_infra__pool_bound_and_timeout),
    FV_TEST_CASE(test_pg_infra__pool_never_exceeds_size),
    FV_TEST_CASE(test_pg_infra__exec_nulls_and_binary),
    FV_TEST_CASE(test_pg_infra__prepared_cache),
    FV_TEST_CASE(test_pg_infra__sqlstate_constraints),
    FV_TEST_CASE(test_pg_infra__sqlstate_timeout_and_resources),
    FV_TEST_CASE(test_pg_infra__sqlstate_serialization_failure),
    FV_TEST_CASE(test_pg_infra__sqlstate_deadlock),
    FV_TEST_CASE(test_pg_infra__sqlstate_connection_classes),
    FV_TEST_CASE(test_pg_infra__terminated_while_held),
    FV_TEST_CASE(test_pg_infra__terminated_while_idle),
    FV_TEST_CASE(test_pg_infra__tx_commit_and_rollback),
    FV_TEST_CASE(test_pg_infra__tx_retries_aborted),
    FV_TEST_CASE(test_pg_infra__migrate_applies_in_order),
    FV_TEST_CASE(test_pg_infra__migrate_refuses_edited),
    FV_TEST_CASE(test_pg_infra__migrate_refuses_unknown_and_out_of_order),
    FV_TEST_CASE(test_pg_infra__migrate_failure_rolls_back),
    FV_TEST_CASE(test_pg_infra__migrate_check),
    FV_TEST_CASE(test_pg_infra__migrate_invalid_list),
    FV_TEST_CASE(test_pg_infra__migrate_concurrent_runners),
    FV_TEST_CASE(test_pg_infra__migrate_embedded),
};

int main(void)
{
    if (fv_pg_test_db_create(&db) != 0)
        return EXIT_FAILURE;
    int rc = fv_test_run("pg_infra", cases, FV_TEST_COUNT(cases));
    if (fv_pg_test_db_drop(&db) != 0)
        rc = EXIT_FAILURE;
    return rc;
}
