/* Hexadecimal digits: the decoding shared by UUID text and percent-escapes. */
#ifndef FV_CORE_UTIL_HEX_H
#define FV_CORE_UTIL_HEX_H

/* The byte written by the two hex digits p[0] p[1] (either case): 0..255,
 * or -1 when either is not a hex digit. Reads exactly two bytes. Pure and
 * thread-safe. */
int fv_hex_byte(const char *p);

#endif
