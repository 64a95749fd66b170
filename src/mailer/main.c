/* SPDX-License-Identifier: MIT */
/*
 * verstak-sync-mailer: the privilege-separated helper that sends the
 * daemon's e-mail (design.md §Processes).  It holds the SMTP password and
 * never opens the database or the blobs.  Start-up order, then lock-down:
 *
 *   flags -> config -> password -> outbox -> (root: drop to server.user)
 *   -> libcurl -> no-new-privs + own seccomp filter -> serve
 *
 * Modes: --fd N (one channel, from the supervisor), socket activation
 * (sd_listen_fds), and --supervise (see mailer_supervise.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
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
#include "mailer/mailer_seccomp.h"
#include "mailer/mailer_serve.h"
#include "mailer/mailer_setup.h"
#include "mailer/mailer_supervise.h"
#include "mailer/outbox.h"
#include "mailer/smtp.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/text.h"
#include "version.h"

/* Exit codes, as the server's: 0 clean end, 1 runtime failure, 2 usage or
 * configuration. */
#define EXIT_RUNTIME 1
#define EXIT_USAGE   2

/* Sender used when smtp.from is not set (fine for the outbox). */
#define MAILER_DEFAULT_FROM "verstak-sync-server@localhost"

struct mailer_options {
        const char *config_path;
        const char *data_dir;
        const char *smtp_carried_over; /* the earlier server's settings */
        int fd;                        /* -1: not given */
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
        OPT_SUPERVISE,
        OPT_NO_SECCOMP,
        OPT_ALLOW_ROOT,
        OPT_VERSION,
        OPT_HELP,
        OPT_SMTP_CARRIED_OVER,
};

static const struct option long_options[] = {
        {"config", required_argument, NULL, OPT_CONFIG},
        {"data", required_argument, NULL, OPT_DATA},
        {"fd", required_argument, NULL, OPT_FD},
        {"supervise", no_argument, NULL, OPT_SUPERVISE},
        {"no-seccomp", no_argument, NULL, OPT_NO_SECCOMP},
        {"allow-root", no_argument, NULL, OPT_ALLOW_ROOT},
        {"version", no_argument, NULL, OPT_VERSION},
        {"help", no_argument, NULL, OPT_HELP},
        {"smtp-carried-over", required_argument, NULL, OPT_SMTP_CARRIED_OVER},
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
               "  --smtp-carried-over FILE\n"
               "                  the earlier server's SMTP settings (written by the daemon),\n"
               "                  used when the configuration sets no smtp.* delivery key\n"
               "  --supervise     with --fd: start helpers on request (used by the daemon)\n"
               "  --allow-root    keep running as root instead of becoming server.user\n"
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

        *o = (struct mailer_options){.fd = -1};
        opterr = 0;
        while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
                switch (c) {
                case OPT_CONFIG:
                        o->config_path = optarg;
                        break;
                case OPT_DATA:
                        o->data_dir = optarg;
                        break;
                case OPT_SMTP_CARRIED_OVER:
                        o->smtp_carried_over = optarg;
                        break;
                case OPT_FD:
                        if (parse_u64(optarg, &fd) < 0 || fd > INT_MAX) {
                                log_error("--fd: expected a descriptor number");
                                return -EINVAL;
                        }
                        o->fd = (int)fd;
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

/* The helper's arguments: the supervisor's own, without --supervise. */
static char **helper_argv(int argc, char **argv)
{
        char **out = calloc((size_t)argc + 1, sizeof(char *));
        int n = 0;

        if (!out)
                return NULL;
        for (int i = 0; i < argc; i++)
                if (strcmp(argv[i], "--supervise") != 0)
                        out[n++] = argv[i];
        return out;
}

static int run_supervisor(const struct mailer_options *o, int argc, char **argv)
{
        _cleanup_free_ char **args = NULL;

        if (!fd_is_socket(o->fd, SOCK_SEQPACKET)) {
                log_error("--fd %d is not a SOCK_SEQPACKET socket", o->fd);
                return EXIT_USAGE;
        }
        args = helper_argv(argc, argv);
        if (!args) {
                log_oom();
                return EXIT_RUNTIME;
        }
        return mailer_supervise(o->fd, args) < 0 ? EXIT_RUNTIME : 0;
}

/* The earlier server's settings, carried over by the daemon: only from a
 * file and directory of this (still privileged) user that nobody else can
 * write, so the daemon's own account can never redirect the password. */
static int load_carried_over(struct config *cfg, const char *path, char *err, size_t err_size)
{
        _cleanup_free_ char *dir = path[0] == '/' ? strdup(path) : NULL;
        struct stat st, dst;

        if (dir)
                *strrchr(dir, '/') = '\0';
        if (!dir || lstat(path, &st) < 0 || lstat(dir[0] ? dir : "/", &dst) < 0 ||
            !S_ISREG(st.st_mode) || !S_ISDIR(dst.st_mode) || st.st_uid != geteuid() ||
            dst.st_uid != geteuid() || (st.st_mode & 022) || (dst.st_mode & 022)) {
                snprintf(err, err_size,
                         "--smtp-carried-over: %s is not a file of this user closed to others",
                         path);
                return -EPERM;
        }
        return config_load_file(cfg, path, false, err, err_size);
}

static int load_config(struct config *cfg, const struct mailer_options *o, const char *data_dir)
{
        _cleanup_free_ char *default_path = NULL;
        char err[512] = "";
        int r;

        r = config_init_defaults(cfg);
        if (r < 0)
                return log_oom();
        if (o->config_path)
                r = config_load_file(cfg, o->config_path, false, err, sizeof(err));
        else {
                if (asprintf(&default_path, "%s/config.yml", data_dir) < 0)
                        return log_oom();
                r = config_load_file(cfg, default_path, true, err, sizeof(err));
        }
        if (r >= 0 && o->smtp_carried_over && !cfg->smtp.delivery_set)
                r = load_carried_over(cfg, o->smtp_carried_over, err, sizeof(err));
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
};

static void mailer_done(struct mailer *m)
{
        mailer_password_free(m->password);
        if (m->outbox_fd >= 0)
                (void)close(m->outbox_fd);
        config_done(&m->cfg);
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
        m->smtp = (struct smtp_target){
                .host = m->cfg.smtp.host,
                .port = m->cfg.smtp.port,
                .security = m->cfg.smtp.security,
                .username = m->password ? m->cfg.smtp.username : NULL,
                .password = m->password,
                .timeout_seconds = (unsigned)m->cfg.smtp.timeout_seconds,
        };
        return 0;
}

/* Open the outbox; *created tells whether it did not exist before. */
static int setup_outbox(struct mailer *m, const char *data_dir, bool *created)
{
        _cleanup_free_ char *path = NULL;
        struct stat st;

        if (m->cfg.smtp.outbox_dir)
                path = strdup(m->cfg.smtp.outbox_dir);
        else if (asprintf(&path, "%s/outbox", data_dir) < 0)
                path = NULL;
        if (!path)
                return log_oom();
        *created = stat(path, &st) < 0 && errno == ENOENT;
        m->outbox_fd = outbox_open(path);
        if (m->outbox_fd < 0)
                return log_error_errno(m->outbox_fd, "Cannot open the outbox %s: %m", path);
        log_info("No smtp.host configured: writing messages to %s", path);
        return 0;
}

/* Root gives way to server.user; the outbox must stay writable for it. */
static int setup_identity(struct mailer *m, bool allow_root, bool outbox_created)
{
        struct mailer_account acct;
        int r;

        if (geteuid() != 0)
                return 0;
        if (allow_root) {
                log_warning("Running as root (--allow-root)");
                return 0;
        }
        r = mailer_account_lookup(&m->cfg, &acct);
        if (r == -ESRCH)
                return log_error_errno(r,
                                       "Started as root, but server.user '%s' or server.group "
                                       "does not exist (use --allow-root to stay root)",
                                       m->cfg.server.user ? m->cfg.server.user : "");
        if (r < 0)
                return log_error_errno(r, "Cannot look up server.user: %m");
        if (m->outbox_fd >= 0 && outbox_created && fchown(m->outbox_fd, acct.uid, acct.gid) < 0)
                return log_error_errno(errno, "Cannot hand the outbox to %s: %m", acct.name);
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

static int run_helper(const struct mailer_options *o)
{
        const char *data_dir = o->data_dir ? o->data_dir : "./server-data";
        struct mailer m = {.outbox_fd = -1};
        bool created = false, listening = false;
        int fd, r = -EINVAL;

        if (sodium_init() < 0) {
                log_error("Cannot initialise libsodium");
                return EXIT_RUNTIME;
        }
        if (load_config(&m.cfg, o, data_dir) < 0) {
                mailer_done(&m);
                return EXIT_USAGE;
        }
        log_set_max_level(m.cfg.server.log_level);
        fd = find_channel(o, &listening);
        if (fd < 0 || setup_smtp(&m) < 0)
                goto out;
        if (!m.cfg.smtp.host && setup_outbox(&m, data_dir, &created) < 0)
                goto out;
        if (setup_identity(&m, o->allow_root, created) < 0)
                goto out;
        if (smtp_global_init() < 0) {
                log_error("Cannot initialise libcurl");
                goto out;
        }
        if (lock_down(o) < 0)
                goto out_curl;

        m.ctx = (struct mailer_context){
                .from = m.cfg.smtp.from ? m.cfg.smtp.from : MAILER_DEFAULT_FROM,
                .outbox_fd = m.outbox_fd,
                .smtp = &m.smtp,
        };
        if (m.cfg.smtp.host)
                log_debug("Delivering through %s:%u (%s)", m.cfg.smtp.host,
                          (unsigned)m.cfg.smtp.port, smtp_security_to_string(m.cfg.smtp.security));
        if (listening) {
                (void)sd_notify(0, "READY=1\nSTATUS=Waiting for the daemon");
                r = mailer_serve_listener(&m.ctx, fd);
        } else
                r = mailer_serve_channel(&m.ctx, fd);
out_curl:
        smtp_global_done();
out:
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
        if (o.supervise)
                return run_supervisor(&o, argc, argv);
        return run_helper(&o);
}
