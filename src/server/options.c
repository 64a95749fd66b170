/* SPDX-License-Identifier: MIT */
/* Implementation of server/options.h with getopt_long. */
#include "server/options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/secret.h"

enum {
        OPT_LISTEN = 0x100,
        OPT_PORT,
        OPT_DATA,
        OPT_CONFIG,
        OPT_LOG_LEVEL,
        OPT_ADMIN_USER,
        OPT_ADMIN_PASS_FILE,
        OPT_ADMIN_PASS_STDIN,
        OPT_ADMIN_PASS,
        OPT_ALLOW_ROOT,
        OPT_NO_SECCOMP,
        OPT_VERSION,
        OPT_CHECK_CONFIG,
        OPT_HELP,
};

static const struct option long_options[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"port", required_argument, NULL, OPT_PORT},
        {"data", required_argument, NULL, OPT_DATA},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"admin-user", required_argument, NULL, OPT_ADMIN_USER},
        {"admin-pass-file", required_argument, NULL, OPT_ADMIN_PASS_FILE},
        {"admin-pass-stdin", no_argument, NULL, OPT_ADMIN_PASS_STDIN},
        {"admin-pass", required_argument, NULL, OPT_ADMIN_PASS},
        {"allow-root", no_argument, NULL, OPT_ALLOW_ROOT},
        {"no-seccomp", no_argument, NULL, OPT_NO_SECCOMP},
        {"version", no_argument, NULL, OPT_VERSION},
        {"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
};

void options_print_help(const char *argv0)
{
        printf("Usage: %s [OPTIONS]\n"
               "       %s COMMAND [OPTIONS]   (backup, restore, check, gc, admin, migrate)\n\n"
               "Sync server for Verstak desktop clients.\n\n"
               "  --listen ADDR           listen on ADDR (127.0.0.1:47732, [::1]:47732,\n"
               "                          unix:/path); ignored under socket activation\n"
               "  --port PORT             shortcut for --listen 127.0.0.1:PORT\n"
               "  --data DIR              data directory (default ./server-data)\n"
               "  --config FILE           configuration file (default DIR/config.yml)\n"
               "  --log-level LEVEL       err, warning, notice, info or debug\n"
               "  --admin-user NAME       create or update this administrator, then serve;\n"
               "                          needs exactly one password source:\n"
               "  --admin-pass-file FILE    read the password from FILE\n"
               "  --admin-pass-stdin        read the password from standard input\n"
               "  --admin-pass PASS         insecure: visible to other users; warns\n"
               "  --allow-root            keep running as root (containers only)\n"
               "  --no-seccomp            do not install the system call filter (debugging)\n"
               "  --check-config          validate the flags and configuration, then exit\n"
               "                          (0 when valid, 2 with the offending key otherwise)\n"
               "  --version               print the version and exit\n"
               "  --help                  print this help and exit\n\n"
               "See verstak-sync-server(8) and verstak-sync-server.yml(5).\n",
               argv0, argv0);
}

int options_parse(int argc, char **argv, struct options *o, char *err, size_t err_size)
{
        int c, sources = 0;

        *o = (struct options){0};
        optind = 1;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
                switch (c) {
                case OPT_LISTEN:
                        o->listen = optarg;
                        break;
                case OPT_PORT:
                        o->port = optarg;
                        break;
                case OPT_DATA:
                        o->data_dir = optarg;
                        break;
                case OPT_CONFIG:
                        o->config_path = optarg;
                        break;
                case OPT_LOG_LEVEL:
                        o->log_level = optarg;
                        break;
                case OPT_ADMIN_USER:
                        o->admin_user = optarg;
                        break;
                case OPT_ADMIN_PASS_FILE:
                        o->admin_pass_file = optarg;
                        sources++;
                        break;
                case OPT_ADMIN_PASS_STDIN:
                        o->admin_pass_stdin = true;
                        sources++;
                        break;
                case OPT_ADMIN_PASS:
                        secret_free(o->admin_pass);
                        o->admin_pass = secret_strdup(optarg);
                        if (!o->admin_pass)
                                return -ENOMEM;
                        /* Scrub the value from the process arguments. */
                        memset(optarg, 'x', strlen(optarg));
                        sources++;
                        break;
                case OPT_ALLOW_ROOT:
                        o->allow_root = true;
                        break;
                case OPT_NO_SECCOMP:
                        o->no_seccomp = true;
                        break;
                case OPT_CHECK_CONFIG:
                        o->check_config = true;
                        break;
                case OPT_VERSION:
                        o->show_version = true;
                        break;
                case OPT_HELP:
                        o->show_help = true;
                        break;
                default:
                        snprintf(err, err_size, "unknown or incomplete option '%s'",
                                 argv[optind - 1]);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                snprintf(err, err_size, "unexpected argument '%s'", argv[optind]);
                return -EINVAL;
        }
        if (o->show_help || o->show_version)
                return 0;
        if (sources > 1) {
                snprintf(err, err_size,
                         "give exactly one of --admin-pass-file, --admin-pass-stdin, --admin-pass");
                return -EINVAL;
        }
        if (o->admin_user && sources == 0) {
                snprintf(err, err_size,
                         "--admin-user needs a password: --admin-pass-file, --admin-pass-stdin "
                         "or --admin-pass");
                return -EINVAL;
        }
        if (!o->admin_user && sources > 0) {
                snprintf(err, err_size, "an administrator password was given without --admin-user");
                return -EINVAL;
        }
        if (o->admin_user && !*o->admin_user) {
                snprintf(err, err_size, "--admin-user must not be empty");
                return -EINVAL;
        }
        if (o->listen && o->port) {
                snprintf(err, err_size, "give either --listen or --port, not both");
                return -EINVAL;
        }
        return 0;
}

void options_forget_password(struct options *o)
{
        secret_free(TAKE_PTR(o->admin_pass));
}

void options_done(struct options *o)
{
        options_forget_password(o);
        *o = (struct options){0};
}
