/* SPDX-License-Identifier: MIT */
/* Implementation of auth/password.h (libsodium + libxcrypt). */
#include "auth/password.h"

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/text.h"

int password_hash(const char *password, char out[PASSWORD_HASH_MAX])
{
        if (crypto_pwhash_str(out, password, strlen(password), PASSWORD_OPSLIMIT,
                              PASSWORD_MEMLIMIT) != 0)
                return -ENOMEM;
        return 0;
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

int password_verify(const char *password, const char *hash, bool *ret_needs_rehash)
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
        if (password_hash(pw, dummy_hash) < 0)
                dummy_hash[0] = '\0';
}

void password_verify_dummy(const char *password)
{
        pthread_once(&dummy_once, dummy_init);
        if (dummy_hash[0])
                (void)password_verify(password ? password : "", dummy_hash, NULL);
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

void password_verify_dummy_bcrypt(const char *password, unsigned cost)
{
        _cleanup_free_ struct crypt_data *data = NULL;
        char setting[CRYPT_GENSALT_OUTPUT_SIZE];

        if (cost < PASSWORD_BCRYPT_COST_MIN || cost > PASSWORD_BCRYPT_COST_MAX)
                return;
        data = calloc(1, sizeof(*data));
        if (!data || !crypt_gensalt_rn("$2b$", cost, NULL, 0, setting, (int)sizeof(setting)))
                return;
        /* Hashing with a fresh setting costs what checking a hash of that
         * cost does. */
        (void)crypt_rn(password ? password : "", setting, data, (int)sizeof(*data));
}

void password_fail_equalise(const char *password, const char *hash, unsigned legacy_cost)
{
        bool bcrypt = hash && password_bcrypt_cost(hash) > 0;

        if (!hash || bcrypt)
                password_verify_dummy(password);
        if (!bcrypt)
                password_verify_dummy_bcrypt(password, legacy_cost);
}
