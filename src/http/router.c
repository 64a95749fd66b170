/* SPDX-License-Identifier: MIT */
/* Implementation of http/router.h. */
#include "http/router.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool param_char_ok(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '~' || c == ':' || c == '-';
}

/* Match one pattern against path; fills params.  */
static bool pattern_match(const char *pattern, const char *path, char params[][256],
                          size_t *n_params)
{
        const char *p = pattern, *s = path;
        size_t n = 0;

        while (*p && *s) {
                if (p[0] == '{' && p[1] == '}') {
                        size_t len = 0;
                        while (s[len] && s[len] != '/') {
                                if (!param_char_ok(s[len]))
                                        return false;
                                len++;
                        }
                        if (len == 0 || len >= 256 || n >= HTTP_MAX_PARAMS)
                                return false;
                        memcpy(params[n], s, len);
                        params[n][len] = '\0';
                        n++;
                        s += len;
                        p += 2;
                        continue;
                }
                if (*p != *s)
                        return false;
                p++;
                s++;
        }
        if (*p || *s)
                return false;
        *n_params = n;
        return true;
}

enum route_match router_match(const struct route *routes, size_t n, const char *method,
                              const char *path, const struct route **ret_route, char params[][256],
                              size_t *ret_n_params, char *allow, size_t allow_size)
{
        bool path_known = false;
        size_t off = 0;

        if (allow_size)
                allow[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                char tmp[HTTP_MAX_PARAMS][256];
                size_t np = 0;

                if (!pattern_match(routes[i].pattern, path, tmp, &np))
                        continue;
                if (strcmp(routes[i].method, method) == 0 ||
                    (strcmp(method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)) {
                        memcpy(params, tmp, sizeof(tmp));
                        *ret_n_params = np;
                        *ret_route = &routes[i];
                        return ROUTE_FOUND;
                }
                path_known = true;
                if (off < allow_size) {
                        int w = snprintf(allow + off, allow_size - off, "%s%s%s", off ? ", " : "",
                                         routes[i].method,
                                         strcmp(routes[i].method, "GET") == 0 ? ", HEAD" : "");
                        if (w > 0)
                                off += (size_t)w;
                }
        }
        return path_known ? ROUTE_WRONG_METHOD : ROUTE_NOT_FOUND;
}
