/* SPDX-License-Identifier: MIT */
/*
 * The one monotonic clock of both programs: deadlines, timeouts and
 * durations are measured with it, never with the wall clock, so that a
 * clock step (NTP, an operator, faketime) cannot stretch or cut them.
 */
#pragma once

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in microseconds. */
uint64_t clock_now_usec(void);

/* The CLOCK_MONOTONIC time usec from now, as a timespec (for
 * pthread_cond_timedwait() on a condition set to that clock, or
 * pthread_mutex_clocklock()). */
struct timespec clock_after_usec(uint64_t usec);
