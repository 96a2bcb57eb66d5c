/* Contract of the tenant and API-key store port (ports/tenant_store.h). */
#include <string.h>

#include "core/util/alloc.h"
#include "tests/support/contract_int.h"

#define SEC ((fv_time)1000)

static fv_api_key key(uint32_t n, const fv_uuid *tenant, const char *prefix, fv_time at)
{
    fv_api_key k;
    memset(&k, 0, sizeof k);
    k.id = ct_uuid(CT_K_KEY, n);
    k.tenant_id = *tenant;
    k.role = FV_ROLE_OPERATOR;
    k.name = "ci";
    k.prefix = prefix;
    for (size_t i = 0; i < FV_API_KEY_HASH_LEN; i++)
        k.hash[i] = (unsigned char)(n * 31u + i);
    k.created_at = at;
    k.revoked_at = FV_TIME_NONE;
    return k;
}

static fv_err create_key(const fv_api_key *k)
{
    fv_error err;
    return fv_tenant_store_create_api_key(ct.d.tenants, k, &err);
}

static void test_tenant_store__create_and_get_tenant(void)
{
    fv_tenant t = {ct_uuid(CT_K_TENANT, 10), "initech", "Initech LLC", CT_T0};
    fv_error err;
    FV_ASSERT_INT_EQ(fv_tenant_store_create_tenant(ct.d.tenants, &t, &err), FV_OK);
    fv_tenant got;
    FV_ASSERT_INT_EQ(fv_tenant_store_get_tenant(ct.d.tenants, &ct.a, &t.id, &got, &err), FV_OK);
    CU_ASSERT(fv_uuid_eq(&got.id, &t.id));
    FV_ASSERT_STR_EQ(got.slug, "initech");
    FV_ASSERT_STR_EQ(got.name, "Initech LLC");
    FV_ASSERT_INT_EQ(got.created_at, CT_T0);
    memset(&got, 0, sizeof got);
    FV_ASSERT_INT_EQ(fv_tenant_store_get_tenant_by_slug(ct.d.tenants, &ct.a, "initech", &got, &err),
                     FV_OK);
    CU_ASSERT(fv_uuid_eq(&got.id, &t.id));
    FV_ASSERT_STR_EQ(got.name, "Initech LLC");
    /* The fixture's tenants are there too, each under its own slug. */
    FV_ASSERT_INT_EQ(fv_tenant_store_get_tenant_by_slug(ct.d.tenants, &ct.a, "acme", &got, &err),
                     FV_OK);
    CU_ASSERT(fv_uuid_eq(&got.id, &ct.t1));
}

static void test_tenant_store__unknown_tenant_not_found(void)
{
    fv_uuid id = ct_uuid(CT_K_OTHER, 1);
    fv_tenant got;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_tenant_store_get_tenant(ct.d.tenants, &ct.a, &id, &got, &err),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_tenant_store_get_tenant_by_slug(ct.d.tenants, &ct.a, "nope", &got, &err),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_tenant_store_get_tenant_by_slug(ct.d.tenants, &ct.a, "acm", &got, &err),
                     FV_E_NOT_FOUND);
}

/* A taken slug or id is a conflict, and the failed create changes nothing. */
static void test_tenant_store__tenant_conflicts(void)
{
    fv_error err;
    fv_tenant dup_slug = {ct_uuid(CT_K_TENANT, 11), "acme", "Impostor", CT_T0};
    FV_ASSERT_INT_EQ(fv_tenant_store_create_tenant(ct.d.tenants, &dup_slug, &err), FV_E_CONFLICT);
    fv_tenant dup_id = {ct.t1, "fresh-slug", "Impostor", CT_T0};
    FV_ASSERT_INT_EQ(fv_tenant_store_create_tenant(ct.d.tenants, &dup_id, &err), FV_E_CONFLICT);
    fv_tenant got;
    FV_ASSERT_INT_EQ(fv_tenant_store_get_tenant(ct.d.tenants, &ct.a, &dup_slug.id, &got, &err),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(
        fv_tenant_store_get_tenant_by_slug(ct.d.tenants, &ct.a, "fresh-slug", &got, &err),
        FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_tenant_store_get_tenant(ct.d.tenants, &ct.a, &ct.t1, &got, &err), FV_OK);
    FV_ASSERT_STR_EQ(got.slug, "acme");
    FV_ASSERT_STR_EQ(got.name, "Acme Corp");
}

static void test_tenant_store__create_and_get_space(void)
{
    fv_space s = {ct_uuid(CT_K_SPACE, 10), ct.t2, "space-new", "New space", CT_T0};
    fv_error err;
    FV_ASSERT_INT_EQ(fv_tenant_store_create_space(ct.d.tenants, &s, &err), FV_OK);
    fv_space got;
    FV_ASSERT_INT_EQ(fv_tenant_store_get_space(ct.d.tenants, &ct.a, &ct.t2, &s.id, &got, &err),
                     FV_OK);
    CU_ASSERT(fv_uuid_eq(&got.id, &s.id));
    CU_ASSERT(fv_uuid_eq(&got.tenant_id, &ct.t2));
    FV_ASSERT_STR_EQ(got.slug, "space-new");
    FV_ASSERT_STR_EQ(got.name, "New space");
    FV_ASSERT_INT_EQ(got.created_at, CT_T0);
    memset(&got, 0, sizeof got);
    FV_ASSERT_INT_EQ(
        fv_tenant_store_get_space_by_slug(ct.d.tenants, &ct.a, &ct.t2, "space-new", &got, &err),
        FV_OK);
    CU_ASSERT(fv_uuid_eq(&got.id, &s.id));
    FV_ASSERT_INT_EQ(
        fv_tenant_store_get_space_by_slug(ct.d.tenants, &ct.a, &ct.t1, "space-one", &got, &err),
        FV_OK);
    CU_ASSERT(fv_uuid_eq(&got.id, &ct.s1));
}

/* Space slugs are unique per tenant, not across tenants. */
static void test_tenant_store__space_slug_unique_per_tenant(void)
{
    fv_error err;
    fv_space dup = {ct_uuid(CT_K_SPACE, 11), ct.t1, "space-one", "Dup", CT_T0};
    FV_ASSERT_INT_EQ(fv_tenant_store_create_space(ct.d.tenants, &dup, &err), FV_E_CONFLICT);
    fv_space got;
    FV_ASSERT_INT_EQ(fv_tenant_store_get_space(ct.d.tenants, &ct.a, &ct.t1, &dup.id, &got, &err),
                     FV_E_NOT_FOUND);
    fv_space elsewhere = {ct_uuid(CT_K_SPACE, 12), ct.t2, "space-one", "Same slug", CT_T0};
    FV_ASSERT_INT_EQ(fv_tenant_store_create_space(ct.d.tenants, &elsewhere, &err), FV_OK);
    FV_ASSERT_INT_EQ(
        fv_tenant_store_get_space_by_slug(ct.d.tenants, &ct.a, &ct.t2, "space-one", &got, &err),
        FV_OK);
    CU_ASSERT(fv_uuid_eq(&got.id, &elsewhere.id));
    FV_ASSERT_INT_EQ(
        fv_tenant_store_get_space_by_slug(ct.d.tenants, &ct.a, &ct.t1, "space-one", &got, &err),
        FV_OK);
    CU_ASSERT(fv_uuid_eq(&got.id, &ct.s1));
    fv_space dup_id = {ct.s1, ct.t2, "space-three", "Dup id", CT_T0};
    FV_ASSERT_INT_EQ(fv_tenant_store_create_space(ct.d.tenants, &dup_id, &err), FV_E_CONFLICT);
    FV_ASSERT_INT_EQ(
        fv_tenant_store_get_space_by_slug(ct.d.tenants, &ct.a, &ct.t2, "space-three", &got, &err),
        FV_E_NOT_FOUND);
}

static void test_tenant_store__space_of_unknown_tenant_not_found(void)
{
    fv_uuid nowhere = ct_uuid(CT_K_OTHER, 1);
    fv_space s = {ct_uuid(CT_K_SPACE, 13), nowhere, "space-x", "X", CT_T0};
    fv_error err;
    FV_ASSERT_INT_EQ(fv_tenant_store_create_space(ct.d.tenants, &s, &err), FV_E_NOT_FOUND);
    fv_space got;
    FV_ASSERT_INT_EQ(fv_tenant_store_get_space(ct.d.tenants, &ct.a, &nowhere, &s.id, &got, &err),
                     FV_E_NOT_FOUND);
}

/* A space of another tenant does not exist for the caller. */
static void test_tenant_store__space_of_other_tenant_not_found(void)
{
    fv_space got;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_tenant_store_get_space(ct.d.tenants, &ct.a, &ct.t2, &ct.s1, &got, &err),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(
        fv_tenant_store_get_space_by_slug(ct.d.tenants, &ct.a, &ct.t2, "space-one", &got, &err),
        FV_E_NOT_FOUND);
    fv_uuid nowhere = ct_uuid(CT_K_OTHER, 2);
    FV_ASSERT_INT_EQ(fv_tenant_store_get_space(ct.d.tenants, &ct.a, &ct.t1, &nowhere, &got, &err),
                     FV_E_NOT_FOUND);
}

static void test_tenant_store__api_key_create_and_find_by_prefix(void)
{
    fv_api_key k = key(1, &ct.t1, "fv_ab12", CT_T0);
    k.role = FV_ROLE_ADMIN;
    k.name = "deploy";
    FV_ASSERT_INT_EQ(create_key(&k), FV_OK);
    fv_api_key got;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_tenant_store_find_api_key(ct.d.tenants, &ct.a, "fv_ab12", &got, &err),
                     FV_OK);
    CU_ASSERT(fv_uuid_eq(&got.id, &k.id));
    CU_ASSERT(fv_uuid_eq(&got.tenant_id, &ct.t1));
    FV_ASSERT_INT_EQ(got.role, FV_ROLE_ADMIN);
    FV_ASSERT_STR_EQ(got.name, "deploy");
    FV_ASSERT_STR_EQ(got.prefix, "fv_ab12");
    CU_ASSERT(memcmp(got.hash, k.hash, FV_API_KEY_HASH_LEN) == 0);
    FV_ASSERT_INT_EQ(got.created_at, CT_T0);
    FV_ASSERT_INT_EQ(got.revoked_at, FV_TIME_NONE);
    FV_ASSERT_INT_EQ(fv_tenant_store_find_api_key(ct.d.tenants, &ct.a, "fv_ab1", &got, &err),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_tenant_store_find_api_key(ct.d.tenants, &ct.a, "fv_zz99", &got, &err),
                     FV_E_NOT_FOUND);
}

/* Prefixes and ids are unique across tenants; a key needs its tenant. */
static void test_tenant_store__api_key_conflicts(void)
{
    fv_api_key k = key(1, &ct.t1, "fv_one", CT_T0);
    FV_ASSERT_INT_EQ(create_key(&k), FV_OK);
    fv_api_key same_prefix = key(2, &ct.t2, "fv_one", CT_T0);
    FV_ASSERT_INT_EQ(create_key(&same_prefix), FV_E_CONFLICT);
    fv_api_key same_id = key(1, &ct.t1, "fv_two", CT_T0);
    FV_ASSERT_INT_EQ(create_key(&same_id), FV_E_CONFLICT);
    fv_uuid nowhere = ct_uuid(CT_K_OTHER, 1);
    fv_api_key orphan = key(3, &nowhere, "fv_three", CT_T0);
    FV_ASSERT_INT_EQ(create_key(&orphan), FV_E_NOT_FOUND);

    fv_api_key got;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_tenant_store_find_api_key(ct.d.tenants, &ct.a, "fv_one", &got, &err),
                     FV_OK);
    CU_ASSERT(fv_uuid_eq(&got.id, &k.id));
    CU_ASSERT(fv_uuid_eq(&got.tenant_id, &ct.t1));
    FV_ASSERT_INT_EQ(fv_tenant_store_find_api_key(ct.d.tenants, &ct.a, "fv_two", &got, &err),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_tenant_store_find_api_key(ct.d.tenants, &ct.a, "fv_three", &got, &err),
                     FV_E_NOT_FOUND);
    fv_api_key_list l;
    FV_ASSERT_INT_EQ(fv_tenant_store_list_api_keys(ct.d.tenants, &ct.a, &ct.t2, &l, &err), FV_OK);
    FV_ASSERT_INT_EQ(l.n, 0);
}

/* Keys of one tenant, oldest first; never another tenant's. */
static void test_tenant_store__list_api_keys_oldest_first(void)
{
    fv_api_key k2 = key(2, &ct.t1, "fv_b", CT_T0 + 2 * SEC);
    fv_api_key k1 = key(1, &ct.t1, "fv_a", CT_T0 + SEC);
    fv_api_key k3 = key(3, &ct.t1, "fv_c", CT_T0 + 3 * SEC);
    fv_api_key other = key(4, &ct.t2, "fv_d", CT_T0);
    FV_ASSERT_INT_EQ(create_key(&k2), FV_OK);
    FV_ASSERT_INT_EQ(create_key(&k3), FV_OK);
    FV_ASSERT_INT_EQ(create_key(&other), FV_OK);
    FV_ASSERT_INT_EQ(create_key(&k1), FV_OK);
    fv_api_key_list l;
    fv_error err;
    FV_ASSERT_INT_EQ(fv_tenant_store_list_api_keys(ct.d.tenants, &ct.a, &ct.t1, &l, &err), FV_OK);
    CU_ASSERT_FATAL(l.n == 3);
    FV_ASSERT_STR_EQ(l.items[0].prefix, "fv_a");
    FV_ASSERT_STR_EQ(l.items[1].prefix, "fv_b");
    FV_ASSERT_STR_EQ(l.items[2].prefix, "fv_c");
    CU_ASSERT(memcmp(l.items[1].hash, k2.hash, FV_API_KEY_HASH_LEN) == 0);
    FV_ASSERT_INT_EQ(fv_tenant_store_list_api_keys(ct.d.tenants, &ct.a, &ct.t2, &l, &err), FV_OK);
    CU_ASSERT(l.n == 1 && fv_uuid_eq(&l.items[0].id, &other.id));
    fv_uuid nowhere = ct_uuid(CT_K_OTHER, 1);
    fv_err rc = fv_tenant_store_list_api_keys(ct.d.tenants, &ct.a, &nowhere, &l, &err);
    CU_ASSERT(rc == FV_E_NOT_FOUND || (rc == FV_OK && l.n == 0));
}

/* Revocation sets revoked_at once; again is a no-op; revoked keys are still
 * found (so that the edge can tell "revoked" from "unknown"). */
static void test_tenant_store__revoke_api_key_idempotent(void)
{
    fv_api_key k = key(1, &ct.t1, "fv_rev", CT_T0);
    fv_api_key keep = key(2, &ct.t1, "fv_keep", CT_T0);
    FV_ASSERT_INT_EQ(create_key(&k), FV_OK);
    FV_ASSERT_INT_EQ(create_key(&keep), FV_OK);
    fv_error err;
    FV_ASSERT_INT_EQ(
        fv_tenant_store_revoke_api_key(ct.d.tenants, &ct.t1, &k.id, CT_T0 + 10 * SEC, &err), FV_OK);
    fv_api_key got;
    FV_ASSERT_INT_EQ(fv_tenant_store_find_api_key(ct.d.tenants, &ct.a, "fv_rev", &got, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(got.revoked_at, CT_T0 + 10 * SEC);
    FV_ASSERT_INT_EQ(
        fv_tenant_store_revoke_api_key(ct.d.tenants, &ct.t1, &k.id, CT_T0 + 20 * SEC, &err), FV_OK);
    FV_ASSERT_INT_EQ(fv_tenant_store_find_api_key(ct.d.tenants, &ct.a, "fv_rev", &got, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(got.revoked_at, CT_T0 + 10 * SEC);
    FV_ASSERT_INT_EQ(fv_tenant_store_find_api_key(ct.d.tenants, &ct.a, "fv_keep", &got, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(got.revoked_at, FV_TIME_NONE);
}

static void test_tenant_store__revoke_other_tenant_not_found(void)
{
    fv_api_key k = key(1, &ct.t1, "fv_mine", CT_T0);
    FV_ASSERT_INT_EQ(create_key(&k), FV_OK);
    fv_error err;
    FV_ASSERT_INT_EQ(fv_tenant_store_revoke_api_key(ct.d.tenants, &ct.t2, &k.id, CT_T0, &err),
                     FV_E_NOT_FOUND);
    fv_uuid nowhere = ct_uuid(CT_K_OTHER, 1);
    FV_ASSERT_INT_EQ(fv_tenant_store_revoke_api_key(ct.d.tenants, &ct.t1, &nowhere, CT_T0, &err),
                     FV_E_NOT_FOUND);
    fv_api_key got;
    FV_ASSERT_INT_EQ(fv_tenant_store_find_api_key(ct.d.tenants, &ct.a, "fv_mine", &got, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(got.revoked_at, FV_TIME_NONE);
}

/* The store copies its input and reads copy out. */
static void test_tenant_store__results_live_in_callers_arena(void)
{
    char *slug = fv_strdup("heap-slug");
    char *name = fv_strdup("Heap Name");
    char *prefix = fv_strdup("fv_heap");
    CU_ASSERT_FATAL(slug && name && prefix);
    fv_tenant t = {ct_uuid(CT_K_TENANT, 20), slug, name, CT_T0};
    fv_error err;
    FV_ASSERT_INT_EQ(fv_tenant_store_create_tenant(ct.d.tenants, &t, &err), FV_OK);
    fv_api_key k = key(1, &t.id, prefix, CT_T0);
    k.name = name;
    FV_ASSERT_INT_EQ(create_key(&k), FV_OK);
    memset(slug, 'X', strlen(slug));
    memset(name, 'X', strlen(name));
    memset(prefix, 'X', strlen(prefix));
    fv_free(slug);
    fv_free(name);
    fv_free(prefix);

    fv_arena mine;
    fv_arena_init(&mine, 0);
    fv_tenant got;
    fv_api_key gk;
    FV_ASSERT_INT_EQ(
        fv_tenant_store_get_tenant_by_slug(ct.d.tenants, &mine, "heap-slug", &got, &err), FV_OK);
    FV_ASSERT_STR_EQ(got.name, "Heap Name");
    FV_ASSERT_INT_EQ(fv_tenant_store_find_api_key(ct.d.tenants, &mine, "fv_heap", &gk, &err),
                     FV_OK);
    FV_ASSERT_STR_EQ(gk.name, "Heap Name");
    FV_ASSERT_INT_EQ(fv_tenant_store_revoke_api_key(ct.d.tenants, &t.id, &k.id, CT_T0 + SEC, &err),
                     FV_OK);
    FV_ASSERT_INT_EQ(gk.revoked_at, FV_TIME_NONE);
    FV_ASSERT_STR_EQ(gk.prefix, "fv_heap");
    fv_arena_release(&mine);
    FV_ASSERT_INT_EQ(fv_tenant_store_find_api_key(ct.d.tenants, &ct.a, "fv_heap", &gk, &err),
                     FV_OK);
    FV_ASSERT_STR_EQ(gk.prefix, "fv_heap");
    FV_ASSERT_INT_EQ(gk.revoked_at, CT_T0 + SEC);
}

const fv_test_case ct_tenant_cases[] = {
    FV_TEST_CASE(test_tenant_store__create_and_get_tenant),
    FV_TEST_CASE(test_tenant_store__unknown_tenant_not_found),
    FV_TEST_CASE(test_tenant_store__tenant_conflicts),
    FV_TEST_CASE(test_tenant_store__create_and_get_space),
    FV_TEST_CASE(test_tenant_store__space_slug_unique_per_tenant),
    FV_TEST_CASE(test_tenant_store__space_of_unknown_tenant_not_found),
    FV_TEST_CASE(test_tenant_store__space_of_other_tenant_not_found),
    FV_TEST_CASE(test_tenant_store__api_key_create_and_find_by_prefix),
    FV_TEST_CASE(test_tenant_store__api_key_conflicts),
    FV_TEST_CASE(test_tenant_store__list_api_keys_oldest_first),
    FV_TEST_CASE(test_tenant_store__revoke_api_key_idempotent),
    FV_TEST_CASE(test_tenant_store__revoke_other_tenant_not_found),
    FV_TEST_CASE(test_tenant_store__results_live_in_callers_arena),
};
const size_t ct_tenant_cases_n = FV_TEST_COUNT(ct_tenant_cases);
