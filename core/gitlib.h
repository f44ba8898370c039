/*
 * gitlib.h - libgit2 is initialised once per process, here (issue 18,
 * item 5), instead of init/shutdown pairs around each use.
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

void ln_git_init(void);

#endif
