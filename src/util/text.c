/* SPDX-License-Identifier: MIT */
/* Implementation of util/text.h. */
#include "util/text.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

void hex_encode(const uint8_t *in, size_t len, char *out)
{
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < len; i++) {
                out[2 * i] = digits[in[i] >> 4];
                out[2 * i + 1] = digits[in[i] & 0x0f];
        }
        out[2 * len] = '\0';
}

int hex_digit(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int hex_decode(const char *hex, size_t len, uint8_t *out)
{
        for (size_t i = 0; i < len; i++) {
                int hi = hex_digit(hex[2 * i]), lo = hi < 0 ? -1 : hex_digit(hex[2 * i + 1]);
                if (lo < 0)
                        return -EINVAL;
                out[i] = (uint8_t)(hi << 4 | lo);
        }
        return 0;
}

bool hex_is_lower(const char *s, size_t len)
{
        if (!s)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return s[len] == '\0';
}

void time_format_rfc3339(time_t t, char out[TIME_RFC3339_SIZE])
{
        struct tm tm;

        if (!gmtime_r(&t, &tm) || strftime(out, TIME_RFC3339_SIZE, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                strcpy(out, "1970-01-01T00:00:00Z");
}

int time_parse_rfc3339(const char *s, time_t *ret)
{
        struct tm tm = {0};
        int n = 0;

        if (!s || sscanf(s, "%4d-%2d-%2d%*1[T ]%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                         &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
                return -EINVAL;
        if (s[n] == 'Z')
                n++;
        if (s[n] != '\0')
                return -EINVAL;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        *ret = timegm(&tm);
        return 0;
}

int parse_u64(const char *s, uint64_t *ret)
{
        uint64_t v = 0;

        if (!s || !*s)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                unsigned d = (unsigned)(*p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

bool str_is_blank(const char *s)
{
        if (!s)
                return true;
        for (; *s; s++)
                if (!isspace((unsigned char)*s))
                        return false;
        return true;
}

char *str_trim(char *s)
{
        size_t len;
        char *start = s;

        while (*start && isspace((unsigned char)*start))
                start++;
        len = strlen(start);
        while (len > 0 && isspace((unsigned char)start[len - 1]))
                len--;
        memmove(s, start, len);
        s[len] = '\0';
        return s;
}

bool str_has_crlf(const char *s)
{
        return s && strpbrk(s, "\r\n") != NULL;
}

char *str_ascii_lower(char *s)
{
        for (char *p = s; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        *p = (char)(*p - 'A' + 'a');
        return s;
}

bool str_starts_with(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}
