/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for http/range.h: the first eight bytes are the size of the
 * representation, the rest is the Range header value.  A partial answer
 * must lie inside the representation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "http/range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint64_t file_size = 0, start = 0, len = 0;
        char *header;
        enum http_range r;

        if (size >= 8) {
                memcpy(&file_size, data, 8);
                /* Small sizes are the interesting ones half of the time. */
                if (file_size & 1)
                        file_size = (file_size >> 1) % 4096;
                data += 8;
                size -= 8;
        }
        header = fuzz_strndup(data, size);
        r = http_range_parse(header, file_size, &start, &len);
        if (r == HTTP_RANGE_PARTIAL && (len == 0 || start >= file_size || len > file_size - start))
                abort();
        if (r != HTTP_RANGE_NONE && r != HTTP_RANGE_PARTIAL && r != HTTP_RANGE_UNSATISFIABLE)
                abort();
        free(header);
        return 0;
}
