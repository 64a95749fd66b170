/* SPDX-License-Identifier: MIT */
/*
 * File-system helpers that every durable writer in the project shares:
 * directory creation with explicit modes, directory fsync after a rename,
 * and atomic whole-file writes (temp file, fsync, rename, fsync dir).
 * Return 0 or a negative errno; they do not log.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p with mode for every component created; existing directories are
 * left as they are. */
int fs_mkdir_p(const char *path, mode_t mode);

/* fsync() the directory at path (or dirfd when path is NULL). */
int fs_fsync_dir(int dirfd, const char *path);

/* Write data to dirfd/name atomically with the given mode: a hidden temp file
 * in the same directory, fsync, rename over name, fsync of the directory. */
int fs_write_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode);

/* Read a whole small file (at most max bytes) into a NUL-terminated buffer.
 * Returns 0 and sets *ret and *ret_len, -EFBIG when larger than max. */
int fs_read_file(const char *path, size_t max, char **ret, size_t *ret_len);
