/* SPDX-License-Identifier: MIT */
/*
 * A streaming multipart/form-data parser (RFC 7578 over RFC 2046): bytes
 * go in chunk by chunk, in whatever pieces the network delivers, and come
 * out as callbacks — a part begins (with its form name and filename), its
 * content arrives, it ends.  Content is never buffered: memory use is
 * constant (the part headers and a boundary's worth of state).
 *
 * It knows nothing about blobs, files or HTTP answers; whether a part is
 * acceptable is for the callbacks to decide.  Everything outside part
 * content (preamble, part headers, padding, epilogue) is bounded, so a
 * body's size exceeds the content's by at most MULTIPART_OVERHEAD_MAX
 * (plus the delimiter lines of the parts).
 */
#pragma once

#include <stddef.h>

#include "util/cleanup.h"

/* Longest boundary RFC 2046 allows. */
#define MULTIPART_BOUNDARY_MAX 70
/* Text before the first boundary (clients send none; RFC 2046 allows it). */
#define MULTIPART_PREAMBLE_MAX 1024
/* A part's header block, CRLFs included. */
#define MULTIPART_HEADERS_MAX 8192
/* Spaces and tabs allowed after a boundary, before its CRLF. */
#define MULTIPART_PADDING_MAX 64
/* Text after the closing boundary (clients send a CRLF, if anything). */
#define MULTIPART_EPILOGUE_MAX 1024
/* The most a body with one part may carry besides that part's content:
 * preamble, two delimiter lines with padding, the part's headers and the
 * epilogue. */
#define MULTIPART_OVERHEAD_MAX                                                                     \
        (MULTIPART_PREAMBLE_MAX + 2 * (4 + MULTIPART_BOUNDARY_MAX + MULTIPART_PADDING_MAX + 2) +   \
         MULTIPART_HEADERS_MAX + 2 + MULTIPART_EPILOGUE_MAX)

struct multipart_callbacks {
        /* A part starts: index counts parts from 0; name is the form field
         * name and filename the file name from a form-data
         * Content-Disposition, each NULL when absent (an empty filename is
         * absent), truncated to 255 bytes, valid during the call only. */
        int (*part_begin)(void *userdata, unsigned index, const char *name, const char *filename);
        /* Content of the current part, in order, in pieces of any size. */
        int (*part_data)(void *userdata, const char *data, size_t len);
        /* The current part ended (its closing delimiter was seen). */
        int (*part_end)(void *userdata);
};

struct multipart_parser;

/*
 * Check that content_type is multipart/form-data with a valid boundary and
 * create a parser for it.  Returns 0, -EINVAL when the type is not
 * acceptable (no boundary, another media type), or -ENOMEM.  Callbacks may
 * be NULL (that event is then ignored).
 */
int multipart_parser_new(const char *content_type, const struct multipart_callbacks *cb,
                         void *userdata, struct multipart_parser **ret);

/* Release the parser.  NULL is a no-op. */
void multipart_parser_free(struct multipart_parser *p);

/*
 * Feed the next len bytes of the body.  Returns 0, -EBADMSG when the body
 * is not well-formed multipart (or a bound above is exceeded), or the
 * first negative value a callback returned.  After an error every further
 * call returns that error and no callback runs again.
 */
int multipart_parser_feed(struct multipart_parser *p, const char *data, size_t len);

/* The body ended: 0 when it ended after the closing boundary (the
 * epilogue may follow), -EBADMSG when it was cut short, or the earlier
 * error. */
int multipart_parser_finish(struct multipart_parser *p);

/* Number of parts begun so far. */
unsigned multipart_parser_parts(const struct multipart_parser *p);

DEFINE_POINTER_CLEANUP(struct multipart_parser, multipart_parser_free);
