/* Strict UTF-8 validation for text crossing a boundary. */
#ifndef FV_CORE_UTIL_UTF8_H
#define FV_CORE_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when the n bytes at p are well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF) and contain no NUL byte (text that
 * PostgreSQL and C strings can hold). */
bool fv_utf8_valid(const char *p, size_t n);

#endif
