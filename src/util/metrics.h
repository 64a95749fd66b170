/* SPDX-License-Identifier: MIT */
/*
 * Building blocks for Prometheus metrics: lock-free counters and
 * histograms any thread may update, and writers for the text exposition
 * format (version 0.0.4).  No metric of the daemon is defined here, and
 * nothing is served: see api/metrics.h for what is measured and
 * http/text_server.h for the listener.
 *
 * Cost: an observation is one atomic add per affected counter (the
 * bucket, the count, the sum); nothing is allocated after creation.
 */
#pragma once

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Upper bounds of a histogram's buckets, in the unit observations are
 * made in (e.g. microseconds), ascending; +Inf is implied. */
struct metrics_buckets {
        const uint64_t *bounds;
        size_t n;
};

#define METRICS_MAX_BUCKETS 24

struct metrics_histogram {
        const struct metrics_buckets *buckets;
        atomic_uint_fast64_t counts[METRICS_MAX_BUCKETS + 1]; /* per bucket, not cumulative */
        atomic_uint_fast64_t count;
        atomic_uint_fast64_t sum;
};

/* Record one observation (in the buckets' unit). */
void metrics_histogram_observe(struct metrics_histogram *h, uint64_t value);

/* "# HELP name help\n# TYPE name type\n". */
void metrics_write_header(FILE *f, const char *name, const char *type, const char *help);

/* "name{labels} value\n"; labels (already formatted, `a="b",c="d"`) may be
 * NULL or "". */
void metrics_write_value(FILE *f, const char *name, const char *labels, double value);

/* The _bucket, _sum and _count lines of h, values divided by scale (e.g.
 * 1e6 to write microseconds as seconds); labels as above. */
void metrics_write_histogram(FILE *f, const char *name, const char *labels,
                             const struct metrics_histogram *h, double scale);

/* Escape a label value (backslash, double quote, newline) into out;
 * truncates to size. */
void metrics_escape_label(const char *in, char *out, size_t size);
