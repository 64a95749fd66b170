/* SPDX-License-Identifier: MIT */
/*
 * The wire format between the daemon and verstak-sync-mailer: typed,
 * length-prefixed frames carrying a small JSON object.  Pure encoding and
 * decoding of byte buffers; no I/O, no logging (mail_channel.h moves
 * frames over sockets).
 *
 *   0      4        5      6         8            12             16
 *   +------+--------+------+---------+------------+--------------+---------+
 *   | VSM1 | version| type | 0x0000  | request id | payload len  | payload |
 *   +------+--------+------+---------+------------+--------------+---------+
 *   integers in network byte order; payload: one compact JSON object
 *
 * Every decoder is strict: wrong magic, version, reserved bits or type,
 * a payload over MAIL_PROTO_PAYLOAD_MAX, truncated or leftover bytes, NUL
 * bytes, unknown or missing members and over-long strings are all errors.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MAIL_PROTO_MAGIC       "VSM1"
#define MAIL_PROTO_VERSION     1
#define MAIL_PROTO_HEADER_SIZE 16

/* The largest payload either side accepts: an e-mail body of a few pages
 * with room to spare; anything larger is a bug or an attack. */
#define MAIL_PROTO_PAYLOAD_MAX (256u * 1024u)
#define MAIL_PROTO_FRAME_MAX   (MAIL_PROTO_HEADER_SIZE + MAIL_PROTO_PAYLOAD_MAX)

/* Field limits inside payloads, in bytes (UTF-8). */
#define MAIL_PROTO_TO_MAX       254 /* RFC 5321 path limit, as api.md §6 */
#define MAIL_PROTO_SUBJECT_MAX  900 /* encoded, it still fits a few header lines */
#define MAIL_PROTO_ERROR_MAX    512
#define MAIL_PROTO_HOST_MAX     253  /* a DNS name */
#define MAIL_PROTO_LOGIN_MAX    320  /* an SMTP login: often an address */
#define MAIL_PROTO_SECRET_MAX   1024 /* as an SMTP password file */
#define MAIL_PROTO_SECURITY_MAX 32
#define MAIL_PROTO_PATH_MAX     1024

enum mail_msg_type {
        MAIL_MSG_SEND = 1,    /* daemon -> helper: {to, subject, body} */
        MAIL_MSG_RESULT = 2,  /* helper -> daemon: {ok, error?}, id of the request */
        MAIL_MSG_READY = 3,   /* helper -> daemon, first frame of a channel: {pid}, id 0 */
        MAIL_MSG_SPAWN = 4,   /* daemon -> supervisor: {} (start a helper) */
        MAIL_MSG_CHANNEL = 5, /* supervisor -> daemon: {pid}, the channel fd attached */
        /* daemon -> helper, once: the earlier server's SMTP settings
         * {host, port, security, username?, password?, from?}; answered by
         * SMTP_STORED, or by a failed RESULT when the helper refuses them. */
        MAIL_MSG_SMTP_CARRY = 6,
        MAIL_MSG_SMTP_STORED = 7, /* helper -> daemon: {path}, where they are kept */
};

struct mail_header {
        uint8_t type; /* enum mail_msg_type */
        uint32_t id;
        uint32_t payload_len;
};

/* A decoded SEND.  Strings are owned (free with mail_send_done()). */
struct mail_send {
        char *to;
        char *subject;
        char *body;
};

/* A decoded RESULT.  error is owned, NULL when ok. */
struct mail_result {
        bool ok;
        char *error;
};

/* A decoded SMTP_CARRY.  Strings are owned (free with mail_smtp_carry_done(),
 * which wipes the password); the optional ones are NULL when absent.  The
 * decoder checks types and sizes only: the helper judges the values. */
struct mail_smtp_carry {
        char *host;
        unsigned port; /* 1..65535 */
        char *security;
        char *username;
        char *password;
        char *from;
};

/* Name of a message type for diagnostics ("unknown" for others). */
const char *mail_msg_type_to_string(uint8_t type);

/*
 * Encoders.  Each allocates the whole frame (header + payload) into *ret
 * and its size into *ret_len.  Return 0, -EINVAL for a string that is not
 * valid UTF-8 or over its limit, -EMSGSIZE when the payload would exceed
 * MAIL_PROTO_PAYLOAD_MAX, -ENOMEM.  They do not check addresses: the
 * helper does that itself.
 */
int mail_proto_encode_send(uint32_t id, const char *to, const char *subject, const char *body,
                           uint8_t **ret, size_t *ret_len);
int mail_proto_encode_result(uint32_t id, bool ok, const char *error, uint8_t **ret,
                             size_t *ret_len);
int mail_proto_encode_ready(pid_t pid, uint8_t **ret, size_t *ret_len);
int mail_proto_encode_spawn(uint32_t id, uint8_t **ret, size_t *ret_len);
int mail_proto_encode_channel(uint32_t id, pid_t pid, uint8_t **ret, size_t *ret_len);
/* The frame holds the password: wipe it (sodium_memzero) before freeing. */
int mail_proto_encode_smtp_carry(uint32_t id, const struct mail_smtp_carry *s, uint8_t **ret,
                                 size_t *ret_len);
int mail_proto_encode_smtp_stored(uint32_t id, const char *path, uint8_t **ret, size_t *ret_len);

/*
 * Decode the fixed header in buf (at least MAIL_PROTO_HEADER_SIZE bytes).
 * Returns 0, -EBADMSG for a wrong magic or non-zero reserved bits,
 * -EPROTONOSUPPORT for another version, -EPROTO for an unknown type,
 * -EMSGSIZE for a payload length over the cap.
 */
int mail_proto_decode_header(const uint8_t *buf, size_t len, struct mail_header *ret);

/*
 * Decode one complete frame that must fill buf exactly: the header as
 * above, then -EBADMSG when buf is shorter (truncated) or longer (leftover
 * bytes) than header + payload.  *ret_payload points into buf.
 */
int mail_proto_decode_frame(const uint8_t *buf, size_t len, struct mail_header *ret,
                            const uint8_t **ret_payload);

/*
 * Payload decoders (the payload alone, exactly len bytes).  Return 0, or
 * -EBADMSG for anything but the one expected JSON object, -ENOMEM.  The
 * outputs are written only on success.
 */
int mail_proto_decode_send(const uint8_t *payload, size_t len, struct mail_send *ret);
int mail_proto_decode_result(const uint8_t *payload, size_t len, struct mail_result *ret);
int mail_proto_decode_pid(const uint8_t *payload, size_t len, pid_t *ret); /* READY, CHANNEL */
int mail_proto_decode_empty(const uint8_t *payload, size_t len);           /* SPAWN */
int mail_proto_decode_smtp_carry(const uint8_t *payload, size_t len, struct mail_smtp_carry *ret);
/* SMTP_STORED: the path, malloc'd into *ret. */
int mail_proto_decode_smtp_stored(const uint8_t *payload, size_t len, char **ret);

void mail_send_done(struct mail_send *s);
void mail_result_done(struct mail_result *r);
void mail_smtp_carry_done(struct mail_smtp_carry *s);
