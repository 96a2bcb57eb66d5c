/* The CLI's growable text buffer (see buf.h). */
#include "cli/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/util/alloc.h"

void fv_cli_buf_init(fv_cli_buf *b, size_t max)
{
    b->p = NULL;
    b->n = 0;
    b->cap = 0;
    b->max = max;
    b->failed = false;
}

void fv_cli_buf_release(fv_cli_buf *b)
{
    if (b == NULL)
        return;
    fv_free(b->p);
    fv_cli_buf_init(b, b->max);
}

void fv_cli_buf_reset(fv_cli_buf *b)
{
    b->n = 0;
    if (b->p != NULL)
        b->p[0] = '\0';
    b->failed = false;
}

/* Room for `extra` more bytes and the NUL; false (and failed set) when the
 * cap would be passed or memory runs out. */
static bool reserve(fv_cli_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (extra > SIZE_MAX / 2 - b->n || (b->max > 0 && b->n + extra > b->max)) {
        b->failed = true;
        return false;
    }
    size_t need = b->n + extra + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap > 0 ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = fv_realloc(b->p, cap);
    if (p == NULL) {
        b->failed = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void fv_cli_buf_add(fv_cli_buf *b, const char *s, size_t n)
{
    if (!reserve(b, n))
        return;
    if (n > 0)
        memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void fv_cli_buf_puts(fv_cli_buf *b, const char *s)
{
    fv_cli_buf_add(b, s, strlen(s));
}

void fv_cli_buf_putc(fv_cli_buf *b, char c)
{
    fv_cli_buf_add(b, &c, 1);
}

void fv_cli_buf_pad(fv_cli_buf *b, char c, size_t count)
{
    if (!reserve(b, count))
        return;
    memset(b->p + b->n, c, count);
    b->n += count;
    b->p[b->n] = '\0';
}

void fv_cli_buf_vprintf(fv_cli_buf *b, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int w = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (w < 0) {
        b->failed = true;
        return;
    }
    if (!reserve(b, (size_t)w))
        return;
    vsnprintf(b->p + b->n, (size_t)w + 1, fmt, ap);
    b->n += (size_t)w;
}

void fv_cli_buf_printf(fv_cli_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fv_cli_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

const char *fv_cli_buf_str(const fv_cli_buf *b)
{
    return b->p != NULL ? b->p : "";
}
