/* SPDX-License-Identifier: MIT */
/* Implementation of daemon/privdrop.h. */
#include "daemon/privdrop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/text.h"

/* Deepest directory level handed over: blobs/ab/cd/<sha256> is 3 below the
 * data directory; anything much deeper was not made by the daemon. */
#define PRIVDROP_CHOWN_DEPTH 8

/* Buffer for getpwnam_r/getgrnam_r when sysconf gives no hint. */
#define PRIVDROP_NSS_BUF 16384

bool privdrop_is_root(void)
{
        uid_t r, e, s;

        if (getresuid(&r, &e, &s) < 0)
                return geteuid() == 0;
        return r == 0 || e == 0 || s == 0;
}

/* A non-negative decimal id, or -EINVAL. */
static int parse_id(const char *s, uint32_t *ret)
{
        uint64_t v;

        if (parse_u64(s, &v) < 0 || v >= UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t)v;
        return 0;
}

int privdrop_resolve(const char *user, const char *group, struct privdrop_target *ret)
{
        struct passwd pw, *pwp = NULL;
        struct group gr, *grp = NULL;
        _cleanup_free_ char *buf = NULL;
        uint32_t id;
        int r;

        if (!user || !*user)
                return -EINVAL;
        buf = malloc(PRIVDROP_NSS_BUF);
        if (!buf)
                return -ENOMEM;

        struct privdrop_target t;
        if (parse_id(user, &id) == 0)
                r = getpwuid_r((uid_t)id, &pw, buf, PRIVDROP_NSS_BUF, &pwp);
        else
                r = getpwnam_r(user, &pw, buf, PRIVDROP_NSS_BUF, &pwp);
        if (r != 0)
                return -r;
        if (!pwp)
                return -ESRCH;
        t.uid = pw.pw_uid;
        t.gid = pw.pw_gid;

        if (group && *group) {
                if (parse_id(group, &id) == 0)
                        r = getgrgid_r((gid_t)id, &gr, buf, PRIVDROP_NSS_BUF, &grp);
                else
                        r = getgrnam_r(group, &gr, buf, PRIVDROP_NSS_BUF, &grp);
                if (r != 0)
                        return -r;
                if (!grp)
                        return -ENOENT;
                t.gid = gr.gr_gid;
        }
        if (t.uid == 0 || t.gid == 0)
                return -EINVAL;
        *ret = t;
        return 0;
}

static int chown_entry(int dirfd, const char *name, const struct stat *st, uid_t uid, gid_t gid)
{
        if (st->st_uid == uid && st->st_gid == gid)
                return 0;
        if (fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        return 1;
}

static int chown_dir(int fd, uid_t uid, gid_t gid, unsigned depth, const char *keep)
{
        DIR *d;
        struct dirent *de;
        int changed = 0, r = 0;

        if (depth > PRIVDROP_CHOWN_DEPTH)
                return -ELOOP;
        /* fdopendir takes ownership, so give it a descriptor of its own:
         * a new open file description, not a dup() that would share (and
         * move) the caller's directory offset, so a second walk over the
         * same fd starts at the beginning too. */
        int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        d = fdopendir(dfd);
        if (!d) {
                r = -errno;
                close(dfd);
                return r;
        }
        while (r >= 0 && (errno = 0, de = readdir(d))) {
                struct stat st;

                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (depth == 0 && keep && strcmp(de->d_name, keep) == 0)
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = -errno;
                        break;
                }
                if (S_ISLNK(st.st_mode) || (S_ISREG(st.st_mode) && st.st_nlink > 1))
                        continue;
                /* Another account's files (the mail helper's outbox) stay
                 * its own. */
                if (st.st_uid != 0 && st.st_uid != uid)
                        continue;
                /* The configuration stays root's: the account may read it
                 * (SIGHUP), never change it. */
                if (depth == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 &&
                    strcmp(de->d_name, PRIVDROP_CONFIG_NAME) == 0) {
                        if (st.st_gid != gid &&
                            fchownat(dirfd(d), de->d_name, 0, gid, AT_SYMLINK_NOFOLLOW) < 0) {
                                r = -errno;
                                break;
                        }
                        continue;
                }
                r = chown_entry(dirfd(d), de->d_name, &st, uid, gid);
                if (r < 0)
                        break;
                changed += r;
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sub =
                                openat(dirfd(d), de->d_name,
                                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0) {
                                r = -errno;
                                break;
                        }
                        r = chown_dir(sub, uid, gid, depth + 1, NULL);
                        if (r > 0)
                                changed += r;
                }
        }
        if (r >= 0 && errno != 0)
                r = -errno;
        closedir(d);
        return r < 0 ? r : changed;
}

int privdrop_chown_tree(int dirfd, uid_t uid, gid_t gid, const char *keep)
{
        struct stat st;
        int r, changed = 0;

        if (fstat(dirfd, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        if (st.st_uid != uid || st.st_gid != gid) {
                if (fchown(dirfd, uid, gid) < 0)
                        return -errno;
                changed = 1;
        }
        r = chown_dir(dirfd, uid, gid, 0, keep);
        return r < 0 ? r : changed + r;
}

/* Whether the permitted and effective sets are empty.  The ambient set is
 * a subset of the permitted one, and the bounding set grants nothing by
 * itself. */
static bool privdrop_no_capabilities(void)
{
        struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {0};

        if (syscall(SYS_capget, &hdr, data) < 0)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(data); i++)
                if (data[i].permitted || data[i].effective)
                        return false;
        return true;
}

int privdrop_apply(const struct privdrop_target *t)
{
        uid_t ru, eu, su;
        gid_t rg, eg, sg;

        if (setgroups(0, NULL) < 0)
                return -errno;
        if (setresgid(t->gid, t->gid, t->gid) < 0)
                return -errno;
        if (setresuid(t->uid, t->uid, t->uid) < 0)
                return -errno;

        /* Verify, rather than trust, the result. */
        if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
                return -errno;
        if (ru != t->uid || eu != t->uid || su != t->uid || rg != t->gid || eg != t->gid ||
            sg != t->gid)
                return -EPERM;
        if (getgroups(0, NULL) != 0)
                return -EPERM;
        if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0 || setgroups(0, NULL) == 0)
                return -EPERM;
        return privdrop_no_capabilities() ? 0 : -EPERM;
}
