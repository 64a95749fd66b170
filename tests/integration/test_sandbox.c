/* SPDX-License-Identifier: MIT */
/*
 * Integration: the daemon's lock-down, seen from outside.  Privilege drop
 * when started as root (uid/gid/groups/capabilities from /proc, data
 * directory handed over, still serving), refusal of an unknown user,
 * --allow-root, a start as an ordinary user; the seccomp filter active for
 * the whole process, and forbidden system calls (execve, an AF_INET socket)
 * killing it with SIGSYS, triggered through a test-only LD_PRELOAD probe.
 *
 * Creates the system user verstak-test when it does not exist (tests run
 * as root).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define TEST_USER "verstak-test"

static const char *probe_path(void)
{
        const char *p = getenv("VERSTAK_SECCOMP_PROBE");
        return p ? p : "./libseccomp-probe.so";
}

/* The test user's passwd entry, created on first use. */
static const struct passwd *test_user(void)
{
        static struct passwd copy;
        struct passwd *pw = getpwnam(TEST_USER);

        if (!pw) {
                const char *const argv[] = {
                        "useradd",           "--system",     "--no-create-home", "--shell",
                        "/usr/sbin/nologin", "--user-group", TEST_USER,          NULL};
                assert_int_equal(harness_run(argv), 0);
                pw = getpwnam(TEST_USER);
        }
        assert_non_null(pw);
        copy = *pw;
        return &copy;
}

static void expect_status(const struct daemon *d, const char *key, const char *value)
{
        char v[256];

        assert_int_equal(harness_proc_status(d, key, v, sizeof(v)), 0);
        if (strcmp(v, value) != 0)
                fail_msg("/proc/%d/status %s: '%s', expected '%s'", (int)d->pid, key, v, value);
}

static void expect_ids(const struct daemon *d, const char *key, unsigned id)
{
        char want[128];

        snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", id, id, id, id);
        expect_status(d, key, want);
}

static void expect_health_ok(const struct daemon *d)
{
        struct http_result r;

        assert_int_equal(http_get(d, "/api/v1/health", NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_true(json_is_true(json_object_get(r.json, "database_reachable")));
        assert_true(json_is_true(json_object_get(r.json, "blob_storage_writable")));
        http_result_free(&r);
}

static void expect_owner(const char *path, uid_t uid, gid_t gid)
{
        struct stat st;

        assert_int_equal(lstat(path, &st), 0);
        if (st.st_uid != uid || st.st_gid != gid)
                fail_msg("%s is owned by %u:%u, expected %u:%u", path, (unsigned)st.st_uid,
                         (unsigned)st.st_gid, (unsigned)uid, (unsigned)gid);
}

/* --- seccomp ------------------------------------------------------------ */

static void test_seccomp_active(void **state)
{
        struct daemon d;
        (void)state;

        assert_int_equal(harness_start(&d, NULL), 0);
        expect_status(&d, "Seccomp", "2");
        expect_status(&d, "NoNewPrivs", "1");
        expect_health_ok(&d);
        int status = 0;
        assert_int_equal(harness_stop(&d, SIGTERM, 25, &status), 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        harness_destroy(&d);
}

/* Start the daemon with the probe preloaded, send sig, return the wait
 * status. */
static int probe_with_signal(const char *const *extra_args, int sig)
{
        struct daemon d;
        static char preload[PATH_MAX + 16];
        int status = 0;

        snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", probe_path());
        /* Sanitizer builds insist on their runtime coming first. */
        const char *const env[] = {preload, "ASAN_OPTIONS=verify_asan_link_order=0", NULL};
        struct daemon_options o = {.extra_env = env, .extra_args = extra_args};
        assert_int_equal(harness_start(&d, &o), 0);
        expect_health_ok(&d);
        assert_int_equal(kill(d.pid, sig), 0);
        assert_int_equal(harness_wait(&d, 20, &status), 0);
        harness_destroy(&d);
        return status;
}

static void test_seccomp_kills_execve(void **state)
{
        (void)state;
        int status = probe_with_signal(NULL, SIGUSR2);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
                fail_msg("expected death by SIGSYS, got wait status 0x%x", (unsigned)status);
}

static void test_seccomp_kills_inet_socket(void **state)
{
        (void)state;
        int status = probe_with_signal(NULL, SIGUSR1);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
                fail_msg("expected death by SIGSYS, got wait status 0x%x", (unsigned)status);
}

/* --no-seccomp warns and leaves the filter off: the same probe now gets
 * its socket (exit 98), which shows the probe itself works. */
static void test_no_seccomp(void **state)
{
        struct daemon d;
        const char *const args[] = {"--no-seccomp", NULL};
        struct daemon_options o = {.extra_args = args};
        (void)state;

        assert_int_equal(harness_start(&d, &o), 0);
        expect_status(&d, "Seccomp", "0");
        expect_status(&d, "NoNewPrivs", "1");
        assert_true(harness_log_contains(&d, "WITHOUT the system call filter"));
        harness_destroy(&d);

        int status = probe_with_signal(args, SIGUSR1);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 98);
}

/* --- privileges ------------------------------------------------------------ */

static void test_drop_to_user(void **state)
{
        if (geteuid() != 0)
                skip();
        const struct passwd *pw = test_user();
        struct daemon d;
        char path[PATH_MAX + 64], outside[PATH_MAX + 64];
        (void)state;

        struct daemon_options o = {.config_yaml = "server:\n  user: " TEST_USER "\n",
                                   .drop_root = true};
        assert_int_equal(harness_prepare(&d, &o), 0);
        /* The dropped user must be able to reach its data directory. */
        assert_int_equal(chmod(d.root, 0755), 0);
        /* A file outside, linked into the data directory twice: neither
         * the symlink's nor the hard link's target may change owner. */
        snprintf(outside, sizeof(outside), "%s/outside", d.root);
        FILE *f = fopen(outside, "w");
        assert_non_null(f);
        fclose(f);
        snprintf(path, sizeof(path), "%s/symlink", d.data_dir);
        assert_int_equal(symlink(outside, path), 0);
        snprintf(path, sizeof(path), "%s/hardlink", d.data_dir);
        assert_int_equal(link(outside, path), 0);

        assert_int_equal(harness_start(&d, &o), 0);
        expect_ids(&d, "Uid", (unsigned)pw->pw_uid);
        expect_ids(&d, "Gid", (unsigned)pw->pw_gid);
        expect_status(&d, "Groups", "");
        /* No capability left: root cannot be regained. */
        expect_status(&d, "CapPrm", "0000000000000000");
        expect_status(&d, "CapEff", "0000000000000000");
        expect_status(&d, "CapAmb", "0000000000000000");
        expect_status(&d, "Seccomp", "2");
        assert_true(harness_wait_log(&d, "Dropped privileges to user '" TEST_USER "'", 3000));
        assert_true(harness_log_contains(&d, "root cannot be regained"));

        /* Still serving, and the data directory belongs to the user now. */
        expect_health_ok(&d);
        expect_owner(d.data_dir, pw->pw_uid, pw->pw_gid);
        snprintf(path, sizeof(path), "%s/server.db", d.data_dir);
        expect_owner(path, pw->pw_uid, pw->pw_gid);
        snprintf(path, sizeof(path), "%s/config.yml", d.data_dir);
        expect_owner(path, pw->pw_uid, pw->pw_gid);
        snprintf(path, sizeof(path), "%s/blobs", d.data_dir);
        expect_owner(path, pw->pw_uid, pw->pw_gid);
        expect_owner(outside, 0, 0);

        /* A clean stop: the user may remove SQLite's -wal and -shm. */
        int status = 0;
        assert_int_equal(harness_stop(&d, SIGTERM, 25, &status), 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        snprintf(path, sizeof(path), "%s/server.db-wal", d.data_dir);
        assert_int_equal(access(path, F_OK), -1);
        harness_destroy(&d);
}

/* Started as root with config yaml, the daemon refuses to start (exit 2)
 * and logs message. */
static void expect_refused(const char *yaml, const char *message)
{
        struct daemon d;
        struct daemon_options o = {.config_yaml = yaml, .drop_root = true, .no_wait = true};
        int status = 0;

        assert_int_equal(harness_start(&d, &o), 0);
        assert_int_equal(harness_wait(&d, 20, &status), 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 2);
        if (!harness_log_contains(&d, message))
                fail_msg("log does not say: %s", message);
        /* Nothing was created before the refusal. */
        char db[PATH_MAX + 16];
        snprintf(db, sizeof(db), "%s/server.db", d.data_dir);
        assert_int_equal(access(db, F_OK), -1);
        harness_destroy(&d);
}

static void test_unknown_user(void **state)
{
        (void)state;
        if (geteuid() != 0)
                skip();
        (void)test_user();
        expect_refused("server:\n  user: no-such-user-vst\n",
                       "server.user: no such user 'no-such-user-vst'");
        expect_refused("server:\n  user: " TEST_USER "\n  group: no-such-group-vst\n",
                       "server.group: no such group 'no-such-group-vst'");
}

static void test_root_user_refused(void **state)
{
        (void)state;
        if (geteuid() != 0)
                skip();
        expect_refused("server:\n  user: root\n", "server.user: 'root' is root");
}

static void test_allow_root(void **state)
{
        struct daemon d;
        (void)state;

        if (geteuid() != 0)
                skip();
        assert_int_equal(harness_start(&d, NULL), 0); /* passes --allow-root */
        expect_ids(&d, "Uid", 0);
        assert_true(harness_log_contains(&d, "Running as root because of --allow-root"));
        harness_destroy(&d);
}

/* Started as an ordinary user there is nothing to drop. */
static void test_start_unprivileged(void **state)
{
        if (geteuid() != 0 || !harness_have_program("setpriv"))
                skip();
        const struct passwd *pw = test_user();
        struct daemon d;
        char uid[32], gid[32];
        (void)state;

        snprintf(uid, sizeof(uid), "--reuid=%u", (unsigned)pw->pw_uid);
        snprintf(gid, sizeof(gid), "--regid=%u", (unsigned)pw->pw_gid);
        const char *const wrapper[] = {"setpriv", uid, gid, "--clear-groups", NULL};
        struct daemon_options o = {.wrapper = wrapper, .drop_root = true};
        assert_int_equal(harness_prepare(&d, &o), 0);
        assert_int_equal(chmod(d.root, 0755), 0);
        assert_int_equal(chown(d.data_dir, pw->pw_uid, pw->pw_gid), 0);
        assert_int_equal(harness_start(&d, &o), 0);
        expect_ids(&d, "Uid", (unsigned)pw->pw_uid);
        expect_status(&d, "Seccomp", "2");
        expect_health_ok(&d);
        assert_false(harness_log_contains(&d, "Dropped privileges"));
        harness_destroy(&d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_seccomp_active),
                cmocka_unit_test(test_seccomp_kills_execve),
                cmocka_unit_test(test_seccomp_kills_inet_socket),
                cmocka_unit_test(test_no_seccomp),
                cmocka_unit_test(test_drop_to_user),
                cmocka_unit_test(test_unknown_user),
                cmocka_unit_test(test_root_user_refused),
                cmocka_unit_test(test_allow_root),
                cmocka_unit_test(test_start_unprivileged),
        };
        return cmocka_run_group_tests_name("sandbox", tests, NULL, NULL);
}
