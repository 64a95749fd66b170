/* SPDX-License-Identifier: MIT */
/*
 * Implementation of auth/ratelimit.h: a chained hash table of buckets plus
 * an intrusive LRU list.  A bucket remembers the start of its window and
 * the attempts in it; a hit after the window resets it.  When the table is
 * full the list's tail (least recently seen) is reused.
 */
#include "auth/ratelimit.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define RATELIMIT_KEY_MAX 96

struct bucket {
        char key[RATELIMIT_KEY_MAX]; /* "<rule>|<key>" */
        time_t window_start;
        unsigned count;
        struct bucket *hnext;               /* hash chain */
        struct bucket *lru_prev, *lru_next; /* most recent at head */
};

struct pool {
        pthread_mutex_t lock;
        struct bucket **table;
        size_t n_slots;
        struct bucket *pool; /* max preallocated buckets */
        size_t used, max;
        struct bucket *head, *tail;
};

static const struct {
        const char *name;
        unsigned limit;
        unsigned window;
} rules[_RL_MAX] = {
        [RL_PAIR] = {"pair", 5, 15 * 60},
        [RL_DEVICE_REGISTER] = {"device-register", 5, 15 * 60},
        [RL_AUTH_TEST] = {"auth-test", 10, 10 * 60},
        [RL_LOGIN] = {"login", 10, 10 * 60},
        [RL_REGISTER] = {"register", 5, 3600},
        [RL_FORGOT] = {"forgot", 5, 3600},
        [RL_RESET] = {"reset", 8, 3600},
        [RL_ADMIN_RESET] = {"admin-reset", 8, 3600},
        [RL_SMTP_TEST] = {"smtp-test", 10, 3600},
        [RL_ADMIN_REAUTH] = {"admin-reauth", 10, 10 * 60},
        [RL_AUDIT_BAD_TOKEN] = {"audit-bad-token", 5, 60},
};

const char *ratelimit_rule_name(enum ratelimit_rule rule)
{
        return rule < _RL_MAX ? rules[rule].name : "unknown";
}

void ratelimit_rule_limits(enum ratelimit_rule rule, unsigned *ret_limit, unsigned *ret_window)
{
        *ret_limit = rules[rule].limit;
        *ret_window = rules[rule].window;
}

/* Addresses and accounts have buckets of their own, so a flood of fresh
 * addresses evicts only address buckets, never an account's counter. */
struct ratelimit {
        struct pool *pools[_RL_KIND_MAX];
};

static void pool_free(struct pool *p)
{
        if (!p)
                return;
        if (p->table && p->pool)
                pthread_mutex_destroy(&p->lock);
        free(p->table);
        free(p->pool);
        free(p);
}

static int pool_new(size_t max_buckets, struct pool **ret)
{
        struct pool *p = calloc(1, sizeof(*p));

        if (!p)
                return -ENOMEM;
        p->max = max_buckets ? max_buckets : RATELIMIT_MAX_BUCKETS;
        p->n_slots = p->max * 2 + 1;
        p->table = calloc(p->n_slots, sizeof(*p->table));
        p->pool = calloc(p->max, sizeof(*p->pool));
        if (!p->table || !p->pool) {
                pool_free(p);
                return -ENOMEM;
        }
        pthread_mutex_init(&p->lock, NULL);
        *ret = p;
        return 0;
}

int ratelimit_new(size_t max_buckets, struct ratelimit **ret)
{
        struct ratelimit *rl = calloc(1, sizeof(*rl));

        if (!rl)
                return -ENOMEM;
        for (size_t k = 0; k < _RL_KIND_MAX; k++)
                if (pool_new(max_buckets, &rl->pools[k]) < 0) {
                        ratelimit_free(rl);
                        return -ENOMEM;
                }
        *ret = rl;
        return 0;
}

void ratelimit_free(struct ratelimit *rl)
{
        if (!rl)
                return;
        for (size_t k = 0; k < _RL_KIND_MAX; k++)
                pool_free(rl->pools[k]);
        free(rl);
}

static size_t hash_key(const char *s)
{
        uint64_t h = 1469598103934665603ull;
        for (; *s; s++) {
                h ^= (unsigned char)*s;
                h *= 1099511628211ull;
        }
        return (size_t)h;
}

static void lru_unlink(struct pool *rl, struct bucket *b)
{
        if (b->lru_prev)
                b->lru_prev->lru_next = b->lru_next;
        else
                rl->head = b->lru_next;
        if (b->lru_next)
                b->lru_next->lru_prev = b->lru_prev;
        else
                rl->tail = b->lru_prev;
        b->lru_prev = b->lru_next = NULL;
}

static void lru_push_front(struct pool *rl, struct bucket *b)
{
        b->lru_prev = NULL;
        b->lru_next = rl->head;
        if (rl->head)
                rl->head->lru_prev = b;
        rl->head = b;
        if (!rl->tail)
                rl->tail = b;
}

static void table_remove(struct pool *rl, struct bucket *b)
{
        struct bucket **pp = &rl->table[hash_key(b->key) % rl->n_slots];

        for (; *pp; pp = &(*pp)->hnext)
                if (*pp == b) {
                        *pp = b->hnext;
                        break;
                }
        b->hnext = NULL;
}

static struct bucket *bucket_get(struct pool *rl, const char *key, time_t now)
{
        size_t slot = hash_key(key) % rl->n_slots;
        struct bucket *b;

        for (b = rl->table[slot]; b; b = b->hnext)
                if (strcmp(b->key, key) == 0) {
                        lru_unlink(rl, b);
                        lru_push_front(rl, b);
                        return b;
                }
        if (rl->used < rl->max)
                b = &rl->pool[rl->used++];
        else {
                b = rl->tail; /* evict the least recently seen */
                lru_unlink(rl, b);
                table_remove(rl, b);
        }
        memset(b, 0, sizeof(*b));
        snprintf(b->key, sizeof(b->key), "%s", key);
        b->window_start = now;
        b->hnext = rl->table[slot];
        rl->table[slot] = b;
        lru_push_front(rl, b);
        return b;
}

unsigned ratelimit_hit(struct ratelimit *r, enum ratelimit_rule rule, enum ratelimit_kind kind,
                       const char *key, time_t now)
{
        char full[RATELIMIT_KEY_MAX];
        struct bucket *b;
        struct pool *rl;
        unsigned wait = 0;

        if (rule >= _RL_MAX || kind >= _RL_KIND_MAX)
                return 0;
        rl = r->pools[kind];
        snprintf(full, sizeof(full), "%s|%s", rules[rule].name, key ? key : "");
        pthread_mutex_lock(&rl->lock);
        b = bucket_get(rl, full, now);
        if (now - b->window_start >= (time_t)rules[rule].window || now < b->window_start) {
                b->window_start = now;
                b->count = 0;
        }
        if (b->count >= rules[rule].limit) {
                time_t left = b->window_start + (time_t)rules[rule].window - now;
                wait = left < 1 ? 1 : (unsigned)left;
        } else
                b->count++;
        pthread_mutex_unlock(&rl->lock);
        return wait;
}

unsigned ratelimit_peek(struct ratelimit *r, enum ratelimit_rule rule, enum ratelimit_kind kind,
                        const char *key, time_t now)
{
        char full[RATELIMIT_KEY_MAX];
        struct bucket *b;
        struct pool *rl;
        unsigned wait = 0;

        if (rule >= _RL_MAX || kind >= _RL_KIND_MAX)
                return 0;
        rl = r->pools[kind];
        snprintf(full, sizeof(full), "%s|%s", rules[rule].name, key ? key : "");
        pthread_mutex_lock(&rl->lock);
        for (b = rl->table[hash_key(full) % rl->n_slots]; b; b = b->hnext)
                if (strcmp(b->key, full) == 0)
                        break;
        if (b && now >= b->window_start && now - b->window_start < (time_t)rules[rule].window &&
            b->count >= rules[rule].limit) {
                time_t left = b->window_start + (time_t)rules[rule].window - now;
                wait = left < 1 ? 1 : (unsigned)left;
        }
        pthread_mutex_unlock(&rl->lock);
        return wait;
}

size_t ratelimit_size(struct ratelimit *r)
{
        size_t n = 0;

        for (size_t k = 0; k < _RL_KIND_MAX; k++) {
                pthread_mutex_lock(&r->pools[k]->lock);
                n += r->pools[k]->used;
                pthread_mutex_unlock(&r->pools[k]->lock);
        }
        return n;
}
