/* SPDX-License-Identifier: MIT */
/*
 * The Range request header (RFC 9110 §14) for byte ranges of a
 * representation of known size.  Only a single range is served; anything
 * this module does not serve (several ranges, other units, bad syntax) is
 * reported as "no range", and the caller sends the whole body, as the RFC
 * allows.  Pure parsing: no I/O, no allocation.
 */
#pragma once

#include <stdint.h>

enum http_range {
        HTTP_RANGE_NONE,          /* send the whole representation (200) */
        HTTP_RANGE_PARTIAL,       /* send [start, start+len) (206) */
        HTTP_RANGE_UNSATISFIABLE, /* 416, Content-Range naming the size */
};

/*
 * Interpret header (NULL when absent) for a representation of size bytes.
 * On HTTP_RANGE_PARTIAL, *ret_start and *ret_len (at least 1) are set.
 * Forms: "bytes=N-M", "bytes=N-" and "bytes=-K" (the last K bytes).
 */
enum http_range http_range_parse(const char *header, uint64_t size, uint64_t *ret_start,
                                 uint64_t *ret_len);
