/* SPDX-License-Identifier: MIT */
/*
 * Implementation of server/smtp_legacy.h.  The earlier server's console
 * saved smtp_host, smtp_port, smtp_user, smtp_pass, smtp_security,
 * smtp_from and server_url in its server_smtp_config table.  They are
 * used only when config.yml sets none of smtp.host, port, security,
 * username, password_file or from; server_url stands in for an unset
 * public_url.  Everything here runs once, before the daemon serves.
 */
#include "server/smtp_legacy.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "util/cleanup.h"
#include "util/email.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/text.h"

/* Bounds on what is carried over (a host name, an address, a login). */
#define LEGACY_VALUE_MAX 320

void smtp_legacy_state_done(struct smtp_legacy_state *st)
{
        free(st->settings_path);
        *st = (struct smtp_legacy_state){0};
}

/* A value that can be written as a double-quoted YAML scalar as is and
 * means the same to the mail helper: printable ASCII or UTF-8, bounded. */
static bool plain_value(const char *v)
{
        if (!v || strlen(v) > LEGACY_VALUE_MAX)
                return false;
        for (const unsigned char *p = (const unsigned char *)v; *p; p++)
                if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
                        return false;
        return true;
}

/* The sender as the earlier server used it: trimmed, lower-case. */
static int normalize_from(struct store_legacy_smtp *m)
{
        char addr[EMAIL_MAX + 1];
        char *copy;

        if (email_normalize(m->from, addr) < 0)
                return -EINVAL;
        copy = strdup(addr);
        if (!copy)
                return -ENOMEM;
        free(m->from);
        m->from = copy;
        return 0;
}

/* The earlier server's smtp_security: "none", "tls", else STARTTLS when
 * offered (what it did for "starttls" and for anything else). */
static const char *map_security(const char *v)
{
        if (v && strcmp(v, "none") == 0)
                return "none";
        if (v && strcmp(v, "tls") == 0)
                return "tls";
        return "starttls";
}

/* The directory exists, is ours and closed to others.  -ENOENT when it
 * does not exist, -EPERM when it exists but cannot be trusted. */
static int check_dir(int data_fd)
{
        struct stat st;

        if (fstatat(data_fd, SMTP_LEGACY_DIR, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
                return -EPERM;
        return 0;
}

static int write_files(struct app *app, const struct store_legacy_smtp *m, unsigned port,
                       const char *security, char **ret_path)
{
        _cleanup_free_ char *dir = NULL, *yml = NULL;
        _cleanup_close_ int dfd = -1;
        int r;

        if (asprintf(&dir, "%s/%s", app->data_dir, SMTP_LEGACY_DIR) < 0)
                return -ENOMEM;
        if (mkdirat(app->data_dir_fd, SMTP_LEGACY_DIR, 0700) < 0 && errno != EEXIST)
                return -errno;
        r = check_dir(app->data_dir_fd);
        if (r < 0)
                return r;
        dfd = openat(app->data_dir_fd, SMTP_LEGACY_DIR,
                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        if (m->pass) {
                r = fs_write_atomic(dfd, SMTP_LEGACY_PASSWORD, m->pass, strlen(m->pass), 0600);
                if (r < 0)
                        return r;
        }
        if (asprintf(&yml,
                     "# Carried over from the earlier server's console settings on first\n"
                     "# start.  Used by the mail helper only while config.yml sets no\n"
                     "# smtp.host, port, security, username, password_file or from.\n"
                     "smtp:\n  host: \"%s\"\n  port: %u\n  security: %s\n"
                     "%s%s%s%s%s%s%s%s%s",
                     m->host, port, security, m->user ? "  username: \"" : "",
                     m->user ? m->user : "", m->user ? "\"\n" : "",
                     m->pass ? "  password_file: \"" : "", m->pass ? dir : "",
                     m->pass ? "/" SMTP_LEGACY_PASSWORD "\"\n" : "", m->from ? "  from: \"" : "",
                     m->from ? m->from : "", m->from ? "\"\n" : "") < 0)
                return -ENOMEM;
        r = fs_write_atomic(dfd, SMTP_LEGACY_SETTINGS, yml, strlen(yml), 0600);
        if (r < 0)
                return r;
        if (asprintf(ret_path, "%s/%s", dir, SMTP_LEGACY_SETTINGS) < 0)
                return -ENOMEM;
        return 0;
}

/* Show what the mail helper will use, read back from the file just as it
 * reads it, in the daemon's own configuration (for display only). */
static int show_settings(struct config *cfg, const char *path, struct smtp_legacy_state *st)
{
        struct config tmp;
        char err[256] = "";
        int r;

        r = config_init_defaults(&tmp);
        if (r < 0)
                return r;
        r = config_load_file(&tmp, path, false, err, sizeof(err));
        if (r < 0) {
                log_warning("Cannot read back %s: %s", path, err);
                config_done(&tmp);
                return 0;
        }
        free(cfg->smtp.host);
        free(cfg->smtp.username);
        free(cfg->smtp.from);
        cfg->smtp.host = TAKE_PTR(tmp.smtp.host);
        cfg->smtp.username = TAKE_PTR(tmp.smtp.username);
        cfg->smtp.from = TAKE_PTR(tmp.smtp.from);
        cfg->smtp.port = tmp.smtp.port;
        cfg->smtp.security = tmp.smtp.security;
        st->sources.delivery = SMTP_SOURCE_EARLIER_SERVER;
        if (tmp.smtp.password_file)
                st->sources.password = SMTP_SOURCE_EARLIER_SERVER;
        config_done(&tmp);
        return 0;
}

static void use_server_url(struct config *cfg, const struct store_legacy_smtp *m,
                           struct smtp_legacy_state *st)
{
        char err[256];

        if (cfg->public_url || !m->server_url)
                return;
        if (config_set_public_url(cfg, m->server_url, err, sizeof(err)) < 0 || !cfg->public_url) {
                log_warning("The earlier server's server_url is not usable as public_url (%s); "
                            "ignored",
                            err);
                return;
        }
        st->sources.public_url = SMTP_SOURCE_EARLIER_SERVER;
        log_notice("public_url is not set: links in e-mails use the earlier server's server_url "
                   "%s (set public_url in config.yml to change it)",
                   cfg->public_url);
}

int smtp_legacy_carry_over(struct app *app, struct config *cfg, struct smtp_legacy_state *st)
{
        _cleanup_(store_legacy_smtp_done) struct store_legacy_smtp m = {0};
        uint64_t port64 = 0;
        const char *security;
        int r;

        *st = (struct smtp_legacy_state){
                .sources = {SMTP_SOURCE_DEFAULT, SMTP_SOURCE_DEFAULT,
                            cfg->public_url ? SMTP_SOURCE_CONFIG : SMTP_SOURCE_DEFAULT},
        };
        if (cfg->smtp.delivery_set)
                st->sources.delivery = SMTP_SOURCE_CONFIG;
        if (cfg->smtp.password_file)
                st->sources.password = SMTP_SOURCE_CONFIG;
        r = store_legacy_smtp_get(app->store, &m);
        if (r < 0)
                return log_error_errno(r, "Cannot read the earlier server's SMTP settings: %m");
        use_server_url(cfg, &m, st);
        if (cfg->smtp.delivery_set) {
                if (!m.host && !m.pass)
                        return 0;
                log_notice("config.yml sets smtp.*: the earlier server's SMTP settings in the "
                           "database are not used");
                return 0;
        }
        if (cfg->smtp.socket_path) {
                /* The helper is its own service and reads only root's files. */
                if (!m.host && !m.pass)
                        return 0;
                log_warning("The earlier server's SMTP settings (host %s) are in the database, "
                            "but the mail helper runs as its own service: move them to smtp.* "
                            "in its config.yml and the password to its smtp-password credential "
                            "(verstak-sync-server.yml(5)); mail goes to the outbox until then",
                            m.host && plain_value(m.host) ? m.host : "not set");
                return 0;
        }

        r = check_dir(app->data_dir_fd);
        if (r == -EPERM) {
                log_error("%s/%s is not a directory owned by this user and closed to others; "
                          "not using the earlier server's SMTP settings",
                          app->data_dir, SMTP_LEGACY_DIR);
                return 0;
        }
        if (r == 0 && faccessat(app->data_dir_fd, SMTP_LEGACY_DIR "/" SMTP_LEGACY_SETTINGS, F_OK,
                                AT_SYMLINK_NOFOLLOW) == 0) {
                /* Carried over by an earlier start. */
                if (asprintf(&st->settings_path, "%s/%s/%s", app->data_dir, SMTP_LEGACY_DIR,
                             SMTP_LEGACY_SETTINGS) < 0)
                        return log_oom();
        } else if (!m.host && !m.pass)
                return 0; /* nothing to carry over */
        else {
                if (!m.host || !plain_value(m.host) || (m.user && !plain_value(m.user)) ||
                    (m.from && normalize_from(&m) < 0) ||
                    (m.port && (parse_u64(m.port, &port64) < 0 || port64 == 0 || port64 > 65535))) {
                        log_warning("The earlier server's SMTP settings in the database are "
                                    "incomplete or malformed; not carried over (set smtp.* in "
                                    "config.yml)");
                        return 0;
                }
                security = map_security(m.security);
                if (!m.port)
                        port64 = strcmp(security, "tls") == 0 ? 465 : 25;
                r = write_files(app, &m, (unsigned)port64, security, &st->settings_path);
                if (r < 0)
                        return log_error_errno(r, "Cannot write %s/%s: %m", app->data_dir,
                                               SMTP_LEGACY_DIR);
                struct log_field f[] = {{"EVENT", "smtp_carried_over"}};
                log_struct(LOG_NOTICE, f,
                           "Carried the earlier server's SMTP settings over to the mail helper: "
                           "%s:%u (%s)%s; settings in %s/%s/%s%s%s%s",
                           m.host, (unsigned)port64, security, m.user ? ", with a login" : "",
                           app->data_dir, SMTP_LEGACY_DIR, SMTP_LEGACY_SETTINGS,
                           m.pass ? ", the password moved out of the database into " : "",
                           m.pass ? app->data_dir : "",
                           m.pass ? "/" SMTP_LEGACY_DIR "/" SMTP_LEGACY_PASSWORD : "");
        }

        /* The table keeps what it showed; only the password leaves it.  Once
         * carried over, the table is never read for delivery again: the
         * daemon's own account can write it. */
        if (m.pass) {
                r = store_legacy_smtp_wipe_password(app->store);
                if (r < 0)
                        return log_error_errno(r, "Cannot remove the SMTP password from the "
                                                  "database: %m");
        }
        r = show_settings(cfg, st->settings_path, st);
        if (r < 0)
                return log_oom();
        return 0;
}
