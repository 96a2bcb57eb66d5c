/* Tenant-level rules: slugs and roles. */
#include "core/tenant.h"

#include <string.h>

#include "core/util/utf8.h"

const char *fv_role_name(fv_role r)
{
    switch (r) {
    case FV_ROLE_WORKER:
        return "worker";
    case FV_ROLE_OPERATOR:
        return "operator";
    case FV_ROLE_ADMIN:
        return "admin";
    }
    return NULL;
}

bool fv_role_parse(const char *s, fv_role *out)
{
    static const fv_role all[] = {FV_ROLE_WORKER, FV_ROLE_OPERATOR, FV_ROLE_ADMIN};
    for (size_t i = 0; s != NULL && i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(s, fv_role_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

fv_err fv_slug_validate(const char *what, const char *slug, fv_error *err)
{
    if (slug == NULL || slug[0] == '\0')
        return fv_error_set(err, FV_E_INVALID, "%s must not be empty", what);
    size_t n = strlen(slug);
    if (n > FV_SLUG_MAX)
        return fv_error_set(err, FV_E_INVALID, "%s is %zu bytes long, the limit is %d", what, n,
                            FV_SLUG_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = slug[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return fv_error_set(err, FV_E_INVALID,
                                "%s may contain only lower-case letters, digits and '-'", what);
    }
    return FV_OK;
}
