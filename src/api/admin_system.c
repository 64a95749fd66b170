/* SPDX-License-Identifier: MIT */
/*
 * The console's view of the server under /admin/api/ (docs/admin.md): the
 * existing server's "stats", the overview (figures, warnings, the last
 * audit events), storage with retention and blob garbage collection on
 * demand, the audit log, the effective settings and a diagnostics report.
 * Figures come from counters and indexes (store/store_console.c), never
 * from walking the blob directory on a GET.  Nothing sensitive leaves
 * here: no paths, tokens, hashes, passwords or payloads.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/admin_common.h"
#include "api/handlers.h"
#include "api/blob_gc.h"
#include "blob/blob_store.h"
#include "api/app.h"
#include "api/errors.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/text.h"
#include "version.h"

/* Audit entries shown on the overview. */
#define ADMIN_OVERVIEW_AUDIT 10

/* --- figures ------------------------------------------------------------------- */

/* Everything the stats, overview and storage answers are made of. */
struct figures {
        struct store_console_stats db;
        uint64_t temp_files, temp_bytes;
        char last_cleanup[TIME_RFC3339_SIZE];
};

static int figures_get(struct app *app, struct figures *f)
{
        time_t last = (time_t)atomic_load_explicit(&app->last_retention, memory_order_relaxed);
        int r = store_console_stats(app->store, time(NULL), &f->db);

        if (r < 0)
                return r;
        f->temp_files = f->temp_bytes = 0;
        if (app->blobs) {
                r = blob_store_count_temp(app->blobs, &f->temp_files, &f->temp_bytes);
                if (r < 0)
                        log_warning_errno(r, "Cannot count upload temp files: %m");
        }
        f->last_cleanup[0] = '\0';
        if (last > 0)
                time_format_rfc3339(last, f->last_cleanup);
        return 0;
}

/* The existing server's stats object. */
static json_t *stats_json(const struct figures *f)
{
        const struct store_console_stats *s = &f->db;

        return json_pack(
                "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
                "s:I,s:I,s:s,s:s}",
                "users", (json_int_t)s->users, "active_users", (json_int_t)s->active_users,
                "blocked_users", (json_int_t)s->blocked_users, "unconfirmed_users",
                (json_int_t)s->unconfirmed_users, "active_devices", (json_int_t)s->active_devices,
                "revoked_devices", (json_int_t)s->revoked_devices, "vaults", (json_int_t)s->vaults,
                "operations", (json_int_t)s->ops, "operations_24h", (json_int_t)s->ops_24h, "blobs",
                (json_int_t)s->blobs, "blob_references", (json_int_t)s->blob_refs, "orphan_blobs",
                (json_int_t)s->orphan_blobs, "temp_uploads", (json_int_t)f->temp_files,
                "expired_sessions", (json_int_t)s->expired_sessions, "expired_email_tokens",
                (json_int_t)s->expired_email_tokens, "audit_events", (json_int_t)s->audit_events,
                "database_bytes", (json_int_t)s->database_bytes, "blob_bytes",
                (json_int_t)s->blob_bytes, "last_sync_activity", s->last_sync, "last_cleanup_at",
                f->last_cleanup);
}

int api_admin_stats(struct http_request *req)
{
        _cleanup_admin_ struct admin_ctx a = {0};
        struct figures f;
        int r = admin_begin(req, false, &a);

        if (r != 0)
                return admin_answered(r);
        r = figures_get(api_app(req), &f);
        if (r < 0)
                return api_reply_internal(req, r);
        return http_reply_json(req, 200, stats_json(&f), HTTP_REPLY_NO_STORE);
}

/* What an administrator should look at, as stable codes for the page. */
static json_t *warnings_json(struct app *app)
{
        json_t *w = json_array();

        if (!w)
                return NULL;
        if (!api_health_ok(app))
                json_array_append_new(w, json_string("not_ready"));
        if (!app->config->smtp.host)
                json_array_append_new(w, json_string("smtp_not_configured"));
        if (!app->config->public_url)
                json_array_append_new(w, json_string("public_url_unset"));
        if (!app->mail)
                json_array_append_new(w, json_string("mail_helper_down"));
        if (atomic_load_explicit(&app->mail_failures, memory_order_relaxed) > 0)
                json_array_append_new(w, json_string("mail_failures"));
        return w;
}

int api_admin_overview(struct http_request *req)
{
        _cleanup_admin_ struct admin_ctx a = {0};
        struct store_audit_query q = {.page = {1, ADMIN_OVERVIEW_AUDIT}};
        struct store_rows rows = {0};
        struct figures f;
        struct store_total total;
        int r = admin_begin(req, false, &a);

        if (r != 0)
                return admin_answered(r);
        r = figures_get(api_app(req), &f);
        if (r >= 0)
                r = store_console_audit(api_app(req)->store, &q, &rows, &total);
        if (r < 0)
                return api_reply_internal(req, r);
        json_t *audit = admin_rows_json(&rows);
        store_rows_done(&rows);
        return http_reply_json(req, 200,
                               json_pack("{s:o,s:o,s:o}", "stats", stats_json(&f), "warnings",
                                         warnings_json(api_app(req)), "audit", audit),
                               HTTP_REPLY_NO_STORE);
}

/* --- storage -------------------------------------------------------------------- */

int api_admin_storage(struct http_request *req)
{
        const struct config *c = api_app(req)->config;
        _cleanup_admin_ struct admin_ctx a = {0};
        struct figures f;
        int r = admin_begin(req, false, &a);

        if (r != 0)
                return admin_answered(r);
        r = figures_get(api_app(req), &f);
        if (r < 0)
                return api_reply_internal(req, r);
        json_t *body = json_pack(
                "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:{s:I,s:I,s:I}}",
                "database_bytes", (json_int_t)f.db.database_bytes, "blobs", (json_int_t)f.db.blobs,
                "blob_bytes", (json_int_t)f.db.blob_bytes, "blob_references",
                (json_int_t)f.db.blob_refs, "orphan_blobs", (json_int_t)f.db.orphan_blobs,
                "temp_uploads", (json_int_t)f.temp_files, "temp_upload_bytes",
                (json_int_t)f.temp_bytes, "expired_sessions", (json_int_t)f.db.expired_sessions,
                "expired_email_tokens", (json_int_t)f.db.expired_email_tokens,
                "idempotency_records", (json_int_t)f.db.idempotency_records, "audit_events",
                (json_int_t)f.db.audit_events, "last_cleanup_at", f.last_cleanup, "retention",
                "idempotency_hours", (json_int_t)c->retention.idempotency_hours, "audit_days",
                (json_int_t)c->retention.audit_days, "temp_upload_hours",
                (json_int_t)c->retention.temp_upload_hours);
        return http_reply_json(req, 200, body, HTTP_REPLY_NO_STORE);
}

int api_admin_retention(struct http_request *req)
{
        struct app *app = api_app(req);
        _cleanup_admin_ struct admin_ctx a = {0};
        char when[TIME_RFC3339_SIZE];
        time_t now = time(NULL);
        int r = admin_begin(req, true, &a);

        if (r != 0)
                return admin_answered(r);
        if (!app->run_retention)
                return api_error(req, API_ERR_UNAVAILABLE, "retention is not available");
        app->run_retention(app, now);
        time_format_rfc3339(now, when);
        admin_record(req, &a, "admin_retention_run", NULL, NULL,
                     "retention run by an administrator", "ran retention");
        return http_reply_json(req, 200,
                               json_pack("{s:s,s:s}", "status", "ok", "last_cleanup_at", when),
                               HTTP_REPLY_NO_STORE);
}

int api_admin_gc(struct http_request *req)
{
        struct app *app = api_app(req);
        _cleanup_admin_ struct admin_ctx a = {0};
        _cleanup_json_ json_t *root = NULL;
        const char *password = NULL;
        bool dry_run = true;
        const struct body_field fields[] = {
                {"dry_run", BODY_BOOL, &dry_run, NULL},
                {"admin_password", BODY_STRING, &password, NULL},
        };
        int r = admin_begin(req, true, &a);

        if (r == 0)
                r = admin_body(req, fields, ELEMENTSOF(fields), &root);
        if (r == 0 && !dry_run)
                r = admin_reauth(req, &a, password);
        if (r != 0)
                return admin_answered(r);
        if (!app->blobs)
                return api_error(req, API_ERR_UNAVAILABLE, "blob storage is not available");
        if (dry_run) {
                struct blob_orphans o = {0};
                r = blob_gc_count_orphans(app->store, app->blobs, &o);
                if (r < 0)
                        return api_reply_internal(req, r);
                return http_reply_json(req, 200,
                                       json_pack("{s:b,s:I,s:I}", "dry_run", 1, "orphan_files",
                                                 (json_int_t)o.files, "orphan_bytes",
                                                 (json_int_t)o.bytes),
                                       HTTP_REPLY_NO_STORE);
        }
        struct blob_gc_result g = {0};
        r = blob_gc_run(app->store, app->blobs, &g);
        if (r < 0)
                return api_reply_internal(req, r);
        char what[128];
        snprintf(what, sizeof(what), "blob garbage collection: %llu files, %llu bytes freed",
                 (unsigned long long)g.files_removed, (unsigned long long)g.bytes_freed);
        admin_record(req, &a, "admin_blob_gc", NULL, NULL, what, what);
        return http_reply_json(req, 200,
                               json_pack("{s:b,s:I,s:I,s:I,s:I}", "dry_run", 0, "files_removed",
                                         (json_int_t)g.files_removed, "bytes_freed",
                                         (json_int_t)g.bytes_freed, "rows_removed",
                                         (json_int_t)g.rows_removed, "kept", (json_int_t)g.kept),
                               HTTP_REPLY_NO_STORE);
}

/* --- audit log -------------------------------------------------------------------- */

/* Every event the server records, with its severity (the console
 * localises the names; unknown ones count as info). */
static const struct {
        const char *event, *severity;
} audit_events[] = {
        {"admin_blob_gc", "warning"},
        {"admin_device_deleted", "critical"},
        {"admin_invitation_created", "info"},
        {"admin_invitation_withdrawn", "info"},
        {"admin_login", "info"},
        {"admin_login_failed", "warning"},
        {"admin_logout", "info"},
        {"admin_added", "critical"},
        {"admin_password_changed", "warning"},
        {"admin_password_reset", "warning"},
        {"admin_reauth_failed", "warning"},
        {"admin_removed", "critical"},
        {"admin_retention_run", "info"},
        {"admin_user_blocked", "warning"},
        {"admin_user_confirmed", "info"},
        {"admin_user_created", "info"},
        {"admin_user_deleted", "critical"},
        {"admin_user_edited", "info"},
        {"admin_user_unblocked", "info"},
        {"device_auth_failed", "warning"},
        {"device_paired", "info"},
        {"device_revoke_failed", "warning"},
        {"device_revoked", "warning"},
        {"email_confirmed", "info"},
        {"login", "info"},
        {"login_failed", "warning"},
        {"logout", "info"},
        {"password_reset", "info"},
        {"rate_limit_exceeded", "warning"},
        {"smtp_test", "info"},
        {"user_registered", "info"},
};

int api_admin_audit_events(struct http_request *req)
{
        _cleanup_admin_ struct admin_ctx a = {0};
        int r = admin_begin(req, false, &a);

        if (r != 0)
                return admin_answered(r);
        json_t *list = json_array();
        for (size_t i = 0; list && i < ELEMENTSOF(audit_events); i++)
                json_array_append_new(list, json_pack("{s:s,s:s}", "event", audit_events[i].event,
                                                      "severity", audit_events[i].severity));
        return http_reply_json(req, 200, json_pack("{s:o}", "events", list), HTTP_REPLY_NO_STORE);
}

/* A date filter: RFC 3339 in UTC, or a day YYYY-MM-DD (its midnight).
 * Whatever does not read back the same (2026-13-45) is refused. */
static int parse_date(const char *s, char out[TIME_RFC3339_SIZE])
{
        char buf[TIME_RFC3339_SIZE];
        time_t t;

        if (strlen(s) == 10) {
                snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
                s = buf;
        }
        if (time_parse_rfc3339(s, &t) < 0)
                return -EINVAL;
        time_format_rfc3339(t, out);
        return strcmp(out, s) == 0 ? 0 : -EINVAL;
}

int api_admin_audit(struct http_request *req)
{
        static const char *const severities[] = {"info", "warning", "critical"};
        _cleanup_admin_ struct admin_ctx a = {0};
        const char *events[ELEMENTSOF(audit_events) + 1] = {NULL};
        const char *event = NULL, *severity = NULL, *from = NULL, *to = NULL;
        char from_s[TIME_RFC3339_SIZE], to_s[TIME_RFC3339_SIZE];
        struct store_audit_query q = {0};
        struct store_rows rows = {0};
        struct store_total total = {0};
        int r = admin_begin(req, false, &a);

        if (r == 0)
                r = admin_page(req, &q.page);
        if (r == 0)
                r = admin_query(req, "event", 64, &event);
        if (r == 0)
                r = admin_query(req, "severity", 16, &severity);
        if (r == 0)
                r = admin_query(req, "user_id", 64, &q.user_id);
        if (r == 0)
                r = admin_query(req, "device_id", 64, &q.device_id);
        if (r == 0)
                r = admin_query(req, "from", 32, &from);
        if (r == 0)
                r = admin_query(req, "to", 32, &to);
        if (r != 0)
                return admin_answered(r);
        if ((from && parse_date(from, from_s) < 0) || (to && parse_date(to, to_s) < 0))
                return api_error(req, API_ERR_INVALID_REQUEST, "from and to must be dates");
        q.from = from ? from_s : NULL;
        q.to = to ? to_s : NULL;
        if (severity) {
                size_t n = 0;
                bool known = false;
                for (size_t i = 0; i < ELEMENTSOF(severities); i++)
                        known = known || strcmp(severity, severities[i]) == 0;
                if (!known)
                        return api_error(req, API_ERR_INVALID_REQUEST, "unknown severity");
                for (size_t i = 0; i < ELEMENTSOF(audit_events); i++)
                        if (strcmp(audit_events[i].severity, severity) == 0 &&
                            (!event || strcmp(event, audit_events[i].event) == 0))
                                events[n++] = audit_events[i].event;
                q.events = events;
        } else if (event) {
                events[0] = event;
                q.events = events;
        }
        r = store_console_audit(api_app(req)->store, &q, &rows, &total);
        if (r < 0)
                return api_reply_internal(req, r);
        r = admin_reply_list(req, "entries", &rows, &total, &q.page);
        store_rows_done(&rows);
        return r;
}

/* --- settings and diagnostics --------------------------------------------------- */

static json_t *string_or_null(const char *s)
{
        return s ? json_string(s) : json_null();
}

/* {"value": v, "source": "config" | "default"}: a setting differs from its
 * default only when config.yml (or the environment) set it. */
static json_t *sourced(json_t *value, bool is_default)
{
        return json_pack("{s:o,s:s}", "value", value, "source", is_default ? "default" : "config");
}

static bool same_str(const char *a, const char *b)
{
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static json_t *limits_json(const struct config *c)
{
        return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "max_json_body",
                         (json_int_t)c->limits.max_json_body, "max_push_operations",
                         (json_int_t)c->limits.max_push_operations, "max_payload_json",
                         (json_int_t)c->limits.max_payload_json, "max_pull_page",
                         (json_int_t)c->limits.max_pull_page, "max_blob_bytes",
                         (json_int_t)c->limits.max_blob_bytes, "max_vault_blob_bytes",
                         (json_int_t)c->limits.max_vault_blob_bytes, "max_user_blob_bytes",
                         (json_int_t)c->limits.max_user_blob_bytes);
}

static json_t *proxies_json(const struct config *c)
{
        json_t *list = json_array();

        for (size_t i = 0; list && i < c->n_trusted_proxies; i++) {
                const struct netmask *m = &c->trusted_proxies[i];
                char ip[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 8];
                if (!inet_ntop(m->family, m->addr, ip, sizeof(ip)))
                        continue;
                snprintf(text, sizeof(text), "%s/%u", ip, m->prefix);
                json_array_append_new(list, json_string(text));
        }
        return list;
}

int api_admin_settings(struct http_request *req)
{
        const struct config *c = api_app(req)->config;
        _cleanup_admin_ struct admin_ctx a = {0};
        struct config d;
        int r = admin_begin(req, false, &a);

        if (r != 0)
                return admin_answered(r);
        r = config_init_defaults(&d);
        if (r < 0)
                return api_reply_internal(req, r);
        /* SMTP: each value with where it comes from; of the password only
         * whether a file is configured, never its content or path. */
        json_t *smtp = json_pack(
                "{s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "delivery", c->smtp.host ? "smtp" : "outbox",
                "host", sourced(string_or_null(c->smtp.host), same_str(c->smtp.host, d.smtp.host)),
                "port", sourced(json_integer(c->smtp.port), c->smtp.port == d.smtp.port),
                "security",
                sourced(json_string(smtp_security_to_string(c->smtp.security)),
                        c->smtp.security == d.smtp.security),
                "from", sourced(string_or_null(c->smtp.from), same_str(c->smtp.from, d.smtp.from)),
                "username_set",
                sourced(json_boolean(c->smtp.username && c->smtp.username[0]),
                        same_str(c->smtp.username, d.smtp.username)),
                "password_configured",
                sourced(json_boolean(c->smtp.password_file != NULL), !c->smtp.password_file),
                "timeout_seconds",
                sourced(json_integer((json_int_t)c->smtp.timeout_seconds),
                        c->smtp.timeout_seconds == d.smtp.timeout_seconds));
        json_t *body = json_pack(
                "{s:s,s:s,s:b,s:o,s:o,s:o,s:{s:I,s:I,s:I},s:s,s:I,s:o}", "server_name",
                c->web.server_name, "default_locale", c->web.default_locale, "allow_registration",
                c->web.allow_registration, "public_url", string_or_null(c->public_url),
                "trusted_proxies", proxies_json(c), "limits", limits_json(c), "retention",
                "idempotency_hours", (json_int_t)c->retention.idempotency_hours, "audit_days",
                (json_int_t)c->retention.audit_days, "temp_upload_hours",
                (json_int_t)c->retention.temp_upload_hours, "database_synchronous",
                c->database.synchronous_full ? "full" : "normal", "threads",
                (json_int_t)c->server.threads, "smtp", smtp);
        config_done(&d);
        return http_reply_json(req, 200, body, HTTP_REPLY_NO_STORE);
}

int api_admin_diagnostics(struct http_request *req)
{
        struct app *app = api_app(req);
        _cleanup_admin_ struct admin_ctx a = {0};
        char now[TIME_RFC3339_SIZE];
        struct figures f;
        const char *download = http_query(req, "download");
        int r = admin_begin(req, false, &a);

        if (r != 0)
                return admin_answered(r);
        r = figures_get(app, &f);
        if (r < 0)
                return api_reply_internal(req, r);
        bool db_ok = store_probe(app->store) == 0, blobs_ok = api_blob_dir_writable(app);
        time_format_rfc3339(time(NULL), now);
        json_t *body = json_pack(
                "{s:s,s:s,s:s,s:i,s:s,s:s,s:I,s:{s:s,s:b,s:b,s:b},s:o,s:o,s:{s:I,s:I},s:b,"
                "s:s,s:o}",
                "generated_at", now, "version", VERSTAK_VERSION, "build_commit",
                VERSTAK_BUILD_COMMIT, "schema_version", store_schema_version(app->store),
                "sqlite_version", sqlite3_libversion(), "microhttpd_version", MHD_get_version(),
                "uptime_seconds", (json_int_t)(time(NULL) - app->started_at), "health", "status",
                db_ok && blobs_ok ? "ok" : "degraded", "database_reachable", db_ok,
                "blob_storage_writable", blobs_ok, "mail_helper", app->mail != NULL, "counts",
                stats_json(&f), "limits", limits_json(app->config), "counters", "ops_pushed",
                (json_int_t)atomic_load(&app->ops_pushed), "mail_failures",
                (json_int_t)atomic_load(&app->mail_failures), "registration_open",
                app->config->web.allow_registration, "smtp_delivery",
                app->config->smtp.host ? "smtp" : "outbox", "warnings", warnings_json(app));
        if (!body)
                return api_reply_internal(req, -ENOMEM);
        struct MHD_Response *resp = http_response_from_json(body);
        if (!resp)
                return api_reply_internal(req, -ENOMEM);
        if (download && strcmp(download, "1") == 0)
                MHD_add_response_header(resp, "Content-Disposition",
                                        "attachment; filename=\"verstak-diagnostics.json\"");
        return http_reply_response(req, 200, resp, HTTP_REPLY_NO_STORE);
}
