/*
 * txn_impl.h - internal to the transaction (sandbox/txn.c, txn_files.c,
 * txn_recover.c): its state and the helpers the files share. Callers
 * outside use txn.h and transaction.h.
 */
#ifndef LANSER_SBX_TXN_IMPL_H
#define LANSER_SBX_TXN_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "sandbox/transaction.h"
#include "sandbox/txn.h"

#define JOURNAL "lanser-txn"              /* <gitdir>/lanser-txn: the journal */
#define MANIFEST_MAX ((size_t)64 << 20)   /* a journal's manifest, index backup */

struct sbx_txn_entry {
	char *path;
	bool old_exists, new_exists;
	unsigned old_mode, new_mode;
	const struct buf *old, *new;   /* borrowed from the edit set */
};

struct sbx_txn {
	char *root, *top, *gitdir, *prefix;
	char id[17];
	int lockfd;
	struct sbx_txn_entry *v;
	size_t n;
	const struct sbx_edits *e;
	struct sbx_apply_opts o;
	bool pending, committed;
};

/* Removes `rel` (absent is fine) and, with `prune`, the folders it leaves
 * empty (as git does). A rollback does not prune: it removes exactly the
 * folders the transaction created (manifest "createdDirs"). */
int sbx_txn_drop_file(int rootfd, const char *rel, const char *tmpname, bool prune);

/* Drops a journal directory: renamed away first, so a half-removed one is
 * never mistaken for a live journal. */
void sbx_txn_drop_journal(const char *gitdir, const char *jdir);

/* Removes the temporary `tmpname` beside `rel`, if any (errors ignored). */
void sbx_txn_drop_tmp(int rootfd, const char *rel, const char *tmpname);

/* The work tree top holding `root` and its git directory. */
int sbx_txn_find_gitdir(const char *root, char **top_out, char **gitdir_out);

/* LN_EGENERIC with "what: libgit2's last message". */
int sbx_txn_git_fail(const char *what);

/* Writes a whole file in the journal (not in the work tree). */
int sbx_txn_journal_write(const char *dir, const char *name, const char *data, size_t len);

/* Takes the repository's transaction lock (flock on <gitdir>/lanser-txn.lock,
 * waiting when `wait`): the descriptor holding it, or an error. */
int sbx_txn_lock_repo(const char *gitdir, bool wait);

/* Replaces `rel` below the root with data/mode through a temporary beside
 * it (never following a symlink on the way). */
int sbx_txn_put_file(int rootfd, const char *rel, const char *tmpname, const char *data,
		     size_t len, unsigned mode);

/* With the lock held: resolves whatever journal is there. 1 when one was. */
int sbx_txn_recover_locked(const char *top, const char *gitdir);

/* The message for a journal that could not be rolled back: what failed
 * (the current last error), where the journal is, which files it holds,
 * and the two ways out. Returns `code`. */
int sbx_txn_recovery_failed(int code, const char *jdir);

/* Restores everything a journal describes. Idempotent. */
int sbx_txn_rollback_journal(const char *top, const char *gitdir, const char *jdir);

/* Removes a folder and what it holds (the journal); 0 or -1. */
int sbx_txn_rm_rf(const char *path);

/* The kill hook: counts durable steps and, under LANSER_TXN_KILL_AT=N,
 * kills the process at the Nth (LANSER_TXN_STEP_US slows every step). */
void sbx_txn_step(void);

/* Starts counting steps again (a transaction's first write). */
void sbx_txn_steps_reset(void);
/* Appends the number of steps taken to $LANSER_TXN_STEPS (kill tests). */
void sbx_txn_steps_report(void);

/* The name of the temporary of the i-th file of transaction `id`. */
void sbx_txn_tmp_name(char *out, size_t size, const char *id, size_t i);

#endif
