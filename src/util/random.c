/* SPDX-License-Identifier: MIT */
/* Implementation of util/random.h. */
#include "util/random.h"

#include <sodium.h>

#include "util/text.h"

void random_hex(char *out, size_t n_hex)
{
        unsigned char buf[64];
        size_t n = n_hex / 2;

        if (n > sizeof(buf))
                n = sizeof(buf);
        randombytes_buf(buf, n);
        hex_encode(buf, n, out);
        sodium_memzero(buf, sizeof(buf));
}
