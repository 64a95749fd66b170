/* SPDX-License-Identifier: MIT */
/*
 * The console's users, devices and vaults under /admin/api/ (docs/admin.md):
 * paged lists with filters and whitelisted sorting, and the actions an
 * administrator takes on an account or a device.  Paths and answer shapes
 * of the existing server's console (users, users/create, users/{id}/block,
 * users/{id}/reset-password, users/{id}/edit, DELETE users/{id}, devices,
 * keys) are kept so that scripts written for it keep working.  Actions
 * that lock someone out or destroy data need the administrator's own
 * password again ("admin_password").  No payload, file content, password
 * hash or device token ever leaves here: devices show a token hint only.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/admin_common.h"
#include "api/handlers.h"
#include "api/longpoll.h"
#include "auth/password.h"
#include "auth/token.h"
#include "api/blob_gc.h"
#include "blob/blob_store.h"
#include "api/app.h"
#include "api/errors.h"
#include "util/cleanup.h"
#include "util/email.h"
#include "util/log.h"
#include "util/text.h"

/* Longest search text and filter value accepted in a query string. */
#define ADMIN_FILTER_MAX 256
/* Generated passwords: this many characters from an unambiguous alphabet
 * (about 113 bits). */
#define ADMIN_GENERATED_PASSWORD_LEN 20

/* Index of s in names (NULL-terminated), or -1. */
static int lookup(const char *const *names, const char *s)
{
        for (int i = 0; names[i]; i++)
                if (strcmp(names[i], s) == 0)
                        return i;
        return -1;
}

static int bad_request(struct http_request *req, const char *message)
{
        return api_error_answered(req, API_ERR_INVALID_REQUEST, message);
}

/* --- users --------------------------------------------------------------------- */

int api_admin_users(struct http_request *req)
{
        static const char *const statuses[] = {"all", "active", "blocked", "unconfirmed", NULL};
        static const char *const sorts[] = {"created_at", "username", "email",   "last_seen",
                                            "confirmed",  "blocked",  "devices", NULL};
        _cleanup_admin_ struct admin_ctx a = {0};
        struct store_user_query q = {.sort = STORE_USER_SORT_CREATED};
        struct store_rows rows = {0};
        const char *search = NULL, *status = NULL, *sort = NULL, *order = NULL;
        struct store_total total = {0};
        int r;

        r = admin_begin(req, false, &a);
        if (r == 0)
                r = admin_page(req, &q.page);
        /* "filter" is the existing server's name for the search text. */
        if (r == 0)
                r = admin_query(req, "filter", ADMIN_FILTER_MAX, &search);
        if (r == 0 && !search)
                r = admin_query(req, "q", ADMIN_FILTER_MAX, &search);
        if (r == 0)
                r = admin_query(req, "status", ADMIN_FILTER_MAX, &status);
        if (r == 0)
                r = admin_query(req, "sort", ADMIN_FILTER_MAX, &sort);
        if (r == 0)
                r = admin_query(req, "order", ADMIN_FILTER_MAX, &order);
        if (r != 0)
                return admin_answered(r);
        if (status && (r = lookup(statuses, status)) < 0)
                return admin_answered(bad_request(req, "unknown status"));
        q.status = status ? (enum store_user_status)r : STORE_USER_ANY;
        if (sort && (r = lookup(sorts, sort)) < 0)
                return admin_answered(bad_request(req, "unknown sort column"));
        q.sort = sort ? (enum store_user_sort)r : STORE_USER_SORT_CREATED;
        if (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0)
                return admin_answered(bad_request(req, "order must be asc or desc"));
        q.ascending = order && strcmp(order, "asc") == 0;
        q.search = search;

        r = store_console_users(api_app(req)->store, &q, &rows, &total);
        if (r < 0)
                return api_reply_internal(req, r);
        r = admin_reply_list(req, "users", &rows, &total, &q.page);
        store_rows_done(&rows);
        return r;
}

int api_admin_user_get(struct http_request *req)
{
        _cleanup_admin_ struct admin_ctx a = {0};
        struct store_user u = {0};
        int r = admin_begin(req, false, &a);

        if (r != 0)
                return admin_answered(r);
        r = store_user_get(api_app(req)->store, req->params[0], &u);
        if (r == -ENOENT)
                return api_error(req, API_ERR_NOT_FOUND, "user not found");
        if (r < 0)
                return api_reply_internal(req, r);
        json_t *body = json_pack("{s:s,s:s,s:s,s:i,s:i,s:s,s:s,s:s}", "id", u.id, "username",
                                 u.username, "email", u.email, "confirmed", (int)u.confirmed,
                                 "blocked", (int)u.blocked, "last_seen", u.last_seen, "created_at",
                                 u.created_at, "locale", u.locale);
        store_user_done(&u);
        return http_reply_json(req, 200, body, HTTP_REPLY_NO_STORE);
}

/* Username and e-mail of a create or edit request, normalised; 0 or
 * BODY_ANSWERED. */
static int read_names(struct http_request *req, const char *username, const char *email_in,
                      char name[ACCOUNT_USERNAME_MAX + 1], char email[EMAIL_MAX + 1])
{
        if (api_username_normalize(username, name) < 0)
                return bad_request(req, "invalid username");
        if (email_normalize(email_in, email) < 0)
                return bad_request(req, "invalid email");
        return 0;
}

static int reply_taken(struct http_request *req, bool email_taken)
{
        return api_error(req, API_ERR_CONFLICT,
                         email_taken ? "email already registered" : "username already taken");
}

int api_admin_user_create(struct http_request *req)
{
        _cleanup_admin_ struct admin_ctx a = {0};
        _cleanup_json_ json_t *root = NULL;
        const char *username = NULL, *email_in = NULL, *password = NULL;
        const struct body_field fields[] = {
                {"username", BODY_STRING, &username, NULL},
                {"email", BODY_STRING, &email_in, NULL},
                {"password", BODY_STRING, &password, NULL},
        };
        char name[ACCOUNT_USERNAME_MAX + 1], email[EMAIL_MAX + 1];
        char hash[PASSWORD_HASH_MAX], id[TOKEN_USER_ID_HEX + 1];
        bool email_taken = false;
        int r;

        r = admin_begin(req, true, &a);
        if (r == 0)
                r = admin_body(req, fields, ELEMENTSOF(fields), &root);
        if (r != 0)
                return admin_answered(r);
        if (str_is_blank(username) || str_is_blank(email_in) || !password || !password[0])
                return admin_answered(bad_request(req, "username, email and password required"));
        r = read_names(req, username, email_in, name, email);
        if (r == 0)
                r = api_check_new_password(req, password);
        if (r != 0)
                return admin_answered(r);
        r = password_hash(password, hash);
        if (r < 0)
                return api_reply_internal(req, r);
        token_random_hex(id, TOKEN_USER_ID_HEX);
        r = store_console_user_create(api_app(req)->store, id, name, email, hash, &email_taken);
        sodium_memzero(hash, sizeof(hash));
        if (r == -EEXIST)
                return reply_taken(req, email_taken);
        if (r < 0)
                return api_reply_internal(req, r);
        admin_record(req, &a, "admin_user_created", id, NULL, "account created by an administrator",
                     "created a user");
        return http_reply_json(req, 200, json_pack("{s:s,s:s}", "status", "ok", "user_id", id), 0);
}

int api_admin_user_edit(struct http_request *req)
{
        _cleanup_admin_ struct admin_ctx a = {0};
        _cleanup_json_ json_t *root = NULL;
        const char *username = NULL, *email_in = NULL;
        const struct body_field fields[] = {
                {"username", BODY_STRING, &username, NULL},
                {"email", BODY_STRING, &email_in, NULL},
        };
        char name[ACCOUNT_USERNAME_MAX + 1], email[EMAIL_MAX + 1];
        bool email_taken = false;
        const char *id = req->params[0];
        int r;

        r = admin_begin(req, true, &a);
        if (r == 0)
                r = admin_body(req, fields, ELEMENTSOF(fields), &root);
        if (r != 0)
                return admin_answered(r);
        if (str_is_blank(username) || str_is_blank(email_in))
                return admin_answered(bad_request(req, "username and email required"));
        r = read_names(req, username, email_in, name, email);
        if (r != 0)
                return admin_answered(r);
        r = store_console_user_edit(api_app(req)->store, id, name, email, &email_taken);
        if (r == -EEXIST)
                return reply_taken(req, email_taken);
        if (r == -ENOENT)
                return api_error(req, API_ERR_NOT_FOUND, "user not found");
        if (r < 0)
                return api_reply_internal(req, r);
        admin_record(req, &a, "admin_user_edited", id, NULL,
                     "name or e-mail changed by an administrator", "edited a user");
        return http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"), 0);
}

/* Answer a user action's store result: 404 for an unknown user. */
static int user_action_done(struct http_request *req, const struct admin_ctx *a, int r,
                            const char *event, const char *what, json_t *body)
{
        if (r == -ENOENT) {
                json_decref(body);
                return api_error(req, API_ERR_NOT_FOUND, "user not found");
        }
        if (r < 0) {
                json_decref(body);
                return api_reply_internal(req, r);
        }
        admin_record(req, a, event, req->params[0], NULL, what, what);
        return http_reply_json(req, 200, body, 0);
}

int api_admin_user_confirm(struct http_request *req)
{
        _cleanup_admin_ struct admin_ctx a = {0};
        _cleanup_json_ json_t *root = NULL;
        int r = admin_begin_confirmed(req, &a, NULL, 0, &root);

        if (r != 0)
                return admin_answered(r);
        r = store_console_user_confirm(api_app(req)->store, req->params[0]);
        return user_action_done(req, &a, r, "admin_user_confirmed",
                                "account confirmed by an administrator",
                                json_pack("{s:s}", "status", "ok"));
}

int api_admin_user_block(struct http_request *req)
{
        _cleanup_admin_ struct admin_ctx a = {0};
        _cleanup_json_ json_t *root = NULL;
        bool blocked = false, given = false;
        struct body_field extra[] = {{"blocked", BODY_BOOL, &blocked, &given}};
        struct store_user u = {0};
        int r = admin_begin_confirmed(req, &a, extra, ELEMENTSOF(extra), &root);

        if (r != 0)
                return admin_answered(r);
        if (!given) { /* the existing server's toggle */
                r = store_user_get(api_app(req)->store, req->params[0], &u);
                if (r == 0)
                        blocked = !u.blocked;
                store_user_done(&u);
        }
        if (r == 0)
                r = store_console_user_block(api_app(req)->store, req->params[0], blocked);
        return user_action_done(req, &a, r, blocked ? "admin_user_blocked" : "admin_user_unblocked",
                                blocked ? "account blocked by an administrator"
                                        : "account unblocked by an administrator",
                                json_pack("{s:s,s:i}", "status", "ok", "blocked", (int)blocked));
}

/* A password of ADMIN_GENERATED_PASSWORD_LEN characters from libsodium's
 * generator, without look-alike characters. */
static void generate_password(char out[ADMIN_GENERATED_PASSWORD_LEN + 1])
{
        static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

        for (size_t i = 0; i < ADMIN_GENERATED_PASSWORD_LEN; i++)
                out[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
        out[ADMIN_GENERATED_PASSWORD_LEN] = '\0';
}

int api_admin_user_reset_password(struct http_request *req)
{
        _cleanup_admin_ struct admin_ctx a = {0};
        _cleanup_json_ json_t *root = NULL;
        char password[ADMIN_GENERATED_PASSWORD_LEN + 1], hash[PASSWORD_HASH_MAX];
        int r = admin_begin_confirmed(req, &a, NULL, 0, &root);

        if (r != 0)
                return admin_answered(r);
        r = api_rate_limit(req, RL_ADMIN_RESET, NULL);
        if (r != 0)
                return admin_answered(r);
        generate_password(password);
        r = password_hash(password, hash);
        if (r == 0)
                r = store_console_user_password(api_app(req)->store, req->params[0], hash);
        sodium_memzero(hash, sizeof(hash));
        if (r < 0) {
                sodium_memzero(password, sizeof(password));
                return user_action_done(req, &a, r, NULL, NULL, NULL);
        }
        admin_record(req, &a, "admin_password_reset", req->params[0], NULL,
                     "password reset by an administrator", "reset a user's password");
        /* Shown once: the answer is never cached and the password is kept
         * nowhere but in its hash. */
        json_t *body = json_pack("{s:s,s:s}", "status", "ok", "new_password", password);
        sodium_memzero(password, sizeof(password));
        return http_reply_json(req, 200, body, HTTP_REPLY_NO_STORE);
}

int api_admin_user_delete(struct http_request *req)
{
        struct app *app = api_app(req);
        _cleanup_admin_ struct admin_ctx a = {0};
        _cleanup_json_ json_t *root = NULL;
        _cleanup_free_ char(*shas)[65] = NULL;
        size_t n = 0;
        unsigned removed = 0;
        int r = admin_begin_confirmed(req, &a, NULL, 0, &root);

        if (r != 0)
                return admin_answered(r);
        r = store_console_user_delete(app->store, req->params[0], &shas, &n);
        if (r < 0)
                return user_action_done(req, &a, r, NULL, NULL, NULL);
        /* The rows are gone; now the files no one else references. */
        for (size_t i = 0; app->blobs && i < n; i++) {
                int d = blob_store_remove_unused(app->blobs, shas[i], blob_gc_unused, app->store);
                if (d > 0)
                        removed++;
                else if (d < 0 && d != -ENOENT)
                        log_warning_errno(d, "Cannot remove blob %s of a deleted user: %m",
                                          shas[i]);
        }
        char what[96];
        snprintf(what, sizeof(what), "user deleted with everything they owned (%u blob files)",
                 removed);
        admin_record(req, &a, "admin_user_deleted", NULL, NULL, what, what);
        return http_reply_json(
                req, 200,
                json_pack("{s:s,s:i}", "status", "deleted", "blobs_removed", (int)removed), 0);
}

/* --- devices ------------------------------------------------------------------------ */

/* The device filters and page of a request; 0 or BODY_ANSWERED. */
static int device_query(struct http_request *req, struct store_device_query *q)
{
        static const char *const statuses[] = {"all", "active", "revoked", NULL};
        const char *status = NULL;
        int r = admin_page(req, &q->page);

        if (r == 0)
                r = admin_query(req, "user", ADMIN_FILTER_MAX, &q->user);
        if (r == 0)
                r = admin_query(req, "vault_id", ADMIN_FILTER_MAX, &q->vault_id);
        if (r == 0)
                r = admin_query(req, "client_version", ADMIN_FILTER_MAX, &q->client_version);
        if (r == 0)
                r = admin_query(req, "status", ADMIN_FILTER_MAX, &status);
        if (r != 0)
                return r;
        if (status && (r = lookup(statuses, status)) < 0)
                return bad_request(req, "unknown status");
        q->status = status ? (enum store_device_status)r : STORE_DEVICE_ANY;
        return 0;
}

/*
 * The existing server answered both lists as a bare JSON array; so do we,
 * one page of it, with the total in the headers (X-Total-Count,
 * X-Total-Capped) as every list answer has it.  keys_only keeps the
 * rows of GET keys to {id, name, token_hint}.
 */
static int device_list(struct http_request *req, bool keys_only)
{
        _cleanup_admin_ struct admin_ctx a = {0};
        struct store_device_query q = {0};
        struct store_rows rows = {0};
        struct store_total total = {0};
        int r = admin_begin(req, false, &a);

        if (r == 0)
                r = device_query(req, &q);
        if (r != 0)
                return admin_answered(r);
        r = store_console_devices(api_app(req)->store, &q, &rows, &total);
        if (r < 0)
                return api_reply_internal(req, r);
        json_t *list = admin_rows_json(&rows);
        store_rows_done(&rows);
        if (!list)
                return api_reply_internal(req, -ENOMEM);
        if (keys_only) {
                size_t i;
                json_t *row;
                json_array_foreach(list, i, row)
                {
                        json_t *keep = json_pack("{s:O,s:O,s:O}", "id", json_object_get(row, "id"),
                                                 "name", json_object_get(row, "name"), "token_hint",
                                                 json_object_get(row, "token_hint"));
                        if (!keep || json_array_set_new(list, i, keep) < 0) {
                                json_decref(list);
                                return api_reply_internal(req, -ENOMEM);
                        }
                }
        }
        return admin_reply_total(req, list, &total);
}

int api_admin_devices(struct http_request *req)
{
        return device_list(req, false);
}

int api_admin_keys(struct http_request *req)
{
        return device_list(req, true);
}

/* Revoke the device of the path and end its long polls at once.  0, or
 * BODY_ANSWERED after 404, or a negative errno. */
static int device_revoke(struct http_request *req)
{
        int r = store_device_revoke(api_app(req)->store, req->params[0], req->client_ip,
                                    "revoked by an administrator");

        if (r == -ENOENT)
                return api_error_answered(req, API_ERR_NOT_FOUND, "device not found");
        if (r < 0)
                return r;
        longpoll_wake_device(api_app(req)->longpoll, req->params[0]);
        return 0;
}

int api_admin_device_revoke(struct http_request *req)
{
        _cleanup_admin_ struct admin_ctx a = {0};
        _cleanup_json_ json_t *root = NULL;
        int r = admin_begin_confirmed(req, &a, NULL, 0, &root);

        if (r == 0)
                r = device_revoke(req);
        if (r != 0)
                return admin_answered(r);
        req->log_event = "device_revoked";
        admin_log(LOG_NOTICE, "device_revoked", a.username, "revoked a device");
        return http_reply_json(req, 200, json_pack("{s:s}", "status", "revoked"), 0);
}

/* Delete a device.  The console's path (devices/{id}) takes only a revoked
 * one, so that deleting is a second, deliberate step; the existing
 * server's path (keys/{id}) deleted at once, which scripts rely on, so it
 * revokes an active device first (and wakes its long polls) and then
 * deletes it. */
static int device_delete(struct http_request *req, bool revoke_first)
{
        _cleanup_admin_ struct admin_ctx a = {0};
        _cleanup_json_ json_t *root = NULL;
        int r = admin_begin_confirmed(req, &a, NULL, 0, &root);

        if (r == 0 && revoke_first)
                r = device_revoke(req);
        if (r != 0)
                return admin_answered(r);
        r = store_console_device_delete(api_app(req)->store, req->params[0]);
        if (r == -ENOENT)
                return api_error(req, API_ERR_NOT_FOUND, "device not found");
        if (r == -EPERM)
                return api_error(req, API_ERR_CONFLICT, "revoke the device first");
        if (r < 0)
                return api_reply_internal(req, r);
        admin_record(req, &a, "admin_device_deleted", NULL, req->params[0],
                     "revoked device deleted by an administrator", "deleted a revoked device");
        return http_reply_json(req, 200, json_pack("{s:s}", "status", "deleted"), 0);
}

int api_admin_device_delete(struct http_request *req)
{
        return device_delete(req, false);
}

int api_admin_key_delete(struct http_request *req)
{
        return device_delete(req, true);
}

/* --- vaults --------------------------------------------------------------------------- */

int api_admin_vaults(struct http_request *req)
{
        _cleanup_admin_ struct admin_ctx a = {0};
        struct store_page page;
        struct store_rows rows = {0};
        const char *user = NULL;
        struct store_total total = {0};
        int r = admin_begin(req, false, &a);

        if (r == 0)
                r = admin_page(req, &page);
        if (r == 0)
                r = admin_query(req, "user_id", ADMIN_FILTER_MAX, &user);
        if (r != 0)
                return admin_answered(r);
        r = store_console_vaults(api_app(req)->store, user, &page, &rows, &total);
        if (r < 0)
                return api_reply_internal(req, r);
        r = admin_reply_list(req, "vaults", &rows, &total, &page);
        store_rows_done(&rows);
        return r;
}

int api_admin_vault(struct http_request *req)
{
        _cleanup_admin_ struct admin_ctx a = {0};
        struct store_rows vault = {0}, devices = {0};
        int r = admin_begin(req, false, &a);

        if (r != 0)
                return admin_answered(r);
        r = store_console_vault(api_app(req)->store, req->params[0], req->params[1], &vault,
                                &devices);
        if (r == -ENOENT)
                return api_error(req, API_ERR_NOT_FOUND, "vault not found");
        if (r < 0)
                return api_reply_internal(req, r);
        json_t *v = admin_row_json(&vault, 0), *d = admin_rows_json(&devices);
        store_rows_done(&vault);
        store_rows_done(&devices);
        if (!v || !d) {
                json_decref(v);
                json_decref(d);
                return api_reply_internal(req, -ENOMEM);
        }
        return http_reply_json(req, 200, json_pack("{s:o,s:o}", "vault", v, "devices", d),
                               HTTP_REPLY_NO_STORE);
}
