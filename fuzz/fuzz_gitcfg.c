/*
 * fuzz_gitcfg.c - libFuzzer target for the check of a repository's git
 * configuration before libgit2 opens it (core/gitvet.h): the port of
 * libgit2's configuration parser, and ln_git_vet() on a repository whose
 * .git/config is the input.
 *
 * Beyond "no crash, no sanitizer report, no leak, no hang", checks on every
 * input: the parser reports names that are lower-cased in their section and
 * key, with a line number within the text, and gives the same variables
 * when run twice; ln_git_vet() answers 0 or LN_EPERM (with a message), and
 * never anything else. The repository lives in a folder made once per
 * process; includes in the input may name any path, which is the point.
 */
#include "core/err.h"
#include "core/gitvet.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	size_t n, lines;
	unsigned long long sum;   /* of the names' and values' bytes, in order */
};

static int on_var(const char *name, const char *value, size_t line, void *payload)
{
	struct seen *s = payload;
	const char *dot1 = strchr(name, '.'), *dot2 = strrchr(name, '.'), *p;

	if (line == 0 || line > s->lines + 1)   /* a final continuation counts the line after */
		abort();
	/* section and key lower-cased (a subsection keeps its case); a key
	 * before any section has no section */
	for (p = name; dot1 && p < dot1; p++)
		if (*p >= 'A' && *p <= 'Z')
			abort();
	for (p = dot2 ? dot2 + 1 : name; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			abort();
	s->n++;
	for (p = name; *p; p++)
		s->sum = s->sum * 131 + (unsigned char)*p;
	for (p = value ? value : ""; *p; p++)
		s->sum = s->sum * 137 + (unsigned char)*p;
	s->sum += line;
	return 0;
}

static char repo[64];

static void remove_repo(void)
{
	static const char *const files[] = { ".git/config", ".git/HEAD", NULL };
	static const char *const dirs[] = { ".git/objects", ".git/refs", ".git", "", NULL };
	char path[128];
	size_t i;

	for (i = 0; files[i]; i++) {
		snprintf(path, sizeof path, "%s/%s", repo, files[i]);
		unlink(path);
	}
	for (i = 0; dirs[i]; i++) {
		snprintf(path, sizeof path, "%s/%s", repo, dirs[i]);
		rmdir(path);
	}
}

static void make_repo(void)
{
	char path[128];
	FILE *f;

	snprintf(repo, sizeof repo, "/tmp/fuzz-gitcfg-%ld", (long)getpid());
	mkdir(repo, 0700);
	snprintf(path, sizeof path, "%s/.git", repo);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/.git/objects", repo);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/.git/refs", repo);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/.git/HEAD", repo);
	f = fopen(path, "w");
	if (!f)
		abort();
	fputs("ref: refs/heads/main\n", f);
	fclose(f);
	atexit(remove_repo);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen a = { 0, 1, 0 }, b;
	size_t i, err_line = 0, err_line2 = 0;
	char path[128];
	FILE *f;
	int ra, rb, rv;

	if (memchr(data, '\0', size))
		return 0;   /* the parser's contract: no NUL (the check refuses them first) */
	for (i = 0; i < size; i++)
		a.lines += data[i] == '\n';
	b = a;
	ra = ln_gitcfg_parse((const char *)data, size, on_var, &a, &err_line);
	rb = ln_gitcfg_parse((const char *)data, size, on_var, &b, &err_line2);
	if (ra != rb || a.n != b.n || a.sum != b.sum || err_line != err_line2)
		abort();
	if (ra != 0 && ra != -1)
		abort();

	if (!repo[0])
		make_repo();
	snprintf(path, sizeof path, "%s/.git/config", repo);
	f = fopen(path, "w");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	ln_error_clear();
	rv = ln_git_vet(repo, false);
	if (rv != 0 && rv != LN_EPERM)
		abort();
	if (rv == LN_EPERM && !ln_error_msg()[0])
		abort();
	ln_error_clear();
	return 0;
}
