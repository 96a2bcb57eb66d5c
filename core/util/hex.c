/* Hexadecimal digits (see hex.h). */
#include "core/util/hex.h"

static int digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int fv_hex_byte(const char *p)
{
    int hi = digit(p[0]);
    int lo = digit(p[1]);
    if (hi < 0 || lo < 0)
        return -1;
    return hi * 16 + lo;
}
