/* SPDX-License-Identifier: MIT */
/*
 * `verstak-sync-server gc`: remove blob files no reference points to,
 * database rows of blobs without a reference, and upload temporary files
 * older than retention.temp_upload_hours, through blob_gc (the same code
 * the admin console's storage page runs).  Safe while the daemon serves: a
 * file an upload in the daemon is committing is claimed across processes
 * and kept (blob/blob_store.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/blob_gc.h"
#include "blob/blob_store.h"
#include "server/cmd.h"
#include "store/store_blobs.h"
#include "util/log.h"

static const char gc_help[] =
        "Usage: verstak-sync-server gc [--data DIR] [--dry-run]\n\n"
        "Remove blob files that nothing references, blob records without a\n"
        "reference, and upload temporary files older than\n"
        "retention.temp_upload_hours; a blob an upload is committing at that\n"
        "moment is kept.  Safe while the daemon serves.  Reports files and bytes.\n\n"
        "  --data DIR        data directory (default ./server-data)\n"
        "  --config FILE     configuration file (default DIR/config.yml)\n"
        "  --dry-run         only count what would be removed\n"
        "  --allow-root      as root, act as the owner of DIR\n"
        "  --help            print this help\n";

enum { OPT_DRY_RUN = CMD_OPT_FIRST_OWN };

static int own_option(int opt, const char *arg, void *userdata)
{
        (void)arg;
        if (opt != OPT_DRY_RUN)
                return -EINVAL;
        *(bool *)userdata = true;
        return 0;
}

static int dry_run(struct cmd_data *data)
{
        struct blob_orphans orphans;
        struct blob_temp_tally temps;
        char(*rows)[65] = NULL;
        size_t n_rows = 0;
        char osize[32], tsize[32];
        int r;

        r = blob_gc_count_orphans(data->store, data->blobs, &orphans);
        if (r >= 0)
                r = store_blob_list_unreferenced(data->store, &rows, &n_rows);
        free(rows);
        if (r >= 0)
                r = blob_store_stale_temp(data->blobs, cmd_temp_cutoff(&data->config), false,
                                          &temps);
        if (r < 0)
                return cmd_fail(CMD_EXIT_FAILURE, "gc", "cannot scan %s: %s", data->blob_dir,
                                strerror(-r));
        cmd_format_bytes(orphans.bytes, osize, sizeof(osize));
        cmd_format_bytes(temps.bytes, tsize, sizeof(tsize));
        printf("Would remove %llu blob files (%s), %zu blob records and %llu stale uploads "
               "(%s)\n",
               (unsigned long long)orphans.files, osize, n_rows, (unsigned long long)temps.files,
               tsize);
        return CMD_EXIT_OK;
}

static int collect(struct cmd_data *data)
{
        struct blob_gc_result res;
        struct blob_temp_tally temps;
        char fsize[32], tsize[32];
        int r;

        r = blob_gc_run(data->store, data->blobs, &res);
        if (r < 0)
                return cmd_fail(CMD_EXIT_FAILURE, "gc", "garbage collection failed: %s",
                                strerror(-r));
        r = blob_store_stale_temp(data->blobs, cmd_temp_cutoff(&data->config), true, &temps);
        if (r < 0)
                return cmd_fail(CMD_EXIT_FAILURE, "gc", "cannot remove stale uploads: %s",
                                strerror(-r));
        cmd_format_bytes(res.bytes_freed, fsize, sizeof(fsize));
        cmd_format_bytes(temps.bytes, tsize, sizeof(tsize));
        printf("Removed %llu blob files (%s), %llu blob records and %llu stale uploads (%s); "
               "kept %llu in use\n",
               (unsigned long long)res.files_removed, fsize, (unsigned long long)res.rows_removed,
               (unsigned long long)temps.files, tsize, (unsigned long long)res.kept);
        return CMD_EXIT_OK;
}

static const struct cmd_events gc_events = {
        LOG_MID_GC_STARTED,
        LOG_MID_GC_FINISHED,
        LOG_MID_GC_FAILED,
        "gc",
};

/* A dry run changes nothing: no events. */
static int gc_dry_run(const struct cmd_common *common)
{
        struct cmd_data data;
        int r = cmd_data_open("gc", common, &data);

        if (r == 0)
                r = dry_run(&data);
        cmd_data_close(&data);
        return r;
}

int cmd_gc(int argc, char **argv)
{
        static const struct option opts[] = {
                CMD_COMMON_OPTIONS,
                {"dry-run", no_argument, NULL, OPT_DRY_RUN},
                {NULL, 0, NULL, 0},
        };
        struct cmd_common common;
        struct cmd_data data;
        bool dry = false;
        int r;

        r = cmd_parse(argc, argv, opts, gc_help, &common, own_option, &dry, NULL);
        if (r != 0)
                return r == 1 ? CMD_EXIT_OK : r;
        if (dry)
                return gc_dry_run(&common);
        char what[PATH_MAX + 64];
        snprintf(what, sizeof(what), "Garbage collection in %s", common.data_dir);
        cmd_event_started(&gc_events, what);
        r = cmd_data_open("gc", &common, &data);
        if (r == 0)
                r = collect(&data);
        cmd_data_close(&data);
        return cmd_event_ended(&gc_events, what, r);
}
