/* SPDX-License-Identifier: MIT */
/*
 * Requests running at once, counted per owner (a user, a device) and per
 * client address, with a maximum for each.  Blob uploads use it so that one
 * account or one address cannot fill the disk with many parallel temporary
 * files before any quota is checked (the quota is known only at the end of
 * each upload); pulls, so that one device cannot make the daemon build
 * hundreds of pages at once.  Thread-safe; at most one slot per request.
 */
#pragma once

struct request_slots;
struct request_slot;

int request_slots_new(struct request_slots **ret);
void request_slots_free(struct request_slots *s);

/*
 * Take a slot for a request of owner from client (a rate-limit key).
 * Returns 0 with *ret set, -EBUSY when owner already has max_owner
 * requests running or client max_client, -ENOMEM.
 */
int request_slots_take(struct request_slots *s, const char *owner, const char *client,
                       unsigned max_owner, unsigned max_client, struct request_slot **ret);

/* Give the slot back (NULL is fine). */
void request_slots_release(struct request_slots *s, struct request_slot *slot);
