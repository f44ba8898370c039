#include "sandbox/worktree.h"
#include "sandbox/wt_int.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/state.h"
#include "core/xalloc.h"
#include "core/gitlib.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#define WT_PREFIX "lanser-"
#define BRANCH_PREFIX "lanser-wt/"

static atomic_uint wt_seq;

static int git_fail(int code, const char *what)
{
	const git_error *e = git_error_last();
	return ln_error_set(code, "%s: %s", what, e && e->message ? e->message : "libgit2 error");
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? errno : 0;
	return unlink(path) < 0 && errno != ENOENT ? errno : 0;
}

int sbx_rmtree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? errno : 0;
	return nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) ? errno : 0;
}

/* <state>/wt for the repository. */
static int wt_dir(char **out, const char *repo_root)
{
	char *ws = NULL;
	struct buf b = BUF_INIT;
	int error = ln_state_workspace_dir(&ws, repo_root);

	if (error)
		return error;
	buf_addf(&b, "%s/wt", ws);
	free(ws);
	if (mkdir(b.data, 0700) < 0 && errno != EEXIST) {
		error = ln_error_set(LN_ESANDBOX, "cannot create %s: %s", b.data, strerror(errno));
		buf_release(&b);
		return error;
	}
	*out = buf_detach(&b, NULL);
	return 0;
}

/*
 * git_worktree_add, again when libgit2 says the branch "is already checked
 * out": the branch was just made for this process and no worktree has it,
 * but libgit2 1.5 answers so when it cannot read another worktree's HEAD,
 * and another process (a rollout worker, a second `eval`) may be making
 * its own worktree of this repository at that moment. The check comes
 * before libgit2 writes anything. A few tries, 10 to 80 ms apart.
 */
static int add_worktree(git_worktree **wt, git_repository *repo, const char *name,
			const char *path, const git_worktree_add_options *wo)
{
	int attempt, r;

	for (attempt = 1;; attempt++) {
		const git_error *e;
		r = git_worktree_add(wt, repo, name, path, wo);
		e = git_error_last();
		if (r == 0 || attempt == 8 || !e || !e->message ||
		    !strstr(e->message, "already checked out"))
			return r;
		usleep(10000u * (unsigned)attempt);
	}
}

/* Removes one worktree by name: git metadata, folder, branch. */
static void remove_one(git_repository *repo, const char *name, const char *path)
{
	git_worktree *wt = NULL;
	git_reference *br = NULL;
	struct buf bname = BUF_INIT;

	if (git_worktree_lookup(&wt, repo, name) == 0) {
		git_worktree_prune_options po;
		git_worktree_prune_options_init(&po, GIT_WORKTREE_PRUNE_OPTIONS_VERSION);
		po.flags = GIT_WORKTREE_PRUNE_VALID | GIT_WORKTREE_PRUNE_LOCKED |
			   GIT_WORKTREE_PRUNE_WORKING_TREE;
		git_worktree_prune(wt, &po);
		git_worktree_free(wt);
	}
	if (path) {
		sbx_rmtree(path);
		buf_addf(&bname, "%s.outputs", path);   /* sbx_wt_save_outputs */
		sbx_rmtree(bname.data);
		buf_reset(&bname);
	}
	buf_addf(&bname, BRANCH_PREFIX "%s", name + strlen(WT_PREFIX));
	if (git_branch_lookup(&br, repo, bname.data, GIT_BRANCH_LOCAL) == 0) {
		/* the reference alone: our branches have no configuration, and
		 * git_branch_delete's config clean-up leaks in libgit2 1.5 (pcre2
		 * match data in git_config_foreach_match) */
		git_reference_delete(br);
		git_reference_free(br);
	}
	buf_release(&bname);
}

void sbx_wt_free(struct sbx_wtset *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++) {
		if (s->v[i].name)
			remove_one(s->repo, s->v[i].name, s->v[i].path);
		free(s->v[i].name);
		free(s->v[i].path);
	}
	free(s->v);
	git_repository_free(s->repo);
	free(s);
}

int sbx_wt_create(struct sbx_wtset **out, const char *repo_root, const char *base, size_t n,
		  char base_oid[41])
{
	struct sbx_wtset *s;
	git_object *obj = NULL;
	git_commit *commit = NULL;
	char *dir = NULL;
	size_t i;
	int error = 0;

	*out = NULL;
	ln_git_init();
	s = xcalloc(1, sizeof *s);
	s->v = xcalloc(n ? n : 1, sizeof *s->v);
	if (ln_git_open(&s->repo, repo_root, GIT_REPOSITORY_OPEN_NO_SEARCH) < 0) {
		error = git_fail(LN_EINPUT, "candidate worktrees need a git repository");
		goto done;
	}
	if (git_revparse_single(&obj, s->repo, base) < 0 ||
	    git_object_peel((git_object **)&commit, obj, GIT_OBJECT_COMMIT) < 0) {
		error = git_fail(LN_ENOTFOUND, "base revision");
		ln_error_set(LN_ENOTFOUND, "base revision '%s' does not exist (%s)", base,
			     ln_error_msg());
		goto done;
	}
	git_oid_cpy(&s->base, git_commit_id(commit));
	git_oid_tostr(base_oid, 41, &s->base);
	if ((error = wt_dir(&dir, repo_root)))
		goto done;
	for (i = 0; i < n; i++) {
		git_worktree_add_options wo;
		git_worktree *wt = NULL;
		git_reference *br = NULL;
		struct buf name = BUF_INIT, path = BUF_INIT, bname = BUF_INIT;
		unsigned seq = atomic_fetch_add(&wt_seq, 1);

		git_worktree_add_options_init(&wo, GIT_WORKTREE_ADD_OPTIONS_VERSION);

		buf_addf(&name, WT_PREFIX "%d-%u", (int)getpid(), seq);
		buf_addf(&bname, BRANCH_PREFIX "%d-%u", (int)getpid(), seq);
		buf_addf(&path, "%s/%s", dir, name.data);
		sbx_rmtree(path.data); /* a leftover of an earlier process with our pid */
		s->v[i].name = buf_detach(&name, NULL);
		s->v[i].path = buf_detach(&path, NULL);
		s->n = i + 1;
		if (git_branch_create(&br, s->repo, bname.data, commit, 1) < 0) {
			buf_release(&bname);
			error = git_fail(LN_ESANDBOX, "cannot create a worktree branch");
			goto done;
		}
		buf_release(&bname);
		wo.ref = br;
		if (add_worktree(&wt, s->repo, s->v[i].name, s->v[i].path, &wo) < 0) {
			git_reference_free(br);
			error = git_fail(LN_ESANDBOX, "cannot add a worktree");
			goto done;
		}
		git_reference_free(br);
		git_worktree_free(wt);
	}
done:
	git_commit_free(commit);
	git_object_free(obj);
	free(dir);
	if (error)
		sbx_wt_free(s);
	else
		*out = s;
	return error;
}

const char *sbx_wt_path(const struct sbx_wtset *s, size_t i)
{
	return i < s->n ? s->v[i].path : NULL;
}

size_t sbx_wt_count(const struct sbx_wtset *s)
{
	return s ? s->n : 0;
}

void sbx_wt_base(const struct sbx_wtset *s, char base_oid[41])
{
	git_oid_tostr(base_oid, 41, &s->base);
}

int sbx_wt_reset(struct sbx_wtset *s, size_t i)
{
	git_repository *r = NULL;
	git_object *obj = NULL;
	git_checkout_options co;
	int error = 0;

	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);

	if (i >= s->n)
		return ln_error_set(LN_EGENERIC, "no worktree %zu", i);
	if (ln_git_open(&r, s->v[i].path, GIT_REPOSITORY_OPEN_NO_SEARCH) < 0 ||
	    git_object_lookup(&obj, r, &s->base, GIT_OBJECT_COMMIT) < 0) {
		error = git_fail(LN_ESANDBOX, "cannot open a candidate worktree");
		goto done;
	}
	/* git_reset(HARD) checks out with GIT_CHECKOUT_FORCE whatever it is
	 * given, so untracked and ignored files (build outputs) are removed
	 * by a second checkout of the (now reset) HEAD */
	co.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_REMOVE_UNTRACKED |
			       GIT_CHECKOUT_REMOVE_IGNORED;
	if (git_reset(r, obj, GIT_RESET_HARD, &co) < 0 || git_checkout_head(r, &co) < 0)
		error = git_fail(LN_ESANDBOX, "cannot reset a candidate worktree");
done:
	git_object_free(obj);
	git_repository_free(r);
	return error;
}

/* "lanser-<pid>-<n>" -> pid, or -1. */
static long owner_pid(const char *name)
{
	char *end;
	long pid;

	if (strncmp(name, WT_PREFIX, strlen(WT_PREFIX)))
		return -1;
	pid = strtol(name + strlen(WT_PREFIX), &end, 10);
	if (pid <= 0 || *end != '-')
		return -1;
	return pid;
}

static bool pid_alive(long pid)
{
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

int sbx_wt_prune(const char *repo_root)
{
	git_repository *repo = NULL;
	git_strarray list = { NULL, 0 };
	git_branch_iterator *it = NULL;
	git_reference *ref;
	git_branch_t type;
	char *dir = NULL;
	DIR *d = NULL;
	struct dirent *de;
	size_t i;
	int pruned = 0;

	ln_git_init();
	if (ln_git_open(&repo, repo_root, GIT_REPOSITORY_OPEN_NO_SEARCH) < 0)
		goto done; /* not a repository: nothing of ours in it */
	if (wt_dir(&dir, repo_root))
		goto done;
	if (git_worktree_list(&list, repo) == 0) {
		for (i = 0; i < list.count; i++) {
			long pid = owner_pid(list.strings[i]);
			git_worktree *wt = NULL;
			if (pid < 0 || pid_alive(pid))
				continue;
			if (git_worktree_lookup(&wt, repo, list.strings[i]) == 0) {
				struct buf path = BUF_INIT;
				buf_adds(&path, git_worktree_path(wt));
				git_worktree_free(wt);
				remove_one(repo, list.strings[i], path.data);
				buf_release(&path);
			} else {
				remove_one(repo, list.strings[i], NULL);
			}
			pruned++;
		}
		git_strarray_dispose(&list);
	}
	/* folders whose git metadata is already gone */
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		long pid = owner_pid(de->d_name);
		struct buf path = BUF_INIT;
		if (pid < 0 || pid_alive(pid))
			continue;
		buf_addf(&path, "%s/%s", dir, de->d_name);
		sbx_rmtree(path.data);
		buf_release(&path);
	}
	/* branches whose worktree is gone */
	if (git_branch_iterator_new(&it, repo, GIT_BRANCH_LOCAL) == 0) {
		while (git_branch_next(&ref, &type, it) == 0) {
			const char *bn = NULL;
			char *end;
			long pid;
			git_branch_name(&bn, ref);
			if (bn && !strncmp(bn, BRANCH_PREFIX, strlen(BRANCH_PREFIX))) {
				pid = strtol(bn + strlen(BRANCH_PREFIX), &end, 10);
				if (pid > 0 && *end == '-' && !pid_alive(pid) &&
				    !git_branch_is_checked_out(ref))
					git_reference_delete(ref);
			}
			git_reference_free(ref);
		}
		git_branch_iterator_free(it);
	}
done:
	if (d)
		closedir(d);
	free(dir);
	git_repository_free(repo);
	return pruned;
}
