/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of auth/token.h: random hex of the requested size and
 * alphabet, SHA-256 against the FIPS 180-2 test vectors, and equality of
 * secrets (equal, different content, different lengths, empty).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "auth/token.h"

static int setup(void **state)
{
        (void)state;
        return sodium_init() < 0 ? -1 : 0;
}

static bool is_lower_hex(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!strchr("0123456789abcdef", s[i]) || s[i] == '\0')
                        return false;
        return true;
}

static void test_random_hex_sizes(void **state)
{
        static const size_t sizes[] = {2, TOKEN_USER_ID_HEX, TOKEN_EMAIL_HEX, TOKEN_SECRET_HEX};
        (void)state;

        for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
                char buf[80];
                memset(buf, 'X', sizeof(buf));
                token_random_hex(buf, sizes[k]);
                assert_int_equal(strlen(buf), sizes[k]);
                assert_true(is_lower_hex(buf, sizes[k]));
                assert_int_equal(buf[sizes[k] + 1], 'X'); /* nothing written past the NUL */
        }
}

static void test_random_hex_differs(void **state)
{
        char a[TOKEN_SECRET_HEX + 1], b[TOKEN_SECRET_HEX + 1];
        unsigned seen[16] = {0};
        (void)state;

        token_random_hex(a, sizeof(a) - 1);
        token_random_hex(b, sizeof(b) - 1);
        assert_string_not_equal(a, b);
        /* Every hex digit turns up over 64 tokens (4096 digits; a missing
         * one has probability below 16 * (15/16)^4096). */
        for (int i = 0; i < 64; i++) {
                token_random_hex(a, sizeof(a) - 1);
                for (size_t j = 0; j < TOKEN_SECRET_HEX; j++)
                        seen[a[j] <= '9' ? a[j] - '0' : a[j] - 'a' + 10]++;
        }
        for (int d = 0; d < 16; d++)
                assert_true(seen[d] > 0);
}

static void test_sha256_vectors(void **state)
{
        char out[TOKEN_SHA256_HEX + 1];
        (void)state;

        token_sha256_hex("", 0, out);
        assert_string_equal(out,
                            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        token_sha256_hex("abc", 3, out);
        assert_string_equal(out,
                            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        static const char two_blocks[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        token_sha256_hex(two_blocks, strlen(two_blocks), out);
        assert_string_equal(out,
                            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
        /* Binary input with a NUL in it is hashed whole. */
        char a[TOKEN_SHA256_HEX + 1];
        token_sha256_hex("a\0b", 3, a);
        token_sha256_hex("a", 1, out);
        assert_string_not_equal(a, out);
}

static void test_equal(void **state)
{
        char t[TOKEN_SECRET_HEX + 1], copy[TOKEN_SECRET_HEX + 1];
        (void)state;

        token_random_hex(t, TOKEN_SECRET_HEX);
        memcpy(copy, t, sizeof(t));
        assert_true(token_equal(t, copy));
        assert_true(token_equal("", ""));
        copy[TOKEN_SECRET_HEX - 1] = copy[TOKEN_SECRET_HEX - 1] == 'a' ? 'b' : 'a';
        assert_false(token_equal(t, copy)); /* last character */
        memcpy(copy, t, sizeof(t));
        copy[0] = copy[0] == 'a' ? 'b' : 'a';
        assert_false(token_equal(t, copy)); /* first character */
        memcpy(copy, t, sizeof(t));
        copy[TOKEN_SECRET_HEX - 1] = '\0';
        assert_false(token_equal(t, copy)); /* a prefix */
        assert_false(token_equal(copy, t));
        assert_false(token_equal("", t));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_random_hex_sizes),
                cmocka_unit_test(test_random_hex_differs),
                cmocka_unit_test(test_sha256_vectors),
                cmocka_unit_test(test_equal),
        };
        return cmocka_run_group_tests_name("token", tests, setup, NULL);
}
