/* SPDX-License-Identifier: MIT */
/*
 * Administrators managing administrators, and invitations, under
 * /admin/api/ (docs/admin.md).  An administrator lists the others, adds
 * one, removes another (never itself, never the last one) and changes its
 * own password.  An invitation is a single-use, expiring token, optionally
 * bound to one e-mail address, with which someone may register while
 * registration is closed; only its SHA-256 is stored, and the token is
 * shown once, in the answer that created it.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/admin_common.h"
#include "api/handlers.h"
#include "api/invitation.h"
#include "auth/password.h"
#include "auth/token.h"
#include "api/app.h"
#include "api/errors.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/email.h"
#include "util/log.h"
#include "util/text.h"

/* Administrator names: as usernames; passwords: as users' (api.md §6). */
#define ADMIN_NAME_MAX ACCOUNT_USERNAME_MAX

/* --- administrators ------------------------------------------------------------ */

int api_admin_admins(struct http_request *req)
{
        _cleanup_admin_ struct admin_ctx a = {0};
        struct store_rows rows = {0};
        int r = admin_begin(req, false, &a);

        if (r != 0)
                return admin_answered(r);
        r = store_console_admins(api_app(req)->store, &rows);
        if (r < 0)
                return api_reply_internal(req, r);
        json_t *list = admin_rows_json(&rows);
        store_rows_done(&rows);
        if (!list)
                return api_reply_internal(req, -ENOMEM);
        return http_reply_json(
                req, 200, json_pack("{s:o,s:s}", "admins", list, "self_id", a.session.subject_id),
                HTTP_REPLY_NO_STORE);
}

int api_admin_admin_add(struct http_request *req)
{
        _cleanup_admin_ struct admin_ctx a = {0};
        _cleanup_json_ json_t *root = NULL;
        const char *username = NULL, *password = NULL;
        const struct body_field extra[] = {
                {"username", BODY_STRING, &username, NULL},
                {"password", BODY_STRING, &password, NULL},
        };
        char name[ADMIN_NAME_MAX + 1], hash[PASSWORD_HASH_MAX], id[TOKEN_USER_ID_HEX + 1];
        int r = admin_begin_confirmed(req, &a, extra, ELEMENTSOF(extra), &root);

        if (r != 0)
                return admin_answered(r);
        if (str_is_blank(username) || !password || !password[0])
                return api_error(req, API_ERR_INVALID_REQUEST, "username and password required");
        if (api_username_normalize(username, name) < 0)
                return api_error(req, API_ERR_INVALID_REQUEST, "invalid username");
        r = api_check_new_password(req, password);
        if (r != 0)
                return admin_answered(r);
        r = password_hash(password, hash);
        if (r < 0)
                return api_reply_internal(req, r);
        token_random_hex(id, TOKEN_USER_ID_HEX);
        r = store_console_admin_create(api_app(req)->store, id, name, hash);
        sodium_memzero(hash, sizeof(hash));
        if (r == -EEXIST)
                return api_error(req, API_ERR_CONFLICT, "administrator already exists");
        if (r < 0)
                return api_reply_internal(req, r);
        admin_record(req, &a, "admin_added", NULL, NULL, "administrator added",
                     "added an administrator");
        return http_reply_json(req, 200, json_pack("{s:s,s:s}", "status", "ok", "id", id), 0);
}

int api_admin_admin_remove(struct http_request *req)
{
        _cleanup_admin_ struct admin_ctx a = {0};
        _cleanup_json_ json_t *root = NULL;
        int r = admin_begin_confirmed(req, &a, NULL, 0, &root);

        if (r != 0)
                return admin_answered(r);
        r = store_console_admin_delete(api_app(req)->store, req->params[0], a.session.subject_id);
        if (r == -ECANCELED)
                return api_error(req, API_ERR_CONFLICT, "an administrator cannot remove itself");
        if (r == -ENOENT)
                return api_error(req, API_ERR_NOT_FOUND, "administrator not found");
        if (r == -EPERM)
                return api_error(req, API_ERR_CONFLICT, "the last administrator cannot be removed");
        if (r < 0)
                return api_reply_internal(req, r);
        admin_record(req, &a, "admin_removed", NULL, NULL, "administrator removed",
                     "removed an administrator");
        return http_reply_json(req, 200, json_pack("{s:s}", "status", "deleted"), 0);
}

int api_admin_password(struct http_request *req)
{
        _cleanup_admin_ struct admin_ctx a = {0};
        _cleanup_json_ json_t *root = NULL;
        const char *current = NULL, *fresh = NULL;
        const struct body_field fields[] = {
                {"admin_password", BODY_STRING, &current, NULL},
                {"new_password", BODY_STRING, &fresh, NULL},
        };
        char hash[PASSWORD_HASH_MAX];
        int r = admin_begin(req, true, &a);

        if (r == 0)
                r = admin_body(req, fields, ELEMENTSOF(fields), &root);
        /* Changing one's own password always takes the current one: a
         * recent login alone does not do (see admin_reauth()). */
        if (r == 0 && (!current || !current[0]))
                r = api_error_answered(req, API_ERR_INVALID_REQUEST, "admin_password required");
        if (r == 0)
                r = admin_reauth(req, &a, current);
        if (r != 0)
                return admin_answered(r);
        if (!fresh || !fresh[0])
                return api_error(req, API_ERR_INVALID_REQUEST, "new_password required");
        r = api_check_new_password(req, fresh);
        if (r != 0)
                return admin_answered(r);
        r = password_hash(fresh, hash);
        if (r == 0)
                r = store_admin_set_password_hash(api_app(req)->store, a.session.subject_id, hash);
        sodium_memzero(hash, sizeof(hash));
        if (r < 0)
                return api_reply_internal(req, r);
        admin_record(req, &a, "admin_password_changed", NULL, NULL,
                     "administrator changed its password", "changed its password");
        return http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"), 0);
}

/* --- invitations ------------------------------------------------------------------- */

int api_admin_invitations(struct http_request *req)
{
        _cleanup_admin_ struct admin_ctx a = {0};
        struct store_page page;
        struct store_rows rows = {0};
        struct store_total total = {0};
        int r = admin_begin(req, false, &a);

        if (r == 0)
                r = admin_page(req, &page);
        if (r != 0)
                return admin_answered(r);
        r = store_invitations(api_app(req)->store, &page, &rows, &total);
        if (r < 0)
                return api_reply_internal(req, r);
        r = admin_reply_list(req, "invitations", &rows, &total, &page);
        store_rows_done(&rows);
        return r;
}

int api_admin_invitation_create(struct http_request *req)
{
        struct app *app = api_app(req);
        _cleanup_admin_ struct admin_ctx a = {0};
        _cleanup_json_ json_t *root = NULL;
        const char *email_in = NULL;
        int64_t hours = INVITATION_HOURS_DEFAULT;
        const struct body_field fields[] = {
                {"email", BODY_STRING, &email_in, NULL},
                {"hours", BODY_INT, &hours, NULL},
        };
        char email[EMAIL_MAX + 1];
        struct invitation_issued inv;
        bool bound = false;
        int r = admin_begin(req, true, &a);

        if (r == 0)
                r = admin_body(req, fields, ELEMENTSOF(fields), &root);
        if (r != 0)
                return admin_answered(r);
        if (hours < 1 || hours > INVITATION_HOURS_MAX)
                return api_error(req, API_ERR_INVALID_REQUEST, "hours must be between 1 and 720");
        if (email_in && !str_is_blank(email_in)) {
                if (email_normalize(email_in, email) < 0)
                        return api_error(req, API_ERR_INVALID_REQUEST, "invalid email");
                bound = true;
        }
        /* A link only on public_url: never on the request's Host header.
         * Without it the console builds the link from its own address. */
        r = invitation_issue(app->store, app->config->public_url, bound ? email : NULL, hours,
                             a.session.subject_id, &inv);
        if (r < 0)
                return api_reply_internal(req, r);
        admin_record(req, &a, "admin_invitation_created", NULL, NULL, "invitation created",
                     "created an invitation");
        json_t *body =
                json_pack("{s:s,s:s,s:s,s:o,s:o}", "id", inv.id, "token", inv.token, "expires_at",
                          inv.expires_at, "email", bound ? json_string(email) : json_null(), "url",
                          inv.url[0] ? json_string(inv.url) : json_null());
        invitation_issued_wipe(&inv);
        return http_reply_json(req, 200, body, HTTP_REPLY_NO_STORE);
}

int api_admin_invitation_delete(struct http_request *req)
{
        _cleanup_admin_ struct admin_ctx a = {0};
        int r = admin_begin(req, true, &a);

        if (r != 0)
                return admin_answered(r);
        r = store_invitation_delete(api_app(req)->store, req->params[0]);
        if (r == -ENOENT)
                return api_error(req, API_ERR_NOT_FOUND, "invitation not found or already used");
        if (r < 0)
                return api_reply_internal(req, r);
        admin_record(req, &a, "admin_invitation_withdrawn", NULL, NULL, "invitation withdrawn",
                     "withdrew an invitation");
        return http_reply_json(req, 200, json_pack("{s:s}", "status", "deleted"), 0);
}
