/* SPDX-License-Identifier: MIT */
/*
 * Where the blob files and the blob metadata meet: deciding that a file
 * is no longer needed, counting orphans (files no reference points to) and
 * garbage collection, for failed uploads and for the admin console.
 *
 * It calls store/ and blob/, so it sits above both (here in api/, where
 * the upload handlers and the admin console use it), and holds no SQL and
 * no path of its own.  A file is removed only through
 * blob_store_remove_unused()/blob_upload_discard(), i.e. under the blob
 * store's lock, when no upload claims it, and after the database confirmed
 * in a transaction that no reference exists (and dropped the server_blobs
 * row): a blob referenced, or being uploaded, at that moment is never
 * removed.
 */
#pragma once

#include <stdint.h>

struct store;
struct blob_store;

/*
 * A blob_unused_fn (blob/blob_store.h) with userdata = struct store *:
 * when no scope references sha256, forget its server_blobs row and return
 * 1; return 0 when a reference exists; negative errno on failure.
 */
int blob_gc_unused(void *store, const char *sha256);

struct blob_orphans {
        uint64_t files; /* blob files that no reference points to */
        uint64_t bytes; /* their total size */
};

/* Count orphan files (one directory scan and one indexed query per file).
 * A file being committed by an upload may be counted: it is an orphan
 * until its reference is recorded a moment later. */
int blob_gc_count_orphans(struct store *s, struct blob_store *bs, struct blob_orphans *ret);

struct blob_gc_result {
        uint64_t files_removed; /* orphan files deleted */
        uint64_t bytes_freed;   /* their total size */
        uint64_t rows_removed;  /* server_blobs rows without a reference deleted */
        uint64_t kept;          /* candidates found in use when re-checked */
};

/*
 * Delete every orphan file and every server_blobs row without a
 * reference, each re-checked under the blob store's lock (see above).
 * Returns 0 and the tally, or the first negative errno (what was removed
 * until then stays removed).
 */
int blob_gc_run(struct store *s, struct blob_store *bs, struct blob_gc_result *ret);
