/* SPDX-License-Identifier: MIT */
/*
 * Implementation of api/longpoll.h: a mutex-protected list of suspended
 * requests plus one timer thread that resumes the ones whose deadline has
 * passed.  Resuming only flags the request and calls MHD_resume_connection;
 * the answer is produced on a worker thread by the request's handler.
 */
#include "api/longpoll.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/cleanup.h"
#include "util/clock.h"
#include "util/log.h"

/* Hash slots remembering the newest notified sequence per scope. */
#define LONGPOLL_SLOTS 4096

struct waiter {
        struct http_request *req;
        size_t slot;
        char device_id[40];
        uint64_t deadline;
        struct waiter *prev, *next;
};

struct longpoll {
        pthread_mutex_t lock;
        pthread_cond_t cond; /* timer thread: list or deadlines changed */
        pthread_t timer;
        bool timer_started;
        bool shutting_down;
        struct waiter *head;
        unsigned n_waiting;
        int64_t slot_seq[LONGPOLL_SLOTS];
        int64_t all_seq; /* longpoll_notify_all(): every scope */
};

static size_t scope_slot(const char *user_id, const char *vault_id)
{
        uint64_t h = 1469598103934665603ull;

        for (const char *p = user_id; *p; p++)
                h = (h ^ (unsigned char)*p) * 1099511628211ull;
        h = (h ^ 0xff) * 1099511628211ull;
        for (const char *p = vault_id; *p; p++)
                h = (h ^ (unsigned char)*p) * 1099511628211ull;
        return (size_t)(h % LONGPOLL_SLOTS);
}

static void unlink_waiter(struct longpoll *lp, struct waiter *w)
{
        if (w->prev)
                w->prev->next = w->next;
        else
                lp->head = w->next;
        if (w->next)
                w->next->prev = w->prev;
        w->prev = w->next = NULL;
        lp->n_waiting--;
}

/* Resume and forget w; lock held. */
static void wake_locked(struct longpoll *lp, struct waiter *w)
{
        struct http_request *req = w->req;

        unlink_waiter(lp, w);
        req->state = NULL;
        free(w);
        http_request_resume(req);
}

static void *timer_main(void *userdata)
{
        struct longpoll *lp = userdata;

        pthread_mutex_lock(&lp->lock);
        while (!lp->shutting_down || lp->head) {
                uint64_t now = clock_now_usec(), next = now + 1000000u;
                struct waiter *w = lp->head;

                while (w) {
                        struct waiter *n = w->next;
                        if (w->deadline <= now || lp->shutting_down)
                                wake_locked(lp, w);
                        else if (w->deadline < next)
                                next = w->deadline;
                        w = n;
                }
                if (lp->shutting_down)
                        break;
                struct timespec ts = clock_after_usec(next > now ? next - now : 0);
                pthread_cond_timedwait(&lp->cond, &lp->lock, &ts);
        }
        pthread_mutex_unlock(&lp->lock);
        return NULL;
}

int longpoll_new(struct longpoll **ret)
{
        struct longpoll *lp = calloc(1, sizeof(*lp));
        pthread_condattr_t attr;
        int r;

        if (!lp)
                return -ENOMEM;
        pthread_mutex_init(&lp->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&lp->cond, &attr);
        pthread_condattr_destroy(&attr);
        r = pthread_create(&lp->timer, NULL, timer_main, lp);
        if (r != 0) {
                longpoll_free(lp);
                return -r;
        }
        lp->timer_started = true;
        *ret = lp;
        return 0;
}

void longpoll_free(struct longpoll *lp)
{
        if (!lp)
                return;
        longpoll_shutdown(lp);
        if (lp->timer_started)
                pthread_join(lp->timer, NULL);
        pthread_cond_destroy(&lp->cond);
        pthread_mutex_destroy(&lp->lock);
        free(lp);
}

void longpoll_notify(struct longpoll *lp, const char *user_id, const char *vault_id, int64_t seq)
{
        size_t slot;

        if (!lp)
                return;
        slot = scope_slot(user_id, vault_id);
        pthread_mutex_lock(&lp->lock);
        if (seq > lp->slot_seq[slot])
                lp->slot_seq[slot] = seq;
        for (struct waiter *w = lp->head, *n; w; w = n) {
                n = w->next;
                if (w->slot == slot)
                        wake_locked(lp, w);
        }
        pthread_mutex_unlock(&lp->lock);
}

void longpoll_notify_all(struct longpoll *lp, int64_t seq)
{
        if (!lp)
                return;
        pthread_mutex_lock(&lp->lock);
        if (seq > lp->all_seq)
                lp->all_seq = seq;
        for (struct waiter *w = lp->head, *n; w; w = n) {
                n = w->next;
                wake_locked(lp, w);
        }
        pthread_mutex_unlock(&lp->lock);
}

int longpoll_wait(struct longpoll *lp, struct http_request *req, const char *user_id,
                  const char *vault_id, const char *device_id, int64_t snapshot_seq,
                  uint64_t deadline_usec, http_handler_fn resume)
{
        size_t slot = scope_slot(user_id, vault_id);
        struct waiter *w;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->req = req;
        w->slot = slot;
        w->deadline = deadline_usec;
        strncpy(w->device_id, device_id, sizeof(w->device_id) - 1);

        pthread_mutex_lock(&lp->lock);
        if (lp->shutting_down) {
                pthread_mutex_unlock(&lp->lock);
                free(w);
                return -ESHUTDOWN;
        }
        if (lp->slot_seq[slot] > snapshot_seq || lp->all_seq > snapshot_seq) {
                /* A push landed after the caller's snapshot: re-read. */
                pthread_mutex_unlock(&lp->lock);
                free(w);
                return 0;
        }
        w->next = lp->head;
        if (lp->head)
                lp->head->prev = w;
        lp->head = w;
        lp->n_waiting++;
        req->state = w;
        /* Suspend under the lock so no wake-up can run before it. */
        http_request_suspend(req, resume);
        pthread_cond_signal(&lp->cond);
        pthread_mutex_unlock(&lp->lock);
        return 1;
}

void longpoll_cancel(struct longpoll *lp, struct http_request *req)
{
        if (!lp)
                return;
        pthread_mutex_lock(&lp->lock);
        struct waiter *w = req->state;
        if (w) {
                unlink_waiter(lp, w);
                req->state = NULL;
                free(w);
        }
        pthread_mutex_unlock(&lp->lock);
}

void longpoll_wake_device(struct longpoll *lp, const char *device_id)
{
        if (!lp)
                return;
        pthread_mutex_lock(&lp->lock);
        for (struct waiter *w = lp->head, *n; w; w = n) {
                n = w->next;
                if (strcmp(w->device_id, device_id) == 0)
                        wake_locked(lp, w);
        }
        pthread_mutex_unlock(&lp->lock);
}

void longpoll_shutdown(struct longpoll *lp)
{
        if (!lp)
                return;
        pthread_mutex_lock(&lp->lock);
        lp->shutting_down = true;
        for (struct waiter *w = lp->head, *n; w; w = n) {
                n = w->next;
                wake_locked(lp, w);
        }
        pthread_cond_signal(&lp->cond);
        pthread_mutex_unlock(&lp->lock);
}

unsigned longpoll_waiting(struct longpoll *lp)
{
        unsigned n;

        if (!lp)
                return 0;
        pthread_mutex_lock(&lp->lock);
        n = lp->n_waiting;
        pthread_mutex_unlock(&lp->lock);
        return n;
}
