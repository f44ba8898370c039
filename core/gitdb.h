/*
 * gitdb.h - the files libgit2 reads after a repository is open, checked
 * before it is (docs/security.md, "Git configuration of the repository").
 *
 * core/gitvet.h checks what git_repository_open_ext() reads. Once open,
 * libgit2 reads the object and reference databases and the info files on
 * demand, with a plain open(2) that follows symlinks and blocks on a FIFO:
 * HEAD, index, packed-refs, loose references and their logs (status, revparse,
 * every edit transaction and candidate worktree), objects/info/alternates
 * (other object stores anywhere on the host), loose objects and packs,
 * info/exclude and info/attributes (status). A cloned repository chooses all
 * of them: a FIFO makes lanser hang, a symlink makes it read (or, for a
 * reference or its log, write) a host file, an alternates file makes it read
 * another repository's objects.
 *
 * ln_gitdb_vet() refuses (LN_EPERM, the message names the file and the way
 * out) a git directory (or common directory) where
 *   - an entry of the directory itself, of info/, of objects/ and its
 *     fan-out folders (objects/XX/, objects/info/, objects/pack/), or of
 *     refs/ or logs/ at any depth is a symlink, a FIFO or a device (a
 *     socket is let be: opening one fails at once);
 *   - objects/info/alternates is not empty (another object store: libgit2
 *     would read objects outside the repository);
 *   - refs/ or logs/ nest deeper than LN_GITDB_MAX_DEPTH folders, or the
 *     walk meets more than LN_GITDB_MAX_ENTRIES entries (run `git gc`, or
 *     trust the repository).
 * Other folders (hooks/, worktrees/: core/gitvet.c checks the records
 * libgit2 reads there, modules/, lanser's journal) are not walked. A
 * missing directory is 0. Nothing is opened but folders (O_NOFOLLOW);
 * entry types come from readdir(3), lstat only where the filesystem does
 * not say. A clean walk is remembered for the process (up to 8 git
 * directories): the next call only lstats the folders it read and walks
 * again if one changed (device, inode, mtime or ctime: an entry added,
 * removed, renamed or replaced changes them); a walk that met a folder
 * changed in the last 2 seconds is not remembered (file times are coarse).
 * Thread-safe; no libgit2 (the thin front end links it).
 */
#ifndef LANSER_CORE_GITDB_H
#define LANSER_CORE_GITDB_H

#define LN_GITDB_MAX_ENTRIES 500000 /* entries walked in one git directory */
#define LN_GITDB_MAX_DEPTH 32       /* folders below refs/ or logs/ */

/* `dir`: a git directory or common directory (canonical). 0, or LN_EPERM
 * with the message set. */
int ln_gitdb_vet(const char *dir);

#endif
