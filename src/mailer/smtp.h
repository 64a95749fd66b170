/* SPDX-License-Identifier: MIT */
/*
 * Delivery of one finished message to an SMTP server through libcurl:
 * plain, opportunistic or required STARTTLS, implicit TLS; AUTH when a
 * user name is set.  No logging here (the caller logs once, without the
 * recipient's local part) and no message building.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct smtp_target {
        const char *host;
        uint16_t port;
        enum smtp_security security;
        const char *username; /* NULL: no AUTH */
        const char *password; /* with username; never copied by this module */
        unsigned timeout_seconds;
};

/*
 * Whether host can go into an smtp:// URL as it is: a DNS name or IPv4
 * address (letters, digits, '-', '.') or an IPv6 address (hex digits and
 * ':', without brackets).  Returns 0 or -EINVAL.
 */
int smtp_host_check(const char *host);

/*
 * Call once per process before any delivery (and before the system call
 * filter is installed: it loads TLS configuration).  Returns 0 or -EIO.
 */
int smtp_global_init(void);
void smtp_global_done(void);

/*
 * Deliver msg (len bytes, CRLF lines) from from to to.  Returns 0 when the
 * server accepted it; otherwise -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH,
 * -EACCES (authentication), -EPROTO (TLS required but not available, or a
 * TLS failure), -EIO (any other refusal), with a short reason in err that
 * names neither the password nor the recipient.
 */
int smtp_deliver(const struct smtp_target *t, const char *from, const char *to, const char *msg,
                 size_t len, char *err, size_t err_size);
