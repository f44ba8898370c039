/*
 * wtdiff.c - a work tree's changes against a base commit as one unified
 * diff (engine/engine.h, eng_worktree_diff): what the agent loop hands the
 * engine after each mutating step, and the final diff of an episode.
 */
#include "engine/engine.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/gitlib.h"
#include "core/xalloc.h"
#include "lsp/profile.h"
#include "sandbox/edit.h"

#include <git2.h>
#include <string.h>

static int git_fail(const char *what)
{
	const git_error *ge = git_error_last();
	return ln_error_set(LN_ESANDBOX, "%s: %s", what, ge && ge->message ? ge->message
								 : "libgit2 error");
}

/* Tool caches servers write into the tree never count as a change. */
static bool is_cache_path(const char *p)
{
	return p && (!strncmp(p, ".cache/", 7) || !strcmp(p, ".cache"));
}

static bool in_list(const json_t *list, const char *path)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v)
		if (path && json_is_string(v) && !strcmp(json_string_value(v), path))
			return true;
	return false;
}

int eng_worktree_diff(char **out, size_t *len, const char *wt, const char *base_oid,
		      const json_t *skip)
{
	git_repository *repo = NULL;
	git_object *obj = NULL;
	git_tree *tree = NULL;
	git_diff *diff = NULL;
	git_diff_options dopt;
	struct buf b = BUF_INIT;
	const char *cdb;
	size_t i, n;
	int error = 0;

	*out = NULL;
	*len = 0;
	ln_git_init();
	if (ln_git_open(&repo, wt, GIT_REPOSITORY_OPEN_NO_SEARCH) < 0) {
		error = git_fail(wt);
		goto done;
	}
	if (git_revparse_single(&obj, repo, base_oid) < 0 ||
	    git_object_peel((git_object **)&tree, obj, GIT_OBJECT_TREE) < 0) {
		error = git_fail(base_oid);
		goto done;
	}
	git_diff_options_init(&dopt, GIT_DIFF_OPTIONS_VERSION);
	dopt.flags = GIT_DIFF_INCLUDE_UNTRACKED | GIT_DIFF_RECURSE_UNTRACKED_DIRS |
		     GIT_DIFF_SHOW_UNTRACKED_CONTENT;
	if (git_diff_tree_to_workdir_with_index(&diff, repo, tree, &dopt) < 0) {
		error = git_fail("diff");
		goto done;
	}
	cdb = lsp_cdb_find(wt);
	n = git_diff_num_deltas(diff);
	for (i = 0; i < n; i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		git_patch *p = NULL;
		git_buf pb = { NULL, 0, 0 };
		if (is_cache_path(d->new_file.path) || is_cache_path(d->old_file.path))
			continue;
		/* the compilation database copied in (eng_copy_cdb) */
		if (d->status == GIT_DELTA_UNTRACKED && cdb && !strcmp(d->new_file.path, cdb))
			continue;
		/* what the tests' runs left behind (the episode says which) */
		if (d->status == GIT_DELTA_UNTRACKED && skip && in_list(skip, d->new_file.path))
			continue;
		if (git_patch_from_diff(&p, diff, i) < 0 || git_patch_to_buf(&pb, p) < 0) {
			git_patch_free(p);
			error = git_fail("diff");
			goto done;
		}
		buf_add(&b, pb.ptr, pb.size);
		git_buf_dispose(&pb);
		git_patch_free(p);
		if (b.len > SBX_PATCH_MAX_BYTES) {
			error = ln_error_set(LN_EINPUT, "the work tree's diff is larger than %zu bytes",
					     (size_t)SBX_PATCH_MAX_BYTES);
			goto done;
		}
	}
	*out = buf_detach(&b, len);
done:
	buf_release(&b);
	git_diff_free(diff);
	git_tree_free(tree);
	git_object_free(obj);
	git_repository_free(repo);
	return error;
}

json_t *eng_worktree_untracked(const char *wt)
{
	git_repository *repo = NULL;
	git_status_list *st = NULL;
	git_status_options so;
	json_t *out = NULL;
	size_t i, n;

	ln_git_init();
	if (ln_git_open(&repo, wt, GIT_REPOSITORY_OPEN_NO_SEARCH) < 0) {
		git_fail(wt);
		return NULL;
	}
	git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
	so.show = GIT_STATUS_SHOW_WORKDIR_ONLY;
	/* submodules excluded: libgit2 would open their repositories, which
	 * ln_git_vet never checked (docs/security.md) */
	so.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
		   GIT_STATUS_OPT_SORT_CASE_SENSITIVELY | GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
	if (git_status_list_new(&st, repo, &so) < 0) {
		git_fail("status");
		goto done;
	}
	out = json_array();
	n = git_status_list_entrycount(st);
	for (i = 0; i < n; i++) {
		const git_status_entry *e = git_status_byindex(st, i);
		const char *p = e->index_to_workdir ? e->index_to_workdir->new_file.path : NULL;
		if ((e->status & GIT_STATUS_WT_NEW) && p && !is_cache_path(p))
			json_array_append_new(out, json_string(p));
	}
done:
	git_status_list_free(st);
	git_repository_free(repo);
	return out;
}
