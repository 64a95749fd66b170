/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of daemon/privdrop.h.  The tests run as root (skipped
 * otherwise); the drop itself happens in a forked child, which reports
 * what it sees afterwards — ids, groups, capabilities, whether root comes
 * back — as one line on a pipe for the parent to check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/privdrop.h"

/* The unprivileged account every Debian system has. */
#define TARGET_USER "nobody"

static struct passwd target;

static int setup(void **state)
{
        const struct passwd *pw = getpwnam(TARGET_USER);
        (void)state;

        if (!pw)
                return -1;
        target = *pw;
        return 0;
}

static void need_root(void)
{
        if (geteuid() != 0)
                skip();
}

static void test_resolve(void **state)
{
        struct privdrop_target t = {0};
        char numeric[32];
        (void)state;

        assert_int_equal(privdrop_resolve(TARGET_USER, NULL, &t), 0);
        assert_int_equal(t.uid, target.pw_uid);
        assert_int_equal(t.gid, target.pw_gid); /* the primary group */
        snprintf(numeric, sizeof(numeric), "%u", (unsigned)target.pw_uid);
        assert_int_equal(privdrop_resolve(numeric, NULL, &t), 0);
        assert_int_equal(t.uid, target.pw_uid);

        const struct group *gr = getgrnam("daemon");
        if (gr) {
                assert_int_equal(privdrop_resolve(TARGET_USER, "daemon", &t), 0);
                assert_int_equal(t.gid, gr->gr_gid);
                snprintf(numeric, sizeof(numeric), "%u", (unsigned)gr->gr_gid);
                assert_int_equal(privdrop_resolve(TARGET_USER, numeric, &t), 0);
                assert_int_equal(t.gid, gr->gr_gid);
        }

        assert_int_equal(privdrop_resolve("no-such-user-here", NULL, &t), -ESRCH);
        assert_int_equal(privdrop_resolve(TARGET_USER, "no-such-group-here", &t), -ENOENT);
        assert_int_equal(privdrop_resolve("root", NULL, &t), -EINVAL);
        assert_int_equal(privdrop_resolve("0", NULL, &t), -EINVAL);
        assert_int_equal(privdrop_resolve(TARGET_USER, "root", &t), -EINVAL);
}

/* Owner of dirfd/name, not following a symbolic link. */
static uid_t owner_of(int dirfd, const char *name)
{
        struct stat st;
        assert_int_equal(fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
        return st.st_uid;
}

static void test_chown_tree(void **state)
{
        char root[] = "/tmp/verstak-privdrop-XXXXXX", outside[PATH_MAX];
        (void)state;

        need_root();
        assert_non_null(mkdtemp(root));
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        /* data/ with a file, a sub-directory with a file, a symbolic link
         * and a hard link to a file outside the tree. */
        assert_int_equal(mkdirat(fd, "data", 0750), 0);
        assert_int_equal(mkdirat(fd, "data/blobs", 0750), 0);
        assert_int_equal(mkdirat(fd, "outside", 0700), 0);
        assert_int_equal(mkdirat(fd, "data/mail", 0700), 0);
        static const char *const files[] = {"data/server.db", "data/blobs/ab", "outside/secret",
                                            "data/mail/password"};
        for (size_t i = 0; i < 4; i++) {
                int f = openat(fd, files[i], O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
                assert_true(f >= 0);
                close(f);
        }
        snprintf(outside, sizeof(outside), "%s/outside/secret", root);
        assert_int_equal(symlinkat(outside, fd, "data/link"), 0);
        assert_int_equal(linkat(fd, "outside/secret", fd, "data/hard", 0), 0);

        int data = openat(fd, "data", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(data >= 0);
        /* data, server.db, blobs, blobs/ab; mail/ is kept as it is. */
        assert_int_equal(privdrop_chown_tree(data, target.pw_uid, target.pw_gid, "mail"), 4);
        assert_int_equal(owner_of(fd, "data/mail"), 0);
        assert_int_equal(owner_of(fd, "data/mail/password"), 0);
        assert_int_equal(owner_of(fd, "data"), target.pw_uid);
        assert_int_equal(owner_of(fd, "data/server.db"), target.pw_uid);
        assert_int_equal(owner_of(fd, "data/blobs/ab"), target.pw_uid);
        assert_int_equal(owner_of(fd, "data/link"), 0);      /* the link itself */
        assert_int_equal(owner_of(fd, "outside/secret"), 0); /* not through either link */
        /* Without keep, mail/ and its file follow; then nothing is left. */
        assert_int_equal(privdrop_chown_tree(data, target.pw_uid, target.pw_gid, NULL), 2);
        assert_int_equal(owner_of(fd, "data/mail/password"), target.pw_uid);
        assert_int_equal(privdrop_chown_tree(data, target.pw_uid, target.pw_gid, NULL), 0);
        int file = openat(fd, "data/server.db", O_RDONLY | O_CLOEXEC);
        assert_int_equal(privdrop_chown_tree(file, target.pw_uid, target.pw_gid, NULL), -ENOTDIR);
        close(file);

        /* Deeper than PRIVDROP_CHOWN_DEPTH: refused. */
        char deep[PATH_MAX] = "data";
        for (int i = 0; i < 12; i++) {
                strcat(deep, "/d");
                assert_int_equal(mkdirat(fd, deep, 0700), 0);
        }
        assert_int_equal(privdrop_chown_tree(data, target.pw_uid, target.pw_gid, NULL), -ELOOP);
        close(data);
        close(fd);
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        assert_int_equal(system(cmd), 0);
}

/* In the child: drop, then describe the result in out. */
static int child_report(char *out, size_t size)
{
        struct privdrop_target t = {.uid = target.pw_uid, .gid = target.pw_gid};
        uid_t ru, eu, su;
        gid_t rg, eg, sg;
        char cap[64] = "?";
        char line[256];

        /* A supplementary group to lose. */
        gid_t extra[] = {4};
        if (setgroups(1, extra) < 0)
                return snprintf(out, size, "setgroups before: %d", errno);
        int r = privdrop_apply(&t);
        if (r < 0)
                return snprintf(out, size, "apply: %d", r);
        if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
                return snprintf(out, size, "getres: %d", errno);
        FILE *f = fopen("/proc/self/status", "r");
        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "CapEff: %63s", cap) == 1)
                        break;
        if (f)
                fclose(f);
        int s_uid = setuid(0) < 0 ? errno : 0;
        int s_euid = seteuid(0) < 0 ? errno : 0;
        int s_gid = setgid(0) < 0 ? errno : 0;
        int s_groups = setgroups(0, NULL) < 0 ? errno : 0;
        return snprintf(out, size,
                        "uid=%u/%u/%u gid=%u/%u/%u groups=%d cap=%s root=%d "
                        "setuid=%d seteuid=%d setgid=%d setgroups=%d",
                        (unsigned)ru, (unsigned)eu, (unsigned)su, (unsigned)rg, (unsigned)eg,
                        (unsigned)sg, getgroups(0, NULL), cap, privdrop_is_root(), s_uid, s_euid,
                        s_gid, s_groups);
}

static void test_apply_in_child(void **state)
{
        int p[2];
        char got[512] = "", want[512];
        (void)state;

        need_root();
        assert_true(privdrop_is_root());
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                char out[512];
                int n = child_report(out, sizeof(out));
                ssize_t w = write(p[1], out, n > 0 ? (size_t)n : 0);
                _exit(w == n ? 0 : 1);
        }
        close(p[1]);
        ssize_t n = read(p[0], got, sizeof(got) - 1);
        close(p[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_true(n > 0);
        got[n] = '\0';
        unsigned u = (unsigned)target.pw_uid, g = (unsigned)target.pw_gid;
        snprintf(want, sizeof(want),
                 "uid=%u/%u/%u gid=%u/%u/%u groups=0 cap=0000000000000000 root=0 "
                 "setuid=%d seteuid=%d setgid=%d setgroups=%d",
                 u, u, u, g, g, g, EPERM, EPERM, EPERM, EPERM);
        assert_string_equal(got, want);
        /* The parent is untouched. */
        assert_true(privdrop_is_root());
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_resolve),
                cmocka_unit_test(test_chown_tree),
                cmocka_unit_test(test_apply_in_child),
        };
        return cmocka_run_group_tests_name("privdrop", tests, setup, NULL);
}
