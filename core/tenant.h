/*
 * Tenants, spaces and API keys: who owns data and who may reach it.
 */
#ifndef FV_CORE_TENANT_H
#define FV_CORE_TENANT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/types.h"
#include "core/util/error.h"
#include "core/util/time.h"
#include "core/util/uuid.h"

#define FV_SLUG_MAX           63
#define FV_TENANT_NAME_MAX    255
#define FV_API_KEY_PREFIX_MAX 32
#define FV_API_KEY_HASH_LEN   32 /* SHA-256 */

typedef struct fv_tenant {
    fv_uuid id;
    const char *slug;
    const char *name;
    fv_time created_at;
} fv_tenant;

typedef struct fv_space {
    fv_uuid id;
    fv_uuid tenant_id;
    const char *slug;
    const char *name;
    fv_time created_at;
} fv_space;

/* Values never renumbered: adapters store them. */
typedef enum fv_role {
    FV_ROLE_WORKER = 1,   /* every gRPC method, REST reads */
    FV_ROLE_OPERATOR = 2, /* REST reads and operator actions */
    FV_ROLE_ADMIN = 3,    /* also tenants and keys */
} fv_role;

typedef struct fv_api_key {
    fv_uuid id;
    fv_uuid tenant_id;
    fv_role role;
    const char *name;
    const char *prefix;                      /* public lookup part of the key */
    unsigned char hash[FV_API_KEY_HASH_LEN]; /* hash of the secret, never the secret */
    fv_time created_at;
    fv_time revoked_at; /* FV_TIME_NONE while the key is valid */
} fv_api_key;

/* "worker", "operator", "admin"; NULL for a value outside the enum. */
const char *fv_role_name(fv_role r);
/* Parse a role name (exact, lower case). */
bool fv_role_parse(const char *s, fv_role *out);

/* Slugs: 1..63 bytes of [a-z0-9-]. FV_E_INVALID with a message naming
 * `what` ("tenant slug") otherwise. */
fv_err fv_slug_validate(const char *what, const char *slug, fv_error *err);

#endif
