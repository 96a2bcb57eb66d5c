/* The development bootstrap (dev.h). */
#include "app/dev.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/queries/tenant_queries.h"
#include "core/tenant.h"
#include "core/usecases/auth_usecases.h"
#include "core/usecases/worker_usecases.h"

/* Longest path accepted for the credentials file (and its temporary). */
#define PATH_CAP 4096

fv_err fv_app_dev_bootstrap(const fv_deps *d, fv_arena *a, fv_app_dev_credentials *out,
                            fv_error *err)
{
    fv_tenant tenant;
    fv_issued_key wk, ok, ak;
    fv_err rc;

    memset(out, 0, sizeof *out);
    rc = fv_tenant_create(d, a, FV_APP_DEV_TENANT_SLUG, "Default (development)", &tenant, err);
    if (rc == FV_E_CONFLICT) {
        /* A database kept from an earlier run: the tenant is there, its old
         * keys too; issue fresh ones (the texts of the old are unknown). */
        rc = fv_query_tenant_by_slug(d, a, FV_APP_DEV_TENANT_SLUG, &tenant, err);
        out->reused = rc == FV_OK;
    }
    if (rc != FV_OK)
        return rc;
    rc = fv_api_key_issue(d, a, &tenant.id, FV_ROLE_WORKER, "dev worker key", &wk, err);
    if (rc != FV_OK)
        return rc;
    rc = fv_api_key_issue(d, a, &tenant.id, FV_ROLE_OPERATOR, "dev operator key", &ok, err);
    if (rc != FV_OK)
        return rc;
    rc = fv_api_key_issue(d, a, &tenant.id, FV_ROLE_ADMIN, "dev admin key", &ak, err);
    if (rc != FV_OK)
        return rc;
    out->tenant_slug = FV_APP_DEV_TENANT_SLUG;
    fv_uuid_format(&tenant.id, out->tenant_id);
    out->worker_key = wk.text;
    out->operator_key = ok.text;
    out->admin_key = ak.text;
    return FV_OK;
}

void fv_app_dev_print(FILE *out, const fv_app_dev_credentials *c, const char *grpc_addr,
                      const char *credentials_file)
{
    fprintf(out,
            "\n"
            "=== Flovyn development credentials (--dev; %s) ===\n"
            "  tenant        %s\n"
            "  tenant id     %s   (org_id in gRPC requests)\n"
            "  worker key    %s\n"
            "  operator key  %s   (REST reads and changes, the flovyn CLI)\n"
            "  admin key     %s   (also tenants and API keys)\n"
            "  gRPC address  %s\n",
            c->stored ? "stored in the database, valid until revoked"
                      : "in memory, valid while this server runs",
            c->tenant_slug, c->tenant_id, c->worker_key, c->operator_key, c->admin_key, grpc_addr);
    if (credentials_file != NULL)
        fprintf(out, "  written to    %s\n", credentials_file);
    fprintf(out,
            "\n"
            "A worker connects with plaintext gRPC and the worker key as a bearer token:\n"
            "\n"
            "    import grpc  # Debian: python3-grpcio; stubs from proto/flovyn.proto\n"
            "    channel = grpc.insecure_channel(\"%s\")\n"
            "    auth = [(\"authorization\", \"Bearer %s\")]\n"
            "    # WorkerLifecycle.RegisterWorker(..., org_id=\"%s\", ...), metadata=auth\n"
            "    # then SendHeartbeat every few seconds with the returned worker_id\n"
            "\n",
            grpc_addr, c->worker_key, c->tenant_id);
    fflush(out);
}

/* Write all of buf to fd, retrying short writes and interruptions. */
static int write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* fsync the directory holding `path`, so the rename itself is durable. */
static void sync_dir_of(const char *path)
{
    char dir[PATH_CAP];
    const char *slash = strrchr(path, '/');
    int fd;

    if (slash == NULL) {
        snprintf(dir, sizeof dir, ".");
    } else if (slash == path) {
        snprintf(dir, sizeof dir, "/");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof dir)
            return;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return;
    (void)fsync(fd);
    close(fd);
}

fv_err fv_app_dev_write_credentials(const char *path, const fv_app_dev_credentials *c,
                                    fv_error *err)
{
    char tmp[PATH_CAP];
    char text[2048];
    json_t *doc;
    size_t n;
    int fd, m, saved;

    m = snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    if (m < 0 || (size_t)m >= sizeof tmp)
        return fv_error_set(err, FV_E_INVALID, "credentials file path \"%s\" is too long", path);

    doc = json_pack("{s:s, s:s, s:s, s:s, s:s}", "tenant", c->tenant_slug, "tenantId", c->tenant_id,
                    "workerKey", c->worker_key, "operatorKey", c->operator_key, "adminKey",
                    c->admin_key);
    if (doc == NULL)
        return fv_error_set(err, FV_E_EXHAUSTED, "could not build the credentials JSON");
    n = json_dumpb(doc, text, sizeof text - 1, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (n == 0 || n >= sizeof text - 1)
        return fv_error_set(err, FV_E_INTERNAL, "could not encode the credentials JSON");
    text[n++] = '\n';

    /* mkstemp: O_CREAT | O_EXCL, mode 0600, whatever the umask. */
    fd = mkstemp(tmp);
    if (fd < 0)
        return fv_error_set(err, FV_E_UNAVAILABLE, "could not create \"%s\": %s", tmp,
                            strerror(errno));
    if (fchmod(fd, 0600) != 0 || write_all(fd, text, n) != 0 || fsync(fd) != 0) {
        saved = errno;
        close(fd);
        unlink(tmp);
        return fv_error_set(err, FV_E_UNAVAILABLE, "could not write \"%s\": %s", tmp,
                            strerror(saved));
    }
    if (close(fd) != 0) {
        saved = errno;
        unlink(tmp);
        return fv_error_set(err, FV_E_UNAVAILABLE, "could not write \"%s\": %s", tmp,
                            strerror(saved));
    }
    if (rename(tmp, path) != 0) {
        saved = errno;
        unlink(tmp);
        return fv_error_set(err, FV_E_UNAVAILABLE, "could not rename \"%s\" to \"%s\": %s", tmp,
                            path, strerror(saved));
    }
    sync_dir_of(path);
    return FV_OK;
}
