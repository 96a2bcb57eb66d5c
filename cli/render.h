/*
 * What the CLI shows in table mode (spec/cli.md, seed 000's examples): tables
 * with columns sized to their content and two spaces between them, relative
 * times ("2s ago"), `-` for empty or null cells, and key/value blocks for
 * one worker or definition. Pure functions of the server's JSON and `now`,
 * so tests compare their text with expected files; no color at all.
 *
 * Renderers are tolerant: an absent or null member shows `-`; a member of an
 * unexpected type shows as compact JSON. Text from the server is shown with
 * control characters replaced, so that a worker name cannot drive the
 * terminal. They answer FV_OK, FV_E_EXHAUSTED (out of memory), or
 * FV_E_INTERNAL when the answer is not the shape the route promises (a list
 * that is not an array).
 */
#ifndef FV_CLI_RENDER_H
#define FV_CLI_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "cli/buf.h"
#include "cli/client.h"
#include "core/util/arena.h"
#include "core/util/error.h"
#include "core/util/time.h"

/* "2s ago", "5m ago", "3h ago", "2d ago" (whole units, rounded down); "in 5m"
 * for a time more than a second ahead of now (another clock's skew). */
#define FV_CLI_RELTIME_MAX 32
void fv_cli_relative_time(fv_time now, fv_time t, char out[FV_CLI_RELTIME_MAX]);

/* Display width of UTF-8 text: its code points (wide characters count one). */
size_t fv_cli_text_width(const char *s);

/* A table: headers, then rows of as many cells, rendered with every column
 * as wide as its widest cell, two spaces apart, the last one unpadded. */
typedef struct fv_cli_table {
    fv_arena *a;
    const char *const *headers;
    size_t ncols;
    const char **cells; /* rows * ncols, in the arena */
    size_t rows;
    size_t cap;
    bool failed; /* out of memory: render fails */
} fv_cli_table;

void fv_cli_table_init(fv_cli_table *t, fv_arena *a, const char *const *headers, size_t ncols);

/* Add a row of ncols cells (copied, control characters replaced; NULL or ""
 * shows `-`). */
void fv_cli_table_add(fv_cli_table *t, const char *const *cells);

/* Each line starts with indent. FV_E_EXHAUSTED when the table or out failed. */
fv_err fv_cli_table_render(const fv_cli_table *t, const char *indent, fv_cli_buf *out);

/* `flovyn workers list`: WORKER ID, NAME, TYPE, STATUS, LAST HEARTBEAT. */
fv_err fv_cli_render_workers(fv_arena *a, const json_t *list, fv_time now, fv_cli_buf *out,
                             fv_error *err);

/* `flovyn workers get`: the worker, then its workflow and task capabilities. */
fv_err fv_cli_render_worker(fv_arena *a, const json_t *detail, fv_time now, fv_cli_buf *out,
                            fv_error *err);

/* `flovyn workflows|tasks definitions`: KIND, NAME, STATUS, WORKERS (and
 * VERSIONS for workflows: the item's versions, else its latestVersion). */
fv_err fv_cli_render_definitions(fv_arena *a, fv_cli_def_class cls, const json_t *list, fv_time now,
                                 fv_cli_buf *out, fv_error *err);

/* `... definitions <kind>` and `... configure`: one definition (and its
 * workers when the answer lists them). */
fv_err fv_cli_render_definition(fv_arena *a, fv_cli_def_class cls, const json_t *def, fv_time now,
                                fv_cli_buf *out, fv_error *err);

#endif
