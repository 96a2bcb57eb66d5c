/* Id source port: new UUIDs and random bytes (key secrets). */
#ifndef FV_PORTS_IDS_H
#define FV_PORTS_IDS_H

#include <stddef.h>

#include "core/util/error.h"
#include "core/util/uuid.h"

typedef struct fv_ids_ops {
    /* A new unique id. Thread-safe. FV_E_INTERNAL if the source fails. */
    fv_err (*new_uuid)(void *self, fv_uuid *out, fv_error *err);
    /* n unpredictable bytes. Thread-safe. FV_E_INTERNAL if the source fails. */
    fv_err (*random)(void *self, void *buf, size_t n, fv_error *err);
    /* Release the source; may be NULL. */
    void (*destroy)(void *self);
} fv_ids_ops;

typedef struct fv_ids {
    const fv_ids_ops *ops;
    void *self;
} fv_ids;

static inline fv_err fv_ids_new_uuid(fv_ids s, fv_uuid *out, fv_error *err)
{
    return s.ops->new_uuid(s.self, out, err);
}

static inline fv_err fv_ids_random(fv_ids s, void *buf, size_t n, fv_error *err)
{
    return s.ops->random(s.self, buf, n, err);
}

static inline void fv_ids_destroy(fv_ids s)
{
    if (s.ops != NULL && s.ops->destroy != NULL)
        s.ops->destroy(s.self);
}

#endif
