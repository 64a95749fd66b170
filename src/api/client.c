/* SPDX-License-Identifier: MIT */
/*
 * @brief Desktop client device endpoints (api.md §3): pair, auth/test, me,
 * revoke-current, revoke-device and the older device/register.  No SQL
 * here: devices and users come from store/.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/app.h"
#include "api/handlers.h"
#include "auth/password.h"
#include "auth/token.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/text.h"

/* Field limits of api.md §3, in bytes. */
#define PAIR_LOGIN_MAX          320
#define PAIR_DEVICE_NAME_MAX    128
#define PAIR_CLIENT_VERSION_MAX 256
#define PAIR_VAULT_ID_MAX       256
#define PAIR_PASSWORD_MAX       1024

/* Vault ids with this prefix are reserved for migrated data. */
#define VAULT_RESERVED_PREFIX "legacy:"

/* The answers of a field that is too long. */
#define FIELD_TOO_LONG "field too long"

struct pair_input {
        const char *login;
        const char *password;
        const char *device_name;
        const char *client_version;
        char vault_id[PAIR_VAULT_ID_MAX + 2];
};

/* The vault_id checks shared by pair and device/register after the rate
 * limit passed (the other fields' lengths are in their specs).  Returns 0
 * when valid, BODY_ANSWERED after a 400. */
static int validate_pair_input(struct http_request *req, struct pair_input *in,
                               const char *raw_vault)
{
        if (api_too_long(raw_vault, PAIR_VAULT_ID_MAX + 64))
                return api_error_answered(req, API_ERR_INVALID_REQUEST, "vault_id too long");
        snprintf(in->vault_id, sizeof(in->vault_id), "%s", raw_vault ? raw_vault : "");
        str_trim(in->vault_id);
        if (in->vault_id[0] == '\0')
                return api_error_answered(req, API_ERR_INVALID_REQUEST, "vault_id required");
        if (str_starts_with(in->vault_id, VAULT_RESERVED_PREFIX))
                return api_error_answered(req, API_ERR_INVALID_REQUEST,
                                          "vault_id uses reserved prefix");
        if (strlen(in->vault_id) > PAIR_VAULT_ID_MAX)
                return api_error_answered(req, API_ERR_INVALID_REQUEST, FIELD_TOO_LONG);
        return 0;
}

/* Create the device for an authenticated user; fills id and token. */
static int create_device(struct http_request *req, const struct store_user *u,
                         const struct pair_input *in, char device_id[TOKEN_DEVICE_ID_HEX + 5],
                         char token[TOKEN_SECRET_HEX + 1])
{
        char hash[TOKEN_SHA256_HEX + 1], prefix[9], suffix[5];
        const char *name =
                in->device_name && !str_is_blank(in->device_name) ? in->device_name : "unknown";
        int r;

        memcpy(device_id, "dev_", 4);
        token_random_hex(device_id + 4, TOKEN_DEVICE_ID_HEX);
        token_random_hex(token, TOKEN_SECRET_HEX);
        token_sha256_hex(token, strlen(token), hash);
        memcpy(prefix, token, 8);
        prefix[8] = '\0';
        memcpy(suffix, token + TOKEN_SECRET_HEX - 4, 4);
        suffix[4] = '\0';

        struct store_device_new d = {
                .id = device_id,
                .user_id = u->id,
                .vault_id = in->vault_id,
                .name = name,
                .client_version = in->client_version ? in->client_version : "",
                .token_hash = hash,
                .token_prefix = prefix,
                .token_suffix = suffix,
                .ip = req->client_ip,
        };
        r = store_device_create(api_app(req)->store, &d);
        if (r < 0)
                return r;

        snprintf(req->log_device_id, sizeof(req->log_device_id), "%s", device_id);
        snprintf(req->log_user_id, sizeof(req->log_user_id), "%s", u->id);
        req->log_event = "device_paired";
        struct log_field f[] = {
                {"MESSAGE_ID", LOG_MID_DEVICE_PAIRED},
                {"EVENT", "device_paired"},
                {"DEVICE_ID", device_id},
                {"USER_ID", u->id},
        };
        log_struct(LOG_NOTICE, f, "Device %s paired for user %s", device_id, u->id);
        return 0;
}

/* Authenticate and create a device: the common core of pair and
 * device/register.  Answers every error itself. */
static int pair_device(struct http_request *req, struct pair_input *in, const char *raw_vault,
                       enum ratelimit_rule rule, bool legacy_answer)
{
        char device_id[TOKEN_DEVICE_ID_HEX + 5], token[TOKEN_SECRET_HEX + 1];
        char now[TIME_RFC3339_SIZE];
        struct store_user u = {0};
        int r;

        r = api_rate_limit(req, rule, in->login);
        if (r != 0)
                return api_answered(r);
        r = validate_pair_input(req, in, raw_vault);
        if (r != 0)
                return api_answered(r);

        r = api_check_credentials(req, in->login, in->password, &u);
        if (r < 0)
                return api_reply_internal(req, r);
        if (r != API_CREDENTIALS_OK)
                return api_answered(api_reply_credentials(req, r, in->login, true));

        r = create_device(req, &u, in, device_id, token);
        if (r < 0) {
                store_user_done(&u);
                return api_reply_internal(req, r);
        }
        time_format_rfc3339(time(NULL), now);
        json_t *body = legacy_answer ? json_pack("{s:s,s:s}", "device_id", device_id,
                                                 "device_token", token)
                                     : json_pack("{s:s,s:s,s:s,s:s,s:i}", "user_id", u.id,
                                                 "device_id", device_id, "device_token", token,
                                                 "server_time", now, "initial_sync_cursor", 0);
        store_user_done(&u);
        sodium_memzero(token, sizeof(token));
        return http_reply_json(req, 200, body, HTTP_REPLY_NO_STORE);
}

int api_client_pair(struct http_request *req)
{
        _cleanup_json_ json_t *root = NULL;
        struct pair_input in = {0};
        const char *vault = NULL;
        const struct body_field fields[] = {
                {"login", BODY_STRING, &in.login, .flags = BODY_NOT_BLANK,
                 .max_len = PAIR_LOGIN_MAX},
                {"password", BODY_STRING, &in.password, .flags = BODY_REQUIRED,
                 .max_len = PAIR_PASSWORD_MAX},
                {"device_name", BODY_STRING, &in.device_name, .max_len = PAIR_DEVICE_NAME_MAX},
                {"client_version", BODY_STRING, &in.client_version,
                 .max_len = PAIR_CLIENT_VERSION_MAX},
                {"vault_id", BODY_STRING, &vault, NULL},
        };
        const struct api_fields spec = {fields, ELEMENTSOF(fields),
                                        .missing = "login and password required",
                                        .too_long = FIELD_TOO_LONG};
        int r = api_fields_parse(req, &spec, &root);

        if (r != 0)
                return api_answered(r);
        return pair_device(req, &in, vault, RL_PAIR, false);
}

int api_device_register(struct http_request *req)
{
        _cleanup_json_ json_t *root = NULL;
        struct pair_input in = {0};
        const char *vault = NULL;
        const struct body_field fields[] = {
                {"name", BODY_STRING, &in.device_name, .flags = BODY_NOT_BLANK,
                 .max_len = PAIR_DEVICE_NAME_MAX},
                {"username", BODY_STRING, &in.login, .max_len = PAIR_LOGIN_MAX},
                {"password", BODY_STRING, &in.password, .max_len = PAIR_PASSWORD_MAX},
                {"vault_id", BODY_STRING, &vault, NULL},
        };
        const struct api_fields spec = {fields, ELEMENTSOF(fields), .missing = "name required",
                                        .too_long = FIELD_TOO_LONG};
        int r = api_fields_parse(req, &spec, &root);

        if (r != 0)
                return api_answered(r);
        /* The older endpoint answers missing credentials with 401. */
        if (str_is_blank(in.login) || !in.password || !in.password[0])
                return api_error(req, API_ERR_UNAUTHORIZED, "username and password required");
        return pair_device(req, &in, vault, RL_DEVICE_REGISTER, true);
}

int api_auth_test(struct http_request *req)
{
        _cleanup_json_ json_t *root = NULL;
        const char *username = NULL, *password = NULL;
        const struct body_field fields[] = {
                {"username", BODY_STRING, &username, .flags = BODY_NOT_BLANK,
                 .max_len = PAIR_LOGIN_MAX},
                {"password", BODY_STRING, &password, .flags = BODY_REQUIRED,
                 .max_len = PAIR_PASSWORD_MAX},
        };
        const struct api_fields spec = {fields, ELEMENTSOF(fields),
                                        .missing = "username and password required",
                                        .too_long = FIELD_TOO_LONG};
        struct store_user u = {0};
        int r = api_fields_parse(req, &spec, &root);

        if (r != 0)
                return api_answered(r);
        r = api_rate_limit(req, RL_AUTH_TEST, username);
        if (r != 0)
                return api_answered(r);
        r = api_check_credentials(req, username, password, &u);
        if (r < 0)
                return api_reply_internal(req, r);
        if (r != API_CREDENTIALS_OK)
                return api_answered(api_reply_credentials(req, r, username, false));
        store_user_done(&u);
        return http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"), 0);
}

int api_client_me(struct http_request *req)
{
        struct store_device dev = {0};
        int r = api_device_auth(req, &dev, true);

        if (r != 0)
                return api_answered(r);
        json_t *body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "device_id", dev.id,
                                 "user_id", dev.user_id, "username", dev.owner_username,
                                 "device_name", dev.name, "client_version", dev.client_version,
                                 "last_seen", dev.last_seen, "revoked_at", dev.revoked_at,
                                 "created_at", dev.created_at, "vault_id", dev.vault_id);
        store_device_done(&dev);
        return http_reply_json(req, 200, body, 0);
}

int api_client_revoke_current(struct http_request *req)
{
        struct store_device dev = {0};
        int r = api_device_auth(req, &dev, false);

        if (r != 0)
                return api_answered(r);
        r = api_revoke_device(req, dev.id, dev.user_id, "device revoked by itself");
        store_device_done(&dev);
        return r;
}

int api_client_revoke_device(struct http_request *req)
{
        _cleanup_json_ json_t *root = NULL;
        const char *device_id = NULL, *password = NULL;
        const struct body_field fields[] = {
                {"device_id", BODY_STRING, &device_id, .flags = BODY_NOT_BLANK},
                {"password", BODY_STRING, &password, .flags = BODY_REQUIRED},
        };
        const struct api_fields spec = {fields, ELEMENTSOF(fields),
                                        .missing = "device_id and password required"};
        struct store_device self = {0};
        struct store_user owner = {0};
        int r;

        r = api_device_auth(req, &self, true);
        if (r != 0)
                return api_answered(r);
        r = api_fields_parse(req, &spec, &root);
        if (r != 0)
                goto out;
        r = api_rate_limit(req, RL_AUTH_TEST, self.owner_username);
        if (r != 0)
                goto out;

        r = store_user_get(api_app(req)->store, self.user_id, &owner);
        if (r < 0) {
                r = api_reply_internal(req, r);
                goto out;
        }
        r = api_too_long(password, PAIR_PASSWORD_MAX)
                    ? 0
                    : password_verify(password, owner.password_hash, NULL);
        if (r == -EAGAIN) {
                r = api_reply_internal(req, r);
                goto out;
        }
        if (r != 1) {
                r = api_error(req, API_ERR_FORBIDDEN, "wrong password");
                goto out;
        }
        r = api_revoke_device(req, device_id, self.user_id, "device revoked by another device");
out:
        store_device_done(&self);
        store_user_done(&owner);
        return api_answered(r);
}
