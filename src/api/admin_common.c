/* SPDX-License-Identifier: MIT */
/* Implementation of api/admin_common.h. */
#include "api/admin_common.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/password.h"
#include "api/app.h"
#include "api/errors.h"
#include "api/fields.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/log.h"

void admin_ctx_done(struct admin_ctx *a)
{
        free(a->username);
        a->username = NULL;
}

int admin_begin(struct http_request *req, bool mutate, struct admin_ctx *ret)
{
        struct admin_ctx a = {0};
        int r = api_session_auth(req, &session_kind_admin, &a.session);

        if (r != 0)
                return r;
        r = store_admin_username(api_app(req)->store, a.session.subject_id, &a.username);
        if (r == -ENOENT) /* the administrator was removed */
                return api_error_answered(req, API_ERR_UNAUTHORIZED, "invalid session");
        if (r < 0)
                return r;
        if (mutate) {
                r = api_session_csrf(req, &a.session, NULL);
                if (r != 0) {
                        admin_ctx_done(&a);
                        return r;
                }
        }
        *ret = a;
        return 0;
}

int admin_reauth(struct http_request *req, const struct admin_ctx *a, const char *password)
{
        _cleanup_free_ char *id = NULL, *hash = NULL;
        bool rehash = false;
        int r;

        if (!password || !password[0]) {
                time_t age = time(NULL) - a->session.created_at;

                if (a->session.created_at > 0 && age >= 0 && age <= ADMIN_FRESH_LOGIN_SECONDS)
                        return 0;
                return api_error_answered(req, API_ERR_INVALID_REQUEST, "admin_password required");
        }
        /* Only failures count: an administrator at work is never slowed. */
        r = api_rate_limit_peek(req, RL_ADMIN_REAUTH, a->username);
        if (r != 0)
                return r;
        r = store_admin_get(api_app(req)->store, a->username, &id, &hash);
        if (r < 0)
                return r == -ENOENT ? -EKEYREJECTED : r;
        if (strlen(password) <= 256 && password_verify(password, hash, &rehash) > 0)
                return 0;
        api_rate_count(req, RL_ADMIN_REAUTH, a->username);
        req->log_event = "admin_reauth_failed";
        api_audit(req, "admin_reauth_failed", NULL, NULL, "password confirmation failed");
        return api_error_answered(req, API_ERR_PASSWORD_CONFIRMATION_FAILED,
                                  "password confirmation failed");
}

/* A positive integer of at most 9 digits, or -EINVAL. */
static int parse_positive(const char *s, int64_t *ret)
{
        int64_t v = 0;
        size_t n = 0;

        for (; s[n]; n++) {
                if (s[n] < '0' || s[n] > '9' || n >= 9)
                        return -EINVAL;
                v = v * 10 + (s[n] - '0');
        }
        if (n == 0 || v < 1)
                return -EINVAL;
        *ret = v;
        return 0;
}

int admin_page(struct http_request *req, struct store_page *ret)
{
        const char *page = http_query(req, "page"), *per = http_query(req, "per_page");
        struct store_page p = {.page = 1, .per_page = ADMIN_PAGE_DEFAULT};

        if ((page && parse_positive(page, &p.page) < 0) ||
            (per && parse_positive(per, &p.per_page) < 0))
                return api_error_answered(req, API_ERR_INVALID_REQUEST,
                                          "page and per_page must be positive integers");
        if (p.per_page > ADMIN_PAGE_MAX)
                p.per_page = ADMIN_PAGE_MAX;
        *ret = p;
        return 0;
}

json_t *admin_row_json(const struct store_rows *rows, size_t row)
{
        json_t *o;

        if (row >= rows->n_rows)
                return NULL;
        o = json_object();
        if (!o)
                return NULL;
        for (size_t i = 0; i < rows->n_cols; i++) {
                const struct store_cell *c = &rows->cells[row * rows->n_cols + i];
                json_t *v = c->type == STORE_CELL_INT    ? json_integer(c->i)
                            : c->type == STORE_CELL_TEXT ? json_string(c->s)
                                                         : json_null();
                if (!v || json_object_set_new(o, rows->names[i], v) < 0) {
                        json_decref(o);
                        return NULL;
                }
        }
        return o;
}

json_t *admin_rows_json(const struct store_rows *rows)
{
        json_t *a = json_array();

        for (size_t r = 0; a && r < rows->n_rows; r++) {
                json_t *o = admin_row_json(rows, r);
                if (!o || json_array_append_new(a, o) < 0) {
                        json_decref(a);
                        return NULL;
                }
        }
        return a;
}

json_t *admin_list_json(const char *key, json_t *list, const struct store_total *total,
                        const struct store_page *page)
{
        if (!list)
                return NULL;
        return json_pack("{s:o,s:I,s:b,s:I,s:I}", key, list, "total", (json_int_t)total->n,
                         "total_capped", total->capped, "page", (json_int_t)page->page, "per_page",
                         (json_int_t)page->per_page);
}

int admin_reply_total(struct http_request *req, json_t *body, const struct store_total *total)
{
        char count[24];
        struct MHD_Response *resp;

        if (!body)
                return api_reply_internal(req, -ENOMEM);
        resp = http_response_from_json(body);
        if (!resp)
                return api_reply_internal(req, -ENOMEM);
        snprintf(count, sizeof(count), "%lld", (long long)total->n);
        if (MHD_add_response_header(resp, "X-Total-Count", count) != MHD_YES ||
            MHD_add_response_header(resp, "X-Total-Capped", total->capped ? "true" : "false") !=
                    MHD_YES) {
                MHD_destroy_response(resp);
                return api_reply_internal(req, -ENOMEM);
        }
        return http_reply_response(req, 200, resp, HTTP_REPLY_NO_STORE);
}

int admin_reply_list(struct http_request *req, const char *key, const struct store_rows *rows,
                     const struct store_total *total, const struct store_page *page)
{
        return admin_reply_total(req, admin_list_json(key, admin_rows_json(rows), total, page),
                                 total);
}

int admin_begin_confirmed(struct http_request *req, struct admin_ctx *a,
                          const struct body_field *extra, size_t n_extra, json_t **ret_root)
{
        const char *password = NULL;
        struct body_field fields[ADMIN_EXTRA_FIELDS_MAX + 1] = {
                {"admin_password", BODY_STRING, &password, NULL},
        };
        int r;

        if (n_extra > ADMIN_EXTRA_FIELDS_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n_extra; i++)
                fields[i + 1] = extra[i];
        r = admin_begin(req, true, a);
        if (r == 0)
                r = admin_body(req, fields, n_extra + 1, ret_root);
        if (r == 0)
                r = admin_reauth(req, a, password);
        return r;
}

void admin_record(struct http_request *req, const struct admin_ctx *a, const char *event,
                  const char *user_id, const char *device_id, const char *audit_what,
                  const char *journal_what)
{
        req->log_event = event;
        api_audit(req, event, user_id, device_id, audit_what);
        admin_log(LOG_NOTICE, event, a->username, journal_what);
}

void admin_log(int priority, const char *event, const char *username, const char *what)
{
        struct log_field f[] = {
                {"MESSAGE_ID", LOG_MID_ADMIN_ACTION},
                {"EVENT", event},
        };
        log_struct(priority, f, "Administrator '%s': %s", username, what);
}

int admin_body(struct http_request *req, const struct body_field *fields, size_t n,
               json_t **ret_root)
{
        const struct api_fields spec = {fields, n};
        json_t *root;
        int r;

        if (req->body_len > 0)
                return api_fields_parse(req, &spec, ret_root);
        root = json_object();
        if (!root)
                return -ENOMEM;
        r = api_fields_read(req, root, &spec);
        if (r != 0) {
                json_decref(root);
                return r;
        }
        *ret_root = root;
        return 0;
}

int admin_query(struct http_request *req, const char *name, size_t max, const char **ret)
{
        const char *v = http_query(req, name);

        if (v && strlen(v) > max) {
                char msg[96];
                snprintf(msg, sizeof(msg), "%s too long", name);
                return api_error_answered(req, API_ERR_INVALID_REQUEST, msg);
        }
        *ret = v && v[0] ? v : NULL;
        return 0;
}
