/* SPDX-License-Identifier: MIT */
/*
 * Long polls woken by pushes other daemons commit on the shared PostgreSQL
 * database: one thread waits in store/pg/pg_changes (LISTEN/NOTIFY, with its
 * reconnects and high-water fallback) and hands what it hears to the
 * long-poll table (longpoll_notify() per scope, longpoll_notify_all() when
 * the scopes are unknown).  The store never calls into this: the thread
 * asks, the store answers.  It logs when the notifications are lost and
 * when they are back.
 */
#pragma once

struct longpoll;
struct pg_changes;
struct longpoll_remote;

/* Start the thread; it uses c (owned by the caller, freed after
 * longpoll_remote_stop()).  Returns 0 or negative errno. */
int longpoll_remote_start(struct longpoll *lp, struct pg_changes *c, struct longpoll_remote **ret);

/* Stop and join the thread (within one wait, about half a second, or a
 * reconnect's connect timeout).  NULL ok. */
void longpoll_remote_stop(struct longpoll_remote *r);
