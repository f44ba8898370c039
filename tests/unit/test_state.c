#include "harness.h"
#include "err.h"
#include "state.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Points XDG_RUNTIME_DIR at a fresh scratch directory. */
static int scratch_runtime(char *dir, size_t n)
{
	snprintf(dir, n, "/tmp/lanser-ut-state.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	setenv("XDG_RUNTIME_DIR", dir, 1);
	return 0;
}

static void cleanup(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0) { /* best effort */ }
	unsetenv("XDG_RUNTIME_DIR");
}

TEST(core_state__creates_private_dirs_per_workspace)
{
	char dir[64], *base = NULL, *ws1 = NULL, *ws2 = NULL, *again = NULL;
	struct stat st;

	CHECK(scratch_runtime(dir, sizeof dir) == 0);
	CHECK_EQ_INT(ln_state_dir(&base), 0);
	CHECK(strncmp(base, dir, strlen(dir)) == 0);
	CHECK(stat(base, &st) == 0 && (st.st_mode & 0777) == 0700);
	CHECK_EQ_INT(ln_state_workspace_dir(&ws1, "/some/root"), 0);
	CHECK_EQ_INT(ln_state_workspace_dir(&ws2, "/other/root"), 0);
	CHECK_EQ_INT(ln_state_workspace_dir(&again, "/some/root"), 0);
	CHECK(strcmp(ws1, ws2) != 0);
	CHECK_EQ_STR(ws1, again);
	CHECK(strstr(ws1, "/some/root") == NULL); /* keyed by a hash, not the path */
	/* a base dir others can read is tightened back to 0700 */
	CHECK(chmod(base, 0755) == 0);
	free(base);
	base = NULL;
	CHECK_EQ_INT(ln_state_dir(&base), 0);
	CHECK(stat(base, &st) == 0 && (st.st_mode & 0777) == 0700);
	free(base);
	free(ws1);
	free(ws2);
	free(again);
	cleanup(dir);
}

TEST(core_state__refuses_a_symlinked_base)
{
	char dir[64], link[128], target[128], *base = NULL;

	CHECK(scratch_runtime(dir, sizeof dir) == 0);
	snprintf(target, sizeof target, "%s/elsewhere", dir);
	snprintf(link, sizeof link, "%s/lanser", dir);
	CHECK(mkdir(target, 0700) == 0);
	CHECK(symlink(target, link) == 0);
	CHECK_EQ_INT(ln_state_dir(&base), LN_EPERM);
	CHECK(base == NULL);
	CHECK(strstr(ln_error_msg(), "not a directory") != NULL);
	cleanup(dir);
}
