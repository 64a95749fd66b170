/* SPDX-License-Identifier: MIT */
/*
 * The earlier server's SMTP settings (its server_smtp_config key/value
 * table, saved from its console): read once at start so that they can be
 * carried over, and the password removed from the file afterwards.  No
 * decision about what to do with them is taken here.
 */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/cleanup.h"

static const struct db_sql sql_smtp_all = {"SELECT key, value FROM server_smtp_config"};
static const struct db_sql sql_smtp_wipe = {
        "DELETE FROM server_smtp_config WHERE key = 'smtp_pass'"};

static void wipe_free(char *s)
{
        if (s) {
                sodium_memzero(s, strlen(s));
                free(s);
        }
}

void store_legacy_smtp_done(struct store_legacy_smtp *m)
{
        free(m->host);
        free(m->port);
        free(m->user);
        wipe_free(m->pass);
        free(m->security);
        free(m->from);
        free(m->server_url);
        *m = (struct store_legacy_smtp){0};
}

/* The field of m a key of the table fills, or NULL for other keys. */
static char **field_for(struct store_legacy_smtp *m, const char *key)
{
        static const struct {
                const char *key;
                size_t offset;
        } map[] = {
                {"smtp_host", offsetof(struct store_legacy_smtp, host)},
                {"smtp_port", offsetof(struct store_legacy_smtp, port)},
                {"smtp_user", offsetof(struct store_legacy_smtp, user)},
                {"smtp_pass", offsetof(struct store_legacy_smtp, pass)},
                {"smtp_security", offsetof(struct store_legacy_smtp, security)},
                {"smtp_from", offsetof(struct store_legacy_smtp, from)},
                {"server_url", offsetof(struct store_legacy_smtp, server_url)},
        };

        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (strcmp(key, map[i].key) == 0)
                        return (char **)((char *)m + map[i].offset);
        return NULL;
}

int store_legacy_smtp_get(struct store *s, struct store_legacy_smtp *ret)
{
        struct store_legacy_smtp m = {0};
        struct db_conn *c;
        int rc, r;

        r = store_read_begin(s, &c);
        if (r < 0)
                return r;
        {
                _cleanup_stmt_ struct db_stmt *st = db_stmt(c, &sql_smtp_all);
                if (!st)
                        r = -EIO;
                while (r >= 0 && (rc = db_step(st)) == DB_ROW) {
                        char **slot = field_for(&m, db_column_text(st, 0));
                        const char *value = db_column_text(st, 1);
                        if (!slot || !*value)
                                continue; /* unknown key, or saved empty */
                        wipe_free(*slot);
                        *slot = strdup(value);
                        if (!*slot)
                                r = -ENOMEM;
                }
                if (r >= 0 && rc != DB_DONE)
                        r = db_fail(c, rc, "read SMTP settings");
        }
        store_read_end(s, c);
        if (r < 0) {
                store_legacy_smtp_done(&m);
                return r;
        }
        *ret = m;
        return 0;
}

int store_legacy_smtp_wipe_password(struct store *s)
{
        struct db_conn *c;
        int r;

        r = store_write_begin(s, &c);
        if (r < 0)
                return r;
        r = store_run(c, &sql_smtp_wipe, "wipe SMTP password", NULL, 0);
        r = store_write_end(s, c, r, true);
        if (r <= 0)
                return r;
        /* The row is gone; now its bytes, from free space and the WAL. */
        int q = store_scrub(s);
        return q < 0 ? q : r;
}
