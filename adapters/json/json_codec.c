/* JSON checks and decodings shared by the gRPC and HTTP adapters. */
#include "adapters/json/json_codec.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

fv_err fv_json_check(const char *what, const void *p, size_t n, size_t max, fv_json_shape shape,
                     fv_json *out, fv_error *err)
{
    *out = FV_JSON_NONE;
    if (n == 0)
        return FV_OK;
    if (n > max)
        return fv_error_set(err, FV_E_INVALID, "%s is larger than %zu bytes", what, max);
    json_error_t jerr;
    json_t *v = json_loadb(p, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL)
        return fv_error_set(err, FV_E_INVALID, "%s is not valid JSON: %s at line %d, column %d",
                            what, jerr.text, jerr.line, jerr.column);
    bool ok = true;
    const char *want = NULL;
    switch (shape) {
    case FV_JSON_ANY:
        break;
    case FV_JSON_OBJECT:
        ok = json_is_object(v);
        want = "a JSON object";
        break;
    case FV_JSON_SCHEMA:
        ok = json_is_object(v) || json_is_boolean(v);
        want = "a JSON Schema (an object or a boolean)";
        break;
    }
    json_decref(v);
    if (!ok)
        return fv_error_set(err, FV_E_INVALID, "%s must be %s", what, want);
    *out = (fv_json){(const char *)p, n};
    return FV_OK;
}

/* The members of a retry policy object, in both spellings. */
typedef enum retry_field { RF_MAX_RETRIES, RF_INITIAL, RF_BACKOFF, RF_MAX_DELAY } retry_field;

static const struct {
    const char *camel;
    const char *snake;
    retry_field field;
} retry_names[] = {
    {"maxRetries", "max_retries", RF_MAX_RETRIES},
    {"initialDelayMs", "initial_delay_ms", RF_INITIAL},
    {"backoffCoefficient", "backoff_coefficient", RF_BACKOFF},
    {"maxDelayMs", "max_delay_ms", RF_MAX_DELAY},
};

static fv_err integer_member(const char *what, const char *key, const json_t *v, int64_t *out,
                             fv_error *err)
{
    if (!json_is_integer(v))
        return fv_error_set(err, FV_E_INVALID, "%s.%s must be an integer", what, key);
    *out = (int64_t)json_integer_value(v);
    return FV_OK;
}

fv_err fv_json_retry_policy_from(const char *what, const json_t *v, fv_retry_policy *out,
                                 fv_error *err)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(v))
        return fv_error_set(err, FV_E_INVALID, "%s must be a JSON object", what);
    const char *key;
    json_t *m;
    /* json_object_foreach wants a non-const object; it does not modify it. */
    json_t *obj = (json_t *)(uintptr_t)v;
    json_object_foreach(obj, key, m)
    {
        size_t i = 0;
        while (i < sizeof retry_names / sizeof retry_names[0] &&
               strcmp(key, retry_names[i].camel) != 0 && strcmp(key, retry_names[i].snake) != 0)
            i++;
        if (i == sizeof retry_names / sizeof retry_names[0])
            return fv_error_set(err, FV_E_INVALID,
                                "%s has an unknown field \"%.64s\" (expected maxRetries, "
                                "initialDelayMs, backoffCoefficient, maxDelayMs)",
                                what, key);
        fv_err rc = FV_OK;
        unsigned bit = 0;
        switch (retry_names[i].field) {
        case RF_MAX_RETRIES:
            bit = FV_RETRY_HAS_MAX_RETRIES;
            rc = integer_member(what, key, m, &out->max_retries, err);
            break;
        case RF_INITIAL:
            bit = FV_RETRY_HAS_INITIAL_DELAY;
            rc = integer_member(what, key, m, &out->initial_delay_ms, err);
            break;
        case RF_MAX_DELAY:
            bit = FV_RETRY_HAS_MAX_DELAY;
            rc = integer_member(what, key, m, &out->max_delay_ms, err);
            break;
        case RF_BACKOFF:
            bit = FV_RETRY_HAS_BACKOFF;
            if (!json_is_number(m) || !isfinite(json_number_value(m)))
                rc = fv_error_set(err, FV_E_INVALID, "%s.%s must be a number", what, key);
            else
                out->backoff_coefficient = json_number_value(m);
            break;
        }
        if (rc != FV_OK)
            return rc;
        if (out->set & bit)
            return fv_error_set(err, FV_E_INVALID,
                                "%s gives \"%s\" twice (camelCase and snake_case)", what,
                                retry_names[i].camel);
        out->set |= bit;
    }
    return FV_OK;
}

fv_err fv_json_decode_retry_policy(const char *what, const void *p, size_t n, bool *present,
                                   fv_retry_policy *out, fv_error *err)
{
    memset(out, 0, sizeof *out);
    *present = false;
    if (n == 0)
        return FV_OK;
    fv_json checked;
    /* A retry policy is a handful of numbers; 4 KiB is generous. */
    fv_err rc = fv_json_check(what, p, n, 4096, FV_JSON_OBJECT, &checked, err);
    if (rc != FV_OK)
        return rc;
    json_t *v = json_loadb(p, n, JSON_REJECT_DUPLICATES, NULL);
    if (v == NULL)
        return fv_error_set(err, FV_E_EXHAUSTED, "out of memory decoding %s", what);
    rc = fv_json_retry_policy_from(what, v, out, err);
    json_decref(v);
    if (rc == FV_OK)
        *present = true;
    return rc;
}

bool fv_json_health_degraded(fv_json health)
{
    if (!fv_json_present(health) || health.n == 0)
        return false;
    json_t *v = json_loadb(health.p, health.n, 0, NULL);
    if (v == NULL)
        return false;
    bool degraded = false;
    if (json_is_object(v)) {
        const json_t *status = json_object_get(v, "status");
        const json_t *healthy = json_object_get(v, "healthy");
        if (json_is_string(status) && strcasecmp(json_string_value(status), "degraded") == 0)
            degraded = true;
        if (json_is_false(healthy))
            degraded = true;
    }
    json_decref(v);
    return degraded;
}
