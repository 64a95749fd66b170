/* SPDX-License-Identifier: MIT */
/* Implementation of server/heap.h. */
#include "server/heap.h"

#include <malloc.h>

#include "store/store.h"
#include "util/json_arena.h"
#include "util/log.h"

/* glibc raises its mmap threshold to the size of each large block freed,
 * so after the first few password hashes (19 MiB each) and 64 MiB-class
 * buffers such blocks would come from the heap and stay there after a
 * burst.  A fixed threshold keeps every block of HEAP_MMAP_THRESHOLD or
 * more in its own mapping, returned on free(), and fixes the trim
 * threshold too; two arenas keep the memory freed by one worker thread
 * usable by the others. */
#define HEAP_MMAP_THRESHOLD (256 * 1024)
#define HEAP_ARENAS         2

void heap_tune(void)
{
        if (mallopt(M_MMAP_THRESHOLD, HEAP_MMAP_THRESHOLD) != 1 ||
            mallopt(M_ARENA_MAX, HEAP_ARENAS) != 1)
                log_warning("Cannot tune the heap; memory may stay high after a burst");
        int r = json_arena_setup();
        if (r < 0)
                log_warning_errno(r, "Cannot reserve the JSON arenas; pushes parse with malloc");
}

bool heap_watch_tick(struct heap_watch *w, uint64_t requests, struct store *store)
{
        uint64_t n = requests - w->requests;

        w->requests = requests;
        if (n > 0)
                w->since_returned = true;
        if (!w->since_returned || n >= HEAP_QUIET_REQUESTS)
                return false;
        /* The caches first: what they free is what the trim returns.
         * malloc_trim() hands back the free pages inside every arena, not
         * only the top of the main heap. */
        store_release_memory(store);
        json_arena_trim();
        (void)malloc_trim(0);
        w->since_returned = false;
        return true;
}
