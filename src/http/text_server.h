/* SPDX-License-Identifier: MIT */
/*
 * A small HTTP listener of its own that answers GET (and HEAD) of one path
 * with a text document produced on demand, and 404/405 otherwise; for
 * endpoints that must not share the public listener (Prometheus metrics).
 * It knows nothing of what the text says.  One thread, a few connections,
 * short timeouts: it is meant for a scraper on loopback.
 */
#pragma once

#include <stddef.h>

struct http_text_server;

/* Produce the document: a malloc'd buffer in *ret and its length.
 * Returns 0 or a negative errno (the client gets 500).  Called on the
 * listener's thread. */
typedef int (*http_text_fn)(void *userdata, char **ret, size_t *ret_len);

/*
 * Serve path on the listening socket fd (owned by the server afterwards)
 * with content type ctype.  Returns 0 or a negative errno.
 */
int http_text_server_start(int fd, const char *path, const char *ctype, http_text_fn render,
                           void *userdata, struct http_text_server **ret);

/* Stop and free.  NULL is a no-op. */
void http_text_server_stop(struct http_text_server *ts);
