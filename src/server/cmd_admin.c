/* SPDX-License-Identifier: MIT */
/*
 * `verstak-sync-server admin …`: administration from the host, for a
 * machine without a browser, through the same store functions the
 * administrator API uses.  Passwords come from a file or standard input,
 * never from the command line.  Output is a short table or sentence, or
 * JSON with --json for scripts.
 */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/password.h"
#include "auth/token.h"
#include "server/admin_password.h"
#include "server/cmd.h"
#include "store/store.h"
#include "store/store_devices.h"
#include "util/cleanup.h"
#include "util/secret.h"

static const char admin_help[] =
        "Usage: verstak-sync-server admin COMMAND [--data DIR] [--json] ...\n\n"
        "Administration from the host, also while the daemon serves.\n\n"
        "  create-admin NAME (--password-file FILE | --password-stdin)\n"
        "                      create an administrator of the admin console\n"
        "  reset-admin NAME (--password-file FILE | --password-stdin)\n"
        "                      set an existing administrator's password\n"
        "  revoke-device ID    revoke a device token (dev_…)\n\n"
        "  --data DIR          data directory (default ./server-data)\n"
        "  --config FILE       configuration file (default DIR/config.yml)\n"
        "  --json              print JSON instead of text\n"
        "  --allow-root        as root, act as the owner of DIR\n"
        "  --help              print this help\n"
        "Passwords are never taken from the command line.\n";

enum { OPT_PASSWORD_FILE = CMD_OPT_FIRST_OWN, OPT_PASSWORD_STDIN };

struct admin_args {
        const char *password_file;
        bool password_stdin;
};

static int own_option(int opt, const char *arg, void *userdata)
{
        struct admin_args *a = userdata;

        if (opt == OPT_PASSWORD_FILE)
                a->password_file = arg;
        else if (opt == OPT_PASSWORD_STDIN)
                a->password_stdin = true;
        else
                return -EINVAL;
        return 0;
}

/* Print j (consumed) as one line of JSON. */
static int print_json(json_t *j)
{
        char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

        json_decref(j);
        if (!text)
                return cmd_fail(CMD_EXIT_FAILURE, "admin", "out of memory");
        puts(text);
        free(text);
        return CMD_EXIT_OK;
}

/* create-admin (create true) or reset-admin. */
static int set_admin(struct cmd_data *data, const struct cmd_common *c, const struct admin_args *a,
                     const char *name, bool create)
{
        const char *cmd = create ? "create-admin" : "reset-admin";
        char hash[PASSWORD_HASH_MAX], id[TOKEN_USER_ID_HEX + 1];
        _cleanup_free_ char *old_id = NULL, *old_hash = NULL;
        _cleanup_secret_ char *password = NULL;
        int r;

        if (!!a->password_file == a->password_stdin)
                return cmd_fail(CMD_EXIT_USAGE, cmd,
                                "give the password with exactly one of --password-file FILE and "
                                "--password-stdin");
        if (strlen(name) == 0 || strlen(name) > 64)
                return cmd_fail(CMD_EXIT_USAGE, cmd, "the name must be 1-64 bytes");
        r = store_admin_get(data->store, name, &old_id, &old_hash);
        if (r < 0 && r != -ENOENT)
                return cmd_fail(CMD_EXIT_FAILURE, cmd, "cannot read the administrators: %s",
                                strerror(-r));
        if (create && r == 0)
                return cmd_fail(CMD_EXIT_FAILURE, cmd,
                                "administrator '%s' exists; use reset-admin to set its password",
                                name);
        if (!create && r == -ENOENT)
                return cmd_fail(CMD_EXIT_FAILURE, cmd,
                                "no administrator '%s'; use create-admin to add one", name);
        if (admin_password_read(NULL, a->password_file, &password) < 0)
                return CMD_EXIT_USAGE;
        r = password_hash(password, hash);
        secret_freep(&password);
        if (r < 0)
                return cmd_fail(CMD_EXIT_FAILURE, cmd, "cannot hash the password: %s",
                                strerror(-r));
        token_random_hex(id, TOKEN_USER_ID_HEX);
        r = store_admin_upsert(data->store, old_id ? old_id : id, name, hash);
        sodium_memzero(hash, sizeof(hash));
        if (r < 0)
                return cmd_fail(CMD_EXIT_FAILURE, cmd, "cannot store the administrator: %s",
                                strerror(-r));
        if (c->json)
                return print_json(json_pack("{s:s,s:b}", "username", name, "created", r > 0));
        printf("Administrator '%s' %s\n", name, r > 0 ? "created" : "password changed");
        return CMD_EXIT_OK;
}

static int revoke_device(struct cmd_data *data, const struct cmd_common *c, const char *id)
{
        struct store_device dev = {0};
        int r;

        r = store_device_get(data->store, id, &dev);
        if (r == -ENOENT)
                return cmd_fail(CMD_EXIT_FAILURE, "revoke-device", "no device '%s'", id);
        if (r < 0)
                return cmd_fail(CMD_EXIT_FAILURE, "revoke-device", "cannot read the device: %s",
                                strerror(-r));
        bool already = dev.revoked_at && dev.revoked_at[0];
        store_device_done(&dev);
        if (!already) {
                r = store_device_revoke(data->store, id, NULL,
                                        "revoked from the host (verstak-sync-server admin)");
                if (r < 0)
                        return cmd_fail(CMD_EXIT_FAILURE, "revoke-device",
                                        "cannot revoke the device: %s", strerror(-r));
        }
        if (c->json)
                return print_json(json_pack("{s:s,s:b,s:b}", "device_id", id, "revoked", true,
                                            "already_revoked", already));
        printf("Device %s %s\n", id, already ? "was already revoked" : "revoked");
        return CMD_EXIT_OK;
}

int cmd_admin(int argc, char **argv)
{
        static const struct option opts[] = {
                CMD_COMMON_OPTIONS,
                {"json", no_argument, NULL, CMD_OPT_JSON},
                {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
                {"password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN},
                {NULL, 0, NULL, 0},
        };
        struct admin_args a = {0};
        struct cmd_common common;
        struct cmd_data data;
        int r, pos;

        r = cmd_parse(argc, argv, opts, admin_help, &common, own_option, &a, &pos);
        if (r != 0)
                return r == 1 ? CMD_EXIT_OK : r;
        if (pos >= argc)
                return cmd_fail(CMD_EXIT_USAGE, "admin", "which command? (see --help)");
        const char *sub = argv[pos];
        int want_args = strcmp(sub, "create-admin") == 0 || strcmp(sub, "reset-admin") == 0 ||
                                        strcmp(sub, "revoke-device") == 0
                                ? 1
                                : -1;
        if (want_args < 0)
                return cmd_fail(CMD_EXIT_USAGE, "admin", "unknown command '%s' (see --help)", sub);
        if (argc - pos - 1 != want_args)
                return cmd_fail(CMD_EXIT_USAGE, sub, "expected %d argument%s (see admin --help)",
                                want_args, want_args == 1 ? "" : "s");
        const char *arg = argv[pos + 1]; /* exactly one argument, checked above */
        r = cmd_data_open(sub, &common, &data);
        if (r == 0) {
                if (strcmp(sub, "revoke-device") == 0)
                        r = revoke_device(&data, &common, arg);
                else
                        r = set_admin(&data, &common, &a, arg, strcmp(sub, "create-admin") == 0);
        }
        cmd_data_close(&data);
        return r;
}
