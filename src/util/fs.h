/* SPDX-License-Identifier: MIT */
/*
 * File-system helpers that every durable writer in the project shares:
 * directory creation with explicit modes, directory fsync after a rename,
 * and atomic whole-file writes (temp file, fsync, rename, fsync dir).
 * Return 0 or a negative errno; they do not log.
 */
#pragma once

#include <stdbool.h>
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

/* Copy the file src (not followed when it is a symbolic link) to dst,
 * which must not exist, created with mode and fsynced.  A partial dst is
 * removed on failure; the caller fsyncs dst's directory when it needs to. */
int fs_copy_file(const char *src, const char *dst, mode_t mode);

/* Read a whole small file (at most max bytes) into a NUL-terminated buffer.
 * Returns 0 and sets *ret and *ret_len, -EFBIG when larger than max. */
int fs_read_file(const char *path, size_t max, char **ret, size_t *ret_len);

/* As fs_read_file(), from an open descriptor. */
int fs_read_fd(int fd, size_t max, char **ret, size_t *ret_len);

/*
 * open(path, flags, mode) without following a symbolic link in any
 * component (openat2 with RESOLVE_NO_SYMLINKS): for paths that a less
 * privileged account may be able to change.  O_CLOEXEC is added.  Returns
 * the descriptor or a negative errno (-ELOOP for a symbolic link).
 */
int fs_open_nofollow(const char *path, int flags, mode_t mode);

/*
 * Open the directory path, creating missing components with mode, one
 * component at a time with O_NOFOLLOW, so no symbolic link is followed
 * anywhere and ".." is refused.  *ret_created (may be NULL) tells whether
 * any component was created.  Returns the descriptor or a negative errno
 * (-ELOOP when a component is a symbolic link or not a directory).
 */
int fs_open_dir_nofollow(const char *path, mode_t mode, bool *ret_created);
