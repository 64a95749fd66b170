/* SPDX-License-Identifier: MIT */
/* Unit tests of util/secret.h: secrets read from files and pipes into
 * secret memory, line mode, limits and the trailing newline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/secret.h"

/* A pipe whose read end holds text (then end of input). */
static int pipe_with(const char *text)
{
        int p[2];

        assert_int_equal(pipe(p), 0);
        assert_int_equal(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
        assert_int_equal(close(p[1]), 0);
        return p[0];
}

static void test_secret_strdup_chomp(void **state)
{
        char *s = secret_strdup("pass\r\n");
        (void)state;

        assert_non_null(s);
        assert_int_equal(secret_chomp(s), 4);
        assert_string_equal(s, "pass");
        assert_int_equal(secret_chomp(s), 4); /* only line ends go */
        secret_free(s);
        secret_free(NULL);
}

static void test_secret_read_line(void **state)
{
        char *s = NULL;
        size_t len = 0;
        int fd = pipe_with("first line\r\nsecond\n");
        (void)state;

        /* One line, and nothing after it is consumed. */
        assert_int_equal(secret_read_fd(fd, 16, true, &s, &len), 0);
        assert_string_equal(s, "first line");
        assert_int_equal(len, 10);
        secret_free(s);
        assert_int_equal(secret_read_fd(fd, 16, true, &s, &len), 0);
        assert_string_equal(s, "second");
        secret_free(s);
        /* The input has ended. */
        assert_int_equal(secret_read_fd(fd, 16, true, &s, &len), -ENODATA);
        close(fd);

        /* A last line without a newline; an empty line. */
        fd = pipe_with("tail");
        assert_int_equal(secret_read_fd(fd, 4, true, &s, &len), 0);
        assert_string_equal(s, "tail");
        secret_free(s);
        close(fd);
        fd = pipe_with("\n");
        assert_int_equal(secret_read_fd(fd, 4, true, &s, &len), 0);
        assert_int_equal(len, 0);
        secret_free(s);
        close(fd);

        /* Longer than max, newline or not. */
        fd = pipe_with("12345\n");
        assert_int_equal(secret_read_fd(fd, 4, true, &s, &len), -EFBIG);
        close(fd);
        fd = pipe_with("123456789");
        assert_int_equal(secret_read_fd(fd, 4, true, &s, &len), -EFBIG);
        close(fd);
}

static void test_secret_read_file(void **state)
{
        char path[] = "/tmp/test-secret-XXXXXX";
        char *s = NULL;
        size_t len = 0;
        int fd = mkstemp(path);
        (void)state;

        assert_true(fd >= 0);
        assert_int_equal(write(fd, "pw\0x\n", 5), 5);
        assert_int_equal(close(fd), 0);
        /* A NUL byte shows in the length. */
        assert_int_equal(secret_read_file(path, 8, &s, &len), 0);
        assert_int_equal(len, 4);
        assert_int_equal(strlen(s), 2);
        secret_free(s);
        /* The limit counts the newline too. */
        assert_int_equal(secret_read_file(path, 4, &s, &len), -EFBIG);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(secret_read_file(path, 8, &s, &len), -ENOENT);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_secret_strdup_chomp),
                cmocka_unit_test(test_secret_read_line),
                cmocka_unit_test(test_secret_read_file),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
