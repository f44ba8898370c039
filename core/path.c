#include "core/path.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/text.h"
#include "core/xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* "dir/name" (dir "/" gives "/name"). */
static char *join(const char *dir, const char *name)
{
	struct buf b = BUF_INIT;
	size_t n = strlen(dir);

	buf_add(&b, dir, n);
	if (!n || dir[n - 1] != '/')
		buf_addch(&b, '/');
	buf_adds(&b, name);
	return buf_detach(&b, NULL);
}

/* realpath() with its failures mapped to LN_E* codes; `what` names the
 * path in messages. */
static int canonicalize(char **out, const char *path, const char *what)
{
	char *r = realpath(path, NULL);

	if (r) {
		*out = r;
		return 0;
	}
	switch (errno) {
	case ENOENT:
	case ENOTDIR:
		return ln_error_set(LN_ENOTFOUND, "no such file or directory: %s", what);
	case EACCES:
		return ln_error_set(LN_EPERM, "permission denied: %s", what);
	case ENAMETOOLONG:
		return ln_error_set(LN_EINPUT, "path is too long: %.200s", what);
	case ELOOP:
		return ln_error_set(LN_EINPUT, "too many levels of symbolic links: %s", what);
	default:
		return ln_error_set(LN_EGENERIC, "%s: %s", what, strerror(errno));
	}
}

/* The canonical form of cwd, or of the process's directory when NULL. */
static int canonical_cwd(char **out, const char *cwd)
{
	return canonicalize(out, cwd ? cwd : ".", cwd ? cwd : "current directory");
}

/* Truncates canonical absolute `dir` to its parent; returns 0 at "/". */
static int to_parent(char *dir)
{
	char *slash;

	if (!strcmp(dir, "/"))
		return 0;
	slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	return 1;
}

int ln_workspace_find_root(char **out, const char *explicit_root, const char *cwd)
{
	char *cwdc = NULL, *dir = NULL, *probe = NULL, *git_top = NULL, *joined = NULL;
	char *result = NULL;
	struct stat st;
	int error = -1;

	if ((error = canonical_cwd(&cwdc, cwd)) < 0)
		goto done;

	if (explicit_root) {
		joined = explicit_root[0] == '/' ? xstrdup(explicit_root) : join(cwdc, explicit_root);
		if ((error = canonicalize(&result, joined, explicit_root)) < 0) {
			if (error == LN_ENOTFOUND)
				ln_error_set(error, "workspace root does not exist: %s", explicit_root);
			goto done;
		}
		if (stat(result, &st) < 0 || !S_ISDIR(st.st_mode)) {
			error = ln_error_set(LN_EUSAGE, "workspace root is not a directory: %s",
					     explicit_root);
			goto done;
		}
		error = 0;
		goto done;
	}

	/* One walk up: the first .lanser.json wins outright; the first .git is
	 * remembered in case no .lanser.json exists further up. */
	dir = xstrdup(cwdc);
	do {
		free(probe);
		probe = join(dir, ".lanser.json");
		if (stat(probe, &st) == 0 && !S_ISDIR(st.st_mode)) {
			result = xstrdup(dir);
			break;
		}
		free(probe);
		probe = join(dir, ".git");
		if (!git_top && lstat(probe, &st) == 0)
			git_top = xstrdup(dir);
	} while (to_parent(dir));

	if (!result) {
		result = git_top ? git_top : cwdc;
		if (git_top)
			git_top = NULL;
		else
			cwdc = NULL;
	}
	error = 0;
done:
	if (error)
		free(result);
	else
		*out = result;
	free(cwdc);
	free(dir);
	free(probe);
	free(git_top);
	free(joined);
	return error;
}

/*
 * Lexical normal form of absolute path p: "." and empty components dropped,
 * ".." pops one component (never above "/"). Always starts with '/', never
 * ends with one except for "/".
 */
static char *normalize(const char *p)
{
	struct buf b = BUF_INIT;

	while (*p) {
		const char *c;
		size_t n;

		while (*p == '/')
			p++;
		c = p;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - c);
		if (n == 0 || (n == 1 && c[0] == '.'))
			continue;
		if (n == 2 && c[0] == '.' && c[1] == '.') {
			char *slash = memrchr(b.data, '/', b.len);
			b.len = slash ? (size_t)(slash - b.data) : 0;
			if (b.cap)
				b.data[b.len] = '\0';
			continue;
		}
		buf_addch(&b, '/');
		buf_add(&b, c, n);
	}
	if (!b.len)
		buf_addch(&b, '/');
	return buf_detach(&b, NULL);
}

/* For normal-form paths: the relative form of `path` under `root`, or NULL
 * when it is outside. */
static char *rel_under(const char *root, const char *path)
{
	size_t n = strlen(root);

	if (!strcmp(root, "/"))
		return xstrdup(path[1] ? path + 1 : ".");
	if (strncmp(path, root, n) != 0)
		return NULL;
	if (path[n] == '\0')
		return xstrdup(".");
	if (path[n] != '/')
		return NULL;
	return xstrdup(path + n + 1);
}

int ln_path_resolve_in_root(char **out_rel, char **out_abs, const char *root, const char *cwd,
			    const char *user_path)
{
	char *rootc = NULL, *cwdc = NULL, *joined = NULL, *abs = NULL, *rel = NULL;
	struct stat st;
	size_t n;
	int error = -1;

	if (!user_path || !*user_path) {
		error = ln_error_set(LN_EINPUT, "empty path");
		goto done;
	}
	n = strlen(user_path);
	if (n > LN_PATH_MAX) {
		error = ln_error_set(LN_EINPUT, "path is too long (%zu bytes, limit %d): %.100s...",
				     n, LN_PATH_MAX, user_path);
		goto done;
	}
	if ((error = canonicalize(&rootc, root, root)) < 0)
		goto done;
	if (user_path[0] == '/') {
		joined = xstrdup(user_path);
	} else {
		if ((error = canonical_cwd(&cwdc, cwd)) < 0)
			goto done;
		joined = join(cwdc, user_path);
	}
	error = canonicalize(&abs, joined, user_path);
	if (error == LN_ENOTFOUND && user_path[0] != '/' && cwdc && strcmp(cwdc, rootc)) {
		/* Run from a subfolder, lanser prints workspace-relative paths:
		 * one of them given back as printed names the file from the root
		 * (a path that exists from the current folder wins). */
		char *from_root = join(rootc, user_path), *lex = normalize(from_root);
		char *lrel = rel_under(rootc, lex);
		if (lrel && canonicalize(&abs, from_root, user_path) == 0) {
			ln_error_clear();
			error = 0;
		}
		free(from_root);
		free(lex);
		free(lrel);
	}
	if (error < 0) {
		/* A missing file outside the workspace is refused as outside,
		 * so the exit code never tells which outside files exist. */
		char *lex = normalize(joined);
		char *lrel = rel_under(rootc, lex);
		if (error == LN_ENOTFOUND && !lrel)
			error = ln_error_set(LN_EPERM, "path is outside the workspace: %s", user_path);
		free(lex);
		free(lrel);
		goto done;
	}
	rel = rel_under(rootc, abs);
	if (!rel) {
		error = ln_error_set(LN_EPERM, "path is outside the workspace: %s", user_path);
		goto done;
	}
	if (stat(abs, &st) < 0) {
		error = ln_error_set(LN_EGENERIC, "%s: %s", user_path, strerror(errno));
		goto done;
	}
	if (S_ISDIR(st.st_mode)) {
		error = ln_error_set(LN_EINPUT, "is a directory, not a file: %s", user_path);
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		error = ln_error_set(LN_EINPUT, "not a regular file: %s", user_path);
		goto done;
	}
	if (out_rel) {
		*out_rel = rel;
		rel = NULL;
	}
	if (out_abs) {
		*out_abs = abs;
		abs = NULL;
	}
	error = 0;
done:
	free(rootc);
	free(cwdc);
	free(joined);
	free(abs);
	free(rel);
	return error;
}

int ln_path_relativize(char **out_rel, const char *root, const char *abs_path)
{
	char *nroot = NULL, *npath = NULL, *rel = NULL;
	int error = -1;

	if (!root || root[0] != '/' || !abs_path || abs_path[0] != '/') {
		error = ln_error_set(LN_EINPUT, "not an absolute path: %.200s",
				     !root || root[0] != '/' ? (root ? root : "(null)") : abs_path);
		goto done;
	}
	if (strlen(root) > LN_PATH_MAX || strlen(abs_path) > LN_PATH_MAX) {
		error = ln_error_set(LN_EINPUT, "path is too long (limit %d bytes)", LN_PATH_MAX);
		goto done;
	}
	nroot = normalize(root);
	npath = normalize(abs_path);
	rel = rel_under(nroot, npath);
	if (rel) {
		*out_rel = rel;
		rel = NULL;
		error = 1;
	} else {
		*out_rel = xstrdup(abs_path);
		error = 0;
	}
done:
	free(nroot);
	free(npath);
	free(rel);
	return error;
}

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

char *ln_uri_from_path(const char *abs_path)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b = BUF_INIT;
	const unsigned char *p;

	if (!abs_path || abs_path[0] != '/') {
		ln_error_set(LN_EINPUT, "not an absolute path: %.200s", abs_path ? abs_path : "(null)");
		return NULL;
	}
	buf_adds(&b, "file://");
	for (p = (const unsigned char *)abs_path; *p; p++) {
		if (unreserved(*p) || *p == '/') {
			buf_addch(&b, *p);
		} else {
			char esc[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			buf_add(&b, esc, 3);
		}
	}
	return buf_detach(&b, NULL);
}

int ln_uri_to_path(char **out, const char *uri)
{
	struct buf b = BUF_INIT;
	const char *p, *auth;
	int error = -1;

	if (!uri || strncasecmp(uri, "file:", 5) != 0) {
		error = ln_error_set(LN_EINPUT, "not a file URI: %.200s", uri ? uri : "(null)");
		goto done;
	}
	p = uri + 5;
	if (p[0] == '/' && p[1] == '/') {
		size_t alen;

		auth = p + 2;
		p = strchr(auth, '/');
		if (!p)
			p = auth + strlen(auth);
		alen = (size_t)(p - auth);
		if (alen && !(alen == 9 && !strncasecmp(auth, "localhost", 9))) {
			error = ln_error_set(LN_EINPUT, "file URI names a remote host: %.200s", uri);
			goto done;
		}
	}
	if (*p != '/') {
		error = ln_error_set(LN_EINPUT, "file URI has no absolute path: %.200s", uri);
		goto done;
	}
	for (; *p; p++) {
		if (*p == '?' || *p == '#') {
			error = ln_error_set(LN_EINPUT, "file URI has a query or fragment: %.200s", uri);
			goto done;
		}
		if (*p == '%') {
			int hi = ln_hex_value((unsigned char)p[1]);
			int lo = hi < 0 ? -1 : ln_hex_value((unsigned char)p[2]);

			if (hi < 0 || lo < 0) {
				error = ln_error_set(LN_EINPUT, "malformed %% escape in file URI: %.200s",
						     uri);
				goto done;
			}
			if (hi == 0 && lo == 0) {
				error = ln_error_set(LN_EINPUT, "file URI contains %%00: %.200s", uri);
				goto done;
			}
			buf_addch(&b, hi << 4 | lo);
			p += 2;
		} else {
			buf_addch(&b, *p);
		}
		if (b.len > LN_PATH_MAX) {
			error = ln_error_set(LN_EINPUT, "file URI path is too long (limit %d bytes)",
					     LN_PATH_MAX);
			goto done;
		}
	}
	*out = buf_detach(&b, NULL);
	error = 0;
done:
	buf_release(&b);
	return error;
}

int ln_path_lexical_rel(char **out, const char *root, const char *cwd, const char *user_path)
{
	char *cwdc = NULL, *joined = NULL;
	int r;

	*out = NULL;
	if (user_path[0] == '/') {
		joined = xstrdup(user_path);
	} else {
		if ((r = canonical_cwd(&cwdc, cwd)) < 0)
			return r;
		joined = join(cwdc, user_path);
	}
	r = ln_path_relativize(out, root, joined);
	if (r == 0) { /* outside: record what the user wrote */
		free(*out);
		*out = xstrdup(user_path);
	}
	free(cwdc);
	free(joined);
	return r;
}
