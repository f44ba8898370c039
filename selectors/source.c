/*
 * source.c - filesystem and git sources for selector resolution.
 */
#include "selectors/source.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/ignore.h"
#include "core/snapshot.h"
#include "core/hash.h"
#include "core/path.h"
#include "selectors/tree.h"
#include "core/xalloc.h"
#include "core/limits.h"
#include "core/gitlib.h"

#include <git2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_DOCS 4096

struct doc {
	char *rel;
	struct ln_text t;
	char digest[65];
};

struct sel_files {
	struct sel_source src;
	char *root, *cwd;
	struct doc **docs;       /* stable addresses: texts are handed out */
	size_t ndocs;
	/* git */
	git_repository *repo;
	git_tree *tree;
	char *prefix;            /* root relative to the work tree, "" or "sub/" */
	char commit[GIT_OID_HEXSZ + 1];
};

static int read_fs(struct sel_files *f, const char *rel, struct buf *b)
{
	struct buf path = BUF_INIT;
	int error;

	buf_addf(&path, "%s/%s", f->root, rel);
	error = buf_read_file(b, path.data, LN_FILE_MAX_BYTES);
	if (error == LN_ENOTFOUND)
		error = ln_error_set(LN_ENOTFOUND, "%s: no such file", rel);
	else if (error == LN_EINPUT)
		error = ln_error_set(LN_EINPUT, "%s: %s", rel, ln_error_msg());
	buf_release(&path);
	return error;
}

static int read_git(struct sel_files *f, const char *rel, struct buf *b)
{
	struct buf path = BUF_INIT;
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;
	int error;

	buf_addf(&path, "%s%s", f->prefix, rel);
	if (git_tree_entry_bypath(&e, f->tree, path.data) != 0 ||
	    git_tree_entry_type(e) != GIT_OBJECT_BLOB) {
		error = ln_error_set(LN_ENOTFOUND, "%s: not in revision %.12s", rel, f->commit);
		goto done;
	}
	if (git_blob_lookup(&blob, f->repo, git_tree_entry_id(e)) != 0) {
		error = ln_error_set(LN_EGENERIC, "%s: cannot read the blob", rel);
		goto done;
	}
	if ((size_t)git_blob_rawsize(blob) > LN_FILE_MAX_BYTES) {
		error = ln_error_set(LN_EINPUT, "%s is larger than %zu MiB", rel,
				     LN_FILE_MAX_BYTES >> 20);
		goto done;
	}
	buf_add(b, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
	error = 0;
done:
	git_blob_free(blob);
	git_tree_entry_free(e);
	buf_release(&path);
	return error;
}

static int text_cb(void *ctx, const char *rel, const struct ln_text **out)
{
	struct sel_files *f = ctx;
	struct buf b = BUF_INIT;
	struct doc *d;
	size_t i;
	int error;

	for (i = 0; i < f->ndocs; i++)
		if (!strcmp(f->docs[i]->rel, rel)) {
			*out = &f->docs[i]->t;
			return 0;
		}
	if (f->ndocs >= MAX_DOCS)
		return ln_error_set(LN_EINPUT, "more than %d documents in one request", MAX_DOCS);
	error = f->repo ? read_git(f, rel, &b) : read_fs(f, rel, &b);
	if (error)
		goto done;
	f->docs = xrealloc(f->docs, (f->ndocs + 1) * sizeof *f->docs);
	d = xcalloc(1, sizeof *d);
	error = ln_text_init_file(&d->t, b.data, b.len);
	if (error) {
		free(d);
		error = ln_error_set(error, "%s: %s", rel, ln_error_msg());
		goto done;
	}
	f->docs[f->ndocs] = d;
	d->rel = xstrdup(rel);
	ln_sha256_hex(b.data, b.len, d->digest);
	f->ndocs++;
	*out = &d->t;
done:
	buf_release(&b);
	return error;
}

static bool has_grammar(const char *rel, void *ctx)
{
	(void)ctx;
	return sel_grammar_for_path(rel) != SEL_GRAMMAR_NONE;
}

int sel_workspace_files(json_t **out, const char *root)
{
	/* files .gitignore or "exclude" leave out are no candidates: a build
	 * tree's copy of a header must not make a selector ambiguous */
	struct ln_ignore *ig = ln_ignore_new(root, NULL);
	int error = ln_tree_files(out, root, has_grammar, NULL, ln_ignore_skip, ig, SEL_MAX_FILES);

	ln_ignore_free(ig);
	return error;
}

static int files_cb(void *ctx, json_t **out)
{
	struct sel_files *f = ctx;
	git_index *idx = NULL;
	size_t i, n;

	if (!f->repo)
		return sel_workspace_files(out, f->root);
	/* A revision: its tree's files under the root, via an in-memory index. */
	*out = json_array();
	if (git_index_new(&idx) != 0 || git_index_read_tree(idx, f->tree) != 0) {
		git_index_free(idx);
		return ln_error_set(LN_EGENERIC, "cannot list revision %.12s", f->commit);
	}
	n = git_index_entrycount(idx);
	for (i = 0; i < n; i++) {
		const git_index_entry *e = git_index_get_byindex(idx, i);
		size_t pl = strlen(f->prefix);
		if (strncmp(e->path, f->prefix, pl) ||
		    sel_grammar_for_path(e->path + pl) == SEL_GRAMMAR_NONE)
			continue;
		if (json_array_size(*out) >= SEL_MAX_FILES)
			break;
		json_array_append_new(*out, json_string(e->path + pl));
	}
	git_index_free(idx);
	return 0;
}

static struct sel_files *files_new(const char *root, const char *cwd)
{
	struct sel_files *f = xcalloc(1, sizeof *f);

	f->root = xstrdup(root);
	f->cwd = xstrdup(cwd ? cwd : root);
	f->src.text = text_cb;
	f->src.files = files_cb;
	f->src.ctx = f;
	f->src.root = f->root;
	f->src.cwd = f->cwd;
	return f;
}

int sel_files_new_fs(struct sel_files **out, const char *root, const char *cwd)
{
	*out = files_new(root, cwd);
	return 0;
}

int sel_files_new_git(struct sel_files **out, const char *root, const char *cwd, const char *rev)
{
	struct sel_files *f = files_new(root, cwd);
	git_object *obj = NULL;
	git_commit *commit = NULL;
	const char *wd;
	char *rel = NULL;
	int error = 0;

	*out = NULL;
	ln_git_init();
	f->src.lexical = true;
	if (ln_git_open(&f->repo, root, 0) != 0 || git_repository_is_bare(f->repo)) {
		error = ln_error_set(LN_ENOTFOUND, "--at %s: %s is not inside a git work tree", rev,
				     "the workspace");
		goto done;
	}
	if (git_revparse_single(&obj, f->repo, rev) != 0 ||
	    git_object_peel((git_object **)&commit, obj, GIT_OBJECT_COMMIT) != 0) {
		error = ln_error_set(LN_ENOTFOUND, "--at %s: no such revision", rev);
		goto done;
	}
	git_oid_tostr(f->commit, sizeof f->commit, git_commit_id(commit));
	if (git_commit_tree(&f->tree, commit) != 0) {
		error = ln_error_set(LN_EGENERIC, "--at %s: cannot read its tree", rev);
		goto done;
	}
	wd = git_repository_workdir(f->repo);
	{
		/* root relative to the work tree (both canonical) */
		struct buf w = BUF_INIT;
		char *canon;
		buf_adds(&w, wd);
		while (w.len > 1 && w.data[w.len - 1] == '/')
			w.data[--w.len] = '\0';
		canon = realpath(w.data, NULL);
		buf_release(&w);
		if (!canon || ln_path_relativize(&rel, canon, root) != 1) {
			free(canon);
			error = ln_error_set(LN_EGENERIC, "--at: the workspace is not inside the git work tree");
			goto done;
		}
		free(canon);
		if (!strcmp(rel, ".")) {
			f->prefix = xstrdup("");
		} else {
			struct buf p = BUF_INIT;
			buf_addf(&p, "%s/", rel);
			f->prefix = buf_detach(&p, NULL);
		}
	}
done:
	free(rel);
	git_commit_free(commit);
	git_object_free(obj);
	if (error) {
		sel_files_free(f);
		return error;
	}
	*out = f;
	return 0;
}

void sel_files_free(struct sel_files *f)
{
	size_t i;

	if (!f)
		return;
	for (i = 0; i < f->ndocs; i++) {
		free(f->docs[i]->rel);
		ln_text_release(&f->docs[i]->t);
		free(f->docs[i]);
	}
	free(f->docs);
	git_tree_free(f->tree);
	if (f->repo)
		git_repository_free(f->repo);
	free(f->prefix);
	free(f->root);
	free(f->cwd);
	free(f);
}

const struct sel_source *sel_files_source(struct sel_files *f)
{
	return &f->src;
}

const char *sel_files_digest(struct sel_files *f, const char *rel)
{
	size_t i;

	for (i = 0; i < f->ndocs; i++)
		if (!strcmp(f->docs[i]->rel, rel))
			return f->docs[i]->digest;
	return NULL;
}

const char *sel_files_commit(const struct sel_files *f)
{
	return f->repo ? f->commit : NULL;
}
