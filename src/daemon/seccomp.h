/* SPDX-License-Identifier: MIT */
/*
 * The server process's system call allow-list, as data for the shared
 * engine (util/seccomp_engine.h, which also loads it).  The unit's
 * SystemCallFilter= mirrors it.  What is absent on purpose is listed in
 * seccomp.c.
 */
#pragma once

#include <stdbool.h>

#include "util/seccomp_engine.h"

/* Every allow-list of the server process (design.md §Processes). */
extern const struct seccomp_profile seccomp_profile_server;

/* Allowed in addition when the daemon reaches its mail helper through a
 * unix socket path (smtp.socket, the systemd mode): connect.  Run by hand
 * the daemon needs no connect() at all, so it cannot open a stream to any
 * local service (the system bus included). */
extern const char *const seccomp_server_connect[];

/* The server's profile when its database is PostgreSQL over TCP (see
 * daemon/dbnet.h): the one above plus IPv4/IPv6 sockets, connect and
 * sendmmsg (listed in seccomp_server_db_tcp); another socket family fails
 * with EAFNOSUPPORT instead of killing, for the resolver's netlink probe. */
extern const struct seccomp_profile seccomp_profile_server_db_tcp;
extern const char *const seccomp_server_db_tcp[];

/* The profile to load: seccomp_profile_server_db_tcp when the configured
 * database is reached over TCP, else seccomp_profile_server. */
const struct seccomp_profile *seccomp_server_profile(bool database_tcp);
