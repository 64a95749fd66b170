/* SPDX-License-Identifier: MIT */
/*
 * The daemon's shared state, created in main() and handed to every request
 * as req->app.  Only long-lived, thread-safe objects live here; nothing is
 * a mutable global.
 */
#pragma once

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "server/config.h"

struct store;
struct ratelimit;
struct longpoll;
struct blob_store;
struct mail_client;
struct workq;
struct api_metrics;

struct app {
        struct config *config;
        char *data_dir;  /* absolute path of the data directory */
        int data_dir_fd; /* opened O_DIRECTORY at start */
        char *blob_dir;  /* <data>/blobs */
        struct store *store;
        struct ratelimit *ratelimit;
        struct longpoll *longpoll;
        struct blob_store *blobs;
        struct mail_client *mail;
        struct workq *background;    /* jobs answered requests leave behind */
        struct api_metrics *metrics; /* NULL when metrics are off */
        time_t started_at;

        /* Counters for STATUS= and diagnostics (relaxed atomics). */
        atomic_uint_fast64_t requests;
        atomic_uint_fast64_t ops_pushed;
        atomic_uint_fast64_t mail_failures;
};
