/* SPDX-License-Identifier: MIT */
/* Implementation of server/admin_password.h, in secret memory (util/secret.h). */
#include "server/admin_password.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/log.h"
#include "util/secret.h"

/* A file or line longer than this is not a password. */
#define ADMIN_PASSWORD_READ_MAX 1024

int admin_password_read(const char *literal, const char *file, char **ret)
{
        _cleanup_secret_ char *buf = NULL;
        size_t len = 0;
        int r;

        if (literal) {
                buf = secret_strdup(literal);
                if (!buf)
                        return -ENOMEM;
                len = secret_chomp(buf);
        } else if (file) {
                r = secret_read_file(file, ADMIN_PASSWORD_READ_MAX, &buf, &len);
                if (r < 0)
                        return log_error_errno(r, "Cannot read the password file %s: %m", file);
        } else {
                r = secret_read_fd(STDIN_FILENO, ADMIN_PASSWORD_READ_MAX, true, &buf, &len);
                if (r == -ENODATA)
                        return log_error_errno(EINVAL, "No password on standard input");
                if (r < 0 && r != -EFBIG)
                        return log_error_errno(r, "Cannot read standard input: %m");
                if (r == -EFBIG)
                        len = SIZE_MAX;
        }
        if (len == 0 || len > ADMIN_PASSWORD_MAX_LEN)
                return log_error_errno(EINVAL, "The administrator password must be 1-%d bytes",
                                       ADMIN_PASSWORD_MAX_LEN);
        *ret = TAKE_PTR(buf);
        return 0;
}
