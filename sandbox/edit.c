/*
 * edit.c - building edit sets from diffs, WorkspaceEdits and whole files;
 * rendering them as a diff (see edit.h, docs/edits.md).
 */
#include "sandbox/edit.h"
#include "core/err.h"
#include "sandbox/jail.h"
#include "core/path.h"
#include "core/xalloc.h"
#include "core/limits.h"
#include "core/gitlib.h"

#include <git2.h>
#include <stdlib.h>
#include <string.h>

void sbx_edits_init(struct sbx_edits *e)
{
	memset(e, 0, sizeof *e);
	e->conflicts = json_array();
}

static void file_release(struct sbx_file *f)
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
		file_release(&e->v[i]);
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

static struct sbx_file *add_file(struct sbx_edits *e)
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

static struct sbx_file *find_file(struct sbx_edits *e, const char *path)
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
		json_t *o = json_pack("{s:s, s:s}", "path", e->v[i].path, "status",
				      sbx_status_name(e->v[i].status));
		if (e->v[i].from)
			json_object_set_new(o, "from", json_string(e->v[i].from));
		json_array_append_new(a, o);
	}
	return a;
}

/* ======================= unified diffs ======================= */

struct hline {
	char kind;            /* ' ', '-', '+' */
	const char *s;        /* content without the '\n' */
	size_t len;
	bool eol;             /* false when "\ No newline at end of file" follows */
};

struct hunk {
	long os, ol, ns, nl;  /* from the header */
	const char *hdr;
	size_t hdr_len;
	struct hline *v;
	size_t n, cap;
};

struct pfile {
	char *old_path, *new_path;   /* NULL for /dev/null */
	char *rename_from, *rename_to, *copy_from, *copy_to;
	unsigned old_mode, new_mode, new_file_mode, deleted_mode;
	bool is_new, is_deleted, git;
	char *dg_a, *dg_b;           /* from the "diff --git" line */
	struct hunk *h;
	size_t nh, caph;
};

struct patch {
	struct pfile *v;
	size_t n, cap;
};

static void patch_release(struct patch *p)
{
	size_t i, j;

	for (i = 0; i < p->n; i++) {
		struct pfile *f = &p->v[i];
		free(f->old_path); free(f->new_path); free(f->rename_from); free(f->rename_to);
		free(f->copy_from); free(f->copy_to); free(f->dg_a); free(f->dg_b);
		for (j = 0; j < f->nh; j++)
			free(f->h[j].v);
		free(f->h);
	}
	free(p->v);
}

/* A line of the patch. */
struct cursor {
	const char *p, *end;
	long lineno;
};

static bool next_line(struct cursor *c, const char **s, size_t *len)
{
	const char *nl;

	if (c->p >= c->end)
		return false;
	nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
	*s = c->p;
	*len = nl ? (size_t)(nl - c->p) : (size_t)(c->end - c->p);
	c->p = nl ? nl + 1 : c->end;
	c->lineno++;
	return true;
}

static bool starts(const char *s, size_t len, const char *pre)
{
	size_t n = strlen(pre);
	return len >= n && !memcmp(s, pre, n);
}

/* Decodes a git path: "quoted\tC-style" or plain up to a tab / the end.
 * Strips one "a/" or "b/" prefix when `strip`. NULL for /dev/null.
 * Returns 0, or LN_EINPUT. */
static int parse_name(char **out, const char *s, size_t len, bool strip, long lineno)
{
	struct buf b = BUF_INIT;
	size_t i;

	*out = NULL;
	if (len && s[0] == '"') {
		for (i = 1; i < len && s[i] != '"'; i++) {
			if (s[i] != '\\') {
				buf_addch(&b, s[i]);
				continue;
			}
			if (++i >= len)
				break;
			switch (s[i]) {
			case 'n': buf_addch(&b, '\n'); break;
			case 't': buf_addch(&b, '\t'); break;
			case 'r': buf_addch(&b, '\r'); break;
			case 'a': buf_addch(&b, '\a'); break;
			case 'b': buf_addch(&b, '\b'); break;
			case 'f': buf_addch(&b, '\f'); break;
			case 'v': buf_addch(&b, '\v'); break;
			case '"': case '\\': buf_addch(&b, s[i]); break;
			default:
				if (i + 2 < len && s[i] >= '0' && s[i] <= '3' && s[i + 1] >= '0' &&
				    s[i + 1] <= '7' && s[i + 2] >= '0' && s[i + 2] <= '7') {
					buf_addch(&b, (s[i] - '0') * 64 + (s[i + 1] - '0') * 8 +
						  (s[i + 2] - '0'));
					i += 2;
				} else {
					buf_release(&b);
					return ln_error_set(LN_EINPUT, "patch line %ld: bad escape in a "
							    "quoted file name", lineno);
				}
			}
		}
		if (i >= len) {
			buf_release(&b);
			return ln_error_set(LN_EINPUT, "patch line %ld: unterminated quoted file name",
					    lineno);
		}
	} else {
		const char *tab = memchr(s, '\t', len);
		size_t n = tab ? (size_t)(tab - s) : len;
		while (n > 0 && s[n - 1] == '\r')
			n--;
		buf_add(&b, s, n);
	}
	if (!strcmp(b.data, "/dev/null")) {
		buf_release(&b);
		return 0;
	}
	if (b.len == 0) {
		buf_release(&b);
		return ln_error_set(LN_EINPUT, "patch line %ld: empty file name", lineno);
	}
	if (memchr(b.data, '\0', b.len)) {
		buf_release(&b);
		return ln_error_set(LN_EPERM, "refused by the workspace jail: patch line %ld: a file "
				    "name contains a NUL byte", lineno);
	}
	if (strip && (starts(b.data, b.len, "a/") || starts(b.data, b.len, "b/")))
		buf_consume(&b, 2);
	*out = buf_detach(&b, NULL);
	return 0;
}

/* A header name that may be given twice: the last one counts. */
static int reparse_name(char **field, const char *s, size_t len, long lineno)
{
	free(*field);
	*field = NULL;
	return parse_name(field, s, len, false, lineno);
}

static int parse_mode(unsigned *out, const char *s, size_t len, long lineno)
{
	unsigned v = 0;
	size_t i;

	while (len && (s[len - 1] == '\r' || s[len - 1] == ' '))
		len--;
	if (len < 6 || len > 7)
		return ln_error_set(LN_EINPUT, "patch line %ld: bad file mode", lineno);
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '7')
			return ln_error_set(LN_EINPUT, "patch line %ld: bad file mode", lineno);
		v = v * 8 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static bool parse_num(const char **p, const char *end, long *out)
{
	long v = 0;
	const char *s = *p;

	if (s >= end || *s < '0' || *s > '9')
		return false;
	while (s < end && *s >= '0' && *s <= '9') {
		v = v * 10 + (*s - '0');
		if (v > 100000000)
			return false;
		s++;
	}
	*p = s;
	*out = v;
	return true;
}

/* "@@ -os[,ol] +ns[,nl] @@..." */
static bool parse_hunk_header(struct hunk *h, const char *s, size_t len)
{
	const char *p = s + 3, *end = s + len;

	h->ol = h->nl = 1;
	if (p >= end || *p++ != '-' || !parse_num(&p, end, &h->os))
		return false;
	if (p < end && *p == ',') {
		p++;
		if (!parse_num(&p, end, &h->ol))
			return false;
	}
	if (p + 1 >= end || *p++ != ' ' || *p++ != '+' || !parse_num(&p, end, &h->ns))
		return false;
	if (p < end && *p == ',') {
		p++;
		if (!parse_num(&p, end, &h->nl))
			return false;
	}
	return p + 2 < end + 0 && !memcmp(p, " @@", 3);
}

static struct pfile *new_pfile(struct patch *p)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 8;
		p->v = xrealloc(p->v, p->cap * sizeof *p->v);
	}
	memset(&p->v[p->n], 0, sizeof p->v[0]);
	return &p->v[p->n++];
}

/* "diff --git a/X b/Y" with unquoted names: split where both halves agree
 * (the usual case, X == Y); a rename's names come from its own lines. */
static int parse_diff_git(struct pfile *f, const char *s, size_t len, long lineno)
{
	const char *p = s + 11;
	size_t n = len - 11;

	while (n && p[n - 1] == '\r')
		n--;
	if (n && p[0] == '"') {
		/* quoted: "a/x" "b/y" (either may be quoted) */
		const char *q = p + 1;
		while (q < p + n && *q != '"') {
			if (*q == '\\')
				q++;
			q++;
		}
		if (q >= p + n)
			return ln_error_set(LN_EINPUT, "patch line %ld: bad diff --git line", lineno);
		int e = parse_name(&f->dg_a, p, (size_t)(q + 1 - p), true, lineno);
		if (e)
			return e;
		q += 2;
		if (q > p + n)
			return ln_error_set(LN_EINPUT, "patch line %ld: bad diff --git line", lineno);
		return parse_name(&f->dg_b, q, (size_t)(p + n - q), true, lineno);
	}
	if (n >= 7 && (n - 1) % 2 == 0) {
		size_t half = (n - 1) / 2;
		if (p[half] == ' ' && starts(p, n, "a/") && p[half + 1] == 'b' &&
		    p[half + 2] == '/' && !memcmp(p + 2, p + half + 3, half - 2)) {
			f->dg_a = xstrndup(p + 2, half - 2);
			f->dg_b = xstrndup(p + 2, half - 2);
			return 0;
		}
	}
	/* a/x "b/quoted" */
	if (n > 4 && p[n - 1] == '"' && starts(p, n, "a/")) {
		const char *q, *sep = NULL;
		for (q = p; q + 4 <= p + n; q++)
			if (!memcmp(q, " \"b/", 4))
				sep = q;
		if (sep) {
			f->dg_a = xstrndup(p + 2, (size_t)(sep - p - 2));
			return parse_name(&f->dg_b, sep + 1, (size_t)(p + n - sep - 1), true, lineno);
		}
	}
	/* --no-prefix: "x x" */
	if (n >= 3 && n % 2 == 1 && p[n / 2] == ' ' && !memcmp(p, p + n / 2 + 1, n / 2)) {
		f->dg_a = xstrndup(p, n / 2);
		f->dg_b = xstrndup(p, n / 2);
		return 0;
	}
	/* different names: "a/x b/y" with a " b/" separator */
	{
		const char *sep = NULL, *q;
		for (q = p; q + 3 <= p + n; q++)
			if (!memcmp(q, " b/", 3)) {
				if (sep)
					return 0;  /* ambiguous: the rename or ---/+++ lines name it */
				sep = q;
			}
		if (!sep || !starts(p, n, "a/"))
			return ln_error_set(LN_EINPUT, "patch line %ld: bad diff --git line", lineno);
		f->dg_a = xstrndup(p + 2, (size_t)(sep - p - 2));
		f->dg_b = xstrndup(sep + 3, (size_t)(p + n - sep - 3));
	}
	return 0;
}

static int hunk_add(struct hunk *h, char kind, const char *s, size_t len)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 16;
		h->v = xrealloc(h->v, h->cap * sizeof *h->v);
	}
	h->v[h->n].kind = kind;
	h->v[h->n].s = s;
	h->v[h->n].len = len;
	h->v[h->n].eol = true;
	h->n++;
	return 0;
}

/* Drops the first folder of a name (patch -p1). */
static void strip_first(char *p)
{
	char *slash = p ? strchr(p, '/') : NULL;

	/* an absolute name stays absolute, for the jail to refuse */
	if (slash && slash != p && slash[1])
		memmove(p, slash + 1, strlen(slash + 1) + 1);
}

static int parse_patch(struct patch *pt, const char *diff, size_t len)
{
	struct cursor c = { diff, diff + len, 0 };
	struct pfile *f = NULL;
	const char *s;
	size_t n, total_lines = 0;
	bool in_header = false;
	int error = 0;

	if (len > SBX_PATCH_MAX_BYTES)
		return ln_error_set(LN_EINPUT, "the patch is larger than %zu bytes",
				    SBX_PATCH_MAX_BYTES);
	if (memchr(diff, '\0', len))
		return ln_error_set(LN_EINPUT, "the patch contains a NUL byte (binary patches are "
				    "refused)");
	while (next_line(&c, &s, &n)) {
		if (n > SBX_PATCH_MAX_LINE)
			return ln_error_set(LN_EINPUT, "patch line %ld is longer than %zu bytes",
					    c.lineno, SBX_PATCH_MAX_LINE);
		if (starts(s, n, "diff --git ")) {
			if (pt->n >= SBX_MAX_FILES)
				return ln_error_set(LN_EINPUT, "the patch touches more than %d files",
						    SBX_MAX_FILES);
			f = new_pfile(pt);
			f->git = true;
			in_header = true;
			if ((error = parse_diff_git(f, s, n, c.lineno)))
				return error;
			continue;
		}
		if (starts(s, n, "--- ")) {
			const char *s2;
			size_t n2;
			struct cursor save = c;
			if (!next_line(&c, &s2, &n2) || !starts(s2, n2, "+++ ")) {
				c = save;
				continue;  /* commentary */
			}
			if (!f || !in_header || f->nh) {
				if (pt->n >= SBX_MAX_FILES)
					return ln_error_set(LN_EINPUT, "the patch touches more than %d "
							    "files", SBX_MAX_FILES);
				f = new_pfile(pt);
			}
			in_header = false;
			free(f->old_path);
			free(f->new_path);
			f->old_path = f->new_path = NULL;
			if ((error = parse_name(&f->old_path, s + 4, n - 4, f->git, c.lineno - 1)) ||
			    (error = parse_name(&f->new_path, s2 + 4, n2 - 4, f->git, c.lineno)))
				return error;
			if (!f->old_path && !f->new_path)
				return ln_error_set(LN_EINPUT, "patch line %ld: both sides are /dev/null",
						    c.lineno);
			if (!f->git) {
				/* `diff -u old/x new/x`: like patch -p1, the first
				 * folder goes, and different names are not a rename */
				const char *so = f->old_path ? strchr(f->old_path, '/') : NULL;
				const char *sn = f->new_path ? strchr(f->new_path, '/') : NULL;
				if (so && sn && ((size_t)(so - f->old_path) != (size_t)(sn - f->new_path) ||
				    memcmp(f->old_path, f->new_path, (size_t)(so - f->old_path)))) {
					strip_first(f->old_path);   /* old/x new/x, a/x b/x */
					strip_first(f->new_path);
				} else if (!f->old_path || !f->new_path) {
					char *only = f->old_path ? f->old_path : f->new_path;
					if (!strncmp(only, "a/", 2) || !strncmp(only, "b/", 2))
						strip_first(only);
				}
				if (f->old_path && f->new_path && strcmp(f->old_path, f->new_path)) {
					free(f->old_path);
					f->old_path = xstrdup(f->new_path);
				}
			}
			if (!f->old_path)
				f->is_new = true;
			if (!f->new_path)
				f->is_deleted = true;
			continue;
		}
		if (starts(s, n, "@@ ")) {
			struct hunk *h;
			long ol, nl;
			if (!f || in_header)
				return ln_error_set(LN_EINPUT, "patch line %ld: hunk without file "
						    "names (--- / +++)", c.lineno);
			if (f->nh == f->caph) {
				f->caph = f->caph ? f->caph * 2 : 4;
				f->h = xrealloc(f->h, f->caph * sizeof *f->h);
			}
			h = &f->h[f->nh++];
			memset(h, 0, sizeof *h);
			h->hdr = s;
			h->hdr_len = n;
			if (!parse_hunk_header(h, s, n))
				return ln_error_set(LN_EINPUT, "patch line %ld: bad hunk header",
						    c.lineno);
			ol = h->ol;
			nl = h->nl;
			while (ol > 0 || nl > 0) {
				const char *l;
				size_t ll;
				if (!next_line(&c, &l, &ll))
					return ln_error_set(LN_EINPUT, "patch ends inside a hunk (line %ld)",
							    c.lineno);
				if (ll > SBX_PATCH_MAX_LINE)
					return ln_error_set(LN_EINPUT, "patch line %ld is longer than %zu "
							    "bytes", c.lineno, SBX_PATCH_MAX_LINE);
				if (++total_lines > 10000000)
					return ln_error_set(LN_EINPUT, "the patch has too many lines");
				if (ll == 0 || l[0] == ' ') {
					hunk_add(h, ' ', ll ? l + 1 : l, ll ? ll - 1 : 0);
					ol--; nl--;
				} else if (l[0] == '-') {
					hunk_add(h, '-', l + 1, ll - 1);
					ol--;
				} else if (l[0] == '+') {
					hunk_add(h, '+', l + 1, ll - 1);
					nl--;
				} else if (l[0] == '\\' && h->n) {
					h->v[h->n - 1].eol = false;
					continue;
				} else {
					return ln_error_set(LN_EINPUT, "patch line %ld: unexpected line "
							    "inside a hunk", c.lineno);
				}
				if (ol < 0 || nl < 0)
					return ln_error_set(LN_EINPUT, "patch line %ld: hunk longer than "
							    "its header says", c.lineno);
			}
			/* a trailing "\ No newline" belongs to the last line */
			{
				struct cursor save = c;
				const char *l;
				size_t ll;
				if (next_line(&c, &l, &ll) && ll && l[0] == '\\' && h->n)
					h->v[h->n - 1].eol = false;
				else
					c = save;
			}
			continue;
		}
		if (!in_header || !f)
			continue;  /* commentary between files */
		if (starts(s, n, "old mode "))
			error = parse_mode(&f->old_mode, s + 9, n - 9, c.lineno);
		else if (starts(s, n, "new mode "))
			error = parse_mode(&f->new_mode, s + 9, n - 9, c.lineno);
		else if (starts(s, n, "new file mode ")) {
			error = parse_mode(&f->new_file_mode, s + 14, n - 14, c.lineno);
			f->is_new = true;
		} else if (starts(s, n, "deleted file mode ")) {
			error = parse_mode(&f->deleted_mode, s + 18, n - 18, c.lineno);
			f->is_deleted = true;
		} else if (starts(s, n, "rename from "))
			error = reparse_name(&f->rename_from, s + 12, n - 12, c.lineno);
		else if (starts(s, n, "rename to "))
			error = reparse_name(&f->rename_to, s + 10, n - 10, c.lineno);
		else if (starts(s, n, "copy from "))
			error = reparse_name(&f->copy_from, s + 10, n - 10, c.lineno);
		else if (starts(s, n, "copy to "))
			error = reparse_name(&f->copy_to, s + 8, n - 8, c.lineno);
		else if (starts(s, n, "Binary files ") || starts(s, n, "GIT binary patch"))
			return ln_error_set(LN_EINPUT, "patch line %ld: binary patches are refused",
					    c.lineno);
		if (error)
			return error;
	}
	if (pt->n == 0)
		return ln_error_set(LN_EINPUT, "no file changes found in the patch");
	return 0;
}

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
static bool hunk_matches(const struct hunk *h, const struct lines *L, size_t at, bool loose)
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

static size_t hunk_old_count(const struct hunk *h)
{
	size_t i, n = 0;
	for (i = 0; i < h->n; i++)
		n += h->v[i].kind != '+';
	return n;
}

static void add_conflict(struct sbx_edits *e, const char *path, size_t hi, const struct hunk *h,
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
	json_array_append_new(e->conflicts, json_pack("{s:s, s:I, s:s%, s:I, s:I, s:I, s:I, "
		"s:s, s:o, s:o}", "path", path, "hunk", (json_int_t)hi + 1,
		"header", h ? h->hdr : "", h ? h->hdr_len : 0,
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
static int apply_hunks(struct sbx_edits *e, const char *path, const struct pfile *f,
		       const struct buf *old, struct buf *out)
{
	struct lines L;
	size_t hi, cursor = 0, i;
	long delta = 0;
	bool crlf, failed = false;

	split_lines(&L, old->data, old->len);
	crlf = is_crlf(&L);
	for (hi = 0; hi < f->nh; hi++) {
		const struct hunk *h = &f->h[hi];
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
			const struct hline *hl = &h->v[i];
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

static int build_from_patch(struct sbx_edits *e, const struct sbx_jail *j, struct pfile *pf)
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
	if ((src && find_file(e, src) && !pf->copy_from) || (dst && find_file(e, dst)))
		return ln_error_set(LN_EINPUT, "the patch changes %s twice", dst ? dst : src);
	if (e->n >= SBX_MAX_FILES)
		return ln_error_set(LN_EINPUT, "the patch touches more than %d files", SBX_MAX_FILES);
	f = add_file(e);
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

int sbx_edits_from_diff(struct sbx_edits *e, const char *root, const char *diff, size_t len)
{
	struct patch pt = { 0 };
	struct sbx_jail j;
	size_t i;
	int error, worst = 0;

	error = sbx_jail_init(&j, root);
	if (error)
		goto done;
	error = parse_patch(&pt, diff, len);
	if (error)
		goto done;
	/* every path through the jail before any file is read */
	for (i = 0; i < pt.n && !error; i++) {
		struct pfile *pf = &pt.v[i];
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
	patch_release(&pt);
	sbx_jail_release(&j);
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
	if (!error && find_file(e, rel))
		error = ln_error_set(LN_EINPUT, "%s is replaced twice", rel);
	if (error)
		goto done;
	f = add_file(e);
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
	error = ln_text_init(&t, f->cur.data, f->cur.len);
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
		buf_adds(&out, v[i].text);
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
			json_t *fake = json_pack("{s:{s:s}, s:O}", "textDocument", "uri", uri,
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
		if (find_file(e, v->path)) {
			error = ln_error_set(LN_EINPUT, "%s is changed twice", v->path);
			goto done;
		}
		f = add_file(e);
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
			file_release(&e->v[i]);
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
