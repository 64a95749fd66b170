/* SPDX-License-Identifier: MIT */
/* Implementation of store/store_entity_key.h. */
#include "store/store_entity_key.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/log.h"

/* The fixed SipHash key: 16 public bytes.  Never change it: every stored
 * entity_key was computed with it. */
static const unsigned char entity_key_secret[crypto_shorthash_KEYBYTES] = "verstak-entities";

/* Enough for the usual ids on the stack; longer entity ids (api.md allows
 * 4 096 bytes) go through the heap. */
#define ENTITY_KEY_STACK 512

static size_t put_field(unsigned char *buf, const char *s, size_t len)
{
        uint32_t n = (uint32_t)len;

        /* Little-endian length first, so ("ab", "c") and ("a", "bc")
         * differ. */
        for (size_t i = 0; i < 4; i++)
                buf[i] = (unsigned char)(n >> (8 * i));
        memcpy(buf + 4, s, len);
        return 4 + len;
}

int store_entity_key(const char *user_id, const char *vault_id, const char *entity_type,
                     const char *entity_id, int64_t *ret)
{
        const char *fields[] = {user_id, vault_id, entity_type, entity_id};
        size_t lens[4], total = 0, at = 0;
        unsigned char stack[ENTITY_KEY_STACK], out[crypto_shorthash_BYTES];
        _cleanup_free_ unsigned char *heap = NULL;
        unsigned char *buf = stack;
        uint64_t key = 0;

        for (size_t i = 0; i < 4; i++) {
                lens[i] = fields[i] ? strlen(fields[i]) : 0;
                total += 4 + lens[i];
        }
        if (total > sizeof(stack)) {
                heap = malloc(total);
                if (!heap)
                        return -ENOMEM;
                buf = heap;
        }
        for (size_t i = 0; i < 4; i++)
                at += put_field(buf + at, fields[i] ? fields[i] : "", lens[i]);
        crypto_shorthash(out, buf, at, entity_key_secret);
        for (size_t i = 0; i < sizeof(out); i++)
                key |= (uint64_t)out[i] << (8 * i);
        *ret = (int64_t)key;
        return 0;
}

/* Rows are read and updated in pages of this many: the read is finished
 * before the updates run (PostgreSQL cannot interleave them on one
 * connection). */
#define MIGRATE_PAGE 512

struct keyed_row {
        int64_t seq;
        int64_t key;
};

/* Compute the keys of the next page of rows after *after into rows;
 * *ret_n of them. */
static int read_page(struct db_conn *c, struct db_stmt *sel, int64_t after, struct keyed_row *rows,
                     size_t *ret_n)
{
        size_t n = 0;
        int rc;

        db_stmt_done(sel);
        if (db_bind_int64(sel, 1, after) < 0 || db_bind_int64(sel, 2, MIGRATE_PAGE) < 0)
                return -EIO;
        while ((rc = db_step(sel)) == DB_ROW && n < MIGRATE_PAGE) {
                int r = store_entity_key(db_column_text(sel, 1), db_column_text(sel, 2),
                                         db_column_text(sel, 3), db_column_text(sel, 4),
                                         &rows[n].key);
                if (r < 0)
                        return r;
                rows[n].seq = db_column_int64(sel, 0);
                n++;
        }
        if (rc != DB_DONE && rc != DB_ROW)
                return db_fail(c, rc, "migration 8: read ops");
        db_stmt_done(sel);
        *ret_n = n;
        return 0;
}

int store_entity_key_migrate(struct db_conn *c)
{
        static const char sql_select[] =
                "SELECT server_sequence, user_id, vault_id, entity_type, entity_id FROM server_ops"
                " WHERE server_sequence > ?1 ORDER BY server_sequence LIMIT ?2";
        static const char sql_update[] =
                "UPDATE server_ops SET entity_key = ?1 WHERE server_sequence = ?2";
        struct db_stmt *sel = NULL, *upd = NULL;
        _cleanup_free_ struct keyed_row *rows = NULL;
        int64_t after = INT64_MIN, done = 0;
        size_t n = 0;
        int r;

        r = db_exec(c, "ALTER TABLE server_ops ADD COLUMN entity_key BIGINT NOT NULL DEFAULT 0");
        if (r < 0)
                return r;
        rows = calloc(MIGRATE_PAGE, sizeof(*rows));
        if (!rows)
                return -ENOMEM;
        r = db_prepare_repeated(c, sql_select, &sel);
        if (r == 0)
                r = db_prepare_repeated(c, sql_update, &upd);
        while (r == 0) {
                r = read_page(c, sel, after, rows, &n);
                if (r < 0 || n == 0)
                        break;
                for (size_t i = 0; i < n && r == 0; i++) {
                        int rc;

                        db_stmt_done(upd);
                        if (db_bind_int64(upd, 1, rows[i].key) < 0 ||
                            db_bind_int64(upd, 2, rows[i].seq) < 0) {
                                r = -EIO;
                                break;
                        }
                        rc = db_step(upd);
                        if (rc != DB_DONE)
                                r = db_fail(c, rc < 0 ? rc : -EIO, "migration 8: store a key");
                }
                after = rows[n - 1].seq;
                done += (int64_t)n;
        }
        db_stmt_free(sel);
        db_stmt_free(upd);
        if (r < 0)
                return r;
        r = db_exec(c, "CREATE INDEX idx_server_ops_entity_key"
                       " ON server_ops(entity_key, server_sequence);"
                       "DROP INDEX idx_server_ops_scope_entity");
        if (r < 0)
                return r;
        if (done > 0)
                log_info("database: entity keys computed for %lld operations", (long long)done);
        return 0;
}
