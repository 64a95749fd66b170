/* SPDX-License-Identifier: MIT */
/*
 * Supervisor mode (`verstak-sync-mailer --supervise --fd 3 …`): started
 * once by the daemon before it locks itself down, it starts a fresh helper
 * process whenever the daemon asks (SPAWN on the SOCK_SEQPACKET control
 * socket) and hands back the daemon's end of the new channel (CHANNEL, the
 * descriptor attached).  It holds no secrets, reads no configuration and
 * serves no mail; it exits when the daemon closes the control socket.
 */
#pragma once

/*
 * Serve the control socket control_fd.  helper_argv (NULL-terminated,
 * argv[0] the program to run) is executed for each helper with the channel
 * on descriptor 3.  Returns 0 when the daemon hung up, a negative errno on
 * a fatal error (logged).
 */
int mailer_supervise(int control_fd, char *const *helper_argv);
