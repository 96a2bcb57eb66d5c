/* Commands on workers, definitions and tenants (seed 002 WorkerUseCases). */
#include "core/usecases/worker_usecases.h"

#include <string.h>

#include "core/queries/worker_queries.h"
#include "core/usecases/worker_usecases_int.h"

static const char *nonempty(const char *s)
{
    return (s != NULL && s[0] != '\0') ? s : NULL;
}

static fv_json json_or_none(fv_json j)
{
    return (j.p != NULL && j.n > 0) ? j : FV_JSON_NONE;
}

static fv_err exhausted(fv_error *err)
{
    return fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
}

/* The request's capabilities with "not given" made explicit (NULL) and the
 * display name defaulted to the kind. */
static fv_capability *normalise(fv_arena *a, const fv_capability *in, size_t n)
{
    fv_capability *out = fv_arena_calloc(a, n ? n : 1, sizeof *out);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        out[i] = in[i];
        out[i].name = nonempty(in[i].name) ? in[i].name : in[i].kind;
        out[i].description = nonempty(in[i].description);
        out[i].version = nonempty(in[i].version);
        out[i].content_hash = nonempty(in[i].content_hash);
        out[i].metadata = json_or_none(in[i].metadata);
        out[i].input_schema = json_or_none(in[i].input_schema);
        out[i].output_schema = json_or_none(in[i].output_schema);
    }
    return out;
}

static fv_err fresh_ids(const fv_deps *d, fv_arena *a, size_t n, fv_uuid **out, fv_error *err)
{
    *out = fv_arena_calloc(a, n ? n : 1, sizeof **out);
    if (*out == NULL)
        return exhausted(err);
    for (size_t i = 0; i < n; i++) {
        fv_err rc = fv_ids_new_uuid(d->ids, &(*out)[i], err);
        if (rc != FV_OK)
            return rc;
    }
    return FV_OK;
}

/* Tenant and space must exist before anything links to them. */
static fv_err check_owner(const fv_deps *d, fv_arena *a, const fv_uuid *tenant,
                          const fv_opt_uuid *space, fv_error *err)
{
    fv_tenant t;
    char id[FV_UUID_STR_LEN + 1];
    fv_err rc = fv_tenant_store_get_tenant(d->tenants, a, tenant, &t, err);
    if (rc == FV_E_NOT_FOUND) {
        fv_uuid_format(tenant, id);
        return fv_error_set(err, rc, "tenant %s not found", id);
    }
    if (rc != FV_OK || !space->has)
        return rc;
    fv_space s;
    rc = fv_tenant_store_get_space(d->tenants, a, tenant, &space->id, &s, err);
    if (rc == FV_E_NOT_FOUND) {
        fv_uuid_format(&space->id, id);
        return fv_error_set(err, rc, "space %s not found in this tenant", id);
    }
    return rc;
}

static const fv_capability *find_kind(const fv_capability *caps, size_t n, const char *kind)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(caps[i].kind, kind) == 0)
            return &caps[i];
    return NULL;
}

/* Decision 11: a live peer serving the same kind and version with another
 * content hash is a warning in the answer. */
static fv_err collect_conflicts(const fv_deps *d, fv_arena *a, const fv_registration *reg,
                                const fv_registration_outcome *oc, fv_register_result *out,
                                fv_error *err)
{
    out->conflicts = NULL;
    out->n_conflicts = 0;
    if (oc->n_peers == 0)
        return FV_OK;
    out->conflicts = fv_arena_calloc(a, oc->n_peers, sizeof *out->conflicts);
    if (out->conflicts == NULL)
        return exhausted(err);
    for (size_t i = 0; i < oc->n_peers; i++) {
        const fv_workflow_peer *p = &oc->peers[i];
        const fv_capability *mine = find_kind(reg->workflows, reg->n_workflows, p->kind);
        if (mine == NULL || mine->content_hash == NULL || p->content_hash == NULL ||
            strcmp(mine->content_hash, p->content_hash) == 0)
            continue;
        fv_time now = reg->now;
        if (fv_worker_effective_status(&p->worker, now, &d->liveness) == FV_STATUS_OFFLINE)
            continue;
        char wid[FV_UUID_STR_LEN + 1];
        fv_uuid_format(&p->worker.id, wid);
        const char *reason = fv_arena_printf(
            a, "workflow \"%s\" version %s is served by worker %s with content hash %s, not %s",
            p->kind, mine->version ? mine->version : "(none)", wid, p->content_hash,
            mine->content_hash);
        if (reason == NULL)
            return exhausted(err);
        out->conflicts[out->n_conflicts++] = (fv_conflict){
            .cls = FV_DEF_WORKFLOW,
            .kind = p->kind,
            .reason = reason,
            .existing_worker_id = p->worker.id,
        };
    }
    return FV_OK;
}

fv_err fv_worker_register(const fv_deps *d, fv_arena *a, const fv_register_request *req,
                          fv_register_result *out, fv_error *err)
{
    fv_worker_type type;
    fv_err rc = fv_register_request_validate(req, &type, err);
    if (rc != FV_OK)
        return rc;
    if ((rc = check_owner(d, a, &req->tenant_id, &req->space, err)) != FV_OK)
        return rc;

    fv_registration reg = {0};
    reg.now = fv_clock_now(d->clock);
    fv_worker *w = &reg.worker;
    if ((rc = fv_ids_new_uuid(d->ids, &w->id, err)) != FV_OK)
        return rc;
    w->tenant_id = req->tenant_id;
    w->space = req->space;
    w->name = req->worker_name;
    w->version = nonempty(req->worker_version);
    w->type = type;
    w->status = FV_STATUS_ONLINE;
    w->host_name = nonempty(req->host_name);
    w->process_id = nonempty(req->process_id);
    w->registered_at = w->last_heartbeat_at = w->last_seen_at = w->status_changed_at = reg.now;
    w->metadata = json_or_none(req->metadata);
    w->health_info = FV_JSON_NONE;
    w->effective_status = FV_STATUS_ONLINE;

    reg.n_workflows = req->n_workflows;
    reg.n_tasks = req->n_tasks;
    reg.workflows = normalise(a, req->workflows, req->n_workflows);
    reg.tasks = normalise(a, req->tasks, req->n_tasks);
    if (reg.workflows == NULL || reg.tasks == NULL)
        return exhausted(err);
    fv_uuid *wf_ids, *task_ids;
    if ((rc = fresh_ids(d, a, reg.n_workflows, &wf_ids, err)) != FV_OK ||
        (rc = fresh_ids(d, a, reg.n_tasks, &task_ids, err)) != FV_OK)
        return rc;
    reg.workflow_def_ids = wf_ids;
    reg.task_def_ids = task_ids;

    fv_registration_outcome oc;
    if ((rc = fv_worker_repo_register(d->workers, a, &reg, &oc, err)) != FV_OK)
        return rc;
    out->worker_id = oc.worker_id;
    out->created = oc.created;
    return collect_conflicts(d, a, &reg, &oc, out, err);
}

fv_err fv_worker_heartbeat(const fv_deps *d, const fv_heartbeat_request *req, fv_error *err)
{
    fv_json health = json_or_none(req->health_info);
    fv_err rc = fv_json_validate_size("health_info", health, FV_HEALTH_INFO_MAX, err);
    if (rc != FV_OK)
        return rc;
    fv_time now = fv_clock_now(d->clock);
    rc = fv_worker_repo_touch(d->workers, &req->tenant_id, &req->worker_id, FV_SIGN_HEARTBEAT, now,
                              health, req->health_degraded, err);
    if (rc != FV_OK)
        return rc;
    return fv_heartbeat_store_record(d->heartbeats, &req->worker_id, now, health, err);
}

fv_err fv__worker_record_poll(const fv_deps *d, const fv_uuid *tenant, const char *worker_ref,
                              fv_time now, fv_uuid *id_out, fv_error *err)
{
    fv_err rc = fv_text_validate("worker_id", worker_ref, FV_NAME_MAX, true, err);
    if (rc != FV_OK)
        return rc;
    fv_uuid id;
    if (fv_uuid_parse(worker_ref, strlen(worker_ref), &id)) {
        rc = fv_worker_repo_touch(d->workers, tenant, &id, FV_SIGN_POLL, now, FV_JSON_NONE, false,
                                  err);
        if (rc == FV_OK && id_out != NULL)
            *id_out = id;
        if (rc != FV_E_NOT_FOUND)
            return rc;
        /* A name that happens to look like a UUID is still a name. */
    }
    rc = fv_worker_repo_touch_by_name(d->workers, tenant, worker_ref, now, &id, err);
    if (rc == FV_OK && id_out != NULL)
        *id_out = id;
    return rc;
}

fv_err fv_worker_record_poll(const fv_deps *d, const fv_uuid *tenant, const char *worker_ref,
                             fv_error *err)
{
    return fv__worker_record_poll(d, tenant, worker_ref, fv_clock_now(d->clock), NULL, err);
}

fv_err fv_worker_unregister(const fv_deps *d, const fv_uuid *tenant, const fv_uuid *id,
                            fv_error *err)
{
    fv_err rc = fv_worker_repo_remove(d->workers, tenant, id, err);
    if (rc != FV_OK)
        return rc;
    return fv_heartbeat_store_forget(d->heartbeats, id, err);
}

/* After stored statuses changed: bring stored availability along. */
static fv_err refresh_all(const fv_deps *d, fv_arena *a, fv_availability_change_list *wf,
                          fv_availability_change_list *tasks, fv_error *err)
{
    fv_err rc = fv_definition_repo_refresh_availability(d->workflow_defs, a, wf, err);
    if (rc != FV_OK)
        return rc;
    return fv_definition_repo_refresh_availability(d->task_defs, a, tasks, err);
}

fv_err fv_worker_set_status(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                            fv_worker_status to, const char *reason, fv_error *err)
{
    if (fv_worker_status_name(to) == NULL)
        return fv_error_set(err, FV_E_INVALID, "unknown worker status %d", (int)to);
    fv_err rc = fv_text_validate("reason", reason, FV_REASON_MAX, false, err);
    if (rc != FV_OK)
        return rc;
    fv_worker w;
    if ((rc = fv_worker_repo_get(d->workers, a, tenant, id, &w, err)) != FV_OK)
        return rc;
    if (w.status == to)
        return FV_OK;
    const char *why = fv_arena_printf(a, "operator: %s", nonempty(reason) ? reason : "status set");
    if (why == NULL)
        return exhausted(err);
    bool changed = false;
    rc = fv_worker_repo_transition(d->workers, tenant, id, w.status, to, fv_clock_now(d->clock),
                                   why, &changed, err);
    if (rc != FV_OK)
        return rc;
    if (!changed)
        return fv_error_set(err, FV_E_ABORTED,
                            "the status of the worker changed concurrently, retry");
    fv_availability_change_list wf, tasks;
    return refresh_all(d, a, &wf, &tasks, err);
}

static fv_err check_definition_ref(const fv_space_sel *space, const char *kind, fv_error *err)
{
    if (space->mode != FV_SPACE_NONE && space->mode != FV_SPACE_ID)
        return fv_error_set(err, FV_E_INVALID, "a definition is looked up in one space");
    return fv_text_validate("kind", kind, FV_NAME_MAX, true, err);
}

fv_err fv_definition_configure(const fv_deps *d, fv_arena *a, fv_def_class cls,
                               const fv_uuid *tenant, const fv_space_sel *space, const char *kind,
                               const fv_def_config_patch *patch, fv_definition *out, fv_error *err)
{
    fv_err rc = check_definition_ref(space, kind, err);
    if (rc != FV_OK)
        return rc;
    if ((rc = fv_def_config_patch_validate(patch, err)) != FV_OK)
        return rc;
    rc = fv_definition_repo_configure(fv_deps_definitions(d, cls), a, tenant, space, kind, patch,
                                      fv_clock_now(d->clock), &d->liveness, out, err);
    if (rc == FV_E_NOT_FOUND)
        return fv_error_set(err, rc, "%s definition \"%s\" not found", fv_def_class_name(cls),
                            kind);
    if (rc != FV_OK)
        return rc;
    /* Answered as a read shows it, backlog included. */
    return fv_query_attach_backlog(d, a, cls, tenant, out, 1, err);
}

fv_err fv_tenant_create(const fv_deps *d, fv_arena *a, const char *slug, const char *name,
                        fv_tenant *out, fv_error *err)
{
    fv_err rc = fv_slug_validate("tenant slug", slug, err);
    if (rc != FV_OK)
        return rc;
    if ((rc = fv_text_validate("tenant name", name, FV_TENANT_NAME_MAX, true, err)) != FV_OK)
        return rc;
    fv_tenant t = {.slug = fv_arena_strdup(a, slug), .name = fv_arena_strdup(a, name)};
    if (t.slug == NULL || t.name == NULL)
        return exhausted(err);
    if ((rc = fv_ids_new_uuid(d->ids, &t.id, err)) != FV_OK)
        return rc;
    t.created_at = fv_clock_now(d->clock);
    rc = fv_tenant_store_create_tenant(d->tenants, &t, err);
    if (rc == FV_E_CONFLICT)
        return fv_error_set(err, rc, "tenant \"%s\" already exists", slug);
    if (rc == FV_OK)
        *out = t;
    return rc;
}

fv_err fv_space_create(const fv_deps *d, fv_arena *a, const fv_uuid *tenant, const char *slug,
                       const char *name, fv_space *out, fv_error *err)
{
    fv_err rc = fv_slug_validate("space slug", slug, err);
    if (rc != FV_OK)
        return rc;
    if ((rc = fv_text_validate("space name", name, FV_TENANT_NAME_MAX, false, err)) != FV_OK)
        return rc;
    fv_space s = {.tenant_id = *tenant,
                  .slug = fv_arena_strdup(a, slug),
                  .name = fv_arena_strdup(a, nonempty(name) ? name : slug)};
    if (s.slug == NULL || s.name == NULL)
        return exhausted(err);
    if ((rc = fv_ids_new_uuid(d->ids, &s.id, err)) != FV_OK)
        return rc;
    s.created_at = fv_clock_now(d->clock);
    rc = fv_tenant_store_create_space(d->tenants, &s, err);
    if (rc == FV_E_CONFLICT)
        return fv_error_set(err, rc, "space \"%s\" already exists in this tenant", slug);
    if (rc == FV_OK)
        *out = s;
    return rc;
}
