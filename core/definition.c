/* Definition rules: availability, configuration values and their validation,
 * effective settings. */
#include "core/definition.h"

#include <math.h>
#include <string.h>

#include "core/util/utf8.h"

const char *fv_def_class_name(fv_def_class c)
{
    switch (c) {
    case FV_DEF_WORKFLOW:
        return "workflow";
    case FV_DEF_TASK:
        return "task";
    }
    return NULL;
}

const char *fv_availability_name(fv_availability a)
{
    switch (a) {
    case FV_AVAIL_AVAILABLE:
        return "AVAILABLE";
    case FV_AVAIL_DEGRADED:
        return "DEGRADED";
    case FV_AVAIL_UNAVAILABLE:
        return "UNAVAILABLE";
    }
    return NULL;
}

bool fv_availability_parse(const char *s, fv_availability *out)
{
    static const fv_availability all[] = {FV_AVAIL_AVAILABLE, FV_AVAIL_DEGRADED,
                                          FV_AVAIL_UNAVAILABLE};
    for (size_t i = 0; s != NULL && i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(s, fv_availability_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

fv_availability fv_availability_from_counts(int64_t online, int64_t degraded)
{
    if (online > 0)
        return FV_AVAIL_AVAILABLE;
    if (degraded > 0)
        return FV_AVAIL_DEGRADED;
    return FV_AVAIL_UNAVAILABLE;
}

fv_err fv_timeout_validate(const char *what, int64_t seconds, fv_error *err)
{
    if (seconds < 1 || seconds > FV_TIMEOUT_MAX_SECONDS)
        return fv_error_set(err, FV_E_INVALID, "%s must be between 1 and %d seconds, not %lld",
                            what, FV_TIMEOUT_MAX_SECONDS, (long long)seconds);
    return FV_OK;
}

fv_err fv_retry_policy_validate(const char *what, const fv_retry_policy *p, fv_error *err)
{
    if ((p->set & FV_RETRY_HAS_MAX_RETRIES) &&
        (p->max_retries < 0 || p->max_retries > FV_RETRY_MAX_RETRIES))
        return fv_error_set(err, FV_E_INVALID, "%s.maxRetries must be between 0 and %d, not %lld",
                            what, FV_RETRY_MAX_RETRIES, (long long)p->max_retries);
    if ((p->set & FV_RETRY_HAS_INITIAL_DELAY) &&
        (p->initial_delay_ms < 0 || p->initial_delay_ms > FV_RETRY_DELAY_MAX_MS))
        return fv_error_set(err, FV_E_INVALID,
                            "%s.initialDelayMs must be between 0 and %lld, not %lld", what,
                            (long long)FV_RETRY_DELAY_MAX_MS, (long long)p->initial_delay_ms);
    if ((p->set & FV_RETRY_HAS_BACKOFF) &&
        (!isfinite(p->backoff_coefficient) || p->backoff_coefficient < 1.0 ||
         p->backoff_coefficient > FV_RETRY_BACKOFF_MAX))
        return fv_error_set(err, FV_E_INVALID,
                            "%s.backoffCoefficient must be between 1 and %g, not %g", what,
                            FV_RETRY_BACKOFF_MAX, p->backoff_coefficient);
    if (p->set & FV_RETRY_HAS_MAX_DELAY) {
        int64_t floor = (p->set & FV_RETRY_HAS_INITIAL_DELAY) ? p->initial_delay_ms : 0;
        if (p->max_delay_ms < floor || p->max_delay_ms > FV_RETRY_DELAY_MAX_MS)
            return fv_error_set(err, FV_E_INVALID,
                                "%s.maxDelayMs must be between initialDelayMs (%lld) and %lld, "
                                "not %lld",
                                what, (long long)floor, (long long)FV_RETRY_DELAY_MAX_MS,
                                (long long)p->max_delay_ms);
    }
    return FV_OK;
}

fv_err fv_tags_validate(const char *what, const fv_tags *t, fv_error *err)
{
    if (t->n > FV_TAGS_MAX)
        return fv_error_set(err, FV_E_INVALID, "%s has %zu tags, the limit is %d", what, t->n,
                            FV_TAGS_MAX);
    for (size_t i = 0; i < t->n; i++) {
        const char *s = t->v[i];
        size_t n = s ? strlen(s) : 0;
        if (n == 0)
            return fv_error_set(err, FV_E_INVALID, "%s[%zu] must not be empty", what, i);
        if (n > FV_TAG_MAX)
            return fv_error_set(err, FV_E_INVALID, "%s[%zu] is %zu bytes long, the limit is %d",
                                what, i, n, FV_TAG_MAX);
        if (!fv_utf8_valid(s, n))
            return fv_error_set(err, FV_E_INVALID, "%s[%zu] is not valid UTF-8", what, i);
    }
    return FV_OK;
}

fv_def_settings fv_definition_effective(const fv_definition *d)
{
    fv_def_settings e = d->declared;
    if (d->configured.has_timeout) {
        e.has_timeout = true;
        e.timeout_seconds = d->configured.timeout_seconds;
    }
    if (d->configured.has_retry_policy) {
        e.has_retry_policy = true;
        e.retry_policy = d->configured.retry_policy;
    }
    if (d->configured.has_tags) {
        e.has_tags = true;
        e.tags = d->configured.tags;
    }
    return e;
}

fv_err fv_def_config_patch_validate(const fv_def_config_patch *p, fv_error *err)
{
    fv_err rc;
    if (p->timeout_op == FV_PATCH_SET &&
        (rc = fv_timeout_validate("timeoutSeconds", p->timeout_seconds, err)) != FV_OK)
        return rc;
    if (p->retry_op == FV_PATCH_SET &&
        (rc = fv_retry_policy_validate("retryPolicy", &p->retry_policy, err)) != FV_OK)
        return rc;
    if (p->tags_op == FV_PATCH_SET && (rc = fv_tags_validate("tags", &p->tags, err)) != FV_OK)
        return rc;
    return FV_OK;
}

void fv_def_config_patch_apply(const fv_def_config_patch *p, fv_def_settings *c)
{
    switch (p->timeout_op) {
    case FV_PATCH_KEEP:
        break;
    case FV_PATCH_SET:
        c->has_timeout = true;
        c->timeout_seconds = p->timeout_seconds;
        break;
    case FV_PATCH_CLEAR:
        c->has_timeout = false;
        c->timeout_seconds = 0;
        break;
    }
    switch (p->retry_op) {
    case FV_PATCH_KEEP:
        break;
    case FV_PATCH_SET:
        c->has_retry_policy = true;
        c->retry_policy = p->retry_policy;
        break;
    case FV_PATCH_CLEAR:
        c->has_retry_policy = false;
        memset(&c->retry_policy, 0, sizeof c->retry_policy);
        break;
    }
    switch (p->tags_op) {
    case FV_PATCH_KEEP:
        break;
    case FV_PATCH_SET:
        c->has_tags = true;
        c->tags = p->tags;
        break;
    case FV_PATCH_CLEAR:
        c->has_tags = false;
        c->tags = (fv_tags){NULL, 0};
        break;
    }
}
