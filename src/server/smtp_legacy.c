/* SPDX-License-Identifier: MIT */
/*
 * Implementation of server/smtp_legacy.h.  The earlier server's console
 * saved smtp_host, smtp_port, smtp_user, smtp_pass, smtp_security,
 * smtp_from and server_url in its server_smtp_config table.  They are
 * used only when config.yml sets none of smtp.host, port, security,
 * username, password_file or from; server_url stands in for an unset
 * public_url.  Everything here runs once, as the daemon's own account,
 * before it serves.
 */
#include "server/smtp_legacy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailer/mail_client.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/email.h"
#include "util/log.h"
#include "util/text.h"

/* Bounds on what is carried over (a host name, an address, a login). */
#define LEGACY_VALUE_MAX 320

/* A value that can be written as a double-quoted YAML scalar as is and
 * means the same to the mail helper: printable ASCII or UTF-8, bounded. */
static bool plain_value(const char *v)
{
        if (!v || strlen(v) > LEGACY_VALUE_MAX)
                return false;
        for (const unsigned char *p = (const unsigned char *)v; *p; p++)
                if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
                        return false;
        return true;
}

/* The sender as the earlier server used it: trimmed, lower-case. */
static int normalize_from(struct store_legacy_smtp *m)
{
        char addr[EMAIL_MAX + 1];
        char *copy;

        if (email_normalize(m->from, addr) < 0)
                return -EINVAL;
        copy = strdup(addr);
        if (!copy)
                return -ENOMEM;
        free(m->from);
        m->from = copy;
        return 0;
}

/* The earlier server's smtp_security: "none", "tls", else STARTTLS when
 * offered (what it did for "starttls" and for anything else). */
static const char *map_security(const char *v)
{
        if (v && strcmp(v, "none") == 0)
                return "none";
        if (v && strcmp(v, "tls") == 0)
                return "tls";
        return "starttls";
}

/* The earlier server's values checked and mapped: port and security as
 * the mail helper takes them.  -EINVAL when incomplete or malformed. */
static int legacy_values(struct store_legacy_smtp *m, unsigned *ret_port, const char **ret_security)
{
        uint64_t port64 = 0;

        if (!m->host || !plain_value(m->host) || (m->user && !plain_value(m->user)) ||
            (m->from && normalize_from(m) < 0) ||
            (m->port && (parse_u64(m->port, &port64) < 0 || port64 == 0 || port64 > 65535)))
                return -EINVAL;
        *ret_security = map_security(m->security);
        if (!m->port)
                port64 = strcmp(*ret_security, "tls") == 0 ? 465 : 25;
        *ret_port = (unsigned)port64;
        return 0;
}

/* Show what the mail helper uses in the daemon's own configuration (for
 * the console only; the daemon never delivers). */
static void show_settings(struct config *cfg, struct store_legacy_smtp *m, unsigned port,
                          const char *security, struct smtp_sources *src)
{
        free(cfg->smtp.host);
        free(cfg->smtp.username);
        free(cfg->smtp.from);
        cfg->smtp.host = TAKE_PTR(m->host);
        cfg->smtp.username = TAKE_PTR(m->user);
        cfg->smtp.from = TAKE_PTR(m->from);
        cfg->smtp.port = (uint16_t)port;
        cfg->smtp.security = strcmp(security, "none") == 0  ? SMTP_SECURITY_NONE
                             : strcmp(security, "tls") == 0 ? SMTP_SECURITY_TLS
                                                            : SMTP_SECURITY_STARTTLS;
        src->delivery = SMTP_SOURCE_EARLIER_SERVER;
}

static void use_server_url(struct config *cfg, const struct store_legacy_smtp *m,
                           struct smtp_sources *src)
{
        char err[256];

        if (cfg->public_url || !m->server_url)
                return;
        if (config_set_public_url(cfg, m->server_url, err, sizeof(err)) < 0 || !cfg->public_url) {
                log_warning("The earlier server's server_url is not usable as public_url (%s); "
                            "ignored",
                            err);
                return;
        }
        src->public_url = SMTP_SOURCE_EARLIER_SERVER;
        log_notice("public_url is not set: links in e-mails use the earlier server's server_url "
                   "%s (set public_url in config.yml to change it)",
                   cfg->public_url);
}

/* The settings were handed over at an earlier start: show them, and
 * delete a password that was put back into the table since (it is not
 * used: the table is never read for delivery again). */
static int already_carried(struct app *app, struct config *cfg, struct store_legacy_smtp *m,
                           struct smtp_sources *src)
{
        const char *security = NULL;
        unsigned port = 0;
        int r;

        /* The earlier server kept a password with a login. */
        if (m->user)
                src->password = SMTP_SOURCE_EARLIER_SERVER;
        if (m->pass) {
                r = store_legacy_smtp_wipe_password(app->store, m->carried_to);
                if (r < 0)
                        return log_error_errno(r, "Cannot remove the SMTP password from the "
                                                  "database: %m");
                log_warning("An SMTP password was put back into server_smtp_config after the "
                            "settings were carried over to the mail helper; deleted, not used");
        }
        log_info("The earlier server's SMTP settings were carried over to the mail helper (%s)",
                 plain_value(m->carried_to) ? m->carried_to : "?");
        if (legacy_values(m, &port, &security) == 0)
                show_settings(cfg, m, port, security, src);
        return 0;
}

int smtp_legacy_carry_over(struct app *app, struct config *cfg, struct smtp_sources *ret)
{
        _cleanup_(store_legacy_smtp_done) struct store_legacy_smtp m = {0};
        _cleanup_free_ char *where = NULL;
        char err[MAIL_PROTO_ERROR_MAX + 1] = "";
        const char *security = NULL;
        unsigned port = 0;
        int r;

        *ret = (struct smtp_sources){SMTP_SOURCE_DEFAULT, SMTP_SOURCE_DEFAULT,
                                     cfg->public_url ? SMTP_SOURCE_CONFIG : SMTP_SOURCE_DEFAULT};
        if (cfg->smtp.delivery_set)
                ret->delivery = SMTP_SOURCE_CONFIG;
        if (cfg->smtp.password_file)
                ret->password = SMTP_SOURCE_CONFIG;
        r = store_legacy_smtp_get(app->store, &m);
        if (r < 0)
                return log_error_errno(r, "Cannot read the earlier server's SMTP settings: %m");
        use_server_url(cfg, &m, ret);
        if (cfg->smtp.delivery_set) {
                if (m.host || m.pass)
                        log_notice("config.yml sets smtp.*: the earlier server's SMTP settings "
                                   "in the database are not used");
                return 0;
        }
        if (m.carried_to)
                return already_carried(app, cfg, &m, ret);
        if (!m.host && !m.pass)
                return 0; /* nothing to carry over */
        if (legacy_values(&m, &port, &security) < 0) {
                log_warning("The earlier server's SMTP settings in the database are incomplete "
                            "or malformed; not carried over (set smtp.* in config.yml)");
                return 0;
        }
        if (!app->mail) {
                log_warning("The earlier server's SMTP settings (host %s) stay in the database: "
                            "the mail helper is not reachable; they are handed over at a later "
                            "start",
                            m.host);
                return 0;
        }
        const struct mail_smtp_carry carry = {
                .host = m.host,
                .port = port,
                .security = (char *)security,
                .username = m.user,
                .password = m.pass,
                .from = m.from,
        };
        r = mail_client_carry_smtp(app->mail, &carry, &where, err, sizeof(err));
        if (r < 0) {
                log_warning("The mail helper did not take the earlier server's SMTP settings "
                            "(host %s): %s; they stay in the database (set smtp.* in the mail "
                            "helper's config.yml, verstak-sync-server.yml(5))",
                            m.host, err[0] ? err : strerror(-r));
                return 0;
        }

        /* Only now, with the helper's word that it keeps them, does the
         * password leave the table; where they went is recorded with it. */
        r = store_legacy_smtp_wipe_password(app->store, where);
        if (r < 0)
                return log_error_errno(r, "Cannot remove the SMTP password from the database: %m");
        struct log_field f[] = {{"EVENT", "smtp_carried_over"}};
        log_struct(LOG_NOTICE, f,
                   "Carried the earlier server's SMTP settings over to the mail helper: %s:%u "
                   "(%s)%s; the mail helper keeps them in %s%s",
                   m.host, port, security, m.user ? ", with a login" : "", where,
                   m.pass ? "; the password was moved out of the database" : "");
        if (m.pass)
                ret->password = SMTP_SOURCE_EARLIER_SERVER;
        show_settings(cfg, &m, port, security, ret);
        return 0;
}
