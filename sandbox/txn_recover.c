/*
 * txn_recover.c - recovery from a transaction journal (txn_impl.h,
 * docs/edits.md): roll back when COMMITTED is absent (backups, modes,
 * folders, index bytes, HEAD), drop the journal when it is present; both
 * idempotent, so a kill during recovery is recovered again.
 */
#include "sandbox/transaction.h"
#include "sandbox/txn_impl.h"
#include "core/atomicfile.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/gitlib.h"
#include "core/limits.h"
#include "core/xalloc.h"
#include "sandbox/jail.h"

#include <git2.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Whether some existing component on the way to `rel` is not a folder (a
 * file, a symlink): then no file of ours can be at `rel`, and a rollback
 * has nothing to remove there. */
static bool way_blocked(int rootfd, const char *rel)
{
	char *d = xstrdup(rel), *slash;
	struct stat st;
	bool blocked = false;

	for (slash = strchr(d, '/'); slash && !blocked; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (fstatat(rootfd, d, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			*slash = '/';
			break;
		}
		blocked = !S_ISDIR(st.st_mode);
		*slash = '/';
	}
	free(d);
	return blocked;
}

/* The message for a journal that could not be rolled back: what failed
 * (the current last error), where the journal is, which files it holds,
 * and the two ways out. Returns `code`. */
int sbx_txn_recovery_failed(int code, const char *jdir)
{
	struct buf msg = BUF_INIT, data = BUF_INIT, p = BUF_INIT;
	json_t *m = NULL, *en;
	json_error_t je;
	size_t i;

	buf_addf(&msg, "an interrupted lanser edit could not be undone: %s. Its journal is %s ",
		 ln_error_msg(), ln_printable(jdir));
	buf_addf(&p, "%s/manifest.json", jdir);
	if (buf_read_file(&data, p.data, MANIFEST_MAX) == 0)
		m = json_loadb(data.data, data.len, 0, &je);
	buf_adds(&msg, "(manifest.json lists the files; each bN holds one file's old bytes). "
		 "The edit touched:");
	json_array_foreach(json_object_get(m, "entries"), i, en) {
		const char *path = json_string_value(json_object_get(en, "path"));
		const char *bk = json_string_value(json_object_get(en, "backup"));
		if (i == 10) {
			buf_addf(&msg, " ... (%zu files)", json_array_size(json_object_get(m, "entries")));
			break;
		}
		buf_addf(&msg, "%s %s (%s%s%s)", i ? "," : "", ln_printable(path ? path : "?"),
			 json_is_true(json_object_get(en, "oldExists")) ? "old bytes in " :
			 "did not exist before", bk ? bk : "", "");
	}
	if (!m)
		buf_adds(&msg, " (the manifest is unreadable)");
	buf_addf(&msg, ". To finish the rollback, fix what is named above (for instance move "
		 "away a file or folder that is in the way) and run any lanser command in "
		 "this workspace: each one retries it. To keep the work tree as it is now "
		 "instead, remove the journal: rm -rf '%s'. Until then, queries answer "
		 "(with this warning) and edits and tests are refused", ln_printable(jdir));
	ln_error_set(code, "%s", msg.data);
	json_decref(m);
	buf_release(&msg);
	buf_release(&data);
	buf_release(&p);
	return code;
}

static int malformed(const char *jdir)
{
	return ln_error_set(LN_EGENERIC, "the transaction journal %s is malformed", jdir);
}

/* The files of the manifest's entries, last first: backups put back,
 * files the transaction created removed, temporaries dropped. */
static int restore_entries(int rootfd, const json_t *es, const char *jdir)
{
	struct buf p = BUF_INIT;
	size_t i;
	int error = 0;

	for (i = json_array_size(es); i-- > 0 && !error;) {
		const char *path, *tmp, *bk;
		json_t *en = json_array_get(es, i);
		path = json_string_value(json_object_get(en, "path"));
		tmp = json_string_value(json_object_get(en, "tmp"));
		bk = json_string_value(json_object_get(en, "backup"));
		if (!path || !tmp || sbx_jail_check_lexical(path) || strchr(tmp, '/')) {
			error = malformed(jdir);
			break;
		}
		if (json_is_true(json_object_get(en, "oldExists"))) {
			struct buf b = BUF_INIT;
			if (!bk || strchr(bk, '/')) {
				error = malformed(jdir);
				break;
			}
			buf_reset(&p);
			buf_addf(&p, "%s/%s", jdir, bk);
			error = buf_read_file(&b, p.data, LN_FILE_MAX_BYTES);
			if (!error)
				error = sbx_txn_put_file(rootfd, path, tmp, b.data, b.len,
							 (unsigned)json_integer_value(
								 json_object_get(en, "oldMode")));
			buf_release(&b);
		} else if (!way_blocked(rootfd, path)) {
			error = sbx_txn_drop_file(rootfd, path, tmp, false);
		}
		if (!error)   /* (it clears the last error: keep a failure's) */
			sbx_txn_drop_tmp(rootfd, path, tmp);
	}
	buf_release(&p);
	return error;
}

/* Folders: those the transaction made go (deepest first, only when
 * empty); those it emptied and removed came back with default modes,
 * which get their old modes again. */
static void restore_dirs(int rootfd, const json_t *m)
{
	json_t *d;
	size_t k;

	json_array_foreach(json_object_get(m, "createdDirs"), k, d) {
		const char *dp = json_string_value(d);
		if (dp && !sbx_jail_check_lexical(dp))
			unlinkat(rootfd, dp, AT_REMOVEDIR);
	}
	json_array_foreach(json_object_get(m, "dirModes"), k, d) {
		const char *dp = json_string_value(json_array_get(d, 0));
		json_int_t mode = json_integer_value(json_array_get(d, 1));
		struct stat st;
		if (dp && !sbx_jail_check_lexical(dp) &&
		    fstatat(rootfd, dp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
		    (st.st_mode & 07777) != (mode & 07777))
			fchmodat(rootfd, dp, (mode_t)(mode & 07777), 0);
	}
}

/* The index and HEAD, when the transaction was making a commit. */
static int restore_index_head(const char *gitdir, const char *jdir, const json_t *m)
{
	struct buf p = BUF_INIT, b = BUF_INIT;
	int error = 0;

	buf_addf(&p, "%s/index.bak", jdir);
	if (access(p.data, F_OK) == 0) {
		const char *ipath = json_string_value(json_object_get(m, "indexPath"));
		if (ipath && buf_read_file(&b, p.data, MANIFEST_MAX) == 0) {
			struct ln_atomic_opts ao = { .mode = 0644, .code = LN_EGENERIC };
			if (ln_atomic_write(ipath, b.data, b.len, &ao))
				error = ln_error_set(LN_EGENERIC, "cannot restore the index: %s",
						     ln_error_msg());
		}
	}
	buf_reset(&p);
	buf_reset(&b);
	buf_addf(&p, "%s/commit", jdir);
	if (!error && access(p.data, F_OK) == 0) {
		const char *ref = json_string_value(json_object_get(m, "ref"));
		const char *old = json_string_value(json_object_get(m, "oldHead"));
		git_repository *repo = NULL;
		git_oid cur, want, neu;
		ln_git_init();
		if (ref && buf_read_file(&b, p.data, 100) == 0 && git_oid_fromstrn(&neu, b.data,
		    b.len < 40 ? b.len : 40) == 0 && ln_git_open(&repo, gitdir, GIT_REPOSITORY_OPEN_NO_SEARCH) == 0 &&
		    git_reference_name_to_id(&cur, repo, ref) == 0 && git_oid_equal(&cur, &neu)) {
			git_reference *r = NULL;
			if (old && git_oid_fromstr(&want, old) == 0) {
				if (git_reference_create(&r, repo, ref, &want, 1, "lanser: roll back") < 0)
					error = sbx_txn_git_fail("cannot restore HEAD");
			} else {
				if (git_reference_lookup(&r, repo, ref) == 0 && git_reference_delete(r) < 0)
					error = sbx_txn_git_fail("cannot restore HEAD");
			}
			git_reference_free(r);
		}
		git_repository_free(repo);
	}
	buf_release(&p);
	buf_release(&b);
	return error;
}

/* Restores everything a journal describes. Idempotent. */
int sbx_txn_rollback_journal(const char *top, const char *gitdir, const char *jdir)
{
	struct buf p = BUF_INIT, data = BUF_INIT;
	json_t *m = NULL, *es;
	json_error_t je;
	int rootfd = -1, error = 0;
	const char *prefix;

	buf_addf(&p, "%s/manifest.json", jdir);
	if (buf_read_file(&data, p.data, MANIFEST_MAX) != 0) {
		error = ln_error_set(LN_EGENERIC, "the transaction journal %s has no readable "
				     "manifest", jdir);
		goto done;
	}
	m = json_loadb(data.data, data.len, 0, &je);
	es = json_object_get(m, "entries");
	prefix = json_string_value(json_object_get(m, "prefix"));
	if (!m || !json_is_array(es) || !prefix) {
		error = malformed(jdir);
		goto done;
	}
	buf_reset(&p);
	buf_addf(&p, "%s%s%s", top, *prefix ? "/" : "", prefix);
	rootfd = open(p.data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		error = ln_error_set(LN_EGENERIC, "cannot open %s to recover it: %s", p.data,
				     strerror(errno));
		goto done;
	}
	error = restore_entries(rootfd, es, jdir);
	if (error)
		goto done;
	restore_dirs(rootfd, m);
	error = restore_index_head(gitdir, jdir, m);
done:
	if (rootfd >= 0)
		close(rootfd);
	json_decref(m);
	buf_release(&p);
	buf_release(&data);
	return error;
}

/* Drops a journal directory: renamed away first, so a half-removed one is
 * never mistaken for a live journal. */
void sbx_txn_drop_journal(const char *gitdir, const char *jdir)
{
	struct buf dead = BUF_INIT;

	buf_addf(&dead, "%s/" JOURNAL ".dead", gitdir);
	sbx_txn_rm_rf(dead.data);
	if (rename(jdir, dead.data) == 0) {
		ln_fsync_dir(gitdir);
		sbx_txn_step();
		sbx_txn_rm_rf(dead.data);
	}
	buf_release(&dead);
}

/* With the lock held: resolves whatever journal is there. 1 when one was. */
int sbx_txn_recover_locked(const char *top, const char *gitdir)
{
	struct buf j = BUF_INIT, p = BUF_INIT;
	struct stat st;
	int r = 0, error;

	buf_addf(&p, "%s/" JOURNAL ".tmp", gitdir);
	if (lstat(p.data, &st) == 0)
		sbx_txn_rm_rf(p.data);     /* died while journaling: nothing was written */
	buf_reset(&p);
	buf_addf(&p, "%s/" JOURNAL ".dead", gitdir);
	if (lstat(p.data, &st) == 0)
		sbx_txn_rm_rf(p.data);
	buf_addf(&j, "%s/" JOURNAL, gitdir);
	if (lstat(j.data, &st) == 0) {
		buf_reset(&p);
		buf_addf(&p, "%s/COMMITTED", j.data);
		if (access(p.data, F_OK) != 0) {
			error = sbx_txn_rollback_journal(top, gitdir, j.data);
			if (error) {
				r = sbx_txn_recovery_failed(error, j.data);
				goto done;
			}
		}
		sbx_txn_drop_journal(gitdir, j.data);
		r = 1;
	}
done:
	buf_release(&j);
	buf_release(&p);
	return r;
}

int sbx_txn_lock_repo(const char *gitdir, bool wait)
{
	struct buf p = BUF_INIT;
	int fd;

	buf_addf(&p, "%s/" JOURNAL ".lock", gitdir);
	fd = open(p.data, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	buf_release(&p);
	if (fd < 0)
		return ln_error_set(LN_EPERM, "cannot open the transaction lock in the git "
				    "directory: %s", strerror(errno));
	if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		close(fd);
		return ln_error_set(LN_EGENERIC, "another lanser transaction is running in this "
				    "repository");
	}
	return fd;
}

int sbx_txn_recover(const char *root)
{
	char *top = NULL, *gitdir = NULL;
	struct buf p = BUF_INIT;
	struct stat st;
	int fd, r = 0;

	if (sbx_txn_find_gitdir(root, &top, &gitdir)) {
		ln_error_clear();
		return 0;   /* not a git work tree: nothing can be pending */
	}
	buf_addf(&p, "%s/" JOURNAL, gitdir);
	if (lstat(p.data, &st) != 0) {
		/* the common case: three stats */
		buf_adds(&p, ".dead");
		if (lstat(p.data, &st) != 0) {
			p.len -= 5;
			buf_adds(&p, ".tmp");
			if (lstat(p.data, &st) != 0)
				goto done;
		}
	}
	fd = sbx_txn_lock_repo(gitdir, false);
	if (fd < 0) {
		ln_error_clear();
		goto done;  /* a live transaction owns it */
	}
	r = sbx_txn_recover_locked(top, gitdir);
	close(fd);
done:
	buf_release(&p);
	free(top);
	free(gitdir);
	return r;
}
