/* The allocator wrappers and their failure injection for tests. */
#include "core/util/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Remaining successful allocations before injected failures; < 0 = off. */
static atomic_long fail_countdown = -1;

static int should_fail(void)
{
    long cur = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    while (cur >= 0) {
        if (cur == 0)
            return 1;
        if (atomic_compare_exchange_weak(&fail_countdown, &cur, cur - 1))
            return 0;
    }
    return 0;
}

void *fv_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *fv_calloc(size_t count, size_t size)
{
    if (should_fail())
        return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *fv_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void fv_free(void *p)
{
    free(p);
}

char *fv_strndup(const char *s, size_t n)
{
    char *d = fv_malloc(n + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *fv_strdup(const char *s)
{
    return fv_strndup(s, strlen(s));
}

void fv_alloc_fail_after(long n)
{
    atomic_store(&fail_countdown, n);
}

void fv_alloc_fail_reset(void)
{
    atomic_store(&fail_countdown, -1);
}
