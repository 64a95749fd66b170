/* SPDX-License-Identifier: MIT */
/*
 * Start-up steps of the mailer that touch secrets and identity: reading a
 * root-started mailer's configuration only from a file that root alone
 * can change, reading the SMTP password (a systemd credential or
 * smtp.password_file) into locked memory, and giving up root for the
 * mailer's own account.  As root, no path is followed through a symbolic
 * link.  No logging: main() reports failures once.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config/config.h"

/*
 * Load path into cfg (config_load_string) as a root-started mailer must:
 * opened without following symbolic links, and only when it is a regular
 * file owned by root that neither its group nor others may write, so the
 * daemon's account cannot have changed it.  missing_ok: a missing file
 * leaves the defaults.  Returns 0 or a negative errno with the reason in
 * err (-EPERM for an untrusted owner or mode, -ELOOP for a symbolic link).
 */
int mailer_config_read_trusted(struct config *cfg, const char *path, bool missing_ok, char *err,
                               size_t err_size);

/* An SMTP password file holds at most this many bytes. */
#define MAILER_PASSWORD_MAX 1024

/* Name of the systemd credential holding the password. */
#define MAILER_CREDENTIAL_NAME "smtp-password"

/*
 * Read the SMTP password: $CREDENTIALS_DIRECTORY/smtp-password when it
 * exists and is not empty, else smtp.password_file when set, else none
 * (*ret = NULL).  One trailing newline is dropped.  As root the file is
 * opened without following symbolic links.  The password is read straight
 * into secret memory (util/secret.h; free with mailer_password_free()),
 * never through another buffer.  Returns 0, or a negative errno with the
 * file's role (never its content) in err: -EINVAL for an empty or
 * NUL-holding file, -EFBIG when longer than MAILER_PASSWORD_MAX.
 */
int mailer_password_read(const struct config *cfg, char **ret, char *err, size_t err_size);
void mailer_password_free(char *password);

/* The account a root-started mailer becomes: uid, gid (its primary
 * group), and its name. */
struct mailer_account {
        uid_t uid;
        gid_t gid;
        const char *name;
};

/* Look up the account user.  Returns 0, -ESRCH when it does not exist,
 * -EPERM when it is root (uid or gid 0), or another negative errno. */
int mailer_account_lookup(const char *user, struct mailer_account *ret);

/*
 * Become account: setgroups to its group only, setresgid, setresuid, then
 * verify root cannot be regained.  Returns 0 or a negative errno (-EPERM
 * when root is still reachable).
 */
int mailer_privileges_drop(const struct mailer_account *account);
