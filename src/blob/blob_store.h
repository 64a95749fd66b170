/* SPDX-License-Identifier: MIT */
/*
 * The content-addressed blob directory (design.md, Storage):
 *
 *   blobs/<h[0:2]>/<h[2:4]>/<h>   one file per distinct content, h = its SHA-256
 *   blobs/.upload-<random>        an upload in progress (or left by a crash)
 *
 * This module owns the files and nothing else: no SQL, no HTTP, no
 * policy about who may see what.  Every operation works relative to one
 * directory descriptor opened at start.
 *
 * An upload streams into a temporary file, hashed on the way (past
 * BLOB_HELP_AFTER, written and hashed by helper threads while the caller
 * receives the next buffer), is fsynced, then committed: renamed to its
 * content address and the directory fsynced.  Identical content lands on
 * the same name, so the disk holds it once.  Whether a committed file may
 * later be removed is decided by the caller's "unused" callback (the
 * database's references), always under the store's lock and only when no
 * upload of the same content holds a claim on it, so a removal can never
 * race an upload that is about to reference the same file:
 *
 *   upload:   write+fsync temp -> claim(h) -> rename -> fsync dir
 *             -> caller records the reference -> release claim
 *   removal:  lock; no claim on h and unused(h) -> unlink; unlock
 *
 * All functions are thread-safe.  Errors are negative errno values; this
 * module does not log.  Cost: the lock is held across the "unused"
 * callback (a short database transaction), so removals and claims are
 * serialised; removals only happen for failed uploads and in garbage
 * collection, claims once per committed upload.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "util/cleanup.h"

/* Length of a blob name: lower-case hex SHA-256. */
#define BLOB_HASH_HEX 64
/* The file whose byte-range locks carry claims between processes (see
 * blob_store_remove_unused()); it stays empty. */
#define BLOB_CLAIMS_FILE ".claims"
/* Name prefix of upload temporary files in the blob directory. */
#define BLOB_TEMP_PREFIX ".upload-"
/* Uploads are written through a buffer of this size (fewer, larger writes
 * however small the pieces the network delivers); an upload larger than
 * BLOB_HELP_AFTER has BLOB_UPLOAD_SLOTS, one being filled while helper
 * threads write and hash the others. */
#define BLOB_WRITE_BUFFER (256 * 1024)
/* An upload is helped (more buffers, helper threads, early writeback)
 * once this much of it is in its file: below, the overlap saves less than
 * the thread switches cost (a 1 MiB upload took 15 % more CPU with help),
 * and its fsync writes it back in one go anyway. */
#define BLOB_HELP_AFTER (1024 * 1024)
/* Buffers of a helped upload: with two, the side that receives and the
 * side that writes and hashes wait for each other at every buffer that
 * one of them is slower on; with four, whichever is ahead goes on (64 MiB
 * uploads with curl: 15-25 % faster, the CPUs 83 % busy instead of 75 %). */
#define BLOB_UPLOAD_SLOTS 4
/* Uploads helped at once, per helper thread (one per CPU, at most 16):
 * more would not go faster, since each helper takes one buffer at a time,
 * and this bounds the memory of the rings (1.5 MiB per CPU).  Uploads
 * beyond it go on unhelped. */
#define BLOB_HELPED_PER_HELPER 2

struct blob_store;
struct blob_upload;

/*
 * Decide whether the blob sha256 is still needed, with the store's lock
 * held and no upload claiming it.  Returns >0 when it is not (the file may
 * be removed; the callback may first forget it elsewhere, e.g. delete its
 * database row), 0 when it is still needed, or a negative errno (the file
 * is kept).  It must not call back into the blob store.
 */
typedef int (*blob_unused_fn)(void *userdata, const char *sha256);

/* Open the blob directory at path (which must exist).  Returns 0 or a
 * negative errno. */
int blob_store_new(const char *path, struct blob_store **ret);

/* Close the directory.  Uploads must have been freed.  NULL is a no-op. */
void blob_store_free(struct blob_store *bs);

/* --- uploads --------------------------------------------------------------- */

/* Create a temporary file for an upload of at most max_size bytes and
 * register it as in progress.  Returns 0 or a negative errno. */
int blob_upload_new(struct blob_store *bs, uint64_t max_size, struct blob_upload **ret);

/* Append data (hashed on the way).  -EFBIG, with nothing of data written,
 * when the upload would exceed its maximum size; other negative errno on
 * I/O failure, which a helper's write may report a few buffers late (at a
 * later call or at blob_upload_finish()). */
int blob_upload_write(struct blob_upload *u, const void *data, size_t len);

/* Bytes written so far. */
uint64_t blob_upload_size(const struct blob_upload *u);

/* Uploads helped now (see BLOB_HELPED_PER_HELPER). */
unsigned blob_store_uploads_helped(struct blob_store *bs);

/* Flush and fsync the temporary file and compute the hash into
 * ret_sha256 (BLOB_HASH_HEX + 1 bytes).  No more writes afterwards. */
int blob_upload_finish(struct blob_upload *u, char *ret_sha256);

/*
 * Claim the hash and move the finished upload to its content address
 * (replacing an identical file already there), then fsync the directory.
 * On success the upload holds the claim until blob_upload_free() or
 * blob_upload_discard(); the temporary name is gone, or holds the replaced
 * file until blob_upload_free() removes it (so that freeing its pages is
 * not part of the commit).  On failure the file may or may not be in
 * place: call blob_upload_discard(), as after a reference that could not
 * be recorded.
 */
int blob_upload_commit(struct blob_upload *u);

/*
 * Undo a committed upload whose reference could not be recorded: drop the
 * claim and, when no other upload claims the same hash and unused() says
 * so, remove the file.  Returns 1 when the file was removed, 0 when kept,
 * or a negative errno.  The upload still needs blob_upload_free().
 */
int blob_upload_discard(struct blob_upload *u, blob_unused_fn unused, void *userdata);

/* Release an upload: an uncommitted temporary file is removed, a claim is
 * dropped (the committed file stays).  NULL is a no-op. */
void blob_upload_free(struct blob_upload *u);

DEFINE_POINTER_CLEANUP(struct blob_upload, blob_upload_free);

/* --- reading --------------------------------------------------------------- */

/*
 * Open the blob sha256 for reading and check that its size is
 * expected_size.  Returns 0 and a descriptor (O_CLOEXEC, owned by the
 * caller) in *ret_fd; -ENOENT when there is no such file; -EUCLEAN when
 * its size differs (damaged); -EINVAL for a malformed hash.
 */
int blob_store_open_blob(struct blob_store *bs, const char *sha256, uint64_t expected_size,
                         int *ret_fd);

/* Whether a file for sha256 exists (1/0) or a negative errno. */
int blob_store_exists(struct blob_store *bs, const char *sha256);

/* --- maintenance ----------------------------------------------------------- */

/*
 * Remove the file of sha256 when no upload claims it and unused() agrees
 * (see blob_unused_fn).  Returns 1 when removed, 0 when kept (claimed,
 * still needed, or already absent), or a negative errno.  Claims are seen
 * across processes: an upload committing the same hash in another process
 * (the daemon, while an operator runs `gc`) holds a lock on it in
 * BLOB_CLAIMS_FILE, and the file is then kept.
 */
int blob_store_remove_unused(struct blob_store *bs, const char *sha256, blob_unused_fn unused,
                             void *userdata);

/* Called for every blob file by blob_store_scan(); a negative return stops
 * the scan and is returned by it. */
typedef int (*blob_scan_fn)(void *userdata, const char *sha256, uint64_t size);

/*
 * Visit every file stored at its content address (blobs/xx/yy/<hash> with
 * matching xx and yy).  Other names are ignored.  Files may be added or
 * removed meanwhile; each one present throughout is visited once.  Cost:
 * one directory read per populated prefix, one fstatat per file.
 */
int blob_store_scan(struct blob_store *bs, blob_scan_fn fn, void *userdata);

/*
 * Remove upload temporary files last modified before cutoff that no
 * upload in this process is writing.  Returns the number removed or a
 * negative errno.
 */
/* Count the upload temp files (in progress or abandoned) and their
 * bytes.  0 or negative errno. */
int blob_store_count_temp(struct blob_store *bs, uint64_t *ret_files, uint64_t *ret_bytes);

int blob_store_expire_temp(struct blob_store *bs, time_t cutoff);

struct blob_temp_tally {
        uint64_t files;
        uint64_t bytes;
};

/* The same, counting files and bytes into *ret (may be NULL); with remove
 * false nothing is removed, only counted.  Returns 0 or a negative errno. */
int blob_store_stale_temp(struct blob_store *bs, time_t cutoff, bool remove,
                          struct blob_temp_tally *ret);

/*
 * Put the blob sha256 of src, which must be size bytes, into dst at the
 * same address: a hard link when both are on one filesystem, otherwise a
 * copy through a temporary file, fsynced, then renamed; the directories
 * are fsynced either way.  Returns 1 when linked (or already present in
 * dst), 0 when copied, -ENOENT when src has no such file, -EUCLEAN when
 * its size differs, other negative errno on failure.
 */
int blob_store_copy_to(struct blob_store *src, const char *sha256, uint64_t size,
                       struct blob_store *dst);
