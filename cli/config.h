/*
 * Where the CLI's server, tenant and API key come from (spec/cli.md):
 * flag > environment (FLOVYN_SERVER, FLOVYN_TENANT, FLOVYN_API_KEY) > the
 * selected profile of the config file > default.
 *
 * The config file is $XDG_CONFIG_HOME/flovyn/config, else
 * $HOME/.config/flovyn/config, in an INI-like format:
 *
 *     # comment (also ;)
 *     [default]
 *     server = http://localhost:8000
 *     tenant = default
 *     api_key = flovyn_sk_...
 *
 *     [profile prod]
 *     server = "https://flovyn.example.com"
 *
 * Keys are server, tenant and api_key; a value may be in double quotes (no
 * escapes). The profile is --profile, else FLOVYN_PROFILE, else "default"
 * ([default] and [profile default] are the same). A profile does not inherit
 * from [default]. Anything else in the file (an unknown key or section, a
 * key outside a section, a key or profile given twice, an empty value,
 * bytes that are not UTF-8 text) is an error naming file:line, so a typo
 * never goes unnoticed.
 *
 * The environment is read through a function, so that tests can supply
 * their own.
 */
#ifndef FV_CLI_CONFIG_H
#define FV_CLI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "cli/args.h"
#include "core/util/arena.h"
#include "core/util/error.h"

/* getenv(3) in a form tests can replace: the value of `name` or NULL. */
typedef const char *(*fv_cli_getenv_fn)(void *user, const char *name);

typedef struct fv_cli_profile {
    const char *name;                      /* "default" for [default] */
    unsigned line;                         /* of its [header] */
    const char *server, *tenant, *api_key; /* NULL when not set */
    unsigned server_line, tenant_line, api_key_line;
} fv_cli_profile;

typedef struct fv_cli_config {
    const char *path;
    fv_cli_profile *profiles; /* in the arena */
    size_t n;
    bool private_mode; /* the file is not readable by group or others */
} fv_cli_config;

/* Largest config file read. */
#define FV_CLI_CONFIG_MAX ((size_t)1024 * 1024)

/*
 * Parse n bytes of text, the contents of `path` (used in messages). The
 * result lives in `a`. FV_E_INVALID with "path:line: reason" in err;
 * FV_E_EXHAUSTED.
 */
fv_err fv_cli_config_parse(fv_arena *a, const char *path, const char *text, size_t n,
                           fv_cli_config *out, fv_error *err);

/*
 * Read and parse the file at path. A file that does not exist is FV_OK with
 * *found false (and an empty config). Any other failure to read it is
 * FV_E_INVALID ("could not read PATH: reason"), as are parse errors.
 */
fv_err fv_cli_config_load(fv_arena *a, const char *path, fv_cli_config *out, bool *found,
                          fv_error *err);

/* The profile called name, or NULL. */
const fv_cli_profile *fv_cli_config_profile(const fv_cli_config *c, const char *name);

/* The config file's path (in `a`): $XDG_CONFIG_HOME/flovyn/config when that
 * variable is an absolute path, else $HOME/.config/flovyn/config; NULL when
 * neither is set (or memory runs out). */
const char *fv_cli_config_path(fv_arena *a, fv_cli_getenv_fn env, void *env_user);

#define FV_CLI_DEFAULT_SERVER  "http://localhost:8000"
#define FV_CLI_DEFAULT_TENANT  "default"
#define FV_CLI_DEFAULT_PROFILE "default"

typedef struct fv_cli_settings {
    const char *server;  /* never NULL once resolved */
    const char *tenant;  /* never NULL */
    const char *api_key; /* NULL: none anywhere */
    const char *profile; /* never NULL */
    /* Where each came from: "--server", "FLOVYN_SERVER", "PATH:LINE" or
     * "default" (api_key: NULL when none). */
    const char *server_from, *tenant_from, *api_key_from;
    const char *config_path; /* the file looked at; NULL when there is none */
    bool config_found;
    /* A warning to show (""): the file holds a key and others can read it. */
    char warning[320];
} fv_cli_settings;

/*
 * Resolve the settings of one run from the flags in args, the environment
 * and the config file. FV_E_INVALID (a configuration error, exit 2) for a bad
 * config file, a profile that was asked for (flag or FLOVYN_PROFILE) and is
 * not in the file, or a server that is not an http:// or https:// URL (the
 * message names where it came from). Strings live in `a` or come from args
 * and the environment.
 */
fv_err fv_cli_settings_resolve(fv_arena *a, const fv_cli_args *args, fv_cli_getenv_fn env,
                               void *env_user, fv_cli_settings *out, fv_error *err);

#endif
