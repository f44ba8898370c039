/*
 * path.h - the workspace root, workspace-relative paths and file URIs.
 *
 * Inside the workspace a path is relative to the root with '/' separators
 * ("src/app.c"; the root itself is "."). Outside it, a path stays absolute
 * and is marked external by the caller. The absolute path of the root never
 * appears in anything hashed: hash the relative form.
 *
 * All functions return 0 (or the documented non-negative value) on success
 * and a negative LN_E* code with the last error set on failure. Every
 * `**out` is set only on success and then belongs to the caller (free()).
 * Allocation failure aborts (see buf.h). Thread-safe (no shared state).
 */
#ifndef LANSER_PATH_H
#define LANSER_PATH_H

/* Longest path accepted from a user, a server or a URI (bytes, before
 * canonicalisation). Longer ones fail with LN_EINPUT. */
#define LN_PATH_MAX 4096

/*
 * Finds the workspace root (BRIEF "Workspace root"):
 *   1. `explicit_root` (--root) when not NULL: relative to `cwd`; must exist
 *      (LN_ENOTFOUND) and be a directory (LN_EUSAGE);
 *   2. else the nearest ancestor of `cwd` (cwd included) holding a
 *      `.lanser.json` that is not a directory;
 *   3. else the top of the git work tree: the nearest ancestor holding a
 *      `.git` entry (a directory, or a file as in submodules and linked
 *      worktrees);
 *   4. else `cwd` itself.
 * `cwd` NULL means the process's current directory. Ancestors are those of
 * the canonical cwd (symlinks resolved first). *out is an absolute canonical
 * path (realpath) without a trailing '/' (except "/" itself).
 */
int ln_workspace_find_root(char **out, const char *explicit_root, const char *cwd);

/*
 * Resolves `user_path` (absolute, or relative to `cwd`; NULL cwd = the
 * process's current directory) to an existing regular file inside `root`.
 * Symlinks are followed (realpath) before the jail check, so a link that
 * points outside the root is refused, as is a "../" escape.
 *   *out_abs: the canonical absolute path;
 *   *out_rel: the same relative to the canonical root, with '/';
 * either may be NULL when not wanted.
 * Errors: LN_EINPUT for an empty path or one longer than LN_PATH_MAX (or a
 * symlink loop), LN_ENOTFOUND when it (or `root`) does not exist, LN_EPERM
 * when a directory on the way cannot be searched or the canonical path is
 * outside root ("path is outside the workspace: <user_path>"; the message
 * names the path as the user gave it, never the root), LN_EINPUT when it is
 * a directory or not a regular file. The jail check comes first: a
 * directory outside the root is LN_EPERM, not LN_EINPUT.
 */
int ln_path_resolve_in_root(char **out_rel, char **out_abs, const char *root, const char *cwd,
			    const char *user_path);

/*
 * Lexically relativises `abs_path` against `root` (no filesystem access).
 * Both must be absolute; "." and ".." components and repeated '/' are folded
 * first (".." above "/" stays at "/").
 * Returns 1 when the path is inside root: *out_rel is the relative form with
 * '/' ("." for root itself). Returns 0 when it is outside: *out_rel is a copy
 * of abs_path exactly as given (kept as the server gave it).
 * Returns LN_EINPUT when either path is not absolute or is too long.
 */
int ln_path_relativize(char **out_rel, const char *root, const char *abs_path);

/*
 * The workspace-relative form of a user-given path by lexical
 * normalisation only (no filesystem access beyond the cwd; symlinks are not
 * followed), for recording a request even when the file does not exist.
 * `root` must be canonical. Returns 1 with *out relative when the path lies
 * lexically inside root, 0 with *out a copy of user_path otherwise, or a
 * negative code. *out is malloc'd.
 */
int ln_path_lexical_rel(char **out, const char *root, const char *cwd, const char *user_path);

/*
 * The file:// URI of an absolute path: "file://" followed by the path with
 * every byte percent-encoded (uppercase hex) except the RFC 3986 unreserved
 * characters (A-Z a-z 0-9 - . _ ~) and '/'. Non-ASCII text is encoded as
 * its UTF-8 bytes. Returns a heap string owned by the caller, or NULL (with
 * the last error set to LN_EINPUT) when abs_path does not start with '/'.
 */
char *ln_uri_from_path(const char *abs_path);

/*
 * Decodes a file URI into an absolute path. Accepts "file://" with an empty
 * or "localhost" authority ("file:///a", "file://localhost/a") and the
 * authority-less "file:/a"; the scheme and "localhost" are case-insensitive,
 * escapes may use either case of hex. Rejected with LN_EINPUT: other
 * schemes and authorities, a query or fragment, a malformed '%' escape, %00,
 * and results longer than LN_PATH_MAX. No normalisation is done ("." and
 * ".." stay). *out is a heap string owned by the caller.
 */
int ln_uri_to_path(char **out, const char *uri);

#endif
