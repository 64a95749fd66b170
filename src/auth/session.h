/* SPDX-License-Identifier: MIT */
/*
 * Web sessions and CSRF protection (api.md §8), for user sessions now and
 * the admin console later: creating (and rotating) a session, finding the
 * session a request presents (cookie, or a Bearer token where the kind
 * allows it), ending sessions, the cookies, and the CSRF check.
 *
 * A session is two 64-hex secrets: the session token (HttpOnly cookie or
 * Bearer) and the CSRF token (a readable cookie the page echoes in a
 * header or form field).  Only their SHA-256 hex is stored (store/); the
 * plaintext exists in the login answer and nowhere else.  This module
 * answers no request and logs nothing: api/ decides what to say.  It reads
 * the request (cookies, headers) and is handed the store and the public
 * URL it needs; it knows nothing of the application.
 */
#pragma once

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "auth/token.h"

struct http_request;
struct store;

/* A session lasts this long from login (absolute, not sliding). */
#define SESSION_LIFETIME_SECONDS (24 * 3600)
/* Minimum age of last_seen before a request rewrites it. */
#define SESSION_TOUCH_GRANULARITY 60
/* The longest credential read from a cookie or header. */
#define SESSION_TOKEN_MAX 256

#define SESSION_CSRF_COOKIE "csrf_token"
#define SESSION_CSRF_HEADER "X-CSRF-Token"
#define SESSION_CSRF_FIELD  "csrf_token"

/* How one kind of session is stored and presented to browsers. */
struct session_kind {
        const char *scope;  /* server_sessions.scope */
        const char *cookie; /* HttpOnly session cookie name */
        const char *path;   /* Path of both cookies */
        bool allow_bearer;  /* "Authorization: Bearer <session token>" accepted */
};

extern const struct session_kind session_kind_user;  /* user_session, Path=/, Bearer ok */
extern const struct session_kind session_kind_admin; /* admin_session, Path=/admin */

/* The secrets of a new session, handed out once. */
struct session_secrets {
        char token[TOKEN_SECRET_HEX + 1];
        char csrf[TOKEN_SECRET_HEX + 1];
};

/* Wipe the secrets (call when done with them). */
void session_secrets_wipe(struct session_secrets *sec);

enum session_via {
        SESSION_VIA_COOKIE, /* needs CSRF protection on mutations */
        SESSION_VIA_BEARER, /* not sent by browsers on their own: no CSRF */
};

struct session {
        char token_hash[TOKEN_SHA256_HEX + 1];
        char csrf_hash[TOKEN_SHA256_HEX + 1];
        char subject_id[64];
        time_t created_at; /* the login; 0 when unreadable */
        time_t expires_at;
        enum session_via via;
};

/*
 * Start a session of kind for subject_id, valid SESSION_LIFETIME_SECONDS.
 * Rotation: a session of the same kind that the request presents (its
 * cookie) is ended first, so a login never keeps a session id that existed
 * before it.  Returns 0 with the secrets, or a negative errno.
 */
int session_rotate(struct http_request *req, struct store *store, const struct session_kind *k,
                   const char *subject_id, struct session_secrets *ret);

/*
 * The session of kind that the request presents.  When the kind allows
 * Bearer tokens and an Authorization header is present, only that header
 * counts; otherwise the session cookie.  Refreshes last_seen now and then;
 * deletes an expired session it finds.  Returns 0 with *ret filled,
 * -ENOENT when no credential was presented, -EKEYREJECTED when it is
 * unknown or of another kind, -EKEYEXPIRED when it has expired, or another
 * negative errno on a store failure.
 */
int session_from_request(struct http_request *req, struct store *store,
                         const struct session_kind *k, struct session *ret);

/* End a session (logout).  0 whether or not it still existed. */
int session_end(struct store *store, const struct session *s);

/*
 * The CSRF check of api.md §8 for a state-changing request made with s.
 * Bearer sessions pass.  A cookie session passes only when the token given
 * in the X-CSRF-Token header (or else form_token, the csrf_token form
 * field; may be NULL) equals a csrf_token cookie and hashes to the
 * session's stored hash (constant time), and an Origin header, when
 * present, names public_url's origin (public_url may be NULL) or the
 * request's own.  Returns 0 or -EPERM.
 */
int session_check_csrf(struct http_request *req, const char *public_url, const struct session *s,
                       const char *form_token);

/* The Origin half of the CSRF check, on its own: 0 when the request has
 * no Origin header or an acceptable one (see session_origin_allowed()),
 * else -EPERM.  Login uses it so that no other site can sign a visitor
 * into an account of its choosing. */
int session_check_origin(struct http_request *req, const char *public_url);

/* Add the Set-Cookie headers that carry sec (Secure when the request came
 * over HTTPS), or that clear both cookies of kind.  0 or -ENOMEM. */
int session_set_cookies(struct http_request *req, struct MHD_Response *resp,
                        const struct session_kind *k, const struct session_secrets *sec);
int session_clear_cookies(struct http_request *req, struct MHD_Response *resp,
                          const struct session_kind *k);

/* --- pure pieces, exposed for unit tests --------------------------------- */

/*
 * Format a Set-Cookie value into buf: the session cookie (HttpOnly,
 * SameSite=Lax) or, when csrf, the readable csrf_token cookie
 * (SameSite=Strict), both with kind's Path and Max-Age=max_age.  An empty
 * value with max_age 0 clears the cookie.  0, or -ENOBUFS.
 */
int session_format_cookie(char *buf, size_t size, const struct session_kind *k, bool csrf,
                          const char *value, long max_age, bool secure);

/*
 * Whether a presented CSRF token is acceptable: non-empty, at most
 * SESSION_TOKEN_MAX bytes, equal to one of the n csrf_token cookie values
 * and hashing to stored_hash.  Constant time in the secrets.
 */
bool session_csrf_matches(const char *presented, const char *const *cookies, size_t n,
                          const char *stored_hash);

/*
 * Whether an Origin header value is acceptable: it equals the origin of
 * public_url (may be NULL) or own_origin (may be NULL), comparing scheme
 * and host case-insensitively and ignoring default ports.  "null" and
 * malformed origins are not.
 */
bool session_origin_allowed(const char *origin, const char *public_url, const char *own_origin);

/*
 * Reduce an absolute http(s) URL to its origin "scheme://host[:port]"
 * (lower case, default port dropped).  0, or -EINVAL when it is not an
 * absolute http(s) URL with a host, -ENOBUFS.
 */
int session_url_origin(const char *url, char *out, size_t size);
