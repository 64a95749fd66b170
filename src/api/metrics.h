/* SPDX-License-Identifier: MIT */
/*
 * What the daemon measures for Prometheus (GET /metrics on the metrics
 * listener only, never the public one): requests by route and status with
 * latency histograms, operations pushed and pulled, push batch sizes and
 * commit latency, blob bytes in and out, long-poll waiters, mail sent and
 * failed, rate-limit refusals, database and blob sizes, process memory and
 * descriptors.  Handlers count through the api_metrics_* calls (all
 * lock-free, NULL-safe); the rest is read when scraped.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct app;
struct route;
struct api_metrics;

enum api_metric {
        API_METRIC_OPS_PULLED,
        API_METRIC_BLOB_BYTES_IN,
        API_METRIC_BLOB_BYTES_OUT,
        API_METRIC_MAIL_SENT,
        API_METRIC_RATE_LIMITED,
        API_METRIC_COUNTERS_, /* number of counters */
};

/* Create the counters for the route table http_routes. */
int api_metrics_new(struct api_metrics **ret);
void api_metrics_free(struct api_metrics *m);

/* Add n to a counter. */
void api_metrics_add(struct api_metrics *m, enum api_metric which, uint64_t n);

/* One push: its number of operations and how long the store took. */
void api_metrics_push(struct api_metrics *m, size_t n_ops, uint64_t commit_usec);

/* An http_request_done_fn (http/http.h) with userdata = struct api_metrics *. */
void api_metrics_request_done(void *userdata, const struct route *route, unsigned status,
                              uint64_t duration_usec);

/* An http_text_fn (http/text_server.h) with userdata = struct app *: the
 * exposition text (format 0.0.4). */
int api_metrics_render(void *userdata, char **ret, size_t *ret_len);

/* The content type of that text. */
#define API_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
