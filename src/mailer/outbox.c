/* SPDX-License-Identifier: MIT */
/* Implementation of mailer/outbox.h on top of util/fs.h. */
#include "mailer/outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/fs.h"
#include "util/text.h"

int outbox_open(const char *path, bool *ret_created)
{
        return fs_open_dir_nofollow(path, OUTBOX_DIR_MODE, ret_created);
}

int outbox_write(int dirfd, const char *msg, size_t len, char ret_name[OUTBOX_NAME_SIZE])
{
        char name[OUTBOX_NAME_SIZE], stamp[24], rnd_hex[17];
        struct timespec ts;
        struct tm tm;
        uint8_t rnd[8];
        int r;

        if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
                return -errno;
        if (!gmtime_r(&ts.tv_sec, &tm) || strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm) == 0)
                return -EINVAL;
        randombytes_buf(rnd, sizeof(rnd));
        hex_encode(rnd, sizeof(rnd), rnd_hex);
        r = snprintf(name, sizeof(name), "%s.%06ldZ-%s.eml", stamp, ts.tv_nsec / 1000, rnd_hex);
        if (r < 0 || (size_t)r >= sizeof(name))
                return -ENAMETOOLONG;
        r = fs_write_atomic(dirfd, name, msg, len, OUTBOX_FILE_MODE);
        if (r < 0)
                return r;
        if (ret_name)
                memcpy(ret_name, name, sizeof(name));
        return 0;
}
