/* SPDX-License-Identifier: MIT */
/*
 * A small append-only JSON text writer for large, flat answers (pull
 * pages).  jansson builds a tree of allocations per value and then
 * serialises it; for a page of a hundred operations that is thousands of
 * mallocs.  This writes the text directly into one growing buffer.
 * Strings are escaped per RFC 8259 (quote, backslash, control characters);
 * other bytes pass through unchanged.  Errors are sticky: after a failed
 * allocation every call is a no-op and json_writer_finish() returns NULL.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_writer {
        char *buf;
        size_t len, cap;
        bool failed;
        bool need_comma; /* a value was written at the current nesting level */
};

void json_writer_init(struct json_writer *w, size_t initial);

/* Structural tokens; the writer inserts commas between members. */
void json_writer_begin_object(struct json_writer *w);
void json_writer_end_object(struct json_writer *w);
void json_writer_begin_array(struct json_writer *w);
void json_writer_end_array(struct json_writer *w);

/* A member key (inside an object); the value follows. */
void json_writer_key(struct json_writer *w, const char *key);

void json_writer_string(struct json_writer *w, const char *s);
/* A key and its value in one call. */
void json_writer_member_string(struct json_writer *w, const char *key, const char *value);
void json_writer_member_int(struct json_writer *w, const char *key, int64_t value);

/* Already valid JSON text, inserted as one value. */
void json_writer_raw(struct json_writer *w, const char *text, size_t len);
void json_writer_int(struct json_writer *w, int64_t v);
void json_writer_bool(struct json_writer *w, bool v);

/* The length of s escaped as the inside of a JSON string (without the
 * quotes), as the writer escapes it. */
size_t json_escaped_len(const char *s);

/*
 * Escape s from byte *pos on into out (at most max bytes, no quotes, no
 * NUL), stopping before an escape that would not fit whole: for streaming
 * a long string in pieces.  Advances *pos past what was consumed and
 * returns the bytes written; *pos reaches strlen(s) at the end.
 */
size_t json_escape_some(const char *s, size_t *pos, char *out, size_t max);

/* The NUL-terminated text (caller frees) and its length, or NULL after an
 * allocation failure (the buffer is then freed). */
char *json_writer_finish(struct json_writer *w, size_t *ret_len);
