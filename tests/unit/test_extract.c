/* Completions into diffs (engine/extract.h): every format, and hostile
 * inputs (huge, NUL bytes, path escapes, unterminated fences). The base is
 * an in-memory map; every produced diff is also parsed by the applier's
 * parser (sbx_edits_from_diff) against a scratch copy of that map. */
#include "tests/unit/harness.h"
#include "engine/extract.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "sandbox/edit.h"

#include <stdlib.h>
#include <string.h>

static const char *const base_files[][2] = {
	{ "src/util.c", "int max_int(int a, int b)\n{\n\treturn a > b ? a : b;\n}\n" },
	{ "src/util.h", "int max_int(int a, int b);\n" },
	{ "noeol.txt", "one\ntwo" },
	{ NULL, NULL },
};

static int reads;

static int fake_read(void *ctx, const char *path, struct buf *out)
{
	size_t i;
	(void)ctx;
	reads++;
	for (i = 0; base_files[i][0]; i++)
		if (!strcmp(base_files[i][0], path)) {
			buf_adds(out, base_files[i][1]);
			return 0;
		}
	return ln_error_set(LN_ENOTFOUND, "%s: no such file", path);
}

static void extract(struct eng_extract *x, const char *text)
{
	eng_extract_patch(x, text, strlen(text), fake_read, NULL);
}

TEST(test_extract__fenced_diff_is_taken_from_the_fence)
{
	struct eng_extract x;
	extract(&x, "Here is the fix:\n```diff\n--- a/src/util.c\n+++ b/src/util.c\n@@ -1 +1 @@\n-a\n+b\n```\nDone.\n");
	CHECK_EQ_INT(x.format, ENG_EXTRACT_DIFF);
	CHECK_EQ_STR(x.patch, "--- a/src/util.c\n+++ b/src/util.c\n@@ -1 +1 @@\n-a\n+b\n");
	CHECK_EQ_STR(x.note, "");
	eng_extract_release(&x);
	/* two fences are concatenated */
	extract(&x, "```patch\nA\n```\ntext\n```diff\nB\n```\n");
	CHECK_EQ_STR(x.patch, "A\nB\n");
	eng_extract_release(&x);
}

TEST(test_extract__bare_diff_starts_at_its_header)
{
	struct eng_extract x;
	extract(&x, "I changed it.\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n");
	CHECK_EQ_INT(x.format, ENG_EXTRACT_DIFF);
	CHECK(x.patch && !strncmp(x.patch, "diff --git a/x b/x\n", 19));
	eng_extract_release(&x);
	extract(&x, "prose\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n");
	CHECK(x.patch && !strncmp(x.patch, "--- a/x\n+++ b/x\n", 16));
	eng_extract_release(&x);
}

TEST(test_extract__search_replace_blocks_apply_to_the_base)
{
	struct eng_extract x;
	extract(&x, "src/util.c\n```c\n<<<<<<< SEARCH\n\treturn a > b ? a : b;\n=======\n"
		    "\treturn b < a ? a : b;\n>>>>>>> REPLACE\n```\n");
	CHECK_EQ_STR(x.note, "");
	CHECK_EQ_INT(x.format, ENG_EXTRACT_SEARCH_REPLACE);
	CHECK_EQ_STR(x.patch, "diff --git a/src/util.c b/src/util.c\n--- a/src/util.c\n+++ b/src/util.c\n"
			      "@@ -1,4 +1,4 @@\n-int max_int(int a, int b)\n-{\n-\treturn a > b ? a : b;\n-}\n"
			      "+int max_int(int a, int b)\n+{\n+\treturn b < a ? a : b;\n+}\n");
	eng_extract_release(&x);
	/* two blocks, the second for the same file without repeating its name */
	extract(&x, "src/util.h\n<<<<<<< SEARCH\nint max_int(int a, int b);\n=======\n"
		    "int max_int(int c, int b);\n>>>>>>> REPLACE\n"
		    "<<<<<<< SEARCH\nint max_int(int c, int b);\n=======\nint max_int(int c, int d);\n"
		    ">>>>>>> REPLACE\n");
	CHECK_EQ_STR(x.note, "");
	CHECK(x.patch && strstr(x.patch, "+int max_int(int c, int d);\n"));
	eng_extract_release(&x);
	/* an empty SEARCH creates a new file */
	extract(&x, "path: src/new.c\n<<<<<<< SEARCH\n=======\nint z;\n>>>>>>> REPLACE\n");
	CHECK(x.patch && strstr(x.patch, "new file mode 100644\n--- /dev/null\n+++ b/src/new.c\n@@ -0,0 +1,1 @@\n+int z;\n"));
	eng_extract_release(&x);
}

TEST(test_extract__search_text_missing_is_a_format_note)
{
	struct eng_extract x;
	extract(&x, "src/util.c\n<<<<<<< SEARCH\nnot there\n=======\nx\n>>>>>>> REPLACE\n");
	CHECK(x.patch == NULL);
	CHECK_EQ_INT(x.format, ENG_EXTRACT_NONE);
	CHECK(strstr(x.note, "SEARCH text is not in 'src/util.c'") != NULL);
	eng_extract_release(&x);
	extract(&x, "<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n");
	CHECK(strstr(x.note, "names no file") != NULL);
	eng_extract_release(&x);
	extract(&x, "src/util.h\n<<<<<<< SEARCH\n=======\nb\n>>>>>>> REPLACE\n");
	CHECK(strstr(x.note, "empty SEARCH for the existing file") != NULL);
	eng_extract_release(&x);
}

TEST(test_extract__unterminated_blocks_are_notes)
{
	struct eng_extract x;
	extract(&x, "src/util.c\n<<<<<<< SEARCH\na\n=======\nb\n");
	CHECK(x.patch == NULL);
	CHECK(strstr(x.note, "unterminated search/replace block (line 2)") != NULL);
	eng_extract_release(&x);
	extract(&x, "src/util.c\n<<<<<<< SEARCH\na\n");
	CHECK(strstr(x.note, "no ======= line") != NULL);
	eng_extract_release(&x);
	extract(&x, "```diff\n--- a/x\n+++ b/x\n");
	CHECK(x.patch == NULL);
	CHECK(strstr(x.note, "unterminated ```diff fence (line 1)") != NULL);
	eng_extract_release(&x);
	extract(&x, "```c src/util.c\nint x;\n");
	CHECK(x.patch == NULL);
	CHECK(strstr(x.note, "unterminated code block for 'src/util.c'") != NULL);
	eng_extract_release(&x);
}

TEST(test_extract__fenced_file_blocks_replace_whole_files)
{
	struct eng_extract x;
	extract(&x, "Updated:\n```c src/util.h\nint max_int(int a, int b, int c);\n```\n");
	CHECK_EQ_INT(x.format, ENG_EXTRACT_FILES);
	CHECK_EQ_STR(x.patch, "diff --git a/src/util.h b/src/util.h\n--- a/src/util.h\n+++ b/src/util.h\n"
			      "@@ -1,1 +1,1 @@\n-int max_int(int a, int b);\n+int max_int(int a, int b, int c);\n");
	eng_extract_release(&x);
	/* the name on the line before the fence, in its usual spellings */
	static const char *const spellings[] = { "src/util.h", "`src/util.h`", "**src/util.h**",
						 "File: src/util.h", "path: src/util.h", "src/util.h:",
						 "# file: src/util.h", NULL };
	size_t i;
	for (i = 0; spellings[i]; i++) {
		struct buf t = BUF_INIT;
		buf_addf(&t, "%s\n```c\nint y;\n```\n", spellings[i]);
		eng_extract_patch(&x, t.data, t.len, fake_read, NULL);
		CHECK(x.patch && strstr(x.patch, "+++ b/src/util.h\n@@ -1,1 +1,1 @@\n-int max_int(int a, int b);\n+int y;\n"));
		eng_extract_release(&x);
		buf_release(&t);
	}
	/* a fence naming no file is prose: nothing found */
	extract(&x, "Example:\n```c\nint y;\n```\n");
	CHECK(x.patch == NULL);
	CHECK(strstr(x.note, "no unified diff") != NULL);
	eng_extract_release(&x);
}

TEST(test_extract__no_newline_at_end_is_kept)
{
	struct eng_extract x;
	extract(&x, "noeol.txt\n<<<<<<< SEARCH\none\n=======\nuno\n>>>>>>> REPLACE\n");
	CHECK_EQ_STR(x.patch, "diff --git a/noeol.txt b/noeol.txt\n--- a/noeol.txt\n+++ b/noeol.txt\n"
			      "@@ -1,2 +1,2 @@\n-one\n-two\n\\ No newline at end of file\n+uno\n+two\n"
			      "\\ No newline at end of file\n");
	eng_extract_release(&x);
}

TEST(test_extract__unchanged_files_are_a_note)
{
	struct eng_extract x;
	extract(&x, "src/util.h\n```c\nint max_int(int a, int b);\n```\n");
	CHECK(x.patch == NULL);
	CHECK_EQ_STR(x.note, "the blocks change nothing");
	eng_extract_release(&x);
}

TEST(test_extract__hostile_paths_are_refused_before_reading)
{
	static const char *const bad[] = { "../etc/passwd", "/etc/passwd", ".git/config",
					   "src/../../x.c", "a/./b.c", "a//b.c", "sub/.GIT/hooks/x.c",
					   "a\\b.c", NULL };
	struct eng_extract x;
	size_t i;

	for (i = 0; bad[i]; i++) {
		struct buf t = BUF_INIT;
		reads = 0;
		buf_addf(&t, "%s\n```c\nint y;\n```\n", bad[i]);
		eng_extract_patch(&x, t.data, t.len, fake_read, NULL);
		CHECK(x.patch == NULL);
		CHECK(strstr(x.note, "is not a path inside the workspace") != NULL);
		CHECK_EQ_INT(reads, 0);
		eng_extract_release(&x);
		buf_reset(&t);
		buf_addf(&t, "```c %s\nint y;\n```\n", bad[i]);
		eng_extract_patch(&x, t.data, t.len, fake_read, NULL);
		CHECK(x.patch == NULL);
		eng_extract_release(&x);
		buf_release(&t);
	}
	CHECK(eng_extract_path_ok("src/util.c", 10));
	CHECK(!eng_extract_path_ok("src/ut\nil.c", 11));
	CHECK(!eng_extract_path_ok("", 0));
}

TEST(test_extract__nul_and_huge_inputs_are_notes)
{
	struct eng_extract x;
	static const char nul[] = "```diff\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+\0b\n```\n";
	size_t big = SBX_PATCH_MAX_BYTES + 1;
	char *huge;

	eng_extract_patch(&x, nul, sizeof nul - 1, fake_read, NULL);
	CHECK(x.patch == NULL);
	CHECK(strstr(x.note, "NUL byte (offset 40)") != NULL);
	eng_extract_release(&x);
	huge = xmalloc(big);
	memset(huge, '\n', big);
	eng_extract_patch(&x, huge, big, fake_read, NULL);
	CHECK(x.patch == NULL);
	CHECK(strstr(x.note, "larger than") != NULL);
	eng_extract_release(&x);
	/* just under the bound: 32 MiB of newlines, walked without a line table */
	eng_extract_patch(&x, huge, big - 1, fake_read, NULL);
	CHECK(x.patch == NULL);
	CHECK(strstr(x.note, "no unified diff") != NULL);
	eng_extract_release(&x);
	/* many markers: bounded */
	{
		struct buf t = BUF_INIT;
		size_t i;
		buf_adds(&t, "path: src/new.c\n<<<<<<< SEARCH\n=======\nx\n>>>>>>> REPLACE\n");
		for (i = 0; i < ENG_EXTRACT_MAX_BLOCKS + 5; i++)
			buf_adds(&t, "<<<<<<< SEARCH\nx\n=======\nx\n>>>>>>> REPLACE\n");
		eng_extract_patch(&x, t.data, t.len, fake_read, NULL);
		CHECK(x.patch == NULL);
		CHECK(strstr(x.note, "more than 256 search/replace blocks") != NULL);
		eng_extract_release(&x);
		buf_release(&t);
	}
	free(huge);
}

TEST(test_extract__without_a_base_blocks_are_unusable)
{
	struct eng_extract x;
	const char *t = "src/util.h\n```c\nint y;\n```\n";
	eng_extract_patch(&x, t, strlen(t), NULL, NULL);
	CHECK(x.patch == NULL);
	CHECK(strstr(x.note, "no base revision") != NULL);
	eng_extract_release(&x);
}

TEST(test_extract__garbage_never_crashes)
{
	/* a deterministic stream of marker fragments and bytes */
	static const char *const frags[] = { "```", "```c a.c", "\n", "<<<<<<< SEARCH", "=======",
					     ">>>>>>> REPLACE", "--- a/x", "+++ b/x", "diff --git ",
					     "src/util.c", "\r", " ", "@@ -1 +1 @@", "`", "..", "/" };
	unsigned seed = 12345;
	int round;

	for (round = 0; round < 2000; round++) {
		struct buf t = BUF_INIT;
		struct eng_extract x;
		int k, n = (int)(seed % 40);
		for (k = 0; k < n; k++) {
			seed = seed * 1103515245u + 12345u;
			buf_adds(&t, frags[(seed >> 8) % (sizeof frags / sizeof *frags)]);
			if ((seed >> 20) % 3 == 0)
				buf_addch(&t, '\n');
		}
		seed = seed * 1103515245u + 12345u;
		eng_extract_patch(&x, t.data, t.len, fake_read, NULL);
		CHECK((x.patch != NULL) != (x.note[0] != '\0'));
		eng_extract_release(&x);
		buf_release(&t);
	}
}
