/* SPDX-License-Identifier: MIT */
/* Implementation of server/admin_password.h. */
#include "server/admin_password.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

/* A file or line longer than this is not a password. */
#define ADMIN_PASSWORD_READ_MAX 1024

int admin_password_read(const char *literal, const char *file, char **ret)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r;

        if (literal) {
                buf = strdup(literal);
                if (!buf)
                        return -ENOMEM;
                len = strlen(buf);
        } else if (file) {
                r = fs_read_file(file, ADMIN_PASSWORD_READ_MAX, &buf, &len);
                if (r < 0)
                        return log_error_errno(r, "Cannot read the password file %s: %m", file);
        } else {
                buf = calloc(1, ADMIN_PASSWORD_READ_MAX + 2);
                if (!buf)
                        return -ENOMEM;
                if (!fgets(buf, ADMIN_PASSWORD_READ_MAX + 2, stdin))
                        return log_error_errno(EINVAL, "No password on standard input");
                len = strlen(buf);
        }
        /* One trailing newline (from echo or a file) is not part of it. */
        if (len > 0 && buf[len - 1] == '\n')
                buf[--len] = '\0';
        if (len > 0 && buf[len - 1] == '\r')
                buf[--len] = '\0';
        if (len == 0 || len > ADMIN_PASSWORD_MAX_LEN || strlen(buf) != len) {
                sodium_memzero(buf, len);
                return log_error_errno(EINVAL, "The administrator password must be 1-%d bytes",
                                       ADMIN_PASSWORD_MAX_LEN);
        }
        *ret = TAKE_PTR(buf);
        return 0;
}
