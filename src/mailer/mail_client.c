/* SPDX-License-Identifier: MIT */
/*
 * Implementation of mailer/mail_client.h — the daemon's side only; it never
 * reads the SMTP password, builds messages or talks SMTP.
 *
 * Restarting a helper from a sandboxed daemon
 * --------------------------------------------
 * The daemon's seccomp filter forbids fork and execve, yet a helper that
 * dies must be replaced.  So the one fork+exec happens at start-up, before
 * the daemon locks itself down, and it starts a supervisor rather than the
 * helper:
 *
 *   daemon ──(SOCK_SEQPACKET control socket, fd 3)──> mailer --supervise
 *                                                        │ fork+exec per SPAWN
 *   daemon <══(SOCK_STREAM channel, passed back)══> mailer --fd 3 (helper)
 *
 * The supervisor is the mailer binary itself, exec'd afresh (it inherits
 * none of the daemon's memory); it reads its configuration and password
 * once, as root when the daemon was started as root, and then runs as the
 * mailer's own account.  On SPAWN it makes a new socketpair, forks a
 * helper serving one end, and sends the other end back with SCM_RIGHTS in
 * a CHANNEL reply.  Each helper therefore has a channel of its own: when it
 * dies the daemon sees EPIPE/ECONNRESET/end of stream, drops that channel
 * and asks for a new one — which needs only sendmsg/recvmsg here, and is
 * exactly what reconnecting to the systemd socket looks like in the other
 * mode.  Nothing is relayed, and no half-read frame of a dead helper can
 * confuse the next one.  The supervisor exits when the control socket
 * closes (daemon exit or mail_client_free()).
 *
 * Every new channel starts with the helper's READY frame, so a helper that
 * cannot start (bad configuration, unreadable password) is reported here
 * and not at the first e-mail.
 */
#include "mailer/mail_client.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mailer/mail_channel.h"
#include "mailer/mail_proto.h"
#include "util/cleanup.h"
#include "util/text.h"

/* The descriptor the supervisor finds its control socket on. */
#define CONTROL_FD 3

/* At most this many extra flags are passed to the supervisor. */
#define EXTRA_ARGS_MAX 8

/* How long writing a request may take, and how long free() waits for the
 * supervisor before killing it. */
#define SEND_TIMEOUT_MS      10000
#define SUPERVISOR_EXIT_MS   5000
#define SUPERVISOR_EXIT_STEP 20

enum mail_client_mode {
        MAIL_CLIENT_SPAWN,
        MAIL_CLIENT_CONNECT,
};

struct mail_client {
        pthread_mutex_t lock;
        enum mail_client_mode mode;
        int channel_fd; /* -1 while there is no live channel */
        int control_fd; /* spawn: the supervisor's control socket */
        pid_t supervisor_pid;
        pid_t helper_pid;
        uint32_t next_id;
        char *socket_path; /* connect */
};

static void set_err(char *err, size_t err_size, const char *fmt, const char *detail)
{
        if (err && err_size)
                snprintf(err, err_size, fmt, detail ? detail : "");
}

static struct mail_client *client_alloc(enum mail_client_mode mode)
{
        struct mail_client *c = calloc(1, sizeof(*c));

        if (!c)
                return NULL;
        if (pthread_mutex_init(&c->lock, NULL) != 0) {
                free(c);
                return NULL;
        }
        c->mode = mode;
        c->channel_fd = -1;
        c->control_fd = -1;
        c->supervisor_pid = -1;
        c->helper_pid = -1;
        c->next_id = 1;
        return c;
}

static void channel_close(struct mail_client *c)
{
        if (c->channel_fd >= 0)
                (void)close(c->channel_fd);
        c->channel_fd = -1;
        c->helper_pid = -1;
}

static uint32_t next_id(struct mail_client *c)
{
        uint32_t id = c->next_id++;

        if (c->next_id == 0)
                c->next_id = 1; /* 0 is READY's */
        return id;
}

/* Wait for the helper's READY on a fresh channel; returns its pid. */
static int channel_await_ready(int fd, pid_t *ret_pid)
{
        struct mail_frame f = {0};
        pid_t pid;
        int r;

        r = mail_channel_read(fd, MAIL_CLIENT_START_TIMEOUT_MS, &f);
        if (r == 0)
                return -ECHILD; /* it exited before greeting: see its log */
        if (r < 0)
                return r;
        if (f.hdr.type != MAIL_MSG_READY || f.hdr.id != 0)
                r = -EPROTO;
        else
                r = mail_proto_decode_pid(f.payload, f.hdr.payload_len, &pid);
        mail_frame_done(&f);
        if (r < 0)
                return r == -EBADMSG ? -EPROTO : r;
        *ret_pid = pid;
        return 0;
}

/* Ask the supervisor for a helper.  Returns the channel fd and its pid. */
static int spawn_request(struct mail_client *c, int *ret_fd, pid_t *ret_pid)
{
        _cleanup_free_ uint8_t *frame = NULL;
        _cleanup_close_ int fd = -1;
        struct mail_frame f = {0};
        uint32_t id = next_id(c);
        size_t len;
        pid_t pid;
        int r;

        if (c->control_fd < 0)
                return -ECHILD;
        r = mail_proto_encode_spawn(id, &frame, &len);
        if (r < 0)
                return r;
        r = mail_channel_send_packet(c->control_fd, frame, len, -1);
        if (r >= 0)
                r = mail_channel_recv_packet(c->control_fd, MAIL_CLIENT_START_TIMEOUT_MS, &f, &fd);
        if (r <= 0)
                return r == 0 || r == -EPIPE || r == -ECONNRESET ? -ECHILD : r;
        if (f.hdr.id != id)
                r = -EPROTO;
        else if (f.hdr.type == MAIL_MSG_CHANNEL && fd >= 0)
                r = mail_proto_decode_pid(f.payload, f.hdr.payload_len, &pid);
        else if (f.hdr.type == MAIL_MSG_RESULT)
                r = -ECHILD; /* the supervisor could not fork */
        else
                r = -EPROTO;
        mail_frame_done(&f);
        if (r < 0)
                return r == -EBADMSG ? -EPROTO : r;
        *ret_fd = TAKE_FD(fd);
        *ret_pid = pid;
        return 0;
}

static int connect_socket(const char *path, int *ret_fd)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int fd = -1;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Open a channel to a live, greeting helper (caller holds the lock). */
static int channel_open(struct mail_client *c)
{
        _cleanup_close_ int fd = -1;
        pid_t spawned = -1, greeted;
        int r;

        channel_close(c);
        if (c->mode == MAIL_CLIENT_SPAWN)
                r = spawn_request(c, &fd, &spawned);
        else
                r = connect_socket(c->socket_path, &fd);
        if (r < 0)
                return r;
        r = channel_await_ready(fd, &greeted);
        if (r < 0)
                return r;
        if (c->mode == MAIL_CLIENT_SPAWN && greeted != spawned)
                return -EPROTO;
        c->channel_fd = TAKE_FD(fd);
        c->helper_pid = c->mode == MAIL_CLIENT_SPAWN ? spawned : -1;
        return 0;
}

/* --- spawning the supervisor ------------------------------------------------ */

/* Build the supervisor's argv; strings are borrowed from the caller. */
static int supervisor_argv(const char *mailer_path, const char *config_path, const char *data_dir,
                           const char *const *extra, const char **argv, size_t size)
{
        size_t n = 0;

        argv[n++] = mailer_path;
        argv[n++] = "--supervise";
        argv[n++] = "--fd";
        argv[n++] = "3";
        if (config_path) {
                argv[n++] = "--config";
                argv[n++] = config_path;
        }
        if (data_dir) {
                argv[n++] = "--data";
                argv[n++] = data_dir;
        }
        for (size_t i = 0; extra && extra[i]; i++) {
                if (n + 1 >= size)
                        return -E2BIG;
                argv[n++] = extra[i];
        }
        argv[n] = NULL;
        return 0;
}

/* fork+exec the supervisor with the control socket on fd 3 and stdin on
 * /dev/null.  Only async-signal-safe calls in the child: the daemon may
 * already run threads. */
static int supervisor_start(const char *const *argv, int child_end, pid_t *ret_pid)
{
        _cleanup_close_ int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        sigset_t none;
        pid_t pid;

        if (devnull < 0)
                return -errno;
        sigemptyset(&none);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                if (dup2(devnull, STDIN_FILENO) < 0)
                        _exit(127);
                if (child_end == CONTROL_FD) {
                        if (fcntl(child_end, F_SETFD, 0) < 0)
                                _exit(127);
                } else if (dup2(child_end, CONTROL_FD) < 0)
                        _exit(127);
                (void)close_range(CONTROL_FD + 1, ~0U, 0);
                (void)sigprocmask(SIG_SETMASK, &none, NULL);
                execv(argv[0], (char *const *)argv);
                _exit(127);
        }
        *ret_pid = pid;
        return 0;
}

/* Wait up to SUPERVISOR_EXIT_MS for the supervisor, then kill it. */
static void supervisor_reap(pid_t pid)
{
        struct timespec step = {0, SUPERVISOR_EXIT_STEP * 1000 * 1000};

        if (pid <= 0)
                return;
        for (int waited = 0; waited < SUPERVISOR_EXIT_MS; waited += SUPERVISOR_EXIT_STEP) {
                pid_t r = waitpid(pid, NULL, WNOHANG);
                if (r == pid || (r < 0 && errno != EINTR))
                        return;
                (void)nanosleep(&step, NULL);
        }
        (void)kill(pid, SIGKILL);
        (void)waitpid(pid, NULL, 0);
}

int mail_client_new_spawn_argv(const char *mailer_path, const char *config_path,
                               const char *data_dir, const char *const *extra_args,
                               struct mail_client **ret)
{
        const char *argv[10 + EXTRA_ARGS_MAX + 1];
        struct mail_client *c;
        int pair[2], r;

        if (!mailer_path || !*mailer_path || !ret)
                return -EINVAL;
        r = supervisor_argv(mailer_path, config_path, data_dir, extra_args, argv, ELEMENTSOF(argv));
        if (r < 0)
                return r;
        c = client_alloc(MAIL_CLIENT_SPAWN);
        if (!c)
                return -ENOMEM;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
                r = -errno;
                mail_client_free(c);
                return r;
        }
        c->control_fd = pair[0];
        r = supervisor_start(argv, pair[1], &c->supervisor_pid);
        (void)close(pair[1]);
        if (r >= 0)
                r = channel_open(c);
        if (r < 0) {
                mail_client_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

int mail_client_new_spawn(const char *mailer_path, const char *config_path, const char *data_dir,
                          struct mail_client **ret)
{
        return mail_client_new_spawn_argv(mailer_path, config_path, data_dir, NULL, ret);
}

int mail_client_new_connect(const char *socket_path, struct mail_client **ret)
{
        struct mail_client *c;
        int r;

        if (!socket_path || socket_path[0] != '/' || !ret)
                return -EINVAL;
        if (strlen(socket_path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
                return -ENAMETOOLONG;
        c = client_alloc(MAIL_CLIENT_CONNECT);
        if (!c)
                return -ENOMEM;
        c->socket_path = strdup(socket_path);
        r = c->socket_path ? channel_open(c) : -ENOMEM;
        if (r < 0) {
                mail_client_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

/* --- sending ------------------------------------------------------------- */

/* Whether r means the helper is gone (worth one restart). */
static bool helper_gone(int r)
{
        return r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN || r == -ECHILD;
}

/* Write a request on the current channel and read the answer, which must
 * carry the request's id (caller holds the lock). */
static int roundtrip(struct mail_client *c, const uint8_t *frame, size_t len, uint32_t id,
                     struct mail_frame *ret)
{
        int r;

        r = mail_channel_write(c->channel_fd, frame, len, SEND_TIMEOUT_MS);
        if (r < 0)
                return r;
        r = mail_channel_read(c->channel_fd, MAIL_CLIENT_REPLY_TIMEOUT_MS, ret);
        if (r == 0)
                return -ECONNRESET;
        if (r < 0)
                return r;
        if (ret->hdr.id != id) {
                mail_frame_done(ret);
                return -EPROTO;
        }
        return 0;
}

/* A RESULT frame: 0 for ok, -EIO with the helper's reason in err. */
static int result_of(const struct mail_frame *f, char *err, size_t err_size)
{
        struct mail_result res;
        int r;

        r = mail_proto_decode_result(f->payload, f->hdr.payload_len, &res);
        if (r < 0)
                return r == -EBADMSG ? -EPROTO : r;
        if (!res.ok)
                set_err(err, err_size, "%s", res.error);
        r = res.ok ? 0 : -EIO;
        mail_result_done(&res);
        return r;
}

/* One request/answer on the current channel (caller holds the lock). */
static int exchange(struct mail_client *c, const uint8_t *frame, size_t len, uint32_t id, char *err,
                    size_t err_size)
{
        struct mail_frame f = {0};
        int r;

        r = roundtrip(c, frame, len, id, &f);
        if (r < 0)
                return r;
        r = f.hdr.type == MAIL_MSG_RESULT ? result_of(&f, err, err_size) : -EPROTO;
        mail_frame_done(&f);
        return r;
}

static const char *failure_reason(int r)
{
        switch (r) {
        case -ETIMEDOUT:
                return "the mail helper did not answer in time";
        case -ECHILD:
                return "the mail helper could not be started (see its log)";
        case -EPROTO:
        case -EPROTONOSUPPORT:
        case -EBADMSG:
                return "the mail helper answered out of protocol";
        default:
                return helper_gone(r) ? "the mail helper stopped while sending"
                                      : "cannot talk to the mail helper";
        }
}

int mail_client_send(struct mail_client *c, const char *to, const char *subject, const char *body,
                     char *err, size_t err_size)
{
        uint8_t *frame = NULL;
        size_t len = 0;
        uint32_t id;
        int r;

        set_err(err, err_size, "%s", "");
        if (!c || !to || !subject || !body) {
                set_err(err, err_size, "%s", "missing recipient, subject or body");
                return -EINVAL;
        }
        if (str_has_crlf(to) || str_has_crlf(subject)) {
                set_err(err, err_size, "%s", "line break in recipient or subject refused");
                return -EINVAL;
        }

        pthread_mutex_lock(&c->lock);
        id = next_id(c);
        r = mail_proto_encode_send(id, to, subject, body, &frame, &len);
        if (r < 0) {
                set_err(err, err_size, "%s",
                        r == -EMSGSIZE ? "message too large"
                                       : "recipient, subject or body too long or not UTF-8");
                goto out;
        }
        for (int attempt = 0; attempt < 2; attempt++) {
                if (c->channel_fd < 0) {
                        r = channel_open(c);
                        if (r < 0)
                                break;
                }
                r = exchange(c, frame, len, id, err, err_size);
                if (r >= 0 || r == -EIO)
                        break;
                /* Anything else leaves the channel in an unknown state. */
                channel_close(c);
                if (!helper_gone(r))
                        break;
        }
        if (r < 0 && r != -EIO)
                set_err(err, err_size, "%s", failure_reason(r));
out:
        pthread_mutex_unlock(&c->lock);
        if (frame) {
                /* The frame holds the body: confirmation and reset links. */
                sodium_memzero(frame, len);
                free(frame);
        }
        return r;
}

int mail_client_carry_smtp(struct mail_client *c, const struct mail_smtp_carry *s, char **ret_path,
                           char *err, size_t err_size)
{
        struct mail_frame f = {0};
        uint8_t *frame = NULL;
        size_t len = 0;
        int r;

        set_err(err, err_size, "%s", "");
        if (!c || !s || !ret_path)
                return -EINVAL;
        pthread_mutex_lock(&c->lock);
        uint32_t id = next_id(c);
        r = mail_proto_encode_smtp_carry(id, s, &frame, &len);
        if (r >= 0 && c->channel_fd < 0)
                r = channel_open(c);
        if (r >= 0)
                r = roundtrip(c, frame, len, id, &f);
        if (r >= 0) {
                if (f.hdr.type == MAIL_MSG_SMTP_STORED) {
                        r = mail_proto_decode_smtp_stored(f.payload, f.hdr.payload_len, ret_path);
                        if (r == -EBADMSG)
                                r = -EPROTO;
                } else if (f.hdr.type == MAIL_MSG_RESULT) {
                        r = result_of(&f, err, err_size);
                        if (r == 0)
                                r = -EPROTO; /* a verdict without where */
                } else
                        r = -EPROTO;
                mail_frame_done(&f);
        }
        if (r < 0 && r != -EIO) {
                channel_close(c);
                set_err(err, err_size, "%s", failure_reason(r));
        }
        pthread_mutex_unlock(&c->lock);
        if (frame) {
                /* The frame holds the password. */
                sodium_memzero(frame, len);
                free(frame);
        }
        return r;
}

pid_t mail_client_supervisor_pid(struct mail_client *c)
{
        return c && c->supervisor_pid > 0 ? c->supervisor_pid : 0;
}

int mail_client_helper_pid(struct mail_client *c)
{
        pid_t pid;

        if (!c)
                return -1;
        pthread_mutex_lock(&c->lock);
        pid = c->helper_pid;
        pthread_mutex_unlock(&c->lock);
        return (int)pid;
}

void mail_client_free(struct mail_client *c)
{
        if (!c)
                return;
        channel_close(c);
        if (c->control_fd >= 0)
                (void)close(c->control_fd);
        supervisor_reap(c->supervisor_pid);
        free(c->socket_path);
        pthread_mutex_destroy(&c->lock);
        free(c);
}
