/* SPDX-License-Identifier: MIT */
/*
 * Long poll for pull (api.md §4, ours): a pull with wait_seconds and
 * nothing new is suspended (libmicrohttpd suspend/resume, so it holds no
 * worker thread) until a push in its scope, its deadline, a revocation of
 * its device, or shutdown.  A resumed request simply runs its handler
 * again, which re-reads the store.
 *
 * No lost wake-ups: pushes call longpoll_notify() after their commit with
 * the sequence they reached; a waiter passes the server-wide sequence of
 * the snapshot it found empty, and longpoll_wait() refuses to sleep when
 * a notification newer than that snapshot already arrived for its scope.
 * Scopes are tracked in a fixed table of hash slots: a collision can only
 * cause a spurious re-check, never a missed one.
 */
#pragma once

#include <stdint.h>

#include "http/http.h"

struct longpoll;

int longpoll_new(struct longpoll **ret);
void longpoll_free(struct longpoll *lp); /* NULL ok; call after shutdown */

/* A push in scope committed up to sequence seq. */
void longpoll_notify(struct longpoll *lp, const char *user_id, const char *vault_id, int64_t seq);

/* Pushes up to sequence seq committed in scopes not known (another daemon's,
 * while its notifications were not heard): wake every waiter, and make a
 * waiter whose snapshot is older than seq re-read instead of sleeping. */
void longpoll_notify_all(struct longpoll *lp, int64_t seq);

/*
 * Suspend req until woken or deadline (CLOCK_MONOTONIC µs).  snapshot_seq
 * is the global sequence of the snapshot the handler found empty.
 * Returns 1 when suspended (the handler returns 0 and resume runs later),
 * 0 when the caller should re-read now instead, -ESHUTDOWN during shutdown.
 */
int longpoll_wait(struct longpoll *lp, struct http_request *req, const char *user_id,
                  const char *vault_id, const char *device_id, int64_t snapshot_seq,
                  uint64_t deadline_usec, http_handler_fn resume);

/* Forget req's waiter if it is still registered (route cleanup). */
void longpoll_cancel(struct longpoll *lp, struct http_request *req);

/* Wake the waiters of one device (revoked: they re-authenticate). */
void longpoll_wake_device(struct longpoll *lp, const char *device_id);

/* Wake every waiter and refuse new ones (shutdown). */
void longpoll_shutdown(struct longpoll *lp);

/* Current number of suspended waiters. */
unsigned longpoll_waiting(struct longpoll *lp);
