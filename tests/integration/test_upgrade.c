/* SPDX-License-Identifier: MIT */
/*
 * Upgrading a deployment of the earlier server in place: its config.yml
 * (keys this daemon does not use), devices that still authenticate with a
 * plaintext API key, SMTP settings saved from its console, and failed
 * logins audited with the account they named.  Each starts the real
 * daemon on a copy of tests/fixtures/legacy-data; the SMTP settings are
 * carried over both to a helper the daemon starts and to one running as
 * its own socket-activated service, as under the packaged units; the last
 * test does the whole upgrade at once and delivers through a real SMTP
 * server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "mailer/mail_channel.h"
#include "mailer/mail_proto.h"

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
        struct daemon d = {0};
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
        struct daemon d = {0};
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
        struct daemon d = {0};
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
static char *send_test_mail(const struct daemon *d, struct harness_sink *sk,
                            const struct harness_admin *a)
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

/* How often needle occurs in the file at path. */
static int count_in_file(const char *path, const char *needle)
{
        char *text = harness_read_file(path);
        int n = 0;

        for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
                n++;
        free(text);
        return n;
}

static void expect_carried_dir(const char *dir, uid_t owner)
{
        char path[PATH_MAX + 64];
        struct stat st;

        assert_int_equal(lstat(dir, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 0777, 0700);
        assert_int_equal(st.st_uid, owner);
        snprintf(path, sizeof(path), "%s/password", dir);
        assert_int_equal(lstat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(st.st_uid, owner);
        assert_true(file_has(path, SMTP_PASSWORD));
        snprintf(path, sizeof(path), "%s/smtp.yml", dir);
        assert_int_equal(lstat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(st.st_uid, owner);
        assert_false(file_has(path, SMTP_PASSWORD));
}

/* The rows of server_smtp_config whose key is key (and, when value is
 * not NULL, whose value is value). */
static long long smtp_rows(const struct daemon *d, const char *key, const char *value)
{
        char sql[PATH_MAX + 128];
        long long n = -1;

        assert_true(
                (size_t)snprintf(sql, sizeof(sql),
                                 "SELECT count(*) FROM server_smtp_config WHERE key = '%s'%s%s%s",
                                 key, value ? " AND value = '" : "", value ? value : "",
                                 value ? "'" : "") < sizeof(sql));
        assert_int_equal(harness_db_int(d, sql, &n), 0);
        return n;
}

/* The password left the table (and the file, WAL included) and the table
 * records where the settings went. */
static void expect_table_carried(const struct daemon *d, const char *where)
{
        assert_int_equal(smtp_rows(d, "smtp_pass", NULL), 0);
        assert_false(db_files_have(d, SMTP_PASSWORD));
        assert_int_equal(smtp_rows(d, "carried_over_to", where), 1);
}

/* The password stays in the table when the helper did not take it. */
static void expect_table_kept(const struct daemon *d)
{
        assert_int_equal(smtp_rows(d, "smtp_pass", NULL), 1);
        assert_int_equal(smtp_rows(d, "carried_over_to", NULL), 0);
}

/* A later start: no second handover; a password put back into the table
 * (which the daemon's account can write) is only deleted, and a host
 * changed there changes nothing: the helper delivers with what it keeps. */
static void expect_second_start(struct daemon *d, const struct daemon_options *o,
                                struct harness_sink *sk, const char *where)
{
        struct harness_admin a;
        int status = 0;

        assert_int_equal(harness_stop(d, SIGTERM, 30, &status), 0);
        assert_int_equal(harness_db_exec(d, "UPDATE server_smtp_config SET value = "
                                            "'192.0.2.1' WHERE key = 'smtp_host';"
                                            "INSERT INTO server_smtp_config (key, value) "
                                            "VALUES ('smtp_pass', 'Planted-Password-77')"),
                         0);
        harness_note_secret("Planted-Password-77");
        assert_int_equal(harness_start(d, o), 0);
        assert_true(
                harness_wait_log(d, "SMTP password was put back into server_smtp_config", 5000));
        assert_int_equal(count_in_file(d->log_path, "Carried the earlier server's SMTP settings "
                                                    "over"),
                         1);
        harness_admin_login_ok(d, "admin", "fixture-admin-pass", &a);
        const char *h[] = {a.cookie, NULL};
        struct http_result r;
        http_call(d, "GET", "/admin/api/smtp", NULL, NULL, NULL, h, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(source_of(&r, "host"), "earlier_server");
        assert_string_equal(source_of(&r, "password"), "earlier_server");
        assert_true(json_is_true(json_object_get(r.json, "password_configured")));
        http_result_free(&r);
        char *meta = send_test_mail(d, sk, &a);
        assert_non_null(strstr(meta, SMTP_USER));
        free(meta);
        expect_table_carried(d, where);
        assert_false(db_files_have(d, "Planted-Password-77"));
}

/* The daemon starts the helper itself (hand-run). */
static void smtp_carried_over(bool drop_root)
{
        struct daemon d = {0};
        struct daemon_options o;
        struct harness_sink sk = HARNESS_SINK_INIT;
        struct harness_admin a;
        struct http_result r;
        char where[PATH_MAX + 64];
        uid_t owner = geteuid();
        gid_t gid;

        harness_note_secret(SMTP_PASSWORD);
        char config[sizeof(go_config) + 64];

        snprintf(config, sizeof(config), "%sserver:\n  user: " TEST_USER "\n", go_config);
        prepare(&d, &o, drop_root ? config : NULL);
        if (drop_root) {
                uid_t daemon_uid = test_user()->pw_uid;
                o.drop_root = true;
                assert_int_equal(chmod(d.root, 0755), 0);
                /* The helper becomes its own account, not the daemon's. */
                assert_int_equal(harness_system_user("verstak-mail", &owner, &gid), 0);
                assert_int_not_equal(daemon_uid, owner);
        }
        start_sink(&d, &sk);
        plant_smtp_settings(&d, sk.port);
        assert_int_equal(harness_start(&d, &o), 0);
        assert_true(harness_wait_log(&d, "Carried the earlier server's SMTP settings over", 5000));
        assert_true(harness_log_contains(&d, "Took over the earlier server's SMTP settings"));
        snprintf(where, sizeof(where), "%s/smtp-carried-over", d.data_dir);
        assert_true(harness_log_contains(&d, where));

        expect_table_carried(&d, where);
        expect_carried_dir(where, owner);

        harness_admin_login_ok(&d, "admin", "fixture-admin-pass", &a);
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

        expect_second_start(&d, &o, &sk, where);
        harness_sink_stop(&sk);
        assert_false(harness_log_contains(&d, SMTP_PASSWORD));
        harness_destroy(&d);
}

/* --- the mailer as its own service ----------------------------------------------- */

/* A mail helper as systemd runs it: socket-activated on sock, its own
 * configuration (root's file) and data directory, started as root and
 * becoming verstak-mail, its log in log_path. */
struct mailer_unit {
        pid_t pid;
        char dir[PATH_MAX];
        char sock[PATH_MAX + 32];
        char data[PATH_MAX + 32];
        char log[PATH_MAX + 32];
};

static const char socket_activate[] = "/usr/bin/systemd-socket-activate";

static void mailer_bin(char *out, size_t size)
{
        const char *env = getenv("VERSTAK_MAILER_BIN");
        char server[PATH_MAX];

        if (env && *env) {
                snprintf(out, size, "%s", env);
                return;
        }
        snprintf(server, sizeof(server), "%s", harness_server_bin());
        char *slash = strrchr(server, '/');
        assert_non_null(slash);
        *slash = '\0';
        assert_true((size_t)snprintf(out, size, "%.4000s/verstak-sync-mailer", server) < size);
}

static void mailer_unit_start(struct mailer_unit *u, const struct daemon *d,
                              const char *config_yaml)
{
        char config[PATH_MAX + 32], bin[PATH_MAX];
        FILE *f;

        mailer_bin(bin, sizeof(bin));
        assert_true((size_t)snprintf(u->dir, sizeof(u->dir), "%.4000s/mailer", d->root) <
                    sizeof(u->dir));
        snprintf(u->sock, sizeof(u->sock), "%s/mailer.sock", u->dir);
        snprintf(u->data, sizeof(u->data), "%s/state", u->dir);
        snprintf(u->log, sizeof(u->log), "%s/mailer.log", u->dir);
        snprintf(config, sizeof(config), "%s/config.yml", u->dir);
        (void)mkdir(u->dir, 0755);
        (void)mkdir(u->data, 0750);
        f = fopen(config, "w");
        assert_non_null(f);
        fputs(config_yaml, f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(chmod(config, 0600), 0);
        (void)unlink(u->sock);
        u->pid = fork();
        assert_true(u->pid >= 0);
        if (u->pid == 0) {
                int fd = open(u->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
                        _exit(127);
                execl(socket_activate, socket_activate, "-l", u->sock, bin, "--config", config,
                      "--data", u->data, (char *)NULL);
                _exit(127);
        }
        /* The socket answers once the tool listens: the first connection
         * starts the helper, which greets and serves the next one. */
        struct harness_deadline dl = harness_deadline_in(10000);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        assert_true(strlen(u->sock) < sizeof(sa.sun_path));
        memcpy(sa.sun_path, u->sock, strlen(u->sock) + 1);
        for (;;) {
                int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                assert_true(fd >= 0);
                int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
                close(fd);
                if (r == 0)
                        break;
                assert_true(harness_pause(&dl));
        }
}

static void mailer_unit_stop(struct mailer_unit *u)
{
        if (u->pid <= 0)
                return;
        (void)kill(u->pid, SIGTERM);
        (void)waitpid(u->pid, NULL, 0);
        u->pid = 0;
}

/* The mail helper's own configuration when it is to take the settings. */
#define MAILER_OWN_CONFIG "# the mailer's own: no smtp.*\n"

/* A test of the mail helper as its own unit: the daemon, prepared on the
 * fixture, and the helper beside it, running as its own account. */
struct unit_test {
        struct daemon d;
        struct daemon_options o;
        struct mailer_unit u;
        uid_t mail_uid;
        char env_buf[PATH_MAX + 64];
        const char *env[2];
};

/* Prepare t->d on the fixture with config_yaml (not started) and the
 * helper's account; skip the test unless it runs as root with
 * systemd-socket-activate at hand. */
static void unit_test_prepare(struct unit_test *t, const char *config_yaml)
{
        gid_t mail_gid;

        if (geteuid() != 0 || access(socket_activate, X_OK) < 0)
                skip();
        *t = (struct unit_test){0};
        assert_int_equal(harness_system_user("verstak-mail", &t->mail_uid, &mail_gid), 0);
        harness_note_secret(SMTP_PASSWORD);
        prepare(&t->d, &t->o, config_yaml);
}

/* Start the helper with mailer_yaml as its configuration, then the daemon
 * with its environment pointing at the helper's socket. */
static void unit_test_start(struct unit_test *t, const char *mailer_yaml)
{
        mailer_unit_start(&t->u, &t->d, mailer_yaml);
        snprintf(t->env_buf, sizeof(t->env_buf), "VERSTAK_MAILER_SOCKET=%s", t->u.sock);
        t->env[0] = t->env_buf;
        t->env[1] = NULL;
        t->o.extra_env = t->env;
        assert_int_equal(harness_start(&t->d, &t->o), 0);
}

/* As under the packaged units: the daemon reads the table as itself and
 * hands the settings over the mailer's socket; the mailer, a process of
 * its own with its own configuration and state directory, keeps them and
 * delivers with them, also after it restarts. */
static void test_smtp_carried_over_units(void **state)
{
        struct unit_test t;
        struct harness_sink sk = HARNESS_SINK_INIT;
        struct harness_admin a;
        char where[PATH_MAX + 64];
        (void)state;

        unit_test_prepare(&t, go_config);
        start_sink(&t.d, &sk);
        plant_smtp_settings(&t.d, sk.port);
        unit_test_start(&t, MAILER_OWN_CONFIG);

        snprintf(where, sizeof(where), "%s/smtp-carried-over", t.u.data);
        assert_true(
                harness_wait_log(&t.d, "Carried the earlier server's SMTP settings over", 5000));
        assert_true(harness_log_contains(&t.d, where));
        assert_int_equal(count_in_file(t.u.log, "Took over the earlier server's SMTP settings"), 1);
        expect_table_carried(&t.d, where);
        expect_carried_dir(where, t.mail_uid);

        harness_admin_login_ok(&t.d, "admin", "fixture-admin-pass", &a);
        char *meta = send_test_mail(&t.d, &sk, &a);
        assert_non_null(strstr(meta, SMTP_USER));
        free(meta);

        expect_second_start(&t.d, &t.o, &sk, where);
        assert_int_equal(count_in_file(t.u.log, "Took over the earlier server's SMTP settings"), 1);

        /* The service restarts: it reads what it keeps, as its own account. */
        mailer_unit_stop(&t.u);
        mailer_unit_start(&t.u, &t.d, MAILER_OWN_CONFIG);
        meta = send_test_mail(&t.d, &sk, &a);
        assert_non_null(strstr(meta, SMTP_USER));
        free(meta);

        mailer_unit_stop(&t.u);
        harness_sink_stop(&sk);
        assert_false(harness_log_contains(&t.d, SMTP_PASSWORD));
        assert_int_equal(count_in_file(t.u.log, SMTP_PASSWORD), 0);
        harness_destroy(&t.d);
}

/* A mailer whose own configuration sets smtp.* refuses the settings: they
 * stay in the table, password included, and nothing is kept. */
static void test_smtp_carry_refused_by_mailer_config(void **state)
{
        struct unit_test t;
        char path[PATH_MAX + 64];
        (void)state;

        unit_test_prepare(&t, go_config);
        plant_smtp_settings(&t.d, 25);
        unit_test_start(&t, "smtp:\n  from: ops@new.example.test\n");
        assert_true(
                harness_wait_log(&t.d, "did not take the earlier server's SMTP settings", 5000));
        assert_true(harness_log_contains(&t.d, "the mail helper's configuration sets smtp.*"));
        assert_false(harness_log_contains(&t.d, "Carried the earlier server's SMTP settings over"));
        expect_table_kept(&t.d);
        assert_int_equal(count_in_file(t.u.log, "Refused the earlier server's SMTP settings"), 1);
        snprintf(path, sizeof(path), "%s/smtp-carried-over/smtp.yml", t.u.data);
        assert_int_not_equal(access(path, F_OK), 0);
        mailer_unit_stop(&t.u);
        harness_destroy(&t.d);
}

/* --- the handover message itself --------------------------------------------------- */

/* One frame with a payload written by hand (the encoder would refuse the
 * malformed ones). */
static void write_frame(int fd, uint8_t type, uint32_t id, const char *json)
{
        size_t len = strlen(json);
        uint8_t *buf = malloc(MAIL_PROTO_HEADER_SIZE + len);
        uint32_t be;

        assert_non_null(buf);
        memcpy(buf, MAIL_PROTO_MAGIC, 4);
        buf[4] = MAIL_PROTO_VERSION;
        buf[5] = type;
        buf[6] = buf[7] = 0;
        be = htonl(id);
        memcpy(buf + 8, &be, 4);
        be = htonl((uint32_t)len);
        memcpy(buf + 12, &be, 4);
        memcpy(buf + MAIL_PROTO_HEADER_SIZE, json, len);
        assert_int_equal(mail_channel_write(fd, buf, MAIL_PROTO_HEADER_SIZE + len, 5000), 0);
        free(buf);
}

/* A channel to the unit, past its READY. */
static int unit_channel(const struct mailer_unit *u)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct mail_frame f = {0};
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        assert_true(strlen(u->sock) < sizeof(sa.sun_path));
        memcpy(sa.sun_path, u->sock, strlen(u->sock) + 1);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(mail_channel_read(fd, 10000, &f), 1);
        assert_int_equal(f.hdr.type, MAIL_MSG_READY);
        mail_frame_done(&f);
        return fd;
}

/* Expect a failed RESULT for id; returns its reason (malloc'd). */
static char *expect_refusal(int fd, uint32_t id)
{
        struct mail_frame f = {0};
        struct mail_result res = {0};

        assert_int_equal(mail_channel_read(fd, 10000, &f), 1);
        assert_int_equal(f.hdr.type, MAIL_MSG_RESULT);
        assert_int_equal(f.hdr.id, id);
        assert_int_equal(mail_proto_decode_result(f.payload, f.hdr.payload_len, &res), 0);
        mail_frame_done(&f);
        assert_false(res.ok);
        return res.error;
}

/* Malformed handovers end the channel; well-formed ones with values the
 * helper refuses keep it; nothing is kept until a valid one arrives, and
 * only once. */
static void test_smtp_carry_message_checked(void **state)
{
        struct unit_test t;
        struct mail_frame f = {0};
        char path[PATH_MAX + 64], *reason, *stored = NULL;
        int fd;
        (void)state;

        unit_test_prepare(&t, NULL);
        mailer_unit_start(&t.u, &t.d, MAILER_OWN_CONFIG);
        snprintf(path, sizeof(path), "%s/smtp-carried-over/smtp.yml", t.u.data);

        static const char *const malformed[] = {
                "{\"host\":\"127.0.0.1\",\"port\":0,\"security\":\"none\"}",
                "{\"host\":\"127.0.0.1\",\"port\":25,\"security\":\"none\",\"shell\":\"x\"}",
                "{\"host\":\"127.0.0.1\",\"security\":\"none\"}",
                "{\"host\":\"127.0.0.1\",\"port\":25,\"security\":\"none\"} ",
        };
        for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
                fd = unit_channel(&t.u);
                write_frame(fd, MAIL_MSG_SMTP_CARRY, 7, malformed[i]);
                reason = expect_refusal(fd, 7);
                assert_string_equal(reason, "malformed request");
                free(reason);
                /* and the channel is closed */
                assert_int_equal(mail_channel_read(fd, 10000, &f), 0);
                close(fd);
        }

        fd = unit_channel(&t.u);
        static const struct {
                const char *json, *reason;
        } refused[] = {
                {"{\"host\":\"bad host\",\"port\":25,\"security\":\"none\"}", "host:"},
                {"{\"host\":\"mail.example.org/x?y\",\"port\":25,\"security\":\"none\"}", "host:"},
                {"{\"host\":\"127.0.0.1\",\"port\":25,\"security\":\"plain\"}", "security:"},
                {"{\"host\":\"127.0.0.1\",\"port\":25,\"security\":\"none\","
                 "\"from\":\"not an address\"}",
                 "from:"},
                {"{\"host\":\"127.0.0.1\",\"port\":25,\"security\":\"none\","
                 "\"username\":\"a\\\"b\"}",
                 "username:"},
                {"{\"host\":\"127.0.0.1\",\"port\":25,\"security\":\"none\","
                 "\"password\":\"a\\nb\"}",
                 "password:"},
        };
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
                write_frame(fd, MAIL_MSG_SMTP_CARRY, (uint32_t)(10 + i), refused[i].json);
                reason = expect_refusal(fd, (uint32_t)(10 + i));
                assert_non_null(strstr(reason, refused[i].reason));
                free(reason);
        }
        assert_int_not_equal(access(path, F_OK), 0);

        /* A valid one is kept, and says where; a second one is refused. */
        write_frame(fd, MAIL_MSG_SMTP_CARRY, 30,
                    "{\"host\":\"127.0.0.1\",\"port\":2525,\"security\":\"none\"}");
        assert_int_equal(mail_channel_read(fd, 10000, &f), 1);
        assert_int_equal(f.hdr.type, MAIL_MSG_SMTP_STORED);
        assert_int_equal(f.hdr.id, 30);
        assert_int_equal(mail_proto_decode_smtp_stored(f.payload, f.hdr.payload_len, &stored), 0);
        mail_frame_done(&f);
        snprintf(path, sizeof(path), "%s/smtp-carried-over", t.u.data);
        assert_string_equal(stored, path);
        free(stored);
        snprintf(path, sizeof(path), "%s/smtp-carried-over/smtp.yml", t.u.data);
        assert_int_equal(access(path, F_OK), 0);
        write_frame(fd, MAIL_MSG_SMTP_CARRY, 31,
                    "{\"host\":\"192.0.2.1\",\"port\":25,\"security\":\"none\"}");
        reason = expect_refusal(fd, 31);
        assert_non_null(strstr(reason, "already holds"));
        free(reason);
        assert_false(file_has(path, "192.0.2.1"));
        close(fd);
        mailer_unit_stop(&t.u);
        harness_destroy(&t.d);
}

static void test_smtp_carried_over(void **state)
{
        (void)state;
        smtp_carried_over(false);
}

/* Started as root, the daemon drops to its user before it opens the
 * database; the helper keeps the settings as its own account. */
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
        struct daemon d = {0};
        struct daemon_options o;
        struct harness_admin a;
        struct http_result r;
        char config[sizeof(go_config) + 128];
        (void)state;

        snprintf(config, sizeof(config), "%ssmtp:\n  from: ops@new.example.test\n", go_config);
        prepare(&d, &o, config);
        plant_smtp_settings(&d, 25);
        assert_int_equal(harness_start(&d, &o), 0);
        assert_true(harness_wait_log(&d, "config.yml sets smtp.*", 5000));
        assert_int_equal(smtp_rows(&d, "smtp_pass", NULL), 1);
        harness_admin_login_ok(&d, "admin", "fixture-admin-pass", &a);
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
 * in the log: malformed ones, and any while the mail helper cannot be
 * reached (they are handed over at a later start). */
static void test_smtp_not_carried_over(void **state)
{
        struct daemon d = {0};
        struct daemon_options o;
        char path[PATH_MAX + 64];
        (void)state;

        harness_note_secret(SMTP_PASSWORD);
        prepare(&d, &o, NULL);
        plant_smtp_settings(&d, 25);
        assert_int_equal(harness_db_exec(&d, "UPDATE server_smtp_config SET value = 'smtp' "
                                             "WHERE key = 'smtp_port'"),
                         0);
        assert_int_equal(harness_start(&d, &o), 0);
        assert_true(harness_wait_log(&d, "incomplete or malformed; not carried over", 5000));
        expect_table_kept(&d);
        snprintf(path, sizeof(path), "%s/smtp-carried-over/smtp.yml", d.data_dir);
        assert_int_not_equal(access(path, F_OK), 0);
        harness_destroy(&d);

        static const char *const env[] = {"VERSTAK_MAILER_SOCKET=/nonexistent/mailer.sock", NULL};
        prepare(&d, &o, NULL);
        o.extra_env = env;
        plant_smtp_settings(&d, 25);
        assert_int_equal(harness_start(&d, &o), 0);
        assert_true(harness_wait_log(&d, "the mail helper is not reachable", 5000));
        expect_table_kept(&d);
        harness_destroy(&d);
}

/* --- the whole upgrade ------------------------------------------------------------ */

static void test_whole_upgrade(void **state)
{
        struct daemon d = {0};
        struct daemon_options o;
        struct harness_sink sk = HARNESS_SINK_INIT;
        struct harness_admin a;
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
        harness_admin_login_ok(&d, "admin", "fixture-admin-pass", &a);
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
        assert_int_equal(n, 9);
        /* Each user's number of devices, counted when the column came. */
        assert_int_equal(
                harness_db_int(&d, "SELECT devices FROM server_users WHERE id = " ALICE_ID_SQL, &n),
                0);
        assert_true(n >= 2); /* the fixture's and the planted one */
        assert_int_equal(harness_db_int(&d,
                                        "SELECT count(*) FROM server_users u WHERE devices <>"
                                        " (SELECT count(*) FROM server_devices dv"
                                        " WHERE dv.user_id = u.id)",
                                        &n),
                         0);
        assert_int_equal(n, 0);
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
                cmocka_unit_test(test_smtp_carried_over_units),
                cmocka_unit_test(test_smtp_carry_refused_by_mailer_config),
                cmocka_unit_test(test_smtp_carry_message_checked),
                cmocka_unit_test(test_whole_upgrade),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
