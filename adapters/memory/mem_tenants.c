/* The tenant store of the in-memory store: tenants, spaces and API keys,
 * each record one block indexed by id and by its unique name. */
#include "adapters/memory/mem_store.h"

#include <stdlib.h>
#include <string.h>

#include "adapters/memory/mem_store_int.h"
#include "core/util/alloc.h"

/* ------------------------------------------------------------------------ */
/* Keys and lookups                                                          */
/* ------------------------------------------------------------------------ */

static uint64_t str_hash(const char *s)
{
    return fv__mem_hash_final(fv__mem_hash_str(FV__MEM_HASH_SEED, s));
}

static uint64_t tenant_slug_hash(const fv_uuid *tenant, const char *slug)
{
    uint64_t h = fv__mem_hash_uuid(FV__MEM_HASH_SEED, tenant);
    return fv__mem_hash_final(fv__mem_hash_str(h, slug));
}

static bool tenant_id_eq(const void *rec, const void *key)
{
    return fv_uuid_eq(&((const fv__mem_tenant *)rec)->t.id, key);
}

static bool tenant_slug_eq(const void *rec, const void *key)
{
    return strcmp(((const fv__mem_tenant *)rec)->t.slug, key) == 0;
}

static bool space_id_eq(const void *rec, const void *key)
{
    return fv_uuid_eq(&((const fv__mem_space *)rec)->s.id, key);
}

typedef struct space_key {
    const fv_uuid *tenant;
    const char *slug;
} space_key;

static bool space_slug_eq(const void *rec, const void *key)
{
    const fv__mem_space *sp = rec;
    const space_key *k = key;
    return fv_uuid_eq(&sp->s.tenant_id, k->tenant) && strcmp(sp->s.slug, k->slug) == 0;
}

static bool key_id_eq(const void *rec, const void *key)
{
    return fv_uuid_eq(&((const fv__mem_key *)rec)->k.id, key);
}

static bool key_prefix_eq(const void *rec, const void *key)
{
    return strcmp(((const fv__mem_key *)rec)->k.prefix, key) == 0;
}

static fv__mem_tenant *tenant_find(const fv_mem_store *s, const fv_uuid *id)
{
    return fv__mem_map_find(&s->tenants_by_id, fv_uuid_hash(id), tenant_id_eq, id);
}

static fv__mem_tenant *tenant_find_slug(const fv_mem_store *s, const char *slug)
{
    return fv__mem_map_find(&s->tenants_by_slug, str_hash(slug), tenant_slug_eq, slug);
}

static fv__mem_space *space_find(const fv_mem_store *s, const fv_uuid *id)
{
    return fv__mem_map_find(&s->spaces_by_id, fv_uuid_hash(id), space_id_eq, id);
}

static fv__mem_space *space_find_slug(const fv_mem_store *s, const fv_uuid *tenant,
                                      const char *slug)
{
    space_key k = {tenant, slug};
    return fv__mem_map_find(&s->spaces_by_slug, tenant_slug_hash(tenant, slug), space_slug_eq, &k);
}

static fv__mem_key *key_find(const fv_mem_store *s, const fv_uuid *id)
{
    return fv__mem_map_find(&s->keys_by_id, fv_uuid_hash(id), key_id_eq, id);
}

static fv__mem_key *key_find_prefix(const fv_mem_store *s, const char *prefix)
{
    return fv__mem_map_find(&s->keys_by_prefix, str_hash(prefix), key_prefix_eq, prefix);
}

static fv_err id_not_found(fv_error *err, const char *what, const fv_uuid *id)
{
    char s[FV_UUID_STR_LEN + 1];
    fv_uuid_format(id, s);
    return fv_error_set(err, FV_E_NOT_FOUND, "%s %s not found", what, s);
}

static fv_err id_taken(fv_error *err, const char *what, const fv_uuid *id)
{
    char s[FV_UUID_STR_LEN + 1];
    fv_uuid_format(id, s);
    return fv_error_set(err, FV_E_CONFLICT, "%s %s already exists", what, s);
}

/* ------------------------------------------------------------------------ */
/* Copies                                                                    */
/* ------------------------------------------------------------------------ */

/* A record struct of `size` bytes followed by its strings, in one block
 * from fv_malloc (a == NULL) or from the arena. */
static void *record_block(fv_arena *a, size_t size, const char *const *in, const char **out,
                          size_t n)
{
    fv__mem_pack k = {NULL, size};
    for (size_t i = 0; i < n; i++)
        fv__mem_pack_str(&k, in[i]);
    char *block = a != NULL ? fv_arena_alloc(a, k.off) : fv_malloc(k.off);
    if (block == NULL)
        return NULL;
    k = (fv__mem_pack){block, size};
    for (size_t i = 0; i < n; i++)
        out[i] = fv__mem_pack_str(&k, in[i]);
    return block;
}

static bool tenant_copy(fv_arena *a, const fv_tenant *t, fv_tenant *out)
{
    const char *in[2] = {t->slug, t->name}, *str[2];
    char *block = record_block(a, 0, in, str, 2);
    if (block == NULL)
        return false;
    *out = *t;
    out->slug = str[0];
    out->name = str[1];
    return true;
}

static bool space_copy(fv_arena *a, const fv_space *sp, fv_space *out)
{
    const char *in[2] = {sp->slug, sp->name}, *str[2];
    char *block = record_block(a, 0, in, str, 2);
    if (block == NULL)
        return false;
    *out = *sp;
    out->slug = str[0];
    out->name = str[1];
    return true;
}

static bool key_copy(fv_arena *a, const fv_api_key *k, fv_api_key *out)
{
    const char *in[2] = {k->name, k->prefix}, *str[2];
    char *block = record_block(a, 0, in, str, 2);
    if (block == NULL)
        return false;
    *out = *k;
    out->name = str[0];
    out->prefix = str[1];
    return true;
}

/* ------------------------------------------------------------------------ */
/* Tenants                                                                   */
/* ------------------------------------------------------------------------ */

static fv_err op_create_tenant(void *self, const fv_tenant *t, fv_error *err)
{
    fv_mem_store *s = self;
    fv_err rc = FV_OK;
    if (t->slug == NULL)
        return fv_error_set(err, FV_E_INVALID, "tenant slug must not be empty");
    fv__mem_wrlock(s);
    if (tenant_find(s, &t->id) != NULL) {
        rc = id_taken(err, "tenant", &t->id);
        goto done;
    }
    if (tenant_find_slug(s, t->slug) != NULL) {
        rc = fv_error_set(err, FV_E_CONFLICT, "tenant \"%s\" already exists", t->slug);
        goto done;
    }
    const char *in[2] = {t->slug, t->name}, *str[2];
    fv__mem_tenant *mt = record_block(NULL, sizeof *mt, in, str, 2);
    if (mt == NULL || !fv__mem_map_reserve(&s->tenants_by_id, 1) ||
        !fv__mem_map_reserve(&s->tenants_by_slug, 1)) {
        fv_free(mt);
        rc = fv__mem_exhausted(err);
        goto done;
    }
    mt->t = *t;
    mt->t.slug = str[0];
    mt->t.name = str[1];
    mt->id_hash = fv_uuid_hash(&t->id);
    mt->slug_hash = str_hash(t->slug);
    fv__mem_map_insert(&s->tenants_by_id, mt->id_hash, mt);
    fv__mem_map_insert(&s->tenants_by_slug, mt->slug_hash, mt);
done:
    fv__mem_unlock(s);
    return rc;
}

static fv_err op_get_tenant(void *self, fv_arena *a, const fv_uuid *id, fv_tenant *out,
                            fv_error *err)
{
    fv_mem_store *s = self;
    fv_err rc = FV_OK;
    fv__mem_rdlock(s);
    const fv__mem_tenant *mt = tenant_find(s, id);
    if (mt == NULL)
        rc = id_not_found(err, "tenant", id);
    else if (!tenant_copy(a, &mt->t, out))
        rc = fv__mem_exhausted(err);
    fv__mem_unlock(s);
    return rc;
}

static fv_err op_get_tenant_by_slug(void *self, fv_arena *a, const char *slug, fv_tenant *out,
                                    fv_error *err)
{
    fv_mem_store *s = self;
    fv_err rc = FV_OK;
    if (slug == NULL)
        return fv_error_set(err, FV_E_NOT_FOUND, "tenant \"\" not found");
    fv__mem_rdlock(s);
    const fv__mem_tenant *mt = tenant_find_slug(s, slug);
    if (mt == NULL)
        rc = fv_error_set(err, FV_E_NOT_FOUND, "tenant \"%s\" not found", slug);
    else if (!tenant_copy(a, &mt->t, out))
        rc = fv__mem_exhausted(err);
    fv__mem_unlock(s);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Spaces                                                                    */
/* ------------------------------------------------------------------------ */

static fv_err op_create_space(void *self, const fv_space *sp, fv_error *err)
{
    fv_mem_store *s = self;
    fv_err rc = FV_OK;
    if (sp->slug == NULL)
        return fv_error_set(err, FV_E_INVALID, "space slug must not be empty");
    fv__mem_wrlock(s);
    if (tenant_find(s, &sp->tenant_id) == NULL) {
        rc = id_not_found(err, "tenant", &sp->tenant_id);
        goto done;
    }
    if (space_find(s, &sp->id) != NULL) {
        rc = id_taken(err, "space", &sp->id);
        goto done;
    }
    if (space_find_slug(s, &sp->tenant_id, sp->slug) != NULL) {
        rc = fv_error_set(err, FV_E_CONFLICT, "space \"%s\" already exists in this tenant",
                          sp->slug);
        goto done;
    }
    const char *in[2] = {sp->slug, sp->name}, *str[2];
    fv__mem_space *ms = record_block(NULL, sizeof *ms, in, str, 2);
    if (ms == NULL || !fv__mem_map_reserve(&s->spaces_by_id, 1) ||
        !fv__mem_map_reserve(&s->spaces_by_slug, 1)) {
        fv_free(ms);
        rc = fv__mem_exhausted(err);
        goto done;
    }
    ms->s = *sp;
    ms->s.slug = str[0];
    ms->s.name = str[1];
    ms->id_hash = fv_uuid_hash(&sp->id);
    ms->slug_hash = tenant_slug_hash(&sp->tenant_id, sp->slug);
    fv__mem_map_insert(&s->spaces_by_id, ms->id_hash, ms);
    fv__mem_map_insert(&s->spaces_by_slug, ms->slug_hash, ms);
done:
    fv__mem_unlock(s);
    return rc;
}

static fv_err op_get_space(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                           fv_space *out, fv_error *err)
{
    fv_mem_store *s = self;
    fv_err rc = FV_OK;
    fv__mem_rdlock(s);
    const fv__mem_space *ms = space_find(s, id);
    if (ms == NULL || !fv_uuid_eq(&ms->s.tenant_id, tenant))
        rc = id_not_found(err, "space", id);
    else if (!space_copy(a, &ms->s, out))
        rc = fv__mem_exhausted(err);
    fv__mem_unlock(s);
    return rc;
}

static fv_err op_get_space_by_slug(void *self, fv_arena *a, const fv_uuid *tenant, const char *slug,
                                   fv_space *out, fv_error *err)
{
    fv_mem_store *s = self;
    fv_err rc = FV_OK;
    if (slug == NULL)
        return fv_error_set(err, FV_E_NOT_FOUND, "space \"\" not found");
    fv__mem_rdlock(s);
    const fv__mem_space *ms = space_find_slug(s, tenant, slug);
    if (ms == NULL)
        rc = fv_error_set(err, FV_E_NOT_FOUND, "space \"%s\" not found", slug);
    else if (!space_copy(a, &ms->s, out))
        rc = fv__mem_exhausted(err);
    fv__mem_unlock(s);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* API keys                                                                  */
/* ------------------------------------------------------------------------ */

static fv_err op_create_api_key(void *self, const fv_api_key *k, fv_error *err)
{
    fv_mem_store *s = self;
    fv_err rc = FV_OK;
    if (k->prefix == NULL)
        return fv_error_set(err, FV_E_INVALID, "api key prefix must not be empty");
    fv__mem_wrlock(s);
    if (tenant_find(s, &k->tenant_id) == NULL) {
        rc = id_not_found(err, "tenant", &k->tenant_id);
        goto done;
    }
    if (key_find(s, &k->id) != NULL) {
        rc = id_taken(err, "api key", &k->id);
        goto done;
    }
    if (key_find_prefix(s, k->prefix) != NULL) {
        rc = fv_error_set(err, FV_E_CONFLICT, "api key prefix \"%s\" already exists", k->prefix);
        goto done;
    }
    const char *in[2] = {k->name, k->prefix}, *str[2];
    fv__mem_key *mk = record_block(NULL, sizeof *mk, in, str, 2);
    if (mk == NULL || !fv__mem_map_reserve(&s->keys_by_id, 1) ||
        !fv__mem_map_reserve(&s->keys_by_prefix, 1) || !fv__mem_vec_reserve(&s->keys, 1)) {
        fv_free(mk);
        rc = fv__mem_exhausted(err);
        goto done;
    }
    mk->k = *k;
    mk->k.name = str[0];
    mk->k.prefix = str[1];
    mk->seq = s->key_seq++;
    mk->id_hash = fv_uuid_hash(&k->id);
    mk->prefix_hash = str_hash(k->prefix);
    fv__mem_map_insert(&s->keys_by_id, mk->id_hash, mk);
    fv__mem_map_insert(&s->keys_by_prefix, mk->prefix_hash, mk);
    fv__mem_vec_insert(&s->keys, s->keys.n, mk);
done:
    fv__mem_unlock(s);
    return rc;
}

static fv_err op_find_api_key(void *self, fv_arena *a, const char *prefix, fv_api_key *out,
                              fv_error *err)
{
    fv_mem_store *s = self;
    fv_err rc = FV_OK;
    if (prefix == NULL)
        return fv_error_set(err, FV_E_NOT_FOUND, "api key not found");
    fv__mem_rdlock(s);
    const fv__mem_key *mk = key_find_prefix(s, prefix);
    if (mk == NULL)
        rc = fv_error_set(err, FV_E_NOT_FOUND, "api key with prefix \"%s\" not found", prefix);
    else if (!key_copy(a, &mk->k, out))
        rc = fv__mem_exhausted(err);
    fv__mem_unlock(s);
    return rc;
}

static int key_age_cmp(const void *x, const void *y)
{
    const fv__mem_key *a = *(const fv__mem_key *const *)x;
    const fv__mem_key *b = *(const fv__mem_key *const *)y;
    if (a->k.created_at != b->k.created_at)
        return a->k.created_at < b->k.created_at ? -1 : 1;
    return a->seq < b->seq ? -1 : (a->seq > b->seq);
}

static fv_err op_list_api_keys(void *self, fv_arena *a, const fv_uuid *tenant, fv_api_key_list *out,
                               fv_error *err)
{
    fv_mem_store *s = self;
    fv_err rc = FV_OK;
    *out = (fv_api_key_list){NULL, 0};
    fv__mem_rdlock(s);
    size_t n = 0;
    for (size_t i = 0; i < s->keys.n; i++)
        if (fv_uuid_eq(&((const fv__mem_key *)s->keys.v[i])->k.tenant_id, tenant))
            n++;
    const fv__mem_key **mine = fv_arena_calloc(a, n ? n : 1, sizeof *mine);
    fv_api_key *items = fv_arena_calloc(a, n ? n : 1, sizeof *items);
    if (mine == NULL || items == NULL) {
        rc = fv__mem_exhausted(err);
        goto done;
    }
    size_t k = 0;
    for (size_t i = 0; i < s->keys.n; i++) {
        const fv__mem_key *mk = s->keys.v[i];
        if (fv_uuid_eq(&mk->k.tenant_id, tenant))
            mine[k++] = mk;
    }
    qsort(mine, n, sizeof *mine, key_age_cmp);
    for (size_t i = 0; i < n; i++) {
        if (!key_copy(a, &mine[i]->k, &items[i])) {
            rc = fv__mem_exhausted(err);
            goto done;
        }
    }
    *out = (fv_api_key_list){items, n};
done:
    fv__mem_unlock(s);
    return rc;
}

static fv_err op_revoke_api_key(void *self, const fv_uuid *tenant, const fv_uuid *id, fv_time now,
                                fv_error *err)
{
    fv_mem_store *s = self;
    fv_err rc = FV_OK;
    fv__mem_wrlock(s);
    fv__mem_key *mk = key_find(s, id);
    if (mk == NULL || !fv_uuid_eq(&mk->k.tenant_id, tenant))
        rc = id_not_found(err, "api key", id);
    else if (mk->k.revoked_at == FV_TIME_NONE)
        mk->k.revoked_at = now; /* a second revocation keeps the first time */
    fv__mem_unlock(s);
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

fv_tenant_store fv_mem_tenant_store(fv_mem_store *s)
{
    return (fv_tenant_store){&tenant_ops, s};
}
