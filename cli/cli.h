/*
 * The `flovyn` command as a function: arguments in, text on two streams and
 * an exit status out (spec/cli.md). cli/main.c is the process around it
 * (library init, signals); tests call it with their own streams,
 * environment and clock.
 *
 * Exit status: 0 success; 1 the server or the network said no (the message
 * on stderr); 2 a usage error (the message and the command's usage on
 * stderr) or a configuration error (bad config file, unknown profile, no
 * API key: the message on stderr).
 */
#ifndef FV_CLI_CLI_H
#define FV_CLI_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "cli/args.h"
#include "cli/config.h"
#include "core/util/error.h"
#include "core/util/time.h"

#define FV_CLI_EXIT_OK     0
#define FV_CLI_EXIT_FAILED 1
#define FV_CLI_EXIT_USAGE  2

#ifndef FV_CLI_VERSION
#define FV_CLI_VERSION "0.0.0"
#endif

/* --watch redraws this often by default. */
#define FV_CLI_WATCH_INTERVAL_MS 2000u

typedef struct fv_cli_io {
    FILE *out;                  /* tables and JSON */
    FILE *err;                  /* messages */
    fv_cli_getenv_fn getenv_fn; /* the environment */
    void *env_user;
    bool out_is_tty; /* --watch clears the screen between frames */
    /* Set (by a SIGINT handler) to end --watch; may be NULL. */
    const volatile sig_atomic_t *stop;
    fv_time (*now)(void);       /* NULL: the real clock */
    unsigned watch_interval_ms; /* 0: FV_CLI_WATCH_INTERVAL_MS */
    unsigned watch_max_frames;  /* 0: until stopped (tests set a few) */
} fv_cli_io;

/* Run `flovyn argv[1..]` and return the exit status. Blocks during requests
 * and --watch. Not thread-safe (one run at a time per process is enough). */
int fv_cli_main(int argc, char *const argv[], const fv_cli_io *io);

/*
 * The body of PATCH .../configuration for the configure flags in args:
 * {"timeoutSeconds": N|null, "retryPolicy": {"maxRetries": N}|null,
 *  "tags": [...]|null}, each member only when its flag was given. *out is a
 * new reference. FV_E_EXHAUSTED; FV_E_INVALID for a tag that is not UTF-8.
 */
fv_err fv_cli_patch_body(const fv_cli_args *args, json_t **out, fv_error *err);

#endif
