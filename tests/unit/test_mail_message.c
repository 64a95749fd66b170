/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of mailer/mail_message.h: address checks, the RFC 5322 date,
 * the headers of a built message, RFC 2047 subjects (Russian text decoded
 * back), folding, CRLF line endings, 7bit/8bit/quoted-printable bodies,
 * and refusal of header injection and invalid input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail_check.h"
#include "mailer/mail_message.h"

/* 2026-11-26 01:20:51 UTC, a Thursday. */
#define FIXED_DATE ((time_t)1795656051)

static const char russian_subject[] = "Подтверждение регистрации на сервере синхронизации Verstak";

static char *build(const char *to, const char *subject, const char *body, int *ret_r, char *err,
                   size_t err_size)
{
        struct mail_message_fields f = {
                .from = "noreply@verstak.example",
                .to = to,
                .subject = subject,
                .body = body,
                .date = FIXED_DATE,
        };
        char *msg = NULL;
        size_t len = 0;

        *ret_r = mail_message_build(&f, &msg, &len, err, err_size);
        if (*ret_r == 0) {
                assert_non_null(msg);
                assert_int_equal(strlen(msg), len);
        }
        return msg;
}

static char *build_ok(const char *subject, const char *body)
{
        char err[128] = "";
        int r;
        char *msg = build("alice@example.org", subject, body, &r, err, sizeof(err));

        assert_int_equal(r, 0);
        return msg;
}

static void test_address_check_valid(void **state)
{
        static const char *const ok[] = {
                "alice@example.org", "a.b-c+tag@mail.example.co.uk",
                "x@localhost",       "!#$%&'*+-/=?^_`{|}~@example.org",
                "UPPER@Example.ORG", "1@2.3",
        };
        (void)state;

        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
                assert_int_equal(mail_address_check(ok[i]), 0);
        assert_string_equal(mail_address_domain("alice@example.org"), "example.org");
}

static void test_address_check_invalid(void **state)
{
        static const char *const bad[] = {
                "",
                "alice",
                "@example.org",
                "alice@",
                "alice@@example.org",
                "a@b@example.org",
                ".alice@example.org",
                "alice.@example.org",
                "al..ice@example.org",
                "alice@example..org",
                "alice@.example.org",
                "alice@example.org.",
                "alice@-example.org",
                "alice@example-.org",
                "alice@exa_mple.org",
                "alice@[127.0.0.1]",
                "\"alice\"@example.org",
                "alice smith@example.org",
                "Alice <alice@example.org>",
                "alice@example.org\r\nBcc: evil@example.net",
                "alice@example.org\n",
                "alice\r@example.org",
                "alice\t@example.org",
                "alice\x01@example.org",
                "алиса@example.org",
                "alice@пример.рф",
        };
        char longer[300];
        (void)state;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                if (mail_address_check(bad[i]) != -EINVAL)
                        fail_msg("accepted: %s", bad[i]);
        }
        assert_int_equal(mail_address_check(NULL), -EINVAL);

        /* 65-byte local part, 64-byte label, 255-byte address. */
        snprintf(longer, sizeof(longer), "%065d@example.org", 0);
        assert_int_equal(mail_address_check(longer), -EINVAL);
        snprintf(longer, sizeof(longer), "%064d@example.org", 0);
        assert_int_equal(mail_address_check(longer), 0);
        snprintf(longer, sizeof(longer), "a@%064d.org", 0);
        assert_int_equal(mail_address_check(longer), -EINVAL);
        snprintf(longer, sizeof(longer), "a@%063d.%063d.%063d.%060d", 0, 0, 0, 0);
        assert_int_equal(strlen(longer), 254);
        assert_int_equal(mail_address_check(longer), 0);
        snprintf(longer, sizeof(longer), "a@%063d.%063d.%063d.%061d", 0, 0, 0, 0);
        assert_int_equal(mail_address_check(longer), -EINVAL);
}

static void test_date_format(void **state)
{
        char out[MAIL_DATE_SIZE];
        (void)state;

        mail_date_format(0, out);
        assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 +0000");
        mail_date_format(FIXED_DATE, out);
        assert_string_equal(out, "Thu, 26 Nov 2026 01:20:51 +0000");
        mail_date_format((time_t)951782400, out); /* leap day */
        assert_string_equal(out, "Tue, 29 Feb 2000 00:00:00 +0000");
}

static void test_build_headers(void **state)
{
        const char *body;
        char *msg = build_ok("Confirm your account", "Hello\n"), *headers, *v;
        (void)state;

        headers = mail_check_split(msg, &body);
        assert_true(strncmp(msg, "Date: ", 6) == 0);
        mail_check_header_equal(headers, "Date", "Thu, 26 Nov 2026 01:20:51 +0000");
        mail_check_header_equal(headers, "From", "noreply@verstak.example");
        mail_check_header_equal(headers, "To", "alice@example.org");
        mail_check_header_equal(headers, "Subject", "Confirm your account");
        mail_check_header_equal(headers, "MIME-Version", "1.0");
        mail_check_header_equal(headers, "Content-Type", "text/plain; charset=UTF-8");
        mail_check_header_equal(headers, "Content-Transfer-Encoding", "7bit");
        mail_check_header_equal(headers, "Auto-Submitted", "auto-generated");

        /* <32 hex digits @ the sender's domain> */
        v = mail_check_header(headers, "Message-ID");
        assert_non_null(v);
        assert_int_equal(strlen(v), 1 + 32 + 1 + strlen("verstak.example") + 1);
        assert_int_equal(v[0], '<');
        assert_int_equal(strspn(v + 1, "0123456789abcdef"), 32);
        assert_string_equal(v + 33, "@verstak.example>");
        free(v);

        assert_null(mail_check_header(headers, "Bcc"));
        assert_string_equal(body, "Hello\r\n");
        mail_check_crlf_only(msg);
        free(headers);
        mail_message_free(msg, strlen(msg));
}

static void test_build_message_ids_differ(void **state)
{
        const char *b1, *b2;
        char *m1 = build_ok("s", "b"), *m2 = build_ok("s", "b");
        char *h1 = mail_check_split(m1, &b1), *h2 = mail_check_split(m2, &b2);
        char *v1 = mail_check_header(h1, "Message-ID"), *v2 = mail_check_header(h2, "Message-ID");
        (void)state;

        assert_string_not_equal(v1, v2);
        free(v1);
        free(v2);
        free(h1);
        free(h2);
        mail_message_free(m1, strlen(m1));
        mail_message_free(m2, strlen(m2));
}

static void test_build_subject_russian(void **state)
{
        const char *body;
        char *msg = build_ok(russian_subject, "Привет!\n"), *headers, *v, *decoded;
        (void)state;

        headers = mail_check_split(msg, &body);
        /* Only ASCII in the header block, lines within 78 characters. */
        for (const char *p = headers; *p; p++)
                assert_true((unsigned char)*p < 0x80);
        mail_check_lines_within(headers, 78);
        v = mail_check_header(headers, "Subject");
        assert_true(strncmp(v, "=?UTF-8?B?", 10) == 0);
        decoded = mail_check_decode_words(v);
        assert_string_equal(decoded, russian_subject);
        /* Folded: more than one line, each word a whole number of characters. */
        assert_non_null(strstr(headers, "?=\r\n =?UTF-8?B?"));
        free(decoded);
        free(v);
        mail_check_header_equal(headers, "Content-Transfer-Encoding", "8bit");
        assert_string_equal(body, "Привет!\r\n");
        free(headers);
        mail_message_free(msg, strlen(msg));
}

static void test_build_subject_whole_characters(void **state)
{
        /* 4-byte characters: an encoded word must never split one. */
        char subject[256] = "";
        const char *body;
        char *msg, *headers, *v, *decoded;
        (void)state;

        for (int i = 0; i < 30; i++)
                strcat(subject, "😀");
        msg = build_ok(subject, "x");
        headers = mail_check_split(msg, &body);
        v = mail_check_header(headers, "Subject");
        for (const char *w = v; (w = strstr(w, "=?UTF-8?B?")); w += 10) {
                unsigned char bin[64];
                size_t n;
                const char *end = strstr(w + 10, "?=");
                assert_int_equal(sodium_base642bin(bin, sizeof(bin), w + 10, (size_t)(end - w - 10),
                                                   NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL),
                                 0);
                assert_int_equal(n % 4, 0);
        }
        decoded = mail_check_decode_words(v);
        assert_string_equal(decoded, subject);
        free(decoded);
        free(v);
        free(headers);
        mail_message_free(msg, strlen(msg));
}

static void test_build_subject_ascii_folded(void **state)
{
        static const char subject[] =
                "Your Verstak Sync Server account is almost ready: confirm the address within 48 "
                "hours to finish the registration";
        const char *body;
        char *msg = build_ok(subject, "x"), *headers, *v;
        (void)state;

        headers = mail_check_split(msg, &body);
        mail_check_lines_within(headers, 78);
        assert_null(strstr(headers, "=?"));
        v = mail_check_header(headers, "Subject");
        assert_string_equal(v, subject);
        free(v);
        free(headers);
        mail_message_free(msg, strlen(msg));
}

static void test_build_subject_encoded_when_ambiguous(void **state)
{
        static const char *const subjects[] = {"=?UTF-8?B?eA==?=", " leading", "trailing ",
                                               "double  space", "tab\there"};
        (void)state;

        for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
                const char *body;
                char *msg = build_ok(subjects[i], "x"), *headers = mail_check_split(msg, &body);
                char *v = mail_check_header(headers, "Subject"),
                     *decoded = mail_check_decode_words(v);
                assert_string_equal(decoded, subjects[i]);
                free(decoded);
                free(v);
                free(headers);
                mail_message_free(msg, strlen(msg));
        }
}

static void test_build_refuses_header_injection(void **state)
{
        static const char *const subjects[] = {"Hello\r\nBcc: evil@example.net", "Hello\nBcc: x",
                                               "Hello\rBcc: x", "bell\a", "del\x7f"};
        char err[128] = "";
        int r;
        (void)state;

        for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
                assert_null(build("alice@example.org", subjects[i], "x", &r, err, sizeof(err)));
                assert_int_equal(r, -EINVAL);
                assert_non_null(strstr(err, "subject"));
        }
        assert_null(build("alice@example.org\r\nBcc: evil@example.net", "s", "x", &r, err,
                          sizeof(err)));
        assert_int_equal(r, -EINVAL);
        assert_string_equal(err, "invalid recipient address");
        assert_null(strstr(err, "evil")); /* the reason never quotes input */
        assert_null(build("alice@example.org\n", "s", "x", &r, err, sizeof(err)));
        assert_int_equal(r, -EINVAL);
}

static void test_build_refuses_invalid(void **state)
{
        struct mail_message_fields f = {
                .from = "not an address", .to = "a@b.c", .subject = "s", .body = "b"};
        char err[128] = "", *msg = NULL;
        size_t len;
        int r;
        (void)state;

        assert_int_equal(mail_message_build(&f, &msg, &len, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, "invalid sender address");
        assert_null(build("bob", "s", "x", &r, err, sizeof(err)));
        assert_int_equal(r, -EINVAL);
        assert_null(build("a@b.c", "\xd0", "x", &r, err, sizeof(err))); /* cut UTF-8 */
        assert_int_equal(r, -EINVAL);
        assert_null(build("a@b.c", "\xc0\xaf", "x", &r, err, sizeof(err))); /* overlong */
        assert_int_equal(r, -EINVAL);
        assert_null(build("a@b.c", "\xed\xa0\x80", "x", &r, err, sizeof(err))); /* surrogate */
        assert_int_equal(r, -EINVAL);
        assert_null(build("a@b.c", "s", "body \xff", &r, err, sizeof(err)));
        assert_int_equal(r, -EINVAL);
        assert_null(build("a@b.c", "s", "form\ffeed", &r, err, sizeof(err)));
        assert_int_equal(r, -EINVAL);
        assert_null(build("a@b.c", NULL, "x", &r, err, sizeof(err)));
        assert_int_equal(r, -EINVAL);
}

static void test_build_body_line_endings(void **state)
{
        const char *body;
        char *msg = build_ok("s", "one\ntwo\r\nthree\rfour"), *headers;
        (void)state;

        headers = mail_check_split(msg, &body);
        assert_string_equal(body, "one\r\ntwo\r\nthree\r\nfour\r\n");
        mail_check_crlf_only(msg);
        free(headers);
        mail_message_free(msg, strlen(msg));

        msg = build_ok("s", "");
        headers = mail_check_split(msg, &body);
        assert_string_equal(body, "");
        free(headers);
        mail_message_free(msg, strlen(msg));
}

static void test_build_body_long_line_quoted_printable(void **state)
{
        char *text = malloc(2600), *msg, *headers, *decoded;
        const char *body;
        size_t n = 0;
        (void)state;

        /* A 2000-byte line with '=', non-ASCII and a trailing space. */
        for (int i = 0; i < 250; i++) {
                memcpy(text + n, "ab=cdé ", 8);
                n += 8;
        }
        memcpy(text + n, "\nnext line \n", 13);
        msg = build_ok("s", text);
        headers = mail_check_split(msg, &body);
        mail_check_header_equal(headers, "Content-Transfer-Encoding", "quoted-printable");
        mail_check_lines_within(body, 76);
        mail_check_crlf_only(body);
        for (const char *p = body; *p; p++)
                assert_true((unsigned char)*p < 0x80);
        /* No line ends in white space. */
        assert_null(strstr(body, " \r\n"));
        decoded = mail_check_qp_decode(body);
        assert_string_equal(decoded, text);
        free(decoded);
        free(headers);
        mail_message_free(msg, strlen(msg));
        free(text);
}

static void test_build_body_998_is_not_encoded(void **state)
{
        char *text = malloc(MAIL_LINE_MAX + 2), *msg, *headers;
        const char *body;
        (void)state;

        memset(text, 'x', MAIL_LINE_MAX);
        text[MAIL_LINE_MAX] = '\0';
        msg = build_ok("s", text);
        headers = mail_check_split(msg, &body);
        mail_check_header_equal(headers, "Content-Transfer-Encoding", "7bit");
        assert_int_equal(strlen(body), MAIL_LINE_MAX + 2);
        free(headers);
        mail_message_free(msg, strlen(msg));
        free(text);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_address_check_valid),
                cmocka_unit_test(test_address_check_invalid),
                cmocka_unit_test(test_date_format),
                cmocka_unit_test(test_build_headers),
                cmocka_unit_test(test_build_message_ids_differ),
                cmocka_unit_test(test_build_subject_russian),
                cmocka_unit_test(test_build_subject_whole_characters),
                cmocka_unit_test(test_build_subject_ascii_folded),
                cmocka_unit_test(test_build_subject_encoded_when_ambiguous),
                cmocka_unit_test(test_build_refuses_header_injection),
                cmocka_unit_test(test_build_refuses_invalid),
                cmocka_unit_test(test_build_body_line_endings),
                cmocka_unit_test(test_build_body_long_line_quoted_printable),
                cmocka_unit_test(test_build_body_998_is_not_encoded),
        };

        if (sodium_init() < 0)
                return 1;
        return cmocka_run_group_tests(tests, NULL, NULL);
}
