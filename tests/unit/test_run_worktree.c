/* Candidate worktrees (sandbox/worktree.h) on a scratch repository made
 * with the real git: creation at a base, reset to it, removal, and the
 * pruning of what a dead lanser left. */
#include "tests/unit/harness.h"

#include "core/buf.h"
#include "core/err.h"
#include "sandbox/worktree.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int sh(const char *script, const char *dir)
{
	struct buf cmd = BUF_INIT;
	int rc;

	buf_addf(&cmd, "cd %s && %s", dir, script);
	rc = system(cmd.data);
	buf_release(&cmd);
	return rc;
}

static char *read_text(const char *dir, const char *rel)
{
	struct buf path = BUF_INIT, b = BUF_INIT;
	buf_addf(&path, "%s/%s", dir, rel);
	if (buf_read_file(&b, path.data, 1 << 20)) {
		buf_release(&path);
		return NULL;
	}
	buf_release(&path);
	return buf_detach(&b, NULL);
}

static bool exists(const char *dir, const char *rel)
{
	char p[4096];
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	return access(p, F_OK) == 0;
}

static void create_reset_free_and_prune(void)
{
	char top[] = "/tmp/lanser-wt-XXXXXX", repo[128], run[128], cmd[2048];
	struct sbx_wtset *s = NULL;
	char oid[41], *text;
	const char *wt;
	pid_t dead;
	int st;

	CHECK(mkdtemp(top) != NULL);
	snprintf(repo, sizeof repo, "%s/repo", top);
	snprintf(run, sizeof run, "%s/run", top);
	CHECK_EQ_INT(mkdir(run, 0700), 0);
	setenv("XDG_RUNTIME_DIR", run, 1);
	CHECK_EQ_INT(mkdir(repo, 0755), 0);
	CHECK_EQ_INT(sh("git init -q && echo one > f.txt && echo 'out/' > .gitignore && "
			"git add -A && git -c user.email=t@e -c user.name=t commit -qm one && "
			"echo two > f.txt && git -c user.email=t@e -c user.name=t commit -qam two", repo), 0);

	/* two worktrees at HEAD~1 */
	CHECK_EQ_INT(sbx_wt_create(&s, repo, "HEAD~1", 2, oid), 0);
	CHECK_EQ_INT(strlen(oid), 40);
	wt = sbx_wt_path(s, 1);
	CHECK(wt != NULL && sbx_wt_path(s, 2) == NULL);
	CHECK(strncmp(wt, run, strlen(run)) == 0); /* in the state folder, not the tree */
	text = read_text(wt, "f.txt");
	CHECK_EQ_STR(text, "one\n");
	free(text);

	/* a candidate changes, adds, and builds: reset removes all of it */
	snprintf(cmd, sizeof cmd, "cd %s && echo changed > f.txt && echo new > new.txt && "
		 "mkdir -p out && echo obj > out/a.o", wt);
	CHECK_EQ_INT(system(cmd), 0);
	CHECK_EQ_INT(sbx_wt_reset(s, 1), 0);
	text = read_text(wt, "f.txt");
	CHECK_EQ_STR(text, "one\n");
	free(text);
	CHECK(!exists(wt, "new.txt"));
	CHECK(!exists(wt, "out/a.o"));

	/* free removes folders, metadata and branches */
	{
		char keep[4096];
		snprintf(keep, sizeof keep, "%s", wt);
		sbx_wt_free(s);
		s = NULL;
		CHECK(access(keep, F_OK) != 0);
	}
	snprintf(cmd, sizeof cmd, "test \"$(git -C %s worktree list | wc -l)\" = 1 && "
		 "test -z \"$(git -C %s branch --list 'lanser-wt/*')\"", repo, repo);
	CHECK_EQ_INT(system(cmd), 0);

	/* what a dead lanser left: a worktree and branch named after its pid */
	dead = fork();
	if (dead == 0)
		_exit(0);
	waitpid(dead, &st, 0);
	snprintf(cmd, sizeof cmd, "git -C %s worktree add -q -b lanser-wt/%d-0 %s/stale HEAD && "
		 "mv %s/.git/worktrees/stale %s/.git/worktrees/lanser-%d-0 && "
		 "sed -i 's#worktrees/stale#worktrees/lanser-%d-0#' %s/stale/.git",
		 repo, (int)dead, top, repo, repo, (int)dead, (int)dead, top);
	CHECK_EQ_INT(system(cmd), 0);
	CHECK_EQ_INT(sbx_wt_prune(repo), 1);
	snprintf(cmd, sizeof cmd, "test \"$(git -C %s worktree list | wc -l)\" = 1 && "
		 "test -z \"$(git -C %s branch --list 'lanser-wt/*')\" && test ! -e %s/stale",
		 repo, repo, top);
	CHECK_EQ_INT(system(cmd), 0);
	/* nothing of a live process is touched */
	CHECK_EQ_INT(sbx_wt_prune(repo), 0);

	CHECK_EQ_INT(sbx_wt_create(&s, repo, "no-such-revision", 1, oid), LN_ENOTFOUND);
	CHECK_EQ_INT(sbx_wt_create(&s, top, "HEAD", 1, oid), LN_EINPUT);
	sbx_rmtree(top);
}

TEST(sbx_worktree__create_reset_free_and_prune)
{
	char *saved = getenv("XDG_RUNTIME_DIR") ? strdup(getenv("XDG_RUNTIME_DIR")) : NULL;

	create_reset_free_and_prune();
	if (saved)
		setenv("XDG_RUNTIME_DIR", saved, 1);
	else
		unsetenv("XDG_RUNTIME_DIR");
	free(saved);
}
