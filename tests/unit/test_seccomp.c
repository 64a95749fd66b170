/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of daemon/seccomp as data: every name resolves on this
 * architecture, nothing the design forbids is in the server profile, and
 * argument rules keep socket() to AF_UNIX.  With --list it prints the
 * profile's system calls, one per line, for tests/systemd/check-units.sh
 * (which checks that the unit's SystemCallFilter= allows all of them).
 * The profile chosen for a database URL is also loaded for real in a
 * child process, which then tries what libpq needs over TCP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/dbnet.h"

#include "daemon/seccomp.h"
#include "mailer/mailer_seccomp.h"
#include "util/cleanup.h"

static const struct seccomp_profile *const profiles[] = {
        &seccomp_profile_server, &seccomp_profile_server_db_tcp, &mailer_seccomp_profile,
        &mailer_supervisor_seccomp_profile};

/* One rule for both programs: every name is known to libseccomp, and no
 * group lists a call the engine's argument rules own. */
static void test_seccomp_names_resolve(void **state)
{
        static const char *const bad_names[] = {"brk", "mmap", NULL};
        static const char *const typo_names[] = {"read", "wrte", NULL};
        const struct seccomp_group bad_groups[] = {{"memory", bad_names}, {NULL, NULL}};
        const struct seccomp_group typo_groups[] = {{"io", typo_names}, {NULL, NULL}};
        const struct seccomp_profile bad = {.name = "bad", .groups = bad_groups};
        const struct seccomp_profile typo = {.name = "typo", .groups = typo_groups};
        const char *name = NULL;
        (void)state;

        for (size_t i = 0; i < ELEMENTSOF(profiles); i++)
                if (seccomp_profile_check_names(profiles[i], &name) < 0)
                        fail_msg("profile %s: unknown or engine-owned system call %s",
                                 profiles[i]->name, name);
        assert_int_equal(seccomp_profile_check_names(&typo, &name), -EINVAL);
        assert_string_equal(name, "wrte");
        assert_int_equal(seccomp_profile_check_names(&bad, &name), -EINVAL);
        assert_string_equal(name, "mmap");
}

/* Both programs: threads only, and no executable memory (mmap and
 * mprotect appear only through the engine's PROT_EXEC rule). */
static void test_seccomp_shared_rules(void **state)
{
        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(profiles); i++) {
                const struct seccomp_profile *p = profiles[i];
                assert_true(p->threads_only);
                assert_true(seccomp_profile_allows(p, "mmap"));
                assert_false(seccomp_profile_allows(p, "pkey_mprotect"));
                assert_false(seccomp_profile_allows(p, "execve"));
                assert_false(seccomp_profile_allows(p, "fork"));
                assert_false(seccomp_profile_allows(p, "vfork"));
                for (const struct seccomp_arg_rule *a = p->arg_rules; a->syscall; a++) {
                        assert_string_not_equal(a->syscall, "mmap");
                        assert_string_not_equal(a->syscall, "mprotect");
                        assert_string_not_equal(a->syscall, "clone");
                }
        }
        /* The daemon: unix sockets only, another family kills; the mailer
         * also reaches the network, others fail with EAFNOSUPPORT. */
        assert_int_equal(seccomp_profile_server.families[0], AF_UNIX);
        assert_int_equal(seccomp_profile_server.families[1], -1);
        assert_int_equal(seccomp_profile_server.family_errno, 0);
        assert_int_equal(mailer_seccomp_profile.family_errno, EAFNOSUPPORT);
}

/* connect() is not in the daemon's profile: only added for smtp.socket. */
static void test_seccomp_server_no_connect(void **state)
{
        (void)state;
        assert_false(seccomp_profile_allows(&seccomp_profile_server, "connect"));
        assert_string_equal(seccomp_server_connect[0], "connect");
        assert_null(seccomp_server_connect[1]);
}

static void test_seccomp_forbidden_absent(void **state)
{
        static const char *const forbidden[] = {"execve",
                                                "execveat",
                                                "fork",
                                                "vfork",
                                                "ptrace",
                                                "process_vm_readv",
                                                "process_vm_writev",
                                                "mount",
                                                "umount2",
                                                "pivot_root",
                                                "chroot",
                                                "setuid",
                                                "setgid",
                                                "setgroups",
                                                "setresuid",
                                                "setresgid",
                                                "capset",
                                                "add_key",
                                                "request_key",
                                                "keyctl",
                                                "init_module",
                                                "finit_module",
                                                "delete_module",
                                                "kexec_load",
                                                "reboot",
                                                "bpf",
                                                "perf_event_open",
                                                "unshare",
                                                "setns",
                                                "ioperm",
                                                "iopl",
                                                "swapon",
                                                "settimeofday",
                                                "clock_settime",
                                                "userfaultfd",
                                                "open_by_handle_at",
                                                "bind",
                                                "listen",
                                                "chown",
                                                "fchown",
                                                "ioctl",
                                                NULL};
        (void)state;

        for (size_t i = 0; forbidden[i]; i++)
                if (seccomp_profile_allows(&seccomp_profile_server, forbidden[i]))
                        fail_msg("server profile allows %s", forbidden[i]);
}

/* kill and wait4 exist only for the one child given at install time. */
static void test_seccomp_children_only_given_pid(void **state)
{
        int rules = 0;
        (void)state;

        for (const struct seccomp_arg_rule *a = seccomp_profile_server.arg_rules; a->syscall; a++)
                if (strcmp(a->syscall, "kill") == 0 || strcmp(a->syscall, "wait4") == 0) {
                        assert_int_equal(a->value_from, SECCOMP_VALUE_CHILD);
                        assert_int_equal(a->arg, 0);
                        rules++;
                }
        assert_int_equal(rules, 2);
        for (const struct seccomp_group *g = seccomp_profile_server.groups; g->name; g++)
                for (size_t i = 0; g->syscalls[i]; i++) {
                        assert_string_not_equal(g->syscalls[i], "kill");
                        assert_string_not_equal(g->syscalls[i], "wait4");
                }
}

static void test_seccomp_no_duplicate_in_group(void **state)
{
        (void)state;
        for (size_t p = 0; p < ELEMENTSOF(profiles); p++)
                for (const struct seccomp_group *g = profiles[p]->groups; g->name; g++)
                        for (size_t i = 0; g->syscalls[i]; i++)
                                for (size_t j = i + 1; g->syscalls[j]; j++)
                                        assert_string_not_equal(g->syscalls[i], g->syscalls[j]);
}

/* The TCP profile is the server's plus the database's calls and families,
 * nothing the design forbids, and still no bind or listen. */
static void test_seccomp_db_tcp_profile(void **state)
{
        (void)state;
        assert_ptr_equal(seccomp_server_profile(false), &seccomp_profile_server);
        assert_ptr_equal(seccomp_server_profile(true), &seccomp_profile_server_db_tcp);
        for (const struct seccomp_group *g = seccomp_profile_server.groups; g->name; g++)
                for (size_t i = 0; g->syscalls[i]; i++)
                        assert_true(seccomp_profile_allows(&seccomp_profile_server_db_tcp,
                                                           g->syscalls[i]));
        for (size_t i = 0; seccomp_server_db_tcp[i]; i++) {
                assert_true(seccomp_profile_allows(&seccomp_profile_server_db_tcp,
                                                   seccomp_server_db_tcp[i]));
                assert_false(
                        seccomp_profile_allows(&seccomp_profile_server, seccomp_server_db_tcp[i]));
        }
        assert_false(seccomp_profile_allows(&seccomp_profile_server_db_tcp, "bind"));
        assert_false(seccomp_profile_allows(&seccomp_profile_server_db_tcp, "listen"));
        assert_false(seccomp_profile_allows(&seccomp_profile_server_db_tcp, "execve"));
        assert_false(seccomp_profile_allows(&seccomp_profile_server_db_tcp, "ioctl"));
        assert_int_equal(seccomp_profile_server_db_tcp.family_errno, EAFNOSUPPORT);
}

/* In a child: load the profile chosen for url, then do what libpq does to
 * reach a server on TCP port port of 127.0.0.1: resolve a name, open and
 * connect a stream socket, read its error.  Exit codes name the step that
 * failed; a filter that forbids a step kills the child with SIGSYS. */
static int child_reaches_tcp(const char *url, uint16_t port)
{
        struct sockaddr_in sin = {.sin_family = AF_INET,
                                  .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        const struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        struct addrinfo *ai = NULL;
        struct utsname un;
        socklen_t len = sizeof(int);
        bool db_tcp;
        int fd, err = -1;

        if (dbnet_url_needs_tcp(url, &db_tcp) < 0)
                return 10;
        if (seccomp_profile_install(seccomp_server_profile(db_tcp), NULL, 0) < 0)
                return 11;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return 12;
        if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
                return 13;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0)
                return 14;
        close(fd);
        /* The resolver: the host name (uname), /etc/hosts. */
        if (uname(&un) < 0)
                return 15;
        if (getaddrinfo("localhost", "5432", &hints, &ai) != 0)
                return 16;
        freeaddrinfo(ai);
        /* Another family fails instead of killing (the resolver's netlink
         * probe when it sorts several addresses). */
        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);
        if (fd >= 0 || errno != EAFNOSUPPORT)
                return 17;
        return 0;
}

static int run_child(const char *url, uint16_t port)
{
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0)
                _exit(child_reaches_tcp(url, port));
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return status;
}

/* The profile chosen for a TCP URL lets the child reach a TCP server; the
 * one for SQLite or a unix socket kills it at its first AF_INET socket. */
static void test_seccomp_db_tcp_live(void **state)
{
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sin);
        int lfd, status;
        (void)state;

        lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(lfd >= 0);
        assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
        assert_int_equal(listen(lfd, 8), 0);
        assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);

        status = run_child("postgresql://verstak@127.0.0.1/verstak", ntohs(sin.sin_port));
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        status = run_child("host=localhost dbname=verstak", ntohs(sin.sin_port));
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);

        static const char *const local[] = {NULL, "postgresql:///verstak",
                                            "postgresql://%2Frun%2Fpostgresql/verstak"};
        for (size_t i = 0; i < ELEMENTSOF(local); i++) {
                status = run_child(local[i], ntohs(sin.sin_port));
                assert_true(WIFSIGNALED(status));
                assert_int_equal(WTERMSIG(status), SIGSYS);
        }
        close(lfd);
}

static void list_profile(const struct seccomp_profile *p)
{
        for (const struct seccomp_group *g = p->groups; g->name; g++)
                for (size_t i = 0; g->syscalls[i]; i++)
                        printf("%s\n", g->syscalls[i]);
        for (const struct seccomp_arg_rule *a = p->arg_rules; a->syscall; a++)
                printf("%s\n", a->syscall);
        /* The engine's own rules, and connect for the systemd mode. */
        printf("mmap\nmprotect\nsocket\nsocketpair\nclone\nclone3\n");
        for (size_t i = 0; seccomp_server_connect[i]; i++)
                printf("%s\n", seccomp_server_connect[i]);
        /* PostgreSQL over TCP (the unit's drop-in keeps the same filter). */
        for (size_t i = 0; seccomp_server_db_tcp[i]; i++)
                printf("%s\n", seccomp_server_db_tcp[i]);
}

int main(int argc, char **argv)
{
        if (argc > 1 && strcmp(argv[1], "--list") == 0) {
                list_profile(&seccomp_profile_server);
                return 0;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_seccomp_names_resolve),
                cmocka_unit_test(test_seccomp_forbidden_absent),
                cmocka_unit_test(test_seccomp_shared_rules),
                cmocka_unit_test(test_seccomp_server_no_connect),
                cmocka_unit_test(test_seccomp_children_only_given_pid),
                cmocka_unit_test(test_seccomp_no_duplicate_in_group),
                cmocka_unit_test(test_seccomp_db_tcp_profile),
                cmocka_unit_test(test_seccomp_db_tcp_live),
        };
        return cmocka_run_group_tests_name("seccomp", tests, NULL, NULL);
}
