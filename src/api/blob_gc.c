/* SPDX-License-Identifier: MIT */
/* Implementation of api/blob_gc.h. */
#include "api/blob_gc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "blob/blob_store.h"
#include "store/store_blobs.h"
#include "util/cleanup.h"

struct candidate {
        char sha256[BLOB_HASH_HEX + 1];
        uint64_t size; /* of the file; 0 when only a row was found */
};

struct gc_ctx {
        struct store *store;
        bool collect; /* build the candidate list, not only count */
        struct candidate *items;
        size_t n, cap;
        struct blob_orphans orphans;
        uint64_t rows_removed;
};

int blob_gc_unused(void *store, const char *sha256)
{
        return store_blob_forget_unreferenced(store, sha256, NULL);
}

/* blob_unused_fn for collection: forget the row, counting it. */
static int gc_unused(void *userdata, const char *sha256)
{
        struct gc_ctx *ctx = userdata;
        bool row = false;
        int r;

        r = store_blob_forget_unreferenced(ctx->store, sha256, &row);
        if (r > 0 && row)
                ctx->rows_removed++;
        return r;
}

static int add_candidate(struct gc_ctx *ctx, const char *sha256, uint64_t size)
{
        if (ctx->n == ctx->cap) {
                size_t cap = ctx->cap ? ctx->cap * 2 : 64;
                struct candidate *n = realloc(ctx->items, cap * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                ctx->items = n;
                ctx->cap = cap;
        }
        memcpy(ctx->items[ctx->n].sha256, sha256, BLOB_HASH_HEX + 1);
        ctx->items[ctx->n].size = size;
        ctx->n++;
        return 0;
}

/* blob_scan_fn: note every file without a reference. */
static int on_file(void *userdata, const char *sha256, uint64_t size)
{
        struct gc_ctx *ctx = userdata;
        int r = store_blob_is_referenced(ctx->store, sha256);

        if (r != 0)
                return r < 0 ? r : 0;
        ctx->orphans.files++;
        ctx->orphans.bytes += size;
        return ctx->collect ? add_candidate(ctx, sha256, size) : 0;
}

int blob_gc_count_orphans(struct store *s, struct blob_store *bs, struct blob_orphans *ret)
{
        struct gc_ctx ctx = {.store = s};
        int r;

        r = blob_store_scan(bs, on_file, &ctx);
        if (r < 0)
                return r;
        *ret = ctx.orphans;
        return 0;
}

/* Candidates: orphan files, then rows without a reference (whose file,
 * if any, was listed already: its second removal finds nothing). */
static int find_candidates(struct gc_ctx *ctx, struct blob_store *bs)
{
        _cleanup_free_ char(*rows)[65] = NULL;
        size_t n_rows = 0;
        int r;

        r = blob_store_scan(bs, on_file, ctx);
        if (r < 0)
                return r;
        r = store_blob_list_unreferenced(ctx->store, &rows, &n_rows);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_rows; i++) {
                r = add_candidate(ctx, rows[i], 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

int blob_gc_run(struct store *s, struct blob_store *bs, struct blob_gc_result *ret)
{
        struct gc_ctx ctx = {.store = s, .collect = true};
        struct blob_gc_result res = {0};
        int r;

        r = find_candidates(&ctx, bs);
        for (size_t i = 0; r >= 0 && i < ctx.n; i++) {
                r = blob_store_remove_unused(bs, ctx.items[i].sha256, gc_unused, &ctx);
                if (r > 0) {
                        res.files_removed++;
                        res.bytes_freed += ctx.items[i].size;
                } else if (r == 0 && ctx.items[i].size > 0)
                        res.kept++;
        }
        free(ctx.items);
        if (r < 0)
                return r;
        res.rows_removed = ctx.rows_removed;
        *ret = res;
        return 0;
}
