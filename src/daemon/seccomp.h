/* SPDX-License-Identifier: MIT */
/*
 * The system call allow-lists, kept as data: named groups of system calls
 * (NULL-terminated arrays of names) and a few argument-checked rules,
 * composed into one profile per process and installed with libseccomp,
 * thread-synchronised, default action: kill the whole process.
 *
 * This module only builds and loads filters; it does not decide when (that
 * is main()'s start-up order) and never loosens a filter once loaded.  The
 * unit's SystemCallFilter= mirrors the server profile.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A named group of system calls allowed with any arguments. */
struct seccomp_group {
        const char *name;
        const char *const *syscalls; /* NULL-terminated */
};

/* A system call allowed only when (argument arg & mask) == value.  Several
 * rules for one system call are alternatives. */
struct seccomp_arg_rule {
        const char *syscall;
        unsigned arg;
        uint64_t mask;
        uint64_t value;
        enum {
                SECCOMP_VALUE_CONST,    /* compare with value */
                SECCOMP_VALUE_SELF_PID, /* compare with our own pid */
                SECCOMP_VALUE_CHILD,    /* compare with the child pid given at install;
                                         * the rule is left out when there is none */
        } value_from;
};

/* A system call that fails with errno instead of killing (libraries that
 * probe for it and fall back). */
struct seccomp_errno_rule {
        const char *syscall;
        int errno_value;
};

struct seccomp_profile {
        const char *name;
        const struct seccomp_group *groups;           /* terminated by name == NULL */
        const struct seccomp_arg_rule *arg_rules;     /* terminated by syscall == NULL */
        const struct seccomp_errno_rule *errno_rules; /* terminated by syscall == NULL */
};

/* Every allow-list of the server process (design.md §Processes). */
extern const struct seccomp_profile seccomp_profile_server;

/*
 * Set PR_SET_NO_NEW_PRIVS.  Separate from the filter so it holds even with
 * --no-seccomp.  Returns 0 or negative errno.
 */
int seccomp_no_new_privs(void);

/*
 * Compile profile p and load it for every thread of the process.  child is
 * the one process the daemon may signal and reap (the mail helper's
 * supervisor), or 0 for none.  An
 * unknown system call name is a programming error: -EINVAL before anything
 * is loaded.  Returns 0 or negative errno.
 */
int seccomp_filter_install(const struct seccomp_profile *p, pid_t child);

/* Whether name appears in profile p as an allowed system call (with or
 * without argument checks).  For tests and the unit-file mirror. */
bool seccomp_profile_allows(const struct seccomp_profile *p, const char *name);
