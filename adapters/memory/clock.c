/* Clocks: the system clock (CLOCK_REALTIME) and a fake clock for tests that
 * moves only when told. */
#include "adapters/memory/mem_store.h"

#include <assert.h>
#include <stdatomic.h>
#include <time.h>

#include "core/util/alloc.h"

static fv_time system_now(void *self)
{
    (void)self;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (fv_time)ts.tv_sec * FV_MS_PER_SEC + (fv_time)(ts.tv_nsec / 1000000);
}

static const fv_clock_ops system_clock_ops = {
    .now = system_now,
    .destroy = NULL,
};

fv_clock fv_system_clock(void)
{
    return (fv_clock){&system_clock_ops, NULL};
}

typedef struct fake_clock {
    _Atomic fv_time t;
} fake_clock;

static fv_time fake_now(void *self)
{
    fake_clock *c = self;
    return atomic_load(&c->t);
}

static void fake_destroy(void *self)
{
    fv_free(self);
}

static const fv_clock_ops fake_clock_ops = {
    .now = fake_now,
    .destroy = fake_destroy,
};

fv_clock fv_fake_clock_new(fv_time start)
{
    fake_clock *c = fv_malloc(sizeof *c);
    if (c == NULL)
        return (fv_clock){NULL, NULL};
    atomic_init(&c->t, start);
    return (fv_clock){&fake_clock_ops, c};
}

void fv_fake_clock_set(fv_clock c, fv_time t)
{
    assert(c.ops == &fake_clock_ops);
    atomic_store(&((fake_clock *)c.self)->t, t);
}

void fv_fake_clock_advance(fv_clock c, int64_t ms)
{
    assert(c.ops == &fake_clock_ops);
    atomic_fetch_add(&((fake_clock *)c.self)->t, ms);
}
