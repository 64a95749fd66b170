/* SPDX-License-Identifier: MIT */
/*
 * Changes committed by any daemon on a shared PostgreSQL database, for long
 * polls that wait on another daemon: one dedicated connection per daemon
 * runs LISTEN on PG_CHANGES_CHANNEL; a push sends the notification inside
 * its own transaction (pg_changes_notify_sql() with
 * pg_changes_payload()), so PostgreSQL delivers it at commit and never for
 * a push that rolled back.
 *
 * No wake-up is lost for longer than the fallback interval: when the
 * listening connection breaks, it is re-established with back-off, and
 * meanwhile (and once right after each reconnect) the caller's high-water
 * check is asked every PG_CHANGES_FALLBACK_MS; any increase is reported as
 * "something changed, scope unknown", so every waiter re-reads.
 *
 * This module only waits and reports; it calls no API code (the long-poll
 * thread that calls pg_changes_wait() decides whom to wake).  One thread
 * uses one struct pg_changes.  Nothing is logged here; the caller logs the
 * state changes pg_changes_wait() reports.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PG_CHANGES_CHANNEL "verstak_changes"
/* High-water checks while the listening connection is down. */
#define PG_CHANGES_FALLBACK_MS 1000
/* Reconnect back-off: doubles from the first value up to the cap. */
#define PG_CHANGES_BACKOFF_FIRST_MS 100
#define PG_CHANGES_BACKOFF_MAX_MS   10000
/* Notifications returned by one pg_changes_wait() at most; more set all. */
#define PG_CHANGES_BATCH 64

/* The highest committed server sequence, read by the caller's own
 * connection (the store's).  Returns 0 or negative errno. */
typedef int (*pg_changes_hwm_fn)(void *userdata, int64_t *ret_seq);

struct pg_changes;

/* A push in one scope committed up to seq (strings owned by the batch). */
struct pg_change {
        int64_t seq;
        char *user_id;
        char *vault_id;
};

struct pg_changes_batch {
        struct pg_change items[PG_CHANGES_BATCH];
        size_t n;
        /* Changes happened whose scopes are unknown (while disconnected, or
         * more than PG_CHANGES_BATCH at once): wake every waiter. */
        bool all;
        int64_t all_seq; /* with all: the highest sequence known committed */
        /* The listening connection went down / came back during this wait. */
        bool lost, restored;
};

/* Free the strings of b and empty it. */
void pg_changes_batch_done(struct pg_changes_batch *b);

/*
 * Listen on conninfo (a libpq URL or key=value string).  The first
 * connection is made now: returns 0, or -ECONNREFUSED when it failed, with
 * *ret set in both cases (pg_changes_wait() keeps retrying); -EINVAL for a
 * conninfo libpq cannot parse, -ENOMEM, with *ret untouched.  hwm (with userdata) is the
 * fallback check; its first answer is the starting point.
 */
int pg_changes_new(const char *conninfo, pg_changes_hwm_fn hwm, void *userdata,
                   struct pg_changes **ret);
void pg_changes_free(struct pg_changes *c); /* NULL ok */

/*
 * Wait up to timeout_ms for changes committed by any daemon (this one
 * included).  Returns 0 with *out filled (n == 0 and !all on timeout),
 * or -ENOMEM.  Connection trouble is not an error: it is retried, reported
 * in out->lost/out->restored, and covered by the fallback check.  A
 * reconnect attempt may run past timeout_ms by up to libpq's
 * connect_timeout (5 s unless the URL sets it).
 */
int pg_changes_wait(struct pg_changes *c, unsigned timeout_ms, struct pg_changes_batch *out);

/* Whether the listening connection is up (for /readyz and tests). */
bool pg_changes_connected(const struct pg_changes *c);

/* The server process of the listening connection, 0 while disconnected
 * (diagnostics; tests terminate it). */
int pg_changes_backend_pid(const struct pg_changes *c);

/*
 * The statement a push runs inside its transaction, with one text
 * parameter written as PARAM ("$1" for libpq, "?1" for the store's
 * statement layer): the payload.
 */
#define PG_CHANGES_NOTIFY_SQL(param) "SELECT pg_notify('" PG_CHANGES_CHANNEL "', " param ")"
const char *pg_changes_notify_sql(void); /* PG_CHANGES_NOTIFY_SQL("$1") */

/* The longest payload sent with a scope; NOTIFY takes at most 8000 bytes,
 * and a push's scope (a 24-character user id, a vault_id of at most 256
 * bytes when paired through this server) is far from both. */
#define PG_CHANGES_PAYLOAD_MAX 1024

/* Write the payload for a push in (user_id, vault_id) up to seq into buf.
 * Returns 0, or -ENOBUFS when size is too small.  A payload of the
 * sequence alone (a scope too long for PG_CHANGES_PAYLOAD_MAX) is read by
 * every listener as "scope unknown": it wakes every waiter. */
int pg_changes_payload(char *buf, size_t size, const char *user_id, const char *vault_id,
                       int64_t seq);

struct db_conn;

/*
 * Inside the push transaction on c (a PostgreSQL connection of the store):
 * tell every listening daemon, at commit, that the push in (user_id,
 * vault_id) reached seq.  Nothing is sent when the transaction (or the
 * savepoint around the push) rolls back.  Returns 0 or a negative errno
 * (db.h's mapping).
 */
int pg_changes_push_notify(struct db_conn *c, const char *user_id, const char *vault_id,
                           int64_t seq);
