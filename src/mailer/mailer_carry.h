/* SPDX-License-Identifier: MIT */
/*
 * The earlier server's SMTP settings, as the mail helper keeps them after
 * the daemon handed them over once (MAIL_MSG_SMTP_CARRY): a directory
 * DATA/smtp-carried-over of the mailer's own account (0700), opened at
 * start, holding smtp.yml (smtp.host, port, security, username and from,
 * in the configuration file's syntax) and password, when there is one,
 * both mode 0600.  They are read and written only through that directory's
 * descriptor, as the mailer's own account, never as root.  A file is
 * trusted only when it is a regular file with one link, owned by the
 * reading account and closed to everyone else: the daemon's account
 * cannot make one that passes.  No logging here.
 */
#pragma once

#include <stddef.h>

#include "config/config.h"
#include "mailer/mail_proto.h"

#define MAILER_CARRY_DIR      "smtp-carried-over"
#define MAILER_CARRY_SETTINGS "smtp.yml"
#define MAILER_CARRY_PASSWORD "password"

/* Settings read back: cfg holds only the smtp.* delivery keys. */
struct mailer_carried {
        struct config cfg;
        char *password; /* secret memory (util/secret.h), NULL when none */
        char *path;     /* of the settings file */
};

/*
 * Read the carried-over settings in the directory open at dirfd (its path
 * dir_path, for messages and ret->path) into *ret.  Returns 1 when
 * they were read, 0 when there are none (nothing is written to *ret), or a
 * negative errno with the reason in err (-EPERM for a file that fails the
 * check above).  Release with mailer_carried_done().
 */
int mailer_carry_load(int dirfd, const char *dir_path, struct mailer_carried *ret, char *err,
                      size_t err_size);
void mailer_carried_done(struct mailer_carried *c);

/*
 * Check s strictly (a host name or address, a known security mode, plain
 * printable login and sender, a password without line breaks) and write
 * the two files into dirfd.  Returns 0, -EEXIST when it already holds
 * settings,
 * -EINVAL for a value refused (the reason in err, never the value of the
 * password), or another negative errno.
 */
int mailer_carry_store(int dirfd, const struct mail_smtp_carry *s, char *err, size_t err_size);
