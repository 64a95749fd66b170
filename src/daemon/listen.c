/* SPDX-License-Identifier: MIT */
/* Implementation of daemon/listen.h. */
#include "daemon/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/log.h"
#include "util/netaddr.h"

/* Pending-connection queue for a socket we bind ourselves. */
#define LISTEN_BACKLOG 512

static int bind_address(const char *address)
{
        struct sockaddr_storage ss;
        socklen_t len;
        _cleanup_close_ int fd = -1;
        int one = 1;

        if (listen_address_parse(address, &ss, &len) < 0)
                return -EINVAL;
        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (ss.ss_family == AF_UNIX) {
                const char *path = ((struct sockaddr_un *)&ss)->sun_path;
                struct stat st;
                /* Remove a stale socket left by an earlier run, nothing else. */
                if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
                        (void)unlink(path);
        } else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *)&ss, len) < 0)
                return -errno;
        if (listen(fd, LISTEN_BACKLOG) < 0)
                return -errno;
        return TAKE_FD(fd);
}

int listen_acquire(const char *address, int fds[LISTEN_MAX_FDS], int *ret_activated)
{
        int metrics_fd, n;

        n = listen_acquire_with_metrics(address, NULL, fds, ret_activated, &metrics_fd);
        if (metrics_fd >= 0)
                (void)close(metrics_fd);
        return n;
}

static void free_names(char ***names)
{
        if (!*names)
                return;
        for (char **p = *names; *p; p++)
                free(*p);
        free(*names);
}

int listen_acquire_with_metrics(const char *address, const char *metrics_address,
                                int fds[LISTEN_MAX_FDS], int *ret_activated, int *ret_metrics_fd)
{
        __attribute__((cleanup(free_names))) char **names = NULL;
        int n = sd_listen_fds_with_names(1, &names), k = 0, metrics_fd = -1;

        *ret_metrics_fd = -1;
        if (n < 0)
                return n;
        if (n > LISTEN_MAX_FDS)
                return -E2BIG;
        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i;
                if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0)
                        return -ENOTSOCK;
                (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
                if (names && names[i] && strcmp(names[i], LISTEN_METRICS_NAME) == 0)
                        metrics_fd = fd;
                else
                        fds[k++] = fd;
        }
        if (n > 0 && k == 0)
                return -ENOENT; /* only a metrics socket: nothing to serve the API on */
        if (n == 0) {
                int fd = bind_address(address);
                if (fd < 0)
                        return fd;
                fds[k++] = fd;
        }
        if (metrics_fd < 0 && metrics_address) {
                metrics_fd = bind_address(metrics_address);
                if (metrics_fd < 0) {
                        if (n == 0)
                                (void)close(fds[0]);
                        return metrics_fd;
                }
        }
        *ret_activated = n > 0;
        *ret_metrics_fd = metrics_fd;
        return k;
}

int listen_describe(int fd, char *out, size_t size)
{
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        char ip[INET6_ADDRSTRLEN];

        memset(&ss, 0, sizeof(ss)); /* getsockname() fills only len bytes */
        if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
                return -errno;
        if (ss.ss_family == AF_UNIX) {
                snprintf(out, size, "unix:%s", ((struct sockaddr_un *)&ss)->sun_path);
                return 0;
        }
        if (sockaddr_format_ip((struct sockaddr *)&ss, ip, sizeof(ip)) < 0)
                return -EINVAL;
        unsigned port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                                 : ntohs(((struct sockaddr_in *)&ss)->sin_port);
        snprintf(out, size, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
        return 0;
}
