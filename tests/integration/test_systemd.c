/* SPDX-License-Identifier: MIT */
/*
 * Integration: the daemon as a systemd service — socket activation (through
 * systemd-socket-activate and through LISTEN_FDS with two sockets), and the
 * sd_notify protocol on a NOTIFY_SOCKET this suite owns: READY=1, STATUS=,
 * WATCHDOG=1 that stops while the database is wedged by a lock held here
 * and resumes after, RELOADING=1/READY=1 around SIGHUP, STOPPING=1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* The watchdog interval given to the daemon: pings every 200 ms. */
#define TEST_WATCHDOG_USEC "400000"

/* GET path until it answers (the activating wrapper may not listen yet);
 * returns the status of the first answer. */
static long first_answer(const struct daemon *d, const char *path)
{
        struct harness_deadline dl = harness_deadline_in(10000);

        do {
                struct http_result r;
                if (http_get(d, path, NULL, &r) == 0) {
                        long st = r.status;
                        http_result_free(&r);
                        return st;
                }
        } while (harness_pause(&dl));
        return -1;
}

static void assert_comm_is_daemon(const struct daemon *d)
{
        char name[64];

        assert_int_equal(harness_proc_status(d, "Name", name, sizeof(name)), 0);
        /* The wrapper exec'd the daemon in place: same pid. */
        assert_string_equal(name, "verstak-sync-se");
}

/* Start the daemon behind systemd-socket-activate listening on spec: an
 * address, or with is_unix a socket of that name under d->root.  The
 * daemon itself starts on the first connection.  d->base_url (and
 * d->http_unix_socket) point at the socket. */
static void start_activated(struct daemon *d, const char *spec, bool is_unix)
{
        static char listen[PATH_MAX + 16];
        const char *const wrapper[] = {"systemd-socket-activate", "-l", listen, NULL};
        struct daemon_options o = {.wrapper = wrapper, .external_listener = true, .no_wait = true};

        if (!harness_have_program("systemd-socket-activate"))
                skip();
        assert_int_equal(harness_prepare(d, &o), 0);
        if (is_unix) {
                snprintf(listen, sizeof(listen), "%.4000s/%s", d->root, spec);
                snprintf(d->base_url, sizeof(d->base_url), "http://localhost");
                snprintf(d->http_unix_socket, sizeof(d->http_unix_socket), "%.4000s", listen);
        } else {
                snprintf(listen, sizeof(listen), "%s", spec);
                snprintf(d->base_url, sizeof(d->base_url), "http://%.48s", spec);
        }
        assert_int_equal(harness_start(d, &o), 0);
}

static void test_activate_tcp(void **state)
{
        struct daemon d = {0};
        char listen[48];
        int port = harness_free_port();
        (void)state;

        assert_true(port > 0);
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
        start_activated(&d, listen, false);

        /* The first connection starts the daemon, and is served by it. */
        assert_int_equal(first_answer(&d, "/api/v1/health"), 200);
        assert_comm_is_daemon(&d);
        assert_true(harness_wait_log(&d, "(socket activation)", 3000));

        int status = 0;
        assert_int_equal(harness_stop(&d, SIGTERM, 25, &status), 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        harness_destroy(&d);
}

static void test_activate_ipv6(void **state)
{
        struct daemon d = {0};
        char listen[48];
        int port = harness_free_port();
        (void)state;

        /* Skip where the machine has no IPv6 loopback. */
        int probe = socket(AF_INET6, SOCK_STREAM, 0);
        struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
        if (probe < 0 || bind(probe, (struct sockaddr *)&sin6, sizeof(sin6)) < 0) {
                if (probe >= 0)
                        close(probe);
                skip();
        }
        close(probe);

        snprintf(listen, sizeof(listen), "[::1]:%d", port);
        start_activated(&d, listen, false);
        assert_int_equal(first_answer(&d, "/livez"), 200);
        assert_true(harness_wait_log(&d, "serving on [::1]:", 3000));
        harness_destroy(&d);
}

static void test_activate_unix(void **state)
{
        struct daemon d = {0};
        (void)state;

        start_activated(&d, "api.sock", true);
        assert_int_equal(first_answer(&d, "/livez"), 200);
        assert_comm_is_daemon(&d);
        assert_true(harness_wait_log(&d, "serving on unix:", 3000));
        harness_destroy(&d);
}

/* Two sockets from LISTEN_FDS (TCP and unix) are both served, and the
 * configured listen address is not bound in addition. */
static void test_two_listeners(void **state)
{
        struct daemon d = {0};
        struct http_result r;
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sin);
        char addr[48];
        (void)state;

        /* Hold a listening socket on the --listen address: were the daemon
         * to bind it as well, it would fail to start. */
        int held = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(held >= 0);
        assert_int_equal(bind(held, (struct sockaddr *)&sin, sizeof(sin)), 0);
        assert_int_equal(listen(held, 1), 0);
        assert_int_equal(getsockname(held, (struct sockaddr *)&sin, &len), 0);
        snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
        const char *const args[] = {"--listen", addr, NULL};
        struct daemon_options o = {.second_listener = true, .extra_args = args};
        assert_int_equal(harness_start(&d, &o), 0);

        assert_int_equal(http_get(&d, "/livez", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_result_free(&r);

        snprintf(d.http_unix_socket, sizeof(d.http_unix_socket), "%s", d.second_socket);
        assert_int_equal(http_get(&d, "/api/v1/health", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        d.http_unix_socket[0] = '\0';

        assert_true(harness_wait_log(&d, "serving on 127.0.0.1:", 3000));
        assert_true(harness_log_contains(&d, ", unix:"));
        assert_false(harness_log_contains(&d, "Cannot listen"));
        harness_destroy(&d);
        close(held);
}

/* --- sd_notify ------------------------------------------------------------ */

/* Position of the first line starting with prefix in log, or -1. */
static long line_pos(const char *log, const char *prefix)
{
        size_t plen = strlen(prefix);

        for (const char *p = log; p && *p;) {
                if (strncmp(p, prefix, plen) == 0)
                        return p - log;
                p = strchr(p, '\n');
                if (p)
                        p++;
        }
        return -1;
}

static void test_notify_and_watchdog(void **state)
{
        struct daemon d = {0};
        static char log[65536];
        (void)state;

        const char *const env[] = {"WATCHDOG_USEC=" TEST_WATCHDOG_USEC, NULL};
        struct daemon_options o = {.extra_env = env, .notify = true};
        assert_int_equal(harness_start(&d, &o), 0);

        /* READY=1 and STATUS=, then pings (three within a generous bound). */
        log[0] = '\0';
        int pings = harness_notify_read(&d, 15000, NULL, "WATCHDOG=1", 3, log, sizeof(log));
        long ready = line_pos(log, "READY=1"), status = line_pos(log, "STATUS=Serving: ");
        if (ready < 0 || status < 0 || pings < 3)
                fail_msg("notifications so far (%d pings):\n%s", pings, log);
        long first_ping = line_pos(log, "WATCHDOG=1");
        assert_true(first_ping > ready);

        /* Wedge the store: another connection holds the write lock.  The
         * daemon says so in a STATUS= (a ping already on its way may come
         * before it), and sends no ping while the lock is held. */
        struct harness_db_lock lock;
        assert_int_equal(harness_db_lock_take(&d, &lock), 0);
        log[0] = '\0';
        (void)harness_notify_read(&d, 15000, "STATUS=Database not answering", NULL, 0, log,
                                  sizeof(log));
        if (line_pos(log, "STATUS=Database not answering") < 0)
                fail_msg("no withheld status while the database was locked:\n%s", log);
        assert_true(harness_wait_log(&d, "withholding watchdog pings", 5000));
        log[0] = '\0';
        /* Many retry periods (40 ms each) without a ping. */
        pings = harness_notify_read(&d, 1000, NULL, "WATCHDOG=1", 0, log, sizeof(log));
        if (pings != 0)
                fail_msg("%d watchdog pings while the database was locked:\n%s", pings, log);
        /* Health still answers (reads do not need the write lock). */
        struct http_result r;
        assert_int_equal(http_get(&d, "/livez", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_result_free(&r);

        /* Release: pings resume. */
        assert_int_equal(harness_db_lock_release(&lock), 0);
        pings = harness_notify_read(&d, 15000, NULL, "WATCHDOG=1", 2, NULL, 0);
        if (pings < 2)
                fail_msg("watchdog pings did not resume (%d)", pings);
        assert_true(harness_wait_log(&d, "watchdog pings resumed", 5000));

        /* SIGHUP: RELOADING=1, then READY=1 again. */
        log[0] = '\0';
        kill(d.pid, SIGHUP);
        (void)harness_notify_read(&d, 15000, "READY=1", NULL, 0, log, sizeof(log));
        long reloading = line_pos(log, "RELOADING=1");
        if (reloading < 0 || line_pos(log, "MONOTONIC_USEC=") < 0 ||
            line_pos(log, "READY=1") < reloading)
                fail_msg("reload notifications:\n%s", log);

        /* SIGTERM: STOPPING=1, then a clean exit. */
        log[0] = '\0';
        kill(d.pid, SIGTERM);
        (void)harness_notify_read(&d, 15000, "STOPPING=1", NULL, 0, log, sizeof(log));
        if (line_pos(log, "STOPPING=1") < 0)
                fail_msg("no STOPPING=1:\n%s", log);
        int st = 0;
        assert_int_equal(harness_wait(&d, 25, &st), 0);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
        harness_destroy(&d);
}

/* Reload re-reads the log level: debug records appear only after it. */
/* Replace the daemon's config.yml with yaml, send SIGHUP and wait for
 * expect in its log. */
static void reload_with(const struct daemon *d, const char *yaml, const char *expect)
{
        char cfg[PATH_MAX + 16];

        snprintf(cfg, sizeof(cfg), "%s/config.yml", d->data_dir);
        FILE *f = fopen(cfg, "w");
        assert_non_null(f);
        fputs(yaml, f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(kill(d->pid, SIGHUP), 0);
        if (!harness_wait_log(d, expect, 3000))
                fail_msg("no '%s' after SIGHUP", expect);
}

static void test_reload_log_level(void **state)
{
        struct daemon d = {0};
        struct http_result r;
        (void)state;

        struct daemon_options o = {.config_yaml = "server:\n  log_level: notice\n"};
        assert_int_equal(harness_start(&d, &o), 0);
        assert_int_equal(http_get(&d, "/livez", NULL, &r), 0);
        http_result_free(&r);
        assert_false(harness_log_contains(&d, "GET /livez 200"));

        reload_with(&d, "server:\n  log_level: info\n", "Configuration reloaded");
        assert_int_equal(http_get(&d, "/livez", NULL, &r), 0);
        http_result_free(&r);
        assert_true(harness_wait_log(&d, "GET /livez 200", 3000));

        /* An invalid file keeps the running configuration. */
        reload_with(&d, "server:\n  log_level: loud\n", "keeping the running configuration");
        assert_int_equal(http_get(&d, "/livez", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        harness_destroy(&d);
}

/* With JOURNAL_STREAM naming its stderr the daemon would write to the
 * journal; without journald's socket (as on this machine) records must
 * still reach stderr instead of being dropped by sd_journal_send(), and
 * the path of the access log carries no query string. */
static void test_journal_stream_without_journald(void **state)
{
        struct daemon d = {0};
        struct stat st;
        static char env[64];
        struct http_result r;
        (void)state;

        if (access("/run/systemd/journal/socket", F_OK) == 0)
                skip(); /* a real journal would take the records */
        assert_int_equal(harness_prepare(&d, NULL), 0);
        FILE *f = fopen(d.log_path, "w");
        assert_non_null(f);
        fclose(f);
        assert_int_equal(stat(d.log_path, &st), 0);
        snprintf(env, sizeof(env), "JOURNAL_STREAM=%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino);
        const char *const envs[] = {env, NULL};
        struct daemon_options o = {.extra_env = envs};
        assert_int_equal(harness_start(&d, &o), 0);
        harness_note_secret("query-secret-1");
        assert_int_equal(http_get(&d, "/api/v1/health?token=query-secret-1", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_result_free(&r);
        assert_true(harness_wait_log(&d, "HTTP_PATH=/api/v1/health HTTP_STATUS=200", 3000));
        assert_false(harness_log_contains(&d, "query-secret-1"));
        int status = 0;
        assert_int_equal(harness_stop(&d, SIGTERM, 25, &status), 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_true(harness_log_contains(&d, "verstak-sync-server stopped"));
        harness_destroy(&d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_activate_tcp),
                cmocka_unit_test(test_activate_ipv6),
                cmocka_unit_test(test_activate_unix),
                cmocka_unit_test(test_two_listeners),
                cmocka_unit_test(test_notify_and_watchdog),
                cmocka_unit_test(test_reload_log_level),
                cmocka_unit_test(test_journal_stream_without_journald),
        };
        return cmocka_run_group_tests_name("systemd", tests, NULL, NULL);
}
