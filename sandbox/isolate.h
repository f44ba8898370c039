/*
 * isolate.h - the isolation layers of the sandbox (docs/sandbox.md).
 *
 * Used by run.c; split out because half of it runs in the parent (uid/gid
 * maps, the idmapped worktree, cgroups) and half in the supervisor between
 * clone and exec (mounts, loopback, hostname), where only async-signal-safe
 * calls are allowed: the sbx_child_* functions make no allocation, take no
 * lock and return an errno value instead of setting the last error.
 *
 * Layers, in the order they are set up:
 *   1. clone(2) into new user, mount, pid, net, ipc and uts namespaces;
 *   2. the parent maps the sandbox's uid/gid 0 to an unprivileged id outside:
 *      a fresh id in [SBX_UID_BASE, SBX_UID_BASE + 65536) when lanser runs
 *      as root, lanser's own uid otherwise (then "setgroups" is denied);
 *   3. as root, the writable directory is cloned (open_tree) and idmapped
 *      onto the sandbox's user namespace, so that files owned by lanser's
 *      uid are the sandbox root's, and files it creates belong to lanser;
 *   4. in the supervisor: every mount made private and read-only
 *      (mount_setattr, recursive), a private tmpfs on /tmp and /dev/shm, the
 *      writable tree moved back onto its own path, a fresh /proc, "lo" up,
 *      hostname "lanser-sandbox";
 *   5. a pids cgroup (the v1 hierarchy at /sys/fs/cgroup/pids) when one is
 *      writable, named lanser/<lanser pid>.<n>; stale ones (their lanser
 *      is gone) are removed by sbx_cgroup_prune().
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

/* Parent side, after clone: writes /proc/<pid>/{setgroups,uid_map,gid_map}
 * mapping 0 inside to `id` outside (root) or to our own uid/gid (not root).
 * Returns 0 or an errno value; *what names the file that failed. */
int sbx_write_maps(pid_t pid, bool privileged, unsigned id, const char **what);

/* Parent side (root): idmaps the detached tree `tree_fd` (open_tree clone)
 * onto the user namespace of `pid`. 0 or an errno value. */
int sbx_idmap_tree(int tree_fd, pid_t pid);

/* Supervisor side (async-signal-safe): the mount namespace and the rest
 * (layer 4 above). `writable` may be NULL; `tree_fd` is its detached tree.
 * `hide` (may be NULL) is an ancestor of `writable` that the sandbox's uid
 * could not search (a 0700 home or runtime folder): it is covered by an
 * empty tmpfs in which the path to `writable` is recreated (see
 * sbx_hide_for). On failure returns an errno value and sets *stage to a
 * static description. */
int sbx_child_setup(const char *writable, const char *hide, int tree_fd, long long tmp_bytes,
		    bool privileged, const char **stage);

/* Parent side: the highest ancestor of `writable` (not "/", not "/tmp"
 * or below it, which gets a private tmpfs anyway) that others cannot
 * search, into out (empty when none). */
void sbx_hide_for(const char *writable, char *out, size_t n);

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
