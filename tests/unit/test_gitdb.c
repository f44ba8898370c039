/*
 * ln_gitdb_vet (core/gitdb.h) on git directories built by hand: what it
 * walks (refs/ and logs/ at any depth, objects/ two levels, info/), what it
 * leaves alone (hooks/, deeper folders under objects/), alternates.
 */
#include "tests/unit/harness.h"
#include "core/err.h"
#include "core/gitdb.h"
#include "core/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char *scratch(void)
{
	char tmpl[] = "/tmp/lanser-ut-gitdb.XXXXXX";
	char *d = mkdtemp(tmpl);
	char *cmd;

	if (!d)
		return NULL;
	d = xstrdup(d);
	cmd = xasprintf("mkdir -p %s/refs/heads %s/refs/tags %s/objects/info %s/objects/pack "
			"%s/objects/ab %s/logs/refs/heads %s/info %s/hooks && echo x >%s/HEAD",
			d, d, d, d, d, d, d, d, d);
	if (system(cmd) != 0) {
		free(cmd);
		free(d);
		return NULL;
	}
	free(cmd);
	return d;
}

static void scrap(char *d)
{
	char *cmd = xasprintf("rm -rf %s", d);

	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", d);
	free(cmd);
	free(d);
}

/* d/rel made as a FIFO: ln_gitdb_vet's result, the FIFO removed again. */
static int with_fifo(const char *d, const char *rel)
{
	char *p = xasprintf("%s/%s", d, rel);
	int r;

	if (mkfifo(p, 0600) < 0) {
		free(p);
		return 1;
	}
	r = ln_gitdb_vet(d);
	unlink(p);
	free(p);
	return r;
}

TEST(core_gitdb__refuses_fifos_where_libgit2_reads)
{
	char *d = scratch();

	CHECK(d);
	CHECK_EQ_INT(ln_gitdb_vet(d), 0);
	CHECK_EQ_INT(with_fifo(d, "packed-refs"), LN_EPERM);
	CHECK(strstr(ln_error_msg(), "/packed-refs is not a regular file"));
	CHECK_EQ_INT(with_fifo(d, "refs/heads/main"), LN_EPERM);
	CHECK_EQ_INT(with_fifo(d, "logs/refs/heads/main"), LN_EPERM);
	CHECK_EQ_INT(with_fifo(d, "objects/ab/cdef"), LN_EPERM);
	CHECK_EQ_INT(with_fifo(d, "objects/pack/pack-1.idx"), LN_EPERM);
	CHECK_EQ_INT(with_fifo(d, "info/exclude"), LN_EPERM);
	CHECK_EQ_INT(with_fifo(d, "index"), LN_EPERM);
	/* not read by libgit2: not walked */
	CHECK_EQ_INT(with_fifo(d, "hooks/pre-commit"), 0);
	CHECK_EQ_INT(ln_gitdb_vet(d), 0);
	{
		/* git's fsmonitor daemon keeps a socket there: opening it
		 * fails at once, it is let be */
		struct sockaddr_un a;
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		memset(&a, 0, sizeof a);
		a.sun_family = AF_UNIX;
		snprintf(a.sun_path, sizeof a.sun_path, "%s/fsmonitor--daemon.ipc", d);
		CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
		close(fd);
		CHECK_EQ_INT(ln_gitdb_vet(d), 0);
	}
	scrap(d);
}

TEST(core_gitdb__refuses_symlinks_and_alternates)
{
	char *d = scratch(), *p, *q;
	FILE *f;

	CHECK(d);
	p = xasprintf("%s/refs/tags/v1", d);
	CHECK(symlink("/etc/passwd", p) == 0);
	CHECK_EQ_INT(ln_gitdb_vet(d), LN_EPERM);
	CHECK(strstr(ln_error_msg(), "/refs/tags/v1 is a symlink"));
	unlink(p);
	free(p);
	p = xasprintf("%s/hooks/post-commit", d);
	CHECK(symlink("/bin/true", p) == 0);   /* hooks/ is not walked */
	CHECK_EQ_INT(ln_gitdb_vet(d), 0);
	free(p);
	p = xasprintf("%s/objects/info/alternates", d);
	f = fopen(p, "w");
	CHECK(f);
	fclose(f);
	CHECK_EQ_INT(ln_gitdb_vet(d), 0);   /* empty: no other store */
	f = fopen(p, "w");
	CHECK(f);
	fputs("/elsewhere/objects\n", f);
	fclose(f);
	CHECK_EQ_INT(ln_gitdb_vet(d), LN_EPERM);
	CHECK(strstr(ln_error_msg(), "names other object stores"));
	unlink(p);
	free(p);
	/* a folder under objects/XX is never read; refs/ 33 deep is refused */
	p = xasprintf("%s/objects/ab/x", d);
	q = xasprintf("%s/objects/ab/x/y", d);
	CHECK(mkdir(p, 0700) == 0 && mkdir(q, 0700) == 0);
	CHECK_EQ_INT(ln_gitdb_vet(d), 0);
	free(q);
	free(p);
	q = xasprintf("mkdir -p %s/refs/heads/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17/18/19/20/21/"
		      "22/23/24/25/26/27/28/29/30/31/32", d);
	CHECK(system(q) == 0);
	free(q);
	CHECK_EQ_INT(ln_gitdb_vet(d), LN_EPERM);
	CHECK(strstr(ln_error_msg(), "nests more than 32 folders deep"));
	scrap(d);
}

/* A clean walk is remembered per process (once its folders are older than
 * the timestamp tick); an entry added, or a file swapped for a FIFO, after
 * it changes its folder's times and is found. */
TEST(core_gitdb__a_remembered_walk_still_sees_new_entries)
{
	char *d = scratch(), *p, *q;
	FILE *f;

	CHECK(d);
	p = xasprintf("%s/objects/ab/cdef", d);
	f = fopen(p, "w");
	CHECK(f);
	fclose(f);
	sleep(3);   /* past RACY_SECONDS: the walk below is remembered */
	CHECK_EQ_INT(ln_gitdb_vet(d), 0);
	CHECK_EQ_INT(ln_gitdb_vet(d), 0);   /* remembered */
	q = xasprintf("%s/objects/ab/tmp", d);
	CHECK(mkfifo(q, 0600) == 0 && rename(q, p) == 0);
	CHECK_EQ_INT(ln_gitdb_vet(d), LN_EPERM);
	CHECK(strstr(ln_error_msg(), "/objects/ab/cdef is not a regular file"));
	unlink(p);
	CHECK_EQ_INT(with_fifo(d, "refs/heads/main"), LN_EPERM);
	CHECK_EQ_INT(ln_gitdb_vet(d), 0);
	free(q);
	free(p);
	scrap(d);
}
