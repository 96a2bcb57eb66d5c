/*
 * Per-request arena: a bump allocator with chunked growth, a size cap and
 * cleanup callbacks (the nginx pool / PostgreSQL memory-context discipline).
 *
 * Every request, gRPC call and job run owns one arena. Results of ports and
 * queries (records, strings, arrays) are allocated in the caller's arena and
 * live until it is released; nobody frees them one by one.
 *
 * An arena is not thread-safe: one owner thread at a time.
 */
#ifndef FV_CORE_UTIL_ARENA_H
#define FV_CORE_UTIL_ARENA_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct fv_arena_chunk fv_arena_chunk;
typedef struct fv_arena_cleanup fv_arena_cleanup;

/* Caller-embedded; treat the members as private. */
typedef struct fv_arena {
    fv_arena_chunk *head;       /* current chunk; older ones follow */
    fv_arena_cleanup *cleanups; /* run in reverse order of registration */
    size_t reserved;            /* bytes held in chunks */
    size_t cap;                 /* 0 = no cap */
} fv_arena;

/* Arena for one request when nobody says otherwise: 64 MiB. */
#define FV_ARENA_DEFAULT_CAP ((size_t)64 * 1024 * 1024)

/* Initialise an empty arena that may hold at most `cap` bytes (0 = no cap).
 * Allocates nothing. */
void fv_arena_init(fv_arena *a, size_t cap);

/* Run the cleanups (last registered first) and free every chunk. The arena is
 * left empty and may be used again. NULL-safe. */
void fv_arena_release(fv_arena *a);

/* Like release, but keeps one chunk for reuse (cheap loops: jobs, benches). */
void fv_arena_reset(fv_arena *a);

/* n bytes aligned for any type, uninitialised; NULL when memory runs out or
 * the cap would be exceeded. n == 0 returns a valid unique pointer. */
void *fv_arena_alloc(fv_arena *a, size_t n);

/* count * size zeroed bytes; NULL on overflow, out of memory or cap. */
void *fv_arena_calloc(fv_arena *a, size_t count, size_t size);

/* Grow an array allocated in this arena to n bytes (old_n bytes are copied).
 * The old block is not reclaimed. NULL on failure (the old block stays valid). */
void *fv_arena_grow(fv_arena *a, void *old, size_t old_n, size_t n);

/* Copies into the arena. NULL input gives NULL output; NULL on failure
 * otherwise (check with the input). Results are NUL-terminated. */
char *fv_arena_strdup(fv_arena *a, const char *s);
char *fv_arena_strndup(fv_arena *a, const char *s, size_t n);
void *fv_arena_memdup(fv_arena *a, const void *p, size_t n);

/* printf into the arena; NULL on failure. */
char *fv_arena_printf(fv_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *fv_arena_vprintf(fv_arena *a, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Register fn(p) to run when the arena is released or reset (e.g. PQclear).
 * Returns false when memory runs out; fn is then NOT registered and the
 * caller must release p itself. */
bool fv_arena_add_cleanup(fv_arena *a, void (*fn)(void *), void *p);

/* Bytes currently held by the arena's chunks (for tests and metrics). */
size_t fv_arena_reserved(const fv_arena *a);

#endif
