/* SPDX-License-Identifier: MIT */
/*
 * The push queue and its writer thread (the group commit of store_ops.h):
 * submitters queue jobs and go on; the writer takes everything queued, up
 * to STORE_PUSH_BATCH_MAX, writes it in one transaction
 * (store_push_write_batch()) and tells each job it is done.  No SQL here.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "store/store_ops.h"
#include "util/clock.h"

/* The writer's stack: SQLite and the answer rendering need far less than
 * glibc's 8 MiB default (the HTTP workers run the same code on 1 MiB). */
#define STORE_WRITER_STACK (1024 * 1024)

/* With push_lock held: unlink the next batch from the queue. */
static struct store_push_job *take_batch(struct store *s)
{
        struct store_push_job *batch = s->push_queue, *last = batch;
        unsigned len = 1;

        for (; last->next && len < STORE_PUSH_BATCH_MAX; len++)
                last = last->next;
        s->push_queued -= len;
        s->push_queue = last->next;
        if (!s->push_queue)
                s->push_queue_tail = NULL;
        last->next = NULL;
        return batch;
}

/*
 * With push_lock held and a push queued: under concurrent load, wait up
 * to STORE_PUSH_GATHER_USEC for as many pushes as the last two batches
 * held.  Clients that push in turn split into two cohorts, one sending
 * while the other's batch is written; the clients answered by the last
 * commit send their next pushes within a moment, and one commit (one
 * fsync, one write of the pages every batch touches) for both cohorts
 * costs far less CPU than two.  Without concurrency (a last batch of one
 * push) nothing waits.
 */
static void gather_pushes(struct store *s)
{
        unsigned want = s->push_last_batches[0] + s->push_last_batches[1];
        struct timespec deadline;

        if (s->push_last_batches[0] <= 1)
                return;
        if (want > STORE_PUSH_BATCH_MAX)
                want = STORE_PUSH_BATCH_MAX;
        deadline = clock_after_usec(STORE_PUSH_GATHER_USEC);
        while (!s->push_stopping && s->push_queued < want)
                if (pthread_cond_timedwait(&s->push_arrived, &s->push_lock, &deadline) == ETIMEDOUT)
                        break;
}

static void *writer_main(void *userdata)
{
        struct store *s = userdata;

        /* Started from whichever thread pushed first, whose name it would
         * keep: named for top -H, perf and the crash reports. */
        (void)pthread_setname_np(pthread_self(), "push-writer");
        pthread_mutex_lock(&s->push_lock);
        for (;;) {
                while (!s->push_queue && !s->push_stopping)
                        pthread_cond_wait(&s->push_arrived, &s->push_lock);
                if (!s->push_queue)
                        break; /* stopping, and nothing left to write */
                gather_pushes(s);
                unsigned queued = s->push_queued;
                struct store_push_job *batch = take_batch(s);
                s->push_last_batches[1] = s->push_last_batches[0];
                s->push_last_batches[0] = queued - s->push_queued;
                s->push_writing = true;
                pthread_mutex_unlock(&s->push_lock);

                store_push_write_batch(s, batch);
                for (struct store_push_job *j = batch, *n; j; j = n) {
                        n = j->next; /* j may be gone once told */
                        j->next = NULL;
                        j->done(j, j->userdata);
                }

                pthread_mutex_lock(&s->push_lock);
                s->push_writing = false;
        }
        pthread_mutex_unlock(&s->push_lock);
        return NULL;
}

/* With push_lock held. */
static int start_writer(struct store *s)
{
        pthread_attr_t attr;
        int r;

        r = pthread_attr_init(&attr);
        if (r != 0)
                return -r;
        r = pthread_attr_setstacksize(&attr, STORE_WRITER_STACK);
        if (r == 0)
                r = pthread_create(&s->push_writer, &attr, writer_main, s);
        pthread_attr_destroy(&attr);
        if (r != 0)
                return -r;
        s->push_writer_started = true;
        return 0;
}

int store_push_submit(struct store *s, struct store_push_job *job)
{
        int r = 0;

        job->r = 0;
        job->res = (struct store_push_result){0};
        job->next = NULL;
        pthread_mutex_lock(&s->push_lock);
        if (s->push_stopping)
                r = -ESHUTDOWN;
        else if (s->push_queued >= STORE_PUSH_QUEUE_MAX)
                r = -EAGAIN;
        else if (!s->push_writer_started)
                r = start_writer(s);
        if (r == 0) {
                if (s->push_queue_tail)
                        s->push_queue_tail->next = job;
                else
                        s->push_queue = job;
                s->push_queue_tail = job;
                s->push_queued++;
                pthread_cond_signal(&s->push_arrived);
        }
        pthread_mutex_unlock(&s->push_lock);
        return r;
}

int store_push_finish(struct store_push_job *job, struct store_push_result *ret)
{
        int r = job->r;

        if (r >= 0 && !job->res.json)
                r = store_push_result_json(job->push->ops, &job->res, &job->res.json);
        if (r < 0) {
                store_push_result_done(&job->res);
                return r;
        }
        *ret = job->res;
        job->res = (struct store_push_result){0};
        return 0;
}

void store_push_writer_stop(struct store *s)
{
        bool started;

        pthread_mutex_lock(&s->push_lock);
        s->push_stopping = true;
        started = s->push_writer_started;
        pthread_cond_signal(&s->push_arrived);
        pthread_mutex_unlock(&s->push_lock);
        if (started)
                pthread_join(s->push_writer, NULL);
}

/* store_push_ops(): the submitter waits on its own stack frame. */
struct push_wait {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool done;
};

static void push_wait_done(struct store_push_job *job, void *userdata)
{
        struct push_wait *w = userdata;
        (void)job;

        pthread_mutex_lock(&w->lock);
        w->done = true;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
}

int store_push_ops(struct store *s, const struct store_push *p, struct store_push_result *ret)
{
        struct push_wait w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
        struct store_push_job job = {.push = p, .done = push_wait_done, .userdata = &w};
        int r;

        r = store_push_submit(s, &job);
        if (r < 0)
                return r;
        pthread_mutex_lock(&w.lock);
        while (!w.done)
                pthread_cond_wait(&w.cond, &w.lock);
        pthread_mutex_unlock(&w.lock);
        pthread_mutex_destroy(&w.lock);
        pthread_cond_destroy(&w.cond);
        return store_push_finish(&job, ret);
}
