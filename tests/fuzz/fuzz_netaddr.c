/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for util/netaddr.h: the input as a trusted-proxy mask, a
 * listen address and a bare IP.  A parsed mask must contain its own
 * address; a parsed IP must format back.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "fuzz_common.h"
#include "util/netaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = fuzz_strndup(data, size);
        struct sockaddr_storage ss;
        struct netmask m;
        socklen_t len = 0;
        char ip[INET6_ADDRSTRLEN];

        /* "unix" (a peer on a unix socket) is a mask of its own family. */
        if (netmask_parse(s, &m) == 0 && m.family != AF_UNIX) {
                struct sockaddr_storage peer = {0};
                if (m.family == AF_INET) {
                        struct sockaddr_in *in = (struct sockaddr_in *)&peer;
                        if (m.prefix > 32)
                                abort();
                        in->sin_family = AF_INET;
                        memcpy(&in->sin_addr, m.addr, 4);
                } else if (m.family == AF_INET6) {
                        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&peer;
                        if (m.prefix > 128)
                                abort();
                        in6->sin6_family = AF_INET6;
                        memcpy(&in6->sin6_addr, m.addr, 16);
                } else
                        abort();
                if (!netmask_contains(&m, (const struct sockaddr *)&peer))
                        abort();
        }

        if (listen_address_parse(s, &ss, &len) == 0) {
                if (len == 0 || len > sizeof(ss))
                        abort();
                if (ss.ss_family != AF_UNIX &&
                    sockaddr_format_ip((const struct sockaddr *)&ss, ip, sizeof(ip)) < 0)
                        abort();
        }

        if (ip_parse(s, &ss) == 0 &&
            sockaddr_format_ip((const struct sockaddr *)&ss, ip, sizeof(ip)) < 0)
                abort();
        free(s);
        return 0;
}
