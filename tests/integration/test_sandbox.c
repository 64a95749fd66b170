/* SPDX-License-Identifier: MIT */
/*
 * Integration: the daemon's lock-down, seen from outside.  Privilege drop
 * when started as root (uid/gid/groups/capabilities from /proc, data
 * directory handed over, still serving), refusal of an unknown user,
 * --allow-root, a start as an ordinary user; the seccomp filter active for
 * the whole process, and forbidden system calls (execve, an AF_INET socket)
 * killing it with SIGSYS, triggered through a test-only LD_PRELOAD probe.
 *
 * The hand-run root start with its mail helper: after start-up nothing
 * runs as root, and an account that rewrites the configuration and kills
 * the helper gains nothing.
 *
 * Creates the system users verstak-test and verstak-mail when they do not
 * exist (tests run as root).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <pthread.h>
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
        struct passwd *pw;
        uid_t uid;
        gid_t gid;

        assert_int_equal(harness_system_user(TEST_USER, &uid, &gid), 0);
        pw = getpwnam(TEST_USER);
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
        struct daemon d = {0};
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

/* Whether process pid has a mapping of a file whose name contains name. */
static bool maps_file(pid_t pid, const char *name)
{
        char path[64], line[1024];
        bool found = false;

        snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        while (!found && fgets(line, sizeof(line), f))
                found = strstr(line, name) != NULL;
        fclose(f);
        return found;
}

/* libpq (and OpenSSL, Kerberos and LDAP behind it) is loaded only by a
 * daemon whose database is PostgreSQL (util/pq_dl.h). */
static void test_libpq_only_for_postgresql(void **state)
{
        struct daemon d = {0};
        (void)state;

        assert_int_equal(harness_start(&d, NULL), 0);
        expect_health_ok(&d);
        assert_true(maps_file(d.pid, "libsqlite3.so"));
        if (harness_on_pg())
                assert_true(maps_file(d.pid, "libpq.so.5"));
        else
                assert_false(maps_file(d.pid, "libpq.so"));
        harness_destroy(&d);
}

/* Start the daemon with the probe preloaded, send sig, return the wait
 * status. */
static int probe_with_signal(const char *const *extra_args, int sig)
{
        struct daemon d = {0};
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

/* Run by hand on SQLite the daemon has no use for connect(): a stream to a local
 * service (the system bus) is refused by the filter. */
static void test_seccomp_kills_unix_connect(void **state)
{
        (void)state;
        int status = probe_with_signal(NULL, SIGXCPU);
        if (harness_on_pg()) {
                /* A daemon on PostgreSQL connects to its unix socket:
                 * connect() is allowed, a socket of any other family is
                 * not (test_seccomp_kills_inet_socket). */
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 95)
                        fail_msg("expected the connect to go through, got wait status 0x%x",
                                 (unsigned)status);
                return;
        }
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
                fail_msg("expected death by SIGSYS, got wait status 0x%x", (unsigned)status);
}

static void test_seccomp_kills_exec_mapping(void **state)
{
        (void)state;
        int status = probe_with_signal(NULL, SIGPWR);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
                fail_msg("expected death by SIGSYS, got wait status 0x%x", (unsigned)status);
}

/* --no-seccomp warns and leaves the filter off: the same probe now gets
 * its socket (exit 98), which shows the probe itself works. */
static void test_no_seccomp(void **state)
{
        struct daemon d = {0};
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

/* One of several clients asking at once with an unknown token: each
 * request reads the database on a pooled reader. */
struct reader_client {
        const struct daemon *d;
        int unauthorized;
};

#define READER_CLIENTS  8
#define READER_REQUESTS 40

static void *unknown_token_client(void *arg)
{
        struct reader_client *c = arg;

        for (int i = 0; i < READER_REQUESTS; i++) {
                struct http_result r;
                if (http_post_json(
                            c->d, "/api/v1/sync/pull",
                            "0000000000000000000000000000000000000000000000000000000000000000",
                            "{\"since_sequence\":0}", &r) == 0 &&
                    r.status == 401)
                        c->unauthorized++;
                http_result_free(&r);
        }
        return NULL;
}

static void test_drop_to_user(void **state)
{
        if (geteuid() != 0)
                skip();
        const struct passwd *pw = test_user();
        struct daemon d = {0};
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
        /* Concurrent reads: readers beyond the first are opened now, by
         * the user and inside the sandbox (store_reader_take()). */
        struct reader_client clients[READER_CLIENTS];
        pthread_t th[READER_CLIENTS];
        for (int i = 0; i < READER_CLIENTS; i++) {
                clients[i] = (struct reader_client){&d, 0};
                assert_int_equal(pthread_create(&th[i], NULL, unknown_token_client, &clients[i]),
                                 0);
        }
        for (int i = 0; i < READER_CLIENTS; i++) {
                harness_join(th[i], 60000);
                assert_int_equal(clients[i].unauthorized, READER_REQUESTS);
        }
        expect_status(&d, "Seccomp", "2");
        expect_health_ok(&d);
        expect_owner(d.data_dir, pw->pw_uid, pw->pw_gid);
        snprintf(path, sizeof(path), "%s/server.db", d.data_dir);
        if (!harness_on_pg()) /* else the database is PostgreSQL's */
                expect_owner(path, pw->pw_uid, pw->pw_gid);
        /* The configuration stays root's: readable, not writable. */
        snprintf(path, sizeof(path), "%s/config.yml", d.data_dir);
        expect_owner(path, 0, pw->pw_gid);
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
        struct daemon d = {0};
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
        struct daemon d = {0};
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
        struct daemon d = {0};
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

/* --- the hand-run root start and its mail helper ---------------------------- */

/* The parent of pid, from /proc, or 0 when it is gone. */
static pid_t parent_of(pid_t pid)
{
        char path[64], line[512];
        int ppid = 0;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        f = fopen(path, "r");
        if (!f)
                return 0;
        if (fgets(line, sizeof(line), f)) {
                const char *close_paren = strrchr(line, ')');
                if (close_paren)
                        (void)sscanf(close_paren + 2, "%*c %d", &ppid);
        }
        fclose(f);
        return ppid;
}

/* The pids of every descendant of pid (children first found in /proc). */
static int descendants(pid_t pid, pid_t *out, int max)
{
        int n = 0;

        for (int i = -1; i < n; i++) {
                pid_t parent = i < 0 ? pid : out[i];
                DIR *dir = opendir("/proc");
                struct dirent *de;

                assert_non_null(dir);
                while ((de = readdir(dir))) {
                        int child = atoi(de->d_name);

                        if (child > 0 && n < max && parent_of(child) == parent)
                                out[n++] = child;
                }
                closedir(dir);
        }
        return n;
}

/* The real, effective, saved and file-system uids of pid, none of them 0. */
static void expect_not_root(pid_t pid)
{
        char path[64], line[256];
        unsigned ids[4];
        bool found = false;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        f = fopen(path, "r");
        if (!f)
                return; /* gone in between */
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "Uid: %u %u %u %u", &ids[0], &ids[1], &ids[2], &ids[3]) == 4) {
                        found = true;
                        break;
                }
        fclose(f);
        assert_true(found);
        for (int i = 0; i < 4; i++)
                if (ids[i] == 0)
                        fail_msg("process %d still runs as root (Uid: %u %u %u %u)", (int)pid,
                                 ids[0], ids[1], ids[2], ids[3]);
}

/* Replace path with text as uid:gid (the daemon's account at work). */
static void write_as(uid_t uid, gid_t gid, const char *path, const char *text)
{
        char tmp[PATH_MAX + 64];
        int status = 0;
        pid_t pid;

        snprintf(tmp, sizeof(tmp), "%s.new", path);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
                    setresuid(uid, uid, uid) < 0)
                        _exit(2);
                int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
                    close(fd) < 0 || rename(tmp, path) < 0)
                        _exit(3);
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

#define ROOT_SECRET "root-only-secret-5f1c9a"

static void test_hand_run_root_mailer(void **state)
{
        if (geteuid() != 0)
                skip();
        const struct passwd *pw = test_user();
        struct harness_sink sink = HARNESS_SINK_INIT;
        uid_t mail_uid;
        gid_t mail_gid;
        struct daemon d = {0};
        struct http_result r;
        char secret[PATH_MAX + 32], rootonly[PATH_MAX + 32], evil[PATH_MAX + 64];
        char sink_dir[PATH_MAX + 32], config[PATH_MAX + 32], *text = NULL, *msg;
        pid_t procs[16];
        int n;
        (void)state;

        assert_int_equal(harness_system_user("verstak-mail", &mail_uid, &mail_gid), 0);
        struct daemon_options o = {.config_yaml = "server:\n  user: " TEST_USER "\n",
                                   .drop_root = true};
        assert_int_equal(harness_prepare(&d, &o), 0);
        assert_int_equal(chmod(d.root, 0755), 0);
        /* A file only root may read, and a directory only root may change. */
        snprintf(secret, sizeof(secret), "%s/root-only", d.root);
        int fd = open(secret, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, ROOT_SECRET "\n", strlen(ROOT_SECRET) + 1),
                         (ssize_t)strlen(ROOT_SECRET) + 1);
        close(fd);
        harness_note_secret(ROOT_SECRET);
        snprintf(rootonly, sizeof(rootonly), "%s/root-dir", d.root);
        assert_int_equal(mkdir(rootonly, 0755), 0);
        snprintf(evil, sizeof(evil), "%s/new-outbox", rootonly);
        /* An SMTP server that would accept the secret as the password. */
        snprintf(sink_dir, sizeof(sink_dir), "%s/sink", d.root);
        assert_int_equal(mkdir(sink_dir, 0755), 0);
        const char *const auth[] = {"--auth", "mailer:" ROOT_SECRET, NULL};
        assert_int_equal(harness_sink_start(&sink, sink_dir, auth), 0);

        assert_int_equal(harness_start(&d, &o), 0);
        assert_true(harness_wait_log(&d, "Dropped privileges to user '" TEST_USER "'", 5000));
        n = descendants(d.pid, procs, 16);
        assert_true(n >= 2); /* the supervisor and its first helper */

        /* The daemon's account rewrites the configuration ... */
        assert_true(asprintf(&text,
                             "server:\n  user: root\n"
                             "smtp:\n  host: 127.0.0.1\n  port: %d\n  security: none\n"
                             "  username: mailer\n  password_file: %s\n  outbox_dir: %s\n",
                             sink.port, secret, evil) > 0);
        snprintf(config, sizeof(config), "%s/config.yml", d.data_dir);
        write_as(pw->pw_uid, pw->pw_gid, config, text);
        free(text);
        /* ... the helper dies ... */
        for (int i = 0; i < n; i++)
                if (parent_of(procs[i]) != d.pid)
                        assert_int_equal(kill(procs[i], SIGKILL), 0);
        /* ... and an e-mail is due. */
        http_call(&d, "POST", "/api/v1/auth/register", NULL, "application/json",
                  "{\"username\":\"rootcheck\",\"email\":\"rootcheck@example.org\","
                  "\"password\":\"correct horse 7\"}",
                  NULL, &r);
        assert_int_equal(r.status, 200);
        http_result_free(&r);

        /* The restarted helper used what root read at start: the outbox. */
        msg = harness_outbox_take(&d, "rootcheck@example.org", 10000);
        assert_non_null(msg);
        free(msg);
        /* Nothing reached the SMTP server, no directory appeared. */
        char *eml = NULL, *json = NULL;
        assert_int_equal(harness_sink_next(&sink, 0, &eml, &json), -ENOENT);
        assert_int_equal(access(evil, F_OK), -1);
        expect_owner(rootonly, 0, 0);

        /* Nothing of the server or the mailer runs as root. */
        expect_not_root(d.pid);
        n = descendants(d.pid, procs, 16);
        assert_true(n >= 2);
        for (int i = 0; i < n; i++) {
                expect_not_root(procs[i]);
                char path[64], line[256];
                snprintf(path, sizeof(path), "/proc/%d/status", (int)procs[i]);
                FILE *f = fopen(path, "r");
                if (!f)
                        continue;
                while (fgets(line, sizeof(line), f)) {
                        unsigned uid;
                        if (sscanf(line, "Uid: %u", &uid) == 1)
                                assert_int_equal(uid, (unsigned)mail_uid);
                }
                fclose(f);
        }
        harness_sink_stop(&sink);
        harness_destroy(&d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_seccomp_active),
                cmocka_unit_test(test_libpq_only_for_postgresql),
                cmocka_unit_test(test_seccomp_kills_execve),
                cmocka_unit_test(test_seccomp_kills_inet_socket),
                cmocka_unit_test(test_seccomp_kills_unix_connect),
                cmocka_unit_test(test_seccomp_kills_exec_mapping),
                cmocka_unit_test(test_no_seccomp),
                cmocka_unit_test(test_drop_to_user),
                cmocka_unit_test(test_unknown_user),
                cmocka_unit_test(test_root_user_refused),
                cmocka_unit_test(test_allow_root),
                cmocka_unit_test(test_start_unprivileged),
                cmocka_unit_test(test_hand_run_root_mailer),
        };
        return cmocka_run_group_tests_name("sandbox", tests, NULL, NULL);
}
