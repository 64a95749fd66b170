/* SPDX-License-Identifier: MIT */
/*
 * What the benchmarks read about the daemon from /proc: its CPU time
 * (utime + stime, the figure a busy machine disturbs least when divided
 * by the requests served) and its memory (VmRSS, RssAnon, PSS).
 * Header-only: each benchmark is one program.
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* The daemon's CPU time so far (user + system) in seconds, or -1. */
static inline double proc_cpu_s(long pid)
{
        char path[64], buf[1024];
        unsigned long ut = 0, st = 0;
        const char *p;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
        f = fopen(path, "r");
        if (!f)
                return -1;
        p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
        fclose(f);
        /* Fields 14 and 15, counted after the ")" that ends the name. */
        if (!p ||
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
                return -1;
        return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A "Field:" of /proc/PID/<file> in KiB, or -1. */
static inline long proc_kib(long pid, const char *file, const char *field)
{
        char path[64], line[256];
        long v = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%ld/%s", pid, file);
        f = fopen(path, "r");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, field, strlen(field)) == 0)
                        v = atol(line + strlen(field));
        fclose(f);
        return v;
}

/* "RSS x MiB, RssAnon y MiB, PSS z MiB" of the daemon, after label. */
static inline void proc_print_memory(long pid, const char *label)
{
        printf("  memory %s: RSS %.1f MiB, RssAnon %.1f MiB, PSS %.1f MiB\n", label,
               (double)proc_kib(pid, "status", "VmRSS:") / 1024.0,
               (double)proc_kib(pid, "status", "RssAnon:") / 1024.0,
               (double)proc_kib(pid, "smaps_rollup", "Pss:") / 1024.0);
}

/* The daemon hands memory back once a burst is over, at its next quiet
 * tick (server/heap.h: every 5 s); this is long enough for two. */
#define PROC_SETTLE_SECONDS 11

/* The same after PROC_SETTLE_SECONDS without requests from the benchmark. */
static inline void proc_print_memory_settled(long pid, const char *label)
{
        char settled[128];

        fflush(stdout);
        sleep(PROC_SETTLE_SECONDS);
        snprintf(settled, sizeof(settled), "%s, %d s later", label, PROC_SETTLE_SECONDS);
        proc_print_memory(pid, settled);
}
