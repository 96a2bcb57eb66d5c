/* Worker rules: names of enums, liveness thresholds, effective status and
 * the text checks every use case shares. */
#include "core/worker.h"

#include <string.h>

#include "core/util/utf8.h"

const char *fv_worker_type_name(fv_worker_type t)
{
    switch (t) {
    case FV_WORKER_WORKFLOW:
        return "WORKFLOW";
    case FV_WORKER_TASK:
        return "TASK";
    case FV_WORKER_UNIFIED:
        return "UNIFIED";
    }
    return NULL;
}

bool fv_worker_type_parse(const char *s, fv_worker_type *out)
{
    static const fv_worker_type all[] = {FV_WORKER_WORKFLOW, FV_WORKER_TASK, FV_WORKER_UNIFIED};
    for (size_t i = 0; s != NULL && i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(s, fv_worker_type_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

const char *fv_worker_status_name(fv_worker_status s)
{
    switch (s) {
    case FV_STATUS_ONLINE:
        return "ONLINE";
    case FV_STATUS_DEGRADED:
        return "DEGRADED";
    case FV_STATUS_OFFLINE:
        return "OFFLINE";
    }
    return NULL;
}

bool fv_worker_status_parse(const char *s, fv_worker_status *out)
{
    static const fv_worker_status all[] = {FV_STATUS_ONLINE, FV_STATUS_DEGRADED, FV_STATUS_OFFLINE};
    for (size_t i = 0; s != NULL && i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(s, fv_worker_status_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

fv_err fv_liveness_validate(const fv_liveness *l, fv_error *err)
{
    if (l->degraded_after_ms <= 0)
        return fv_error_set(err, FV_E_INVALID, "degraded_after must be positive");
    if (l->offline_after_ms <= l->degraded_after_ms)
        return fv_error_set(err, FV_E_INVALID,
                            "offline_after (%lld ms) must be greater than degraded_after (%lld ms)",
                            (long long)l->offline_after_ms, (long long)l->degraded_after_ms);
    if (l->retention_ms < 0)
        return fv_error_set(err, FV_E_INVALID, "worker retention must not be negative");
    return FV_OK;
}

/* Statuses ordered from best to worst: ONLINE < DEGRADED < OFFLINE. */
static int severity(fv_worker_status s)
{
    switch (s) {
    case FV_STATUS_ONLINE:
        return 0;
    case FV_STATUS_DEGRADED:
        return 1;
    case FV_STATUS_OFFLINE:
        return 2;
    }
    return 2;
}

fv_worker_status fv_worker_effective_status(const fv_worker *w, fv_time now, const fv_liveness *l)
{
    int64_t age = now - w->last_seen_at;
    fv_worker_status derived;
    if (age <= l->degraded_after_ms)
        derived = w->health_degraded ? FV_STATUS_DEGRADED : FV_STATUS_ONLINE;
    else if (age <= l->offline_after_ms)
        derived = FV_STATUS_DEGRADED;
    else
        derived = FV_STATUS_OFFLINE;
    if (w->last_seen_at > w->status_changed_at)
        return derived;
    return severity(w->status) > severity(derived) ? w->status : derived;
}

static fv_err text_validate(const char *what, const char *s, size_t max, bool required,
                            bool controls_ok, fv_error *err)
{
    if (s == NULL || s[0] == '\0') {
        if (required)
            return fv_error_set(err, FV_E_INVALID, "%s must not be empty", what);
        return FV_OK;
    }
    size_t n = strlen(s);
    if (n > max)
        return fv_error_set(err, FV_E_INVALID, "%s is %zu bytes long, the limit is %zu", what, n,
                            max);
    if (!fv_utf8_valid(s, n))
        return fv_error_set(err, FV_E_INVALID, "%s is not valid UTF-8", what);
    for (size_t i = 0; !controls_ok && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F)
            return fv_error_set(err, FV_E_INVALID, "%s must not contain control characters", what);
    }
    return FV_OK;
}

fv_err fv_text_validate(const char *what, const char *s, size_t max, bool required, fv_error *err)
{
    return text_validate(what, s, max, required, false, err);
}

fv_err fv_free_text_validate(const char *what, const char *s, size_t max, bool required,
                             fv_error *err)
{
    return text_validate(what, s, max, required, true, err);
}

fv_err fv_json_validate_size(const char *what, fv_json j, size_t max, fv_error *err)
{
    if (j.p != NULL && j.n > max)
        return fv_error_set(err, FV_E_INVALID, "%s is %zu bytes long, the limit is %zu", what, j.n,
                            max);
    return FV_OK;
}
