/* SPDX-License-Identifier: MIT */
/*
 * verstak-sync-server: start-up in the order of design.md §Processes,
 * then a main loop that waits for signals and runs periodic work, then an
 * orderly shutdown.  Serving itself happens on libmicrohttpd's threads.
 *
 *   flags + config (+ target user resolved) -> data directory (created,
 *   not read) -> listeners -> (mailer helper) -> privilege drop when root
 *   -> database (migrations) -> admins -> the earlier server's SMTP
 *   settings (handed to the mailer) -> PR_SET_NO_NEW_PRIVS -> seccomp ->
 *   HTTP server -> READY=1 -> main loop (signals, watchdog, STATUS=) ->
 *   STOPPING=1 -> drain -> exit 0
 *
 * Nothing in the data directory is opened as root: the database and
 * everything else the daemon's account can write are read only once root
 * is given up (docs/security.md).
 *
 * main() handles the flags and the configuration (exit 2 when either is
 * bad); run() is the rest, one step per call: prepare_process(),
 * open_data_dir(), listen_acquire(), start_mailer(), drop_privileges(),
 * app_new() (blob store, database; server/app.h), prepare_data(),
 * smtp_legacy_carry_over(), lock_down(), serve(), app_free().
 *
 * The seccomp filter goes in before libmicrohttpd starts its threads, so
 * every thread inherits it (it is also thread-synchronised).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "api/app.h"
#include "api/longpoll.h"
#include "api/metrics.h"
#include "api/routes.h"
#include "auth/password.h"
#include "auth/token.h"
#include "config/config.h"
#include "daemon/listen.h"
#include "daemon/notify.h"
#include "daemon/privdrop.h"
#include "daemon/dbnet.h"
#include "daemon/seccomp.h"
#include "http/http.h"
#include "http/text_server.h"
#include "mailer/mail_client.h"
#include "server/admin_password.h"
#include "server/app.h"
#include "server/heap.h"
#include "server/cmd.h"
#include "server/options.h"
#include "server/retention.h"
#include "server/smtp_legacy.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/secret.h"
#include "util/text.h"
#include "version.h"

/* Exit codes: 0 clean stop, 1 runtime failure, 2 bad flags or config. */
#define EXIT_RUNTIME 1
#define EXIT_USAGE   2

/* How often STATUS= is refreshed, in microseconds. */
#define STATUS_INTERVAL_USEC (10 * 1000000ull)

/* The mail helper's file name, looked for beside this binary (a build
 * tree) before its installed path; VERSTAK_MAILER_BIN overrides both. */
#define MAILER_BINARY  "verstak-sync-mailer"
#define MAILER_ENV_BIN "VERSTAK_MAILER_BIN"

static int bootstrap_admin(struct app *app, struct options *o)
{
        char hash[PASSWORD_HASH_MAX], id[TOKEN_USER_ID_HEX + 1];
        _cleanup_secret_ char *password = NULL;
        int r;

        if (o->admin_pass)
                log_warning("--admin-pass exposes the password to other local users; prefer "
                            "--admin-pass-file or --admin-pass-stdin");
        r = admin_password_read(o->admin_pass, o->admin_pass_file, &password);
        options_forget_password(o);
        if (r < 0)
                return r;
        if (!password) /* never: for the static analysers, which cannot see fs_read_file() */
                return -EIO;
        if (strlen(password) < 8)
                log_warning("The administrator password is shorter than 8 characters");
        r = password_hash(password, hash);
        secret_freep(&password);
        if (r < 0)
                return log_error_errno(r, "Cannot hash the administrator password: %m");
        token_random_hex(id, TOKEN_USER_ID_HEX);
        r = store_admin_upsert(app->store, id, o->admin_user, hash);
        if (r < 0)
                return log_error_errno(r, "Cannot store the administrator: %m");
        struct log_field f[] = {{"MESSAGE_ID", LOG_MID_ADMIN_ACTION}, {"EVENT", "admin_bootstrap"}};
        log_struct(LOG_NOTICE, f, "Administrator '%s' %s", o->admin_user,
                   r > 0 ? "created" : "password updated");
        return 0;
}

static int import_config_admins(struct app *app)
{
        for (size_t i = 0; i < app->config->n_admins; i++) {
                char id[TOKEN_USER_ID_HEX + 1];
                token_random_hex(id, TOKEN_USER_ID_HEX);
                int r = store_admin_import(app->store, id, app->config->admins[i].username,
                                           app->config->admins[i].password_hash);
                if (r < 0)
                        return log_error_errno(r, "Cannot import administrator from config: %m");
                if (r > 0)
                        log_notice("Imported administrator '%s' from the configuration file",
                                   app->config->admins[i].username);
        }
        return 0;
}

static int load_config(struct config *cfg, const struct options *o, const char *data_dir)
{
        char err[512] = "";
        _cleanup_free_ char *default_path = NULL;
        int r;

        r = config_init_defaults(cfg);
        if (r < 0)
                return r;
        if (o->config_path)
                r = config_load_file(cfg, o->config_path, false, err, sizeof(err));
        else {
                if (asprintf(&default_path, "%s/config.yml", data_dir) < 0)
                        return -ENOMEM;
                r = config_load_file(cfg, default_path, true, err, sizeof(err));
        }
        if (r >= 0)
                r = config_apply_env(cfg, err, sizeof(err));
        if (r >= 0 && o->listen)
                r = config_set_listen(cfg, o->listen, err, sizeof(err));
        if (r >= 0 && o->port) {
                char addr[64];
                uint64_t port;
                if (parse_u64(o->port, &port) < 0 || port > 65535) {
                        snprintf(err, sizeof(err), "--port: expected a port number 0-65535");
                        r = -EINVAL;
                } else {
                        snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)port);
                        r = config_set_listen(cfg, addr, err, sizeof(err));
                }
        }
        if (r >= 0 && o->log_level) {
                int level = log_level_from_string(o->log_level);
                if (level < 0) {
                        snprintf(err, sizeof(err),
                                 "--log-level: expected err, warning, notice, info or debug");
                        r = -EINVAL;
                } else
                        cfg->server.log_level = level;
        }
        if (r >= 0)
                r = config_validate(cfg, err, sizeof(err));
        if (r >= 0)
                r = config_read_database_url(cfg, err, sizeof(err));
        if (r < 0) {
                log_error("Invalid configuration: %s", err[0] ? err : strerror(-r));
                return r;
        }
        for (size_t i = 0; i < cfg->n_ignored_keys; i++)
                log_warning("Configuration: %s is a setting of the earlier server that means "
                            "nothing here; ignored (remove it from the file)",
                            cfg->ignored_keys[i]);
        return 0;
}

/* The mail helper to start: $VERSTAK_MAILER_BIN, else the one beside this
 * binary, else the installed one. */
static int mailer_path(char **ret)
{
        const char *env = getenv(MAILER_ENV_BIN);
        char self[PATH_MAX];
        ssize_t n;

        if (env && *env) {
                *ret = strdup(env);
                return *ret ? 0 : -ENOMEM;
        }
        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
                self[n] = '\0';
                char *slash = strrchr(self, '/');
                if (slash) {
                        *slash = '\0';
                        if (asprintf(ret, "%s/%s", self, MAILER_BINARY) < 0)
                                return -ENOMEM;
                        if (access(*ret, X_OK) == 0)
                                return 0;
                        free(*ret);
                }
        }
        *ret = strdup(VERSTAK_MAILER_PATH);
        return *ret ? 0 : -ENOMEM;
}

/*
 * Reach the mail helper: the socket-activated unit when smtp.socket is
 * configured (under systemd it is its own unit), else a helper started
 * here.  It must be forked before the privilege drop and the seccomp
 * filter, which forbid both fork and exec: this is the daemon's only
 * fork+exec.  Without it the daemon still serves; account e-mails then
 * fail, are logged and counted.
 */
static void start_mailer(const struct config *cfg, const struct options *o, const char *data_dir,
                         struct mail_client **ret)
{
        _cleanup_free_ char *path = NULL, *default_config = NULL;
        const char *config_path = o->config_path;
        const char *extra[3] = {NULL};
        size_t n = 0;
        int r;

        if (cfg->smtp.socket_path) {
                r = mail_client_new_connect(cfg->smtp.socket_path, ret);
                if (r < 0)
                        log_error_errno(r, "Cannot reach the mail helper at %s: %m",
                                        cfg->smtp.socket_path);
                return;
        }
        r = mailer_path(&path);
        if (r >= 0 && !config_path) {
                if (asprintf(&default_config, "%s/config.yml", data_dir) < 0) {
                        default_config = NULL;
                        r = -ENOMEM;
                } else if (access(default_config, F_OK) == 0)
                        config_path = default_config;
        }
        if (r < 0) {
                log_oom();
                return;
        }
        /* A daemon that stays root lets its helper stay root as well. */
        if (o->allow_root && geteuid() == 0)
                extra[n++] = "--allow-root";
        if (o->no_seccomp)
                extra[n++] = "--no-seccomp";
        r = mail_client_new_spawn_argv(path, config_path, data_dir, extra, ret);
        if (r < 0)
                log_error_errno(r,
                                "Cannot start the mail helper %s: %m; account e-mails will "
                                "not be sent",
                                path);
}

static void raise_fd_limit(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
}

static void update_status(struct app *app, struct http_server *http, bool wedged)
{
        struct store_counts counts;

        if (wedged) {
                (void)sd_notify(0, "STATUS=Database not answering; watchdog withheld");
                return;
        }
        if (store_get_counts(app->store, &counts) < 0)
                return;
        char mail[48] = "";
        unsigned long long mail_failures = atomic_load(&app->mail_failures);
        if (mail_failures > 0)
                snprintf(mail, sizeof(mail), ", %llu e-mails failed", mail_failures);
        (void)sd_notifyf(0,
                         "STATUS=Serving: %llu requests, %lld ops (last sequence %lld), %lld "
                         "users, %lld active devices, %u waiting pulls%s",
                         (unsigned long long)http_server_requests(http), (long long)counts.ops,
                         (long long)counts.last_sequence, (long long)counts.users,
                         (long long)counts.devices, longpoll_waiting(app->longpoll), mail);
}

/* SIGHUP: re-read the configuration and apply what can change safely
 * while serving, which today is the log level (flags still win).  Anything
 * else needs a restart.  An invalid file keeps the running settings. */
static void reload(struct app *app, const struct options *o)
{
        struct config fresh = {0};

        notify_reloading(clock_now_usec());
        if (load_config(&fresh, o, app->data_dir) < 0)
                log_warning("Reload failed; keeping the running configuration");
        else {
                log_set_max_level(fresh.server.log_level);
                app->config->server.log_level = fresh.server.log_level;
                struct log_field f[] = {{"EVENT", "reload"}};
                log_struct(LOG_NOTICE, f, "Configuration reloaded (log level %d)",
                           fresh.server.log_level);
        }
        config_done(&fresh);
        (void)sd_notify(0, "READY=1");
}

static struct timespec usec_to_timespec(uint64_t usec)
{
        return (struct timespec){.tv_sec = (time_t)(usec / 1000000u),
                                 .tv_nsec = (long)(usec % 1000000u) * 1000L};
}

/* Wait for signals; between them ping the watchdog (while the store takes
 * a write lock) and refresh STATUS=.  Returns 0 on SIGTERM/SIGINT. */
static int main_loop(struct app *app, struct http_server *http, const struct options *o,
                     const sigset_t *mask)
{
        struct watchdog wd;
        uint64_t now = clock_now_usec(), next_status = now + STATUS_INTERVAL_USEC;
        int r;

        r = watchdog_init(&wd, now);
        if (r < 0)
                log_warning_errno(r, "Ignoring a malformed WATCHDOG_USEC: %m");
        else if (r > 0)
                log_debug("Watchdog on: pinging every %llu us",
                          (unsigned long long)wd.interval_usec);
        time_t last_retention = time(NULL);
        struct heap_watch heap = {0};
        uint64_t next_heap = now + HEAP_TICK_USEC;

        for (;;) {
                uint64_t next = next_heap < next_status ? next_heap : next_status;
                uint64_t wait = next > now ? next - now : 0;
                uint64_t due = watchdog_due_in(&wd, now);
                struct timespec timeout = usec_to_timespec(due < wait ? due : wait);
                siginfo_t si;
                int sig = sigtimedwait(mask, &si, &timeout);

                if (sig == SIGTERM || sig == SIGINT) {
                        log_info("Received %s, shutting down",
                                 sig == SIGTERM ? "SIGTERM" : "SIGINT");
                        return 0;
                }
                if (sig == SIGHUP)
                        reload(app, o);
                if (sig < 0 && errno != EAGAIN && errno != EINTR)
                        return log_error_errno(errno, "sigtimedwait failed: %m");

                if (time(NULL) - last_retention >= RETENTION_INTERVAL_SECONDS) {
                        last_retention = time(NULL);
                        retention_run(app, last_retention);
                }
                now = clock_now_usec();
                if (watchdog_due_in(&wd, now) == 0)
                        (void)watchdog_feed(
                                &wd, now,
                                store_probe_write(app->store, watchdog_probe_timeout_ms(&wd)));
                if (now >= next_heap) {
                        (void)heap_watch_tick(&heap, http_server_requests(http), app->store);
                        next_heap = now + HEAP_TICK_USEC;
                }
                if (now >= next_status || sig == SIGHUP) {
                        update_status(app, http, wd.wedged);
                        next_status = now + STATUS_INTERVAL_USEC;
                }
        }
}

/* "127.0.0.1:47732, unix:/run/x.sock" for the start-up record. */
static void describe_listeners(const int *fds, int n, char *out, size_t size)
{
        size_t off = 0;

        out[0] = '\0';
        for (int i = 0; i < n && off + 2 < size; i++) {
                char one[160];
                if (listen_describe(fds[i], one, sizeof(one)) < 0)
                        snprintf(one, sizeof(one), "fd %d", fds[i]);
                int w = snprintf(out + off, size - off, "%s%s", i ? ", " : "", one);
                if (w < 0)
                        break;
                off += (size_t)w < size - off ? (size_t)w : size - off - 1;
        }
}

/* Decide who the process will run as.  Root without --allow-root drops to
 * server.user/server.group, which are looked up now, before anything is
 * created.  Returns 1 when a drop is due, 0 when not, negative on error. */
static int plan_identity(const struct config *cfg, const struct options *o,
                         struct privdrop_target *ret)
{
        int r;

        if (!privdrop_is_root())
                return 0;
        if (o->allow_root) {
                struct log_field f[] = {{"MESSAGE_ID", LOG_MID_SECURITY},
                                        {"EVENT", "running_as_root"}};
                log_struct(LOG_WARNING, f,
                           "Running as root because of --allow-root; meant for containers only");
                return 0;
        }
        r = privdrop_resolve(cfg->server.user, cfg->server.group, ret);
        if (r == -ESRCH)
                return log_error_errno(r,
                                       "server.user: no such user '%s' (create it, e.g. with "
                                       "systemd-sysusers, or pass --allow-root)",
                                       cfg->server.user);
        if (r == -ENOENT)
                return log_error_errno(r, "server.group: no such group '%s'", cfg->server.group);
        if (r == -EINVAL)
                return log_error_errno(r,
                                       "server.user: '%s' is root; name an unprivileged "
                                       "account or pass --allow-root",
                                       cfg->server.user);
        if (r < 0)
                return log_error_errno(r, "server.user: cannot look up '%s': %m", cfg->server.user);
        return 1;
}

/* Hand the data directory to the target user and become that user.  The
 * mail helper's own entries (its outbox, its smtp-carried-over directory)
 * stay its own (privdrop_chown_tree()). */
static int drop_privileges(int data_dir_fd, const char *data_dir, const struct config *cfg,
                           const struct privdrop_target *t)
{
        int r;

        r = privdrop_chown_tree(data_dir_fd, t->uid, t->gid, NULL);
        if (r < 0)
                return log_error_errno(r, "Cannot hand %s over to user '%s': %m", data_dir,
                                       cfg->server.user);
        if (r > 0)
                log_info("Changed the owner of %d entries under %s to %u:%u", r, data_dir,
                         (unsigned)t->uid, (unsigned)t->gid);
        r = privdrop_apply(t);
        if (r < 0)
                return log_error_errno(r, "Cannot drop privileges to user '%s': %m",
                                       cfg->server.user);
        struct log_field f[] = {{"MESSAGE_ID", LOG_MID_SECURITY}, {"EVENT", "privileges_dropped"}};
        log_struct(LOG_NOTICE, f,
                   "Dropped privileges to user '%s' (uid %u, gid %u, no supplementary groups); "
                   "root cannot be regained",
                   cfg->server.user, (unsigned)t->uid, (unsigned)t->gid);
        return 0;
}

/* PR_SET_NO_NEW_PRIVS, then the allow-list unless --no-seccomp: the
 * wider one (daemon/seccomp.h) only when database_url (NULL: SQLite) is
 * PostgreSQL over TCP. */
static int lock_down(const struct options *o, pid_t child, const char *socket_path,
                     const char *database_url)
{
        const struct seccomp_profile *profile;
        bool database_tcp;
        int r;

        r = seccomp_no_new_privs();
        if (r < 0)
                return log_error_errno(r, "Cannot set PR_SET_NO_NEW_PRIVS: %m");
        if (o->no_seccomp) {
                struct log_field f[] = {{"MESSAGE_ID", LOG_MID_SECURITY},
                                        {"EVENT", "seccomp_disabled"}};
                log_struct(LOG_WARNING, f,
                           "--no-seccomp: running WITHOUT the system call filter; for debugging "
                           "only");
                return 0;
        }
        r = dbnet_url_needs_tcp(database_url, &database_tcp);
        if (r < 0)
                return log_error_errno(r, "database.url: cannot tell how it is reached: %m");
        profile = seccomp_server_profile(database_tcp);
        /* connect() only for the mail helper's socket path (systemd) and
         * for PostgreSQL, whose connections are opened again after the
         * server drops them; without a TCP URL the profile still allows
         * only AF_UNIX sockets. */
        bool database_pg = database_url && database_url[0];
        r = seccomp_profile_install(
                profile, socket_path || database_pg ? seccomp_server_connect : NULL, child);
        if (r < 0)
                return log_error_errno(r, "Cannot install the seccomp filter: %m");
        log_debug("seccomp filter installed (profile %s)", profile->name);
        return 0;
}

/* HTTP worker threads per listening socket: server.threads, or when 0
 * twice the online CPUs and at least 4 (config.h, the yml(5) page).
 * Asked before the seccomp filter, which may hide the CPU count. */
static unsigned http_threads(const struct config *cfg)
{
        long cpus;

        if (cfg->server.threads > 0)
                return cfg->server.threads;
        cpus = sysconf(_SC_NPROCESSORS_ONLN);
        return cpus >= 2 ? (unsigned)cpus * 2 : 4;
}

/* Process-wide settings made before any thread starts: the heap, the
 * password hash slots, the umask, the fd limit, and the signals
 * main_loop() waits for, blocked so that every thread inherits the
 * mask. */
static void prepare_process(const struct config *cfg, sigset_t *mask)
{
        heap_tune();
        if (password_limit((unsigned)cfg->server.password_hashes,
                           (unsigned)cfg->server.password_wait_ms) < 0)
                log_warning("Cannot set the password hash slots; using the defaults");
        umask(0027);
        raise_fd_limit();
        sigemptyset(mask);
        sigaddset(mask, SIGTERM);
        sigaddset(mask, SIGINT);
        sigaddset(mask, SIGHUP);
        pthread_sigmask(SIG_BLOCK, mask, NULL);
        signal(SIGPIPE, SIG_IGN);
}

/* The database before serving: expired records gone, the administrators
 * of the configuration file and of --admin-user in place (and the
 * password of the latter released). */
static int prepare_data(struct app *app, struct options *o)
{
        retention_run(app, time(NULL));
        if (import_config_admins(app) < 0)
                return -EINVAL;
        if (o->admin_user && bootstrap_admin(app, o) < 0)
                return -EINVAL;
        return 0;
}

static void log_started(const int *fds, int n, bool activated)
{
        char where[512] = "";
        struct log_field f[] = {{"MESSAGE_ID", LOG_MID_STARTED}, {"EVENT", "started"}};

        describe_listeners(fds, n, where, sizeof(where));
        log_struct(LOG_NOTICE, f, "verstak-sync-server %s serving on %s%s", VERSTAK_VERSION, where,
                   activated ? " (socket activation)" : "");
}

/* limits.max_connections_per_client, unless a trusted proxy connects over
 * IP: then every client arrives from the proxy's address, and the proxy
 * must bound its clients itself. */
static unsigned connections_per_client(const struct config *cfg)
{
        for (size_t i = 0; i < cfg->n_trusted_proxies; i++)
                if (cfg->trusted_proxies[i].family != AF_UNIX) {
                        if (cfg->limits.max_connections_per_client > 0)
                                log_info("limits.max_connections_per_client is not applied: "
                                         "clients arrive through a trusted proxy");
                        return 0;
                }
        return (unsigned)cfg->limits.max_connections_per_client;
}

/* Serve on fds[0..n) (handed to the HTTP server, or closed when it cannot
 * start) until SIGTERM/SIGINT, then stop accepting, answer the held long
 * polls and let the rest finish. */
/* The metrics listener on fd (taken over), when there is one. */
static int serve_metrics(struct app *app, int fd, struct http_text_server **ret)
{
        char where[160] = "";
        int r;

        *ret = NULL;
        if (fd < 0)
                return 0;
        (void)listen_describe(fd, where, sizeof(where));
        r = http_text_server_start(fd, "/metrics", API_METRICS_CONTENT_TYPE, api_metrics_render,
                                   app, ret);
        if (r < 0)
                return log_error_errno(r, "Cannot serve metrics on %s: %m", where);
        log_info("Metrics on %s (GET /metrics)", where);
        return 0;
}

static int serve(struct app *app, const struct options *o, int *fds, int n, bool activated,
                 int metrics_fd, unsigned threads, const sigset_t *mask)
{
        struct http_text_server *metrics = NULL;
        const struct config *cfg = app->config;
        struct http_params params = {
                .routes = api_routes,
                .n_routes = api_n_routes,
                .max_json_body = cfg->limits.max_json_body,
                .trusted_proxies = cfg->trusted_proxies,
                .n_trusted_proxies = cfg->n_trusted_proxies,
                .threads = threads,
                .max_connections_per_client = connections_per_client(cfg),
                .head_seconds = (unsigned)cfg->limits.request_head_seconds,
                .min_body_rate = cfg->limits.min_body_rate,
                .body_grace_seconds = (unsigned)cfg->limits.body_rate_seconds,
                .userdata = app,
                .request_done = app->metrics ? api_metrics_request_done : NULL,
                .request_done_userdata = app->metrics,
        };
        struct http_server *http;
        int r;

        r = http_server_start(&params, fds, (size_t)n, &http);
        if (r < 0) {
                for (int i = 0; i < n; i++)
                        close(fds[i]);
                if (metrics_fd >= 0)
                        close(metrics_fd);
                return r;
        }
        r = serve_metrics(app, metrics_fd, &metrics);
        if (r < 0) {
                http_server_stop(http, 0);
                return r;
        }
        log_started(fds, n, activated);
        (void)sd_notify(0, "READY=1");
        update_status(app, http, false);

        r = main_loop(app, http, o, mask);

        (void)sd_notify(0, "STOPPING=1\nSTATUS=Shutting down");
        http_server_quiesce(http);
        longpoll_shutdown(app->longpoll);
        http_server_stop(http, HTTP_SHUTDOWN_SECS);
        http_text_server_stop(metrics);
        return r;
}

/* Create the data directory when missing and open it, without reading
 * anything in it: this runs as root when started so.  *ret_path gets its
 * absolute path. */
static int open_data_root(const char *data_dir, char **ret_path, int *ret_fd)
{
        char real[PATH_MAX];
        int r;

        r = fs_mkdir_p(data_dir, 0750);
        if (r < 0)
                return log_error_errno(r, "Cannot create data directory %s: %m", data_dir);
        if (!realpath(data_dir, real))
                return log_error_errno(errno, "Cannot resolve data directory %s: %m", data_dir);
        *ret_path = strdup(real);
        if (!*ret_path)
                return log_oom();
        *ret_fd = open(real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (*ret_fd < 0)
                return log_error_errno(errno, "Cannot open data directory %s: %m", real);
        return 0;
}

/* Everything from the data directory to the orderly stop, in the order of
 * the comment at the top.  0 after a clean stop, else a negative errno
 * (already logged). */
static int run(struct config *cfg, struct options *o, const char *data_dir,
               const struct privdrop_target *drop_to)
{
        _cleanup_free_ char *data_path = NULL;
        _cleanup_close_ int data_fd = -1;
        struct mail_client *mail = NULL;
        struct app *app = NULL;
        int fds[LISTEN_MAX_FDS], n_fds = 0, activated = 0, metrics_fd = -1;
        unsigned threads = http_threads(cfg);
        sigset_t mask;
        int r;

        prepare_process(cfg, &mask);
        r = open_data_root(data_dir, &data_path, &data_fd);
        if (r < 0)
                return r;
        n_fds = listen_acquire_with_metrics(cfg->listen, cfg->metrics.listen, fds, &activated,
                                            &metrics_fd);
        if (n_fds < 0)
                return log_error_errno(n_fds, "Cannot listen on %s%s%s: %m", cfg->listen,
                                       cfg->metrics.listen ? " and " : "",
                                       cfg->metrics.listen ? cfg->metrics.listen : "");
        start_mailer(cfg, o, data_path, &mail);
        if (drop_to)
                r = drop_privileges(data_fd, data_path, cfg, drop_to);
        /* From here on, as the daemon's own account. */
        if (r >= 0)
                r = app_new(cfg, data_path, &app);
        if (r >= 0) {
                app->mail = TAKE_PTR(mail);
                app->run_retention = retention_run;
                r = prepare_data(app, o);
        }
        if (r >= 0)
                r = smtp_legacy_carry_over(app, cfg, &app->smtp_sources);
        if (r >= 0 && metrics_fd >= 0 && api_metrics_new(&app->metrics) < 0)
                r = log_oom();
        if (r >= 0 && !cfg->public_url) {
                struct log_field f[] = {{"MESSAGE_ID", LOG_MID_SECURITY},
                                        {"EVENT", "public_url_unset"}};
                log_struct(LOG_WARNING, f,
                           "public_url is not set: account e-mails (confirmation, password "
                           "reset) are sent only for requests made to a loopback host; set "
                           "public_url to the address clients use");
        }
        if (r >= 0)
                r = lock_down(o, mail_client_supervisor_pid(app->mail), cfg->smtp.socket_path,
                              cfg->database.url);
        if (r < 0) {
                for (int i = 0; i < n_fds; i++)
                        close(fds[i]);
                if (metrics_fd >= 0)
                        close(metrics_fd);
                goto out;
        }
        r = serve(app, o, fds, n_fds, activated, metrics_fd, threads, &mask);
out:
        mail_client_free(mail);
        app_free(app);
        return r;
}

int main(int argc, char **argv)
{
        struct options opts;
        struct config cfg = {0};
        struct privdrop_target target;
        const char *data_dir;
        char err[512] = "";
        int r, drop, exit_code = EXIT_USAGE;

        /* Operator subcommands (backup, restore, check, gc, …) never serve. */
        if (argc > 1 && cmd_is_subcommand(argv[1]))
                return cmd_main(argc, argv);

        log_open("verstak-sync-server");
        r = options_parse(argc, argv, &opts, err, sizeof(err));
        if (r < 0) {
                log_error("%s (see --help)", err);
                options_done(&opts);
                return EXIT_USAGE;
        }
        if (opts.show_help || opts.show_version) {
                if (opts.show_help)
                        options_print_help(argv[0]);
                else
                        printf("verstak-sync-server %s (%s)\n", VERSTAK_VERSION,
                               VERSTAK_BUILD_COMMIT);
                options_done(&opts);
                return 0;
        }
        if (sodium_init() < 0) {
                log_error("Cannot initialise libsodium");
                options_done(&opts);
                return EXIT_RUNTIME;
        }

        data_dir = opts.data_dir ? opts.data_dir : "./server-data";
        if (load_config(&cfg, &opts, data_dir) < 0)
                goto out;
        log_set_max_level(cfg.server.log_level);
        drop = plan_identity(&cfg, &opts, &target);
        if (drop < 0)
                goto out;
        if (opts.check_config) {
                /* Nothing is created or opened: safe before a restart. */
                printf("Configuration is valid (listen %s%s)\n", cfg.listen,
                       drop ? ", will run as server.user" : "");
                exit_code = 0;
                goto out;
        }

        exit_code = run(&cfg, &opts, data_dir, drop ? &target : NULL) < 0 ? EXIT_RUNTIME : 0;
        struct log_field f[] = {{"MESSAGE_ID", LOG_MID_STOPPED}, {"EVENT", "stopped"}};
        log_struct(exit_code == 0 ? LOG_NOTICE : LOG_ERR, f, "verstak-sync-server stopped%s",
                   exit_code == 0 ? "" : " after an error");
out:
        config_done(&cfg);
        options_done(&opts);
        return exit_code;
}
