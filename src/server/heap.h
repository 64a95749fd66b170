/* SPDX-License-Identifier: MIT */
/*
 * The daemon's memory between bursts: glibc's heap settings and the JSON
 * arenas' region (util/json_arena.h), made once before any thread starts,
 * and the main loop's check that hands memory back to the system once a
 * burst of requests is over (the database's page caches, the JSON arenas'
 * pages, then the free pages of every malloc arena).  Serving
 * itself never waits for it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct store;

/* How often the main loop looks whether a burst is over. */
#define HEAP_TICK_USEC (5 * 1000000ull)
/* Fewer requests than this in one tick is quiet: a burst is over. */
#define HEAP_QUIET_REQUESTS 50

/* Fix the heap's thresholds and arenas, and reserve the JSON arenas (logs
 * when it cannot). */
void heap_tune(void);

struct heap_watch {
        uint64_t requests;   /* http_server_requests() at the last tick */
        bool since_returned; /* requests came in since memory was last returned */
};

/*
 * One tick: requests is the number of requests begun since the start.
 * When some came since memory was last returned and the last tick was
 * quiet, release store's caches and trim the heap.  Returns true when it
 * did.
 */
bool heap_watch_tick(struct heap_watch *w, uint64_t requests, struct store *store);
