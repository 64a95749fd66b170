/* SPDX-License-Identifier: MIT */
/*
 * libpq, loaded only when PostgreSQL is the database.
 *
 * libpq brings OpenSSL, Kerberos and LDAP with it: about 1.5 MiB of
 * mapped and relocated pages in every process that links it, which a
 * daemon on SQLite (the default) never uses.  So the daemon does not link
 * it: pq_dl_open() loads libpq.so.5 with dlopen() the first time a
 * PostgreSQL URL is used, before the sandbox is up, and the code calls
 * libpq through the sym_PQ… pointers declared below, one per function, in
 * the manner of systemd's dlopen helpers.  The types and constants still
 * come from <libpq-fe.h>.
 */
#pragma once

#include <libpq-fe.h>

/* Every libpq function the daemon calls. */
#define PQ_DL_FUNCTIONS(X)                                                                         \
        X(PQbackendPID)                                                                            \
        X(PQclear)                                                                                 \
        X(PQcmdTuples)                                                                             \
        X(PQconninfoFree)                                                                          \
        X(PQconninfoParse)                                                                         \
        X(PQconnectdbParams)                                                                       \
        X(PQconsumeInput)                                                                          \
        X(PQerrorMessage)                                                                          \
        X(PQexec)                                                                                  \
        X(PQexecParams)                                                                            \
        X(PQexecPrepared)                                                                          \
        X(PQfinish)                                                                                \
        X(PQfname)                                                                                 \
        X(PQfreemem)                                                                               \
        X(PQftype)                                                                                 \
        X(PQgetisnull)                                                                             \
        X(PQgetvalue)                                                                              \
        X(PQnfields)                                                                               \
        X(PQnotifies)                                                                              \
        X(PQntuples)                                                                               \
        X(PQprepare)                                                                               \
        X(PQreset)                                                                                 \
        X(PQresultErrorField)                                                                      \
        X(PQresultErrorMessage)                                                                    \
        X(PQresultStatus)                                                                          \
        X(PQsetErrorVerbosity)                                                                     \
        X(PQsocket)                                                                                \
        X(PQstatus)                                                                                \
        X(PQtransactionStatus)

#define PQ_DL_DECLARE(name) extern __typeof__(name) *sym_##name;
PQ_DL_FUNCTIONS(PQ_DL_DECLARE)
#undef PQ_DL_DECLARE

/* The shared object loaded: Debian's libpq5 package. */
#define PQ_DL_SONAME "libpq.so.5"

/*
 * Load libpq and resolve every function above, once per process (later
 * calls return the first outcome; any thread may call it).  0, or
 * -EOPNOTSUPP when the library or one of its functions is missing,
 * logged with what to install.  Until it has returned 0 the pointers are
 * NULL.
 */
int pq_dl_open(void);
