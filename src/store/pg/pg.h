/* SPDX-License-Identifier: MIT */
/*
 * Private to src/store/pg: the PostgreSQL back end's pieces spread over
 * its files (the driver in pg_driver.c, the schema in pg_schema.c).
 */
#pragma once

#include "store/store_internal.h"

/* Whether target names a PostgreSQL database (a postgresql:// or
 * postgres:// URL). */
bool pg_is_url(const char *target);

/* Create or migrate the schema on the writer (outside a transaction);
 * with no_migrate, only check that it is this build's. */
int pg_migrate(struct db_conn *c, bool no_migrate, unsigned *ret_migrated);

/* The schema version recorded in verstak_schema (inside a transaction). */
int pg_schema_version(struct db_conn *c);
