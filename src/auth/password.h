/* SPDX-License-Identifier: MIT */
/*
 * Password hashing.  New hashes are Argon2id (libsodium crypto_pwhash_str);
 * bcrypt hashes ($2a$/$2b$/$2y$) written by the existing server verify
 * through libxcrypt's crypt_r() and are reported as needing a rehash.
 *
 * The parameters (PASSWORD_OPSLIMIT, PASSWORD_MEMLIMIT) follow the OWASP
 * recommendation for Argon2id (t=2, m=19 MiB): strong, yet a login costs
 * neither hundreds of MiB nor a second of CPU on a small server.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define PASSWORD_OPSLIMIT 2ULL
#define PASSWORD_MEMLIMIT (19ULL * 1024 * 1024)
#define PASSWORD_HASH_MAX 128 /* crypto_pwhash_STRBYTES */

/* Hash password into out (PASSWORD_HASH_MAX bytes).  0 or -ENOMEM. */
int password_hash(const char *password, char out[PASSWORD_HASH_MAX]);

/* 1 when password matches hash, 0 when not, negative errno when the hash
 * is of an unknown format.  Runs in time independent of where a mismatch
 * is.  When ret_needs_rehash is given it is set for bcrypt hashes and for
 * Argon2id hashes with weaker parameters. */
int password_verify(const char *password, const char *hash, bool *ret_needs_rehash);

/* Verify against a fixed dummy hash: spends the same time as a real check
 * so that unknown accounts cannot be told apart by timing. */
void password_verify_dummy(const char *password);

/* bcrypt costs libxcrypt accepts. */
#define PASSWORD_BCRYPT_COST_MIN 4
#define PASSWORD_BCRYPT_COST_MAX 31

/* The cost of a bcrypt hash ("$2b$10$…" -> 10); 0 when hash is not one. */
unsigned password_bcrypt_cost(const char *hash);

/* Spend what checking a bcrypt hash of cost takes (nothing for a cost
 * outside PASSWORD_BCRYPT_COST_MIN..MAX): with password_verify_dummy(),
 * failed checks of unknown, Argon2id and bcrypt accounts all cost one
 * Argon2id and one bcrypt verification while bcrypt accounts remain. */
void password_verify_dummy_bcrypt(const char *password, unsigned cost);

/* After a failed check against hash (NULL: no such account), spend what
 * the other kind costs, so that every failure costs one Argon2id and one
 * bcrypt check of legacy_cost (0: no bcrypt hashes left, Argon2id only). */
void password_fail_equalise(const char *password, const char *hash, unsigned legacy_cost);
