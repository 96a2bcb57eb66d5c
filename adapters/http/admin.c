/*
 * The admin routes (admin.h). Who may do what:
 *   - POST /api/tenants (and /api/orgs): an admin key of any tenant. Tenants
 *     have no owner above them and the roles are per tenant, so "admin of
 *     some tenant" is the only role that can mean "may run this server's
 *     tenants"; the creator gains nothing over the tenants that exist (its
 *     key stays bound to its own tenant). The answer carries the new
 *     tenant's first admin key, shown once: without it nobody could
 *     administer the new tenant over REST.
 *   - GET P, and everything under P/api-keys: an admin key of that tenant
 *     (another tenant's key is 403 by the wrapper, another tenant's key id
 *     is 404). Key records never show the hash; the text of a key is shown
 *     only in the answer that issued it.
 */
#include "adapters/http/admin.h"

#include "adapters/http/http_dto.h"
#include "core/queries/tenant_queries.h"
#include "core/usecases/auth_usecases.h"
#include "core/usecases/tenant_usecases.h"

static fv_err create_tenant(fv_http_ctx *c, fv_error *err)
{
    json_t *in = NULL;
    const char *slug = NULL, *name = NULL;
    fv_tenant t;
    fv_issued_key k;
    json_t *body = NULL;
    fv_err rc = fv_http_req_json_object(c->req, &in, err);
    if (rc == FV_OK)
        rc = fv_http_dto_tenant_create(c->arena, in, &slug, &name, err);
    json_decref(in);
    if (rc == FV_OK)
        rc = fv_tenant_create_with_key(c->deps, c->arena, slug, name, &t, &k, err);
    if (rc == FV_OK)
        rc = fv_http_dto_tenant_created(&t, &k, &body, err);
    if (rc != FV_OK)
        return rc;
    return fv_http_reply_json_take(c->req, 201, body);
}

static fv_err get_tenant(fv_http_ctx *c, fv_error *err)
{
    json_t *body = NULL;
    fv_err rc = fv_http_dto_tenant(&c->tenant_record, &body, err);
    if (rc != FV_OK)
        return rc;
    return fv_http_reply_json_take(c->req, 200, body);
}

static fv_err create_api_key(fv_http_ctx *c, fv_error *err)
{
    json_t *in = NULL;
    fv_role role = FV_ROLE_WORKER;
    const char *name = NULL;
    fv_issued_key k;
    json_t *body = NULL;
    fv_err rc = fv_http_req_json_object(c->req, &in, err);
    if (rc == FV_OK)
        rc = fv_http_dto_api_key_create(c->arena, in, &role, &name, err);
    json_decref(in);
    if (rc == FV_OK)
        rc = fv_api_key_issue(c->deps, c->arena, &c->tenant, role, name, &k, err);
    if (rc == FV_OK)
        rc = fv_http_dto_api_key_created(&k, &body, err);
    if (rc != FV_OK)
        return rc;
    return fv_http_reply_json_take(c->req, 201, body);
}

static fv_err list_api_keys(fv_http_ctx *c, fv_error *err)
{
    fv_api_key_list l;
    json_t *body = NULL;
    fv_err rc = fv_query_api_keys(c->deps, c->arena, &c->tenant, &l, err);
    if (rc == FV_OK)
        rc = fv_http_dto_api_keys(&l, &body, err);
    if (rc != FV_OK)
        return rc;
    return fv_http__reply_list(c, body, (int64_t)l.n);
}

static fv_err revoke_api_key(fv_http_ctx *c, fv_error *err)
{
    fv_uuid id;
    fv_err rc = fv_http__param_uuid(c, "key_id", "api key id", &id, err);
    if (rc == FV_OK)
        rc = fv_api_key_revoke(c->deps, &c->tenant, &id, err);
    if (rc != FV_OK)
        return rc;
    return fv_http_reply_empty(c->req, 204);
}

const fv_http__tenant_route fv_http__admin_routes[] = {
    {"POST", "", create_tenant, FV_HTTP_ADMIN_ROLES, NULL, FV_HTTP_SCOPE_COLLECTION},
    {"GET", "", get_tenant, FV_HTTP_ADMIN_ROLES, NULL, FV_HTTP_SCOPE_TENANT},
    {"POST", "/api-keys", create_api_key, FV_HTTP_ADMIN_ROLES, NULL, FV_HTTP_SCOPE_TENANT},
    {"GET", "/api-keys", list_api_keys, FV_HTTP_ADMIN_ROLES, NULL, FV_HTTP_SCOPE_TENANT},
    {"DELETE", "/api-keys/{key_id}", revoke_api_key, FV_HTTP_ADMIN_ROLES, NULL,
     FV_HTTP_SCOPE_TENANT},
};

const size_t fv_http__admin_route_count =
    sizeof fv_http__admin_routes / sizeof fv_http__admin_routes[0];
