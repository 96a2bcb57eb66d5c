/*
 * API keys and authentication (spec decision 17: auth is always on and fails
 * closed). Driving adapters call fv_authenticate on every request with the
 * value of its `authorization` header, then fv_authorize_tenant with the
 * tenant the request names, then check the role they need.
 *
 * Key text: "flovyn_<kind>_<prefix>_<secret>" where <kind> is "wk" for the
 * worker role and "sk" for operator and admin keys (the token families of
 * grpc-contract.md 2.1), <prefix> is 16 lower-case hex digits (the public
 * lookup part, stored) and <secret> 43 characters of base64url (32 random
 * bytes). Only SHA-256 of the whole key text is stored (ports/hasher.h); the
 * text is shown once, when the key is issued. The secret carries 256 bits of
 * entropy, so a fast hash is enough (no password KDF), and the comparison is
 * constant-time.
 */
#ifndef FV_CORE_USECASES_AUTH_USECASES_H
#define FV_CORE_USECASES_AUTH_USECASES_H

#include <stdbool.h>

#include "core/deps.h"
#include "core/tenant.h"
#include "core/util/arena.h"
#include "core/util/error.h"
#include "core/util/uuid.h"

/* Longest key text accepted; longer bearer tokens are refused unread. */
#define FV_API_KEY_TEXT_MAX 128

/* Length of every key this server issues: "flovyn_" (7) + kind (2) + "_" +
 * prefix (16) + "_" + secret (43). */
#define FV_API_KEY_TEXT_LEN 70

/* Longest authorization value read at all (scheme, spaces and key); a longer
 * value is refused after reading this many bytes. */
#define FV_AUTHORIZATION_MAX 256

/* Longest key display name, in bytes. */
#define FV_API_KEY_NAME_MAX 255

/* Who is calling, once authenticated. */
typedef struct fv_principal {
    fv_uuid tenant_id;
    fv_uuid key_id;
    fv_role role;
} fv_principal;

/* A key just issued: its record (hash only) and its text, shown once. */
typedef struct fv_issued_key {
    fv_api_key key;   /* strings in the caller's arena */
    const char *text; /* "flovyn_wk_..."; in the caller's arena */
} fv_issued_key;

/* Issue a key for a tenant with a role and a display name (1..255 bytes of
 * UTF-8). FV_E_INVALID (role, name), FV_E_NOT_FOUND (tenant). */
fv_err fv_api_key_issue(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, fv_role role,
                        const char *name, fv_issued_key *out, fv_error *err);

/* Revoke a key of a tenant (it stops working at once). FV_E_NOT_FOUND. */
fv_err fv_api_key_revoke(const fv_deps *d, const fv_uuid *tenant, const fv_uuid *id, fv_error *err);

/*
 * Authenticate the value of an `authorization` header ("Bearer <key>"; the
 * scheme is case-insensitive, one or more spaces after it). NULL, empty, any
 * other scheme, a malformed or over-long key, an unknown prefix, a hash
 * mismatch and a revoked key are all FV_E_UNAUTHENTICATED with a message
 * that says which without echoing the key. Storage failures pass through
 * (FV_E_UNAVAILABLE...), never as success.
 */
fv_err fv_authenticate(const fv_deps *d, fv_arena *a, const char *authorization, fv_principal *out,
                       fv_error *err);

/* The principal may act on `tenant` (its own). FV_E_PERMISSION otherwise. */
fv_err fv_authorize_tenant(const fv_principal *p, const fv_uuid *tenant, fv_error *err);

/* The principal's role is one of `allowed` (a bit set of 1u << FV_ROLE_*).
 * FV_E_PERMISSION naming the role otherwise. */
fv_err fv_authorize_role(const fv_principal *p, unsigned allowed, fv_error *err);

#define FV_ROLE_BIT(r) (1u << (unsigned)(r))

#endif
