/*
 * Reads of tenants (the REST prefix resolves its slug), of their API keys
 * (the admin routes) and of the storage's health. Same conventions as
 * worker_queries.h.
 */
#ifndef FV_CORE_QUERIES_TENANT_QUERIES_H
#define FV_CORE_QUERIES_TENANT_QUERIES_H

#include "core/deps.h"
#include "core/tenant.h"
#include "core/util/arena.h"
#include "core/util/error.h"

/* The tenant of a slug. A malformed slug is as unknown as a missing one:
 * FV_E_NOT_FOUND "tenant \"x\" not found". Storage failures pass through. */
fv_err fv_query_tenant_by_slug(const fv_deps *d, fv_arena *a, const char *slug, fv_tenant *out,
                               fv_error *err);

/* The API keys of a tenant, oldest first, revoked ones included (with their
 * revoked_at). The records carry the hash of each key, which no edge may
 * show; the key text is never stored. The array and its strings live in `a`.
 * An unknown tenant has no keys (an empty list). Storage failures pass
 * through. */
fv_err fv_query_api_keys(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, fv_api_key_list *out,
                         fv_error *err);

/* Whether storage answers a read: a lookup of a tenant that cannot exist
 * (the nil id), which must come back "not found". FV_OK, or the storage
 * failure (FV_E_UNAVAILABLE...). */
fv_err fv_query_storage_ready(const fv_deps *d, fv_arena *a, fv_error *err);

#endif
