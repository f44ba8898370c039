/*
 * jail.h - the workspace jail (issue 5; docs/edits.md "Jail").
 *
 * Every path an edit touches is checked before anything is read or written:
 *   - lexically: not empty, relative, no "." / ".." / empty components, no
 *     NUL, control bytes or backslash, at most LN_PATH_MAX bytes and 255 per
 *     component; no component equal to ".git" in any letter case, at any
 *     depth; nothing under ".cache/clangd/" (a server's cache) or lanser's
 *     own temporaries;
 *   - protected paths (sbx_jail_protected): refused unless the
 *     configuration is trusted (core/trust.h) and its jail.allow matches
 *     the path; an untrusted configuration's jail settings only tighten;
 *   - against the configuration: `.lanser.json` "jail": {"allow": [...],
 *     "deny": [...]} glob patterns (fnmatch, '*' also matches '/'; a
 *     pattern naming a folder covers everything below it); deny wins, and a
 *     non-empty allow list must match;
 *   - ignored files (core/ignore.h: .gitignore, .git/info/exclude and the
 *     configuration's "exclude"): a build tree's copy of a header is no
 *     project file, and `git checkout .` could not undo a write to it;
 *   - against the filesystem: no existing component on the way (the
 *     directories and the file itself) may be a symlink, and no directory
 *     may be anything but a directory.
 * The transaction opens every directory again with O_NOFOLLOW when it
 * writes, so a symlink swapped in after the check is refused too.
 *
 * Violations are LN_EPERM (LN_EINPUT for an over-long path), with a message
 * naming the path as given (made printable).
 */
#ifndef LANSER_SBX_JAIL_H
#define LANSER_SBX_JAIL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct buf;
struct ln_ignore;

struct sbx_jail {
	char *root;          /* canonical workspace root */
	json_t *allow, *deny;   /* arrays of patterns (owned; may be NULL) */
	bool trusted;        /* the configuration is trusted: jail.allow may re-open
				protected paths */
	struct ln_ignore *ignore;   /* .gitignore and "exclude" (owned) */
};

/* Loads the jail of `root` from its .lanser.json ("jail" member).
 * LN_ECONFIG for a malformed file or "jail" member. */
int sbx_jail_init(struct sbx_jail *j, const char *root);
void sbx_jail_release(struct sbx_jail *j);

/* Checks one workspace-relative path (see the top of this file). */
int sbx_jail_check(const struct sbx_jail *j, const char *rel);

/* Why `rel` is ignored (".gitignore" or "exclude", static), or NULL.
 * A WorkspaceEdit (rename) leaves an ignored file out instead of failing
 * (sandbox/wsedit.c); a patch touching one is refused (LN_EPERM). */
const char *sbx_jail_ignored(const struct sbx_jail *j, const char *rel);

/* Why `rel` is protected (a static string), or NULL: a file named
 * .lanser.json, .clangd, compile_commands.json, compile_flags.txt or
 * pyrightconfig.json at any depth, anything under a node_modules folder,
 * and any component starting with ".git" (.gitignore, .gitattributes,
 * .gitmodules, .github/...), in any letter case. docs/edits.md says why. */
const char *sbx_jail_protected(const char *rel);

/* The lexical part alone (no configuration, no filesystem). */
int sbx_jail_check_lexical(const char *rel);

/* Whether a workspace-relative path matches one of `list`'s fnmatch
 * patterns (`*` also crosses '/'): the path itself or a folder above it
 * ("vendor" and "vendor/" both cover vendor/x). The jail's allow/deny and
 * a task's testFiles match this way. */
bool sbx_jail_patterns_match(const json_t *list, const char *rel);

/* Opens the directory that holds `rel` below `rootfd`, one component at a
 * time with O_NOFOLLOW|O_DIRECTORY; with `create`, missing directories are
 * made (mode 0777 & ~umask). Returns the directory descriptor (close it) and
 * the last component in *leaf (points into rel), or a negative LN_E* code. */
int sbx_open_parent(int rootfd, const char *rel, bool create, const char **leaf);

/* Reads a regular file below `root` without following any symlink.
 * *exists false (and 0 returned) when it is absent; LN_EPERM for a
 * symlink or a non-regular file; LN_EINPUT above `max` bytes. */
int sbx_read_file(const char *root, const char *rel, size_t max, bool *exists,
		  struct buf *out, unsigned *mode);

#endif
