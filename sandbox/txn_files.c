/*
 * txn_files.c - what the transaction (txn.c) does to files: the kill hook
 * of the kill tests, finding the git directory without libgit2, journal
 * writes, and replacing or removing a file below the root without
 * following a symlink (txn_impl.h).
 */
#include "sandbox/transaction.h"
#include "sandbox/txn_impl.h"
#include "core/atomicfile.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "sandbox/jail.h"

#include <git2.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the kill hook ---- */

static long step_no, kill_at = -1, step_us;

void sbx_txn_step(void)
{
	step_no++;
	if (kill_at < 0) {
		const char *s = getenv("LANSER_TXN_KILL_AT"), *u = getenv("LANSER_TXN_STEP_US");
		kill_at = s ? strtol(s, NULL, 10) : 0;
		step_us = u ? strtol(u, NULL, 10) : 0;
		if (step_us < 0 || step_us > 1000000)
			step_us = 0;
	}
	if (kill_at > 0 && step_no == kill_at)
		raise(SIGKILL);
	if (step_us > 0)
		usleep((useconds_t)step_us);
}

void sbx_txn_steps_reset(void)
{
	step_no = 0;
}

void sbx_txn_steps_report(void)
{
	const char *f = getenv("LANSER_TXN_STEPS");
	FILE *fp;

	if (!f || !*f)
		return;
	fp = fopen(f, "a");
	if (fp) {
		fprintf(fp, "%ld\n", step_no);
		fclose(fp);
	}
}

/* ---- finding the git directory without libgit2 (cheap) ---- */

/* The work tree top holding `root` and its git directory. */
int sbx_txn_find_gitdir(const char *root, char **top_out, char **gitdir_out)
{
	struct buf dir = BUF_INIT, p = BUF_INIT;
	struct stat st;
	int error = LN_ENOTFOUND;

	*top_out = *gitdir_out = NULL;
	buf_adds(&dir, root);
	for (;;) {
		buf_reset(&p);
		buf_addf(&p, "%s/.git", dir.len ? dir.data : "");
		if (lstat(p.data, &st) == 0) {
			if (S_ISDIR(st.st_mode)) {
				*gitdir_out = buf_detach(&p, NULL);
				error = 0;
			} else if (S_ISREG(st.st_mode)) {
				struct buf g = BUF_INIT;
				if (buf_read_file(&g, p.data, 8192) == 0 && !strncmp(g.data, "gitdir: ", 8)) {
					char *nl;
					buf_consume(&g, 8);
					nl = strpbrk(g.data, "\r\n");
					if (nl)
						g.len = (size_t)(nl - g.data), g.data[g.len] = '\0';
					if (g.data[0] != '/') {
						struct buf a = BUF_INIT;
						buf_addf(&a, "%s/%s", dir.len ? dir.data : "", g.data);
						buf_release(&g);
						g = a;
					}
					*gitdir_out = buf_detach(&g, NULL);
					error = 0;
				}
				buf_release(&g);
			}
			if (!error) {
				*top_out = buf_detach(&dir, NULL);
				if (!**top_out) {
					free(*top_out);
					*top_out = xstrdup("/");
				}
			}
			break;
		}
		{
			char *slash = strrchr(dir.data, '/');
			if (!slash || dir.len <= 1)
				break;
			dir.len = (size_t)(slash - dir.data);
			dir.data[dir.len] = '\0';
		}
	}
	buf_release(&dir);
	buf_release(&p);
	if (error)
		return ln_error_set(LN_ENOTFOUND, "the workspace is not inside a git work tree "
				    "(transactions need git)");
	return 0;
}

/* ---- small file helpers ---- */

/* Writes a whole file in the journal (not in the work tree). */
int sbx_txn_journal_write(const char *dir, const char *name, const char *data, size_t len)
{
	struct buf p = BUF_INIT;
	int fd, error = 0;

	buf_addf(&p, "%s/%s", dir, name);
	fd = open(p.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || ln_write_all(fd, data, len) < 0 || fsync(fd) < 0)
		error = ln_error_set(LN_EGENERIC, "cannot write the journal (%s): %s", p.data,
				     strerror(errno));
	if (fd >= 0)
		close(fd);
	buf_release(&p);
	return error;
}

int sbx_txn_rm_rf(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	struct buf p = BUF_INIT;

	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		buf_reset(&p);
		buf_addf(&p, "%s/%s", path, de->d_name);
		if (unlink(p.data) < 0 && errno == EISDIR)
			sbx_txn_rm_rf(p.data);
	}
	closedir(d);
	buf_release(&p);
	return rmdir(path);
}

/* Replaces `rel` below the root with data/mode through a temporary beside
 * it (never following a symlink on the way). */
int sbx_txn_put_file(int rootfd, const char *rel, const char *tmpname, const char *data,
		     size_t len, unsigned mode)
{
	struct ln_atomic_opts ao = { .mode = mode, .tmpname = tmpname, .name = rel, .step = sbx_txn_step };
	const char *leaf;
	int dfd, error;

	dfd = sbx_open_parent(rootfd, rel, true, &leaf);
	if (dfd < 0)
		return dfd;
	sbx_txn_step();   /* folders made, file not yet */
	/* the second step: the temporary is complete, the file not yet replaced */
	error = ln_atomic_write_at(dfd, leaf, data, len, &ao);
	close(dfd);
	return error;
}

/* Removes `rel` (absent is fine) and, with `prune`, the folders it leaves
 * empty (as git does). A rollback does not prune: it removes exactly the
 * folders the transaction created (manifest "createdDirs"). */
int sbx_txn_drop_file(int rootfd, const char *rel, const char *tmpname, bool prune)
{
	const char *leaf;
	int dfd, error = 0;

	dfd = sbx_open_parent(rootfd, rel, false, &leaf);
	if (dfd == LN_ENOTFOUND) {
		ln_error_clear();
		return 0;
	}
	if (dfd < 0)
		return dfd;
	if (tmpname)
		unlinkat(dfd, tmpname, 0);
	if (unlinkat(dfd, leaf, 0) < 0 && errno != ENOENT)
		error = ln_error_set(LN_EGENERIC, "cannot remove %s: %s", rel, strerror(errno));
	else
		fsync(dfd);
	close(dfd);
	if (!error && prune) {
		/* empty folders go, as with git */
		char *d = xstrdup(rel), *s;

		while ((s = strrchr(d, '/'))) {
			*s = '\0';
			if (unlinkat(rootfd, d, AT_REMOVEDIR) < 0)
				break;
		}
		free(d);
	}
	return error;
}

void sbx_txn_drop_tmp(int rootfd, const char *rel, const char *tmpname)
{
	const char *leaf;
	int dfd = sbx_open_parent(rootfd, rel, false, &leaf);

	if (dfd < 0) {
		ln_error_clear();
		return;
	}
	unlinkat(dfd, tmpname, 0);
	close(dfd);
}

void sbx_txn_tmp_name(char *out, size_t size, const char *id, size_t i)
{
	snprintf(out, size, ".lanser-txn-%s-%zu", id, i);
}

/* ---- git ---- */

int sbx_txn_git_fail(const char *what)
{
	const git_error *e = git_error_last();
	return ln_error_set(LN_EGENERIC, "%s: %s", what, e && e->message ? e->message : "libgit2 error");
}
