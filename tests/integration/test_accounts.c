/* SPDX-License-Identifier: MIT */
/*
 * Integration: accounts and web sessions against the real binary (api.md
 * §6, §8) — registration rules, confirmation page and links, login and
 * its cookies, CSRF, Bearer sessions, the user's devices, forgot/reset by
 * e-mail (read from the mail helper's outbox), expiry, restarts and rate
 * limits.  Every request comes "through" a trusted proxy with its own
 * X-Forwarded-For address, so the per-IP rate limits of one test never
 * touch another.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define PUBLIC_URL "https://sync.example.test"
#define JSON       "application/json"
#define FORM       "application/x-www-form-urlencoded"
#define PASSWORD   "correct horse"

/* Daemon A: public_url set, requests through a trusted proxy. */
static const char config_public[] = "public_url: \"" PUBLIC_URL "\"\n"
                                    "trusted_proxies: [\"127.0.0.1\"]\n";
/* Daemon B: no public_url, so links only for a loopback Host. */
static const char config_plain[] = "trusted_proxies: [\"127.0.0.1\"]\n";

static struct daemon dA;

/* Run as root (containers, CI), the daemon and its mail helper stay root
 * instead of switching to a system account this machine may not have. */
static const char *const *daemon_args(void)
{
        static const char *const as_root[] = {"--allow-root", NULL};
        return geteuid() == 0 ? as_root : NULL;
}

/* --- plumbing ------------------------------------------------------------ */

static void post_json(struct daemon *d, const char *path, const char *ip, const char *body,
                      const char *const *extra, struct http_result *res)
{
        http_call(d, "POST", path, ip, JSON, body, extra, res);
}

static bool has_attr(const char *line, const char *attr)
{
        char buf[64];
        snprintf(buf, sizeof(buf), "; %s", attr);
        for (const char *p = strstr(line, buf); p; p = strstr(p + 1, buf))
                if (p[strlen(buf)] == ';' || p[strlen(buf)] == '\0')
                        return true;
        return false;
}

/* Assert that the row `from_where` selects (a FROM/WHERE clause with one
 * %Q for arg) lives `hours` hours from its creation. */
static void assert_lifetime(struct daemon *d, const char *from_where, const char *arg, double hours)
{
        char sql[512];
        snprintf(sql, sizeof(sql), "SELECT expires_at, created_at %s", from_where);
        long long span = harness_sql_span(d, sql, arg);
        assert_true(span > (long long)(hours * 3600) - 36 && span < (long long)(hours * 3600) + 36);
}

/* The 48-hex token that follows prefix in a message; asserts it is there. */
static void mail_token(const char *mail, const char *prefix, char out[49])
{
        const char *p = strstr(mail, prefix);

        if (!p)
                fprintf(stderr, "no link %s in:\n%s\n", prefix, mail);
        assert_non_null(p);
        p += strlen(prefix);
        memcpy(out, p, 48);
        out[48] = '\0';
        for (size_t i = 0; i < 48; i++)
                assert_non_null(strchr("0123456789abcdef", out[i]));
        assert_true(p[48] == '\r' || p[48] == '\n');
}

/* --- account helpers ----------------------------------------------------- */

struct web_session {
        char token[80];
        char csrf[80];
        char user_id[32];
        char cookie_header[256]; /* "Cookie: user_session=…; csrf_token=…" */
        char csrf_header[128];   /* "X-CSRF-Token: …" */
        char bearer_header[128]; /* "Authorization: Bearer …" */
};

static void register_as(struct daemon *d, const char *ip, const char *user, const char *email,
                        const char *password, const char *const *extra)
{
        struct http_result r;
        json_t *body =
                json_pack("{s:s,s:s,s:s}", "username", user, "email", email, "password", password);
        char *text = json_dumps(body, JSON_COMPACT);

        post_json(d, "/api/v1/auth/register", ip, text, extra, &r);
        if (r.status != 200)
                fprintf(stderr, "register %s: %ld %s\n", user, r.status, r.body);
        assert_int_equal(r.status, 200);
        assert_string_equal(http_result_string(&r, "status"), "confirmation_sent");
        http_result_free(&r);
        free(text);
        json_decref(body);
}

/* Register and mark confirmed directly (for tests about something else). */
static void make_user(struct daemon *d, const char *user, const char *email)
{
        register_as(d, harness_fresh_ip(), user, email, PASSWORD, NULL);
        harness_sql(d, "UPDATE server_users SET confirmed = 1 WHERE username = %Q", user);
        free(harness_outbox_take(d, email, 2000)); /* not needed here */
}

static void login_with(struct daemon *d, const char *ip, const char *login, const char *password,
                       const char *const *extra, struct http_result *r)
{
        json_t *body = json_pack("{s:s,s:s}", "username", login, "password", password);
        char *text = json_dumps(body, JSON_COMPACT);

        post_json(d, "/api/v1/auth/login", ip, text, extra, r);
        free(text);
        json_decref(body);
}

static void session_from_login(const struct http_result *r, struct web_session *s)
{
        char *sc = http_result_set_cookie(r, "user_session"),
             *cc = http_result_set_cookie(r, "csrf_token");

        assert_non_null(sc);
        assert_non_null(cc);
        memset(s, 0, sizeof(*s));
        snprintf(s->token, sizeof(s->token), "%s", http_result_string(r, "token"));
        snprintf(s->user_id, sizeof(s->user_id), "%s", http_result_string(r, "user_id"));
        http_cookie_value(cc, s->csrf, sizeof(s->csrf));
        char cookie_token[80];
        http_cookie_value(sc, cookie_token, sizeof(cookie_token));
        assert_string_equal(cookie_token, s->token);
        snprintf(s->cookie_header, sizeof(s->cookie_header),
                 "Cookie: user_session=%s; csrf_token=%s", s->token, s->csrf);
        snprintf(s->csrf_header, sizeof(s->csrf_header), "X-CSRF-Token: %s", s->csrf);
        snprintf(s->bearer_header, sizeof(s->bearer_header), "Authorization: Bearer %s", s->token);
        free(sc);
        free(cc);
}

static void login_ok(struct daemon *d, const char *login, const char *password,
                     struct web_session *s)
{
        struct http_result r;

        login_with(d, harness_fresh_ip(), login, password, NULL, &r);
        if (r.status != 200)
                fprintf(stderr, "login %s: %ld %s\n", login, r.status, r.body);
        assert_int_equal(r.status, 200);
        session_from_login(&r, s);
        http_result_free(&r);
}

/* GET /api/v1/user/devices with the given headers; returns the status. */
static long devices_status(struct daemon *d, const char *const *headers)
{
        struct http_result r;
        long st;

        http_call(d, "GET", "/api/v1/user/devices", harness_fresh_ip(), NULL, NULL, headers, &r);
        st = r.status;
        http_result_free(&r);
        return st;
}

/* Pair a device for user; returns its id in out. */
static void pair_device(struct daemon *d, const char *login, const char *vault, char out[64],
                        char token_out[80])
{
        struct http_result r;
        char body[512];

        snprintf(body, sizeof(body),
                 "{\"login\":\"%s\",\"password\":\"" PASSWORD "\",\"vault_id\":\"%s\","
                 "\"device_name\":\"laptop\",\"client_version\":\"1.2\"}",
                 login, vault);
        post_json(d, "/api/client/pair", harness_fresh_ip(), body, NULL, &r);
        if (r.status != 200)
                fprintf(stderr, "pair: %ld %s\n", r.status, r.body);
        assert_int_equal(r.status, 200);
        snprintf(out, 64, "%s", http_result_string(&r, "device_id"));
        if (token_out)
                snprintf(token_out, 80, "%s", http_result_string(&r, "device_token"));
        http_result_free(&r);
}

static int start_shared(void **state)
{
        struct daemon_options o = {.config_yaml = config_public, .extra_args = daemon_args()};
        (void)state;
        return harness_start(&dA, &o);
}

static int stop_shared(void **state)
{
        (void)state;
        harness_destroy(&dA);
        return 0;
}

/* --- registration --------------------------------------------------------- */

static void test_register_validation(void **state)
{
        static const struct {
                const char *body;
                long status;
                const char *code, *message;
        } cases[] = {
                {"{\"email\":\"a@example.test\",\"password\":\"" PASSWORD "\"}", 400,
                 "invalid_request", "username, email and password required"},
                {"{\"username\":\"reg1\",\"password\":\"" PASSWORD "\"}", 400, "invalid_request",
                 "username, email and password required"},
                {"{\"username\":\"reg1\",\"email\":\"a@example.test\",\"password\":\"\"}", 400,
                 "invalid_request", "username, email and password required"},
                {"{\"username\":\"reg1\",\"email\":\"no-at-sign\",\"password\":\"" PASSWORD "\"}",
                 400, "invalid_request", "invalid email"},
                /* header injection */
                {"{\"username\":\"reg1\",\"email\":\"a@example.test\\r\\nBcc: x@evil.test\","
                 "\"password\":\"" PASSWORD "\"}",
                 400, "invalid_request", "invalid email"},
                {"{\"username\":\"reg1\",\"email\":\"a@example.test\\n\",\"password\":\"" PASSWORD
                 "\"}",
                 400, "invalid_request", "invalid email"},
                {"{\"username\":\"reg1\",\"email\":\"Name "
                 "<a@example.test>\",\"password\":\"" PASSWORD "\"}",
                 400, "invalid_request", "invalid email"},
                {"{\"username\":\"reg1\",\"email\":\"a@example.test\",\"password\":\"1234567\"}",
                 400, "invalid_request", "PASSWORD_TOO_SHORT"},
                {"{\"username\":\"reg@1\",\"email\":\"a@example.test\",\"password\":\"" PASSWORD
                 "\"}",
                 400, "invalid_request", "invalid username"},
                {"{\"username\":\"reg1\",\"email\":\"a@example.test\",\"password\":8}", 400,
                 "invalid_json", NULL},
                {"{\"username\":\"reg1\"", 400, "invalid_json", NULL},
        };
        struct http_result r;
        (void)state;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                post_json(&dA, "/api/v1/auth/register", harness_fresh_ip(), cases[i].body, NULL,
                          &r);
                http_assert_error(&r, cases[i].status, cases[i].code, cases[i].message);
                http_result_free(&r);
        }

        /* Over 254 bytes, however well formed; 257-byte passwords. */
        char email[300], body[1024], pw[300];
        snprintf(email, sizeof(email), "%064d@%063d.%063d.%063d.test", 0, 0, 0, 0);
        assert_int_equal(strlen(email), 261);
        snprintf(body, sizeof(body),
                 "{\"username\":\"reg1\",\"email\":\"%s\",\"password\":\"" PASSWORD "\"}", email);
        post_json(&dA, "/api/v1/auth/register", harness_fresh_ip(), body, NULL, &r);
        http_assert_error(&r, 400, "invalid_request", "invalid email");
        http_result_free(&r);
        memset(pw, 'p', 257);
        pw[257] = '\0';
        snprintf(body, sizeof(body),
                 "{\"username\":\"reg1\",\"email\":\"a@example.test\",\"password\":\"%s\"}", pw);
        post_json(&dA, "/api/v1/auth/register", harness_fresh_ip(), body, NULL, &r);
        http_assert_error(&r, 400, "invalid_request", "PASSWORD_TOO_LONG");
        http_result_free(&r);
        assert_int_equal(harness_sql_int(&dA,
                                         "SELECT count(*) FROM server_users WHERE username = %Q",
                                         "reg1"),
                         0);

        /* Exactly 8 and 256 bytes are fine. */
        pw[256] = '\0';
        register_as(&dA, harness_fresh_ip(), "reg256", "reg256@example.test", pw, NULL);
        register_as(&dA, harness_fresh_ip(), "reg8", "reg8@example.test", "12345678", NULL);
        free(harness_outbox_take(&dA, "reg256@example.test", 2000));
        free(harness_outbox_take(&dA, "reg8@example.test", 2000));
}

static void test_register_normalises_and_conflicts(void **state)
{
        struct http_result r;
        (void)state;

        register_as(&dA, harness_fresh_ip(), "  norma  ", "  Norma.Jean@Example.TEST ", PASSWORD,
                    NULL);
        char *email = harness_sql_text(&dA, "SELECT email FROM server_users WHERE username = %Q",
                                       "norma");
        assert_non_null(email);
        assert_string_equal(email, "norma.jean@example.test");
        free(email);
        char *id =
                harness_sql_text(&dA, "SELECT id FROM server_users WHERE username = %Q", "norma");
        assert_non_null(id);
        assert_int_equal(strlen(id), 24);
        assert_int_equal(strspn(id, "0123456789abcdef"), 24);
        free(id);
        /* The confirmation token is stored only as a SHA-256 hash, 48 h. */
        char *hash = harness_sql_text(
                &dA,
                "SELECT token_hash FROM server_email_tokens t JOIN server_users u"
                " ON u.id = t.user_id WHERE u.username = %Q AND purpose = 'confirm'",
                "norma");
        assert_non_null(hash);
        assert_int_equal(strlen(hash), 64);
        char *mail = harness_outbox_take(&dA, "norma.jean@example.test", 5000);
        assert_non_null(mail);
        char token[49];
        mail_token(mail, PUBLIC_URL "/api/v1/auth/confirm?token=", token);
        assert_null(strstr(mail, hash));
        free(mail);
        free(hash);
        assert_lifetime(&dA,
                        "FROM server_email_tokens WHERE user_id ="
                        " (SELECT id FROM server_users WHERE username = %Q)",
                        "norma", 48);

        /* Taken username (exact) and e-mail (any case): 409. */
        post_json(
                &dA, "/api/v1/auth/register", harness_fresh_ip(),
                "{\"username\":\"norma\",\"email\":\"other@example.test\",\"password\":\"" PASSWORD
                "\"}",
                NULL, &r);
        http_assert_error(&r, 409, "conflict", "username already taken");
        http_result_free(&r);
        post_json(&dA, "/api/v1/auth/register", harness_fresh_ip(),
                  "{\"username\":\"norma2\",\"email\":\"NORMA.JEAN@example.test\",\"password\":"
                  "\"" PASSWORD "\"}",
                  NULL, &r);
        http_assert_error(&r, 409, "conflict", "email already registered");
        http_result_free(&r);
        assert_null(harness_outbox_take(&dA, "other@example.test", 300));
}

static void test_register_rate_limit(void **state)
{
        const char *ip = harness_fresh_ip();
        struct http_result r;
        (void)state;

        /* register: 5 per hour per address; invalid attempts count too. */
        for (int i = 0; i < 5; i++) {
                post_json(&dA, "/api/v1/auth/register", ip,
                          "{\"username\":\"rl\",\"email\":\"bad\",\"password\":\"" PASSWORD "\"}",
                          NULL, &r);
                assert_int_equal(r.status, 400);
                http_result_free(&r);
        }
        post_json(&dA, "/api/v1/auth/register", ip,
                  "{\"username\":\"rl\",\"email\":\"bad\",\"password\":\"" PASSWORD "\"}", NULL,
                  &r);
        http_assert_error(&r, 429, "rate_limited", NULL);
        char *ra = http_result_header(&r, "Retry-After");
        assert_non_null(ra);
        assert_true(atoi(ra) >= 1);
        free(ra);
        http_result_free(&r);
}

static void test_registration_disabled(void **state)
{
        struct daemon d = {0};
        struct daemon_options o = {.config_yaml = "web:\n  allow_registration: false\n",
                                   .extra_args = daemon_args()};
        struct http_result r;
        (void)state;

        assert_int_equal(harness_start(&d, &o), 0);
        assert_int_equal(http_post_json(&d, "/api/v1/auth/register", NULL,
                                        "{\"username\":\"x\",\"email\":\"x@example.test\","
                                        "\"password\":\"" PASSWORD "\"}",
                                        &r),
                         0);
        http_assert_error(&r, 403, "registration_disabled", NULL);
        http_result_free(&r);
        harness_destroy(&d);
}

/* --- confirmation ---------------------------------------------------------- */

static void test_confirm_page(void **state)
{
        struct http_result r;
        char path[256];
        (void)state;

        register_as(&dA, harness_fresh_ip(), "page", "page@example.test", PASSWORD, NULL);
        char *mail = harness_outbox_take(&dA, "page@example.test", 5000);
        char token[49];
        assert_non_null(mail);
        mail_token(mail, PUBLIC_URL "/api/v1/auth/confirm?token=", token);
        free(mail);

        /* GET shows a page with a button; it confirms nothing. */
        snprintf(path, sizeof(path), "/api/v1/auth/confirm?token=%s", token);
        http_call(&dA, "GET", path, harness_fresh_ip(), NULL, NULL, NULL, &r);
        assert_int_equal(r.status, 200);
        char *ct = http_result_header(&r, "Content-Type");
        assert_string_equal(ct, "text/html; charset=utf-8");
        free(ct);
        char *cc = http_result_header(&r, "Cache-Control");
        assert_string_equal(cc, "no-store");
        free(cc);
        char *csp = http_result_header(&r, "Content-Security-Policy");
        assert_non_null(strstr(csp, "script-src 'self'"));
        free(csp);
        assert_non_null(strstr(r.body, "<html lang=\"en\""));
        assert_non_null(strstr(r.body, "<form method=\"post\" action=\"confirm\">"));
        assert_non_null(strstr(r.body, token));
        assert_non_null(strstr(r.body, "<button type=\"submit\">Confirm</button>"));
        harness_assert_no_inline_script(r.body);
        assert_null(strstr(r.body, "<style"));
        assert_null(strstr(r.body, "style="));
        assert_null(strstr(r.body, "onclick"));
        http_result_free(&r);
        /* Two more "scanner" visits. */
        http_call(&dA, "GET", path, harness_fresh_ip(), NULL, NULL, NULL, &r);
        http_result_free(&r);
        http_call(&dA, "HEAD", path, harness_fresh_ip(), NULL, NULL, NULL, &r);
        http_result_free(&r);
        login_with(&dA, harness_fresh_ip(), "page", PASSWORD, NULL, &r);
        http_assert_error(&r, 403, "forbidden", "email not confirmed");
        http_result_free(&r);

        /* Russian from Accept-Language, and the cookie wins over it. */
        const char *ru[] = {"Accept-Language: ru-RU,ru;q=0.9,en;q=0.8", NULL};
        http_call(&dA, "GET", path, harness_fresh_ip(), NULL, NULL, ru, &r);
        assert_non_null(strstr(r.body, "<html lang=\"ru\""));
        assert_non_null(strstr(r.body, "Подтвердить"));
        http_result_free(&r);
        const char *cookie_en[] = {"Accept-Language: ru", "Cookie: verstak_locale=en", NULL};
        http_call(&dA, "GET", path, harness_fresh_ip(), NULL, NULL, cookie_en, &r);
        assert_non_null(strstr(r.body, "<html lang=\"en\""));
        http_result_free(&r);
        const char *cookie_ru[] = {"Accept-Language: en-GB", "Cookie: verstak_locale=ru", NULL};
        http_call(&dA, "GET", path, harness_fresh_ip(), NULL, NULL, cookie_ru, &r);
        assert_non_null(strstr(r.body, "<html lang=\"ru\""));
        http_result_free(&r);

        /* Incomplete or damaged links. */
        http_call(&dA, "GET", "/api/v1/auth/confirm", harness_fresh_ip(), NULL, NULL, NULL, &r);
        assert_int_equal(r.status, 400);
        assert_non_null(strstr(r.body, "<html"));
        http_result_free(&r);
        http_call(&dA, "GET", "/api/v1/auth/confirm?token=%3Cscript%3E", harness_fresh_ip(), NULL,
                  NULL, NULL, &r);
        assert_int_equal(r.status, 400);
        assert_null(strstr(r.body, "<script>"));
        http_result_free(&r);

        /* The button's form POST confirms and redirects to the result. */
        char form[128];
        snprintf(form, sizeof(form), "token=%s", token);
        http_call(&dA, "POST", "/api/v1/auth/confirm", harness_fresh_ip(), FORM, form, NULL, &r);
        assert_int_equal(r.status, 303);
        char *loc = http_result_header(&r, "Location");
        assert_string_equal(loc, "confirm?result=confirmed");
        free(loc);
        http_result_free(&r);
        http_call(&dA, "GET", "/api/v1/auth/confirm?result=confirmed", harness_fresh_ip(), NULL,
                  NULL, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.body, "confirmed"));
        http_result_free(&r);
        /* Used: a second form POST lands on the "invalid" page. */
        http_call(&dA, "POST", "/api/v1/auth/confirm", harness_fresh_ip(), FORM, form, NULL, &r);
        assert_int_equal(r.status, 303);
        loc = http_result_header(&r, "Location");
        assert_string_equal(loc, "confirm?result=invalid");
        free(loc);
        http_result_free(&r);
        login_with(&dA, harness_fresh_ip(), "page", PASSWORD, NULL, &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
}

static void test_confirm_json_errors(void **state)
{
        struct http_result r;
        char body[128], token[49];
        (void)state;

        post_json(&dA, "/api/v1/auth/confirm", harness_fresh_ip(), "{}", NULL, &r);
        http_assert_error(&r, 400, "invalid_request", "token required");
        http_result_free(&r);
        post_json(&dA, "/api/v1/auth/confirm", harness_fresh_ip(), "{\"token\":\"\"}", NULL, &r);
        http_assert_error(&r, 400, "invalid_request", "token required");
        http_result_free(&r);
        post_json(&dA, "/api/v1/auth/confirm", harness_fresh_ip(),
                  "{\"token\":\"00112233445566778899aabbccddeeff0011223344556677\"}", NULL, &r);
        http_assert_error(&r, 400, "invalid_request", "invalid or expired token");
        http_result_free(&r);
        post_json(&dA, "/api/v1/auth/confirm", harness_fresh_ip(), "{\"token\":\"short\"}", NULL,
                  &r);
        http_assert_error(&r, 400, "invalid_request", "invalid or expired token");
        http_result_free(&r);

        /* Expired: answered as such, and deleted. */
        register_as(&dA, harness_fresh_ip(), "late", "late@example.test", PASSWORD, NULL);
        char *mail = harness_outbox_take(&dA, "late@example.test", 5000);
        assert_non_null(mail);
        mail_token(mail, "/api/v1/auth/confirm?token=", token);
        free(mail);
        harness_sql(&dA,
                    "UPDATE server_email_tokens SET expires_at = '2001-01-01T00:00:00Z'"
                    " WHERE user_id = (SELECT id FROM server_users WHERE username = %Q)",
                    "late");
        snprintf(body, sizeof(body), "{\"token\":\"%s\"}", token);
        post_json(&dA, "/api/v1/auth/confirm", harness_fresh_ip(), body, NULL, &r);
        http_assert_error(&r, 400, "invalid_request", "token expired");
        http_result_free(&r);
        post_json(&dA, "/api/v1/auth/confirm", harness_fresh_ip(), body, NULL, &r);
        http_assert_error(&r, 400, "invalid_request", "invalid or expired token");
        http_result_free(&r);

        /* JSON success, single use. */
        register_as(&dA, harness_fresh_ip(), "prompt", "prompt@example.test", PASSWORD, NULL);
        mail = harness_outbox_take(&dA, "prompt@example.test", 5000);
        assert_non_null(mail);
        mail_token(mail, "/api/v1/auth/confirm?token=", token);
        free(mail);
        snprintf(body, sizeof(body), "{\"token\":\"%s\"}", token);
        post_json(&dA, "/api/v1/auth/confirm", harness_fresh_ip(), body, NULL, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(http_result_string(&r, "status"), "confirmed");
        http_result_free(&r);
        assert_int_equal(harness_sql_int(&dA,
                                         "SELECT count(*) FROM server_email_tokens WHERE user_id ="
                                         " (SELECT id FROM server_users WHERE username = %Q)",
                                         "prompt"),
                         0);
        post_json(&dA, "/api/v1/auth/confirm", harness_fresh_ip(), body, NULL, &r);
        http_assert_error(&r, 400, "invalid_request", "invalid or expired token");
        http_result_free(&r);
}

/* The whole first-day story: register, mail, confirm by the link, login,
 * pair a desktop client. */
static void test_full_registration_flow(void **state)
{
        struct http_result r;
        struct web_session s;
        char path[256], form[128], token[49], dev[64];
        (void)state;

        register_as(&dA, harness_fresh_ip(), "flow", "flow@example.test", PASSWORD, NULL);
        char *mail = harness_outbox_take(&dA, "flow@example.test", 5000);
        assert_non_null(mail);
        assert_non_null(strstr(mail, "Subject: Confirm your e-mail address for"));
        assert_non_null(strstr(mail, "Hello, flow!"));
        mail_token(mail, PUBLIC_URL "/api/v1/auth/confirm?token=", token);
        free(mail);

        snprintf(path, sizeof(path), "/api/v1/auth/confirm?token=%s", token);
        http_call(&dA, "GET", path, harness_fresh_ip(), NULL, NULL, NULL, &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        snprintf(form, sizeof(form), "token=%s", token);
        http_call(&dA, "POST", "/api/v1/auth/confirm", harness_fresh_ip(), FORM, form, NULL, &r);
        assert_int_equal(r.status, 303);
        http_result_free(&r);

        login_ok(&dA, "flow", PASSWORD, &s);
        assert_int_equal(strlen(s.user_id), 24);
        pair_device(&dA, "flow@example.test", "notes", dev, NULL);

        const char *bearer[] = {s.bearer_header, NULL};
        http_call(&dA, "GET", "/api/v1/user/devices", harness_fresh_ip(), NULL, NULL, bearer, &r);
        assert_int_equal(r.status, 200);
        assert_int_equal(json_array_size(r.json), 1);
        json_t *d0 = json_array_get(r.json, 0);
        assert_string_equal(json_string_value(json_object_get(d0, "id")), dev);
        assert_string_equal(json_string_value(json_object_get(d0, "name")), "laptop");
        assert_string_equal(json_string_value(json_object_get(d0, "vault_id")), "notes");
        assert_string_equal(json_string_value(json_object_get(d0, "client_version")), "1.2");
        assert_string_equal(json_string_value(json_object_get(d0, "revoked_at")), "");
        assert_true(json_is_string(json_object_get(d0, "last_seen")));
        assert_int_equal(strlen(json_string_value(json_object_get(d0, "created_at"))), 20);
        http_result_free(&r);
}

/* --- login, cookies, sessions ----------------------------------------------- */

static void test_login_rules(void **state)
{
        struct http_result r;
        (void)state;

        make_user(&dA, "lina", "lina@example.test");

        post_json(&dA, "/api/v1/auth/login", harness_fresh_ip(), "{\"username\":\"lina\"}", NULL,
                  &r);
        http_assert_error(&r, 400, "invalid_request", "username and password required");
        http_result_free(&r);
        post_json(&dA, "/api/v1/auth/login", harness_fresh_ip(),
                  "{\"username\":\" \",\"password\":\"x\"}", NULL, &r);
        http_assert_error(&r, 400, "invalid_request", "username and password required");
        http_result_free(&r);
        /* Limits: 320 bytes of login, 256 of password. */
        char login_321[322], password_257[258];
        memset(login_321, 'l', 321);
        login_321[321] = '\0';
        memset(password_257, 'p', 257);
        password_257[257] = '\0';
        login_with(&dA, harness_fresh_ip(), login_321, PASSWORD, NULL, &r);
        http_assert_error(&r, 400, "invalid_request", "field too long");
        http_result_free(&r);
        login_with(&dA, harness_fresh_ip(), "lina", password_257, NULL, &r);
        http_assert_error(&r, 400, "invalid_request", "field too long");
        http_result_free(&r);
        login_with(&dA, harness_fresh_ip(), "lina", "wrong password", NULL, &r);
        http_assert_error(&r, 401, "unauthorized", "invalid credentials");
        assert_null(http_result_set_cookie(&r, "user_session"));
        http_result_free(&r);
        login_with(&dA, harness_fresh_ip(), "nobody-here", PASSWORD, NULL, &r);
        http_assert_error(&r, 401, "unauthorized", "invalid credentials");
        http_result_free(&r);

        /* Unconfirmed and blocked are told only to who knows the password. */
        register_as(&dA, harness_fresh_ip(), "unconf", "unconf@example.test", PASSWORD, NULL);
        free(harness_outbox_take(&dA, "unconf@example.test", 2000));
        login_with(&dA, harness_fresh_ip(), "unconf", PASSWORD, NULL, &r);
        http_assert_error(&r, 403, "forbidden", "email not confirmed");
        http_result_free(&r);
        login_with(&dA, harness_fresh_ip(), "unconf", "wrong password", NULL, &r);
        http_assert_error(&r, 401, "unauthorized", "invalid credentials");
        http_result_free(&r);
        make_user(&dA, "blocky", "blocky@example.test");
        harness_sql(&dA, "UPDATE server_users SET blocked = 1 WHERE username = %Q", "blocky");
        login_with(&dA, harness_fresh_ip(), "blocky", PASSWORD, NULL, &r);
        http_assert_error(&r, 403, "forbidden", "account blocked");
        http_result_free(&r);
        login_with(&dA, harness_fresh_ip(), "blocky", "wrong password", NULL, &r);
        http_assert_error(&r, 401, "unauthorized", "invalid credentials");
        http_result_free(&r);

        /* By e-mail, any case. */
        login_with(&dA, harness_fresh_ip(), "LINA@Example.Test", PASSWORD, NULL, &r);
        assert_int_equal(r.status, 200);
        const char *token = http_result_string(&r, "token");
        assert_non_null(token);
        assert_int_equal(strlen(token), 64);
        assert_int_equal(strspn(token, "0123456789abcdef"), 64);
        assert_int_equal(strlen(http_result_string(&r, "user_id")), 24);
        char *cc = http_result_header(&r, "Cache-Control");
        assert_string_equal(cc, "no-store");
        free(cc);
        /* Stored as hashes only, valid 24 h. */
        assert_int_equal(
                harness_sql_int(&dA, "SELECT count(*) FROM server_sessions WHERE token_hash = %Q",
                                token),
                0);
        assert_lifetime(&dA, "FROM server_sessions WHERE subject_id = %Q AND scope = 'user'",
                        http_result_string(&r, "user_id"), 24);
        http_result_free(&r);
}

static void test_login_cookies(void **state)
{
        struct http_result r;
        (void)state;

        make_user(&dA, "cookie", "cookie@example.test");
        login_with(&dA, harness_fresh_ip(), "cookie", PASSWORD, NULL, &r);
        assert_int_equal(r.status, 200);
        char *sc = http_result_set_cookie(&r, "user_session"),
             *cc = http_result_set_cookie(&r, "csrf_token");
        assert_non_null(sc);
        assert_non_null(cc);
        assert_true(has_attr(sc, "Path=/"));
        assert_true(has_attr(sc, "HttpOnly"));
        assert_true(has_attr(sc, "SameSite=Lax"));
        assert_false(has_attr(sc, "Secure"));
        assert_true(has_attr(cc, "Path=/"));
        assert_true(has_attr(cc, "SameSite=Strict"));
        assert_false(has_attr(cc, "HttpOnly"));
        assert_false(has_attr(cc, "Secure"));
        char csrf[80];
        http_cookie_value(cc, csrf, sizeof(csrf));
        assert_int_equal(strlen(csrf), 64);
        free(sc);
        free(cc);
        http_result_free(&r);

        /* No other site may sign a visitor in (login CSRF). */
        const char *evil[] = {"Origin: https://evil.example", NULL};
        login_with(&dA, harness_fresh_ip(), "cookie", PASSWORD, evil, &r);
        http_assert_error(&r, 403, "csrf_invalid", NULL);
        assert_null(http_result_set_cookie(&r, "user_session"));
        http_result_free(&r);
        const char *ours[] = {"Origin: " PUBLIC_URL, NULL};
        login_with(&dA, harness_fresh_ip(), "cookie", PASSWORD, ours, &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);

        /* HTTPS as reported by the trusted proxy: Secure cookies. */
        const char *https[] = {"X-Forwarded-Proto: https", NULL};
        login_with(&dA, harness_fresh_ip(), "cookie", PASSWORD, https, &r);
        assert_int_equal(r.status, 200);
        sc = http_result_set_cookie(&r, "user_session");
        cc = http_result_set_cookie(&r, "csrf_token");
        assert_true(has_attr(sc, "Secure"));
        assert_true(has_attr(cc, "Secure"));
        free(sc);
        free(cc);
        http_result_free(&r);
}

static void test_login_rotates_sessions(void **state)
{
        struct web_session a, b;
        struct http_result r;
        (void)state;

        make_user(&dA, "rota", "rota@example.test");
        login_ok(&dA, "rota", PASSWORD, &a);
        login_ok(&dA, "rota", PASSWORD, &b);
        assert_string_not_equal(a.token, b.token);
        assert_string_not_equal(a.csrf, b.csrf);
        /* Separate logins (two browsers) both live. */
        const char *ha[] = {a.cookie_header, NULL}, *hb[] = {b.cookie_header, NULL};
        assert_int_equal(devices_status(&dA, ha), 200);
        assert_int_equal(devices_status(&dA, hb), 200);

        /* Logging in again from a browser holding a session replaces it. */
        login_with(&dA, harness_fresh_ip(), "rota", PASSWORD, ha, &r);
        assert_int_equal(r.status, 200);
        struct web_session c;
        session_from_login(&r, &c);
        http_result_free(&r);
        assert_string_not_equal(c.token, a.token);
        assert_int_equal(devices_status(&dA, ha), 401);
        const char *hc[] = {c.cookie_header, NULL};
        assert_int_equal(devices_status(&dA, hc), 200);
        assert_int_equal(devices_status(&dA, hb), 200);
}

static void test_login_rate_limit(void **state)
{
        const char *ip = harness_fresh_ip();
        struct http_result r;
        (void)state;

        /* login: 10 per 10 minutes per client address… */
        for (int i = 0; i < 10; i++) {
                login_with(&dA, ip, "rl-nobody", "wrong password", NULL, &r);
                assert_int_equal(r.status, 401);
                http_result_free(&r);
        }
        login_with(&dA, ip, "rl-other", "wrong password", NULL, &r);
        http_assert_error(&r, 429, "rate_limited", NULL);
        char *ra = http_result_header(&r, "Retry-After");
        assert_non_null(ra);
        assert_true(atoi(ra) >= 1 && atoi(ra) <= 600);
        free(ra);
        http_result_free(&r);

        /* …and per account, whatever the address. */
        for (int i = 0; i < 10; i++) {
                login_with(&dA, harness_fresh_ip(), "rl-target", "wrong password", NULL, &r);
                assert_int_equal(r.status, 401);
                http_result_free(&r);
        }
        login_with(&dA, harness_fresh_ip(), " RL-Target ", "wrong password", NULL, &r);
        http_assert_error(&r, 429, "rate_limited", NULL);
        http_result_free(&r);
}

static void test_session_auth(void **state)
{
        struct web_session s;
        struct http_result r;
        (void)state;

        assert_int_equal(devices_status(&dA, NULL), 401);
        http_call(&dA, "GET", "/api/v1/user/devices", harness_fresh_ip(), NULL, NULL, NULL, &r);
        http_assert_error(&r, 401, "unauthorized", "login required");
        http_result_free(&r);
        const char *bad[] = {"Authorization: Bearer "
                             "0000000000000000000000000000000000000000000000000000000000000000",
                             NULL};
        http_call(&dA, "GET", "/api/v1/user/devices", harness_fresh_ip(), NULL, NULL, bad, &r);
        http_assert_error(&r, 401, "unauthorized", "invalid session");
        http_result_free(&r);
        const char *basic[] = {"Authorization: Basic Zm9vOmJhcg==", NULL};
        assert_int_equal(devices_status(&dA, basic), 401);
        const char *bad_cookie[] = {"Cookie: user_session=abc", NULL};
        assert_int_equal(devices_status(&dA, bad_cookie), 401);

        make_user(&dA, "bear", "bear@example.test");
        login_ok(&dA, "bear", PASSWORD, &s);
        const char *bearer[] = {s.bearer_header, NULL};
        http_call(&dA, "GET", "/api/v1/user/devices", harness_fresh_ip(), NULL, NULL, bearer, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "[]");
        char *cc = http_result_header(&r, "Cache-Control");
        assert_string_equal(cc, "no-store");
        free(cc);
        http_result_free(&r);
        const char *cookie[] = {s.cookie_header, NULL};
        assert_int_equal(devices_status(&dA, cookie), 200);

        /* A device token is not a session. */
        char dev[64], dev_token[80], auth[128];
        pair_device(&dA, "bear", "v", dev, dev_token);
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", dev_token);
        const char *devauth[] = {auth, NULL};
        assert_int_equal(devices_status(&dA, devauth), 401);

        /* A blocked owner's session no longer works. */
        harness_sql(&dA, "UPDATE server_users SET blocked = 1 WHERE username = %Q", "bear");
        http_call(&dA, "GET", "/api/v1/user/devices", harness_fresh_ip(), NULL, NULL, bearer, &r);
        http_assert_error(&r, 403, "forbidden", "account blocked");
        http_result_free(&r);
}

static void test_session_expiry(void **state)
{
        struct web_session s;
        struct http_result r;
        (void)state;

        make_user(&dA, "expy", "expy@example.test");
        login_ok(&dA, "expy", PASSWORD, &s);
        const char *bearer[] = {s.bearer_header, NULL};
        assert_int_equal(devices_status(&dA, bearer), 200);
        harness_sql(&dA,
                    "UPDATE server_sessions SET expires_at = '2001-01-01T00:00:00Z'"
                    " WHERE scope = 'user' AND subject_id = %Q",
                    s.user_id);
        http_call(&dA, "GET", "/api/v1/user/devices", harness_fresh_ip(), NULL, NULL, bearer, &r);
        http_assert_error(&r, 401, "unauthorized", "session expired");
        http_result_free(&r);
        assert_int_equal(
                harness_sql_int(&dA, "SELECT count(*) FROM server_sessions WHERE subject_id = %Q",
                                s.user_id),
                0);
        const char *cookie[] = {s.cookie_header, NULL};
        assert_int_equal(devices_status(&dA, cookie), 401);
}

/* --- devices and CSRF ------------------------------------------------------- */

static void revoke_device(struct daemon *d, const char *dev, const char *ctype, const char *body,
                          const char *const *headers, struct http_result *r)
{
        char path[128];
        snprintf(path, sizeof(path), "/api/v1/user/devices/%s/revoke", dev);
        http_call(d, "POST", path, harness_fresh_ip(), ctype, body, headers, r);
}

static void test_devices_revoke(void **state)
{
        struct web_session s;
        struct http_result r;
        char dev[64], dev_token[80], other_dev[64], auth[128];
        (void)state;

        make_user(&dA, "owner", "owner@example.test");
        make_user(&dA, "stranger", "stranger@example.test");
        pair_device(&dA, "owner", "vault-a", dev, dev_token);
        pair_device(&dA, "stranger", "vault-b", other_dev, NULL);
        login_ok(&dA, "owner", PASSWORD, &s);
        const char *bearer[] = {s.bearer_header, NULL};

        revoke_device(&dA, dev, JSON, "{}", bearer, &r);
        http_assert_error(&r, 400, "invalid_request", "password required");
        http_result_free(&r);
        revoke_device(&dA, dev, JSON, "{\"password\":\"wrong password\"}", bearer, &r);
        http_assert_error(&r, 403, "forbidden", "wrong password");
        http_result_free(&r);
        revoke_device(&dA, other_dev, JSON, "{\"password\":\"" PASSWORD "\"}", bearer, &r);
        http_assert_error(&r, 403, "forbidden", NULL);
        http_result_free(&r);
        revoke_device(&dA, "dev_000000000000000000000000", JSON, "{\"password\":\"" PASSWORD "\"}",
                      bearer, &r);
        http_assert_error(&r, 404, "not_found", NULL);
        http_result_free(&r);

        /* Bearer sessions need no CSRF token. */
        revoke_device(&dA, dev, JSON, "{\"password\":\"" PASSWORD "\"}", bearer, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(http_result_string(&r, "status"), "revoked");
        http_result_free(&r);

        http_call(&dA, "GET", "/api/v1/user/devices", harness_fresh_ip(), NULL, NULL, bearer, &r);
        assert_int_equal(json_array_size(r.json), 1);
        const char *revoked_at =
                json_string_value(json_object_get(json_array_get(r.json, 0), "revoked_at"));
        assert_int_equal(strlen(revoked_at), 20);
        http_result_free(&r);
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", dev_token);
        const char *devauth[] = {auth, NULL};
        http_call(&dA, "GET", "/api/client/me", harness_fresh_ip(), NULL, NULL, devauth, &r);
        http_assert_error(&r, 401, "unauthorized", "device revoked");
        http_result_free(&r);
        /* The stranger's device is untouched. */
        assert_null(harness_sql_text(&dA,
                                     "SELECT revoked_at FROM server_devices WHERE id = %Q"
                                     " AND revoked_at IS NOT NULL AND revoked_at <> ''",
                                     other_dev));
}

static void test_csrf(void **state)
{
        struct web_session s;
        struct http_result r;
        char dev[64], origin_self[128], body[256];
        (void)state;

        make_user(&dA, "csrf", "csrf@example.test");
        login_ok(&dA, "csrf", PASSWORD, &s);
        const char *pw = "{\"password\":\"" PASSWORD "\"}";

        /* Missing, wrong, or not matching the cookie. */
        pair_device(&dA, "csrf", "v", dev, NULL);
        const char *none[] = {s.cookie_header, NULL};
        revoke_device(&dA, dev, JSON, pw, none, &r);
        http_assert_error(&r, 403, "csrf_invalid", NULL);
        http_result_free(&r);
        const char *wrong[] = {s.cookie_header,
                               "X-CSRF-Token: "
                               "1111111111111111111111111111111111111111111111111111111111111111",
                               NULL};
        revoke_device(&dA, dev, JSON, pw, wrong, &r);
        http_assert_error(&r, 403, "csrf_invalid", NULL);
        http_result_free(&r);
        /* Header equal to a forged cookie, but not to the session's token. */
        char forged[256];
        snprintf(forged, sizeof(forged), "Cookie: user_session=%s; csrf_token=%s", s.token,
                 "2222222222222222222222222222222222222222222222222222222222222222");
        const char *forged_h[] = {
                forged,
                "X-CSRF-Token: 2222222222222222222222222222222222222222222222222222222222222222",
                NULL};
        revoke_device(&dA, dev, JSON, pw, forged_h, &r);
        http_assert_error(&r, 403, "csrf_invalid", NULL);
        http_result_free(&r);
        /* The right token without the cookie. */
        char only_session[160];
        snprintf(only_session, sizeof(only_session), "Cookie: user_session=%s", s.token);
        const char *no_cookie[] = {only_session, s.csrf_header, NULL};
        revoke_device(&dA, dev, JSON, pw, no_cookie, &r);
        http_assert_error(&r, 403, "csrf_invalid", NULL);
        http_result_free(&r);
        /* The right token, from a foreign or opaque origin. */
        const char *evil[] = {s.cookie_header, s.csrf_header, "Origin: https://evil.example", NULL};
        revoke_device(&dA, dev, JSON, pw, evil, &r);
        http_assert_error(&r, 403, "csrf_invalid", NULL);
        http_result_free(&r);
        const char *null_origin[] = {s.cookie_header, s.csrf_header, "Origin: null", NULL};
        revoke_device(&dA, dev, JSON, pw, null_origin, &r);
        http_assert_error(&r, 403, "csrf_invalid", NULL);
        http_result_free(&r);
        const char *lookalike[] = {s.cookie_header, s.csrf_header,
                                   "Origin: https://sync.example.test.evil.example", NULL};
        revoke_device(&dA, dev, JSON, pw, lookalike, &r);
        http_assert_error(&r, 403, "csrf_invalid", NULL);
        http_result_free(&r);
        assert_null(
                harness_sql_text(&dA, "SELECT revoked_at FROM server_devices WHERE id = %Q", dev));

        /* Accepted: public_url's origin, the request's own, or none. */
        const char *pub[] = {s.cookie_header, s.csrf_header, "Origin: " PUBLIC_URL, NULL};
        revoke_device(&dA, dev, JSON, pw, pub, &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        pair_device(&dA, "csrf", "v", dev, NULL);
        snprintf(origin_self, sizeof(origin_self), "Origin: %s", dA.base_url);
        const char *self[] = {s.cookie_header, s.csrf_header, origin_self, NULL};
        revoke_device(&dA, dev, JSON, pw, self, &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        pair_device(&dA, "csrf", "v", dev, NULL);
        const char *plain[] = {s.cookie_header, s.csrf_header, NULL};
        revoke_device(&dA, dev, JSON, pw, plain, &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);

        /* A web form carries the token as a field. */
        pair_device(&dA, "csrf", "v", dev, NULL);
        snprintf(body, sizeof(body), "password=correct+horse&csrf_token=%s", s.csrf);
        revoke_device(&dA, dev, FORM, body, none, &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        pair_device(&dA, "csrf", "v", dev, NULL);
        revoke_device(&dA, dev, FORM, "password=correct+horse", none, &r);
        http_assert_error(&r, 403, "csrf_invalid", NULL);
        http_result_free(&r);

        /* Reading needs no token. */
        assert_int_equal(devices_status(&dA, none), 200);
}

static void test_logout(void **state)
{
        struct web_session s, b;
        struct http_result r;
        (void)state;

        make_user(&dA, "bye", "bye@example.test");
        login_ok(&dA, "bye", PASSWORD, &s);
        const char *cookie[] = {s.cookie_header, NULL};
        http_call(&dA, "POST", "/api/v1/auth/logout", harness_fresh_ip(), NULL, NULL, cookie, &r);
        http_assert_error(&r, 403, "csrf_invalid", NULL);
        http_result_free(&r);
        assert_int_equal(devices_status(&dA, cookie), 200);

        const char *with_csrf[] = {s.cookie_header, s.csrf_header, NULL};
        http_call(&dA, "POST", "/api/v1/auth/logout", harness_fresh_ip(), NULL, NULL, with_csrf,
                  &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(http_result_string(&r, "status"), "logged out");
        char *sc = http_result_set_cookie(&r, "user_session"),
             *cc = http_result_set_cookie(&r, "csrf_token");
        assert_non_null(sc);
        assert_non_null(cc);
        assert_true(strncmp(sc, "user_session=;", 14) == 0);
        assert_true(has_attr(sc, "Max-Age=0"));
        assert_true(has_attr(sc, "Path=/"));
        assert_true(has_attr(cc, "Max-Age=0"));
        free(sc);
        free(cc);
        http_result_free(&r);
        assert_int_equal(devices_status(&dA, cookie), 401);
        assert_int_equal(
                harness_sql_int(&dA, "SELECT count(*) FROM server_sessions WHERE subject_id = %Q",
                                s.user_id),
                0);

        /* Bearer logout, and logout without a session. */
        login_ok(&dA, "bye", PASSWORD, &b);
        const char *bearer[] = {b.bearer_header, NULL};
        http_call(&dA, "POST", "/api/v1/auth/logout", harness_fresh_ip(), NULL, NULL, bearer, &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        assert_int_equal(devices_status(&dA, bearer), 401);
        http_call(&dA, "POST", "/api/v1/auth/logout", harness_fresh_ip(), NULL, NULL, NULL, &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        http_call(&dA, "GET", "/api/v1/auth/logout", harness_fresh_ip(), NULL, NULL, NULL, &r);
        assert_int_equal(r.status, 405);
        http_result_free(&r);
}

/* --- forgot and reset -------------------------------------------------------- */

static void forgot(struct daemon *d, const char *email, const char *const *extra,
                   struct http_result *r)
{
        char body[512];
        snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email);
        post_json(d, "/api/v1/auth/forgot", harness_fresh_ip(), body, extra, r);
}

static void reset_with(struct daemon *d, const char *token, const char *password,
                       struct http_result *r)
{
        char body[512];
        snprintf(body, sizeof(body), "{\"token\":\"%s\",\"new_password\":\"%s\"}", token, password);
        post_json(d, "/api/v1/auth/reset", harness_fresh_ip(), body, NULL, r);
}

static void test_forgot_same_answer(void **state)
{
        struct http_result known, unknown, invalid;
        (void)state;

        post_json(&dA, "/api/v1/auth/forgot", harness_fresh_ip(), "{}", NULL, &known);
        http_assert_error(&known, 400, "invalid_request", "email required");
        http_result_free(&known);

        make_user(&dA, "forget", "forget@example.test");
        forgot(&dA, "nobody@example.test", NULL, &unknown);
        forgot(&dA, "Forget@Example.Test", NULL, &known);
        forgot(&dA, "not an address", NULL, &invalid);
        assert_int_equal(known.status, 200);
        assert_string_equal(http_result_string(&known, "status"),
                            "if email exists, reset link sent");
        assert_int_equal(unknown.status, known.status);
        assert_string_equal(unknown.body, known.body);
        assert_int_equal(invalid.status, known.status);
        assert_string_equal(invalid.body, known.body);
        http_result_free(&known);
        http_result_free(&unknown);
        http_result_free(&invalid);

        char *mail = harness_outbox_take(&dA, "forget@example.test", 5000);
        assert_non_null(mail);
        char token[49];
        mail_token(mail, PUBLIC_URL "/reset?token=", token);
        free(mail);
        /* Nothing for the unknown address. */
        assert_null(harness_outbox_take(&dA, "nobody@example.test", 500));
        /* A reset token valid 1 h was stored (as a hash). */
        assert_lifetime(&dA,
                        "FROM server_email_tokens WHERE purpose = 'reset' AND user_id ="
                        " (SELECT id FROM server_users WHERE username = %Q)",
                        "forget", 1);
        assert_int_equal(
                harness_sql_int(&dA,
                                "SELECT count(*) FROM server_email_tokens WHERE token_hash = %Q",
                                token),
                0);
}

static void test_forgot_reset_flow(void **state)
{
        struct web_session old;
        struct http_result r;
        char t1[49], t2[49];
        (void)state;

        char confirm[49], body[128];
        register_as(&dA, harness_fresh_ip(), "resetter", "resetter@example.test", PASSWORD, NULL);
        char *mail = harness_outbox_take(&dA, "resetter@example.test", 5000);
        assert_non_null(mail);
        mail_token(mail, "/api/v1/auth/confirm?token=", confirm);
        free(mail);
        /* A confirmation token is no reset token. */
        reset_with(&dA, confirm, "new password 1", &r);
        http_assert_error(&r, 400, "invalid_request", "invalid or expired token");
        http_result_free(&r);
        snprintf(body, sizeof(body), "{\"token\":\"%s\"}", confirm);
        post_json(&dA, "/api/v1/auth/confirm", harness_fresh_ip(), body, NULL, &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        login_ok(&dA, "resetter", PASSWORD, &old);
        const char *old_bearer[] = {old.bearer_header, NULL};
        assert_int_equal(devices_status(&dA, old_bearer), 200);

        forgot(&dA, "resetter@example.test", NULL, &r);
        http_result_free(&r);
        mail = harness_outbox_take(&dA, "resetter@example.test", 5000);
        assert_non_null(mail);
        assert_non_null(strstr(mail, "Subject: Reset your password for"));
        mail_token(mail, PUBLIC_URL "/reset?token=", t1);
        free(mail);
        forgot(&dA, "resetter@example.test", NULL, &r);
        http_result_free(&r);
        mail = harness_outbox_take(&dA, "resetter@example.test", 5000);
        assert_non_null(mail);
        mail_token(mail, PUBLIC_URL "/reset?token=", t2);
        free(mail);
        assert_string_not_equal(t1, t2);

        /* Validation. */
        post_json(&dA, "/api/v1/auth/reset", harness_fresh_ip(), "{\"token\":\"abc\"}", NULL, &r);
        http_assert_error(&r, 400, "invalid_request", "token and new_password required");
        http_result_free(&r);
        reset_with(&dA, t1, "short", &r);
        http_assert_error(&r, 400, "invalid_request", "PASSWORD_TOO_SHORT");
        http_result_free(&r);
        reset_with(&dA, "00112233445566778899aabbccddeeff0011223344556677", "new password 1", &r);
        http_assert_error(&r, 400, "invalid_request", "invalid or expired token");
        http_result_free(&r);
        reset_with(&dA, "zz", "new password 1", &r);
        http_assert_error(&r, 400, "invalid_request", "invalid or expired token");
        http_result_free(&r);

        reset_with(&dA, t1, "new password 1", &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(http_result_string(&r, "status"), "password reset");
        http_result_free(&r);

        /* Old session dead, old password dead, new password works. */
        assert_int_equal(devices_status(&dA, old_bearer), 401);
        login_with(&dA, harness_fresh_ip(), "resetter", PASSWORD, NULL, &r);
        http_assert_error(&r, 401, "unauthorized", "invalid credentials");
        http_result_free(&r);
        struct web_session fresh;
        login_ok(&dA, "resetter", "new password 1", &fresh);

        /* Single use, and the user's other reset tokens are gone. */
        reset_with(&dA, t1, "new password 2", &r);
        http_assert_error(&r, 400, "invalid_request", "invalid or expired token");
        http_result_free(&r);
        reset_with(&dA, t2, "new password 2", &r);
        http_assert_error(&r, 400, "invalid_request", "invalid or expired token");
        http_result_free(&r);
}

static void test_reset_expired(void **state)
{
        struct http_result r;
        char token[49];
        (void)state;

        make_user(&dA, "slow", "slow@example.test");
        forgot(&dA, "slow@example.test", NULL, &r);
        http_result_free(&r);
        char *mail = harness_outbox_take(&dA, "slow@example.test", 5000);
        assert_non_null(mail);
        mail_token(mail, "/reset?token=", token);
        free(mail);
        harness_sql(&dA,
                    "UPDATE server_email_tokens SET expires_at = '2001-01-01T00:00:00Z'"
                    " WHERE purpose = 'reset' AND user_id ="
                    " (SELECT id FROM server_users WHERE username = %Q)",
                    "slow");
        reset_with(&dA, token, "new password 1", &r);
        http_assert_error(&r, 400, "invalid_request", "token expired");
        http_result_free(&r);
        reset_with(&dA, token, "new password 1", &r);
        http_assert_error(&r, 400, "invalid_request", "invalid or expired token");
        http_result_free(&r);
        login_ok(&dA, "slow", PASSWORD, &(struct web_session){0});
}

static void test_forgot_rate_limit(void **state)
{
        struct http_result r;
        (void)state;

        /* forgot: 5 per hour per address (here: per account). */
        for (int i = 0; i < 5; i++) {
                forgot(&dA, "rl-forgot@example.test", NULL, &r);
                assert_int_equal(r.status, 200);
                http_result_free(&r);
        }
        forgot(&dA, "RL-forgot@example.test ", NULL, &r);
        http_assert_error(&r, 429, "rate_limited", NULL);
        http_result_free(&r);

        /* reset: 8 per hour per address. */
        const char *ip = harness_fresh_ip();
        for (int i = 0; i < 8; i++) {
                post_json(&dA, "/api/v1/auth/reset", ip,
                          "{\"token\":\"00\",\"new_password\":\"new password\"}", NULL, &r);
                assert_int_equal(r.status, 400);
                http_result_free(&r);
        }
        post_json(&dA, "/api/v1/auth/reset", ip,
                  "{\"token\":\"00\",\"new_password\":\"new password\"}", NULL, &r);
        http_assert_error(&r, 429, "rate_limited", NULL);
        http_result_free(&r);
}

/* --- languages --------------------------------------------------------------- */

static void test_mail_languages(void **state)
{
        struct http_result r;
        (void)state;

        /* Accept-Language at registration; stored for later mail. */
        const char *ru[] = {"Accept-Language: ru-RU, ru;q=0.9, en;q=0.5", NULL};
        register_as(&dA, harness_fresh_ip(), "ivan", "ivan@example.test", PASSWORD, ru);
        char *locale = harness_sql_text(&dA, "SELECT locale FROM server_users WHERE username = %Q",
                                        "ivan");
        assert_string_equal(locale, "ru");
        free(locale);
        char *mail = harness_outbox_take(&dA, "ivan@example.test", 5000);
        assert_non_null(mail);
        assert_non_null(strstr(mail, "Здравствуйте, ivan!"));
        assert_non_null(strstr(mail, "48 часов"));
        assert_non_null(strstr(mail, "charset=UTF-8"));
        free(mail);
        harness_sql(&dA, "UPDATE server_users SET confirmed = 1 WHERE username = %Q", "ivan");

        /* Forgot without any language hint: the account's language. */
        forgot(&dA, "ivan@example.test", NULL, &r);
        http_result_free(&r);
        mail = harness_outbox_take(&dA, "ivan@example.test", 5000);
        assert_non_null(mail);
        assert_non_null(strstr(mail, "сброс пароля"));
        free(mail);
        /* An explicit choice (the cookie) wins. */
        const char *en_cookie[] = {"Cookie: verstak_locale=en", NULL};
        forgot(&dA, "ivan@example.test", en_cookie, &r);
        http_result_free(&r);
        mail = harness_outbox_take(&dA, "ivan@example.test", 5000);
        assert_non_null(mail);
        assert_non_null(strstr(mail, "A password reset was requested"));
        free(mail);

        /* The cookie at registration beats Accept-Language. */
        const char *cookie_ru[] = {"Accept-Language: en-US", "Cookie: verstak_locale=ru", NULL};
        register_as(&dA, harness_fresh_ip(), "olga", "olga@example.test", PASSWORD, cookie_ru);
        mail = harness_outbox_take(&dA, "olga@example.test", 5000);
        assert_non_null(mail);
        assert_non_null(strstr(mail, "Здравствуйте, olga!"));
        free(mail);
        /* Unsupported languages fall back to the default (en). */
        const char *de[] = {"Accept-Language: de-DE, fr;q=0.8", NULL};
        register_as(&dA, harness_fresh_ip(), "hans", "hans@example.test", PASSWORD, de);
        mail = harness_outbox_take(&dA, "hans@example.test", 5000);
        assert_non_null(mail);
        assert_non_null(strstr(mail, "Hello, hans!"));
        free(mail);
}

/* --- a daemon without public_url: restarts, links from the request -------- */

static void test_links_restart_retention(void **state)
{
        struct daemon d = {0};
        struct daemon_options o = {.config_yaml = config_plain, .extra_args = daemon_args()};
        struct web_session keep, stale;
        struct http_result r;
        char expect[128];
        (void)state;

        assert_int_equal(harness_start(&d, &o), 0);

        /* A Host the client chose never becomes a link: without public_url
         * account e-mail is refused for any host but a loopback one. */
        const char *evil[] = {"Host: evil.example", NULL};
        const char *evil_port[] = {"Host: evil.example:47732", NULL};
        const char *evil_ip[] = {"Host: 203.0.113.7", NULL};
        const char *const *foreign[] = {evil, evil_port, evil_ip};
        for (size_t i = 0; i < 3; i++) {
                post_json(&d, "/api/v1/auth/register", harness_fresh_ip(),
                          "{\"username\":\"victim\",\"email\":\"victim@example.test\","
                          "\"password\":\"" PASSWORD "\"}",
                          foreign[i], &r);
                http_assert_error(&r, 503, "public_url_required", NULL);
                assert_non_null(strstr(http_result_error(&r), "public_url"));
                http_result_free(&r);
        }
        assert_int_equal(harness_sql_int(&d,
                                         "SELECT count(*) FROM server_users WHERE username = %Q",
                                         "victim"),
                         0);
        assert_true(harness_log_contains(&d, "public_url is not set"));

        /* Links follow a loopback request's own origin, scheme from the
         * proxy. */
        const char *https[] = {"X-Forwarded-Proto: https", "Host: localhost:8443", NULL};
        register_as(&d, harness_fresh_ip(), "rest", "rest@example.test", PASSWORD, https);
        char *mail = harness_outbox_take(&d, "rest@example.test", 5000);
        assert_non_null(mail);
        char token[49];
        mail_token(mail, "https://localhost:8443/api/v1/auth/confirm?token=", token);
        free(mail);
        snprintf(expect, sizeof(expect), "{\"token\":\"%s\"}", token);
        post_json(&d, "/api/v1/auth/confirm", harness_fresh_ip(), expect, NULL, &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        /* A reset for an existing account, asked through a foreign Host:
         * refused, and no e-mail goes out. */
        forgot(&d, "rest@example.test", evil, &r);
        http_assert_error(&r, 503, "public_url_required", NULL);
        http_result_free(&r);
        forgot(&d, "nobody-here@example.test", evil, &r);
        http_assert_error(&r, 503, "public_url_required", NULL);
        http_result_free(&r);
        assert_int_equal(
                harness_sql_int(&d, "SELECT count(*) FROM server_email_tokens WHERE purpose = %Q",
                                "reset"),
                0);
        forgot(&d, "rest@example.test", NULL, &r);
        http_result_free(&r);
        mail = harness_outbox_take(&d, "rest@example.test", 5000);
        assert_non_null(mail);
        /* The foreign requests sent nothing: this is the only message. */
        assert_null(strstr(mail, "evil.example"));
        snprintf(expect, sizeof(expect), "http://127.0.0.1:%d/reset?token=", d.port);
        mail_token(mail, expect, token);
        free(mail);

        login_ok(&d, "rest", PASSWORD, &keep);
        login_ok(&d, "rest", PASSWORD, &stale);
        assert_int_equal(harness_stop(&d, SIGTERM, 20, NULL), 0);

        /* While it is down, one session and the reset token expire. */
        harness_sql(&d, "UPDATE server_sessions SET expires_at = '2001-01-01T00:00:00Z'"
                        " WHERE token_hash <> (SELECT token_hash FROM server_sessions"
                        " ORDER BY created_at LIMIT 1)");
        harness_sql(&d, "UPDATE server_email_tokens SET expires_at = '2001-01-01T00:00:00Z'");
        assert_int_equal(harness_sql_int(&d, "SELECT count(*) FROM server_sessions"), 2);

        assert_int_equal(harness_start(&d, &o), 0);
        /* Retention at start removed the expired ones… */
        assert_int_equal(harness_sql_int(&d, "SELECT count(*) FROM server_sessions"), 1);
        assert_int_equal(harness_sql_int(&d, "SELECT count(*) FROM server_email_tokens"), 0);
        /* …and a live session survived the restart. */
        const char *kb[] = {keep.bearer_header, NULL}, *sb[] = {stale.bearer_header, NULL};
        long a = devices_status(&d, kb), b = devices_status(&d, sb);
        assert_true((a == 200 && b == 401) || (a == 401 && b == 200));

        /* No secret reached the log. */
        assert_false(harness_log_contains(&d, keep.token));
        assert_false(harness_log_contains(&d, keep.csrf));
        assert_false(harness_log_contains(&d, token));
        assert_false(harness_log_contains(&d, PASSWORD));
        harness_destroy(&d);
}

/* A port on loopback where nothing listens (bound, then released). */
static int closed_port(void)
{
        struct sockaddr_in sin = {.sin_family = AF_INET};
        socklen_t len = sizeof(sin);
        int fd = socket(AF_INET, SOCK_STREAM, 0), port;

        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
        port = ntohs(sin.sin_port);
        close(fd);
        return port;
}

/* Delivery failures are logged and counted, never shown to the requester. */
static void test_mail_failure_hidden(void **state)
{
        struct daemon d = {0};
        struct http_result r;
        char yaml[256];
        (void)state;

        snprintf(yaml, sizeof(yaml),
                 "public_url: \"" PUBLIC_URL "\"\n"
                 "smtp:\n  host: 127.0.0.1\n  port: %d\n  security: none\n"
                 "  from: sync@example.test\n  timeout_seconds: 2\n",
                 closed_port());
        struct daemon_options o = {.config_yaml = yaml, .extra_args = daemon_args()};
        assert_int_equal(harness_start(&d, &o), 0);

        register_as(&d, harness_fresh_ip(), "lost", "lost@example.test", PASSWORD, NULL);
        harness_sql(&d, "UPDATE server_users SET confirmed = 1 WHERE username = %Q", "lost");
        forgot(&d, "lost@example.test", NULL, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(http_result_string(&r, "status"), "if email exists, reset link sent");
        http_result_free(&r);

        /* Both failures reach the log, with the user but not the link. */
        char *id = harness_sql_text(&d, "SELECT id FROM server_users WHERE username = %Q", "lost");
        char needle[128];
        snprintf(needle, sizeof(needle), "password reset e-mail for user %s", id);
        assert_true(harness_wait_log(&d, needle, 15000));
        snprintf(needle, sizeof(needle), "confirmation e-mail for user %s", id);
        assert_true(harness_log_contains(&d, needle));
        assert_false(harness_log_contains(&d, "token="));
        assert_false(harness_log_contains(&d, PASSWORD));
        free(id);
        harness_destroy(&d);
}

static void test_no_secrets_in_log(void **state)
{
        struct web_session s;
        (void)state;

        make_user(&dA, "quiet", "quiet@example.test");
        login_ok(&dA, "quiet", PASSWORD, &s);
        assert_false(harness_log_contains(&dA, s.token));
        assert_false(harness_log_contains(&dA, s.csrf));
        assert_false(harness_log_contains(&dA, PASSWORD));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_register_validation),
                cmocka_unit_test(test_register_normalises_and_conflicts),
                cmocka_unit_test(test_register_rate_limit),
                cmocka_unit_test(test_registration_disabled),
                cmocka_unit_test(test_confirm_page),
                cmocka_unit_test(test_confirm_json_errors),
                cmocka_unit_test(test_full_registration_flow),
                cmocka_unit_test(test_login_rules),
                cmocka_unit_test(test_login_cookies),
                cmocka_unit_test(test_login_rotates_sessions),
                cmocka_unit_test(test_login_rate_limit),
                cmocka_unit_test(test_session_auth),
                cmocka_unit_test(test_session_expiry),
                cmocka_unit_test(test_devices_revoke),
                cmocka_unit_test(test_csrf),
                cmocka_unit_test(test_logout),
                cmocka_unit_test(test_forgot_same_answer),
                cmocka_unit_test(test_forgot_reset_flow),
                cmocka_unit_test(test_reset_expired),
                cmocka_unit_test(test_forgot_rate_limit),
                cmocka_unit_test(test_mail_languages),
                cmocka_unit_test(test_links_restart_retention),
                cmocka_unit_test(test_mail_failure_hidden),
                cmocka_unit_test(test_no_secrets_in_log),
        };
        return cmocka_run_group_tests(tests, start_shared, stop_shared);
}
