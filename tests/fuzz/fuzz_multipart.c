/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the streaming parser of http/multipart.h.  The input's
 * first line is the Content-Type (a fixed one when there is no line
 * break early on), the rest the body.  The body is fed three ways: whole,
 * cut at three points derived from its bytes, and (when short) one byte
 * at a time.  Every way must report the same events, content and result:
 * the parser promises that chunk boundaries do not matter.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "http/multipart.h"

#define DEFAULT_CT    "multipart/form-data; boundary=XyZ"
#define CT_LINE_MAX   256
#define BYTEWISE_MAX  4096
#define NAME_REJECTED "reject"
#define FNV_OFFSET    1469598103934665603ull
#define FNV_PRIME     1099511628211ull

/* What one run of the parser saw. */
struct outcome {
        uint64_t hash; /* events and content, in order */
        int feed;      /* result of the last feed */
        int finish;
        unsigned parts;
        unsigned begun, ended;
        int in_part;
};

static void hash_bytes(uint64_t *h, const void *data, size_t len)
{
        const unsigned char *p = data;

        for (size_t i = 0; i < len; i++) {
                *h ^= p[i];
                *h *= FNV_PRIME;
        }
}

static void hash_marker(uint64_t *h, const char *marker)
{
        /* Markers include their NUL, which content bytes can also be: a
         * collision is harmless, the counters below tell events apart. */
        hash_bytes(h, marker, strlen(marker) + 1);
}

static int on_begin(void *userdata, unsigned index, const char *name, const char *filename)
{
        struct outcome *o = userdata;

        if (o->in_part || index != o->begun)
                abort();
        if ((name && strlen(name) > 255) || (filename && (!*filename || strlen(filename) > 255)))
                abort();
        o->begun++;
        o->in_part = 1;
        hash_marker(&o->hash, "begin");
        hash_marker(&o->hash, name ? name : "(no name)");
        hash_marker(&o->hash, filename ? filename : "(no filename)");
        /* Exercise the callback error path. */
        return name && strcmp(name, NAME_REJECTED) == 0 ? -EPERM : 0;
}

static int on_data(void *userdata, const char *data, size_t len)
{
        struct outcome *o = userdata;

        if (!o->in_part || len == 0)
                abort();
        hash_bytes(&o->hash, data, len);
        return 0;
}

static int on_end(void *userdata)
{
        struct outcome *o = userdata;

        if (!o->in_part)
                abort();
        o->in_part = 0;
        o->ended++;
        hash_marker(&o->hash, "end");
        return 0;
}

static const struct multipart_callbacks callbacks = {on_begin, on_data, on_end};

/* Feed body in the pieces that end at cuts[0..n_cuts) (ascending) and at
 * its end.  Returns 0 when the content type was refused. */
static int run(const char *ct, const char *body, size_t len, const size_t *cuts, size_t n_cuts,
               struct outcome *o)
{
        struct multipart_parser *p = NULL;
        size_t from = 0;
        int r;

        *o = (struct outcome){.hash = FNV_OFFSET};
        r = multipart_parser_new(ct, &callbacks, o, &p);
        if (r < 0) {
                if (r != -EINVAL)
                        abort();
                return 0;
        }
        for (size_t i = 0; i <= n_cuts; i++) {
                size_t to = i < n_cuts ? cuts[i] : len;
                r = multipart_parser_feed(p, body + from, to - from);
                if (r < 0 && o->feed == 0)
                        o->feed = r;
                from = to;
        }
        o->finish = multipart_parser_finish(p);
        o->parts = multipart_parser_parts(p);
        if (o->finish == 0 && (o->feed < 0 || o->in_part || o->begun != o->ended))
                abort();
        multipart_parser_free(p);
        return 1;
}

static int cmp_size(const void *a, const void *b)
{
        size_t x = *(const size_t *)a, y = *(const size_t *)b;
        return x < y ? -1 : x > y;
}

static void check_same(const struct outcome *a, const struct outcome *b)
{
        if (a->hash != b->hash || a->feed != b->feed || a->finish != b->finish ||
            a->parts != b->parts || a->begun != b->begun || a->ended != b->ended)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const uint8_t *nl = memchr(data, '\n', size < CT_LINE_MAX ? size : CT_LINE_MAX);
        struct outcome whole, split, bytewise;
        char *ct, *body;
        size_t len, cuts[3];
        uint64_t h = FNV_OFFSET;

        if (nl) {
                ct = fuzz_strndup(data, (size_t)(nl - data));
                size -= (size_t)(nl - data) + 1;
                data = nl + 1;
        } else
                ct = fuzz_strndup((const uint8_t *)DEFAULT_CT, strlen(DEFAULT_CT));
        /* An exact-size copy, so that reading past the body is caught. */
        len = size;
        body = malloc(len ? len : 1);
        if (!body)
                abort();
        if (len)
                memcpy(body, data, len);

        if (!run(ct, body, len, NULL, 0, &whole))
                goto out;

        hash_bytes(&h, body, len);
        for (size_t i = 0; i < 3; i++)
                cuts[i] = (size_t)((h >> (i * 21)) % (len + 1));
        qsort(cuts, 3, sizeof(cuts[0]), cmp_size);
        (void)run(ct, body, len, cuts, 3, &split);
        check_same(&whole, &split);

        if (len <= BYTEWISE_MAX) {
                size_t *every = malloc((len ? len : 1) * sizeof(*every));
                if (!every)
                        abort();
                for (size_t i = 0; i < len; i++)
                        every[i] = i;
                (void)run(ct, body, len, every, len, &bytewise);
                check_same(&whole, &bytewise);
                free(every);
        }
out:
        free(body);
        free(ct);
        return 0;
}
