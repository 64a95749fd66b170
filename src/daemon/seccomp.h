/* SPDX-License-Identifier: MIT */
/*
 * The server process's system call allow-list, as data for the shared
 * engine (util/seccomp_engine.h, which also loads it).  The unit's
 * SystemCallFilter= mirrors it.  What is absent on purpose is listed in
 * seccomp.c.
 */
#pragma once

#include "util/seccomp_engine.h"

/* Every allow-list of the server process (design.md §Processes). */
extern const struct seccomp_profile seccomp_profile_server;

/* Allowed in addition when the daemon reaches its mail helper through a
 * unix socket path (smtp.socket, the systemd mode): connect.  Run by hand
 * the daemon needs no connect() at all, so it cannot open a stream to any
 * local service (the system bus included). */
extern const char *const seccomp_server_connect[];
