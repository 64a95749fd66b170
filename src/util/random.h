/* SPDX-License-Identifier: MIT */
/*
 * Random identifiers from the kernel's CSPRNG (libsodium's randombytes),
 * for any layer: request ids in http/, secrets and ids in auth/.
 * sodium_init() must have run.
 */
#pragma once

#include <stddef.h>

/* Write n_hex (even, at most 128) random lowercase hex digits and a NUL
 * to out, which holds n_hex + 1 bytes. */
void random_hex(char *out, size_t n_hex);
