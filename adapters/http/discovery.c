/*
 * The discovery routes of spec/rest-api.md (seed 000): workers, their
 * heartbeats and status history, unregistration, and the workflow and task
 * definitions with their configuration. Each function reads its parameters,
 * calls one query or use case, and maps the answer with http_dto.h; the
 * wrapper in http_api.c has already authenticated, authorized and checked the
 * query parameters.
 */
#include "adapters/http/discovery.h"

#include <string.h>

#include "adapters/http/http_dto.h"
#include "core/queries/worker_queries.h"
#include "core/usecases/worker_usecases.h"

/* Largest number of history entries a read returns by default. */
#define HISTORY_DEFAULT_LIMIT 50

static const char *const q_workers[] = {"type", "status", "space", "limit", "offset", NULL};
static const char *const q_history[] = {"limit", NULL};
static const char *const q_definitions[] = {
    "availabilityStatus", "space", "tag", "limit", "offset", NULL};
static const char *const q_definition[] = {"space", NULL};

/* ---- Parameters shared by several routes -------------------------------- */

/* The worker of the path. */
static fv_err path_worker_id(const fv_http_ctx *c, fv_uuid *id, fv_error *err)
{
    return fv_http__param_uuid(c, "worker_id", "worker id", id, err);
}

/* What a history read takes: the worker of the path and "limit" (default
 * HISTORY_DEFAULT_LIMIT, 1..FV_HISTORY_MAX_LIMIT). */
static fv_err history_params(const fv_http_ctx *c, fv_uuid *id, int64_t *limit, fv_error *err)
{
    fv_err rc = path_worker_id(c, id, err);
    if (rc == FV_OK)
        rc = fv_http_req_query_int(c->req, "limit", HISTORY_DEFAULT_LIMIT, 1, FV_HISTORY_MAX_LIMIT,
                                   limit, err);
    return rc;
}

/* What a list takes besides its filters: "space" (absent: any space) and the
 * page. */
static fv_err list_params(const fv_http_ctx *c, fv_space_sel *space, fv_page *page, fv_error *err)
{
    fv_err rc = fv_http__query_space(c, true, space, err);
    if (rc == FV_OK)
        rc = fv_http__query_page(c, page, err);
    return rc;
}

/* ---- Workers ----------------------------------------------------------- */

static fv_err list_workers(fv_http_ctx *c, fv_error *err)
{
    fv_worker_filter f;
    memset(&f, 0, sizeof f);
    f.tenant_id = c->tenant;
    const char *type = fv_http_req_query(c->req, "type");
    if (type != NULL) {
        if (!fv_worker_type_parse(type, &f.type))
            return fv_error_set(err, FV_E_INVALID,
                                "type must be WORKFLOW, TASK or UNIFIED, not \"%.32s\"", type);
        f.has_type = true;
    }
    const char *status = fv_http_req_query(c->req, "status");
    if (status != NULL) {
        if (!fv_worker_status_parse(status, &f.status))
            return fv_error_set(err, FV_E_INVALID,
                                "status must be ONLINE, DEGRADED or OFFLINE, not \"%.32s\"",
                                status);
        f.has_status = true;
    }
    fv_page page;
    fv_err rc = list_params(c, &f.space, &page, err);
    fv_worker_list l;
    if (rc == FV_OK)
        rc = fv_query_workers(c->deps, c->arena, &f, page, &l, err);
    json_t *body = NULL;
    if (rc == FV_OK)
        rc = fv_http_dto_workers(&l, &body, err);
    if (rc != FV_OK)
        return rc;
    return fv_http__reply_list(c, body, l.total);
}

static fv_err get_worker(fv_http_ctx *c, fv_error *err)
{
    fv_uuid id;
    fv_worker_detail d;
    json_t *body = NULL;
    fv_err rc = path_worker_id(c, &id, err);
    if (rc == FV_OK)
        rc = fv_query_worker_detail(c->deps, c->arena, &c->tenant, &id, &d, err);
    if (rc == FV_OK)
        rc = fv_http_dto_worker_detail(&d, &body, err);
    if (rc != FV_OK)
        return rc;
    return fv_http_reply_json_take(c->req, 200, body);
}

static fv_err worker_heartbeats(fv_http_ctx *c, fv_error *err)
{
    fv_uuid id;
    int64_t limit = 0;
    fv_heartbeat_list l;
    json_t *body = NULL;
    fv_err rc = history_params(c, &id, &limit, err);
    if (rc == FV_OK)
        rc = fv_query_heartbeats(c->deps, c->arena, &c->tenant, &id, limit, &l, err);
    if (rc == FV_OK)
        rc = fv_http_dto_heartbeats(&l, &body, err);
    if (rc != FV_OK)
        return rc;
    return fv_http_reply_json_take(c->req, 200, body);
}

static fv_err worker_status_history(fv_http_ctx *c, fv_error *err)
{
    fv_uuid id;
    int64_t limit = 0;
    fv_status_change_list l;
    json_t *body = NULL;
    fv_err rc = history_params(c, &id, &limit, err);
    if (rc == FV_OK)
        rc = fv_query_status_history(c->deps, c->arena, &c->tenant, &id, limit, &l, err);
    if (rc == FV_OK)
        rc = fv_http_dto_status_history(&l, &body, err);
    if (rc != FV_OK)
        return rc;
    return fv_http_reply_json_take(c->req, 200, body);
}

static fv_err delete_worker(fv_http_ctx *c, fv_error *err)
{
    fv_uuid id;
    fv_err rc = path_worker_id(c, &id, err);
    if (rc == FV_OK)
        rc = fv_worker_unregister(c->deps, &c->tenant, &id, err);
    if (rc != FV_OK)
        return rc;
    return fv_http_reply_empty(c->req, 204);
}

/* ---- Definitions ------------------------------------------------------- */

static fv_err list_definitions(fv_http_ctx *c, fv_def_class cls, fv_error *err)
{
    fv_definition_filter f;
    memset(&f, 0, sizeof f);
    f.tenant_id = c->tenant;
    const char *avail = fv_http_req_query(c->req, "availabilityStatus");
    if (avail != NULL) {
        if (!fv_availability_parse(avail, &f.availability))
            return fv_error_set(err, FV_E_INVALID,
                                "availabilityStatus must be AVAILABLE, DEGRADED or UNAVAILABLE, "
                                "not \"%.32s\"",
                                avail);
        f.has_availability = true;
    }
    f.tag = fv_http_req_query(c->req, "tag");
    fv_page page;
    fv_err rc = list_params(c, &f.space, &page, err);
    fv_definition_list l;
    if (rc == FV_OK)
        rc = fv_query_definitions(c->deps, c->arena, cls, &f, page, &l, err);
    json_t *body = NULL;
    if (rc == FV_OK)
        rc = fv_http_dto_definitions(&l, &body, err);
    if (rc != FV_OK)
        return rc;
    return fv_http__reply_list(c, body, l.total);
}

static fv_err get_definition(fv_http_ctx *c, fv_def_class cls, fv_error *err)
{
    fv_space_sel space;
    fv_definition_detail d;
    json_t *body = NULL;
    fv_err rc = fv_http__query_space(c, false, &space, err);
    if (rc == FV_OK)
        rc = fv_query_definition(c->deps, c->arena, cls, &c->tenant, &space,
                                 fv_http_req_param(c->req, "kind"), &d, err);
    if (rc == FV_OK)
        rc = fv_http_dto_definition_detail(&d, &body, err);
    if (rc != FV_OK)
        return rc;
    return fv_http_reply_json_take(c->req, 200, body);
}

static fv_err configure_definition(fv_http_ctx *c, fv_def_class cls, fv_error *err)
{
    fv_space_sel space;
    json_t *in = NULL;
    fv_def_config_patch patch;
    fv_definition d;
    json_t *body = NULL;
    fv_err rc = fv_http__query_space(c, false, &space, err);
    if (rc == FV_OK)
        rc = fv_http_req_json_object(c->req, &in, err);
    if (rc == FV_OK)
        rc = fv_http_dto_config_patch(c->arena, in, &patch, err);
    json_decref(in);
    if (rc == FV_OK)
        rc = fv_definition_configure(c->deps, c->arena, cls, &c->tenant, &space,
                                     fv_http_req_param(c->req, "kind"), &patch, &d, err);
    if (rc == FV_OK)
        rc = fv_http_dto_definition(&d, &body, err);
    if (rc != FV_OK)
        return rc;
    return fv_http_reply_json_take(c->req, 200, body);
}

static fv_err list_workflow_definitions(fv_http_ctx *c, fv_error *err)
{
    return list_definitions(c, FV_DEF_WORKFLOW, err);
}

static fv_err get_workflow_definition(fv_http_ctx *c, fv_error *err)
{
    return get_definition(c, FV_DEF_WORKFLOW, err);
}

static fv_err configure_workflow_definition(fv_http_ctx *c, fv_error *err)
{
    return configure_definition(c, FV_DEF_WORKFLOW, err);
}

static fv_err list_task_definitions(fv_http_ctx *c, fv_error *err)
{
    return list_definitions(c, FV_DEF_TASK, err);
}

static fv_err get_task_definition(fv_http_ctx *c, fv_error *err)
{
    return get_definition(c, FV_DEF_TASK, err);
}

static fv_err configure_task_definition(fv_http_ctx *c, fv_error *err)
{
    return configure_definition(c, FV_DEF_TASK, err);
}

/* ---- The table --------------------------------------------------------- */

const fv_http__tenant_route fv_http__discovery_routes[] = {
    {"GET", "/workers", list_workers, FV_HTTP_READ_ROLES, q_workers, FV_HTTP_SCOPE_TENANT},
    {"GET", "/workers/{worker_id}", get_worker, FV_HTTP_READ_ROLES, NULL, FV_HTTP_SCOPE_TENANT},
    {"DELETE", "/workers/{worker_id}", delete_worker, FV_HTTP_OPERATOR_ROLES, NULL,
     FV_HTTP_SCOPE_TENANT},
    {"GET", "/workers/{worker_id}/heartbeats", worker_heartbeats, FV_HTTP_READ_ROLES, q_history,
     FV_HTTP_SCOPE_TENANT},
    {"GET", "/workers/{worker_id}/status-history", worker_status_history, FV_HTTP_READ_ROLES,
     q_history, FV_HTTP_SCOPE_TENANT},
    {"GET", "/workflow-definitions", list_workflow_definitions, FV_HTTP_READ_ROLES, q_definitions,
     FV_HTTP_SCOPE_TENANT},
    {"GET", "/workflow-definitions/{kind}", get_workflow_definition, FV_HTTP_READ_ROLES,
     q_definition, FV_HTTP_SCOPE_TENANT},
    {"PATCH", "/workflow-definitions/{kind}/configuration", configure_workflow_definition,
     FV_HTTP_OPERATOR_ROLES, q_definition, FV_HTTP_SCOPE_TENANT},
    {"GET", "/task-definitions", list_task_definitions, FV_HTTP_READ_ROLES, q_definitions,
     FV_HTTP_SCOPE_TENANT},
    {"GET", "/task-definitions/{kind}", get_task_definition, FV_HTTP_READ_ROLES, q_definition,
     FV_HTTP_SCOPE_TENANT},
    {"PATCH", "/task-definitions/{kind}/configuration", configure_task_definition,
     FV_HTTP_OPERATOR_ROLES, q_definition, FV_HTTP_SCOPE_TENANT},
};

const size_t fv_http__discovery_route_count =
    sizeof fv_http__discovery_routes / sizeof fv_http__discovery_routes[0];
