/* SPDX-License-Identifier: MIT */
/* Implementation of auth/token.h on libsodium. */
#include "auth/token.h"

#include <sodium.h>
#include <string.h>

#include "util/random.h"
#include "util/text.h"

void token_random_hex(char *out, size_t n_hex)
{
        random_hex(out, n_hex);
}

void token_sha256_hex(const void *data, size_t len, char out[TOKEN_SHA256_HEX + 1])
{
        unsigned char digest[crypto_hash_sha256_BYTES];

        crypto_hash_sha256(digest, data, len);
        hex_encode(digest, sizeof(digest), out);
}

bool token_equal(const char *a, const char *b)
{
        size_t la, lb;

        if (!a || !b)
                return false;
        la = strlen(a);
        lb = strlen(b);
        if (la != lb)
                return false;
        return sodium_memcmp(a, b, la) == 0;
}
