/* SPDX-License-Identifier: MIT */
/*
 * verstak-sync-mailer: the privilege-separated helper that sends the
 * daemon's e-mail (design.md §Processes).  It holds the SMTP password and
 * never opens the database or the blobs.  Start-up order, then lock-down:
 *
 *   flags -> config -> password -> outbox -> (root: drop to --user,
 *   verstak-mail by default) -> libcurl -> no-new-privs + own seccomp
 *   filter -> serve
 *
 * Everything a helper needs is read exactly once, in mailer_prepare(),
 * before root is given up: a root-started mailer never reads anything the
 * daemon's account could have written since.  The one exception is read
 * after root is given up: the earlier server's SMTP settings, which the
 * daemon hands over once on the channel (SMTP_CARRY) and the mailer keeps
 * in its own files (mailer_carry.h); a helper forked by the supervisor
 * reads them when the supervisor has not.  Modes: --fd N (one channel),
 * socket activation (sd_listen_fds), and --supervise, where helpers are
 * forked from the prepared (unprivileged) supervisor instead of being
 * executed afresh, so they inherit the configuration, the password and the
 * open outbox rather than reading them again (see mailer_supervise.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "config-version.h"
#include "config/config.h"
#include "mailer/mail_message.h"
#include "mailer/mailer_carry.h"
#include "mailer/mailer_seccomp.h"
#include "mailer/mailer_serve.h"
#include "mailer/mailer_setup.h"
#include "mailer/mailer_supervise.h"
#include "mailer/outbox.h"
#include "mailer/smtp.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/text.h"
#include "version.h"

/* Exit codes, as the server's: 0 clean end, 1 runtime failure, 2 usage or
 * configuration. */
#define EXIT_RUNTIME 1
#define EXIT_USAGE   2

/* Sender used when smtp.from is not set (fine for the outbox). */
#define MAILER_DEFAULT_FROM "verstak-sync-server@localhost"

/* The account a root-started mailer becomes (systemd/sysusers.d). */
#define MAILER_DEFAULT_USER "verstak-mail"

struct mailer_options {
        const char *config_path;
        const char *data_dir;
        const char *user;
        int fd; /* -1: not given */
        bool supervise;
        bool no_seccomp;
        bool allow_root;
        bool show_version;
        bool show_help;
};

enum {
        OPT_CONFIG = 0x100,
        OPT_DATA,
        OPT_FD,
        OPT_USER,
        OPT_SUPERVISE,
        OPT_NO_SECCOMP,
        OPT_ALLOW_ROOT,
        OPT_VERSION,
        OPT_HELP,
};

static const struct option long_options[] = {
        {"config", required_argument, NULL, OPT_CONFIG},
        {"data", required_argument, NULL, OPT_DATA},
        {"fd", required_argument, NULL, OPT_FD},
        {"user", required_argument, NULL, OPT_USER},
        {"supervise", no_argument, NULL, OPT_SUPERVISE},
        {"no-seccomp", no_argument, NULL, OPT_NO_SECCOMP},
        {"allow-root", no_argument, NULL, OPT_ALLOW_ROOT},
        {"version", no_argument, NULL, OPT_VERSION},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
};

static void print_help(const char *argv0)
{
        printf("Usage: %s [OPTIONS]\n\n"
               "Mail helper of verstak-sync-server: builds and sends its e-mail.\n\n"
               "  --config FILE   configuration file (default DIR/config.yml)\n"
               "  --data DIR      data directory, for the default outbox DIR/outbox\n"
               "                  (default ./server-data)\n"
               "  --fd N          serve the one channel already open on descriptor N\n"
               "  --supervise     with --fd: start helpers on request (used by the daemon)\n"
               "  --user NAME     account to become when started as root\n"
               "                  (default " MAILER_DEFAULT_USER ")\n"
               "  --allow-root    keep running as root instead of becoming --user\n"
               "  --no-seccomp    do not install the system call filter (debugging)\n"
               "  --version       print the version and exit\n"
               "  --help          print this help and exit\n\n"
               "Without --fd it serves a socket passed by systemd (socket activation).\n"
               "See verstak-sync-mailer(8).\n",
               argv0);
}

static int options_parse(int argc, char **argv, struct mailer_options *o)
{
        uint64_t fd;
        int c;

        *o = (struct mailer_options){.fd = -1, .user = MAILER_DEFAULT_USER};
        opterr = 0;
        while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
                switch (c) {
                case OPT_CONFIG:
                        o->config_path = optarg;
                        break;
                case OPT_DATA:
                        o->data_dir = optarg;
                        break;
                case OPT_FD:
                        if (parse_u64(optarg, &fd) < 0 || fd > INT_MAX) {
                                log_error("--fd: expected a descriptor number");
                                return -EINVAL;
                        }
                        o->fd = (int)fd;
                        break;
                case OPT_USER:
                        o->user = optarg;
                        break;
                case OPT_SUPERVISE:
                        o->supervise = true;
                        break;
                case OPT_NO_SECCOMP:
                        o->no_seccomp = true;
                        break;
                case OPT_ALLOW_ROOT:
                        o->allow_root = true;
                        break;
                case OPT_VERSION:
                        o->show_version = true;
                        break;
                case OPT_HELP:
                        o->show_help = true;
                        break;
                default:
                        log_error("Unknown or incomplete option '%s' (see --help)",
                                  argv[optind - 1]);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                log_error("Unexpected argument '%s' (see --help)", argv[optind]);
                return -EINVAL;
        }
        if (o->supervise && o->fd < 0) {
                log_error("--supervise needs --fd");
                return -EINVAL;
        }
        return 0;
}

/* Whether fd is an open socket of the given type. */
static bool fd_is_socket(int fd, int type)
{
        int t;
        socklen_t len = sizeof(t);

        return getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &len) == 0 && t == type;
}

static int load_config(struct config *cfg, const struct mailer_options *o, const char *data_dir)
{
        _cleanup_free_ char *default_path = NULL;
        char err[512] = "";
        int r;

        r = config_init_defaults(cfg);
        if (r < 0)
                return log_oom();
        if (!o->config_path && asprintf(&default_path, "%s/config.yml", data_dir) < 0)
                return log_oom();
        if (geteuid() == 0)
                r = mailer_config_read_trusted(cfg, o->config_path ? o->config_path : default_path,
                                               !o->config_path, err, sizeof(err));
        else if (o->config_path)
                r = config_load_file(cfg, o->config_path, false, err, sizeof(err));
        else
                r = config_load_file(cfg, default_path, true, err, sizeof(err));
        if (r >= 0)
                r = config_validate(cfg, err, sizeof(err));
        if (r >= 0 && cfg->smtp.host && smtp_host_check(cfg->smtp.host) < 0) {
                snprintf(err, sizeof(err), "smtp.host: expected a host name or IP address");
                r = -EINVAL;
        }
        if (r >= 0 && cfg->smtp.from && mail_address_check(cfg->smtp.from) < 0) {
                snprintf(err, sizeof(err), "smtp.from: expected a plain address (user@host)");
                r = -EINVAL;
        }
        if (r < 0)
                return log_error_errno(r, "Invalid configuration: %s", err[0] ? err : strerror(-r));
        return 0;
}

/* Everything the serving loop needs, owned here. */
struct mailer {
        struct config cfg;
        char *password; /* secret memory (util/secret.h), NULL when none */
        int outbox_fd;
        struct smtp_target smtp;
        struct mailer_context ctx;
        int carry_fd;     /* DATA/smtp-carried-over, -1 when none */
        char *carry_path; /* its path, for messages */
        bool carried;     /* delivering with the earlier server's settings */
};

static void mailer_done(struct mailer *m)
{
        if (m->carry_fd >= 0)
                (void)close(m->carry_fd);
        free(m->carry_path);
        mailer_password_free(m->password);
        if (m->outbox_fd >= 0)
                (void)close(m->outbox_fd);
        config_done(&m->cfg);
}

static void smtp_target_fill(struct mailer *m)
{
        m->smtp = (struct smtp_target){
                .host = m->cfg.smtp.host,
                .port = m->cfg.smtp.port,
                .security = m->cfg.smtp.security,
                .username = m->password ? m->cfg.smtp.username : NULL,
                .password = m->password,
                .timeout_seconds = (unsigned)m->cfg.smtp.timeout_seconds,
        };
}

static int setup_smtp(struct mailer *m)
{
        char err[256] = "";
        int r;

        r = mailer_password_read(&m->cfg, &m->password, err, sizeof(err));
        if (r < 0)
                return log_error_errno(r, "SMTP password: %s", err);
        if (m->cfg.smtp.username && !m->password)
                return log_error_errno(EINVAL, "smtp.username is set but no password was found "
                                               "(smtp.password_file or the smtp-password "
                                               "credential)");
        if (m->password && !m->cfg.smtp.username)
                log_warning("An SMTP password was found but smtp.username is not set; "
                            "not authenticating");
        if (m->password && m->cfg.smtp.security == SMTP_SECURITY_STARTTLS)
                log_warning("smtp.security is starttls: when the server does not offer "
                            "STARTTLS the password goes out in clear text; consider "
                            "starttls-required");
        if (!m->cfg.smtp.from)
                log_warning("smtp.from is not set; sending as %s", MAILER_DEFAULT_FROM);
        smtp_target_fill(m);
        return 0;
}

/* Open the outbox; *created tells whether it did not exist before. */
static int setup_outbox(struct mailer *m, const char *data_dir, bool *created)
{
        _cleanup_free_ char *path = NULL;

        if (m->cfg.smtp.outbox_dir)
                path = strdup(m->cfg.smtp.outbox_dir);
        else if (asprintf(&path, "%s/outbox", data_dir) < 0)
                path = NULL;
        if (!path)
                return log_oom();
        m->outbox_fd = outbox_open(path, created);
        if (m->outbox_fd == -ELOOP)
                return log_error_errno(m->outbox_fd,
                                       "Cannot open the outbox %s: a component is a symbolic "
                                       "link or not a directory",
                                       path);
        if (m->outbox_fd < 0)
                return log_error_errno(m->outbox_fd, "Cannot open the outbox %s: %m", path);
        log_info("No smtp.host configured: writing messages to %s", path);
        return 0;
}

/* Root gives way to the mailer's own account (never the daemon's, never
 * root); an outbox created just now is handed to it, nothing else. */
static int setup_identity(struct mailer *m, const struct mailer_options *o, bool outbox_created,
                          bool carry_created)
{
        struct mailer_account acct;
        int r;

        if (geteuid() != 0)
                return 0;
        if (o->allow_root) {
                log_warning("Running as root (--allow-root)");
                return 0;
        }
        r = mailer_account_lookup(o->user, &acct);
        if (r == -ESRCH)
                return log_error_errno(r,
                                       "Started as root, but the user '%s' does not exist "
                                       "(create it, e.g. with systemd-sysusers, or use "
                                       "--allow-root to stay root)",
                                       o->user);
        if (r == -EPERM)
                return log_error_errno(r, "--user '%s' is root; name an unprivileged account",
                                       o->user);
        if (r < 0)
                return log_error_errno(r, "Cannot look up the user '%s': %m", o->user);
        if (m->outbox_fd >= 0 && outbox_created && fchown(m->outbox_fd, acct.uid, acct.gid) < 0)
                return log_error_errno(errno, "Cannot hand the outbox to %s: %m", acct.name);
        if (m->carry_fd >= 0 && carry_created && fchown(m->carry_fd, acct.uid, acct.gid) < 0)
                return log_error_errno(errno, "Cannot hand %s to %s: %m", m->carry_path, acct.name);
        r = mailer_privileges_drop(&acct);
        if (r < 0)
                return log_error_errno(r, "Cannot become %s: %m", acct.name);
        if (m->outbox_fd >= 0 && faccessat(m->outbox_fd, ".", W_OK, AT_EACCESS) < 0)
                return log_error_errno(errno, "The outbox is not writable for %s: %m", acct.name);
        return 0;
}

/* The channel to serve: --fd, or the socket systemd passed. */
static int find_channel(const struct mailer_options *o, bool *ret_listening)
{
        int n;

        if (o->fd >= 0) {
                if (!fd_is_socket(o->fd, SOCK_STREAM))
                        return log_error_errno(ENOTSOCK, "--fd %d is not a stream socket", o->fd);
                *ret_listening = false;
                return o->fd;
        }
        n = sd_listen_fds(1);
        if (n < 0)
                return log_error_errno(n, "Cannot read the sockets passed by systemd: %m");
        if (n != 1 || sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) <= 0)
                return log_error_errno(EBADF, "Nothing to serve: give --fd, or start under "
                                              "socket activation with one AF_UNIX stream "
                                              "socket");
        *ret_listening = true;
        return SD_LISTEN_FDS_START;
}

static int lock_down(const struct mailer_options *o)
{
        int r;

        /* No core dumps or ptrace by the daemon's account: the password is
         * in this process. */
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return log_error_errno(errno, "Cannot mark the process undumpable: %m");
        if (o->no_seccomp) {
                log_warning("--no-seccomp: running without the system call filter");
                return 0;
        }
        r = mailer_seccomp_install();
        if (r < 0)
                return log_error_errno(r, "Cannot install the system call filter: %m");
        return 0;
}

/* Resolve host once now, so the name service has loaded every module its
 * configuration names: once the filter is in, no library can be mapped
 * executable.  The answer itself does not matter (a later lookup is made
 * for each delivery). */
static void preload_resolver(const char *host)
{
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;

        if (getaddrinfo(host, NULL, &hints, &res) == 0)
                freeaddrinfo(res);
}

/* --- the earlier server's SMTP settings -------------------------------- */

/* Deliver with the carried-over settings c from now on (taking what it
 * owns).  A password of the smtp-password credential stays in use. */
static void use_carried(struct mailer *m, struct mailer_carried *c)
{
        free(m->cfg.smtp.host);
        free(m->cfg.smtp.username);
        free(m->cfg.smtp.from);
        m->cfg.smtp.host = TAKE_PTR(c->cfg.smtp.host);
        m->cfg.smtp.username = TAKE_PTR(c->cfg.smtp.username);
        m->cfg.smtp.from = TAKE_PTR(c->cfg.smtp.from);
        m->cfg.smtp.port = c->cfg.smtp.port;
        m->cfg.smtp.security = c->cfg.smtp.security;
        if (!m->password)
                m->password = TAKE_PTR(c->password);
        if (m->outbox_fd >= 0)
                (void)close(m->outbox_fd);
        m->outbox_fd = -1;
        smtp_target_fill(m);
        m->ctx.from = m->cfg.smtp.from ? m->cfg.smtp.from : MAILER_DEFAULT_FROM;
        m->ctx.outbox_fd = -1;
        m->ctx.smtp = &m->smtp;
        m->carried = true;
}

/* The directory the earlier server's settings are kept in (mailer_carry.h),
 * created now when missing: by root for the account it becomes. */
static void open_carry_dir(struct mailer *m, const char *data_dir, bool *created)
{
        if (asprintf(&m->carry_path, "%s/%s", data_dir, MAILER_CARRY_DIR) < 0) {
                m->carry_path = NULL;
                log_oom();
                return;
        }
        m->carry_fd = fs_open_dir_nofollow(m->carry_path, 0700, created);
        if (m->carry_fd < 0) {
                log_warning_errno(m->carry_fd,
                                  "Cannot open %s: %m; the earlier server's SMTP settings "
                                  "cannot be taken over",
                                  m->carry_path);
                m->carry_fd = -1;
        }
}

/* Once root is given up: the directory must be this account's alone. */
static void check_carry_dir(struct mailer *m)
{
        struct stat st;

        if (m->carry_fd < 0)
                return;
        if (fstat(m->carry_fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 077)) {
                log_warning("%s is not a directory of this account closed to others; the "
                            "earlier server's SMTP settings are not taken over or used",
                            m->carry_path);
                (void)close(m->carry_fd);
                m->carry_fd = -1;
        }
}

/* Settings carried over by an earlier handover, when the configuration
 * sets no smtp.*: read as the mailer's own account, never as root. */
static void load_carried(struct mailer *m)
{
        _cleanup_(mailer_carried_done) struct mailer_carried c = {0};
        char err[512] = "";
        int r;

        if (m->carried || m->carry_fd < 0)
                return;
        r = mailer_carry_load(m->carry_fd, m->carry_path, &c, err, sizeof(err));
        if (r < 0) {
                log_warning_errno(r, "Not using the earlier server's SMTP settings: %s", err);
                return;
        }
        if (r == 0)
                return;
        use_carried(m, &c);
        log_info("Delivering through the earlier server's SMTP settings in %s: %s:%u (%s)", c.path,
                 m->cfg.smtp.host, (unsigned)m->cfg.smtp.port,
                 smtp_security_to_string(m->cfg.smtp.security));
}

/* SMTP_CARRY (mailer_serve.h): taken only by a mailer whose configuration
 * sets no smtp.* and which holds no carried-over settings yet. */
static int carry_over(void *userdata, const struct mail_smtp_carry *s, char *path, size_t path_size,
                      char *err, size_t err_size)
{
        _cleanup_(mailer_carried_done) struct mailer_carried c = {0};
        struct mailer *m = userdata;
        int r;

        if (m->cfg.smtp.delivery_set) {
                snprintf(err, err_size, "the mail helper's configuration sets smtp.*");
                return -EPERM;
        }
        if (m->carried) {
                snprintf(err, err_size, "the mail helper already holds carried-over settings");
                return -EEXIST;
        }
        if (m->carry_fd < 0) {
                snprintf(err, err_size,
                         "the mail helper has no directory of its own to keep them in");
                return -ENOENT;
        }
        r = mailer_carry_store(m->carry_fd, s, err, err_size);
        if (r == -EEXIST)
                snprintf(err, err_size, "the mail helper already holds carried-over settings");
        else if (r < 0 && r != -EINVAL)
                snprintf(err, err_size, "the mail helper cannot write its data directory: %s",
                         strerror(-r));
        if (r < 0)
                return r;
        /* Read back just as a later start reads them. */
        r = mailer_carry_load(m->carry_fd, m->carry_path, &c, err, err_size);
        if (r == 0)
                r = -ENOENT;
        if (r < 0)
                return r;
        use_carried(m, &c);
        snprintf(path, path_size, "%s", m->carry_path);
        struct log_field f[] = {{"EVENT", "smtp_carried_over"}};
        log_struct(LOG_NOTICE, f,
                   "Took over the earlier server's SMTP settings from the daemon: %s:%u (%s)%s; "
                   "kept in %s%s; used from now on",
                   m->cfg.smtp.host, (unsigned)m->cfg.smtp.port,
                   smtp_security_to_string(m->cfg.smtp.security),
                   m->cfg.smtp.username ? ", with a login" : "", m->carry_path,
                   s->password ? " (the password in its own file)" : "");
        return 0;
}

/*
 * The one place where the mailer reads its settings: the configuration,
 * the SMTP password and the outbox, then (root) the change of identity.
 * Run once, at start; nothing here is read again by a helper.
 */
static int mailer_prepare(struct mailer *m, const struct mailer_options *o)
{
        const char *data_dir = o->data_dir ? o->data_dir : "./server-data";
        bool created = false, carry_created = false;

        if (load_config(&m->cfg, o, data_dir) < 0)
                return -EINVAL;
        log_set_max_level(m->cfg.server.log_level);
        if (setup_smtp(m) < 0)
                return -EIO;
        if (!m->cfg.smtp.host && setup_outbox(m, data_dir, &created) < 0)
                return -EIO;
        if (!m->cfg.smtp.delivery_set)
                open_carry_dir(m, data_dir, &carry_created);
        if (setup_identity(m, o, created, carry_created) < 0)
                return -EIO;
        check_carry_dir(m);
        m->ctx = (struct mailer_context){
                .from = m->cfg.smtp.from ? m->cfg.smtp.from : MAILER_DEFAULT_FROM,
                .outbox_fd = m->outbox_fd,
                .smtp = &m->smtp,
                .carry = carry_over,
                .carry_userdata = m,
        };
        load_carried(m);
        /* Settings handed over later may name a host: have the name
         * service ready before the filter forbids loading its modules. */
        preload_resolver(m->cfg.smtp.host ? m->cfg.smtp.host : "localhost");
        if (m->cfg.smtp.host)
                log_debug("Delivering through %s:%u (%s)", m->cfg.smtp.host,
                          (unsigned)m->cfg.smtp.port,
                          smtp_security_to_string(m->cfg.smtp.security));
        return 0;
}

/* What a prepared mailer serves: a channel, or a listening socket. */
struct serve_args {
        struct mailer *m;
        const struct mailer_options *o;
        bool listening;
        bool curl_ready; /* initialised by the supervisor before forking */
};

/* libcurl, lock-down, serve.  In a helper forked by the supervisor, and in
 * a mailer that serves by itself. */
static int serve(int fd, void *userdata)
{
        const struct serve_args *a = userdata;
        int r = -EIO;

        /* A helper forked after another one took the earlier server's
         * settings: the supervisor did not see them. */
        load_carried(a->m);
        if (!a->curl_ready && smtp_global_init() < 0) {
                log_error("Cannot initialise libcurl");
                return r;
        }
        if (lock_down(a->o) >= 0) {
                if (a->listening) {
                        (void)sd_notify(0, "READY=1\nSTATUS=Waiting for the daemon");
                        r = mailer_serve_listener(&a->m->ctx, fd);
                } else
                        r = mailer_serve_channel(&a->m->ctx, fd);
        }
        if (!a->curl_ready)
                smtp_global_done();
        return r;
}

/* The supervisor holds the password from here on, as its helpers do:
 * undumpable, libcurl ready for the helpers it forks, and its own filter
 * (the mailer's plus forking and reaping). */
static int lock_down_supervisor(const struct mailer_options *o)
{
        int r;

        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return log_error_errno(errno, "Cannot mark the process undumpable: %m");
        if (smtp_global_init() < 0) {
                log_error("Cannot initialise libcurl");
                return -EIO;
        }
        if (o->no_seccomp)
                return 0;
        r = mailer_seccomp_install_supervisor();
        if (r < 0) {
                smtp_global_done();
                return log_error_errno(r, "Cannot install the system call filter: %m");
        }
        return 0;
}

static int run(const struct mailer_options *o)
{
        struct mailer m = {.outbox_fd = -1, .carry_fd = -1};
        struct serve_args a = {.m = &m, .o = o};
        int fd = -1, r;

        if (sodium_init() < 0) {
                log_error("Cannot initialise libsodium");
                return EXIT_RUNTIME;
        }
        if (o->supervise && !fd_is_socket(o->fd, SOCK_SEQPACKET)) {
                log_error("--fd %d is not a SOCK_SEQPACKET socket", o->fd);
                return EXIT_USAGE;
        }
        r = mailer_prepare(&m, o);
        if (r == -EINVAL) {
                mailer_done(&m);
                return EXIT_USAGE;
        }
        if (r >= 0 && o->supervise) {
                r = lock_down_supervisor(o);
                if (r >= 0) {
                        a.curl_ready = true;
                        r = mailer_supervise(o->fd, serve, &a);
                        smtp_global_done();
                }
        } else if (r >= 0) {
                fd = find_channel(o, &a.listening);
                r = fd < 0 ? fd : serve(fd, &a);
        }
        mailer_done(&m);
        return r < 0 ? EXIT_RUNTIME : 0;
}

int main(int argc, char **argv)
{
        struct mailer_options o;

        log_open("verstak-sync-mailer");
        if (options_parse(argc, argv, &o) < 0)
                return EXIT_USAGE;
        if (o.show_help) {
                print_help(argv[0]);
                return 0;
        }
        if (o.show_version) {
                printf("verstak-sync-mailer %s (%s)\n", VERSTAK_VERSION, VERSTAK_BUILD_COMMIT);
                return 0;
        }
        /* A vanished peer is an error return, never a signal. */
        if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
                return EXIT_RUNTIME;
        return run(&o);
}
