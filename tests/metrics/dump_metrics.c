/*
 * Prints the exposition of a populated fv_metrics on stdout, for
 * check_promtool.sh to feed to `promtool check metrics`: every family with
 * samples (HTTP routes with several statuses, unmatched requests, gRPC
 * calls with several codes and an unknown method, scheduler runs, workers in
 * every status and definitions in every availability through the in-memory
 * bundle of the test fixture) and label values that need escaping.
 */
#include <stdio.h>
#include <stdlib.h>

#include "adapters/metrics/metrics.h"
#include "tests/support/fixture.h"

#define SEC ((int64_t)1000)

static int fail(const char *what, const fv_error *err)
{
    fprintf(stderr, "dump_metrics: %s: %s\n", what, err != NULL ? err->msg : "");
    return 1;
}

/* Workers "c" (OFFLINE), "a" (DEGRADED) and "b" (ONLINE); definitions in
 * each availability. */
static int populate_store(fv_fixture *fx)
{
    fv_fixture_req c = fv_fixture_request(fx, "c", 1, 0);
    c.workflows[0].kind = "only-c";
    if (fv_fixture_register(fx, &c, NULL) != FV_OK)
        return -1;
    fv_fixture_advance(fx, 20 * SEC);
    fv_fixture_req a = fv_fixture_request(fx, "a", 1, 1);
    if (fv_fixture_register(fx, &a, NULL) != FV_OK)
        return -1;
    fv_fixture_advance(fx, 50 * SEC);
    fv_fixture_req b = fv_fixture_request(fx, "b", 0, 1);
    return fv_fixture_register(fx, &b, NULL) == FV_OK ? 0 : -1;
}

int main(void)
{
    static const char *const grpc_paths[] = {
        "/flovyn.v1.WorkerLifecycle/RegisterWorker",
        "/flovyn.v1.WorkerLifecycle/SendHeartbeat",
    };
    fv_fixture fx;
    fv_metrics_config cfg = {"0.1.0-test", 1767225600.5, NULL};
    fv_metrics *m;
    fv_arena a;
    fv_error err;
    const char *text;
    size_t n;
    int list, one, odd, job, status = 1;

    if (fv_fixture_init(&fx) != 0)
        return fail("fixture", NULL);
    if (populate_store(&fx) != 0) {
        fv_fixture_release(&fx);
        return fail("registering workers", NULL);
    }
    cfg.deps = &fx.deps;
    m = fv_metrics_new(&cfg, &err);
    if (m == NULL) {
        fv_fixture_release(&fx);
        return fail("fv_metrics_new", &err);
    }
    fv_arena_init(&a, 0);
    if (fv_metrics_http_route(m, "GET", "/api/tenants/{tenant_slug}/workers", &list, &err) !=
            FV_OK ||
        fv_metrics_http_route(m, "GET", "/api/tenants/{tenant_slug}/workers/{worker_id}", &one,
                              &err) != FV_OK ||
        fv_metrics_http_route(m, "PATCH", "/odd/\"quoted\"/back\\slash/new\nline", &odd, &err) !=
            FV_OK ||
        fv_metrics_grpc_methods(m, grpc_paths, 2, &err) != FV_OK ||
        fv_metrics_job(m, "stale", &job, &err) != FV_OK) {
        fail("registering", &err);
        goto out;
    }
    for (int i = 0; i < 10; i++)
        fv_metrics_http_observe(m, list, 200, 0.002 * i);
    fv_metrics_http_observe(m, list, 401, 0.0001);
    fv_metrics_http_observe(m, one, 404, 0.0003);
    fv_metrics_http_observe(m, one, 418, 0.0003);
    fv_metrics_http_observe(m, odd, 200, 12.5);
    fv_metrics_http_observe_unmatched(m, "GET", 404, 0.00005);
    fv_metrics_http_observe_unmatched(m, "BREW", 405, 0.00005);
    fv_metrics_grpc_observe(m, 0, 0, 0.004);
    fv_metrics_grpc_observe(m, 1, 0, 0.00002);
    fv_metrics_grpc_observe(m, 1, 5, 0.00003);
    fv_metrics_grpc_observe(m, 1, 16, 0.00001);
    fv_metrics_grpc_observe(m, FV_METRICS_GRPC_UNKNOWN, 12, 0.00001);
    fv_metrics_job_observe(m, job, true, 3, 0.0015);
    fv_metrics_job_observe(m, job, false, 0, 0.2);
    if (fv_metrics_render(m, &a, &text, &n, &err) != FV_OK) {
        fail("fv_metrics_render", &err);
        goto out;
    }
    if (fwrite(text, 1, n, stdout) != n || fflush(stdout) != 0) {
        fail("writing stdout", NULL);
        goto out;
    }
    status = 0;
out:
    fv_arena_release(&a);
    fv_metrics_free(m);
    fv_fixture_release(&fx);
    return status;
}
