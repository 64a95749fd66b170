/* SPDX-License-Identifier: MIT */
/* Unit tests of auth/password.h: Argon2id hashes verify, and the hash
 * slots: with every slot held, a hash, a check and the dummy check give
 * up with -EAGAIN after the configured wait, and work again once a slot
 * is given back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "auth/password.h"

static void test_password_hash_verify(void **state)
{
        char hash[PASSWORD_HASH_MAX];
        bool rehash = true;

        (void)state;
        assert_int_equal(password_hash("correct horse", hash), 0);
        assert_true(strncmp(hash, "$argon2id$", 10) == 0);
        assert_int_equal(password_verify("correct horse", hash, &rehash), 1);
        assert_false(rehash);
        assert_int_equal(password_verify("wrong horse", hash, NULL), 0);
        assert_int_equal(password_verify("x", "plain", NULL), -EINVAL);
}

static void test_password_limit_bounds(void **state)
{
        (void)state;
        assert_int_equal(password_limit(0, 0), -EINVAL);
        assert_int_equal(password_limit(PASSWORD_CONCURRENCY_MAX + 1, 0), -EINVAL);
}

static void test_password_slots_busy(void **state)
{
        char hash[PASSWORD_HASH_MAX], busy[PASSWORD_HASH_MAX];

        (void)state;
        assert_int_equal(password_hash("correct horse", hash), 0);
        /* One slot, a short wait: holding the slot makes every hash and
         * check give up. */
        assert_int_equal(password_limit(1, 20), 0);
        assert_int_equal(password_slot_acquire(), 0);
        assert_int_equal(password_slot_acquire(), -EAGAIN);
        assert_int_equal(password_hash("correct horse", busy), -EAGAIN);
        assert_int_equal(password_verify("correct horse", hash, NULL), -EAGAIN);
        assert_int_equal(password_verify_dummy("correct horse"), -EAGAIN);
        /* Failed checks of unknown, Argon2id and bcrypt accounts wait for
         * a slot as a real check does. */
        assert_int_equal(password_verify_dummy_bcrypt("correct horse", 4), -EAGAIN);
        assert_int_equal(password_fail_equalise("correct horse", NULL, 0), -EAGAIN);
        assert_int_equal(password_fail_equalise("correct horse", hash, 4), -EAGAIN);
        password_slot_release();

        assert_int_equal(password_verify("correct horse", hash, NULL), 1);
        assert_int_equal(password_verify_dummy("correct horse"), 0);
        assert_int_equal(password_verify_dummy_bcrypt("correct horse", 4), 0);
        assert_int_equal(password_fail_equalise("correct horse", NULL, 4), 0);
        assert_int_equal(password_fail_equalise("correct horse", hash, 0), 0);
        assert_int_equal(password_slot_acquire(), 0);
        password_slot_release();
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_password_hash_verify),
                cmocka_unit_test(test_password_limit_bounds),
                cmocka_unit_test(test_password_slots_busy),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
