/* SPDX-License-Identifier: MIT */
/* Implementation of api/upload_slots.h: a list of running uploads under a
 * mutex; it holds at most one entry per open connection. */
#include "api/upload_slots.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct upload_slot {
        char user[64];
        char client[64];
        struct upload_slot *prev, *next;
};

struct upload_slots {
        pthread_mutex_t lock;
        struct upload_slot *head;
};

int upload_slots_new(struct upload_slots **ret)
{
        struct upload_slots *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        pthread_mutex_init(&s->lock, NULL);
        *ret = s;
        return 0;
}

void upload_slots_free(struct upload_slots *s)
{
        if (!s)
                return;
        while (s->head) {
                struct upload_slot *next = s->head->next;
                free(s->head);
                s->head = next;
        }
        pthread_mutex_destroy(&s->lock);
        free(s);
}

int upload_slots_take(struct upload_slots *s, const char *user, const char *client,
                      unsigned max_user, unsigned max_client, struct upload_slot **ret)
{
        struct upload_slot *slot = calloc(1, sizeof(*slot));
        unsigned by_user = 0, by_client = 0;

        if (!slot)
                return -ENOMEM;
        snprintf(slot->user, sizeof(slot->user), "%s", user);
        snprintf(slot->client, sizeof(slot->client), "%s", client);
        pthread_mutex_lock(&s->lock);
        for (struct upload_slot *o = s->head; o; o = o->next) {
                by_user += strcmp(o->user, slot->user) == 0;
                by_client += strcmp(o->client, slot->client) == 0;
        }
        if (by_user >= max_user || by_client >= max_client) {
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

void upload_slots_release(struct upload_slots *s, struct upload_slot *slot)
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
