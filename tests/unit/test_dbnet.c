/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of daemon/dbnet: which database URLs make the daemon load the
 * seccomp profile with IPv4/IPv6 (PostgreSQL over TCP) and which keep the
 * unix-only one (SQLite, PostgreSQL through a socket directory), in both
 * of libpq's spellings, with the environment's defaults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "daemon/dbnet.h"

static void clear_env(void)
{
        unsetenv("PGHOST");
        unsetenv("PGHOSTADDR");
        unsetenv("PGSERVICE");
}

static int setup(void **state)
{
        (void)state;
        clear_env();
        return 0;
}

static bool tcp(const char *url)
{
        bool ret = !0;

        assert_int_equal(dbnet_url_needs_tcp(url, &ret), 0);
        return ret;
}

static void test_dbnet_sqlite(void **state)
{
        (void)state;
        assert_false(tcp(NULL));
        assert_false(tcp(""));
}

static void test_dbnet_tcp_urls(void **state)
{
        static const char *const urls[] = {
                "postgresql://verstak@db.example.org/verstak",
                "postgres://verstak:secret@192.0.2.10:5432/verstak?sslmode=verify-full",
                "postgresql://[2001:db8::10]:5432/verstak",
                "postgresql://db1.example.org:5432,db2.example.org:5432/verstak",
                "postgresql:///verstak?host=db.example.org",
                "postgresql:///verstak?hostaddr=192.0.2.10",
                /* one TCP entry in a list is enough */
                "postgresql:///verstak?host=/run/postgresql,db.example.org",
                "host=db.example.org dbname=verstak",
                "host=/run/postgresql hostaddr=192.0.2.10 dbname=verstak",
                "postgresql://localhost/verstak", "service=verstak", NULL};
        (void)state;

        for (size_t i = 0; urls[i]; i++)
                if (!tcp(urls[i]))
                        fail_msg("%s: not seen as TCP", urls[i]);
}

static void test_dbnet_socket_urls(void **state)
{
        static const char *const urls[] = {
                "postgresql:///verstak",
                "postgresql://verstak@/verstak",
                "postgresql://%2Frun%2Fpostgresql/verstak",
                "postgresql://verstak@%2Fvar%2Frun%2Fpostgresql:5433/verstak",
                "postgresql:///verstak?host=/run/postgresql",
                "postgresql:///verstak?host=@abstract",
                "host=/run/postgresql dbname=verstak",
                "dbname=verstak",
                NULL};
        (void)state;

        for (size_t i = 0; urls[i]; i++)
                if (tcp(urls[i]))
                        fail_msg("%s: seen as TCP", urls[i]);
}

/* Without a host in the URL libpq takes PGHOST, PGHOSTADDR or PGSERVICE;
 * a host in the URL wins over them. */
static void test_dbnet_environment(void **state)
{
        (void)state;
        assert_int_equal(setenv("PGHOST", "db.example.org", 1), 0);
        assert_true(tcp("postgresql:///verstak"));
        assert_false(tcp("postgresql:///verstak?host=/run/postgresql"));
        assert_int_equal(setenv("PGHOST", "/run/postgresql", 1), 0);
        assert_false(tcp("postgresql:///verstak"));
        assert_true(tcp("postgresql://db.example.org/verstak"));
        clear_env();
        assert_int_equal(setenv("PGHOSTADDR", "192.0.2.10", 1), 0);
        assert_true(tcp("dbname=verstak"));
        clear_env();
        assert_int_equal(setenv("PGSERVICE", "verstak", 1), 0);
        assert_true(tcp("dbname=verstak"));
        assert_false(tcp("host=/run/postgresql dbname=verstak"));
        clear_env();
}

static void test_dbnet_unparsable(void **state)
{
        bool ret = true;
        (void)state;

        assert_int_equal(dbnet_url_needs_tcp("postgresql://db.example.org/verstak?nosuch=1", &ret),
                         -EINVAL);
        assert_false(ret);
        assert_int_equal(dbnet_url_needs_tcp("host=db dbname", &ret), -EINVAL);
        assert_int_equal(dbnet_url_needs_tcp("postgresql://%zz/verstak", &ret), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_dbnet_sqlite, setup),
                cmocka_unit_test_setup(test_dbnet_tcp_urls, setup),
                cmocka_unit_test_setup(test_dbnet_socket_urls, setup),
                cmocka_unit_test_setup(test_dbnet_environment, setup),
                cmocka_unit_test_setup(test_dbnet_unparsable, setup),
        };
        return cmocka_run_group_tests_name("dbnet", tests, NULL, NULL);
}
