/* SPDX-License-Identifier: MIT */
/* Implementation of the integration test harness (see harness.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
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

const char *harness_server_bin(void)
{
        const char *p = getenv("VERSTAK_SERVER_BIN");
        return p ? p : "./verstak-sync-server";
}

const char *harness_source_root(void)
{
        const char *p = getenv("VERSTAK_SOURCE_ROOT");
        return p ? p : "..";
}

int harness_run(const char *const argv[])
{
        pid_t pid = fork();
        int status;

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (nul >= 0)
                        dup2(nul, STDOUT_FILENO);
                execvp(argv[0], (char *const *)argv);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

int harness_system_user(const char *name, uid_t *ret_uid, gid_t *ret_gid)
{
        struct passwd *pw = getpwnam(name);

        if (!pw) {
                const char *const argv[] = {"useradd",
                                            "--system",
                                            "--no-create-home",
                                            "--shell",
                                            "/usr/sbin/nologin",
                                            "--user-group",
                                            name,
                                            NULL};
                if (harness_run(argv) != 0)
                        return -1;
                pw = getpwnam(name);
        }
        if (!pw)
                return -1;
        *ret_uid = pw->pw_uid;
        *ret_gid = pw->pw_gid;
        return 0;
}

/* --- waiting for a condition ----------------------------------------------- */

uint64_t harness_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct harness_deadline harness_deadline_in(int timeout_ms)
{
        return (struct harness_deadline){harness_now_ms() +
                                         (uint64_t)(timeout_ms > 0 ? timeout_ms : 0)};
}

bool harness_pause(const struct harness_deadline *dl)
{
        uint64_t now = harness_now_ms();

        if (now >= dl->end_ms)
                return false;
        uint64_t ms = dl->end_ms - now < 10 ? dl->end_ms - now : 10;
        struct timespec ts = {0, (long)ms * 1000000L};
        /* The one pause of every poll loop of the suites. */
        (void)nanosleep(&ts, NULL);
        return true;
}

void harness_join(pthread_t t, int timeout_ms)
{
        struct timespec ts;

        /* pthread_timedjoin_np() measures on CLOCK_REALTIME. */
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += timeout_ms / 1000;
        ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
        }
        int r = pthread_timedjoin_np(t, NULL, &ts);
        if (r != 0)
                fail_msg("thread did not end within %d ms (%s)", timeout_ms, strerror(r));
}

/* Daemons started and not yet reaped.  A failed assertion leaves its test
 * early, before harness_destroy(); these are killed when the suite exits
 * so that no daemon outlives its test run. */
#define HARNESS_MAX_LIVE 64
static pid_t live[HARNESS_MAX_LIVE];

static void kill_leftovers(void)
{
        for (size_t i = 0; i < HARNESS_MAX_LIVE; i++)
                if (live[i] > 0) {
                        (void)kill(live[i], SIGKILL);
                        (void)waitpid(live[i], NULL, 0);
                        live[i] = 0;
                }
}

static void live_add(pid_t pid)
{
        static bool registered;

        if (!registered && atexit(kill_leftovers) == 0)
                registered = true;
        for (size_t i = 0; i < HARNESS_MAX_LIVE; i++)
                if (live[i] <= 0) {
                        live[i] = pid;
                        return;
                }
}

static void live_remove(pid_t pid)
{
        for (size_t i = 0; i < HARNESS_MAX_LIVE; i++)
                if (live[i] == pid)
                        live[i] = 0;
}

bool harness_have_program(const char *name)
{
        const char *argv[] = {"sh", "-c", "command -v \"$0\"", name, NULL};
        return harness_run(argv) == 0;
}

/* --- PostgreSQL ---------------------------------------------------------------- */

#include <libpq-fe.h>
#include <sodium.h>

/* A connection to url; fails the test when there is none. */
static PGconn *pg_connect(const char *url)
{
        PGconn *c = PQconnectdb(url);

        if (PQstatus(c) != CONNECTION_OK)
                fail_msg("cannot connect to %s: %s", url, PQerrorMessage(c));
        return c;
}

/* Run sql on c; 0, or -EIO with the error on stderr. */
static int pg_exec_on(PGconn *c, const char *sql)
{
        PGresult *res = PQexec(c, sql);
        int r = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK
                        ? 0
                        : -EIO;

        if (r < 0)
                fprintf(stderr, "PostgreSQL: %s\n%s\n", PQresultErrorMessage(res), sql);
        PQclear(res);
        return r;
}

/* Run sql on url (no results); 0 or -EIO (the error on stderr). */
static int pg_exec_url(const char *url, const char *sql)
{
        PGconn *c = pg_connect(url);
        int r = pg_exec_on(c, sql);

        PQfinish(c);
        return r;
}

/* The URL of database name on the cluster of base (which names its
 * administrative database: postgresql://…/postgres?host=…). */
static int pg_url_for(const char *base, const char *name, char *out, size_t size)
{
        const char *scheme = strstr(base, "://");
        const char *path = scheme ? strchr(scheme + 3, '/') : NULL;
        const char *query = path ? path + strcspn(path, "?") : NULL;
        int n;

        if (!path)
                return -EINVAL;
        n = snprintf(out, size, "%.*s/%s%s", (int)(path - base), base, name, query);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Databases created and not yet dropped.  A failed assertion leaves its
 * test before harness_destroy(): these are dropped when the suite exits,
 * after its daemons are killed, so that none piles up on the cluster. */
#define HARNESS_MAX_DBS 64
static char live_dbs[HARNESS_MAX_DBS][64];

static void pg_drop_name(const char *base, const char *name)
{
        char sql[128];

        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %.63s WITH (FORCE)", name);
        (void)pg_exec_url(base, sql);
}

static void drop_leftover_dbs(void)
{
        const char *base = getenv("VERSTAK_TEST_PG_URL");

        kill_leftovers();
        for (size_t i = 0; base && i < HARNESS_MAX_DBS; i++)
                if (live_dbs[i][0]) {
                        pg_drop_name(base, live_dbs[i]);
                        live_dbs[i][0] = '\0';
                }
}

static void live_db_add(const char *name)
{
        static bool registered;

        if (!registered && atexit(drop_leftover_dbs) == 0)
                registered = true;
        for (size_t i = 0; i < HARNESS_MAX_DBS; i++)
                if (!live_dbs[i][0]) {
                        snprintf(live_dbs[i], sizeof(live_dbs[i]), "%s", name);
                        return;
                }
}

static void live_db_remove(const char *name)
{
        for (size_t i = 0; i < HARNESS_MAX_DBS; i++)
                if (strcmp(live_dbs[i], name) == 0)
                        live_dbs[i][0] = '\0';
}

/* With VERSTAK_TEST_PG_URL: a fresh database for d. */
static int pg_create(struct daemon *d)
{
        const char *base = getenv("VERSTAK_TEST_PG_URL");
        unsigned char rnd[8];
        char sql[128];

        d->pg_url[0] = d->pg_db[0] = '\0';
        if (!base || !*base)
                return 0;
        randombytes_buf(rnd, sizeof(rnd));
        snprintf(d->pg_db, sizeof(d->pg_db), "verstak_test_%02x%02x%02x%02x%02x%02x%02x%02x",
                 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
        snprintf(sql, sizeof(sql), "CREATE DATABASE %s", d->pg_db);
        if (pg_exec_url(base, sql) < 0 ||
            pg_url_for(base, d->pg_db, d->pg_url, sizeof(d->pg_url)) < 0) {
                d->pg_db[0] = '\0';
                return -EIO;
        }
        live_db_add(d->pg_db);
        return 0;
}

static void pg_drop(struct daemon *d)
{
        const char *base = getenv("VERSTAK_TEST_PG_URL");

        if (!d->pg_db[0] || !base)
                return;
        pg_drop_name(base, d->pg_db);
        live_db_remove(d->pg_db);
        d->pg_db[0] = d->pg_url[0] = '\0';
}

void harness_time_ago(char out[32], long seconds)
{
        time_t t = time(NULL) - seconds;
        struct tm tm;

        gmtime_r(&t, &tm);
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

bool harness_on_pg(void)
{
        const char *base = getenv("VERSTAK_TEST_PG_URL");
        return base && *base;
}

/* daemon_options.share_with: owner's database URL (d does not own it:
 * pg_db stays empty, so harness_destroy() leaves it), and <data>/blobs a
 * link to owner's blob directory. */
static int share_state(struct daemon *d, const struct daemon *owner)
{
        char blobs[PATH_MAX + 8], link[PATH_MAX + 8];

        if (!owner->pg_url[0])
                return -EOPNOTSUPP;
        snprintf(d->pg_url, sizeof(d->pg_url), "%s", owner->pg_url);
        snprintf(blobs, sizeof(blobs), "%s/blobs", owner->data_dir);
        snprintf(link, sizeof(link), "%s/blobs", d->data_dir);
        if (mkdir(blobs, 0750) < 0 && errno != EEXIST)
                return -errno;
        return symlink(blobs, link) < 0 ? -errno : 0;
}

int harness_prepare(struct daemon *d, const struct daemon_options *o)
{
        const char *tmp = getenv("TMPDIR");
        char tmpl[PATH_MAX - 64];

        memset(d, 0, sizeof(*d));
        d->pid = -1;
        d->notify_fd = -1;
        snprintf(tmpl, sizeof(tmpl), "%s/verstak-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(tmpl))
                return -errno;
        snprintf(d->root, sizeof(d->root), "%s", tmpl);
        if (snprintf(d->data_dir, sizeof(d->data_dir), "%.4000s/data", d->root) < 0 ||
            snprintf(d->log_path, sizeof(d->log_path), "%.4000s/daemon.log", d->root) < 0)
                return -ENAMETOOLONG;
        d->prepared = HARNESS_PREPARED;

        if (o && o->copy_data_from) {
                const char *argv[] = {
                        "cp",        "-R", "--no-preserve=mode,ownership", o->copy_data_from,
                        d->data_dir, NULL};
                if (harness_run(argv) < 0)
                        return -EIO;
                const char *chmod_argv[] = {"chmod", "-R", "u+rwX", d->data_dir, NULL};
                if (harness_run(chmod_argv) < 0)
                        return -EIO;
        } else if (mkdir(d->data_dir, 0750) < 0)
                return -errno;

        if (o && o->share_with) {
                int r = share_state(d, o->share_with);
                if (r < 0)
                        return r;
        } else if (!(o && o->copy_data_from)) {
                int r = pg_create(d);
                if (r < 0)
                        return r;
        }
        if ((o && o->config_yaml) || d->pg_url[0])
                return harness_write_config(d, o && o->config_yaml ? o->config_yaml : "");
        return 0;
}

int harness_write_config(const struct daemon *d, const char *yaml)
{
        {
                char path[PATH_MAX + 16];
                const char *section = strstr(yaml, "database:");
                FILE *f;
                snprintf(path, sizeof(path), "%s/config.yml", d->data_dir);
                f = fopen(path, "w");
                if (!f)
                        return -errno;
                if (!d->pg_url[0])
                        fputs(yaml, f);
                else if (section && (section == yaml || section[-1] == '\n')) {
                        /* The test's own database section gets the URL. */
                        const char *eol = strchr(section, '\n');
                        size_t head = eol ? (size_t)(eol - yaml) + 1 : strlen(yaml);
                        fprintf(f, "%.*s%s  url: \"%s\"\n%s", (int)head, yaml, eol ? "" : "\n",
                                d->pg_url, eol ? eol + 1 : "");
                } else
                        fprintf(f, "%s\ndatabase:\n  url: \"%s\"\n", yaml, d->pg_url);
                fclose(f);
        }
        return 0;
}

static int bind_ephemeral(int *ret_port)
{
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0};
        socklen_t len = sizeof(sin);
        int fd, one = 1;

        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
            getsockname(fd, (struct sockaddr *)&sin, &len) < 0 || listen(fd, 512) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        *ret_port = ntohs(sin.sin_port);
        return fd;
}

int harness_free_port(void)
{
        int port = 0, fd = bind_ephemeral(&port);

        if (fd < 0)
                return fd;
        close(fd);
        return port;
}

static int bind_unix(const char *path)
{
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        int fd;

        if (strlen(path) >= sizeof(sun.sun_path))
                return -ENAMETOOLONG;
        strcpy(sun.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void)unlink(path);
        if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 64) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* The daemon's NOTIFY_SOCKET, <root>/notify.sock, bound here. */
static int notify_open(struct daemon *d)
{
        struct sockaddr_un sun = {.sun_family = AF_UNIX};

        if (snprintf(d->notify_path, sizeof(d->notify_path), "%.4000s/notify.sock", d->root) < 0 ||
            strlen(d->notify_path) >= sizeof(sun.sun_path))
                return -ENAMETOOLONG;
        strcpy(sun.sun_path, d->notify_path);
        d->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (d->notify_fd < 0)
                return -errno;
        if (bind(d->notify_fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
                int r = -errno;
                close(d->notify_fd);
                d->notify_fd = -1;
                return r;
        }
        return 0;
}

int harness_notify_read(const struct daemon *d, int timeout_ms, const char *until,
                        const char *count_line, int min_count, char *log, size_t log_size)
{
        struct harness_deadline dl = harness_deadline_in(timeout_ms);
        int count = 0;

        assert_true(d->notify_fd >= 0);
        for (;;) {
                uint64_t now = harness_now_ms();
                if (now >= dl.end_ms)
                        return count;
                struct pollfd p = {.fd = d->notify_fd, .events = POLLIN};
                if (poll(&p, 1, (int)(dl.end_ms - now)) <= 0)
                        continue;
                char buf[4096];
                ssize_t len = recv(d->notify_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
                if (len <= 0)
                        continue;
                buf[len] = '\0';
                bool stop = false;
                for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
                     line = strtok_r(NULL, "\n", &save)) {
                        if (log) {
                                size_t used = strlen(log);
                                snprintf(log + used, log_size - used, "%s\n", line);
                        }
                        if (count_line && strcmp(line, count_line) == 0)
                                count++;
                        if (until && strncmp(line, until, strlen(until)) == 0)
                                stop = true;
                }
                if (stop || (min_count > 0 && count >= min_count))
                        return count;
        }
}

/* "STATUS=Serving: …, 3 waiting pulls…" -> 3; -1 for any other line. */
static long status_pulls(const char *line)
{
        const char *tail = strstr(line, " waiting pulls");
        const char *p = tail;

        if (strncmp(line, "STATUS=Serving: ", 16) != 0 || !tail)
                return -1;
        while (p > line && p[-1] >= '0' && p[-1] <= '9')
                p--;
        return p < tail ? strtol(p, NULL, 10) : -1;
}

long harness_wait_pulls(const struct daemon *d, unsigned n, int timeout_ms)
{
        struct harness_deadline dl = harness_deadline_in(timeout_ms);

        do {
                /* SIGHUP makes the daemon report its status at once. */
                static char log[16384];
                long pulls = -1;
                char stale[4096];
                log[0] = '\0';
                while (recv(d->notify_fd, stale, sizeof(stale), MSG_DONTWAIT) > 0)
                        ; /* an older status says nothing of now */
                assert_int_equal(kill(d->pid, SIGHUP), 0);
                (void)harness_notify_read(d, 5000, "STATUS=Serving: ", NULL, 0, log, sizeof(log));
                for (char *save = NULL, *line = strtok_r(log, "\n", &save); line;
                     line = strtok_r(NULL, "\n", &save))
                        if (status_pulls(line) >= 0)
                                pulls = status_pulls(line);
                if (pulls >= (long)n)
                        return pulls;
        } while (harness_pause(&dl));
        return -1;
}

static int wait_ready(struct daemon *d)
{
        struct harness_deadline dl = harness_deadline_in(20000);

        do {
                struct http_result res;
                int status;

                if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
                        live_remove(d->pid);
                        d->pid = -1;
                        return -ECHILD;
                }
                if (http_get(d, "/livez", NULL, &res) == 0) {
                        long st = res.status;
                        http_result_free(&res);
                        if (st == 200)
                                return 0;
                }
        } while (harness_pause(&dl));
        return -ETIMEDOUT;
}

int harness_start(struct daemon *d, const struct daemon_options *o)
{
        static const struct daemon_options none = {0};
        char listen_arg[64];
        const char *argv[64];
        size_t n = 0;
        int sock = -1, sock2 = -1, stdin_pipe[2] = {-1, -1};
        int r;

        if (!o)
                o = &none;
        if (d->prepared != HARNESS_PREPARED) {
                r = harness_prepare(d, o);
                if (r < 0)
                        return r;
        }

        if (o->external_listener) {
                /* The wrapper listens; the test set d->base_url. */
        } else if (o->bind_itself) {
                int fd = bind_ephemeral(&d->port);
                if (fd < 0)
                        return fd;
                close(fd); /* a tiny race, acceptable for the one test that needs it */
        } else {
                sock = bind_ephemeral(&d->port);
                if (sock < 0)
                        return sock;
        }
        if (!o->external_listener)
                snprintf(d->base_url, sizeof(d->base_url), "http://127.0.0.1:%d", d->port);
        snprintf(listen_arg, sizeof(listen_arg), "127.0.0.1:%d", d->port);
        if (o->second_listener && sock >= 0) {
                snprintf(d->second_socket, sizeof(d->second_socket), "%.4000s/second.sock",
                         d->root);
                sock2 = bind_unix(d->second_socket);
                if (sock2 < 0) {
                        close(sock);
                        return sock2;
                }
        }

        for (size_t i = 0; o->wrapper && o->wrapper[i] && n < 40; i++)
                argv[n++] = o->wrapper[i];
        argv[n++] = harness_server_bin();
        argv[n++] = "--data";
        argv[n++] = d->data_dir;
        if (o->bind_itself) {
                argv[n++] = "--listen";
                argv[n++] = listen_arg;
        }
        if (!o->drop_root && geteuid() == 0)
                argv[n++] = "--allow-root";
        for (size_t i = 0; o->extra_args && o->extra_args[i] && n < 60; i++)
                argv[n++] = o->extra_args[i];
        argv[n] = NULL;

        if (o->notify && d->notify_fd < 0) {
                r = notify_open(d);
                if (r < 0)
                        return r;
        }
        if (o->stdin_text && pipe(stdin_pipe) < 0)
                return -errno;

        d->pid = fork();
        if (d->pid < 0)
                return -errno;
        if (d->pid == 0) {
                int logfd = open(d->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (logfd >= 0) {
                        dup2(logfd, STDERR_FILENO);
                        dup2(logfd, STDOUT_FILENO);
                }
                if (stdin_pipe[0] >= 0) {
                        dup2(stdin_pipe[0], STDIN_FILENO);
                        close(stdin_pipe[1]);
                } else {
                        int nul = open("/dev/null", O_RDONLY);
                        if (nul >= 0)
                                dup2(nul, STDIN_FILENO);
                }
                unsetenv("LISTEN_FDS");
                unsetenv("LISTEN_PID");
                unsetenv("LISTEN_FDNAMES");
                unsetenv("NOTIFY_SOCKET");
                unsetenv("WATCHDOG_USEC");
                unsetenv("JOURNAL_STREAM");
                if (o->notify)
                        setenv("NOTIFY_SOCKET", d->notify_path, 1);
                if (sock >= 0) {
                        char pid[32];
                        /* Move the second socket out of the way of fd 3
                         * first, then place both. */
                        if (sock2 >= 0 && sock2 <= 4) {
                                int moved = fcntl(sock2, F_DUPFD, 10);
                                if (moved < 0)
                                        _exit(126);
                                sock2 = moved;
                        }
                        if (sock == 3)
                                fcntl(3, F_SETFD, 0);
                        else if (dup2(sock, 3) < 0)
                                _exit(126);
                        if (sock2 >= 0 && dup2(sock2, 4) < 0)
                                _exit(126);
                        snprintf(pid, sizeof(pid), "%d", (int)getpid());
                        setenv("LISTEN_FDS", sock2 >= 0 ? "2" : "1", 1);
                        setenv("LISTEN_PID", pid, 1);
                }
                for (size_t i = 0; o->extra_env && o->extra_env[i]; i++)
                        putenv((char *)o->extra_env[i]);
                execvp(argv[0], (char *const *)argv);
                _exit(127);
        }
        live_add(d->pid);
        if (sock >= 0)
                close(sock);
        if (sock2 >= 0)
                close(sock2);
        if (stdin_pipe[0] >= 0) {
                close(stdin_pipe[0]);
                ssize_t w = write(stdin_pipe[1], o->stdin_text, strlen(o->stdin_text));
                (void)w;
                close(stdin_pipe[1]);
        }
        if (o->no_wait)
                return 0;
        return wait_ready(d);
}

int harness_wait(struct daemon *d, int timeout_s, int *ret_status)
{
        int status = 0;

        if (d->pid <= 0)
                return -ECHILD;
        struct harness_deadline dl = harness_deadline_in(timeout_s * 1000);
        do {
                pid_t p = waitpid(d->pid, &status, WNOHANG);
                if (p == d->pid) {
                        live_remove(p);
                        d->pid = -1;
                        if (ret_status)
                                *ret_status = status;
                        return 0;
                }
        } while (harness_pause(&dl));
        return -ETIMEDOUT;
}

/* $VERSTAK_TEST_LOG_DIR, created when missing; NULL when unset. */
static const char *log_dir(void)
{
        const char *dir = getenv("VERSTAK_TEST_LOG_DIR");

        if (!dir || !*dir)
                return NULL;
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return NULL;
        return dir;
}

void harness_note_secret(const char *secret)
{
        const char *dir = log_dir();
        char path[PATH_MAX], line[1024];
        int fd, len;

        if (!dir || !secret || !*secret)
                return;
        len = snprintf(line, sizeof(line), "%s\n", secret);
        if (len < 0 || (size_t)len >= sizeof(line) || strchr(secret, '\n'))
                return;
        snprintf(path, sizeof(path), "%s/secrets.txt", dir);
        /* One write with O_APPEND: lines from suites running in parallel
         * never interleave. */
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0)
                return;
        ssize_t w = write(fd, line, (size_t)len);
        (void)w;
        close(fd);
}

static void copy_log(const struct daemon *d)
{
        const char *dir = log_dir();
        char dest[PATH_MAX + 64];
        const char *name;

        if (!dir)
                return;
        name = strrchr(d->root, '/');
        snprintf(dest, sizeof(dest), "%s/%s.log", dir, name ? name + 1 : "daemon");
        const char *argv[] = {"cp", d->log_path, dest, NULL};
        (void)harness_run(argv);
}

int harness_stop(struct daemon *d, int sig, int timeout_s, int *ret_status)
{
        int r;

        if (d->pid <= 0)
                return -ECHILD;
        kill(d->pid, sig);
        r = harness_wait(d, timeout_s, ret_status);
        if (r == -ETIMEDOUT) {
                kill(d->pid, SIGKILL);
                (void)waitpid(d->pid, NULL, 0);
                live_remove(d->pid);
                d->pid = -1;
        }
        copy_log(d);
        return r;
}

void harness_destroy(struct daemon *d)
{
        if (d->pid > 0)
                (void)harness_stop(d, SIGTERM, 25, NULL);
        else
                copy_log(d);
        if (d->root[0] && !getenv("VERSTAK_TEST_KEEP")) {
                const char *argv[] = {"rm", "-rf", d->root, NULL};
                (void)harness_run(argv);
        }
        if (d->prepared == HARNESS_PREPARED)
                pg_drop(d);
        if (d->prepared == HARNESS_PREPARED && d->notify_fd >= 0)
                close(d->notify_fd);
        d->notify_fd = -1;
        d->root[0] = '\0';
        d->prepared = 0;
}

int harness_proc_status(const struct daemon *d, const char *key, char *out, size_t size)
{
        char path[64], line[1024];
        size_t klen = strlen(key);
        FILE *f;
        int r = -ENOENT;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)d->pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                if (strncmp(line, key, klen) != 0 || line[klen] != ':')
                        continue;
                char *v = line + klen + 1;
                while (*v == ' ' || *v == '\t')
                        v++;
                size_t n = strcspn(v, "\n");
                while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
                        n--;
                snprintf(out, size, "%.*s", (int)n, v);
                r = 0;
                break;
        }
        fclose(f);
        return r;
}

bool harness_log_contains(const struct daemon *d, const char *needle)
{
        FILE *f = fopen(d->log_path, "r");
        char line[8192];
        bool found = false;

        if (!f)
                return false;
        while (!found && fgets(line, sizeof(line), f))
                found = strstr(line, needle) != NULL;
        fclose(f);
        return found;
}

bool harness_wait_log(const struct daemon *d, const char *needle, int timeout_ms)
{
        struct harness_deadline dl = harness_deadline_in(timeout_ms);

        while (!harness_log_contains(d, needle))
                if (!harness_pause(&dl))
                        return harness_log_contains(d, needle);
        return true;
}

/* --- HTTP ----------------------------------------------------------------- */

struct buf {
        char *data;
        size_t len;
};

static bool unique_ips;
static unsigned ip_counter;

/* The next made-up client address, 10.x.y.z (never ending in .0). */
static void next_client_ip(char *out, size_t size)
{
        unsigned n = __atomic_add_fetch(&ip_counter, 1, __ATOMIC_RELAXED);

        snprintf(out, size, "10.%u.%u.%u", 1 + n / 62500, (n / 250) % 250, 1 + n % 250);
}

const char *harness_fresh_ip(void)
{
        static char ips[64][32];
        static unsigned n;
        char *ip = ips[__atomic_fetch_add(&n, 1, __ATOMIC_RELAXED) % 64];

        next_client_ip(ip, sizeof(ips[0]));
        return ip;
}

void harness_set_unique_client_ips(bool on)
{
        unique_ips = on;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        struct buf *b = userdata;
        size_t n = size * nmemb;
        char *p = realloc(b->data, b->len + n + 1);

        if (!p)
                return 0;
        memcpy(p + b->len, ptr, n);
        b->data = p;
        b->len += n;
        b->data[b->len] = '\0';
        return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        struct buf *b = userdata;
        size_t n = size * nmemb;

        /* Keep only the final response's headers (not 100 Continue). */
        if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
                free(b->data);
                b->data = NULL;
                b->len = 0;
        }
        return on_data(ptr, size, nmemb, userdata);
}

int http_do(const struct daemon *d, const char *method, const char *path,
            const char *const *headers, const void *body, size_t body_len, struct http_result *ret)
{
        struct buf bbody = {0}, bhead = {0};
        struct curl_slist *hl = NULL;
        char url[4096];
        CURL *curl;
        CURLcode cc;

        memset(ret, 0, sizeof(*ret));
        curl = curl_easy_init();
        if (!curl)
                return -ENOMEM;
        snprintf(url, sizeof(url), "%s%s", d->base_url, path);
        curl_easy_setopt(curl, CURLOPT_URL, url);
        if (d->http_unix_socket[0])
                curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, d->http_unix_socket);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        if (strcmp(method, "HEAD") == 0)
                curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &bbody);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, &bhead);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        hl = curl_slist_append(hl, "Expect:");
        if (unique_ips) {
                char ip[32], xff[64];
                next_client_ip(ip, sizeof(ip));
                snprintf(xff, sizeof(xff), "X-Forwarded-For: %s", ip);
                hl = curl_slist_append(hl, xff);
        }
        for (size_t i = 0; headers && headers[i]; i++)
                hl = curl_slist_append(hl, headers[i]);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hl);
        if (body) {
                curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        }
        cc = curl_easy_perform(curl);
        if (cc == CURLE_OK)
                curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &ret->status);
        curl_slist_free_all(hl);
        curl_easy_cleanup(curl);
        if (cc != CURLE_OK) {
                free(bbody.data);
                free(bhead.data);
                return -EIO;
        }
        ret->body = bbody.data ? bbody.data : strdup("");
        ret->body_len = bbody.len;
        ret->headers = bhead.data ? bhead.data : strdup("");
        ret->json = ret->body_len ? json_loadb(ret->body, ret->body_len, 0, NULL) : NULL;
        return 0;
}

void http_call(const struct daemon *d, const char *method, const char *path, const char *ip,
               const char *ctype, const char *body, const char *const *extra,
               struct http_result *res)
{
        const char *h[16];
        char xff[64], ct[128];
        size_t n = 0;

        if (ip) {
                snprintf(xff, sizeof(xff), "X-Forwarded-For: %s", ip);
                h[n++] = xff;
        }
        if (ctype) {
                snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
                h[n++] = ct;
        }
        for (size_t i = 0; extra && extra[i] && n < 15; i++)
                h[n++] = extra[i];
        h[n] = NULL;
        assert_int_equal(http_do(d, method, path, h, body, body ? strlen(body) : 0, res), 0);
}

int http_post_json(const struct daemon *d, const char *path, const char *bearer,
                   const char *json_text, struct http_result *ret)
{
        char auth[256];
        const char *headers[3] = {"Content-Type: application/json", NULL, NULL};

        if (bearer) {
                snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
                headers[1] = auth;
        }
        return http_do(d, "POST", path, headers, json_text, strlen(json_text), ret);
}

int http_get(const struct daemon *d, const char *path, const char *bearer, struct http_result *ret)
{
        char auth[256];
        const char *headers[2] = {NULL, NULL};

        if (bearer) {
                snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
                headers[0] = auth;
        }
        return http_do(d, "GET", path, headers, NULL, 0, ret);
}

char *http_result_header(const struct http_result *r, const char *name)
{
        size_t nlen = strlen(name);
        const char *p = r->headers;

        while (p && *p) {
                const char *eol = strstr(p, "\r\n");
                size_t len = eol ? (size_t)(eol - p) : strlen(p);
                if (len > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
                        const char *v = p + nlen + 1;
                        while (*v == ' ')
                                v++;
                        return strndup(v, len - (size_t)(v - p));
                }
                p = eol ? eol + 2 : NULL;
        }
        return NULL;
}

const char *http_result_string(const struct http_result *r, const char *key)
{
        json_t *v = r->json ? json_object_get(r->json, key) : NULL;
        return json_is_string(v) ? json_string_value(v) : NULL;
}

const char *http_result_code(const struct http_result *r)
{
        const char *v = http_result_string(r, "code");
        return v ? v : "";
}

const char *http_result_error(const struct http_result *r)
{
        const char *v = http_result_string(r, "error");
        return v ? v : "";
}

void http_assert_error(const struct http_result *r, long status, const char *code,
                       const char *message)
{
        if (r->status != status)
                fprintf(stderr, "unexpected answer %ld: %s\n", r->status, r->body);
        assert_int_equal(r->status, status);
        assert_string_equal(http_result_code(r), code);
        if (message)
                assert_string_equal(http_result_error(r), message);
}

void http_result_free(struct http_result *r)
{
        free(r->body);
        free(r->headers);
        if (r->json)
                json_decref(r->json);
        memset(r, 0, sizeof(*r));
}

/* --- data set-up ------------------------------------------------------------ */

#include <sodium.h>
#include <sqlite3.h>

static int db_open(const struct daemon *d, sqlite3 **ret)
{
        char path[PATH_MAX + 32];

        snprintf(path, sizeof(path), "%s/server.db", d->data_dir);
        if (sqlite3_open(path, ret) != SQLITE_OK)
                return -EIO;
        sqlite3_busy_timeout(*ret, 10000);
        return 0;
}

/* Up to n columns of the first row of sql on d's database, as text copies
 * in out[] (NULL for no row or a NULL value; booleans read as SQLite's 0
 * and 1); *ret_row says whether there was a row.  0, or -EIO with the
 * error in errmsg. */
static int first_row(const struct daemon *d, const char *sql, char **out, int n, bool *ret_row,
                     char *errmsg, size_t errmsg_size)
{
        int r = 0;

        *ret_row = false;
        for (int i = 0; i < n; i++)
                out[i] = NULL;
        if (d->pg_url[0]) {
                PGconn *c = pg_connect(d->pg_url);
                PGresult *res = PQexec(c, sql);
                ExecStatusType st = PQresultStatus(res);
                if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
                        snprintf(errmsg, errmsg_size, "%s", PQresultErrorMessage(res));
                        r = -EIO;
                } else if (st == PGRES_TUPLES_OK && PQntuples(res) > 0) {
                        *ret_row = true;
                        for (int i = 0; i < n && i < PQnfields(res); i++) {
                                if (PQgetisnull(res, 0, i))
                                        continue;
                                const char *v = PQgetvalue(res, 0, i);
                                if (PQftype(res, i) == 16)
                                        v = v[0] == 't' ? "1" : "0";
                                out[i] = strdup(v);
                        }
                }
                PQclear(res);
                PQfinish(c);
                return r;
        }

        /* Every statement in turn, as PQexec() runs them; the last one
         * with a row gives the values. */
        sqlite3 *h = NULL;
        if (db_open(d, &h) < 0) {
                snprintf(errmsg, errmsg_size, "cannot open %.400s/server.db", d->data_dir);
                sqlite3_close(h);
                return -EIO;
        }
        for (const char *tail = sql; r == 0 && tail && *tail;) {
                sqlite3_stmt *st = NULL;
                int rc = sqlite3_prepare_v2(h, tail, -1, &st, &tail);
                if (rc == SQLITE_OK && st && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                        *ret_row = true;
                        for (int i = 0; i < n; i++) {
                                free(out[i]);
                                out[i] = NULL;
                                if (i < sqlite3_column_count(st) && sqlite3_column_text(st, i))
                                        out[i] = strdup((const char *)sqlite3_column_text(st, i));
                        }
                        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                                ;
                }
                if (rc != SQLITE_OK && rc != SQLITE_DONE) {
                        snprintf(errmsg, errmsg_size, "%s", sqlite3_errmsg(h));
                        r = -EIO;
                }
                sqlite3_finalize(st);
        }
        sqlite3_close(h);
        return r;
}

/* first_row() of the SQL built from fmt (sqlite3_vmprintf()); the test
 * fails on an SQL error. */
static bool first_row_fmt(const struct daemon *d, char **out, int n, const char *fmt, va_list ap)
{
        char errmsg[512];
        char *sql = sqlite3_vmprintf(fmt, ap);
        bool row;

        assert_non_null(sql);
        if (first_row(d, sql, out, n, &row, errmsg, sizeof(errmsg)) < 0)
                fail_msg("SQL failed: %s\n%s", errmsg, sql);
        sqlite3_free(sql);
        return row;
}

void harness_sql(const struct daemon *d, const char *fmt, ...)
{
        char *ignored;
        va_list ap;

        va_start(ap, fmt);
        (void)first_row_fmt(d, &ignored, 1, fmt, ap);
        va_end(ap);
        free(ignored);
}

char *harness_sql_text(const struct daemon *d, const char *fmt, ...)
{
        char *out;
        va_list ap;

        va_start(ap, fmt);
        (void)first_row_fmt(d, &out, 1, fmt, ap);
        va_end(ap);
        return out;
}

long long harness_sql_int(const struct daemon *d, const char *fmt, ...)
{
        long long out = -1;
        char *v;
        va_list ap;

        va_start(ap, fmt);
        if (first_row_fmt(d, &v, 1, fmt, ap))
                out = v ? strtoll(v, NULL, 10) : 0;
        va_end(ap);
        free(v);
        return out;
}

time_t harness_time_parse(const char *text)
{
        struct tm tm = {0};
        const char *end = text ? strptime(text, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;

        if (!end || (*end && strcmp(end, "Z") != 0))
                fail_msg("not an RFC 3339 UTC time: %s", text ? text : "(null)");
        return timegm(&tm);
}

long long harness_sql_span(const struct daemon *d, const char *fmt, ...)
{
        char *v[2];
        va_list ap;

        va_start(ap, fmt);
        bool row = first_row_fmt(d, v, 2, fmt, ap);
        va_end(ap);
        if (!row || !v[0] || !v[1])
                fail_msg("no two times selected by %s", fmt);
        long long span = (long long)(harness_time_parse(v[0]) - harness_time_parse(v[1]));
        free(v[0]);
        free(v[1]);
        return span;
}

long long harness_schema_version(const struct daemon *d)
{
        return harness_sql_int(d, d->pg_url[0] ? "SELECT version FROM verstak_schema"
                                               : "PRAGMA user_version");
}

void harness_set_schema_version(const struct daemon *d, long long version)
{
        harness_sql(d,
                    d->pg_url[0] ? "UPDATE verstak_schema SET version = %lld"
                                 : "PRAGMA user_version = %lld",
                    version);
}

int harness_db_exec(const struct daemon *d, const char *sql)
{
        char errmsg[512], *ignored;
        bool row;

        int r = first_row(d, sql, &ignored, 1, &row, errmsg, sizeof(errmsg));

        free(ignored);
        if (r < 0)
                fprintf(stderr, "harness_db_exec: %s\n%s\n", errmsg, sql);
        return r;
}

int harness_db_int(const struct daemon *d, const char *sql, long long *ret)
{
        char errmsg[512], *v;
        bool row;

        if (first_row(d, sql, &v, 1, &row, errmsg, sizeof(errmsg)) < 0 || !row) {
                free(v);
                return -EIO;
        }
        *ret = v ? strtoll(v, NULL, 10) : 0;
        free(v);
        return 0;
}

int harness_db_wait_int(const struct daemon *d, const char *sql, long long min, int timeout_ms,
                        long long *ret)
{
        struct harness_deadline dl = harness_deadline_in(timeout_ms);
        int r;

        for (;;) {
                r = harness_db_int(d, sql, ret);
                if (r < 0 || *ret >= min || !harness_pause(&dl))
                        return r;
        }
}

/* In a child of harness_db_lock_take(): every table of the database at
 * url locked in EXCLUSIVE mode (writes wait, reads go on), "L" written to
 * locked_fd, the lock held until release_fd ends.  The exit status. */
static int pg_hold_lock(const char *url, int locked_fd, int release_fd)
{
        PGconn *c = PQconnectdb(url);
        char ch;

        if (pg_exec_on(c, "BEGIN; DO $$ DECLARE t text; BEGIN"
                          " FOR t IN SELECT tablename FROM pg_tables"
                          " WHERE schemaname = current_schema()"
                          " LOOP EXECUTE format('LOCK TABLE %I IN EXCLUSIVE MODE', t);"
                          " END LOOP; END $$") < 0 ||
            write(locked_fd, "L", 1) != 1)
                return 1;
        while (read(release_fd, &ch, 1) > 0)
                ;
        int failed = pg_exec_on(c, "COMMIT") < 0;
        PQfinish(c);
        return failed;
}

int harness_db_lock_take(const struct daemon *d, struct harness_db_lock *ret)
{
        int locked[2], release[2];
        char c;
        pid_t pid;

        if (pipe2(locked, O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(release, O_CLOEXEC) < 0) {
                close(locked[0]);
                close(locked[1]);
                return -errno;
        }
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0 && d->pg_url[0]) {
                close(locked[0]);
                close(release[1]);
                _exit(pg_hold_lock(d->pg_url, locked[1], release[0]));
        }
        if (pid == 0) {
                sqlite3 *h;
                close(locked[0]);
                close(release[1]);
                if (db_open(d, &h) < 0 ||
                    sqlite3_exec(h, "BEGIN EXCLUSIVE", NULL, NULL, NULL) != SQLITE_OK)
                        _exit(1);
                if (write(locked[1], "L", 1) != 1)
                        _exit(1);
                while (read(release[0], &c, 1) > 0)
                        ;
                _exit(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL) == SQLITE_OK &&
                                      sqlite3_close(h) == SQLITE_OK
                              ? 0
                              : 1);
        }
        live_add(pid);
        close(locked[1]);
        close(release[0]);
        ssize_t n = read(locked[0], &c, 1);
        close(locked[0]);
        *ret = (struct harness_db_lock){.pid = pid, .release_fd = release[1]};
        if (n != 1) {
                (void)harness_db_lock_release(ret);
                return -EIO;
        }
        return 0;
}

int harness_db_lock_release(struct harness_db_lock *l)
{
        int status = 0;

        if (l->release_fd >= 0)
                close(l->release_fd);
        l->release_fd = -1;
        if (l->pid <= 0)
                return 0;
        if (waitpid(l->pid, &status, 0) < 0)
                return -EIO;
        live_remove(l->pid);
        l->pid = 0;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* What session pid, sent query, is doing: 1 waiting for a lock, -1 done
 * with it (idle after it), 0 otherwise (not started yet, or running). */
static int pg_session_state(PGconn *watch, int pid, const char *query)
{
        char sql[192];
        int state = 0;

        snprintf(sql, sizeof(sql),
                 "SELECT coalesce(wait_event_type, ''), state, query FROM pg_stat_activity"
                 " WHERE pid = %d",
                 pid);
        PGresult *res = PQexec(watch, sql);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
                if (strcmp(PQgetvalue(res, 0, 0), "Lock") == 0)
                        state = 1;
                else if (strncmp(PQgetvalue(res, 0, 1), "idle", 4) == 0 &&
                         strcmp(PQgetvalue(res, 0, 2), query) == 0)
                        state = -1;
        }
        PQclear(res);
        return state;
}

int harness_pg_race(const struct daemon *d, const char *sql_a, const char *sql_b)
{
        PGconn *a = pg_connect(d->pg_url), *b = pg_connect(d->pg_url),
               *watch = pg_connect(d->pg_url);
        char *text_b = NULL;
        int r = -EIO, waited = 0;

        if (pg_exec_on(a, "BEGIN") < 0 || pg_exec_on(a, sql_a) < 0 ||
            asprintf(&text_b, "BEGIN; %s; COMMIT", sql_b) < 0 || !PQsendQuery(b, text_b))
                goto out;
        struct harness_deadline dl = harness_deadline_in(15000);
        int state;
        while ((state = pg_session_state(watch, PQbackendPID(b), text_b)) == 0 &&
               harness_pause(&dl))
                ;
        waited = state == 1;
        if (pg_exec_on(a, "COMMIT") < 0)
                goto out;
        r = 0;
        for (PGresult *res; (res = PQgetResult(b));) {
                if (PQresultStatus(res) != PGRES_COMMAND_OK &&
                    PQresultStatus(res) != PGRES_TUPLES_OK) {
                        fprintf(stderr, "PostgreSQL: %s\n%s\n", PQresultErrorMessage(res), text_b);
                        r = -EIO;
                }
                PQclear(res);
        }
out:
        free(text_b);
        PQfinish(watch);
        PQfinish(b);
        PQfinish(a);
        return r < 0 ? r : waited;
}

int harness_add_user(const struct daemon *d, const char *username, const char *email,
                     const char *password, bool confirmed, bool blocked, char *ret_id)
{
        char hash[crypto_pwhash_STRBYTES], id[25];
        unsigned char rnd[12];
        sqlite3 *h;
        sqlite3_stmt *st;
        int rc;

        if (sodium_init() < 0)
                return -EIO;
        if (crypto_pwhash_str(hash, password, strlen(password), 2, 19u * 1024 * 1024) != 0)
                return -ENOMEM;
        randombytes_buf(rnd, sizeof(rnd));
        for (size_t i = 0; i < sizeof(rnd); i++)
                snprintf(id + 2 * i, 3, "%02x", rnd[i]);
        if (d->pg_url[0]) {
                char *sql = sqlite3_mprintf(
                        "INSERT INTO server_users (id, username, email, password_hash, confirmed,"
                        " blocked, created_at) VALUES ('%q', '%q', '%q', '%q', %d, %d,"
                        " to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))",
                        id, username, email, hash, confirmed, blocked);
                int r = sql ? pg_exec_url(d->pg_url, sql) : -ENOMEM;
                sqlite3_free(sql);
                if (r < 0)
                        return r;
                if (ret_id)
                        memcpy(ret_id, id, sizeof(id));
                return 0;
        }
        if (db_open(d, &h) < 0)
                return -EIO;
        rc = sqlite3_prepare_v2(h,
                                "INSERT INTO server_users (id, username, email, password_hash,"
                                " confirmed, blocked, created_at) VALUES (?,?,?,?,?,?,"
                                " strftime('%Y-%m-%dT%H:%M:%SZ','now'))",
                                -1, &st, NULL);
        if (rc == SQLITE_OK) {
                sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, username, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 3, email, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 4, hash, -1, SQLITE_STATIC);
                sqlite3_bind_int(st, 5, confirmed);
                sqlite3_bind_int(st, 6, blocked);
                rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
                sqlite3_finalize(st);
        }
        sqlite3_close(h);
        if (rc != SQLITE_OK)
                return -EIO;
        if (ret_id)
                memcpy(ret_id, id, sizeof(id));
        return 0;
}

long harness_pair(const struct daemon *d, const char *login, const char *password,
                  const char *vault_id, char *token, char *device_id)
{
        struct http_result r;
        json_t *body =
                json_pack("{s:s,s:s,s:s,s:s,s:s}", "login", login, "password", password, "vault_id",
                          vault_id, "device_name", "test device", "client_version", "harness/1");
        char *text = json_dumps(body, JSON_COMPACT);
        long status;

        json_decref(body);
        if (http_post_json(d, "/api/client/pair", NULL, text, &r) < 0) {
                free(text);
                return -1;
        }
        free(text);
        status = r.status;
        if (status == 200) {
                const char *t = json_string_value(json_object_get(r.json, "device_token"));
                const char *id = json_string_value(json_object_get(r.json, "device_id"));
                if (token && t)
                        snprintf(token, 65, "%s", t);
                if (device_id && id)
                        snprintf(device_id, 29, "%s", id);
        }
        http_result_free(&r);
        return status;
}

/* --- cookies and the outbox ------------------------------------------------ */

/* The whole Set-Cookie line for cookie name ("name=value; …"), or NULL. */
void harness_pair_ok(const struct daemon *d, const char *login, const char *password,
                     const char *vault_id, char *token, char *device_id)
{
        struct http_result r;
        json_t *body =
                json_pack("{s:s,s:s,s:s,s:s,s:s}", "login", login, "password", password, "vault_id",
                          vault_id, "device_name", "test device", "client_version", "harness/1");
        char *text = json_dumps(body, JSON_COMPACT);

        assert_non_null(text);
        json_decref(body);
        http_call(d, "POST", "/api/client/pair", harness_fresh_ip(), "application/json", text, NULL,
                  &r);
        free(text);
        if (r.status != 200)
                fail_msg("pair %s in %s: %ld %s", login, vault_id, r.status, r.body ? r.body : "");
        const char *t = http_result_string(&r, "device_token");
        const char *id = http_result_string(&r, "device_id");
        assert_non_null(t);
        assert_non_null(id);
        assert_int_equal(strlen(t), 64);
        harness_note_secret(t);
        if (token)
                snprintf(token, 65, "%s", t);
        if (device_id)
                snprintf(device_id, 29, "%s", id);
        http_result_free(&r);
}

char *http_result_set_cookie(const struct http_result *r, const char *name)
{
        size_t nlen = strlen(name);

        for (const char *p = r->headers; p && *p;) {
                const char *eol = strstr(p, "\r\n");
                size_t len = eol ? (size_t)(eol - p) : strlen(p);
                if (len > 11 && strncasecmp(p, "Set-Cookie:", 11) == 0) {
                        const char *v = p + 11;
                        while (*v == ' ')
                                v++;
                        if (strncmp(v, name, nlen) == 0 && v[nlen] == '=')
                                return strndup(v, len - (size_t)(v - p));
                }
                p = eol ? eol + 2 : NULL;
        }
        return NULL;
}

void http_cookie_value(const char *set_cookie, char *out, size_t size)
{
        const char *eq = strchr(set_cookie, '=');
        size_t len = strcspn(eq + 1, ";");

        assert_true(len < size);
        memcpy(out, eq + 1, len);
        out[len] = '\0';
}

char *harness_outbox_take(const struct daemon *d, const char *to, int wait_ms)
{
        char dir[PATH_MAX + 16], want[320];

        snprintf(dir, sizeof(dir), "%s/outbox", d->data_dir);
        snprintf(want, sizeof(want), "\nTo: %s\r\n", to);
        struct harness_deadline dl = harness_deadline_in(wait_ms);
        for (;;) {
                struct dirent **names = NULL;
                char *found = NULL;
                int n = scandir(dir, &names, NULL, alphasort);
                for (int i = 0; i < n; i++) {
                        char path[PATH_MAX * 2];
                        FILE *f;
                        if (!found && strstr(names[i]->d_name, ".eml") &&
                            names[i]->d_name[0] != '.') {
                                snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
                                f = fopen(path, "r");
                                if (f) {
                                        char *text = calloc(1, 65536);
                                        size_t len = fread(text, 1, 65535, f);
                                        fclose(f);
                                        text[len] = '\0';
                                        char *hdr_end = strstr(text, "\r\n\r\n");
                                        char *hit = strstr(text, want);
                                        if (!hit) {
                                                /* "To: <addr>" is as good. */
                                                char alt[330];
                                                snprintf(alt, sizeof(alt), "\nTo: <%s>\r\n", to);
                                                hit = strstr(text, alt);
                                        }
                                        if (hit && hdr_end && hit < hdr_end) {
                                                found = text;
                                                unlink(path);
                                        } else
                                                free(text);
                                }
                        }
                        free(names[i]);
                }
                free(names);
                if (found || !harness_pause(&dl))
                        return found;
        }
}

/* --- the SMTP sink ------------------------------------------------------------ */

/* Start tests/integration/<script> under VERSTAK_TEST_PYTHON with args
 * (NULL-terminated), its stdin a pipe whose closing stops it, and read the
 * "PORT <n>" line it prints once listening (within 15 s). */
static int python_helper_start(const char *script, const char *const *args, pid_t *ret_pid,
                               int *ret_stdin, int *ret_port)
{
        const char *py = getenv("VERSTAK_TEST_PYTHON");
        char path[PATH_MAX], line[64] = "";
        const char *argv[16];
        int out[2], in[2];
        size_t n = 0, got = 0;

        snprintf(path, sizeof(path), "%s/tests/integration/%s", harness_source_root(), script);
        argv[n++] = py ? py : "/usr/bin/python3";
        argv[n++] = path;
        for (size_t i = 0; args && args[i] && n < 15; i++)
                argv[n++] = args[i];
        argv[n] = NULL;
        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(in, O_CLOEXEC) < 0)
                return -errno;
        *ret_pid = fork();
        if (*ret_pid < 0)
                return -errno;
        if (*ret_pid == 0) {
                dup2(in[0], STDIN_FILENO);
                dup2(out[1], STDOUT_FILENO);
                execv(argv[0], (char *const *)argv);
                _exit(127);
        }
        live_add(*ret_pid);
        close(in[0]);
        close(out[1]);
        *ret_stdin = in[1];
        while (got < sizeof(line) - 1 && !strchr(line, '\n')) {
                struct pollfd p = {.fd = out[0], .events = POLLIN};
                if (poll(&p, 1, 15000) <= 0)
                        break;
                ssize_t r = read(out[0], line + got, sizeof(line) - 1 - got);
                if (r <= 0)
                        break;
                got += (size_t)r;
                line[got] = '\0';
        }
        close(out[0]);
        return sscanf(line, "PORT %d", ret_port) == 1 ? 0 : -EIO;
}

/* Close its stdin, stop and reap a helper of python_helper_start(). */
static void python_helper_stop(pid_t *pid, int *stdin_fd)
{
        if (*stdin_fd >= 0)
                close(*stdin_fd);
        *stdin_fd = -1;
        if (*pid > 0) {
                kill(*pid, SIGTERM);
                waitpid(*pid, NULL, 0);
                live_remove(*pid);
        }
        *pid = -1;
}

int harness_sink_start(struct harness_sink *s, const char *dir, const char *const *extra)
{
        const char *args[14];
        size_t n = 0;

        snprintf(s->dir, sizeof(s->dir), "%s", dir);
        s->count = 0;
        args[n++] = dir;
        for (size_t i = 0; extra && extra[i] && n < 13; i++)
                args[n++] = extra[i];
        args[n] = NULL;
        return python_helper_start("smtp_sink.py", args, &s->pid, &s->stdin_fd, &s->port);
}

void harness_sink_stop(struct harness_sink *s)
{
        python_helper_stop(&s->pid, &s->stdin_fd);
}

char *harness_read_file(const char *path)
{
        FILE *f = fopen(path, "re");
        char *buf;
        long n;

        if (!f)
                return NULL;
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        fseek(f, 0, SEEK_SET);
        buf = calloc(1, (size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
                free(buf);
                buf = NULL;
        }
        fclose(f);
        return buf;
}

int harness_sink_next(struct harness_sink *s, int wait_ms, char **ret_eml, char **ret_json)
{
        char path[PATH_MAX + 32];

        *ret_eml = *ret_json = NULL;
        snprintf(path, sizeof(path), "%s/%d.eml", s->dir, s->count + 1);
        struct harness_deadline dl = harness_deadline_in(wait_ms);
        while (access(path, F_OK) < 0)
                if (!harness_pause(&dl) && access(path, F_OK) < 0)
                        return -ENOENT;
        s->count++;
        *ret_eml = harness_read_file(path);
        snprintf(path, sizeof(path), "%s/%d.json", s->dir, s->count);
        *ret_json = harness_read_file(path);
        if (!*ret_eml || !*ret_json) {
                free(*ret_eml);
                free(*ret_json);
                *ret_eml = *ret_json = NULL;
                return -EIO;
        }
        return 0;
}

void harness_assert_no_inline_script(const char *html)
{
        static const char ok[] = "<script type=\"module\" src=\"";

        for (const char *p = strstr(html, "<script"); p; p = strstr(p + 1, "<script")) {
                assert_memory_equal(p, ok, sizeof(ok) - 1);
                /* The file is one of ours: a relative path ending in .js. */
                const char *src = p + sizeof(ok) - 1, *end = strchr(src, '"');
                assert_non_null(end);
                assert_true(end - src > 3 && memcmp(end - 3, ".js", 3) == 0);
                assert_null(memchr(src, ':', (size_t)(end - src)));
                assert_null(memchr(src, '<', (size_t)(end - src)));
        }
}

/* --- the round-robin load balancer ------------------------------------------- */

int harness_rr_start(struct harness_rr *rr, struct daemon *const *daemons, size_t n)
{
        char ports[HARNESS_RR_MAX][16];
        const char *args[HARNESS_RR_MAX + 1];
        int r;

        if (n == 0 || n > HARNESS_RR_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                snprintf(ports[i], sizeof(ports[i]), "%d", daemons[i]->port);
                args[i] = ports[i];
        }
        args[n] = NULL;
        r = python_helper_start("roundrobin.py", args, &rr->pid, &rr->stdin_fd, &rr->front.port);
        if (r < 0)
                return r;
        snprintf(rr->front.base_url, sizeof(rr->front.base_url), "http://127.0.0.1:%d",
                 rr->front.port);
        return 0;
}

void harness_rr_stop(struct harness_rr *rr)
{
        python_helper_stop(&rr->pid, &rr->stdin_fd);
}

/* --- the administrator's console and the operator commands -------------------- */

#include <spawn.h>

extern char **environ;

void harness_admin_login_ok(const struct daemon *d, const char *user, const char *password,
                            struct harness_admin *ret)
{
        json_t *body = json_pack("{s:s,s:s}", "username", user, "password", password);
        char *text = json_dumps(body, JSON_COMPACT), *sc, *cc;
        char token[128], csrf[128];
        struct http_result r;

        assert_non_null(text);
        http_call(d, "POST", "/admin/api/login", NULL, "application/json", text, NULL, &r);
        free(text);
        json_decref(body);
        if (r.status != 200)
                fail_msg("admin login %s: %ld %s", user, r.status, r.body ? r.body : "");
        sc = http_result_set_cookie(&r, "admin_session");
        cc = http_result_set_cookie(&r, "csrf_token");
        assert_non_null(sc);
        assert_non_null(cc);
        http_cookie_value(sc, token, sizeof(token));
        http_cookie_value(cc, csrf, sizeof(csrf));
        harness_note_secret(token);
        harness_note_secret(csrf);
        snprintf(ret->cookie, sizeof(ret->cookie), "Cookie: admin_session=%s; csrf_token=%s", token,
                 csrf);
        snprintf(ret->csrf_header, sizeof(ret->csrf_header), "X-CSRF-Token: %s", csrf);
        free(sc);
        free(cc);
        http_result_free(&r);
}

void harness_run_argv(const char *dir, const char *stdin_text, const char *const *argv,
                      struct harness_cmd *ret)
{
        char out_path[PATH_MAX], in_path[PATH_MAX];
        posix_spawn_file_actions_t fa;
        pid_t pid;
        int st;

        snprintf(out_path, sizeof(out_path), "%s/cmd-output.txt", dir);
        snprintf(in_path, sizeof(in_path), "%s/cmd-input.txt", dir);
        if (stdin_text) {
                FILE *f = fopen(in_path, "w");
                assert_non_null(f);
                fputs(stdin_text, f);
                fclose(f);
        }
        assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
        posix_spawn_file_actions_addopen(&fa, 0, stdin_text ? in_path : "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        assert_int_equal(waitpid(pid, &st, 0), pid);
        ret->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        ret->out = harness_read_file(out_path);
        assert_non_null(ret->out);
}

void harness_run_server(const char *dir, const char *stdin_text, const char *const *args,
                        struct harness_cmd *ret)
{
        const char *argv[32];
        size_t n = 0;

        argv[n++] = harness_server_bin();
        for (size_t i = 0; args[i]; i++) {
                assert_true(n < 31);
                argv[n++] = args[i];
        }
        argv[n] = NULL;
        harness_run_argv(dir, stdin_text, argv, ret);
}
