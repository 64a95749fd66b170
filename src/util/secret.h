/* SPDX-License-Identifier: MIT */
/*
 * Secrets in memory, one way for both programs: a secret string (a
 * password from the command line, a file or standard input) lives in
 * sodium_malloc() memory from the moment it is read until it is freed —
 * guard pages around it, locked against swapping where the limits allow,
 * wiped when freed — and is never copied through ordinary heap or stdio
 * buffers.  Fixed-size secrets on the stack (tokens, hashes being built)
 * are wiped with sodium_memzero() once used.
 *
 * secret_free() unlocks and unmaps pages: free a secret before the
 * process installs a seccomp filter that does not allow munlock.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* A copy of s in secret memory; NULL when out of memory. */
char *secret_strdup(const char *s);

/* Wipe and release a secret; NULL is a no-op. */
void secret_free(char *s);

static inline void secret_freep(char **s)
{
        secret_free(*s);
        *s = NULL;
}
#define _cleanup_secret_ __attribute__((cleanup(secret_freep)))

/* Drop one trailing "\n" and then one "\r" from s (what echo or an
 * editor leaves at the end of a password); returns the new length. */
size_t secret_chomp(char *s);

/* Read fd into a NUL-terminated secret of at most max bytes: to the end,
 * or with line, up to the first newline (not kept), reading byte by byte
 * so nothing after it is consumed.  One trailing "\n" and then "\r" is
 * not part of the secret.  Returns 0 with *ret (and *ret_len, when given;
 * it may be 0), -EFBIG when longer than max, -ENODATA when line and the
 * input ended before a single byte, or a negative errno. */
int secret_read_fd(int fd, size_t max, bool line, char **ret, size_t *ret_len);

/* secret_read_fd() of the whole file at path. */
int secret_read_file(const char *path, size_t max, char **ret, size_t *ret_len);
