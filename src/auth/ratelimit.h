/* SPDX-License-Identifier: MIT */
/*
 * Fixed-window rate limiter (api.md §1).  Buckets are keyed by rule and a
 * caller-chosen key (a client IP, or the SHA-256 of an account name); at
 * most max_buckets live in memory, the least recently seen is evicted when
 * a new one is needed.  Thread-safe; O(1) per hit.
 */
#pragma once

#include <stddef.h>
#include <time.h>

struct ratelimit;

/* The rules of api.md §1: attempts per window. */
enum ratelimit_rule {
        RL_PAIR,            /* 5 / 15 min */
        RL_DEVICE_REGISTER, /* 5 / 15 min */
        RL_AUTH_TEST,       /* 10 / 10 min */
        RL_LOGIN,           /* 10 / 10 min */
        RL_REGISTER,        /* 5 / h */
        RL_FORGOT,          /* 5 / h */
        RL_RESET,           /* 8 / h */
        RL_ADMIN_RESET,     /* 8 / h */
        RL_SMTP_TEST,       /* 10 / h (ours): the console's test e-mail */
        RL_ADMIN_REAUTH,    /* 10 / 10 min (ours): failed password confirmations of
                             * console actions; counted with ratelimit_fail() */
        RL_AUDIT_BAD_TOKEN, /* 5 / min (ours, internal): audit entries for unknown
                             * device tokens, so a flood of bad tokens cannot turn
                             * into a flood of database writes */
        _RL_MAX,
};

/* Whose bucket: a client address, or an account (hashed name).  Each kind
 * has its own RATELIMIT_MAX_BUCKETS, so a flood of fresh addresses cannot
 * evict (and so reset) an account's counter. */
enum ratelimit_kind {
        RL_KIND_ADDRESS,
        RL_KIND_ACCOUNT,
        _RL_KIND_MAX,
};

/* Bucket cap of api.md §1 (per kind). */
#define RATELIMIT_MAX_BUCKETS 10000

int ratelimit_new(size_t max_buckets, struct ratelimit **ret);
void ratelimit_free(struct ratelimit *rl);

/* The name ("pair", "login", …) and limits of a rule. */
const char *ratelimit_rule_name(enum ratelimit_rule rule);
void ratelimit_rule_limits(enum ratelimit_rule rule, unsigned *ret_limit, unsigned *ret_window);

/* Count one attempt.  Returns 0 when allowed, otherwise the whole seconds
 * (>= 1) until the bucket's window ends, for Retry-After. */
unsigned ratelimit_hit(struct ratelimit *rl, enum ratelimit_rule rule, enum ratelimit_kind kind,
                       const char *key, time_t now);

/* The wait ratelimit_hit() would answer, without counting an attempt
 * (for rules that count only failures: check first, hit on failure). */
unsigned ratelimit_peek(struct ratelimit *rl, enum ratelimit_rule rule, enum ratelimit_kind kind,
                        const char *key, time_t now);

/* Number of live buckets (for tests and diagnostics). */
size_t ratelimit_size(struct ratelimit *rl);
