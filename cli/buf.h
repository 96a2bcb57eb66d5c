/*
 * A growable text buffer (git's strbuf, reduced) for what the CLI prints and
 * for the bodies libcurl hands over. Renderers write into a buffer and the
 * caller prints it in one piece, which keeps them pure and testable.
 *
 * Failure is sticky: after an allocation fails (or the buffer would pass its
 * cap), every later append does nothing and `failed` stays set, so a caller
 * checks once at the end. The text is always NUL-terminated once anything was
 * added. Not thread-safe; one owner.
 */
#ifndef FV_CLI_BUF_H
#define FV_CLI_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct fv_cli_buf {
    char *p;     /* NULL until the first append; owned, fv_free'd by release */
    size_t n;    /* bytes of text, the NUL excluded */
    size_t cap;  /* bytes allocated */
    size_t max;  /* largest text accepted (0 = no limit) */
    bool failed; /* an append failed: out of memory or over max */
} fv_cli_buf;

/* An empty buffer that may hold at most `max` bytes (0 = no limit).
 * Allocates nothing. */
void fv_cli_buf_init(fv_cli_buf *b, size_t max);

/* Free the text; the buffer is empty again (and may be reused). NULL-safe. */
void fv_cli_buf_release(fv_cli_buf *b);

/* Forget the text but keep the memory; clears `failed`. */
void fv_cli_buf_reset(fv_cli_buf *b);

/* Append n bytes / a C string / one character / `count` copies of c. */
void fv_cli_buf_add(fv_cli_buf *b, const char *s, size_t n);
void fv_cli_buf_puts(fv_cli_buf *b, const char *s);
void fv_cli_buf_putc(fv_cli_buf *b, char c);
void fv_cli_buf_pad(fv_cli_buf *b, char c, size_t count);

/* printf at the end of the buffer. */
void fv_cli_buf_printf(fv_cli_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fv_cli_buf_vprintf(fv_cli_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* The text (borrowed, valid until the next append or release); "" when empty. */
const char *fv_cli_buf_str(const fv_cli_buf *b);

#endif
