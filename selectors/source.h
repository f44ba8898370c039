/*
 * source.h - where selectors read files: today's files on disk, or the
 * files of a git revision (libgit2), behind the struct sel_source
 * interface of resolve.h.
 *
 * A source caches every document it reads (validated as UTF-8 text, at
 * most LN_FILE_MAX_BYTES) until it is released, so one resolution sees
 * one version of each file. Not thread-safe: one source per request.
 */
#ifndef LANSER_SEL_SOURCE_H
#define LANSER_SEL_SOURCE_H

#include <jansson.h>

#include "selectors/resolve.h"

struct sel_files;

/* Today's files under `root` (canonical). `cwd` resolves cursor/range
 * paths (NULL: the root). *out owns the state; sel_files_free(). */
int sel_files_new_fs(struct sel_files **out, const char *root, const char *cwd);

/* The files of git revision `rev` (any rev-parse expression: a commit, a
 * branch, HEAD~2) of the repository holding `root`. Fails with
 * LN_ENOTFOUND when there is no repository or the revision does not
 * resolve (the message names the revision). Paths stay relative to `root`
 * (a subfolder of the work tree is handled). The full commit id is
 * recorded in sel_files_commit(). */
int sel_files_new_git(struct sel_files **out, const char *root, const char *cwd, const char *rev);

void sel_files_free(struct sel_files *f);

/* The resolver interface over these files (borrowed, valid until free). */
const struct sel_source *sel_files_source(struct sel_files *f);

/* Hex SHA-256 of a document already read, or NULL. */
const char *sel_files_digest(struct sel_files *f, const char *rel);

/* The commit a git source reads (40 hex), NULL for a filesystem source. */
const char *sel_files_commit(const struct sel_files *f);

/* Lists the workspace's files with a tree-sitter grammar (sorted,
 * relative; hidden folders, node_modules and __pycache__ skipped), at
 * most SEL_MAX_FILES (LN_EINPUT beyond). *out is a new array. */
int sel_workspace_files(json_t **out, const char *root);

#endif
