/* Step 1 of the registration: every rule a request must satisfy. */
#include "core/registration.h"

#include <stdio.h>
#include <string.h>

#include "core/util/utf8.h"
#include "core/worker.h"

/* Field paths like "workflows[3].kind" appear in messages only, so they are
 * formatted only once a check has failed (validation runs on every
 * registration; formatting every path up front doubled its cost). */
#define PATH(field) (snprintf(p, sizeof p, "%s[%zu].%s", list, i, field), p)

static fv_err check_text(const char *list, size_t i, const char *field, const char *s, size_t max,
                         bool required, fv_error *err)
{
    if (fv_text_validate(field, s, max, required, NULL) == FV_OK)
        return FV_OK;
    char p[96];
    return fv_text_validate(PATH(field), s, max, required, err);
}

static fv_err check_json(const char *list, size_t i, const char *field, fv_json j, size_t max,
                         fv_error *err)
{
    if (fv_json_validate_size(field, j, max, NULL) == FV_OK)
        return FV_OK;
    char p[96];
    return fv_json_validate_size(PATH(field), j, max, err);
}

static fv_err validate_capability(const char *list, size_t i, const fv_capability *c, bool workflow,
                                  fv_error *err)
{
    char p[96];
    fv_err rc;
    if ((rc = check_text(list, i, "kind", c->kind, FV_NAME_MAX, true, err)) != FV_OK ||
        (rc = check_text(list, i, "name", c->name, FV_NAME_MAX, false, err)) != FV_OK)
        return rc;
    if (c->description != NULL) {
        /* Descriptions may hold newlines and tabs: only size and UTF-8. */
        size_t n = strlen(c->description);
        if (n > FV_DESCRIPTION_MAX)
            return fv_error_set(err, FV_E_INVALID, "%s is %zu bytes long, the limit is %d",
                                PATH("description"), n, FV_DESCRIPTION_MAX);
        if (!fv_utf8_valid(c->description, n))
            return fv_error_set(err, FV_E_INVALID, "%s is not valid UTF-8", PATH("description"));
    }
    if (c->has_timeout && fv_timeout_validate("", c->timeout_seconds, NULL) != FV_OK)
        return fv_timeout_validate(PATH("timeout_seconds"), c->timeout_seconds, err);
    if (fv_tags_validate("", &c->tags, NULL) != FV_OK)
        return fv_tags_validate(PATH("tags"), &c->tags, err);
    if (c->has_retry_policy && fv_retry_policy_validate("", &c->retry_policy, NULL) != FV_OK)
        return fv_retry_policy_validate(PATH("retry_policy"), &c->retry_policy, err);
    if ((rc = check_json(list, i, "metadata", c->metadata, FV_METADATA_MAX, err)) != FV_OK ||
        (rc = check_json(list, i, "input_schema", c->input_schema, FV_SCHEMA_MAX, err)) != FV_OK ||
        (rc = check_json(list, i, "output_schema", c->output_schema, FV_SCHEMA_MAX, err)) != FV_OK)
        return rc;
    if (workflow &&
        ((rc = check_text(list, i, "version", c->version, FV_VERSION_MAX, false, err)) != FV_OK ||
         (rc = check_text(list, i, "content_hash", c->content_hash, FV_CONTENT_HASH_MAX, false,
                          err)) != FV_OK))
        return rc;
    return FV_OK;
}

static fv_err validate_list(const char *list, const fv_capability *caps, size_t n, bool workflow,
                            fv_error *err)
{
    if (n > FV_CAPABILITIES_MAX)
        return fv_error_set(err, FV_E_INVALID, "%s has %zu entries, the limit is %d", list, n,
                            FV_CAPABILITIES_MAX);
    for (size_t i = 0; i < n; i++) {
        fv_err rc = validate_capability(list, i, &caps[i], workflow, err);
        if (rc != FV_OK)
            return rc;
    }
    /* Kinds are unique within one class of one request: a worker links to a
     * definition once. Quadratic, but n is small and bounded. */
    for (size_t i = 1; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(caps[i].kind, caps[j].kind) == 0)
                return fv_error_set(err, FV_E_INVALID,
                                    "%s[%zu].kind \"%s\" is declared more than once", list, i,
                                    caps[i].kind);
    return FV_OK;
}

fv_err fv_register_request_validate(const fv_register_request *req, fv_worker_type *type,
                                    fv_error *err)
{
    fv_err rc;
    if ((rc = fv_text_validate("worker_name", req->worker_name, FV_NAME_MAX, true, err)) != FV_OK ||
        (rc = fv_text_validate("worker_version", req->worker_version, FV_VERSION_MAX, false,
                               err)) != FV_OK ||
        (rc = fv_text_validate("host_name", req->host_name, FV_NAME_MAX, false, err)) != FV_OK ||
        (rc = fv_text_validate("process_id", req->process_id, FV_PROCESS_ID_MAX, false, err)) !=
            FV_OK)
        return rc;
    if (req->worker_type == NULL || !fv_worker_type_parse(req->worker_type, type))
        return fv_error_set(err, FV_E_INVALID,
                            "worker_type must be WORKFLOW, TASK or UNIFIED, not \"%.40s\"",
                            req->worker_type ? req->worker_type : "");
    if ((rc = fv_json_validate_size("metadata", req->metadata, FV_METADATA_MAX, err)) != FV_OK)
        return rc;
    if (req->n_workflows > 0 && req->workflows == NULL)
        return fv_error_set(err, FV_E_INVALID, "workflows are missing");
    if (req->n_tasks > 0 && req->tasks == NULL)
        return fv_error_set(err, FV_E_INVALID, "tasks are missing");
    if ((rc = validate_list("workflows", req->workflows, req->n_workflows, true, err)) != FV_OK)
        return rc;
    return validate_list("tasks", req->tasks, req->n_tasks, false, err);
}
