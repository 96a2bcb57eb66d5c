/* Id sources: random (version 4) UUIDs and bytes from getrandom(2), and a
 * seeded sequential source for tests. */
#include "adapters/memory/mem_store.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

#include "core/util/alloc.h"

/* ------------------------------------------------------------------------ */
/* The system source                                                         */
/* ------------------------------------------------------------------------ */

static fv_err system_random(void *self, void *buf, size_t n, fv_error *err)
{
    (void)self;
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return fv_error_set(err, FV_E_INTERNAL, "could not read random bytes: errno %d", errno);
        }
        p += got;
        n -= (size_t)got;
    }
    return FV_OK;
}

/*
 * UUIDs come from a per-thread buffer of random bytes refilled 16 ids at a
 * time: one getrandom(2) call per id (or libuuid, which makes several system
 * calls per id) costs more than the whole rest of a registration. The buffer
 * is the thread's private cache of kernel randomness, never shared.
 */
#define UUID_BATCH 16

static _Thread_local unsigned char uuid_pool[UUID_BATCH * 16];
static _Thread_local size_t uuid_pool_left;

static fv_err system_new_uuid(void *self, fv_uuid *out, fv_error *err)
{
    if (uuid_pool_left == 0) {
        fv_err rc = system_random(self, uuid_pool, sizeof uuid_pool, err);
        if (rc != FV_OK)
            return rc;
        uuid_pool_left = UUID_BATCH;
    }
    uuid_pool_left--;
    unsigned char *b = uuid_pool + uuid_pool_left * 16;
    memcpy(out->b, b, sizeof out->b);
    memset(b, 0, 16);                                       /* an id handed out is not kept */
    out->b[6] = (unsigned char)((out->b[6] & 0x0F) | 0x40); /* version 4 */
    out->b[8] = (unsigned char)((out->b[8] & 0x3F) | 0x80); /* RFC 4122 variant */
    return FV_OK;
}

static const fv_ids_ops system_ids_ops = {
    .new_uuid = system_new_uuid,
    .random = system_random,
    .destroy = NULL,
};

fv_ids fv_system_ids(void)
{
    return (fv_ids){&system_ids_ops, NULL};
}

/* ------------------------------------------------------------------------ */
/* The sequential source: UUIDs whose first 8 bytes are the seed and last 8  */
/* a counter from 1 (big-endian, so they sort in creation order); bytes from */
/* splitmix64 over the seed.                                                 */
/* ------------------------------------------------------------------------ */

typedef struct seq_ids {
    uint64_t seed;
    atomic_uint_fast64_t counter;
    atomic_uint_fast64_t state;
} seq_ids;

static void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xFF);
        v >>= 8;
    }
}

static fv_err seq_new_uuid(void *self, fv_uuid *out, fv_error *err)
{
    (void)err;
    seq_ids *s = self;
    uint64_t n = (uint64_t)atomic_fetch_add(&s->counter, 1) + 1;
    put_be64(out->b, s->seed);
    put_be64(out->b + 8, n);
    return FV_OK;
}

static uint64_t splitmix64_next(atomic_uint_fast64_t *state)
{
    uint64_t z = (uint64_t)atomic_fetch_add(state, 0x9E3779B97F4A7C15ULL) + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static fv_err seq_random(void *self, void *buf, size_t n, fv_error *err)
{
    (void)err;
    seq_ids *s = self;
    unsigned char *p = buf;
    while (n > 0) {
        uint64_t r = splitmix64_next(&s->state);
        size_t k = n < sizeof r ? n : sizeof r;
        memcpy(p, &r, k);
        p += k;
        n -= k;
    }
    return FV_OK;
}

static void seq_destroy(void *self)
{
    fv_free(self);
}

static const fv_ids_ops seq_ids_ops = {
    .new_uuid = seq_new_uuid,
    .random = seq_random,
    .destroy = seq_destroy,
};

fv_ids fv_seq_ids_new(uint64_t seed)
{
    seq_ids *s = fv_malloc(sizeof *s);
    if (s == NULL)
        return (fv_ids){NULL, NULL};
    s->seed = seed;
    atomic_init(&s->counter, 0);
    atomic_init(&s->state, seed);
    return (fv_ids){&seq_ids_ops, s};
}
