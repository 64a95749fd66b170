/* SPDX-License-Identifier: MIT */
/*
 * Shared by every integration suite: start the real verstak-sync-server on
 * an ephemeral loopback port with a temporary data directory, talk HTTP to
 * it with libcurl, stop it and look at how it ended.
 *
 * The listening socket is bound here and handed over with LISTEN_FDS, as
 * systemd would, so suites never race for ports.  The daemon's stderr goes
 * to <data>/../daemon.log and, when VERSTAK_TEST_LOG_DIR is set, is copied
 * there when the daemon stops; every secret a suite hands the daemon is
 * recorded with harness_note_secret() so that the no-secrets-in-logs check
 * (tests/check-logs-for-secrets.sh, run after all suites) can look for it.
 *
 * Tests run as root: unless drop_root is set, the daemon gets --allow-root
 * and stays root instead of switching to server.user.
 */
#pragma once

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct daemon {
        unsigned prepared; /* HARNESS_PREPARED once harness_prepare() ran */
        pid_t pid;
        int port;
        char base_url[64];
        char root[PATH_MAX];     /* temporary directory owning everything */
        char data_dir[PATH_MAX]; /* <root>/data */
        char log_path[PATH_MAX]; /* <root>/daemon.log */
        /* When set, http_do() connects to this unix socket instead of TCP
         * (the URL's host part is then only the Host header). */
        char http_unix_socket[PATH_MAX];
        char second_socket[PATH_MAX]; /* <root>/second.sock with second_listener */
        /* With notify: the datagram socket <root>/notify.sock the daemon
         * gets as NOTIFY_SOCKET, owned and read by the harness (else -1). */
        int notify_fd;
        char notify_path[PATH_MAX];
        /* On PostgreSQL (VERSTAK_TEST_PG_URL set): the URL of this
         * daemon's own database, created by harness_prepare() and dropped
         * by harness_destroy(); "" on SQLite. */
        char pg_url[1024];
        char pg_db[64];
};

/* Write yaml as d's config.yml (with the database URL of d when on
 * PostgreSQL); 0 or a negative errno. */
struct daemon;
int harness_write_config(const struct daemon *d, const char *yaml);

/* RFC 3339 UTC time seconds ago (the format of every *_at column), for
 * test data relative to now on either back end. */
void harness_time_ago(char out[32], long seconds);

/* Whether the suite runs on PostgreSQL (VERSTAK_TEST_PG_URL). */
bool harness_on_pg(void);

/* The time an RFC 3339 UTC text ("2026-07-01T10:00:00Z", as every *_at
 * column holds it) names; the test fails when it is not one. */
time_t harness_time_parse(const char *text);

struct daemon_options {
        const char *config_yaml;       /* written to <data>/config.yml */
        const char *copy_data_from;    /* copy this directory as the data dir */
        const char *const *extra_args; /* NULL-terminated extra flags */
        const char *const *extra_env;  /* NULL-terminated "K=V" strings */
        bool bind_itself;              /* pass --listen instead of a socket */
        bool no_wait;                  /* do not wait for /livez */
        const char *stdin_text;        /* fed to the daemon's stdin */
        /* Started as root, do not pass --allow-root: the daemon drops to
         * server.user (default: it keeps root, as in a container). */
        bool drop_root;
        /* Also pass a listening unix socket <root>/second.sock as the
         * second socket (LISTEN_FDS=2). */
        bool second_listener;
        /* NULL-terminated command run in front of the daemon, which it must
         * exec (setpriv, systemd-socket-activate, …). */
        const char *const *wrapper;
        /* The wrapper provides the listening sockets: the harness binds
         * nothing and keeps d->base_url as the test set it after
         * harness_prepare(). */
        bool external_listener;
        /* Give the daemon a NOTIFY_SOCKET the harness reads (d->notify_fd):
         * harness_notify_read(), harness_wait_pulls(). */
        bool notify;
        /* Several daemons on one cluster's state: use the PostgreSQL
         * database and the blob directory of this daemon (prepared or
         * started before, and destroyed after this one) instead of fresh
         * ones.  <data>/blobs is then a symbolic link to its blob
         * directory.  PostgreSQL only: harness_prepare() fails with
         * -EOPNOTSUPP on SQLite. */
        const struct daemon *share_with;
};

/* --- waiting for a condition ----------------------------------------------- */

/*
 * Tests never sleep in the hope that something happened: they wait for a
 * condition (a log record, a notification, a file, a database row) in a
 * loop bounded by a deadline on the monotonic clock:
 *
 *         struct harness_deadline dl = harness_deadline_in(15000);
 *         while (!condition() && harness_pause(&dl))
 *                 ;
 *         assert_true(condition());
 */
struct harness_deadline {
        uint64_t end_ms;
};

/* Milliseconds on the monotonic clock. */
uint64_t harness_now_ms(void);

/* The deadline timeout_ms from now. */
struct harness_deadline harness_deadline_in(int timeout_ms);

/* Pause between two checks of a condition (10 ms, less when the deadline is
 * nearer) and return true; false, without pausing, once the deadline passed. */
bool harness_pause(const struct harness_deadline *dl);

/* Join thread t, failing the test when it has not ended within timeout_ms. */
void harness_join(pthread_t t, int timeout_ms);

/* Run a command (argv[0] looked up in PATH, stdout discarded) and wait.
 * Returns 0 when it exited 0, -EIO otherwise, negative errno on failure. */
int harness_run(const char *const argv[]);

/* The uid and gid of the system account name, created (useradd --system,
 * with its own group) when it does not exist yet.  Returns 0 or -1. */
int harness_system_user(const char *name, uid_t *ret_uid, gid_t *ret_gid);

/* The whole content of a file (malloc'd, NUL-terminated), or NULL when it
 * cannot be read. */
char *harness_read_file(const char *path);

/* Whether a program is found in PATH (tests skip when a tool is missing). */
bool harness_have_program(const char *name);

/* Path of the built daemon (VERSTAK_SERVER_BIN) and the source tree. */
const char *harness_server_bin(void);
const char *harness_source_root(void);

#define HARNESS_PREPARED 0x7e57da7au

/* Create d->root and d->data_dir without starting anything. */
int harness_prepare(struct daemon *d, const struct daemon_options *o);

/* Start the daemon (after harness_prepare, or preparing itself when d
 * was not prepared: d must then be zeroed, `struct daemon d = {0};`, since
 * the memory of a daemon a failed test left behind may look prepared).
 * Returns 0 once /livez answers (unless no_wait). */
int harness_start(struct daemon *d, const struct daemon_options *o);

/* Send sig and wait up to timeout_s; *ret_status gets the wait status.
 * Returns 0, or -ETIMEDOUT (the daemon is then killed). */
int harness_stop(struct daemon *d, int sig, int timeout_s, int *ret_status);

/* Wait for an already signalled or exiting daemon. */
int harness_wait(struct daemon *d, int timeout_s, int *ret_status);

/* Stop (if running) and delete the temporary directory. */
void harness_destroy(struct daemon *d);

/* Record a secret (password, token, cookie value) this suite gave the
 * daemon, so that the log check after all suites can prove it never
 * reached a log.  No-op without VERSTAK_TEST_LOG_DIR. */
void harness_note_secret(const char *secret);

/* A port on 127.0.0.1 that was free a moment ago (for wrappers that bind
 * themselves).  Returns the port or negative errno. */
int harness_free_port(void);

/* The value of "key:" in /proc/<pid>/status, whitespace-trimmed (e.g.
 * "Seccomp" -> "2").  Returns 0 or negative errno. */
int harness_proc_status(const struct daemon *d, const char *key, char *out, size_t size);

/* --- sd_notify -------------------------------------------------------------- */

/*
 * Read the daemon's notifications (daemon_options.notify) for up to
 * timeout_ms.  Each datagram's lines are appended to log (one per line,
 * log may be NULL).  Stops early once a line starting with until arrives
 * (until may be NULL) or once min_count lines equal to count_line arrived
 * (min_count 0: no such stop).  Returns how many lines equal to count_line
 * arrived (count_line may be NULL).
 */
int harness_notify_read(const struct daemon *d, int timeout_ms, const char *until,
                        const char *count_line, int min_count, char *log, size_t log_size);

/* Wait until the daemon holds at least n suspended pulls (long polls), as
 * its STATUS= notification reports after a SIGHUP; needs notify.  Returns
 * the number last reported (n or more), or -1 at the timeout. */
long harness_wait_pulls(const struct daemon *d, unsigned n, int timeout_ms);

/* Whether the daemon's log contains needle. */
bool harness_log_contains(const struct daemon *d, const char *needle);

/* Wait up to timeout_ms for needle to appear in the daemon's log (records
 * are written after the event, e.g. after the first request was served). */
bool harness_wait_log(const struct daemon *d, const char *needle, int timeout_ms);

/* --- HTTP ----------------------------------------------------------------- */

struct http_result {
        long status;
        char *body;
        size_t body_len;
        char *headers; /* raw header block, final response only */
        json_t *json;  /* parsed body when it is JSON, else NULL */
};

/*
 * Perform a request.  headers is a NULL-terminated list of "Name: value"
 * lines (may be NULL); body may be NULL.  Returns 0 when a response was
 * received, negative errno on transport failure.
 */
int http_do(const struct daemon *d, const char *method, const char *path,
            const char *const *headers, const void *body, size_t body_len, struct http_result *ret);

/* When on, every request carries "X-Forwarded-For: 10.x.y.z" with a fresh
 * address, so a daemon that trusts 127.0.0.1 as a proxy sees each request
 * from its own client (per-IP rate limits then do not pile up). */
void harness_set_unique_client_ips(bool on);

/* A made-up client address (10.x.y.z) not handed out before, for a test
 * that sends several requests as one client (X-Forwarded-For through a
 * trusted proxy).  The string stays valid for the next 63 calls. */
const char *harness_fresh_ip(void);

/*
 * One request that must get an answer (the test fails on a transport
 * error): from client ip as "X-Forwarded-For: ip" (no such header when ip
 * is NULL), with "Content-Type: ctype" when ctype is not NULL, the extra
 * headers (NULL-terminated, may be NULL; at most 13 are sent) and body as
 * text (may be NULL).
 */
void http_call(const struct daemon *d, const char *method, const char *path, const char *ip,
               const char *ctype, const char *body, const char *const *extra,
               struct http_result *res);

/* POST a JSON text with an optional bearer token. */
int http_post_json(const struct daemon *d, const char *path, const char *bearer,
                   const char *json_text, struct http_result *ret);

/* GET with an optional bearer token. */
int http_get(const struct daemon *d, const char *path, const char *bearer, struct http_result *ret);

/* Case-insensitive header lookup in a result; returns a malloc'd value. */
char *http_result_header(const struct http_result *r, const char *name);

/* A string member of a JSON body, NULL when absent or not a string. */
const char *http_result_string(const struct http_result *r, const char *key);

/* The "code" and "error" members of a JSON error body ("" when absent). */
const char *http_result_code(const struct http_result *r);
const char *http_result_error(const struct http_result *r);

void http_result_free(struct http_result *r);

/* The whole Set-Cookie line for cookie name ("name=value; …"), malloc'd,
 * or NULL when the answer sets no such cookie. */
char *http_result_set_cookie(const struct http_result *r, const char *name);

/* The value of a Set-Cookie line ("name=value; …" -> "value") into out;
 * the test fails when it does not fit in size bytes. */
void http_cookie_value(const char *set_cookie, char *out, size_t size);

/* Find, read and remove the oldest message addressed to `to` in the mail
 * helper's outbox (<data>/outbox); wait up to wait_ms for it.  The whole
 * .eml text (malloc'd), or NULL when none came. */
char *harness_outbox_take(const struct daemon *d, const char *to, int wait_ms);

/* Fail unless every <script in an HTML page loads a file of the web UI
 * (<script type="module" src="…">): no inline script, so the CSP holds
 * and nothing from the request can run. */
void harness_assert_no_inline_script(const char *html);

/* Assert a contract error: status, code and, when message is not NULL,
 * the "error" text.  On an unexpected status the body goes to stderr. */
void http_assert_error(const struct http_result *r, long status, const char *code,
                       const char *message);

/* Shorthand for asserting a contract error: status and code. */
#define assert_http_error(res, st, code_str) http_assert_error((res), (st), (code_str), NULL)

/* --- data set-up ------------------------------------------------------------ */

/* SQL built with sqlite3_mprintf() ("%q" and "%Q" quote strings) on the
 * daemon's database, which may be running; the test fails on an SQL error. */
void harness_sql(const struct daemon *d, const char *fmt, ...);

/* The first column of the first row as text (malloc'd), NULL when there is
 * no row or it is NULL; the query is built as harness_sql() builds it. */
char *harness_sql_text(const struct daemon *d, const char *fmt, ...);

/* The first column of the first row as an integer, -1 when there is no row. */
long long harness_sql_int(const struct daemon *d, const char *fmt, ...);

/* The seconds from the second to the first column of the first row the
 * query selects, two RFC 3339 times (e.g. "SELECT expires_at, created_at
 * FROM …"); built as harness_sql() builds it.  The test fails when there
 * is no such row. */
long long harness_sql_span(const struct daemon *d, const char *fmt, ...);

/* The schema version of the daemon's database (SQLite's user_version, the
 * version row on PostgreSQL), and setting it (to make a database look
 * older or newer than the build).  The test fails on an error. */
long long harness_schema_version(const struct daemon *d);
void harness_set_schema_version(const struct daemon *d, long long version);

/* Run SQL on the daemon's database (it may be running: WAL and a busy
 * timeout make this safe).  Returns 0 or -EIO. */
int harness_db_exec(const struct daemon *d, const char *sql);

/* Query one integer (first column of the first row); -EIO on error. */
int harness_db_int(const struct daemon *d, const char *sql, long long *ret);

/* Wait up to timeout_ms (polling) until the integer query answers at
 * least min, for rows the daemon writes in the background (audit entries,
 * last_seen).  Returns 0 with *ret the last value (which may be below min
 * when the time ran out), or -EIO. */
int harness_db_wait_int(const struct daemon *d, const char *sql, long long min, int timeout_ms,
                        long long *ret);

/* Another process holding the database's write lock, as an operator's
 * shell or a backup would: BEGIN EXCLUSIVE on SQLite; on PostgreSQL a
 * session holding every table of the daemon in EXCLUSIVE mode, which
 * blocks every write and no read. */
struct harness_db_lock {
        pid_t pid;
        int release_fd; /* closing it makes the holder commit and exit */
};

/* Fork a process that takes the write lock; returns 0 once it holds it. */
int harness_db_lock_take(const struct daemon *d, struct harness_db_lock *ret);

/* Make the holder release the lock and wait for it to exit.  0 or -EIO. */
int harness_db_lock_release(struct harness_db_lock *l);

/* Two sessions of d's PostgreSQL database writing at once: session A
 * runs "BEGIN; sql_a" and keeps its transaction open; session B sends
 * "BEGIN; sql_b; COMMIT" and the harness waits (pg_stat_activity) until B
 * waits for a lock or is done; then A commits and B finishes.  Returns 1
 * when B waited for a lock A held, 0 when it did not have to, -EIO on an
 * SQL error (on stderr).  PostgreSQL only. */
int harness_pg_race(const struct daemon *d, const char *sql_a, const char *sql_b);

/* Create a user directly in the database with an Argon2id hash of
 * password.  ret_id (25 bytes) receives the new id when not NULL. */
int harness_add_user(const struct daemon *d, const char *username, const char *email,
                     const char *password, bool confirmed, bool blocked, char *ret_id);

/* Pair a device through POST /api/client/pair; fills token (65 bytes) and
 * device_id (29 bytes) when not NULL.  Returns the HTTP status. */
long harness_pair(const struct daemon *d, const char *login, const char *password,
                  const char *vault_id, char *token, char *device_id);

/* Pair a device as harness_pair() does, from a fresh client address
 * (harness_fresh_ip()); the test fails unless the answer is 200.  token
 * (65 bytes) and device_id (29 bytes) may be NULL. */
void harness_pair_ok(const struct daemon *d, const char *login, const char *password,
                     const char *vault_id, char *token, char *device_id);

/* --- the SMTP sink ------------------------------------------------------------ */

/* A real SMTP server on loopback: tests/integration/smtp_sink.py run by
 * VERSTAK_TEST_PYTHON (default /usr/bin/python3, with aiosmtpd).  It writes
 * each message it accepts to dir as N.json (envelope) and then N.eml. */
struct harness_sink {
        pid_t pid;
        int port;
        int stdin_fd; /* closing it stops the sink */
        char dir[PATH_MAX];
        int count; /* messages taken with harness_sink_next() so far */
};

#define HARNESS_SINK_INIT                                                                          \
        {                                                                                          \
                .pid = -1, .stdin_fd = -1                                                          \
        }

/* Start the sink on dir (which must exist) with extra arguments
 * (NULL-terminated, may be NULL: --auth USER:PASS, --starttls CERT KEY,
 * --tls CERT KEY) and wait up to 15 s until it listens on s->port.
 * Returns 0 or negative errno; call harness_sink_stop() either way. */
int harness_sink_start(struct harness_sink *s, const char *dir, const char *const *extra);

/* Stop the sink (no-op when it is not running). */
void harness_sink_stop(struct harness_sink *s);

/* The next message the sink received, waiting up to wait_ms for it: its
 * raw text (N.eml) and envelope record (N.json), both malloc'd.  Returns 0,
 * or negative errno with both set to NULL when there is none. */
int harness_sink_next(struct harness_sink *s, int wait_ms, char **ret_eml, char **ret_json);

/* --- the round-robin load balancer ------------------------------------------- */

/* tests/integration/roundrobin.py in front of up to HARNESS_RR_MAX
 * daemons: each connection goes to the next daemon in turn, one that
 * refuses connections is skipped.  front is a struct daemon describing
 * only its address, for http_do() and the helpers built on it. */
#define HARNESS_RR_MAX 8

struct harness_rr {
        pid_t pid;
        int stdin_fd;
        struct daemon front;
};

#define HARNESS_RR_INIT                                                                            \
        {                                                                                          \
                .pid = -1, .stdin_fd = -1                                                          \
        }

/* Start it before the given daemons (already running).  Returns 0 or
 * negative errno; call harness_rr_stop() either way. */
int harness_rr_start(struct harness_rr *rr, struct daemon *const *daemons, size_t n);
void harness_rr_stop(struct harness_rr *rr);

/* --- the administrator's console --------------------------------------------- */

/* A console session: the headers its requests carry. */
struct harness_admin {
        char cookie[320];      /* "Cookie: admin_session=…; csrf_token=…" */
        char csrf_header[160]; /* "X-CSRF-Token: …" */
};

/* Sign in to the console (POST /admin/api/login) as user; the test fails
 * unless the answer is 200 with both cookies.  The session's secrets are
 * noted with harness_note_secret(). */
void harness_admin_login_ok(const struct daemon *d, const char *user, const char *password,
                            struct harness_admin *ret);

/* --- the binary's operator commands ------------------------------------------- */

struct harness_cmd {
        int status; /* exit code, or 128 + signal */
        char *out;  /* stdout and stderr together (malloc'd) */
};

/* Run argv (argv[0] a path, NULL-terminated) and wait: stdin from
 * stdin_text (NULL: /dev/null), the output collected in a file under dir.
 * The test fails when it cannot run. */
void harness_run_argv(const char *dir, const char *stdin_text, const char *const *argv,
                      struct harness_cmd *ret);

/* The same for the server binary with args (NULL-terminated, at most 30). */
void harness_run_server(const char *dir, const char *stdin_text, const char *const *args,
                        struct harness_cmd *ret);
