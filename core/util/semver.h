/* Semantic version precedence (semver.org 2.0.0 §11), for latest_version. */
#ifndef FV_CORE_UTIL_SEMVER_H
#define FV_CORE_UTIL_SEMVER_H

#include <stdbool.h>

/* True when s is MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] (a leading 'v' is
 * tolerated, as many tags carry one). */
bool fv_semver_valid(const char *s);

/* <0, 0, >0 as a has lower, equal or higher precedence than b: numeric
 * fields compare as numbers (1.10.0 > 1.9.0), a pre-release ranks below its
 * release, build metadata is ignored. Any valid version ranks above any
 * invalid one; two invalid strings compare bytewise. NULL ranks lowest. */
int fv_semver_cmp(const char *a, const char *b);

#endif
