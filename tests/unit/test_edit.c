/* Edit sets, the jail and transactions (issue 5; docs/edits.md). */
#include "tests/unit/harness.h"
#include "core/buf.h"
#include "sandbox/edit.h"
#include "core/err.h"
#include "sandbox/jail.h"
#include "sandbox/transaction.h"
#include "sandbox/txn.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void put(const char *root, const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", root, rel);
	f = fopen(path, "wb");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static char *slurp(const char *root, const char *rel)
{
	struct buf b = BUF_INIT;
	char path[512];

	snprintf(path, sizeof path, "%s/%s", root, rel);
	if (buf_read_file(&b, path, 1 << 20) != 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

static void rmtree(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0) { /* best effort */ }
}

/* A scratch repository with one commit of f.txt, crlf.txt and x.sh. */
static int make_repo(char *dir, size_t n)
{
	char cmd[700];

	snprintf(dir, n, "/tmp/lanser-unit-edit.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	put(dir, "f.txt", "one\ntwo\nthree\nfour\nfive\nsix\nseven\n");
	put(dir, "crlf.txt", "a\r\nb\r\nc\r\n");
	put(dir, "x.sh", "#!/bin/sh\n");
	snprintf(cmd, sizeof cmd, "cd '%s' && chmod 755 x.sh && git init -q && "
		 "git -c user.email=t@t -c user.name=t add -A && "
		 "git -c user.email=t@t -c user.name=t commit -qm base", dir);
	return system(cmd) == 0 ? 0 : -1;
}

TEST(sbx_diff__applies_hunks_with_offsets_and_keeps_crlf)
{
	char dir[64], *s;
	struct sbx_edits e;
	/* stated one line off; LF patch on a CRLF file */
	static const char diff[] =
		"--- a/f.txt\n+++ b/f.txt\n@@ -3,3 +3,3 @@\n three\n-four\n+FOUR\n five\n"
		"--- a/crlf.txt\n+++ b/crlf.txt\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n+b2\n c\n";

	CHECK(make_repo(dir, sizeof dir) == 0);
	sbx_edits_init(&e);
	CHECK_EQ_INT(sbx_edits_from_diff(&e, dir, diff, strlen(diff)), 0);
	CHECK_EQ_INT(e.n, 2);
	CHECK_EQ_STR(e.v[0].new.data, "one\ntwo\nthree\nFOUR\nfive\nsix\nseven\n");
	CHECK_EQ_STR(e.v[1].new.data, "a\r\nB\r\nb2\r\nc\r\n");
	CHECK_EQ_INT(e.v[0].status, SBX_MODIFIED);
	sbx_edits_release(&e);
	s = slurp(dir, "f.txt");
	CHECK(s && !strcmp(s, "one\ntwo\nthree\nfour\nfive\nsix\nseven\n"));  /* in memory only */
	free(s);
	rmtree(dir);
}

TEST(sbx_diff__reports_every_failing_hunk)
{
	char dir[64];
	struct sbx_edits e;
	static const char diff[] =
		"--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,2 @@\n one\n-TWO\n+2\n@@ -6,2 +6,2 @@\n six\n-SEVEN\n+7\n";

	CHECK(make_repo(dir, sizeof dir) == 0);
	sbx_edits_init(&e);
	CHECK_EQ_INT(sbx_edits_from_diff(&e, dir, diff, strlen(diff)), LN_ECONFLICT);
	CHECK_EQ_INT(json_array_size(e.conflicts), 2);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(e.conflicts, 1), "hunk")), 2);
	CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(json_array_get(e.conflicts, 0),
		"expected"), 1)), "TWO");
	CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(json_array_get(e.conflicts, 0),
		"actual"), 1)), "two");
	sbx_edits_release(&e);
	rmtree(dir);
}

TEST(sbx_diff__no_newline_at_end_of_file_and_new_file)
{
	char dir[64];
	struct sbx_edits e;
	static const char diff[] =
		"diff --git a/f.txt b/f.txt\n--- a/f.txt\n+++ b/f.txt\n@@ -7 +7 @@\n-seven\n+SEVEN\n"
		"\\ No newline at end of file\n"
		"diff --git \"a/sp ace\\tx\" \"b/sp ace\\tx\"\nnew file mode 100755\n--- /dev/null\n"
		"+++ \"b/sp ace\\tx\"\n@@ -0,0 +1 @@\n+hi\n";

	CHECK(make_repo(dir, sizeof dir) == 0);
	sbx_edits_init(&e);
	CHECK_EQ_INT(sbx_edits_from_diff(&e, dir, diff, strlen(diff)), LN_EPERM); /* tab in a name */
	sbx_edits_release(&e);
	sbx_edits_init(&e);
	CHECK_EQ_INT(sbx_edits_from_diff(&e, dir, diff, strstr(diff, "diff --git \"") - diff), 0);
	CHECK_EQ_STR(e.v[0].new.data, "one\ntwo\nthree\nfour\nfive\nsix\nSEVEN");
	sbx_edits_release(&e);
	rmtree(dir);
}

/* The journal and every report are JSON: a name that is not UTF-8 is
 * refused before anything is read or written. */
TEST(sbx_diff__refuses_a_path_that_is_not_utf8)
{
	char dir[64];
	struct sbx_edits e;
	static const char diff[] = "--- /dev/null\n+++ b/caf\xe9.c\n@@ -0,0 +1 @@\n+int x;\n";

	CHECK(make_repo(dir, sizeof dir) == 0);
	sbx_edits_init(&e);
	CHECK_EQ_INT(sbx_edits_from_diff(&e, dir, diff, strlen(diff)), LN_EINPUT);
	CHECK(strstr(ln_error_msg(), "not UTF-8") != NULL);
	sbx_edits_release(&e);
	rmtree(dir);
}

TEST(sbx_diff__refuses_binary_oversized_and_malformed)
{
	char dir[64], *big;
	struct sbx_edits e;
	static const char bin[] = "diff --git a/b b/b\nnew file mode 100644\nGIT binary patch\nliteral 1\n";
	static const char trunc[] = "--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n one\n";
	static const char nul[] = "--- a/f.txt\n+++ b/f.txt\n@@ -1 +1 @@\n-one\n+o\0e\n";
	size_t n = SBX_PATCH_MAX_LINE + 64;

	CHECK(make_repo(dir, sizeof dir) == 0);
	sbx_edits_init(&e);
	CHECK_EQ_INT(sbx_edits_from_diff(&e, dir, bin, strlen(bin)), LN_EINPUT);
	CHECK_EQ_INT(sbx_edits_from_diff(&e, dir, trunc, strlen(trunc)), LN_EINPUT);
	CHECK_EQ_INT(sbx_edits_from_diff(&e, dir, nul, sizeof nul - 1), LN_EINPUT);
	big = malloc(n + 100);
	CHECK(big != NULL);
	snprintf(big, 100, "--- /dev/null\n+++ b/big\n@@ -0,0 +1 @@\n+");
	memset(big + strlen(big), 'x', n);
	big[n] = '\n';
	CHECK_EQ_INT(sbx_edits_from_diff(&e, dir, big, n + 1), LN_EINPUT);
	free(big);
	sbx_edits_release(&e);
	rmtree(dir);
}

TEST(sbx_jail__lexical_rules)
{
	CHECK_EQ_INT(sbx_jail_check_lexical("src/a.c"), 0);
	CHECK_EQ_INT(sbx_jail_check_lexical(".github/x.yml"), 0);
	CHECK_EQ_INT(sbx_jail_check_lexical(".gitignore"), 0);
	CHECK_EQ_INT(sbx_jail_check_lexical("../x"), LN_EPERM);
	CHECK_EQ_INT(sbx_jail_check_lexical("a/../../x"), LN_EPERM);
	CHECK_EQ_INT(sbx_jail_check_lexical("/etc/passwd"), LN_EPERM);
	CHECK_EQ_INT(sbx_jail_check_lexical(".git/config"), LN_EPERM);
	CHECK_EQ_INT(sbx_jail_check_lexical("a/.GiT/hooks/x"), LN_EPERM);
	CHECK_EQ_INT(sbx_jail_check_lexical("a//b"), LN_EPERM);
	CHECK_EQ_INT(sbx_jail_check_lexical("a\nb"), LN_EPERM);
	CHECK_EQ_INT(sbx_jail_check_lexical("a\\b"), LN_EPERM);
	CHECK_EQ_INT(sbx_jail_check_lexical(".cache/clangd/index/x"), LN_EPERM);
	CHECK_EQ_INT(sbx_jail_check_lexical(""), LN_EPERM);
}

TEST(sbx_wsedit__utf16_positions_renames_and_overlaps)
{
	char dir[64], uri[200], uri2[200];
	struct sbx_edits e;
	json_t *we;

	CHECK(make_repo(dir, sizeof dir) == 0);
	/* U+1F600 is 2 UTF-16 units, 4 bytes */
	put(dir, "u.py", "s = \"\xF0\x9F\x98\x80\"; name = 1\n");
	snprintf(uri, sizeof uri, "file://%s/u.py", dir);
	snprintf(uri2, sizeof uri2, "file://%s/v.py", dir);
	we = json_pack("{s:[{s:{s:s, s:i}, s:[{s:{s:{s:i,s:i},s:{s:i,s:i}}, s:s}]}, "
		       "{s:s, s:s, s:s}]}", "documentChanges",
		       "textDocument", "uri", uri, "version", 1,
		       "edits", "range", "start", "line", 0, "character", 10, "end", "line", 0,
		       "character", 14, "newText", "label",
		       "kind", "rename", "oldUri", uri, "newUri", uri2);
	sbx_edits_init(&e);
	CHECK_EQ_INT(sbx_edits_from_workspace_edit(&e, dir, we, LN_ENC_UTF16), 0);
	CHECK_EQ_INT(e.n, 1);
	CHECK_EQ_INT(e.v[0].status, SBX_RENAMED);
	CHECK_EQ_STR(e.v[0].from, "u.py");
	CHECK_EQ_STR(e.v[0].path, "v.py");
	CHECK_EQ_STR(e.v[0].new.data, "s = \"\xF0\x9F\x98\x80\"; label = 1\n");
	sbx_edits_release(&e);
	json_decref(we);
	/* overlapping edits are the server's fault */
	we = json_pack("{s:{s:[{s:{s:{s:i,s:i},s:{s:i,s:i}},s:s},{s:{s:{s:i,s:i},s:{s:i,s:i}},s:s}]}}",
		       "changes", uri, "range", "start", "line", 0, "character", 0, "end", "line", 0,
		       "character", 3, "newText", "x", "range", "start", "line", 0, "character", 2,
		       "end", "line", 0, "character", 4, "newText", "y");
	sbx_edits_init(&e);
	CHECK_EQ_INT(sbx_edits_from_workspace_edit(&e, dir, we, LN_ENC_UTF16), LN_ECRASH);
	sbx_edits_release(&e);
	json_decref(we);
	/* a URI outside the root */
	we = json_pack("{s:{s:[]}}", "changes", "file:///etc/passwd");
	sbx_edits_init(&e);
	CHECK_EQ_INT(sbx_edits_from_workspace_edit(&e, dir, we, LN_ENC_UTF16), LN_EPERM);
	sbx_edits_release(&e);
	json_decref(we);
	rmtree(dir);
}

TEST(sbx_txn__dry_run_apply_report_and_dirty)
{
	char dir[64], *s;
	json_t *rep = NULL;
	struct sbx_apply_opts dry = { false, true, NULL }, real = { false, false, "msg" };
	static const char diff[] = "--- a/f.txt\n+++ b/f.txt\n@@ -1 +1 @@\n-one\n+ONE\n";

	CHECK(make_repo(dir, sizeof dir) == 0);
	CHECK_EQ_INT(sbx_txn_recover(dir), 0);
	CHECK_EQ_INT(sbx_patch_apply(dir, diff, strlen(diff), &dry, &rep), 0);
	json_decref(rep);
	s = slurp(dir, "f.txt");
	CHECK(s && !strncmp(s, "one\n", 4));
	free(s);
	CHECK_EQ_INT(sbx_patch_apply(dir, diff, strlen(diff), &real, &rep), 0);
	CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(json_object_get(rep, "files"), 0),
							"status")), "modified");
	CHECK(json_is_string(json_object_get(rep, "commit")));
	json_decref(rep);
	s = slurp(dir, "f.txt");
	CHECK(s && !strncmp(s, "ONE\n", 4));
	free(s);
	put(dir, "crlf.txt", "dirty\n");
	CHECK_EQ_INT(sbx_patch_apply(dir, diff, strlen(diff), &dry, NULL), LN_ECONFLICT);
	rmtree(dir);
}

/* A transaction whose process dies before commit is rolled back by the
 * next sbx_txn_recover(), bytes and mode exactly. */
TEST(sbx_txn__recover_rolls_back_a_dead_transaction)
{
	char dir[64], *s;
	struct stat st;
	pid_t pid;
	int status;
	static const char diff[] =
		"diff --git a/x.sh b/x.sh\nold mode 100755\nnew mode 100644\n--- a/x.sh\n+++ b/x.sh\n"
		"@@ -1 +1 @@\n-#!/bin/sh\n+#!/bin/bash\n"
		"diff --git a/n/new.txt b/n/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/n/new.txt\n"
		"@@ -0,0 +1 @@\n+new\n";

	CHECK(make_repo(dir, sizeof dir) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct sbx_edits e;
		struct sbx_txn *t = NULL;
		struct sbx_apply_opts o = { false, false, NULL };
		sbx_edits_init(&e);
		if (sbx_edits_from_diff(&e, dir, diff, strlen(diff)) == 0 &&
		    sbx_txn_begin(&t, dir, &e, &o) == 0)
			_exit(0);   /* dies with the transaction pending */
		_exit(1);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	s = slurp(dir, "x.sh");
	CHECK(s && !strcmp(s, "#!/bin/bash\n"));   /* the dead process wrote it */
	free(s);
	CHECK_EQ_INT(sbx_txn_recover(dir), 1);
	s = slurp(dir, "x.sh");
	CHECK(s && !strcmp(s, "#!/bin/sh\n"));
	free(s);
	CHECK(stat(dir, &st) == 0);
	{
		char p[200];
		snprintf(p, sizeof p, "%s/x.sh", dir);
		CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0755);
		snprintf(p, sizeof p, "%s/n", dir);
		CHECK(stat(p, &st) != 0);        /* the folder it made is gone too */
		snprintf(p, sizeof p, "%s/.git/lanser-txn", dir);
		CHECK(stat(p, &st) != 0);
	}
	CHECK_EQ_INT(sbx_txn_recover(dir), 0);
	rmtree(dir);
}

TEST(sbx_diff__plain_diff_names)
{
	char dir[64];
	struct sbx_edits e;
	static const char p1[] = "--- old/f.txt\t2026-01-01\n+++ new/f.txt\t2026-01-02\n@@ -1 +1 @@\n-one\n+1\n";
	static const char p0[] = "--- f.txt\n+++ f.txt\n@@ -1 +1 @@\n-one\n+1\n";
	static const char np[] = "diff --git f.txt f.txt\n--- f.txt\n+++ f.txt\n@@ -1 +1 @@\n-one\n+1\n";

	CHECK(make_repo(dir, sizeof dir) == 0);
	sbx_edits_init(&e);
	CHECK_EQ_INT(sbx_edits_from_diff(&e, dir, p1, strlen(p1)), 0);
	CHECK_EQ_STR(e.v[0].path, "f.txt");
	CHECK_EQ_INT(e.v[0].status, SBX_MODIFIED);
	sbx_edits_release(&e);
	sbx_edits_init(&e);
	CHECK_EQ_INT(sbx_edits_from_diff(&e, dir, p0, strlen(p0)), 0);
	CHECK_EQ_STR(e.v[0].path, "f.txt");
	sbx_edits_release(&e);
	sbx_edits_init(&e);
	CHECK_EQ_INT(sbx_edits_from_diff(&e, dir, np, strlen(np)), 0);
	CHECK_EQ_STR(e.v[0].path, "f.txt");
	sbx_edits_release(&e);
	rmtree(dir);
}

TEST(sbx_wsedit__create_edit_delete_and_collisions)
{
	char dir[64], u_new[200], u_f[200], u_crlf[200];
	struct sbx_edits e;
	json_t *we;
	size_t i;
	int seen = 0;

	CHECK(make_repo(dir, sizeof dir) == 0);
	snprintf(u_new, sizeof u_new, "file://%s/pkg/new.py", dir);
	snprintf(u_f, sizeof u_f, "file://%s/f.txt", dir);
	snprintf(u_crlf, sizeof u_crlf, "file://%s/crlf.txt", dir);
	we = json_pack("{s:[{s:s, s:s}, {s:{s:s, s:n}, s:[{s:{s:{s:i,s:i},s:{s:i,s:i}}, s:s}]}, "
		       "{s:s, s:s}]}", "documentChanges",
		       "kind", "create", "uri", u_new,
		       "textDocument", "uri", u_new, "version",
		       "edits", "range", "start", "line", 0, "character", 0, "end", "line", 0,
		       "character", 0, "newText", "x = 1\n",
		       "kind", "delete", "uri", u_f);
	sbx_edits_init(&e);
	CHECK_EQ_INT(sbx_edits_from_workspace_edit(&e, dir, we, LN_ENC_UTF16), 0);
	CHECK_EQ_INT(e.n, 2);
	for (i = 0; i < e.n; i++) {
		if (!strcmp(e.v[i].path, "pkg/new.py")) {
			CHECK_EQ_INT(e.v[i].status, SBX_ADDED);
			CHECK_EQ_STR(e.v[i].new.data, "x = 1\n");
			seen++;
		} else if (!strcmp(e.v[i].path, "f.txt")) {
			CHECK_EQ_INT(e.v[i].status, SBX_DELETED);
			CHECK(!e.v[i].new_exists);
			seen++;
		}
	}
	CHECK_EQ_INT(seen, 2);
	sbx_edits_release(&e);
	json_decref(we);
	/* creating over an existing file without overwrite collides */
	we = json_pack("{s:[{s:s, s:s}]}", "documentChanges", "kind", "create", "uri", u_crlf);
	sbx_edits_init(&e);
	CHECK_EQ_INT(sbx_edits_from_workspace_edit(&e, dir, we, LN_ENC_UTF16), LN_ECONFLICT);
	sbx_edits_release(&e);
	json_decref(we);
	/* an edit past the end of a line is the server's fault */
	we = json_pack("{s:{s:[{s:{s:{s:i,s:i},s:{s:i,s:i}},s:s}]}}", "changes", u_crlf,
		       "range", "start", "line", 0, "character", 5, "end", "line", 0, "character", 6,
		       "newText", "x");
	sbx_edits_init(&e);
	CHECK_EQ_INT(sbx_edits_from_workspace_edit(&e, dir, we, LN_ENC_UTF16), LN_ECRASH);
	sbx_edits_release(&e);
	json_decref(we);
	rmtree(dir);
}

TEST(sbx_whole_file__replace_and_add_through_a_transaction)
{
	char dir[64], *s, p[200];
	struct sbx_edits e;
	struct sbx_apply_opts o = { false, false, NULL };
	struct stat st;
	json_t *rep = NULL;

	CHECK(make_repo(dir, sizeof dir) == 0);
	sbx_edits_init(&e);
	CHECK_EQ_INT(sbx_edits_replace_file(&e, dir, "x.sh", "#!/bin/sh\necho new\n", 20), 0);
	CHECK_EQ_INT(sbx_edits_replace_file(&e, dir, "lib/new.txt", "fresh\n", 6), 0);
	CHECK_EQ_INT(sbx_edits_replace_file(&e, dir, ".git/config", "x", 1), LN_EPERM);
	CHECK_EQ_INT(sbx_edits_replace_file(&e, dir, "x.sh", "again", 5), LN_EINPUT);
	CHECK_EQ_INT(e.n, 2);
	CHECK_EQ_INT(e.v[0].status, SBX_MODIFIED);
	CHECK_EQ_INT(e.v[1].status, SBX_ADDED);
	CHECK_EQ_INT(sbx_apply_edits(dir, &e, &o, &rep), 0);
	CHECK_EQ_INT(json_array_size(json_object_get(rep, "files")), 2);
	json_decref(rep);
	sbx_edits_release(&e);
	s = slurp(dir, "x.sh");
	CHECK(s && !strcmp(s, "#!/bin/sh\necho new\n"));
	free(s);
	snprintf(p, sizeof p, "%s/x.sh", dir);
	CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0755);   /* the mode is kept */
	s = slurp(dir, "lib/new.txt");
	CHECK(s && !strcmp(s, "fresh\n"));
	free(s);
	rmtree(dir);
}

/* A file and a path below it, from a server's WorkspaceEdit: refused when
 * the set is built (77), and by the transaction for a set built by hand. */
TEST(sbx_edits__refuses_a_file_and_a_folder_of_one_name)
{
	char dir[64], u_a[200], u_b[200];
	struct sbx_edits e;
	struct sbx_txn *t = NULL;
	struct sbx_apply_opts o = { 0 };
	struct stat st;
	json_t *we;

	CHECK(make_repo(dir, sizeof dir) == 0);
	snprintf(u_a, sizeof u_a, "file://%s/src/x.c", dir);
	snprintf(u_b, sizeof u_b, "file://%s/src/x.c/y.c", dir);
	we = json_pack("{s:[{s:s, s:s}, {s:s, s:s}]}", "documentChanges",
		       "kind", "create", "uri", u_a, "kind", "create", "uri", u_b);
	sbx_edits_init(&e);
	CHECK_EQ_INT(sbx_edits_from_workspace_edit(&e, dir, we, LN_ENC_UTF16), LN_EINPUT);
	CHECK(strstr(ln_error_msg(), "src/x.c would be a file and src/x.c/y.c") != NULL);
	json_decref(we);
	/* the same set made by hand goes no further than the transaction's check */
	sbx_edits_release(&e);
	sbx_edits_init(&e);
	CHECK_EQ_INT(sbx_edits_replace_file(&e, dir, "src/x.c/y.c", "b\n", 2), 0);
	CHECK_EQ_INT(sbx_edits_replace_file(&e, dir, "src/x.c", "a\n", 2), 0);
	CHECK_EQ_INT(sbx_txn_begin(&t, dir, &e, &o), LN_EINPUT);
	CHECK(t == NULL);
	CHECK(lstat(dir, &st) == 0);
	{
		char p[128];
		snprintf(p, sizeof p, "%s/src", dir);
		CHECK(lstat(p, &st) != 0);   /* nothing written */
		snprintf(p, sizeof p, "%s/.git/lanser-txn", dir);
		CHECK(lstat(p, &st) != 0);   /* no journal */
	}
	sbx_edits_release(&e);
	rmtree(dir);
}
