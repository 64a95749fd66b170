/* SPDX-License-Identifier: MIT */
/* Implementation of util/seccomp_engine.h. */
#include "util/seccomp_engine.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/cleanup.h"

/* Flags that would give a new process namespaces of its own. */
#define CLONE_NAMESPACE_FLAGS                                                                      \
        (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | \
         CLONE_NEWCGROUP)

/* Where the clone flags are: the second argument on s390, else the first. */
#if defined(__s390__) || defined(__s390x__)
#define CLONE_FLAGS_ARG 1
#else
#define CLONE_FLAGS_ARG 0
#endif

/* Sanitizer builds (never shipped): their runtimes report from a helper
 * task that ptraces the threads and read their own maps, so these builds
 * allow what they need.  execve stays forbidden even there. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_LEAK__)
#define SECCOMP_SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define SECCOMP_SANITIZER_BUILD 1
#endif
#endif

#ifdef SECCOMP_SANITIZER_BUILD
static const char *const group_sanitizer_runtime[] = {
        "ptrace", "prctl", "clone", "wait4", "waitid", "getppid", "getdents", "getdents64",
        "readlink", "readlinkat", "sigaltstack", "sched_getaffinity",
        /* LeakSanitizer reads /proc/self/maps with open(2) */
        "open", "openat", NULL};
#endif

/* The engine's own rules, for seccomp_profile_allows(). */
static const char *const engine_checked[] = {"mmap", "mprotect", NULL};

/* Calls only the engine's rules may allow: a group listing one of them
 * would allow it with any arguments. */
static const char *const engine_owned[] = {"mmap",   "mprotect", "pkey_mprotect", "clone",
                                           "clone3", "socket",   "socketpair",    NULL};

static bool listed(const char *const *names, const char *name)
{
        for (size_t i = 0; names && names[i]; i++)
                if (strcmp(names[i], name) == 0)
                        return true;
        return false;
}

int seccomp_no_new_privs(void)
{
        return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -errno : 0;
}

static void ctx_releasep(scmp_filter_ctx *ctx)
{
        if (*ctx)
                seccomp_release(*ctx);
}

/* Resolve a name; -EINVAL when libseccomp does not know it at all.  A
 * name known but absent on this architecture resolves to a negative
 * pseudo number, for which libseccomp adds nothing. */
static int resolve(const char *name, int *ret)
{
        int nr = seccomp_syscall_resolve_name(name);

        if (nr == __NR_SCMP_ERROR)
                return -EINVAL;
        *ret = nr;
        return 0;
}

/* libseccomp answers -EEXIST for a rule it already has (a system call in
 * two groups); that is not an error. */
static int rule_result(int r)
{
        return r == -EEXIST ? 0 : r;
}

static int allow_all(scmp_filter_ctx ctx, const char *const *names)
{
        int nr, r;

        for (size_t i = 0; names && names[i]; i++) {
                r = resolve(names[i], &nr);
                if (r < 0)
                        return r;
                r = rule_result(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0));
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool family_listed(const int *families, int family)
{
        for (size_t i = 0; families && families[i] >= 0; i++)
                if (families[i] == family)
                        return true;
        return false;
}

/* socket() and socketpair(): the listed families; others kill, or fail. */
static int add_families(scmp_filter_ctx ctx, const struct seccomp_profile *p)
{
        const int calls[] = {SCMP_SYS(socket), SCMP_SYS(socketpair)};
        int r;

        for (size_t c = 0; c < ELEMENTSOF(calls); c++) {
                for (int family = 0; family < AF_MAX; family++) {
                        uint32_t action;
                        if (family_listed(p->families, family))
                                action = SCMP_ACT_ALLOW;
                        else if (p->family_errno)
                                action = SCMP_ACT_ERRNO((uint32_t)p->family_errno);
                        else
                                continue;
                        r = rule_result(
                                seccomp_rule_add(ctx, action, calls[c], 1,
                                                 SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)family)));
                        if (r < 0)
                                return r;
                }
                if (p->family_errno) {
                        r = rule_result(seccomp_rule_add(
                                ctx, SCMP_ACT_ERRNO((uint32_t)p->family_errno), calls[c], 1,
                                SCMP_A0(SCMP_CMP_GE, (scmp_datum_t)AF_MAX)));
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* No executable memory; threads but no processes. */
static int add_engine_rules(scmp_filter_ctx ctx, const struct seccomp_profile *p)
{
        int r;

        r = rule_result(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                                         SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)));
        if (r >= 0)
                r = rule_result(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                                                 SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)));
        if (r < 0 || !p->threads_only)
                return r;
        if (p->processes)
                r = seccomp_rule_add(
                        ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                        SCMP_CMP(CLONE_FLAGS_ARG, SCMP_CMP_MASKED_EQ, CLONE_NAMESPACE_FLAGS, 0));
        else
                r = seccomp_rule_add(
                        ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                        SCMP_CMP(CLONE_FLAGS_ARG, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
        if (rule_result(r) < 0)
                return r;
        return rule_result(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0));
}

static int add_arg_rules(scmp_filter_ctx ctx, const struct seccomp_profile *p, pid_t child)
{
        int nr, r;

        for (const struct seccomp_arg_rule *a = p->arg_rules; a && a->syscall; a++) {
                uint64_t value = a->value;
                if (a->value_from == SECCOMP_VALUE_SELF_PID)
                        value = (uint64_t)getpid();
                else if (a->value_from == SECCOMP_VALUE_CHILD) {
                        if (child <= 0)
                                continue;
                        value = (uint64_t)child;
                }
                r = resolve(a->syscall, &nr);
                if (r < 0)
                        return r;
                r = rule_result(
                        seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
                                         SCMP_CMP(a->arg, SCMP_CMP_MASKED_EQ, a->mask, value)));
                if (r < 0)
                        return r;
        }
        for (const struct seccomp_errno_rule *e = p->errno_rules; e && e->syscall; e++) {
                r = resolve(e->syscall, &nr);
                if (r < 0)
                        return r;
                r = rule_result(
                        seccomp_rule_add(ctx, SCMP_ACT_ERRNO((uint32_t)e->errno_value), nr, 0));
                if (r < 0)
                        return r;
        }
        return 0;
}

int seccomp_profile_install(const struct seccomp_profile *p, const char *const *extra, pid_t child)
{
        _cleanup_(ctx_releasep) scmp_filter_ctx ctx = NULL;
        const char *unknown;
        int r;

        r = seccomp_profile_check_names(p, &unknown);
        if (r < 0)
                return r;
        for (size_t i = 0; extra && extra[i]; i++)
                if (listed(engine_owned, extra[i]))
                        return -EINVAL;
        ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
        if (!ctx)
                return -ENOMEM;
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
        if (r < 0)
                return r;
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
        if (r < 0)
                return r;
        for (const struct seccomp_group *g = p->groups; g->name; g++) {
                r = allow_all(ctx, g->syscalls);
                if (r < 0)
                        return r;
        }
        r = allow_all(ctx, extra);
#ifdef SECCOMP_SANITIZER_BUILD
        if (r >= 0)
                r = allow_all(ctx, group_sanitizer_runtime);
#endif
        if (r >= 0)
                r = add_engine_rules(ctx, p);
        if (r >= 0)
                r = add_families(ctx, p);
        if (r >= 0)
                r = add_arg_rules(ctx, p, child);
        if (r < 0)
                return r;
        return seccomp_load(ctx);
}

bool seccomp_profile_allows(const struct seccomp_profile *p, const char *name)
{
        for (const struct seccomp_group *g = p->groups; g->name; g++)
                if (listed(g->syscalls, name))
                        return true;
        for (const struct seccomp_arg_rule *a = p->arg_rules; a && a->syscall; a++)
                if (strcmp(a->syscall, name) == 0)
                        return true;
        if (listed(engine_checked, name))
                return true;
        if (p->threads_only && strcmp(name, "clone") == 0)
                return true;
        return p->families && p->families[0] >= 0 &&
               (strcmp(name, "socket") == 0 || strcmp(name, "socketpair") == 0);
}

int seccomp_profile_check_names(const struct seccomp_profile *p, const char **ret_name)
{
        int nr;

        for (const struct seccomp_group *g = p->groups; g->name; g++)
                for (size_t i = 0; g->syscalls[i]; i++)
                        if (resolve(g->syscalls[i], &nr) < 0 ||
                            listed(engine_owned, g->syscalls[i])) {
                                *ret_name = g->syscalls[i];
                                return -EINVAL;
                        }
        for (const struct seccomp_arg_rule *a = p->arg_rules; a && a->syscall; a++)
                if (resolve(a->syscall, &nr) < 0) {
                        *ret_name = a->syscall;
                        return -EINVAL;
                }
        for (const struct seccomp_errno_rule *e = p->errno_rules; e && e->syscall; e++)
                if (resolve(e->syscall, &nr) < 0) {
                        *ret_name = e->syscall;
                        return -EINVAL;
                }
        return 0;
}
