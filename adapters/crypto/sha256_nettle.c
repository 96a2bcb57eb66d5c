/* The hasher port on nettle's SHA-256 (nettle-dev, <nettle/sha2.h>). */
#include "adapters/crypto/crypto.h"

#include <stdint.h>

#include <nettle/sha2.h>

_Static_assert(SHA256_DIGEST_SIZE == FV_SHA256_LEN, "nettle and the port disagree on SHA-256");

static void nettle_sha256(void *self, const void *data, size_t n, unsigned char out[FV_SHA256_LEN])
{
    (void)self;
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    /* nettle takes (length, data); an empty input may come with data NULL. */
    if (n > 0)
        sha256_update(&ctx, n, (const uint8_t *)data);
    sha256_digest(&ctx, SHA256_DIGEST_SIZE, out);
    /* The context's block buffer still holds the tail of the input, which is
     * an API key's secret: wipe it through a volatile pointer so that the
     * store is not optimised away. */
    volatile unsigned char *p = (volatile unsigned char *)&ctx;
    for (size_t i = 0; i < sizeof ctx; i++)
        p[i] = 0;
}

static const fv_hasher_ops nettle_hasher_ops = {
    .sha256 = nettle_sha256,
};

fv_hasher fv_nettle_hasher(void)
{
    return (fv_hasher){&nettle_hasher_ops, NULL};
}
