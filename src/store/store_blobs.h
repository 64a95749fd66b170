/* SPDX-License-Identifier: MIT */
/*
 * Blob metadata: server_blobs (one row per physical, content-addressed
 * file) and server_blob_refs (one row per scope that uploaded it).  The
 * files themselves are in blob/.
 */
#pragma once

#include <stdint.h>

#include "store/store.h"
#include "store/store_ops.h"

/* The recorded size of a blob referenced in scope; -ENOENT when the scope
 * holds no reference to sha256. */
int store_blob_ref_size(struct store *s, const struct store_scope *scope, const char *sha256,
                        int64_t *ret_size);
