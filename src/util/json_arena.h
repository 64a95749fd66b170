/* SPDX-License-Identifier: MIT */
/*
 * Parse trees that cost one bump of a pointer per node.
 *
 * jansson allocates every value, object slot, key and string of a parsed
 * tree with its own malloc() and frees each with its own free(): about 40
 * of each per op of a push, a tenth of the push's instructions.  A tree
 * parsed by json_arena_loadb() instead takes its memory from an arena, one
 * slot of a region reserved at start-up, and json_arena_release() gives
 * the whole slot back at once, without visiting the nodes.
 *
 * How it stays safe with one allocator for the whole process
 * (json_set_alloc_funcs()):
 *   - jansson allocates from an arena only inside json_arena_loadb(), on
 *     the calling thread; everywhere else, and when no slot is free or a
 *     tree outgrows its slot, it gets plain malloc() (the arena is then
 *     "spilled").
 *   - jansson's free recognises arena memory by its address (inside the
 *     region) and leaves it alone; everything else goes to free().  So a
 *     tree may be json_decref()'d anywhere, by any thread, as before.
 *   - Only parsing runs in an arena, never json_dumps(): no arena memory
 *     is ever handed to code that calls free() itself.
 * A tree from json_arena_loadb() must not be used after json_arena_release()
 * of its arena, nor kept beyond it with json_incref().
 *
 * Without json_arena_setup(), or when its region could not be reserved,
 * json_arena_loadb() is json_loadb().
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* An arena: empty when zeroed.  One thread at a time parses into it. */
struct json_arena {
        int slot;     /* the region's slot + 1; 0: none taken yet */
        size_t used;  /* bytes of the slot handed out */
        bool spilled; /* some node came from malloc(): release must decref */
        bool no_slot; /* none was free: the arena is plain malloc() */
};

/* Reserve the region (address space only; pages are touched as trees
 * need them) and install jansson's allocator.  Call once, before any
 * thread starts.  0, or a negative errno (the arena is then unused). */
int json_arena_setup(void);

/* json_loadb() into a. */
json_t *json_arena_loadb(struct json_arena *a, const char *buf, size_t len, size_t flags,
                         json_error_t *error);

/* Free root (a tree parsed into a, may be NULL) and everything else parsed
 * into a, and give a's slot back.  a is empty again afterwards. */
void json_arena_release(struct json_arena *a, json_t *root);

/* Hand the pages of the slots not in use back to the system (madvise):
 * the daemon's quiet-time trim. */
void json_arena_trim(void);

/* For tests: slots in use, and bytes touched in the free ones since the
 * last trim. */
void json_arena_stats(size_t *ret_in_use, size_t *ret_touched_free);
