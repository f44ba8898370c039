/*
 * patch_apply.c - applying the hunks of a parsed diff (patch.c) in memory
 * to the files under the workspace root, building the edit set (edit.h).
 */
#include "sandbox/edit.h"
#include "sandbox/edit_impl.h"
#include "core/err.h"
#include "sandbox/jail.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <stdlib.h>
#include <string.h>

/* ---- applying hunks in memory ---- */

struct lines {
	const char **s;    /* start of each line */
	size_t *len;       /* without the '\n' */
	bool *eol;
	size_t n;
};

static void split_lines(struct lines *L, const char *data, size_t len)
{
	size_t cap = 16, i = 0;

	memset(L, 0, sizeof *L);
	L->s = xmalloc(cap * sizeof *L->s);
	L->len = xmalloc(cap * sizeof *L->len);
	L->eol = xmalloc(cap * sizeof *L->eol);
	while (i < len) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t l = nl ? (size_t)(nl - data - i) : len - i;
		if (L->n == cap) {
			cap *= 2;
			L->s = xrealloc(L->s, cap * sizeof *L->s);
			L->len = xrealloc(L->len, cap * sizeof *L->len);
			L->eol = xrealloc(L->eol, cap * sizeof *L->eol);
		}
		L->s[L->n] = data + i;
		L->len[L->n] = l;
		L->eol[L->n] = nl != NULL;
		L->n++;
		i += l + (nl ? 1 : 0);
	}
}

static void lines_release(struct lines *L)
{
	free(L->s);
	free(L->len);
	free(L->eol);
}

static bool line_eq(const char *a, size_t al, const char *b, size_t bl, bool loose)
{
	if (loose) {
		if (al && a[al - 1] == '\r')
			al--;
		if (bl && b[bl - 1] == '\r')
			bl--;
	}
	return al == bl && !memcmp(a, b, al);
}

/* Does hunk h's old side match L at line `at`? */
static bool hunk_matches(const struct sbx_hunk *h, const struct lines *L, size_t at, bool loose)
{
	size_t i, k = at;

	for (i = 0; i < h->n; i++) {
		if (h->v[i].kind == '+')
			continue;
		if (k >= L->n || !line_eq(h->v[i].s, h->v[i].len, L->s[k], L->len[k], loose))
			return false;
		/* the end of the file must agree about its last newline */
		if (!loose && !h->v[i].eol && L->eol[k])
			return false;
		k++;
	}
	return true;
}

static size_t hunk_old_count(const struct sbx_hunk *h)
{
	size_t i, n = 0;
	for (i = 0; i < h->n; i++)
		n += h->v[i].kind != '+';
	return n;
}

static void add_conflict(struct sbx_edits *e, const char *path, size_t hi, const struct sbx_hunk *h,
			 const struct lines *L, const char *reason)
{
	json_t *exp = json_array(), *act = json_array();
	size_t i, k, at;

	if (h) {
		at = h->os > 0 ? (size_t)h->os - 1 : 0;
		for (i = 0; i < h->n; i++)
			if (h->v[i].kind != '+')
				json_array_append_new(exp, json_stringn_nocheck(h->v[i].s, h->v[i].len));
		for (k = at; L && k < L->n && k < at + hunk_old_count(h); k++)
			json_array_append_new(act, json_stringn_nocheck(L->s[k], L->len[k]));
	}
	json_array_append_new(e->conflicts, xjson_pack("{s:o, s:I, s:o, s:I, s:I, s:I, s:I, "
		"s:s, s:o, s:o}", "path", xjson_string_lossy(path), "hunk", (json_int_t)hi + 1,
		"header", xjson_stringn_lossy(h ? h->hdr : "", h ? h->hdr_len : 0),
		"oldStart", (json_int_t)(h ? h->os : 0), "oldLines", (json_int_t)(h ? h->ol : 0),
		"newStart", (json_int_t)(h ? h->ns : 0), "newLines", (json_int_t)(h ? h->nl : 0),
		"reason", reason, "expected", exp, "actual", act));
}

/* Whether most lines of the old text end in "\r\n". */
static bool is_crlf(const struct lines *L)
{
	size_t i, crlf = 0, lf = 0;

	for (i = 0; i < L->n; i++) {
		if (!L->eol[i])
			continue;
		if (L->len[i] && L->s[i][L->len[i] - 1] == '\r')
			crlf++;
		else
			lf++;
	}
	return crlf > lf;
}

/* Applies f's hunks to `old` into `out`. Returns 0, or LN_ECONFLICT after
 * recording every failing hunk. */
static int apply_hunks(struct sbx_edits *e, const char *path, const struct sbx_pfile *f,
		       const struct buf *old, struct buf *out)
{
	struct lines L;
	size_t hi, cursor = 0, i;
	long delta = 0;
	bool crlf, failed = false;

	split_lines(&L, old->data, old->len);
	crlf = is_crlf(&L);
	for (hi = 0; hi < f->nh; hi++) {
		const struct sbx_hunk *h = &f->h[hi];
		size_t cnt = hunk_old_count(h), at = 0, k;
		long want = (h->ol == 0 ? h->os : h->os - 1) + delta;
		bool found = false;
		int pass;
		if (want < (long)cursor)
			want = (long)cursor;
		for (pass = 0; pass < 2 && !found; pass++) {
			size_t d;
			for (d = 0; !found; d++) {
				bool any = false;
				long cand[2] = { want - (long)d, want + (long)d };
				int ci;
				for (ci = 0; ci < (d ? 2 : 1) && !found; ci++) {
					long a = cand[ci];
					if (a < (long)cursor || (size_t)a + cnt > L.n)
						continue;
					any = true;
					if (hunk_matches(h, &L, (size_t)a, pass == 1)) {
						found = true;
						at = (size_t)a;
					}
				}
				if (!any && (want - (long)d < (long)cursor) &&
				    ((size_t)(want + (long)d) + cnt > L.n))
					break;
			}
		}
		if (!found) {
			add_conflict(e, path, hi, h, &L, "the context or removed lines do not match");
			failed = true;
			continue;
		}
		for (k = cursor; k < at; k++) {
			buf_add(out, L.s[k], L.len[k]);
			if (L.eol[k])
				buf_addch(out, '\n');
		}
		k = at;
		for (i = 0; i < h->n; i++) {
			const struct sbx_hline *hl = &h->v[i];
			if (hl->kind == ' ') {
				buf_add(out, L.s[k], L.len[k]);
				if (L.eol[k])
					buf_addch(out, '\n');
				k++;
			} else if (hl->kind == '-') {
				k++;
			} else {
				buf_add(out, hl->s, hl->len);
				if (hl->eol) {
					if (crlf && !(hl->len && hl->s[hl->len - 1] == '\r'))
						buf_addch(out, '\r');
					buf_addch(out, '\n');
				}
			}
		}
		delta += (long)at - (h->ol == 0 ? h->os : h->os - 1);
		cursor = k;
	}
	for (i = cursor; i < L.n; i++) {
		buf_add(out, L.s[i], L.len[i]);
		if (L.eol[i])
			buf_addch(out, '\n');
	}
	lines_release(&L);
	if (out->len > LN_FILE_MAX_BYTES)
		return ln_error_set(LN_EINPUT, "%s would be larger than %zu bytes", path,
				    LN_FILE_MAX_BYTES);
	return failed ? LN_ECONFLICT : 0;
}

static unsigned mode_bits(unsigned git_mode, unsigned base)
{
	/* 100755 sets the execute bits where read bits are; 100644 clears them */
	if ((git_mode & 0777) == 0755)
		return (base ? base : 0644) | (((base ? base : 0644) & 0444) >> 2);
	return (base ? base : 0644) & ~0111u;
}

static int check_git_mode(unsigned m, const char *path)
{
	if (m && (m & 0170000) != 0100000)
		return ln_error_set(LN_EPERM, "refused by the workspace jail: %s: only regular "
				    "files are written (mode %o: symlink or submodule)", path, m);
	return 0;
}

static int build_from_patch(struct sbx_edits *e, const struct sbx_jail *j, struct sbx_pfile *pf)
{
	const char *src, *dst;
	struct sbx_file *f;
	bool exists, conflict = false;
	unsigned mode;
	int error;

	/* names: the ---/+++ lines, else rename/copy lines, else diff --git */
	src = pf->rename_from ? pf->rename_from : pf->copy_from ? pf->copy_from
	    : pf->old_path ? pf->old_path : (pf->is_new ? NULL : pf->dg_a);
	dst = pf->rename_to ? pf->rename_to : pf->copy_to ? pf->copy_to
	    : pf->new_path ? pf->new_path : (pf->is_deleted ? NULL : pf->dg_b);
	if (pf->is_new)
		src = pf->copy_from;
	if (pf->is_deleted)
		dst = NULL;
	if (!src && !dst)
		return ln_error_set(LN_EINPUT, "a file in the patch has no name");
	if ((error = check_git_mode(pf->old_mode, src ? src : dst)) ||
	    (error = check_git_mode(pf->new_mode, dst ? dst : src)) ||
	    (error = check_git_mode(pf->new_file_mode, dst ? dst : src)) ||
	    (error = check_git_mode(pf->deleted_mode, src ? src : dst)))
		return error;
	if ((src && (error = sbx_jail_check(j, src))) || (dst && (error = sbx_jail_check(j, dst))))
		return error;
	if ((src && sbx_edits_find_file(e, src) && !pf->copy_from) || (dst && sbx_edits_find_file(e, dst)))
		return ln_error_set(LN_EINPUT, "the patch changes %s twice", dst ? dst : src);
	if (e->n >= SBX_MAX_FILES)
		return ln_error_set(LN_EINPUT, "the patch touches more than %d files", SBX_MAX_FILES);
	f = sbx_edits_add_file(e);
	f->path = xstrdup(dst ? dst : src);
	if (src) {
		error = sbx_read_file(j->root, src, LN_FILE_MAX_BYTES, &exists, &f->old, &mode);
		if (error)
			return error;
		if (!exists) {
			add_conflict(e, src, 0, NULL, NULL, "the file does not exist");
			return LN_ECONFLICT;
		}
		f->old_exists = !pf->copy_from;
		f->old_mode = mode;
	}
	if (pf->copy_from) {
		/* a copy leaves its source alone: the old side of the set is the
		 * (absent) destination */
		f->from = xstrdup(src);
		f->status = SBX_ADDED;
	} else if (src && dst && strcmp(src, dst)) {
		f->from = xstrdup(src);
		f->status = SBX_RENAMED;
	} else {
		f->status = !src ? SBX_ADDED : !dst ? SBX_DELETED : SBX_MODIFIED;
	}
	if (dst && (f->status == SBX_ADDED || f->status == SBX_RENAMED)) {
		struct buf tmp = BUF_INIT;
		unsigned m2;
		error = sbx_read_file(j->root, dst, LN_FILE_MAX_BYTES, &exists, &tmp, &m2);
		buf_release(&tmp);
		if (error)
			return error;
		if (exists) {
			add_conflict(e, dst, 0, NULL, NULL, "the file already exists");
			conflict = true;
		}
	}
	if (!dst) {
		struct buf out = BUF_INIT;
		f->new_exists = false;
		error = apply_hunks(e, f->path, pf, &f->old, &out);
		if (!error && out.len) {
			add_conflict(e, f->path, 0, NULL, NULL,
				     "the deleted file has content the patch does not remove");
			error = LN_ECONFLICT;
		}
		buf_release(&out);
		return error ? error : conflict ? LN_ECONFLICT : 0;
	}
	f->new_exists = true;
	error = apply_hunks(e, f->path, pf, &f->old, &f->new);
	if (pf->copy_from)
		buf_reset(&f->old);
	if (!src)
		f->new_mode = mode_bits(pf->new_file_mode ? pf->new_file_mode : 0100644, 0);
	else if (pf->new_mode)
		f->new_mode = mode_bits(pf->new_mode, f->old_mode & 0777) | (f->old_mode & 07000);
	else
		f->new_mode = f->old_mode;
	if (error)
		return error;
	return conflict ? LN_ECONFLICT : 0;
}


int sbx_edits_from_diff(struct sbx_edits *e, const char *root, const char *diff, size_t len)
{
	struct sbx_patch pt = { 0 };
	struct sbx_jail j;
	size_t i;
	int error, worst = 0;

	error = sbx_jail_init(&j, root);
	if (error)
		goto done;
	error = sbx_patch_parse(&pt, diff, len);
	if (error)
		goto done;
	/* every path through the jail before any file is read */
	for (i = 0; i < pt.n && !error; i++) {
		struct sbx_pfile *pf = &pt.v[i];
		const char *names[] = { pf->old_path, pf->new_path, pf->rename_from, pf->rename_to,
					pf->copy_from, pf->copy_to, pf->dg_a, pf->dg_b };
		size_t k;
		for (k = 0; k < sizeof names / sizeof names[0] && !error; k++)
			if (names[k])
				error = sbx_jail_check(&j, names[k]);
	}
	for (i = 0; i < pt.n && !error; i++) {
		int r = build_from_patch(e, &j, &pt.v[i]);
		if (r == LN_ECONFLICT)
			worst = r;
		else if (r)
			error = r;
	}
	/* paths that cannot hold at once, before any conflict report */
	if (!error)
		error = sbx_edits_check_paths(e);
	if (!error && worst)
		error = ln_error_set(LN_ECONFLICT, "%zu hunk%s of the patch do%s not apply",
				     json_array_size(e->conflicts),
				     json_array_size(e->conflicts) == 1 ? "" : "s",
				     json_array_size(e->conflicts) == 1 ? "es" : "");
done:
	sbx_patch_release(&pt);
	sbx_jail_release(&j);
	return error;
}
