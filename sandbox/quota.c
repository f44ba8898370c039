#include "sandbox/quota.h"

#define _XOPEN_SOURCE_EXTENDED 1
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

static long long fs_used(const char *dir)
{
	struct statfs s;

	if (statfs(dir, &s) < 0)
		return -1;
	return (long long)(s.f_blocks - s.f_bfree) * (long long)s.f_bsize;
}

void sbx_quota_start(struct sbx_quota *q, const char *dir, long long limit)
{
	memset(q, 0, sizeof *q);
	if (!dir || limit <= 0 || strlen(dir) >= sizeof q->dir)
		return;
	snprintf(q->dir, sizeof q->dir, "%s", dir);
	q->limit = limit;
	q->used0 = fs_used(dir);
	clock_gettime(CLOCK_REALTIME, &q->t0);
	q->on = q->used0 >= 0;
}

/* nftw has no user pointer: the walk's state is per thread */
static __thread struct {
	struct timespec t0;
	long long bytes, entries;
} walk;

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path;
	(void)type;
	(void)ftw;
	if (++walk.entries > SBX_QUOTA_MAX_ENTRIES)
		return 1;
	if (st->st_ctim.tv_sec > walk.t0.tv_sec ||
	    (st->st_ctim.tv_sec == walk.t0.tv_sec && st->st_ctim.tv_nsec >= walk.t0.tv_nsec))
		walk.bytes += (long long)st->st_blocks * 512;
	return 0;
}

bool sbx_quota_exceeded(struct sbx_quota *q, long long now_ms)
{
	long long used;
	int r;

	if (!q->on)
		return false;
	used = fs_used(q->dir);
	if (used < 0 || used - q->used0 <= q->limit)
		return false;
	/* after a walk that found the growth was someone else's: again when
	 * the file system grew by another eighth of the quota, or a second
	 * later */
	if (q->used_walk && used - q->used_walk < q->limit / 8 && now_ms < q->next_walk_ms)
		return false;
	/* the file system grew by more than the quota: was it this run? */
	walk.t0 = q->t0;
	walk.bytes = 0;
	walk.entries = 0;
	r = nftw(q->dir, visit, 32, FTW_PHYS | FTW_MOUNT);
	q->added = walk.bytes;
	q->next_walk_ms = now_ms + 1000;
	q->used_walk = used;
	return r == 1 || walk.bytes > q->limit;
}
