/* SPDX-License-Identifier: MIT */
/*
 * Implementation of util/log.h: journald when stderr is the journal stream,
 * plain lines on stderr otherwise.  Thread-safe: every record is built on
 * the stack and written with a single call.
 */
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

/* Upper bounds keep a single record on the stack: the message, the number
 * of fields, one field's value (longer ones are cut) and the whole record. */
#define LOG_MESSAGE_MAX 2048
#define LOG_FIELDS_MAX  24
#define LOG_VALUE_MAX   1024
#define LOG_RECORD_MAX  (LOG_MESSAGE_MAX + 16 + LOG_FIELDS_MAX * (64 + LOG_VALUE_MAX))

/* Where sd_journal_send() delivers records. */
#define LOG_JOURNAL_SOCKET "/run/systemd/journal/socket"

static const char *log_identifier = "verstak-sync-server";
static atomic_int log_max_level = LOG_INFO;
static int log_to_journal;

static int journal_stream_is_stderr(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return 0;
        if (fstat(STDERR_FILENO, &st) < 0)
                return 0;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_open(const char *identifier)
{
        if (identifier)
                log_identifier = identifier;
        /* sd_journal_sendv() drops records silently when journald's socket
         * does not exist, so without one stderr stays the destination. */
        log_to_journal = journal_stream_is_stderr() && access(LOG_JOURNAL_SOCKET, F_OK) == 0;
}

void log_set_max_level(int level)
{
        atomic_store(&log_max_level, level);
}

int log_get_max_level(void)
{
        return atomic_load(&log_max_level);
}

int log_is_journal(void)
{
        return log_to_journal;
}

int log_level_from_string(const char *s)
{
        static const struct {
                const char *name;
                int level;
        } names[] = {
                {"emerg", LOG_EMERG},  {"alert", LOG_ALERT},   {"crit", LOG_CRIT},
                {"err", LOG_ERR},      {"error", LOG_ERR},     {"warning", LOG_WARNING},
                {"warn", LOG_WARNING}, {"notice", LOG_NOTICE}, {"info", LOG_INFO},
                {"debug", LOG_DEBUG},
        };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcasecmp(s, names[i].name) == 0)
                        return names[i].level;
        if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
                return s[0] - '0';
        return -EINVAL;
}

int log_field_name_valid(const char *key)
{
        if (!key || !*key || key[0] == '_' || (key[0] >= '0' && key[0] <= '9'))
                return 0;
        if (strlen(key) > 64)
                return 0;
        for (const char *p = key; *p; p++)
                if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
                        return 0;
        return 1;
}

/* One record as the journal receives it: "KEY=value" strings in one
 * buffer, pointed to by an iovec array.  Built on the stack. */
struct log_record {
        struct iovec iov[LOG_FIELDS_MAX + 4];
        size_t n;
        char buf[LOG_RECORD_MAX];
        size_t used;
};

static int record_add(struct log_record *rec, const char *key, const char *value)
{
        size_t avail = sizeof(rec->buf) - rec->used;
        int r;

        if (rec->n >= ELEMENTSOF(rec->iov))
                return -E2BIG;
        r = snprintf(rec->buf + rec->used, avail, "%s=%.*s", key, LOG_VALUE_MAX, value);
        if (r < 0)
                return -EINVAL;
        if ((size_t)r >= avail)
                return -ENOBUFS;
        rec->iov[rec->n++] = (struct iovec){rec->buf + rec->used, (size_t)r};
        rec->used += (size_t)r + 1;
        return 0;
}

/*
 * The one builder behind both the journal and log_format_fields(): MESSAGE,
 * PRIORITY, SYSLOG_IDENTIFIER, ERRNO (when err), then the caller's fields
 * (NULL values skipped).  strict: an invalid field name fails the record
 * (-EINVAL); otherwise it is dropped so that a record is never lost.
 */
static int record_build(struct log_record *rec, int level, int err, const char *identifier,
                        const struct log_field *fields, size_t n_fields, const char *message,
                        bool strict)
{
        char num[16];
        int r;

        rec->n = 0;
        rec->used = 0;
        r = record_add(rec, "MESSAGE", message ? message : "");
        if (r < 0)
                return r;
        snprintf(num, sizeof(num), "%d", level);
        r = record_add(rec, "PRIORITY", num);
        if (r < 0)
                return r;
        r = record_add(rec, "SYSLOG_IDENTIFIER", identifier ? identifier : log_identifier);
        if (r < 0)
                return r;
        if (err) {
                snprintf(num, sizeof(num), "%d", err < 0 ? -err : err);
                r = record_add(rec, "ERRNO", num);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n_fields; i++) {
                if (!fields[i].value)
                        continue;
                if (!log_field_name_valid(fields[i].key)) {
                        if (strict)
                                return -EINVAL;
                        continue;
                }
                r = record_add(rec, fields[i].key, fields[i].value);
                if (r < 0)
                        return r;
        }
        return (int)rec->n;
}

int log_format_fields(char *buf, size_t size, int level, const char *identifier,
                      const struct log_field *fields, size_t n_fields, const char *message)
{
        struct log_record rec;
        size_t off = 0;
        int n;

        if (size == 0)
                return -ENOBUFS;
        buf[0] = '\0';
        n = record_build(&rec, level, 0, identifier, fields, n_fields, message, true);
        if (n < 0)
                return n;
        for (size_t i = 0; i < rec.n; i++) {
                size_t len = rec.iov[i].iov_len;
                if (off + len + 2 > size) {
                        buf[off] = '\0';
                        return -ENOBUFS;
                }
                memcpy(buf + off, rec.iov[i].iov_base, len);
                off += len;
                buf[off++] = '\n';
        }
        buf[off] = '\0';
        return n;
}

static const char *level_name(int level)
{
        switch (level) {
        case LOG_EMERG:
        case LOG_ALERT:
        case LOG_CRIT:
                return "crit";
        case LOG_ERR:
                return "error";
        case LOG_WARNING:
                return "warning";
        case LOG_NOTICE:
                return "notice";
        case LOG_INFO:
                return "info";
        default:
                return "debug";
        }
}

/* Replace control characters so that one record is always one line. */
static void sanitize_line(char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        *s = ' ';
}

/* Returns 0 when the journal took the record, negative errno otherwise. */
static int emit_journal(int level, int err, const struct log_field *fields, size_t n_fields,
                        const char *message)
{
        struct log_record rec;
        int r;

        r = record_build(&rec, level, err, NULL, fields, n_fields, message, false);
        if (r < 0)
                return r;
        return sd_journal_sendv(rec.iov, (int)rec.n);
}

static void emit_stderr(int level, const struct log_field *fields, size_t n_fields,
                        const char *message)
{
        char line[LOG_MESSAGE_MAX + 1024];
        size_t off;
        int r;

        r = snprintf(line, sizeof(line), "%s: %s", level_name(level), message);
        if (r < 0)
                return;
        off = (size_t)r < sizeof(line) ? (size_t)r : sizeof(line) - 1;
        for (size_t i = 0; i < n_fields && off < sizeof(line) - 1; i++) {
                if (!fields[i].value || strcmp(fields[i].key, "MESSAGE_ID") == 0)
                        continue;
                r = snprintf(line + off, sizeof(line) - off, " %s=%s", fields[i].key,
                             fields[i].value);
                if (r < 0)
                        break;
                off += (size_t)r < sizeof(line) - off ? (size_t)r : sizeof(line) - off - 1;
        }
        sanitize_line(line);
        fprintf(stderr, "%s\n", line);
}

int log_journal(int level, const struct log_field *fields, size_t n_fields, const char *fmt, ...)
{
        char message[LOG_MESSAGE_MAX];
        va_list ap;

        if (access(LOG_JOURNAL_SOCKET, F_OK) < 0)
                return -ENOTCONN;
        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        return emit_journal(level, 0, fields, n_fields, message);
}

int log_emit(int level, int err, const struct log_field *fields, size_t n_fields, const char *fmt,
             ...)
{
        char message[LOG_MESSAGE_MAX];
        int saved_errno = errno;
        va_list ap;

        if (level > atomic_load(&log_max_level))
                goto out;

        errno = err < 0 ? -err : err;
        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);

        /* Should the journal refuse the record (record too large, socket
         * full), stderr still gets it: journald reads that stream too. */
        if (!log_to_journal || emit_journal(level, err, fields, n_fields, message) < 0)
                emit_stderr(level, fields, n_fields, message);
out:
        errno = saved_errno;
        return err < 0 ? err : -err;
}
