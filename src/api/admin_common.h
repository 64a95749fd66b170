/* SPDX-License-Identifier: MIT */
/*
 * What the administrator's endpoints (api/admin*.c) share: the session and
 * CSRF gate, the password re-confirmation of security-relevant actions,
 * page parameters and turning store row sets into JSON.  Functions that
 * can answer the request return BODY_ANSWERED when they did.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "api/api.h"
#include "store/store_console.h"

/* Page sizes of every admin list: the default and the cap. */
#define ADMIN_PAGE_DEFAULT 20
#define ADMIN_PAGE_MAX     100

/* The administrator behind a request. */
struct admin_ctx {
        struct session session;
        char *username; /* malloc'd */
};

void admin_ctx_done(struct admin_ctx *a);
#define _cleanup_admin_ __attribute__((cleanup(admin_ctx_done)))

/* Authenticate the admin session; for a state-changing request (mutate)
 * also the CSRF check.  0, or BODY_ANSWERED after 401/403, or a negative
 * errno. */
int admin_begin(struct http_request *req, bool mutate, struct admin_ctx *ret);

/* A session whose login is at most this old counts as password-confirmed
 * ("recent authentication"): an action may then omit admin_password. */
#define ADMIN_FRESH_LOGIN_SECONDS 300

/* The re-confirmation of an action: password must be the administrator's
 * own.  No password (NULL or empty) is accepted while the session's login
 * is at most ADMIN_FRESH_LOGIN_SECONDS old, so that scripts which log in
 * and act at once need not send it; a password given is always checked.
 * 0, or BODY_ANSWERED after 400 "admin_password required", 403
 * password_confirmation_failed or 429 (rule admin-reauth: failures
 * only, per client address and per administrator). */
int admin_reauth(struct http_request *req, const struct admin_ctx *a, const char *password);

/* The start of a security-relevant action: admin_begin() with the CSRF
 * check, the body (admin_password plus the n_extra fields of extra, at
 * most ADMIN_EXTRA_FIELDS_MAX; see admin_body()) and admin_reauth().  0, or
 * BODY_ANSWERED, or a negative errno (-EINVAL for too many fields). */
#define ADMIN_EXTRA_FIELDS_MAX 3
int admin_begin_confirmed(struct http_request *req, struct admin_ctx *a,
                          const struct body_field *extra, size_t n_extra, json_t **ret_root);

/* Record an action that was done: the access log's event, an audit entry
 * (event, user_id and device_id, both may be NULL, and audit_what) and a
 * journal record naming the administrator (journal_what). */
void admin_record(struct http_request *req, const struct admin_ctx *a, const char *event,
                  const char *user_id, const char *device_id, const char *audit_what,
                  const char *journal_what);

/* "page" and "per_page" from the query string (defaults 1 and
 * ADMIN_PAGE_DEFAULT; per_page above ADMIN_PAGE_MAX is capped).  0, or
 * BODY_ANSWERED after 400 for a value that is not a positive integer. */
int admin_page(struct http_request *req, struct store_page *ret);

/* One JSON object per row (column name -> value). */
json_t *admin_rows_json(const struct store_rows *rows);

/* The first row of rows as one object (NULL when there is none). */
json_t *admin_row_json(const struct store_rows *rows, size_t row);

/* A paged list as the admin API answers it: {"<key>": list (stolen),
 * "total", "total_capped", "page", "per_page"}; total_capped when the
 * total is the count's cap ("more than STORE_COUNT_CAP",
 * store/store_console.h), not when an exact counter exceeds it.  NULL when
 * out of memory (list released). */
json_t *admin_list_json(const char *key, json_t *list, const struct store_total *total,
                        const struct store_page *page);

/* Answer 200 with body (stolen; NULL answers 500), no-store, and the
 * headers every list answer carries, whatever its body's shape:
 * X-Total-Count (total->n) and X-Total-Capped ("true" when the total is
 * the count's cap, as total_capped above, else "false"). */
int admin_reply_total(struct http_request *req, json_t *body, const struct store_total *total);

/* Answer 200 with admin_list_json() of rows, through admin_reply_total(). */
int admin_reply_list(struct http_request *req, const char *key, const struct store_rows *rows,
                     const struct store_total *total, const struct store_page *page);

/* Log an administrator's action to the journal (never secrets). */
void admin_log(int priority, const char *event, const char *username, const char *what);

/* A query parameter, NULL when absent or empty; 400 when longer than
 * max bytes (BODY_ANSWERED, with *ret untouched). */
int admin_query(struct http_request *req, const char *name, size_t max, const char **ret);

/* Parse the JSON body into fields (api/fields.h, default messages); no
 * body at all reads as {} (scripts send DELETE without one).  0, or
 * BODY_ANSWERED after 400, or a negative errno. */
int admin_body(struct http_request *req, const struct body_field *fields, size_t n,
               json_t **ret_root);

static inline int admin_answered(int r)
{
        return r == BODY_ANSWERED ? 0 : r;
}
