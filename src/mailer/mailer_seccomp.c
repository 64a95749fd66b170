/* SPDX-License-Identifier: MIT */
/*
 * Implementation of mailer/mailer_seccomp.h.  What the mailer does after
 * start-up, and so what it may call: talk on its channel or accept on its
 * socket, resolve a host name and connect to it (AF_INET/AF_INET6, and
 * AF_UNIX for the journal and the name service), run TLS, write outbox
 * files, log.  Never: execve, fork, ptrace, mount, module or key handling,
 * set*id.  Names unknown on the build architecture are skipped.
 */
#include "mailer/mailer_seccomp.h"

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>

#include "util/cleanup.h"

/* AddressSanitizer builds (CI runs every suite under it) need a few more
 * calls to report errors, and LeakSanitizer's exit-time check needs
 * ptrace, which the filter forbids: leaks are checked just before the
 * filter is loaded instead. */
#if defined(__SANITIZE_ADDRESS__)
#define MAILER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MAILER_ASAN 1
#endif
#endif
#ifdef MAILER_ASAN
#include <sanitizer/lsan_interface.h>
#endif

/* clang-format off */
static const char *const group_memory[] = {
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise",
    "munlock", /* sodium_free() of the password */
    NULL,
};

static const char *const group_process[] = {
    "exit", "exit_group", "rt_sigreturn", "rt_sigaction", "rt_sigprocmask", "restart_syscall",
    "getpid", "gettid", "tgkill", /* abort() */
    "sched_yield", "uname",
    NULL,
};

/* pthread_create() for libcurl's resolver thread; clone itself is checked
 * separately so that only threads, never processes, can be created. */
static const char *const group_threads[] = {
    "futex", "set_robust_list", "rseq",
    NULL,
};

static const char *const group_time[] = {
    "clock_gettime", "clock_getres", "gettimeofday", "time", "clock_nanosleep", "nanosleep",
    NULL,
};

static const char *const group_io[] = {
    "read", "write", "readv", "writev", "pread64", "close", "lseek",
    "fstat", "newfstatat", "statx", "fcntl",
    "poll", "ppoll", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
    "getrandom", /* TLS, Message-ID, outbox names */
    NULL,
};

/* Outbox writes (fs_write_atomic), reads of the TLS trust store and of the
 * resolver's files (/etc/hosts, /etc/resolv.conf, nsswitch.conf). */
static const char *const group_files[] = {
    "openat", "fsync", "fdatasync", "renameat", "renameat2", "unlinkat", "faccessat",
    "faccessat2",
    NULL,
};

/* The channel, the listening socket, SMTP, DNS (UDP and TCP), nscd or
 * systemd-resolved over AF_UNIX, and the journal. */
static const char *const group_network[] = {
    "connect", "accept4", "shutdown",
    "sendto", "sendmsg", "sendmmsg", "recvfrom", "recvmsg", "recvmmsg",
    "getsockopt", "setsockopt", "getsockname", "getpeername",
    NULL,
};
#ifdef MAILER_ASAN
static const char *const group_sanitizer[] = {
    "readlink", "readlinkat", "sigaltstack", "sched_getaffinity", "prctl", "getppid",
    NULL,
};
#endif
/* clang-format on */

const struct syscall_group mailer_syscall_groups[] = {
        {"memory", group_memory},
        {"process", group_process},
        {"threads", group_threads},
        {"time", group_time},
        {"io", group_io},
        {"files", group_files},
        {"network", group_network},
#ifdef MAILER_ASAN
        {"sanitizer", group_sanitizer},
#endif
        {NULL, NULL},
};

/* socket() and socketpair() families; others fail with EAFNOSUPPORT, as
 * RestrictAddressFamilies= would, instead of killing the process. */
static const int allowed_families[] = {AF_UNIX, AF_INET, AF_INET6};

/* ioctl() requests: FIONREAD (resolver), FIONBIO, TCGETS (isatty). */
static const unsigned long allowed_ioctls[] = {FIONREAD, FIONBIO, TCGETS};

/* Where the clone flags are: the second argument on s390, else the first. */
#if defined(__s390__) || defined(__s390x__)
#define CLONE_FLAGS_ARG 1
#else
#define CLONE_FLAGS_ARG 0
#endif

static inline void seccomp_releasep(scmp_filter_ctx *ctx)
{
        if (*ctx)
                seccomp_release(*ctx);
}

static int add_groups(scmp_filter_ctx ctx)
{
        for (const struct syscall_group *g = mailer_syscall_groups; g->name; g++)
                for (const char *const *s = g->syscalls; *s; s++) {
                        int nr = seccomp_syscall_resolve_name(*s);
                        if (nr == __NR_SCMP_ERROR)
                                continue; /* not on this architecture */
                        int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
                        if (r < 0)
                                return r;
                }
        return 0;
}

static bool family_allowed(int family)
{
        for (size_t i = 0; i < ELEMENTSOF(allowed_families); i++)
                if (allowed_families[i] == family)
                        return true;
        return false;
}

static int add_families(scmp_filter_ctx ctx, int nr)
{
        int r;

        for (int family = 0; family < AF_MAX; family++) {
                uint32_t action =
                        family_allowed(family) ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO(EAFNOSUPPORT);
                r = seccomp_rule_add(ctx, action, nr, 1,
                                     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)family));
                if (r < 0)
                        return r;
        }
        return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), nr, 1,
                                SCMP_A0(SCMP_CMP_GE, (scmp_datum_t)AF_MAX));
}

static int add_argument_rules(scmp_filter_ctx ctx)
{
        int r;

        r = add_families(ctx, SCMP_SYS(socket));
        if (r < 0)
                return r;
        /* libcurl wakes its resolver thread through an AF_UNIX pair. */
        r = add_families(ctx, SCMP_SYS(socketpair));
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(allowed_ioctls); i++) {
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                                     SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)allowed_ioctls[i]));
                if (r < 0)
                        return r;
        }
        /* Threads only: CLONE_THREAD must be set.  clone3 passes its flags in
         * memory a filter cannot read, so it reports ENOSYS and the C
         * library falls back to clone. */
        r = seccomp_rule_add(
                ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                SCMP_CMP(CLONE_FLAGS_ARG, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
        if (r < 0)
                return r;
        return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
}

int mailer_seccomp_install(void)
{
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        int r;

        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
        if (!ctx)
                return -ENOMEM;
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
        if (r < 0)
                return r;
        r = add_groups(ctx);
        if (r < 0)
                return r;
        r = add_argument_rules(ctx);
        if (r < 0)
                return r;
#ifdef MAILER_ASAN
        __lsan_do_leak_check();
#endif
        return seccomp_load(ctx);
}
