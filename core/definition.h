/*
 * Workflow and task definitions: the catalog of kinds workers declare, the
 * operator's configuration kept apart from what workers declare, and
 * availability (spec/domain.md "Definitions").
 */
#ifndef FV_CORE_DEFINITION_H
#define FV_CORE_DEFINITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/types.h"
#include "core/util/error.h"
#include "core/util/time.h"
#include "core/util/uuid.h"
#include "core/worker.h"

/* Values never renumbered: adapters store them. */
typedef enum fv_def_class {
    FV_DEF_WORKFLOW = 1,
    FV_DEF_TASK = 2,
} fv_def_class;

typedef enum fv_availability {
    FV_AVAIL_AVAILABLE = 1,
    FV_AVAIL_DEGRADED = 2,
    FV_AVAIL_UNAVAILABLE = 3,
} fv_availability;

/* "workflow"/"task"; "AVAILABLE"/"DEGRADED"/"UNAVAILABLE"; parse is exact. */
const char *fv_def_class_name(fv_def_class c);
const char *fv_availability_name(fv_availability a);
bool fv_availability_parse(const char *s, fv_availability *out);

/* AVAILABLE if at least one linked worker is ONLINE; DEGRADED if none is
 * ONLINE but one is DEGRADED; UNAVAILABLE otherwise. */
fv_availability fv_availability_from_counts(int64_t online, int64_t degraded);

/* Limits of configuration values. */
#define FV_TIMEOUT_MAX_SECONDS 31536000 /* one year */
#define FV_RETRY_MAX_RETRIES   10
#define FV_RETRY_DELAY_MAX_MS  ((int64_t)30 * 86400 * 1000) /* 30 days */
#define FV_RETRY_BACKOFF_MAX   100.0

/* Which fields of a retry policy are set. */
enum {
    FV_RETRY_HAS_MAX_RETRIES = 1u << 0,
    FV_RETRY_HAS_INITIAL_DELAY = 1u << 1,
    FV_RETRY_HAS_BACKOFF = 1u << 2,
    FV_RETRY_HAS_MAX_DELAY = 1u << 3,
};

/* A retry policy, decoded by the edge from JSON ({maxRetries, initialDelayMs,
 * backoffCoefficient, maxDelayMs}); wide types so that out-of-range input
 * reaches the validator intact. */
typedef struct fv_retry_policy {
    unsigned set; /* FV_RETRY_HAS_* bits */
    int64_t max_retries;
    int64_t initial_delay_ms;
    double backoff_coefficient;
    int64_t max_delay_ms;
} fv_retry_policy;

/* maxRetries 0..10, initialDelayMs 0..30 days, backoffCoefficient 1..100
 * (finite), maxDelayMs >= initialDelayMs and <= 30 days. */
fv_err fv_retry_policy_validate(const char *what, const fv_retry_policy *p, fv_error *err);

/* Timeouts in seconds: 1..FV_TIMEOUT_MAX_SECONDS. */
fv_err fv_timeout_validate(const char *what, int64_t seconds, fv_error *err);

typedef struct fv_tags {
    const char *const *v;
    size_t n;
} fv_tags;

/* At most FV_TAGS_MAX tags of 1..FV_TAG_MAX bytes of valid UTF-8. */
fv_err fv_tags_validate(const char *what, const fv_tags *t, fv_error *err);

/* The settings a definition has twice: as declared by workers and as
 * configured by an operator. */
typedef struct fv_def_settings {
    bool has_timeout;
    int64_t timeout_seconds;
    bool has_retry_policy;
    fv_retry_policy retry_policy;
    bool has_tags;
    fv_tags tags;
} fv_def_settings;

typedef struct fv_definition {
    fv_uuid id;
    fv_uuid tenant_id;
    fv_opt_uuid space;
    fv_def_class cls;
    const char *kind;
    const char *name;
    const char *description; /* NULL when none */
    bool cancellable;
    fv_def_settings declared;     /* from the latest registration */
    fv_def_settings configured;   /* operator overrides; a field without has_ is unset */
    const char *latest_version;   /* workflows: highest semantic version seen; NULL otherwise */
    fv_availability availability; /* on reads: derived from the live statuses of its workers */
    fv_time first_seen_at;
    fv_time last_registered_at;
    fv_json metadata;
    fv_json input_schema;
    fv_json output_schema;
    int64_t worker_count; /* on reads: linked workers that are not OFFLINE */
    /* On reads of task definitions when the bundle serves task executions
     * (has_backlog): the PENDING tasks of the kind in the tenant and when the
     * oldest of them was created (FV_TIME_NONE when there is none). Left
     * false/0 by the repositories; the queries fill it. */
    bool has_backlog;
    int64_t pending_tasks;
    fv_time oldest_pending_at;
} fv_definition;

/* Effective settings: each configured value where present, else the declared
 * one (spec decision 8). Borrowed pointers into d. */
fv_def_settings fv_definition_effective(const fv_definition *d);

/* PATCH .../configuration: per field keep, set, or clear (JSON null). */
typedef enum fv_patch_op {
    FV_PATCH_KEEP = 0,
    FV_PATCH_SET,
    FV_PATCH_CLEAR,
} fv_patch_op;

typedef struct fv_def_config_patch {
    fv_patch_op timeout_op;
    int64_t timeout_seconds;
    fv_patch_op retry_op;
    fv_retry_policy retry_policy;
    fv_patch_op tags_op;
    fv_tags tags;
} fv_def_config_patch;

/* Validates the values of SET fields; an all-KEEP patch is valid. */
fv_err fv_def_config_patch_validate(const fv_def_config_patch *p, fv_error *err);

/* Apply a validated patch to configured settings (pointers are borrowed from
 * the patch: the caller copies them where they must outlive it). */
void fv_def_config_patch_apply(const fv_def_config_patch *p, fv_def_settings *configured);

/* A recorded availability transition (job reports). */
typedef struct fv_availability_change {
    fv_uuid definition_id;
    fv_def_class cls;
    const char *kind;
    fv_availability from;
    fv_availability to;
} fv_availability_change;

#endif
