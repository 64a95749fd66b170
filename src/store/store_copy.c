/* SPDX-License-Identifier: MIT */
/*
 * store_copy(): every table of an SQLite store into an empty store of the
 * same schema version, batch by batch, then the checks that prove the copy
 * whole.  Rows travel as text (NULL stays NULL), which both back ends read
 * back into their integer and text columns unchanged.  Columns are named
 * by the source's own rows, so a column the target generates itself (the
 * rowid identity of users, devices and invitations on PostgreSQL) is left
 * to the target; rows are copied in rowid order, so those come out in the
 * same order as in the source.
 */
#include "store/store_copy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/cleanup.h"

/* Every table of the schema that holds rows of its own, in copy order.
 * Not copied: server_meta (its counters are kept by the target's
 * triggers while rows arrive; the high-water mark and the number of ops,
 * which pushes keep, are set after),
 * SQLite's server_users_search (PostgreSQL searches with trigram indexes)
 * and the back ends' own bookkeeping (sqlite_sequence, verstak_schema). */
static const char *const copy_tables[] = {
        "server_users",        "server_devices",    "server_user_devices",
        "server_ops",          "server_tombstones", "server_idempotency_keys",
        "server_email_tokens", "server_sessions",   "server_revisions",
        "server_blobs",        "server_blob_refs",  "server_audit_log",
        "server_smtp_config",  "server_admins",     "server_invitations",
};

#define N_COPY_TABLES (sizeof(copy_tables) / sizeof(copy_tables[0]))

/* The longest statement text built here. */
#define COPY_SQL_MAX 1024

static const struct db_sql sql_last_sequence = {
        "SELECT value FROM server_meta WHERE key = 'last_sequence'"};
static const struct db_sql sql_set_last_sequence = {
        "UPDATE server_meta SET value = ?1 WHERE key = 'last_sequence'"};
static const struct db_sql sql_count_ops = {
        "UPDATE server_meta SET value = (SELECT count(*) FROM server_ops)"
        " WHERE key = 'ops_count'"};
static const struct db_sql sql_meta = {"SELECT key, value FROM server_meta ORDER BY key"};
static const struct db_sql sql_meta_value = {"SELECT value FROM server_meta WHERE key = ?1"};
static const struct db_sql sql_max_sequence = {
        "SELECT coalesce(max(server_sequence), 0) FROM server_ops"};

/* Ids the target hands out itself (audit entries, revisions) continue
 * after the copied ones.  SQLite's AUTOINCREMENT follows inserted ids on
 * its own. */
static const char pg_identity_sql[] =
        "SELECT setval(pg_get_serial_sequence('server_audit_log', 'id'), max(id))"
        "  FROM server_audit_log HAVING count(*) > 0;"
        "SELECT setval(pg_get_serial_sequence('server_revisions', 'id'), max(id))"
        "  FROM server_revisions HAVING count(*) > 0";

struct copy {
        struct db_conn *from; /* src's snapshot */
        struct store *to;
        unsigned batch_rows;
        store_copy_progress_fn progress;
        store_problem_fn problem;
        void *userdata;
        int64_t counts[N_COPY_TABLES];
        unsigned problems;
};

/* Rows in table on c, through a one-off statement. */
static int count_rows(struct db_conn *c, const char *table, int64_t *ret)
{
        _cleanup_stmt_free_ struct db_stmt *st = NULL;
        char sql[COPY_SQL_MAX];
        int r;

        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
        r = db_prepare(c, sql, &st);
        if (r < 0)
                return r;
        r = db_step(st);
        if (r != DB_ROW)
                return db_fail(c, r < 0 ? r : -EIO, "count rows");
        *ret = db_column_int64(st, 0);
        return 0;
}

/* Whether name is a plain column name (the source's file names them). */
static bool plain_name(const char *name)
{
        return name[0] && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(name);
}

/* "INSERT INTO table (a, b) VALUES (?1, ?2)" for the columns of sel;
 * -EINVAL for a column name that is not plain. */
static int insert_sql(struct db_stmt *sel, const char *table, char *out, size_t size)
{
        int n = db_column_count(sel), len;
        size_t o;

        for (int i = 0; i < n; i++)
                if (!plain_name(db_column_name(sel, i)))
                        return -EINVAL;
        len = snprintf(out, size, "INSERT INTO %s (", table);
        o = (size_t)len;
        for (int i = 0; i < n && o < size; i++)
                o += (size_t)snprintf(out + o, size - o, "%s\"%s\"", i ? ", " : "",
                                      db_column_name(sel, i));
        for (int i = 0; i < n && o < size; i++)
                o += (size_t)snprintf(out + o, size - o, "%s?%d", i ? ", " : ") VALUES (", i + 1);
        if (o < size)
                o += (size_t)snprintf(out + o, size - o, ")");
        return n > 0 && o < size ? 0 : -ENAMETOOLONG;
}

/* Bind the current row of sel to ins, column by column. */
static int bind_row(struct db_stmt *sel, struct db_stmt *ins)
{
        for (int i = 0, n = db_column_count(sel); i < n; i++) {
                const char *v = db_column_type(sel, i) == DB_NULL ? NULL : db_column_text(sel, i);
                if (db_bind_text(ins, i + 1, v) < 0)
                        return -EIO;
        }
        return 0;
}

/* Insert rows of sel into the target, starting at the row sel stands on,
 * up to cp->batch_rows of them in one transaction, through *ins (insert
 * prepared on the target's writer at the first batch).  *ret_step is
 * sel's next step result; *done counts the rows inserted. */
static int copy_batch(struct copy *cp, struct db_stmt *sel, const char *insert,
                      struct db_stmt **ins, int *ret_step, int64_t *done)
{
        struct db_conn *c;
        int step = DB_ROW, r;

        r = store_write_begin(cp->to, &c);
        if (r < 0)
                return r;
        if (!*ins)
                r = db_prepare_repeated(c, insert, ins);
        for (unsigned n = 0; r >= 0 && step == DB_ROW && n < cp->batch_rows; n++) {
                r = bind_row(sel, *ins);
                if (r >= 0)
                        r = db_fail(c, db_step(*ins), "insert a row");
                db_stmt_done(*ins);
                if (r >= 0) {
                        (*done)++;
                        step = db_step(sel);
                }
        }
        if (r >= 0 && step < 0)
                r = db_fail(cp->from, step, "read the source");
        r = store_write_end(cp->to, c, r, true);
        *ret_step = step;
        return r;
}

static int copy_table(struct copy *cp, size_t t)
{
        _cleanup_stmt_free_ struct db_stmt *sel = NULL, *ins = NULL;
        char sql[COPY_SQL_MAX];
        int64_t done = 0;
        int step, r;

        snprintf(sql, sizeof(sql), "SELECT * FROM %s ORDER BY rowid", copy_tables[t]);
        r = db_prepare(cp->from, sql, &sel);
        if (r < 0)
                return r;
        step = db_step(sel);
        if (step == DB_ROW) {
                r = insert_sql(sel, copy_tables[t], sql, sizeof(sql));
                if (r < 0)
                        return r;
        }
        while (step == DB_ROW) {
                r = copy_batch(cp, sel, sql, &ins, &step, &done);
                if (r < 0)
                        return r;
                if (cp->progress)
                        cp->progress(cp->userdata, copy_tables[t], done, cp->counts[t]);
        }
        if (step < 0)
                return db_fail(cp->from, step, "read the source");
        if (done == 0 && cp->progress)
                cp->progress(cp->userdata, copy_tables[t], 0, 0);
        return 0;
}

/* The high-water mark, the number of ops (which no trigger counts as
 * they arrive) and ids the target generates, after the rows. */
static int carry_sequences(struct copy *cp, int64_t *ret_last)
{
        char value[24];
        struct db_conn *c;
        int r;

        r = store_query_one(cp->from, &sql_last_sequence, "read the high-water mark",
                            store_row_int64, ret_last, NULL, 0);
        if (r < 0)
                return r;
        snprintf(value, sizeof(value), "%" PRId64, *ret_last);
        r = store_write_begin(cp->to, &c);
        if (r < 0)
                return r;
        r = STORE_RUN(c, &sql_set_last_sequence, "carry the high-water mark over", value);
        if (r == 0)
                r = db_fail(c, -EIO, "carry the high-water mark over (no row)");
        if (r >= 0)
                r = store_run(c, &sql_count_ops, "count the ops", NULL, 0);
        if (r == 0)
                r = db_fail(c, -EIO, "count the ops (no row)");
        if (r >= 0 && db_kind(c) == DB_PG)
                r = db_exec(c, pg_identity_sql);
        return store_write_end(cp->to, c, r, true);
}

static int report(struct copy *cp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int report(struct copy *cp, const char *fmt, ...)
{
        char line[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        cp->problems++;
        return cp->problem ? cp->problem(cp->userdata, line) : 0;
}

/* Every counter of the source against the target's (c, a snapshot). */
static int verify_counters(struct copy *cp, struct db_conn *c)
{
        _cleanup_stmt_ struct db_stmt *st = db_stmt(cp->from, &sql_meta);
        int r;

        if (!st)
                return -EIO;
        while ((r = db_step(st)) == DB_ROW) {
                const char *key = db_column_text(st, 0);
                int64_t want = db_column_int64(st, 1), got = 0;

                r = STORE_QUERY_ONE(c, &sql_meta_value, "read a counter", store_row_int64, &got,
                                    key);
                if (r == -ENOENT)
                        r = report(cp, "counter %s: %" PRId64 " in the source, none in the copy",
                                   key, want);
                else if (r >= 0 && got != want)
                        r = report(cp,
                                   "counter %s: %" PRId64 " in the source, %" PRId64 " in the copy",
                                   key, want, got);
                if (r < 0)
                        return r;
        }
        return db_fail(cp->from, r, "read the counters");
}

static int verify(struct copy *cp, int64_t last_sequence)
{
        struct db_conn *c;
        int64_t n = 0, max_sequence = 0;
        int r;

        r = store_read_begin(cp->to, &c);
        if (r < 0)
                return r;
        for (size_t t = 0; r >= 0 && t < N_COPY_TABLES; t++) {
                r = count_rows(c, copy_tables[t], &n);
                if (r >= 0 && n != cp->counts[t])
                        r = report(cp,
                                   "%s: %" PRId64 " rows in the source, %" PRId64 " in the copy",
                                   copy_tables[t], cp->counts[t], n);
        }
        if (r >= 0)
                r = verify_counters(cp, c);
        if (r >= 0)
                r = store_query_one(c, &sql_max_sequence, "read the newest sequence",
                                    store_row_int64, &max_sequence, NULL, 0);
        if (r >= 0 && max_sequence > last_sequence)
                r = report(cp,
                           "the newest sequence %" PRId64 " is above the high-water mark %" PRId64,
                           max_sequence, last_sequence);
        store_read_end(cp->to, c);
        return r;
}

int store_copy(struct store *src, struct store *dst, unsigned batch_rows,
               store_copy_progress_fn progress, store_problem_fn problem, void *userdata,
               struct store_copy_result *ret)
{
        struct copy cp = {.to = dst,
                          .batch_rows = batch_rows ? batch_rows : 1,
                          .progress = progress,
                          .problem = problem,
                          .userdata = userdata};
        struct store_copy_result res = {0};
        int r;

        if (src->be->kind != DB_SQLITE)
                return -EOPNOTSUPP;
        r = store_read_begin(src, &cp.from);
        if (r < 0)
                return r;
        for (size_t t = 0; r >= 0 && t < N_COPY_TABLES; t++) {
                r = count_rows(cp.from, copy_tables[t], &cp.counts[t]);
                res.rows += cp.counts[t];
        }
        for (size_t t = 0; r >= 0 && t < N_COPY_TABLES; t++) {
                r = copy_table(&cp, t);
                res.tables++;
        }
        if (r >= 0)
                r = carry_sequences(&cp, &res.last_sequence);
        if (r >= 0)
                r = verify(&cp, res.last_sequence);
        store_read_end(src, cp.from);
        if (r < 0)
                return r;
        *ret = res;
        return (int)cp.problems;
}
