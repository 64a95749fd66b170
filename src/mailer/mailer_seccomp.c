/* SPDX-License-Identifier: MIT */
/*
 * Implementation of mailer/mailer_seccomp.h: the mailer's allow-list as
 * data for the shared engine (util/seccomp_engine.h).  What the mailer does
 * after start-up, and so what it may call: talk on its channel or accept on
 * its socket, resolve a host name and connect to it (AF_INET/AF_INET6, and
 * AF_UNIX for the journal and the name service), run TLS, write outbox
 * files, log.  Never: execve, fork, ptrace, mount, module or key handling,
 * set*id, executable memory (the engine's rule).
 */
#include "mailer/mailer_seccomp.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>

/* AddressSanitizer builds (CI runs every suite under it): the engine
 * allows what the sanitizer runtime needs; leaks are checked just before
 * the filter is loaded, since a helper ends with _exit(). */
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
    "brk", "munmap", "mremap", "madvise",
    "munlock", /* sodium_free() of the password */
    "mlock",   /* sodium_malloc() of carried-over settings' password */
    NULL,
};

static const char *const group_process[] = {
    "exit", "exit_group", "rt_sigreturn", "rt_sigaction", "rt_sigprocmask", "restart_syscall",
    "getpid", "gettid", "tgkill", /* abort() */
    "sched_yield", "uname",
    "geteuid", /* owner checks of the carried-over SMTP settings */
    NULL,
};

/* pthread_create() for libcurl's resolver thread; clone itself: the
 * engine's threads-only rule. */
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
/* clang-format on */

static const struct seccomp_group mailer_groups[] = {
        {"memory", group_memory},   {"process", group_process},
        {"threads", group_threads}, {"time", group_time},
        {"io", group_io},           {"files", group_files},
        {"network", group_network}, {NULL, NULL},
};

/* socket() and socketpair() families (libcurl wakes its resolver thread
 * through an AF_UNIX pair); others fail with EAFNOSUPPORT, as
 * RestrictAddressFamilies= would, instead of killing the process. */
static const int mailer_families[] = {AF_UNIX, AF_INET, AF_INET6, -1};

static const struct seccomp_arg_rule mailer_arg_rules[] = {
        /* ioctl(): FIONREAD (resolver), FIONBIO, TCGETS (isatty). */
        {"ioctl", 1, UINT64_MAX, FIONREAD, SECCOMP_VALUE_CONST},
        {"ioctl", 1, UINT64_MAX, FIONBIO, SECCOMP_VALUE_CONST},
        {"ioctl", 1, UINT64_MAX, TCGETS, SECCOMP_VALUE_CONST},
        {NULL, 0, 0, 0, SECCOMP_VALUE_CONST},
};

const struct seccomp_profile mailer_seccomp_profile = {
        .name = "mailer",
        .groups = mailer_groups,
        .arg_rules = mailer_arg_rules,
        .families = mailer_families,
        .family_errno = EAFNOSUPPORT,
        .threads_only = true,
};

/* The supervisor also forks helpers, reaps them and stops them; the
 * helpers inherit this filter and add the mailer's own on top, so it
 * allows everything the mailer profile does. */
static const char *const group_supervisor[] = {
        "wait4", "kill", "signalfd4", "seccomp", /* a helper adds its own filter on top */
        NULL,
};

/* The mailer's ioctls, and what a helper's lock-down asks of prctl. */
static const struct seccomp_arg_rule supervisor_arg_rules[] = {
        {"ioctl", 1, UINT64_MAX, FIONREAD, SECCOMP_VALUE_CONST},
        {"ioctl", 1, UINT64_MAX, FIONBIO, SECCOMP_VALUE_CONST},
        {"ioctl", 1, UINT64_MAX, TCGETS, SECCOMP_VALUE_CONST},
        {"prctl", 0, UINT64_MAX, PR_SET_DUMPABLE, SECCOMP_VALUE_CONST},
        {"prctl", 0, UINT64_MAX, PR_SET_NO_NEW_PRIVS, SECCOMP_VALUE_CONST},
        {NULL, 0, 0, 0, SECCOMP_VALUE_CONST},
};

static const struct seccomp_group supervisor_groups[] = {
        {"memory", group_memory},
        {"process", group_process},
        {"threads", group_threads},
        {"time", group_time},
        {"io", group_io},
        {"files", group_files},
        {"network", group_network},
        {"supervisor", group_supervisor},
        {NULL, NULL},
};

const struct seccomp_profile mailer_supervisor_seccomp_profile = {
        .name = "mailer-supervisor",
        .groups = supervisor_groups,
        .arg_rules = supervisor_arg_rules,
        .families = mailer_families,
        .family_errno = EAFNOSUPPORT,
        .threads_only = true,
        .processes = true,
};

int mailer_seccomp_install_supervisor(void)
{
        return seccomp_profile_install(&mailer_supervisor_seccomp_profile, NULL, 0);
}

int mailer_seccomp_install(void)
{
        int r = seccomp_no_new_privs();

        if (r < 0)
                return r;
#ifdef MAILER_ASAN
        __lsan_do_leak_check();
#endif
        return seccomp_profile_install(&mailer_seccomp_profile, NULL, 0);
}
