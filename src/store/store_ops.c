/* SPDX-License-Identifier: MIT */
/* Implementation of store/store_ops.h; see the invariants there. */
#include "store/store_ops.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_entity_key.h"
#include "store/store_internal.h"
#include "util/cleanup.h"
#include "util/json_writer.h"

/* Callers: store_push_ops. */
static const struct db_sql sql_idem_get = {
        "SELECT response_json FROM server_idempotency_keys"
        " WHERE user_id = ?1 AND vault_id = ?2 AND idempotency_key = ?3"};
static const struct db_sql sql_idem_put = {
        "INSERT INTO server_idempotency_keys (user_id, vault_id, idempotency_key, response_json,"
        " created_at) VALUES (?1, ?2, ?3, ?4, ?5)"};
/* Also store_pull_page, store_last_sequence. */
static const struct db_sql sql_last_seq_get = {
        "SELECT value FROM server_meta WHERE key = 'last_sequence'"};
/* The same in a push: on PostgreSQL the row stays locked until the push
 * commits, so pushes through every daemon take sequences one transaction
 * after the other (see store_ops.h).  SQLite's writer holds the database's
 * only write lock already. */
static const struct db_sql sql_last_seq_lock = {
        "SELECT value FROM server_meta WHERE key = 'last_sequence'",
        .pg = "SELECT value FROM server_meta WHERE key = 'last_sequence' FOR UPDATE"};
static const struct db_sql sql_last_seq_put = {
        "UPDATE server_meta SET value = ?1 WHERE key = 'last_sequence'"};
/* The number of ops, which pushes keep (deletes have a trigger; schema
 * version 9 says why inserts have none). */
static const struct db_sql sql_ops_count_add = {
        "UPDATE server_meta SET value = value + ?1 WHERE key = 'ops_count'"};
/* The newest conflicts first, at most ?7 (idx_server_ops_entity_key read
 * backwards, so the cost does not grow with the entity's history; the
 * text columns weed out other entities with the same key ?8). */
static const struct db_sql sql_conflicts = {
        "SELECT op_id, device_id, op_type, server_sequence, entity_type, entity_id FROM server_ops"
        " WHERE entity_key = ?8 AND user_id = ?1 AND vault_id = ?2 AND entity_type = ?3"
        " AND entity_id = ?4 AND server_sequence > ?5 AND device_id <> ?6"
        " AND op_type <> 'delete' ORDER BY server_sequence DESC LIMIT ?7"};
static const struct db_sql sql_op_insert = {
        "INSERT INTO server_ops (server_sequence, op_id, user_id, vault_id, device_id,"
        " entity_type, entity_id, op_type, payload_json, idempotency_key, client_sequence,"
        " last_seen_server_seq, created_at, pushed_at, entity_key)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        " ON CONFLICT (user_id, vault_id, op_id) DO NOTHING"};
static const struct db_sql sql_tombstone_put = {
        "INSERT INTO server_tombstones (user_id, vault_id, entity_type, entity_id, op_id,"
        " deleted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        " ON CONFLICT (user_id, vault_id, entity_type, entity_id)"
        " DO UPDATE SET op_id = excluded.op_id, deleted_at = excluded.deleted_at"};
static const struct db_sql sql_device_seen = {
        "UPDATE server_devices SET last_seen = ?2, last_ip = ?3 WHERE id = ?1"};
/* Callers: store_pull_page. */
static const struct db_sql sql_pull = {
        "SELECT op_id, device_id, entity_type, entity_id, op_type, payload_json, created_at,"
        " server_sequence FROM server_ops WHERE user_id = ?1 AND vault_id = ?2"
        " AND server_sequence > ?3 ORDER BY server_sequence LIMIT ?4"};
/* Callers: store_pull_range.  The payload of the op resumed (?5) is left
 * out: CASE reads the column only for the other rows, and op_payload
 * reads the piece wanted. */
static const struct db_sql sql_pull_range = {
        "SELECT op_id, device_id, entity_type, entity_id, op_type,"
        " CASE WHEN server_sequence = ?5 THEN '' ELSE payload_json END, created_at,"
        " server_sequence FROM server_ops WHERE user_id = ?1 AND vault_id = ?2"
        " AND server_sequence > ?3 AND server_sequence <= ?4 ORDER BY server_sequence"};
/* Callers: store_pull_range. */
static const struct db_text_column op_payload = {
        "server_ops",
        "payload_json",
        {.pg = "SELECT encode(substring(convert_to(payload_json, 'UTF8') FROM ?2 FOR ?3), 'hex')"
               " FROM server_ops WHERE server_sequence = ?1"}};
static const struct db_sql sql_scope_max = {
        "SELECT coalesce(max(server_sequence), 0) FROM server_ops"
        " WHERE user_id = ?1 AND vault_id = ?2"};
/* Callers: store_idempotency_expire. */
static const struct db_sql sql_idem_expire = {
        "DELETE FROM server_idempotency_keys WHERE created_at < ?1"};

static void conflict_free(struct store_conflict *c)
{
        free(c->op_id);
        free(c->device_id);
        free(c->op_type);
        free(c->entity_type);
        free(c->entity_id);
}

void store_push_result_done(struct store_push_result *r)
{
        if (!r)
                return;
        free(r->json);
        free(r->accepted);
        for (size_t i = 0; i < r->n_conflicts; i++)
                conflict_free(&r->conflicts[i]);
        free(r->conflicts);
        memset(r, 0, sizeof(*r));
}

int store_push_result_json(const struct store_op_in *ops, const struct store_push_result *res,
                           char **ret_json)
{
        /* Written straight into one buffer (util/json_writer.h): no tree
         * of allocations per op on every push. */
        struct json_writer w;

        json_writer_init(&w, 64 + res->n_accepted * 48 + res->n_conflicts * 192);
        json_writer_begin_object(&w);
        json_writer_key(&w, "accepted");
        json_writer_begin_array(&w);
        for (size_t i = 0; i < res->n_accepted; i++)
                json_writer_string(&w, ops[res->accepted[i]].op_id);
        json_writer_end_array(&w);
        json_writer_key(&w, "conflicts");
        json_writer_begin_array(&w);
        for (size_t i = 0; i < res->n_conflicts; i++) {
                const struct store_conflict *c = &res->conflicts[i];
                json_writer_begin_object(&w);
                json_writer_member_string(&w, "op_id", c->op_id);
                json_writer_member_string(&w, "device_id", c->device_id);
                json_writer_member_string(&w, "op_type", c->op_type);
                json_writer_member_int(&w, "server_sequence", c->server_sequence);
                json_writer_member_string(&w, "entity_type", c->entity_type);
                json_writer_member_string(&w, "entity_id", c->entity_id);
                json_writer_end_object(&w);
        }
        json_writer_end_array(&w);
        json_writer_member_int(&w, "count", (int64_t)res->n_accepted);
        if (res->conflicts_truncated) {
                json_writer_key(&w, "conflicts_truncated");
                json_writer_bool(&w, true);
        }
        json_writer_end_object(&w);
        *ret_json = json_writer_finish(&w, NULL);
        return *ret_json ? 0 : -ENOMEM;
}

static int step_done(struct db_conn *c, struct db_stmt *st, const char *what)
{
        int rc = db_step(st);
        return rc == DB_DONE ? 0 : db_fail(c, rc, what);
}

/* The stored answer of an earlier push with this key: 1 with *ret, 0 when
 * there is none. */
static int find_replay(struct db_conn *c, const struct store_push *p, char **ret)
{
        int r = STORE_QUERY_ONE(c, &sql_idem_get, "idempotency lookup", store_row_string, ret,
                                p->scope.user_id, p->scope.vault_id, p->idempotency_key);
        return r == -ENOENT ? 0 : r < 0 ? r : 1;
}

/* Append the newest STORE_CONFLICTS_PER_OP conflicts of op to res, in
 * ascending order, and note when there were more. */
static int collect_conflicts(struct db_conn *c, const struct store_push *p,
                             const struct store_op_in *op, int64_t entity_key,
                             struct store_push_result *res, size_t *cap)
{
        _cleanup_stmt_ struct db_stmt *st = db_stmt(c, &sql_conflicts);
        size_t first = res->n_conflicts;
        int rc;

        if (!st ||
            db_bind_texts(st, STORE_ARGS(p->scope.user_id, p->scope.vault_id, op->entity_type,
                                         op->entity_id)) < 0 ||
            db_bind_int64(st, 5, op->last_seen_server_seq) < 0 ||
            db_bind_text(st, 6, p->device_id) < 0 ||
            db_bind_int64(st, 7, STORE_CONFLICTS_PER_OP + 1) < 0 ||
            db_bind_int64(st, 8, entity_key) < 0)
                return -EIO;
        while ((rc = db_step(st)) == DB_ROW) {
                if (res->n_conflicts - first == STORE_CONFLICTS_PER_OP) {
                        res->conflicts_truncated = true;
                        rc = DB_DONE;
                        break;
                }
                if (res->n_conflicts == *cap) {
                        size_t ncap = *cap ? *cap * 2 : 8;
                        struct store_conflict *n = realloc(res->conflicts, ncap * sizeof(*n));
                        if (!n)
                                return -ENOMEM;
                        res->conflicts = n;
                        *cap = ncap;
                }
                struct store_conflict *cf = &res->conflicts[res->n_conflicts];
                *cf = (struct store_conflict){
                        .op_id = db_column_strdup(st, 0),
                        .device_id = db_column_strdup(st, 1),
                        .op_type = db_column_strdup(st, 2),
                        .server_sequence = db_column_int64(st, 3),
                        .entity_type = db_column_strdup(st, 4),
                        .entity_id = db_column_strdup(st, 5),
                };
                res->n_conflicts++;
                if (!cf->op_id || !cf->device_id || !cf->op_type || !cf->entity_type ||
                    !cf->entity_id)
                        return -ENOMEM;
        }
        if (rc != DB_DONE)
                return db_fail(c, rc, "conflict lookup");
        /* Read newest first: report them ascending, as before. */
        for (size_t i = first, j = res->n_conflicts; j > 0 && i < j - 1; i++, j--) {
                struct store_conflict t = res->conflicts[i];
                res->conflicts[i] = res->conflicts[j - 1];
                res->conflicts[j - 1] = t;
        }
        return 0;
}

/* The idempotency record of res: its answer, or, when that is longer than
 * STORE_IDEMPOTENCY_MAX_BYTES, the same answer without conflict hints
 * (conflicts_truncated set).  *ret_json is malloc'd. */
static int idempotency_record(const struct store_push *p, const struct store_push_result *res,
                              char **ret_json)
{
        struct store_push_result slim;

        if (strlen(res->json) <= STORE_IDEMPOTENCY_MAX_BYTES) {
                *ret_json = strdup(res->json);
                return *ret_json ? 0 : -ENOMEM;
        }
        slim = (struct store_push_result){.accepted = res->accepted,
                                          .n_accepted = res->n_accepted,
                                          .conflicts_truncated = true};
        return store_push_result_json(p->ops, &slim, ret_json);
}

static int get_last_sequence(struct db_conn *c, bool lock, int64_t *ret)
{
        int r = store_query_one(c, lock ? &sql_last_seq_lock : &sql_last_seq_get,
                                "read last sequence", store_row_int64, ret, NULL, 0);
        return r == -ENOENT ? -EIO : r; /* the row is created with the schema */
}

int store_last_sequence(struct store *s, int64_t *ret)
{
        int r = store_read_one(s, &sql_last_seq_get, "read last sequence", store_row_int64, ret,
                               NULL, 0);
        return r == -ENOENT ? -EIO : r;
}

/* Insert one op with sequence seq; returns 1 when stored, 0 when its
 * op_id already exists in the scope. */
static int insert_op(struct db_conn *c, const struct store_push *p, const struct store_op_in *op,
                     int64_t entity_key, int64_t seq, const char *now)
{
        _cleanup_stmt_ struct db_stmt *st = db_stmt(c, &sql_op_insert);
        int r;

        if (!st || db_bind_int64(st, 1, seq) < 0 || db_bind_text(st, 2, op->op_id) < 0 ||
            db_bind_text(st, 3, p->scope.user_id) < 0 ||
            db_bind_text(st, 4, p->scope.vault_id) < 0 || db_bind_text(st, 5, p->device_id) < 0 ||
            db_bind_text(st, 6, op->entity_type) < 0 || db_bind_text(st, 7, op->entity_id) < 0 ||
            db_bind_text(st, 8, op->op_type) < 0 ||
            db_bind_text(st, 9, op->payload_json ? op->payload_json : "") < 0 ||
            db_bind_text(st, 10,
                         p->idempotency_key && *p->idempotency_key ? p->idempotency_key : NULL) <
                    0 ||
            db_bind_int64(st, 11, op->client_sequence) < 0 ||
            db_bind_int64(st, 12, op->last_seen_server_seq) < 0 ||
            db_bind_text(st, 13, op->created_at ? op->created_at : "") < 0 ||
            db_bind_text(st, 14, now) < 0 || db_bind_int64(st, 15, entity_key) < 0)
                return -EIO;
        r = step_done(c, st, "insert op");
        if (r < 0)
                return r;
        return db_changes(st) > 0 ? 1 : 0;
}

static int put_tombstone(struct db_conn *c, const struct store_push *p,
                         const struct store_op_in *op, const char *now)
{
        int r = STORE_RUN(c, &sql_tombstone_put, "record tombstone", p->scope.user_id,
                          p->scope.vault_id, op->entity_type, op->entity_id, op->op_id, now);
        return r < 0 ? r : 0;
}

/* Run one of the server_meta updates with its value. */
static int set_meta(struct db_conn *c, const struct db_sql *sql, int64_t value, const char *what)
{
        _cleanup_stmt_ struct db_stmt *st = db_stmt(c, sql);

        if (!st || db_bind_int64(st, 1, value) < 0)
                return -EIO;
        return step_done(c, st, what);
}

static bool has_key(const struct store_push *p)
{
        return p->idempotency_key && *p->idempotency_key;
}

static int push_in_transaction(const struct store_backend *be, struct db_conn *c,
                               const struct store_push *p, struct store_push_result *res)
{
        size_t conflicts_cap = 0;
        int64_t seq = 0;
        char now[21];
        int r;

        /* The high-water mark first: from here on this push is the only
         * one writing ops, so the replay lookup below sees every push that
         * committed before it. */
        r = get_last_sequence(c, true, &seq);
        if (r < 0)
                return r;
        if (has_key(p)) {
                r = find_replay(c, p, &res->json);
                if (r != 0) {
                        res->replayed = r > 0;
                        return r < 0 ? r : 0;
                }
        }

        store_now(now);
        res->accepted = calloc(p->n_ops ? p->n_ops : 1, sizeof(*res->accepted));
        if (!res->accepted)
                return -ENOMEM;

        for (size_t i = 0; i < p->n_ops; i++) {
                const struct store_op_in *op = &p->ops[i];
                int64_t key;

                r = store_entity_key(p->scope.user_id, p->scope.vault_id, op->entity_type,
                                     op->entity_id, &key);
                if (r < 0)
                        return r;
                if (op->last_seen_server_seq > 0) {
                        r = collect_conflicts(c, p, op, key, res, &conflicts_cap);
                        if (r < 0)
                                return r;
                }
                r = insert_op(c, p, op, key, seq + 1, now);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue; /* op_id already in this scope: skipped */
                seq++;
                res->accepted[res->n_accepted++] = i;
                res->last_sequence = seq;
                if (strcmp(op->op_type, "delete") == 0) {
                        r = put_tombstone(c, p, op, now);
                        if (r < 0)
                                return r;
                }
        }

        if (res->n_accepted > 0) {
                r = set_meta(c, &sql_last_seq_put, seq, "update last sequence");
                if (r >= 0)
                        r = set_meta(c, &sql_ops_count_add, (int64_t)res->n_accepted,
                                     "count the ops");
                if (r < 0)
                        return r;
                /* Long polls on the other daemons (delivered at commit). */
                if (be->push_notify) {
                        r = be->push_notify(c, p->scope.user_id, p->scope.vault_id, seq);
                        if (r < 0)
                                return r;
                }
        }
        if (p->touch_device) {
                r = STORE_RUN(c, &sql_device_seen, "update device last_seen", p->device_id, now,
                              p->device_ip);
                if (r < 0)
                        return r;
        }

        if (has_key(p)) {
                /* The record commits with the ops. */
                _cleanup_free_ char *record = NULL;
                r = store_push_result_json(p->ops, res, &res->json);
                if (r >= 0)
                        r = idempotency_record(p, res, &record);
                if (r < 0)
                        return r;
                r = STORE_RUN(c, &sql_idem_put, "store idempotency record", p->scope.user_id,
                              p->scope.vault_id, p->idempotency_key, record, now);
                if (r < 0)
                        return r;
        }
        return 0;
}

/*
 * Writing a batch (see store_ops.h for the group commit).  All or nothing
 * without a savepoint per push: in WAL mode SQLite copies every page a
 * savepoint touches into its statement journal, which cost more CPU than
 * the inserts themselves.  A batch first runs without them; a push fails
 * only on an error of the database (I/O, a full disk, out of memory), and
 * then the whole transaction is rolled back and the batch run again with
 * each push in a savepoint of its own, so that the failed push is undone
 * alone.
 */
static const struct db_sql sql_savepoint = {"SAVEPOINT push"};
static const struct db_sql sql_rollback_to = {"ROLLBACK TO push"};
static const struct db_sql sql_release = {"RELEASE push"};

static void run_push_job(struct store *s, struct db_conn *c, struct store_push_job *job,
                         bool savepoint)
{
        int r = savepoint ? db_exec_cached(c, &sql_savepoint) : 0;

        if (r >= 0) {
                r = push_in_transaction(s->be, c, job->push, &job->res);
                if (savepoint) {
                        if (r < 0 || job->res.replayed)
                                (void)db_exec_cached(c, &sql_rollback_to);
                        int q = db_exec_cached(c, &sql_release);
                        if (r >= 0 && q < 0)
                                r = q;
                }
        }
        job->r = r;
}

/* Run batch in one transaction and commit it: 0, 1 when a push failed
 * without savepoints (the transaction is rolled back, the results cleared,
 * nothing is stored), or the error of the transaction. */
static int try_push_batch(struct store *s, struct store_push_job *batch, bool savepoints)
{
        struct db_conn *c;
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        for (struct store_push_job *j = batch; j; j = j->next) {
                run_push_job(s, c, j, savepoints);
                if (j->r < 0 && !savepoints) {
                        (void)store_write_end(s, c, j->r, false);
                        for (struct store_push_job *k = batch; k; k = k->next) {
                                store_push_result_done(&k->res);
                                k->r = 0;
                        }
                        return 1;
                }
        }
        return store_write_end(s, c, 0, true);
}

void store_push_write_batch(struct store *s, struct store_push_job *batch)
{
        int r = try_push_batch(s, batch, false);

        if (r > 0)
                r = try_push_batch(s, batch, true);
        for (struct store_push_job *j = batch; j; j = j->next)
                if (r < 0 && j->r >= 0)
                        j->r = r; /* the commit failed: nothing of the batch is stored */
}

/* The op in the current row of sql_pull or sql_pull_range (the same
 * columns), its strings borrowed from st. */
static struct store_op_view op_view(struct db_stmt *st)
{
        return (struct store_op_view){
                .op_id = db_column_text(st, 0),
                .device_id = db_column_text(st, 1),
                .entity_type = db_column_text(st, 2),
                .entity_id = db_column_text(st, 3),
                .op_type = db_column_text(st, 4),
                .payload_json = db_column_text(st, 5),
                .created_at = db_column_text(st, 6),
                .server_sequence = db_column_int64(st, 7),
        };
}

/* The current row of sql_pull or sql_pull_range as op: its payload as a
 * piece (the op resume names) or whole. */
static int pull_row(struct db_conn *c, struct db_stmt *st, const struct store_pull_resume *resume,
                    struct store_op_view *op)
{
        *op = op_view(st);
        if (!resume || op->server_sequence != resume->seq)
                return 0;
        size_t n;
        int r = db_read_text_piece(c, &op_payload, resume->seq, resume->at, resume->buf,
                                   resume->max, &n);
        if (r < 0)
                return r;
        resume->buf[n] = '\0';
        op->payload_json = resume->buf;
        op->payload_at = resume->at;
        op->payload_cut = n == resume->max;
        return 0;
}

static int pull_in_snapshot(struct db_conn *c, const struct store_scope *scope, int64_t since,
                            size_t limit, store_pull_row_fn row, void *userdata,
                            struct store_pull_info *info)
{
        int rc, r;

        {
                _cleanup_stmt_ struct db_stmt *st = db_stmt(c, &sql_pull);
                if (!st || db_bind_texts(st, STORE_ARGS(scope->user_id, scope->vault_id)) < 0 ||
                    db_bind_int64(st, 3, since) < 0 || db_bind_int64(st, 4, (int64_t)limit + 1) < 0)
                        return -EIO;
                while ((rc = db_step(st)) == DB_ROW) {
                        if (info->n_ops == limit) {
                                info->has_more = true;
                                break;
                        }
                        struct store_op_view op;
                        r = pull_row(c, st, NULL, &op);
                        if (r == 0)
                                r = row(&op, userdata);
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                /* The caller's page is full before limit. */
                                info->has_more = true;
                                break;
                        }
                        info->n_ops++;
                        info->last_sequence = op.server_sequence;
                }
                if (rc != DB_ROW && rc != DB_DONE)
                        return db_fail(c, rc, "pull");
        }
        r = STORE_QUERY_ONE(c, &sql_scope_max, "scope sequence", store_row_int64,
                            &info->scope_sequence, scope->user_id, scope->vault_id);
        if (r < 0)
                return r;
        return get_last_sequence(c, false, &info->global_sequence);
}

int store_pull_page(struct store *s, const struct store_scope *scope, int64_t since, size_t limit,
                    store_pull_row_fn row, void *userdata, struct store_pull_info *ret)
{
        struct db_conn *c;
        int r;

        *ret = (struct store_pull_info){0};
        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        r = pull_in_snapshot(c, scope, since, limit, row, userdata, ret);
        store_read_end(s, c);
        return r;
}

int store_pull_range(struct store *s, const struct store_scope *scope, int64_t after, int64_t upto,
                     const struct store_pull_resume *resume, store_pull_row_fn row, void *userdata)
{
        struct db_conn *c;
        int r = 0, rc;

        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        {
                _cleanup_stmt_ struct db_stmt *st = db_stmt(c, &sql_pull_range);
                if (!st || db_bind_texts(st, STORE_ARGS(scope->user_id, scope->vault_id)) < 0 ||
                    db_bind_int64(st, 3, after) < 0 || db_bind_int64(st, 4, upto) < 0 ||
                    db_bind_int64(st, 5, resume ? resume->seq : 0) < 0)
                        r = -EIO;
                else {
                        while ((rc = db_step(st)) == DB_ROW) {
                                struct store_op_view op;
                                r = pull_row(c, st, resume, &op);
                                if (r == 0)
                                        r = row(&op, userdata);
                                if (r != 0)
                                        break;
                        }
                        if (r == 0 && rc != DB_DONE)
                                r = db_fail(c, rc, "pull range");
                        if (r > 0)
                                r = 0;
                }
        }
        store_read_end(s, c);
        return r;
}

int store_idempotency_expire(struct store *s, const char *cutoff)
{
        return STORE_WRITE_ONE(s, &sql_idem_expire, "expire idempotency records", cutoff);
}
