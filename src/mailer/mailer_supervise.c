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

/* What every helper start needs. */
struct supervisor {
        int control_fd;
        int signal_fd;
        mailer_serve_fn serve;
        void *userdata;
        pid_t current;
        struct timespec starts[MAILER_SPAWN_BURST]; /* ring of recent starts */
        unsigned next_start;
};

static void stop_current(pid_t *current);

/* Whether another start fits in the window; records it when it does. */
static bool start_allowed(struct supervisor *s)
{
        struct timespec now, *oldest = &s->starts[s->next_start];

        if (clock_gettime(CLOCK_MONOTONIC, &now) < 0)
                return false;
        if ((oldest->tv_sec != 0 || oldest->tv_nsec != 0) &&
            now.tv_sec - oldest->tv_sec < MAILER_SPAWN_WINDOW_SEC)
                return false;
        *oldest = now;
        s->next_start = (s->next_start + 1) % MAILER_SPAWN_BURST;
        return true;
}

/* Start one helper with a fresh channel: fork, and serve it in the child,
 * which keeps only that channel and what mailer_prepare() opened. */
static int spawn_helper(struct supervisor *s, int *ret_fd, pid_t *ret_pid)
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
                (void)close(pair[0]);
                (void)close(s->control_fd);
                (void)close(s->signal_fd);
                (void)sigprocmask(SIG_SETMASK, &none, NULL);
                _exit(s->serve(pair[1], s->userdata) < 0 ? 1 : 0);
        }
        (void)close(pair[1]);
        *ret_fd = pair[0];
        *ret_pid = pid;
        return 0;
}

/* Answer one SPAWN: a CHANNEL with the descriptor, or a failed RESULT. */
static int answer_spawn(struct supervisor *s, uint32_t id)
{
        _cleanup_free_ uint8_t *frame = NULL;
        _cleanup_close_ int channel = -1;
        const char *reason = "cannot start the mail helper";
        size_t len;
        pid_t pid = -1;
        int r;

        /* One helper at a time: the old one is gone before the next. */
        stop_current(&s->current);
        if (!start_allowed(s)) {
                struct log_field f[] = {{"MESSAGE_ID", LOG_MID_SECURITY},
                                        {"EVENT", "mailer_helper_respawn_limited"}};
                log_struct(LOG_ERR, f,
                           "Mail helper restarted %d times within %d s; not starting another yet",
                           MAILER_SPAWN_BURST, MAILER_SPAWN_WINDOW_SEC);
                reason = "the mail helper is restarting too often";
                r = -EAGAIN;
        } else {
                r = spawn_helper(s, &channel, &pid);
                if (r < 0)
                        log_error_errno(r, "Cannot start a mail helper: %m");
        }
        if (r < 0) {
                r = mail_proto_encode_result(id, false, reason, &frame, &len);
                return r < 0 ? r : mail_channel_send_packet(s->control_fd, frame, len, -1);
        }
        s->current = pid;
        log_debug("Started mail helper %d", (int)pid);
        r = mail_proto_encode_channel(id, pid, &frame, &len);
        if (r < 0)
                return r;
        return mail_channel_send_packet(s->control_fd, frame, len, channel);
}

/* Read and answer one control message.  Returns 1 to go on, 0 when the
 * daemon hung up, negative on a protocol error. */
static int handle_control(struct supervisor *s)
{
        struct mail_frame f = {0};
        _cleanup_close_ int stray_fd = -1;
        int r;

        r = mail_channel_recv_packet(s->control_fd, 0, &f, &stray_fd);
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
        r = answer_spawn(s, f.hdr.id);
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

int mailer_supervise(int control_fd, mailer_serve_fn serve, void *userdata)
{
        _cleanup_close_ int sfd = -1;
        struct supervisor s = {
                .control_fd = control_fd, .serve = serve, .userdata = userdata, .current = -1};
        sigset_t chld;
        int r = 0;

        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0)
                return log_error_errno(errno, "Cannot block SIGCHLD: %m");
        sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0)
                return log_error_errno(errno, "Cannot create a signalfd: %m");
        s.signal_fd = sfd;

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
                        reap(&s.current);
                }
                if (p[0].revents) {
                        r = handle_control(&s);
                        if (r <= 0)
                                break;
                }
        }
        stop_current(&s.current);
        reap(&s.current);
        return r < 0 ? r : 0;
}
