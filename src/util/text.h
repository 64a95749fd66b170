/* SPDX-License-Identifier: MIT */
/*
 * Small text helpers: hex encoding, RFC 3339 timestamps, bounded string
 * checks and safe integer parsing.  Pure functions, no allocation unless
 * the name says so, no logging.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Width of an RFC 3339 UTC timestamp with whole seconds, plus NUL. */
#define TIME_RFC3339_SIZE 21

/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void hex_encode(const uint8_t *in, size_t len, char *out);

/* The value of one hex digit (either case), or -1. */
int hex_digit(char c);

/* The bytes of the first 2*len characters of hex (either case) into out
 * (len bytes).  0, or -EINVAL at a character that is not a hex digit. */
int hex_decode(const char *hex, size_t len, uint8_t *out);

/* Whether s is exactly len characters of lower-case hex. */
bool hex_is_lower(const char *s, size_t len);

/* Format t as "2026-11-25T23:56:49Z" into out[TIME_RFC3339_SIZE]. */
void time_format_rfc3339(time_t t, char out[TIME_RFC3339_SIZE]);

/* Parse "YYYY-MM-DDTHH:MM:SSZ" (also accepts a space separator and no Z, as
 * SQLite's datetime() writes).  Returns 0 or -EINVAL. */
int time_parse_rfc3339(const char *s, time_t *ret);

/* Parse a base-10 non-negative integer that must fit in uint64_t; no sign,
 * no spaces, no trailing text.  Returns 0 or -EINVAL/-ERANGE. */
int parse_u64(const char *s, uint64_t *ret);

/* Whether s is empty or only ASCII white space. */
bool str_is_blank(const char *s);

/* Trim ASCII white space in place; returns s. */
char *str_trim(char *s);

/* Whether s contains a CR or LF. */
bool str_has_crlf(const char *s);

/* Lower-case ASCII in place; returns s. */
char *str_ascii_lower(char *s);

/* Whether s starts with prefix. */
bool str_starts_with(const char *s, const char *prefix);
