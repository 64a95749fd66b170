/* SPDX-License-Identifier: MIT */
/*
 * Command-line flags of verstak-sync-server (design.md §Configuration).
 * Parsing only: applying them on top of the configuration is main()'s job.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct options {
        const char *listen;
        const char *port;
        const char *data_dir;
        const char *config_path;
        const char *log_level;
        const char *admin_user;
        const char *admin_pass_file;
        bool admin_pass_stdin;
        char *admin_pass; /* secret memory (util/secret.h); argv is scrubbed */
        bool allow_root;
        bool no_seccomp;
        bool show_version;
        bool check_config; /* validate flags and configuration, then exit */
        bool show_help;
};

/* Parse argv.  Returns 0, or -EINVAL with a message in err.  The value of
 * --admin-pass is copied and overwritten in argv so it does not stay
 * visible in /proc/PID/cmdline; *ret_warned_pass is set when it was used. */
int options_parse(int argc, char **argv, struct options *o, char *err, size_t err_size);

/* Release the --admin-pass copy once it has been used.  Call it before
 * the seccomp filter goes on: releasing secret memory unlocks and unmaps
 * pages. */
void options_forget_password(struct options *o);

/* Free what options_parse() allocated (the password copy included). */
void options_done(struct options *o);

/* The --help text. */
void options_print_help(const char *argv0);
