/* SPDX-License-Identifier: MIT */
/* Implementation of mailer/mailer_setup.h. */
#include "mailer/mailer_setup.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
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

        r = secret_read_file(path, MAILER_PASSWORD_MAX, &secret, &len);
        if (r == -ENOENT && optional) {
                *ret = NULL;
                return 0;
        }
        if (r < 0) {
                snprintf(err, err_size, "cannot read %s: %s", role,
                         r == -EFBIG ? "file too large" : strerror(-r));
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

int mailer_account_lookup(const struct config *cfg, struct mailer_account *ret)
{
        struct passwd *pw;
        struct group *gr;
        gid_t gid;

        if (!cfg->server.user)
                return -ESRCH;
        errno = 0;
        pw = getpwnam(cfg->server.user);
        if (!pw)
                return errno ? -errno : -ESRCH;
        gid = pw->pw_gid;
        if (cfg->server.group) {
                errno = 0;
                gr = getgrnam(cfg->server.group);
                if (!gr)
                        return errno ? -errno : -ESRCH;
                gid = gr->gr_gid;
        }
        *ret = (struct mailer_account){.uid = pw->pw_uid, .gid = gid, .name = cfg->server.user};
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
