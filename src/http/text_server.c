/* SPDX-License-Identifier: MIT */
/* Implementation of http/text_server.h on libmicrohttpd. */
#include "http/text_server.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A scraper needs one connection; a few more do no harm. */
#define TEXT_SERVER_CONNECTIONS 8
/* Idle connections are closed after this many seconds. */
#define TEXT_SERVER_TIMEOUT 10

struct http_text_server {
        struct MHD_Daemon *daemon;
        char *path;
        char *ctype;
        http_text_fn render;
        void *userdata;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *ctype,
                             char *body, size_t len)
{
        struct MHD_Response *resp =
                MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
        enum MHD_Result r;

        if (!resp) {
                free(body);
                return MHD_NO;
        }
        MHD_add_response_header(resp, "Content-Type", ctype);
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        if (status == 405)
                MHD_add_response_header(resp, "Allow", "GET, HEAD");
        r = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return r;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
        char *copy = strdup(text);
        return copy ? reply(conn, status, "text/plain; charset=utf-8", copy, strlen(copy)) : MHD_NO;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
        struct http_text_server *ts = cls;
        char *body = NULL;
        size_t len = 0;
        (void)version;
        (void)upload_data;

        if (!*con_cls) { /* first call: headers only */
                *con_cls = ts;
                return MHD_YES;
        }
        if (*upload_data_size > 0) { /* a body is read and dropped */
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (strcmp(url, ts->path) != 0)
                return reply_text(conn, 404, "not found\n");
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
                return reply_text(conn, 405, "method not allowed\n");
        if (ts->render(ts->userdata, &body, &len) < 0)
                return reply_text(conn, 500, "internal error\n");
        return reply(conn, 200, ts->ctype, body, len);
}

int http_text_server_start(int fd, const char *path, const char *ctype, http_text_fn render,
                           void *userdata, struct http_text_server **ret)
{
        struct http_text_server *ts = calloc(1, sizeof(*ts));

        if (!ts) {
                (void)close(fd);
                return -ENOMEM;
        }
        ts->path = strdup(path);
        ts->ctype = strdup(ctype);
        ts->render = render;
        ts->userdata = userdata;
        if (!ts->path || !ts->ctype) {
                (void)close(fd);
                http_text_server_stop(ts);
                return -ENOMEM;
        }
        ts->daemon = MHD_start_daemon(
                MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, on_access, ts,
                MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
                (unsigned)TEXT_SERVER_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
                (unsigned)TEXT_SERVER_TIMEOUT, MHD_OPTION_END);
        if (!ts->daemon) {
                (void)close(fd);
                http_text_server_stop(ts);
                return -EIO;
        }
        *ret = ts;
        return 0;
}

void http_text_server_stop(struct http_text_server *ts)
{
        if (!ts)
                return;
        if (ts->daemon)
                MHD_stop_daemon(ts->daemon);
        free(ts->path);
        free(ts->ctype);
        free(ts);
}
