/* SPDX-License-Identifier: MIT */
/* Implementation of daemon/dbnet.h. */
#include "daemon/dbnet.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/pq_dl.h"

static void conninfo_freep(PQconninfoOption **o)
{
        if (*o)
                sym_PQconninfoFree(*o);
}

/* Whether one entry of a comma-separated host list is reached over TCP:
 * anything but an empty entry (the default socket directory), an absolute
 * path or an abstract socket name. */
static bool host_entry_tcp(const char *entry, size_t len)
{
        return len > 0 && entry[0] != '/' && entry[0] != '@';
}

static bool host_list_tcp(const char *hosts)
{
        const char *p = hosts;

        for (;;) {
                size_t len = strcspn(p, ",");
                if (host_entry_tcp(p, len))
                        return true;
                if (p[len] == '\0')
                        return false;
                p += len + 1;
        }
}

static bool nonempty(const char *s)
{
        return s && s[0];
}

int dbnet_url_needs_tcp(const char *url, bool *ret_tcp)
{
        _cleanup_(conninfo_freep) PQconninfoOption *opts = NULL;
        const char *host = NULL, *hostaddr = NULL, *service = NULL;
        char *err = NULL;
        int r;

        *ret_tcp = false;
        if (!nonempty(url))
                return 0;
        r = pq_dl_open();
        if (r < 0)
                return r;
        opts = sym_PQconninfoParse(url, &err);
        if (!opts) {
                /* err is NULL when libpq ran out of memory. */
                if (!err)
                        return -ENOMEM;
                sym_PQfreemem(err);
                return -EINVAL;
        }
        for (const PQconninfoOption *o = opts; o->keyword; o++) {
                if (strcmp(o->keyword, "host") == 0)
                        host = o->val;
                else if (strcmp(o->keyword, "hostaddr") == 0)
                        hostaddr = o->val;
                else if (strcmp(o->keyword, "service") == 0)
                        service = o->val;
        }
        /* libpq's order: the string, then the service file, then the
         * environment. */
        if (!nonempty(host) && !nonempty(hostaddr)) {
                if (!nonempty(service))
                        service = getenv("PGSERVICE");
                if (nonempty(service)) {
                        *ret_tcp = true;
                        return 0;
                }
                host = getenv("PGHOST");
                hostaddr = getenv("PGHOSTADDR");
        }
        *ret_tcp = nonempty(hostaddr) || (nonempty(host) && host_list_tcp(host));
        return 0;
}
