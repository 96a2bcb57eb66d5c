/*
 * The command line and environment of flovyn-server (app/config.h): the
 * defaults, flags over environment over defaults, the storage choice, the
 * database commands (migrate, tenant, key) and their options, and a
 * clear error naming the option (or variable) and the value for every kind
 * of bad input. Also the duration and HOST:PORT parsers and the help text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/config.h"
#include "core/util/error.h"
#include "tests/support/cunit_main.h"

/* A fake environment: NAME=VALUE strings, NULL-terminated. */
static const char *fake_env(void *user, const char *name)
{
    const char *const *vars = user;
    size_t n = strlen(name);

    for (; vars != NULL && *vars != NULL; vars++) {
        if (strncmp(*vars, name, n) == 0 && (*vars)[n] == '=')
            return (*vars)[n + 1] != '\0' ? *vars + n + 1 : NULL;
    }
    return NULL;
}

/* Parse a NULL-terminated argument list (program name added) with env. */
static fv_err parse_env(const char *const *env, fv_app_config *cfg, fv_error *err,
                        const char *const *args)
{
    char *argv[64];
    int argc = 0;

    argv[argc++] = (char *)"flovyn-server";
    for (; *args != NULL && argc < 63; args++)
        argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    return fv_app_config_parse(argc, argv, fake_env, (void *)env, cfg, err);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define ENV(...)  ((const char *const[]){__VA_ARGS__, NULL})

static fv_app_config cfg;
static fv_error err;

/* Expect failure with a message containing each of the given pieces. */
static void expect_error(const char *const *env, const char *const *args, const char *piece1,
                         const char *piece2)
{
    fv_err rc = parse_env(env, &cfg, &err, args);

    FV_ASSERT_INT_EQ(rc, FV_E_INVALID);
    FV_ASSERT_INT_EQ(err.code, FV_E_INVALID);
    if (strstr(err.msg, piece1) == NULL || (piece2 != NULL && strstr(err.msg, piece2) == NULL)) {
        fprintf(stderr, "\n  message \"%s\" lacks \"%s\"%s%s\n", err.msg, piece1,
                piece2 != NULL ? " or " : "", piece2 != NULL ? piece2 : "");
        CU_FAIL("error message does not name what is wrong");
    }
}

static void expect_ok(const char *const *env, const char *const *args)
{
    fv_err rc = parse_env(env, &cfg, &err, args);

    if (rc != FV_OK)
        fprintf(stderr, "\n  unexpected error: %s\n", err.msg);
    FV_ASSERT_INT_EQ(rc, FV_OK);
}

/* ---------------------------------------------------------------------- */

static void test_app_config__defaults(void)
{
    fv_liveness live = FV_LIVENESS_DEFAULTS;

    expect_ok(NULL, ARGS("serve", "--memory"));
    FV_ASSERT_INT_EQ(cfg.command, FV_APP_CMD_SERVE);
    FV_ASSERT_INT_EQ(cfg.storage, FV_APP_STORAGE_MEMORY);
    CU_ASSERT_PTR_NULL(cfg.database_url);
    FV_ASSERT_STR_EQ(cfg.grpc_listen, "127.0.0.1:9090");
    FV_ASSERT_STR_EQ(cfg.http_listen, "127.0.0.1:8000");
    FV_ASSERT_INT_EQ(cfg.liveness.degraded_after_ms, live.degraded_after_ms);
    FV_ASSERT_INT_EQ(cfg.liveness.offline_after_ms, live.offline_after_ms);
    FV_ASSERT_INT_EQ(cfg.liveness.retention_ms, live.retention_ms);
    FV_ASSERT_INT_EQ(cfg.activate_interval_ms, 10000);
    FV_ASSERT_INT_EQ(cfg.stale_interval_ms, 30000);
    FV_ASSERT_INT_EQ(cfg.availability_interval_ms, 30000);
    FV_ASSERT_INT_EQ(cfg.retention_interval_ms, 300000);
    FV_ASSERT_INT_EQ(cfg.grpc_threads, 2);
    FV_ASSERT_INT_EQ(cfg.poll_timeout_max_s, 60);
    FV_ASSERT_INT_EQ(cfg.shutdown_grace_ms, 5000);
    FV_ASSERT_INT_EQ(cfg.log_level, FV_APP_LOG_INFO);
    CU_ASSERT_FALSE(cfg.dev);
    CU_ASSERT_PTR_NULL(cfg.credentials_file);
}

static void test_app_config__every_option_as_a_flag(void)
{
    expect_ok(NULL,
              ARGS("serve", "--memory", "--grpc-listen", "0.0.0.0:0", "--http-listen=[::1]:8080",
                   "--degraded-after", "10s", "--offline-after=1m30s", "--retention", "0",
                   "--activate-interval", "250ms", "--stale-interval", "1m",
                   "--availability-interval", "2m", "--retention-interval", "1h", "--grpc-threads",
                   "8", "--poll-timeout-max", "3600", "--shutdown-grace", "0", "--log-level",
                   "DEBUG", "--dev", "--credentials-file", "/tmp/x.json"));
    FV_ASSERT_STR_EQ(cfg.grpc_listen, "0.0.0.0:0");
    FV_ASSERT_STR_EQ(cfg.http_listen, "[::1]:8080");
    FV_ASSERT_INT_EQ(cfg.liveness.degraded_after_ms, 10000);
    FV_ASSERT_INT_EQ(cfg.liveness.offline_after_ms, 90000);
    FV_ASSERT_INT_EQ(cfg.liveness.retention_ms, 0);
    FV_ASSERT_INT_EQ(cfg.activate_interval_ms, 250);
    FV_ASSERT_INT_EQ(cfg.stale_interval_ms, 60000);
    FV_ASSERT_INT_EQ(cfg.availability_interval_ms, 120000);
    FV_ASSERT_INT_EQ(cfg.retention_interval_ms, 3600000);
    FV_ASSERT_INT_EQ(cfg.grpc_threads, 8);
    FV_ASSERT_INT_EQ(cfg.poll_timeout_max_s, 3600);
    FV_ASSERT_INT_EQ(cfg.shutdown_grace_ms, 0);
    FV_ASSERT_INT_EQ(cfg.log_level, FV_APP_LOG_DEBUG);
    CU_ASSERT_TRUE(cfg.dev);
    FV_ASSERT_STR_EQ(cfg.credentials_file, "/tmp/x.json");
}

static void test_app_config__environment_applies_when_no_flag(void)
{
    expect_ok(ENV("FLOVYN_MEMORY=true", "FLOVYN_GRPC_LISTEN=127.0.0.1:7000",
                  "FLOVYN_HTTP_LISTEN=localhost:7001", "FLOVYN_DEGRADED_AFTER=5s",
                  "FLOVYN_OFFLINE_AFTER=20s", "FLOVYN_RETENTION=48h", "FLOVYN_ACTIVATE_INTERVAL=1s",
                  "FLOVYN_STALE_INTERVAL=2s", "FLOVYN_AVAILABILITY_INTERVAL=3s",
                  "FLOVYN_RETENTION_INTERVAL=4s", "FLOVYN_GRPC_THREADS=3",
                  "FLOVYN_POLL_TIMEOUT_MAX=0", "FLOVYN_SHUTDOWN_GRACE=1s", "FLOVYN_LOG_LEVEL=warn",
                  "FLOVYN_DEV=1", "FLOVYN_CREDENTIALS_FILE=c.json"),
              ARGS("serve"));
    FV_ASSERT_INT_EQ(cfg.storage, FV_APP_STORAGE_MEMORY);
    FV_ASSERT_STR_EQ(cfg.grpc_listen, "127.0.0.1:7000");
    FV_ASSERT_STR_EQ(cfg.http_listen, "localhost:7001");
    FV_ASSERT_INT_EQ(cfg.liveness.degraded_after_ms, 5000);
    FV_ASSERT_INT_EQ(cfg.liveness.offline_after_ms, 20000);
    FV_ASSERT_INT_EQ(cfg.liveness.retention_ms, 48 * 3600000LL);
    FV_ASSERT_INT_EQ(cfg.activate_interval_ms, 1000);
    FV_ASSERT_INT_EQ(cfg.stale_interval_ms, 2000);
    FV_ASSERT_INT_EQ(cfg.availability_interval_ms, 3000);
    FV_ASSERT_INT_EQ(cfg.retention_interval_ms, 4000);
    FV_ASSERT_INT_EQ(cfg.grpc_threads, 3);
    FV_ASSERT_INT_EQ(cfg.poll_timeout_max_s, 0);
    FV_ASSERT_INT_EQ(cfg.shutdown_grace_ms, 1000);
    FV_ASSERT_INT_EQ(cfg.log_level, FV_APP_LOG_WARN);
    CU_ASSERT_TRUE(cfg.dev);
    FV_ASSERT_STR_EQ(cfg.credentials_file, "c.json");
}

static void test_app_config__flags_override_the_environment(void)
{
    expect_ok(ENV("FLOVYN_GRPC_LISTEN=127.0.0.1:7000", "FLOVYN_GRPC_THREADS=3",
                  "FLOVYN_LOG_LEVEL=error", "FLOVYN_OFFLINE_AFTER=2m"),
              ARGS("serve", "--memory", "--grpc-listen", "127.0.0.1:7100", "--grpc-threads=4",
                   "--log-level", "debug"));
    FV_ASSERT_STR_EQ(cfg.grpc_listen, "127.0.0.1:7100");
    FV_ASSERT_INT_EQ(cfg.grpc_threads, 4);
    FV_ASSERT_INT_EQ(cfg.log_level, FV_APP_LOG_DEBUG);
    FV_ASSERT_INT_EQ(cfg.liveness.offline_after_ms, 120000); /* no flag: env */
}

static void test_app_config__a_flag_hides_a_bad_environment_value(void)
{
    /* The environment value is never used, so it is not an error. */
    expect_ok(ENV("FLOVYN_GRPC_THREADS=lots"), ARGS("serve", "--memory", "--grpc-threads", "2"));
    FV_ASSERT_INT_EQ(cfg.grpc_threads, 2);
}

static void test_app_config__the_last_flag_wins(void)
{
    expect_ok(NULL, ARGS("serve", "--memory", "--grpc-threads", "2", "--grpc-threads", "5"));
    FV_ASSERT_INT_EQ(cfg.grpc_threads, 5);
}

static void test_app_config__empty_environment_values_count_as_unset(void)
{
    expect_ok(ENV("FLOVYN_GRPC_LISTEN=", "FLOVYN_MEMORY=yes"), ARGS("serve"));
    FV_ASSERT_STR_EQ(cfg.grpc_listen, "127.0.0.1:9090");
}

static void test_app_config__boolean_environment_values(void)
{
    expect_ok(ENV("FLOVYN_MEMORY=ON", "FLOVYN_DEV=off"), ARGS("serve"));
    CU_ASSERT_FALSE(cfg.dev);
    expect_ok(ENV("FLOVYN_MEMORY=1", "FLOVYN_DEV=Yes"), ARGS("serve"));
    CU_ASSERT_TRUE(cfg.dev);
    expect_error(ENV("FLOVYN_MEMORY=maybe"), ARGS("serve"), "FLOVYN_MEMORY: \"maybe\"",
                 "not a boolean");
    expect_error(ENV("FLOVYN_MEMORY=false"), ARGS("serve"), "no storage chosen", "--memory");
}

/* ---- Storage ---------------------------------------------------------- */

static void test_app_config__storage_must_be_chosen(void)
{
    expect_error(NULL, ARGS("serve"), "no storage chosen", "--database-url");
}

static void test_app_config__database_url_selects_postgres(void)
{
    expect_ok(NULL, ARGS("serve", "--database-url", "postgres://localhost/flovyn"));
    FV_ASSERT_INT_EQ(cfg.storage, FV_APP_STORAGE_POSTGRES);
    FV_ASSERT_STR_EQ(cfg.database_url, "postgres://localhost/flovyn");
    FV_ASSERT_INT_EQ(cfg.db_pool_size, FV_APP_DB_POOL_SIZE_DEFAULT);
    FV_ASSERT_INT_EQ(cfg.db_pool_size, 8);
    CU_ASSERT_TRUE(cfg.migrate);
    /* Handlers wait on the database: more gRPC threads unless told. */
    FV_ASSERT_INT_EQ(cfg.grpc_threads, FV_APP_GRPC_THREADS_POSTGRES);
    expect_ok(NULL, ARGS("serve", "--database-url", "postgres://x", "--grpc-threads", "3"));
    FV_ASSERT_INT_EQ(cfg.grpc_threads, 3);
    expect_ok(ENV("FLOVYN_GRPC_THREADS=2"), ARGS("serve", "--database-url", "postgres://x"));
    FV_ASSERT_INT_EQ(cfg.grpc_threads, 2);
    expect_ok(ENV("DATABASE_URL=postgres://x"), ARGS("serve"));
    FV_ASSERT_STR_EQ(cfg.database_url, "postgres://x");
    /* FLOVYN_DATABASE_URL is read first. */
    expect_ok(ENV("FLOVYN_DATABASE_URL=postgres://x", "DATABASE_URL=postgres://y"), ARGS("serve"));
    FV_ASSERT_STR_EQ(cfg.database_url, "postgres://x");
    /* The flag level beats the environment level. */
    expect_ok(ENV("FLOVYN_MEMORY=1"), ARGS("serve", "--database-url", "postgres://x"));
    FV_ASSERT_INT_EQ(cfg.storage, FV_APP_STORAGE_POSTGRES);
    expect_error(NULL, ARGS("serve", "--database-url="), "--database-url", "empty");
}

static void test_app_config__pool_size_and_no_migrate(void)
{
    expect_ok(NULL, ARGS("serve", "--database-url", "postgres://x", "--db-pool-size", "3",
                         "--no-migrate"));
    FV_ASSERT_INT_EQ(cfg.db_pool_size, 3);
    CU_ASSERT_FALSE(cfg.migrate);
    expect_ok(ENV("FLOVYN_DB_POOL_SIZE=16", "FLOVYN_NO_MIGRATE=true", "DATABASE_URL=postgres://x"),
              ARGS("serve"));
    FV_ASSERT_INT_EQ(cfg.db_pool_size, 16);
    CU_ASSERT_FALSE(cfg.migrate);
    expect_ok(ENV("FLOVYN_NO_MIGRATE=false", "DATABASE_URL=postgres://x"), ARGS("serve"));
    CU_ASSERT_TRUE(cfg.migrate);
    expect_error(NULL, ARGS("serve", "--memory", "--db-pool-size", "0"), "--db-pool-size: \"0\"",
                 "out of range (1 to 1024)");
    expect_error(NULL, ARGS("serve", "--memory", "--db-pool-size=1025"), "--db-pool-size", "1024");
    expect_error(ENV("FLOVYN_DB_POOL_SIZE=many"), ARGS("serve", "--memory"),
                 "FLOVYN_DB_POOL_SIZE: \"many\"", "whole number");
    expect_error(NULL, ARGS("serve", "--memory", "--no-migrate=yes"), "--no-migrate takes no value",
                 NULL);
}

/* ---- Database commands ------------------------------------------------ */

#define KEY_ID "0190c0de-0000-4000-8000-000000000001"

static void test_app_config__migrate_command(void)
{
    expect_ok(NULL, ARGS("migrate", "--database-url", "postgres://x"));
    FV_ASSERT_INT_EQ(cfg.command, FV_APP_CMD_MIGRATE);
    FV_ASSERT_INT_EQ(cfg.storage, FV_APP_STORAGE_POSTGRES);
    FV_ASSERT_STR_EQ(cfg.database_url, "postgres://x");
    expect_ok(ENV("DATABASE_URL=postgres://y", "FLOVYN_LOG_LEVEL=warn"), ARGS("migrate"));
    FV_ASSERT_STR_EQ(cfg.database_url, "postgres://y");
    FV_ASSERT_INT_EQ(cfg.log_level, FV_APP_LOG_WARN);
    /* Settings of serve in the environment do not concern it. */
    expect_ok(ENV("FLOVYN_GRPC_THREADS=lots", "FLOVYN_MEMORY=1", "DATABASE_URL=postgres://y"),
              ARGS("migrate"));
    expect_error(NULL, ARGS("migrate"), "migrate needs a database", "--database-url");
    expect_error(NULL, ARGS("migrate", "--database-url", "postgres://x", "--memory"),
                 "--memory is not an option of migrate", NULL);
    expect_error(NULL, ARGS("migrate", "--database-url", "postgres://x", "now"),
                 "unexpected argument \"now\"", "migrate takes options only");
    expect_ok(NULL, ARGS("migrate", "--help"));
    FV_ASSERT_INT_EQ(cfg.command, FV_APP_CMD_HELP);
}

static void test_app_config__tenant_create_command(void)
{
    expect_ok(ENV("DATABASE_URL=postgres://x"), ARGS("tenant", "create", "acme"));
    FV_ASSERT_INT_EQ(cfg.command, FV_APP_CMD_TENANT_CREATE);
    FV_ASSERT_STR_EQ(cfg.tenant_slug, "acme");
    CU_ASSERT_PTR_NULL(cfg.name);
    expect_ok(ENV("DATABASE_URL=postgres://x"),
              ARGS("tenant", "create", "--name", "Acme Inc.", "acme-2"));
    FV_ASSERT_STR_EQ(cfg.tenant_slug, "acme-2");
    FV_ASSERT_STR_EQ(cfg.name, "Acme Inc.");
    expect_error(ENV("DATABASE_URL=postgres://x"), ARGS("tenant", "create"),
                 "tenant create needs a SLUG", NULL);
    /* --slug says the same. */
    expect_ok(ENV("DATABASE_URL=postgres://x"), ARGS("tenant", "create", "--slug", "acme-3"));
    FV_ASSERT_STR_EQ(cfg.tenant_slug, "acme-3");
    expect_ok(ENV("DATABASE_URL=postgres://x"),
              ARGS("tenant", "create", "acme-3", "--slug=acme-3"));
    FV_ASSERT_STR_EQ(cfg.tenant_slug, "acme-3");
    expect_error(ENV("DATABASE_URL=postgres://x"), ARGS("tenant", "create", "a", "--slug", "b"),
                 "the slug is given twice", NULL);
    expect_error(ENV("DATABASE_URL=postgres://x"), ARGS("tenant", "create", "--slug", "B!"),
                 "tenant slug", NULL);
    expect_error(ENV("DATABASE_URL=postgres://x"),
                 ARGS("key", "list", "--tenant", "acme", "--slug", "b"),
                 "--slug is not an option of key list", NULL);
    expect_error(ENV("DATABASE_URL=postgres://x"), ARGS("tenant", "create", "Acme!"), "tenant slug",
                 NULL);
    expect_error(ENV("DATABASE_URL=postgres://x"), ARGS("tenant", "create", "a", "b"),
                 "unexpected argument \"b\"", "takes one SLUG");
    expect_error(ENV("DATABASE_URL=postgres://x"), ARGS("tenant", "create", "a", "--role", "admin"),
                 "--role is not an option of tenant create", NULL);
    expect_error(NULL, ARGS("tenant", "create", "acme"), "tenant create needs a database", NULL);
    expect_error(NULL, ARGS("tenant"), "tenant needs a subcommand", NULL);
    expect_error(NULL, ARGS("tenant", "delete", "acme"), "unknown command \"tenant delete\"", NULL);
}

static void test_app_config__key_commands(void)
{
    expect_ok(ENV("DATABASE_URL=postgres://x"),
              ARGS("key", "create", "--tenant", "acme", "--role", "operator", "--name", "ci"));
    FV_ASSERT_INT_EQ(cfg.command, FV_APP_CMD_KEY_CREATE);
    FV_ASSERT_STR_EQ(cfg.tenant_slug, "acme");
    FV_ASSERT_INT_EQ(cfg.role, FV_ROLE_OPERATOR);
    FV_ASSERT_STR_EQ(cfg.name, "ci");
    expect_ok(ENV("DATABASE_URL=postgres://x"),
              ARGS("key", "create", "--role=worker", "--tenant=acme"));
    FV_ASSERT_INT_EQ(cfg.role, FV_ROLE_WORKER);
    CU_ASSERT_PTR_NULL(cfg.name);
    expect_error(ENV("DATABASE_URL=postgres://x"), ARGS("key", "create", "--tenant", "acme"),
                 "key create needs --role", NULL);
    expect_error(ENV("DATABASE_URL=postgres://x"),
                 ARGS("key", "create", "--tenant", "acme", "--role", "root"),
                 "--role: \"root\" is not a role", "worker, operator or admin");
    expect_error(ENV("DATABASE_URL=postgres://x"), ARGS("key", "create", "--role", "admin"),
                 "key create needs --tenant SLUG", NULL);
    expect_error(ENV("DATABASE_URL=postgres://x"),
                 ARGS("key", "create", "--role", "admin", "--tenant", "Not A Slug"), "--tenant",
                 NULL);

    expect_ok(ENV("DATABASE_URL=postgres://x"), ARGS("key", "list", "--tenant", "acme"));
    FV_ASSERT_INT_EQ(cfg.command, FV_APP_CMD_KEY_LIST);
    FV_ASSERT_STR_EQ(cfg.tenant_slug, "acme");
    expect_error(ENV("DATABASE_URL=postgres://x"),
                 ARGS("key", "list", "--tenant", "acme", "--role", "admin"),
                 "--role is not an option of key list", NULL);
    expect_error(ENV("DATABASE_URL=postgres://x"), ARGS("key", "list", "--tenant", "acme", "x"),
                 "unexpected argument \"x\"", NULL);

    expect_ok(ENV("DATABASE_URL=postgres://x"), ARGS("key", "revoke", "--tenant", "acme", KEY_ID));
    FV_ASSERT_INT_EQ(cfg.command, FV_APP_CMD_KEY_REVOKE);
    FV_ASSERT_STR_EQ(cfg.key_id, KEY_ID);
    expect_error(ENV("DATABASE_URL=postgres://x"), ARGS("key", "revoke", "--tenant", "acme"),
                 "key revoke needs a KEY-ID", NULL);
    expect_error(ENV("DATABASE_URL=postgres://x"),
                 ARGS("key", "revoke", "--tenant", "acme", "flovyn_sk_abc"),
                 "\"flovyn_sk_abc\" is not a key id", NULL);

    expect_error(NULL, ARGS("key"), "key needs a subcommand", NULL);
    expect_error(NULL, ARGS("key", "rotate"), "unknown command \"key rotate\"", NULL);
    expect_error(NULL, ARGS("serve", "--memory", "--tenant", "acme"),
                 "--tenant is not an option of serve", NULL);
    expect_ok(NULL, ARGS("key", "create", "--help"));
    FV_ASSERT_INT_EQ(cfg.command, FV_APP_CMD_HELP);
}

static void test_app_config__memory_flag_beats_a_database_url_in_the_environment(void)
{
    expect_ok(ENV("DATABASE_URL=postgres://x"), ARGS("serve", "--memory"));
    FV_ASSERT_INT_EQ(cfg.storage, FV_APP_STORAGE_MEMORY);
    CU_ASSERT_PTR_NULL(cfg.database_url);
}

static void test_app_config__two_storages_at_one_level_conflict(void)
{
    expect_error(NULL, ARGS("serve", "--memory", "--database-url", "postgres://x"), "--memory",
                 "exclude each other");
    expect_error(ENV("FLOVYN_MEMORY=1", "DATABASE_URL=postgres://x"), ARGS("serve"),
                 "FLOVYN_MEMORY and DATABASE_URL", "exclude each other");
}

/* ---- Invalid values --------------------------------------------------- */

static void test_app_config__bad_durations(void)
{
    static const char *const bad[] = {
        "abc", "10", "1.5s", "-5s", "5 s", "s", "5sec", "5S", "1h-", "", "9999999999999999999d"};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--offline-after=%s", bad[i]);
        expect_error(NULL, ARGS("serve", "--memory", flag), "--offline-after: \"",
                     "is not a duration (e.g. 60s, 5m, 24h)");
    }
    expect_error(NULL, ARGS("serve", "--memory", "--offline-after", "abc"),
                 "--offline-after: \"abc\" is not a duration (e.g. 60s, 5m, 24h)", NULL);
    expect_error(ENV("FLOVYN_STALE_INTERVAL=soon"), ARGS("serve", "--memory"),
                 "FLOVYN_STALE_INTERVAL: \"soon\" is not a duration", NULL);
}

static void test_app_config__durations_out_of_range(void)
{
    expect_error(NULL, ARGS("serve", "--memory", "--activate-interval", "0"),
                 "--activate-interval: \"0\" is out of range", "100ms to 24h");
    expect_error(NULL, ARGS("serve", "--memory", "--stale-interval", "50ms"), "--stale-interval",
                 "out of range");
    expect_error(NULL, ARGS("serve", "--memory", "--retention-interval", "2d"),
                 "--retention-interval", "out of range");
    expect_error(NULL, ARGS("serve", "--memory", "--degraded-after", "0"), "--degraded-after",
                 "out of range");
    expect_error(NULL, ARGS("serve", "--memory", "--shutdown-grace", "11m"), "--shutdown-grace",
                 "out of range (0 to 10m)");
    expect_error(NULL, ARGS("serve", "--memory", "--retention", "3651d"), "--retention",
                 "out of range");
}

static void test_app_config__offline_after_must_exceed_degraded_after(void)
{
    expect_error(NULL, ARGS("serve", "--memory", "--degraded-after", "2m"),
                 "--offline-after (1m) must be longer than --degraded-after (2m)", NULL);
    expect_error(ENV("FLOVYN_OFFLINE_AFTER=45s"), ARGS("serve", "--memory"),
                 "FLOVYN_OFFLINE_AFTER (45s) must be longer than --degraded-after (45s)", NULL);
}

static void test_app_config__bad_listen_addresses(void)
{
    static const char *const bad[] = {
        "9090",    ":9090",        "localhost",  "localhost:",    "host:65536",
        "host:-1", "host:09090",   "host:90a",   "ho st:9090",    "[::1:9090",
        "[]:9090", "[zz::1]:9090", "host:9090:", "http://h:9090", "h_st:1"};

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--grpc-listen=%s", bad[i]);
        expect_error(NULL, ARGS("serve", "--memory", flag), "--grpc-listen: \"",
                     "is not HOST:PORT");
    }
    expect_error(ENV("FLOVYN_HTTP_LISTEN=8000"), ARGS("serve", "--memory"),
                 "FLOVYN_HTTP_LISTEN: \"8000\" is not HOST:PORT", NULL);
}

static void test_app_config__bad_thread_counts(void)
{
    expect_error(NULL, ARGS("serve", "--memory", "--grpc-threads", "0"),
                 "--grpc-threads: \"0\" is out of range (1 to 64)", NULL);
    expect_error(NULL, ARGS("serve", "--memory", "--grpc-threads", "65"), "--grpc-threads",
                 "out of range");
    expect_error(NULL, ARGS("serve", "--memory", "--grpc-threads", "99999999999999999999"),
                 "--grpc-threads", "out of range");
    expect_error(NULL, ARGS("serve", "--memory", "--grpc-threads", "two"),
                 "--grpc-threads: \"two\" is not a whole number", NULL);
    expect_error(NULL, ARGS("serve", "--memory", "--grpc-threads", "-2"),
                 "--grpc-threads: \"-2\" is not a whole number", NULL);
    expect_error(NULL, ARGS("serve", "--memory", "--grpc-threads=-2"), "--grpc-threads: \"-2\"",
                 "not a whole number");
    expect_error(NULL, ARGS("serve", "--memory", "--grpc-threads=2x"), "--grpc-threads: \"2x\"",
                 NULL);
}

static void test_app_config__bad_poll_timeout_max(void)
{
    expect_error(NULL, ARGS("serve", "--memory", "--poll-timeout-max", "3601"),
                 "--poll-timeout-max: \"3601\" is out of range (0 to 3600)", NULL);
    expect_error(NULL, ARGS("serve", "--memory", "--poll-timeout-max", "-1"),
                 "--poll-timeout-max: \"-1\" is not a whole number", NULL);
    expect_error(NULL, ARGS("serve", "--memory", "--poll-timeout-max=30s"),
                 "--poll-timeout-max: \"30s\" is not a whole number", NULL);
    expect_error(NULL, ARGS("serve", "--memory", "--poll-timeout-max"), "--poll-timeout-max",
                 "needs a value (SECONDS)");
    expect_error(ENV("FLOVYN_POLL_TIMEOUT_MAX=forever"), ARGS("serve", "--memory"),
                 "FLOVYN_POLL_TIMEOUT_MAX: \"forever\" is not a whole number", NULL);
    /* The flag beats the environment; both ends of the range are fine. */
    expect_ok(ENV("FLOVYN_POLL_TIMEOUT_MAX=9999"),
              ARGS("serve", "--memory", "--poll-timeout-max", "0"));
    FV_ASSERT_INT_EQ(cfg.poll_timeout_max_s, 0);
    expect_ok(ENV("FLOVYN_POLL_TIMEOUT_MAX=3600"), ARGS("serve", "--memory"));
    FV_ASSERT_INT_EQ(cfg.poll_timeout_max_s, 3600);
}

static void test_app_config__bad_log_levels(void)
{
    expect_error(NULL, ARGS("serve", "--memory", "--log-level", "verbose"),
                 "--log-level: \"verbose\" is not a log level (error, warn, info or debug)", NULL);
    expect_error(ENV("FLOVYN_LOG_LEVEL=trace"), ARGS("serve", "--memory"), "FLOVYN_LOG_LEVEL",
                 "not a log level");
}

static void test_app_config__credentials_file_needs_dev(void)
{
    expect_error(NULL, ARGS("serve", "--memory", "--credentials-file", "c.json"),
                 "--credentials-file needs --dev", NULL);
    expect_error(NULL, ARGS("serve", "--memory", "--dev", "--credentials-file="),
                 "--credentials-file: the value is empty", NULL);
}

static void test_app_config__bad_command_lines(void)
{
    expect_error(NULL, ARGS("serve", "--memory", "--frobnicate"), "unknown option \"--frobnicate\"",
                 "--help");
    expect_error(NULL, ARGS("serve", "--memory", "extra"), "unexpected argument \"extra\"", NULL);
    expect_error(NULL, ARGS("serve", "--memory", "-x"), "unexpected argument \"-x\"", NULL);
    expect_error(NULL, ARGS("serve", "--memory=yes"), "--memory takes no value", NULL);
    expect_error(NULL, ARGS("serve", "--memory", "--grpc-listen"),
                 "--grpc-listen needs a value (HOST:PORT)", NULL);
    expect_error(NULL, ARGS("serve", "--grpc-listen", "--memory"), "--grpc-listen needs a value",
                 NULL);
    expect_error(NULL, ARGS("start"), "unknown command \"start\"",
                 "serve, migrate, tenant, key, version, help");
    expect_error(NULL, ARGS("--memory", "serve"), "\"--memory\" comes before the command", NULL);
    expect_error(NULL, ARGS("version", "--memory"), "version takes no arguments", NULL);
    {
        char *argv[] = {(char *)"flovyn-server", NULL};
        FV_ASSERT_INT_EQ(fv_app_config_parse(1, argv, NULL, NULL, &cfg, &err), FV_E_INVALID);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "missing command"));
    }
}

/* ---- Commands ------------------------------------------------------ */

static void test_app_config__help_and_version(void)
{
    const char *const *const help[] = {ARGS("--help"), ARGS("-h"), ARGS("help"),
                                       ARGS("serve", "--help"), ARGS("serve", "--bogus", "-h")};

    for (size_t i = 0; i < sizeof help / sizeof help[0]; i++) {
        expect_ok(NULL, help[i]);
        FV_ASSERT_INT_EQ(cfg.command, FV_APP_CMD_HELP);
    }
    expect_ok(NULL, ARGS("version"));
    FV_ASSERT_INT_EQ(cfg.command, FV_APP_CMD_VERSION);
    expect_ok(NULL, ARGS("--version"));
    FV_ASSERT_INT_EQ(cfg.command, FV_APP_CMD_VERSION);
    CU_ASSERT_TRUE(strlen(fv_app_version()) > 0);
}

static void test_app_config__help_names_every_option_variable_and_default(void)
{
    static const char *const needles[] = {
        "--memory",
        "FLOVYN_MEMORY",
        "--database-url URL",
        "DATABASE_URL",
        "--grpc-listen HOST:PORT",
        "FLOVYN_GRPC_LISTEN, default 127.0.0.1:9090",
        "--http-listen HOST:PORT",
        "FLOVYN_HTTP_LISTEN, default 127.0.0.1:8000",
        "--degraded-after",
        "FLOVYN_DEGRADED_AFTER, default 45s",
        "--offline-after",
        "FLOVYN_OFFLINE_AFTER, default 1m",
        "--retention",
        "FLOVYN_RETENTION, default 24h",
        "--activate-interval",
        "FLOVYN_ACTIVATE_INTERVAL, default 10s",
        "--stale-interval",
        "FLOVYN_STALE_INTERVAL, default 30s",
        "--availability-interval",
        "FLOVYN_AVAILABILITY_INTERVAL, default 30s",
        "--retention-interval",
        "FLOVYN_RETENTION_INTERVAL, default 5m",
        "--grpc-threads N",
        "FLOVYN_GRPC_THREADS, default 2",
        "--poll-timeout-max SECONDS",
        "FLOVYN_POLL_TIMEOUT_MAX, default 60",
        "--shutdown-grace",
        "FLOVYN_SHUTDOWN_GRACE, default 5s",
        "--log-level LEVEL",
        "FLOVYN_LOG_LEVEL, default info",
        "--dev",
        "FLOVYN_DEV",
        "--credentials-file PATH",
        "FLOVYN_CREDENTIALS_FILE",
        "--db-pool-size N",
        "FLOVYN_DB_POOL_SIZE, default 8",
        "--no-migrate",
        "FLOVYN_NO_MIGRATE, default off",
        "flovyn-server migrate",
        "flovyn-server tenant create SLUG [--name NAME]",
        "flovyn-server key create --tenant SLUG --role ROLE [--name NAME]",
        "flovyn-server key list --tenant SLUG",
        "flovyn-server key revoke --tenant SLUG KEY-ID",
        "--tenant SLUG",
        "--role ROLE",
        "--name NAME",
        "--slug SLUG",
    };
    static char text[16384];
    FILE *f = tmpfile();
    size_t n;

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fv_app_usage(f);
    rewind(f);
    n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    CU_ASSERT(n > 0 && n < sizeof text - 1);
    text[n] = '\0';
    for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++) {
        if (strstr(text, needles[i]) == NULL) {
            fprintf(stderr, "\n  help lacks \"%s\"\n", needles[i]);
            CU_FAIL("help text incomplete");
        }
    }
    /* Fits a terminal. */
    for (const char *line = text; *line != '\0';) {
        const char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
        CU_ASSERT(len <= 80);
        line += len + (nl != NULL ? 1 : 0);
    }
}

/* ---- Parsers ----------------------------------------------------------- */

static void test_app_config__duration_parse(void)
{
    static const struct {
        const char *s;
        int64_t ms;
    } good[] = {{"0", 0},           {"1ms", 1},      {"250ms", 250},    {"1s", 1000},
                {"60s", 60000},     {"5m", 300000},  {"24h", 86400000}, {"2d", 172800000},
                {"1h30m", 5400000}, {"1m0s", 60000}, {"0s", 0},         {"1s500ms", 1500}};
    int64_t ms = -1;

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ms = -1;
        CU_ASSERT_TRUE(fv_app_duration_parse(good[i].s, &ms));
        FV_ASSERT_INT_EQ(ms, good[i].ms);
    }
    ms = 7;
    CU_ASSERT_FALSE(fv_app_duration_parse(NULL, &ms));
    CU_ASSERT_FALSE(fv_app_duration_parse("", &ms));
    CU_ASSERT_FALSE(fv_app_duration_parse("1y", &ms));
    CU_ASSERT_FALSE(fv_app_duration_parse("36526d", &ms)); /* beyond 100 years */
    FV_ASSERT_INT_EQ(ms, 7);
}

static void test_app_config__duration_format(void)
{
    char buf[FV_APP_DURATION_STR_MAX];

    FV_ASSERT_STR_EQ(fv_app_duration_format(0, buf), "0");
    FV_ASSERT_STR_EQ(fv_app_duration_format(250, buf), "250ms");
    FV_ASSERT_STR_EQ(fv_app_duration_format(45000, buf), "45s");
    FV_ASSERT_STR_EQ(fv_app_duration_format(60000, buf), "1m");
    FV_ASSERT_STR_EQ(fv_app_duration_format(90000, buf), "1m30s");
    FV_ASSERT_STR_EQ(fv_app_duration_format(86400000, buf), "24h");
    FV_ASSERT_STR_EQ(fv_app_duration_format(2 * 86400000LL + 1, buf), "2d1ms");
}

static void test_app_config__listen_parse(void)
{
    char host[64];
    int port = -1;

    CU_ASSERT_TRUE(fv_app_listen_parse("127.0.0.1:9090", host, sizeof host, &port));
    FV_ASSERT_STR_EQ(host, "127.0.0.1");
    FV_ASSERT_INT_EQ(port, 9090);
    CU_ASSERT_TRUE(fv_app_listen_parse("[::1]:0", host, sizeof host, &port));
    FV_ASSERT_STR_EQ(host, "[::1]");
    FV_ASSERT_INT_EQ(port, 0);
    CU_ASSERT_TRUE(fv_app_listen_parse("my-host.example:65535", NULL, 0, &port));
    FV_ASSERT_INT_EQ(port, 65535);
    CU_ASSERT_FALSE(fv_app_listen_parse("averyveryverylonghostname.example:1", host, 8, &port));
    CU_ASSERT_FALSE(fv_app_listen_parse(NULL, NULL, 0, NULL));
}

static const fv_test_case cases[] = {
    FV_TEST_CASE(test_app_config__defaults),
    FV_TEST_CASE(test_app_config__every_option_as_a_flag),
    FV_TEST_CASE(test_app_config__environment_applies_when_no_flag),
    FV_TEST_CASE(test_app_config__flags_override_the_environment),
    FV_TEST_CASE(test_app_config__a_flag_hides_a_bad_environment_value),
    FV_TEST_CASE(test_app_config__the_last_flag_wins),
    FV_TEST_CASE(test_app_config__empty_environment_values_count_as_unset),
    FV_TEST_CASE(test_app_config__boolean_environment_values),
    FV_TEST_CASE(test_app_config__storage_must_be_chosen),
    FV_TEST_CASE(test_app_config__database_url_selects_postgres),
    FV_TEST_CASE(test_app_config__pool_size_and_no_migrate),
    FV_TEST_CASE(test_app_config__migrate_command),
    FV_TEST_CASE(test_app_config__tenant_create_command),
    FV_TEST_CASE(test_app_config__key_commands),
    FV_TEST_CASE(test_app_config__memory_flag_beats_a_database_url_in_the_environment),
    FV_TEST_CASE(test_app_config__two_storages_at_one_level_conflict),
    FV_TEST_CASE(test_app_config__bad_durations),
    FV_TEST_CASE(test_app_config__durations_out_of_range),
    FV_TEST_CASE(test_app_config__offline_after_must_exceed_degraded_after),
    FV_TEST_CASE(test_app_config__bad_listen_addresses),
    FV_TEST_CASE(test_app_config__bad_thread_counts),
    FV_TEST_CASE(test_app_config__bad_poll_timeout_max),
    FV_TEST_CASE(test_app_config__bad_log_levels),
    FV_TEST_CASE(test_app_config__credentials_file_needs_dev),
    FV_TEST_CASE(test_app_config__bad_command_lines),
    FV_TEST_CASE(test_app_config__help_and_version),
    FV_TEST_CASE(test_app_config__help_names_every_option_variable_and_default),
    FV_TEST_CASE(test_app_config__duration_parse),
    FV_TEST_CASE(test_app_config__duration_format),
    FV_TEST_CASE(test_app_config__listen_parse),
};

int main(void)
{
    return fv_test_run("app_config", cases, FV_TEST_COUNT(cases));
}
