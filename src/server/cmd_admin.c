/* SPDX-License-Identifier: MIT */
/*
 * `verstak-sync-server admin …`: administration from the host, for a
 * machine without a browser, through the same store functions the
 * administrator's console uses, so that an action here has the console's
 * effect (blocking ends the user's sessions and device access, confirming
 * drops pending confirmation links, an invitation link is built on
 * public_url only).  Every action is written to the audit log, as the
 * console's are, with a message naming the host command line and the user
 * who ran it, and reported to the journal (cmd_event).  Passwords come from
 * a file or standard input, never from the command line.  Output is a
 * short sentence or an aligned table, or one JSON document with --json.
 */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/admin_common.h"
#include "api/invitation.h"
#include "auth/password.h"
#include "auth/token.h"
#include "server/admin_password.h"
#include "server/cmd.h"
#include "store/store.h"
#include "store/store_console.h"
#include "store/store_devices.h"
#include "store/store_users.h"
#include "util/cleanup.h"
#include "util/email.h"
#include "util/log.h"
#include "util/secret.h"
#include "util/text.h"

#define COMMON_HELP                                                                                \
        "  --data DIR          data directory (default ./server-data)\n"                           \
        "  --config FILE       configuration file (default DIR/config.yml)\n"                      \
        "  --json              print one JSON document instead of text\n"                          \
        "  --allow-root        as root, act as the owner of DIR\n"                                 \
        "  --help              print this help\n"                                                  \
        "Exit status: 0 done, 1 failed (unknown user, …), 2 bad flags or refused.\n"

static const char admin_help[] =
        "Usage: verstak-sync-server admin COMMAND [--data DIR] [--json] ...\n\n"
        "Administration from the host, also while the daemon serves.\n\n"
        "  create-admin NAME (--password-file FILE | --password-stdin)\n"
        "                      create an administrator of the admin console\n"
        "  reset-admin NAME (--password-file FILE | --password-stdin)\n"
        "                      set an existing administrator's password\n"
        "  list-users [--search TEXT] [--status S] [--sort COL] [--order O]\n"
        "             [--page N] [--per-page N]\n"
        "                      list users, as the console's Users page\n"
        "  confirm-user USER   mark a user's e-mail address confirmed\n"
        "  block-user USER     block a user: sessions end, devices are refused\n"
        "  unblock-user USER   let a blocked user in again\n"
        "  create-invitation [--email ADDR] [--hours N]\n"
        "                      make a single-use registration link (public_url)\n"
        "  revoke-device ID    revoke a device token (dev_…)\n\n"
        "USER is a user's id, username or e-mail address.\n"
        "`verstak-sync-server admin COMMAND --help` describes one command.\n\n" COMMON_HELP
        "Passwords are never taken from the command line.\n";

enum {
        OPT_PASSWORD_FILE = CMD_OPT_FIRST_OWN,
        OPT_PASSWORD_STDIN,
        OPT_SEARCH,
        OPT_STATUS,
        OPT_SORT,
        OPT_ORDER,
        OPT_PAGE,
        OPT_PER_PAGE,
        OPT_EMAIL,
        OPT_HOURS,
        OPT_END,
};

/* The bit of an own option in admin_args.given and admin_sub.options. */
#define OPTBIT(opt)   (1u << ((opt)-CMD_OPT_FIRST_OWN))
#define OPTS_PASSWORD (OPTBIT(OPT_PASSWORD_FILE) | OPTBIT(OPT_PASSWORD_STDIN))
#define OPTS_LIST                                                                                  \
        (OPTBIT(OPT_SEARCH) | OPTBIT(OPT_STATUS) | OPTBIT(OPT_SORT) | OPTBIT(OPT_ORDER) |          \
         OPTBIT(OPT_PAGE) | OPTBIT(OPT_PER_PAGE))
#define OPTS_INVITATION (OPTBIT(OPT_EMAIL) | OPTBIT(OPT_HOURS))

/* Longest --search text, as the console's filter. */
#define ADMIN_SEARCH_MAX 256

static const char *const status_names[] = {"all", "active", "blocked", "unconfirmed", NULL};
static const char *const sort_names[] = {"created_at", "username", "email",   "last_seen",
                                         "confirmed",  "blocked",  "devices", NULL};

struct admin_args {
        unsigned given; /* OPTBIT()s of the own options given */
        const char *password_file;
        bool password_stdin;
        struct store_user_query query;
        const char *email;
        int64_t hours;
};

/* Index of s in names (NULL-terminated), or -1. */
static int lookup(const char *const *names, const char *s)
{
        for (int i = 0; names[i]; i++)
                if (strcmp(names[i], s) == 0)
                        return i;
        return -1;
}

/* A positive integer no larger than max, or -EINVAL. */
static int parse_count(const char *arg, int64_t max, int64_t *ret)
{
        char *end;
        long long v;

        if (!arg[0] || arg[0] == '-' || arg[0] == '+')
                return -EINVAL;
        errno = 0;
        v = strtoll(arg, &end, 10);
        if (errno != 0 || *end != '\0' || v < 1 || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int own_option(int opt, const char *arg, void *userdata)
{
        struct admin_args *a = userdata;
        int i;

        if (opt < CMD_OPT_FIRST_OWN || opt >= OPT_END)
                return -EINVAL;
        a->given |= OPTBIT(opt);
        switch (opt) {
        case OPT_PASSWORD_FILE:
                a->password_file = arg;
                return 0;
        case OPT_PASSWORD_STDIN:
                a->password_stdin = true;
                return 0;
        case OPT_SEARCH:
                if (strlen(arg) > ADMIN_SEARCH_MAX)
                        return -EINVAL;
                a->query.search = arg[0] ? arg : NULL;
                return 0;
        case OPT_STATUS:
                if ((i = lookup(status_names, arg)) < 0)
                        return -EINVAL;
                a->query.status = (enum store_user_status)i;
                return 0;
        case OPT_SORT:
                if ((i = lookup(sort_names, arg)) < 0)
                        return -EINVAL;
                a->query.sort = (enum store_user_sort)i;
                return 0;
        case OPT_ORDER:
                if (strcmp(arg, "asc") != 0 && strcmp(arg, "desc") != 0)
                        return -EINVAL;
                a->query.ascending = strcmp(arg, "asc") == 0;
                return 0;
        case OPT_PAGE:
                return parse_count(arg, INT32_MAX, &a->query.page.page);
        case OPT_PER_PAGE:
                return parse_count(arg, ADMIN_PAGE_MAX, &a->query.page.per_page);
        case OPT_EMAIL:
                a->email = arg;
                return 0;
        case OPT_HOURS:
                return parse_count(arg, INVITATION_HOURS_MAX, &a->hours);
        default:
                return -EINVAL;
        }
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

/* Record an action of the host command line in the audit log, as the
 * console records its own: same event names, the actor in the message. */
static void audit(struct cmd_data *data, const char *event, const char *user_id, const char *what)
{
        char message[512];
        int r;

        snprintf(message, sizeof(message), "%s from the host command line by '%s'", what,
                 cmd_invoker());
        r = store_audit_add(data->store, event, user_id, NULL, NULL, message);
        if (r < 0)
                fprintf(stderr,
                        "verstak-sync-server admin: warning: cannot write the audit log: "
                        "%s\n",
                        strerror(-r));
}

/* --- administrators ------------------------------------------------------------- */

/* create-admin (create true) or reset-admin. */
static int set_admin(struct cmd_data *data, const struct cmd_common *c, const struct admin_args *a,
                     const char *cmd, const char *name)
{
        bool create = strcmp(cmd, "create-admin") == 0;
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
                return cmd_fail(CMD_EXIT_USAGE, cmd, "no usable password");
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
        bool created = r > 0;
        audit(data, created ? "admin_added" : "admin_password_changed", NULL,
              created ? "administrator added" : "administrator password reset");
        cmd_event(LOG_NOTICE, LOG_MID_HOST_ADMIN_SET,
                  created ? "admin_added" : "admin_password_changed",
                  "Administrator '%s' %s from the host command line by '%s'", name,
                  created ? "created" : "password reset", cmd_invoker());
        if (c->json)
                return print_json(json_pack("{s:s,s:b}", "username", name, "created", created));
        printf("Administrator '%s' %s\n", name, created ? "created" : "password changed");
        return CMD_EXIT_OK;
}

static int revoke_device(struct cmd_data *data, const struct cmd_common *c,
                         const struct admin_args *a, const char *cmd, const char *id)
{
        struct store_device dev = {0};
        char message[256];
        int r;

        (void)a;
        r = store_device_get(data->store, id, &dev);
        if (r == -ENOENT)
                return cmd_fail(CMD_EXIT_FAILURE, cmd, "no device '%s'", id);
        if (r < 0)
                return cmd_fail(CMD_EXIT_FAILURE, cmd, "cannot read the device: %s", strerror(-r));
        bool already = dev.revoked_at && dev.revoked_at[0];
        store_device_done(&dev);
        if (!already) {
                snprintf(message, sizeof(message), "revoked from the host command line by '%s'",
                         cmd_invoker());
                r = store_device_revoke(data->store, id, NULL, message);
                if (r < 0)
                        return cmd_fail(CMD_EXIT_FAILURE, cmd, "cannot revoke the device: %s",
                                        strerror(-r));
                struct log_field f[] = {
                        {"MESSAGE_ID", LOG_MID_HOST_DEVICE},
                        {"EVENT", "device_revoked"},
                        {"DEVICE_ID", id},
                        {"OPERATOR", cmd_invoker()},
                };
                (void)log_journal(LOG_NOTICE, f, ELEMENTSOF(f),
                                  "Device %s revoked from the host command line by '%s'", id,
                                  cmd_invoker());
        }
        if (c->json)
                return print_json(json_pack("{s:s,s:b,s:b}", "device_id", id, "revoked", true,
                                            "already_revoked", already));
        printf("Device %s %s\n", id, already ? "was already revoked" : "revoked");
        return CMD_EXIT_OK;
}

/* --- users ---------------------------------------------------------------------- */

/* The cell of column name in row (NULL when there is no such column). */
static const struct store_cell *cell(const struct store_rows *rows, size_t row, const char *name)
{
        for (size_t i = 0; i < rows->n_cols; i++)
                if (strcmp(rows->names[i], name) == 0)
                        return &rows->cells[row * rows->n_cols + i];
        return NULL;
}

static int64_t cell_int(const struct store_rows *rows, size_t row, const char *name)
{
        const struct store_cell *x = cell(rows, row, name);
        return x && x->type == STORE_CELL_INT ? x->i : 0;
}

static const char *cell_text(const struct store_rows *rows, size_t row, const char *name)
{
        const struct store_cell *x = cell(rows, row, name);
        return x && x->type == STORE_CELL_TEXT && x->s ? x->s : "";
}

/* Columns a terminal shows a string in: UTF-8 continuation bytes take no
 * column of their own. */
static size_t text_width(const char *s)
{
        size_t n = 0;

        for (; *s; s++)
                if (((unsigned char)*s & 0xc0) != 0x80)
                        n++;
        return n;
}

/* One cell padded to width; control characters (which could steer a
 * terminal) are shown as '?'. */
static void put_cell(const char *s, size_t width, bool last)
{
        for (const char *p = s; *p; p++)
                putchar((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p);
        if (last) {
                putchar('\n');
                return;
        }
        for (size_t w = text_width(s); w < width + 2; w++)
                putchar(' ');
}

/* An aligned table: n_rows rows of n_cols cells after a header row;
 * never colour, so that it reads the same in a pipe or a file. */
static void print_table(const char *const *header, size_t n_cols, const char *const *cells,
                        size_t n_rows)
{
        size_t width[16] = {0};

        for (size_t j = 0; j < n_cols && j < ELEMENTSOF(width); j++) {
                width[j] = text_width(header[j]);
                for (size_t i = 0; i < n_rows; i++) {
                        size_t w = text_width(cells[i * n_cols + j]);
                        if (w > width[j])
                                width[j] = w;
                }
        }
        for (size_t j = 0; j < n_cols; j++)
                put_cell(header[j], width[j], j + 1 == n_cols);
        for (size_t i = 0; i < n_rows; i++)
                for (size_t j = 0; j < n_cols; j++)
                        put_cell(cells[i * n_cols + j], width[j], j + 1 == n_cols);
}

#define USER_COLS 7

static int users_table(const struct store_rows *rows, const struct store_total *t,
                       const struct store_page *page)
{
        int64_t total = t->n;
        static const char *const header[USER_COLS] = {
                "ID", "USERNAME", "EMAIL", "STATUS", "DEVICES", "LAST SEEN", "CREATED",
        };
        _cleanup_free_ const char **cells = calloc(rows->n_rows * USER_COLS + 1, sizeof(*cells));
        _cleanup_free_ char *numbers = malloc(rows->n_rows * 24 + 1);

        if (!cells || !numbers)
                return cmd_fail(CMD_EXIT_FAILURE, "list-users", "out of memory");
        for (size_t i = 0; i < rows->n_rows; i++) {
                const char **row = cells + i * USER_COLS;
                char *num = numbers + i * 24;
                snprintf(num, 24, "%lld", (long long)cell_int(rows, i, "devices"));
                row[0] = cell_text(rows, i, "id");
                row[1] = cell_text(rows, i, "username");
                row[2] = cell_text(rows, i, "email");
                row[3] = cell_int(rows, i, "blocked")      ? "blocked"
                         : !cell_int(rows, i, "confirmed") ? "unconfirmed"
                                                           : "active";
                row[4] = num;
                row[5] = cell_text(rows, i, "last_seen")[0] ? cell_text(rows, i, "last_seen")
                                                            : "never";
                row[6] = cell_text(rows, i, "created_at");
        }
        if (rows->n_rows > 0)
                print_table(header, USER_COLS, cells, rows->n_rows);
        int64_t pages = total > 0 ? (total + page->per_page - 1) / page->per_page : 1;
        if (t->capped)
                printf("Page %lld; more than %d users match\n", (long long)page->page,
                       STORE_COUNT_CAP);
        else if (total == 0)
                printf("No users match\n");
        else
                printf("Page %lld of %lld; %lld user%s match%s\n", (long long)page->page,
                       (long long)pages, (long long)total, total == 1 ? "" : "s",
                       total == 1 ? "es" : "");
        return CMD_EXIT_OK;
}

static int list_users(struct cmd_data *data, const struct cmd_common *c, const struct admin_args *a,
                      const char *cmd, const char *arg)
{
        struct store_user_query q = a->query;
        struct store_rows rows = {0};
        struct store_total total = {0};
        int r;

        (void)arg;
        if (q.page.page == 0)
                q.page.page = 1;
        if (q.page.per_page == 0)
                q.page.per_page = ADMIN_PAGE_DEFAULT;
        r = store_console_users(data->store, &q, &rows, &total);
        if (r < 0)
                return cmd_fail(CMD_EXIT_FAILURE, cmd, "cannot list the users: %s", strerror(-r));
        if (c->json) {
                json_t *list = admin_list_json("users", admin_rows_json(&rows), &total, &q.page);
                r = list ? print_json(list) : cmd_fail(CMD_EXIT_FAILURE, cmd, "out of memory");
        } else {
                r = users_table(&rows, &total, &q.page);
        }
        store_rows_done(&rows);
        return r;
}

/* The user arg names: an id, else a username or e-mail address. */
static int find_user(struct cmd_data *data, const char *cmd, const char *arg,
                     struct store_user *ret)
{
        int r = store_user_get(data->store, arg, ret);

        if (r == -ENOENT) {
                store_user_done(ret);
                *ret = (struct store_user){0};
                r = store_user_find_by_login(data->store, arg, ret);
        }
        if (r == -ENOENT)
                return cmd_fail(CMD_EXIT_FAILURE, cmd,
                                "no user '%s' (give an id, username or e-mail address; see "
                                "admin list-users)",
                                arg);
        if (r < 0)
                return cmd_fail(CMD_EXIT_FAILURE, cmd, "cannot read the user: %s", strerror(-r));
        return 0;
}

/* What confirm-user, block-user and unblock-user do. */
struct user_action {
        const char *cmd;
        const char *field; /* "confirmed" or "blocked" */
        bool value;        /* the field's value afterwards */
        const char *event; /* the console's audit event */
        const char *done;  /* "account blocked": the audit and journal text */
        const char *state; /* "blocked": the command's answer */
        const char *message_id;
};

static const struct user_action user_actions[] = {
        {"confirm-user", "confirmed", true, "admin_user_confirmed", "account confirmed",
         "confirmed", LOG_MID_HOST_USER_CONFIRM},
        {"block-user", "blocked", true, "admin_user_blocked", "account blocked", "blocked",
         LOG_MID_HOST_USER_BLOCK},
        {"unblock-user", "blocked", false, "admin_user_unblocked", "account unblocked", "unblocked",
         LOG_MID_HOST_USER_UNBLOCK},
};

static int user_action(struct cmd_data *data, const struct cmd_common *c,
                       const struct admin_args *a, const char *cmd, const char *arg)
{
        const struct user_action *act = NULL;
        struct store_user u = {0};
        int r;

        (void)a;
        for (size_t i = 0; i < ELEMENTSOF(user_actions); i++)
                if (strcmp(user_actions[i].cmd, cmd) == 0)
                        act = &user_actions[i];
        if (!act)
                return cmd_fail(CMD_EXIT_USAGE, cmd, "unknown command");
        r = find_user(data, cmd, arg, &u);
        if (r != 0) {
                store_user_done(&u);
                return r;
        }
        bool confirm = strcmp(act->field, "confirmed") == 0;
        bool changed = (confirm ? u.confirmed : u.blocked) != act->value;
        if (changed) {
                /* The console's store calls: blocking also ends the user's
                 * web sessions; devices are refused from their next request. */
                r = confirm ? store_console_user_confirm(data->store, u.id)
                            : store_console_user_block(data->store, u.id, act->value);
                if (r < 0) {
                        r = cmd_fail(CMD_EXIT_FAILURE, cmd, "cannot change user '%s': %s",
                                     u.username, r == -ENOENT ? "it was deleted" : strerror(-r));
                        store_user_done(&u);
                        return r;
                }
                audit(data, act->event, u.id, act->done);
                struct log_field f[] = {
                        {"MESSAGE_ID", act->message_id},
                        {"EVENT", act->event},
                        {"USER_ID", u.id},
                        {"OPERATOR", cmd_invoker()},
                };
                (void)log_journal(LOG_NOTICE, f, ELEMENTSOF(f),
                                  "User '%s': %s from the host command line by '%s'", u.username,
                                  act->done, cmd_invoker());
        }
        if (c->json)
                r = print_json(json_pack("{s:s,s:s,s:b,s:b}", "user_id", u.id, "username",
                                         u.username, act->field, act->value, "changed", changed));
        else
                printf("User '%s' (%s): %s%s\n", u.username, u.id, changed ? "" : "already ",
                       act->state);
        store_user_done(&u);
        return r;
}

/* --- invitations ------------------------------------------------------------------ */

static int create_invitation(struct cmd_data *data, const struct cmd_common *c,
                             const struct admin_args *a, const char *cmd, const char *arg)
{
        char email[EMAIL_MAX + 1];
        struct invitation_issued inv;
        bool bound = a->email && !str_is_blank(a->email);
        int r;

        (void)arg;
        if (bound && email_normalize(a->email, email) < 0)
                return cmd_fail(CMD_EXIT_USAGE, cmd, "invalid e-mail address '%s'", a->email);
        if (!data->config.public_url)
                return cmd_fail(CMD_EXIT_USAGE, cmd,
                                "public_url is not set: an invitation link is built only on the "
                                "server's public address; set public_url (e.g. public_url: "
                                "https://sync.example.org) in %s%s",
                                c->config_path ? c->config_path : data->data_dir,
                                c->config_path ? "" : "/config.yml");
        r = invitation_issue(data->store, data->config.public_url, bound ? email : NULL,
                             a->given & OPTBIT(OPT_HOURS) ? a->hours : INVITATION_HOURS_DEFAULT,
                             "host", &inv);
        if (r < 0)
                return cmd_fail(CMD_EXIT_FAILURE, cmd, "cannot create the invitation: %s",
                                strerror(-r));
        audit(data, "admin_invitation_created", NULL, "invitation created");
        struct log_field f[] = {
                {"MESSAGE_ID", LOG_MID_HOST_INVITATION},
                {"EVENT", "admin_invitation_created"},
                {"OPERATOR", cmd_invoker()},
        };
        (void)log_journal(LOG_NOTICE, f, ELEMENTSOF(f),
                          "Invitation %s (expires %s%s) created from the host command line by "
                          "'%s'",
                          inv.id, inv.expires_at, bound ? ", bound to an e-mail address" : "",
                          cmd_invoker());
        if (c->json)
                r = print_json(json_pack("{s:s,s:s,s:s,s:s,s:o}", "id", inv.id, "token", inv.token,
                                         "url", inv.url, "expires_at", inv.expires_at, "email",
                                         bound ? json_string(email) : json_null()));
        else
                printf("Invitation %s, single use, expires %s%s%s:\n%s\n", inv.id, inv.expires_at,
                       bound ? ", only for " : "", bound ? email : "", inv.url);
        invitation_issued_wipe(&inv);
        return r;
}

/* --- dispatch ---------------------------------------------------------------------- */

typedef int admin_run_fn(struct cmd_data *data, const struct cmd_common *c,
                         const struct admin_args *a, const char *cmd, const char *arg);

struct admin_sub {
        const char *name;
        bool takes_arg;   /* one positional argument after the name */
        unsigned options; /* OPTBIT()s of the own options it accepts */
        admin_run_fn *run;
        const char *help;
};

static const struct admin_sub subs[] = {
        {"create-admin", true, OPTS_PASSWORD, set_admin,
         "Usage: verstak-sync-server admin create-admin NAME (--password-file FILE |\n"
         "       --password-stdin) [--data DIR] [--json]\n\n"
         "Create an administrator of the admin console.  The password is read from\n"
         "FILE or one line of standard input (one trailing newline dropped), never\n"
         "from the command line.  JSON: {\"username\", \"created\": true}.\n\n"
         "  --password-file FILE  read the password from FILE\n"
         "  --password-stdin      read the password from standard input\n"},
        {"reset-admin", true, OPTS_PASSWORD, set_admin,
         "Usage: verstak-sync-server admin reset-admin NAME (--password-file FILE |\n"
         "       --password-stdin) [--data DIR] [--json]\n\n"
         "Set an existing administrator's password (as create-admin reads it).\n"
         "JSON: {\"username\", \"created\": false}.\n\n"
         "  --password-file FILE  read the password from FILE\n"
         "  --password-stdin      read the password from standard input\n"},
        {"list-users", false, OPTS_LIST, list_users,
         "Usage: verstak-sync-server admin list-users [--search TEXT] [--status S]\n"
         "       [--sort COL] [--order asc|desc] [--page N] [--per-page N] [--data DIR]\n"
         "       [--json]\n\n"
         "List users as the console's Users page does: id, username, e-mail, status,\n"
         "devices, last seen, created.  JSON: the console's answer, {\"users\": [{id,\n"
         "username, email, confirmed, blocked, last_seen, created_at, devices}],\n"
         "\"total\", \"total_capped\", \"page\", \"per_page\"}.\n\n"
         "  --search TEXT     part of the username or e-mail address\n"
         "  --status S        all (default), active, blocked, unconfirmed\n"
         "  --sort COL        created_at (default), username, email, last_seen,\n"
         "                    confirmed, blocked, devices\n"
         "  --order O         desc (default) or asc\n"
         "  --page N          page number (default 1)\n"
         "  --per-page N      users per page, 1-100 (default 20)\n"},
        {"confirm-user", true, 0, user_action,
         "Usage: verstak-sync-server admin confirm-user USER [--data DIR] [--json]\n\n"
         "Mark USER's e-mail address confirmed (pending confirmation links are\n"
         "dropped), so that the user can sign in and pair devices.  USER is an id,\n"
         "a username or an e-mail address.\n"
         "JSON: {\"user_id\", \"username\", \"confirmed\": true, \"changed\"}.\n"},
        {"block-user", true, 0, user_action,
         "Usage: verstak-sync-server admin block-user USER [--data DIR] [--json]\n\n"
         "Block USER: their web sessions end at once and every device of theirs is\n"
         "refused (403 \"user blocked\") from its next request, also while the daemon\n"
         "serves.  USER is an id, a username or an e-mail address.\n"
         "JSON: {\"user_id\", \"username\", \"blocked\": true, \"changed\"}.\n"},
        {"unblock-user", true, 0, user_action,
         "Usage: verstak-sync-server admin unblock-user USER [--data DIR] [--json]\n\n"
         "Let a blocked USER in again: their devices work from their next request.\n"
         "JSON: {\"user_id\", \"username\", \"blocked\": false, \"changed\"}.\n"},
        {"create-invitation", false, OPTS_INVITATION, create_invitation,
         "Usage: verstak-sync-server admin create-invitation [--email ADDR] [--hours N]\n"
         "       [--data DIR] [--json]\n\n"
         "Make a single-use link with which one person may register, also while\n"
         "registration is closed: <public_url>/register?invitation=<token>.  Refused\n"
         "(exit status 2) when public_url is not configured: a link is never built\n"
         "on anything else.  The token is shown once, here, and stored only as its\n"
         "SHA-256.  JSON: {\"id\", \"token\", \"url\", \"expires_at\", \"email\"}.\n\n"
         "  --email ADDR      only ADDR may register with it\n"
         "  --hours N         valid for N hours, 1-720 (default 72)\n"},
        {"revoke-device", true, 0, revoke_device,
         "Usage: verstak-sync-server admin revoke-device ID [--data DIR] [--json]\n\n"
         "Revoke a device token (dev_…): its next request is refused with 401.\n"
         "JSON: {\"device_id\", \"revoked\": true, \"already_revoked\"}.\n"},
};

static const struct admin_sub *find_sub(const char *name)
{
        for (size_t i = 0; name && i < ELEMENTSOF(subs); i++)
                if (strcmp(subs[i].name, name) == 0)
                        return &subs[i];
        return NULL;
}

/* The name of the first own option in bits (for a refusal). */
static const char *option_name(const struct option *opts, unsigned bits)
{
        for (size_t i = 0; opts[i].name; i++)
                if (opts[i].val >= CMD_OPT_FIRST_OWN && opts[i].val < OPT_END &&
                    (bits & OPTBIT(opts[i].val)))
                        return opts[i].name;
        return "?";
}

int cmd_admin(int argc, char **argv)
{
        static const struct option opts[] = {
                CMD_COMMON_OPTIONS,
                {"json", no_argument, NULL, CMD_OPT_JSON},
                {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
                {"password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN},
                {"search", required_argument, NULL, OPT_SEARCH},
                {"status", required_argument, NULL, OPT_STATUS},
                {"sort", required_argument, NULL, OPT_SORT},
                {"order", required_argument, NULL, OPT_ORDER},
                {"page", required_argument, NULL, OPT_PAGE},
                {"per-page", required_argument, NULL, OPT_PER_PAGE},
                {"email", required_argument, NULL, OPT_EMAIL},
                {"hours", required_argument, NULL, OPT_HOURS},
                {NULL, 0, NULL, 0},
        };
        _cleanup_free_ char *help = NULL;
        struct admin_args a = {.query = {.sort = STORE_USER_SORT_CREATED}};
        struct cmd_common common;
        struct cmd_data data;
        int r, pos;

        /* `admin COMMAND --help` describes that command. */
        const struct admin_sub *sub = argc > 1 ? find_sub(argv[1]) : NULL;
        if (sub && asprintf(&help, "%s\n" COMMON_HELP, sub->help) < 0)
                return cmd_fail(CMD_EXIT_FAILURE, "admin", "out of memory");
        r = cmd_parse(argc, argv, opts, help ? help : admin_help, &common, own_option, &a, &pos);
        if (r != 0)
                return r == 1 ? CMD_EXIT_OK : r;
        if (pos >= argc)
                return cmd_fail(CMD_EXIT_USAGE, "admin", "which command? (see --help)");
        const char *name = argv[pos];
        sub = find_sub(name);
        if (!sub)
                return cmd_fail(CMD_EXIT_USAGE, "admin", "unknown command '%s' (see --help)", name);
        int want = sub->takes_arg ? 1 : 0;
        if (argc - pos - 1 != want)
                return cmd_fail(CMD_EXIT_USAGE, name, "expected %s (see admin %s --help)",
                                want ? "one argument" : "no argument", name);
        if (a.given & ~sub->options)
                return cmd_fail(CMD_EXIT_USAGE, name,
                                "--%s does not apply to %s (see admin %s "
                                "--help)",
                                option_name(opts, a.given & ~sub->options), name, name);
        r = cmd_data_open(name, &common, &data);
        if (r == 0)
                r = sub->run(&data, &common, &a, name, want ? argv[pos + 1] : NULL);
        cmd_data_close(&data);
        if (r != 0)
                cmd_event(LOG_WARNING, LOG_MID_HOST_FAILED, "admin_failed",
                          "admin %s failed (by '%s', exit status %d): %s", name, cmd_invoker(), r,
                          cmd_last_failure());
        return r;
}
