/*
 * flovyn: the process around fv_cli_main (cli/cli.h). Process-wide setup
 * lives here and only here (STYLE rule 24): libcurl's global init before
 * anything else, a SIGINT/SIGTERM handler that asks a request in flight and
 * --watch to stop (a second signal ends the process at once), and the real
 * environment, clock and streams.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli/cli.h"

/* Set by the first SIGINT or SIGTERM; the only mutable global of the CLI. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    if (stop_requested) {
        /* Second signal: end now, as the default action would. */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_requested = 1;
}

static const char *real_getenv(void *user, const char *name)
{
    (void)user;
    return getenv(name);
}

int main(int argc, char *argv[])
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fputs("flovyn: could not initialise libcurl\n", stderr);
        return FV_CLI_EXIT_FAILED;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    fv_cli_io io = {
        .out = stdout,
        .err = stderr,
        .getenv_fn = real_getenv,
        .env_user = NULL,
        .out_is_tty = isatty(STDOUT_FILENO) == 1,
        .stop = &stop_requested,
    };
    int status = fv_cli_main(argc, argv, &io);
    curl_global_cleanup();
    return status;
}
