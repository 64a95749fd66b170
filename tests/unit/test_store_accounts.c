/* SPDX-License-Identifier: MIT */
/* Unit tests of store/store_accounts.h on a temporary database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store_accounts.h"
#include "store/store_users.h"
#include "util/text.h"

struct fixture {
        char dir[PATH_MAX];
        struct store *s;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        struct store_options o = {.synchronous_full = false, .readers = 2};
        char path[PATH_MAX + 16];

        snprintf(f->dir, sizeof(f->dir), "/tmp/verstak-unit-XXXXXX");
        if (!mkdtemp(f->dir))
                return -1;
        snprintf(path, sizeof(path), "%s/server.db", f->dir);
        if (store_open(path, &o, &f->s, NULL) < 0)
                return -1;
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        char cmd[PATH_MAX + 16];

        store_close(f->s);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        if (system(cmd) != 0)
                return -1;
        free(f);
        return 0;
}

static void when(time_t offset, char out[TIME_RFC3339_SIZE])
{
        time_format_rfc3339(time(NULL) + offset, out);
}

static void create(struct store *s, const char *id, const char *name, const char *email,
                   const char *token_hash)
{
        char expires[TIME_RFC3339_SIZE];
        struct store_account_new a = {
                .id = id,
                .username = name,
                .email = email,
                .password_hash = "$argon2id$old",
                .locale = "ru",
                .confirm_token_hash = token_hash,
                .confirm_expires_at = expires,
        };

        when(3600, expires);
        assert_int_equal(store_account_create(s, &a, NULL), 0);
}

static void test_create_and_conflicts(void **state)
{
        struct fixture *f = *state;
        enum store_account_taken taken = STORE_TAKEN_NONE;
        struct store_user u = {0};
        char expires[TIME_RFC3339_SIZE];

        create(f->s, "aaaaaaaaaaaaaaaaaaaaaaaa", "alice", "alice@example.org", "h-alice");
        assert_int_equal(store_user_get(f->s, "aaaaaaaaaaaaaaaaaaaaaaaa", &u), 0);
        assert_string_equal(u.username, "alice");
        assert_string_equal(u.locale, "ru");
        assert_false(u.confirmed);
        assert_false(u.blocked);
        store_user_done(&u);
        assert_int_equal(store_user_find_by_email(f->s, "alice@example.org", &u), 0);
        store_user_done(&u);
        /* By e-mail only: a username never matches. */
        assert_int_equal(store_user_find_by_email(f->s, "alice", &u), -ENOENT);

        when(3600, expires);
        struct store_account_new dup = {
                .id = "bbbbbbbbbbbbbbbbbbbbbbbb",
                .username = "alice",
                .email = "other@example.org",
                .password_hash = "x",
                .locale = "en",
                .confirm_token_hash = "h-dup",
                .confirm_expires_at = expires,
        };
        assert_int_equal(store_account_create(f->s, &dup, &taken), -EEXIST);
        assert_int_equal(taken, STORE_TAKEN_USERNAME);
        dup.username = "alice2";
        dup.email = "alice@example.org";
        assert_int_equal(store_account_create(f->s, &dup, &taken), -EEXIST);
        assert_int_equal(taken, STORE_TAKEN_EMAIL);
        /* Nothing of the failed attempts stayed behind. */
        assert_int_equal(store_user_get(f->s, "bbbbbbbbbbbbbbbbbbbbbbbb", &u), -ENOENT);
        assert_int_equal(store_account_confirm(f->s, "h-dup", time(NULL), NULL), -ENOENT);
}

static void test_confirm(void **state)
{
        struct fixture *f = *state;
        struct store_user u = {0};
        char *user_id = NULL;

        create(f->s, "cccccccccccccccccccccccc", "carol", "carol@example.org", "h-carol");
        assert_int_equal(store_account_confirm(f->s, "h-nope", time(NULL), &user_id), -ENOENT);
        assert_null(user_id);
        assert_int_equal(store_account_confirm(f->s, "h-carol", time(NULL), &user_id), 0);
        assert_string_equal(user_id, "cccccccccccccccccccccccc");
        free(user_id);
        assert_int_equal(store_user_get(f->s, "cccccccccccccccccccccccc", &u), 0);
        assert_true(u.confirmed);
        store_user_done(&u);
        /* Single use. */
        assert_int_equal(store_account_confirm(f->s, "h-carol", time(NULL), NULL), -ENOENT);
}

static void test_confirm_expired(void **state)
{
        struct fixture *f = *state;
        struct store_user u = {0};

        create(f->s, "dddddddddddddddddddddddd", "dave", "dave@example.org", "h-dave");
        /* One hour later than the token's lifetime: expired and deleted. */
        assert_int_equal(store_account_confirm(f->s, "h-dave", time(NULL) + 7200, NULL), -ETIME);
        assert_int_equal(store_account_confirm(f->s, "h-dave", time(NULL), NULL), -ENOENT);
        assert_int_equal(store_user_get(f->s, "dddddddddddddddddddddddd", &u), 0);
        assert_false(u.confirmed);
        store_user_done(&u);
}

static void test_reset_password(void **state)
{
        struct fixture *f = *state;
        char expires[TIME_RFC3339_SIZE];
        struct store_session ss = {0};
        struct store_user u = {0};
        char *user_id = NULL;

        create(f->s, "eeeeeeeeeeeeeeeeeeeeeeee", "erin", "erin@example.org", "h-erin");
        when(3600, expires);
        assert_int_equal(store_email_token_add(f->s, "eeeeeeeeeeeeeeeeeeeeeeee", STORE_TOKEN_RESET,
                                               "r1", expires),
                         0);
        assert_int_equal(store_email_token_add(f->s, "eeeeeeeeeeeeeeeeeeeeeeee", STORE_TOKEN_RESET,
                                               "r2", expires),
                         0);
        when(86400, expires);
        assert_int_equal(store_session_create(f->s, "s-user", "c1", STORE_SESSION_USER,
                                              "eeeeeeeeeeeeeeeeeeeeeeee", expires),
                         0);
        assert_int_equal(store_session_create(f->s, "s-admin", "c2", STORE_SESSION_ADMIN,
                                              "eeeeeeeeeeeeeeeeeeeeeeee", expires),
                         0);

        /* A confirmation token does not reset a password. */
        assert_int_equal(store_account_reset_password(f->s, "h-erin", time(NULL), "$new", NULL),
                         -ENOENT);
        assert_int_equal(store_account_reset_password(f->s, "r1", time(NULL), "$new", &user_id), 0);
        assert_string_equal(user_id, "eeeeeeeeeeeeeeeeeeeeeeee");
        free(user_id);
        assert_int_equal(store_user_get(f->s, "eeeeeeeeeeeeeeeeeeeeeeee", &u), 0);
        assert_string_equal(u.password_hash, "$new");
        store_user_done(&u);
        /* The other reset token and the user sessions are gone; the
         * confirmation token and other scopes are not touched. */
        assert_int_equal(store_account_reset_password(f->s, "r2", time(NULL), "$x", NULL), -ENOENT);
        assert_int_equal(store_session_get(f->s, "s-user", &ss), -ENOENT);
        assert_int_equal(store_session_get(f->s, "s-admin", &ss), 0);
        store_session_done(&ss);
        assert_int_equal(store_account_confirm(f->s, "h-erin", time(NULL), NULL), 0);
}

static void test_sessions(void **state)
{
        struct fixture *f = *state;
        char expires[TIME_RFC3339_SIZE], now[TIME_RFC3339_SIZE];
        struct store_session ss = {0};

        when(86400, expires);
        assert_int_equal(store_session_create(f->s, "t1", "c1", STORE_SESSION_USER, "u1", expires),
                         0);
        assert_int_equal(store_session_create(f->s, "t2", "c2", STORE_SESSION_USER, "u1", expires),
                         0);
        assert_int_equal(store_session_create(f->s, "t3", "c3", STORE_SESSION_USER, "u2", expires),
                         0);
        when(-10, expires);
        assert_int_equal(store_session_create(f->s, "t4", "c4", STORE_SESSION_USER, "u2", expires),
                         0);
        assert_int_equal(store_session_create(f->s, "t1", "cx", STORE_SESSION_USER, "u9", expires),
                         -EEXIST);

        assert_int_equal(store_session_get(f->s, "t1", &ss), 0);
        assert_string_equal(ss.csrf_hash, "c1");
        assert_string_equal(ss.scope, "user");
        assert_string_equal(ss.subject_id, "u1");
        assert_int_equal(strlen(ss.expires_at), 20);
        assert_string_equal(ss.created_at, ss.last_seen);
        store_session_done(&ss);
        assert_int_equal(store_session_touch(f->s, "t1"), 0);

        assert_int_equal(store_session_delete(f->s, "t2"), 1);
        assert_int_equal(store_session_delete(f->s, "t2"), 0);
        assert_int_equal(store_sessions_delete_subject(f->s, STORE_SESSION_ADMIN, "u1"), 0);
        assert_int_equal(store_sessions_delete_subject(f->s, STORE_SESSION_USER, "u1"), 1);
        assert_int_equal(store_session_get(f->s, "t1", &ss), -ENOENT);

        when(0, now);
        assert_int_equal(store_sessions_expire(f->s, now), 1);
        assert_int_equal(store_session_get(f->s, "t4", &ss), -ENOENT);
        assert_int_equal(store_session_get(f->s, "t3", &ss), 0);
        store_session_done(&ss);
}

static void test_tokens_expire(void **state)
{
        struct fixture *f = *state;
        char past[TIME_RFC3339_SIZE], now[TIME_RFC3339_SIZE];

        create(f->s, "ffffffffffffffffffffffff", "fred", "fred@example.org", "h-fred");
        when(-60, past);
        assert_int_equal(store_email_token_add(f->s, "ffffffffffffffffffffffff", STORE_TOKEN_RESET,
                                               "old", past),
                         0);
        when(0, now);
        assert_int_equal(store_email_tokens_expire(f->s, now), 1);
        assert_int_equal(store_account_reset_password(f->s, "old", time(NULL), "$x", NULL),
                         -ENOENT);
        assert_int_equal(store_account_confirm(f->s, "h-fred", time(NULL), NULL), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_create_and_conflicts, setup, teardown),
                cmocka_unit_test_setup_teardown(test_confirm, setup, teardown),
                cmocka_unit_test_setup_teardown(test_confirm_expired, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reset_password, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tokens_expire, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
