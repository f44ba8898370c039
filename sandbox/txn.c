/*
 * txn.c - transactions over a git work tree (txn.h, transaction.h): checks,
 * the journal, begin / commit / free. File helpers and the kill hook are
 * txn_files.c; recovery from a journal is txn_recover.c.
 *
 * Protocol (docs/edits.md has the whole story):
 *   1. lock <gitdir>/lanser-txn.lock; resolve any earlier journal;
 *   2. checks: dirty tree, files unchanged since the edit set was built;
 *   3. journal: <gitdir>/lanser-txn.tmp/ gets a backup of every file's old
 *      bytes and manifest.json, all fsync'ed, then is renamed to
 *      <gitdir>/lanser-txn/ - from here on recovery rolls back;
 *   4. every file: new bytes into a temporary beside it (name in the
 *      manifest), fsync, chmod, rename over; deletions unlink;
 *   5. commit (optional): objects, then "commit" (the new id) into the
 *      journal, then the index and HEAD;
 *   6. COMMITTED is written into the journal: from here on recovery keeps
 *      the result;
 *   7. the journal is renamed to lanser-txn.dead and removed.
 * Recovery rolls back (restores backups, modes, index bytes, HEAD) when
 * COMMITTED is absent and only drops the journal when it is present; both
 * are idempotent, so a kill during recovery is recovered again.
 */
#include "sandbox/transaction.h"
#include "sandbox/txn_impl.h"
#include "core/atomicfile.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/gitlib.h"
#include "core/limits.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "sandbox/jail.h"

#include <git2.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* clangd's cache of the workspace (`prefix`: the workspace below the work
 * tree top, without a trailing slash; "" at the top). */
static bool ignored_cache(const char *path, const char *prefix)
{
	size_t pl = strlen(prefix);

	if (pl) {
		if (strncmp(path, prefix, pl) || path[pl] != '/')
			return false;
		pl++;
	}
	return !strncmp(path + pl, ".cache/clangd/", 14);
}

/* With --commit over a dirty tree: the touched files themselves must be
 * clean, or the commit would carry the user's uncommitted work. */
static int check_touched_clean(git_repository *repo, const struct sbx_txn *t)
{
	struct buf full = BUF_INIT;
	unsigned flags;
	size_t i;
	int error = 0;

	for (i = 0; i < t->n && !error; i++) {
		buf_reset(&full);
		buf_addf(&full, "%s%s%s", t->prefix, *t->prefix ? "/" : "", t->v[i].path);
		if (git_status_file(&flags, repo, full.data) == 0 && flags != GIT_STATUS_CURRENT &&
		    !(flags & GIT_STATUS_IGNORED))
			error = ln_error_set(LN_EDIRTY, "%s has uncommitted changes: --commit would "
					     "commit them too (commit them first, or apply without "
					     "--commit)", t->v[i].path);
	}
	buf_release(&full);
	return error;
}

/* Whether `path` (relative to the work tree top) is a file the
 * transaction writes or removes. */
static bool touched(const struct sbx_txn *t, const char *path)
{
	size_t i, pl = strlen(t->prefix);

	if (pl) {
		if (strncmp(path, t->prefix, pl) || path[pl] != '/')
			return false;
		path += pl + 1;
	}
	for (i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].path, path))
			return true;
	return false;
}

/* LN_EDIRTY when the tree has changes the transaction could mix with its
 * own, git's rule (docs/edits.md, "The dirty-tree rule"): a staged or
 * unstaged change to a tracked file, or an untracked file the change
 * would create or overwrite. An unrelated untracked file (a generated
 * compile_commands.json, a local .lanser.json) and clangd's cache do not
 * count. The message names a few. */
static int check_clean(git_repository *repo, const struct sbx_txn *t)
{
	const char *prefix = t->prefix;
	git_status_options so;
	git_status_list *list = NULL;
	struct buf names = BUF_INIT;
	size_t i, n, dirty = 0;
	int error = 0;

	git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
	so.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
	so.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
		   GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
	if (git_status_list_new(&list, repo, &so) < 0)
		return sbx_txn_git_fail("cannot read the status of the work tree");
	n = git_status_list_entrycount(list);
	for (i = 0; i < n; i++) {
		const git_status_entry *s = git_status_byindex(list, i);
		const git_diff_delta *d = s->index_to_workdir ? s->index_to_workdir : s->head_to_index;
		const char *path = d ? (d->new_file.path ? d->new_file.path : d->old_file.path) : "";
		if (s->status == GIT_STATUS_CURRENT || ignored_cache(path, prefix))
			continue;
		if (s->status == GIT_STATUS_WT_NEW && !touched(t, path))
			continue;
		if (dirty++ < 5)
			buf_addf(&names, "%s%s", names.len ? ", " : "", path);
	}
	if (dirty)
		error = ln_error_set(LN_EDIRTY, "the work tree has uncommitted changes (%s%s); "
				     "commit or stash them, or pass --allow-dirty", names.data,
				     dirty > 5 ? ", ..." : "");
	buf_release(&names);
	git_status_list_free(list);
	return error;
}

/* ---- the manifest ---- */

/* Adds to `created` (folders missing now that writing `rel` makes) or to
 * `modes` ([folder, mode] of the existing folders above a file that goes,
 * which deleting it may remove). */
static void note_dirs(const struct sbx_txn *t, const char *rel, json_t *created, json_t *modes)
{
	struct buf full = BUF_INIT;
	char *d = xstrdup(rel), *slash;
	struct stat st;

	for (slash = strchr(d, '/'); slash; slash = strchr(slash + 1, '/')) {
		json_t *v;
		size_t k;
		bool dup = false;
		*slash = '\0';
		buf_reset(&full);
		buf_addf(&full, "%s/%s", t->root, d);
		json_array_foreach(created, k, v)
			dup |= !strcmp(json_string_value(v), d);
		json_array_foreach(modes, k, v)
			dup |= !strcmp(json_string_value(json_array_get(v, 0)), d);
		if (!dup) {
			if (lstat(full.data, &st) != 0) {
				if (created)
					json_array_append_new(created, json_string(d));
			} else if (modes && S_ISDIR(st.st_mode)) {
				json_array_append_new(modes, xjson_pack("[s, i]", d, (int)(st.st_mode & 07777)));
			}
		}
		*slash = '/';
	}
	free(d);
	buf_release(&full);
}

static int cmp_depth(const void *a, const void *b)
{
	const char *x = json_string_value(*(json_t *const *)a), *y = json_string_value(*(json_t *const *)b);
	size_t lx = strlen(x), ly = strlen(y);
	return lx < ly ? 1 : lx > ly ? -1 : strcmp(x, y);
}

static json_t *manifest_new(const struct sbx_txn *t)
{
	json_t *m = xjson_pack("{s:i, s:s, s:s, s:[]}", "version", 1, "id", t->id, "prefix",
			      t->prefix, "entries");
	json_t *es = json_object_get(m, "entries");
	json_t *created = json_array(), *modes = json_array();
	size_t i;

	for (i = 0; i < t->n; i++)
		note_dirs(t, t->v[i].path, t->v[i].new_exists ? created : NULL,
			  t->v[i].old_exists && !t->v[i].new_exists ? modes : NULL);
	/* deepest first, so that a parent is tried after its children */
	xjson_array_sort(created, cmp_depth);
	json_object_set_new(m, "createdDirs", created);
	json_object_set_new(m, "dirModes", modes);

	for (i = 0; i < t->n; i++) {
		char tmp[64], bk[32];
		sbx_txn_tmp_name(tmp, sizeof tmp, t->id, i);
		snprintf(bk, sizeof bk, "b%zu", i);
		json_array_append_new(es, xjson_pack("{s:s, s:s, s:b, s:i, s:s?, s:b, s:i}",
			"path", t->v[i].path, "tmp", tmp, "oldExists", t->v[i].old_exists,
			"oldMode", (int)t->v[i].old_mode, "backup", t->v[i].old_exists ? bk : NULL,
			"newExists", t->v[i].new_exists, "newMode", (int)t->v[i].new_mode));
	}
	return m;
}

/* ---- begin / commit / free ---- */

static void txn_release(struct sbx_txn *t)
{
	size_t i;

	if (t->lockfd >= 0)
		close(t->lockfd);
	for (i = 0; i < t->n; i++)
		free(t->v[i].path);
	free(t->v);
	free(t->root);
	free(t->top);
	free(t->gitdir);
	free(t->prefix);
	free(t);
}

static void add_entry(struct sbx_txn *t, const char *path, bool oe, unsigned om, const struct buf *ob,
		      bool ne, unsigned nm, const struct buf *nb)
{
	struct sbx_txn_entry *x = &t->v[t->n++];

	x->path = xstrdup(path);
	x->old_exists = oe;
	x->old_mode = om;
	x->old = ob;
	x->new_exists = ne;
	x->new_mode = nm;
	x->new = nb;
}

/* The files must still be what the edit set was built from. */
static int check_unchanged(struct sbx_txn *t)
{
	size_t i;
	int error = 0;

	for (i = 0; i < t->n && !error; i++) {
		struct buf cur = BUF_INIT;
		bool exists;
		unsigned mode;
		error = sbx_read_file(t->root, t->v[i].path, LN_FILE_MAX_BYTES, &exists, &cur, &mode);
		if (!error && (exists != t->v[i].old_exists ||
		    (exists && (cur.len != t->v[i].old->len ||
				memcmp(cur.data, t->v[i].old->data, cur.len)))))
			error = ln_error_set(LN_ECONFLICT, "%s changed on disk while the edit was "
					     "prepared", t->v[i].path);
		buf_release(&cur);
	}
	return error;
}

static int write_journal(struct sbx_txn *t)
{
	struct buf tmpdir = BUF_INIT, jdir = BUF_INIT;
	json_t *m = NULL;
	char *s = NULL;
	size_t i;
	int error = 0;

	buf_addf(&tmpdir, "%s/" JOURNAL ".tmp", t->gitdir);
	buf_addf(&jdir, "%s/" JOURNAL, t->gitdir);
	sbx_txn_rm_rf(tmpdir.data);
	if (mkdir(tmpdir.data, 0700) < 0) {
		error = ln_error_set(LN_EPERM, "cannot create the journal in the git directory: %s",
				     strerror(errno));
		goto done;
	}
	sbx_txn_step();
	for (i = 0; i < t->n && !error; i++) {
		char bk[32];
		if (!t->v[i].old_exists)
			continue;
		snprintf(bk, sizeof bk, "b%zu", i);
		error = sbx_txn_journal_write(tmpdir.data, bk, t->v[i].old->data, t->v[i].old->len);
		sbx_txn_step();
	}
	if (error)
		goto done;
	m = manifest_new(t);
	if (t->o.commit_message) {
		/* the index bytes, to put back on rollback */
		git_repository *repo = NULL;
		git_index *idx = NULL;
		git_reference *head = NULL;
		const char *refname = "HEAD";
		git_oid oid;
		ln_git_init();
		if (ln_git_open(&repo, t->gitdir, GIT_REPOSITORY_OPEN_NO_SEARCH) < 0 ||
		    git_repository_index(&idx, repo) < 0) {
			error = sbx_txn_git_fail("cannot open the repository");
		} else {
			struct buf ib = BUF_INIT;
			const char *ipath = git_index_path(idx);
			json_object_set_new(m, "indexPath", json_string(ipath));
			if (ipath && buf_read_file(&ib, ipath, MANIFEST_MAX) == 0)
				error = sbx_txn_journal_write(tmpdir.data, "index.bak", ib.data, ib.len);
			else
				ln_error_clear();
			buf_release(&ib);
			if (git_reference_lookup(&head, repo, "HEAD") == 0 &&
			    git_reference_type(head) == GIT_REFERENCE_SYMBOLIC)
				refname = git_reference_symbolic_target(head);
			json_object_set_new(m, "ref", json_string(refname));
			if (git_reference_name_to_id(&oid, repo, refname) == 0) {
				char hex[GIT_OID_HEXSZ + 1];
				git_oid_tostr(hex, sizeof hex, &oid);
				json_object_set_new(m, "oldHead", json_string(hex));
			}
		}
		git_reference_free(head);
		git_index_free(idx);
		git_repository_free(repo);
	}
	if (error)
		goto done;
	s = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	error = sbx_txn_journal_write(tmpdir.data, "manifest.json", s, strlen(s));
	if (error)
		goto done;
	ln_fsync_dir(tmpdir.data);
	sbx_txn_step();
	if (rename(tmpdir.data, jdir.data) < 0) {
		error = ln_error_set(LN_EGENERIC, "cannot install the journal: %s", strerror(errno));
		goto done;
	}
	ln_fsync_dir(t->gitdir);
	t->pending = true;
	sbx_txn_step();
done:
	if (error)
		sbx_txn_rm_rf(tmpdir.data);
	free(s);
	json_decref(m);
	buf_release(&tmpdir);
	buf_release(&jdir);
	return error;
}

static int write_files(struct sbx_txn *t)
{
	int rootfd = open(t->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t i;
	int error = 0;

	if (rootfd < 0)
		return ln_error_set(LN_EGENERIC, "cannot open the workspace: %s", strerror(errno));
	for (i = 0; i < t->n && !error; i++) {
		char tmp[64];
		sbx_txn_tmp_name(tmp, sizeof tmp, t->id, i);
		if (t->v[i].new_exists)
			error = sbx_txn_put_file(rootfd, t->v[i].path, tmp, t->v[i].new->data, t->v[i].new->len,
					 t->v[i].new_mode);
		else
			error = sbx_txn_drop_file(rootfd, t->v[i].path, tmp, true);
		sbx_txn_step();
	}
	close(rootfd);
	return error;
}

int sbx_txn_begin(struct sbx_txn **out, const char *root, const struct sbx_edits *e,
		  const struct sbx_apply_opts *o)
{
	struct sbx_txn *t;
	git_repository *repo = NULL;
	unsigned char rnd[8];
	size_t i;
	int error;

	*out = NULL;
	t = xcalloc(1, sizeof *t);
	t->lockfd = -1;
	t->e = e;
	t->o = *o;
	t->root = xstrdup(root);
	error = sbx_txn_find_gitdir(root, &t->top, &t->gitdir);
	if (error)
		goto fail;
	{
		size_t tl = strlen(t->top);
		t->prefix = xstrdup(!strcmp(t->top, "/") ? root + 1 :
				    root[tl] == '/' ? root + tl + 1 : "");
	}
	/* a set whose paths cannot all hold is refused before anything
	 * is written (edit.h) */
	error = sbx_edits_check_paths(e);
	if (error)
		goto fail;
	t->v = xcalloc(2 * e->n + 1, sizeof *t->v);
	for (i = 0; i < e->n; i++) {
		const struct sbx_file *f = &e->v[i];
		if (f->status == SBX_RENAMED) {
			add_entry(t, f->from, true, f->old_mode, &f->old, false, 0, NULL);
			add_entry(t, f->path, false, 0, &f->new /* unused */, true, f->new_mode, &f->new);
			t->v[t->n - 1].old = NULL;
		} else {
			add_entry(t, f->path, f->old_exists, f->old_mode, &f->old, f->new_exists,
				  f->new_mode, &f->new);
		}
	}
	/* the absent old side of a rename's destination reads as empty */
	for (i = 0; i < t->n; i++)
		if (!t->v[i].old) {
			static const struct buf empty = BUF_INIT;
			t->v[i].old = &empty;
		}
	t->lockfd = sbx_txn_lock_repo(t->gitdir, true);
	if (t->lockfd < 0) {
		error = t->lockfd;
		goto fail;
	}
	error = sbx_txn_recover_locked(t->top, t->gitdir);
	if (error < 0)
		goto fail;
	error = 0;
	ln_git_init();
	if (ln_git_open(&repo, t->gitdir, GIT_REPOSITORY_OPEN_NO_SEARCH) < 0) {
		error = sbx_txn_git_fail("cannot open the repository");
	} else {
		if (git_repository_is_bare(repo))
			error = ln_error_set(LN_EUSAGE, "the repository is bare");
		else if (!o->allow_dirty)
			error = check_clean(repo, t);
		else if (o->commit_message)
			error = check_touched_clean(repo, t);
	}
	git_repository_free(repo);
	if (!error)
		error = check_unchanged(t);
	if (error || o->dry_run)
		goto fail;
	{
		FILE *f = fopen("/dev/urandom", "rb");
		if (!f || fread(rnd, 1, sizeof rnd, f) != sizeof rnd) {
			unsigned long long x = (unsigned long long)time(NULL) ^ (unsigned long long)getpid();
			memcpy(rnd, &x, sizeof rnd);
		}
		if (f)
			fclose(f);
		for (i = 0; i < sizeof rnd; i++)
			snprintf(t->id + 2 * i, 3, "%02x", rnd[i]);
	}
	sbx_txn_steps_reset();
	error = write_journal(t);
	if (error)
		goto fail;
	error = write_files(t);
	if (error) {
		char *msg = xstrdup(ln_error_msg());
		struct buf jdir = BUF_INIT;

		buf_addf(&jdir, "%s/" JOURNAL, t->gitdir);
		if (sbx_txn_free(t) < 0) {
			/* the journal stays: say what failed first, then how to
			 * finish the rollback */
			char *why = xstrdup(ln_error_msg());
			ln_error_set(error, "%s; then the rollback failed: %s", msg, why);
			sbx_txn_recovery_failed(error, jdir.data);
			free(why);
		} else {
			ln_error_set(error, "%s", msg);
		}
		free(msg);
		buf_release(&jdir);
		return error;
	}
	*out = t;
	return 0;
fail:
	txn_release(t);
	return error;
}

/* The commit: HEAD's tree plus exactly our changes (not the user's other
 * staged or unstaged work), then the index entries of our paths and HEAD. */
static int make_commit(struct sbx_txn *t, git_oid *out)
{
	git_repository *repo = NULL;
	git_index *mem = NULL, *idx = NULL;
	git_reference *head = NULL, *nref = NULL;
	git_commit *parent = NULL;
	git_tree *ptree = NULL, *tree = NULL;
	git_signature *sig = NULL;
	git_oid toid, poid;
	const char *refname = "HEAD";
	struct buf full = BUF_INIT, jp = BUF_INIT;
	char hex[GIT_OID_HEXSZ + 1];
	size_t i;
	int error = 0, has_parent;

	ln_git_init();
	if (ln_git_open(&repo, t->gitdir, GIT_REPOSITORY_OPEN_NO_SEARCH) < 0 || git_index_new(&mem) < 0 ||
	    git_repository_index(&idx, repo) < 0) {
		error = sbx_txn_git_fail("cannot open the repository");
		goto done;
	}
	if (git_reference_lookup(&head, repo, "HEAD") == 0 &&
	    git_reference_type(head) == GIT_REFERENCE_SYMBOLIC)
		refname = git_reference_symbolic_target(head);
	has_parent = git_reference_name_to_id(&poid, repo, refname) == 0;
	if (has_parent && (git_commit_lookup(&parent, repo, &poid) < 0 ||
			   git_commit_tree(&ptree, parent) < 0 || git_index_read_tree(mem, ptree) < 0)) {
		error = sbx_txn_git_fail("cannot read HEAD");
		goto done;
	}
	for (i = 0; i < t->n && !error; i++) {
		git_index_entry ie;
		buf_reset(&full);
		buf_addf(&full, "%s%s%s", t->prefix, *t->prefix ? "/" : "", t->v[i].path);
		{
			/* never commit a file git ignores and HEAD does not hold
			 * (core/ignore.h; the jail keeps edits off them already) */
			int ignored = 0;
			if (!git_index_get_bypath(mem, full.data, 0) &&
			    git_ignore_path_is_ignored(&ignored, repo, full.data) == 0 && ignored)
				continue;
		}
		if (!t->v[i].new_exists) {
			git_index_remove(mem, full.data, 0);
			git_index_remove(idx, full.data, 0);
			continue;
		}
		memset(&ie, 0, sizeof ie);
		ie.path = full.data;
		ie.mode = (t->v[i].new_mode & 0111) ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
		if (git_blob_create_from_buffer(&ie.id, repo, t->v[i].new->data, t->v[i].new->len) < 0 ||
		    git_index_add(mem, &ie) < 0 || git_index_add(idx, &ie) < 0)
			error = sbx_txn_git_fail("cannot stage the change");
	}
	if (error)
		goto done;
	if (git_index_write_tree_to(&toid, mem, repo) < 0 || git_tree_lookup(&tree, repo, &toid) < 0) {
		error = sbx_txn_git_fail("cannot write the tree");
		goto done;
	}
	if (git_signature_default(&sig, repo) < 0 &&
	    git_signature_now(&sig, "lanser", "lanser@localhost") < 0) {
		error = sbx_txn_git_fail("cannot make a signature");
		goto done;
	}
	if (git_commit_create(out, repo, NULL, sig, sig, NULL, t->o.commit_message, tree,
			      has_parent ? 1 : 0, has_parent ? (const git_commit **)&parent : NULL) < 0) {
		error = sbx_txn_git_fail("cannot create the commit");
		goto done;
	}
	git_oid_tostr(hex, sizeof hex, out);
	buf_addf(&jp, "%s/" JOURNAL, t->gitdir);
	error = sbx_txn_journal_write(jp.data, "commit", hex, strlen(hex));
	if (error)
		goto done;
	sbx_txn_step();
	if (git_index_write(idx) < 0) {
		error = sbx_txn_git_fail("cannot write the index");
		goto done;
	}
	sbx_txn_step();
	if (git_reference_create(&nref, repo, refname, out, 1, t->o.commit_message) < 0)
		error = sbx_txn_git_fail("cannot update HEAD");
	sbx_txn_step();
done:
	buf_release(&full);
	buf_release(&jp);
	git_reference_free(nref);
	git_reference_free(head);
	git_signature_free(sig);
	git_tree_free(tree);
	git_tree_free(ptree);
	git_commit_free(parent);
	git_index_free(mem);
	git_index_free(idx);
	git_repository_free(repo);
	return error;
}

int sbx_txn_commit(struct sbx_txn *t, json_t *report)
{
	struct buf jdir = BUF_INIT;
	git_oid oid;
	int error = 0;

	buf_addf(&jdir, "%s/" JOURNAL, t->gitdir);
	if (t->o.commit_message) {
		error = make_commit(t, &oid);
		if (error)
			goto done;
	}
	error = sbx_txn_journal_write(jdir.data, "COMMITTED", "", 0);
	if (error)
		goto done;
	ln_fsync_dir(jdir.data);
	t->committed = true;
	sbx_txn_step();
	sbx_txn_drop_journal(t->gitdir, jdir.data);
	t->pending = false;
	sbx_txn_steps_report();
	if (report) {
		char hex[GIT_OID_HEXSZ + 1];
		if (t->o.commit_message)
			git_oid_tostr(hex, sizeof hex, &oid);
		json_object_set_new(report, "commit", t->o.commit_message ? json_string(hex)
									 : json_null());
	}
done:
	buf_release(&jdir);
	return error;
}

int sbx_txn_free(struct sbx_txn *t)
{
	struct buf jdir = BUF_INIT;
	int error = 0;

	if (!t)
		return 0;
	if (t->pending && !t->committed) {
		buf_addf(&jdir, "%s/" JOURNAL, t->gitdir);
		error = sbx_txn_rollback_journal(t->top, t->gitdir, jdir.data);
		if (!error)
			sbx_txn_drop_journal(t->gitdir, jdir.data);
		buf_release(&jdir);
	}
	txn_release(t);
	return error;
}

int sbx_apply_edits(const char *root, const struct sbx_edits *e, const struct sbx_apply_opts *o,
		    json_t **report)
{
	struct sbx_txn *t = NULL;
	json_t *rep = xjson_pack("{s:o, s:n, s:o}", "files", sbx_edits_files_json(e), "commit",
				"conflicts", json_array());
	int error;

	error = sbx_txn_begin(&t, root, e, o);
	if (!error && t) {
		error = sbx_txn_commit(t, rep);
		if (error) {
			int saved = error;
			char *msg = xstrdup(ln_error_msg());
			sbx_txn_free(t);
			ln_error_set(saved, "%s", msg ? msg : "");
			free(msg);
			t = NULL;
		} else {
			sbx_txn_free(t);
		}
	}
	if (report)
		*report = rep;
	else
		json_decref(rep);
	return error;
}

int sbx_patch_apply(const char *root, const char *diff, size_t len,
		    const struct sbx_apply_opts *o, json_t **report)
{
	struct sbx_edits e;
	json_t *rep = NULL;
	int error;

	if (report)
		*report = NULL;
	/* an interrupted earlier transaction first: the files must be whole */
	error = sbx_txn_recover(root);
	if (error < 0)
		return error;
	sbx_edits_init(&e);
	error = sbx_edits_from_diff(&e, root, diff, len);
	if (error) {
		rep = xjson_pack("{s:o, s:n, s:O}", "files", sbx_edits_files_json(&e), "commit",
				"conflicts", e.conflicts);
	} else {
		error = sbx_apply_edits(root, &e, o, &rep);
	}
	if (report)
		*report = rep;
	else
		json_decref(rep);
	sbx_edits_release(&e);
	return error;
}


