/* SPDX-License-Identifier: MIT */
/*
 * Operator subcommands of the one binary (`verstak-sync-server backup|
 * restore|check|gc|admin|migrate …`): the dispatch, and what every command shares
 * (flags common to all, who may run them, opening the data directory
 * through the store and blob APIs).  Each command lives in its own
 * cmd_<name>.c; none of them starts the HTTP server.
 *
 * Exit codes: 0 done (healthy), 1 a problem was found or the work failed,
 * 2 bad flags or a refusal (wrong user, newer schema, non-empty target).
 */
#pragma once

#include <stdbool.h>
#include <getopt.h>
#include <stdint.h>
#include <time.h>

#include "config/config.h"

#define CMD_EXIT_OK      0
#define CMD_EXIT_FAILURE 1
#define CMD_EXIT_USAGE   2

/* Whether argv[1] names a subcommand (then main() hands over to cmd_main). */
bool cmd_is_subcommand(const char *arg);

/* Run the subcommand argv[1] with its arguments; returns the exit code. */
int cmd_main(int argc, char **argv);

/* --- shared by the cmd_<name>.c files --------------------------------------- */

/* Flags every data-directory command takes. */
struct cmd_common {
        const char *data_dir;    /* --data (default ./server-data) */
        const char *config_path; /* --config (default DIR/config.yml) */
        bool allow_root;         /* --allow-root */
        bool json;               /* --json (where offered) */
};

/* getopt_long values of the common flags and their table entries. */
enum {
        CMD_OPT_DATA = 0x200,
        CMD_OPT_CONFIG,
        CMD_OPT_ALLOW_ROOT,
        CMD_OPT_JSON,
        CMD_OPT_HELP,
        CMD_OPT_FIRST_OWN, /* a command's own flags start here */
};
#define CMD_COMMON_OPTIONS                                                                         \
        {"data", required_argument, NULL, CMD_OPT_DATA},                                           \
                {"config", required_argument, NULL, CMD_OPT_CONFIG},                               \
                {"allow-root", no_argument, NULL, CMD_OPT_ALLOW_ROOT},                             \
        {                                                                                          \
                "help", no_argument, NULL, CMD_OPT_HELP                                            \
        }

/* Parse argv (argv[0] is the command's name) with opts: common flags go to
 * c, others to own(opt, optarg, userdata), which returns 0 or a negative
 * errno for a bad value.  Returns 0, 1 after printing help, or
 * CMD_EXIT_USAGE after printing what was wrong.  Positional arguments are
 * refused unless positional is not NULL: then they are left at
 * argv[*positional..argc). */
int cmd_parse(int argc, char **argv, const struct option *opts, const char *help,
              struct cmd_common *c, int (*own)(int opt, const char *arg, void *userdata),
              void *userdata, int *positional);

/* An open data directory. */
struct cmd_data {
        char *data_dir; /* absolute */
        char *blob_dir; /* <data>/blobs */
        struct config config;
        struct store *store;
        struct blob_store *blobs;
};

/* Print "verstak-sync-server NAME: message" on stderr; returns code.  The
 * message is kept for cmd_last_failure(). */
int cmd_fail(int code, const char *name, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* The message of the last cmd_fail() ("" when none). */
const char *cmd_last_failure(void);

/* The name of the user who ran the command (the real user at start,
 * before any change of identity), for the audit log and the journal. */
const char *cmd_invoker(void);

/*
 * Report an event of an operator command to the journal (log_journal():
 * whenever journald runs, also from a terminal; nothing without it) with
 * MESSAGE_ID=message_id (one of LOG_MID_*, each with an entry in
 * systemd/verstak-sync-server.catalog), EVENT=event and OPERATOR= the
 * invoking user.  Never pass a password, token or link.
 */
void cmd_event(int level, const char *message_id, const char *event, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* The started/finished/failed events of one command. */
struct cmd_events {
        const char *started_id, *finished_id, *failed_id;
        const char *name; /* "backup": events backup_started, … */
};

/* Report started (before the work) ... */
void cmd_event_started(const struct cmd_events *e, const char *what);

/* ... and how it ended: exit code 0 finished, else failed with
 * cmd_last_failure() as the reason.  Returns code. */
int cmd_event_ended(const struct cmd_events *e, const char *what, int code);

/*
 * Who may work on the data directory dir: its owner.  Root working on a
 * directory another user owns is refused unless allow_root, and then
 * becomes that owner (user and group) for the rest of the command, so that
 * every file it creates belongs to the daemon's user.  Returns 0, or a
 * CMD_EXIT_* code after printing why not.
 */
int cmd_become_owner(const char *name, const char *dir, bool allow_root);

/*
 * Check the identity (cmd_become_owner), load the configuration, open the
 * database without migrating it and the blob directory.  A schema newer
 * than this program, or older (not yet migrated by the daemon), is
 * refused.  Returns 0 or a CMD_EXIT_* code after printing why not.
 */
int cmd_data_open(const char *name, const struct cmd_common *c, struct cmd_data *ret);

/* Close what cmd_data_open() opened (idempotent). */
void cmd_data_close(struct cmd_data *d);

/* A progress line on stderr when it is a terminal ("\rwhat: n/total, X"),
 * at most a few times a second; done ends the line.  total may be 0
 * (unknown). */
void cmd_progress(const char *what, uint64_t n, uint64_t total, uint64_t bytes, bool done);

/* SHA-256 of what remains to be read from fd, as 64 hex digits + NUL into
 * out; *bytes grows by what was read (a progress line "what" on a
 * terminal when what is not NULL).  Returns 0 or a negative errno. */
int cmd_sha256_fd(int fd, char out[65], const char *what, uint64_t *bytes);

/* The cutoff before which upload temporary files count as stale
 * (retention.temp_upload_hours before now). */
time_t cmd_temp_cutoff(const struct config *cfg);

/* "12.3 MiB" for a byte count. */
void cmd_format_bytes(uint64_t bytes, char *out, size_t size);

/* The subcommands (cmd_<name>.c). */
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_admin(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
