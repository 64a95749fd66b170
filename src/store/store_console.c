/* SPDX-License-Identifier: MIT */
/*
 * Implementation of store/store_console.h.  List queries are assembled
 * from fixed fragments (filters present or not, a whitelisted ORDER BY)
 * and prepared per call; values are always bound, never spliced.  Actions
 * use cached statements on the writer, one transaction each.
 */
#include "store/store_console.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_accounts.h"
#include "store/store_internal.h"
#include "util/cleanup.h"
#include "util/text.h"

/* Longest list query we assemble. */
#define CONSOLE_SQL_MAX 2048
/* Most bound values in one list query. */
#define CONSOLE_ARGS_MAX 24

/* --- row sets ----------------------------------------------------------------- */

void store_rows_done(struct store_rows *r)
{
        if (!r)
                return;
        for (size_t i = 0; i < r->n_cols; i++)
                free(r->names ? r->names[i] : NULL);
        for (size_t i = 0; r->cells && i < r->n_cols * r->n_rows; i++)
                free(r->cells[i].s);
        free(r->names);
        free(r->cells);
        memset(r, 0, sizeof(*r));
}

/* Bound values of an assembled query: text (NULL binds NULL) or integer. */
struct console_args {
        size_t n;
        struct {
                const char *s;
                int64_t i;
                bool is_int;
        } v[CONSOLE_ARGS_MAX];
};

static int args_text(struct console_args *a, const char *s)
{
        if (a->n >= CONSOLE_ARGS_MAX)
                return -E2BIG;
        a->v[a->n].s = s;
        a->v[a->n].is_int = false;
        return (int)++a->n;
}

static int args_int(struct console_args *a, int64_t i)
{
        if (a->n >= CONSOLE_ARGS_MAX)
                return -E2BIG;
        a->v[a->n].i = i;
        a->v[a->n].is_int = true;
        return (int)++a->n;
}

/* Append printf-style text to the query being assembled. */
static int sql_add(char *sql, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sql_add(char *sql, const char *fmt, ...)
{
        size_t len = strlen(sql);
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(sql + len, CONSOLE_SQL_MAX - len, fmt, ap);
        va_end(ap);
        return n < 0 || (size_t)n >= CONSOLE_SQL_MAX - len ? -E2BIG : 0;
}

static int prepare(struct db_conn *c, const char *sql, const struct console_args *a,
                   struct db_stmt **ret)
{
        struct db_stmt *st = NULL;
        int r = db_prepare(c, sql, &st);

        if (r < 0)
                return r;
        for (size_t i = 0; a && i < a->n; i++) {
                r = a->v[i].is_int ? db_bind_int64(st, (int)i + 1, a->v[i].i)
                                   : db_bind_text(st, (int)i + 1, a->v[i].s);
                if (r < 0) {
                        db_stmt_free(st);
                        return -EIO;
                }
        }
        *ret = st;
        return 0;
}

/* Read every row of st into ret.  The column names are read after the
 * first step: PostgreSQL knows a result's columns only once it has run
 * (before, it reports none, and every row would come out empty). */
static int rows_read(struct db_conn *c, struct db_stmt *st, struct store_rows *ret)
{
        struct store_rows r = {0};
        size_t cap = 0;
        /* The columns are known once the statement ran: PostgreSQL runs
         * it at the first step. */
        int rc = db_step(st);

        if (rc != DB_ROW && rc != DB_DONE)
                return db_fail(c, rc, "console list");
        r.n_cols = (size_t)db_column_count(st);
        r.names = calloc(r.n_cols ? r.n_cols : 1, sizeof(char *));
        if (!r.names)
                return -ENOMEM;
        for (size_t i = 0; i < r.n_cols; i++) {
                r.names[i] = strdup(db_column_name(st, (int)i));
                if (!r.names[i]) {
                        store_rows_done(&r);
                        return -ENOMEM;
                }
        }
        for (; rc == DB_ROW; rc = db_step(st)) {
                if (r.n_rows == cap) {
                        size_t ncap = cap ? cap * 2 : 16;
                        struct store_cell *nc = reallocarray(r.cells, ncap * r.n_cols, sizeof(*nc));
                        if (!nc) {
                                store_rows_done(&r);
                                return -ENOMEM;
                        }
                        memset(nc + cap * r.n_cols, 0, (ncap - cap) * r.n_cols * sizeof(*nc));
                        r.cells = nc;
                        cap = ncap;
                }
                struct store_cell *row = r.cells + r.n_rows * r.n_cols;
                r.n_rows++;
                for (size_t i = 0; i < r.n_cols; i++) {
                        switch (db_column_type(st, (int)i)) {
                        case DB_NULL:
                                row[i].type = STORE_CELL_NULL;
                                break;
                        case DB_INT:
                                row[i].type = STORE_CELL_INT;
                                row[i].i = db_column_int64(st, (int)i);
                                break;
                        default:
                                row[i].type = STORE_CELL_TEXT;
                                row[i].s = db_column_strdup(st, (int)i);
                                if (!row[i].s) {
                                        store_rows_done(&r);
                                        return -ENOMEM;
                                }
                        }
                }
        }
        if (rc != DB_DONE) {
                store_rows_done(&r);
                return db_fail(c, rc, "console list");
        }
        *ret = r;
        return 0;
}

/* Run an assembled query on c into ret. */
static int query_rows(struct db_conn *c, const char *sql, const struct console_args *a,
                      struct store_rows *ret)
{
        _cleanup_stmt_free_ struct db_stmt *st = NULL;
        int r = prepare(c, sql, a, &st);

        return r < 0 ? r : rows_read(c, st, ret);
}

/* Run an assembled query that yields one integer. */
static int query_int(struct db_conn *c, const char *sql, const struct console_args *a, int64_t *ret)
{
        _cleanup_stmt_free_ struct db_stmt *st = NULL;
        int r = prepare(c, sql, a, &st), rc;

        if (r < 0)
                return r;
        rc = db_step(st);
        if (rc != DB_ROW)
                return db_fail(c, rc, "console count");
        *ret = db_column_int64(st, 0);
        return 0;
}

/*
 * The common shape of a paged list: the total (known when the caller has
 * it already, else total_sql, a counter, else counting the matches up to
 * STORE_COUNT_CAP + 1), then the page on the same snapshot.  The page is chosen
 * by key (a rowid) alone, "SELECT <key> ... ORDER BY <order> LIMIT ?
 * OFFSET ?", which an index on the sort column covers (its entries end in
 * the rowid, so order breaks ties by the rowid in the same direction);
 * only the rows of the page are then read and their columns computed.
 */
static int paged_list(struct store *s, const char *select, const char *from, const char *where,
                      const char *key, const char *order, struct console_args *a,
                      const struct store_page *p, const struct store_total *known,
                      const char *total_sql, struct store_rows *ret, struct store_total *ret_total)
{
        char sql[CONSOLE_SQL_MAX] = "";
        struct db_conn *c;
        int r;

        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        /* A counter when one answers; else count, but never past the cap. */
        *ret_total = known ? *known : (struct store_total){0};
        if (known)
                r = 0;
        else if (total_sql)
                r = query_int(c, total_sql, NULL, &ret_total->n);
        else {
                r = sql_add(sql, "SELECT count(*) FROM (SELECT 1 FROM %s%s LIMIT %d) AS matches",
                            from, where, STORE_COUNT_CAP + 1);
                if (r >= 0)
                        r = query_int(c, sql, a, &ret_total->n);
                ret_total->capped = ret_total->n > STORE_COUNT_CAP;
        }
        if (r >= 0) {
                sql[0] = '\0';
                r = sql_add(sql,
                            "%s FROM %s WHERE %s IN (SELECT %s FROM %s%s ORDER BY %s"
                            " LIMIT ? OFFSET ?) ORDER BY %s",
                            select, from, key, key, from, where, order, order);
        }
        if (r >= 0)
                r = args_int(a, p->per_page);
        if (r >= 0)
                r = args_int(a, (p->page - 1) * p->per_page);
        if (r >= 0)
                r = query_rows(c, sql, a, ret);
        store_read_end(s, c);
        return r < 0 ? r : 0;
}

/* Append " AND <cond>" (or " WHERE <cond>" first) to where. */
static int where_add(char *where, size_t size, const char *cond)
{
        size_t len = strlen(where);
        int n = snprintf(where + len, size - len, "%s%s", len ? " AND " : " WHERE ", cond);

        return n < 0 || (size_t)n >= size - len ? -E2BIG : 0;
}

/* --- figures -------------------------------------------------------------------- */

/* The counters the schema's triggers keep (migration 4). */
static const struct db_sql sql_counters = {"SELECT key, value FROM server_meta"};
/* What is cheap to ask directly: indexed ranges, min/max, small tables. */
static const struct db_sql sql_stats = {
        "SELECT (SELECT count(*) FROM server_sessions WHERE expires_at < ?1),"
        " (SELECT count(*) FROM server_email_tokens WHERE expires_at < ?1),"
        " (SELECT count(*) FROM server_idempotency_keys),"
        " (SELECT value FROM server_meta WHERE key = 'audit_entries'),"
        " coalesce((SELECT max(last_seen) FROM server_devices), ''),"
        " (SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size())",
        .pg = "SELECT (SELECT count(*) FROM server_sessions WHERE expires_at < ?1),"
              " (SELECT count(*) FROM server_email_tokens WHERE expires_at < ?1),"
              " (SELECT count(*) FROM server_idempotency_keys),"
              " (SELECT value FROM server_meta WHERE key = 'audit_entries'),"
              " coalesce((SELECT max(last_seen) FROM server_devices), ''),"
              " pg_database_size(current_database())"};
/* The first sequence at or after ?1 (binary search for the 24-hour count). */
static const struct db_sql sql_op_at = {
        "SELECT server_sequence, pushed_at FROM server_ops WHERE server_sequence >= ?1"
        " ORDER BY server_sequence LIMIT 1"};
static const struct db_sql sql_seq_bounds = {
        "SELECT coalesce((SELECT min(server_sequence) FROM server_ops), 0),"
        " coalesce((SELECT max(server_sequence) FROM server_ops), 0)"};

/*
 * Operations pushed since cutoff.  Sequences are assigned in push order,
 * one per operation and never reused, so pushed_at grows with the
 * sequence: find the first sequence pushed at or after cutoff by
 * bisection (a handful of primary-key lookups) and count the sequences
 * from there to the newest, instead of reading every recent row.  (An
 * operation deleted since, with its user, still counts as pushed.)
 */
static int ops_since(struct db_conn *c, const char *cutoff, int64_t *ret)
{
        int64_t lo, hi, last;
        int rc;

        {
                _cleanup_stmt_ struct db_stmt *st = db_stmt(c, &sql_seq_bounds);
                if (!st)
                        return -EIO;
                rc = db_step(st);
                if (rc != DB_ROW)
                        return db_fail(c, rc, "sequence bounds");
                lo = db_column_int64(st, 0);
                last = db_column_int64(st, 1);
                hi = last + 1; /* past the end: nothing recent */
        }
        while (lo < hi) {
                int64_t mid = lo + (hi - lo) / 2, seq;
                _cleanup_stmt_ struct db_stmt *st = db_stmt(c, &sql_op_at);
                if (!st)
                        return -EIO;
                db_bind_int64(st, 1, mid);
                rc = db_step(st);
                if (rc == DB_DONE) {
                        hi = mid;
                        continue;
                }
                if (rc != DB_ROW)
                        return db_fail(c, rc, "find sequence");
                seq = db_column_int64(st, 0);
                if (strcmp(db_column_text(st, 1), cutoff) >= 0)
                        hi = mid;
                else
                        lo = seq + 1;
        }
        *ret = last >= lo ? last - lo + 1 : 0;
        return 0;
}

/* Fill v from the trigger-kept counters. */
static int read_counters(struct db_conn *c, struct store_console_stats *v)
{
        _cleanup_stmt_ struct db_stmt *st = db_stmt(c, &sql_counters);
        int64_t blocked = 0, unconfirmed = 0, revoked = 0, referenced = 0;
        const struct {
                const char *key;
                int64_t *value;
        } map[] = {
                {"ops_count", &v->ops},
                {"users", &v->users},
                {"users_blocked", &blocked},
                {"users_unconfirmed", &unconfirmed},
                {"devices", &v->active_devices},
                {"devices_revoked", &revoked},
                {"vaults", &v->vaults},
                {"blobs", &v->blobs},
                {"blob_bytes", &v->blob_bytes},
                {"blob_refs", &v->blob_refs},
                {"blobs_referenced", &referenced},
        };
        int rc;

        if (!st)
                return -EIO;
        while ((rc = db_step(st)) == DB_ROW)
                for (size_t i = 0; i < ELEMENTSOF(map); i++)
                        if (strcmp(db_column_text(st, 0), map[i].key) == 0)
                                *map[i].value = db_column_int64(st, 1);
        if (rc != DB_DONE)
                return db_fail(c, rc, "console counters");
        v->blocked_users = blocked;
        v->unconfirmed_users = unconfirmed;
        v->active_users = v->users - blocked - unconfirmed;
        v->revoked_devices = revoked;
        v->active_devices -= revoked;
        v->orphan_blobs = v->blobs - referenced;
        return 0;
}

int store_console_stats(struct store *s, time_t now, struct store_console_stats *ret)
{
        char now_s[TIME_RFC3339_SIZE], cutoff[TIME_RFC3339_SIZE];
        struct store_console_stats v = {0};
        struct db_conn *c;
        int r;

        time_format_rfc3339(now, now_s);
        time_format_rfc3339(now - 86400, cutoff);
        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        r = read_counters(c, &v);
        if (r >= 0) {
                _cleanup_stmt_ struct db_stmt *st = db_stmt(c, &sql_stats);
                if (!st)
                        r = -EIO;
                else {
                        db_bind_text(st, 1, now_s);
                        int rc = db_step(st);
                        if (rc == DB_ROW) {
                                v.expired_sessions = db_column_int64(st, 0);
                                v.expired_email_tokens = db_column_int64(st, 1);
                                v.idempotency_records = db_column_int64(st, 2);
                                v.audit_events = db_column_int64(st, 3);
                                snprintf(v.last_sync, sizeof(v.last_sync), "%s",
                                         db_column_text(st, 4));
                                v.database_bytes = db_column_int64(st, 5);
                        } else
                                r = db_fail(c, rc, "console stats");
                }
        }
        if (r >= 0)
                r = ops_since(c, cutoff, &v.ops_24h);
        store_read_end(s, c);
        if (r >= 0)
                *ret = v;
        return r < 0 ? r : 0;
}

/* --- users ------------------------------------------------------------------------ */

/* Characters (not bytes) of a UTF-8 string. */
static size_t utf8_chars(const char *s)
{
        size_t n = 0;

        for (; *s; s++)
                n += ((unsigned char)*s & 0xc0) != 0x80;
        return n;
}

/* Users whose name or e-mail contains the FTS5 phrase, counted up to
 * STORE_COUNT_CAP + 1 in the trigram index. */
static int search_count(struct store *s, const char *phrase, int64_t *ret)
{
        struct console_args a = {0};
        struct db_conn *c;
        int r;

        if (args_text(&a, phrase) < 0 || args_int(&a, STORE_COUNT_CAP + 1) < 0)
                return -E2BIG;
        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        r = query_int(c,
                      "SELECT count(*) FROM (SELECT 1 FROM server_users_search"
                      " WHERE server_users_search MATCH ?1 LIMIT ?2) AS matches",
                      &a, ret);
        store_read_end(s, c);
        return r < 0 ? r : 0;
}

int store_console_users(struct store *s, const struct store_user_query *q, struct store_rows *ret,
                        struct store_total *ret_total)
{
        static const char *const sorts[] = {
                [STORE_USER_SORT_CREATED] = "u.created_at",
                [STORE_USER_SORT_USERNAME] = "u.username",
                [STORE_USER_SORT_EMAIL] = "u.email",
                [STORE_USER_SORT_LAST_SEEN] = "u.last_seen",
                [STORE_USER_SORT_CONFIRMED] = "u.confirmed",
                [STORE_USER_SORT_BLOCKED] = "u.blocked",
                /* The existing server's console sorted by it: a
                 * trigger-kept count with an index (schema version 7). */
                [STORE_USER_SORT_DEVICES] = "u.devices",
        };
        static const char *const statuses[] = {
                [STORE_USER_ANY] = NULL,
                [STORE_USER_ACTIVE] = "u.blocked = 0 AND u.confirmed = 1",
                [STORE_USER_BLOCKED] = "u.blocked <> 0",
                [STORE_USER_UNCONFIRMED] = "u.blocked = 0 AND u.confirmed = 0",
        };
        /* Without a search, the totals are counters. */
        static const char *const user_totals[] = {
                [STORE_USER_ANY] = "SELECT value FROM server_meta WHERE key = 'users'",
                [STORE_USER_ACTIVE] = "SELECT sum(CASE key WHEN 'users' THEN value ELSE -value END)"
                                      " FROM server_meta WHERE key IN ('users', 'users_blocked',"
                                      " 'users_unconfirmed')",
                [STORE_USER_BLOCKED] = "SELECT value FROM server_meta WHERE key = 'users_blocked'",
                [STORE_USER_UNCONFIRMED] =
                        "SELECT value FROM server_meta WHERE key = 'users_unconfirmed'",
        };
        struct console_args a = {0};
        char where[256] = "", order[160], pattern[600], phrase[600];
        struct store_total known = {0};
        bool have_known = false, broad = false;
        int r = 0;

        if ((size_t)q->sort >= ELEMENTSOF(sorts) || (size_t)q->status >= ELEMENTSOF(statuses))
                return -EINVAL;
        if (q->search && utf8_chars(q->search) >= 3 && strlen(q->search) < sizeof(phrase) / 2 - 2 &&
            s->be->kind != DB_PG) {
                /* The trigram index: the text as one FTS5 phrase. */
                size_t j = 0;
                phrase[j++] = '"';
                for (const char *p = q->search; *p; p++) {
                        if (*p == '"')
                                phrase[j++] = '"';
                        phrase[j++] = *p;
                }
                phrase[j++] = '"';
                phrase[j] = '\0';
                /* The matches, counted in the index itself (one entry per
                 * user) up to the cap: without a status that is the total. */
                r = search_count(s, phrase, &known.n);
                if (r < 0)
                        return r;
                broad = known.n > STORE_COUNT_CAP;
                known.capped = broad;
                have_known = !statuses[q->status];
                /* Up to the cap the page is cut from the matches; more are
                 * not worth gathering and sorting for one page: the sort
                 * order's index is walked instead, each row tested (below),
                 * and with matches that dense a page comes soon. */
                if (!broad) {
                        r = where_add(where, sizeof(where),
                                      "u.id IN (SELECT id FROM server_users_search"
                                      " WHERE server_users_search MATCH ?1)");
                        if (r >= 0)
                                r = args_text(&a, phrase);
                }
        }
        if (q->search && q->search[0] && a.n == 0) {
                /* Too short for trigrams, or too many matches: LIKE, '\'
                 * escaping its pattern characters (a scan, stopped by the
                 * page's LIMIT). */
                size_t j = 0;
                pattern[j++] = '%';
                for (const char *p = q->search; *p && j < sizeof(pattern) - 3; p++) {
                        if (*p == '%' || *p == '_' || *p == '\\')
                                pattern[j++] = '\\';
                        pattern[j++] = *p;
                }
                pattern[j++] = '%';
                pattern[j] = '\0';
                /* On PostgreSQL at any length: ILIKE, which the pg_trgm
                 * indexes serve from three characters on. */
                r = where_add(where, sizeof(where),
                              s->be->kind == DB_PG ? "(u.username ILIKE ?1 ESCAPE '\\'"
                                                     " OR u.email ILIKE ?1 ESCAPE '\\')"
                                                   : "(u.username LIKE ?1 ESCAPE '\\'"
                                                     " OR u.email LIKE ?1 ESCAPE '\\')");
                if (r >= 0)
                        r = args_text(&a, pattern);
        }
        if (r >= 0 && statuses[q->status])
                r = where_add(where, sizeof(where), statuses[q->status]);
        if (r < 0)
                return r;
        snprintf(order, sizeof(order), "%s %s, u.rowid %s", sorts[q->sort],
                 q->ascending ? "ASC" : "DESC", q->ascending ? "ASC" : "DESC");
        return paged_list(
                s,
                "SELECT u.id AS id, u.username AS username, u.email AS email,"
                " u.confirmed AS confirmed, u.blocked AS blocked,"
                " coalesce(u.last_seen, '') AS last_seen, u.created_at AS created_at,"
                " u.devices AS devices",
                "server_users u", where, "u.rowid", order, &a, &q->page, have_known ? &known : NULL,
                q->search && q->search[0] ? NULL : user_totals[q->status], ret, ret_total);
}

static const struct db_sql sql_taken_other = {
        "SELECT EXISTS (SELECT 1 FROM server_users WHERE username = ?1 AND id <> ?3),"
        " EXISTS (SELECT 1 FROM server_users WHERE email = ?2 AND id <> ?3)"};
static const struct db_sql sql_user_insert_confirmed = {
        "INSERT INTO server_users (id, username, email, password_hash, confirmed, blocked,"
        " created_at) VALUES (?1, ?2, ?3, ?4, 1, 0, ?5)"};
static const struct db_sql sql_user_edit = {
        "UPDATE server_users SET username = ?2, email = ?3 WHERE id = ?1"};
static const struct db_sql sql_user_confirm = {
        "UPDATE server_users SET confirmed = 1 WHERE id = ?1"};
static const struct db_sql sql_user_block = {"UPDATE server_users SET blocked = ?2 WHERE id = ?1"};
static const struct db_sql sql_user_password = {
        "UPDATE server_users SET password_hash = ?2 WHERE id = ?1"};
static const struct db_sql sql_user_tokens_delete = {
        "DELETE FROM server_email_tokens WHERE user_id = ?1 AND purpose = ?2"};
static const struct db_sql sql_user_sessions_delete = {
        "DELETE FROM server_sessions WHERE scope = '" STORE_SESSION_USER "' AND subject_id = ?1"};

/* -EEXIST (and which) when another user has username or email. */
static int check_taken_other(struct db_conn *c, const char *id, const char *username,
                             const char *email, bool *ret_email_taken)
{
        _cleanup_stmt_ struct db_stmt *st = db_stmt(c, &sql_taken_other);
        int rc;

        if (!st)
                return -EIO;
        db_bind_text(st, 1, username);
        db_bind_text(st, 2, email);
        db_bind_text(st, 3, id);
        rc = db_step(st);
        if (rc != DB_ROW)
                return db_fail(c, rc, "check account names");
        if (!(int)db_column_int64(st, 0) && !(int)db_column_int64(st, 1))
                return 0;
        if (ret_email_taken)
                *ret_email_taken = !(int)db_column_int64(st, 0);
        return -EEXIST;
}

int store_console_user_create(struct store *s, const char *id, const char *username,
                              const char *email, const char *password_hash, bool *ret_email_taken)
{
        struct db_conn *c;
        char now[21];
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        store_now(now);
        r = check_taken_other(c, id, username, email, ret_email_taken);
        if (r >= 0)
                r = STORE_RUN(c, &sql_user_insert_confirmed, "create user", id, username, email,
                              password_hash, now);
        return store_write_end(s, c, r < 0 ? r : 0, true);
}

/* Run one UPDATE of a user alone; -ENOENT when no row changed. */
static int user_update(struct db_conn *c, const struct db_sql *sql, const char *what,
                       const char *id, const char *value)
{
        int r = STORE_RUN(c, sql, what, id, value);
        return r == 0 ? -ENOENT : r;
}

int store_console_user_edit(struct store *s, const char *id, const char *username,
                            const char *email, bool *ret_email_taken)
{
        struct db_conn *c;
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        r = check_taken_other(c, id, username, email, ret_email_taken);
        if (r >= 0)
                r = STORE_RUN(c, &sql_user_edit, "edit user", id, username, email);
        if (r == 0)
                r = -ENOENT;
        return store_write_end(s, c, r < 0 ? r : 0, true);
}

int store_console_user_confirm(struct store *s, const char *id)
{
        struct db_conn *c;
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        r = STORE_RUN(c, &sql_user_confirm, "confirm user", id);
        if (r == 0)
                r = -ENOENT;
        if (r >= 0)
                r = STORE_RUN(c, &sql_user_tokens_delete, "drop confirmation links", id,
                              STORE_TOKEN_CONFIRM);
        return store_write_end(s, c, r < 0 ? r : 0, true);
}

int store_console_user_block(struct store *s, const char *id, bool blocked)
{
        struct db_conn *c;
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        r = user_update(c, &sql_user_block, "block user", id, blocked ? "1" : "0");
        if (r >= 0 && blocked)
                r = STORE_RUN(c, &sql_user_sessions_delete, "end user sessions", id);
        return store_write_end(s, c, r < 0 ? r : 0, true);
}

int store_console_user_password(struct store *s, const char *id, const char *password_hash)
{
        struct db_conn *c;
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        r = user_update(c, &sql_user_password, "set user password", id, password_hash);
        if (r >= 0)
                r = STORE_RUN(c, &sql_user_sessions_delete, "end user sessions", id);
        if (r >= 0)
                r = STORE_RUN(c, &sql_user_tokens_delete, "drop reset links", id,
                              STORE_TOKEN_RESET);
        return store_write_end(s, c, r < 0 ? r : 0, true);
}

static const struct db_sql sql_user_shas = {
        "SELECT DISTINCT sha256 FROM server_blob_refs WHERE user_id = ?1"};
/* Everything a user owns, children first, the user row last. */
static const struct db_sql sql_user_delete[] = {
        {"DELETE FROM server_sessions WHERE scope = '" STORE_SESSION_USER "' AND subject_id = ?1"},
        {"DELETE FROM server_email_tokens WHERE user_id = ?1"},
        {"DELETE FROM server_blob_refs WHERE user_id = ?1"},
        {"DELETE FROM server_idempotency_keys WHERE user_id = ?1"},
        {"DELETE FROM server_tombstones WHERE user_id = ?1"},
        {"DELETE FROM server_revisions WHERE device_id IN (SELECT id FROM server_devices WHERE "
         "user_id = ?1)"},
        {"DELETE FROM server_ops WHERE user_id = ?1"},
        {"DELETE FROM server_user_devices WHERE user_id = ?1"},
        {"DELETE FROM server_devices WHERE user_id = ?1"},
        {"DELETE FROM server_audit_log WHERE user_id = ?1"},
        {"UPDATE server_invitations SET used_by = NULL WHERE used_by = ?1"},
        {"DELETE FROM server_users WHERE id = ?1"},
};

static int user_shas(struct db_conn *c, const char *id, char (**ret)[65], size_t *ret_n)
{
        _cleanup_stmt_ struct db_stmt *st = db_stmt(c, &sql_user_shas);
        char(*list)[65] = NULL;
        size_t n = 0, cap = 0;
        int rc;

        if (!st)
                return -EIO;
        db_bind_text(st, 1, id);
        while ((rc = db_step(st)) == DB_ROW) {
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 16;
                        char(*nl)[65] = reallocarray(list, ncap, sizeof(*nl));
                        if (!nl) {
                                free(list);
                                return -ENOMEM;
                        }
                        list = nl;
                        cap = ncap;
                }
                snprintf(list[n++], 65, "%s", db_column_text(st, 0));
        }
        if (rc != DB_DONE) {
                free(list);
                return db_fail(c, rc, "list user blobs");
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

int store_console_user_delete(struct store *s, const char *id, char (**ret_shas)[65], size_t *ret_n)
{
        char(*shas)[65] = NULL;
        struct db_conn *c;
        size_t n = 0;
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        r = user_shas(c, id, &shas, &n);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(sql_user_delete); i++) {
                /* Each query is static: the cache keys on it. */
                r = STORE_RUN(c, &sql_user_delete[i], "delete user", id);
                if (r == 0 && i == ELEMENTSOF(sql_user_delete) - 1)
                        r = -ENOENT;
        }
        r = store_write_end(s, c, r < 0 ? r : 0, true);
        if (r < 0) {
                free(shas);
                return r;
        }
        *ret_shas = shas;
        *ret_n = n;
        return 0;
}

/* --- devices ---------------------------------------------------------------------- */

#define DEVICE_COLUMNS                                                                             \
        "SELECT d.id AS id, d.name AS name, d.user_id AS user_id,"                                 \
        " coalesce(u.username, '') AS user, d.vault_id AS vault_id,"                               \
        " coalesce(d.client_version, '') AS client_version, coalesce(d.last_ip, '') AS last_ip,"   \
        " coalesce(d.last_seen, '') AS last_seen, coalesce(d.revoked_at, '') AS revoked_at,"       \
        " d.created_at AS created_at,"                                                             \
        " coalesce(d.token_prefix, '') || '…' || coalesce(d.token_suffix, '') AS token_hint"
#define DEVICE_FROM "server_devices d LEFT JOIN server_users u ON u.id = d.user_id"

int store_console_devices(struct store *s, const struct store_device_query *q,
                          struct store_rows *ret, struct store_total *ret_total)
{
        /* Filtered by status only, the totals are counters. */
        static const char *const device_totals[] = {
                [STORE_DEVICE_ANY] = "SELECT value FROM server_meta WHERE key = 'devices'",
                [STORE_DEVICE_ACTIVE] =
                        "SELECT sum(CASE key WHEN 'devices' THEN value ELSE -value END)"
                        " FROM server_meta WHERE key IN ('devices', 'devices_revoked')",
                [STORE_DEVICE_REVOKED] =
                        "SELECT value FROM server_meta WHERE key = 'devices_revoked'",
        };
        struct console_args a = {0};
        char where[512] = "", cond[128];
        int r = 0;

        if (q->user && q->user[0]) {
                r = args_text(&a, q->user);
                snprintf(cond, sizeof(cond),
                         "d.user_id IN (?%d, (SELECT id FROM server_users WHERE username = ?%d))",
                         r, r);
                if (r >= 0)
                        r = where_add(where, sizeof(where), cond);
        }
        if (r >= 0 && q->vault_id && q->vault_id[0]) {
                r = args_text(&a, q->vault_id);
                snprintf(cond, sizeof(cond), "d.vault_id = ?%d", r);
                if (r >= 0)
                        r = where_add(where, sizeof(where), cond);
        }
        if (r >= 0 && q->client_version && q->client_version[0]) {
                r = args_text(&a, q->client_version);
                snprintf(cond, sizeof(cond), "d.client_version = ?%d", r);
                if (r >= 0)
                        r = where_add(where, sizeof(where), cond);
        }
        if (r >= 0 && q->status != STORE_DEVICE_ANY)
                r = where_add(where, sizeof(where),
                              q->status == STORE_DEVICE_ACTIVE
                                      ? "coalesce(d.revoked_at, '') = ''"
                                      : "coalesce(d.revoked_at, '') <> ''");
        if (r < 0)
                return r;
        return paged_list(s, DEVICE_COLUMNS, DEVICE_FROM, where, "d.rowid",
                          "d.created_at DESC, d.rowid DESC", &a, &q->page, NULL,
                          a.n ? NULL : device_totals[q->status], ret, ret_total);
}

static const struct db_sql sql_device_revoked = {
        "SELECT coalesce(revoked_at, '') <> '' FROM server_devices WHERE id = ?1"};
static const struct db_sql sql_device_delete_links = {
        "DELETE FROM server_user_devices WHERE device_id = ?1"};
static const struct db_sql sql_device_delete = {"DELETE FROM server_devices WHERE id = ?1"};

int store_console_device_delete(struct store *s, const char *id)
{
        struct db_conn *c;
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        {
                _cleanup_stmt_ struct db_stmt *st = db_stmt(c, &sql_device_revoked);
                if (!st)
                        r = -EIO;
                else {
                        db_bind_text(st, 1, id);
                        int rc = db_step(st);
                        r = rc == DB_DONE                 ? -ENOENT
                            : rc != DB_ROW                ? db_fail(c, rc, "find device")
                            : (int)db_column_int64(st, 0) ? 0
                                                          : -EPERM;
                }
        }
        if (r >= 0)
                r = STORE_RUN(c, &sql_device_delete_links, "delete device links", id);
        if (r >= 0)
                r = STORE_RUN(c, &sql_device_delete, "delete device", id);
        return store_write_end(s, c, r < 0 ? r : 0, true);
}

/* --- vaults -------------------------------------------------------------------------- */

/* Per-vault figures from the indexes on (user_id, vault_id, …). */
#define VAULT_COLUMNS                                                                              \
        "SELECT v.user_id AS user_id, coalesce(u.username, '') AS username,"                       \
        " v.vault_id AS vault_id, v.devices AS devices, v.active_devices AS active_devices,"       \
        " (SELECT count(*) FROM server_ops o WHERE o.user_id = v.user_id"                          \
        "   AND o.vault_id = v.vault_id) AS ops,"                                                  \
        " (SELECT coalesce(max(server_sequence), 0) FROM server_ops o"                             \
        "   WHERE o.user_id = v.user_id AND o.vault_id = v.vault_id) AS highest_sequence,"         \
        " (SELECT count(*) FROM server_blob_refs b WHERE b.user_id = v.user_id"                    \
        "   AND b.vault_id = v.vault_id) AS blobs,"                                                \
        " (SELECT coalesce(sum(size), 0) FROM server_blob_refs b WHERE b.user_id = v.user_id"      \
        "   AND b.vault_id = v.vault_id) AS blob_bytes,"                                           \
        " v.last_activity AS last_activity"
#define VAULT_FROM                                                                                 \
        "(SELECT user_id, vault_id, count(*) AS devices,"                                          \
        "   sum(CASE WHEN coalesce(revoked_at, '') = '' THEN 1 ELSE 0 END) AS active_devices,"     \
        "   coalesce(max(last_seen), '') AS last_activity"                                         \
        "   FROM server_devices WHERE user_id IS NOT NULL AND vault_id IS NOT NULL%s"              \
        "   GROUP BY user_id, vault_id) v LEFT JOIN server_users u ON u.id = v.user_id"

/* The same for one page: its (user, vault) pairs are cut from the
 * covering (user_id, vault_id) index first, then only their devices are
 * read and grouped.  (A join: SQLite 3.40 loses the rows of a row-value
 * IN over a subquery with OFFSET.) */
#define VAULT_PAGE_FROM                                                                            \
        "(SELECT d.user_id AS user_id, d.vault_id AS vault_id, count(*) AS devices,"               \
        "   sum(CASE WHEN coalesce(d.revoked_at, '') = '' THEN 1 ELSE 0 END) AS active_devices,"   \
        "   coalesce(max(d.last_seen), '') AS last_activity"                                       \
        "   FROM (SELECT DISTINCT user_id, vault_id FROM server_devices"                           \
        "     WHERE user_id IS NOT NULL AND vault_id IS NOT NULL%s"                                \
        "     ORDER BY user_id, vault_id LIMIT ? OFFSET ?) k"                                      \
        "   JOIN server_devices d ON d.user_id = k.user_id AND d.vault_id = k.vault_id"            \
        "   GROUP BY d.user_id, d.vault_id) v LEFT JOIN server_users u ON u.id = v.user_id"

static const struct db_sql sql_vault_total = {"SELECT value FROM server_meta WHERE key = 'vaults'"};
static const struct db_sql sql_vault_total_user = {
        "SELECT count(*) FROM (SELECT DISTINCT vault_id FROM server_devices"
        " WHERE user_id = ?1 AND vault_id IS NOT NULL) AS vaults"};

/* Vaults are groups of devices: the page is cut from the grouping (in the
 * order of the (user_id, vault_id) index) before any figure is computed,
 * and the total is the trigger-kept counter (or one user's few). */
int store_console_vaults(struct store *s, const char *user_id, const struct store_page *page,
                         struct store_rows *ret, struct store_total *ret_total)
{
        struct console_args a = {0};
        char sql[CONSOLE_SQL_MAX] = "";
        bool one = user_id && user_id[0];
        struct db_conn *c;
        int r;

        if (one && args_text(&a, user_id) < 0)
                return -E2BIG;
        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        *ret_total = (struct store_total){0};
        r = query_int(c, db_sql_text(c, one ? &sql_vault_total_user : &sql_vault_total), &a,
                      &ret_total->n);
        if (r >= 0)
                r = sql_add(sql, "%s FROM " VAULT_PAGE_FROM " ORDER BY v.user_id, v.vault_id",
                            VAULT_COLUMNS, one ? " AND user_id = ?1" : "");
        if (r >= 0)
                r = args_int(&a, page->per_page);
        if (r >= 0)
                r = args_int(&a, (page->page - 1) * page->per_page);
        if (r >= 0)
                r = query_rows(c, sql, &a, ret);
        store_read_end(s, c);
        return r < 0 ? r : 0;
}

int store_console_vault(struct store *s, const char *user_id, const char *vault_id,
                        struct store_rows *ret_vault, struct store_rows *ret_devices)
{
        struct console_args a = {0};
        char sql[CONSOLE_SQL_MAX] = "";
        struct store_rows v = {0};
        struct db_conn *c;
        int r;

        if (args_text(&a, user_id) < 0 || args_text(&a, vault_id) < 0)
                return -E2BIG;
        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        r = sql_add(sql, "%s FROM " VAULT_FROM, VAULT_COLUMNS,
                    " AND user_id = ?1 AND vault_id = ?2");
        if (r >= 0)
                r = query_rows(c, sql, &a, &v);
        if (r >= 0 && v.n_rows == 0)
                r = -ENOENT;
        if (r >= 0) {
                sql[0] = '\0';
                r = sql_add(sql, DEVICE_COLUMNS " FROM " DEVICE_FROM
                                                " WHERE d.user_id = ?1 AND d.vault_id = ?2"
                                                " ORDER BY d.created_at DESC, d.id");
        }
        if (r >= 0)
                r = query_rows(c, sql, &a, ret_devices);
        store_read_end(s, c);
        if (r < 0) {
                store_rows_done(&v);
                return r;
        }
        *ret_vault = v;
        return 0;
}

/* --- audit log ----------------------------------------------------------------------- */

int store_console_audit(struct store *s, const struct store_audit_query *q, struct store_rows *ret,
                        struct store_total *ret_total)
{
        struct console_args a = {0};
        char where[1024] = "", cond[512];
        int r = 0;

        if (q->events) {
                size_t len = (size_t)snprintf(cond, sizeof(cond), "a.event_type IN (");
                for (size_t i = 0; q->events[i] && r >= 0; i++) {
                        r = args_text(&a, q->events[i]);
                        if (r >= 0)
                                len += (size_t)snprintf(cond + len, sizeof(cond) - len, "%s?%d",
                                                        i ? ", " : "", r);
                        if (len >= sizeof(cond) - 2)
                                r = -E2BIG;
                }
                if (r >= 0 && !q->events[0])
                        len += (size_t)snprintf(cond + len, sizeof(cond) - len, "NULL");
                snprintf(cond + len, sizeof(cond) - len, ")");
                if (r >= 0)
                        r = where_add(where, sizeof(where), cond);
        }
        struct {
                const char *value, *fmt;
        } simple[] = {
                {q->user_id, "a.user_id = ?%d"},
                {q->device_id, "a.device_id = ?%d"},
                {q->from, "a.created_at >= ?%d"},
                {q->to, "a.created_at < ?%d"},
        };
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(simple); i++) {
                if (!simple[i].value || !simple[i].value[0])
                        continue;
                r = args_text(&a, simple[i].value);
                snprintf(cond, sizeof(cond), simple[i].fmt, r);
                if (r >= 0)
                        r = where_add(where, sizeof(where), cond);
        }
        if (r < 0)
                return r;
        return paged_list(
                s,
                "SELECT a.id AS id, a.event_type AS event, a.user_id AS user_id,"
                " (SELECT username FROM server_users u WHERE u.id = a.user_id) AS username,"
                " a.device_id AS device_id, a.ip AS ip, a.message AS message,"
                " a.created_at AS created_at",
                "server_audit_log a", where, "a.id", "a.id DESC", &a, &q->page, NULL,
                a.n ? NULL : "SELECT value FROM server_meta WHERE key = 'audit_entries'", ret,
                ret_total);
}

/* --- administrators ----------------------------------------------------------------- */

static const struct db_sql sql_admins = {
        "SELECT id, username, created_at, last_login FROM server_admins ORDER BY username"};
static const struct db_sql sql_admin_insert_new = {
        "INSERT INTO server_admins (id, username, password_hash, created_at, updated_at)"
        " VALUES (?1, ?2, ?3, ?4, ?4)"};
static const struct db_sql sql_admin_count = {"SELECT count(*) FROM server_admins"};
static const struct db_sql sql_admin_delete = {"DELETE FROM server_admins WHERE id = ?1"};
static const struct db_sql sql_admin_sessions_delete = {
        "DELETE FROM server_sessions WHERE scope = '" STORE_SESSION_ADMIN "' AND subject_id = ?1"};
static const struct db_sql sql_admin_login = {
        "UPDATE server_admins SET last_login = ?2 WHERE id = ?1"};

int store_console_admins(struct store *s, struct store_rows *ret)
{
        struct db_conn *c;
        int r;

        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        r = query_rows(c, db_sql_text(c, &sql_admins), NULL, ret);
        store_read_end(s, c);
        return r;
}

int store_console_admin_create(struct store *s, const char *id, const char *username,
                               const char *password_hash)
{
        char now[21];
        int r;

        store_now(now);
        r = STORE_WRITE_ONE(s, &sql_admin_insert_new, "add admin", id, username, password_hash,
                            now);
        return r < 0 ? r : 0;
}

int store_console_admin_delete(struct store *s, const char *id, const char *self_id)
{
        struct db_conn *c;
        int64_t n = 0;
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        r = query_int(c, db_sql_text(c, &sql_admin_count), NULL, &n);
        if (r >= 0)
                r = STORE_RUN(c, &sql_admin_delete, "remove admin", id);
        if (r == 0)
                r = -ENOENT;
        else if (r > 0 && n <= 1)
                r = -EPERM; /* rolled back: never zero administrators */
        else if (r > 0 && strcmp(id, self_id) == 0)
                r = -ECANCELED; /* rolled back: another administrator must do it */
        if (r >= 0)
                r = STORE_RUN(c, &sql_admin_sessions_delete, "end admin sessions", id);
        return store_write_end(s, c, r < 0 ? r : 0, true);
}

int store_console_admin_login(struct store *s, const char *id)
{
        char now[21];
        int r;

        store_now(now);
        r = STORE_WRITE_ONE(s, &sql_admin_login, "record admin login", id, now);
        return r < 0 ? r : 0;
}

/* --- invitations ------------------------------------------------------------------- */

static const struct db_sql sql_invitation_insert = {
        "INSERT INTO server_invitations (id, token_hash, email, created_by, created_at,"
        " expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"};
static const struct db_sql sql_invitation_delete = {
        "DELETE FROM server_invitations WHERE id = ?1 AND used_at IS NULL"};
static const struct db_sql sql_invitation_get = {
        "SELECT email, expires_at FROM server_invitations WHERE token_hash = ?1"
        " AND used_at IS NULL"};

int store_invitation_create(struct store *s, const char *id, const char *token_hash,
                            const char *email, const char *created_by, const char *expires_at)
{
        char now[21];
        int r;

        store_now(now);
        r = STORE_WRITE_ONE(s, &sql_invitation_insert, "create invitation", id, token_hash, email,
                            created_by, now, expires_at);
        return r < 0 ? r : 0;
}

int store_invitations(struct store *s, const struct store_page *page, struct store_rows *ret,
                      struct store_total *ret_total)
{
        struct console_args a = {0};

        return paged_list(
                s,
                "SELECT i.id AS id, i.email AS email,"
                " (SELECT username FROM server_admins ad WHERE ad.id = i.created_by)"
                " AS created_by, i.created_at AS created_at, i.expires_at AS expires_at,"
                " i.used_at AS used_at,"
                " (SELECT username FROM server_users u WHERE u.id = i.used_by) AS used_by",
                "server_invitations i", "", "i.rowid", "i.created_at DESC, i.rowid DESC", &a, page,
                NULL, NULL, ret, ret_total);
}

int store_invitation_delete(struct store *s, const char *id)
{
        int r = STORE_WRITE_ONE(s, &sql_invitation_delete, "withdraw invitation", id);
        return r == 0 ? -ENOENT : r < 0 ? r : 0;
}

struct invitation_row {
        char *email;
        time_t expires;
};

static int invitation_read(struct db_stmt *st, void *ret)
{
        struct invitation_row *row = ret;

        if (db_column_type(st, 0) != DB_NULL) {
                row->email = db_column_strdup(st, 0);
                if (!row->email)
                        return -ENOMEM;
        }
        if (time_parse_rfc3339(db_column_text(st, 1), &row->expires) < 0)
                row->expires = 0;
        return 0;
}

int store_invitation_check(struct store *s, const char *token_hash, time_t now, char **ret_email)
{
        struct invitation_row row = {0};
        int r = STORE_READ_ONE(s, &sql_invitation_get, "get invitation", invitation_read, &row,
                               token_hash);

        if (r < 0)
                return r;
        if (row.expires <= now) {
                free(row.email);
                return -ETIME;
        }
        *ret_email = row.email;
        return 0;
}
