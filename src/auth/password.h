/* SPDX-License-Identifier: MIT */
/*
 * Password hashing.  New hashes are Argon2id (libsodium crypto_pwhash_str);
 * bcrypt hashes ($2a$/$2b$/$2y$) written by the existing server verify
 * through libxcrypt's crypt_r() and are reported as needing a rehash.
 *
 * The parameters (PASSWORD_OPSLIMIT, PASSWORD_MEMLIMIT) follow the OWASP
 * recommendation for Argon2id (t=2, m=19 MiB): strong, yet a login costs
 * neither hundreds of MiB nor a second of CPU on a small server.
 *
 * Each hash or check holds one of a few slots (a small semaphore):
 * with 19 MiB a hash, the slots bound the memory a burst of logins or
 * pairings can take.  A caller that finds every slot taken waits up to
 * the configured time, then gets -EAGAIN (answered 503 with Retry-After).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define PASSWORD_OPSLIMIT 2ULL
#define PASSWORD_MEMLIMIT (19ULL * 1024 * 1024)
#define PASSWORD_HASH_MAX 128 /* crypto_pwhash_STRBYTES */

#define PASSWORD_CONCURRENCY_DEFAULT 2
#define PASSWORD_CONCURRENCY_MAX     64
#define PASSWORD_WAIT_MS_DEFAULT     2000
#define PASSWORD_WAIT_MS_MAX         60000

/* Allow max_concurrent (1..PASSWORD_CONCURRENCY_MAX) hashes at once; a
 * caller waits up to wait_ms for a slot.  Called at start-up; without it
 * the defaults apply.  0 or -EINVAL. */
int password_limit(unsigned max_concurrent, unsigned wait_ms);

/* Take a hash slot, waiting up to the configured time: 0 or -EAGAIN.
 * Every function below holds one while it hashes; exposed so that a
 * caller (or a test) can hold one across other work. */
int password_slot_acquire(void);

/* Give back a slot taken by password_slot_acquire(). */
void password_slot_release(void);

/* Hash password into out (PASSWORD_HASH_MAX bytes).  0, -ENOMEM, or
 * -EAGAIN when no hash slot came free in time. */
int password_hash(const char *password, char out[PASSWORD_HASH_MAX]);

/* 1 when password matches hash, 0 when not, negative errno when the hash
 * is of an unknown format, -EAGAIN when no hash slot came free in
 * time.  Runs in time independent of where a mismatch
 * is.  When ret_needs_rehash is given it is set for bcrypt hashes and for
 * Argon2id hashes with weaker parameters. */
int password_verify(const char *password, const char *hash, bool *ret_needs_rehash);

/* Verify against a fixed dummy hash: spends the same time as a real check
 * so that unknown accounts cannot be told apart by timing.  0, or -EAGAIN
 * when no hash slot came free in time (as a real check would). */
int password_verify_dummy(const char *password);

/* bcrypt costs libxcrypt accepts. */
#define PASSWORD_BCRYPT_COST_MIN 4
#define PASSWORD_BCRYPT_COST_MAX 31

/* The cost of a bcrypt hash ("$2b$10$…" -> 10); 0 when hash is not one. */
unsigned password_bcrypt_cost(const char *hash);

/* Spend what checking a bcrypt hash of cost takes (nothing for a cost
 * outside PASSWORD_BCRYPT_COST_MIN..MAX): with password_verify_dummy(),
 * failed checks of unknown, Argon2id and bcrypt accounts all cost one
 * Argon2id and one bcrypt verification while bcrypt accounts remain.
 * Takes a hash slot like a real check: 0, or -EAGAIN when none came free
 * in time. */
int password_verify_dummy_bcrypt(const char *password, unsigned cost);

/* After a failed check against hash (NULL: no such account), spend what
 * the other kind costs, so that every failure costs one Argon2id and one
 * bcrypt check of legacy_cost (0: no bcrypt hashes left, Argon2id only).
 * 0, or -EAGAIN when a hash slot did not come free in time, so that an
 * unknown account gets the same "busy" answer a known one would. */
int password_fail_equalise(const char *password, const char *hash, unsigned legacy_cost);
