/*
 * The `flovyn` command (see cli.h): parse, resolve the settings, call the
 * REST client, print the server's JSON or a table, map failures to exit
 * statuses. Every command is one request (configure: one PATCH); --watch
 * repeats the list on one connection.
 */
#include "cli/cli.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "cli/buf.h"
#include "cli/client.h"
#include "cli/render.h"
#include "core/util/arena.h"

/* Definitions are listed 100 at a time (the API's largest page). */
#define DEFINITIONS_PAGE 100

typedef struct run {
    const fv_cli_io *io;
    fv_arena *a;
    const fv_cli_args *args;
    fv_cli_client *client;
} run;

static fv_time real_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (fv_time)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static fv_time now_of(const fv_cli_io *io)
{
    return io->now != NULL ? io->now() : real_now();
}

/* ---- PATCH body --------------------------------------------------------- */

fv_err fv_cli_patch_body(const fv_cli_args *args, json_t **out, fv_error *err)
{
    *out = NULL;
    json_t *o = json_object();
    int bad = o == NULL;
    switch (args->timeout_op) {
    case FV_CLI_PATCH_KEEP:
        break;
    case FV_CLI_PATCH_SET:
        bad |= json_object_set_new(o, "timeoutSeconds", json_integer(args->timeout_seconds));
        break;
    case FV_CLI_PATCH_CLEAR:
        bad |= json_object_set_new(o, "timeoutSeconds", json_null());
        break;
    }
    switch (args->retries_op) {
    case FV_CLI_PATCH_KEEP:
        break;
    case FV_CLI_PATCH_SET: {
        json_t *policy = json_object();
        bad |= policy == NULL ||
               json_object_set_new(policy, "maxRetries", json_integer(args->max_retries)) != 0;
        bad |= json_object_set_new(o, "retryPolicy", policy);
        break;
    }
    case FV_CLI_PATCH_CLEAR:
        bad |= json_object_set_new(o, "retryPolicy", json_null());
        break;
    }
    switch (args->tags_op) {
    case FV_CLI_PATCH_KEEP:
        break;
    case FV_CLI_PATCH_SET: {
        json_t *tags = json_array();
        bad |= tags == NULL;
        for (size_t i = 0; tags != NULL && i < args->n_tags; i++) {
            json_t *t = json_string(args->tags[i]);
            if (t == NULL) {
                json_decref(tags);
                json_decref(o);
                return fv_error_set(err, FV_E_INVALID, "--tags: \"%.60s\" is not UTF-8 text",
                                    args->tags[i]);
            }
            bad |= json_array_append_new(tags, t);
        }
        bad |= json_object_set_new(o, "tags", tags);
        break;
    }
    case FV_CLI_PATCH_CLEAR:
        bad |= json_object_set_new(o, "tags", json_null());
        break;
    }
    if (bad) {
        json_decref(o);
        return fv_error_set(err, FV_E_EXHAUSTED, "out of memory building the request body");
    }
    *out = o;
    return FV_OK;
}

/* ---- Output ------------------------------------------------------------- */

/* The server's JSON unchanged, with a final newline. */
static void put_json(fv_cli_buf *b, const fv_cli_response *r)
{
    fv_cli_buf_add(b, r->body, r->body_len);
    if (r->body_len == 0 || r->body[r->body_len - 1] != '\n')
        fv_cli_buf_putc(b, '\n');
}

/* Write b to out; false when the stream failed (a full disk, a closed
 * pipe). */
static bool write_out(FILE *out, const fv_cli_buf *b)
{
    if (b->n > 0)
        fwrite(b->p, 1, b->n, out);
    return fflush(out) == 0 && !ferror(out);
}

static int fail_client(const run *r, const fv_cli_error *e)
{
    fprintf(r->io->err, "flovyn: %s\n", e->msg);
    return FV_CLI_EXIT_FAILED;
}

static int fail_render(const run *r, const fv_error *e)
{
    fprintf(r->io->err, "flovyn: %s\n", e->msg);
    return FV_CLI_EXIT_FAILED;
}

/* Print b, or say why not. */
static int finish(const run *r, const fv_cli_buf *b)
{
    if (b->failed) {
        fprintf(r->io->err, "flovyn: out of memory\n");
        return FV_CLI_EXIT_FAILED;
    }
    if (!write_out(r->io->out, b)) {
        fprintf(r->io->err, "flovyn: could not write the output: %s\n", strerror(errno));
        return FV_CLI_EXIT_FAILED;
    }
    return FV_CLI_EXIT_OK;
}

/* When a page shows less than the whole list, say how to see more (on
 * stderr, so that stdout stays the table). */
static void page_hint(const run *r, const char *what, const fv_cli_response *resp)
{
    if (r->args->output != FV_CLI_OUTPUT_TABLE || resp->total < 0)
        return;
    long long offset = r->args->offset > 0 ? r->args->offset : 0;
    long long n = (long long)json_array_size(resp->json);
    if (n > 0 && offset + n < resp->total)
        fprintf(r->io->err, "flovyn: showing %lld-%lld of %lld %s; --offset %lld shows the next\n",
                offset + 1, offset + n, resp->total, what, offset + n);
}

/* ---- Commands ----------------------------------------------------------- */

static fv_err fetch_workers(const run *r, fv_cli_response *resp, fv_cli_error *e)
{
    fv_cli_worker_query q = {r->args->type, r->args->status, NULL, r->args->limit, r->args->offset};
    return fv_cli_list_workers(r->client, &q, resp, e);
}

/* Render a workers list (table) or copy its JSON into b. */
static fv_err show_workers(const run *r, const fv_cli_response *resp, fv_cli_buf *b, fv_error *e)
{
    if (r->args->output == FV_CLI_OUTPUT_JSON) {
        put_json(b, resp);
        return FV_OK;
    }
    return fv_cli_render_workers(r->a, resp->json, now_of(r->io), b, e);
}

static int workers_list(const run *r)
{
    fv_cli_response resp;
    fv_cli_error ce;
    if (fetch_workers(r, &resp, &ce) != FV_OK)
        return fail_client(r, &ce);
    fv_cli_buf b;
    fv_cli_buf_init(&b, 0);
    fv_error e = {FV_OK, {0}};
    int status;
    if (show_workers(r, &resp, &b, &e) != FV_OK) {
        status = fail_render(r, &e);
    } else {
        status = finish(r, &b);
        if (status == FV_CLI_EXIT_OK)
            page_hint(r, "workers", &resp);
    }
    fv_cli_buf_release(&b);
    fv_cli_response_release(&resp);
    return status;
}

/* Sleep ms, waking early when asked to stop; true when asked. */
static bool sleep_or_stop(const fv_cli_io *io, unsigned ms)
{
    while (ms > 0) {
        if (io->stop != NULL && *io->stop)
            return true;
        unsigned step = ms < 100 ? ms : 100;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
    return io->stop != NULL && *io->stop;
}

/* --watch: the list every interval until Ctrl-C. A first failure ends the
 * command (exit 1: most likely a wrong server or key); later ones are shown
 * in the frame and retried, as a server restart should not end a watch. */
static int workers_watch(const run *r)
{
    const fv_cli_io *io = r->io;
    unsigned interval =
        io->watch_interval_ms > 0 ? io->watch_interval_ms : FV_CLI_WATCH_INTERVAL_MS;
    fv_cli_buf b;
    fv_cli_buf_init(&b, 0);
    int status = FV_CLI_EXIT_OK;
    for (unsigned frame = 0;; frame++) {
        fv_cli_response resp;
        fv_cli_error ce;
        fv_err rc = fetch_workers(r, &resp, &ce);
        if (io->stop != NULL && *io->stop) {
            if (rc == FV_OK)
                fv_cli_response_release(&resp);
            break; /* Ctrl-C during the request */
        }
        if (rc != FV_OK && frame == 0) {
            status = fail_client(r, &ce);
            break;
        }
        fv_cli_buf_reset(&b);
        bool json = r->args->output == FV_CLI_OUTPUT_JSON;
        if (io->out_is_tty)
            fv_cli_buf_puts(&b, "\033[H\033[2J"); /* home, clear screen */
        if (!json) {
            char when[FV_TIME_STR_MAX];
            if (fv_time_format(now_of(io), when) == 0)
                when[0] = '\0';
            fv_cli_buf_printf(&b, "Every %us: flovyn workers list (Ctrl-C to stop)  %s\n\n",
                              interval / 1000, when);
        }
        fv_error e = {FV_OK, {0}};
        if (rc != FV_OK) {
            fv_cli_buf_printf(&b, "flovyn: %s\n", ce.msg);
        } else if (show_workers(r, &resp, &b, &e) != FV_OK) {
            fv_cli_buf_printf(&b, "flovyn: %s\n", e.msg);
        }
        if (!io->out_is_tty && !json)
            fv_cli_buf_putc(&b, '\n');
        fv_cli_response_release(&resp);
        status = finish(r, &b);
        if (status != FV_CLI_EXIT_OK)
            break;
        if (io->watch_max_frames > 0 && frame + 1 >= io->watch_max_frames)
            break;
        if (sleep_or_stop(io, interval))
            break;
    }
    fv_cli_buf_release(&b);
    return status;
}

static int workers_get(const run *r)
{
    fv_cli_response resp;
    fv_cli_error ce;
    if (fv_cli_get_worker(r->client, r->args->target, &resp, &ce) != FV_OK)
        return fail_client(r, &ce);
    fv_cli_buf b;
    fv_cli_buf_init(&b, 0);
    fv_error e = {FV_OK, {0}};
    int status;
    fv_err rc = FV_OK;
    if (r->args->output == FV_CLI_OUTPUT_JSON)
        put_json(&b, &resp);
    else
        rc = fv_cli_render_worker(r->a, resp.json, now_of(r->io), &b, &e);
    status = rc != FV_OK ? fail_render(r, &e) : finish(r, &b);
    fv_cli_buf_release(&b);
    fv_cli_response_release(&resp);
    return status;
}

static int definitions(const run *r, fv_cli_def_class cls)
{
    fv_cli_response resp;
    fv_cli_error ce;
    fv_err rc;
    if (r->args->target != NULL) {
        rc = fv_cli_get_definition(r->client, cls, r->args->target, &resp, &ce);
    } else {
        fv_cli_definition_query q = {NULL, NULL, NULL,
                                     r->args->limit >= 0 ? r->args->limit : DEFINITIONS_PAGE,
                                     r->args->offset};
        rc = fv_cli_list_definitions(r->client, cls, &q, &resp, &ce);
    }
    if (rc != FV_OK)
        return fail_client(r, &ce);
    fv_cli_buf b;
    fv_cli_buf_init(&b, 0);
    fv_error e = {FV_OK, {0}};
    if (r->args->output == FV_CLI_OUTPUT_JSON)
        put_json(&b, &resp);
    else if (r->args->target != NULL)
        rc = fv_cli_render_definition(r->a, cls, resp.json, now_of(r->io), &b, &e);
    else
        rc = fv_cli_render_definitions(r->a, cls, resp.json, now_of(r->io), &b, &e);
    int status = rc != FV_OK ? fail_render(r, &e) : finish(r, &b);
    if (status == FV_CLI_EXIT_OK && r->args->target == NULL)
        page_hint(r, cls == FV_CLI_DEF_WORKFLOW ? "workflow definitions" : "task definitions",
                  &resp);
    fv_cli_buf_release(&b);
    fv_cli_response_release(&resp);
    return status;
}

static int configure(const run *r, fv_cli_def_class cls)
{
    json_t *body = NULL;
    fv_error e = {FV_OK, {0}};
    if (fv_cli_patch_body(r->args, &body, &e) != FV_OK)
        return fail_render(r, &e);
    fv_cli_response resp;
    fv_cli_error ce;
    fv_err rc = fv_cli_configure_definition(r->client, cls, r->args->target, body, &resp, &ce);
    json_decref(body);
    if (rc != FV_OK)
        return fail_client(r, &ce);
    fv_cli_buf b;
    fv_cli_buf_init(&b, 0);
    if (r->args->output == FV_CLI_OUTPUT_JSON)
        put_json(&b, &resp);
    else
        rc = fv_cli_render_definition(r->a, cls, resp.json, now_of(r->io), &b, &e);
    int status = rc != FV_OK ? fail_render(r, &e) : finish(r, &b);
    fv_cli_buf_release(&b);
    fv_cli_response_release(&resp);
    return status;
}

static int dispatch(const run *r)
{
    switch (r->args->cmd) {
    case FV_CLI_CMD_WORKERS_LIST:
        return r->args->watch ? workers_watch(r) : workers_list(r);
    case FV_CLI_CMD_WORKERS_GET:
        return workers_get(r);
    case FV_CLI_CMD_WORKFLOWS_DEFINITIONS:
        return definitions(r, FV_CLI_DEF_WORKFLOW);
    case FV_CLI_CMD_WORKFLOWS_CONFIGURE:
        return configure(r, FV_CLI_DEF_WORKFLOW);
    case FV_CLI_CMD_TASKS_DEFINITIONS:
        return definitions(r, FV_CLI_DEF_TASK);
    case FV_CLI_CMD_TASKS_CONFIGURE:
        return configure(r, FV_CLI_DEF_TASK);
    case FV_CLI_CMD_NONE:
        break;
    }
    fprintf(r->io->err, "flovyn: no command given\n\n%s", fv_cli_usage(r->args));
    return FV_CLI_EXIT_USAGE;
}

/* ---- Main --------------------------------------------------------------- */

int fv_cli_main(int argc, char *const argv[], const fv_cli_io *io)
{
    fv_arena a;
    fv_arena_init(&a, FV_ARENA_DEFAULT_CAP);
    int status = FV_CLI_EXIT_OK;
    fv_cli_client *client = NULL;
    fv_error e = {FV_OK, {0}};
    fv_cli_args args;

    fv_err rc = fv_cli_args_parse(&a, argc, argv, &args, &e);
    if (rc != FV_OK) {
        if (rc == FV_E_INVALID) {
            fprintf(io->err, "flovyn: %s\n\n%s", e.msg, fv_cli_usage(&args));
            status = FV_CLI_EXIT_USAGE;
        } else {
            fprintf(io->err, "flovyn: %s\n", fv_error_message(&e, rc));
            status = FV_CLI_EXIT_FAILED;
        }
        goto done;
    }
    if (args.help) {
        fputs(fv_cli_usage(&args), io->out);
        goto done;
    }
    if (args.version) {
        fprintf(io->out, "flovyn %s\n", FV_CLI_VERSION);
        goto done;
    }

    fv_cli_settings s;
    rc = fv_cli_settings_resolve(&a, &args, io->getenv_fn, io->env_user, &s, &e);
    if (rc != FV_OK) {
        fprintf(io->err, "flovyn: %s\n", fv_error_message(&e, rc));
        status = rc == FV_E_INVALID ? FV_CLI_EXIT_USAGE : FV_CLI_EXIT_FAILED;
        goto done;
    }
    if (s.warning[0] != '\0')
        fprintf(io->err, "flovyn: %s\n", s.warning);
    if (s.api_key == NULL) {
        fprintf(io->err,
                "flovyn: no API key: give --api-key KEY, set FLOVYN_API_KEY, or put "
                "\"api_key = KEY\" under [%s%s] in %s (flovyn-server serve --dev prints an "
                "operator key)\n",
                strcmp(s.profile, FV_CLI_DEFAULT_PROFILE) == 0 ? "" : "profile ", s.profile,
                s.config_path != NULL ? s.config_path : "~/.config/flovyn/config");
        status = FV_CLI_EXIT_USAGE;
        goto done;
    }

    fv_cli_client_config cc = {s.server, s.tenant, s.api_key, 0, 0, "flovyn-cli/" FV_CLI_VERSION,
                               io->stop};
    fv_cli_error ce;
    rc = fv_cli_client_open(&cc, &client, &ce);
    if (rc != FV_OK) {
        fprintf(io->err, "flovyn: %s\n", ce.msg);
        status = rc == FV_E_INVALID ? FV_CLI_EXIT_USAGE : FV_CLI_EXIT_FAILED;
        goto done;
    }
    run r = {io, &a, &args, client};
    status = dispatch(&r);

done:
    fv_cli_client_close(client);
    fv_arena_release(&a);
    fflush(io->err);
    return status;
}
