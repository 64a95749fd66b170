/* SPDX-License-Identifier: MIT */
/*
 * Scaling benchmark: push and pull through one daemon on SQLite, one
 * daemon on PostgreSQL, and three daemons sharing one PostgreSQL database
 * (and one blob directory), on this machine.  The clients are spread over
 * the daemons as a load balancer with keep-alive connections would: client
 * k talks to daemon k mod N over one connection.
 *
 * For each setup it prints requests/s, ops/s and the CPU time per op
 * (push) or per page (pull) of the daemons, summed over all of them, and,
 * on PostgreSQL, of the database server's processes beside it
 * (VERSTAK_BENCH_PG_PID: the postmaster).  CPU time is the figure a busy
 * machine disturbs least.  It prints figures; it asserts nothing.
 *
 *   VERSTAK_SERVER_BIN=... VERSTAK_BENCH_PG_URL=postgresql://.../postgres \
 *   VERSTAK_BENCH_PG_PID=1234 multi-bench
 *
 * Without VERSTAK_BENCH_PG_URL only the SQLite row is measured.
 * bench/run-multi-bench.sh starts a PostgreSQL cluster (durable: fsync
 * on) and runs it.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "procstat.h"

#define MAX_DAEMONS       3
#define CLIENTS           12
#define PUSHES_PER_CLIENT 100
#define OPS_PER_PUSH      10
#define PULLS_PER_CLIENT  200
#define PULL_PAGE         100
#define CLIENT_PASSWORD   "bench-password-1"

struct setup {
        const char *name;
        bool pg;
        int daemons;
};

struct figures {
        double req_s, ops_s, cpu_us, db_cpu_us; /* CPU per op (push) or per page (pull) */
        int errors;
};

struct client {
        const struct daemon *d;
        char token[65];
        int id;
        int errors;
};

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
        (void)p;
        (void)u;
        return s * n;
}

/* A keep-alive connection to the client's daemon for path. */
static CURL *connect_client(const struct client *c, const char *path, struct curl_slist **hl)
{
        char auth[128], url[160];
        CURL *h = curl_easy_init();

        if (!h)
                return NULL;
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
        snprintf(url, sizeof(url), "%s%s", c->d->base_url, path);
        *hl = curl_slist_append(NULL, auth);
        *hl = curl_slist_append(*hl, "Content-Type: application/json");
        *hl = curl_slist_append(*hl, "Expect:");
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hl);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        return h;
}

/* POST body; counts anything but 200 as an error. */
static void post(struct client *c, CURL *h, const char *body)
{
        long status = 0;

        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        if (curl_easy_perform(h) != CURLE_OK)
                c->errors++;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200)
                c->errors++;
}

/* Write request i of client c into body. */
typedef void (*body_fn)(const struct client *c, int i, char *body, size_t size);

/* n requests of body() to path over one keep-alive connection. */
static void run_requests(struct client *c, const char *path, int n, body_fn body)
{
        struct curl_slist *hl = NULL;
        CURL *h = connect_client(c, path, &hl);
        char buf[8192];

        if (!h)
                c->errors++;
        for (int i = 0; h && i < n; i++) {
                body(c, i, buf, sizeof(buf));
                post(c, h, buf);
        }
        curl_slist_free_all(hl);
        curl_easy_cleanup(h);
}

static void push_body(const struct client *c, int i, char *body, size_t size)
{
        int off = snprintf(body, size, "{\"ops\":[");

        for (int k = 0; k < OPS_PER_PUSH; k++)
                off += snprintf(body + off, size - (size_t)off,
                                "%s{\"op_id\":\"c%d-%d-%d\",\"entity_type\":\"note\","
                                "\"entity_id\":\"notes/%d.md\",\"op_type\":\"update\","
                                "\"payload_json\":\"{\\\"text\\\":\\\"a payload of "
                                "moderate size\\\"}\",\"client_sequence\":%d}",
                                k ? "," : "", c->id, i, k, k, i);
        snprintf(body + off, size - (size_t)off, "]}");
}

static void *push_client(void *arg)
{
        run_requests(arg, "/api/v1/sync/push", PUSHES_PER_CLIENT, push_body);
        return NULL;
}

/* Pages of PULL_PAGE ops from the client's own vault, which the push
 * scenario filled.  Sequences are server-wide and the clients pushed at
 * the same time, so each vault's ops are spread over all of them: a
 * page starting in the first 70 % is full.  The same pages on every
 * setup. */
#define PULL_SINCE_MAX (CLIENTS * PUSHES_PER_CLIENT * OPS_PER_PUSH * 7 / 10)

static void pull_body(const struct client *c, int i, char *body, size_t size)
{
        unsigned seed = (unsigned)(c->id * 7919 + i);
        long since = (long)(rand_r(&seed) % PULL_SINCE_MAX);

        snprintf(body, size, "{\"since_sequence\":%ld,\"page_limit\":%d}", since, PULL_PAGE);
}

static void *pull_client(void *arg)
{
        run_requests(arg, "/api/v1/sync/pull", PULLS_PER_CLIENT, pull_body);
        return NULL;
}

/* CPU seconds of the database server: the postmaster, what it reaped, and
 * its live children (the daemons' connections); 0 without a pid. */
static double db_cpu_s(long postmaster)
{
        char path[300], buf[1024];
        double sum;
        DIR *dir;
        struct dirent *e;

        if (postmaster <= 0)
                return 0;
        sum = proc_cpu_s(postmaster);
        snprintf(path, sizeof(path), "/proc/%ld/stat", postmaster);
        FILE *f = fopen(path, "r");
        const char *p = f && fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
        unsigned long cut = 0, cst = 0;
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %lu %lu", &cut,
                        &cst) == 2)
                sum += (double)(cut + cst) / (double)sysconf(_SC_CLK_TCK);
        if (f)
                fclose(f);
        dir = opendir("/proc");
        while (dir && (e = readdir(dir))) {
                long pid = atol(e->d_name), ppid = 0;
                if (pid <= 0)
                        continue;
                snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
                f = fopen(path, "r");
                p = f && fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
                if (f)
                        fclose(f);
                if (p && sscanf(p + 2, "%*c %ld", &ppid) == 1 && ppid == postmaster)
                        sum += proc_cpu_s(pid);
        }
        if (dir)
                closedir(dir);
        return sum;
}

static double daemons_cpu_s(const struct daemon *d, int n)
{
        double sum = 0;
        for (int i = 0; i < n; i++)
                sum += proc_cpu_s(d[i].pid);
        return sum;
}

/* Run fn on every client at once; requests is their total. */
static struct figures measure(const struct daemon *d, int n_daemons, long postmaster,
                              struct client *clients, void *(*fn)(void *), int requests,
                              int ops_per_request, int cpu_unit_ops)
{
        pthread_t t[CLIENTS];
        struct figures f = {0};
        double c0 = daemons_cpu_s(d, n_daemons), p0 = db_cpu_s(postmaster), t0 = now_s();

        for (int i = 0; i < CLIENTS; i++)
                if (pthread_create(&t[i], NULL, fn, &clients[i]) != 0)
                        exit(1);
        for (int i = 0; i < CLIENTS; i++)
                pthread_join(t[i], NULL);
        double dt = now_s() - t0, units = (double)requests * ops_per_request / cpu_unit_ops;
        f.req_s = requests / dt;
        f.ops_s = (double)requests * ops_per_request / dt;
        f.cpu_us = (daemons_cpu_s(d, n_daemons) - c0) * 1e6 / units;
        f.db_cpu_us = postmaster > 0 ? (db_cpu_s(postmaster) - p0) * 1e6 / units : 0;
        for (int i = 0; i < CLIENTS; i++) {
                f.errors += clients[i].errors;
                clients[i].errors = 0;
        }
        return f;
}

static void run_setup(const struct setup *s, const char *pg_url, long postmaster,
                      struct figures *push, struct figures *pull)
{
        struct daemon d[MAX_DAEMONS];
        struct client clients[CLIENTS];
        char name[64];
        static const char yaml[] = "trusted_proxies: [\"127.0.0.1\"]\n";

        if (s->pg)
                setenv("VERSTAK_TEST_PG_URL", pg_url, 1);
        else
                unsetenv("VERSTAK_TEST_PG_URL");
        for (int i = 0; i < s->daemons; i++) {
                struct daemon_options o = {
                        .config_yaml = yaml,
                        .extra_args = (const char *const[]){"--log-level", "warning", NULL},
                        .share_with = i > 0 ? &d[0] : NULL};
                if (harness_start(&d[i], &o) < 0) {
                        fprintf(stderr, "%s: daemon %d did not start\n", s->name, i);
                        exit(1);
                }
        }
        /* One user (own vault, own device) per client, paired with the
         * client's daemon. */
        for (int k = 0; k < CLIENTS; k++) {
                clients[k] = (struct client){.d = &d[k % s->daemons], .id = k};
                snprintf(name, sizeof(name), "bench%d", k);
                char email[96];
                snprintf(email, sizeof(email), "%s@example.com", name);
                if (harness_add_user(&d[0], name, email, CLIENT_PASSWORD, true, false, NULL) < 0)
                        exit(1);
                if (harness_pair(clients[k].d, name, CLIENT_PASSWORD, "bench", clients[k].token,
                                 NULL) != 200) {
                        fprintf(stderr, "%s: cannot pair %s\n", s->name, name);
                        exit(1);
                }
        }
        *push = measure(d, s->daemons, s->pg ? postmaster : 0, clients, push_client,
                        CLIENTS * PUSHES_PER_CLIENT, OPS_PER_PUSH, 1);
        *pull = measure(d, s->daemons, s->pg ? postmaster : 0, clients, pull_client,
                        CLIENTS * PULLS_PER_CLIENT, PULL_PAGE, PULL_PAGE);
        for (int i = s->daemons - 1; i >= 0; i--)
                harness_destroy(&d[i]);
}

int main(void)
{
        static const struct setup setups[] = {
                {"SQLite, 1 daemon", false, 1},
                {"PostgreSQL, 1 daemon", true, 1},
                {"PostgreSQL, 3 daemons", true, 3},
        };
        const char *pg_url = getenv("VERSTAK_BENCH_PG_URL");
        const char *pm = getenv("VERSTAK_BENCH_PG_PID");
        long postmaster = pm ? atol(pm) : 0;
        struct figures push[3], pull[3];
        size_t n = pg_url && *pg_url ? 3 : 1;

        curl_global_init(CURL_GLOBAL_DEFAULT);
        harness_set_unique_client_ips(true);
        printf("%d clients, %d pushes of %d ops each; %d pulls of %d-op pages each; %ld CPUs\n",
               CLIENTS, PUSHES_PER_CLIENT, OPS_PER_PUSH, PULLS_PER_CLIENT, PULL_PAGE,
               sysconf(_SC_NPROCESSORS_ONLN));
        for (size_t i = 0; i < n; i++) {
                fprintf(stderr, "measuring: %s\n", setups[i].name);
                run_setup(&setups[i], pg_url, postmaster, &push[i], &pull[i]);
        }

        printf("\n| Setup | push req/s | push ops/s | daemon CPU µs/op | database CPU µs/op "
               "| pull req/s | pull ops/s | daemon CPU µs/page | database CPU µs/page "
               "| errors |\n");
        printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (size_t i = 0; i < n; i++) {
                char db_push[32] = "in the daemon", db_pull[32] = "in the daemon";
                if (setups[i].pg) {
                        snprintf(db_push, sizeof(db_push), "%.1f", push[i].db_cpu_us);
                        snprintf(db_pull, sizeof(db_pull), "%.0f", pull[i].db_cpu_us);
                }
                printf("| %s | %.0f | %.0f | %.1f | %s | %.0f | %.0f | %.0f | %s | %d |\n",
                       setups[i].name, push[i].req_s, push[i].ops_s, push[i].cpu_us, db_push,
                       pull[i].req_s, pull[i].ops_s, pull[i].cpu_us, db_pull,
                       push[i].errors + pull[i].errors);
        }
        curl_global_cleanup();
        return 0;
}
