/* SPDX-License-Identifier: MIT */
/*
 * Concurrent blob uploads, counted per user and per client address, so one
 * account or one address cannot fill the disk with many parallel temporary
 * files before any quota is checked (the quota is known only at the end of
 * each upload).  Thread-safe; at most one slot per request.
 */
#pragma once

struct upload_slots;
struct upload_slot;

int upload_slots_new(struct upload_slots **ret);
void upload_slots_free(struct upload_slots *s);

/*
 * Take a slot for an upload by user from client (a rate-limit key).
 * Returns 0 with *ret set, -EBUSY when user already has max_user uploads
 * running or client max_client, -ENOMEM.
 */
int upload_slots_take(struct upload_slots *s, const char *user, const char *client,
                      unsigned max_user, unsigned max_client, struct upload_slot **ret);

/* Give the slot back (NULL is fine). */
void upload_slots_release(struct upload_slots *s, struct upload_slot *slot);
