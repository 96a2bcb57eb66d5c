/*
 * The `flovyn` command line without a server: argument parsing (global
 * flags before or after the command, every bad value a usage error naming
 * its flag, exit 2 with the command's usage), the config file (format and
 * file:line errors), the precedence flag > env > config > default with a
 * temporary XDG_CONFIG_HOME / HOME, the PATCH body of `configure`, and the
 * message when nothing listens at the server address (a real refused TCP
 * connection, not a fake server).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cli/args.h"
#include "cli/buf.h"
#include "cli/cli.h"
#include "cli/config.h"
#include "core/util/alloc.h"
#include "core/util/arena.h"
#include "tests/support/cunit_main.h"

#define WORKER_ID "550e8400-e29b-41d4-a716-446655440001"

/* The end of a variadic list of arguments (typed: a bare NULL may be an int). */
#define END ((const char *)NULL)

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */
/* ---------------------------------------------------------------------- */

/* A fake environment: NULL-terminated name/value pairs. */
typedef struct fake_env {
    const char *pairs[32];
} fake_env;

static const char *fake_getenv(void *user, const char *name)
{
    const fake_env *env = user;
    for (size_t i = 0; env != NULL && env->pairs[i] != NULL; i += 2)
        if (strcmp(env->pairs[i], name) == 0)
            return env->pairs[i + 1];
    return NULL;
}

/* argv from a NULL-terminated list after "flovyn". */
static int make_argv(char *argv[], size_t max, va_list ap)
{
    int argc = 0;
    argv[argc++] = (char *)(uintptr_t) "flovyn";
    const char *s;
    while ((s = va_arg(ap, const char *)) != NULL && (size_t)argc < max - 1)
        argv[argc++] = (char *)(uintptr_t)s;
    argv[argc] = NULL;
    return argc;
}

/* Parse `flovyn <args...>`. */
static fv_err parse(fv_arena *a, fv_cli_args *out, fv_error *e, ...)
{
    char *argv[64];
    va_list ap;
    va_start(ap, e);
    int argc = make_argv(argv, 64, ap);
    va_end(ap);
    fv_error_clear(e);
    return fv_cli_args_parse(a, argc, argv, out, e);
}

/* Text written to a tmpfile (fv_free). */
static char *read_all(FILE *f)
{
    fflush(f);
    rewind(f);
    fv_cli_buf b;
    fv_cli_buf_init(&b, 0);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fv_cli_buf_add(&b, chunk, n);
    fv_cli_buf_add(&b, "", 0);
    return b.p;
}

typedef struct result {
    int status;
    char *out;
    char *err;
} result;

static void result_release(result *r)
{
    fv_free(r->out);
    fv_free(r->err);
}

/* Run fv_cli_main as `flovyn <args...>` with this environment. */
static result run(const fake_env *env, ...)
{
    char *argv[64];
    va_list ap;
    va_start(ap, env);
    int argc = make_argv(argv, 64, ap);
    va_end(ap);
    FILE *out = tmpfile();
    FILE *err = tmpfile();
    CU_ASSERT_FATAL(out != NULL && err != NULL);
    fv_cli_io io = {.out = out,
                    .err = err,
                    .getenv_fn = fake_getenv,
                    .env_user = (void *)(uintptr_t)env,
                    .out_is_tty = false,
                    .stop = NULL,
                    .now = NULL,
                    .watch_interval_ms = 10,
                    .watch_max_frames = 2};
    result r;
    r.status = fv_cli_main(argc, argv, &io);
    r.out = read_all(out);
    r.err = read_all(err);
    fclose(out);
    fclose(err);
    return r;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A private temporary directory, removed by rm_tree. */
static char *temp_dir(void)
{
    char tmpl[] = "/tmp/fv-test-cli-XXXXXX";
    CU_ASSERT_FATAL(mkdtemp(tmpl) != NULL);
    return fv_strdup(tmpl);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    fputs(text, f);
    fclose(f);
    CU_ASSERT_FATAL(chmod(path, mode) == 0);
}

/* dir/<sub>/flovyn/config with text; returns its path (fv_free). */
static char *write_config(const char *dir, const char *sub, const char *text, mode_t mode)
{
    char path[512];
    snprintf(path, sizeof path, "%s%s", dir, sub);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s%s/flovyn", dir, sub);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s%s/flovyn/config", dir, sub);
    write_file(path, text, mode);
    return fv_strdup(path);
}

static void rm_tree(char *dir)
{
    const char *subs[] = {"/.config/flovyn/config", "/.config/flovyn", "/.config", "/flovyn/config",
                          "/flovyn"};
    char path[512];
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        snprintf(path, sizeof path, "%s%s", dir, subs[i]);
        if (remove(path) != 0) {
            /* absent: fine */
        }
    }
    CU_ASSERT(rmdir(dir) == 0);
    fv_free(dir);
}

/* ---------------------------------------------------------------------- */
/* Parsing                                                                */
/* ---------------------------------------------------------------------- */

static void assert_same_globals(const fv_cli_args *x)
{
    FV_ASSERT_INT_EQ(x->cmd, FV_CLI_CMD_WORKERS_LIST);
    FV_ASSERT_STR_EQ(x->server, "http://x:1");
    FV_ASSERT_STR_EQ(x->tenant, "acme");
    FV_ASSERT_STR_EQ(x->api_key, "k1");
    FV_ASSERT_STR_EQ(x->profile, "prod");
    CU_ASSERT(x->has_output);
    FV_ASSERT_INT_EQ(x->output, FV_CLI_OUTPUT_JSON);
    FV_ASSERT_STR_EQ(x->type, "TASK");
}

static void test_cli_args__global_flags_before_or_after_the_command_mean_the_same(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_cli_args x;
    fv_error e;
    FV_ASSERT_INT_EQ(parse(&a, &x, &e, "--server", "http://x:1", "--tenant", "acme", "--api-key",
                           "k1", "--profile", "prod", "-o", "json", "workers", "list", "--type",
                           "task", END),
                     FV_OK);
    assert_same_globals(&x);
    FV_ASSERT_INT_EQ(parse(&a, &x, &e, "workers", "list", "--type", "TASK", "--server=http://x:1",
                           "--tenant=acme", "--api-key", "k1", "--profile=prod", "--output=json",
                           END),
                     FV_OK);
    assert_same_globals(&x);
    FV_ASSERT_INT_EQ(parse(&a, &x, &e, "workers", "--server", "http://x:1", "-ojson", "list",
                           "--type=Task", "--tenant", "acme", "--api-key=k1", "--profile", "prod",
                           END),
                     FV_OK);
    assert_same_globals(&x);
    FV_ASSERT_INT_EQ(parse(&a, &x, &e, "-o=json", "--profile", "prod", "workers", "--tenant",
                           "acme", "list", "--api-key", "k1", "--type", "task", "--server",
                           "http://x:1", END),
                     FV_OK);
    assert_same_globals(&x);
    /* The last of a repeated flag wins. */
    FV_ASSERT_INT_EQ(parse(&a, &x, &e, "-o", "json", "workers", "list", "-o", "table", END), FV_OK);
    FV_ASSERT_INT_EQ(x.output, FV_CLI_OUTPUT_TABLE);
    fv_arena_release(&a);
}

static void test_cli_args__every_command_with_its_arguments(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    fv_cli_args x;
    fv_error e;

    FV_ASSERT_INT_EQ(parse(&a, &x, &e, "workers", "list", END), FV_OK);
    FV_ASSERT_INT_EQ(x.cmd, FV_CLI_CMD_WORKERS_LIST);
    CU_ASSERT_PTR_NULL(x.type);
    CU_ASSERT_PTR_NULL(x.status);
    FV_ASSERT_INT_EQ(x.limit, -1);
    FV_ASSERT_INT_EQ(x.offset, -1);
    CU_ASSERT(!x.watch);
    CU_ASSERT(!x.has_output);

    FV_ASSERT_INT_EQ(parse(&a, &x, &e, "workers", "list", "--status", "degraded", "--limit", "5",
                           "--offset", "0", "--watch", "--type", "UNIFIED", END),
                     FV_OK);
    FV_ASSERT_STR_EQ(x.status, "DEGRADED");
    FV_ASSERT_STR_EQ(x.type, "UNIFIED");
    FV_ASSERT_INT_EQ(x.limit, 5);
    FV_ASSERT_INT_EQ(x.offset, 0);
    CU_ASSERT(x.watch);

    FV_ASSERT_INT_EQ(parse(&a, &x, &e, "workers", "get", WORKER_ID, END), FV_OK);
    FV_ASSERT_INT_EQ(x.cmd, FV_CLI_CMD_WORKERS_GET);
    FV_ASSERT_STR_EQ(x.target, WORKER_ID);

    FV_ASSERT_INT_EQ(parse(&a, &x, &e, "workflows", "definitions", END), FV_OK);
    FV_ASSERT_INT_EQ(x.cmd, FV_CLI_CMD_WORKFLOWS_DEFINITIONS);
    CU_ASSERT_PTR_NULL(x.target);
    FV_ASSERT_INT_EQ(
        parse(&a, &x, &e, "workflows", "definitions", "--limit", "10", "--offset", "20", END),
        FV_OK);
    FV_ASSERT_INT_EQ(x.limit, 10);
    FV_ASSERT_INT_EQ(x.offset, 20);
    FV_ASSERT_INT_EQ(parse(&a, &x, &e, "workflows", "definitions", "order-processing", END), FV_OK);
    FV_ASSERT_STR_EQ(x.target, "order-processing");

    FV_ASSERT_INT_EQ(parse(&a, &x, &e, "tasks", "definitions", "send email/é", END), FV_OK);
    FV_ASSERT_INT_EQ(x.cmd, FV_CLI_CMD_TASKS_DEFINITIONS);
    FV_ASSERT_STR_EQ(x.target, "send email/é");

    /* `--` ends the flags: a kind may start with '-'. */
    FV_ASSERT_INT_EQ(parse(&a, &x, &e, "tasks", "definitions", "--", "-odd", END), FV_OK);
    FV_ASSERT_STR_EQ(x.target, "-odd");

    FV_ASSERT_INT_EQ(parse(&a, &x, &e, "workflows", "configure", "etl", "--timeout", "600", END),
                     FV_OK);
    FV_ASSERT_INT_EQ(x.cmd, FV_CLI_CMD_WORKFLOWS_CONFIGURE);
    FV_ASSERT_STR_EQ(x.target, "etl");
    FV_ASSERT_INT_EQ(x.timeout_op, FV_CLI_PATCH_SET);
    FV_ASSERT_INT_EQ(x.timeout_seconds, 600);
    FV_ASSERT_INT_EQ(x.retries_op, FV_CLI_PATCH_KEEP);
    FV_ASSERT_INT_EQ(x.tags_op, FV_CLI_PATCH_KEEP);

    FV_ASSERT_INT_EQ(parse(&a, &x, &e, "tasks", "configure", "send-email", "--timeout", "none",
                           "--max-retries", "0", "--tags", " mail , customer ", END),
                     FV_OK);
    FV_ASSERT_INT_EQ(x.cmd, FV_CLI_CMD_TASKS_CONFIGURE);
    FV_ASSERT_INT_EQ(x.timeout_op, FV_CLI_PATCH_CLEAR);
    FV_ASSERT_INT_EQ(x.retries_op, FV_CLI_PATCH_SET);
    FV_ASSERT_INT_EQ(x.max_retries, 0);
    FV_ASSERT_INT_EQ(x.tags_op, FV_CLI_PATCH_SET);
    FV_ASSERT_INT_EQ(x.n_tags, 2);
    FV_ASSERT_STR_EQ(x.tags[0], "mail");
    FV_ASSERT_STR_EQ(x.tags[1], "customer");

    FV_ASSERT_INT_EQ(parse(&a, &x, &e, "tasks", "configure", "k", "--tags", "", END), FV_OK);
    FV_ASSERT_INT_EQ(x.tags_op, FV_CLI_PATCH_SET);
    FV_ASSERT_INT_EQ(x.n_tags, 0);
    FV_ASSERT_INT_EQ(parse(&a, &x, &e, "tasks", "configure", "k", "--tags", "none", "--max-retries",
                           "none", END),
                     FV_OK);
    FV_ASSERT_INT_EQ(x.tags_op, FV_CLI_PATCH_CLEAR);
    FV_ASSERT_INT_EQ(x.retries_op, FV_CLI_PATCH_CLEAR);
    fv_arena_release(&a);
}

typedef struct bad_case {
    const char *argv[12];
    const char *message;
    fv_cli_command cmd; /* what the usage printed will be about */
    fv_cli_resource res;
} bad_case;

static const bad_case bad_cases[] = {
    {{NULL}, "no command given", FV_CLI_CMD_NONE, FV_CLI_RES_NONE},
    {{"frobnicate"},
     "unknown command \"frobnicate\" (workers, workflows or tasks)",
     FV_CLI_CMD_NONE,
     FV_CLI_RES_NONE},
    {{"workers"}, "\"flovyn workers\" needs a command", FV_CLI_CMD_NONE, FV_CLI_RES_WORKERS},
    {{"workers", "frobnicate"},
     "unknown command \"flovyn workers frobnicate\"",
     FV_CLI_CMD_NONE,
     FV_CLI_RES_WORKERS},
    {{"--bogus", "workers", "list"}, "unknown flag \"--bogus\"", FV_CLI_CMD_NONE, FV_CLI_RES_NONE},
    {{"workers", "list", "-x"},
     "unknown flag \"-x\" for \"flovyn workers list\"",
     FV_CLI_CMD_WORKERS_LIST,
     FV_CLI_RES_WORKERS},
    {{"workers", "list", "--bogus=1"},
     "unknown flag \"--bogus\" for \"flovyn workers list\"",
     FV_CLI_CMD_WORKERS_LIST,
     FV_CLI_RES_WORKERS},
    {{"--type", "TASK", "workers", "list"},
     "--type is a flag of a command: put it after the command",
     FV_CLI_CMD_NONE,
     FV_CLI_RES_NONE},
    {{"workers", "list", "--type", "FOO"},
     "--type: \"FOO\" is not a worker type (WORKFLOW, TASK or UNIFIED)",
     FV_CLI_CMD_WORKERS_LIST,
     FV_CLI_RES_WORKERS},
    {{"workers", "list", "--status", "up"},
     "--status: \"up\" is not a worker status (ONLINE, DEGRADED or OFFLINE)",
     FV_CLI_CMD_WORKERS_LIST,
     FV_CLI_RES_WORKERS},
    {{"workers", "list", "--limit", "0"},
     "--limit: \"0\" is not a positive number",
     FV_CLI_CMD_WORKERS_LIST,
     FV_CLI_RES_WORKERS},
    {{"workers", "list", "--limit", "abc"},
     "--limit: \"abc\" is not a positive number",
     FV_CLI_CMD_WORKERS_LIST,
     FV_CLI_RES_WORKERS},
    {{"workers", "list", "--limit", "1e3"},
     "--limit: \"1e3\" is not a positive number",
     FV_CLI_CMD_WORKERS_LIST,
     FV_CLI_RES_WORKERS},
    {{"workers", "list", "--limit", ""},
     "--limit: the value is empty",
     FV_CLI_CMD_WORKERS_LIST,
     FV_CLI_RES_WORKERS},
    {{"workers", "list", "--offset", "-5"},
     "--offset: \"-5\" is not a number (0 or more)",
     FV_CLI_CMD_WORKERS_LIST,
     FV_CLI_RES_WORKERS},
    {{"workers", "list", "--limit"},
     "--limit needs a value",
     FV_CLI_CMD_WORKERS_LIST,
     FV_CLI_RES_WORKERS},
    {{"workers", "list", "--watch=yes"},
     "--watch takes no value",
     FV_CLI_CMD_WORKERS_LIST,
     FV_CLI_RES_WORKERS},
    {{"workers", "get"},
     "\"flovyn workers get\" needs <worker-id>",
     FV_CLI_CMD_WORKERS_GET,
     FV_CLI_RES_WORKERS},
    {{"workers", "get", "abc"},
     "\"abc\" is not a worker id (a UUID, as `flovyn workers list` shows)",
     FV_CLI_CMD_WORKERS_GET,
     FV_CLI_RES_WORKERS},
    {{"workers", "get", WORKER_ID, "extra"},
     "unexpected argument \"extra\"",
     FV_CLI_CMD_WORKERS_GET,
     FV_CLI_RES_WORKERS},
    {{"workers", "get", WORKER_ID, "--watch"},
     "unknown flag \"--watch\" for \"flovyn workers get\"",
     FV_CLI_CMD_WORKERS_GET,
     FV_CLI_RES_WORKERS},
    {{"workflows", "definitions", "a", "b"},
     "unexpected argument \"b\"",
     FV_CLI_CMD_WORKFLOWS_DEFINITIONS,
     FV_CLI_RES_WORKFLOWS},
    {{"workflows", "definitions", "etl", "--limit", "5"},
     "--limit and --offset page the list: they do not go with a kind",
     FV_CLI_CMD_WORKFLOWS_DEFINITIONS,
     FV_CLI_RES_WORKFLOWS},
    {{"tasks", "definitions", "bad\x01kind"},
     "\"bad\x01kind\" is not UTF-8 text without control characters",
     FV_CLI_CMD_TASKS_DEFINITIONS,
     FV_CLI_RES_TASKS},
    {{"tasks", "definitions", "\xff"},
     "\"\xff\" is not UTF-8 text without control characters",
     FV_CLI_CMD_TASKS_DEFINITIONS,
     FV_CLI_RES_TASKS},
    {{"tasks", "configure", "k"},
     "nothing to configure: give --timeout, --max-retries or --tags",
     FV_CLI_CMD_TASKS_CONFIGURE,
     FV_CLI_RES_TASKS},
    {{"tasks", "configure", "--timeout", "5"},
     "\"flovyn tasks configure\" needs <kind>",
     FV_CLI_CMD_TASKS_CONFIGURE,
     FV_CLI_RES_TASKS},
    {{"tasks", "configure", "k", "--timeout", "0"},
     "--timeout: \"0\" is not a number of seconds (or none)",
     FV_CLI_CMD_TASKS_CONFIGURE,
     FV_CLI_RES_TASKS},
    {{"tasks", "configure", "k", "--timeout", "1.5"},
     "--timeout: \"1.5\" is not a number of seconds (or none)",
     FV_CLI_CMD_TASKS_CONFIGURE,
     FV_CLI_RES_TASKS},
    {{"workflows", "configure", "k", "--max-retries", "x"},
     "--max-retries: \"x\" is not a number of retries (or none)",
     FV_CLI_CMD_WORKFLOWS_CONFIGURE,
     FV_CLI_RES_WORKFLOWS},
    {{"workflows", "configure", "k", "--tags", "a,,b"},
     "--tags: empty tag in \"a,,b\" (tags are separated by commas)",
     FV_CLI_CMD_WORKFLOWS_CONFIGURE,
     FV_CLI_RES_WORKFLOWS},
    {{"workflows", "configure", "k", "--tags", "a,"},
     "--tags: empty tag in \"a,\" (tags are separated by commas)",
     FV_CLI_CMD_WORKFLOWS_CONFIGURE,
     FV_CLI_RES_WORKFLOWS},
    {{"workflows", "configure", "k", "--type", "TASK"},
     "unknown flag \"--type\" for \"flovyn workflows configure\"",
     FV_CLI_CMD_WORKFLOWS_CONFIGURE,
     FV_CLI_RES_WORKFLOWS},
    {{"-o", "yaml", "workers", "list"},
     "-o: \"yaml\" is not an output format (table or json)",
     FV_CLI_CMD_NONE,
     FV_CLI_RES_NONE},
    {{"workers", "list", "--output=csv"},
     "--output: \"csv\" is not an output format (table or json)",
     FV_CLI_CMD_WORKERS_LIST,
     FV_CLI_RES_WORKERS},
    {{"workers", "list", "--server", ""},
     "--server: the value is empty",
     FV_CLI_CMD_WORKERS_LIST,
     FV_CLI_RES_WORKERS},
    {{"workers", "list", "--tenant="},
     "--tenant: the value is empty",
     FV_CLI_CMD_WORKERS_LIST,
     FV_CLI_RES_WORKERS},
};

static void test_cli_args__bad_input_is_a_usage_error_naming_what_is_wrong(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        char *argv[16];
        int argc = 0;
        argv[argc++] = (char *)(uintptr_t) "flovyn";
        for (size_t j = 0; c->argv[j] != NULL; j++)
            argv[argc++] = (char *)(uintptr_t)c->argv[j];
        argv[argc] = NULL;
        fv_cli_args x;
        fv_error e;
        fv_error_clear(&e);
        fv_err rc = fv_cli_args_parse(&a, argc, argv, &x, &e);
        if (rc != FV_E_INVALID || strcmp(e.msg, c->message) != 0)
            printf("\ncase %zu (%s ...): got %d \"%s\"\n", i, c->argv[0] ? c->argv[0] : "", (int)rc,
                   e.msg);
        FV_ASSERT_INT_EQ(rc, FV_E_INVALID);
        FV_ASSERT_STR_EQ(e.msg, c->message);
        FV_ASSERT_INT_EQ(x.cmd, c->cmd);
        FV_ASSERT_INT_EQ(x.res, c->res);
    }
    fv_arena_release(&a);
}

static void test_cli_args__usage_errors_exit_2_with_the_commands_usage_on_stderr(void)
{
    fv_cli_args which;
    memset(&which, 0, sizeof which);

    result r = run(NULL, "workers", "list", "--limit", "abc", END);
    FV_ASSERT_INT_EQ(r.status, FV_CLI_EXIT_USAGE);
    FV_ASSERT_STR_EQ(r.out, "");
    which.cmd = FV_CLI_CMD_WORKERS_LIST;
    CU_ASSERT(starts_with(r.err, "flovyn: --limit: \"abc\" is not a positive number\n\n"));
    CU_ASSERT(ends_with(r.err, fv_cli_usage(&which)));
    CU_ASSERT(starts_with(fv_cli_usage(&which), "Usage: flovyn workers list "));
    result_release(&r);

    r = run(NULL, "tasks", "configure", "k", END);
    FV_ASSERT_INT_EQ(r.status, FV_CLI_EXIT_USAGE);
    which.cmd = FV_CLI_CMD_TASKS_CONFIGURE;
    CU_ASSERT(starts_with(
        r.err, "flovyn: nothing to configure: give --timeout, --max-retries or --tags\n\n"));
    CU_ASSERT(ends_with(r.err, fv_cli_usage(&which)));
    CU_ASSERT(starts_with(fv_cli_usage(&which), "Usage: flovyn tasks configure <kind> "));
    result_release(&r);

    r = run(NULL, "workflows", END);
    FV_ASSERT_INT_EQ(r.status, FV_CLI_EXIT_USAGE);
    which.cmd = FV_CLI_CMD_NONE;
    which.res = FV_CLI_RES_WORKFLOWS;
    CU_ASSERT(ends_with(r.err, fv_cli_usage(&which)));
    CU_ASSERT(starts_with(fv_cli_usage(&which), "Usage: flovyn workflows <command>"));
    result_release(&r);

    r = run(NULL, END);
    FV_ASSERT_INT_EQ(r.status, FV_CLI_EXIT_USAGE);
    which.res = FV_CLI_RES_NONE;
    CU_ASSERT(starts_with(r.err, "flovyn: no command given\n\nUsage: flovyn [global flags]"));
    CU_ASSERT(ends_with(r.err, fv_cli_usage(&which)));
    result_release(&r);
}

static void test_cli_args__help_and_version_print_on_stdout_and_exit_0(void)
{
    fv_cli_args which;
    memset(&which, 0, sizeof which);
    result r = run(NULL, "--help", END);
    FV_ASSERT_INT_EQ(r.status, FV_CLI_EXIT_OK);
    FV_ASSERT_STR_EQ(r.out, fv_cli_usage(&which));
    FV_ASSERT_STR_EQ(r.err, "");
    /* The main usage documents the config file and the precedence. */
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "[profile prod]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "flag > environment > config file > default"));
    result_release(&r);

    r = run(NULL, "workers", "list", "-h", END);
    FV_ASSERT_INT_EQ(r.status, FV_CLI_EXIT_OK);
    which.cmd = FV_CLI_CMD_WORKERS_LIST;
    FV_ASSERT_STR_EQ(r.out, fv_cli_usage(&which));
    result_release(&r);

    /* Help wins over a missing argument or an unknown word after it. */
    r = run(NULL, "tasks", "--help", "frobnicate", END);
    FV_ASSERT_INT_EQ(r.status, FV_CLI_EXIT_OK);
    which.cmd = FV_CLI_CMD_NONE;
    which.res = FV_CLI_RES_TASKS;
    FV_ASSERT_STR_EQ(r.out, fv_cli_usage(&which));
    result_release(&r);

    r = run(NULL, "workers", "get", "--help", END);
    FV_ASSERT_INT_EQ(r.status, FV_CLI_EXIT_OK);
    CU_ASSERT(starts_with(r.out, "Usage: flovyn workers get <worker-id>"));
    result_release(&r);

    r = run(NULL, "--version", END);
    FV_ASSERT_INT_EQ(r.status, FV_CLI_EXIT_OK);
    FV_ASSERT_STR_EQ(r.out, "flovyn " FV_CLI_VERSION "\n");
    result_release(&r);
}

/* ---------------------------------------------------------------------- */
/* The config file                                                        */
/* ---------------------------------------------------------------------- */

static void test_cli_args__config_file_profiles_comments_quotes_and_crlf(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    const char *text = "# flovyn\n"
                       "; another comment\n"
                       "\n"
                       "[default]\n"
                       "server = http://localhost:8000\n"
                       "  tenant=default  \n"
                       "api_key = \"flovyn_sk_abc\"\r\n"
                       "\r\n"
                       "[ profile   prod-1.eu_west ]\n"
                       "\tserver = https://flovyn.example.com\n"
                       "[profile empty]\n";
    fv_cli_config c;
    fv_error e;
    FV_ASSERT_INT_EQ(fv_cli_config_parse(&a, "cfg", text, strlen(text), &c, &e), FV_OK);
    FV_ASSERT_INT_EQ(c.n, 3);
    const fv_cli_profile *d = fv_cli_config_profile(&c, "default");
    CU_ASSERT_FATAL(d != NULL);
    FV_ASSERT_INT_EQ(d->line, 4);
    FV_ASSERT_STR_EQ(d->server, "http://localhost:8000");
    FV_ASSERT_INT_EQ(d->server_line, 5);
    FV_ASSERT_STR_EQ(d->tenant, "default");
    FV_ASSERT_STR_EQ(d->api_key, "flovyn_sk_abc");
    FV_ASSERT_INT_EQ(d->api_key_line, 7);
    const fv_cli_profile *p = fv_cli_config_profile(&c, "prod-1.eu_west");
    CU_ASSERT_FATAL(p != NULL);
    FV_ASSERT_STR_EQ(p->server, "https://flovyn.example.com");
    CU_ASSERT_PTR_NULL(p->tenant);
    CU_ASSERT_PTR_NULL(p->api_key);
    const fv_cli_profile *empty = fv_cli_config_profile(&c, "empty");
    CU_ASSERT_FATAL(empty != NULL);
    CU_ASSERT_PTR_NULL(empty->server);
    CU_ASSERT_PTR_NULL(fv_cli_config_profile(&c, "prod"));

    /* [profile default] is [default]; an empty file has no profile. */
    FV_ASSERT_INT_EQ(fv_cli_config_parse(&a, "cfg", "[profile default]\ntenant = t\n", 29, &c, &e),
                     FV_OK);
    CU_ASSERT_PTR_NOT_NULL(fv_cli_config_profile(&c, "default"));
    FV_ASSERT_INT_EQ(fv_cli_config_parse(&a, "cfg", "", 0, &c, &e), FV_OK);
    FV_ASSERT_INT_EQ(c.n, 0);
    fv_arena_release(&a);
}

static void test_cli_args__config_file_errors_name_file_and_line(void)
{
    static const struct {
        const char *text;
        const char *message;
    } cases[] = {
        {"server = http://x\n",
         "cfg:1: \"server\" is outside a profile: put it under [default] or [profile NAME]"},
        {"[default]\nport = 1\n",
         "cfg:2: unknown key \"port\" (expected server, tenant or api_key)"},
        {"[default]\napi-key = k\n",
         "cfg:2: unknown key \"api-key\" (expected server, tenant or api_key)"},
        {"[default]\nserver = a\n# c\nserver = b\n",
         "cfg:4: \"server\" is set twice in profile \"default\" (first at line 2)"},
        {"[default]\n\n[profile default]\n",
         "cfg:3: profile \"default\" is defined twice (first at line 1)"},
        {"[prod]\n", "cfg:1: unknown section \"[prod]\" (expected [default] or [profile NAME])"},
        {"[profiles x]\n",
         "cfg:1: unknown section \"[profiles x]\" (expected [default] or [profile NAME])"},
        {"[profile]\n",
         "cfg:1: a profile name is 1-64 letters, digits, '-', '_' or '.': [profile NAME]"},
        {"[profile a b]\n",
         "cfg:1: a profile name is 1-64 letters, digits, '-', '_' or '.': [profile NAME]"},
        {"[default\n", "cfg:1: a section is [default] or [profile NAME]"},
        {"[]\n", "cfg:1: unknown section \"[]\" (expected [default] or [profile NAME])"},
        {"[default]\nserver =\n", "cfg:2: empty value for \"server\""},
        {"[default]\ntenant = \"\"\n", "cfg:2: empty value for \"tenant\""},
        {"[default]\njust words\n", "cfg:2: expected \"key = value\", [default] or [profile NAME]"},
        {"[default]\nserver = http://x\xff\n", "cfg:2: not UTF-8 text"},
        {"[default]\napi_key = a\x01z\n", "cfg:2: control character in a value"},
    };
    fv_arena a;
    fv_arena_init(&a, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fv_cli_config c;
        fv_error e;
        fv_error_clear(&e);
        fv_err rc = fv_cli_config_parse(&a, "cfg", cases[i].text, strlen(cases[i].text), &c, &e);
        FV_ASSERT_INT_EQ(rc, FV_E_INVALID);
        FV_ASSERT_STR_EQ(e.msg, cases[i].message);
    }
    fv_arena_release(&a);
}

static void test_cli_args__config_file_load_missing_unreadable_and_mode(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    char *dir = temp_dir();
    char path[512];
    fv_cli_config c;
    fv_error e;
    bool found = true;

    snprintf(path, sizeof path, "%s/flovyn/config", dir);
    FV_ASSERT_INT_EQ(fv_cli_config_load(&a, path, &c, &found, &e), FV_OK);
    CU_ASSERT(!found);
    FV_ASSERT_INT_EQ(c.n, 0);

    /* A directory where the file should be. */
    snprintf(path, sizeof path, "%s/flovyn", dir);
    mkdir(path, 0700);
    FV_ASSERT_INT_EQ(fv_cli_config_load(&a, path, &c, &found, &e), FV_E_INVALID);
    char want[600];
    snprintf(want, sizeof want, "could not read %s: not a regular file", path);
    FV_ASSERT_STR_EQ(e.msg, want);

    char *file = write_config(dir, "", "[default]\napi_key = k\n", 0644);
    FV_ASSERT_INT_EQ(fv_cli_config_load(&a, file, &c, &found, &e), FV_OK);
    CU_ASSERT(found);
    CU_ASSERT(!c.private_mode);
    CU_ASSERT_FATAL(chmod(file, 0600) == 0);
    FV_ASSERT_INT_EQ(fv_cli_config_load(&a, file, &c, &found, &e), FV_OK);
    CU_ASSERT(c.private_mode);

    write_file(file, "[default]\nbogus = 1\n", 0600);
    FV_ASSERT_INT_EQ(fv_cli_config_load(&a, file, &c, &found, &e), FV_E_INVALID);
    snprintf(want, sizeof want, "%s:2: unknown key \"bogus\" (expected server, tenant or api_key)",
             file);
    FV_ASSERT_STR_EQ(e.msg, want);

    fv_free(file);
    rm_tree(dir);
    fv_arena_release(&a);
}

/* ---------------------------------------------------------------------- */
/* Precedence                                                             */
/* ---------------------------------------------------------------------- */

static const char config_text[] = "[default]\n"
                                  "server = http://config-default:1\n"
                                  "tenant = cfg-tenant\n"
                                  "api_key = cfg-key\n"
                                  "\n"
                                  "[profile prod]\n"
                                  "server = https://prod.example\n"
                                  "api_key = prod-key\n";

static fv_err resolve(fv_arena *a, const fake_env *env, fv_cli_settings *s, fv_error *e, ...)
{
    char *argv[64];
    va_list ap;
    va_start(ap, e);
    int argc = make_argv(argv, 64, ap);
    va_end(ap);
    fv_cli_args args;
    fv_err rc = fv_cli_args_parse(a, argc, argv, &args, e);
    CU_ASSERT_FATAL(rc == FV_OK);
    fv_error_clear(e);
    return fv_cli_settings_resolve(a, &args, fake_getenv, (void *)(uintptr_t)env, s, e);
}

static void test_cli_args__flag_beats_env_beats_config_beats_default(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    char *dir = temp_dir();
    char *file = write_config(dir, "", config_text, 0600);
    char from[600];
    fv_cli_settings s;
    fv_error e;

    /* Nothing anywhere: the defaults, and no key. */
    fake_env none = {{NULL}};
    FV_ASSERT_INT_EQ(resolve(&a, &none, &s, &e, "workers", "list", END), FV_OK);
    FV_ASSERT_STR_EQ(s.server, "http://localhost:8000");
    FV_ASSERT_STR_EQ(s.server_from, "default");
    FV_ASSERT_STR_EQ(s.tenant, "default");
    CU_ASSERT_PTR_NULL(s.api_key);
    CU_ASSERT_PTR_NULL(s.api_key_from);
    FV_ASSERT_STR_EQ(s.profile, "default");
    CU_ASSERT_PTR_NULL(s.config_path);

    /* The config file's [default]. */
    fake_env cfg = {{"XDG_CONFIG_HOME", dir, NULL}};
    FV_ASSERT_INT_EQ(resolve(&a, &cfg, &s, &e, "workers", "list", END), FV_OK);
    FV_ASSERT_STR_EQ(s.config_path, file);
    CU_ASSERT(s.config_found);
    FV_ASSERT_STR_EQ(s.server, "http://config-default:1");
    snprintf(from, sizeof from, "%s:2", file);
    FV_ASSERT_STR_EQ(s.server_from, from);
    FV_ASSERT_STR_EQ(s.tenant, "cfg-tenant");
    FV_ASSERT_STR_EQ(s.api_key, "cfg-key");
    snprintf(from, sizeof from, "%s:4", file);
    FV_ASSERT_STR_EQ(s.api_key_from, from);
    FV_ASSERT_STR_EQ(s.warning, "");

    /* The environment beats the file; an empty variable counts as unset. */
    fake_env env = {{"XDG_CONFIG_HOME", dir, "FLOVYN_SERVER", "http://env:2", "FLOVYN_TENANT", "",
                     "FLOVYN_API_KEY", "env-key", NULL}};
    FV_ASSERT_INT_EQ(resolve(&a, &env, &s, &e, "workers", "list", END), FV_OK);
    FV_ASSERT_STR_EQ(s.server, "http://env:2");
    FV_ASSERT_STR_EQ(s.server_from, "FLOVYN_SERVER");
    FV_ASSERT_STR_EQ(s.tenant, "cfg-tenant");
    FV_ASSERT_STR_EQ(s.api_key, "env-key");
    FV_ASSERT_STR_EQ(s.api_key_from, "FLOVYN_API_KEY");

    /* Flags beat both, before or after the command. */
    FV_ASSERT_INT_EQ(resolve(&a, &env, &s, &e, "--server", "http://flag:3", "workers", "list",
                             "--tenant", "flag-tenant", "--api-key", "flag-key", END),
                     FV_OK);
    FV_ASSERT_STR_EQ(s.server, "http://flag:3");
    FV_ASSERT_STR_EQ(s.server_from, "--server");
    FV_ASSERT_STR_EQ(s.tenant, "flag-tenant");
    FV_ASSERT_STR_EQ(s.tenant_from, "--tenant");
    FV_ASSERT_STR_EQ(s.api_key, "flag-key");

    fv_free(file);
    rm_tree(dir);
    fv_arena_release(&a);
}

static void test_cli_args__profiles_from_flag_or_env_and_their_errors(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    char *dir = temp_dir();
    char *file = write_config(dir, "/.config", config_text, 0600);
    fv_cli_settings s;
    fv_error e;
    char want[700];

    /* HOME/.config when XDG_CONFIG_HOME is unset or not absolute. */
    fake_env home = {{"HOME", dir, "XDG_CONFIG_HOME", "relative/dir", NULL}};
    FV_ASSERT_INT_EQ(resolve(&a, &home, &s, &e, "--profile", "prod", "workers", "list", END),
                     FV_OK);
    FV_ASSERT_STR_EQ(s.config_path, file);
    FV_ASSERT_STR_EQ(s.profile, "prod");
    FV_ASSERT_STR_EQ(s.server, "https://prod.example");
    FV_ASSERT_STR_EQ(s.api_key, "prod-key");
    /* A profile does not inherit from [default]. */
    FV_ASSERT_STR_EQ(s.tenant, "default");
    FV_ASSERT_STR_EQ(s.tenant_from, "default");

    fake_env env_profile = {{"HOME", dir, "FLOVYN_PROFILE", "prod", NULL}};
    FV_ASSERT_INT_EQ(resolve(&a, &env_profile, &s, &e, "workers", "list", END), FV_OK);
    FV_ASSERT_STR_EQ(s.server, "https://prod.example");

    /* --profile beats FLOVYN_PROFILE. */
    fake_env env_nope = {{"HOME", dir, "FLOVYN_PROFILE", "nope", NULL}};
    FV_ASSERT_INT_EQ(resolve(&a, &env_nope, &s, &e, "workers", "list", "--profile", "default", END),
                     FV_OK);
    FV_ASSERT_STR_EQ(s.server, "http://config-default:1");

    FV_ASSERT_INT_EQ(resolve(&a, &env_nope, &s, &e, "workers", "list", END), FV_E_INVALID);
    snprintf(want, sizeof want, "profile \"nope\" (FLOVYN_PROFILE) is not in %s", file);
    FV_ASSERT_STR_EQ(e.msg, want);

    fake_env home_only = {{"HOME", dir, NULL}};
    FV_ASSERT_INT_EQ(
        resolve(&a, &home_only, &s, &e, "--profile", "staging", "workers", "list", END),
        FV_E_INVALID);
    snprintf(want, sizeof want, "profile \"staging\" (--profile) is not in %s", file);
    FV_ASSERT_STR_EQ(e.msg, want);

    /* An explicit profile needs the file; the default profile does not. */
    fake_env elsewhere = {{"XDG_CONFIG_HOME", "/nonexistent/fv-test", NULL}};
    FV_ASSERT_INT_EQ(resolve(&a, &elsewhere, &s, &e, "--profile", "prod", "workers", "list", END),
                     FV_E_INVALID);
    FV_ASSERT_STR_EQ(e.msg, "profile \"prod\" (--profile): /nonexistent/fv-test/flovyn/config "
                            "does not exist");
    FV_ASSERT_INT_EQ(resolve(&a, &elsewhere, &s, &e, "workers", "list", END), FV_OK);
    CU_ASSERT(!s.config_found);

    fake_env nothing = {{NULL}};
    FV_ASSERT_INT_EQ(resolve(&a, &nothing, &s, &e, "--profile", "prod", "workers", "list", END),
                     FV_E_INVALID);
    FV_ASSERT_STR_EQ(e.msg, "profile \"prod\" (--profile): there is no config file (set HOME or "
                            "XDG_CONFIG_HOME)");

    fv_free(file);
    rm_tree(dir);
    fv_arena_release(&a);
}

static void test_cli_args__bad_server_urls_name_their_source(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    char *dir = temp_dir();
    char *file = write_config(dir, "", "[default]\n\nserver = localhost:8000\n", 0600);
    fv_cli_settings s;
    fv_error e;
    char want[700];

    fake_env cfg = {{"XDG_CONFIG_HOME", dir, NULL}};
    FV_ASSERT_INT_EQ(resolve(&a, &cfg, &s, &e, "workers", "list", END), FV_E_INVALID);
    snprintf(want, sizeof want, "%s:3: \"localhost:8000\" is not an http:// or https:// URL", file);
    FV_ASSERT_STR_EQ(e.msg, want);

    fake_env env = {{"FLOVYN_SERVER", "ftp://x", NULL}};
    FV_ASSERT_INT_EQ(resolve(&a, &env, &s, &e, "workers", "list", END), FV_E_INVALID);
    FV_ASSERT_STR_EQ(e.msg, "FLOVYN_SERVER: \"ftp://x\" is not an http:// or https:// URL");

    FV_ASSERT_INT_EQ(resolve(&a, &env, &s, &e, "--server", "http://", "workers", "list", END),
                     FV_E_INVALID);
    FV_ASSERT_STR_EQ(e.msg, "--server: \"http://\" is not an http:// or https:// URL");

    FV_ASSERT_INT_EQ(resolve(&a, &env, &s, &e, "--server", "HTTPS://Flovyn.Example:8443/",
                             "workers", "list", END),
                     FV_OK);

    fv_free(file);
    rm_tree(dir);
    fv_arena_release(&a);
}

static void test_cli_args__a_key_in_a_file_others_can_read_is_warned_about(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    char *dir = temp_dir();
    char *file = write_config(dir, "", config_text, 0644);
    fv_cli_settings s;
    fv_error e;
    char want[700];

    fake_env cfg = {{"XDG_CONFIG_HOME", dir, NULL}};
    FV_ASSERT_INT_EQ(resolve(&a, &cfg, &s, &e, "workers", "list", END), FV_OK);
    snprintf(want, sizeof want,
             "warning: %s holds an API key and other users can read it (chmod 600 %s)", file, file);
    FV_ASSERT_STR_EQ(s.warning, want);

    /* Through the whole command: the warning on stderr, then on with the
     * command (here to a server that is not there). */
    fake_env cfg_down = {{"XDG_CONFIG_HOME", dir, "FLOVYN_SERVER", "http://127.0.0.1:9", NULL}};
    result r = run(&cfg_down, "workers", "list", END);
    FV_ASSERT_INT_EQ(r.status, FV_CLI_EXIT_FAILED);
    snprintf(want, sizeof want, "flovyn: warning: %s holds an API key", file);
    CU_ASSERT(starts_with(r.err, want));
    result_release(&r);

    /* The key is not in this profile: nothing to warn about. */
    write_file(file, "[default]\nserver = http://x\n", 0644);
    FV_ASSERT_INT_EQ(resolve(&a, &cfg, &s, &e, "workers", "list", END), FV_OK);
    FV_ASSERT_STR_EQ(s.warning, "");

    fv_free(file);
    rm_tree(dir);
    fv_arena_release(&a);
}

static void test_cli_args__configuration_errors_exit_2_without_a_request(void)
{
    char *dir = temp_dir();
    char *file = write_config(dir, "", "[default]\nserver = http://x\nsever = typo\n", 0600);
    char want[700];

    fake_env cfg = {{"XDG_CONFIG_HOME", dir, NULL}};
    result r = run(&cfg, "workers", "list", END);
    FV_ASSERT_INT_EQ(r.status, FV_CLI_EXIT_USAGE);
    FV_ASSERT_STR_EQ(r.out, "");
    snprintf(want, sizeof want,
             "flovyn: %s:3: unknown key \"sever\" (expected server, tenant or api_key)\n", file);
    FV_ASSERT_STR_EQ(r.err, want);
    result_release(&r);

    /* No key anywhere: say how to give one. */
    write_file(file, "[default]\nserver = http://x\n", 0600);
    r = run(&cfg, "workers", "list", END);
    FV_ASSERT_INT_EQ(r.status, FV_CLI_EXIT_USAGE);
    snprintf(want, sizeof want,
             "flovyn: no API key: give --api-key KEY, set FLOVYN_API_KEY, or put \"api_key = "
             "KEY\" under [default] in %s (flovyn-server serve --dev prints an operator key)\n",
             file);
    FV_ASSERT_STR_EQ(r.err, want);
    result_release(&r);

    fake_env prod = {{"XDG_CONFIG_HOME", dir, NULL}};
    write_file(file, "[profile prod]\nserver = http://x\n", 0600);
    r = run(&prod, "--profile", "prod", "tasks", "definitions", END);
    FV_ASSERT_INT_EQ(r.status, FV_CLI_EXIT_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "under [profile prod] in "));
    result_release(&r);

    /* A key from the environment that would break the header line. */
    fake_env bad_key = {{"FLOVYN_API_KEY", "k\r\nX-Injected: 1", NULL}};
    r = run(&bad_key, "workers", "list", END);
    FV_ASSERT_INT_EQ(r.status, FV_CLI_EXIT_USAGE);
    FV_ASSERT_STR_EQ(r.err, "flovyn: the API key contains a control character\n");
    result_release(&r);

    fv_free(file);
    rm_tree(dir);
}

/* ---------------------------------------------------------------------- */
/* PATCH body                                                             */
/* ---------------------------------------------------------------------- */

/* The body for `flovyn workflows configure k <flags...>` as sorted compact
 * JSON. */
static char *body_for(fv_arena *a, ...)
{
    char *argv[64];
    argv[0] = (char *)(uintptr_t) "flovyn";
    argv[1] = (char *)(uintptr_t) "workflows";
    argv[2] = (char *)(uintptr_t) "configure";
    argv[3] = (char *)(uintptr_t) "k";
    int argc = 4;
    va_list ap;
    va_start(ap, a);
    const char *s;
    while ((s = va_arg(ap, const char *)) != NULL)
        argv[argc++] = (char *)(uintptr_t)s;
    va_end(ap);
    argv[argc] = NULL;
    fv_cli_args args;
    fv_error e;
    CU_ASSERT_FATAL(fv_cli_args_parse(a, argc, argv, &args, &e) == FV_OK);
    json_t *body = NULL;
    CU_ASSERT_FATAL(fv_cli_patch_body(&args, &body, &e) == FV_OK);
    size_t n = json_dumpb(body, NULL, 0, JSON_COMPACT | JSON_SORT_KEYS);
    char *text = fv_arena_alloc(a, n + 1);
    json_dumpb(body, text, n, JSON_COMPACT | JSON_SORT_KEYS);
    text[n] = '\0';
    json_decref(body);
    return text;
}

static void test_cli_args__patch_body_has_only_the_settings_given(void)
{
    fv_arena a;
    fv_arena_init(&a, 0);
    FV_ASSERT_STR_EQ(body_for(&a, "--timeout", "600", END), "{\"timeoutSeconds\":600}");
    FV_ASSERT_STR_EQ(body_for(&a, "--timeout", "none", END), "{\"timeoutSeconds\":null}");
    FV_ASSERT_STR_EQ(body_for(&a, "--max-retries", "3", END),
                     "{\"retryPolicy\":{\"maxRetries\":3}}");
    FV_ASSERT_STR_EQ(body_for(&a, "--max-retries", "0", END),
                     "{\"retryPolicy\":{\"maxRetries\":0}}");
    FV_ASSERT_STR_EQ(body_for(&a, "--max-retries", "none", END), "{\"retryPolicy\":null}");
    FV_ASSERT_STR_EQ(body_for(&a, "--tags", "billing,eu", END), "{\"tags\":[\"billing\",\"eu\"]}");
    FV_ASSERT_STR_EQ(body_for(&a, "--tags", "", END), "{\"tags\":[]}");
    FV_ASSERT_STR_EQ(body_for(&a, "--tags", "none", END), "{\"tags\":null}");
    FV_ASSERT_STR_EQ(body_for(&a, "--tags", "été", END), "{\"tags\":[\"été\"]}");
    FV_ASSERT_STR_EQ(body_for(&a, "--tags", "a", "--timeout", "5", "--max-retries", "10", END),
                     "{\"retryPolicy\":{\"maxRetries\":10},\"tags\":[\"a\"],\"timeoutSeconds\":5}");
    /* Values the server refuses (out of range) are its business: sent as
     * given, answered 400, shown with exit 1. */
    FV_ASSERT_STR_EQ(body_for(&a, "--max-retries", "11", END),
                     "{\"retryPolicy\":{\"maxRetries\":11}}");
    fv_arena_release(&a);
}

/* ---------------------------------------------------------------------- */
/* Nobody at the server address                                           */
/* ---------------------------------------------------------------------- */

static void test_cli_args__connection_refused_says_what_to_check_and_exits_1(void)
{
    /* A socket bound but not listening: its port refuses connections and
     * nobody else can take it during the test. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CU_ASSERT_FATAL(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    socklen_t len = sizeof sa;
    CU_ASSERT_FATAL(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
    char server[64], want[300];
    snprintf(server, sizeof server, "http://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    snprintf(want, sizeof want,
             "flovyn: could not connect to %s: Connection refused; is flovyn-server running? "
             "(--server / FLOVYN_SERVER)\n",
             server);

    fake_env env = {{"FLOVYN_SERVER", server, "FLOVYN_API_KEY", "k", NULL}};
    const char *commands[][4] = {
        {"workers", "list", NULL, NULL},
        {"workers", "get", WORKER_ID, NULL},
        {"workflows", "definitions", NULL, NULL},
        {"tasks", "definitions", "send-email", NULL},
        {"tasks", "configure", "send-email", "--timeout=5"},
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        result r = run(&env, commands[i][0], commands[i][1], commands[i][2], commands[i][3], END);
        FV_ASSERT_INT_EQ(r.status, FV_CLI_EXIT_FAILED);
        FV_ASSERT_STR_EQ(r.out, "");
        FV_ASSERT_STR_EQ(r.err, want);
        result_release(&r);
    }

    /* --watch: a first failure ends it the same way. */
    result r = run(&env, "workers", "list", "--watch", END);
    FV_ASSERT_INT_EQ(r.status, FV_CLI_EXIT_FAILED);
    FV_ASSERT_STR_EQ(r.err, want);
    result_release(&r);
    close(fd);
}

static const fv_test_case cases[] = {
    FV_TEST_CASE(test_cli_args__global_flags_before_or_after_the_command_mean_the_same),
    FV_TEST_CASE(test_cli_args__every_command_with_its_arguments),
    FV_TEST_CASE(test_cli_args__bad_input_is_a_usage_error_naming_what_is_wrong),
    FV_TEST_CASE(test_cli_args__usage_errors_exit_2_with_the_commands_usage_on_stderr),
    FV_TEST_CASE(test_cli_args__help_and_version_print_on_stdout_and_exit_0),
    FV_TEST_CASE(test_cli_args__config_file_profiles_comments_quotes_and_crlf),
    FV_TEST_CASE(test_cli_args__config_file_errors_name_file_and_line),
    FV_TEST_CASE(test_cli_args__config_file_load_missing_unreadable_and_mode),
    FV_TEST_CASE(test_cli_args__flag_beats_env_beats_config_beats_default),
    FV_TEST_CASE(test_cli_args__profiles_from_flag_or_env_and_their_errors),
    FV_TEST_CASE(test_cli_args__bad_server_urls_name_their_source),
    FV_TEST_CASE(test_cli_args__a_key_in_a_file_others_can_read_is_warned_about),
    FV_TEST_CASE(test_cli_args__configuration_errors_exit_2_without_a_request),
    FV_TEST_CASE(test_cli_args__patch_body_has_only_the_settings_given),
    FV_TEST_CASE(test_cli_args__connection_refused_says_what_to_check_and_exits_1),
};

int main(void)
{
    /* As cli/main.c does before anything else (libcurl's global init). */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return EXIT_FAILURE;
    int status = fv_test_run("cli_args", cases, FV_TEST_COUNT(cases));
    curl_global_cleanup();
    return status;
}
