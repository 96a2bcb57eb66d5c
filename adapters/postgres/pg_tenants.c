/* The tenant store on Postgres: tenants, spaces and API keys
 * (ports/tenant_store.h) on the queries of queries/tenants.sql. */
#include <string.h>

#include "adapters/postgres/pg_store_int.h"
#include "core/tenant.h"
#include "db_tenants.h"

/* ------------------------------------------------------------------------ */
/* Rows                                                                      */
/* ------------------------------------------------------------------------ */

static void tenant_of(const fv_db_tenant_v *r, fv_tenant *out)
{
    memset(out, 0, sizeof *out);
    out->id = r->id;
    out->slug = r->slug;
    out->name = r->name;
    out->created_at = r->created_at;
}

static void space_of(const fv_db_space_v *r, fv_space *out)
{
    memset(out, 0, sizeof *out);
    out->id = r->id;
    out->tenant_id = r->tenant_id;
    out->slug = r->slug;
    out->name = r->name;
    out->created_at = r->created_at;
}

static fv_err key_of(const fv_db_api_key_v *r, fv_api_key *out, fv_error *err)
{
    memset(out, 0, sizeof *out);
    out->id = r->id;
    out->tenant_id = r->tenant_id;
    if (!fv_role_parse(r->role, &out->role))
        return fv_error_set(err, FV_E_INTERNAL, "the database holds an unknown role");
    out->name = r->name;
    out->prefix = r->prefix;
    if (r->hash.n != FV_API_KEY_HASH_LEN)
        return fv_error_set(err, FV_E_INTERNAL, "the database holds a key hash of %zu bytes",
                            r->hash.n);
    memcpy(out->hash, r->hash.p, FV_API_KEY_HASH_LEN);
    out->created_at = r->created_at;
    out->revoked_at = r->revoked_at_valid ? r->revoked_at : FV_TIME_NONE;
    return FV_OK;
}

static fv_err id_not_found(const char *what, const fv_uuid *id, fv_error *err)
{
    char s[FV_UUID_STR_LEN + 1];
    fv_uuid_format(id, s);
    return fv_error_set(err, FV_E_NOT_FOUND, "%s %s not found", what, s);
}

/* ------------------------------------------------------------------------ */
/* Tenants                                                                   */
/* ------------------------------------------------------------------------ */

static fv_err op_create_tenant(void *self, const fv_tenant *t, fv_error *err)
{
    fv_pg_store *s = self;
    if (t->slug == NULL)
        return fv_error_set(err, FV_E_INVALID, "tenant slug must not be empty");
    fv_arena a;
    fv_err rc = fv__pg_scratch_init(&a, err);
    if (rc == FV_OK) {
        fv_db_create_tenant_params p = {
            .id = &t->id, .slug = t->slug, .name = t->name, .created_at = t->created_at};
        rc = fv_db_create_tenant_on(s->pool, &a, &p, err);
        if (rc == FV_E_CONFLICT)
            fv_error_set(err, rc, "tenant \"%s\" already exists", t->slug);
    }
    fv_arena_release(&a);
    return rc;
}

static fv_err op_get_tenant(void *self, fv_arena *a, const fv_uuid *id, fv_tenant *out,
                            fv_error *err)
{
    fv_pg_store *s = self;
    fv_db_tenant_v r;
    fv_err rc = fv_db_get_tenant_on(s->pool, a, id, &r, err);
    if (rc == FV_E_NOT_FOUND)
        return id_not_found("tenant", id, err);
    if (rc == FV_OK)
        tenant_of(&r, out);
    return rc;
}

static fv_err op_get_tenant_by_slug(void *self, fv_arena *a, const char *slug, fv_tenant *out,
                                    fv_error *err)
{
    fv_pg_store *s = self;
    if (slug == NULL)
        return fv_error_set(err, FV_E_NOT_FOUND, "tenant \"\" not found");
    fv_db_tenant_v r;
    fv_err rc = fv_db_get_tenant_by_slug_on(s->pool, a, slug, &r, err);
    if (rc == FV_E_NOT_FOUND)
        return fv_error_set(err, rc, "tenant \"%s\" not found", slug);
    if (rc == FV_OK)
        tenant_of(&r, out);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Spaces                                                                    */
/* ------------------------------------------------------------------------ */

static fv_err op_create_space(void *self, const fv_space *sp, fv_error *err)
{
    fv_pg_store *s = self;
    if (sp->slug == NULL)
        return fv_error_set(err, FV_E_INVALID, "space slug must not be empty");
    fv_arena a;
    fv_err rc = fv__pg_scratch_init(&a, err);
    if (rc == FV_OK) {
        fv_db_create_space_params p = {.id = &sp->id,
                                       .tenant_id = &sp->tenant_id,
                                       .slug = sp->slug,
                                       .name = sp->name,
                                       .created_at = sp->created_at};
        fv_db_create_space_row r;
        rc = fv_db_create_space_on(s->pool, &a, &p, &r, err);
        if (rc == FV_E_NOT_FOUND)
            id_not_found("tenant", &sp->tenant_id, err);
        else if (rc == FV_E_CONFLICT)
            fv_error_set(err, rc, "space \"%s\" already exists in this tenant", sp->slug);
    }
    fv_arena_release(&a);
    return rc;
}

static fv_err op_get_space(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                           fv_space *out, fv_error *err)
{
    fv_pg_store *s = self;
    fv_db_get_space_params p = {.tenant_id = tenant, .id = id};
    fv_db_space_v r;
    fv_err rc = fv_db_get_space_on(s->pool, a, &p, &r, err);
    if (rc == FV_E_NOT_FOUND)
        return id_not_found("space", id, err);
    if (rc == FV_OK)
        space_of(&r, out);
    return rc;
}

static fv_err op_get_space_by_slug(void *self, fv_arena *a, const fv_uuid *tenant, const char *slug,
                                   fv_space *out, fv_error *err)
{
    fv_pg_store *s = self;
    if (slug == NULL)
        return fv_error_set(err, FV_E_NOT_FOUND, "space \"\" not found");
    fv_db_get_space_by_slug_params p = {.tenant_id = tenant, .slug = slug};
    fv_db_space_v r;
    fv_err rc = fv_db_get_space_by_slug_on(s->pool, a, &p, &r, err);
    if (rc == FV_E_NOT_FOUND)
        return fv_error_set(err, rc, "space \"%s\" not found", slug);
    if (rc == FV_OK)
        space_of(&r, out);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* API keys                                                                  */
/* ------------------------------------------------------------------------ */

static fv_err op_create_api_key(void *self, const fv_api_key *k, fv_error *err)
{
    fv_pg_store *s = self;
    const char *role = fv_role_name(k->role);
    if (k->prefix == NULL)
        return fv_error_set(err, FV_E_INVALID, "API key prefix must not be empty");
    if (role == NULL)
        return fv_error_set(err, FV_E_INVALID, "unknown role %d", (int)k->role);
    fv_arena a;
    fv_err rc = fv__pg_scratch_init(&a, err);
    if (rc == FV_OK) {
        fv_db_create_api_key_params p = {
            .id = &k->id,
            .tenant_id = &k->tenant_id,
            .role = role,
            .name = k->name,
            .prefix = k->prefix,
            .hash = {k->hash, FV_API_KEY_HASH_LEN},
            .created_at = k->created_at,
            .revoked_at = k->revoked_at,
            .revoked_at_valid = k->revoked_at != FV_TIME_NONE,
        };
        fv_db_create_api_key_row r;
        rc = fv_db_create_api_key_on(s->pool, &a, &p, &r, err);
        if (rc == FV_E_NOT_FOUND)
            id_not_found("tenant", &k->tenant_id, err);
        else if (rc == FV_E_CONFLICT)
            fv_error_set(err, rc, "API key \"%s\" already exists", k->prefix);
    }
    fv_arena_release(&a);
    return rc;
}

static fv_err op_find_api_key(void *self, fv_arena *a, const char *prefix, fv_api_key *out,
                              fv_error *err)
{
    fv_pg_store *s = self;
    if (prefix == NULL)
        return fv_error_set(err, FV_E_NOT_FOUND, "API key \"\" not found");
    fv_db_api_key_v r;
    fv_err rc = fv_db_find_api_key_on(s->pool, a, prefix, &r, err);
    if (rc == FV_E_NOT_FOUND)
        return fv_error_set(err, rc, "API key \"%s\" not found", prefix);
    if (rc == FV_OK)
        rc = key_of(&r, out, err);
    return rc;
}

static fv_err op_list_api_keys(void *self, fv_arena *a, const fv_uuid *tenant, fv_api_key_list *out,
                               fv_error *err)
{
    fv_pg_store *s = self;
    *out = (fv_api_key_list){NULL, 0};
    fv_db_api_key_v *rows;
    size_t n;
    fv_err rc = fv_db_list_api_keys_on(s->pool, a, tenant, &rows, &n, err);
    if (rc != FV_OK)
        return rc;
    fv_api_key *items = fv_arena_calloc(a, n ? n : 1, sizeof *items);
    if (items == NULL)
        return fv__pg_exhausted(err);
    for (size_t i = 0; i < n; i++) {
        rc = key_of(&rows[i], &items[i], err);
        if (rc != FV_OK)
            return rc;
    }
    *out = (fv_api_key_list){items, n};
    return FV_OK;
}

static fv_err op_revoke_api_key(void *self, const fv_uuid *tenant, const fv_uuid *id, fv_time now,
                                fv_error *err)
{
    fv_pg_store *s = self;
    fv_arena a;
    int64_t affected = 0;
    fv_err rc = fv__pg_scratch_init(&a, err);
    if (rc == FV_OK) {
        fv_db_revoke_api_key_params p = {.tenant_id = tenant, .id = id, .now = now};
        rc = fv_db_revoke_api_key_on(s->pool, &a, &p, &affected, err);
    }
    fv_arena_release(&a);
    if (rc == FV_OK && affected == 0)
        return id_not_found("API key", id, err);
    return rc;
}

static const fv_tenant_store_ops tenant_ops = {
    .create_tenant = op_create_tenant,
    .get_tenant = op_get_tenant,
    .get_tenant_by_slug = op_get_tenant_by_slug,
    .create_space = op_create_space,
    .get_space = op_get_space,
    .get_space_by_slug = op_get_space_by_slug,
    .create_api_key = op_create_api_key,
    .find_api_key = op_find_api_key,
    .list_api_keys = op_list_api_keys,
    .revoke_api_key = op_revoke_api_key,
};

fv_tenant_store fv__pg_tenant_store(fv_pg_store *s)
{
    return (fv_tenant_store){&tenant_ops, s};
}
