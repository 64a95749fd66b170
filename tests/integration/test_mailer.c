/* SPDX-License-Identifier: MIT */
/*
 * Integration: the real verstak-sync-mailer binary, driven through the
 * daemon's mail_client and, for what the client would never send, through
 * the raw protocol.  Outbox files; delivery to a real SMTP server on
 * loopback (aiosmtpd, tests/integration/smtp_sink.py) with and without
 * AUTH; STARTTLS-required and TLS refusals; header injection refused by the
 * helper itself; restart after kill -9; the helper's own seccomp filter;
 * socket activation; no secrets in the helper's log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "mail_check.h"
#include "mailer/mail_channel.h"
#include "mailer/mail_client.h"
#include "mailer/mail_proto.h"

#define SINK_USER     "sink-user"
#define SINK_PASSWORD "sink-Pa55-word"
#define SENDER        "noreply@verstak.example"

/* The body of every test message holds this link, which must survive. */
#define LINK "https://sync.example.org/api/v1/auth/confirm?token=0123456789abcdef"

static const char subject_ru[] = "Подтверждение регистрации на сервере синхронизации Verstak";
static const char body_ru[] = "Здравствуйте!\n\nПодтвердите адрес: " LINK "\n\n-- \nVerstak\n";

static char root[PATH_MAX];

static struct harness_sink sink = HARNESS_SINK_INIT;

/* --- small helpers ---------------------------------------------------------- */

/* Processes a test starts by hand: the per-test teardown kills those still
 * running, so a failed assertion leaves no helper or server behind. */
static pid_t tracked[8];

static void track(pid_t pid)
{
        for (size_t i = 0; i < sizeof(tracked) / sizeof(tracked[0]); i++)
                if (tracked[i] <= 0) {
                        tracked[i] = pid;
                        return;
                }
        fail_msg("too many processes to track");
}

static void untrack(pid_t pid)
{
        for (size_t i = 0; i < sizeof(tracked) / sizeof(tracked[0]); i++)
                if (tracked[i] == pid)
                        tracked[i] = 0;
}

static int kill_tracked(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(tracked) / sizeof(tracked[0]); i++)
                if (tracked[i] > 0) {
                        kill(tracked[i], SIGKILL);
                        waitpid(tracked[i], NULL, 0);
                        tracked[i] = 0;
                }
        return 0;
}

static const char *mailer_bin(void)
{
        const char *p = getenv("VERSTAK_MAILER_BIN");
        return p ? p : "./verstak-sync-mailer";
}

static const char *python_bin(void)
{
        const char *p = getenv("VERSTAK_TEST_PYTHON");
        return p ? p : "/usr/bin/python3";
}

static void write_text(const char *path, const char *text, mode_t mode)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

/* out = a "/" b; fails the test when it does not fit. */
static void path_join(char *out, size_t size, const char *a, const char *b)
{
        int n = snprintf(out, size, "%s/%s", a, b);

        assert_true(n > 0 && (size_t)n < size);
}

/* A test's own directory with data/ and config.yml.  smtp_lines are extra
 * lines for the smtp: section. */
struct setup {
        char dir[PATH_MAX];
        char data[PATH_MAX];
        char outbox[PATH_MAX];
        char config[PATH_MAX];
};

static void setup_make(struct setup *s, const char *name, const char *smtp_lines)
{
        char text[2048];

        path_join(s->dir, sizeof(s->dir), root, name);
        path_join(s->data, sizeof(s->data), s->dir, "data");
        path_join(s->outbox, sizeof(s->outbox), s->data, "outbox");
        path_join(s->config, sizeof(s->config), s->dir, "config.yml");
        assert_int_equal(mkdir(s->dir, 0755), 0);
        assert_int_equal(mkdir(s->data, 0750), 0);
        /* As root the helper becomes verstak-mail, whatever server.user
         * says. */
        snprintf(text, sizeof(text),
                 "server:\n  user: nobody\nsmtp:\n  from: " SENDER "\n  timeout_seconds: 10\n%s",
                 smtp_lines ? smtp_lines : "");
        write_text(s->config, text, 0640);
}

/* Names of the .eml files in dir (sorted); dot files are counted apart. */
static int list_eml(const char *dir, char names[][128], int max, int *ret_hidden)
{
        struct dirent **list = NULL;
        int n = scandir(dir, &list, NULL, alphasort), count = 0;

        if (ret_hidden)
                *ret_hidden = 0;
        for (int i = 0; i < n; i++) {
                const char *name = list[i]->d_name;
                size_t len = strlen(name);
                if (name[0] == '.') {
                        if (ret_hidden && strcmp(name, ".") != 0 && strcmp(name, "..") != 0)
                                (*ret_hidden)++;
                } else if (len > 4 && strcmp(name + len - 4, ".eml") == 0 && count < max)
                        snprintf(names[count++], 128, "%.120s", name);
                free(list[i]);
        }
        free(list);
        return n < 0 ? -errno : count;
}

/* Whether pid is gone (not even a zombie of someone else's). */
static bool wait_gone(pid_t pid, int timeout_ms)
{
        struct harness_deadline dl = harness_deadline_in(timeout_ms);

        do {
                if (kill(pid, 0) < 0 && errno == ESRCH)
                        return true;
        } while (harness_pause(&dl));
        return false;
}

/* The value of a "Key:" line of /proc/PID/status, tabs stripped. */
static bool proc_status(pid_t pid, const char *key, char *out, size_t size)
{
        char path[64], line[256];
        FILE *f;
        bool found = false;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return false;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':') {
                        char *v = line + strlen(key) + 1;
                        v += strspn(v, " \t");
                        size_t n = strlen(v);
                        while (n > 0 && (v[n - 1] == '\n' || v[n - 1] == ' '))
                                v[--n] = '\0';
                        snprintf(out, size, "%s", v);
                        found = true;
                        break;
                }
        fclose(f);
        return found;
}

/* The checks every delivered or written message must pass. */
static void assert_message(const char *msg, const char *to)
{
        const char *body;
        char *headers = mail_check_split(msg, &body), *v, *subject;

        mail_check_crlf_only(msg);
        mail_check_lines_within(headers, 78);
        mail_check_header_equal(headers, "From", SENDER);
        mail_check_header_equal(headers, "To", to);
        mail_check_header_equal(headers, "MIME-Version", "1.0");
        mail_check_header_equal(headers, "Content-Type", "text/plain; charset=UTF-8");
        mail_check_header_equal(headers, "Content-Transfer-Encoding", "8bit");
        v = mail_check_header(headers, "Subject");
        assert_non_null(v);
        subject = mail_check_decode_words(v);
        assert_string_equal(subject, subject_ru);
        free(subject);
        free(v);
        v = mail_check_header(headers, "Date");
        assert_non_null(v);
        assert_int_equal(strlen(v), strlen("Thu, 01 Jan 1970 00:00:00 +0000"));
        assert_string_equal(v + 25, " +0000");
        free(v);
        v = mail_check_header(headers, "Message-ID");
        assert_non_null(v);
        assert_non_null(strstr(v, "@verstak.example>"));
        free(v);
        assert_null(mail_check_header(headers, "Bcc"));
        assert_non_null(strstr(body, "Подтвердите адрес: " LINK "\r\n"));
        free(headers);
}

/* --- the SMTP sink -------------------------------------------------------- */

/* Start smtp_sink.py on dir with extra arguments; a failed test's
 * teardown stops it. */
static int sink_start(struct harness_sink *s, const char *dir, const char *const *extra)
{
        int r = harness_sink_start(s, dir, extra);

        if (s->pid > 0)
                track(s->pid);
        return r;
}

static void sink_stop(struct harness_sink *s)
{
        if (s->pid > 0)
                untrack(s->pid);
        harness_sink_stop(s);
}

/* The next message the sink received: N.eml and N.json. */
static void sink_next(struct harness_sink *s, char **ret_eml, char **ret_json)
{
        if (harness_sink_next(s, 0, ret_eml, ret_json) < 0)
                fail_msg("the SMTP server has no message %d", s->count + 1);
}

/* That nothing more arrived.  Called after the mail helper answered: the
 * sink stores a message before it accepts it (250), so a delivery the
 * helper made is on disk by then. */
static void sink_assert_nothing_new(const struct harness_sink *s)
{
        char path[PATH_MAX + 32];

        snprintf(path, sizeof(path), "%s/%d.eml", s->dir, s->count + 1);
        assert_int_equal(access(path, F_OK), -1);
}

static char *smtp_lines(const struct harness_sink *s, const char *security, bool auth,
                        const char *password_file)
{
        char *text = NULL;

        assert_true(asprintf(&text, "  host: 127.0.0.1\n  port: %d\n  security: %s\n%s%s%s%s",
                             s->port, security, auth ? "  username: " SINK_USER "\n" : "",
                             password_file ? "  password_file: " : "",
                             password_file ? password_file : "", password_file ? "\n" : "") >= 0);
        return text;
}

/* The mail helper's account when the tests run as root. */
static uid_t mail_uid;
static gid_t mail_gid;

/* --- group set-up ---------------------------------------------------------- */

static int group_setup(void **state)
{
        const char *tmp = getenv("TMPDIR");
        static const char *const auth[] = {"--auth", SINK_USER ":" SINK_PASSWORD, NULL};
        char dir[PATH_MAX + 16];
        (void)state;

        if (sodium_init() < 0)
                return -1;
        signal(SIGPIPE, SIG_IGN);
        snprintf(root, sizeof(root), "%s/verstak-mailer-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(root))
                return -1;
        /* The helper's own account (the package creates it). */
        if (geteuid() == 0 && harness_system_user("verstak-mail", &mail_uid, &mail_gid) < 0)
                return -1;
        /* Let the tests' tools reach the outboxes. */
        if (chmod(root, 0755) < 0)
                return -1;
        path_join(dir, sizeof(dir), root, "sink");
        if (mkdir(dir, 0755) < 0)
                return -1;
        if (sink_start(&sink, dir, auth) < 0) {
                fprintf(stderr, "cannot start the SMTP sink (%s with aiosmtpd)\n", python_bin());
                return -1;
        }
        untrack(sink.pid); /* shared by every test, stopped by the group */
        return 0;
}

static int group_teardown(void **state)
{
        const char *argv[] = {"rm", "-rf", root, NULL};
        pid_t pid;
        (void)state;

        sink_stop(&sink);
        if (getenv("VERSTAK_TEST_KEEP"))
                return 0;
        pid = fork();
        if (pid == 0) {
                execvp(argv[0], (char *const *)argv);
                _exit(127);
        }
        if (pid > 0)
                waitpid(pid, NULL, 0);
        return 0;
}

/* --- outbox, restart, seccomp ------------------------------------------------ */

static void test_outbox_delivery(void **state)
{
        struct setup s;
        struct mail_client *c = NULL;
        char err[256] = "", names[4][128], path[PATH_MAX + 200];
        struct stat st;
        int hidden;
        (void)state;

        setup_make(&s, "outbox", NULL);
        assert_int_equal(mail_client_new_spawn(mailer_bin(), s.config, s.data, &c), 0);
        assert_int_equal(
                mail_client_send(c, "alice@example.org", subject_ru, body_ru, err, sizeof(err)), 0);
        assert_string_equal(err, "");

        /* Exactly one complete file, no temporary left behind. */
        assert_int_equal(list_eml(s.outbox, names, 4, &hidden), 1);
        assert_int_equal(hidden, 0);
        assert_int_equal(strlen(names[0]), strlen("20260102T030405.123456Z-0123456789abcdef.eml"));
        snprintf(path, sizeof(path), "%s/%s", s.outbox, names[0]);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);
        if (geteuid() == 0)
                assert_int_equal(st.st_uid, mail_uid); /* written by verstak-mail */
        char *msg = harness_read_file(path);
        assert_message(msg, "alice@example.org");
        free(msg);

        /* A second message: a second file, ordered after the first. */
        assert_int_equal(
                mail_client_send(c, "bob@example.net", subject_ru, body_ru, err, sizeof(err)), 0);
        assert_int_equal(list_eml(s.outbox, names, 4, &hidden), 2);
        snprintf(path, sizeof(path), "%s/%s", s.outbox, names[1]);
        msg = harness_read_file(path);
        assert_message(msg, "bob@example.net");
        free(msg);
        mail_client_free(c);
}

static void test_helper_is_sandboxed(void **state)
{
        struct setup s;
        struct mail_client *c = NULL;
        char v[64];
        pid_t pid;
        (void)state;

        setup_make(&s, "sandbox", NULL);
        assert_int_equal(mail_client_new_spawn(mailer_bin(), s.config, s.data, &c), 0);
        pid = mail_client_helper_pid(c);
        assert_true(pid > 0);
        assert_true(pid != getpid());
        assert_true(proc_status(pid, "Seccomp", v, sizeof(v)));
        assert_string_equal(v, "2"); /* SECCOMP_MODE_FILTER */
        assert_true(proc_status(pid, "NoNewPrivs", v, sizeof(v)));
        assert_string_equal(v, "1");
        if (geteuid() == 0) {
                assert_true(proc_status(pid, "Uid", v, sizeof(v)));
                char want[64];
                snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", (unsigned)mail_uid,
                         (unsigned)mail_uid, (unsigned)mail_uid, (unsigned)mail_uid);
                assert_string_equal(v, want);
                assert_true(proc_status(pid, "Groups", v, sizeof(v)));
                snprintf(want, sizeof(want), "%u", (unsigned)mail_gid);
                assert_string_equal(v, want);
        }
        assert_true(proc_status(pid, "CapEff", v, sizeof(v)));
        assert_string_equal(v, "0000000000000000");
        /* The supervisor, which forks the helpers, has a filter too. */
        pid_t sup = mail_client_supervisor_pid(c);
        assert_true(sup > 0);
        assert_true(proc_status(sup, "Seccomp", v, sizeof(v)));
        assert_string_equal(v, "2");
        mail_client_free(c);
        /* Freeing the client ends the helper. */
        assert_true(wait_gone(pid, 5000));
}

/* The helper asked (by the test-only probe, preloaded) to map executable
 * memory: with its filter it dies before the call returns; without it the
 * probe leaves its mark, which shows the probe works. */
static bool helper_maps_exec(const char *name, const char *const *extra)
{
        struct setup s;
        struct mail_client *c = NULL;
        char mark[PATH_MAX + 32], preload[PATH_MAX + 16];
        const char *probe = getenv("VERSTAK_SECCOMP_PROBE");
        pid_t pid;

        if (!probe)
                skip();
        setup_make(&s, name, NULL);
        /* Where the helper's account may leave the mark. */
        path_join(mark, sizeof(mark), s.dir, "marks");
        assert_int_equal(mkdir(mark, 0700), 0);
        assert_int_equal(chmod(mark, 01777), 0);
        path_join(mark, sizeof(mark), s.dir, "marks/mark");
        snprintf(preload, sizeof(preload), "%s", probe);
        assert_int_equal(setenv("LD_PRELOAD", preload, 1), 0);
        assert_int_equal(setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1), 0);
        assert_int_equal(setenv("VERSTAK_PROBE_MARK", mark, 1), 0);
        int r = mail_client_new_spawn_argv(mailer_bin(), s.config, s.data, extra, &c);
        unsetenv("LD_PRELOAD");
        unsetenv("VERSTAK_PROBE_MARK");
        assert_int_equal(r, 0);
        pid = mail_client_helper_pid(c);
        assert_true(pid > 0);
        assert_int_equal(kill(pid, SIGPWR), 0);
        assert_true(wait_gone(pid, 5000));
        mail_client_free(c);
        return access(mark, F_OK) == 0;
}

static void test_helper_no_exec_memory(void **state)
{
        static const char *const no_filter[] = {"--no-seccomp", NULL};
        (void)state;

        assert_false(helper_maps_exec("exec-memory", NULL));
        assert_true(helper_maps_exec("exec-memory-unfiltered", no_filter));
}

/* A helper that keeps dying is restarted at most MAILER_SPAWN_BURST (10)
 * times a minute: then the supervisor refuses, instead of forking on. */
static void test_restart_rate_limited(void **state)
{
        struct setup s;
        struct mail_client *c = NULL;
        char err[256] = "";
        int sent = 0, r = 0;
        (void)state;

        setup_make(&s, "respawn-limit", NULL);
        assert_int_equal(mail_client_new_spawn(mailer_bin(), s.config, s.data, &c), 0);
        for (int i = 0; i < 15; i++) {
                pid_t pid = mail_client_helper_pid(c);
                assert_true(pid > 0);
                assert_int_equal(kill(pid, SIGKILL), 0);
                assert_true(wait_gone(pid, 5000));
                r = mail_client_send(c, "alice@example.org", subject_ru, body_ru, err, sizeof(err));
                if (r < 0)
                        break;
                sent++;
        }
        /* The first helper and nine restarts; the tenth restart is refused. */
        assert_int_equal(sent, 9);
        assert_int_equal(r, -ECHILD);
        mail_client_free(c);
}

static void test_restart_after_kill(void **state)
{
        struct setup s;
        struct mail_client *c = NULL;
        char err[256] = "", names[4][128];
        pid_t first, second;
        (void)state;

        setup_make(&s, "restart", NULL);
        assert_int_equal(mail_client_new_spawn(mailer_bin(), s.config, s.data, &c), 0);
        assert_int_equal(
                mail_client_send(c, "alice@example.org", subject_ru, body_ru, err, sizeof(err)), 0);
        first = mail_client_helper_pid(c);
        assert_true(first > 0);
        assert_int_equal(kill(first, SIGKILL), 0);
        assert_true(wait_gone(first, 5000));

        assert_int_equal(
                mail_client_send(c, "bob@example.net", subject_ru, body_ru, err, sizeof(err)), 0);
        second = mail_client_helper_pid(c);
        assert_true(second > 0);
        assert_int_not_equal(second, first);
        assert_int_equal(list_eml(s.outbox, names, 4, NULL), 2);

        /* And again, killed while idle between two sends. */
        assert_int_equal(kill(second, SIGKILL), 0);
        assert_true(wait_gone(second, 5000));
        assert_int_equal(
                mail_client_send(c, "carol@example.com", subject_ru, body_ru, err, sizeof(err)), 0);
        assert_int_equal(list_eml(s.outbox, names, 4, NULL), 3);
        mail_client_free(c);
}

#define SENDERS          4
#define SENDS_PER_THREAD 5

static void *send_many(void *arg)
{
        struct mail_client *c = arg;
        char err[256];
        long failures = 0;

        for (int i = 0; i < SENDS_PER_THREAD; i++)
                if (mail_client_send(c, "alice@example.org", subject_ru, body_ru, err,
                                     sizeof(err)) < 0)
                        failures++;
        return (void *)failures;
}

static void test_concurrent_sends(void **state)
{
        struct setup s;
        struct mail_client *c = NULL;
        pthread_t threads[SENDERS];
        char names[SENDERS * SENDS_PER_THREAD + 1][128];
        (void)state;

        setup_make(&s, "concurrent", NULL);
        assert_int_equal(mail_client_new_spawn(mailer_bin(), s.config, s.data, &c), 0);
        for (int i = 0; i < SENDERS; i++)
                assert_int_equal(pthread_create(&threads[i], NULL, send_many, c), 0);
        for (int i = 0; i < SENDERS; i++) {
                void *failures;
                assert_int_equal(pthread_join(threads[i], &failures), 0);
                assert_null(failures);
        }
        assert_int_equal(list_eml(s.outbox, names, SENDERS * SENDS_PER_THREAD + 1, NULL),
                         SENDERS * SENDS_PER_THREAD);
        mail_client_free(c);
}

static void test_invalid_config_reported(void **state)
{
        struct setup s;
        struct mail_client *c = NULL;
        (void)state;

        setup_make(&s, "badconfig", "  security: sometimes\n");
        assert_int_equal(mail_client_new_spawn(mailer_bin(), s.config, s.data, &c), -ECHILD);
        assert_null(c);
        assert_int_equal(
                mail_client_new_spawn("/nonexistent/verstak-sync-mailer", s.config, s.data, &c),
                -ECHILD);
}

/* Started as root, the mailer refuses what another account could have
 * arranged: a configuration it does not own alone, an outbox reached
 * through a symbolic link, root as its target account. */
static void test_root_start_refuses_untrusted(void **state)
{
        static const char *const as_root[] = {"--user", "root", NULL};
        struct setup s;
        struct mail_client *c = NULL;
        char target[PATH_MAX + 16], link[PATH_MAX + 16], lines[PATH_MAX + 64],
                created[PATH_MAX + 32];
        (void)state;

        if (geteuid() != 0)
                skip();
        /* A configuration the daemon's account could rewrite. */
        setup_make(&s, "untrusted-owner", NULL);
        assert_int_equal(chown(s.config, mail_uid, mail_gid), 0);
        assert_int_equal(mail_client_new_spawn(mailer_bin(), s.config, s.data, &c), -ECHILD);
        assert_int_equal(chown(s.config, 0, 0), 0);
        assert_int_equal(chmod(s.config, 0664), 0);
        assert_int_equal(mail_client_new_spawn(mailer_bin(), s.config, s.data, &c), -ECHILD);
        assert_int_equal(chmod(s.config, 0640), 0);
        assert_int_equal(access(s.outbox, F_OK), -1); /* nothing was created */

        /* An outbox behind a symbolic link: nothing is created or chowned
         * where it points. */
        path_join(target, sizeof(target), root, "link-target");
        assert_int_equal(mkdir(target, 0755), 0);
        path_join(link, sizeof(link), root, "link");
        assert_int_equal(symlink(target, link), 0);
        snprintf(lines, sizeof(lines), "  outbox_dir: %s/outbox\n", link);
        struct setup s2;
        setup_make(&s2, "symlinked-outbox", lines);
        assert_int_equal(mail_client_new_spawn(mailer_bin(), s2.config, s2.data, &c), -ECHILD);
        path_join(created, sizeof(created), target, "outbox");
        assert_int_equal(access(created, F_OK), -1);
        struct stat st;
        assert_int_equal(stat(target, &st), 0);
        assert_int_equal(st.st_uid, 0);

        /* Root is not an account to become. */
        struct setup s3;
        setup_make(&s3, "root-user", NULL);
        assert_int_equal(mail_client_new_spawn_argv(mailer_bin(), s3.config, s3.data, as_root, &c),
                         -ECHILD);
        assert_null(c);
}

static void test_client_refuses_line_breaks(void **state)
{
        struct setup s;
        struct mail_client *c = NULL;
        char err[256] = "", names[2][128];
        (void)state;

        setup_make(&s, "clientcrlf", NULL);
        assert_int_equal(mail_client_new_spawn(mailer_bin(), s.config, s.data, &c), 0);
        assert_int_equal(mail_client_send(c, "alice@example.org\r\nBcc: evil@example.net", "s", "b",
                                          err, sizeof(err)),
                         -EINVAL);
        assert_true(err[0] != '\0');
        assert_int_equal(mail_client_send(c, "alice@example.org", "Hi\nBcc: evil@example.net", "b",
                                          err, sizeof(err)),
                         -EINVAL);
        /* The helper refuses what the client lets through. */
        assert_int_equal(mail_client_send(c, "not-an-address", "s", "b", err, sizeof(err)), -EIO);
        assert_string_equal(err, "invalid recipient address");
        assert_int_equal(mail_client_send(c, "alice@example.org", "bell\a", "b", err, sizeof(err)),
                         -EIO);
        assert_int_equal(list_eml(s.outbox, names, 2, NULL), 0);
        /* The channel is still good. */
        assert_int_equal(mail_client_send(c, "alice@example.org", "ok", "b", err, sizeof(err)), 0);
        assert_int_equal(list_eml(s.outbox, names, 2, NULL), 1);
        mail_client_free(c);
}

/* --- the raw protocol against the helper ------------------------------------- */

/* In a forked child: put fd on descriptor 3, inherited across exec. */
static void child_fd3(int fd)
{
        if (fd == 3) {
                if (fcntl(fd, F_SETFD, 0) < 0)
                        _exit(127);
        } else if (dup2(fd, 3) < 0)
                _exit(127);
}

struct raw_helper {
        pid_t pid;
        int fd;
};

/* Start the helper by hand, as the supervisor would, and read READY. */
static void raw_start(struct raw_helper *h, const struct setup *s)
{
        struct mail_frame f = {0};
        int pair[2];

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
        h->pid = fork();
        assert_true(h->pid >= 0);
        if (h->pid == 0) {
                child_fd3(pair[1]);
                execl(mailer_bin(), mailer_bin(), "--fd", "3", "--config", s->config, "--data",
                      s->data, (char *)NULL);
                _exit(127);
        }
        track(h->pid);
        close(pair[1]);
        h->fd = pair[0];
        assert_int_equal(mail_channel_read(h->fd, 10000, &f), 1);
        assert_int_equal(f.hdr.type, MAIL_MSG_READY);
        assert_int_equal(f.hdr.id, 0);
        mail_frame_done(&f);
}

/* Send a SEND frame straight from the encoder and read the RESULT. */
static bool raw_send(struct raw_helper *h, uint32_t id, const char *to, const char *subject,
                     const char *body, char *err, size_t err_size)
{
        struct mail_frame f = {0};
        struct mail_result res;
        uint8_t *frame;
        size_t len;
        bool ok;

        assert_int_equal(mail_proto_encode_send(id, to, subject, body, &frame, &len), 0);
        assert_int_equal(mail_channel_write(h->fd, frame, len, 5000), 0);
        free(frame);
        assert_int_equal(mail_channel_read(h->fd, 15000, &f), 1);
        assert_int_equal(f.hdr.type, MAIL_MSG_RESULT);
        assert_int_equal(f.hdr.id, id); /* replies match requests */
        assert_int_equal(mail_proto_decode_result(f.payload, f.hdr.payload_len, &res), 0);
        mail_frame_done(&f);
        ok = res.ok;
        snprintf(err, err_size, "%s", res.error ? res.error : "");
        mail_result_done(&res);
        return ok;
}

/* That the helper hung up and exited with status code.  Closing with our
 * bytes still unread, it may reset the connection rather than end it. */
static void raw_assert_hung_up(struct raw_helper *h, int code)
{
        struct mail_frame f = {0};
        int status, r;

        r = mail_channel_read(h->fd, 5000, &f);
        assert_true(r == 0 || r == -ECONNRESET);
        assert_int_equal(waitpid(h->pid, &status, 0), h->pid);
        untrack(h->pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), code);
        close(h->fd);
}

static void test_ipc_header_injection_refused(void **state)
{
        static const char *const bad_to[] = {
                "alice@example.org\r\nBcc: evil@example.net",
                "alice@example.org\nBcc: evil@example.net",
                "alice@example.org\rX: y",
                "Alice <alice@example.org>",
                "alice@example.org, evil@example.net",
        };
        static const char *const bad_subject[] = {
                "Hello\r\nBcc: evil@example.net",
                "Hello\nBcc: evil@example.net",
                "Hello\r\n\r\nfake body",
        };
        struct raw_helper h;
        struct setup s;
        char err[256], names[2][128];
        uint32_t id = 100;
        (void)state;

        setup_make(&s, "injection", NULL);
        raw_start(&h, &s);
        for (size_t i = 0; i < sizeof(bad_to) / sizeof(bad_to[0]); i++) {
                assert_false(raw_send(&h, id++, bad_to[i], "s", "b", err, sizeof(err)));
                assert_string_equal(err, "invalid recipient address");
        }
        for (size_t i = 0; i < sizeof(bad_subject) / sizeof(bad_subject[0]); i++) {
                assert_false(raw_send(&h, id++, "alice@example.org", bad_subject[i], "b", err,
                                      sizeof(err)));
                assert_non_null(strstr(err, "subject"));
        }
        assert_int_equal(list_eml(s.outbox, names, 2, NULL), 0);
        /* A fine request on the same connection still works. */
        assert_true(raw_send(&h, id++, "alice@example.org", subject_ru, body_ru, err, sizeof(err)));
        assert_int_equal(list_eml(s.outbox, names, 2, NULL), 1);
        close(h.fd);
        int status;
        assert_int_equal(waitpid(h.pid, &status, 0), h.pid);
        untrack(h.pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0); /* end of stream: a clean exit */
}

static void test_ipc_protocol_violations(void **state)
{
        struct raw_helper h;
        struct setup s;
        struct mail_frame f = {0};
        struct mail_result res;
        uint8_t *frame;
        size_t len;
        (void)state;

        setup_make(&s, "protocol", NULL);

        /* A type the helper must never receive: it hangs up. */
        raw_start(&h, &s);
        assert_int_equal(mail_proto_encode_result(1, true, NULL, &frame, &len), 0);
        assert_int_equal(mail_channel_write(h.fd, frame, len, 5000), 0);
        free(frame);
        raw_assert_hung_up(&h, 1);

        /* An unknown type, and another version. */
        for (int variant = 0; variant < 2; variant++) {
                raw_start(&h, &s);
                assert_int_equal(mail_proto_encode_send(2, "a@b.c", "s", "b", &frame, &len), 0);
                if (variant == 0)
                        frame[5] = 0x42;
                else
                        frame[4] = MAIL_PROTO_VERSION + 1;
                assert_int_equal(mail_channel_write(h.fd, frame, len, 5000), 0);
                free(frame);
                raw_assert_hung_up(&h, 1);
        }

        /* A malformed SEND gets a refusal for its id, then the helper hangs up. */
        raw_start(&h, &s);
        assert_int_equal(mail_proto_encode_send(3, "a@b.c", "s", "b", &frame, &len), 0);
        frame[len - 1] = ' '; /* '}' -> ' ': not JSON any more */
        assert_int_equal(mail_channel_write(h.fd, frame, len, 5000), 0);
        free(frame);
        assert_int_equal(mail_channel_read(h.fd, 5000, &f), 1);
        assert_int_equal(f.hdr.type, MAIL_MSG_RESULT);
        assert_int_equal(f.hdr.id, 3);
        assert_int_equal(mail_proto_decode_result(f.payload, f.hdr.payload_len, &res), 0);
        assert_false(res.ok);
        mail_result_done(&res);
        mail_frame_done(&f);
        raw_assert_hung_up(&h, 1);
}

/* --- SMTP ---------------------------------------------------------------------- */

/* Spawn a helper configured with smtp_lines (its log going to log_path
 * when given), have it deliver one message to the sink and check what
 * arrived.  Returns the sink's envelope record (JSON text); the client is
 * returned in *ret_client for more sends. */
static char *smtp_deliver_one(const char *name, const char *smtp_lines, const char *log_path,
                              struct mail_client **ret_client)
{
        struct setup s;
        struct mail_client *c = NULL;
        char err[256] = "", *eml, *json;
        int saved_stderr = -1, log_fd = -1, r;

        setup_make(&s, name, smtp_lines);
        if (log_path) {
                log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                assert_true(log_fd >= 0);
                saved_stderr = dup(STDERR_FILENO);
                dup2(log_fd, STDERR_FILENO);
        }
        r = mail_client_new_spawn(mailer_bin(), s.config, s.data, &c);
        if (log_path) {
                dup2(saved_stderr, STDERR_FILENO);
                close(saved_stderr);
                close(log_fd);
        }
        assert_int_equal(r, 0);
        assert_int_equal(
                mail_client_send(c, "alice@example.org", subject_ru, body_ru, err, sizeof(err)), 0);
        sink_next(&sink, &eml, &json);
        assert_message(eml, "alice@example.org");
        assert_non_null(strstr(json, "\"mail_from\": \"" SENDER "\""));
        assert_non_null(strstr(json, "\"rcpt_tos\": [\"alice@example.org\"]"));
        free(eml);
        /* No outbox when SMTP is configured. */
        assert_int_equal(access(s.outbox, F_OK), -1);
        *ret_client = c;
        return json;
}

static void test_smtp_plain_delivery(void **state)
{
        struct mail_client *c;
        char *lines = smtp_lines(&sink, "none", false, NULL);
        char *json = smtp_deliver_one("smtp-plain", lines, NULL, &c);
        (void)state;

        assert_non_null(strstr(json, "\"auth\": null"));
        free(json);
        free(lines);
        mail_client_free(c);
}

static void test_smtp_auth(void **state)
{
        struct mail_client *c;
        char err[256] = "", pw[PATH_MAX + 16], log_path[PATH_MAX + 16], *lines, *json, *log;
        (void)state;

        path_join(pw, sizeof(pw), root, "smtp-auth-password");
        write_text(pw, SINK_PASSWORD "\n", 0600);
        lines = smtp_lines(&sink, "none", true, pw);
        /* Capture what the supervisor and helpers log. */
        path_join(log_path, sizeof(log_path), root, "smtp-auth.log");
        json = smtp_deliver_one("smtp-auth", lines, log_path, &c);
        assert_non_null(strstr(json, "\"auth\": \"" SINK_USER "\""));
        free(json);
        free(lines);
        /* A refused recipient is logged too. */
        assert_int_equal(mail_client_send(c, "bad address", "s", "b", err, sizeof(err)), -EIO);
        mail_client_free(c);

        log = harness_read_file(log_path);
        assert_non_null(log);
        assert_non_null(strstr(log, "example.org")); /* the domain, and only that */
        assert_null(strstr(log, SINK_PASSWORD));
        assert_null(strstr(log, "alice"));
        assert_null(strstr(log, "token="));
        assert_null(strstr(log, "Подтвердите"));
        free(log);
}

/*
 * Configure a helper with smtp_lines, send one message and expect the
 * delivery to fail: -EIO, a reason that says so and names neither the
 * password nor the recipient, nothing received by sk (when given), and a
 * helper still alive under its filter.  Returns the reason.
 */
static void assert_smtp_refused(struct harness_sink *sk, const char *name, const char *smtp_lines,
                                char *err, size_t err_size)
{
        struct setup s;
        struct mail_client *c = NULL;
        char v[16];

        setup_make(&s, name, smtp_lines);
        assert_int_equal(mail_client_new_spawn(mailer_bin(), s.config, s.data, &c), 0);
        assert_int_equal(
                mail_client_send(c, "alice@example.org", subject_ru, body_ru, err, err_size), -EIO);
        assert_non_null(strstr(err, "SMTP delivery failed"));
        assert_null(strstr(err, "alice"));
        assert_true(proc_status(mail_client_helper_pid(c), "Seccomp", v, sizeof(v)));
        assert_string_equal(v, "2");
        if (sk)
                sink_assert_nothing_new(sk);
        mail_client_free(c);
}

static void test_smtp_auth_wrong_password(void **state)
{
        char err[256] = "", pw[PATH_MAX + 16], *lines;
        (void)state;

        path_join(pw, sizeof(pw), root, "smtp-wrong-password");
        write_text(pw, "not-the-password", 0600);
        lines = smtp_lines(&sink, "none", true, pw);
        assert_smtp_refused(&sink, "smtp-auth-wrong", lines, err, sizeof(err));
        free(lines);
        assert_null(strstr(err, "not-the-password"));
}

static void test_smtp_missing_password_refused(void **state)
{
        struct setup s;
        struct mail_client *c = NULL;
        char *lines = smtp_lines(&sink, "none", true, NULL);
        (void)state;

        /* A user name without any password is a configuration error. */
        setup_make(&s, "smtp-auth-nopw", lines);
        free(lines);
        assert_int_equal(mail_client_new_spawn(mailer_bin(), s.config, s.data, &c), -ECHILD);
}

static void test_smtp_starttls_required_refused(void **state)
{
        char err[256] = "", *lines = smtp_lines(&sink, "starttls-required", false, NULL);
        (void)state;

        /* The server does not offer STARTTLS: nothing may go out in clear. */
        assert_smtp_refused(&sink, "smtp-starttls-required", lines, err, sizeof(err));
        free(lines);
}

static void test_smtp_starttls_opportunistic_delivers(void **state)
{
        struct mail_client *c;
        char *lines = smtp_lines(&sink, "starttls", false, NULL);
        (void)state;

        /* Opportunistic: without STARTTLS on offer it delivers in clear. */
        free(smtp_deliver_one("smtp-starttls", lines, NULL, &c));
        free(lines);
        mail_client_free(c);
}

static void test_smtp_unreachable(void **state)
{
        char err[256] = "";
        int fd, port;
        struct sockaddr_in sin = {.sin_family = AF_INET};
        socklen_t len = sizeof(sin);
        char lines[128];
        (void)state;

        /* A port that was just free: connection refused, quickly. */
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
        port = ntohs(sin.sin_port);
        close(fd);
        snprintf(lines, sizeof(lines), "  host: 127.0.0.1\n  port: %d\n  security: none\n", port);
        assert_smtp_refused(NULL, "smtp-unreachable", lines, err, sizeof(err));
        assert_non_null(strstr(err, "connect"));
}

/* Implicit TLS and STARTTLS against a certificate nobody trusts: both must
 * fail (the peer is verified), and nothing may be delivered. */
static void test_smtp_tls_untrusted_refused(void **state)
{
        static const char *const modes[][2] = {{"--tls", "tls"},
                                               {"--starttls", "starttls-required"}};
        char cert[PATH_MAX + 16], key[PATH_MAX + 16], cmd[3 * PATH_MAX];
        (void)state;

        path_join(cert, sizeof(cert), root, "cert.pem");
        path_join(key, sizeof(key), root, "key.pem");
        snprintf(cmd, sizeof(cmd),
                 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                 "-keyout '%s' -out '%s' -subj /CN=127.0.0.1 -days 2 >/dev/null 2>&1",
                 key, cert);
        if (system(cmd) != 0)
                skip(); /* no openssl(1) to make a certificate with */

        for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
                const char *extra[] = {modes[i][0], cert, key, NULL};
                struct harness_sink tls_sink = HARNESS_SINK_INIT;
                char dir[PATH_MAX + 32], name[64], err[256] = "", *lines;

                snprintf(dir, sizeof(dir), "%s/sink-%s", root, modes[i][1]);
                assert_int_equal(mkdir(dir, 0755), 0);
                assert_int_equal(sink_start(&tls_sink, dir, extra), 0);
                lines = smtp_lines(&tls_sink, modes[i][1], false, NULL);
                snprintf(name, sizeof(name), "smtp-untrusted-%s", modes[i][1]);
                /* The helper also survives the TLS handshake under its filter. */
                assert_smtp_refused(&tls_sink, name, lines, err, sizeof(err));
                free(lines);
                sink_stop(&tls_sink);
        }
}

/* --- socket activation ----------------------------------------------------------- */

/* Start the mailer as systemd would: the listening socket on fd 3,
 * LISTEN_FDS=1 and LISTEN_PID naming the new process. */
static pid_t activate(int listen_fd, const struct setup *s)
{
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                char p[32];
                snprintf(p, sizeof(p), "%d", (int)getpid());
                setenv("LISTEN_PID", p, 1);
                setenv("LISTEN_FDS", "1", 1);
                child_fd3(listen_fd);
                execl(mailer_bin(), mailer_bin(), "--config", s->config, "--data", s->data,
                      (char *)NULL);
                _exit(127);
        }
        track(pid);
        return pid;
}

static void test_socket_activation(void **state)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct mail_client *c = NULL;
        struct setup s;
        char err[256] = "", names[4][128], v[16];
        int fd;
        pid_t pid;
        (void)state;

        setup_make(&s, "activation", NULL);
        path_join(sa.sun_path, sizeof(sa.sun_path), s.dir, "mailer.sock");
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 16), 0);

        pid = activate(fd, &s);
        assert_int_equal(mail_client_new_connect(sa.sun_path, &c), 0);
        assert_int_equal(mail_client_helper_pid(c), -1);
        assert_true(proc_status(pid, "Seccomp", v, sizeof(v)));
        assert_string_equal(v, "2");
        assert_int_equal(
                mail_client_send(c, "alice@example.org", subject_ru, body_ru, err, sizeof(err)), 0);
        assert_int_equal(list_eml(s.outbox, names, 4, NULL), 1);

        /* The service restarts; the socket stays: the client reconnects. */
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        untrack(pid);
        pid = activate(fd, &s);
        assert_int_equal(
                mail_client_send(c, "bob@example.net", subject_ru, body_ru, err, sizeof(err)), 0);
        assert_int_equal(list_eml(s.outbox, names, 4, NULL), 2);
        mail_client_free(c);

        /* Connections are served one after another. */
        assert_int_equal(mail_client_new_connect(sa.sun_path, &c), 0);
        assert_int_equal(
                mail_client_send(c, "carol@example.com", subject_ru, body_ru, err, sizeof(err)), 0);
        mail_client_free(c);
        assert_int_equal(list_eml(s.outbox, names, 4, NULL), 3);

        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        untrack(pid);
        close(fd);
        assert_int_equal(mail_client_new_connect("relative/path.sock", &c), -EINVAL);
        path_join(sa.sun_path, sizeof(sa.sun_path), s.dir, "absent.sock");
        assert_int_equal(mail_client_new_connect(sa.sun_path, &c), -ENOENT);
}

/* The same through systemd's own tool, when it is installed: it listens,
 * and execs the mailer with LISTEN_FDS on the first connection. */
static void test_socket_activation_systemd(void **state)
{
        static const char tool[] = "/usr/bin/systemd-socket-activate";
        struct mail_client *c = NULL;
        struct setup s;
        char sock[PATH_MAX], err[256] = "", names[2][128];
        pid_t pid;
        (void)state;

        if (access(tool, X_OK) < 0)
                skip();
        setup_make(&s, "activation-systemd", NULL);
        path_join(sock, sizeof(sock), s.dir, "mailer.sock");
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                execl(tool, tool, "-l", sock, mailer_bin(), "--config", s.config, "--data", s.data,
                      (char *)NULL);
                _exit(127);
        }
        track(pid);
        /* The socket file appears at bind(); connections are refused until
         * the tool's listen() a moment later. */
        int r;
        struct harness_deadline dl = harness_deadline_in(10000);
        do
                r = mail_client_new_connect(sock, &c);
        while ((r == -ENOENT || r == -ECONNREFUSED) && harness_pause(&dl));
        assert_int_equal(r, 0);
        assert_int_equal(
                mail_client_send(c, "alice@example.org", subject_ru, body_ru, err, sizeof(err)), 0);
        assert_int_equal(list_eml(s.outbox, names, 2, NULL), 1);
        mail_client_free(c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_outbox_delivery, kill_tracked),
                cmocka_unit_test_teardown(test_helper_is_sandboxed, kill_tracked),
                cmocka_unit_test_teardown(test_helper_no_exec_memory, kill_tracked),
                cmocka_unit_test_teardown(test_restart_after_kill, kill_tracked),
                cmocka_unit_test_teardown(test_restart_rate_limited, kill_tracked),
                cmocka_unit_test_teardown(test_concurrent_sends, kill_tracked),
                cmocka_unit_test_teardown(test_invalid_config_reported, kill_tracked),
                cmocka_unit_test_teardown(test_root_start_refuses_untrusted, kill_tracked),
                cmocka_unit_test_teardown(test_client_refuses_line_breaks, kill_tracked),
                cmocka_unit_test_teardown(test_ipc_header_injection_refused, kill_tracked),
                cmocka_unit_test_teardown(test_ipc_protocol_violations, kill_tracked),
                cmocka_unit_test_teardown(test_smtp_plain_delivery, kill_tracked),
                cmocka_unit_test_teardown(test_smtp_auth, kill_tracked),
                cmocka_unit_test_teardown(test_smtp_auth_wrong_password, kill_tracked),
                cmocka_unit_test_teardown(test_smtp_missing_password_refused, kill_tracked),
                cmocka_unit_test_teardown(test_smtp_starttls_required_refused, kill_tracked),
                cmocka_unit_test_teardown(test_smtp_starttls_opportunistic_delivers, kill_tracked),
                cmocka_unit_test_teardown(test_smtp_unreachable, kill_tracked),
                cmocka_unit_test_teardown(test_smtp_tls_untrusted_refused, kill_tracked),
                cmocka_unit_test_teardown(test_socket_activation, kill_tracked),
                cmocka_unit_test_teardown(test_socket_activation_systemd, kill_tracked),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
