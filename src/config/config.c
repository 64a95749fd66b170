/* SPDX-License-Identifier: MIT */
/*
 * Implementation of config/config.h.  The YAML document is walked against
 * one static table of known keys (config_keys[]), so adding a key means
 * adding one row.  Unknown keys, wrong types and out-of-range values are
 * errors that name the key: a typo must never silently fall back to a
 * default.
 */
#include "config/config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/text.h"

enum key_type {
        KEY_SECTION, /* a nested mapping */
        KEY_STRING,
        KEY_UINT,
        KEY_BOOL,
        KEY_PORT,
        KEY_LISTEN,
        KEY_PUBLIC_URL,
        KEY_PROXIES,
        KEY_ADMINS,
        KEY_LOCALE,
        KEY_LOG_LEVEL,
        KEY_SMTP_SECURITY,
        KEY_SYNCHRONOUS,
        KEY_LEGACY_PORT,    /* the existing server's top-level "port" */
        KEY_LEGACY_IGNORED, /* a key of the existing server that means nothing here */
        KEY_METRICS_LISTEN,
        KEY_DATABASE_URL,
};

struct config_key {
        const char *path;
        enum key_type type;
        size_t offset;
        uint64_t min, max; /* KEY_UINT bounds, inclusive */
};

#define OFF(field) offsetof(struct config, field)

static const struct config_key config_keys[] = {
        {"listen", KEY_LISTEN, 0, 0, 0},
        {"port", KEY_LEGACY_PORT, 0, 0, 0},
        /* The existing server logged e-mail tokens when it had no SMTP
         * host; tokens are never logged here (the outbox holds the mail). */
        {"development_token_logging", KEY_LEGACY_IGNORED, 0, 0, 0},
        {"public_url", KEY_PUBLIC_URL, 0, 0, 0},
        {"trusted_proxies", KEY_PROXIES, 0, 0, 0},
        {"log_level", KEY_LOG_LEVEL, OFF(server.log_level), 0, 0},
        {"admin", KEY_ADMINS, 0, 0, 0},

        {"limits", KEY_SECTION, 0, 0, 0},
        {"limits.max_json_body", KEY_UINT, OFF(limits.max_json_body), 1024, 64ull << 20},
        {"limits.max_push_operations", KEY_UINT, OFF(limits.max_push_operations), 1, 10000},
        {"limits.max_payload_json", KEY_UINT, OFF(limits.max_payload_json), 1, 64ull << 20},
        {"limits.max_pull_page", KEY_UINT, OFF(limits.max_pull_page), 1, 10000},
        {"limits.max_blob_bytes", KEY_UINT, OFF(limits.max_blob_bytes), 0, UINT64_MAX / 2},
        {"limits.max_vault_blob_bytes", KEY_UINT, OFF(limits.max_vault_blob_bytes), 0,
         UINT64_MAX / 2},
        {"limits.max_user_blob_bytes", KEY_UINT, OFF(limits.max_user_blob_bytes), 0,
         UINT64_MAX / 2},
        {"limits.max_connections_per_client", KEY_UINT, OFF(limits.max_connections_per_client), 0,
         100000},
        {"limits.request_head_seconds", KEY_UINT, OFF(limits.request_head_seconds), 1, 3600},
        {"limits.min_body_rate", KEY_UINT, OFF(limits.min_body_rate), 0, 1ull << 30},
        {"limits.body_rate_seconds", KEY_UINT, OFF(limits.body_rate_seconds), 1, 3600},
        {"limits.max_uploads_per_user", KEY_UINT, OFF(limits.max_uploads_per_user), 1, 1000},
        {"limits.max_uploads_per_client", KEY_UINT, OFF(limits.max_uploads_per_client), 1, 1000},
        {"limits.max_pulls_per_device", KEY_UINT, OFF(limits.max_pulls_per_device), 1, 100000},
        {"limits.disk_reserve_bytes", KEY_UINT, OFF(limits.disk_reserve_bytes), 0, UINT64_MAX / 2},
        {"limits.disk_reserve_percent", KEY_UINT, OFF(limits.disk_reserve_percent), 0, 100},

        {"retention", KEY_SECTION, 0, 0, 0},
        {"retention.idempotency_hours", KEY_UINT, OFF(retention.idempotency_hours), 1, 24 * 3650},
        {"retention.audit_days", KEY_UINT, OFF(retention.audit_days), 1, 36500},
        {"retention.temp_upload_hours", KEY_UINT, OFF(retention.temp_upload_hours), 1, 24 * 3650},

        {"web", KEY_SECTION, 0, 0, 0},
        {"web.default_locale", KEY_LOCALE, OFF(web.default_locale), 0, 0},
        {"web.allow_registration", KEY_BOOL, OFF(web.allow_registration), 0, 0},
        {"web.server_name", KEY_STRING, OFF(web.server_name), 0, 0},

        {"server", KEY_SECTION, 0, 0, 0},
        {"server.user", KEY_STRING, OFF(server.user), 0, 0},
        {"server.group", KEY_STRING, OFF(server.group), 0, 0},
        {"server.log_level", KEY_LOG_LEVEL, OFF(server.log_level), 0, 0},
        {"server.threads", KEY_UINT, OFF(server.threads), 0, 256},
        {"server.password_hashes", KEY_UINT, OFF(server.password_hashes), 1, 64},
        {"server.password_wait_ms", KEY_UINT, OFF(server.password_wait_ms), 0, 60000},

        {"database", KEY_SECTION, 0, 0, 0},
        {"database.synchronous", KEY_SYNCHRONOUS, OFF(database.synchronous_full), 0, 0},
        {"database.url", KEY_DATABASE_URL, OFF(database.url), 0, 0},
        {"database.url_file", KEY_STRING, OFF(database.url_file), 0, 0},

        {"metrics", KEY_SECTION, 0, 0, 0},
        {"metrics.listen", KEY_METRICS_LISTEN, 0, 0, 0},

        {"smtp", KEY_SECTION, 0, 0, 0},
        {"smtp.host", KEY_STRING, OFF(smtp.host), 0, 0},
        {"smtp.port", KEY_PORT, OFF(smtp.port), 0, 0},
        {"smtp.security", KEY_SMTP_SECURITY, OFF(smtp.security), 0, 0},
        {"smtp.username", KEY_STRING, OFF(smtp.username), 0, 0},
        {"smtp.password_file", KEY_STRING, OFF(smtp.password_file), 0, 0},
        {"smtp.from", KEY_STRING, OFF(smtp.from), 0, 0},
        {"smtp.timeout_seconds", KEY_UINT, OFF(smtp.timeout_seconds), 1, 600},
        {"smtp.outbox_dir", KEY_STRING, OFF(smtp.outbox_dir), 0, 0},
        {"smtp.socket", KEY_STRING, OFF(smtp.socket_path), 0, 0},
};

static int fail(char *err, size_t err_size, const char *key, const char *reason)
{
        if (err && err_size)
                snprintf(err, err_size, "%s: %s", key, reason);
        return -EINVAL;
}

static int replace_string(char **slot, const char *value)
{
        char *copy = value ? strdup(value) : NULL;

        if (value && !copy)
                return -ENOMEM;
        free(*slot);
        *slot = copy;
        return 0;
}

int config_init_defaults(struct config *c)
{
        *c = (struct config){0};
        c->limits.max_json_body = 2097152;
        c->limits.max_push_operations = 100;
        c->limits.max_payload_json = 262144;
        c->limits.max_pull_page = 100;
        c->limits.max_blob_bytes = 268435456;
        c->limits.max_vault_blob_bytes = 4294967296ull;
        c->limits.max_user_blob_bytes = 8589934592ull;
        c->limits.max_connections_per_client = 64;
        c->limits.request_head_seconds = 20;
        c->limits.min_body_rate = 1024;
        c->limits.body_rate_seconds = 10;
        c->limits.max_uploads_per_user = 4;
        c->limits.max_uploads_per_client = 8;
        c->limits.max_pulls_per_device = 8;
        c->limits.disk_reserve_bytes = 1073741824ull;
        c->limits.disk_reserve_percent = 5;
        c->retention.idempotency_hours = 24;
        c->retention.audit_days = 90;
        c->retention.temp_upload_hours = 24;
        c->web.allow_registration = true;
        c->server.log_level = LOG_INFO;
        c->server.password_hashes = 2;
        c->server.password_wait_ms = 2000;
        c->database.synchronous_full = true;
        c->smtp.port = 25;
        c->smtp.security = SMTP_SECURITY_STARTTLS;
        c->smtp.timeout_seconds = 30;
        if (replace_string(&c->listen, "127.0.0.1:47732") < 0 ||
            replace_string(&c->web.default_locale, "en") < 0 ||
            replace_string(&c->web.server_name, "Verstak Sync Server") < 0 ||
            replace_string(&c->server.user, "verstak") < 0) {
                config_done(c);
                return -ENOMEM;
        }
        return 0;
}

void config_done(struct config *c)
{
        free(c->listen);
        free(c->public_url);
        free(c->trusted_proxies);
        free(c->web.default_locale);
        free(c->web.server_name);
        free(c->server.user);
        free(c->server.group);
        free(c->smtp.host);
        free(c->smtp.username);
        free(c->smtp.password_file);
        free(c->smtp.from);
        free(c->smtp.outbox_dir);
        free(c->smtp.socket_path);
        free(c->metrics.listen);
        free(c->database.url);
        free(c->database.url_file);
        for (size_t i = 0; i < c->n_admins; i++) {
                free(c->admins[i].username);
                free(c->admins[i].password_hash);
        }
        free(c->admins);
        *c = (struct config){0};
}

bool config_is_database_url(const char *v)
{
        return (strncmp(v, "postgresql://", 13) == 0 || strncmp(v, "postgres://", 11) == 0) &&
               !str_has_crlf(v);
}

/* Longest URL database.url_file may hold. */
#define CONFIG_URL_MAX 4096

int config_read_url_file(const char *path, const char *key, char **ret, char *err, size_t err_size)
{
        char buf[CONFIG_URL_MAX + 2];
        size_t n;
        FILE *f;

        f = fopen(path, "re");
        if (!f) {
                int r = -errno;
                snprintf(err, err_size, "%s: cannot read %s: %s", key, path, strerror(-r));
                return r;
        }
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
                buf[--n] = '\0';
        if (n > CONFIG_URL_MAX || !config_is_database_url(buf)) {
                explicit_bzero(buf, sizeof(buf));
                return fail(err, err_size, key, "the file must hold one postgresql:// URL");
        }
        *ret = strdup(buf);
        explicit_bzero(buf, sizeof(buf));
        return *ret ? 0 : -ENOMEM;
}

int config_read_database_url(struct config *c, char *err, size_t err_size)
{
        if (!c->database.url_file)
                return 0;
        if (c->database.url)
                return fail(err, err_size, "database.url_file",
                            "give either database.url or database.url_file, not both");
        return config_read_url_file(c->database.url_file, "database.url_file", &c->database.url,
                                    err, err_size);
}

void config_url_masked(const char *url, char *buf, size_t size)
{
        const char *auth = strstr(url, "://");
        size_t o = 0;

        if (size == 0)
                return;
        auth = auth ? auth + 3 : url;
        const char *at = strchr(auth, '@'), *slash = strchr(auth, '/');
        const char *colon = strchr(auth, ':');
        bool mask_auth = at && colon && colon < at && (!slash || at < slash);

        for (const char *p = url; *p && o + 1 < size;) {
                if (mask_auth && p == colon + 1) {
                        o += (size_t)snprintf(buf + o, size - o, "***");
                        p = at;
                        continue;
                }
                if (strncmp(p, "password=", 9) == 0 && p > url && (p[-1] == '?' || p[-1] == '&')) {
                        o += (size_t)snprintf(buf + o, size - o, "password=***");
                        p += strcspn(p, "&");
                        continue;
                }
                buf[o++] = *p++;
        }
        if (o >= size)
                o = size - 1;
        buf[o] = '\0';
}

static int set_address(char **slot, const char *key, const char *value, char *err, size_t err_size)
{
        struct sockaddr_storage ss;
        socklen_t len;

        if (listen_address_parse(value, &ss, &len) < 0)
                return fail(err, err_size, key,
                            "expected HOST:PORT with a literal IPv4 address, [IPv6]:PORT or "
                            "unix:/path");
        return replace_string(slot, value) < 0 ? -ENOMEM : 0;
}

int config_set_listen(struct config *c, const char *value, char *err, size_t err_size)
{
        return set_address(&c->listen, "listen", value, err, err_size);
}

int config_set_public_url(struct config *c, const char *value, char *err, size_t err_size)
{
        _cleanup_free_ char *copy = NULL;
        size_t len;

        if (!value || !*value) {
                free(c->public_url);
                c->public_url = NULL;
                return 0;
        }
        if (!str_starts_with(value, "http://") && !str_starts_with(value, "https://"))
                return fail(err, err_size, "public_url", "must start with http:// or https://");
        if (str_has_crlf(value) || strpbrk(value, " \t\"'<>?#"))
                return fail(err, err_size, "public_url",
                            "must be a plain URL without spaces, quotes, query or fragment");
        copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        len = strlen(copy);
        while (len > 0 && copy[len - 1] == '/')
                copy[--len] = '\0';
        const char *sep = strstr(copy, "://");
        const char *host = sep ? sep + 3 : "";
        if (*host == '\0' || *host == '/' || *host == ':')
                return fail(err, err_size, "public_url", "has no host");
        free(c->public_url);
        c->public_url = TAKE_PTR(copy);
        return 0;
}

static int add_proxy(struct config *c, const char *value, const char *key, char *err,
                     size_t err_size)
{
        struct netmask m, *n;
        char buf[128];

        snprintf(buf, sizeof(buf), "%s", value);
        str_trim(buf);
        if (netmask_parse(buf, &m) < 0) {
                char reason[200];
                snprintf(reason, sizeof(reason), "'%s' is not an IP address or CIDR", buf);
                return fail(err, err_size, key, reason);
        }
        n = realloc(c->trusted_proxies, (c->n_trusted_proxies + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        c->trusted_proxies = n;
        c->trusted_proxies[c->n_trusted_proxies++] = m;
        return 0;
}

int config_set_trusted_proxies_csv(struct config *c, const char *csv, char *err, size_t err_size)
{
        _cleanup_free_ char *copy = strdup(csv ? csv : "");
        char *save = NULL;
        int r;

        if (!copy)
                return -ENOMEM;
        free(c->trusted_proxies);
        c->trusted_proxies = NULL;
        c->n_trusted_proxies = 0;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                if (str_is_blank(tok))
                        continue;
                r = add_proxy(c, tok, "trusted_proxies", err, err_size);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* --- YAML walking ------------------------------------------------------ */

static const struct config_key *find_key(const char *path)
{
        for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
                if (strcmp(config_keys[i].path, path) == 0)
                        return &config_keys[i];
        return NULL;
}

/* A scalar's text, or NULL when node is not a scalar or its text holds a
 * NUL (an escaped "\0" would otherwise silently cut the value short). */
static const char *scalar(yaml_node_t *node)
{
        if (!node || node->type != YAML_SCALAR_NODE)
                return NULL;
        const char *v = (const char *)node->data.scalar.value;
        return strlen(v) == node->data.scalar.length ? v : NULL;
}

/* A scalar written in quotes is a string, never a number or boolean. */
static bool scalar_is_plain(yaml_node_t *node)
{
        return node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static int parse_bool(const char *s, bool *ret)
{
        static const char *yes[] = {"true", "yes", "on"}, *no[] = {"false", "no", "off"};

        for (size_t i = 0; i < 3; i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

static int apply_admins(struct config *c, yaml_document_t *doc, yaml_node_t *node, char *err,
                        size_t err_size)
{
        if (node->type != YAML_SEQUENCE_NODE)
                return fail(err, err_size, "admin", "expected a list of {username, password_hash}");
        for (yaml_node_item_t *it = node->data.sequence.items.start;
             it < node->data.sequence.items.top; it++) {
                yaml_node_t *entry = yaml_document_get_node(doc, *it);
                const char *user = NULL, *hash = NULL;
                struct config_admin *n;

                if (!entry || entry->type != YAML_MAPPING_NODE)
                        return fail(err, err_size, "admin", "each entry must be a mapping");
                for (yaml_node_pair_t *p = entry->data.mapping.pairs.start;
                     p < entry->data.mapping.pairs.top; p++) {
                        const char *k = scalar(yaml_document_get_node(doc, p->key));
                        const char *v = scalar(yaml_document_get_node(doc, p->value));
                        if (!k || !v)
                                return fail(err, err_size, "admin", "entries hold scalars only");
                        if (strcmp(k, "username") == 0)
                                user = v;
                        else if (strcmp(k, "password_hash") == 0)
                                hash = v;
                        else {
                                char key[160];
                                snprintf(key, sizeof(key), "admin.%s", k);
                                return fail(err, err_size, key, "unknown key");
                        }
                }
                if (!user || !*user || !hash || !*hash)
                        return fail(err, err_size, "admin",
                                    "each entry needs username and password_hash");
                n = realloc(c->admins, (c->n_admins + 1) * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                c->admins = n;
                c->admins[c->n_admins] = (struct config_admin){strdup(user), strdup(hash)};
                if (!c->admins[c->n_admins].username || !c->admins[c->n_admins].password_hash) {
                        free(c->admins[c->n_admins].username);
                        free(c->admins[c->n_admins].password_hash);
                        return -ENOMEM;
                }
                c->n_admins++;
        }
        return 0;
}

static int apply_value(struct config *c, const struct config_key *k, yaml_document_t *doc,
                       yaml_node_t *node, char *err, size_t err_size)
{
        char *base = (char *)c;
        const char *v;
        uint64_t u;
        int r;

        switch (k->type) {
        case KEY_PROXIES:
                if (node->type == YAML_SCALAR_NODE)
                        return config_set_trusted_proxies_csv(c, scalar(node), err, err_size);
                if (node->type != YAML_SEQUENCE_NODE)
                        return fail(err, err_size, k->path, "expected a list of addresses");
                free(c->trusted_proxies);
                c->trusted_proxies = NULL;
                c->n_trusted_proxies = 0;
                for (yaml_node_item_t *it = node->data.sequence.items.start;
                     it < node->data.sequence.items.top; it++) {
                        const char *s = scalar(yaml_document_get_node(doc, *it));
                        if (!s)
                                return fail(err, err_size, k->path, "entries must be strings");
                        r = add_proxy(c, s, k->path, err, err_size);
                        if (r < 0)
                                return r;
                }
                return 0;
        case KEY_ADMINS:
                return apply_admins(c, doc, node, err, err_size);
        case KEY_SECTION:
                return fail(err, err_size, k->path, "expected a mapping");
        case KEY_LEGACY_IGNORED:
                for (size_t i = 0; i < c->n_ignored_keys; i++)
                        if (c->ignored_keys[i] == k->path)
                                return 0;
                if (c->n_ignored_keys < ELEMENTSOF(c->ignored_keys))
                        c->ignored_keys[c->n_ignored_keys++] = k->path;
                return 0;
        default:
                break;
        }

        v = scalar(node);
        if (!v)
                return fail(err, err_size, k->path,
                            node->type == YAML_SCALAR_NODE ? "must not contain NUL characters"
                                                           : "expected a single value");

        switch (k->type) {
        case KEY_STRING:
                if (str_has_crlf(v))
                        return fail(err, err_size, k->path, "must not contain line breaks");
                return replace_string((char **)(base + k->offset), *v ? v : NULL);
        case KEY_UINT:
                if (!scalar_is_plain(node))
                        return fail(err, err_size, k->path, "expected a number, got a string");
                if (v[0] == '-')
                        return fail(err, err_size, k->path, "must not be negative");
                if (parse_u64(v, &u) < 0)
                        return fail(err, err_size, k->path, "expected a whole number");
                if (u < k->min || u > k->max) {
                        char reason[128];
                        snprintf(reason, sizeof(reason), "must be between %llu and %llu",
                                 (unsigned long long)k->min, (unsigned long long)k->max);
                        return fail(err, err_size, k->path, reason);
                }
                if (k->offset == OFF(server.threads))
                        *(unsigned *)(base + k->offset) = (unsigned)u;
                else
                        *(uint64_t *)(base + k->offset) = u;
                return 0;
        case KEY_BOOL:
                if (!scalar_is_plain(node) || parse_bool(v, (bool *)(base + k->offset)) < 0)
                        return fail(err, err_size, k->path, "expected true or false");
                return 0;
        case KEY_PORT:
        case KEY_LEGACY_PORT:
                if (!scalar_is_plain(node) || parse_u64(v, &u) < 0 || u == 0 || u > 65535)
                        return fail(err, err_size, k->path, "expected a port number 1-65535");
                if (k->type == KEY_PORT)
                        *(uint16_t *)(base + k->offset) = (uint16_t)u;
                /* The existing server wrote both "port" and "listen"; "listen"
                 * is what counts, "port" is accepted and checked only. */
                return 0;
        case KEY_LISTEN:
                return config_set_listen(c, v, err, err_size);
        case KEY_METRICS_LISTEN:
                return set_address(&c->metrics.listen, k->path, v, err, err_size);
        case KEY_PUBLIC_URL:
                return config_set_public_url(c, v, err, err_size);
        case KEY_LOCALE:
                if (strcmp(v, "en") != 0 && strcmp(v, "ru") != 0)
                        return fail(err, err_size, k->path, "expected en or ru");
                return replace_string((char **)(base + k->offset), v);
        case KEY_LOG_LEVEL:
                r = log_level_from_string(v);
                if (r < 0)
                        return fail(err, err_size, k->path,
                                    "expected err, warning, notice, info or debug");
                *(int *)(base + k->offset) = r;
                return 0;
        case KEY_SMTP_SECURITY: {
                enum smtp_security *s = (enum smtp_security *)(base + k->offset);
                if (strcmp(v, "none") == 0)
                        *s = SMTP_SECURITY_NONE;
                else if (strcmp(v, "starttls") == 0)
                        *s = SMTP_SECURITY_STARTTLS;
                else if (strcmp(v, "starttls-required") == 0)
                        *s = SMTP_SECURITY_STARTTLS_REQUIRED;
                else if (strcmp(v, "tls") == 0)
                        *s = SMTP_SECURITY_TLS;
                else
                        return fail(err, err_size, k->path,
                                    "expected none, starttls, starttls-required or tls");
                c->smtp.security_set = true;
                return 0;
        }
        case KEY_DATABASE_URL:
                if (!config_is_database_url(v))
                        return fail(err, err_size, k->path,
                                    "expected a postgresql:// URL (omit the key for SQLite)");
                return replace_string((char **)(base + k->offset), v) < 0 ? -ENOMEM : 0;
        case KEY_SYNCHRONOUS:
                if (strcasecmp(v, "full") == 0)
                        *(bool *)(base + k->offset) = true;
                else if (strcasecmp(v, "normal") == 0)
                        *(bool *)(base + k->offset) = false;
                else
                        return fail(err, err_size, k->path, "expected full or normal");
                return 0;
        default:
                return fail(err, err_size, k->path, "internal: unhandled key type");
        }
}

static bool is_smtp_delivery_key(const char *path)
{
        static const char *const keys[] = {"smtp.host",     "smtp.port",          "smtp.security",
                                           "smtp.username", "smtp.password_file", "smtp.from"};

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (strcmp(path, keys[i]) == 0)
                        return true;
        return false;
}

static int walk_mapping(struct config *c, yaml_document_t *doc, yaml_node_t *map,
                        const char *prefix, char *err, size_t err_size)
{
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
             p++) {
                yaml_node_t *knode = yaml_document_get_node(doc, p->key);
                yaml_node_t *vnode = yaml_document_get_node(doc, p->value);
                const char *name = scalar(knode);
                const struct config_key *k;
                char path[256];
                int r;

                if (!name || !vnode)
                        return fail(err, err_size, prefix[0] ? prefix : "(top level)",
                                    "keys must be plain names");
                snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", name);
                k = find_key(path);
                if (!k)
                        return fail(err, err_size, path, "unknown key");
                if (k->type == KEY_SECTION) {
                        if (vnode->type == YAML_SCALAR_NODE && vnode->data.scalar.length == 0)
                                continue; /* "limits:" with nothing under it */
                        if (vnode->type != YAML_MAPPING_NODE)
                                return fail(err, err_size, path, "expected a mapping");
                        r = walk_mapping(c, doc, vnode, path, err, err_size);
                } else
                        r = apply_value(c, k, doc, vnode, err, err_size);
                if (r < 0)
                        return r;
                if (is_smtp_delivery_key(path))
                        c->smtp.delivery_set = true;
        }
        return 0;
}

int config_load_string(struct config *c, const char *text, size_t len, char *err, size_t err_size)
{
        yaml_parser_t parser;
        yaml_document_t doc;
        yaml_node_t *root;
        int r;

        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
        if (!yaml_parser_load(&parser, &doc)) {
                char reason[256];
                snprintf(reason, sizeof(reason), "line %zu: %s", parser.problem_mark.line + 1,
                         parser.problem ? parser.problem : "syntax error");
                yaml_parser_delete(&parser);
                return fail(err, err_size, "config", reason);
        }
        root = yaml_document_get_root_node(&doc);
        if (!root)
                r = 0; /* empty file: defaults */
        else if (root->type != YAML_MAPPING_NODE)
                r = fail(err, err_size, "config", "top level must be a mapping of keys");
        else
                r = walk_mapping(c, &doc, root, "", err, err_size);
        if (r >= 0 && c->smtp.username && !c->smtp.security_set)
                c->smtp.security = SMTP_SECURITY_STARTTLS_REQUIRED;
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        return r;
}

int config_load_file(struct config *c, const char *path, bool missing_ok, char *err,
                     size_t err_size)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r;

        r = fs_read_file(path, CONFIG_FILE_MAX, &text, &len);
        if (r == -ENOENT && missing_ok)
                return 0;
        if (r < 0) {
                if (err && err_size)
                        snprintf(err, err_size, "config: cannot read %s: %s", path, strerror(-r));
                return r;
        }
        return config_load_string(c, text, len, err, err_size);
}

int config_apply_env(struct config *c, char *err, size_t err_size)
{
        const char *v;
        int r;

        v = getenv("VERSTAK_LISTEN");
        if (v && *v) {
                r = config_set_listen(c, v, err, err_size);
                if (r < 0)
                        return r;
        }
        v = getenv("VERSTAK_PUBLIC_URL");
        if (v) {
                r = config_set_public_url(c, v, err, err_size);
                if (r < 0)
                        return r;
        }
        v = getenv("VERSTAK_MAILER_SOCKET");
        if (v && *v) {
                if (v[0] != '/' || str_has_crlf(v))
                        return fail(err, err_size, "smtp.socket",
                                    "VERSTAK_MAILER_SOCKET must be an absolute path");
                r = replace_string(&c->smtp.socket_path, v);
                if (r < 0)
                        return r;
        }
        v = getenv("VERSTAK_TRUSTED_PROXIES");
        if (v) {
                r = config_set_trusted_proxies_csv(c, v, err, err_size);
                if (r < 0)
                        return r;
        }
        return 0;
}

int config_validate(const struct config *c, char *err, size_t err_size)
{
        if (c->limits.max_payload_json > c->limits.max_json_body)
                return fail(err, err_size, "limits.max_payload_json",
                            "must not exceed limits.max_json_body");
        if (c->smtp.from && (str_has_crlf(c->smtp.from) || !strchr(c->smtp.from, '@')))
                return fail(err, err_size, "smtp.from", "expected an e-mail address");
        if (!c->server.user || !*c->server.user)
                return fail(err, err_size, "server.user", "must not be empty");
        return 0;
}

const char *smtp_security_to_string(enum smtp_security s)
{
        switch (s) {
        case SMTP_SECURITY_NONE:
                return "none";
        case SMTP_SECURITY_STARTTLS:
                return "starttls";
        case SMTP_SECURITY_STARTTLS_REQUIRED:
                return "starttls-required";
        case SMTP_SECURITY_TLS:
                return "tls";
        }
        return "unknown";
}

uint64_t config_disk_reserve(const struct config *c, uint64_t total)
{
        uint64_t reserve;

        if (c->limits.disk_reserve_bytes == 0 || c->limits.disk_reserve_percent == 0)
                return 0;
        reserve = total / 100 * c->limits.disk_reserve_percent;
        return reserve < c->limits.disk_reserve_bytes ? reserve : c->limits.disk_reserve_bytes;
}
