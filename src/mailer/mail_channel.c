/* SPDX-License-Identifier: MIT */
/*
 * Implementation of mailer/mail_channel.h.  Sockets stay in blocking mode;
 * every transfer is MSG_DONTWAIT after poll(), so deadlines hold without
 * changing the descriptor's flags.
 */
#include "mailer/mail_channel.h"

#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/clock.h"

static int64_t now_ms(void)
{
        return (int64_t)(clock_now_usec() / 1000u);
}

static int64_t deadline_after(int timeout_ms)
{
        return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Wait for events on fd until deadline (-1: none).  Returns 0 when ready,
 * -ETIMEDOUT, or a negative errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
        for (;;) {
                struct pollfd p = {.fd = fd, .events = events};
                int timeout = -1, n;

                if (deadline >= 0) {
                        int64_t left = deadline - now_ms();
                        if (left <= 0)
                                return -ETIMEDOUT;
                        timeout = left > INT32_MAX ? INT32_MAX : (int)left;
                }
                n = poll(&p, 1, timeout);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -ETIMEDOUT;
                if (p.revents & POLLNVAL)
                        return -EBADF;
                return 0; /* readable, writable, hung up or failed: the I/O call tells */
        }
}

void mail_frame_done(struct mail_frame *f)
{
        if (!f)
                return;
        if (f->payload) {
                sodium_memzero(f->payload, f->hdr.payload_len);
                free(f->payload);
        }
        *f = (struct mail_frame){0};
}

int mail_channel_write(int fd, const uint8_t *buf, size_t len, int timeout_ms)
{
        int64_t deadline = deadline_after(timeout_ms);

        while (len > 0) {
                ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                return -errno;
                        int r = wait_fd(fd, POLLOUT, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

/*
 * Read exactly len bytes.  The first byte must arrive before deadline;
 * once it has, the rest gets rest_ms more (or keeps deadline when
 * rest_ms < 0).  Returns 1; 0 when the stream ended before the first byte
 * and at_boundary; -ECONNRESET when it ended elsewhere.
 */
static int read_exact(int fd, uint8_t *buf, size_t len, int64_t deadline, int rest_ms,
                      bool at_boundary)
{
        size_t got = 0;

        while (got < len) {
                ssize_t n = recv(fd, buf + got, len - got, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                return -errno;
                        int r = wait_fd(fd, POLLIN, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (n == 0)
                        return got == 0 && at_boundary ? 0 : -ECONNRESET;
                if (got == 0 && rest_ms >= 0)
                        deadline = deadline_after(rest_ms);
                got += (size_t)n;
        }
        return 1;
}

int mail_channel_read(int fd, int idle_timeout_ms, struct mail_frame *ret)
{
        uint8_t head[MAIL_PROTO_HEADER_SIZE];
        _cleanup_free_ uint8_t *payload = NULL;
        struct mail_header h;
        int r;

        r = read_exact(fd, head, sizeof(head), deadline_after(idle_timeout_ms),
                       MAIL_CHANNEL_FRAME_TIMEOUT_MS, true);
        if (r <= 0)
                return r;
        r = mail_proto_decode_header(head, sizeof(head), &h);
        if (r < 0)
                return r;
        payload = malloc((size_t)h.payload_len + 1);
        if (!payload)
                return -ENOMEM;
        r = read_exact(fd, payload, h.payload_len, deadline_after(MAIL_CHANNEL_FRAME_TIMEOUT_MS),
                       -1, false);
        if (r < 0) {
                sodium_memzero(payload, h.payload_len);
                return r;
        }
        payload[h.payload_len] = '\0';
        *ret = (struct mail_frame){.hdr = h, .payload = TAKE_PTR(payload)};
        return 1;
}

int mail_channel_send_packet(int fd, const uint8_t *buf, size_t len, int pass_fd)
{
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int))];
        } control;
        struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        ssize_t n;

        if (pass_fd >= 0) {
                memset(&control, 0, sizeof(control));
                mh.msg_control = control.buf;
                mh.msg_controllen = sizeof(control.buf);
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
        }
        do
                n = sendmsg(fd, &mh, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        return (size_t)n == len ? 0 : -EIO;
}

/* Collect the descriptors of a received message: at most one is accepted,
 * every other one is closed.  Returns the count seen. */
static size_t take_fds(struct msghdr *mh, int *ret_fd)
{
        size_t count = 0;

        *ret_fd = -1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < n; i++) {
                        int fd;
                        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                        if (count++ == 0)
                                *ret_fd = fd;
                        else
                                (void)close(fd);
                }
        }
        return count;
}

int mail_channel_recv_packet(int fd, int timeout_ms, struct mail_frame *ret, int *ret_fd)
{
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * 4)];
        } control;
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_close_ int got_fd = -1;
        struct mail_header h;
        const uint8_t *payload;
        struct iovec iov;
        struct msghdr mh;
        int64_t deadline;
        ssize_t n;
        int r;

        buf = malloc(MAIL_PROTO_FRAME_MAX + 1);
        if (!buf)
                return -ENOMEM;
        deadline = deadline_after(timeout_ms);
        for (;;) {
                iov = (struct iovec){.iov_base = buf, .iov_len = MAIL_PROTO_FRAME_MAX + 1};
                mh = (struct msghdr){.msg_iov = &iov,
                                     .msg_iovlen = 1,
                                     .msg_control = control.buf,
                                     .msg_controllen = sizeof(control.buf)};
                n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
                if (n >= 0)
                        break;
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return -errno;
                r = wait_fd(fd, POLLIN, deadline);
                if (r < 0)
                        return r;
        }
        if (take_fds(&mh, &got_fd) > 1 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
                return -EBADMSG;
        if (n == 0)
                return 0;
        r = mail_proto_decode_frame(buf, (size_t)n, &h, &payload);
        if (r < 0)
                return r;
        uint8_t *copy = malloc((size_t)h.payload_len + 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, payload, h.payload_len);
        copy[h.payload_len] = '\0';
        *ret = (struct mail_frame){.hdr = h, .payload = copy};
        *ret_fd = TAKE_FD(got_fd);
        return 1;
}
