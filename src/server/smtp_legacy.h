/* SPDX-License-Identifier: MIT */
/*
 * Carrying the earlier server's SMTP settings (saved from its console in
 * the database, password included) over to the mail helper, once, at
 * start.  The daemon reads them as its own unprivileged account (the
 * database is never opened as root) and hands them to the mail helper on
 * the mail channel (MAIL_MSG_SMTP_CARRY), the same way whether the helper
 * was started here or is its own systemd service.  The helper takes them
 * only when its own configuration sets no smtp.* and it holds none yet,
 * keeps them in its own data directory and acknowledges with where; only
 * then is the password wiped from the database, and the table records
 * where the settings went, so later starts do not hand them over again.
 * Nothing the daemon's account can write is ever read by a more
 * privileged process: the helper checks the message like any other input
 * and reads its files back as its own account (docs/security.md).
 */
#pragma once

#include "api/app.h"

/*
 * Look at the earlier server's settings and act (see the top of this
 * file): fill *ret, and cfg's smtp.* and public_url for display when they
 * come from that server.  Logs what it did, once.  Call after app->mail is
 * set (it may be NULL: then nothing is handed over this time).  Returns 0,
 * or a negative errno when the database cannot be read or written (start
 * then stops: a password must not stay behind silently).
 */
int smtp_legacy_carry_over(struct app *app, struct config *cfg, struct smtp_sources *ret);
