/*
 * Tenant administration (spec/rest-api.md "Tenants and keys"): creating a
 * tenant together with its first admin key, so that the new tenant can be
 * administered at once. Conventions as worker_usecases.h.
 */
#ifndef FV_CORE_USECASES_TENANT_USECASES_H
#define FV_CORE_USECASES_TENANT_USECASES_H

#include "core/deps.h"
#include "core/tenant.h"
#include "core/usecases/auth_usecases.h"
#include "core/util/arena.h"
#include "core/util/error.h"

/* The display name of the admin key issued with a new tenant. */
#define FV_TENANT_FIRST_KEY_NAME "initial admin key"

/*
 * Create a tenant (fv_tenant_create: slug rules of fv_slug_validate, name
 * 1..255 bytes) and issue its first key, of the admin role, named
 * FV_TENANT_FIRST_KEY_NAME (fv_api_key_issue; the key text is shown once,
 * through admin_key->text). Without it nobody could administer the new
 * tenant: keys belong to one tenant, and only an admin of that tenant may
 * issue more.
 *
 * FV_E_INVALID (slug, name) and FV_E_CONFLICT (slug taken) change nothing.
 * The two writes are not one transaction (the tenant store has no unit of
 * work): if issuing the key fails after the tenant was stored (storage or
 * memory failure), the error is returned and the tenant stays, without a
 * key; `flovyn-server` can issue one. Results in `a`.
 */
fv_err fv_tenant_create_with_key(const fv_deps *d, fv_arena *a, const char *slug, const char *name,
                                 fv_tenant *tenant, fv_issued_key *admin_key, fv_error *err);

#endif
