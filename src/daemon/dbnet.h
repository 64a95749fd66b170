/* SPDX-License-Identifier: MIT */
/*
 * Which network the configured database needs, for the sandbox: none for
 * SQLite or for PostgreSQL through a unix socket, TCP when libpq will open
 * an IPv4/IPv6 connection.  The seccomp profile is chosen from the answer
 * (daemon/seccomp.h); the unit's drop-in opens the matching address
 * families (docs/scaling.md).  The connection string is parsed by libpq
 * itself (PQconninfoParse), so URIs and key=value strings, percent-encoded
 * socket directories and host lists are read exactly as libpq reads them
 * (loaded for it, util/pq_dl.h).  Nothing is connected, and nothing is
 * logged but a missing libpq.
 */
#pragma once

#include <stdbool.h>

/*
 * Set *ret_tcp for database URL url (NULL or empty: SQLite, no network).
 * TCP when hostaddr is set, when any entry of the host list is a name or
 * an address rather than a socket directory (an absolute path, or "@" for
 * an abstract socket).  Without host and hostaddr: TCP when a service
 * (service= or PGSERVICE) is named, whose host is not known here, so the
 * network stays open; else PGHOST and PGHOSTADDR from the environment as
 * above; else libpq's default, the unix socket.  Returns 0, -EINVAL when
 * libpq cannot parse url, -EOPNOTSUPP when libpq cannot be loaded, or
 * -ENOMEM.
 */
int dbnet_url_needs_tcp(const char *url, bool *ret_tcp);
