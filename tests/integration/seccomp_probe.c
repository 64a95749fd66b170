/* SPDX-License-Identifier: MIT */
/*
 * Test-only LD_PRELOAD library for the sandbox suite: it makes the real,
 * unmodified daemon attempt forbidden system calls on request, so the suite
 * can prove the seccomp filter kills it.  Nothing of this is built into the
 * daemon.  SIGUSR2: execve("/bin/true").  SIGUSR1: socket(AF_INET).
 * SIGPWR: an executable mapping.  SIGXCPU: connect() on a unix socket.
 * Should the call go through (no filter), the process exits 99, 98, 96 or
 * 95 instead of dying from SIGSYS, after creating the file named by
 * $VERSTAK_PROBE_MARK when that is set (for processes the test cannot
 * wait for, such as the mail helper).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

extern char **environ;

static void on_usr2(int sig)
{
        char *const argv[] = {"/bin/true", NULL};
        (void)sig;
        execve("/bin/true", argv, environ);
        _exit(99);
}

static void on_usr1(int sig)
{
        (void)sig;
        if (socket(AF_INET, SOCK_STREAM, 0) >= 0)
                _exit(98);
        _exit(97);
}

/* The forbidden call went through: leave a mark, exit with code. */
static void went_through(int code)
{
        const char *mark = getenv("VERSTAK_PROBE_MARK");

        if (mark)
                close(open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
        _exit(code);
}

static void on_pwr(int sig)
{
        (void)sig;
        void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        went_through(p != MAP_FAILED ? 96 : 94);
}

static void on_xcpu(int sig)
{
        struct sockaddr_un sun = {.sun_family = AF_UNIX, .sun_path = "/run/dbus/system_bus_socket"};
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        (void)sig;
        (void)connect(fd, (struct sockaddr *)&sun, sizeof(sun));
        went_through(95);
}

__attribute__((constructor)) static void probe_install(void)
{
        struct sigaction sa = {0};

        sa.sa_handler = on_pwr;
        sigaction(SIGPWR, &sa, NULL);
        sa.sa_handler = on_xcpu;
        sigaction(SIGXCPU, &sa, NULL);

        sa.sa_handler = on_usr2;
        sigaction(SIGUSR2, &sa, NULL);
        sa.sa_handler = on_usr1;
        sigaction(SIGUSR1, &sa, NULL);
}
