/* SPDX-License-Identifier: MIT */
/*
 * The API's route table (routes.c), which start-up hands to the HTTP
 * layer in struct http_params.
 */
#pragma once

#include <stddef.h>

#include "http/http.h"

extern const struct route api_routes[];
extern const size_t api_n_routes;
