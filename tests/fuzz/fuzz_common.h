/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the libFuzzer targets: the entry point's prototype
 * (the project builds with -Wmissing-prototypes) and a NUL-terminated copy
 * of the input for parsers of C strings.  No I/O.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A malloc'd copy of data[0, size) with a NUL after it; aborts when out of
 * memory (libFuzzer's -rss_limit_mb reports that case anyway). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1);

        if (!s)
                abort();
        if (size > 0)
                memcpy(s, data, size);
        s[size] = '\0';
        return s;
}
