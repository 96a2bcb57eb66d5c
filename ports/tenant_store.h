/*
 * Tenant and API-key store port: tenants, their spaces and their API keys
 * (stored with a hash of the secret, never the secret).
 *
 * Contract: thread-safe; results copied into the caller's arena; a failed op
 * changes nothing; storage failures as in ports/worker_repo.h.
 */
#ifndef FV_PORTS_TENANT_STORE_H
#define FV_PORTS_TENANT_STORE_H

#include <stddef.h>

#include "core/tenant.h"
#include "core/util/arena.h"
#include "core/util/error.h"

typedef struct fv_api_key_list {
    fv_api_key *items;
    size_t n;
} fv_api_key_list;

typedef struct fv_tenant_store_ops {
    /* Insert a tenant; FV_E_CONFLICT when its id or slug is taken. */
    fv_err (*create_tenant)(void *self, const fv_tenant *t, fv_error *err);
    /* FV_E_NOT_FOUND when absent. */
    fv_err (*get_tenant)(void *self, fv_arena *a, const fv_uuid *id, fv_tenant *out, fv_error *err);
    fv_err (*get_tenant_by_slug)(void *self, fv_arena *a, const char *slug, fv_tenant *out,
                                 fv_error *err);
    /* Insert a space; FV_E_NOT_FOUND for an unknown tenant, FV_E_CONFLICT when
     * its id or (tenant, slug) is taken. */
    fv_err (*create_space)(void *self, const fv_space *s, fv_error *err);
    /* A space of the tenant; FV_E_NOT_FOUND when absent or of another tenant. */
    fv_err (*get_space)(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                        fv_space *out, fv_error *err);
    fv_err (*get_space_by_slug)(void *self, fv_arena *a, const fv_uuid *tenant, const char *slug,
                                fv_space *out, fv_error *err);
    /* Insert a key; FV_E_NOT_FOUND for an unknown tenant, FV_E_CONFLICT when
     * its id or prefix is taken. */
    fv_err (*create_api_key)(void *self, const fv_api_key *k, fv_error *err);
    /* The key with this public prefix, revoked or not; FV_E_NOT_FOUND. */
    fv_err (*find_api_key)(void *self, fv_arena *a, const char *prefix, fv_api_key *out,
                           fv_error *err);
    /* Keys of a tenant, oldest first. */
    fv_err (*list_api_keys)(void *self, fv_arena *a, const fv_uuid *tenant, fv_api_key_list *out,
                            fv_error *err);
    /* Set revoked_at = now; revoking a revoked key keeps its first
     * revoked_at. FV_E_NOT_FOUND when absent or of another tenant. */
    fv_err (*revoke_api_key)(void *self, const fv_uuid *tenant, const fv_uuid *id, fv_time now,
                             fv_error *err);
} fv_tenant_store_ops;

typedef struct fv_tenant_store {
    const fv_tenant_store_ops *ops;
    void *self;
} fv_tenant_store;

static inline fv_err fv_tenant_store_create_tenant(fv_tenant_store s, const fv_tenant *t,
                                                   fv_error *err)
{
    return s.ops->create_tenant(s.self, t, err);
}

static inline fv_err fv_tenant_store_get_tenant(fv_tenant_store s, fv_arena *a, const fv_uuid *id,
                                                fv_tenant *out, fv_error *err)
{
    return s.ops->get_tenant(s.self, a, id, out, err);
}

static inline fv_err fv_tenant_store_get_tenant_by_slug(fv_tenant_store s, fv_arena *a,
                                                        const char *slug, fv_tenant *out,
                                                        fv_error *err)
{
    return s.ops->get_tenant_by_slug(s.self, a, slug, out, err);
}

static inline fv_err fv_tenant_store_create_space(fv_tenant_store s, const fv_space *sp,
                                                  fv_error *err)
{
    return s.ops->create_space(s.self, sp, err);
}

static inline fv_err fv_tenant_store_get_space(fv_tenant_store s, fv_arena *a,
                                               const fv_uuid *tenant, const fv_uuid *id,
                                               fv_space *out, fv_error *err)
{
    return s.ops->get_space(s.self, a, tenant, id, out, err);
}

static inline fv_err fv_tenant_store_get_space_by_slug(fv_tenant_store s, fv_arena *a,
                                                       const fv_uuid *tenant, const char *slug,
                                                       fv_space *out, fv_error *err)
{
    return s.ops->get_space_by_slug(s.self, a, tenant, slug, out, err);
}

static inline fv_err fv_tenant_store_create_api_key(fv_tenant_store s, const fv_api_key *k,
                                                    fv_error *err)
{
    return s.ops->create_api_key(s.self, k, err);
}

static inline fv_err fv_tenant_store_find_api_key(fv_tenant_store s, fv_arena *a,
                                                  const char *prefix, fv_api_key *out,
                                                  fv_error *err)
{
    return s.ops->find_api_key(s.self, a, prefix, out, err);
}

static inline fv_err fv_tenant_store_list_api_keys(fv_tenant_store s, fv_arena *a,
                                                   const fv_uuid *tenant, fv_api_key_list *out,
                                                   fv_error *err)
{
    return s.ops->list_api_keys(s.self, a, tenant, out, err);
}

static inline fv_err fv_tenant_store_revoke_api_key(fv_tenant_store s, const fv_uuid *tenant,
                                                    const fv_uuid *id, fv_time now, fv_error *err)
{
    return s.ops->revoke_api_key(s.self, tenant, id, now, err);
}

#endif
