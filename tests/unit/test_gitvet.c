/*
 * The git configuration parser of core/gitvet.h against libgit2's own: for
 * each text, the (name, value) list lanser finds must be the list libgit2
 * reads (includes point nowhere, so libgit2 records them but reads
 * nothing), and each side must refuse the same texts. A difference means
 * an include lanser would not see.
 */
#include "tests/unit/harness.h"
#include "core/buf.h"
#include "core/gitlib.h"
#include "core/gitvet.h"

#include <stdlib.h>
#include <unistd.h>

static int collect(const char *name, const char *value, size_t line, void *payload)
{
	(void)line;
	buf_addf(payload, "%s=%s\n", name, value ? value : "(null)");
	return 0;
}

/* libgit2's reading of text, as "name=value\n" lines; -1 when it refuses. */
static int libgit2_reads(const char *text, struct buf *out)
{
	char path[] = "/tmp/lanser-ut-gitcfg.XXXXXX";
	git_config *cfg = NULL;
	git_config_iterator *it = NULL;
	git_config_entry *e;
	int fd = mkstemp(path), r = -1;

	if (fd < 0)
		return -2;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		unlink(path);
		return -2;
	}
	close(fd);
	ln_git_init();
	if (git_config_open_ondisk(&cfg, path) == 0 && git_config_iterator_new(&it, cfg) == 0) {
		while (git_config_next(&e, it) == 0)
			buf_addf(out, "%s=%s\n", e->name, e->value ? e->value : "(null)");
		r = 0;
	}
	git_config_iterator_free(it);
	git_config_free(cfg);
	unlink(path);
	return r;
}

TEST(core_gitvet__parser_reads_what_libgit2_reads)
{
	static const char *const texts[] = {
		"[include]\n\tpath = /nonexistent/a\n",
		"[Include]\n\tPATH = /nonexistent/b\n",
		"[include] path = /nonexistent/c\n",
		"[include]path=/nonexistent/c2#c\n",
		"[include] # a comment\n path=/nonexistent/c3\n",
		"[includeIf \"gitdir:/x/\"]\n path = /nonexistent/d\n",
		"[includeIf \"gitdir:/x/\"] path = \"/nonexistent/e\" ; comment\n",
		"[IncludeIf \"onbranch:Main\"]\n\tPath = /nonexistent/e2\n",
		"[includeIf \"gitdir:/a\\\"b/\"]\n\tpath = /nonexistent/e3\n",
		"[core]\n\tx = a\\\n/b\n[include]\n\tpath = /non\\\nexistent/f\n",
		"[include]\n path = \"/nonexistent/g # not a comment\"\n",
		"[include]\n path = /nonexistent/g2 \\# still the path\n",
		"[include]\npath\n",
		"path = /nonexistent/top\n",
		"[include.sub]\npath=/nonexistent/old-style\n",
		"[include]\n\tpath = /nonexistent/a\\tb\n",
		"[include]\r\n\tpath = /nonexistent/crlf\r\n",
		"\xef\xbb\xbf[include]\n\tpath = /nonexistent/bom\n",
		"[include]\n\tpath = /nonexistent/i\\\n\n  ;c\n j\n",
		"[include]\n\tpath = \"/nonexistent/q\"r\"s\"\n",
		"[include]\n\tpath = \"/nonexistent/open-quote\\\n; not a comment\"\n",
		"[core]\n\tbare\n\tworktree = ../w\n[include]\n\tpath = x\n\tpath = y\n",
		"  [include]  \n\t  path   =   spaced   \n",
		"[include][core]path=z\n",
		"[include\npath=x\n",
		"[inc lude]\npath=x\n",
		"[x \"a\"b]\npath=x\n",
		"[include]\n\tpa th = x\n",
		"[include]\n\tpath = a\\qb\n",
		"\f\n",
		"[in_clude]\npath=x\n",
		"[]\npath=x\n",
		"[include]\n\t=x\n",
		"[include \"\"]\npath=x\n",
		/* found by fuzz/fuzz_gitcfg.c: a continued value whose next line
		 * has a bad escape was freed twice */
		"[inc]\n\tpath = /nonexistent/i\\\n\n /nonexistent/i\\&\n\n \n",
		"[core]\n\tx = a\\\n\\q\n",
	};
	size_t i;

	for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		struct buf ours = BUF_INIT, theirs = BUF_INIT;
		size_t line = 0;
		int r1 = ln_gitcfg_parse(texts[i], strlen(texts[i]), collect, &ours, &line);
		int r2 = libgit2_reads(texts[i], &theirs);
		if (r1 != r2 || (r1 == 0 && strcmp(ours.data, theirs.data))) {
			test_fail(__FILE__, __LINE__, "text %zu %s: lanser %d\n%s--- libgit2 %d\n%s", i,
				  texts[i], r1, ours.data, r2, theirs.data);
			buf_release(&ours);
			buf_release(&theirs);
			return;
		}
		buf_release(&ours);
		buf_release(&theirs);
	}
}
