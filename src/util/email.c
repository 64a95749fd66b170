/* SPDX-License-Identifier: MIT */
/* Implementation of util/email.h. */
#include "util/email.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "util/text.h"

/* RFC 5322 atext besides letters and digits. */
static const char atext_specials[] = "!#$%&'*+-/=?^_`{|}~";

static bool is_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* A dot-atom: atext runs separated by single dots. */
static bool local_part_valid(const char *s, size_t len)
{
        if (len == 0 || len > EMAIL_LOCAL_MAX || s[0] == '.' || s[len - 1] == '.')
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                if (c == '.') {
                        if (s[i + 1] == '.')
                                return false;
                } else if (!is_alnum(c) && !strchr(atext_specials, c))
                        return false;
        }
        return true;
}

/* Two or more labels of letters, digits and inner hyphens. */
static bool domain_valid(const char *s)
{
        size_t label = 0, labels = 0;

        for (const char *p = s;; p++) {
                if (*p == '.' || *p == '\0') {
                        if (label == 0 || label > EMAIL_LABEL_MAX || p[-1] == '-')
                                return false;
                        labels++;
                        label = 0;
                        if (*p == '\0')
                                break;
                        continue;
                }
                if (!is_alnum(*p) && !(*p == '-' && label > 0))
                        return false;
                label++;
        }
        return labels >= 2;
}

int email_normalize(const char *in, char out[EMAIL_MAX + 1])
{
        const char *start, *end, *at;
        size_t len;

        if (!in || str_has_crlf(in))
                return -EINVAL;
        start = in;
        while (*start == ' ' || *start == '\t')
                start++;
        end = start + strlen(start);
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        len = (size_t)(end - start);
        if (len == 0 || len > EMAIL_MAX)
                return -EINVAL;
        memcpy(out, start, len);
        out[len] = '\0';
        str_ascii_lower(out);

        at = strchr(out, '@');
        if (!at || strchr(at + 1, '@'))
                return -EINVAL;
        if (!local_part_valid(out, (size_t)(at - out)) || !domain_valid(at + 1))
                return -EINVAL;
        return 0;
}
