/*
 * edit.h - the one internal representation of a change to a workspace
 * (issue 5; docs/edits.md).
 *
 * Every source of edits - a unified diff, an LSP WorkspaceEdit (text edits,
 * versioned document edits, create/rename/delete file operations), a
 * whole-file replacement - is turned into a struct sbx_edits: for every
 * file touched, the exact bytes and mode before and after. Hunks and text
 * edits are applied in memory when the set is built, so conflicts are found
 * before anything is written; the transaction (txn.h) then only has to
 * replace whole files, and the preview is a diff of before and after.
 *
 * Paths are workspace-relative with '/', checked by the jail (jail.h)
 * before any file is read. Every function returns 0 or a negative LN_E*
 * code with the last error set; on error the set is left valid (release it).
 */
#ifndef LANSER_SBX_EDIT_H
#define LANSER_SBX_EDIT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/text.h"
#include "core/limits.h"

#define SBX_PATCH_MAX_BYTES ((size_t)32 << 20)   /* a whole patch */
#define SBX_PATCH_MAX_LINE ((size_t)1 << 20)     /* one line of a patch */
#define SBX_MAX_FILES 2000                       /* files in one edit set */

enum sbx_status { SBX_MODIFIED, SBX_ADDED, SBX_DELETED, SBX_RENAMED };

struct sbx_file {
	char *path;           /* after the change (for a deletion: the deleted path) */
	char *from;           /* renamed or copied from (NULL otherwise) */
	enum sbx_status status;
	bool old_exists, new_exists;
	unsigned old_mode, new_mode;  /* st_mode permission bits (07777) */
	struct buf old, new;  /* whole contents */
};

struct sbx_edits {
	struct sbx_file *v;
	size_t n, cap;
	json_t *conflicts;    /* array; non-empty after LN_ECONFLICT */
};

void sbx_edits_init(struct sbx_edits *e);
void sbx_edits_release(struct sbx_edits *e);

/* Parses a unified diff (git diff output or plain `diff -u`; "a/" "b/"
 * prefixes stripped) and applies it in memory to the files under `root`
 * (canonical). LN_EINPUT: malformed, binary, oversized (limits above);
 * LN_EPERM: a path the jail refuses (jail.h); LN_ECONFLICT: some hunk does
 * not apply, e->conflicts lists every failing hunk
 * ({path, hunk, header, reason, expected[], actual[]}). */
int sbx_edits_from_diff(struct sbx_edits *e, const char *root, const char *diff, size_t len);

/* Adds the changes of an LSP WorkspaceEdit ("changes" or "documentChanges"
 * with TextDocumentEdit, CreateFile, RenameFile, DeleteFile) whose
 * positions are in `enc`; URIs must name files inside `root`.
 * LN_EPERM outside the workspace / refused by the jail; LN_ECRASH when the
 * edit does not fit the documents (overlapping or out-of-range edits);
 * LN_ECONFLICT for a file operation that collides (create over an existing
 * file without overwrite, rename onto an existing file, ...). */
int sbx_edits_from_workspace_edit(struct sbx_edits *e, const char *root, const json_t *we,
				  enum ln_enc enc);

/* Whole-file replacement of `rel` (created when missing). */
int sbx_edits_replace_file(struct sbx_edits *e, const char *root, const char *rel,
			   const char *data, size_t len);

/* Refuses (LN_EINPUT, naming both paths, made printable) an edit set
 * whose paths cannot all hold at once: a file that exists after the
 * change and a path below it (`src/x.c` and `src/x.c/y.c`), or one path
 * touched twice, or a path that is not UTF-8 (the journal and the reports
 * are JSON). sbx_edits_from_diff() and sbx_edits_from_workspace_edit()
 * call it before returning, and the transaction again before writing, so
 * such a set is refused at preview and nothing is ever written. (Spellings
 * of one path such as `a//b` or `./a/b` never get this far: the jail
 * refuses empty and "." components.) */
int sbx_edits_check_paths(const struct sbx_edits *e);

/* Appends a git-style unified diff of every change (applies with
 * sbx_edits_from_diff / `git apply`). */
int sbx_edits_diff(struct buf *out, const struct sbx_edits *e);

/* [{"path", "status", "from"?}] in the order of the set (new reference). */
json_t *sbx_edits_files_json(const struct sbx_edits *e);

const char *sbx_status_name(enum sbx_status s);

#endif
