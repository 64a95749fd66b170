/* SPDX-License-Identifier: MIT */
/*
 * The e-mails the account flows send (confirmation, password reset) and
 * the administrator's test message, in
 * English and Russian: subject and plain-text body with the server name,
 * the username and the link filled in.  Pure text; sending is the mail
 * client's job and choosing the language the caller's.
 */
#pragma once

/* What the texts promise about link lifetimes; accounts.c checks its
 * token lifetimes against these at compile time. */
#define MAIL_TEXT_CONFIRM_HOURS 48
#define MAIL_TEXT_RESET_HOURS   1

enum mail_text {
        MAIL_TEXT_CONFIRM, /* link: <public_url>/api/v1/auth/confirm?token=… */
        MAIL_TEXT_RESET,   /* link: <public_url>/reset?token=… */
        MAIL_TEXT_TEST,    /* the console's test e-mail; link: the server's address */
};

struct mail_message {
        char *subject; /* one line, UTF-8 */
        char *body;    /* UTF-8, LF line ends */
};

/*
 * Render text t in locale ("en", "ru"; anything else gives English).
 * server_name, username and link are inserted verbatim (the caller has
 * validated them: no CR/LF).  0, or -ENOMEM.
 */
int mail_text_render(enum mail_text t, const char *locale, const char *server_name,
                     const char *username, const char *link, struct mail_message *ret);

/* Free what mail_text_render() filled; m may be zeroed. */
void mail_message_done(struct mail_message *m);
