/*
 * gitvet.c - a repository's files checked before libgit2 opens it
 * (core/gitvet.h).
 *
 * The parser follows libgit2 1.5.1's src/libgit2/config_parse.c line by
 * line (same whitespace set, same comment and quote rules, continuation
 * lines, the rest of a header line read as a variable), so the includes
 * found here are the ones libgit2 would follow; where it would refuse the
 * text, so does this (and lanser refuses the repository).
 */
#include "core/gitvet.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/gitdb.h"
#include "core/xalloc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the configuration syntax (libgit2 1.5.1, config_parse.c) ---- */

static bool g_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == '\v';
}

static int g_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static bool g_keychar(int c)
{
	return isalnum(c) || c == '-';
}

struct pctx {
	const char *line;
	size_t line_len, remain, line_num;
};

static size_t line_length(const char *p, size_t remain)
{
	const char *nl = memchr(p, '\n', remain);

	return nl ? (size_t)(nl - p) + 1 : remain;
}

static void advance_line(struct pctx *c)
{
	c->line += c->line_len;
	c->remain -= c->line_len;
	c->line_len = line_length(c->line, c->remain);
	c->line_num++;
}

static void advance_chars(struct pctx *c, size_t n)
{
	c->line += n;
	c->remain -= n;
	c->line_len -= n;
}

static void advance_ws(struct pctx *c)
{
	while (c->line_len > 0 && c->line[0] != '\n' && g_space(c->line[0]))
		advance_chars(c, 1);
}

/* The first character of the line (after whitespace if skip_ws); -1 if none. */
static int peek(const struct pctx *c, bool skip_ws)
{
	size_t i;

	for (i = 0; i < c->line_len; i++)
		if (!skip_ws || !g_space(c->line[i]))
			return (unsigned char)c->line[i];
	return -1;
}

static int strip_comments(char *line, int in_quotes)
{
	int quote_count = in_quotes, backslash_count = 0;
	char *p;

	for (p = line; *p; ++p) {
		if (p[0] == '"' && (p == line || p[-1] != '\\'))
			quote_count++;
		if ((p[0] == ';' || p[0] == '#') && quote_count % 2 == 0 &&
		    backslash_count % 2 == 0) {
			p[0] = '\0';
			break;
		}
		backslash_count = p[0] == '\\' ? backslash_count + 1 : 0;
	}
	while (p > line && g_space(p[-1]))
		p--;
	p[0] = '\0';
	return quote_count;
}

/* Quotes dropped, \n \t \b \" \\ unescaped; a final backslash continues
 * the value on the next line. NULL for another escape. */
static char *unescape_line(const char *p, bool *multi)
{
	static const char escapes[] = "ntb\"\\", escaped[] = "\n\t\b\"\\";
	char *out = xmalloc(strlen(p) + 1), *o = out;
	const char *e;

	*multi = false;
	for (; *p; p++) {
		if (*p == '"')
			continue;
		if (*p != '\\') {
			*o++ = *p;
			continue;
		}
		if (!*++p) {
			*multi = true;
			break;
		}
		if (!(e = strchr(escapes, *p))) {
			free(out);
			return NULL;
		}
		*o++ = escaped[e - escapes];
	}
	*o = '\0';
	return out;
}

/* `[base "sub"]`: pos is just past the space after base. */
static int parse_subsection(const char *line, size_t pos, const char *base, char **out)
{
	const char *first, *last, *l;
	struct buf b = BUF_INIT;
	size_t rpos = 0;
	int c;

	while (g_space(line[pos]))
		pos++;
	if (line[pos] != '"')
		return -1;
	first = &line[pos];
	last = strrchr(line, '"');
	if (last == first)
		return -1;
	buf_addf(&b, "%s.", base);
	l = first;
	c = l[++rpos];
	do {
		if (c == 0)
			goto fail;
		if (c == '"')
			break;
		if (c == '\\' && (c = l[++rpos]) == 0)
			goto fail;
		buf_addch(&b, c);
		c = l[++rpos];
	} while (l + rpos < last);
	if (l[rpos] != '"' || l[rpos + 1] != ']')
		goto fail;
	*out = buf_detach(&b, NULL);
	return (int)(&l[rpos + 2] - line);
fail:
	buf_release(&b);
	return -1;
}

/* The header at the start of c->line: the characters it used, or -1. */
static int parse_header(const struct pctx *ctx, char **out)
{
	char *line = xstrndup(ctx->line, ctx->line_len), *name = NULL;
	size_t n = 0, pos = 1;
	int c, r = -1;

	*out = NULL;
	if (!strrchr(line, ']'))
		goto done;
	name = xmalloc(strlen(line) + 1);
	c = (unsigned char)line[pos++];
	do {
		if (g_space(c)) {
			name[n] = '\0';
			r = parse_subsection(line, pos, name, out);
			goto done;
		}
		if (!g_keychar(c) && c != '.')
			goto done;
		name[n++] = (char)g_lower(c);
	} while ((c = (unsigned char)line[pos++]) != ']');
	name[n] = '\0';
	*out = name;
	name = NULL;
	r = (int)pos;
done:
	free(name);
	free(line);
	return r;
}

/* A variable at c->line (and its continuation lines): 0 or -1. */
static int parse_variable(struct pctx *ctx, char **name_out, char **value_out)
{
	char *line, *value = NULL, *name_end, *vs;
	bool multi;
	int quotes;

	*name_out = *value_out = NULL;
	advance_ws(ctx);
	line = xstrndup(ctx->line, ctx->line_len);
	quotes = strip_comments(line, 0);
	for (name_end = line; *name_end && g_keychar((unsigned char)*name_end); name_end++)
		;
	if (name_end == line)
		goto fail;
	for (vs = name_end; *vs && g_space(*vs); vs++)
		;
	if (*vs && *vs != '=')
		goto fail;
	if (*vs == '=') {
		for (vs++; g_space(*vs); vs++)
			;
		if (!(value = unescape_line(vs, &multi)))
			goto fail;
		for (int in_quotes = quotes % 2; multi;) {
			struct buf v = BUF_INIT;
			char *next, *part;
			buf_adds(&v, value);
			free(value);
			value = NULL;   /* `fail` frees it: not twice */
			advance_line(ctx);
			next = xstrndup(ctx->line, ctx->line_len);
			if (!next[0]) {
				free(next);
				value = buf_detach(&v, NULL);
				break;
			}
			quotes = strip_comments(next, in_quotes);
			if (next[0]) {
				if (!(part = unescape_line(next, &multi))) {
					free(next);
					buf_release(&v);
					goto fail;
				}
				buf_adds(&v, part);
				free(part);
			}
			free(next);
			value = buf_detach(&v, NULL);
			in_quotes = quotes;
		}
	}
	*name_end = '\0';
	*name_out = line;
	*value_out = value;
	return 0;
fail:
	free(value);
	free(line);
	return -1;
}

int ln_gitcfg_parse(const char *text, size_t len, ln_gitcfg_cb cb, void *payload,
		    size_t *err_line)
{
	struct pctx ctx = { text, 0, len, 1 };
	char *section = NULL, *name, *value;
	int c, r = 0;

	ctx.line_len = line_length(text, len);
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		advance_chars(&ctx, 3);
	for (; ctx.remain > 0 && !r; advance_line(&ctx)) {
restart:
		c = peek(&ctx, true);
		if (c < 0)
			c = peek(&ctx, false);
		if (c < 0 || c == '\n' || c == '\r' || c == ' ' || c == '\t' || c == ';' || c == '#')
			continue;
		if (c == '[') {
			free(section);
			advance_ws(&ctx);
			if ((r = parse_header(&ctx, &section)) < 0)
				break;
			advance_chars(&ctx, (size_t)r);
			r = 0;
			if (peek(&ctx, true) >= 0)
				goto restart;
			continue;
		}
		if ((r = parse_variable(&ctx, &name, &value)) < 0)
			break;
		{
			struct buf full = BUF_INIT;
			const char *p;
			if (section)
				buf_addf(&full, "%s.", section);
			for (p = name; *p; p++)
				buf_addch(&full, g_lower((unsigned char)*p));
			r = cb(full.data, value, ctx.line_num, payload);
			buf_release(&full);
		}
		free(name);
		free(value);
	}
	if (r == -1 && err_line)
		*err_line = ctx.line_num;
	free(section);
	return r;
}

/* ---- the repository's files ---- */

struct vet {
	char *roots[3];       /* canonical: git dir, common dir, work tree (or NULL) */
	char *gitdir, *commondir, *workdir;
	bool worktree;
	char *core_worktree;  /* its last value, and the file that set it */
	char *core_worktree_file;
	int files;
};

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir);

	return xasprintf("%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
}

/* libgit2's git_fs_path_dirname_r for absolute paths. */
static char *dir_of(const char *path)
{
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		n--;
	while (n > 0 && path[n - 1] != '/')
		n--;
	while (n > 1 && path[n - 1] == '/')
		n--;
	return n ? xstrndup(path, n) : xstrdup(".");
}

static bool inside(const char *path, const char *root)
{
	size_t n = strlen(root);

	if (n == 1 && root[0] == '/')
		return true;
	return !strncmp(path, root, n) && (path[n] == '/' || path[n] == '\0');
}

static bool in_repository(const struct vet *v, const char *real)
{
	size_t i;

	for (i = 0; i < 3; i++)
		if (v->roots[i] && inside(real, v->roots[i]))
			return true;
	return false;
}

static int refuse(const char *what, const char *why)
{
	return ln_error_set(LN_EPERM, "untrusted repository: %s %s; libgit2 would read it when "
			    "lanser opens the repository (docs/security.md, \"Git configuration of "
			    "the repository\"). Fix the repository, or pass --trust if you trust it",
			    what, why);
}

/* A small file libgit2 reads whole (.git, commondir, gitdir): a regular
 * file, never a symlink; its text in *out (malloc'd, NUL-terminated). */
static int read_link_file(const char *path, const char *what, char **out)
{
	struct stat st;
	struct buf b = BUF_INIT;
	int error;

	*out = NULL;
	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISREG(st.st_mode))
		return refuse(what, S_ISLNK(st.st_mode) ? "is a symlink" : "is not a regular file");
	if (st.st_size > LN_GITVET_MAX_LINK)
		return refuse(what, "is larger than 4096 bytes");
	error = buf_read_file(&b, path, LN_GITVET_MAX_LINK);
	if (error) {
		buf_release(&b);
		ln_error_clear();
		return 0;   /* vanished or unreadable: libgit2 fails on it too */
	}
	while (b.len && g_space(b.data[b.len - 1]))
		b.data[--b.len] = '\0';
	*out = buf_detach(&b, NULL);
	return 0;
}

/* libgit2's is_valid_repository_path: *valid and the common directory
 * (canonical) of the candidate git directory `dir`. */
static int valid_gitdir(const char *dir, bool *valid, char **common)
{
	struct stat st;
	char *p, *text = NULL, *c;
	int error = 0;

	*valid = false;
	*common = NULL;
	p = join(dir, "commondir");
	if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
		error = read_link_file(p, p, &text);
		if (error || !text)
			goto done;
		c = text[0] == '/' ? xstrdup(text) : join(dir, text);
		*common = realpath(c, NULL);
		free(c);
		if (!*common)
			goto done;   /* libgit2 fails here: nothing else is read */
	} else {
		*common = realpath(dir, NULL);
		if (!*common)
			goto done;
	}
	free(p);
	p = join(dir, "HEAD");
	if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
		goto done;
	free(p);
	p = join(*common, "objects");
	if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
		goto done;
	free(p);
	p = join(*common, "refs");
	if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
		goto done;
	*valid = true;
done:
	free(p);
	free(text);
	if (!*valid) {
		free(*common);
		*common = NULL;
	}
	return error;
}

/* libgit2's find_repo (flags 0 or NO_SEARCH, no ceiling folders). */
static int find_repository(struct vet *v, const char *start, bool search)
{
	char *path = realpath(start, NULL), *t, *common = NULL;
	bool in_dot_git = false, valid, found = false;
	int min_iterations = 2, error = 0;
	dev_t dev = 0;
	struct stat st;

	if (!path)
		return 0;
	for (;;) {
		if (!in_dot_git) {
			t = join(path, ".git");
			free(path);
			path = t;
		}
		in_dot_git = !in_dot_git;
		if (stat(path, &st) == 0) {
			if (dev == 0)
				dev = st.st_dev;
			else if (st.st_dev != dev)
				break;
			if (S_ISDIR(st.st_mode)) {
				if ((error = valid_gitdir(path, &valid, &common)) < 0)
					break;
				if (valid) {
					v->gitdir = realpath(path, NULL);
					found = v->gitdir != NULL;
					break;
				}
			} else if (S_ISREG(st.st_mode) && strlen(path) >= 5 &&
				   !strcmp(path + strlen(path) - 5, "/.git")) {
				char *text = NULL, *link, *d;
				if ((error = read_link_file(path, path, &text)) < 0 || !text)
					break;
				if (strncmp(text, "gitdir:", 7) || !text[7]) {
					free(text);
					break;   /* malformed: libgit2 refuses it */
				}
				for (link = text + 7; *link && g_space(*link); link++)
					;
				d = dir_of(path);
				t = link[0] == '/' ? xstrdup(link) : join(d, link);
				free(d);
				free(text);
				v->gitdir = realpath(t, NULL);
				free(t);
				if (v->gitdir && (error = valid_gitdir(v->gitdir, &valid, &common)) == 0)
					found = valid;
				break;
			}
		}
		t = dir_of(path);
		free(path);
		path = t;
		if (min_iterations && --min_iterations == 0 && !search)
			break;
		if (min_iterations == 0 && !strcmp(path, "/"))
			break;
	}
	if (found) {
		size_t n = strlen(path);
		v->commondir = common;
		common = NULL;
		/* the work tree is the folder holding a `.git`; a git
		 * directory opened by another name has none of its own */
		if (n >= 5 && !strcmp(path + n - 5, "/.git")) {
			t = dir_of(path);
			v->workdir = realpath(t, NULL);
			free(t);
		}
	}
	free(common);
	free(path);
	return error;
}

struct cfg_walk {
	struct vet *v;
	const char *file;   /* as libgit2 names it: includes resolve from its folder */
	int depth;
};

static int vet_config(struct vet *v, const char *file, const char *key, int depth);

/* One variable of a configuration file: includes are checked (and
 * followed) where libgit2 would follow them, in the same order. */
static int on_variable(const char *name, const char *value, size_t line, void *payload)
{
	struct cfg_walk *w = payload;
	char *key, *dir, *target;
	int error;

	if (!strcmp(name, "core.worktree")) {
		free(w->v->core_worktree);
		free(w->v->core_worktree_file);
		w->v->core_worktree = value ? xstrdup(value) : NULL;
		w->v->core_worktree_file = xstrdup(w->file);
		return 0;
	}
	if (!value)
		return 0;
	if (strcmp(name, "include.path") &&
	    (strncmp(name, "includeif.", 10) || strlen(name) < 15 ||
	     strcmp(name + strlen(name) - 5, ".path")))
		return 0;
	key = xasprintf("%s:%zu: %s%s", w->file, line,
			strncmp(name, "includeif.", 10) ? name : "includeIf.",
			strncmp(name, "includeif.", 10) ? "" : name + 10);
	if (value[0] == '~' && value[1] == '/') {
		char *what = xasprintf("%s = %s", key, value);
		error = refuse(what, "names a file in your home folder, outside the repository");
		free(what);
		free(key);
		return error;
	}
	dir = dir_of(w->file);
	target = value[0] == '/' ? xstrdup(value) : join(dir, value);
	free(dir);
	error = vet_config(w->v, target, key, w->depth + 1);
	free(target);
	free(key);
	return error;
}

/* A configuration file libgit2 reads (file as it names it); `key` is the
 * include that named it (NULL for the repository's own). */
static int vet_config(struct vet *v, const char *file, const char *key, int depth)
{
	struct cfg_walk w = { v, file, depth };
	struct stat st, fst;
	struct buf b = BUF_INIT;
	char *real = NULL, *what;
	size_t err_line = 0;
	int fd = -1, error = 0;

	what = key ? xasprintf("%s names %s, which", key, file) : xstrdup(file);
	if (stat(file, &st) < 0) {
		/* libgit2 skips a missing file; a missing include outside the
		 * repository could be created before libgit2 looks */
		if (key && errno == ENOENT) {
			char *d = dir_of(file), *rd = realpath(d, NULL);
			if (!rd || !in_repository(v, rd))
				error = refuse(what, "lies outside the repository");
			free(rd);
			free(d);
		}
		goto done;
	}
	if (S_ISDIR(st.st_mode))
		goto done;   /* libgit2 skips a folder */
	if (!S_ISREG(st.st_mode)) {
		error = refuse(what, "is not a regular file (a FIFO, a device or a socket)");
		goto done;
	}
	real = realpath(file, NULL);
	if (!real || !in_repository(v, real)) {
		error = refuse(what, "lies outside the repository (symlinks followed)");
		goto done;
	}
	if (depth >= LN_GITVET_MAX_DEPTH || ++v->files > LN_GITVET_MAX_FILES) {
		error = refuse(what, "is included too deeply or too often");
		goto done;
	}
	if (st.st_size > LN_GITVET_MAX_CONFIG) {
		error = refuse(what, "is larger than 1 MiB");
		goto done;
	}
	fd = open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &fst) < 0 || !S_ISREG(fst.st_mode) || fst.st_dev != st.st_dev ||
	    fst.st_ino != st.st_ino) {
		error = fd < 0 ? 0 : refuse(what, "changed while lanser read it");
		goto done;   /* unreadable: libgit2 fails on it too */
	}
	for (;;) {
		ssize_t n;
		buf_grow(&b, 65536);
		n = read(fd, b.data + b.len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		b.len += (size_t)n;
		b.data[b.len] = '\0';
		if (b.len > LN_GITVET_MAX_CONFIG) {
			error = refuse(what, "is larger than 1 MiB");
			goto done;
		}
	}
	if (b.len && memchr(b.data, '\0', b.len)) {
		error = refuse(what, "holds a NUL byte");
		goto done;
	}
	error = b.len ? ln_gitcfg_parse(b.data, b.len, on_variable, &w, &err_line) : 0;
	if (error == -1) {
		char *at = xasprintf("%s (line %zu)", what, err_line);
		error = refuse(at, "cannot be parsed as git configuration");
		free(at);
	}
done:
	if (fd >= 0)
		close(fd);
	buf_release(&b);
	free(real);
	free(what);
	return error;
}

/* The linked worktrees' records (<commondir>/worktrees/NAME): libgit2's
 * worktree calls (lanser's candidate worktrees) read their commondir,
 * gitdir and locked files whatever they are. */
static int vet_worktrees(const struct vet *v)
{
	static const char *const files[] = { "commondir", "gitdir", "locked", "HEAD" };
	char *dir = join(v->commondir, "worktrees");
	DIR *d = opendir(dir);
	struct dirent *e;
	int error = 0, n = 0;
	size_t i;

	while (d && !error && (e = readdir(d)) && n++ < 4096) {
		if (e->d_name[0] == '.')
			continue;
		for (i = 0; i < sizeof files / sizeof files[0] && !error; i++) {
			char *p = xasprintf("%s/%s/%s", dir, e->d_name, files[i]);
			struct stat st;
			if (lstat(p, &st) == 0 && !S_ISREG(st.st_mode))
				error = refuse(p, S_ISLNK(st.st_mode) ? "is a symlink"
								 : "is not a regular file");
			free(p);
		}
	}
	if (d)
		closedir(d);
	free(dir);
	return error;
}

static void vet_release(struct vet *v)
{
	free(v->gitdir);
	free(v->commondir);
	free(v->workdir);
	free(v->core_worktree);
	free(v->core_worktree_file);
}

int ln_git_vet(const char *path, bool search)
{
	struct vet v;
	struct stat st;
	char *p = NULL;
	int error;

	memset(&v, 0, sizeof v);
	if ((error = find_repository(&v, path, search)) < 0 || !v.commondir)
		goto done;
	v.roots[0] = v.gitdir;
	v.roots[1] = v.commondir;
	v.roots[2] = v.workdir;
	/* libgit2 reads the git directory's `gitdir` whatever it is */
	p = join(v.gitdir, "gitdir");
	if (lstat(p, &st) == 0) {
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
			error = refuse(p, S_ISLNK(st.st_mode) ? "is a symlink"
							       : "is not a regular file (a FIFO, a "
								 "device or a socket)");
			goto done;
		}
		v.worktree = strcmp(v.gitdir, v.commondir) != 0;
	}
	free(p);
	p = join(v.commondir, "config");
	if ((error = vet_config(&v, p, NULL, 0)) < 0)
		goto done;
	if ((error = vet_worktrees(&v)) < 0)
		goto done;
	/* what libgit2 reads once the repository is open (core/gitdb.h) */
	if ((error = ln_gitdb_vet(v.gitdir)) < 0 ||
	    (strcmp(v.gitdir, v.commondir) && (error = ln_gitdb_vet(v.commondir)) < 0))
		goto done;
	/* core.worktree: libgit2 takes it as the work tree (not for a linked
	 * worktree); lanser would then list, ignore and edit another folder */
	if (v.core_worktree && !v.worktree) {
		char *t = v.core_worktree[0] == '/' ? xstrdup(v.core_worktree)
						    : join(v.gitdir, v.core_worktree);
		char *real = realpath(t, NULL);
		if (real && (!v.workdir || strcmp(real, v.workdir))) {
			char *what = xasprintf("%s: core.worktree = %s", v.core_worktree_file,
					       v.core_worktree);
			error = refuse(what, v.workdir ? "moves the work tree away from the folder "
							 "holding .git"
						       : "names a work tree");
			free(what);
		}
		free(real);
		free(t);
	}
done:
	free(p);
	vet_release(&v);
	return error;
}
