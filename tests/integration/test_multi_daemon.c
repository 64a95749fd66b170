/* SPDX-License-Identifier: MIT */
/*
 * Several daemons behind one load balancer: three real daemons behind
 * tests/integration/roundrobin.py (harness_rr_*).  Each connection reaches
 * the next daemon in turn, and after kill -9 of one of them the others keep
 * serving every request.  The daemons are told apart by web.server_name
 * (GET /api/v1/site).
 *
 * On PostgreSQL (VERSTAK_TEST_PG_URL; the suite multi-daemon-pg runs this
 * program under with-postgresql.sh) the three daemons share one database
 * and one blob directory (daemon_options.share_with), as a cluster does
 * (docs/scaling.md):
 *  - devices push concurrently through different daemons while a client
 *    pages through the load balancer with since_sequence =
 *    page_last_sequence: it sees every op exactly once, in strictly
 *    increasing order, and the sequences in the database are 1..N without
 *    a gap or a repeat;
 *  - a long poll waiting on one daemon is answered with the op pushed
 *    through another, long before its own deadline (60 s; the thread is
 *    joined within 30), also after the daemons' listening connections were
 *    terminated (they reconnect under the seccomp filter);
 *  - kill -9 of one daemon while pushes stream through the load balancer:
 *    a push that got no answer is sent again with its idempotency key, and
 *    in the end every acknowledged op is stored exactly once and the others
 *    keep serving;
 *  - a blob uploaded through one daemon is downloaded through the others;
 *  - a daemon whose listening connection is refused at start (its role's
 *    connection limit leaves room for the store only) serves anyway, its
 *    long polls are woken by the high-water check until the connection is
 *    made, then by notifications again.
 * No test waits by sleeping or asserts how long something took.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

#define N_DAEMONS 3

/* The server_name of the daemon that answered GET /api/v1/site through
 * the front, as an index (0..N_DAEMONS-1); fails on anything but 200. */
static int answered_by(struct daemon *front)
{
        struct http_result res = {0};
        const char *name;
        int idx = -1;

        assert_int_equal(http_do(front, "GET", "/api/v1/site", NULL, NULL, 0, &res), 0);
        assert_int_equal(res.status, 200);
        assert_non_null(res.json);
        name = json_string_value(json_object_get(res.json, "server_name"));
        assert_non_null(name);
        assert_int_equal(sscanf(name, "daemon-%d", &idx), 1);
        assert_true(idx >= 0 && idx < N_DAEMONS);
        http_result_free(&res);
        return idx;
}

static void test_round_robin_and_kill(void **state)
{
        struct daemon d[N_DAEMONS] = {0};
        struct daemon *ds[N_DAEMONS];
        struct harness_rr rr = HARNESS_RR_INIT;
        char yaml[N_DAEMONS][64];
        int seen[N_DAEMONS] = {0}, status;
        (void)state;

        for (int i = 0; i < N_DAEMONS; i++) {
                snprintf(yaml[i], sizeof(yaml[i]), "web:\n  server_name: daemon-%d\n", i);
                struct daemon_options o = {.config_yaml = yaml[i]};
                assert_int_equal(harness_start(&d[i], &o), 0);
                ds[i] = &d[i];
        }
        assert_int_equal(harness_rr_start(&rr, ds, N_DAEMONS), 0);

        /* Two rounds: every daemon answers twice, in turn. */
        for (int i = 0; i < 2 * N_DAEMONS; i++)
                seen[answered_by(&rr.front)]++;
        for (int i = 0; i < N_DAEMONS; i++)
                assert_int_equal(seen[i], 2);

        /* kill -9 the second daemon: every request is still answered, by
         * the others. */
        assert_int_equal(harness_stop(&d[1], SIGKILL, 10, &status), 0);
        assert_true(WIFSIGNALED(status));
        memset(seen, 0, sizeof(seen));
        for (int i = 0; i < 2 * N_DAEMONS; i++)
                seen[answered_by(&rr.front)]++;
        assert_int_equal(seen[1], 0);
        assert_true(seen[0] > 0);
        assert_true(seen[2] > 0);

        harness_rr_stop(&rr);
        for (int i = 0; i < N_DAEMONS; i++)
                harness_destroy(&d[i]);
}

/* --- several daemons on one database (PostgreSQL) --------------------------- */

/* A push that got no answer (the connection broke, the daemon died) or
 * was refused as busy is sent again, with its idempotency key, until
 * this long has passed. */
#define PUSH_RETRY_MS 60000

struct cluster {
        struct daemon d[N_DAEMONS];
        int n; /* daemons started */
        struct harness_rr rr;
        char role[80]; /* test_listener_down_at_start: the second daemon's */
};

static const char cluster_yaml[] = "trusted_proxies: [\"127.0.0.1\"]\n"
                                   "web:\n  server_name: daemon-%d\n";

/* Set-up: n daemons on the database and the blob directory of the first,
 * behind the round robin, with the user alice, in *state (set first, so
 * that the tear-down stops what started); NULL (the test skips) on
 * SQLite. */
static int cluster_new(void **state, int n)
{
        struct cluster *c;
        struct daemon *ds[N_DAEMONS];
        char yaml[N_DAEMONS][128];

        *state = NULL;
        if (!harness_on_pg())
                return 0;
        c = calloc(1, sizeof(*c));
        assert_non_null(c);
        *state = c;
        c->rr = (struct harness_rr)HARNESS_RR_INIT;
        harness_set_unique_client_ips(true);
        for (int i = 0; i < n; i++) {
                snprintf(yaml[i], sizeof(yaml[i]), cluster_yaml, i);
                struct daemon_options o = {.config_yaml = yaml[i],
                                           .notify = true,
                                           .share_with = i > 0 ? &c->d[0] : NULL};
                assert_int_equal(harness_start(&c->d[i], &o), 0);
                ds[i] = &c->d[i];
                c->n = i + 1;
        }
        assert_int_equal(harness_rr_start(&c->rr, ds, (size_t)n), 0);
        assert_int_equal(harness_add_user(&c->d[0], "alice", "alice@example.com",
                                          "alice-password-1", true, false, NULL),
                         0);
        harness_note_secret("alice-password-1");
        return 0;
}

static int cluster_start(void **state)
{
        return cluster_new(state, N_DAEMONS);
}

/* Tear-down, also after a failure.  The first daemon owns the database:
 * it goes last. */
static int cluster_stop(void **state)
{
        struct cluster *c = *state;

        if (!c)
                return 0;
        harness_rr_stop(&c->rr);
        for (int i = c->n - 1; i >= 0; i--)
                harness_destroy(&c->d[i]);
        free(c);
        return 0;
}

/* Pair one of alice's devices in vault through d. */
static void pair(const struct daemon *d, const char *vault, char token[65])
{
        harness_pair_ok(d, "alice", "alice-password-1", vault, token, NULL);
}

/* A push of n ops named <prefix>-<j> (with idempotency key prefix) through
 * d, sent again while it gets no answer or 503.  Returns 0 when it was
 * answered 200 with all n accepted (or replayed as accepted), else -1 with
 * the reason in err.  Runs on the pushing threads: it asserts nothing. */
static int push_ops_try(const struct daemon *d, const char *token, const char *prefix, int n,
                        char err[256])
{
        char body[4096];
        int len = snprintf(body, sizeof(body), "{\"idempotency_key\":\"%s\",\"ops\":[", prefix);
        struct harness_deadline dl = harness_deadline_in(PUSH_RETRY_MS);
        struct http_result r = {0};
        int ok;

        for (int j = 0; j < n; j++)
                len += snprintf(body + len, sizeof(body) - (size_t)len,
                                "%s{\"op_id\":\"%s-%d\",\"entity_type\":\"note\",\"entity_id\":"
                                "\"%s\",\"op_type\":\"update\",\"payload_json\":\"{}\","
                                "\"client_sequence\":%d}",
                                j ? "," : "", prefix, j, prefix, j + 1);
        snprintf(body + len, sizeof(body) - (size_t)len, "]}");
        for (;;) {
                int e = http_post_json(d, "/api/v1/sync/push", token, body, &r);
                if (e == 0 && r.status != 503)
                        break;
                if (e == 0)
                        http_result_free(&r);
                if (!harness_pause(&dl)) {
                        snprintf(err, 256, "push %s got no answer", prefix);
                        return -1;
                }
        }
        ok = r.status == 200 && json_integer_value(json_object_get(r.json, "count")) == n;
        if (!ok)
                snprintf(err, 256, "push %s: %ld %.200s", prefix, r.status, r.body);
        http_result_free(&r);
        return ok ? 0 : -1;
}

static void push_ops(const struct daemon *d, const char *token, const char *prefix, int n)
{
        char err[256];

        if (push_ops_try(d, token, prefix, n, err) < 0)
                fail_msg("%s", err);
}

/* Sequences in the database: exactly 1..n, each once, and the high-water
 * mark n.  Returns n. */
static long long assert_sequences_dense(const struct daemon *d)
{
        long long n = -1, distinct = -1, lo = -1, hi = -1, mark = -1;

        assert_int_equal(harness_db_int(d, "SELECT count(*) FROM server_ops", &n), 0);
        assert_int_equal(harness_db_int(d, "SELECT count(DISTINCT server_sequence) FROM server_ops",
                                        &distinct),
                         0);
        assert_int_equal(harness_db_int(d, "SELECT min(server_sequence) FROM server_ops", &lo), 0);
        assert_int_equal(harness_db_int(d, "SELECT max(server_sequence) FROM server_ops", &hi), 0);
        assert_int_equal(harness_db_int(d,
                                        "SELECT CAST(value AS bigint) FROM server_meta"
                                        " WHERE key = 'last_sequence'",
                                        &mark),
                         0);
        assert_true(n > 0);
        assert_int_equal(distinct, n);
        assert_int_equal(lo, 1);
        assert_int_equal(hi, n);
        assert_int_equal(mark, n);
        return n;
}

/* One pull through d: the parsed answer, or NULL (with the reason in err)
 * unless it was answered 200.  Asserts nothing (threads call it). */
static json_t *pull_try(const struct daemon *d, const char *token, long long since, int limit,
                        int wait, char err[256])
{
        char body[128];
        struct http_result r;
        json_t *j = NULL;

        snprintf(body, sizeof(body),
                 "{\"since_sequence\":%lld,\"page_limit\":%d,\"wait_seconds\":%d}", since, limit,
                 wait);
        if (http_post_json(d, "/api/v1/sync/pull", token, body, &r) < 0) {
                snprintf(err, 256, "pull: no answer");
                return NULL;
        }
        if (r.status == 200 && r.json)
                j = json_incref(r.json);
        else
                snprintf(err, 256, "pull: %ld %.200s", r.status, r.body);
        http_result_free(&r);
        return j;
}

/* --- ordering and paging ---------------------------------------------------- */

#define PUSHERS     4
#define PUSHES_EACH 24
#define OPS_EACH    5
#define PAGE_LIMIT  7

/* A device pushing `pushes` pushes of OPS_EACH ops, named
 * <tag><k>-<push>-<op>, through d; acked (may be NULL) counts the answered
 * ones. */
struct pusher {
        const struct daemon *d;
        char token[65];
        char tag;
        int k;
        int pushes;
        atomic_int *acked;
        char err[256]; /* "" unless a push failed */
};

static void *pusher_main(void *arg)
{
        struct pusher *p = arg;
        char prefix[32];

        for (int i = 0; i < p->pushes; i++) {
                snprintf(prefix, sizeof(prefix), "%c%d-%d", p->tag, p->k, i);
                if (push_ops_try(p->d, p->token, prefix, OPS_EACH, p->err) < 0)
                        break;
                if (p->acked)
                        atomic_fetch_add(p->acked, 1);
        }
        return NULL;
}

/* Start pushers[0..n) on threads t. */
static void pushers_start(struct pusher *pushers, pthread_t *t, int n)
{
        for (int k = 0; k < n; k++)
                assert_int_equal(pthread_create(&t[k], NULL, pusher_main, &pushers[k]), 0);
}

/* Join them; fails on the first error any of them met. */
static void pushers_join(struct pusher *pushers, pthread_t *t, int n)
{
        for (int k = 0; k < n; k++)
                harness_join(t[k], 240000);
        for (int k = 0; k < n; k++)
                if (pushers[k].err[0])
                        fail_msg("%s", pushers[k].err);
}

/* A client paging through the load balancer while the pushes run. */
struct pager {
        const struct daemon *front;
        const char *token;
        atomic_bool pushes_done;
        unsigned char seen[PUSHERS][PUSHES_EACH][OPS_EACH];
        long long last_seq;
        unsigned pages;
        char err[256]; /* "" unless the pager stopped on a fault */
};

/* Take one page: every op newer than the last, in increasing order.
 * Returns the number of ops, or -1 with pg->err set. */
static int pager_page(struct pager *pg)
{
        json_t *j = pull_try(pg->front, pg->token, pg->last_seq, PAGE_LIMIT, 0, pg->err), *op;
        json_t *ops = json_object_get(j, "ops");
        size_t i;
        int n = (int)json_array_size(ops);

        if (!j)
                return -1;
        json_array_foreach(ops, i, op)
        {
                long long seq = json_integer_value(json_object_get(op, "server_sequence"));
                const char *id = json_string_value(json_object_get(op, "op_id"));
                int k, p, o;
                if (seq <= pg->last_seq)
                        snprintf(pg->err, sizeof(pg->err), "sequence %lld after %lld", seq,
                                 pg->last_seq);
                else if (!id || sscanf(id, "p%d-%d-%d", &k, &p, &o) != 3 || k < 0 || k >= PUSHERS ||
                         p < 0 || p >= PUSHES_EACH || o < 0 || o >= OPS_EACH)
                        snprintf(pg->err, sizeof(pg->err), "unexpected op %s", id ? id : "?");
                else
                        pg->seen[k][p][o]++;
                pg->last_seq = seq;
        }
        if (!pg->err[0] &&
            json_integer_value(json_object_get(j, "page_last_sequence")) != pg->last_seq)
                snprintf(pg->err, sizeof(pg->err), "page_last_sequence is not the last op's");
        json_decref(j);
        pg->pages++;
        return pg->err[0] ? -1 : n;
}

static void *pager_main(void *arg)
{
        struct pager *pg = arg;

        /* Page on while pushes run; once they are all acknowledged, until
         * a page comes back empty. */
        for (;;) {
                bool done = atomic_load(&pg->pushes_done);
                int n = pager_page(pg);
                if (n < 0 || (n == 0 && done))
                        break;
        }
        return NULL;
}

static void test_shared_ordering_and_paging(void **state)
{
        struct cluster *c = *state;
        struct pusher pushers[PUSHERS];
        struct pager *pg;
        char reader[65];
        pthread_t pt[PUSHERS], rt;

        if (!c) {
                skip();
                return;
        }
        /* Each device pairs with, and pushes through, its own daemon. */
        for (int k = 0; k < PUSHERS; k++) {
                pushers[k] = (struct pusher){
                        .d = &c->d[k % N_DAEMONS], .tag = 'p', .k = k, .pushes = PUSHES_EACH};
                pair(pushers[k].d, "shared", pushers[k].token);
        }
        pair(&c->rr.front, "shared", reader);
        pg = calloc(1, sizeof(*pg));
        assert_non_null(pg);
        pg->front = &c->rr.front;
        pg->token = reader;
        atomic_init(&pg->pushes_done, false);

        assert_int_equal(pthread_create(&rt, NULL, pager_main, pg), 0);
        pushers_start(pushers, pt, PUSHERS);
        pushers_join(pushers, pt, PUSHERS);
        atomic_store(&pg->pushes_done, true);
        harness_join(rt, 60000);
        if (pg->err[0])
                fail_msg("paging: %s", pg->err);

        /* Every op exactly once, in order; the database agrees. */
        for (int k = 0; k < PUSHERS; k++)
                for (int p = 0; p < PUSHES_EACH; p++)
                        for (int o = 0; o < OPS_EACH; o++)
                                if (pg->seen[k][p][o] != 1)
                                        fail_msg("op p%d-%d-%d seen %u times", k, p, o,
                                                 pg->seen[k][p][o]);
        assert_int_equal(assert_sequences_dense(&c->d[0]), PUSHERS * PUSHES_EACH * OPS_EACH);
        assert_int_equal(pg->last_seq, PUSHERS * PUSHES_EACH * OPS_EACH);
        assert_true(pg->pages > 1);
        free(pg);
}

/* --- long polls woken across daemons ------------------------------------------ */

struct waiter {
        const struct daemon *d;
        const char *token;
        long long since;
        json_t *answer;
        char err[256];
};

static void *waiter_main(void *arg)
{
        struct waiter *w = arg;

        /* The longest wait there is: an answer before it is a wake-up. */
        w->answer = pull_try(w->d, w->token, w->since, 0, 60, w->err);
        return NULL;
}

/* A pull waiting on daemon `on` is answered with the op pushed through
 * daemon `by`: joined within half of the poll's own deadline. */
static void expect_wakeup(struct cluster *c, int on, int by, const char *tok_on, const char *tok_by,
                          const char *prefix)
{
        char err[256] = "", op_id[64];
        json_t *now = pull_try(&c->d[on], tok_on, 0, 1, 0, err);
        struct waiter w = {.d = &c->d[on], .token = tok_on};
        pthread_t t;

        if (!now)
                fail_msg("%s", err);
        w.since = json_integer_value(json_object_get(now, "server_sequence"));
        json_decref(now);
        assert_int_equal(pthread_create(&t, NULL, waiter_main, &w), 0);
        if (harness_wait_pulls(&c->d[on], 1, 30000) < 0)
                fail_msg("daemon %d does not hold the long poll", on);
        push_ops(&c->d[by], tok_by, prefix, 1);
        harness_join(t, 30000);
        if (!w.answer)
                fail_msg("%s", w.err);

        json_t *ops = json_object_get(w.answer, "ops");
        snprintf(op_id, sizeof(op_id), "%s-0", prefix);
        assert_int_equal(json_array_size(ops), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 0), "op_id")),
                            op_id);
        json_decref(w.answer);
}

static void test_longpoll_across_daemons(void **state)
{
        struct cluster *c = *state;
        char tok[N_DAEMONS][65];

        if (!c) {
                skip();
                return;
        }
        for (int i = 0; i < N_DAEMONS; i++)
                pair(&c->d[i], "lp", tok[i]);

        expect_wakeup(c, 1, 0, tok[1], tok[0], "wake-a");
        expect_wakeup(c, 2, 1, tok[2], tok[1], "wake-b");
        expect_wakeup(c, 0, 2, tok[0], tok[2], "wake-c");

        /* The database server drops every daemon's listening connection:
         * each one says so, reconnects (under its seccomp filter) and
         * says that too; wake-ups work as before. */
        assert_int_equal(harness_db_exec(&c->d[0],
                                         "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                         " WHERE application_name = 'verstak-sync-server listen'"
                                         " AND datname = current_database()"),
                         0);
        for (int i = 0; i < N_DAEMONS; i++) {
                assert_true(harness_wait_log(&c->d[i], "Database notifications lost", 20000));
                assert_true(harness_wait_log(&c->d[i], "Database notifications back", 30000));
        }
        expect_wakeup(c, 1, 2, tok[1], tok[2], "wake-d");
        expect_wakeup(c, 2, 0, tok[2], tok[0], "wake-e");
        for (int i = 0; i < N_DAEMONS; i++) {
                char seccomp[16];
                assert_int_equal(harness_proc_status(&c->d[i], "Seccomp", seccomp, sizeof(seccomp)),
                                 0);
                assert_string_equal(seccomp, "2");
        }
}

/* --- kill -9 of one daemon while pushes stream through the front ------------- */

#define KILL_PUSHERS     4
#define KILL_PUSHES_EACH 40
#define KILL_AFTER       20 /* acknowledged pushes before the kill */

static void test_kill_mid_push(void **state)
{
        struct cluster *c = *state;
        struct pusher pushers[KILL_PUSHERS];
        pthread_t pt[KILL_PUSHERS];
        atomic_int acked;
        int status;
        long long n = -1;

        if (!c) {
                skip();
                return;
        }
        atomic_init(&acked, 0);
        for (int k = 0; k < KILL_PUSHERS; k++) {
                pushers[k] = (struct pusher){.d = &c->rr.front,
                                             .tag = 'k',
                                             .k = k,
                                             .pushes = KILL_PUSHES_EACH,
                                             .acked = &acked};
                pair(&c->d[k % N_DAEMONS], "kill", pushers[k].token);
        }
        pushers_start(pushers, pt, KILL_PUSHERS);

        struct harness_deadline dl = harness_deadline_in(120000);
        while (atomic_load(&acked) < KILL_AFTER && harness_pause(&dl))
                ;
        assert_true(atomic_load(&acked) >= KILL_AFTER);
        assert_int_equal(harness_stop(&c->d[2], SIGKILL, 10, &status), 0);
        assert_true(WIFSIGNALED(status));

        pushers_join(pushers, pt, KILL_PUSHERS);

        /* Every acknowledged op once (op_id is unique per scope, so
         * "present" is what is left to check), nothing else, sequences
         * dense. */
        assert_int_equal(harness_db_int(&c->d[0],
                                        "SELECT count(*) FROM server_ops WHERE vault_id = 'kill'",
                                        &n),
                         0);
        assert_int_equal(n, KILL_PUSHERS * KILL_PUSHES_EACH * OPS_EACH);
        for (int k = 0; k < KILL_PUSHERS; k++)
                for (int i = 0; i < KILL_PUSHES_EACH; i++) {
                        char sql[256];
                        snprintf(sql, sizeof(sql),
                                 "SELECT count(*) FROM server_ops WHERE vault_id = 'kill'"
                                 " AND op_id LIKE 'k%d-%d-%%'",
                                 k, i);
                        assert_int_equal(harness_db_int(&c->d[0], sql, &n), 0);
                        assert_int_equal(n, OPS_EACH);
                }
        assert_sequences_dense(&c->d[0]);

        /* The others keep serving, through the front too. */
        push_ops(&c->rr.front, pushers[0].token, "after-kill-0", 1);
        push_ops(&c->d[0], pushers[0].token, "after-kill-1", 1);
        push_ops(&c->d[1], pushers[0].token, "after-kill-2", 1);
        for (int i = 0; i < 2; i++) {
                struct http_result r;
                assert_int_equal(http_get(&c->d[i], "/readyz", NULL, &r), 0);
                assert_int_equal(r.status, 200);
                http_result_free(&r);
        }
        assert_sequences_dense(&c->d[0]);
}

/* --- blobs through different daemons ------------------------------------------ */

#define BLOB_BOUNDARY "----multi-daemon-boundary"

static void test_blob_across_daemons(void **state)
{
        struct cluster *c = *state;
        unsigned char data[20000], digest[crypto_hash_sha256_BYTES];
        char tok[65], sha[65], auth[128], path[128], body[24000], op[512];
        const char *headers[3] = {
                auth, "Content-Type: multipart/form-data; boundary=" BLOB_BOUNDARY, NULL};
        struct http_result r;
        int len;

        if (!c) {
                skip();
                return;
        }
        pair(&c->d[0], "blobs", tok);
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
        randombytes_buf(data, sizeof(data));
        crypto_hash_sha256(digest, data, sizeof(data));
        sodium_bin2hex(sha, sizeof(sha), digest, sizeof(digest));

        /* Uploaded through the first daemon. */
        len = snprintf(body, sizeof(body),
                       "--" BLOB_BOUNDARY "\r\nContent-Disposition: form-data; name=\"file\";"
                       " filename=\"b.bin\"\r\n\r\n");
        memcpy(body + len, data, sizeof(data));
        len += (int)sizeof(data);
        len += snprintf(body + len, sizeof(body) - (size_t)len, "\r\n--" BLOB_BOUNDARY "--\r\n");
        assert_int_equal(
                http_do(&c->d[0], "POST", "/api/v1/blobs/", headers, body, (size_t)len, &r), 0);
        if (r.status != 200)
                fail_msg("upload: %ld %s", r.status, r.body);
        assert_string_equal(http_result_string(&r, "sha256"), sha);
        http_result_free(&r);

        /* Downloaded whole through each of the others and the front. */
        snprintf(path, sizeof(path), "/api/v1/blobs/%s", sha);
        const struct daemon *via[] = {&c->d[1], &c->d[2], &c->rr.front};
        for (size_t i = 0; i < sizeof(via) / sizeof(via[0]); i++) {
                assert_int_equal(http_get(via[i], path, tok, &r), 0);
                assert_int_equal(r.status, 200);
                assert_int_equal(r.body_len, sizeof(data));
                assert_memory_equal(r.body, data, sizeof(data));
                http_result_free(&r);
        }

        /* The reference made on one daemon is the one a push through
         * another checks. */
        snprintf(op, sizeof(op),
                 "{\"ops\":[{\"op_id\":\"f1\",\"entity_type\":\"file\",\"entity_id\":\"b.bin\","
                 "\"op_type\":\"create\",\"payload_json\":\"{\\\"blob\\\":{\\\"sha256\\\":"
                 "\\\"%s\\\",\\\"size\\\":%zu}}\"}]}",
                 sha, sizeof(data));
        assert_int_equal(http_post_json(&c->d[2], "/api/v1/sync/push", tok, op, &r), 0);
        if (r.status != 200)
                fail_msg("push with the blob: %ld %s", r.status, r.body);
        assert_int_equal(json_integer_value(json_object_get(r.json, "count")), 1);
        http_result_free(&r);
}

/* --- a daemon whose listening connection cannot be made ---------------------- */

/* The connection limit of the second daemon's role: room for the store's
 * connections (a writer and APP_STORE_READERS readers), not for the
 * listening one. */
#define STORE_CONNS "9"

/* Set-up: the first daemon and the role (inheriting the rights of the
 * database's owner); the test starts the second one.  NULL on SQLite. */
static int limited_start(void **state)
{
        struct cluster *c;
        char *owner, sql[256];

        cluster_new(state, 1);
        c = *state;
        if (!c)
                return 0;
        /* Roles are the cluster's: named after this test's database. */
        snprintf(c->role, sizeof(c->role), "%s_limited", c->d[0].pg_db);
        owner = harness_sql_text(&c->d[0], "SELECT current_user");
        assert_non_null(owner);
        snprintf(sql, sizeof(sql),
                 "CREATE ROLE %s LOGIN CONNECTION LIMIT " STORE_CONNS " IN ROLE \"%s\"", c->role,
                 owner);
        free(owner);
        assert_int_equal(harness_db_exec(&c->d[0], sql), 0);
        return 0;
}

/* The second daemon first, then its role, then the first daemon. */
static int limited_stop(void **state)
{
        struct cluster *c = *state;
        char sql[128];

        if (c && c->n > 1) {
                harness_destroy(&c->d[1]);
                c->n = 1;
        }
        if (c && c->role[0]) {
                snprintf(sql, sizeof(sql), "DROP ROLE IF EXISTS %s", c->role);
                (void)harness_db_exec(&c->d[0], sql);
        }
        return cluster_stop(state);
}

/* The listening connection is refused at start: the daemon serves anyway,
 * and its long polls are woken by the high-water check every second until
 * the connection is made, then by notifications again. */
static void test_listener_down_at_start(void **state)
{
        struct cluster *c = *state;
        struct daemon *b;
        char tok_a[65], tok_b[65];

        if (!c) {
                skip();
                return;
        }
        b = &c->d[1];
        struct daemon_options o = {.notify = true, .share_with = &c->d[0]};
        assert_int_equal(harness_prepare(b, &o), 0);
        c->n = 2;
        size_t len = strlen(b->pg_url);
        snprintf(b->pg_url + len, sizeof(b->pg_url) - len, "%suser=%s",
                 strchr(b->pg_url, '?') ? "&" : "?", c->role);
        assert_int_equal(harness_write_config(b, "trusted_proxies: [\"127.0.0.1\"]\n"), 0);
        assert_int_equal(harness_start(b, &o), 0);
        assert_true(harness_wait_log(b, "Cannot listen for other daemons' pushes yet", 20000));

        pair(&c->d[0], "down", tok_a);
        pair(b, "down", tok_b);
        expect_wakeup(c, 1, 0, tok_b, tok_a, "fallback-a");

        /* Room for the listening connection: it is made, and said so. */
        char sql[128];
        snprintf(sql, sizeof(sql), "ALTER ROLE %s CONNECTION LIMIT -1", c->role);
        assert_int_equal(harness_db_exec(&c->d[0], sql), 0);
        assert_true(harness_wait_log(b, "Database notifications back", 30000));
        expect_wakeup(c, 1, 0, tok_b, tok_a, "notified-a");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_robin_and_kill),
                cmocka_unit_test_setup_teardown(test_shared_ordering_and_paging, cluster_start,
                                                cluster_stop),
                cmocka_unit_test_setup_teardown(test_longpoll_across_daemons, cluster_start,
                                                cluster_stop),
                cmocka_unit_test_setup_teardown(test_kill_mid_push, cluster_start, cluster_stop),
                cmocka_unit_test_setup_teardown(test_blob_across_daemons, cluster_start,
                                                cluster_stop),
                cmocka_unit_test_setup_teardown(test_listener_down_at_start, limited_start,
                                                limited_stop),
        };
        return cmocka_run_group_tests_name("multi-daemon", tests, NULL, NULL);
}
