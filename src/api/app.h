/* SPDX-License-Identifier: MIT */
/*
 * The daemon's shared state, created at start-up (server/app.h) and handed
 * to the HTTP layer as the opaque pointer of struct http_params, so every
 * handler reaches it with api_app(req).  Only long-lived, thread-safe
 * objects live here; nothing is a mutable global.
 */
#pragma once

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "config/config.h"
#include "http/http.h"

struct store;
struct ratelimit;
struct longpoll;
struct blob_store;
struct mail_client;
struct workq;
struct request_slots;
struct health_monitor;
struct api_metrics;
struct pg_changes;
struct longpoll_remote;

/* Where the SMTP settings an administrator sees came from (static strings:
 * SMTP_SOURCE_*), for GET /admin/api/smtp. */
#define SMTP_SOURCE_DEFAULT        "default"
#define SMTP_SOURCE_CONFIG         "config"
#define SMTP_SOURCE_EARLIER_SERVER "earlier_server"

struct smtp_sources {
        const char *delivery;   /* host, port, security, username, from */
        const char *password;   /* the SMTP password */
        const char *public_url; /* the base of links in e-mails */
};

struct app {
        struct config *config;
        char *data_dir;  /* absolute path of the data directory */
        int data_dir_fd; /* opened O_DIRECTORY at start */
        char *blob_dir;  /* <data>/blobs */
        struct store *store;
        struct ratelimit *ratelimit;
        struct longpoll *longpoll;
        /* On PostgreSQL: pushes committed by any daemon sharing the
         * database, heard on a connection of their own, and the thread
         * that wakes this daemon's long polls with them; NULL on SQLite. */
        struct pg_changes *changes;
        struct longpoll_remote *remote_wakeups;
        struct blob_store *blobs;
        struct mail_client *mail;
        struct workq *background;      /* jobs answered requests leave behind */
        struct request_slots *uploads; /* blob uploads running, per user/address */
        struct request_slots *pulls;   /* pull answers being built or sent, per device */
        /* Bytes held by pull pages answered whole from memory (sync.c):
         * within PULL_WHOLE_BUDGET, beyond which pages are streamed. */
        atomic_size_t pull_whole_bytes;
        /* bcrypt cost of the earlier server's accounts not yet rehashed (0:
         * none), read at start: failed logins spend one check of it, so
         * they cost the same for unknown and migrated accounts. */
        unsigned legacy_bcrypt_cost;
        /* Writes no answer depends on (last_seen, audit entries): queued
         * so that a request never waits for the writer for them. */
        struct workq *deferred;
        struct health_monitor *health; /* what health and readiness report */
        struct api_metrics *metrics;   /* NULL when metrics are off */
        time_t started_at;
        struct smtp_sources smtp_sources;

        /* Counters for STATUS= and diagnostics (relaxed atomics). */
        atomic_uint_fast64_t ops_pushed;
        atomic_uint_fast64_t mail_failures;

        /* Retention on demand (the console's "run now"): set at start-up
         * to retention_run(); the time of the last run, 0 before the
         * first. */
        void (*run_retention)(struct app *app, time_t now);
        atomic_int_fast64_t last_retention;
};

/* The application a request is served for. */
static inline struct app *api_app(const struct http_request *req)
{
        return req->userdata;
}
