/*
 * A tiny JSON text writer into an arena, for the small documents the core
 * builds itself (task event data). The core includes no JSON library; this
 * writes only, with correct string escaping, and never fails half-way
 * silently: once the arena is full every later call is a no-op and
 * fv_jsonw_finish answers FV_JSON_NONE.
 *
 *     fv_jsonw w;
 *     fv_jsonw_init(&w, a);
 *     fv_jsonw_object_begin(&w);
 *     fv_jsonw_key(&w, "attempt");
 *     fv_jsonw_int(&w, 2);
 *     fv_jsonw_key(&w, "error");
 *     fv_jsonw_str(&w, msg);
 *     fv_jsonw_object_end(&w);
 *     fv_json j = fv_jsonw_finish(&w);
 *
 * Commas between members are written by the writer. Not thread-safe (one
 * arena, one owner).
 */
#ifndef FV_CORE_UTIL_JSONW_H
#define FV_CORE_UTIL_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/types.h"
#include "core/util/arena.h"
#include "core/util/time.h"

#define FV_JSONW_MAX_DEPTH 16

/* Caller-embedded; treat the members as private. */
typedef struct fv_jsonw {
    fv_arena *a;
    char *p;
    size_t n;
    size_t cap;
    bool failed;
    int depth;
    bool after_key;                 /* a key was written: its value comes next */
    bool first[FV_JSONW_MAX_DEPTH]; /* no member written yet at this level */
} fv_jsonw;

/* Start an empty document in arena a (borrowed for the writer's life). */
void fv_jsonw_init(fv_jsonw *w, fv_arena *a);

/* { and }, [ and ]. Nesting deeper than FV_JSONW_MAX_DEPTH fails the writer. */
void fv_jsonw_object_begin(fv_jsonw *w);
void fv_jsonw_object_end(fv_jsonw *w);
void fv_jsonw_array_begin(fv_jsonw *w);
void fv_jsonw_array_end(fv_jsonw *w);

/* A member name inside an object (escaped like a string). */
void fv_jsonw_key(fv_jsonw *w, const char *key);

/* A string value; NULL writes null. Text that is not valid UTF-8 has each
 * byte above 0x7F written as U+FFFD, so the output is always valid JSON. */
void fv_jsonw_str(fv_jsonw *w, const char *s);
void fv_jsonw_strn(fv_jsonw *w, const char *s, size_t n);
void fv_jsonw_int(fv_jsonw *w, int64_t v);
/* A finite number in shortest round-trip form; NaN and infinities write null. */
void fv_jsonw_double(fv_jsonw *w, double v);
void fv_jsonw_bool(fv_jsonw *w, bool v);
void fv_jsonw_null(fv_jsonw *w);
/* RFC 3339 text (fv_time_format); FV_TIME_NONE and out-of-range write null. */
void fv_jsonw_time(fv_jsonw *w, fv_time t);
/* JSON text inserted verbatim (the caller vouches for it); absent writes null. */
void fv_jsonw_raw(fv_jsonw *w, fv_json j);

/* The document (NUL-terminated, in the arena), or FV_JSON_NONE when the
 * arena ran out or the nesting was unbalanced. */
fv_json fv_jsonw_finish(fv_jsonw *w);

#endif
