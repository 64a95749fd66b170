/* SPDX-License-Identifier: MIT */
/*
 * @brief GET /api/v1/health, /readyz and /livez (api.md §7).  Degraded
 * (503) when the database does not answer or the blob directory cannot be
 * written.  No paths and no secrets in the answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "api/app.h"
#include "api/handlers.h"
#include "store/store.h"
#include "util/text.h"
#include "version.h"

/* Whether a file can be created in the blob directory right now. */
bool api_blob_dir_writable(struct app *app)
{
        char name[64];
        int fd;

        if (!app->blob_dir)
                return false;
        int dfd = open(app->blob_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return false;
        snprintf(name, sizeof(name), ".health-%ld", (long)gettid());
        fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0) {
                close(fd);
                (void)unlinkat(dfd, name, 0);
        }
        close(dfd);
        return fd >= 0;
}

bool api_health_ok(struct app *app)
{
        return store_probe(app->store) == 0 && api_blob_dir_writable(app);
}

int api_health(struct http_request *req)
{
        struct app *app = api_app(req);
        char now[TIME_RFC3339_SIZE];
        bool db_ok = store_probe(app->store) == 0;
        bool blobs_ok = api_blob_dir_writable(app);
        int schema = db_ok ? store_schema_version(app->store) : -1;
        bool ok = db_ok && blobs_ok;

        time_format_rfc3339(time(NULL), now);
        json_t *body =
                json_pack("{s:s,s:s,s:s,s:I,s:b,s:b,s:i,s:s}", "status", ok ? "ok" : "degraded",
                          "version", VERSTAK_VERSION, "build_commit", VERSTAK_BUILD_COMMIT,
                          "uptime_seconds", (json_int_t)(time(NULL) - app->started_at),
                          "database_reachable", db_ok, "blob_storage_writable", blobs_ok,
                          "schema_version", schema < 0 ? 0 : schema, "server_time", now);
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
