/*
 * ignore.h - which workspace files are not project files (issue 12, item 4).
 *
 * A path is ignored when
 *   - the workspace is inside a git work tree and git ignores it: the
 *     .gitignore files (nested ones too), .git/info/exclude and the user's
 *     core.excludesFile, through libgit2 (git_ignore_path_is_ignored); a
 *     path git tracks (in the index) is never ignored, as in git itself;
 *   - or it matches a glob of the configuration's "exclude" list
 *     (docs/config.md): a glob without '/' is matched against every
 *     component of the path (a folder name excludes the whole folder), one
 *     with '/' against the workspace-relative path and each of its leading
 *     folders (fnmatch(3) without FNM_PATHNAME: '*' also matches '/').
 * `.lanser.json` at the root, compile_commands.json and compile_flags.txt
 * are never ignored (clangd reads them; a folder holding a
 * compile_commands.json, e.g. build/, is entered and its other files are
 * ignored one by one). Outside a git work tree only
 * "exclude" applies. "exclude" is read whether the configuration is trusted
 * or not: it only narrows what lanser looks at.
 *
 * Ignored files are left out of the snapshot, of the source-file listings
 * (workspace diag, which servers start), of symbolic selector resolution,
 * of rename's edits, of patches (refused by the jail) and of `--commit`.
 *
 * Uses libgit2: not part of the thin front end (Makefile THIN_OBJ).
 */
#ifndef LANSER_CORE_IGNORE_H
#define LANSER_CORE_IGNORE_H

#include <stdbool.h>

#include <jansson.h>

struct ln_ignore;

/* The ignore rules of the workspace at `root` (absolute). `exclude` is a
 * JSON array of globs (borrowed; NULL: read "exclude" from the
 * configuration ln_config_load(root) gives, none when it fails). Never
 * fails: without a repository only the globs apply. Free with
 * ln_ignore_free(). Not thread-safe (one per thread). */
struct ln_ignore *ln_ignore_new(const char *root, const json_t *exclude);
void ln_ignore_free(struct ln_ignore *ig);

/* Whether `rel` (workspace-relative, '/'-separated; a folder when is_dir)
 * is ignored. A path leaving the workspace ("../", absolute) is not. */
bool ln_ignore_path(struct ln_ignore *ig, const char *rel, bool is_dir);

/* Why `rel` is ignored: ".gitignore" or "exclude" (static), or NULL. */
const char *ln_ignore_reason(struct ln_ignore *ig, const char *rel, bool is_dir);

/* The project file an ignored file is a copy of (a CMake build copies a
 * public header into build/include/): the one file that is not ignored,
 * has the same base name and the same bytes (each at most
 * LN_FILE_MAX_BYTES). *out is its workspace-relative path (malloc'd), or
 * NULL when `rel` is not ignored or there is not exactly one such file.
 * Walks the tree: call it only for a path ln_ignore_path accepts. */
void ln_ignore_twin(struct ln_ignore *ig, const char *rel, char **out);

/* Whether the rules come from a git work tree. */
bool ln_ignore_has_git(const struct ln_ignore *ig);

/* For ln_snapshot_set_filter() and ln_tree_files(): ctx is a struct
 * ln_ignore *. */
bool ln_ignore_skip(void *ctx, const char *rel, bool is_dir);


#endif
