/*
 * testfiles.c - the test files a candidate may not change (the task's
 * "testFiles"; docs/sandbox.md, "Test files"): after a candidate's patch,
 * every file it changed, created or deleted that matches is put back to
 * the base's bytes (created ones removed) before the build and the tests,
 * so a candidate is scored on the base's tests, as SWE-bench-style
 * harnesses do, whatever it did to them.
 */
#include "engine/testrun_int.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/gitlib.h"
#include "core/xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The paths of the patch's report ("path", and "from" of a rename) that
 * are test files, sorted and unique (heap, *n of them). */
static char **touched_test_files(const struct sbx_task *t, const json_t *report, size_t *n)
{
	const json_t *files = json_object_get(report, "files"), *f;
	char **v = NULL;
	size_t i, k, cnt = 0;

	json_array_foreach(files, i, f) {
		const char *side[2] = { json_string_value(json_object_get(f, "path")),
					json_string_value(json_object_get(f, "from")) };
		for (k = 0; k < 2; k++)
			if (side[k] && sbx_task_is_test_file(t, side[k])) {
				v = xrealloc(v, (cnt + 1) * sizeof *v);
				v[cnt++] = xstrdup(side[k]);
			}
	}
	if (cnt > 1)
		qsort(v, cnt, sizeof *v, cmp_str);
	for (i = k = 0; i < cnt; i++) {
		if (k > 0 && !strcmp(v[k - 1], v[i])) {
			free(v[i]);
			continue;
		}
		v[k++] = v[i];
	}
	*n = k;
	return v;
}

/* Removes what the patch created at `rel` under `dir`, then the folders
 * above it that are left empty (the patch's too: git keeps no empty
 * folder, so the base has none). The applier jail-checked the path (no
 * "..", no symbolic link on the way); unlink(2) never follows the last
 * component. */
static int remove_created(const char *dir, const char *rel)
{
	struct buf p = BUF_INIT;
	struct stat st;
	int error = 0;

	buf_addf(&p, "%s/%s", dir, rel);
	if (lstat(p.data, &st) == 0 && !S_ISDIR(st.st_mode) && unlink(p.data) != 0)
		error = ln_error_set(LN_ESANDBOX, "cannot remove the test file %s the candidate "
				     "created: %s", rel, strerror(errno));
	for (char *s = strrchr(p.data, '/'); !error && s && (size_t)(s - p.data) > strlen(dir);
	     s = strrchr(p.data, '/')) {
		*s = '\0';
		if (rmdir(p.data) != 0)
			break;  /* not empty: the base's, or someone else's */
	}
	buf_release(&p);
	return error;
}

static int git_fail(const char *what)
{
	const git_error *ge = git_error_last();
	return ln_error_set(LN_ESANDBOX, "resetting the test files: %s: %s", what,
			    ge && ge->message ? ge->message : "libgit2 error");
}

int eng_tr_reset_test_files(struct tctx *x, struct rec *r, const json_t *report,
			    json_t **reset)
{
	git_repository *repo = NULL;
	git_oid oid;
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	char **paths, **in_base = NULL;
	size_t i, n = 0, nb = 0;
	int error = 0;

	*reset = json_array();
	paths = touched_test_files(x->t, report, &n);
	if (n == 0)
		goto done;
	ln_git_init();
	if (ln_git_open(&repo, r->dir, GIT_REPOSITORY_OPEN_NO_SEARCH) < 0) {
		error = git_fail("opening the worktree");
		goto done;
	}
	if (git_oid_fromstr(&oid, x->base_oid) < 0 || git_commit_lookup(&commit, repo, &oid) < 0 ||
	    git_commit_tree(&tree, commit) < 0) {
		error = git_fail("the base commit");
		goto done;
	}
	/* created ones first: a file the patch turned into a folder (or the
	 * reverse) is gone before the base's comes back */
	in_base = xcalloc(n, sizeof *in_base);
	for (i = 0; i < n && !error; i++) {
		git_tree_entry *e = NULL;
		if (git_tree_entry_bypath(&e, tree, paths[i]) == 0 &&
		    git_tree_entry_type(e) == GIT_OBJECT_BLOB)
			in_base[nb++] = paths[i];
		else
			error = remove_created(r->dir, paths[i]);
		git_tree_entry_free(e);
		json_array_append_new(*reset, json_string(paths[i]));
	}
	if (!error && nb > 0) {
		git_checkout_options co;
		git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
		co.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
		co.paths.strings = in_base;
		co.paths.count = nb;
		if (git_checkout_tree(repo, (const git_object *)tree, &co) < 0)
			error = git_fail("checking out the base's test files");
	}
done:
	for (i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	free(in_base);
	git_tree_free(tree);
	git_commit_free(commit);
	git_repository_free(repo);
	if (error) {
		json_decref(*reset);
		*reset = NULL;
	}
	return error;
}
