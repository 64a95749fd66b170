/* SPDX-License-Identifier: MIT */
/*
 * Lingering close.  A connection answered before its request was read
 * whole (413 from Content-Length, any early error) is closed by
 * libmicrohttpd with the client's bytes still arriving; the kernel then
 * answers them with a reset, which may reach the client before it has read
 * the answer, and the client sees a reset instead of the answer.
 *
 * Such a socket is handed over here instead, just before libmicrohttpd
 * closes it: it keeps a descriptor of its own, so the close does not end
 * the connection.  libmicrohttpd has already shut the write side down
 * (the answer went out, then FIN); the client's further bytes are read and
 * dropped until it closes its side, or sends nothing for
 * HTTP_LINGER_IDLE_SECONDS, or has lingered HTTP_LINGER_SECONDS or sent
 * HTTP_LINGER_BYTES, and then the socket is closed.  At most
 * HTTP_LINGER_MAX sockets linger at a time; beyond that a socket is closed
 * at once, as without lingering.
 */
#pragma once

#define HTTP_LINGER_IDLE_SECONDS 2
#define HTTP_LINGER_SECONDS      10
#define HTTP_LINGER_BYTES        (4u * 1024 * 1024)
#define HTTP_LINGER_MAX          256

struct http_linger;

/* Start the lingering thread.  Returns 0 or a negative errno. */
int http_linger_new(struct http_linger **ret);

/* Stop the thread, close every lingering socket and free.  NULL ok. */
void http_linger_free(struct http_linger *l);

/* Let socket fd linger: a copy of the descriptor is kept, fd itself stays
 * the caller's to close.  0, -EBUSY at HTTP_LINGER_MAX, or another
 * negative errno; on error nothing is kept. */
int http_linger_adopt(struct http_linger *l, int fd);
