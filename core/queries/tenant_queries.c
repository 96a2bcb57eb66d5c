/* Tenant and API-key reads and the storage health check (tenant_queries.h). */
#include "core/queries/tenant_queries.h"

#include <string.h>

fv_err fv_query_tenant_by_slug(const fv_deps *d, fv_arena *a, const char *slug, fv_tenant *out,
                               fv_error *err)
{
    fv_error ignored;
    if (slug == NULL || fv_slug_validate("tenant slug", slug, &ignored) != FV_OK)
        return fv_error_set(err, FV_E_NOT_FOUND, "tenant \"%.63s\" not found",
                            slug != NULL ? slug : "");
    fv_err rc = fv_tenant_store_get_tenant_by_slug(d->tenants, a, slug, out, err);
    if (rc == FV_E_NOT_FOUND)
        return fv_error_set(err, FV_E_NOT_FOUND, "tenant \"%s\" not found", slug);
    return rc;
}

fv_err fv_query_api_keys(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, fv_api_key_list *out,
                         fv_error *err)
{
    *out = (fv_api_key_list){NULL, 0};
    if (tenant == NULL)
        return fv_error_set(err, FV_E_INVALID, "tenant must be given");
    return fv_tenant_store_list_api_keys(d->tenants, a, tenant, out, err);
}

fv_err fv_query_storage_ready(const fv_deps *d, fv_arena *a, fv_error *err)
{
    fv_uuid nil;
    memset(&nil, 0, sizeof nil);
    fv_tenant t;
    fv_error lookup = {0};
    fv_err rc = fv_tenant_store_get_tenant(d->tenants, a, &nil, &t, &lookup);
    if (rc == FV_E_NOT_FOUND)
        return FV_OK;
    if (rc == FV_OK)
        return fv_error_set(err, FV_E_INTERNAL, "storage holds a tenant with the nil id");
    if (err != NULL)
        *err = lookup;
    return rc;
}
