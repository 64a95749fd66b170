/* SPDX-License-Identifier: MIT */
/*
 * Implementation of daemon/seccomp.h and the server's allow-list.
 *
 * Why each group exists is said next to it.  What is absent on purpose:
 * execve/execveat, fork (clone without CLONE_THREAD), ptrace, process_vm_*,
 * mount and friends, setuid/setgid/setgroups, kernel keyring, module
 * loading, bpf, perf, kexec, reboot, raw I/O, socket() for anything but
 * AF_UNIX (so no outbound network connect), PROT_EXEC mappings.
 */
#include "daemon/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/cleanup.h"

/* Descriptors, plain reads and writes: sockets, files, eventfds, pipes. */
static const char *const group_io[] = {"read",     "write",  "readv",   "writev",  "pread64",
                                       "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
                                       "lseek",    "close",  "dup",     "dup3",    "fcntl",
                                       "sendfile", NULL};

/* Files under the data directory: SQLite (open, locks through fcntl, sync,
 * truncate, unlink of -journal/-wal/-shm, fchmod of a new journal), blob
 * uploads (openat, renameat, fsync, unlinkat, mkdirat, linkat, fstat,
 * statx, getdents64), configuration reload. */
static const char *const group_files[] = {
        "open",   "openat",    "stat",       "lstat",     "fstat",      "newfstatat", "statx",
        "access", "faccessat", "faccessat2", "readlink",  "readlinkat", "getcwd",     "getdents64",
        "fsync",  "fdatasync", "ftruncate",  "fallocate", "fadvise64",  "unlink",     "unlinkat",
        "rename", "renameat",  "renameat2",  "mkdir",     "mkdirat",    "link",       "linkat",
        "fchmod", "statfs",    "fstatfs",    NULL};

/* Memory management (mmap and mprotect are argument-checked below). */
static const char *const group_memory[] = {"brk", "munmap", "mremap", "madvise", NULL};

/* Threads of libmicrohttpd's pool and their synchronisation (clone is
 * argument-checked below: threads only, never a new process). */
static const char *const group_threads[] = {"futex",       "set_robust_list",   "get_robust_list",
                                            "rseq",        "set_tid_address",   "gettid",
                                            "sched_yield", "sched_getaffinity", "exit",
                                            "exit_group",  "membarrier",        NULL};

/* Signal handling (the main loop waits in sigtimedwait). */
static const char *const group_signals[] = {"rt_sigaction",
                                            "rt_sigprocmask",
                                            "rt_sigreturn",
                                            "rt_sigtimedwait",
                                            "sigaltstack",
                                            "restart_syscall",
                                            NULL};

/* Clocks and sleeping. */
static const char *const group_time[] = {"clock_gettime",
                                         "clock_getres",
                                         "clock_nanosleep",
                                         "nanosleep",
                                         "gettimeofday",
                                         "time",
                                         NULL};

/* Serving accepted connections on the sockets we were given; connect and
 * the rest apply only to AF_UNIX sockets since socket() is restricted to
 * that family (journal, sd_notify, the mailer's socket). */
static const char *const group_sockets[] = {
        "accept",     "accept4",    "recvfrom",    "recvmsg",     "sendto",  "sendmsg", "shutdown",
        "setsockopt", "getsockopt", "getsockname", "getpeername", "connect", NULL};

/* Event loops: libmicrohttpd's epoll and its inter-thread eventfd or pipe
 * (suspend/resume for long polls), poll for the mailer socket. */
static const char *const group_events[] = {
        "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
        "eventfd2",      "pipe2",     "poll",       "ppoll",       NULL};

/* Looking at our own identity; changing it is not allowed. */
static const char *const group_identity[] = {"getpid",    "getuid",    "geteuid",
                                             "getgid",    "getegid",   "getresuid",
                                             "getresgid", "getgroups", NULL};

/* libsodium's randombytes, SQLite's seeds. */
static const char *const group_random[] = {"getrandom", NULL};

/* sd_journal_send() passes a large record in a sealed memfd. */
static const char *const group_journal[] = {"memfd_create", NULL};

static const struct seccomp_group groups_server[] = {
        {"io", group_io},           {"files", group_files},     {"memory", group_memory},
        {"threads", group_threads}, {"signals", group_signals}, {"time", group_time},
        {"sockets", group_sockets}, {"events", group_events},   {"identity", group_identity},
        {"random", group_random},   {"journal", group_journal}, {NULL, NULL},
};

static const struct seccomp_arg_rule arg_rules_server[] = {
        /* Only unix sockets may be created: no outbound TCP/UDP, no netlink. */
        {"socket", 0, UINT64_MAX, AF_UNIX, SECCOMP_VALUE_CONST},
        {"socketpair", 0, UINT64_MAX, AF_UNIX, SECCOMP_VALUE_CONST},
        /* No executable memory. */
        {"mmap", 2, PROT_EXEC, 0, SECCOMP_VALUE_CONST},
        {"mprotect", 2, PROT_EXEC, 0, SECCOMP_VALUE_CONST},
        /* New threads, never new processes. */
        {"clone", 0, CLONE_THREAD, CLONE_THREAD, SECCOMP_VALUE_CONST},
        /* Signals only to our own threads (raise, pthread_kill). */
        {"tgkill", 0, UINT64_MAX, 0, SECCOMP_VALUE_SELF_PID},
        /* The mail helper's supervisor, and only it, may be stopped and reaped
         * at shutdown (mail_client_free()). */
        {"kill", 0, UINT64_MAX, 0, SECCOMP_VALUE_CHILD},
        {"wait4", 0, UINT64_MAX, 0, SECCOMP_VALUE_CHILD},
        /* Thread names (libmicrohttpd), nothing else of prctl. */
        {"prctl", 0, UINT64_MAX, PR_SET_NAME, SECCOMP_VALUE_CONST},
        {"prctl", 0, UINT64_MAX, PR_GET_NAME, SECCOMP_VALUE_CONST},
        /* Reading resource limits, not changing them (new_limit == NULL). */
        {"prlimit64", 2, UINT64_MAX, 0, SECCOMP_VALUE_CONST},
        {NULL, 0, 0, 0, SECCOMP_VALUE_CONST},
};

static const struct seccomp_errno_rule errno_rules_server[] = {
        /* glibc tries clone3 for new threads and falls back to clone, whose
         * flags the filter can check (clone3 passes them in memory). */
        {"clone3", ENOSYS},
        {NULL, 0},
};

const struct seccomp_profile seccomp_profile_server = {
        .name = "server",
        .groups = groups_server,
        .arg_rules = arg_rules_server,
        .errno_rules = errno_rules_server,
};

/* Sanitizer builds (never shipped): LeakSanitizer checks for leaks at exit
 * from a helper task that ptraces the threads, so these builds allow what
 * it needs.  execve stays forbidden even there. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_LEAK__)
#define SECCOMP_SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define SECCOMP_SANITIZER_BUILD 1
#endif
#endif

#ifdef SECCOMP_SANITIZER_BUILD
static const char *const group_sanitizer_runtime[] = {"ptrace", "prctl",   "clone",    "wait4",
                                                      "waitid", "getppid", "getdents", NULL};
#endif

int seccomp_no_new_privs(void)
{
        return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -errno : 0;
}

static void ctx_releasep(scmp_filter_ctx *ctx)
{
        if (*ctx)
                seccomp_release(*ctx);
}

/* Resolve a name for the native architecture; -EINVAL when unknown. */
static int resolve(const char *name, int *ret)
{
        int nr = seccomp_syscall_resolve_name(name);

        if (nr == __NR_SCMP_ERROR)
                return -EINVAL;
        *ret = nr;
        return 0;
}

/* libseccomp answers -EEXIST for a rule it already has (a system call in
 * two groups); that is not an error. */
static int rule_result(int r)
{
        return r == -EEXIST ? 0 : r;
}

/* Allow every system call of a NULL-terminated list, any arguments. */
static int allow_all(scmp_filter_ctx ctx, const char *const *names)
{
        int nr, r;

        for (size_t i = 0; names[i]; i++) {
                r = resolve(names[i], &nr);
                if (r < 0)
                        return r;
                r = rule_result(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0));
                if (r < 0)
                        return r;
        }
        return 0;
}

int seccomp_filter_install(const struct seccomp_profile *p, pid_t child)
{
        _cleanup_(ctx_releasep) scmp_filter_ctx ctx = NULL;
        int nr, r;

        ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
        if (!ctx)
                return -ENOMEM;
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
        if (r < 0)
                return r;
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
        if (r < 0)
                return r;

        for (const struct seccomp_group *g = p->groups; g->name; g++) {
                r = allow_all(ctx, g->syscalls);
                if (r < 0)
                        return r;
        }
#ifdef SECCOMP_SANITIZER_BUILD
        r = allow_all(ctx, group_sanitizer_runtime);
        if (r < 0)
                return r;
#endif
        for (const struct seccomp_arg_rule *a = p->arg_rules; a && a->syscall; a++) {
                uint64_t value = a->value;
                if (a->value_from == SECCOMP_VALUE_SELF_PID)
                        value = (uint64_t)getpid();
                else if (a->value_from == SECCOMP_VALUE_CHILD) {
                        if (child <= 0)
                                continue;
                        value = (uint64_t)child;
                }
                r = resolve(a->syscall, &nr);
                if (r < 0)
                        return r;
                r = rule_result(
                        seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
                                         SCMP_CMP(a->arg, SCMP_CMP_MASKED_EQ, a->mask, value)));
                if (r < 0)
                        return r;
        }
        for (const struct seccomp_errno_rule *e = p->errno_rules; e && e->syscall; e++) {
                r = resolve(e->syscall, &nr);
                if (r < 0)
                        return r;
                r = rule_result(
                        seccomp_rule_add(ctx, SCMP_ACT_ERRNO((uint32_t)e->errno_value), nr, 0));
                if (r < 0)
                        return r;
        }
        return seccomp_load(ctx);
}

bool seccomp_profile_allows(const struct seccomp_profile *p, const char *name)
{
        for (const struct seccomp_group *g = p->groups; g->name; g++)
                for (size_t i = 0; g->syscalls[i]; i++)
                        if (strcmp(g->syscalls[i], name) == 0)
                                return true;
        for (const struct seccomp_arg_rule *a = p->arg_rules; a && a->syscall; a++)
                if (strcmp(a->syscall, name) == 0)
                        return true;
        return false;
}
