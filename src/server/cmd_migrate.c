/* SPDX-License-Identifier: MIT */
/*
 * `verstak-sync-server migrate --from-data DIR --to URL`: copy the SQLite
 * database of a data directory into an empty PostgreSQL database
 * (store_copy(), store/store_copy.h) and verify the copy.  The data
 * directory is only read: a database of an earlier schema (the earlier
 * server's) is upgraded in a private copy under $TMPDIR, never in place.
 * Blob files are not copied; the PostgreSQL deployment uses the same blob
 * directory.  The URL's password never reaches the output.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "server/cmd.h"
#include "store/store_copy.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

/* Rows per transaction on the target. */
#define MIGRATE_BATCH_ROWS 1000

static const char migrate_help[] =
        "Usage: verstak-sync-server migrate --from-data DIR --to URL\n"
        "       verstak-sync-server migrate --from-data DIR --to-url-file FILE\n\n"
        "Copy the SQLite database of the data directory DIR into an empty\n"
        "PostgreSQL database: create the schema there, copy every table in\n"
        "batches (one transaction each), carry the sequence high-water mark\n"
        "over, then verify rows per table and every counter.  DIR is only read;\n"
        "a database written by an earlier version is upgraded in a temporary\n"
        "copy.  A target that holds any table is refused.  Stop the daemon\n"
        "first.  Blob files stay in DIR/blobs: the PostgreSQL deployment must\n"
        "use that directory (or a copy of it).\n\n"
        "  --from-data DIR       data directory to copy (its server.db)\n"
        "  --to URL              postgresql://user@host/dbname (a password here is\n"
        "                        visible to other users while the command starts)\n"
        "  --to-url-file FILE    read the URL from FILE (for a URL with a password)\n"
        "  --allow-root          as root, act as the owner of DIR\n"
        "  --help                print this help\n";

enum {
        OPT_FROM_DATA = CMD_OPT_FIRST_OWN,
        OPT_TO,
        OPT_TO_URL_FILE,
};

struct migrate_args {
        const char *from_data;
        char *to; /* the URL given by --to (argv's copy is scrubbed) */
        const char *to_url_file;
};

struct migrate {
        char *url;
        char masked[512]; /* the URL for messages */
        char *tmp_dir;    /* the upgraded copy of an older database */
        struct store *src, *dst;
        bool tty;
};

static int own_option(int opt, const char *arg, void *userdata)
{
        struct migrate_args *a = userdata;

        switch (opt) {
        case OPT_FROM_DATA:
                a->from_data = arg;
                return 0;
        case OPT_TO:
                free(a->to);
                a->to = strdup(arg);
                /* Out of ps and /proc/PID/cmdline from now on. */
                memset(optarg, 'x', strlen(optarg));
                return a->to ? 0 : -ENOMEM;
        case OPT_TO_URL_FILE:
                a->to_url_file = arg;
                return 0;
        default:
                return -EINVAL;
        }
}

/* The target URL from --to or --to-url-file into m->url. */
static int read_url(const struct migrate_args *a, struct migrate *m)
{
        char err[512] = "";
        int r;

        if (!a->to == !a->to_url_file)
                return cmd_fail(CMD_EXIT_USAGE, "migrate",
                                "give the target as exactly one of --to URL or --to-url-file "
                                "FILE (see --help)");
        if (a->to_url_file) {
                r = config_read_url_file(a->to_url_file, "--to-url-file", &m->url, err,
                                         sizeof(err));
                if (r < 0)
                        return cmd_fail(CMD_EXIT_USAGE, "migrate", "%s", err);
        } else {
                if (!config_is_database_url(a->to))
                        return cmd_fail(CMD_EXIT_USAGE, "migrate",
                                        "--to: expected a postgresql:// URL");
                m->url = strdup(a->to);
                if (!m->url)
                        return cmd_fail(CMD_EXIT_FAILURE, "migrate", "out of memory");
        }
        config_url_masked(m->url, m->masked, sizeof(m->masked));
        return 0;
}

static void remove_tmp_copy(struct migrate *m)
{
        static const char *const files[] = {"server.db", "server.db-wal", "server.db-shm"};
        char path[PATH_MAX];

        if (!m->tmp_dir)
                return;
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                snprintf(path, sizeof(path), "%s/%s", m->tmp_dir, files[i]);
                (void)unlink(path);
        }
        (void)rmdir(m->tmp_dir);
        free(m->tmp_dir);
        m->tmp_dir = NULL;
}

/* Copy db_path (and its WAL) into a private temporary directory and open
 * the copy, migrating it to this version's schema. */
static int open_upgraded_copy(struct migrate *m, const char *db_path)
{
        const char *tmp = getenv("TMPDIR");
        char from[PATH_MAX], to[PATH_MAX];
        struct stat st;
        int r;

        if (asprintf(&m->tmp_dir, "%s/verstak-migrate-XXXXXX", tmp && *tmp ? tmp : "/var/tmp") <
            0) {
                m->tmp_dir = NULL;
                return cmd_fail(CMD_EXIT_FAILURE, "migrate", "out of memory");
        }
        if (!mkdtemp(m->tmp_dir)) {
                r = -errno;
                free(m->tmp_dir);
                m->tmp_dir = NULL;
                return cmd_fail(CMD_EXIT_FAILURE, "migrate",
                                "cannot create a temporary directory: %s", strerror(-r));
        }
        fprintf(stderr,
                "%s has an older schema: upgrading a copy in %s (the data directory is not "
                "changed)\n",
                db_path, m->tmp_dir);
        snprintf(to, sizeof(to), "%s/server.db", m->tmp_dir);
        r = fs_copy_file(db_path, to, 0600);
        snprintf(from, sizeof(from), "%s-wal", db_path);
        if (r >= 0 && lstat(from, &st) == 0) {
                snprintf(to, sizeof(to), "%s/server.db-wal", m->tmp_dir);
                r = fs_copy_file(from, to, 0600);
        }
        if (r < 0)
                return cmd_fail(CMD_EXIT_FAILURE, "migrate", "cannot copy %s: %s", db_path,
                                strerror(-r));
        snprintf(to, sizeof(to), "%s/server.db", m->tmp_dir);
        r = store_open(to, &(struct store_options){.readers = 1}, &m->src, NULL);
        if (r < 0)
                return cmd_fail(CMD_EXIT_FAILURE, "migrate", "cannot upgrade the copy of %s: %s",
                                db_path, strerror(-r));
        return 0;
}

static int open_source(struct migrate *m, const char *data_dir)
{
        char real[PATH_MAX];
        _cleanup_free_ char *db_path = NULL;
        struct stat st;
        int r;

        if (!realpath(data_dir, real))
                return cmd_fail(CMD_EXIT_USAGE, "migrate", "cannot resolve %s: %s", data_dir,
                                strerror(errno));
        if (asprintf(&db_path, "%s/server.db", real) < 0)
                return cmd_fail(CMD_EXIT_FAILURE, "migrate", "out of memory");
        if (stat(db_path, &st) < 0)
                return cmd_fail(CMD_EXIT_USAGE, "migrate", "no database at %s: %s", db_path,
                                strerror(errno));
        if (!S_ISREG(st.st_mode))
                return cmd_fail(CMD_EXIT_USAGE, "migrate", "%s is not a file", db_path);
        r = store_open(
                db_path,
                &(struct store_options){.synchronous_full = true, .readers = 1, .no_migrate = true},
                &m->src, NULL);
        if (r == -ESTALE)
                return open_upgraded_copy(m, db_path);
        if (r == -EPROTONOSUPPORT)
                return cmd_fail(CMD_EXIT_USAGE, "migrate",
                                "%s was written by a newer verstak-sync-server (schema newer than "
                                "version %d); use that version's command",
                                db_path, STORE_SCHEMA_VERSION);
        if (r < 0)
                return cmd_fail(CMD_EXIT_FAILURE, "migrate",
                                "cannot read the database %s: %s (is it a verstak-sync-server "
                                "database?)",
                                db_path, strerror(-r));
        return 0;
}

/* What a failure to open the target means; 0 for r == 0. */
static int target_failure(const struct migrate *m, int r)
{
        if (r == -ENOTEMPTY)
                return cmd_fail(CMD_EXIT_USAGE, "migrate",
                                "refusing to copy into %s: it already holds tables; give an "
                                "empty database (createdb a new one)",
                                m->masked);
        if (r == -ECONNREFUSED)
                return cmd_fail(CMD_EXIT_FAILURE, "migrate", "cannot connect to %s", m->masked);
        if (r < 0)
                return cmd_fail(CMD_EXIT_FAILURE, "migrate", "cannot create the schema in %s: %s",
                                m->masked, strerror(-r));
        return 0;
}

/* Before the source is read (an older one is upgraded first, which takes
 * a while): connect to the target and see that it is empty, creating
 * nothing (an empty database has no schema: -ESTALE). */
static int probe_target(struct migrate *m)
{
        struct store *probe = NULL;
        int r = store_open(
                m->url,
                &(struct store_options){.readers = 1, .no_migrate = true, .require_empty = true},
                &probe, NULL);

        store_close(probe);
        return target_failure(m, r == -ESTALE ? 0 : r < 0 ? r : -ENOTEMPTY);
}

static int open_target(struct migrate *m)
{
        int r = store_open(m->url,
                           &(struct store_options){
                                   .synchronous_full = true, .readers = 1, .require_empty = true},
                           &m->dst, NULL);

        return target_failure(m, r);
}

static void progress(void *userdata, const char *table, int64_t done, int64_t total)
{
        const struct migrate *m = userdata;

        if (done >= total)
                fprintf(stderr, "%s%s: %lld rows\n", m->tty ? "\r" : "", table, (long long)done);
        else if (m->tty)
                fprintf(stderr, "\r%s: %lld/%lld rows", table, (long long)done, (long long)total);
}

static int problem(void *userdata, const char *line)
{
        (void)userdata;
        fprintf(stderr, "verstak-sync-server migrate: differs: %s\n", line);
        return 0;
}

static int copy(struct migrate *m, const char *data_dir)
{
        struct store_copy_result res;
        int r;

        m->tty = isatty(STDERR_FILENO) == 1;
        fprintf(stderr, "Copying %s into %s\n", data_dir, m->masked);
        r = store_copy(m->src, m->dst, MIGRATE_BATCH_ROWS, progress, problem, m, &res);
        if (r < 0)
                return cmd_fail(CMD_EXIT_FAILURE, "migrate",
                                "the copy stopped: %s; %s now holds part of the data: drop it "
                                "and create it empty before trying again",
                                strerror(-r), m->masked);
        if (r > 0)
                return cmd_fail(CMD_EXIT_FAILURE, "migrate",
                                "the copy in %s differs from the source in %d places (above)",
                                m->masked, r);
        printf("Copied %lld rows of %u tables into %s and verified them; sequence high-water "
               "mark %lld.\n"
               "Blob files stay in %s/blobs: give the PostgreSQL deployment that directory.\n",
               (long long)res.rows, res.tables, m->masked, (long long)res.last_sequence, data_dir);
        return CMD_EXIT_OK;
}

static const struct cmd_events migrate_events = {
        LOG_MID_MIGRATE_STARTED,
        LOG_MID_MIGRATE_FINISHED,
        LOG_MID_MIGRATE_FAILED,
        "migrate",
};

static int migrate_run(const struct migrate_args *a, struct migrate *m, bool allow_root)
{
        int r = read_url(a, m);

        if (r != 0)
                return r;
        r = cmd_become_owner("migrate", a->from_data, allow_root);
        if (r != 0)
                return r;
        r = probe_target(m);
        if (r != 0)
                return r;
        r = open_source(m, a->from_data);
        if (r != 0)
                return r;
        r = open_target(m);
        if (r != 0)
                return r;
        return copy(m, a->from_data);
}

int cmd_migrate(int argc, char **argv)
{
        static const struct option opts[] = {
                {"from-data", required_argument, NULL, OPT_FROM_DATA},
                {"to", required_argument, NULL, OPT_TO},
                {"to-url-file", required_argument, NULL, OPT_TO_URL_FILE},
                {"allow-root", no_argument, NULL, CMD_OPT_ALLOW_ROOT},
                {"help", no_argument, NULL, CMD_OPT_HELP},
                {NULL, 0, NULL, 0},
        };
        struct migrate_args a = {0};
        struct migrate m = {0};
        struct cmd_common common;
        char what[PATH_MAX + 600];
        int r;

        r = cmd_parse(argc, argv, opts, migrate_help, &common, own_option, &a, NULL);
        if (r == 0 && !a.from_data)
                r = cmd_fail(CMD_EXIT_USAGE, "migrate", "--from-data DIR is required (see --help)");
        if (r != 0) {
                free(a.to);
                return r == 1 ? CMD_EXIT_OK : r;
        }
        snprintf(what, sizeof(what), "Migration of %s to PostgreSQL", a.from_data);
        cmd_event_started(&migrate_events, what);
        r = migrate_run(&a, &m, common.allow_root);
        store_close(m.src);
        store_close(m.dst);
        remove_tmp_copy(&m);
        if (m.url)
                explicit_bzero(m.url, strlen(m.url));
        free(m.url);
        if (a.to)
                explicit_bzero(a.to, strlen(a.to));
        free(a.to);
        return cmd_event_ended(&migrate_events, what, r);
}
