/*
 * transaction.h - applying an edit set (edit.h) to a git work tree as one
 * crash-safe transaction (issue 5; docs/edits.md "Transactions and the
 * journal").
 *
 * begin / commit / free, where free without commit rolls back (the libgit2
 * transaction style): sbx_txn_begin() checks, journals and writes every
 * file; the caller may then look at the result (verified apply) and
 * sbx_txn_commit() or sbx_txn_free() it. A SIGKILL anywhere leaves a
 * journal that sbx_txn_recover() (txn.h) resolves: before COMMITTED is
 * written, every file is restored (bytes, mode, index, HEAD); after it,
 * nothing is left to do but drop the journal.
 *
 * One transaction per repository at a time: a flock on
 * <gitdir>/lanser-txn.lock (a second one waits its turn; recovery leaves a
 * live transaction alone).
 */
#ifndef LANSER_SBX_TRANSACTION_H
#define LANSER_SBX_TRANSACTION_H

#include <jansson.h>

#include "sandbox/edit.h"
#include "sandbox/txn.h"

struct sbx_txn;

/* Checks (dirty tree unless o->allow_dirty: LN_EDIRTY; files changed on
 * disk since `e` was built: LN_ECONFLICT) and, unless o->dry_run, writes
 * the journal and every file. *out is NULL after a dry run. On error
 * nothing is left written. `e` must outlive the transaction. */
int sbx_txn_begin(struct sbx_txn **out, const char *root, const struct sbx_edits *e,
		  const struct sbx_apply_opts *o);

/* Makes the commit (o->commit_message), marks the transaction done and
 * drops the journal. Sets report.commit (id or null). On error the
 * transaction is still pending (free rolls it back). */
int sbx_txn_commit(struct sbx_txn *t, json_t *report);

/* Rolls back unless committed; frees. NULL allowed. Returns 0 or the
 * rollback's error (the journal then stays for sbx_txn_recover). */
int sbx_txn_free(struct sbx_txn *t);

/* begin + commit, with the report of sbx_patch_apply(). */
int sbx_apply_edits(const char *root, const struct sbx_edits *e, const struct sbx_apply_opts *o,
		    json_t **report);

/* Test hook: with LANSER_TXN_KILL_AT=N in the environment, the process
 * SIGKILLs itself at the Nth step of a transaction (steps are counted from
 * 1; LANSER_TXN_STEPS=FILE appends the number of steps taken). Used by the
 * kill harness to hit every instant deterministically. LANSER_TXN_STEP_US=N
 * sleeps N microseconds after every step, so that kills at random instants
 * land inside the transaction. */

#endif
