/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for time_parse_rfc3339() in util/text.h: the input as a
 * timestamp; an accepted one is formatted back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz_common.h"
#include "util/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char out[TIME_RFC3339_SIZE];
        char *s = fuzz_strndup(data, size);
        time_t t;

        if (time_parse_rfc3339(s, &t) == 0) {
                time_format_rfc3339(t, out);
                if (strlen(out) >= sizeof(out))
                        abort();
        }
        free(s);
        return 0;
}
