/* SPDX-License-Identifier: MIT */
/*
 * libmicrohttpd glue: one MHD daemon per listening socket, an internal
 * epoll thread pool, and the access handler that turns MHD's repeated
 * callbacks into one struct http_request per request:
 *
 *   first call     -> allocate, resolve client, route, check method/limits
 *   body chunks    -> buffer (bounded) or hand to the route's stream_data
 *   end of body    -> run the handler, which answers or suspends
 *   after resume   -> run the resume handler, which answers
 *   completed      -> access log, route cleanup, free
 */
#include "http/http.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http/conn_watch.h"
#include "http/linger.h"
#include "http/router.h"
#include "http/static.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/netaddr.h"
#include "util/random.h"

/* Per-connection memory pool of libmicrohttpd (request line, headers,
 * read and write buffers): bounds the request header block to about
 * 27 KiB.  Its read buffer is half of it, and a request body comes in
 * reads of that size, each a turn of the worker's event loop: with 12 KiB
 * a 64 MiB upload took 11 600 of them, and curl's uploads ran 20-25 %
 * slower than with 32 KiB (bench/README.md).  0.9.75 zeroes what it frees
 * in it, so all of it is resident while the connection is open: it is
 * most of what a connection that never reads its answer costs
 * (bench/hostile-pull.py).  Up to 32 KiB it comes from malloc(), above
 * from a mapping of its own. */
#define HTTP_CONNECTION_MEMORY (32 * 1024)
/* Idle keep-alive connections are closed after this long.  It is the one
 * timeout libmicrohttpd is given: a connection with a timeout of its own
 * (MHD_CONNECTION_OPTION_TIMEOUT) goes on a list that 0.9.75 walks whole,
 * running each connection's state machine, at every turn of a worker's
 * event loop and again to compute its next timeout.  Incomplete requests
 * (slow or stalled heads and bodies, clients that closed their side
 * mid-request) are bounded by the connection watch (http/conn_watch.h)
 * instead, which costs the workers nothing. */
#define HTTP_CONNECTION_TIMEOUT 90
/* Simultaneous connections per listening socket. */
#define HTTP_CONNECTION_LIMIT 2000
/* Stack of each worker thread, instead of the 8 MiB default: handlers
 * keep large buffers on the heap, and jansson's parser (depth-limited)
 * and SQLite need far less, sanitizer builds included. */
#define HTTP_THREAD_STACK (1024 * 1024)
/* Connections of the whole server beyond which new ones are accepted and
 * closed at once.  It stays below HTTP_CONNECTION_LIMIT because
 * libmicrohttpd stops accepting at that limit, which leaves further
 * clients hanging in the listen backlog instead of refused. */
#define HTTP_CONNECTION_REFUSE_AT (HTTP_CONNECTION_LIMIT - 16)
/* How far past limits.max_json_body a body is read (and dropped) so that
 * the client still receives its 413; beyond this the connection is closed. */
#define HTTP_DISCARD_MAX (16u * 1024 * 1024)
/* Initial buffer for a request body; grows geometrically up to the limit. */
#define HTTP_BODY_INITIAL 4096
/* Query arguments one request may carry.  libmicrohttpd keeps each one in
 * the connection's memory pool; a few hundred exhaust it, and 0.9.75 then
 * neither answers nor closes the connection until its timeout. */
#define HTTP_MAX_QUERY_ARGS 64

struct http_server {
        struct http_params params;
        struct MHD_Daemon **daemons;
        /* Listening sockets taken back by http_server_quiesce(): worker
         * threads may still use them until MHD_stop_daemon(), so they are
         * closed only after it. */
        MHD_socket *quiesced;
        size_t n_daemons;
        atomic_uint active;
        atomic_uint connections; /* open, over every listening socket */
        atomic_uint_fast64_t requests;
        /* The request-head deadline and the minimum body rate. */
        struct conn_watch *watch;
        /* Sockets closed after an early answer (http/linger.h). */
        struct http_linger *linger;
};

/* The deadline tracking of a connection (NULL when it is not watched). */
static struct conn_watch_entry *watch_of(struct MHD_Connection *conn)
{
        const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        return ci ? ci->socket_context : NULL;
}

const char *http_header(struct http_request *req, const char *name)
{
        return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_query(struct http_request *req, const char *name)
{
        return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_cookie(struct http_request *req, const char *name)
{
        return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, name);
}

int http_request_origin(struct http_request *req, char *out, size_t size)
{
        const char *host = http_header(req, "Host");
        int r;

        if (!host || !*host || strpbrk(host, " \t\r\n/\\@"))
                return -EINVAL;
        r = snprintf(out, size, "%s://%s", req->https ? "https" : "http", host);
        return r < 0 || (size_t)r >= size ? -EINVAL : 0;
}

/* At most this many X-Forwarded-For entries are looked at, the right-most
 * ones (the left-most are whatever the client sent). */
#define XFF_MAX_ENTRIES 32

/* The X-Forwarded-For entries of a request, in order, every header line
 * of that name included; only the last XFF_MAX_ENTRIES are kept. */
struct xff_list {
        char entries[XFF_MAX_ENTRIES][INET6_ADDRSTRLEN + 8];
        size_t n, first; /* ring: entries[first] is the oldest kept */
};

static void xff_add(struct xff_list *l, const char *tok, size_t len)
{
        char *slot;

        while (len > 0 && (*tok == ' ' || *tok == '\t')) {
                tok++;
                len--;
        }
        while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
                len--;
        if (l->n < XFF_MAX_ENTRIES)
                slot = l->entries[(l->first + l->n++) % XFF_MAX_ENTRIES];
        else {
                slot = l->entries[l->first];
                l->first = (l->first + 1) % XFF_MAX_ENTRIES;
        }
        /* Too long to be an address: kept as an entry that does not parse. */
        if (len >= sizeof(l->entries[0]))
                len = 0;
        memcpy(slot, tok, len);
        slot[len] = '\0';
}

static enum MHD_Result xff_collect(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
        struct xff_list *l = cls;
        (void)kind;

        if (!key || !value || strcasecmp(key, "X-Forwarded-For") != 0)
                return MHD_YES;
        for (const char *p = value;;) {
                const char *comma = strchr(p, ',');
                size_t len = comma ? (size_t)(comma - p) : strlen(p);
                xff_add(l, p, len);
                if (!comma)
                        break;
                p = comma + 1;
        }
        return MHD_YES;
}

static bool is_trusted(const struct http_params *p, const struct sockaddr *sa)
{
        for (size_t i = 0; i < p->n_trusted_proxies; i++)
                if (netmask_contains(&p->trusted_proxies[i], sa))
                        return true;
        return false;
}

/* Client address: the TCP peer; when the peer is a trusted proxy, the
 * right-most X-Forwarded-For entry that is not itself a trusted proxy
 * (api.md §1): proxies append what they saw, so everything left of that
 * is the client's own invention.  An entry that does not parse ends the
 * walk (the peer, or the last proxy passed, stays the client). */
static void resolve_client(struct http_request *req, const struct http_params *p)
{
        const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        _cleanup_free_ struct xff_list *xff = NULL;

        memset(&req->client_addr, 0, sizeof(req->client_addr));
        if (ci && ci->client_addr) {
                size_t len = ci->client_addr->sa_family == AF_INET6  ? sizeof(struct sockaddr_in6)
                             : ci->client_addr->sa_family == AF_INET ? sizeof(struct sockaddr_in)
                                                                     : sizeof(sa_family_t);
                memcpy(&req->client_addr, ci->client_addr, len);
        }
        if (sockaddr_format_ip((struct sockaddr *)&req->client_addr, req->client_ip,
                               sizeof(req->client_ip)) < 0)
                strcpy(req->client_ip, "unknown");

        if (!is_trusted(p, (struct sockaddr *)&req->client_addr))
                return;

        xff = calloc(1, sizeof(*xff));
        if (xff) {
                (void)MHD_get_connection_values(req->conn, MHD_HEADER_KIND, xff_collect, xff);
                for (size_t i = xff->n; i-- > 0;) {
                        const char *tok = xff->entries[(xff->first + i) % XFF_MAX_ENTRIES];
                        struct sockaddr_storage ss;
                        if (ip_parse(tok, &ss) < 0)
                                break;
                        req->client_addr = ss;
                        (void)sockaddr_format_ip((struct sockaddr *)&ss, req->client_ip,
                                                 sizeof(req->client_ip));
                        if (!is_trusted(p, (struct sockaddr *)&ss))
                                break;
                }
        }
        const char *proto = http_header(req, "X-Forwarded-Proto");
        if (proto && strcasecmp(proto, "https") == 0)
                req->https = true;
}

/* Called once the handler returns: a handler that neither answered nor
 * suspended is a bug, but the client still gets a contract answer. */
static void after_handler(struct http_request *req, int r)
{
        if (req->responded || req->suspended)
                return;
        if (r < 0)
                log_error_errno(r, "request %s %s failed: %m", req->method, req->path);
        else
                log_error("request %s %s: handler sent no answer", req->method, req->path);
        (void)http_reply_error(req, 500, NULL, "internal error");
}

struct header_scan {
        const char *content_length; /* the first value */
        bool content_length_differs;
        unsigned transfer_encodings;
        bool transfer_encoding_chunked; /* every one said exactly "chunked" */
};

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
        struct header_scan *h = cls;
        (void)kind;

        if (!value)
                value = "";
        if (strcasecmp(key, "Content-Length") == 0) {
                if (!h->content_length)
                        h->content_length = value;
                else if (strcmp(h->content_length, value) != 0)
                        h->content_length_differs = true;
        } else if (strcasecmp(key, "Transfer-Encoding") == 0) {
                h->transfer_encoding_chunked =
                        (h->transfer_encodings == 0 || h->transfer_encoding_chunked) &&
                        strcasecmp(value, "chunked") == 0;
                h->transfer_encodings++;
        }
        return MHD_YES;
}

/* Framing a proxy in front of us might read differently (request
 * smuggling): the reason to refuse the request with 400, or NULL. */
static const char *framing_error(struct http_request *req, const char *version)
{
        struct header_scan h = {0};

        if (req->framing_error)
                return req->framing_error;
        if (strcmp(version, MHD_HTTP_VERSION_1_1) == 0 && !http_header(req, "Host"))
                return "Host header required";
        (void)MHD_get_connection_values(req->conn, MHD_HEADER_KIND, scan_header, &h);
        if (h.content_length_differs)
                return "conflicting Content-Length headers";
        if (h.transfer_encodings > 0 && h.content_length)
                return "Content-Length together with Transfer-Encoding";
        if (h.transfer_encodings > 0 && (h.transfer_encodings > 1 || !h.transfer_encoding_chunked))
                return "unsupported Transfer-Encoding";
        return NULL;
}

static int begin_request(struct http_server *srv, struct http_request *req, const char *url,
                         const char *method, const char *version)
{
        const struct http_params *p = &srv->params;
        const char *cl;
        enum route_match m;

        req->method = method;
        req->path = url;
        req->start_usec = clock_now_usec();
        random_hex(req->request_id, sizeof(req->request_id) - 1);
        atomic_fetch_add_explicit(&srv->requests, 1, memory_order_relaxed);
        resolve_client(req, p);

        const char *bad = framing_error(req, version);
        if (bad) {
                req->log_event = "bad_framing";
                return http_reply_error(req, 400, "invalid_request", bad);
        }

        cl = http_header(req, "Content-Length");
        if (cl) {
                char *end = NULL;
                errno = 0;
                unsigned long long v = strtoull(cl, &end, 10);
                if (errno == 0 && end && *end == '\0' && cl[0] != '-') {
                        req->content_length = v;
                        req->has_content_length = true;
                }
        }

        if (strlen(url) > HTTP_MAX_URL)
                return http_reply_error(req, 414, NULL, "request URL too long");

        m = router_match(p->routes, p->n_routes, method, url, &req->route, req->params,
                         &req->n_params, req->allow, sizeof(req->allow));
        if (m != ROUTE_FOUND) {
                req->unrouted = m == ROUTE_NOT_FOUND ? 404 : 405;
                if (req->has_content_length && req->content_length > p->max_json_body)
                        return http_reply_error(req, 413, NULL, "request body too large");
                return 0;
        }

        if (req->route->body != HTTP_BODY_STREAM && req->has_content_length &&
            req->content_length > p->max_json_body)
                return http_reply_error(req, 413, NULL, "request body too large");

        if (req->route->body == HTTP_BODY_STREAM && req->route->stream_begin) {
                int r = req->route->stream_begin(req);
                if (r < 0 && !req->responded) {
                        after_handler(req, r);
                        return 0;
                }
        }
        return 0;
}

/* Paths whose every answer is JSON, even for unknown endpoints: the API
 * and the administrator's JSON API. */
static bool is_json_path(const char *path)
{
        return strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0 ||
               strncmp(path, "/admin/api/", 11) == 0 || strcmp(path, "/admin/api") == 0;
}

/* 404 (JSON under the APIs, the web UI's page elsewhere) or 405 with Allow. */
static int reply_unrouted(struct http_request *req)
{
        struct MHD_Response *resp;

        if (req->unrouted == 404) {
                if (is_json_path(req->path))
                        return http_reply_error(req, 404, NULL, "not found");
                /* Not a route: maybe a file of the web UI. */
                const struct http_asset *a = http_asset_by_url(req->path);
                if (!a)
                        return http_reply_not_found_page(req);
                if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)
                        return http_reply_asset(req, 200, a);
                snprintf(req->allow, sizeof(req->allow), "GET, HEAD");
        }
        resp = http_response_from_json(json_pack("{s:s,s:s}", "error", "method not allowed", "code",
                                                 http_default_code(405)));
        if (!resp)
                return -ENOMEM;
        MHD_add_response_header(resp, "Allow", req->allow);
        return http_reply_response(req, 405, resp, 0);
}

/* Append a chunk of a buffered body; answers 413 once over the limit. */
static enum MHD_Result buffer_body(struct http_request *req, uint64_t limit, const char *data,
                                   size_t len)
{
        req->body_seen += len;
        if (req->body_seen > limit) {
                /* libmicrohttpd cannot answer in the middle of a request
                 * body: the excess is read and dropped (never stored) and
                 * 413 goes out at its end.  A client that keeps sending far
                 * beyond the limit is cut off instead. */
                if (!req->too_large) {
                        req->too_large = true;
                        free(req->body);
                        req->body = NULL;
                        req->body_len = req->body_cap = 0;
                }
                return req->body_seen - limit > HTTP_DISCARD_MAX ? MHD_NO : MHD_YES;
        }
        if (!req->route || req->route->body == HTTP_BODY_NONE)
                return MHD_YES;
        if (req->body_len + len + 1 > req->body_cap) {
                size_t cap = req->body_cap ? req->body_cap : HTTP_BODY_INITIAL;
                /* A small body announced by its length gets just its size:
                 * a request held open (an unread answer) keeps it. */
                if (!req->body_cap && req->has_content_length &&
                    req->content_length < HTTP_BODY_INITIAL)
                        cap = (size_t)req->content_length + 1;
                while (cap < req->body_len + len + 1)
                        cap *= 2;
                if (cap > limit + 1)
                        cap = (size_t)limit + 1;
                char *n = realloc(req->body, cap);
                if (!n)
                        return MHD_NO;
                req->body = n;
                req->body_cap = cap;
        }
        memcpy(req->body + req->body_len, data, len);
        req->body_len += len;
        req->body[req->body_len] = '\0';
        return MHD_YES;
}

static struct http_request *request_new(struct http_server *srv, struct MHD_Connection *conn)
{
        struct http_request *req = calloc(1, sizeof(*req));

        if (!req)
                return NULL;
        req->conn = conn;
        req->userdata = srv->params.userdata;
        atomic_fetch_add(&srv->active, 1);
        return req;
}

/* The raw request target, before libmicrohttpd decodes it: the request
 * starts here.  A %00 would be cut short by the decoding, and too many
 * query arguments would exhaust the connection's memory; both are noted
 * for a 400.  The arguments are dropped by ending the string right after
 * the '?': libmicrohttpd 0.9.75 passes its own writable line buffer here
 * and parses the arguments after this call (connection.c,
 * parse_initial_message_line). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
        struct http_request *req = request_new(cls, conn);
        const char *q = strchr(uri, '?');
        unsigned args = 0;

        if (!req)
                return NULL;
        conn_watch_request_line(watch_of(conn));
        if (strstr(uri, "%00"))
                req->framing_error = "NUL character in the URL";
        for (const char *a = q; a; a = strchr(a + 1, '&'))
                args++;
        if (args > HTTP_MAX_QUERY_ARGS) {
                req->framing_error = "too many query arguments";
                ((char *)q)[1] = '\0';
        }
        return req;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
        struct http_server *srv = cls;
        struct http_request *req = *con_cls;

        if (!req) {
                req = request_new(srv, conn);
                if (!req)
                        return MHD_NO;
                *con_cls = req;
        }
        if (!req->begun) {
                req->begun = true;
                /* The body, if any, is still held to the minimum body
                 * rate (and ended if the client closes its side). */
                conn_watch_head_done(watch_of(conn));
                (void)begin_request(srv, req, url, method, version);
                return MHD_YES;
        }

        if (req->resumed) {
                req->resumed = false;
                req->suspended = false;
                after_handler(req, req->resume_handler(req));
                return MHD_YES;
        }

        if (*upload_data_size > 0) {
                size_t n = *upload_data_size;
                *upload_data_size = 0;
                conn_watch_body(watch_of(conn), n);
                if (req->responded || req->stream_failed)
                        return MHD_YES; /* answer already decided: discard */
                if (req->route && req->route->body == HTTP_BODY_STREAM) {
                        int r = req->route->stream_data(req, upload_data, n);
                        if (r < 0) {
                                req->stream_failed = true;
                                if (!req->responded)
                                        return MHD_NO;
                        }
                        return MHD_YES;
                }
                return buffer_body(req, srv->params.max_json_body, upload_data, n);
        }

        if (!req->received) {
                req->received = true; /* head and body are in */
                conn_watch_received(watch_of(conn));
        }
        if (req->responded || req->suspended || req->body_done)
                return MHD_YES;
        req->body_done = true;
        if (req->too_large)
                return http_reply_error(req, 413, NULL, "request body too large") < 0 ? MHD_NO
                                                                                      : MHD_YES;
        if (req->unrouted) {
                after_handler(req, reply_unrouted(req));
                return MHD_YES;
        }
        after_handler(req, req->route->handler(req));
        return MHD_YES;
}

static void log_access(struct http_request *req, enum MHD_RequestTerminationCode toe)
{
        char status[8], duration[24];
        uint64_t us = clock_now_usec() - req->start_usec;
        struct log_field fields[] = {
                {"REQUEST_ID", req->request_id},
                {"HTTP_METHOD", req->method},
                {"HTTP_PATH", req->path},
                {"HTTP_STATUS", status},
                {"DURATION_US", duration},
                {"CLIENT_IP", req->client_ip},
                {"DEVICE_ID", req->log_device_id[0] ? req->log_device_id : NULL},
                {"USER_ID", req->log_user_id[0] ? req->log_user_id : NULL},
                {"EVENT", req->log_event},
        };

        snprintf(status, sizeof(status), "%u", req->status);
        snprintf(duration, sizeof(duration), "%llu", (unsigned long long)us);
        log_emit(req->status >= 500 ? LOG_WARNING : LOG_INFO, 0, fields, ELEMENTSOF(fields),
                 "%s %s %u %lluus%s", req->method, req->path, req->status, (unsigned long long)us,
                 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection ended early)");
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
        struct http_server *srv = cls;
        struct http_request *req = *con_cls;

        conn_watch_request_done(watch_of(conn));
        if (!req)
                return;
        if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
                req->aborted = true;
        else if (!req->received)
                conn_watch_answered_early(watch_of(conn)); /* the rest may still come */
        if (req->method) {
                log_access(req, toe);
                if (srv->params.request_done)
                        srv->params.request_done(srv->params.request_done_userdata, req->route,
                                                 req->status, clock_now_usec() - req->start_usec);
        }
        if (req->route && req->route->cleanup)
                req->route->cleanup(req);
        free(req->body);
        free(req->args);
        free(req);
        *con_cls = NULL;
        atomic_fetch_sub(&srv->active, 1);
}

/* A new connection is watched for the head deadline, the body rate and a
 * client that closes its side mid-request until libmicrohttpd closes its
 * socket (it tells us before). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
        struct http_server *srv = cls;

        if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
                const union MHD_ConnectionInfo *fd =
                        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
                const union MHD_ConnectionInfo *peer =
                        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
                struct conn_watch_entry *e = NULL;

                atomic_fetch_add(&srv->connections, 1);
                int r = fd ? conn_watch_add(srv->watch, fd->connect_fd,
                                            peer ? peer->client_addr : NULL, &e)
                           : -EBADF;
                if (r < 0)
                        log_warning_errno(r, "http: connection not watched for deadlines: %m");
                *socket_context = e;
        } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
                const union MHD_ConnectionInfo *fd =
                        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
                /* libmicrohttpd closes the socket right after this. */
                if (fd && conn_watch_lingers(*socket_context)) {
                        int r = http_linger_adopt(srv->linger, fd->connect_fd);
                        if (r < 0 && r != -EBUSY)
                                log_full_errno(LOG_DEBUG, r,
                                               "http: socket closed without lingering: %m");
                }
                conn_watch_remove(srv->watch, *socket_context);
                *socket_context = NULL;
                atomic_fetch_sub(&srv->connections, 1);
        }
}

/* Accept policy: at the cap, close a new connection at once (the client
 * sees it closed) rather than leave it waiting. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
        struct http_server *srv = cls;
        (void)addr;
        (void)addrlen;

        return atomic_load(&srv->connections) < HTTP_CONNECTION_REFUSE_AT ? MHD_YES : MHD_NO;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
        char buf[512];
        (void)cls;

        vsnprintf(buf, sizeof(buf), fmt, ap);
        size_t n = strlen(buf);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                buf[--n] = '\0';
        log_debug("http: %s", buf);
}

int http_server_start(const struct http_params *params, const int *fds, size_t n,
                      struct http_server **ret)
{
        struct http_server *srv;

        if (params->threads == 0 || (params->n_routes > 0 && !params->routes))
                return -EINVAL;
        srv = calloc(1, sizeof(*srv));
        if (!srv)
                return -ENOMEM;
        srv->params = *params;
        srv->daemons = calloc(n, sizeof(*srv->daemons));
        srv->quiesced = calloc(n, sizeof(*srv->quiesced));
        if (!srv->daemons || !srv->quiesced) {
                free(srv->daemons);
                free(srv->quiesced);
                free(srv);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                srv->quiesced[i] = MHD_INVALID_SOCKET;
        struct conn_watch_limits limits = {
                .head_seconds = params->head_seconds,
                .keepalive_seconds = HTTP_CONNECTION_TIMEOUT,
                .min_body_rate = params->min_body_rate,
                .body_grace_seconds = params->body_grace_seconds,
        };
        int r = conn_watch_new(&limits, &srv->watch);
        if (r >= 0) {
                r = http_linger_new(&srv->linger);
                if (r < 0)
                        conn_watch_free(srv->watch);
        }
        if (r < 0) {
                free(srv->daemons);
                free(srv->quiesced);
                free(srv);
                return r;
        }
        for (size_t i = 0; i < n; i++) {
                srv->daemons[i] = MHD_start_daemon(
                        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                                MHD_USE_ERROR_LOG,
                        0, on_accept, srv, on_access, srv, MHD_OPTION_LISTEN_SOCKET, fds[i],
                        MHD_OPTION_THREAD_POOL_SIZE, params->threads, MHD_OPTION_THREAD_STACK_SIZE,
                        (size_t)HTTP_THREAD_STACK, MHD_OPTION_CONNECTION_TIMEOUT,
                        (unsigned)HTTP_CONNECTION_TIMEOUT, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                        (size_t)HTTP_CONNECTION_MEMORY, MHD_OPTION_CONNECTION_LIMIT,
                        (unsigned)HTTP_CONNECTION_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                        params->max_connections_per_client, MHD_OPTION_NOTIFY_COMPLETED,
                        on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
                        MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv, MHD_OPTION_EXTERNAL_LOGGER,
                        on_mhd_log, NULL, MHD_OPTION_END);
                if (!srv->daemons[i]) {
                        log_error("http: cannot start serving on listening socket %d", fds[i]);
                        http_server_stop(srv, 0);
                        return -EIO;
                }
                srv->n_daemons++;
        }
        *ret = srv;
        return 0;
}

void http_server_quiesce(struct http_server *srv)
{
        if (!srv)
                return;
        for (size_t i = 0; i < srv->n_daemons; i++)
                if (srv->quiesced[i] == MHD_INVALID_SOCKET)
                        srv->quiesced[i] = MHD_quiesce_daemon(srv->daemons[i]);
}

unsigned http_server_active(struct http_server *srv)
{
        return srv ? atomic_load(&srv->active) : 0;
}

uint64_t http_server_requests(struct http_server *srv)
{
        return srv ? atomic_load_explicit(&srv->requests, memory_order_relaxed) : 0;
}

void http_server_stop(struct http_server *srv, unsigned timeout_sec)
{
        if (!srv)
                return;
        http_server_quiesce(srv);
        for (unsigned waited = 0; atomic_load(&srv->active) > 0 && waited < timeout_sec * 20;
             waited++)
                usleep(50 * 1000);
        for (size_t i = 0; i < srv->n_daemons; i++) {
                MHD_stop_daemon(srv->daemons[i]);
                if (srv->quiesced[i] != MHD_INVALID_SOCKET)
                        (void)close(srv->quiesced[i]);
        }
        conn_watch_free(srv->watch);
        http_linger_free(srv->linger);
        free(srv->daemons);
        free(srv->quiesced);
        free(srv);
}

int http_request_suspend(struct http_request *req, http_handler_fn resume_handler)
{
        req->resume_handler = resume_handler;
        req->suspended = true;
        MHD_suspend_connection(req->conn);
        return 0;
}

void http_request_resume(struct http_request *req)
{
        req->resumed = true;
        MHD_resume_connection(req->conn);
}
