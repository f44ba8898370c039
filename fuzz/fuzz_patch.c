/*
 * fuzz_patch.c - libFuzzer target for the unified-diff reader and the
 * in-memory hunk applier (sandbox/patch.c, sandbox/patch_apply.c) under ASan + UBSan.
 *
 * Each input is a patch applied (in memory: nothing is ever written) to a
 * small tree made once in a temporary folder. Besides memory errors, it
 * checks a property: when a patch applies, lanser's own preview of the
 * result (sbx_edits_diff) applies to the same tree and gives the same files.
 */
#include "sandbox/edit.h"
#include "core/err.h"
#include "core/gitlib.h"

#include <git2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64];

static void put(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", root, rel);
	f = fopen(path, "wb");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* The tree goes when the fuzzer exits (nothing is ever written into it). */
static void remove_tree(void)
{
	static const char *const files[] = { "f.txt", "crlf.txt", "nonl.txt", "src/a.c",
					     "empty.txt", "link" };
	char path[256];
	size_t i;

	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", root, files[i]);
		unlink(path);
	}
	snprintf(path, sizeof path, "%s/src", root);
	rmdir(path);
	rmdir(root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[256];

	/* held for the whole run: the library's own init/shutdown pairs
	 * then cost a counter, not a global setup per input */
	ln_git_init();
	snprintf(root, sizeof root, "/tmp/lanser-fuzz-patch.XXXXXX");
	if (!mkdtemp(root))
		abort();
	atexit(remove_tree);
	snprintf(path, sizeof path, "%s/src", root);
	mkdir(path, 0755);
	put("f.txt", "one\ntwo\nthree\nfour\nfive\nsix\nseven\n");
	put("crlf.txt", "a\r\nb\r\nc\r\n");
	put("nonl.txt", "no newline");
	put("src/a.c", "int a;\nint b;\n");
	put("empty.txt", "");
	snprintf(path, sizeof path, "%s/link", root);
	if (symlink("/etc", path) != 0) { /* the tree is still usable */ }
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbx_edits e, again;
	struct buf diff = BUF_INIT;
	size_t i;

	sbx_edits_init(&e);
	if (sbx_edits_from_diff(&e, root, (const char *)data, size) == 0 && e.n &&
	    sbx_edits_diff(&diff, &e) == 0) {
		sbx_edits_init(&again);
		if (sbx_edits_from_diff(&again, root, diff.data, diff.len) != 0) {
			fprintf(stderr, "the preview does not apply: %s\n%s\n", ln_error_msg(), diff.data);
			abort();
		}
		for (i = 0; i < e.n; i++) {
			const struct sbx_file *a = &e.v[i];
			size_t k;
			for (k = 0; k < again.n; k++)
				if (!strcmp(again.v[k].path, a->path))
					break;
			if (k == again.n || again.v[k].new_exists != a->new_exists ||
			    again.v[k].new.len != a->new.len ||
			    memcmp(again.v[k].new.data, a->new.data, a->new.len)) {
				fprintf(stderr, "the preview gives another %s\n", a->path);
				abort();
			}
		}
		sbx_edits_release(&again);
	}
	buf_release(&diff);
	sbx_edits_release(&e);
	ln_error_clear();
	return 0;
}
