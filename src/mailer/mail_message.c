/* SPDX-License-Identifier: MIT */
/*
 * Implementation of mailer/mail_message.h.  The message is assembled in a
 * growing buffer that wipes what it discards (bodies carry confirmation
 * and reset links).  Everything that reaches a header is checked first:
 * the helper refuses header injection even when the daemon let it through.
 */
#include "mailer/mail_message.h"

#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailer/mail_proto.h"
#include "util/cleanup.h"
#include "util/text.h"

/* RFC 2047 §2: an encoded-word is at most 75 characters.  39 bytes of
 * UTF-8 give 52 base64 characters, a 64-character word, so that
 * "Subject: " plus one word stays within MAIL_HEADER_FOLD. */
#define SUBJECT_WORD_BYTES 39

/* RFC 2045 §6.7: encoded lines are at most 76 characters; one is kept for
 * the "=" of a soft line break. */
#define QP_LINE_MAX 75

/* --- a buffer that wipes what it drops ------------------------------------ */

struct buf {
        char *data;
        size_t len, cap;
        bool failed;
};

static void buf_wipe(struct buf *b)
{
        if (b->data) {
                sodium_memzero(b->data, b->cap);
                free(b->data);
        }
        *b = (struct buf){0};
}

static void buf_add(struct buf *b, const char *s, size_t n)
{
        if (b->failed)
                return;
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 1024;
                char *p;

                while (cap < b->len + n + 1)
                        cap *= 2;
                p = malloc(cap);
                if (!p) {
                        b->failed = true;
                        return;
                }
                if (b->data) {
                        memcpy(p, b->data, b->len);
                        sodium_memzero(b->data, b->cap);
                        free(b->data);
                }
                b->data = p;
                b->cap = cap;
        }
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = '\0';
}

static void buf_puts(struct buf *b, const char *s)
{
        buf_add(b, s, strlen(s));
}

static void buf_header(struct buf *b, const char *name, const char *value)
{
        buf_puts(b, name);
        buf_puts(b, ": ");
        buf_puts(b, value);
        buf_puts(b, "\r\n");
}

/* --- checks ----------------------------------------------------------- */

static int fail(char *err, size_t err_size, const char *reason)
{
        if (err && err_size)
                snprintf(err, err_size, "%s", reason);
        return -EINVAL;
}

/* Length of the UTF-8 sequence at s (at most left bytes), or 0 when it is
 * not valid: no overlong forms, surrogates or code points past U+10FFFF. */
static size_t utf8_char_len(const unsigned char *s, size_t left)
{
        uint32_t cp;
        size_t n;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2, cp = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                n = 3, cp = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4, cp = s[0] & 0x07;
        else
                return 0;
        if (n > left)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return n;
}

static bool utf8_valid(const char *s)
{
        size_t left = strlen(s);

        while (left > 0) {
                size_t n = utf8_char_len((const unsigned char *)s, left);
                if (n == 0)
                        return false;
                s += n;
                left -= n;
        }
        return true;
}

/* Whether s holds an ASCII control character other than those allowed. */
static bool has_control(const char *s, const char *allowed)
{
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if ((c < 0x20 || c == 0x7f) && !strchr(allowed, c))
                        return true;
        }
        return false;
}

static bool is_atext(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static bool is_ldh(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-';
}

/* A dot-atom of at most max bytes, made of atoms accepted by is_char,
 * ending at the first character that is neither. */
static size_t dot_atom_span(const char *s, bool (*is_char)(char))
{
        size_t i = 0;

        for (;;) {
                size_t start = i;
                while (is_char(s[i]))
                        i++;
                if (i == start)
                        return 0; /* empty atom: leading, trailing or double dot */
                if (s[i] != '.')
                        return i;
                i++;
        }
}

int mail_address_check(const char *addr)
{
        const char *at, *domain;
        size_t local_len, domain_len;

        if (!addr || strlen(addr) > MAIL_ADDRESS_MAX)
                return -EINVAL;
        at = strchr(addr, '@');
        if (!at)
                return -EINVAL;
        local_len = (size_t)(at - addr);
        if (local_len == 0 || local_len > MAIL_LOCAL_MAX ||
            dot_atom_span(addr, is_atext) != local_len)
                return -EINVAL;
        domain = at + 1;
        domain_len = strlen(domain);
        if (domain_len == 0 || dot_atom_span(domain, is_ldh) != domain_len)
                return -EINVAL;
        /* Each label: 1-63 characters, no hyphen at either end. */
        for (const char *label = domain; *label;) {
                size_t n = strcspn(label, ".");
                if (n > MAIL_LABEL_MAX || label[0] == '-' || label[n - 1] == '-')
                        return -EINVAL;
                label += n;
                if (*label == '.')
                        label++;
        }
        return 0;
}

const char *mail_address_domain(const char *addr)
{
        const char *at = strrchr(addr, '@');
        return at ? at + 1 : addr;
}

void mail_date_format(time_t t, char out[MAIL_DATE_SIZE])
{
        static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
        static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        char rest[24];
        struct tm tm;

        if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 1900) {
                t = 0;
                (void)gmtime_r(&t, &tm);
        }
        /* Only the names depend on the locale: they come from the tables. */
        if (strftime(rest, sizeof(rest), "%Y %H:%M:%S +0000", &tm) == 0)
                rest[0] = '\0';
        snprintf(out, MAIL_DATE_SIZE, "%s, %02u %s %s", days[tm.tm_wday],
                 (unsigned)tm.tm_mday % 100u, months[tm.tm_mon], rest);
}

/* --- Subject ------------------------------------------------------------ */

/*
 * Whether the subject can go out as it is, folded at its spaces: printable
 * ASCII, single spaces between words, none at either end, no word too long
 * for a folded line, and nothing a reader would take for an encoded-word.
 */
static bool subject_is_plain(const char *s)
{
        size_t len = strlen(s), word = 0;

        if (len == 0)
                return true;
        if (s[0] == ' ' || s[len - 1] == ' ' || strstr(s, "=?") || strstr(s, "  "))
                return false;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c < 0x20 || c > 0x7e)
                        return false;
                word = c == ' ' ? 0 : word + 1;
                if (word > MAIL_HEADER_FOLD - 2)
                        return false;
        }
        return true;
}

static void subject_add_plain(struct buf *b, const char *s)
{
        size_t line = strlen("Subject:");

        buf_puts(b, "Subject:");
        while (*s) {
                size_t n = strcspn(s, " ");
                if (line > strlen("Subject:") && line + 1 + n > MAIL_HEADER_FOLD) {
                        buf_puts(b, "\r\n");
                        line = 0;
                }
                buf_puts(b, " ");
                buf_add(b, s, n);
                line += 1 + n;
                s += n;
                if (*s == ' ')
                        s++;
        }
        buf_puts(b, "\r\n");
}

/* RFC 2047 B-encoding in words of whole UTF-8 characters, one per line. */
static void subject_add_encoded(struct buf *b, const char *s)
{
        size_t left = strlen(s);
        bool first = true;

        buf_puts(b, "Subject:");
        while (left > 0) {
                char b64[sodium_base64_ENCODED_LEN(SUBJECT_WORD_BYTES,
                                                   sodium_base64_VARIANT_ORIGINAL)];
                size_t n = 0;

                while (n < left) {
                        size_t c = utf8_char_len((const unsigned char *)s + n, left - n);
                        if (c == 0 || n + c > SUBJECT_WORD_BYTES)
                                break;
                        n += c;
                }
                sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)s, n,
                                  sodium_base64_VARIANT_ORIGINAL);
                buf_puts(b, first ? " =?UTF-8?B?" : "\r\n =?UTF-8?B?");
                buf_puts(b, b64);
                buf_puts(b, "?=");
                first = false;
                s += n;
                left -= n;
        }
        buf_puts(b, "\r\n");
}

/* --- body --------------------------------------------------------------- */

/* The length of the line at s, up to (not including) CR, LF or NUL. */
static size_t line_len(const char *s)
{
        return strcspn(s, "\r\n");
}

/* Skip one line break (CRLF, CR or LF) at s; returns the next line. */
static const char *skip_break(const char *s)
{
        if (s[0] == '\r' && s[1] == '\n')
                return s + 2;
        return *s ? s + 1 : s;
}

static void body_add_text(struct buf *b, const char *s)
{
        while (*s) {
                size_t n = line_len(s);
                buf_add(b, s, n);
                buf_puts(b, "\r\n");
                s = skip_break(s + n);
        }
}

static void body_add_qp(struct buf *b, const char *s)
{
        static const char hex[] = "0123456789ABCDEF";

        while (*s) {
                size_t n = line_len(s), col = 0;

                for (size_t i = 0; i < n; i++) {
                        unsigned char c = (unsigned char)s[i];
                        bool last = i + 1 == n;
                        char tok[4];
                        size_t tlen;

                        if ((c >= 33 && c <= 126 && c != '=') ||
                            ((c == ' ' || c == '\t') && !last)) {
                                tok[0] = (char)c;
                                tlen = 1;
                        } else {
                                tok[0] = '=';
                                tok[1] = hex[c >> 4];
                                tok[2] = hex[c & 0x0f];
                                tlen = 3;
                        }
                        if (col + tlen > QP_LINE_MAX) {
                                buf_puts(b, "=\r\n");
                                col = 0;
                        }
                        buf_add(b, tok, tlen);
                        col += tlen;
                }
                buf_puts(b, "\r\n");
                s = skip_break(s + n);
        }
}

/* The transfer encoding a body needs: 7bit or 8bit while every line fits
 * RFC 5322's limit, quoted-printable otherwise. */
static const char *body_encoding(const char *s)
{
        bool eight = false;

        for (const char *p = s; *p;) {
                size_t n = line_len(p);
                if (n > MAIL_LINE_MAX)
                        return "quoted-printable";
                for (size_t i = 0; i < n; i++)
                        if ((unsigned char)p[i] >= 0x80)
                                eight = true;
                p = skip_break(p + n);
        }
        return eight ? "8bit" : "7bit";
}

/* --- the message ------------------------------------------------------------ */

static int fields_check(const struct mail_message_fields *f, char *err, size_t err_size)
{
        if (!f->from || mail_address_check(f->from) < 0)
                return fail(err, err_size, "invalid sender address");
        if (!f->to || mail_address_check(f->to) < 0)
                return fail(err, err_size, "invalid recipient address");
        if (!f->subject || strlen(f->subject) > MAIL_PROTO_SUBJECT_MAX)
                return fail(err, err_size, "subject missing or too long");
        if (has_control(f->subject, "\t"))
                return fail(err, err_size, "subject contains a line break or control character");
        if (!utf8_valid(f->subject))
                return fail(err, err_size, "subject is not valid UTF-8");
        if (!f->body || strlen(f->body) > MAIL_PROTO_PAYLOAD_MAX)
                return fail(err, err_size, "body missing or too long");
        if (has_control(f->body, "\t\r\n"))
                return fail(err, err_size, "body contains control characters");
        if (!utf8_valid(f->body))
                return fail(err, err_size, "body is not valid UTF-8");
        return 0;
}

int mail_message_build(const struct mail_message_fields *f, char **ret, size_t *ret_len, char *err,
                       size_t err_size)
{
        struct buf b = {0};
        char date[MAIL_DATE_SIZE], id_hex[33], mid[MAIL_ADDRESS_MAX + 40];
        uint8_t rnd[16];
        const char *encoding;
        int r;

        r = fields_check(f, err, err_size);
        if (r < 0)
                return r;

        mail_date_format(f->date, date);
        randombytes_buf(rnd, sizeof(rnd));
        hex_encode(rnd, sizeof(rnd), id_hex);
        snprintf(mid, sizeof(mid), "<%s@%s>", id_hex, mail_address_domain(f->from));
        encoding = body_encoding(f->body);

        buf_header(&b, "Date", date);
        buf_header(&b, "From", f->from);
        buf_header(&b, "To", f->to);
        if (subject_is_plain(f->subject))
                subject_add_plain(&b, f->subject);
        else
                subject_add_encoded(&b, f->subject);
        buf_header(&b, "Message-ID", mid);
        buf_header(&b, "MIME-Version", "1.0");
        buf_header(&b, "Content-Type", "text/plain; charset=UTF-8");
        buf_header(&b, "Content-Transfer-Encoding", encoding);
        buf_header(&b, "Auto-Submitted", "auto-generated"); /* RFC 3834: no auto-replies */
        buf_puts(&b, "\r\n");
        if (strcmp(encoding, "quoted-printable") == 0)
                body_add_qp(&b, f->body);
        else
                body_add_text(&b, f->body);

        if (b.failed || !b.data) {
                buf_wipe(&b);
                return -ENOMEM;
        }
        *ret = b.data;
        *ret_len = b.len;
        return 0;
}

void mail_message_free(char *msg, size_t len)
{
        if (!msg)
                return;
        sodium_memzero(msg, len);
        free(msg);
}
