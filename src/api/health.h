/* SPDX-License-Identifier: MIT */
/*
 * The health monitor: a background thread that probes the database (a
 * read, and a write lock taken and released at once) and the blob
 * directory about once a second, and at once when a request reports a
 * failure.  Health, readiness and the watchdog answer from its last
 * result, so an unauthenticated flood of health checks costs no disk or
 * database work and never waits for a stuck writer.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct app;
struct health_monitor;

/* The last probe's findings. */
struct health_state {
        bool database_reachable;     /* a read query answered */
        bool database_writable;      /* the write lock could be taken in time */
        bool blob_storage_writable;  /* a file could be created among the blobs */
        int schema_version;          /* 0 when unknown */
        uint64_t storage_free_bytes; /* available to the daemon on the data filesystem */
        bool storage_low;            /* below the free-space reserve */
};

/* Probe once now, then start the thread.  app must outlive the monitor
 * (its store and blob directory are probed).  0 or negative errno. */
int health_monitor_new(struct app *app, struct health_monitor **ret);

/* Stop the thread and free.  NULL is a no-op. */
void health_monitor_free(struct health_monitor *m);

/* Copy the last result.  Never blocks on the store. */
void health_monitor_get(struct health_monitor *m, struct health_state *ret);

/* Ask for a probe now (a request just saw a failure).  NULL is a no-op. */
void health_monitor_kick(struct health_monitor *m);
