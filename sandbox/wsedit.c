/*
 * wsedit.c - building an edit set from an LSP WorkspaceEdit: text edits,
 * versioned document edits, create/rename/delete file operations, applied
 * to a virtual tree of the workspace (edit.h).
 */
#include "sandbox/edit.h"
#include "sandbox/edit_impl.h"
#include "core/err.h"
#include "sandbox/jail.h"
#include "core/path.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <stdlib.h>
#include <string.h>

/* ======================= LSP WorkspaceEdit ======================= */

/* The virtual tree a WorkspaceEdit is applied to, file by file. */
struct vfile {
	char *path;
	bool orig_exists, exists, touched;
	unsigned orig_mode;
	struct buf orig, cur;
	char *renamed_from;   /* the original path whose content this is */
};

struct vtree {
	struct vfile *v;
	size_t n, cap;
	const char *root;
	struct sbx_jail *jail;
};

static int uri_rel(char **out, const char *root, const char *uri)
{
	char *abs = NULL;
	int error, inside;

	*out = NULL;
	if (!uri)
		return ln_error_set(LN_ECRASH, "the server sent an edit without a uri");
	error = ln_uri_to_path(&abs, uri);
	if (error)
		return ln_error_set(LN_EPERM, "refused by the workspace jail: %s is not a file "
				    "URI", uri);
	inside = ln_path_relativize(out, root, abs);
	free(abs);
	if (inside < 0)
		return inside;
	if (!inside || !strcmp(*out, ".")) {
		free(*out);
		*out = NULL;
		return ln_error_set(LN_EPERM, "refused by the workspace jail: the edit touches %s, "
				    "outside the workspace", uri);
	}
	return 0;
}

static int vfile_get(struct vtree *t, struct vfile **out, const char *rel)
{
	struct vfile *f;
	size_t i;
	int error;

	for (i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].path, rel)) {
			*out = &t->v[i];
			return 0;
		}
	error = sbx_jail_check(t->jail, rel);
	if (error)
		return error;
	if (t->n >= SBX_MAX_FILES)
		return ln_error_set(LN_EINPUT, "the edit touches more than %d files", SBX_MAX_FILES);
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		t->v = xrealloc(t->v, t->cap * sizeof *t->v);
	}
	f = &t->v[t->n];
	memset(f, 0, sizeof *f);
	buf_init(&f->orig);
	buf_init(&f->cur);
	f->path = xstrdup(rel);
	error = sbx_read_file(t->root, rel, LN_FILE_MAX_BYTES, &f->orig_exists, &f->orig,
			      &f->orig_mode);
	if (error) {
		free(f->path);
		buf_release(&f->orig);
		return error;
	}
	t->n++;
	f->exists = f->orig_exists;
	buf_add(&f->cur, f->orig.data, f->orig.len);
	if (f->orig_exists)
		f->renamed_from = xstrdup(rel);
	*out = f;
	return 0;
}

struct tedit {
	size_t start, end;   /* absolute byte offsets */
	const char *text;
	size_t order;
};

static int cmp_tedit(const void *a, const void *b)
{
	const struct tedit *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int pos_offset(const struct ln_text *t, const json_t *pos, enum ln_enc enc, size_t *out,
		      const char *path)
{
	json_t *l = json_object_get(pos, "line"), *c = json_object_get(pos, "character");
	size_t byte;
	int error;

	if (!json_is_integer(l) || !json_is_integer(c) || json_integer_value(l) < 0 ||
	    json_integer_value(c) < 0 || json_integer_value(l) > 100000000 ||
	    json_integer_value(c) > 100000000)
		return ln_error_set(LN_ECRASH, "the server sent a malformed position for %s", path);
	/* LSP: a line past the end means the end of the document */
	if (json_integer_value(l) >= t->nlines) {
		*out = t->len;
		return 0;
	}
	error = ln_text_to_byte(t, (int)json_integer_value(l), (long)json_integer_value(c), enc,
				&byte);
	if (error)
		return ln_error_set(LN_ECRASH, "the server's edit does not fit %s: %s", path,
				    ln_error_msg());
	*out = ln_text_offset(t, (int)json_integer_value(l), byte);
	return 0;
}

static int apply_text_edits(struct vfile *f, const json_t *edits, enum ln_enc enc)
{
	struct ln_text t = { 0 };
	struct tedit *v = NULL;
	struct buf out = BUF_INIT;
	size_t i, n = json_array_size(edits), pos = 0;
	const json_t *ed;
	int error;

	if (!json_is_array(edits))
		return ln_error_set(LN_ECRASH, "the server sent malformed edits for %s", f->path);
	if (!f->exists)
		return ln_error_set(LN_ECONFLICT, "the server edits %s, which does not exist", f->path);
	error = ln_text_init_file(&t, f->cur.data, f->cur.len);
	if (error)
		return ln_error_set(error, "%s: %s", f->path, ln_error_msg());
	v = xcalloc(n + 1, sizeof *v);
	json_array_foreach(edits, i, ed) {
		const json_t *r = json_object_get(ed, "range");
		const char *nt = json_string_value(json_object_get(ed, "newText"));
		if (!nt || !r) {
			error = ln_error_set(LN_ECRASH, "the server sent a malformed edit for %s",
					     f->path);
			goto done;
		}
		if ((error = pos_offset(&t, json_object_get(r, "start"), enc, &v[i].start, f->path)) ||
		    (error = pos_offset(&t, json_object_get(r, "end"), enc, &v[i].end, f->path)))
			goto done;
		if (v[i].end < v[i].start) {
			error = ln_error_set(LN_ECRASH, "the server sent a reversed range for %s",
					     f->path);
			goto done;
		}
		v[i].text = nt;
		v[i].order = i;
	}
	qsort(v, n, sizeof *v, cmp_tedit);
	for (i = 0; i < n; i++) {
		if (v[i].start < pos) {
			error = ln_error_set(LN_ECRASH, "the server sent overlapping edits for %s",
					     f->path);
			goto done;
		}
		buf_add(&out, t.data + pos, v[i].start - pos);
		/* a Latin-1 file stays Latin-1: the server's UTF-8 text is
		 * written back as bytes, or the edit is refused */
		if (t.latin1 && ln_utf8_to_latin1(&out, v[i].text, strlen(v[i].text))) {
			error = ln_error_set(LN_EINPUT, "%s is Latin-1 (not UTF-8) and the edit "
					     "would put a character it cannot hold into it: %s",
					     f->path, ln_error_msg());
			goto done;
		} else if (!t.latin1) {
			buf_adds(&out, v[i].text);
		}
		pos = v[i].end;
		if (out.len > LN_FILE_MAX_BYTES) {
			error = ln_error_set(LN_EINPUT, "%s would be larger than %zu bytes", f->path,
					     LN_FILE_MAX_BYTES);
			goto done;
		}
	}
	buf_add(&out, t.data + pos, t.len - pos);
	buf_release(&f->cur);
	f->cur = out;
	buf_init(&out);
	f->touched = true;
done:
	buf_release(&out);
	free(v);
	ln_text_release(&t);
	return error;
}

static bool opt_true(const json_t *op, const char *name)
{
	return json_is_true(json_object_get(json_object_get(op, "options"), name));
}

static int apply_op(struct vtree *t, const json_t *op, enum ln_enc enc)
{
	const char *kind = json_string_value(json_object_get(op, "kind"));
	struct vfile *f, *g;
	char *rel = NULL, *rel2 = NULL;
	int error;

	if (!kind) {  /* TextDocumentEdit */
		const json_t *td = json_object_get(op, "textDocument");
		error = uri_rel(&rel, t->root, json_string_value(json_object_get(td, "uri")));
		/* an ignored file (a build tree's copy) is left as it is */
		if (!error && sbx_jail_ignored(t->jail, rel))
			goto done;
		if (!error)
			error = vfile_get(t, &f, rel);
		if (!error)
			error = apply_text_edits(f, json_object_get(op, "edits"), enc);
	} else if (!strcmp(kind, "create")) {
		error = uri_rel(&rel, t->root, json_string_value(json_object_get(op, "uri")));
		if (!error)
			error = vfile_get(t, &f, rel);
		if (!error && f->exists) {
			if (opt_true(op, "overwrite")) {
				buf_reset(&f->cur);
				f->touched = true;
			} else if (!opt_true(op, "ignoreIfExists")) {
				error = ln_error_set(LN_ECONFLICT, "the edit creates %s, which exists",
						     rel);
			}
		} else if (!error) {
			f->exists = true;
			f->touched = true;
			buf_reset(&f->cur);
		}
	} else if (!strcmp(kind, "rename")) {
		error = uri_rel(&rel, t->root, json_string_value(json_object_get(op, "oldUri")));
		if (!error)
			error = uri_rel(&rel2, t->root, json_string_value(json_object_get(op, "newUri")));
		if (!error)
			error = vfile_get(t, &f, rel);
		if (!error)
			error = vfile_get(t, &g, rel2);
		if (!error) {
			f = NULL;
			for (size_t i = 0; i < t->n; i++)   /* g's insertion may have moved f */
				if (!strcmp(t->v[i].path, rel))
					f = &t->v[i];
			if (!f->exists) {
				error = ln_error_set(LN_ECONFLICT, "the edit renames %s, which does "
						     "not exist", rel);
			} else if (g->exists && !opt_true(op, "overwrite")) {
				if (!opt_true(op, "ignoreIfExists"))
					error = ln_error_set(LN_ECONFLICT, "the edit renames %s onto %s, "
							     "which exists", rel, rel2);
			} else if (f != g) {
				buf_reset(&g->cur);
				buf_add(&g->cur, f->cur.data, f->cur.len);
				g->exists = true;
				g->touched = true;
				free(g->renamed_from);
				g->renamed_from = f->renamed_from;
				f->renamed_from = NULL;
				if (!g->orig_exists)
					g->orig_mode = f->orig_mode;
				f->exists = false;
				f->touched = true;
				buf_reset(&f->cur);
			}
		}
	} else if (!strcmp(kind, "delete")) {
		error = uri_rel(&rel, t->root, json_string_value(json_object_get(op, "uri")));
		if (!error)
			error = vfile_get(t, &f, rel);
		if (!error && !f->exists && !opt_true(op, "ignoreIfNotExists"))
			error = ln_error_set(LN_ECONFLICT, "the edit deletes %s, which does not "
					     "exist", rel);
		else if (!error) {
			f->exists = false;
			f->touched = true;
			buf_reset(&f->cur);
		}
	} else {
		error = ln_error_set(LN_ECRASH, "unknown file operation '%s' in the edit", kind);
	}
done:
	free(rel);
	free(rel2);
	return error;
}

int sbx_edits_from_workspace_edit(struct sbx_edits *e, const char *root, const json_t *we,
				  enum ln_enc enc)
{
	struct vtree t = { 0 };
	struct sbx_jail j;
	const json_t *dc = json_object_get(we, "documentChanges"), *op;
	size_t i;
	int error;

	t.root = root;
	t.jail = &j;
	error = sbx_jail_init(&j, root);
	if (error)
		return error;
	if (!json_is_object(we)) {
		error = ln_error_set(LN_ECRASH, "the server sent a malformed WorkspaceEdit");
		goto done;
	}
	if (json_is_array(dc)) {
		json_array_foreach(dc, i, op)
			if ((error = apply_op(&t, op, enc)))
				goto done;
	} else {
		const char *uri;
		json_t *edits;
		json_object_foreach((json_t *)json_object_get(we, "changes"), uri, edits) {
			json_t *fake = xjson_pack("{s:{s:s}, s:O}", "textDocument", "uri", uri,
						 "edits", edits);
			error = apply_op(&t, fake, enc);
			json_decref(fake);
			if (error)
				goto done;
		}
	}
	/* the virtual tree into the set: renames whose source vanished pair up */
	for (i = 0; i < t.n; i++) {
		struct vfile *v = &t.v[i];
		struct sbx_file *f;
		bool renamed;
		if (!v->touched)
			continue;
		if (v->orig_exists == v->exists && (!v->exists ||
		    (v->orig.len == v->cur.len && !memcmp(v->orig.data, v->cur.data, v->cur.len))) &&
		    v->renamed_from && !strcmp(v->renamed_from, v->path))
			continue;  /* no net change */
		renamed = v->exists && !v->orig_exists && v->renamed_from &&
			  strcmp(v->renamed_from, v->path);
		if (sbx_edits_find_file(e, v->path)) {
			error = ln_error_set(LN_EINPUT, "%s is changed twice", v->path);
			goto done;
		}
		f = sbx_edits_add_file(e);
		f->path = xstrdup(v->path);
		if (renamed) {
			/* the source's own record becomes part of this one */
			struct vfile *src = NULL;
			for (size_t k = 0; k < t.n; k++)
				if (!strcmp(t.v[k].path, v->renamed_from))
					src = &t.v[k];
			if (src && !src->exists) {
				f->status = SBX_RENAMED;
				f->from = xstrdup(src->path);
				f->old_exists = true;
				f->old_mode = src->orig_mode;
				buf_add(&f->old, src->orig.data, src->orig.len);
				src->touched = false;  /* covered here */
				f->new_exists = true;
				f->new_mode = src->orig_mode;
				buf_add(&f->new, v->cur.data, v->cur.len);
				continue;
			}
		}
		f->old_exists = v->orig_exists;
		f->old_mode = v->orig_mode;
		buf_add(&f->old, v->orig.data, v->orig.len);
		f->new_exists = v->exists;
		f->new_mode = v->orig_exists ? v->orig_mode : 0644;
		buf_add(&f->new, v->cur.data, v->cur.len);
		f->status = !v->orig_exists ? SBX_ADDED : !v->exists ? SBX_DELETED : SBX_MODIFIED;
	}
	/* a rename's source appears before we knew: drop sources now covered */
	for (i = 0; i < e->n; i++) {
		size_t k;
		if (e->v[i].status != SBX_DELETED)
			continue;
		for (k = 0; k < e->n; k++)
			if (e->v[k].status == SBX_RENAMED && !strcmp(e->v[k].from, e->v[i].path))
				break;
		if (k < e->n) {
			sbx_file_release(&e->v[i]);
			memmove(&e->v[i], &e->v[i + 1], (e->n - i - 1) * sizeof e->v[0]);
			e->n--;
			i--;
		}
	}
	error = sbx_edits_check_paths(e);
done:
	for (i = 0; i < t.n; i++) {
		free(t.v[i].path);
		free(t.v[i].renamed_from);
		buf_release(&t.v[i].orig);
		buf_release(&t.v[i].cur);
	}
	free(t.v);
	sbx_jail_release(&j);
	return error;
}
