/*
 * txn.h - the apply contract: one unified diff applied to a git work tree as
 * ONE crash-safe transaction (issue 5). See docs/edits.md for the journal
 * format and the recovery protocol.
 *
 * Every function returns 0 (or the documented non-negative value) on success
 * and a negative LN_E* code (core/err.h) with the last error set on failure.
 * Transactions on one repository are serialised by a lock file in its git
 * directory: a second concurrent apply waits for the first.
 */
#ifndef LANSER_TXN_H
#define LANSER_TXN_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct sbx_apply_opts {
	bool allow_dirty;            /* apply over uncommitted changes (never losing them) */
	bool dry_run;                /* check everything (jail, conflicts), write nothing */
	const char *commit_message;  /* non-NULL: commit the result and record the commit id */
};

/* Applies a unified diff (git diff output: modified, new, deleted, renamed files,
 * "\ No newline at end of file", binary refused) to the work tree at `root` as ONE
 * transaction: every path jail-checked, all files or none, crash-safe (a journal in
 * the repository's git directory, finished or undone by sbx_txn_recover). `root` is a
 * git work tree (a linked worktree is fine). *report (may be NULL; new reference) gets
 * {"files":[{"path","status":"modified|added|deleted|renamed","from"?}], "commit": id|null,
 *  "conflicts":[...]} .
 * Returns 0, LN_ECONFLICT (70) with report.conflicts when a hunk does not apply,
 * LN_EPERM (71) on a jail violation, LN_EDIRTY (81) on a dirty tree without allow_dirty,
 * LN_EINPUT (77) on a malformed or oversized patch. Nothing is written on any error. */
int sbx_patch_apply(const char *root, const char *diff, size_t len,
		   const struct sbx_apply_opts *o, json_t **report);

/* Finishes or undoes an interrupted transaction of `root`: 1 when one was pending and
 * has been resolved, 0 when nothing was pending, <0 on error. Cheap when nothing is pending. */
int sbx_txn_recover(const char *root);

#endif
