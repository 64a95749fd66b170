/* SPDX-License-Identifier: MIT */
/*
 * The outbox: where the mailer writes each message as an .eml file when no
 * SMTP host is configured (development and tests read them).  Files appear
 * atomically (a dot-named temporary file, fsync, rename, directory fsync),
 * named <UTC timestamp>-<random>.eml so that a listing sorts by time.  No
 * logging; no reading back.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Name of an outbox file: "20260102T030405.123456Z-0123456789abcdef.eml". */
#define OUTBOX_NAME_SIZE 48

/* Mode of the files and of a directory created here. */
#define OUTBOX_FILE_MODE 0640
#define OUTBOX_DIR_MODE  0750

/*
 * Create path (with parents, OUTBOX_DIR_MODE) unless it exists, and open it
 * as a directory, following no symbolic link on the way (a component that
 * is one gives -ELOOP).  *ret_created tells whether anything was created.
 * Returns the descriptor (close-on-exec) or a negative errno.
 */
int outbox_open(const char *path, bool *ret_created);

/*
 * Write msg into the outbox open at dirfd.  The file's name is copied to
 * ret_name when it is not NULL.  Returns 0 or a negative errno.
 */
int outbox_write(int dirfd, const char *msg, size_t len, char ret_name[OUTBOX_NAME_SIZE]);
