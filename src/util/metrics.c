/* SPDX-License-Identifier: MIT */
/* Implementation of util/metrics.h. */
#include "util/metrics.h"

void metrics_histogram_observe(struct metrics_histogram *h, uint64_t value)
{
        size_t i = 0;

        while (i < h->buckets->n && value > h->buckets->bounds[i])
                i++;
        atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&h->sum, value, memory_order_relaxed);
}

void metrics_write_header(FILE *f, const char *name, const char *type, const char *help)
{
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_write_value(FILE *f, const char *name, const char *labels, double value)
{
        if (labels && labels[0])
                fprintf(f, "%s{%s} %.15g\n", name, labels, value);
        else
                fprintf(f, "%s %.15g\n", name, value);
}

void metrics_write_histogram(FILE *f, const char *name, const char *labels,
                             const struct metrics_histogram *h, double scale)
{
        const char *sep = labels && labels[0] ? "," : "";
        const char *l = labels ? labels : "";
        uint64_t cumulative = 0;

        for (size_t i = 0; i < h->buckets->n; i++) {
                cumulative += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
                fprintf(f, "%s_bucket{%s%sle=\"%.15g\"} %llu\n", name, l, sep,
                        (double)h->buckets->bounds[i] / scale, (unsigned long long)cumulative);
        }
        cumulative += atomic_load_explicit(&h->counts[h->buckets->n], memory_order_relaxed);
        fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, l, sep,
                (unsigned long long)cumulative);
        /* _count is the +Inf bucket as read here, so the two always agree
         * even while other threads observe. */
        double sum = (double)atomic_load_explicit(&h->sum, memory_order_relaxed) / scale;
        if (l[0]) {
                fprintf(f, "%s_sum{%s} %.15g\n", name, l, sum);
                fprintf(f, "%s_count{%s} %llu\n", name, l, (unsigned long long)cumulative);
        } else {
                fprintf(f, "%s_sum %.15g\n", name, sum);
                fprintf(f, "%s_count %llu\n", name, (unsigned long long)cumulative);
        }
}

void metrics_escape_label(const char *in, char *out, size_t size)
{
        size_t o = 0;

        if (size == 0)
                return;
        for (; *in && o + 3 < size; in++) {
                if (*in == '\\' || *in == '"') {
                        out[o++] = '\\';
                        out[o++] = *in;
                } else if (*in == '\n') {
                        out[o++] = '\\';
                        out[o++] = 'n';
                } else
                        out[o++] = *in;
        }
        out[o] = '\0';
}
