/* SPDX-License-Identifier: MIT */
/*
 * Which language a request wants (design.md §Web UI): the verstak_locale
 * cookie, then Accept-Language, then the configured default.  Only the
 * languages we have texts for are ever returned.  Pure string work; no
 * catalogs here (those belong to their users: e-mail texts, web pages).
 */
#pragma once

struct http_request;

/* The cookie that records a visitor's explicit choice. */
#define LOCALE_COOKIE "verstak_locale"

/* The supported language for a tag ("ru", "RU", "ru-RU", "en_GB"…), or
 * NULL when we have none for it.  Returns a static string. */
const char *locale_supported(const char *tag);

/* The best supported language of an Accept-Language header value
 * (highest q, first on ties; q=0 means "not this"), or NULL. */
const char *locale_from_accept_language(const char *header);

/* The request's language: cookie, Accept-Language, then fallback (itself
 * checked; "en" when unsupported).  Returns a static string. */
const char *http_request_locale(struct http_request *req, const char *fallback);
