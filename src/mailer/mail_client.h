/* SPDX-License-Identifier: MIT */
/*
 * The daemon's side of verstak-sync-mailer: hand {to, subject, body} to
 * the helper and wait for its verdict.  Two ways to reach it: a helper
 * started here (standalone), or the unix socket of the socket-activated
 * unit (systemd).  Either way a dead helper is replaced transparently on
 * the next send.  No SMTP, no message building, no logging here: errors
 * come back as negative errno values with a reason in err.
 *
 * System calls the daemon's own filter must allow for this module: send,
 * recv, sendmsg, recvmsg (SCM_RIGHTS), poll, close, wait4 and kill (in
 * mail_client_free); with mail_client_new_connect also socket(AF_UNIX) and
 * connect.  No fork or exec after mail_client_new_spawn() returned.
 */
#pragma once

#include <sys/types.h>

#include <stddef.h>

#include "mailer/mail_proto.h"

/* How long mail_client_send() waits for the helper's verdict.  Longer than
 * the default smtp.timeout_seconds (30), which bounds an SMTP delivery. */
#define MAIL_CLIENT_REPLY_TIMEOUT_MS 60000

/* How long a new helper may take to greet (READY). */
#define MAIL_CLIENT_START_TIMEOUT_MS 10000

struct mail_client;

/*
 * Standalone: start mailer_path as a supervisor (`--supervise --fd 3
 * --config CFG --data DIR`; config_path may be NULL) over a control
 * socket, and have it start the first helper, whose greeting is awaited.
 * Call before the daemon drops privileges and installs its filter: this is
 * the only fork+exec; later helpers are started by the supervisor.
 * Returns 0, or a negative errno (-ECHILD when the helper or supervisor
 * did not start, e.g. because of an invalid configuration; -ETIMEDOUT).
 */
int mail_client_new_spawn(const char *mailer_path, const char *config_path, const char *data_dir,
                          struct mail_client **ret);

/* As mail_client_new_spawn(), passing extra flags (NULL-terminated, may be
 * NULL) to the supervisor and every helper, e.g. {"--allow-root", NULL}
 * when the daemon itself stays root. */
int mail_client_new_spawn_argv(const char *mailer_path, const char *config_path,
                               const char *data_dir, const char *const *extra_args,
                               struct mail_client **ret);

/*
 * Under systemd: connect to the mailer's unix socket and await its
 * greeting.  Later failures reconnect on the next send.  Returns 0, or a
 * negative errno (-ENAMETOOLONG, -ENOENT, -ECONNREFUSED, -ETIMEDOUT …).
 */
int mail_client_new_connect(const char *socket_path, struct mail_client **ret);

/*
 * Hand a message to the helper and wait (at most MAIL_CLIENT_REPLY_TIMEOUT_MS)
 * for its RESULT.  0 when the helper accepted and delivered/wrote it;
 * negative errno otherwise, with a human reason (no secrets) in err:
 * -EINVAL for a line break in to or subject (refused before anything is
 * sent), -EMSGSIZE for an oversized message, -EIO when the helper refused
 * or delivery failed, -ETIMEDOUT, -ECONNRESET when the helper died again
 * after one restart, -EPROTO for a confused helper.  If the helper dies
 * during a send, it is restarted once and the message sent again (so a
 * message may, rarely, arrive twice).  Thread-safe: sends are serialised.
 */
int mail_client_send(struct mail_client *c, const char *to, const char *subject, const char *body,
                     char *err, size_t err_size);

/*
 * Hand the earlier server's SMTP settings to the helper (SMTP_CARRY) and
 * wait for its verdict.  0 when it keeps them, with where it keeps them
 * (malloc'd) in *ret_path; -EIO when it refused them, with its reason in
 * err; another negative errno when it could not be asked (no retry: the
 * caller tries again at its next start).  Serialised with sends.
 */
int mail_client_carry_smtp(struct mail_client *c, const struct mail_smtp_carry *s, char **ret_path,
                           char *err, size_t err_size);

/* pid of the spawned helper (for tests/diagnostics), or -1 (none yet, or
 * connected to a socket). */
int mail_client_helper_pid(struct mail_client *c);

/* pid of the supervisor process a spawned client owns (the only process the
 * sandboxed daemon may signal and reap), or 0 (none, or NULL c). */
pid_t mail_client_supervisor_pid(struct mail_client *c);

/* Close the channel (a spawned helper exits at end of stream) and the
 * control socket, then reap the supervisor (killing it after 5 s).  Not
 * concurrently with a send.  NULL is fine. */
void mail_client_free(struct mail_client *c);
