/* SPDX-License-Identifier: MIT */
/*
 * Test helpers for reading a built e-mail (unit and integration suites):
 * header block and body, unfolded header values, RFC 2047 encoded-words,
 * quoted-printable, CRLF and line-length checks.  Failures are cmocka
 * assertions; returned strings are malloc'd.
 */
#pragma once

#include <stddef.h>

/* A copy of the header block (through its last CRLF); *ret_body points
 * past the empty line in msg. */
char *mail_check_split(const char *msg, const char **ret_body);

/* The unfolded value of the first header called name (case-insensitive),
 * looking no further than the header block; NULL when absent. */
char *mail_check_header(const char *msg, const char *name);

/* Assert that header name is present with exactly value. */
void mail_check_header_equal(const char *msg, const char *name, const char *value);

/* Decode a value made of "=?UTF-8?B?…?=" words separated by spaces,
 * asserting each word's shape and length (at most 75 characters). */
char *mail_check_decode_words(const char *value);

/* Decode a quoted-printable body (CRLF line breaks become LF). */
char *mail_check_qp_decode(const char *text);

/* Assert that every LF follows a CR and every CR precedes an LF. */
void mail_check_crlf_only(const char *text);

/* Assert that no CRLF-terminated line is longer than max. */
void mail_check_lines_within(const char *text, size_t max);
