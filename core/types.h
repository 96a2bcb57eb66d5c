/*
 * Small value types shared by the whole domain: JSON text handed over by an
 * edge, pages of lists, and the space selector of filters.
 */
#ifndef FV_CORE_TYPES_H
#define FV_CORE_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/util/uuid.h"

/*
 * JSON text. The core never parses JSON (it includes no JSON library): an
 * edge that decodes bytes from the wire checks that they are well-formed JSON
 * with its JSON library before it builds an fv_json, and the core treats the
 * text as opaque, checking only its size. p == NULL means absent (SQL NULL,
 * JSON null in responses). Not necessarily NUL-terminated.
 */
typedef struct fv_json {
    const char *p;
    size_t n;
} fv_json;

#define FV_JSON_NONE ((fv_json){NULL, 0})

static inline bool fv_json_present(fv_json j)
{
    return j.p != NULL;
}

/* Offset pagination of every list. */
typedef struct fv_page {
    int64_t limit;
    int64_t offset;
} fv_page;

#define FV_PAGE_DEFAULT_LIMIT 50
#define FV_PAGE_MAX_LIMIT     100
/* Offsets beyond this are refused rather than scanned. */
#define FV_PAGE_MAX_OFFSET ((int64_t)1000000000)

/* Which space a filter or a lookup means. */
typedef enum fv_space_mode {
    FV_SPACE_ANY = 0, /* filters only: every space and none */
    FV_SPACE_NONE,    /* the tenant level (no space) */
    FV_SPACE_ID,      /* exactly this space */
} fv_space_mode;

typedef struct fv_space_sel {
    fv_space_mode mode;
    fv_uuid id; /* when mode == FV_SPACE_ID */
} fv_space_sel;

/* An optional space of a record: has == false is the tenant level. "No space"
 * is one value for uniqueness (it never lets duplicates in). */
typedef struct fv_opt_uuid {
    bool has;
    fv_uuid id;
} fv_opt_uuid;

bool fv_opt_uuid_eq(const fv_opt_uuid *x, const fv_opt_uuid *y);

/* True when a record's space matches the selector. */
bool fv_space_sel_match(const fv_space_sel *sel, const fv_opt_uuid *space);

#endif
