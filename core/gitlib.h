/*
 * gitlib.h - libgit2 is initialised once per process, here (issue 18,
 * item 5), instead of init/shutdown pairs around each use; and every
 * repository lanser opens is opened here, with the repository's own
 * configuration filtered (docs/security.md, "Git configuration").
 *
 * ln_git_init() may be called any number of times from any thread; the
 * first call runs git_libgit2_init() and later calls wait for it. libgit2
 * is never shut down: its global state lives until the process exits.
 * Call it before the first git_* call of a module.
 *
 * Only the engine links libgit2: the thin `lanser` front end (Makefile,
 * THIN_OBJ) is built without this file.
 */
#ifndef LANSER_CORE_GITLIB_H
#define LANSER_CORE_GITLIB_H

#include <git2.h>

void ln_git_init(void);

/*
 * git_repository_open_ext(out, path, flags, NULL), then, unless the run
 * trusts the workspace (--trust), the repository's configuration is
 * replaced by one libgit2 reads nothing else through: the user's own
 * levels (system, XDG, global: the user's files) and, of the repository's
 * .git/config, only the keys of a fixed list (core.filemode, core.autocrlf,
 * user.name, ...; docs/security.md), never what an include brought in. So a
 * cloned repository cannot make lanser read a host file as ignore rules
 * (core.excludesFile) or attributes (core.attributesFile). Before libgit2
 * opens anything, untrusted, ln_git_vet() (core/gitvet.h) checks what the
 * open itself reads (.git/config and its includes, the .git, commondir and
 * gitdir files, core.worktree) and what it reads once open (references,
 * objects, alternates, the index: core/gitdb.h): refused, this returns GIT_ERROR with
 * git_error_last() and the lanser error (LN_EPERM) saying why. Returns 0, or
 * libgit2's negative code with git_error_last() set; *out belongs to the
 * caller (git_repository_free).
 */
int ln_git_open(git_repository **out, const char *path, unsigned int flags);

#endif
