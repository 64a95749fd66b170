/* SPDX-License-Identifier: MIT */
/*
 * Sync benchmark: starts the real daemon (through the test harness) and
 * measures, in one run,
 *   - push throughput with 10-op pushes from several devices, against a
 *     bare SQLite loop inserting the same rows with the same durability
 *     (WAL, synchronous=FULL, one transaction per 10 rows) as the limit;
 *   - pull requests/s for 100-op pages of a 10 000-op vault;
 *   - p50/p99 latency of both;
 *   - the daemon's resident memory with 500 idle long-poll waiters.
 * It prints figures; it asserts nothing.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define PUSH_CLIENTS      8
#define PUSHES_PER_CLIENT 250
#define OPS_PER_PUSH      10
#define PULL_CLIENTS      8
#define PULLS_PER_CLIENT  500
#define VAULT_OPS         10000
#define IDLE_WAITERS      500

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

static double percentile(double *v, size_t n, double p)
{
        qsort(v, n, sizeof(*v), cmp_double);
        size_t i = (size_t)(p * (double)(n - 1));
        return v[i];
}

static long rss_kib(pid_t pid, const char *field)
{
        char path[64], line[256];
        long v = -1;
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        FILE *f = fopen(path, "r");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, field, strlen(field)) == 0)
                        v = atol(line + strlen(field) + 1);
        fclose(f);
        return v;
}

struct worker {
        const struct daemon *d;
        char token[65];
        int id;
        int n;
        double *lat;
        int errors;
};

static size_t discard(char *p, size_t s, size_t n, void *u)
{
        (void)p;
        (void)u;
        return s * n;
}

static CURL *client(const struct daemon *d, const char *token, struct curl_slist **hl)
{
        char auth[128];
        CURL *c = curl_easy_init();
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        *hl = curl_slist_append(NULL, auth);
        *hl = curl_slist_append(*hl, "Content-Type: application/json");
        *hl = curl_slist_append(*hl, "Expect:");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hl);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        (void)d;
        return c;
}

static void *push_worker(void *arg)
{
        struct worker *w = arg;
        struct curl_slist *hl;
        CURL *c = client(w->d, w->token, &hl);
        char url[128], *body = malloc(16384);

        snprintf(url, sizeof(url), "%s/api/v1/sync/push", w->d->base_url);
        curl_easy_setopt(c, CURLOPT_URL, url);
        for (int i = 0; i < w->n; i++) {
                size_t off = (size_t)sprintf(body, "{\"ops\":[");
                for (int k = 0; k < OPS_PER_PUSH; k++)
                        off += (size_t)sprintf(
                                body + off,
                                "%s{\"op_id\":\"w%d-%d-%d\",\"entity_type\":\"note\","
                                "\"entity_id\":\"notes/%d.md\",\"op_type\":\"update\","
                                "\"payload_json\":\"{\\\"text\\\":\\\"benchmark payload of "
                                "moderate size\\\"}\",\"client_sequence\":%d,"
                                "\"last_seen_server_seq\":0,\"created_at\":\"2026-11-26T00:00:"
                                "00Z\"}",
                                k ? "," : "", w->id, i, k, k, i);
                sprintf(body + off, "]}");
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
                double t0 = now_s();
                long status = 0;
                if (curl_easy_perform(c) != CURLE_OK)
                        w->errors++;
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
                if (status != 200)
                        w->errors++;
                w->lat[i] = now_s() - t0;
        }
        free(body);
        curl_slist_free_all(hl);
        curl_easy_cleanup(c);
        return NULL;
}

static void *pull_worker(void *arg)
{
        struct worker *w = arg;
        struct curl_slist *hl;
        CURL *c = client(w->d, w->token, &hl);
        char url[128], body[128];
        unsigned seed = (unsigned)w->id * 7919u;

        snprintf(url, sizeof(url), "%s/api/v1/sync/pull", w->d->base_url);
        curl_easy_setopt(c, CURLOPT_URL, url);
        for (int i = 0; i < w->n; i++) {
                long since = (long)(rand_r(&seed) % (VAULT_OPS - 100));
                snprintf(body, sizeof(body), "{\"since_sequence\":%ld,\"page_limit\":100}", since);
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
                double t0 = now_s();
                long status = 0;
                if (curl_easy_perform(c) != CURLE_OK)
                        w->errors++;
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
                if (status != 200)
                        w->errors++;
                w->lat[i] = now_s() - t0;
        }
        curl_slist_free_all(hl);
        curl_easy_cleanup(c);
        return NULL;
}

/* The physical limit: the same rows into the same schema with the same
 * durability, straight through SQLite, one transaction per push. */
static double bare_sqlite_ops_per_s(const char *dir, const char *schema_db, int pushes)
{
        char path[4200];
        sqlite3 *h;
        sqlite3_stmt *st;

        snprintf(path, sizeof(path), "%s/bare.db", dir);
        char cmd[9000];
        snprintf(cmd, sizeof(cmd), "sqlite3 '%s' .schema | grep -v sqlite_sequence | sqlite3 '%s'",
                 schema_db, path);
        if (system(cmd) != 0)
                return -1;
        sqlite3_open(path, &h);
        sqlite3_exec(h, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; DELETE FROM server_ops",
                     NULL, NULL, NULL);
        sqlite3_prepare_v2(h,
                           "INSERT INTO server_ops (server_sequence, op_id, user_id, vault_id,"
                           " device_id, entity_type, entity_id, op_type, payload_json,"
                           " idempotency_key, client_sequence, last_seen_server_seq, created_at,"
                           " pushed_at) VALUES (?,?,'u','v','d','note',?,'update',"
                           "'{\"text\":\"benchmark payload of moderate size\"}',NULL,?,0,"
                           "'2026-11-26T00:00:00Z','2026-11-26T00:00:00Z')",
                           -1, &st, NULL);
        double t0 = now_s();
        long seq = 0;
        for (int i = 0; i < pushes; i++) {
                sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
                for (int k = 0; k < OPS_PER_PUSH; k++) {
                        char id[32], eid[32];
                        seq++;
                        snprintf(id, sizeof(id), "b-%d-%d", i, k);
                        snprintf(eid, sizeof(eid), "notes/%d.md", k);
                        sqlite3_bind_int64(st, 1, seq);
                        sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
                        sqlite3_bind_text(st, 3, eid, -1, SQLITE_TRANSIENT);
                        sqlite3_bind_int(st, 4, i);
                        sqlite3_step(st);
                        sqlite3_reset(st);
                }
                sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
        }
        double dt = now_s() - t0;
        sqlite3_finalize(st);
        sqlite3_close(h);
        return (double)pushes * OPS_PER_PUSH / dt;
}

static void report_latency(const char *what, struct worker *w, int n_workers, int per)
{
        size_t n = (size_t)n_workers * (size_t)per;
        double *all = malloc(n * sizeof(*all));
        int errors = 0;
        for (int i = 0; i < n_workers; i++) {
                memcpy(all + (size_t)i * (size_t)per, w[i].lat, (size_t)per * sizeof(double));
                errors += w[i].errors;
        }
        printf("  %s latency: p50 %.2f ms, p99 %.2f ms (%d errors)\n", what,
               percentile(all, n, 0.50) * 1e3, percentile(all, n, 0.99) * 1e3, errors);
        free(all);
}

int main(void)
{
        struct daemon d;
        char pw[] = "bench-password-1";
        struct worker pushers[PUSH_CLIENTS], pullers[PULL_CLIENTS];
        pthread_t t[PUSH_CLIENTS > PULL_CLIENTS ? PUSH_CLIENTS : PULL_CLIENTS];

        curl_global_init(CURL_GLOBAL_ALL);
        harness_set_unique_client_ips(true);
        struct daemon_options o = {.config_yaml = "trusted_proxies: [\"127.0.0.1\"]\n"};
        if (harness_start(&d, &o) < 0) {
                fprintf(stderr, "cannot start the daemon\n");
                return 1;
        }
        harness_add_user(&d, "bench", "bench@example.com", pw, true, false, NULL);
        harness_add_user(&d, "bench2", "bench2@example.com", pw, true, false, NULL);
        long rss_start = rss_kib(d.pid, "VmRSS:");

        /* 1. push */
        for (int i = 0; i < PUSH_CLIENTS; i++) {
                pushers[i] = (struct worker){
                        &d, "", i, PUSHES_PER_CLIENT, calloc(PUSHES_PER_CLIENT, sizeof(double)), 0};
                if (harness_pair(&d, i < 4 ? "bench" : "bench2", pw, "vault-push", pushers[i].token,
                                 NULL) != 200) {
                        fprintf(stderr, "pairing failed\n");
                        return 1;
                }
        }
        double t0 = now_s();
        for (int i = 0; i < PUSH_CLIENTS; i++)
                pthread_create(&t[i], NULL, push_worker, &pushers[i]);
        for (int i = 0; i < PUSH_CLIENTS; i++)
                pthread_join(t[i], NULL);
        double push_dt = now_s() - t0;
        int total_pushes = PUSH_CLIENTS * PUSHES_PER_CLIENT;
        double push_ops = (double)total_pushes * OPS_PER_PUSH / push_dt;

        char dbpath[4200];
        snprintf(dbpath, sizeof(dbpath), "%s/server.db", d.data_dir);
        double bare_ops = bare_sqlite_ops_per_s(d.root, dbpath, total_pushes);

        printf("push (%d clients, %d pushes of %d ops, synchronous=FULL):\n", PUSH_CLIENTS,
               total_pushes, OPS_PER_PUSH);
        printf("  daemon: %.0f ops/s (%.0f pushes/s)\n", push_ops, push_ops / OPS_PER_PUSH);
        printf("  bare SQLite, same rows and durability: %.0f ops/s\n", bare_ops);
        printf("  ratio: %.2f of the SQLite limit\n", push_ops / bare_ops);
        report_latency("push", pushers, PUSH_CLIENTS, PUSHES_PER_CLIENT);

        /* 2. pull: a vault of 10 000 ops, 100-op pages at random offsets. The
         * push phase filled vault-push with 20 000 ops; use a fresh vault. */
        char tok[65];
        harness_pair(&d, "bench", pw, "vault-pull", tok, NULL);
        {
                struct worker fill = {&d,
                                      "",
                                      999,
                                      VAULT_OPS / OPS_PER_PUSH,
                                      calloc(VAULT_OPS / OPS_PER_PUSH, sizeof(double)),
                                      0};
                memcpy(fill.token, tok, sizeof(tok));
                push_worker(&fill);
                free(fill.lat);
        }
        for (int i = 0; i < PULL_CLIENTS; i++) {
                pullers[i] = (struct worker){
                        &d, "", i, PULLS_PER_CLIENT, calloc(PULLS_PER_CLIENT, sizeof(double)), 0};
                memcpy(pullers[i].token, tok, sizeof(tok));
        }
        t0 = now_s();
        for (int i = 0; i < PULL_CLIENTS; i++)
                pthread_create(&t[i], NULL, pull_worker, &pullers[i]);
        for (int i = 0; i < PULL_CLIENTS; i++)
                pthread_join(t[i], NULL);
        double pull_dt = now_s() - t0;
        printf("pull (%d clients, 100-op pages of a %d-op vault):\n", PULL_CLIENTS, VAULT_OPS);
        printf("  %.0f requests/s\n", PULL_CLIENTS * PULLS_PER_CLIENT / pull_dt);
        report_latency("pull", pullers, PULL_CLIENTS, PULLS_PER_CLIENT);

        /* 3. idle long-poll waiters */
        long rss_before = rss_kib(d.pid, "VmRSS:");
        CURLM *multi = curl_multi_init();
        CURL *easy[IDLE_WAITERS];
        struct curl_slist *hl[IDLE_WAITERS];
        char url[128];
        snprintf(url, sizeof(url), "%s/api/v1/sync/pull", d.base_url);
        for (int i = 0; i < IDLE_WAITERS; i++) {
                easy[i] = client(&d, tok, &hl[i]);
                curl_easy_setopt(easy[i], CURLOPT_URL, url);
                curl_easy_setopt(easy[i], CURLOPT_POSTFIELDS,
                                 "{\"since_sequence\":1000000,\"wait_seconds\":30}");
                curl_multi_add_handle(multi, easy[i]);
        }
        int running = 0;
        double until = now_s() + 4;
        while (now_s() < until) {
                curl_multi_perform(multi, &running);
                curl_multi_poll(multi, NULL, 0, 100, NULL);
        }
        long rss_waiting = rss_kib(d.pid, "VmRSS:");
        printf("long poll: %d idle waiters held (%d still open)\n", IDLE_WAITERS, running);
        printf("  daemon RSS: %.1f MiB at start, %.1f MiB before, %.1f MiB with the waiters\n",
               rss_start / 1024.0, rss_before / 1024.0, rss_waiting / 1024.0);
        printf("  peak RSS (VmHWM) over the whole run: %.1f MiB\n",
               rss_kib(d.pid, "VmHWM:") / 1024.0);

        harness_stop(&d, SIGTERM, 30, NULL);
        for (int i = 0; i < IDLE_WAITERS; i++) {
                curl_multi_remove_handle(multi, easy[i]);
                curl_easy_cleanup(easy[i]);
                curl_slist_free_all(hl[i]);
        }
        curl_multi_cleanup(multi);
        harness_destroy(&d);
        return 0;
}
