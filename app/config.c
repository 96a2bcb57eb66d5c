/*
 * Command line and environment parsing of flovyn-server (config.h). One
 * table describes every option of serve: its flag, its variable, what it
 * takes, its range and its help; the parser, the validation messages and the
 * help text are all driven by it.
 */
#include "app/config.h"

#include <ctype.h>
#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "core/jobs/worker_jobs.h"
#include "core/util/uuid.h"

#ifndef FV_APP_VERSION
#define FV_APP_VERSION "0.0.0-dev"
#endif

#define STR_(x) #x
#define STR(x)  STR_(x)

#define MS_SECOND ((int64_t)1000)
#define MS_MINUTE (60 * MS_SECOND)
#define MS_HOUR   (60 * MS_MINUTE)
#define MS_DAY    (24 * MS_HOUR)
/* Longest duration accepted anywhere (keeps every sum far from overflow). */
#define DURATION_MAX (36525 * MS_DAY)

typedef enum opt_id {
    OPT_MEMORY,
    OPT_DATABASE_URL,
    OPT_GRPC_LISTEN,
    OPT_HTTP_LISTEN,
    OPT_DEGRADED_AFTER,
    OPT_OFFLINE_AFTER,
    OPT_RETENTION,
    OPT_ACTIVATE_INTERVAL,
    OPT_STALE_INTERVAL,
    OPT_AVAILABILITY_INTERVAL,
    OPT_RETENTION_INTERVAL,
    OPT_GRPC_THREADS,
    OPT_POLL_TIMEOUT_MAX,
    OPT_SHUTDOWN_GRACE,
    OPT_LOG_LEVEL,
    OPT_DEV,
    OPT_CREDENTIALS_FILE,
    OPT_DB_POOL_SIZE,
    OPT_NO_MIGRATE,
    OPT_TENANT,
    OPT_ROLE,
    OPT_NAME,
    OPT_SLUG,
    OPT_COUNT
} opt_id;

typedef enum opt_type {
    TYPE_FLAG,     /* no value on the command line; true/false in the environment */
    TYPE_TEXT,     /* any non-empty text */
    TYPE_LISTEN,   /* HOST:PORT */
    TYPE_DURATION, /* fv_app_duration_parse, within [min, max] ms */
    TYPE_INT,      /* decimal, within [min, max] */
    TYPE_LEVEL,    /* a log level name */
    TYPE_ROLE,     /* worker, operator or admin */
} opt_type;

/* Which commands take an option (bits of fv_app_command). */
#define ON(cmd)    (1u << (cmd))
#define ON_SERVE   ON(FV_APP_CMD_SERVE)
#define ON_MIGRATE ON(FV_APP_CMD_MIGRATE)
#define ON_TENANT  ON(FV_APP_CMD_TENANT_CREATE)
#define ON_KEY_NEW ON(FV_APP_CMD_KEY_CREATE)
#define ON_KEYS    (ON(FV_APP_CMD_KEY_CREATE) | ON(FV_APP_CMD_KEY_LIST) | ON(FV_APP_CMD_KEY_REVOKE))
/* Every command that works on a database. */
#define ON_DB (ON_SERVE | ON_MIGRATE | ON_TENANT | ON_KEYS)

typedef struct opt_spec {
    const char *flag;    /* "--grpc-listen" */
    const char *env;     /* "FLOVYN_GRPC_LISTEN" */
    const char *env_alt; /* a second variable read when env is unset, or NULL */
    opt_type type;
    const char *metavar; /* shown after the flag in the help */
    const char *def;     /* default as shown in the help and parsed; NULL = none */
    int64_t min, max;    /* TYPE_DURATION (ms) and TYPE_INT */
    const char *help;
    unsigned cmds; /* the commands that take it (ON_*) */
} opt_spec;

/* Defaults come from the core's constants where the core has them. */
static const char *default_text(opt_id id, char buf[FV_APP_DURATION_STR_MAX]);

static const opt_spec specs[OPT_COUNT] = {
    [OPT_MEMORY] = {"--memory", "FLOVYN_MEMORY", NULL, TYPE_FLAG, NULL, NULL, 0, 0,
                    "keep everything in memory (development and demos; gone at exit)", ON_SERVE},
    [OPT_DATABASE_URL] = {"--database-url", "FLOVYN_DATABASE_URL", "DATABASE_URL", TYPE_TEXT, "URL",
                          NULL, 0, 0, "PostgreSQL connection URL (libpq URI or key=value string)",
                          ON_DB},
    [OPT_GRPC_LISTEN] = {"--grpc-listen", "FLOVYN_GRPC_LISTEN", NULL, TYPE_LISTEN, "HOST:PORT",
                         "127.0.0.1:9090", 0, 0,
                         "where workers connect (gRPC over h2c); port 0 picks a free port",
                         ON_SERVE},
    [OPT_HTTP_LISTEN] = {"--http-listen", "FLOVYN_HTTP_LISTEN", NULL, TYPE_LISTEN, "HOST:PORT",
                         "127.0.0.1:8000", 0, 0,
                         "where the REST API listens; port 0 picks a free port", ON_SERVE},
    [OPT_DEGRADED_AFTER] = {"--degraded-after", "FLOVYN_DEGRADED_AFTER", NULL, TYPE_DURATION,
                            "DURATION", NULL, 1, 365 * MS_DAY,
                            "a worker silent this long reads DEGRADED", ON_SERVE},
    [OPT_OFFLINE_AFTER] = {"--offline-after", "FLOVYN_OFFLINE_AFTER", NULL, TYPE_DURATION,
                           "DURATION", NULL, 1, 365 * MS_DAY,
                           "a worker silent this long reads OFFLINE (longer than "
                           "--degraded-after)",
                           ON_SERVE},
    [OPT_RETENTION] = {"--retention", "FLOVYN_RETENTION", NULL, TYPE_DURATION, "DURATION", NULL, 0,
                       3650 * MS_DAY,
                       "OFFLINE workers are removed after this long; 0 keeps them forever",
                       ON_SERVE},
    [OPT_ACTIVATE_INTERVAL] = {"--activate-interval", "FLOVYN_ACTIVATE_INTERVAL", NULL,
                               TYPE_DURATION, "DURATION", NULL, 100, MS_DAY,
                               "how often workers that came back are marked ONLINE", ON_SERVE},
    [OPT_STALE_INTERVAL] = {"--stale-interval", "FLOVYN_STALE_INTERVAL", NULL, TYPE_DURATION,
                            "DURATION", NULL, 100, MS_DAY,
                            "how often silent workers are marked DEGRADED or OFFLINE", ON_SERVE},
    [OPT_AVAILABILITY_INTERVAL] = {"--availability-interval", "FLOVYN_AVAILABILITY_INTERVAL", NULL,
                                   TYPE_DURATION, "DURATION", NULL, 100, MS_DAY,
                                   "how often definition availability is recomputed", ON_SERVE},
    [OPT_RETENTION_INTERVAL] = {"--retention-interval", "FLOVYN_RETENTION_INTERVAL", NULL,
                                TYPE_DURATION, "DURATION", NULL, 100, MS_DAY,
                                "how often retention removes long-OFFLINE workers", ON_SERVE},
    [OPT_GRPC_THREADS] = {"--grpc-threads", "FLOVYN_GRPC_THREADS", NULL, TYPE_INT, "N", "2", 1, 64,
                          "threads serving gRPC calls (" STR(
                              FV_APP_GRPC_THREADS_POSTGRES) " on PostgreSQL)",
                          ON_SERVE},
    [OPT_POLL_TIMEOUT_MAX] = {"--poll-timeout-max", "FLOVYN_POLL_TIMEOUT_MAX", NULL, TYPE_INT,
                              "SECONDS", STR(FV_APP_POLL_TIMEOUT_MAX_DEFAULT), 0,
                              FV_APP_POLL_TIMEOUT_MAX_LIMIT,
                              "longest a PollTask waits for a task, whatever it asks; 0: never",
                              ON_SERVE},
    [OPT_SHUTDOWN_GRACE] = {"--shutdown-grace", "FLOVYN_SHUTDOWN_GRACE", NULL, TYPE_DURATION,
                            "DURATION", "5s", 0, 10 * MS_MINUTE,
                            "on SIGINT/SIGTERM, how long in-flight calls may finish", ON_SERVE},
    [OPT_LOG_LEVEL] = {"--log-level", "FLOVYN_LOG_LEVEL", NULL, TYPE_LEVEL, "LEVEL", "info", 0, 0,
                       "error, warn, info or debug", ON_DB},
    [OPT_DEV] = {"--dev", "FLOVYN_DEV", NULL, TYPE_FLAG, NULL, NULL, 0, 0,
                 "create tenant \"default\" (or reuse it) and fresh keys; print them", ON_SERVE},
    [OPT_CREDENTIALS_FILE] = {"--credentials-file", "FLOVYN_CREDENTIALS_FILE", NULL, TYPE_TEXT,
                              "PATH", NULL, 0, 0,
                              "with --dev, write the keys there as JSON (mode 0600) once listening",
                              ON_SERVE},
    [OPT_DB_POOL_SIZE] = {"--db-pool-size", "FLOVYN_DB_POOL_SIZE", NULL, TYPE_INT, "N",
                          STR(FV_APP_DB_POOL_SIZE_DEFAULT), 1, 1024,
                          "connections to PostgreSQL (with --database-url)", ON_SERVE},
    [OPT_NO_MIGRATE] = {"--no-migrate", "FLOVYN_NO_MIGRATE", NULL, TYPE_FLAG, NULL, NULL, 0, 0,
                        "do not apply migrations at start (refuse to start if some are "
                        "pending)",
                        ON_SERVE},
    [OPT_TENANT] = {"--tenant", NULL, NULL, TYPE_TEXT, "SLUG", NULL, 0, 0,
                    "the tenant whose keys to create, list or revoke", ON_KEYS},
    [OPT_ROLE] = {"--role", NULL, NULL, TYPE_ROLE, "ROLE", NULL, 0, 0, "worker, operator or admin",
                  ON_KEY_NEW},
    [OPT_NAME] = {"--name", NULL, NULL, TYPE_TEXT, "NAME", NULL, 0, 0,
                  "display name of the new tenant or key", ON_TENANT | ON_KEY_NEW},
    [OPT_SLUG] = {"--slug", NULL, NULL, TYPE_TEXT, "SLUG", NULL, 0, 0,
                  "the new tenant's slug (or give it as the argument)", ON_TENANT},
};

static const char *default_text(opt_id id, char buf[FV_APP_DURATION_STR_MAX])
{
    const fv_liveness live = FV_LIVENESS_DEFAULTS;

    switch (id) {
    case OPT_DEGRADED_AFTER:
        return fv_app_duration_format(live.degraded_after_ms, buf);
    case OPT_OFFLINE_AFTER:
        return fv_app_duration_format(live.offline_after_ms, buf);
    case OPT_RETENTION:
        return fv_app_duration_format(live.retention_ms, buf);
    case OPT_ACTIVATE_INTERVAL:
        return fv_app_duration_format(FV_JOB_ACTIVATION_INTERVAL_MS, buf);
    case OPT_STALE_INTERVAL:
        return fv_app_duration_format(FV_JOB_STALE_INTERVAL_MS, buf);
    case OPT_AVAILABILITY_INTERVAL:
        return fv_app_duration_format(FV_JOB_AVAILABILITY_INTERVAL_MS, buf);
    case OPT_RETENTION_INTERVAL:
        return fv_app_duration_format(FV_JOB_RETENTION_INTERVAL_MS, buf);
    case OPT_MEMORY:
    case OPT_DATABASE_URL:
    case OPT_GRPC_LISTEN:
    case OPT_HTTP_LISTEN:
    case OPT_GRPC_THREADS:
    case OPT_POLL_TIMEOUT_MAX:
    case OPT_SHUTDOWN_GRACE:
    case OPT_LOG_LEVEL:
    case OPT_DEV:
    case OPT_CREDENTIALS_FILE:
    case OPT_DB_POOL_SIZE:
    case OPT_NO_MIGRATE:
    case OPT_TENANT:
    case OPT_ROLE:
    case OPT_NAME:
    case OPT_SLUG:
    case OPT_COUNT:
        break;
    }
    return specs[id].def;
}

const char *fv_app_version(void)
{
    return FV_APP_VERSION;
}

/* ---- Durations and addresses ------------------------------------------- */

bool fv_app_duration_parse(const char *s, int64_t *ms)
{
    static const struct {
        const char *name;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", MS_SECOND}, {"m", MS_MINUTE}, {"h", MS_HOUR}, {"d", MS_DAY}};
    int64_t total = 0;
    const char *p = s;

    if (s == NULL || *s == '\0')
        return false;
    if (strcmp(s, "0") == 0) {
        *ms = 0;
        return true;
    }
    while (*p != '\0') {
        int64_t n = 0;
        size_t best = 0, len = 0;
        int64_t mult = 0;

        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p)) {
            n = n * 10 + (*p - '0');
            if (n > DURATION_MAX)
                return false;
            p++;
        }
        /* The longest unit name that matches ("ms" before "m"). */
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            len = strlen(units[i].name);
            if (strncmp(p, units[i].name, len) == 0 && len > best) {
                best = len;
                mult = units[i].ms;
            }
        }
        if (best == 0)
            return false;
        p += best;
        if (n > DURATION_MAX / mult)
            return false;
        total += n * mult;
        if (total > DURATION_MAX)
            return false;
    }
    *ms = total;
    return true;
}

const char *fv_app_duration_format(int64_t ms, char out[FV_APP_DURATION_STR_MAX])
{
    static const struct {
        const char *name;
        int64_t ms;
    } units[] = {{"d", MS_DAY}, {"h", MS_HOUR}, {"m", MS_MINUTE}, {"s", MS_SECOND}, {"ms", 1}};
    size_t used = 0;

    out[0] = '\0';
    if (ms <= 0) {
        snprintf(out, FV_APP_DURATION_STR_MAX, "0");
        return out;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0] && ms > 0; i++) {
        int64_t n = ms / units[i].ms;
        int m;

        /* Days only from two days on: "24h" reads better than "1d". */
        if (n == 0 || (units[i].ms == MS_DAY && ms < 2 * MS_DAY))
            continue;
        ms -= n * units[i].ms;
        m = snprintf(out + used, FV_APP_DURATION_STR_MAX - used, "%" PRId64 "%s", n, units[i].name);
        if (m < 0 || (size_t)m >= FV_APP_DURATION_STR_MAX - used)
            break;
        used += (size_t)m;
    }
    return out;
}

static bool is_host_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '-';
}

bool fv_app_listen_parse(const char *s, char *host, size_t host_cap, int *port)
{
    const char *colon, *h_end;
    size_t h_len;
    long p = 0;

    if (s == NULL || strlen(s) > FV_APP_LISTEN_MAX)
        return false;
    colon = strrchr(s, ':');
    if (colon == NULL || colon == s)
        return false;
    h_end = colon;
    h_len = (size_t)(h_end - s);
    if (s[0] == '[') {
        /* [IPv6]: hex digits, colons and dots (IPv4-mapped) inside. */
        if (h_len < 3 || s[h_len - 1] != ']')
            return false;
        for (size_t i = 1; i + 1 < h_len; i++) {
            if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
                return false;
        }
    } else {
        if (h_len > 253)
            return false;
        for (size_t i = 0; i < h_len; i++) {
            if (!is_host_char(s[i]))
                return false;
        }
    }
    /* Port: 1..5 digits, no leading zero unless it is "0". */
    {
        const char *d = colon + 1;
        size_t nd = strlen(d);

        if (nd == 0 || nd > 5 || (nd > 1 && d[0] == '0'))
            return false;
        for (size_t i = 0; i < nd; i++) {
            if (!isdigit((unsigned char)d[i]))
                return false;
            p = p * 10 + (d[i] - '0');
        }
        if (p > 65535)
            return false;
    }
    if (host != NULL) {
        if (h_len + 1 > host_cap)
            return false;
        memcpy(host, s, h_len);
        host[h_len] = '\0';
    }
    if (port != NULL)
        *port = (int)p;
    return true;
}

/* ---- Parsing --------------------------------------------------------- */

/* Where an option's value came from, for precedence and for messages. */
typedef enum source { SRC_NONE, SRC_ENV, SRC_FLAG } source;

typedef struct raw_opt {
    source src;
    const char *name;  /* the flag or the variable actually used */
    const char *value; /* NULL for a flag given on the command line */
} raw_opt;

static bool parse_bool_text(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* Decimal integer without sign or spaces, within [min, max]. */
static bool parse_int_in(const char *s, int64_t min, int64_t max, int64_t *out, bool *range)
{
    int64_t n = 0;

    *range = false;
    if (*s == '\0')
        return false;
    for (const char *p = s; *p != '\0'; p++) {
        if (!isdigit((unsigned char)*p))
            return false;
        n = n * 10 + (*p - '0');
        if (n > max) {
            *range = true;
            return false;
        }
    }
    if (n < min) {
        *range = true;
        return false;
    }
    *out = n;
    return true;
}

/* The parsed value of one option (only the member of its type is used). */
typedef struct opt_value {
    bool flag;
    const char *text;
    int64_t num; /* durations in ms, integers */
    fv_app_log_level level;
    fv_role role;
} opt_value;

static fv_err parse_value(opt_id id, const raw_opt *r, opt_value *v, fv_error *err)
{
    const opt_spec *sp = &specs[id];
    char lo[FV_APP_DURATION_STR_MAX], hi[FV_APP_DURATION_STR_MAX];
    bool range;

    switch (sp->type) {
    case TYPE_FLAG:
        if (r->value == NULL) {
            v->flag = true;
            return FV_OK;
        }
        if (!parse_bool_text(r->value, &v->flag))
            return fv_error_set(err, FV_E_INVALID,
                                "%s: \"%s\" is not a boolean (use true or false, 1 or 0)", r->name,
                                r->value);
        return FV_OK;
    case TYPE_TEXT:
        if (r->value[0] == '\0')
            return fv_error_set(err, FV_E_INVALID, "%s: the value is empty", r->name);
        v->text = r->value;
        return FV_OK;
    case TYPE_LISTEN:
        if (!fv_app_listen_parse(r->value, NULL, 0, NULL))
            return fv_error_set(err, FV_E_INVALID,
                                "%s: \"%s\" is not HOST:PORT (e.g. 127.0.0.1:9090, [::1]:9090, "
                                "0.0.0.0:0)",
                                r->name, r->value);
        v->text = r->value;
        return FV_OK;
    case TYPE_DURATION:
        if (!fv_app_duration_parse(r->value, &v->num))
            return fv_error_set(err, FV_E_INVALID,
                                "%s: \"%s\" is not a duration (e.g. 60s, 5m, 24h)", r->name,
                                r->value);
        if (v->num < sp->min || v->num > sp->max)
            return fv_error_set(err, FV_E_INVALID, "%s: \"%s\" is out of range (%s to %s)", r->name,
                                r->value, fv_app_duration_format(sp->min, lo),
                                fv_app_duration_format(sp->max, hi));
        return FV_OK;
    case TYPE_INT:
        if (!parse_int_in(r->value, sp->min, sp->max, &v->num, &range)) {
            if (range)
                return fv_error_set(err, FV_E_INVALID,
                                    "%s: \"%s\" is out of range (%" PRId64 " to %" PRId64 ")",
                                    r->name, r->value, sp->min, sp->max);
            return fv_error_set(err, FV_E_INVALID, "%s: \"%s\" is not a whole number", r->name,
                                r->value);
        }
        return FV_OK;
    case TYPE_LEVEL:
        if (!fv_app_log_level_parse(r->value, &v->level))
            return fv_error_set(err, FV_E_INVALID,
                                "%s: \"%s\" is not a log level (error, warn, info or debug)",
                                r->name, r->value);
        return FV_OK;
    case TYPE_ROLE:
        if (!fv_role_parse(r->value, &v->role))
            return fv_error_set(err, FV_E_INVALID,
                                "%s: \"%s\" is not a role (worker, operator or admin)", r->name,
                                r->value);
        return FV_OK;
    }
    return fv_error_set(err, FV_E_INTERNAL, "%s: unknown option type", r->name);
}

static bool is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

/* Find the option of "--name" or "--name=value"; NULL when unknown. */
static const opt_spec *find_flag(const char *arg, opt_id *id, const char **inline_value)
{
    const char *eq = strchr(arg, '=');
    size_t n = eq != NULL ? (size_t)(eq - arg) : strlen(arg);

    for (int i = 0; i < OPT_COUNT; i++) {
        if (strlen(specs[i].flag) == n && strncmp(arg, specs[i].flag, n) == 0) {
            *id = (opt_id)i;
            *inline_value = eq != NULL ? eq + 1 : NULL;
            return &specs[i];
        }
    }
    return NULL;
}

/* The commands: one or two words, the one positional argument they take. */
typedef struct cmd_spec {
    const char *word; /* "key" */
    const char *sub;  /* "create"; NULL for a one-word command */
    fv_app_command cmd;
    const char *label;      /* "key create", for messages */
    const char *positional; /* metavar of the positional argument, or NULL */
} cmd_spec;

static const cmd_spec cmds[] = {
    {"serve", NULL, FV_APP_CMD_SERVE, "serve", NULL},
    {"migrate", NULL, FV_APP_CMD_MIGRATE, "migrate", NULL},
    {"tenant", "create", FV_APP_CMD_TENANT_CREATE, "tenant create", "SLUG"},
    {"key", "create", FV_APP_CMD_KEY_CREATE, "key create", NULL},
    {"key", "list", FV_APP_CMD_KEY_LIST, "key list", NULL},
    {"key", "revoke", FV_APP_CMD_KEY_REVOKE, "key revoke", "KEY-ID"},
};

#define N_CMDS (sizeof cmds / sizeof cmds[0])

/* The command-line part of a command: raw values of the flags (last one
 * wins) and its positional argument. */
static fv_err scan_flags(int argc, char *const *argv, int first, const cmd_spec *cs,
                         raw_opt raw[OPT_COUNT], const char **positional, bool *help, fv_error *err)
{
    *help = false;
    *positional = NULL;
    for (int i = first; i < argc; i++) {
        if (is_help(argv[i])) {
            *help = true;
            return FV_OK;
        }
    }
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = NULL;
        const opt_spec *sp;
        opt_id id;

        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (cs->positional != NULL && *positional == NULL && arg[0] != '-') {
                *positional = arg;
                continue;
            }
            if (cs->positional == NULL)
                return fv_error_set(err, FV_E_INVALID,
                                    "unexpected argument \"%s\" (%s takes options only; see "
                                    "flovyn-server --help)",
                                    arg, cs->label);
            return fv_error_set(err, FV_E_INVALID,
                                "unexpected argument \"%s\" (%s takes one %s; see "
                                "flovyn-server --help)",
                                arg, cs->label, cs->positional);
        }
        sp = find_flag(arg, &id, &value);
        if (sp == NULL)
            return fv_error_set(err, FV_E_INVALID,
                                "unknown option \"%s\" (see flovyn-server --help)", arg);
        if ((sp->cmds & ON(cs->cmd)) == 0)
            return fv_error_set(err, FV_E_INVALID,
                                "%s is not an option of %s (see flovyn-server --help)", sp->flag,
                                cs->label);
        if (sp->type == TYPE_FLAG) {
            if (value != NULL)
                return fv_error_set(err, FV_E_INVALID, "%s takes no value", sp->flag);
        } else if (value == NULL) {
            if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)
                return fv_error_set(err, FV_E_INVALID, "%s needs a value (%s)", sp->flag,
                                    sp->metavar);
            value = argv[++i];
        }
        raw[id] = (raw_opt){SRC_FLAG, sp->flag, value};
    }
    return FV_OK;
}

/* The environment part: fills the options of the command no flag gave. */
static void scan_env(fv_app_getenv_fn getenv, void *env_user, fv_app_command cmd,
                     raw_opt raw[OPT_COUNT])
{
    if (getenv == NULL)
        return;
    for (int i = 0; i < OPT_COUNT; i++) {
        const char *names[2] = {specs[i].env, specs[i].env_alt};

        if (raw[i].src == SRC_FLAG || (specs[i].cmds & ON(cmd)) == 0)
            continue;
        for (size_t k = 0; k < 2 && names[k] != NULL; k++) {
            const char *v = getenv(env_user, names[k]);
            if (v != NULL && v[0] != '\0') {
                raw[i] = (raw_opt){SRC_ENV, names[k], v};
                break;
            }
        }
    }
}

/* Storage: the choice made at the highest level wins; two choices at the
 * same level are an error. */
static fv_err resolve_storage(const raw_opt raw[OPT_COUNT], const opt_value val[OPT_COUNT],
                              fv_app_config *out, fv_error *err)
{
    const raw_opt *mem = &raw[OPT_MEMORY], *db = &raw[OPT_DATABASE_URL];
    bool want_mem = mem->src != SRC_NONE && val[OPT_MEMORY].flag;
    bool want_db = db->src != SRC_NONE;

    if (want_mem && want_db) {
        if (mem->src == db->src)
            return fv_error_set(err, FV_E_INVALID,
                                "%s and %s exclude each other: choose one storage", mem->name,
                                db->name);
        if (mem->src > db->src)
            want_db = false;
        else
            want_mem = false;
    }
    if (want_db) {
        out->storage = FV_APP_STORAGE_POSTGRES;
        out->database_url = val[OPT_DATABASE_URL].text;
        return FV_OK;
    }
    if (!want_mem)
        return fv_error_set(err, FV_E_INVALID,
                            "no storage chosen: give --memory (in-memory, for development and "
                            "demos) or --database-url (PostgreSQL)");
    out->storage = FV_APP_STORAGE_MEMORY;
    out->database_url = NULL;
    return FV_OK;
}

/* The value used for each option of the command: given (flag or
 * environment) or default. */
static fv_err resolve_all(fv_app_command cmd, const raw_opt raw[OPT_COUNT],
                          opt_value val[OPT_COUNT], fv_error *err)
{
    for (int i = 0; i < OPT_COUNT; i++) {
        char buf[FV_APP_DURATION_STR_MAX];
        raw_opt r = raw[i];
        fv_err rc;

        memset(&val[i], 0, sizeof val[i]);
        if ((specs[i].cmds & ON(cmd)) == 0)
            continue;
        if (r.src == SRC_NONE) {
            const char *def = default_text((opt_id)i, buf);
            if (def == NULL)
                continue; /* no default: absent (flags false, texts NULL) */
            r = (raw_opt){SRC_NONE, specs[i].flag, def};
        }
        rc = parse_value((opt_id)i, &r, &val[i], err);
        if (rc != FV_OK)
            return rc;
    }
    return FV_OK;
}

static const char *name_of(const raw_opt raw[OPT_COUNT], opt_id id)
{
    return raw[id].src != SRC_NONE ? raw[id].name : specs[id].flag;
}

/* Which command argv names; *first is the index of its first argument. */
static fv_err find_command(int argc, char *const *argv, const cmd_spec **out, int *first,
                           fv_error *err)
{
    const char *word = argv[1];
    bool known_word = false;

    for (size_t i = 0; i < N_CMDS; i++) {
        if (strcmp(cmds[i].word, word) != 0)
            continue;
        known_word = true;
        if (cmds[i].sub == NULL) {
            *out = &cmds[i];
            *first = 2;
            return FV_OK;
        }
        if (argc > 2 && strcmp(cmds[i].sub, argv[2]) == 0) {
            *out = &cmds[i];
            *first = 3;
            return FV_OK;
        }
    }
    if (!known_word) {
        if (word[0] == '-')
            return fv_error_set(err, FV_E_INVALID,
                                "\"%s\" comes before the command (usage: flovyn-server serve "
                                "[options])",
                                word);
        return fv_error_set(err, FV_E_INVALID,
                            "unknown command \"%s\" (commands: serve, migrate, tenant, key, "
                            "version, help)",
                            word);
    }
    if (strcmp(word, "tenant") == 0)
        return argc > 2
                   ? fv_error_set(err, FV_E_INVALID,
                                  "unknown command \"tenant %s\" (tenant takes: create)", argv[2])
                   : fv_error_set(err, FV_E_INVALID,
                                  "tenant needs a subcommand (tenant create SLUG)");
    return argc > 2 ? fv_error_set(err, FV_E_INVALID,
                                   "unknown command \"key %s\" (key takes: create, list, revoke)",
                                   argv[2])
                    : fv_error_set(err, FV_E_INVALID,
                                   "key needs a subcommand (key create, key list, key revoke)");
}

/* The rules of serve between options. */
static fv_err finish_serve(const raw_opt raw[OPT_COUNT], const opt_value val[OPT_COUNT],
                           fv_app_config *out, fv_error *err)
{
    char a[FV_APP_DURATION_STR_MAX], b[FV_APP_DURATION_STR_MAX];
    fv_err rc;

    out->grpc_listen = val[OPT_GRPC_LISTEN].text;
    out->http_listen = val[OPT_HTTP_LISTEN].text;
    out->liveness.degraded_after_ms = val[OPT_DEGRADED_AFTER].num;
    out->liveness.offline_after_ms = val[OPT_OFFLINE_AFTER].num;
    out->liveness.retention_ms = val[OPT_RETENTION].num;
    out->activate_interval_ms = val[OPT_ACTIVATE_INTERVAL].num;
    out->stale_interval_ms = val[OPT_STALE_INTERVAL].num;
    out->availability_interval_ms = val[OPT_AVAILABILITY_INTERVAL].num;
    out->retention_interval_ms = val[OPT_RETENTION_INTERVAL].num;
    out->grpc_threads = (int)val[OPT_GRPC_THREADS].num;
    out->poll_timeout_max_s = val[OPT_POLL_TIMEOUT_MAX].num;
    out->shutdown_grace_ms = val[OPT_SHUTDOWN_GRACE].num;
    out->dev = val[OPT_DEV].flag;
    out->credentials_file = val[OPT_CREDENTIALS_FILE].text;
    out->db_pool_size = (int)val[OPT_DB_POOL_SIZE].num;
    out->migrate = !val[OPT_NO_MIGRATE].flag;

    if (out->liveness.offline_after_ms <= out->liveness.degraded_after_ms)
        return fv_error_set(err, FV_E_INVALID, "%s (%s) must be longer than %s (%s)",
                            name_of(raw, OPT_OFFLINE_AFTER),
                            fv_app_duration_format(out->liveness.offline_after_ms, a),
                            name_of(raw, OPT_DEGRADED_AFTER),
                            fv_app_duration_format(out->liveness.degraded_after_ms, b));
    rc = fv_liveness_validate(&out->liveness, err);
    if (rc != FV_OK)
        return rc;
    if (out->credentials_file != NULL && !out->dev)
        return fv_error_set(err, FV_E_INVALID,
                            "%s needs --dev (only --dev creates keys to write there)",
                            name_of(raw, OPT_CREDENTIALS_FILE));
    rc = resolve_storage(raw, val, out, err);
    if (rc == FV_OK && out->storage == FV_APP_STORAGE_POSTGRES &&
        raw[OPT_GRPC_THREADS].src == SRC_NONE)
        out->grpc_threads = FV_APP_GRPC_THREADS_POSTGRES;
    return rc;
}

/* The rules of the database commands. */
static fv_err finish_db_command(const cmd_spec *cs, const raw_opt raw[OPT_COUNT],
                                const opt_value val[OPT_COUNT], const char *positional,
                                fv_app_config *out, fv_error *err)
{
    fv_uuid id;

    (void)raw;
    if (val[OPT_DATABASE_URL].text == NULL)
        return fv_error_set(err, FV_E_INVALID,
                            "%s needs a database: give --database-url URL or set "
                            "FLOVYN_DATABASE_URL (or DATABASE_URL)",
                            cs->label);
    out->storage = FV_APP_STORAGE_POSTGRES;
    out->database_url = val[OPT_DATABASE_URL].text;
    out->db_pool_size = 2;
    out->migrate = false;
    out->liveness = (fv_liveness)FV_LIVENESS_DEFAULTS;
    out->name = val[OPT_NAME].text;
    out->tenant_slug = val[OPT_TENANT].text;
    if (cs->cmd == FV_APP_CMD_TENANT_CREATE && val[OPT_SLUG].text != NULL) {
        if (positional != NULL && strcmp(positional, val[OPT_SLUG].text) != 0)
            return fv_error_set(err, FV_E_INVALID,
                                "tenant create: the slug is given twice (\"%s\" and --slug "
                                "\"%s\")",
                                positional, val[OPT_SLUG].text);
        positional = val[OPT_SLUG].text;
    }
    if (cs->positional != NULL && positional == NULL)
        return fv_error_set(err, FV_E_INVALID, "%s needs a %s (see flovyn-server --help)",
                            cs->label, cs->positional);

    switch (cs->cmd) {
    case FV_APP_CMD_MIGRATE:
        return FV_OK;
    case FV_APP_CMD_TENANT_CREATE:
        out->tenant_slug = positional;
        return fv_slug_validate("tenant slug", positional, err);
    case FV_APP_CMD_KEY_CREATE:
    case FV_APP_CMD_KEY_LIST:
    case FV_APP_CMD_KEY_REVOKE:
        if (out->tenant_slug == NULL)
            return fv_error_set(err, FV_E_INVALID, "%s needs --tenant SLUG", cs->label);
        if (fv_slug_validate("--tenant", out->tenant_slug, err) != FV_OK)
            return FV_E_INVALID;
        if (cs->cmd == FV_APP_CMD_KEY_CREATE) {
            if (raw[OPT_ROLE].src == SRC_NONE)
                return fv_error_set(err, FV_E_INVALID,
                                    "key create needs --role (worker, operator or admin)");
            out->role = val[OPT_ROLE].role;
        }
        if (cs->cmd == FV_APP_CMD_KEY_REVOKE) {
            if (!fv_uuid_parse(positional, strlen(positional), &id))
                return fv_error_set(err, FV_E_INVALID,
                                    "\"%s\" is not a key id (key ids are UUIDs, as key list "
                                    "shows them)",
                                    positional);
            out->key_id = positional;
        }
        return FV_OK;
    case FV_APP_CMD_SERVE:
    case FV_APP_CMD_HELP:
    case FV_APP_CMD_VERSION:
        break;
    }
    return fv_error_set(err, FV_E_INTERNAL, "%s: not a database command", cs->label);
}

fv_err fv_app_config_parse(int argc, char *const *argv, fv_app_getenv_fn getenv, void *env_user,
                           fv_app_config *out, fv_error *err)
{
    raw_opt raw[OPT_COUNT];
    opt_value val[OPT_COUNT];
    const cmd_spec *cs = NULL;
    const char *positional = NULL;
    int first = 2;
    bool help;
    fv_err rc;

    memset(out, 0, sizeof *out);
    memset(raw, 0, sizeof raw);
    fv_error_clear(err);

    if (argc < 2)
        return fv_error_set(err, FV_E_INVALID,
                            "missing command (usage: flovyn-server serve [options]; see "
                            "flovyn-server --help)");
    if (is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        out->command = FV_APP_CMD_HELP;
        return FV_OK;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        if (argc > 2)
            return fv_error_set(err, FV_E_INVALID, "%s takes no arguments (got \"%s\")", argv[1],
                                argv[2]);
        out->command = FV_APP_CMD_VERSION;
        return FV_OK;
    }
    rc = find_command(argc, argv, &cs, &first, err);
    if (rc != FV_OK)
        return rc;
    rc = scan_flags(argc, argv, first, cs, raw, &positional, &help, err);
    if (rc != FV_OK)
        return rc;
    if (help) {
        out->command = FV_APP_CMD_HELP;
        return FV_OK;
    }
    scan_env(getenv, env_user, cs->cmd, raw);
    rc = resolve_all(cs->cmd, raw, val, err);
    if (rc != FV_OK)
        return rc;

    out->command = cs->cmd;
    out->log_level = val[OPT_LOG_LEVEL].level;
    if (cs->cmd == FV_APP_CMD_SERVE)
        return finish_serve(raw, val, out, err);
    return finish_db_command(cs, raw, val, positional, out, err);
}

/* ---- Help -------------------------------------------------------------- */

/* "serve" or "key create, key list, key revoke": the commands of a mask. */
static void print_commands(FILE *out, unsigned mask)
{
    bool first = true;

    for (size_t i = 0; i < N_CMDS; i++) {
        if ((mask & ON(cmds[i].cmd)) == 0)
            continue;
        fprintf(out, "%s%s", first ? "" : ", ", cmds[i].label);
        first = false;
    }
}

void fv_app_usage(FILE *out)
{
    fprintf(out,
            "flovyn-server %s: the Flovyn control plane (workers register over gRPC)\n"
            "\n"
            "Usage:\n"
            "  flovyn-server serve (--memory | --database-url URL) [options]\n"
            "                                      run the server\n"
            "  flovyn-server migrate               apply pending database migrations\n"
            "  flovyn-server tenant create SLUG [--name NAME]\n"
            "                                      create a tenant, print its id and first\n"
            "                                      admin key (shown once)\n"
            "  flovyn-server key create --tenant SLUG --role ROLE [--name NAME]\n"
            "                                      issue an API key, print it (shown once)\n"
            "  flovyn-server key list --tenant SLUG\n"
            "                                      list a tenant's keys\n"
            "  flovyn-server key revoke --tenant SLUG KEY-ID\n"
            "                                      revoke a key (it stops working at once)\n"
            "  flovyn-server version               print the version\n"
            "  flovyn-server --help                print this help (also: serve --help)\n"
            "\n"
            "migrate, tenant and key work on the database of --database-url (or its\n"
            "variables); ROLE is worker, operator or admin.\n"
            "\n"
            "Options. Each option of serve can also be set with the environment variable\n"
            "shown; a flag beats the environment, which beats the default. Options take\n"
            "their value as --name VALUE or --name=VALUE; in the environment, switches\n"
            "take true/false (or 1/0, yes/no, on/off).\n"
            "\n",
            fv_app_version());
    for (int i = 0; i < OPT_COUNT; i++) {
        const opt_spec *sp = &specs[i];
        char buf[FV_APP_DURATION_STR_MAX];
        const char *def = default_text((opt_id)i, buf);

        fprintf(out, "  %s%s%s\n", sp->flag, sp->metavar != NULL ? " " : "",
                sp->metavar != NULL ? sp->metavar : "");
        fprintf(out, "        %s\n", sp->help);
        if (sp->env != NULL) {
            fprintf(out, "        env %s%s%s", sp->env, sp->env_alt != NULL ? " or " : "",
                    sp->env_alt != NULL ? sp->env_alt : "");
            if (def != NULL)
                fprintf(out, ", default %s", def);
            else if (sp->type == TYPE_FLAG)
                fprintf(out, ", default off");
            fprintf(out, "\n");
        }
        if (sp->cmds != ON_SERVE) {
            fprintf(out, "        for: ");
            print_commands(out, sp->cmds);
            fprintf(out, "\n");
        }
    }
    fprintf(out, "\n"
                 "Durations are a number and a unit (ms, s, m, h, d), or several (1h30m).\n"
                 "Storage: --memory keeps everything in this process (gone at exit);\n"
                 "--database-url runs on PostgreSQL, applying pending migrations at start\n"
                 "unless --no-migrate. Several servers may share one database.\n"
                 "\n"
                 "Signals: SIGINT or SIGTERM stops taking calls, lets in-flight ones finish\n"
                 "within --shutdown-grace and exits 0; a second signal exits at once.\n"
                 "Exit status: 0 after a clean stop (or a command that succeeded), 1 when\n"
                 "the server cannot start or a command failed (for example the database\n"
                 "is unreachable), 2 for a bad command line or environment.\n");
}
