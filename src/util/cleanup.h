/* SPDX-License-Identifier: MIT */
/*
 * Scope-bound cleanup, in the manner of systemd's fd-util.h/alloc-util.h:
 * a variable declared with one of these attributes releases what it holds
 * when it leaves scope, so every error path frees what it took.  Ownership
 * is handed out with TAKE_PTR()/TAKE_FD().  Five helpers are enough.
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f)   __attribute__((cleanup(f)))
#define _unused_       __attribute__((unused))
#define _noreturn_     __attribute__((noreturn))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _warn_unused_  __attribute__((warn_unused_result))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

static inline void freep(void *p)
{
        free(*(void **)p);
}

static inline void closep(int *fd)
{
        if (*fd >= 0)
                (void)close(*fd);
}

static inline void fclosep(FILE **f)
{
        if (*f)
                (void)fclose(*f);
}

#define _cleanup_free_   _cleanup_(freep)
#define _cleanup_close_  _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Hand ownership of a pointer or fd to the caller; the variable is reset so
 * its cleanup attribute no longer frees it. */
#define TAKE_PTR(p)                                                                                \
        ({                                                                                         \
                __typeof__(p) _tp_ = (p);                                                          \
                (p) = NULL;                                                                        \
                _tp_;                                                                              \
        })

/* The same for a struct whose cleanup releases its members: the caller
 * gets the value, the variable is left zeroed (written through a pointer
 * so that analysers see the cleanup's read). */
#define TAKE_STRUCT(s)                                                                             \
        ({                                                                                         \
                __typeof__(s) *_sp_ = &(s);                                                        \
                __typeof__(s) _sv_ = *_sp_;                                                        \
                *_sp_ = (__typeof__(s)){0};                                                        \
                _sv_;                                                                              \
        })

#define TAKE_FD(fd)                                                                                \
        ({                                                                                         \
                int _tf_ = (fd);                                                                   \
                (fd) = -1;                                                                         \
                _tf_;                                                                              \
        })

/* Declare a cleanup function "name##p" for a type with a destructor
 * "name(T *)" that accepts NULL. */
#define DEFINE_POINTER_CLEANUP(type, func)                                                         \
        static inline void func##p(type **p)                                                       \
        {                                                                                          \
                if (*p)                                                                            \
                        func(*p);                                                                  \
        }
