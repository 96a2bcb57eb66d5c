/* The definition repositories on Postgres (ports/definition_repo.h): one
 * implementation for both classes, a view of the store per class, on the
 * queries of queries/definitions.sql. */
#include <string.h>

#include "adapters/postgres/pg_store_int.h"
#include "db_definitions.h"

/* ------------------------------------------------------------------------ */
/* Rows                                                                      */
/* ------------------------------------------------------------------------ */

static fv_retry_policy retry_of(const fv_db_definition_v *r, bool configured)
{
    if (configured)
        return fv__pg_retry_of(
            r->configured_retry_max_retries_valid, r->configured_retry_max_retries,
            r->configured_retry_initial_delay_ms_valid, r->configured_retry_initial_delay_ms,
            r->configured_retry_backoff_coefficient_valid, r->configured_retry_backoff_coefficient,
            r->configured_retry_max_delay_ms_valid, r->configured_retry_max_delay_ms);
    return fv__pg_retry_of(r->retry_max_retries_valid, r->retry_max_retries,
                           r->retry_initial_delay_ms_valid, r->retry_initial_delay_ms,
                           r->retry_backoff_coefficient_valid, r->retry_backoff_coefficient,
                           r->retry_max_delay_ms_valid, r->retry_max_delay_ms);
}

/* A definition as reads give it; strings point into the query's result,
 * which lives in the caller's arena. */
static fv_err definition_of(const fv_db_definition_v *r, const char *availability,
                            int64_t worker_count, fv_definition *d, fv_error *err)
{
    memset(d, 0, sizeof *d);
    if (r->cls != FV_DEF_WORKFLOW && r->cls != FV_DEF_TASK)
        return fv_error_set(err, FV_E_INTERNAL, "the database holds an unknown class");
    d->id = r->id;
    d->tenant_id = r->tenant_id;
    d->space.has = r->space_id_valid;
    if (r->space_id_valid)
        d->space.id = r->space_id;
    d->cls = (fv_def_class)r->cls;
    d->kind = r->kind;
    d->name = r->name;
    d->description = r->description;
    d->cancellable = r->cancellable;
    d->declared.has_timeout = r->timeout_seconds_valid;
    d->declared.timeout_seconds = r->timeout_seconds;
    d->declared.has_retry_policy = r->has_retry_policy;
    if (r->has_retry_policy)
        d->declared.retry_policy = retry_of(r, false);
    d->declared.has_tags = r->tags_valid;
    d->declared.tags = (fv_tags){r->tags.v, r->tags.n};
    d->configured.has_timeout = r->configured_timeout_seconds_valid;
    d->configured.timeout_seconds = r->configured_timeout_seconds;
    d->configured.has_retry_policy = r->has_configured_retry_policy;
    if (r->has_configured_retry_policy)
        d->configured.retry_policy = retry_of(r, true);
    d->configured.has_tags = r->configured_tags_valid;
    d->configured.tags = (fv_tags){r->configured_tags.v, r->configured_tags.n};
    d->latest_version = r->latest_version;
    fv_err rc = fv__pg_parse_availability(availability, &d->availability, err);
    if (rc != FV_OK)
        return rc;
    d->first_seen_at = r->first_seen_at;
    d->last_registered_at = r->last_registered_at;
    d->metadata = fv__pg_json_of(r->metadata);
    d->input_schema = fv__pg_json_of(r->input_schema);
    d->output_schema = fv__pg_json_of(r->output_schema);
    d->worker_count = worker_count;
    return FV_OK;
}

/* The generated queries of one class (both variants share their types);
 * _on: the pool variant. */
typedef struct class_queries {
    fv_err (*get)(fv_pg_conn *c, fv_arena *a, const fv_db_get_definition_params *p,
                  fv_db_get_definition_row *out, fv_error *err);
    fv_err (*get_on)(fv_pg_pool *pool, fv_arena *a, const fv_db_get_definition_params *p,
                     fv_db_get_definition_row *out, fv_error *err);
    fv_err (*list)(fv_pg_conn *c, fv_arena *a, const fv_db_list_definitions_params *p,
                   fv_db_definition_page_row **rows, size_t *n, fv_error *err);
    fv_err (*list_by_availability)(fv_pg_conn *c, fv_arena *a,
                                   const fv_db_list_definitions_by_availability_params *p,
                                   fv_db_definition_page_row **rows, size_t *n, fv_error *err);
    fv_err (*count)(fv_pg_conn *c, fv_arena *a, const fv_db_count_definitions_params *p,
                    fv_db_count_definitions_row *out, fv_error *err);
    fv_err (*configure)(fv_pg_conn *c, fv_arena *a, const fv_db_configure_definition_params *p,
                        int64_t *affected, fv_error *err);
    fv_err (*refresh)(fv_pg_conn *c, fv_arena *a, fv_db_refresh_definitions_row **rows, size_t *n,
                      fv_error *err);
    fv_err (*count_by_availability_on)(fv_pg_pool *pool, fv_arena *a,
                                       const fv_db_count_definitions_by_availability_params *p,
                                       fv_db_count_definitions_by_availability_row *out,
                                       fv_error *err);
} class_queries;

static const class_queries workflow_queries = {
    .get = fv_db_get_workflow_definition,
    .get_on = fv_db_get_workflow_definition_on,
    .list = fv_db_list_workflow_definitions,
    .list_by_availability = fv_db_list_workflow_definitions_by_availability,
    .count = fv_db_count_workflow_definitions,
    .configure = fv_db_configure_workflow_definition,
    .refresh = fv_db_refresh_workflow_definitions,
    .count_by_availability_on = fv_db_count_workflow_definitions_by_availability_on,
};

static const class_queries task_queries = {
    .get = fv_db_get_task_definition,
    .get_on = fv_db_get_task_definition_on,
    .list = fv_db_list_task_definitions,
    .list_by_availability = fv_db_list_task_definitions_by_availability,
    .count = fv_db_count_task_definitions,
    .configure = fv_db_configure_task_definition,
    .refresh = fv_db_refresh_task_definitions,
    .count_by_availability_on = fv_db_count_task_definitions_by_availability_on,
};

static const class_queries *queries_of(fv_def_class cls)
{
    return cls == FV_DEF_WORKFLOW ? &workflow_queries : &task_queries;
}

static fv_err one_space(const fv_space_sel *sel, const fv_uuid **space, fv_error *err)
{
    switch (sel->mode) {
    case FV_SPACE_NONE:
        *space = NULL;
        return FV_OK;
    case FV_SPACE_ID:
        *space = &sel->id;
        return FV_OK;
    case FV_SPACE_ANY:
        break;
    }
    return fv_error_set(err, FV_E_INVALID, "a definition is looked up in one space");
}

static fv_err def_not_found(fv_def_class cls, const char *kind, fv_error *err)
{
    return fv_error_set(err, FV_E_NOT_FOUND, "%s definition \"%s\" not found",
                        fv_def_class_name(cls), kind);
}

/* GetDefinition on the connection c, or on one of the pool when c is
 * NULL. */
static fv_err get_definition(fv_pg_pool *pool, fv_pg_conn *c, fv_arena *a, fv_def_class cls,
                             const fv_uuid *tenant, const fv_uuid *space, const char *kind,
                             fv_time now, const fv_liveness *l, fv_definition *out, fv_error *err)
{
    fv_db_get_definition_params p = {
        .tenant_id = tenant,
        .space_id = space,
        .kind = kind,
        .now = now,
        .degraded_after = l->degraded_after_ms,
        .offline_after = l->offline_after_ms,
    };
    const class_queries *q = queries_of(cls);
    fv_db_get_definition_row r;
    fv_err rc = c != NULL ? q->get(c, a, &p, &r, err) : q->get_on(pool, a, &p, &r, err);
    if (rc == FV_E_NOT_FOUND)
        return def_not_found(cls, kind, err);
    if (rc != FV_OK)
        return rc;
    return definition_of(&r.d, r.availability, r.worker_count, out, err);
}

/* ------------------------------------------------------------------------ */
/* Ops                                                                       */
/* ------------------------------------------------------------------------ */

static fv_err op_get(void *self, fv_arena *a, const fv_uuid *tenant, const fv_space_sel *space,
                     const char *kind, fv_time now, const fv_liveness *l, fv_definition *out,
                     fv_error *err)
{
    const fv__pg_def_view *v = self;
    const fv_uuid *sp = NULL;
    fv_err rc = one_space(space, &sp, err);
    if (rc != FV_OK)
        return rc;
    if (kind == NULL)
        return def_not_found(v->cls, "", err);
    return get_definition(v->s->pool, NULL, a, v->cls, tenant, sp, kind, now, l, out, err);
}

static fv_err op_list(void *self, fv_arena *a, const fv_definition_filter *f, fv_page page,
                      fv_time now, const fv_liveness *l, fv_definition_list *out, fv_error *err)
{
    const fv__pg_def_view *v = self;
    const class_queries *q = queries_of(v->cls);
    *out = (fv_definition_list){NULL, 0, 0};
    int64_t limit, offset;
    fv__pg_page(page, &limit, &offset);
    const char *avail = f->has_availability ? fv_availability_name(f->availability) : NULL;
    if (f->has_availability && avail == NULL)
        return fv_error_set(err, FV_E_INVALID, "unknown availability %d", (int)f->availability);
    bool any_space = f->space.mode == FV_SPACE_ANY;
    const fv_uuid *space = f->space.mode == FV_SPACE_ID ? &f->space.id : NULL;
    fv_pg_conn *c;
    fv_err rc = fv_pg_acquire(v->s->pool, &c, err);
    if (rc != FV_OK)
        return rc;
    fv_db_definition_page_row *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    if (avail == NULL) {
        fv_db_list_definitions_params p = {
            .tenant_id = &f->tenant_id,
            .any_space = any_space,
            .space_id = space,
            .tag = f->tag,
            .now = now,
            .degraded_after = l->degraded_after_ms,
            .offline_after = l->offline_after_ms,
            .page_limit = limit,
            .page_offset = offset,
        };
        rc = q->list(c, a, &p, &rows, &n, err);
    } else {
        fv_db_list_definitions_by_availability_params p = {
            .tenant_id = &f->tenant_id,
            .any_space = any_space,
            .space_id = space,
            .tag = f->tag,
            .availability = avail,
            .now = now,
            .degraded_after = l->degraded_after_ms,
            .offline_after = l->offline_after_ms,
            .page_limit = limit,
            .page_offset = offset,
        };
        rc = q->list_by_availability(c, a, &p, &rows, &n, err);
    }
    if (rc == FV_OK && n > 0) {
        total = rows[0].total;
    } else if (rc == FV_OK && offset > 0) {
        /* A page beyond the last: the total still counts. */
        fv_db_count_definitions_params cp = {
            .tenant_id = &f->tenant_id,
            .any_space = any_space,
            .space_id = space,
            .tag = f->tag,
            .availability = avail,
            .now = now,
            .degraded_after = l->degraded_after_ms,
            .offline_after = l->offline_after_ms,
        };
        fv_db_count_definitions_row cr;
        rc = q->count(c, a, &cp, &cr, err);
        total = cr.total;
    }
    fv_pg_release(v->s->pool, c);
    if (rc != FV_OK)
        return rc;
    fv_definition *items = fv_arena_calloc(a, n ? n : 1, sizeof *items);
    if (items == NULL)
        return fv__pg_exhausted(err);
    for (size_t i = 0; i < n; i++) {
        rc = definition_of(&rows[i].d, rows[i].availability, rows[i].worker_count, &items[i], err);
        if (rc != FV_OK)
            return rc;
    }
    *out = (fv_definition_list){items, n, total};
    return FV_OK;
}

typedef struct configure_tx {
    fv_arena *a;
    fv_def_class cls;
    const fv_uuid *tenant;
    const fv_uuid *space;
    const char *kind;
    const fv_def_config_patch *patch;
    fv_time now;
    const fv_liveness *l;
    fv_definition *out;
} configure_tx;

static fv_err configure_fn(fv_pg_conn *c, void *user, fv_error *err)
{
    configure_tx *t = user;
    const fv_def_config_patch *x = t->patch;
    const fv_retry_policy *r = &x->retry_policy;
    bool set_retry = x->retry_op == FV_PATCH_SET;
    fv_db_text_array tags = fv__pg_tags(&x->tags);
    fv_db_configure_definition_params p = {
        .tenant_id = t->tenant,
        .space_id = t->space,
        .kind = t->kind,
        .keep_timeout = x->timeout_op == FV_PATCH_KEEP,
        .timeout_seconds = x->timeout_seconds,
        .timeout_seconds_valid = x->timeout_op == FV_PATCH_SET,
        .keep_retry = x->retry_op == FV_PATCH_KEEP,
        .has_retry = set_retry,
        .retry_max_retries = r->max_retries,
        .retry_max_retries_valid = set_retry && (r->set & FV_RETRY_HAS_MAX_RETRIES),
        .retry_initial_delay_ms = r->initial_delay_ms,
        .retry_initial_delay_ms_valid = set_retry && (r->set & FV_RETRY_HAS_INITIAL_DELAY),
        .retry_backoff_coefficient = r->backoff_coefficient,
        .retry_backoff_coefficient_valid = set_retry && (r->set & FV_RETRY_HAS_BACKOFF),
        .retry_max_delay_ms = r->max_delay_ms,
        .retry_max_delay_ms_valid = set_retry && (r->set & FV_RETRY_HAS_MAX_DELAY),
        .keep_tags = x->tags_op == FV_PATCH_KEEP,
        .tags = x->tags_op == FV_PATCH_SET ? &tags : NULL,
    };
    int64_t affected = 0;
    fv_err rc = queries_of(t->cls)->configure(c, t->a, &p, &affected, err);
    if (rc != FV_OK)
        return rc;
    if (affected == 0)
        return def_not_found(t->cls, t->kind, err);
    /* The answer, read in the transaction: a full arena rolls back. */
    return get_definition(NULL, c, t->a, t->cls, t->tenant, t->space, t->kind, t->now, t->l, t->out,
                          err);
}

static fv_err op_configure(void *self, fv_arena *a, const fv_uuid *tenant,
                           const fv_space_sel *space, const char *kind,
                           const fv_def_config_patch *patch, fv_time now, const fv_liveness *l,
                           fv_definition *out, fv_error *err)
{
    const fv__pg_def_view *v = self;
    const fv_uuid *sp = NULL;
    fv_err rc = one_space(space, &sp, err);
    if (rc != FV_OK)
        return rc;
    if (kind == NULL)
        return def_not_found(v->cls, "", err);
    configure_tx t = {a, v->cls, tenant, sp, kind, patch, now, l, out};
    return fv_pg_tx(v->s->pool, false, configure_fn, &t, err);
}

typedef struct refresh_tx {
    fv_arena *a;
    fv_def_class cls;
    fv_availability_change_list *out;
} refresh_tx;

static fv_err refresh_fn(fv_pg_conn *c, void *user, fv_error *err)
{
    refresh_tx *t = user;
    *t->out = (fv_availability_change_list){NULL, 0};
    fv_db_refresh_definitions_row *rows;
    size_t n;
    fv_err rc = queries_of(t->cls)->refresh(c, t->a, &rows, &n, err);
    if (rc != FV_OK || n == 0)
        return rc;
    fv_availability_change *items = fv_arena_calloc(t->a, n, sizeof *items);
    if (items == NULL)
        return fv__pg_exhausted(err);
    for (size_t i = 0; i < n; i++) {
        items[i].definition_id = rows[i].id;
        items[i].cls = t->cls;
        items[i].kind = rows[i].kind;
        rc = fv__pg_parse_availability(rows[i].from_availability, &items[i].from, err);
        if (rc == FV_OK)
            rc = fv__pg_parse_availability(rows[i].to_availability, &items[i].to, err);
        if (rc != FV_OK)
            return rc;
    }
    *t->out = (fv_availability_change_list){items, n};
    return FV_OK;
}

static fv_err op_refresh_availability(void *self, fv_arena *a, fv_availability_change_list *out,
                                      fv_error *err)
{
    const fv__pg_def_view *v = self;
    refresh_tx t = {a, v->cls, out};
    fv_err rc = fv_pg_tx(v->s->pool, false, refresh_fn, &t, err);
    if (rc != FV_OK)
        *out = (fv_availability_change_list){NULL, 0};
    return rc;
}

static fv_err op_count_by_availability(void *self, fv_time now, const fv_liveness *l,
                                       fv_availability_counts *out, fv_error *err)
{
    const fv__pg_def_view *v = self;
    fv_arena a;
    fv_db_count_definitions_by_availability_row r = {0, 0, 0};
    fv_err rc = fv__pg_scratch_init(&a, err);
    if (rc == FV_OK) {
        fv_db_count_definitions_by_availability_params p = {
            .now = now,
            .degraded_after = l->degraded_after_ms,
            .offline_after = l->offline_after_ms,
        };
        rc = queries_of(v->cls)->count_by_availability_on(v->s->pool, &a, &p, &r, err);
    }
    fv_arena_release(&a);
    if (rc == FV_OK)
        *out = (fv_availability_counts){r.available, r.degraded, r.unavailable};
    return rc;
}

static const fv_definition_repo_ops definition_ops = {
    .get = op_get,
    .list = op_list,
    .configure = op_configure,
    .refresh_availability = op_refresh_availability,
    .count_by_availability = op_count_by_availability,
};

fv_definition_repo fv__pg_definition_repo(fv_pg_store *s, fv_def_class cls)
{
    return (fv_definition_repo){&definition_ops, &s->def_views[cls == FV_DEF_WORKFLOW ? 0 : 1]};
}
