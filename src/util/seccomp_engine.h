/* SPDX-License-Identifier: MIT */
/*
 * The one seccomp profile engine of the project, shared by the daemon
 * (daemon/seccomp.c) and the mail helper (mailer/mailer_seccomp.c): each
 * program supplies its allow-list as data, this module compiles and loads
 * it with libseccomp, with the same rules for both:
 *
 *  - default action: kill the whole process;
 *  - a system call name libseccomp does not know is a programming error
 *    (-EINVAL before anything is loaded); a known name that does not exist
 *    on the build architecture is simply not needed there;
 *  - threads_only: clone only with CLONE_THREAD (the flags argument is
 *    found per architecture), clone3 fails with ENOSYS so the C library
 *    falls back to clone (its flags live in memory a filter cannot read);
 *    a profile that must fork (the mail supervisor) allows clone without
 *    namespace flags instead;
 *  - socket() and socketpair() only for the listed address families;
 *    others kill, or fail with family_errno when it is set;
 *  - mmap and mprotect never with PROT_EXEC, pkey_mprotect never: no
 *    executable memory after start-up, in either program;
 *  - thread-synchronised, with PR_SET_NO_NEW_PRIVS.
 *
 * It only builds and loads filters; when is the caller's start-up order.
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
        const int *families;                          /* socket families, ended by -1 */
        int family_errno;  /* 0: another family kills; else fails with this errno */
        bool threads_only; /* clone for threads (see above); false: no clone at all */
        bool processes;    /* with threads_only: clone may also start a process
                            * (fork), still without any new namespace */
};

/* Set PR_SET_NO_NEW_PRIVS.  Separate from the filter so it holds even with
 * --no-seccomp.  Returns 0 or negative errno. */
int seccomp_no_new_privs(void);

/*
 * Compile profile p, plus the system calls of extra (NULL-terminated, may
 * be NULL: what this run needs beyond the profile), and load it for every
 * thread of the process.  child is the one process SECCOMP_VALUE_CHILD
 * rules name, or 0 for none.  Returns 0 or negative errno.
 */
int seccomp_profile_install(const struct seccomp_profile *p, const char *const *extra, pid_t child);

/* Whether name appears in profile p as an allowed system call (with or
 * without argument checks, the engine's own rules included).  For tests
 * and the unit-file mirror. */
bool seccomp_profile_allows(const struct seccomp_profile *p, const char *name);

/* Whether every system call name of p is known to libseccomp and none of
 * the groups lists a call the engine's rules own (mmap, mprotect,
 * pkey_mprotect, clone, clone3, socket, socketpair): 0, else -EINVAL with
 * the first offending name in *ret_name. */
int seccomp_profile_check_names(const struct seccomp_profile *p, const char **ret_name);
