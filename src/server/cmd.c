/* SPDX-License-Identifier: MIT */
/*
 * Implementation of server/cmd.h: the subcommand table, flag parsing
 * shared by the commands, the identity rule and opening a data directory
 * for an operator command (no migration, no listener, no mailer).
 */
#include "server/cmd.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob/blob_store.h"
#include "daemon/privdrop.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/log.h"

struct subcommand {
        const char *name;
        int (*run)(int argc, char **argv);
};

/* The last failure's message and the invoking user's name. */
static char last_failure[1024];
static char invoker[256];

static void user_name(uid_t uid, char *out, size_t size);

static const struct subcommand subcommands[] = {
        {"backup", cmd_backup}, {"restore", cmd_restore}, {"check", cmd_check},
        {"gc", cmd_gc},         {"admin", cmd_admin},     {"migrate", cmd_migrate},
};

bool cmd_is_subcommand(const char *arg)
{
        if (!arg)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(subcommands); i++)
                if (strcmp(arg, subcommands[i].name) == 0)
                        return true;
        return false;
}

int cmd_main(int argc, char **argv)
{
        log_open("verstak-sync-server");
        user_name(getuid(), invoker, sizeof(invoker));
        umask(0027);
        if (sodium_init() < 0)
                return cmd_fail(CMD_EXIT_FAILURE, argv[1], "cannot initialise libsodium");
        for (size_t i = 0; i < ELEMENTSOF(subcommands); i++)
                if (strcmp(argv[1], subcommands[i].name) == 0)
                        return subcommands[i].run(argc - 1, argv + 1);
        return cmd_fail(CMD_EXIT_USAGE, argv[1], "unknown command");
}

int cmd_fail(int code, const char *name, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(last_failure, sizeof(last_failure), fmt, ap);
        va_end(ap);
        fprintf(stderr, "verstak-sync-server %s: %s\n", name, last_failure);
        return code;
}

const char *cmd_last_failure(void)
{
        return last_failure;
}

const char *cmd_invoker(void)
{
        return invoker;
}

void cmd_event(int level, const char *message_id, const char *event, const char *fmt, ...)
{
        char message[1536];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        struct log_field f[] = {
                {"MESSAGE_ID", message_id},
                {"EVENT", event},
                {"OPERATOR", invoker},
        };
        /* Without journald the command's own output is the record. */
        (void)log_journal(level, f, ELEMENTSOF(f), "%s", message);
}

void cmd_event_started(const struct cmd_events *e, const char *what)
{
        char event[64];

        snprintf(event, sizeof(event), "%s_started", e->name);
        cmd_event(LOG_INFO, e->started_id, event, "%s started (by '%s')", what, invoker);
}

int cmd_event_ended(const struct cmd_events *e, const char *what, int code)
{
        char event[64];

        snprintf(event, sizeof(event), "%s_%s", e->name, code == 0 ? "finished" : "failed");
        if (code == 0)
                cmd_event(LOG_NOTICE, e->finished_id, event, "%s finished (by '%s')", what,
                          invoker);
        else
                cmd_event(LOG_ERR, e->failed_id, event, "%s failed (by '%s', exit status %d): %s",
                          what, invoker, code, last_failure[0] ? last_failure : "see its output");
        return code;
}

int cmd_parse(int argc, char **argv, const struct option *opts, const char *help,
              struct cmd_common *c, int (*own)(int opt, const char *arg, void *userdata),
              void *userdata, int *positional)
{
        int opt, r;

        *c = (struct cmd_common){.data_dir = "./server-data"};
        optind = 1;
        opterr = 0;
        while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (opt) {
                case CMD_OPT_DATA:
                        c->data_dir = optarg;
                        break;
                case CMD_OPT_CONFIG:
                        c->config_path = optarg;
                        break;
                case CMD_OPT_ALLOW_ROOT:
                        c->allow_root = true;
                        break;
                case CMD_OPT_JSON:
                        c->json = true;
                        break;
                case CMD_OPT_HELP:
                        fputs(help, stdout);
                        return 1;
                case '?':
                case ':':
                        return cmd_fail(CMD_EXIT_USAGE, argv[0],
                                        "unknown flag or missing value: %s (see --help)",
                                        argv[optind - 1]);
                default:
                        r = own ? own(opt, optarg, userdata) : -EINVAL;
                        if (r < 0)
                                return cmd_fail(CMD_EXIT_USAGE, argv[0], "bad value for %s: %s",
                                                argv[optind - 1], optarg ? optarg : "");
                }
        }
        if (positional)
                *positional = optind;
        else if (optind < argc)
                return cmd_fail(CMD_EXIT_USAGE, argv[0], "unexpected argument '%s' (see --help)",
                                argv[optind]);
        return 0;
}

static void user_name(uid_t uid, char *out, size_t size)
{
        struct passwd pw, *res = NULL;
        char buf[1024];

        if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res)
                snprintf(out, size, "%s", pw.pw_name);
        else
                snprintf(out, size, "%u", (unsigned)uid);
}

int cmd_become_owner(const char *name, const char *dir, bool allow_root)
{
        struct stat st;
        char owner[256], me[256];
        uid_t uid = geteuid();
        int r;

        if (stat(dir, &st) < 0)
                return cmd_fail(CMD_EXIT_USAGE, name, "cannot open the data directory %s: %s", dir,
                                strerror(errno));
        if (!S_ISDIR(st.st_mode))
                return cmd_fail(CMD_EXIT_USAGE, name, "%s is not a directory", dir);
        if (st.st_uid == uid)
                return 0;
        user_name(st.st_uid, owner, sizeof(owner));
        if (uid != 0) {
                user_name(uid, me, sizeof(me));
                return cmd_fail(CMD_EXIT_USAGE, name,
                                "%s belongs to user '%s', not to '%s'; run this command as '%s' "
                                "(e.g. sudo -u %s verstak-sync-server %s ...)",
                                dir, owner, me, owner, owner, name);
        }
        if (!allow_root)
                return cmd_fail(CMD_EXIT_USAGE, name,
                                "refusing to work as root on %s, which belongs to user '%s': run "
                                "it as that user (runuser -u %s -- verstak-sync-server %s ...), "
                                "or pass --allow-root to act as '%s'",
                                dir, owner, owner, name, owner);
        r = privdrop_apply(&(struct privdrop_target){.uid = st.st_uid, .gid = st.st_gid});
        if (r < 0)
                return cmd_fail(CMD_EXIT_FAILURE, name, "cannot become user '%s': %s", owner,
                                strerror(-r));
        return 0;
}

static int load_config(const char *name, const struct cmd_common *c, const char *data_dir,
                       struct config *cfg)
{
        _cleanup_free_ char *path = NULL;
        char err[512] = "";
        int r;

        r = config_init_defaults(cfg);
        if (r < 0)
                return cmd_fail(CMD_EXIT_FAILURE, name, "out of memory");
        if (c->config_path)
                r = config_load_file(cfg, c->config_path, false, err, sizeof(err));
        else if (asprintf(&path, "%s/config.yml", data_dir) < 0)
                r = -ENOMEM;
        else
                r = config_load_file(cfg, path, true, err, sizeof(err));
        if (r >= 0)
                r = config_validate(cfg, err, sizeof(err));
        if (r >= 0)
                r = config_read_database_url(cfg, err, sizeof(err));
        if (r < 0)
                return cmd_fail(CMD_EXIT_USAGE, name, "invalid configuration: %s",
                                err[0] ? err : strerror(-r));
        return 0;
}

int cmd_data_open(const char *name, const struct cmd_common *c, struct cmd_data *ret)
{
        char real[PATH_MAX];
        _cleanup_free_ char *db_path = NULL;
        struct stat st;
        int r;

        *ret = (struct cmd_data){0};
        r = cmd_become_owner(name, c->data_dir, c->allow_root);
        if (r != 0)
                return r;
        if (!realpath(c->data_dir, real))
                return cmd_fail(CMD_EXIT_USAGE, name,
                                "cannot resolve %s: %s (can its owner reach it?)", c->data_dir,
                                strerror(errno));
        r = load_config(name, c, real, &ret->config);
        if (r != 0)
                return r;
        ret->data_dir = strdup(real);
        if (!ret->data_dir || asprintf(&ret->blob_dir, "%s/blobs", real) < 0 ||
            asprintf(&db_path, "%s/server.db", real) < 0)
                return cmd_fail(CMD_EXIT_FAILURE, name, "out of memory");
        if (ret->config.database.url) {
                /* The messages below name the database by its masked URL. */
                config_url_masked(ret->config.database.url, real, sizeof(real));
                free(db_path);
                db_path = strdup(real);
                if (!db_path)
                        return cmd_fail(CMD_EXIT_FAILURE, name, "out of memory");
        } else if (stat(db_path, &st) < 0)
                return cmd_fail(CMD_EXIT_USAGE, name, "no database at %s: %s", db_path,
                                strerror(errno));
        struct store_options so = {.synchronous_full = true, .readers = 2, .no_migrate = true};
        r = store_open(ret->config.database.url ? ret->config.database.url : db_path, &so,
                       &ret->store, NULL);
        if (r == -EPROTONOSUPPORT)
                return cmd_fail(CMD_EXIT_USAGE, name,
                                "%s was written by a newer verstak-sync-server (schema newer than "
                                "version %d); use that version's command",
                                db_path, STORE_SCHEMA_VERSION);
        if (r == -ESTALE)
                return cmd_fail(CMD_EXIT_USAGE, name,
                                "%s has an older schema than version %d; start the daemon once "
                                "to migrate it",
                                db_path, STORE_SCHEMA_VERSION);
        if (r < 0)
                return cmd_fail(CMD_EXIT_FAILURE, name, "cannot open the database %s: %s", db_path,
                                strerror(-r));
        r = blob_store_new(ret->blob_dir, &ret->blobs);
        if (r < 0)
                return cmd_fail(CMD_EXIT_FAILURE, name, "cannot open the blob directory %s: %s",
                                ret->blob_dir, strerror(-r));
        return 0;
}

void cmd_data_close(struct cmd_data *d)
{
        blob_store_free(d->blobs);
        d->blobs = NULL;
        store_close(d->store);
        d->store = NULL;
        config_done(&d->config);
        free(d->data_dir);
        d->data_dir = NULL;
        free(d->blob_dir);
        d->blob_dir = NULL;
}

/* Progress lines are redrawn at most this often (microseconds). */
#define CMD_PROGRESS_INTERVAL_USEC 200000

void cmd_progress(const char *what, uint64_t n, uint64_t total, uint64_t bytes, bool done)
{
        static uint64_t last;
        struct timespec ts;
        char size[32];

        if (isatty(STDERR_FILENO) != 1)
                return;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
        if (!done && now - last < CMD_PROGRESS_INTERVAL_USEC)
                return;
        last = now;
        cmd_format_bytes(bytes, size, sizeof(size));
        if (total > 0)
                fprintf(stderr, "\r%s: %llu/%llu, %s   ", what, (unsigned long long)n,
                        (unsigned long long)total, size);
        else if (n > 0)
                fprintf(stderr, "\r%s: %llu, %s   ", what, (unsigned long long)n, size);
        else
                fprintf(stderr, "\r%s: %s   ", what, size);
        if (done)
                fputc('\n', stderr);
        fflush(stderr);
}

/* Files are hashed in pieces of this size. */
#define CMD_HASH_CHUNK (1024 * 1024)

int cmd_sha256_fd(int fd, char out[65], const char *what, uint64_t *bytes)
{
        _cleanup_free_ unsigned char *buf = malloc(CMD_HASH_CHUNK);
        unsigned char digest[crypto_hash_sha256_BYTES];
        crypto_hash_sha256_state st;
        ssize_t n;

        if (!buf)
                return -ENOMEM;
        crypto_hash_sha256_init(&st);
        while ((n = read(fd, buf, CMD_HASH_CHUNK)) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                crypto_hash_sha256_update(&st, buf, (size_t)n);
                *bytes += (uint64_t)n;
                if (what)
                        cmd_progress(what, 0, 0, *bytes, false);
        }
        crypto_hash_sha256_final(&st, digest);
        sodium_bin2hex(out, 65, digest, sizeof(digest));
        return 0;
}

time_t cmd_temp_cutoff(const struct config *cfg)
{
        return time(NULL) - (time_t)(cfg->retention.temp_upload_hours * 3600u);
}

void cmd_format_bytes(uint64_t bytes, char *out, size_t size)
{
        static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = (double)bytes;
        size_t u = 0;

        while (v >= 1024 && u + 1 < ELEMENTSOF(units)) {
                v /= 1024;
                u++;
        }
        if (u == 0)
                snprintf(out, size, "%llu B", (unsigned long long)bytes);
        else
                snprintf(out, size, "%.1f %s", v, units[u]);
}
