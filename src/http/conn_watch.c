/* SPDX-License-Identifier: MIT */
/*
 * The request-head deadline and the minimum body rate (conn_watch.h): a
 * list of watched connections and the sweeper thread that cuts the slow
 * ones.  Workers write their connection's progress with atomics; the list
 * itself, and every shutdown(2) and poll(2), is under one lock that
 * conn_watch_remove() also takes, so a socket is never touched after it
 * was closed.
 */
#include "http/conn_watch.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util/clock.h"
#include "util/log.h"
#include "util/netaddr.h"

#define USEC_PER_SEC 1000000u
/* How often the sweeper looks. */
#define SWEEP_USEC (USEC_PER_SEC / 2)
/* Cuts of one sweep logged one by one; the rest are counted in one line. */
#define SWEEP_LOG_MAX 16
/* A request still incomplete this long after it began, whose client has
 * closed its side, is ended (see half_closed()).  Well above any time a
 * worker thread is busy elsewhere (a write waits at most 1.5 s for the
 * database), so a whole request sent before the client's FIN is always
 * read and answered first. */
#define HALF_CLOSED_USEC (5 * USEC_PER_SEC)

enum phase {
        PHASE_HEAD,   /* waiting for a request head: deadline_usec applies */
        PHASE_BODY,   /* head in, body arriving: the minimum rate applies */
        PHASE_ANSWER, /* request in: the handler and the idle timeout rule */
};

struct conn_watch_entry {
        struct conn_watch_entry *prev, *next; /* under the lock */
        struct conn_watch *watch;
        int fd;
        char peer[INET6_ADDRSTRLEN];
        atomic_int phase;
        atomic_uint_fast64_t head_since_usec; /* PHASE_HEAD began */
        atomic_uint_fast64_t deadline_usec;   /* PHASE_HEAD */
        atomic_uint_fast64_t body_since_usec; /* PHASE_BODY began */
        atomic_uint_fast64_t body_bytes;
        /* The sweeper's own: the current rate window. */
        uint64_t window_start_usec, window_bytes;
        bool cut;
        atomic_bool answered_early;
};

struct conn_watch {
        struct conn_watch_limits limits;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        pthread_t thread;
        bool thread_started;
        bool stopping; /* under the lock */
        struct conn_watch_entry *head;
        /* The sweeper's own: the sockets it asks whether their client has
         * closed its side, and their entries. */
        struct pollfd *polled;
        struct conn_watch_entry **polled_entries;
        size_t polled_cap;
};

enum cut_reason {
        CUT_HEAD,        /* head deadline passed */
        CUT_BODY,        /* body below the minimum rate */
        CUT_HALF_CLOSED, /* the client closed its side mid-request */
};

struct cut {
        char peer[INET6_ADDRSTRLEN];
        enum cut_reason reason;
};

/* Whether e is to be cut now; advances its rate window.  Lock held. */
static bool offends(struct conn_watch *w, struct conn_watch_entry *e, uint64_t now,
                    enum cut_reason *reason)
{
        const struct conn_watch_limits *l = &w->limits;
        int phase = atomic_load(&e->phase);

        if (phase == PHASE_HEAD) {
                *reason = CUT_HEAD;
                return now >= atomic_load(&e->deadline_usec);
        }
        if (phase != PHASE_BODY || l->min_body_rate == 0)
                return false;
        *reason = CUT_BODY;
        uint64_t since = atomic_load(&e->body_since_usec);
        uint64_t bytes = atomic_load(&e->body_bytes);
        if (e->window_start_usec < since) { /* a new body */
                e->window_start_usec = since;
                e->window_bytes = 0;
        }
        uint64_t span = now > e->window_start_usec ? now - e->window_start_usec : 0;
        if (span < (uint64_t)l->body_grace_seconds * USEC_PER_SEC)
                return false;
        if (bytes < e->window_bytes ||
            (bytes - e->window_bytes) < l->min_body_rate * (span / USEC_PER_SEC))
                return true;
        e->window_start_usec = now;
        e->window_bytes = bytes;
        return false;
}

/* Shut e's socket down: libmicrohttpd sees the end of the stream and
 * closes the connection on its own thread.  Notes the cut in cuts[] for
 * logging.  Lock held. */
static void cut(struct conn_watch_entry *e, enum cut_reason reason, struct cut *cuts, size_t *n,
                size_t *n_more)
{
        if (shutdown(e->fd, SHUT_RDWR) < 0 && errno != ENOTCONN)
                return;
        e->cut = true;
        if (*n < SWEEP_LOG_MAX) {
                memcpy(cuts[*n].peer, e->peer, sizeof(cuts[*n].peer));
                cuts[(*n)++].reason = reason;
        } else
                (*n_more)++;
}

/* Whether e's request (head or body) began HALF_CLOSED_USEC ago or more
 * and is still incomplete: a candidate for half_closed(). */
static bool long_incomplete(struct conn_watch_entry *e, uint64_t now)
{
        int phase = atomic_load(&e->phase);
        uint64_t since = phase == PHASE_HEAD   ? atomic_load(&e->head_since_usec)
                         : phase == PHASE_BODY ? atomic_load(&e->body_since_usec)
                                               : now;
        return now >= since + HALF_CLOSED_USEC;
}

/* Connections whose client closed its side (sent its FIN) before its
 * request was complete: that request never completes.  libmicrohttpd
 * 0.9.75 misses such a FIN when it arrived together with the data before
 * the connection was accepted (edge-triggered epoll), and would hold the
 * socket in CLOSE_WAIT until its idle timeout.  One poll(2) over the
 * candidates, without waiting; the offenders are cut.  Lock held. */
static void cut_half_closed(struct conn_watch *w, uint64_t now, struct cut *cuts, size_t *n,
                            size_t *n_more)
{
        size_t k = 0;

        for (struct conn_watch_entry *e = w->head; e; e = e->next) {
                if (e->cut || !long_incomplete(e, now))
                        continue;
                if (k == w->polled_cap) {
                        size_t cap = w->polled_cap ? w->polled_cap * 2 : 64;
                        struct pollfd *p = reallocarray(w->polled, cap, sizeof(*p));
                        if (!p)
                                break;
                        w->polled = p;
                        struct conn_watch_entry **pe =
                                reallocarray(w->polled_entries, cap, sizeof(*pe));
                        if (!pe)
                                break;
                        w->polled_entries = pe;
                        w->polled_cap = cap;
                }
                w->polled[k] = (struct pollfd){.fd = e->fd, .events = POLLRDHUP};
                w->polled_entries[k++] = e;
        }
        if (k == 0 || poll(w->polled, k, 0) <= 0)
                return;
        for (size_t i = 0; i < k; i++)
                if (w->polled[i].revents & (POLLRDHUP | POLLHUP | POLLERR))
                        cut(w->polled_entries[i], CUT_HALF_CLOSED, cuts, n, n_more);
}

/* One pass over every connection: shut down the offenders (lock held);
 * fills cuts[] for logging. */
static size_t sweep_locked(struct conn_watch *w, struct cut *cuts, size_t *n_more)
{
        uint64_t now = clock_now_usec();
        size_t n = 0;

        *n_more = 0;
        for (struct conn_watch_entry *e = w->head; e; e = e->next) {
                enum cut_reason reason = CUT_HEAD;
                if (!e->cut && offends(w, e, now, &reason))
                        cut(e, reason, cuts, &n, n_more);
        }
        cut_half_closed(w, now, cuts, &n, n_more);
        return n;
}

static void log_cuts(const struct cut *cuts, size_t n, size_t n_more)
{
        static const char *const events[] = {
                [CUT_HEAD] = "slow_request_head",
                [CUT_BODY] = "slow_request_body",
                [CUT_HALF_CLOSED] = "half_closed_request",
        };
        static const char *const why[] = {
                [CUT_HEAD] = "request head not complete in time",
                [CUT_BODY] = "request body below the minimum rate",
                [CUT_HALF_CLOSED] = "client closed its side before its request was complete",
        };

        for (size_t i = 0; i < n; i++) {
                struct log_field f[] = {
                        {"EVENT", events[cuts[i].reason]},
                        {"CLIENT_IP", cuts[i].peer},
                };
                log_struct(LOG_INFO, f, "Closed a connection from %s: %s", cuts[i].peer,
                           why[cuts[i].reason]);
        }
        if (n_more > 0)
                log_info("Closed %zu more slow connections", n_more);
}

static void *sweeper_main(void *userdata)
{
        struct conn_watch *w = userdata;
        struct cut cuts[SWEEP_LOG_MAX];
        size_t n, n_more;

        pthread_mutex_lock(&w->lock);
        while (!w->stopping) {
                n = sweep_locked(w, cuts, &n_more);
                if (n > 0 || n_more > 0) {
                        pthread_mutex_unlock(&w->lock);
                        log_cuts(cuts, n, n_more);
                        pthread_mutex_lock(&w->lock);
                }
                if (w->stopping)
                        break;
                struct timespec ts = clock_after_usec(SWEEP_USEC);
                pthread_cond_timedwait(&w->cond, &w->lock, &ts);
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

int conn_watch_new(const struct conn_watch_limits *limits, struct conn_watch **ret)
{
        struct conn_watch *w;
        pthread_condattr_t attr;
        int r;

        if (!limits || limits->head_seconds == 0 || limits->keepalive_seconds == 0 ||
            (limits->min_body_rate > 0 && limits->body_grace_seconds == 0))
                return -EINVAL;
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->limits = *limits;
        r = pthread_mutex_init(&w->lock, NULL);
        if (r != 0) {
                free(w);
                return -r;
        }
        r = pthread_condattr_init(&attr);
        if (r == 0) {
                r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
                if (r == 0)
                        r = pthread_cond_init(&w->cond, &attr);
                pthread_condattr_destroy(&attr);
        }
        if (r != 0) {
                pthread_mutex_destroy(&w->lock);
                free(w);
                return -r;
        }
        r = pthread_create(&w->thread, NULL, sweeper_main, w);
        if (r != 0) {
                conn_watch_free(w);
                return -r;
        }
        w->thread_started = true;
        *ret = w;
        return 0;
}

void conn_watch_free(struct conn_watch *w)
{
        if (!w)
                return;
        pthread_mutex_lock(&w->lock);
        w->stopping = true;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        if (w->thread_started)
                pthread_join(w->thread, NULL);
        while (w->head)
                conn_watch_remove(w, w->head);
        free(w->polled);
        free(w->polled_entries);
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
}

int conn_watch_add(struct conn_watch *w, int fd, const struct sockaddr *peer,
                   struct conn_watch_entry **ret)
{
        struct conn_watch_entry *e;

        if (!w || fd < 0)
                return -EINVAL;
        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->watch = w;
        e->fd = fd;
        if (!peer || sockaddr_format_ip(peer, e->peer, sizeof(e->peer)) < 0)
                strcpy(e->peer, "unknown");
        uint64_t now = clock_now_usec();
        atomic_init(&e->phase, PHASE_HEAD);
        atomic_init(&e->head_since_usec, now);
        atomic_init(&e->deadline_usec, now + (uint64_t)w->limits.head_seconds * USEC_PER_SEC);
        atomic_init(&e->body_since_usec, 0);
        atomic_init(&e->body_bytes, 0);
        atomic_init(&e->answered_early, false);
        pthread_mutex_lock(&w->lock);
        e->next = w->head;
        if (w->head)
                w->head->prev = e;
        w->head = e;
        pthread_mutex_unlock(&w->lock);
        *ret = e;
        return 0;
}

void conn_watch_remove(struct conn_watch *w, struct conn_watch_entry *e)
{
        if (!w || !e)
                return;
        pthread_mutex_lock(&w->lock);
        if (e->prev)
                e->prev->next = e->next;
        else
                w->head = e->next;
        if (e->next)
                e->next->prev = e->prev;
        pthread_mutex_unlock(&w->lock);
        free(e);
}

void conn_watch_request_line(struct conn_watch_entry *e)
{
        if (!e)
                return;
        /* The first request keeps its deadline from the accept; a later one
         * gets a full head deadline from its request line, never more than
         * what the idle allowance left it. */
        uint64_t d = clock_now_usec() + (uint64_t)e->watch->limits.head_seconds * USEC_PER_SEC;
        if (d < atomic_load(&e->deadline_usec))
                atomic_store(&e->deadline_usec, d);
}

void conn_watch_head_done(struct conn_watch_entry *e)
{
        if (!e)
                return;
        atomic_store(&e->body_bytes, 0);
        atomic_store(&e->body_since_usec, clock_now_usec());
        atomic_store(&e->phase, PHASE_BODY);
}

void conn_watch_body(struct conn_watch_entry *e, size_t n)
{
        if (e)
                atomic_fetch_add_explicit(&e->body_bytes, n, memory_order_relaxed);
}

void conn_watch_received(struct conn_watch_entry *e)
{
        if (e)
                atomic_store(&e->phase, PHASE_ANSWER);
}

void conn_watch_request_done(struct conn_watch_entry *e)
{
        if (!e)
                return;
        uint64_t now = clock_now_usec();
        atomic_store(&e->head_since_usec, now);
        atomic_store(&e->deadline_usec,
                     now + (uint64_t)e->watch->limits.keepalive_seconds * USEC_PER_SEC);
        atomic_store(&e->phase, PHASE_HEAD);
}

void conn_watch_answered_early(struct conn_watch_entry *e)
{
        if (e)
                atomic_store(&e->answered_early, true);
}

bool conn_watch_lingers(const struct conn_watch_entry *e)
{
        return e && atomic_load(&e->answered_early);
}
