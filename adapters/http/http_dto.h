/*
 * JSON mapping of the REST API (spec/rest-api.md), apart from routing: the
 * core's records to jansson values, and request bodies to the core's
 * commands. camelCase members; timestamps RFC 3339 UTC with milliseconds;
 * absent values are JSON null, never ""; stored JSON (metadata, schemas,
 * health info) is embedded as the JSON it is.
 *
 * Encoders return FV_OK with *out a new reference (the caller json_decref's
 * it or hands it to fv_http_reply_json_take), or FV_E_EXHAUSTED (out of
 * memory) / FV_E_INTERNAL (stored JSON that does not parse, text that is not
 * UTF-8) with *out NULL. Pure and thread-safe.
 */
#ifndef FV_ADAPTERS_HTTP_HTTP_DTO_H
#define FV_ADAPTERS_HTTP_HTTP_DTO_H

#include <jansson.h>

#include "core/definition.h"
#include "core/queries/worker_queries.h"
#include "core/tenant.h"
#include "core/usecases/auth_usecases.h"
#include "core/util/arena.h"
#include "core/util/error.h"
#include "core/worker.h"
#include "ports/tenant_store.h"

/* Worker: id, name, type, status (effective), version, hostName, processId,
 * spaceId, registeredAt, lastHeartbeatAt, lastSeenAt, metadata,
 * workflowKinds, taskKinds (counts). */
fv_err fv_http_dto_worker(const fv_worker *w, json_t **out, fv_error *err);

/* [Worker...] */
fv_err fv_http_dto_workers(const fv_worker_list *l, json_t **out, fv_error *err);

/* {"worker": Worker, "workflowCapabilities": [{id, kind, name, version,
 * contentHash, registeredAt}], "taskCapabilities": [{id, kind, name,
 * registeredAt}]} (id: the definition's). */
fv_err fv_http_dto_worker_detail(const fv_worker_detail *d, json_t **out, fv_error *err);

/* [{"at", "healthInfo"}...] in the order given (newest first). */
fv_err fv_http_dto_heartbeats(const fv_heartbeat_list *l, json_t **out, fv_error *err);

/* [{"at", "from", "to", "reason"}...] in the order given. */
fv_err fv_http_dto_status_history(const fv_status_change_list *l, json_t **out, fv_error *err);

/* WorkflowDefinition / TaskDefinition (by d->cls): id, kind, name,
 * description, spaceId, timeoutSeconds, retryPolicy, tags, cancellable
 * (effective values), configuration {timeoutSeconds, retryPolicy, tags}
 * (operator overrides, null when not set), availabilityStatus, workerCount,
 * firstSeenAt, lastRegisteredAt, metadata, inputSchema, outputSchema, and
 * for workflows latestVersion. */
fv_err fv_http_dto_definition(const fv_definition *d, json_t **out, fv_error *err);

/* [Definition...] */
fv_err fv_http_dto_definitions(const fv_definition_list *l, json_t **out, fv_error *err);

/* A definition with "workers": [{id, name, status, version}] and, for
 * workflows, "versions": [...]. */
fv_err fv_http_dto_definition_detail(const fv_definition_detail *d, json_t **out, fv_error *err);

/*
 * The body of PATCH .../configuration: an object with any of timeoutSeconds
 * (alias timeout_seconds): an integer or null; retryPolicy (alias
 * retry_policy): an object (adapters/json/json_codec.h) or null; tags: an
 * array of strings or null. null clears the override, an absent member keeps
 * it. Unknown members, a member given in both spellings and wrong types are
 * FV_E_INVALID naming the member; value ranges are the core's business.
 * Strings of *out live in `a`.
 */
fv_err fv_http_dto_config_patch(fv_arena *a, const json_t *body, fv_def_config_patch *out,
                                fv_error *err);

/* ---- Tenants and keys --------------------------------------------------- */

/* Tenant: id, slug, name, createdAt. */
fv_err fv_http_dto_tenant(const fv_tenant *t, json_t **out, fv_error *err);

/* A tenant just created: Tenant plus "adminKey": ApiKeyCreated (its first
 * admin key, whose text is shown this once). */
fv_err fv_http_dto_tenant_created(const fv_tenant *t, const fv_issued_key *k, json_t **out,
                                  fv_error *err);

/* ApiKey: id, name, role, prefix (the public part of the key text),
 * createdAt, revokedAt (null while the key is valid). Never the hash, and
 * the key text is not stored. */
fv_err fv_http_dto_api_keys(const fv_api_key_list *l, json_t **out, fv_error *err);

/* ApiKeyCreated: ApiKey plus "key", the key text, shown this once. */
fv_err fv_http_dto_api_key_created(const fv_issued_key *k, json_t **out, fv_error *err);

/*
 * The body of POST /api/tenants: {"slug": string, "name": string}, both
 * required. The body of POST P/api-keys: {"role": "worker" | "operator" |
 * "admin", "name": string}, both required. Unknown members, missing ones,
 * values that are not strings and strings holding a NUL are FV_E_INVALID
 * naming the member; value rules (slug syntax, lengths, UTF-8) are the
 * core's business. Strings of the results live in `a`.
 */
fv_err fv_http_dto_tenant_create(fv_arena *a, const json_t *body, const char **slug,
                                 const char **name, fv_error *err);
fv_err fv_http_dto_api_key_create(fv_arena *a, const json_t *body, fv_role *role, const char **name,
                                  fv_error *err);

#endif
