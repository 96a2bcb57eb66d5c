/*
 * Internals of the REST API shared by its files (http_api.c and the
 * resource files such as discovery.c and admin.c); never included outside
 * adapters/http/.
 *
 * A resource file declares its routes as rows of fv_http__tenant_route,
 * patterns relative to a prefix. http_api.c serves every row under both
 * prefixes (spec decision 2) through one wrapper that authenticates the
 * caller, resolves the tenant slug, checks the tenant, the role and the
 * query parameters, and only then calls the row's function with a ready
 * context. Functions answer with fv_http_reply_* and return FV_OK, or return
 * a domain error, which the machinery maps to a status in one place.
 */
#ifndef FV_ADAPTERS_HTTP_HTTP_API_INT_H
#define FV_ADAPTERS_HTTP_HTTP_API_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapters/http/http_server.h"
#include "core/deps.h"
#include "core/tenant.h"
#include "core/types.h"
#include "core/usecases/auth_usecases.h"
#include "core/util/arena.h"
#include "core/util/error.h"

/* What a route function gets: the request, the bundle, the request's arena,
 * who calls, and for FV_HTTP_SCOPE_TENANT the tenant of the path (already
 * authorized; zero for FV_HTTP_SCOPE_COLLECTION). */
typedef struct fv_http_ctx {
    fv_http_req *req;
    const fv_deps *deps;
    fv_arena *arena;
    fv_principal who;
    fv_uuid tenant;
    /* The whole record of that tenant (strings in `arena`). */
    fv_tenant tenant_record;
} fv_http_ctx;

typedef fv_err (*fv_http__tenant_fn)(fv_http_ctx *c, fv_error *err);

/* Where a route lives. Both scopes are served under both spellings. */
typedef enum fv_http__scope {
    /* Under P = /api/tenants/{tenant_slug} and /api/orgs/{org_slug}: the key
     * must be of that tenant. */
    FV_HTTP_SCOPE_TENANT = 0,
    /* Under the collections /api/tenants and /api/orgs: a key of any tenant
     * with one of the roles (creating tenants). */
    FV_HTTP_SCOPE_COLLECTION,
} fv_http__scope;

/* One route of a resource file. */
typedef struct fv_http__tenant_route {
    const char *method;
    /* After the prefix, e.g. "/workers/{worker_id}"; "" is the prefix
     * itself. */
    const char *pattern;
    fv_http__tenant_fn fn;
    /* Roles allowed (FV_ROLE_BIT set). */
    unsigned roles;
    /* Query parameters accepted: NULL-terminated; NULL = none. */
    const char *const *query;
    /* FV_HTTP_SCOPE_TENANT unless given. */
    fv_http__scope scope;
} fv_http__tenant_route;

/* Any role may read. */
#define FV_HTTP_READ_ROLES                                                                         \
    (FV_ROLE_BIT(FV_ROLE_WORKER) | FV_ROLE_BIT(FV_ROLE_OPERATOR) | FV_ROLE_BIT(FV_ROLE_ADMIN))

/* Operator actions (unregister, configure). */
#define FV_HTTP_OPERATOR_ROLES (FV_ROLE_BIT(FV_ROLE_OPERATOR) | FV_ROLE_BIT(FV_ROLE_ADMIN))

/* Tenants and keys. */
#define FV_HTTP_ADMIN_ROLES FV_ROLE_BIT(FV_ROLE_ADMIN)

/* ---- Helpers for route functions (http_api.c) --------------------------- */

/* The path capture `name` as a UUID; FV_E_INVALID "<what> \"...\" is not a
 * valid UUID". */
fv_err fv_http__param_uuid(const fv_http_ctx *c, const char *name, const char *what, fv_uuid *out,
                           fv_error *err);

/* Query parameter "space": absent -> FV_SPACE_ANY when any_allowed (lists),
 * else FV_SPACE_NONE (one definition); "none" -> FV_SPACE_NONE (the tenant
 * level); a UUID -> FV_SPACE_ID. Anything else is FV_E_INVALID. */
fv_err fv_http__query_space(const fv_http_ctx *c, bool any_allowed, fv_space_sel *out,
                            fv_error *err);

/* "limit" (default 50, 1..100) and "offset" (default 0, 0..1e9). */
fv_err fv_http__query_page(const fv_http_ctx *c, fv_page *out, fv_error *err);

/* Answer 200 with `body` (stolen) and an X-Total-Count header. */
fv_err fv_http__reply_list(fv_http_ctx *c, json_t *body, int64_t total);

#endif
