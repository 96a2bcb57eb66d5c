/* The database commands: migrate, tenant create, key create/list/revoke
 * (admin.h). */
#include "app/admin.h"

#include <inttypes.h>
#include <string.h>

#include "adapters/postgres/migrate.h"
#include "adapters/postgres/pg.h"
#include "app/bundle.h"
#include "app/log.h"
#include "core/queries/tenant_queries.h"
#include "core/tenant.h"
#include "core/usecases/auth_usecases.h"
#include "core/usecases/tenant_usecases.h"
#include "core/util/arena.h"
#include "core/util/time.h"
#include "core/util/uuid.h"

static int fail(FILE *msg, fv_err rc, const fv_error *err)
{
    fprintf(msg, "flovyn-server: %s\n", fv_error_message(err, rc));
    return 1;
}

static int run_migrate(const fv_app_config *cfg, FILE *out, FILE *msg)
{
    fv_pg_pool_config pcfg;
    fv_pg_migrate_report rep;
    fv_error err;
    size_t n = 0;
    const fv_pg_migration *list = fv_pg_migrations(&n);

    memset(&pcfg, 0, sizeof pcfg);
    pcfg.url = cfg->database_url;
    pcfg.size = 1;
    pcfg.log = fv_app_log_pg;
    fv_pg_pool *pool = fv_pg_pool_new(&pcfg, &err);
    if (pool == NULL)
        return fail(msg, err.code, &err);
    fv_err rc = fv_pg_migrate(pool, list, n, &rep, &err);
    fv_pg_pool_free(pool);
    /* What was applied, also when a later migration failed. */
    for (size_t i = 0; i < n; i++)
        if (list[i].version > rep.from_version && list[i].version <= rep.to_version)
            fprintf(out, "applied %04" PRId64 "_%s\n", list[i].version, list[i].name);
    if (rc != FV_OK)
        return fail(msg, rc, &err);
    if (rep.applied == 0)
        fprintf(out, "the database is up to date (version %" PRId64 ", %zu migrations)\n",
                rep.to_version, rep.already);
    else
        fprintf(out, "the database is now at version %" PRId64 " (%zu applied, %zu before)\n",
                rep.to_version, rep.applied, rep.already);
    return 0;
}

/* A display name on one line: control characters become '?'. */
static void print_clean(FILE *out, const char *s, int width)
{
    int n = 0;
    for (; s != NULL && *s != '\0'; s++, n++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
    for (; n < width; n++)
        fputc(' ', out);
}

static int list_keys(const fv_deps *d, fv_arena *a, const fv_tenant *t, FILE *out, FILE *msg)
{
    fv_api_key_list keys = {NULL, 0};
    fv_error err;
    fv_err rc = fv_query_api_keys(d, a, &t->id, &keys, &err);
    int name_w = 4;

    if (rc != FV_OK)
        return fail(msg, rc, &err);
    for (size_t i = 0; i < keys.n; i++) {
        size_t len = keys.items[i].name != NULL ? strlen(keys.items[i].name) : 0;
        if (len > (size_t)name_w)
            name_w = len > 64 ? 64 : (int)len;
    }
    fprintf(out, "%-36s  %-8s  ", "ID", "ROLE");
    print_clean(out, "NAME", name_w);
    fprintf(out, "  %-16s  %-24s  %s\n", "PREFIX", "CREATED", "REVOKED");
    for (size_t i = 0; i < keys.n; i++) {
        const fv_api_key *k = &keys.items[i];
        char id[FV_UUID_STR_LEN + 1], created[FV_TIME_STR_MAX], revoked[FV_TIME_STR_MAX];
        const char *role = fv_role_name(k->role);

        fv_uuid_format(&k->id, id);
        if (fv_time_format(k->created_at, created) == 0)
            snprintf(created, sizeof created, "-");
        if (k->revoked_at == FV_TIME_NONE || fv_time_format(k->revoked_at, revoked) == 0)
            snprintf(revoked, sizeof revoked, "-");
        fprintf(out, "%-36s  %-8s  ", id, role != NULL ? role : "?");
        print_clean(out, k->name, name_w);
        fprintf(out, "  %-16s  %-24s  %s\n", k->prefix != NULL ? k->prefix : "-", created, revoked);
    }
    fprintf(msg, "%zu key%s of tenant \"%s\"\n", keys.n, keys.n == 1 ? "" : "s", t->slug);
    return 0;
}

static int run_on_store(const fv_app_config *cfg, const fv_deps *d, fv_arena *a, FILE *out,
                        FILE *msg)
{
    fv_tenant tenant;
    fv_issued_key key;
    fv_error err;
    fv_err rc;
    char id[FV_UUID_STR_LEN + 1];

    if (cfg->command == FV_APP_CMD_TENANT_CREATE) {
        const char *name = cfg->name != NULL ? cfg->name : cfg->tenant_slug;
        rc = fv_tenant_create_with_key(d, a, cfg->tenant_slug, name, &tenant, &key, &err);
        if (rc != FV_OK)
            return fail(msg, rc, &err);
        fv_uuid_format(&tenant.id, id);
        fprintf(out,
                "tenant     %s\n"
                "id         %s\n"
                "admin key  %s\n",
                tenant.slug, id, key.text);
        fprintf(msg,
                "created tenant \"%s\" and its first admin key, shown once: keep it safe (the "
                "id is the org_id of workers' gRPC requests)\n",
                tenant.slug);
        return 0;
    }

    rc = fv_query_tenant_by_slug(d, a, cfg->tenant_slug, &tenant, &err);
    if (rc != FV_OK)
        return fail(msg, rc, &err);
    switch (cfg->command) {
    case FV_APP_CMD_KEY_CREATE: {
        char def[64];
        snprintf(def, sizeof def, "%s key", fv_role_name(cfg->role));
        rc = fv_api_key_issue(d, a, &tenant.id, cfg->role, cfg->name != NULL ? cfg->name : def,
                              &key, &err);
        if (rc != FV_OK)
            return fail(msg, rc, &err);
        fv_uuid_format(&key.key.id, id);
        fprintf(out, "%s\n", key.text);
        fprintf(msg, "created %s key %s of tenant \"%s\", printed once: keep it safe\n",
                fv_role_name(cfg->role), id, tenant.slug);
        return 0;
    }
    case FV_APP_CMD_KEY_LIST:
        return list_keys(d, a, &tenant, out, msg);
    case FV_APP_CMD_KEY_REVOKE: {
        fv_uuid kid;
        if (!fv_uuid_parse(cfg->key_id, strlen(cfg->key_id), &kid))
            return fail(msg, FV_E_INVALID, NULL);
        rc = fv_api_key_revoke(d, &tenant.id, &kid, &err);
        if (rc != FV_OK)
            return fail(msg, rc, &err);
        fv_uuid_format(&kid, id);
        fprintf(msg, "revoked key %s of tenant \"%s\"\n", id, tenant.slug);
        return 0;
    }
    case FV_APP_CMD_SERVE:
    case FV_APP_CMD_HELP:
    case FV_APP_CMD_VERSION:
    case FV_APP_CMD_MIGRATE:
    case FV_APP_CMD_TENANT_CREATE:
        break;
    }
    fprintf(msg, "flovyn-server: not a database command\n");
    return 1;
}

int fv_app_admin_run(const fv_app_config *cfg, FILE *out, FILE *msg)
{
    fv_app_bundle bundle;
    fv_arena arena;
    fv_error err;
    int status;

    fv_app_log_set_level(cfg->log_level);
    if (cfg->command == FV_APP_CMD_MIGRATE)
        return run_migrate(cfg, out, msg);

    fv_err rc = fv_app_bundle_open_postgres(cfg, &bundle, NULL, &err);
    if (rc != FV_OK)
        return fail(msg, rc, &err);
    fv_arena_init(&arena, 0);
    status = run_on_store(cfg, &bundle.deps, &arena, out, msg);
    fflush(out);
    fv_arena_release(&arena);
    fv_app_bundle_close(&bundle);
    return status;
}
