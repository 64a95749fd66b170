/* SPDX-License-Identifier: MIT */
/*
 * Copying a whole store into another, empty one: the `migrate` command's
 * move of an SQLite data directory into a PostgreSQL database.
 * Backend-neutral like store.h: the caller opens both stores, the copy
 * speaks to each through its own back end.  Blob contents are files, not
 * rows: they stay where they are.
 */
#pragma once

#include <stdint.h>

#include "store/store.h"
#include "store/store_maint.h"

/* Told after each committed batch: the table, its rows copied so far and
 * the rows it holds in the source. */
typedef void (*store_copy_progress_fn)(void *userdata, const char *table, int64_t done,
                                       int64_t total);

struct store_copy_result {
        unsigned tables;       /* tables copied */
        int64_t rows;          /* rows copied, all tables */
        int64_t last_sequence; /* the sequence high-water mark carried over */
};

/*
 * Copy every row of src (an SQLite store at STORE_SCHEMA_VERSION) into dst,
 * which store_open() has just created with require_empty, so that it holds
 * the same schema and no rows.  All of src is read from one snapshot;
 * dst is written table by table in batches of batch_rows rows, one
 * transaction each, with its triggers keeping its counters.  Then the
 * sequence high-water mark is carried over, dst's identity counters are
 * moved past the copied ids, and the copy is verified from a fresh
 * snapshot of dst: rows per table, the high-water mark, and every counter
 * of server_meta against src's.  Each difference is handed to
 * problem(userdata, line).
 *
 * Returns 0 when the copy is verified, the number of differences (> 0),
 * or a negative errno: the copy stopped, and dst holds the batches
 * committed so far (drop and create it again before another attempt).
 * -EOPNOTSUPP when src is not SQLite.
 */
int store_copy(struct store *src, struct store *dst, unsigned batch_rows,
               store_copy_progress_fn progress, store_problem_fn problem, void *userdata,
               struct store_copy_result *ret);
