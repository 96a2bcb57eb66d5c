/* The process log: structured lines on stderr (see log.h). */
#include "app/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/util/time.h"

/* Longest line written, newline included; longer messages are cut. */
#define LOG_LINE_MAX 2048

/* The process-wide level and the lock that keeps lines whole. */
static atomic_int log_threshold = FV_APP_LOG_INFO;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

const char *fv_app_log_level_name(fv_app_log_level l)
{
    switch (l) {
    case FV_APP_LOG_ERROR:
        return "error";
    case FV_APP_LOG_WARN:
        return "warn";
    case FV_APP_LOG_INFO:
        return "info";
    case FV_APP_LOG_DEBUG:
        return "debug";
    }
    return NULL;
}

/* The column shown in a line: upper case, padded to five. */
static const char *level_column(fv_app_log_level l)
{
    switch (l) {
    case FV_APP_LOG_ERROR:
        return "ERROR";
    case FV_APP_LOG_WARN:
        return "WARN ";
    case FV_APP_LOG_INFO:
        return "INFO ";
    case FV_APP_LOG_DEBUG:
        return "DEBUG";
    }
    return "?    ";
}

bool fv_app_log_level_parse(const char *s, fv_app_log_level *out)
{
    static const fv_app_log_level all[] = {FV_APP_LOG_ERROR, FV_APP_LOG_WARN, FV_APP_LOG_INFO,
                                           FV_APP_LOG_DEBUG};

    if (s == NULL)
        return false;
    if (strcasecmp(s, "warning") == 0) {
        *out = FV_APP_LOG_WARN;
        return true;
    }
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcasecmp(s, fv_app_log_level_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

void fv_app_log_set_level(fv_app_log_level l)
{
    atomic_store(&log_threshold, (int)l);
}

bool fv_app_log_enabled(fv_app_log_level l)
{
    return (int)l <= atomic_load(&log_threshold);
}

void fv_app_vlog(fv_app_log_level level, const char *fmt, va_list ap)
{
    char line[LOG_LINE_MAX];
    char stamp[FV_TIME_STR_MAX];
    struct timespec ts;
    size_t head, n;
    int m;

    if (!fv_app_log_enabled(level))
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (fv_time_format((fv_time)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, stamp) == 0)
        snprintf(stamp, sizeof stamp, "-");
    m = snprintf(line, sizeof line, "%s %s ", stamp, level_column(level));
    head = m > 0 ? (size_t)m : 0;
    m = vsnprintf(line + head, sizeof line - head - 1, fmt, ap);
    if (m < 0) {
        n = head + (size_t)snprintf(line + head, sizeof line - head - 1, "(unformattable message)");
    } else if ((size_t)m >= sizeof line - head - 1) {
        /* Cut: end with "..." (a UTF-8 sequence may be cut short). */
        n = sizeof line - 2;
        memcpy(line + n - 3, "...", 3);
    } else {
        n = head + (size_t)m;
    }
    /* One event, one line. */
    for (size_t i = head; i < n; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 || c == 0x7f)
            line[i] = '?';
    }
    line[n++] = '\n';

    pthread_mutex_lock(&log_mu);
    fwrite(line, 1, n, stderr);
    fflush(stderr);
    pthread_mutex_unlock(&log_mu);
}

void fv_app_log(fv_app_log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fv_app_vlog(level, fmt, ap);
    va_end(ap);
}

void fv_app_log_grpc(void *user, fv_grpc_log_level level, const char *msg)
{
    fv_app_log_level l = FV_APP_LOG_ERROR;

    (void)user;
    switch (level) {
    case FV_GRPC_LOG_ERROR:
        l = FV_APP_LOG_ERROR;
        break;
    case FV_GRPC_LOG_WARN:
        l = FV_APP_LOG_WARN;
        break;
    case FV_GRPC_LOG_INFO:
        l = FV_APP_LOG_INFO;
        break;
    case FV_GRPC_LOG_DEBUG:
        l = FV_APP_LOG_DEBUG;
        break;
    }
    fv_app_log(l, "grpc %s", msg != NULL ? msg : "(no message)");
}

void fv_app_log_http(void *user, fv_http_log_level level, const char *msg)
{
    fv_app_log_level l = FV_APP_LOG_ERROR;

    (void)user;
    switch (level) {
    case FV_HTTP_LOG_ERROR:
        l = FV_APP_LOG_ERROR;
        break;
    case FV_HTTP_LOG_WARN:
        l = FV_APP_LOG_WARN;
        break;
    case FV_HTTP_LOG_INFO:
        l = FV_APP_LOG_INFO;
        break;
    case FV_HTTP_LOG_DEBUG:
        l = FV_APP_LOG_DEBUG;
        break;
    }
    fv_app_log(l, "http %s", msg != NULL ? msg : "(no message)");
}

void fv_app_log_pg(void *user, fv_pg_log_level level, const char *msg)
{
    fv_app_log_level l = FV_APP_LOG_ERROR;

    (void)user;
    switch (level) {
    case FV_PG_LOG_ERROR:
        l = FV_APP_LOG_ERROR;
        break;
    case FV_PG_LOG_WARN:
        l = FV_APP_LOG_WARN;
        break;
    case FV_PG_LOG_INFO:
        l = FV_APP_LOG_INFO;
        break;
    }
    fv_app_log(l, "db %s", msg != NULL ? msg : "(no message)");
}
