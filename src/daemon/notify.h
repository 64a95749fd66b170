/* SPDX-License-Identifier: MIT */
/*
 * Talking to the service manager beyond READY=1/STATUS=: the watchdog
 * schedule and the reload handshake.  Decides when a WATCHDOG=1 is due and
 * sends it only for a probe that succeeded; what the probe checks is the
 * caller's business (no store knowledge here).  Without NOTIFY_SOCKET every
 * function is a cheap no-op.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct watchdog {
        uint64_t interval_usec; /* half of WATCHDOG_USEC; 0 when disabled */
        uint64_t next_usec;     /* CLOCK_MONOTONIC time of the next attempt */
        bool wedged;            /* the last probe failed */
};

/* Read WATCHDOG_USEC (and WATCHDOG_PID) through sd_watchdog_enabled().
 * Returns 1 when the watchdog is on, 0 when off, negative errno when the
 * environment is malformed. */
int watchdog_init(struct watchdog *w, uint64_t now_usec);

/* Microseconds until the next probe is due (0 when due now); UINT64_MAX
 * when the watchdog is off. */
uint64_t watchdog_due_in(const struct watchdog *w, uint64_t now_usec);

/* Upper bound for one probe, in milliseconds: an eighth of the watchdog
 * interval, between 10 ms and 1 s, so a stuck probe never costs a ping. */
unsigned watchdog_probe_timeout_ms(const struct watchdog *w);

/*
 * Act on the probe run at now_usec: send WATCHDOG=1 when probe_result >= 0,
 * withhold it otherwise (retrying sooner).  Logs once when the store stops
 * answering and once when it answers again.  Returns 1 when a ping was
 * sent, 0 when withheld.
 */
int watchdog_feed(struct watchdog *w, uint64_t now_usec, int probe_result);

/* RELOADING=1 with the MONOTONIC_USEC the service manager expects. */
void notify_reloading(uint64_t now_usec);
