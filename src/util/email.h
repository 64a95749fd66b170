/* SPDX-License-Identifier: MIT */
/*
 * E-mail address checks for what users type in (api.md §6): a plain
 * addr-spec, local@domain, with no display name, comments, quoting, spaces
 * or line breaks, so that it can go into a header as it is.  Pure string
 * work, no allocation, no logging.
 */
#pragma once

#include <stddef.h>

/* api.md §6: at most 254 bytes (the RFC 5321 path limit). */
#define EMAIL_MAX 254
/* RFC 5321 limits of the parts. */
#define EMAIL_LOCAL_MAX 64
#define EMAIL_LABEL_MAX 63

/*
 * Normalise in (trim white space, lower-case) into out[EMAIL_MAX + 1] and
 * check it.  Returns 0, or -EINVAL when in holds a CR or LF anywhere, is
 * longer than EMAIL_MAX after trimming, or is not local@domain with a
 * dot-atom local part and a domain of two or more LDH labels.
 */
int email_normalize(const char *in, char out[EMAIL_MAX + 1]);
