/*
 * isolate.h - what the box (box.h) leaves to the runner: the outside ids
 * of boxes when lanser is root, and pids cgroups (docs/sandbox.md).
 *
 * A pids cgroup (the v1 hierarchy at /sys/fs/cgroup/pids) is made for each
 * run when one is writable, named lanser/<pid namespace>-<lanser pid>.<n>;
 * stale ones (their lanser, in this pid namespace, is gone) are removed by
 * sbx_cgroup_prune(). Another namespace's are never touched: its pids mean
 * nothing here.
 *
 * The sbx_child_* functions run between clone and exec, where only
 * async-signal-safe calls are allowed: no allocation, no lock.
 */
#ifndef LANSER_SANDBOX_ISOLATE_H
#define LANSER_SANDBOX_ISOLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SBX_UID_BASE 400000

/* Code that runs between clone and exec, on a stack AddressSanitizer does
 * not know: not instrumented (its no-return handling would misfire). */
#if defined(__SANITIZE_ADDRESS__)
#define SBX_CHILD_CODE __attribute__((no_sanitize_address))
#else
#define SBX_CHILD_CODE
#endif
#define SBX_HOSTNAME "lanser-sandbox"

/* An unprivileged outside id for one run (root only): distinct for runs
 * that overlap in this process, spread by pid across processes. */
unsigned sbx_pick_id(void);

/* A pids cgroup for one run. */
struct sbx_cgroup {
	char path[200];    /* "" when none */
};

/* Creates a cgroup with pids.max = max_pids (0: no maximum). Returns 0, or
 * an errno value when no pids cgroup hierarchy is writable (cg->path ""). */
int sbx_cgroup_create(struct sbx_cgroup *cg, long max_pids);
/* A process joins it by writing "0" to <path>/tasks (run.c: the
 * supervisor does so itself, through a descriptor lanser opened). */
/* Forks refused because of pids.max (-1 when unknown). */
long sbx_cgroup_max_events(const struct sbx_cgroup *cg);
/* SIGKILLs every member until none is left (bounded). Not
 * async-signal-safe: parent side. */
void sbx_cgroup_kill(const struct sbx_cgroup *cg);
/* Supervisor side: one pass of SIGKILL over the members
 * (async-signal-safe). Returns the number signalled. */
int sbx_child_cgroup_kill(const char *cg_path);
/* Kills what is left and removes it. */
void sbx_cgroup_destroy(struct sbx_cgroup *cg);
/* Removes the cgroups of lanser processes that no longer exist (after a
 * crash), killing their members first. Returns how many were removed. */
int sbx_cgroup_prune(void);

#endif
