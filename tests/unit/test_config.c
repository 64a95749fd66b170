/* SPDX-License-Identifier: MIT */
/* Unit tests of server/config.c: defaults, every key, every kind of error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "util/log.h"

static void test_config_defaults(void **state)
{
        struct config c;
        (void)state;

        assert_int_equal(config_init_defaults(&c), 0);
        assert_string_equal(c.listen, "127.0.0.1:47732");
        assert_null(c.public_url);
        assert_int_equal(c.n_trusted_proxies, 0);
        assert_int_equal(c.limits.max_json_body, 2097152);
        assert_int_equal(c.limits.max_push_operations, 100);
        assert_int_equal(c.limits.max_payload_json, 262144);
        assert_int_equal(c.limits.max_pull_page, 100);
        assert_int_equal(c.limits.max_blob_bytes, 268435456);
        assert_int_equal(c.limits.max_vault_blob_bytes, 4294967296ull);
        assert_int_equal(c.limits.max_user_blob_bytes, 8589934592ull);
        assert_int_equal(c.retention.idempotency_hours, 24);
        assert_int_equal(c.retention.audit_days, 90);
        assert_int_equal(c.retention.temp_upload_hours, 24);
        assert_string_equal(c.web.default_locale, "en");
        assert_true(c.web.allow_registration);
        assert_string_equal(c.web.server_name, "Verstak Sync Server");
        assert_string_equal(c.server.user, "verstak");
        assert_true(c.database.synchronous_full);
        config_done(&c);
}

static void test_config_load_legacy_file(void **state)
{
        /* The existing server's config.yml, as found in old data directories. */
        static const char yml[] =
                "port: 47732\nlisten: 127.0.0.1:47732\nweb:\n    default_locale: en\n"
                "    allow_registration: true\n    server_name: Verstak Sync Server\n"
                "limits:\n    max_json_body: 2097152\n    max_push_operations: 100\n"
                "retention:\n    idempotency_hours: 24\nadmin:\n    - username: admin\n"
                "      password_hash: "
                "$2a$10$FPIhr5Xkae4fisEO79O23OJSXaNcaEVIAfQCVY/n26CM3LOOOl9SO\n";
        struct config c;
        char err[256] = "";
        (void)state;

        assert_int_equal(config_init_defaults(&c), 0);
        assert_int_equal(config_load_string(&c, yml, strlen(yml), err, sizeof(err)), 0);
        assert_int_equal(c.n_admins, 1);
        assert_string_equal(c.admins[0].username, "admin");
        assert_memory_equal(c.admins[0].password_hash, "$2a$10$", 7);
        config_done(&c);
}

/* Every key the earlier server's config.yml could hold, as its YAML
 * writer produced them: accepted; the ones that mean nothing here are
 * listed once in ignored_keys, a misspelt one is still an error. */
static void test_config_load_earlier_server_keys(void **state)
{
        static const char yml[] =
                "port: 47732\nlisten: 127.0.0.1:47732\ntrusted_proxies:\n    - 127.0.0.1\n"
                "    - ::1\npublic_url: https://sync.example.org\n"
                "development_token_logging: true\n"
                "web:\n    default_locale: ru\n    allow_registration: true\n"
                "    server_name: Old Sync\n"
                "limits:\n    max_json_body: 2097152\n    max_push_operations: 100\n"
                "    max_payload_json: 262144\n    max_pull_page: 100\n"
                "    max_blob_bytes: 268435456\n    max_vault_blob_bytes: 4294967296\n"
                "    max_user_blob_bytes: 8589934592\n"
                "retention:\n    idempotency_hours: 48\n    audit_days: 90\n"
                "    temp_upload_hours: 24\nadmin: []\n"
                "development_token_logging: false\n";
        struct config c;
        char err[256] = "";
        (void)state;

        assert_int_equal(config_init_defaults(&c), 0);
        assert_int_equal(config_load_string(&c, yml, strlen(yml), err, sizeof(err)), 0);
        assert_int_equal(c.n_ignored_keys, 1);
        assert_string_equal(c.ignored_keys[0], "development_token_logging");
        assert_int_equal(c.n_trusted_proxies, 2);
        assert_string_equal(c.public_url, "https://sync.example.org");
        assert_string_equal(c.web.default_locale, "ru");
        assert_int_equal(c.retention.idempotency_hours, 48);
        assert_int_equal(c.n_admins, 0);
        config_done(&c);

        static const char typo[] = "development_token_loging: true\n";
        assert_int_equal(config_init_defaults(&c), 0);
        assert_int_equal(config_load_string(&c, typo, strlen(typo), err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "development_token_loging: unknown key");
        assert_int_equal(c.n_ignored_keys, 0);
        config_done(&c);

        /* Only at the top level, where the earlier server had it. */
        static const char nested[] = "web:\n    development_token_logging: true\n";
        assert_int_equal(config_init_defaults(&c), 0);
        assert_int_equal(config_load_string(&c, nested, strlen(nested), err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "web.development_token_logging: unknown key");
        config_done(&c);
}

static void test_config_all_keys(void **state)
{
        static const char yml[] =
                "listen: \"[::1]:8080\"\npublic_url: https://sync.example.org/\n"
                "trusted_proxies: [\"10.0.0.0/8\", \"::1\"]\nlog_level: debug\n"
                "limits:\n  max_json_body: 4096\n  max_push_operations: 7\n"
                "  max_payload_json: 1024\n  max_pull_page: 9\n  max_blob_bytes: 10\n"
                "  max_vault_blob_bytes: 20\n  max_user_blob_bytes: 30\n"
                "retention:\n  idempotency_hours: 2\n  audit_days: 3\n  temp_upload_hours: 4\n"
                "web:\n  default_locale: ru\n  allow_registration: false\n  server_name: Mine\n"
                "server:\n  user: nobody\n  group: nogroup\n  threads: 3\n"
                "database:\n  synchronous: normal\n"
                "smtp:\n  host: mail.example.org\n  port: 587\n  security: starttls-required\n"
                "  username: u\n  password_file: /run/pw\n  from: noreply@example.org\n"
                "  timeout_seconds: 9\n  outbox_dir: /tmp/out\n  socket: /run/m.sock\n";
        struct config c;
        char err[256] = "";
        (void)state;

        assert_int_equal(config_init_defaults(&c), 0);
        assert_int_equal(config_load_string(&c, yml, strlen(yml), err, sizeof(err)), 0);
        assert_string_equal(c.listen, "[::1]:8080");
        assert_string_equal(c.public_url, "https://sync.example.org");
        assert_int_equal(c.n_trusted_proxies, 2);
        assert_int_equal(c.server.log_level, LOG_DEBUG);
        assert_int_equal(c.limits.max_json_body, 4096);
        assert_int_equal(c.limits.max_push_operations, 7);
        assert_int_equal(c.limits.max_pull_page, 9);
        assert_int_equal(c.limits.max_user_blob_bytes, 30);
        assert_int_equal(c.retention.temp_upload_hours, 4);
        assert_string_equal(c.web.default_locale, "ru");
        assert_false(c.web.allow_registration);
        assert_string_equal(c.web.server_name, "Mine");
        assert_string_equal(c.server.user, "nobody");
        assert_int_equal(c.server.threads, 3);
        assert_false(c.database.synchronous_full);
        assert_string_equal(c.smtp.host, "mail.example.org");
        assert_int_equal(c.smtp.port, 587);
        assert_int_equal(c.smtp.security, SMTP_SECURITY_STARTTLS_REQUIRED);
        assert_string_equal(c.smtp.socket_path, "/run/m.sock");
        assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
        config_done(&c);
}

/* smtp.security as loaded from yml. */
static enum smtp_security security_of(const char *yml)
{
        struct config c;
        char err[256] = "";
        enum smtp_security s;

        assert_int_equal(config_init_defaults(&c), 0);
        assert_int_equal(config_load_string(&c, yml, strlen(yml), err, sizeof(err)), 0);
        s = c.smtp.security;
        config_done(&c);
        return s;
}

/* With a username the password must not be sent where STARTTLS was
 * stripped: starttls-required unless security is given. */
static void test_config_smtp_security_default(void **state)
{
        (void)state;
        assert_int_equal(security_of("smtp:\n  host: m.example\n"), SMTP_SECURITY_STARTTLS);
        assert_int_equal(security_of("smtp:\n  host: m.example\n  username: u\n"),
                         SMTP_SECURITY_STARTTLS_REQUIRED);
        assert_int_equal(security_of("smtp:\n  username: u\n  security: starttls\n"),
                         SMTP_SECURITY_STARTTLS);
        assert_int_equal(security_of("smtp:\n  security: none\n  username: u\n"),
                         SMTP_SECURITY_NONE);
}

static void expect_error(const char *yml, const char *key)
{
        struct config c;
        char err[256] = "";

        assert_int_equal(config_init_defaults(&c), 0);
        int r = config_load_string(&c, yml, strlen(yml), err, sizeof(err));
        if (r == 0)
                r = config_validate(&c, err, sizeof(err));
        if (r >= 0)
                fail_msg("accepted: %s", yml);
        if (strncmp(err, key, strlen(key)) != 0)
                fail_msg("error '%s' does not start with key '%s'", err, key);
        config_done(&c);
}

static void test_config_errors(void **state)
{
        (void)state;
        expect_error("bogus: 1\n", "bogus");
        expect_error("limits:\n  nope: 1\n", "limits.nope");
        expect_error("limits:\n  max_json_body: -1\n", "limits.max_json_body");
        expect_error("limits:\n  max_json_body: \"2048\"\n", "limits.max_json_body");
        expect_error("limits:\n  max_json_body: 1.5\n", "limits.max_json_body");
        expect_error("limits:\n  max_json_body: 12\n", "limits.max_json_body"); /* below min */
        expect_error("limits:\n  max_push_operations: 0\n", "limits.max_push_operations");
        expect_error("limits:\n  max_payload_json: 4000000\n", "limits.max_payload_json");
        expect_error("limits: 5\n", "limits");
        expect_error("retention:\n  audit_days: [1]\n", "retention.audit_days");
        expect_error("web:\n  allow_registration: 1\n", "web.allow_registration");
        expect_error("web:\n  allow_registration: \"true\"\n", "web.allow_registration");
        expect_error("web:\n  default_locale: fr\n", "web.default_locale");
        expect_error("listen: 127.0.0.1\n", "listen");
        expect_error("listen: example.org:80\n", "listen");
        expect_error("listen: \"[::1:80\"\n", "listen");
        expect_error("listen: unix:relative\n", "listen");
        expect_error("port: 0\n", "port");
        expect_error("public_url: example.org\n", "public_url");
        expect_error("public_url: \"https://\"\n", "public_url");
        expect_error("public_url: \"https://a.b/x?y\"\n", "public_url");
        expect_error("trusted_proxies: [\"1.2.3.4/40\"]\n", "trusted_proxies");
        expect_error("trusted_proxies: [\"10.0.0.1/8\"]\n", "trusted_proxies"); /* host bits */
        expect_error("trusted_proxies: [{a: 1}]\n", "trusted_proxies");
        expect_error("log_level: loud\n", "log_level");
        expect_error("smtp:\n  port: 70000\n", "smtp.port");
        expect_error("smtp:\n  security: maybe\n", "smtp.security");
        expect_error("smtp:\n  from: not-an-address\n", "smtp.from");
        expect_error("database:\n  synchronous: off\n", "database.synchronous");
        expect_error("admin:\n  - username: a\n", "admin");
        expect_error("admin:\n  - username: a\n    password_hash: x\n    extra: 1\n",
                     "admin.extra");
        expect_error("server:\n  user: \"\"\n", "server.user");
        expect_error("- a\n- b\n", "config");
        expect_error("listen: \"127.0.0.1:1\\0junk\"\n", "listen");
        expect_error("web:\n  server_name: \"a\\0b\"\n", "web.server_name");
        expect_error("a: [\n", "config");
}

static void test_config_env(void **state)
{
        struct config c;
        char err[256] = "";
        (void)state;

        assert_int_equal(config_init_defaults(&c), 0);
        setenv("VERSTAK_LISTEN", "0.0.0.0:9000", 1);
        setenv("VERSTAK_PUBLIC_URL", "http://localhost:9000", 1);
        setenv("VERSTAK_TRUSTED_PROXIES", "127.0.0.1, 192.168.0.0/16", 1);
        assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
        assert_string_equal(c.listen, "0.0.0.0:9000");
        assert_string_equal(c.public_url, "http://localhost:9000");
        assert_int_equal(c.n_trusted_proxies, 2);
        setenv("VERSTAK_MAILER_SOCKET", "/run/m.sock", 1);
        assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
        assert_string_equal(c.smtp.socket_path, "/run/m.sock");
        setenv("VERSTAK_MAILER_SOCKET", "relative.sock", 1);
        assert_int_equal(config_apply_env(&c, err, sizeof(err)), -EINVAL);
        unsetenv("VERSTAK_MAILER_SOCKET");
        setenv("VERSTAK_TRUSTED_PROXIES", "300.1.1.1", 1);
        assert_int_equal(config_apply_env(&c, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "trusted_proxies"));
        unsetenv("VERSTAK_LISTEN");
        unsetenv("VERSTAK_PUBLIC_URL");
        unsetenv("VERSTAK_TRUSTED_PROXIES");
        config_done(&c);
}

/* database.url and database.url_file: only PostgreSQL URLs, not both, the
 * file read once; the password never shown by config_url_masked(). */
static void test_config_database_url(void **state)
{
        char dir[] = "/tmp/verstak-config-XXXXXX", path[64], yml[160], err[256] = "";
        struct config c;
        FILE *f;
        (void)state;

        expect_error("database:\n  url: /var/lib/db.sqlite\n", "database.url");
        expect_error("database:\n  url: mysql://x/y\n", "database.url");

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/url", dir);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs("postgresql://verstak:s3cret@db.example/verstak?sslmode=require\n", f);
        fclose(f);

        snprintf(yml, sizeof(yml), "database:\n  url_file: %s\n", path);
        assert_int_equal(config_init_defaults(&c), 0);
        assert_int_equal(config_load_string(&c, yml, strlen(yml), err, sizeof(err)), 0);
        assert_int_equal(config_read_database_url(&c, err, sizeof(err)), 0);
        assert_string_equal(c.database.url,
                            "postgresql://verstak:s3cret@db.example/verstak?sslmode=require");
        config_done(&c);

        snprintf(yml, sizeof(yml), "database:\n  url: postgresql:///a\n  url_file: %s\n", path);
        assert_int_equal(config_init_defaults(&c), 0);
        assert_int_equal(config_load_string(&c, yml, strlen(yml), err, sizeof(err)), 0);
        assert_true(config_read_database_url(&c, err, sizeof(err)) < 0);
        assert_non_null(strstr(err, "database.url_file"));
        config_done(&c);
        unlink(path);
        rmdir(dir);

        char masked[128];
        config_url_masked("postgresql://verstak:s3cret@db.example/verstak?sslmode=require", masked,
                          sizeof(masked));
        assert_string_equal(masked, "postgresql://verstak:***@db.example/verstak?sslmode=require");
        config_url_masked("postgresql:///v?host=/run/pg&password=s3cret&user=u", masked,
                          sizeof(masked));
        assert_string_equal(masked, "postgresql:///v?host=/run/pg&password=***&user=u");
        config_url_masked("postgresql://u@h/v", masked, sizeof(masked));
        assert_string_equal(masked, "postgresql://u@h/v");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_config_defaults),
                cmocka_unit_test(test_config_load_legacy_file),
                cmocka_unit_test(test_config_load_earlier_server_keys),
                cmocka_unit_test(test_config_all_keys),
                cmocka_unit_test(test_config_errors),
                cmocka_unit_test(test_config_smtp_security_default),
                cmocka_unit_test(test_config_env),
                cmocka_unit_test(test_config_database_url),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
