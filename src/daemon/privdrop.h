/* SPDX-License-Identifier: MIT */
/*
 * Changing identity when started as root: resolve the configured user and
 * group up front (so a typo fails before anything is created), hand the
 * data directory to that user, then setgroups/setgid/setuid and prove that
 * root cannot be regained.  No logging: callers log once with the errno.
 * Does not decide whether to drop (that is main()'s policy) and touches no
 * files outside the directory it is given.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* The configuration file's name in the data directory. */
#define PRIVDROP_CONFIG_NAME "config.yml"

struct privdrop_target {
        uid_t uid;
        gid_t gid;
};

/* Whether any of the real, effective or saved user ids is 0. */
bool privdrop_is_root(void);

/*
 * Look up user (a name or a numeric id) and group (a name, a numeric id, or
 * NULL for the user's primary group).  Returns 0, -ESRCH when the user does
 * not exist, -ENOENT when the group does not exist, -EINVAL when the user
 * is root itself (uid 0 is not a target), other negative errno on failure.
 */
int privdrop_resolve(const char *user, const char *group, struct privdrop_target *ret);

/*
 * Give the directory dirfd and everything below it to uid:gid.  Symbolic
 * links are neither followed nor changed, a regular file with more than
 * one hard link is skipped (it may be a link to a file outside), and so is
 * anything owned by another account than root or uid (the mail helper's
 * outbox).  A root-owned PRIVDROP_CONFIG_NAME directly in dirfd keeps its
 * owner and only gets group gid: the account may read its configuration
 * but not rewrite what root reads at the next start.  The entry named keep
 * directly under dirfd (NULL: none) and everything below it are left as
 * they are.  Depth is bounded by PRIVDROP_CHOWN_DEPTH.  Returns the number
 * of entries changed, or negative errno (the first failure; the walk stops
 * there).
 */
int privdrop_chown_tree(int dirfd, uid_t uid, gid_t gid, const char *keep);

/*
 * Drop to t: clear supplementary groups, set real/effective/saved gid then
 * uid, and verify that setuid(0), setgid(0) and setgroups() now fail and
 * that no capability is left.  Returns 0, or negative errno (-EPERM when a
 * check shows privileges could be regained: the caller must exit).
 */
int privdrop_apply(const struct privdrop_target *t);
