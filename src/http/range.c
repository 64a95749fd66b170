/* SPDX-License-Identifier: MIT */
/* Implementation of http/range.h. */
#include "http/range.h"

#include <stdbool.h>
#include <stddef.h>
#include <strings.h>

/* Parse a run of digits at *pp.  Returns false when there is none; a value
 * too large for uint64_t saturates (it is beyond any size anyway). */
static bool parse_pos(const char **pp, uint64_t *ret)
{
        const char *p = *pp;
        uint64_t v = 0;

        if (*p < '0' || *p > '9')
                return false;
        for (; *p >= '0' && *p <= '9'; p++) {
                unsigned d = (unsigned)(*p - '0');
                v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
        }
        *pp = p;
        *ret = v;
        return true;
}

static const char *skip_ws(const char *p)
{
        while (*p == ' ' || *p == '\t')
                p++;
        return p;
}

enum http_range http_range_parse(const char *header, uint64_t size, uint64_t *ret_start,
                                 uint64_t *ret_len)
{
        uint64_t first = 0, last = UINT64_MAX;
        const char *p;

        if (!header)
                return HTTP_RANGE_NONE;
        p = skip_ws(header);
        if (strncasecmp(p, "bytes", 5) != 0)
                return HTTP_RANGE_NONE;
        p = skip_ws(p + 5);
        if (*p != '=')
                return HTTP_RANGE_NONE;
        p = skip_ws(p + 1);

        if (*p == '-') { /* suffix: the last K bytes */
                uint64_t k;
                p++;
                if (!parse_pos(&p, &k) || *skip_ws(p) != '\0')
                        return HTTP_RANGE_NONE;
                if (k == 0 || size == 0)
                        return HTTP_RANGE_UNSATISFIABLE;
                first = k >= size ? 0 : size - k;
        } else {
                if (!parse_pos(&p, &first))
                        return HTTP_RANGE_NONE;
                p = skip_ws(p);
                if (*p != '-')
                        return HTTP_RANGE_NONE;
                p = skip_ws(p + 1);
                if (*p >= '0' && *p <= '9') {
                        (void)parse_pos(&p, &last);
                        if (last < first)
                                return HTTP_RANGE_NONE; /* invalid: ignored */
                }
                if (*skip_ws(p) != '\0') /* several ranges, or junk */
                        return HTTP_RANGE_NONE;
                if (first >= size)
                        return HTTP_RANGE_UNSATISFIABLE;
        }
        if (last >= size)
                last = size - 1;
        *ret_start = first;
        *ret_len = last - first + 1;
        return HTTP_RANGE_PARTIAL;
}
