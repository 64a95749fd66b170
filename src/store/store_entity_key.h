/* SPDX-License-Identifier: MIT */
/*
 * The entity key of an op: a 64-bit hash of (user, vault, entity type,
 * entity id), stored in server_ops.entity_key (schema version 8) and
 * indexed with the sequence.  The conflict lookup of a push finds an
 * entity's history through that short index and then compares the real
 * columns, so two entities whose keys collide only cost a few more rows
 * read, never a wrong answer.
 *
 * Why a hash: the index it replaced held the four text columns in full,
 * ten times the bytes of this one, and each op of a push lands on a page
 * of its own in it; the pages a commit writes to the WAL, and later
 * checkpoints into the database, were mostly that index's.
 *
 * The hash is SipHash-2-4 (libsodium's crypto_shorthash) under a fixed,
 * public key over the four fields, each preceded by its length.  Keys are
 * stored, so the function and its key never change; it is the same on
 * every back end and every daemon.  Not a secret: a client can make its
 * own entities' keys collide (about 2^32 hashes a pair) and so slow the
 * lookups of its own entities; to land on another entity's key it would
 * need about 2^64, and even then costs only a row read, never a hint.
 */
#pragma once

#include <stdint.h>

#include "store/db.h"

/* The entity key of one entity into *ret: 0, or -ENOMEM (fields longer
 * than a stack buffer are hashed from the heap). */
int store_entity_key(const char *user_id, const char *vault_id, const char *entity_type,
                     const char *entity_id, int64_t *ret);

/* Migration to schema version 8 on either back end, inside the caller's
 * migration transaction: add server_ops.entity_key, fill it for every
 * row, index it and drop the index it replaces.  0 or a negative errno
 * (logged). */
int store_entity_key_migrate(struct db_conn *c);
