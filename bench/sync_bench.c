/* SPDX-License-Identifier: MIT */
/*
 * Sync benchmark: against the real daemon, measures in one run
 *   - push throughput with 10-op pushes from several devices, against a
 *     bare SQLite loop inserting the same rows with the same durability
 *     (WAL, synchronous=FULL, one transaction per 10 rows) as the limit;
 *   - pull requests/s for 100-op pages of a 10 000-op vault;
 *   - health requests/s;
 *   - a pairing burst (Argon2id checks) and the daemon's peak RSS in it;
 *   - p50/p99 latency, and the daemon's CPU time per request or op
 *     (utime + stime from /proc/PID/stat: the figure a busy machine
 *     disturbs least), and its RSS, RssAnon and PSS after each scenario;
 *   - the daemon's resident memory with 500 idle long-poll waiters.
 * It prints figures; it asserts nothing.
 *
 *   sync-bench                                 start a daemon (test harness)
 *   sync-bench --url URL --pid PID --data DIR  use a running one
 *   --push-only        the push scenario alone
 *   --push-clients N   N pushing devices instead of 8 (at most 64)
 *   --pushes N         N pushes in all instead of 2 000 (a longer run for
 *                      a profiler; "pushing" is printed as they start)
 *   --bcrypt-users     store the users' passwords as bcrypt hashes, the
 *                      kind the earlier server writes (and this daemon
 *                      still accepts), so that the run also works against
 *                      the earlier server; the pairing figures then time
 *                      bcrypt (and this daemon's re-hashing with Argon2id
 *                      at each user's first login) instead of Argon2id
 *   --spread           op ids as scattered as the UUIDs clients send, and
 *                      each op on one of 10 000 entities of its user,
 *                      instead of ids in order and 10 entities: every op
 *                      then lands on its own page of the op id and entity
 *                      indexes, as on a real server
 *
 * A running daemon must list 127.0.0.1 in trusted_proxies (each pairing
 * comes from its own X-Forwarded-For address, under the rate limits); the
 * users are created directly in DIR/server.db, with names unique to the
 * run.
 */
#include <crypt.h>
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
#include "procstat.h"

#define PUSH_CLIENTS      8 /* --push-clients N: up to PUSH_CLIENTS_MAX */
#define PUSH_CLIENTS_MAX  64
#define PUSHES            2000 /* shared among the push clients; --pushes N */
#define OPS_PER_PUSH      10
#define PULL_CLIENTS      8
#define PULLS_PER_CLIENT  500
#define VAULT_OPS         10000
#define IDLE_WAITERS      500
#define HEALTH_CLIENTS    8
#define HEALTH_PER_CLIENT 2000
#define PAIR_USERS        16
#define PAIRS_PER_USER    4 /* under the pair rule's 5 per account */

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
        return proc_kib(pid, "status", field);
}

static void report_cpu(double cpu, long n, const char *unit)
{
        printf("  server CPU: %.1f us per %s (%.2f s for %ld)\n", cpu * 1e6 / (double)n, unit, cpu,
               n);
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

/* --spread: scattered ids and many entities (see the top). */
static bool spread;
/* --bcrypt-users */
static bool bcrypt_users;
#define SPREAD_ENTITIES 10000

/* splitmix64: a fixed, well-mixed sequence for the scattered ids. */
static uint64_t mix(uint64_t x)
{
        x += 0x9e3779b97f4a7c15u;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
        return x ^ (x >> 31);
}

/* The op id and entity number of op k of push i of worker id. */
static void bench_op_ids(int id, int i, int k, char *op_id, size_t size, int *entity)
{
        uint64_t n = ((uint64_t)id << 40) | ((uint64_t)i << 8) | (uint64_t)k;

        if (!spread) {
                snprintf(op_id, size, "w%d-%d-%d", id, i, k);
                *entity = k;
                return;
        }
        uint64_t a = mix(n), b = mix(a);
        snprintf(op_id, size, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32),
                 (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xffff, (unsigned)(b >> 48),
                 (unsigned long long)(b & 0xffffffffffffULL));
        *entity = (int)(mix(b) % SPREAD_ENTITIES);
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
                for (int k = 0; k < OPS_PER_PUSH; k++) {
                        char op_id[64];
                        int entity;
                        bench_op_ids(w->id, i, k, op_id, sizeof(op_id), &entity);
                        off += (size_t)sprintf(
                                body + off,
                                "%s{\"op_id\":\"%s\",\"entity_type\":\"note\","
                                "\"entity_id\":\"notes/%d.md\",\"op_type\":\"update\","
                                "\"payload_json\":\"{\\\"text\\\":\\\"benchmark payload of "
                                "moderate size\\\"}\",\"client_sequence\":%d,"
                                "\"last_seen_server_seq\":0,\"created_at\":\"2026-11-26T00:00:"
                                "00Z\"}",
                                k ? "," : "", op_id, entity, i);
                }
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

static void *health_worker(void *arg)
{
        struct worker *w = arg;
        CURL *c = curl_easy_init();
        char url[128];

        snprintf(url, sizeof(url), "%s/api/v1/health", w->d->base_url);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        for (int i = 0; i < w->n; i++) {
                double t0 = now_s();
                long status = 0;
                if (curl_easy_perform(c) != CURLE_OK)
                        w->errors++;
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
                if (status != 200)
                        w->errors++;
                w->lat[i] = now_s() - t0;
        }
        curl_easy_cleanup(c);
        return NULL;
}

static char run_tag[32];
static const char pair_pw[] = "bench-password-1";

static void *pair_worker(void *arg)
{
        struct worker *w = arg;
        char user[64], tok[65];

        snprintf(user, sizeof(user), "pair%s-%d", run_tag, w->id);
        for (int i = 0; i < w->n; i++) {
                double t0 = now_s();
                if (harness_pair(w->d, user, pair_pw, "vault-pair", tok, NULL) != 200)
                        w->errors++;
                w->lat[i] = now_s() - t0;
        }
        return NULL;
}

/* Peak VmRSS while a scenario runs, sampled every 2 ms. */
struct rss_sampler {
        pid_t pid;
        volatile int stop;
        long peak;
};

static void *sample_rss(void *arg)
{
        struct rss_sampler *s = arg;
        while (!s->stop) {
                long v = rss_kib(s->pid, "VmRSS:");
                if (v > s->peak)
                        s->peak = v;
                usleep(2000);
        }
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
        if (sqlite3_open(path, &h) != SQLITE_OK) {
                sqlite3_close(h);
                return -1;
        }
        /* A schema other than this daemon's (the earlier server's) lacks
         * columns: no figure then. */
        if (sqlite3_exec(h,
                         "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; DELETE FROM server_ops",
                         NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(
                    h,
                    "INSERT INTO server_ops (server_sequence, op_id, user_id, vault_id,"
                    " device_id, entity_type, entity_id, op_type, payload_json,"
                    " idempotency_key, client_sequence, last_seen_server_seq, created_at,"
                    " pushed_at, entity_key) VALUES (?,?,'u','v','d','note',?,'update',"
                    "'{\"text\":\"benchmark payload of moderate size\"}',NULL,?,0,"
                    "'2026-11-26T00:00:00Z','2026-11-26T00:00:00Z',?)",
                    -1, &st, NULL) != SQLITE_OK) {
                sqlite3_close(h);
                return -1;
        }
        double t0 = now_s();
        long seq = 0;
        bool failed = false;
        for (int i = 0; i < pushes && !failed; i++) {
                sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
                for (int k = 0; k < OPS_PER_PUSH; k++) {
                        char id[64], eid[32];
                        int entity;
                        seq++;
                        bench_op_ids(0, i, k, id, sizeof(id), &entity);
                        snprintf(eid, sizeof(eid), "notes/%d.md", entity);
                        sqlite3_bind_int64(st, 1, seq);
                        sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
                        sqlite3_bind_text(st, 3, eid, -1, SQLITE_TRANSIENT);
                        sqlite3_bind_int(st, 4, i);
                        /* Scattered like the daemon's keys of the entity. */
                        sqlite3_bind_int64(st, 5, (sqlite3_int64)mix((uint64_t)entity));
                        if (sqlite3_step(st) != SQLITE_DONE)
                                failed = true;
                        sqlite3_reset(st);
                }
                if (sqlite3_exec(h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
                        failed = true;
        }
        double dt = now_s() - t0;
        sqlite3_finalize(st);
        sqlite3_close(h);
        if (failed)
                return -1;
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

static int run_workers(struct worker *w, int n, void *(*fn)(void *))
{
        pthread_t t[64];
        for (int i = 0; i < n; i++)
                pthread_create(&t[i], NULL, fn, &w[i]);
        for (int i = 0; i < n; i++)
                pthread_join(t[i], NULL);
        return 0;
}

/* Replace the user's password hash with a bcrypt one (--bcrypt-users):
 * cost 10, as the earlier server's own. */
static int set_bcrypt_hash(const struct daemon *d, const char *name, const char *pw)
{
        char salt[CRYPT_GENSALT_OUTPUT_SIZE], path[4200];
        struct crypt_data cd = {0};
        sqlite3 *h;
        sqlite3_stmt *st;
        int rc;

        if (!crypt_gensalt_rn("$2b$", 10, NULL, 0, salt, sizeof(salt)) ||
            !crypt_rn(pw, salt, &cd, sizeof(cd)) || cd.output[0] == '*')
                return -EINVAL;
        snprintf(path, sizeof(path), "%s/server.db", d->data_dir);
        if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
                sqlite3_close(h);
                return -EIO;
        }
        sqlite3_busy_timeout(h, 10000);
        rc = sqlite3_prepare_v2(h, "UPDATE server_users SET password_hash = ? WHERE username = ?",
                                -1, &st, NULL);
        if (rc == SQLITE_OK) {
                sqlite3_bind_text(st, 1, cd.output, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
                rc = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(h) == 1 ? SQLITE_OK
                                                                                : SQLITE_ERROR;
                sqlite3_finalize(st);
        }
        sqlite3_close(h);
        return rc == SQLITE_OK ? 0 : -EIO;
}

static void add_user(const struct daemon *d, const char *name, const char *pw)
{
        char email[96];
        snprintf(email, sizeof(email), "%s@example.com", name);
        if (harness_add_user(d, name, email, pw, true, false, NULL) < 0 ||
            (bcrypt_users && set_bcrypt_hash(d, name, pw) < 0)) {
                fprintf(stderr, "cannot add user %s\n", name);
                exit(1);
        }
}

static void bench_health(const struct daemon *d)
{
        struct worker w[HEALTH_CLIENTS];
        for (int i = 0; i < HEALTH_CLIENTS; i++)
                w[i] = (struct worker){
                        d, "", i, HEALTH_PER_CLIENT, calloc(HEALTH_PER_CLIENT, sizeof(double)), 0};
        double c0 = proc_cpu_s(d->pid), t0 = now_s();
        run_workers(w, HEALTH_CLIENTS, health_worker);
        double dt = now_s() - t0, cpu = proc_cpu_s(d->pid) - c0;
        long n = (long)HEALTH_CLIENTS * HEALTH_PER_CLIENT;
        printf("health (%d clients):\n  %.0f requests/s\n", HEALTH_CLIENTS, (double)n / dt);
        report_latency("health", w, HEALTH_CLIENTS, HEALTH_PER_CLIENT);
        report_cpu(cpu, n, "request");
        proc_print_memory(d->pid, "after");
        for (int i = 0; i < HEALTH_CLIENTS; i++)
                free(w[i].lat);
}

static void bench_pairing(const struct daemon *d)
{
        struct worker w[PAIR_USERS];
        struct rss_sampler s = {.pid = d->pid};
        pthread_t sampler;
        char user[64];

        for (int i = 0; i < PAIR_USERS; i++) {
                snprintf(user, sizeof(user), "pair%s-%d", run_tag, i);
                add_user(d, user, pair_pw);
                w[i] = (struct worker){
                        d, "", i, PAIRS_PER_USER, calloc(PAIRS_PER_USER, sizeof(double)), 0};
        }
        proc_print_memory(d->pid, "before the burst");
        s.peak = rss_kib(d->pid, "VmRSS:");
        pthread_create(&sampler, NULL, sample_rss, &s);
        double c0 = proc_cpu_s(d->pid), t0 = now_s();
        run_workers(w, PAIR_USERS, pair_worker);
        double dt = now_s() - t0, cpu = proc_cpu_s(d->pid) - c0;
        s.stop = 1;
        pthread_join(sampler, NULL);
        long n = (long)PAIR_USERS * PAIRS_PER_USER;
        printf("pairing burst (%d clients, %ld pairings, %s):\n", PAIR_USERS, n,
               bcrypt_users ? "users stored with bcrypt cost 10" : "Argon2id t=2 m=19 MiB");
        printf("  %.1f pairings/s\n", (double)n / dt);
        report_latency("pairing", w, PAIR_USERS, PAIRS_PER_USER);
        report_cpu(cpu, n, "pairing");
        printf("  peak RSS during the burst: %.1f MiB\n", (double)s.peak / 1024.0);
        proc_print_memory(d->pid, "after the burst");
        proc_print_memory_settled(d->pid, "after the burst");
        for (int i = 0; i < PAIR_USERS; i++)
                free(w[i].lat);
}

int main(int argc, char **argv)
{
        struct daemon d = {0};
        char pw[] = "bench-password-1";
        struct worker pushers[PUSH_CLIENTS_MAX], pullers[PULL_CLIENTS];
        pthread_t t[PUSH_CLIENTS_MAX > PULL_CLIENTS ? PUSH_CLIENTS_MAX : PULL_CLIENTS];
        int push_clients = PUSH_CLIENTS, pushes = PUSHES;
        const char *target = NULL, *data = NULL;
        long pid = 0;
        bool push_only = false;
        char u1[64], u2[64];

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--push-only") == 0)
                        push_only = true;
                else if (i + 1 < argc && strcmp(argv[i], "--push-clients") == 0)
                        push_clients = atoi(argv[++i]);
                else if (strcmp(argv[i], "--spread") == 0)
                        spread = true;
                else if (strcmp(argv[i], "--bcrypt-users") == 0)
                        bcrypt_users = true;
                else if (i + 1 < argc && strcmp(argv[i], "--pushes") == 0)
                        pushes = atoi(argv[++i]);
                else if (i + 1 < argc && strcmp(argv[i], "--url") == 0)
                        target = argv[++i];
                else if (i + 1 < argc && strcmp(argv[i], "--pid") == 0)
                        pid = atol(argv[++i]);
                else if (i + 1 < argc && strcmp(argv[i], "--data") == 0)
                        data = argv[++i];
                else {
                        fprintf(stderr, "sync-bench: unknown argument %s\n", argv[i]);
                        return 2;
                }
        }
        if (((target || data || pid) && !(target && data && pid > 0)) || push_clients < 1 ||
            push_clients > PUSH_CLIENTS_MAX || pushes < push_clients) {
                fprintf(stderr, "usage: sync-bench [--push-only] [--push-clients N] [--pushes N] "
                                "[--spread] [--bcrypt-users] "
                                "[--url URL --pid PID --data DIR]\n");
                return 2;
        }
        snprintf(run_tag, sizeof(run_tag), "%lx",
                 (unsigned long)time(NULL) ^ (unsigned long)getpid());
        snprintf(u1, sizeof(u1), "bench%s-1", run_tag);
        snprintf(u2, sizeof(u2), "bench%s-2", run_tag);

        curl_global_init(CURL_GLOBAL_ALL);
        harness_set_unique_client_ips(true);
        if (target) {
                d.pid = (pid_t)pid;
                snprintf(d.base_url, sizeof(d.base_url), "%s", target);
                snprintf(d.data_dir, sizeof(d.data_dir), "%s", data);
                snprintf(d.root, sizeof(d.root), "%s", data);
        } else {
                struct daemon_options o = {.config_yaml = "trusted_proxies: [\"127.0.0.1\"]\n"};
                if (harness_start(&d, &o) < 0) {
                        fprintf(stderr, "cannot start the daemon\n");
                        return 1;
                }
        }
        add_user(&d, u1, pw);
        add_user(&d, u2, pw);
        long rss_start = rss_kib(d.pid, "VmRSS:");
        printf("sync benchmark against %s (daemon pid %d)\n", d.base_url, (int)d.pid);
        proc_print_memory(d.pid, "at start");

        /* 1. push: four devices a user (the pair rule allows five). */
        int per_client = pushes / push_clients;
        for (int i = 0; i < push_clients; i++) {
                char more[64];
                const char *user = i < 4 ? u1 : u2;
                if (i >= 8) {
                        snprintf(more, sizeof(more), "bench%s-p%d", run_tag, i / 4);
                        if (i % 4 == 0)
                                add_user(&d, more, pw);
                        user = more;
                }
                pushers[i] = (struct worker){
                        &d, "", i, per_client, calloc((size_t)per_client, sizeof(double)), 0};
                if (harness_pair(&d, user, pw, "vault-push", pushers[i].token, NULL) != 200) {
                        fprintf(stderr, "pairing failed\n");
                        return 1;
                }
        }
        printf("pushing\n");
        fflush(stdout);
        double c0 = proc_cpu_s(d.pid), t0 = now_s();
        for (int i = 0; i < push_clients; i++)
                pthread_create(&t[i], NULL, push_worker, &pushers[i]);
        for (int i = 0; i < push_clients; i++)
                pthread_join(t[i], NULL);
        double push_dt = now_s() - t0, push_cpu = proc_cpu_s(d.pid) - c0;
        int total_pushes = push_clients * per_client;
        double push_ops = (double)total_pushes * OPS_PER_PUSH / push_dt;

        char dbpath[4200];
        snprintf(dbpath, sizeof(dbpath), "%s/server.db", d.data_dir);
        /* The bare SQLite run writes next to the daemon's data only when
         * the harness owns it; else into a directory of its own. */
        char bare_dir[] = "/var/tmp/sync-bench-XXXXXX", cmd[64];
        if (!mkdtemp(bare_dir))
                return 1;
        double bare_ops = bare_sqlite_ops_per_s(bare_dir, dbpath, total_pushes);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", bare_dir);
        if (system(cmd) != 0)
                fprintf(stderr, "cannot remove %s\n", bare_dir);

        printf("push (%d clients, %d pushes of %d ops, synchronous=FULL):\n", push_clients,
               total_pushes, OPS_PER_PUSH);
        printf("  daemon: %.0f ops/s (%.0f pushes/s)\n", push_ops, push_ops / OPS_PER_PUSH);
        if (bare_ops > 0) {
                printf("  bare SQLite, same rows and durability: %.0f ops/s\n", bare_ops);
                printf("  ratio: %.2f of the SQLite limit\n", push_ops / bare_ops);
        } else {
                printf("  bare SQLite: not measured (not this daemon's schema)\n");
        }
        report_latency("push", pushers, push_clients, per_client);
        report_cpu(push_cpu, (long)total_pushes * OPS_PER_PUSH, "op");
        proc_print_memory(d.pid, "after");
        if (push_only) {
                if (!target) {
                        harness_stop(&d, SIGTERM, 30, NULL);
                        harness_destroy(&d);
                }
                return 0;
        }

        /* 2. pull: a vault of 10 000 ops, 100-op pages at random offsets. The
         * push phase filled vault-push with 20 000 ops; use a fresh vault. */
        char tok[65];
        char pull_vault[64];
        snprintf(pull_vault, sizeof(pull_vault), "vault-pull-%s", run_tag);
        harness_pair(&d, u1, pw, pull_vault, tok, NULL);
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
        c0 = proc_cpu_s(d.pid);
        t0 = now_s();
        for (int i = 0; i < PULL_CLIENTS; i++)
                pthread_create(&t[i], NULL, pull_worker, &pullers[i]);
        for (int i = 0; i < PULL_CLIENTS; i++)
                pthread_join(t[i], NULL);
        double pull_dt = now_s() - t0, pull_cpu = proc_cpu_s(d.pid) - c0;
        printf("pull (%d clients, 100-op pages of a %d-op vault):\n", PULL_CLIENTS, VAULT_OPS);
        printf("  %.0f requests/s\n", PULL_CLIENTS * PULLS_PER_CLIENT / pull_dt);
        report_latency("pull", pullers, PULL_CLIENTS, PULLS_PER_CLIENT);
        report_cpu(pull_cpu, (long)PULL_CLIENTS * PULLS_PER_CLIENT, "request");
        proc_print_memory(d.pid, "after");

        /* 3. health, 4. a pairing burst */
        bench_health(&d);
        bench_pairing(&d);

        /* 5. idle long-poll waiters */
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
                                 "{\"since_sequence\":1000000,\"wait_seconds\":10}");
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
               (double)rss_start / 1024.0, (double)rss_before / 1024.0,
               (double)rss_waiting / 1024.0);
        printf("  peak RSS (VmHWM) over the whole run: %.1f MiB\n",
               (double)rss_kib(d.pid, "VmHWM:") / 1024.0);
        /* Let the waits end with an answer: a suspended connection that its
         * client closes holds its memory until its wait is over, which
         * would show in whatever runs next (the blob benchmark). */
        until = now_s() + 30;
        while (running > 0 && now_s() < until) {
                curl_multi_perform(multi, &running);
                curl_multi_poll(multi, NULL, 0, 100, NULL);
        }

        if (!target)
                harness_stop(&d, SIGTERM, 30, NULL);
        for (int i = 0; i < IDLE_WAITERS; i++) {
                curl_multi_remove_handle(multi, easy[i]);
                curl_easy_cleanup(easy[i]);
                curl_slist_free_all(hl[i]);
        }
        curl_multi_cleanup(multi);
        if (!target)
                harness_destroy(&d);
        return 0;
}
