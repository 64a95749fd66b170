/* SPDX-License-Identifier: MIT */
/* Implementation of server/retention.h: one expire_step() per kind of record. */
#include "server/retention.h"

#include "api/app.h"
#include "blob/blob_store.h"
#include "store/store.h"
#include "store/store_accounts.h"
#include "store/store_devices.h"
#include "store/store_ops.h"
#include "util/log.h"
#include "util/text.h"

/* One step: delete what fn finds older than now - age, and say so. */
static void expire_step(struct app *app, time_t now, time_t age, const char *what,
                        int (*fn)(struct store *s, const char *cutoff))
{
        char before[TIME_RFC3339_SIZE];
        int r;

        time_format_rfc3339(now - age, before);
        r = fn(app->store, before);
        if (r < 0)
                log_warning_errno(r, "Retention: cannot expire %s: %m", what);
        else if (r > 0)
                log_info("Retention: removed %d %s", r, what);
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
        const struct config *cfg = app->config;

        expire_step(app, now, (time_t)cfg->retention.idempotency_hours * 3600,
                    "idempotency records", store_idempotency_expire);
        expire_step(app, now, (time_t)cfg->retention.audit_days * 86400, "audit entries",
                    store_audit_expire);
        /* Sessions and e-mail tokens carry their own expiry time. */
        expire_step(app, now, 0, "expired sessions", store_sessions_expire);
        expire_step(app, now, 0, "expired e-mail tokens", store_email_tokens_expire);
        expire_temp_uploads(app, now);
        atomic_store_explicit(&app->last_retention, (int_fast64_t)now, memory_order_relaxed);
}
