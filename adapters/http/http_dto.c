/*
 * JSON mapping of the REST API (see http_dto.h). Encoders use a sticky
 * failure: the first failure is recorded, every later member is dropped, and
 * the caller releases the half-built value once, at the end.
 */
#include "adapters/http/http_dto.h"

#include <stdint.h>
#include <string.h>

#include "adapters/json/json_codec.h"
#include "core/util/time.h"
#include "core/util/utf8.h"
#include "core/util/uuid.h"

/* ---- Encoding helpers -------------------------------------------------- */

typedef struct enc {
    fv_err rc;
    fv_error *err;
} enc;

static void enc_fail(enc *e, fv_err rc, const char *what)
{
    if (e->rc != FV_OK)
        return;
    e->rc = rc;
    if (rc == FV_E_EXHAUSTED)
        fv_error_set(e->err, rc, "out of memory encoding %s", what);
    else
        fv_error_set(e->err, rc, "could not encode %s: the stored value is not valid", what);
}

/* Set obj[key] = v, stealing v; a NULL v (a failed constructor) is out of
 * memory. */
static void set(enc *e, json_t *obj, const char *key, json_t *v)
{
    if (e->rc != FV_OK) {
        json_decref(v);
        return;
    }
    if (v == NULL || json_object_set_new(obj, key, v) != 0)
        enc_fail(e, FV_E_EXHAUSTED, key);
}

/* Append v to arr, stealing v. */
static void append(enc *e, json_t *arr, json_t *v, const char *what)
{
    if (e->rc != FV_OK) {
        json_decref(v);
        return;
    }
    if (v == NULL || json_array_append_new(arr, v) != 0)
        enc_fail(e, FV_E_EXHAUSTED, what);
}

/* Text or null. Text that is not UTF-8 never reaches the store; if it did,
 * the answer fails rather than carry it. */
static json_t *text(enc *e, const char *s, const char *what)
{
    if (s == NULL)
        return json_null();
    size_t n = strlen(s);
    if (!fv_utf8_valid(s, n)) {
        enc_fail(e, FV_E_INTERNAL, what);
        return json_null();
    }
    return json_stringn_nocheck(s, n);
}

static json_t *uuid_json(const fv_uuid *u)
{
    char buf[FV_UUID_STR_LEN + 1];
    fv_uuid_format(u, buf);
    return json_string_nocheck(buf);
}

static json_t *opt_uuid_json(const fv_opt_uuid *u)
{
    return u->has ? uuid_json(&u->id) : json_null();
}

/* RFC 3339 UTC with milliseconds, or null. */
static json_t *time_json(fv_time t)
{
    char buf[FV_TIME_STR_MAX];
    if (t == FV_TIME_NONE || fv_time_format(t, buf) == 0)
        return json_null();
    return json_string_nocheck(buf);
}

/* Stored JSON text as the value it is, or null when absent. */
static json_t *raw_json(enc *e, fv_json j, const char *what)
{
    if (!fv_json_present(j) || j.n == 0)
        return json_null();
    json_error_t jerr;
    json_t *v = json_loadb(j.p, j.n, JSON_DECODE_ANY, &jerr);
    if (v == NULL) {
        enc_fail(
            e, json_error_code(&jerr) == json_error_out_of_memory ? FV_E_EXHAUSTED : FV_E_INTERNAL,
            what);
        return json_null();
    }
    return v;
}

static json_t *name_or_null(const char *name)
{
    return name != NULL ? json_string_nocheck(name) : json_null();
}

/* {maxRetries, initialDelayMs, backoffCoefficient, maxDelayMs}: the members
 * that are set. */
static json_t *retry_policy_json(enc *e, const fv_retry_policy *p)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    if (p->set & FV_RETRY_HAS_MAX_RETRIES)
        set(e, o, "maxRetries", json_integer((json_int_t)p->max_retries));
    if (p->set & FV_RETRY_HAS_INITIAL_DELAY)
        set(e, o, "initialDelayMs", json_integer((json_int_t)p->initial_delay_ms));
    if (p->set & FV_RETRY_HAS_BACKOFF)
        set(e, o, "backoffCoefficient", json_real(p->backoff_coefficient));
    if (p->set & FV_RETRY_HAS_MAX_DELAY)
        set(e, o, "maxDelayMs", json_integer((json_int_t)p->max_delay_ms));
    return o;
}

static json_t *tags_json(enc *e, const fv_tags *t)
{
    json_t *arr = json_array();
    if (arr == NULL)
        return NULL;
    for (size_t i = 0; i < t->n; i++)
        append(e, arr, text(e, t->v[i], "tags"), "tags");
    return arr;
}

/* The value of a settings triple; absent tags are [] (effective) or null
 * (an override that is not set). */
static void put_settings(enc *e, json_t *obj, const fv_def_settings *s, bool null_tags)
{
    set(e, obj, "timeoutSeconds",
        s->has_timeout ? json_integer((json_int_t)s->timeout_seconds) : json_null());
    set(e, obj, "retryPolicy",
        s->has_retry_policy ? retry_policy_json(e, &s->retry_policy) : json_null());
    if (s->has_tags)
        set(e, obj, "tags", tags_json(e, &s->tags));
    else
        set(e, obj, "tags", null_tags ? json_null() : json_array());
}

/* Hand out the result or release it. */
static fv_err finish(enc *e, json_t *v, json_t **out)
{
    if (e->rc == FV_OK && v == NULL)
        enc_fail(e, FV_E_EXHAUSTED, "the answer");
    if (e->rc != FV_OK) {
        json_decref(v);
        *out = NULL;
        return e->rc;
    }
    *out = v;
    return FV_OK;
}

/* ---- Workers ----------------------------------------------------------- */

static json_t *worker_json(enc *e, const fv_worker *w)
{
    json_t *o = json_object();
    if (o == NULL) {
        enc_fail(e, FV_E_EXHAUSTED, "a worker");
        return NULL;
    }
    set(e, o, "id", uuid_json(&w->id));
    set(e, o, "name", text(e, w->name, "a worker name"));
    set(e, o, "type", name_or_null(fv_worker_type_name(w->type)));
    set(e, o, "status", name_or_null(fv_worker_status_name(w->effective_status)));
    set(e, o, "version", text(e, w->version, "a worker version"));
    set(e, o, "hostName", text(e, w->host_name, "a host name"));
    set(e, o, "processId", text(e, w->process_id, "a process id"));
    set(e, o, "spaceId", opt_uuid_json(&w->space));
    set(e, o, "registeredAt", time_json(w->registered_at));
    set(e, o, "lastHeartbeatAt", time_json(w->last_heartbeat_at));
    set(e, o, "lastSeenAt", time_json(w->last_seen_at));
    set(e, o, "metadata", raw_json(e, w->metadata, "a worker's metadata"));
    set(e, o, "workflowKinds", json_integer((json_int_t)w->workflow_kinds));
    set(e, o, "taskKinds", json_integer((json_int_t)w->task_kinds));
    return o;
}

fv_err fv_http_dto_worker(const fv_worker *w, json_t **out, fv_error *err)
{
    enc e = {FV_OK, err};
    return finish(&e, worker_json(&e, w), out);
}

fv_err fv_http_dto_workers(const fv_worker_list *l, json_t **out, fv_error *err)
{
    enc e = {FV_OK, err};
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < l->n && e.rc == FV_OK; i++)
        append(&e, arr, worker_json(&e, &l->items[i]), "the workers");
    return finish(&e, arr, out);
}

static json_t *capabilities_json(enc *e, const fv_capability_ref_list *l, bool workflows)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < l->n && e->rc == FV_OK; i++) {
        const fv_capability_ref *c = &l->items[i];
        json_t *o = json_object();
        if (o != NULL) {
            set(e, o, "id", uuid_json(&c->definition_id));
            set(e, o, "kind", text(e, c->kind, "a kind"));
            set(e, o, "name", text(e, c->name, "a definition name"));
            if (workflows) {
                set(e, o, "version", text(e, c->version, "a workflow version"));
                set(e, o, "contentHash", text(e, c->content_hash, "a content hash"));
            }
            set(e, o, "registeredAt", time_json(c->registered_at));
        }
        append(e, arr, o, "the capabilities");
    }
    return arr;
}

fv_err fv_http_dto_worker_detail(const fv_worker_detail *d, json_t **out, fv_error *err)
{
    enc e = {FV_OK, err};
    json_t *o = json_object();
    if (o != NULL) {
        set(&e, o, "worker", worker_json(&e, &d->worker));
        set(&e, o, "workflowCapabilities", capabilities_json(&e, &d->workflows, true));
        set(&e, o, "taskCapabilities", capabilities_json(&e, &d->tasks, false));
    }
    return finish(&e, o, out);
}

fv_err fv_http_dto_heartbeats(const fv_heartbeat_list *l, json_t **out, fv_error *err)
{
    enc e = {FV_OK, err};
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < l->n && e.rc == FV_OK; i++) {
        json_t *o = json_object();
        if (o != NULL) {
            set(&e, o, "at", time_json(l->items[i].at));
            set(&e, o, "healthInfo", raw_json(&e, l->items[i].health_info, "health info"));
        }
        append(&e, arr, o, "the heartbeats");
    }
    return finish(&e, arr, out);
}

fv_err fv_http_dto_status_history(const fv_status_change_list *l, json_t **out, fv_error *err)
{
    enc e = {FV_OK, err};
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < l->n && e.rc == FV_OK; i++) {
        const fv_status_change *c = &l->items[i];
        json_t *o = json_object();
        if (o != NULL) {
            set(&e, o, "at", time_json(c->at));
            set(&e, o, "from", name_or_null(fv_worker_status_name(c->from)));
            set(&e, o, "to", name_or_null(fv_worker_status_name(c->to)));
            set(&e, o, "reason", text(&e, c->reason, "a status change reason"));
        }
        append(&e, arr, o, "the status history");
    }
    return finish(&e, arr, out);
}

/* ---- Definitions ------------------------------------------------------- */

static json_t *definition_json(enc *e, const fv_definition *d)
{
    json_t *o = json_object();
    if (o == NULL) {
        enc_fail(e, FV_E_EXHAUSTED, "a definition");
        return NULL;
    }
    fv_def_settings eff = fv_definition_effective(d);
    set(e, o, "id", uuid_json(&d->id));
    set(e, o, "kind", text(e, d->kind, "a kind"));
    set(e, o, "name", text(e, d->name, "a definition name"));
    set(e, o, "description", text(e, d->description, "a description"));
    set(e, o, "spaceId", opt_uuid_json(&d->space));
    put_settings(e, o, &eff, false);
    set(e, o, "cancellable", json_boolean(d->cancellable));
    json_t *cfg = json_object();
    if (cfg != NULL)
        put_settings(e, cfg, &d->configured, true);
    set(e, o, "configuration", cfg);
    set(e, o, "availabilityStatus", name_or_null(fv_availability_name(d->availability)));
    set(e, o, "workerCount", json_integer((json_int_t)d->worker_count));
    set(e, o, "firstSeenAt", time_json(d->first_seen_at));
    set(e, o, "lastRegisteredAt", time_json(d->last_registered_at));
    set(e, o, "metadata", raw_json(e, d->metadata, "a definition's metadata"));
    set(e, o, "inputSchema", raw_json(e, d->input_schema, "an input schema"));
    set(e, o, "outputSchema", raw_json(e, d->output_schema, "an output schema"));
    if (d->cls == FV_DEF_WORKFLOW)
        set(e, o, "latestVersion", text(e, d->latest_version, "a latest version"));
    if (d->cls == FV_DEF_TASK) {
        /* A bundle without task executions has no backlog: 0 and null. */
        set(e, o, "pendingTasks", json_integer(d->has_backlog ? (json_int_t)d->pending_tasks : 0));
        set(e, o, "oldestPendingAt",
            time_json(d->has_backlog ? d->oldest_pending_at : FV_TIME_NONE));
    }
    return o;
}

fv_err fv_http_dto_definition(const fv_definition *d, json_t **out, fv_error *err)
{
    enc e = {FV_OK, err};
    return finish(&e, definition_json(&e, d), out);
}

fv_err fv_http_dto_definitions(const fv_definition_list *l, json_t **out, fv_error *err)
{
    enc e = {FV_OK, err};
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < l->n && e.rc == FV_OK; i++)
        append(&e, arr, definition_json(&e, &l->items[i]), "the definitions");
    return finish(&e, arr, out);
}

fv_err fv_http_dto_definition_detail(const fv_definition_detail *d, json_t **out, fv_error *err)
{
    enc e = {FV_OK, err};
    json_t *o = definition_json(&e, &d->def);
    json_t *workers = json_array();
    for (size_t i = 0; workers != NULL && i < d->n_workers && e.rc == FV_OK; i++) {
        const fv_worker_summary *w = &d->workers[i];
        json_t *wo = json_object();
        if (wo != NULL) {
            set(&e, wo, "id", uuid_json(&w->id));
            set(&e, wo, "name", text(&e, w->name, "a worker name"));
            set(&e, wo, "status", name_or_null(fv_worker_status_name(w->status)));
            set(&e, wo, "version", text(&e, w->version, "a worker version"));
        }
        append(&e, workers, wo, "the workers");
    }
    if (o != NULL)
        set(&e, o, "workers", workers);
    else
        json_decref(workers);
    if (o != NULL && d->def.cls == FV_DEF_WORKFLOW) {
        json_t *versions = json_array();
        for (size_t i = 0; versions != NULL && i < d->n_versions && e.rc == FV_OK; i++)
            append(&e, versions, text(&e, d->versions[i], "a version"), "the versions");
        set(&e, o, "versions", versions);
    }
    return finish(&e, o, out);
}

/* ---- PATCH .../configuration ------------------------------------------- */

/* Every member of `body` that is not in names[0..n), named in one message
 * that lists the `expected` ones. */
static fv_err unknown_members(const json_t *body, const char *const *names, size_t n,
                              const char *expected, fv_error *err)
{
    char found[160] = "";
    size_t len = 0, count = 0;
    const char *key;
    json_t *v;
    json_t *obj = (json_t *)(uintptr_t)body; /* json_object_foreach does not modify it */
    json_object_foreach(obj, key, v)
    {
        size_t i = 0;
        while (i < n && strcmp(key, names[i]) != 0)
            i++;
        if (i < n)
            continue;
        count++;
        if (len < sizeof found) {
            int w =
                snprintf(found + len, sizeof found - len, "%s\"%.40s\"", len > 0 ? ", " : "", key);
            len = w < 0 ? sizeof found : len + (size_t)w;
        }
    }
    if (count == 0)
        return FV_OK;
    if (len >= sizeof found)
        snprintf(found + sizeof found - 4, 4, "...");
    return fv_error_set(err, FV_E_INVALID, "unknown field%s %s (expected %s)", count > 1 ? "s" : "",
                        found, expected);
}

typedef enum patch_field { PF_TIMEOUT, PF_RETRY, PF_TAGS } patch_field;

static const struct {
    const char *camel;
    const char *snake;
    patch_field field;
} patch_names[] = {
    {"timeoutSeconds", "timeout_seconds", PF_TIMEOUT},
    {"retryPolicy", "retry_policy", PF_RETRY},
    {"tags", "tags", PF_TAGS},
};

#define N_PATCH_NAMES (sizeof patch_names / sizeof patch_names[0])

/* Every spelling PATCH accepts. */
static const char *const patch_spellings[] = {"timeoutSeconds", "timeout_seconds", "retryPolicy",
                                              "retry_policy", "tags"};

static fv_err decode_tags(fv_arena *a, const char *key, const json_t *v, fv_tags *out,
                          fv_error *err)
{
    if (!json_is_array(v))
        return fv_error_set(err, FV_E_INVALID, "%s must be an array of strings or null", key);
    size_t n = json_array_size(v);
    const char **items = fv_arena_calloc(a, n == 0 ? 1 : n, sizeof *items);
    if (items == NULL)
        return fv_error_set(err, FV_E_EXHAUSTED, "out of memory decoding %s", key);
    for (size_t i = 0; i < n; i++) {
        const json_t *t = json_array_get(v, i);
        if (!json_is_string(t))
            return fv_error_set(err, FV_E_INVALID, "%s[%zu] must be a string", key, i);
        items[i] = fv_arena_strndup(a, json_string_value(t), json_string_length(t));
        if (items[i] == NULL)
            return fv_error_set(err, FV_E_EXHAUSTED, "out of memory decoding %s", key);
    }
    out->v = items;
    out->n = n;
    return FV_OK;
}

fv_err fv_http_dto_config_patch(fv_arena *a, const json_t *body, fv_def_config_patch *out,
                                fv_error *err)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(body))
        return fv_error_set(err, FV_E_INVALID, "request body must be a JSON object");
    fv_err rc =
        unknown_members(body, patch_spellings, sizeof patch_spellings / sizeof patch_spellings[0],
                        "timeoutSeconds, retryPolicy, tags", err);
    if (rc != FV_OK)
        return rc;
    bool seen[N_PATCH_NAMES] = {false};
    const char *key;
    json_t *v;
    json_t *obj = (json_t *)(uintptr_t)body;
    json_object_foreach(obj, key, v)
    {
        size_t i = 0;
        while (strcmp(key, patch_names[i].camel) != 0 && strcmp(key, patch_names[i].snake) != 0)
            i++;
        if (seen[i])
            return fv_error_set(err, FV_E_INVALID,
                                "\"%s\" is given twice (camelCase and snake_case)",
                                patch_names[i].camel);
        seen[i] = true;
        switch (patch_names[i].field) {
        case PF_TIMEOUT:
            if (json_is_null(v)) {
                out->timeout_op = FV_PATCH_CLEAR;
            } else if (json_is_integer(v)) {
                out->timeout_op = FV_PATCH_SET;
                out->timeout_seconds = (int64_t)json_integer_value(v);
            } else {
                return fv_error_set(err, FV_E_INVALID, "%s must be an integer or null", key);
            }
            break;
        case PF_RETRY:
            if (json_is_null(v)) {
                out->retry_op = FV_PATCH_CLEAR;
            } else {
                rc = fv_json_retry_policy_from(key, v, &out->retry_policy, err);
                if (rc != FV_OK)
                    return rc;
                out->retry_op = FV_PATCH_SET;
            }
            break;
        case PF_TAGS:
            if (json_is_null(v)) {
                out->tags_op = FV_PATCH_CLEAR;
            } else {
                rc = decode_tags(a, key, v, &out->tags, err);
                if (rc != FV_OK)
                    return rc;
                out->tags_op = FV_PATCH_SET;
            }
            break;
        }
    }
    return FV_OK;
}

/* ---- Tenants and keys -------------------------------------------------- */

static json_t *tenant_json(enc *e, const fv_tenant *t)
{
    json_t *o = json_object();
    if (o == NULL) {
        enc_fail(e, FV_E_EXHAUSTED, "a tenant");
        return NULL;
    }
    set(e, o, "id", uuid_json(&t->id));
    set(e, o, "slug", text(e, t->slug, "a tenant slug"));
    set(e, o, "name", text(e, t->name, "a tenant name"));
    set(e, o, "createdAt", time_json(t->created_at));
    return o;
}

static json_t *api_key_json(enc *e, const fv_api_key *k)
{
    json_t *o = json_object();
    if (o == NULL) {
        enc_fail(e, FV_E_EXHAUSTED, "an api key");
        return NULL;
    }
    set(e, o, "id", uuid_json(&k->id));
    set(e, o, "name", text(e, k->name, "an api key name"));
    set(e, o, "role", name_or_null(fv_role_name(k->role)));
    set(e, o, "prefix", text(e, k->prefix, "an api key prefix"));
    set(e, o, "createdAt", time_json(k->created_at));
    set(e, o, "revokedAt", time_json(k->revoked_at));
    return o;
}

static json_t *api_key_created_json(enc *e, const fv_issued_key *k)
{
    json_t *o = api_key_json(e, &k->key);
    if (o != NULL)
        set(e, o, "key", text(e, k->text, "an api key"));
    return o;
}

fv_err fv_http_dto_tenant(const fv_tenant *t, json_t **out, fv_error *err)
{
    enc e = {FV_OK, err};
    return finish(&e, tenant_json(&e, t), out);
}

fv_err fv_http_dto_tenant_created(const fv_tenant *t, const fv_issued_key *k, json_t **out,
                                  fv_error *err)
{
    enc e = {FV_OK, err};
    json_t *o = tenant_json(&e, t);
    if (o != NULL)
        set(&e, o, "adminKey", api_key_created_json(&e, k));
    return finish(&e, o, out);
}

fv_err fv_http_dto_api_keys(const fv_api_key_list *l, json_t **out, fv_error *err)
{
    enc e = {FV_OK, err};
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < l->n && e.rc == FV_OK; i++)
        append(&e, arr, api_key_json(&e, &l->items[i]), "the api keys");
    return finish(&e, arr, out);
}

fv_err fv_http_dto_api_key_created(const fv_issued_key *k, json_t **out, fv_error *err)
{
    enc e = {FV_OK, err};
    return finish(&e, api_key_created_json(&e, k), out);
}

/* The members names[0..n) of a body that has exactly those, each a string:
 * out[i] is an arena copy. `expected` lists them for the message. */
static fv_err decode_strings(fv_arena *a, const json_t *body, const char *const *names, size_t n,
                             const char *expected, const char **out, fv_error *err)
{
    if (!json_is_object(body))
        return fv_error_set(err, FV_E_INVALID, "request body must be a JSON object");
    fv_err rc = unknown_members(body, names, n, expected, err);
    if (rc != FV_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_object_get(body, names[i]);
        if (v == NULL)
            return fv_error_set(err, FV_E_INVALID, "%s is required", names[i]);
        if (!json_is_string(v))
            return fv_error_set(err, FV_E_INVALID, "%s must be a string", names[i]);
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (memchr(s, '\0', len) != NULL)
            return fv_error_set(err, FV_E_INVALID, "%s must not contain NUL characters", names[i]);
        out[i] = fv_arena_strndup(a, s, len);
        if (out[i] == NULL)
            return fv_error_set(err, FV_E_EXHAUSTED, "out of memory decoding %s", names[i]);
    }
    return FV_OK;
}

fv_err fv_http_dto_tenant_create(fv_arena *a, const json_t *body, const char **slug,
                                 const char **name, fv_error *err)
{
    static const char *const names[] = {"slug", "name"};
    const char *v[2] = {NULL, NULL};
    fv_err rc = decode_strings(a, body, names, 2, "slug, name", v, err);
    if (rc != FV_OK)
        return rc;
    *slug = v[0];
    *name = v[1];
    return FV_OK;
}

fv_err fv_http_dto_api_key_create(fv_arena *a, const json_t *body, fv_role *role, const char **name,
                                  fv_error *err)
{
    static const char *const names[] = {"role", "name"};
    const char *v[2] = {NULL, NULL};
    fv_err rc = decode_strings(a, body, names, 2, "role, name", v, err);
    if (rc != FV_OK)
        return rc;
    if (!fv_role_parse(v[0], role))
        return fv_error_set(err, FV_E_INVALID,
                            "role must be worker, operator or admin, not \"%.32s\"", v[0]);
    *name = v[1];
    return FV_OK;
}
