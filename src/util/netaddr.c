/* SPDX-License-Identifier: MIT */
/* Implementation of util/netaddr.h. */
#include "util/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "util/text.h"

int netmask_parse(const char *s, struct netmask *ret)
{
        char buf[INET6_ADDRSTRLEN + 8];
        struct netmask m = {0};
        char *slash;
        unsigned max;

        if (!s || strlen(s) >= sizeof(buf))
                return -EINVAL;
        if (strcmp(s, NETMASK_UNIX) == 0) {
                *ret = (struct netmask){.family = AF_UNIX};
                return 0;
        }
        strcpy(buf, s);
        slash = strchr(buf, '/');
        if (slash)
                *slash = '\0';
        if (inet_pton(AF_INET, buf, m.addr) == 1) {
                m.family = AF_INET;
                max = 32;
        } else if (inet_pton(AF_INET6, buf, m.addr) == 1) {
                m.family = AF_INET6;
                max = 128;
        } else
                return -EINVAL;

        m.prefix = max;
        if (slash) {
                uint64_t v;
                if (parse_u64(slash + 1, &v) < 0 || v > max)
                        return -EINVAL;
                m.prefix = (unsigned)v;
        }
        /* Host bits must be zero: "10.0.0.1/8" is almost certainly a typo. */
        for (unsigned bit = m.prefix; bit < max; bit++)
                if (m.addr[bit / 8] & (0x80 >> (bit % 8)))
                        return -EINVAL;
        *ret = m;
        return 0;
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
        unsigned full = bits / 8, rest = bits % 8;

        if (memcmp(a, b, full) != 0)
                return false;
        if (rest == 0)
                return true;
        uint8_t mask = (uint8_t)(0xff << (8 - rest));
        return (a[full] & mask) == (b[full] & mask);
}

bool netmask_contains(const struct netmask *m, const struct sockaddr *sa)
{
        static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

        if (!sa)
                return false;
        if (sa->sa_family == AF_UNIX)
                return m->family == AF_UNIX;
        if (sa->sa_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
                if (m->family != AF_INET)
                        return false;
                return prefix_match((const uint8_t *)&in->sin_addr, m->addr, m->prefix);
        }
        if (sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
                const uint8_t *a = (const uint8_t *)&in6->sin6_addr;
                if (m->family == AF_INET6)
                        return prefix_match(a, m->addr, m->prefix);
                if (memcmp(a, v4mapped, 12) == 0)
                        return prefix_match(a + 12, m->addr, m->prefix);
        }
        return false;
}

int listen_address_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len)
{
        char host[INET6_ADDRSTRLEN + 2];
        const char *colon, *port_s;
        uint64_t port;

        if (!s || !*s)
                return -EINVAL;
        memset(ret, 0, sizeof(*ret));

        if (str_starts_with(s, "unix:")) {
                struct sockaddr_un *un = (struct sockaddr_un *)ret;
                const char *path = s + 5;
                if (path[0] != '/' || strlen(path) >= sizeof(un->sun_path))
                        return -EINVAL;
                un->sun_family = AF_UNIX;
                strcpy(un->sun_path, path);
                *ret_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
                return 0;
        }

        if (s[0] == '[') {
                const char *end = strchr(s, ']');
                if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(host))
                        return -EINVAL;
                memcpy(host, s + 1, (size_t)(end - s - 1));
                host[end - s - 1] = '\0';
                port_s = end + 2;
        } else {
                colon = strrchr(s, ':');
                if (!colon || (size_t)(colon - s) >= sizeof(host))
                        return -EINVAL;
                memcpy(host, s, (size_t)(colon - s));
                host[colon - s] = '\0';
                port_s = colon + 1;
        }
        if (parse_u64(port_s, &port) < 0 || port > 65535)
                return -EINVAL;

        if (s[0] == '[') {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ret;
                if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
                        return -EINVAL;
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t)port);
                *ret_len = sizeof(*in6);
                return 0;
        }
        struct sockaddr_in *in = (struct sockaddr_in *)ret;
        if (strcmp(host, "*") == 0)
                in->sin_addr.s_addr = htonl(INADDR_ANY);
        else if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
                return -EINVAL;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        *ret_len = sizeof(*in);
        return 0;
}

int sockaddr_format_ip(const struct sockaddr *sa, char *out, size_t size)
{
        const void *src;
        int family = sa ? sa->sa_family : AF_UNSPEC;

        if (family == AF_INET)
                src = &((const struct sockaddr_in *)sa)->sin_addr;
        else if (family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
                static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
                if (memcmp(&in6->sin6_addr, v4mapped, 12) == 0) {
                        family = AF_INET;
                        src = (const uint8_t *)&in6->sin6_addr + 12;
                } else
                        src = &in6->sin6_addr;
        } else {
                if (size < 6)
                        return -ENOBUFS;
                strcpy(out, "local");
                return 0;
        }
        if (!inet_ntop(family, src, out, (socklen_t)size))
                return -errno;
        return 0;
}

int ip_parse(const char *s, struct sockaddr_storage *ret)
{
        memset(ret, 0, sizeof(*ret));
        struct sockaddr_in *in = (struct sockaddr_in *)ret;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ret;

        if (inet_pton(AF_INET, s, &in->sin_addr) == 1) {
                in->sin_family = AF_INET;
                return 0;
        }
        if (inet_pton(AF_INET6, s, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                return 0;
        }
        return -EINVAL;
}

/* Whether s is empty or ":" followed by 1-5 digits. */
static bool port_suffix_ok(const char *s)
{
        size_t n;

        if (!*s)
                return true;
        if (*s != ':')
                return false;
        n = strspn(s + 1, "0123456789");
        return n >= 1 && n <= 5 && s[1 + n] == '\0';
}

bool netaddr_host_is_loopback(const char *host)
{
        char name[INET6_ADDRSTRLEN + 8];
        const char *end;
        struct in_addr a4;
        struct in6_addr a6;
        size_t len;

        if (!host)
                return false;
        if (host[0] == '[') {
                end = strchr(host, ']');
                if (!end || !port_suffix_ok(end + 1))
                        return false;
                len = (size_t)(end - host - 1);
                if (len >= sizeof(name))
                        return false;
                memcpy(name, host + 1, len);
                name[len] = '\0';
                if (inet_pton(AF_INET6, name, &a6) != 1)
                        return false;
                if (IN6_IS_ADDR_LOOPBACK(&a6))
                        return true;
                return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
        }
        end = strchr(host, ':');
        len = end ? (size_t)(end - host) : strlen(host);
        if (len == 0 || len >= sizeof(name) || (end && !port_suffix_ok(end)))
                return false;
        memcpy(name, host, len);
        name[len] = '\0';
        if (strcasecmp(name, "localhost") == 0)
                return true;
        return inet_pton(AF_INET, name, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

int netaddr_rate_key(const struct sockaddr *sa, char *out, size_t size)
{
        static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        struct in6_addr prefix;
        char text[INET6_ADDRSTRLEN];
        int n;

        if (!sa || sa->sa_family != AF_INET6 ||
            memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr, v4mapped, 12) == 0)
                return sockaddr_format_ip(sa, out, size);
        prefix = ((const struct sockaddr_in6 *)sa)->sin6_addr;
        memset(prefix.s6_addr + 8, 0, 8);
        if (!inet_ntop(AF_INET6, &prefix, text, sizeof(text)))
                return -errno;
        n = snprintf(out, size, "%s/64", text);
        return n < 0 || (size_t)n >= size ? -ENOBUFS : 0;
}
