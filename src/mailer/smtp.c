/* SPDX-License-Identifier: MIT */
/*
 * Implementation of mailer/smtp.h.  One easy handle per message: delivery
 * is rare, and a fresh handle keeps no connection, credentials or TLS
 * session between messages.  TLS peers are always verified (libcurl's
 * defaults with the system trust store); TLS 1.2 is the minimum.
 */
#include "mailer/smtp.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mailer/mail_message.h"
#include "util/cleanup.h"

static inline void curl_easy_cleanupp(CURL **c)
{
        if (*c)
                curl_easy_cleanup(*c);
}

static inline void curl_slist_free_allp(struct curl_slist **l)
{
        if (*l)
                curl_slist_free_all(*l);
}

struct upload {
        const char *data;
        size_t left;
};

static size_t upload_read(char *dest, size_t size, size_t nmemb, void *userdata)
{
        struct upload *u = userdata;
        size_t n = size * nmemb;

        if (n > u->left)
                n = u->left;
        memcpy(dest, u->data, n);
        u->data += n;
        u->left -= n;
        return n;
}

int smtp_host_check(const char *host)
{
        bool colon;
        size_t len;

        if (!host)
                return -EINVAL;
        len = strlen(host);
        if (len == 0 || len > 253)
                return -EINVAL;
        colon = strchr(host, ':') != NULL;
        for (const char *p = host; *p; p++) {
                char c = *p;
                bool hex =
                        (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
                if (colon ? !(hex || c == ':' || c == '.')
                          : !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                              (c >= '0' && c <= '9') || c == '-' || c == '.'))
                        return -EINVAL;
        }
        return 0;
}

int smtp_global_init(void)
{
        return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void smtp_global_done(void)
{
        curl_global_cleanup();
}

/* Map a libcurl failure to an errno value and a reason without secrets. */
static int delivery_error(CURLcode code, long reply, char *err, size_t err_size)
{
        int r;

        switch (code) {
        case CURLE_OPERATION_TIMEDOUT:
                r = -ETIMEDOUT;
                break;
        case CURLE_COULDNT_CONNECT:
                r = -ECONNREFUSED;
                break;
        case CURLE_COULDNT_RESOLVE_HOST:
                r = -EHOSTUNREACH;
                break;
        case CURLE_LOGIN_DENIED:
                r = -EACCES;
                break;
        case CURLE_USE_SSL_FAILED:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
                r = -EPROTO;
                break;
        default:
                r = -EIO;
                break;
        }
        if (reply > 0)
                snprintf(err, err_size, "SMTP delivery failed: %s (server reply %ld)",
                         curl_easy_strerror(code), reply);
        else
                snprintf(err, err_size, "SMTP delivery failed: %s", curl_easy_strerror(code));
        return r;
}

static long security_to_curl(enum smtp_security s)
{
        switch (s) {
        case SMTP_SECURITY_STARTTLS:
                return CURLUSESSL_TRY;
        case SMTP_SECURITY_STARTTLS_REQUIRED:
        case SMTP_SECURITY_TLS:
                return CURLUSESSL_ALL;
        case SMTP_SECURITY_NONE:
                break;
        }
        return CURLUSESSL_NONE;
}

int smtp_deliver(const struct smtp_target *t, const char *from, const char *to, const char *msg,
                 size_t len, char *err, size_t err_size)
{
        _cleanup_(curl_easy_cleanupp) CURL *curl = NULL;
        _cleanup_(curl_slist_free_allp) struct curl_slist *rcpt = NULL;
        struct upload up = {.data = msg, .left = len};
        char url[320], mail_from[MAIL_ADDRESS_MAX + 3], rcpt_to[MAIL_ADDRESS_MAX + 3];
        bool ipv6 = strchr(t->host, ':') != NULL;
        CURLcode code = CURLE_OK;
        long reply = 0;

        if (smtp_host_check(t->host) < 0 || mail_address_check(from) < 0 ||
            mail_address_check(to) < 0) {
                snprintf(err, err_size, "SMTP delivery failed: invalid host or address");
                return -EINVAL;
        }
        /* The URL path is the EHLO name: the sender's domain. */
        snprintf(url, sizeof(url), "%s://%s%s%s:%u/%s",
                 t->security == SMTP_SECURITY_TLS ? "smtps" : "smtp", ipv6 ? "[" : "", t->host,
                 ipv6 ? "]" : "", (unsigned)t->port, mail_address_domain(from));
        snprintf(mail_from, sizeof(mail_from), "<%s>", from);
        snprintf(rcpt_to, sizeof(rcpt_to), "<%s>", to);

        curl = curl_easy_init();
        rcpt = curl_slist_append(NULL, rcpt_to);
        if (!curl || !rcpt) {
                snprintf(err, err_size, "SMTP delivery failed: out of memory");
                return -ENOMEM;
        }

#define SET(opt, val)                                                                              \
        do {                                                                                       \
                if (code == CURLE_OK)                                                              \
                        code = curl_easy_setopt(curl, opt, val);                                   \
        } while (0)
        SET(CURLOPT_URL, url);
        SET(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
        SET(CURLOPT_NOSIGNAL, 1L);
        SET(CURLOPT_USE_SSL, security_to_curl(t->security));
        SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
        SET(CURLOPT_CONNECTTIMEOUT, (long)t->timeout_seconds);
        SET(CURLOPT_TIMEOUT, (long)t->timeout_seconds);
        SET(CURLOPT_MAIL_FROM, mail_from);
        SET(CURLOPT_MAIL_RCPT, rcpt);
        SET(CURLOPT_UPLOAD, 1L);
        SET(CURLOPT_READFUNCTION, upload_read);
        SET(CURLOPT_READDATA, &up);
        SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
        if (t->username) {
                SET(CURLOPT_USERNAME, t->username);
                SET(CURLOPT_PASSWORD, t->password ? t->password : "");
        }
#undef SET
        if (code != CURLE_OK)
                return delivery_error(code, 0, err, err_size);

        code = curl_easy_perform(curl);
        /* libcurl keeps its own copy of the password; drop it with the
         * handle now rather than at scope exit. */
        (void)curl_easy_setopt(curl, CURLOPT_PASSWORD, NULL);
        if (code == CURLE_OK)
                return 0;
        (void)curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply);
        return delivery_error(code, reply, err, err_size);
}
