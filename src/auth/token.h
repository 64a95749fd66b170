/* SPDX-License-Identifier: MIT */
/*
 * Random identifiers and secrets, and how secrets are kept at rest: only the
 * lower-case hex SHA-256 of a token is stored; comparisons of secrets are
 * constant time.  Randomness comes from libsodium (getrandom()).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Sizes, in hex characters, of the identifiers of api.md §2. */
#define TOKEN_USER_ID_HEX   24 /* 12 random bytes */
#define TOKEN_DEVICE_ID_HEX 24 /* after the "dev_" prefix */
#define TOKEN_SECRET_HEX    64 /* device, session and CSRF tokens: 32 bytes */
#define TOKEN_EMAIL_HEX     48 /* e-mail tokens: 24 bytes */
#define TOKEN_SHA256_HEX    64

/* Fill out with n_hex random lower-case hex characters plus NUL
 * (n_hex must be even).  Cannot fail. */
void token_random_hex(char *out, size_t n_hex);

/* out[65] = hex(SHA-256(data)). */
void token_sha256_hex(const void *data, size_t len, char out[TOKEN_SHA256_HEX + 1]);

/* Constant-time equality of two NUL-terminated strings of known length;
 * false when lengths differ (length is not secret). */
bool token_equal(const char *a, const char *b);
