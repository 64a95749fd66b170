/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets: the ones systemd passed (socket activation,
 * sd_listen_fds) or, without them, one bound to the configured address.
 */
#pragma once

#include <stddef.h>

/* Maximum sockets accepted from systemd. */
#define LISTEN_MAX_FDS 16

/*
 * Fill fds with listening sockets.  When systemd passed sockets (LISTEN_FDS
 * for this pid) they are used and nothing is bound; otherwise address
 * ("127.0.0.1:47732", "[::1]:0", "unix:/path") is bound.  *ret_activated
 * says which.  Returns the number of sockets or a negative errno.
 */
int listen_acquire(const char *address, int fds[LISTEN_MAX_FDS], int *ret_activated);

/* The name (FileDescriptorName=) of the socket systemd passes for metrics. */
#define LISTEN_METRICS_NAME "metrics"

/*
 * listen_acquire(), keeping the metrics listener apart: a socket systemd
 * passed under the name LISTEN_METRICS_NAME goes to *ret_metrics_fd, not
 * to fds; when there is none and metrics_address is not NULL, that address
 * is bound.  *ret_metrics_fd is -1 when there is no metrics listener.
 * -ENOENT when systemd passed only a metrics socket.
 */
int listen_acquire_with_metrics(const char *address, const char *metrics_address,
                                int fds[LISTEN_MAX_FDS], int *ret_activated, int *ret_metrics_fd);

/* Describe a listening socket ("127.0.0.1:47732", "unix:/run/x.sock"). */
int listen_describe(int fd, char *out, size_t size);
