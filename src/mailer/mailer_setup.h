/* SPDX-License-Identifier: MIT */
/*
 * Start-up steps of the mailer that touch secrets and identity: reading
 * the SMTP password (a systemd credential or smtp.password_file) into
 * locked memory, and giving up root for the configured account.  No
 * logging: main() reports failures once.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config/config.h"

/* An SMTP password file holds at most this many bytes. */
#define MAILER_PASSWORD_MAX 1024

/* Name of the systemd credential holding the password. */
#define MAILER_CREDENTIAL_NAME "smtp-password"

/*
 * Read the SMTP password: $CREDENTIALS_DIRECTORY/smtp-password when it
 * exists and is not empty, else smtp.password_file when set, else none
 * (*ret = NULL).  One trailing newline is dropped.  The password is read
 * straight into secret memory (util/secret.h; free with
 * mailer_password_free()), never through another buffer.  Returns 0, or a negative errno with the
 * file's role (never its content) in err: -EINVAL for an empty or NUL-holding file, -EFBIG when
 * longer than MAILER_PASSWORD_MAX.
 */
int mailer_password_read(const struct config *cfg, char **ret, char *err, size_t err_size);
void mailer_password_free(char *password);

/* The account a root-started mailer becomes: uid, gid, and its name. */
struct mailer_account {
        uid_t uid;
        gid_t gid;
        const char *name;
};

/* Look up server.user (and server.group, when set).  Returns 0, -ESRCH
 * when the user or group does not exist, or another negative errno. */
int mailer_account_lookup(const struct config *cfg, struct mailer_account *ret);

/*
 * Become account: setgroups to its group only, setresgid, setresuid, then
 * verify root cannot be regained.  Returns 0 or a negative errno (-EPERM
 * when root is still reachable).
 */
int mailer_privileges_drop(const struct mailer_account *account);
