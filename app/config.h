/*
 * The command line and environment of flovyn-server: which command to run
 * and, for `serve`, every setting. Each option of serve has an environment
 * variable FLOVYN_<NAME>; a flag beats the environment, which beats the
 * default. Parsing is strict: a value that is not exactly what the option
 * takes is an error naming the option (or the variable) and the value, never
 * a silent default.
 *
 * Nothing here touches process state: the environment is read through a
 * callback, so tests give their own.
 */
#ifndef FV_APP_CONFIG_H
#define FV_APP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "app/log.h"
#include "core/tenant.h"
#include "core/util/error.h"
#include "core/worker.h"

/* "HOST:PORT" as given, at most this many bytes (host names are at most 253;
 * bracketed IPv6 literals and the port fit). */
#define FV_APP_LISTEN_MAX 300

/* Text of a duration as fv_app_duration_format writes it. */
#define FV_APP_DURATION_STR_MAX 32

typedef enum fv_app_command {
    FV_APP_CMD_SERVE,
    FV_APP_CMD_HELP,          /* print fv_app_usage, exit 0 */
    FV_APP_CMD_VERSION,       /* print the version, exit 0 */
    FV_APP_CMD_MIGRATE,       /* apply pending migrations, report */
    FV_APP_CMD_TENANT_CREATE, /* tenant create <slug> [--name NAME] */
    FV_APP_CMD_KEY_CREATE,    /* key create --tenant SLUG --role ROLE [--name NAME] */
    FV_APP_CMD_KEY_LIST,      /* key list --tenant SLUG */
    FV_APP_CMD_KEY_REVOKE,    /* key revoke --tenant SLUG <key-id> */
} fv_app_command;

typedef enum fv_app_storage {
    FV_APP_STORAGE_MEMORY = 1,   /* --memory */
    FV_APP_STORAGE_POSTGRES = 2, /* --database-url */
} fv_app_storage;

/* Default and upper bound of --poll-timeout-max, in seconds. */
#define FV_APP_POLL_TIMEOUT_MAX_DEFAULT 60
/* gRPC threads when --grpc-threads is not given on PostgreSQL: handlers wait
 * on the database there, and the pool has 8 connections by default. */
#define FV_APP_GRPC_THREADS_POSTGRES  8
#define FV_APP_POLL_TIMEOUT_MAX_LIMIT 3600

/* Default of --db-pool-size. */
#define FV_APP_DB_POOL_SIZE_DEFAULT 8

typedef struct fv_app_config {
    fv_app_command command;
    /* Serve settings; strings are borrowed from argv or the environment. */
    fv_app_storage storage;
    const char *database_url; /* NULL unless storage is POSTGRES */
    const char *grpc_listen;  /* validated HOST:PORT */
    const char *http_listen;  /* validated HOST:PORT, kept for the REST API */
    fv_liveness liveness;     /* valid (fv_liveness_validate) */
    int64_t activate_interval_ms;
    int64_t stale_interval_ms;
    int64_t availability_interval_ms;
    int64_t retention_interval_ms;
    int grpc_threads;
    /* The longest a PollTask is parked, in seconds (0..3600; 0: never). */
    int64_t poll_timeout_max_s;
    int64_t shutdown_grace_ms;
    fv_app_log_level log_level;
    bool dev;
    const char *credentials_file; /* NULL when not given; only with dev */
    int db_pool_size;             /* connections of the PostgreSQL pool */
    bool migrate;                 /* serve: apply migrations at start (not --no-migrate) */
    /* The database commands (migrate, tenant, key): database_url is set
     * (storage POSTGRES) and these as the command takes them. */
    const char *tenant_slug; /* tenant create <slug>; key --tenant SLUG */
    const char *name;        /* --name, NULL when not given */
    fv_role role;            /* key create --role */
    const char *key_id;      /* key revoke <key-id>: a UUID, checked */
} fv_app_config;

/* How the parser reads one environment variable: its value, or NULL when it
 * is not set. An empty value counts as not set. */
typedef const char *(*fv_app_getenv_fn)(void *user, const char *name);

/*
 * Parse argv (argv[0] is the program name) and the environment into *out.
 *
 *   flovyn-server serve [options]      command SERVE, every setting checked
 *   flovyn-server serve --help         command HELP
 *   flovyn-server --help | -h | help   command HELP
 *   flovyn-server version | --version  command VERSION
 *   flovyn-server migrate              command MIGRATE
 *   flovyn-server tenant create SLUG [--name NAME]
 *   flovyn-server key create --tenant SLUG --role worker|operator|admin [--name NAME]
 *   flovyn-server key list --tenant SLUG
 *   flovyn-server key revoke --tenant SLUG KEY-ID
 *
 * Each command takes only its own options (an option of serve given to
 * `key list` is an error); the database commands take --database-url (or
 * FLOVYN_DATABASE_URL, DATABASE_URL), which they require, and --log-level.
 *
 * Returns FV_OK, or FV_E_INVALID with a message fit to print after
 * "flovyn-server: ", naming the option or variable and the value, e.g.
 * `--offline-after: "abc" is not a duration (e.g. 60s, 5m, 24h)`. The
 * caller exits with status 2 on error. argv and the strings returned by
 * getenv must outlive *out (it borrows them). getenv may be NULL (no
 * environment).
 *
 * Storage of serve: --memory or --database-url (also from the environment);
 * the one given at the higher level (flag over environment) wins, two at the
 * same level are an error, none is an error.
 */
fv_err fv_app_config_parse(int argc, char *const *argv, fv_app_getenv_fn getenv, void *env_user,
                           fv_app_config *out, fv_error *err);

/* The full help: usage, commands, every option with its variable and
 * default. */
void fv_app_usage(FILE *out);

/* The version of this build ("0.1.0"). Static storage. */
const char *fv_app_version(void);

/*
 * A duration: one or more <number><unit> pairs ("90s", "1h30m", "250ms";
 * units ms, s, m, h, d), or "0". No sign, no spaces, no fractions. *ms gets
 * the total in milliseconds. Returns false (ms untouched) for anything else,
 * including totals beyond 100 years.
 */
bool fv_app_duration_parse(const char *s, int64_t *ms);

/* The shortest text of a duration in the units above ("45s", "1m", "24h",
 * "1m30s", "0"); ms must be >= 0. Returns out. */
const char *fv_app_duration_format(int64_t ms, char out[FV_APP_DURATION_STR_MAX]);

/*
 * "HOST:PORT": HOST a name or IPv4 address ([A-Za-z0-9.-], 1..253 bytes) or
 * a bracketed IPv6 literal ("[::1]"), PORT a decimal 0..65535 (0 = any free
 * port) without sign or leading zeros. On success the host (brackets kept)
 * goes into host (NUL-terminated, host_cap bytes at most) and the port into
 * *port; host may be NULL to only validate.
 */
bool fv_app_listen_parse(const char *s, char *host, size_t host_cap, int *port);

#endif
