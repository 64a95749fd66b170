/* SPDX-License-Identifier: MIT */
/*
 * Implementation of util/log.h: journald when stderr is the journal stream,
 * plain lines on stderr otherwise.  Thread-safe: every record is built on
 * the stack and written with a single call.
 */
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <time.h>

/* Upper bounds keep a single record on the stack. */
#define LOG_MESSAGE_MAX 2048
#define LOG_FIELDS_MAX  24

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
        log_to_journal = journal_stream_is_stderr();
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

int log_format_fields(char *buf, size_t size, int level, const char *identifier,
                      const struct log_field *fields, size_t n_fields, const char *message)
{
        size_t off = 0;
        int n = 0, r;

        if (size == 0)
                return -ENOBUFS;
        buf[0] = '\0';
        r = snprintf(buf, size, "PRIORITY=%d\nSYSLOG_IDENTIFIER=%s\nMESSAGE=%s\n", level,
                     identifier ? identifier : log_identifier, message ? message : "");
        if (r < 0 || (size_t)r >= size)
                return -ENOBUFS;
        off = (size_t)r;
        n = 3;
        for (size_t i = 0; i < n_fields; i++) {
                if (!fields[i].value)
                        continue;
                if (!log_field_name_valid(fields[i].key))
                        return -EINVAL;
                r = snprintf(buf + off, size - off, "%s=%s\n", fields[i].key, fields[i].value);
                if (r < 0 || (size_t)r >= size - off)
                        return -ENOBUFS;
                off += (size_t)r;
                n++;
        }
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

static void emit_journal(int level, int err, const struct log_field *fields, size_t n_fields,
                         const char *message)
{
        char storage[LOG_FIELDS_MAX + 4][320];
        struct iovec iov[LOG_FIELDS_MAX + 4];
        _cleanup_free_ char *msg = NULL;
        size_t n = 0;

        if (asprintf(&msg, "MESSAGE=%s", message) < 0)
                return;
        iov[n++] = (struct iovec){msg, strlen(msg)};
        snprintf(storage[n], sizeof(storage[n]), "PRIORITY=%d", level);
        iov[n] = (struct iovec){storage[n], strlen(storage[n])};
        n++;
        snprintf(storage[n], sizeof(storage[n]), "SYSLOG_IDENTIFIER=%s", log_identifier);
        iov[n] = (struct iovec){storage[n], strlen(storage[n])};
        n++;
        if (err) {
                snprintf(storage[n], sizeof(storage[n]), "ERRNO=%d", err < 0 ? -err : err);
                iov[n] = (struct iovec){storage[n], strlen(storage[n])};
                n++;
        }
        for (size_t i = 0; i < n_fields && n < ELEMENTSOF(iov); i++) {
                if (!fields[i].value || !log_field_name_valid(fields[i].key))
                        continue;
                int r = snprintf(storage[n], sizeof(storage[n]), "%s=%s", fields[i].key,
                                 fields[i].value);
                if (r < 0)
                        continue;
                iov[n] = (struct iovec){storage[n], strlen(storage[n])};
                n++;
        }
        (void)sd_journal_sendv(iov, (int)n);
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

        if (log_to_journal)
                emit_journal(level, err, fields, n_fields, message);
        else
                emit_stderr(level, fields, n_fields, message);
out:
        errno = saved_errno;
        return err < 0 ? err : -err;
}
