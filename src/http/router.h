/* SPDX-License-Identifier: MIT */
/*
 * Route matching over a static table: exact segments and "{}" segments
 * that capture one path component.  Pure: no MHD, no allocation.
 */
#pragma once

#include <stddef.h>

#include "http/http.h"

enum route_match {
        ROUTE_FOUND,
        ROUTE_NOT_FOUND,
        ROUTE_WRONG_METHOD, /* path known, method not: allow lists the methods */
};

/* Match method and path against routes.  On ROUTE_FOUND sets *ret_route and
 * the captured parameters (a parameter longer than its slot, or containing
 * characters outside [A-Za-z0-9._~:-], makes the path not match).  GET
 * routes also match HEAD. */
enum route_match router_match(const struct route *routes, size_t n, const char *method,
                              const char *path, const struct route **ret_route, char params[][256],
                              size_t *ret_n_params, char *allow, size_t allow_size);
