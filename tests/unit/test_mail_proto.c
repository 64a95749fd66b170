/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of mailer/mail_proto.h: frames round-trip, and every
 * malformation the decoders promise to refuse is refused — bad magic,
 * version, reserved bits or type, oversize, truncation, leftover bytes,
 * NUL bytes, unknown, missing, duplicate or mistyped members.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailer/mail_proto.h"

/* Build a frame around a payload by hand, as a hostile peer could. */
static uint8_t *raw_frame(uint8_t version, uint8_t type, uint32_t id, const void *payload,
                          size_t len, size_t *ret_len)
{
        uint8_t *buf = calloc(1, MAIL_PROTO_HEADER_SIZE + len + 1);
        uint32_t be;

        assert_non_null(buf);
        memcpy(buf, MAIL_PROTO_MAGIC, 4);
        buf[4] = version;
        buf[5] = type;
        be = htonl(id);
        memcpy(buf + 8, &be, 4);
        be = htonl((uint32_t)len);
        memcpy(buf + 12, &be, 4);
        memcpy(buf + MAIL_PROTO_HEADER_SIZE, payload, len);
        *ret_len = MAIL_PROTO_HEADER_SIZE + len;
        return buf;
}

static int decode_send_text(const char *json, struct mail_send *ret)
{
        return mail_proto_decode_send((const uint8_t *)json, strlen(json), ret);
}

static int decode_result_text(const char *json, struct mail_result *ret)
{
        return mail_proto_decode_result((const uint8_t *)json, strlen(json), ret);
}

static void test_encode_send_round_trip(void **state)
{
        struct mail_header h;
        struct mail_send s;
        const uint8_t *payload;
        uint8_t *frame;
        size_t len;
        (void)state;

        assert_int_equal(mail_proto_encode_send(0x01020304u, "alice@example.org", "Подтверждение",
                                                "Body\nline 2\n", &frame, &len),
                         0);
        assert_memory_equal(frame, "VSM1", 4);
        assert_int_equal(frame[4], MAIL_PROTO_VERSION);
        assert_int_equal(frame[5], MAIL_MSG_SEND);
        assert_int_equal(frame[8], 0x01); /* network byte order */
        assert_int_equal(frame[11], 0x04);
        assert_int_equal(mail_proto_decode_frame(frame, len, &h, &payload), 0);
        assert_int_equal(h.type, MAIL_MSG_SEND);
        assert_int_equal(h.id, 0x01020304u);
        assert_int_equal(h.payload_len, len - MAIL_PROTO_HEADER_SIZE);
        assert_int_equal(mail_proto_decode_send(payload, h.payload_len, &s), 0);
        assert_string_equal(s.to, "alice@example.org");
        assert_string_equal(s.subject, "Подтверждение");
        assert_string_equal(s.body, "Body\nline 2\n");
        mail_send_done(&s);
        free(frame);
}

static void test_encode_result_round_trip(void **state)
{
        struct mail_header h;
        struct mail_result res;
        const uint8_t *payload;
        uint8_t *frame;
        size_t len;
        (void)state;

        assert_int_equal(mail_proto_encode_result(7, true, "ignored", &frame, &len), 0);
        assert_int_equal(mail_proto_decode_frame(frame, len, &h, &payload), 0);
        assert_int_equal(h.type, MAIL_MSG_RESULT);
        assert_int_equal(h.id, 7);
        assert_int_equal(mail_proto_decode_result(payload, h.payload_len, &res), 0);
        assert_true(res.ok);
        assert_null(res.error);
        free(frame);

        assert_int_equal(mail_proto_encode_result(8, false, "SMTP down", &frame, &len), 0);
        assert_int_equal(mail_proto_decode_frame(frame, len, &h, &payload), 0);
        assert_int_equal(mail_proto_decode_result(payload, h.payload_len, &res), 0);
        assert_false(res.ok);
        assert_string_equal(res.error, "SMTP down");
        mail_result_done(&res);
        free(frame);
}

static void test_encode_pid_and_empty_round_trip(void **state)
{
        struct mail_header h;
        const uint8_t *payload;
        uint8_t *frame;
        size_t len;
        pid_t pid;
        (void)state;

        assert_int_equal(mail_proto_encode_ready(4242, &frame, &len), 0);
        assert_int_equal(mail_proto_decode_frame(frame, len, &h, &payload), 0);
        assert_int_equal(h.type, MAIL_MSG_READY);
        assert_int_equal(h.id, 0);
        assert_int_equal(mail_proto_decode_pid(payload, h.payload_len, &pid), 0);
        assert_int_equal(pid, 4242);
        free(frame);

        assert_int_equal(mail_proto_encode_channel(9, 77, &frame, &len), 0);
        assert_int_equal(mail_proto_decode_frame(frame, len, &h, &payload), 0);
        assert_int_equal(h.type, MAIL_MSG_CHANNEL);
        assert_int_equal(h.id, 9);
        free(frame);

        assert_int_equal(mail_proto_encode_spawn(10, &frame, &len), 0);
        assert_int_equal(mail_proto_decode_frame(frame, len, &h, &payload), 0);
        assert_int_equal(mail_proto_decode_empty(payload, h.payload_len), 0);
        assert_int_equal(mail_proto_decode_empty((const uint8_t *)"{\"x\":1}", 7), -EBADMSG);
        assert_int_equal(mail_proto_decode_pid((const uint8_t *)"{\"pid\":0}", 9, &pid), -EBADMSG);
        assert_int_equal(mail_proto_decode_pid((const uint8_t *)"{\"pid\":\"1\"}", 11, &pid),
                         -EBADMSG);
        assert_int_equal(mail_proto_encode_ready(0, &frame, &len), -EINVAL);
        free(frame);
}

static void test_decode_header_bad_magic(void **state)
{
        struct mail_header h;
        uint8_t *frame;
        size_t len;
        (void)state;

        frame = raw_frame(MAIL_PROTO_VERSION, MAIL_MSG_SEND, 1, "{}", 2, &len);
        frame[0] = 'X';
        assert_int_equal(mail_proto_decode_header(frame, len, &h), -EBADMSG);
        free(frame);
}

static void test_decode_header_reserved_bits(void **state)
{
        struct mail_header h;
        uint8_t *frame;
        size_t len;
        (void)state;

        frame = raw_frame(MAIL_PROTO_VERSION, MAIL_MSG_SEND, 1, "{}", 2, &len);
        frame[7] = 1;
        assert_int_equal(mail_proto_decode_header(frame, len, &h), -EBADMSG);
        free(frame);
}

static void test_decode_header_wrong_version(void **state)
{
        struct mail_header h;
        uint8_t *frame;
        size_t len;
        (void)state;

        frame = raw_frame(2, MAIL_MSG_SEND, 1, "{}", 2, &len);
        assert_int_equal(mail_proto_decode_header(frame, len, &h), -EPROTONOSUPPORT);
        free(frame);
        frame = raw_frame(0, MAIL_MSG_SEND, 1, "{}", 2, &len);
        assert_int_equal(mail_proto_decode_header(frame, len, &h), -EPROTONOSUPPORT);
        free(frame);
}

static void test_decode_header_unknown_type(void **state)
{
        struct mail_header h;
        uint8_t *frame;
        size_t len;
        (void)state;

        frame = raw_frame(MAIL_PROTO_VERSION, 0, 1, "{}", 2, &len);
        assert_int_equal(mail_proto_decode_header(frame, len, &h), -EPROTO);
        free(frame);
        frame = raw_frame(MAIL_PROTO_VERSION, MAIL_MSG_SMTP_STORED + 1, 1, "{}", 2, &len);
        assert_int_equal(mail_proto_decode_header(frame, len, &h), -EPROTO);
        free(frame);
        frame = raw_frame(MAIL_PROTO_VERSION, 0xff, 1, "{}", 2, &len);
        assert_int_equal(mail_proto_decode_header(frame, len, &h), -EPROTO);
        free(frame);
        assert_string_equal(mail_msg_type_to_string(0xff), "unknown");
}

static void test_decode_header_oversize(void **state)
{
        struct mail_header h;
        uint8_t head[MAIL_PROTO_HEADER_SIZE];
        uint32_t be;
        uint8_t *frame;
        size_t len;
        (void)state;

        frame = raw_frame(MAIL_PROTO_VERSION, MAIL_MSG_SEND, 1, "{}", 2, &len);
        memcpy(head, frame, sizeof(head));
        free(frame);
        be = htonl(MAIL_PROTO_PAYLOAD_MAX);
        memcpy(head + 12, &be, 4);
        assert_int_equal(mail_proto_decode_header(head, sizeof(head), &h), 0);
        be = htonl(MAIL_PROTO_PAYLOAD_MAX + 1);
        memcpy(head + 12, &be, 4);
        assert_int_equal(mail_proto_decode_header(head, sizeof(head), &h), -EMSGSIZE);
        be = htonl(UINT32_MAX);
        memcpy(head + 12, &be, 4);
        assert_int_equal(mail_proto_decode_header(head, sizeof(head), &h), -EMSGSIZE);
}

static void test_decode_frame_truncated(void **state)
{
        struct mail_header h;
        const uint8_t *payload;
        uint8_t *frame;
        size_t len;
        (void)state;

        assert_int_equal(mail_proto_encode_result(1, true, NULL, &frame, &len), 0);
        assert_int_equal(mail_proto_decode_frame(frame, len - 1, &h, &payload), -EBADMSG);
        assert_int_equal(mail_proto_decode_frame(frame, MAIL_PROTO_HEADER_SIZE - 1, &h, &payload),
                         -EBADMSG);
        assert_int_equal(mail_proto_decode_frame(frame, 0, &h, &payload), -EBADMSG);
        free(frame);
}

static void test_decode_frame_leftover(void **state)
{
        struct mail_header h;
        const uint8_t *payload;
        uint8_t *frame, *longer;
        size_t len;
        (void)state;

        assert_int_equal(mail_proto_encode_result(1, true, NULL, &frame, &len), 0);
        longer = calloc(1, len + 1);
        assert_non_null(longer);
        memcpy(longer, frame, len);
        assert_int_equal(mail_proto_decode_frame(longer, len, &h, &payload), 0);
        assert_int_equal(mail_proto_decode_frame(longer, len + 1, &h, &payload), -EBADMSG);
        free(longer);
        free(frame);
}

static void test_decode_send_leftover_bytes(void **state)
{
        struct mail_send s;
        (void)state;

        assert_int_equal(
                decode_send_text("{\"to\":\"a@b.c\",\"subject\":\"s\",\"body\":\"b\"}", &s), 0);
        mail_send_done(&s);
        assert_int_equal(
                decode_send_text("{\"to\":\"a@b.c\",\"subject\":\"s\",\"body\":\"b\"} ", &s),
                -EBADMSG);
        assert_int_equal(
                decode_send_text(" {\"to\":\"a@b.c\",\"subject\":\"s\",\"body\":\"b\"}", &s),
                -EBADMSG);
        assert_int_equal(
                decode_send_text("{\"to\":\"a@b.c\",\"subject\":\"s\",\"body\":\"b\"}{}", &s),
                -EBADMSG);
}

static void test_decode_send_nul(void **state)
{
        static const char raw[] = "{\"to\":\"a@b.c\",\"subject\":\"s\0x\",\"body\":\"b\"}";
        struct mail_send s;
        (void)state;

        /* An escaped NUL inside a string. */
        assert_int_equal(
                decode_send_text("{\"to\":\"a@b.c\\u0000x\",\"subject\":\"s\",\"body\":\"b\"}", &s),
                -EBADMSG);
        assert_int_equal(
                decode_send_text("{\"to\":\"a@b.c\",\"subject\":\"s\",\"body\":\"b\\u0000\"}", &s),
                -EBADMSG);
        /* A raw NUL byte anywhere in the payload. */
        assert_int_equal(mail_proto_decode_send((const uint8_t *)raw, sizeof(raw) - 1, &s),
                         -EBADMSG);
}

static void test_decode_members(void **state)
{
        struct mail_send s;
        struct mail_result res;
        (void)state;

        /* Missing, unknown, duplicate and mistyped members. */
        assert_int_equal(decode_send_text("{\"to\":\"a@b.c\",\"subject\":\"s\"}", &s), -EBADMSG);
        assert_int_equal(
                decode_send_text(
                        "{\"to\":\"a@b.c\",\"subject\":\"s\",\"body\":\"b\",\"bcc\":\"x\"}", &s),
                -EBADMSG);
        assert_int_equal(
                decode_send_text(
                        "{\"to\":\"a@b.c\",\"to\":\"d@e.f\",\"subject\":\"s\",\"body\":\"b\"}", &s),
                -EBADMSG);
        assert_int_equal(decode_send_text("{\"to\":1,\"subject\":\"s\",\"body\":\"b\"}", &s),
                         -EBADMSG);
        assert_int_equal(decode_send_text("[\"a@b.c\",\"s\",\"b\"]", &s), -EBADMSG);
        assert_int_equal(decode_send_text("\"text\"", &s), -EBADMSG);
        assert_int_equal(
                decode_send_text("{\"to\":\"a@b.c\",\"subject\":\"s\",\"body\":\"\xff\"}", &s),
                -EBADMSG);
        assert_int_equal(decode_send_text("", &s), -EBADMSG);

        assert_int_equal(decode_result_text("{\"ok\":true,\"error\":\"x\"}", &res), -EBADMSG);
        assert_int_equal(decode_result_text("{\"ok\":false}", &res), -EBADMSG);
        assert_int_equal(decode_result_text("{\"ok\":1}", &res), -EBADMSG);
        assert_int_equal(decode_result_text("{\"error\":\"x\"}", &res), -EBADMSG);
}

static int decode_carry_text(const char *json, struct mail_smtp_carry *ret)
{
        return mail_proto_decode_smtp_carry((const uint8_t *)json, strlen(json), ret);
}

/* The earlier server's SMTP settings: a round trip, then every kind of
 * malformed payload refused. */
static void test_smtp_carry(void **state)
{
        const struct mail_smtp_carry in = {.host = "smtp.example.org",
                                           .port = 587,
                                           .security = "starttls",
                                           .username = "user",
                                           .password = "pass word",
                                           .from = "sync@example.org"};
        struct mail_smtp_carry out = {0};
        struct mail_header h;
        const uint8_t *payload;
        uint8_t *frame;
        size_t len;
        char *path = NULL;
        (void)state;

        assert_int_equal(mail_proto_encode_smtp_carry(9, &in, &frame, &len), 0);
        assert_int_equal(mail_proto_decode_frame(frame, len, &h, &payload), 0);
        assert_int_equal(h.type, MAIL_MSG_SMTP_CARRY);
        assert_int_equal(h.id, 9);
        assert_string_equal(mail_msg_type_to_string(h.type), "SMTP_CARRY");
        assert_int_equal(mail_proto_decode_smtp_carry(payload, h.payload_len, &out), 0);
        assert_string_equal(out.host, in.host);
        assert_int_equal(out.port, 587);
        assert_string_equal(out.security, in.security);
        assert_string_equal(out.username, in.username);
        assert_string_equal(out.password, in.password);
        assert_string_equal(out.from, in.from);
        mail_smtp_carry_done(&out);
        free(frame);

        /* Optional members may be missing. */
        assert_int_equal(
                decode_carry_text("{\"host\":\"h\",\"port\":25,\"security\":\"none\"}", &out), 0);
        assert_null(out.password);
        assert_null(out.username);
        mail_smtp_carry_done(&out);

        /* Ports out of range or mistyped, missing or unknown members. */
        static const char *const bad[] = {
                "{\"host\":\"h\",\"port\":0,\"security\":\"none\"}",
                "{\"host\":\"h\",\"port\":65536,\"security\":\"none\"}",
                "{\"host\":\"h\",\"port\":\"25\",\"security\":\"none\"}",
                "{\"host\":\"h\",\"port\":25.5,\"security\":\"none\"}",
                "{\"port\":25,\"security\":\"none\"}",
                "{\"host\":\"h\",\"port\":25}",
                "{\"host\":\"h\",\"port\":25,\"security\":\"none\",\"shell\":\"x\"}",
                "{\"host\":\"h\",\"port\":25,\"security\":\"none\",\"password\":7}",
                "{\"host\":\"h\",\"host\":\"i\",\"port\":25,\"security\":\"none\"}",
                "{\"host\":\"h\\u0000x\",\"port\":25,\"security\":\"none\"}",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(decode_carry_text(bad[i], &out), -EBADMSG);
        char host[MAIL_PROTO_HOST_MAX + 2], json[512];
        memset(host, 'a', sizeof(host) - 1);
        host[sizeof(host) - 1] = '\0';
        snprintf(json, sizeof(json), "{\"host\":\"%s\",\"port\":25,\"security\":\"none\"}", host);
        assert_int_equal(decode_carry_text(json, &out), -EBADMSG);
        const struct mail_smtp_carry no_port = {.host = "h", .port = 0, .security = "none"};
        assert_int_equal(mail_proto_encode_smtp_carry(1, &no_port, &frame, &len), -EINVAL);

        assert_int_equal(
                mail_proto_encode_smtp_stored(9, "/var/lib/x/smtp-carried-over", &frame, &len), 0);
        assert_int_equal(mail_proto_decode_frame(frame, len, &h, &payload), 0);
        assert_int_equal(h.type, MAIL_MSG_SMTP_STORED);
        assert_int_equal(mail_proto_decode_smtp_stored(payload, h.payload_len, &path), 0);
        assert_string_equal(path, "/var/lib/x/smtp-carried-over");
        free(path);
        free(frame);
        assert_int_equal(mail_proto_decode_smtp_stored((const uint8_t *)"{}", 2, &path), -EBADMSG);
}

static void test_decode_send_limits(void **state)
{
        char to[MAIL_PROTO_TO_MAX + 2], json[1024];
        struct mail_send s;
        uint8_t *frame = NULL;
        size_t len;
        (void)state;

        memset(to, 'a', sizeof(to) - 1);
        to[sizeof(to) - 1] = '\0';
        snprintf(json, sizeof(json), "{\"to\":\"%s\",\"subject\":\"s\",\"body\":\"b\"}", to);
        assert_int_equal(decode_send_text(json, &s), -EBADMSG);
        assert_int_equal(mail_proto_encode_send(1, to, "s", "b", &frame, &len), -EINVAL);
        to[MAIL_PROTO_TO_MAX] = '\0';
        snprintf(json, sizeof(json), "{\"to\":\"%s\",\"subject\":\"s\",\"body\":\"b\"}", to);
        assert_int_equal(decode_send_text(json, &s), 0);
        mail_send_done(&s);
}

static void test_encode_send_refuses(void **state)
{
        char *body = malloc(MAIL_PROTO_PAYLOAD_MAX + 1);
        uint8_t *frame = NULL;
        size_t len;
        (void)state;

        assert_non_null(body);
        memset(body, 'x', MAIL_PROTO_PAYLOAD_MAX);
        body[MAIL_PROTO_PAYLOAD_MAX] = '\0';
        /* The body fits its own limit, but not with the JSON around it. */
        assert_int_equal(mail_proto_encode_send(1, "a@b.c", "s", body, &frame, &len), -EMSGSIZE);
        free(body);
        assert_int_equal(mail_proto_encode_send(1, "a@b.c", "\xc3\x28", "b", &frame, &len),
                         -EINVAL);
        assert_int_equal(mail_proto_encode_send(1, NULL, "s", "b", &frame, &len), -EINVAL);
        assert_null(frame);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_encode_send_round_trip),
                cmocka_unit_test(test_encode_result_round_trip),
                cmocka_unit_test(test_encode_pid_and_empty_round_trip),
                cmocka_unit_test(test_decode_header_bad_magic),
                cmocka_unit_test(test_decode_header_reserved_bits),
                cmocka_unit_test(test_decode_header_wrong_version),
                cmocka_unit_test(test_decode_header_unknown_type),
                cmocka_unit_test(test_decode_header_oversize),
                cmocka_unit_test(test_decode_frame_truncated),
                cmocka_unit_test(test_decode_frame_leftover),
                cmocka_unit_test(test_decode_send_leftover_bytes),
                cmocka_unit_test(test_decode_send_nul),
                cmocka_unit_test(test_decode_members),
                cmocka_unit_test(test_decode_send_limits),
                cmocka_unit_test(test_encode_send_refuses),
                cmocka_unit_test(test_smtp_carry),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
