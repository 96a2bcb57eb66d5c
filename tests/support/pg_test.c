/* A fresh database per test executable on the ctest cluster (pg_test.h). */
#include "tests/support/pg_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

static int read_url(char *out, size_t cap)
{
    const char *path = getenv("FLOVYN_TEST_PG_URL_FILE");
    FILE *f;
    size_t n;

    if (path == NULL || path[0] == '\0') {
        fprintf(stderr, "pg_test: FLOVYN_TEST_PG_URL_FILE is not set: run this test through "
                        "ctest, which starts the PostgreSQL test cluster (fixture \"pg\")\n");
        return -1;
    }
    f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr,
                "pg_test: could not open \"%s\": is the test cluster running? "
                "(scripts/pg-test-cluster.sh start)\n",
                path);
        return -1;
    }
    n = fread(out, 1, cap - 1, f);
    fclose(f);
    out[n] = '\0';
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
        out[--n] = '\0';
    if (n == 0) {
        fprintf(stderr, "pg_test: \"%s\" is empty\n", path);
        return -1;
    }
    return 0;
}

/* Append `key='value'` (quotes and backslashes escaped) to out. */
static int append_kv(char *out, size_t cap, const char *key, const char *value)
{
    size_t o = strlen(out);
    int w = snprintf(out + o, cap - o, "%s%s='", o > 0 ? " " : "", key);
    if (w < 0 || (size_t)w >= cap - o)
        return -1;
    o += (size_t)w;
    for (const char *s = value; *s != '\0'; s++) {
        if (o + 3 >= cap)
            return -1;
        if (*s == '\'' || *s == '\\')
            out[o++] = '\\';
        out[o++] = *s;
    }
    if (o + 2 >= cap)
        return -1;
    out[o++] = '\'';
    out[o] = '\0';
    return 0;
}

/* The admin URL with its database replaced by dbname, in key=value form. */
static int url_with_db(const char *admin, const char *dbname, char *out, size_t cap)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(admin, &perr);
    int rc = 0;

    if (opts == NULL) {
        fprintf(stderr, "pg_test: the cluster URL does not parse: %s", perr ? perr : "?\n");
        PQfreemem(perr);
        return -1;
    }
    out[0] = '\0';
    for (PQconninfoOption *o = opts; o->keyword != NULL && rc == 0; o++)
        if (o->val != NULL && o->val[0] != '\0' && strcmp(o->keyword, "dbname") != 0)
            rc = append_kv(out, cap, o->keyword, o->val);
    if (rc == 0)
        rc = append_kv(out, cap, "dbname", dbname);
    PQconninfoFree(opts);
    if (rc != 0)
        fprintf(stderr, "pg_test: the cluster URL is too long\n");
    return rc;
}

static int admin_exec(const char *admin_url, const char *sql)
{
    PGconn *c = PQconnectdb(admin_url);
    int rc = 0;

    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pg_test: could not connect to the test cluster: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "pg_test: %s: %s", sql, PQresultErrorMessage(r));
        rc = -1;
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}

int fv_pg_test_db_create(fv_pg_test_db *db)
{
    unsigned char rnd[4] = {0, 0, 0, 0};
    char sql[160];
    FILE *f;

    memset(db, 0, sizeof *db);
    if (read_url(db->admin_url, sizeof db->admin_url) != 0)
        return -1;
    f = fopen("/dev/urandom", "rb");
    if (f == NULL || fread(rnd, 1, sizeof rnd, f) != sizeof rnd) {
        fprintf(stderr, "pg_test: could not read /dev/urandom\n");
        if (f != NULL)
            fclose(f);
        return -1;
    }
    fclose(f);
    snprintf(db->name, sizeof db->name, "fv_test_%ld_%02x%02x%02x%02x", (long)getpid(), rnd[0],
             rnd[1], rnd[2], rnd[3]);
    if (url_with_db(db->admin_url, db->name, db->url, sizeof db->url) != 0)
        return -1;
    snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\"", db->name);
    if (admin_exec(db->admin_url, sql) != 0) {
        db->name[0] = '\0';
        return -1;
    }
    return 0;
}

int fv_pg_test_db_drop(fv_pg_test_db *db)
{
    char sql[160];

    if (db->name[0] == '\0')
        return 0;
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", db->name);
    if (admin_exec(db->admin_url, sql) != 0)
        return -1;
    db->name[0] = '\0';
    return 0;
}

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_buf[64 * 1024];
static size_t log_len;

void fv_pg_test_log(void *user, fv_pg_log_level level, const char *msg)
{
    (void)user;
    (void)level;
    pthread_mutex_lock(&log_mu);
    int w = snprintf(log_buf + log_len, sizeof log_buf - log_len, "%s\n", msg);
    if (w > 0 && (size_t)w < sizeof log_buf - log_len)
        log_len += (size_t)w;
    pthread_mutex_unlock(&log_mu);
}

void fv_pg_test_log_reset(void)
{
    pthread_mutex_lock(&log_mu);
    log_len = 0;
    log_buf[0] = '\0';
    pthread_mutex_unlock(&log_mu);
}

int fv_pg_test_log_count(const char *needle)
{
    int n = 0;
    pthread_mutex_lock(&log_mu);
    for (const char *at = strstr(log_buf, needle); at != NULL; at = strstr(at + 1, needle))
        n++;
    pthread_mutex_unlock(&log_mu);
    return n;
}

void fv_pg_test_log_dump(void)
{
    pthread_mutex_lock(&log_mu);
    fprintf(stderr, "\n  log: %s\n", log_buf);
    pthread_mutex_unlock(&log_mu);
}
