/*
 * gitvet.h - what libgit2 would read when it opens a repository, checked
 * before it does (docs/security.md, "Git configuration of the repository").
 *
 * git_repository_open_ext() reads, before lanser can replace anything
 * (core/gitlib.h): the `.git` file of a linked worktree or submodule, the
 * `commondir` and `gitdir` files of the git directory, and the
 * repository's configuration `<commondir>/config` with every file its
 * `include.path` and `includeIf.<cond>.path` name, recursively. A cloned
 * repository chooses all of these: an include naming a FIFO makes the open
 * hang forever, one naming /dev/zero or a huge host file makes it read what
 * it should not, `core.worktree` moves the work tree anywhere.
 *
 * ln_git_vet() finds the repository the way libgit2 1.5 does (the same
 * walk: start, start/.git, the parent, the parent's .git, ...; the same
 * validity test: HEAD, objects/ and refs/ of the common directory), without
 * opening anything but regular files it has lstat'ed, and refuses
 * (LN_EPERM, the message names the file, the key and the way out) when:
 *   - a `.git` file or `commondir` is a symlink or larger than
 *     LN_GITVET_MAX_LINK bytes; the git directory's `gitdir` is a symlink,
 *     a FIFO, a socket or a device;
 *   - the configuration, or a file an include names, is not a regular file,
 *     lies (symlinks resolved) outside the repository (its git directory,
 *     its common directory, the work tree holding its `.git`), starts with
 *     `~/` (the user's home), is larger than LN_GITVET_MAX_CONFIG, holds a
 *     NUL byte or cannot be parsed, or includes nest deeper than libgit2's
 *     limit; every includeIf counts, whatever its condition;
 *   - `core.worktree` names another folder than the one holding `.git`;
 *   - a linked worktree's record (<commondir>/worktrees/NAME: commondir,
 *     gitdir, locked, HEAD) is a symlink or not a regular file: libgit2's
 *     worktree calls read them.
 * Includes inside the repository are followed and checked the same way.
 * Then the git directory and the common directory go through
 * ln_gitdb_vet() (core/gitdb.h): what libgit2 reads once the repository is
 * open (references, objects, alternates, the index, info/).
 * No repository found (or one libgit2 would refuse anyway) is 0: the open
 * itself then fails, having read nothing.
 *
 * A process that can rewrite the repository while it is checked could swap
 * a file between this check and libgit2's open; such a process already
 * runs as the user (docs/security.md).
 *
 * No libgit2 here: the thin front end (Makefile, THIN_OBJ) links this file,
 * so ln_config_load() refuses before a request reaches the daemon.
 */
#ifndef LANSER_CORE_GITVET_H
#define LANSER_CORE_GITVET_H

#include <stdbool.h>
#include <stddef.h>

#define LN_GITVET_MAX_CONFIG (1 << 20) /* bytes of one configuration file */
#define LN_GITVET_MAX_LINK 4096        /* bytes of a .git, commondir or gitdir file */
#define LN_GITVET_MAX_DEPTH 10         /* include nesting (libgit2's MAX_INCLUDE_DEPTH) */
#define LN_GITVET_MAX_FILES 64         /* configuration files read for one repository */

/* Checks the repository holding `path` (`search`: as libgit2 without
 * GIT_REPOSITORY_OPEN_NO_SEARCH, walking up to the root). 0, or LN_EPERM
 * with the message set. */
int ln_git_vet(const char *path, bool search);

/*
 * libgit2 1.5's configuration syntax (config_parse.c), for the check above
 * and its tests: calls cb(name, value, line, payload) for each variable in
 * order, `name` as libgit2 names it (section and key lower-cased, a
 * subsection as written: "includeif.gitdir:/x/.path"), `value` unescaped
 * or NULL for a key without '='. Returns 0, -1 for text libgit2 refuses
 * (*err_line: its line), or the first non-zero cb return. `text` must not
 * contain NUL bytes.
 */
typedef int (*ln_gitcfg_cb)(const char *name, const char *value, size_t line, void *payload);
int ln_gitcfg_parse(const char *text, size_t len, ln_gitcfg_cb cb, void *payload,
		    size_t *err_line);

#endif
