/* SPDX-License-Identifier: MIT */
/*
 * The one route table (style.md §6).  Method, path, body kind and limits
 * are checked by the HTTP layer before a handler runs.  Keep it sorted by
 * area; the first match wins.
 */
#include "api/routes.h"

#include "api/handlers.h"
#include "util/cleanup.h"

const struct route api_routes[] = {
        /* operations (api.md §7) */
        {"GET", "/api/v1/health", HTTP_BODY_NONE, api_health, NULL, NULL, NULL},
        {"GET", "/readyz", HTTP_BODY_NONE, api_health, NULL, NULL, NULL},
        {"GET", "/livez", HTTP_BODY_NONE, api_livez, NULL, NULL, NULL},

        /* desktop clients (api.md §3) */
        {"POST", "/api/client/pair", HTTP_BODY_BUFFERED, api_client_pair, NULL, NULL, NULL},
        {"POST", "/api/auth/test", HTTP_BODY_BUFFERED, api_auth_test, NULL, NULL, NULL},
        {"GET", "/api/client/me", HTTP_BODY_NONE, api_client_me, NULL, NULL, NULL},
        {"POST", "/api/client/revoke-current", HTTP_BODY_BUFFERED, api_client_revoke_current, NULL,
         NULL, NULL},
        {"POST", "/api/client/revoke-device", HTTP_BODY_BUFFERED, api_client_revoke_device, NULL,
         NULL, NULL},
        {"POST", "/api/v1/device/register", HTTP_BODY_BUFFERED, api_device_register, NULL, NULL,
         NULL},

        /* accounts and the user's own devices (api.md §6) */
        {"POST", "/api/v1/auth/register", HTTP_BODY_BUFFERED, api_auth_register, NULL, NULL, NULL},
        {"GET", "/api/v1/auth/confirm", HTTP_BODY_NONE, api_auth_confirm_page, NULL, NULL, NULL},
        {"POST", "/api/v1/auth/confirm", HTTP_BODY_BUFFERED, api_auth_confirm, NULL, NULL, NULL},
        {"POST", "/api/v1/auth/login", HTTP_BODY_BUFFERED, api_auth_login, NULL, NULL, NULL},
        {"POST", "/api/v1/auth/logout", HTTP_BODY_BUFFERED, api_auth_logout, NULL, NULL, NULL},
        {"POST", "/api/v1/auth/forgot", HTTP_BODY_BUFFERED, api_auth_forgot, NULL, NULL, NULL},
        {"POST", "/api/v1/auth/reset", HTTP_BODY_BUFFERED, api_auth_reset, NULL, NULL, NULL},
        {"GET", "/api/v1/user/me", HTTP_BODY_NONE, api_user_me, NULL, NULL, NULL},
        {"GET", "/api/v1/user/devices", HTTP_BODY_NONE, api_user_devices, NULL, NULL, NULL},
        {"POST", "/api/v1/user/devices/{}/revoke", HTTP_BODY_BUFFERED, api_user_device_revoke, NULL,
         NULL, NULL},

        /* the web UI: its home page and what its pages ask first; the
         * other pages are static files (http/static.h) */
        {"GET", "/", HTTP_BODY_NONE, api_web_home, NULL, NULL, NULL},
        {"GET", "/api/v1/site", HTTP_BODY_NONE, api_web_site, NULL, NULL, NULL},

        /* the page behind the password-reset e-mail (api.md §6) */
        {"GET", "/reset", HTTP_BODY_NONE, api_reset_page, NULL, NULL, NULL},
        {"POST", "/reset", HTTP_BODY_BUFFERED, api_reset_submit, NULL, NULL, NULL},

        /* administrators (api.md §8) */
        {"POST", "/admin/api/login", HTTP_BODY_BUFFERED, api_admin_login, NULL, NULL, NULL},
        {"POST", "/admin/api/logout", HTTP_BODY_BUFFERED, api_admin_logout, NULL, NULL, NULL},
        {"GET", "/admin/api/me", HTTP_BODY_NONE, api_admin_me, NULL, NULL, NULL},
        {"GET", "/admin/api/smtp", HTTP_BODY_NONE, api_admin_smtp, NULL, NULL, NULL},
        {"POST", "/admin/api/smtp/test", HTTP_BODY_BUFFERED, api_admin_smtp_test, NULL, NULL, NULL},

        /* the administrator's console (docs/admin.md) */
        {"GET", "/admin/api/stats", HTTP_BODY_NONE, api_admin_stats, NULL, NULL, NULL},
        {"GET", "/admin/api/overview", HTTP_BODY_NONE, api_admin_overview, NULL, NULL, NULL},
        {"GET", "/admin/api/users", HTTP_BODY_NONE, api_admin_users, NULL, NULL, NULL},
        {"POST", "/admin/api/users/create", HTTP_BODY_BUFFERED, api_admin_user_create, NULL, NULL,
         NULL},
        {"GET", "/admin/api/users/{}", HTTP_BODY_NONE, api_admin_user_get, NULL, NULL, NULL},
        {"DELETE", "/admin/api/users/{}", HTTP_BODY_BUFFERED, api_admin_user_delete, NULL, NULL,
         NULL},
        {"POST", "/admin/api/users/{}/edit", HTTP_BODY_BUFFERED, api_admin_user_edit, NULL, NULL,
         NULL},
        {"POST", "/admin/api/users/{}/confirm", HTTP_BODY_BUFFERED, api_admin_user_confirm, NULL,
         NULL, NULL},
        {"POST", "/admin/api/users/{}/block", HTTP_BODY_BUFFERED, api_admin_user_block, NULL, NULL,
         NULL},
        {"POST", "/admin/api/users/{}/reset-password", HTTP_BODY_BUFFERED,
         api_admin_user_reset_password, NULL, NULL, NULL},
        {"GET", "/admin/api/devices", HTTP_BODY_NONE, api_admin_devices, NULL, NULL, NULL},
        {"POST", "/admin/api/devices/{}/revoke", HTTP_BODY_BUFFERED, api_admin_device_revoke, NULL,
         NULL, NULL},
        {"DELETE", "/admin/api/devices/{}", HTTP_BODY_BUFFERED, api_admin_device_delete, NULL, NULL,
         NULL},
        {"GET", "/admin/api/keys", HTTP_BODY_NONE, api_admin_keys, NULL, NULL, NULL},
        {"DELETE", "/admin/api/keys/{}", HTTP_BODY_BUFFERED, api_admin_key_delete, NULL, NULL,
         NULL},
        {"GET", "/admin/api/vaults", HTTP_BODY_NONE, api_admin_vaults, NULL, NULL, NULL},
        {"GET", "/admin/api/vaults/{}/{}", HTTP_BODY_NONE, api_admin_vault, NULL, NULL, NULL},
        {"GET", "/admin/api/storage", HTTP_BODY_NONE, api_admin_storage, NULL, NULL, NULL},
        {"POST", "/admin/api/storage/retention", HTTP_BODY_BUFFERED, api_admin_retention, NULL,
         NULL, NULL},
        {"POST", "/admin/api/storage/gc", HTTP_BODY_BUFFERED, api_admin_gc, NULL, NULL, NULL},
        {"GET", "/admin/api/audit", HTTP_BODY_NONE, api_admin_audit, NULL, NULL, NULL},
        {"GET", "/admin/api/audit/events", HTTP_BODY_NONE, api_admin_audit_events, NULL, NULL,
         NULL},
        {"GET", "/admin/api/settings", HTTP_BODY_NONE, api_admin_settings, NULL, NULL, NULL},
        {"GET", "/admin/api/diagnostics", HTTP_BODY_NONE, api_admin_diagnostics, NULL, NULL, NULL},
        {"GET", "/admin/api/admins", HTTP_BODY_NONE, api_admin_admins, NULL, NULL, NULL},
        {"POST", "/admin/api/admins", HTTP_BODY_BUFFERED, api_admin_admin_add, NULL, NULL, NULL},
        {"DELETE", "/admin/api/admins/{}", HTTP_BODY_BUFFERED, api_admin_admin_remove, NULL, NULL,
         NULL},
        {"POST", "/admin/api/admins/password", HTTP_BODY_BUFFERED, api_admin_password, NULL, NULL,
         NULL},
        {"GET", "/admin/api/invitations", HTTP_BODY_NONE, api_admin_invitations, NULL, NULL, NULL},
        {"POST", "/admin/api/invitations", HTTP_BODY_BUFFERED, api_admin_invitation_create, NULL,
         NULL, NULL},
        {"DELETE", "/admin/api/invitations/{}", HTTP_BODY_BUFFERED, api_admin_invitation_delete,
         NULL, NULL, NULL},

        /* operation log (api.md §4) */
        {"POST", "/api/v1/sync/push", HTTP_BODY_BUFFERED, api_sync_push, NULL, NULL,
         api_sync_push_cleanup},
        {"POST", "/api/v1/sync/pull", HTTP_BODY_BUFFERED, api_sync_pull, NULL, NULL,
         api_sync_pull_cleanup},

        /* blobs (api.md §5) */
        {"POST", "/api/v1/blobs/", HTTP_BODY_STREAM, api_blobs_upload, api_blobs_upload_begin,
         api_blobs_upload_data, api_blobs_upload_cleanup},
        {"GET", "/api/v1/blobs/{}", HTTP_BODY_NONE, api_blobs_download, NULL, NULL, NULL},
};

const size_t api_n_routes = ELEMENTSOF(api_routes);
