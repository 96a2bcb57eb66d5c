/*
 * API keys and authentication (core/usecases/auth_usecases.h) on the
 * in-memory adapter with nettle's SHA-256: issuing for each role, the key
 * text, prefix collisions, every malformed authorization value, wrong
 * secrets, revocation, keys whose role disagrees with their kind, tenant and
 * role checks, storage failures, allocation failures, and the SHA-256
 * adapter against known vectors.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "adapters/crypto/crypto.h"
#include "core/usecases/auth_usecases.h"
#include "core/util/alloc.h"
#include "tests/support/cunit_main.h"
#include "tests/support/fixture.h"

static fv_fixture fx;

static int setup(void)
{
    return fv_fixture_init(&fx);
}

static void teardown(void)
{
    fv_alloc_fail_reset();
    fv_fixture_release(&fx);
}

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */
/* ---------------------------------------------------------------------- */

static const fv_role all_roles[] = {FV_ROLE_WORKER, FV_ROLE_OPERATOR, FV_ROLE_ADMIN};

static fv_issued_key must_issue(const fv_uuid *tenant, fv_role role, const char *name)
{
    fv_issued_key k;
    memset(&k, 0, sizeof k);
    fv_error e;
    fv_err rc = fv_api_key_issue(&fx.deps, &fx.arena, tenant, role, name, &k, &e);
    if (rc != FV_OK)
        fprintf(stderr, "\n  issue failed: %s: %s\n", fv_err_name(rc), e.msg);
    CU_ASSERT_FATAL(rc == FV_OK);
    return k;
}

/* "Bearer <text>" in the fixture's arena. */
static const char *bearer(const char *text)
{
    char *s = fv_arena_printf(&fx.arena, "Bearer %s", text);
    CU_ASSERT_FATAL(s != NULL);
    return s;
}

static fv_err auth(const char *authorization, fv_principal *p, fv_error *e)
{
    fv_error_clear(e);
    return fv_authenticate(&fx.deps, &fx.arena, authorization, p, e);
}

static size_t key_count(const fv_uuid *tenant)
{
    fv_api_key_list l = {NULL, 0};
    fv_err rc = fv_tenant_store_list_api_keys(fx.deps.tenants, &fx.arena, tenant, &l, NULL);
    FV_ASSERT_INT_EQ(rc, FV_OK);
    return l.n;
}

/* A copy of s in the fixture's arena with s[at] replaced by c. */
static char *with_char(const char *s, size_t at, char c)
{
    char *t = fv_arena_strdup(&fx.arena, s);
    CU_ASSERT_FATAL(t != NULL);
    t[at] = c;
    return t;
}

static bool principal_is_empty(const fv_principal *p)
{
    fv_principal zero;
    memset(&zero, 0, sizeof zero);
    return memcmp(p, &zero, sizeof zero) == 0;
}

/* The error message names no part of the key's random text. */
static bool message_hides_key(const char *msg, const char *text)
{
    char prefix[17], secret[44];
    memcpy(prefix, text + 10, 16);
    prefix[16] = '\0';
    memcpy(secret, text + 27, 43);
    secret[43] = '\0';
    /* Any 8 consecutive characters of either part would be a leak. */
    for (size_t i = 0; i + 8 <= 16; i++)
        for (size_t j = 0; msg[j] != '\0'; j++)
            if (strncmp(msg + j, prefix + i, 8) == 0)
                return false;
    for (size_t i = 0; i + 8 <= 43; i++)
        for (size_t j = 0; msg[j] != '\0'; j++)
            if (strncmp(msg + j, secret + i, 8) == 0)
                return false;
    return true;
}

static void hex_decode(const char *hex, unsigned char *out)
{
    for (size_t i = 0; hex[2 * i] != '\0'; i++) {
        unsigned v = 0;
        CU_ASSERT_FATAL(sscanf(hex + 2 * i, "%2x", &v) == 1);
        out[i] = (unsigned char)v;
    }
}

static bool b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* ---------------------------------------------------------------------- */
/* Issuing and the key text                                               */
/* ---------------------------------------------------------------------- */

static void test_auth__issue_then_authenticate_for_each_role(void)
{
    for (size_t i = 0; i < FV_TEST_COUNT(all_roles); i++) {
        fv_issued_key k = must_issue(&fx.tenant, all_roles[i], "ci key");
        fv_principal p;
        fv_error e;
        FV_ASSERT_INT_EQ(auth(bearer(k.text), &p, &e), FV_OK);
        CU_ASSERT(fv_uuid_eq(&p.tenant_id, &fx.tenant));
        CU_ASSERT(fv_uuid_eq(&p.key_id, &k.key.id));
        FV_ASSERT_INT_EQ(p.role, all_roles[i]);
        FV_ASSERT_INT_EQ(fv_authorize_tenant(&p, &fx.tenant, &e), FV_OK);
        FV_ASSERT_INT_EQ(fv_authorize_role(&p, FV_ROLE_BIT(all_roles[i]), &e), FV_OK);
    }
    FV_ASSERT_INT_EQ(key_count(&fx.tenant), 3);
}

static void test_auth__the_scheme_is_case_insensitive_and_spaces_may_repeat(void)
{
    fv_issued_key k = must_issue(&fx.tenant, FV_ROLE_WORKER, "w");
    const char *schemes[] = {"Bearer ", "bearer ", "BEARER ", "BeArEr ", "Bearer    "};
    for (size_t i = 0; i < FV_TEST_COUNT(schemes); i++) {
        const char *v = fv_arena_printf(&fx.arena, "%s%s", schemes[i], k.text);
        fv_principal p;
        fv_error e;
        FV_ASSERT_INT_EQ(auth(v, &p, &e), FV_OK);
        FV_ASSERT_INT_EQ(p.role, FV_ROLE_WORKER);
    }
}

static void test_auth__key_text_format_and_what_is_stored(void)
{
    for (size_t r = 0; r < FV_TEST_COUNT(all_roles); r++) {
        fv_issued_key k = must_issue(&fx.tenant, all_roles[r], "format");
        const char *t = k.text;
        FV_ASSERT_INT_EQ(strlen(t), FV_API_KEY_TEXT_LEN);
        CU_ASSERT(strncmp(t, all_roles[r] == FV_ROLE_WORKER ? "flovyn_wk_" : "flovyn_sk_", 10) ==
                  0);
        /* Prefix: 16 lower-case hex digits, the stored lookup part. */
        FV_ASSERT_INT_EQ(strlen(k.key.prefix), 16);
        CU_ASSERT(strncmp(t + 10, k.key.prefix, 16) == 0);
        for (size_t i = 0; i < 16; i++) {
            char c = k.key.prefix[i];
            CU_ASSERT((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
        }
        CU_ASSERT(t[26] == '_');
        /* Secret: 43 base64url characters, canonical (last one encodes 4 bits). */
        for (size_t i = 27; i < 70; i++)
            CU_ASSERT(b64url_char(t[i]));
        CU_ASSERT(strchr("AEIMQUYcgkosw048", t[69]) != NULL);
        /* Only SHA-256 of the whole text is stored. */
        unsigned char h[FV_SHA256_LEN];
        fv_hasher_sha256(fx.deps.hasher, t, strlen(t), h);
        CU_ASSERT(memcmp(h, k.key.hash, sizeof h) == 0);
        fv_api_key stored;
        FV_ASSERT_INT_EQ(
            fv_tenant_store_find_api_key(fx.deps.tenants, &fx.arena, k.key.prefix, &stored, NULL),
            FV_OK);
        CU_ASSERT(memcmp(stored.hash, h, sizeof h) == 0);
        CU_ASSERT(fv_uuid_eq(&stored.id, &k.key.id));
        CU_ASSERT(fv_uuid_eq(&stored.tenant_id, &fx.tenant));
        FV_ASSERT_INT_EQ(stored.role, all_roles[r]);
        FV_ASSERT_STR_EQ(stored.name, "format");
        FV_ASSERT_INT_EQ(stored.created_at, fv_fixture_now(&fx));
        FV_ASSERT_INT_EQ(stored.revoked_at, FV_TIME_NONE);
        CU_ASSERT(strstr(stored.prefix, t + 27) == NULL && strstr(stored.name, t + 27) == NULL);
    }
}

static void test_auth__issued_keys_are_distinct(void)
{
    enum { N = 64 };
    const char *texts[N];
    for (size_t i = 0; i < N; i++)
        texts[i] = must_issue(&fx.tenant, FV_ROLE_OPERATOR, "many").text;
    for (size_t i = 0; i < N; i++)
        for (size_t j = i + 1; j < N; j++) {
            CU_ASSERT(strncmp(texts[i] + 10, texts[j] + 10, 16) != 0);
            CU_ASSERT(strcmp(texts[i] + 27, texts[j] + 27) != 0);
        }
    FV_ASSERT_INT_EQ(key_count(&fx.tenant), N);
}

/* An id source whose random bytes are a constant while `fixed` says so (a
 * negative count: forever), so that every key drawn has the same prefix. */
typedef struct stuck_ids {
    fv_ids inner;
    int fixed;
} stuck_ids;

static fv_err stuck_new_uuid(void *self, fv_uuid *out, fv_error *err)
{
    stuck_ids *s = self;
    return fv_ids_new_uuid(s->inner, out, err);
}

static fv_err stuck_random(void *self, void *buf, size_t n, fv_error *err)
{
    stuck_ids *s = self;
    if (s->fixed == 0)
        return fv_ids_random(s->inner, buf, n, err);
    if (s->fixed > 0)
        s->fixed--;
    memset(buf, 0x11, n);
    return FV_OK;
}

static const fv_ids_ops stuck_ids_ops = {
    .new_uuid = stuck_new_uuid,
    .random = stuck_random,
    .destroy = NULL,
};

static void test_auth__a_taken_prefix_is_drawn_again_or_refused_clearly(void)
{
    stuck_ids s = {fx.deps.ids, -1};
    fv_ids real = fx.deps.ids;
    fx.deps.ids = (fv_ids){&stuck_ids_ops, &s};

    fv_issued_key first = must_issue(&fx.tenant, FV_ROLE_WORKER, "first");
    FV_ASSERT_STR_EQ(first.key.prefix, "1111111111111111");

    /* The source keeps giving the same prefix: a clear error, nothing stored. */
    fv_issued_key k;
    fv_error e;
    fv_err rc = fv_api_key_issue(&fx.deps, &fx.arena, &fx.tenant, FV_ROLE_WORKER, "second", &k, &e);
    FV_ASSERT_INT_EQ(rc, FV_E_INTERNAL);
    CU_ASSERT(strstr(e.msg, "prefix") != NULL);
    FV_ASSERT_INT_EQ(key_count(&fx.tenant), 1);

    /* One collision, then a fresh draw: issued under another prefix. */
    s.fixed = 1;
    fv_issued_key third = must_issue(&fx.tenant, FV_ROLE_WORKER, "third");
    CU_ASSERT(strcmp(third.key.prefix, first.key.prefix) != 0);
    FV_ASSERT_INT_EQ(key_count(&fx.tenant), 2);

    fx.deps.ids = real;
    fv_principal p;
    FV_ASSERT_INT_EQ(auth(bearer(first.text), &p, &e), FV_OK);
    CU_ASSERT(fv_uuid_eq(&p.key_id, &first.key.id));
    FV_ASSERT_INT_EQ(auth(bearer(third.text), &p, &e), FV_OK);
    CU_ASSERT(fv_uuid_eq(&p.key_id, &third.key.id));
}

static void test_auth__issuing_rejects_bad_input_and_stores_nothing(void)
{
    fv_issued_key k;
    fv_error e;
    fv_uuid nowhere;
    memset(&nowhere, 0x42, sizeof nowhere);
    FV_ASSERT_INT_EQ(fv_api_key_issue(&fx.deps, &fx.arena, &nowhere, FV_ROLE_WORKER, "w", &k, &e),
                     FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(key_count(&nowhere), 0);

    char *long_name = fv_fixture_str(&fx.arena, 'n', FV_API_KEY_NAME_MAX + 1);
    const char *bad_names[] = {NULL, "", long_name, "tab\there", "nl\n", "\xff\xfe", "del\x7f"};
    for (size_t i = 0; i < FV_TEST_COUNT(bad_names); i++) {
        fv_error_clear(&e);
        fv_err rc =
            fv_api_key_issue(&fx.deps, &fx.arena, &fx.tenant, FV_ROLE_WORKER, bad_names[i], &k, &e);
        FV_ASSERT_INT_EQ(rc, FV_E_INVALID);
        CU_ASSERT(strstr(e.msg, "api key name") != NULL);
    }
    const int bad_roles[] = {0, 4, -1, 1000};
    for (size_t i = 0; i < FV_TEST_COUNT(bad_roles); i++) {
        fv_err rc =
            fv_api_key_issue(&fx.deps, &fx.arena, &fx.tenant, (fv_role)bad_roles[i], "w", &k, &e);
        FV_ASSERT_INT_EQ(rc, FV_E_INVALID);
        CU_ASSERT(strstr(e.msg, "role") != NULL);
    }
    FV_ASSERT_INT_EQ(fv_api_key_issue(&fx.deps, &fx.arena, NULL, FV_ROLE_WORKER, "w", &k, &e),
                     FV_E_INVALID);
    FV_ASSERT_INT_EQ(key_count(&fx.tenant), 0);

    /* The longest name is fine. */
    char *longest = fv_fixture_str(&fx.arena, 'n', FV_API_KEY_NAME_MAX);
    must_issue(&fx.tenant, FV_ROLE_ADMIN, longest);
    FV_ASSERT_INT_EQ(key_count(&fx.tenant), 1);
}

/* ---------------------------------------------------------------------- */
/* Refused authorization values                                           */
/* ---------------------------------------------------------------------- */

static void test_auth__every_malformed_authorization_is_unauthenticated(void)
{
    fv_issued_key k = must_issue(&fx.tenant, FV_ROLE_WORKER, "w");
    const char *K = k.text;
    fv_arena *a = &fx.arena;
    char *too_long_key = fv_arena_printf(a, "Bearer %s%s", K, fv_fixture_str(a, 'A', 60));
    char *huge = fv_fixture_str(a, 'A', 100000);
    memcpy(huge, "Bearer ", 7);
    char *long_value = fv_fixture_str(a, ' ', FV_AUTHORIZATION_MAX + 1);
    memcpy(long_value, "Bearer", 6);
    memcpy(long_value + FV_AUTHORIZATION_MAX + 1 - 70, K, 70);
    const struct {
        const char *what;
        const char *value;
        const char *why; /* a substring of the message */
    } cases[] = {
        {"NULL", NULL, "missing authorization"},
        {"empty", "", "missing authorization"},
        {"scheme only", "Bearer", "missing api key"},
        {"scheme and one space", "Bearer ", "missing api key"},
        {"scheme and two spaces", "Bearer  ", "missing api key"},
        {"basic scheme", "Basic x", "bearer scheme"},
        {"basic scheme with the key", fv_arena_printf(a, "Basic %s", K), "bearer scheme"},
        {"token scheme", fv_arena_printf(a, "Token %s", K), "bearer scheme"},
        {"no scheme", K, "bearer scheme"},
        {"no space after the scheme", fv_arena_printf(a, "Bearer%s", K), "bearer scheme"},
        {"colon after the scheme", fv_arena_printf(a, "Bearer:%s", K), "bearer scheme"},
        {"longer scheme", fv_arena_printf(a, "Bearers %s", K), "bearer scheme"},
        {"leading space", fv_arena_printf(a, " Bearer %s", K), "bearer scheme"},
        {"trailing space", fv_arena_printf(a, "Bearer %s ", K), "wrong length"},
        {"tab after the scheme", fv_arena_printf(a, "Bearer\t%s", K), "control characters"},
        {"crlf after the key", fv_arena_printf(a, "Bearer %s\r\n", K), "control characters"},
        {"newline in the key", bearer(with_char(K, 30, '\n')), "control characters"},
        {"DEL in the key", bearer(with_char(K, 30, '\x7f')), "control characters"},
        {"SOH in the key", bearer(with_char(K, 12, '\x01')), "control characters"},
        {"escape in the scheme", fv_arena_printf(a, "Bear\x1br %s", K), "control characters"},
        {"wrong family", bearer(with_char(K, 5, 'x')), "not a flovyn key"},
        {"upper-case family", fv_arena_printf(a, "Bearer FLOVYN%s", K + 6), "not a flovyn key"},
        {"fwt token", "Bearer fwt_placeholder-00000000-0000-0000-0000-000000000000",
         "wrong length"},
        {"harness token", "Bearer flovyn_wk_test_0123456789abcdef", "wrong length"},
        {"unknown kind", bearer(with_char(K, 7, 'x')), "unknown key kind"},
        {"upper-case kind", fv_arena_printf(a, "Bearer flovyn_WK%s", K + 9), "unknown key kind"},
        {"separator after the kind", bearer(with_char(K, 9, '-')), "not a flovyn key"},
        {"separator after the prefix", bearer(with_char(K, 26, '-')), "not a flovyn key"},
        {"short prefix", fv_arena_printf(a, "Bearer %.25s%s", K, K + 26), "wrong length"},
        {"long prefix", fv_arena_printf(a, "Bearer %.26s0%s", K, K + 26), "wrong length"},
        {"prefix 17, secret 42", fv_arena_printf(a, "Bearer %.26s0%.43s", K, K + 26),
         "not a flovyn key"},
        {"upper-case hex", bearer(with_char(K, 10, 'A')), "lower-case hex"},
        {"non-hex prefix", bearer(with_char(K, 15, 'g')), "lower-case hex"},
        {"short secret", fv_arena_printf(a, "Bearer %.69s", K), "wrong length"},
        {"long secret", fv_arena_printf(a, "Bearer %sA", K), "wrong length"},
        {"secret with '+'", bearer(with_char(K, 40, '+')), "base64url"},
        {"secret with '/'", bearer(with_char(K, 40, '/')), "base64url"},
        {"secret with padding", bearer(with_char(K, 69, '=')), "base64url"},
        {"secret with '.'", bearer(with_char(K, 28, '.')), "base64url"},
        {"secret with UTF-8", fv_arena_printf(a, "Bearer %.50s\xc3\xa9%s", K, K + 52), "base64url"},
        {"non-canonical secret", bearer(with_char(K, 69, 'B')), "canonical"},
        {"over-long key", too_long_key, "api key is too long"},
        {"over-long value", long_value, "authorization is too long"},
        {"100 kB value", huge, "authorization is too long"},
    };
    for (size_t i = 0; i < FV_TEST_COUNT(cases); i++) {
        fv_principal p;
        memset(&p, 0xAB, sizeof p);
        fv_error e;
        fv_err rc = auth(cases[i].value, &p, &e);
        if (rc != FV_E_UNAUTHENTICATED)
            fprintf(stderr, "\n  %s: %s (%s)\n", cases[i].what, fv_err_name(rc), e.msg);
        FV_ASSERT_INT_EQ(rc, FV_E_UNAUTHENTICATED);
        CU_ASSERT(principal_is_empty(&p));
        if (strstr(e.msg, cases[i].why) == NULL)
            fprintf(stderr, "\n  %s: \"%s\" does not say \"%s\"\n", cases[i].what, e.msg,
                    cases[i].why);
        CU_ASSERT(strstr(e.msg, cases[i].why) != NULL);
        CU_ASSERT(message_hides_key(e.msg, K));
        /* A refused principal is refused everywhere. */
        CU_ASSERT(fv_authorize_tenant(&p, &fx.tenant, NULL) == FV_E_PERMISSION);
        CU_ASSERT(fv_authorize_role(&p, ~0u, NULL) == FV_E_PERMISSION);
    }
    /* The key itself still works. */
    fv_principal p;
    fv_error e;
    FV_ASSERT_INT_EQ(auth(bearer(K), &p, &e), FV_OK);
}

static void test_auth__right_prefix_wrong_secret_is_unauthenticated(void)
{
    fv_issued_key k = must_issue(&fx.tenant, FV_ROLE_OPERATOR, "op");
    const char *K = k.text;
    /* Each still well formed: only the hash tells them apart. */
    const char *wrong[] = {
        with_char(K, 27, K[27] == 'a' ? 'b' : 'a'), with_char(K, 50, K[50] == '-' ? '_' : '-'),
        with_char(K, 69, K[69] == 'A' ? 'E' : 'A'),
        with_char(K, 7, 'w'), /* the same prefix and secret as a worker key */
    };
    for (size_t i = 0; i < FV_TEST_COUNT(wrong); i++) {
        fv_principal p;
        fv_error e;
        FV_ASSERT_INT_EQ(auth(bearer(wrong[i]), &p, &e), FV_E_UNAUTHENTICATED);
        FV_ASSERT_STR_EQ(e.msg, "api key does not match");
        CU_ASSERT(principal_is_empty(&p));
    }
    /* An unknown prefix. */
    fv_principal p;
    fv_error e;
    FV_ASSERT_INT_EQ(auth(bearer(with_char(K, 12, K[12] == '0' ? '1' : '0')), &p, &e),
                     FV_E_UNAUTHENTICATED);
    FV_ASSERT_STR_EQ(e.msg, "unknown api key");
    CU_ASSERT(message_hides_key(e.msg, K));
}

static void test_auth__a_revoked_key_is_unauthenticated_at_once(void)
{
    fv_issued_key k = must_issue(&fx.tenant, FV_ROLE_WORKER, "old");
    fv_issued_key other = must_issue(&fx.tenant, FV_ROLE_WORKER, "new");
    fv_principal p;
    fv_error e;
    FV_ASSERT_INT_EQ(auth(bearer(k.text), &p, &e), FV_OK);

    fv_fixture_advance(&fx, 5000);
    FV_ASSERT_INT_EQ(fv_api_key_revoke(&fx.deps, &fx.tenant, &k.key.id, &e), FV_OK);
    FV_ASSERT_INT_EQ(auth(bearer(k.text), &p, &e), FV_E_UNAUTHENTICATED);
    FV_ASSERT_STR_EQ(e.msg, "api key has been revoked");
    CU_ASSERT(principal_is_empty(&p));

    /* Revoking again keeps the first time; the other key still works. */
    fv_fixture_advance(&fx, 5000);
    FV_ASSERT_INT_EQ(fv_api_key_revoke(&fx.deps, &fx.tenant, &k.key.id, &e), FV_OK);
    fv_api_key stored;
    FV_ASSERT_INT_EQ(
        fv_tenant_store_find_api_key(fx.deps.tenants, &fx.arena, k.key.prefix, &stored, NULL),
        FV_OK);
    FV_ASSERT_INT_EQ(stored.revoked_at, FV_FIXTURE_T0 + 5000);
    FV_ASSERT_INT_EQ(auth(bearer(other.text), &p, &e), FV_OK);
    CU_ASSERT(fv_uuid_eq(&p.key_id, &other.key.id));
}

static void test_auth__revoking_an_unknown_or_foreign_key_is_not_found(void)
{
    fv_uuid globex;
    FV_ASSERT_INT_EQ(fv_fixture_add_tenant(&fx, "globex", &globex), FV_OK);
    fv_issued_key k = must_issue(&fx.tenant, FV_ROLE_WORKER, "w");
    fv_error e;
    FV_ASSERT_INT_EQ(fv_api_key_revoke(&fx.deps, &globex, &k.key.id, &e), FV_E_NOT_FOUND);
    fv_uuid nowhere;
    memset(&nowhere, 0x42, sizeof nowhere);
    FV_ASSERT_INT_EQ(fv_api_key_revoke(&fx.deps, &fx.tenant, &nowhere, &e), FV_E_NOT_FOUND);
    FV_ASSERT_INT_EQ(fv_api_key_revoke(&fx.deps, &fx.tenant, NULL, &e), FV_E_INVALID);
    fv_principal p;
    FV_ASSERT_INT_EQ(auth(bearer(k.text), &p, &e), FV_OK);
}

/* A key stored with a role its kind cannot carry (a store edited by hand, a
 * bug elsewhere) is refused even with the right secret. */
static void test_auth__a_key_whose_role_disagrees_with_its_kind_is_refused(void)
{
    const struct {
        const char *text;
        fv_role role;
    } cases[] = {
        {"flovyn_wk_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
         FV_ROLE_OPERATOR},
        {"flovyn_wk_1123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", FV_ROLE_ADMIN},
        {"flovyn_sk_2123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", FV_ROLE_WORKER},
        {"flovyn_sk_3123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", (fv_role)9},
    };
    for (size_t i = 0; i < FV_TEST_COUNT(cases); i++) {
        FV_ASSERT_INT_EQ(strlen(cases[i].text), FV_API_KEY_TEXT_LEN);
        fv_api_key k;
        memset(&k, 0, sizeof k);
        FV_ASSERT_INT_EQ(fv_ids_new_uuid(fx.deps.ids, &k.id, NULL), FV_OK);
        k.tenant_id = fx.tenant;
        k.role = cases[i].role;
        k.name = "forged";
        k.prefix = fv_arena_strndup(&fx.arena, cases[i].text + 10, 16);
        fv_hasher_sha256(fx.deps.hasher, cases[i].text, FV_API_KEY_TEXT_LEN, k.hash);
        k.created_at = fv_fixture_now(&fx);
        k.revoked_at = FV_TIME_NONE;
        FV_ASSERT_INT_EQ(fv_tenant_store_create_api_key(fx.deps.tenants, &k, NULL), FV_OK);
        fv_principal p;
        fv_error e;
        FV_ASSERT_INT_EQ(auth(bearer(cases[i].text), &p, &e), FV_E_UNAUTHENTICATED);
        FV_ASSERT_STR_EQ(e.msg, "api key role does not match its kind");
        CU_ASSERT(principal_is_empty(&p));
    }
    /* The same shape with a fitting role is accepted (the forgery above is
     * refused for its role, not its shape). */
    const char *ok = "flovyn_sk_4123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    fv_api_key k;
    memset(&k, 0, sizeof k);
    FV_ASSERT_INT_EQ(fv_ids_new_uuid(fx.deps.ids, &k.id, NULL), FV_OK);
    k.tenant_id = fx.tenant;
    k.role = FV_ROLE_ADMIN;
    k.name = "fits";
    k.prefix = "4123456789abcdef";
    fv_hasher_sha256(fx.deps.hasher, ok, FV_API_KEY_TEXT_LEN, k.hash);
    k.revoked_at = FV_TIME_NONE;
    FV_ASSERT_INT_EQ(fv_tenant_store_create_api_key(fx.deps.tenants, &k, NULL), FV_OK);
    fv_principal p;
    fv_error e;
    FV_ASSERT_INT_EQ(auth(bearer(ok), &p, &e), FV_OK);
    FV_ASSERT_INT_EQ(p.role, FV_ROLE_ADMIN);
}

/* ---------------------------------------------------------------------- */
/* Authorization                                                          */
/* ---------------------------------------------------------------------- */

static void test_auth__a_key_acts_only_on_its_own_tenant(void)
{
    fv_uuid globex;
    FV_ASSERT_INT_EQ(fv_fixture_add_tenant(&fx, "globex", &globex), FV_OK);
    fv_issued_key mine = must_issue(&fx.tenant, FV_ROLE_ADMIN, "acme admin");
    fv_issued_key theirs = must_issue(&globex, FV_ROLE_WORKER, "globex worker");
    fv_principal p;
    fv_error e;
    FV_ASSERT_INT_EQ(auth(bearer(mine.text), &p, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_authorize_tenant(&p, &fx.tenant, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_authorize_tenant(&p, &globex, &e), FV_E_PERMISSION);
    CU_ASSERT(strstr(e.msg, "tenant") != NULL);
    FV_ASSERT_INT_EQ(auth(bearer(theirs.text), &p, &e), FV_OK);
    CU_ASSERT(fv_uuid_eq(&p.tenant_id, &globex));
    FV_ASSERT_INT_EQ(fv_authorize_tenant(&p, &globex, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_authorize_tenant(&p, &fx.tenant, &e), FV_E_PERMISSION);
    fv_uuid nil;
    memset(&nil, 0, sizeof nil);
    FV_ASSERT_INT_EQ(fv_authorize_tenant(&p, &nil, &e), FV_E_PERMISSION);
    FV_ASSERT_INT_EQ(fv_authorize_tenant(&p, NULL, &e), FV_E_PERMISSION);
    FV_ASSERT_INT_EQ(fv_authorize_tenant(NULL, &globex, &e), FV_E_PERMISSION);
}

static void test_auth__authorize_role_checks_the_allowed_set(void)
{
    fv_principal p;
    memset(&p, 0, sizeof p);
    p.tenant_id = fx.tenant;
    fv_error e;
    const unsigned ops = FV_ROLE_BIT(FV_ROLE_OPERATOR) | FV_ROLE_BIT(FV_ROLE_ADMIN);
    const unsigned any =
        FV_ROLE_BIT(FV_ROLE_WORKER) | FV_ROLE_BIT(FV_ROLE_OPERATOR) | FV_ROLE_BIT(FV_ROLE_ADMIN);

    p.role = FV_ROLE_WORKER;
    FV_ASSERT_INT_EQ(fv_authorize_role(&p, FV_ROLE_BIT(FV_ROLE_WORKER), &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_authorize_role(&p, any, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_authorize_role(&p, ops, &e), FV_E_PERMISSION);
    CU_ASSERT(strstr(e.msg, "\"worker\"") != NULL);

    p.role = FV_ROLE_OPERATOR;
    FV_ASSERT_INT_EQ(fv_authorize_role(&p, ops, &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_authorize_role(&p, FV_ROLE_BIT(FV_ROLE_ADMIN), &e), FV_E_PERMISSION);
    CU_ASSERT(strstr(e.msg, "\"operator\"") != NULL);

    p.role = FV_ROLE_ADMIN;
    FV_ASSERT_INT_EQ(fv_authorize_role(&p, FV_ROLE_BIT(FV_ROLE_ADMIN), &e), FV_OK);
    FV_ASSERT_INT_EQ(fv_authorize_role(&p, 0, &e), FV_E_PERMISSION);

    /* No role, or one outside the enum, is never allowed (no shift past the
     * width of unsigned either). */
    const int bad[] = {0, 4, 31, 32, 99, -1};
    for (size_t i = 0; i < FV_TEST_COUNT(bad); i++) {
        p.role = (fv_role)bad[i];
        FV_ASSERT_INT_EQ(fv_authorize_role(&p, ~0u, &e), FV_E_PERMISSION);
        FV_ASSERT_INT_EQ(fv_authorize_tenant(&p, &fx.tenant, &e), FV_E_PERMISSION);
    }
    FV_ASSERT_INT_EQ(fv_authorize_role(NULL, ~0u, &e), FV_E_PERMISSION);
}

/* ---------------------------------------------------------------------- */
/* Failures of the ports and of memory                                    */
/* ---------------------------------------------------------------------- */

static fv_err find_unavailable(void *self, fv_arena *a, const char *prefix, fv_api_key *out,
                               fv_error *err)
{
    (void)self;
    (void)a;
    (void)prefix;
    memset(out, 0x5A, sizeof *out); /* garbage a broken adapter might leave */
    return fv_error_set(err, FV_E_UNAVAILABLE, "storage is down");
}

static fv_err random_fails(void *self, void *buf, size_t n, fv_error *err)
{
    (void)self;
    (void)buf;
    (void)n;
    return fv_error_set(err, FV_E_INTERNAL, "no entropy");
}

static void test_auth__storage_and_entropy_failures_pass_through_never_as_success(void)
{
    fv_issued_key k = must_issue(&fx.tenant, FV_ROLE_WORKER, "w");
    fv_tenant_store real_tenants = fx.deps.tenants;
    fv_tenant_store_ops broken = *real_tenants.ops;
    broken.find_api_key = find_unavailable;
    fx.deps.tenants.ops = &broken;
    fv_principal p;
    fv_error e;
    FV_ASSERT_INT_EQ(auth(bearer(k.text), &p, &e), FV_E_UNAVAILABLE);
    CU_ASSERT(principal_is_empty(&p));
    fx.deps.tenants = real_tenants;

    fv_ids real_ids = fx.deps.ids;
    fv_ids_ops no_entropy = *real_ids.ops;
    no_entropy.random = random_fails;
    fx.deps.ids.ops = &no_entropy;
    fv_issued_key k2;
    FV_ASSERT_INT_EQ(
        fv_api_key_issue(&fx.deps, &fx.arena, &fx.tenant, FV_ROLE_WORKER, "w2", &k2, &e),
        FV_E_INTERNAL);
    fx.deps.ids = real_ids;
    FV_ASSERT_INT_EQ(key_count(&fx.tenant), 1);
}

static void test_auth__allocation_failure_leaves_nothing_half_issued(void)
{
    FV_ASSERT_INT_EQ(key_count(&fx.tenant), 0);
    bool ok = false;
    int wrong = 0, stored = 0;
    for (long n = 0; n < 1000 && !ok; n++) {
        fv_arena a;
        fv_arena_init(&a, 0);
        fv_issued_key k;
        fv_error e;
        fv_error_clear(&e);
        fv_alloc_fail_after(n);
        fv_err rc = fv_api_key_issue(&fx.deps, &a, &fx.tenant, FV_ROLE_OPERATOR, "ops", &k, &e);
        fv_alloc_fail_reset();
        if (rc == FV_OK) {
            ok = true;
            fv_principal p;
            FV_ASSERT_INT_EQ(auth(bearer(k.text), &p, &e), FV_OK);
            CU_ASSERT(fv_uuid_eq(&p.key_id, &k.key.id));
        } else {
            if (rc != FV_E_EXHAUSTED && wrong++ == 0)
                fprintf(stderr, "\n  allocation %ld failing gave %s (%s)\n", n, fv_err_name(rc),
                        e.msg);
            if (key_count(&fx.tenant) != 0)
                stored++;
        }
        fv_arena_release(&a);
    }
    CU_ASSERT(ok);
    FV_ASSERT_INT_EQ(wrong, 0);
    FV_ASSERT_INT_EQ(stored, 0);
    FV_ASSERT_INT_EQ(key_count(&fx.tenant), 1);
}

static void test_auth__allocation_failure_in_authenticate_fails_closed(void)
{
    fv_issued_key k = must_issue(&fx.tenant, FV_ROLE_WORKER, "w");
    const char *v = bearer(k.text);
    bool ok = false;
    int bad = 0;
    for (long n = 0; n < 1000 && !ok; n++) {
        fv_arena a;
        fv_arena_init(&a, 0);
        fv_principal p;
        fv_error e;
        fv_alloc_fail_after(n);
        fv_err rc = fv_authenticate(&fx.deps, &a, v, &p, &e);
        fv_alloc_fail_reset();
        if (rc == FV_OK)
            ok = fv_uuid_eq(&p.key_id, &k.key.id) && p.role == FV_ROLE_WORKER;
        else if (rc != FV_E_EXHAUSTED || !principal_is_empty(&p))
            bad++;
        fv_arena_release(&a);
    }
    CU_ASSERT(ok);
    FV_ASSERT_INT_EQ(bad, 0);
}

static void test_auth__deps_without_a_hasher_are_refused(void)
{
    fv_deps d = fx.deps;
    fv_error e;
    FV_ASSERT_INT_EQ(fv_deps_validate(&d, &e), FV_OK);
    d.hasher.ops = NULL;
    FV_ASSERT_INT_EQ(fv_deps_validate(&d, &e), FV_E_INVALID);
    CU_ASSERT(strstr(e.msg, "hasher") != NULL);
    fv_hasher_ops empty = {NULL};
    d.hasher.ops = &empty;
    FV_ASSERT_INT_EQ(fv_deps_validate(&d, &e), FV_E_INVALID);
}

/* ---------------------------------------------------------------------- */
/* Concurrency                                                            */
/* ---------------------------------------------------------------------- */

typedef struct auth_thread {
    const char *value;
    fv_uuid key_id;
    int failures;
} auth_thread;

static void *authenticate_many(void *arg)
{
    auth_thread *t = arg;
    fv_arena a;
    fv_arena_init(&a, 0);
    for (int i = 0; i < 500; i++) {
        fv_principal p;
        if (fv_authenticate(&fx.deps, &a, t->value, &p, NULL) != FV_OK ||
            !fv_uuid_eq(&p.key_id, &t->key_id))
            t->failures++;
        fv_arena_reset(&a);
    }
    fv_arena_release(&a);
    return NULL;
}

static void test_auth__concurrent_authentications_all_succeed(void)
{
    enum { THREADS = 8 };
    auth_thread t[THREADS];
    pthread_t th[THREADS];
    for (size_t i = 0; i < THREADS; i++) {
        fv_issued_key k = must_issue(&fx.tenant, all_roles[i % 3], "t");
        t[i] = (auth_thread){bearer(k.text), k.key.id, 0};
    }
    for (size_t i = 0; i < THREADS; i++)
        CU_ASSERT_FATAL(pthread_create(&th[i], NULL, authenticate_many, &t[i]) == 0);
    for (size_t i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        FV_ASSERT_INT_EQ(t[i].failures, 0);
    }
}

/* ---------------------------------------------------------------------- */
/* The SHA-256 adapter                                                    */
/* ---------------------------------------------------------------------- */

static void expect_sha256(const void *data, size_t n, const char *hex)
{
    unsigned char want[FV_SHA256_LEN], got[FV_SHA256_LEN];
    hex_decode(hex, want);
    memset(got, 0, sizeof got);
    fv_hasher_sha256(fv_nettle_hasher(), data, n, got);
    CU_ASSERT(memcmp(got, want, sizeof want) == 0);
}

static void test_auth__sha256_known_vectors(void)
{
    /* FIPS 180-2 examples and the NIST one-million-'a' vector. */
    expect_sha256("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect_sha256(NULL, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect_sha256("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    expect_sha256(two_blocks, strlen(two_blocks),
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const size_t million = 1000000;
    char *a = fv_malloc(million);
    CU_ASSERT_FATAL(a != NULL);
    memset(a, 'a', million);
    expect_sha256(a, million, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    fv_free(a);
}

static const fv_test_case cases[] = {
    FV_TEST_CASE(test_auth__issue_then_authenticate_for_each_role),
    FV_TEST_CASE(test_auth__the_scheme_is_case_insensitive_and_spaces_may_repeat),
    FV_TEST_CASE(test_auth__key_text_format_and_what_is_stored),
    FV_TEST_CASE(test_auth__issued_keys_are_distinct),
    FV_TEST_CASE(test_auth__a_taken_prefix_is_drawn_again_or_refused_clearly),
    FV_TEST_CASE(test_auth__issuing_rejects_bad_input_and_stores_nothing),
    FV_TEST_CASE(test_auth__every_malformed_authorization_is_unauthenticated),
    FV_TEST_CASE(test_auth__right_prefix_wrong_secret_is_unauthenticated),
    FV_TEST_CASE(test_auth__a_revoked_key_is_unauthenticated_at_once),
    FV_TEST_CASE(test_auth__revoking_an_unknown_or_foreign_key_is_not_found),
    FV_TEST_CASE(test_auth__a_key_whose_role_disagrees_with_its_kind_is_refused),
    FV_TEST_CASE(test_auth__a_key_acts_only_on_its_own_tenant),
    FV_TEST_CASE(test_auth__authorize_role_checks_the_allowed_set),
    FV_TEST_CASE(test_auth__storage_and_entropy_failures_pass_through_never_as_success),
    FV_TEST_CASE(test_auth__allocation_failure_leaves_nothing_half_issued),
    FV_TEST_CASE(test_auth__allocation_failure_in_authenticate_fails_closed),
    FV_TEST_CASE(test_auth__deps_without_a_hasher_are_refused),
    FV_TEST_CASE(test_auth__concurrent_authentications_all_succeed),
    FV_TEST_CASE(test_auth__sha256_known_vectors),
};

int main(void)
{
    const fv_test_suite suite = {"auth", cases, FV_TEST_COUNT(cases), setup, teardown};
    return fv_test_run_suites(&suite, 1) == 0 ? 0 : 1;
}
