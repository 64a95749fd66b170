/* SPDX-License-Identifier: MIT */
/* Implementation of server/retention.h: one small function per step. */
#include "server/retention.h"

#include "blob/blob_store.h"
#include "server/app.h"
#include "store/store.h"
#include "store/store_devices.h"
#include "store/store_ops.h"
#include "util/log.h"
#include "util/text.h"

static void cutoff(time_t now, time_t age, char out[TIME_RFC3339_SIZE])
{
        time_format_rfc3339(now - age, out);
}

static void expire_idempotency(struct app *app, time_t now)
{
        char before[TIME_RFC3339_SIZE];
        int r;

        cutoff(now, (time_t)app->config->retention.idempotency_hours * 3600, before);
        r = store_idempotency_expire(app->store, before);
        if (r < 0)
                log_warning_errno(r, "Retention: cannot expire idempotency records: %m");
        else if (r > 0)
                log_info("Retention: removed %d idempotency records", r);
}

static void expire_audit(struct app *app, time_t now)
{
        char before[TIME_RFC3339_SIZE];
        int r;

        cutoff(now, (time_t)app->config->retention.audit_days * 86400, before);
        r = store_audit_expire(app->store, before);
        if (r < 0)
                log_warning_errno(r, "Retention: cannot expire audit entries: %m");
        else if (r > 0)
                log_info("Retention: removed %d audit entries", r);
}

/* Upload temporary files left by a crash (uploads in progress are kept). */
static void expire_temp_uploads(struct app *app, time_t now)
{
        int r;

        if (!app->blobs)
                return;
        r = blob_store_expire_temp(app->blobs,
                                   now - (time_t)app->config->retention.temp_upload_hours * 3600);
        if (r < 0)
                log_warning_errno(r, "Retention: cannot remove stale upload files: %m");
        else if (r > 0)
                log_info("Retention: removed %d stale upload files", r);
}

void retention_run(struct app *app, time_t now)
{
        expire_idempotency(app, now);
        expire_audit(app, now);
        expire_temp_uploads(app, now);
}
