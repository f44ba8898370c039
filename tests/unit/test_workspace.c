/* lsp/workspace: overlays and refresh against disk, with the real clangd. */
#include "tests/unit/harness.h"
#include "core/err.h"
#include "lsp/workspace.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void put(const char *root, const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", root, rel);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void rmtree(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0) { /* best effort */ }
}

/* The diagnostics clangd publishes for `rel` as the workspace sees it now. */
static int diag_count(struct lsp_workspace *ws, const char *rel)
{
	struct lsp_server_info *srv;
	json_t *d = NULL;
	char *uri;
	int version, n;

	if (lsp_workspace_open(ws, &srv, &version, rel))
		return -1;
	uri = lsp_workspace_uri(ws, rel);
	n = lsp_session_wait_diagnostics(srv->session, &d, uri, version, 20000) ? -2
		: (int)json_array_size(d);
	json_decref(d);
	free(uri);
	return n;
}

static bool have_clangd(void)
{
	return system("command -v clangd >/dev/null 2>&1") == 0;
}

TEST(lsp_workspace__overlay_is_seen_then_disk_text_comes_back)
{
	char dir[64];
	struct lsp_workspace *ws = NULL;
	struct lsp_workspace_opts wo = { 0 };
	const struct ln_text *t;
	const char *bad = "int f(void) { return \"x\"; }\n";

	signal(SIGPIPE, SIG_IGN);
	CHECK(have_clangd());
	snprintf(dir, sizeof dir, "/tmp/lanser-ut-ws.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	put(dir, "a.c", "int f(void) { return 1; }\n");
	put(dir, "compile_flags.txt", "-std=c11\n");
	wo.root = dir;
	wo.init_ms = 30000;
	wo.request_ms = 30000;
	wo.restart = true;
	wo.track_files = true;
	CHECK_EQ_INT(lsp_workspace_new(&ws, &wo), 0);
	CHECK_EQ_INT(lsp_workspace_refresh(ws), 0);
	CHECK_EQ_INT(diag_count(ws, "a.c"), 0);

	/* an overlay replaces the text for this request, in the server too */
	CHECK_EQ_INT(lsp_workspace_set_overlay(ws, "a.c", bad, strlen(bad)), 0);
	CHECK(lsp_workspace_has_overlays(ws));
	CHECK_EQ_INT(lsp_workspace_text(ws, &t, "a.c"), 0);
	CHECK(t->len == strlen(bad) && !memcmp(t->data, bad, t->len));
	CHECK_EQ_INT(diag_count(ws, "a.c"), 1);

	/* dropped: the next request sees the disk again, in the server too */
	lsp_workspace_drop_overlays(ws);
	CHECK(!lsp_workspace_has_overlays(ws));
	CHECK_EQ_INT(lsp_workspace_refresh(ws), 0);
	CHECK_EQ_INT(lsp_workspace_text(ws, &t, "a.c"), 0);
	CHECK(t->len == strlen("int f(void) { return 1; }\n"));
	CHECK_EQ_INT(diag_count(ws, "a.c"), 0);

	/* an edit on disk reaches the server at the next refresh */
	put(dir, "a.c", bad);
	CHECK_EQ_INT(lsp_workspace_refresh(ws), 0);
	CHECK_EQ_INT(diag_count(ws, "a.c"), 1);

	/* overlays are bounded and must be text */
	CHECK_EQ_INT(lsp_workspace_set_overlay(ws, "b.c", "a\0b", 3), LN_EINPUT);
	lsp_workspace_free(ws);
	rmtree(dir);
}

TEST(lsp_workspace__refresh_fails_when_the_root_is_gone)
{
	char dir[64];
	struct lsp_workspace *ws = NULL;
	struct lsp_workspace_opts wo = { 0 };

	snprintf(dir, sizeof dir, "/tmp/lanser-ut-ws.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	wo.root = dir;
	wo.track_files = true;
	CHECK_EQ_INT(lsp_workspace_new(&ws, &wo), 0);
	CHECK_EQ_INT(lsp_workspace_refresh(ws), 0);
	CHECK(lsp_workspace_content_digest(ws) != NULL);
	rmtree(dir);
	CHECK(lsp_workspace_refresh(ws) != 0);
	lsp_workspace_free(ws);
}
