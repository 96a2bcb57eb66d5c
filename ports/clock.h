/* Clock port: the only way the core learns the time. */
#ifndef FV_PORTS_CLOCK_H
#define FV_PORTS_CLOCK_H

#include "core/util/time.h"

typedef struct fv_clock_ops {
    /* Milliseconds since the Unix epoch, UTC. Thread-safe. */
    fv_time (*now)(void *self);
    /* Release the clock; may be NULL for clocks that own nothing. */
    void (*destroy)(void *self);
} fv_clock_ops;

typedef struct fv_clock {
    const fv_clock_ops *ops;
    void *self;
} fv_clock;

static inline fv_time fv_clock_now(fv_clock c)
{
    return c.ops->now(c.self);
}

static inline void fv_clock_destroy(fv_clock c)
{
    if (c.ops != NULL && c.ops->destroy != NULL)
        c.ops->destroy(c.self);
}

#endif
