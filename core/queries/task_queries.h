/*
 * Reads of task executions for the driving adapters (REST task routes, SSE,
 * gRPC, metrics). Same conventions as core/usecases/task_usecases.h.
 */
#ifndef FV_CORE_QUERIES_TASK_QUERIES_H
#define FV_CORE_QUERIES_TASK_QUERIES_H

#include <stdbool.h>
#include <stddef.h>

#include "core/deps.h"
#include "core/task.h"
#include "ports/task_repo.h"

/* One task. standalone_only: a workflow-owned task is FV_E_NOT_FOUND (REST
 * task routes). */
fv_err fv_query_task(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                     bool standalone_only, fv_task *out, fv_error *err);

/* Tasks of a filter, newest first; page checked (limit 1..100, offset >= 0). */
fv_err fv_query_tasks(const fv_deps *d, fv_arena *a, const fv_task_filter *f, fv_page page,
                      fv_task_list *out, fv_error *err);

fv_err fv_query_task_attempts(const fv_deps *d, fv_arena *a, const fv_uuid *tenant,
                              const fv_uuid *id, fv_task_attempt_list *out, fv_error *err);

fv_err fv_query_task_logs(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                          bool has_level, fv_log_level level, fv_page page, fv_task_log_list *out,
                          fv_error *err);

/* Events after `after_id` (0 = from the first), oldest first, at most limit
 * (1..1000). */
fv_err fv_query_task_events(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                            int64_t after_id, size_t limit, fv_task_event_list *out, fv_error *err);

/* Backlog per kind of a tenant (NULL: every tenant), as of now: pending count
 * and age of the oldest pending task. */
fv_err fv_query_task_backlog(const fv_deps *d, fv_arena *a, const fv_uuid *tenant,
                             fv_task_backlog_list *out, fv_error *err);

#endif
