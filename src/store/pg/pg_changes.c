/* SPDX-License-Identifier: MIT */
/* Implementation of store/pg/pg_changes.h. */
#include "store/pg/pg_changes.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/pq_dl.h"

struct pg_changes {
        char *conninfo;
        PGconn *conn; /* NULL while disconnected */
        pg_changes_hwm_fn hwm;
        void *userdata;
        int64_t seen;          /* highest sequence known to have been reported */
        unsigned backoff_ms;   /* the next reconnect delay */
        uint64_t next_connect; /* CLOCK_MONOTONIC µs of the next reconnect attempt */
        uint64_t next_hwm;     /* ... of the next fallback check */
};

void pg_changes_batch_done(struct pg_changes_batch *b)
{
        for (size_t i = 0; i < b->n; i++) {
                free(b->items[i].user_id);
                free(b->items[i].vault_id);
        }
        memset(b, 0, sizeof(*b));
}

const char *pg_changes_notify_sql(void)
{
        return PG_CHANGES_NOTIFY_SQL("$1");
}

/* Callers: pg_changes_push_notify. */
static const struct db_sql sql_notify = {PG_CHANGES_NOTIFY_SQL("?1")};

/* "<seq> <length of user_id> <user_id><vault_id>": the ids may hold any
 * character but NUL, so the first is delimited by its length. */
int pg_changes_payload(char *buf, size_t size, const char *user_id, const char *vault_id,
                       int64_t seq)
{
        int n = snprintf(buf, size, "%" PRId64 " %zu %s%s", seq, strlen(user_id), user_id,
                         vault_id);

        return n < 0 || (size_t)n >= size ? -ENOBUFS : 0;
}

int pg_changes_push_notify(struct db_conn *c, const char *user_id, const char *vault_id,
                           int64_t seq)
{
        char payload[PG_CHANGES_PAYLOAD_MAX];
        _cleanup_stmt_ struct db_stmt *st = NULL;
        int r;

        if (pg_changes_payload(payload, sizeof(payload), user_id, vault_id, seq) < 0)
                snprintf(payload, sizeof(payload), "%" PRId64, seq); /* scope unknown */
        st = db_stmt(c, &sql_notify);
        if (!st)
                return -EIO;
        r = db_bind_text(st, 1, payload);
        if (r < 0)
                return r;
        r = db_step(st);
        return r < 0 ? db_fail(c, r, "notify other daemons") : 0;
}

/* 0 with the scope in ret, or with ret->user_id NULL for a payload that
 * names no scope (the sequence alone); -EINVAL for anything else. */
static int parse_payload(const char *p, struct pg_change *ret)
{
        char *end;
        long long seq;
        unsigned long ulen;

        errno = 0;
        seq = strtoll(p, &end, 10);
        if (errno || end == p || seq < 0)
                return -EINVAL;
        if (*end == '\0') {
                ret->seq = seq;
                ret->user_id = ret->vault_id = NULL;
                return 0;
        }
        if (*end != ' ')
                return -EINVAL;
        p = end + 1;
        ulen = strtoul(p, &end, 10);
        if (errno || end == p || *end != ' ')
                return -EINVAL;
        p = end + 1;
        if (strnlen(p, ulen) < ulen)
                return -EINVAL;
        ret->seq = seq;
        ret->user_id = strndup(p, ulen);
        ret->vault_id = strdup(p + ulen);
        if (!ret->user_id || !ret->vault_id) {
                free(ret->user_id);
                free(ret->vault_id);
                return -ENOMEM;
        }
        return 0;
}

static void disconnect(struct pg_changes *c)
{
        if (c->conn)
                sym_PQfinish(c->conn);
        c->conn = NULL;
}

/* Connect and LISTEN.  The URL's own settings win over these defaults:
 * a bounded connect, and TCP keepalives so a dead peer is noticed while
 * the connection is idle. */
static int connect_listen(struct pg_changes *c)
{
        static const char *const keys[] = {
                "connect_timeout",  "keepalives",       "keepalives_idle", "keepalives_interval",
                "keepalives_count", "application_name", "dbname",          NULL};
        const char *values[] = {"5",         "1", "10", "5", "3", "verstak-sync-server listen",
                                c->conninfo, NULL};
        PGresult *res;
        bool ok;

        c->conn = sym_PQconnectdbParams(keys, values, 1);
        if (!c->conn)
                return -ENOMEM;
        if (sym_PQstatus(c->conn) != CONNECTION_OK) {
                disconnect(c);
                return -ECONNREFUSED;
        }
        res = sym_PQexec(c->conn, "LISTEN " PG_CHANGES_CHANNEL);
        ok = res && sym_PQresultStatus(res) == PGRES_COMMAND_OK;
        sym_PQclear(res);
        if (!ok) {
                disconnect(c);
                return -ECONNREFUSED;
        }
        return 0;
}

/* The fallback: report "all" when the high-water mark passed what was
 * seen.  A failing check is retried at the next interval. */
static void check_hwm(struct pg_changes *c, struct pg_changes_batch *out)
{
        int64_t hwm;

        if (c->hwm(c->userdata, &hwm) < 0)
                return;
        if (hwm > c->seen) {
                out->all = true;
                c->seen = hwm;
                out->all_seq = hwm;
        }
}

int pg_changes_new(const char *conninfo, pg_changes_hwm_fn hwm, void *userdata,
                   struct pg_changes **ret)
{
        _cleanup_free_ struct pg_changes *c = calloc(1, sizeof(*c));
        PQconninfoOption *opts;
        char *err = NULL;
        int64_t seq;
        int r;

        if (!c)
                return -ENOMEM;
        r = pq_dl_open();
        if (r < 0)
                return r;
        opts = sym_PQconninfoParse(conninfo, &err);
        if (!opts) {
                if (!err)
                        return -ENOMEM;
                sym_PQfreemem(err);
                return -EINVAL;
        }
        sym_PQconninfoFree(opts);
        c->conninfo = strdup(conninfo);
        if (!c->conninfo)
                return -ENOMEM;
        c->hwm = hwm;
        c->userdata = userdata;
        c->seen = hwm(userdata, &seq) == 0 ? seq : -1;
        c->backoff_ms = PG_CHANGES_BACKOFF_FIRST_MS;
        r = connect_listen(c);
        if (r == -ENOMEM) {
                free(c->conninfo);
                return r;
        }
        if (r < 0) {
                c->next_connect = clock_now_usec() + c->backoff_ms * 1000ull;
                c->next_hwm = clock_now_usec() + PG_CHANGES_FALLBACK_MS * 1000ull;
        }
        *ret = TAKE_PTR(c);
        return r;
}

void pg_changes_free(struct pg_changes *c)
{
        if (!c)
                return;
        disconnect(c);
        free(c->conninfo);
        free(c);
}

bool pg_changes_connected(const struct pg_changes *c)
{
        return c->conn != NULL;
}

int pg_changes_backend_pid(const struct pg_changes *c)
{
        return c->conn ? sym_PQbackendPID(c->conn) : 0;
}

/* The connection broke: try again at once, check the mark at once. */
static void lost(struct pg_changes *c, struct pg_changes_batch *out)
{
        uint64_t now = clock_now_usec();

        disconnect(c);
        out->lost = true;
        c->backoff_ms = PG_CHANGES_BACKOFF_FIRST_MS;
        c->next_connect = now;
        c->next_hwm = now;
}

/* Read what arrived; 0, or -EPIPE when the connection broke. */
static int drain(struct pg_changes *c, struct pg_changes_batch *out)
{
        PGnotify *n;

        if (!sym_PQconsumeInput(c->conn) || sym_PQstatus(c->conn) != CONNECTION_OK)
                return -EPIPE;
        while ((n = sym_PQnotifies(c->conn))) {
                struct pg_change ch;
                int r = strcmp(n->relname, PG_CHANGES_CHANNEL) == 0 ? parse_payload(n->extra, &ch)
                                                                    : -EINVAL;
                sym_PQfreemem(n);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 || !ch.user_id || out->n == PG_CHANGES_BATCH) {
                        /* Unreadable, without a scope, or one too many:
                         * wake everyone. */
                        out->all = true;
                        if (r == 0 && ch.seq > c->seen)
                                c->seen = ch.seq;
                        if (r == 0) {
                                free(ch.user_id);
                                free(ch.vault_id);
                        }
                        continue;
                }
                if (ch.seq > c->seen)
                        c->seen = ch.seq;
                out->items[out->n++] = ch;
        }
        return 0;
}

static unsigned ms_until(uint64_t when, uint64_t now)
{
        uint64_t ms = when > now ? (when - now + 999) / 1000 : 0;
        return ms > 60000 ? 60000 : (unsigned)ms;
}

/* Disconnected: reconnect when due, else check the mark when due; sleep
 * until the earliest of the two or the deadline. */
static int wait_disconnected(struct pg_changes *c, uint64_t deadline, struct pg_changes_batch *out)
{
        uint64_t now = clock_now_usec(), wake;
        int r;

        if (now >= c->next_connect) {
                r = connect_listen(c);
                if (r == -ENOMEM)
                        return r;
                if (r == 0) {
                        out->restored = true;
                        c->backoff_ms = PG_CHANGES_BACKOFF_FIRST_MS;
                        /* What committed while no one listened. */
                        check_hwm(c, out);
                        return 0;
                }
                c->next_connect = now + c->backoff_ms * 1000ull;
                c->backoff_ms = c->backoff_ms * 2 > PG_CHANGES_BACKOFF_MAX_MS
                                        ? PG_CHANGES_BACKOFF_MAX_MS
                                        : c->backoff_ms * 2;
        }
        now = clock_now_usec();
        if (now >= c->next_hwm) {
                check_hwm(c, out);
                c->next_hwm = now + PG_CHANGES_FALLBACK_MS * 1000ull;
        }
        if (out->all || now >= deadline)
                return 0;
        wake = deadline;
        if (c->next_connect < wake)
                wake = c->next_connect;
        if (c->next_hwm < wake)
                wake = c->next_hwm;
        (void)poll(NULL, 0, (int)ms_until(wake, now));
        return 0;
}

int pg_changes_wait(struct pg_changes *c, unsigned timeout_ms, struct pg_changes_batch *out)
{
        uint64_t deadline = clock_now_usec() + timeout_ms * 1000ull;
        int r;

        memset(out, 0, sizeof(*out));
        for (;;) {
                if (!c->conn) {
                        r = wait_disconnected(c, deadline, out);
                        if (r < 0)
                                return r;
                        if (!c->conn) {
                                if (out->all || clock_now_usec() >= deadline)
                                        return 0;
                                continue;
                        }
                }
                r = drain(c, out);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        lost(c, out);
                        continue;
                }
                uint64_t now = clock_now_usec();
                if (out->all && out->all_seq < c->seen)
                        out->all_seq = c->seen;
                if (out->n > 0 || out->all || now >= deadline)
                        return 0;
                struct pollfd p = {.fd = sym_PQsocket(c->conn), .events = POLLIN};
                if (p.fd < 0) {
                        lost(c, out);
                        continue;
                }
                r = poll(&p, 1, (int)ms_until(deadline, now));
                if (r < 0 && errno != EINTR)
                        lost(c, out);
        }
}
