/* SPDX-License-Identifier: MIT */
/*
 * Every endpoint handler, one group per file in src/api/.  The route table
 * (routes.c) is the only user of this header.
 */
#pragma once

#include "http/http.h"

/* health.c */
int api_health(struct http_request *req);
int api_livez(struct http_request *req);
