/* SPDX-License-Identifier: MIT */
/*
 * The mailer's own system call allow-list.  Policy is data: named,
 * NULL-terminated groups of system call names (mailer_seccomp.c), plus
 * three argument-checked rules (socket families, thread-only clone, a few
 * ioctls).  Anything else kills the process.  Mirrored by
 * SystemCallFilter= in systemd/verstak-sync-mailer.service.
 */
#pragma once

struct syscall_group {
        const char *name;
        const char *const *syscalls; /* NULL-terminated */
};

/* The groups that make up the mailer's profile, NULL-name terminated. */
extern const struct syscall_group mailer_syscall_groups[];

/*
 * Set PR_SET_NO_NEW_PRIVS and load the filter for every thread of the
 * process (SCMP_FLTATR_CTL_TSYNC).  Call last in start-up: after the
 * configuration, password, outbox and libcurl are ready.  Returns 0 or a
 * negative errno; it does not log.
 */
int mailer_seccomp_install(void);
