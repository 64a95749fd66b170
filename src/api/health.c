/* SPDX-License-Identifier: MIT */
/*
 * @brief GET /api/v1/health, /readyz and /livez (api.md §7), and the
 * background monitor they answer from (api/health.h).  Degraded (503)
 * when the database does not answer, cannot take a write, or the blob
 * directory cannot be written.  No paths and no secrets in the answer.
 * The handlers touch neither the disk nor the database.
 */
#include "api/health.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "api/app.h"
#include "api/handlers.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/text.h"
#include "version.h"

/* Probe this often when nothing asks sooner. */
#define HEALTH_PROBE_INTERVAL_USEC 1000000u
/* A probe waits at most this long for the write lock. */
#define HEALTH_WRITE_PROBE_MS 250u

struct health_monitor {
        struct app *app;
        pthread_t thread;
        bool started;
        pthread_mutex_t lock;
        pthread_cond_t wake; /* CLOCK_MONOTONIC */
        bool stop, kicked;
        struct health_state last;
};

/* Whether a file can be created in the blob directory right now.  An
 * unnamed O_TMPFILE leaves no name behind; filesystems without it get a
 * named file, removed at once. */
static bool blob_dir_writable(const char *dir)
{
        int dfd, fd;

        if (!dir)
                return false;
        fd = open(dir, O_WRONLY | O_TMPFILE | O_CLOEXEC, 0600);
        if (fd >= 0) {
                close(fd);
                return true;
        }
        if (errno != EOPNOTSUPP && errno != EISDIR)
                return false;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return false;
        fd = openat(dfd, ".health-probe", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0) {
                close(fd);
                (void)unlinkat(dfd, ".health-probe", 0);
        }
        close(dfd);
        return fd >= 0;
}

/* Free space of the filesystem holding fd, and whether it is below the
 * reserve (config_disk_reserve()).  An unreadable filesystem counts as
 * full. */
static void storage_space(const struct config *c, int fd, struct health_state *st)
{
        struct statvfs sv;

        if (fd < 0 || fstatvfs(fd, &sv) < 0) {
                st->storage_low = true;
                return;
        }
        uint64_t total = (uint64_t)sv.f_blocks * sv.f_frsize;
        uint64_t reserve = config_disk_reserve(c, total);
        st->storage_free_bytes = (uint64_t)sv.f_bavail * sv.f_frsize;
        st->storage_low = st->storage_free_bytes < reserve;
}

static void probe(struct app *app, struct health_state *ret)
{
        struct health_state st = {0};
        int schema;

        st.database_reachable = store_probe(app->store) == 0;
        /* The writer busy with a push is no failure; a lock held elsewhere
         * beyond the wait is (store_write_stalled()). */
        int r = store_probe_write(app->store, HEALTH_WRITE_PROBE_MS);
        st.database_writable = r == 0 || (r == -EBUSY && !store_write_stalled(app->store));
        st.blob_storage_writable = blob_dir_writable(app->blob_dir);
        storage_space(app->config, app->data_dir_fd, &st);
        schema = st.database_reachable ? store_schema_version(app->store) : -1;
        st.schema_version = schema < 0 ? 0 : schema;
        *ret = st;
}

static void *monitor_run(void *userdata)
{
        struct health_monitor *m = userdata;

        pthread_mutex_lock(&m->lock);
        while (!m->stop) {
                struct timespec deadline = clock_after_usec(HEALTH_PROBE_INTERVAL_USEC);
                while (!m->stop && !m->kicked)
                        if (pthread_cond_timedwait(&m->wake, &m->lock, &deadline) == ETIMEDOUT)
                                break;
                if (m->stop)
                        break;
                m->kicked = false;
                pthread_mutex_unlock(&m->lock);

                struct health_state st;
                probe(m->app, &st);

                pthread_mutex_lock(&m->lock);
                m->last = st;
        }
        pthread_mutex_unlock(&m->lock);
        return NULL;
}

int health_monitor_new(struct app *app, struct health_monitor **ret)
{
        struct health_monitor *m = calloc(1, sizeof(*m));
        pthread_condattr_t ca;
        int r;

        if (!m)
                return -ENOMEM;
        m->app = app;
        pthread_mutex_init(&m->lock, NULL);
        r = -pthread_condattr_init(&ca);
        if (r == 0) {
                r = -pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
                if (r == 0)
                        r = -pthread_cond_init(&m->wake, &ca);
                pthread_condattr_destroy(&ca);
        }
        if (r < 0) {
                pthread_mutex_destroy(&m->lock);
                free(m);
                return r;
        }
        probe(app, &m->last);
        r = -pthread_create(&m->thread, NULL, monitor_run, m);
        if (r < 0) {
                health_monitor_free(m);
                return r;
        }
        m->started = true;
        *ret = m;
        return 0;
}

void health_monitor_free(struct health_monitor *m)
{
        if (!m)
                return;
        if (m->started) {
                pthread_mutex_lock(&m->lock);
                m->stop = true;
                pthread_cond_signal(&m->wake);
                pthread_mutex_unlock(&m->lock);
                pthread_join(m->thread, NULL);
        }
        pthread_cond_destroy(&m->wake);
        pthread_mutex_destroy(&m->lock);
        free(m);
}

void health_monitor_get(struct health_monitor *m, struct health_state *ret)
{
        pthread_mutex_lock(&m->lock);
        *ret = m->last;
        pthread_mutex_unlock(&m->lock);
}

void health_monitor_kick(struct health_monitor *m)
{
        if (!m)
                return;
        pthread_mutex_lock(&m->lock);
        m->kicked = true;
        pthread_cond_signal(&m->wake);
        pthread_mutex_unlock(&m->lock);
}

bool api_blob_dir_writable(struct app *app)
{
        struct health_state st;

        health_monitor_get(app->health, &st);
        return st.blob_storage_writable;
}

bool api_health_ok(struct app *app)
{
        struct health_state st;

        health_monitor_get(app->health, &st);
        return st.database_reachable && st.blob_storage_writable;
}

int api_health(struct http_request *req)
{
        struct app *app = api_app(req);
        char now[TIME_RFC3339_SIZE];
        struct health_state st;

        health_monitor_get(app->health, &st);
        /* A request that just failed to write knows before the next probe. */
        if (store_write_stalled(app->store))
                st.database_writable = false;
        bool ok = st.database_reachable && st.database_writable && st.blob_storage_writable &&
                  !st.storage_low;

        time_format_rfc3339(time(NULL), now);
        json_t *body = json_pack("{s:s,s:s,s:s,s:I,s:b,s:b,s:b,s:I,s:i,s:s}", "status",
                                 ok ? "ok" : "degraded", "version", VERSTAK_VERSION, "build_commit",
                                 VERSTAK_BUILD_COMMIT, "uptime_seconds",
                                 (json_int_t)(time(NULL) - app->started_at), "database_reachable",
                                 st.database_reachable, "database_writable", st.database_writable,
                                 "blob_storage_writable", st.blob_storage_writable,
                                 "storage_free_bytes", (json_int_t)st.storage_free_bytes,
                                 "schema_version", st.schema_version, "server_time", now);
        if (!body)
                return -ENOMEM;
        return http_reply_json(req, ok ? 200 : 503, body, 0);
}

int api_livez(struct http_request *req)
{
        char now[TIME_RFC3339_SIZE];

        time_format_rfc3339(time(NULL), now);
        return http_reply_json(req, 200, json_pack("{s:s,s:s}", "status", "ok", "server_time", now),
                               0);
}
