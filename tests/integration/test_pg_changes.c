/* SPDX-License-Identifier: MIT */
/*
 * store/pg/pg_changes against a real PostgreSQL (VERSTAK_TEST_PG_URL, set
 * by tests/integration/with-postgresql.sh, which starts a throwaway
 * cluster): a push committed on one connection reaches every listener
 * with its scope and sequence, a rolled-back one reaches none, odd ids
 * survive the payload, a payload of the sequence alone (a scope too long
 * to send) wakes everyone, a listener whose server process is terminated comes
 * back and reports what it missed, and a listener that cannot connect at
 * all still reports pushes through the high-water check.  Then the whole
 * path of a long poll on one daemon woken by a push through another: the
 * long-poll table fed by api/longpoll_remote, with the HTTP layer's
 * suspend/resume replaced at link time (-Wl,--wrap) to record the wake-up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/longpoll.h"
#include "api/longpoll_remote.h"
#include "harness.h"
#include "store/pg/pg_changes.h"
#include "util/clock.h"

/* A suspended request and whether it was resumed. */
struct test_req {
        struct http_request req;
        atomic_int resumed;
};

int __wrap_http_request_suspend(struct http_request *req, http_handler_fn resume_handler);
void __wrap_http_request_resume(struct http_request *req);

int __wrap_http_request_suspend(struct http_request *req, http_handler_fn resume_handler)
{
        (void)req;
        (void)resume_handler;
        return 0;
}

void __wrap_http_request_resume(struct http_request *req)
{
        struct test_req *t = (struct test_req *)((char *)req - offsetof(struct test_req, req));
        atomic_fetch_add(&t->resumed, 1);
}

static int resume_handler(struct http_request *req)
{
        (void)req;
        return 0;
}

static const char *url;
static PGconn *db; /* the "pushing daemon" */
/* The high-water reader's own connection: the long-poll thread calls it
 * too, and a libpq connection serves one thread at a time. */
static PGconn *hwm_db;
static pthread_mutex_t hwm_lock = PTHREAD_MUTEX_INITIALIZER;
static char table[64]; /* this run's stand-in for the operations table */

static void exec_ok(const char *sql)
{
        PGresult *res = PQexec(db, sql);
        ExecStatusType st = PQresultStatus(res);

        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
                fail_msg("%s: %s", sql, PQerrorMessage(db));
        PQclear(res);
}

/* The high-water mark as a store would read it. */
static int read_hwm(void *userdata, int64_t *ret)
{
        char sql[128];
        PGresult *res;
        int r = -EIO;
        (void)userdata;

        snprintf(sql, sizeof(sql), "SELECT coalesce(max(seq), 0) FROM %s", table);
        pthread_mutex_lock(&hwm_lock);
        res = PQexec(hwm_db, sql);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
                *ret = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
                r = 0;
        }
        PQclear(res);
        pthread_mutex_unlock(&hwm_lock);
        return r;
}

/* A push: the operation row and the notification in one transaction,
 * committed or rolled back. */
static void push(const char *user_id, const char *vault_id, int64_t seq, bool commit)
{
        char sql[160], payload[1024];
        const char *params[] = {payload};
        PGresult *res;

        assert_int_equal(pg_changes_payload(payload, sizeof(payload), user_id, vault_id, seq), 0);
        exec_ok("BEGIN");
        snprintf(sql, sizeof(sql), "INSERT INTO %s VALUES (%lld)", table, (long long)seq);
        exec_ok(sql);
        res = PQexecParams(db, pg_changes_notify_sql(), 1, NULL, params, NULL, NULL, 0);
        assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
        PQclear(res);
        exec_ok(commit ? "COMMIT" : "ROLLBACK");
}

/* Wait (bounded) until c reports a change or "all"; the batch is left in
 * *out for the caller to check. */
static void wait_change(struct pg_changes *c, struct pg_changes_batch *out, bool *lost,
                        bool *restored)
{
        struct harness_deadline dl = harness_deadline_in(20000);

        do {
                pg_changes_batch_done(out);
                assert_int_equal(pg_changes_wait(c, 200, out), 0);
                if (lost)
                        *lost |= out->lost;
                if (restored)
                        *restored |= out->restored;
                if (out->n > 0 || out->all)
                        return;
        } while (harness_pause(&dl));
        fail_msg("no change reported");
}

static int group_setup(void **state)
{
        char sql[128];
        (void)state;

        url = getenv("VERSTAK_TEST_PG_URL");
        if (!url)
                return -1;
        db = PQconnectdb(url);
        hwm_db = PQconnectdb(url);
        if (PQstatus(db) != CONNECTION_OK || PQstatus(hwm_db) != CONNECTION_OK) {
                fprintf(stderr, "%s: %s", url, PQerrorMessage(db));
                return -1;
        }
        snprintf(table, sizeof(table), "pg_changes_test_%ld", (long)getpid());
        snprintf(sql, sizeof(sql), "CREATE TABLE %s (seq bigint NOT NULL)", table);
        exec_ok(sql);
        return 0;
}

static int group_teardown(void **state)
{
        char sql[128];
        (void)state;

        snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", table);
        exec_ok(sql);
        PQfinish(db);
        PQfinish(hwm_db);
        return 0;
}

static void test_push_reaches_every_listener(void **state)
{
        struct pg_changes *a = NULL, *b = NULL;
        struct pg_changes_batch out = {0};
        (void)state;

        assert_int_equal(pg_changes_new(url, read_hwm, NULL, &a), 0);
        assert_int_equal(pg_changes_new(url, read_hwm, NULL, &b), 0);
        push("u-1", "notes", 5, true);
        struct pg_changes *both[] = {a, b};
        for (size_t i = 0; i < 2; i++) {
                wait_change(both[i], &out, NULL, NULL);
                assert_false(out.all);
                assert_int_equal(out.n, 1);
                assert_int_equal(out.items[0].seq, 5);
                assert_string_equal(out.items[0].user_id, "u-1");
                assert_string_equal(out.items[0].vault_id, "notes");
                pg_changes_batch_done(&out);
        }
        pg_changes_free(a);
        pg_changes_free(b);
}

/* Notifications are delivered in commit order, so the first one after a
 * rolled-back push is the next committed push. */
static void test_rollback_not_delivered(void **state)
{
        struct pg_changes *a = NULL;
        struct pg_changes_batch out = {0};
        (void)state;

        assert_int_equal(pg_changes_new(url, read_hwm, NULL, &a), 0);
        push("u-1", "notes", 7, false);
        push("u-2", "diary", 8, true);
        wait_change(a, &out, NULL, NULL);
        assert_false(out.all);
        assert_int_equal(out.items[0].seq, 8);
        assert_string_equal(out.items[0].user_id, "u-2");
        pg_changes_batch_done(&out);
        pg_changes_free(a);
}

static void test_odd_ids_survive(void **state)
{
        static const char vault[] = "  a vault\twith \"quotes\", 'ticks', \\ and ёлка ";
        static const char user[] = "12 34 ";
        struct pg_changes *a = NULL;
        struct pg_changes_batch out = {0};
        char small[8];
        (void)state;

        assert_int_equal(pg_changes_payload(small, sizeof(small), user, vault, 9), -ENOBUFS);
        assert_int_equal(pg_changes_new(url, read_hwm, NULL, &a), 0);
        push(user, vault, 9, true);
        wait_change(a, &out, NULL, NULL);
        assert_int_equal(out.items[0].seq, 9);
        assert_string_equal(out.items[0].user_id, user);
        assert_string_equal(out.items[0].vault_id, vault);
        pg_changes_batch_done(&out);
        pg_changes_free(a);
}

static bool backend_gone(int pid)
{
        char sql[128];
        PGresult *res;
        bool gone;

        snprintf(sql, sizeof(sql), "SELECT 1 FROM pg_stat_activity WHERE pid = %d", pid);
        res = PQexec(db, sql);
        gone = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0;
        PQclear(res);
        return gone;
}

/* The listener's server process dies; a push commits while no one
 * listens.  The listener notices, reconnects, and reports "all" from the
 * high-water check, without the lost notification. */
/* A push whose scope does not fit a payload announces its sequence alone:
 * every listener reports "all" up to it. */
static void test_scope_unknown_wakes_all(void **state)
{
        const char *params[] = {"77"};
        struct pg_changes *a = NULL;
        struct pg_changes_batch out = {0};
        PGresult *res;
        (void)state;

        assert_int_equal(pg_changes_new(url, read_hwm, NULL, &a), 0);
        res = PQexecParams(db, pg_changes_notify_sql(), 1, NULL, params, NULL, NULL, 0);
        assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
        PQclear(res);
        wait_change(a, &out, NULL, NULL);
        assert_true(out.all);
        assert_int_equal(out.n, 0);
        assert_true(out.all_seq >= 77);
        pg_changes_batch_done(&out);
        pg_changes_free(a);
}

static void test_reconnect_reports_missed(void **state)
{
        struct pg_changes *a = NULL;
        struct pg_changes_batch out = {0};
        bool lost = false, restored = false;
        char sql[128];
        int pid;
        (void)state;

        assert_int_equal(pg_changes_new(url, read_hwm, NULL, &a), 0);
        pid = pg_changes_backend_pid(a);
        assert_true(pid > 0);
        snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", pid);
        exec_ok(sql);
        struct harness_deadline dl = harness_deadline_in(15000);
        while (!backend_gone(pid) && harness_pause(&dl))
                ;
        assert_true(backend_gone(pid));
        push("u-3", "lost", 20, true);

        wait_change(a, &out, &lost, &restored);
        assert_true(lost);
        assert_true(restored);
        assert_true(out.all);
        assert_int_equal(out.n, 0);
        assert_true(pg_changes_connected(a));
        assert_int_not_equal(pg_changes_backend_pid(a), pid);
        pg_changes_batch_done(&out);

        /* Listening again: the next push arrives as a notification. */
        push("u-3", "lost", 21, true);
        wait_change(a, &out, NULL, NULL);
        assert_false(out.all);
        assert_int_equal(out.items[0].seq, 21);
        pg_changes_batch_done(&out);
        pg_changes_free(a);
}

/* No listening connection at all (nothing answers on its address): pushes
 * are still reported, by the periodic high-water check. */
static void test_fallback_while_disconnected(void **state)
{
        struct pg_changes *a = NULL;
        struct pg_changes_batch out = {0};
        (void)state;

        assert_int_equal(pg_changes_new("postgresql://127.0.0.1:1/none?connect_timeout=2", read_hwm,
                                        NULL, &a),
                         -ECONNREFUSED);
        assert_non_null(a);
        assert_false(pg_changes_connected(a));
        /* Nothing new: only timeouts. */
        assert_int_equal(pg_changes_wait(a, 50, &out), 0);
        assert_false(out.all);
        push("u-4", "offline", 30, true);
        wait_change(a, &out, NULL, NULL);
        assert_true(out.all);
        assert_int_equal(out.n, 0);
        assert_false(pg_changes_connected(a));
        pg_changes_batch_done(&out);
        pg_changes_free(a);
}

static bool resumed(struct test_req *t)
{
        return atomic_load(&t->resumed) > 0;
}

/* Daemon B waits in scope (u-6, shared) with the snapshot it read; daemon
 * A commits a push there: B's waiter wakes, one in another scope does
 * not.  Then a push commits unheard and B's notifications break: the
 * reconnect's high-water check wakes every waiter. */
static void test_longpoll_woken_across_daemons(void **state)
{
        struct pg_changes *c = NULL;
        struct longpoll *lp = NULL;
        struct longpoll_remote *remote = NULL;
        struct test_req mine = {0}, other = {0}, later = {0};
        uint64_t far = clock_now_usec() + 3600ull * 1000000u;
        int64_t snapshot;
        char sql[128];
        int pid;
        (void)state;

        assert_int_equal(pg_changes_new(url, read_hwm, NULL, &c), 0);
        assert_int_equal(longpoll_new(&lp), 0);
        assert_int_equal(longpoll_remote_start(lp, c, &remote), 0);
        assert_int_equal(read_hwm(NULL, &snapshot), 0);
        assert_int_equal(longpoll_wait(lp, &mine.req, "u-6", "shared", "dev-b", snapshot, far,
                                       resume_handler),
                         1);
        assert_int_equal(longpoll_wait(lp, &other.req, "u-7", "shared", "dev-c", snapshot, far,
                                       resume_handler),
                         1);
        push("u-6", "shared", snapshot + 1, true);
        struct harness_deadline dl = harness_deadline_in(20000);
        while (!resumed(&mine) && harness_pause(&dl))
                ;
        assert_true(resumed(&mine));
        assert_false(resumed(&other));

        /* An unheard push: it commits with no notification (as if it
         * had been lost), and only then the listener's server process is
         * ended, so however soon the listener reconnects, its high-water
         * check after the reconnect finds the sequence it never heard. */
        assert_int_equal(read_hwm(NULL, &snapshot), 0);
        assert_int_equal(longpoll_wait(lp, &later.req, "u-8", "elsewhere", "dev-d", snapshot, far,
                                       resume_handler),
                         1);
        snprintf(sql, sizeof(sql), "INSERT INTO %s VALUES (%lld)", table,
                 (long long)(snapshot + 1));
        exec_ok(sql);
        pid = pg_changes_backend_pid(c);
        assert_true(pid > 0);
        snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", pid);
        exec_ok(sql);
        dl = harness_deadline_in(15000);
        while (!backend_gone(pid) && harness_pause(&dl))
                ;
        dl = harness_deadline_in(20000);
        while (!(resumed(&other) && resumed(&later)) && harness_pause(&dl))
                ;
        assert_true(resumed(&other));
        assert_true(resumed(&later));

        longpoll_remote_stop(remote);
        longpoll_free(lp);
        pg_changes_free(c);
}

static void test_bad_conninfo(void **state)
{
        struct pg_changes *a = NULL;
        (void)state;

        assert_int_equal(pg_changes_new("postgresql://x/y?nosuch=1", read_hwm, NULL, &a), -EINVAL);
        assert_null(a);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_push_reaches_every_listener),
                cmocka_unit_test(test_rollback_not_delivered),
                cmocka_unit_test(test_odd_ids_survive),
                cmocka_unit_test(test_scope_unknown_wakes_all),
                cmocka_unit_test(test_reconnect_reports_missed),
                cmocka_unit_test(test_fallback_while_disconnected),
                cmocka_unit_test(test_longpoll_woken_across_daemons),
                cmocka_unit_test(test_bad_conninfo),
        };
        if (!getenv("VERSTAK_TEST_PG_URL")) {
                fprintf(stderr, "VERSTAK_TEST_PG_URL not set (run through with-postgresql.sh)\n");
                return 77;
        }
        return cmocka_run_group_tests_name("pg-changes", tests, group_setup, group_teardown);
}
