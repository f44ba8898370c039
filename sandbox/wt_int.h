/*
 * wt_int.h - what worktree.c and wtcache.c share: the set of candidate
 * worktrees. Not for other modules (they see sandbox/worktree.h).
 */
#ifndef LANSER_SANDBOX_WT_INT_H
#define LANSER_SANDBOX_WT_INT_H

#include <stddef.h>

#include <git2.h>

struct wt {
	char *name;     /* lanser-<pid>-<n> */
	char *path;
};

struct sbx_wtset {
	git_repository *repo;
	git_oid base;
	struct wt *v;
	size_t n;
};

#endif
