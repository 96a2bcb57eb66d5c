/*
 * Micro-benchmark of the core on the in-memory adapters: heartbeats per
 * second, registrations of a worker with 20 capabilities per second, pages
 * of 50 out of 10,000 workers per second, and task cycles (submit, claim,
 * complete) per second through the task repository port. Prints figures;
 * asserts nothing about them.
 *
 *   build/bench_core [seconds-per-figure]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapters/crypto/crypto.h"
#include "adapters/memory/mem_store.h"
#include "core/util/alloc.h"
#include "core/deps.h"
#include "core/queries/worker_queries.h"
#include "core/task.h"
#include "core/usecases/worker_usecases.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, fv_err rc, const fv_error *err)
{
    fprintf(stderr, "bench: %s: %s: %s\n", what, fv_err_name(rc), fv_error_message(err, rc));
    exit(1);
}

typedef struct bench_env {
    fv_mem_store *store;
    fv_deps deps;
    fv_uuid tenant;
} bench_env;

static void env_open(bench_env *e)
{
    e->store = fv_mem_store_new(NULL);
    if (e->store == NULL)
        die("store", FV_E_EXHAUSTED, NULL);
    e->deps = (fv_deps){
        .workers = fv_mem_worker_repo(e->store),
        .workflow_defs = fv_mem_definition_repo(e->store, FV_DEF_WORKFLOW),
        .task_defs = fv_mem_definition_repo(e->store, FV_DEF_TASK),
        .heartbeats = fv_mem_heartbeat_store(e->store),
        .tenants = fv_mem_tenant_store(e->store),
        .clock = fv_system_clock(),
        .ids = fv_system_ids(),
        .hasher = fv_nettle_hasher(),
        .liveness = FV_LIVENESS_DEFAULTS,
    };
    fv_error err;
    fv_err rc = fv_deps_validate(&e->deps, &err);
    if (rc != FV_OK)
        die("deps", rc, &err);
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_tenant t;
    if ((rc = fv_tenant_create(&e->deps, &a, "bench", "Bench", &t, &err)) != FV_OK)
        die("tenant", rc, &err);
    e->tenant = t.id;
    fv_arena_release(&a);
}

static void env_close(bench_env *e)
{
    fv_mem_store_free(e->store);
}

/* A worker with n_tasks task kinds and n_workflows workflow kinds. */
typedef struct worker_spec {
    fv_capability caps[64];
    char kinds[64][32];
    char pid[24];
    fv_register_request req;
} worker_spec;

static void spec_init(worker_spec *s, const fv_uuid *tenant, const char *name, long pid,
                      size_t n_workflows, size_t n_tasks)
{
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < n_workflows + n_tasks; i++) {
        bool wf = i < n_workflows;
        snprintf(s->kinds[i], sizeof s->kinds[i], "%s-kind-%zu", wf ? "wf" : "task", i);
        s->caps[i] = (fv_capability){.kind = s->kinds[i],
                                     .name = s->kinds[i],
                                     .cancellable = true,
                                     .version = wf ? "1.0.0" : NULL,
                                     .content_hash = wf ? "abc" : NULL};
    }
    snprintf(s->pid, sizeof s->pid, "%ld", pid);
    s->req = (fv_register_request){
        .tenant_id = *tenant,
        .worker_name = name,
        .worker_version = "1.0.0",
        .worker_type = "UNIFIED",
        .host_name = "bench-host",
        .process_id = s->pid,
        .workflows = s->caps,
        .n_workflows = n_workflows,
        .tasks = s->caps + n_workflows,
        .n_tasks = n_tasks,
    };
}

static fv_uuid register_one(bench_env *e, fv_arena *a, worker_spec *s)
{
    fv_register_result r;
    fv_error err;
    fv_err rc = fv_worker_register(&e->deps, a, &s->req, &r, &err);
    if (rc != FV_OK)
        die("register", rc, &err);
    return r.worker_id;
}

static void figure(const char *what, double ops, double wall, double cpu)
{
    printf("%-52s %12.0f /s   (%.0f ops in %.2f s wall, %.2f s cpu, %.2f us/op)\n", what,
           ops / wall, ops, wall, cpu, wall * 1e6 / ops);
}

typedef struct hb_thread {
    bench_env *env;
    const fv_uuid *ids;
    size_t n_ids;
    double seconds;
    long ops;
} hb_thread;

static void *heartbeat_loop(void *arg)
{
    hb_thread *t = arg;
    fv_heartbeat_request req = {.tenant_id = t->env->tenant};
    double end = now_s() + t->seconds;
    long ops = 0;
    fv_error err;
    while (now_s() < end) {
        for (int k = 0; k < 1000; k++) {
            req.worker_id = t->ids[(size_t)ops % t->n_ids];
            fv_err rc = fv_worker_heartbeat(&t->env->deps, &req, &err);
            if (rc != FV_OK)
                die("heartbeat", rc, &err);
            ops++;
        }
    }
    t->ops = ops;
    return NULL;
}

static void bench_heartbeats(double seconds, int threads)
{
    bench_env e;
    env_open(&e);
    fv_arena a;
    fv_arena_init(&a, 0);
    enum { N = 1000 };
    static fv_uuid ids[N];
    worker_spec *s = fv_malloc(sizeof *s);
    if (s == NULL)
        die("spec", FV_E_EXHAUSTED, NULL);
    for (size_t i = 0; i < N; i++) {
        spec_init(s, &e.tenant, "hb-worker", (long)i, 0, 2);
        ids[i] = register_one(&e, &a, s);
        fv_arena_reset(&a);
    }
    fv_free(s);
    hb_thread t[8];
    pthread_t th[8];
    double w0 = now_s(), c0 = cpu_s();
    for (int i = 0; i < threads; i++) {
        t[i] = (hb_thread){.env = &e, .ids = ids, .n_ids = N, .seconds = seconds};
        pthread_create(&th[i], NULL, heartbeat_loop, &t[i]);
    }
    long total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += t[i].ops;
    }
    char what[80];
    snprintf(what, sizeof what, "heartbeats (1,000 workers, %d thread%s)", threads,
             threads > 1 ? "s" : "");
    figure(what, (double)total, now_s() - w0, cpu_s() - c0);
    fv_arena_release(&a);
    env_close(&e);
}

static void bench_registrations(double seconds, bool same_process)
{
    bench_env e;
    env_open(&e);
    fv_arena a;
    fv_arena_init(&a, 0);
    worker_spec *s = fv_malloc(sizeof *s);
    if (s == NULL)
        die("spec", FV_E_EXHAUSTED, NULL);
    double w0 = now_s(), c0 = cpu_s(), end = w0 + seconds;
    long ops = 0;
    while (now_s() < end) {
        for (int k = 0; k < 100; k++) {
            spec_init(s, &e.tenant, "reg-worker", same_process ? 1 : ops, 10, 10);
            register_one(&e, &a, s);
            fv_arena_reset(&a);
            ops++;
        }
    }
    figure(same_process ? "registrations, 20 capabilities, same process again"
                        : "registrations, 20 capabilities, a new worker each",
           (double)ops, now_s() - w0, cpu_s() - c0);
    fv_free(s);
    fv_arena_release(&a);
    env_close(&e);
}

/* ---- Task cycles through the port ---------------------------------------
 * Each thread submits a task to one shared queue, claims the oldest task of
 * that queue (its own or another thread's) and completes it: three atomic
 * units of the repository per cycle, with the event data the core builds.
 * The figure counts completed tasks.
 * Tasks are never deleted (no retention yet), so a run stops at
 * TASK_CYCLES_MAX cycles to bound memory. */

#define TASK_CYCLES_MAX 1000000

typedef struct task_thread {
    fv_task_repo repo;
    fv_uuid tenant;
    int index;
    double end;
    long max;
    long ops;
} task_thread;

static void *task_loop(void *arg)
{
    task_thread *t = arg;
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_error err;
    char worker[32];
    snprintf(worker, sizeof worker, "bench-worker-%d", t->index);
    long ops = 0, seq = 0;
    fv_time now = 1767225600000;
    while (seq < t->max && now_s() < t->end) {
        for (int k = 0; k < 100 && seq < t->max; k++, seq++, now++) {
            fv_arena_reset(&a);
            fv_task_new n;
            memset(&n, 0, sizeof n);
            fv_task *task = &n.task;
            task->id.b[0] = (unsigned char)t->index;
            memcpy(task->id.b + 8, &seq, sizeof seq);
            task->tenant_id = t->tenant;
            task->kind = "bench-task";
            task->queue = "bench";
            task->status = FV_TASK_PENDING;
            task->input = (fv_json){"{\"n\":1}", 7};
            task->max_retries = 3;
            task->timeout_ms = 60000;
            task->scheduled_at = task->created_at = now;
            task->started_at = task->completed_at = task->last_heartbeat_at = FV_TIME_NONE;
            n.created_event_data = fv_task_event_data_created(&a, task);
            fv_task out;
            bool created, found;
            fv_err rc = fv_task_repo_submit(t->repo, &a, &n, &out, &created, &err);
            if (rc != FV_OK)
                die("task submit", rc, &err);
            fv_claim_request c = {t->tenant, "bench", worker, {false, {{0}}}, now};
            fv_time next;
            rc = fv_task_repo_claim(t->repo, &a, &c, &out, &found, &next, &err);
            if (rc != FV_OK)
                die("task claim", rc, &err);
            if (!found)
                continue; /* another thread took it (and this one's task): no cycle */
            fv_attempt_outcome o = {
                FV_ATTEMPT_COMPLETED, out.execution_count, {"true", 4}, NULL, now};
            rc = fv_task_repo_end_attempt(t->repo, &a, &t->tenant, &out.id, &o, &out, NULL, &err);
            if (rc != FV_OK)
                die("task complete", rc, &err);
            ops++;
        }
    }
    t->ops = ops;
    fv_arena_release(&a);
    return NULL;
}

static void bench_task_cycles(double seconds, int threads)
{
    fv_mem_store *store = fv_mem_store_new(NULL);
    if (store == NULL)
        die("store", FV_E_EXHAUSTED, NULL);
    task_thread t[8];
    pthread_t th[8];
    double w0 = now_s(), c0 = cpu_s();
    for (int i = 0; i < threads; i++) {
        t[i] = (task_thread){.repo = fv_mem_task_repo(store),
                             .index = i + 1,
                             .end = w0 + seconds,
                             .max = TASK_CYCLES_MAX / threads};
        t[i].tenant.b[0] = 0x42;
        pthread_create(&th[i], NULL, task_loop, &t[i]);
    }
    long total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += t[i].ops;
    }
    char what[80];
    snprintf(what, sizeof what, "task cycles submit+claim+complete (%d thread%s)", threads,
             threads > 1 ? "s" : "");
    figure(what, (double)total, now_s() - w0, cpu_s() - c0);
    fv_mem_store_free(store);
}

static void bench_list(double seconds)
{
    bench_env e;
    env_open(&e);
    fv_arena a;
    fv_arena_init(&a, 0);
    worker_spec *s = fv_malloc(sizeof *s);
    if (s == NULL)
        die("spec", FV_E_EXHAUSTED, NULL);
    char name[32];
    for (long i = 0; i < 10000; i++) {
        snprintf(name, sizeof name, "worker-%05ld", i % 5000);
        spec_init(s, &e.tenant, name, i, 1, 2);
        register_one(&e, &a, s);
        fv_arena_reset(&a);
    }
    fv_free(s);
    fv_worker_filter f = {.tenant_id = e.tenant, .space = {.mode = FV_SPACE_ANY}};
    double w0 = now_s(), c0 = cpu_s(), end = w0 + seconds;
    long ops = 0;
    fv_error err;
    while (now_s() < end) {
        for (int k = 0; k < 10; k++) {
            fv_worker_list out;
            fv_page page = {.limit = 50, .offset = (ops * 50) % 10000};
            fv_err rc = fv_query_workers(&e.deps, &a, &f, page, &out, &err);
            if (rc != FV_OK || out.n != 50 || out.total != 10000)
                die("list", rc != FV_OK ? rc : FV_E_INTERNAL, &err);
            fv_arena_reset(&a);
            ops++;
        }
    }
    figure("list 50 of 10,000 workers", (double)ops, now_s() - w0, cpu_s() - c0);
    f.has_status = true;
    f.status = FV_STATUS_ONLINE;
    w0 = now_s(), c0 = cpu_s(), end = w0 + seconds;
    ops = 0;
    while (now_s() < end) {
        for (int k = 0; k < 10; k++) {
            fv_worker_list out;
            fv_page page = {.limit = 50, .offset = 0};
            fv_err rc = fv_query_workers(&e.deps, &a, &f, page, &out, &err);
            if (rc != FV_OK || out.n != 50)
                die("list status", rc != FV_OK ? rc : FV_E_INTERNAL, &err);
            fv_arena_reset(&a);
            ops++;
        }
    }
    figure("list 50 of 10,000 workers filtered by status", (double)ops, now_s() - w0, cpu_s() - c0);
    fv_arena_release(&a);
    env_close(&e);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? strtod(argv[1], NULL) : 2.0;
    if (!(seconds > 0 && seconds < 3600)) {
        fprintf(stderr, "usage: %s [seconds-per-figure]\n", argv[0]);
        return 2;
    }
    printf("core on the in-memory adapters, %.1f s per figure\n", seconds);
    bench_heartbeats(seconds, 1);
    bench_heartbeats(seconds, 2);
    bench_registrations(seconds, true);
    bench_registrations(seconds, false);
    bench_list(seconds);
    bench_task_cycles(seconds, 1);
    bench_task_cycles(seconds, 8);
    return 0;
}
