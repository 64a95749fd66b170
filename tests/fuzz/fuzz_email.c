/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for util/email.h: the input as a typed-in address.  An
 * accepted address must come out normalised: short enough, lower-case,
 * one '@', no white space, and stable when normalised again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "util/email.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char out[EMAIL_MAX + 1], again[EMAIL_MAX + 1];
        char *in = fuzz_strndup(data, size);

        if (email_normalize(in, out) == 0) {
                size_t len = strlen(out);
                const char *at = strchr(out, '@');
                if (len == 0 || len > EMAIL_MAX || !at || strchr(at + 1, '@'))
                        abort();
                for (size_t i = 0; i < len; i++)
                        if ((out[i] >= 'A' && out[i] <= 'Z') || out[i] == ' ' || out[i] == '\t' ||
                            out[i] == '\r' || out[i] == '\n')
                                abort();
                if (email_normalize(out, again) != 0 || strcmp(out, again) != 0)
                        abort();
        }
        free(in);
        return 0;
}
