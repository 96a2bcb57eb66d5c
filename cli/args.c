/*
 * Argument parsing of `flovyn` (see args.h): one table of commands, one of
 * flags, and the usage texts next to them so that they change together.
 */
#include "cli/args.h"

#include <ctype.h>
#include <string.h>

#include "core/util/utf8.h"
#include "core/util/uuid.h"

/* ---- Usage texts -------------------------------------------------------- */

#define GLOBAL_FLAGS_LINE                                                                          \
    "Global flags: --server URL, --tenant SLUG, --api-key KEY, --profile NAME,\n"                  \
    "-o table|json (flovyn --help tells more).\n"

static const char usage_main[] =
    "Usage: flovyn [global flags] <command> [flags]\n"
    "\n"
    "Discover the workers, workflow definitions and task definitions of a\n"
    "flovyn-server through its REST API.\n"
    "\n"
    "Commands:\n"
    "  workers list [--type T] [--status S] [--limit N] [--offset N] [--watch]\n"
    "                                  list workers with their effective status\n"
    "  workers get <worker-id>         one worker with its workflow and task capabilities\n"
    "  workflows definitions [<kind>]  list workflow definitions, or show one\n"
    "  workflows configure <kind> [--timeout SECONDS|none] [--max-retries N|none]\n"
    "                             [--tags a,b|none]\n"
    "                                  set operator overrides (none: clear one)\n"
    "  tasks definitions [<kind>]      list task definitions, or show one\n"
    "  tasks configure <kind> [...]    as workflows configure\n"
    "\n"
    "Global flags (before or after the command):\n"
    "  --server URL      REST address of flovyn-server (env FLOVYN_SERVER;\n"
    "                    default http://localhost:8000)\n"
    "  --tenant SLUG     tenant (env FLOVYN_TENANT; default \"default\")\n"
    "  --api-key KEY     API key, an operator key for configure (env FLOVYN_API_KEY)\n"
    "  --profile NAME    profile of the config file (env FLOVYN_PROFILE; default \"default\")\n"
    "  -o, --output FMT  table (default) or json (the server's JSON, unchanged)\n"
    "  -h, --help        this help; `flovyn <command> --help` for one command\n"
    "  --version         print the version\n"
    "\n"
    "Config file: $XDG_CONFIG_HOME/flovyn/config, else ~/.config/flovyn/config\n"
    "\n"
    "  # comments start with # or ;\n"
    "  [default]\n"
    "  server = http://localhost:8000\n"
    "  tenant = default\n"
    "  api_key = flovyn_sk_...\n"
    "\n"
    "  [profile prod]\n"
    "  server = https://flovyn.example.com\n"
    "  tenant = acme\n"
    "  api_key = flovyn_sk_...\n"
    "\n"
    "  Keys: server, tenant, api_key (a value may be in double quotes). [default]\n"
    "  is used unless --profile or FLOVYN_PROFILE names another; a profile does\n"
    "  not inherit from [default]. The file holds keys: keep it private (chmod 600).\n"
    "\n"
    "Precedence: flag > environment > config file > default.\n"
    "Exit status: 0 success, 1 the server or the network said no, 2 usage or\n"
    "configuration error.\n";

static const char usage_workers[] =
    "Usage: flovyn workers <command> [flags]\n"
    "\n"
    "Commands:\n"
    "  list [--type T] [--status S] [--limit N] [--offset N] [--watch]\n"
    "  get <worker-id>\n"
    "\n"
    "`flovyn workers <command> --help` tells more.\n" GLOBAL_FLAGS_LINE;

static const char usage_workflows[] =
    "Usage: flovyn workflows <command> [flags]\n"
    "\n"
    "Commands:\n"
    "  definitions [<kind>]\n"
    "  configure <kind> [--timeout SECONDS|none] [--max-retries N|none] [--tags a,b|none]\n"
    "\n"
    "`flovyn workflows <command> --help` tells more.\n" GLOBAL_FLAGS_LINE;

static const char usage_tasks[] =
    "Usage: flovyn tasks <command> [flags]\n"
    "\n"
    "Commands:\n"
    "  definitions [<kind>]\n"
    "  configure <kind> [--timeout SECONDS|none] [--max-retries N|none] [--tags a,b|none]\n"
    "\n"
    "`flovyn tasks <command> --help` tells more.\n" GLOBAL_FLAGS_LINE;

static const char usage_workers_list[] =
    "Usage: flovyn workers list [--type WORKFLOW|TASK|UNIFIED] [--status ONLINE|DEGRADED|OFFLINE]\n"
    "                           [--limit N] [--offset N] [--watch]\n"
    "\n"
    "List the workers of the tenant with their effective status and the time of\n"
    "their last heartbeat.\n"
    "\n"
    "  --type T      only workers of type WORKFLOW, TASK or UNIFIED\n"
    "  --status S    only workers whose status is ONLINE, DEGRADED or OFFLINE\n"
    "  --limit N     at most N workers (the server takes 1-100; default 50)\n"
    "  --offset N    skip the first N workers (default 0)\n"
    "  --watch       redraw every 2 s until Ctrl-C\n"
    "\n" GLOBAL_FLAGS_LINE;

static const char usage_workers_get[] =
    "Usage: flovyn workers get <worker-id>\n"
    "\n"
    "Show one worker (its id is a UUID, as `flovyn workers list` shows it) with\n"
    "the workflow and task kinds it can run.\n"
    "\n" GLOBAL_FLAGS_LINE;

static const char usage_workflows_definitions[] =
    "Usage: flovyn workflows definitions [<kind>] [--limit N] [--offset N]\n"
    "\n"
    "Without <kind>, list the workflow definitions of the tenant (100 at a time;\n"
    "--limit and --offset page through more). With <kind>, show that definition:\n"
    "effective settings and where they come from, versions, and the workers that\n"
    "can run it now.\n"
    "\n" GLOBAL_FLAGS_LINE;

static const char usage_tasks_definitions[] =
    "Usage: flovyn tasks definitions [<kind>] [--limit N] [--offset N]\n"
    "\n"
    "Without <kind>, list the task definitions of the tenant (100 at a time;\n"
    "--limit and --offset page through more). With <kind>, show that definition:\n"
    "effective settings and where they come from, and the workers that can run\n"
    "it now.\n"
    "\n" GLOBAL_FLAGS_LINE;

#define CONFIGURE_FLAGS                                                                            \
    "  --timeout SECONDS|none   timeout override in seconds\n"                                     \
    "  --max-retries N|none     retry policy override {\"maxRetries\": N}\n"                       \
    "  --tags a,b|none          tags override (--tags '' sets an empty list)\n"                    \
    "\n"                                                                                           \
    "`none` clears an override, so the value the workers declare applies again.\n"                 \
    "Settings not given are left as they are. Needs an operator (or admin) key.\n"                 \
    "Prints the definition as it is now.\n"                                                        \
    "\n" GLOBAL_FLAGS_LINE

static const char usage_workflows_configure[] =
    "Usage: flovyn workflows configure <kind> [--timeout SECONDS|none] [--max-retries N|none]\n"
    "                                  [--tags a,b|none]\n"
    "\n"
    "Set or clear the operator overrides of a workflow definition.\n"
    "\n" CONFIGURE_FLAGS;

static const char usage_tasks_configure[] =
    "Usage: flovyn tasks configure <kind> [--timeout SECONDS|none] [--max-retries N|none]\n"
    "                              [--tags a,b|none]\n"
    "\n"
    "Set or clear the operator overrides of a task definition.\n"
    "\n" CONFIGURE_FLAGS;

/* ---- Tables ------------------------------------------------------------- */

/* Command flags, one bit each. */
enum {
    F_TYPE = 1u << 0,
    F_STATUS = 1u << 1,
    F_LIMIT = 1u << 2,
    F_OFFSET = 1u << 3,
    F_WATCH = 1u << 4,
    F_TIMEOUT = 1u << 5,
    F_RETRIES = 1u << 6,
    F_TAGS = 1u << 7,
};

/* Global flags (bits apart from the command flags). */
enum {
    G_SERVER = 1u << 16,
    G_TENANT = 1u << 17,
    G_API_KEY = 1u << 18,
    G_PROFILE = 1u << 19,
    G_OUTPUT = 1u << 20,
    G_HELP = 1u << 21,
    G_VERSION = 1u << 22,
};

typedef struct flag_spec {
    const char *name;       /* "--output" */
    const char *short_name; /* "-o", or NULL */
    unsigned bit;
    bool takes_value;
} flag_spec;

static const flag_spec flags[] = {
    {"--server", NULL, G_SERVER, true},    {"--tenant", NULL, G_TENANT, true},
    {"--api-key", NULL, G_API_KEY, true},  {"--profile", NULL, G_PROFILE, true},
    {"--output", "-o", G_OUTPUT, true},    {"--help", "-h", G_HELP, false},
    {"--version", NULL, G_VERSION, false}, {"--type", NULL, F_TYPE, true},
    {"--status", NULL, F_STATUS, true},    {"--limit", NULL, F_LIMIT, true},
    {"--offset", NULL, F_OFFSET, true},    {"--watch", NULL, F_WATCH, false},
    {"--timeout", NULL, F_TIMEOUT, true},  {"--max-retries", NULL, F_RETRIES, true},
    {"--tags", NULL, F_TAGS, true},
};

#define N_FLAGS     (sizeof flags / sizeof flags[0])
#define GLOBAL_BITS (G_SERVER | G_TENANT | G_API_KEY | G_PROFILE | G_OUTPUT | G_HELP | G_VERSION)

typedef struct command_spec {
    fv_cli_command cmd;
    fv_cli_resource res;
    const char *action;
    const char *name;
    unsigned min_args, max_args;
    const char *arg_name; /* for "missing <kind>" */
    unsigned flags;
    const char *usage;
} command_spec;

static const command_spec commands[] = {
    {FV_CLI_CMD_WORKERS_LIST, FV_CLI_RES_WORKERS, "list", "workers list", 0, 0, NULL,
     F_TYPE | F_STATUS | F_LIMIT | F_OFFSET | F_WATCH, usage_workers_list},
    {FV_CLI_CMD_WORKERS_GET, FV_CLI_RES_WORKERS, "get", "workers get", 1, 1, "<worker-id>", 0,
     usage_workers_get},
    {FV_CLI_CMD_WORKFLOWS_DEFINITIONS, FV_CLI_RES_WORKFLOWS, "definitions", "workflows definitions",
     0, 1, NULL, F_LIMIT | F_OFFSET, usage_workflows_definitions},
    {FV_CLI_CMD_WORKFLOWS_CONFIGURE, FV_CLI_RES_WORKFLOWS, "configure", "workflows configure", 1, 1,
     "<kind>", F_TIMEOUT | F_RETRIES | F_TAGS, usage_workflows_configure},
    {FV_CLI_CMD_TASKS_DEFINITIONS, FV_CLI_RES_TASKS, "definitions", "tasks definitions", 0, 1, NULL,
     F_LIMIT | F_OFFSET, usage_tasks_definitions},
    {FV_CLI_CMD_TASKS_CONFIGURE, FV_CLI_RES_TASKS, "configure", "tasks configure", 1, 1, "<kind>",
     F_TIMEOUT | F_RETRIES | F_TAGS, usage_tasks_configure},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const struct {
    const char *name;
    fv_cli_resource res;
    const char *usage;
} resources[] = {
    {"workers", FV_CLI_RES_WORKERS, usage_workers},
    {"workflows", FV_CLI_RES_WORKFLOWS, usage_workflows},
    {"tasks", FV_CLI_RES_TASKS, usage_tasks},
};

#define N_RESOURCES (sizeof resources / sizeof resources[0])

static const command_spec *command_of(fv_cli_command cmd)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (commands[i].cmd == cmd)
            return &commands[i];
    return NULL;
}

static const char *resource_name(fv_cli_resource res)
{
    for (size_t i = 0; i < N_RESOURCES; i++)
        if (resources[i].res == res)
            return resources[i].name;
    return "";
}

const char *fv_cli_usage(const fv_cli_args *args)
{
    const command_spec *c = command_of(args->cmd);
    if (c != NULL)
        return c->usage;
    for (size_t i = 0; i < N_RESOURCES; i++)
        if (resources[i].res == args->res)
            return resources[i].usage;
    return usage_main;
}

const char *fv_cli_command_name(fv_cli_command cmd)
{
    const command_spec *c = command_of(cmd);
    return c != NULL ? c->name : "";
}

/* ---- Values ------------------------------------------------------------- */

/* A decimal integer in [min, 999999999999], digits only. */
static bool parse_number(const char *s, long long min, long long *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 12)
        return false;
    long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min)
        return false;
    *out = v;
    return true;
}

static bool equals_nocase(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++)
        if (toupper((unsigned char)*a) != toupper((unsigned char)*b))
            return false;
    return *a == '\0' && *b == '\0';
}

/* The canonical (upper-case) spelling of s among `values`, or NULL. */
static const char *pick(const char *s, const char *const values[])
{
    for (size_t i = 0; values[i] != NULL; i++)
        if (equals_nocase(s, values[i]))
            return values[i];
    return NULL;
}

static const char *const worker_types[] = {"WORKFLOW", "TASK", "UNIFIED", NULL};
static const char *const worker_statuses[] = {"ONLINE", "DEGRADED", "OFFLINE", NULL};

/* Text that can go into a URL or a JSON string: UTF-8 without control
 * characters. */
static bool plain_text(const char *s)
{
    size_t n = strlen(s);
    if (!fv_utf8_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static fv_err parse_tags(fv_arena *a, const char *flag, const char *v, fv_cli_args *out,
                         fv_error *err)
{
    if (strcmp(v, "none") == 0) {
        out->tags_op = FV_CLI_PATCH_CLEAR;
        out->tags = NULL;
        out->n_tags = 0;
        return FV_OK;
    }
    size_t count = 0;
    if (v[0] != '\0') {
        count = 1;
        for (const char *p = v; *p != '\0'; p++)
            count += *p == ',';
    }
    const char **tags = fv_arena_calloc(a, count > 0 ? count : 1, sizeof *tags);
    if (tags == NULL)
        return fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
    const char *p = v;
    for (size_t i = 0; i < count; i++) {
        const char *end = strchr(p, ',');
        if (end == NULL)
            end = p + strlen(p);
        const char *b = p, *e = end;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (b == e)
            return fv_error_set(err, FV_E_INVALID,
                                "%s: empty tag in \"%.100s\" (tags are separated by commas)", flag,
                                v);
        tags[i] = fv_arena_strndup(a, b, (size_t)(e - b));
        if (tags[i] == NULL)
            return fv_error_set(err, FV_E_EXHAUSTED, "out of memory");
        p = *end == ',' ? end + 1 : end;
    }
    out->tags_op = FV_CLI_PATCH_SET;
    out->tags = tags;
    out->n_tags = count;
    return FV_OK;
}

/* Store the value of one flag. */
static fv_err apply_flag(fv_arena *a, const flag_spec *f, const char *shown, const char *v,
                         fv_cli_args *out, fv_error *err)
{
    if (f->takes_value && f->bit != F_TAGS && v[0] == '\0')
        return fv_error_set(err, FV_E_INVALID, "%s: the value is empty", shown);
    if (f->takes_value && !plain_text(v))
        return fv_error_set(err, FV_E_INVALID,
                            "%s: the value is not UTF-8 text without control characters", shown);
    switch (f->bit) {
    case G_SERVER:
        out->server = v;
        return FV_OK;
    case G_TENANT:
        out->tenant = v;
        return FV_OK;
    case G_API_KEY:
        out->api_key = v;
        return FV_OK;
    case G_PROFILE:
        out->profile = v;
        return FV_OK;
    case G_OUTPUT:
        if (strcmp(v, "table") == 0)
            out->output = FV_CLI_OUTPUT_TABLE;
        else if (strcmp(v, "json") == 0)
            out->output = FV_CLI_OUTPUT_JSON;
        else
            return fv_error_set(err, FV_E_INVALID,
                                "%s: \"%.40s\" is not an output format (table or json)", shown, v);
        out->has_output = true;
        return FV_OK;
    case G_HELP:
        out->help = true;
        return FV_OK;
    case G_VERSION:
        out->version = true;
        return FV_OK;
    case F_TYPE:
        out->type = pick(v, worker_types);
        if (out->type == NULL)
            return fv_error_set(err, FV_E_INVALID,
                                "%s: \"%.40s\" is not a worker type (WORKFLOW, TASK or UNIFIED)",
                                shown, v);
        return FV_OK;
    case F_STATUS:
        out->status = pick(v, worker_statuses);
        if (out->status == NULL)
            return fv_error_set(
                err, FV_E_INVALID,
                "%s: \"%.40s\" is not a worker status (ONLINE, DEGRADED or OFFLINE)", shown, v);
        return FV_OK;
    case F_LIMIT:
        if (!parse_number(v, 1, &out->limit))
            return fv_error_set(err, FV_E_INVALID, "%s: \"%.40s\" is not a positive number", shown,
                                v);
        return FV_OK;
    case F_OFFSET:
        if (!parse_number(v, 0, &out->offset))
            return fv_error_set(err, FV_E_INVALID, "%s: \"%.40s\" is not a number (0 or more)",
                                shown, v);
        return FV_OK;
    case F_WATCH:
        out->watch = true;
        return FV_OK;
    case F_TIMEOUT:
        if (strcmp(v, "none") == 0) {
            out->timeout_op = FV_CLI_PATCH_CLEAR;
            return FV_OK;
        }
        if (!parse_number(v, 1, &out->timeout_seconds))
            return fv_error_set(err, FV_E_INVALID,
                                "%s: \"%.40s\" is not a number of seconds (or none)", shown, v);
        out->timeout_op = FV_CLI_PATCH_SET;
        return FV_OK;
    case F_RETRIES:
        if (strcmp(v, "none") == 0) {
            out->retries_op = FV_CLI_PATCH_CLEAR;
            return FV_OK;
        }
        if (!parse_number(v, 0, &out->max_retries))
            return fv_error_set(err, FV_E_INVALID,
                                "%s: \"%.40s\" is not a number of retries (or none)", shown, v);
        out->retries_op = FV_CLI_PATCH_SET;
        return FV_OK;
    case F_TAGS:
        return parse_tags(a, shown, v, out, err);
    default:
        break;
    }
    return fv_error_set(err, FV_E_INTERNAL, "unhandled flag %s", shown);
}

/* The spec of a flag argument ("--name", "--name=value", "-o", "-ojson",
 * "-o=json"); *inline_value is what follows '=' (or the short flag), NULL
 * when the value is the next argument. */
static const flag_spec *find_flag(fv_arena *a, const char *arg, const char **inline_value,
                                  const char **shown)
{
    *inline_value = NULL;
    *shown = arg;
    if (arg[1] == '-') {
        const char *eq = strchr(arg, '=');
        size_t n = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
        for (size_t i = 0; i < N_FLAGS; i++) {
            if (strlen(flags[i].name) == n && strncmp(flags[i].name, arg, n) == 0) {
                *inline_value = eq != NULL ? eq + 1 : NULL;
                *shown = flags[i].name;
                return &flags[i];
            }
        }
        if (eq != NULL) {
            char *name = fv_arena_strndup(a, arg, n);
            if (name != NULL)
                *shown = name;
        }
        return NULL;
    }
    for (size_t i = 0; i < N_FLAGS; i++) {
        if (flags[i].short_name != NULL && strncmp(arg, flags[i].short_name, 2) == 0) {
            if (arg[2] != '\0')
                *inline_value = arg[2] == '=' ? arg + 3 : arg + 2;
            *shown = flags[i].short_name;
            return &flags[i];
        }
    }
    return NULL;
}

/* ---- Parsing ------------------------------------------------------------ */

fv_err fv_cli_args_parse(fv_arena *a, int argc, char *const argv[], fv_cli_args *out, fv_error *err)
{
    memset(out, 0, sizeof *out);
    out->limit = -1;
    out->offset = -1;
    const command_spec *cmd = NULL;
    const char *extra = NULL; /* the first argument beyond the command's */
    unsigned n_args = 0;
    bool dashdash = false;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!dashdash && strcmp(arg, "--") == 0) {
            dashdash = true;
            continue;
        }
        if (!dashdash && arg[0] == '-' && arg[1] != '\0') {
            const char *value, *shown;
            const flag_spec *f = find_flag(a, arg, &value, &shown);
            bool allowed = f != NULL && ((f->bit & GLOBAL_BITS) != 0 ||
                                         (cmd != NULL && (cmd->flags & f->bit) != 0));
            if (!allowed) {
                if (out->help)
                    continue; /* help wins over anything odd after it */
                if (f != NULL && cmd == NULL)
                    return fv_error_set(err, FV_E_INVALID,
                                        "%s is a flag of a command: put it after the command",
                                        shown);
                if (cmd != NULL)
                    return fv_error_set(err, FV_E_INVALID,
                                        "unknown flag \"%.60s\" for \"flovyn %s\"", shown,
                                        cmd->name);
                return fv_error_set(err, FV_E_INVALID, "unknown flag \"%.60s\"", shown);
            }
            if (f->takes_value && value == NULL) {
                if (i + 1 >= argc)
                    return fv_error_set(err, FV_E_INVALID, "%s needs a value", shown);
                value = argv[++i];
            } else if (!f->takes_value && value != NULL) {
                return fv_error_set(err, FV_E_INVALID, "%s takes no value", shown);
            }
            fv_err rc = apply_flag(a, f, shown, f->takes_value ? value : "", out, err);
            if (rc != FV_OK)
                return rc;
            continue;
        }
        /* A word: the resource, then the command, then its argument. */
        if (out->res == FV_CLI_RES_NONE) {
            for (size_t r = 0; r < N_RESOURCES; r++)
                if (strcmp(arg, resources[r].name) == 0)
                    out->res = resources[r].res;
            if (out->res == FV_CLI_RES_NONE) {
                if (out->help)
                    continue;
                return fv_error_set(err, FV_E_INVALID,
                                    "unknown command \"%.60s\" (workers, workflows or tasks)", arg);
            }
        } else if (cmd == NULL) {
            for (size_t c = 0; c < N_COMMANDS; c++)
                if (commands[c].res == out->res && strcmp(arg, commands[c].action) == 0)
                    cmd = &commands[c];
            if (cmd == NULL) {
                if (out->help)
                    continue;
                return fv_error_set(err, FV_E_INVALID, "unknown command \"flovyn %s %.60s\"",
                                    resource_name(out->res), arg);
            }
            out->cmd = cmd->cmd;
        } else {
            if (n_args == 0)
                out->target = arg;
            else if (extra == NULL)
                extra = arg;
            n_args++;
        }
    }

    if (out->help || out->version)
        return FV_OK;
    if (out->res == FV_CLI_RES_NONE)
        return fv_error_set(err, FV_E_INVALID, "no command given");
    if (cmd == NULL)
        return fv_error_set(err, FV_E_INVALID, "\"flovyn %s\" needs a command",
                            resource_name(out->res));
    if (n_args < cmd->min_args)
        return fv_error_set(err, FV_E_INVALID, "\"flovyn %s\" needs %s", cmd->name, cmd->arg_name);
    if (n_args > cmd->max_args)
        return fv_error_set(err, FV_E_INVALID, "unexpected argument \"%.60s\"",
                            n_args > 1 ? extra : out->target);
    if (out->target != NULL) {
        if (!plain_text(out->target) || out->target[0] == '\0')
            return fv_error_set(err, FV_E_INVALID,
                                "\"%.60s\" is not UTF-8 text without control characters",
                                out->target);
        fv_uuid id;
        if (cmd->cmd == FV_CLI_CMD_WORKERS_GET &&
            !fv_uuid_parse(out->target, strlen(out->target), &id))
            return fv_error_set(err, FV_E_INVALID,
                                "\"%.60s\" is not a worker id (a UUID, as `flovyn workers list` "
                                "shows)",
                                out->target);
    }
    if ((cmd->flags & F_TIMEOUT) != 0 && out->timeout_op == FV_CLI_PATCH_KEEP &&
        out->retries_op == FV_CLI_PATCH_KEEP && out->tags_op == FV_CLI_PATCH_KEEP)
        return fv_error_set(err, FV_E_INVALID,
                            "nothing to configure: give --timeout, --max-retries or --tags");
    if ((cmd->flags & F_LIMIT) != 0 && cmd->cmd != FV_CLI_CMD_WORKERS_LIST && out->target != NULL &&
        (out->limit >= 0 || out->offset >= 0))
        return fv_error_set(err, FV_E_INVALID,
                            "--limit and --offset page the list: they do not go with a kind");
    return FV_OK;
}
