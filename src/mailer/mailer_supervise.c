/* SPDX-License-Identifier: MIT */
/*
 * Implementation of mailer/mailer_supervise.h.  One loop over two
 * descriptors: the control socket and a signalfd for SIGCHLD, so dead
 * helpers are reaped (and their end reported) as soon as they die.
 */
#include "mailer/mailer_supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mailer/mail_channel.h"
#include "mailer/mail_proto.h"
#include "util/cleanup.h"
#include "util/log.h"

/* The descriptor a helper finds its channel on (its --fd argument). */
#define HELPER_CHANNEL_FD 3

/* How long a helper gets to stop after SIGTERM when the daemon leaves. */
#define HELPER_STOP_TIMEOUT_MS 5000

/* Log how a helper ended, when that was not a clean exit. */
static void report_exit(pid_t pid, int status)
{
        if (WIFSIGNALED(status)) {
                int sig = WTERMSIG(status);
                struct log_field f[] = {{"MESSAGE_ID", LOG_MID_SECURITY},
                                        {"EVENT", "mailer_helper_killed"}};
                if (sig == SIGSYS)
                        log_struct(LOG_ERR, f,
                                   "Mail helper %d was killed by its system call filter", (int)pid);
                else if (sig != SIGTERM && sig != SIGKILL)
                        log_warning("Mail helper %d was killed by signal %s", (int)pid,
                                    sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
        } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
                log_warning("Mail helper %d exited with status %d", (int)pid, WEXITSTATUS(status));
}

/* Reap every finished child; forget *current when it is among them. */
static void reap(pid_t *current)
{
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);

                if (pid <= 0)
                        return;
                report_exit(pid, status);
                if (pid == *current)
                        *current = -1;
        }
}

/* Start one helper with a fresh channel.  The child end becomes fd 3;
 * every other descriptor is close-on-exec or closed here. */
static int spawn_helper(char *const *argv, int *ret_fd, pid_t *ret_pid)
{
        int pair[2];
        sigset_t none;
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
                return -errno;
        sigemptyset(&none);
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                (void)close(pair[0]);
                (void)close(pair[1]);
                return r;
        }
        if (pid == 0) {
                /* Only async-signal-safe calls until execv(). */
                if (pair[1] == HELPER_CHANNEL_FD) {
                        if (fcntl(pair[1], F_SETFD, 0) < 0)
                                _exit(127);
                } else if (dup2(pair[1], HELPER_CHANNEL_FD) < 0)
                        _exit(127);
                (void)close_range(HELPER_CHANNEL_FD + 1, ~0U, 0);
                (void)sigprocmask(SIG_SETMASK, &none, NULL);
                execv(argv[0], argv);
                _exit(127);
        }
        (void)close(pair[1]);
        *ret_fd = pair[0];
        *ret_pid = pid;
        return 0;
}

/* Answer one SPAWN: a CHANNEL with the descriptor, or a failed RESULT. */
static int answer_spawn(int control_fd, uint32_t id, char *const *argv, pid_t *current)
{
        _cleanup_free_ uint8_t *frame = NULL;
        _cleanup_close_ int channel = -1;
        size_t len;
        pid_t pid = -1;
        int r;

        r = spawn_helper(argv, &channel, &pid);
        if (r < 0) {
                log_error_errno(r, "Cannot start a mail helper: %m");
                r = mail_proto_encode_result(id, false, "cannot start the mail helper", &frame,
                                             &len);
                return r < 0 ? r : mail_channel_send_packet(control_fd, frame, len, -1);
        }
        *current = pid;
        log_debug("Started mail helper %d", (int)pid);
        r = mail_proto_encode_channel(id, pid, &frame, &len);
        if (r < 0)
                return r;
        return mail_channel_send_packet(control_fd, frame, len, channel);
}

/* Read and answer one control message.  Returns 1 to go on, 0 when the
 * daemon hung up, negative on a protocol error. */
static int handle_control(int control_fd, char *const *argv, pid_t *current)
{
        struct mail_frame f = {0};
        _cleanup_close_ int stray_fd = -1;
        int r;

        r = mail_channel_recv_packet(control_fd, 0, &f, &stray_fd);
        if (r == -ETIMEDOUT)
                return 1; /* spurious wake-up */
        if (r <= 0)
                return r;
        if (f.hdr.type != MAIL_MSG_SPAWN || stray_fd >= 0 ||
            mail_proto_decode_empty(f.payload, f.hdr.payload_len) < 0) {
                log_error("Unexpected %s message on the control socket",
                          mail_msg_type_to_string(f.hdr.type));
                mail_frame_done(&f);
                return -EPROTO;
        }
        r = answer_spawn(control_fd, f.hdr.id, argv, current);
        mail_frame_done(&f);
        if (r < 0)
                return log_error_errno(r, "Cannot answer on the control socket: %m");
        return 1;
}

/* The daemon left: ask the current helper to stop and wait for it. */
static void stop_current(pid_t *current)
{
        struct timespec step = {0, 20 * 1000 * 1000};

        if (*current <= 0)
                return;
        (void)kill(*current, SIGTERM);
        for (int waited = 0; waited<HELPER_STOP_TIMEOUT_MS && * current> 0; waited += 20) {
                reap(current);
                if (*current > 0)
                        (void)nanosleep(&step, NULL);
        }
        if (*current > 0) {
                (void)kill(*current, SIGKILL);
                (void)waitpid(*current, NULL, 0);
        }
}

int mailer_supervise(int control_fd, char *const *helper_argv)
{
        _cleanup_close_ int sfd = -1;
        pid_t current = -1;
        sigset_t chld;
        int r = 0;

        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0)
                return log_error_errno(errno, "Cannot block SIGCHLD: %m");
        sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0)
                return log_error_errno(errno, "Cannot create a signalfd: %m");

        for (;;) {
                struct pollfd p[2] = {{.fd = control_fd, .events = POLLIN},
                                      {.fd = sfd, .events = POLLIN}};

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = log_error_errno(errno, "poll failed: %m");
                        break;
                }
                if (p[1].revents) {
                        struct signalfd_siginfo si;
                        while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                                ;
                        reap(&current);
                }
                if (p[0].revents) {
                        r = handle_control(control_fd, helper_argv, &current);
                        if (r <= 0)
                                break;
                }
        }
        stop_current(&current);
        reap(&current);
        return r < 0 ? r : 0;
}
