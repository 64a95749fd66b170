/* SPDX-License-Identifier: MIT */
/* Implementation of api/request_slots.h: a list of running requests under
 * a mutex; it holds at most one entry per open connection. */
#include "api/request_slots.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct request_slot {
        char owner[64];
        char client[64];
        struct request_slot *prev, *next;
};

struct request_slots {
        pthread_mutex_t lock;
        struct request_slot *head;
};

int request_slots_new(struct request_slots **ret)
{
        struct request_slots *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        pthread_mutex_init(&s->lock, NULL);
        *ret = s;
        return 0;
}

void request_slots_free(struct request_slots *s)
{
        if (!s)
                return;
        while (s->head) {
                struct request_slot *next = s->head->next;
                free(s->head);
                s->head = next;
        }
        pthread_mutex_destroy(&s->lock);
        free(s);
}

int request_slots_take(struct request_slots *s, const char *owner, const char *client,
                       unsigned max_owner, unsigned max_client, struct request_slot **ret)
{
        struct request_slot *slot = calloc(1, sizeof(*slot));
        unsigned by_owner = 0, by_client = 0;

        if (!slot)
                return -ENOMEM;
        snprintf(slot->owner, sizeof(slot->owner), "%s", owner);
        snprintf(slot->client, sizeof(slot->client), "%s", client);
        pthread_mutex_lock(&s->lock);
        for (struct request_slot *o = s->head; o; o = o->next) {
                by_owner += strcmp(o->owner, slot->owner) == 0;
                by_client += strcmp(o->client, slot->client) == 0;
        }
        if (by_owner >= max_owner || by_client >= max_client) {
                pthread_mutex_unlock(&s->lock);
                free(slot);
                return -EBUSY;
        }
        slot->next = s->head;
        if (s->head)
                s->head->prev = slot;
        s->head = slot;
        pthread_mutex_unlock(&s->lock);
        *ret = slot;
        return 0;
}

void request_slots_release(struct request_slots *s, struct request_slot *slot)
{
        if (!slot)
                return;
        pthread_mutex_lock(&s->lock);
        if (slot->prev)
                slot->prev->next = slot->next;
        else
                s->head = slot->next;
        if (slot->next)
                slot->next->prev = slot->prev;
        pthread_mutex_unlock(&s->lock);
        free(slot);
}
