/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of util/fs.h on a real temporary directory: directory trees
 * and their modes, atomic replacement (content, mode, no temp file left,
 * failure leaves the old file), and bounded whole-file reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"

struct fixture {
        char root[PATH_MAX];
        int dirfd;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        const char *tmp = getenv("TMPDIR");

        if (!f)
                return -1;
        umask(022); /* the modes below are the ones asked for */
        snprintf(f->root, sizeof(f->root), "%s/verstak-fs-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(f->root))
                return -1;
        f->dirfd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (f->dirfd < 0)
                return -1;
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        char cmd[PATH_MAX + 16];

        close(f->dirfd);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
        if (system(cmd) != 0)
                return -1;
        free(f);
        return 0;
}

static void path_in(const struct fixture *f, const char *rel, char out[PATH_MAX])
{
        int n = snprintf(out, PATH_MAX, "%s/%s", f->root, rel);
        assert_true(n > 0 && n < PATH_MAX);
}

static mode_t mode_of(const char *path)
{
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        return st.st_mode & 07777;
}

/* Entries of the fixture directory whose name starts with prefix. */
static int count_prefixed(const struct fixture *f, const char *prefix)
{
        DIR *d = opendir(f->root);
        struct dirent *e;
        int n = 0;

        assert_non_null(d);
        while ((e = readdir(d)))
                n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
        closedir(d);
        return n;
}

static void test_mkdir_p(void **state)
{
        struct fixture *f = *state;
        char path[PATH_MAX], file[PATH_MAX];
        mode_t old = umask(022);

        path_in(f, "a/b/c", path);
        assert_int_equal(fs_mkdir_p(path, 0750), 0);
        assert_int_equal(mode_of(path), 0750);
        path_in(f, "a/b", file);
        assert_int_equal(mode_of(file), 0750); /* every created component */
        /* Existing directories are left as they are. */
        assert_int_equal(chmod(path, 0700), 0);
        assert_int_equal(fs_mkdir_p(path, 0755), 0);
        assert_int_equal(mode_of(path), 0700);
        /* A trailing slash is fine. */
        path_in(f, "a/b/d/", path);
        assert_int_equal(fs_mkdir_p(path, 0700), 0);
        /* A file in the way. */
        path_in(f, "plain", file);
        FILE *fp = fopen(file, "w");
        assert_non_null(fp);
        fclose(fp);
        path_in(f, "plain/sub", path);
        assert_int_equal(fs_mkdir_p(path, 0700), -ENOTDIR);
        assert_int_equal(fs_mkdir_p("", 0700), -EINVAL);
        char huge[PATH_MAX + 10];
        memset(huge, 'x', sizeof(huge) - 1);
        huge[sizeof(huge) - 1] = '\0';
        assert_int_equal(fs_mkdir_p(huge, 0700), -EINVAL);
        umask(old);
}

static void test_write_atomic(void **state)
{
        struct fixture *f = *state;
        char path[PATH_MAX], *text = NULL;
        size_t len = 0;

        path_in(f, "state.json", path);
        assert_int_equal(fs_write_atomic(f->dirfd, "state.json", "{\"v\":1}", 7, 0600), 0);
        assert_int_equal(mode_of(path), 0600);
        assert_int_equal(fs_read_file(path, 100, &text, &len), 0);
        assert_int_equal(len, 7);
        assert_string_equal(text, "{\"v\":1}");
        free(text);

        /* Replacing: the new content and mode, the same name, no temp. */
        struct stat before, after;
        assert_int_equal(stat(path, &before), 0);
        assert_int_equal(fs_write_atomic(f->dirfd, "state.json", "{}", 2, 0640), 0);
        assert_int_equal(stat(path, &after), 0);
        assert_true(before.st_ino != after.st_ino); /* a new file renamed over */
        assert_int_equal(mode_of(path), 0640);
        assert_int_equal(fs_read_file(path, 100, &text, &len), 0);
        assert_string_equal(text, "{}");
        free(text);
        assert_int_equal(count_prefixed(f, ".tmp-"), 0);

        /* Empty content and binary content with NULs. */
        assert_int_equal(fs_write_atomic(f->dirfd, "empty", "", 0, 0600), 0);
        path_in(f, "empty", path);
        assert_int_equal(fs_read_file(path, 10, &text, &len), 0);
        assert_int_equal(len, 0);
        assert_string_equal(text, "");
        free(text);
        assert_int_equal(fs_write_atomic(f->dirfd, "bin", "a\0b", 3, 0600), 0);
        path_in(f, "bin", path);
        assert_int_equal(fs_read_file(path, 10, &text, &len), 0);
        assert_int_equal(len, 3);
        assert_memory_equal(text, "a\0b", 3);
        free(text);

        /* A name too long for the temp file. */
        char name[NAME_MAX + 1];
        memset(name, 'n', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        assert_int_equal(fs_write_atomic(f->dirfd, name, "x", 1, 0600), -ENAMETOOLONG);
        /* Renaming over a directory fails and leaves no temp file. */
        assert_int_equal(mkdirat(f->dirfd, "dir", 0700), 0);
        assert_true(fs_write_atomic(f->dirfd, "dir", "x", 1, 0600) < 0);
        assert_int_equal(count_prefixed(f, ".tmp-"), 0);
        assert_int_equal(fs_write_atomic(-1, "x", "x", 1, 0600), -EBADF);
}

static void test_read_file_bounds(void **state)
{
        struct fixture *f = *state;
        char path[PATH_MAX], *text = (char *)"untouched";
        size_t len = 42;

        path_in(f, "ten", path);
        assert_int_equal(fs_write_atomic(f->dirfd, "ten", "0123456789", 10, 0600), 0);
        assert_int_equal(fs_read_file(path, 10, &text, NULL), 0); /* exactly max */
        assert_string_equal(text, "0123456789");
        free(text);
        text = (char *)"untouched";
        assert_int_equal(fs_read_file(path, 9, &text, &len), -EFBIG);
        assert_string_equal(text, "untouched");
        assert_int_equal(len, 42);
        path_in(f, "missing", path);
        assert_int_equal(fs_read_file(path, 10, &text, &len), -ENOENT);
        /* A directory is not a file. */
        assert_int_equal(fs_read_file(f->root, 10, &text, &len), -EISDIR);
}

static void test_fsync_dir(void **state)
{
        struct fixture *f = *state;
        char path[PATH_MAX];

        assert_int_equal(fs_fsync_dir(f->dirfd, NULL), 0);
        assert_int_equal(fs_fsync_dir(-1, f->root), 0);
        path_in(f, "nowhere", path);
        assert_int_equal(fs_fsync_dir(-1, path), -ENOENT);
        assert_int_equal(fs_fsync_dir(-1, NULL), -EBADF);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_atomic, setup, teardown),
                cmocka_unit_test_setup_teardown(test_read_file_bounds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fsync_dir, setup, teardown),
        };
        return cmocka_run_group_tests_name("fs", tests, NULL, NULL);
}
