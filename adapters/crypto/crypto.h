/*
 * Cryptographic adapters: the hasher port (ports/hasher.h) on Debian's
 * nettle. The core never includes a crypto library; app/ and the tests wire
 * this view into fv_deps.
 */
#ifndef FV_ADAPTERS_CRYPTO_CRYPTO_H
#define FV_ADAPTERS_CRYPTO_CRYPTO_H

#include "ports/hasher.h"

/* SHA-256 from nettle. Stateless (each call uses a context on the stack), so
 * thread-safe; owns nothing and needs no release. */
fv_hasher fv_nettle_hasher(void);

#endif
