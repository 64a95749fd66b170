/* SPDX-License-Identifier: MIT */
/*
 * `verstak-sync-server migrate`: a data directory the real daemon wrote on
 * SQLite (users in every state, paired and revoked devices, pushes with
 * conflicts, a delete, an idempotency record, a blob, sessions, audit
 * entries, an invitation, an administrator) copied into an empty
 * PostgreSQL database, then the daemon started on that database with the
 * same blob directory: the console's figures are the same, a paired device
 * authenticates and pulls every op with the same sequences, an idempotent
 * replay answers as before, pushes continue at the next sequence, the blob
 * downloads, the administrator's session and password work.  The earlier
 * server's data directory (the legacy fixture) migrates from an upgraded
 * private copy without being changed.  Refusals: a target holding tables,
 * a missing or corrupt source, a wrong URL (whose password is never
 * printed).  Needs a real PostgreSQL (VERSTAK_TEST_PG_URL, set by
 * with-postgresql.sh); the source daemons run on SQLite.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define JSON           "application/json"
#define BOUNDARY       "----verstak-migrate-boundary-7a1f4e2b8c6d"
#define ADMIN_USER     "migrator"
#define ADMIN_PASSWORD "Migrate-Admin-Pass-7305"
#define USER_PASSWORD  "migrate-user-password-1"
#define URL_PASSWORD   "Url-Secret-Pw-9921"

static const char config[] = "trusted_proxies: [\"127.0.0.1\"]\n";

/* The cluster of with-postgresql.sh; unset while SQLite daemons are
 * prepared, so that the harness gives them SQLite. */
static char pg_base[1024];

/* --- helpers ---------------------------------------------------------------- */

#define MIGRATE(dir, res, ...)                                                                     \
        harness_run_server(dir, NULL, (const char *const[]){"migrate", __VA_ARGS__, NULL}, res)

/* Expect exit code status and needle in the output; frees the output. */
static void expect_run(struct harness_cmd *r, int status, const char *needle)
{
        if (r->status != status || (needle && !strstr(r->out, needle)))
                fail_msg("expected exit %d with \"%s\", got %d:\n%s", status, needle ? needle : "",
                         r->status, r->out);
        free(r->out);
        r->out = NULL;
}

/* A daemon on SQLite (the source). */
static void prepare_sqlite(struct daemon *d, const struct daemon_options *o)
{
        unsetenv("VERSTAK_TEST_PG_URL");
        assert_int_equal(harness_prepare(d, o), 0);
        setenv("VERSTAK_TEST_PG_URL", pg_base, 1);
}

/* An empty PostgreSQL database: t->pg_url, dropped by harness_destroy(t). */
static void prepare_target(struct daemon *t)
{
        assert_int_equal(harness_prepare(t, NULL), 0);
        assert_true(t->pg_url[0] != '\0');
}

/* A file under dir holding url, for --to-url-file. */
static void url_file(const char *dir, const char *url, char *path, size_t size)
{
        FILE *f;

        snprintf(path, size, "%s/target-url", dir);
        f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f, "%s\n", url);
        fclose(f);
}

static void sha256_file(const char *path, char out[65])
{
        char *text = harness_read_file(path);
        unsigned char digest[crypto_hash_sha256_BYTES];
        struct stat st;

        assert_non_null(text);
        assert_int_equal(stat(path, &st), 0);
        crypto_hash_sha256(digest, (const unsigned char *)text, (size_t)st.st_size);
        sodium_bin2hex(out, 65, digest, sizeof(digest));
        free(text);
}

/* Switch d (stopped) to the database of target and start it again on the
 * same data directory, hence the same blob directory.  yaml is the rest of
 * its configuration. */
static void restart_on(struct daemon *d, const struct daemon *target, const char *yaml,
                       const struct daemon_options *o)
{
        snprintf(d->pg_url, sizeof(d->pg_url), "%s", target->pg_url);
        assert_int_equal(harness_write_config(d, yaml), 0);
        assert_int_equal(harness_start(d, o), 0);
}

static struct http_result post(const struct daemon *d, const char *path, const char *token,
                               const char *body)
{
        struct http_result r;

        assert_int_equal(http_post_json(d, path, token, body, &r), 0);
        return r;
}

/* POST that must answer 200; returns the body (malloc'd). */
static char *post_ok(const struct daemon *d, const char *path, const char *token, const char *body)
{
        struct http_result r = post(d, path, token, body);
        char *text;

        if (r.status != 200)
                fail_msg("%s: %ld %s", path, r.status, r.body);
        text = strdup(r.body);
        assert_non_null(text);
        http_result_free(&r);
        return text;
}

/* The ops of a pull from since (one page holds them all here). */
static json_t *pull_ops(const struct daemon *d, const char *token, long since)
{
        char body[64];
        struct http_result r;
        json_t *ops;

        snprintf(body, sizeof(body), "{\"since_sequence\":%ld}", since);
        r = post(d, "/api/v1/sync/pull", token, body);
        assert_int_equal(r.status, 200);
        assert_false(json_is_true(json_object_get(r.json, "has_more")));
        ops = json_incref(json_object_get(r.json, "ops"));
        assert_true(json_is_array(ops));
        http_result_free(&r);
        return ops;
}

static long long op_sequence(const json_t *ops, size_t i)
{
        return json_integer_value(json_object_get(json_array_get(ops, i), "server_sequence"));
}

/* Upload data as a multipart file part; the test fails unless 2xx. */
static void upload_ok(const struct daemon *d, const char *token, const char *data)
{
        char body[1024], auth[128];
        const char *headers[] = {auth, "Content-Type: multipart/form-data; boundary=" BOUNDARY,
                                 NULL};
        struct http_result r;
        int n;

        n = snprintf(body, sizeof(body),
                     "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"file\"; "
                     "filename=\"m.txt\"\r\nContent-Type: application/octet-stream\r\n\r\n%s"
                     "\r\n--" BOUNDARY "--\r\n",
                     data);
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        assert_int_equal(http_do(d, "POST", "/api/v1/blobs/", headers, body, (size_t)n, &r), 0);
        if (r.status / 100 != 2)
                fail_msg("upload: %ld %s", r.status, r.body);
        http_result_free(&r);
}

/* The console's figures, without the one that depends on the back end
 * (the database's size on disk). */
static json_t *console_stats(const struct daemon *d, const struct harness_admin *s)
{
        const char *h[] = {s->cookie, NULL};
        struct http_result r;
        json_t *stats;

        http_call(d, "GET", "/admin/api/stats", NULL, NULL, NULL, h, &r);
        if (r.status != 200)
                fail_msg("stats: %ld %s", r.status, r.body);
        stats = json_deep_copy(r.json);
        assert_non_null(stats);
        json_object_del(stats, "database_bytes");
        http_result_free(&r);
        return stats;
}

/* --- a data directory written by the daemon --------------------------------- */

struct source {
        char tok_a1[65], tok_a2[65], tok_b[65];
        char dev_a1[29];
        char blob_sha[65];
        char *idem_answer;
        json_t *ops_v1, *stats;
        long long last_sequence;
        /* When the daemon stopped (background writes may follow the
         * figures above): audit entries, the newest one, device activity. */
        long long audits, last_audit_id;
        char *last_seen;
};

#define BLOB_TEXT "a blob that stays where it is while its rows move"

/* Fill d (running on SQLite) through the API and remember what it answered. */
static void fill_source(struct daemon *d, struct source *s, struct harness_admin *admin)
{
        char tok_revoked[65], *answer;
        unsigned char digest[crypto_hash_sha256_BYTES];
        struct http_result r;

        assert_int_equal(harness_add_user(d, "alice", "alice@example.test", USER_PASSWORD, true,
                                          false, NULL),
                         0);
        assert_int_equal(
                harness_add_user(d, "bob", "bob@example.test", USER_PASSWORD, true, false, NULL),
                0);
        assert_int_equal(harness_add_user(d, "carol", "carol@example.test", USER_PASSWORD, false,
                                          false, NULL),
                         0);
        harness_pair_ok(d, "alice", USER_PASSWORD, "vault-1", s->tok_a1, s->dev_a1);
        harness_pair_ok(d, "alice", USER_PASSWORD, "vault-1", s->tok_a2, NULL);
        harness_pair_ok(d, "alice", USER_PASSWORD, "vault-2", tok_revoked, NULL);
        harness_pair_ok(d, "bob", USER_PASSWORD, "vault-b", s->tok_b, NULL);
        free(post_ok(d, "/api/client/revoke-current", tok_revoked, "{}"));
        free(post_ok(d, "/api/v1/sync/push", s->tok_b,
                     "{\"ops\":[{\"op_id\":\"b-1\",\"entity_type\":\"note\",\"entity_id\":\"n/b\","
                     "\"op_type\":\"create\"}]}"));
        harness_sql(d, "UPDATE server_users SET blocked = 1 WHERE username = 'bob'");

        /* Pushes: an idempotency record, a conflict, a delete (tombstone). */
        s->idem_answer =
                post_ok(d, "/api/v1/sync/push", s->tok_a1,
                        "{\"idempotency_key\":\"mig-1\",\"ops\":["
                        "{\"op_id\":\"m-1\",\"entity_type\":\"note\",\"entity_id\":\"n/1\","
                        "\"op_type\":\"create\",\"payload_json\":\"{\\\"t\\\":\\\"один\\\"}\"},"
                        "{\"op_id\":\"m-2\",\"entity_type\":\"note\",\"entity_id\":\"n/2\","
                        "\"op_type\":\"create\"},"
                        "{\"op_id\":\"m-1b\",\"entity_type\":\"note\",\"entity_id\":\"n/1\","
                        "\"op_type\":\"update\"}]}");
        answer = post_ok(d, "/api/v1/sync/push", s->tok_a2,
                         "{\"ops\":[{\"op_id\":\"m-3\",\"entity_type\":\"note\",\"entity_id\":"
                         "\"n/1\",\"op_type\":\"update\",\"last_seen_server_seq\":1}]}");
        assert_non_null(strstr(answer, "\"conflicts\":[{"));
        free(answer);
        free(post_ok(d, "/api/v1/sync/push", s->tok_a1,
                     "{\"ops\":[{\"op_id\":\"m-4\",\"entity_type\":\"note\",\"entity_id\":\"n/2\","
                     "\"op_type\":\"delete\"}]}"));
        upload_ok(d, s->tok_a1, BLOB_TEXT);
        crypto_hash_sha256(digest, (const unsigned char *)BLOB_TEXT, strlen(BLOB_TEXT));
        sodium_bin2hex(s->blob_sha, sizeof(s->blob_sha), digest, sizeof(digest));

        /* The console: a session, an invitation, audit entries. */
        harness_admin_login_ok(d, ADMIN_USER, ADMIN_PASSWORD, admin);
        const char *h[] = {admin->cookie, admin->csrf_header, NULL};
        http_call(d, "POST", "/admin/api/invitations", NULL, JSON, "{}", h, &r);
        if (r.status != 200 && r.status != 201)
                fail_msg("invitation: %ld %s", r.status, r.body);
        http_result_free(&r);

        s->ops_v1 = pull_ops(d, s->tok_a1, 0);
        assert_int_equal(json_array_size(s->ops_v1), 5);
        s->last_sequence =
                harness_sql_int(d, "SELECT value FROM server_meta WHERE key = 'last_sequence'");
        assert_int_equal(s->last_sequence, 6);
        s->stats = console_stats(d, admin);
}

static void source_done(struct source *s)
{
        free(s->idem_answer);
        json_decref(s->ops_v1);
        json_decref(s->stats);
        free(s->last_seen);
}

static void test_migrate_daemon_data(void **state)
{
        static const char *const admin_args[] = {"--admin-user", ADMIN_USER, "--admin-pass-file",
                                                 NULL, NULL};
        const char *args[5];
        char pass_file[PATH_MAX + 16], url_path[PATH_MAX + 16], db[PATH_MAX + 16];
        char before[65], after[65], blob_path[96];
        struct daemon d, t;
        struct daemon_options o = {.config_yaml = config};
        struct harness_admin admin;
        struct source s = {0};
        struct harness_cmd run;
        struct http_result r;
        int status;
        (void)state;

        prepare_sqlite(&d, &o);
        snprintf(pass_file, sizeof(pass_file), "%s/admin-pass", d.root);
        FILE *f = fopen(pass_file, "w");
        assert_non_null(f);
        fputs(ADMIN_PASSWORD "\n", f);
        fclose(f);
        memcpy(args, admin_args, sizeof(args));
        args[3] = pass_file;
        o.extra_args = args;
        assert_int_equal(harness_start(&d, &o), 0);
        fill_source(&d, &s, &admin);
        assert_int_equal(harness_stop(&d, SIGTERM, 30, &status), 0);
        s.audits = harness_sql_int(&d, "SELECT count(*) FROM server_audit_log");
        s.last_audit_id = harness_sql_int(&d, "SELECT max(id) FROM server_audit_log");
        s.last_seen = harness_sql_text(&d, "SELECT max(last_seen) FROM server_devices");
        assert_non_null(s.last_seen);

        prepare_target(&t);
        url_file(d.root, t.pg_url, url_path, sizeof(url_path));
        snprintf(db, sizeof(db), "%s/server.db", d.data_dir);
        sha256_file(db, before);
        MIGRATE(d.root, &run, "--from-data", d.data_dir, "--to-url-file", url_path);
        expect_run(&run, 0, "verified");
        sha256_file(db, after);
        assert_string_equal(before, after); /* the source is only read */

        /* A second run finds the target full. */
        MIGRATE(d.root, &run, "--from-data", d.data_dir, "--to-url-file", url_path);
        expect_run(&run, 2, "already holds tables");

        o.extra_args = NULL;
        restart_on(&d, &t, config, &o);

        /* The console's figures, through the session opened on SQLite: the
         * same as the source held when its daemon stopped, and the audit
         * entries of this start after the copied ones. */
        json_t *stats = console_stats(&d, &admin);
        long long started = harness_sql_int(
                &d, "SELECT count(*) FROM server_audit_log WHERE id > %lld", s.last_audit_id);
        json_object_set_new(s.stats, "audit_events", json_integer(s.audits + started));
        json_object_set_new(s.stats, "last_sync_activity", json_string(s.last_seen));
        json_object_del(s.stats, "last_cleanup_at");
        json_object_del(stats, "last_cleanup_at");
        if (!json_equal(stats, s.stats)) {
                char *a = json_dumps(s.stats, JSON_SORT_KEYS),
                     *b = json_dumps(stats, JSON_SORT_KEYS);
                fail_msg("stats differ:\n%s\n%s", a, b);
        }
        json_decref(stats);

        /* Rows the figures do not show: the invitation, the sessions. */
        assert_int_equal(harness_sql_int(&d, "SELECT count(*) FROM server_invitations"), 1);
        assert_true(harness_sql_int(&d, "SELECT count(*) FROM server_sessions") >= 1);

        /* The paired device authenticates and pulls the same ops. */
        assert_int_equal(http_get(&d, "/api/client/me", s.tok_a1, &r), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(http_result_string(&r, "device_id"), s.dev_a1);
        http_result_free(&r);
        json_t *ops = pull_ops(&d, s.tok_a1, 0);
        assert_true(json_equal(ops, s.ops_v1));
        json_decref(ops);

        /* bob is still blocked. */
        r = post(&d, "/api/v1/sync/pull", s.tok_b, "{}");
        assert_http_error(&r, 403, "forbidden");
        http_result_free(&r);

        /* The idempotency record answers the replay as before. */
        char *replay = post_ok(&d, "/api/v1/sync/push", s.tok_a1,
                               "{\"idempotency_key\":\"mig-1\",\"ops\":[{\"op_id\":\"m-9\","
                               "\"entity_type\":\"note\",\"entity_id\":\"n/9\","
                               "\"op_type\":\"create\"}]}");
        assert_string_equal(replay, s.idem_answer);
        free(replay);

        /* A new push continues after the high-water mark, with the
         * conflict hints of the copied ops. */
        char *answer = post_ok(&d, "/api/v1/sync/push", s.tok_a2,
                               "{\"ops\":[{\"op_id\":\"m-5\",\"entity_type\":\"note\","
                               "\"entity_id\":\"n/1\",\"op_type\":\"update\","
                               "\"last_seen_server_seq\":1}]}");
        assert_non_null(strstr(answer, "\"op_id\":\"m-1b\""));
        free(answer);
        ops = pull_ops(&d, s.tok_a1, (long)s.last_sequence);
        assert_int_equal(json_array_size(ops), 1);
        assert_int_equal(op_sequence(ops, 0), s.last_sequence + 1);
        json_decref(ops);

        /* The blob, from the same directory. */
        snprintf(blob_path, sizeof(blob_path), "/api/v1/blobs/%s", s.blob_sha);
        assert_int_equal(http_get(&d, blob_path, s.tok_a1, &r), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, strlen(BLOB_TEXT));
        assert_memory_equal(r.body, BLOB_TEXT, r.body_len);
        http_result_free(&r);

        /* The administrator signs in again (a new audit entry, a new
         * session: the copied ids do not collide with new ones). */
        harness_admin_login_ok(&d, ADMIN_USER, ADMIN_PASSWORD, &admin);
        long long audits = harness_sql_int(&d, "SELECT count(*) FROM server_audit_log");
        assert_true(audits > json_integer_value(json_object_get(s.stats, "audit_events")));

        source_done(&s);
        harness_destroy(&d);
        harness_destroy(&t);
}

/* --- the earlier server's data directory ------------------------------------ */

static void test_migrate_legacy_fixture(void **state)
{
        char fixture[PATH_MAX], url_path[PATH_MAX + 16], db[PATH_MAX + 16], tmp[PATH_MAX + 16];
        char before[65], after[65], cfg_path[PATH_MAX + 16];
        struct daemon d, t;
        struct daemon_options o = {0};
        struct harness_cmd run;
        struct http_result r;
        (void)state;

        snprintf(fixture, sizeof(fixture), "%s/tests/fixtures/legacy-data/data",
                 harness_source_root());
        o.copy_data_from = fixture;
        prepare_sqlite(&d, &o);
        prepare_target(&t);
        url_file(d.root, t.pg_url, url_path, sizeof(url_path));
        snprintf(db, sizeof(db), "%s/server.db", d.data_dir);
        sha256_file(db, before);

        /* The upgraded copy goes to TMPDIR and is removed afterwards. */
        snprintf(tmp, sizeof(tmp), "%s/tmp", d.root);
        assert_int_equal(mkdir(tmp, 0700), 0);
        setenv("TMPDIR", tmp, 1);
        MIGRATE(d.root, &run, "--from-data", d.data_dir, "--to-url-file", url_path);
        unsetenv("TMPDIR");
        expect_run(&run, 0, "Copied 45 rows");
        assert_int_equal(rmdir(tmp), 0); /* empty again */
        sha256_file(db, after);
        assert_string_equal(before, after);

        /* The daemon on PostgreSQL with the fixture's own configuration
         * (its administrator list). */
        snprintf(cfg_path, sizeof(cfg_path), "%s/config.yml", d.data_dir);
        char *yaml = harness_read_file(cfg_path);
        assert_non_null(yaml);
        harness_note_secret("fixture-admin-pass");
        restart_on(&d, &t, yaml, &o);
        free(yaml);

        /* alice-laptop pulls the earlier server's ops with their sequences. */
        const char *laptop = "bb047b65c59b3f457c8c1472943cd669693e445a13708740b18649f05640e33a";
        json_t *ops = pull_ops(&d, laptop, 0);
        assert_true(json_array_size(ops) >= 4);
        for (size_t i = 0; i < json_array_size(ops); i++)
                assert_true(op_sequence(ops, i) > (i ? op_sequence(ops, i - 1) : 0));
        assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 0), "op_id")),
                            "fx-op-001");
        assert_int_equal(op_sequence(ops, 0), 1);
        json_decref(ops);

        /* The revoked device stays revoked; pushes continue at 9. */
        r = post(&d, "/api/v1/sync/pull",
                 "db923824c8f16c370b41686eae960842d31873544148487a3e095b435a0c3e23", "{}");
        assert_int_equal(r.status, 401);
        http_result_free(&r);
        free(post_ok(&d, "/api/v1/sync/push", laptop,
                     "{\"ops\":[{\"op_id\":\"after-1\",\"entity_type\":\"note\","
                     "\"entity_id\":\"n/after\",\"op_type\":\"create\"}]}"));
        ops = pull_ops(&d, laptop, 8);
        assert_int_equal(json_array_size(ops), 1);
        assert_int_equal(op_sequence(ops, 0), 9);
        json_decref(ops);

        /* The blob from the same directory; the administrator of config.yml. */
        assert_int_equal(
                http_get(&d,
                         "/api/v1/blobs/"
                         "08227adf623421d974573ebd31f1207e7ba4a13d55d331897f041f6f53e0ed71",
                         laptop, &r),
                0);
        assert_int_equal(r.status, 200);
        assert_int_equal(r.body_len, 70000);
        http_result_free(&r);
        http_call(&d, "POST", "/admin/api/login", NULL, JSON,
                  "{\"username\":\"admin\",\"password\":\"fixture-admin-pass\"}", NULL, &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);

        harness_destroy(&d);
        harness_destroy(&t);
}

/* --- refusals ----------------------------------------------------------------- */

static long long target_tables(const struct daemon *t)
{
        return harness_sql_int(t, "SELECT count(*) FROM pg_tables WHERE schemaname = "
                                  "current_schema()");
}

static void test_migrate_refusals(void **state)
{
        char url_path[PATH_MAX + 16], db[PATH_MAX + 16], missing[PATH_MAX + 16];
        char bad_url[1200];
        struct daemon d, t;
        struct harness_cmd run;
        (void)state;

        prepare_sqlite(&d, NULL);
        prepare_target(&t);
        url_file(d.root, t.pg_url, url_path, sizeof(url_path));

        MIGRATE(d.root, &run, "--help");
        expect_run(&run, 0, "--to-url-file FILE");
        MIGRATE(d.root, &run, "--to-url-file", url_path);
        expect_run(&run, 2, "--from-data DIR is required");
        MIGRATE(d.root, &run, "--from-data", d.data_dir);
        expect_run(&run, 2, "exactly one of --to URL or --to-url-file");
        MIGRATE(d.root, &run, "--from-data", d.data_dir, "--to", "mysql://db.example.test/x");
        expect_run(&run, 2, "expected a postgresql:// URL");

        /* No database in the directory, no directory at all. */
        MIGRATE(d.root, &run, "--from-data", d.data_dir, "--to-url-file", url_path);
        expect_run(&run, 2, "no database at");
        snprintf(missing, sizeof(missing), "%s/nowhere", d.root);
        MIGRATE(d.root, &run, "--from-data", missing, "--to-url-file", url_path);
        expect_run(&run, 2, "cannot open the data directory");

        /* A corrupt database: refused before the target is touched. */
        snprintf(db, sizeof(db), "%s/server.db", d.data_dir);
        FILE *f = fopen(db, "w");
        assert_non_null(f);
        for (int i = 0; i < 512; i++)
                fputs("not a database page ", f);
        fclose(f);
        MIGRATE(d.root, &run, "--from-data", d.data_dir, "--to-url-file", url_path);
        expect_run(&run, 1, "cannot read the database");
        assert_int_equal(target_tables(&t), 0);
        assert_int_equal(unlink(db), 0);

        /* A good source (the daemon writes one), then a target that holds
         * a table of something else: refused, and left as it was. */
        assert_int_equal(harness_start(&d, &(struct daemon_options){0}), 0);
        assert_int_equal(harness_stop(&d, SIGTERM, 30, NULL), 0);
        harness_sql(&t, "CREATE TABLE other_app (x INTEGER)");
        MIGRATE(d.root, &run, "--from-data", d.data_dir, "--to-url-file", url_path);
        expect_run(&run, 2, "already holds tables");
        assert_int_equal(target_tables(&t), 1);

        /* A database that does not exist: a clear error, never the password. */
        harness_note_secret(URL_PASSWORD);
        snprintf(bad_url, sizeof(bad_url), "%s", t.pg_url);
        char *name = strstr(bad_url, t.pg_db);
        assert_non_null(name);
        memcpy(name, "nosuchdb_", 9);
        char *at = strstr(bad_url, "://");
        assert_non_null(at);
        char with_pw[1300];
        /* postgresql://user@ -> postgresql://user:PASSWORD@ (or add one). */
        const char *user_end = strchr(at + 3, '@');
        if (user_end)
                snprintf(with_pw, sizeof(with_pw), "%.*s:" URL_PASSWORD "%s",
                         (int)(user_end - bad_url), bad_url, user_end);
        else
                snprintf(with_pw, sizeof(with_pw), "postgresql://verstak:" URL_PASSWORD "@%s",
                         at + 3);
        MIGRATE(d.root, &run, "--from-data", d.data_dir, "--to", with_pw);
        assert_int_equal(run.status, 1);
        assert_non_null(strstr(run.out, "cannot connect to"));
        assert_null(strstr(run.out, URL_PASSWORD));
        free(run.out);

        harness_destroy(&d);
        harness_destroy(&t);
}

static int group_setup(void **state)
{
        const char *base = getenv("VERSTAK_TEST_PG_URL");
        (void)state;

        signal(SIGPIPE, SIG_IGN);
        if (!base || !*base) {
                fprintf(stderr, "VERSTAK_TEST_PG_URL is not set (run through "
                                "with-postgresql.sh)\n");
                return -1;
        }
        snprintf(pg_base, sizeof(pg_base), "%s", base);
        harness_set_unique_client_ips(true);
        harness_note_secret(ADMIN_PASSWORD);
        harness_note_secret(USER_PASSWORD);
        return sodium_init() < 0 ? -1 : 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_migrate_refusals),
                cmocka_unit_test(test_migrate_daemon_data),
                cmocka_unit_test(test_migrate_legacy_fixture),
        };
        return cmocka_run_group_tests(tests, group_setup, NULL);
}
