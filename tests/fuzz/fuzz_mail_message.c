/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for mailer/mail_message.h: the input, split at its first
 * three NUL bytes, is {from, to, subject, body}; missing fields take
 * valid defaults.  A built message must be CRLF-only lines within the
 * RFC 5322 limit, and an accepted address must pass mail_address_check().
 */
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "mailer/mail_message.h"

static void check_message(const char *msg, size_t len)
{
        size_t line = 0;

        if (strlen(msg) != len)
                abort();
        for (size_t i = 0; i < len; i++) {
                if (msg[i] == '\r') {
                        if (i + 1 >= len || msg[i + 1] != '\n')
                                abort();
                        i++;
                        line = 0;
                        continue;
                }
                if (msg[i] == '\n' || ++line > MAIL_LINE_MAX)
                        abort();
        }
        if (len < 2 || msg[len - 2] != '\r' || msg[len - 1] != '\n')
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *defaults[4] = {"noreply@example.org", "user@example.com", "Confirm", "Hello\n"};
        const char *field[4];
        char *text = fuzz_strndup(data, size), *p = text, *msg = NULL;
        const char *end = text + size;
        size_t msg_len = 0;
        char err[128];
        int r;

        if (sodium_init() < 0)
                abort();
        /* Fields end at NUL bytes; the first one without a NUL takes the
         * rest of the input, the ones after it their defaults. */
        for (size_t i = 0; i < 4; i++)
                field[i] = defaults[i];
        for (size_t i = 0; i < 4; i++) {
                char *nul = memchr(p, '\0', (size_t)(end - p));
                field[i] = p;
                if (!nul)
                        break;
                p = nul + 1;
        }

        (void)mail_address_check(field[1]);
        struct mail_message_fields f = {.from = field[0],
                                        .to = field[1],
                                        .subject = field[2],
                                        .body = field[3],
                                        .date = (time_t)(size * 86400)};
        r = mail_message_build(&f, &msg, &msg_len, err, sizeof(err));
        if (r == 0) {
                if (mail_address_check(f.from) < 0 || mail_address_check(f.to) < 0)
                        abort();
                check_message(msg, msg_len);
                mail_message_free(msg, msg_len);
        } else if (r != -EINVAL && r != -ENOMEM)
                abort();
        free(text);
        return 0;
}
