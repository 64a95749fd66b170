/* SPDX-License-Identifier: MIT */
/*
 * Moving mail_proto frames over sockets, with deadlines: length-prefixed
 * frames on a stream socket (daemon <-> helper), one frame per packet with
 * an optional file descriptor on a SOCK_SEQPACKET socket (daemon <->
 * supervisor).  Shared by the daemon and the mailer.  No logging, no
 * interpretation of payloads; errors are negative errno values.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mailer/mail_proto.h"

/* How long the rest of a frame may take once its first byte arrived. */
#define MAIL_CHANNEL_FRAME_TIMEOUT_MS 10000

/* A received frame; payload is NUL-terminated (not counted in the length). */
struct mail_frame {
        struct mail_header hdr;
        uint8_t *payload;
};

/* Wipe and free the payload; f may be zeroed. */
void mail_frame_done(struct mail_frame *f);

/*
 * Write all of buf to a stream socket within timeout_ms (-1: no limit),
 * without SIGPIPE.  Returns 0, -EPIPE/-ECONNRESET when the peer is gone,
 * -ETIMEDOUT, or another negative errno.
 */
int mail_channel_write(int fd, const uint8_t *buf, size_t len, int timeout_ms);

/*
 * Read one frame from a stream socket.  Waits up to idle_timeout_ms (-1: no
 * limit) for its first byte, then up to MAIL_CHANNEL_FRAME_TIMEOUT_MS for
 * the rest.  Returns 1 with *ret filled, 0 at end of stream on a frame
 * boundary, -ECONNRESET when the stream ends inside a frame, -ETIMEDOUT,
 * or a header error of mail_proto_decode_header() (the stream is then out
 * of step and must be closed).
 */
int mail_channel_read(int fd, int idle_timeout_ms, struct mail_frame *ret);

/* Send one whole frame as one packet on a SOCK_SEQPACKET socket, with
 * pass_fd attached when >= 0.  Returns 0 or a negative errno. */
int mail_channel_send_packet(int fd, const uint8_t *buf, size_t len, int pass_fd);

/*
 * Receive one packet holding exactly one frame within timeout_ms (-1: no
 * limit).  At most one descriptor may come with it; it is returned
 * close-on-exec in *ret_fd (-1 when none).  Returns 1, 0 at end of stream,
 * -EBADMSG for a truncated packet, extra bytes or more than one descriptor,
 * -ETIMEDOUT, or a header error.
 */
int mail_channel_recv_packet(int fd, int timeout_ms, struct mail_frame *ret, int *ret_fd);
