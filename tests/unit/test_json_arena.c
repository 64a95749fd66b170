/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of util/json_arena.h: trees parsed into an arena equal those
 * parsed with malloc(), including ones that outgrow their slot or find
 * none free; memory jansson allocates outside an arena (json_dumps(),
 * json_pack()) still belongs to malloc(), so free() takes it; a tree
 * parsed on one thread is released on another; trim hands the pages
 * back.  Leaks and bad frees are what the sanitizer build looks for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json_arena.h"

static const char small[] = "{\"device_id\":\"d1\",\"ops\":[{\"op_id\":\"a\",\"n\":1,"
                            "\"f\":1.5,\"t\":true,\"z\":null,\"s\":\"caf\\u00e9\"}]}";

static json_t *parse_plain(const char *text, size_t len)
{
        json_t *root = json_loadb(text, len, 0, NULL);
        assert_non_null(root);
        return root;
}

/* An array of n objects, each with a string of width characters. */
static char *big_body(size_t n, size_t width, size_t *ret_len)
{
        size_t cap = 16 + n * (width + 32), len = 0;
        char *text = malloc(cap);

        assert_non_null(text);
        len += (size_t)snprintf(text + len, cap - len, "[");
        for (size_t i = 0; i < n; i++) {
                len += (size_t)snprintf(text + len, cap - len, "%s{\"i\":%zu,\"s\":\"",
                                        i ? "," : "", i);
                memset(text + len, 'a' + (int)(i % 26), width);
                len += width;
                len += (size_t)snprintf(text + len, cap - len, "\"}");
        }
        len += (size_t)snprintf(text + len, cap - len, "]");
        *ret_len = len;
        return text;
}

/* Before json_arena_setup() (this test runs first), an arena is malloc(). */
static void test_without_setup(void **state)
{
        (void)state;
        struct json_arena a = {0};
        json_t *root = json_arena_loadb(&a, small, strlen(small), 0, NULL);
        json_t *plain = parse_plain(small, strlen(small));
        size_t in_use, touched;

        assert_non_null(root);
        assert_true(json_equal(root, plain));
        json_arena_stats(&in_use, &touched);
        assert_int_equal(in_use, 0);
        json_arena_release(&a, root);
        json_decref(plain);
        assert_int_equal(json_arena_setup(), 0);
        assert_int_equal(json_arena_setup(), -EALREADY);
}

static void test_parse_release_trim(void **state)
{
        (void)state;
        struct json_arena a = {0};
        json_t *plain = parse_plain(small, strlen(small));
        size_t in_use, touched;

        json_t *root = json_arena_loadb(&a, small, strlen(small), 0, NULL);
        assert_non_null(root);
        assert_true(json_equal(root, plain));
        assert_false(a.spilled);
        json_arena_stats(&in_use, &touched);
        assert_int_equal(in_use, 1);

        /* A second tree in the same arena, dropped by refcount first. */
        json_t *more = json_arena_loadb(&a, "[1,2,{\"k\":\"v\"}]", 15, 0, NULL);
        assert_non_null(more);
        assert_int_equal(json_array_size(more), 3);
        json_decref(more);
        assert_string_equal(json_string_value(json_object_get(root, "device_id")), "d1");

        json_arena_release(&a, root);
        assert_int_equal(a.slot, 0);
        json_arena_stats(&in_use, &touched);
        assert_int_equal(in_use, 0);
        assert_true(touched > 0);
        json_arena_trim();
        json_arena_stats(&in_use, &touched);
        assert_int_equal(touched, 0);

        /* A slot that was trimmed is usable again. */
        root = json_arena_loadb(&a, small, strlen(small), 0, NULL);
        assert_true(json_equal(root, plain));
        json_arena_release(&a, root);
        json_decref(plain);
}

/* Invalid input: NULL, and the arena still releases cleanly. */
static void test_invalid(void **state)
{
        (void)state;
        struct json_arena a = {0};
        json_error_t err;
        size_t in_use, touched;

        assert_null(json_arena_loadb(&a, "{\"a\":[1,2,", 10, 0, &err));
        assert_true(strlen(err.text) > 0);
        assert_null(json_arena_loadb(&a, "{\"a\":1,\"a\":2}", 13, JSON_REJECT_DUPLICATES, &err));
        json_arena_release(&a, NULL);
        json_arena_stats(&in_use, &touched);
        assert_int_equal(in_use, 0);
}

/* A tree larger than a slot: what does not fit comes from malloc(), and
 * the release frees it (the sanitizer build would see a leak). */
static void test_spill(void **state)
{
        (void)state;
        struct json_arena a = {0};
        size_t len;
        char *text = big_body(4000, 200, &len);
        json_t *plain = parse_plain(text, len);

        json_t *root = json_arena_loadb(&a, text, len, 0, NULL);
        assert_non_null(root);
        assert_true(a.spilled);
        assert_true(json_equal(root, plain));
        /* One member dropped early, by refcount: freed wherever it lives. */
        assert_int_equal(json_array_remove(root, 3999), 0);
        assert_int_equal(json_array_remove(root, 0), 0);
        assert_int_equal(json_array_size(root), 3998);
        json_arena_release(&a, root);
        json_decref(plain);
        free(text);
}

/* Memory jansson allocates outside json_arena_loadb() is malloc()'s, even
 * while other trees live in arenas: free() of json_dumps() is fine. */
static void test_outside_is_malloc(void **state)
{
        (void)state;
        struct json_arena a = {0};
        json_t *root = json_arena_loadb(&a, small, strlen(small), 0, NULL);

        json_t *made = json_pack("{s:s,s:i}", "error", "x", "n", 3);
        assert_non_null(made);
        char *text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
        assert_non_null(text);
        assert_non_null(strstr(text, "\"device_id\":\"d1\""));
        free(text);
        /* A copy of an arena tree is the heap's, and outlives the arena. */
        json_t *copy = json_deep_copy(root);
        json_arena_release(&a, root);
        assert_string_equal(json_string_value(json_object_get(copy, "device_id")), "d1");
        json_decref(copy);
        json_decref(made);
}

/* With every slot taken, an arena is plain malloc(). */
static void test_no_slot_left(void **state)
{
        (void)state;
        enum { CAP = 4096 };
        struct json_arena *arenas = calloc(CAP, sizeof(*arenas));
        json_t **roots = calloc(CAP, sizeof(*roots));
        size_t n = 0, in_use, touched;

        assert_non_null(arenas);
        assert_non_null(roots);
        while (n < CAP) {
                roots[n] = json_arena_loadb(&arenas[n], small, strlen(small), 0, NULL);
                assert_non_null(roots[n]);
                if (arenas[n++].no_slot)
                        break;
        }
        assert_true(n < CAP);
        json_arena_stats(&in_use, &touched);
        assert_int_equal(in_use, n - 1);
        assert_string_equal(json_string_value(json_object_get(roots[n - 1], "device_id")), "d1");
        for (size_t i = 0; i < n; i++)
                json_arena_release(&arenas[i], roots[i]);
        json_arena_stats(&in_use, &touched);
        assert_int_equal(in_use, 0);
        free(arenas);
        free(roots);
}

/* Parsed on one thread, read and released on another. */
struct handoff {
        struct json_arena arena;
        json_t *root;
        const char *value;
};

static void *release_elsewhere(void *arg)
{
        struct handoff *h = arg;

        h->value = strdup(json_string_value(json_object_get(h->root, "device_id")));
        json_arena_release(&h->arena, h->root);
        return NULL;
}

static void *parse_elsewhere(void *arg)
{
        struct handoff *h = arg;

        h->root = json_arena_loadb(&h->arena, small, strlen(small), 0, NULL);
        return NULL;
}

static void test_threads(void **state)
{
        (void)state;
        struct handoff h = {0};
        pthread_t t;
        size_t in_use, touched;

        assert_int_equal(pthread_create(&t, NULL, parse_elsewhere, &h), 0);
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_non_null(h.root);
        assert_int_equal(pthread_create(&t, NULL, release_elsewhere, &h), 0);
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_string_equal(h.value, "d1");
        free((char *)h.value);
        json_arena_stats(&in_use, &touched);
        assert_int_equal(in_use, 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_without_setup),     cmocka_unit_test(test_parse_release_trim),
                cmocka_unit_test(test_invalid),           cmocka_unit_test(test_spill),
                cmocka_unit_test(test_outside_is_malloc), cmocka_unit_test(test_no_slot_left),
                cmocka_unit_test(test_threads),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
