/* SPDX-License-Identifier: MIT */
/*
 * The configuration of the daemon and the mailer: defaults (api.md §9),
 * then config.yml parsed with libyaml, then VERSTAK_* environment
 * overrides, then command-line flags (applied by the caller).  Every value
 * is validated; an invalid one is reported with the offending key and
 * start-up stops.
 *
 * It sits just above util/ and is compiled once, into the library both
 * programs link: the daemon reads all of it, the mailer its smtp: section.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/netaddr.h"

/* How the mailer talks to the SMTP server. */
enum smtp_security {
        SMTP_SECURITY_NONE,              /* plain smtp:// */
        SMTP_SECURITY_STARTTLS,          /* STARTTLS when offered */
        SMTP_SECURITY_STARTTLS_REQUIRED, /* STARTTLS or fail */
        SMTP_SECURITY_TLS,               /* implicit TLS, smtps:// */
};

struct config_admin {
        char *username;
        char *password_hash;
};

struct config {
        char *listen;     /* "127.0.0.1:47732", "[::1]:47732" or "unix:/path" */
        char *public_url; /* no trailing slash; NULL when unset */
        struct netmask *trusted_proxies;
        size_t n_trusted_proxies;

        struct {
                uint64_t max_json_body;
                uint64_t max_push_operations;
                uint64_t max_payload_json;
                uint64_t max_pull_page;
                uint64_t max_blob_bytes;
                uint64_t max_vault_blob_bytes;
                uint64_t max_user_blob_bytes;
                /* Open connections one client address may hold (0: no
                 * limit; not applied when a trusted proxy is an IP peer). */
                uint64_t max_connections_per_client;
                /* A request head must be complete this long after the
                 * connection opened (or, on a kept-alive connection, after its
                 * request line began); a request body must bring
                 * min_body_rate bytes a second (0: no minimum) over every
                 * body_rate_seconds.  Offenders are disconnected. */
                uint64_t request_head_seconds;
                uint64_t min_body_rate;
                uint64_t body_rate_seconds;
                /* Concurrent blob uploads per user and per client address. */
                uint64_t max_uploads_per_user;
                uint64_t max_uploads_per_client;
                uint64_t max_pulls_per_device;
                /* Free space kept on the data filesystem: uploads and pushes
                 * get 507 below the smaller of the two (0 and 0: none). */
                uint64_t disk_reserve_bytes;
                uint64_t disk_reserve_percent;
        } limits;

        struct {
                uint64_t idempotency_hours;
                uint64_t audit_days;
                uint64_t temp_upload_hours;
        } retention;

        struct {
                char *default_locale; /* "en" or "ru" */
                bool allow_registration;
                char *server_name;
        } web;

        struct {
                char *user;                /* account to drop to when started as root */
                char *group;               /* NULL: the user's primary group */
                int log_level;             /* syslog level */
                unsigned threads;          /* HTTP worker threads, 0 = twice the CPUs, at least 4 */
                uint64_t password_hashes;  /* password hashes run at once */
                uint64_t password_wait_ms; /* wait for a hash slot, then 503 */
        } server;

        struct {
                bool synchronous_full; /* synchronous=FULL (default) or NORMAL */
                /* A PostgreSQL URL (postgresql://...); NULL: SQLite in the
                 * data directory.  Given directly or read once from url_file
                 * by config_read_database_url(); never logged unmasked. */
                char *url;
                char *url_file;
        } database;

        struct {
                /* Address of the Prometheus metrics listener; NULL: none
                 * (unless systemd passes a socket named "metrics"). */
                char *listen;
        } metrics;

        struct {
                char *host; /* NULL: write messages to the outbox instead */
                uint16_t port;
                /* Default starttls; starttls-required when a username is set
                 * and security is not (the password must not go out in clear
                 * to a server whose STARTTLS an attacker stripped). */
                enum smtp_security security;
                bool security_set; /* smtp.security was given */
                char *username;
                char *password_file; /* read by the mailer only */
                char *from;
                uint64_t timeout_seconds;
                char *outbox_dir;  /* NULL: <data>/outbox */
                char *socket_path; /* mailer's unix socket under systemd */
                /* Whether config.yml set any of host, port, security,
                 * username, password_file or from (the delivery settings;
                 * the earlier server's are carried over only when not). */
                bool delivery_set;
        } smtp;

        /* Administrators listed in a config.yml written by the existing
         * server (username + bcrypt hash).  Imported into the database at
         * start when not present there. */
        struct config_admin *admins;
        size_t n_admins;

        /* Keys of the existing server's config.yml that were present but
         * mean nothing here (static strings, each listed once): accepted so
         * that an upgrade starts, and reported by the caller with one
         * warning each.  A key no version ever had stays an error. */
        const char *ignored_keys[4];
        size_t n_ignored_keys;
};

/* Fill c with the defaults of api.md §9.  Returns 0 or -ENOMEM. */
int config_init_defaults(struct config *c);

/* Release everything c owns; c may be zeroed or partially filled. */
void config_done(struct config *c);

/* config.yml is small; refuse anything that is clearly not a config file. */
#define CONFIG_FILE_MAX (256 * 1024)

/*
 * Parse the YAML file at path into c (on top of what it holds).  When
 * missing_ok and the file does not exist, returns 0 and changes nothing.
 * On a bad value returns -EINVAL and writes "key: reason" into err.
 */
int config_load_file(struct config *c, const char *path, bool missing_ok, char *err,
                     size_t err_size);

/* Parse YAML text (same rules as config_load_file). */
int config_load_string(struct config *c, const char *text, size_t len, char *err, size_t err_size);

/* Apply VERSTAK_LISTEN, VERSTAK_PUBLIC_URL, VERSTAK_TRUSTED_PROXIES and
 * VERSTAK_MAILER_SOCKET (smtp.socket; the service unit sets it). */
int config_apply_env(struct config *c, char *err, size_t err_size);

/* Individual setters shared by the YAML loader, the environment and the
 * flags; each validates and returns 0 or -EINVAL with a reason in err. */
int config_set_listen(struct config *c, const char *value, char *err, size_t err_size);
int config_set_public_url(struct config *c, const char *value, char *err, size_t err_size);
int config_set_trusted_proxies_csv(struct config *c, const char *csv, char *err, size_t err_size);

/* Cross-field checks after everything is applied. */
int config_validate(const struct config *c, char *err, size_t err_size);

/* Text of a security mode, for display. */
const char *smtp_security_to_string(enum smtp_security s);

/* The free-space reserve of a data filesystem of total bytes: the smaller
 * of limits.disk_reserve_percent of it and limits.disk_reserve_bytes; 0
 * when either is 0 (no reserve). */
uint64_t config_disk_reserve(const struct config *c, uint64_t total);

/* When database.url_file is set, read the URL from it (once, at start;
 * the file may hold a password) into database.url.  Refuses both keys
 * together and anything but a postgresql:// or postgres:// URL.  0 or a
 * negative errno with a reason in err. */
int config_read_database_url(struct config *c, char *err, size_t err_size);

/* Read the one database URL of the file at path (what database.url_file
 * names; key names the setting in messages) into *ret (malloc'd).  0 or a
 * negative errno with a reason in err; no copy of the URL is left behind
 * on the stack. */
int config_read_url_file(const char *path, const char *key, char **ret, char *err, size_t err_size);

/* Whether v is a database URL the configuration accepts (postgresql:// or
 * postgres://, one line). */
bool config_is_database_url(const char *v);

/* url with any password replaced by "***" (user:***@host, password=***),
 * for logs.  Always NUL-terminated. */
void config_url_masked(const char *url, char *buf, size_t size);
