/*
 * The port contract suite (tests/support/contract.h) on the Postgres
 * repositories (adapters/postgres/pg_store.h) and event bus
 * (adapters/postgres/pg_bus.h), in a database of this executable's own on
 * the ctest cluster (fixture "pg"), migrated once; each test opens a fresh
 * store and bus on emptied tables.
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
 *   kept (in order) when the database refuses a flush;
 * - signs of life coalesced: many heartbeats and polls of a worker within a
 *   flush interval are one UPDATE statement of one row (counted by
 *   triggers), read at once by the store that buffers them, by another
 *   store after the flush or after the first one was freed; NOT_FOUND at
 *   once for unknown workers, and from the next flush on for a worker
 *   another store removed.
 *
 * FLOVYN_PG_HB_BENCH=<seconds> runs a heartbeat micro-bench instead (see
 * bench() below).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapters/crypto/crypto.h"
#include "adapters/memory/mem_store.h"
#include "adapters/postgres/migrate.h"
#include "adapters/postgres/pg.h"
#include "adapters/postgres/pg_bus.h"
#include "adapters/postgres/pg_store.h"
#include "core/usecases/worker_usecases.h"
#include "core/util/alloc.h"
#include "core/util/arena.h"
#include "tests/support/contract.h"
#include "tests/support/cunit_main.h"
#include "tests/support/pg_test.h"

static fv_pg_test_db db;
static fv_pg_pool *pool;

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
                        "worker_task_capability, worker_heartbeat, task_execution, "
                        "task_attempt, task_event, task_idempotency_key, task_state "
                        "RESTART IDENTITY",
                        0, NULL, NULL, NULL, &r, &e);
        fv_pg_release(pool, c);
    }
    fv_arena_release(&a);
    if (rc != FV_OK)
        fprintf(stderr, "contract: could not empty the tables: %s: %s\n", fv_err_name(rc), e.msg);
    return rc == FV_OK ? 0 : -1;
}

/* A store and a bus (its listener on a connection of its own). */
typedef struct pg_ctx {
    fv_pg_store *store;
    fv_pg_bus *bus;
} pg_ctx;

static int pg_open(void **ctx, fv_deps *deps)
{
    if (empty_tables() != 0)
        return -1;
    pg_ctx *x = fv_calloc(1, sizeof *x);
    if (x == NULL)
        return -1;
    fv_pg_store_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.log = fv_pg_test_log;
    fv_error e;
    x->store = fv_pg_store_new(pool, &cfg, &e);
    if (x->store == NULL) {
        fprintf(stderr, "contract: could not open the store: %s\n", e.msg);
        fv_free(x);
        return -1;
    }
    x->bus = fv_pg_bus_new(pool, db.url, fv_pg_test_log, NULL, &e);
    if (x->bus == NULL) {
        fprintf(stderr, "contract: could not open the bus: %s\n", e.msg);
        fv_pg_store_free(x->store);
        fv_free(x);
        return -1;
    }
    memset(deps, 0, sizeof *deps);
    fv_pg_store_deps(x->store, deps);
    deps->bus = fv_pg_event_bus(x->bus);
    deps->hasher = fv_nettle_hasher();
    deps->liveness = FV_LIVENESS_DEFAULTS;
    *ctx = x;
    return 0;
}

static void pg_close(void *ctx)
{
    pg_ctx *x = ctx;
    fv_pg_bus_free(x->bus);
    fv_pg_store_free(x->store);
    fv_free(x);
}

static void pg_flush(void *ctx)
{
    pg_ctx *x = ctx;
    fv_pg_store_flush(x->store);
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
    fv_pg_test_log_reset();
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
    bool retried = fv_pg_test_log_count("aborted") > 0;
    if (retried)
        fv_pg_test_log_dump();
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
    cfg.log = fv_pg_test_log;
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

/* A worker of race_tenant registered through store s at `now`. */
static fv_uuid register_on(fv_pg_store *s, const char *name, fv_time now)
{
    fv_deps d;
    fv_pg_store_deps(s, &d);
    fv_registration reg;
    memset(&reg, 0, sizeof reg);
    reg.worker.id = fresh_id();
    reg.worker.tenant_id = race_tenant;
    reg.worker.name = name;
    reg.worker.type = FV_WORKER_TASK;
    reg.worker.status = FV_STATUS_ONLINE;
    reg.now = now;
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_registration_outcome out;
    fv_error e;
    FV_ASSERT_INT_EQ(fv_worker_repo_register(d.workers, &a, &reg, &out, &e), FV_OK);
    fv_arena_release(&a);
    return out.worker_id;
}

/* The worker as store s reads it (fatal unless found). */
static fv_worker worker_on(fv_pg_store *s, fv_arena *a, const fv_uuid *id)
{
    fv_deps d;
    fv_pg_store_deps(s, &d);
    fv_worker w;
    fv_error e;
    FV_ASSERT_INT_EQ(fv_worker_repo_get(d.workers, a, &race_tenant, id, &w, &e), FV_OK);
    return w;
}

/* One integer from a statement of the test itself. */
static long long query_int(const char *sql)
{
    fv_pg_conn *c;
    fv_error e;
    fv_arena a;
    PGresult *r = NULL;
    fv_arena_init(&a, 0);
    fv_err rc = fv_pg_acquire(pool, &c, &e);
    if (rc == FV_OK) {
        rc = fv_pg_exec(c, &a, NULL, sql, 0, NULL, NULL, NULL, &r, &e);
        fv_pg_release(pool, c);
    }
    long long v = rc == FV_OK && PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    if (rc != FV_OK)
        fprintf(stderr, "\n  %s: %s: %s\n", sql, fv_err_name(rc), e.msg);
    fv_arena_release(&a);
    return v;
}

/* A clock for the use cases: 10 ms later at every reading. */
static fv_time step_clock_at;

static fv_time step_clock_now(void *self)
{
    (void)self;
    return step_clock_at += 10;
}

static const fv_clock_ops step_clock_ops = {step_clock_now, NULL};

/* Every UPDATE statement and row on table worker, counted by triggers. */
static void count_worker_updates(void)
{
    exec_sql("CREATE TABLE IF NOT EXISTS test_update_log (level text NOT NULL)");
    exec_sql("CREATE OR REPLACE FUNCTION test_log_update() RETURNS trigger LANGUAGE plpgsql "
             "AS $$ BEGIN INSERT INTO test_update_log VALUES (TG_LEVEL); RETURN NULL; END $$");
    exec_sql("CREATE OR REPLACE TRIGGER test_update_statements AFTER UPDATE ON worker "
             "FOR EACH STATEMENT EXECUTE FUNCTION test_log_update()");
    exec_sql("CREATE OR REPLACE TRIGGER test_update_rows AFTER UPDATE ON worker "
             "FOR EACH ROW EXECUTE FUNCTION test_log_update()");
    exec_sql("TRUNCATE test_update_log");
}

static void stop_counting_worker_updates(void)
{
    exec_sql("DROP TRIGGER test_update_statements ON worker");
    exec_sql("DROP TRIGGER test_update_rows ON worker");
    exec_sql("DROP TABLE test_update_log");
    exec_sql("DROP FUNCTION test_log_update()");
}

static long long update_statements(void)
{
    return query_int("SELECT count(*) FROM test_update_log WHERE level = 'STATEMENT'");
}

static long long updated_rows(void)
{
    return query_int("SELECT count(*) FROM test_update_log WHERE level = 'ROW'");
}

/* Signs of life are coalesced: 60 heartbeats and 40 polls (by id and by
 * name) of one worker within a flush interval cost no UPDATE until the
 * flush, then one UPDATE statement of one row; the same store reads them at
 * once, another store (a replica) after the flush, a new store after the
 * first one was freed. NOT_FOUND still comes at once. */
static void test_postgres__signs_of_life_coalesced_into_one_update(void)
{
    fv_pg_store *a = quiet_store(), *b = quiet_store();
    const fv_time t0 = 1767225600000;
    fv_uuid w = register_on(a, "hb-one", t0);
    fv_deps d;
    fv_pg_store_deps(a, &d);
    d.clock = (fv_clock){&step_clock_ops, NULL};
    step_clock_at = t0;
    count_worker_updates();

    char id_text[FV_UUID_STR_LEN + 1];
    fv_uuid_format(&w, id_text);
    fv_error e;
    fv_heartbeat_request req;
    memset(&req, 0, sizeof req);
    req.tenant_id = race_tenant;
    req.worker_id = w;
    char health[64];
    fv_time last_heartbeat = 0;
    for (int i = 0; i < 100; i++) {
        if (i % 5 == 1) {
            FV_ASSERT_INT_EQ(fv_worker_record_poll(&d, &race_tenant, id_text, &e), FV_OK);
        } else if (i % 5 == 3) {
            FV_ASSERT_INT_EQ(fv_worker_record_poll(&d, &race_tenant, "hb-one", &e), FV_OK);
        } else {
            snprintf(health, sizeof health, "{\"beat\":%d}", i);
            req.health_info = (fv_json){health, strlen(health)};
            req.health_degraded = i % 2 == 0;
            FV_ASSERT_INT_EQ(fv_worker_heartbeat(&d, &req, &e), FV_OK);
            last_heartbeat = step_clock_at;
        }
    }
    const fv_time last_seen = step_clock_at;
    const char *last_health = "{\"beat\":99}"; /* i = 99: a heartbeat, not degraded */
    FV_ASSERT_INT_EQ(update_statements(), 0);

    fv_arena ar;
    fv_arena_init(&ar, 0);
    fv_worker wa = worker_on(a, &ar, &w);
    FV_ASSERT_INT_EQ(wa.last_seen_at, last_seen);
    FV_ASSERT_INT_EQ(wa.last_heartbeat_at, last_heartbeat);
    CU_ASSERT(wa.health_info.p != NULL && strcmp(wa.health_info.p, last_health) == 0);
    CU_ASSERT(!wa.health_degraded);
    fv_worker wb = worker_on(b, &ar, &w);
    FV_ASSERT_INT_EQ(wb.last_seen_at, t0); /* not written yet */

    /* NOT_FOUND at once: an unknown id, a worker of another tenant. */
    req.worker_id = fresh_id();
    FV_ASSERT_INT_EQ(fv_worker_heartbeat(&d, &req, &e), FV_E_NOT_FOUND);
    req.worker_id = w;
    req.tenant_id = fresh_id();
    FV_ASSERT_INT_EQ(fv_worker_heartbeat(&d, &req, &e), FV_E_NOT_FOUND);
    req.tenant_id = race_tenant;
    FV_ASSERT_INT_EQ(fv_worker_record_poll(&d, &race_tenant, "nobody", &e), FV_E_NOT_FOUND);

    fv_pg_store_flush(a);
    FV_ASSERT_INT_EQ(update_statements(), 1);
    FV_ASSERT_INT_EQ(updated_rows(), 1);
    wb = worker_on(b, &ar, &w);
    FV_ASSERT_INT_EQ(wb.last_seen_at, last_seen);
    FV_ASSERT_INT_EQ(wb.last_heartbeat_at, last_heartbeat);
    CU_ASSERT(wb.health_info.p != NULL && strcmp(wb.health_info.p, last_health) == 0);
    CU_ASSERT(!wb.health_degraded);
    fv_pg_store_flush(a); /* nothing left: no statement */
    FV_ASSERT_INT_EQ(update_statements(), 1);

    /* One more, then a clean shutdown writes it (one more UPDATE). */
    req.health_info = (fv_json){"{\"beat\":\"last\"}", 15};
    req.health_degraded = true;
    FV_ASSERT_INT_EQ(fv_worker_heartbeat(&d, &req, &e), FV_OK);
    const fv_time final_beat = step_clock_at;
    fv_pg_store_free(a);
    FV_ASSERT_INT_EQ(update_statements(), 2);
    fv_pg_store *c = quiet_store();
    fv_worker wc = worker_on(c, &ar, &w);
    FV_ASSERT_INT_EQ(wc.last_heartbeat_at, final_beat);
    FV_ASSERT_INT_EQ(wc.last_seen_at, final_beat);
    CU_ASSERT(wc.health_info.p != NULL && strcmp(wc.health_info.p, "{\"beat\":\"last\"}") == 0);
    CU_ASSERT(wc.health_degraded);
    fv_time newest;
    FV_ASSERT_INT_EQ(history_len(c, &w, &newest), 5);
    FV_ASSERT_INT_EQ(newest, final_beat);
    stop_counting_worker_updates();
    fv_arena_release(&ar);
    fv_pg_store_free(b);
    fv_pg_store_free(c);
}

/* The cache of known workers across stores (replicas): a worker registered
 * elsewhere is found by one read; one removed elsewhere is NOT_FOUND from
 * the first flush that finds its row gone, and what was buffered for it
 * meanwhile (its heartbeat history included) is dropped. */
static void test_postgres__workers_of_other_stores(void)
{
    fv_pg_store *a = quiet_store(), *b = quiet_store();
    fv_deps da, db_;
    fv_pg_store_deps(a, &da);
    fv_pg_store_deps(b, &db_);
    da.clock = (fv_clock){&step_clock_ops, NULL};
    step_clock_at = 1767225600000;
    fv_uuid w = register_on(b, "elsewhere", step_clock_at);
    fv_heartbeat_request req;
    memset(&req, 0, sizeof req);
    req.tenant_id = race_tenant;
    req.worker_id = w;
    fv_error e;
    FV_ASSERT_INT_EQ(fv_worker_heartbeat(&da, &req, &e), FV_OK); /* a read, then known */
    fv_pg_store_flush(a);
    FV_ASSERT_INT_EQ(fv_worker_unregister(&db_, &race_tenant, &w, &e), FV_OK);
    /* a still knows w: this one is acknowledged, and dropped by the flush. */
    FV_ASSERT_INT_EQ(fv_worker_heartbeat(&da, &req, &e), FV_OK);
    fv_pg_store_flush(a);
    FV_ASSERT_INT_EQ(fv_worker_heartbeat(&da, &req, &e), FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(history_len(b, &w, NULL), 0);
    FV_ASSERT_INT_EQ(history_len(a, &w, NULL), 0);
    /* Removed by this store: NOT_FOUND at once. */
    fv_uuid v = register_on(a, "here", step_clock_at);
    req.worker_id = v;
    FV_ASSERT_INT_EQ(fv_worker_heartbeat(&da, &req, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_worker_unregister(&da, &race_tenant, &v, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_worker_heartbeat(&da, &req, &e), FV_E_NOT_FOUND);
    fv_pg_store_free(a);
    FV_ASSERT_INT_EQ(history_len(b, &v, NULL), 0);
    fv_pg_store_free(b);
}

/* fv_pg_exec never answers RESOURCE_EXHAUSTED after its statement ran:
 * with the Nth allocation failing, N = 0, 1, ..., an autocommit INSERT
 * either failed before running (no row) or succeeded (one row); named
 * (prepared and cached) and unnamed. */
static void test_postgres__exec_exhausted_only_before_the_statement(void)
{
    exec_sql("CREATE TABLE test_exec_once (name text NOT NULL)");
    static const char *const names[] = {NULL, "TestExecOnce"};
    for (int k = 0; k < 2; k++) {
        const char *sql = k == 0 ? "INSERT INTO test_exec_once VALUES ('unnamed')"
                                 : "INSERT INTO test_exec_once VALUES ('named')";
        char count_sql[96];
        snprintf(count_sql, sizeof count_sql,
                 "SELECT count(*) FROM test_exec_once WHERE name = '%s'",
                 k == 0 ? "unnamed" : "named");
        fv_err rc = FV_E_EXHAUSTED;
        int n;
        for (n = 0; n < 100 && rc == FV_E_EXHAUSTED; n++) {
            fv_pg_conn *c;
            fv_error e;
            FV_ASSERT_INT_EQ(fv_pg_acquire(pool, &c, &e), FV_OK);
            fv_arena a;
            fv_arena_init(&a, 0);
            PGresult *r;
            fv_alloc_fail_after(n);
            rc = fv_pg_exec(c, &a, names[k], sql, 0, NULL, NULL, NULL, &r, &e);
            fv_alloc_fail_reset();
            fv_arena_release(&a);
            fv_pg_release(pool, c);
            if (rc == FV_E_EXHAUSTED)
                FV_ASSERT_INT_EQ(query_int(count_sql), 0);
        }
        FV_ASSERT_INT_EQ(rc, FV_OK);
        CU_ASSERT(n > 1); /* the first allocations did fail */
        FV_ASSERT_INT_EQ(query_int(count_sql), 1);
    }
    exec_sql("DROP TABLE test_exec_once");
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
 * recorded since, and its signs of life; the next flush writes all of them
 * in order. */
static void test_postgres__failed_flush_keeps_heartbeats(void)
{
    fv_uuid w = fresh_id();
    fv_pg_store *a = quiet_store(), *b = quiet_store();
    record(a, &w, 1000);
    record(a, &w, 2000);
    /* And a sign of life (written in a transaction of its own, refused by
     * a constraint of its own). */
    fv_uuid alive = register_on(a, "alive", 1000);
    fv_deps d;
    fv_pg_store_deps(a, &d);
    fv_error te;
    FV_ASSERT_INT_EQ(fv_worker_repo_touch(d.workers, &race_tenant, &alive, FV_SIGN_POLL, 2500,
                                          FV_JSON_NONE, false, &te),
                     FV_OK);
    fv_arena ar;
    fv_arena_init(&ar, 0);
    exec_sql("ALTER TABLE worker_heartbeat ADD CONSTRAINT test_refuse CHECK (at < 'epoch') "
             "NOT VALID");
    exec_sql("ALTER TABLE worker ADD CONSTRAINT test_refuse_seen CHECK (last_seen_at < 'epoch') "
             "NOT VALID");
    fv_pg_test_log_reset();
    fv_pg_store_flush(a);
    CU_ASSERT(fv_pg_test_log_count("could not write 2 buffered heartbeats") > 0);
    CU_ASSERT(fv_pg_test_log_count("could not write the signs of life of 1 workers") > 0);
    record(a, &w, 3000);
    fv_time newest;
    FV_ASSERT_INT_EQ(history_len(a, &w, &newest), 3);
    FV_ASSERT_INT_EQ(newest, 3000);
    FV_ASSERT_INT_EQ(history_len(b, &w, NULL), 0);
    FV_ASSERT_INT_EQ(worker_on(a, &ar, &alive).last_seen_at, 2500);
    FV_ASSERT_INT_EQ(worker_on(b, &ar, &alive).last_seen_at, 1000);
    exec_sql("ALTER TABLE worker_heartbeat DROP CONSTRAINT test_refuse");
    exec_sql("ALTER TABLE worker DROP CONSTRAINT test_refuse_seen");
    fv_pg_store_flush(a);
    FV_ASSERT_INT_EQ(history_len(b, &w, &newest), 3);
    FV_ASSERT_INT_EQ(newest, 3000);
    FV_ASSERT_INT_EQ(worker_on(b, &ar, &alive).last_seen_at, 2500);
    fv_arena_release(&ar);
    fv_pg_store_free(a);
    fv_pg_store_free(b);
}

static const fv_test_case race_cases[] = {
    FV_TEST_CASE(test_postgres__concurrent_registrations_of_the_same_kinds),
    FV_TEST_CASE(test_postgres__odd_text_round_trips),
    FV_TEST_CASE(test_postgres__heartbeats_flushed_and_kept_at_shutdown),
    FV_TEST_CASE(test_postgres__flusher_writes_by_itself),
    FV_TEST_CASE(test_postgres__failed_flush_keeps_heartbeats),
    FV_TEST_CASE(test_postgres__signs_of_life_coalesced_into_one_update),
    FV_TEST_CASE(test_postgres__workers_of_other_stores),
    FV_TEST_CASE(test_postgres__exec_exhausted_only_before_the_statement),
};

/* ------------------------------------------------------------------------
 * Heartbeat micro-bench (not a test): FLOVYN_PG_HB_BENCH=<seconds> runs it
 * instead of the suites, against the cluster of FLOVYN_TEST_PG_URL_FILE
 * (scripts/pg-test-cluster.sh start DIR writes DIR/url). Heartbeats go
 * through the use case (fv_worker_heartbeat) from FLOVYN_PG_HB_THREADS
 * threads (default 8) over FLOVYN_PG_HB_WORKERS workers (default 1000).
 * Prints heartbeats per second and what they cost the database (commits,
 * worker rows updated, heartbeat rows inserted, WAL bytes, counted by the
 * server's statistics after every session ended), then the time of a page
 * of 50 workers with and without buffered touches. Asserts nothing.
 */

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static fv_pg_pool *bench_pool(int size)
{
    fv_pg_pool_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.url = db.url;
    cfg.size = size;
    fv_error e;
    fv_pg_pool *p = fv_pg_pool_new(&cfg, &e);
    if (p == NULL) {
        fprintf(stderr, "bench: pool: %s\n", e.msg);
        exit(EXIT_FAILURE);
    }
    return p;
}

typedef struct bench_stats {
    long long commits, worker_updates, heartbeat_inserts, wal_bytes;
} bench_stats;

/* The server's counters once every session of the run has ended (a
 * backend reports its statistics when it exits). */
static bench_stats bench_read_stats(void)
{
    bench_sleep_ms(1500);
    fv_pg_pool *p = bench_pool(1);
    fv_pg_conn *c;
    fv_error e;
    fv_arena a;
    fv_arena_init(&a, 0);
    PGresult *r = NULL;
    bench_stats st = {0, 0, 0, 0};
    fv_err rc = fv_pg_acquire(p, &c, &e);
    if (rc == FV_OK) {
        rc = fv_pg_exec(
            c, &a, NULL,
            "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),"
            " (SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'worker'),"
            " (SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = 'worker_heartbeat'),"
            " pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint",
            0, NULL, NULL, NULL, &r, &e);
        fv_pg_release(p, c);
    }
    if (rc != FV_OK) {
        fprintf(stderr, "bench: statistics: %s\n", e.msg);
        exit(EXIT_FAILURE);
    }
    st.commits = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    st.worker_updates = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    st.heartbeat_inserts = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
    st.wal_bytes = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
    fv_arena_release(&a);
    fv_pg_pool_free(p);
    return st;
}

typedef struct bench_thread {
    fv_deps *d;
    const fv_uuid *workers;
    size_t n_workers, first;
    double until;
    long long done;
    fv_err rc;
    char msg[FV_ERROR_MSG_MAX];
} bench_thread;

static void *bench_heartbeats(void *arg)
{
    bench_thread *t = arg;
    static const char health[] = "{\"cpu\":0.5,\"queue\":3}";
    size_t i = t->first;
    while (t->rc == FV_OK) {
        for (int k = 0; k < 64 && t->rc == FV_OK; k++) {
            fv_heartbeat_request req;
            memset(&req, 0, sizeof req);
            req.tenant_id = race_tenant;
            req.worker_id = t->workers[i];
            req.health_info = (fv_json){health, sizeof health - 1};
            fv_error e;
            fv_error_clear(&e);
            t->rc = fv_worker_heartbeat(t->d, &req, &e);
            if (t->rc != FV_OK)
                snprintf(t->msg, sizeof t->msg, "%s", e.msg);
            t->done++;
            i = (i + 1) % t->n_workers;
        }
        if (bench_now() >= t->until)
            break;
    }
    return NULL;
}

static size_t bench_env_size(const char *name, size_t dflt)
{
    const char *v = getenv(name);
    long n = v != NULL ? strtol(v, NULL, 10) : 0;
    return n > 0 ? (size_t)n : dflt;
}

/* Microseconds per page of 50 workers (no filter, then status ONLINE);
 * with `retouch`, a poll of every worker is buffered again before each
 * page (not timed). */
static void bench_lists(fv_deps *d, const char *label, const fv_uuid *retouch, size_t n_workers)
{
    fv_worker_filter f;
    memset(&f, 0, sizeof f);
    f.tenant_id = race_tenant;
    f.space.mode = FV_SPACE_ANY;
    const fv_liveness l = FV_LIVENESS_DEFAULTS;
    fv_page page = {50, 0};
    fv_time now = fv_clock_now(d->clock);
    for (int filtered = 0; filtered < 2; filtered++) {
        f.has_status = filtered != 0;
        f.status = FV_STATUS_ONLINE;
        enum { LISTS = 200 };
        fv_arena a;
        fv_arena_init(&a, 0);
        double spent = 0;
        long long total = 0;
        for (int i = 0; i < LISTS; i++) {
            fv_worker_list wl;
            fv_error e;
            for (size_t k = 0; retouch != NULL && k < n_workers; k++)
                if (fv_worker_repo_touch(d->workers, &race_tenant, &retouch[k], FV_SIGN_POLL, now,
                                         FV_JSON_NONE, false, &e) != FV_OK)
                    exit(EXIT_FAILURE);
            double t0 = bench_now();
            fv_err rc = fv_worker_repo_list(d->workers, &a, &f, page, now, &l, &wl, &e);
            spent += bench_now() - t0;
            if (rc != FV_OK) {
                fprintf(stderr, "bench: list: %s\n", e.msg);
                exit(EXIT_FAILURE);
            }
            total = wl.total;
            fv_arena_reset(&a);
        }
        double us = spent / LISTS * 1e6;
        fv_arena_release(&a);
        printf("  list 50 of %lld%s, %s: %.0f us\n", total, filtered ? " (status ONLINE)" : "",
               label, us);
    }
}

static int bench(double seconds)
{
    size_t n_workers = bench_env_size("FLOVYN_PG_HB_WORKERS", 1000);
    size_t n_threads = bench_env_size("FLOVYN_PG_HB_THREADS", 8);
    if (n_threads > 64)
        n_threads = 64;
    fv_error e;
    fv_uuid *workers = fv_calloc(n_workers, sizeof *workers);
    if (workers == NULL || empty_tables() != 0)
        return EXIT_FAILURE;
    /* Only the bench's own sessions from here on (statistics). */
    fv_pg_pool_free(pool);
    pool = NULL;

    /* Workers of one tenant, registered by a store that is then closed. */
    fv_pg_pool *p = bench_pool(2);
    fv_pg_store *s = fv_pg_store_new(p, NULL, &e);
    fv_deps d;
    memset(&d, 0, sizeof d);
    fv_pg_store_deps(s, &d);
    d.clock = fv_system_clock();
    fv_tenant tenant = {race_tenant, "bench", "Bench", 1767225600000};
    if (fv_tenant_store_create_tenant(d.tenants, &tenant, &e) != FV_OK)
        return EXIT_FAILURE;
    for (size_t i = 0; i < n_workers; i++) {
        char name[32];
        snprintf(name, sizeof name, "bench-%05zu", i);
        fv_registration reg;
        memset(&reg, 0, sizeof reg);
        reg.worker.id = fresh_id();
        reg.worker.tenant_id = race_tenant;
        reg.worker.name = name;
        reg.worker.type = FV_WORKER_TASK;
        reg.worker.status = FV_STATUS_ONLINE;
        reg.now = fv_clock_now(d.clock);
        fv_arena a;
        fv_arena_init(&a, 0);
        fv_registration_outcome out;
        if (fv_worker_repo_register(d.workers, &a, &reg, &out, &e) != FV_OK) {
            fprintf(stderr, "bench: register: %s\n", e.msg);
            return EXIT_FAILURE;
        }
        workers[i] = out.worker_id;
        fv_arena_release(&a);
    }
    fv_pg_store_free(s);
    fv_pg_pool_free(p);
    bench_stats before = bench_read_stats();

    /* The heartbeats. */
    p = bench_pool((int)n_threads + 2);
    s = fv_pg_store_new(p, NULL, &e);
    fv_pg_store_deps(s, &d);
    bench_thread th[64];
    pthread_t tid[64];
    double t0 = bench_now();
    for (size_t i = 0; i < n_threads; i++) {
        th[i] = (bench_thread){&d,           workers, n_workers, i * n_workers / n_threads,
                               t0 + seconds, 0,       FV_OK,     ""};
        if (pthread_create(&tid[i], NULL, bench_heartbeats, &th[i]) != 0)
            return EXIT_FAILURE;
    }
    long long done = 0;
    for (size_t i = 0; i < n_threads; i++) {
        pthread_join(tid[i], NULL);
        done += th[i].done;
        if (th[i].rc != FV_OK) {
            fprintf(stderr, "bench: heartbeat: %s: %s\n", fv_err_name(th[i].rc), th[i].msg);
            return EXIT_FAILURE;
        }
    }
    double elapsed = bench_now() - t0;
    double f0 = bench_now();
    fv_pg_store_free(s);
    double final_flush = bench_now() - f0;
    fv_pg_pool_free(p);
    bench_stats after = bench_read_stats();

    printf("heartbeats: %zu threads, %zu workers, %.1f s\n", n_threads, n_workers, elapsed);
    printf("  %lld heartbeats, %.0f per second, %.1f us each per thread\n", done, done / elapsed,
           elapsed * 1e6 * (double)n_threads / (double)done);
    printf("  final flush at free: %.1f ms\n", final_flush * 1e3);
    long long commits = after.commits - before.commits;
    long long upd = after.worker_updates - before.worker_updates;
    long long ins = after.heartbeat_inserts - before.heartbeat_inserts;
    long long wal = after.wal_bytes - before.wal_bytes;
    printf("  commits %lld (%.4f per heartbeat), worker rows updated %lld (%.4f per heartbeat)\n",
           commits, (double)commits / (double)done, upd, (double)upd / (double)done);
    printf("  heartbeat rows inserted %lld, WAL %.1f MB (%.0f bytes per heartbeat)\n", ins,
           (double)wal / 1e6, (double)wal / (double)done);

    /* Pages of workers, with nothing buffered, then with a touch of every
     * worker buffered before each page (a store whose flusher waits an
     * hour). */
    p = bench_pool(2);
    fv_pg_store_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.heartbeat_flush_ms = 3600 * 1000;
    s = fv_pg_store_new(p, &cfg, &e);
    fv_pg_store_deps(s, &d);
    bench_lists(&d, "nothing buffered", NULL, 0);
    bench_lists(&d, "every worker's touch buffered", workers, n_workers);
    fv_pg_store_free(s);
    fv_pg_pool_free(p);
    fv_free(workers);
    return EXIT_SUCCESS;
}

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
    cfg.log = fv_pg_test_log;
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
    const char *bench_seconds = getenv("FLOVYN_PG_HB_BENCH");
    if (bench_seconds != NULL) {
        failed = bench(strtod(bench_seconds, NULL)) == EXIT_SUCCESS ? 0 : 1;
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
