/* The server process: startup, the signal wait and the shutdown (serve.h). */
#include "app/serve.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <jansson.h>

#include "adapters/grpc/flovyn_services.h"
#include "adapters/grpc/grpc_server.h"
#include "adapters/grpc/task_poll.h"
#include "adapters/http/http_api.h"
#include "adapters/metrics/metrics.h"
#include "app/bundle.h"
#include "app/dev.h"
#include "app/log.h"
#include "app/scheduler.h"
#include "core/util/arena.h"

/* Watches for a second signal while the server shuts down. */
typedef struct force_exit {
    sigset_t sigs;
    atomic_bool done;
    pthread_t thread;
    bool started;
} force_exit;

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGINT:
        return "SIGINT";
    case SIGTERM:
        return "SIGTERM";
    default:
        return "signal";
    }
}

static void *force_exit_main(void *arg)
{
    force_exit *f = arg;
    const struct timespec tick = {0, 100 * 1000000L};

    while (!atomic_load(&f->done)) {
        int sig = sigtimedwait(&f->sigs, NULL, &tick);
        if (sig > 0) {
            fv_app_log(FV_APP_LOG_ERROR, "server second %s during shutdown: exiting now",
                       signal_name(sig));
            _exit(1);
        }
    }
    return NULL;
}

static void force_exit_start(force_exit *f, const sigset_t *sigs)
{
    f->sigs = *sigs;
    atomic_store(&f->done, false);
    f->started = pthread_create(&f->thread, NULL, force_exit_main, f) == 0;
    if (!f->started)
        fv_app_log(FV_APP_LOG_WARN, "server could not watch for a second signal; shutting down "
                                    "anyway");
}

static void force_exit_stop(force_exit *f)
{
    if (!f->started)
        return;
    atomic_store(&f->done, true);
    pthread_join(f->thread, NULL);
    f->started = false;
}

/* The address a client on this machine dials: a wildcard host becomes
 * loopback. */
static void connect_addr(const char *host, int port, char *out, size_t cap)
{
    if (strcmp(host, "0.0.0.0") == 0 || host[0] == '\0')
        host = "127.0.0.1";
    else if (strcmp(host, "[::]") == 0)
        host = "[::1]";
    snprintf(out, cap, "%s:%d", host, port);
}

/* The gRPC machinery's observer: every completed call into the metrics
 * (the method index is the row of the method table given to both). */
static void grpc_observe(void *user, size_t method, const char *path, grpc_status_code code,
                         double seconds)
{
    (void)path;
    fv_metrics_grpc_observe(user, method, (int)code, seconds);
}

static void remove_stale_credentials(const char *path)
{
    if (unlink(path) == 0)
        fv_app_log(FV_APP_LOG_INFO, "dev removed the credentials file of an earlier run path=%s",
                   path);
    else if (errno != ENOENT)
        fv_app_log(FV_APP_LOG_WARN, "dev could not remove stale credentials path=%s error=\"%s\"",
                   path, strerror(errno));
}

int fv_app_serve(const fv_app_config *cfg)
{
    sigset_t sigs;
    fv_app_bundle bundle;
    fv_arena dev_arena;
    fv_app_dev_credentials creds;
    fv_grpc_services services;
    fv_task_poll_config pcfg;
    fv_task_poll_hub *hub = NULL;
    fv_grpc_method methods[FV_GRPC_FLOVYN_METHODS_MAX];
    const char *method_paths[FV_GRPC_FLOVYN_METHODS_MAX];
    fv_metrics *metrics = NULL;
    fv_metrics_config mcfg;
    fv_grpc_server_config gcfg;
    fv_grpc_server *server = NULL;
    fv_http_config hcfg;
    fv_http_api *http = NULL;
    fv_app_scheduler *scheduler = NULL;
    fv_app_schedule schedule;
    force_exit fx = {0};
    char host[FV_APP_LISTEN_MAX + 1], bound[FV_APP_LISTEN_MAX + 16];
    char dial[FV_APP_LISTEN_MAX + 16];
    fv_error err;
    int port = 0, sig = 0, status = 1;
    const bool postgres = cfg->storage == FV_APP_STORAGE_POSTGRES;
    fv_err rc;

    /* 1. Signals, before any thread exists (gRPC's included). */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0) {
        fv_app_log(FV_APP_LOG_ERROR, "server could not block SIGINT/SIGTERM");
        return 1;
    }
    /* A reader of stdout or stderr that goes away must not kill the server
     * (gRPC's own sockets never raise SIGPIPE). */
    {
        struct sigaction ign;
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        sigemptyset(&ign.sa_mask);
        sigaction(SIGPIPE, &ign, NULL);
    }
    fv_app_log_set_level(cfg->log_level);
    fv_app_log(FV_APP_LOG_INFO,
               "server starting version=%s storage=%s pid=%ld grpc-threads=%d log-level=%s",
               fv_app_version(), postgres ? "postgres" : "memory", (long)getpid(),
               cfg->grpc_threads, fv_app_log_level_name(cfg->log_level));

    /* 2. Library global init, once, before any thread (STYLE rule 24). */
    json_object_seed(0);
    grpc_init();

    fv_arena_init(&dev_arena, 0);
    memset(&creds, 0, sizeof creds);
    if (postgres) {
        fv_pg_migrate_report mig;
        rc = fv_app_bundle_open_postgres(cfg, &bundle, &mig, &err);
        if (rc != FV_OK) {
            fv_app_log(FV_APP_LOG_ERROR, "server could not open the database code=%s error=\"%s\"",
                       fv_err_name(rc), fv_error_message(&err, rc));
            goto out_grpc;
        }
        fv_app_log(FV_APP_LOG_INFO,
                   "db ready pool=%d schema-version=%" PRId64 " migrations-applied=%zu%s",
                   cfg->db_pool_size, mig.to_version, mig.applied,
                   cfg->migrate ? "" : " (--no-migrate: checked only)");
    } else {
        rc = fv_app_bundle_open_memory(cfg, &bundle, &err);
        if (rc != FV_OK) {
            fv_app_log(FV_APP_LOG_ERROR,
                       "server could not build the in-memory bundle code=%s "
                       "error=\"%s\"",
                       fv_err_name(rc), fv_error_message(&err, rc));
            goto out_grpc;
        }
    }

    /* Metrics, shared by the servers and the scheduler; freed after they
     * stopped. */
    memset(&mcfg, 0, sizeof mcfg);
    mcfg.version = fv_app_version();
    mcfg.deps = &bundle.deps;
    metrics = fv_metrics_new(&mcfg, &err);
    if (metrics == NULL) {
        fv_app_log(FV_APP_LOG_ERROR, "server could not create the metrics code=%s error=\"%s\"",
                   fv_err_name(err.code), fv_error_message(&err, err.code));
        goto out_bundle;
    }

    /* 3. Development tenant and keys (before serving, so that they exist as
     * soon as a worker can connect). */
    if (cfg->dev) {
        if (cfg->credentials_file != NULL)
            remove_stale_credentials(cfg->credentials_file);
        rc = fv_app_dev_bootstrap(&bundle.deps, &dev_arena, &creds, &err);
        if (rc != FV_OK) {
            fv_app_log(FV_APP_LOG_ERROR,
                       "dev could not create the tenant and keys code=%s "
                       "error=\"%s\"",
                       fv_err_name(rc), fv_error_message(&err, rc));
            goto out_bundle;
        }
        creds.stored = postgres;
        fv_app_log(FV_APP_LOG_INFO,
                   "dev %s tenant=%s id=%s with a worker, an operator and an "
                   "admin key",
                   creds.reused ? "reused" : "created", creds.tenant_slug, creds.tenant_id);
    } else if (!postgres) {
        fv_app_log(FV_APP_LOG_WARN,
                   "auth no API key exists: every call will be refused as UNAUTHENTICATED; "
                   "start with --dev to create tenant \"default\" and keys (keys made with "
                   "flovyn-server key create live in a database: use --database-url)");
    }

    /* 4. gRPC, with the long-poll hub of PollTask before it (parked polls
     * live there; it is freed after the server stopped). */
    memset(&pcfg, 0, sizeof pcfg);
    pcfg.deps = &bundle.deps;
    pcfg.max_wait_ms = cfg->poll_timeout_max_s * 1000;
    pcfg.log = fv_app_log_grpc;
    hub = fv_task_poll_hub_new(&pcfg, &err);
    if (hub == NULL) {
        fv_app_log(FV_APP_LOG_ERROR, "grpc could not start the poll hub code=%s error=\"%s\"",
                   fv_err_name(err.code), fv_error_message(&err, err.code));
        goto out_bundle;
    }
    memset(&services, 0, sizeof services);
    services.deps = &bundle.deps;
    services.poll_hub = hub;
    services.log = fv_app_log_grpc;
    memset(&gcfg, 0, sizeof gcfg);
    gcfg.listen = cfg->grpc_listen;
    gcfg.cq_threads = cfg->grpc_threads;
    gcfg.shutdown_grace_ms = (int)cfg->shutdown_grace_ms;
    gcfg.methods = methods;
    gcfg.n_methods = fv_grpc_flovyn_methods(&services, methods, FV_GRPC_FLOVYN_METHODS_MAX);
    gcfg.log = fv_app_log_grpc;
    gcfg.observe = grpc_observe;
    gcfg.observe_user = metrics;
    for (size_t i = 0; i < gcfg.n_methods; i++)
        method_paths[i] = methods[i].path;
    rc = fv_metrics_grpc_methods(metrics, method_paths, gcfg.n_methods, &err);
    if (rc != FV_OK) {
        fv_app_log(FV_APP_LOG_ERROR,
                   "server could not set up the gRPC metrics code=%s error=\"%s\"", fv_err_name(rc),
                   fv_error_message(&err, rc));
        goto out_server;
    }
    if (cfg->shutdown_grace_ms == 0)
        gcfg.shutdown_grace_ms = 1; /* 0 would mean the default of the machinery */
    server = fv_grpc_server_new(&gcfg, &err);
    if (server == NULL) {
        if (err.code == FV_E_UNAVAILABLE)
            fv_app_log(FV_APP_LOG_ERROR, "grpc %s: the address is in use or not available here",
                       fv_error_message(&err, err.code));
        else
            fv_app_log(FV_APP_LOG_ERROR, "grpc could not start code=%s error=\"%s\"",
                       fv_err_name(err.code), fv_error_message(&err, err.code));
        goto out_server;
    }
    port = fv_grpc_server_port(server);
    if (!fv_app_listen_parse(cfg->grpc_listen, host, sizeof host, NULL))
        snprintf(host, sizeof host, "?");
    snprintf(bound, sizeof bound, "%s:%d", host, port);
    connect_addr(host, port, dial, sizeof dial);
    fv_app_log(FV_APP_LOG_INFO,
               "grpc listening addr=%s methods=%zu threads=%d poll-timeout-max=%" PRId64 "s", bound,
               gcfg.n_methods, cfg->grpc_threads, cfg->poll_timeout_max_s);

    /* 4b. REST. */
    memset(&hcfg, 0, sizeof hcfg);
    hcfg.listen = cfg->http_listen;
    hcfg.version = fv_app_version();
    hcfg.shutdown_grace_ms = gcfg.shutdown_grace_ms;
    hcfg.log = fv_app_log_http;
    hcfg.metrics = metrics;
    http = fv_http_api_new(&bundle.deps, &hcfg, &err);
    if (http == NULL) {
        if (err.code == FV_E_UNAVAILABLE)
            fv_app_log(FV_APP_LOG_ERROR, "http %s: the address is in use or not available here",
                       fv_error_message(&err, err.code));
        else
            fv_app_log(FV_APP_LOG_ERROR, "http could not start code=%s error=\"%s\"",
                       fv_err_name(err.code), fv_error_message(&err, err.code));
        goto out_server;
    }
    if (!fv_app_listen_parse(cfg->http_listen, host, sizeof host, NULL))
        snprintf(host, sizeof host, "?");
    fv_app_log(FV_APP_LOG_INFO, "http listening addr=%s:%d", host, fv_http_api_port(http));

    /* 5. Scheduler. */
    schedule.activate_ms = cfg->activate_interval_ms;
    schedule.stale_ms = cfg->stale_interval_ms;
    schedule.availability_ms = cfg->availability_interval_ms;
    schedule.retention_ms = cfg->retention_interval_ms;
    schedule.metrics = metrics;
    scheduler = fv_app_scheduler_start(&bundle.deps, &schedule, &err);
    if (scheduler == NULL) {
        fv_app_log(FV_APP_LOG_ERROR, "scheduler could not start: %s",
                   fv_error_message(&err, err.code));
        goto out_http;
    }
    {
        char a[FV_APP_DURATION_STR_MAX], b[FV_APP_DURATION_STR_MAX];
        char c[FV_APP_DURATION_STR_MAX], d[FV_APP_DURATION_STR_MAX];
        char e[FV_APP_DURATION_STR_MAX], f[FV_APP_DURATION_STR_MAX];
        char g[FV_APP_DURATION_STR_MAX];
        fv_app_log(FV_APP_LOG_INFO,
                   "scheduler started activate=%s stale=%s availability=%s retention=%s "
                   "degraded-after=%s offline-after=%s retention-after=%s",
                   fv_app_duration_format(schedule.activate_ms, a),
                   fv_app_duration_format(schedule.stale_ms, b),
                   fv_app_duration_format(schedule.availability_ms, c),
                   fv_app_duration_format(schedule.retention_ms, d),
                   fv_app_duration_format(cfg->liveness.degraded_after_ms, e),
                   fv_app_duration_format(cfg->liveness.offline_after_ms, f),
                   cfg->liveness.retention_ms == 0
                       ? "never"
                       : fv_app_duration_format(cfg->liveness.retention_ms, g));
    }

    /* 6. Now that the server listens: tell the developer, then the file
     * whose appearance means "ready". */
    if (cfg->dev) {
        fv_app_dev_print(stdout, &creds, dial, cfg->credentials_file);
        if (cfg->credentials_file != NULL) {
            rc = fv_app_dev_write_credentials(cfg->credentials_file, &creds, &err);
            if (rc != FV_OK) {
                fv_app_log(FV_APP_LOG_ERROR, "dev %s", fv_error_message(&err, rc));
                goto out_running;
            }
            fv_app_log(FV_APP_LOG_INFO, "dev credentials written path=%s mode=0600",
                       cfg->credentials_file);
        }
    }
    fv_app_log(FV_APP_LOG_INFO, "server ready (SIGINT or SIGTERM to stop)");

    /* 7. Wait. */
    for (;;) {
        int e = sigwait(&sigs, &sig);
        if (e == 0)
            break;
        if (e != EINTR) {
            fv_app_log(FV_APP_LOG_ERROR, "server sigwait failed (error %d); stopping", e);
            break;
        }
    }
    {
        char gr[FV_APP_DURATION_STR_MAX];
        fv_app_log(FV_APP_LOG_INFO, "server %s received: shutting down grace=%s", signal_name(sig),
                   fv_app_duration_format(cfg->shutdown_grace_ms, gr));
    }
    force_exit_start(&fx, &sigs);
    status = 0;

    /* 8. Reverse order. */
out_running:
    fv_http_api_stop(http);
    fv_app_log(FV_APP_LOG_INFO, "http stopped");
    fv_grpc_server_stop(server);
    fv_app_log(FV_APP_LOG_INFO, "grpc stopped");
    fv_app_scheduler_stop(scheduler);
    fv_app_log(FV_APP_LOG_INFO, "scheduler stopped");
out_http:
    fv_http_api_free(http);
out_server:
    fv_grpc_server_free(server);
    /* After the server stopped: every parked poll has been answered. */
    fv_task_poll_hub_free(hub);
out_bundle:
    fv_metrics_free(metrics);
    fv_app_bundle_close(&bundle);
out_grpc:
    fv_arena_release(&dev_arena);
    /* grpc_shutdown_blocking, deprecated in favour of grpc_shutdown, is the
     * only call that waits for gRPC's internal threads (executor, event
     * engine pool): after a loaded run grpc_shutdown may hand the clean-up to
     * another thread, and the process would exit with those threads alive
     * (valgrind: their TLS "possibly lost"). Everything of ours is destroyed
     * by now, so nothing can keep it waiting. */
    grpc_shutdown_blocking();
    force_exit_stop(&fx);
    if (status == 0)
        fv_app_log(FV_APP_LOG_INFO, "server stopped");
    return status;
}
