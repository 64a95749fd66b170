/* SPDX-License-Identifier: MIT */
/*
 * Integration: the desktop sync API (api.md §2-§4) against the real
 * binary — pairing and device tokens, every validation rule of push,
 * idempotent replay, conflicts, tenant and vault isolation, paging under
 * concurrent pushes, revoked and blocked devices, rate limits, the long
 * poll, restarts, a kill -9 in the middle of pushes, and a data directory
 * written by the existing server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "util/json_writer.h"

/* The shared daemon: small payload limit so the 413 case stays cheap. */
static const char shared_config[] = "limits:\n"
                                    "  max_payload_json: 4096\n"
                                    "trusted_proxies: [\"127.0.0.1\"]\n";

static struct daemon D;
static char alice_id[25], dave_id[25];
static char tok_a1[65], tok_a2[65], tok_av[65], tok_dave[65];
static char dev_a1[29], dev_a2[29], dev_av[29];

/* Users whose pairing budget (5 per 15 min per account) tests spend. */
static void new_user(const char *name, char *ret_password)
{
        char email[128];
        snprintf(email, sizeof(email), "%s@example.com", name);
        sprintf(ret_password, "pw-%s-123", name);
        harness_note_secret(ret_password);
        assert_int_equal(harness_add_user(&D, name, email, ret_password, true, false, NULL), 0);
}

#define ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

static int setup_shared(void **state)
{
        /* notify: the long-poll tests read how many pulls are held. */
        struct daemon_options o = {.config_yaml = shared_config, .notify = true};
        (void)state;

        static const char *const passwords[] = {"alice-password-1", "bob-password-22",
                                                "carol-password-333", "dave-password-4444"};
        for (size_t i = 0; i < ELEMENTS(passwords); i++)
                harness_note_secret(passwords[i]);
        harness_set_unique_client_ips(true);
        if (harness_start(&D, &o) < 0)
                return -1;
        if (harness_add_user(&D, "alice", "alice@example.com", "alice-password-1", true, false,
                             alice_id) < 0 ||
            harness_add_user(&D, "bob", "bob@example.com", "bob-password-22", true, true, NULL) <
                    0 ||
            harness_add_user(&D, "carol", "carol@example.com", "carol-password-333", false, false,
                             NULL) < 0 ||
            harness_add_user(&D, "dave", "dave@example.com", "dave-password-4444", true, false,
                             dave_id) < 0)
                return -1;
        if (harness_pair(&D, "alice", "alice-password-1", "vault-a", tok_a1, dev_a1) != 200 ||
            harness_pair(&D, "alice@example.com", "alice-password-1", "vault-a", tok_a2, dev_a2) !=
                    200 ||
            harness_pair(&D, "alice", "alice-password-1", "vault-b", tok_av, dev_av) != 200 ||
            harness_pair(&D, "dave", "dave-password-4444", "vault-a", tok_dave, NULL) != 200)
                return -1;
        return 0;
}

static int teardown_shared(void **state)
{
        (void)state;
        harness_destroy(&D);
        return 0;
}

/* POST path with body as device token and return the result. */
static struct http_result post(const struct daemon *d, const char *path, const char *token,
                               const char *body)
{
        struct http_result r;
        assert_int_equal(http_post_json(d, path, token, body, &r), 0);
        return r;
}

static long long count_ops(const char *where)
{
        char sql[512];
        long long n = -1;
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM server_ops %s", where ? where : "");
        assert_int_equal(harness_db_int(&D, sql, &n), 0);
        return n;
}

static char *op_json(const char *op_id, const char *etype, const char *eid, const char *otype,
                     const char *payload, long long last_seen)
{
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s}", "op_id", op_id, "entity_type",
                              etype, "entity_id", eid, "op_type", otype, "payload_json", payload,
                              "client_sequence", (json_int_t)1, "last_seen_server_seq",
                              (json_int_t)last_seen, "created_at", "2026-07-01T10:00:00Z");
        char *s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        return s;
}

/* Start d, add the confirmed user name (password "<name>-password-1") and
 * pair a device of it to vault "v": its token into tok, its id into dev
 * (may be NULL). */
static void start_with_device(struct daemon *d, const char *name, char tok[65], char *dev)
{
        char email[64], password[64];

        snprintf(email, sizeof(email), "%s@example.com", name);
        snprintf(password, sizeof(password), "%s-password-1", name);
        assert_int_equal(harness_start(d, NULL), 0);
        assert_int_equal(harness_add_user(d, name, email, password, true, false, NULL), 0);
        harness_pair_ok(d, name, password, "v", tok, dev);
}

/* Push one op and return the parsed answer (status asserted 200). */
static json_t *push_one(const struct daemon *d, const char *token, const char *op_id,
                        const char *eid, const char *otype, long long last_seen)
{
        char *op = op_json(op_id, "note", eid, otype, "{\"v\":1}", last_seen);
        char body[4096];
        snprintf(body, sizeof(body), "{\"ops\":[%s]}", op);
        free(op);
        struct http_result r = post(d, "/api/v1/sync/push", token, body);
        assert_int_equal(r.status, 200);
        json_t *j = json_incref(r.json);
        http_result_free(&r);
        return j;
}

static json_t *pull(const struct daemon *d, const char *token, long long since, int limit)
{
        char body[128];
        snprintf(body, sizeof(body), "{\"since_sequence\":%lld,\"page_limit\":%d}", since, limit);
        struct http_result r = post(d, "/api/v1/sync/pull", token, body);
        assert_int_equal(r.status, 200);
        json_t *j = json_incref(r.json);
        http_result_free(&r);
        return j;
}

static void expect_error(struct http_result r, long status, const char *code, const char *msg)
{
        if (r.status != status || strcmp(http_result_code(&r), code) != 0 ||
            (msg && strcmp(http_result_error(&r), msg) != 0))
                fail_msg("expected %ld %s '%s', got %ld %s", status, code, msg ? msg : "*",
                         r.status, r.body);
        /* Every API error is JSON, never HTML. */
        assert_null(strstr(r.body, "<html"));
        http_result_free(&r);
}

/* --- devices (§3) -------------------------------------------------------- */

static void test_pair_success(void **state)
{
        char sql[2048];
        (void)state;
        struct http_result r = post(&D, "/api/client/pair", NULL,
                                    "{\"login\":\"ALICE@example.com\",\"password\":"
                                    "\"alice-password-1\",\"vault_id\":\"  vault-c  \","
                                    "\"device_name\":\"\",\"client_version\":\"v9\"}");
        assert_int_equal(r.status, 200);
        const char *tok = json_string_value(json_object_get(r.json, "device_token"));
        const char *dev = json_string_value(json_object_get(r.json, "device_id"));
        assert_non_null(tok);
        assert_int_equal(strlen(tok), 64);
        assert_int_equal(strlen(dev), 28);
        assert_memory_equal(dev, "dev_", 4);
        assert_string_equal(json_string_value(json_object_get(r.json, "user_id")), alice_id);
        assert_int_equal(json_integer_value(json_object_get(r.json, "initial_sync_cursor")), 0);
        assert_non_null(json_string_value(json_object_get(r.json, "server_time")));
        char *cc = http_result_header(&r, "Cache-Control");
        assert_non_null(cc);
        assert_string_equal(cc, "no-store");
        free(cc);

        /* Stored as a hash with a display hint; name defaulted; vault trimmed. */
        long long n = 0;
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM server_devices WHERE id='%s' AND token_hash <> '%s' AND "
                 "length(token_hash)=64 AND token_prefix=substr('%s',1,8) AND "
                 "token_suffix=substr('%s',61,4) AND name='unknown' AND vault_id='vault-c' AND "
                 "client_version='v9' AND api_key NOT LIKE '%%%s%%'",
                 dev, tok, tok, tok, tok);
        assert_int_equal(harness_db_int(&D, sql, &n), 0);
        assert_int_equal(n, 1);
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM server_audit_log WHERE message LIKE '%%%s%%'", tok);
        assert_int_equal(harness_db_int(&D, sql, &n), 0);
        assert_int_equal(n, 0);
        harness_note_secret(tok);

        /* me answers for the new device. */
        struct http_result me;
        assert_int_equal(http_get(&D, "/api/client/me", tok, &me), 0);
        assert_int_equal(me.status, 200);
        assert_string_equal(json_string_value(json_object_get(me.json, "device_id")), dev);
        assert_string_equal(json_string_value(json_object_get(me.json, "username")), "alice");
        assert_string_equal(json_string_value(json_object_get(me.json, "vault_id")), "vault-c");
        assert_string_equal(json_string_value(json_object_get(me.json, "device_name")), "unknown");
        assert_string_equal(json_string_value(json_object_get(me.json, "client_version")), "v9");
        assert_string_equal(json_string_value(json_object_get(me.json, "revoked_at")), "");
        assert_int_equal(strlen(json_string_value(json_object_get(me.json, "last_seen"))), 20);
        assert_int_equal(strlen(json_string_value(json_object_get(me.json, "created_at"))), 20);
        http_result_free(&me);
        http_result_free(&r);
}

static void test_pair_errors(void **state)
{
        (void)state;
        char pw[64];
        new_user("frank", pw);
        char big[400];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        char body[1024];

        expect_error(post(&D, "/api/client/pair", NULL,
                          "{\"login\":\"\",\"password\":\"x\",\"vault_id\":\"v\"}"),
                     400, "invalid_request", "login and password required");
        expect_error(post(&D, "/api/client/pair", NULL, "{\"login\":\"alice\",\"vault_id\":\"v\"}"),
                     400, "invalid_request", "login and password required");
        expect_error(post(&D, "/api/client/pair", NULL,
                          "{\"login\":\"frank\",\"password\":\"pw-frank-123\",\"vault_id\":\"  "
                          "\"}"),
                     400, "invalid_request", "vault_id required");
        expect_error(post(&D, "/api/client/pair", NULL,
                          "{\"login\":\"frank\",\"password\":\"pw-frank-123\",\"vault_id\":"
                          "\"legacy:x\"}"),
                     400, "invalid_request", "vault_id uses reserved prefix");
        snprintf(body, sizeof(body),
                 "{\"login\":\"frank\",\"password\":\"pw-frank-123\",\"vault_id\":\"v\","
                 "\"device_name\":\"%.200s\"}",
                 big);
        expect_error(post(&D, "/api/client/pair", NULL, body), 400, "invalid_request", NULL);
        snprintf(body, sizeof(body),
                 "{\"login\":\"frank\",\"password\":\"pw-frank-123\",\"vault_id\":\"%.300s\"}",
                 big);
        expect_error(post(&D, "/api/client/pair", NULL, body), 400, "invalid_request", NULL);
        /* Over its spec's limit (128 bytes), before any credential check;
         * a raw vault_id over 320 bytes has its own message. */
        snprintf(body, sizeof(body),
                 "{\"login\":\"frank\",\"password\":\"pw-frank-123\",\"vault_id\":\"v\","
                 "\"device_name\":\"%.129s\"}",
                 big);
        expect_error(post(&D, "/api/client/pair", NULL, body), 400, "invalid_request",
                     "field too long");
        snprintf(body, sizeof(body),
                 "{\"login\":\"frank\",\"password\":\"pw-frank-123\",\"vault_id\":\"%.330s\"}",
                 big);
        expect_error(post(&D, "/api/client/pair", NULL, body), 400, "invalid_request",
                     "vault_id too long");
        expect_error(post(&D, "/api/client/pair", NULL, "{\"login\":\"alice\","), 400,
                     "invalid_json", NULL);
        expect_error(post(&D, "/api/client/pair", NULL, "{\"login\":5,\"password\":\"x\"}"), 400,
                     "invalid_json", NULL);
        expect_error(post(&D, "/api/client/pair", NULL, "[1,2]"), 400, "invalid_json", NULL);
        expect_error(post(&D, "/api/client/pair", NULL, "{\"login\":\"a\"} {\"x\":1}"), 400,
                     "trailing_json", NULL);
}

static void test_pair_credentials(void **state)
{
        (void)state;
        /* Separate IPs would need a proxy; these stay within the pair limit
         * because the limiter is per rule and the shared daemon's budget is
         * spent carefully: unknown, wrong, blocked, unconfirmed. */
        expect_error(post(&D, "/api/auth/test", NULL,
                          "{\"username\":\"nobody\",\"password\":\"whatever-1\"}"),
                     401, "unauthorized", "invalid credentials");
        expect_error(post(&D, "/api/auth/test", NULL,
                          "{\"username\":\"alice\",\"password\":\"wrong-password\"}"),
                     401, "unauthorized", "invalid credentials");
        /* Password first: a wrong password never reveals the state. */
        expect_error(post(&D, "/api/auth/test", NULL,
                          "{\"username\":\"bob\",\"password\":\"wrong-password\"}"),
                     401, "unauthorized", "invalid credentials");
        expect_error(post(&D, "/api/auth/test", NULL,
                          "{\"username\":\"bob\",\"password\":\"bob-password-22\"}"),
                     403, "forbidden", "account blocked");
        expect_error(post(&D, "/api/auth/test", NULL,
                          "{\"username\":\"carol\",\"password\":\"carol-password-333\"}"),
                     403, "forbidden", "email not confirmed");
        struct http_result r = post(&D, "/api/auth/test", NULL,
                                    "{\"username\":\"Alice@Example.COM\",\"password\":"
                                    "\"alice-password-1\"}");
        assert_int_equal(r.status, 200);
        assert_string_equal(json_string_value(json_object_get(r.json, "status")), "ok");
        http_result_free(&r);
        expect_error(post(&D, "/api/auth/test", NULL, "{\"username\":\"alice\"}"), 400,
                     "invalid_request", NULL);
        /* Pair reports the same way (one attempt each). */
        expect_error(post(&D, "/api/client/pair", NULL,
                          "{\"login\":\"carol\",\"password\":\"carol-password-333\",\"vault_id\":"
                          "\"v\"}"),
                     403, "forbidden", "email not confirmed");
        long long n = 0;
        assert_int_equal(harness_db_wait_int(&D,
                                             "SELECT count(*) FROM server_audit_log WHERE "
                                             "event_type='device_auth_failed'",
                                             1, 5000, &n),
                         0);
        assert_true(n >= 1);
}

static void test_device_auth_errors(void **state)
{
        (void)state;
        struct http_result r;

        assert_int_equal(http_get(&D, "/api/client/me", NULL, &r), 0);
        expect_error(r, 401, "unauthorized", "API key required");
        assert_int_equal(
                http_get(&D, "/api/client/me",
                         "0000000000000000000000000000000000000000000000000000000000000000", &r),
                0);
        expect_error(r, 401, "unauthorized", "invalid API key");
        /* The old ?api_key= query parameter is not accepted. */
        char path[200];
        snprintf(path, sizeof(path), "/api/client/me?api_key=%s", tok_a1);
        assert_int_equal(http_get(&D, path, NULL, &r), 0);
        expect_error(r, 401, "unauthorized", "API key required");
        const char *basic[] = {"Authorization: Basic YWxpY2U6eA==", NULL};
        assert_int_equal(http_do(&D, "GET", "/api/client/me", basic, NULL, 0, &r), 0);
        expect_error(r, 401, "unauthorized", "API key required");
        expect_error(post(&D, "/api/v1/sync/pull", NULL, "{}"), 401, "unauthorized",
                     "API key required");
        expect_error(post(&D, "/api/v1/sync/push", "nope", "{\"ops\":[]}"), 401, "unauthorized",
                     "invalid API key");
}

static void test_device_register(void **state)
{
        (void)state;
        expect_error(post(&D, "/api/v1/device/register", NULL,
                          "{\"name\":\"\",\"username\":\"alice\",\"password\":\"x\",\"vault_id\":"
                          "\"v\"}"),
                     400, "invalid_request", "name required");
        expect_error(
                post(&D, "/api/v1/device/register", NULL,
                     "{\"name\":\"n\",\"username\":\"\",\"password\":\"x\",\"vault_id\":\"v\"}"),
                401, "unauthorized", NULL);
        struct http_result r = post(&D, "/api/v1/device/register", NULL,
                                    "{\"name\":\"old client\",\"username\":\"alice\",\"password\":"
                                    "\"alice-password-1\",\"vault_id\":\"vault-old\"}");
        assert_int_equal(r.status, 200);
        const char *tok = json_string_value(json_object_get(r.json, "device_token"));
        assert_non_null(tok);
        assert_int_equal(strlen(tok), 64);
        assert_non_null(json_string_value(json_object_get(r.json, "device_id")));
        harness_note_secret(tok);
        struct http_result me;
        assert_int_equal(http_get(&D, "/api/client/me", tok, &me), 0);
        assert_int_equal(me.status, 200);
        assert_string_equal(json_string_value(json_object_get(me.json, "device_name")),
                            "old client");
        http_result_free(&me);
        http_result_free(&r);
}

static void test_revoke(void **state)
{
        char tok[65], dev[29], tok2[65], dev2[29], body[256], pw[64];
        (void)state;
        new_user("rita", pw);

        assert_int_equal(harness_pair(&D, "rita", pw, "vault-r", tok, dev), 200);
        assert_int_equal(harness_pair(&D, "rita", pw, "vault-r", tok2, dev2), 200);
        harness_note_secret(tok);
        harness_note_secret(tok2);

        expect_error(post(&D, "/api/client/revoke-device", tok, "{\"device_id\":\"x\"}"), 400,
                     "invalid_request", NULL);
        snprintf(body, sizeof(body), "{\"device_id\":\"%s\",\"password\":\"wrong-pw\"}", dev2);
        expect_error(post(&D, "/api/client/revoke-device", tok, body), 403, "forbidden",
                     "wrong password");
        expect_error(post(&D, "/api/client/revoke-device", tok,
                          "{\"device_id\":\"dev_000000000000000000000000\",\"password\":\"pw-rita-"
                          "123\"}"),
                     404, "not_found", "device not found");
        /* Dave's device belongs to someone else. */
        struct http_result me;
        assert_int_equal(http_get(&D, "/api/client/me", tok_dave, &me), 0);
        snprintf(body, sizeof(body), "{\"device_id\":\"%s\",\"password\":\"pw-rita-123\"}",
                 json_string_value(json_object_get(me.json, "device_id")));
        http_result_free(&me);
        expect_error(post(&D, "/api/client/revoke-device", tok, body), 403, "forbidden",
                     "device does not belong to you");

        /* Push something from dev2 first: its ops stay visible after revocation. */
        json_decref(push_one(&D, tok2, "rv-1", "r/1", "create", 0));

        snprintf(body, sizeof(body), "{\"device_id\":\"%s\",\"password\":\"pw-rita-123\"}", dev2);
        struct http_result r = post(&D, "/api/client/revoke-device", tok, body);
        assert_int_equal(r.status, 200);
        assert_string_equal(json_string_value(json_object_get(r.json, "status")), "revoked");
        http_result_free(&r);
        expect_error(post(&D, "/api/v1/sync/pull", tok2, "{}"), 401, "unauthorized",
                     "device revoked");

        json_t *p = pull(&D, tok, 0, 0);
        assert_int_equal(json_array_size(json_object_get(p, "ops")), 1);
        json_decref(p);

        r = post(&D, "/api/client/revoke-current", tok, "{}");
        assert_int_equal(r.status, 200);
        assert_string_equal(json_string_value(json_object_get(r.json, "status")), "revoked");
        http_result_free(&r);
        assert_int_equal(http_get(&D, "/api/client/me", tok, &me), 0);
        expect_error(me, 401, "unauthorized", "device revoked");

        long long n = 0;
        assert_int_equal(harness_db_wait_int(&D,
                                             "SELECT count(*) FROM server_audit_log WHERE "
                                             "event_type='device_revoked'",
                                             2, 5000, &n),
                         0);
        assert_true(n >= 2);
}

static void test_blocked_user(void **state)
{
        char tok[65];
        (void)state;

        assert_int_equal(harness_add_user(&D, "erin", "erin@example.com", "erin-password-5", true,
                                          false, NULL),
                         0);
        assert_int_equal(harness_pair(&D, "erin", "erin-password-5", "v", tok, NULL), 200);
        harness_note_secret(tok);
        json_decref(pull(&D, tok, 0, 0));
        assert_int_equal(harness_db_exec(&D, "UPDATE server_users SET blocked=1 WHERE "
                                             "username='erin'"),
                         0);
        expect_error(post(&D, "/api/v1/sync/pull", tok, "{}"), 403, "forbidden", "user blocked");
        expect_error(post(&D, "/api/v1/sync/push", tok, "{\"ops\":[]}"), 403, "forbidden",
                     "user blocked");
        assert_int_equal(harness_db_exec(&D, "UPDATE server_users SET blocked=0 WHERE "
                                             "username='erin'"),
                         0);
        json_decref(pull(&D, tok, 0, 0));
}

/* --- push validation (§4) -------------------------------------------------- */

static void test_push_validation(void **state)
{
        (void)state;
        long long before = count_ops(NULL);
        char *body = malloc(200000);
        size_t off;

        /* more than max_push_operations */
        off = (size_t)sprintf(body, "{\"ops\":[");
        for (int i = 0; i < 101; i++) {
                char *op = op_json("many", "note", "e", "create", "", 0);
                off += (size_t)sprintf(body + off, "%s%s", i ? "," : "", op);
                free(op);
        }
        sprintf(body + off, "]}");
        expect_error(post(&D, "/api/v1/sync/push", tok_a1, body), 413, "too_many_operations", NULL);

        char long129[130];
        memset(long129, 'k', 129);
        long129[129] = '\0';
        sprintf(body, "{\"idempotency_key\":\"%s\",\"ops\":[]}", long129);
        expect_error(post(&D, "/api/v1/sync/push", tok_a1, body), 400, "field_too_long", NULL);
        sprintf(body, "{\"device_id\":\"%s\",\"ops\":[]}", long129);
        expect_error(post(&D, "/api/v1/sync/push", tok_a1, body), 400, "field_too_long", NULL);

        static const char *const blanks[][2] = {
                {"op_id", "{\"ops\":[{\"op_id\":\" \",\"entity_type\":\"n\",\"entity_id\":\"e\","
                          "\"op_type\":\"c\"}]}"},
                {"entity_type",
                 "{\"ops\":[{\"op_id\":\"x\",\"entity_id\":\"e\",\"op_type\":\"c\"}]}"},
                {"entity_id", "{\"ops\":[{\"op_id\":\"x\",\"entity_type\":\"n\",\"entity_id\":\"\","
                              "\"op_type\":\"c\"}]}"},
                {"op_type",
                 "{\"ops\":[{\"op_id\":\"x\",\"entity_type\":\"n\",\"entity_id\":\"e\"}]}"},
        };
        for (size_t i = 0; i < 4; i++) {
                char msg[64];
                snprintf(msg, sizeof(msg), "%s is required", blanks[i][0]);
                expect_error(post(&D, "/api/v1/sync/push", tok_a1, blanks[i][1]), 400,
                             "invalid_operation", msg);
        }
        sprintf(body,
                "{\"ops\":[{\"op_id\":\"%s\",\"entity_type\":\"n\",\"entity_id\":\"e\","
                "\"op_type\":\"c\"}]}",
                long129);
        expect_error(post(&D, "/api/v1/sync/push", tok_a1, body), 400, "field_too_long", NULL);
        char eid[4100];
        memset(eid, 'e', 4097);
        eid[4097] = '\0';
        sprintf(body,
                "{\"ops\":[{\"op_id\":\"x\",\"entity_type\":\"n\",\"entity_id\":\"%s\","
                "\"op_type\":\"c\"}]}",
                eid);
        expect_error(post(&D, "/api/v1/sync/push", tok_a1, body), 400, "field_too_long", NULL);
        eid[4096] = '\0'; /* exactly at the limit is fine */
        sprintf(body,
                "{\"ops\":[{\"op_id\":\"at-limit\",\"entity_type\":\"n\",\"entity_id\":\"%s\","
                "\"op_type\":\"c\"}]}",
                eid);
        struct http_result ok = post(&D, "/api/v1/sync/push", tok_a1, body);
        assert_int_equal(ok.status, 200);
        http_result_free(&ok);
        before++;

        /* payload over limits.max_payload_json (4096 here) */
        off = (size_t)sprintf(body, "{\"ops\":[{\"op_id\":\"p\",\"entity_type\":\"n\","
                                    "\"entity_id\":\"e\",\"op_type\":\"c\",\"payload_json\":\"");
        memset(body + off, 'a', 5000);
        off += 5000;
        sprintf(body + off, "\"}]}");
        expect_error(post(&D, "/api/v1/sync/push", tok_a1, body), 413, "payload_too_large", NULL);
        expect_error(post(&D, "/api/v1/sync/push", tok_a1,
                          "{\"ops\":[{\"op_id\":\"p\",\"entity_type\":\"n\",\"entity_id\":\"e\","
                          "\"op_type\":\"c\",\"payload_json\":\"{not json\"}]}"),
                     400, "invalid_payload", NULL);
        expect_error(post(&D, "/api/v1/sync/push", tok_a1,
                          "{\"ops\":[{\"op_id\":\"p\",\"entity_type\":\"n\",\"entity_id\":\"e\","
                          "\"op_type\":\"c\",\"client_sequence\":-1}]}"),
                     400, "invalid_operation", NULL);
        expect_error(post(&D, "/api/v1/sync/push", tok_a1,
                          "{\"ops\":[{\"op_id\":\"p\",\"entity_type\":\"n\",\"entity_id\":\"e\","
                          "\"op_type\":\"c\",\"last_seen_server_seq\":-5}]}"),
                     400, "invalid_operation", NULL);
        expect_error(post(&D, "/api/v1/sync/push", tok_a1,
                          "{\"ops\":[{\"op_id\":\"p\",\"entity_type\":\"n\",\"entity_id\":\"e\","
                          "\"op_type\":\"c\",\"payload_json\":{\"a\":1}}]}"),
                     400, "invalid_json", NULL);
        expect_error(post(&D, "/api/v1/sync/push", tok_a1, "{\"ops\":[\"x\"]}"), 400,
                     "invalid_json", NULL);
        expect_error(post(&D, "/api/v1/sync/push", tok_a1, "{\"ops\":{}}"), 400, "invalid_json",
                     NULL);

        /* blob references in file ops */
        expect_error(post(&D, "/api/v1/sync/push", tok_a1,
                          "{\"ops\":[{\"op_id\":\"f\",\"entity_type\":\"file\",\"entity_id\":\"f\","
                          "\"op_type\":\"c\",\"payload_json\":\"{\\\"dataBase64\\\":\\\"AA==\\\"}"
                          "\"}]}"),
                     400, "inline_binary_forbidden", NULL);
        expect_error(post(&D, "/api/v1/sync/push", tok_a1,
                          "{\"ops\":[{\"op_id\":\"f\",\"entity_type\":\"file\",\"entity_id\":\"f\","
                          "\"op_type\":\"c\",\"payload_json\":\"{\\\"blob\\\":{\\\"sha256\\\":"
                          "\\\"ABC\\\",\\\"size\\\":1}}\"}]}"),
                     400, "invalid_blob_reference", NULL);
        expect_error(
                post(&D, "/api/v1/sync/push", tok_a1,
                     "{\"ops\":[{\"op_id\":\"f\",\"entity_type\":\"file\",\"entity_id\":\"f\","
                     "\"op_type\":\"c\",\"payload_json\":\"{\\\"blob\\\":{\\\"sha256\\\":"
                     "\\\"0000000000000000000000000000000000000000000000000000000000000000\\\","
                     "\\\"size\\\":-1}}\"}]}"),
                400, "invalid_blob_reference", NULL);
        expect_error(
                post(&D, "/api/v1/sync/push", tok_a1,
                     "{\"ops\":[{\"op_id\":\"f\",\"entity_type\":\"file\",\"entity_id\":\"f\","
                     "\"op_type\":\"c\",\"payload_json\":\"{\\\"blob\\\":{\\\"sha256\\\":"
                     "\\\"0000000000000000000000000000000000000000000000000000000000000000\\\","
                     "\\\"size\\\":3}}\"}]}"),
                400, "blob_not_owned", NULL);

        /* A bad op anywhere stores nothing, not even the good ops before it. */
        expect_error(post(&D, "/api/v1/sync/push", tok_a1,
                          "{\"ops\":[{\"op_id\":\"good\",\"entity_type\":\"n\",\"entity_id\":\"e\","
                          "\"op_type\":\"c\"},{\"op_id\":\"\",\"entity_type\":\"n\","
                          "\"entity_id\":\"e\",\"op_type\":\"c\"}]}"),
                     400, "invalid_operation", NULL);
        assert_int_equal(count_ops(NULL), before);
        free(body);
}

/* --- push/pull semantics --------------------------------------------------- */

static void test_push_pull_roundtrip(void **state)
{
        (void)state;
        struct http_result r = post(&D, "/api/v1/sync/push", tok_a1,
                                    "{\"device_id\":\"ignored-by-server\",\"ops\":["
                                    "{\"op_id\":\"rt-1\",\"entity_type\":\"note\",\"entity_id\":"
                                    "\"n/1\",\"op_type\":\"create\",\"payload_json\":\"{\\\"t\\\": "
                                    "\\\"Привет\\\"}\",\"client_sequence\":7,"
                                    "\"last_seen_server_seq\":0,\"created_at\":\"2020-01-02T03:04:"
                                    "05Z\"},"
                                    "{\"op_id\":\"rt-2\",\"entity_type\":\"note\",\"entity_id\":"
                                    "\"n/1\",\"op_type\":\"delete\",\"payload_json\":\"\"}]}");
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body,
                            "{\"accepted\":[\"rt-1\",\"rt-2\"],\"conflicts\":[],\"count\":2}");
        http_result_free(&r);

        json_t *p = pull(&D, tok_a2, 0, 0);
        json_t *ops = json_object_get(p, "ops");
        json_t *found = NULL;
        size_t i;
        json_t *op;
        long long prev = 0;
        json_array_foreach(ops, i, op)
        {
                long long seq = json_integer_value(json_object_get(op, "server_sequence"));
                assert_true(seq > prev);
                prev = seq;
                if (strcmp(json_string_value(json_object_get(op, "op_id")), "rt-1") == 0)
                        found = op;
        }
        assert_non_null(found);
        assert_string_equal(json_string_value(json_object_get(found, "payload_json")),
                            "{\"t\": \"Привет\"}");
        assert_string_equal(json_string_value(json_object_get(found, "created_at")),
                            "2020-01-02T03:04:05Z");
        assert_string_equal(json_string_value(json_object_get(found, "device_id")), dev_a1);
        assert_int_equal(json_integer_value(json_object_get(p, "server_sequence")), prev);
        assert_int_equal(json_integer_value(json_object_get(p, "page_last_sequence")), prev);
        assert_false(json_is_true(json_object_get(p, "has_more")));
        json_decref(p);

        /* The delete left a tombstone. */
        long long n = 0;
        assert_int_equal(harness_db_int(&D,
                                        "SELECT count(*) FROM server_tombstones WHERE "
                                        "entity_id='n/1' AND op_id='rt-2'",
                                        &n),
                         0);
        assert_int_equal(n, 1);

        /* Pull from the end: nothing, page_last_sequence = since. */
        p = pull(&D, tok_a1, prev, 0);
        assert_int_equal(json_array_size(json_object_get(p, "ops")), 0);
        assert_int_equal(json_integer_value(json_object_get(p, "page_last_sequence")), prev);
        json_decref(p);
}

/* A push whose parsed body outgrows the memory a push normally parses
 * into (util/json_arena.h): refused whole when its last op is bad, then
 * stored and pulled back byte for byte. */
static void test_push_large_tree(void **state)
{
        (void)state;
        enum { N = 100, EID = 4000, TEXT = 3900 };
        struct json_writer w;
        char *eid = malloc(EID + 1), *payload = malloc(TEXT + 16);
        char *body;
        size_t len;

        assert_non_null(eid);
        assert_non_null(payload);
        for (int bad = 1; bad >= 0; bad--) {
                json_writer_init(&w, N * (EID + TEXT + 256));
                json_writer_begin_object(&w);
                json_writer_key(&w, "ops");
                json_writer_begin_array(&w);
                for (int i = 0; i < N; i++) {
                        char op_id[32];
                        snprintf(op_id, sizeof(op_id), "big-%d", i);
                        memset(eid, 'a' + i % 26, EID);
                        memcpy(eid, op_id, strlen(op_id));
                        eid[EID] = '\0';
                        int n = snprintf(payload, 16, "{\"i\":%d,\"t\":\"", i);
                        memset(payload + n, 'p', TEXT);
                        strcpy(payload + n + TEXT, "\"}");
                        json_writer_begin_object(&w);
                        json_writer_member_string(&w, "op_id", op_id);
                        json_writer_member_string(&w, "entity_type", "note");
                        json_writer_member_string(&w, "entity_id", eid);
                        json_writer_member_string(&w, "op_type",
                                                  bad && i == N - 1 ? " " : "update");
                        json_writer_member_string(&w, "payload_json", payload);
                        json_writer_end_object(&w);
                }
                json_writer_end_array(&w);
                json_writer_end_object(&w);
                body = json_writer_finish(&w, &len);
                assert_non_null(body);
                assert_true(len > 700000);
                struct http_result r = post(&D, "/api/v1/sync/push", tok_a1, body);
                free(body);
                if (bad) {
                        expect_error(r, 400, "invalid_operation", "op_type is required");
                        assert_int_equal(count_ops("WHERE op_id LIKE 'big-%'"), 0);
                        continue;
                }
                assert_int_equal(r.status, 200);
                assert_int_equal(json_integer_value(json_object_get(r.json, "count")), N);
                http_result_free(&r);
        }
        assert_int_equal(count_ops("WHERE op_id LIKE 'big-%'"), N);

        /* Pulled back whole, page by page. */
        long long since = 0;
        int seen = 0;
        for (;;) {
                json_t *p = pull(&D, tok_a2, since, 0), *op;
                size_t i;
                json_array_foreach(json_object_get(p, "ops"), i, op)
                {
                        const char *id = json_string_value(json_object_get(op, "op_id"));
                        int k;
                        if (sscanf(id, "big-%d", &k) != 1)
                                continue;
                        const char *e = json_string_value(json_object_get(op, "entity_id"));
                        const char *pj = json_string_value(json_object_get(op, "payload_json"));
                        assert_int_equal(strlen(e), EID);
                        assert_memory_equal(e, id, strlen(id));
                        assert_int_equal(e[EID - 1], 'a' + k % 26);
                        json_t *pv = json_loads(pj, 0, NULL);
                        assert_int_equal(json_integer_value(json_object_get(pv, "i")), k);
                        assert_int_equal(strlen(json_string_value(json_object_get(pv, "t"))), TEXT);
                        json_decref(pv);
                        seen++;
                }
                since = json_integer_value(json_object_get(p, "page_last_sequence"));
                bool more = json_is_true(json_object_get(p, "has_more"));
                json_decref(p);
                if (!more)
                        break;
        }
        assert_int_equal(seen, N);
        free(eid);
        free(payload);

        /* And an ordinary push after it. */
        json_decref(push_one(&D, tok_a1, "after-big", "n/after-big", "create", 0));
}

static void test_duplicates_and_scope(void **state)
{
        (void)state;
        json_t *a = push_one(&D, tok_a1, "dup-1", "d/1", "create", 0);
        assert_int_equal(json_integer_value(json_object_get(a, "count")), 1);
        json_decref(a);
        long long seq_before = 0;
        assert_int_equal(harness_db_int(&D,
                                        "SELECT value FROM server_meta WHERE key='last_sequence'",
                                        &seq_before),
                         0);
        /* Same op_id again in the same scope (also from another device): skipped. */
        a = push_one(&D, tok_a2, "dup-1", "d/1", "update", 0);
        assert_int_equal(json_integer_value(json_object_get(a, "count")), 0);
        assert_int_equal(json_array_size(json_object_get(a, "accepted")), 0);
        json_decref(a);
        long long seq_after = 0;
        assert_int_equal(harness_db_int(&D,
                                        "SELECT value FROM server_meta WHERE key='last_sequence'",
                                        &seq_after),
                         0);
        assert_int_equal(seq_before, seq_after);
        /* Twice in one push: the second is skipped. */
        struct http_result r =
                post(&D, "/api/v1/sync/push", tok_a1,
                     "{\"ops\":[{\"op_id\":\"dup-2\",\"entity_type\":\"n\",\"entity_id\":\"e\","
                     "\"op_type\":\"c\"},{\"op_id\":\"dup-2\",\"entity_type\":\"n\",\"entity_id\":"
                     "\"e\",\"op_type\":\"c\"}]}");
        assert_string_equal(r.body, "{\"accepted\":[\"dup-2\"],\"conflicts\":[],\"count\":1}");
        http_result_free(&r);
        /* The same op_id in another vault and for another user is accepted:
         * op ids are unique per scope, so no tenant can shadow another. */
        a = push_one(&D, tok_av, "dup-1", "d/1", "create", 0);
        assert_int_equal(json_integer_value(json_object_get(a, "count")), 1);
        json_decref(a);
        a = push_one(&D, tok_dave, "dup-1", "d/1", "create", 0);
        assert_int_equal(json_integer_value(json_object_get(a, "count")), 1);
        json_decref(a);
}

static void test_idempotency(void **state)
{
        (void)state;
        const char *first = "{\"idempotency_key\":\"idem-1\",\"ops\":[{\"op_id\":\"id-1\","
                            "\"entity_type\":\"n\",\"entity_id\":\"i/1\",\"op_type\":\"c\"}]}";
        const char *second = "{\"idempotency_key\":\"idem-1\",\"ops\":[{\"op_id\":\"id-2\","
                             "\"entity_type\":\"n\",\"entity_id\":\"i/2\",\"op_type\":\"c\"}]}";
        struct http_result r1 = post(&D, "/api/v1/sync/push", tok_a1, first);
        assert_int_equal(r1.status, 200);
        long long n1 = count_ops(NULL);
        struct http_result r2 = post(&D, "/api/v1/sync/push", tok_a1, second);
        assert_int_equal(r2.status, 200);
        assert_int_equal(r1.body_len, r2.body_len);
        assert_memory_equal(r1.body, r2.body, r1.body_len);
        assert_int_equal(count_ops(NULL), n1); /* nothing stored by the replay */
        assert_int_equal(count_ops("WHERE op_id='id-2'"), 0);
        /* The key is scoped: another vault with the same key pushes for real. */
        struct http_result r3 = post(&D, "/api/v1/sync/push", tok_av, second);
        assert_int_equal(r3.status, 200);
        assert_string_equal(r3.body, "{\"accepted\":[\"id-2\"],\"conflicts\":[],\"count\":1}");
        http_result_free(&r1);
        http_result_free(&r2);
        http_result_free(&r3);
}

static void test_conflicts(void **state)
{
        (void)state;
        json_t *a = push_one(&D, tok_a1, "cf-1", "c/1", "create", 0);
        json_decref(a);
        json_t *p = pull(&D, tok_a1, 0, 0);
        long long base = json_integer_value(json_object_get(p, "server_sequence"));
        json_decref(p);
        json_decref(push_one(&D, tok_a1, "cf-2", "c/1", "update", 0));
        json_decref(push_one(&D, tok_a1, "cf-3", "c/1", "delete", 0)); /* deletes never conflict */
        json_decref(push_one(&D, tok_av, "cf-x", "c/1", "update", 0)); /* other vault */
        json_decref(push_one(&D, tok_dave, "cf-y", "c/1", "update", 0)); /* other user */
        json_decref(push_one(&D, tok_a2, "cf-own", "c/1", "update", 0)); /* own device */

        a = push_one(&D, tok_a2, "cf-4", "c/1", "update", base);
        json_t *conflicts = json_object_get(a, "conflicts");
        assert_int_equal(json_array_size(conflicts), 1);
        json_t *c = json_array_get(conflicts, 0);
        assert_string_equal(json_string_value(json_object_get(c, "op_id")), "cf-2");
        assert_string_equal(json_string_value(json_object_get(c, "device_id")), dev_a1);
        assert_string_equal(json_string_value(json_object_get(c, "op_type")), "update");
        assert_string_equal(json_string_value(json_object_get(c, "entity_type")), "note");
        assert_string_equal(json_string_value(json_object_get(c, "entity_id")), "c/1");
        assert_true(json_integer_value(json_object_get(c, "server_sequence")) > base);
        /* Reported, not enforced. */
        assert_int_equal(json_integer_value(json_object_get(a, "count")), 1);
        json_decref(a);

        /* last_seen_server_seq 0 means "no knowledge": no conflicts reported. */
        a = push_one(&D, tok_a2, "cf-5", "c/1", "update", 0);
        assert_int_equal(json_array_size(json_object_get(a, "conflicts")), 0);
        json_decref(a);
}

static void test_pull_paging_and_limits(void **state)
{
        (void)state;
        char tok[65], pw[64];
        new_user("paul", pw);
        assert_int_equal(harness_pair(&D, "paul", pw, "vault-page", tok, NULL), 200);
        harness_note_secret(tok);
        char *body = malloc(100000);
        for (int b = 0; b < 3; b++) {
                size_t off = (size_t)sprintf(body, "{\"ops\":[");
                for (int i = 0; i < 84; i++) {
                        char id[32];
                        snprintf(id, sizeof(id), "pg-%d-%d", b, i);
                        char *op = op_json(id, "note", id, "create", "", 0);
                        off += (size_t)sprintf(body + off, "%s%s", i ? "," : "", op);
                        free(op);
                }
                sprintf(body + off, "]}");
                struct http_result r = post(&D, "/api/v1/sync/push", tok, body);
                assert_int_equal(r.status, 200);
                http_result_free(&r);
        }
        free(body);

        /* 252 ops: pages of 100, 100, 52. */
        long long since = 0;
        int pages = 0, total = 0;
        for (;;) {
                json_t *p = pull(&D, tok, since, 0);
                size_t n = json_array_size(json_object_get(p, "ops"));
                bool more = json_is_true(json_object_get(p, "has_more"));
                total += (int)n;
                pages++;
                assert_true(n <= 100);
                since = json_integer_value(json_object_get(p, "page_last_sequence"));
                json_decref(p);
                if (!more)
                        break;
        }
        assert_int_equal(total, 252);
        assert_int_equal(pages, 3);

        json_t *p = pull(&D, tok, 0, 1000); /* above the maximum: the maximum */
        assert_int_equal(json_array_size(json_object_get(p, "ops")), 100);
        json_decref(p);
        p = pull(&D, tok, 0, 7);
        assert_int_equal(json_array_size(json_object_get(p, "ops")), 7);
        assert_true(json_is_true(json_object_get(p, "has_more")));
        json_decref(p);

        expect_error(post(&D, "/api/v1/sync/pull", tok, "{\"since_sequence\":-1}"), 400,
                     "invalid_request", NULL);
        expect_error(post(&D, "/api/v1/sync/pull", tok, "{\"page_limit\":-1}"), 400,
                     "invalid_request", NULL);
        expect_error(post(&D, "/api/v1/sync/pull", tok, "{\"wait_seconds\":61}"), 400,
                     "invalid_request", NULL);
        expect_error(post(&D, "/api/v1/sync/pull", tok, "{\"wait_seconds\":-1}"), 400,
                     "invalid_request", NULL);
        expect_error(post(&D, "/api/v1/sync/pull", tok, "{\"since_sequence\":\"5\"}"), 400,
                     "invalid_json", NULL);
}

/* --- a pull streamed in pieces ------------------------------------------- */

/* Stored payload text (valid JSON) of about len bytes whose escapes fall
 * across the borders of the 4 KiB pieces a pull is streamed in: escaped
 * backslashes and quotes, 2-, 3- and 4-byte UTF-8, raw newlines, tabs and
 * carriage returns between the elements, and mark wherever it is not 0. */
static char *streamed_payload(size_t len, char mark)
{
        static const char *const units[] = {
                "\\\\", "\\\"", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\\\\\\\\\\\""};
        char *t = malloc(len + 64);
        size_t n = 0;

        assert_non_null(t);
        t[n++] = '[';
        t[n++] = '"';
        for (size_t k = 0; n < len; k++) {
                for (size_t a = 0; a < k % 5; a++)
                        t[n++] = 'a';
                const char *u = units[k % ELEMENTS(units)];
                memcpy(t + n, u, strlen(u));
                n += strlen(u);
                if (mark && k % 3 == 0)
                        t[n++] = mark;
                if (k % 11 == 10) {
                        memcpy(t + n, "\",\r\n\t\"", 6);
                        n += 6;
                }
        }
        t[n++] = '"';
        t[n++] = ']';
        t[n] = '\0';
        return t;
}

/* A JSON string of len - 2 plain letters: nothing to escape. */
static char *plain_payload(size_t len)
{
        char *t = malloc(len + 1);

        assert_non_null(t);
        memset(t, 'a', len);
        t[0] = t[len - 1] = '"';
        t[len] = '\0';
        return t;
}

struct streamed_op {
        char id[16];
        char *payload; /* as stored */
};

/* The page as the daemon encodes it whole (util/json_writer.h), from the
 * ops' stored text and the sequences the page names. */
static char *streamed_page_expected(const json_t *page, const struct streamed_op *ops, size_t n,
                                    const char *device_id, size_t *ret_len)
{
        struct json_writer w;
        size_t i;
        json_t *op;

        json_writer_init(&w, 4096);
        json_writer_begin_object(&w);
        json_writer_member_int(&w, "server_sequence",
                               json_integer_value(json_object_get(page, "server_sequence")));
        json_writer_member_int(&w, "page_last_sequence",
                               json_integer_value(json_object_get(page, "page_last_sequence")));
        json_writer_key(&w, "has_more");
        json_writer_bool(&w, json_is_true(json_object_get(page, "has_more")));
        json_writer_key(&w, "ops");
        json_writer_begin_array(&w);
        json_array_foreach(json_object_get(page, "ops"), i, op)
        {
                const char *id = json_string_value(json_object_get(op, "op_id"));
                const struct streamed_op *want = NULL;
                for (size_t k = 0; k < n; k++)
                        if (id && strcmp(ops[k].id, id) == 0)
                                want = &ops[k];
                assert_non_null(want);
                /* The client reads back exactly what was stored. */
                assert_string_equal(json_string_value(json_object_get(op, "payload_json")),
                                    want->payload);
                json_writer_begin_object(&w);
                json_writer_member_string(&w, "op_id", want->id);
                json_writer_member_int(&w, "server_sequence",
                                       json_integer_value(json_object_get(op, "server_sequence")));
                json_writer_member_string(&w, "device_id", device_id);
                json_writer_member_string(&w, "entity_type", "note");
                json_writer_member_string(&w, "entity_id", want->id);
                json_writer_member_string(&w, "op_type", "update");
                json_writer_member_string(&w, "payload_json", want->payload);
                json_writer_member_string(&w, "created_at", "2026-07-01T10:00:00Z");
                json_writer_end_object(&w);
        }
        json_writer_end_array(&w);
        json_writer_end_object(&w);
        char *text = json_writer_finish(&w, ret_len);
        assert_non_null(text);
        return text;
}

/* Payloads of many pieces each, with escapes split across the pieces'
 * borders, and small ops between them: every page is byte for byte the
 * whole encoding, on either database. */
static void test_pull_streamed_pieces(void **state)
{
        static const size_t sizes[] = {9000, 2, 70000, 30000, 5, 200000, 4095, 4097, 120000, 50000};
        struct streamed_op ops[ELEMENTS(sizes)];
        struct daemon d = {0};
        char tok[65], dev[29];
        (void)state;

        start_with_device(&d, "st", tok, dev);
        for (size_t i = 0; i < ELEMENTS(sizes); i++) {
                snprintf(ops[i].id, sizeof(ops[i].id), "piece-%zu", i);
                /* Op 3 gets control characters, which no pushed (valid
                 * JSON) payload has, as text an earlier server stored. */
                if (sizes[i] < 16)
                        ops[i].payload = strdup("{}");
                else if (i == ELEMENTS(sizes) - 1)
                        ops[i].payload = plain_payload(sizes[i]); /* whole pieces unescaped */
                else
                        ops[i].payload = streamed_payload(sizes[i], i == 3 ? '~' : 0);
                assert_non_null(ops[i].payload);
                char *op = op_json(ops[i].id, "note", ops[i].id, "update", ops[i].payload, 0);
                size_t cap = strlen(op) + 16;
                char *body = malloc(cap);
                assert_non_null(body);
                snprintf(body, cap, "{\"ops\":[%s]}", op);
                free(op);
                struct http_result r = post(&d, "/api/v1/sync/push", tok, body);
                assert_int_equal(r.status, 200);
                http_result_free(&r);
                free(body);
        }
        assert_int_equal(harness_db_exec(&d, "UPDATE server_ops SET payload_json = "
                                             "replace(payload_json, '~', '\x01\x1f\x7f')"
                                             " WHERE op_id = 'piece-3'"),
                         0);
        for (char *c = ops[3].payload; (c = strchr(c, '~'));) {
                size_t rest = strlen(c + 1) + 1;
                char *grown = realloc(ops[3].payload, strlen(ops[3].payload) + 3);
                assert_non_null(grown);
                c = grown + (c - ops[3].payload);
                ops[3].payload = grown;
                memmove(c + 3, c + 1, rest);
                memcpy(c, "\x01\x1f\x7f", 3);
                c += 3;
        }

        long long since = 0;
        size_t seen = 0;
        bool more = true;
        while (more) {
                char req[96];
                struct http_result r;
                snprintf(req, sizeof(req), "{\"since_sequence\":%lld}", since);
                assert_int_equal(http_post_json(&d, "/api/v1/sync/pull", tok, req, &r), 0);
                assert_int_equal(r.status, 200);
                assert_non_null(r.json);
                size_t len;
                char *want = streamed_page_expected(r.json, ops, ELEMENTS(ops), dev, &len);
                assert_int_equal(r.body_len, len);
                assert_memory_equal(r.body, want, len);
                free(want);
                seen += json_array_size(json_object_get(r.json, "ops"));
                more = json_is_true(json_object_get(r.json, "has_more"));
                since = json_integer_value(json_object_get(r.json, "page_last_sequence"));
                http_result_free(&r);
        }
        assert_int_equal(seen, ELEMENTS(ops));

        /* One op a page: the pages of at most 64 KiB are sent whole from
         * memory, the others streamed; either way byte for byte. */
        long long first = 0;
        assert_int_equal(harness_db_int(&d,
                                        "SELECT min(server_sequence) FROM server_ops WHERE "
                                        "op_id = 'piece-0'",
                                        &first),
                         0);
        for (size_t i = 0; i < ELEMENTS(ops); i++) {
                char req[96];
                struct http_result r;
                snprintf(req, sizeof(req), "{\"since_sequence\":%lld,\"page_limit\":1}",
                         first - 1 + (long long)i);
                assert_int_equal(http_post_json(&d, "/api/v1/sync/pull", tok, req, &r), 0);
                assert_int_equal(r.status, 200);
                assert_int_equal(json_array_size(json_object_get(r.json, "ops")), 1);
                size_t len;
                char *want = streamed_page_expected(r.json, ops, ELEMENTS(ops), dev, &len);
                assert_int_equal(r.body_len, len);
                assert_memory_equal(r.body, want, len);
                free(want);
                http_result_free(&r);
        }
        for (size_t i = 0; i < ELEMENTS(ops); i++)
                free(ops[i].payload);
        harness_destroy(&d);
}

static void test_isolation(void **state)
{
        (void)state;
        json_decref(push_one(&D, tok_dave, "secret-dave-op", "private/1", "create", 0));
        json_decref(push_one(&D, tok_av, "vault-b-op", "b/1", "create", 0));
        const char *const mine[] = {tok_a1, tok_a2};
        for (size_t t = 0; t < 2; t++) {
                long long since = 0;
                for (;;) {
                        json_t *p = pull(&D, mine[t], since, 0);
                        size_t i;
                        json_t *op;
                        json_array_foreach(json_object_get(p, "ops"), i, op)
                        {
                                const char *id = json_string_value(json_object_get(op, "op_id"));
                                assert_string_not_equal(id, "secret-dave-op");
                                assert_string_not_equal(id, "vault-b-op");
                        }
                        bool more = json_is_true(json_object_get(p, "has_more"));
                        since = json_integer_value(json_object_get(p, "page_last_sequence"));
                        json_decref(p);
                        if (!more)
                                break;
                }
        }
        /* Dave's scope's server_sequence counts only his own ops. */
        json_t *p = pull(&D, tok_dave, 0, 0);
        json_t *op;
        size_t i;
        json_array_foreach(json_object_get(p, "ops"), i, op)
        {
                assert_string_not_equal(json_string_value(json_object_get(op, "device_id")),
                                        dev_a1);
        }
        json_decref(p);
}

/* --- concurrency ------------------------------------------------------------ */

struct pusher {
        const struct daemon *d;
        const char *token;
        int n;
        int done;
        volatile int finished;
};

static void *pusher_main(void *arg)
{
        struct pusher *p = arg;
        for (int i = 0; i < p->n; i++) {
                char id[32], body[512];
                snprintf(id, sizeof(id), "cc-%d", i);
                snprintf(body, sizeof(body),
                         "{\"ops\":[{\"op_id\":\"%s\",\"entity_type\":\"n\",\"entity_id\":\"%s\","
                         "\"op_type\":\"c\"}]}",
                         id, id);
                struct http_result r;
                if (http_post_json(p->d, "/api/v1/sync/push", p->token, body, &r) == 0) {
                        if (r.status == 200)
                                p->done++;
                        http_result_free(&r);
                }
        }
        __atomic_store_n(&p->finished, 1, __ATOMIC_SEQ_CST);
        return NULL;
}

static void test_paging_during_pushes(void **state)
{
        (void)state;
        char tok1[65], tok2[65], tok3[65], pw[64];
        new_user("cecil", pw);
        assert_int_equal(harness_pair(&D, "cecil", pw, "vault-cc", tok1, NULL), 200);
        assert_int_equal(harness_pair(&D, "cecil", pw, "vault-cc", tok2, NULL), 200);
        assert_int_equal(harness_pair(&D, "cecil", pw, "vault-cc", tok3, NULL), 200);
        harness_note_secret(tok1);
        harness_note_secret(tok2);
        harness_note_secret(tok3);

        struct pusher p1 = {&D, tok1, 120, 0, 0}, p2 = {&D, tok2, 120, 0, 0};
        pthread_t t1, t2;
        pthread_create(&t1, NULL, pusher_main, &p1);
        pthread_create(&t2, NULL, pusher_main, &p2);

        /* Page with small pages while the pushes run: every op is seen
         * once, in increasing order, and nothing is skipped. */
        long long since = 0, seen = 0, last = 0;
        struct harness_deadline dl = harness_deadline_in(120000);
        for (;;) {
                bool pushers_done = __atomic_load_n(&p1.finished, __ATOMIC_SEQ_CST) &&
                                    __atomic_load_n(&p2.finished, __ATOMIC_SEQ_CST);
                json_t *p = pull(&D, tok3, since, 5);
                size_t i;
                json_t *op;
                json_array_foreach(json_object_get(p, "ops"), i, op)
                {
                        long long seq = json_integer_value(json_object_get(op, "server_sequence"));
                        assert_true(seq > last);
                        last = seq;
                        seen++;
                }
                since = json_integer_value(json_object_get(p, "page_last_sequence"));
                bool more = json_is_true(json_object_get(p, "has_more"));
                json_decref(p);
                if (!more && pushers_done)
                        break; /* read after the last push finished: complete */
                if (!more && !harness_pause(&dl))
                        fail_msg("pushes did not finish");
        }
        pthread_join(t1, NULL);
        pthread_join(t2, NULL);
        /* cc-N op ids collide between the two pushers (same scope): each
         * id is stored once, so 120 distinct ops, each seen exactly once. */
        assert_int_equal(p1.done, 120);
        assert_int_equal(p2.done, 120);
        assert_int_equal(seen, 120);
        assert_int_equal(count_ops("WHERE vault_id='vault-cc'"), 120);
}

/* --- long poll -------------------------------------------------------------- */

/*
 * A long poll runs in its own thread.  Tests wait until the daemon holds it
 * (harness_wait_pulls) before they act, and tell what ended it from its
 * answer: the pushed op is in it, or the status says the device is gone.
 * None asserts how long anything took, except that a poll is not answered
 * before its own deadline.
 */
struct waiter {
        const struct daemon *d;
        const char *token;
        long long since;
        int wait;
        long status;
        size_t n_ops;
        char first_op[64]; /* op_id of the first op answered */
        uint64_t took_ms;
};

static void *waiter_main(void *arg)
{
        struct waiter *w = arg;
        char body[128];
        struct http_result r;
        uint64_t t0 = harness_now_ms();

        snprintf(body, sizeof(body), "{\"since_sequence\":%lld,\"wait_seconds\":%d}", w->since,
                 w->wait);
        if (http_post_json(w->d, "/api/v1/sync/pull", w->token, body, &r) == 0) {
                json_t *ops = json_object_get(r.json, "ops");
                w->status = r.status;
                w->n_ops = json_array_size(ops);
                const char *id =
                        json_string_value(json_object_get(json_array_get(ops, 0), "op_id"));
                snprintf(w->first_op, sizeof(w->first_op), "%s", id ? id : "");
                http_result_free(&r);
        }
        w->took_ms = harness_now_ms() - t0;
        return NULL;
}

static long long scope_seq(const char *token)
{
        json_t *p = pull(&D, token, 0, 1);
        long long s = json_integer_value(json_object_get(p, "server_sequence"));
        json_decref(p);
        return s;
}

/* Start w in t and wait until the daemon holds n polls. */
static void start_waiter(const struct daemon *d, struct waiter *w, pthread_t *t, unsigned n)
{
        assert_int_equal(pthread_create(t, NULL, waiter_main, w), 0);
        if (harness_wait_pulls(d, n, 30000) < 0)
                fail_msg("the daemon does not hold %u long polls", n);
}

static void test_longpoll_timeout(void **state)
{
        (void)state;
        struct waiter w = {&D, tok_a1, scope_seq(tok_a1), 1, 0, 0, "", 0};
        waiter_main(&w);
        assert_int_equal(w.status, 200);
        assert_int_equal(w.n_ops, 0);
        /* Held until its deadline, never answered early. */
        assert_true(w.took_ms >= 990); /* whole milliseconds on both ends */
}

static void test_longpoll_wakeup(void **state)
{
        (void)state;
        struct waiter w = {&D, tok_a2, scope_seq(tok_a2), 60, 0, 0, "", 0};
        pthread_t t;
        start_waiter(&D, &w, &t, 1);
        json_decref(push_one(&D, tok_a1, "lp-wake", "lp/1", "create", 0));
        /* Woken by the push (its op is the answer), not by the deadline. */
        harness_join(t, 50000);
        assert_int_equal(w.status, 200);
        assert_int_equal(w.n_ops, 1);
        assert_string_equal(w.first_op, "lp-wake");
}

static void test_longpoll_no_cross_scope(void **state)
{
        (void)state;
        struct waiter w = {&D, tok_av, scope_seq(tok_av), 3, 0, 0, "", 0};
        pthread_t t;
        start_waiter(&D, &w, &t, 1);
        json_decref(push_one(&D, tok_a1, "lp-other", "lp/2", "create", 0));
        json_decref(push_one(&D, tok_dave, "lp-other", "lp/2", "create", 0));
        harness_join(t, 60000);
        assert_int_equal(w.status, 200);
        assert_int_equal(w.n_ops, 0);
        /* Pushes to other vaults and users did not answer it early. */
        assert_true(w.took_ms >= 2990);
}

static void test_longpoll_many_waiters(void **state)
{
        (void)state;
        enum { N = 120 };
        struct waiter *w = calloc(N, sizeof(*w));
        pthread_t *t = calloc(N, sizeof(*t));
        long long since = scope_seq(tok_a2);

        for (int i = 0; i < N; i++) {
                w[i] = (struct waiter){&D, tok_a2, since, 60, 0, 0, "", 0};
                assert_int_equal(pthread_create(&t[i], NULL, waiter_main, &w[i]), 0);
        }
        assert_true(harness_wait_pulls(&D, N, 60000) >= N);
        /* Held polls occupy no worker: other requests are served while all
         * of them are still held. */
        struct http_result r;
        assert_int_equal(http_get(&D, "/livez", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        json_t *p = pull(&D, tok_a1, 0, 1);
        json_decref(p);
        assert_true(harness_wait_pulls(&D, N, 0) >= N);

        json_decref(push_one(&D, tok_a1, "lp-many", "lp/3", "create", 0));
        for (int i = 0; i < N; i++) {
                harness_join(t[i], 50000);
                assert_int_equal(w[i].status, 200);
                assert_int_equal(w[i].n_ops, 1);
                assert_string_equal(w[i].first_op, "lp-many");
        }
        free(w);
        free(t);
}

static void test_longpoll_revoked_device(void **state)
{
        (void)state;
        char tok[65], dev[29], body[200], tok_other[65], pw[64];
        new_user("lara", pw);
        assert_int_equal(harness_pair(&D, "lara", pw, "vault-lpr", tok_other, NULL), 200);
        harness_note_secret(tok_other);
        assert_int_equal(harness_pair(&D, "lara", pw, "vault-lpr", tok, dev), 200);
        harness_note_secret(tok);
        struct waiter w = {&D, tok, 0, 60, 0, 0, "", 0};
        pthread_t t;
        start_waiter(&D, &w, &t, 1);
        snprintf(body, sizeof(body), "{\"device_id\":\"%s\",\"password\":\"%s\"}", dev, pw);
        struct http_result r = post(&D, "/api/client/revoke-device", tok_other, body);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        /* Woken by the revocation, long before its deadline. */
        harness_join(t, 50000);
        assert_int_equal(w.status, 401);
}

/* --- rate limits ------------------------------------------------------------ */

static void test_rate_limit(void **state)
{
        struct daemon d = {0};
        (void)state;
        harness_set_unique_client_ips(false);
        assert_int_equal(harness_start(&d, NULL), 0);
        assert_int_equal(
                harness_add_user(&d, "rl", "rl@example.com", "rl-password-1", true, false, NULL),
                0);
        for (int i = 0; i < 5; i++) {
                struct http_result r;
                assert_int_equal(http_post_json(&d, "/api/client/pair", NULL,
                                                "{\"login\":\"rl\",\"password\":\"wrong\","
                                                "\"vault_id\":\"v\"}",
                                                &r),
                                 0);
                assert_int_equal(r.status, 401);
                http_result_free(&r);
        }
        struct http_result r;
        /* Even the right password is refused now. */
        assert_int_equal(http_post_json(&d, "/api/client/pair", NULL,
                                        "{\"login\":\"rl\",\"password\":\"rl-password-1\","
                                        "\"vault_id\":\"v\"}",
                                        &r),
                         0);
        assert_int_equal(r.status, 429);
        assert_string_equal(http_result_code(&r), "rate_limited");
        char *ra = http_result_header(&r, "Retry-After");
        assert_non_null(ra);
        assert_true(atoi(ra) >= 1 && atoi(ra) <= 900);
        free(ra);
        http_result_free(&r);
        /* Other rules have their own budget. */
        assert_int_equal(http_post_json(&d, "/api/auth/test", NULL,
                                        "{\"username\":\"rl\",\"password\":\"rl-password-1\"}", &r),
                         0);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        long long n = 0;
        assert_int_equal(harness_db_wait_int(&d,
                                             "SELECT count(*) FROM server_audit_log WHERE "
                                             "event_type='rate_limit_exceeded'",
                                             1, 5000, &n),
                         0);
        assert_true(n >= 1);

        /* A flood of unknown tokens is answered every time, but audited only
         * a few times a minute per client (no write amplification). */
        for (int i = 0; i < 20; i++) {
                assert_int_equal(http_get(&d, "/api/client/me",
                                          "1111111111111111111111111111111111111111111111111111111"
                                          "111111111",
                                          &r),
                                 0);
                assert_int_equal(r.status, 401);
                http_result_free(&r);
        }
        assert_int_equal(harness_db_wait_int(&d,
                                             "SELECT count(*) FROM server_audit_log WHERE "
                                             "event_type='device_auth_failed' AND "
                                             "message='invalid API key'",
                                             5, 5000, &n),
                         0);
        assert_int_equal(n, 5);
        harness_destroy(&d);
}

/* --- restarts, crashes, shutdown ------------------------------------------ */

/* server_meta's count of ops, and the real one. */
static void expect_ops_count(const struct daemon *d, long long n)
{
        assert_int_equal(
                harness_sql_int(d, "SELECT value FROM server_meta WHERE key = 'ops_count'"), n);
        assert_int_equal(harness_sql_int(d, "SELECT count(*) FROM server_ops"), n);
}

/* The trigger that counted each inserted op up to schema version 8. */
static void restore_ops_insert_trigger(const struct daemon *d)
{
        assert_int_equal(harness_db_exec(d, harness_on_pg()
                                                    ? "DROP TRIGGER server_ops_count ON server_ops;"
                                                      "CREATE TRIGGER server_ops_count AFTER"
                                                      " INSERT OR DELETE ON server_ops FOR EACH"
                                                      " ROW EXECUTE FUNCTION verstak_count_ops()"
                                                    : "CREATE TRIGGER server_ops_count_insert"
                                                      " AFTER INSERT ON server_ops BEGIN UPDATE"
                                                      " server_meta SET value = value + 1 WHERE"
                                                      " key = 'ops_count'; END"),
                         0);
}

/* A database of schema version 7 (conflicts looked up by the four text
 * columns) upgrades in place: its ops get their entity keys and still
 * conflict; on either back end. */
static void test_entity_keys_upgrade(void **state)
{
        struct daemon d = {0};
        char tok1[65], tok2[65];
        (void)state;

        start_with_device(&d, "ek", tok1, NULL);
        assert_int_equal(harness_pair(&d, "ek", "ek-password-1", "v", tok2, NULL), 200);
        json_decref(push_one(&d, tok1, "ek-1", "e/1", "create", 0));
        json_decref(push_one(&d, tok1, "ek-2", "e/1", "update", 0));
        json_decref(push_one(&d, tok1, "ek-3", "e/2", "update", 0));
        assert_int_equal(harness_stop(&d, SIGTERM, 25, NULL), 0);

        /* Back to version 7, as that build left it. */
        restore_ops_insert_trigger(&d);
        assert_int_equal(harness_db_exec(&d, "DROP INDEX idx_server_ops_entity_key"), 0);
        assert_int_equal(harness_db_exec(&d, "ALTER TABLE server_ops DROP COLUMN entity_key"), 0);
        assert_int_equal(harness_db_exec(&d, "CREATE INDEX idx_server_ops_scope_entity ON"
                                             " server_ops(user_id, vault_id, entity_type,"
                                             " entity_id, server_sequence)"),
                         0);
        harness_set_schema_version(&d, 7);

        assert_int_equal(harness_start(&d, NULL), 0);
        assert_int_equal(harness_schema_version(&d), 9);
        assert_int_equal(harness_sql_int(&d, "SELECT count(*) FROM server_ops"
                                             " WHERE entity_key = 0"),
                         0);
        assert_int_equal(harness_sql_int(&d, "SELECT count(DISTINCT entity_key) FROM server_ops"),
                         2);
        json_t *a = push_one(&d, tok2, "ek-4", "e/1", "update", 1);
        json_t *cf = json_object_get(a, "conflicts");
        assert_int_equal(json_array_size(cf), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(cf, 0), "op_id")),
                            "ek-2");
        json_decref(a);
        expect_ops_count(&d, 4);
        harness_destroy(&d);
}

/* A database of schema version 8 (ops counted by a trigger per inserted
 * row) upgrades in place: the trigger is gone, the count is taken afresh,
 * and pushes keep it, counting only the ops they store; on either back
 * end. */
static void test_ops_count_upgrade(void **state)
{
        struct daemon d = {0};
        char tok[65];
        (void)state;

        start_with_device(&d, "oc", tok, NULL);
        json_decref(push_one(&d, tok, "oc-1", "e/1", "create", 0));
        json_decref(push_one(&d, tok, "oc-2", "e/1", "update", 0));
        expect_ops_count(&d, 2);
        assert_int_equal(harness_stop(&d, SIGTERM, 25, NULL), 0);

        /* Back to version 8, as that build left it, with a count gone
         * wrong (as one inserted by hand without it would leave it). */
        restore_ops_insert_trigger(&d);
        assert_int_equal(harness_db_exec(&d, "UPDATE server_meta SET value = 40"
                                             " WHERE key = 'ops_count'"),
                         0);
        harness_set_schema_version(&d, 8);

        assert_int_equal(harness_start(&d, NULL), 0);
        assert_int_equal(harness_schema_version(&d), 9);
        expect_ops_count(&d, 2);
        assert_int_equal(harness_sql_int(&d, harness_on_pg()
                                                     ? "SELECT count(*) FROM"
                                                       " information_schema.triggers WHERE"
                                                       " event_object_table = 'server_ops' AND"
                                                       " event_manipulation = 'INSERT'"
                                                     : "SELECT count(*) FROM sqlite_master"
                                                       " WHERE type = 'trigger' AND"
                                                       " tbl_name = 'server_ops' AND"
                                                       " sql LIKE '%%AFTER INSERT%%'"),
                         0);
        /* One new op, one already stored (skipped): one more. */
        char *a = op_json("oc-3", "note", "e/2", "create", "{}", 0),
             *b = op_json("oc-1", "note", "e/1", "create", "{}", 0), body[1024];
        snprintf(body, sizeof(body), "{\"ops\":[%s,%s]}", a, b);
        free(a);
        free(b);
        struct http_result r = post(&d, "/api/v1/sync/push", tok, body);
        assert_int_equal(r.status, 200);
        assert_int_equal(json_integer_value(json_object_get(r.json, "count")), 1);
        http_result_free(&r);
        expect_ops_count(&d, 3);
        /* A push that stores nothing leaves it. */
        json_decref(push_one(&d, tok, "oc-2", "e/1", "update", 0));
        expect_ops_count(&d, 3);
        harness_destroy(&d);
}

static void test_restart_persistence(void **state)
{
        struct daemon d = {0};
        char tok[65];
        (void)state;

        start_with_device(&d, "pp", tok, NULL);
        json_decref(push_one(&d, tok, "persist-1", "p/1", "create", 0));
        json_decref(push_one(&d, tok, "persist-2", "p/1", "update", 0));
        assert_int_equal(harness_stop(&d, SIGTERM, 25, NULL), 0);
        assert_int_equal(harness_start(&d, NULL), 0);
        json_t *p = pull(&d, tok, 0, 0);
        assert_int_equal(json_array_size(json_object_get(p, "ops")), 2);
        long long last = json_integer_value(json_object_get(p, "server_sequence"));
        json_decref(p);
        json_t *a = push_one(&d, tok, "persist-3", "p/1", "update", 0);
        json_decref(a);
        p = pull(&d, tok, last, 0);
        assert_int_equal(json_array_size(json_object_get(p, "ops")), 1);
        assert_true(json_integer_value(json_object_get(json_array_get(json_object_get(p, "ops"), 0),
                                                       "server_sequence")) > last);
        json_decref(p);
        harness_destroy(&d);
}

/* PostgreSQL only: the database drops every connection of the daemon
 * (a server restart, a failover, pg_terminate_backend); the daemon
 * reconnects under its seccomp filter, through the unix socket, and
 * serves on. */
static void test_pg_reconnect(void **state)
{
        struct daemon d = {0};
        struct http_result r;
        char tok[65];
        long status = 0;
        (void)state;

        if (!harness_on_pg())
                skip();
        start_with_device(&d, "rc", tok, NULL);
        json_decref(push_one(&d, tok, "rc-1", "r/1", "create", 0));
        assert_int_equal(harness_db_exec(&d, "SELECT pg_terminate_backend(pid) FROM "
                                             "pg_stat_activity WHERE datname = current_database() "
                                             "AND pid <> pg_backend_pid()"),
                         0);
        struct harness_deadline dl = harness_deadline_in(15000);
        do {
                if (http_get(&d, "/readyz", NULL, &r) == 0) {
                        status = r.status;
                        http_result_free(&r);
                }
        } while (status != 200 && harness_pause(&dl));
        assert_int_equal(status, 200);
        json_decref(push_one(&d, tok, "rc-2", "r/1", "update", 0));
        json_t *p = pull(&d, tok, 0, 0);
        assert_int_equal(json_array_size(json_object_get(p, "ops")), 2);
        json_decref(p);
        harness_destroy(&d);
}

struct crash_pusher {
        const struct daemon *d;
        const char *token;
        char acked[4000][24];
        int n_acked;
        volatile int stop;
};

static void *crash_pusher_main(void *arg)
{
        struct crash_pusher *p = arg;
        for (int i = 0; !p->stop && i < 4000; i++) {
                char id[24], body[256];
                snprintf(id, sizeof(id), "k-%d", i);
                snprintf(body, sizeof(body),
                         "{\"ops\":[{\"op_id\":\"%s\",\"entity_type\":\"n\",\"entity_id\":\"e\","
                         "\"op_type\":\"c\"}]}",
                         id);
                struct http_result r;
                if (http_post_json(p->d, "/api/v1/sync/push", p->token, body, &r) < 0)
                        break;
                if (r.status == 200 && json_array_size(json_object_get(r.json, "accepted")) == 1) {
                        memcpy(p->acked[p->n_acked], id, sizeof(id));
                        __atomic_store_n(&p->n_acked, p->n_acked + 1, __ATOMIC_RELEASE);
                }
                http_result_free(&r);
        }
        return NULL;
}

static void test_crash_during_pushes(void **state)
{
        struct daemon d = {0};
        char tok[65];
        static struct crash_pusher p;
        pthread_t t;
        int status;
        (void)state;

        start_with_device(&d, "cr", tok, NULL);
        memset(&p, 0, sizeof(p));
        p.d = &d;
        p.token = tok;
        pthread_create(&t, NULL, crash_pusher_main, &p);
        struct harness_deadline dl = harness_deadline_in(60000);
        while (__atomic_load_n(&p.n_acked, __ATOMIC_ACQUIRE) < 40)
                if (!harness_pause(&dl))
                        fail_msg("only %d pushes acknowledged", p.n_acked);
        kill(d.pid, SIGKILL);
        pthread_join(t, NULL);
        assert_int_equal(harness_wait(&d, 10, &status), 0);
        assert_true(WIFSIGNALED(status));

        assert_int_equal(harness_start(&d, NULL), 0);
        /* Every acknowledged push is there, sequences strictly increase. */
        char *seen = calloc(4000, 1);
        long long since = 0, last = 0;
        int n = 0;
        for (;;) {
                json_t *pg = pull(&d, tok, since, 0);
                size_t i;
                json_t *op;
                json_array_foreach(json_object_get(pg, "ops"), i, op)
                {
                        long long seq = json_integer_value(json_object_get(op, "server_sequence"));
                        assert_true(seq > last);
                        last = seq;
                        int k = atoi(json_string_value(json_object_get(op, "op_id")) + 2);
                        seen[k] = 1;
                        n++;
                }
                bool more = json_is_true(json_object_get(pg, "has_more"));
                since = json_integer_value(json_object_get(pg, "page_last_sequence"));
                json_decref(pg);
                if (!more)
                        break;
        }
        for (int i = 0; i < p.n_acked; i++)
                assert_true(seen[atoi(p.acked[i] + 2)]);
        assert_true(n >= p.n_acked);
        /* And new pushes continue above the old sequences. */
        json_decref(push_one(&d, tok, "after-crash", "e", "c", 0));
        json_t *pg = pull(&d, tok, last, 0);
        assert_int_equal(json_array_size(json_object_get(pg, "ops")), 1);
        json_decref(pg);
        free(seen);
        harness_destroy(&d);
}

static void test_shutdown_releases_longpoll(void **state)
{
        struct daemon d = {0};
        char tok[65];
        int status = 0;
        (void)state;

        struct daemon_options o = {.notify = true};
        assert_int_equal(harness_start(&d, &o), 0);
        assert_int_equal(
                harness_add_user(&d, "sd", "sd@example.com", "sd-password-1", true, false, NULL),
                0);
        assert_int_equal(harness_pair(&d, "sd", "sd-password-1", "v", tok, NULL), 200);
        struct waiter w = {&d, tok, 0, 60, 0, 0, "", 0};
        pthread_t t;
        start_waiter(&d, &w, &t, 1);
        /* Shutdown answers the held poll (long before its deadline) and
         * the daemon exits cleanly. */
        assert_int_equal(harness_stop(&d, SIGTERM, 25, &status), 0);
        harness_join(t, 50000);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_int_equal(w.status, 200);
        assert_int_equal(w.n_ops, 0);
        harness_destroy(&d);
}

/* --- the existing server's data directory ----------------------------------- */

static json_t *manifest;

static const char *manifest_token(const char *device)
{
        return json_string_value(json_object_get(
                json_object_get(json_object_get(manifest, "devices"), device), "device_token"));
}

static void test_legacy_data(void **state)
{
        struct daemon d = {0};
        char path[4096];
        (void)state;

        snprintf(path, sizeof(path), "%s/tests/fixtures/legacy-data/manifest.json",
                 harness_source_root());
        manifest = json_load_file(path, 0, NULL);
        assert_non_null(manifest);
        snprintf(path, sizeof(path), "%s/tests/fixtures/legacy-data/data", harness_source_root());
        struct daemon_options o = {.copy_data_from = path};
        assert_int_equal(harness_prepare(&d, &o), 0);
        /* The fixture was written on one day and retention measures ages
         * from now: date its idempotency record today, as a deployment
         * upgraded right after its last push would have it. */
        assert_int_equal(harness_db_exec(&d, "UPDATE server_idempotency_keys SET created_at = "
                                             "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"),
                         0);
        assert_int_equal(harness_start(&d, &o), 0);

        /* Identical pulls from zero, per vault. */
        static const char *const vaults[][2] = {{"vault-a", "alice-laptop"},
                                                {"vault-b", "alice-notes"}};
        for (size_t i = 0; i < 2; i++) {
                json_t *expect =
                        json_object_get(json_object_get(manifest, "pull_from_zero"), vaults[i][0]);
                json_t *got = pull(&d, manifest_token(vaults[i][1]), 0, 0);
                if (!json_equal(expect, got)) {
                        char *g = json_dumps(got, 0);
                        fail_msg("pull of %s differs: %s", vaults[i][0], g);
                }
                json_decref(got);
        }
        /* Old tokens: alice-desktop works; the revoked and blocked cases. */
        struct http_result r;
        assert_int_equal(http_get(&d, "/api/client/me", manifest_token("alice-desktop"), &r), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(json_string_value(json_object_get(r.json, "device_id")),
                            "dev_c74f3f8487b93685c72d9094");
        http_result_free(&r);
        assert_int_equal(http_get(&d, "/api/client/me", manifest_token("alice-old"), &r), 0);
        expect_error(r, 401, "unauthorized", "device revoked");
        assert_int_equal(http_get(&d, "/api/client/me", manifest_token("bob-phone"), &r), 0);
        expect_error(r, 403, "forbidden", "user blocked");

        /* Old bcrypt passwords: alice pairs (and is rehashed), bob and
         * carol get their states, by username and mixed-case e-mail. */
        char tok[65];
        assert_int_equal(harness_pair(&d, "alice", "alice-password-1", "vault-a", tok, NULL), 200);
        long long n = 0;
        assert_int_equal(harness_db_int(&d,
                                        "SELECT count(*) FROM server_users WHERE "
                                        "username='alice' AND password_hash LIKE '$argon2id$%'",
                                        &n),
                         0);
        assert_int_equal(n, 1);
        assert_int_equal(harness_pair(&d, "alice", "alice-password-1", "vault-a", NULL, NULL), 200);
        assert_int_equal(harness_pair(&d, "bob", "bob-password-22", "vault-a", NULL, NULL), 403);
        assert_int_equal(
                harness_pair(&d, "Carol@Example.com", "carol-password-333", "v", NULL, NULL), 403);
        assert_int_equal(harness_pair(&d, "bob", "not-bobs", "vault-a", NULL, NULL), 401);

        /* New pushes continue the sequence (the fixture ended at 8). */
        json_t *a = push_one(&d, tok, "after-migration", "notes/new.md", "create", 6);
        assert_int_equal(json_integer_value(json_object_get(a, "count")), 1);
        json_decref(a);
        json_t *p = pull(&d, tok, 6, 0);
        json_t *op = json_array_get(json_object_get(p, "ops"), 0);
        assert_int_equal(json_integer_value(json_object_get(op, "server_sequence")), 9);
        json_decref(p);
        /* The earlier server's ops conflict as their own would: found by
         * the entity keys the upgrade computed for them. */
        a = push_one(&d, tok, "after-migration-2", "notes/today.md", "update", 1);
        json_t *cf = json_object_get(a, "conflicts");
        assert_int_equal(json_array_size(cf), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(cf, 0), "op_id")),
                            "fx-op-002");
        assert_string_equal(json_string_value(json_object_get(json_array_get(cf, 1), "op_id")),
                            "fx-op-004");
        json_decref(a);
        /* The old idempotency record still replays byte for byte. */
        struct http_result rep = post(&d, "/api/v1/sync/push", manifest_token("alice-laptop"),
                                      "{\"idempotency_key\":\"fx-push-1\",\"ops\":[]}");
        assert_string_equal(rep.body, "{\"accepted\":[\"fx-op-001\",\"fx-op-002\",\"fx-op-003\"],"
                                      "\"conflicts\":null,\"count\":3}");
        http_result_free(&rep);

        /* The administrator from config.yml was imported with its bcrypt
         * hash; every row survived the migration (8 ops, and 2 pushed
         * here). */
        assert_int_equal(harness_db_int(&d,
                                        "SELECT count(*) FROM server_admins WHERE "
                                        "username='admin' AND password_hash LIKE '$2a$10$%'",
                                        &n),
                         0);
        assert_int_equal(n, 1);
        assert_int_equal(harness_db_int(&d, "SELECT count(*) FROM server_ops", &n), 0);
        assert_int_equal(n, 10);
        assert_int_equal(harness_db_int(&d, "PRAGMA user_version", &n), 0);
        assert_int_equal(n, 9);
        /* Counted afresh by migration 9, then by the two pushes. */
        expect_ops_count(&d, 10);
        json_decref(manifest);
        harness_destroy(&d);
}

int main(void)
{
        const struct CMUnitTest shared[] = {
                cmocka_unit_test(test_pair_success),
                cmocka_unit_test(test_pair_errors),
                cmocka_unit_test(test_pair_credentials),
                cmocka_unit_test(test_device_auth_errors),
                cmocka_unit_test(test_device_register),
                cmocka_unit_test(test_revoke),
                cmocka_unit_test(test_blocked_user),
                cmocka_unit_test(test_push_validation),
                cmocka_unit_test(test_push_pull_roundtrip),
                cmocka_unit_test(test_duplicates_and_scope),
                cmocka_unit_test(test_idempotency),
                cmocka_unit_test(test_conflicts),
                cmocka_unit_test(test_pull_paging_and_limits),
                cmocka_unit_test(test_pull_streamed_pieces),
                cmocka_unit_test(test_isolation),
                cmocka_unit_test(test_paging_during_pushes),
                cmocka_unit_test(test_longpoll_timeout),
                cmocka_unit_test(test_longpoll_wakeup),
                cmocka_unit_test(test_longpoll_no_cross_scope),
                cmocka_unit_test(test_longpoll_many_waiters),
                cmocka_unit_test(test_longpoll_revoked_device),
                /* Last: its 800 kB of ops would fill the pages others read. */
                cmocka_unit_test(test_push_large_tree),
        };
        const struct CMUnitTest own[] = {
                cmocka_unit_test(test_rate_limit),
                cmocka_unit_test(test_restart_persistence),
                cmocka_unit_test(test_pg_reconnect),
                cmocka_unit_test(test_crash_during_pushes),
                cmocka_unit_test(test_shutdown_releases_longpoll),
                cmocka_unit_test(test_legacy_data),
                cmocka_unit_test(test_entity_keys_upgrade),
                cmocka_unit_test(test_ops_count_upgrade),
        };
        int failed =
                cmocka_run_group_tests_name("sync-shared", shared, setup_shared, teardown_shared);
        failed += cmocka_run_group_tests_name("sync", own, NULL, NULL);
        return failed;
}
