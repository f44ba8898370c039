#include "tests/unit/harness.h"
#include "core/err.h"
#include "core/path.h"

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* A scratch directory under /tmp, canonical (realpath), removed by
 * scratch_remove(). */
static int scratch_make(char out[PATH_MAX])
{
	char tmpl[] = "/tmp/lanser-test-path-XXXXXX";

	if (!mkdtemp(tmpl))
		return -1;
	return realpath(tmpl, out) ? 0 : -1;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void scratch_remove(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* dir/rel into out (PATH_MAX). */
static const char *at(char *out, const char *dir, const char *rel)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, rel);

	if (n < 0 || n >= PATH_MAX)
		abort();
	return out;
}

static int mkdirs(const char *dir, const char *rel)
{
	char p[PATH_MAX];
	char *s;

	at(p, dir, rel);
	for (s = p + strlen(dir) + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && access(p, F_OK) < 0)
			return -1;
		*s = '/';
	}
	return mkdir(p, 0755) < 0 && access(p, F_OK) < 0 ? -1 : 0;
}

static int touch(const char *dir, const char *rel, const char *content)
{
	char p[PATH_MAX];
	int fd;
	ssize_t n = (ssize_t)strlen(content);

	fd = open(at(p, dir, rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	if (write(fd, content, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* The workspace root seen from dir/rel. */
static int root_from(char **out, const char *dir, const char *rel)
{
	char p[PATH_MAX];

	return ln_workspace_find_root(out, NULL, at(p, dir, rel));
}

TEST(core_path__root_prefers_nearest_lanser_json_over_git)
{
	char s[PATH_MAX], want[PATH_MAX];
	char *root = NULL;

	CHECK_EQ_INT(scratch_make(s), 0);
	CHECK_EQ_INT(mkdirs(s, "ws/repo/.git"), 0);
	CHECK_EQ_INT(mkdirs(s, "ws/repo/src/deep"), 0);
	CHECK_EQ_INT(mkdirs(s, "ws/repo/sub/inner"), 0);
	CHECK_EQ_INT(touch(s, "ws/.lanser.json", "{}"), 0);
	CHECK_EQ_INT(touch(s, "ws/repo/sub/.lanser.json", "{}"), 0);

	/* .lanser.json above the git top still wins (BRIEF order). */
	CHECK_EQ_INT(root_from(&root, s, "ws/repo/src/deep"), 0);
	CHECK_EQ_STR(root, at(want, s, "ws"));
	free(root);
	root = NULL;
	/* The nearest .lanser.json wins over one further up. */
	CHECK_EQ_INT(root_from(&root, s, "ws/repo/sub/inner"), 0);
	CHECK_EQ_STR(root, at(want, s, "ws/repo/sub"));
	free(root);
	root = NULL;
	/* cwd itself counts. */
	CHECK_EQ_INT(root_from(&root, s, "ws/repo/sub"), 0);
	CHECK_EQ_STR(root, at(want, s, "ws/repo/sub"));
	free(root);
	scratch_remove(s);
}

TEST(core_path__root_falls_back_to_git_top_dir_or_file)
{
	char s[PATH_MAX], want[PATH_MAX];
	char *root = NULL;

	CHECK_EQ_INT(scratch_make(s), 0);
	CHECK_EQ_INT(mkdirs(s, "repo/.git"), 0);
	CHECK_EQ_INT(mkdirs(s, "repo/a/b"), 0);
	CHECK_EQ_INT(mkdirs(s, "repo/mod/x"), 0);
	/* A submodule: .git is a file. The nearest one wins. */
	CHECK_EQ_INT(touch(s, "repo/mod/.git", "gitdir: ../.git/modules/mod\n"), 0);

	CHECK_EQ_INT(root_from(&root, s, "repo/a/b"), 0);
	CHECK_EQ_STR(root, at(want, s, "repo"));
	free(root);
	root = NULL;
	CHECK_EQ_INT(root_from(&root, s, "repo/mod/x"), 0);
	CHECK_EQ_STR(root, at(want, s, "repo/mod"));
	free(root);
	scratch_remove(s);
}

TEST(core_path__root_is_cwd_without_markers)
{
	char s[PATH_MAX], want[PATH_MAX], link[PATH_MAX];
	char *root = NULL;

	/* Assumes no .lanser.json or .git above /tmp, as on any sane machine. */
	CHECK_EQ_INT(scratch_make(s), 0);
	CHECK_EQ_INT(mkdirs(s, "plain/dir"), 0);
	CHECK_EQ_INT(root_from(&root, s, "plain/dir"), 0);
	CHECK_EQ_STR(root, at(want, s, "plain/dir"));
	free(root);
	root = NULL;
	/* Reached through a symlink, the answer is still canonical. */
	CHECK_EQ_INT(symlink(at(want, s, "plain/dir"), at(link, s, "alias")), 0);
	CHECK_EQ_INT(ln_workspace_find_root(&root, NULL, link), 0);
	CHECK_EQ_STR(root, at(want, s, "plain/dir"));
	free(root);
	root = NULL;
	CHECK_EQ_INT(ln_workspace_find_root(&root, NULL, at(want, s, "missing")), LN_ENOTFOUND);
	CHECK(root == NULL);
	scratch_remove(s);
}

TEST(core_path__explicit_root_must_be_an_existing_directory)
{
	char s[PATH_MAX], want[PATH_MAX], cwd[PATH_MAX];
	char *root = NULL;

	CHECK_EQ_INT(scratch_make(s), 0);
	CHECK_EQ_INT(mkdirs(s, "ws/.git"), 0);
	CHECK_EQ_INT(mkdirs(s, "ws/src"), 0);
	CHECK_EQ_INT(touch(s, "ws/file.c", ""), 0);
	at(cwd, s, "ws/src");

	/* Relative to cwd, canonicalised, and it overrides discovery. */
	CHECK_EQ_INT(ln_workspace_find_root(&root, "./../src/", cwd), 0);
	CHECK_EQ_STR(root, at(want, s, "ws/src"));
	free(root);
	root = NULL;
	CHECK_EQ_INT(ln_workspace_find_root(&root, s, cwd), 0);
	CHECK_EQ_STR(root, s);
	free(root);
	root = NULL;
	CHECK_EQ_INT(ln_workspace_find_root(&root, "../nope", cwd), LN_ENOTFOUND);
	CHECK_EQ_STR(ln_error_msg(), "workspace root does not exist: ../nope");
	CHECK_EQ_INT(ln_workspace_find_root(&root, "../file.c", cwd), LN_EUSAGE);
	CHECK_EQ_STR(ln_error_msg(), "workspace root is not a directory: ../file.c");
	CHECK(root == NULL);
	scratch_remove(s);
}

TEST(core_path__resolve_gives_canonical_and_relative_forms)
{
	char s[PATH_MAX], ws[PATH_MAX], want[PATH_MAX], p[PATH_MAX];
	char *rel = NULL, *abs = NULL;

	CHECK_EQ_INT(scratch_make(s), 0);
	CHECK_EQ_INT(mkdirs(s, "ws/src/sub"), 0);
	CHECK_EQ_INT(touch(s, "ws/src/sub/a.c", "int a;\n"), 0);
	CHECK_EQ_INT(symlink("sub/a.c", at(p, s, "ws/src/link.c")), 0);
	at(ws, s, "ws");

	CHECK_EQ_INT(ln_path_resolve_in_root(&rel, &abs, ws, ws, "src/./sub//a.c"), 0);
	CHECK_EQ_STR(rel, "src/sub/a.c");
	CHECK_EQ_STR(abs, at(want, s, "ws/src/sub/a.c"));
	free(rel);
	free(abs);
	rel = abs = NULL;
	/* From a subdirectory, through "..", and absolute. */
	CHECK_EQ_INT(ln_path_resolve_in_root(&rel, NULL, ws, at(p, s, "ws/src/sub"), "../sub/a.c"),
		     0);
	CHECK_EQ_STR(rel, "src/sub/a.c");
	free(rel);
	rel = NULL;
	CHECK_EQ_INT(ln_path_resolve_in_root(&rel, NULL, ws, "/", at(p, s, "ws/src/sub/a.c")), 0);
	CHECK_EQ_STR(rel, "src/sub/a.c");
	free(rel);
	rel = NULL;
	/* A symlink inside the root is followed to its target. */
	CHECK_EQ_INT(ln_path_resolve_in_root(&rel, NULL, ws, ws, "src/link.c"), 0);
	CHECK_EQ_STR(rel, "src/sub/a.c");
	free(rel);
	rel = NULL;
	/* From a subfolder, a workspace-relative path as lanser prints it. */
	CHECK_EQ_INT(ln_path_resolve_in_root(&rel, NULL, ws, at(p, s, "ws/src/sub"), "src/sub/a.c"),
		     0);
	CHECK_EQ_STR(rel, "src/sub/a.c");
	free(rel);
	rel = NULL;
	CHECK_EQ_INT(ln_path_resolve_in_root(&rel, NULL, ws, at(p, s, "ws/src/sub"), "nosuch.c"),
		     LN_ENOTFOUND);
	scratch_remove(s);
}

TEST(core_path__resolve_refuses_escapes_and_symlinks_outside)
{
	char s[PATH_MAX], ws[PATH_MAX], p[PATH_MAX], q[PATH_MAX];
	char *rel = NULL, *abs = NULL;

	CHECK_EQ_INT(scratch_make(s), 0);
	CHECK_EQ_INT(mkdirs(s, "ws/src"), 0);
	CHECK_EQ_INT(mkdirs(s, "wsx"), 0);
	CHECK_EQ_INT(touch(s, "secret.txt", "x"), 0);
	CHECK_EQ_INT(touch(s, "wsx/a.c", "x"), 0);
	CHECK_EQ_INT(symlink(at(p, s, "secret.txt"), at(q, s, "ws/src/evil.c")), 0);
	CHECK_EQ_INT(symlink("..", at(q, s, "ws/up")), 0);
	at(ws, s, "ws");

	CHECK_EQ_INT(ln_path_resolve_in_root(&rel, &abs, ws, ws, "../secret.txt"), LN_EPERM);
	CHECK_EQ_STR(ln_error_msg(), "path is outside the workspace: ../secret.txt");
	CHECK_EQ_INT(ln_path_resolve_in_root(&rel, &abs, ws, ws, "src/evil.c"), LN_EPERM);
	CHECK_EQ_STR(ln_error_msg(), "path is outside the workspace: src/evil.c");
	CHECK_EQ_INT(ln_path_resolve_in_root(&rel, &abs, ws, ws, "up/secret.txt"), LN_EPERM);
	/* A sibling sharing the root's name as a prefix is outside. */
	CHECK_EQ_INT(ln_path_resolve_in_root(&rel, &abs, ws, ws, "../wsx/a.c"), LN_EPERM);
	CHECK_EQ_INT(ln_path_resolve_in_root(&rel, &abs, ws, ws, at(p, s, "secret.txt")), LN_EPERM);
	/* A directory outside is a jail failure first. */
	CHECK_EQ_INT(ln_path_resolve_in_root(&rel, &abs, ws, ws, ".."), LN_EPERM);
	CHECK(rel == NULL && abs == NULL);
	scratch_remove(s);
}

TEST(core_path__resolve_refuses_missing_dirs_specials_and_long_names)
{
	char s[PATH_MAX], ws[PATH_MAX], p[PATH_MAX];
	char *rel = NULL, *abs = NULL;
	char *longp;

	CHECK_EQ_INT(scratch_make(s), 0);
	CHECK_EQ_INT(mkdirs(s, "ws/src"), 0);
	CHECK_EQ_INT(mkfifo(at(p, s, "ws/fifo"), 0600), 0);
	at(ws, s, "ws");

	CHECK_EQ_INT(ln_path_resolve_in_root(&rel, &abs, ws, ws, "src/nope.c"), LN_ENOTFOUND);
	CHECK_EQ_STR(ln_error_msg(), "no such file or directory: src/nope.c");
	CHECK_EQ_INT(ln_path_resolve_in_root(&rel, &abs, ws, ws, "src"), LN_EINPUT);
	CHECK_EQ_STR(ln_error_msg(), "is a directory, not a file: src");
	CHECK_EQ_INT(ln_path_resolve_in_root(&rel, &abs, ws, ws, "."), LN_EINPUT);
	CHECK_EQ_INT(ln_path_resolve_in_root(&rel, &abs, ws, ws, "fifo"), LN_EINPUT);
	CHECK_EQ_STR(ln_error_msg(), "not a regular file: fifo");
	CHECK_EQ_INT(ln_path_resolve_in_root(&rel, &abs, ws, ws, ""), LN_EINPUT);
	CHECK_EQ_INT(ln_path_resolve_in_root(&rel, &abs, ws, ws, NULL), LN_EINPUT);

	longp = malloc(LN_PATH_MAX + 2);
	CHECK(longp != NULL);
	memset(longp, 'a', LN_PATH_MAX + 1);
	longp[LN_PATH_MAX + 1] = '\0';
	CHECK_EQ_INT(ln_path_resolve_in_root(&rel, &abs, ws, ws, longp), LN_EINPUT);
	CHECK(strstr(ln_error_msg(), "path is too long (4097 bytes, limit 4096)") != NULL);
	/* Within the limit but with a component too long for the filesystem. */
	longp[300] = '\0';
	CHECK_EQ_INT(ln_path_resolve_in_root(&rel, &abs, ws, ws, longp), LN_EINPUT);
	free(longp);
	CHECK(rel == NULL && abs == NULL);
	scratch_remove(s);
}

TEST(core_path__relativize_is_lexical_and_marks_outside)
{
	char *rel = NULL;

	CHECK_EQ_INT(ln_path_relativize(&rel, "/ws", "/ws"), 1);
	CHECK_EQ_STR(rel, ".");
	free(rel);
	CHECK_EQ_INT(ln_path_relativize(&rel, "/ws/", "/ws/src/a.c"), 1);
	CHECK_EQ_STR(rel, "src/a.c");
	free(rel);
	CHECK_EQ_INT(ln_path_relativize(&rel, "/ws", "/ws/src/../include//./x.h"), 1);
	CHECK_EQ_STR(rel, "include/x.h");
	free(rel);
	CHECK_EQ_INT(ln_path_relativize(&rel, "/ws", "/ws/../etc/passwd"), 0);
	CHECK_EQ_STR(rel, "/ws/../etc/passwd");
	free(rel);
	CHECK_EQ_INT(ln_path_relativize(&rel, "/ws", "/wsx/a.c"), 0);
	CHECK_EQ_STR(rel, "/wsx/a.c");
	free(rel);
	CHECK_EQ_INT(ln_path_relativize(&rel, "/usr/include", "/usr/include/stdio.h"), 1);
	CHECK_EQ_STR(rel, "stdio.h");
	free(rel);
	CHECK_EQ_INT(ln_path_relativize(&rel, "/", "/a/b"), 1);
	CHECK_EQ_STR(rel, "a/b");
	free(rel);
	CHECK_EQ_INT(ln_path_relativize(&rel, "/", "/"), 1);
	CHECK_EQ_STR(rel, ".");
	free(rel);
	rel = NULL;
	CHECK_EQ_INT(ln_path_relativize(&rel, "/ws", "src/a.c"), LN_EINPUT);
	CHECK_EQ_INT(ln_path_relativize(&rel, "ws", "/ws/a.c"), LN_EINPUT);
	CHECK(rel == NULL);
}

TEST(core_path__uri_round_trips_special_and_non_ascii_names)
{
	static const struct { const char *path, *uri; } cases[] = {
		{ "/", "file:///" },
		{ "/ws/src/main.c", "file:///ws/src/main.c" },
		{ "/ws/a b/c#d/100%/x?.c", "file:///ws/a%20b/c%23d/100%25/x%3F.c" },
		{ "/ws/caf\xc3\xa9/\xe4\xb8\xad.py", "file:///ws/caf%C3%A9/%E4%B8%AD.py" },
		{ "/ws/~user/a-b_c.d", "file:///ws/~user/a-b_c.d" },
		{ "/ws/a:b@c+d=e,f;g", "file:///ws/a%3Ab%40c%2Bd%3De%2Cf%3Bg" },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *uri = ln_uri_from_path(cases[i].path), *back = NULL;

		CHECK_EQ_STR(uri, cases[i].uri);
		CHECK_EQ_INT(ln_uri_to_path(&back, uri), 0);
		CHECK_EQ_STR(back, cases[i].path);
		free(uri);
		free(back);
	}
	CHECK(ln_uri_from_path("relative/x") == NULL);
	CHECK_EQ_INT(ln_error_code(), LN_EINPUT);
}

TEST(core_path__uri_decoding_accepts_common_spellings)
{
	static const struct { const char *uri, *path; } cases[] = {
		{ "file:///ws/caf%c3%a9.c", "/ws/caf\xc3\xa9.c" },  /* lowercase hex */
		{ "file://localhost/ws/a.c", "/ws/a.c" },
		{ "FILE://LocalHost/ws/a.c", "/ws/a.c" },
		{ "file:/ws/a.c", "/ws/a.c" },                       /* no authority */
		{ "file:///ws/a b.c", "/ws/a b.c" },                 /* raw space */
		{ "file:///ws/%2e%2e/x", "/ws/../x" },              /* not normalised */
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *path = NULL;

		CHECK_EQ_INT(ln_uri_to_path(&path, cases[i].uri), 0);
		CHECK_EQ_STR(path, cases[i].path);
		free(path);
	}
}

TEST(core_path__malformed_uris_are_rejected)
{
	static const struct { const char *uri, *msg; } cases[] = {
		{ "http://example.com/a", "not a file URI: http://example.com/a" },
		{ "file://host/a", "file URI names a remote host: file://host/a" },
		{ "file://localhost", "file URI has no absolute path: file://localhost" },
		{ "file:relative/a", "file URI has no absolute path: file:relative/a" },
		{ "file:///a%0", "malformed % escape in file URI: file:///a%0" },
		{ "file:///a%", "malformed % escape in file URI: file:///a%" },
		{ "file:///a%zz", "malformed % escape in file URI: file:///a%zz" },
		{ "file:///a%g0", "malformed % escape in file URI: file:///a%g0" },
		{ "file:///a%00b", "file URI contains %00: file:///a%00b" },
		{ "file:///a?x=1", "file URI has a query or fragment: file:///a?x=1" },
		{ "file:///a#L3", "file URI has a query or fragment: file:///a#L3" },
		{ "", "not a file URI: " },
	};
	size_t i;
	char *path = NULL;
	char *huge;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		CHECK_EQ_INT(ln_uri_to_path(&path, cases[i].uri), LN_EINPUT);
		CHECK_EQ_STR(ln_error_msg(), cases[i].msg);
	}
	CHECK_EQ_INT(ln_uri_to_path(&path, NULL), LN_EINPUT);

	huge = malloc(3 * LN_PATH_MAX + 16);
	CHECK(huge != NULL);
	memcpy(huge, "file:///", 8);
	for (i = 8; i < 8 + 3 * (size_t)LN_PATH_MAX; i += 3)
		memcpy(huge + i, "%41", 3);
	huge[i] = '\0';
	CHECK_EQ_INT(ln_uri_to_path(&path, huge), LN_EINPUT);
	CHECK_EQ_STR(ln_error_msg(), "file URI path is too long (limit 4096 bytes)");
	free(huge);
	CHECK(path == NULL);
}
