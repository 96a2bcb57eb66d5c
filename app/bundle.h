/*
 * Bundles: the concrete ports the server runs on, wired into one fv_deps.
 * This build has the in-memory bundle only (tests, demos, `make run`); the
 * PostgreSQL bundle comes with its own issue.
 */
#ifndef FV_APP_BUNDLE_H
#define FV_APP_BUNDLE_H

#include "adapters/memory/mem_store.h"
#include "app/config.h"
#include "core/deps.h"
#include "core/util/error.h"

typedef struct fv_app_bundle {
    fv_deps deps;        /* what the use cases, queries and jobs run on */
    fv_mem_store *store; /* owned; NULL for other bundles */
} fv_app_bundle;

/*
 * The in-memory bundle: one fv_mem_store and its port views, the system
 * clock, system ids (getrandom), the nettle SHA-256 hasher and the liveness
 * thresholds of cfg. The result is checked with fv_deps_validate.
 * FV_E_EXHAUSTED (out of memory), FV_E_INVALID (wiring or thresholds). On
 * failure *b holds nothing to release. Release with fv_app_bundle_close once
 * nothing uses b->deps any more (after the servers and the scheduler stop).
 */
fv_err fv_app_bundle_open_memory(const fv_app_config *cfg, fv_app_bundle *b, fv_error *err);

/* Release what the bundle owns. Safe on a zeroed bundle and twice. */
void fv_app_bundle_close(fv_app_bundle *b);

#endif
