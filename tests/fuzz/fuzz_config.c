/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for server/config.h: the input as the text of config.yml,
 * loaded over the defaults and then validated.  Nothing is read from the
 * environment or the file system.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct config c = {0};
        char err[512];
        int r;

        if (config_init_defaults(&c) < 0)
                abort();
        err[0] = '\0';
        r = config_load_string(&c, (const char *)data, size, err, sizeof(err));
        if (r == 0)
                (void)config_validate(&c, err, sizeof(err));
        else if (memchr(err, '\0', sizeof(err)) == NULL)
                abort();
        config_done(&c);
        return 0;
}
