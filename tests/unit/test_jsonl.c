/*
 * test_jsonl.c - the bounded line reader (core/jsonl.h) and the atomic
 * file writer (core/atomicfile.h).
 */
#include "tests/unit/harness.h"
#include "core/atomicfile.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/jsonl.h"
#include "core/xalloc.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CAP 16

/* A FILE* over `len` bytes of `data`. */
static FILE *mem(const char *data, size_t len)
{
	return fmemopen((void *)data, len, "r");
}

TEST(core_jsonl__lines_under_and_at_the_cap_pass_one_over_is_refused_with_its_number)
{
	/* 15 bytes, 16 bytes, 17 bytes, then a short line after the long one */
	const char in[] = "aaaaaaaaaaaaaaa\nbbbbbbbbbbbbbbbb\nccccccccccccccccc\nd\n";
	FILE *fp = mem(in, sizeof in - 1);
	struct ln_jsonl r;
	const char *l;
	size_t n;

	CHECK(fp);
	ln_jsonl_init_file(&r, fp, CAP);
	CHECK_EQ_INT(ln_jsonl_next(&r, &l, &n), 1);
	CHECK_EQ_INT(n, 15);
	CHECK_EQ_STR(l, "aaaaaaaaaaaaaaa");
	CHECK_EQ_INT(ln_jsonl_next(&r, &l, &n), 1);
	CHECK_EQ_INT(n, CAP);
	CHECK_EQ_STR(l, "bbbbbbbbbbbbbbbb");
	CHECK_EQ_INT(ln_jsonl_next(&r, &l, &n), LN_EINPUT);
	CHECK_EQ_STR(ln_error_msg(), "line 3 is longer than 16 bytes");
	CHECK_EQ_INT(ln_jsonl_lineno(&r), 3);
	/* nothing of the long line was kept beyond the cap */
	CHECK(r.line.cap <= 2 * CAP + 64);
	/* the reader goes on after the refused line */
	CHECK_EQ_INT(ln_jsonl_next(&r, &l, &n), 1);
	CHECK_EQ_STR(l, "d");
	CHECK_EQ_INT(ln_jsonl_lineno(&r), 4);
	CHECK_EQ_INT(ln_jsonl_next(&r, &l, &n), 0);
	ln_jsonl_release(&r);
	fclose(fp);
}

TEST(core_jsonl__a_huge_line_is_refused_without_being_stored)
{
	size_t big = 3 * LN_JSONL_BLOCK + 17;
	char *in = xmalloc(big + 3);
	struct ln_jsonl r;
	const char *l;
	size_t n;
	FILE *fp;

	memset(in, 'x', big);
	memcpy(in + big, "\ny", 2);
	fp = mem(in, big + 2);
	CHECK(fp);
	ln_jsonl_init_file(&r, fp, 1000);
	CHECK_EQ_INT(ln_jsonl_next(&r, &l, &n), LN_EINPUT);
	CHECK(r.line.cap < 4096);
	/* the last line has no newline: accepted */
	CHECK_EQ_INT(ln_jsonl_next(&r, &l, &n), 1);
	CHECK_EQ_STR(l, "y");
	CHECK_EQ_INT(ln_jsonl_next(&r, &l, &n), 0);
	ln_jsonl_release(&r);
	fclose(fp);
	free(in);
}

TEST(core_jsonl__nul_bytes_are_refused_and_empty_lines_returned)
{
	const char in[] = "{}\n\nx\0y\n{\"a\":1}";
	FILE *fp = mem(in, sizeof in - 1);
	struct ln_jsonl r;
	const char *l;
	size_t n;

	CHECK(fp);
	ln_jsonl_init_file(&r, fp, CAP);
	CHECK_EQ_INT(ln_jsonl_next(&r, &l, &n), 1);
	CHECK_EQ_STR(l, "{}");
	CHECK_EQ_INT(ln_jsonl_next(&r, &l, &n), 1);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(ln_jsonl_next(&r, &l, &n), LN_EINPUT);
	CHECK_EQ_STR(ln_error_msg(), "line 3 holds a NUL byte");
	CHECK_EQ_INT(ln_jsonl_next(&r, &l, &n), 1);
	CHECK_EQ_STR(l, "{\"a\":1}");
	CHECK_EQ_INT(ln_jsonl_lineno(&r), 4);
	CHECK_EQ_INT(ln_jsonl_next(&r, &l, &n), 0);
	ln_jsonl_release(&r);
	fclose(fp);
}

/* A writer that sends lines in pieces that split lines and the cap. */
static pid_t writer(int fd, size_t nlines, size_t linelen)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct buf all = BUF_INIT;
		size_t i, off;
		for (i = 0; i < nlines; i++) {
			size_t k;
			for (k = 0; k < linelen; k++)
				buf_addch(&all, 'a' + (int)((i + k) % 26));
			buf_addch(&all, '\n');
		}
		for (off = 0; off < all.len; off += 7) {
			size_t k = all.len - off < 7 ? all.len - off : 7;
			if (ln_write_all(fd, all.data + off, k) < 0)
				_exit(1);
		}
		_exit(0);
	}
	return pid;
}

static void read_pipe(bool as_file)
{
	struct ln_jsonl r;
	const char *l;
	size_t n, lines = 0;
	int p[2], st = 0, k;
	FILE *fp = NULL;
	pid_t pid;

	CHECK(pipe(p) == 0);
	pid = writer(p[1], 500, CAP);
	CHECK(pid > 0);
	close(p[1]);
	if (as_file) {
		fp = fdopen(p[0], "r");
		CHECK(fp);
		ln_jsonl_init_file(&r, fp, CAP);
	} else {
		ln_jsonl_init_fd(&r, p[0], CAP);
	}
	while ((k = ln_jsonl_next(&r, &l, &n)) == 1) {
		CHECK_EQ_INT(n, CAP);
		CHECK_EQ_INT(l[0], 'a' + (int)(lines % 26));
		lines++;
	}
	CHECK_EQ_INT(k, 0);
	CHECK_EQ_INT(lines, 500);
	ln_jsonl_release(&r);
	if (fp)
		fclose(fp);
	else
		close(p[0]);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST(core_jsonl__reads_every_line_at_the_cap_through_a_pipe_fd)
{
	read_pipe(false);
}

TEST(core_jsonl__reads_every_line_at_the_cap_through_a_pipe_file)
{
	read_pipe(true);
}

TEST(core_atomicfile__replaces_a_file_and_leaves_no_temporary)
{
	char dir[] = "/tmp/lanser-atomic-XXXXXX", path[96], buf[32] = "";
	struct ln_atomic_opts o = { .mode = 0640 };
	struct stat st;
	int fd;
	ssize_t n;

	CHECK(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/f.json", dir);
	CHECK_EQ_INT(ln_atomic_write(path, "old", 3, NULL), 0);
	CHECK_EQ_INT(ln_atomic_write(path, "new!", 4, &o), 0);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	CHECK_EQ_INT(n, 4);
	CHECK_EQ_STR(buf, "new!");
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640);
	/* only the file is there */
	unlink(path);
	CHECK(rmdir(dir) == 0);
}

TEST(core_atomicfile__a_failure_leaves_the_old_file_and_no_temporary)
{
	char dir[] = "/tmp/lanser-atomic-XXXXXX", path[96], sub[96];
	struct ln_atomic_opts o = { .tmpname = "t.tmp", .name = "the file" };

	CHECK(mkdtemp(dir));
	/* the target is a non-empty folder: the rename fails */
	snprintf(path, sizeof path, "%s/f", dir);
	snprintf(sub, sizeof sub, "%s/f/x", dir);
	CHECK(mkdir(path, 0700) == 0 && mkdir(sub, 0700) == 0);
	CHECK(ln_atomic_write(path, "data", 4, &o) < 0);
	CHECK(strstr(ln_error_msg(), "cannot replace the file") != NULL);
	snprintf(sub, sizeof sub, "%s/t.tmp", dir);
	CHECK(access(sub, F_OK) < 0);
	snprintf(sub, sizeof sub, "%s/f/x", dir);
	CHECK(rmdir(sub) == 0 && rmdir(path) == 0 && rmdir(dir) == 0);
}
