/*
 * The command line of `flovyn` (spec/cli.md): which command, its arguments
 * and flags, and the global flags, which may come before or after the
 * command (`flovyn --server URL workers list` == `flovyn workers list
 * --server URL`). A command's own flags come after the command. `--` ends
 * the flags (for a kind that starts with '-').
 *
 * Parsing checks everything that can be checked without the server: known
 * commands and flags, the number of arguments, the syntax of every value
 * (numbers, enum values, UUIDs, UTF-8). A failure is a usage error: the
 * caller prints the message and fv_cli_usage() on stderr and exits 2.
 */
#ifndef FV_CLI_ARGS_H
#define FV_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/util/arena.h"
#include "core/util/error.h"

typedef enum fv_cli_resource {
    FV_CLI_RES_NONE = 0,
    FV_CLI_RES_WORKERS,
    FV_CLI_RES_WORKFLOWS,
    FV_CLI_RES_TASKS,
} fv_cli_resource;

typedef enum fv_cli_command {
    FV_CLI_CMD_NONE = 0,
    FV_CLI_CMD_WORKERS_LIST,
    FV_CLI_CMD_WORKERS_GET,
    FV_CLI_CMD_WORKFLOWS_DEFINITIONS,
    FV_CLI_CMD_WORKFLOWS_CONFIGURE,
    FV_CLI_CMD_TASKS_DEFINITIONS,
    FV_CLI_CMD_TASKS_CONFIGURE,
} fv_cli_command;

typedef enum fv_cli_output {
    FV_CLI_OUTPUT_TABLE = 0,
    FV_CLI_OUTPUT_JSON,
} fv_cli_output;

/* What `configure` does with one setting. */
typedef enum fv_cli_patch_op {
    FV_CLI_PATCH_KEEP = 0, /* flag not given: not in the body */
    FV_CLI_PATCH_SET,      /* a value */
    FV_CLI_PATCH_CLEAR,    /* `none`: null, back to what workers declare */
} fv_cli_patch_op;

typedef struct fv_cli_args {
    fv_cli_resource res; /* as far as parsing got, also on failure */
    fv_cli_command cmd;

    /* Global flags; NULL when not given. */
    const char *server;
    const char *tenant;
    const char *api_key;
    const char *profile;
    bool has_output;
    fv_cli_output output;
    bool help;
    bool version;

    /* The argument: the worker id of `workers get`, the kind of
     * `definitions` (NULL: the list) and `configure`. */
    const char *target;

    /* workers list (and --limit/--offset of definitions); NULL / -1 when
     * not given. Enum values are upper-cased. */
    const char *type;
    const char *status;
    long long limit;
    long long offset;
    bool watch;

    /* configure */
    fv_cli_patch_op timeout_op;
    long long timeout_seconds;
    fv_cli_patch_op retries_op;
    long long max_retries;
    fv_cli_patch_op tags_op;
    const char **tags; /* n_tags items, in the arena; may be 0 (--tags '') */
    size_t n_tags;
} fv_cli_args;

/*
 * Parse argv[1] .. argv[argc - 1] into *out. Strings point into argv or `a`.
 * FV_OK, or FV_E_INVALID with a one-line message in err (a usage error;
 * out->res and out->cmd say which usage to print), or FV_E_EXHAUSTED.
 * With --help or --version given, later checks (missing command or argument)
 * are skipped and FV_OK is returned.
 */
fv_err fv_cli_args_parse(fv_arena *a, int argc, char *const argv[], fv_cli_args *out,
                         fv_error *err);

/* The usage of the most specific thing args name: the command's, else the
 * resource's, else the main usage (which documents the config file). Static
 * storage; ends with a newline. */
const char *fv_cli_usage(const fv_cli_args *args);

/* "workers list", "tasks configure", ... ("" for FV_CLI_CMD_NONE). */
const char *fv_cli_command_name(fv_cli_command cmd);

#endif
