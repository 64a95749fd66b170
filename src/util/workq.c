/* SPDX-License-Identifier: MIT */
/*
 * Implementation of util/workq.h: a ring of jobs under one mutex, one
 * worker thread, a condition variable each way.
 */
#include "util/workq.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "util/clock.h"

struct job {
        workq_fn fn;
        workq_fn done;
        void *data;
};

struct workq {
        pthread_mutex_t lock;
        pthread_cond_t wake; /* a job was queued, or stopping */
        pthread_cond_t idle; /* the worker finished a job */
        pthread_t thread;
        struct job *ring;
        size_t capacity, head, count;
        uint64_t submitted; /* jobs ever queued; the last one's ticket */
        uint64_t finished;  /* jobs ever run; FIFO, so ticket t ran once finished >= t */
        bool running;       /* a job is executing */
        bool stopping;      /* no new jobs; worker exits when the ring is empty */
        bool drop;          /* worker exits without running what is left */
        bool orphaned;      /* workq_free gave up waiting: the worker frees */
};

static void destroy(struct workq *q)
{
        for (; q->count > 0; q->count--) {
                struct job *j = &q->ring[q->head];
                if (j->done)
                        j->done(j->data);
                q->head = (q->head + 1) % q->capacity;
        }
        pthread_cond_destroy(&q->wake);
        pthread_cond_destroy(&q->idle);
        pthread_mutex_destroy(&q->lock);
        free(q->ring);
        free(q);
}

static void *worker(void *arg)
{
        struct workq *q = arg;
        bool orphaned;

        pthread_mutex_lock(&q->lock);
        for (;;) {
                while (q->count == 0 && !q->stopping)
                        pthread_cond_wait(&q->wake, &q->lock);
                if (q->drop || q->count == 0)
                        break;
                struct job j = q->ring[q->head];
                q->head = (q->head + 1) % q->capacity;
                q->count--;
                q->running = true;
                pthread_mutex_unlock(&q->lock);
                j.fn(j.data);
                if (j.done)
                        j.done(j.data);
                pthread_mutex_lock(&q->lock);
                q->running = false;
                q->finished++;
                pthread_cond_broadcast(&q->idle);
        }
        orphaned = q->orphaned;
        pthread_mutex_unlock(&q->lock);
        if (orphaned)
                destroy(q);
        return NULL;
}

int workq_new(size_t capacity, struct workq **ret)
{
        struct workq *q;
        int r;

        if (capacity == 0)
                return -EINVAL;
        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->ring = calloc(capacity, sizeof(*q->ring));
        if (!q->ring) {
                free(q);
                return -ENOMEM;
        }
        q->capacity = capacity;
        pthread_mutex_init(&q->lock, NULL);
        pthread_cond_init(&q->wake, NULL);
        {
                pthread_condattr_t attr;
                pthread_condattr_init(&attr);
                pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
                pthread_cond_init(&q->idle, &attr);
                pthread_condattr_destroy(&attr);
        }
        r = pthread_create(&q->thread, NULL, worker, q);
        if (r != 0) {
                destroy(q);
                return -r;
        }
        *ret = q;
        return 0;
}

/* With q->lock held: queue the job; its ticket goes to *ret_ticket. */
static int submit_locked(struct workq *q, workq_fn fn, workq_fn done, void *data,
                         uint64_t *ret_ticket)
{
        if (q->stopping)
                return -ESHUTDOWN;
        if (q->count == q->capacity)
                return -EAGAIN;
        q->ring[(q->head + q->count) % q->capacity] = (struct job){fn, done, data};
        q->count++;
        *ret_ticket = ++q->submitted;
        pthread_cond_signal(&q->wake);
        return 0;
}

int workq_submit(struct workq *q, workq_fn fn, workq_fn done, void *data)
{
        uint64_t ticket;
        int r;

        pthread_mutex_lock(&q->lock);
        r = submit_locked(q, fn, done, data, &ticket);
        pthread_mutex_unlock(&q->lock);
        return r;
}

int workq_submit_wait(struct workq *q, workq_fn fn, workq_fn done, void *data, unsigned timeout_ms)
{
        struct timespec deadline = clock_after_usec((uint64_t)timeout_ms * 1000u);
        uint64_t ticket;
        int r;

        pthread_mutex_lock(&q->lock);
        r = submit_locked(q, fn, done, data, &ticket);
        while (r == 0 && q->finished < ticket)
                if (pthread_cond_timedwait(&q->idle, &q->lock, &deadline) == ETIMEDOUT)
                        r = q->finished < ticket ? -ETIMEDOUT : 0;
        pthread_mutex_unlock(&q->lock);
        return r;
}

size_t workq_pending(struct workq *q)
{
        size_t n;

        pthread_mutex_lock(&q->lock);
        n = q->count + (q->running ? 1 : 0);
        pthread_mutex_unlock(&q->lock);
        return n;
}

int workq_free(struct workq *q, unsigned timeout_ms)
{
        struct timespec deadline;
        bool done;

        if (!q)
                return 0;
        deadline = clock_after_usec((uint64_t)timeout_ms * 1000u);

        pthread_mutex_lock(&q->lock);
        q->stopping = true;
        pthread_cond_signal(&q->wake);
        while ((q->count > 0 || q->running) &&
               pthread_cond_timedwait(&q->idle, &q->lock, &deadline) != ETIMEDOUT)
                ;
        q->drop = true; /* what is still queued is dropped */
        done = !q->running;
        if (!done)
                q->orphaned = true;
        pthread_cond_signal(&q->wake);
        pthread_mutex_unlock(&q->lock);

        if (!done) {
                pthread_detach(q->thread);
                return -ETIMEDOUT;
        }
        pthread_join(q->thread, NULL);
        destroy(q);
        return 0;
}
