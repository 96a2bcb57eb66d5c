/*
 * The development bootstrap of `serve --dev`: tenant "default", a worker key,
 * an operator key and an admin key, shown once on stdout and optionally written to a
 * credentials file that tests and scripts read (its appearance means the
 * server is listening).
 */
#ifndef FV_APP_DEV_H
#define FV_APP_DEV_H

#include <stdbool.h>
#include <stdio.h>

#include "core/deps.h"
#include "core/util/arena.h"
#include "core/util/error.h"
#include "core/util/uuid.h"

#define FV_APP_DEV_TENANT_SLUG "default"

typedef struct fv_app_dev_credentials {
    const char *tenant_slug;             /* "default" (static) */
    char tenant_id[FV_UUID_STR_LEN + 1]; /* canonical text */
    const char *worker_key;              /* "flovyn_wk_..."; in the arena */
    const char *operator_key;            /* "flovyn_sk_..."; in the arena */
    const char *admin_key;               /* "flovyn_sk_..."; in the arena */
    bool reused; /* the tenant existed (a database kept from an earlier run) */
    bool stored; /* set by the caller: the keys outlive the process (PostgreSQL) */
} fv_app_dev_credentials;

/* Create tenant "default" and issue its three keys (FV_ROLE_WORKER,
 * FV_ROLE_OPERATOR, FV_ROLE_ADMIN) through the use cases. Key texts live in
 * `a`. When the tenant exists already (a PostgreSQL database kept across
 * restarts), it is looked up and given three fresh keys (out->reused); the
 * keys of earlier runs stay valid until revoked. Errors of fv_tenant_create,
 * fv_query_tenant_by_slug and fv_api_key_issue pass through. */
fv_err fv_app_dev_bootstrap(const fv_deps *d, fv_arena *a, fv_app_dev_credentials *out,
                            fv_error *err);

/* The readable block for a person: tenant, keys, the gRPC address and how a
 * worker connects. credentials_file may be NULL. */
void fv_app_dev_print(FILE *out, const fv_app_dev_credentials *c, const char *grpc_addr,
                      const char *credentials_file);

/*
 * Write {"tenant","tenantId","workerKey","operatorKey","adminKey"} as JSON to `path`
 * atomically with mode 0600: a new temporary file in the same directory
 * (created exclusively, mode 0600), written, fsynced, then renamed over
 * `path`; the directory is fsynced too. A reader sees no file or the whole
 * file, never a part. FV_E_UNAVAILABLE with the path and the system's reason
 * when a step fails (the temporary file is removed), FV_E_INVALID when the
 * path is too long.
 */
fv_err fv_app_dev_write_credentials(const char *path, const fv_app_dev_credentials *c,
                                    fv_error *err);

#endif
