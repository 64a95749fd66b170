/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of mailer/mail_channel.h over real socketpairs: frames cross
 * a stream in pieces, end of stream is told apart at and inside a frame,
 * deadlines hold, and packets carry exactly one descriptor or are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mailer/mail_channel.h"
#include "mailer/mail_proto.h"

static void pair(int type, int fds[2])
{
        assert_int_equal(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds), 0);
}

static void test_read_frame_in_pieces(void **state)
{
        struct mail_frame f = {0};
        struct mail_send s;
        uint8_t *frame;
        size_t len;
        int fds[2];
        (void)state;

        pair(SOCK_STREAM, fds);
        assert_int_equal(mail_proto_encode_send(5, "a@b.c", "s", "body", &frame, &len), 0);
        /* Byte by byte would be slow to read; three pieces cross the header
         * boundary and split the payload. */
        assert_int_equal(write(fds[0], frame, 3), 3);
        assert_int_equal(write(fds[0], frame + 3, 20), 20);
        assert_int_equal(mail_channel_write(fds[0], frame + 23, len - 23, 1000), 0);
        assert_int_equal(mail_channel_read(fds[1], 1000, &f), 1);
        assert_int_equal(f.hdr.type, MAIL_MSG_SEND);
        assert_int_equal(f.hdr.id, 5);
        assert_int_equal(mail_proto_decode_send(f.payload, f.hdr.payload_len, &s), 0);
        assert_string_equal(s.body, "body");
        mail_send_done(&s);
        mail_frame_done(&f);
        free(frame);
        close(fds[0]);
        close(fds[1]);
}

static void test_read_end_of_stream(void **state)
{
        struct mail_frame f = {0};
        uint8_t *frame;
        size_t len;
        int fds[2];
        (void)state;

        /* At a frame boundary: a clean end. */
        pair(SOCK_STREAM, fds);
        close(fds[0]);
        assert_int_equal(mail_channel_read(fds[1], 1000, &f), 0);
        close(fds[1]);

        /* Inside the header, and inside the payload: a reset. */
        assert_int_equal(mail_proto_encode_result(1, true, NULL, &frame, &len), 0);
        pair(SOCK_STREAM, fds);
        assert_int_equal(write(fds[0], frame, 10), 10);
        close(fds[0]);
        assert_int_equal(mail_channel_read(fds[1], 1000, &f), -ECONNRESET);
        close(fds[1]);
        pair(SOCK_STREAM, fds);
        assert_int_equal(write(fds[0], frame, len - 1), (ssize_t)len - 1);
        close(fds[0]);
        assert_int_equal(mail_channel_read(fds[1], 1000, &f), -ECONNRESET);
        close(fds[1]);
        free(frame);
}

static void test_read_timeout(void **state)
{
        struct mail_frame f = {0};
        int fds[2];
        (void)state;

        pair(SOCK_STREAM, fds);
        assert_int_equal(mail_channel_read(fds[1], 50, &f), -ETIMEDOUT);
        close(fds[0]);
        close(fds[1]);
}

static void test_read_bad_header(void **state)
{
        static const uint8_t junk[MAIL_PROTO_HEADER_SIZE] = "GET / HTTP/1.1\r";
        struct mail_frame f = {0};
        int fds[2];
        (void)state;

        pair(SOCK_STREAM, fds);
        assert_int_equal(write(fds[0], junk, sizeof(junk)), (ssize_t)sizeof(junk));
        assert_int_equal(mail_channel_read(fds[1], 1000, &f), -EBADMSG);
        close(fds[0]);
        close(fds[1]);
}

static void test_write_peer_gone(void **state)
{
        uint8_t *frame;
        size_t len;
        int fds[2], r;
        (void)state;

        pair(SOCK_STREAM, fds);
        close(fds[1]);
        assert_int_equal(mail_proto_encode_result(1, true, NULL, &frame, &len), 0);
        r = mail_channel_write(fds[0], frame, len, 1000); /* no SIGPIPE either */
        assert_true(r == -EPIPE || r == -ECONNRESET);
        close(fds[0]);
        free(frame);
}

static void test_packet_with_fd(void **state)
{
        struct mail_frame f = {0};
        uint8_t *frame;
        size_t len;
        int fds[2], passed[2], got = -1;
        pid_t pid;
        (void)state;

        pair(SOCK_SEQPACKET, fds);
        pair(SOCK_STREAM, passed);
        assert_int_equal(mail_proto_encode_channel(3, 99, &frame, &len), 0);
        assert_int_equal(mail_channel_send_packet(fds[0], frame, len, passed[0]), 0);
        assert_int_equal(mail_channel_recv_packet(fds[1], 1000, &f, &got), 1);
        assert_int_equal(f.hdr.type, MAIL_MSG_CHANNEL);
        assert_int_equal(mail_proto_decode_pid(f.payload, f.hdr.payload_len, &pid), 0);
        assert_int_equal(pid, 99);
        assert_true(got >= 0);
        assert_true(fcntl(got, F_GETFD) & FD_CLOEXEC);
        /* The received descriptor is the same socket. */
        assert_int_equal(write(got, "x", 1), 1);
        char c;
        assert_int_equal(read(passed[1], &c, 1), 1);
        mail_frame_done(&f);
        close(got);

        /* No descriptor: -1. */
        assert_int_equal(mail_channel_send_packet(fds[0], frame, len, -1), 0);
        assert_int_equal(mail_channel_recv_packet(fds[1], 1000, &f, &got), 1);
        assert_int_equal(got, -1);
        mail_frame_done(&f);
        free(frame);
        close(passed[0]);
        close(passed[1]);
        close(fds[0]);
        close(fds[1]);
}

static void test_packet_refused(void **state)
{
        struct mail_frame f = {0};
        uint8_t *frame, *longer;
        size_t len;
        int fds[2], got = -1;
        (void)state;

        pair(SOCK_SEQPACKET, fds);
        assert_int_equal(mail_proto_encode_spawn(1, &frame, &len), 0);
        /* Leftover bytes after the frame in the same packet. */
        longer = calloc(1, len + 4);
        assert_non_null(longer);
        memcpy(longer, frame, len);
        assert_int_equal(send(fds[0], longer, len + 4, 0), (ssize_t)len + 4);
        assert_int_equal(mail_channel_recv_packet(fds[1], 1000, &f, &got), -EBADMSG);
        /* A truncated frame. */
        assert_int_equal(send(fds[0], frame, len - 1, 0), (ssize_t)len - 1);
        assert_int_equal(mail_channel_recv_packet(fds[1], 1000, &f, &got), -EBADMSG);
        /* Nothing there: the deadline. */
        assert_int_equal(mail_channel_recv_packet(fds[1], 50, &f, &got), -ETIMEDOUT);
        /* The peer hung up. */
        close(fds[0]);
        assert_int_equal(mail_channel_recv_packet(fds[1], 1000, &f, &got), 0);
        close(fds[1]);
        free(longer);
        free(frame);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_read_frame_in_pieces),
                cmocka_unit_test(test_read_end_of_stream),
                cmocka_unit_test(test_read_timeout),
                cmocka_unit_test(test_read_bad_header),
                cmocka_unit_test(test_write_peer_gone),
                cmocka_unit_test(test_packet_with_fd),
                cmocka_unit_test(test_packet_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
