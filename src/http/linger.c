/* SPDX-License-Identifier: MIT */
/*
 * The lingering close of http/linger.h: one thread polls the lingering
 * sockets and drops what their clients still send.  Sockets are handed
 * over through a short list under a lock, with an eventfd to wake the
 * thread; the thread alone owns the sockets it polls.
 */
#include "http/linger.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/log.h"

#define USEC_PER_SEC 1000000u

struct lingering {
        int fd;
        uint64_t deadline_usec; /* idle deadline, moved by what arrives */
        uint64_t end_usec;      /* the deadline of all */
        size_t dropped;
};

struct http_linger {
        pthread_t thread;
        int wake_fd; /* eventfd: a socket handed over, or stop */
        pthread_mutex_t lock;
        /* Under the lock: handed over, not yet taken by the thread; the
         * count of every lingering socket; stop. */
        struct lingering handed[HTTP_LINGER_MAX];
        unsigned n_handed, n_total;
        bool stopping;
        /* The thread's own. */
        struct lingering active[HTTP_LINGER_MAX];
        struct pollfd polled[HTTP_LINGER_MAX + 1];
        unsigned n_active;
};

/* Read and drop what the client sent; true once the socket is done with
 * (its client closed, an error, or the byte budget spent). */
static bool drain(struct lingering *g, uint64_t now)
{
        char buf[16 * 1024];

        for (;;) {
                ssize_t n = recv(g->fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n > 0) {
                        g->dropped += (size_t)n;
                        if (g->dropped > HTTP_LINGER_BYTES)
                                return true;
                        g->deadline_usec = now + (uint64_t)HTTP_LINGER_IDLE_SECONDS * USEC_PER_SEC;
                        if (g->deadline_usec > g->end_usec)
                                g->deadline_usec = g->end_usec;
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
        }
}

/* Take the handed-over sockets; false once stopping.  Lock not held. */
static bool take_handed(struct http_linger *l)
{
        bool stopping;

        pthread_mutex_lock(&l->lock);
        for (unsigned i = 0; i < l->n_handed; i++)
                l->active[l->n_active++] = l->handed[i];
        l->n_handed = 0;
        stopping = l->stopping;
        pthread_mutex_unlock(&l->lock);
        return !stopping;
}

static void release(struct http_linger *l, unsigned i)
{
        (void)close(l->active[i].fd);
        l->active[i] = l->active[--l->n_active];
        pthread_mutex_lock(&l->lock);
        l->n_total--;
        pthread_mutex_unlock(&l->lock);
}

static void *linger_main(void *userdata)
{
        struct http_linger *l = userdata;

        while (take_handed(l)) {
                uint64_t now = clock_now_usec(), next = UINT64_MAX;
                for (unsigned i = 0; i < l->n_active; i++) {
                        l->polled[i] = (struct pollfd){.fd = l->active[i].fd, .events = POLLIN};
                        if (l->active[i].deadline_usec < next)
                                next = l->active[i].deadline_usec;
                }
                l->polled[l->n_active] = (struct pollfd){.fd = l->wake_fd, .events = POLLIN};
                int timeout_ms = next == UINT64_MAX ? -1
                                 : next > now       ? (int)((next - now) / 1000 + 1)
                                                    : 0;
                if (poll(l->polled, l->n_active + 1, timeout_ms) < 0 && errno != EINTR) {
                        log_warning_errno(-errno, "http: lingering sockets not polled: %m");
                        break;
                }
                if (l->polled[l->n_active].revents) {
                        uint64_t v;
                        if (read(l->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                                log_warning_errno(-errno, "http: lingering wake-up lost: %m");
                }
                now = clock_now_usec();
                /* Backwards: release() moves the last socket into i. */
                for (unsigned i = l->n_active; i-- > 0;) {
                        bool done = l->polled[i].revents ? drain(&l->active[i], now) : false;
                        if (now >= l->active[i].deadline_usec)
                                done = true;
                        if (done)
                                release(l, i);
                }
        }
        while (l->n_active > 0)
                release(l, l->n_active - 1);
        return NULL;
}

int http_linger_new(struct http_linger **ret)
{
        struct http_linger *l = calloc(1, sizeof(*l));
        int r;

        if (!l)
                return -ENOMEM;
        l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (l->wake_fd < 0) {
                r = -errno;
                free(l);
                return r;
        }
        r = pthread_mutex_init(&l->lock, NULL);
        if (r == 0) {
                r = pthread_create(&l->thread, NULL, linger_main, l);
                if (r != 0)
                        pthread_mutex_destroy(&l->lock);
        }
        if (r != 0) {
                (void)close(l->wake_fd);
                free(l);
                return -r;
        }
        *ret = l;
        return 0;
}

static void wake(struct http_linger *l)
{
        uint64_t one = 1;

        /* Fails only when the counter is full: the thread wakes anyway. */
        if (write(l->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
                log_warning_errno(-errno, "http: lingering thread not woken: %m");
}

void http_linger_free(struct http_linger *l)
{
        if (!l)
                return;
        pthread_mutex_lock(&l->lock);
        l->stopping = true;
        pthread_mutex_unlock(&l->lock);
        wake(l);
        pthread_join(l->thread, NULL);
        for (unsigned i = 0; i < l->n_handed; i++)
                (void)close(l->handed[i].fd);
        (void)close(l->wake_fd);
        pthread_mutex_destroy(&l->lock);
        free(l);
}

int http_linger_adopt(struct http_linger *l, int fd)
{
        int copy, r = 0;

        if (!l || fd < 0)
                return -EINVAL;
        pthread_mutex_lock(&l->lock);
        if (l->stopping || l->n_total >= HTTP_LINGER_MAX)
                r = -EBUSY;
        else if ((copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
                r = -errno;
        else {
                /* libmicrohttpd has shut it down already after the answer;
                 * a client that waits for the end of the answer sees it. */
                (void)shutdown(copy, SHUT_WR);
                uint64_t now = clock_now_usec();
                l->handed[l->n_handed++] = (struct lingering){
                        .fd = copy,
                        .deadline_usec = now + (uint64_t)HTTP_LINGER_IDLE_SECONDS * USEC_PER_SEC,
                        .end_usec = now + (uint64_t)HTTP_LINGER_SECONDS * USEC_PER_SEC,
                };
                l->n_total++;
        }
        pthread_mutex_unlock(&l->lock);
        if (r == 0)
                wake(l);
        return r;
}
