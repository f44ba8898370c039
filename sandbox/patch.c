/*
 * patch.c - reading a unified diff (git diff output or plain `diff -u`)
 * into its files and hunks (edit_impl.h). Applying them is patch_apply.c.
 */
#include "sandbox/edit.h"
#include "sandbox/edit_impl.h"
#include "core/err.h"
#include "core/xalloc.h"

#include <stdlib.h>
#include <string.h>

void sbx_patch_release(struct sbx_patch *p)
{
	size_t i, j;

	for (i = 0; i < p->n; i++) {
		struct sbx_pfile *f = &p->v[i];
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
static bool parse_hunk_header(struct sbx_hunk *h, const char *s, size_t len)
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

static struct sbx_pfile *new_pfile(struct sbx_patch *p)
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
static int parse_diff_git(struct sbx_pfile *f, const char *s, size_t len, long lineno)
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

static int hunk_add(struct sbx_hunk *h, char kind, const char *s, size_t len)
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

/* The names of a "--- " / "+++ " pair (s, s2) into `f`. Plain `diff -u`
 * names lose their first folder as with patch -p1. */
static int parse_names(struct sbx_pfile *f, const char *s, size_t n, const char *s2, size_t n2,
		       long lineno)
{
	int error;

	free(f->old_path);
	free(f->new_path);
	f->old_path = f->new_path = NULL;
	if ((error = parse_name(&f->old_path, s + 4, n - 4, f->git, lineno - 1)) ||
	    (error = parse_name(&f->new_path, s2 + 4, n2 - 4, f->git, lineno)))
		return error;
	if (!f->old_path && !f->new_path)
		return ln_error_set(LN_EINPUT, "patch line %ld: both sides are /dev/null", lineno);
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
	return 0;
}

/* The hunk whose header is the line (s, n) and its lines, read from `c`. */
static int parse_hunk(struct sbx_pfile *f, struct cursor *c, const char *s, size_t n,
		      size_t *total_lines)
{
	struct sbx_hunk *h;
	long ol, nl;

	if (f->nh == f->caph) {
		f->caph = f->caph ? f->caph * 2 : 4;
		f->h = xrealloc(f->h, f->caph * sizeof *f->h);
	}
	h = &f->h[f->nh++];
	memset(h, 0, sizeof *h);
	h->hdr = s;
	h->hdr_len = n;
	if (!parse_hunk_header(h, s, n))
		return ln_error_set(LN_EINPUT, "patch line %ld: bad hunk header", c->lineno);
	ol = h->ol;
	nl = h->nl;
	while (ol > 0 || nl > 0) {
		const char *l;
		size_t ll;
		if (!next_line(c, &l, &ll))
			return ln_error_set(LN_EINPUT, "patch ends inside a hunk (line %ld)",
					    c->lineno);
		if (ll > SBX_PATCH_MAX_LINE)
			return ln_error_set(LN_EINPUT, "patch line %ld is longer than %zu "
					    "bytes", c->lineno, SBX_PATCH_MAX_LINE);
		if (++*total_lines > 10000000)
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
					    "inside a hunk", c->lineno);
		}
		if (ol < 0 || nl < 0)
			return ln_error_set(LN_EINPUT, "patch line %ld: hunk longer than "
					    "its header says", c->lineno);
	}
	/* a trailing "\ No newline" belongs to the last line */
	{
		struct cursor save = *c;
		const char *l;
		size_t ll;
		if (next_line(c, &l, &ll) && ll && l[0] == '\\' && h->n)
			h->v[h->n - 1].eol = false;
		else
			*c = save;
	}
	return 0;
}

/* One line of a git extended header (modes, renames, copies). */
static int parse_header_line(struct sbx_pfile *f, const char *s, size_t n, long lineno)
{
	if (starts(s, n, "old mode "))
		return parse_mode(&f->old_mode, s + 9, n - 9, lineno);
	if (starts(s, n, "new mode "))
		return parse_mode(&f->new_mode, s + 9, n - 9, lineno);
	if (starts(s, n, "new file mode ")) {
		f->is_new = true;
		return parse_mode(&f->new_file_mode, s + 14, n - 14, lineno);
	}
	if (starts(s, n, "deleted file mode ")) {
		f->is_deleted = true;
		return parse_mode(&f->deleted_mode, s + 18, n - 18, lineno);
	}
	if (starts(s, n, "rename from "))
		return reparse_name(&f->rename_from, s + 12, n - 12, lineno);
	if (starts(s, n, "rename to "))
		return reparse_name(&f->rename_to, s + 10, n - 10, lineno);
	if (starts(s, n, "copy from "))
		return reparse_name(&f->copy_from, s + 10, n - 10, lineno);
	if (starts(s, n, "copy to "))
		return reparse_name(&f->copy_to, s + 8, n - 8, lineno);
	if (starts(s, n, "Binary files ") || starts(s, n, "GIT binary patch"))
		return ln_error_set(LN_EINPUT, "patch line %ld: binary patches are refused", lineno);
	return 0;
}

int sbx_patch_parse(struct sbx_patch *pt, const char *diff, size_t len)
{
	struct cursor c = { diff, diff + len, 0 };
	struct sbx_pfile *f = NULL;
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
			if ((error = parse_names(f, s, n, s2, n2, c.lineno)))
				return error;
			continue;
		}
		if (starts(s, n, "@@ ")) {
			if (!f || in_header)
				return ln_error_set(LN_EINPUT, "patch line %ld: hunk without file "
						    "names (--- / +++)", c.lineno);
			if ((error = parse_hunk(f, &c, s, n, &total_lines)))
				return error;
			continue;
		}
		if (!in_header || !f)
			continue;  /* commentary between files */
		if ((error = parse_header_line(f, s, n, c.lineno)))
			return error;
	}
	if (pt->n == 0)
		return ln_error_set(LN_EINPUT, "no file changes found in the patch");
	return 0;
}
