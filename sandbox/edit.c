/*
 * edit.c - the edit set itself (init, release, files, path checks),
 * whole-file replacement and rendering a set as a diff (see edit.h,
 * docs/edits.md). Diffs are read in patch.c and applied in patch_apply.c;
 * LSP WorkspaceEdits are applied in wsedit.c.
 */
#include "sandbox/edit.h"
#include "sandbox/edit_impl.h"
#include "core/err.h"
#include "sandbox/jail.h"
#include "core/xalloc.h"
#include "core/gitlib.h"
#include "core/xjson.h"

#include <git2.h>
#include <stdlib.h>
#include <string.h>

void sbx_edits_init(struct sbx_edits *e)
{
	memset(e, 0, sizeof *e);
	e->conflicts = json_array();
}

void sbx_file_release(struct sbx_file *f)
{
	free(f->path);
	free(f->from);
	buf_release(&f->old);
	buf_release(&f->new);
}

void sbx_edits_release(struct sbx_edits *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		sbx_file_release(&e->v[i]);
	free(e->v);
	json_decref(e->conflicts);
	memset(e, 0, sizeof *e);
}

const char *sbx_status_name(enum sbx_status s)
{
	switch (s) {
	case SBX_MODIFIED: return "modified";
	case SBX_ADDED: return "added";
	case SBX_DELETED: return "deleted";
	case SBX_RENAMED: return "renamed";
	}
	return "modified";
}

struct sbx_file *sbx_edits_add_file(struct sbx_edits *e)
{
	struct sbx_file *f;

	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 8;
		e->v = xrealloc(e->v, e->cap * sizeof *e->v);
	}
	f = &e->v[e->n++];
	memset(f, 0, sizeof *f);
	buf_init(&f->old);
	buf_init(&f->new);
	return f;
}

struct sbx_file *sbx_edits_find_file(struct sbx_edits *e, const char *path)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		if (!strcmp(e->v[i].path, path) || (e->v[i].from && !strcmp(e->v[i].from, path)))
			return &e->v[i];
	return NULL;
}

json_t *sbx_edits_files_json(const struct sbx_edits *e)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < e->n; i++) {
		/* paths come from a patch: any bytes but NUL and controls */
		json_t *o = xjson_pack("{s:o, s:s}", "path", xjson_string_lossy(e->v[i].path),
				       "status", sbx_status_name(e->v[i].status));
		if (e->v[i].from)
			json_object_set_new(o, "from", xjson_string_lossy(e->v[i].from));
		json_array_append_new(a, o);
	}
	return a;
}


/* Every path the set writes or removes, with whether a file is there after. */
struct touched {
	const char *path;
	bool file_after;
};

static int cmp_touched(const void *a, const void *b)
{
	return strcmp(((const struct touched *)a)->path, ((const struct touched *)b)->path);
}

int sbx_edits_check_paths(const struct sbx_edits *e)
{
	struct touched *v;
	size_t i, k, n = 0;
	int error = 0;

	v = xcalloc(2 * e->n + 1, sizeof *v);
	for (i = 0; i < e->n; i++) {
		/* a copy leaves its source alone */
		if (e->v[i].from && e->v[i].status == SBX_RENAMED)
			v[n++] = (struct touched){ e->v[i].from, false };
		v[n++] = (struct touched){ e->v[i].path, e->v[i].new_exists };
	}
	/* the journal and every report are JSON: a name must be UTF-8 */
	for (i = 0; i < n; i++)
		if (!ln_utf8_valid(v[i].path, strlen(v[i].path))) {
			error = ln_error_set(LN_EINPUT, "the patch names a path that is not UTF-8: "
					     "%s", ln_printable(v[i].path));
			free(v);
			return error;
		}
	qsort(v, n, sizeof *v, cmp_touched);
	/* Sorted, every path below `a` ("a/...") follows `a` before any path
	 * that sorts after "a/": scan forward while the prefix holds. */
	for (i = 0; i < n && !error; i++) {
		size_t len = strlen(v[i].path);
		if (i + 1 < n && !strcmp(v[i].path, v[i + 1].path)) {
			error = ln_error_set(LN_EINPUT, "the patch touches %s twice (two entries "
					     "for one path)", ln_printable(v[i].path));
			break;
		}
		if (!v[i].file_after)
			continue;
		for (k = i + 1; k < n; k++) {
			int c = strncmp(v[k].path, v[i].path, len);
			if (c > 0)
				break;
			if (c == 0 && v[k].path[len] == '/') {
				error = ln_error_set(LN_EINPUT, "the patch's paths conflict: %s would be "
						     "a file and %s would need it to be a folder",
						     ln_printable(v[i].path),
						     ln_printable(v[k].path));
				break;
			}
		}
	}
	free(v);
	return error;
}


/* ======================= whole files ======================= */

int sbx_edits_replace_file(struct sbx_edits *e, const char *root, const char *rel,
			   const char *data, size_t len)
{
	struct sbx_jail j;
	struct sbx_file *f;
	bool exists;
	unsigned mode;
	int error;

	if (len > LN_FILE_MAX_BYTES)
		return ln_error_set(LN_EINPUT, "%s would be larger than %zu bytes", rel,
				    LN_FILE_MAX_BYTES);
	error = sbx_jail_init(&j, root);
	if (!error)
		error = sbx_jail_check(&j, rel);
	if (!error && sbx_edits_find_file(e, rel))
		error = ln_error_set(LN_EINPUT, "%s is replaced twice", rel);
	if (error)
		goto done;
	f = sbx_edits_add_file(e);
	f->path = xstrdup(rel);
	error = sbx_read_file(root, rel, LN_FILE_MAX_BYTES, &exists, &f->old, &mode);
	if (error)
		goto done;
	f->old_exists = exists;
	f->old_mode = mode;
	f->new_exists = true;
	f->new_mode = exists ? mode : 0644;
	f->status = exists ? SBX_MODIFIED : SBX_ADDED;
	buf_add(&f->new, data, len);
done:
	sbx_jail_release(&j);
	return error;
}


/* ======================= rendering ======================= */

/* Git's quoting of a name with unusual bytes ("a/x\ty"), else "a/x". */
static void add_name(struct buf *b, const char *prefix, const char *path)
{
	const char *p;
	bool quote = false;

	for (p = path; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\' || (unsigned char)*p >= 0x7f)
			quote = true;
	if (!quote) {
		buf_adds(b, prefix);
		buf_adds(b, path);
		return;
	}
	buf_addch(b, '"');
	buf_adds(b, prefix);
	for (p = path; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == '"' || ch == '\\')
			buf_addf(b, "\\%c", ch);
		else if (ch == '\n')
			buf_adds(b, "\\n");
		else if (ch == '\t')
			buf_adds(b, "\\t");
		else if (ch < 0x20 || ch >= 0x7f)
			buf_addf(b, "\\%03o", ch);
		else
			buf_addch(b, ch);
	}
	buf_addch(b, '"');
}

static unsigned git_mode(unsigned m)
{
	return (m & 0111) ? 0100755 : 0100644;
}

int sbx_edits_diff(struct buf *out, const struct sbx_edits *e)
{
	size_t i;
	int error = 0;

	ln_git_init();
	for (i = 0; i < e->n && !error; i++) {
		const struct sbx_file *f = &e->v[i];
		const char *from = f->from && f->status == SBX_RENAMED ? f->from : f->path;
		git_patch *patch = NULL;
		git_buf gb = { 0 };
		git_diff_options opts;
		const char *body;

		buf_adds(out, "diff --git ");
		add_name(out, "a/", from);
		buf_addch(out, ' ');
		add_name(out, "b/", f->path);
		buf_addch(out, '\n');
		if (!f->old_exists && f->new_exists)
			buf_addf(out, "new file mode %o\n", git_mode(f->new_mode));
		else if (f->old_exists && !f->new_exists)
			buf_addf(out, "deleted file mode %o\n", git_mode(f->old_mode));
		else if (git_mode(f->old_mode) != git_mode(f->new_mode))
			buf_addf(out, "old mode %o\nnew mode %o\n", git_mode(f->old_mode),
				 git_mode(f->new_mode));
		if (f->status == SBX_RENAMED) {
			buf_adds(out, "rename from ");
			add_name(out, "", f->from);
			buf_adds(out, "\nrename to ");
			add_name(out, "", f->path);
			buf_addch(out, '\n');
		}
		if (f->old.len == f->new.len && !memcmp(f->old.data, f->new.data, f->new.len))
			continue;
		git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
		opts.context_lines = 3;
		opts.flags = GIT_DIFF_FORCE_TEXT;
		if (git_patch_from_buffers(&patch, f->old_exists ? f->old.data : NULL,
					   f->old_exists ? f->old.len : 0, "old",
					   f->new_exists ? f->new.data : NULL,
					   f->new_exists ? f->new.len : 0, "new", &opts) < 0 ||
		    git_patch_to_buf(&gb, patch) < 0) {
			const git_error *ge = git_error_last();
			error = ln_error_set(LN_EGENERIC, "cannot diff %s: %s", f->path,
					     ge ? ge->message : "libgit2 error");
		} else {
			body = strstr(gb.ptr, "\n@@ ");
			if (body) {
				buf_adds(out, "--- ");
				if (f->old_exists)
					add_name(out, "a/", from);
				else
					buf_adds(out, "/dev/null");
				buf_adds(out, "\n+++ ");
				if (f->new_exists)
					add_name(out, "b/", f->path);
				else
					buf_adds(out, "/dev/null");
				buf_adds(out, body);
			}
		}
		git_buf_dispose(&gb);
		git_patch_free(patch);
	}
	return error;
}
