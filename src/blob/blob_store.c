/* SPDX-License-Identifier: MIT */
/*
 * Implementation of blob/blob_store.h: the files of the blob directory,
 * the claims of committing uploads and the list of uploads in progress.
 * No SQL here and no HTTP; callers decide what is still needed.
 */
#include "blob/blob_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/text.h"

/* Mode of new blob files and prefix directories (further limited by the
 * umask). */
#define BLOB_FILE_MODE 0640
#define BLOB_DIR_MODE  0750
/* Random bytes in a temporary file's name. */
#define BLOB_TEMP_RANDOM 16
/* Copying a blob to another store (backup, restore) reads this much at once. */
#define BLOB_COPY_CHUNK (1024 * 1024)
/* Helper threads that write and hash the buffers of large uploads (see
 * "helpers" below): one per CPU the process may run on, at most this many,
 * each with this stack (it calls write() and nettle's compression
 * function, nothing deeper). */
#define BLOB_HELPERS_MAX  16
#define BLOB_HELPER_STACK (128 * 1024)

/* An upload between commit and release, per hash: while any exists, the
 * file of that hash is not removed. */
struct blob_claim {
        char sha256[BLOB_HASH_HEX + 1];
        unsigned count;
        struct blob_claim *next;
};

struct blob_store {
        int dirfd;
        /* Claims seen by other processes: open file descriptions of
         * BLOB_CLAIMS_FILE holding byte-range (OFD) locks, see claim_lock().
         * Opened at the first claim or removal (lock held); -1 before, or
         * when the file cannot be opened (a read-only directory). */
        int claim_fd;  /* read locks: claims of this process's uploads */
        int remove_fd; /* write locks: a removal in progress */
        bool claims_opened;
        pthread_mutex_t lock; /* guards claims and uploads */
        struct blob_claim *claims;
        struct blob_upload *uploads; /* in progress, newest first */

        /* The helpers and their queue, all guarded by jobs_lock (never
         * taken together with lock).  helpers_started says whether the
         * threads were asked for; n_helpers how many run (0: uploads write
         * and hash their buffers themselves). */
        pthread_mutex_t jobs_lock;
        pthread_cond_t job_queued;
        struct blob_upload *jobs_head, *jobs_tail;
        pthread_t helpers[BLOB_HELPERS_MAX];
        unsigned helpers_wanted; /* counted at blob_store_new() */
        unsigned n_helpers;
        unsigned n_helped; /* uploads holding a ring of buffers */
        bool helpers_started;
        bool helpers_stop;
};

struct blob_upload {
        struct blob_store *bs;
        struct blob_upload *prev, *next;
        int fd;
        char temp[sizeof(BLOB_TEMP_PREFIX) + 2 * BLOB_TEMP_RANDOM];
        bool temp_exists;
        /* After a commit that replaced a file already at the address: that
         * file, now under the temporary name, to be removed. */
        bool displaced;
        bool finished;
        bool claimed;
        char sha256[BLOB_HASH_HEX + 1];
        uint64_t size, max_size;
        uint64_t written;       /* bytes in the file so far */
        struct sha256_ctx hash; /* nettle: SHA extensions when the CPU has them */
        unsigned char *buf;     /* being filled by the caller */
        size_t buf_len;

        /* A helped upload's buffers (see "helpers" below), a ring:
         * slot[fill] is buf, the caller's; the queued ones before it, from
         * slot[head] on, are with the helpers, oldest first.  Only a helper
         * touches those, fd and hash while queued > 0; queued, head,
         * helper_error and job_next belong to the store's jobs_lock. */
        unsigned char *slot[BLOB_UPLOAD_SLOTS];
        size_t slot_len[BLOB_UPLOAD_SLOTS];
        unsigned fill, head, queued;
        bool helped;
        int helper_error;    /* the first failed write of a helper */
        pthread_cond_t idle; /* signalled when queued drops */
        struct blob_upload *job_next;
};

static inline void closedirp(DIR **d)
{
        if (*d)
                (void)closedir(*d);
}
#define _cleanup_closedir_ _cleanup_(closedirp)

/* "ab/cd/abcd…" for a hash; -EINVAL when it is not 64 lower-case hex. */
static int blob_path(const char *sha256, char out[BLOB_HASH_HEX + 7])
{
        if (!hex_is_lower(sha256, BLOB_HASH_HEX))
                return -EINVAL;
        snprintf(out, BLOB_HASH_HEX + 7, "%.2s/%.2s/%s", sha256, sha256 + 2, sha256);
        return 0;
}

/* One helper per CPU this process may run on (counted now, before any
 * sandbox hides the CPUs), within 1..BLOB_HELPERS_MAX. */
static unsigned helpers_count(void)
{
        cpu_set_t cpus;
        int n;

        if (sched_getaffinity(0, sizeof(cpus), &cpus) < 0)
                return 1;
        n = CPU_COUNT(&cpus);
        return n < 1 ? 1 : n > BLOB_HELPERS_MAX ? BLOB_HELPERS_MAX : (unsigned)n;
}

int blob_store_new(const char *path, struct blob_store **ret)
{
        struct blob_store *bs;

        bs = calloc(1, sizeof(*bs));
        if (!bs)
                return -ENOMEM;
        bs->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (bs->dirfd < 0) {
                int r = -errno;
                free(bs);
                return r;
        }
        bs->claim_fd = bs->remove_fd = -1;
        pthread_mutex_init(&bs->lock, NULL);
        pthread_mutex_init(&bs->jobs_lock, NULL);
        pthread_cond_init(&bs->job_queued, NULL);
        bs->helpers_wanted = helpers_count();
        *ret = bs;
        return 0;
}

static void helpers_stop(struct blob_store *bs);

void blob_store_free(struct blob_store *bs)
{
        if (!bs)
                return;
        helpers_stop(bs);
        while (bs->claims) {
                struct blob_claim *c = bs->claims;
                bs->claims = c->next;
                free(c);
        }
        if (bs->claim_fd >= 0)
                (void)close(bs->claim_fd);
        if (bs->remove_fd >= 0)
                (void)close(bs->remove_fd);
        (void)close(bs->dirfd);
        pthread_mutex_destroy(&bs->lock);
        pthread_mutex_destroy(&bs->jobs_lock);
        pthread_cond_destroy(&bs->job_queued);
        free(bs);
}

/* --- claims (lock held) ------------------------------------------------------ */

/*
 * Claims across processes (an operator's `gc` next to the daemon): every
 * hash maps to one byte of BLOB_CLAIMS_FILE, at the offset its first eight
 * hex digits spell.  A process with claims on a hash holds a read lock on
 * that byte (through claim_fd, taken when the first claim of any hash with
 * that prefix appears, dropped with the last); a removal takes a write
 * lock on it (through remove_fd, a different open file description, so
 * that it also conflicts with this process's own claims) without waiting,
 * and keeps the file when it cannot.  Two hashes sharing a prefix only
 * make a removal keep a file it could have removed.
 */
static off_t claim_offset(const char *sha256)
{
        off_t off = 0;

        for (size_t i = 0; i < 8; i++)
                off = off * 16 + (sha256[i] <= '9' ? sha256[i] - '0' : sha256[i] - 'a' + 10);
        return off;
}

/* Open BLOB_CLAIMS_FILE twice (two open file descriptions), once. */
static void claims_open(struct blob_store *bs)
{
        if (bs->claims_opened)
                return;
        bs->claims_opened = true;
        bs->claim_fd = openat(bs->dirfd, BLOB_CLAIMS_FILE,
                              O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, BLOB_FILE_MODE);
        if (bs->claim_fd >= 0)
                bs->remove_fd =
                        openat(bs->dirfd, BLOB_CLAIMS_FILE, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
}

/* Set (type F_RDLCK/F_WRLCK) or clear (F_UNLCK) the byte of sha256 on fd;
 * wait for a conflicting lock when wait is true.  No file: no-op. */
static int claim_lock(int fd, const char *sha256, short type, bool wait)
{
        struct flock fl = {
                .l_type = type, .l_whence = SEEK_SET, .l_start = claim_offset(sha256), .l_len = 1};

        if (fd < 0)
                return 0;
        while (fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) < 0) {
                if (errno == EINTR)
                        continue;
                return errno == EACCES ? -EAGAIN : -errno;
        }
        return 0;
}

static struct blob_claim **claim_find(struct blob_store *bs, const char *sha256)
{
        struct blob_claim **c = &bs->claims;

        while (*c && strcmp((*c)->sha256, sha256) != 0)
                c = &(*c)->next;
        return c;
}

/* Whether a claim on another hash shares sha256's lock byte. */
static bool claim_prefix_shared(struct blob_store *bs, const char *sha256)
{
        for (struct blob_claim *c = bs->claims; c; c = c->next)
                if (memcmp(c->sha256, sha256, 8) == 0 && strcmp(c->sha256, sha256) != 0)
                        return true;
        return false;
}

/* Take a claim.  The first one of a prefix waits for a removal of that
 * byte in another process (a short database transaction and an unlink). */
static int claim_take(struct blob_store *bs, const char *sha256)
{
        struct blob_claim **c = claim_find(bs, sha256);
        int r;

        claims_open(bs);
        if (!*c) {
                if (!claim_prefix_shared(bs, sha256)) {
                        r = claim_lock(bs->claim_fd, sha256, F_RDLCK, true);
                        if (r < 0)
                                return r;
                }
                *c = calloc(1, sizeof(**c));
                if (!*c) {
                        if (!claim_prefix_shared(bs, sha256))
                                (void)claim_lock(bs->claim_fd, sha256, F_UNLCK, false);
                        return -ENOMEM;
                }
                memcpy((*c)->sha256, sha256, BLOB_HASH_HEX + 1);
        }
        (*c)->count++;
        return 0;
}

static void claim_drop(struct blob_store *bs, const char *sha256)
{
        struct blob_claim **c = claim_find(bs, sha256), *gone;

        if (!*c || --(*c)->count > 0)
                return;
        gone = *c;
        *c = gone->next;
        free(gone);
        if (!claim_prefix_shared(bs, sha256))
                (void)claim_lock(bs->claim_fd, sha256, F_UNLCK, false);
}

/* Remove the file of sha256 if unused() agrees; lock held, no claim. */
static int remove_if_unused(struct blob_store *bs, const char *sha256, blob_unused_fn unused,
                            void *userdata)
{
        char path[BLOB_HASH_HEX + 7];
        int r;

        r = blob_path(sha256, path);
        if (r < 0)
                return r;
        /* Claimed by an upload in another process: keep it. */
        claims_open(bs);
        r = claim_lock(bs->remove_fd, sha256, F_WRLCK, false);
        if (r < 0)
                return r == -EAGAIN ? 0 : r;
        r = unused(userdata, sha256);
        if (r > 0 && unlinkat(bs->dirfd, path, 0) < 0)
                r = errno == ENOENT ? 0 : -errno;
        (void)claim_lock(bs->remove_fd, sha256, F_UNLCK, false);
        return r;
}

int blob_store_remove_unused(struct blob_store *bs, const char *sha256, blob_unused_fn unused,
                             void *userdata)
{
        int r = 0;

        pthread_mutex_lock(&bs->lock);
        if (!*claim_find(bs, sha256))
                r = remove_if_unused(bs, sha256, unused, userdata);
        pthread_mutex_unlock(&bs->lock);
        return r;
}

/* --- uploads ------------------------------------------------------------------ */

/* A write lock (OFD, whole file, without waiting) on an upload's
 * temporary file: held by the upload while it is open, tried by stale
 * upload expiry, so that an upload in progress in another process is never
 * removed whatever its modification time says.  0, or -1 with errno
 * (EAGAIN when another holds it). */
static int temp_lock(int fd)
{
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

        while (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
                if (errno == EINTR)
                        continue;
                if (errno == EACCES)
                        errno = EAGAIN;
                return -1;
        }
        return 0;
}

int blob_upload_new(struct blob_store *bs, uint64_t max_size, struct blob_upload **ret)
{
        uint8_t rnd[BLOB_TEMP_RANDOM];
        char hex[2 * BLOB_TEMP_RANDOM + 1];
        struct blob_upload *u;

        u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        randombytes_buf(rnd, sizeof(rnd));
        hex_encode(rnd, sizeof(rnd), hex);
        snprintf(u->temp, sizeof(u->temp), "%s%s", BLOB_TEMP_PREFIX, hex);
        u->fd = openat(bs->dirfd, u->temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                       BLOB_FILE_MODE);
        if (u->fd < 0) {
                int r = -errno;
                free(u);
                return r;
        }
        /* In use: another process expiring stale uploads leaves it alone
         * for as long as the descriptor is open (see temp_lock()). */
        if (temp_lock(u->fd) < 0) {
                int r = -errno;
                (void)close(u->fd);
                (void)unlinkat(bs->dirfd, u->temp, 0);
                free(u);
                return r;
        }
        u->bs = bs;
        u->temp_exists = true;
        u->max_size = max_size;
        sha256_init(&u->hash);
        pthread_cond_init(&u->idle, NULL);

        pthread_mutex_lock(&bs->lock);
        u->next = bs->uploads;
        if (bs->uploads)
                bs->uploads->prev = u;
        bs->uploads = u;
        pthread_mutex_unlock(&bs->lock);
        *ret = u;
        return 0;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

/*
 * The two passes over an upload's bytes after they left the socket.  Past
 * BLOB_HELP_AFTER, the disk's writeback of each full buffer is started at
 * once, so that the disk works while the upload goes on and the fsync() at
 * its end waits for the last buffers only (64 MiB: 1 ms instead of 25 ms
 * here); it is only a hint, and a filesystem that ignores it loses nothing.
 */
static int write_and_hash(struct blob_upload *u, const unsigned char *p, size_t len)
{
        int r = write_all(u->fd, p, len);

        if (r < 0)
                return r;
        if (len == BLOB_WRITE_BUFFER && u->written >= BLOB_HELP_AFTER)
                (void)sync_file_range(u->fd, (off_t)u->written, (off_t)len, SYNC_FILE_RANGE_WRITE);
        u->written += len;
        sha256_update(&u->hash, len, p);
        return 0;
}

/* --- helpers ------------------------------------------------------------------- */

/*
 * An upload's bytes take three passes: the copy out of the socket (the
 * caller's, in the HTTP server's thread), the write into the page cache
 * and SHA-256.  Once an upload is past BLOB_HELP_AFTER the last two run on
 * a helper thread while the caller fills its next buffer, so that one
 * upload keeps two cores busy instead of one.  The two sides take turns
 * being the slower one (the caller shares its core with the client when
 * both run on one machine), so a helped upload has BLOB_UPLOAD_SLOTS
 * buffers: whichever side is ahead goes on while the other catches up.
 *
 * Invariants: a helped upload's buffers form a ring; the caller fills
 * slot[fill] while the queued ones before it wait for, or are with, the
 * helpers.  The upload is in the queue, or with one helper, exactly when
 * queued > 0, and a helper takes one buffer per turn, the oldest, so its
 * bytes are written and hashed in order whichever helper takes them, and
 * only that helper touches the upload's descriptor and hash meanwhile.  A
 * caller whose next slot is still queued waits for it, as it would have
 * waited for its own write and hash.  The queue is first come, first
 * served, and an upload with more buffers goes back to its tail after
 * each, so a large upload cannot hold the helpers from others.  Nothing is
 * freed or closed while queued > 0 (upload_wait_idle() first).
 *
 * The helpers start with the first upload that needs them.  When they
 * cannot be started, when BLOB_HELPED_PER_HELPER uploads per helper are
 * helped already, or when the buffers cannot be had, the upload writes
 * and hashes its buffers itself, as a small upload always does.
 */

/* Queue u for the helpers (jobs_lock held). */
static void job_append(struct blob_store *bs, struct blob_upload *u)
{
        u->job_next = NULL;
        if (bs->jobs_tail)
                bs->jobs_tail->job_next = u;
        else
                bs->jobs_head = u;
        bs->jobs_tail = u;
        pthread_cond_signal(&bs->job_queued);
}

static void *helper_main(void *userdata)
{
        struct blob_store *bs = userdata;

        (void)pthread_setname_np(pthread_self(), "blob-helper");
        pthread_mutex_lock(&bs->jobs_lock);
        for (;;) {
                struct blob_upload *u = bs->jobs_head;
                unsigned i;
                int r;

                if (!u) {
                        if (bs->helpers_stop)
                                break;
                        pthread_cond_wait(&bs->job_queued, &bs->jobs_lock);
                        continue;
                }
                bs->jobs_head = u->job_next;
                if (!bs->jobs_head)
                        bs->jobs_tail = NULL;
                u->job_next = NULL;
                i = u->head;
                pthread_mutex_unlock(&bs->jobs_lock);

                r = write_and_hash(u, u->slot[i], u->slot_len[i]);

                pthread_mutex_lock(&bs->jobs_lock);
                if (r < 0 && u->helper_error == 0)
                        u->helper_error = r;
                u->head = (i + 1) % BLOB_UPLOAD_SLOTS;
                u->queued--;
                if (u->queued > 0)
                        job_append(bs, u);
                /* The owner may free u as soon as the lock is released
                 * with queued at 0. */
                pthread_cond_signal(&u->idle);
        }
        pthread_mutex_unlock(&bs->jobs_lock);
        return NULL;
}

/* Start the helpers (jobs_lock held, once).  Whatever cannot be started
 * is done without: n_helpers says how many run. */
static void helpers_start(struct blob_store *bs)
{
        pthread_attr_t attr;
        sigset_t all, old;

        bs->helpers_started = true;
        if (pthread_attr_init(&attr) != 0)
                return;
        (void)pthread_attr_setstacksize(&attr, BLOB_HELPER_STACK);
        /* Signals stay with the threads that wait for them. */
        sigfillset(&all);
        if (pthread_sigmask(SIG_BLOCK, &all, &old) == 0) {
                for (unsigned i = 0; i < bs->helpers_wanted; i++)
                        if (pthread_create(&bs->helpers[bs->n_helpers], &attr, helper_main, bs) ==
                            0)
                                bs->n_helpers++;
                (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
        }
        (void)pthread_attr_destroy(&attr);
}

/* Let the helpers finish and join them.  No upload may be left. */
static void helpers_stop(struct blob_store *bs)
{
        pthread_mutex_lock(&bs->jobs_lock);
        bs->helpers_stop = true;
        pthread_cond_broadcast(&bs->job_queued);
        pthread_mutex_unlock(&bs->jobs_lock);
        for (unsigned i = 0; i < bs->n_helpers; i++)
                (void)pthread_join(bs->helpers[i], NULL);
        bs->n_helpers = 0;
}

/* Wait until at most max of u's buffers are with the helpers; the first
 * error of its helpers' writes, or 0. */
static int upload_wait_queued(struct blob_upload *u, unsigned max)
{
        struct blob_store *bs = u->bs;
        int r;

        pthread_mutex_lock(&bs->jobs_lock);
        while (u->queued > max)
                pthread_cond_wait(&u->idle, &bs->jobs_lock);
        r = u->helper_error;
        pthread_mutex_unlock(&bs->jobs_lock);
        return r;
}

/* Wait until no helper holds any of u's buffers. */
static int upload_wait_idle(struct blob_upload *u)
{
        return upload_wait_queued(u, 0);
}

/* Write and hash the caller's buffer here (nothing queued). */
static int upload_flush(struct blob_upload *u)
{
        int r;

        if (u->buf_len == 0)
                return 0;
        r = write_and_hash(u, u->buf, u->buf_len);
        if (r < 0)
                return r;
        u->buf_len = 0;
        return 0;
}

/* Give back an idle upload's ring, all but the caller's buffer, and its
 * place among the helped uploads.  No-op when not helped. */
static void upload_unhelp(struct blob_upload *u)
{
        struct blob_store *bs = u->bs;

        if (!u->helped)
                return;
        for (unsigned i = 0; i < BLOB_UPLOAD_SLOTS; i++) {
                if (u->slot[i] != u->buf)
                        free(u->slot[i]);
                u->slot[i] = NULL;
        }
        u->helped = false;
        pthread_mutex_lock(&bs->jobs_lock);
        bs->n_helped--;
        pthread_mutex_unlock(&bs->jobs_lock);
}

/* A place among the helped uploads (at most BLOB_HELPED_PER_HELPER per
 * running helper, which bounds the rings' memory) and the ring's other
 * buffers; false when there is no helper, no place or no memory.  An
 * upload refused now asks again at its next buffer. */
static bool upload_help(struct blob_upload *u)
{
        struct blob_store *bs = u->bs;
        bool granted;

        pthread_mutex_lock(&bs->jobs_lock);
        if (!bs->helpers_started)
                helpers_start(bs);
        granted = bs->n_helped < bs->n_helpers * BLOB_HELPED_PER_HELPER;
        if (granted)
                bs->n_helped++;
        pthread_mutex_unlock(&bs->jobs_lock);
        if (!granted)
                return false;
        u->helped = true;
        u->slot[0] = u->buf;
        u->fill = u->head = 0;
        for (unsigned i = 1; i < BLOB_UPLOAD_SLOTS; i++) {
                u->slot[i] = malloc(BLOB_WRITE_BUFFER);
                if (!u->slot[i]) {
                        upload_unhelp(u);
                        return false;
                }
        }
        return true;
}

/* The caller's buffer is full: queue it for the helpers and go on filling
 * the next one in the ring, or write and hash it here while the upload is
 * small or when it cannot be helped. */
static int upload_hand_off(struct blob_upload *u)
{
        struct blob_store *bs = u->bs;

        if (!u->helped && (u->written < BLOB_HELP_AFTER || !upload_help(u)))
                return upload_flush(u);
        u->slot_len[u->fill] = u->buf_len;
        pthread_mutex_lock(&bs->jobs_lock);
        if (u->queued++ == 0)
                job_append(bs, u);
        pthread_mutex_unlock(&bs->jobs_lock);
        u->fill = (u->fill + 1) % BLOB_UPLOAD_SLOTS;
        u->buf = u->slot[u->fill];
        u->buf_len = 0;
        /* The next slot is free once fewer than all are queued. */
        return upload_wait_queued(u, BLOB_UPLOAD_SLOTS - 1);
}

int blob_upload_write(struct blob_upload *u, const void *data, size_t len)
{
        const unsigned char *p = data;
        int r;

        if (u->finished)
                return -EINVAL;
        if (len > u->max_size - u->size)
                return -EFBIG;
        if (!u->buf && len > 0) {
                u->buf = malloc(BLOB_WRITE_BUFFER);
                if (!u->buf)
                        return -ENOMEM;
        }
        while (len > 0) {
                size_t n = BLOB_WRITE_BUFFER - u->buf_len;
                if (n > len)
                        n = len;
                memcpy(u->buf + u->buf_len, p, n);
                u->buf_len += n;
                u->size += n;
                p += n;
                len -= n;
                if (u->buf_len == BLOB_WRITE_BUFFER) {
                        r = upload_hand_off(u);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

uint64_t blob_upload_size(const struct blob_upload *u)
{
        return u->size;
}

int blob_upload_finish(struct blob_upload *u, char *ret_sha256)
{
        unsigned char digest[SHA256_DIGEST_SIZE];
        int r;

        if (u->finished || u->fd < 0)
                return -EINVAL;
        r = upload_wait_idle(u);
        if (r >= 0)
                r = upload_flush(u);
        if (r < 0)
                return r;
        /* The descriptor stays open, holding the temp file's lock, until
         * blob_upload_free(). */
        if (fsync(u->fd) < 0)
                return -errno;
        upload_unhelp(u);
        free(u->buf);
        u->buf = NULL;
        sha256_digest(&u->hash, sizeof(digest), digest);
        hex_encode(digest, sizeof(digest), u->sha256);
        u->finished = true;
        memcpy(ret_sha256, u->sha256, BLOB_HASH_HEX + 1);
        return 0;
}

/* mkdirat that reports whether it created the directory (1) or found it (0). */
static int make_dir(int dirfd, const char *name)
{
        if (mkdirat(dirfd, name, BLOB_DIR_MODE) == 0)
                return 1;
        return errno == EEXIST ? 0 : -errno;
}

static int fsync_at(int dirfd, const char *name)
{
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r = 0;

        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                r = -errno;
        (void)close(fd);
        return r;
}

/* Create the prefix directories of sha256 under bs ("ab", "ab/cd");
 * *ret_new_top / *ret_new_mid tell which were new. */
static int make_prefix_dirs(struct blob_store *bs, const char *sha256, int *ret_new_top,
                            int *ret_new_mid)
{
        char top[3], mid[6];

        snprintf(top, sizeof(top), "%.2s", sha256);
        snprintf(mid, sizeof(mid), "%.2s/%.2s", sha256, sha256 + 2);
        *ret_new_top = make_dir(bs->dirfd, top);
        if (*ret_new_top < 0)
                return *ret_new_top;
        *ret_new_mid = make_dir(bs->dirfd, mid);
        return *ret_new_mid < 0 ? *ret_new_mid : 0;
}

/* Make a new name under sha256's prefix durable: its directory, then the
 * new prefix directories in their parents. */
static int sync_prefix_dirs(struct blob_store *bs, const char *sha256, int new_top, int new_mid)
{
        char top[3], mid[6];
        int r;

        snprintf(top, sizeof(top), "%.2s", sha256);
        snprintf(mid, sizeof(mid), "%.2s/%.2s", sha256, sha256 + 2);
        r = fsync_at(bs->dirfd, mid);
        if (r >= 0 && new_mid)
                r = fsync_at(bs->dirfd, top);
        if (r >= 0 && new_top && fsync(bs->dirfd) < 0)
                r = -errno;
        return r;
}

/* Rename the temporary file to its content address and make that durable:
 * the prefix directories (fsynced into their parents when new), then the
 * directory holding the new name. */
static int place(struct blob_upload *u)
{
        struct blob_store *bs = u->bs;
        char path[BLOB_HASH_HEX + 7];
        int new_top, new_mid, r;

        r = blob_path(u->sha256, path);
        if (r < 0)
                return r;
        r = make_prefix_dirs(bs, u->sha256, &new_top, &new_mid);
        if (r < 0)
                return r;
        /* A file already at the address is replaced (which also mends one
         * damaged since it was stored), but by exchanging the two names:
         * the old file then waits under the temporary name until
         * blob_upload_free(), after the answer.  Removing a file frees its
         * page cache at once, and rename() over a large one spends as much
         * time on that as the upload's own fsync() (18 ms for 64 MiB). */
        if (renameat2(bs->dirfd, u->temp, bs->dirfd, path, RENAME_EXCHANGE) == 0)
                u->displaced = true;
        else if (renameat(bs->dirfd, u->temp, bs->dirfd, path) < 0)
                return -errno; /* no file there, or a filesystem without exchange */
        u->temp_exists = false;
        return sync_prefix_dirs(bs, u->sha256, new_top, new_mid);
}

int blob_upload_commit(struct blob_upload *u)
{
        struct blob_store *bs = u->bs;
        int r;

        if (!u->finished || u->claimed || !u->temp_exists)
                return -EINVAL;
        pthread_mutex_lock(&bs->lock);
        r = claim_take(bs, u->sha256);
        pthread_mutex_unlock(&bs->lock);
        if (r < 0)
                return r;
        u->claimed = true;

        r = place(u);
        if (r < 0) {
                /* The file may or may not be in place: leave it to the
                 * caller's discard, which removes it when unused. */
                return r;
        }
        return 0;
}

int blob_upload_discard(struct blob_upload *u, blob_unused_fn unused, void *userdata)
{
        struct blob_store *bs = u->bs;
        int r = 0;

        if (!u->claimed)
                return 0;
        pthread_mutex_lock(&bs->lock);
        claim_drop(bs, u->sha256);
        u->claimed = false;
        if (!*claim_find(bs, u->sha256))
                r = remove_if_unused(bs, u->sha256, unused, userdata);
        pthread_mutex_unlock(&bs->lock);
        return r;
}

void blob_upload_free(struct blob_upload *u)
{
        struct blob_store *bs;

        if (!u)
                return;
        bs = u->bs;
        (void)upload_wait_idle(u);
        if (u->fd >= 0)
                (void)close(u->fd);
        if (u->temp_exists || u->displaced)
                (void)unlinkat(bs->dirfd, u->temp, 0);
        pthread_mutex_lock(&bs->lock);
        if (u->claimed)
                claim_drop(bs, u->sha256);
        if (u->prev)
                u->prev->next = u->next;
        else
                bs->uploads = u->next;
        if (u->next)
                u->next->prev = u->prev;
        pthread_mutex_unlock(&bs->lock);
        pthread_cond_destroy(&u->idle);
        upload_unhelp(u);
        free(u->buf);
        free(u);
}

unsigned blob_store_uploads_helped(struct blob_store *bs)
{
        unsigned n;

        pthread_mutex_lock(&bs->jobs_lock);
        n = bs->n_helped;
        pthread_mutex_unlock(&bs->jobs_lock);
        return n;
}

/* --- reading ------------------------------------------------------------------- */

int blob_store_open_blob(struct blob_store *bs, const char *sha256, uint64_t expected_size,
                         int *ret_fd)
{
        char path[BLOB_HASH_HEX + 7];
        struct stat st;
        int fd, r;

        r = blob_path(sha256, path);
        if (r < 0)
                return r;
        fd = openat(bs->dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return errno == ELOOP ? -EUCLEAN : -errno;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                (void)close(fd);
                return r;
        }
        if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != expected_size) {
                (void)close(fd);
                return -EUCLEAN;
        }
        *ret_fd = fd;
        return 0;
}

int blob_store_exists(struct blob_store *bs, const char *sha256)
{
        char path[BLOB_HASH_HEX + 7];
        struct stat st;
        int r;

        r = blob_path(sha256, path);
        if (r < 0)
                return r;
        if (fstatat(bs->dirfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        return S_ISREG(st.st_mode) ? 1 : 0;
}

/* --- maintenance ----------------------------------------------------------------- */

/* Open the subdirectory name of dirfd as a DIR stream; NULL with errno set. */
static DIR *open_subdir(int dirfd, const char *name)
{
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        DIR *d;

        if (fd < 0)
                return NULL;
        d = fdopendir(fd);
        if (!d) {
                int e = errno;
                (void)close(fd);
                errno = e;
        }
        return d;
}

/* Visit one entry of an "xx/yy" directory if it is a blob at its address. */
static int visit_file(DIR *leaf, const char *name, const char *prefix, blob_scan_fn fn,
                      void *userdata)
{
        struct stat st;

        if (!hex_is_lower(name, BLOB_HASH_HEX) || memcmp(name, prefix, 4) != 0)
                return 0;
        if (fstatat(dirfd(leaf), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno; /* removed meanwhile: skipped */
        if (!S_ISREG(st.st_mode))
                return 0;
        return fn(userdata, name, (uint64_t)st.st_size);
}

/* Visit directory d at depth 0 ("xx" entries), 1 ("yy") or 2 (files);
 * prefix[0..2*depth) holds the hex digits of the levels above. */
static int scan_dir(DIR *d, unsigned depth, char prefix[5], blob_scan_fn fn, void *userdata)
{
        struct dirent *de;
        int r;

        while ((errno = 0, de = readdir(d))) {
                if (depth == 2)
                        r = visit_file(d, de->d_name, prefix, fn, userdata);
                else {
                        if (!hex_is_lower(de->d_name, 2))
                                continue;
                        _cleanup_closedir_ DIR *sub = open_subdir(dirfd(d), de->d_name);
                        if (!sub) {
                                if (errno == ENOTDIR || errno == ENOENT)
                                        continue;
                                return -errno;
                        }
                        memcpy(prefix + 2 * depth, de->d_name, 2);
                        r = scan_dir(sub, depth + 1, prefix, fn, userdata);
                }
                if (r < 0)
                        return r;
        }
        return errno ? -errno : 0;
}

int blob_store_scan(struct blob_store *bs, blob_scan_fn fn, void *userdata)
{
        _cleanup_closedir_ DIR *root = open_subdir(bs->dirfd, ".");
        char prefix[5] = "";

        if (!root)
                return -errno;
        return scan_dir(root, 0, prefix, fn, userdata);
}

/* Whether an upload in progress writes the temporary file name (lock held). */
static bool temp_in_use(struct blob_store *bs, const char *name)
{
        for (struct blob_upload *u = bs->uploads; u; u = u->next)
                if ((u->temp_exists || u->displaced) && strcmp(u->temp, name) == 0)
                        return true;
        return false;
}

int blob_store_count_temp(struct blob_store *bs, uint64_t *ret_files, uint64_t *ret_bytes)
{
        _cleanup_closedir_ DIR *root = open_subdir(bs->dirfd, ".");
        uint64_t files = 0, bytes = 0;
        struct dirent *de;

        if (!root)
                return -errno;
        while ((errno = 0, de = readdir(root))) {
                struct stat st;

                if (strncmp(de->d_name, BLOB_TEMP_PREFIX, strlen(BLOB_TEMP_PREFIX)) != 0)
                        continue;
                if (fstatat(bs->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISREG(st.st_mode))
                        continue;
                files++;
                bytes += (uint64_t)st.st_size;
        }
        if (errno)
                return -errno;
        *ret_files = files;
        *ret_bytes = bytes;
        return 0;
}

int blob_store_stale_temp(struct blob_store *bs, time_t cutoff, bool remove,
                          struct blob_temp_tally *ret)
{
        _cleanup_closedir_ DIR *root = open_subdir(bs->dirfd, ".");
        struct blob_temp_tally tally = {0};
        struct dirent *de;

        if (!root)
                return -errno;
        while ((errno = 0, de = readdir(root))) {
                struct stat st;
                bool gone = false;

                if (strncmp(de->d_name, BLOB_TEMP_PREFIX, strlen(BLOB_TEMP_PREFIX)) != 0)
                        continue;
                if (fstatat(bs->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT)
                                continue;
                        return -errno;
                }
                if (!S_ISREG(st.st_mode) || st.st_mtime >= cutoff)
                        continue;
                pthread_mutex_lock(&bs->lock);
                if (!temp_in_use(bs, de->d_name)) {
                        /* Not written by an upload of another process
                         * either: it would hold the lock. */
                        _cleanup_close_ int fd =
                                openat(bs->dirfd, de->d_name,
                                       O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
                        if (fd >= 0 && temp_lock(fd) == 0)
                                gone = !remove || unlinkat(bs->dirfd, de->d_name, 0) == 0 ||
                                       errno == ENOENT;
                }
                pthread_mutex_unlock(&bs->lock);
                if (gone) {
                        tally.files++;
                        tally.bytes += (uint64_t)st.st_size;
                }
        }
        if (errno)
                return -errno;
        if (ret)
                *ret = tally;
        return 0;
}

int blob_store_expire_temp(struct blob_store *bs, time_t cutoff)
{
        struct blob_temp_tally t = {0};
        int r = blob_store_stale_temp(bs, cutoff, true, &t);

        return r < 0 ? r : (int)(t.files > INT_MAX ? INT_MAX : t.files);
}

/* Copy the open file fd (size bytes) to a new temporary file of dst and
 * fsync it; its name goes to temp. */
static int copy_to_temp(struct blob_store *dst, int fd, uint64_t size, char *temp, size_t temp_size)
{
        _cleanup_free_ unsigned char *buf = NULL;
        uint8_t rnd[BLOB_TEMP_RANDOM];
        char hex[2 * BLOB_TEMP_RANDOM + 1];
        _cleanup_close_ int out = -1;
        uint64_t done = 0;
        int r;

        randombytes_buf(rnd, sizeof(rnd));
        hex_encode(rnd, sizeof(rnd), hex);
        snprintf(temp, temp_size, "%s%s", BLOB_TEMP_PREFIX, hex);
        buf = malloc(BLOB_COPY_CHUNK);
        if (!buf)
                return -ENOMEM;
        out = openat(dst->dirfd, temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                     BLOB_FILE_MODE);
        if (out < 0)
                return -errno;
        while (done < size) {
                ssize_t n = read(fd, buf, BLOB_COPY_CHUNK);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = n < 0 ? -errno : -EUCLEAN; /* shrank meanwhile */
                        goto fail;
                }
                r = write_all(out, buf, (size_t)n);
                if (r < 0)
                        goto fail;
                done += (uint64_t)n;
        }
        if (done != size || fsync(out) < 0) {
                r = done != size ? -EUCLEAN : -errno;
                goto fail;
        }
        return 0;
fail:
        (void)unlinkat(dst->dirfd, temp, 0);
        return r;
}

int blob_store_copy_to(struct blob_store *src, const char *sha256, uint64_t size,
                       struct blob_store *dst)
{
        char path[BLOB_HASH_HEX + 7], temp[sizeof(BLOB_TEMP_PREFIX) + 2 * BLOB_TEMP_RANDOM];
        _cleanup_close_ int fd = -1;
        int new_top, new_mid, linked = 1, r;

        r = blob_store_open_blob(src, sha256, size, &fd);
        if (r < 0)
                return r;
        r = blob_path(sha256, path);
        if (r < 0)
                return r;
        r = make_prefix_dirs(dst, sha256, &new_top, &new_mid);
        if (r < 0)
                return r;
        if (linkat(src->dirfd, path, dst->dirfd, path, 0) < 0) {
                if (errno == EEXIST)
                        return blob_store_exists(dst, sha256) == 1 ? 1 : -EEXIST;
                if (errno != EXDEV && errno != EPERM)
                        return -errno;
                r = copy_to_temp(dst, fd, size, temp, sizeof(temp));
                if (r < 0)
                        return r;
                if (renameat(dst->dirfd, temp, dst->dirfd, path) < 0) {
                        r = -errno;
                        (void)unlinkat(dst->dirfd, temp, 0);
                        return r;
                }
                linked = 0;
        }
        r = sync_prefix_dirs(dst, sha256, new_top, new_mid);
        return r < 0 ? r : linked;
}
