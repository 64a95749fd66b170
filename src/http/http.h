/* SPDX-License-Identifier: MIT */
/*
 * The HTTP layer: libmicrohttpd glue that turns connections into
 * struct http_request objects, routes them through the table its caller
 * hands over (struct http_params), enforces method, URL and body limits
 * before any handler runs, and sends every answer with the security
 * headers of api.md §1.
 *
 * It knows nothing of the API or the application: routes, limits, the
 * trusted proxies and an opaque pointer for the handlers all come from
 * http_server_start().  Handlers see a request, never a socket.  They answer with exactly one
 * http_reply_*() call, or suspend (long poll) and answer after resuming.
 * No SQL here, no business rules: those live in api/ and store/.
 */
#pragma once

#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/netaddr.h"

struct http_request;

/* Longest URL path we route; longer ones get 414 before routing. */
#define HTTP_MAX_URL 2048
/* Path parameters ("{}") a route may have. */
#define HTTP_MAX_PARAMS 4
/* How long shutdown waits for in-flight requests. */
#define HTTP_SHUTDOWN_SECS 20

enum http_body {
        HTTP_BODY_NONE,     /* a body is read and discarded up to the JSON limit */
        HTTP_BODY_BUFFERED, /* JSON or form, kept in memory, up to max_json_body */
        HTTP_BODY_STREAM,   /* handed to stream_data() chunk by chunk */
};

typedef int (*http_handler_fn)(struct http_request *req);

struct route {
        const char *method;  /* "GET", "POST", …; GET also answers HEAD */
        const char *pattern; /* "/api/v1/blobs/{}": {} matches one segment */
        enum http_body body;
        http_handler_fn handler; /* called once the whole body is in */
        /* HTTP_BODY_STREAM only: begin runs after the headers (it may answer
         * at once, e.g. 401), data for every chunk (return <0 to abort; it
         * may answer first).  The handler runs at the end of the body. */
        http_handler_fn stream_begin;
        int (*stream_data)(struct http_request *req, const char *data, size_t len);
        /* Called when the request ends, however it ends, to free stream or
         * handler state (may be NULL). */
        void (*cleanup)(struct http_request *req);
};

struct http_request {
        struct MHD_Connection *conn;
        void *userdata; /* struct http_params.userdata, for the handlers */
        const struct route *route;
        const char *method;
        const char *path; /* without query string */
        char params[HTTP_MAX_PARAMS][256];
        size_t n_params;

        /* Buffered body (HTTP_BODY_BUFFERED), NUL-terminated. */
        char *body;
        size_t body_len, body_cap;
        uint64_t body_seen; /* bytes received, stored or not */

        /* Declared length, when the client sent Content-Length. */
        uint64_t content_length;
        bool has_content_length;

        /* Who is asking: the TCP peer, or the first valid X-Forwarded-For
         * address when the peer is a trusted proxy. */
        char client_ip[INET6_ADDRSTRLEN];
        struct sockaddr_storage client_addr;
        bool https; /* X-Forwarded-Proto: https from a trusted proxy */

        char request_id[17];
        uint64_t start_usec;
        unsigned status; /* the status sent, for the access log */
        bool responded;

        /* Filled by handlers for the access log (never secrets). */
        char log_device_id[40];
        char log_user_id[40];
        const char *log_event;

        /* Handler-owned state (stream parsers, long-poll waiters); released
         * by the route's cleanup. */
        void *state;
        /* Handler-owned data that needs only free(): freed with the request. */
        void *args;

        /* Suspension: see http_request_suspend(). */
        bool suspended;
        bool resumed;
        http_handler_fn resume_handler;

        /* Internal: routing outcome when no route matched (answered once
         * the body, if any, has been discarded, so keep-alive survives). */
        int unrouted; /* 0, 404 or 405 */
        char allow[128];

        /* Internal flags. */
        bool too_large;
        bool body_done;
        bool received; /* head and body are in */
        bool aborted;
        bool stream_failed;
        bool begun;                /* begin_request() ran */
        const char *framing_error; /* seen in the raw request line */
};

/* --- server lifecycle ---------------------------------------------------- */

struct http_server;

/*
 * Told once about every request that ends, however it ends: its route
 * (NULL when none matched), the status sent (0 when none) and how long it
 * took.  Called on a server thread; must be quick and thread-safe.
 */
typedef void (*http_request_done_fn)(void *userdata, const struct route *route, unsigned status,
                                     uint64_t duration_usec);

/* What the server serves and within which limits.  The arrays are
 * borrowed and must outlive the server. */
struct http_params {
        const struct route *routes; /* the first match wins */
        size_t n_routes;
        uint64_t max_json_body; /* largest buffered (or discarded) body */
        /* Peers whose X-Forwarded-For and X-Forwarded-Proto are believed. */
        const struct netmask *trusted_proxies;
        size_t n_trusted_proxies;
        unsigned threads; /* worker threads per listening socket, > 0 */
        /* Connections one client address may hold open (0: no limit).  With
         * it, idle keep-alives and long polls of one address cannot take
         * every slot of HTTP_CONNECTION_LIMIT. */
        unsigned max_connections_per_client;
        /* A request head must be in this long after the connection was
         * accepted (or its request line began, on a kept-alive connection),
         * > 0.  A request body must bring min_body_rate bytes a second over
         * every body_grace_seconds (min_body_rate 0: no minimum). */
        unsigned head_seconds;
        uint64_t min_body_rate;
        unsigned body_grace_seconds;
        void *userdata; /* handed to every handler as req->userdata */
        /* Optional: told about every request that ends (metrics). */
        http_request_done_fn request_done;
        void *request_done_userdata;
};

/* Start serving on the already listening sockets fds[0..n).  The fds are
 * owned by the server afterwards. */
int http_server_start(const struct http_params *params, const int *fds, size_t n,
                      struct http_server **ret);

/* Stop accepting new connections (in-flight ones continue). */
void http_server_quiesce(struct http_server *srv);

/* Number of requests currently being handled (including suspended ones). */
unsigned http_server_active(struct http_server *srv);

/* Number of requests begun since the start (for STATUS=).  NULL ok. */
uint64_t http_server_requests(struct http_server *srv);

/* Wait up to timeout_sec for in-flight requests, then stop.  NULL ok. */
void http_server_stop(struct http_server *srv, unsigned timeout_sec);

/* --- request accessors --------------------------------------------------- */

const char *http_header(struct http_request *req, const char *name);
const char *http_query(struct http_request *req, const char *name);
const char *http_cookie(struct http_request *req, const char *name);

/* The origin this request was made to ("https://host:port"), from the Host
 * header and the (trusted) scheme.  Returns 0 or -EINVAL. */
int http_request_origin(struct http_request *req, char *out, size_t size);

/* --- answers ------------------------------------------------------------- */

/* Extra behaviour for an answer. */
enum {
        HTTP_REPLY_NO_STORE = 1 << 0, /* Cache-Control: no-store (secrets) */
};

/* Send body (stolen; may be NULL for "{}") as application/json. */
int http_reply_json(struct http_request *req, unsigned status, json_t *body, unsigned flags);

/* Send already serialised JSON bytes exactly as given (idempotent replay). */
int http_reply_json_raw(struct http_request *req, unsigned status, const char *data, size_t len,
                        unsigned flags);

/* {"error": message, "code": code}; code NULL means the default code for
 * the status (api.md §1). */
int http_reply_error(struct http_request *req, unsigned status, const char *code,
                     const char *message);

/* Answer with a prepared MHD response: adds the security headers (and
 * no-store when asked), queues and releases it. */
int http_reply_response(struct http_request *req, unsigned status, struct MHD_Response *resp,
                        unsigned flags);

/* A JSON response (body stolen; NULL gives "{}") for handlers that add
 * their own headers before http_reply_response(). */
struct MHD_Response *http_response_from_json(json_t *body);

/* Default machine code for a status (api.md §1). */
const char *http_default_code(unsigned status);

/* Add the security headers of api.md §1 to resp. */
void http_add_security_headers(struct MHD_Response *resp);

/* --- long poll ----------------------------------------------------------- */

/* Suspend the request without holding a worker thread.  Once
 * http_request_resume() is called (from any thread), resume_handler runs on
 * a worker and must answer. */
int http_request_suspend(struct http_request *req, http_handler_fn resume_handler);
void http_request_resume(struct http_request *req);
