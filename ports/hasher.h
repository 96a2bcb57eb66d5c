/* Hasher port: SHA-256, for API keys (the core stores and compares hashes
 * only, and includes no crypto library). */
#ifndef FV_PORTS_HASHER_H
#define FV_PORTS_HASHER_H

#include <stddef.h>

#define FV_SHA256_LEN 32

typedef struct fv_hasher_ops {
    /* out = SHA-256(data[0..n)). Thread-safe, cannot fail. */
    void (*sha256)(void *self, const void *data, size_t n, unsigned char out[FV_SHA256_LEN]);
} fv_hasher_ops;

typedef struct fv_hasher {
    const fv_hasher_ops *ops;
    void *self;
} fv_hasher;

static inline void fv_hasher_sha256(fv_hasher h, const void *data, size_t n,
                                    unsigned char out[FV_SHA256_LEN])
{
    h.ops->sha256(h.self, data, n, out);
}

#endif
