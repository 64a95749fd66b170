/* SPDX-License-Identifier: MIT */
/*
 * The store: everything the daemon keeps durably except blob contents.
 * This header is the backend-neutral contract (no SQLite types): the
 * SQLite implementation lives in the files of src/store; a PostgreSQL one could sit
 * behind the same functions.  Area-specific operations are declared in
 * store/store_<area>.h and named after what they do.
 *
 * Threading: every function may be called from any thread.  Writes are
 * serialised on one writer connection; reads use a pool of reader
 * connections so they never wait for a write.
 *
 * Errors: 0 (or a documented non-negative value) on success, negative
 * errno on failure: -ENOENT not found, -EEXIST uniqueness violation,
 * -EBUSY database locked beyond a bounded wait (a write waits at most a
 * second or two for the write lock, and much less while writes are
 * failing), -ENOSPC the filesystem is full, -EIO anything else.
 * Store functions do not log SQL or values; they log once on -EIO.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct store;

struct store_options {
        bool synchronous_full; /* synchronous=FULL instead of NORMAL */
        unsigned readers;      /* reader connections in the pool (>= 1) */
        /* Open every reader in store_open() rather than as the load needs
         * them (store_reader_take()): for a process still root once its
         * sandbox is up, as SQLite changes the owner of each WAL file it
         * opens as root (fchown), which the sandbox refuses. */
        bool readers_now;
        /* Operator commands: never migrate; an older schema is refused
         * with -ESTALE (the daemon migrates it at its next start). */
        bool no_migrate;
        /* Create the schema only in a database that holds no table yet;
         * store_open() fails with -ENOTEMPTY otherwise, before changing
         * anything (the target of store_copy(), store_migrate.h). */
        bool require_empty;
};

/* The schema version this build writes (PRAGMA user_version). */
#define STORE_SCHEMA_VERSION 9

/*
 * Open (creating if needed) the database at path and migrate it forward to
 * STORE_SCHEMA_VERSION, one transaction per migration.  A database newer
 * than this build is refused with -EPROTONOSUPPORT (see also no_migrate).  *ret_migrated tells how
 * many migrations ran (may be NULL).
 */
int store_open(const char *path, const struct store_options *opts, struct store **ret,
               unsigned *ret_migrated);

/* Checkpoint the WAL and close every connection.  NULL is a no-op. */
void store_close(struct store *s);

/* A cheap read probe for health: 0 when the database answers a query,
 * negative errno otherwise. */
int store_probe(struct store *s);

/*
 * A cheap write probe for the watchdog: take the writer (in-process lock,
 * then SQLite's write lock with BEGIN IMMEDIATE) and roll back at once.
 * Waits at most about timeout_ms in total, so a wedged store (a lock held
 * by another process, a stuck writer) is reported as -EBUSY instead of
 * blocking the caller.  0 when the writer path works.
 */
int store_probe_write(struct store *s, unsigned timeout_ms);

/* Whether the last attempt to take the writer timed out: writes are
 * failing with -EBUSY (and wait only briefly) until one succeeds. */
bool store_write_stalled(struct store *s);

/* PRAGMA user_version of the open database. */
int store_schema_version(struct store *s);

/* Hand back what the idle connections cache (SQLite's page caches), for
 * memory to return after a burst: the connections in use and a busy
 * writer are left alone.  Cannot fail. */
void store_release_memory(struct store *s);

/* Checkpoint the WAL into the main database (TRUNCATE).  */
int store_checkpoint(struct store *s);

/* --- administrators ---------------------------------------------------- */

/* Create the administrator (with new_id) or replace its password hash.
 * Returns 1 when created, 0 when updated. */
int store_admin_upsert(struct store *s, const char *new_id, const char *username,
                       const char *password_hash);

/* Insert an administrator only when no account of that name exists
 * (importing the existing server's config.yml list).  Returns 1 when
 * inserted, 0 when it already existed. */
int store_admin_import(struct store *s, const char *new_id, const char *username,
                       const char *password_hash);

/* Fetch an administrator's id and password hash; -ENOENT when unknown.
 * The strings are malloc'd and owned by the caller. */
int store_admin_get(struct store *s, const char *username, char **ret_id, char **ret_hash);

/* The username of the administrator with this id (a session's subject);
 * -ENOENT when there is none (any more).  *ret_username is malloc'd. */
int store_admin_username(struct store *s, const char *id, char **ret_username);

/* Replace an administrator's password hash (a bcrypt hash rehashed to
 * Argon2id after a successful login).  -ENOENT when the id is unknown. */
int store_admin_set_password_hash(struct store *s, const char *id, const char *password_hash);

/* --- counters for STATUS= and health ------------------------------------ */

struct store_counts {
        int64_t users;
        int64_t devices; /* not revoked */
        int64_t ops;
        int64_t last_sequence;
};

int store_get_counts(struct store *s, struct store_counts *ret);

/* The earlier server's SMTP settings (its server_smtp_config table, kept
 * by its console); NULL for each one absent or saved empty. */
struct store_legacy_smtp {
        char *host, *port, *user, *pass, *security, *from, *server_url;
        /* Ours: where the mail helper said it keeps them, once it took
         * them (key carried_over_to). */
        char *carried_to;
};

/* Read them (every field NULL when the table is empty).  Returns 0 or a
 * negative errno.  Release with store_legacy_smtp_done(), which wipes the
 * password from memory; NULL fields are fine. */
int store_legacy_smtp_get(struct store *s, struct store_legacy_smtp *ret);
void store_legacy_smtp_done(struct store_legacy_smtp *m);

/* Delete the password from the table, record carried_to (where the
 * settings went) in the same transaction, and rewrite the file (VACUUM,
 * WAL truncated) so that no copy of the password is left in the database.
 * Returns 1 when a password was removed, 0 when there was none, or a
 * negative errno.  Costs a full copy of the file: call at start only. */
int store_legacy_smtp_wipe_password(struct store *s, const char *carried_to);
