/* SPDX-License-Identifier: MIT */
/*
 * Logging for every process of the project.  When stderr is connected to
 * the journal (JOURNAL_STREAM names our stderr and journald's socket
 * exists), records go out through sd_journal_send() with structured
 * fields; otherwise as one readable line on stderr.  Helpers do not log:
 * the boundary logs once.
 *
 * Never pass a password, token, cookie, request payload or e-mail body to
 * any function here.
 */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <syslog.h>

#include "util/cleanup.h"

/* A structured field: KEY must be an upper-case journal field name. */
struct log_field {
        const char *key;
        const char *value;
};

/* MESSAGE_IDs for events an operator wants to find with
 * `journalctl MESSAGE_ID=…`.  Stable: never change a published value. */
#define LOG_MID_STARTED        "3a4c1e0f9b7d4b52a1c6e2d8f0a7b911"
#define LOG_MID_STOPPED        "3a4c1e0f9b7d4b52a1c6e2d8f0a7b912"
#define LOG_MID_MIGRATION      "3a4c1e0f9b7d4b52a1c6e2d8f0a7b913"
#define LOG_MID_DEVICE_PAIRED  "3a4c1e0f9b7d4b52a1c6e2d8f0a7b914"
#define LOG_MID_DEVICE_REVOKED "3a4c1e0f9b7d4b52a1c6e2d8f0a7b915"
#define LOG_MID_ADMIN_ACTION   "3a4c1e0f9b7d4b52a1c6e2d8f0a7b916"
#define LOG_MID_MAIL_FAILED    "3a4c1e0f9b7d4b52a1c6e2d8f0a7b917"
#define LOG_MID_SECURITY       "3a4c1e0f9b7d4b52a1c6e2d8f0a7b918"

/* The operator commands (`verstak-sync-server backup|restore|check|gc|admin|migrate`). */
#define LOG_MID_BACKUP_STARTED    "5e8f2a914c7b4d06b1e3a7c9d2f00101"
#define LOG_MID_BACKUP_FINISHED   "5e8f2a914c7b4d06b1e3a7c9d2f00102"
#define LOG_MID_BACKUP_FAILED     "5e8f2a914c7b4d06b1e3a7c9d2f00103"
#define LOG_MID_RESTORE_STARTED   "5e8f2a914c7b4d06b1e3a7c9d2f00111"
#define LOG_MID_RESTORE_FINISHED  "5e8f2a914c7b4d06b1e3a7c9d2f00112"
#define LOG_MID_RESTORE_FAILED    "5e8f2a914c7b4d06b1e3a7c9d2f00113"
#define LOG_MID_CHECK_STARTED     "5e8f2a914c7b4d06b1e3a7c9d2f00121"
#define LOG_MID_CHECK_HEALTHY     "5e8f2a914c7b4d06b1e3a7c9d2f00122"
#define LOG_MID_CHECK_PROBLEMS    "5e8f2a914c7b4d06b1e3a7c9d2f00123"
#define LOG_MID_GC_STARTED        "5e8f2a914c7b4d06b1e3a7c9d2f00131"
#define LOG_MID_GC_FINISHED       "5e8f2a914c7b4d06b1e3a7c9d2f00132"
#define LOG_MID_GC_FAILED         "5e8f2a914c7b4d06b1e3a7c9d2f00133"
#define LOG_MID_HOST_ADMIN_SET    "5e8f2a914c7b4d06b1e3a7c9d2f00141"
#define LOG_MID_HOST_USER_CONFIRM "5e8f2a914c7b4d06b1e3a7c9d2f00142"
#define LOG_MID_HOST_USER_BLOCK   "5e8f2a914c7b4d06b1e3a7c9d2f00143"
#define LOG_MID_HOST_USER_UNBLOCK "5e8f2a914c7b4d06b1e3a7c9d2f00144"
#define LOG_MID_HOST_INVITATION   "5e8f2a914c7b4d06b1e3a7c9d2f00145"
#define LOG_MID_HOST_DEVICE       "5e8f2a914c7b4d06b1e3a7c9d2f00146"
#define LOG_MID_HOST_FAILED       "5e8f2a914c7b4d06b1e3a7c9d2f00147"
#define LOG_MID_MIGRATE_STARTED   "5e8f2a914c7b4d06b1e3a7c9d2f00151"
#define LOG_MID_MIGRATE_FINISHED  "5e8f2a914c7b4d06b1e3a7c9d2f00152"
#define LOG_MID_MIGRATE_FAILED    "5e8f2a914c7b4d06b1e3a7c9d2f00153"

/* Set the identifier (SYSLOG_IDENTIFIER) and detect the journal. */
void log_open(const char *identifier);

/* LOG_ERR … LOG_DEBUG.  Records above the level are dropped. */
void log_set_max_level(int level);
int log_get_max_level(void);

/* Parse "err", "warning", "notice", "info", "debug" (and syslog numbers).
 * Returns the level, or -EINVAL. */
int log_level_from_string(const char *s);

/* Whether records currently go to the journal. */
int log_is_journal(void);

/*
 * Emit one record.  err, when non-zero, is a (positive or negative) errno
 * that %m in the format refers to and that is attached as ERRNO=.  Returns
 * -abs(err) so callers can `return log_error_errno(r, …)`.
 */
int log_emit(int level, int err, const struct log_field *fields, size_t n_fields, const char *fmt,
             ...) _printf_(5, 6);

#define log_full_errno(level, err, ...) log_emit(level, err, NULL, 0, __VA_ARGS__)
#define log_debug(...)                  log_emit(LOG_DEBUG, 0, NULL, 0, __VA_ARGS__)
#define log_info(...)                   log_emit(LOG_INFO, 0, NULL, 0, __VA_ARGS__)
#define log_notice(...)                 log_emit(LOG_NOTICE, 0, NULL, 0, __VA_ARGS__)
#define log_warning(...)                log_emit(LOG_WARNING, 0, NULL, 0, __VA_ARGS__)
#define log_error(...)                  log_emit(LOG_ERR, 0, NULL, 0, __VA_ARGS__)
#define log_warning_errno(err, ...)     log_emit(LOG_WARNING, err, NULL, 0, __VA_ARGS__)
#define log_error_errno(err, ...)       log_emit(LOG_ERR, err, NULL, 0, __VA_ARGS__)

/*
 * Send one record straight to the journal whenever journald's socket
 * exists, whatever stderr is: an operator command run from a terminal or
 * from cron reports its events to the system's log, while its own output
 * stays on stdout and stderr.  Returns 0 when the journal took it,
 * -ENOTCONN without journald (nothing is written then), or the journal's
 * error.
 */
int log_journal(int level, const struct log_field *fields, size_t n_fields, const char *fmt, ...)
        _printf_(4, 5);

/* Structured record with explicit fields: log_struct(LOG_INFO, fields, "fmt", …). */
#define log_struct(level, fields, ...) log_emit(level, 0, fields, ELEMENTSOF(fields), __VA_ARGS__)

/*
 * Render a record as the journal would receive it, as "KEY=value\n" lines,
 * into buf (always NUL-terminated).  Used by log_emit() and by unit tests of
 * the field builder.  Returns the number of fields written, or -ENOBUFS when
 * buf is too small, -EINVAL for an invalid field name.
 */
int log_format_fields(char *buf, size_t size, int level, const char *identifier,
                      const struct log_field *fields, size_t n_fields, const char *message);

/* Whether a journal field name is valid (A-Z, 0-9, _; not starting with _ or a digit). */
int log_field_name_valid(const char *key);

#define log_oom() log_emit(LOG_ERR, ENOMEM, NULL, 0, "Out of memory")
