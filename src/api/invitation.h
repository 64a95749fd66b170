/* SPDX-License-Identifier: MIT */
/*
 * Issuing an invitation: one place for the console (POST
 * /admin/api/invitations) and the host command (`verstak-sync-server admin
 * create-invitation`), so that both make the same token, store only its
 * SHA-256, and build a link only on the configured public_url (never on a
 * request's Host header).
 */
#pragma once

#include <stdint.h>

#include "auth/token.h"
#include "store/store.h"
#include "util/email.h"
#include "util/text.h"

/* Invitation lifetime: default and longest, in hours. */
#define INVITATION_HOURS_DEFAULT 72
#define INVITATION_HOURS_MAX     720

/* Longest link built: public_url plus the path and the token. */
#define INVITATION_URL_MAX 1024

/* A new invitation.  token and url are secrets: shown once, to whoever
 * asked for the invitation, never logged; wipe them with
 * invitation_issued_wipe(). */
struct invitation_issued {
        char id[TOKEN_USER_ID_HEX + 1];
        char token[TOKEN_SECRET_HEX + 1];
        char expires_at[TIME_RFC3339_SIZE];
        char url[INVITATION_URL_MAX]; /* "" when public_url is NULL */
};

/*
 * Create an invitation valid for hours (1..INVITATION_HOURS_MAX) from now,
 * bound to email (already normalised, or NULL for anyone), recorded as
 * created by created_by (an administrator's id, or a name for the host).
 * The link is <public_url>/register?invitation=<token> when public_url is
 * not NULL.  Returns 0, -EINVAL for hours out of range, -ENAMETOOLONG when
 * the link does not fit, or the store's error (nothing is kept on error).
 */
int invitation_issue(struct store *s, const char *public_url, const char *email, int64_t hours,
                     const char *created_by, struct invitation_issued *ret);

/* Wipe the token and the link of an issued invitation. */
void invitation_issued_wipe(struct invitation_issued *inv);
