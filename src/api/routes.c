/* SPDX-License-Identifier: MIT */
/*
 * The one route table (style.md §6).  Method, path, body kind and limits
 * are checked by the HTTP layer before a handler runs.  Keep it sorted by
 * area; the first match wins.
 */
#include "api/handlers.h"
#include "util/cleanup.h"

const struct route http_routes[] = {
    /* operations (api.md §7) */
    {"GET", "/api/v1/health", HTTP_BODY_NONE, api_health, NULL, NULL, NULL},
    {"GET", "/readyz", HTTP_BODY_NONE, api_health, NULL, NULL, NULL},
    {"GET", "/livez", HTTP_BODY_NONE, api_livez, NULL, NULL, NULL},
};

const size_t http_n_routes = ELEMENTSOF(http_routes);
