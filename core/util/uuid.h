/*
 * UUID values and their canonical text form (8-4-4-4-12 hex). Generating
 * them is not the core's business: new ids come from the id port.
 */
#ifndef FV_CORE_UTIL_UUID_H
#define FV_CORE_UTIL_UUID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/util/arena.h"

typedef struct fv_uuid {
    unsigned char b[16];
} fv_uuid;

#define FV_UUID_STR_LEN 36

/* Parse exactly n bytes of canonical text (hex in either case). Returns false
 * (out untouched) for anything else: wrong length, braces, missing dashes. */
bool fv_uuid_parse(const char *s, size_t n, fv_uuid *out);

/* Lower-case canonical text into out (FV_UUID_STR_LEN + 1 bytes, NUL-terminated). */
void fv_uuid_format(const fv_uuid *u, char out[FV_UUID_STR_LEN + 1]);

/* The text form allocated in the arena; NULL when the arena is full. */
char *fv_uuid_str(fv_arena *a, const fv_uuid *u);

bool fv_uuid_eq(const fv_uuid *x, const fv_uuid *y);
int fv_uuid_cmp(const fv_uuid *x, const fv_uuid *y);
bool fv_uuid_is_nil(const fv_uuid *u);

/* A well-mixed 64-bit hash of the 16 bytes, for hash tables. */
uint64_t fv_uuid_hash(const fv_uuid *u);

#endif
