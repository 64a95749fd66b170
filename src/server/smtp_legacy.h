/* SPDX-License-Identifier: MIT */
/*
 * Carrying the earlier server's SMTP settings (saved from its console in
 * the database, password included) over to the mail helper, once, at
 * start and before privileges are dropped.  The settings go to
 * DIR/legacy-smtp/smtp.yml and the password to DIR/legacy-smtp/password,
 * a directory owned by the user that starts the mail helper (root on a
 * server) and closed to everyone else; the password is then wiped from
 * the database.  The mail helper loads them (--smtp-carried-over) while it
 * still runs as that user; the daemon reads smtp.yml back once, at start,
 * only to show it.  Once carried over, the table is never read for
 * delivery again (the daemon's own account can write it).
 */
#pragma once

#include "api/app.h"

/* The directory under the data directory, and its two files. */
#define SMTP_LEGACY_DIR      "legacy-smtp"
#define SMTP_LEGACY_SETTINGS "smtp.yml"
#define SMTP_LEGACY_PASSWORD "password"

/* What the carry-over decided. */
struct smtp_legacy_state {
        struct smtp_sources sources; /* for the console */
        char *settings_path;         /* for the mail helper, NULL when none */
};

/*
 * Look at the earlier server's settings and act (see the top of this
 * file): fill st, and cfg's smtp.* and public_url for display when they
 * come from that server.  Logs what it did, once.  Returns 0, or a
 * negative errno when the database cannot be read or written (start-up
 * then stops: a password must not stay behind silently).
 */
int smtp_legacy_carry_over(struct app *app, struct config *cfg, struct smtp_legacy_state *st);

void smtp_legacy_state_done(struct smtp_legacy_state *st);
