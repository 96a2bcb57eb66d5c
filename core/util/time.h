/*
 * Time in the domain: milliseconds since the Unix epoch, UTC. The core never
 * reads a clock (the clock port does); it only computes with and formats these
 * values, with the proleptic Gregorian calendar and no time zone database.
 */
#ifndef FV_CORE_UTIL_TIME_H
#define FV_CORE_UTIL_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int64_t fv_time;

/* "No time" in optional timestamp fields. */
#define FV_TIME_NONE INT64_MIN

#define FV_MS_PER_SEC ((int64_t)1000)

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" is 24 bytes; years beyond 9999 are refused. */
#define FV_TIME_STR_MAX 32

/* RFC 3339 UTC with milliseconds into out (NUL-terminated); returns the length,
 * 0 when t is FV_TIME_NONE or outside years 0000-9999. */
size_t fv_time_format(fv_time t, char out[FV_TIME_STR_MAX]);

/* Parse exactly n bytes of RFC 3339 ("2026-01-02T03:04:05Z",
 * "...05.123456+02:00", 't'/'z' accepted; fractions beyond ms truncated).
 * Returns false for anything else, including out-of-range fields. */
bool fv_time_parse(const char *s, size_t n, fv_time *out);

#endif
