/*
 * The database commands of flovyn-server (config.h): `migrate`, `tenant
 * create`, `key create`, `key list`, `key revoke`. Each opens the database
 * of cfg->database_url, runs one core use case or query (the same ones the
 * REST admin routes run), prints the result and gives the exit status.
 *
 * `migrate` applies the migrations embedded in this binary and reports what
 * it did. The other commands never migrate: a database that lacks
 * migrations is refused ("run flovyn-server migrate").
 *
 * Output: results on `out`, what happened in words on `msg`, as are
 * failures ("flovyn-server: <reason>"). `key create` prints the key text
 * alone on its line (KEY=$(flovyn-server key create ...) works); `tenant
 * create` prints three lines "tenant     <slug>", "id         <uuid>" and
 * "admin key  <text>"; `key list` a table (id, role, name, prefix, created,
 * revoked), never a key text.
 */
#ifndef FV_APP_ADMIN_H
#define FV_APP_ADMIN_H

#include <stdio.h>

#include "app/config.h"

/* Run cfg->command (one of the database commands). Returns 0 on success, 1
 * on failure (database unreachable, tenant or key not found, slug taken,
 * schema not migrated...). */
int fv_app_admin_run(const fv_app_config *cfg, FILE *out, FILE *msg);

#endif
