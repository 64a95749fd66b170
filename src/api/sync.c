/* SPDX-License-Identifier: MIT */
/*
 * @brief The operation log endpoints (api.md §4): push with the full
 * validation order, idempotent replay and conflicts; pull with paging and
 * the long poll.  Validation happens here, storage in store/store_ops.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/app.h"
#include "api/handlers.h"
#include "api/longpoll.h"
#include "store/store_blobs.h"
#include "store/store_ops.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/json_writer.h"
#include "util/log.h"
#include "util/text.h"

/* Field limits of api.md §4, in bytes. */
#define PUSH_KEY_MAX       128 /* device_id, idempotency_key */
#define OP_ID_MAX          128
#define OP_ENTITY_TYPE_MAX 64
#define OP_ENTITY_ID_MAX   4096
#define OP_TYPE_MAX        64
#define PULL_WAIT_MAX      60 /* seconds */

/* --- push ----------------------------------------------------------------- */

/* Read one op object into out, answering type errors (invalid_json),
 * missing text fields (invalid_operation) and over-long ones
 * (field_too_long). */
static int read_op(struct http_request *req, json_t *obj, struct store_op_in *out)
{
        const struct body_field fields[] = {
                {"op_id", BODY_STRING, &out->op_id, .flags = BODY_NOT_BLANK, .max_len = OP_ID_MAX},
                {"entity_type", BODY_STRING, &out->entity_type, .flags = BODY_NOT_BLANK,
                 .max_len = OP_ENTITY_TYPE_MAX},
                {"entity_id", BODY_STRING, &out->entity_id, .flags = BODY_NOT_BLANK,
                 .max_len = OP_ENTITY_ID_MAX},
                {"op_type", BODY_STRING, &out->op_type, .flags = BODY_NOT_BLANK,
                 .max_len = OP_TYPE_MAX},
                {"payload_json", BODY_STRING, &out->payload_json, NULL},
                {"created_at", BODY_STRING, &out->created_at, NULL},
                {"client_sequence", BODY_INT, &out->client_sequence, NULL},
                {"last_seen_server_seq", BODY_INT, &out->last_seen_server_seq, NULL},
        };
        const struct api_fields spec = {fields, ELEMENTSOF(fields),
                                        .missing_error = API_ERR_INVALID_OPERATION,
                                        .too_long_error = API_ERR_FIELD_TOO_LONG,
                                        .wrong_type = "an op field has the wrong type"};
        int r;

        if (!json_is_object(obj))
                return api_error_answered(req, API_ERR_INVALID_JSON, "each op must be an object");
        r = api_fields_read(req, obj, &spec);
        if (r != 0)
                return r;
        if (!out->payload_json)
                out->payload_json = "";
        if (!out->created_at)
                out->created_at = "";
        return 0;
}

/* Checks of api.md §4 that need no store (the text fields passed their
 * specs in read_op()), phase by phase over all ops. */
static int validate_ops(struct http_request *req, const struct store_op_in *ops, size_t n)
{
        const struct app *app = api_app(req);

        for (size_t i = 0; i < n; i++) {
                size_t len = strlen(ops[i].payload_json);
                if (len > app->config->limits.max_payload_json)
                        return api_error_answered(req, API_ERR_PAYLOAD_TOO_LARGE,
                                                  "payload_json is too large");
                if (len > 0) {
                        json_t *p = json_loads(ops[i].payload_json,
                                               JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
                        if (!p)
                                return api_error_answered(req, API_ERR_INVALID_PAYLOAD,
                                                          "payload_json is not valid JSON");
                        json_decref(p);
                }
        }
        for (size_t i = 0; i < n; i++)
                if (ops[i].client_sequence < 0 || ops[i].last_seen_server_seq < 0)
                        return api_error_answered(req, API_ERR_INVALID_OPERATION,
                                                  "sequence numbers must not be negative");
        return 0;
}

/* Blob references of file ops: shape, then ownership and size in scope. */
static int validate_blob_refs(struct http_request *req, const struct store_scope *scope,
                              const struct store_op_in *ops, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (strcmp(ops[i].entity_type, "file") != 0 || !ops[i].payload_json[0])
                        continue;
                _cleanup_json_ json_t *p = json_loads(ops[i].payload_json, JSON_DECODE_ANY, NULL);
                if (!json_is_object(p))
                        continue;
                if (json_object_get(p, "dataBase64"))
                        return api_error_answered(
                                req, API_ERR_INLINE_BINARY_FORBIDDEN,
                                "inline file data is not accepted; upload a blob");
                json_t *blob = json_object_get(p, "blob");
                if (!blob)
                        continue;
                json_t *sha = json_object_get(blob, "sha256"),
                       *size = json_object_get(blob, "size");
                if (!json_is_object(blob) || !json_is_string(sha) ||
                    !hex_is_lower(json_string_value(sha), 64) || !json_is_integer(size) ||
                    json_integer_value(size) < 0)
                        return api_error_answered(req, API_ERR_INVALID_BLOB_REFERENCE,
                                                  "blob must be {sha256, size}");
                int64_t stored;
                int r = store_blob_ref_size(api_app(req)->store, scope, json_string_value(sha),
                                            &stored);
                if (r == -ENOENT)
                        return api_error_answered(req, API_ERR_BLOB_NOT_OWNED,
                                                  "blob not uploaded in this vault");
                if (r < 0)
                        return r;
                if (stored != json_integer_value(size))
                        return api_error_answered(req, API_ERR_INVALID_BLOB_REFERENCE,
                                                  "blob size does not match the upload");
        }
        return 0;
}

int api_sync_push(struct http_request *req)
{
        _cleanup_json_ json_t *root = NULL;
        _cleanup_free_ struct store_op_in *ops = NULL;
        struct store_device dev = {0};
        struct store_push_result res = {0};
        const char *device_id = NULL, *idem = NULL;
        json_t *ops_json = NULL;
        const struct body_field fields[] = {
                {"device_id", BODY_STRING, &device_id, .max_len = PUSH_KEY_MAX},
                {"idempotency_key", BODY_STRING, &idem, .max_len = PUSH_KEY_MAX},
                {"ops", BODY_ARRAY, &ops_json, NULL},
        };
        const struct api_fields spec = {fields, ELEMENTSOF(fields),
                                        .too_long = "device_id or idempotency_key is too long",
                                        .too_long_error = API_ERR_FIELD_TOO_LONG};
        size_t n = 0;
        int r;

        r = api_device_auth(req, &dev, false);
        if (r != 0)
                return api_answered(r);
        r = api_fields_parse(req, &spec, &root);
        if (r != 0)
                goto out;

        n = ops_json ? json_array_size(ops_json) : 0;
        if (n > api_app(req)->config->limits.max_push_operations) {
                r = api_error(req, API_ERR_TOO_MANY_OPERATIONS, "too many operations");
                goto out;
        }
        ops = calloc(n ? n : 1, sizeof(*ops));
        if (!ops) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                r = read_op(req, json_array_get(ops_json, i), &ops[i]);
                if (r != 0)
                        goto out;
        }
        r = validate_ops(req, ops, n);
        if (r != 0)
                goto out;
        struct store_scope scope = {dev.user_id, dev.vault_id};
        r = validate_blob_refs(req, &scope, ops, n);
        if (r != 0)
                goto out;

        struct store_push p = {
                .scope = scope,
                .device_id = dev.id,
                .device_ip = req->client_ip,
                /* At most once a minute: a page less to write per commit. */
                .touch_device = api_device_seen_stale(req, &dev),
                .idempotency_key = idem,
                .ops = ops,
                .n_ops = n,
        };
        r = store_push_ops(api_app(req)->store, &p, &res);
        if (r < 0) {
                r = api_reply_internal(req, r);
                goto out;
        }
        if (res.replayed) {
                req->log_event = "push_replayed";
                r = http_reply_json_raw(req, 200, res.json, strlen(res.json), 0);
                goto out;
        }
        if (res.n_accepted > 0) {
                atomic_fetch_add_explicit(&api_app(req)->ops_pushed, res.n_accepted,
                                          memory_order_relaxed);
                longpoll_notify(api_app(req)->longpoll, dev.user_id, dev.vault_id,
                                res.last_sequence);
        }
        r = http_reply_json_raw(req, 200, res.json, strlen(res.json), 0);
out:
        store_push_result_done(&res);
        store_device_done(&dev);
        return api_answered(r);
}

/* --- pull ----------------------------------------------------------------- */

/* State of a pull across suspensions. */
struct pull_args {
        int64_t since;
        size_t limit;
        uint64_t deadline; /* 0: no long poll */
        bool touched;      /* last_seen already refreshed by this request */
};

/* Append one op to the page being written (store_pull_row_fn). */
static int write_pull_op(const struct store_op_view *o, void *userdata)
{
        struct json_writer *w = userdata;

        json_writer_begin_object(w);
        json_writer_member_string(w, "op_id", o->op_id);
        json_writer_member_int(w, "server_sequence", o->server_sequence);
        json_writer_member_string(w, "device_id", o->device_id);
        json_writer_member_string(w, "entity_type", o->entity_type);
        json_writer_member_string(w, "entity_id", o->entity_id);
        json_writer_member_string(w, "op_type", o->op_type);
        json_writer_member_string(w, "payload_json", o->payload_json);
        json_writer_member_string(w, "created_at", o->created_at);
        json_writer_end_object(w);
        return 0;
}

/* {server_sequence, page_last_sequence, has_more, ops} around the ops text. */
static char *finish_pull(const struct store_pull_info *info, int64_t since, const char *ops,
                         size_t ops_len, size_t *ret_len)
{
        struct json_writer w;

        json_writer_init(&w, ops_len + 128);
        json_writer_begin_object(&w);
        json_writer_member_int(&w, "server_sequence", info->scope_sequence);
        json_writer_member_int(&w, "page_last_sequence", info->n_ops ? info->last_sequence : since);
        json_writer_key(&w, "has_more");
        json_writer_bool(&w, info->has_more);
        json_writer_key(&w, "ops");
        json_writer_raw(&w, ops, ops_len);
        json_writer_end_object(&w);
        return json_writer_finish(&w, ret_len);
}

static int pull_resume(struct http_request *req);

/* Read a page; answer it, or suspend when empty and a wait is pending. */
static int pull_answer(struct http_request *req, struct pull_args *args)
{
        struct store_device dev = {0};
        struct store_pull_info info;
        struct json_writer ops;
        int r;

        r = api_device_auth(req, &dev, !args->touched);
        args->touched = true;
        if (r != 0)
                return api_answered(r);
        struct store_scope scope = {dev.user_id, dev.vault_id};
        for (;;) {
                json_writer_init(&ops, 16384);
                json_writer_begin_array(&ops);
                r = store_pull_page(api_app(req)->store, &scope, args->since, args->limit,
                                    write_pull_op, &ops, &info);
                if (r < 0 || info.n_ops > 0 || args->deadline == 0 ||
                    clock_now_usec() >= args->deadline)
                        break;
                free(json_writer_finish(&ops, NULL));
                r = longpoll_wait(api_app(req)->longpoll, req, dev.user_id, dev.vault_id, dev.id,
                                  info.global_sequence, args->deadline, pull_resume);
                if (r != 0) {
                        json_writer_init(&ops, 16);
                        json_writer_begin_array(&ops);
                        break; /* suspended (1) or shutting down */
                }
                /* a push raced the empty read: read again */
        }
        store_device_done(&dev);
        json_writer_end_array(&ops);
        size_t ops_len = 0;
        _cleanup_free_ char *ops_text = json_writer_finish(&ops, &ops_len);
        if (r == 1)
                return 0;
        if (r < 0 && r != -ESHUTDOWN)
                return api_reply_internal(req, r);
        if (!ops_text)
                return api_reply_internal(req, -ENOMEM);
        if (r == -ESHUTDOWN)
                info = (struct store_pull_info){.scope_sequence = info.scope_sequence};

        size_t len = 0;
        char *page = finish_pull(&info, args->since, ops_text, ops_len, &len);
        if (!page)
                return api_reply_internal(req, -ENOMEM);
        struct MHD_Response *resp =
                MHD_create_response_from_buffer(len, page, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                free(page);
                return api_reply_internal(req, -ENOMEM);
        }
        MHD_add_response_header(resp, "Content-Type", "application/json");
        return http_reply_response(req, 200, resp, 0);
}

static int pull_resume(struct http_request *req)
{
        return pull_answer(req, req->args);
}

int api_sync_pull(struct http_request *req)
{
        _cleanup_json_ json_t *root = NULL;
        int64_t since = 0, limit = 0, wait = 0;
        const struct body_field fields[] = {
                {"since_sequence", BODY_INT, &since, NULL},
                {"page_limit", BODY_INT, &limit, NULL},
                {"wait_seconds", BODY_INT, &wait, NULL},
        };
        struct pull_args *args;
        int64_t max_page = (int64_t)api_app(req)->config->limits.max_pull_page;
        int r;

        const struct api_fields spec = {fields, ELEMENTSOF(fields)};

        r = api_fields_parse(req, &spec, &root);
        if (r != 0)
                return api_answered(r);
        if (since < 0 || limit < 0)
                return api_error(req, API_ERR_INVALID_REQUEST,
                                 "since_sequence and page_limit must not be negative");
        if (wait < 0 || wait > PULL_WAIT_MAX)
                return api_error(req, API_ERR_INVALID_REQUEST,
                                 "wait_seconds must be between 0 and 60");

        /* The arguments outlive this call when the request is suspended. */
        args = calloc(1, sizeof(*args));
        if (!args)
                return -ENOMEM;
        req->args = args;
        args->since = since;
        args->limit = (size_t)(limit == 0 || limit > max_page ? max_page : limit);
        args->deadline = wait > 0 ? clock_now_usec() + (uint64_t)wait * 1000000u : 0;
        return pull_answer(req, args);
}

void api_sync_pull_cleanup(struct http_request *req)
{
        longpoll_cancel(api_app(req)->longpoll, req);
}
