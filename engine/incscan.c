/*
 * incscan.c - whether a C-family source file is seen by no translation
 * unit but its own (engine/internal.h, eng_source_private): then a change
 * to it cannot change another file's diagnostics, and the after pass need
 * not rebuild the files that merely reference its symbols.
 */
#include "engine/internal.h"

#include "core/buf.h"
#include "core/xalloc.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bounds of the scan; past any of them the answer is "not private". */
#define SCAN_MAX_FILES 20000
#define SCAN_MAX_FILE_BYTES (4L << 20)
#define SCAN_MAX_BYTES (64L << 20)

struct scan {
	const char *base;     /* the file name looked for */
	size_t files;
	long bytes;
	bool seen;            /* named by an include, or unknown: not private */
};

static bool has_ext(const char *path, const char *const *exts)
{
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');

	if (!dot || (slash && dot < slash))
		return false;
	for (; *exts; exts++)
		if (!strcmp(dot + 1, *exts))
			return true;
	return false;
}

static const char *base_name(const char *p, size_t len, size_t *out_len)
{
	size_t i = len;

	while (i > 0 && p[i - 1] != '/' && p[i - 1] != '\\')
		i--;
	*out_len = len - i;
	return p + i;
}

/* The directives of one text: `#include`, `#include_next`, `#import` naming
 * s->base (by its last component), or naming something we cannot read (a
 * macro): seen. Compilation databases and flag files: any forced include. */
static void scan_text(struct scan *s, const char *name, const char *t, size_t n)
{
	size_t i = 0, bl = strlen(s->base);

	if (!strcmp(name, "compile_commands.json") || !strcmp(name, "compile_flags.txt")) {
		if (memmem(t, n, "-include", 8) || memmem(t, n, "-imacros", 8) ||
		    memmem(t, n, "/FI", 3) || memmem(t, n, "-FI", 3))
			s->seen = true;
		return;
	}
	while (i < n && !s->seen) {
		size_t end = i, k;
		while (end < n && t[end] != '\n')
			end++;
		k = i;
		while (k < end && (t[k] == ' ' || t[k] == '\t'))
			k++;
		/* '#', or its digraph "%:" and trigraph "??=" */
		if (k < end && (t[k] == '#' || (end - k >= 2 && !memcmp(t + k, "%:", 2)) ||
				(end - k >= 3 && !memcmp(t + k, "?\?=", 3)))) {
			k += t[k] == '#' ? 1 : t[k] == '%' ? 2 : 3;
			while (k < end && (t[k] == ' ' || t[k] == '\t'))
				k++;
			if ((end - k >= 7 && !memcmp(t + k, "include", 7)) ||
			    (end - k >= 6 && !memcmp(t + k, "import", 6))) {
				while (k < end && (t[k] == '_' || (t[k] >= 'a' && t[k] <= 'z')))
					k++;
				while (k < end && (t[k] == ' ' || t[k] == '\t'))
					k++;
				if (k < end && (t[k] == '"' || t[k] == '<')) {
					char close = t[k] == '"' ? '"' : '>';
					size_t a = ++k, ln;
					const char *b;
					while (k < end && t[k] != close)
						k++;
					b = base_name(t + a, k - a, &ln);
					if (ln == bl && !memcmp(b, s->base, bl))
						s->seen = true;
				} else {
					s->seen = true;   /* #include MACRO: unknown */
				}
			}
		}
		i = end + 1;
	}
}

static void scan_file(struct scan *s, const char *path, const char *name, const struct stat *st)
{
	char *data;
	ssize_t r;
	size_t got = 0;
	int fd;

	if (st->st_size > SCAN_MAX_FILE_BYTES || (s->bytes += (long)st->st_size) > SCAN_MAX_BYTES) {
		s->seen = true;
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		s->seen = true;
		return;
	}
	data = xmalloc((size_t)st->st_size + 1);
	while (got < (size_t)st->st_size &&
	       (r = read(fd, data + got, (size_t)st->st_size - got)) > 0)
		got += (size_t)r;
	close(fd);
	scan_text(s, name, data, got);
	free(data);
}

static void scan_dir(struct scan *s, const char *dir, bool top)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d) {
		s->seen = true;
		return;
	}
	while (!s->seen && (de = readdir(d))) {
		struct buf p = BUF_INIT;
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, ".git") || (top && !strcmp(de->d_name, ".cache")))
			continue;
		buf_addf(&p, "%s/%s", dir, de->d_name);
		if (lstat(p.data, &st) == 0) {
			if (++s->files > SCAN_MAX_FILES)
				s->seen = true;
			else if (S_ISDIR(st.st_mode))
				scan_dir(s, p.data, false);
			else if (S_ISREG(st.st_mode))
				scan_file(s, p.data, de->d_name, &st);
		}
		buf_release(&p);
	}
	closedir(d);
}

bool eng_source_private(struct eng *x, const char *rel)
{
	static const char *const sources[] = { "c", "cc", "cpp", "cxx", "c++", "m", "mm", NULL };
	struct scan s;
	json_t *known;
	size_t bl;

	if (!has_ext(rel, sources))
		return false;
	known = json_object_get(x->private_cache, rel);
	if (known)
		return json_is_true(known);
	memset(&s, 0, sizeof s);
	s.base = base_name(rel, strlen(rel), &bl);
	scan_dir(&s, x->wt, true);
	json_object_set_new(x->private_cache, rel, json_boolean(!s.seen));
	return !s.seen;
}
