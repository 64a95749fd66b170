/* SPDX-License-Identifier: MIT */
/*
 * @brief The blob endpoints (api.md §5): a streamed multipart upload into
 * the content-addressed store, with size limit and quotas, and scoped
 * downloads with single ranges, sent from the file descriptor.
 *
 * No SQL here (store/store_blobs.c) and no paths (blob/blob_store.c).
 * libmicrohttpd cannot answer in the middle of a request body, so an
 * upload rejected mid-body (too large, malformed) drops its file at once,
 * reads and discards at most UPLOAD_DISCARD_MAX more, and answers at the
 * end of the body; a client that keeps sending is disconnected.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "api/app.h"
#include "api/health.h"
#include "api/blob_gc.h"
#include "api/handlers.h"
#include "api/request_slots.h"
#include "api/metrics.h"
#include "blob/blob_store.h"
#include "http/multipart.h"
#include "http/range.h"
#include "store/store_blobs.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/text.h"

/* A reference's last_accessed is rewritten at most this often (seconds),
 * so downloads do not cost a database write each. */
#define BLOB_ACCESS_GRANULARITY 60
/* After an upload is rejected mid-body, at most this many more bytes are
 * read (and dropped) so that the client still receives the answer; a
 * client sending more is disconnected. */
#define UPLOAD_DISCARD_MAX (4u * 1024 * 1024)
/* The form field that carries the file (api.md §5). */
#define UPLOAD_FIELD "file"

/* --- upload -------------------------------------------------------------------- */

struct upload {
        struct http_request *req;
        struct store_device dev;
        struct multipart_parser *mp;
        struct blob_upload *blob;
        struct request_slot *slot; /* held while the upload runs */
        /* Content-Length already exceeds the remaining quota: only a blob
         * the scope holds can succeed, so the body is hashed, not stored. */
        bool hash_only;
        bool part_seen;
        crypto_hash_sha256_state hash;
        uint64_t hashed;
        /* The answer once the upload is rejected (message NULL: not rejected). */
        enum api_error error;
        const char *message;
        uint64_t discarded;
};

/* Decide the rejection (the first one wins) and drop the file now. */
static int upload_reject(struct upload *up, enum api_error e, const char *message)
{
        if (!up->message) {
                up->error = e;
                up->message = message;
        }
        blob_upload_free(TAKE_PTR(up->blob));
        return -EPROTO;
}

/* Map an error of the parser, a callback or the file to the answer. */
static void upload_fail(struct upload *up, int r)
{
        if (up->message)
                return;
        if (r == -EBADMSG)
                (void)upload_reject(up, API_ERR_INVALID_MULTIPART, "malformed multipart body");
        else if (r == -EFBIG)
                (void)upload_reject(up, API_ERR_BLOB_TOO_LARGE, "blob too large");
        else if (r == -ENOSPC || r == -EDQUOT) {
                health_monitor_kick(api_app(up->req)->health);
                (void)upload_reject(up, API_ERR_INSUFFICIENT_STORAGE,
                                    "not enough free space on the server");
        } else {
                log_error_errno(r, "Cannot store an upload: %m");
                (void)upload_reject(up, API_ERR_INTERNAL, "internal server error");
        }
}

static int on_part_begin(void *userdata, unsigned index, const char *name, const char *filename)
{
        struct upload *up = userdata;
        struct app *app = api_app(up->req);

        if (index > 0)
                return upload_reject(up, API_ERR_INVALID_MULTIPART, "exactly one part is allowed");
        if (!name || strcmp(name, UPLOAD_FIELD) != 0)
                return upload_reject(up, API_ERR_INVALID_MULTIPART, "the part must be named file");
        if (!filename)
                return upload_reject(up, API_ERR_INVALID_MULTIPART,
                                     "the file part needs a filename");
        up->part_seen = true;
        if (up->hash_only)
                return crypto_hash_sha256_init(&up->hash) == 0 ? 0 : -EIO;
        return blob_upload_new(app->blobs, app->config->limits.max_blob_bytes, &up->blob);
}

static int on_part_data(void *userdata, const char *data, size_t len)
{
        struct upload *up = userdata;

        if (up->hash_only) {
                up->hashed += len;
                if (up->hashed > api_app(up->req)->config->limits.max_blob_bytes)
                        return -EFBIG;
                return crypto_hash_sha256_update(&up->hash, (const unsigned char *)data, len) == 0
                               ? 0
                               : -EIO;
        }
        return up->blob ? blob_upload_write(up->blob, data, len) : -EINVAL;
}

static const struct multipart_callbacks upload_callbacks = {
        .part_begin = on_part_begin,
        .part_data = on_part_data,
};

/* A slot among the uploads running for this user and this client address,
 * else 429 too_many_uploads at once (before any byte is stored). */
static int upload_slot_take(struct http_request *req, struct upload *up)
{
        const struct config *cfg = api_app(req)->config;
        char client[API_CLIENT_KEY_SIZE];
        int r;

        api_client_key(req, client);
        r = request_slots_take(api_app(req)->uploads, up->dev.user_id, client,
                               (unsigned)cfg->limits.max_uploads_per_user,
                               (unsigned)cfg->limits.max_uploads_per_client, &up->slot);
        if (r != -EBUSY)
                return r;
        req->log_event = "too_many_uploads";
        return api_reply_retry_after(req, API_ERR_TOO_MANY_UPLOADS,
                                     "too many uploads at once; wait for one to finish", 1);
}

/* Whether a body of Content-Length bytes holds a blob larger than what is
 * left of the scope's or the user's quota. */
static int over_quota(struct http_request *req, struct upload *up, bool *ret)
{
        const struct config *cfg = api_app(req)->config;
        const struct store_scope scope = {up->dev.user_id, up->dev.vault_id};
        struct store_blob_usage vault, user;
        uint64_t least, left_vault, left_user;
        int r;

        *ret = false;
        if (!req->has_content_length || req->content_length <= MULTIPART_OVERHEAD_MAX)
                return 0;
        least = req->content_length - MULTIPART_OVERHEAD_MAX;
        r = store_blob_usage_scope(api_app(req)->store, &scope, &vault);
        if (r >= 0)
                r = store_blob_usage_user(api_app(req)->store, up->dev.user_id, &user);
        if (r < 0)
                return r;
        left_vault = (uint64_t)vault.bytes < cfg->limits.max_vault_blob_bytes
                             ? cfg->limits.max_vault_blob_bytes - (uint64_t)vault.bytes
                             : 0;
        left_user = (uint64_t)user.bytes < cfg->limits.max_user_blob_bytes
                            ? cfg->limits.max_user_blob_bytes - (uint64_t)user.bytes
                            : 0;
        *ret = least > left_vault || least > left_user;
        return 0;
}

/* The end of a hash-only upload: the scope's own blob again is the usual
 * no-op success; anything else would have exceeded the quota. */
static int upload_hash_only_finish(struct http_request *req, struct upload *up)
{
        const struct store_scope scope = {up->dev.user_id, up->dev.vault_id};
        unsigned char digest[crypto_hash_sha256_BYTES];
        char sha256[BLOB_HASH_HEX + 1];
        int64_t size;
        int r;

        if (crypto_hash_sha256_final(&up->hash, digest) != 0)
                return api_reply_internal(req, -EIO);
        hex_encode(digest, sizeof(digest), sha256);
        r = store_blob_ref_size(api_app(req)->store, &scope, sha256, &size);
        if (r == -ENOENT || (r >= 0 && (uint64_t)size != up->hashed)) {
                req->log_event = "blob_quota_exceeded_unstored";
                return api_error(req, API_ERR_QUOTA_EXCEEDED, "blob quota exceeded");
        }
        if (r < 0)
                return api_reply_internal(req, r);
        req->log_event = "blob_upload_repeated";
        return http_reply_json(
                req, 200, json_pack("{s:s,s:I}", "sha256", sha256, "size", (json_int_t)size), 0);
}

int api_blobs_upload_begin(struct http_request *req)
{
        const struct config *cfg = api_app(req)->config;
        struct upload *up;
        int r;

        up = calloc(1, sizeof(*up));
        if (!up)
                return -ENOMEM;
        up->req = req;
        req->state = up;

        /* Before a byte of the body is read: 401/403 go out at once. */
        r = api_device_auth(req, &up->dev, true);
        if (r != 0)
                return api_answered(r);
        r = upload_slot_take(req, up);
        if (r != 0)
                return api_answered(r);
        r = multipart_parser_new(http_header(req, "Content-Type"), &upload_callbacks, up, &up->mp);
        if (r == -EINVAL)
                return api_error(req, API_ERR_INVALID_MULTIPART,
                                 "request must be multipart/form-data");
        if (r < 0)
                return r;
        if (req->has_content_length &&
            req->content_length > cfg->limits.max_blob_bytes + MULTIPART_OVERHEAD_MAX)
                return api_error(req, API_ERR_BLOB_TOO_LARGE, "blob too large");
        r = over_quota(req, up, &up->hash_only);
        if (r < 0)
                return r;
        if (up->hash_only)
                return 0; /* nothing is stored */
        /* The declared size must fit above the reserve; a chunked body is
         * checked against the reserve alone. */
        r = api_storage_check(req, req->has_content_length ? req->content_length : 0);
        if (r != 0)
                return api_answered(r);
        return 0;
}

int api_blobs_upload_data(struct http_request *req, const char *data, size_t len)
{
        struct upload *up = req->state;
        int r;

        if (!up || !up->mp)
                return -EINVAL;
        if (up->message) {
                up->discarded += len;
                return up->discarded > UPLOAD_DISCARD_MAX ? -EFBIG : 0;
        }
        r = multipart_parser_feed(up->mp, data, len);
        if (r < 0)
                upload_fail(up, r);
        return 0;
}

/* The body is complete and valid: make the file durable, then reference it. */
static int upload_commit(struct http_request *req, struct upload *up)
{
        struct app *app = api_app(req);
        const struct store_scope scope = {up->dev.user_id, up->dev.vault_id};
        const struct store_blob_quota quota = {app->config->limits.max_vault_blob_bytes,
                                               app->config->limits.max_user_blob_bytes};
        char sha256[BLOB_HASH_HEX + 1];
        uint64_t size = blob_upload_size(up->blob);
        int r;

        r = blob_upload_finish(up->blob, sha256);
        if (r < 0)
                return api_reply_internal(req, r);
        r = blob_upload_commit(up->blob);
        if (r >= 0)
                r = store_blob_ref_add(app->store, &scope, up->dev.id, sha256, (int64_t)size,
                                       &quota);
        if (r < 0) {
                int d = blob_upload_discard(up->blob, blob_gc_unused, app->store);
                if (d < 0)
                        log_warning_errno(d, "Cannot remove the unreferenced blob %s: %m", sha256);
                if (r == -EDQUOT)
                        return api_error(req, API_ERR_QUOTA_EXCEEDED, "blob quota exceeded");
                /* Revoked (or blocked) while the body was arriving. */
                if (r == -EKEYREVOKED)
                        return api_error(req, API_ERR_UNAUTHORIZED, "device revoked");
                if (r == -EPERM)
                        return api_error(req, API_ERR_FORBIDDEN, "user blocked");
                return api_reply_internal(req, r);
        }
        req->log_event = r > 0 ? "blob_uploaded" : "blob_upload_repeated";
        api_metrics_add(app->metrics, API_METRIC_BLOB_BYTES_IN, size);
        return http_reply_json(
                req, 200, json_pack("{s:s,s:I}", "sha256", sha256, "size", (json_int_t)size), 0);
}

int api_blobs_upload(struct http_request *req)
{
        struct upload *up = req->state;
        int r;

        if (!up || !up->mp)
                return -EINVAL;
        if (!up->message) {
                r = multipart_parser_finish(up->mp);
                if (r < 0)
                        upload_fail(up, r);
                else if (!up->part_seen)
                        (void)upload_reject(up, API_ERR_INVALID_MULTIPART, "no file part");
        }
        if (up->message)
                return api_error(req, up->error, up->message);
        if (up->hash_only)
                return upload_hash_only_finish(req, up);
        return upload_commit(req, up);
}

void api_blobs_upload_cleanup(struct http_request *req)
{
        struct upload *up = req->state;

        if (!up)
                return;
        multipart_parser_free(up->mp);
        blob_upload_free(up->blob); /* an unfinished upload leaves no file */
        request_slots_release(api_app(req)->uploads, up->slot);
        store_device_done(&up->dev);
        free(up);
        req->state = NULL;
}

/* --- download ------------------------------------------------------------------ */

/* Answer 416 with the size the ranges should have been within. */
static int reply_unsatisfiable(struct http_request *req, uint64_t size)
{
        char range[48];
        struct MHD_Response *resp =
                api_error_response(API_ERR_RANGE_NOT_SATISFIABLE, "range not satisfiable");

        if (!resp)
                return -ENOMEM;
        snprintf(range, sizeof(range), "bytes */%" PRIu64, size);
        MHD_add_response_header(resp, "Content-Range", range);
        return http_reply_response(req, api_error_status(API_ERR_RANGE_NOT_SATISFIABLE), resp, 0);
}

/* The blob's bytes [start, start+len) from fd (taken over: MHD closes it
 * once sent), by sendfile() where the platform allows. */
static int reply_blob(struct http_request *req, const char *sha256, int fd, uint64_t size,
                      uint64_t start, uint64_t len, bool partial)
{
        char disposition[BLOB_HASH_HEX + 40], etag[BLOB_HASH_HEX + 3], range[80];
        struct MHD_Response *resp;

        if (len > 0)
                resp = MHD_create_response_from_fd_at_offset64(len, fd, start);
        else {
                resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
                (void)close(fd);
                fd = -1;
        }
        if (!resp) {
                if (fd >= 0)
                        (void)close(fd);
                return -ENOMEM;
        }
        snprintf(disposition, sizeof(disposition), "attachment; filename=\"%s\"", sha256);
        snprintf(etag, sizeof(etag), "\"%s\"", sha256);
        MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
        MHD_add_response_header(resp, "Content-Disposition", disposition);
        MHD_add_response_header(resp, "Accept-Ranges", "bytes");
        MHD_add_response_header(resp, "ETag", etag);
        if (partial) {
                snprintf(range, sizeof(range), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, start,
                         start + len - 1, size);
                MHD_add_response_header(resp, "Content-Range", range);
        }
        api_metrics_add(api_app(req)->metrics, API_METRIC_BLOB_BYTES_OUT, len);
        return http_reply_response(req, partial ? 206 : 200, resp, HTTP_REPLY_NO_STORE);
}

/* The Range header to honour: none when If-Range names another version
 * (the ETag is the content hash, so only a mismatch can say so). */
static const char *effective_range(struct http_request *req, const char *sha256)
{
        const char *if_range = http_header(req, "If-Range");
        const char *range = http_header(req, "Range");

        if (range && if_range) {
                size_t n = strlen(if_range);
                if (n != BLOB_HASH_HEX + 2 || if_range[0] != '"' ||
                    strncmp(if_range + 1, sha256, BLOB_HASH_HEX) != 0 || if_range[n - 1] != '"')
                        return NULL;
        }
        return range;
}

static int download(struct http_request *req, const struct store_device *dev, const char *sha256)
{
        struct app *app = api_app(req);
        const struct store_scope scope = {dev->user_id, dev->vault_id};
        uint64_t start = 0, len;
        time_t last_accessed = 0;
        int64_t size;
        int fd = -1, r;

        if (!hex_is_lower(sha256, BLOB_HASH_HEX))
                return api_error(req, API_ERR_INVALID_BLOB_HASH,
                                 "blob hash must be 64 lower-case hex digits");
        r = store_blob_ref_get(app->store, &scope, sha256, &size, &last_accessed);
        if (r == -ENOENT)
                return api_error(req, API_ERR_BLOB_NOT_FOUND, "blob not found");
        if (r < 0)
                return api_reply_internal(req, r);
        r = blob_store_open_blob(app->blobs, sha256, (uint64_t)size, &fd);
        if (r == -ENOENT) {
                log_warning("Blob %s is referenced but missing from the blob directory", sha256);
                return api_error(req, API_ERR_BLOB_NOT_FOUND, "blob not found");
        }
        if (r == -EUCLEAN) {
                log_error("Blob %s does not have its recorded size on disk", sha256);
                return api_error(req, API_ERR_BLOB_UNAVAILABLE, "blob unavailable");
        }
        if (r < 0)
                return api_reply_internal(req, r);

        if (time(NULL) - last_accessed >= BLOB_ACCESS_GRANULARITY) {
                int t = store_blob_ref_touch(app->store, &scope, sha256);
                if (t < 0)
                        log_warning_errno(t, "Cannot update a blob's last access time: %m");
        }

        len = (uint64_t)size;
        switch (http_range_parse(effective_range(req, sha256), (uint64_t)size, &start, &len)) {
        case HTTP_RANGE_UNSATISFIABLE:
                (void)close(fd);
                return reply_unsatisfiable(req, (uint64_t)size);
        case HTTP_RANGE_PARTIAL:
                return reply_blob(req, sha256, fd, (uint64_t)size, start, len, true);
        default:
                return reply_blob(req, sha256, fd, (uint64_t)size, 0, (uint64_t)size, false);
        }
}

int api_blobs_download(struct http_request *req)
{
        struct store_device dev = {0};
        int r;

        r = api_device_auth(req, &dev, true);
        if (r != 0)
                return api_answered(r);
        r = download(req, &dev, req->params[0]);
        store_device_done(&dev);
        return r;
}
