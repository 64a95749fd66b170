/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for mailer/mail_proto.h: the input as one frame off the
 * channel, decoded by the decoder its type selects, and as a bare payload
 * for every payload decoder.  A decoded SEND, RESULT, SMTP_CARRY or
 * SMTP_STORED is encoded again and must decode to the same values.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "fuzz_common.h"
#include "mailer/mail_proto.h"

static int str_eq(const char *a, const char *b)
{
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The payload of a frame an encoder just wrote: it must decode as one
 * whole frame of the given type and id. */
static void reencoded_payload(const uint8_t *frame, size_t frame_len, uint8_t type, uint32_t id,
                              const uint8_t **ret_payload, size_t *ret_len)
{
        struct mail_header h;

        if (mail_proto_decode_frame(frame, frame_len, &h, ret_payload) < 0 || h.type != type ||
            h.id != id)
                abort();
        *ret_len = h.payload_len;
}

static void check_send(uint32_t id, const uint8_t *payload, size_t len)
{
        struct mail_send s, again;
        const uint8_t *p;
        uint8_t *frame = NULL;
        size_t frame_len = 0, p_len;

        if (mail_proto_decode_send(payload, len, &s) < 0)
                return;
        if (mail_proto_encode_send(id, s.to, s.subject, s.body, &frame, &frame_len) == 0) {
                reencoded_payload(frame, frame_len, MAIL_MSG_SEND, id, &p, &p_len);
                if (mail_proto_decode_send(p, p_len, &again) < 0)
                        abort();
                if (!str_eq(s.to, again.to) || !str_eq(s.subject, again.subject) ||
                    !str_eq(s.body, again.body))
                        abort();
                mail_send_done(&again);
                free(frame);
        }
        mail_send_done(&s);
}

static void check_result(uint32_t id, const uint8_t *payload, size_t len)
{
        struct mail_result res, again;
        const uint8_t *p;
        uint8_t *frame = NULL;
        size_t frame_len = 0, p_len;

        if (mail_proto_decode_result(payload, len, &res) < 0)
                return;
        if (res.ok == (res.error != NULL))
                abort();
        if (mail_proto_encode_result(id, res.ok, res.error, &frame, &frame_len) == 0) {
                reencoded_payload(frame, frame_len, MAIL_MSG_RESULT, id, &p, &p_len);
                if (mail_proto_decode_result(p, p_len, &again) < 0)
                        abort();
                if (again.ok != res.ok || !str_eq(again.error, res.error))
                        abort();
                mail_result_done(&again);
                free(frame);
        }
        mail_result_done(&res);
}

static void check_smtp_carry(uint32_t id, const uint8_t *payload, size_t len)
{
        struct mail_smtp_carry c, again;
        const uint8_t *p;
        uint8_t *frame = NULL;
        size_t frame_len = 0, p_len;

        if (mail_proto_decode_smtp_carry(payload, len, &c) < 0)
                return;
        if (!c.host || c.port < 1 || c.port > 65535)
                abort();
        if (mail_proto_encode_smtp_carry(id, &c, &frame, &frame_len) == 0) {
                reencoded_payload(frame, frame_len, MAIL_MSG_SMTP_CARRY, id, &p, &p_len);
                if (mail_proto_decode_smtp_carry(p, p_len, &again) < 0)
                        abort();
                if (!str_eq(c.host, again.host) || c.port != again.port ||
                    !str_eq(c.security, again.security) || !str_eq(c.username, again.username) ||
                    !str_eq(c.password, again.password) || !str_eq(c.from, again.from))
                        abort();
                mail_smtp_carry_done(&again);
                free(frame);
        }
        mail_smtp_carry_done(&c);
}

static void check_smtp_stored(uint32_t id, const uint8_t *payload, size_t len)
{
        char *path = NULL, *again = NULL;
        const uint8_t *p;
        uint8_t *frame = NULL;
        size_t frame_len = 0, p_len;

        if (mail_proto_decode_smtp_stored(payload, len, &path) < 0)
                return;
        if (!path)
                abort();
        if (mail_proto_encode_smtp_stored(id, path, &frame, &frame_len) == 0) {
                reencoded_payload(frame, frame_len, MAIL_MSG_SMTP_STORED, id, &p, &p_len);
                if (mail_proto_decode_smtp_stored(p, p_len, &again) < 0 || !str_eq(path, again))
                        abort();
                free(again);
                free(frame);
        }
        free(path);
}

static void check_pid(const uint8_t *payload, size_t len)
{
        pid_t pid;

        if (mail_proto_decode_pid(payload, len, &pid) == 0 && pid <= 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct mail_header h;
        const uint8_t *payload;
        uint8_t *copy;

        /* An exact-size copy: the decoders must not read past the frame. */
        copy = malloc(size ? size : 1);
        if (!copy)
                abort();
        if (size)
                memcpy(copy, data, size);

        if (mail_proto_decode_header(copy, size, &h) == 0 &&
            (h.payload_len > MAIL_PROTO_PAYLOAD_MAX ||
             (const char *)mail_msg_type_to_string(h.type) == NULL))
                abort();

        if (mail_proto_decode_frame(copy, size, &h, &payload) == 0) {
                if (payload + h.payload_len != copy + size)
                        abort();
                switch (h.type) {
                case MAIL_MSG_SEND:
                        check_send(h.id, payload, h.payload_len);
                        break;
                case MAIL_MSG_RESULT:
                        check_result(h.id, payload, h.payload_len);
                        break;
                case MAIL_MSG_READY:
                case MAIL_MSG_CHANNEL:
                        check_pid(payload, h.payload_len);
                        break;
                case MAIL_MSG_SPAWN:
                        (void)mail_proto_decode_empty(payload, h.payload_len);
                        break;
                case MAIL_MSG_SMTP_CARRY:
                        check_smtp_carry(h.id, payload, h.payload_len);
                        break;
                case MAIL_MSG_SMTP_STORED:
                        check_smtp_stored(h.id, payload, h.payload_len);
                        break;
                default:
                        abort(); /* decode_frame refuses unknown types */
                }
        } else {
                /* Not a frame: try the bytes as a bare payload. */
                check_send(7, copy, size);
                check_result(7, copy, size);
                check_pid(copy, size);
                check_smtp_carry(7, copy, size);
                check_smtp_stored(7, copy, size);
                (void)mail_proto_decode_empty(copy, size);
        }
        free(copy);
        return 0;
}
