/*
 * quota.h - the disk quota of a run's writable tree (docs/sandbox.md,
 * "Disk quota").
 *
 * bubblewrap has no overlay with a size limit, and the worktree lives on
 * the host's file system, so the quota is watched, not enforced by the
 * kernel: sbx_quota_check() (called every SBX_QUOTA_PERIOD_MS by the
 * runner) compares the file system's used blocks (statfs, cheap) with
 * those at the start; only when they grew by more than the limit does it
 * walk the tree (bounded: SBX_QUOTA_MAX_ENTRIES entries, one file system,
 * no symlinks followed) and sum the allocated blocks of what the run
 * created or changed (ctime at or after the start). Over the limit, or a
 * walk that hits its bound, means the run is killed (SBX_HIT_DISK).
 *
 * Not thread-safe per object; different objects may be checked in
 * different threads at once.
 */
#ifndef LANSER_SANDBOX_QUOTA_H
#define LANSER_SANDBOX_QUOTA_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#define SBX_QUOTA_PERIOD_MS 50
#define SBX_QUOTA_MAX_ENTRIES 1000000

struct sbx_quota {
	char dir[4096];
	long long limit;          /* bytes; 0: no quota */
	long long used0;          /* file system bytes in use at the start */
	long long next_walk_ms;   /* the next walk, unless the file system grows first */
	long long used_walk;      /* file system bytes in use at the last walk (0: none) */
	long long added;          /* bytes the last walk found */
	struct timespec t0;
	bool on;
};

/* Starts watching `dir` (NULL or limit <= 0: a quota that never fires). */
void sbx_quota_start(struct sbx_quota *q, const char *dir, long long limit);

/* true when the run added more than the limit under dir (or created more
 * than SBX_QUOTA_MAX_ENTRIES entries). */
bool sbx_quota_exceeded(struct sbx_quota *q, long long now_ms);

#endif
