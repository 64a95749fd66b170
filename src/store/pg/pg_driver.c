/* SPDX-License-Identifier: MIT */
/*
 * The PostgreSQL driver of db.h (libpq) and the PostgreSQL back end of
 * store_internal.h.
 *
 *  - Connections: one per reader of the pool and one writer per daemon,
 *    each opened with a bounded connect timeout, a statement timeout, UTC
 *    and UTF-8, and terse error messages (no DETAIL lines, which would
 *    carry values into the log).  A connection found broken when a
 *    transaction begins is reset once; its statements are prepared again.
 *  - Statements: portable text has its ?N parameters rewritten to $N, is
 *    prepared per connection under a generated name (PQprepare) on first
 *    use, and runs with text parameters and text results (the store's
 *    values are text and 64-bit integers).  A whole result is fetched at
 *    once: every query of the store is bounded (LIMIT, one scope).
 *  - Errors: SQLSTATE classes map to errno once, here.
 *  - Transactions: a reader's is REPEATABLE READ READ ONLY (one snapshot);
 *    the writer's is READ COMMITTED with lock_timeout bounded by the wait
 *    the caller has left, so a write lock held by another daemon is
 *    -EBUSY after the same bounded wait as on SQLite.
 */
#include "store/pg/pg.h"
#include "store/pg/pg_changes.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/pq_dl.h"
#include "util/text.h"

/* Connect timeout (seconds) and statement timeout (milliseconds). */
#define PG_CONNECT_TIMEOUT_S "5"
#define PG_STATEMENT_TIMEOUT "30000"
/* Most parameters of one statement. */
#define PG_MAX_PARAMS 64

/* PostgreSQL type OIDs (catalog/pg_type.h, stable across versions). */
#define PG_OID_BOOL    16
#define PG_OID_INT8    20
#define PG_OID_INT2    21
#define PG_OID_INT4    23
#define PG_OID_NUMERIC 1700

struct pg_conn {
        struct db_conn base;
        PGconn *pg;
        unsigned generation; /* bumped by each reset: prepare again */
        unsigned next_name;
        char errmsg[256];
};

struct pg_stmt {
        struct db_stmt base;
        char *sql;
        char name[24]; /* "" for a one-off statement (PQexecParams) */
        unsigned generation;
        bool prepared;
        int n_params;
        char *values[PG_MAX_PARAMS];
        PGresult *res;
        int n_rows, row;
        int64_t changes;
};

static struct pg_conn *conn_of(struct db_conn *c)
{
        return (struct pg_conn *)c;
}

static struct pg_stmt *stmt_of(struct db_stmt *st)
{
        return (struct pg_stmt *)st;
}

bool pg_is_url(const char *target)
{
        return strncmp(target, "postgresql://", 13) == 0 || strncmp(target, "postgres://", 11) == 0;
}

/* Keep the first line of msg as the connection's last error. */
static void set_error(struct pg_conn *c, const char *msg)
{
        size_t n = strcspn(msg ? msg : "", "\n");

        if (n >= sizeof(c->errmsg))
                n = sizeof(c->errmsg) - 1;
        memcpy(c->errmsg, msg ? msg : "", n);
        c->errmsg[n] = '\0';
}

/* The one mapping from a failed result to errno. */
static int result_errno(struct pg_conn *c, const PGresult *res)
{
        const char *state = res ? sym_PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

        set_error(c, res ? sym_PQresultErrorMessage(res) : sym_PQerrorMessage(c->pg));
        if (!res)
                return sym_PQstatus(c->pg) == CONNECTION_BAD ? -EIO : -ENOMEM;
        if (!state)
                return -EIO;
        if (strncmp(state, "23", 2) == 0) /* integrity constraint violation */
                return -EEXIST;
        if (strcmp(state, "40001") == 0 || /* serialization_failure */
            strcmp(state, "40P01") == 0 || /* deadlock_detected */
            strcmp(state, "55P03") == 0 || /* lock_not_available (lock_timeout) */
            strcmp(state, "57014") == 0)   /* query_canceled (statement_timeout) */
                return -EBUSY;
        if (strcmp(state, "53100") == 0) /* disk_full */
                return -ENOSPC;
        if (strcmp(state, "53200") == 0) /* out_of_memory */
                return -ENOMEM;
        if (strcmp(state, "25006") == 0 || /* read_only_sql_transaction */
            strncmp(state, "42501", 5) == 0 || strncmp(state, "28", 2) == 0)
                return -EACCES;
        return -EIO;
}

/* Rewrite ?N (and bare ?) to $N outside quoted text; *ret_n is the
 * highest parameter number. */
static char *rewrite(const char *sql, int *ret_n)
{
        size_t len = strlen(sql);
        char *out = malloc(len * 3 + 1), *o = out;
        char quote = 0;
        int n = 0, next = 0;

        if (!out)
                return NULL;
        for (const char *p = sql; *p; p++) {
                if (quote) {
                        if (*p == quote)
                                quote = 0;
                        *o++ = *p;
                        continue;
                }
                if (*p == '\'' || *p == '"') {
                        quote = *p;
                        *o++ = *p;
                        continue;
                }
                if (*p != '?') {
                        *o++ = *p;
                        continue;
                }
                int k;
                if (p[1] >= '0' && p[1] <= '9') {
                        char *end;
                        k = (int)strtol(p + 1, &end, 10);
                        p = end - 1;
                } else
                        k = next + 1;
                if (k > next)
                        next = k;
                if (k > n)
                        n = k;
                o += sprintf(o, "$%d", k);
        }
        *o = '\0';
        *ret_n = n;
        return out;
}

static int drv_prepare(struct db_conn *c, const char *sql, bool cached, struct db_stmt **ret)
{
        struct pg_conn *pc = conn_of(c);
        struct pg_stmt *st = calloc(1, sizeof(*st));

        if (!st)
                return -ENOMEM;
        st->sql = rewrite(sql, &st->n_params);
        if (!st->sql) {
                free(st);
                return -ENOMEM;
        }
        if (st->n_params > PG_MAX_PARAMS) {
                set_error(pc, "too many parameters");
                free(st->sql);
                free(st);
                return -EIO;
        }
        if (cached)
                snprintf(st->name, sizeof(st->name), "v%u", ++pc->next_name);
        st->base.conn = c;
        *ret = &st->base;
        return 0;
}

static void clear_values(struct pg_stmt *st)
{
        for (int i = 0; i < st->n_params; i++) {
                free(st->values[i]);
                st->values[i] = NULL;
        }
}

static void drv_reset(struct db_stmt *s)
{
        struct pg_stmt *st = stmt_of(s);

        sym_PQclear(st->res);
        st->res = NULL;
        st->n_rows = st->row = 0;
        st->changes = 0;
        clear_values(st);
}

static void drv_free(struct db_stmt *s)
{
        struct pg_stmt *st = stmt_of(s);

        drv_reset(s);
        free(st->sql);
        free(st);
}

static int drv_bind_text(struct db_stmt *s, int idx, const char *v)
{
        struct pg_stmt *st = stmt_of(s);
        char *copy = NULL;

        if (idx < 1 || idx > st->n_params)
                return -EIO;
        if (v && !(copy = strdup(v)))
                return -EIO;
        free(st->values[idx - 1]);
        st->values[idx - 1] = copy;
        return 0;
}

static int drv_bind_int64(struct db_stmt *s, int idx, int64_t v)
{
        char buf[24];

        snprintf(buf, sizeof(buf), "%" PRId64, v);
        return drv_bind_text(s, idx, buf);
}

static int drv_step(struct db_stmt *s)
{
        struct pg_stmt *st = stmt_of(s);
        struct pg_conn *c = conn_of(s->conn);

        if (!st->res) {
                if (st->name[0] && (!st->prepared || st->generation != c->generation)) {
                        PGresult *p = sym_PQprepare(c->pg, st->name, st->sql, 0, NULL);
                        if (sym_PQresultStatus(p) != PGRES_COMMAND_OK) {
                                int r = result_errno(c, p);
                                sym_PQclear(p);
                                return r;
                        }
                        sym_PQclear(p);
                        st->prepared = true;
                        st->generation = c->generation;
                }
                st->res =
                        st->name[0]
                                ? sym_PQexecPrepared(c->pg, st->name, st->n_params,
                                                     (const char *const *)st->values, NULL, NULL, 0)
                                : sym_PQexecParams(c->pg, st->sql, st->n_params, NULL,
                                                   (const char *const *)st->values, NULL, NULL, 0);
                switch (sym_PQresultStatus(st->res)) {
                case PGRES_TUPLES_OK:
                case PGRES_COMMAND_OK:
                        break;
                default: {
                        int r = result_errno(c, st->res);
                        sym_PQclear(st->res);
                        st->res = NULL;
                        return r;
                }
                }
                st->n_rows = sym_PQntuples(st->res);
                st->row = -1;
                st->changes = strtoll(sym_PQcmdTuples(st->res), NULL, 10);
        }
        if (st->row + 1 < st->n_rows) {
                st->row++;
                return DB_ROW;
        }
        return DB_DONE;
}

static int64_t drv_changes(struct db_stmt *s)
{
        return stmt_of(s)->changes;
}

static int drv_column_count(struct db_stmt *s)
{
        struct pg_stmt *st = stmt_of(s);
        return st->res ? sym_PQnfields(st->res) : 0;
}

static const char *drv_column_name(struct db_stmt *s, int col)
{
        struct pg_stmt *st = stmt_of(s);
        return st->res ? sym_PQfname(st->res, col) : "";
}

static bool has_value(struct pg_stmt *st, int col)
{
        return st->res && st->row >= 0 && st->row < st->n_rows && col < sym_PQnfields(st->res) &&
               !sym_PQgetisnull(st->res, st->row, col);
}

static enum db_type drv_column_type(struct db_stmt *s, int col)
{
        struct pg_stmt *st = stmt_of(s);

        if (!has_value(st, col))
                return DB_NULL;
        switch (sym_PQftype(st->res, col)) {
        case PG_OID_BOOL:
        case PG_OID_INT2:
        case PG_OID_INT4:
        case PG_OID_INT8:
                return DB_INT;
        case PG_OID_NUMERIC:
                return strchr(sym_PQgetvalue(st->res, st->row, col), '.') ? DB_TEXT : DB_INT;
        default:
                return DB_TEXT;
        }
}

static const char *drv_column_text(struct db_stmt *s, int col)
{
        struct pg_stmt *st = stmt_of(s);

        if (!has_value(st, col))
                return NULL;
        if (sym_PQftype(st->res, col) == PG_OID_BOOL)
                return sym_PQgetvalue(st->res, st->row, col)[0] == 't' ? "1" : "0";
        return sym_PQgetvalue(st->res, st->row, col);
}

static int64_t drv_column_int64(struct db_stmt *s, int col)
{
        const char *v = drv_column_text(s, col);
        return v ? strtoll(v, NULL, 10) : 0;
}

static int drv_exec(struct db_conn *dc, const char *sql)
{
        struct pg_conn *c = conn_of(dc);
        PGresult *res = sym_PQexec(c->pg, sql);
        int r = 0;

        if (sym_PQresultStatus(res) != PGRES_COMMAND_OK &&
            sym_PQresultStatus(res) != PGRES_TUPLES_OK)
                r = result_errno(c, res);
        sym_PQclear(res);
        return r;
}

/* col->piece answers the bytes in hex: the text protocol carries any
 * byte, and a piece may end inside a UTF-8 sequence. */
static int drv_read_text_piece(struct db_conn *c, const struct db_text_column *col, int64_t key,
                               uint64_t at, char *buf, size_t max, size_t *ret_len)
{
        _cleanup_stmt_ struct db_stmt *st = db_stmt(c, &col->piece);
        int r;

        if (!st)
                return -EIO;
        if (db_bind_int64(st, 1, key) < 0 || db_bind_int64(st, 2, (int64_t)at + 1) < 0 ||
            db_bind_int64(st, 3, (int64_t)max) < 0)
                return -EIO;
        r = db_step(st);
        if (r == DB_DONE)
                return -ENOENT;
        if (r < 0)
                return r;
        const char *hex = db_column_text(st, 0);
        size_t n = strlen(hex) / 2;
        if (n > max || hex_decode(hex, n, (uint8_t *)buf) < 0) {
                snprintf(conn_of(c)->errmsg, sizeof(conn_of(c)->errmsg),
                         "a piece of text came back malformed");
                return -EIO;
        }
        *ret_len = n;
        return 0;
}

static bool drv_in_transaction(struct db_conn *dc)
{
        PGTransactionStatusType t = sym_PQtransactionStatus(conn_of(dc)->pg);
        return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

static void drv_rollback(struct db_conn *dc)
{
        if (drv_in_transaction(dc))
                (void)drv_exec(dc, "ROLLBACK");
}

/* Reset a broken connection once (outside any transaction). */
static int revive(struct pg_conn *c)
{
        if (sym_PQstatus(c->pg) == CONNECTION_OK)
                return 0;
        log_warning("database: the connection to PostgreSQL is broken; reconnecting");
        sym_PQreset(c->pg);
        c->generation++;
        if (sym_PQstatus(c->pg) != CONNECTION_OK) {
                set_error(c, sym_PQerrorMessage(c->pg));
                return -EIO;
        }
        sym_PQsetErrorVerbosity(c->pg, PQERRORS_TERSE);
        return 0;
}

static int begin_once(struct db_conn *dc, enum db_txn txn, unsigned wait_ms)
{
        char sql[96];
        int r;

        if (txn == DB_TXN_READ)
                return drv_exec(dc, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        /* lock_timeout 0 would mean no limit. */
        snprintf(sql, sizeof(sql), "BEGIN; SET LOCAL lock_timeout = %u", wait_ms ? wait_ms : 1u);
        r = drv_exec(dc, sql);
        if (r < 0)
                drv_rollback(dc);
        return r;
}

static int drv_begin(struct db_conn *dc, enum db_txn txn, unsigned wait_ms)
{
        struct pg_conn *c = conn_of(dc);
        int r = revive(c);

        if (r < 0)
                return r;
        r = begin_once(dc, txn, wait_ms);
        /* A connection the server dropped while it sat idle (a restart,
         * a failover, pg_terminate_backend) is found broken only now, by
         * BEGIN: nothing has run yet, so reconnect and begin once more. */
        if (r < 0 && sym_PQstatus(c->pg) == CONNECTION_BAD) {
                r = revive(c);
                if (r >= 0)
                        r = begin_once(dc, txn, wait_ms);
        }
        return r;
}

static int drv_commit(struct db_conn *dc)
{
        return drv_exec(dc, "COMMIT");
}

static const char *drv_errmsg(struct db_conn *dc)
{
        struct pg_conn *c = conn_of(dc);
        return c->errmsg[0] ? c->errmsg : "unknown error";
}

static void drv_close(struct db_conn *dc)
{
        struct pg_conn *c = conn_of(dc);

        sym_PQfinish(c->pg);
        free(c);
}

static const struct db_driver pg_driver = DB_DRIVER_TABLE(DB_PG, "postgresql");

static int be_connect(struct store *s, bool writer, bool sync_full, struct db_conn **ret)
{
        /* Defaults first: a setting in the URL overrides them. */
        const char *const keys[] = {"connect_timeout", "options", "application_name",
                                    "client_encoding", "dbname",  NULL};
        const char *const values[] = {PG_CONNECT_TIMEOUT_S,
                                      "-c statement_timeout=" PG_STATEMENT_TIMEOUT
                                      " -c TimeZone=UTC",
                                      "verstak-sync-server",
                                      "UTF8",
                                      s->target,
                                      NULL};
        struct pg_conn *c;
        int r;

        (void)writer;
        (void)sync_full; /* durability is the server's synchronous_commit */
        r = pq_dl_open();
        if (r < 0)
                return r;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->base.drv = &pg_driver;
        c->pg = sym_PQconnectdbParams(keys, values, 1);
        if (!c->pg) {
                free(c);
                return -ENOMEM;
        }
        if (sym_PQstatus(c->pg) != CONNECTION_OK) {
                /* libpq's message names host and database, never the password. */
                set_error(c, sym_PQerrorMessage(c->pg));
                log_error("database: cannot connect to PostgreSQL: %s", c->errmsg);
                drv_close(&c->base);
                return -ECONNREFUSED;
        }
        sym_PQsetErrorVerbosity(c->pg, PQERRORS_TERSE);
        *ret = &c->base;
        return 0;
}

static int be_setup(struct store *s, const struct store_options *opts, unsigned *ret_migrated)
{
        return pg_migrate(s->writer, opts->no_migrate, ret_migrated);
}

static int be_checkpoint(struct db_conn *c)
{
        (void)c; /* nothing beside the database to flush */
        return 0;
}

static int be_scrub(struct db_conn *c)
{
        /* Rows deleted by PostgreSQL are reclaimed by its autovacuum; a
         * forced VACUUM would not overwrite them either. */
        (void)c;
        return 0;
}

static int be_backup(struct store *s, const char *dest_path)
{
        (void)s;
        (void)dest_path;
        log_error("database: a PostgreSQL database is backed up with pg_dump, not by this command");
        return -EOPNOTSUPP;
}

static int be_check(struct db_conn *c, store_problem_fn problem, void *userdata, unsigned *n)
{
        /* PostgreSQL checks its own pages (data checksums, amcheck); the
         * store's checks of the operation log follow. */
        (void)c;
        (void)problem;
        (void)userdata;
        (void)n;
        return 0;
}

static const struct db_sql sql_probe = {"SELECT 1"};

const struct store_backend store_backend_pg = {
        .kind = DB_PG,
        .connect = be_connect,
        .setup = be_setup,
        .schema_version = pg_schema_version,
        .checkpoint = be_checkpoint,
        .scrub = be_scrub,
        .backup = be_backup,
        .check = be_check,
        .probe = &sql_probe,
        .push_notify = pg_changes_push_notify,
};
