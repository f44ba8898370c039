/*
 * wtcache.c - the base build's outputs of a candidate worktree, kept aside
 * and put back after each reset (sandbox/worktree.h, "Reusing the base
 * build"; issue 13, item 8).
 *
 * What is saved: every untracked and ignored file and symbolic link of the
 * worktree after a build of the base (libgit2's status), copied with its
 * mode and times into "<worktree>.outputs" beside it. Copies, never hard
 * links (a candidate's build writes into its tree: a shared inode would
 * carry one candidate's objects into the next); a reflink (FICLONE) when
 * the file system offers one, else copy_file_range.
 */
#include "sandbox/worktree.h"
#include "sandbox/wt_int.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/gitlib.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p of the folders above `path` (absolute). */
static int make_parents(const char *path)
{
	char *p = xstrdup(path), *s;
	int error = 0;

	for (s = strchr(p + 1, '/'); s && !error; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0700) && errno != EEXIST)
			error = errno;
		*s = '/';
	}
	free(p);
	return error;
}

/* Copies one file or symbolic link with its mode and times. `excl`: an
 * existing destination is left as it is (0). 0 or an errno value. */
static int copy_one(const char *from, const char *to, bool excl, off_t *bytes)
{
	struct stat st;
	struct timespec ts[2];
	int in = -1, out = -1, error = 0;

	if (lstat(from, &st))
		return errno;
	if ((error = make_parents(to)))
		return error;
	if (excl && !access(to, F_OK))
		return 0;
	if (!excl && unlink(to) && errno != ENOENT)
		return errno;
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlink(from, target, sizeof target - 1);
		if (n < 0)
			return errno;
		target[n] = '\0';
		if (symlink(target, to))
			return errno;
		return utimensat(AT_FDCWD, to, ts, AT_SYMLINK_NOFOLLOW) ? errno : 0;
	}
	if (!S_ISREG(st.st_mode))
		return 0;   /* sockets, fifos: not build outputs worth keeping */
	in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	out = in < 0 ? -1 : open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
				 st.st_mode & 07777);
	if (in < 0 || out < 0) {
		error = errno;
		goto done;
	}
	if (ioctl(out, FICLONE, in) != 0) {
		off_t left = st.st_size;
		while (left > 0) {
			ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
			if (n <= 0) {
				error = n < 0 ? errno : EIO;
				goto done;
			}
			left -= n;
		}
	}
	*bytes += st.st_size;
	if (fchmod(out, st.st_mode & 07777) || futimens(out, ts))
		error = errno;
done:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return error;
}

int sbx_wt_save_outputs(struct sbx_wtset *s, size_t i, size_t *nfiles)
{
	git_repository *r = NULL;
	git_status_list *list = NULL;
	git_status_options so;
	struct buf from = BUF_INIT, to = BUF_INIT, stash = BUF_INIT;
	off_t bytes = 0;
	size_t k, n;
	int error = 0, e;

	*nfiles = 0;
	if (i >= s->n)
		return ln_error_set(LN_EGENERIC, "no worktree %zu", i);
	buf_addf(&stash, "%s.outputs", s->v[i].path);
	sbx_rmtree(stash.data);
	git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
	so.show = GIT_STATUS_SHOW_WORKDIR_ONLY;
	/* submodules excluded: libgit2 would open their repositories, which
	 * ln_git_vet never checked (docs/security.md) */
	so.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_INCLUDE_IGNORED |
		   GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS | GIT_STATUS_OPT_RECURSE_IGNORED_DIRS |
		   GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
	if (ln_git_open(&r, s->v[i].path, GIT_REPOSITORY_OPEN_NO_SEARCH) < 0 ||
	    git_status_list_new(&list, r, &so) < 0) {
		error = ln_error_set(LN_ESANDBOX, "cannot list the build outputs of a candidate "
				     "worktree: %s", git_error_last() ? git_error_last()->message : "");
		goto done;
	}
	n = git_status_list_entrycount(list);
	if (n > SBX_OUTPUTS_MAX_FILES) {
		error = ln_error_set(LN_ESANDBOX, "the base build made more than %d files",
				     SBX_OUTPUTS_MAX_FILES);
		goto done;
	}
	if (mkdir(stash.data, 0700)) {
		error = ln_error_set(LN_ESANDBOX, "cannot create %s: %s", stash.data, strerror(errno));
		goto done;
	}
	for (k = 0; k < n && !error; k++) {
		const git_status_entry *se = git_status_byindex(list, k);
		const char *rel = se->index_to_workdir ? se->index_to_workdir->new_file.path : NULL;
		if (!rel || !(se->status & (GIT_STATUS_WT_NEW | GIT_STATUS_IGNORED)))
			continue;
		buf_reset(&from);
		buf_reset(&to);
		buf_addf(&from, "%s/%s", s->v[i].path, rel);
		buf_addf(&to, "%s/%s", stash.data, rel);
		if ((e = copy_one(from.data, to.data, false, &bytes)))
			error = ln_error_set(LN_ESANDBOX, "cannot keep the build output %s: %s", rel,
					     strerror(e));
		else if (bytes > SBX_OUTPUTS_MAX_BYTES)
			error = ln_error_set(LN_ESANDBOX, "the base build's outputs are larger than "
					     "%lld bytes", (long long)SBX_OUTPUTS_MAX_BYTES);
		else
			(*nfiles)++;
	}
done:
	if (error)
		sbx_rmtree(stash.data);
	git_status_list_free(list);
	git_repository_free(r);
	buf_release(&from);
	buf_release(&to);
	buf_release(&stash);
	return error;
}

/* nftw has no user pointer: the walk's state is per thread */
static __thread struct restore {
	const char *stash, *wt;
	size_t stash_len;
	int error;
	off_t bytes;
} *walk;

static int restore_cb(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	struct buf to = BUF_INIT;
	int e;

	(void)st, (void)f;
	if (flag == FTW_D || strlen(path) <= walk->stash_len)
		return 0;
	buf_addf(&to, "%s%s", walk->wt, path + walk->stash_len);
	if ((e = copy_one(path, to.data, true, &walk->bytes))) {
		walk->error = e;
		buf_release(&to);
		return 1;
	}
	buf_release(&to);
	return 0;
}

int sbx_wt_restore_outputs(struct sbx_wtset *s, size_t i)
{
	struct restore w;
	struct buf stash = BUF_INIT;
	int error = 0;

	if (i >= s->n)
		return ln_error_set(LN_EGENERIC, "no worktree %zu", i);
	buf_addf(&stash, "%s.outputs", s->v[i].path);
	memset(&w, 0, sizeof w);
	w.stash = stash.data;
	w.stash_len = stash.len;
	w.wt = s->v[i].path;
	walk = &w;
	if (nftw(stash.data, restore_cb, 16, FTW_PHYS | FTW_MOUNT) != 0 || w.error)
		error = ln_error_set(LN_ESANDBOX, "cannot put the base build's outputs back into "
				     "a candidate worktree: %s", strerror(w.error ? w.error : errno));
	walk = NULL;
	buf_release(&stash);
	return error;
}
