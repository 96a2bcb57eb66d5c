/* The task repository on Postgres (ports/task_repo.h): task executions,
 * their attempts, events, idempotency keys and state, on the queries of
 * queries/tasks.sql and the schema of migrations/0004_tasks.sql.
 *
 * Atomic units:
 * - A claim is one transaction: ClaimNextTask locks the oldest claimable row
 *   of (tenant, queue) with FOR NO KEY UPDATE SKIP LOCKED (walking the
 *   partial index task_execution_claim_idx from its head), the core applies
 *   the claim to the record (fv_task_apply_claim), and StoreTask writes it
 *   with its TASK_STARTED event, numbered by the row's counter.
 * - An attempt end and a cancellation are one transaction: LockTask (FOR NO
 *   KEY UPDATE), the core's plan (fv_task_plan_attempt_end,
 *   fv_task_plan_cancel: its FAILED_PRECONDITION rolls back and passes
 *   through), fv_task_apply_transition, then StoreTask writes the record,
 *   the attempt row and the event in one statement.
 * - Progress, logs, stream data and task heartbeats are one statement each
 *   (the event numbered in it), submission without an idempotency key too;
 *   with a key it is one transaction (bind the key, insert the task).
 * A statement run outside a transaction uses a scratch arena whose first
 * chunk is taken before it runs, and everything the answer needs is
 * allocated before, so nothing can fail once it ran (pg_store_int.h).
 *
 * Durability: submissions, attempt ends, cancellations and task state
 * commit durably. A claim commits without waiting for the WAL flush: a
 * crash of the database may lose the last claims of a fraction of a
 * second, whose tasks are then PENDING again and are claimed again, which
 * is the at-least-once execution that a reclaim gives anyway (a worker that
 * got such a task runs it, and its Complete or Fail finds the task PENDING
 * or claimed anew: FAILED_PRECONDITION, or it ends the new attempt). The
 * appends of progress, logs and stream data and the task heartbeats
 * likewise, being best effort by contract (decision 15); a clean shutdown
 * loses none of them.
 */
#include <stdint.h>
#include <string.h>

#include "adapters/postgres/pg_store_int.h"
#include "core/task.h"
#include "db_tasks.h"

/* Rebinding attempts of an idempotency key whose binding changes under a
 * submission (its task failed or it expired between two statements). */
#define BIND_TRIES 3

/* ------------------------------------------------------------------------ */
/* Messages                                                                  */
/* ------------------------------------------------------------------------ */

static fv_err task_not_found(const fv_uuid *id, fv_error *err)
{
    char s[FV_UUID_STR_LEN + 1];
    fv_uuid_format(id, s);
    return fv_error_set(err, FV_E_NOT_FOUND, "task %s not found", s);
}

/* A NOT_FOUND of a query that must find its row (locked, or just written)
 * is the database disagreeing with itself. */
static fv_err vanished(const char *what, fv_error *err)
{
    return fv_error_set(err, FV_E_INTERNAL, "could not %s: the task row vanished", what);
}

/* ------------------------------------------------------------------------ */
/* Rows and parameters                                                       */
/* ------------------------------------------------------------------------ */

static int64_t max_rows(size_t limit)
{
    return limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)limit;
}

/* The items of a list that its query LEFT JOINs to the task's row
 * (TaskEvents, TaskAttempts, TaskStateKeys), *n rows of it: no row is no
 * task (NOT_FOUND); a first row without an item (first_is_item false) is
 * the task without any (*n becomes 0). An array of *n items of `size`
 * bytes (one at least) in a, or NULL with *rc set. */
static void *task_items(fv_arena *a, const fv_uuid *id, bool first_is_item, size_t *n, size_t size,
                        fv_err *rc, fv_error *err)
{
    if (*n == 0) {
        *rc = task_not_found(id, err);
        return NULL;
    }
    if (!first_is_item)
        *n = 0;
    void *items = fv_arena_calloc(a, *n ? *n : 1, size);
    if (items == NULL)
        *rc = fv__pg_exhausted(err);
    return items;
}

static fv_time opt_time(bool valid, int64_t v)
{
    return valid ? v : FV_TIME_NONE;
}

static const char *opt_text(bool valid, const char *s)
{
    return valid ? s : NULL;
}

static bool valid_status(int32_t s)
{
    return s >= FV_TASK_PENDING && s <= FV_TASK_CANCELLED;
}

/* The record of a row; strings point into the query's result (in arena a),
 * the metadata array is allocated in a. */
static fv_err task_of(fv_arena *a, const fv_db_task_execution_v *r, fv_task *t, fv_error *err)
{
    memset(t, 0, sizeof *t);
    if (!valid_status(r->status))
        return fv_error_set(err, FV_E_INTERNAL, "the database holds an unknown task status");
    if (r->metadata_keys.n != r->metadata_values.n)
        return fv_error_set(err, FV_E_INTERNAL, "the database holds uneven task metadata");
    t->id = r->id;
    t->tenant_id = r->tenant_id;
    t->workflow_execution_id.has = r->workflow_execution_id_valid;
    if (r->workflow_execution_id_valid)
        t->workflow_execution_id.id = r->workflow_execution_id;
    t->kind = r->kind;
    t->queue = r->queue;
    t->status = (fv_task_status)r->status;
    t->input = fv__pg_json_of(opt_text(r->input_valid, r->input));
    t->output = fv__pg_json_of(opt_text(r->output_valid, r->output));
    t->error = opt_text(r->error_valid, r->error);
    size_t n = r->metadata_keys.n;
    if (n > 0) {
        fv_kv *kv = fv_arena_calloc(a, n, sizeof *kv);
        if (kv == NULL)
            return fv__pg_exhausted(err);
        for (size_t i = 0; i < n; i++) {
            kv[i].key = r->metadata_keys.v[i];
            kv[i].value = r->metadata_values.v[i];
            if (kv[i].key == NULL || kv[i].value == NULL)
                return fv_error_set(err, FV_E_INTERNAL,
                                    "the database holds a NULL in task metadata");
        }
        t->metadata = kv;
        t->n_metadata = n;
    }
    t->execution_count = r->execution_count;
    t->max_retries = r->max_retries;
    t->timeout_ms = r->timeout_ms;
    t->retry_policy = fv__pg_retry_of(
        r->retry_max_retries_valid, r->retry_max_retries, r->retry_initial_delay_ms_valid,
        r->retry_initial_delay_ms, r->retry_backoff_coefficient_valid, r->retry_backoff_coefficient,
        r->retry_max_delay_ms_valid, r->retry_max_delay_ms);
    t->has_progress = r->progress_valid;
    t->progress = r->progress;
    t->progress_details = opt_text(r->progress_details_valid, r->progress_details);
    t->worker_id = opt_text(r->worker_id_valid, r->worker_id);
    t->worker_uuid.has = r->worker_uuid_valid;
    if (r->worker_uuid_valid)
        t->worker_uuid.id = r->worker_uuid;
    t->scheduled_at = r->scheduled_at;
    t->created_at = r->created_at;
    t->started_at = opt_time(r->started_at_valid, r->started_at);
    t->completed_at = opt_time(r->completed_at_valid, r->completed_at);
    t->last_heartbeat_at = opt_time(r->last_heartbeat_at_valid, r->last_heartbeat_at);
    t->idempotency_key = opt_text(r->idempotency_key_valid, r->idempotency_key);
    t->last_event_id = r->last_event_id;
    return FV_OK;
}

/* A list of records from rows of the view. */
static fv_err tasks_of(fv_arena *a, const fv_db_task_execution_v *rows, size_t n, fv_task_list *out,
                       fv_error *err)
{
    fv_task *items = fv_arena_calloc(a, n ? n : 1, sizeof *items);
    if (items == NULL)
        return fv__pg_exhausted(err);
    for (size_t i = 0; i < n; i++) {
        fv_err rc = task_of(a, &rows[i], &items[i], err);
        if (rc != FV_OK)
            return rc;
    }
    out->items = items;
    out->n = n;
    out->total = (int64_t)n;
    return FV_OK;
}

static fv_json json_dup(fv_arena *a, fv_json j, bool *ok)
{
    if (j.p == NULL)
        return j;
    char *p = fv_arena_strndup(a, j.p, j.n);
    if (p == NULL) {
        *ok = false;
        return FV_JSON_NONE;
    }
    return (fv_json){p, j.n};
}

static const char *str_dup(fv_arena *a, const char *s, bool *ok)
{
    if (s == NULL)
        return NULL;
    char *p = fv_arena_strdup(a, s);
    if (p == NULL)
        *ok = false;
    return p;
}

/* A deep copy of a record into arena a (the port hands records out in the
 * caller's arena, never pointers into its input). */
static bool task_copy(fv_arena *a, const fv_task *src, fv_task *dst)
{
    bool ok = true;
    *dst = *src;
    dst->kind = str_dup(a, src->kind, &ok);
    dst->queue = str_dup(a, src->queue, &ok);
    dst->input = json_dup(a, src->input, &ok);
    dst->output = json_dup(a, src->output, &ok);
    dst->error = str_dup(a, src->error, &ok);
    dst->progress_details = str_dup(a, src->progress_details, &ok);
    dst->worker_id = str_dup(a, src->worker_id, &ok);
    dst->idempotency_key = str_dup(a, src->idempotency_key, &ok);
    dst->metadata = NULL;
    if (src->n_metadata > 0) {
        fv_kv *kv = fv_arena_calloc(a, src->n_metadata, sizeof *kv);
        if (kv == NULL)
            return false;
        for (size_t i = 0; i < src->n_metadata; i++) {
            kv[i].key = str_dup(a, src->metadata[i].key, &ok);
            kv[i].value = str_dup(a, src->metadata[i].value, &ok);
        }
        dst->metadata = kv;
    }
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Submission                                                                */
/* ------------------------------------------------------------------------ */

/* The parameters of InsertTask for a new task, built in arena a. */
typedef struct insert_args {
    fv_db_text_array keys;
    fv_db_text_array values;
    fv_db_insert_task_params p;
} insert_args;

static bool insert_args_build(fv_arena *a, const fv_task_new *in, insert_args *x)
{
    const fv_task *t = &in->task;
    memset(x, 0, sizeof *x);
    size_t n = t->n_metadata;
    const char **keys = fv_arena_calloc(a, n ? n : 1, sizeof *keys);
    const char **values = fv_arena_calloc(a, n ? n : 1, sizeof *values);
    const char *input, *data;
    if (keys == NULL || values == NULL || !fv__pg_json_text(a, t->input, &input) ||
        !fv__pg_json_text(a, in->created_event_data, &data))
        return false;
    for (size_t i = 0; i < n; i++) {
        keys[i] = t->metadata[i].key;
        values[i] = t->metadata[i].value;
    }
    x->keys = (fv_db_text_array){keys, n};
    x->values = (fv_db_text_array){values, n};
    const fv_retry_policy *r = &t->retry_policy;
    x->p = (fv_db_insert_task_params){
        .id = &t->id,
        .tenant_id = &t->tenant_id,
        .workflow_execution_id = t->workflow_execution_id.has ? &t->workflow_execution_id.id : NULL,
        .kind = t->kind,
        .queue = t->queue,
        .input = input,
        .metadata_keys = &x->keys,
        .metadata_values = &x->values,
        .max_retries = t->max_retries,
        .timeout_ms = t->timeout_ms,
        .retry_max_retries = r->max_retries,
        .retry_max_retries_valid = (r->set & FV_RETRY_HAS_MAX_RETRIES) != 0,
        .retry_initial_delay_ms = r->initial_delay_ms,
        .retry_initial_delay_ms_valid = (r->set & FV_RETRY_HAS_INITIAL_DELAY) != 0,
        .retry_backoff_coefficient = r->backoff_coefficient,
        .retry_backoff_coefficient_valid = (r->set & FV_RETRY_HAS_BACKOFF) != 0,
        .retry_max_delay_ms = r->max_delay_ms,
        .retry_max_delay_ms_valid = (r->set & FV_RETRY_HAS_MAX_DELAY) != 0,
        .scheduled_at = t->scheduled_at,
        .created_at = t->created_at,
        .idempotency_key = t->idempotency_key,
        .created_event_data = data,
    };
    return true;
}

/* Words for the failures of InsertTask a client can cause. */
static fv_err insert_failed(fv_err rc, const fv_task *t, fv_error *err)
{
    char s[FV_UUID_STR_LEN + 1];
    if (rc == FV_E_CONFLICT) {
        fv_uuid_format(&t->id, s);
        return fv_error_set(err, rc, "task %s already exists", s);
    }
    if (rc == FV_E_PRECONDITION) {
        fv_uuid_format(&t->tenant_id, s);
        return fv_error_set(err, FV_E_NOT_FOUND, "tenant %s not found", s);
    }
    return rc;
}

typedef struct submit_tx {
    fv_arena *a;
    const fv_task_new *in;
    const insert_args *args;
    /* The answer: the new task (copied before the transaction) or the
     * bound one. */
    fv_task bound;
    bool created;
} submit_tx;

/* Bind the key, then insert the task; or find the live task it is bound
 * to. May run again when the transaction is retried. */
static fv_err submit_fn(fv_pg_conn *c, void *user, fv_error *err)
{
    submit_tx *t = user;
    const fv_task *task = &t->in->task;
    fv_db_bind_idempotency_key_params bp = {
        .tenant_id = &task->tenant_id,
        .key = task->idempotency_key,
        .task_id = &task->id,
        .expires_at = t->in->idempotency_expires_at,
        .now = task->created_at,
    };
    fv_db_get_bound_task_params gp = {.tenant_id = &task->tenant_id, .key = task->idempotency_key};
    for (int i = 0; i < BIND_TRIES; i++) {
        fv_db_bind_idempotency_key_row bound;
        fv_err rc = fv_db_bind_idempotency_key(c, t->a, &bp, &bound, err);
        if (rc == FV_OK) {
            rc = fv_db_insert_task(c, t->a, &t->args->p, err);
            if (rc != FV_OK)
                return insert_failed(rc, task, err);
            t->created = true;
            return FV_OK;
        }
        if (rc != FV_E_NOT_FOUND)
            return insert_failed(rc, task, err);
        /* Bound to a live task: that one is the answer, unless it died
         * since the statement above looked (then bind again). */
        fv_db_get_bound_task_row row;
        rc = fv_db_get_bound_task(c, t->a, &gp, &row, err);
        if (rc == FV_E_NOT_FOUND)
            continue; /* expired and removed meanwhile */
        if (rc != FV_OK)
            return rc;
        rc = task_of(t->a, &row.t, &t->bound, err);
        if (rc != FV_OK)
            return rc;
        bool dead = t->bound.status == FV_TASK_FAILED || t->bound.status == FV_TASK_CANCELLED ||
                    row.expires_at <= task->created_at;
        if (!dead) {
            t->created = false;
            return FV_OK;
        }
    }
    return fv_error_set(err, FV_E_ABORTED,
                        "idempotency key \"%s\" is being rebound concurrently, retry",
                        task->idempotency_key);
}

static fv_err op_submit(void *self, fv_arena *a, const fv_task_new *in, fv_task *out, bool *created,
                        fv_error *err)
{
    fv_pg_store *s = self;
    /* Everything the answer needs exists before the first statement. */
    fv_task copy;
    insert_args args;
    if (!task_copy(a, &in->task, &copy) || !insert_args_build(a, in, &args))
        return fv__pg_exhausted(err);
    copy.status = FV_TASK_PENDING;
    copy.last_event_id = 1;
    if (in->task.idempotency_key != NULL) {
        submit_tx t = {.a = a, .in = in, .args = &args};
        fv_err rc = fv_pg_tx(s->pool, false, submit_fn, &t, err);
        if (rc != FV_OK)
            return rc;
        *out = t.created ? copy : t.bound;
        *created = t.created;
        return FV_OK;
    }
    fv_arena scratch;
    fv_err rc = fv__pg_scratch_init(&scratch, err);
    if (rc == FV_OK)
        rc = fv_db_insert_task_on(s->pool, &scratch, &args.p, err);
    fv_arena_release(&scratch);
    if (rc != FV_OK)
        return insert_failed(rc, &in->task, err);
    *out = copy;
    *created = true;
    return FV_OK;
}

/* ------------------------------------------------------------------------ */
/* Reads                                                                     */
/* ------------------------------------------------------------------------ */

static fv_err op_get(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                     fv_task *out, fv_error *err)
{
    fv_pg_store *s = self;
    fv_db_get_task_params p = {.tenant_id = tenant, .id = id};
    fv_db_task_execution_v r;
    fv_err rc = fv_db_get_task_on(s->pool, a, &p, &r, err);
    if (rc == FV_E_NOT_FOUND)
        return task_not_found(id, err);
    if (rc != FV_OK)
        return rc;
    return task_of(a, &r, out, err);
}

/* The statuses of a mask as a parameter array (NULL: any status). */
static const fv_db_int64_array *statuses_of(unsigned mask, int64_t buf[5], fv_db_int64_array *arr)
{
    if (mask == 0)
        return NULL;
    size_t n = 0;
    for (int st = FV_TASK_PENDING; st <= FV_TASK_CANCELLED; st++)
        if (mask & FV_TASK_BIT(st))
            buf[n++] = st;
    *arr = (fv_db_int64_array){buf, NULL, n};
    return arr;
}

static fv_err op_list(void *self, fv_arena *a, const fv_task_filter *f, fv_page page,
                      fv_task_list *out, fv_error *err)
{
    fv_pg_store *s = self;
    *out = (fv_task_list){NULL, 0, 0};
    int64_t buf[5];
    fv_db_int64_array arr;
    int64_t limit, offset;
    fv__pg_page(page, &limit, &offset);
    fv_db_list_tasks_params p = {
        .tenant_id = &f->tenant_id,
        .statuses = statuses_of(f->status_mask, buf, &arr),
        .queue = f->queue,
        .kind = f->kind,
        .standalone_only = f->standalone_only,
        .page_limit = limit,
        .page_offset = offset,
    };
    fv_pg_conn *c;
    fv_err rc = fv_pg_acquire(s->pool, &c, err);
    if (rc != FV_OK)
        return rc;
    fv_db_list_tasks_row *rows;
    size_t n;
    int64_t total = 0;
    rc = fv_db_list_tasks(c, a, &p, &rows, &n, err);
    /* No row to carry the total: a page past the end, or of no rows. */
    if (rc == FV_OK && n == 0 && (offset > 0 || limit == 0)) {
        fv_db_count_tasks_params cp = {.tenant_id = p.tenant_id,
                                       .statuses = p.statuses,
                                       .queue = p.queue,
                                       .kind = p.kind,
                                       .standalone_only = p.standalone_only};
        fv_db_count_tasks_row cr;
        rc = fv_db_count_tasks(c, a, &cp, &cr, err);
        if (rc == FV_OK)
            total = cr.total;
    }
    fv_pg_release(s->pool, c);
    if (rc != FV_OK)
        return rc;
    fv_task *items = fv_arena_calloc(a, n ? n : 1, sizeof *items);
    if (items == NULL)
        return fv__pg_exhausted(err);
    for (size_t i = 0; i < n; i++) {
        rc = task_of(a, &rows[i].t, &items[i], err);
        if (rc != FV_OK)
            return rc;
    }
    if (n > 0)
        total = rows[0].total;
    *out = (fv_task_list){items, n, total};
    return FV_OK;
}

/* ------------------------------------------------------------------------ */
/* Claim and transitions                                                     */
/* ------------------------------------------------------------------------ */

/* Write the locked record as the core changed it, the attempt that ended
 * (tr != NULL and tr->has_attempt) and the event; *event_id is the event's
 * id (the record's new last_event_id). */
static fv_err store(fv_pg_conn *c, fv_arena *a, const fv_task *t, const fv_task_transition *tr,
                    fv_task_event_type type, fv_time at, fv_json data, int64_t *event_id,
                    fv_error *err)
{
    const char *output, *data_text, *att_output = NULL;
    bool has_attempt = tr != NULL && tr->has_attempt;
    const fv_task_attempt *at_row = has_attempt ? &tr->attempt_row : NULL;
    if (!fv__pg_json_text(a, t->output, &output) || !fv__pg_json_text(a, data, &data_text) ||
        (has_attempt && !fv__pg_json_text(a, at_row->output, &att_output)))
        return fv__pg_exhausted(err);
    fv_db_store_task_params p = {
        .tenant_id = &t->tenant_id,
        .id = &t->id,
        .status = (int32_t)t->status,
        .output = output,
        .error = t->error,
        .execution_count = t->execution_count,
        .progress = t->progress,
        .progress_valid = t->has_progress,
        .progress_details = t->progress_details,
        .worker_id = t->worker_id,
        .worker_uuid = t->worker_uuid.has ? &t->worker_uuid.id : NULL,
        .scheduled_at = t->scheduled_at,
        .started_at = t->started_at,
        .started_at_valid = t->started_at != FV_TIME_NONE,
        .completed_at = t->completed_at,
        .completed_at_valid = t->completed_at != FV_TIME_NONE,
        .last_heartbeat_at = t->last_heartbeat_at,
        .last_heartbeat_at_valid = t->last_heartbeat_at != FV_TIME_NONE,
        .has_attempt = has_attempt,
        .event_type = (int32_t)type,
        .event_at = at,
        .event_data = data_text,
    };
    if (has_attempt) {
        p.attempt = at_row->attempt;
        p.attempt_status = (int32_t)at_row->status;
        p.attempt_started_at = at_row->started_at;
        p.attempt_started_at_valid = at_row->started_at != FV_TIME_NONE;
        p.attempt_finished_at = at_row->finished_at;
        p.attempt_duration_ms = at_row->duration_ms;
        p.attempt_output = att_output;
        p.attempt_error = at_row->error;
        p.attempt_worker_id = at_row->worker_id;
    }
    fv_db_store_task_row row;
    fv_err rc = fv_db_store_task(c, a, &p, &row, err);
    if (rc == FV_E_NOT_FOUND)
        return vanished("store the task", err);
    if (rc != FV_OK)
        return rc;
    *event_id = row.event_id;
    return FV_OK;
}

typedef struct claim_tx {
    fv_arena *a;
    const fv_claim_request *req;
    const char *worker_id; /* in a */
    fv_task task;
    bool found;
    fv_time next_at;
} claim_tx;

static fv_err claim_fn(fv_pg_conn *c, void *user, fv_error *err)
{
    claim_tx *t = user;
    const fv_claim_request *q = t->req;
    t->found = false;
    t->next_at = FV_TIME_NONE;
    fv_db_claim_next_task_params p = {.tenant_id = &q->tenant_id, .queue = q->queue, .now = q->now};
    fv_db_task_execution_v r;
    fv_err rc = fv_db_claim_next_task(c, t->a, &p, &r, err);
    if (rc == FV_E_NOT_FOUND) {
        fv_db_next_scheduled_at_params np = {
            .tenant_id = &q->tenant_id, .queue = q->queue, .now = q->now};
        fv_db_next_scheduled_at_row nr;
        rc = fv_db_next_scheduled_at(c, t->a, &np, &nr, err);
        if (rc == FV_OK && nr.next_at_valid)
            t->next_at = nr.next_at;
        return rc;
    }
    if (rc != FV_OK)
        return rc;
    rc = task_of(t->a, &r, &t->task, err);
    if (rc != FV_OK)
        return rc;
    fv_task_apply_claim(&t->task, t->worker_id, &q->worker_uuid, q->now);
    fv_json data = fv_task_event_data_started(t->a, t->task.execution_count, t->worker_id);
    if (!fv_json_present(data))
        return fv__pg_exhausted(err);
    rc = store(c, t->a, &t->task, NULL, FV_TEV_TASK_STARTED, q->now, data, &t->task.last_event_id,
               err);
    if (rc == FV_OK)
        t->found = true;
    return rc;
}

static fv_err op_claim(void *self, fv_arena *a, const fv_claim_request *c, fv_task *out,
                       bool *found, fv_time *next_at, fv_error *err)
{
    fv_pg_store *s = self;
    *found = false;
    *next_at = FV_TIME_NONE;
    claim_tx t = {.a = a, .req = c};
    t.worker_id = fv_arena_strdup(a, c->worker_id);
    if (c->worker_id != NULL && t.worker_id == NULL)
        return fv__pg_exhausted(err);
    fv_err rc = fv_pg_tx(s->pool, false, claim_fn, &t, err);
    if (rc != FV_OK)
        return rc;
    *found = t.found;
    if (t.found)
        *out = t.task;
    else
        *next_at = t.next_at;
    return FV_OK;
}

/* One attempt end or cancellation: lock, plan, apply, store. */
typedef struct change_tx {
    fv_arena *a;
    const fv_uuid *tenant;
    const fv_uuid *id;
    const fv_attempt_outcome *outcome; /* an attempt end; else a cancellation: */
    unsigned from_mask;
    const char *reason;
    fv_time now;
    fv_task task;
    fv_task_transition tr;
} change_tx;

static fv_err change_fn(fv_pg_conn *c, void *user, fv_error *err)
{
    change_tx *t = user;
    fv_db_lock_task_params lp = {.tenant_id = t->tenant, .id = t->id};
    fv_db_task_execution_v r;
    fv_err rc = fv_db_lock_task(c, t->a, &lp, &r, err);
    if (rc == FV_E_NOT_FOUND)
        return task_not_found(t->id, err);
    if (rc == FV_OK)
        rc = task_of(t->a, &r, &t->task, err);
    if (rc != FV_OK)
        return rc;
    if (t->outcome != NULL)
        rc = fv_task_plan_attempt_end(t->a, &t->task, t->outcome, &t->tr, err);
    else
        rc = fv_task_plan_cancel(t->a, &t->task, t->from_mask, t->reason, t->now, &t->tr, err);
    if (rc != FV_OK)
        return rc;
    fv_task_apply_transition(&t->task, &t->tr, t->now);
    return store(c, t->a, &t->task, &t->tr, t->tr.event, t->now, t->tr.event_data,
                 &t->task.last_event_id, err);
}

static fv_err op_end_attempt(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                             const fv_attempt_outcome *o, fv_task *out, fv_task_transition *tr,
                             fv_error *err)
{
    fv_pg_store *s = self;
    /* The record and the plan borrow the outcome's texts: copy them. */
    fv_attempt_outcome own = *o;
    bool ok = true;
    own.output = json_dup(a, o->output, &ok);
    own.error = str_dup(a, o->error, &ok);
    if (!ok)
        return fv__pg_exhausted(err);
    change_tx t = {.a = a, .tenant = tenant, .id = id, .outcome = &own, .now = o->now};
    fv_err rc = fv_pg_tx(s->pool, false, change_fn, &t, err);
    if (rc != FV_OK)
        return rc;
    *out = t.task;
    if (tr != NULL)
        *tr = t.tr;
    return FV_OK;
}

static fv_err op_cancel(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                        unsigned from_mask, const char *reason, fv_time now, fv_task *out,
                        fv_error *err)
{
    fv_pg_store *s = self;
    bool ok = true;
    change_tx t = {.a = a,
                   .tenant = tenant,
                   .id = id,
                   .from_mask = from_mask,
                   .reason = str_dup(a, reason, &ok),
                   .now = now};
    if (!ok)
        return fv__pg_exhausted(err);
    fv_err rc = fv_pg_tx(s->pool, false, change_fn, &t, err);
    if (rc == FV_OK)
        *out = t.task;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Heartbeat, progress, events                                               */
/* ------------------------------------------------------------------------ */

static fv_err op_heartbeat(void *self, const fv_uuid *tenant, const fv_uuid *id, fv_time now,
                           fv_error *err)
{
    fv_pg_store *s = self;
    fv_arena a;
    fv_db_task_heartbeat_row row;
    fv_err rc = fv__pg_scratch_init(&a, err);
    if (rc == FV_OK) {
        fv_db_task_heartbeat_params p = {.tenant_id = tenant, .id = id, .now = now};
        rc = fv_db_task_heartbeat_on(s->pool, &a, &p, &row, err);
    }
    fv_arena_release(&a);
    if (rc == FV_E_NOT_FOUND)
        return task_not_found(id, err);
    if (rc != FV_OK || row.changed)
        return rc;
    char sid[FV_UUID_STR_LEN + 1];
    fv_uuid_format(id, sid);
    if (!valid_status(row.status) || row.status == FV_TASK_RUNNING)
        return fv_error_set(err, FV_E_PRECONDITION, "task %s is no longer RUNNING", sid);
    return fv_error_set(err, FV_E_PRECONDITION, "task %s is %s, not RUNNING", sid,
                        fv_task_status_name((fv_task_status)row.status));
}

static fv_err op_report_progress(void *self, const fv_uuid *tenant, const fv_uuid *id,
                                 double progress, const char *details, fv_json data, fv_time now,
                                 int64_t *event_id, fv_error *err)
{
    fv_pg_store *s = self;
    *event_id = 0;
    fv_arena a;
    fv_db_report_task_progress_row row = {0};
    const char *data_text = NULL;
    fv_err rc = fv__pg_scratch_init(&a, err);
    if (rc == FV_OK && !fv__pg_json_text(&a, data, &data_text))
        rc = fv__pg_exhausted(err);
    if (rc == FV_OK) {
        fv_db_report_task_progress_params p = {.tenant_id = tenant,
                                               .id = id,
                                               .progress = progress,
                                               .details = details,
                                               .data = data_text,
                                               .at = now};
        rc = fv_db_report_task_progress_on(s->pool, &a, &p, &row, err);
    }
    fv_arena_release(&a);
    if (rc != FV_OK)
        return rc;
    if (!row.found)
        return task_not_found(id, err);
    *event_id = row.event_id;
    return FV_OK;
}

static fv_err op_append_event(void *self, const fv_uuid *tenant, const fv_uuid *id,
                              const fv_task_event *ev, int64_t *event_id, fv_error *err)
{
    fv_pg_store *s = self;
    *event_id = 0;
    bool is_log = ev->type == FV_TEV_LOG;
    fv_arena a;
    fv_db_append_task_event_row row = {0};
    const char *data_text = NULL;
    fv_err rc = fv__pg_scratch_init(&a, err);
    if (rc == FV_OK && !fv__pg_json_text(&a, ev->data, &data_text))
        rc = fv__pg_exhausted(err);
    if (rc == FV_OK) {
        fv_db_append_task_event_params p = {
            .tenant_id = tenant,
            .id = id,
            .any_status = is_log,
            .type = (int32_t)ev->type,
            .at = ev->at,
            .level = (int32_t)ev->level,
            .level_valid = is_log,
            .message = is_log ? ev->message : NULL,
            .data = data_text,
        };
        rc = fv_db_append_task_event_on(s->pool, &a, &p, &row, err);
    }
    fv_arena_release(&a);
    if (rc != FV_OK)
        return rc;
    if (!row.found)
        return task_not_found(id, err);
    *event_id = row.event_id;
    return FV_OK;
}

static bool valid_event_type(int32_t t)
{
    return t >= FV_TEV_TASK_CREATED && t <= FV_TEV_TASK_CANCELLED;
}

static bool valid_log_level(bool valid, int32_t level)
{
    return valid && level >= FV_LOG_DEBUG && level <= FV_LOG_ERROR;
}

static fv_err op_events(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                        int64_t after_id, size_t limit, fv_task_event_list *out, fv_error *err)
{
    fv_pg_store *s = self;
    *out = (fv_task_event_list){NULL, 0};
    fv_db_task_events_params p = {
        .tenant_id = tenant, .id = id, .after_id = after_id, .max_rows = max_rows(limit)};
    fv_db_task_events_row *rows;
    size_t n;
    fv_err rc = fv_db_task_events_on(s->pool, a, &p, &rows, &n, err);
    if (rc != FV_OK)
        return rc;
    fv_task_event *items =
        task_items(a, id, n > 0 && rows[0].event_id_valid, &n, sizeof *items, &rc, err);
    if (items == NULL)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const fv_db_task_events_row *r = &rows[i];
        /* A LOG event's level is read as the log list reads it (op_logs);
         * the others have none (0, as core/task.h says). */
        bool is_log = r->type_valid && r->type == FV_TEV_LOG;
        if (!r->event_id_valid || !r->type_valid || !valid_event_type(r->type) || !r->at_valid ||
            (is_log && !valid_log_level(r->level_valid, r->level)))
            return fv_error_set(err, FV_E_INTERNAL, "the database holds a malformed task event");
        fv_task_event *e = &items[i];
        e->id = r->event_id;
        e->type = (fv_task_event_type)r->type;
        e->at = r->at;
        e->level = is_log ? (fv_log_level)r->level : (fv_log_level)0;
        e->message = opt_text(r->message_valid, r->message);
        e->data = fv__pg_json_of(opt_text(r->data_valid, r->data));
    }
    *out = (fv_task_event_list){items, n};
    return FV_OK;
}

static fv_err op_attempts(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                          fv_task_attempt_list *out, fv_error *err)
{
    fv_pg_store *s = self;
    *out = (fv_task_attempt_list){NULL, 0};
    fv_db_task_attempts_params p = {.tenant_id = tenant, .id = id};
    fv_db_task_attempts_row *rows;
    size_t n;
    fv_err rc = fv_db_task_attempts_on(s->pool, a, &p, &rows, &n, err);
    if (rc != FV_OK)
        return rc;
    fv_task_attempt *items =
        task_items(a, id, n > 0 && rows[0].attempt_valid, &n, sizeof *items, &rc, err);
    if (items == NULL)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const fv_db_task_attempts_row *r = &rows[i];
        if (!r->attempt_valid || !r->status_valid || r->status < FV_ATTEMPT_COMPLETED ||
            r->status > FV_ATTEMPT_CANCELLED || !r->finished_at_valid || !r->duration_ms_valid)
            return fv_error_set(err, FV_E_INTERNAL, "the database holds a malformed task attempt");
        fv_task_attempt *t = &items[i];
        t->attempt = r->attempt;
        t->status = (fv_attempt_status)r->status;
        t->started_at = opt_time(r->started_at_valid, r->started_at);
        t->finished_at = r->finished_at;
        t->duration_ms = r->duration_ms;
        t->output = fv__pg_json_of(opt_text(r->output_valid, r->output));
        t->error = opt_text(r->error_valid, r->error);
        t->worker_id = opt_text(r->worker_id_valid, r->worker_id);
    }
    *out = (fv_task_attempt_list){items, n};
    return FV_OK;
}

static fv_err op_logs(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                      bool has_level, fv_log_level level, fv_page page, fv_task_log_list *out,
                      fv_error *err)
{
    fv_pg_store *s = self;
    *out = (fv_task_log_list){NULL, 0, 0};
    int64_t limit, offset;
    fv__pg_page(page, &limit, &offset);
    fv_pg_conn *c;
    fv_err rc = fv_pg_acquire(s->pool, &c, err);
    if (rc != FV_OK)
        return rc;
    fv_db_task_exists_params ep = {.tenant_id = tenant, .id = id};
    fv_db_task_exists_row er;
    fv_db_task_logs_row *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    rc = fv_db_task_exists(c, a, &ep, &er, err);
    if (rc == FV_OK) {
        fv_db_task_logs_params p = {.task_id = id,
                                    .level = (int32_t)level,
                                    .level_valid = has_level,
                                    .page_limit = limit,
                                    .page_offset = offset};
        rc = fv_db_task_logs(c, a, &p, &rows, &n, err);
    }
    if (rc == FV_OK && n == 0 && (offset > 0 || limit == 0)) {
        fv_db_count_task_logs_params cp = {
            .task_id = id, .level = (int32_t)level, .level_valid = has_level};
        fv_db_count_task_logs_row cr;
        rc = fv_db_count_task_logs(c, a, &cp, &cr, err);
        if (rc == FV_OK)
            total = cr.total;
    }
    fv_pg_release(s->pool, c);
    if (rc == FV_E_NOT_FOUND)
        return task_not_found(id, err);
    if (rc != FV_OK)
        return rc;
    fv_task_log_line *items = fv_arena_calloc(a, n ? n : 1, sizeof *items);
    if (items == NULL)
        return fv__pg_exhausted(err);
    for (size_t i = 0; i < n; i++) {
        const fv_db_task_logs_row *r = &rows[i];
        if (!valid_log_level(r->level_valid, r->level) || !r->message_valid)
            return fv_error_set(err, FV_E_INTERNAL, "the database holds a malformed log line");
        items[i] = (fv_task_log_line){
            .id = r->event_id,
            .level = (fv_log_level)r->level,
            .message = r->message,
            .at = r->at,
            .metadata = fv__pg_json_of(opt_text(r->metadata_valid, r->metadata)),
        };
    }
    if (n > 0)
        total = rows[0].total;
    *out = (fv_task_log_list){items, n, total};
    return FV_OK;
}

/* ------------------------------------------------------------------------ */
/* Task state                                                                */
/* ------------------------------------------------------------------------ */

static fv_err op_state_get(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                           const char *key, fv_json *value, bool *found, fv_error *err)
{
    fv_pg_store *s = self;
    *value = FV_JSON_NONE;
    *found = false;
    fv_db_get_task_state_params p = {.tenant_id = tenant, .id = id, .key = key};
    fv_db_get_task_state_row r;
    fv_err rc = fv_db_get_task_state_on(s->pool, a, &p, &r, err);
    if (rc == FV_E_NOT_FOUND)
        return task_not_found(id, err);
    if (rc != FV_OK)
        return rc;
    if (r.value_valid) {
        *value = fv__pg_json_of(r.value);
        *found = true;
    }
    return FV_OK;
}

typedef struct state_tx {
    fv_arena *a;
    const fv_uuid *tenant;
    const fv_uuid *id;
    const char *key;
    const char *value;
} state_tx;

/* Lock the task, then insert or replace within the key limit. */
static fv_err state_set_fn(fv_pg_conn *c, void *user, fv_error *err)
{
    state_tx *t = user;
    fv_db_lock_task_for_state_params lp = {.tenant_id = t->tenant, .id = t->id};
    fv_db_lock_task_for_state_row lr;
    fv_err rc = fv_db_lock_task_for_state(c, t->a, &lp, &lr, err);
    if (rc == FV_E_NOT_FOUND)
        return task_not_found(t->id, err);
    if (rc != FV_OK)
        return rc;
    fv_db_set_task_state_params p = {
        .task_id = t->id, .key = t->key, .value = t->value, .max_keys = FV_TASK_STATE_MAX_KEYS};
    int64_t affected = 0;
    rc = fv_db_set_task_state(c, t->a, &p, &affected, err);
    if (rc != FV_OK)
        return rc;
    if (affected == 0) {
        char sid[FV_UUID_STR_LEN + 1];
        fv_uuid_format(t->id, sid);
        return fv_error_set(err, FV_E_EXHAUSTED, "task %s has %d state keys already", sid,
                            FV_TASK_STATE_MAX_KEYS);
    }
    return FV_OK;
}

static fv_err op_state_set(void *self, const fv_uuid *tenant, const fv_uuid *id, const char *key,
                           fv_json value, fv_error *err)
{
    fv_pg_store *s = self;
    fv_arena a;
    fv_err rc = fv__pg_scratch_init(&a, err);
    state_tx t = {.a = &a, .tenant = tenant, .id = id, .key = key};
    if (rc == FV_OK && !fv__pg_json_text(&a, value, &t.value))
        rc = fv__pg_exhausted(err);
    if (rc == FV_OK && t.value == NULL)
        rc = fv_error_set(err, FV_E_INVALID, "a task state value must be present");
    if (rc == FV_OK)
        rc = fv_pg_tx(s->pool, false, state_set_fn, &t, err);
    fv_arena_release(&a);
    return rc;
}

/* One key, or every key when key is NULL. */
static fv_err state_clear(fv_pg_store *s, const fv_uuid *tenant, const fv_uuid *id, const char *key,
                          fv_error *err)
{
    fv_arena a;
    fv_db_clear_task_state_row row = {0};
    fv_err rc = fv__pg_scratch_init(&a, err);
    if (rc == FV_OK) {
        fv_db_clear_task_state_params p = {.tenant_id = tenant, .id = id, .key = key};
        rc = fv_db_clear_task_state_on(s->pool, &a, &p, &row, err);
    }
    fv_arena_release(&a);
    if (rc == FV_OK && !row.found)
        return task_not_found(id, err);
    return rc;
}

static fv_err op_state_clear(void *self, const fv_uuid *tenant, const fv_uuid *id, const char *key,
                             fv_error *err)
{
    if (key == NULL)
        return fv_error_set(err, FV_E_INVALID, "a task state key must not be empty");
    return state_clear(self, tenant, id, key, err);
}

static fv_err op_state_clear_all(void *self, const fv_uuid *tenant, const fv_uuid *id,
                                 fv_error *err)
{
    return state_clear(self, tenant, id, NULL, err);
}

static fv_err op_state_keys(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *id,
                            fv_state_key_list *out, fv_error *err)
{
    fv_pg_store *s = self;
    *out = (fv_state_key_list){NULL, 0};
    fv_db_task_state_keys_params p = {.tenant_id = tenant, .id = id};
    fv_db_task_state_keys_row *rows;
    size_t n;
    fv_err rc = fv_db_task_state_keys_on(s->pool, a, &p, &rows, &n, err);
    if (rc != FV_OK)
        return rc;
    const char **items = task_items(a, id, n > 0 && rows[0].key_valid, &n, sizeof *items, &rc, err);
    if (items == NULL)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (!rows[i].key_valid)
            return fv_error_set(err, FV_E_INTERNAL, "the database holds a NULL state key");
        items[i] = rows[i].key;
    }
    *out = (fv_state_key_list){items, n};
    return FV_OK;
}

/* ------------------------------------------------------------------------ */
/* Backlog and jobs                                                          */
/* ------------------------------------------------------------------------ */

static fv_err op_backlog(void *self, fv_arena *a, const fv_uuid *tenant, fv_task_backlog_list *out,
                         fv_error *err)
{
    fv_pg_store *s = self;
    *out = (fv_task_backlog_list){NULL, 0};
    fv_db_task_backlog_row *rows;
    size_t n;
    fv_err rc = fv_db_task_backlog_on(s->pool, a, tenant, &rows, &n, err);
    if (rc != FV_OK)
        return rc;
    fv_task_backlog *items = fv_arena_calloc(a, n ? n : 1, sizeof *items);
    if (items == NULL)
        return fv__pg_exhausted(err);
    for (size_t i = 0; i < n; i++)
        items[i] = (fv_task_backlog){rows[i].tenant_id, rows[i].kind, rows[i].pending,
                                     rows[i].oldest_created_at};
    *out = (fv_task_backlog_list){items, n};
    return FV_OK;
}

static fv_err op_expired_attempts(void *self, fv_arena *a, fv_time now, size_t limit,
                                  fv_task_list *out, fv_error *err)
{
    fv_pg_store *s = self;
    *out = (fv_task_list){NULL, 0, 0};
    fv_db_expired_attempts_params p = {.now = now, .max_rows = max_rows(limit)};
    fv_db_task_execution_v *rows;
    size_t n;
    fv_err rc = fv_db_expired_attempts_on(s->pool, a, &p, &rows, &n, err);
    if (rc != FV_OK)
        return rc;
    return tasks_of(a, rows, n, out, err);
}

static fv_err op_holders(void *self, fv_arena *a, fv_task_holder_list *out, fv_error *err)
{
    fv_pg_store *s = self;
    *out = (fv_task_holder_list){NULL, 0};
    fv_db_task_holders_row *rows;
    size_t n;
    fv_err rc = fv_db_task_holders_on(s->pool, a, &rows, &n, err);
    if (rc != FV_OK)
        return rc;
    fv_task_holder *items = fv_arena_calloc(a, n ? n : 1, sizeof *items);
    if (items == NULL)
        return fv__pg_exhausted(err);
    for (size_t i = 0; i < n; i++)
        items[i] = (fv_task_holder){rows[i].tenant_id, rows[i].worker_uuid};
    *out = (fv_task_holder_list){items, n};
    return FV_OK;
}

static fv_err op_held_by(void *self, fv_arena *a, const fv_uuid *tenant, const fv_uuid *worker_uuid,
                         size_t limit, fv_task_list *out, fv_error *err)
{
    fv_pg_store *s = self;
    *out = (fv_task_list){NULL, 0, 0};
    fv_db_tasks_held_by_params p = {
        .tenant_id = tenant, .worker_uuid = worker_uuid, .max_rows = max_rows(limit)};
    fv_db_task_execution_v *rows;
    size_t n;
    fv_err rc = fv_db_tasks_held_by_on(s->pool, a, &p, &rows, &n, err);
    if (rc != FV_OK)
        return rc;
    return tasks_of(a, rows, n, out, err);
}

static fv_err op_expire_idempotency_keys(void *self, fv_time now, int64_t *removed, fv_error *err)
{
    fv_pg_store *s = self;
    *removed = 0;
    fv_arena a;
    fv_err rc = fv__pg_scratch_init(&a, err);
    if (rc == FV_OK)
        rc = fv_db_expire_idempotency_keys_on(s->pool, &a, now, removed, err);
    fv_arena_release(&a);
    return rc;
}

static const fv_task_repo_ops task_ops = {
    .submit = op_submit,
    .get = op_get,
    .list = op_list,
    .claim = op_claim,
    .end_attempt = op_end_attempt,
    .cancel = op_cancel,
    .heartbeat = op_heartbeat,
    .report_progress = op_report_progress,
    .append_event = op_append_event,
    .events = op_events,
    .attempts = op_attempts,
    .logs = op_logs,
    .state_get = op_state_get,
    .state_set = op_state_set,
    .state_clear = op_state_clear,
    .state_clear_all = op_state_clear_all,
    .state_keys = op_state_keys,
    .backlog = op_backlog,
    .expired_attempts = op_expired_attempts,
    .holders = op_holders,
    .held_by = op_held_by,
    .expire_idempotency_keys = op_expire_idempotency_keys,
};

fv_task_repo fv__pg_task_repo(fv_pg_store *s)
{
    return (fv_task_repo){&task_ops, s};
}
