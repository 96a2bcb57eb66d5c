/* UUID text parsing and formatting. */
#include "core/util/uuid.h"

#include <string.h>

#include "core/util/hex.h"

bool fv_uuid_parse(const char *s, size_t n, fv_uuid *out)
{
    if (s == NULL || n != FV_UUID_STR_LEN)
        return false;
    fv_uuid u;
    size_t j = 0;
    for (size_t i = 0; i < FV_UUID_STR_LEN;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
            i++;
            continue;
        }
        int b = fv_hex_byte(s + i);
        if (b < 0)
            return false;
        u.b[j++] = (unsigned char)b;
        i += 2;
    }
    *out = u;
    return true;
}

void fv_uuid_format(const fv_uuid *u, char out[FV_UUID_STR_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[u->b[i] >> 4];
        out[o++] = hex[u->b[i] & 0xF];
    }
    out[o] = '\0';
}

char *fv_uuid_str(fv_arena *a, const fv_uuid *u)
{
    char *p = fv_arena_alloc(a, FV_UUID_STR_LEN + 1);
    if (p != NULL)
        fv_uuid_format(u, p);
    return p;
}

bool fv_uuid_eq(const fv_uuid *x, const fv_uuid *y)
{
    return memcmp(x->b, y->b, 16) == 0;
}

int fv_uuid_cmp(const fv_uuid *x, const fv_uuid *y)
{
    return memcmp(x->b, y->b, 16);
}

bool fv_uuid_is_nil(const fv_uuid *u)
{
    static const fv_uuid nil = {{0}};
    return fv_uuid_eq(u, &nil);
}

uint64_t fv_uuid_hash(const fv_uuid *u)
{
    uint64_t x, y;
    memcpy(&x, u->b, 8);
    memcpy(&y, u->b + 8, 8);
    uint64_t h = x ^ (y * 0x9E3779B97F4A7C15ULL);
    /* splitmix64 finaliser */
    h ^= h >> 30;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 27;
    h *= 0x94D049BB133111EBULL;
    h ^= h >> 31;
    return h;
}
