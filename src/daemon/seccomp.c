/* SPDX-License-Identifier: MIT */
/*
 * The server's allow-list (daemon/seccomp.h), loaded by the shared engine.
 *
 * Why each group exists is said next to it.  What is absent on purpose:
 * execve/execveat, fork (clone without CLONE_THREAD), ptrace, process_vm_*,
 * mount and friends, setuid/setgid/setgroups, kernel keyring, module
 * loading, bpf, perf, kexec, reboot, raw I/O, socket() for anything but
 * AF_UNIX (so no outbound network connect), connect() unless the mail
 * helper is reached by path, PROT_EXEC mappings (the engine's rule).
 *
 * A daemon whose database is PostgreSQL over TCP loads a second profile,
 * the same lists plus what libpq needs to reach the server: AF_INET and
 * AF_INET6 sockets, connect, and what the resolver and TLS call (below).
 * Nothing else changes, so SQLite and PostgreSQL through a unix socket keep
 * the first one.
 */
#include "daemon/seccomp.h"

#include <errno.h>
#include <sys/prctl.h>
#include <sys/socket.h>

/* Descriptors, plain reads and writes: sockets, files, eventfds, pipes. */
static const char *const group_io[] = {"read",     "write",  "readv",   "writev",  "pread64",
                                       "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
                                       "lseek",    "close",  "dup",     "dup3",    "fcntl",
                                       "sendfile", NULL};

/* Files under the data directory: SQLite (open, locks through fcntl, sync,
 * truncate, unlink of -journal/-wal/-shm, fchmod of a new journal), blob
 * uploads (openat, renameat/renameat2, fsync, sync_file_range, unlinkat,
 * mkdirat, linkat, fstat, statx, getdents64), configuration reload. */
static const char *const group_files[] = {
        "open",      "openat",     "stat",      "lstat",      "fstat",           "newfstatat",
        "statx",     "access",     "faccessat", "faccessat2", "readlink",        "readlinkat",
        "getcwd",    "getdents64", "fsync",     "fdatasync",  "sync_file_range", "ftruncate",
        "fallocate", "fadvise64",  "unlink",    "unlinkat",   "rename",          "renameat",
        "renameat2", "mkdir",      "mkdirat",   "link",       "linkat",          "fchmod",
        "statfs",    "fstatfs",    NULL};

/* Memory management (mmap and mprotect: the engine's no-PROT_EXEC rule). */
static const char *const group_memory[] = {"brk", "munmap", "mremap", "madvise", NULL};

/* Threads of libmicrohttpd's pool and their synchronisation (clone: the
 * engine's threads-only rule). */
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

/* Serving accepted connections on the sockets we were given, and datagrams
 * to the journal and sd_notify (sendmsg with an address, no connect). */
static const char *const group_sockets[] = {
        "accept",   "accept4",    "recvfrom",   "recvmsg",     "sendto",      "sendmsg",
        "shutdown", "setsockopt", "getsockopt", "getsockname", "getpeername", NULL};

const char *const seccomp_server_connect[] = {"connect", NULL};

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

/* Only unix sockets may be created: no outbound TCP/UDP, no netlink;
 * another family kills. */
static const int families_server[] = {AF_UNIX, -1};

static const struct seccomp_arg_rule arg_rules_server[] = {
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

const struct seccomp_profile seccomp_profile_server = {
        .name = "server",
        .groups = groups_server,
        .arg_rules = arg_rules_server,
        .families = families_server,
        .family_errno = 0,
        .threads_only = true,
};

/* PostgreSQL over TCP: libpq connects a stream socket to the server (its
 * options and SO_ERROR go through group_sockets).  getaddrinfo() reads the
 * host name (uname) and asks the name servers of /etc/resolv.conf over
 * UDP, the A and AAAA queries in one sendmmsg.  With TLS, OpenSSL sorts
 * with the C library's qsort, which sizes its buffer with sysinfo. */
const char *const seccomp_server_db_tcp[] = {"connect", "sendmmsg", "uname", "sysinfo", NULL};

static const struct seccomp_group groups_server_db_tcp[] = {
        {"io", group_io},
        {"files", group_files},
        {"memory", group_memory},
        {"threads", group_threads},
        {"signals", group_signals},
        {"time", group_time},
        {"sockets", group_sockets},
        {"events", group_events},
        {"identity", group_identity},
        {"random", group_random},
        {"journal", group_journal},
        {"database", seccomp_server_db_tcp},
        {NULL, NULL},
};

/* Unix sockets and IPv4/IPv6: the database server, and the resolver.  A
 * netlink socket (getaddrinfo() sorting several addresses asks the kernel
 * for the local ones) fails with EAFNOSUPPORT, as it does under the unit's
 * RestrictAddressFamilies=; the C library then sorts without it. */
static const int families_server_db_tcp[] = {AF_UNIX, AF_INET, AF_INET6, -1};

const struct seccomp_profile seccomp_profile_server_db_tcp = {
        .name = "server+database-tcp",
        .groups = groups_server_db_tcp,
        .arg_rules = arg_rules_server,
        .families = families_server_db_tcp,
        .family_errno = EAFNOSUPPORT,
        .threads_only = true,
};

const struct seccomp_profile *seccomp_server_profile(bool database_tcp)
{
        return database_tcp ? &seccomp_profile_server_db_tcp : &seccomp_profile_server;
}
