/*
 * What the use cases, queries and jobs run on: the ports of one bundle and
 * the configuration of the registry. app/ builds one (in-memory or
 * production) and hands it to every driving adapter; the core only reads it.
 */
#ifndef FV_CORE_DEPS_H
#define FV_CORE_DEPS_H

#include "core/util/error.h"
#include "core/worker.h"
#include "ports/clock.h"
#include "ports/event_bus.h"
#include "ports/definition_repo.h"
#include "ports/hasher.h"
#include "ports/heartbeat_store.h"
#include "ports/ids.h"
#include "ports/task_repo.h"
#include "ports/tenant_store.h"
#include "ports/worker_repo.h"

typedef struct fv_deps {
    fv_worker_repo workers;
    fv_definition_repo workflow_defs;
    fv_definition_repo task_defs;
    fv_heartbeat_store heartbeats;
    fv_tenant_store tenants;
    /* Task executions and their wake-ups. Optional as a pair for bundles
     * that serve only the registry (older tests): ops == NULL means absent,
     * and the task use cases then answer FV_E_UNAVAILABLE. */
    fv_task_repo tasks;
    fv_event_bus bus;
    fv_clock clock;
    fv_ids ids;
    fv_hasher hasher; /* SHA-256 of API keys */
    fv_liveness liveness;
} fv_deps;

/* The definition repository of a class. */
fv_definition_repo fv_deps_definitions(const fv_deps *d, fv_def_class cls);

/* Check that every mandatory op of every port is set and that the liveness
 * configuration is valid (STYLE rule 12). FV_E_INVALID naming what is missing. */
fv_err fv_deps_validate(const fv_deps *d, fv_error *err);

#endif
