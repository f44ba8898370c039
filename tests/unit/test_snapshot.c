#include "tests/unit/harness.h"
#include "core/err.h"
#include "core/snapshot.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static void mkd(const char *root, const char *rel)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", root, rel);
	mkdir(path, 0755);
}

static void rmtree(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0) { /* best effort */ }
}

/* A small tree: sources, a hidden folder, node_modules, a symlink out. */
static void make_tree(char *dir, size_t n)
{
	char link[600];

	snprintf(dir, n, "/tmp/lanser-ut-snap.XXXXXX");
	if (!mkdtemp(dir))
		return;
	mkd(dir, "src");
	mkd(dir, ".git");
	mkd(dir, "node_modules");
	put(dir, "src/a.c", "int a;\n");
	put(dir, "src/b.c", "int b;\n");
	put(dir, ".git/HEAD", "ref: x\n");
	put(dir, "node_modules/x.js", "1\n");
	put(dir, ".lanser.json", "{}\n");
	put(dir, ".hidden", "no\n");
	snprintf(link, sizeof link, "%s/out", dir);
	if (symlink("/etc", link) != 0) { /* the test checks it is skipped */ }
}

static size_t count_type(const struct ln_file_change *c, size_t n, enum ln_change_type t)
{
	size_t i, k = 0;
	for (i = 0; i < n; i++)
		k += c[i].type == t;
	return k;
}

TEST(core_snapshot__lists_files_skips_hidden_and_links_and_digests)
{
	char dir[64];
	struct ln_snapshot s;
	struct ln_file_change *ch = NULL;
	size_t n = 99;

	make_tree(dir, sizeof dir);
	ln_snapshot_init(&s, dir);
	CHECK(ln_snapshot_digest(&s) == NULL);
	CHECK_EQ_INT(ln_snapshot_scan(&s, &ch, &n), 0);
	CHECK_EQ_INT(n, 0); /* the first scan reports nothing */
	CHECK_EQ_INT(ln_snapshot_count(&s), 3);
	CHECK_EQ_STR(ln_snapshot_path(&s, 0), ".lanser.json");
	CHECK_EQ_STR(ln_snapshot_path(&s, 1), "src/a.c");
	CHECK_EQ_STR(ln_snapshot_path(&s, 2), "src/b.c");
	/* sha256("int a;\n") */
	CHECK_EQ_STR(ln_snapshot_file_hash(&s, "src/a.c"),
		     "386593f1475dc210d45a5f3d4b6bb11c065fc6fe2e08ebdd00ab4cf3a0848744");
	CHECK(ln_snapshot_file_hash(&s, "out") == NULL);
	CHECK(ln_snapshot_digest(&s) != NULL);
	CHECK(strncmp(ln_snapshot_digest(&s), "sha256:", 7) == 0);
	ln_file_changes_free(ch, n);
	ln_snapshot_release(&s);
	rmtree(dir);
}

TEST(core_snapshot__same_content_elsewhere_same_digest)
{
	char d1[64], d2[64], g1[80];
	struct ln_snapshot s1, s2;

	make_tree(d1, sizeof d1);
	make_tree(d2, sizeof d2);
	ln_snapshot_init(&s1, d1);
	ln_snapshot_init(&s2, d2);
	CHECK_EQ_INT(ln_snapshot_scan(&s1, NULL, NULL), 0);
	CHECK_EQ_INT(ln_snapshot_scan(&s2, NULL, NULL), 0);
	CHECK_EQ_STR(ln_snapshot_digest(&s1), ln_snapshot_digest(&s2));
	snprintf(g1, sizeof g1, "%s", ln_snapshot_digest(&s1));
	/* one byte of one file changes the digest */
	put(d2, "src/b.c", "int c;\n");
	CHECK_EQ_INT(ln_snapshot_scan(&s2, NULL, NULL), 0);
	CHECK(strcmp(g1, ln_snapshot_digest(&s2)) != 0);
	ln_snapshot_release(&s1);
	ln_snapshot_release(&s2);
	rmtree(d1);
	rmtree(d2);
}

TEST(core_snapshot__reports_created_changed_deleted)
{
	char dir[64];
	struct ln_snapshot s;
	struct ln_file_change *ch = NULL;
	size_t n = 0;

	make_tree(dir, sizeof dir);
	ln_snapshot_init(&s, dir);
	CHECK_EQ_INT(ln_snapshot_scan(&s, NULL, NULL), 0);
	put(dir, "src/new.c", "int n;\n");
	put(dir, "src/a.c", "int a2;\n");
	{
		char p[512];
		snprintf(p, sizeof p, "%s/src/b.c", dir);
		unlink(p);
	}
	CHECK_EQ_INT(ln_snapshot_scan(&s, &ch, &n), 0);
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_INT(count_type(ch, n, LN_FILE_CREATED), 1);
	CHECK_EQ_INT(count_type(ch, n, LN_FILE_CHANGED), 1);
	CHECK_EQ_INT(count_type(ch, n, LN_FILE_DELETED), 1);
	CHECK_EQ_STR(ch[0].path, "src/a.c"); /* sorted by path */
	CHECK_EQ_INT(ch[0].type, LN_FILE_CHANGED);
	CHECK_EQ_STR(ch[1].path, "src/b.c");
	CHECK_EQ_STR(ch[2].path, "src/new.c");
	ln_file_changes_free(ch, n);
	/* nothing changed: nothing reported */
	CHECK_EQ_INT(ln_snapshot_scan(&s, &ch, &n), 0);
	CHECK_EQ_INT(n, 0);
	ln_file_changes_free(ch, n);
	ln_snapshot_release(&s);
	rmtree(dir);
}

/* A rewrite in place with the same size and the mtime put back (as a write
 * in the same timestamp tick would leave it) is still seen: by the ctime
 * here, and by the racy-clean rule when even the ctime ties. */
TEST(core_snapshot__same_size_rewrite_with_the_same_mtime_is_seen)
{
	char dir[64], p[512];
	struct ln_snapshot s;
	struct ln_file_change *ch = NULL;
	struct stat st;
	struct timespec ts[2];
	size_t n = 0;
	int fd;

	make_tree(dir, sizeof dir);
	ln_snapshot_init(&s, dir);
	CHECK_EQ_INT(ln_snapshot_scan(&s, NULL, NULL), 0);
	snprintf(p, sizeof p, "%s/src/a.c", dir);
	CHECK(stat(p, &st) == 0);
	fd = open(p, O_WRONLY);
	CHECK(fd >= 0);
	CHECK(pwrite(fd, "int z;\n", 7, 0) == 7);
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	CHECK(futimens(fd, ts) == 0); /* mtime back to what the scan saw */
	close(fd);
	CHECK_EQ_INT(ln_snapshot_scan(&s, &ch, &n), 0);
	CHECK_EQ_INT(n, 1);
	if (n == 1) {
		CHECK_EQ_STR(ch[0].path, "src/a.c");
		CHECK_EQ_INT(ch[0].type, LN_FILE_CHANGED);
	}
	ln_file_changes_free(ch, n);
	ln_snapshot_release(&s);
	rmtree(dir);
}

TEST(core_snapshot__missing_root_is_an_error)
{
	struct ln_snapshot s;

	ln_snapshot_init(&s, "/nonexistent/lanser/root");
	CHECK_EQ_INT(ln_snapshot_scan(&s, NULL, NULL), LN_EGENERIC);
	CHECK(ln_snapshot_digest(&s) == NULL);
	ln_snapshot_release(&s);
}

/* The same answers with inotify: changes come from events, a new directory
 * falls back to a walk, and nothing changed costs no walk at all. */
TEST(core_snapshot__watching_reports_the_same_changes)
{
	char dir[64], p[600];
	struct ln_snapshot s, ref;
	struct ln_file_change *ch = NULL;
	size_t n = 0;

	make_tree(dir, sizeof dir);
	ln_snapshot_init(&s, dir);
	CHECK_EQ_INT(ln_snapshot_watch(&s), 0);
	CHECK_EQ_INT(ln_snapshot_scan(&s, NULL, NULL), 0);
	CHECK(ln_snapshot_watching(&s));
	CHECK_EQ_INT(ln_snapshot_scan(&s, &ch, &n), 0);
	CHECK_EQ_INT(n, 0);
	ln_file_changes_free(ch, n);

	put(dir, "src/a.c", "int a2;\n");
	put(dir, "src/new.c", "int n;\n");
	snprintf(p, sizeof p, "%s/src/b.c", dir);
	unlink(p);
	put(dir, ".hidden", "still not tracked\n");
	CHECK_EQ_INT(ln_snapshot_scan(&s, &ch, &n), 0);
	CHECK_EQ_INT(n, 3);
	if (n == 3) {
		CHECK_EQ_STR(ch[0].path, "src/a.c");
		CHECK_EQ_INT(ch[0].type, LN_FILE_CHANGED);
		CHECK_EQ_STR(ch[1].path, "src/b.c");
		CHECK_EQ_INT(ch[1].type, LN_FILE_DELETED);
		CHECK_EQ_STR(ch[2].path, "src/new.c");
		CHECK_EQ_INT(ch[2].type, LN_FILE_CREATED);
	}
	ln_file_changes_free(ch, n);

	/* a new directory with a file: seen through the fallback walk */
	mkd(dir, "lib");
	put(dir, "lib/x.c", "int x;\n");
	CHECK_EQ_INT(ln_snapshot_scan(&s, &ch, &n), 0);
	CHECK_EQ_INT(n, 1);
	if (n == 1)
		CHECK_EQ_STR(ch[0].path, "lib/x.c");
	ln_file_changes_free(ch, n);
	/* and a file written inside it later is an event again */
	put(dir, "lib/x.c", "int y;\n");
	CHECK_EQ_INT(ln_snapshot_scan(&s, &ch, &n), 0);
	CHECK_EQ_INT(n, 1);
	ln_file_changes_free(ch, n);

	/* same digest as a fresh walk of the same tree */
	ln_snapshot_init(&ref, dir);
	CHECK_EQ_INT(ln_snapshot_scan(&ref, NULL, NULL), 0);
	CHECK_EQ_STR(ln_snapshot_digest(&s), ln_snapshot_digest(&ref));
	CHECK_EQ_INT(ln_snapshot_count(&s), ln_snapshot_count(&ref));
	ln_snapshot_release(&ref);
	ln_snapshot_release(&s);
	rmtree(dir);
}
