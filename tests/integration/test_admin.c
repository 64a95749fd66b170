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
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "harness.h"

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

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
        assert_int_equal(harness_sql_span(&dA, "SELECT expires_at, created_at FROM server_sessions"
                                               " WHERE scope = 'admin'"),
                         86400);

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

        assert_int_equal(harness_db_wait_int(&dA,
                                             "SELECT count(*) FROM server_audit_log"
                                             " WHERE event_type = 'admin_login_failed'",
                                             3, 5000, &n),
                         0);
        assert_int_equal(n, 3);
        /* The wrong password names the administrator; the unknown name and
         * the sync user's name name nobody. */
        assert_int_equal(harness_db_int(&dA,
                                        "SELECT count(*) FROM server_audit_log a"
                                        " JOIN server_admins ad ON ad.id = a.user_id"
                                        " WHERE a.event_type = 'admin_login_failed'"
                                        " AND ad.username = '" ADMIN_USER "'",
                                        &n),
                         0);
        assert_int_equal(n, 1);
        assert_int_equal(harness_db_int(&dA,
                                        "SELECT count(*) FROM server_audit_log"
                                        " WHERE event_type = 'admin_login_failed'"
                                        " AND user_id IS NULL",
                                        &n),
                         0);
        assert_int_equal(n, 2);
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
        /* Audited under that administrator's id. */
        assert_int_equal(harness_db_wait_int(&dA,
                                             "SELECT count(*) FROM server_audit_log a"
                                             " JOIN server_admins ad ON ad.id = a.user_id"
                                             " WHERE a.event_type = 'admin_login_failed'"
                                             " AND ad.username = '" LEGACY_USER "'",
                                             1, 5000, &n),
                         0);
        assert_int_equal(n, 1);
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
        /* The overview can tell whether account e-mail can carry links. */
        assert_true(json_is_true(json_object_get(r.json, "public_url_set")));
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
        assert_int_equal(harness_db_wait_int(&dA,
                                             "SELECT count(*) FROM server_audit_log"
                                             " WHERE event_type = 'smtp_test'",
                                             2, 5000, &n),
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

/* --- the console API ------------------------------------------------------- */

/* A console request as boss (cookie and CSRF header), body as JSON text. */
static void console(const char *method, const char *path, const char *body, struct http_result *r)
{
        const char *h[] = {boss.cookie, boss.csrf_header, NULL};

        http_call(&dA, method, path, NULL, body ? JSON : NULL, body, h, r);
}

/* The same, asserting status 200 (the body goes to stderr otherwise). */
static void console_ok(const char *method, const char *path, const char *body,
                       struct http_result *r)
{
        console(method, path, body, r);
        if (r->status != 200)
                fprintf(stderr, "%s %s: %ld %s\n", method, path, r->status, r->body);
        assert_int_equal(r->status, 200);
}

static long long db_count(const struct daemon *d, const char *fmt, const char *arg)
{
        char sql[512];
        long long n = -1;

        snprintf(sql, sizeof(sql), fmt, arg);
        assert_int_equal(harness_db_int(d, sql, &n), 0);
        return n;
}

/* Date every administrator session's login back past
 * ADMIN_FRESH_LOGIN_SECONDS, so actions need admin_password again. */
static void age_admin_sessions(void)
{
        char ago[32];

        harness_time_ago(ago, 600);
        harness_sql(&dA, "UPDATE server_sessions SET created_at = %Q WHERE scope = 'admin'", ago);
}

static json_int_t member_int(const json_t *o, const char *key)
{
        json_t *v = json_object_get(o, key);
        assert_true(json_is_integer(v));
        return json_integer_value(v);
}

static const char *member_str(const json_t *o, const char *key)
{
        json_t *v = json_object_get(o, key);
        assert_true(json_is_string(v));
        return json_string_value(v);
}

/* A confirmed user created through the console; its id into id (25). */
static void console_user(const char *name, const char *email, char *id)
{
        struct http_result r;
        char body[256];

        snprintf(body, sizeof(body),
                 "{\"username\":\"%s\",\"email\":\"%s\",\"password\":\"" USER_PASSWORD "\"}", name,
                 email);
        console_ok("POST", "/admin/api/users/create", body, &r);
        assert_string_equal(http_result_string(&r, "status"), "ok");
        snprintf(id, 25, "%s", http_result_string(&r, "user_id"));
        http_result_free(&r);
}

/* Log a user in (api.md §6); its session token into token (80). */
static long user_login(const char *login, const char *password, char *token)
{
        struct http_result r;
        char body[256];
        long st;

        snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", login, password);
        http_call(&dA, "POST", "/api/v1/auth/login", NULL, JSON, body, NULL, &r);
        st = r.status;
        if (st == 200 && token) {
                snprintf(token, 80, "%s", http_result_string(&r, "token"));
                harness_note_secret(token);
        }
        http_result_free(&r);
        return st;
}

#define CONFIRMED "{\"admin_password\":\"" ADMIN_PASSWORD "\"}"

/* Every console route refuses no session, a user's session, and (for
 * changes) a missing or wrong CSRF token and a foreign Origin. */
static void test_console_gate(void **state)
{
        static const struct {
                const char *method, *path;
        } routes[] = {
                {"GET", "/admin/api/stats"},
                {"GET", "/admin/api/overview"},
                {"GET", "/admin/api/users"},
                {"POST", "/admin/api/users/create"},
                {"GET", "/admin/api/users/u1"},
                {"DELETE", "/admin/api/users/u1"},
                {"POST", "/admin/api/users/u1/edit"},
                {"POST", "/admin/api/users/u1/confirm"},
                {"POST", "/admin/api/users/u1/block"},
                {"POST", "/admin/api/users/u1/reset-password"},
                {"GET", "/admin/api/devices"},
                {"POST", "/admin/api/devices/d1/revoke"},
                {"DELETE", "/admin/api/devices/d1"},
                {"GET", "/admin/api/keys"},
                {"DELETE", "/admin/api/keys/d1"},
                {"GET", "/admin/api/vaults"},
                {"GET", "/admin/api/vaults/u1/v1"},
                {"GET", "/admin/api/storage"},
                {"POST", "/admin/api/storage/retention"},
                {"POST", "/admin/api/storage/gc"},
                {"GET", "/admin/api/audit"},
                {"GET", "/admin/api/audit/events"},
                {"GET", "/admin/api/settings"},
                {"GET", "/admin/api/diagnostics"},
                {"GET", "/admin/api/admins"},
                {"POST", "/admin/api/admins"},
                {"DELETE", "/admin/api/admins/a1"},
                {"POST", "/admin/api/admins/password"},
                {"GET", "/admin/api/invitations"},
                {"POST", "/admin/api/invitations"},
                {"DELETE", "/admin/api/invitations/i1"},
        };
        struct http_result r;
        char user_token[80], as_user[200], as_admin[200], bearer[200], wrong[128];
        (void)state;

        assert_int_equal(harness_add_user(&dA, "gate-user", "gate@example.test", USER_PASSWORD,
                                          true, false, NULL),
                         0);
        assert_int_equal(user_login("gate-user", USER_PASSWORD, user_token), 200);
        snprintf(as_user, sizeof(as_user), "Cookie: user_session=%s", user_token);
        snprintf(as_admin, sizeof(as_admin), "Cookie: admin_session=%s", user_token);
        snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s", user_token);
        snprintf(wrong, sizeof(wrong), "X-CSRF-Token: %064d", 7);
        for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
                const char *m = routes[i].method, *p = routes[i].path;
                const char *body = strcmp(m, "GET") ? CONFIRMED : NULL;
                const char *ctype = body ? JSON : NULL;
                const char *user_cases[][3] = {{as_user, NULL}, {as_admin, NULL}, {bearer, NULL}};

                http_call(&dA, m, p, NULL, ctype, body, NULL, &r);
                http_assert_error(&r, 401, "unauthorized", "login required");
                http_result_free(&r);
                for (size_t j = 0; j < ELEMENTSOF(user_cases); j++) {
                        http_call(&dA, m, p, NULL, ctype, body, user_cases[j], &r);
                        assert_int_equal(r.status, 401);
                        http_result_free(&r);
                }
                if (!body)
                        continue;
                const char *missing[] = {boss.cookie, NULL};
                const char *bad[] = {boss.cookie, wrong, NULL};
                const char *foreign[] = {boss.cookie, boss.csrf_header,
                                         "Origin: https://evil.example", NULL};
                const char *const *cases[] = {missing, bad, foreign};
                for (size_t j = 0; j < ELEMENTSOF(cases); j++) {
                        http_call(&dA, m, p, NULL, ctype, body, cases[j], &r);
                        if (r.status != 403)
                                fprintf(stderr, "%s %s case %zu: %ld\n", m, p, j, r.status);
                        http_assert_error(&r, 403, "csrf_invalid", NULL);
                        http_result_free(&r);
                }
        }
        /* Reading never changes state: GET on an action is 405. */
        const char *h[] = {boss.cookie, NULL};
        http_call(&dA, "GET", "/admin/api/storage/gc", NULL, NULL, NULL, h, &r);
        assert_int_equal(r.status, 405);
        http_result_free(&r);
}

static void test_console_users(void **state)
{
        struct http_result r;
        char id[25], other[25], path[160];
        (void)state;

        /* Bad input. */
        const char *bad[] = {
                "{\"username\":\"x\",\"email\":\"x@example.test\"}",
                "{\"username\":\"a@b\",\"email\":\"x@example.test\",\"password\":\"" USER_PASSWORD
                "\"}",
                "{\"username\":\"x\",\"email\":\"not-an-address\",\"password\":\"" USER_PASSWORD
                "\"}",
                "{\"username\":\"x\",\"email\":\"x@example.test\",\"password\":\"short\"}",
                "{\"username\":5}",
                "not json",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                console("POST", "/admin/api/users/create", bad[i], &r);
                assert_int_equal(r.status, 400);
                http_result_free(&r);
        }
        console_user("carol", "Carol@Example.test", id);
        console_user("dave", "dave@example.test", other);
        console("POST", "/admin/api/users/create",
                "{\"username\":\"carol\",\"email\":\"c2@example.test\",\"password\":"
                "\"" USER_PASSWORD "\"}",
                &r);
        http_assert_error(&r, 409, "conflict", "username already taken");
        http_result_free(&r);
        console("POST", "/admin/api/users/create",
                "{\"username\":\"carol2\",\"email\":\"carol@example.test\",\"password\":"
                "\"" USER_PASSWORD "\"}",
                &r);
        http_assert_error(&r, 409, "conflict", "email already registered");
        http_result_free(&r);
        /* Created confirmed: the user can log in at once. */
        assert_int_equal(user_login("carol", USER_PASSWORD, NULL), 200);

        /* Search (name or e-mail, LIKE characters taken literally), status,
         * sort, page bounds. */
        console_ok("GET", "/admin/api/users?q=CAROL", NULL, &r);
        assert_int_equal(member_int(r.json, "total"), 1);
        json_t *u = json_array_get(json_object_get(r.json, "users"), 0);
        assert_string_equal(member_str(u, "id"), id);
        assert_string_equal(member_str(u, "email"), "carol@example.test");
        assert_int_equal(member_int(u, "confirmed"), 1);
        assert_int_equal(member_int(u, "blocked"), 0);
        assert_int_equal(member_int(u, "devices"), 0);
        assert_null(json_object_get(u, "password_hash"));
        http_result_free(&r);
        console_ok("GET", "/admin/api/users?filter=dave%40example", NULL, &r);
        assert_int_equal(member_int(r.json, "total"), 1);
        http_result_free(&r);
        console_ok("GET", "/admin/api/users?q=%25", NULL, &r);
        assert_int_equal(member_int(r.json, "total"), 0);
        http_result_free(&r);
        long long all = db_count(&dA, "SELECT count(*) FROM server_users%s", "");
        console_ok("GET", "/admin/api/users?per_page=1000&sort=username&order=asc", NULL, &r);
        assert_int_equal(member_int(r.json, "per_page"), 100);
        assert_int_equal(member_int(r.json, "total"), all);
        json_t *list = json_object_get(r.json, "users");
        for (size_t i = 1; i < json_array_size(list); i++)
                assert_true(strcmp(member_str(json_array_get(list, i - 1), "username"),
                                   member_str(json_array_get(list, i), "username")) < 0);
        http_result_free(&r);
        /* sort=devices, which the existing server's console offered. */
        long long most = db_count(&dA,
                                  "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM "
                                  "server_devices GROUP BY user_id) AS per_user%s",
                                  "");
        console_ok("GET", "/admin/api/users?per_page=100&sort=devices&order=desc", NULL, &r);
        list = json_object_get(r.json, "users");
        assert_true(json_array_size(list) >= 1);
        assert_int_equal(member_int(json_array_get(list, 0), "devices"), most);
        for (size_t i = 1; i < json_array_size(list); i++)
                assert_true(member_int(json_array_get(list, i - 1), "devices") >=
                            member_int(json_array_get(list, i), "devices"));
        http_result_free(&r);
        console_ok("GET", "/admin/api/users?per_page=100&sort=devices&order=asc", NULL, &r);
        list = json_object_get(r.json, "users");
        for (size_t i = 1; i < json_array_size(list); i++)
                assert_true(member_int(json_array_get(list, i - 1), "devices") <=
                            member_int(json_array_get(list, i), "devices"));
        http_result_free(&r);
        console_ok("GET", "/admin/api/users?per_page=1&page=2&sort=username&order=asc", NULL, &r);
        assert_int_equal(json_array_size(json_object_get(r.json, "users")), 1);
        assert_int_equal(member_int(r.json, "page"), 2);
        http_result_free(&r);
        console_ok("GET", "/admin/api/users?page=100000", NULL, &r);
        assert_int_equal(json_array_size(json_object_get(r.json, "users")), 0);
        assert_int_equal(member_int(r.json, "total"), all);
        http_result_free(&r);
        const char *bad_q[] = {"page=0",
                               "page=-1",
                               "per_page=abc",
                               "page=9999999999",
                               "sort=password_hash",
                               "order=sideways",
                               "status=deleted"};
        for (size_t i = 0; i < ELEMENTSOF(bad_q); i++) {
                snprintf(path, sizeof(path), "/admin/api/users?%s", bad_q[i]);
                console("GET", path, NULL, &r);
                assert_int_equal(r.status, 400);
                http_result_free(&r);
        }

        /* Edit. */
        snprintf(path, sizeof(path), "/admin/api/users/%s/edit", id);
        console("POST", path, "{\"username\":\"dave\",\"email\":\"carol@example.test\"}", &r);
        http_assert_error(&r, 409, "conflict", "username already taken");
        http_result_free(&r);
        console("POST", path, "{\"username\":\"carol\"}", &r);
        assert_int_equal(r.status, 400);
        http_result_free(&r);
        console_ok("POST", path, "{\"username\":\"caroline\",\"email\":\"caroline@example.test\"}",
                   &r);
        http_result_free(&r);
        console("POST", "/admin/api/users/nobody/edit",
                "{\"username\":\"x\",\"email\":\"x@example.test\"}", &r);
        http_assert_error(&r, 404, "not_found", NULL);
        http_result_free(&r);
        snprintf(path, sizeof(path), "/admin/api/users/%s", id);
        console_ok("GET", path, NULL, &r);
        assert_string_equal(http_result_string(&r, "username"), "caroline");
        http_result_free(&r);

        /* Confirm an unconfirmed user (password needed). */
        char pending[25];
        assert_int_equal(harness_add_user(&dA, "pending", "pending@example.test", USER_PASSWORD,
                                          false, false, pending),
                         0);
        console_ok("GET", "/admin/api/users?status=unconfirmed&q=pending", NULL, &r);
        assert_int_equal(member_int(r.json, "total"), 1);
        http_result_free(&r);
        assert_int_equal(user_login("pending", USER_PASSWORD, NULL), 403);
        snprintf(path, sizeof(path), "/admin/api/users/%s/confirm", pending);
        age_admin_sessions();
        console("POST", path, "{}", &r);
        http_assert_error(&r, 400, "invalid_request", "admin_password required");
        http_result_free(&r);
        console("POST", path, "{\"admin_password\":\"wrong\"}", &r);
        http_assert_error(&r, 403, "password_confirmation_failed", NULL);
        http_result_free(&r);
        console_ok("POST", path, CONFIRMED, &r);
        http_result_free(&r);
        assert_int_equal(user_login("pending", USER_PASSWORD, NULL), 200);
        console("POST", "/admin/api/users/nobody/confirm", CONFIRMED, &r);
        http_assert_error(&r, 404, "not_found", NULL);
        http_result_free(&r);

        /* Block ends the user's sessions; unblock lets them back in. */
        char token[80], bearer[200];
        assert_int_equal(user_login("dave", USER_PASSWORD, token), 200);
        snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s", token);
        const char *as_dave[] = {bearer, NULL};
        assert_int_equal(get_status(&dA, "/api/v1/user/devices", as_dave), 200);
        snprintf(path, sizeof(path), "/admin/api/users/%s/block", other);
        console("POST", path, "{\"blocked\":true}", &r);
        assert_int_equal(r.status, 400);
        http_result_free(&r);
        console_ok("POST", path, "{\"blocked\":true,\"admin_password\":\"" ADMIN_PASSWORD "\"}",
                   &r);
        assert_int_equal(member_int(r.json, "blocked"), 1);
        http_result_free(&r);
        assert_int_equal(get_status(&dA, "/api/v1/user/devices", as_dave), 401);
        assert_int_equal(user_login("dave", USER_PASSWORD, NULL), 403);
        console_ok("GET", "/admin/api/users?status=blocked&q=dave", NULL, &r);
        assert_int_equal(member_int(r.json, "total"), 1);
        http_result_free(&r);
        /* Without "blocked" it toggles, as the existing server's did. */
        console_ok("POST", path, CONFIRMED, &r);
        assert_int_equal(member_int(r.json, "blocked"), 0);
        http_result_free(&r);
        assert_int_equal(user_login("dave", USER_PASSWORD, NULL), 200);
        assert_int_equal(db_count(&dA,
                                  "SELECT count(*) FROM server_audit_log WHERE user_id = '%s'"
                                  " AND event_type IN ('admin_user_blocked',"
                                  " 'admin_user_unblocked')",
                                  other),
                         2);
}

static void test_console_reset_password(void **state)
{
        struct http_result r;
        char id[25], path[160], fresh[64], body[256];
        (void)state;

        console_user("erin", "erin@example.test", id);
        char token[80], bearer[200];
        assert_int_equal(user_login("erin", USER_PASSWORD, token), 200);
        snprintf(path, sizeof(path), "/admin/api/users/%s/reset-password", id);
        console("POST", path, "{}", &r);
        assert_int_equal(r.status, 400);
        http_result_free(&r);
        console_ok("POST", path, CONFIRMED, &r);
        assert_header(&r, "Cache-Control", "no-store");
        snprintf(fresh, sizeof(fresh), "%s", http_result_string(&r, "new_password"));
        harness_note_secret(fresh);
        assert_true(strlen(fresh) >= 16);
        http_result_free(&r);
        /* The new password works, the old one and the old session do not. */
        assert_int_equal(user_login("erin", USER_PASSWORD, NULL), 401);
        assert_int_equal(user_login("erin", fresh, NULL), 200);
        snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s", token);
        const char *old[] = {bearer, NULL};
        assert_int_equal(get_status(&dA, "/api/v1/user/devices", old), 401);
        /* Shown once: kept nowhere but as a hash, in no other answer. */
        snprintf(body, sizeof(body),
                 "SELECT count(*) FROM server_users WHERE id = '%%s' AND password_hash LIKE"
                 " '$argon2id$%%%%' AND replace(password_hash, '%s', '') = password_hash",
                 fresh);
        assert_int_equal(db_count(&dA, body, id), 1);
        const char *reads[] = {"/admin/api/users?q=erin", "/admin/api/audit?per_page=100",
                               "/admin/api/overview"};
        for (size_t i = 0; i < ELEMENTSOF(reads); i++) {
                console_ok("GET", reads[i], NULL, &r);
                assert_null(strstr(r.body, fresh));
                http_result_free(&r);
        }
        snprintf(path, sizeof(path), "/admin/api/users/%s", id);
        console_ok("GET", path, NULL, &r);
        assert_null(strstr(r.body, fresh));
        http_result_free(&r);
        console("POST", "/admin/api/users/nobody/reset-password", CONFIRMED, &r);
        http_assert_error(&r, 404, "not_found", NULL);
        http_result_free(&r);
}

/* A blob file with this content under <data>/blobs/ab/cd/<sha>; its hash
 * into sha (65). */
static void put_blob_file(const struct daemon *d, const char *content, char *sha)
{
        unsigned char h[32];
        char dir[PATH_MAX + 64], file[PATH_MAX + 160];

        crypto_hash_sha256(h, (const unsigned char *)content, strlen(content));
        for (size_t i = 0; i < 32; i++)
                snprintf(sha + 2 * i, 3, "%02x", h[i]);
        snprintf(dir, sizeof(dir), "%s/blobs/%.2s", d->data_dir, sha);
        (void)mkdir(dir, 0750);
        snprintf(dir, sizeof(dir), "%s/blobs/%.2s/%.2s", d->data_dir, sha, sha + 2);
        (void)mkdir(dir, 0750);
        snprintf(file, sizeof(file), "%s/%s", dir, sha);
        write_file(file, content);
}

static bool blob_file_exists(const struct daemon *d, const char *sha)
{
        char file[PATH_MAX + 160];

        snprintf(file, sizeof(file), "%s/blobs/%.2s/%.2s/%s", d->data_dir, sha, sha + 2, sha);
        return access(file, F_OK) == 0;
}

/* Rows of a user's in every table that holds them. */
static const char *const owned_tables[] = {
        "SELECT count(*) FROM server_users WHERE id = '%s'",
        "SELECT count(*) FROM server_devices WHERE user_id = '%s'",
        "SELECT count(*) FROM server_user_devices WHERE user_id = '%s'",
        "SELECT count(*) FROM server_ops WHERE user_id = '%s'",
        "SELECT count(*) FROM server_tombstones WHERE user_id = '%s'",
        "SELECT count(*) FROM server_idempotency_keys WHERE user_id = '%s'",
        "SELECT count(*) FROM server_email_tokens WHERE user_id = '%s'",
        "SELECT count(*) FROM server_sessions WHERE scope = 'user' AND subject_id = '%s'",
        "SELECT count(*) FROM server_blob_refs WHERE user_id = '%s'",
        "SELECT count(*) FROM server_audit_log WHERE user_id = '%s'",
};

/* Give user id a device, ops, a tombstone, an idempotency record, a
 * session, an e-mail token and references to blobs sha1 and sha2. */
static void own_things(const char *login, const char *id, const char *sha1, const char *sha2)
{
        char sql[2048], now[32];
        time_t t = time(NULL);

        strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
        assert_int_equal(harness_pair(&dA, login, USER_PASSWORD, "vault-1", NULL, NULL), 200);
        assert_int_equal(user_login(login, USER_PASSWORD, NULL), 200);
        snprintf(sql, sizeof(sql),
                 "INSERT INTO server_user_devices SELECT user_id, id FROM server_devices"
                 " WHERE user_id = '%1$s' ON CONFLICT DO NOTHING;"
                 "INSERT INTO server_ops (server_sequence, op_id, user_id, vault_id, device_id,"
                 " entity_type, entity_id, op_type, payload_json, created_at, pushed_at)"
                 " VALUES ((SELECT value + 1 FROM server_meta WHERE key = 'last_sequence'),"
                 " 'op-%1$s', '%1$s', 'vault-1', 'dev', 'note', 'n1', 'create', '{}', '%2$s',"
                 " '%2$s');"
                 "UPDATE server_meta SET value = value + 1"
                 " WHERE key IN ('last_sequence', 'ops_count');"
                 "INSERT INTO server_tombstones VALUES ('%1$s', 'vault-1', 'note', 'n0', 'op0',"
                 " '%2$s');"
                 "INSERT INTO server_idempotency_keys VALUES ('%1$s', 'vault-1', 'k1', '{}',"
                 " '%2$s');"
                 "INSERT INTO server_email_tokens VALUES ('th-%1$s', '%1$s', 'reset',"
                 " '2999-01-01T00:00:00Z', '%2$s');"
                 "INSERT INTO server_blobs VALUES ('%3$s', 5, '%2$s') ON CONFLICT DO NOTHING;"
                 "INSERT INTO server_blobs VALUES ('%4$s', 5, '%2$s') ON CONFLICT DO NOTHING;"
                 "INSERT INTO server_blob_refs VALUES ('%1$s', 'vault-1', '%3$s', 5, '%2$s',"
                 " '%2$s');"
                 "INSERT INTO server_blob_refs VALUES ('%1$s', 'vault-1', '%4$s', 5, '%2$s',"
                 " '%2$s') ON CONFLICT DO NOTHING;",
                 id, now, sha1, sha2);
        assert_int_equal(harness_db_exec(&dA, sql), 0);
}

static void test_console_delete_user(void **state)
{
        struct http_result r;
        char gone[25], stays[25], path[160], own[65], shared[65];
        (void)state;

        console_user("frank", "frank@example.test", gone);
        console_user("grace", "grace@example.test", stays);
        put_blob_file(&dA, "frank's own", own);
        put_blob_file(&dA, "shared file", shared);
        own_things("frank", gone, own, shared);
        own_things("grace", stays, shared, shared);
        for (size_t i = 0; i < ELEMENTSOF(owned_tables); i++)
                assert_true(db_count(&dA, owned_tables[i], gone) >= 1);

        snprintf(path, sizeof(path), "/admin/api/users/%s", gone);
        console("DELETE", path, "{\"admin_password\":\"wrong\"}", &r);
        http_assert_error(&r, 403, "password_confirmation_failed", NULL);
        http_result_free(&r);
        assert_int_equal(db_count(&dA, owned_tables[0], gone), 1);
        console_ok("DELETE", path, CONFIRMED, &r);
        assert_string_equal(http_result_string(&r, "status"), "deleted");
        assert_int_equal(member_int(r.json, "blobs_removed"), 1);
        http_result_free(&r);
        /* Every row gone, their own file gone, the shared one kept. */
        for (size_t i = 0; i < ELEMENTSOF(owned_tables); i++)
                assert_int_equal(db_count(&dA, owned_tables[i], gone), 0);
        assert_int_equal(
                db_count(&dA, "SELECT count(*) FROM server_blobs WHERE sha256 = '%s'", own), 0);
        assert_false(blob_file_exists(&dA, own));
        assert_true(blob_file_exists(&dA, shared));
        for (size_t i = 0; i < ELEMENTSOF(owned_tables); i++)
                if (i != ELEMENTSOF(owned_tables) - 1)
                        assert_true(db_count(&dA, owned_tables[i], stays) >= 1);
        assert_int_equal(user_login("frank", USER_PASSWORD, NULL), 401);
        assert_int_equal(user_login("grace", USER_PASSWORD, NULL), 200);
        console("DELETE", path, CONFIRMED, &r);
        http_assert_error(&r, 404, "not_found", NULL);
        http_result_free(&r);
        /* The operation counter followed the deletion. */
        long long counted = db_count(&dA, "SELECT count(*) FROM server_ops%s", "");
        console_ok("GET", "/admin/api/stats", NULL, &r);
        assert_int_equal(member_int(r.json, "operations"), counted);
        http_result_free(&r);
}

/* Scripts written for the earlier server log in and act without
 * admin_password: a fresh login counts as confirmation, an old one does
 * not, and a wrong password is refused either way. */
static void test_console_fresh_login_scripts(void **state)
{
        struct admin_session s;
        struct http_result r;
        char id[25], path[128];
        (void)state;

        console_user("scripted", "scripted@example.test", id);
        admin_login_ok(&dA, ADMIN_USER, ADMIN_PASSWORD, &s);
        const char *h[] = {s.cookie, s.csrf_header, NULL};

        snprintf(path, sizeof(path), "/admin/api/users/%s/block", id);
        http_call(&dA, "POST", path, NULL, JSON, "{\"admin_password\":\"wrong\"}", h, &r);
        http_assert_error(&r, 403, "password_confirmation_failed", NULL);
        http_result_free(&r);
        http_call(&dA, "POST", path, NULL, JSON, "{\"blocked\":true}", h, &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(member_int(r.json, "blocked"), 1);
        http_result_free(&r);
        assert_int_equal(user_login("scripted", USER_PASSWORD, NULL), 403);

        snprintf(path, sizeof(path), "/admin/api/users/%s/reset-password", id);
        http_call(&dA, "POST", path, NULL, JSON, "{}", h, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(http_result_string(&r, "status"), "ok");
        assert_true(strlen(http_result_string(&r, "new_password")) > 0);
        http_result_free(&r);

        snprintf(path, sizeof(path), "/admin/api/users/%s", id);
        http_call(&dA, "DELETE", path, NULL, NULL, NULL, h, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(http_result_string(&r, "status"), "deleted");
        http_result_free(&r);
        assert_int_equal(db_count(&dA, "SELECT count(*) FROM server_users WHERE id = '%s'", id), 0);

        /* The same script on a session whose login is old. */
        console_user("scripted2", "scripted2@example.test", id);
        age_admin_sessions();
        snprintf(path, sizeof(path), "/admin/api/users/%s/block", id);
        http_call(&dA, "POST", path, NULL, JSON, "{\"blocked\":true}", h, &r);
        http_assert_error(&r, 400, "invalid_request", "admin_password required");
        http_result_free(&r);
        snprintf(path, sizeof(path), "/admin/api/users/%s/reset-password", id);
        http_call(&dA, "POST", path, NULL, JSON, "{}", h, &r);
        http_assert_error(&r, 400, "invalid_request", "admin_password required");
        http_result_free(&r);
        snprintf(path, sizeof(path), "/admin/api/users/%s", id);
        http_call(&dA, "DELETE", path, NULL, NULL, NULL, h, &r);
        http_assert_error(&r, 400, "invalid_request", "admin_password required");
        http_result_free(&r);
        assert_int_equal(db_count(&dA, "SELECT count(*) FROM server_users WHERE id = '%s'", id), 1);
        assert_int_equal(user_login("scripted2", USER_PASSWORD, NULL), 200);
}

static void test_console_devices(void **state)
{
        struct http_result r;
        char id[25], token[65], device[29], path[200], bearer[120];
        (void)state;

        console_user("heidi", "heidi@example.test", id);
        assert_int_equal(harness_pair(&dA, "heidi", USER_PASSWORD, "vault-h", token, device), 200);
        harness_note_secret(token);
        snprintf(path, sizeof(path), "/admin/api/devices?user=heidi&status=active");
        console_ok("GET", path, NULL, &r);
        assert_true(json_is_array(r.json));
        assert_int_equal(json_array_size(r.json), 1);
        char *total = http_result_header(&r, "X-Total-Count");
        assert_string_equal(total, "1");
        free(total);
        json_t *d = json_array_get(r.json, 0);
        assert_string_equal(member_str(d, "id"), device);
        assert_string_equal(member_str(d, "user"), "heidi");
        assert_string_equal(member_str(d, "vault_id"), "vault-h");
        assert_string_equal(member_str(d, "client_version"), "harness/1");
        assert_string_equal(member_str(d, "revoked_at"), "");
        const char *hint = member_str(d, "token_hint");
        assert_non_null(strstr(hint, "…"));
        assert_true(strncmp(hint, token, strlen(hint) - strlen(strstr(hint, "…"))) == 0);
        assert_null(strstr(r.body, token));
        assert_null(strstr(r.body, "token_hash"));
        http_result_free(&r);
        /* The existing server's keys list: {id, name, token_hint} only. */
        console_ok("GET", "/admin/api/keys?per_page=100", NULL, &r);
        assert_true(json_array_size(r.json) >= 1);
        assert_int_equal(json_object_size(json_array_get(r.json, 0)), 3);
        assert_null(strstr(r.body, token));
        http_result_free(&r);
        const char *filters[] = {"vault_id=vault-h", "client_version=harness%2F1", "user="};
        for (size_t i = 0; i < ELEMENTSOF(filters); i++) {
                snprintf(path, sizeof(path), "/admin/api/devices?%s", filters[i]);
                console_ok("GET", path, NULL, &r);
                assert_true(json_array_size(r.json) >= 1);
                http_result_free(&r);
        }
        snprintf(path, sizeof(path), "/admin/api/devices?user=%s&status=revoked", id);
        console_ok("GET", path, NULL, &r);
        assert_int_equal(json_array_size(r.json), 0);
        http_result_free(&r);
        console("GET", "/admin/api/devices?status=lost", NULL, &r);
        assert_int_equal(r.status, 400);
        http_result_free(&r);

        /* Deleting needs a revoked device; revoking needs the password. */
        snprintf(path, sizeof(path), "/admin/api/devices/%s", device);
        console("DELETE", path, CONFIRMED, &r);
        http_assert_error(&r, 409, "conflict", NULL);
        http_result_free(&r);
        snprintf(path, sizeof(path), "/admin/api/devices/%s/revoke", device);
        console("POST", path, "{}", &r);
        assert_int_equal(r.status, 400);
        http_result_free(&r);
        snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s", token);
        const char *as_device[] = {bearer, NULL};
        assert_int_equal(get_status(&dA, "/api/client/me", as_device), 200);
        console_ok("POST", path, CONFIRMED, &r);
        assert_string_equal(http_result_string(&r, "status"), "revoked");
        http_result_free(&r);
        assert_int_equal(get_status(&dA, "/api/client/me", as_device), 401);
        snprintf(path, sizeof(path), "/admin/api/devices?user=%s&status=revoked", id);
        console_ok("GET", path, NULL, &r);
        assert_int_equal(json_array_size(r.json), 1);
        http_result_free(&r);
        /* DELETE keys/{id} is the existing server's path for the same. */
        snprintf(path, sizeof(path), "/admin/api/keys/%s", device);
        console_ok("DELETE", path, CONFIRMED, &r);
        assert_string_equal(http_result_string(&r, "status"), "deleted");
        http_result_free(&r);
        assert_int_equal(
                db_count(&dA, "SELECT count(*) FROM server_devices WHERE id = '%s'", device), 0);
        console("DELETE", path, CONFIRMED, &r);
        http_assert_error(&r, 404, "not_found", NULL);
        http_result_free(&r);

        /* That path deletes an active device at once (revoking it first),
         * as the existing server did; the console's path keeps two steps. */
        char token2[65], device2[29], bearer2[100];
        harness_pair_ok(&dA, "heidi", USER_PASSWORD, "vault-h", token2, device2);
        snprintf(bearer2, sizeof(bearer2), "Authorization: Bearer %s", token2);
        const char *as_device2[] = {bearer2, NULL};
        assert_int_equal(get_status(&dA, "/api/client/me", as_device2), 200);
        snprintf(path, sizeof(path), "/admin/api/keys/%s", device2);
        console("DELETE", path, "{}", &r);
        assert_int_equal(r.status, 400);
        http_result_free(&r);
        assert_int_equal(get_status(&dA, "/api/client/me", as_device2), 200);
        console_ok("DELETE", path, CONFIRMED, &r);
        assert_string_equal(http_result_string(&r, "status"), "deleted");
        http_result_free(&r);
        assert_int_equal(get_status(&dA, "/api/client/me", as_device2), 401);
        assert_int_equal(
                db_count(&dA, "SELECT count(*) FROM server_devices WHERE id = '%s'", device2), 0);
}

/* The number of devices of the one user the search q finds. */
static json_int_t listed_devices(const char *q)
{
        struct http_result r;
        char path[160];

        snprintf(path, sizeof(path), "/admin/api/users?q=%s", q);
        console_ok("GET", path, NULL, &r);
        json_t *list = json_object_get(r.json, "users");
        assert_int_equal(json_array_size(list), 1);
        json_int_t n = member_int(json_array_get(list, 0), "devices");
        http_result_free(&r);
        return n;
}

/* Users whose kept number of devices is not the count of their devices. */
#define DEVICE_COUNT_DRIFT                                                                         \
        "SELECT count(*) FROM server_users u WHERE devices <>"                                     \
        " (SELECT count(*) FROM server_devices d WHERE d.user_id = u.id)%s"

/* A user's number of devices (what sort=devices orders by) is kept as
 * devices are paired, revoked, deleted and moved, and a user written after
 * devices of it starts from their count. */
static void test_console_device_counts(void **state)
{
        struct http_result r;
        char id[25], other[25], device[29], path[160], sql[512];
        (void)state;

        console_user("dora", "dora@example.test", id);
        console_user("doris", "doris@example.test", other);
        assert_int_equal(listed_devices("dora%40"), 0);
        harness_pair_ok(&dA, "dora", USER_PASSWORD, "vault-d", NULL, device);
        harness_pair_ok(&dA, "dora", USER_PASSWORD, "vault-e", NULL, NULL);
        assert_int_equal(listed_devices("dora%40"), 2);
        /* Revoked devices still count; deleted ones do not. */
        snprintf(path, sizeof(path), "/admin/api/devices/%s/revoke", device);
        console_ok("POST", path, CONFIRMED, &r);
        http_result_free(&r);
        assert_int_equal(listed_devices("dora%40"), 2);
        snprintf(path, sizeof(path), "/admin/api/devices/%s", device);
        console_ok("DELETE", path, CONFIRMED, &r);
        http_result_free(&r);
        assert_int_equal(listed_devices("dora%40"), 1);
        /* Moved to another user. */
        snprintf(sql, sizeof(sql), "UPDATE server_devices SET user_id = '%s' WHERE user_id = '%s'",
                 other, id);
        assert_int_equal(harness_db_exec(&dA, sql), 0);
        assert_int_equal(listed_devices("dora%40"), 0);
        assert_int_equal(listed_devices("doris%40"), 1);
        /* A device row first, its user after (as a copy of a database
         * writes them, table by table). */
        assert_int_equal(harness_db_exec(&dA,
                                         "INSERT INTO server_devices (id, name, api_key,"
                                         " user_id, vault_id, created_at) VALUES"
                                         " ('dev-early', 'early', 'early-key', 'late-user',"
                                         " 'v', '2026-01-01T00:00:00Z');"
                                         "INSERT INTO server_users (id, username, email,"
                                         " password_hash, confirmed, created_at) VALUES"
                                         " ('late-user', 'latecomer', 'latecomer@example.test',"
                                         " 'x', 1, '2026-01-01T00:00:00Z')"),
                         0);
        assert_int_equal(listed_devices("latecomer"), 1);
        /* The user with the most devices comes first. */
        console_ok("GET", "/admin/api/users?per_page=1&sort=devices&q=dor", NULL, &r);
        assert_string_equal(
                member_str(json_array_get(json_object_get(r.json, "users"), 0), "username"),
                "doris");
        http_result_free(&r);
        assert_int_equal(db_count(&dA, DEVICE_COUNT_DRIFT, ""), 0);
}

static void test_console_vaults(void **state)
{
        struct http_result r;
        char id[25], path[200], sha[65], sql[512];
        (void)state;

        console_user("ivan", "ivan@example.test", id);
        assert_int_equal(harness_pair(&dA, "ivan", USER_PASSWORD, "vault-i", NULL, NULL), 200);
        put_blob_file(&dA, "ivan's attachment", sha);
        snprintf(sql, sizeof(sql),
                 "INSERT INTO server_blobs VALUES ('%1$s', 17, '2026-01-01T00:00:00Z');"
                 "INSERT INTO server_blob_refs VALUES ('%2$s', 'vault-i', '%1$s', 17,"
                 " '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
                 sha, id);
        assert_int_equal(harness_db_exec(&dA, sql), 0);
        snprintf(path, sizeof(path), "/admin/api/vaults?user_id=%s", id);
        console_ok("GET", path, NULL, &r);
        assert_int_equal(member_int(r.json, "total"), 1);
        json_t *v = json_array_get(json_object_get(r.json, "vaults"), 0);
        assert_string_equal(member_str(v, "username"), "ivan");
        assert_string_equal(member_str(v, "vault_id"), "vault-i");
        assert_int_equal(member_int(v, "devices"), 1);
        assert_int_equal(member_int(v, "active_devices"), 1);
        assert_int_equal(member_int(v, "ops"), 0);
        assert_int_equal(member_int(v, "blobs"), 1);
        assert_int_equal(member_int(v, "blob_bytes"), 17);
        http_result_free(&r);
        snprintf(path, sizeof(path), "/admin/api/vaults/%s/vault-i", id);
        console_ok("GET", path, NULL, &r);
        assert_string_equal(member_str(json_object_get(r.json, "vault"), "vault_id"), "vault-i");
        assert_int_equal(json_array_size(json_object_get(r.json, "devices")), 1);
        http_result_free(&r);
        snprintf(path, sizeof(path), "/admin/api/vaults/%s/elsewhere", id);
        console("GET", path, NULL, &r);
        http_assert_error(&r, 404, "not_found", NULL);
        http_result_free(&r);
        console_ok("GET", "/admin/api/vaults?per_page=1&page=1", NULL, &r);
        assert_true(member_int(r.json, "total") >= 2);
        json_t *first = json_array_get(json_object_get(r.json, "vaults"), 0);
        char first_key[160];
        snprintf(first_key, sizeof(first_key), "%s/%s", member_str(first, "user_id"),
                 member_str(first, "vault_id"));
        http_result_free(&r);
        /* A later page holds the next vault, not the first one again. */
        console_ok("GET", "/admin/api/vaults?per_page=1&page=2", NULL, &r);
        assert_int_equal(json_array_size(json_object_get(r.json, "vaults")), 1);
        json_t *second = json_array_get(json_object_get(r.json, "vaults"), 0);
        char second_key[160];
        snprintf(second_key, sizeof(second_key), "%s/%s", member_str(second, "user_id"),
                 member_str(second, "vault_id"));
        assert_true(strcmp(first_key, second_key) < 0);
        http_result_free(&r);
}

static void test_console_storage(void **state)
{
        struct http_result r;
        char orphan[65], sql[512];
        (void)state;

        put_blob_file(&dA, "nobody's file", orphan);
        console_ok("GET", "/admin/api/storage", NULL, &r);
        assert_true(member_int(r.json, "database_bytes") > 0);
        assert_int_equal(member_int(r.json, "temp_uploads"), 0);
        http_result_free(&r);
        /* Dry run first: counts, removes nothing. */
        console_ok("POST", "/admin/api/storage/gc", "{\"dry_run\":true}", &r);
        assert_true(member_int(r.json, "orphan_files") >= 1);
        http_result_free(&r);
        assert_true(blob_file_exists(&dA, orphan));
        age_admin_sessions();
        console("POST", "/admin/api/storage/gc", "{\"dry_run\":false}", &r);
        http_assert_error(&r, 400, "invalid_request", "admin_password required");
        http_result_free(&r);
        console_ok("POST", "/admin/api/storage/gc",
                   "{\"dry_run\":false,\"admin_password\":\"" ADMIN_PASSWORD "\"}", &r);
        assert_true(member_int(r.json, "files_removed") >= 1);
        http_result_free(&r);
        assert_false(blob_file_exists(&dA, orphan));
        console_ok("POST", "/admin/api/storage/gc", "{}", &r);
        assert_int_equal(member_int(r.json, "orphan_files"), 0);
        http_result_free(&r);

        /* Retention now: an expired session goes (dated relative to now). */
        time_t past = time(NULL) - 3600;
        char when[32];
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&past));
        snprintf(sql, sizeof(sql),
                 "INSERT INTO server_sessions VALUES ('expired-th', 'c', 'user', 'x', '%s',"
                 " '%s', '%s')",
                 when, when, when);
        assert_int_equal(harness_db_exec(&dA, sql), 0);
        console_ok("GET", "/admin/api/storage", NULL, &r);
        assert_true(member_int(r.json, "expired_sessions") >= 1);
        http_result_free(&r);
        console_ok("POST", "/admin/api/storage/retention", "{}", &r);
        assert_string_equal(http_result_string(&r, "status"), "ok");
        http_result_free(&r);
        assert_int_equal(db_count(&dA,
                                  "SELECT count(*) FROM server_sessions WHERE token_hash = '%s'",
                                  "expired-th"),
                         0);
        console_ok("GET", "/admin/api/stats", NULL, &r);
        assert_int_equal(member_int(r.json, "expired_sessions"), 0);
        assert_true(strlen(member_str(r.json, "last_cleanup_at")) == 20);
        http_result_free(&r);
}

static void test_console_audit(void **state)
{
        struct http_result r;
        char path[256], from[32], to[32];
        time_t now = time(NULL), before = now - 86400, after = now + 86400;
        (void)state;

        console_ok("GET", "/admin/api/audit?event=admin_login&per_page=2", NULL, &r);
        json_t *list = json_object_get(r.json, "entries");
        assert_int_equal(json_array_size(list), 2);
        assert_true(member_int(r.json, "total") >= 2);
        assert_string_equal(member_str(json_array_get(list, 0), "event"), "admin_login");
        /* Newest first. */
        assert_true(member_int(json_array_get(list, 0), "id") >
                    member_int(json_array_get(list, 1), "id"));
        http_result_free(&r);
        console_ok("GET", "/admin/api/audit?severity=critical&per_page=100", NULL, &r);
        list = json_object_get(r.json, "entries");
        assert_true(json_array_size(list) >= 1);
        for (size_t i = 0; i < json_array_size(list); i++) {
                const char *e = member_str(json_array_get(list, i), "event");
                assert_true(strcmp(e, "admin_user_deleted") == 0 ||
                            strcmp(e, "admin_device_deleted") == 0 ||
                            strcmp(e, "admin_added") == 0 || strcmp(e, "admin_removed") == 0);
        }
        http_result_free(&r);
        strftime(from, sizeof(from), "%Y-%m-%d", gmtime(&before));
        strftime(to, sizeof(to), "%Y-%m-%dT%H:%M:%SZ", gmtime(&after));
        snprintf(path, sizeof(path), "/admin/api/audit?from=%s&to=%s&event=admin_login", from, to);
        console_ok("GET", path, NULL, &r);
        assert_true(member_int(r.json, "total") >= 2);
        http_result_free(&r);
        strftime(from, sizeof(from), "%Y-%m-%d", gmtime(&after));
        snprintf(path, sizeof(path), "/admin/api/audit?from=%s", from);
        console_ok("GET", path, NULL, &r);
        assert_int_equal(member_int(r.json, "total"), 0);
        http_result_free(&r);
        /* By user. */
        char uid[25];
        console_user("judy", "judy@example.test", uid);
        snprintf(path, sizeof(path), "/admin/api/audit?user_id=%s", uid);
        /* Audit entries are written in the background: wait (bounded). */
        console_ok("GET", path, NULL, &r);
        struct harness_deadline dl = harness_deadline_in(15000);
        while (member_int(r.json, "total") < 1 && harness_pause(&dl)) {
                http_result_free(&r);
                console_ok("GET", path, NULL, &r);
        }
        assert_int_equal(member_int(r.json, "total"), 1);
        assert_string_equal(
                member_str(json_array_get(json_object_get(r.json, "entries"), 0), "username"),
                "judy");
        http_result_free(&r);
        const char *bad[] = {"from=yesterday", "severity=loud", "to=2026-13-45", "per_page=0"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                snprintf(path, sizeof(path), "/admin/api/audit?%s", bad[i]);
                console("GET", path, NULL, &r);
                assert_int_equal(r.status, 400);
                http_result_free(&r);
        }
        console_ok("GET", "/admin/api/audit/events", NULL, &r);
        assert_true(json_array_size(json_object_get(r.json, "events")) > 10);
        http_result_free(&r);
}

/* Every trigger-kept counter of /admin/api/stats against counting. */
static void expect_counters_exact(void)
{
        struct http_result r;

        static const struct {
                const char *key, *sql;
        } truth[] = {
                {"users", "SELECT count(*) FROM server_users%s"},
                {"blocked_users", "SELECT count(*) FROM server_users WHERE blocked <> 0%s"},
                {"unconfirmed_users",
                 "SELECT count(*) FROM server_users WHERE blocked = 0 AND confirmed = 0%s"},
                {"active_devices",
                 "SELECT count(*) FROM server_devices WHERE coalesce(revoked_at, '') = ''%s"},
                {"revoked_devices",
                 "SELECT count(*) FROM server_devices WHERE coalesce(revoked_at, '') <> ''%s"},
                {"vaults",
                 "SELECT count(*) FROM (SELECT DISTINCT user_id, vault_id FROM"
                 " server_devices WHERE user_id IS NOT NULL AND vault_id IS NOT NULL) AS scopes%s"},
                {"operations", "SELECT count(*) FROM server_ops%s"},
                {"blobs", "SELECT count(*) FROM server_blobs%s"},
                {"blob_bytes", "SELECT coalesce(sum(size), 0) FROM server_blobs%s"},
                {"blob_references", "SELECT count(*) FROM server_blob_refs%s"},
                {"orphan_blobs", "SELECT count(*) FROM server_blobs b WHERE NOT EXISTS"
                                 " (SELECT 1 FROM server_blob_refs r WHERE r.sha256 = b.sha256)%s"},
        };
        console_ok("GET", "/admin/api/stats", NULL, &r);
        for (size_t i = 0; i < ELEMENTSOF(truth); i++) {
                long long want = db_count(&dA, truth[i].sql, "");
                if (member_int(r.json, truth[i].key) != want)
                        fprintf(stderr, "%s: %lld expected\n", truth[i].key, want);
                assert_int_equal(member_int(r.json, truth[i].key), want);
        }
        http_result_free(&r);
}

/* Counters of distinct things (vaults: scopes with a device; referenced
 * blobs) stay exact when one statement touches a scope twice (deleting a
 * user with two devices in one vault and a blob in two of its vaults) and,
 * on PostgreSQL, when two sessions (two daemons) add or remove the first
 * or last member of one scope at the same time. */
static void test_console_counters_exact(void **state)
{
        struct http_result r;
        char id[25], path[128], now[32];
        static const char sha[] =
                "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";
        (void)state;

        harness_time_ago(now, 0);
        console_user("quinn", "quinn@example.test", id);
        harness_pair_ok(&dA, "quinn", USER_PASSWORD, "vault-q", NULL, NULL);
        harness_pair_ok(&dA, "quinn", USER_PASSWORD, "vault-q", NULL, NULL);
        harness_sql(&dA,
                    "INSERT INTO server_blobs VALUES (%Q, 5, %Q);"
                    "INSERT INTO server_blob_refs VALUES (%Q, 'vault-q', %Q, 5, %Q, %Q),"
                    " (%Q, 'vault-r', %Q, 5, %Q, %Q)",
                    sha, now, id, sha, now, now, id, sha, now, now);
        expect_counters_exact();
        snprintf(path, sizeof(path), "/admin/api/users/%s", id);
        console_ok("DELETE", path, CONFIRMED, &r);
        http_result_free(&r);
        expect_counters_exact();

        if (!harness_on_pg())
                return; /* one writer at a time: nothing races */
        static const char device[] = "INSERT INTO server_devices (id, name, api_key, user_id,"
                                     " vault_id, created_at) VALUES ('%s', 'racer', '%s',"
                                     " 'race-user', 'race-vault', '2026-01-01T00:00:00Z')";
        static const char ref[] = "INSERT INTO server_blob_refs VALUES ('%s', 'race-vault',"
                                  " '%s', 5, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')";
        char sql_a[512], sql_b[512];
        snprintf(sql_a, sizeof(sql_a), device, "race-a", "race-key-a");
        snprintf(sql_b, sizeof(sql_b), device, "race-b", "race-key-b");
        assert_int_equal(harness_pg_race(&dA, sql_a, sql_b), 1);
        expect_counters_exact();
        assert_int_equal(harness_pg_race(&dA, "DELETE FROM server_devices WHERE id = 'race-a'",
                                         "DELETE FROM server_devices WHERE id = 'race-b'"),
                         1);
        expect_counters_exact();
        harness_sql(&dA, "INSERT INTO server_blobs VALUES (%Q, 5, %Q)", sha, now);
        snprintf(sql_a, sizeof(sql_a), ref, "race-user-a", sha);
        snprintf(sql_b, sizeof(sql_b), ref, "race-user-b", sha);
        assert_int_equal(harness_pg_race(&dA, sql_a, sql_b), 1);
        expect_counters_exact();
        assert_int_equal(
                harness_pg_race(&dA, "DELETE FROM server_blob_refs WHERE user_id = 'race-user-a'",
                                "DELETE FROM server_blob_refs WHERE user_id = 'race-user-b'"),
                1);
        harness_sql(&dA, "DELETE FROM server_blobs WHERE sha256 = %Q", sha);
        expect_counters_exact();
}

static void test_console_overview_settings(void **state)
{
        struct http_result r;
        (void)state;

        console_ok("GET", "/admin/api/overview", NULL, &r);
        json_t *stats = json_object_get(r.json, "stats");
        long long users = db_count(&dA, "SELECT count(*) FROM server_users%s", "");
        assert_int_equal(member_int(stats, "users"), users);
        assert_int_equal(member_int(stats, "active_users") + member_int(stats, "blocked_users") +
                                 member_int(stats, "unconfirmed_users"),
                         users);
        /* public_url is set, SMTP is not. */
        json_t *w = json_object_get(r.json, "warnings");
        bool smtp = false;
        for (size_t i = 0; i < json_array_size(w); i++) {
                const char *s = json_string_value(json_array_get(w, i));
                assert_string_not_equal(s, "public_url_unset");
                smtp = smtp || strcmp(s, "smtp_not_configured") == 0;
        }
        assert_true(smtp);
        assert_true(json_array_size(json_object_get(r.json, "audit")) >= 1);
        http_result_free(&r);

        /* The trigger-kept counters agree with counting, after every
         * create, block, confirm, revoke and delete of the tests above. */
        expect_counters_exact();

        console_ok("GET", "/admin/api/settings", NULL, &r);
        assert_string_equal(http_result_string(&r, "public_url"), PUBLIC_URL);
        json_t *smtp_s = json_object_get(r.json, "smtp");
        json_t *from = json_object_get(smtp_s, "from");
        assert_string_equal(member_str(from, "value"), SENDER);
        assert_string_equal(member_str(from, "source"), "config");
        assert_string_equal(member_str(json_object_get(smtp_s, "port"), "source"), "default");
        assert_string_equal(
                json_string_value(json_array_get(json_object_get(r.json, "trusted_proxies"), 0)),
                "127.0.0.1/32");
        assert_null(strstr(r.body, "password_file"));
        assert_null(strstr(r.body, dA.data_dir));
        http_result_free(&r);

        const char *h[] = {boss.cookie, NULL};
        http_call(&dA, "GET", "/admin/api/diagnostics?download=1", NULL, NULL, NULL, h, &r);
        assert_int_equal(r.status, 200);
        char *cd = http_result_header(&r, "Content-Disposition");
        assert_non_null(cd);
        assert_non_null(strstr(cd, "attachment"));
        free(cd);
        assert_int_equal(member_int(r.json, "schema_version"), 9);
        assert_non_null(json_object_get(r.json, "counts"));
        /* Nothing sensitive: no paths, addresses, tokens or hashes. */
        assert_null(strstr(r.body, dA.data_dir));
        assert_null(strstr(r.body, "@"));
        assert_null(strstr(r.body, boss.token));
        assert_null(strstr(r.body, "$argon2"));
        http_result_free(&r);
}

static void test_console_admins(void **state)
{
        struct http_result r;
        char path[160], self_id[64], other_id[64];
        (void)state;

        console_ok("GET", "/admin/api/admins", NULL, &r);
        snprintf(self_id, sizeof(self_id), "%s", http_result_string(&r, "self_id"));
        assert_null(strstr(r.body, "password_hash"));
        http_result_free(&r);
        const char *bad[] = {
                "{\"username\":\"ops\",\"password\":\"ops-Pa55-word\"}",
                "{\"username\":\"ops\",\"password\":\"short\",\"admin_password\":\"" ADMIN_PASSWORD
                "\"}",
                "{\"password\":\"ops-Pa55-word\",\"admin_password\":\"" ADMIN_PASSWORD "\"}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                console("POST", "/admin/api/admins", bad[i], &r);
                assert_int_equal(r.status, 400);
                http_result_free(&r);
        }
        const char *add = "{\"username\":\"ops\",\"password\":\"ops-Pa55-word\","
                          "\"admin_password\":\"" ADMIN_PASSWORD "\"}";
        harness_note_secret("ops-Pa55-word");
        console_ok("POST", "/admin/api/admins", add, &r);
        snprintf(other_id, sizeof(other_id), "%s", http_result_string(&r, "id"));
        http_result_free(&r);
        console("POST", "/admin/api/admins", add, &r);
        http_assert_error(&r, 409, "conflict", NULL);
        http_result_free(&r);
        struct admin_session ops;
        admin_login_ok(&dA, "ops", "ops-Pa55-word", &ops);

        /* Never oneself. */
        snprintf(path, sizeof(path), "/admin/api/admins/%s", self_id);
        console("DELETE", path, CONFIRMED, &r);
        http_assert_error(&r, 409, "conflict", "an administrator cannot remove itself");
        http_result_free(&r);
        /* Another one: gone, and so is its session. */
        snprintf(path, sizeof(path), "/admin/api/admins/%s", other_id);
        console_ok("DELETE", path, CONFIRMED, &r);
        http_result_free(&r);
        const char *as_ops[] = {ops.cookie, NULL};
        assert_int_equal(get_status(&dA, "/admin/api/me", as_ops), 401);
        console("DELETE", path, CONFIRMED, &r);
        http_assert_error(&r, 404, "not_found", NULL);
        http_result_free(&r);

        /* The last administrator stays: remove every other one, then the
         * database refuses to lose the last. */
        console_ok("GET", "/admin/api/admins", NULL, &r);
        json_t *list = json_object_get(r.json, "admins");
        for (size_t i = 0; i < json_array_size(list); i++) {
                const char *id = member_str(json_array_get(list, i), "id");
                if (strcmp(id, self_id) == 0)
                        continue;
                struct http_result d;
                snprintf(path, sizeof(path), "/admin/api/admins/%s", id);
                console_ok("DELETE", path, CONFIRMED, &d);
                http_result_free(&d);
        }
        http_result_free(&r);
        assert_int_equal(db_count(&dA, "SELECT count(*) FROM server_admins%s", ""), 1);
        snprintf(path, sizeof(path), "/admin/api/admins/%s", self_id);
        console("DELETE", path, CONFIRMED, &r);
        http_assert_error(&r, 409, "conflict", "the last administrator cannot be removed");
        http_result_free(&r);
        assert_int_equal(db_count(&dA, "SELECT count(*) FROM server_admins%s", ""), 1);

        /* Changing one's own password. */
        console("POST", "/admin/api/admins/password",
                "{\"admin_password\":\"wrong\",\"new_password\":\"boss-New-pass-2\"}", &r);
        http_assert_error(&r, 403, "password_confirmation_failed", NULL);
        http_result_free(&r);
        console("POST", "/admin/api/admins/password",
                "{\"admin_password\":\"" ADMIN_PASSWORD "\",\"new_password\":\"short\"}", &r);
        assert_int_equal(r.status, 400);
        http_result_free(&r);
        harness_note_secret("boss-New-pass-2");
        console_ok("POST", "/admin/api/admins/password",
                   "{\"admin_password\":\"" ADMIN_PASSWORD
                   "\",\"new_password\":\"boss-New-pass-2\"}",
                   &r);
        http_result_free(&r);
        admin_login(&dA, ADMIN_USER, ADMIN_PASSWORD, NULL, &r);
        assert_int_equal(r.status, 401);
        http_result_free(&r);
        struct admin_session again;
        admin_login_ok(&dA, ADMIN_USER, "boss-New-pass-2", &again);
        /* Back to the suite's password. */
        const char *h[] = {again.cookie, again.csrf_header, NULL};
        http_call(&dA, "POST", "/admin/api/admins/password", NULL, JSON,
                  "{\"admin_password\":\"boss-New-pass-2\",\"new_password\":\"" ADMIN_PASSWORD
                  "\"}",
                  h, &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
}

/* Register on d with an optional invitation; the status. */
static long register_with(const struct daemon *d, const char *name, const char *email,
                          const char *invitation)
{
        struct http_result r;
        char body[512];
        long st;

        snprintf(body, sizeof(body),
                 "{\"username\":\"%s\",\"email\":\"%s\",\"password\":\"" USER_PASSWORD "\"%s%s%s}",
                 name, email, invitation ? ",\"invitation\":\"" : "", invitation ? invitation : "",
                 invitation ? "\"" : "");
        http_call(d, "POST", "/api/v1/auth/register", NULL, JSON, body, NULL, &r);
        st = r.status;
        if (st != 200)
                fprintf(stderr, "register %s: %ld %s\n", name, st, r.body);
        http_result_free(&r);
        return st;
}

static void test_console_invitations(void **state)
{
        static const char config_closed[] = "trusted_proxies: [\"127.0.0.1\"]\n"
                                            "web:\n  allow_registration: false\n";
        struct daemon dB = {0};
        struct admin_session s;
        struct http_result r;
        char token[80], bound[80], expired[80], path[160], sql[256], when[32];
        (void)state;

        assert_int_equal(start_daemon(&dB, config_closed), 0);
        admin_login_ok(&dB, ADMIN_USER, ADMIN_PASSWORD, &s);
        const char *h[] = {s.cookie, s.csrf_header, NULL};
        assert_int_equal(register_with(&dB, "kim", "kim@example.test", NULL), 403);

        const char *bad[] = {"{\"hours\":0}", "{\"hours\":721}", "{\"email\":\"nope\"}"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                http_call(&dB, "POST", "/admin/api/invitations", NULL, JSON, bad[i], h, &r);
                assert_int_equal(r.status, 400);
                http_result_free(&r);
        }
        /* An open invitation: works once. */
        http_call(&dB, "POST", "/admin/api/invitations", NULL, JSON, "{}", h, &r);
        assert_int_equal(r.status, 200);
        assert_header(&r, "Cache-Control", "no-store");
        snprintf(token, sizeof(token), "%s", http_result_string(&r, "token"));
        harness_note_secret(token);
        /* No public_url: no link built on the Host header. */
        assert_true(json_is_null(json_object_get(r.json, "url")));
        http_result_free(&r);
        assert_int_equal(db_count(&dB,
                                  "SELECT count(*) FROM server_invitations WHERE token_hash = '%s'",
                                  token),
                         0);
        assert_int_equal(register_with(&dB, "kim", "kim@example.test", "0123abcd"), 403);
        assert_int_equal(register_with(&dB, "kim", "kim@example.test", token), 200);
        assert_int_equal(register_with(&dB, "lee", "lee@example.test", token), 403);
        http_call(&dB, "GET", "/admin/api/invitations", NULL, NULL, NULL, h, &r);
        assert_int_equal(r.status, 200);
        json_t *inv = json_array_get(json_object_get(r.json, "invitations"), 0);
        assert_string_equal(member_str(inv, "used_by"), "kim");
        assert_string_equal(member_str(inv, "created_by"), ADMIN_USER);
        assert_null(strstr(r.body, token));
        snprintf(path, sizeof(path), "/admin/api/invitations/%s", member_str(inv, "id"));
        http_result_free(&r);
        /* A used invitation cannot be withdrawn any more. */
        http_call(&dB, "DELETE", path, NULL, NULL, NULL, h, &r);
        assert_int_equal(r.status, 404);
        http_result_free(&r);

        /* Bound to an address: only that one. */
        http_call(&dB, "POST", "/admin/api/invitations", NULL, JSON,
                  "{\"email\":\"Mia@Example.test\",\"hours\":2}", h, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(http_result_string(&r, "email"), "mia@example.test");
        snprintf(bound, sizeof(bound), "%s", http_result_string(&r, "token"));
        harness_note_secret(bound);
        http_result_free(&r);
        http_call(
                &dB, "POST", "/api/v1/auth/register", NULL, JSON,
                "{\"username\":\"eve\",\"email\":\"eve@example.test\",\"password\":\"" USER_PASSWORD
                "\",\"invitation\":\"x\"}",
                NULL, &r);
        http_assert_error(&r, 403, "invitation_invalid", NULL);
        http_result_free(&r);
        char body[512];
        snprintf(
                body, sizeof(body),
                "{\"username\":\"eve\",\"email\":\"eve@example.test\",\"password\":\"" USER_PASSWORD
                "\",\"invitation\":\"%s\"}",
                bound);
        http_call(&dB, "POST", "/api/v1/auth/register", NULL, JSON, body, NULL, &r);
        http_assert_error(&r, 403, "invitation_email_mismatch", NULL);
        http_result_free(&r);
        assert_int_equal(register_with(&dB, "mia", "mia@example.test", bound), 200);

        /* Expired (dated relative to now): refused. */
        http_call(&dB, "POST", "/admin/api/invitations", NULL, JSON, "{\"hours\":1}", h, &r);
        assert_int_equal(r.status, 200);
        snprintf(expired, sizeof(expired), "%s", http_result_string(&r, "token"));
        harness_note_secret(expired);
        char expired_id[64];
        snprintf(expired_id, sizeof(expired_id), "%s", http_result_string(&r, "id"));
        http_result_free(&r);
        time_t past = time(NULL) - 60;
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&past));
        snprintf(sql, sizeof(sql),
                 "UPDATE server_invitations SET expires_at = '%s' WHERE id = '%s'", when,
                 expired_id);
        assert_int_equal(harness_db_exec(&dB, sql), 0);
        snprintf(
                body, sizeof(body),
                "{\"username\":\"ned\",\"email\":\"ned@example.test\",\"password\":\"" USER_PASSWORD
                "\",\"invitation\":\"%s\"}",
                expired);
        http_call(&dB, "POST", "/api/v1/auth/register", NULL, JSON, body, NULL, &r);
        http_assert_error(&r, 403, "invitation_expired", NULL);
        http_result_free(&r);
        /* Withdrawn: gone. */
        snprintf(path, sizeof(path), "/admin/api/invitations/%s", expired_id);
        http_call(&dB, "DELETE", path, NULL, NULL, NULL, h, &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        assert_int_equal(db_count(&dB, "SELECT count(*) FROM server_invitations WHERE id = '%s'",
                                  expired_id),
                         0);
        assert_int_equal(db_count(&dB, "SELECT count(*) FROM server_users%s", ""), 2);
        harness_destroy(&dB);
}

/* The total headers every list answer carries. */
static void expect_total_headers(const struct http_result *r, const char *count, bool capped)
{
        char *n = http_result_header(r, "X-Total-Count"),
             *c = http_result_header(r, "X-Total-Capped");

        assert_non_null(n);
        assert_non_null(c);
        assert_string_equal(n, count);
        assert_string_equal(c, capped ? "true" : "false");
        free(n);
        free(c);
}

/* 10 050 rows, i = 0 .. 10 049, in SQL either back end runs: CAP_N is i
 * five digits wide, CAP_AT "%s" a created_at that grows with i (the
 * second of harness_time_ago() with i as its fraction). */
#define CAP_ROWS "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 10049) "
#define CAP_N    "substr(CAST(100000 + i AS TEXT), 2)"
#define CAP_AT   "'%.19s.' || " CAP_N " || 'Z'"

/* More matches than STORE_COUNT_CAP (10 000): the total stops at the cap
 * plus one and says it is capped, and pages past the cap still come. */
static void test_console_capped_totals(void **state)
{
        struct http_result r;
        char now[32], sql[2048];
        (void)state;

        /* 10 050 users, audit entries and devices (one for each of those
         * users), written directly (the console would take minutes). */
        harness_time_ago(now, 60);
        snprintf(sql, sizeof(sql),
                 CAP_ROWS
                 "INSERT INTO server_users (id, username, email, password_hash,"
                 " confirmed, blocked, created_at)"
                 " SELECT 'cap' || " CAP_N ", 'capped' || " CAP_N ", 'capped' || " CAP_N
                 " || '@example.test', 'x', 1, i %% 2, " CAP_AT " FROM n;" CAP_ROWS
                 "INSERT INTO server_audit_log (event_type, user_id, ip, message,"
                 " created_at)"
                 " SELECT 'login', 'cap-audit', '10.0.0.1', 'n' || " CAP_N ", " CAP_AT
                 " FROM n;" CAP_ROWS
                 "INSERT INTO server_devices (id, name, api_key, user_id, vault_id,"
                 " client_version, created_at)"
                 " SELECT 'capdev' || " CAP_N ", 'laptop ' || " CAP_N ", 'capkey' || " CAP_N
                 ", 'cap' || " CAP_N ","
                 " CASE WHEN i < 10 THEN 'vault-few' ELSE 'vault-many' END, 'capped/1', " CAP_AT
                 " FROM n;",
                 now, now, now);
        assert_int_equal(harness_db_exec(&dA, sql), 0);

        /* A search (the trigram index), and a search with a status. */
        console_ok("GET", "/admin/api/users?q=capped", NULL, &r);
        assert_int_equal(member_int(r.json, "total"), 10001);
        assert_true(json_is_true(json_object_get(r.json, "total_capped")));
        assert_int_equal(json_array_size(json_object_get(r.json, "users")), 20);
        expect_total_headers(&r, "10001", true);
        http_result_free(&r);
        console_ok("GET", "/admin/api/users?q=capped&status=blocked", NULL, &r);
        assert_int_equal(member_int(r.json, "total"), 5025);
        assert_true(json_is_false(json_object_get(r.json, "total_capped")));
        expect_total_headers(&r, "5025", false);
        http_result_free(&r);
        /* Past the cap: rows 10 040..10 049 by name, then nothing (a search
         * this broad is answered by walking the sort order, in any case). */
        console_ok("GET", "/admin/api/users?q=CAPPED&sort=username&order=asc&page=503", NULL, &r);
        assert_int_equal(member_int(r.json, "page"), 503);
        assert_true(json_is_true(json_object_get(r.json, "total_capped")));
        json_t *list = json_object_get(r.json, "users");
        assert_int_equal(json_array_size(list), 10);
        assert_string_equal(member_str(json_array_get(list, 0), "username"), "capped10040");
        assert_string_equal(member_str(json_array_get(list, 9), "username"), "capped10049");
        http_result_free(&r);
        console_ok("GET", "/admin/api/users?q=capped&page=504", NULL, &r);
        assert_int_equal(json_array_size(json_object_get(r.json, "users")), 0);
        http_result_free(&r);
        /* A narrower search is cut from its matches. */
        console_ok("GET", "/admin/api/users?q=Capped0004&sort=username&order=desc", NULL, &r);
        assert_int_equal(member_int(r.json, "total"), 10);
        assert_true(json_is_false(json_object_get(r.json, "total_capped")));
        list = json_object_get(r.json, "users");
        assert_int_equal(json_array_size(list), 10);
        assert_string_equal(member_str(json_array_get(list, 0), "username"), "capped00049");
        http_result_free(&r);
        /* Without a filter the total is the exact counter. */
        console_ok("GET", "/admin/api/users", NULL, &r);
        assert_int_equal(member_int(r.json, "total"),
                         db_count(&dA, "SELECT count(*) FROM server_users%s", ""));
        assert_true(member_int(r.json, "total") > 10050);
        assert_true(json_is_false(json_object_get(r.json, "total_capped")));
        http_result_free(&r);

        /* The audit log by user: capped, newest first, the oldest page last. */
        console_ok("GET", "/admin/api/audit?user_id=cap-audit&per_page=100", NULL, &r);
        assert_int_equal(member_int(r.json, "total"), 10001);
        assert_true(json_is_true(json_object_get(r.json, "total_capped")));
        list = json_object_get(r.json, "entries");
        assert_int_equal(json_array_size(list), 100);
        assert_string_equal(member_str(json_array_get(list, 0), "message"), "n10049");
        http_result_free(&r);
        console_ok("GET", "/admin/api/audit?user_id=cap-audit&per_page=100&page=101", NULL, &r);
        list = json_object_get(r.json, "entries");
        assert_int_equal(json_array_size(list), 50);
        assert_string_equal(member_str(json_array_get(list, 0), "message"), "n00049");
        assert_string_equal(member_str(json_array_get(list, 49), "message"), "n00000");
        http_result_free(&r);
        /* The whole log's total is its counter: exact, past the cap. */
        console_ok("GET", "/admin/api/audit", NULL, &r);
        assert_true(member_int(r.json, "total") > 10050);
        assert_true(json_is_false(json_object_get(r.json, "total_capped")));
        http_result_free(&r);

        /* Devices and keys (bare arrays): the same in the headers; past
         * the cap, newest first, the oldest 50, then nothing. */
        static const char *const lists[] = {"devices", "keys"};
        static const struct {
                const char *query;
                size_t n;
                const char *first, *last;
        } pages[] = {
                {"", 20, "capdev10049", "capdev10030"},
                {"&per_page=100&page=101", 50, "capdev00049", "capdev00000"},
                {"&per_page=100&page=102", 0, NULL, NULL},
        };
        char path[160], count[24];
        for (size_t i = 0; i < ELEMENTSOF(lists) * ELEMENTSOF(pages); i++) {
                size_t p = i % ELEMENTSOF(pages);
                snprintf(path, sizeof(path), "/admin/api/%s?client_version=capped%%2F1%s",
                         lists[i / ELEMENTSOF(pages)], pages[p].query);
                console_ok("GET", path, NULL, &r);
                expect_total_headers(&r, "10001", true);
                assert_int_equal(json_array_size(r.json), pages[p].n);
                if (pages[p].n > 0) {
                        assert_string_equal(member_str(json_array_get(r.json, 0), "id"),
                                            pages[p].first);
                        assert_string_equal(
                                member_str(json_array_get(r.json, pages[p].n - 1), "id"),
                                pages[p].last);
                }
                http_result_free(&r);
        }
        /* Below the cap a filtered total is exact. */
        console_ok("GET", "/admin/api/devices?vault_id=vault-few&client_version=capped%2F1", NULL,
                   &r);
        expect_total_headers(&r, "10", false);
        assert_int_equal(json_array_size(r.json), 10);
        http_result_free(&r);
        /* Unfiltered or by status: the counters, exact past the cap. */
        static const char *const counted[] = {"", "?status=active"};
        for (size_t i = 0; i < ELEMENTSOF(counted); i++) {
                snprintf(path, sizeof(path), "/admin/api/devices%s", counted[i]);
                console_ok("GET", path, NULL, &r);
                snprintf(count, sizeof(count), "%lld",
                         db_count(&dA, "SELECT count(*) FROM server_devices%s",
                                  i == 0 ? "" : " WHERE coalesce(revoked_at, '') = ''"));
                assert_true(strtoll(count, NULL, 10) > 10050);
                expect_total_headers(&r, count, false);
                http_result_free(&r);
        }
        /* Every user's number of devices was kept as the rows came. */
        assert_int_equal(db_count(&dA, DEVICE_COUNT_DRIFT, ""), 0);
        console_ok("GET", "/admin/api/users?q=capped00001&sort=devices", NULL, &r);
        assert_int_equal(member_int(json_array_get(json_object_get(r.json, "users"), 0), "devices"),
                         1);
        http_result_free(&r);
        /* A user's vaults are counted exactly. */
        console_ok("GET", "/admin/api/vaults?user_id=cap00000", NULL, &r);
        assert_int_equal(member_int(r.json, "total"), 1);
        expect_total_headers(&r, "1", false);
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
                cmocka_unit_test(test_console_gate),
                cmocka_unit_test(test_console_users),
                cmocka_unit_test(test_console_reset_password),
                cmocka_unit_test(test_console_delete_user),
                cmocka_unit_test(test_console_fresh_login_scripts),
                cmocka_unit_test(test_console_devices),
                cmocka_unit_test(test_console_device_counts),
                cmocka_unit_test(test_console_vaults),
                cmocka_unit_test(test_console_storage),
                cmocka_unit_test(test_console_audit),
                cmocka_unit_test(test_console_counters_exact),
                cmocka_unit_test(test_console_overview_settings),
                cmocka_unit_test(test_console_admins),
                cmocka_unit_test(test_console_invitations),
                cmocka_unit_test(test_console_capped_totals),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
