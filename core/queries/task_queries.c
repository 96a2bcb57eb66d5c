/* Reads of task executions (core/queries/task_queries.h). */
#include "core/queries/task_queries.h"

#include "core/queries/worker_queries.h"
#include "core/usecases/task_usecases_int.h"

#define EVENTS_MAX_LIMIT 1000

static fv_err task_not_found(const fv_uuid *id, fv_error *err)
{
    char s[FV_UUID_STR_LEN + 1];
    fv_uuid_format(id, s);
    return fv_error_set(err, FV_E_NOT_FOUND, "task execution %s not found", s);
}

fv_err fv_query_task(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                     bool standalone_only, fv_task *out, fv_error *err)
{
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    if ((rc = fv_task_repo_get(d->tasks, a, tenant, id, out, err)) != FV_OK)
        return rc;
    if (standalone_only && out->workflow_execution_id.has)
        return task_not_found(id, err);
    return FV_OK;
}

fv_err fv_query_tasks(const fv_deps *d, fv_arena *a, const fv_task_filter *f, fv_page page,
                      fv_task_list *out, fv_error *err)
{
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    if ((rc = fv_page_validate(page, err)) != FV_OK)
        return rc;
    const unsigned known = FV_TASK_BIT(FV_TASK_PENDING) | FV_TASK_BIT(FV_TASK_RUNNING) |
                           FV_TASK_BIT(FV_TASK_COMPLETED) | FV_TASK_BIT(FV_TASK_FAILED) |
                           FV_TASK_BIT(FV_TASK_CANCELLED);
    if (f->status_mask & ~known)
        return fv_error_set(err, FV_E_INVALID, "status filter holds an unknown status");
    if (f->queue != NULL && (rc = fv_task_queue_validate(f->queue, err)) != FV_OK)
        return rc;
    if (f->kind != NULL && (rc = fv_task_kind_validate(f->kind, err)) != FV_OK)
        return rc;
    return fv_task_repo_list(d->tasks, a, f, page, out, err);
}

fv_err fv_query_task_attempts(const fv_deps *d, fv_arena *a, const fv_uuid *tenant,
                              const fv_uuid *id, fv_task_attempt_list *out, fv_error *err)
{
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    return fv_task_repo_attempts(d->tasks, a, tenant, id, out, err);
}

fv_err fv_query_task_logs(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                          bool has_level, fv_log_level level, fv_page page, fv_task_log_list *out,
                          fv_error *err)
{
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    if ((rc = fv_page_validate(page, err)) != FV_OK)
        return rc;
    if (has_level && (level < FV_LOG_DEBUG || level > FV_LOG_ERROR))
        return fv_error_set(err, FV_E_INVALID, "level must be DEBUG, INFO, WARN or ERROR");
    return fv_task_repo_logs(d->tasks, a, tenant, id, has_level, level, page, out, err);
}

fv_err fv_query_task_events(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                            int64_t after_id, size_t limit, fv_task_event_list *out, fv_error *err)
{
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    if (limit < 1 || limit > EVENTS_MAX_LIMIT)
        return fv_error_set(err, FV_E_INVALID, "limit must be between 1 and %d, not %zu",
                            EVENTS_MAX_LIMIT, limit);
    if (after_id < 0)
        return fv_error_set(err, FV_E_INVALID, "after event id must not be negative, not %lld",
                            (long long)after_id);
    return fv_task_repo_events(d->tasks, a, tenant, id, after_id, limit, out, err);
}

fv_err fv_query_task_backlog(const fv_deps *d, fv_arena *a, const fv_uuid *tenant,
                             fv_task_backlog_list *out, fv_error *err)
{
    fv_err rc = fv__tasks_unavailable(d, err);
    if (rc != FV_OK)
        return rc;
    return fv_task_repo_backlog(d->tasks, a, tenant, out, err);
}
