/* SPDX-License-Identifier: MIT */
/* Implementation of store/store_blobs.h. */
#include "store/store_blobs.h"

#include <errno.h>

#include "store/store_internal.h"

/* Callers: store_blob_ref_size (push-time blob reference checks). */
static const char sql_ref_size[] =
        "SELECT size FROM server_blob_refs WHERE user_id = ?1 AND vault_id = ?2 AND sha256 = ?3";

int store_blob_ref_size(struct store *s, const struct store_scope *scope, const char *sha256,
                        int64_t *ret_size)
{
        struct store_conn *c;
        int r;

        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        {
                _cleanup_stmt_ sqlite3_stmt *st = store_stmt(c, sql_ref_size);
                if (!st)
                        r = -EIO;
                else {
                        store_bind_text(st, 1, scope->user_id);
                        store_bind_text(st, 2, scope->vault_id);
                        store_bind_text(st, 3, sha256);
                        int rc = sqlite3_step(st);
                        if (rc == SQLITE_ROW) {
                                *ret_size = sqlite3_column_int64(st, 0);
                                r = 0;
                        } else
                                r = rc == SQLITE_DONE ? -ENOENT : store_errno(c, rc, "blob ref");
                }
        }
        store_read_end(s, c);
        return r;
}
