/* SPDX-License-Identifier: MIT */
/*
 * Implementation of api/invitation.h: the token, its hash in the store,
 * and the link on public_url.
 */
#include "api/invitation.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/store_console.h"

int invitation_issue(struct store *s, const char *public_url, const char *email, int64_t hours,
                     const char *created_by, struct invitation_issued *ret)
{
        char hash[TOKEN_SHA256_HEX + 1];
        int r;

        *ret = (struct invitation_issued){0};
        if (hours < 1 || hours > INVITATION_HOURS_MAX)
                return -EINVAL;
        token_random_hex(ret->id, TOKEN_USER_ID_HEX);
        token_random_hex(ret->token, TOKEN_SECRET_HEX);
        if (public_url) {
                r = snprintf(ret->url, sizeof(ret->url), "%s/register?invitation=%s", public_url,
                             ret->token);
                if (r < 0 || (size_t)r >= sizeof(ret->url)) {
                        invitation_issued_wipe(ret);
                        return -ENAMETOOLONG;
                }
        }
        token_sha256_hex(ret->token, strlen(ret->token), hash);
        time_format_rfc3339(time(NULL) + (time_t)hours * 3600, ret->expires_at);
        r = store_invitation_create(s, ret->id, hash, email, created_by, ret->expires_at);
        if (r < 0) {
                invitation_issued_wipe(ret);
                return r;
        }
        return 0;
}

void invitation_issued_wipe(struct invitation_issued *inv)
{
        sodium_memzero(inv->token, sizeof(inv->token));
        sodium_memzero(inv->url, sizeof(inv->url));
}
