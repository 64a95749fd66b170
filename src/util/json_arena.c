/* SPDX-License-Identifier: MIT */
/* Implementation of util/json_arena.h. */
#include "util/json_arena.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* A slot holds the tree of a push of a few hundred small ops (a ten-op
 * push takes about 20 KiB); a larger tree spills over to malloc(). */
#define ARENA_SLOT_SIZE (128u * 1024)
/* Trees alive at once: the store's push queue (256) and the pushes being
 * parsed or answered beside it.  More simply parse with malloc(). */
#define ARENA_SLOTS 320u
/* What malloc() guarantees, and what jansson's values need. */
#define ARENA_ALIGN 16u

/*
 * The region: ARENA_SLOTS slots of ARENA_SLOT_SIZE bytes, reserved once.
 * base is written before any thread starts and never again; the rest is
 * guarded by lock.  A slot is either on the free stack or owned by exactly
 * one arena.  touched[i] is how far slot i has been written since the
 * last trim (its pages may be resident); it is kept for free slots only.
 */
static struct {
        char *base; /* NULL: no region, everything is malloc() */
        pthread_mutex_t lock;
        unsigned free_stack[ARENA_SLOTS]; /* the last released on top: its pages are warm */
        size_t n_free;
        size_t touched[ARENA_SLOTS];
} region = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The arena json_arena_loadb() is parsing into on this thread. */
static _Thread_local struct json_arena *current;

static bool in_region(const void *p)
{
        return region.base &&
               (uintptr_t)p - (uintptr_t)region.base < (uintptr_t)ARENA_SLOTS * ARENA_SLOT_SIZE;
}

static void *arena_malloc(size_t size)
{
        struct json_arena *a = current;

        if (!a)
                return malloc(size);
        size_t need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
        if (a->slot > 0 && need >= size && need <= ARENA_SLOT_SIZE - a->used) {
                char *p = region.base + (size_t)(a->slot - 1) * ARENA_SLOT_SIZE + a->used;
                a->used += need;
                return p;
        }
        a->spilled = true;
        return malloc(size);
}

static void arena_free(void *p)
{
        if (!in_region(p))
                free(p);
}

int json_arena_setup(void)
{
        void *base;

        if (region.base)
                return -EALREADY;
        base = mmap(NULL, (size_t)ARENA_SLOTS * ARENA_SLOT_SIZE, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (base == MAP_FAILED)
                return -errno;
        for (unsigned i = 0; i < ARENA_SLOTS; i++)
                region.free_stack[i] = ARENA_SLOTS - 1 - i;
        region.n_free = ARENA_SLOTS;
        region.base = base;
        json_set_alloc_funcs(arena_malloc, arena_free);
        return 0;
}

/* Give a a slot, or mark it slotless when none is free. */
static void arena_take_slot(struct json_arena *a)
{
        pthread_mutex_lock(&region.lock);
        if (region.n_free > 0) {
                unsigned i = region.free_stack[--region.n_free];
                a->slot = (int)i + 1;
                a->used = 0;
        } else
                a->no_slot = true;
        pthread_mutex_unlock(&region.lock);
}

json_t *json_arena_loadb(struct json_arena *a, const char *buf, size_t len, size_t flags,
                         json_error_t *error)
{
        json_t *root;

        if (!region.base)
                return json_loadb(buf, len, flags, error);
        if (a->slot == 0 && !a->no_slot)
                arena_take_slot(a);
        current = a;
        root = json_loadb(buf, len, flags, error);
        current = NULL;
        return root;
}

void json_arena_release(struct json_arena *a, json_t *root)
{
        /* Without spilled nodes the whole tree is in the slot, given back
         * below; otherwise the decref frees the malloc()'d ones. */
        if (a->slot == 0 || a->spilled)
                json_decref(root);
        if (a->slot > 0) {
                unsigned i = (unsigned)(a->slot - 1);
                pthread_mutex_lock(&region.lock);
                if (a->used > region.touched[i])
                        region.touched[i] = a->used;
                region.free_stack[region.n_free++] = i;
                pthread_mutex_unlock(&region.lock);
        }
        *a = (struct json_arena){0};
}

void json_arena_trim(void)
{
        size_t page = (size_t)sysconf(_SC_PAGESIZE);

        pthread_mutex_lock(&region.lock);
        for (size_t k = 0; k < region.n_free; k++) {
                unsigned i = region.free_stack[k];
                if (region.touched[i] == 0)
                        continue;
                size_t len = (region.touched[i] + page - 1) / page * page;
                /* Cannot fail on a private anonymous mapping of ours; if it
                 * did, the pages would merely stay resident. */
                (void)madvise(region.base + (size_t)i * ARENA_SLOT_SIZE, len, MADV_DONTNEED);
                region.touched[i] = 0;
        }
        pthread_mutex_unlock(&region.lock);
}

void json_arena_stats(size_t *ret_in_use, size_t *ret_touched_free)
{
        size_t touched = 0;

        pthread_mutex_lock(&region.lock);
        for (size_t k = 0; k < region.n_free; k++)
                touched += region.touched[region.free_stack[k]];
        *ret_in_use = region.base ? ARENA_SLOTS - region.n_free : 0;
        *ret_touched_free = touched;
        pthread_mutex_unlock(&region.lock);
}
