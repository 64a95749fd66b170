/* SPDX-License-Identifier: MIT */
/*
 * Integration: the administrator's JSON API under /admin/api/ and the
 * password-reset page, against the real binary (api.md §6, §8) — admin
 * login (bootstrap and an old bcrypt admin from config.yml), cookies,
 * sessions that user sessions cannot stand in for, logout, CSRF, the
 * read-only SMTP view, the test e-mail (outbox, a real SMTP server on
 * loopback, a refusing one), and /reset from e-mail to new password.
 * Requests come through a trusted proxy, each from its own address.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define PUBLIC_URL "https://sync.example.test"
#define JSON       "application/json"
#define FORM       "application/x-www-form-urlencoded"

#define ADMIN_USER     "boss"
#define ADMIN_PASSWORD "boss-Pa55-phrase"
/* An administrator written by the existing server: bcrypt in config.yml. */
#define LEGACY_USER     "legacy"
#define LEGACY_PASSWORD "fixture-admin-pass"
#define LEGACY_HASH     "$2a$10$FPIhr5Xkae4fisEO79O23OJSXaNcaEVIAfQCVY/n26CM3LOOOl9SO"
#define USER_PASSWORD   "user-Pa55-word"
#define SINK_USER       "sink-user"
#define SINK_PASSWORD   "sink-Smtp-Secret-7"
#define SENDER          "sync@example.test"

static const char config_a[] = "public_url: \"" PUBLIC_URL "\"\n"
                               "trusted_proxies: [\"127.0.0.1\"]\n"
                               "smtp:\n  from: " SENDER "\n"
                               "admin:\n"
                               "  - username: " LEGACY_USER "\n"
                               "    password_hash: \"" LEGACY_HASH "\"\n";

static struct daemon dA;

/* The shared administrator session of daemon A. */
struct admin_session {
        char token[80];
        char csrf[80];
        char cookie[256]; /* "Cookie: admin_session=…; csrf_token=…" */
        char csrf_header[128];
};
static struct admin_session boss;

/* --- plumbing ------------------------------------------------------------- */

static void assert_header(const struct http_result *r, const char *name, const char *value)
{
        char *v = http_result_header(r, name);
        assert_non_null(v);
        assert_string_equal(v, value);
        free(v);
}

static void write_file(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

/* Start d with config_yaml and the bootstrap administrator. */
static int start_daemon(struct daemon *d, const char *config_yaml)
{
        struct daemon_options o = {.config_yaml = config_yaml};
        static char pass_file[PATH_MAX + 32];
        static const char *args[] = {"--admin-user", ADMIN_USER, "--admin-pass-file", pass_file,
                                     NULL};
        int r = harness_prepare(d, &o);

        if (r < 0)
                return r;
        snprintf(pass_file, sizeof(pass_file), "%s/admin-pass", d->root);
        write_file(pass_file, ADMIN_PASSWORD "\n");
        o.extra_args = args;
        return harness_start(d, &o);
}

static void admin_login(const struct daemon *d, const char *user, const char *password,
                        const char *const *extra, struct http_result *r)
{
        json_t *body = json_pack("{s:s,s:s}", "username", user, "password", password);
        char *text = json_dumps(body, JSON_COMPACT);

        http_call(d, "POST", "/admin/api/login", NULL, JSON, text, extra, r);
        free(text);
        json_decref(body);
}

static void admin_session_from(const struct http_result *r, struct admin_session *s)
{
        char *sc = http_result_set_cookie(r, "admin_session");
        char *cc = http_result_set_cookie(r, "csrf_token");

        assert_non_null(sc);
        assert_non_null(cc);
        http_cookie_value(sc, s->token, sizeof(s->token));
        http_cookie_value(cc, s->csrf, sizeof(s->csrf));
        assert_int_equal(strlen(s->token), 64);
        assert_int_equal(strlen(s->csrf), 64);
        harness_note_secret(s->token);
        harness_note_secret(s->csrf);
        snprintf(s->cookie, sizeof(s->cookie), "Cookie: admin_session=%s; csrf_token=%s", s->token,
                 s->csrf);
        snprintf(s->csrf_header, sizeof(s->csrf_header), "X-CSRF-Token: %s", s->csrf);
        free(sc);
        free(cc);
}

static void admin_login_ok(const struct daemon *d, const char *user, const char *password,
                           struct admin_session *s)
{
        struct http_result r;

        admin_login(d, user, password, NULL, &r);
        if (r.status != 200)
                fprintf(stderr, "admin login %s: %ld %s\n", user, r.status, r.body);
        assert_int_equal(r.status, 200);
        admin_session_from(&r, s);
        http_result_free(&r);
}

static long get_status(const struct daemon *d, const char *path, const char *const *extra)
{
        struct http_result r;
        long st;

        http_call(d, "GET", path, NULL, NULL, NULL, extra, &r);
        st = r.status;
        http_result_free(&r);
        return st;
}

/* POST /admin/api/smtp/test {to} with the session's cookie and CSRF. */
static void smtp_test(const struct daemon *d, const struct admin_session *s, const char *to,
                      struct http_result *r)
{
        const char *h[] = {s->cookie, s->csrf_header, NULL};
        json_t *body = json_pack("{s:s}", "to", to);
        char *text = json_dumps(body, JSON_COMPACT);

        http_call(d, "POST", "/admin/api/smtp/test", NULL, JSON, text, h, r);
        free(text);
        json_decref(body);
}

static int group_setup(void **state)
{
        (void)state;
        signal(SIGPIPE, SIG_IGN);
        harness_set_unique_client_ips(true); /* each request its own client */
        harness_note_secret(ADMIN_PASSWORD);
        harness_note_secret(LEGACY_PASSWORD);
        harness_note_secret(USER_PASSWORD);
        harness_note_secret(SINK_PASSWORD);
        return start_daemon(&dA, config_a);
}

static int group_teardown(void **state)
{
        (void)state;
        harness_destroy(&dA);
        return 0;
}

/* --- login ---------------------------------------------------------------- */

static void test_login(void **state)
{
        struct http_result r;
        (void)state;

        admin_login(&dA, ADMIN_USER, ADMIN_PASSWORD, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(http_result_string(&r, "status"), "ok");
        assert_string_equal(http_result_string(&r, "username"), ADMIN_USER);
        assert_header(&r, "Cache-Control", "no-store");
        char *sc = http_result_set_cookie(&r, "admin_session");
        char *cc = http_result_set_cookie(&r, "csrf_token");
        assert_non_null(sc);
        assert_non_null(cc);
        assert_non_null(strstr(sc, "; Path=/admin;"));
        assert_non_null(strstr(sc, "; HttpOnly"));
        assert_non_null(strstr(sc, "; SameSite=Lax"));
        assert_null(strstr(sc, "Secure"));
        assert_non_null(strstr(cc, "; Path=/admin;"));
        assert_non_null(strstr(cc, "; SameSite=Strict"));
        assert_null(strstr(cc, "HttpOnly"));
        assert_null(http_result_set_cookie(&r, "user_session"));
        free(sc);
        free(cc);
        admin_session_from(&r, &boss);
        http_result_free(&r);
        /* Stored as hashes, in scope admin. */
        long long n = -1;
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM server_sessions WHERE scope = 'admin' AND token_hash = '%s'",
                 boss.token);
        assert_int_equal(harness_db_int(&dA, sql, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(harness_db_int(&dA,
                                        "SELECT count(*) FROM server_sessions WHERE scope = 'admin'"
                                        " AND julianday(expires_at) - julianday(created_at)"
                                        " BETWEEN 0.99 AND 1.01",
                                        &n),
                         0);
        assert_true(n >= 1);

        /* Over HTTPS (a trusted proxy says so): Secure. */
        const char *https[] = {"X-Forwarded-Proto: https", NULL};
        admin_login(&dA, ADMIN_USER, ADMIN_PASSWORD, https, &r);
        assert_int_equal(r.status, 200);
        sc = http_result_set_cookie(&r, "admin_session");
        cc = http_result_set_cookie(&r, "csrf_token");
        assert_non_null(strstr(sc, "; Secure"));
        assert_non_null(strstr(cc, "; Secure"));
        free(sc);
        free(cc);
        http_result_free(&r);

        /* Wrong password and unknown administrator: the same answer. */
        admin_login(&dA, ADMIN_USER, "wrong password", NULL, &r);
        http_assert_error(&r, 401, "unauthorized", "invalid credentials");
        assert_null(http_result_set_cookie(&r, "admin_session"));
        http_result_free(&r);
        admin_login(&dA, "nobody", ADMIN_PASSWORD, NULL, &r);
        http_assert_error(&r, 401, "unauthorized", "invalid credentials");
        http_result_free(&r);
        http_call(&dA, "POST", "/admin/api/login", NULL, JSON, "{\"username\":\"boss\"}", NULL, &r);
        http_assert_error(&r, 400, "invalid_request", NULL);
        http_result_free(&r);
        http_call(&dA, "POST", "/admin/api/login", NULL, JSON, "{\"password\":\"x\"}", NULL, &r);
        http_assert_error(&r, 400, "invalid_request", "username and password required");
        http_result_free(&r);
        /* The field specs of the shared sign-in: types and lengths. */
        http_call(&dA, "POST", "/admin/api/login", NULL, JSON,
                  "{\"username\":\"boss\",\"password\":7}", NULL, &r);
        http_assert_error(&r, 400, "invalid_json", "invalid JSON body");
        http_result_free(&r);
        char long_field[258];
        memset(long_field, 'p', 257);
        long_field[257] = '\0';
        admin_login(&dA, ADMIN_USER, long_field, NULL, &r);
        http_assert_error(&r, 400, "invalid_request", "field too long");
        http_result_free(&r);
        admin_login(&dA, long_field, ADMIN_PASSWORD, NULL, &r);
        http_assert_error(&r, 400, "invalid_request", "field too long");
        http_result_free(&r);
        /* A sync user is no administrator. */
        assert_int_equal(harness_add_user(&dA, "plain", "plain@example.test", USER_PASSWORD, true,
                                          false, NULL),
                         0);
        admin_login(&dA, "plain", USER_PASSWORD, NULL, &r);
        http_assert_error(&r, 401, "unauthorized", "invalid credentials");
        http_result_free(&r);
        /* Login CSRF. */
        const char *evil[] = {"Origin: https://evil.example", NULL};
        admin_login(&dA, ADMIN_USER, ADMIN_PASSWORD, evil, &r);
        http_assert_error(&r, 403, "csrf_invalid", NULL);
        http_result_free(&r);

        assert_int_equal(harness_db_int(&dA,
                                        "SELECT count(*) FROM server_audit_log"
                                        " WHERE event_type = 'admin_login_failed'",
                                        &n),
                         0);
        assert_true(n >= 3);
        assert_true(harness_wait_log(&dA, "Administrator 'boss': signed in", 2000));
}

static void test_legacy_bcrypt_admin(void **state)
{
        struct admin_session s;
        long long n = -1;
        (void)state;

        assert_int_equal(
                harness_db_int(&dA,
                               "SELECT count(*) FROM server_admins WHERE username = '" LEGACY_USER
                               "' AND password_hash LIKE '$2a$%'",
                               &n),
                0);
        assert_int_equal(n, 1);
        admin_login_ok(&dA, LEGACY_USER, LEGACY_PASSWORD, &s);
        assert_int_equal(
                harness_db_int(&dA,
                               "SELECT count(*) FROM server_admins WHERE username = '" LEGACY_USER
                               "' AND password_hash LIKE '$argon2id$%'",
                               &n),
                0);
        assert_int_equal(n, 1);
        /* And the new hash works. */
        admin_login_ok(&dA, LEGACY_USER, LEGACY_PASSWORD, &s);
        struct http_result r;
        admin_login(&dA, LEGACY_USER, "fixture-admin-pas", NULL, &r);
        assert_int_equal(r.status, 401);
        http_result_free(&r);
}

/* --- sessions ------------------------------------------------------------- */

static void test_me_and_user_sessions(void **state)
{
        struct http_result r;
        (void)state;

        http_call(&dA, "GET", "/admin/api/me", NULL, NULL, NULL, NULL, &r);
        http_assert_error(&r, 401, "unauthorized", "login required");
        http_result_free(&r);
        const char *h[] = {boss.cookie, NULL};
        http_call(&dA, "GET", "/admin/api/me", NULL, NULL, NULL, h, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(http_result_string(&r, "username"), ADMIN_USER);
        assert_header(&r, "Cache-Control", "no-store");
        http_result_free(&r);

        /* A user session in any form grants nothing here. */
        assert_int_equal(harness_add_user(&dA, "visitor", "visitor@example.test", USER_PASSWORD,
                                          true, false, NULL),
                         0);
        http_call(&dA, "POST", "/api/v1/auth/login", NULL, JSON,
                  "{\"username\":\"visitor\",\"password\":\"" USER_PASSWORD "\"}", NULL, &r);
        assert_int_equal(r.status, 200);
        char token[80], c1[200], c2[200], c3[200];
        snprintf(token, sizeof(token), "%s", http_result_string(&r, "token"));
        harness_note_secret(token);
        http_result_free(&r);
        snprintf(c1, sizeof(c1), "Cookie: user_session=%s", token);
        snprintf(c2, sizeof(c2), "Cookie: admin_session=%s", token);
        snprintf(c3, sizeof(c3), "Authorization: Bearer %s", token);
        const char *paths[] = {"/admin/api/me", "/admin/api/smtp"};
        for (size_t i = 0; i < 2; i++) {
                const char *as_user[] = {c1, NULL}, *as_admin[] = {c2, NULL},
                           *bearer[] = {c3, NULL};
                assert_int_equal(get_status(&dA, paths[i], as_user), 401);
                assert_int_equal(get_status(&dA, paths[i], as_admin), 401);
                assert_int_equal(get_status(&dA, paths[i], bearer), 401);
        }
        /* The user session itself still works where it belongs. */
        const char *bearer[] = {c3, NULL};
        assert_int_equal(get_status(&dA, "/api/v1/user/devices", bearer), 200);
        /* And an admin session is no user session. */
        char ac[200];
        snprintf(ac, sizeof(ac), "Cookie: user_session=%s", boss.token);
        const char *admin_as_user[] = {ac, NULL};
        assert_int_equal(get_status(&dA, "/api/v1/user/devices", admin_as_user), 401);

        /* Expired sessions end. */
        struct admin_session s;
        admin_login_ok(&dA, ADMIN_USER, ADMIN_PASSWORD, &s);
        const char *hs[] = {s.cookie, NULL};
        assert_int_equal(get_status(&dA, "/admin/api/me", hs), 200);
        assert_int_equal(harness_db_exec(&dA, "UPDATE server_sessions SET expires_at ="
                                              " '2001-01-01T00:00:00Z' WHERE scope = 'admin'"
                                              " AND created_at = (SELECT max(created_at) FROM"
                                              " server_sessions WHERE scope = 'admin')"),
                         0);
        http_call(&dA, "GET", "/admin/api/me", NULL, NULL, NULL, hs, &r);
        assert_int_equal(r.status, 401);
        http_result_free(&r);
        /* (Our shared session may have been the newest one: renew it.) */
        admin_login_ok(&dA, ADMIN_USER, ADMIN_PASSWORD, &boss);
}

static void test_logout(void **state)
{
        struct admin_session s;
        struct http_result r;
        (void)state;

        admin_login_ok(&dA, ADMIN_USER, ADMIN_PASSWORD, &s);
        const char *no_csrf[] = {s.cookie, NULL};
        http_call(&dA, "POST", "/admin/api/logout", NULL, JSON, "{}", no_csrf, &r);
        http_assert_error(&r, 403, "csrf_invalid", NULL);
        http_result_free(&r);
        assert_int_equal(get_status(&dA, "/admin/api/me", no_csrf), 200);

        const char *ok[] = {s.cookie, s.csrf_header, NULL};
        http_call(&dA, "POST", "/admin/api/logout", NULL, JSON, "{}", ok, &r);
        assert_int_equal(r.status, 200);
        char *sc = http_result_set_cookie(&r, "admin_session");
        char *cc = http_result_set_cookie(&r, "csrf_token");
        assert_non_null(sc);
        assert_non_null(strstr(sc, "admin_session=; Path=/admin; Max-Age=0"));
        assert_non_null(strstr(cc, "csrf_token=; Path=/admin; Max-Age=0"));
        free(sc);
        free(cc);
        http_result_free(&r);
        /* The old cookie is dead server-side. */
        http_call(&dA, "GET", "/admin/api/me", NULL, NULL, NULL, no_csrf, &r);
        http_assert_error(&r, 401, "unauthorized", "invalid session");
        http_result_free(&r);
        /* The shared session lives on. */
        const char *h[] = {boss.cookie, NULL};
        assert_int_equal(get_status(&dA, "/admin/api/me", h), 200);
}

static void test_csrf(void **state)
{
        struct http_result r;
        const char *body = "{\"to\":\"ops@example.test\"}";
        char wrong[128];
        (void)state;

        snprintf(wrong, sizeof(wrong), "X-CSRF-Token: %064d", 7);
        const char *missing[] = {boss.cookie, NULL};
        const char *bad[] = {boss.cookie, wrong, NULL};
        const char *foreign[] = {boss.cookie, boss.csrf_header, "Origin: https://evil.example",
                                 NULL};
        const char *null_origin[] = {boss.cookie, boss.csrf_header, "Origin: null", NULL};
        const char *const *cases[] = {missing, bad, foreign, null_origin};
        for (size_t i = 0; i < 4; i++) {
                http_call(&dA, "POST", "/admin/api/smtp/test", NULL, JSON, body, cases[i], &r);
                http_assert_error(&r, 403, "csrf_invalid", NULL);
                http_result_free(&r);
        }
        /* The token of the cookie alone, without the header: refused too;
         * and a matching header without the cookie. */
        char only_session[200];
        snprintf(only_session, sizeof(only_session), "Cookie: admin_session=%s", boss.token);
        const char *no_cookie[] = {only_session, boss.csrf_header, NULL};
        http_call(&dA, "POST", "/admin/api/smtp/test", NULL, JSON, body, no_cookie, &r);
        http_assert_error(&r, 403, "csrf_invalid", NULL);
        http_result_free(&r);
        /* No destructive action by GET. */
        const char *h[] = {boss.cookie, NULL};
        http_call(&dA, "GET", "/admin/api/smtp/test", NULL, NULL, NULL, h, &r);
        assert_int_equal(r.status, 405);
        http_result_free(&r);
        http_call(&dA, "GET", "/admin/api/logout", NULL, NULL, NULL, h, &r);
        assert_int_equal(r.status, 405);
        http_result_free(&r);
        assert_null(harness_outbox_take(&dA, "ops@example.test", 200));
        /* Our own origin passes. */
        const char *good[] = {boss.cookie, boss.csrf_header, "Origin: " PUBLIC_URL, NULL};
        http_call(&dA, "POST", "/admin/api/smtp/test", NULL, JSON, body, good, &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        free(harness_outbox_take(&dA, "ops@example.test", 5000));
}

/* --- SMTP ----------------------------------------------------------------- */

static void test_smtp_view_outbox(void **state)
{
        struct http_result r;
        (void)state;

        const char *h[] = {boss.cookie, NULL};
        http_call(&dA, "GET", "/admin/api/smtp", NULL, NULL, NULL, NULL, &r);
        http_assert_error(&r, 401, "unauthorized", NULL);
        http_result_free(&r);
        http_call(&dA, "GET", "/admin/api/smtp", NULL, NULL, NULL, h, &r);
        assert_int_equal(r.status, 200);
        assert_header(&r, "Cache-Control", "no-store");
        assert_string_equal(http_result_string(&r, "delivery"), "outbox");
        assert_true(json_is_null(json_object_get(r.json, "host")));
        assert_string_equal(http_result_string(&r, "from"), SENDER);
        assert_string_equal(http_result_string(&r, "public_url"), PUBLIC_URL);
        assert_true(json_is_false(json_object_get(r.json, "username_set")));
        assert_true(json_is_false(json_object_get(r.json, "password_configured")));
        assert_int_equal(json_integer_value(json_object_get(r.json, "timeout_seconds")), 30);
        http_result_free(&r);
}

static void test_test_mail_outbox(void **state)
{
        struct http_result r;
        (void)state;

        smtp_test(&dA, &boss, "Ops-Team@Example.Test", &r);
        if (r.status != 200)
                fprintf(stderr, "smtp test: %ld %s\n", r.status, r.body);
        assert_int_equal(r.status, 200);
        assert_string_equal(http_result_string(&r, "status"), "sent");
        http_result_free(&r);
        char *mail = harness_outbox_take(&dA, "ops-team@example.test", 5000);
        assert_non_null(mail);
        assert_non_null(strstr(mail, "Subject: Test message from"));
        assert_non_null(strstr(mail, "From: " SENDER) ? mail : strstr(mail, SENDER));
        free(mail);

        /* Russian when the administrator reads Russian. */
        const char *ru_h[] = {boss.cookie, boss.csrf_header, "Accept-Language: ru", NULL};
        http_call(&dA, "POST", "/admin/api/smtp/test", NULL, JSON, "{\"to\":\"ru@example.test\"}",
                  ru_h, &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        mail = harness_outbox_take(&dA, "ru@example.test", 5000);
        assert_non_null(mail);
        assert_null(strstr(mail, "Subject: Test message"));
        free(mail);

        /* Not an address, or a header injection attempt. */
        const char *bad[] = {"not an address", "a@example.test\r\nBcc: x@example.test",
                             "a@example.test\nBcc: x@example.test"};
        for (size_t i = 0; i < 3; i++) {
                smtp_test(&dA, &boss, bad[i], &r);
                http_assert_error(&r, 400, "invalid_request", "invalid email");
                http_result_free(&r);
        }
        assert_null(harness_outbox_take(&dA, "x@example.test", 300));
        long long n = -1;
        assert_int_equal(harness_db_int(&dA,
                                        "SELECT count(*) FROM server_audit_log"
                                        " WHERE event_type = 'smtp_test'",
                                        &n),
                         0);
        assert_true(n >= 2);
}

/* --- a real SMTP server ---------------------------------------------------- */

static void test_smtp_real_server(void **state)
{
        struct daemon d = {0};
        struct harness_sink sk = HARNESS_SINK_INIT;
        static const char *const auth[] = {"--auth", SINK_USER ":" SINK_PASSWORD, NULL};
        struct admin_session s;
        struct http_result r;
        char dir[PATH_MAX + 16], pw_file[PATH_MAX + 16], *config = NULL;
        (void)state;

        assert_int_equal(harness_prepare(&d, &(struct daemon_options){0}), 0);
        snprintf(dir, sizeof(dir), "%s/sink", d.root);
        assert_int_equal(mkdir(dir, 0755), 0);
        if (harness_sink_start(&sk, dir, auth) < 0) {
                harness_sink_stop(&sk);
                harness_destroy(&d);
                fail_msg("cannot start the SMTP sink (python3 with aiosmtpd)");
        }
        snprintf(pw_file, sizeof(pw_file), "%s/smtp-password", d.root);
        write_file(pw_file, SINK_PASSWORD "\n");
        assert_true(asprintf(&config,
                             "public_url: \"" PUBLIC_URL "\"\n"
                             "trusted_proxies: [\"127.0.0.1\"]\n"
                             "smtp:\n  host: 127.0.0.1\n  port: %d\n  security: none\n"
                             "  username: " SINK_USER "\n  password_file: %s\n"
                             "  from: " SENDER "\n  timeout_seconds: 10\n",
                             sk.port, pw_file) >= 0);
        if (start_daemon(&d, config) < 0) {
                harness_sink_stop(&sk);
                fail_msg("daemon did not start");
        }
        free(config);
        admin_login_ok(&d, ADMIN_USER, ADMIN_PASSWORD, &s);

        const char *h[] = {s.cookie, NULL};
        http_call(&d, "GET", "/admin/api/smtp", NULL, NULL, NULL, h, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(http_result_string(&r, "delivery"), "smtp");
        assert_string_equal(http_result_string(&r, "host"), "127.0.0.1");
        assert_int_equal(json_integer_value(json_object_get(r.json, "port")), sk.port);
        assert_string_equal(http_result_string(&r, "security"), "none");
        assert_string_equal(http_result_string(&r, "from"), SENDER);
        assert_true(json_is_true(json_object_get(r.json, "username_set")));
        assert_true(json_is_true(json_object_get(r.json, "password_configured")));
        assert_int_equal(json_integer_value(json_object_get(r.json, "timeout_seconds")), 10);
        assert_null(strstr(r.body, SINK_PASSWORD));
        assert_null(strstr(r.body, pw_file));
        assert_null(strstr(r.body, "smtp-password"));
        assert_null(strstr(r.body, SINK_USER));
        http_result_free(&r);

        smtp_test(&d, &s, "Delivered@Example.Test", &r);
        if (r.status != 200)
                fprintf(stderr, "smtp test: %ld %s\n", r.status, r.body);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        char *eml = NULL, *meta = NULL;
        assert_int_equal(harness_sink_next(&sk, 3000, &eml, &meta), 0);
        assert_non_null(strstr(meta, "delivered@example.test"));
        assert_non_null(strstr(meta, SINK_USER)); /* authenticated */
        free(meta);
        assert_non_null(strstr(eml, "Subject: Test message from"));
        assert_non_null(strstr(eml, "To: delivered@example.test"));
        free(eml);

        harness_sink_stop(&sk);
        assert_false(harness_log_contains(&d, SINK_PASSWORD));
        assert_false(harness_log_contains(&d, pw_file));
        harness_destroy(&d);
}

static void test_smtp_refused(void **state)
{
        struct daemon d = {0};
        struct admin_session s;
        struct http_result r;
        char *config = NULL;
        int port = harness_free_port(); /* nobody listens there */
        (void)state;

        assert_true(port > 0);
        assert_true(asprintf(&config,
                             "trusted_proxies: [\"127.0.0.1\"]\n"
                             "smtp:\n  host: 127.0.0.1\n  port: %d\n  security: none\n"
                             "  from: " SENDER "\n  timeout_seconds: 5\n",
                             port) >= 0);
        assert_int_equal(start_daemon(&d, config), 0);
        free(config);
        admin_login_ok(&d, ADMIN_USER, ADMIN_PASSWORD, &s);
        smtp_test(&d, &s, "lost@example.test", &r);
        http_assert_error(&r, 502, "mail_failed", NULL);
        assert_non_null(strstr(http_result_error(&r), "test e-mail not sent"));
        http_result_free(&r);
        /* Still serving. */
        const char *h[] = {s.cookie, NULL};
        assert_int_equal(get_status(&d, "/admin/api/me", h), 200);
        assert_int_equal(get_status(&d, "/livez", NULL), 200);
        harness_destroy(&d);
}

/* --- the password reset page ------------------------------------------------ */

/* Ask for a reset of email's account and return the link's token. */
static void reset_token(const char *email, char out[49])
{
        struct http_result r;
        char body[256];

        snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email);
        http_call(&dA, "POST", "/api/v1/auth/forgot", NULL, JSON, body, NULL, &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        char *mail = harness_outbox_take(&dA, email, 5000);
        assert_non_null(mail);
        const char *p = strstr(mail, PUBLIC_URL "/reset?token=");
        assert_non_null(p);
        p += strlen(PUBLIC_URL "/reset?token=");
        memcpy(out, p, 48);
        out[48] = '\0';
        assert_int_equal(strspn(out, "0123456789abcdef"), 48);
        harness_note_secret(out);
        free(mail);
}

/* POST the page's form; returns the Location (malloc'd) after a 303. */
static char *post_reset_form(const char *token, const char *password, const char *repeat)
{
        struct http_result r;
        char body[1024];

        snprintf(body, sizeof(body), "token=%s&new_password=%s&new_password_repeat=%s", token,
                 password, repeat);
        http_call(&dA, "POST", "/reset", NULL, FORM, body, NULL, &r);
        if (r.status != 303)
                fprintf(stderr, "reset form: %ld %s\n", r.status, r.body);
        assert_int_equal(r.status, 303);
        assert_header(&r, "Cache-Control", "no-store");
        char *loc = http_result_header(&r, "Location");
        assert_non_null(loc);
        http_result_free(&r);
        return loc;
}

static void assert_reset_result(const char *token, const char *password, const char *repeat,
                                const char *result)
{
        char want[64];
        char *loc = post_reset_form(token, password, repeat);

        snprintf(want, sizeof(want), "reset?result=%s", result);
        assert_string_equal(loc, want);
        free(loc);
}

static long user_login_status(const char *user, const char *password)
{
        struct http_result r;
        char body[256];
        long st;

        snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", user, password);
        http_call(&dA, "POST", "/api/v1/auth/login", NULL, JSON, body, NULL, &r);
        st = r.status;
        http_result_free(&r);
        return st;
}

static void test_reset_page_flow(void **state)
{
        struct http_result r;
        char token[49], path[128];
        (void)state;

        assert_int_equal(harness_add_user(&dA, "forgetful", "forgetful@example.test", USER_PASSWORD,
                                          true, false, NULL),
                         0);
        reset_token("forgetful@example.test", token);

        /* The page behind the link: a form holding the token. */
        snprintf(path, sizeof(path), "/reset?token=%s", token);
        http_call(&dA, "GET", path, NULL, NULL, NULL, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_header(&r, "Cache-Control", "no-store");
        assert_header(&r, "Content-Type", "text/html; charset=utf-8");
        char *csp = http_result_header(&r, "Content-Security-Policy");
        assert_non_null(strstr(csp, "form-action 'self'"));
        free(csp);
        char hidden[128];
        snprintf(hidden, sizeof(hidden), "<input type=\"hidden\" name=\"token\" value=\"%s\">",
                 token);
        assert_non_null(strstr(r.body, "<form method=\"post\" action=\"reset\">"));
        assert_non_null(strstr(r.body, hidden));
        /* Once, in the form, nowhere else. */
        assert_null(strstr(strstr(r.body, token) + 48, token));
        assert_non_null(strstr(r.body, "name=\"new_password\""));
        assert_non_null(strstr(r.body, "name=\"new_password_repeat\""));
        harness_assert_no_inline_script(r.body);
        assert_null(strstr(r.body, "style="));
        http_result_free(&r);
        const char *ru[] = {"Accept-Language: ru", NULL};
        http_call(&dA, "GET", path, NULL, NULL, NULL, ru, &r);
        assert_non_null(strstr(r.body, "<html lang=\"ru\""));
        assert_non_null(strstr(r.body, "Новый пароль"));
        http_result_free(&r);

        /* Mistakes keep the token usable. */
        assert_reset_result(token, "new-Pa55-word", "new-Pa55-wordX", "mismatch");
        assert_reset_result(token, "short", "short", "too_short");
        char long_pw[300];
        memset(long_pw, 'x', 257);
        long_pw[257] = '\0';
        assert_reset_result(token, long_pw, long_pw, "too_long");
        assert_int_equal(user_login_status("forgetful", USER_PASSWORD), 200);

        /* The real thing. */
        harness_note_secret("new-Pa55-word");
        assert_reset_result(token, "new-Pa55-word", "new-Pa55-word", "ok");
        http_call(&dA, "GET", "/reset?result=ok", NULL, NULL, NULL, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.body, "Password changed"));
        assert_non_null(strstr(r.body, "href=\"./login\""));
        http_result_free(&r);
        assert_int_equal(user_login_status("forgetful", "new-Pa55-word"), 200);
        assert_int_equal(user_login_status("forgetful", USER_PASSWORD), 401);

        /* Single use. */
        assert_reset_result(token, "other-Pa55-word", "other-Pa55-word", "invalid");
        assert_int_equal(user_login_status("forgetful", "new-Pa55-word"), 200);
        assert_false(harness_log_contains(&dA, token));
}

static void test_reset_page_errors(void **state)
{
        struct http_result r;
        char token[49];
        (void)state;

        /* Unknown or malformed tokens. */
        assert_reset_result("00112233445566778899aabbccddeeff0011223344556677", "new-Pa55-word",
                            "new-Pa55-word", "invalid");
        assert_reset_result("zz", "new-Pa55-word", "new-Pa55-word", "invalid");
        assert_reset_result("", "new-Pa55-word", "new-Pa55-word", "invalid");

        /* Expired. */
        assert_int_equal(harness_add_user(&dA, "late", "late@example.test", USER_PASSWORD, true,
                                          false, NULL),
                         0);
        reset_token("late@example.test", token);
        assert_int_equal(harness_db_exec(&dA, "UPDATE server_email_tokens SET expires_at ="
                                              " '2001-01-01T00:00:00Z' WHERE purpose = 'reset'"),
                         0);
        assert_reset_result(token, "new-Pa55-word", "new-Pa55-word", "expired");
        assert_reset_result(token, "new-Pa55-word", "new-Pa55-word", "invalid");
        assert_int_equal(user_login_status("late", USER_PASSWORD), 200);

        /* Every result page, and the pages of broken links. */
        const char *results[] = {"ok", "expired", "invalid", "mismatch", "too_short", "too_long"};
        for (size_t i = 0; i < 6; i++) {
                char path[64];
                snprintf(path, sizeof(path), "/reset?result=%s", results[i]);
                http_call(&dA, "GET", path, NULL, NULL, NULL, NULL, &r);
                assert_int_equal(r.status, 200);
                assert_non_null(strstr(r.body, "<h1>"));
                assert_null(strstr(r.body, "<form"));
                http_result_free(&r);
        }
        http_call(&dA, "GET", "/reset", NULL, NULL, NULL, NULL, &r);
        assert_int_equal(r.status, 400);
        assert_non_null(strstr(r.body, "incomplete"));
        http_result_free(&r);
        http_call(&dA, "GET", "/reset?token=%3Cscript%3E", NULL, NULL, NULL, NULL, &r);
        assert_int_equal(r.status, 400);
        harness_assert_no_inline_script(r.body);
        assert_null(strstr(r.body, "<form"));
        http_result_free(&r);
        http_call(&dA, "GET", "/reset?result=%3Cb%3E", NULL, NULL, NULL, NULL, &r);
        assert_int_equal(r.status, 400);
        assert_null(strstr(r.body, "<b>"));
        http_result_free(&r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_login),
                cmocka_unit_test(test_legacy_bcrypt_admin),
                cmocka_unit_test(test_me_and_user_sessions),
                cmocka_unit_test(test_logout),
                cmocka_unit_test(test_csrf),
                cmocka_unit_test(test_smtp_view_outbox),
                cmocka_unit_test(test_test_mail_outbox),
                cmocka_unit_test(test_smtp_real_server),
                cmocka_unit_test(test_smtp_refused),
                cmocka_unit_test(test_reset_page_flow),
                cmocka_unit_test(test_reset_page_errors),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
