/*
 * base.c - the base worktree of an engine and its language servers: ONE
 * linked worktree of the base commit, the workspace's generated
 * compilation database copied in, ONE set of servers on it, boxed
 * (docs/eval.md, "The pipeline", step 2).
 */
#include "engine/internal.h"

#include "core/buf.h"
#include "core/gitlib.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "lsp/profile.h"
#include "lsp/workspace.h"
#include "sandbox/box.h"
#include "sandbox/worktree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The compilation database of the workspace (untracked, generated: it is
 * not in a worktree; lsp_cdb_find, the lookup queries use) copied to the
 * same place in the worktree, its paths rewritten for the worktree's. */
void eng_copy_cdb(const char *root, const char *wt)
{
	const char *name = lsp_cdb_find(root), *p, *hit, *slash;
	struct buf src = BUF_INIT, dst = BUF_INIT, out = BUF_INIT;
	size_t rl = strlen(root);
	FILE *f;

	if (!name)
		return;
	buf_addf(&src, "%s/%s", root, name);
	buf_addf(&dst, "%s/%s", wt, name);
	if (access(dst.data, F_OK) == 0 || buf_read_file(&out, src.data, LN_FILE_MAX_BYTES)) {
		ln_error_clear();
		goto done;
	}
	slash = strrchr(name, '/');
	if (slash) {
		/* build/: one level (LSP_CDB_PLACES) */
		struct buf dir = BUF_INIT;
		buf_addf(&dir, "%s/%.*s", wt, (int)(slash - name), name);
		if (mkdir(dir.data, 0777) < 0 && errno != EEXIST) {
			buf_release(&dir);
			goto done;
		}
		buf_release(&dir);
	}
	f = fopen(dst.data, "w");
	if (f) {
		for (p = out.data; (hit = strstr(p, root)); p = hit + rl) {
			/* only whole path prefixes */
			fwrite(p, 1, (size_t)(hit - p), f);
			if (hit[rl] == '/' || hit[rl] == '"' || hit[rl] == '\0')
				fputs(wt, f);
			else
				fwrite(hit, 1, rl, f);
		}
		fputs(p, f);
		fclose(f);
	}
done:
	buf_release(&src);
	buf_release(&dst);
	buf_release(&out);
}

/* Language servers read the candidate's text: what it makes them read
 * (an #include of a host file, an import path) must not reach a verdict.
 * Each server runs in the sandbox's box (sandbox/box.h, sbx_box_command):
 * the system's read-only toolchain, the worktree read-only with a tmpfs over
 * its .cache (clangd's index), lanser's pinned servers read-only, and
 * nothing else (no home, no /root, no other worktree, no daemon socket, no
 * network). lsp_workspace_opts.wrap. */
static int box_server(void *ctx, const char *const *argv, char ***out)
{
	struct eng *e = ctx;
	struct buf cache = BUF_INIT, deps = BUF_INIT;
	char *self = lsp_self_dir();
	const char *ro[2] = { NULL, NULL }, *tmpfs[2] = { NULL, NULL };
	struct sbx_box_spec spec;
	struct stat st;
	int error;

	buf_addf(&cache, "%s/.cache", e->wt);
	buf_addf(&deps, "%s/deps/node_modules", self);
	free(self);
	if (stat(deps.data, &st) == 0 && S_ISDIR(st.st_mode))
		ro[0] = deps.data;
	tmpfs[0] = cache.data;
	memset(&spec, 0, sizeof spec);
	spec.root = e->wt;
	spec.root_writable = false;
	spec.ro_paths = ro;
	spec.tmpfs_paths = tmpfs;
	error = sbx_box_command(out, &spec, argv);
	buf_release(&cache);
	buf_release(&deps);
	return error;
}

/* clangd 14 builds other files against open headers' overlays only with
 * --use-dirty-headers (a header's candidate text must reach the files that
 * include it); a user-configured command stays as given. */
static void clangd_command(struct eng *e)
{
	json_t *clangd = json_object_get(e->servers_cfg, "clangd");
	struct buf arg = BUF_INIT;
	char *dir;

	if (!clangd) {
		clangd = json_object();
		json_object_set_new(e->servers_cfg, "clangd", clangd);
	}
	if (!json_is_object(clangd) || json_object_get(clangd, "command"))
		return;
	/* the built-in profile's guards too (lsp/profile.c): no .clangd or
	 * user config, the worktree's own compilation database, no cap */
	dir = lsp_cdb_dir(e->wt);
	buf_addf(&arg, "--compile-commands-dir=%s%s%s", e->wt, *dir ? "/" : "", dir);
	free(dir);
	json_object_set_new(clangd, "command", xjson_pack("[s, s, s, s, s, s, s, s]", "clangd",
		"--background-index", "--log=error", "--pch-storage=memory",
		"--use-dirty-headers", "--enable-config=false", "--limit-references=0",
		arg.data));
	buf_release(&arg);
}

int eng_base_setup(struct eng *e)
{
	struct lsp_workspace_opts wo;
	int error;

	error = sbx_wt_prune(e->s->root);
	if (error > 0)
		eng_note(e, "lanser: note: pruned %d stale candidate worktree%s of an earlier run",
			 error, error == 1 ? "" : "s");
	error = sbx_wt_create(&e->wts, e->s->root, e->s->task.base, 1, e->base_oid);
	if (error)
		return error;
	e->wt = realpath(sbx_wt_path(e->wts, 0), NULL);
	if (!e->wt)
		return ln_error_set(LN_ESANDBOX, "worktree: %s", strerror(errno));
	eng_copy_cdb(e->s->root, e->wt);
	clangd_command(e);
	memset(&wo, 0, sizeof wo);
	wo.root = e->wt;
	wo.servers = e->servers_cfg;
	wo.init_ms = e->o.init_ms;
	wo.request_ms = e->o.request_ms;
	if (!e->o.no_isolation) {
		wo.wrap = box_server;
		wo.wrap_ctx = e;
	} else {
		eng_note(e, "lanser: note: --no-isolation: the language servers read the "
			 "candidates unboxed (they can read any file lanser can)");
	}
	return lsp_workspace_new(&e->ws, &wo);
}

int eng_resolve_commit(char out[41], const char *root, const char *rev)
{
	git_repository *repo = NULL;
	git_object *obj = NULL, *commit = NULL;
	int error = 0;

	out[0] = '\0';
	ln_git_init();
	if (ln_git_open(&repo, root, GIT_REPOSITORY_OPEN_NO_SEARCH) < 0) {
		error = ln_error_set(LN_EINPUT, "no git repository at %s: %s", root,
				     git_error_last() ? git_error_last()->message : "?");
		goto done;
	}
	if (git_revparse_single(&obj, repo, rev) < 0 ||
	    git_object_peel(&commit, obj, GIT_OBJECT_COMMIT) < 0) {
		error = ln_error_set(LN_ENOTFOUND, "revision '%s' names no commit (%s)", rev,
				     git_error_last() ? git_error_last()->message : "?");
		goto done;
	}
	git_oid_tostr(out, 41, git_object_id(commit));
done:
	git_object_free(commit);
	git_object_free(obj);
	git_repository_free(repo);
	return error;
}
