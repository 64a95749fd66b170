/* SPDX-License-Identifier: MIT */
/* Implementation of http/locale.h. */
#include "http/locale.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"
#include "util/cleanup.h"

/* Languages we have texts for; the first is the last resort. */
static const char *const supported[] = {"en", "ru"};

/* Longest Accept-Language value considered (browsers send < 100 bytes). */
#define LOCALE_HEADER_MAX 512

const char *locale_supported(const char *tag)
{
        size_t len;

        if (!tag)
                return NULL;
        len = strcspn(tag, "-_");
        for (size_t i = 0; i < ELEMENTSOF(supported); i++)
                if (len == strlen(supported[i]) && strncasecmp(tag, supported[i], len) == 0 &&
                    (tag[len] == '\0' || tag[len + 1] != '\0'))
                        return supported[i];
        return NULL;
}

/* The q value of one Accept-Language item's parameters (";q=0.5"), in
 * thousandths; 1000 when absent, -1 when malformed. */
static int item_quality(const char *params)
{
        const char *q = strstr(params, "q=");
        char *end = NULL;
        double v;

        if (!q)
                return 1000;
        v = strtod(q + 2, &end);
        if (end == q + 2 || v < 0 || v > 1)
                return -1;
        return (int)(v * 1000 + 0.5);
}

const char *locale_from_accept_language(const char *header)
{
        char buf[LOCALE_HEADER_MAX + 1];
        const char *best = NULL;
        int best_q = 0;
        char *save = NULL;

        if (!header || strlen(header) > LOCALE_HEADER_MAX)
                return NULL;
        snprintf(buf, sizeof(buf), "%s", header);
        for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
                char *params = strchr(item, ';');
                const char *lang;
                int q;

                if (params)
                        *params++ = '\0';
                while (*item == ' ' || *item == '\t')
                        item++;
                item[strcspn(item, " \t")] = '\0';
                lang = locale_supported(item);
                q = params ? item_quality(params) : 1000;
                if (lang && q > best_q) {
                        best = lang;
                        best_q = q;
                }
        }
        return best;
}

const char *http_request_locale(struct http_request *req, const char *fallback)
{
        const char *l = locale_supported(http_cookie(req, LOCALE_COOKIE));

        if (!l)
                l = locale_from_accept_language(http_header(req, "Accept-Language"));
        if (!l)
                l = locale_supported(fallback);
        return l ? l : supported[0];
}
