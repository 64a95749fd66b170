/* SPDX-License-Identifier: MIT */
/* Implementation of util/secret.h on libsodium's guarded allocations. */
#include "util/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"

/* sodium_malloc() needs sodium_init() (idempotent), which options parsing
 * may run before. */
static char *secret_alloc(size_t size)
{
        if (sodium_init() < 0)
                return NULL;
        return sodium_malloc(size);
}

char *secret_strdup(const char *s)
{
        size_t len = strlen(s);
        char *p = secret_alloc(len + 1);

        if (p)
                memcpy(p, s, len + 1);
        return p;
}

void secret_free(char *s)
{
        if (s)
                sodium_free(s); /* wipes */
}

size_t secret_chomp(char *s)
{
        size_t len = strlen(s);

        if (len > 0 && s[len - 1] == '\n')
                s[--len] = '\0';
        if (len > 0 && s[len - 1] == '\r')
                s[--len] = '\0';
        return len;
}

int secret_read_fd(int fd, size_t max, bool line, char **ret, size_t *ret_len)
{
        _cleanup_secret_ char *buf = secret_alloc(max + 2);
        size_t len = 0;

        if (!buf)
                return -ENOMEM;
        for (;;) {
                size_t want = line ? 1 : max + 1 - len;
                ssize_t n = read(fd, buf + len, want);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0) {
                        if (line && len == 0)
                                return -ENODATA;
                        break;
                }
                len += (size_t)n;
                /* Room is left for the newline and the NUL. */
                if (len > max + (line ? 1u : 0u))
                        return -EFBIG;
                if (line && buf[len - 1] == '\n')
                        break;
        }
        buf[len] = '\0';
        /* strlen() would stop at a NUL byte, which the caller must see. */
        if (len > 0 && buf[len - 1] == '\n')
                buf[--len] = '\0';
        if (len > 0 && buf[len - 1] == '\r')
                buf[--len] = '\0';
        if (len > max)
                return -EFBIG;
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

int secret_read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

        if (fd < 0)
                return -errno;
        return secret_read_fd(fd, max, false, ret, ret_len);
}
