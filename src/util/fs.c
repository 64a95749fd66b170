/* SPDX-License-Identifier: MIT */
/* Implementation of util/fs.h. */
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/text.h"

int fs_mkdir_p(const char *path, mode_t mode)
{
        char buf[PATH_MAX];
        size_t len = strlen(path);

        if (len == 0 || len >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, path, len + 1);
        for (char *p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(buf, mode) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int fs_fsync_dir(int dirfd, const char *path)
{
        _cleanup_close_ int fd = -1;

        if (path) {
                fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                dirfd = fd;
        }
        if (fsync(dirfd) < 0)
                return -errno;
        return 0;
}

int fs_write_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
        char tmp[NAME_MAX + 1];
        uint8_t rnd[8];
        char rnd_hex[17];
        _cleanup_close_ int fd = -1;
        const char *p = data;
        int r;

        randombytes_buf(rnd, sizeof(rnd));
        hex_encode(rnd, sizeof(rnd), rnd_hex);
        r = snprintf(tmp, sizeof(tmp), ".tmp-%s-%s", rnd_hex, name);
        if (r < 0 || (size_t)r >= sizeof(tmp))
                return -ENAMETOOLONG;

        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto fail;
                }
                p += n;
                len -= (size_t)n;
        }
        if (fsync(fd) < 0) {
                r = -errno;
                goto fail;
        }
        if (renameat(dirfd, tmp, dirfd, name) < 0) {
                r = -errno;
                goto fail;
        }
        return fs_fsync_dir(dirfd, NULL);
fail:
        (void)unlinkat(dirfd, tmp, 0);
        return r;
}

/* Files are copied in pieces of this size. */
#define FS_COPY_CHUNK (1024 * 1024)

static int copy_fd(int in, int out)
{
        _cleanup_free_ char *buf = malloc(FS_COPY_CHUNK);
        ssize_t n;

        if (!buf)
                return -ENOMEM;
        while ((n = read(in, buf, FS_COPY_CHUNK)) != 0) {
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                for (ssize_t o = 0; o < n;) {
                        ssize_t w = write(out, buf + o, (size_t)(n - o));
                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w < 0)
                                return -errno;
                        o += w;
                }
        }
        return fsync(out) < 0 ? -errno : 0;
}

int fs_copy_file(const char *src, const char *dst, mode_t mode)
{
        _cleanup_close_ int in = -1, out = -1;
        int r;

        in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (in < 0)
                return -errno;
        out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (out < 0)
                return -errno;
        r = copy_fd(in, out);
        if (r < 0)
                (void)unlink(dst);
        return r;
}

int fs_read_fd(int fd, size_t max, char **ret, size_t *ret_len)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;

        buf = malloc(max + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, buf + len, max + 1 - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > max)
                        return -EFBIG;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

int fs_read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = -1;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return fs_read_fd(fd, max, ret, ret_len);
}

int fs_open_nofollow(const char *path, int flags, mode_t mode)
{
        struct open_how how = {
                .flags = (uint64_t)(flags | O_CLOEXEC | O_NOCTTY),
                .mode = (flags & O_CREAT) ? mode : 0,
                .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        long fd;

        if (!path || !*path)
                return -EINVAL;
        fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
        return fd < 0 ? -errno : (int)fd;
}

int fs_open_dir_nofollow(const char *path, mode_t mode, bool *ret_created)
{
        char buf[PATH_MAX];
        size_t len = path ? strlen(path) : 0;
        _cleanup_close_ int fd = -1;
        char *p, *next;

        if (ret_created)
                *ret_created = false;
        if (len == 0 || len >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, path, len + 1);
        fd = open(buf[0] == '/' ? "/" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        for (p = buf; *p; p = next) {
                int sub;

                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                next = strchrnul(p, '/');
                if (*next)
                        *next++ = '\0';
                if (strcmp(p, ".") == 0)
                        continue;
                if (strcmp(p, "..") == 0)
                        return -EINVAL;
                sub = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0 && errno == ENOENT) {
                        if (mkdirat(fd, p, mode) < 0 && errno != EEXIST)
                                return -errno;
                        if (ret_created)
                                *ret_created = true;
                        sub = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                }
                if (sub < 0)
                        return errno == ENOTDIR ? -ELOOP : -errno;
                (void)close(fd);
                fd = sub;
        }
        return TAKE_FD(fd);
}
