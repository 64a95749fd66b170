/* SPDX-License-Identifier: MIT */
/*
 * @brief The web UI's two dynamic answers: GET / (the home page, or the
 * "unavailable" page with 503 while the server is degraded) and GET
 * /api/v1/site (what every page asks first: the server's name, the
 * visitor's language, whether registration is open, public_url).  The
 * pages themselves are static files served by http/static.c; this file
 * only chooses between them.  No SQL here.
 */
#include <errno.h>

#include "api/api.h"
#include "api/handlers.h"
#include "http/locale.h"
#include "http/static.h"
#include "api/app.h"

int api_web_home(struct http_request *req)
{
        bool ok = api_health_ok(api_app(req));
        const struct http_asset *a = http_asset_by_name(ok ? "index.html" : "unavailable.html");

        if (!a)
                return http_reply_not_found_page(req);
        return http_reply_asset(req, ok ? 200 : 503, a);
}

int api_web_site(struct http_request *req)
{
        const struct config *c = api_app(req)->config;
        json_t *body;

        body = json_pack("{s:s,s:s,s:s,s:[s,s],s:b,s:s?}", "server_name", c->web.server_name,
                         "locale", http_request_locale(req, c->web.default_locale),
                         "default_locale", c->web.default_locale, "locales", "en", "ru",
                         "allow_registration", c->web.allow_registration, "public_url",
                         c->public_url);
        if (!body)
                return -ENOMEM;
        return http_reply_json(req, 200, body, 0);
}
