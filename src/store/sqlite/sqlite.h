/* SPDX-License-Identifier: MIT */
/*
 * Private to src/store/sqlite: the SQLite driver's connection and
 * statement (db.h's objects with the sqlite3 handles behind them), and the
 * pieces of the SQLite back end spread over its files.
 */
#pragma once

#include <sqlite3.h>

#include "store/store_internal.h"

struct sqlite_conn {
        struct db_conn base;
        sqlite3 *db;
};

struct sqlite_stmt {
        struct db_stmt base;
        sqlite3_stmt *st;
};

static inline sqlite3 *sqlite_db(struct db_conn *c)
{
        return ((struct sqlite_conn *)c)->db;
}

/* Map an SQLite result code to a negative errno (0 for OK, ROW, DONE). */
int sqlite_errno(int rc);
/* The same for a code that stands for a failure: never 0 (-EIO when the
 * code is not an error code, e.g. SQLITE_DONE where a row was due). */
int sqlite_fail(int rc);

/* Migrations (sqlite_schema.c) on the writer, outside a transaction. */
int sqlite_migrate(struct db_conn *c, unsigned *ret_migrated);

/* VACUUM and truncate the WAL (sqlite_driver.c). */
int sqlite_scrub(struct db_conn *c);

/* store_backup() and the integrity part of store_check() (sqlite_maint.c). */
int sqlite_backup(struct store *s, const char *dest_path);
int sqlite_check(struct db_conn *c, store_problem_fn problem, void *userdata, unsigned *n);
