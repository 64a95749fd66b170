/* SPDX-License-Identifier: MIT */
/* Implementation of server/app.h: the state main() builds before serving. */
#include "server/app.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/health.h"
#include "api/longpoll.h"
#include "api/longpoll_remote.h"
#include "api/request_slots.h"
#include "api/metrics.h"
#include "auth/ratelimit.h"
#include "blob/blob_store.h"
#include "daemon/privdrop.h"
#include "mailer/mail_client.h"
#include "store/pg/pg_changes.h"
#include "store/store.h"
#include "store/store_ops.h"
#include "store/store_users.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/workq.h"

/* Reader connections of the store (pulls, downloads, health). */
#define APP_STORE_READERS 8

/* Background jobs (password-reset e-mails) waiting at most; more are
 * dropped and counted as mail failures.  At shutdown they get this long. */
#define BACKGROUND_QUEUE_MAX        256
#define BACKGROUND_DRAIN_TIMEOUT_MS 5000

/* Deferred writes (last_seen, audit entries) waiting at most; more are
 * dropped with a warning rather than making a request wait. */
#define DEFERRED_QUEUE_MAX        4096
#define DEFERRED_DRAIN_TIMEOUT_MS 3000

static int open_data_dir(struct app *app, const char *path)
{
        char real[PATH_MAX];
        int r;

        r = fs_mkdir_p(path, 0750);
        if (r < 0)
                return log_error_errno(r, "Cannot create data directory %s: %m", path);
        if (!realpath(path, real))
                return log_error_errno(errno, "Cannot resolve data directory %s: %m", path);
        app->data_dir = strdup(real);
        if (!app->data_dir || asprintf(&app->blob_dir, "%s/blobs", real) < 0)
                return log_oom();
        app->data_dir_fd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (app->data_dir_fd < 0)
                return log_error_errno(errno, "Cannot open data directory %s: %m", real);
        r = fs_mkdir_p(app->blob_dir, 0750);
        if (r < 0)
                return log_error_errno(r, "Cannot create blob directory: %m");
        return 0;
}

/* <data>/server.db, migrated to the current schema. */
static int open_store(struct app *app)
{
        _cleanup_free_ char *db_path = NULL;
        /* Still root (--allow-root): every reader before the sandbox. */
        struct store_options so = {.synchronous_full = app->config->database.synchronous_full,
                                   .readers = APP_STORE_READERS,
                                   .readers_now = privdrop_is_root()};
        unsigned migrated = 0;
        int r;

        if (app->config->database.url) {
                char masked[512];
                config_url_masked(app->config->database.url, masked, sizeof(masked));
                log_info("Database: PostgreSQL at %s", masked);
                r = store_open(app->config->database.url, &so, &app->store, &migrated);
        } else {
                if (asprintf(&db_path, "%s/server.db", app->data_dir) < 0)
                        return log_oom();
                r = store_open(db_path, &so, &app->store, &migrated);
        }
        if (r < 0)
                return log_error_errno(r, "Cannot open the database: %m");
        if (migrated > 0) {
                struct log_field f[] = {{"MESSAGE_ID", LOG_MID_MIGRATION}, {"EVENT", "migration"}};
                log_struct(LOG_NOTICE, f, "Database migrated to schema version %d (%u steps)",
                           store_schema_version(app->store), migrated);
        }
        return 0;
}

/* The fallback check of the wake-ups: the store's high-water mark. */
static int read_high_water(void *userdata, int64_t *ret_seq)
{
        return store_last_sequence(userdata, ret_seq);
}

/* On PostgreSQL, long polls are also woken by pushes other daemons commit
 * on the shared database (docs/scaling.md section 5): listen on a
 * connection of its own, made now, before the seccomp filter, and start
 * the thread that hands what it hears to the long-poll table.  A listener
 * that cannot connect yet keeps retrying on that thread. */
static int start_remote_wakeups(struct app *app)
{
        const char *url = app->config->database.url;
        int r;

        if (!url)
                return 0;
        r = pg_changes_new(url, read_high_water, app->store, &app->changes);
        if (r == -ECONNREFUSED)
                log_warning("Cannot listen for other daemons' pushes yet; long polls are woken "
                            "by a sequence check every %d ms until the connection is made",
                            PG_CHANGES_FALLBACK_MS);
        else if (r < 0)
                return log_error_errno(r, "Cannot listen for other daemons' pushes: %m");
        r = longpoll_remote_start(app->longpoll, app->changes, &app->remote_wakeups);
        if (r < 0)
                return log_error_errno(r, "Cannot start the long-poll wake-up thread: %m");
        return 0;
}

int app_new(struct config *config, const char *data_dir, struct app **ret)
{
        struct app *app = calloc(1, sizeof(*app));
        int r;

        if (!app)
                return log_oom();
        app->config = config;
        app->data_dir_fd = -1;
        app->started_at = time(NULL);

        r = open_data_dir(app, data_dir);
        if (r < 0)
                goto fail;
        r = blob_store_new(app->blob_dir, &app->blobs);
        if (r < 0) {
                log_error_errno(r, "Cannot open the blob directory: %m");
                goto fail;
        }
        r = open_store(app);
        if (r < 0)
                goto fail;
        r = store_user_bcrypt_cost(app->store, &app->legacy_bcrypt_cost);
        if (r < 0) {
                log_error_errno(r, "Cannot read the password hashes: %m");
                goto fail;
        }
        r = ratelimit_new(RATELIMIT_MAX_BUCKETS, &app->ratelimit);
        if (r >= 0)
                r = longpoll_new(&app->longpoll);
        if (r >= 0)
                r = workq_new(BACKGROUND_QUEUE_MAX, &app->background);
        if (r >= 0)
                r = request_slots_new(&app->uploads);
        if (r >= 0)
                r = request_slots_new(&app->pulls);
        if (r >= 0)
                r = workq_new(DEFERRED_QUEUE_MAX, &app->deferred);
        if (r >= 0)
                r = health_monitor_new(app, &app->health);
        if (r < 0) {
                log_error_errno(r, "Cannot set up request state: %m");
                goto fail;
        }
        r = start_remote_wakeups(app);
        if (r < 0)
                goto fail;
        *ret = app;
        return 0;
fail:
        app_free(app);
        return r;
}

void app_free(struct app *app)
{
        if (!app)
                return;
        /* The wake-up thread uses the long-poll table and the store. */
        longpoll_remote_stop(app->remote_wakeups);
        pg_changes_free(app->changes);
        health_monitor_free(app->health);
        if (workq_free(app->deferred, DEFERRED_DRAIN_TIMEOUT_MS) < 0) {
                log_warning("Deferred writes still waiting for the database at shutdown");
                app->store = NULL;
        }
        if (workq_free(app->background, BACKGROUND_DRAIN_TIMEOUT_MS) < 0) {
                /* A job still uses the mail client and the store: leave
                 * both to the process's end (committed data is durable). */
                log_warning("An e-mail was still being sent at shutdown; not waiting for it");
                app->mail = NULL;
                app->store = NULL;
        }
        mail_client_free(app->mail);
        longpoll_free(app->longpoll);
        request_slots_free(app->uploads);
        request_slots_free(app->pulls);
        ratelimit_free(app->ratelimit);
        api_metrics_free(app->metrics);
        store_close(app->store);
        blob_store_free(app->blobs);
        if (app->data_dir_fd >= 0)
                close(app->data_dir_fd);
        free(app->data_dir);
        free(app->blob_dir);
        free(app);
}
