/* SPDX-License-Identifier: MIT */
/*
 * Every endpoint handler, one group per file in src/api/.  The route table
 * (routes.c) is the only user of this header.
 */
#pragma once

#include "http/http.h"

/* health.c */
int api_health(struct http_request *req);
int api_livez(struct http_request *req);

/* client.c (api.md §3) */
int api_client_pair(struct http_request *req);
int api_device_register(struct http_request *req);
int api_auth_test(struct http_request *req);
int api_client_me(struct http_request *req);
int api_client_revoke_current(struct http_request *req);
int api_client_revoke_device(struct http_request *req);

/* accounts.c (api.md §6) */
int api_auth_register(struct http_request *req);
int api_auth_confirm(struct http_request *req);
int api_auth_login(struct http_request *req);
int api_auth_logout(struct http_request *req);
int api_auth_forgot(struct http_request *req);
int api_auth_reset(struct http_request *req);

/* confirm_page.c (api.md §6) */
int api_auth_confirm_page(struct http_request *req);

/* reset_page.c (api.md §6) */
int api_reset_page(struct http_request *req);
int api_reset_submit(struct http_request *req);

/* admin.c (api.md §8) */
int api_admin_login(struct http_request *req);
int api_admin_logout(struct http_request *req);
int api_admin_me(struct http_request *req);
int api_admin_smtp(struct http_request *req);
int api_admin_smtp_test(struct http_request *req);

/* admin_users.c (docs/admin.md) */
int api_admin_users(struct http_request *req);
int api_admin_user_get(struct http_request *req);
int api_admin_user_create(struct http_request *req);
int api_admin_user_edit(struct http_request *req);
int api_admin_user_confirm(struct http_request *req);
int api_admin_user_block(struct http_request *req);
int api_admin_user_reset_password(struct http_request *req);
int api_admin_user_delete(struct http_request *req);
int api_admin_devices(struct http_request *req);
int api_admin_keys(struct http_request *req);
int api_admin_device_revoke(struct http_request *req);
int api_admin_device_delete(struct http_request *req);
int api_admin_key_delete(struct http_request *req);
int api_admin_vaults(struct http_request *req);
int api_admin_vault(struct http_request *req);

/* admin_system.c (docs/admin.md) */
int api_admin_stats(struct http_request *req);
int api_admin_overview(struct http_request *req);
int api_admin_storage(struct http_request *req);
int api_admin_retention(struct http_request *req);
int api_admin_gc(struct http_request *req);
int api_admin_audit(struct http_request *req);
int api_admin_audit_events(struct http_request *req);
int api_admin_settings(struct http_request *req);
int api_admin_diagnostics(struct http_request *req);

/* admin_people.c (docs/admin.md) */
int api_admin_admins(struct http_request *req);
int api_admin_admin_add(struct http_request *req);
int api_admin_admin_remove(struct http_request *req);
int api_admin_password(struct http_request *req);
int api_admin_invitations(struct http_request *req);
int api_admin_invitation_create(struct http_request *req);
int api_admin_invitation_delete(struct http_request *req);

/* user.c (api.md §6) */
int api_user_me(struct http_request *req);
int api_user_devices(struct http_request *req);
int api_user_device_revoke(struct http_request *req);

/* web.c (api.md §6, the web UI) */
int api_web_home(struct http_request *req);
int api_web_site(struct http_request *req);

/* sync.c (api.md §4) */
int api_sync_push(struct http_request *req);
void api_sync_push_cleanup(struct http_request *req);
int api_sync_pull(struct http_request *req);
void api_sync_pull_cleanup(struct http_request *req);

/* blobs.c (api.md §5) */
int api_blobs_upload_begin(struct http_request *req);
int api_blobs_upload_data(struct http_request *req, const char *data, size_t len);
int api_blobs_upload(struct http_request *req);
void api_blobs_upload_cleanup(struct http_request *req);
int api_blobs_download(struct http_request *req);
