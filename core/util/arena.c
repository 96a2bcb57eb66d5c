/* The chunked bump allocator behind every request. */
#include "core/util/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/util/alloc.h"

#define ALIGN       alignof(max_align_t)
#define FIRST_CHUNK ((size_t)4096)
#define MAX_CHUNK   ((size_t)64 * 1024)

struct fv_arena_chunk {
    fv_arena_chunk *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

struct fv_arena_cleanup {
    fv_arena_cleanup *next;
    void (*fn)(void *);
    void *p;
};

void fv_arena_init(fv_arena *a, size_t cap)
{
    a->head = NULL;
    a->cleanups = NULL;
    a->reserved = 0;
    a->cap = cap;
}

static void run_cleanups(fv_arena *a)
{
    /* The list is pushed at the head, so walking it runs the newest first. */
    fv_arena_cleanup *c = a->cleanups;
    a->cleanups = NULL;
    for (; c != NULL; c = c->next)
        c->fn(c->p);
}

void fv_arena_release(fv_arena *a)
{
    if (a == NULL)
        return;
    run_cleanups(a);
    fv_arena_chunk *c = a->head;
    while (c != NULL) {
        fv_arena_chunk *next = c->next;
        fv_free(c);
        c = next;
    }
    a->head = NULL;
    a->reserved = 0;
}

void fv_arena_reset(fv_arena *a)
{
    run_cleanups(a);
    if (a->head == NULL)
        return;
    fv_arena_chunk *keep = a->head;
    fv_arena_chunk *c = keep->next;
    while (c != NULL) {
        fv_arena_chunk *next = c->next;
        a->reserved -= c->size;
        fv_free(c);
        c = next;
    }
    keep->next = NULL;
    keep->used = 0;
    a->head = keep;
}

static size_t round_up(size_t n)
{
    return (n + (ALIGN - 1)) & ~(ALIGN - 1);
}

static fv_arena_chunk *new_chunk(fv_arena *a, size_t need)
{
    size_t size = a->head ? a->head->size * 2 : FIRST_CHUNK;
    if (size > MAX_CHUNK)
        size = MAX_CHUNK;
    if (size < need)
        size = need;
    if (a->cap != 0 && (size > a->cap || a->reserved > a->cap - size)) {
        /* Try the smallest chunk that fits before refusing. */
        size = need;
        if (size > a->cap || a->reserved > a->cap - size)
            return NULL;
    }
    if (size > SIZE_MAX - sizeof(fv_arena_chunk))
        return NULL;
    fv_arena_chunk *c = fv_malloc(sizeof(fv_arena_chunk) + size);
    if (c == NULL)
        return NULL;
    c->size = size;
    c->used = 0;
    a->reserved += size;
    return c;
}

void *fv_arena_alloc(fv_arena *a, size_t n)
{
    if (n > SIZE_MAX - ALIGN)
        return NULL;
    size_t need = round_up(n ? n : 1);
    fv_arena_chunk *h = a->head;
    if (h != NULL && h->size - h->used >= need) {
        void *p = h->data + h->used;
        h->used += need;
        return p;
    }
    fv_arena_chunk *c = new_chunk(a, need);
    if (c == NULL)
        return NULL;
    if (h != NULL && need > MAX_CHUNK / 2 && h->size - h->used > MAX_CHUNK / 8) {
        /* A large block gets its own chunk behind the current one, so the
         * free space left in the current chunk is not wasted. */
        c->next = h->next;
        h->next = c;
    } else {
        c->next = h;
        a->head = c;
    }
    c->used = need;
    return c->data;
}

void *fv_arena_calloc(fv_arena *a, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    void *p = fv_arena_alloc(a, count * size);
    if (p != NULL)
        memset(p, 0, count * size);
    return p;
}

void *fv_arena_grow(fv_arena *a, void *old, size_t old_n, size_t n)
{
    if (n <= old_n)
        return old;
    void *p = fv_arena_alloc(a, n);
    if (p != NULL && old != NULL && old_n > 0)
        memcpy(p, old, old_n);
    return p;
}

void *fv_arena_memdup(fv_arena *a, const void *src, size_t n)
{
    if (src == NULL)
        return NULL;
    void *p = fv_arena_alloc(a, n);
    if (p != NULL && n > 0)
        memcpy(p, src, n);
    return p;
}

char *fv_arena_strndup(fv_arena *a, const char *s, size_t n)
{
    if (s == NULL)
        return NULL;
    char *p = fv_arena_alloc(a, n + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *fv_arena_strdup(fv_arena *a, const char *s)
{
    if (s == NULL)
        return NULL;
    return fv_arena_strndup(a, s, strlen(s));
}

char *fv_arena_vprintf(fv_arena *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    char *p = fv_arena_alloc(a, (size_t)n + 1);
    if (p == NULL)
        return NULL;
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *fv_arena_printf(fv_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = fv_arena_vprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

bool fv_arena_add_cleanup(fv_arena *a, void (*fn)(void *), void *p)
{
    fv_arena_cleanup *c = fv_arena_alloc(a, sizeof *c);
    if (c == NULL)
        return false;
    c->fn = fn;
    c->p = p;
    c->next = a->cleanups;
    a->cleanups = c;
    return true;
}

size_t fv_arena_reserved(const fv_arena *a)
{
    return a->reserved;
}
