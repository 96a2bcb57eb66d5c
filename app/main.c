/*
 * flovyn-server: parse the command line and the environment, then run the
 * command. Exit status 2 for a bad command line or environment.
 */
#include <stdio.h>
#include <stdlib.h>

#include "app/admin.h"
#include "app/config.h"
#include "app/serve.h"

static const char *process_env(void *user, const char *name)
{
    (void)user;
    return getenv(name);
}

int main(int argc, char **argv)
{
    fv_app_config cfg;
    fv_error err;

    if (fv_app_config_parse(argc, argv, process_env, NULL, &cfg, &err) != FV_OK) {
        fprintf(stderr, "flovyn-server: %s\n", err.msg);
        return 2;
    }
    switch (cfg.command) {
    case FV_APP_CMD_HELP:
        fv_app_usage(stdout);
        return 0;
    case FV_APP_CMD_VERSION:
        printf("flovyn-server %s\n", fv_app_version());
        return 0;
    case FV_APP_CMD_SERVE:
        return fv_app_serve(&cfg);
    case FV_APP_CMD_MIGRATE:
    case FV_APP_CMD_TENANT_CREATE:
    case FV_APP_CMD_KEY_CREATE:
    case FV_APP_CMD_KEY_LIST:
    case FV_APP_CMD_KEY_REVOKE:
        return fv_app_admin_run(&cfg, stdout, stderr);
    }
    return 2;
}
