/* SPDX-License-Identifier: MIT */
/*
 * IP addresses and CIDR masks: parsing listen addresses ("127.0.0.1:47732",
 * "[::1]:47732") and trusted-proxy lists ("10.0.0.0/8", "::1"), and matching
 * a peer against them.  No DNS: only literal addresses are accepted.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct netmask {
        int family; /* AF_INET or AF_INET6 */
        uint8_t addr[16];
        unsigned prefix; /* bits */
};

/* The word that names "a peer on a unix socket" in a list of masks. */
#define NETMASK_UNIX "unix"

/* Parse "A.B.C.D", "A.B.C.D/N", "v6", "v6/N", or NETMASK_UNIX (family
 * AF_UNIX: matches any unix-socket peer).  Host bits must be zero.
 * Returns 0 or -EINVAL. */
int netmask_parse(const char *s, struct netmask *ret);

/* Whether sa (AF_INET or AF_INET6, v4-mapped v6 handled) is inside m. */
bool netmask_contains(const struct netmask *m, const struct sockaddr *sa);

/* Parse "host:port" where host is an IPv4 literal, "[v6]" or "*" (any v4),
 * or "unix:/absolute/path".  Returns 0 or -EINVAL. */
int listen_address_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len);

/* Render the address part of sa ("127.0.0.1", "::1") into out. */
int sockaddr_format_ip(const struct sockaddr *sa, char *out, size_t size);

/* Parse a textual IP (v4 or v6, no port) into a sockaddr; 0 or -EINVAL. */
int ip_parse(const char *s, struct sockaddr_storage *ret);

/* Whether host, the value of a Host header ("localhost", "127.0.0.1:8080",
 * "[::1]:47732"), names this machine's loopback interface: "localhost",
 * 127.0.0.0/8 or ::1 (v4-mapped included), with an optional port. */
bool netaddr_host_is_loopback(const char *host);

/* The key a client is rate-limited under: its address, but for IPv6 its
 * /64 ("2001:db8:1:2::/64"), since one subscriber usually holds a whole
 * /64 and could otherwise take a fresh address for every attempt.
 * Returns 0 or a negative errno. */
int netaddr_rate_key(const struct sockaddr *sa, char *out, size_t size);
