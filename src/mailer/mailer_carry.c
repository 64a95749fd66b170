/* SPDX-License-Identifier: MIT */
/*
 * Implementation of mailer/mailer_carry.h.  The settings file is generated
 * here from values checked to need no escaping in a double-quoted YAML
 * scalar, and read back with the configuration parser, so what the helper
 * uses is exactly what an operator sees in the file.
 */
#include "mailer/mailer_carry.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailer/mail_message.h"
#include "mailer/mailer_setup.h"
#include "mailer/smtp.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/secret.h"

/* A value that can stand in a double-quoted YAML scalar as is: no control
 * characters, quotes or backslashes. */
static bool plain_value(const char *v)
{
        for (const unsigned char *p = (const unsigned char *)v; *p; p++)
                if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
                        return false;
        return true;
}

static bool known_security(const char *v)
{
        static const char *const modes[] = {"none", "starttls", "starttls-required", "tls"};

        for (size_t i = 0; i < ELEMENTSOF(modes); i++)
                if (strcmp(v, modes[i]) == 0)
                        return true;
        return false;
}

/* Open name in dirfd for reading, trusted as the header says. */
static int open_trusted(int dirfd, const char *name)
{
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;

        if (fd < 0)
                return errno == ELOOP ? -EPERM : -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_uid != geteuid() ||
            (st.st_mode & 077))
                return -EPERM;
        return TAKE_FD(fd);
}

void mailer_carried_done(struct mailer_carried *c)
{
        config_done(&c->cfg);
        secret_free(c->password);
        free(c->path);
        *c = (struct mailer_carried){0};
}

int mailer_carry_load(int dfd, const char *dir_path, struct mailer_carried *ret, char *err,
                      size_t err_size)
{
        _cleanup_(mailer_carried_done) struct mailer_carried c = {0};
        _cleanup_close_ int fd = -1, pfd = -1;
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r;

        if (asprintf(&c.path, "%s/%s", dir_path, MAILER_CARRY_SETTINGS) < 0) {
                c.path = NULL;
                return -ENOMEM;
        }
        fd = open_trusted(dfd, MAILER_CARRY_SETTINGS);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0) {
                snprintf(err, err_size,
                         "%s is not a file of this account with one link, closed to others",
                         c.path);
                return fd;
        }
        r = config_init_defaults(&c.cfg);
        if (r >= 0)
                r = fs_read_fd(fd, CONFIG_FILE_MAX, &text, &len);
        if (r >= 0)
                r = config_load_string(&c.cfg, text, len, err, err_size);
        if (r >= 0 &&
            (!c.cfg.smtp.host || smtp_host_check(c.cfg.smtp.host) < 0 ||
             (c.cfg.smtp.from && mail_address_check(c.cfg.smtp.from) < 0) ||
             c.cfg.smtp.password_file || c.cfg.smtp.outbox_dir || c.cfg.smtp.socket_path)) {
                snprintf(err, err_size, "%s: unexpected or invalid smtp settings", c.path);
                r = -EINVAL;
        }
        if (r < 0)
                return r;
        pfd = open_trusted(dfd, MAILER_CARRY_PASSWORD);
        if (pfd >= 0) {
                r = secret_read_fd(pfd, MAILER_PASSWORD_MAX, false, &c.password, &len);
                if (r >= 0 && (len == 0 || strlen(c.password) != len))
                        r = -EINVAL;
                if (r < 0) {
                        snprintf(err, err_size, "%s/%s: cannot read the password", dir_path,
                                 MAILER_CARRY_PASSWORD);
                        return r;
                }
        } else if (pfd != -ENOENT) {
                snprintf(err, err_size,
                         "%s/%s is not a file of this account with one link, closed to others",
                         dir_path, MAILER_CARRY_PASSWORD);
                return pfd;
        }
        *ret = c;
        c = (struct mailer_carried){0};
        return 1;
}

static int refuse(char *err, size_t err_size, const char *what)
{
        snprintf(err, err_size, "%s", what);
        return -EINVAL;
}

int mailer_carry_store(int dfd, const struct mail_smtp_carry *s, char *err, size_t err_size)
{
        _cleanup_free_ char *yml = NULL;
        int r;

        if (smtp_host_check(s->host) < 0 || !plain_value(s->host))
                return refuse(err, err_size, "host: expected a host name or IP address");
        if (s->port == 0 || s->port > 65535)
                return refuse(err, err_size, "port: expected 1 to 65535");
        if (!known_security(s->security))
                return refuse(err, err_size,
                              "security: expected none, starttls, starttls-required or tls");
        if (s->username && (!s->username[0] || !plain_value(s->username)))
                return refuse(err, err_size, "username: empty or not printable");
        if (s->from && mail_address_check(s->from) < 0)
                return refuse(err, err_size, "from: expected a plain address (user@host)");
        if (s->password && (!s->password[0] || strpbrk(s->password, "\r\n")))
                return refuse(err, err_size, "password: empty or holds a line break");

        if (faccessat(dfd, MAILER_CARRY_SETTINGS, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return -EEXIST;
        if (asprintf(&yml,
                     "# The earlier server's SMTP settings, handed over by the daemon once.\n"
                     "# Used while the mailer's configuration sets no smtp.host, port,\n"
                     "# security, username, password_file or from.\n"
                     "smtp:\n  host: \"%s\"\n  port: %u\n  security: %s\n%s%s%s%s%s%s",
                     s->host, s->port, s->security, s->username ? "  username: \"" : "",
                     s->username ? s->username : "", s->username ? "\"\n" : "",
                     s->from ? "  from: \"" : "", s->from ? s->from : "",
                     s->from ? "\"\n" : "") < 0) {
                yml = NULL;
                return -ENOMEM;
        }
        /* The password first: the settings file says the handover is done. */
        if (s->password) {
                r = fs_write_atomic(dfd, MAILER_CARRY_PASSWORD, s->password, strlen(s->password),
                                    0600);
                if (r < 0)
                        return r;
        } else if (unlinkat(dfd, MAILER_CARRY_PASSWORD, 0) < 0 && errno != ENOENT)
                return -errno; /* one left by an interrupted handover */
        return fs_write_atomic(dfd, MAILER_CARRY_SETTINGS, yml, strlen(yml), 0600);
}
