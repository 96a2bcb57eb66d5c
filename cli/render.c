/* Tables, key/value blocks and relative times of the CLI (see render.h). */
#include "cli/render.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- Text --------------------------------------------------------------- */

/*
 * What the text helpers below answer when memory ran out, so that a failed
 * allocation is never shown as an absent value ("-"): shown() turns it into
 * a failure of the table or block, which the renderer reports. NULL stays
 * "absent".
 */
static const char no_memory_text[] = "(out of memory)";
#define OOM no_memory_text

/* s, or OOM when s is NULL (an allocation that failed). */
static const char *or_oom(const char *s)
{
    return s != NULL ? s : OOM;
}

void fv_cli_relative_time(fv_time now, fv_time t, char out[FV_CLI_RELTIME_MAX])
{
    int64_t d = now - t;
    bool future = d < -999;
    int64_t s = (future ? -d : d) / 1000;
    if (s < 0)
        s = 0;
    int64_t v;
    char unit;
    if (s < 60) {
        v = s;
        unit = 's';
    } else if (s < 3600) {
        v = s / 60;
        unit = 'm';
    } else if (s < 86400) {
        v = s / 3600;
        unit = 'h';
    } else {
        v = s / 86400;
        unit = 'd';
    }
    if (future)
        snprintf(out, FV_CLI_RELTIME_MAX, "in %" PRId64 "%c", v, unit);
    else
        snprintf(out, FV_CLI_RELTIME_MAX, "%" PRId64 "%c ago", v, unit);
}

size_t fv_cli_text_width(const char *s)
{
    size_t w = 0;
    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

/* A copy of s fit for a terminal: C0 and C1 control characters and DEL
 * become '?' (tabs and line breaks a space). NULL and "" become "-". */
static const char *shown(fv_arena *a, const char *s)
{
    if (s == OOM)
        return NULL;
    if (s == NULL || s[0] == '\0')
        return "-";
    size_t n = strlen(s);
    char *c = fv_arena_alloc(a, n + 1);
    if (c == NULL)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\t' || ch == '\n' || ch == '\r') {
            c[j++] = ' ';
        } else if (ch < 0x20 || ch == 0x7f) {
            c[j++] = '?';
        } else if (ch == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
                   (unsigned char)s[i + 1] <= 0x9F) {
            c[j++] = '?'; /* U+0080..U+009F, e.g. the one-byte CSI */
            i++;
        } else {
            c[j++] = (char)ch;
        }
    }
    c[j] = '\0';
    return c;
}

/* A JSON value as text: strings as they are, numbers, yes/no, lists of
 * strings joined with ", ", anything else compact JSON; NULL for null,
 * absent and empty values (shown as "-"); OOM. In the arena. */
static const char *value_text(fv_arena *a, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return json_string_length(v) > 0 ? json_string_value(v) : NULL;
    case JSON_INTEGER:
        return or_oom(fv_arena_printf(a, "%" JSON_INTEGER_FORMAT, json_integer_value(v)));
    case JSON_REAL:
        return or_oom(fv_arena_printf(a, "%g", json_real_value(v)));
    case JSON_TRUE:
        return "yes";
    case JSON_FALSE:
        return "no";
    case JSON_NULL:
        return NULL;
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (n == 0)
            return NULL;
        bool strings = true;
        for (size_t i = 0; i < n; i++)
            strings = strings && json_is_string(json_array_get(v, i));
        if (strings) {
            fv_cli_buf b;
            fv_cli_buf_init(&b, 0);
            for (size_t i = 0; i < n; i++) {
                if (i > 0)
                    fv_cli_buf_puts(&b, ", ");
                fv_cli_buf_puts(&b, json_string_value(json_array_get(v, i)));
            }
            const char *s = b.failed ? NULL : fv_arena_strdup(a, fv_cli_buf_str(&b));
            fv_cli_buf_release(&b);
            return or_oom(s);
        }
        break;
    }
    case JSON_OBJECT:
        break;
    }
    size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    if (n == 0)
        return NULL;
    char *s = fv_arena_alloc(a, n + 1);
    if (s == NULL)
        return OOM;
    json_dumpb(v, s, n, JSON_COMPACT | JSON_ENCODE_ANY);
    s[n] = '\0';
    return s;
}

/* obj[key] as text (NULL when absent, null or empty; obj may be NULL). */
static const char *member(fv_arena *a, const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return v != NULL ? value_text(a, v) : NULL;
}

/* A timestamp member with its time relative to now: "5m ago", or with
 * with_text "2026-01-02T03:04:05.000Z (5m ago)". The text as sent when it
 * does not parse; NULL when absent. */
static const char *member_when(fv_arena *a, const json_t *obj, const char *key, fv_time now,
                               bool with_text)
{
    const char *s = json_string_value(json_object_get(obj, key));
    if (s == NULL || s[0] == '\0')
        return NULL;
    fv_time t;
    if (!fv_time_parse(s, strlen(s), &t))
        return s;
    char rel[FV_CLI_RELTIME_MAX];
    fv_cli_relative_time(now, t, rel);
    return or_oom(with_text ? fv_arena_printf(a, "%s (%s)", s, rel) : fv_arena_strdup(a, rel));
}

/* A timestamp member as relative time (in tables). */
static const char *member_ago(fv_arena *a, const json_t *obj, const char *key, fv_time now)
{
    return member_when(a, obj, key, now, false);
}

/* A timestamp member as its text and relative time (in detail views). */
static const char *member_time(fv_arena *a, const json_t *obj, const char *key, fv_time now)
{
    return member_when(a, obj, key, now, true);
}

/* ---- Tables ------------------------------------------------------------- */

void fv_cli_table_init(fv_cli_table *t, fv_arena *a, const char *const *headers, size_t ncols)
{
    memset(t, 0, sizeof *t);
    t->a = a;
    t->headers = headers;
    t->ncols = ncols;
}

void fv_cli_table_add(fv_cli_table *t, const char *const *cells)
{
    if (t->failed)
        return;
    if (t->rows == t->cap) {
        size_t cap = t->cap > 0 ? t->cap * 2 : 16;
        const char **c = fv_arena_grow(t->a, t->cells, t->cap * t->ncols * sizeof *c,
                                       cap * t->ncols * sizeof *c);
        if (c == NULL) {
            t->failed = true;
            return;
        }
        t->cells = c;
        t->cap = cap;
    }
    const char **row = &t->cells[t->rows * t->ncols];
    for (size_t i = 0; i < t->ncols; i++) {
        row[i] = shown(t->a, cells[i]);
        if (row[i] == NULL) {
            t->failed = true;
            return;
        }
    }
    t->rows++;
}

/* One line: cells padded to their column's width, the last one not. */
static void table_line(fv_cli_buf *out, const char *indent, const char *const *cells,
                       const size_t *width, size_t ncols)
{
    fv_cli_buf_puts(out, indent);
    for (size_t i = 0; i < ncols; i++) {
        fv_cli_buf_puts(out, cells[i]);
        if (i + 1 < ncols)
            fv_cli_buf_pad(out, ' ', width[i] - fv_cli_text_width(cells[i]) + 2);
    }
    fv_cli_buf_putc(out, '\n');
}

fv_err fv_cli_table_render(const fv_cli_table *t, const char *indent, fv_cli_buf *out)
{
    if (t->failed)
        return FV_E_EXHAUSTED;
    size_t *width = fv_arena_calloc(t->a, t->ncols, sizeof *width);
    if (width == NULL)
        return FV_E_EXHAUSTED;
    for (size_t c = 0; c < t->ncols; c++) {
        width[c] = fv_cli_text_width(t->headers[c]);
        for (size_t r = 0; r < t->rows; r++) {
            size_t w = fv_cli_text_width(t->cells[r * t->ncols + c]);
            if (w > width[c])
                width[c] = w;
        }
    }
    table_line(out, indent, t->headers, width, t->ncols);
    for (size_t r = 0; r < t->rows; r++)
        table_line(out, indent, &t->cells[r * t->ncols], width, t->ncols);
    return out->failed ? FV_E_EXHAUSTED : FV_OK;
}

/* ---- Key/value blocks --------------------------------------------------- */

#define KV_MAX 24

typedef struct kv {
    fv_arena *a;
    const char *label[KV_MAX];
    const char *value[KV_MAX];
    size_t n;
    bool failed;
} kv;

/* Add "label: value" (the value copied for display; NULL shows "-"). */
static void kv_add(kv *k, const char *label, const char *value)
{
    if (k->n == KV_MAX) {
        k->failed = true;
        return;
    }
    const char *v = shown(k->a, value);
    if (v == NULL)
        k->failed = true;
    k->label[k->n] = label;
    k->value[k->n] = v != NULL ? v : "-";
    k->n++;
}

static fv_err kv_render(const kv *k, fv_cli_buf *out)
{
    size_t w = 0;
    for (size_t i = 0; i < k->n; i++)
        if (strlen(k->label[i]) + 1 > w)
            w = strlen(k->label[i]) + 1;
    for (size_t i = 0; i < k->n; i++) {
        fv_cli_buf_printf(out, "%s:", k->label[i]);
        fv_cli_buf_pad(out, ' ', w - strlen(k->label[i]) - 1 + 2);
        fv_cli_buf_puts(out, k->value[i]);
        fv_cli_buf_putc(out, '\n');
    }
    return k->failed || out->failed ? FV_E_EXHAUSTED : FV_OK;
}

/* ---- Workers ------------------------------------------------------------ */

static fv_err not_a(fv_error *err, const char *what)
{
    return fv_error_set(err, FV_E_INTERNAL, "the server's answer is not %s", what);
}

static fv_err no_memory(fv_error *err)
{
    return fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
}

fv_err fv_cli_render_workers(fv_arena *a, const json_t *list, fv_time now, fv_cli_buf *out,
                             fv_error *err)
{
    if (!json_is_array(list))
        return not_a(err, "a list of workers");
    if (json_array_size(list) == 0) {
        fv_cli_buf_puts(out, "No workers found.\n");
        return out->failed ? no_memory(err) : FV_OK;
    }
    static const char *const headers[] = {"WORKER ID", "NAME", "TYPE", "STATUS", "LAST HEARTBEAT"};
    fv_cli_table t;
    fv_cli_table_init(&t, a, headers, 5);
    size_t i;
    const json_t *w;
    json_array_foreach(list, i, w)
    {
        const char *row[5] = {member(a, w, "id"), member(a, w, "name"), member(a, w, "type"),
                              member(a, w, "status"), member_ago(a, w, "lastHeartbeatAt", now)};
        fv_cli_table_add(&t, row);
    }
    return fv_cli_table_render(&t, "", out) == FV_OK ? FV_OK : no_memory(err);
}

/* "Workflow capabilities (2):" and an indented table, or "...: none". */
static fv_err capabilities(fv_arena *a, const char *title, const json_t *list, bool workflows,
                           fv_time now, fv_cli_buf *out)
{
    size_t n = json_array_size(list);
    if (n == 0) {
        fv_cli_buf_printf(out, "\n%s: none\n", title);
        return out->failed ? FV_E_EXHAUSTED : FV_OK;
    }
    fv_cli_buf_printf(out, "\n%s (%zu):\n", title, n);
    static const char *const wf_headers[] = {"KIND", "NAME", "VERSION", "REGISTERED"};
    static const char *const task_headers[] = {"KIND", "NAME", "REGISTERED"};
    fv_cli_table t;
    fv_cli_table_init(&t, a, workflows ? wf_headers : task_headers, workflows ? 4 : 3);
    size_t i;
    const json_t *c;
    json_array_foreach(list, i, c)
    {
        const char *kind = member(a, c, "kind");
        const char *name = member(a, c, "name");
        const char *when = member_ago(a, c, "registeredAt", now);
        if (workflows) {
            const char *row[4] = {kind, name, member(a, c, "version"), when};
            fv_cli_table_add(&t, row);
        } else {
            const char *row[3] = {kind, name, when};
            fv_cli_table_add(&t, row);
        }
    }
    return fv_cli_table_render(&t, "  ", out);
}

fv_err fv_cli_render_worker(fv_arena *a, const json_t *detail, fv_time now, fv_cli_buf *out,
                            fv_error *err)
{
    const json_t *w = json_object_get(detail, "worker");
    if (!json_is_object(w))
        return not_a(err, "a worker");
    kv k = {.a = a};
    kv_add(&k, "ID", member(a, w, "id"));
    kv_add(&k, "Name", member(a, w, "name"));
    kv_add(&k, "Type", member(a, w, "type"));
    kv_add(&k, "Status", member(a, w, "status"));
    kv_add(&k, "Version", member(a, w, "version"));
    kv_add(&k, "Host", member(a, w, "hostName"));
    kv_add(&k, "Process ID", member(a, w, "processId"));
    kv_add(&k, "Space", member(a, w, "spaceId"));
    kv_add(&k, "Registered", member_time(a, w, "registeredAt", now));
    kv_add(&k, "Last heartbeat", member_time(a, w, "lastHeartbeatAt", now));
    kv_add(&k, "Last seen", member_time(a, w, "lastSeenAt", now));
    kv_add(&k, "Metadata", member(a, w, "metadata"));
    fv_err rc = kv_render(&k, out);
    if (rc == FV_OK)
        rc = capabilities(a, "Workflow capabilities",
                          json_object_get(detail, "workflowCapabilities"), true, now, out);
    if (rc == FV_OK)
        rc = capabilities(a, "Task capabilities", json_object_get(detail, "taskCapabilities"),
                          false, now, out);
    return rc == FV_OK ? FV_OK : no_memory(err);
}

/* ---- Definitions -------------------------------------------------------- */

static const char *class_title(fv_cli_def_class cls)
{
    return cls == FV_CLI_DEF_WORKFLOW ? "workflow definitions" : "task definitions";
}

/* The VERSIONS cell: the item's versions when it has them, else its latest. */
static const char *versions_cell(fv_arena *a, const json_t *d)
{
    const char *v = member(a, d, "versions");
    return v != NULL ? v : member(a, d, "latestVersion");
}

fv_err fv_cli_render_definitions(fv_arena *a, fv_cli_def_class cls, const json_t *list, fv_time now,
                                 fv_cli_buf *out, fv_error *err)
{
    if (!json_is_array(list))
        return not_a(err, "a list of definitions");
    if (json_array_size(list) == 0) {
        fv_cli_buf_printf(out, "No %s found.\n", class_title(cls));
        return out->failed ? no_memory(err) : FV_OK;
    }
    static const char *const wf_headers[] = {"KIND", "NAME", "STATUS", "WORKERS", "VERSIONS"};
    /* Task definitions add their backlog: PENDING tasks and the age of the
     * oldest. */
    static const char *const task_headers[] = {"KIND",    "NAME",    "STATUS",
                                               "WORKERS", "PENDING", "OLDEST PENDING"};
    bool wf = cls == FV_CLI_DEF_WORKFLOW;
    /* A server without task executions sends no backlog: no such columns. */
    bool backlog = !wf && json_object_get(json_array_get(list, 0), "pendingTasks") != NULL;
    fv_cli_table t;
    fv_cli_table_init(&t, a, wf ? wf_headers : task_headers, wf ? 5 : backlog ? 6 : 4);
    size_t i;
    const json_t *d;
    json_array_foreach(list, i, d)
    {
        const char *row[6] = {member(a, d, "kind"), member(a, d, "name"),
                              member(a, d, "availabilityStatus"), member(a, d, "workerCount")};
        if (wf) {
            row[4] = versions_cell(a, d);
        } else if (backlog) {
            row[4] = member(a, d, "pendingTasks");
            row[5] = member_when(a, d, "oldestPendingAt", now, false);
        }
        fv_cli_table_add(&t, row);
    }
    return fv_cli_table_render(&t, "", out) == FV_OK ? FV_OK : no_memory(err);
}

/* An effective setting and where it comes from: the operator's override
 * (configuration.<key> not null) or the workers' declaration. */
static const char *setting(fv_arena *a, const json_t *d, const char *key, const char *unit)
{
    const json_t *cfg = json_object_get(json_object_get(d, "configuration"), key);
    bool overridden = cfg != NULL && !json_is_null(cfg);
    const json_t *eff = json_object_get(d, key);
    const char *text = NULL;
    if (json_is_object(eff)) {
        /* A retry policy: key=value pairs in the order sent. */
        fv_cli_buf b;
        fv_cli_buf_init(&b, 0);
        const char *k;
        const json_t *v;
        json_t *obj = (json_t *)(uintptr_t)eff; /* json_object_foreach does not modify it */
        json_object_foreach(obj, k, v)
        {
            const char *vt = value_text(a, v);
            if (vt == OOM)
                b.failed = true;
            fv_cli_buf_printf(&b, "%s%s=%s", b.n > 0 ? ", " : "", k, vt != NULL ? vt : "-");
        }
        text = b.failed ? OOM : or_oom(fv_arena_strdup(a, fv_cli_buf_str(&b)));
        fv_cli_buf_release(&b);
        if (text != NULL && text[0] == '\0')
            text = NULL;
    } else if (eff != NULL) {
        text = value_text(a, eff);
        if (text != NULL && text != OOM && unit != NULL && json_is_integer(eff))
            text = or_oom(fv_arena_printf(a, "%s%s", text, unit));
    }
    if (text == OOM)
        return OOM;
    if (overridden)
        return or_oom(fv_arena_printf(a, "%s (operator override)", text != NULL ? text : "none"));
    if (text != NULL)
        return or_oom(fv_arena_printf(a, "%s (declared by workers)", text));
    return NULL;
}

fv_err fv_cli_render_definition(fv_arena *a, fv_cli_def_class cls, const json_t *def, fv_time now,
                                fv_cli_buf *out, fv_error *err)
{
    if (!json_is_object(def))
        return not_a(err, "a definition");
    bool wf = cls == FV_CLI_DEF_WORKFLOW;
    kv k = {.a = a};
    kv_add(&k, "Kind", member(a, def, "kind"));
    kv_add(&k, "Name", member(a, def, "name"));
    kv_add(&k, "Description", member(a, def, "description"));
    kv_add(&k, "Status", member(a, def, "availabilityStatus"));
    kv_add(&k, "Workers", member(a, def, "workerCount"));
    if (!wf && json_object_get(def, "pendingTasks") != NULL) {
        const char *oldest = member_when(a, def, "oldestPendingAt", now, false);
        const char *pending = member(a, def, "pendingTasks");
        kv_add(&k, "Pending tasks",
               oldest == NULL || oldest == OOM || pending == OOM
                   ? pending
                   : or_oom(fv_arena_printf(a, "%s (oldest created %s)", pending, oldest)));
    }
    if (wf) {
        kv_add(&k, "Latest version", member(a, def, "latestVersion"));
        if (json_object_get(def, "versions") != NULL)
            kv_add(&k, "Versions", member(a, def, "versions"));
    }
    kv_add(&k, "Timeout", setting(a, def, "timeoutSeconds", "s"));
    kv_add(&k, "Retry policy", setting(a, def, "retryPolicy", NULL));
    kv_add(&k, "Tags", setting(a, def, "tags", NULL));
    kv_add(&k, "Cancellable", member(a, def, "cancellable"));
    kv_add(&k, "First seen", member_time(a, def, "firstSeenAt", now));
    kv_add(&k, "Last registered", member_time(a, def, "lastRegisteredAt", now));
    kv_add(&k, "ID", member(a, def, "id"));
    kv_add(&k, "Space", member(a, def, "spaceId"));
    kv_add(&k, "Metadata", member(a, def, "metadata"));
    kv_add(&k, "Input schema", member(a, def, "inputSchema"));
    kv_add(&k, "Output schema", member(a, def, "outputSchema"));
    fv_err rc = kv_render(&k, out);
    const json_t *workers = json_object_get(def, "workers");
    if (rc == FV_OK && workers != NULL) {
        size_t n = json_array_size(workers);
        if (n == 0) {
            fv_cli_buf_puts(out, "\nWorkers: none can run it now\n");
        } else {
            fv_cli_buf_printf(out, "\nWorkers (%zu):\n", n);
            static const char *const headers[] = {"WORKER ID", "NAME", "STATUS", "VERSION"};
            fv_cli_table t;
            fv_cli_table_init(&t, a, headers, 4);
            size_t i;
            const json_t *w;
            json_array_foreach(workers, i, w)
            {
                const char *row[4] = {member(a, w, "id"), member(a, w, "name"),
                                      member(a, w, "status"), member(a, w, "version")};
                fv_cli_table_add(&t, row);
            }
            rc = fv_cli_table_render(&t, "  ", out);
        }
        if (out->failed)
            rc = FV_E_EXHAUSTED;
    }
    return rc == FV_OK ? FV_OK : no_memory(err);
}
