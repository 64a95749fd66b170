/* SPDX-License-Identifier: MIT */
/*
 * Creating and releasing the daemon's shared state (struct app, api/app.h):
 * the data directory, the blob store, the database (migrated), and the
 * in-memory request state (rate limiter, long polls, background queue),
 * and on PostgreSQL the wake-ups of long polls by other daemons.
 * The mail client is attached later by start-up (it depends on the flags)
 * and released here with the rest.
 */
#pragma once

#include "api/app.h"
#include "config/config.h"

/* Open everything under data_dir (created 0750 when missing) for config,
 * which is borrowed and must outlive the app.  Failures are logged.
 * Returns 0 and *ret, or a negative errno. */
int app_new(struct config *config, const char *data_dir, struct app **ret);

/* Wait a moment for background jobs, then release everything.  NULL ok. */
void app_free(struct app *app);
