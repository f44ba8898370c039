/*
 * atomicfile.h - replacing a whole file so that a reader, or a crash at
 * any instant, sees either the old content or the new one, never a torn
 * file (issue 18, item 5).
 *
 * The recipe: a temporary in the same folder (same filesystem, so the
 * rename is atomic), created with O_EXCL and O_NOFOLLOW (a planted symlink
 * is never followed), written in full, given its mode, fsync'd, renamed
 * over the target, and the folder fsync'd so that the rename itself
 * survives a power cut. On any failure the temporary is removed and the
 * target is untouched.
 *
 * Used by the trust store (core/trust.c), the transaction's file writes
 * and index restore (sandbox/txn.c) and the server version cache
 * (lsp/profile.c).
 */
#ifndef LANSER_CORE_ATOMICFILE_H
#define LANSER_CORE_ATOMICFILE_H

#include <stddef.h>

struct ln_atomic_opts {
	unsigned mode;         /* permission bits of the new file (07777); 0: 0600 */
	const char *tmpname;   /* the temporary's name in the folder; NULL:
	                        * "<name>.<pid>.tmp" */
	const char *name;      /* the file as error messages name it; NULL: the path */
	int code;              /* the error code of a failure; 0: LN_EPERM when the
	                        * system says EACCES or EPERM, else LN_EGENERIC */
	void (*step)(void);    /* called once the temporary is complete and before
	                        * the rename (kill tests, sandbox/txn.c); may be NULL */
};

/* Replaces `leaf` in the open folder `dirfd` with `len` bytes of `data`.
 * `o` may be NULL (defaults above). Returns 0, or the error code with the
 * last error set ("cannot write NAME: reason" / "cannot replace NAME: reason"). */
int ln_atomic_write_at(int dirfd, const char *leaf, const void *data, size_t len,
		       const struct ln_atomic_opts *o);

/* The same for `path` (its folder is opened, then closed). */
int ln_atomic_write(const char *path, const void *data, size_t len,
		    const struct ln_atomic_opts *o);

/* fsync of a folder (a rename or unlink in it made durable); best effort. */
void ln_fsync_dir(const char *path);

#endif
