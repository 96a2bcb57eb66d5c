/*
 * Internals of the worker use cases shared with the other use cases of the
 * layer (never included outside core/usecases/).
 */
#ifndef FV_CORE_USECASES_WORKER_USECASES_INT_H
#define FV_CORE_USECASES_WORKER_USECASES_INT_H

#include "core/deps.h"
#include "core/util/error.h"
#include "core/util/time.h"
#include "core/util/uuid.h"

/* fv_worker_record_poll at `now`, which also answers the registered worker
 * the reference resolved to in *id_out (may be NULL; set only on FV_OK).
 * Same errors. PollTask's claim stores that id on the task (reclaim). */
fv_err fv__worker_record_poll(const fv_deps *d, const fv_uuid *tenant, const char *worker_ref,
                              fv_time now, fv_uuid *id_out, fv_error *err);

#endif
