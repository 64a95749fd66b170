/* SPDX-License-Identifier: MIT */
/*
 * Implementation of api/metrics.h: fixed tables of atomic counters indexed
 * by route (position in api_routes, plus one for unmatched requests) and
 * status, rendered with util/metrics.  Sizes (database, blobs, memory,
 * descriptors) are read at scrape time, so an idle daemon costs nothing.
 */
#include "api/metrics.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/longpoll.h"
#include "api/app.h"
#include "api/routes.h"
#include "http/http.h"
#include "store/store_maint.h"
#include "util/cleanup.h"
#include "util/metrics.h"

/* Status codes counted on their own; any other is counted as "other". */
static const unsigned status_codes[] = {0,   200, 204, 206, 301, 302, 303, 304, 400,
                                        401, 403, 404, 405, 409, 410, 411, 413, 414,
                                        415, 416, 422, 429, 431, 500, 501, 503};
#define N_STATUS (ELEMENTSOF(status_codes) + 1)

/* Request latency, microseconds: 1 ms to 60 s. */
static const uint64_t latency_bounds[] = {1000,    2500,    5000,     10000,    25000,
                                          50000,   100000,  250000,   500000,   1000000,
                                          2500000, 5000000, 10000000, 30000000, 60000000};
static const struct metrics_buckets latency_buckets = {latency_bounds, ELEMENTSOF(latency_bounds)};
/* Operations per push. */
static const uint64_t batch_bounds[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};
static const struct metrics_buckets batch_buckets = {batch_bounds, ELEMENTSOF(batch_bounds)};
/* Push commit latency, microseconds: 100 us to 10 s. */
static const uint64_t commit_bounds[] = {100,   250,   500,    1000,   2500,   5000,    10000,
                                         25000, 50000, 100000, 250000, 500000, 1000000, 10000000};
static const struct metrics_buckets commit_buckets = {commit_bounds, ELEMENTSOF(commit_bounds)};

static const char *const counter_names[API_METRIC_COUNTERS_][2] = {
        [API_METRIC_OPS_PULLED] = {"verstak_ops_pulled_total", "Operations returned by pulls."},
        [API_METRIC_BLOB_BYTES_IN] = {"verstak_blob_bytes_in_total",
                                      "Bytes of blobs uploaded and stored."},
        [API_METRIC_BLOB_BYTES_OUT] = {"verstak_blob_bytes_out_total",
                                       "Bytes of blobs sent in downloads."},
        [API_METRIC_MAIL_SENT] = {"verstak_mail_sent_total", "E-mails the mail helper accepted."},
        [API_METRIC_RATE_LIMITED] = {"verstak_rate_limited_total",
                                     "Requests refused by the rate limiter (429)."},
};

struct api_metrics {
        size_t n_routes;                   /* api_n_routes + 1 (unmatched) */
        atomic_uint_fast64_t *requests;    /* [n_routes][N_STATUS] */
        struct metrics_histogram *latency; /* [n_routes] */
        atomic_uint_fast64_t counters[API_METRIC_COUNTERS_];
        struct metrics_histogram push_batch;
        struct metrics_histogram push_commit;
};

int api_metrics_new(struct api_metrics **ret)
{
        struct api_metrics *m = calloc(1, sizeof(*m));

        if (!m)
                return -ENOMEM;
        m->n_routes = api_n_routes + 1;
        m->requests = calloc(m->n_routes * N_STATUS, sizeof(*m->requests));
        m->latency = calloc(m->n_routes, sizeof(*m->latency));
        if (!m->requests || !m->latency) {
                api_metrics_free(m);
                return -ENOMEM;
        }
        for (size_t i = 0; i < m->n_routes; i++)
                m->latency[i].buckets = &latency_buckets;
        m->push_batch.buckets = &batch_buckets;
        m->push_commit.buckets = &commit_buckets;
        *ret = m;
        return 0;
}

void api_metrics_free(struct api_metrics *m)
{
        if (!m)
                return;
        free(m->requests);
        free(m->latency);
        free(m);
}

void api_metrics_add(struct api_metrics *m, enum api_metric which, uint64_t n)
{
        if (m && which < API_METRIC_COUNTERS_)
                atomic_fetch_add_explicit(&m->counters[which], n, memory_order_relaxed);
}

void api_metrics_push(struct api_metrics *m, size_t n_ops, uint64_t commit_usec)
{
        if (!m)
                return;
        metrics_histogram_observe(&m->push_batch, n_ops);
        metrics_histogram_observe(&m->push_commit, commit_usec);
}

static size_t status_slot(unsigned status)
{
        for (size_t i = 0; i < ELEMENTSOF(status_codes); i++)
                if (status_codes[i] == status)
                        return i;
        return ELEMENTSOF(status_codes);
}

void api_metrics_request_done(void *userdata, const struct route *route, unsigned status,
                              uint64_t duration_usec)
{
        struct api_metrics *m = userdata;
        size_t r = route ? (size_t)(route - api_routes) : api_n_routes;

        if (!m || r >= m->n_routes)
                return;
        atomic_fetch_add_explicit(&m->requests[r * N_STATUS + status_slot(status)], 1,
                                  memory_order_relaxed);
        metrics_histogram_observe(&m->latency[r], duration_usec);
}

/* `method="GET",route="/api/v1/health"` for route index r. */
static void route_labels(size_t r, char *out, size_t size)
{
        char pattern[HTTP_MAX_URL / 8];

        if (r >= api_n_routes) {
                snprintf(out, size, "method=\"\",route=\"unmatched\"");
                return;
        }
        metrics_escape_label(api_routes[r].pattern, pattern, sizeof(pattern));
        snprintf(out, size, "method=\"%s\",route=\"%s\"", api_routes[r].method, pattern);
}

static void write_requests(FILE *f, const struct api_metrics *m)
{
        char labels[512], with_status[600];

        metrics_write_header(f, "verstak_http_requests_total", "counter",
                             "HTTP requests answered, by route and status.");
        for (size_t r = 0; r < m->n_routes; r++) {
                route_labels(r, labels, sizeof(labels));
                for (size_t s = 0; s < N_STATUS; s++) {
                        uint64_t v = atomic_load_explicit(&m->requests[r * N_STATUS + s],
                                                          memory_order_relaxed);
                        if (v == 0)
                                continue;
                        if (s < ELEMENTSOF(status_codes))
                                snprintf(with_status, sizeof(with_status), "%s,status=\"%u\"",
                                         labels, status_codes[s]);
                        else
                                snprintf(with_status, sizeof(with_status), "%s,status=\"other\"",
                                         labels);
                        metrics_write_value(f, "verstak_http_requests_total", with_status,
                                            (double)v);
                }
        }
        metrics_write_header(f, "verstak_http_request_duration_seconds", "histogram",
                             "Time from the request's first byte to its end, by route.");
        for (size_t r = 0; r < m->n_routes; r++) {
                if (atomic_load_explicit(&m->latency[r].count, memory_order_relaxed) == 0)
                        continue;
                route_labels(r, labels, sizeof(labels));
                metrics_write_histogram(f, "verstak_http_request_duration_seconds", labels,
                                        &m->latency[r], 1e6);
        }
}

/* Resident memory in bytes and open descriptors, from /proc/self. */
static void process_usage(uint64_t *ret_rss, uint64_t *ret_fds)
{
        unsigned long long size = 0, resident = 0;
        FILE *f = fopen("/proc/self/statm", "re");
        DIR *d;
        struct dirent *de;

        *ret_rss = *ret_fds = 0;
        if (f) {
                if (fscanf(f, "%llu %llu", &size, &resident) == 2)
                        *ret_rss = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
                fclose(f);
        }
        d = opendir("/proc/self/fd");
        if (!d)
                return;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        (*ret_fds)++;
        closedir(d);
        if (*ret_fds > 0)
                (*ret_fds)--; /* the directory stream's own descriptor */
}

static void write_gauge(FILE *f, const char *name, const char *help, double v)
{
        metrics_write_header(f, name, "gauge", help);
        metrics_write_value(f, name, NULL, v);
}

static void write_counter(FILE *f, const char *name, const char *help, double v)
{
        metrics_write_header(f, name, "counter", help);
        metrics_write_value(f, name, NULL, v);
}

int api_metrics_render(void *userdata, char **ret, size_t *ret_len)
{
        struct app *app = userdata;
        const struct api_metrics *m = app->metrics;
        uint64_t rss, fds, blob_files = 0, blob_bytes = 0, db_bytes = 0;
        char *buf = NULL;
        size_t len = 0;
        FILE *f;

        if (!m)
                return -EINVAL;
        f = open_memstream(&buf, &len);
        if (!f)
                return -errno;
        write_requests(f, m);
        write_counter(f, "verstak_ops_pushed_total", "Operations accepted by pushes.",
                      (double)atomic_load(&app->ops_pushed));
        for (size_t i = 0; i < API_METRIC_COUNTERS_; i++)
                write_counter(f, counter_names[i][0], counter_names[i][1],
                              (double)atomic_load(&m->counters[i]));
        write_counter(f, "verstak_mail_failed_total",
                      "E-mails that could not be handed over or delivered.",
                      (double)atomic_load(&app->mail_failures));
        metrics_write_header(f, "verstak_push_batch_ops", "histogram",
                             "Operations per push request.");
        metrics_write_histogram(f, "verstak_push_batch_ops", NULL, &m->push_batch, 1);
        metrics_write_header(f, "verstak_push_commit_seconds", "histogram",
                             "Time the store took to commit a push (group commit included).");
        metrics_write_histogram(f, "verstak_push_commit_seconds", NULL, &m->push_commit, 1e6);
        write_gauge(f, "verstak_longpoll_waiters", "Pulls held waiting for new operations.",
                    (double)longpoll_waiting(app->longpoll));
        (void)store_database_bytes(app->store, &db_bytes);
        write_gauge(f, "verstak_database_bytes",
                    "Size of the database (SQLite: server.db and its WAL; PostgreSQL: "
                    "pg_database_size()).",
                    (double)db_bytes);
        (void)store_blob_totals(app->store, &blob_files, &blob_bytes);
        write_gauge(f, "verstak_blobs", "Distinct blobs recorded in the database.",
                    (double)blob_files);
        write_gauge(f, "verstak_blob_bytes", "Bytes of the distinct blobs recorded.",
                    (double)blob_bytes);
        process_usage(&rss, &fds);
        write_gauge(f, "process_resident_memory_bytes", "Resident memory size in bytes.",
                    (double)rss);
        write_gauge(f, "process_open_fds", "Number of open file descriptors.", (double)fds);
        write_gauge(f, "process_start_time_seconds",
                    "Start time of the process since the Unix epoch in seconds.",
                    (double)app->started_at);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}
