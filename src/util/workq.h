/* SPDX-License-Identifier: MIT */
/*
 * A bounded queue of background jobs run in order by one worker thread:
 * work a request must not wait for, or whose duration must not show in
 * its answer (the password-reset e-mail).  Jobs never outlive the queue:
 * workq_free() runs what is queued, within a deadline, and drops the rest.
 * No logging here; a full queue is reported to the submitter.
 */
#pragma once

#include <stddef.h>

struct workq;

typedef void (*workq_fn)(void *data);

/* Start a queue holding at most capacity pending jobs.  0 or negative errno. */
int workq_new(size_t capacity, struct workq **ret);

/*
 * Queue fn(data).  done(data) (may be NULL) is called once the job ran or
 * was dropped.  Returns 0; -EAGAIN when the queue is full and -ESHUTDOWN
 * when it is stopping (done is not called then: data stays the caller's).
 */
int workq_submit(struct workq *q, workq_fn fn, workq_fn done, void *data);

/*
 * Queue fn(data) as workq_submit() does, then wait up to timeout_ms for it
 * to have run.  Returns 0 when it ran, -ETIMEDOUT when it has not yet (it
 * still will), or the errors of workq_submit().
 */
int workq_submit_wait(struct workq *q, workq_fn fn, workq_fn done, void *data, unsigned timeout_ms);

/* Jobs queued or running now. */
size_t workq_pending(struct workq *q);

/*
 * Stop accepting jobs, let the worker finish the queue for up to
 * timeout_ms, then drop what is left and free everything.  Returns 0, or
 * -ETIMEDOUT when a job was still running at the deadline: the worker is
 * then left to finish it and free the queue itself, so whatever that job
 * uses must stay alive.  NULL is a no-op.
 */
int workq_free(struct workq *q, unsigned timeout_ms);
