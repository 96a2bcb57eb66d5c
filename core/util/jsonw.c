/* A JSON text writer into an arena (escaping, commas, numbers, times). */
#include "core/util/jsonw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/utf8.h"

void fv_jsonw_init(fv_jsonw *w, fv_arena *a)
{
    memset(w, 0, sizeof *w);
    w->a = a;
}

static bool reserve(fv_jsonw *w, size_t more)
{
    if (w->failed)
        return false;
    if (more > SIZE_MAX / 2 - w->n - 1) {
        w->failed = true;
        return false;
    }
    size_t need = w->n + more + 1; /* + NUL */
    if (need <= w->cap)
        return true;
    size_t cap = w->cap ? w->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = w->p ? fv_arena_grow(w->a, w->p, w->n, cap) : fv_arena_alloc(w->a, cap);
    if (p == NULL) {
        w->failed = true;
        return false;
    }
    w->p = p;
    w->cap = cap;
    return true;
}

static void put(fv_jsonw *w, const char *s, size_t n)
{
    if (!reserve(w, n))
        return;
    memcpy(w->p + w->n, s, n);
    w->n += n;
}

static void putc1(fv_jsonw *w, char c)
{
    put(w, &c, 1);
}

/* A comma before every value but the first of an array; inside an object
 * the key wrote it. */
static void before_value(fv_jsonw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth > 0) {
        if (!w->first[w->depth - 1])
            putc1(w, ',');
        w->first[w->depth - 1] = false;
    }
}

static void begin(fv_jsonw *w, char c)
{
    before_value(w);
    if (w->depth >= FV_JSONW_MAX_DEPTH) {
        w->failed = true;
        return;
    }
    putc1(w, c);
    w->first[w->depth++] = true;
}

static void end(fv_jsonw *w, char c)
{
    if (w->depth <= 0) {
        w->failed = true;
        return;
    }
    w->depth--;
    putc1(w, c);
}

void fv_jsonw_object_begin(fv_jsonw *w)
{
    begin(w, '{');
}

void fv_jsonw_object_end(fv_jsonw *w)
{
    end(w, '}');
}

void fv_jsonw_array_begin(fv_jsonw *w)
{
    begin(w, '[');
}

void fv_jsonw_array_end(fv_jsonw *w)
{
    end(w, ']');
}

/* fv_utf8_valid refuses NUL bytes (text for PostgreSQL and C strings), but a
 * NUL is written as \u0000 here, so only the runs between NULs must be
 * UTF-8. */
static bool utf8_between_nuls(const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '\0')
            continue;
        if (!fv_utf8_valid(s + start, i - start))
            return false;
        start = i + 1;
    }
    return true;
}

static void put_escaped(fv_jsonw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    bool utf8 = utf8_between_nuls(s, n);
    putc1(w, '"');
    size_t run = 0; /* start of the pending run of bytes copied as they are */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char buf[8];
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c == '\b')
            esc = "\\b";
        else if (c == '\f')
            esc = "\\f";
        else if (c < 0x20) {
            buf[0] = '\\';
            buf[1] = 'u';
            buf[2] = '0';
            buf[3] = '0';
            buf[4] = hex[c >> 4];
            buf[5] = hex[c & 15];
            buf[6] = '\0';
            esc = buf;
        } else if (c >= 0x80 && !utf8)
            esc = "\\ufffd";
        if (esc == NULL)
            continue;
        put(w, s + run, i - run);
        put(w, esc, strlen(esc));
        run = i + 1;
    }
    put(w, s + run, n - run);
    putc1(w, '"');
}

void fv_jsonw_key(fv_jsonw *w, const char *key)
{
    if (w->depth > 0 && !w->first[w->depth - 1])
        putc1(w, ',');
    if (w->depth > 0)
        w->first[w->depth - 1] = false;
    put_escaped(w, key ? key : "", key ? strlen(key) : 0);
    putc1(w, ':');
    w->after_key = true;
}

void fv_jsonw_strn(fv_jsonw *w, const char *s, size_t n)
{
    before_value(w);
    if (s == NULL)
        put(w, "null", 4);
    else
        put_escaped(w, s, n);
}

void fv_jsonw_str(fv_jsonw *w, const char *s)
{
    fv_jsonw_strn(w, s, s ? strlen(s) : 0);
}

void fv_jsonw_int(fv_jsonw *w, int64_t v)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld", (long long)v);
    before_value(w);
    put(w, buf, (size_t)n);
}

void fv_jsonw_double(fv_jsonw *w, double v)
{
    if (!isfinite(v)) {
        fv_jsonw_null(w);
        return;
    }
    char buf[40];
    int n = 0;
    /* The shortest of %.15g..%.17g that reads back as the same value. */
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    before_value(w);
    put(w, buf, (size_t)n);
}

void fv_jsonw_bool(fv_jsonw *w, bool v)
{
    before_value(w);
    if (v)
        put(w, "true", 4);
    else
        put(w, "false", 5);
}

void fv_jsonw_null(fv_jsonw *w)
{
    before_value(w);
    put(w, "null", 4);
}

void fv_jsonw_time(fv_jsonw *w, fv_time t)
{
    char buf[FV_TIME_STR_MAX];
    size_t n = fv_time_format(t, buf);
    if (n == 0) {
        fv_jsonw_null(w);
        return;
    }
    fv_jsonw_strn(w, buf, n);
}

void fv_jsonw_raw(fv_jsonw *w, fv_json j)
{
    if (!fv_json_present(j)) {
        fv_jsonw_null(w);
        return;
    }
    before_value(w);
    put(w, j.p, j.n);
}

fv_json fv_jsonw_finish(fv_jsonw *w)
{
    if (w->depth != 0 || !reserve(w, 0))
        return FV_JSON_NONE;
    w->p[w->n] = '\0';
    return (fv_json){w->p, w->n};
}
