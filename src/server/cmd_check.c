/* SPDX-License-Identifier: MIT */
/*
 * `verstak-sync-server check`: is this data directory healthy?  The
 * store's own checks (integrity, foreign keys, sequences), then every
 * referenced blob against its file (present, recorded size, and with
 * --verify-blobs its SHA-256), then orphan files and stale uploads are
 * counted.  One line per problem on stdout; exit 0 when healthy, 1 when
 * not.  Reads only: safe while the daemon serves.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/blob_gc.h"
#include "blob/blob_store.h"
#include "server/cmd.h"
#include "store/store.h"
#include "store/store_maint.h"
#include "util/cleanup.h"
#include "util/log.h"

static const char check_help[] =
        "Usage: verstak-sync-server check [--data DIR] [--verify-blobs]\n\n"
        "Check a data directory, also while the daemon serves it: the database's\n"
        "integrity and foreign keys, operation sequences (positive, not above the\n"
        "high-water mark), every referenced blob (present, with the recorded size),\n"
        "orphan blob files and stale upload files (counted, removed by gc).\n"
        "Prints one line per problem; exit 0 when healthy, 1 when not, 2 when it\n"
        "cannot run (flags, user, schema).\n\n"
        "  --data DIR        data directory (default ./server-data)\n"
        "  --config FILE     configuration file (default DIR/config.yml)\n"
        "  --verify-blobs    also compare every blob's content with its SHA-256\n"
        "                    (reads every file; progress on a terminal)\n"
        "  --allow-root      as root, act as the owner of DIR\n"
        "  --help            print this help\n";

enum { OPT_VERIFY = CMD_OPT_FIRST_OWN };

struct check {
        struct cmd_data *data;
        bool verify;
        unsigned problems;
        uint64_t blobs, bytes;
};

static int problem(void *userdata, const char *line)
{
        struct check *c = userdata;

        c->problems++;
        printf("%s\n", line);
        return 0;
}

static int check_blob(void *userdata, const char *sha256, int64_t size)
{
        struct check *c = userdata;
        _cleanup_close_ int fd = -1;
        int r;

        c->blobs++;
        if (size < 0) {
                printf("blob %s: referenced, but the database has no size for it\n", sha256);
                c->problems++;
                return 0;
        }
        r = blob_store_open_blob(c->data->blobs, sha256, (uint64_t)size, &fd);
        if (r == -ENOENT || r == -EUCLEAN) {
                printf("blob %s: %s (recorded size %lld bytes)\n", sha256,
                       r == -ENOENT ? "missing" : "size differs from the database",
                       (long long)size);
                c->problems++;
                return 0;
        }
        if (r < 0) {
                printf("blob %s: cannot open: %s\n", sha256, strerror(-r));
                c->problems++;
                return 0;
        }
        if (!c->verify) {
                c->bytes += (uint64_t)size;
                return 0;
        }
        char hex[65];
        r = cmd_sha256_fd(fd, hex, NULL, &c->bytes);
        cmd_progress("Verifying blobs", c->blobs, 0, c->bytes, false);
        if (r >= 0)
                r = strcmp(hex, sha256) == 0;
        if (r == 0 || r < 0) {
                printf("blob %s: %s\n", sha256,
                       r == 0 ? "content does not match its SHA-256" : "cannot be read");
                c->problems++;
        }
        return 0;
}

static int own_option(int opt, const char *arg, void *userdata)
{
        (void)arg;
        if (opt != OPT_VERIFY)
                return -EINVAL;
        *(bool *)userdata = true;
        return 0;
}

/* An exit status 2 (could not run) is reported as problems too, with
 * the reason. */
static const struct cmd_events check_events = {
        LOG_MID_CHECK_STARTED,
        LOG_MID_CHECK_HEALTHY,
        LOG_MID_CHECK_PROBLEMS,
        "check",
};

int cmd_check(int argc, char **argv)
{
        static const struct option opts[] = {
                CMD_COMMON_OPTIONS,
                {"verify-blobs", no_argument, NULL, OPT_VERIFY},
                {NULL, 0, NULL, 0},
        };
        struct cmd_common common;
        struct cmd_data data;
        struct check c = {.data = &data};
        struct store_counts counts = {0};
        struct blob_orphans orphans = {0};
        struct blob_temp_tally temps = {0};
        char size[32], osize[32], tsize[32], what[PATH_MAX + 64];
        int r;

        r = cmd_parse(argc, argv, opts, check_help, &common, own_option, &c.verify, NULL);
        if (r != 0)
                return r == 1 ? CMD_EXIT_OK : r;
        snprintf(what, sizeof(what), "Check of %s%s", common.data_dir,
                 c.verify ? " (blob contents verified)" : "");
        cmd_event_started(&check_events, what);
        r = cmd_data_open("check", &common, &data);
        if (r != 0) {
                cmd_data_close(&data);
                return cmd_event_ended(&check_events, what, r);
        }

        r = store_check(data.store, problem, &c);
        if (r < 0)
                printf("database: the checks could not run: %s\n", strerror(-r));
        if (r < 0)
                c.problems++;
        r = store_get_counts(data.store, &counts);
        if (r >= 0)
                r = store_blob_foreach_referenced(data.store, check_blob, &c);
        if (r < 0) {
                printf("blobs: cannot list the referenced blobs: %s\n", strerror(-r));
                c.problems++;
        }
        if (c.verify)
                cmd_progress("Verifying blobs", c.blobs, 0, c.bytes, true);
        r = blob_gc_count_orphans(data.store, data.blobs, &orphans);
        if (r >= 0)
                r = blob_store_stale_temp(data.blobs, cmd_temp_cutoff(&data.config), false, &temps);
        if (r < 0) {
                printf("blobs: cannot scan %s: %s\n", data.blob_dir, strerror(-r));
                c.problems++;
        }

        cmd_format_bytes(c.bytes, size, sizeof(size));
        cmd_format_bytes(orphans.bytes, osize, sizeof(osize));
        cmd_format_bytes(temps.bytes, tsize, sizeof(tsize));
        printf("%s: %lld users, %lld operations (last sequence %lld), %llu referenced blobs "
               "(%s%s); %llu orphan blob files (%s), %llu stale uploads (%s)\n",
               c.problems ? "PROBLEMS" : "OK", (long long)counts.users, (long long)counts.ops,
               (long long)counts.last_sequence, (unsigned long long)c.blobs, size,
               c.verify ? ", contents verified" : "", (unsigned long long)orphans.files, osize,
               (unsigned long long)temps.files, tsize);
        if (c.problems) {
                printf("%u problems found\n", c.problems);
                cmd_event(LOG_ERR, LOG_MID_CHECK_PROBLEMS, "check_problems",
                          "%s found %u problems (by '%s')", what, c.problems, cmd_invoker());
        } else {
                cmd_event(LOG_NOTICE, LOG_MID_CHECK_HEALTHY, "check_healthy",
                          "%s: healthy (by '%s')", what, cmd_invoker());
        }
        cmd_data_close(&data);
        return c.problems ? CMD_EXIT_FAILURE : CMD_EXIT_OK;
}
