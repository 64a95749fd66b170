/* SPDX-License-Identifier: MIT */
/* Unit tests of the store on real SQLite files: migrations from empty and
 * from the existing server's schema, sequences, a push failing inside a
 * group commit, a whole store copied into an empty one, and the rate
 * limiter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/password.h"
#include "auth/ratelimit.h"
#include "auth/token.h"
#include "server/heap.h"
#include "store/store.h"
#include "store/store_copy.h"
#include "store/store_entity_key.h"
#include "store/store_users.h"
#include "store/store_internal.h"
#include "store/store_ops.h"

static char tmpdir[PATH_MAX];

static int make_tmp(void **state)
{
        (void)state;
        snprintf(tmpdir, sizeof(tmpdir), "%s/verstak-unit-XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmp(void **state)
{
        char cmd[PATH_MAX + 16];
        (void)state;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

static long long query(const char *path, const char *sql)
{
        sqlite3 *h;
        sqlite3_stmt *st;
        long long v = -1;

        assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
        if (sqlite3_step(st) == SQLITE_ROW)
                v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(h);
        return v;
}

/* The key of ("u", "v", "note", "notes/a.md"), as every stored key was
 * computed. */
#define ENTITY_KEY_PINNED INT64_C(0x785766a7bddb2b9e)

static const struct store_options opts = {.synchronous_full = true, .readers = 2};

/* Ops whose stored entity_key is not the key of their columns. */
static long long count_wrong_entity_keys(const char *path)
{
        sqlite3 *h;
        sqlite3_stmt *st;
        long long wrong = 0, rows = 0;

        assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(h,
                                            "SELECT user_id, vault_id, entity_type, entity_id,"
                                            " entity_key FROM server_ops",
                                            -1, &st, NULL),
                         SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW) {
                int64_t key;
                assert_int_equal(store_entity_key((const char *)sqlite3_column_text(st, 0),
                                                  (const char *)sqlite3_column_text(st, 1),
                                                  (const char *)sqlite3_column_text(st, 2),
                                                  (const char *)sqlite3_column_text(st, 3), &key),
                                 0);
                wrong += key != sqlite3_column_int64(st, 4);
                rows++;
        }
        sqlite3_finalize(st);
        sqlite3_close(h);
        assert_true(rows > 0);
        return wrong;
}

static void test_migrate_empty(void **state)
{
        char path[PATH_MAX + 32];
        struct store *s;
        unsigned migrated = 0;
        (void)state;

        snprintf(path, sizeof(path), "%s/empty.db", tmpdir);
        assert_int_equal(store_open(path, &opts, &s, &migrated), 0);
        assert_int_equal(migrated, 9);
        assert_int_equal(store_schema_version(s), STORE_SCHEMA_VERSION);
        assert_int_equal(store_probe(s), 0);
        store_close(s);
        /* Re-opening runs nothing. */
        assert_int_equal(store_open(path, &opts, &s, &migrated), 0);
        assert_int_equal(migrated, 0);
        store_close(s);
        assert_int_equal(query(path, "SELECT count(*) FROM sqlite_master WHERE name IN "
                                     "('server_ops','server_meta','server_admins','server_users',"
                                     "'server_blob_refs','server_sessions')"),
                         6);
}

static void test_migrate_legacy(void **state)
{
        char path[PATH_MAX + 32], cmd[2 * PATH_MAX];
        struct store *s;
        unsigned migrated = 0;
        (void)state;

        snprintf(path, sizeof(path), "%s/legacy.db", tmpdir);
        snprintf(cmd, sizeof(cmd), "cp '%s/tests/fixtures/legacy-data/data/server.db' '%s'",
                 getenv("VERSTAK_SOURCE_ROOT") ? getenv("VERSTAK_SOURCE_ROOT") : "..", path);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(chmod(path, 0600), 0);
        long long users = query(path, "SELECT count(*) FROM server_users");
        long long devices = query(path, "SELECT count(*) FROM server_devices");
        long long ops = query(path, "SELECT count(*) FROM server_ops");
        long long refs = query(path, "SELECT count(*) FROM server_blob_refs");

        assert_int_equal(store_open(path, &opts, &s, &migrated), 0);
        assert_int_equal(migrated, 7); /* 2 -> 3 -> 4 -> 5 -> 6 -> 7 -> 8 -> 9 */
        /* The earlier server's bcrypt accounts: their cost is what a failed
         * login of any account spends on bcrypt until they are rehashed. */
        unsigned cost = 99;
        assert_int_equal(store_user_bcrypt_cost(s, &cost), 0);
        assert_int_equal(cost, 10);
        struct store_counts c;
        assert_int_equal(store_get_counts(s, &c), 0);
        assert_int_equal(c.ops, ops);
        assert_int_equal(c.last_sequence, 8);
        store_close(s);
        assert_int_equal(query(path, "SELECT count(*) FROM server_users"), users);
        assert_int_equal(query(path, "SELECT count(*) FROM server_devices"), devices);
        assert_int_equal(query(path, "SELECT count(*) FROM server_blob_refs"), refs);
        assert_int_equal(query(path, "SELECT max(server_sequence) FROM server_ops"), 8);
        /* Version 8 gave every op of the earlier server its entity key. */
        assert_int_equal(count_wrong_entity_keys(path), 0);
        assert_int_equal(query(path, "SELECT count(*) FROM sqlite_master"
                                     " WHERE name = 'idx_server_ops_scope_entity'"),
                         0);
        /* op_id is now unique per scope, not globally. */
        sqlite3 *h;
        assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
        assert_int_equal(sqlite3_exec(h,
                                      "INSERT INTO server_ops (server_sequence, op_id, user_id, "
                                      "vault_id, device_id, entity_type, entity_id, op_type, "
                                      "payload_json, created_at) VALUES (100, 'fx-op-001', "
                                      "'someone-else', 'v', 'd', 'n', 'e', 'c', '', '')",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        assert_int_not_equal(sqlite3_exec(h,
                                          "INSERT INTO server_ops (server_sequence, op_id, "
                                          "user_id, vault_id, device_id, entity_type, entity_id, "
                                          "op_type, payload_json, created_at) VALUES (101, "
                                          "'fx-op-001', 'someone-else', 'v', 'd', 'n', 'e', 'c', "
                                          "'', '')",
                                          NULL, NULL, NULL),
                             SQLITE_OK);
        sqlite3_close(h);
}

/* The whole file as bytes, to look for a secret in it. */
static bool file_contains(const char *path, const char *needle)
{
        FILE *f = fopen(path, "rb");
        size_t n = strlen(needle), len = 0;
        char *buf = NULL;
        bool found = false;

        if (!f)
                return false; /* a WAL that is gone holds nothing */
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        len = (size_t)ftell(f);
        rewind(f);
        buf = malloc(len + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, len, f), len);
        fclose(f);
        for (size_t i = 0; i + n <= len && !found; i++)
                found = memcmp(buf + i, needle, n) == 0;
        free(buf);
        return found;
}

/* Migration 4: plaintext API keys of the earlier server become hashes with
 * hints, and no byte of them stays in the file or its WAL. */
static void test_migrate_legacy_api_keys(void **state)
{
        static const char long_key[] = "LegacyKey-5f0c1b2a9d8e7f6a5b4c3d2e1f0a9b8c";
        static const char short_key[] = "short-legacy-key";
        char path[PATH_MAX + 32], wal[PATH_MAX + 40], cmd[2 * PATH_MAX], sql[1024];
        char hash[TOKEN_SHA256_HEX + 1];
        struct store *s;
        unsigned migrated = 0;
        sqlite3 *h;
        (void)state;

        snprintf(path, sizeof(path), "%s/keys.db", tmpdir);
        snprintf(wal, sizeof(wal), "%s-wal", path);
        snprintf(cmd, sizeof(cmd), "cp '%s/tests/fixtures/legacy-data/data/server.db' '%s'",
                 getenv("VERSTAK_SOURCE_ROOT") ? getenv("VERSTAK_SOURCE_ROOT") : "..", path);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(chmod(path, 0600), 0);
        assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
        snprintf(sql, sizeof(sql),
                 "INSERT INTO server_devices (id, name, api_key, legacy_api_key, user_id, "
                 "vault_id, created_at) SELECT 'dev_old_long', 'old', '%s', 1, user_id, "
                 "vault_id, created_at FROM server_devices LIMIT 1;"
                 "INSERT INTO server_devices (id, name, api_key, legacy_api_key, user_id, "
                 "vault_id, created_at) SELECT 'dev_old_short', 'old', '%s', 1, user_id, "
                 "vault_id, created_at FROM server_devices LIMIT 1;"
                 /* Updated once more, as the earlier server's own migration
                  * did: an older copy of the row is left in free space. */
                 "UPDATE server_devices SET last_seen = '2026-07-01T00:00:00Z'"
                 " WHERE id LIKE 'dev_old_%%';",
                 long_key, short_key);
        assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(h);
        assert_true(file_contains(path, long_key));

        assert_int_equal(store_open(path, &opts, &s, &migrated), 0);
        assert_int_equal(migrated, 7);
        assert_false(file_contains(path, long_key));
        assert_false(file_contains(wal, long_key));
        assert_false(file_contains(path, short_key));
        assert_false(file_contains(wal, short_key));
        store_close(s);

        token_sha256_hex(long_key, strlen(long_key), hash);
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM server_devices WHERE id = 'dev_old_long' AND "
                 "token_hash = '%s' AND token_prefix = 'LegacyKe' AND token_suffix = '9b8c' "
                 "AND api_key = 'disabled:dev_old_long' AND legacy_api_key = 1",
                 hash);
        assert_int_equal(query(path, sql), 1);
        /* Too short to give hints away. */
        token_sha256_hex(short_key, strlen(short_key), hash);
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM server_devices WHERE id = 'dev_old_short' AND "
                 "token_hash = '%s' AND token_prefix IS NULL AND token_suffix IS NULL "
                 "AND api_key = 'disabled:dev_old_short'",
                 hash);
        assert_int_equal(query(path, sql), 1);
        /* The fixture's own devices are untouched. */
        assert_int_equal(query(path, "SELECT count(*) FROM server_devices WHERE api_key NOT "
                                     "LIKE 'disabled:%'"),
                         0);
        assert_int_equal(query(path, "SELECT count(*) FROM server_devices WHERE token_hash IS "
                                     "NULL"),
                         0);
}

static void test_refuses_newer_schema(void **state)
{
        char path[PATH_MAX + 32];
        struct store *s = NULL;
        sqlite3 *h;
        (void)state;

        snprintf(path, sizeof(path), "%s/future.db", tmpdir);
        assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
        assert_int_equal(sqlite3_exec(h, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(h);
        assert_int_equal(store_open(path, &opts, &s, NULL), -EPROTONOSUPPORT);
}

static int collect_seq(const struct store_op_view *op, void *ud)
{
        int64_t *seqs = ud;
        for (int i = 0; i < 4; i++)
                if (seqs[i] == 0 || seqs[i] == op->server_sequence) {
                        seqs[i] = op->server_sequence;
                        return 0;
                }
        return -E2BIG;
}

/* Push one op of scope u/v with op_id; returns the push's last sequence. */
static int64_t push_one(struct store *s, const char *op_id)
{
        struct store_op_in op = {op_id, "n", "e", "c", "", "", 0, 0};
        struct store_push p = {{"u", "v"}, "dev", "ip", NULL, &op, 1};
        struct store_push_result res;
        int64_t seq;

        assert_int_equal(store_push_ops(s, &p, &res), 0);
        seq = res.last_sequence;
        store_push_result_done(&res);
        return seq;
}

/* Keys are stored: the function may never change, and its fields cannot
 * run into each other. */
static void test_entity_key_fixed(void **state)
{
        int64_t a, b;
        char *long_id = malloc(5000);
        (void)state;

        assert_int_equal(store_entity_key("u", "v", "note", "notes/a.md", &a), 0);
        assert_int_equal(a, ENTITY_KEY_PINNED);
        assert_int_equal(store_entity_key("ab", "c", "note", "x", &a), 0);
        assert_int_equal(store_entity_key("a", "bc", "note", "x", &b), 0);
        assert_int_not_equal(a, b);
        /* A long id is hashed from the heap, to the same kind of key. */
        assert_non_null(long_id);
        memset(long_id, 'x', 4999);
        long_id[4999] = '\0';
        assert_int_equal(store_entity_key("u", "v", "note", long_id, &a), 0);
        long_id[4998] = 'y';
        assert_int_equal(store_entity_key("u", "v", "note", long_id, &b), 0);
        assert_int_not_equal(a, b);
        free(long_id);
}

/* One push of op_id on entity from device with last_seen; its result. */
static void push_seen(struct store *s, const char *device, const char *op_id, const char *entity,
                      int64_t last_seen, struct store_push_result *res)
{
        struct store_op_in op = {op_id, "note", entity, "update", "", "", 0, last_seen};
        struct store_push p = {{"u", "v"}, device, "ip", NULL, &op, 1};

        assert_int_equal(store_push_ops(s, &p, res), 0);
}

/* Conflicts are found through the entity key, and another entity whose
 * key is the same (a collision, forged here) is never reported. */
static void test_conflicts_by_entity_key(void **state)
{
        char path[PATH_MAX + 32], sql[512];
        struct store *s;
        struct store_push_result res;
        int64_t key;
        sqlite3 *h;
        (void)state;

        snprintf(path, sizeof(path), "%s/entity-keys.db", tmpdir);
        assert_int_equal(store_open(path, &opts, &s, NULL), 0);
        push_seen(s, "dev1", "first", "notes/other.md", 0, &res);
        store_push_result_done(&res);
        push_seen(s, "dev1", "edit", "notes/a.md", 0, &res);
        assert_int_equal(res.last_sequence, 2);
        store_push_result_done(&res);
        store_close(s);

        /* Ops of other entities and another user, all with a.md's key. */
        assert_int_equal(store_entity_key("u", "v", "note", "notes/a.md", &key), 0);
        assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
        snprintf(sql, sizeof(sql),
                 "INSERT INTO server_ops (server_sequence, op_id, user_id, vault_id, device_id,"
                 " entity_type, entity_id, op_type, payload_json, created_at, entity_key)"
                 " VALUES (3, 'forged-1', 'u', 'v', 'dev1', 'note', 'notes/b.md', 'update', '',"
                 " '', %1$lld), (4, 'forged-2', 'other', 'v', 'dev1', 'note', 'notes/a.md',"
                 " 'update', '', '', %1$lld), (5, 'forged-3', 'u', 'v', 'dev1', 'file',"
                 " 'notes/a.md', 'update', '', '', %1$lld);"
                 "UPDATE server_meta SET value = 5 WHERE key = 'last_sequence'",
                 (long long)key);
        assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
        /* The lookup reads the key's index, not the table. */
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(h,
                                            "EXPLAIN QUERY PLAN SELECT op_id FROM server_ops"
                                            " WHERE entity_key = ?8 AND user_id = ?1 AND"
                                            " vault_id = ?2 AND entity_type = ?3 AND"
                                            " entity_id = ?4 AND server_sequence > ?5 AND"
                                            " device_id <> ?6 AND op_type <> 'delete'"
                                            " ORDER BY server_sequence DESC LIMIT ?7",
                                            -1, &st, NULL),
                         SQLITE_OK);
        bool uses_index = false;
        while (sqlite3_step(st) == SQLITE_ROW)
                uses_index |= strstr((const char *)sqlite3_column_text(st, 3),
                                     "idx_server_ops_entity_key") != NULL;
        sqlite3_finalize(st);
        sqlite3_close(h);
        assert_true(uses_index);

        assert_int_equal(store_open(path, &opts, &s, NULL), 0);
        push_seen(s, "dev2", "mine", "notes/a.md", 1, &res);
        assert_int_equal(res.n_accepted, 1);
        assert_int_equal(res.n_conflicts, 1);
        assert_string_equal(res.conflicts[0].op_id, "edit");
        assert_int_equal(res.conflicts[0].server_sequence, 2);
        store_push_result_done(&res);
        store_close(s);
}

static void test_sequences_never_reused(void **state)
{
        char path[PATH_MAX + 32];
        struct store *s;
        (void)state;

        snprintf(path, sizeof(path), "%s/seq.db", tmpdir);
        assert_int_equal(store_open(path, &opts, &s, NULL), 0);
        struct store_op_in ops[2] = {
                {"a", "n", "e", "c", "", "", 0, 0},
                {"b", "n", "e", "c", "", "", 0, 0},
        };
        struct store_push p = {{"u", "v"}, "dev", "ip", NULL, ops, 2};
        struct store_push_result res;
        assert_int_equal(store_push_ops(s, &p, &res), 0);
        assert_int_equal(res.n_accepted, 2);
        assert_int_equal(res.last_sequence, 2);
        assert_false(res.replayed);
        assert_string_equal(res.json, "{\"accepted\":[\"a\",\"b\"],\"conflicts\":[],\"count\":2}");
        store_push_result_done(&res);
        store_close(s);

        /* Delete the newest op behind the store's back (as deleting a user
         * would): the next op still gets a fresh, higher sequence. */
        sqlite3 *h;
        assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
        assert_int_equal(
                sqlite3_exec(h, "DELETE FROM server_ops WHERE op_id='b'", NULL, NULL, NULL),
                SQLITE_OK);
        sqlite3_close(h);
        assert_int_equal(store_open(path, &opts, &s, NULL), 0);
        assert_int_equal(push_one(s, "c"), 3);

        struct store_pull_info info;
        struct store_scope scope = {"u", "v"};
        int64_t seqs[4] = {0};
        assert_int_equal(store_pull_page(s, &scope, 0, 10, collect_seq, seqs, &info), 0);
        assert_int_equal(info.n_ops, 2);
        assert_int_equal(seqs[0], 1);
        assert_int_equal(seqs[1], 3);
        assert_int_equal(info.last_sequence, 3);
        assert_int_equal(info.scope_sequence, 3);
        assert_false(info.has_more);
        assert_int_equal(store_pull_page(s, &scope, 0, 1, collect_seq, seqs, &info), 0);
        assert_int_equal(info.n_ops, 1);
        assert_true(info.has_more);
        store_close(s);
}

/* A pusher thread: one push of n ops into scope u/v. */
struct pusher {
        struct store *s;
        struct store_op_in ops[2];
        size_t n;
        int r;
        pthread_t t;
};

static void *pusher_main(void *arg)
{
        struct pusher *p = arg;
        struct store_push push = {{"u", "v"}, "dev", "ip", NULL, p->ops, p->n};
        struct store_push_result res;

        p->r = store_push_ops(p->s, &push, &res);
        if (p->r == 0)
                store_push_result_done(&res);
        return NULL;
}

static void pusher_start(struct pusher *p, struct store *s, const char *op1, const char *op2)
{
        *p = (struct pusher){.s = s, .n = op2 ? 2 : 1};
        p->ops[0] = (struct store_op_in){op1, "n", "e", "c", "", "", 0, 0};
        if (op2)
                p->ops[1] = (struct store_op_in){op2, "n", "e", "c", "", "", 0, 0};
        assert_int_equal(pthread_create(&p->t, NULL, pusher_main, p), 0);
}

/* Wait (bounded) until the store's writer has taken its batch and
 * `queued` more pushes wait behind it. */
static void wait_queued(struct store *s, unsigned queued)
{
        for (int i = 0; i < 100000; i++) {
                pthread_mutex_lock(&s->push_lock);
                bool ok = s->push_writing && s->push_queued == queued;
                pthread_mutex_unlock(&s->push_lock);
                if (ok)
                        return;
                sched_yield();
        }
        fail_msg("the pushes did not queue");
}

static void test_push_fails_alone_in_batch(void **state)
{
        char path[PATH_MAX + 32];
        struct store *s;
        struct db_conn *c;
        struct pusher a, b, d;
        sqlite3 *h;
        (void)state;

        /* An op named "boom" fails half-way through its push, as an I/O
         * error or a full disk would. */
        snprintf(path, sizeof(path), "%s/batch.db", tmpdir);
        assert_int_equal(store_open(path, &opts, &s, NULL), 0);
        assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
        assert_int_equal(sqlite3_exec(h,
                                      "CREATE TRIGGER boom BEFORE INSERT ON server_ops"
                                      " WHEN NEW.op_id = 'boom' BEGIN SELECT RAISE(ABORT, 'boom');"
                                      " END",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(h);

        /* Alone: nothing of it is stored. */
        pusher_start(&a, s, "one", "boom");
        pthread_join(a.t, NULL);
        assert_true(a.r < 0);
        assert_int_equal(query(path, "SELECT count(*) FROM server_ops"), 0);

        /* In a batch: with the writer held, a is written in a batch of its
         * own and b and d queue behind it, to be written together. */
        assert_int_equal(store_write_begin(s, &c), 0);
        pusher_start(&a, s, "a1", NULL);
        wait_queued(s, 0);
        pusher_start(&b, s, "b1", "boom");
        pusher_start(&d, s, "d1", "d2");
        wait_queued(s, 2);
        assert_int_equal(store_write_end(s, c, 0, false), 0);
        pthread_join(a.t, NULL);
        pthread_join(b.t, NULL);
        pthread_join(d.t, NULL);
        /* a waited for the writer; on a machine too slow to hand it over in
         * time it gives up, which changes nothing for b and d. */
        assert_true(a.r == 0 || a.r == -EBUSY);
        assert_true(b.r < 0);
        assert_int_equal(d.r, 0);
        assert_int_equal(query(path, "SELECT count(*) FROM server_ops WHERE op_id = 'a1'"),
                         a.r == 0);
        assert_int_equal(query(path, "SELECT count(*) FROM server_ops WHERE op_id = 'b1'"), 0);
        assert_int_equal(query(path, "SELECT count(*) FROM server_ops WHERE op_id IN ('d1','d2')"),
                         2);
        /* Sequences stay dense: d's ops follow a's. */
        assert_int_equal(query(path, "SELECT max(server_sequence) FROM server_ops"),
                         a.r == 0 ? 3 : 2);
        store_close(s);
}

/* Jobs handed to the writer without waiting (store_push_submit()). */
#define QUEUE_TEST_JOBS (STORE_PUSH_QUEUE_MAX + 1)
struct queue_test {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        unsigned done;
        char op_ids[QUEUE_TEST_JOBS][16];
        struct store_op_in ops[QUEUE_TEST_JOBS];
        struct store_push pushes[QUEUE_TEST_JOBS];
        struct store_push_job jobs[QUEUE_TEST_JOBS + 1];
};

static void queue_test_done(struct store_push_job *job, void *userdata)
{
        struct queue_test *q = userdata;
        (void)job;

        pthread_mutex_lock(&q->lock);
        q->done++;
        pthread_cond_signal(&q->cond);
        pthread_mutex_unlock(&q->lock);
}

/* The queue is bounded: with the writer held, STORE_PUSH_QUEUE_MAX pushes
 * wait behind the batch being written and the next is refused at once
 * (-EAGAIN), storing nothing; the waiting ones are written once the writer
 * is free, and closing the store lets the writer finish first. */
static void test_push_queue_bounded(void **state)
{
        char path[PATH_MAX + 32];
        struct store *s;
        struct db_conn *c;
        struct queue_test *q = calloc(1, sizeof(*q));
        (void)state;

        assert_non_null(q);
        pthread_mutex_init(&q->lock, NULL);
        pthread_cond_init(&q->cond, NULL);
        for (unsigned i = 0; i <= QUEUE_TEST_JOBS; i++) {
                unsigned k = i < QUEUE_TEST_JOBS ? i : 0; /* the refused one repeats op 0 */
                if (i < QUEUE_TEST_JOBS) {
                        snprintf(q->op_ids[i], sizeof(q->op_ids[i]), "q%u", i);
                        q->ops[i] = (struct store_op_in){q->op_ids[i], "n", "e", "c", "", "", 0, 0};
                        q->pushes[i] =
                                (struct store_push){{"u", "v"}, "dev", "ip", NULL, &q->ops[i], 1};
                }
                q->jobs[i] = (struct store_push_job){
                        .push = &q->pushes[k], .done = queue_test_done, .userdata = q};
        }
        snprintf(path, sizeof(path), "%s/queue.db", tmpdir);
        assert_int_equal(store_open(path, &opts, &s, NULL), 0);

        assert_int_equal(store_write_begin(s, &c), 0);
        assert_int_equal(store_push_submit(s, &q->jobs[0]), 0);
        wait_queued(s, 0);
        for (unsigned i = 1; i < QUEUE_TEST_JOBS; i++)
                assert_int_equal(store_push_submit(s, &q->jobs[i]), 0);
        assert_int_equal(store_push_submit(s, &q->jobs[QUEUE_TEST_JOBS]), -EAGAIN);
        assert_int_equal(store_write_end(s, c, 0, false), 0);

        pthread_mutex_lock(&q->lock);
        while (q->done < QUEUE_TEST_JOBS)
                pthread_cond_wait(&q->cond, &q->lock);
        pthread_mutex_unlock(&q->lock);
        assert_int_equal(q->done, QUEUE_TEST_JOBS);

        /* The first waited for the writer; on a machine too slow to hand
         * it over in time it gives up, which changes nothing for the rest. */
        int first = -1;
        for (unsigned i = 0; i < QUEUE_TEST_JOBS; i++) {
                struct store_push_result res;
                int r = store_push_finish(&q->jobs[i], &res);
                if (i == 0) {
                        assert_true(r == 0 || r == -EBUSY);
                        first = r == 0;
                } else
                        assert_int_equal(r, 0);
                if (r == 0) {
                        assert_int_equal(res.n_accepted, 1);
                        store_push_result_done(&res);
                }
        }
        assert_int_equal(query(path, "SELECT count(*) FROM server_ops"),
                         QUEUE_TEST_JOBS - 1 + first);

        /* Queued when the store closes: written before it is gone. */
        q->done = 0;
        q->pushes[0].ops = &q->ops[1]; /* a repeated op_id: accepted as none */
        assert_int_equal(store_write_begin(s, &c), 0);
        assert_int_equal(store_push_submit(s, &q->jobs[0]), 0);
        wait_queued(s, 0);
        assert_int_equal(store_push_submit(s, &q->jobs[1]), 0);
        assert_int_equal(store_write_end(s, c, 0, false), 0);
        store_close(s);
        assert_int_equal(q->done, 2);
        for (unsigned i = 0; i < 2; i++) {
                struct store_push_result res;
                int r = store_push_finish(&q->jobs[i], &res);
                assert_true(r == 0 || r == -EBUSY);
                if (r == 0) {
                        assert_int_equal(res.n_accepted, 0);
                        store_push_result_done(&res);
                }
        }
        pthread_mutex_destroy(&q->lock);
        pthread_cond_destroy(&q->cond);
        free(q);
}

static int count_op(const struct store_op_view *op, void *userdata)
{
        (void)op;
        (*(size_t *)userdata)++;
        return 0;
}

/* Memory returns once a burst is over: a busy tick keeps the caches, the
 * first quiet one after it hands back the page caches the burst filled,
 * and a quiet tick with nothing new since does nothing. */
static void test_memory_returns_after_burst(void **state)
{
        char path[PATH_MAX + 32], payload[1024];
        struct store *s;
        struct store_op_in ops[100];
        char ids[100][32];
        struct heap_watch w = {0};
        (void)state;

        snprintf(path, sizeof(path), "%s/heap.db", tmpdir);
        assert_int_equal(store_open(path, &opts, &s, NULL), 0);
        memset(payload, 'x', sizeof(payload) - 1);
        payload[sizeof(payload) - 1] = '\0';
        for (int k = 0; k < 4; k++) {
                for (int i = 0; i < 100; i++) {
                        snprintf(ids[i], sizeof(ids[i]), "m%d-%d", k, i);
                        ops[i] = (struct store_op_in){ids[i], "n", "e", "c", payload, "", 0, 0};
                }
                struct store_push p = {{"u", "v"}, "dev", "ip", NULL, ops, 100};
                struct store_push_result res;
                assert_int_equal(store_push_ops(s, &p, &res), 0);
                store_push_result_done(&res);
        }

        /* The burst: every op read, into a reader's page cache. */
        struct store_scope scope = {"u", "v"};
        struct store_pull_info info;
        size_t n = 0;
        assert_int_equal(store_pull_page(s, &scope, 0, 1000, count_op, &n, &info), 0);
        assert_int_equal(n, 400);

        int64_t filled = sqlite3_memory_used();
        assert_false(heap_watch_tick(&w, 1000, s)); /* busy */
        assert_true(sqlite3_memory_used() >= filled);
        assert_true(heap_watch_tick(&w, 1000 + HEAP_QUIET_REQUESTS - 1, s)); /* quiet */
        int64_t returned = sqlite3_memory_used();
        /* 400 KiB of payloads were cached; at least half of that is back. */
        assert_true(filled - returned > 200 * 1024);
        assert_false(heap_watch_tick(&w, 1000 + HEAP_QUIET_REQUESTS - 1, s)); /* nothing new */
        store_close(s);
}

static void test_ratelimit(void **state)
{
        struct ratelimit *rl;
        (void)state;

        assert_int_equal(ratelimit_new(3, &rl), 0);
        for (int i = 0; i < 5; i++)
                assert_int_equal(ratelimit_hit(rl, RL_PAIR, RL_KIND_ADDRESS, "1.2.3.4", 1000), 0);
        unsigned wait = ratelimit_hit(rl, RL_PAIR, RL_KIND_ADDRESS, "1.2.3.4", 1000 + 60);
        assert_int_equal(wait, 15 * 60 - 60);
        /* Another rule, another key: separate budgets. */
        assert_int_equal(ratelimit_hit(rl, RL_LOGIN, RL_KIND_ADDRESS, "1.2.3.4", 1000), 0);
        assert_int_equal(ratelimit_hit(rl, RL_PAIR, RL_KIND_ADDRESS, "5.6.7.8", 1000), 0);
        /* The window ends: allowed again. */
        assert_int_equal(ratelimit_hit(rl, RL_PAIR, RL_KIND_ADDRESS, "1.2.3.4", 1000 + 15 * 60), 0);
        /* At most 3 buckets: a fourth evicts the least recently seen
         * (RL_LOGIN|1.2.3.4), whose budget then starts afresh. */
        assert_int_equal(ratelimit_size(rl), 3);
        for (int i = 0; i < 10; i++)
                assert_int_equal(ratelimit_hit(rl, RL_LOGIN, RL_KIND_ADDRESS, "1.2.3.4", 2000), 0);
        assert_int_equal(ratelimit_hit(rl, RL_LOGIN, RL_KIND_ADDRESS, "1.2.3.4", 2000), 600);
        assert_int_equal(ratelimit_hit(rl, RL_FORGOT, RL_KIND_ADDRESS, "x", 2000), 0);
        assert_int_equal(ratelimit_hit(rl, RL_REGISTER, RL_KIND_ADDRESS, "y", 2000), 0);
        assert_int_equal(ratelimit_hit(rl, RL_RESET, RL_KIND_ADDRESS, "z", 2000), 0);
        assert_int_equal(ratelimit_size(rl), 3);
        assert_int_equal(ratelimit_hit(rl, RL_LOGIN, RL_KIND_ADDRESS, "1.2.3.4", 2000), 0);
        ratelimit_free(rl);
}

/* An account's counter survives a flood of fresh addresses: accounts have
 * buckets of their own, which address buckets never evict. */
static void test_ratelimit_account_survives_flood(void **state)
{
        struct ratelimit *rl;
        char ip[32];
        (void)state;

        assert_int_equal(ratelimit_new(3, &rl), 0);
        for (int i = 0; i < 10; i++)
                assert_int_equal(
                        ratelimit_hit(rl, RL_LOGIN, RL_KIND_ACCOUNT, "hash-of-alice", 1000), 0);
        assert_int_not_equal(ratelimit_hit(rl, RL_LOGIN, RL_KIND_ACCOUNT, "hash-of-alice", 1000),
                             0);
        for (int i = 0; i < 100; i++) {
                snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 250, i % 250);
                assert_int_equal(ratelimit_hit(rl, RL_LOGIN, RL_KIND_ADDRESS, ip, 1001), 0);
        }
        assert_int_not_equal(ratelimit_hit(rl, RL_LOGIN, RL_KIND_ACCOUNT, "hash-of-alice", 1002),
                             0);
        ratelimit_free(rl);
}

static void test_password(void **state)
{
        char hash[PASSWORD_HASH_MAX];
        bool rehash = true;
        (void)state;

        assert_int_equal(password_hash("correct horse", hash), 0);
        assert_memory_equal(hash, "$argon2id$", 10);
        assert_int_equal(password_verify("correct horse", hash, &rehash), 1);
        assert_false(rehash);
        assert_int_equal(password_verify("wrong horse", hash, NULL), 0);
        /* The existing server's bcrypt hash of the fixture administrator. */
        const char *bcrypt = "$2a$10$FPIhr5Xkae4fisEO79O23OJSXaNcaEVIAfQCVY/n26CM3LOOOl9SO";
        assert_int_equal(password_verify("fixture-admin-pass", bcrypt, &rehash), 1);
        assert_true(rehash);
        assert_int_equal(password_verify("not-it", bcrypt, NULL), 0);
        assert_true(password_verify("x", "plaintext", NULL) < 0);
        /* Failed checks spend one bcrypt check of the migrated accounts'
         * cost (equal timing for unknown and migrated accounts). */
        assert_int_equal(password_bcrypt_cost(bcrypt), 10);
        assert_int_equal(password_bcrypt_cost(hash), 0);
        assert_int_equal(password_bcrypt_cost("$2b$xx$"), 0);
        password_verify_dummy_bcrypt("whatever", 4);
        password_verify_dummy_bcrypt("whatever", 0); /* none: nothing to spend */
}

/* Differences store_copy() reports, collected. */
struct copy_problems {
        unsigned n;
        char last[512];
};

static int note_problem(void *userdata, const char *line)
{
        struct copy_problems *p = userdata;

        p->n++;
        snprintf(p->last, sizeof(p->last), "%s", line);
        return 0;
}

static void sql_on(const char *path, const char *sql)
{
        sqlite3 *h;

        assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
        assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(h);
}

static void test_copy_store(void **state)
{
        char from[PATH_MAX + 32], to[PATH_MAX + 32], bad[PATH_MAX + 32];
        const struct store_options empty = {.readers = 1, .require_empty = true};
        struct store *src, *dst;
        struct store_copy_result res;
        struct copy_problems problems = {0};
        (void)state;

        snprintf(from, sizeof(from), "%s/copy-from.db", tmpdir);
        snprintf(to, sizeof(to), "%s/copy-to.db", tmpdir);
        snprintf(bad, sizeof(bad), "%s/copy-bad.db", tmpdir);
        assert_int_equal(store_open(from, &opts, &src, NULL), 0);
        struct store_op_in ops[3] = {
                {"a", "n", "e", "c", "", "", 0, 0},
                {"b", "n", "e", "c", "", "", 0, 0},
                {"c", "n", "f", "c", "", "", 0, 0},
        };
        struct store_push p = {{"u", "v"}, "dev", "ip", NULL, ops, 3};
        struct store_push_result pushed;
        assert_int_equal(store_push_ops(src, &p, &pushed), 0);
        store_push_result_done(&pushed);
        store_close(src);
        /* The newest op gone with its user: the high-water mark stays 3. */
        sql_on(from, "DELETE FROM server_ops WHERE op_id = 'c'");

        /* A store with tables is not a target. */
        assert_int_equal(store_open(from, &empty, &dst, NULL), -ENOTEMPTY);

        assert_int_equal(store_open(from, &opts, &src, NULL), 0);
        assert_int_equal(store_open(to, &empty, &dst, NULL), 0);
        /* Batches of two rows: more than one per table. */
        assert_int_equal(store_copy(src, dst, 2, NULL, note_problem, &problems, &res), 0);
        assert_int_equal(problems.n, 0);
        assert_int_equal(res.last_sequence, 3);
        assert_true(res.rows >= 2);

        /* The copy goes on where the source stopped. */
        assert_int_equal(push_one(dst, "d"), 4);
        store_close(dst);
        store_close(src);

        /* A source whose counter disagrees with its rows: the copy counts
         * the rows and reports the difference. */
        sql_on(from, "UPDATE server_meta SET value = 7 WHERE key = 'ops_count'");
        assert_int_equal(store_open(from, &opts, &src, NULL), 0);
        assert_int_equal(store_open(bad, &empty, &dst, NULL), 0);
        assert_int_equal(store_copy(src, dst, 100, NULL, note_problem, &problems, &res), 1);
        assert_int_equal(problems.n, 1);
        assert_string_equal(problems.last, "counter ops_count: 7 in the source, 2 in the copy");
        store_close(dst);
        store_close(src);
}

/* The reader pool opens connections as they are needed, up to its size,
 * then waits for one to come back; readers_now opens them all at once. */
struct pool_waiter {
        struct store *s;
        struct db_conn *got;
        int r;
};

static void *take_waiting(void *arg)
{
        struct pool_waiter *w = arg;

        w->r = store_reader_take(w->s, &w->got);
        return NULL;
}

static unsigned pool_open(struct store *s)
{
        pthread_mutex_lock(&s->readers_lock);
        unsigned n = s->n_stored;
        pthread_mutex_unlock(&s->readers_lock);
        return n;
}

static void test_readers_opened_on_demand(void **state)
{
        (void)state;
        char path[PATH_MAX + 32];
        struct store *s;
        struct db_conn *c[3], *again;
        struct store_options pool = {.readers = 3};

        snprintf(path, sizeof(path), "%s/pool.db", tmpdir);
        assert_int_equal(store_open(path, &pool, &s, NULL), 0);
        assert_int_equal(pool_open(s), 1);

        /* Taken and given back, the first one serves again. */
        assert_int_equal(store_reader_take(s, &c[0]), 0);
        store_read_end(s, c[0]);
        assert_int_equal(store_reader_take(s, &again), 0);
        assert_ptr_equal(again, c[0]);
        assert_int_equal(pool_open(s), 1);

        /* While it is taken, the next take opens a second, then a third. */
        assert_int_equal(store_reader_take(s, &c[1]), 0);
        assert_int_equal(pool_open(s), 2);
        assert_int_equal(store_reader_take(s, &c[2]), 0);
        assert_int_equal(pool_open(s), 3);
        assert_ptr_not_equal(c[1], c[0]);
        assert_ptr_not_equal(c[2], c[1]);

        /* Each is a working reader with its own snapshot. */
        for (int i = 0; i < 3; i++) {
                assert_int_equal(db_begin(c[i], DB_TXN_READ, 0), 0);
                assert_int_equal(db_commit(c[i]), 0);
        }

        /* All three taken: a fourth take waits for one to come back and
         * gets that one; the pool does not grow past its size. */
        struct pool_waiter w = {.s = s, .r = -1};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, take_waiting, &w), 0);
        store_read_end(s, c[1]);
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_int_equal(w.r, 0);
        assert_ptr_equal(w.got, c[1]);
        assert_int_equal(pool_open(s), 3);
        store_read_end(s, w.got);
        store_read_end(s, c[2]);
        store_read_end(s, c[0]);
        store_close(s);

        pool.readers_now = true;
        assert_int_equal(store_open(path, &pool, &s, NULL), 0);
        assert_int_equal(pool_open(s), 3);
        store_close(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_migrate_empty),
                cmocka_unit_test(test_migrate_legacy),
                cmocka_unit_test(test_migrate_legacy_api_keys),
                cmocka_unit_test(test_refuses_newer_schema),
                cmocka_unit_test(test_entity_key_fixed),
                cmocka_unit_test(test_conflicts_by_entity_key),
                cmocka_unit_test(test_sequences_never_reused),
                cmocka_unit_test(test_push_fails_alone_in_batch),
                cmocka_unit_test(test_copy_store),
                cmocka_unit_test(test_push_queue_bounded),
                cmocka_unit_test(test_readers_opened_on_demand),
                cmocka_unit_test(test_memory_returns_after_burst),
                cmocka_unit_test(test_ratelimit),
                cmocka_unit_test(test_ratelimit_account_survives_flood),
                cmocka_unit_test(test_password),
        };
        /* test_memory_returns_after_burst() reads sqlite3_memory_used(),
         * whose statistics the store turns off at its first connection
         * unless SQLite is already initialised with them on. */
        if (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 1) != SQLITE_OK ||
            sqlite3_initialize() != SQLITE_OK)
                return 1;
        return cmocka_run_group_tests(tests, make_tmp, remove_tmp);
}
