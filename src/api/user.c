/* SPDX-License-Identifier: MIT */
/*
 * @brief A signed-in user's own account and devices (api.md §6): GET
 * /api/v1/user/me, GET /api/v1/user/devices and POST
 * /api/v1/user/devices/{id}/revoke, with a
 * user session from the cookie (CSRF-checked on mutations) or a Bearer
 * session token.  No SQL here.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/app.h"
#include "api/handlers.h"
#include "auth/password.h"
#include "auth/session.h"
#include "util/cleanup.h"
#include "util/text.h"

/* The longest password a revoke request may carry. */
#define USER_PASSWORD_MAX 1024

/* Authenticate the user session and load its user.  Errors answered: the
 * session's 401s, 401 "invalid session" for a deleted user, 403 "account
 * blocked".  On 0, *ret_user is filled (store_user_done()). */
static int user_auth(struct http_request *req, struct session *s, struct store_user *ret_user)
{
        int r = api_session_auth(req, &session_kind_user, s);

        if (r != 0)
                return r;
        r = store_user_get(api_app(req)->store, s->subject_id, ret_user);
        if (r == -ENOENT)
                return api_error_answered(req, API_ERR_UNAUTHORIZED, "invalid session");
        if (r < 0)
                return api_reply_internal(req, r) < 0 ? r : BODY_ANSWERED;
        if (ret_user->blocked) {
                store_user_done(ret_user);
                return api_error_answered(req, API_ERR_FORBIDDEN, "account blocked");
        }
        return 0;
}

int api_user_me(struct http_request *req)
{
        struct store_user u = {0};
        struct session s;
        json_t *body;
        int r;

        r = user_auth(req, &s, &u);
        if (r != 0)
                return api_answered(r);
        body = json_pack("{s:s,s:s,s:s,s:b,s:s,s:s}", "id", u.id, "username", u.username, "email",
                         u.email, "email_confirmed", u.confirmed, "locale",
                         u.locale ? u.locale : "", "created_at", u.created_at ? u.created_at : "");
        store_user_done(&u);
        if (!body)
                return api_reply_internal(req, -ENOMEM);
        return http_reply_json(req, 200, body, HTTP_REPLY_NO_STORE);
}

int api_user_devices(struct http_request *req)
{
        struct store_device *list = NULL;
        struct store_user u = {0};
        struct session s;
        size_t n = 0;
        int r;

        r = user_auth(req, &s, &u);
        if (r != 0)
                return api_answered(r);
        r = store_device_list_for_user(api_app(req)->store, u.id, &list, &n);
        store_user_done(&u);
        if (r < 0)
                return api_reply_internal(req, r);

        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++) {
                const struct store_device *d = &list[i];
                json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "id", d->id, "name", d->name,
                                      "vault_id", d->vault_id, "client_version", d->client_version,
                                      "last_seen", d->last_seen, "revoked_at", d->revoked_at,
                                      "created_at", d->created_at);
                if (!o || json_array_append_new(arr, o) < 0) {
                        json_decref(arr);
                        arr = NULL;
                }
        }
        store_device_list_free(list, n);
        if (!arr)
                return api_reply_internal(req, -ENOMEM);
        return http_reply_json(req, 200, arr, HTTP_REPLY_NO_STORE);
}

int api_user_device_revoke(struct http_request *req)
{
        _cleanup_json_ json_t *root = NULL;
        const char *password = NULL, *form_csrf = NULL;
        const struct body_field fields[] = {
                {"password", BODY_STRING, &password, NULL},
                {SESSION_CSRF_FIELD, BODY_STRING, &form_csrf, NULL},
        };
        /* password is checked by hand: the CSRF check comes first. */
        const struct api_fields spec = {fields, ELEMENTSOF(fields), .form = true};
        struct store_user u = {0};
        struct session s;
        int r;

        r = user_auth(req, &s, &u);
        if (r != 0)
                return api_answered(r);
        r = api_fields_parse(req, &spec, &root);
        if (r != 0)
                goto out;
        r = api_session_csrf(req, &s, form_csrf);
        if (r != 0)
                goto out;
        if (!password || !password[0]) {
                r = api_error(req, API_ERR_INVALID_REQUEST, "password required");
                goto out;
        }
        r = api_rate_limit(req, RL_AUTH_TEST, u.username);
        if (r != 0)
                goto out;
        r = api_too_long(password, USER_PASSWORD_MAX)
                    ? 0
                    : password_verify(password, u.password_hash, NULL);
        if (r == -EAGAIN) {
                r = api_reply_internal(req, r);
                goto out;
        }
        if (r != 1) {
                api_audit(req, "device_revoke_failed", u.id, NULL, "wrong password");
                r = api_error(req, API_ERR_FORBIDDEN, "wrong password");
                goto out;
        }
        r = api_revoke_device(req, req->params[0], u.id, "device revoked from the web");
out:
        store_user_done(&u);
        return api_answered(r);
}
