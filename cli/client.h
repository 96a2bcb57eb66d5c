/*
 * The REST client library of the `flovyn` CLI (seed 000 "REST client
 * updates"): one function per discovery route of spec/rest-api.md, on
 * libcurl and jansson. It knows URLs, headers, status codes and the error
 * JSON; it knows nothing of tables or flags.
 *
 * Every call answers FV_OK with a response (the body as sent, the parsed
 * JSON, the X-Total-Count of lists) or an error that says what went wrong in
 * a sentence fit for a user:
 *
 *   - the server said no (HTTP status >= 400): `http_status`, the server's
 *     `{"error": {"code", "message"}}` (`server_code`, `msg`), and `code`, the
 *     server's code mapped back onto our error table (core/util/error.h);
 *   - no answer: "could not connect to http://localhost:8000: Connection
 *     refused; is flovyn-server running? (--server / FLOVYN_SERVER)",
 *     with FV_E_UNAVAILABLE (or FV_E_TIMEOUT when the time ran out);
 *   - an answer that is not what the API promises (not JSON, too large):
 *     FV_E_INTERNAL;
 *   - interrupted through cfg.cancel: FV_E_ABORTED.
 *
 * Path segments and query values are percent-encoded (curl_easy_escape).
 * A client is one connection cache (kept alive between calls, as --watch
 * repeats them); it is not thread-safe. The process calls
 * curl_global_init before the first client is opened (cli/main.c).
 */
#ifndef FV_CLI_CLIENT_H
#define FV_CLI_CLIENT_H

#include <signal.h>
#include <stddef.h>

#include <jansson.h>

#include "core/util/error.h"

typedef struct fv_cli_client fv_cli_client;

typedef struct fv_cli_client_config {
    const char *server;      /* base URL, http:// or https:// (a trailing / is ignored) */
    const char *tenant;      /* tenant slug of the /api/tenants/{slug} prefix */
    const char *api_key;     /* sent as "Authorization: Bearer <key>"; NULL sends none */
    long connect_timeout_ms; /* 0: 5 s */
    long timeout_ms;         /* whole request; 0: 30 s */
    const char *user_agent;  /* NULL: "flovyn-cli" */
    /* When set and non-zero (a SIGINT handler sets it), a request in flight
     * stops within about a second with FV_E_ABORTED ("interrupted"). */
    const volatile sig_atomic_t *cancel;
} fv_cli_client_config;

/* Largest body accepted from the server. */
#define FV_CLI_MAX_BODY ((size_t)64 * 1024 * 1024)

typedef struct fv_cli_error {
    fv_err code;          /* FV_OK when there is no error */
    long http_status;     /* 0 when no HTTP answer came */
    char server_code[48]; /* error.code as the server sent it; "" when none */
    char msg[768];        /* the whole sentence to show */
} fv_cli_error;

typedef struct fv_cli_response {
    long http_status; /* 2xx */
    char *body;       /* the body as sent, NUL-terminated; owned, see release */
    size_t body_len;
    json_t *json;    /* the body parsed; owned (a new reference) */
    long long total; /* X-Total-Count of a list; -1 when absent */
} fv_cli_response;

/* Free what a response holds (NULL-safe); it is zeroed. */
void fv_cli_response_release(fv_cli_response *r);

/*
 * A client for cfg (strings are copied). FV_E_INVALID when the server URL is
 * not http:// or https://, the tenant is empty or the key holds a control
 * character; FV_E_EXHAUSTED when memory or libcurl setup fails. *out is NULL
 * on failure.
 */
fv_err fv_cli_client_open(const fv_cli_client_config *cfg, fv_cli_client **out, fv_cli_error *err);

/* Close the connections and free the client (NULL-safe). */
void fv_cli_client_close(fv_cli_client *c);

/* The base URL in use, without a trailing slash (borrowed). */
const char *fv_cli_client_server(const fv_cli_client *c);

/* Which definitions: /workflow-definitions or /task-definitions. */
typedef enum fv_cli_def_class {
    FV_CLI_DEF_WORKFLOW = 1,
    FV_CLI_DEF_TASK = 2,
} fv_cli_def_class;

/* Filters of GET P/workers; NULL strings and negative numbers are not sent
 * (the server's defaults apply). Values go out as given. */
typedef struct fv_cli_worker_query {
    const char *type;   /* WORKFLOW | TASK | UNIFIED */
    const char *status; /* ONLINE | DEGRADED | OFFLINE */
    const char *space;  /* space id */
    long long limit;
    long long offset;
} fv_cli_worker_query;

/* Filters of GET P/workflow-definitions and P/task-definitions, likewise. */
typedef struct fv_cli_definition_query {
    const char *availability; /* AVAILABLE | DEGRADED | UNAVAILABLE */
    const char *tag;
    const char *space;
    long long limit;
    long long offset;
} fv_cli_definition_query;

/* GET P/workers: a JSON array, out->total from X-Total-Count. q may be NULL. */
fv_err fv_cli_list_workers(fv_cli_client *c, const fv_cli_worker_query *q, fv_cli_response *out,
                           fv_cli_error *err);

/* GET P/workers/{id}: {"worker", "workflowCapabilities", "taskCapabilities"}. */
fv_err fv_cli_get_worker(fv_cli_client *c, const char *worker_id, fv_cli_response *out,
                         fv_cli_error *err);

/* GET P/{workflow,task}-definitions: a JSON array with X-Total-Count. q may be NULL. */
fv_err fv_cli_list_definitions(fv_cli_client *c, fv_cli_def_class cls,
                               const fv_cli_definition_query *q, fv_cli_response *out,
                               fv_cli_error *err);

/* GET P/{workflow,task}-definitions/{kind}: the definition with workers (and
 * versions for workflows). */
fv_err fv_cli_get_definition(fv_cli_client *c, fv_cli_def_class cls, const char *kind,
                             fv_cli_response *out, fv_cli_error *err);

/* PATCH P/{workflow,task}-definitions/{kind}/configuration with `patch` (a
 * JSON object, borrowed) as the body: the updated definition. */
fv_err fv_cli_configure_definition(fv_cli_client *c, fv_cli_def_class cls, const char *kind,
                                   const json_t *patch, fv_cli_response *out, fv_cli_error *err);

#endif
