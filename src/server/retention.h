/* SPDX-License-Identifier: MIT */
/*
 * Retention (api.md §8): runs at start and then periodically from the main
 * loop.  Removes what has expired — idempotency records, old audit
 * entries, expired sessions and e-mail tokens, stale upload temp files —
 * and never an operation or a referenced blob.  Each step logs what it
 * removed; a failing step is logged and the others still run.
 */
#pragma once

#include <time.h>

struct app;

/* How often the main loop runs retention. */
#define RETENTION_INTERVAL_SECONDS 3600

/* Run every retention step once, with now as the current time. */
void retention_run(struct app *app, time_t now);
