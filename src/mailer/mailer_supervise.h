/* SPDX-License-Identifier: MIT */
/*
 * Supervisor mode (`verstak-sync-mailer --supervise --fd 3 …`): started
 * once by the daemon before it locks itself down, and already prepared
 * (configuration, password and outbox read once; root given up) when it
 * gets here.  It starts a fresh helper whenever the daemon asks (SPAWN on
 * the SOCK_SEQPACKET control socket) and hands back the daemon's end of
 * the new channel (CHANNEL, the descriptor attached).  Helpers are forked,
 * not executed: they inherit what was read at start and read nothing
 * again.  The previous helper is stopped and reaped before a new one
 * starts, and starts are rate-limited (MAILER_SPAWN_BURST per
 * MAILER_SPAWN_WINDOW_SEC), so a crashing helper cannot become a fork
 * loop.  It exits when the daemon closes the control socket.
 */
#pragma once

/* At most this many helpers are started within this many seconds; more
 * SPAWN requests are answered with a failed RESULT. */
#define MAILER_SPAWN_BURST      10
#define MAILER_SPAWN_WINDOW_SEC 60

/* What a helper runs: serve the channel fd, return 0 or a negative errno.
 * Runs in the forked child, which exits with its result. */
typedef int (*mailer_serve_fn)(int channel_fd, void *userdata);

/*
 * Serve the control socket control_fd, running serve(channel, userdata) in
 * a new child process for each helper.  Returns 0 when the daemon hung up,
 * a negative errno on a fatal error (logged).
 */
int mailer_supervise(int control_fd, mailer_serve_fn serve, void *userdata);
