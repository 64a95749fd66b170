/* SPDX-License-Identifier: MIT */
/*
 * Building an RFC 5322 message from {from, to, subject, body}: address
 * checks (again, whatever the daemon already checked), RFC 2047 subjects,
 * Date and Message-ID, MIME headers, CRLF line endings.  Pure functions
 * apart from the random Message-ID; no I/O, no logging.
 */
#pragma once

#include <stddef.h>
#include <time.h>

/* RFC 5321 §4.5.3.1: a path is at most 256 octets with the brackets. */
#define MAIL_ADDRESS_MAX 254
#define MAIL_LOCAL_MAX   64
#define MAIL_LABEL_MAX   63

/* RFC 5322 §2.1.1: a line is at most 998 octets (MUST), 78 (SHOULD). */
#define MAIL_LINE_MAX    998
#define MAIL_HEADER_FOLD 78

/*
 * Whether addr is a plain addr-spec we are willing to send to: a dot-atom
 * local part of at most 64 bytes, '@', a host name of dot-separated LDH
 * labels; at most MAIL_ADDRESS_MAX bytes; ASCII only, so no CR, LF or other
 * control characters.  No display names, quotes, comments or IP literals.
 * Returns 0 or -EINVAL.
 */
int mail_address_check(const char *addr);

/* The domain part of a checked address (pointer into addr). */
const char *mail_address_domain(const char *addr);

/* Format t as an RFC 5322 date in UTC: "Thu, 01 Jan 1970 00:00:00 +0000". */
#define MAIL_DATE_SIZE 40
void mail_date_format(time_t t, char out[MAIL_DATE_SIZE]);

struct mail_message_fields {
        const char *from;    /* envelope and header sender, an addr-spec */
        const char *to;      /* the one recipient, an addr-spec */
        const char *subject; /* UTF-8, no control characters except TAB */
        const char *body;    /* UTF-8 text; any line ending, emitted as CRLF */
        time_t date;
};

/*
 * Build the whole message into *ret (NUL-terminated, *ret_len bytes
 * without the NUL).  Headers: Date, From, To, Subject, Message-ID,
 * MIME-Version, Content-Type (text/plain; charset=UTF-8),
 * Content-Transfer-Encoding, Auto-Submitted.  The body goes out as 7bit
 * or 8bit text when every line fits MAIL_LINE_MAX, otherwise as
 * quoted-printable.  Returns 0, -EINVAL with a reason in err (which never
 * quotes the input) for an invalid address, subject or body, -ENOMEM.
 */
int mail_message_build(const struct mail_message_fields *f, char **ret, size_t *ret_len, char *err,
                       size_t err_size);

/* Wipe and free a message from mail_message_build(); NULL is fine. */
void mail_message_free(char *msg, size_t len);
