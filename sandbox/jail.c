/*
 * jail.c - the workspace jail (see jail.h).
 */
#include "sandbox/jail.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/err.h"
#include "core/ignore.h"
#include "core/path.h"
#include "core/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* A printable rendering of an untrusted path for messages. */
static void printable(struct buf *b, const char *s)
{
	size_t i, n = strlen(s);

	for (i = 0; i < n && i < 200; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch == 0x7f || ch == '\\')
			buf_addf(b, "\\x%02x", ch);
		else
			buf_addch(b, ch);
	}
	if (n > 200)
		buf_adds(b, "...");
}

static int refuse(int code, const char *rel, const char *why)
{
	struct buf b = BUF_INIT;
	int r;

	printable(&b, rel);
	r = ln_error_set(code, "refused by the workspace jail: %s: %s", b.data, why);
	buf_release(&b);
	return r;
}

int sbx_jail_check_lexical(const char *rel)
{
	const char *p, *comp;
	size_t n = strlen(rel);

	if (n == 0)
		return refuse(LN_EPERM, rel, "empty path");
	if (n > LN_PATH_MAX)
		return refuse(LN_EINPUT, rel, "path too long");
	if (rel[0] == '/')
		return refuse(LN_EPERM, rel, "absolute path");
	for (p = rel; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch < 0x20 || ch == 0x7f)
			return refuse(LN_EPERM, rel, "control byte in the name");
		if (ch == '\\')
			return refuse(LN_EPERM, rel, "backslash in the name");
	}
	for (comp = rel; comp; ) {
		const char *end = strchr(comp, '/');
		size_t len = end ? (size_t)(end - comp) : strlen(comp);
		if (len == 0)
			return refuse(LN_EPERM, rel, "empty path component");
		if (len > 255)
			return refuse(LN_EINPUT, rel, "path component too long");
		if ((len == 1 && comp[0] == '.') || (len == 2 && !strncmp(comp, "..", 2)))
			return refuse(LN_EPERM, rel, "'.' or '..' component");
		if (len == 4 && !strncasecmp(comp, ".git", 4))
			return refuse(LN_EPERM, rel, "inside a .git directory");
		if (len > 11 && !strncmp(comp, ".lanser-txn", 11))
			return refuse(LN_EPERM, rel, "lanser's temporary file name");
		comp = end ? end + 1 : NULL;
	}
	if (!strncmp(rel, ".cache/clangd/", 14) || !strcmp(rel, ".cache/clangd"))
		return refuse(LN_EPERM, rel, "a language server's cache (.cache/clangd)");
	return 0;
}

static json_t *patterns(const json_t *jail, const char *key, int *error)
{
	json_t *v = json_object_get(jail, key), *p;
	size_t i;

	if (!v)
		return NULL;
	if (!json_is_array(v)) {
		*error = ln_error_set(LN_ECONFIG, ".lanser.json: jail.%s must be an array of "
				      "patterns", key);
		return NULL;
	}
	json_array_foreach(v, i, p)
		if (!json_is_string(p) || !*json_string_value(p)) {
			*error = ln_error_set(LN_ECONFIG, ".lanser.json: jail.%s[%zu] must be a "
					      "non-empty string", key, i);
			return NULL;
		}
	return json_incref(v);
}

int sbx_jail_init(struct sbx_jail *j, const char *root)
{
	struct ln_config cfg;
	json_t *jail;
	int error = 0;

	memset(j, 0, sizeof *j);
	memset(&cfg, 0, sizeof cfg);
	j->root = xstrdup(root);
	error = ln_config_load(&cfg, root);
	if (error)
		goto done;
	jail = json_object_get(cfg.json, "jail");
	if (jail && !json_is_object(jail)) {
		error = ln_error_set(LN_ECONFIG, ".lanser.json: jail must be an object");
		goto done;
	}
	j->trusted = cfg.trusted;
	{
		json_t *none = json_array(), *ex = json_object_get(cfg.json, "exclude");
		j->ignore = ln_ignore_new(root, ex ? ex : none);
		json_decref(none);
	}
	j->allow = patterns(jail, "allow", &error);
	if (!error)
		j->deny = patterns(jail, "deny", &error);
done:
	ln_config_release(&cfg);
	return error;
}

void sbx_jail_release(struct sbx_jail *j)
{
	free(j->root);
	ln_ignore_free(j->ignore);
	json_decref(j->allow);
	json_decref(j->deny);
	memset(j, 0, sizeof *j);
}

bool sbx_jail_patterns_match(const json_t *list, const char *rel)
{
	const json_t *p;
	size_t i;

	json_array_foreach(list, i, p) {
		const char *pat = json_string_value(p);
		size_t pl = strlen(pat);
		char *dir;
		if (fnmatch(pat, rel, 0) == 0)
			return true;
		/* "vendor" and "vendor/" both cover vendor/x */
		dir = xstrdup(rel);
		for (char *s = strrchr(dir, '/'); s; s = strrchr(dir, '/')) {
			*s = '\0';
			if (fnmatch(pat, dir, 0) == 0 ||
			    (pl > 1 && pat[pl - 1] == '/' && !strncmp(pat, dir, pl - 1) &&
			     dir[pl - 1] == '\0')) {
				free(dir);
				return true;
			}
		}
		free(dir);
	}
	return false;
}

const char *sbx_jail_protected(const char *rel)
{
	static const struct { const char *name; const char *why; } files[] = {
		{ ".lanser.json", "lanser's configuration" },
		{ ".clangd", "clangd's configuration" },
		{ "compile_commands.json", "a compilation database (clangd's flags and includes)" },
		{ "compile_flags.txt", "a compilation database (clangd's flags and includes)" },
		{ "pyrightconfig.json", "pyright's configuration (import paths, interpreter)" },
		{ NULL, NULL },
	};
	const char *comp, *base = strrchr(rel, '/');
	size_t i;

	base = base ? base + 1 : rel;
	for (i = 0; files[i].name; i++)
		if (!strcasecmp(base, files[i].name))
			return files[i].why;
	for (comp = rel; comp; ) {
		const char *end = strchr(comp, '/');
		size_t len = end ? (size_t)(end - comp) : strlen(comp);
		if (len == 12 && !strncasecmp(comp, "node_modules", 12))
			return "node_modules (language servers and their plugins run code from it)";
		if (len >= 4 && !strncasecmp(comp, ".git", 4))
			return "a .git* file (attributes, ignores, submodules, CI: what git and CI run "
			       "and which files lanser sees)";
		comp = end ? end + 1 : NULL;
	}
	return NULL;
}

const char *sbx_jail_ignored(const struct sbx_jail *j, const char *rel)
{
	return ln_ignore_reason(j->ignore, rel, false);
}

int sbx_jail_check(const struct sbx_jail *j, const char *rel)
{
	struct buf b = BUF_INIT;
	const char *comp, *why;
	struct stat st;
	int error;

	error = sbx_jail_check_lexical(rel);
	if (error)
		return error;
	/* Protected paths change what lanser runs or which answers it gives:
	 * only a trusted configuration's jail.allow re-opens them. */
	why = sbx_jail_protected(rel);
	if (why && !(j->trusted && j->allow && sbx_jail_patterns_match(j->allow, rel))) {
		struct buf w = BUF_INIT;
		buf_addf(&w, "a protected path, %s (only a trusted configuration's jail.allow "
			 "re-opens it; docs/edits.md)", why);
		error = refuse(LN_EPERM, rel, w.data);
		buf_release(&w);
		return error;
	}
	if (j->deny && sbx_jail_patterns_match(j->deny, rel))
		return refuse(LN_EPERM, rel, "denied by jail.deny in .lanser.json");
	if (j->allow && json_array_size(j->allow) && !sbx_jail_patterns_match(j->allow, rel))
		return refuse(LN_EPERM, rel, "not matched by jail.allow in .lanser.json");
	why = sbx_jail_ignored(j, rel);
	if (why)
		return refuse(LN_EPERM, rel, !strcmp(why, "exclude")
			      ? "left out by \"exclude\" in .lanser.json: not a project file"
			      : "ignored by git (.gitignore or .git/info/exclude): not a project file");
	/* Every existing component, the file included, must be what it seems. */
	buf_adds(&b, j->root);
	for (comp = rel; comp; ) {
		const char *end = strchr(comp, '/');
		size_t len = end ? (size_t)(end - comp) : strlen(comp);
		buf_addch(&b, '/');
		buf_add(&b, comp, len);
		if (lstat(b.data, &st) < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				break;  /* the rest will be created */
			error = refuse(LN_EPERM, rel, strerror(errno));
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			error = refuse(LN_EPERM, rel, end ? "a folder on the way is a symlink"
						       : "the file is a symlink");
			break;
		}
		if (end && !S_ISDIR(st.st_mode)) {
			error = refuse(LN_EPERM, rel, "a component on the way is not a folder");
			break;
		}
		if (!end && !S_ISREG(st.st_mode)) {
			error = refuse(LN_EPERM, rel, "not a regular file");
			break;
		}
		comp = end ? end + 1 : NULL;
	}
	buf_release(&b);
	return error;
}

int sbx_open_parent(int rootfd, const char *rel, bool create, const char **leaf)
{
	int fd = dup(rootfd);
	const char *comp = rel;
	char name[256];

	if (fd < 0)
		return ln_error_set(LN_EGENERIC, "dup: %s", strerror(errno));
	for (;;) {
		const char *end = strchr(comp, '/');
		size_t len;
		int next;
		if (!end)
			break;
		len = (size_t)(end - comp);
		if (len == 0 || len >= sizeof name) {
			close(fd);
			return refuse(LN_EPERM, rel, "bad path component");
		}
		memcpy(name, comp, len);
		name[len] = '\0';
		next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, name, 0777) < 0 && errno != EEXIST) {
				int e = errno;
				close(fd);
				return ln_error_set(e == EACCES ? LN_EPERM : LN_EGENERIC,
						    "cannot create a folder for %s: %s", rel, strerror(e));
			}
			next = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			int e = errno;
			close(fd);
			if (e == ENOENT)
				return ln_error_set(LN_ENOTFOUND, "%s: a folder on the way is missing", rel);
			return refuse(LN_EPERM, rel, e == ELOOP || e == ENOTDIR
					? "a folder on the way is a symlink or not a folder"
					: strerror(e));
		}
		close(fd);
		fd = next;
		comp = end + 1;
	}
	*leaf = comp;
	return fd;
}

int sbx_read_file(const char *root, const char *rel, size_t max, bool *exists,
		  struct buf *out, unsigned *mode)
{
	const char *leaf;
	int rootfd, dfd = -1, fd = -1, error = 0;
	struct stat st;

	*exists = false;
	*mode = 0;
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return ln_error_set(LN_ENOTFOUND, "cannot open the workspace root: %s",
				    strerror(errno));
	dfd = sbx_open_parent(rootfd, rel, false, &leaf);
	close(rootfd);
	if (dfd == LN_ENOTFOUND) {
		ln_error_clear();
		return 0;
	}
	if (dfd < 0)
		return dfd;
	fd = openat(dfd, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			goto done;
		error = refuse(LN_EPERM, rel, errno == ELOOP ? "the file is a symlink" : strerror(errno));
		goto done;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		error = refuse(LN_EPERM, rel, "not a regular file");
		goto done;
	}
	if ((size_t)st.st_size > max) {
		error = ln_error_set(LN_EINPUT, "%s is larger than %zu bytes", rel, max);
		goto done;
	}
	buf_grow(out, (size_t)st.st_size);
	for (;;) {
		char tmp[65536];
		ssize_t r = read(fd, tmp, sizeof tmp);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			error = ln_error_set(LN_EGENERIC, "reading %s: %s", rel, strerror(errno));
			goto done;
		}
		if (r == 0)
			break;
		if (out->len + (size_t)r > max) {
			error = ln_error_set(LN_EINPUT, "%s is larger than %zu bytes", rel, max);
			goto done;
		}
		buf_add(out, tmp, (size_t)r);
	}
	*exists = true;
	*mode = st.st_mode & 07777;
done:
	if (fd >= 0)
		close(fd);
	close(dfd);
	return error;
}
