/* SPDX-License-Identifier: MIT */
/*
 * The mailer's dispatcher: one channel at a time, READY first, then SEND
 * requests answered by RESULT frames with the same id, and the earlier
 * server's SMTP settings (SMTP_CARRY), answered by SMTP_STORED or, when
 * refused, a failed RESULT.  Any other frame type, or a frame that does
 * not decode, ends the connection.  Delivery
 * goes to the outbox or to SMTP.  Logs each delivery once, naming only the
 * recipient's domain; never a body or a password.
 */
#pragma once

#include "mailer/mail_proto.h"
#include "mailer/smtp.h"

/* Take the earlier server's SMTP settings s: keep them, use them from now
 * on, and write where they are kept into path.  Returns 0, or a negative
 * errno with the reason for the daemon in err (never a secret). */
typedef int (*mailer_carry_fn)(void *userdata, const struct mail_smtp_carry *s, char *path,
                               size_t path_size, char *err, size_t err_size);

struct mailer_context {
        const char *from;
        int outbox_fd;                  /* >= 0: write .eml files here */
        const struct smtp_target *smtp; /* used when outbox_fd < 0 */
        mailer_carry_fn carry;          /* NULL: SMTP_CARRY is refused */
        void *carry_userdata;
};

/*
 * Build the message for {to, subject, body} and deliver it.  Returns 0, or
 * a negative errno with a reason for the daemon in err (no secrets, no
 * recipient).  Logs the outcome.
 */
int mailer_deliver(const struct mailer_context *m, const char *to, const char *subject,
                   const char *body, char *err, size_t err_size);

/*
 * Serve the connected stream socket fd until the peer closes it.  Returns
 * 0 at a clean end of stream, a negative errno when the connection was
 * dropped for a protocol or I/O error (already logged).
 */
int mailer_serve_channel(const struct mailer_context *m, int fd);

/* Accept connections on the listening socket fd and serve them one after
 * another.  Returns only on a fatal accept() error (logged). */
int mailer_serve_listener(const struct mailer_context *m, int fd);
