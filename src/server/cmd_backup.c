/* SPDX-License-Identifier: MIT */
/*
 * `verstak-sync-server backup` and `restore`.
 *
 * A backup is a directory: server.db (a consistent snapshot taken through
 * the store while the daemon keeps serving), blobs/ (every blob that
 * snapshot references, hard-linked from the data directory when on the
 * same filesystem, else copied and fsynced) and manifest.json (format,
 * schema version, counts, sizes and the database file's SHA-256).  Blobs
 * are immutable and committed before their reference, so every blob the
 * snapshot references is on disk when it is copied.
 *
 * A restore goes into an empty (or new) directory only: the manifest and
 * the database's SHA-256 are verified first, then the database and the
 * blobs are put in place and the counts compared with the manifest.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blob/blob_store.h"
#include "server/cmd.h"
#include "store/store.h"
#include "store/store_maint.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/fs.h"
#include "util/text.h"
#include "version.h"

#define MANIFEST_FILE    "manifest.json"
#define MANIFEST_FORMAT  "verstak-sync-server-backup"
#define MANIFEST_VERSION 1
#define BACKUP_DB_FILE   "server.db"
/* A manifest is a few hundred bytes; anything far larger is not one. */
#define MANIFEST_MAX (64 * 1024)

static const char backup_help[] =
        "Usage: verstak-sync-server backup [--data DIR] --output PATH\n\n"
        "Take a consistent backup of a data directory while the daemon serves it:\n"
        "PATH/server.db (a snapshot of the database), PATH/blobs/ (every blob the\n"
        "snapshot references: hard links on the same filesystem, otherwise fsynced\n"
        "copies) and PATH/manifest.json (schema version, counts, sizes, SHA-256).\n"
        "PATH must not exist, or be an empty directory.\n\n"
        "  --data DIR        data directory (default ./server-data)\n"
        "  --output PATH     where to write the backup\n"
        "  --config FILE     configuration file (default DIR/config.yml)\n"
        "  --allow-root      as root, act as the owner of DIR\n"
        "  --help            print this help\n";

static const char restore_help[] =
        "Usage: verstak-sync-server restore --from PATH [--data DIR]\n\n"
        "Restore a backup made by `backup` into DIR, which must be empty or not\n"
        "exist.  The manifest and the database's SHA-256 are verified first;\n"
        "a backup from a newer schema is refused.  Start the daemon on DIR\n"
        "afterwards (it migrates an older schema).\n\n"
        "  --from PATH       the backup directory\n"
        "  --data DIR        data directory to create (default ./server-data)\n"
        "  --allow-root      as root, act as the owner of DIR when it exists\n"
        "  --help            print this help\n";

enum { OPT_OUTPUT = CMD_OPT_FIRST_OWN, OPT_FROM };

static int own_path(int opt, const char *arg, void *userdata)
{
        if (opt != OPT_OUTPUT && opt != OPT_FROM)
                return -EINVAL;
        *(const char **)userdata = arg;
        return 0;
}

/* Whether dir is empty (1), not empty (0) or a negative errno. */
static int dir_is_empty(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        int r = 1;

        if (!d)
                return -errno;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
                        r = 0;
                        break;
                }
        closedir(d);
        return r;
}

/* Create dir (0750) or accept it when it exists and is empty. */
static int make_empty_dir(const char *name, const char *dir)
{
        int r;

        if (mkdir(dir, 0750) == 0)
                return 0;
        if (errno != EEXIST)
                return cmd_fail(CMD_EXIT_FAILURE, name, "cannot create %s: %s", dir,
                                strerror(errno));
        r = dir_is_empty(dir);
        if (r < 0)
                return cmd_fail(CMD_EXIT_USAGE, name, "cannot read %s: %s", dir, strerror(-r));
        if (r == 0)
                return cmd_fail(CMD_EXIT_USAGE, name, "%s is not empty; choose a new directory",
                                dir);
        return 0;
}

static int sha256_file(const char *path, char out[65], uint64_t *ret_size)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

        *ret_size = 0;
        if (fd < 0)
                return -errno;
        return cmd_sha256_fd(fd, out, "Hashing the database", ret_size);
}

/* --- backup ---------------------------------------------------------------------- */

struct copy {
        const char *name; /* "backup" or "restore", for messages */
        struct blob_store *from, *to;
        uint64_t blobs, bytes, linked, copied, failed;
};

static int copy_blob(void *userdata, const char *sha256, int64_t size)
{
        struct copy *c = userdata;
        int r;

        c->blobs++;
        r = size < 0 ? -ENODATA : blob_store_copy_to(c->from, sha256, (uint64_t)size, c->to);
        if (r < 0) {
                c->failed++;
                fprintf(stderr, "verstak-sync-server %s: blob %s: %s\n", c->name, sha256,
                        r == -ENOENT    ? "missing"
                        : r == -EUCLEAN ? "size differs from the database"
                        : r == -ENODATA ? "no size recorded"
                                        : strerror(-r));
                return 0;
        }
        c->bytes += (uint64_t)size;
        if (r > 0)
                c->linked++;
        else
                c->copied++;
        cmd_progress("Blobs", c->blobs, 0, c->bytes, false);
        return 0;
}

static json_t *manifest_new(const struct store_counts *counts, const struct copy *c,
                            uint64_t db_size, const char *db_sha)
{
        char now[TIME_RFC3339_SIZE];

        time_format_rfc3339(time(NULL), now);
        return json_pack("{s:s, s:i, s:s, s:i, s:s,"
                         " s:{s:s, s:I, s:s},"
                         " s:{s:I, s:I, s:I, s:I},"
                         " s:{s:I, s:I, s:I, s:I}}",
                         "format", MANIFEST_FORMAT, "format_version", MANIFEST_VERSION,
                         "server_version", VERSTAK_VERSION, "schema_version", STORE_SCHEMA_VERSION,
                         "created_at", now, "database", "file", BACKUP_DB_FILE, "size",
                         (json_int_t)db_size, "sha256", db_sha, "counts", "users",
                         (json_int_t)counts->users, "devices", (json_int_t)counts->devices, "ops",
                         (json_int_t)counts->ops, "last_sequence",
                         (json_int_t)counts->last_sequence, "blobs", "count", (json_int_t)c->blobs,
                         "bytes", (json_int_t)c->bytes, "linked", (json_int_t)c->linked, "copied",
                         (json_int_t)c->copied);
}

/* Copy the snapshot's blobs and write the manifest. */
static int backup_finish(struct cmd_data *data, const char *out)
{
        _cleanup_free_ char *db = NULL, *blob_dir = NULL, *text = NULL;
        struct store *snap = NULL;
        struct blob_store *to = NULL;
        struct copy c = {.name = "backup", .from = data->blobs};
        struct store_counts counts = {0};
        char sha[65], size[32];
        uint64_t db_size;
        json_t *m = NULL;
        int r;

        if (asprintf(&db, "%s/%s", out, BACKUP_DB_FILE) < 0 ||
            asprintf(&blob_dir, "%s/blobs", out) < 0)
                return cmd_fail(CMD_EXIT_FAILURE, "backup", "out of memory");
        if (mkdir(blob_dir, 0750) < 0)
                return cmd_fail(CMD_EXIT_FAILURE, "backup", "cannot create %s: %s", blob_dir,
                                strerror(errno));
        r = blob_store_new(blob_dir, &to);
        if (r >= 0) {
                struct store_options so = {.readers = 1, .no_migrate = true};
                r = store_open(db, &so, &snap, NULL);
        }
        if (r >= 0)
                r = store_get_counts(snap, &counts);
        c.to = to;
        if (r >= 0)
                r = store_blob_foreach_referenced(snap, copy_blob, &c);
        store_close(snap);
        blob_store_free(to);
        if (r < 0)
                return cmd_fail(CMD_EXIT_FAILURE, "backup", "cannot copy the blobs: %s",
                                strerror(-r));
        cmd_progress("Blobs", c.blobs, 0, c.bytes, true);
        if (c.failed)
                return cmd_fail(CMD_EXIT_FAILURE, "backup",
                                "%llu referenced blobs could not be copied; the backup in %s is "
                                "incomplete (run check on the data directory)",
                                (unsigned long long)c.failed, out);

        r = sha256_file(db, sha, &db_size);
        if (r < 0)
                return cmd_fail(CMD_EXIT_FAILURE, "backup", "cannot read %s: %s", db, strerror(-r));
        m = manifest_new(&counts, &c, db_size, sha);
        text = m ? json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
        json_decref(m);
        if (!text)
                return cmd_fail(CMD_EXIT_FAILURE, "backup", "out of memory");
        {
                _cleanup_close_ int dfd = open(out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                r = dfd < 0 ? -errno
                            : fs_write_atomic(dfd, MANIFEST_FILE, text, strlen(text), 0640);
        }
        if (r < 0)
                return cmd_fail(CMD_EXIT_FAILURE, "backup", "cannot write the manifest: %s",
                                strerror(-r));
        cmd_format_bytes(c.bytes, size, sizeof(size));
        printf("Backup written to %s: schema %d, %lld users, %lld operations (last sequence "
               "%lld), %llu blobs (%s; %llu linked, %llu copied), database SHA-256 %s\n",
               out, STORE_SCHEMA_VERSION, (long long)counts.users, (long long)counts.ops,
               (long long)counts.last_sequence, (unsigned long long)c.blobs, size,
               (unsigned long long)c.linked, (unsigned long long)c.copied, sha);
        return CMD_EXIT_OK;
}

static const struct cmd_events backup_events = {
        LOG_MID_BACKUP_STARTED,
        LOG_MID_BACKUP_FINISHED,
        LOG_MID_BACKUP_FAILED,
        "backup",
};

int cmd_backup(int argc, char **argv)
{
        static const struct option opts[] = {
                CMD_COMMON_OPTIONS,
                {"output", required_argument, NULL, OPT_OUTPUT},
                {NULL, 0, NULL, 0},
        };
        _cleanup_free_ char *db = NULL, *what = NULL;
        struct cmd_common common;
        struct cmd_data data;
        const char *out = NULL;
        int r;

        r = cmd_parse(argc, argv, opts, backup_help, &common, own_path, &out, NULL);
        if (r != 0)
                return r == 1 ? CMD_EXIT_OK : r;
        if (!out)
                return cmd_fail(CMD_EXIT_USAGE, "backup", "--output PATH is required");
        if (asprintf(&what, "Backup of %s to %s", common.data_dir, out) < 0)
                return cmd_fail(CMD_EXIT_FAILURE, "backup", "out of memory");
        cmd_event_started(&backup_events, what);
        r = cmd_data_open("backup", &common, &data);
        if (r == 0)
                r = make_empty_dir("backup", out);
        if (r == 0 && asprintf(&db, "%s/%s", out, BACKUP_DB_FILE) < 0)
                r = cmd_fail(CMD_EXIT_FAILURE, "backup", "out of memory");
        if (r == 0) {
                r = store_backup(data.store, db);
                if (r < 0)
                        r = cmd_fail(CMD_EXIT_FAILURE, "backup",
                                     "cannot copy the database to %s: %s", db, strerror(-r));
        }
        if (r == 0)
                r = backup_finish(&data, out);
        cmd_data_close(&data);
        return cmd_event_ended(&backup_events, what, r);
}

/* --- restore --------------------------------------------------------------------- */

struct manifest {
        json_t *root;
        int schema_version;
        const char *db_sha256;
        json_int_t db_size, ops, last_sequence, users, blobs;
};

static int manifest_read(const char *from, struct manifest *m)
{
        _cleanup_free_ char *path = NULL, *text = NULL;
        json_error_t err;
        const char *format = NULL, *file = NULL;
        int version = 0;
        size_t len;
        int r;

        *m = (struct manifest){0};
        if (asprintf(&path, "%s/%s", from, MANIFEST_FILE) < 0)
                return cmd_fail(CMD_EXIT_FAILURE, "restore", "out of memory");
        r = fs_read_file(path, MANIFEST_MAX, &text, &len);
        if (r < 0)
                return cmd_fail(CMD_EXIT_USAGE, "restore", "cannot read %s: %s", path,
                                strerror(-r));
        m->root = json_loadb(text, len, 0, &err);
        if (!m->root ||
            json_unpack_ex(m->root, &err, 0,
                           "{s:s, s:i, s:i, s:{s:s, s:I, s:s}, s:{s:I, s:I, s:I}, s:{s:I}}",
                           "format", &format, "format_version", &version, "schema_version",
                           &m->schema_version, "database", "file", &file, "size", &m->db_size,
                           "sha256", &m->db_sha256, "counts", "users", &m->users, "ops", &m->ops,
                           "last_sequence", &m->last_sequence, "blobs", "count", &m->blobs) < 0)
                return cmd_fail(CMD_EXIT_USAGE, "restore", "%s is not a valid manifest: %s", path,
                                err.text);
        if (strcmp(format, MANIFEST_FORMAT) != 0 || version != MANIFEST_VERSION ||
            strcmp(file, BACKUP_DB_FILE) != 0)
                return cmd_fail(CMD_EXIT_USAGE, "restore",
                                "%s is not a backup this program understands (format %s, "
                                "version %d)",
                                path, format, version);
        if (m->schema_version > STORE_SCHEMA_VERSION)
                return cmd_fail(CMD_EXIT_USAGE, "restore",
                                "the backup has schema version %d, newer than this program's "
                                "%d; restore it with that version of verstak-sync-server",
                                m->schema_version, STORE_SCHEMA_VERSION);
        return 0;
}

/* Copy the verified database file into the data directory: a temporary
 * name, fsync, rename, fsync of the directory. */
static int restore_database(const char *src, const char *data_dir)
{
        _cleanup_free_ char *tmp = NULL, *dst = NULL;
        int r;

        if (asprintf(&tmp, "%s/.server.db.restore", data_dir) < 0 ||
            asprintf(&dst, "%s/server.db", data_dir) < 0)
                return -ENOMEM;
        r = fs_copy_file(src, tmp, 0640);
        if (r < 0)
                return r;
        if (rename(tmp, dst) < 0) {
                r = -errno;
                (void)unlink(tmp);
                return r;
        }
        return fs_fsync_dir(AT_FDCWD, data_dir);
}

static int restore_blobs(const char *from, const char *data_dir, const struct manifest *m)
{
        _cleanup_free_ char *src_dir = NULL, *dst_dir = NULL, *db = NULL;
        struct copy c = {.name = "restore"};
        struct store_counts counts = {0};
        struct store *s = NULL;
        char size[32];
        int r;

        if (asprintf(&src_dir, "%s/blobs", from) < 0 ||
            asprintf(&dst_dir, "%s/blobs", data_dir) < 0 ||
            asprintf(&db, "%s/server.db", data_dir) < 0)
                return cmd_fail(CMD_EXIT_FAILURE, "restore", "out of memory");
        r = fs_mkdir_p(dst_dir, 0750);
        if (r >= 0)
                r = blob_store_new(src_dir, &c.from);
        if (r >= 0)
                r = blob_store_new(dst_dir, &c.to);
        if (r >= 0) {
                /* Brought to this program's schema, ready for its daemon. */
                struct store_options so = {.synchronous_full = true, .readers = 1};
                r = store_open(db, &so, &s, NULL);
        }
        if (r >= 0)
                r = store_get_counts(s, &counts);
        if (r >= 0)
                r = store_blob_foreach_referenced(s, copy_blob, &c);
        store_close(s);
        blob_store_free(c.from);
        blob_store_free(c.to);
        if (r < 0)
                return cmd_fail(CMD_EXIT_FAILURE, "restore", "cannot restore the blobs: %s",
                                strerror(-r));
        cmd_progress("Blobs", c.blobs, 0, c.bytes, true);
        if (c.failed || (json_int_t)c.blobs != m->blobs || counts.ops != m->ops ||
            counts.last_sequence != m->last_sequence || counts.users != m->users)
                return cmd_fail(CMD_EXIT_FAILURE, "restore",
                                "the restored data does not match the manifest (%llu of %lld "
                                "blobs, %lld of %lld operations); %s is incomplete",
                                (unsigned long long)(c.blobs - c.failed), (long long)m->blobs,
                                (long long)counts.ops, (long long)m->ops, data_dir);
        cmd_format_bytes(c.bytes, size, sizeof(size));
        printf("Restored into %s: %lld users, %lld operations (last sequence %lld), %llu blobs "
               "(%s)\n",
               data_dir, (long long)counts.users, (long long)counts.ops,
               (long long)counts.last_sequence, (unsigned long long)c.blobs, size);
        return CMD_EXIT_OK;
}

static const struct cmd_events restore_events = {
        LOG_MID_RESTORE_STARTED,
        LOG_MID_RESTORE_FINISHED,
        LOG_MID_RESTORE_FAILED,
        "restore",
};

int cmd_restore(int argc, char **argv)
{
        static const struct option opts[] = {
                CMD_COMMON_OPTIONS,
                {"from", required_argument, NULL, OPT_FROM},
                {NULL, 0, NULL, 0},
        };
        _cleanup_free_ char *db = NULL, *what = NULL;
        struct cmd_common common;
        struct manifest m = {0};
        const char *from = NULL;
        char sha[65];
        uint64_t size;
        int r;

        r = cmd_parse(argc, argv, opts, restore_help, &common, own_path, &from, NULL);
        if (r != 0)
                return r == 1 ? CMD_EXIT_OK : r;
        if (!from)
                return cmd_fail(CMD_EXIT_USAGE, "restore", "--from PATH is required");
        if (asprintf(&what, "Restore of %s into %s", from, common.data_dir) < 0)
                return cmd_fail(CMD_EXIT_FAILURE, "restore", "out of memory");
        cmd_event_started(&restore_events, what);
        r = manifest_read(from, &m);
        if (r == 0 && asprintf(&db, "%s/%s", from, BACKUP_DB_FILE) < 0)
                r = cmd_fail(CMD_EXIT_FAILURE, "restore", "out of memory");
        if (r == 0) {
                int q = sha256_file(db, sha, &size);
                if (q < 0)
                        r = cmd_fail(CMD_EXIT_USAGE, "restore", "cannot read %s: %s", db,
                                     strerror(-q));
                else if (strcmp(sha, m.db_sha256) != 0 || (json_int_t)size != m.db_size)
                        r = cmd_fail(CMD_EXIT_USAGE, "restore",
                                     "%s does not match its manifest (SHA-256 or size differs); "
                                     "the backup is damaged",
                                     db);
        }
        if (r == 0) {
                struct stat st;
                if (stat(common.data_dir, &st) == 0)
                        r = cmd_become_owner("restore", common.data_dir, common.allow_root);
                if (r == 0)
                        r = make_empty_dir("restore", common.data_dir);
        }
        if (r == 0) {
                int q = restore_database(db, common.data_dir);
                if (q < 0)
                        r = cmd_fail(CMD_EXIT_FAILURE, "restore", "cannot write the database: %s",
                                     strerror(-q));
        }
        if (r == 0)
                r = restore_blobs(from, common.data_dir, &m);
        json_decref(m.root);
        return cmd_event_ended(&restore_events, what, r);
}
