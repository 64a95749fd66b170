/* SPDX-License-Identifier: MIT */
/*
 * @brief The operation log endpoints (api.md §4): push with the full
 * validation order, idempotent replay and conflicts; pull with paging and
 * the long poll.  Validation happens here, storage in store/store_ops.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/app.h"
#include "api/handlers.h"
#include "api/longpoll.h"
#include "api/metrics.h"
#include "api/request_slots.h"
#include "store/store_blobs.h"
#include "store/store_ops.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/json_arena.h"
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
static int validate_ops(struct http_request *req, struct json_arena *arena,
                        const struct store_op_in *ops, size_t n)
{
        const struct app *app = api_app(req);

        for (size_t i = 0; i < n; i++) {
                size_t len = strlen(ops[i].payload_json);
                if (len > app->config->limits.max_payload_json)
                        return api_error_answered(req, API_ERR_PAYLOAD_TOO_LARGE,
                                                  "payload_json is too large");
                if (len > 0) {
                        json_t *p = json_arena_loadb(arena, ops[i].payload_json, len,
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
static int validate_blob_refs(struct http_request *req, struct json_arena *arena,
                              const struct store_scope *scope, const struct store_op_in *ops,
                              size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (strcmp(ops[i].entity_type, "file") != 0 || !ops[i].payload_json[0])
                        continue;
                _cleanup_json_ json_t *p =
                        json_arena_loadb(arena, ops[i].payload_json, strlen(ops[i].payload_json),
                                         JSON_DECODE_ANY, NULL);
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

/*
 * A push across its suspension: checked on a worker, handed to the
 * store's writer (store_push_submit()) with the connection suspended, so
 * the worker reads other requests meanwhile, and answered on a worker once
 * the commit that holds it is done (push_committed(), push_answer()).
 * Everything the store reads lives here until the request ends
 * (api_sync_push_cleanup()); a suspended connection does not end.  The
 * body and the payloads checked are parsed into one arena, freed at once.
 */
struct push_state {
        struct json_arena arena;
        json_t *root;
        struct store_op_in *ops;
        struct store_device dev;
        struct store_push push;
        struct store_push_job job;
        int submit_error; /* store_push_submit() refused the job */
        uint64_t started;
};

/* store_push_done_fn, on the store's writer thread. */
static void push_committed(struct store_push_job *job, void *userdata)
{
        (void)job;
        http_request_resume(userdata);
}

/* The resume handler: answer the push's outcome. */
static int push_answer(struct http_request *req)
{
        struct push_state *st = req->state;
        _cleanup_(store_push_result_done) struct store_push_result res = {0};
        int r;

        if (st->submit_error == -EAGAIN) {
                req->log_event = "push_queue_full";
                return api_reply_retry_after(req, API_ERR_UNAVAILABLE,
                                             "too many pushes waiting, try again later",
                                             API_PUSH_RETRY_AFTER);
        }
        r = st->submit_error < 0 ? st->submit_error : store_push_finish(&st->job, &res);
        if (r < 0)
                return api_reply_internal(req, r);
        if (res.replayed) {
                req->log_event = "push_replayed";
                return http_reply_json_raw(req, 200, res.json, strlen(res.json), 0);
        }
        api_metrics_push(api_app(req)->metrics, st->push.n_ops, clock_now_usec() - st->started);
        if (res.n_accepted > 0) {
                atomic_fetch_add_explicit(&api_app(req)->ops_pushed, res.n_accepted,
                                          memory_order_relaxed);
                longpoll_notify(api_app(req)->longpoll, st->dev.user_id, st->dev.vault_id,
                                res.last_sequence);
        }
        return http_reply_json_raw(req, 200, res.json, strlen(res.json), 0);
}

/* Read and check the body into st (api.md §4, in its order). */
static int push_read(struct http_request *req, struct push_state *st)
{
        const char *device_id = NULL, *idem = NULL;
        json_t *ops_json = NULL;
        const struct body_field fields[] = {
                {"device_id", BODY_STRING, &device_id, .max_len = PUSH_KEY_MAX},
                {"idempotency_key", BODY_STRING, &idem, .max_len = PUSH_KEY_MAX},
                {"ops", BODY_ARRAY, &ops_json, NULL},
        };
        const struct api_fields spec = {
                fields, ELEMENTSOF(fields), .too_long = "device_id or idempotency_key is too long",
                .too_long_error = API_ERR_FIELD_TOO_LONG, .arena = &st->arena};
        size_t n;
        int r;

        r = api_storage_check(req, req->body_len);
        if (r != 0)
                return r;
        r = api_fields_parse(req, &spec, &st->root);
        if (r != 0)
                return r;
        n = ops_json ? json_array_size(ops_json) : 0;
        if (n > api_app(req)->config->limits.max_push_operations)
                return api_error_answered(req, API_ERR_TOO_MANY_OPERATIONS, "too many operations");
        st->ops = calloc(n ? n : 1, sizeof(*st->ops));
        if (!st->ops)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = read_op(req, json_array_get(ops_json, i), &st->ops[i]);
                if (r != 0)
                        return r;
        }
        r = validate_ops(req, &st->arena, st->ops, n);
        if (r != 0)
                return r;
        struct store_scope scope = {st->dev.user_id, st->dev.vault_id};
        r = validate_blob_refs(req, &st->arena, &scope, st->ops, n);
        if (r != 0)
                return r;
        st->push = (struct store_push){
                .scope = scope,
                .device_id = st->dev.id,
                .device_ip = req->client_ip,
                /* At most once a minute: a page less to write per commit. */
                .touch_device = api_device_seen_stale(req, &st->dev),
                .idempotency_key = idem,
                .ops = st->ops,
                .n_ops = n,
        };
        return 0;
}

int api_sync_push(struct http_request *req)
{
        struct push_state *st;
        int r;

        st = calloc(1, sizeof(*st));
        if (!st)
                return -ENOMEM;
        req->state = st;
        r = api_device_auth(req, &st->dev, false);
        if (r == 0)
                r = push_read(req, st);
        if (r != 0)
                return api_answered(r);

        st->job =
                (struct store_push_job){.push = &st->push, .done = push_committed, .userdata = req};
        st->started = clock_now_usec();
        /* Suspended before the writer can see the job, so that its
         * resume always follows; a refused job is answered at once. */
        http_request_suspend(req, push_answer);
        st->submit_error = store_push_submit(api_app(req)->store, &st->job);
        if (st->submit_error < 0)
                http_request_resume(req);
        return 0;
}

void api_sync_push_cleanup(struct http_request *req)
{
        struct push_state *st = req->state;

        if (!st)
                return;
        json_arena_release(&st->arena, st->root);
        free(st->ops);
        store_device_done(&st->dev);
        free(st);
        req->state = NULL;
}

/* --- pull ----------------------------------------------------------------- */

/* State of a pull across suspensions. */
struct pull_args {
        int64_t since;
        size_t limit;
        uint64_t deadline; /* 0: no long poll */
        bool touched;      /* last_seen already refreshed by this request */
};

/* A page ends early, with has_more, once its ops would take more than
 * this many bytes of JSON (it always holds at least one op). */
#define PULL_PAGE_MAX_BYTES (1024u * 1024)
/* The size of the pieces the answer is streamed in: libmicrohttpd holds
 * one per connection, resident until the client reads it, so it is kept
 * small (2 000 clients that never read must fit in 64 MB). */
#define PULL_STREAM_BLOCK (4u * 1024)
/*
 * A page of at most PULL_WHOLE_MAX bytes (most pages: 100 ops of a few
 * hundred bytes) is rendered whole while its rows are read and sent from
 * that one buffer: one read of the rows and one write, where streaming it
 * took a read and a write per 4 KiB piece and a second pass to measure it.
 * Such buffers stay resident until their client has read them, so all of
 * them together hold at most PULL_WHOLE_BUDGET bytes; beyond that, and for
 * larger pages, the page is measured and streamed as above.
 */
#define PULL_WHOLE_MAX    (64u * 1024)
#define PULL_WHOLE_BUDGET (8u * 1024 * 1024)
/* Room before the ops for the page's head (pull_head(): three integers). */
#define PULL_HEAD_ROOM 128

/* The text of one op before and after its payload_json value:
 * {"op_id":…,"op_type":"…","payload_json":"  and  ","created_at":"…"}. */
static int op_frame(const struct store_op_view *o, char **ret_pre, size_t *ret_pre_len,
                    char **ret_suf, size_t *ret_suf_len)
{
        struct json_writer pre, suf;

        json_writer_init(&pre, 256 + strlen(o->entity_id));
        json_writer_begin_object(&pre);
        json_writer_member_string(&pre, "op_id", o->op_id);
        json_writer_member_int(&pre, "server_sequence", o->server_sequence);
        json_writer_member_string(&pre, "device_id", o->device_id);
        json_writer_member_string(&pre, "entity_type", o->entity_type);
        json_writer_member_string(&pre, "entity_id", o->entity_id);
        json_writer_member_string(&pre, "op_type", o->op_type);
        json_writer_key(&pre, "payload_json");
        json_writer_raw(&pre, "\"", 1);
        json_writer_init(&suf, 64);
        json_writer_raw(&suf, "\"", 1);
        json_writer_member_string(&suf, "created_at", o->created_at);
        json_writer_end_object(&suf);
        *ret_pre = json_writer_finish(&pre, ret_pre_len);
        *ret_suf = json_writer_finish(&suf, ret_suf_len);
        if (!*ret_pre || !*ret_suf) {
                free(*ret_pre);
                free(*ret_suf);
                *ret_pre = *ret_suf = NULL; /* the caller's cleanup frees them too */
                return -ENOMEM;
        }
        return 0;
}

/* Measuring a page (store_pull_row_fn): its ops' bytes, within the bound. */
struct pull_measure {
        size_t bytes, n;
};

static int measure_op(const struct store_op_view *o, void *userdata)
{
        struct pull_measure *m = userdata;
        _cleanup_free_ char *pre = NULL, *suf = NULL;
        size_t pre_len, suf_len;
        int r = op_frame(o, &pre, &pre_len, &suf, &suf_len);

        if (r < 0)
                return r;
        size_t len = pre_len + json_escaped_len(o->payload_json) + suf_len + (m->n ? 1 : 0);
        if (m->n > 0 && m->bytes + len > PULL_PAGE_MAX_BYTES)
                return 1; /* the page is full: this op starts the next one */
        m->bytes += len;
        m->n++;
        return 0;
}

/* {"server_sequence":…,"page_last_sequence":…,"has_more":…,"ops":[ */
static char *pull_head(const struct store_pull_info *info, int64_t since, size_t *ret_len)
{
        struct json_writer w;

        json_writer_init(&w, 128);
        json_writer_begin_object(&w);
        json_writer_member_int(&w, "server_sequence", info->scope_sequence);
        json_writer_member_int(&w, "page_last_sequence", info->n_ops ? info->last_sequence : since);
        json_writer_key(&w, "has_more");
        json_writer_bool(&w, info->has_more);
        json_writer_key(&w, "ops");
        json_writer_raw(&w, "[", 1);
        return json_writer_finish(&w, ret_len);
}

/*
 * A page streamed from the rows: the answer is produced a piece at a time
 * as libmicrohttpd sends it, so a connection holds at most one piece of
 * it, however large the payloads and however slowly the client reads.
 * Each piece reads the ops after the last one sent (store_pull_range());
 * an op longer than a piece is resumed where it stopped, reading only the
 * part of its payload the piece can take (escaping never shrinks text).
 */
struct pull_stream {
        struct store *store;
        char *user_id, *vault_id;
        int64_t cursor; /* the last op sent whole */
        int64_t upto;   /* the page's last op */
        char *head;
        size_t head_len, head_off, tail_off;
        bool sent_one; /* an op went out: the next needs a comma */
        /* The op being sent: its sequence (0: none), part and offset. */
        int64_t op_seq;
        enum { PART_COMMA, PART_PRE, PART_PAYLOAD, PART_SUF } part;
        size_t off;
        /* The piece being filled. */
        char *out;
        size_t len, max;
        /* The device's pull slot, given back when the answer is done. */
        struct request_slots *slots;
        struct request_slot *slot;
};

static void pull_stream_free(void *cls)
{
        struct pull_stream *st = cls;

        if (!st)
                return;
        request_slots_release(st->slots, st->slot);
        free(st->user_id);
        free(st->vault_id);
        free(st->head);
        free(st);
}

/* Copy what is left of src[*off..len) into the piece; true once all is. */
static bool stream_put(struct pull_stream *st, const char *src, size_t len, size_t *off)
{
        size_t n = len - *off;

        if (n > st->max - st->len)
                n = st->max - st->len;
        memcpy(st->out + st->len, src + *off, n);
        st->len += n;
        *off += n;
        return *off == len;
}

/* store_pull_row_fn: put as much of op o as fits; 1 once the piece is full. */
static int stream_op(const struct store_op_view *o, void *userdata)
{
        struct pull_stream *st = userdata;
        _cleanup_free_ char *pre = NULL, *suf = NULL;
        size_t pre_len, suf_len;

        if (st->op_seq != o->server_sequence) {
                st->op_seq = o->server_sequence;
                st->part = st->sent_one ? PART_COMMA : PART_PRE;
                st->off = 0;
        }
        if (op_frame(o, &pre, &pre_len, &suf, &suf_len) < 0)
                return -ENOMEM;
        switch (st->part) {
        case PART_COMMA:
                if (!stream_put(st, ",", 1, &st->off))
                        return 1;
                st->part = PART_PRE;
                st->off = 0;
                /* fall through */
        case PART_PRE:
                if (!stream_put(st, pre, pre_len, &st->off))
                        return 1;
                st->part = PART_PAYLOAD;
                st->off = 0;
                /* fall through */
        case PART_PAYLOAD: {
                /* off counts the payload's bytes sent; o may hand a piece
                 * of the payload that starts at payload_at (== off). */
                size_t pos = st->off - (size_t)o->payload_at;
                st->len += json_escape_some(o->payload_json, &pos, st->out + st->len,
                                            st->max - st->len);
                st->off = (size_t)o->payload_at + pos;
                if (o->payload_json[pos] || o->payload_cut)
                        return 1;
                st->part = PART_SUF;
                st->off = 0;
                /* fall through */
        case PART_SUF:
                if (!stream_put(st, suf, suf_len, &st->off))
                        return 1;
        }
        }
        st->cursor = o->server_sequence;
        st->op_seq = 0;
        st->sent_one = true;
        return st->len == st->max ? 1 : 0;
}

static ssize_t pull_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
        struct pull_stream *st = cls;
        const struct store_scope scope = {st->user_id, st->vault_id};
        (void)pos;

        st->out = buf;
        st->len = 0;
        st->max = max;
        if (!stream_put(st, st->head, st->head_len, &st->head_off))
                return (ssize_t)st->len;
        if (st->cursor < st->upto) {
                /* An op stopped inside its payload goes on from there: only
                 * as much of it is read as the piece can take. */
                char piece[PULL_STREAM_BLOCK + 1];
                struct store_pull_resume resume = {
                        .seq = st->op_seq,
                        .at = st->off,
                        .buf = piece,
                        .max = st->max - st->len,
                };
                if (resume.max > sizeof(piece) - 1)
                        resume.max = sizeof(piece) - 1;
                bool resuming = st->op_seq != 0 && st->part == PART_PAYLOAD;
                if (store_pull_range(st->store, &scope, st->cursor, st->upto,
                                     resuming ? &resume : NULL, stream_op, st) < 0)
                        return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (st->cursor >= st->upto)
                (void)stream_put(st, "]}", 2, &st->tail_off);
        if (st->len > 0)
                return (ssize_t)st->len;
        /* Nothing more: the page is complete, or its ops are gone (a user
         * deleted meanwhile): the declared length cannot be met. */
        return st->tail_off == 2 ? MHD_CONTENT_READER_END_OF_STREAM
                                 : MHD_CONTENT_READER_END_WITH_ERROR;
}

/* Answer a measured page of n_ops > 0 ops, bytes long, as a stream.  The
 * stream takes the device's pull slot, and gives it back once it is done. */
static int reply_pull_stream(struct http_request *req, const struct store_scope *scope,
                             const struct store_pull_info *info, int64_t since, size_t bytes,
                             struct request_slot *slot)
{
        struct pull_stream *st = calloc(1, sizeof(*st));
        struct MHD_Response *resp;

        if (!st) {
                request_slots_release(api_app(req)->pulls, slot);
                return -ENOMEM;
        }
        st->slots = api_app(req)->pulls;
        st->slot = slot;
        st->store = api_app(req)->store;
        st->user_id = strdup(scope->user_id);
        st->vault_id = strdup(scope->vault_id);
        st->head = pull_head(info, since, &st->head_len);
        st->cursor = since;
        st->upto = info->last_sequence;
        if (!st->user_id || !st->vault_id || !st->head) {
                pull_stream_free(st);
                return -ENOMEM;
        }
        resp = MHD_create_response_from_callback(st->head_len + bytes + 2, PULL_STREAM_BLOCK,
                                                 pull_stream_read, st, pull_stream_free);
        if (!resp) {
                pull_stream_free(st);
                return -ENOMEM;
        }
        MHD_add_response_header(resp, "Content-Type", "application/json");
        return http_reply_response(req, 200, resp, 0);
}

/*
 * A page rendered whole (PULL_WHOLE_MAX): the buffer, its share of the
 * budget and the device's pull slot, all given back once libmicrohttpd
 * has sent it (pull_whole_free()).  text holds PULL_HEAD_ROOM bytes for
 * the head, then the ops, then "]}".
 */
struct pull_whole {
        atomic_size_t *budget;
        size_t reserved;
        struct request_slots *slots;
        struct request_slot *slot;
        size_t len; /* of the ops written after the head room */
        bool over;  /* the page would not fit: measure and stream it */
        char text[];
};

static void pull_whole_free(void *cls)
{
        struct pull_whole *pw = cls;

        if (!pw)
                return;
        atomic_fetch_sub_explicit(pw->budget, pw->reserved, memory_order_relaxed);
        request_slots_release(pw->slots, pw->slot);
        free(pw);
}

/* A buffer for a whole page, if the budget has room for it (else NULL). */
static struct pull_whole *pull_whole_new(struct app *app)
{
        size_t size = sizeof(struct pull_whole) + PULL_HEAD_ROOM + PULL_WHOLE_MAX + 2;
        size_t held = atomic_fetch_add_explicit(&app->pull_whole_bytes, size, memory_order_relaxed);
        struct pull_whole *pw = NULL;

        if (held + size <= PULL_WHOLE_BUDGET)
                pw = malloc(size);
        if (!pw) {
                atomic_fetch_sub_explicit(&app->pull_whole_bytes, size, memory_order_relaxed);
                return NULL;
        }
        *pw = (struct pull_whole){
                .budget = &app->pull_whole_bytes, .reserved = size, .slots = app->pulls};
        return pw;
}

/* store_pull_row_fn: append op o to the whole page, or give up on it
 * (over) once the page would outgrow PULL_WHOLE_MAX. */
static int render_op(const struct store_op_view *o, void *userdata)
{
        struct pull_whole *pw = userdata;
        _cleanup_free_ char *pre = NULL, *suf = NULL;
        size_t pre_len, suf_len, pos = 0;
        int r = op_frame(o, &pre, &pre_len, &suf, &suf_len);

        if (r < 0)
                return r;
        size_t payload_len = json_escaped_len(o->payload_json);
        size_t comma = pw->len > 0 ? 1 : 0;
        if (comma + pre_len + payload_len + suf_len > PULL_WHOLE_MAX - pw->len) {
                pw->over = true;
                return 1;
        }
        char *out = pw->text + PULL_HEAD_ROOM + pw->len;
        memcpy(out, ",", comma);
        memcpy(out + comma, pre, pre_len);
        out += comma + pre_len;
        if (json_escape_some(o->payload_json, &pos, out, payload_len) != payload_len ||
            o->payload_json[pos] || o->payload_cut)
                return -EIO; /* json_escaped_len() and the escape disagree */
        memcpy(out + payload_len, suf, suf_len);
        pw->len += comma + pre_len + payload_len + suf_len;
        return 0;
}

/* Answer the page rendered in pw (it takes pw, and with it the slot). */
static int reply_pull_whole(struct http_request *req, struct pull_whole *pw,
                            const struct store_pull_info *info, int64_t since)
{
        size_t head_len;
        _cleanup_free_ char *head = pull_head(info, since, &head_len);
        struct MHD_Response *resp;

        if (!head || head_len > PULL_HEAD_ROOM) {
                pull_whole_free(pw);
                return -ENOMEM;
        }
        char *start = pw->text + PULL_HEAD_ROOM - head_len;
        memcpy(start, head, head_len);
        memcpy(pw->text + PULL_HEAD_ROOM + pw->len, "]}", 2);
        resp = MHD_create_response_from_buffer_with_free_callback_cls(head_len + pw->len + 2, start,
                                                                      pull_whole_free, pw);
        if (!resp) {
                pull_whole_free(pw);
                return -ENOMEM;
        }
        MHD_add_response_header(resp, "Content-Type", "application/json");
        return http_reply_response(req, 200, resp, 0);
}

/* Read the page after args->since: whole into *ret_whole when it fits and
 * the budget allows, else measured into *m for streaming. */
static int pull_read_page(struct http_request *req, const struct store_scope *scope,
                          const struct pull_args *args, struct pull_whole **ret_whole,
                          struct pull_measure *m, struct store_pull_info *info)
{
        struct store *store = api_app(req)->store;
        struct pull_whole *pw = pull_whole_new(api_app(req));
        int r;

        *ret_whole = NULL;
        if (pw) {
                r = store_pull_page(store, scope, args->since, args->limit, render_op, pw, info);
                if (r < 0 || !pw->over) {
                        if (r < 0 || info->n_ops == 0)
                                pull_whole_free(pw);
                        else
                                *ret_whole = pw;
                        return r;
                }
                pull_whole_free(pw);
        }
        *m = (struct pull_measure){0};
        return store_pull_page(store, scope, args->since, args->limit, measure_op, m, info);
}

static int pull_resume(struct http_request *req);

/* A slot among the pulls of this device being measured or sent, else 429
 * rate_limited (BODY_ANSWERED): one device (one token) cannot make the
 * daemon build and hold hundreds of pages at once, while what a client
 * does, a pull or two and a long poll, never comes near the limit.  A long
 * poll that was woken has waited already: it is counted, never refused. */
static int pull_slot_take(struct http_request *req, const struct store_device *dev, bool woken,
                          struct request_slot **ret)
{
        const struct config *cfg = api_app(req)->config;
        unsigned max = woken ? UINT_MAX : (unsigned)cfg->limits.max_pulls_per_device;
        int r = request_slots_take(api_app(req)->pulls, dev->id, "", max, UINT_MAX, ret);

        if (r != -EBUSY)
                return r;
        req->log_event = "too_many_pulls";
        r = api_reply_retry_after(req, API_ERR_RATE_LIMITED,
                                  "too many pulls at once for this device; wait for one to finish",
                                  1);
        return r < 0 ? r : BODY_ANSWERED;
}

/* Measure a page; answer it, or suspend when empty and a wait is pending
 * (woken: called again once a push woke the wait). */
static int pull_answer(struct http_request *req, struct pull_args *args, bool woken)
{
        _cleanup_(store_device_done) struct store_device dev = {0};
        struct store_pull_info info = {0};
        struct pull_measure m = {0};
        struct pull_whole *whole = NULL;
        int r;

        r = api_device_auth(req, &dev, !args->touched);
        args->touched = true;
        if (r != 0)
                return api_answered(r);
        struct store_scope scope = {dev.user_id, dev.vault_id};
        struct request_slot *slot = NULL;
        for (;;) {
                r = pull_slot_take(req, &dev, woken, &slot);
                if (r != 0)
                        return api_answered(r);
                r = pull_read_page(req, &scope, args, &whole, &m, &info);
                if (r < 0 || info.n_ops > 0 || args->deadline == 0 ||
                    clock_now_usec() >= args->deadline)
                        break;
                /* A held long poll takes no slot. */
                request_slots_release(api_app(req)->pulls, slot);
                slot = NULL;
                r = longpoll_wait(api_app(req)->longpoll, req, dev.user_id, dev.vault_id, dev.id,
                                  info.global_sequence, args->deadline, pull_resume);
                if (r != 0)
                        break; /* suspended (1) or shutting down */
                /* a push raced the empty read: read again */
                woken = true;
        }
        if (r >= 0 && info.n_ops > 0) {
                api_metrics_add(api_app(req)->metrics, API_METRIC_OPS_PULLED, info.n_ops);
                if (whole) {
                        whole->slot = slot;
                        r = reply_pull_whole(req, whole, &info, args->since);
                } else
                        r = reply_pull_stream(req, &scope, &info, args->since, m.bytes, slot);
                return r < 0 ? api_reply_internal(req, r) : 0;
        }
        request_slots_release(api_app(req)->pulls, slot);
        if (r == 1)
                return 0;
        if (r < 0 && r != -ESHUTDOWN)
                return api_reply_internal(req, r);
        if (r == -ESHUTDOWN)
                info = (struct store_pull_info){.scope_sequence = info.scope_sequence};

        size_t len = 0;
        _cleanup_free_ char *head = pull_head(&info, args->since, &len);
        if (!head)
                return api_reply_internal(req, -ENOMEM);
        char page[256];
        if (len + 3 > sizeof(page))
                return api_reply_internal(req, -ENOMEM);
        memcpy(page, head, len);
        memcpy(page + len, "]}", 3);
        return http_reply_json_raw(req, 200, page, len + 2, 0);
}

static int pull_resume(struct http_request *req)
{
        return pull_answer(req, req->args, true);
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
        return pull_answer(req, args, false);
}

void api_sync_pull_cleanup(struct http_request *req)
{
        longpoll_cancel(api_app(req)->longpoll, req);
}
