/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of daemon/seccomp as data: every name resolves on this
 * architecture, nothing the design forbids is in the server profile, and
 * argument rules keep socket() to AF_UNIX.  With --list it prints the
 * profile's system calls, one per line, for tests/systemd/check-units.sh
 * (which checks that the unit's SystemCallFilter= allows all of them).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon/seccomp.h"

static void test_seccomp_names_resolve(void **state)
{
        const struct seccomp_profile *p = &seccomp_profile_server;
        (void)state;

        for (const struct seccomp_group *g = p->groups; g->name; g++)
                for (size_t i = 0; g->syscalls[i]; i++)
                        if (seccomp_syscall_resolve_name(g->syscalls[i]) == __NR_SCMP_ERROR)
                                fail_msg("group %s: unknown system call %s", g->name,
                                         g->syscalls[i]);
        for (const struct seccomp_arg_rule *a = p->arg_rules; a->syscall; a++)
                assert_int_not_equal(seccomp_syscall_resolve_name(a->syscall), __NR_SCMP_ERROR);
        for (const struct seccomp_errno_rule *e = p->errno_rules; e->syscall; e++)
                assert_int_not_equal(seccomp_syscall_resolve_name(e->syscall), __NR_SCMP_ERROR);
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

static void test_seccomp_socket_unix_only(void **state)
{
        const struct seccomp_profile *p = &seccomp_profile_server;
        int socket_rules = 0;
        (void)state;

        /* socket() appears only with an argument check, for AF_UNIX. */
        for (const struct seccomp_group *g = p->groups; g->name; g++)
                for (size_t i = 0; g->syscalls[i]; i++)
                        assert_string_not_equal(g->syscalls[i], "socket");
        for (const struct seccomp_arg_rule *a = p->arg_rules; a->syscall; a++)
                if (strcmp(a->syscall, "socket") == 0) {
                        assert_int_equal(a->arg, 0);
                        assert_int_equal(a->value, AF_UNIX);
                        socket_rules++;
                }
        assert_int_equal(socket_rules, 1);
}

static void test_seccomp_no_duplicate_in_group(void **state)
{
        (void)state;
        for (const struct seccomp_group *g = seccomp_profile_server.groups; g->name; g++)
                for (size_t i = 0; g->syscalls[i]; i++)
                        for (size_t j = i + 1; g->syscalls[j]; j++)
                                assert_string_not_equal(g->syscalls[i], g->syscalls[j]);
}

static void list_profile(const struct seccomp_profile *p)
{
        for (const struct seccomp_group *g = p->groups; g->name; g++)
                for (size_t i = 0; g->syscalls[i]; i++)
                        printf("%s\n", g->syscalls[i]);
        for (const struct seccomp_arg_rule *a = p->arg_rules; a->syscall; a++)
                printf("%s\n", a->syscall);
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
                cmocka_unit_test(test_seccomp_socket_unix_only),
                cmocka_unit_test(test_seccomp_children_only_given_pid),
                cmocka_unit_test(test_seccomp_no_duplicate_in_group),
        };
        return cmocka_run_group_tests_name("seccomp", tests, NULL, NULL);
}
