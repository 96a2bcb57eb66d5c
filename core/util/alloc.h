/*
 * The one allocator of the project: every heap allocation goes through these
 * wrappers so that tests can make the Nth allocation fail and check that the
 * code unwinds cleanly (the Redis zmalloc / curl torture-mode discipline).
 */
#ifndef FV_CORE_UTIL_ALLOC_H
#define FV_CORE_UTIL_ALLOC_H

#include <stddef.h>

/* Like malloc/calloc/realloc/free. They return NULL on failure (never abort);
 * fv_free(NULL) does nothing. Thread-safe. */
void *fv_malloc(size_t n);
void *fv_calloc(size_t count, size_t size);
void *fv_realloc(void *p, size_t n);
void fv_free(void *p);

/* A NUL-terminated copy of s (or of its first n bytes); NULL on failure.
 * The caller owns the result and releases it with fv_free. */
char *fv_strdup(const char *s);
char *fv_strndup(const char *s, size_t n);

/*
 * Failure injection for tests: after `n` more successful allocations, every
 * allocation fails until fv_alloc_fail_reset() is called. n < 0 disables the
 * injection (the default). This is process-wide state (an allocator hook, the
 * one documented exception to "no mutable globals outside app/").
 */
void fv_alloc_fail_after(long n);
void fv_alloc_fail_reset(void);

#endif
