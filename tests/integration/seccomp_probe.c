/* SPDX-License-Identifier: MIT */
/*
 * Test-only LD_PRELOAD library for the sandbox suite: it makes the real,
 * unmodified daemon attempt forbidden system calls on request, so the suite
 * can prove the seccomp filter kills it.  Nothing of this is built into the
 * daemon.  SIGUSR2: execve("/bin/true").  SIGUSR1: socket(AF_INET).
 * Should the call succeed (no filter), the process exits 99 or 98 instead
 * of dying from SIGSYS.
 */
#include <signal.h>
#include <sys/socket.h>
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

__attribute__((constructor)) static void probe_install(void)
{
        struct sigaction sa = {0};

        sa.sa_handler = on_usr2;
        sigaction(SIGUSR2, &sa, NULL);
        sa.sa_handler = on_usr1;
        sigaction(SIGUSR1, &sa, NULL);
}
