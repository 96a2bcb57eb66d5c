/*
 * Workers: processes that run workflow and task kinds, their identity, their
 * liveness and the status derived from it (spec/domain.md "Workers").
 */
#ifndef FV_CORE_WORKER_H
#define FV_CORE_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/types.h"
#include "core/util/error.h"
#include "core/util/time.h"
#include "core/util/uuid.h"

/* Limits of spec/domain.md and the seed schema, in bytes. */
#define FV_NAME_MAX         255 /* worker names, kinds, display names, host names */
#define FV_VERSION_MAX      50
#define FV_PROCESS_ID_MAX   100
#define FV_CONTENT_HASH_MAX 128
#define FV_DESCRIPTION_MAX  16384
#define FV_TAGS_MAX         50
#define FV_TAG_MAX          100
#define FV_METADATA_MAX     65536  /* worker and capability metadata (JSON) */
#define FV_SCHEMA_MAX       262144 /* one input or output JSON schema */
#define FV_HEALTH_INFO_MAX  65536  /* health info of one heartbeat */
#define FV_CAPABILITIES_MAX 1000   /* per class in one registration */
#define FV_REASON_MAX       255    /* reason of a status change */

/* Values never renumbered: adapters store them. */
typedef enum fv_worker_type {
    FV_WORKER_WORKFLOW = 1,
    FV_WORKER_TASK = 2,
    FV_WORKER_UNIFIED = 3,
} fv_worker_type;

typedef enum fv_worker_status {
    FV_STATUS_ONLINE = 1,
    FV_STATUS_DEGRADED = 2,
    FV_STATUS_OFFLINE = 3,
} fv_worker_status;

/* Bit of a status in a status mask (scans of the worker repository). */
#define FV_STATUS_BIT(s) (1u << (unsigned)(s))

/* "WORKFLOW", "TASK", "UNIFIED" / "ONLINE", "DEGRADED", "OFFLINE"; NULL for a
 * value outside the enum. Parsing is exact (upper case). */
const char *fv_worker_type_name(fv_worker_type t);
bool fv_worker_type_parse(const char *s, fv_worker_type *out);
const char *fv_worker_status_name(fv_worker_status s);
bool fv_worker_status_parse(const char *s, fv_worker_status *out);

/* Liveness thresholds and retention (spec/domain.md "Liveness and status"). */
typedef struct fv_liveness {
    int64_t degraded_after_ms; /* default 45 s */
    int64_t offline_after_ms;  /* default 60 s */
    int64_t retention_ms;      /* OFFLINE this long -> deleted; 0 = keep forever; default 24 h */
} fv_liveness;

#define FV_LIVENESS_DEFAULTS ((fv_liveness){45000, 60000, 86400000})

/* degraded_after > 0, offline_after > degraded_after, retention >= 0. */
fv_err fv_liveness_validate(const fv_liveness *l, fv_error *err);

typedef struct fv_worker {
    fv_uuid id;
    fv_uuid tenant_id;
    fv_opt_uuid space;
    const char *name;
    const char *version; /* NULL when not given */
    fv_worker_type type;
    fv_worker_status status; /* as stored; moved by registration, jobs and operators */
    const char *host_name;   /* NULL when not given */
    const char *process_id;  /* NULL when not given */
    fv_time registered_at;
    fv_time last_heartbeat_at; /* last SendHeartbeat (registration counts as the first) */
    fv_time last_seen_at;      /* last sign of life of any kind */
    fv_time status_changed_at; /* when `status` was last written */
    fv_json metadata;
    fv_json health_info;  /* what the last heartbeat carried, if anything */
    bool health_degraded; /* the last heartbeat said the worker is degraded */
    /* Filled by reads, not stored: */
    fv_worker_status effective_status;
    int64_t workflow_kinds; /* number of workflow capabilities */
    int64_t task_kinds;     /* number of task capabilities */
} fv_worker;

/*
 * The status a read reports (spec decision 7). From the age of the last sign
 * of life: <= degraded_after -> ONLINE (DEGRADED if the last heartbeat said
 * so), <= offline_after -> DEGRADED, else OFFLINE. A sign of life newer than
 * the last status change wins outright; otherwise the worse of the stored
 * status and the derived one is reported, so a status an operator set holds
 * until the worker shows life again, and a stale ONLINE never shows.
 */
fv_worker_status fv_worker_effective_status(const fv_worker *w, fv_time now, const fv_liveness *l);

/* A recorded status transition. */
typedef struct fv_status_change {
    fv_uuid worker_id;
    fv_worker_status from;
    fv_worker_status to;
    fv_time at;
    const char *reason;
} fv_status_change;

/* One heartbeat of the history. */
typedef struct fv_heartbeat {
    fv_uuid worker_id;
    fv_time at;
    fv_json health_info; /* absent when the heartbeat carried none */
} fv_heartbeat;

/* Validation helpers shared by use cases: each names `what` in its message.
 * Text must be valid UTF-8 without control characters. */
fv_err fv_text_validate(const char *what, const char *s, size_t max, bool required, fv_error *err);
/* The same for free text (log messages, details, keys): valid UTF-8 of at
 * most max bytes, control characters (newlines, tabs) allowed. */
fv_err fv_free_text_validate(const char *what, const char *s, size_t max, bool required,
                             fv_error *err);
fv_err fv_json_validate_size(const char *what, fv_json j, size_t max, fv_error *err);

#endif
