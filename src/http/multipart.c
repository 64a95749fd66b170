/* SPDX-License-Identifier: MIT */
/*
 * Implementation of http/multipart.h.
 *
 * The body is scanned for the delimiter "\r\n--<boundary>" with the
 * Knuth-Morris-Pratt failure table, so a delimiter split across chunks is
 * found and a false start never needs the bytes again: the bytes held
 * while a possible delimiter is being matched are always a prefix of the
 * delimiter itself, and are emitted from there when the match fails.
 * Plain runs are found with memchr('\r'), and a CR with a whole
 * delimiter's length after it in the chunk is settled by one memcmp(), so
 * content is emitted in one piece per chunk; KMP matching is only needed
 * for a delimiter that may straddle two chunks.
 */
#include "http/multipart.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* "\r\n--" + boundary */
#define DELIM_MAX (4 + MULTIPART_BOUNDARY_MAX)
/* Longest Content-Type header value we look at. */
#define CONTENT_TYPE_MAX 1024
/* Form names and filenames are handed to callbacks truncated to this. */
#define PARAM_VALUE_MAX 256

enum mp_state {
        MP_PREAMBLE,      /* before the first delimiter: discarded */
        MP_BOUNDARY_TAIL, /* right after a delimiter: "--", padding or CRLF */
        MP_CLOSE_DASH,    /* saw "-" after a delimiter, expecting the second */
        MP_PADDING,       /* spaces/tabs after a delimiter */
        MP_BOUNDARY_LF,   /* saw CR after a delimiter, expecting LF */
        MP_HEADERS,       /* a part's header block */
        MP_BODY,          /* a part's content */
        MP_EPILOGUE,      /* after the closing delimiter: discarded */
};

struct multipart_parser {
        struct multipart_callbacks cb;
        void *userdata;
        enum mp_state state;
        int error;

        char delim[DELIM_MAX + 1];
        size_t dlen;
        unsigned char fail[DELIM_MAX + 1]; /* KMP: longest proper border of delim[0..m) */
        size_t matched;                    /* delimiter bytes matched (held back) */

        size_t counted; /* bytes in the current bounded section */
        unsigned parts;

        char headers[MULTIPART_HEADERS_MAX + 1];
        size_t hlen;
};

static bool is_tchar(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* RFC 2046 bchars (the space is allowed, but not last). */
static bool is_bchar(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c != '\0' && strchr("'()+_,-./:=? ", c));
}

static const char *skip_ws(const char *s)
{
        while (*s == ' ' || *s == '\t')
                s++;
        return s;
}

/* Copy at most size-1 bytes of [from, from+len) into out, NUL-terminated. */
static void copy_truncated(char *out, size_t size, const char *from, size_t len)
{
        if (len >= size)
                len = size - 1;
        memcpy(out, from, len);
        out[len] = '\0';
}

/*
 * Read the next "; name=value" parameter of a header value at *pp.  The
 * name is copied (lower-cased) into name and the value, unquoted, into
 * value, both truncated to their sizes.  Returns 1 for a parameter, 0 at
 * the end, -EBADMSG when malformed.
 */
static int next_param(const char **pp, char *name, size_t nsize, char *value, size_t vsize)
{
        const char *s = skip_ws(*pp), *start;
        size_t n = 0;

        if (*s == '\0')
                return 0;
        if (*s != ';')
                return -EBADMSG;
        s = skip_ws(s + 1);
        if (*s == '\0') { /* a trailing ";" is tolerated */
                *pp = s;
                return 0;
        }
        for (start = s; is_tchar(*s); s++)
                ;
        if (s == start)
                return -EBADMSG;
        copy_truncated(name, nsize, start, (size_t)(s - start));
        for (char *c = name; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                        *c = (char)(*c - 'A' + 'a');
        s = skip_ws(s);
        if (*s != '=')
                return -EBADMSG;
        s = skip_ws(s + 1);
        if (*s == '"') {
                for (s++; *s && *s != '"'; s++) {
                        if (*s == '\\' && s[1])
                                s++;
                        if (n + 1 < vsize)
                                value[n++] = *s;
                }
                if (*s != '"')
                        return -EBADMSG;
                s++;
                value[n] = '\0';
        } else {
                for (start = s; is_tchar(*s); s++)
                        ;
                if (s == start)
                        return -EBADMSG;
                copy_truncated(value, vsize, start, (size_t)(s - start));
        }
        *pp = s;
        return 1;
}

/* Compare the leading token of value (case-insensitively) with type and
 * return the rest, or NULL when it differs. */
static const char *match_type(const char *value, const char *type)
{
        size_t n = strlen(type);

        value = skip_ws(value);
        if (strncasecmp(value, type, n) != 0)
                return NULL;
        value += n;
        if (*value != '\0' && *value != ';' && *value != ' ' && *value != '\t')
                return NULL;
        return value;
}

static int boundary_from_content_type(const char *content_type, char *out, size_t size)
{
        char copy[CONTENT_TYPE_MAX], name[32], value[MULTIPART_BOUNDARY_MAX + 2];
        const char *p;
        bool found = false;
        int r;

        if (!content_type || strlen(content_type) >= sizeof(copy))
                return -EINVAL;
        strcpy(copy, content_type);
        p = match_type(copy, "multipart/form-data");
        if (!p)
                return -EINVAL;
        while ((r = next_param(&p, name, sizeof(name), value, sizeof(value))) > 0) {
                if (strcmp(name, "boundary") != 0)
                        continue;
                size_t len = strlen(value);
                if (len == 0 || len > MULTIPART_BOUNDARY_MAX || value[len - 1] == ' ')
                        return -EINVAL;
                for (size_t i = 0; i < len; i++)
                        if (!is_bchar(value[i]))
                                return -EINVAL;
                if (len >= size)
                        return -EINVAL;
                memcpy(out, value, len + 1);
                found = true;
        }
        return r < 0 || !found ? -EINVAL : 0;
}

int multipart_parser_new(const char *content_type, const struct multipart_callbacks *cb,
                         void *userdata, struct multipart_parser **ret)
{
        char boundary[MULTIPART_BOUNDARY_MAX + 1];
        struct multipart_parser *p;
        int r;

        r = boundary_from_content_type(content_type, boundary, sizeof(boundary));
        if (r < 0)
                return r;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        if (cb)
                p->cb = *cb;
        p->userdata = userdata;
        p->dlen = (size_t)snprintf(p->delim, sizeof(p->delim), "\r\n--%s", boundary);

        /* KMP failure table. */
        p->fail[0] = p->fail[1] = 0;
        for (size_t m = 2, k = 0; m <= p->dlen; m++) {
                while (k > 0 && p->delim[m - 1] != p->delim[k])
                        k = p->fail[k];
                if (p->delim[m - 1] == p->delim[k])
                        k++;
                p->fail[m] = (unsigned char)k;
        }

        /* The first delimiter may open the body without a CRLF before it:
         * start as if that CRLF had been seen. */
        p->state = MP_PREAMBLE;
        p->matched = 2;
        *ret = p;
        return 0;
}

void multipart_parser_free(struct multipart_parser *p)
{
        free(p);
}

unsigned multipart_parser_parts(const struct multipart_parser *p)
{
        return p->parts;
}

/* Bytes that belong to the current section (part content or preamble). */
static int emit(struct multipart_parser *p, const char *data, size_t len)
{
        if (len == 0)
                return 0;
        if (p->state == MP_PREAMBLE) {
                p->counted += len;
                return p->counted > MULTIPART_PREAMBLE_MAX + 2 ? -EBADMSG : 0;
        }
        return p->cb.part_data ? p->cb.part_data(p->userdata, data, len) : 0;
}

/*
 * Look for the delimiter in data, emitting what is certainly not part of
 * it.  Returns 1 when a whole delimiter was matched (*used counts the
 * bytes up to its end), 0 when all of data was consumed without one, or a
 * negative error.
 */
static int scan(struct multipart_parser *p, const char *data, size_t len, size_t *used)
{
        size_t i = 0, run = 0; /* data[run..i) is plain content not yet emitted */
        int r;

        while (i < len) {
                if (p->matched == 0) {
                        const char *cr = memchr(data + i, '\r', len - i);
                        if (!cr)
                                break; /* data[run..len) is emitted below */
                        i = (size_t)(cr - data);
                        /* A whole delimiter's length is at hand: compare
                         * it at once.  A CR that does not start one stays
                         * in the run, so content goes out in one piece per
                         * chunk, not one per CR (every 256 bytes or so of
                         * binary content).  The boundary holds no CR, so
                         * what a failed compare matched holds no CR after
                         * the first byte: the work stays linear. */
                        if (len - i >= p->dlen) {
                                if (memcmp(cr, p->delim, p->dlen) != 0) {
                                        i++;
                                        continue;
                                }
                                r = emit(p, data + run, i - run);
                                if (r < 0)
                                        return r;
                                *used = i + p->dlen;
                                return 1;
                        }
                        r = emit(p, data + run, i - run);
                        if (r < 0)
                                return r;
                        p->matched = 1;
                        run = ++i;
                        continue;
                }
                char c = data[i];
                while (p->matched > 0 && p->delim[p->matched] != c) {
                        size_t k = p->fail[p->matched];
                        r = emit(p, p->delim, p->matched - k);
                        if (r < 0)
                                return r;
                        p->matched = k;
                }
                if (p->delim[p->matched] == c) {
                        p->matched++;
                        run = ++i;
                        if (p->matched == p->dlen) {
                                p->matched = 0;
                                *used = i;
                                return 1;
                        }
                } else
                        run = i++; /* c is content */
        }
        r = emit(p, data + run, len - run);
        if (r < 0)
                return r;
        *used = len;
        return 0;
}

/* Parse a Content-Disposition value.  Returns 1 for form-data (name and
 * filename filled when given), 0 for another disposition, -EBADMSG. */
static int parse_disposition(const char *value, char *name, bool *has_name, char *filename,
                             bool *has_filename)
{
        char pname[32], pvalue[PARAM_VALUE_MAX];
        const char *p = match_type(value, "form-data");
        int r;

        if (!p)
                return 0;
        while ((r = next_param(&p, pname, sizeof(pname), pvalue, sizeof(pvalue))) > 0) {
                if (strcmp(pname, "name") == 0) {
                        strcpy(name, pvalue);
                        *has_name = true;
                } else if (strcmp(pname, "filename") == 0 || strcmp(pname, "filename*") == 0) {
                        /* filename* (RFC 5987) is kept undecoded: only its
                         * presence matters to callers.  An empty filename
                         * (a form's unused file input) is no filename. */
                        if (pvalue[0] && (!*has_filename || strcmp(pname, "filename") == 0)) {
                                strcpy(filename, pvalue);
                                *has_filename = true;
                        }
                }
        }
        return r < 0 ? r : 1;
}

/* The header block is complete: find Content-Disposition and start the part. */
static int begin_part(struct multipart_parser *p)
{
        char name[PARAM_VALUE_MAX] = "", filename[PARAM_VALUE_MAX] = "";
        bool has_name = false, has_filename = false, seen = false;
        char *line = p->headers, *eol;
        int r;

        if (memchr(p->headers, '\0', p->hlen))
                return -EBADMSG;
        p->headers[p->hlen] = '\0';
        while ((eol = strstr(line, "\r\n")) && eol != line) {
                *eol = '\0';
                char *colon = strchr(line, ':');
                if (!colon || colon == line)
                        return -EBADMSG;
                *colon = '\0';
                if (strcasecmp(line, "Content-Disposition") == 0) {
                        if (seen)
                                return -EBADMSG;
                        seen = true;
                        r = parse_disposition(colon + 1, name, &has_name, filename, &has_filename);
                        if (r < 0)
                                return r;
                }
                line = eol + 2;
        }
        p->parts++;
        if (!p->cb.part_begin)
                return 0;
        return p->cb.part_begin(p->userdata, p->parts - 1, has_name ? name : NULL,
                                has_filename ? filename : NULL);
}

/* One byte in a state that is handled byte by byte. */
static int step(struct multipart_parser *p, char c)
{
        switch (p->state) {
        case MP_BOUNDARY_TAIL:
                if (c == '-')
                        p->state = MP_CLOSE_DASH;
                else if (c == ' ' || c == '\t') {
                        p->state = MP_PADDING;
                        p->counted = 1;
                } else if (c == '\r')
                        p->state = MP_BOUNDARY_LF;
                else
                        return -EBADMSG;
                return 0;
        case MP_CLOSE_DASH:
                if (c != '-')
                        return -EBADMSG;
                p->state = MP_EPILOGUE;
                p->counted = 0;
                return 0;
        case MP_PADDING:
                if (c == '\r')
                        p->state = MP_BOUNDARY_LF;
                else if ((c != ' ' && c != '\t') || ++p->counted > MULTIPART_PADDING_MAX)
                        return -EBADMSG;
                return 0;
        case MP_BOUNDARY_LF:
                if (c != '\n')
                        return -EBADMSG;
                p->state = MP_HEADERS;
                p->hlen = 0;
                return 0;
        case MP_HEADERS:
                if (p->hlen >= MULTIPART_HEADERS_MAX)
                        return -EBADMSG;
                p->headers[p->hlen++] = c;
                if ((p->hlen == 2 && memcmp(p->headers, "\r\n", 2) == 0) ||
                    (p->hlen >= 4 && memcmp(p->headers + p->hlen - 4, "\r\n\r\n", 4) == 0)) {
                        p->state = MP_BODY;
                        p->matched = 0;
                        return begin_part(p);
                }
                return 0;
        default:
                return -EBADMSG; /* not reached: the other states are bulk */
        }
}

int multipart_parser_feed(struct multipart_parser *p, const char *data, size_t len)
{
        size_t i = 0;
        int r = 0;

        if (p->error)
                return p->error;
        while (i < len && r >= 0) {
                if (p->state == MP_PREAMBLE || p->state == MP_BODY) {
                        size_t used = 0;
                        r = scan(p, data + i, len - i, &used);
                        i += used;
                        if (r == 1) {
                                if (p->state == MP_BODY && p->cb.part_end)
                                        r = p->cb.part_end(p->userdata);
                                p->state = MP_BOUNDARY_TAIL;
                        }
                } else if (p->state == MP_EPILOGUE) {
                        /* Bulk: the epilogue is only counted. */
                        p->counted += len - i;
                        i = len;
                        if (p->counted > MULTIPART_EPILOGUE_MAX)
                                r = -EBADMSG;
                } else
                        r = step(p, data[i++]);
        }
        if (r < 0)
                p->error = r;
        return r < 0 ? r : 0;
}

int multipart_parser_finish(struct multipart_parser *p)
{
        if (p->error)
                return p->error;
        if (p->state != MP_EPILOGUE)
                p->error = -EBADMSG;
        return p->error;
}
