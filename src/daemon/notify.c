/* SPDX-License-Identifier: MIT */
/* Implementation of daemon/notify.h on top of sd_notify(3). */
#include "daemon/notify.h"

#include <errno.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "util/log.h"

/* A failed probe is retried after this fraction of the ping interval, so
 * a lock that clears quickly does not cost the deadline. */
#define WATCHDOG_RETRY_DIVISOR 5

/* Bounds of one probe, in milliseconds. */
#define WATCHDOG_PROBE_MIN_MS 10
#define WATCHDOG_PROBE_MAX_MS 1000

int watchdog_init(struct watchdog *w, uint64_t now_usec)
{
        uint64_t usec = 0;
        int r;

        *w = (struct watchdog){0};
        r = sd_watchdog_enabled(0, &usec);
        if (r <= 0)
                return r;
        w->interval_usec = usec / 2;
        if (w->interval_usec == 0)
                w->interval_usec = 1;
        w->next_usec = now_usec; /* first ping right away */
        return 1;
}

uint64_t watchdog_due_in(const struct watchdog *w, uint64_t now_usec)
{
        if (w->interval_usec == 0)
                return UINT64_MAX;
        return w->next_usec > now_usec ? w->next_usec - now_usec : 0;
}

unsigned watchdog_probe_timeout_ms(const struct watchdog *w)
{
        uint64_t ms = w->interval_usec / 8 / 1000;

        if (ms < WATCHDOG_PROBE_MIN_MS)
                ms = WATCHDOG_PROBE_MIN_MS;
        if (ms > WATCHDOG_PROBE_MAX_MS)
                ms = WATCHDOG_PROBE_MAX_MS;
        return (unsigned)ms;
}

int watchdog_feed(struct watchdog *w, uint64_t now_usec, int probe_result)
{
        if (w->interval_usec == 0)
                return 0;
        if (probe_result < 0) {
                if (!w->wedged) {
                        struct log_field f[] = {{"EVENT", "watchdog_withheld"}};
                        log_emit(LOG_WARNING, probe_result, f, ELEMENTSOF(f),
                                 "Database does not take the write lock (%m); withholding "
                                 "watchdog pings");
                        (void)sd_notify(0, "STATUS=Database not answering; watchdog withheld");
                }
                w->wedged = true;
                w->next_usec = now_usec + w->interval_usec / WATCHDOG_RETRY_DIVISOR;
                return 0;
        }
        if (w->wedged) {
                struct log_field f[] = {{"EVENT", "watchdog_resumed"}};
                log_struct(LOG_NOTICE, f, "Database answers again; watchdog pings resumed");
                w->wedged = false;
        }
        (void)sd_notify(0, "WATCHDOG=1");
        w->next_usec = now_usec + w->interval_usec;
        return 1;
}

void notify_reloading(uint64_t now_usec)
{
        (void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=Reloading",
                         (unsigned long long)now_usec);
}
