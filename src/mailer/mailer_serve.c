/* SPDX-License-Identifier: MIT */
/* Implementation of mailer/mailer_serve.h. */
#include "mailer/mailer_serve.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mailer/mail_channel.h"
#include "mailer/mail_message.h"
#include "mailer/mail_proto.h"
#include "mailer/outbox.h"
#include "util/cleanup.h"
#include "util/log.h"

/* How long a RESULT may take to leave before the connection is dropped. */
#define MAILER_REPLY_TIMEOUT_MS 10000

static void log_delivery(const char *to, const char *transport, int r, const char *reason)
{
        const char *domain = mail_address_check(to) == 0 ? mail_address_domain(to) : "(invalid)";

        if (r >= 0) {
                struct log_field f[] = {{"EVENT", "mail_sent"},
                                        {"MAIL_DOMAIN", domain},
                                        {"MAIL_TRANSPORT", transport}};
                log_struct(LOG_INFO, f, "Mail for a recipient at %s handed over (%s)", domain,
                           transport);
                return;
        }
        struct log_field f[] = {{"MESSAGE_ID", LOG_MID_MAIL_FAILED},
                                {"EVENT", "mail_failed"},
                                {"MAIL_DOMAIN", domain},
                                {"MAIL_TRANSPORT", transport}};
        log_emit(LOG_WARNING, r, f, ELEMENTSOF(f), "Mail for a recipient at %s not sent: %s",
                 domain, reason);
}

int mailer_deliver(const struct mailer_context *m, const char *to, const char *subject,
                   const char *body, char *err, size_t err_size)
{
        const struct mail_message_fields fields = {
                .from = m->from, .to = to, .subject = subject, .body = body, .date = time(NULL)};
        const char *transport = m->outbox_fd >= 0 ? "outbox" : "smtp";
        char *msg = NULL;
        size_t len = 0;
        int r;

        r = mail_message_build(&fields, &msg, &len, err, err_size);
        if (r == -ENOMEM)
                snprintf(err, err_size, "out of memory");
        if (r < 0) {
                log_delivery(to, transport, r, err);
                return r;
        }
        if (m->outbox_fd >= 0) {
                r = outbox_write(m->outbox_fd, msg, len, NULL);
                if (r < 0)
                        snprintf(err, err_size, "cannot write to the outbox: %s", strerror(-r));
        } else
                r = smtp_deliver(m->smtp, m->from, to, msg, len, err, err_size);
        mail_message_free(msg, len);
        log_delivery(to, transport, r, err);
        return r;
}

static int reply(int fd, uint32_t id, bool ok, const char *error)
{
        _cleanup_free_ uint8_t *frame = NULL;
        size_t len;
        int r;

        r = mail_proto_encode_result(id, ok, error, &frame, &len);
        if (r < 0)
                return r;
        return mail_channel_write(fd, frame, len, MAILER_REPLY_TIMEOUT_MS);
}

static int send_ready(int fd)
{
        _cleanup_free_ uint8_t *frame = NULL;
        size_t len;
        int r;

        r = mail_proto_encode_ready(getpid(), &frame, &len);
        if (r < 0)
                return r;
        return mail_channel_write(fd, frame, len, MAILER_REPLY_TIMEOUT_MS);
}

/* Answer one SEND.  Returns 0 to go on, negative to drop the connection. */
static int handle_send(const struct mailer_context *m, int fd, const struct mail_frame *f)
{
        struct mail_send s;
        char err[MAIL_PROTO_ERROR_MAX] = "";
        int r;

        r = mail_proto_decode_send(f->payload, f->hdr.payload_len, &s);
        if (r < 0) {
                /* Answer, so the daemon does not retry it, then hang up. */
                (void)reply(fd, f->hdr.id, false, "malformed request");
                return log_error_errno(r, "Malformed SEND request, closing the channel");
        }
        r = mailer_deliver(m, s.to, s.subject, s.body, err, sizeof(err));
        mail_send_done(&s);
        r = reply(fd, f->hdr.id, r >= 0, err);
        if (r < 0)
                return log_error_errno(r, "Cannot answer on the channel: %m");
        return 0;
}

static int send_stored(int fd, uint32_t id, const char *path)
{
        _cleanup_free_ uint8_t *frame = NULL;
        size_t len;
        int r;

        r = mail_proto_encode_smtp_stored(id, path, &frame, &len);
        if (r < 0)
                return r;
        return mail_channel_write(fd, frame, len, MAILER_REPLY_TIMEOUT_MS);
}

/* Answer one SMTP_CARRY: decoded strictly, then judged by m->carry.  A
 * refusal keeps the channel; a malformed request ends it. */
static int handle_carry(const struct mailer_context *m, int fd, const struct mail_frame *f)
{
        struct mail_smtp_carry s;
        char err[MAIL_PROTO_ERROR_MAX] = "", path[MAIL_PROTO_PATH_MAX + 1] = "";
        int r;

        r = mail_proto_decode_smtp_carry(f->payload, f->hdr.payload_len, &s);
        if (r < 0) {
                (void)reply(fd, f->hdr.id, false, "malformed request");
                return log_error_errno(r, "Malformed SMTP_CARRY request, closing the channel");
        }
        if (m->carry)
                r = m->carry(m->carry_userdata, &s, path, sizeof(path), err, sizeof(err));
        else {
                snprintf(err, sizeof(err), "this mail helper takes no SMTP settings");
                r = -EOPNOTSUPP;
        }
        mail_smtp_carry_done(&s);
        if (r < 0) {
                struct log_field lf[] = {{"EVENT", "smtp_carry_refused"}};
                log_struct(LOG_WARNING, lf, "Refused the earlier server's SMTP settings: %s", err);
                r = reply(fd, f->hdr.id, false, err);
        } else
                r = send_stored(fd, f->hdr.id, path);
        if (r < 0)
                return log_error_errno(r, "Cannot answer on the channel: %m");
        return 0;
}

int mailer_serve_channel(const struct mailer_context *m, int fd)
{
        int r;

        r = send_ready(fd);
        if (r < 0)
                return log_error_errno(r, "Cannot greet on the channel: %m");
        for (;;) {
                struct mail_frame f = {0};

                r = mail_channel_read(fd, -1, &f);
                if (r == 0)
                        return 0;
                if (r < 0)
                        return log_error_errno(r, "Dropping the channel: %m");
                if (f.hdr.type != MAIL_MSG_SEND && f.hdr.type != MAIL_MSG_SMTP_CARRY) {
                        log_error("Unexpected %s frame on the channel, closing it",
                                  mail_msg_type_to_string(f.hdr.type));
                        mail_frame_done(&f);
                        return -EPROTO;
                }
                if (f.hdr.type == MAIL_MSG_SEND)
                        r = handle_send(m, fd, &f);
                else
                        r = handle_carry(m, fd, &f);
                mail_frame_done(&f);
                if (r < 0)
                        return r;
        }
}

int mailer_serve_listener(const struct mailer_context *m, int fd)
{
        for (;;) {
                _cleanup_close_ int conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

                if (conn < 0) {
                        if (errno == EAGAIN) {
                                /* A non-blocking listener: wait for the next peer. */
                                struct pollfd p = {.fd = fd, .events = POLLIN};
                                (void)poll(&p, 1, -1);
                                continue;
                        }
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        return log_error_errno(errno, "Cannot accept connections: %m");
                }
                (void)mailer_serve_channel(m, conn);
        }
}
