/* SPDX-License-Identifier: MIT */
/*
 * The mailer's own system call allow-list, as data for the shared engine
 * (util/seccomp_engine.h), which gives it the same rules as the daemon's:
 * unknown names are errors, threads but no processes, no executable
 * memory, socket families checked (here AF_UNIX, AF_INET, AF_INET6; others
 * fail with EAFNOSUPPORT).  Anything not allowed kills the process.
 * Mirrored by SystemCallFilter= in systemd/verstak-sync-mailer.service.
 */
#pragma once

#include "util/seccomp_engine.h"

extern const struct seccomp_profile mailer_seccomp_profile;

/* The supervisor's: the mailer's, plus forking, reaping and stopping its
 * helpers (fork without new namespaces). */
extern const struct seccomp_profile mailer_supervisor_seccomp_profile;

/* Load the supervisor's filter (with PR_SET_NO_NEW_PRIVS), once it has
 * given up root and initialised libcurl.  Returns 0 or a negative errno. */
int mailer_seccomp_install_supervisor(void);

/*
 * Set PR_SET_NO_NEW_PRIVS and load the filter for every thread of the
 * process.  Call last in start-up: after the configuration, password,
 * outbox, libcurl and the name service are ready.  Returns 0 or a
 * negative errno; it does not log.
 */
int mailer_seccomp_install(void);
