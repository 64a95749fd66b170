/* SPDX-License-Identifier: MIT */
/* Implementation of mailer/mailer_setup.h. */
#include "mailer/mailer_setup.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/secret.h"

/*
 * Read one secret file into secret memory (util/secret.h).  With optional,
 * a missing or empty file yields *ret = NULL instead of an error.
 */
static int secret_read(const char *path, const char *role, bool optional, char **ret, char *err,
                       size_t err_size)
{
        _cleanup_secret_ char *secret = NULL;
        size_t len = 0;
        int r;

        if (geteuid() == 0) {
                /* As root, no symbolic link is followed on the way. */
                _cleanup_close_ int fd = fs_open_nofollow(path, O_RDONLY, 0);
                r = fd < 0 ? fd : secret_read_fd(fd, MAILER_PASSWORD_MAX, false, &secret, &len);
        } else
                r = secret_read_file(path, MAILER_PASSWORD_MAX, &secret, &len);
        if (r == -ENOENT && optional) {
                *ret = NULL;
                return 0;
        }
        if (r < 0) {
                snprintf(err, err_size, "cannot read %s: %s", role,
                         r == -EFBIG   ? "file too large"
                         : r == -ELOOP ? "a path component is a symbolic link"
                                       : strerror(-r));
                return r;
        }
        if (len == 0 && optional) {
                *ret = NULL;
                return 0;
        }
        if (len == 0 || strlen(secret) != len) {
                snprintf(err, err_size, "%s is empty or holds a NUL byte", role);
                return -EINVAL;
        }
        *ret = TAKE_PTR(secret);
        return 0;
}

int mailer_config_read_trusted(struct config *cfg, const char *path, bool missing_ok, char *err,
                               size_t err_size)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *text = NULL;
        struct stat st;
        size_t len = 0;
        int r;

        fd = fs_open_nofollow(path, O_RDONLY, 0);
        if (fd == -ENOENT && missing_ok)
                return 0;
        if (fd < 0) {
                snprintf(err, err_size, "config: cannot read %s: %s", path,
                         fd == -ELOOP ? "a path component is a symbolic link" : strerror(-fd));
                return fd;
        }
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
                snprintf(err, err_size,
                         "config: %s must be a regular file owned by root and writable by "
                         "root alone (it is owned by uid %u, mode %04o): a mail helper "
                         "started as root reads nothing another account can change",
                         path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
                return -EPERM;
        }
        r = fs_read_fd(fd, CONFIG_FILE_MAX, &text, &len);
        if (r < 0) {
                snprintf(err, err_size, "config: cannot read %s: %s", path, strerror(-r));
                return r;
        }
        return config_load_string(cfg, text, len, err, err_size);
}

int mailer_password_read(const struct config *cfg, char **ret, char *err, size_t err_size)
{
        const char *creds = getenv("CREDENTIALS_DIRECTORY");
        int r;

        if (creds && *creds) {
                _cleanup_free_ char *path = NULL;

                if (asprintf(&path, "%s/%s", creds, MAILER_CREDENTIAL_NAME) < 0)
                        return -ENOMEM;
                /* LoadCredential= needs the file to exist; an empty one
                 * means "no password from here". */
                r = secret_read(path, "credential " MAILER_CREDENTIAL_NAME, true, ret, err,
                                err_size);
                if (r < 0 || *ret)
                        return r;
        }
        if (cfg->smtp.password_file)
                return secret_read(cfg->smtp.password_file, "smtp.password_file", false, ret, err,
                                   err_size);
        *ret = NULL;
        return 0;
}

void mailer_password_free(char *password)
{
        secret_free(password);
}

int mailer_account_lookup(const char *user, struct mailer_account *ret)
{
        struct passwd *pw;

        if (!user || !*user)
                return -ESRCH;
        errno = 0;
        pw = getpwnam(user);
        if (!pw)
                return errno ? -errno : -ESRCH;
        if (pw->pw_uid == 0 || pw->pw_gid == 0)
                return -EPERM;
        *ret = (struct mailer_account){.uid = pw->pw_uid, .gid = pw->pw_gid, .name = user};
        return 0;
}

int mailer_privileges_drop(const struct mailer_account *account)
{
        uid_t ruid, euid, suid;
        gid_t rgid, egid, sgid;

        if (setgroups(1, &account->gid) < 0)
                return -errno;
        if (setresgid(account->gid, account->gid, account->gid) < 0)
                return -errno;
        if (setresuid(account->uid, account->uid, account->uid) < 0)
                return -errno;
        if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0)
                return -errno;
        if (ruid != account->uid || euid != account->uid || suid != account->uid ||
            rgid != account->gid || egid != account->gid || sgid != account->gid)
                return -EPERM;
        if (account->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
                return -EPERM;
        return 0;
}
