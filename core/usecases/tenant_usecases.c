/* Tenant administration (tenant_usecases.h). */
#include "core/usecases/tenant_usecases.h"

#include "core/usecases/worker_usecases.h"

fv_err fv_tenant_create_with_key(const fv_deps *d, fv_arena *a, const char *slug, const char *name,
                                 fv_tenant *tenant, fv_issued_key *admin_key, fv_error *err)
{
    fv_tenant t;
    fv_err rc = fv_tenant_create(d, a, slug, name, &t, err);
    if (rc != FV_OK)
        return rc;
    rc = fv_api_key_issue(d, a, &t.id, FV_ROLE_ADMIN, FV_TENANT_FIRST_KEY_NAME, admin_key, err);
    if (rc != FV_OK)
        return rc;
    *tenant = t;
    return FV_OK;
}
