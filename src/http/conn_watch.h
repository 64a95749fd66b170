/* SPDX-License-Identifier: MIT */
/*
 * Deadlines libmicrohttpd does not have: a whole request head must arrive
 * within a deadline, and a request body must keep a minimum rate.  The
 * library only knows an idle timeout, which every byte restarts, so a
 * client that trickles its head or body a byte every few seconds would
 * hold its connection forever.  A request whose client closed its side
 * before it was complete is ended too: libmicrohttpd 0.9.75 can miss that
 * FIN and would keep the socket until its idle timeout.
 *
 * The connection's own worker thread reports where its request stands
 * (conn_watch_*() below, lock-free); one sweeper thread looks at every
 * watched connection twice a second and shuts the socket of an offender
 * down (shutdown(2), never close): libmicrohttpd then sees the connection
 * end and closes it itself on its own thread.  conn_watch_remove() must be
 * called before the socket is closed (libmicrohttpd's
 * MHD_CONNECTION_NOTIFY_CLOSED comes before its close()), so the sweeper
 * never touches a descriptor number that was reused.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct conn_watch_limits {
        /* A request head (request line and headers) must be complete this
         * long after the connection was accepted, or after its request line
         * began on a kept-alive connection. */
        unsigned head_seconds;
        /* Idle time allowed between two requests on one connection before
         * the next request line must have arrived. */
        unsigned keepalive_seconds;
        /* A request body must bring at least min_body_rate bytes a second,
         * measured over windows of body_grace_seconds (0: no minimum). */
        uint64_t min_body_rate;
        unsigned body_grace_seconds;
};

struct conn_watch;
struct conn_watch_entry;

/* Start the sweeper.  Returns 0 or a negative errno. */
int conn_watch_new(const struct conn_watch_limits *limits, struct conn_watch **ret);

/* Stop the sweeper and free.  Every entry must have been removed.  NULL ok. */
void conn_watch_free(struct conn_watch *w);

/* Watch a new connection on socket fd from peer (NULL: unknown).  The head
 * deadline starts now. */
int conn_watch_add(struct conn_watch *w, int fd, const struct sockaddr *peer,
                   struct conn_watch_entry **ret);

/* Forget e and free it; call before fd is closed.  NULL ok. */
void conn_watch_remove(struct conn_watch *w, struct conn_watch_entry *e);

/* Progress of the connection's current request, from its worker thread.
 * Each accepts NULL (an unwatched connection). */
void conn_watch_request_line(struct conn_watch_entry *e);   /* request line in */
void conn_watch_head_done(struct conn_watch_entry *e);      /* head in: body begins */
void conn_watch_body(struct conn_watch_entry *e, size_t n); /* n body bytes in */
void conn_watch_received(struct conn_watch_entry *e);       /* whole request in */
void conn_watch_request_done(struct conn_watch_entry *e);   /* answered: idle */

/* The connection's answer went out before its request was read whole; its
 * socket is to linger when it is closed (http/linger.h).  NULL ok. */
void conn_watch_answered_early(struct conn_watch_entry *e);
bool conn_watch_lingers(const struct conn_watch_entry *e);
