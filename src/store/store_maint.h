/* SPDX-License-Identifier: MIT */
/*
 * Maintenance of the store for the operator commands (backup, restore,
 * check, gc): a consistent copy of the database while the daemon serves,
 * the store's own consistency checks, and a walk over every blob the data
 * references.  Backend-neutral like store.h: what a PostgreSQL back end
 * would do differently (pg_dump, its own checks) stays behind these
 * functions.
 */
#pragma once

#include <stdint.h>

#include "store/store.h"

/*
 * Write a consistent snapshot of the whole database to dest_path, which
 * must not exist, while other connections (the daemon) keep writing: one
 * read transaction sees one state, and writers are not blocked.  The copy
 * is one self-contained file (no -wal), fsynced with its directory.
 * Returns 0, -EEXIST when dest_path exists, other negative errno.
 */
int store_backup(struct store *s, const char *dest_path);

/* Called once per problem found; a negative return stops the check. */
typedef int (*store_problem_fn)(void *userdata, const char *problem);

/*
 * The store's own consistency checks: SQLite's integrity_check and
 * foreign_key_check, then the operation log: every sequence positive and
 * not above the high-water mark (which must exist).  Sequences are the
 * primary key of the log, so they are unique and scanned in increasing
 * order.  Returns the number of problems (0 when healthy) or a negative
 * errno when the checks could not run.
 */
int store_check(struct store *s, store_problem_fn problem, void *userdata);

/* Called for each blob by store_blob_foreach_referenced(); size is the
 * recorded size, or -1 when references exist but the blob row does not.
 * A negative return stops the walk and is returned by it. */
typedef int (*store_blob_fn)(void *userdata, const char *sha256, int64_t size);

/* Visit every blob that at least one scope references, once each, in hash
 * order, from one read snapshot. */
int store_blob_foreach_referenced(struct store *s, store_blob_fn fn, void *userdata);

/* Number and total recorded size of the distinct blobs (server_blobs). */
int store_blob_totals(struct store *s, uint64_t *ret_blobs, uint64_t *ret_bytes);

/* The size of the database: SQLite's file and its WAL, or what PostgreSQL
 * counts for the database (pg_database_size()).  0 or negative errno. */
int store_database_bytes(struct store *s, uint64_t *ret);
