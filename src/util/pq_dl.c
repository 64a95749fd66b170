/* SPDX-License-Identifier: MIT */
/* Implementation of util/pq_dl.h. */
#include "util/pq_dl.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>

#include "util/log.h"

#define PQ_DL_DEFINE(name) __typeof__(name) *sym_##name;
PQ_DL_FUNCTIONS(PQ_DL_DEFINE)
#undef PQ_DL_DEFINE

static pthread_once_t pq_dl_once = PTHREAD_ONCE_INIT;
static int pq_dl_result;

/* Resolve one symbol into *ret; false (logged) when it is missing. */
static bool resolve(void *lib, const char *name, void **ret)
{
        *ret = dlsym(lib, name);
        if (*ret)
                return true;
        log_error("PostgreSQL: %s has no %s(); install a libpq5 of PostgreSQL 10 or later",
                  PQ_DL_SONAME, name);
        return false;
}

static void pq_dl_load(void)
{
        /* Never unloaded: the pointers stay valid for the process's life. */
        void *lib = dlopen(PQ_DL_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);

        if (!lib) {
                log_error("PostgreSQL: cannot load %s (install the libpq5 package): %s",
                          PQ_DL_SONAME, dlerror());
                pq_dl_result = -EOPNOTSUPP;
                return;
        }
        /* Each pointer is set through a void ** (POSIX guarantees the
         * function pointer and void * representations agree). */
#define PQ_DL_RESOLVE(name)                                                                        \
        if (!resolve(lib, #name, (void **)&sym_##name)) {                                          \
                pq_dl_result = -EOPNOTSUPP;                                                        \
                return;                                                                            \
        }
        PQ_DL_FUNCTIONS(PQ_DL_RESOLVE)
#undef PQ_DL_RESOLVE
        pq_dl_result = 0;
}

int pq_dl_open(void)
{
        int r = pthread_once(&pq_dl_once, pq_dl_load);

        if (r != 0)
                return -r;
        return pq_dl_result;
}
