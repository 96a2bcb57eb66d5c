/*
 * What only the Postgres task repository and event bus can get wrong
 * (adapters/postgres/pg_tasks.c, pg_bus.c), in a database of this
 * executable's own on the ctest cluster (fixture "pg"); the shared port
 * contract runs in test_contract_postgres.
 *
 * - Migration 0004 applies on top of 0001-0003 (the database is migrated
 *   in those two steps), once, with the per-table autovacuum and analyze
 *   settings of the claim index, and fv_ms_to_ts made inlinable.
 * - The generic plans of the prepared statements (what PostgreSQL runs from
 *   the sixth execution on): every statement that finds a task by id reads
 *   the primary key, the claim the claim index, the next scheduled time the
 *   scheduled index; on a new table and on an analyzed one of 3,000 tasks.
 * - 8 threads, each on its own pool connection, claim 500 tasks of one
 *   queue: every task is claimed exactly once, each with its TASK_STARTED
 *   event, and the queue ends empty (claims per second are printed, not
 *   asserted).
 * - A claim skips a task another transaction holds locked instead of
 *   waiting for it.
 * - 8 concurrent submissions of one idempotency key create one task and
 *   the others get it; likewise when they rebind a key whose task was
 *   cancelled.
 * - Two buses on one database: a notice published through one reaches the
 *   subscribers of both (queue names with spaces intact); a malformed
 *   notification is dropped and logged.
 * - 8 threads publishing 500 notices each through one bus (publish queues,
 *   a sender thread sends each batch in one statement): a subscriber of
 *   another bus receives all of them, each thread's in its order.
 * - A bus whose sender cannot get a connection: publish answers EXHAUSTED
 *   once the queue is full (logged once); once it can, everything queued
 *   arrives, in order, and publish works again.
 * - The listener's backend terminated (pg_terminate_backend): the bus logs
 *   the loss, reconnects, delivers FV_BUS_RESYNC, and later notices arrive
 *   again.
 * - unsubscribe returns only once its callback is not running, and the
 *   callback is never called again.
 *
 * Waits are bounded (a few seconds) and nothing asserts on durations.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adapters/postgres/migrate.h"
#include "adapters/postgres/pg.h"
#include "adapters/postgres/pg_bus.h"
#include "adapters/postgres/pg_store.h"
#include "core/task.h"
#include "core/util/arena.h"
#include "tests/support/cunit_main.h"
#include "tests/support/pg_test.h"

#define T0 ((fv_time)1767225600000) /* 2026-01-01T00:00:00Z */

enum { THREADS = 8, RACE_TASKS = 500 };

static fv_pg_test_db db;
static fv_pg_pool *pool;
static fv_pg_migrate_report first_three, the_rest;
static size_t n_migrations;

static fv_pg_store *store;
static fv_task_repo repo;
static const fv_uuid tenant = {{0x10, 0, 0, 0, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, 1}};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One statement outside the repositories; the first column of the first
 * row as a number (0 when there is none). */
static long long sql_int(const char *sql)
{
    fv_pg_conn *c;
    fv_error e;
    fv_arena a;
    PGresult *r;
    long long v = -1;
    fv_arena_init(&a, 0);
    if (fv_pg_acquire(pool, &c, &e) != FV_OK) {
        fprintf(stderr, "sql_int: %s\n", e.msg);
        fv_arena_release(&a);
        return -1;
    }
    if (fv_pg_exec(c, &a, NULL, sql, 0, NULL, NULL, NULL, &r, &e) == FV_OK)
        v = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    else
        fprintf(stderr, "sql_int: %s: %s\n", sql, e.msg);
    fv_pg_release(pool, c);
    fv_arena_release(&a);
    return v;
}

/* A task id: 0x77, then n. */
static fv_uuid task_id(uint32_t n)
{
    fv_uuid u;
    memset(&u, 0, sizeof u);
    u.b[0] = 0x77;
    u.b[6] = 0x40;
    u.b[8] = 0x80;
    u.b[12] = (unsigned char)(n >> 24);
    u.b[13] = (unsigned char)(n >> 16);
    u.b[14] = (unsigned char)(n >> 8);
    u.b[15] = (unsigned char)n;
    return u;
}

/* A valid new task as the core would hand it to the port. */
static void new_task(fv_arena *a, fv_task_new *in, uint32_t n, const char *queue, fv_time created,
                     const char *idem_key)
{
    memset(in, 0, sizeof *in);
    fv_task *t = &in->task;
    t->id = task_id(n);
    t->tenant_id = tenant;
    t->kind = "race-kind";
    t->queue = queue;
    t->status = FV_TASK_PENDING;
    t->input = (fv_json){"{\"n\":1}", 7};
    t->max_retries = 3;
    t->timeout_ms = 60000;
    t->scheduled_at = created;
    t->created_at = created;
    t->started_at = t->completed_at = t->last_heartbeat_at = FV_TIME_NONE;
    t->idempotency_key = idem_key;
    in->created_event_data = fv_task_event_data_created(a, t);
    in->idempotency_expires_at = created + 86400 * 1000;
}

static int empty_tables(void)
{
    return sql_int("TRUNCATE tenant CASCADE") == 0 ? 0 : -1;
}

static int setup(void)
{
    if (empty_tables() != 0)
        return -1;
    fv_pg_store_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.log = fv_pg_test_log;
    fv_error e;
    store = fv_pg_store_new(pool, &cfg, &e);
    if (store == NULL) {
        fprintf(stderr, "setup: %s\n", e.msg);
        return -1;
    }
    fv_deps d;
    memset(&d, 0, sizeof d);
    fv_pg_store_deps(store, &d);
    repo = d.tasks;
    fv_tenant t = {tenant, "acme", "Acme", T0 - 1000};
    if (fv_tenant_store_create_tenant(d.tenants, &t, &e) != FV_OK) {
        fprintf(stderr, "setup: %s\n", e.msg);
        fv_pg_store_free(store);
        return -1;
    }
    fv_pg_test_log_reset();
    return 0;
}

static void teardown(void)
{
    fv_pg_store_free(store);
    store = NULL;
}

/* ------------------------------------------------------------------------
 * Migration
 */

static void test_pg_tasks__migration_on_top_of_three(void)
{
    /* main() migrated 0001-0003 first, then the whole list. */
    CU_ASSERT_FATAL(n_migrations >= 4);
    FV_ASSERT_INT_EQ(first_three.applied, 3);
    FV_ASSERT_INT_EQ(first_three.to_version, 3);
    FV_ASSERT_INT_EQ(the_rest.already, 3);
    FV_ASSERT_INT_EQ(the_rest.applied, n_migrations - 3);
    FV_ASSERT_INT_EQ(the_rest.from_version, 3);
    FV_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM schema_migrations WHERE version = 4 AND "
                             "name = 'tasks'"),
                     1);
    /* Nothing pending any more. */
    size_t n;
    const fv_pg_migration *list = fv_pg_migrations(&n);
    fv_pg_migrate_report rep;
    fv_error e;
    FV_ASSERT_INT_EQ(fv_pg_migrate_check(pool, list, n, &rep, &e), FV_OK);
    FV_ASSERT_INT_EQ(rep.pending, 0);
    /* The claim index is partial, in the claim's order; the table is
     * vacuumed after a fixed number of dead rows. */
    FV_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM pg_indexes WHERE indexname = "
                             "'task_execution_claim_idx' AND indexdef LIKE '%(tenant_id, queue, "
                             "created_at, id%WHERE (status = 1)%'"),
                     1);
    FV_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM pg_class WHERE relname = 'task_execution' "
                             "AND 'autovacuum_vacuum_scale_factor=0' = ANY (reloptions)"),
                     1);
    /* Analyzed after a fixed 2,000 changes, not once 20,000 have piled up. */
    FV_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM pg_class WHERE relname = 'task_execution' "
                             "AND 'autovacuum_analyze_threshold=2000' = ANY (reloptions) "
                             "AND 'autovacuum_analyze_scale_factor=0' = ANY (reloptions)"),
                     1);
    /* fv_ms_to_ts is inlined into the statements that call it (not STRICT,
     * see 0004): no call of it is left in a plan. */
    FV_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM pg_proc WHERE proname = 'fv_ms_to_ts' AND "
                             "NOT proisstrict"),
                     1);
    FV_ASSERT_INT_EQ(sql_int("SELECT 1 FROM fv_ms_to_ts(NULL) t WHERE t IS NULL"), 1);
}

/* ------------------------------------------------------------------------
 * Claims
 */

typedef struct claimer {
    int index;
    fv_uuid got[RACE_TASKS];
    int32_t attempts[RACE_TASKS];
    int64_t event_ids[RACE_TASKS];
    size_t n;
    fv_err rc;
    char msg[FV_ERROR_MSG_MAX];
} claimer;

static claimer claimers[THREADS];

static void *claim_loop(void *arg)
{
    claimer *k = arg;
    char worker[16];
    snprintf(worker, sizeof worker, "w%d", k->index);
    for (;;) {
        fv_arena a;
        fv_arena_init(&a, 0);
        fv_claim_request c = {
            .tenant_id = tenant, .queue = "race", .worker_id = worker, .now = T0 + 3600 * 1000};
        fv_task t;
        bool found = false;
        fv_time next_at;
        fv_error e;
        fv_err rc = fv_task_repo_claim(repo, &a, &c, &t, &found, &next_at, &e);
        if (rc == FV_OK && found && k->n < RACE_TASKS) {
            k->got[k->n] = t.id;
            k->attempts[k->n] = t.execution_count;
            k->event_ids[k->n] = t.last_event_id;
            k->n++;
        }
        fv_arena_release(&a);
        if (rc != FV_OK) {
            k->rc = rc;
            snprintf(k->msg, sizeof k->msg, "%s", e.msg);
            return NULL;
        }
        if (!found)
            return NULL;
    }
}

static void test_pg_tasks__claims_race(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_error e;
    for (uint32_t i = 0; i < RACE_TASKS; i++) {
        fv_task_new in;
        new_task(&a, &in, i + 1, "race", T0 + (fv_time)i, NULL);
        fv_task out;
        bool created = false;
        FV_ASSERT_INT_EQ(fv_task_repo_submit(repo, &a, &in, &out, &created, &e), FV_OK);
        CU_ASSERT(created);
    }
    fv_arena_release(&a);

    pthread_t tid[THREADS];
    double t0 = now_s();
    for (int i = 0; i < THREADS; i++) {
        memset(&claimers[i], 0, sizeof claimers[i]);
        claimers[i].index = i;
        CU_ASSERT_FATAL(pthread_create(&tid[i], NULL, claim_loop, &claimers[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(tid[i], NULL);
    double elapsed = now_s() - t0;

    /* Every task exactly once, as attempt 1 with TASK_STARTED as event 2. */
    static int seen[RACE_TASKS];
    memset(seen, 0, sizeof seen);
    size_t total = 0;
    for (int i = 0; i < THREADS; i++) {
        FV_ASSERT_INT_EQ(claimers[i].rc, FV_OK);
        if (claimers[i].rc != FV_OK)
            fprintf(stderr, "claimer %d: %s\n", i, claimers[i].msg);
        for (size_t k = 0; k < claimers[i].n; k++) {
            const fv_uuid *u = &claimers[i].got[k];
            uint32_t n = (uint32_t)u->b[12] << 24 | (uint32_t)u->b[13] << 16 |
                         (uint32_t)u->b[14] << 8 | u->b[15];
            CU_ASSERT(n >= 1 && n <= RACE_TASKS);
            if (n >= 1 && n <= RACE_TASKS)
                seen[n - 1]++;
            FV_ASSERT_INT_EQ(claimers[i].attempts[k], 1);
            FV_ASSERT_INT_EQ(claimers[i].event_ids[k], 2);
        }
        total += claimers[i].n;
    }
    FV_ASSERT_INT_EQ(total, RACE_TASKS);
    int once = 0;
    for (int i = 0; i < RACE_TASKS; i++)
        once += seen[i] == 1;
    FV_ASSERT_INT_EQ(once, RACE_TASKS);
    FV_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM task_execution WHERE status = 2 AND "
                             "execution_count = 1"),
                     RACE_TASKS);
    FV_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM task_event WHERE type = 2 AND event_id = 2"),
                     RACE_TASKS);
    FV_ASSERT_INT_EQ(sql_int("SELECT count(DISTINCT worker_id) FROM task_execution"), THREADS);
    printf("\n  %d claims by %d threads in %.3f s: %.0f claims/s\n", RACE_TASKS, THREADS, elapsed,
           (double)RACE_TASKS / elapsed);
}

/* A claim does not wait for a task another transaction holds locked: it
 * takes the next one. */
static void test_pg_tasks__claim_skips_locked(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_error e;
    for (uint32_t i = 0; i < 2; i++) {
        fv_task_new in;
        new_task(&a, &in, i + 1, "skip", T0 + (fv_time)i, NULL);
        fv_task out;
        bool created;
        FV_ASSERT_INT_EQ(fv_task_repo_submit(repo, &a, &in, &out, &created, &e), FV_OK);
    }
    /* Hold the oldest one locked on a connection of our own. */
    fv_pg_conn *c;
    PGresult *r;
    CU_ASSERT_FATAL(fv_pg_acquire(pool, &c, &e) == FV_OK);
    CU_ASSERT(fv_pg_exec(c, &a, NULL, "BEGIN", 0, NULL, NULL, NULL, &r, &e) == FV_OK);
    CU_ASSERT(fv_pg_exec(c, &a, NULL,
                         "SELECT id FROM task_execution WHERE id = "
                         "'77000000-0000-4000-8000-000000000001' FOR UPDATE",
                         0, NULL, NULL, NULL, &r, &e) == FV_OK);
    CU_ASSERT(r != NULL && PQntuples(r) == 1);

    fv_claim_request q = {.tenant_id = tenant, .queue = "skip", .worker_id = "w", .now = T0 + 10};
    fv_task t;
    bool found = false;
    fv_time next_at;
    FV_ASSERT_INT_EQ(fv_task_repo_claim(repo, &a, &q, &t, &found, &next_at, &e), FV_OK);
    CU_ASSERT(found);
    fv_uuid second = task_id(2);
    CU_ASSERT(found && fv_uuid_eq(&t.id, &second));
    /* Nothing else is claimable while the lock holds. */
    FV_ASSERT_INT_EQ(fv_task_repo_claim(repo, &a, &q, &t, &found, &next_at, &e), FV_OK);
    CU_ASSERT(!found);

    CU_ASSERT(fv_pg_exec(c, &a, NULL, "ROLLBACK", 0, NULL, NULL, NULL, &r, &e) == FV_OK);
    fv_pg_release(pool, c);
    FV_ASSERT_INT_EQ(fv_task_repo_claim(repo, &a, &q, &t, &found, &next_at, &e), FV_OK);
    fv_uuid first = task_id(1);
    CU_ASSERT(found && fv_uuid_eq(&t.id, &first));
    fv_arena_release(&a);
}

/* ------------------------------------------------------------------------
 * Generic plans
 */

/* Which indexes the generic plan of the prepared statement `stmt` reads
 * task_execution through: their names, distinct, in order, comma-separated
 * ("Seq Scan" for a sequential scan). The parameters are all NULL: a
 * generic plan does not look at them, and EXPLAIN does not run it. */
static const char plan_fn_sql[] =
    "CREATE OR REPLACE FUNCTION pg_temp.fv_scans(stmt text) RETURNS text LANGUAGE plpgsql AS $$\n"
    "DECLARE n integer; plan json;\n"
    "BEGIN\n"
    "  SELECT cardinality(parameter_types) INTO n FROM pg_prepared_statements WHERE name = stmt;\n"
    "  IF n IS NULL THEN RETURN 'not prepared'; END IF;\n"
    "  EXECUTE format('EXPLAIN (FORMAT JSON) EXECUTE %I', stmt) || CASE WHEN n > 0 THEN\n"
    "    '(' || array_to_string(array_fill('NULL'::text, ARRAY[n]), ', ') || ')' ELSE '' END\n"
    "    INTO plan;\n"
    "  RETURN (SELECT string_agg(DISTINCT coalesce(s ->> 'Index Name', s ->> 'Node Type'), ','\n"
    "                            ORDER BY coalesce(s ->> 'Index Name', s ->> 'Node Type'))\n"
    "          FROM jsonb_path_query(plan::jsonb, 'strict $.**') s\n"
    "          WHERE jsonb_typeof(s) = 'object' AND s ->> 'Relation Name' = 'task_execution'\n"
    "            AND s ->> 'Node Type' LIKE '%Scan%');\n"
    "END $$";

/* One statement on connection c; the first column of the first row into
 * out (empty without one). */
static fv_err conn_text(fv_pg_conn *c, const char *sql, const char *param, char *out, size_t cap)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_error e;
    PGresult *r;
    const char *values[1] = {param};
    fv_err rc = fv_pg_exec(c, &a, NULL, sql, param != NULL ? 1 : 0, values, NULL, NULL, &r, &e);
    out[0] = '\0';
    if (rc == FV_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
    else if (rc != FV_OK)
        snprintf(out, cap, "error: %s", e.msg);
    fv_arena_release(&a);
    return rc;
}

typedef struct plan_case {
    const char *stmt;  /* the prepared statement (fv_pg_exec's name) */
    const char *scans; /* the indexes its generic plan must read */
} plan_case;

/* Every statement that finds a task by id reads the primary key and
 * nothing else; the claim reads the claim index (then the row by id); the
 * next scheduled time, the scheduled index. */
static const plan_case plan_cases[] = {
    {"fv_db_get_task", "task_execution_pkey"},
    {"fv_db_task_exists", "task_execution_pkey"},
    {"fv_db_lock_task", "task_execution_pkey"},
    {"fv_db_store_task", "task_execution_pkey"},
    {"fv_db_task_heartbeat", "task_execution_pkey"},
    {"fv_db_report_task_progress", "task_execution_pkey"},
    {"fv_db_append_task_event", "task_execution_pkey"},
    {"fv_db_task_events", "task_execution_pkey"},
    {"fv_db_task_attempts", "task_execution_pkey"},
    {"fv_db_get_task_state", "task_execution_pkey"},
    {"fv_db_lock_task_for_state", "task_execution_pkey"},
    {"fv_db_clear_task_state", "task_execution_pkey"},
    {"fv_db_task_state_keys", "task_execution_pkey"},
    {"fv_db_claim_next_task", "task_execution_claim_idx,task_execution_pkey"},
    {"fv_db_next_scheduled_at", "task_execution_scheduled_idx"},
};

/* The generic plans on the one connection of pool `one`. */
static void check_plans(fv_pg_pool *one, const char *state)
{
    fv_pg_conn *c;
    fv_error e;
    CU_ASSERT_FATAL(fv_pg_acquire(one, &c, &e) == FV_OK);
    char got[512];
    FV_ASSERT_INT_EQ(conn_text(c, plan_fn_sql, NULL, got, sizeof got), FV_OK);
    FV_ASSERT_INT_EQ(
        conn_text(c, "SET plan_cache_mode = force_generic_plan", NULL, got, sizeof got), FV_OK);
    for (size_t i = 0; i < sizeof plan_cases / sizeof plan_cases[0]; i++) {
        const plan_case *k = &plan_cases[i];
        conn_text(c, "SELECT pg_temp.fv_scans($1)", k->stmt, got, sizeof got);
        if (strcmp(got, k->scans) != 0)
            fprintf(stderr, "\n  %s, %s: the generic plan reads %s, not %s\n", state, k->stmt, got,
                    k->scans);
        FV_ASSERT_STR_EQ(got, k->scans);
    }
    FV_ASSERT_INT_EQ(conn_text(c, "RESET plan_cache_mode", NULL, got, sizeof got), FV_OK);
    fv_pg_release(one, c);
}

/* Every op that reads or changes one task, once, so that each of its
 * statements is prepared on the store's connection. */
static void run_task_ops(fv_task_repo r)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_error e;
    fv_task_new in;
    new_task(&a, &in, 1, "plans", T0, NULL);
    fv_task t;
    bool created = false, found = false;
    FV_ASSERT_INT_EQ(fv_task_repo_submit(r, &a, &in, &t, &created, &e), FV_OK);
    fv_claim_request q = {.tenant_id = tenant, .queue = "plans", .worker_id = "w", .now = T0 + 10};
    fv_time next_at;
    FV_ASSERT_INT_EQ(fv_task_repo_claim(r, &a, &q, &t, &found, &next_at, &e), FV_OK);
    CU_ASSERT_FATAL(found);
    FV_ASSERT_INT_EQ(fv_task_repo_claim(r, &a, &q, &t, &found, &next_at, &e), FV_OK);
    CU_ASSERT(!found);
    fv_uuid id = task_id(1);
    FV_ASSERT_INT_EQ(fv_task_repo_get(r, &a, &tenant, &id, &t, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_repo_heartbeat(r, &tenant, &id, T0 + 20, &e), FV_OK);
    int64_t ev;
    FV_ASSERT_INT_EQ(fv_task_repo_report_progress(r, &tenant, &id, 0.5, NULL,
                                                  (fv_json){"{\"progress\":0.5}", 16}, T0 + 30, &ev,
                                                  &e),
                     FV_OK);
    fv_task_event log = {.type = FV_TEV_LOG,
                         .at = T0 + 40,
                         .level = FV_LOG_INFO,
                         .message = "hello",
                         .data = {"{\"message\":\"hello\"}", 19}};
    FV_ASSERT_INT_EQ(fv_task_repo_append_event(r, &tenant, &id, &log, &ev, &e), FV_OK);
    fv_task_event_list events;
    FV_ASSERT_INT_EQ(fv_task_repo_events(r, &a, &tenant, &id, 0, 100, &events, &e), FV_OK);
    fv_task_log_list logs;
    FV_ASSERT_INT_EQ(
        fv_task_repo_logs(r, &a, &tenant, &id, false, FV_LOG_INFO, (fv_page){10, 0}, &logs, &e),
        FV_OK);
    FV_ASSERT_INT_EQ(fv_task_repo_state_set(r, &tenant, &id, "k", (fv_json){"1", 1}, &e), FV_OK);
    fv_json value;
    FV_ASSERT_INT_EQ(fv_task_repo_state_get(r, &a, &tenant, &id, "k", &value, &found, &e), FV_OK);
    fv_state_key_list keys;
    FV_ASSERT_INT_EQ(fv_task_repo_state_keys(r, &a, &tenant, &id, &keys, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_repo_state_clear(r, &tenant, &id, "k", &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_task_repo_state_clear_all(r, &tenant, &id, &e), FV_OK);
    fv_attempt_outcome done = {.status = FV_ATTEMPT_COMPLETED, .output = {"1", 1}, .now = T0 + 50};
    FV_ASSERT_INT_EQ(fv_task_repo_end_attempt(r, &a, &tenant, &id, &done, &t, NULL, &e), FV_OK);
    fv_task_attempt_list attempts;
    FV_ASSERT_INT_EQ(fv_task_repo_attempts(r, &a, &tenant, &id, &attempts, &e), FV_OK);
    fv_arena_release(&a);
}

/* PostgreSQL keeps a generic plan of a prepared statement after five runs,
 * made on the statistics of that moment: on a new database, an empty table
 * where every index costs the same. Each statement must then still take
 * the index meant for it: on a fresh table (never analyzed, as after the
 * migration), and on an analyzed one of 3,000 tasks of one tenant, mostly
 * finished (where reading the tenant's index for one task costs 3,000 rows). */
static void test_pg_tasks__generic_plans(void)
{
    fv_error e;
    fv_pg_pool_config pc;
    memset(&pc, 0, sizeof pc);
    pc.url = db.url;
    pc.size = 1;
    pc.log = fv_pg_test_log;
    fv_pg_pool *one = fv_pg_pool_new(&pc, &e);
    CU_ASSERT_FATAL(one != NULL);
    fv_pg_store_config sc;
    memset(&sc, 0, sizeof sc);
    sc.log = fv_pg_test_log;
    fv_pg_store *st = fv_pg_store_new(one, &sc, &e);
    CU_ASSERT_FATAL(st != NULL);
    fv_deps d;
    memset(&d, 0, sizeof d);
    fv_pg_store_deps(st, &d);

    FV_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM pg_class WHERE relname = 'task_execution' AND "
                             "reltuples < 0"),
                     1);
    run_task_ops(d.tasks);
    check_plans(one, "a new table");

    FV_ASSERT_INT_EQ(
        sql_int("WITH n AS (INSERT INTO task_execution (id, tenant_id, kind, queue, status, "
                "max_retries, timeout_ms, scheduled_at, created_at, started_at, completed_at, "
                "worker_id, execution_count) "
                "SELECT gen_random_uuid(), '10000000-0000-4000-8000-000000000001', 'k', 'plans', "
                "CASE WHEN g <= 2990 THEN 3 WHEN g <= 2995 THEN 1 ELSE 2 END, 3, 60000, "
                "now() - interval '1 hour' + g * interval '1 ms', "
                "now() - interval '1 hour' + g * interval '1 ms', now(), now(), 'w', 1 "
                "FROM generate_series(1, 3000) g RETURNING 1) SELECT count(*) FROM n"),
        3000);
    CU_ASSERT(sql_int("ANALYZE task_execution") == 0);
    FV_ASSERT_INT_EQ(sql_int("SELECT reltuples::bigint FROM pg_class WHERE relname = "
                             "'task_execution'"),
                     3001);
    check_plans(one, "3,000 tasks, analyzed");

    fv_pg_store_free(st);
    fv_pg_pool_free(one);
}

/* ------------------------------------------------------------------------
 * Idempotency keys under concurrency
 */

typedef struct submitter {
    uint32_t n; /* the id of the task it submits */
    const char *key;
    fv_time now;
    pthread_barrier_t *start;
    fv_err rc;
    bool created;
    fv_uuid got;
    char msg[FV_ERROR_MSG_MAX];
} submitter;

static void *submit_one(void *arg)
{
    submitter *s = arg;
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_task_new in;
    new_task(&a, &in, s->n, "idem", s->now, s->key);
    fv_task out;
    fv_error e;
    fv_error_clear(&e);
    pthread_barrier_wait(s->start);
    s->rc = fv_task_repo_submit(repo, &a, &in, &out, &s->created, &e);
    if (s->rc == FV_OK)
        s->got = out.id;
    snprintf(s->msg, sizeof s->msg, "%s", e.msg);
    fv_arena_release(&a);
    return NULL;
}

/* 8 submissions at once with one key; returns how many created, and the
 * id they all got in *winner (when they agree). */
static int submit_round(uint32_t first_n, fv_time now, fv_uuid *winner, bool *agree)
{
    submitter s[THREADS];
    pthread_t tid[THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        s[i] =
            (submitter){.n = first_n + (uint32_t)i, .key = "order-42", .now = now, .start = &start};
        pthread_create(&tid[i], NULL, submit_one, &s[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(tid[i], NULL);
    pthread_barrier_destroy(&start);
    int created = 0;
    *agree = true;
    for (int i = 0; i < THREADS; i++) {
        FV_ASSERT_INT_EQ(s[i].rc, FV_OK);
        if (s[i].rc != FV_OK)
            fprintf(stderr, "submit %d: %s\n", i, s[i].msg);
        created += s[i].created;
        if (s[i].created)
            *winner = s[i].got;
    }
    for (int i = 0; i < THREADS; i++)
        if (s[i].rc == FV_OK && !fv_uuid_eq(&s[i].got, winner))
            *agree = false;
    return created;
}

static void test_pg_tasks__idempotent_submits_race(void)
{
    fv_uuid winner;
    bool agree;
    FV_ASSERT_INT_EQ(submit_round(100, T0, &winner, &agree), 1);
    CU_ASSERT(agree);
    FV_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM task_execution"), 1);
    FV_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM task_idempotency_key"), 1);

    /* Its task cancelled: the key is rebound, again by exactly one. */
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_task t;
    fv_error e;
    FV_ASSERT_INT_EQ(fv_task_repo_cancel(repo, &a, &tenant, &winner, FV_TASK_BIT(FV_TASK_PENDING),
                                         "test", T0 + 5, &t, &e),
                     FV_OK);
    fv_arena_release(&a);
    fv_uuid second;
    FV_ASSERT_INT_EQ(submit_round(200, T0 + 10, &second, &agree), 1);
    CU_ASSERT(agree);
    CU_ASSERT(!fv_uuid_eq(&second, &winner));
    FV_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM task_execution"), 2);
    FV_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM task_idempotency_key WHERE task_id = "
                             "(SELECT id FROM task_execution WHERE status = 1)"),
                     1);
}

/* ------------------------------------------------------------------------
 * The event bus
 */

#define MAX_SEEN 64

typedef struct inbox {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    fv_bus_msg msgs[MAX_SEEN];
    char queues[MAX_SEEN][FV_TASK_QUEUE_MAX + 1];
    size_t n;
    size_t resyncs;
} inbox;

static void inbox_init(inbox *b)
{
    memset(b, 0, sizeof *b);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
}

static void inbox_destroy(inbox *b)
{
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
}

static void receive(void *user, const fv_bus_msg *m)
{
    inbox *b = user;
    pthread_mutex_lock(&b->mu);
    if (m->kind == FV_BUS_RESYNC)
        b->resyncs++;
    if (b->n < MAX_SEEN) {
        b->msgs[b->n] = *m;
        if (m->queue != NULL)
            snprintf(b->queues[b->n], sizeof b->queues[b->n], "%s", m->queue);
        b->msgs[b->n].queue = m->queue != NULL ? b->queues[b->n] : NULL;
        b->n++;
    }
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* Wait (at most `seconds`) until the inbox holds `n` messages, or `resyncs`
 * resyncs when resyncs > 0. */
static bool inbox_wait(inbox *b, size_t n, size_t resyncs, int seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += seconds;
    pthread_mutex_lock(&b->mu);
    bool ok = true;
    while (ok && (resyncs > 0 ? b->resyncs < resyncs : b->n < n))
        ok = pthread_cond_timedwait(&b->cv, &b->mu, &until) == 0;
    ok = resyncs > 0 ? b->resyncs >= resyncs : b->n >= n;
    pthread_mutex_unlock(&b->mu);
    return ok;
}

static size_t inbox_count(inbox *b)
{
    pthread_mutex_lock(&b->mu);
    size_t n = b->n;
    pthread_mutex_unlock(&b->mu);
    return n;
}

/* The test database's URL with an application name of our choosing, so
 * that a test can find the bus's listening backend. */
static void url_named(char *out, size_t cap, const char *app)
{
    snprintf(out, cap, "%s application_name='%s'", db.url, app);
}

static fv_pg_bus *bus_open(const char *app)
{
    char url[FV_PG_TEST_URL_MAX + 64];
    url_named(url, sizeof url, app);
    fv_error e;
    fv_pg_bus *b = fv_pg_bus_new(pool, url, fv_pg_test_log, NULL, &e);
    if (b == NULL)
        fprintf(stderr, "bus_open: %s: %s\n", fv_err_name(e.code), e.msg);
    return b;
}

static void test_pg_tasks__bus_across_two_buses(void)
{
    fv_pg_bus *a = bus_open("bus_a");
    fv_pg_bus *b = bus_open("bus_b");
    CU_ASSERT_FATAL(a != NULL && b != NULL);
    inbox in_a, in_b;
    inbox_init(&in_a);
    inbox_init(&in_b);
    fv_bus_sub *sa, *sb;
    fv_error e;
    FV_ASSERT_INT_EQ(fv_event_bus_subscribe(fv_pg_event_bus(a), receive, &in_a, &sa, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_event_bus_subscribe(fv_pg_event_bus(b), receive, &in_b, &sb, &e), FV_OK);

    fv_uuid task = task_id(9);
    fv_bus_msg q = {.kind = FV_BUS_QUEUE, .tenant_id = tenant, .queue = "my queue \"x\" ü"};
    fv_bus_msg t = {.kind = FV_BUS_TASK, .tenant_id = tenant, .task_id = task, .event_id = 42};
    FV_ASSERT_INT_EQ(fv_event_bus_publish(fv_pg_event_bus(a), &q, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_event_bus_publish(fv_pg_event_bus(a), &t, &e), FV_OK);
    /* Malformed notifications on the channel (any client of the database
     * may send them) are dropped: a bad tenant, a queue with a control
     * character or over 100 bytes, an event id that overflows or is
     * followed by text. */
    char tn[FV_UUID_STR_LEN + 1], hostile[5][320];
    fv_uuid_format(&tenant, tn);
    snprintf(hostile[0], sizeof hostile[0], "'Q not-a-uuid x'");
    snprintf(hostile[1], sizeof hostile[1], "'Q %s a' || chr(1) || 'b'", tn);
    snprintf(hostile[2], sizeof hostile[2], "'Q %s ' || repeat('q', 101)", tn);
    snprintf(hostile[3], sizeof hostile[3], "'T %s %s 99999999999999999999'", tn, tn);
    snprintf(hostile[4], sizeof hostile[4], "'T %s %s 7 trailing'", tn, tn);
    for (size_t i = 0; i < 5; i++) {
        char sql[sizeof hostile + 64]; /* gcc cannot bound a row of the array */
        snprintf(sql, sizeof sql, "SELECT 0 FROM pg_notify('flovyn_tasks', %s)", hostile[i]);
        CU_ASSERT(sql_int(sql) == 0);
    }
    /* (Another queue: the same payload twice in one batch arrives once.) */
    fv_bus_msg q2 = {.kind = FV_BUS_QUEUE, .tenant_id = tenant, .queue = "q2"};
    FV_ASSERT_INT_EQ(fv_event_bus_publish(fv_pg_event_bus(a), &q2, &e), FV_OK);

    inbox *boxes[2] = {&in_b, &in_a};
    for (int i = 0; i < 2; i++) {
        inbox *x = boxes[i];
        CU_ASSERT_FATAL(inbox_wait(x, 3, 0, 10));
        /* In the publisher's order. */
        FV_ASSERT_INT_EQ(x->msgs[0].kind, FV_BUS_QUEUE);
        CU_ASSERT(fv_uuid_eq(&x->msgs[0].tenant_id, &tenant));
        FV_ASSERT_STR_EQ(x->msgs[0].queue, "my queue \"x\" ü");
        FV_ASSERT_INT_EQ(x->msgs[1].kind, FV_BUS_TASK);
        CU_ASSERT(fv_uuid_eq(&x->msgs[1].task_id, &task));
        FV_ASSERT_INT_EQ(x->msgs[1].event_id, 42);
        FV_ASSERT_INT_EQ(x->msgs[2].kind, FV_BUS_QUEUE);
        FV_ASSERT_STR_EQ(x->msgs[2].queue, "q2");
    }
    /* Each of the five was dropped, by each of the two buses. */
    FV_ASSERT_INT_EQ(fv_pg_test_log_count("dropped a malformed notification"), 10);
    /* Nothing else arrives (the malformed one stayed out). */
    sleep_ms(200);
    FV_ASSERT_INT_EQ(inbox_count(&in_a), 3);
    FV_ASSERT_INT_EQ(inbox_count(&in_b), 3);

    /* A notice that cannot be sent. */
    fv_bus_msg bad = {.kind = FV_BUS_QUEUE, .tenant_id = tenant, .queue = ""};
    FV_ASSERT_INT_EQ(fv_event_bus_publish(fv_pg_event_bus(a), &bad, &e), FV_E_INVALID);
    bad.queue = "tab\there";
    FV_ASSERT_INT_EQ(fv_event_bus_publish(fv_pg_event_bus(a), &bad, &e), FV_E_INVALID);

    fv_event_bus_unsubscribe(fv_pg_event_bus(a), sa);
    fv_event_bus_unsubscribe(fv_pg_event_bus(b), sb);
    fv_pg_bus_free(a);
    fv_pg_bus_free(b);
    inbox_destroy(&in_a);
    inbox_destroy(&in_b);
}

static void test_pg_tasks__bus_reconnects_and_resyncs(void)
{
    fv_pg_bus *a = bus_open("bus_pub");
    fv_pg_bus *b = bus_open("bus_killed");
    CU_ASSERT_FATAL(a != NULL && b != NULL);
    inbox in;
    inbox_init(&in);
    fv_bus_sub *sub;
    fv_error e;
    FV_ASSERT_INT_EQ(fv_event_bus_subscribe(fv_pg_event_bus(b), receive, &in, &sub, &e), FV_OK);

    /* Kill the listening backend of bus b. */
    FV_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM "
                             "pg_stat_activity WHERE application_name = 'bus_killed' AND "
                             "datname = current_database()) k"),
                     1);
    CU_ASSERT_FATAL(inbox_wait(&in, 0, 1, 15));
    CU_ASSERT(fv_pg_test_log_count("lost the listening connection") > 0);
    CU_ASSERT(fv_pg_test_log_count("listening again") > 0);
    FV_ASSERT_INT_EQ(sql_int("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                             "'bus_killed' AND datname = current_database()"),
                     1);

    /* Notices arrive again. */
    size_t before = inbox_count(&in);
    fv_bus_msg q = {.kind = FV_BUS_QUEUE, .tenant_id = tenant, .queue = "after"};
    FV_ASSERT_INT_EQ(fv_event_bus_publish(fv_pg_event_bus(a), &q, &e), FV_OK);
    CU_ASSERT_FATAL(inbox_wait(&in, before + 1, 0, 10));
    FV_ASSERT_INT_EQ(in.msgs[before].kind, FV_BUS_QUEUE);
    FV_ASSERT_STR_EQ(in.msgs[before].queue, "after");

    fv_event_bus_unsubscribe(fv_pg_event_bus(b), sub);
    fv_pg_bus_free(a);
    fv_pg_bus_free(b);
    inbox_destroy(&in);
}

/* What a subscriber received from the publishers of the batching tests:
 * TASK notices whose task id names the publisher (task_id(BATCH_BASE + k))
 * and whose event ids count 1, 2, 3... per publisher. */
enum { BATCH_BASE = 5000, BATCH_EACH = 500 };

typedef struct tally {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t last[THREADS]; /* the newest event id per publisher */
    size_t count;          /* notices of the publishers */
    size_t out_of_order;   /* event ids not one above the publisher's previous */
} tally;

static void tally_cb(void *user, const fv_bus_msg *m)
{
    tally *t = user;
    if (m->kind != FV_BUS_TASK)
        return;
    uint32_t n = (uint32_t)m->task_id.b[12] << 24 | (uint32_t)m->task_id.b[13] << 16 |
                 (uint32_t)m->task_id.b[14] << 8 | m->task_id.b[15];
    if (n < BATCH_BASE || n >= BATCH_BASE + THREADS)
        return;
    pthread_mutex_lock(&t->mu);
    int k = (int)(n - BATCH_BASE);
    if (m->event_id != t->last[k] + 1)
        t->out_of_order++;
    t->last[k] = m->event_id;
    t->count++;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

/* Wait (at most `seconds`) for `n` notices. */
static size_t tally_wait(tally *t, size_t n, int seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += seconds;
    pthread_mutex_lock(&t->mu);
    while (t->count < n && pthread_cond_timedwait(&t->cv, &t->mu, &until) == 0)
        ;
    size_t got = t->count;
    pthread_mutex_unlock(&t->mu);
    return got;
}

typedef struct publisher {
    fv_pg_bus *bus;
    int index;
    fv_err rc;
} publisher;

static void *publish_many(void *arg)
{
    publisher *p = arg;
    fv_bus_msg m = {.kind = FV_BUS_TASK, .tenant_id = tenant};
    m.task_id = task_id(BATCH_BASE + (uint32_t)p->index);
    for (int64_t i = 1; i <= BATCH_EACH && p->rc == FV_OK; i++) {
        m.event_id = i;
        fv_error e;
        p->rc = fv_event_bus_publish(fv_pg_event_bus(p->bus), &m, &e);
    }
    return NULL;
}

/* 8 threads publish 500 notices each at once through one bus: publish
 * only queues, the sender sends what it finds queued in one statement, and
 * a subscriber of another bus receives every notice, each publisher's in
 * its order. */
static void test_pg_tasks__bus_batches_in_order(void)
{
    fv_pg_bus *a = bus_open("bus_batch_pub");
    fv_pg_bus *b = bus_open("bus_batch_sub");
    CU_ASSERT_FATAL(a != NULL && b != NULL);
    tally t;
    memset(&t, 0, sizeof t);
    pthread_mutex_init(&t.mu, NULL);
    pthread_cond_init(&t.cv, NULL);
    fv_bus_sub *sub;
    fv_error e;
    FV_ASSERT_INT_EQ(fv_event_bus_subscribe(fv_pg_event_bus(b), tally_cb, &t, &sub, &e), FV_OK);

    publisher p[THREADS];
    pthread_t tid[THREADS];
    for (int i = 0; i < THREADS; i++) {
        p[i] = (publisher){a, i, FV_OK};
        CU_ASSERT_FATAL(pthread_create(&tid[i], NULL, publish_many, &p[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(tid[i], NULL);
        FV_ASSERT_INT_EQ(p[i].rc, FV_OK);
    }
    FV_ASSERT_INT_EQ(tally_wait(&t, THREADS * BATCH_EACH, 30), THREADS * BATCH_EACH);
    pthread_mutex_lock(&t.mu);
    FV_ASSERT_INT_EQ(t.out_of_order, 0);
    for (int i = 0; i < THREADS; i++)
        FV_ASSERT_INT_EQ(t.last[i], BATCH_EACH);
    pthread_mutex_unlock(&t.mu);

    fv_event_bus_unsubscribe(fv_pg_event_bus(b), sub);
    fv_pg_bus_free(a);
    fv_pg_bus_free(b);
    pthread_cond_destroy(&t.cv);
    pthread_mutex_destroy(&t.mu);
}

/* A bus whose sender cannot get a connection: publish queues until the
 * queue is full, then answers EXHAUSTED, logged once; when the connection
 * is free again, everything queued is sent, and publish works again. */
static void test_pg_tasks__bus_full_queue(void)
{
    fv_error e;
    fv_pg_pool_config pc;
    memset(&pc, 0, sizeof pc);
    pc.url = db.url;
    pc.size = 1;
    pc.acquire_timeout_ms = 60000;
    pc.log = fv_pg_test_log;
    fv_pg_pool *one = fv_pg_pool_new(&pc, &e);
    CU_ASSERT_FATAL(one != NULL);
    char url[FV_PG_TEST_URL_MAX + 64];
    url_named(url, sizeof url, "bus_full_pub");
    fv_pg_bus *a = fv_pg_bus_new(one, url, fv_pg_test_log, NULL, &e);
    fv_pg_bus *b = bus_open("bus_full_sub");
    CU_ASSERT_FATAL(a != NULL && b != NULL);
    tally t;
    memset(&t, 0, sizeof t);
    pthread_mutex_init(&t.mu, NULL);
    pthread_cond_init(&t.cv, NULL);
    fv_bus_sub *sub;
    FV_ASSERT_INT_EQ(fv_event_bus_subscribe(fv_pg_event_bus(b), tally_cb, &t, &sub, &e), FV_OK);

    /* Hold the publishing pool's only connection. */
    fv_pg_conn *held;
    CU_ASSERT_FATAL(fv_pg_acquire(one, &held, &e) == FV_OK);
    fv_bus_msg m = {.kind = FV_BUS_TASK, .tenant_id = tenant, .task_id = task_id(BATCH_BASE)};
    int64_t accepted = 0;
    fv_err rc = FV_OK;
    for (int64_t i = 1; i <= 1000000 && rc == FV_OK; i++) {
        m.event_id = i;
        rc = fv_event_bus_publish(fv_pg_event_bus(a), &m, &e);
        if (rc == FV_OK)
            accepted = i;
    }
    FV_ASSERT_INT_EQ(rc, FV_E_EXHAUSTED);
    CU_ASSERT(accepted > 1000);
    /* Refused again, logged once. */
    FV_ASSERT_INT_EQ(fv_event_bus_publish(fv_pg_event_bus(a), &m, &e), FV_E_EXHAUSTED);
    FV_ASSERT_INT_EQ(fv_pg_test_log_count("queue of notices to send is full"), 1);

    fv_pg_release(one, held);
    FV_ASSERT_INT_EQ(tally_wait(&t, (size_t)accepted, 30), (size_t)accepted);
    pthread_mutex_lock(&t.mu);
    FV_ASSERT_INT_EQ(t.out_of_order, 0);
    pthread_mutex_unlock(&t.mu);
    /* Room again. */
    m.event_id = accepted + 1;
    FV_ASSERT_INT_EQ(fv_event_bus_publish(fv_pg_event_bus(a), &m, &e), FV_OK);
    FV_ASSERT_INT_EQ(tally_wait(&t, (size_t)accepted + 1, 30), (size_t)accepted + 1);
    CU_ASSERT(fv_pg_test_log_count("has room again") > 0);

    fv_event_bus_unsubscribe(fv_pg_event_bus(b), sub);
    fv_pg_bus_free(a);
    fv_pg_bus_free(b);
    fv_pg_pool_free(one);
    pthread_cond_destroy(&t.cv);
    pthread_mutex_destroy(&t.mu);
}

/* A callback that stays inside until told to leave. */
typedef struct slow {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int running;
    int calls;
    bool release;
} slow;

static void slow_cb(void *user, const fv_bus_msg *m)
{
    (void)m;
    slow *s = user;
    pthread_mutex_lock(&s->mu);
    s->running = 1;
    s->calls++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    /* Give unsubscribe time to start waiting (not required for
     * correctness: it must wait however long this takes). */
    sleep_ms(300);
    pthread_mutex_lock(&s->mu);
    s->running = 0;
    pthread_mutex_unlock(&s->mu);
}

static void test_pg_tasks__unsubscribe_waits_for_callback(void)
{
    fv_pg_bus *b = bus_open("bus_unsub");
    CU_ASSERT_FATAL(b != NULL);
    slow s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    fv_bus_sub *sub;
    fv_error e;
    FV_ASSERT_INT_EQ(fv_event_bus_subscribe(fv_pg_event_bus(b), slow_cb, &s, &sub, &e), FV_OK);
    fv_bus_msg q = {.kind = FV_BUS_QUEUE, .tenant_id = tenant, .queue = "slow"};
    FV_ASSERT_INT_EQ(fv_event_bus_publish(fv_pg_event_bus(b), &q, &e), FV_OK);

    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&s.mu);
    while (s.calls == 0 && pthread_cond_timedwait(&s.cv, &s.mu, &until) == 0)
        ;
    bool started = s.calls > 0;
    pthread_mutex_unlock(&s.mu);
    CU_ASSERT_FATAL(started);

    fv_event_bus_unsubscribe(fv_pg_event_bus(b), sub);
    pthread_mutex_lock(&s.mu);
    FV_ASSERT_INT_EQ(s.running, 0);
    int calls = s.calls;
    pthread_mutex_unlock(&s.mu);
    /* Never called again. */
    FV_ASSERT_INT_EQ(fv_event_bus_publish(fv_pg_event_bus(b), &q, &e), FV_OK);
    sleep_ms(300);
    pthread_mutex_lock(&s.mu);
    FV_ASSERT_INT_EQ(s.calls, calls);
    pthread_mutex_unlock(&s.mu);

    fv_pg_bus_free(b);
    pthread_cond_destroy(&s.cv);
    pthread_mutex_destroy(&s.mu);
}

/* A bus freed with subscribers left frees them (no leak under ASan), and
 * bad arguments are refused. */
static void test_pg_tasks__bus_free_and_arguments(void)
{
    fv_error e;
    CU_ASSERT(fv_pg_bus_new(NULL, db.url, NULL, NULL, &e) == NULL);
    FV_ASSERT_INT_EQ(e.code, FV_E_INVALID);
    CU_ASSERT(fv_pg_bus_new(pool, "", NULL, NULL, &e) == NULL);
    FV_ASSERT_INT_EQ(e.code, FV_E_INVALID);
    CU_ASSERT(fv_pg_bus_new(pool, "host=127.0.0.1 port=1 connect_timeout=2", NULL, NULL, &e) ==
              NULL);
    FV_ASSERT_INT_EQ(e.code, FV_E_UNAVAILABLE);
    fv_pg_bus *b = bus_open("bus_free");
    CU_ASSERT_FATAL(b != NULL);
    inbox in;
    inbox_init(&in);
    fv_bus_sub *s1, *s2;
    FV_ASSERT_INT_EQ(fv_event_bus_subscribe(fv_pg_event_bus(b), receive, &in, &s1, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_event_bus_subscribe(fv_pg_event_bus(b), receive, &in, &s2, &e), FV_OK);
    fv_bus_msg q = {.kind = FV_BUS_QUEUE, .tenant_id = tenant, .queue = "twice"};
    FV_ASSERT_INT_EQ(fv_event_bus_publish(fv_pg_event_bus(b), &q, &e), FV_OK);
    CU_ASSERT(inbox_wait(&in, 2, 0, 10));
    fv_pg_bus_free(b);
    fv_pg_bus_free(NULL);
    inbox_destroy(&in);
}

/* ------------------------------------------------------------------------ */

static const fv_test_case migration_cases[] = {
    FV_TEST_CASE(test_pg_tasks__migration_on_top_of_three),
};

static const fv_test_case cases[] = {
    FV_TEST_CASE(test_pg_tasks__claims_race),
    FV_TEST_CASE(test_pg_tasks__claim_skips_locked),
    FV_TEST_CASE(test_pg_tasks__generic_plans),
    FV_TEST_CASE(test_pg_tasks__idempotent_submits_race),
    FV_TEST_CASE(test_pg_tasks__bus_across_two_buses),
    FV_TEST_CASE(test_pg_tasks__bus_batches_in_order),
    FV_TEST_CASE(test_pg_tasks__bus_full_queue),
    FV_TEST_CASE(test_pg_tasks__bus_reconnects_and_resyncs),
    FV_TEST_CASE(test_pg_tasks__unsubscribe_waits_for_callback),
    FV_TEST_CASE(test_pg_tasks__bus_free_and_arguments),
};

int main(void)
{
    if (fv_pg_test_db_create(&db) != 0)
        return EXIT_FAILURE;
    int failed = 1;
    fv_error e;
    fv_pg_pool_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.url = db.url;
    cfg.size = THREADS + 4;
    cfg.log = fv_pg_test_log;
    pool = fv_pg_pool_new(&cfg, &e);
    if (pool == NULL) {
        fprintf(stderr, "pg_tasks: could not open a pool: %s\n", e.msg);
        goto done;
    }
    /* 0001-0003 first, then the rest: 0004 applies on top of them. */
    const fv_pg_migration *list = fv_pg_migrations(&n_migrations);
    if (n_migrations < 4 || fv_pg_migrate(pool, list, 3, &first_three, &e) != FV_OK ||
        fv_pg_migrate(pool, list, n_migrations, &the_rest, &e) != FV_OK) {
        fprintf(stderr, "pg_tasks: could not migrate: %s\n", e.msg);
        goto done;
    }
    const fv_test_suite suites[] = {
        {"pg_tasks_migration", migration_cases, FV_TEST_COUNT(migration_cases), NULL, NULL},
        {"pg_tasks", cases, FV_TEST_COUNT(cases), setup, teardown},
    };
    failed = fv_test_run_suites(suites, FV_TEST_COUNT(suites));
done:
    fv_pg_pool_free(pool);
    if (fv_pg_test_db_drop(&db) != 0)
        failed = 1;
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
