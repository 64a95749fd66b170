/* SPDX-License-Identifier: MIT */
/* Implementation of auth/password.h (libsodium + libxcrypt). */
#include "auth/password.h"

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/cleanup.h"
#include "util/clock.h"
#include "util/text.h"

/* The hash slots: a count under a mutex, and a condition on the
 * monotonic clock (util/clock.h) to wait for one. */
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slots_free;
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;
static unsigned slots_max = PASSWORD_CONCURRENCY_DEFAULT;
static unsigned slots_taken;
static unsigned slot_wait_ms = PASSWORD_WAIT_MS_DEFAULT;

static void slots_init(void)
{
        pthread_condattr_t attr;

        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&slots_free, &attr);
        pthread_condattr_destroy(&attr);
}

int password_limit(unsigned max_concurrent, unsigned wait_ms)
{
        if (max_concurrent == 0 || max_concurrent > PASSWORD_CONCURRENCY_MAX)
                return -EINVAL;
        pthread_mutex_lock(&slots_lock);
        slots_max = max_concurrent;
        slot_wait_ms = wait_ms;
        pthread_mutex_unlock(&slots_lock);
        return 0;
}

int password_slot_acquire(void)
{
        struct timespec deadline;
        int r = 0;

        pthread_once(&slots_once, slots_init);
        pthread_mutex_lock(&slots_lock);
        deadline = clock_after_usec((uint64_t)slot_wait_ms * 1000u);
        while (slots_taken >= slots_max)
                if (pthread_cond_timedwait(&slots_free, &slots_lock, &deadline) == ETIMEDOUT &&
                    slots_taken >= slots_max) {
                        r = -EAGAIN;
                        break;
                }
        if (r == 0)
                slots_taken++;
        pthread_mutex_unlock(&slots_lock);
        return r;
}

void password_slot_release(void)
{
        pthread_mutex_lock(&slots_lock);
        slots_taken--;
        pthread_cond_signal(&slots_free);
        pthread_mutex_unlock(&slots_lock);
}

static int hash_unlimited(const char *password, char out[PASSWORD_HASH_MAX])
{
        if (crypto_pwhash_str(out, password, strlen(password), PASSWORD_OPSLIMIT,
                              PASSWORD_MEMLIMIT) != 0)
                return -ENOMEM;
        return 0;
}

int password_hash(const char *password, char out[PASSWORD_HASH_MAX])
{
        int r = password_slot_acquire();

        if (r < 0)
                return r;
        r = hash_unlimited(password, out);
        password_slot_release();
        return r;
}

static bool is_bcrypt(const char *hash)
{
        return str_starts_with(hash, "$2a$") || str_starts_with(hash, "$2b$") ||
               str_starts_with(hash, "$2y$");
}

static int verify_bcrypt(const char *password, const char *hash)
{
        _cleanup_free_ struct crypt_data *data = calloc(1, sizeof(struct crypt_data));
        const char *out;
        size_t len;
        int ok;

        if (!data)
                return -ENOMEM;
        /* crypt_rn() (libxcrypt) returns NULL on failure instead of a
         * "*0" token, and is not wrapped by sanitizer interceptors. */
        out = crypt_rn(password, hash, data, (int)sizeof(*data));
        if (!out || out[0] == '*')
                return -EINVAL;
        len = strlen(hash);
        ok = strlen(out) == len && sodium_memcmp(out, hash, len) == 0;
        sodium_memzero(data, sizeof(*data));
        return ok;
}

static int verify_unlimited(const char *password, const char *hash, bool *ret_needs_rehash)
{
        if (!password || !hash)
                return -EINVAL;
        if (is_bcrypt(hash)) {
                int r = verify_bcrypt(password, hash);
                if (ret_needs_rehash)
                        *ret_needs_rehash = true;
                return r;
        }
        if (str_starts_with(hash, "$argon2id$")) {
                int ok = crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
                if (ret_needs_rehash)
                        *ret_needs_rehash =
                                ok && crypto_pwhash_str_needs_rehash(hash, PASSWORD_OPSLIMIT,
                                                                     PASSWORD_MEMLIMIT) != 0;
                return ok;
        }
        return -EINVAL;
}

int password_verify(const char *password, const char *hash, bool *ret_needs_rehash)
{
        int r = password_slot_acquire();

        if (r < 0)
                return r;
        r = verify_unlimited(password, hash, ret_needs_rehash);
        password_slot_release();
        return r;
}

static char dummy_hash[PASSWORD_HASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_init(void)
{
        char pw[33];

        /* A random password nobody knows; only its cost matters. */
        randombytes_buf(pw, 16);
        for (int i = 0; i < 16; i++)
                pw[i] = (char)('a' + ((unsigned char)pw[i] % 26));
        pw[16] = '\0';
        if (hash_unlimited(pw, dummy_hash) < 0)
                dummy_hash[0] = '\0';
}

int password_verify_dummy(const char *password)
{
        int r;

        pthread_once(&dummy_once, dummy_init);
        if (!dummy_hash[0])
                return 0;
        r = password_verify(password ? password : "", dummy_hash, NULL);
        return r == -EAGAIN ? r : 0;
}

unsigned password_bcrypt_cost(const char *hash)
{
        uint64_t cost;
        char digits[3];

        if (!hash || !is_bcrypt(hash) || strlen(hash) < 7 || hash[6] != '$')
                return 0;
        memcpy(digits, hash + 4, 2);
        digits[2] = '\0';
        if (parse_u64(digits, &cost) < 0 || cost < PASSWORD_BCRYPT_COST_MIN ||
            cost > PASSWORD_BCRYPT_COST_MAX)
                return 0;
        return (unsigned)cost;
}

int password_verify_dummy_bcrypt(const char *password, unsigned cost)
{
        _cleanup_free_ struct crypt_data *data = NULL;
        char setting[CRYPT_GENSALT_OUTPUT_SIZE];
        int r;

        if (cost < PASSWORD_BCRYPT_COST_MIN || cost > PASSWORD_BCRYPT_COST_MAX)
                return 0;
        data = calloc(1, sizeof(*data));
        if (!data || !crypt_gensalt_rn("$2b$", cost, NULL, 0, setting, (int)sizeof(setting)))
                return 0;
        /* Hashing with a fresh setting costs what checking a hash of that
         * cost does; it takes a slot as a real check would. */
        r = password_slot_acquire();
        if (r < 0)
                return r;
        (void)crypt_rn(password ? password : "", setting, data, (int)sizeof(*data));
        password_slot_release();
        return 0;
}

int password_fail_equalise(const char *password, const char *hash, unsigned legacy_cost)
{
        bool bcrypt = hash && password_bcrypt_cost(hash) > 0;
        int r;

        if (!hash || bcrypt) {
                r = password_verify_dummy(password);
                if (r < 0)
                        return r;
        }
        if (!bcrypt)
                return password_verify_dummy_bcrypt(password, legacy_cost);
        return 0;
}
