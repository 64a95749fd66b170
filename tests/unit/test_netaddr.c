/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of util/netaddr.h beyond the basics in test_http_pieces.c:
 * prefix boundaries, IPv6 masks, v4-mapped peers, every listen-address
 * form and its refusals, and address rendering.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "util/netaddr.h"

/* Whether the mask text contains the address text. */
static bool contains(const char *mask, const char *ip)
{
        struct netmask m;
        struct sockaddr_storage ss;

        assert_int_equal(netmask_parse(mask, &m), 0);
        assert_int_equal(ip_parse(ip, &ss), 0);
        return netmask_contains(&m, (struct sockaddr *)&ss);
}

static void test_netmask_boundaries(void **state)
{
        (void)state;
        assert_true(contains("192.168.0.0/16", "192.168.0.0"));
        assert_true(contains("192.168.0.0/16", "192.168.255.255"));
        assert_false(contains("192.168.0.0/16", "192.169.0.0"));
        assert_false(contains("192.168.0.0/16", "192.167.255.255"));
        /* A prefix that is not a multiple of 8. */
        assert_true(contains("10.0.0.0/9", "10.127.255.255"));
        assert_false(contains("10.0.0.0/9", "10.128.0.0"));
        assert_true(contains("172.16.0.0/12", "172.31.1.1"));
        assert_false(contains("172.16.0.0/12", "172.32.0.0"));
        /* /0 is everything of its family, /32 one address. */
        assert_true(contains("0.0.0.0/0", "203.0.113.9"));
        assert_false(contains("0.0.0.0/0", "2001:db8::1"));
        assert_true(contains("203.0.113.9/32", "203.0.113.9"));
        assert_false(contains("203.0.113.9", "203.0.113.10"));
}

static void test_netmask_v6(void **state)
{
        (void)state;
        assert_true(contains("::1", "::1"));
        assert_false(contains("::1", "::2"));
        assert_true(contains("fd00::/8", "fdff:ffff::1"));
        assert_false(contains("fd00::/8", "fe00::1"));
        assert_true(contains("2001:db8::/33", "2001:db8:7fff::1"));
        assert_false(contains("2001:db8::/33", "2001:db8:8000::1"));
        /* A v4 mask matches a v4-mapped peer; a v6 mask never matches a
         * plain v4 peer. */
        assert_true(contains("127.0.0.0/8", "::ffff:127.0.0.1"));
        assert_false(contains("127.0.0.0/8", "::ffff:128.0.0.1"));
        assert_false(contains("::ffff:0:0/96", "10.0.0.1"));
        assert_false(contains("127.0.0.0/8", "::1"));
}

static void test_netmask_refused(void **state)
{
        struct netmask m = {.family = 99};
        (void)state;

        assert_int_equal(netmask_parse(NULL, &m), -EINVAL);
        assert_int_equal(netmask_parse("", &m), -EINVAL);
        assert_int_equal(netmask_parse("10.0.0.0/", &m), -EINVAL);
        assert_int_equal(netmask_parse("10.0.0.0/-1", &m), -EINVAL);
        assert_int_equal(netmask_parse("10.0.0.0/8x", &m), -EINVAL);
        assert_int_equal(netmask_parse("10.0.0/8", &m), -EINVAL);
        assert_int_equal(netmask_parse("256.0.0.0/8", &m), -EINVAL);
        assert_int_equal(netmask_parse("::/129", &m), -EINVAL);
        assert_int_equal(netmask_parse("2001:db8::1/32", &m), -EINVAL); /* host bits */
        assert_int_equal(netmask_parse(" 10.0.0.0/8", &m), -EINVAL);
        char huge[200];
        memset(huge, '1', sizeof(huge) - 1);
        huge[sizeof(huge) - 1] = '\0';
        assert_int_equal(netmask_parse(huge, &m), -EINVAL);
        assert_int_equal(m.family, 99); /* untouched on failure */
        assert_false(netmask_contains(&m, NULL));
}

static void test_listen_address_forms(void **state)
{
        struct sockaddr_storage ss;
        socklen_t len;
        char ip[INET6_ADDRSTRLEN];
        (void)state;

        assert_int_equal(listen_address_parse("*:8080", &ss, &len), 0);
        assert_int_equal(ss.ss_family, AF_INET);
        assert_int_equal(len, sizeof(struct sockaddr_in));
        assert_int_equal(((struct sockaddr_in *)&ss)->sin_addr.s_addr, htonl(INADDR_ANY));
        assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 8080);

        assert_int_equal(listen_address_parse("[2001:db8::5]:65535", &ss, &len), 0);
        assert_int_equal(len, sizeof(struct sockaddr_in6));
        assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 65535);
        assert_int_equal(sockaddr_format_ip((struct sockaddr *)&ss, ip, sizeof(ip)), 0);
        assert_string_equal(ip, "2001:db8::5");

        assert_int_equal(listen_address_parse("unix:/run/verstak/api.sock", &ss, &len), 0);
        assert_int_equal(ss.ss_family, AF_UNIX);
        assert_string_equal(((struct sockaddr_un *)&ss)->sun_path, "/run/verstak/api.sock");
        assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) +
                                      strlen("/run/verstak/api.sock") + 1);
}

static void test_listen_address_refused(void **state)
{
        static const char *const bad[] = {
                "",
                "127.0.0.1",
                "127.0.0.1:",
                "127.0.0.1:65536",
                "127.0.0.1:-1",
                "127.0.0.1:80x",
                "localhost:80",
                "[::1]80",
                "[::1:80",
                "::1:80",
                "[127.0.0.1]:80",
                "unix:relative.sock",
                "unix:",
                "1.2.3:80",
        };
        struct sockaddr_storage ss;
        socklen_t len;
        (void)state;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (listen_address_parse(bad[i], &ss, &len) != -EINVAL)
                        fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(listen_address_parse(NULL, &ss, &len), -EINVAL);
        /* A socket path longer than sun_path. */
        char path[200] = "unix:/";
        memset(path + 6, 'p', sizeof(path) - 7);
        path[sizeof(path) - 1] = '\0';
        assert_int_equal(listen_address_parse(path, &ss, &len), -EINVAL);
}

static void test_format_ip(void **state)
{
        struct sockaddr_storage ss;
        char out[INET6_ADDRSTRLEN];
        (void)state;

        assert_int_equal(ip_parse("::ffff:192.0.2.7", &ss), 0);
        assert_int_equal(sockaddr_format_ip((struct sockaddr *)&ss, out, sizeof(out)), 0);
        assert_string_equal(out, "192.0.2.7"); /* v4-mapped shown as v4 */
        assert_int_equal(ip_parse("192.0.2.7", &ss), 0);
        assert_int_equal(sockaddr_format_ip((struct sockaddr *)&ss, out, sizeof(out)), 0);
        assert_string_equal(out, "192.0.2.7");
        char tiny[4];
        assert_true(sockaddr_format_ip((struct sockaddr *)&ss, tiny, sizeof(tiny)) < 0);
        /* Not an IP peer (a unix socket): "local". */
        struct sockaddr_un un = {.sun_family = AF_UNIX};
        assert_int_equal(sockaddr_format_ip((struct sockaddr *)&un, out, sizeof(out)), 0);
        assert_string_equal(out, "local");
        assert_int_equal(sockaddr_format_ip(NULL, out, sizeof(out)), 0);
        assert_string_equal(out, "local");
        assert_int_equal(ip_parse("192.0.2.7:80", &ss), -EINVAL);
        assert_int_equal(ip_parse("[::1]", &ss), -EINVAL);
        assert_int_equal(ip_parse("", &ss), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_netmask_boundaries),
                cmocka_unit_test(test_netmask_v6),
                cmocka_unit_test(test_netmask_refused),
                cmocka_unit_test(test_listen_address_forms),
                cmocka_unit_test(test_listen_address_refused),
                cmocka_unit_test(test_format_ip),
        };
        return cmocka_run_group_tests_name("netaddr", tests, NULL, NULL);
}
