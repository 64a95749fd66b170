/* SPDX-License-Identifier: MIT */
/* Implementation of api/longpoll_remote.h. */
#include "api/longpoll_remote.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "api/longpoll.h"
#include "store/pg/pg_changes.h"
#include "util/log.h"

/* How long one wait lasts: the thread checks for stop in between. */
#define REMOTE_WAIT_MS 500

struct longpoll_remote {
        struct longpoll *lp;
        struct pg_changes *changes;
        pthread_t thread;
        atomic_bool stop;
};

static void *remote_main(void *userdata)
{
        struct longpoll_remote *r = userdata;
        struct pg_changes_batch b = {0};

        while (!atomic_load(&r->stop)) {
                if (pg_changes_wait(r->changes, REMOTE_WAIT_MS, &b) < 0) {
                        log_oom();
                        continue;
                }
                if (b.lost)
                        log_warning("Database notifications lost; long polls are woken by a "
                                    "sequence check every %d ms until they are back",
                                    PG_CHANGES_FALLBACK_MS);
                if (b.restored)
                        log_notice("Database notifications back");
                for (size_t i = 0; i < b.n; i++)
                        longpoll_notify(r->lp, b.items[i].user_id, b.items[i].vault_id,
                                        b.items[i].seq);
                if (b.all)
                        longpoll_notify_all(r->lp, b.all_seq);
                pg_changes_batch_done(&b);
        }
        return NULL;
}

int longpoll_remote_start(struct longpoll *lp, struct pg_changes *c, struct longpoll_remote **ret)
{
        struct longpoll_remote *r = calloc(1, sizeof(*r));
        int e;

        if (!r)
                return -ENOMEM;
        r->lp = lp;
        r->changes = c;
        atomic_init(&r->stop, false);
        e = pthread_create(&r->thread, NULL, remote_main, r);
        if (e != 0) {
                free(r);
                return -e;
        }
        *ret = r;
        return 0;
}

void longpoll_remote_stop(struct longpoll_remote *r)
{
        if (!r)
                return;
        atomic_store(&r->stop, true);
        pthread_join(r->thread, NULL);
        free(r);
}
