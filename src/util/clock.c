/* SPDX-License-Identifier: MIT */
/* Implementation of util/clock.h. */
#include "util/clock.h"

#define USEC_PER_SEC  1000000u
#define NSEC_PER_USEC 1000u

static uint64_t timespec_usec(const struct timespec *ts)
{
        return (uint64_t)ts->tv_sec * USEC_PER_SEC + (uint64_t)ts->tv_nsec / NSEC_PER_USEC;
}

uint64_t clock_now_usec(void)
{
        struct timespec ts;

        /* Cannot fail with a valid clock id and pointer. */
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return timespec_usec(&ts);
}

struct timespec clock_after_usec(uint64_t usec)
{
        uint64_t at = clock_now_usec() + usec;

        return (struct timespec){.tv_sec = (time_t)(at / USEC_PER_SEC),
                                 .tv_nsec = (long)(at % USEC_PER_SEC) * (long)NSEC_PER_USEC};
}
