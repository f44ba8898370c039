/*
 * extract.c - completions into diffs (engine/extract.h; docs/eval.md,
 * "Completions").
 *
 * The text is walked line by line without an index (a 32 MiB completion of
 * newlines must not cost a line table). Search/replace and whole-file
 * blocks are applied to the base's texts in memory and come out as one
 * full-file hunk per file: the engine's applier and jail then judge that
 * diff exactly as they judge a diff a model wrote.
 */
#include "engine/extract.h"

#include "core/err.h"
#include "core/gitlib.h"
#include "core/xalloc.h"
#include "sandbox/edit.h"

#include <git2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *eng_extract_format_name(enum eng_extract_format f)
{
	switch (f) {
	case ENG_EXTRACT_DIFF: return "diff";
	case ENG_EXTRACT_SEARCH_REPLACE: return "search-replace";
	case ENG_EXTRACT_FILES: return "files";
	default: return "none";
	}
}

/* ---- lines ---- */

struct line {
	const char *s;     /* the line */
	size_t n;          /* without '\n' and a trailing '\r' */
	size_t raw;        /* with the '\n' when there is one */
	long no;           /* 1-based */
};

struct cursor {
	const char *t;
	size_t len, pos;
	long no;
};

static bool next_line(struct cursor *c, struct line *l)
{
	const char *s, *e;
	size_t k;

	if (c->pos >= c->len)
		return false;
	s = c->t + c->pos;
	e = memchr(s, '\n', c->len - c->pos);
	k = e ? (size_t)(e - s) : c->len - c->pos;
	l->s = s;
	l->raw = k + (e ? 1 : 0);
	l->n = k && s[k - 1] == '\r' ? k - 1 : k;
	l->no = ++c->no;
	c->pos += l->raw;
	return true;
}

static bool is_blank(const struct line *l)
{
	size_t i;
	for (i = 0; i < l->n; i++)
		if (l->s[i] != ' ' && l->s[i] != '\t')
			return false;
	return true;
}

/* A fence line: up to 3 spaces, then ```; *info is what follows, trimmed. */
static bool is_fence(const struct line *l, const char **info, size_t *ilen)
{
	size_t i = 0, e;

	while (i < 3 && i < l->n && l->s[i] == ' ')
		i++;
	if (l->n - i < 3 || memcmp(l->s + i, "```", 3))
		return false;
	i += 3;
	while (i < l->n && l->s[i] == '`')
		i++;
	while (i < l->n && (l->s[i] == ' ' || l->s[i] == '\t'))
		i++;
	e = l->n;
	while (e > i && (l->s[e - 1] == ' ' || l->s[e - 1] == '\t'))
		e--;
	*info = l->s + i;
	*ilen = e - i;
	return true;
}

static bool is_closing_fence(const struct line *l)
{
	const char *info;
	size_t n;
	return is_fence(l, &info, &n) && n == 0;
}

/* A marker line: `ch` repeated 5 to 9 times, then optionally " word". */
static bool is_marker(const struct line *l, char ch, const char *word)
{
	size_t i = 0, w = word ? strlen(word) : 0;

	while (i < l->n && l->s[i] == ch)
		i++;
	if (i < 5 || i > 9)
		return false;
	if (!word)
		return i == l->n;
	return l->n - i == w + 1 && l->s[i] == ' ' && !memcmp(l->s + i + 1, word, w);
}

/* ---- file names ---- */

int eng_extract_path_ok(const char *p, size_t n)
{
	size_t i, start = 0;

	if (n == 0 || n > 4096 || p[0] == '/')
		return 0;
	for (i = 0; i <= n; i++) {
		unsigned char ch = i < n ? (unsigned char)p[i] : '/';
		if (i < n && (ch < 0x21 || ch == 0x7f || ch == '\\'))
			return 0;
		if (ch != '/')
			continue;
		if (i == start || (i - start == 1 && p[start] == '.') ||
		    (i - start == 2 && !memcmp(p + start, "..", 2)) ||
		    (i - start == 4 && !strncasecmp(p + start, ".git", 4)))
			return 0;
		start = i + 1;
	}
	return 1;
}

/* Does this word look like a file name (not a language tag)? */
static bool looks_like_path(const char *s, size_t n)
{
	return n > 0 && n <= 4096 && (memchr(s, '/', n) || memchr(s, '.', n)) &&
	       !memchr(s, ' ', n) && !memchr(s, '\t', n);
}

/* The file named by a line before a block: `p`, **p**, path: p, File: p,
 * p: ... Returns false when the line is not just a name. */
static bool name_line(const struct line *l, const char **out, size_t *on)
{
	static const char *const prefixes[] = { "path:", "file:", "filename:", "# file:",
						"// file:", NULL };
	const char *s = l->s;
	size_t n = l->n, i;

	while (n && (*s == ' ' || *s == '\t' || *s == '#'))
		s++, n--;
	for (i = 0; prefixes[i]; i++) {
		size_t k = strlen(prefixes[i]);
		if (n >= k && !strncasecmp(s, prefixes[i], k)) {
			s += k;
			n -= k;
			break;
		}
	}
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == ':'))
		n--;
	while (n >= 2 && ((s[0] == '*' && s[n - 1] == '*') || (s[0] == '`' && s[n - 1] == '`') ||
			  (s[0] == '"' && s[n - 1] == '"')))
		s++, n -= 2;
	if (!looks_like_path(s, n))
		return false;
	*out = s;
	*on = n;
	return true;
}

/* The file named in a fence's info string: ```c path, or ```path. */
static bool info_path(const char *info, size_t n, const char **out, size_t *on)
{
	const char *sp = memchr(info, ' ', n);
	const char *w = info;
	size_t wn = sp ? (size_t)(sp - info) : n;

	if (sp) {
		w = sp + 1;
		wn = n - (size_t)(w - info);
		while (wn && *w == ' ')
			w++, wn--;
		if (wn > 5 && !strncmp(w, "path=", 5))
			w += 5, wn -= 5;
	}
	if (!looks_like_path(w, wn))
		return false;
	*out = w;
	*on = wn;
	return true;
}

/* ---- the files a completion changes ---- */

struct xfile {
	char *path;
	struct buf base, now;
	bool existed;
};

struct xstate {
	struct xfile v[ENG_EXTRACT_MAX_FILES];
	size_t n, blocks;
	eng_base_read_fn read;
	void *ctx;
	struct eng_extract *out;
};

static void note(struct eng_extract *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct eng_extract *x, const char *fmt, ...)
{
	va_list ap;

	if (x->note[0])
		return;
	va_start(ap, fmt);
	vsnprintf(x->note, sizeof x->note, fmt, ap);
	va_end(ap);
}

/* A name for a message: printable ASCII, at most 60 bytes. */
static const char *shown(char *b, size_t size, const char *s, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n && k + 4 < size && i < 60; i++)
		b[k++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (i < n && k + 4 < size) {
		memcpy(b + k, "...", 3);
		k += 3;
	}
	b[k] = '\0';
	return b;
}

static struct xfile *xfile_get(struct xstate *st, const char *p, size_t n)
{
	struct xfile *f;
	char sh[80];
	size_t i;
	int error;

	if (!eng_extract_path_ok(p, n)) {
		note(st->out, "file name '%s' is not a path inside the workspace",
		     shown(sh, sizeof sh, p, n));
		return NULL;
	}
	for (i = 0; i < st->n; i++)
		if (strlen(st->v[i].path) == n && !memcmp(st->v[i].path, p, n))
			return &st->v[i];
	if (st->n >= ENG_EXTRACT_MAX_FILES) {
		note(st->out, "more than %d files", ENG_EXTRACT_MAX_FILES);
		return NULL;
	}
	if (!st->read) {
		note(st->out, "no base revision to apply the blocks of '%s' to",
		     shown(sh, sizeof sh, p, n));
		return NULL;
	}
	f = &st->v[st->n];
	memset(f, 0, sizeof *f);
	f->path = xstrndup(p, n);
	buf_init(&f->base);
	buf_init(&f->now);
	error = st->read(st->ctx, f->path, &f->base);
	if (error && error != LN_ENOTFOUND) {
		note(st->out, "%s: %s", shown(sh, sizeof sh, p, n), ln_error_msg());
		buf_release(&f->base);
		buf_release(&f->now);
		free(f->path);
		return NULL;
	}
	f->existed = !error;
	buf_add(&f->now, f->base.data, f->base.len);
	st->n++;
	return f;
}

static void xstate_release(struct xstate *st)
{
	size_t i;
	for (i = 0; i < st->n; i++) {
		free(st->v[i].path);
		buf_release(&st->v[i].base);
		buf_release(&st->v[i].now);
	}
}

static size_t count_lines(const struct buf *b)
{
	size_t i, n = 0;
	for (i = 0; i < b->len; i++)
		n += b->data[i] == '\n';
	return n + (b->len && b->data[b->len - 1] != '\n');
}

static void emit_lines(struct buf *d, char sign, const struct buf *b)
{
	size_t i = 0;

	while (i < b->len) {
		const char *e = memchr(b->data + i, '\n', b->len - i);
		size_t k = e ? (size_t)(e - (b->data + i)) + 1 : b->len - i;
		buf_addch(d, sign);
		buf_add(d, b->data + i, k);
		if (!e)
			buf_adds(d, "\n\\ No newline at end of file\n");
		i += k;
	}
}

static void range(char *out, size_t size, size_t n)
{
	if (n == 0)
		snprintf(out, size, "0,0");
	else
		snprintf(out, size, "1,%zu", n);
}

/* One full-file hunk per changed file. */
static void emit_diff(struct xstate *st)
{
	struct eng_extract *x = st->out;
	struct buf d = BUF_INIT;
	size_t i;

	for (i = 0; i < st->n; i++) {
		const struct xfile *f = &st->v[i];
		char a[40], b[40];
		if (f->existed && f->now.len == f->base.len &&
		    !memcmp(f->now.data, f->base.data, f->now.len))
			continue;
		if (!f->existed && f->now.len == 0)
			continue;
		range(a, sizeof a, count_lines(&f->base));
		range(b, sizeof b, count_lines(&f->now));
		buf_addf(&d, "diff --git a/%s b/%s\n", f->path, f->path);
		if (f->existed)
			buf_addf(&d, "--- a/%s\n", f->path);
		else
			buf_addf(&d, "new file mode 100644\n--- /dev/null\n");
		buf_addf(&d, "+++ b/%s\n@@ -%s +%s @@\n", f->path, a, b);
		emit_lines(&d, '-', &f->base);
		emit_lines(&d, '+', &f->now);
		if (d.len > SBX_PATCH_MAX_BYTES)
			break;
	}
	if (d.len > SBX_PATCH_MAX_BYTES)
		note(x, "the resulting diff is larger than %zu bytes", SBX_PATCH_MAX_BYTES);
	else if (d.len == 0)
		note(x, "the blocks change nothing");
	else
		x->patch = buf_detach(&d, &x->len);
	buf_release(&d);
}

/* ---- 1. ```diff fences ---- */

static bool diff_fences(struct eng_extract *x, const char *t, size_t len)
{
	struct cursor c = { t, len, 0, 0 };
	struct buf d = BUF_INIT;
	struct line l;
	bool found = false;

	while (next_line(&c, &l)) {
		const char *info;
		size_t n;
		bool is_diff;
		long open;
		if (!is_fence(&l, &info, &n))
			continue;
		is_diff = (n >= 4 && !strncmp(info, "diff", 4) && (n == 4 || info[4] == ' ')) ||
			  (n >= 5 && !strncmp(info, "patch", 5) && (n == 5 || info[5] == ' '));
		open = l.no;
		while (next_line(&c, &l) && !is_closing_fence(&l))
			if (is_diff)
				buf_add(&d, l.s, l.raw);
		if (!is_diff)
			continue;
		found = true;
		if (c.pos >= len && !is_closing_fence(&l)) {
			note(x, "unterminated ```diff fence (line %ld)", open);
			break;
		}
		/* a last line without its newline before the fence */
		if (d.len && d.data[d.len - 1] != '\n')
			buf_addch(&d, '\n');
	}
	if (found && !x->note[0]) {
		if (d.len == 0)
			note(x, "the ```diff fence is empty");
		else
			x->patch = buf_detach(&d, &x->len);
	}
	buf_release(&d);
	return found;
}

/* ---- 2. search/replace blocks ---- */

static bool has_search_marker(const char *t, size_t len)
{
	struct cursor c = { t, len, 0, 0 };
	struct line l;

	while (next_line(&c, &l))
		if (is_marker(&l, '<', "SEARCH"))
			return true;
	return false;
}

/* Applies one block to its file: the first occurrence of `search` becomes
 * `repl`; an empty SEARCH creates a file that does not exist. */
static bool sr_apply(struct xstate *st, struct xfile *f, const struct buf *search,
		     const struct buf *repl, long lineno)
{
	char *hit;
	struct buf nb = BUF_INIT;

	if (search->len == 0) {
		if (f->existed || f->now.len) {
			note(st->out, "search/replace block at line %ld: empty SEARCH for the "
			     "existing file '%s'", lineno, f->path);
			return false;
		}
		buf_add(&f->now, repl->data, repl->len);
		return true;
	}
	hit = f->now.len ? memmem(f->now.data, f->now.len, search->data, search->len) : NULL;
	if (!hit) {
		note(st->out, "search/replace block at line %ld: the SEARCH text is not in '%s'%s",
		     lineno, f->path, f->existed ? "" : " (no such file at the base)");
		return false;
	}
	buf_add(&nb, f->now.data, (size_t)(hit - f->now.data));
	buf_add(&nb, repl->data, repl->len);
	buf_add(&nb, hit + search->len, f->now.len - (size_t)(hit - f->now.data) - search->len);
	if (nb.len > ENG_EXTRACT_MAX_FILE_BYTES) {
		note(st->out, "'%s' would grow past %zu bytes", f->path, ENG_EXTRACT_MAX_FILE_BYTES);
		buf_release(&nb);
		return false;
	}
	buf_release(&f->now);
	f->now = nb;
	return true;
}

static void search_replace(struct xstate *st, const char *t, size_t len)
{
	struct cursor c = { t, len, 0, 0 };
	struct buf search = BUF_INIT, repl = BUF_INIT;
	const char *name = NULL;
	size_t name_n = 0;
	struct line l;

	while (next_line(&c, &l)) {
		const char *info, *p;
		size_t n, pn;
		long open = l.no;
		int part = 0;
		struct xfile *f;
		if (is_fence(&l, &info, &n)) {
			if (info_path(info, n, &p, &pn))
				name = p, name_n = pn;
			continue;
		}
		if (!is_marker(&l, '<', "SEARCH")) {
			if (name_line(&l, &p, &pn))
				name = p, name_n = pn;
			continue;
		}
		if (++st->blocks > ENG_EXTRACT_MAX_BLOCKS) {
			note(st->out, "more than %d search/replace blocks", ENG_EXTRACT_MAX_BLOCKS);
			break;
		}
		buf_reset(&search);
		buf_reset(&repl);
		while (part < 2 && next_line(&c, &l)) {
			if (part == 0 && is_marker(&l, '=', NULL))
				part = 1;
			else if (part == 1 && is_marker(&l, '>', "REPLACE"))
				part = 2;
			else
				buf_add(part ? &repl : &search, l.s, l.raw);
		}
		if (part < 2) {
			note(st->out, "unterminated search/replace block (line %ld): no %s line", open,
			     part ? ">>>>>>> REPLACE" : "=======");
			break;
		}
		if (!name) {
			note(st->out, "search/replace block at line %ld names no file", open);
			break;
		}
		if (!(f = xfile_get(st, name, name_n)) || !sr_apply(st, f, &search, &repl, open))
			break;
	}
	buf_release(&search);
	buf_release(&repl);
}

/* ---- 3. whole-file blocks ---- */

/* Returns whether any fence names a file. */
static bool named_fences(struct xstate *st, const char *t, size_t len)
{
	struct cursor c = { t, len, 0, 0 };
	struct line l, prev = { NULL, 0, 0, 0 };
	bool found = false;

	while (next_line(&c, &l)) {
		const char *info, *p = NULL;
		size_t n, pn = 0;
		long open = l.no;
		struct xfile *f = NULL;
		bool named, closed = false;
		if (!is_fence(&l, &info, &n)) {
			if (!is_blank(&l))
				prev = l;
			continue;
		}
		named = info_path(info, n, &p, &pn) || (prev.s && name_line(&prev, &p, &pn));
		prev.s = NULL;
		if (named) {
			found = true;
			if (++st->blocks > ENG_EXTRACT_MAX_BLOCKS) {
				note(st->out, "more than %d file blocks", ENG_EXTRACT_MAX_BLOCKS);
				return true;
			}
			if (!(f = xfile_get(st, p, pn)))
				return true;
			buf_reset(&f->now);
		}
		while (next_line(&c, &l)) {
			if (is_closing_fence(&l)) {
				closed = true;
				break;
			}
			if (f)
				buf_add(&f->now, l.s, l.raw);
		}
		if (f && !closed) {
			note(st->out, "unterminated code block for '%s' (line %ld)", f->path, open);
			return true;
		}
		if (f && f->now.len > ENG_EXTRACT_MAX_FILE_BYTES) {
			note(st->out, "the block for '%s' is larger than %zu bytes", f->path,
			     ENG_EXTRACT_MAX_FILE_BYTES);
			return true;
		}
		if (f && f->now.len && f->now.data[f->now.len - 1] != '\n')
			buf_addch(&f->now, '\n');
	}
	return found;
}

/* ---- 4. a bare diff ---- */

static bool bare_diff(struct eng_extract *x, const char *t, size_t len)
{
	struct cursor c = { t, len, 0, 0 };
	struct line l;
	size_t prev_off = 0;
	bool prev_minus = false;

	while (next_line(&c, &l)) {
		size_t off = (size_t)(l.s - t);
		if ((l.n >= 11 && !memcmp(l.s, "diff --git ", 11)) ||
		    (prev_minus && l.n >= 4 && !memcmp(l.s, "+++ ", 4))) {
			size_t from = l.s[0] == 'd' ? off : prev_off;
			x->patch = xstrndup(t + from, len - from);
			x->len = len - from;
			return true;
		}
		prev_minus = l.n >= 4 && !memcmp(l.s, "--- ", 4);
		prev_off = off;
	}
	return false;
}

void eng_extract_patch(struct eng_extract *out, const char *text, size_t len,
		       eng_base_read_fn read, void *read_ctx)
{
	const char *nul;

	memset(out, 0, sizeof *out);
	if (len > SBX_PATCH_MAX_BYTES) {
		note(out, "the completion is larger than %zu bytes", SBX_PATCH_MAX_BYTES);
		return;
	}
	if ((nul = memchr(text, '\0', len))) {
		note(out, "the completion holds a NUL byte (offset %zu)", (size_t)(nul - text));
		return;
	}
	if (diff_fences(out, text, len)) {
		out->format = ENG_EXTRACT_DIFF;
	} else if (has_search_marker(text, len)) {
		struct xstate *st = xcalloc(1, sizeof *st);
		st->read = read;
		st->ctx = read_ctx;
		st->out = out;
		out->format = ENG_EXTRACT_SEARCH_REPLACE;
		search_replace(st, text, len);
		if (!out->note[0])
			emit_diff(st);
		xstate_release(st);
		free(st);
	} else {
		struct xstate *st = xcalloc(1, sizeof *st);
		st->read = read;
		st->ctx = read_ctx;
		st->out = out;
		if (named_fences(st, text, len)) {
			out->format = ENG_EXTRACT_FILES;
			if (!out->note[0])
				emit_diff(st);
		} else if (bare_diff(out, text, len)) {
			out->format = ENG_EXTRACT_DIFF;
		} else {
			note(out, "no unified diff, search/replace block or file block found");
		}
		xstate_release(st);
		free(st);
	}
	if (out->note[0]) {
		free(out->patch);
		out->patch = NULL;
		out->len = 0;
		out->format = ENG_EXTRACT_NONE;
	}
}

void eng_extract_release(struct eng_extract *x)
{
	free(x->patch);
	memset(x, 0, sizeof *x);
}

/* ---- the base's files ---- */

struct eng_base_reader {
	git_repository *repo;
	git_tree *tree;
};

int eng_base_reader_open(struct eng_base_reader **out, const char *root, const char *rev)
{
	struct eng_base_reader *r = xcalloc(1, sizeof *r);
	git_object *obj = NULL;
	git_commit *commit = NULL;
	int error = 0;

	*out = NULL;
	ln_git_init();
	/* through ln_git_open: the repository's configuration filtered and
	 * what the open reads checked first (core/gitlib.h) */
	ln_error_clear();
	if (ln_git_open(&r->repo, root, GIT_REPOSITORY_OPEN_NO_SEARCH) < 0) {
		error = ln_error_code() == LN_EPERM ? LN_EPERM
			: ln_error_set(LN_EINPUT, "no git repository at %s: %s", root,
				       git_error_last() ? git_error_last()->message : "?");
	} else if (git_revparse_single(&obj, r->repo, rev) < 0 ||
		   git_object_peel((git_object **)&commit, obj, GIT_OBJECT_COMMIT) < 0 ||
		   git_commit_tree(&r->tree, commit) < 0) {
		error = ln_error_set(LN_ENOTFOUND, "base revision '%s' does not exist", rev);
	}
	git_commit_free(commit);
	git_object_free(obj);
	if (error)
		eng_base_reader_free(r);
	else
		*out = r;
	return error;
}

void eng_base_reader_free(struct eng_base_reader *r)
{
	if (!r)
		return;
	git_tree_free(r->tree);
	git_repository_free(r->repo);
	free(r);
}

int eng_base_reader_read(void *ctx, const char *path, struct buf *out)
{
	struct eng_base_reader *r = ctx;
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;
	int error = 0;

	if (git_tree_entry_bypath(&e, r->tree, path) != 0)
		return ln_error_set(LN_ENOTFOUND, "%s: not in the base revision", path);
	if (git_tree_entry_type(e) != GIT_OBJECT_BLOB ||
	    git_tree_entry_filemode(e) == GIT_FILEMODE_LINK ||
	    git_blob_lookup(&blob, r->repo, git_tree_entry_id(e)) < 0)
		error = ln_error_set(LN_EINPUT, "%s is not a file at the base", path);
	else if ((size_t)git_blob_rawsize(blob) > ENG_EXTRACT_MAX_FILE_BYTES)
		error = ln_error_set(LN_EINPUT, "%s is larger than %zu bytes", path,
				     ENG_EXTRACT_MAX_FILE_BYTES);
	else
		buf_add(out, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
	git_blob_free(blob);
	git_tree_entry_free(e);
	return error;
}
