/* SPDX-License-Identifier: MIT */
/*
 * Upgrading a deployment of the earlier server in place: its config.yml
 * (keys this daemon does not use), devices that still authenticate with a
 * plaintext API key, SMTP settings saved from its console, and failed
 * logins audited with the account they named.  Each starts the real
 * daemon on a copy of tests/fixtures/legacy-data; the last test does the
 * whole upgrade at once and delivers through a real SMTP server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define JSON "application/json"

/* A device of the earlier server's first releases: its key in clear. */
#define LEGACY_KEY    "VerstakLegacyKey-3b9e0c5d7a1f4e2b8c6d0a9f"
#define LEGACY_DEVICE "dev_legacy0000000000000001"
#define SMTP_USER     "old-console-user"
#define SMTP_PASSWORD "Old-Console-Smtp-Secret-41"
#define ALICE_ID_SQL  "(SELECT id FROM server_users WHERE username = 'alice')"

/* config.yml as the earlier server wrote it (its YAML writer's layout),
 * with the key it had that means nothing here. */
static const char go_config[] =
        "port: 47732\n"
        "listen: 127.0.0.1:47732\n"
        "development_token_logging: true\n"
        "web:\n    default_locale: en\n    allow_registration: true\n"
        "    server_name: Verstak Sync Server\n"
        "limits:\n    max_json_body: 2097152\n    max_push_operations: 100\n"
        "    max_payload_json: 262144\n    max_pull_page: 100\n"
        "    max_blob_bytes: 268435456\n    max_vault_blob_bytes: 4294967296\n"
        "    max_user_blob_bytes: 8589934592\n"
        "retention:\n    idempotency_hours: 24\n    audit_days: 90\n    temp_upload_hours: 24\n"
        "admin:\n    - username: admin\n"
        "      password_hash: $2a$10$FPIhr5Xkae4fisEO79O23OJSXaNcaEVIAfQCVY/n26CM3LOOOl9SO\n";

static void fixture_path(char *out, size_t size)
{
        snprintf(out, size, "%s/tests/fixtures/legacy-data/data", harness_source_root());
}

/* A copy of the fixture with config_yaml (NULL: its own config.yml). */
static void prepare(struct daemon *d, struct daemon_options *o, const char *config_yaml)
{
        static char path[4096];

        fixture_path(path, sizeof(path));
        *o = (struct daemon_options){.copy_data_from = path, .config_yaml = config_yaml};
        assert_int_equal(harness_prepare(d, o), 0);
}

static void plant_legacy_device(const struct daemon *d)
{
        assert_int_equal(harness_db_exec(d, "INSERT INTO server_devices (id, name, api_key, "
                                            "legacy_api_key, user_id, vault_id, created_at, "
                                            "last_seen) VALUES ('" LEGACY_DEVICE
                                            "', 'old desktop', '" LEGACY_KEY "', 1, " ALICE_ID_SQL
                                            ", 'vault-a', '2026-06-20T10:00:00Z', "
                                            "'2026-06-20T10:00:00Z')"),
                         0);
        /* The earlier server's own migration rewrote such rows once. */
        assert_int_equal(harness_db_exec(d, "UPDATE server_devices SET legacy_api_key = 1 "
                                            "WHERE id = '" LEGACY_DEVICE "'"),
                         0);
}

static void plant_smtp_settings(const struct daemon *d, int port)
{
        char sql[1024];

        snprintf(sql, sizeof(sql),
                 "INSERT OR REPLACE INTO server_smtp_config (key, value) VALUES "
                 "('smtp_host', '127.0.0.1'), ('smtp_port', '%d'), ('smtp_user', '" SMTP_USER "'),"
                 " ('smtp_pass', '" SMTP_PASSWORD "'), ('smtp_security', 'none'),"
                 " ('smtp_from', 'sync@old.example.test'),"
                 " ('server_url', 'https://old-sync.example.test/')",
                 port);
        assert_int_equal(harness_db_exec(d, sql), 0);
}

/* Whether needle's bytes appear anywhere in the file (a missing file holds
 * nothing). */
static bool file_has(const char *path, const char *needle)
{
        char *text = NULL;
        size_t len = 0, n = strlen(needle);
        FILE *f = fopen(path, "rb");
        bool found = false;

        if (!f)
                return false;
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        len = (size_t)ftell(f);
        rewind(f);
        text = malloc(len + 1);
        assert_non_null(text);
        assert_int_equal(fread(text, 1, len, f), len);
        fclose(f);
        for (size_t i = 0; i + n <= len && !found; i++)
                found = memcmp(text + i, needle, n) == 0;
        free(text);
        return found;
}

static bool db_files_have(const struct daemon *d, const char *needle)
{
        char path[PATH_MAX + 16];

        snprintf(path, sizeof(path), "%s/server.db", d->data_dir);
        if (file_has(path, needle))
                return true;
        snprintf(path, sizeof(path), "%s/server.db-wal", d->data_dir);
        return file_has(path, needle);
}

static void expect_me(const struct daemon *d, const char *token, const char *device_id)
{
        struct http_result r;

        assert_int_equal(http_get(d, "/api/client/me", token, &r), 0);
        if (r.status != 200)
                fprintf(stderr, "/api/client/me: %ld %s\n", r.status, r.body);
        assert_int_equal(r.status, 200);
        assert_string_equal(http_result_string(&r, "device_id"), device_id);
        http_result_free(&r);
}

/* --- config.yml ------------------------------------------------------------ */

static void test_earlier_config_keys(void **state)
{
        struct daemon d;
        struct daemon_options o;
        int status = 0;
        (void)state;

        prepare(&d, &o, go_config);
        assert_int_equal(harness_start(&d, &o), 0);
        assert_true(harness_wait_log(&d,
                                     "development_token_logging is a setting of the "
                                     "earlier server",
                                     5000));
        harness_destroy(&d);

        /* A key no version ever had still stops start-up, naming it. */
        prepare(&d, &o, "port: 47732\ndevelopment_token_loging: true\n");
        o.no_wait = true;
        assert_int_equal(harness_start(&d, &o), 0);
        assert_int_equal(harness_wait(&d, 30, &status), 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 2);
        assert_true(harness_log_contains(&d, "development_token_loging: unknown key"));
        harness_destroy(&d);
}

/* --- plaintext device keys -------------------------------------------------- */

static void test_legacy_api_key(void **state)
{
        struct daemon d;
        struct daemon_options o;
        long long n = -1;
        (void)state;

        harness_note_secret(LEGACY_KEY);
        prepare(&d, &o, NULL);
        plant_legacy_device(&d);
        assert_true(db_files_have(&d, LEGACY_KEY));
        assert_int_equal(harness_start(&d, &o), 0);

        expect_me(&d, LEGACY_KEY, LEGACY_DEVICE);
        assert_int_equal(
                harness_db_int(&d,
                               "SELECT count(*) FROM server_devices WHERE id = '" LEGACY_DEVICE
                               "' AND api_key = 'disabled:" LEGACY_DEVICE "'"
                               " AND token_prefix = 'VerstakL' AND token_suffix = '0a9f'",
                               &n),
                0);
        assert_int_equal(n, 1);
        assert_false(db_files_have(&d, LEGACY_KEY));
        /* Not in a URL. */
        struct http_result r;
        assert_int_equal(http_get(&d, "/api/client/me?api_key=" LEGACY_KEY, NULL, &r), 0);
        http_assert_error(&r, 401, "unauthorized", "API key required");
        http_result_free(&r);
        harness_destroy(&d);
}

/* --- failed logins ------------------------------------------------------------- */

static void test_failed_login_audits_user(void **state)
{
        struct daemon d;
        struct daemon_options o;
        struct http_result known, unknown;
        long long n = -1;
        (void)state;

        prepare(&d, &o, NULL);
        /* Count only what this test causes (retention may or may not have
         * removed the fixture's own entries, depending on the date). */
        assert_int_equal(harness_db_exec(&d, "DELETE FROM server_audit_log"), 0);
        assert_int_equal(harness_start(&d, &o), 0);

        static const char wrong[] = "Wrong-Password-For-Alice-9";
        harness_note_secret(wrong);
        http_call(&d, "POST", "/api/client/pair", harness_fresh_ip(), JSON,
                  "{\"login\":\"alice\",\"password\":\"Wrong-Password-For-Alice-9\","
                  "\"vault_id\":\"vault-a\"}",
                  NULL, &known);
        http_call(&d, "POST", "/api/client/pair", harness_fresh_ip(), JSON,
                  "{\"login\":\"nobody-here\",\"password\":\"Wrong-Password-For-Alice-9\","
                  "\"vault_id\":\"vault-a\"}",
                  NULL, &unknown);
        /* The answer does not tell whether the account exists. */
        assert_int_equal(known.status, 401);
        assert_int_equal(unknown.status, 401);
        assert_int_equal(known.body_len, unknown.body_len);
        assert_memory_equal(known.body, unknown.body, known.body_len);
        http_result_free(&known);
        http_result_free(&unknown);

        http_call(&d, "POST", "/api/v1/auth/login", harness_fresh_ip(), JSON,
                  "{\"username\":\"alice@example.com\","
                  "\"password\":\"Wrong-Password-For-Alice-9\"}",
                  NULL, &known);
        assert_int_equal(known.status, 401);
        http_result_free(&known);

        assert_int_equal(
                harness_db_wait_int(&d,
                                    "SELECT count(*) FROM server_audit_log WHERE event_type "
                                    "= 'device_auth_failed' AND user_id = " ALICE_ID_SQL,
                                    1, 5000, &n),
                0);
        assert_int_equal(n, 1);
        assert_int_equal(
                harness_db_wait_int(&d,
                                    "SELECT count(*) FROM server_audit_log WHERE event_type "
                                    "= 'login_failed' AND user_id = " ALICE_ID_SQL,
                                    1, 5000, &n),
                0);
        assert_int_equal(n, 1);
        /* The unknown login: audited without a user. */
        assert_int_equal(
                harness_db_wait_int(&d,
                                    "SELECT count(*) FROM server_audit_log WHERE event_type "
                                    "= 'device_auth_failed' AND user_id IS NULL",
                                    1, 5000, &n),
                0);
        assert_int_equal(n, 1);
        assert_int_equal(harness_db_int(&d,
                                        "SELECT count(*) FROM server_audit_log WHERE message "
                                        "LIKE '%Wrong-Password%'",
                                        &n),
                         0);
        assert_int_equal(n, 0);
        harness_destroy(&d);
}

/* --- SMTP settings ------------------------------------------------------------- */

struct admin {
        char cookie[300];
        char csrf_header[100];
};

static void admin_login(const struct daemon *d, struct admin *a)
{
        struct http_result r;
        char token[80], csrf[80];

        http_call(d, "POST", "/admin/api/login", NULL, JSON,
                  "{\"username\":\"admin\",\"password\":\"fixture-admin-pass\"}", NULL, &r);
        assert_int_equal(r.status, 200);
        char *sc = http_result_set_cookie(&r, "admin_session");
        char *cc = http_result_set_cookie(&r, "csrf_token");
        assert_non_null(sc);
        assert_non_null(cc);
        http_cookie_value(sc, token, sizeof(token));
        http_cookie_value(cc, csrf, sizeof(csrf));
        harness_note_secret(token);
        harness_note_secret(csrf);
        snprintf(a->cookie, sizeof(a->cookie), "Cookie: admin_session=%s; csrf_token=%s", token,
                 csrf);
        snprintf(a->csrf_header, sizeof(a->csrf_header), "X-CSRF-Token: %s", csrf);
        free(sc);
        free(cc);
        http_result_free(&r);
}

static const char *source_of(const struct http_result *r, const char *key)
{
        return json_string_value(json_object_get(json_object_get(r->json, "sources"), key));
}

static void start_sink(struct daemon *d, struct harness_sink *sk)
{
        static const char *const auth[] = {"--auth", SMTP_USER ":" SMTP_PASSWORD, NULL};
        char dir[PATH_MAX + 16];

        snprintf(dir, sizeof(dir), "%s/sink", d->root);
        assert_int_equal(mkdir(dir, 0755), 0);
        if (harness_sink_start(sk, dir, auth) < 0) {
                harness_sink_stop(sk);
                harness_destroy(d);
                fail_msg("cannot start the SMTP sink (python3 with aiosmtpd)");
        }
}

/* An e-mail through the admin console's test message; returns its envelope. */
static char *send_test_mail(const struct daemon *d, struct harness_sink *sk, const struct admin *a)
{
        const char *h[] = {a->cookie, a->csrf_header, NULL};
        struct http_result r;
        char *eml = NULL, *meta = NULL;

        http_call(d, "POST", "/admin/api/smtp/test", NULL, JSON, "{\"to\":\"ops@example.test\"}", h,
                  &r);
        if (r.status != 200)
                fprintf(stderr, "smtp test: %ld %s\n", r.status, r.body);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        assert_int_equal(harness_sink_next(sk, 5000, &eml, &meta), 0);
        assert_non_null(strstr(eml, "From: sync@old.example.test"));
        free(eml);
        return meta;
}

/* The account a root-started daemon drops to in this test (created when
 * missing; another suite may be creating it at the same moment). */
#define TEST_USER "verstak-test"

static const struct passwd *test_user(void)
{
        static const char *const argv[] = {
                "useradd",           "--system",     "--no-create-home", "--shell",
                "/usr/sbin/nologin", "--user-group", TEST_USER,          NULL};
        struct passwd *pw = getpwnam(TEST_USER);

        if (!pw) {
                (void)harness_run(argv);
                pw = getpwnam(TEST_USER);
        }
        assert_non_null(pw);
        return pw;
}

static void smtp_carried_over(bool drop_root)
{
        struct daemon d;
        struct daemon_options o;
        struct harness_sink sk = HARNESS_SINK_INIT;
        struct admin a;
        struct http_result r;
        struct stat st;
        char path[PATH_MAX + 64];
        long long n = -1;
        uid_t owner = geteuid();

        harness_note_secret(SMTP_PASSWORD);
        char config[sizeof(go_config) + 64];

        snprintf(config, sizeof(config), "%sserver:\n  user: " TEST_USER "\n", go_config);
        prepare(&d, &o, drop_root ? config : NULL);
        if (drop_root) {
                const struct passwd *pw = test_user();
                o.drop_root = true;
                assert_int_equal(chmod(d.root, 0755), 0);
                /* The dropped daemon must not be able to read the password. */
                assert_int_not_equal(pw->pw_uid, owner);
        }
        start_sink(&d, &sk);
        plant_smtp_settings(&d, sk.port);
        assert_int_equal(harness_start(&d, &o), 0);
        assert_true(harness_wait_log(&d, "Carried the earlier server's SMTP settings over", 5000));
        assert_true(harness_log_contains(&d, "legacy-smtp/password"));

        /* The password left the database for a file closed to others. */
        assert_int_equal(harness_db_int(&d,
                                        "SELECT count(*) FROM server_smtp_config WHERE key = "
                                        "'smtp_pass'",
                                        &n),
                         0);
        assert_int_equal(n, 0);
        assert_false(db_files_have(&d, SMTP_PASSWORD));
        snprintf(path, sizeof(path), "%s/legacy-smtp/password", d.data_dir);
        assert_int_equal(lstat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(st.st_uid, owner);
        snprintf(path, sizeof(path), "%s/legacy-smtp", d.data_dir);
        assert_int_equal(lstat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0700);
        assert_int_equal(st.st_uid, owner);

        admin_login(&d, &a);
        const char *h[] = {a.cookie, NULL};
        http_call(&d, "GET", "/admin/api/smtp", NULL, NULL, NULL, h, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(http_result_string(&r, "host"), "127.0.0.1");
        assert_int_equal(json_integer_value(json_object_get(r.json, "port")), sk.port);
        assert_string_equal(http_result_string(&r, "security"), "none");
        assert_true(json_is_true(json_object_get(r.json, "password_configured")));
        assert_string_equal(http_result_string(&r, "public_url"), "https://old-sync.example.test");
        assert_string_equal(source_of(&r, "host"), "earlier_server");
        assert_string_equal(source_of(&r, "password"), "earlier_server");
        assert_string_equal(source_of(&r, "public_url"), "earlier_server");
        assert_null(strstr(r.body, SMTP_PASSWORD));
        http_result_free(&r);

        char *meta = send_test_mail(&d, &sk, &a);
        assert_non_null(strstr(meta, SMTP_USER)); /* authenticated with the old password */
        free(meta);

        /* Later starts keep using the carried-over settings: the table,
         * which the daemon's account can write, is not read for delivery
         * again, and a password put back into it is only deleted. */
        int status = 0;
        assert_int_equal(harness_stop(&d, SIGTERM, 30, &status), 0);
        assert_int_equal(harness_db_exec(&d, "UPDATE server_smtp_config SET value = "
                                             "'192.0.2.1' WHERE key = 'smtp_host';"
                                             "INSERT INTO server_smtp_config (key, value) "
                                             "VALUES ('smtp_pass', 'Planted-Password-77')"),
                         0);
        assert_int_equal(harness_start(&d, &o), 0);
        admin_login(&d, &a);
        http_call(&d, "GET", "/admin/api/smtp", NULL, NULL, NULL, h, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(http_result_string(&r, "host"), "127.0.0.1");
        http_result_free(&r);
        meta = send_test_mail(&d, &sk, &a);
        assert_non_null(strstr(meta, SMTP_USER));
        free(meta);
        assert_int_equal(harness_db_int(&d,
                                        "SELECT count(*) FROM server_smtp_config WHERE key = "
                                        "'smtp_pass'",
                                        &n),
                         0);
        assert_int_equal(n, 0);

        harness_sink_stop(&sk);
        assert_false(harness_log_contains(&d, SMTP_PASSWORD));
        harness_destroy(&d);
}

static void test_smtp_carried_over(void **state)
{
        (void)state;
        smtp_carried_over(false);
}

/* Started as root, the daemon drops to its user: the carried-over
 * settings stay root's, and the helper still reads them. */
static void test_smtp_carried_over_root(void **state)
{
        (void)state;
        if (geteuid() != 0)
                skip();
        smtp_carried_over(true);
}

/* smtp.* in config.yml wins: the table is left alone and not used. */
static void test_smtp_config_wins(void **state)
{
        struct daemon d;
        struct daemon_options o;
        struct admin a;
        struct http_result r;
        char config[sizeof(go_config) + 128];
        long long n = -1;
        (void)state;

        snprintf(config, sizeof(config), "%ssmtp:\n  from: ops@new.example.test\n", go_config);
        prepare(&d, &o, config);
        plant_smtp_settings(&d, 25);
        assert_int_equal(harness_start(&d, &o), 0);
        assert_true(harness_wait_log(&d, "config.yml sets smtp.*", 5000));
        assert_int_equal(harness_db_int(&d,
                                        "SELECT count(*) FROM server_smtp_config WHERE key = "
                                        "'smtp_pass'",
                                        &n),
                         0);
        assert_int_equal(n, 1);
        admin_login(&d, &a);
        const char *h[] = {a.cookie, NULL};
        http_call(&d, "GET", "/admin/api/smtp", NULL, NULL, NULL, h, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(http_result_string(&r, "delivery"), "outbox");
        assert_string_equal(http_result_string(&r, "from"), "ops@new.example.test");
        assert_string_equal(source_of(&r, "from"), "config");
        assert_string_equal(source_of(&r, "password"), "default");
        http_result_free(&r);
        harness_destroy(&d);
}

/* Settings that cannot be carried over stay where they are, with a reason
 * in the log: malformed ones, and any when the mail helper is its own
 * service (it reads only root's files, never the daemon's). */
static void test_smtp_not_carried_over(void **state)
{
        struct daemon d;
        struct daemon_options o;
        char path[PATH_MAX + 64];
        long long n = -1;
        (void)state;

        harness_note_secret(SMTP_PASSWORD);
        prepare(&d, &o, NULL);
        plant_smtp_settings(&d, 25);
        assert_int_equal(harness_db_exec(&d, "UPDATE server_smtp_config SET value = 'smtp' "
                                             "WHERE key = 'smtp_port'"),
                         0);
        assert_int_equal(harness_start(&d, &o), 0);
        assert_true(harness_wait_log(&d, "incomplete or malformed; not carried over", 5000));
        assert_int_equal(harness_db_int(&d,
                                        "SELECT count(*) FROM server_smtp_config WHERE key = "
                                        "'smtp_pass'",
                                        &n),
                         0);
        assert_int_equal(n, 1);
        snprintf(path, sizeof(path), "%s/legacy-smtp", d.data_dir);
        assert_int_not_equal(access(path, F_OK), 0);
        harness_destroy(&d);

        static const char *const env[] = {"VERSTAK_MAILER_SOCKET=/nonexistent/mailer.sock", NULL};
        prepare(&d, &o, NULL);
        o.extra_env = env;
        plant_smtp_settings(&d, 25);
        assert_int_equal(harness_start(&d, &o), 0);
        assert_true(harness_wait_log(&d, "the mail helper runs as its own service", 5000));
        assert_int_equal(harness_db_int(&d,
                                        "SELECT count(*) FROM server_smtp_config WHERE key = "
                                        "'smtp_pass'",
                                        &n),
                         0);
        assert_int_equal(n, 1);
        snprintf(path, sizeof(path), "%s/legacy-smtp", d.data_dir);
        assert_int_not_equal(access(path, F_OK), 0);
        harness_destroy(&d);
}

/* --- the whole upgrade ------------------------------------------------------------ */

static void test_whole_upgrade(void **state)
{
        struct daemon d;
        struct daemon_options o;
        struct harness_sink sk = HARNESS_SINK_INIT;
        struct admin a;
        long long n = -1;
        (void)state;

        harness_note_secret(LEGACY_KEY);
        harness_note_secret(SMTP_PASSWORD);
        prepare(&d, &o, go_config);
        start_sink(&d, &sk);
        plant_legacy_device(&d);
        plant_smtp_settings(&d, sk.port);
        assert_true(db_files_have(&d, LEGACY_KEY));
        assert_true(db_files_have(&d, SMTP_PASSWORD));

        assert_int_equal(harness_start(&d, &o), 0);
        /* Serves the plaintext-key device and the fixture's own. */
        expect_me(&d, LEGACY_KEY, LEGACY_DEVICE);
        expect_me(&d, "968be0a3185667e5b5ce6163c3f2535430d1ec3a7b6ec8432fd7facb672e30b1",
                  "dev_c74f3f8487b93685c72d9094");
        /* Mail goes through the carried-over SMTP host, authenticated. */
        admin_login(&d, &a);
        char *meta = send_test_mail(&d, &sk, &a);
        assert_non_null(strstr(meta, SMTP_USER));
        free(meta);
        /* Account mail too: a reset link built on the old server_url. */
        struct http_result r;
        http_call(&d, "POST", "/api/v1/auth/forgot", harness_fresh_ip(), JSON,
                  "{\"email\":\"alice@example.com\"}", NULL, &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        char *eml = NULL;
        assert_int_equal(harness_sink_next(&sk, 5000, &eml, &meta), 0);
        assert_non_null(strstr(meta, "alice@example.com"));
        assert_non_null(strstr(eml, "https://old-sync.example.test/"));
        free(eml);
        free(meta);

        /* No plaintext key or SMTP password left in the database. */
        assert_false(db_files_have(&d, LEGACY_KEY));
        assert_false(db_files_have(&d, SMTP_PASSWORD));
        assert_int_equal(harness_db_int(&d, "PRAGMA user_version", &n), 0);
        assert_int_equal(n, 6);
        harness_sink_stop(&sk);
        assert_false(harness_log_contains(&d, SMTP_PASSWORD));
        assert_false(harness_log_contains(&d, LEGACY_KEY));
        harness_destroy(&d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_earlier_config_keys),
                cmocka_unit_test(test_legacy_api_key),
                cmocka_unit_test(test_failed_login_audits_user),
                cmocka_unit_test(test_smtp_carried_over),
                cmocka_unit_test(test_smtp_carried_over_root),
                cmocka_unit_test(test_smtp_config_wins),
                cmocka_unit_test(test_smtp_not_carried_over),
                cmocka_unit_test(test_whole_upgrade),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
