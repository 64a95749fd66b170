/* SPDX-License-Identifier: MIT */
/*
 * Reading an administrator's new password for --admin-user and the `admin
 * create-admin|reset-admin` commands: from a file or standard input (or,
 * for the old quick start only, a value already taken from the command
 * line), with the same rules everywhere.
 */
#pragma once

/* Longest administrator password accepted, in bytes. */
#define ADMIN_PASSWORD_MAX_LEN 256

/*
 * The password: literal when not NULL, else the content of file when not
 * NULL, else one line of standard input.  One trailing newline (and a
 * carriage return before it) is dropped; 1 to ADMIN_PASSWORD_MAX_LEN bytes
 * must remain.  *ret is in secret memory: release it with secret_free().
 * Logs why it failed; returns 0 or a negative errno.
 */
int admin_password_read(const char *literal, const char *file, char **ret);
