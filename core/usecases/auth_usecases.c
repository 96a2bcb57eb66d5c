/* API keys: issuing, revoking, authenticating bearer values, authorizing. */
#include "core/usecases/auth_usecases.h"

#include <stdint.h>
#include <string.h>

#include "core/worker.h"
#include "ports/hasher.h"

/*
 * Key text "flovyn_<kind>_<prefix>_<secret>":
 *   "flovyn_"  7 bytes
 *   kind       2 bytes, "wk" or "sk"
 *   "_"        1 byte
 *   prefix     16 lower-case hex digits (8 random bytes)
 *   "_"        1 byte
 *   secret     43 base64url characters, no padding (32 random bytes)
 */
#define FAMILY         "flovyn_"
#define FAMILY_LEN     (sizeof FAMILY - 1)
#define KIND_LEN       2
#define PREFIX_BYTES   8
#define PREFIX_LEN     (2 * PREFIX_BYTES)
#define SECRET_BYTES   32
#define SECRET_LEN     43 /* ceil(32 * 8 / 6) */
#define KIND_AT        FAMILY_LEN
#define PREFIX_AT      (KIND_AT + KIND_LEN + 1)
#define SECRET_AT      (PREFIX_AT + PREFIX_LEN + 1)
#define KEY_LEN        (SECRET_AT + SECRET_LEN)
#define ISSUE_ATTEMPTS 4 /* fresh prefixes tried when one is taken */

_Static_assert(KEY_LEN == FV_API_KEY_TEXT_LEN, "key layout and header disagree");
_Static_assert(KEY_LEN <= FV_API_KEY_TEXT_MAX, "a key must fit the accepted length");
_Static_assert(PREFIX_LEN <= FV_API_KEY_PREFIX_MAX, "the prefix must fit the store");
_Static_assert(FV_SHA256_LEN == FV_API_KEY_HASH_LEN, "the stored hash is SHA-256");

static const char hex_digits[] = "0123456789abcdef";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static fv_err exhausted(fv_error *err)
{
    return fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
}

/* Zero secret material through a volatile pointer, so that the compiler may
 * not drop the stores as dead. */
static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    for (size_t i = 0; i < n; i++)
        v[i] = 0;
}

static const char *kind_of_role(fv_role r)
{
    return r == FV_ROLE_WORKER ? "wk" : "sk";
}

/* The roles a key family may carry: wk = worker, sk = operator or admin. */
static bool role_fits_kind(fv_role r, const char *kind)
{
    if (memcmp(kind, "wk", KIND_LEN) == 0)
        return r == FV_ROLE_WORKER;
    if (memcmp(kind, "sk", KIND_LEN) == 0)
        return r == FV_ROLE_OPERATOR || r == FV_ROLE_ADMIN;
    return false;
}

static bool is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* The 6-bit value of a base64url character, -1 for any other byte. */
static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* n bytes as 2n lower-case hex digits (no NUL). */
static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_digits[in[i] >> 4];
        out[2 * i + 1] = hex_digits[in[i] & 0x0F];
    }
}

/* n bytes as unpadded base64url, ceil(8n / 6) characters (no NUL). */
static void b64url_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = b64url[(acc >> bits) & 0x3F];
        }
    }
    if (bits > 0)
        out[o++] = b64url[(acc << (6 - bits)) & 0x3F];
    wipe(&acc, sizeof acc);
}

/* Equality of two hashes in time independent of where they differ. */
static bool hash_eq(const unsigned char *x, const unsigned char *y)
{
    volatile unsigned char diff = 0;
    for (size_t i = 0; i < FV_SHA256_LEN; i++)
        diff |= (unsigned char)(x[i] ^ y[i]);
    return diff == 0;
}

/* ------------------------------------------------------------------------ */
/* Issuing and revoking                                                      */
/* ------------------------------------------------------------------------ */

/* Draw a prefix and a secret and write the key text into `text` (KEY_LEN
 * bytes and a NUL) and the prefix into `prefix` (PREFIX_LEN and a NUL). */
static fv_err draw_key(const fv_deps *d, fv_role role, char *text, char *prefix, fv_error *err)
{
    unsigned char raw[PREFIX_BYTES + SECRET_BYTES];
    fv_err rc = fv_ids_random(d->ids, raw, sizeof raw, err);
    if (rc == FV_OK) {
        memcpy(text, FAMILY, FAMILY_LEN);
        memcpy(text + KIND_AT, kind_of_role(role), KIND_LEN);
        text[KIND_AT + KIND_LEN] = '_';
        hex_encode(raw, PREFIX_BYTES, text + PREFIX_AT);
        text[PREFIX_AT + PREFIX_LEN] = '_';
        b64url_encode(raw + PREFIX_BYTES, SECRET_BYTES, text + SECRET_AT);
        text[KEY_LEN] = '\0';
        memcpy(prefix, text + PREFIX_AT, PREFIX_LEN);
        prefix[PREFIX_LEN] = '\0';
    }
    wipe(raw, sizeof raw);
    return rc;
}

fv_err fv_api_key_issue(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, fv_role role,
                        const char *name, fv_issued_key *out, fv_error *err)
{
    if (tenant == NULL)
        return fv_error_set(err, FV_E_INVALID, "tenant must be given");
    if (fv_role_name(role) == NULL)
        return fv_error_set(err, FV_E_INVALID, "api key role must be worker, operator or admin");
    fv_err rc = fv_text_validate("api key name", name, FV_API_KEY_NAME_MAX, true, err);
    if (rc != FV_OK)
        return rc;

    /* Everything the answer needs is allocated before the key is stored, so
     * that a stored key always reaches its caller (nothing half-issued). */
    char *text = fv_arena_alloc(a, KEY_LEN + 1);
    char *prefix = fv_arena_alloc(a, PREFIX_LEN + 1);
    const char *name_copy = fv_arena_strdup(a, name);
    if (text == NULL || prefix == NULL || name_copy == NULL)
        return exhausted(err);

    fv_api_key k;
    memset(&k, 0, sizeof k);
    k.tenant_id = *tenant;
    k.role = role;
    k.name = name_copy;
    k.prefix = prefix;
    k.revoked_at = FV_TIME_NONE;
    for (int attempt = 0; attempt < ISSUE_ATTEMPTS; attempt++) {
        if ((rc = fv_ids_new_uuid(d->ids, &k.id, err)) != FV_OK)
            break;
        if ((rc = draw_key(d, role, text, prefix, err)) != FV_OK)
            break;
        fv_hasher_sha256(d->hasher, text, KEY_LEN, k.hash);
        k.created_at = fv_clock_now(d->clock);
        rc = fv_tenant_store_create_api_key(d->tenants, &k, err);
        /* A taken prefix (or id) is a collision of 64 random bits: draw
         * again. Repeated collisions mean a broken random source. */
        if (rc != FV_E_CONFLICT)
            break;
    }
    if (rc == FV_E_CONFLICT)
        rc = fv_error_set(err, FV_E_INTERNAL, "could not draw a free api key prefix in %d attempts",
                          ISSUE_ATTEMPTS);
    if (rc != FV_OK) {
        wipe(text, KEY_LEN + 1);
        return rc;
    }
    out->key = k;
    out->text = text;
    return FV_OK;
}

fv_err fv_api_key_revoke(const fv_deps *d, const fv_uuid *tenant, const fv_uuid *id, fv_error *err)
{
    if (tenant == NULL || id == NULL)
        return fv_error_set(err, FV_E_INVALID, "tenant and api key id must be given");
    return fv_tenant_store_revoke_api_key(d->tenants, tenant, id, fv_clock_now(d->clock), err);
}

/* ------------------------------------------------------------------------ */
/* Authentication                                                            */
/* ------------------------------------------------------------------------ */

static fv_err refuse(fv_error *err, const char *why)
{
    return fv_error_set(err, FV_E_UNAUTHENTICATED, "%s", why);
}

/* Check the shape of a key of exactly KEY_LEN bytes; NULL when it is well
 * formed, else what is wrong (never quoting the key). */
static const char *key_shape_error(const char *k)
{
    if (memcmp(k, FAMILY, FAMILY_LEN) != 0 || k[KIND_AT + KIND_LEN] != '_' ||
        k[PREFIX_AT + PREFIX_LEN] != '_')
        return "malformed api key: not a flovyn key";
    if (!role_fits_kind(FV_ROLE_WORKER, k + KIND_AT) &&
        !role_fits_kind(FV_ROLE_OPERATOR, k + KIND_AT))
        return "malformed api key: unknown key kind";
    for (size_t i = 0; i < PREFIX_LEN; i++)
        if (!is_lower_hex(k[PREFIX_AT + i]))
            return "malformed api key: the prefix must be 16 lower-case hex digits";
    for (size_t i = 0; i < SECRET_LEN; i++)
        if (b64url_value(k[SECRET_AT + i]) < 0)
            return "malformed api key: the secret must be base64url";
    /* 32 bytes leave 2 unused low bits in the last character: a canonical
     * encoding has them zero. */
    if ((b64url_value(k[SECRET_AT + SECRET_LEN - 1]) & 0x3) != 0)
        return "malformed api key: the secret is not a canonical encoding";
    return NULL;
}

/* Find the key in an authorization value. On success *key points into
 * `authorization` at KEY_LEN bytes of a well-formed key. */
static fv_err parse_bearer(const char *authorization, const char **key, fv_error *err)
{
    if (authorization == NULL || authorization[0] == '\0')
        return refuse(err, "missing authorization");
    /* Bounded scan: an over-long value is refused without reading it all. */
    size_t n = 0;
    while (n <= FV_AUTHORIZATION_MAX && authorization[n] != '\0')
        n++;
    if (n > FV_AUTHORIZATION_MAX)
        return refuse(err, "authorization is too long");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)authorization[i];
        if (c < 0x20 || c == 0x7F)
            return refuse(err, "authorization contains control characters");
    }
    static const char scheme[] = "bearer";
    const size_t scheme_len = sizeof scheme - 1;
    bool is_bearer = n >= scheme_len;
    for (size_t i = 0; is_bearer && i < scheme_len; i++) {
        char c = authorization[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        is_bearer = c == scheme[i];
    }
    if (!is_bearer || (n > scheme_len && authorization[scheme_len] != ' '))
        return refuse(err, "authorization must use the bearer scheme");
    size_t at = scheme_len;
    while (at < n && authorization[at] == ' ')
        at++;
    if (at == n)
        return refuse(err, "missing api key after bearer");
    size_t len = n - at;
    if (len > FV_API_KEY_TEXT_MAX)
        return refuse(err, "api key is too long");
    if (len != KEY_LEN)
        return refuse(err, "malformed api key: wrong length");
    const char *why = key_shape_error(authorization + at);
    if (why != NULL)
        return refuse(err, why);
    *key = authorization + at;
    return FV_OK;
}

fv_err fv_authenticate(const fv_deps *d, fv_arena *a, const char *authorization, fv_principal *out,
                       fv_error *err)
{
    /* Fail closed: whatever happens below, a failed call leaves a principal
     * of no tenant and no role, which every authorize call refuses. */
    memset(out, 0, sizeof *out);
    const char *key = NULL;
    fv_err rc = parse_bearer(authorization, &key, err);
    if (rc != FV_OK)
        return rc;

    char prefix[PREFIX_LEN + 1];
    memcpy(prefix, key + PREFIX_AT, PREFIX_LEN);
    prefix[PREFIX_LEN] = '\0';
    unsigned char hash[FV_SHA256_LEN];
    fv_hasher_sha256(d->hasher, key, KEY_LEN, hash);

    fv_api_key k;
    memset(&k, 0, sizeof k);
    rc = fv_tenant_store_find_api_key(d->tenants, a, prefix, &k, err);
    if (rc == FV_E_NOT_FOUND)
        return refuse(err, "unknown api key");
    if (rc != FV_OK)
        return rc; /* storage failure: passed on, never success */
    /* Compare before anything else is revealed: only the holder of the whole
     * key learns that it was revoked or that its role is wrong. */
    if (!hash_eq(hash, k.hash))
        return refuse(err, "api key does not match");
    if (k.revoked_at != FV_TIME_NONE)
        return refuse(err, "api key has been revoked");
    if (!role_fits_kind(k.role, key + KIND_AT))
        return refuse(err, "api key role does not match its kind");
    out->tenant_id = k.tenant_id;
    out->key_id = k.id;
    out->role = k.role;
    return FV_OK;
}

/* ------------------------------------------------------------------------ */
/* Authorization                                                             */
/* ------------------------------------------------------------------------ */

fv_err fv_authorize_tenant(const fv_principal *p, const fv_uuid *tenant, fv_error *err)
{
    if (p == NULL || tenant == NULL || fv_role_name(p->role) == NULL || fv_uuid_is_nil(tenant) ||
        !fv_uuid_eq(&p->tenant_id, tenant))
        return fv_error_set(err, FV_E_PERMISSION, "api key does not belong to this tenant");
    return FV_OK;
}

fv_err fv_authorize_role(const fv_principal *p, unsigned allowed, fv_error *err)
{
    const char *name = p != NULL ? fv_role_name(p->role) : NULL;
    if (name == NULL)
        return fv_error_set(err, FV_E_PERMISSION, "api key has no valid role");
    if ((allowed & FV_ROLE_BIT(p->role)) == 0)
        return fv_error_set(err, FV_E_PERMISSION, "role \"%s\" may not do this", name);
    return FV_OK;
}
