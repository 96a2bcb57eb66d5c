/*
 * What a worker declares when it registers: itself and its capabilities
 * (spec/domain.md "Registration", grpc-contract.md §1.3), and what the answer
 * carries back (conflicts, spec decision 11).
 */
#ifndef FV_CORE_REGISTRATION_H
#define FV_CORE_REGISTRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/definition.h"
#include "core/types.h"
#include "core/util/arena.h"
#include "core/util/error.h"
#include "core/util/uuid.h"

/* One declared workflow or task capability. Strings are NUL-terminated;
 * empty strings mean "not given" (proto3 implicit presence). */
typedef struct fv_capability {
    const char *kind;        /* required, <= FV_NAME_MAX */
    const char *name;        /* display name; empty -> the kind */
    const char *description; /* empty -> none */
    bool has_timeout;
    int64_t timeout_seconds;
    bool cancellable;
    fv_tags tags;
    bool has_retry_policy;
    fv_retry_policy retry_policy;
    fv_json metadata;
    fv_json input_schema;
    fv_json output_schema;
    const char *version;      /* workflows only; empty -> none */
    const char *content_hash; /* workflows only; empty -> none */
} fv_capability;

/* RegisterWorker as the core sees it, after the edge decoded the message. */
typedef struct fv_register_request {
    fv_uuid tenant_id;
    fv_opt_uuid space;
    const char *worker_name;    /* required */
    const char *worker_version; /* empty -> none */
    const char *worker_type;    /* "WORKFLOW" | "TASK" | "UNIFIED" */
    const char *host_name;      /* empty -> none */
    const char *process_id;     /* empty -> none */
    fv_json metadata;
    const fv_capability *workflows;
    size_t n_workflows;
    const fv_capability *tasks;
    size_t n_tasks;
} fv_register_request;

/* Validate every rule of step 1 of the registration: sizes, UTF-8, the
 * worker type, kinds (non-empty, unique per class within the request), tags,
 * timeouts, retry policies, JSON sizes. Parses the worker type into *type.
 * FV_E_INVALID with a message naming the field ("workflows[2].kind ...").
 * Changes nothing anywhere. */
fv_err fv_register_request_validate(const fv_register_request *req, fv_worker_type *type,
                                    fv_error *err);

/* A warning of the answer: another live worker serves the same workflow kind
 * and version with a different content hash. */
typedef struct fv_conflict {
    fv_def_class cls;
    const char *kind;
    const char *reason;
    fv_uuid existing_worker_id;
} fv_conflict;

typedef struct fv_register_result {
    fv_uuid worker_id;
    bool created;           /* a new worker row (false: the same process registered again) */
    fv_conflict *conflicts; /* in the caller's arena */
    size_t n_conflicts;
} fv_register_result;

#endif
