#include "tests/unit/harness.h"
#include "core/err.h"
#include "core/state.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* A fresh scratch folder; XDG_RUNTIME_DIR, XDG_CACHE_HOME and HOME all
 * point into it, so that no test touches the real ones. */
static char *saved_home;

static int scratch(char *dir, size_t n)
{
	char p[256];

	if (!saved_home && getenv("HOME"))
		saved_home = strdup(getenv("HOME"));

	snprintf(dir, n, "/tmp/lanser-ut-state.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(p, sizeof p, "%s/run", dir);
	if (mkdir(p, 0700) < 0)
		return -1;
	setenv("XDG_RUNTIME_DIR", p, 1);
	snprintf(p, sizeof p, "%s/cache", dir);
	setenv("XDG_CACHE_HOME", p, 1);
	snprintf(p, sizeof p, "%s/home", dir);
	if (mkdir(p, 0700) < 0)
		return -1;
	setenv("HOME", p, 1);
	return 0;
}

static void cleanup(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0) { /* best effort */ }
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("XDG_CACHE_HOME");
	if (saved_home)
		setenv("HOME", saved_home, 1);
	else
		unsetenv("HOME");
}

/* ln_state_dir() must give `want` (dir + suffix). */
static int base_is(const char *dir, const char *suffix)
{
	char want[256], *base = NULL;
	int ok;

	snprintf(want, sizeof want, "%s%s", dir, suffix);
	if (ln_state_dir(&base) != 0)
		return 0;
	ok = !strcmp(base, want);
	if (!ok)
		fprintf(stderr, "state dir %s, expected %s\n", base, want);
	free(base);
	return ok;
}

TEST(core_state__creates_private_dirs_per_workspace)
{
	char dir[64], *base = NULL, *ws1 = NULL, *ws2 = NULL, *again = NULL;
	struct stat st;

	CHECK(scratch(dir, sizeof dir) == 0);
	CHECK_EQ_INT(ln_state_dir(&base), 0);
	CHECK(strncmp(base, dir, strlen(dir)) == 0);
	CHECK(stat(base, &st) == 0 && (st.st_mode & 0777) == 0700);
	CHECK_EQ_INT(ln_state_workspace_dir(&ws1, "/some/root"), 0);
	CHECK_EQ_INT(ln_state_workspace_dir(&ws2, "/other/root"), 0);
	CHECK_EQ_INT(ln_state_workspace_dir(&again, "/some/root"), 0);
	CHECK(strcmp(ws1, ws2) != 0);
	CHECK_EQ_STR(ws1, again);
	CHECK(strstr(ws1, "/some/root") == NULL); /* keyed by a hash, not the path */
	CHECK(stat(ws1, &st) == 0 && (st.st_mode & 0777) == 0700);
	free(base);
	free(ws1);
	free(ws2);
	free(again);
	cleanup(dir);
}

TEST(core_state__uses_the_runtime_dir_first)
{
	char dir[64];

	CHECK(scratch(dir, sizeof dir) == 0);
	CHECK(base_is(dir, "/run/lanser"));
	cleanup(dir);
}

TEST(core_state__without_runtime_dir_uses_the_cache_dir_never_tmp)
{
	char dir[64], tmpname[128];
	struct stat st;

	CHECK(scratch(dir, sizeof dir) == 0);
	unsetenv("XDG_RUNTIME_DIR");
	CHECK(base_is(dir, "/cache/lanser"));
	/* no XDG_CACHE_HOME either: ~/.cache/lanser, ~/.cache made 0700 */
	unsetenv("XDG_CACHE_HOME");
	CHECK(base_is(dir, "/home/.cache/lanser"));
	snprintf(tmpname, sizeof tmpname, "%s/home/.cache", dir);
	CHECK(stat(tmpname, &st) == 0 && (st.st_mode & 0777) == 0700);
	/* a runtime dir that does not exist is no candidate at all */
	setenv("XDG_RUNTIME_DIR", "/nonexistent-lanser-run", 1);
	CHECK(base_is(dir, "/home/.cache/lanser"));
	snprintf(tmpname, sizeof tmpname, "/tmp/lanser-%u", (unsigned)geteuid());
	CHECK(lstat(tmpname, &st) != 0 || st.st_uid == geteuid());
	cleanup(dir);
}

TEST(core_state__skips_a_symlinked_base)
{
	char dir[64], link[128], target[128];
	struct stat st;

	CHECK(scratch(dir, sizeof dir) == 0);
	snprintf(target, sizeof target, "%s/elsewhere", dir);
	snprintf(link, sizeof link, "%s/run/lanser", dir);
	CHECK(mkdir(target, 0700) == 0);
	CHECK(symlink(target, link) == 0);
	CHECK(base_is(dir, "/cache/lanser"));
	/* left alone: still a symlink */
	CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
	cleanup(dir);
}

TEST(core_state__skips_a_base_accessible_by_others)
{
	char dir[64], p[128];
	struct stat st;

	CHECK(scratch(dir, sizeof dir) == 0);
	snprintf(p, sizeof p, "%s/run/lanser", dir);
	CHECK(mkdir(p, 0700) == 0);
	CHECK(chmod(p, 0777) == 0);
	CHECK(base_is(dir, "/cache/lanser"));
	/* not repaired behind the user's back */
	CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0777);
	/* a plain file in the way is skipped too */
	CHECK(rmdir(p) == 0);
	{
		FILE *f = fopen(p, "w");
		CHECK(f != NULL);
		fclose(f);
	}
	CHECK(base_is(dir, "/cache/lanser"));
	cleanup(dir);
}

TEST(core_state__skips_a_base_owned_by_another_uid)
{
	char dir[64], p[128];

	if (geteuid() != 0)
		return; /* only root can make a folder someone else owns */
	CHECK(scratch(dir, sizeof dir) == 0);
	snprintf(p, sizeof p, "%s/run/lanser", dir);
	CHECK(mkdir(p, 0700) == 0);
	CHECK(chown(p, 54321, 54321) == 0);
	CHECK(base_is(dir, "/cache/lanser"));
	/* the cache candidate owned by someone else as well: the home one */
	snprintf(p, sizeof p, "%s/cache/lanser", dir);
	CHECK(chown(p, 54321, 54321) == 0);
	CHECK(base_is(dir, "/home/.cache/lanser"));
	cleanup(dir);
}

TEST(core_state__fails_only_when_no_candidate_works)
{
	char dir[64], p[128], *base = NULL;

	CHECK(scratch(dir, sizeof dir) == 0);
	snprintf(p, sizeof p, "%s/run/lanser", dir);
	CHECK(symlink("/", p) == 0);
	unsetenv("XDG_CACHE_HOME");
	snprintf(p, sizeof p, "%s/home/.cache", dir);
	CHECK(mkdir(p, 0700) == 0);
	snprintf(p, sizeof p, "%s/home/.cache/lanser", dir);
	CHECK(mkdir(p, 0700) == 0);
	CHECK(chmod(p, 0750) == 0);
	CHECK_EQ_INT(ln_state_dir(&base), LN_EPERM);
	CHECK(base == NULL);
	CHECK(strstr(ln_error_msg(), "symlink") != NULL);
	CHECK(strstr(ln_error_msg(), "accessible by others") != NULL);
	cleanup(dir);
}

/* A deep HOME: the socket path is longer than sun_path, and is still
 * reachable through the folder's descriptor. */
TEST(core_state__long_home_still_gives_a_usable_socket)
{
	char dir[64], home[400], sock[512], *ws = NULL;
	struct sockaddr_un sa;
	int srv = -1, cli = -1, dfd = -1, i;

	CHECK(scratch(dir, sizeof dir) == 0);
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("XDG_CACHE_HOME");
	snprintf(home, sizeof home, "%s/home", dir);
	for (i = 0; i < 6; i++) {
		size_t n = strlen(home);
		snprintf(home + n, sizeof home - n, "/a-rather-long-folder-name-%d", i);
		CHECK(mkdir(home, 0700) == 0);
	}
	setenv("HOME", home, 1);
	CHECK_EQ_INT(ln_state_workspace_dir(&ws, "/some/root"), 0);
	snprintf(sock, sizeof sock, "%s/sock", ws);
	CHECK(strlen(sock) >= sizeof sa.sun_path);
	CHECK_EQ_INT(ln_state_sockaddr(&sa, &dfd, sock), 0);
	CHECK(dfd >= 0);
	srv = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(bind(srv, (struct sockaddr *)&sa, sizeof sa) == 0);
	close(dfd);
	CHECK(listen(srv, 1) == 0);
	CHECK(access(sock, F_OK) == 0);   /* the socket is where the long path says */
	CHECK_EQ_INT(ln_state_sockaddr(&sa, &dfd, sock), 0);
	cli = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(connect(cli, (struct sockaddr *)&sa, sizeof sa) == 0);
	close(dfd);
	/* a short path goes as it is */
	CHECK_EQ_INT(ln_state_sockaddr(&sa, &dfd, "/run/x/sock"), 0);
	CHECK(dfd == -1 && !strcmp(sa.sun_path, "/run/x/sock"));
	close(cli);
	close(srv);
	free(ws);
	cleanup(dir);
}
