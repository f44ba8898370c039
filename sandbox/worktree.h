/*
 * worktree.h - candidate worktrees: independent git work trees of one
 * repository at one base commit, for applying and testing candidate
 * patches side by side (libgit2; docs/sandbox.md "Candidate worktrees").
 *
 * Each worktree is a linked git worktree named "lanser-<pid>-<n>" on its
 * own branch "lanser-wt/<pid>-<n>" (libgit2 1.5 cannot add a detached
 * worktree) at the base commit, in the workspace's state folder
 * (<state>/wt/<name>), never in the user's tree. The pid in the name is
 * the lanser process that owns it: sbx_wt_prune() removes those whose
 * process is gone (after a crash or a kill), with their branches and
 * folders, and is called at the start of every `lanser test`.
 *
 * A worktree is reused for the next candidate by sbx_wt_reset(): a hard
 * reset to the base that also removes untracked and ignored files (build
 * outputs), so that every candidate starts from the same tree.
 *
 * Not thread-safe: one thread at a time per set (the candidate runner
 * serialises the git steps and runs builds and tests in parallel).
 */
#ifndef LANSER_SANDBOX_WORKTREE_H
#define LANSER_SANDBOX_WORKTREE_H

#include <stddef.h>

struct sbx_wtset;

/* Resolves `base` (any revision) in the repository at `repo_root` and
 * creates `n` worktrees at that commit. *base_oid gets the 40-hex commit
 * id (41 bytes). LN_ENOTFOUND when the revision does not exist, LN_EINPUT
 * when repo_root is not a git repository, LN_ESANDBOX on other git
 * failures (message from libgit2). On failure nothing is left behind. */
int sbx_wt_create(struct sbx_wtset **out, const char *repo_root, const char *base, size_t n,
		  char base_oid[41]);

/* Absolute path of worktree i. */
const char *sbx_wt_path(const struct sbx_wtset *s, size_t i);
/* How many worktrees the set holds, and their base commit (40 hex + NUL). */
size_t sbx_wt_count(const struct sbx_wtset *s);
void sbx_wt_base(const struct sbx_wtset *s, char base_oid[41]);

/* Back to the base commit: hard reset, untracked and ignored files removed. */
int sbx_wt_reset(struct sbx_wtset *s, size_t i);

/*
 * Reusing the base build (issue 13, item 8; docs/sandbox.md): after a build
 * of the base in worktree i, sbx_wt_save_outputs() copies every untracked
 * and ignored file and symbolic link (the build's outputs; *nfiles says how
 * many) with its mode and times to "<path>.outputs" beside the worktree.
 * After a reset and a candidate's patch, sbx_wt_restore_outputs() copies
 * them back, leaving alone any path that exists (what the patch created):
 * the sources the patch changed are newer than the outputs, so make-style
 * builds redo only what depends on them. Copies (reflinks where the file
 * system can), never hard links. At most SBX_OUTPUTS_MAX_FILES files and
 * SBX_OUTPUTS_MAX_BYTES bytes, else LN_ESANDBOX and nothing is kept.
 * Removed with the worktree (sbx_wt_free, sbx_wt_prune).
 */
#define SBX_OUTPUTS_MAX_FILES 200000
#define SBX_OUTPUTS_MAX_BYTES ((long long)4 << 30)
int sbx_wt_save_outputs(struct sbx_wtset *s, size_t i, size_t *nfiles);
int sbx_wt_restore_outputs(struct sbx_wtset *s, size_t i);

/* Removes every worktree of the set (folders, git metadata, branches) and
 * frees it. NULL is fine. */
void sbx_wt_free(struct sbx_wtset *s);

/* Removes the worktrees, branches and folders left by lanser processes
 * that no longer run. Returns how many worktrees were pruned, or a
 * negative LN_E* code. */
int sbx_wt_prune(const char *repo_root);

/* rm -rf without following symbolic links. 0 or an errno value. */
int sbx_rmtree(const char *path);

#endif
