/* Reads on workers and definitions, with statuses derived at read time. */
#include "core/queries/worker_queries.h"

#include <stdlib.h>
#include <string.h>

#include "core/util/semver.h"

fv_err fv_page_validate(fv_page page, fv_error *err)
{
    if (page.limit < 1 || page.limit > FV_PAGE_MAX_LIMIT)
        return fv_error_set(err, FV_E_INVALID, "limit must be between 1 and %d, not %lld",
                            FV_PAGE_MAX_LIMIT, (long long)page.limit);
    if (page.offset < 0 || page.offset > FV_PAGE_MAX_OFFSET)
        return fv_error_set(err, FV_E_INVALID, "offset must be between 0 and %lld, not %lld",
                            (long long)FV_PAGE_MAX_OFFSET, (long long)page.offset);
    return FV_OK;
}

static fv_err history_limit(int64_t limit, fv_error *err)
{
    if (limit < 1 || limit > FV_HISTORY_MAX_LIMIT)
        return fv_error_set(err, FV_E_INVALID, "limit must be between 1 and %d, not %lld",
                            FV_HISTORY_MAX_LIMIT, (long long)limit);
    return FV_OK;
}

static fv_err worker_not_found(const fv_uuid *id, fv_error *err)
{
    char s[FV_UUID_STR_LEN + 1];
    fv_uuid_format(id, s);
    return fv_error_set(err, FV_E_NOT_FOUND, "worker %s not found", s);
}

fv_err fv_query_worker(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                       fv_worker *out, fv_error *err)
{
    fv_err rc = fv_worker_repo_get(d->workers, a, tenant, id, out, err);
    if (rc == FV_E_NOT_FOUND)
        return worker_not_found(id, err);
    if (rc == FV_OK)
        out->effective_status =
            fv_worker_effective_status(out, fv_clock_now(d->clock), &d->liveness);
    return rc;
}

fv_err fv_query_workers(const fv_deps *d, fv_arena *a, const fv_worker_filter *f, fv_page page,
                        fv_worker_list *out, fv_error *err)
{
    fv_err rc = fv_page_validate(page, err);
    if (rc != FV_OK)
        return rc;
    if (f->has_type && fv_worker_type_name(f->type) == NULL)
        return fv_error_set(err, FV_E_INVALID, "unknown worker type");
    if (f->has_status && fv_worker_status_name(f->status) == NULL)
        return fv_error_set(err, FV_E_INVALID, "unknown worker status");
    fv_time now = fv_clock_now(d->clock);
    rc = fv_worker_repo_list(d->workers, a, f, page, now, &d->liveness, out, err);
    if (rc != FV_OK)
        return rc;
    for (size_t i = 0; i < out->n; i++)
        out->items[i].effective_status =
            fv_worker_effective_status(&out->items[i], now, &d->liveness);
    return FV_OK;
}

fv_err fv_query_worker_detail(const fv_deps *d, fv_arena *a, const fv_uuid *tenant,
                              const fv_uuid *id, fv_worker_detail *out, fv_error *err)
{
    fv_err rc = fv_query_worker(d, a, tenant, id, &out->worker, err);
    if (rc != FV_OK)
        return rc;
    rc = fv_worker_repo_capabilities(d->workers, a, tenant, id, &out->workflows, &out->tasks, err);
    if (rc == FV_E_NOT_FOUND) /* removed between the two reads */
        return worker_not_found(id, err);
    return rc;
}

fv_err fv_query_last_heartbeat(const fv_deps *d, fv_arena *a, const fv_uuid *tenant,
                               const fv_uuid *id, fv_heartbeat *out, fv_error *err)
{
    fv_worker w;
    fv_err rc = fv_query_worker(d, a, tenant, id, &w, err);
    if (rc != FV_OK)
        return rc;
    rc = fv_heartbeat_store_last(d->heartbeats, a, id, out, err);
    if (rc == FV_E_NOT_FOUND) {
        char s[FV_UUID_STR_LEN + 1];
        fv_uuid_format(id, s);
        return fv_error_set(err, rc, "worker %s has sent no heartbeat yet", s);
    }
    return rc;
}

fv_err fv_query_heartbeats(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                           int64_t limit, fv_heartbeat_list *out, fv_error *err)
{
    fv_err rc = history_limit(limit, err);
    if (rc != FV_OK)
        return rc;
    fv_worker w;
    if ((rc = fv_query_worker(d, a, tenant, id, &w, err)) != FV_OK)
        return rc;
    return fv_heartbeat_store_history(d->heartbeats, a, id, (size_t)limit, out, err);
}

fv_err fv_query_status_history(const fv_deps *d, fv_arena *a, const fv_uuid *tenant,
                               const fv_uuid *id, int64_t limit, fv_status_change_list *out,
                               fv_error *err)
{
    fv_err rc = history_limit(limit, err);
    if (rc != FV_OK)
        return rc;
    rc = fv_worker_repo_status_history(d->workers, a, tenant, id, (size_t)limit, out, err);
    if (rc == FV_E_NOT_FOUND)
        return worker_not_found(id, err);
    return rc;
}

fv_err fv_query_attach_backlog(const fv_deps *d, fv_arena *a, fv_def_class cls,
                               const fv_uuid *tenant, fv_definition *defs, size_t n, fv_error *err)
{
    fv_task_backlog_list bl;

    if (cls != FV_DEF_TASK || d->tasks.ops == NULL || n == 0)
        return FV_OK;
    fv_err rc = fv_task_repo_backlog(d->tasks, a, tenant, &bl, err);
    if (rc != FV_OK)
        return rc;
    /* A page holds at most 100 definitions and a tenant's backlog one row
     * per kind with pending tasks: a plain scan. */
    for (size_t i = 0; i < n; i++) {
        const fv_task_backlog *b = NULL;
        for (size_t k = 0; k < bl.n && b == NULL; k++)
            if (strcmp(bl.items[k].kind, defs[i].kind) == 0)
                b = &bl.items[k];
        defs[i].has_backlog = true;
        defs[i].pending_tasks = b != NULL ? b->pending : 0;
        defs[i].oldest_pending_at = b != NULL ? b->oldest_created_at : FV_TIME_NONE;
    }
    return FV_OK;
}

fv_err fv_query_definitions(const fv_deps *d, fv_arena *a, fv_def_class cls,
                            const fv_definition_filter *f, fv_page page, fv_definition_list *out,
                            fv_error *err)
{
    fv_err rc = fv_page_validate(page, err);
    if (rc != FV_OK)
        return rc;
    if (f->has_availability && fv_availability_name(f->availability) == NULL)
        return fv_error_set(err, FV_E_INVALID, "unknown availability status");
    if (f->tag != NULL) {
        fv_tags one = {&f->tag, 1};
        if ((rc = fv_tags_validate("tag", &one, err)) != FV_OK)
            return rc;
    }
    rc = fv_definition_repo_list(fv_deps_definitions(d, cls), a, f, page, fv_clock_now(d->clock),
                                 &d->liveness, out, err);
    if (rc != FV_OK)
        return rc;
    return fv_query_attach_backlog(d, a, cls, &f->tenant_id, out->items, out->n, err);
}

static fv_err get_definition(const fv_deps *d, fv_arena *a, fv_def_class cls, const fv_uuid *tenant,
                             const fv_space_sel *space, const char *kind, fv_time now,
                             fv_definition *out, fv_error *err)
{
    if (space->mode != FV_SPACE_NONE && space->mode != FV_SPACE_ID)
        return fv_error_set(err, FV_E_INVALID, "a definition is looked up in one space");
    fv_err rc = fv_text_validate("kind", kind, FV_NAME_MAX, true, err);
    if (rc != FV_OK)
        return rc;
    rc = fv_definition_repo_get(fv_deps_definitions(d, cls), a, tenant, space, kind, now,
                                &d->liveness, out, err);
    if (rc == FV_E_NOT_FOUND)
        return fv_error_set(err, rc, "%s definition \"%s\" not found", fv_def_class_name(cls),
                            kind);
    if (rc != FV_OK)
        return rc;
    return fv_query_attach_backlog(d, a, cls, tenant, out, 1, err);
}

fv_err fv_query_definition_workers(const fv_deps *d, fv_arena *a, fv_def_class cls,
                                   const fv_uuid *tenant, const fv_space_sel *space,
                                   const char *kind, fv_linked_worker_list *out, fv_error *err)
{
    fv_time now = fv_clock_now(d->clock);
    fv_definition def;
    fv_err rc = get_definition(d, a, cls, tenant, space, kind, now, &def, err);
    if (rc != FV_OK)
        return rc;
    rc = fv_worker_repo_linked_workers(d->workers, a, tenant, cls, &def.id, out, err);
    if (rc != FV_OK)
        return rc;
    for (size_t i = 0; i < out->n; i++)
        out->items[i].worker.effective_status =
            fv_worker_effective_status(&out->items[i].worker, now, &d->liveness);
    return FV_OK;
}

static int version_desc(const void *x, const void *y)
{
    return fv_semver_cmp(*(const char *const *)y, *(const char *const *)x);
}

fv_err fv_query_definition(const fv_deps *d, fv_arena *a, fv_def_class cls, const fv_uuid *tenant,
                           const fv_space_sel *space, const char *kind, fv_definition_detail *out,
                           fv_error *err)
{
    fv_linked_worker_list linked;
    fv_time now = fv_clock_now(d->clock);
    fv_err rc = get_definition(d, a, cls, tenant, space, kind, now, &out->def, err);
    if (rc != FV_OK)
        return rc;
    rc = fv_worker_repo_linked_workers(d->workers, a, tenant, cls, &out->def.id, &linked, err);
    if (rc != FV_OK)
        return rc;
    size_t n = linked.n ? linked.n : 1;
    out->workers = fv_arena_calloc(a, n, sizeof *out->workers);
    out->versions = fv_arena_calloc(a, n, sizeof *out->versions);
    if (out->workers == NULL || out->versions == NULL)
        return fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
    out->n_workers = out->n_versions = 0;
    for (size_t i = 0; i < linked.n; i++) {
        const fv_worker *w = &linked.items[i].worker;
        fv_worker_status st = fv_worker_effective_status(w, now, &d->liveness);
        if (st == FV_STATUS_OFFLINE)
            continue;
        out->workers[out->n_workers++] =
            (fv_worker_summary){.id = w->id, .name = w->name, .status = st, .version = w->version};
        const char *v = linked.items[i].version;
        if (cls != FV_DEF_WORKFLOW || v == NULL)
            continue;
        bool seen = false;
        for (size_t k = 0; k < out->n_versions && !seen; k++)
            seen = strcmp(out->versions[k], v) == 0;
        if (!seen)
            out->versions[out->n_versions++] = v;
    }
    qsort(out->versions, out->n_versions, sizeof *out->versions, version_desc);
    return FV_OK;
}
