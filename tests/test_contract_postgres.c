/*
 * The port contract suite (tests/support/contract.h) on the Postgres
 * repositories (adapters/postgres/pg_store.h), in a database of this
 * executable's own on the ctest cluster (fixture "pg"), migrated once; each
 * test opens a fresh store on emptied tables.
 *
 * Also, what only this adapter can get wrong:
 * - 8 threads registering workers that declare the same kinds
 *   concurrently, each round a different subset in a different order (so
 *   links are added and dropped under contention): every registration
 *   succeeds, no transaction had to be retried (no deadlock, no
 *   serialization failure), and the links end exactly as the last round of
 *   each worker declared them;
 * - text with the characters of array and JSON syntax round-trips;
 * - the heartbeat buffer: flushed on demand, by its thread, at shutdown, and
 *   kept (in order) when the database refuses a flush.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapters/crypto/crypto.h"
#include "adapters/postgres/migrate.h"
#include "adapters/postgres/pg.h"
#include "adapters/postgres/pg_store.h"
#include "core/util/arena.h"
#include "tests/support/contract.h"
#include "tests/support/cunit_main.h"
#include "tests/support/pg_test.h"

static fv_pg_test_db db;
static fv_pg_pool *pool;

/* What the pool and the stores log (retries of aborted transactions,
 * failed flushes). */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_buf[32 * 1024];
static size_t log_len;

static void capture_log(void *user, fv_pg_log_level level, const char *msg)
{
    (void)user;
    (void)level;
    pthread_mutex_lock(&log_mu);
    int w = snprintf(log_buf + log_len, sizeof log_buf - log_len, "%s\n", msg);
    if (w > 0 && (size_t)w < sizeof log_buf - log_len)
        log_len += (size_t)w;
    pthread_mutex_unlock(&log_mu);
}

static void log_reset(void)
{
    pthread_mutex_lock(&log_mu);
    log_len = 0;
    log_buf[0] = '\0';
    pthread_mutex_unlock(&log_mu);
}

/* Empty every table of the schema (the migrations stay recorded). */
static int empty_tables(void)
{
    fv_pg_conn *c;
    fv_error e;
    fv_arena a;
    PGresult *r;
    fv_arena_init(&a, 0);
    fv_err rc = fv_pg_acquire(pool, &c, &e);
    if (rc == FV_OK) {
        rc = fv_pg_exec(c, &a, NULL,
                        "TRUNCATE tenant, space, api_key, worker, worker_status_change, "
                        "workflow_definition, task_definition, worker_workflow_capability, "
                        "worker_task_capability, worker_heartbeat RESTART IDENTITY",
                        0, NULL, NULL, NULL, &r, &e);
        fv_pg_release(pool, c);
    }
    fv_arena_release(&a);
    if (rc != FV_OK)
        fprintf(stderr, "contract: could not empty the tables: %s: %s\n", fv_err_name(rc), e.msg);
    return rc == FV_OK ? 0 : -1;
}

static int pg_open(void **ctx, fv_deps *deps)
{
    if (empty_tables() != 0)
        return -1;
    fv_pg_store_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.log = capture_log;
    fv_error e;
    fv_pg_store *s = fv_pg_store_new(pool, &cfg, &e);
    if (s == NULL) {
        fprintf(stderr, "contract: could not open the store: %s\n", e.msg);
        return -1;
    }
    memset(deps, 0, sizeof *deps);
    fv_pg_store_deps(s, deps);
    deps->hasher = fv_nettle_hasher();
    deps->liveness = FV_LIVENESS_DEFAULTS;
    *ctx = s;
    return 0;
}

static void pg_close(void *ctx)
{
    fv_pg_store_free(ctx);
}

static void pg_flush(void *ctx)
{
    fv_pg_store_flush(ctx);
}

static const fv_contract_adapter postgres_adapter = {
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .flush = pg_flush,
};

/* ------------------------------------------------------------------------
 * Concurrent registrations
 */

enum { RACERS = 8, ROUNDS = 30, WF_KINDS = 12, TASK_KINDS = 6 };

static fv_pg_store *race_store;
static fv_deps race_deps;
static const fv_uuid race_tenant = {{0x10, 0, 0, 0, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, 9}};

typedef struct racer {
    int index;
    fv_err rc;
    char msg[FV_ERROR_MSG_MAX];
    unsigned last_wf; /* kinds declared in the last round (bit masks) */
    unsigned last_task;
    int best_round[WF_KINDS]; /* last round declaring each workflow kind, -1: none */
    fv_uuid id;
} racer;

static racer racers[RACERS];
static char wf_names[WF_KINDS][16];
static char task_names[TASK_KINDS][16];
static char racer_names[RACERS][16];

/* A deterministic pseudo-random sequence per racer. */
static unsigned next_rand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

static uint32_t fresh_counter;
static pthread_mutex_t fresh_mu = PTHREAD_MUTEX_INITIALIZER;

static fv_uuid fresh_id(void)
{
    pthread_mutex_lock(&fresh_mu);
    uint32_t n = ++fresh_counter;
    pthread_mutex_unlock(&fresh_mu);
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

static void *race(void *arg)
{
    racer *r = arg;
    unsigned seed = 7919u * (unsigned)(r->index + 1);
    for (int round = 0; round < ROUNDS && r->rc == FV_OK; round++) {
        fv_capability wf[WF_KINDS], tk[TASK_KINDS];
        fv_uuid wf_ids[WF_KINDS], tk_ids[TASK_KINDS];
        char versions[WF_KINDS][16];
        size_t nwf = 0, ntk = 0;
        unsigned wmask = 0, tmask = 0;
        /* A random subset (at least half) in a random order. */
        unsigned start = next_rand(&seed);
        for (unsigned k = 0; k < WF_KINDS; k++) {
            unsigned i = (start + k * 5u) % WF_KINDS;
            if (next_rand(&seed) % 4 == 0)
                continue;
            memset(&wf[nwf], 0, sizeof wf[nwf]);
            wf[nwf].kind = wf_names[i];
            wf[nwf].name = wf_names[i];
            snprintf(versions[nwf], sizeof versions[nwf], "1.%d.%d", round, r->index);
            wf[nwf].version = versions[nwf];
            wf[nwf].content_hash = NULL;
            wf_ids[nwf] = fresh_id();
            wmask |= 1u << i;
            nwf++;
        }
        for (unsigned k = 0; k < TASK_KINDS; k++) {
            unsigned i = (start + k) % TASK_KINDS;
            if (next_rand(&seed) % 3 == 0)
                continue;
            memset(&tk[ntk], 0, sizeof tk[ntk]);
            tk[ntk].kind = task_names[i];
            tk[ntk].name = task_names[i];
            tk_ids[ntk] = fresh_id();
            tmask |= 1u << i;
            ntk++;
        }
        fv_registration reg;
        memset(&reg, 0, sizeof reg);
        reg.worker.id = fresh_id();
        reg.worker.tenant_id = race_tenant;
        reg.worker.name = racer_names[r->index];
        reg.worker.type = FV_WORKER_UNIFIED;
        reg.worker.status = FV_STATUS_ONLINE;
        reg.worker.host_name = "race-host";
        reg.worker.process_id = "1";
        reg.now = 1767225600000 + round;
        reg.workflows = wf;
        reg.n_workflows = nwf;
        reg.workflow_def_ids = wf_ids;
        reg.tasks = tk;
        reg.n_tasks = ntk;
        reg.task_def_ids = tk_ids;
        fv_arena a;
        fv_arena_init(&a, 0);
        fv_registration_outcome out;
        fv_error e;
        fv_error_clear(&e);
        r->rc = fv_worker_repo_register(race_deps.workers, &a, &reg, &out, &e);
        if (r->rc == FV_OK) {
            r->id = out.worker_id;
            r->last_wf = wmask;
            r->last_task = tmask;
            for (unsigned i = 0; i < WF_KINDS; i++)
                if (wmask & (1u << i))
                    r->best_round[i] = round;
        } else {
            snprintf(r->msg, sizeof r->msg, "%s", e.msg);
        }
        fv_arena_release(&a);
    }
    return NULL;
}

static int race_setup(void)
{
    if (empty_tables() != 0)
        return -1;
    fv_error e;
    race_store = fv_pg_store_new(pool, NULL, &e);
    if (race_store == NULL)
        return -1;
    memset(&race_deps, 0, sizeof race_deps);
    fv_pg_store_deps(race_store, &race_deps);
    fv_tenant t = {race_tenant, "race", "Race", 1767225600000};
    return fv_tenant_store_create_tenant(race_deps.tenants, &t, &e) == FV_OK ? 0 : -1;
}

static void race_teardown(void)
{
    fv_pg_store_free(race_store);
    race_store = NULL;
}

static bool linked(const fv_linked_worker_list *l, const fv_uuid *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (fv_uuid_eq(&l->items[i].worker.id, id))
            return true;
    return false;
}

static void test_postgres__concurrent_registrations_of_the_same_kinds(void)
{
    for (int i = 0; i < WF_KINDS; i++)
        snprintf(wf_names[i], sizeof wf_names[i], "flow-%02d", i);
    for (int i = 0; i < TASK_KINDS; i++)
        snprintf(task_names[i], sizeof task_names[i], "task-%02d", i);
    for (int i = 0; i < RACERS; i++) {
        snprintf(racer_names[i], sizeof racer_names[i], "racer-%d", i);
        memset(&racers[i], 0, sizeof racers[i]);
        racers[i].index = i;
        for (int k = 0; k < WF_KINDS; k++)
            racers[i].best_round[k] = -1;
    }
    log_reset();
    pthread_t th[RACERS];
    int started = 0;
    for (int i = 0; i < RACERS; i++) {
        if (pthread_create(&th[i], NULL, race, &racers[i]) != 0)
            break;
        started++;
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    FV_ASSERT_INT_EQ(started, RACERS);
    for (int i = 0; i < started; i++) {
        if (racers[i].rc != FV_OK)
            fprintf(stderr, "\n  racer %d: %s: %s\n", i, fv_err_name(racers[i].rc), racers[i].msg);
        FV_ASSERT_INT_EQ(racers[i].rc, FV_OK);
    }
    /* No transaction was aborted and retried (deadlock or serialization
     * failure): fv_pg_tx logs each retry through the pool's hook. */
    pthread_mutex_lock(&log_mu);
    bool retried = strstr(log_buf, "aborted") != NULL;
    if (retried)
        fprintf(stderr, "\n  log: %s\n", log_buf);
    pthread_mutex_unlock(&log_mu);
    CU_ASSERT(!retried);

    /* Every definition exists once and is linked to exactly the workers
     * whose last registration declared it. */
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_error e;
    const fv_time now = 1767225600000 + ROUNDS;
    const fv_liveness l = FV_LIVENESS_DEFAULTS;
    fv_space_sel none = {FV_SPACE_NONE, {{0}}};
    for (int cls = 0; cls < 2; cls++) {
        int kinds = cls == 0 ? WF_KINDS : TASK_KINDS;
        fv_definition_repo repo = cls == 0 ? race_deps.workflow_defs : race_deps.task_defs;
        for (int k = 0; k < kinds; k++) {
            const char *kind = cls == 0 ? wf_names[k] : task_names[k];
            fv_definition d;
            FV_ASSERT_INT_EQ(
                fv_definition_repo_get(repo, &a, &race_tenant, &none, kind, now, &l, &d, &e),
                FV_OK);
            fv_linked_worker_list lw;
            FV_ASSERT_INT_EQ(fv_worker_repo_linked_workers(race_deps.workers, &a, &race_tenant,
                                                           cls == 0 ? FV_DEF_WORKFLOW : FV_DEF_TASK,
                                                           &d.id, &lw, &e),
                             FV_OK);
            size_t want = 0;
            for (int i = 0; i < RACERS; i++) {
                unsigned mask = cls == 0 ? racers[i].last_wf : racers[i].last_task;
                bool declared = (mask & (1u << k)) != 0;
                want += declared;
                CU_ASSERT(linked(&lw, &racers[i].id) == declared);
            }
            FV_ASSERT_INT_EQ(lw.n, want);
            FV_ASSERT_INT_EQ(d.worker_count, (int64_t)want);
            if (cls == 0) {
                /* The highest version declared: 1.<round>.<racer>. */
                int best = -1, who = -1;
                for (int i = 0; i < RACERS; i++)
                    if (racers[i].best_round[k] >= best) {
                        best = racers[i].best_round[k];
                        who = i;
                    }
                char want_version[40];
                snprintf(want_version, sizeof want_version, "1.%d.%d", best, who);
                FV_ASSERT_STR_EQ(d.latest_version, want_version);
            }
        }
        fv_definition_filter f;
        memset(&f, 0, sizeof f);
        f.tenant_id = race_tenant;
        f.space.mode = FV_SPACE_ANY;
        fv_definition_list dl;
        fv_page page = {100, 0};
        FV_ASSERT_INT_EQ(fv_definition_repo_list(repo, &a, &f, page, now, &l, &dl, &e), FV_OK);
        FV_ASSERT_INT_EQ(dl.total, kinds);
    }
    /* Stored availability is consistent: nothing to refresh. */
    fv_availability_change_list ch;
    FV_ASSERT_INT_EQ(fv_definition_repo_refresh_availability(race_deps.workflow_defs, &a, &ch, &e),
                     FV_OK);
    FV_ASSERT_INT_EQ(ch.n, 0);
    FV_ASSERT_INT_EQ(fv_definition_repo_refresh_availability(race_deps.task_defs, &a, &ch, &e),
                     FV_OK);
    FV_ASSERT_INT_EQ(ch.n, 0);
    fv_arena_release(&a);
}

/* ------------------------------------------------------------------------
 * Text that needs quoting in array literals, and the heartbeat buffer
 */

/* Run one statement of the test itself (not a repository's). */
static void exec_sql(const char *sql)
{
    fv_pg_conn *c;
    fv_error e;
    fv_arena a;
    PGresult *r;
    fv_arena_init(&a, 0);
    fv_err rc = fv_pg_acquire(pool, &c, &e);
    if (rc == FV_OK) {
        rc = fv_pg_exec(c, &a, NULL, sql, 0, NULL, NULL, NULL, &r, &e);
        fv_pg_release(pool, c);
    }
    fv_arena_release(&a);
    if (rc != FV_OK)
        fprintf(stderr, "\n  %s: %s: %s\n", sql, fv_err_name(rc), e.msg);
    FV_ASSERT_INT_EQ(rc, FV_OK);
}

/* Kinds, names, tags and JSON with the characters of array and JSON
 * syntax come back byte for byte. */
static void test_postgres__odd_text_round_trips(void)
{
    static const char *const tags[] = {"NULL", "a,b", "c\"d", "e\\f", "{g}", " h ", "", "\xc3\xbc"};
    const char *kind = "we\"ird\\,{kind} NULL";
    fv_capability wf;
    memset(&wf, 0, sizeof wf);
    wf.kind = kind;
    wf.name = "Name with 'quotes' and \"doubles\"";
    wf.description = "line one\nline two\ttab";
    wf.tags = (fv_tags){tags, 8};
    const char *meta = "{ \"k\" : [1, 2.50, \"\\u00fc\"] }";
    wf.metadata = (fv_json){meta, strlen(meta)};
    wf.version = "1.0.0-rc.1+build.5";
    wf.content_hash = "sha256:\"x\"";
    fv_uuid def_id = fresh_id();
    fv_registration reg;
    memset(&reg, 0, sizeof reg);
    reg.worker.id = fresh_id();
    reg.worker.tenant_id = race_tenant;
    reg.worker.name = "w,{\"x\"}";
    reg.worker.type = FV_WORKER_WORKFLOW;
    reg.worker.host_name = "NULL";
    reg.now = 1767225600000;
    reg.workflows = &wf;
    reg.n_workflows = 1;
    reg.workflow_def_ids = &def_id;
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_registration_outcome out;
    fv_error e;
    FV_ASSERT_INT_EQ(fv_worker_repo_register(race_deps.workers, &a, &reg, &out, &e), FV_OK);
    fv_space_sel none = {FV_SPACE_NONE, {{0}}};
    const fv_liveness l = FV_LIVENESS_DEFAULTS;
    fv_definition d;
    FV_ASSERT_INT_EQ(fv_definition_repo_get(race_deps.workflow_defs, &a, &race_tenant, &none, kind,
                                            reg.now, &l, &d, &e),
                     FV_OK);
    FV_ASSERT_STR_EQ(d.kind, kind);
    FV_ASSERT_STR_EQ(d.name, wf.name);
    FV_ASSERT_STR_EQ(d.description, wf.description);
    FV_ASSERT_STR_EQ(d.latest_version, wf.version);
    CU_ASSERT_FATAL(d.declared.has_tags && d.declared.tags.n == 8);
    for (size_t i = 0; i < 8; i++)
        FV_ASSERT_STR_EQ(d.declared.tags.v[i], tags[i]);
    CU_ASSERT(d.metadata.n == wf.metadata.n && memcmp(d.metadata.p, meta, strlen(meta)) == 0);
    fv_worker w;
    FV_ASSERT_INT_EQ(
        fv_worker_repo_get(race_deps.workers, &a, &race_tenant, &out.worker_id, &w, &e), FV_OK);
    FV_ASSERT_STR_EQ(w.name, reg.worker.name);
    FV_ASSERT_STR_EQ(w.host_name, "NULL");
    CU_ASSERT_PTR_NULL(w.process_id);
    /* The tag filter finds each tag exactly. */
    fv_definition_filter f;
    memset(&f, 0, sizeof f);
    f.tenant_id = race_tenant;
    f.space.mode = FV_SPACE_ANY;
    fv_definition_list dl;
    fv_page page = {10, 0};
    for (size_t i = 0; i < 8; i++) {
        f.tag = tags[i];
        FV_ASSERT_INT_EQ(
            fv_definition_repo_list(race_deps.workflow_defs, &a, &f, page, reg.now, &l, &dl, &e),
            FV_OK);
        FV_ASSERT_INT_EQ(dl.total, 1);
    }
    fv_linked_worker_list lw;
    FV_ASSERT_INT_EQ(fv_worker_repo_linked_workers(race_deps.workers, &a, &race_tenant,
                                                   FV_DEF_WORKFLOW, &d.id, &lw, &e),
                     FV_OK);
    CU_ASSERT_FATAL(lw.n == 1);
    FV_ASSERT_STR_EQ(lw.items[0].content_hash, wf.content_hash);
    fv_arena_release(&a);
}

/* A store whose flusher never runs in the test: only explicit flushes and
 * the final one write. */
static fv_pg_store *quiet_store(void)
{
    fv_pg_store_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.heartbeat_flush_ms = 3600 * 1000;
    cfg.heartbeat_history_max = 5;
    cfg.log = capture_log;
    fv_error e;
    fv_pg_store *s = fv_pg_store_new(pool, &cfg, &e);
    CU_ASSERT_FATAL(s != NULL);
    return s;
}

static size_t history_len(fv_pg_store *s, const fv_uuid *w, fv_time *newest)
{
    fv_deps d;
    fv_pg_store_deps(s, &d);
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_heartbeat_list l;
    fv_error e;
    FV_ASSERT_INT_EQ(fv_heartbeat_store_history(d.heartbeats, &a, w, 100, &l, &e), FV_OK);
    size_t n = l.n;
    if (newest != NULL)
        *newest = n > 0 ? l.items[0].at : 0;
    for (size_t i = 1; i < l.n; i++)
        CU_ASSERT(l.items[i].at < l.items[i - 1].at);
    fv_arena_release(&a);
    return n;
}

static void record(fv_pg_store *s, const fv_uuid *w, fv_time at)
{
    fv_deps d;
    fv_pg_store_deps(s, &d);
    fv_error e;
    FV_ASSERT_INT_EQ(fv_heartbeat_store_record(d.heartbeats, w, at, FV_JSON_NONE, &e), FV_OK);
}

/* Buffered heartbeats: read at once by the store that holds them, by
 * another store (another process) once flushed, and written by a clean
 * shutdown. */
static void test_postgres__heartbeats_flushed_and_kept_at_shutdown(void)
{
    fv_uuid w = fresh_id();
    fv_pg_store *a = quiet_store(), *b = quiet_store();
    record(a, &w, 1000);
    record(a, &w, 2000);
    FV_ASSERT_INT_EQ(history_len(a, &w, NULL), 2);
    FV_ASSERT_INT_EQ(history_len(b, &w, NULL), 0); /* still in a's buffer */
    fv_pg_store_flush(a);
    FV_ASSERT_INT_EQ(history_len(b, &w, NULL), 2);
    /* Seven more: the store keeps the newest five, buffered or not. */
    for (fv_time t = 3000; t <= 9000; t += 1000)
        record(a, &w, t);
    fv_time newest;
    FV_ASSERT_INT_EQ(history_len(a, &w, &newest), 5);
    FV_ASSERT_INT_EQ(newest, 9000);
    fv_pg_store_free(a);
    FV_ASSERT_INT_EQ(history_len(b, &w, &newest), 5);
    FV_ASSERT_INT_EQ(newest, 9000);
    fv_pg_store_free(b);
}

/* The flusher thread writes within its interval (polled, never timed). */
static void test_postgres__flusher_writes_by_itself(void)
{
    fv_pg_store_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.heartbeat_flush_ms = 20;
    fv_error e;
    fv_pg_store *a = fv_pg_store_new(pool, &cfg, &e);
    CU_ASSERT_FATAL(a != NULL);
    fv_pg_store *b = quiet_store();
    fv_uuid w = fresh_id();
    record(a, &w, 1000);
    size_t n = 0;
    for (int i = 0; i < 500 && n == 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
        n = history_len(b, &w, NULL);
    }
    FV_ASSERT_INT_EQ(n, 1);
    fv_pg_store_free(a);
    fv_pg_store_free(b);
}

/* A flush the database refuses keeps its heartbeats, older than those
 * recorded since; the next flush writes all of them in order. */
static void test_postgres__failed_flush_keeps_heartbeats(void)
{
    fv_uuid w = fresh_id();
    fv_pg_store *a = quiet_store(), *b = quiet_store();
    record(a, &w, 1000);
    record(a, &w, 2000);
    exec_sql("ALTER TABLE worker_heartbeat ADD CONSTRAINT test_refuse CHECK (at < 'epoch') "
             "NOT VALID");
    log_reset();
    fv_pg_store_flush(a);
    pthread_mutex_lock(&log_mu);
    CU_ASSERT(strstr(log_buf, "could not write 2 buffered heartbeats") != NULL);
    pthread_mutex_unlock(&log_mu);
    record(a, &w, 3000);
    fv_time newest;
    FV_ASSERT_INT_EQ(history_len(a, &w, &newest), 3);
    FV_ASSERT_INT_EQ(newest, 3000);
    FV_ASSERT_INT_EQ(history_len(b, &w, NULL), 0);
    exec_sql("ALTER TABLE worker_heartbeat DROP CONSTRAINT test_refuse");
    fv_pg_store_flush(a);
    FV_ASSERT_INT_EQ(history_len(b, &w, &newest), 3);
    FV_ASSERT_INT_EQ(newest, 3000);
    fv_pg_store_free(a);
    fv_pg_store_free(b);
}

static const fv_test_case race_cases[] = {
    FV_TEST_CASE(test_postgres__concurrent_registrations_of_the_same_kinds),
    FV_TEST_CASE(test_postgres__odd_text_round_trips),
    FV_TEST_CASE(test_postgres__heartbeats_flushed_and_kept_at_shutdown),
    FV_TEST_CASE(test_postgres__flusher_writes_by_itself),
    FV_TEST_CASE(test_postgres__failed_flush_keeps_heartbeats),
};

/* ------------------------------------------------------------------------ */

int main(void)
{
    if (fv_pg_test_db_create(&db) != 0)
        return EXIT_FAILURE;
    int failed = 1;
    fv_error e;
    fv_pg_pool_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.url = db.url;
    cfg.size = RACERS + 2;
    cfg.log = capture_log;
    pool = fv_pg_pool_new(&cfg, &e);
    if (pool == NULL) {
        fprintf(stderr, "contract: could not open a pool: %s\n", e.msg);
        goto done;
    }
    size_t n;
    const fv_pg_migration *list = fv_pg_migrations(&n);
    if (fv_pg_migrate(pool, list, n, NULL, &e) != FV_OK) {
        fprintf(stderr, "contract: could not migrate: %s\n", e.msg);
        goto done;
    }
    failed = fv_contract_run(&postgres_adapter);
    const fv_test_suite suites[] = {
        {"postgres", race_cases, FV_TEST_COUNT(race_cases), race_setup, race_teardown},
    };
    failed += fv_test_run_suites(suites, FV_TEST_COUNT(suites));
done:
    fv_pg_pool_free(pool);
    fv_pg_test_db_drop(&db);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
