/* The box for long-lived programs (sandbox/box.h): a boxed program cannot
 * read a host file under a 0700 folder, and a boxed clangd cannot put such
 * a file's text into its diagnostics; each check has its control outside
 * the box (the same command does see the file there). */
#include "tests/unit/harness.h"

#include "sandbox/box.h"
#include "core/err.h"
#include "core/proc.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET_WORD "LanserSecretWord4711"

struct secret {
	char dir[400], file[512];
};

/* A 0700 folder in the home directory (/root as root) holding a file with
 * SECRET_WORD; removed by secret_drop. */
static int secret_make(struct secret *s)
{
	const char *home = getenv("HOME");
	FILE *f;

	if (!home || home[0] != '/')
		home = "/tmp";
	snprintf(s->dir, sizeof s->dir, "%.300s/.lanser-box-secret-%d", home, (int)getpid());
	snprintf(s->file, sizeof s->file, "%s/s.h", s->dir);
	if (mkdir(s->dir, 0700) < 0 && errno != EEXIST)
		return -1;
	f = fopen(s->file, "w");
	if (!f)
		return -1;
	fprintf(f, SECRET_WORD "\n");
	fclose(f);
	chmod(s->file, 0600);
	return 0;
}

static void secret_drop(struct secret *s)
{
	unlink(s->file);
	rmdir(s->dir);
}

/* Runs argv to its end; *out gets stdout and stderr together. 0 or -1. */
static int run_collect(const char *const *argv, char *out, size_t cap, int *exitcode)
{
	struct ln_proc p;
	struct ln_proc_opts o;
	size_t len = 0;

	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.out = LN_STDIO_PIPE;
	o.err = LN_STDIO_PIPE;
	o.die_with_parent = true;
	if (ln_proc_spawn(&p, &o))
		return -1;
	while (p.out_fd >= 0 || p.err_fd >= 0) {
		struct pollfd fds[2];
		int n = 0, i;

		if (p.out_fd >= 0)
			fds[n++] = (struct pollfd){ p.out_fd, POLLIN, 0 };
		if (p.err_fd >= 0)
			fds[n++] = (struct pollfd){ p.err_fd, POLLIN, 0 };
		if (poll(fds, (nfds_t)n, 60000) <= 0)
			break;
		for (i = 0; i < n; i++) {
			ssize_t r;
			if (!fds[i].revents)
				continue;
			r = read(fds[i].fd, out + len, cap - 1 - len);
			if (r > 0) {
				len += (size_t)r;
				if (len >= cap - 1)
					len = 0; /* keep the tail only: enough for a check */
			} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
				close(fds[i].fd);
				if (fds[i].fd == p.out_fd)
					p.out_fd = -1;
				else
					p.err_fd = -1;
			}
		}
	}
	out[len] = '\0';
	ln_proc_wait(&p, -1);
	*exitcode = p.status.exited ? p.status.exitcode : 128 + p.status.signal;
	return 0;
}

static char scratch_root[256];

static const char *make_root(void)
{
	snprintf(scratch_root, sizeof scratch_root, "/tmp/lanser-box-test-%d", (int)getpid());
	mkdir(scratch_root, 0755);
	return scratch_root;
}

TEST(sbx_box_command__boxed_cat_cannot_read_a_host_secret)
{
	struct secret s;
	struct sbx_box_spec spec = { make_root(), false, NULL, NULL, NULL };
	const char *cat[] = { "/bin/cat", NULL, NULL };
	char **argv = NULL, out[8192];
	int code = -1;

	CHECK(secret_make(&s) == 0);
	cat[1] = s.file;
	/* control: outside the box the file is readable */
	CHECK(run_collect(cat, out, sizeof out, &code) == 0);
	CHECK(strstr(out, SECRET_WORD) != NULL);
	if (sbx_box_command(&argv, &spec, cat) != 0) {
		fprintf(stderr, "  NOTE: no box here (%s)\n", ln_error_msg());
		secret_drop(&s);
		CHECK(0);
	}
	CHECK(!strcmp(argv[1], "__box"));
	CHECK(run_collect((const char *const *)argv, out, sizeof out, &code) == 0);
	secret_drop(&s);
	sbx_argv_free(argv);
	rmdir(scratch_root);
	CHECK(code != 0);
	CHECK(strstr(out, SECRET_WORD) == NULL);
	CHECK(strstr(out, "No such file") != NULL);
}

TEST(sbx_box_command__boxed_clangd_does_not_see_an_included_host_file)
{
	struct secret s;
	const char *root = make_root();
	struct sbx_box_spec spec = { root, false, NULL, NULL, NULL };
	char src[600], check[700], **argv = NULL, out[65536];
	const char *clangd[] = { "/usr/bin/clangd", NULL, "--log=error", NULL };
	FILE *f;
	int code = -1;

	if (access("/usr/bin/clangd", X_OK) != 0) {
		fprintf(stderr, "  NOTE: /usr/bin/clangd missing (make deps installs it)\n");
		CHECK(0);
	}
	CHECK(secret_make(&s) == 0);
	snprintf(src, sizeof src, "%s/a.c", root);
	f = fopen(src, "w");
	CHECK(f != NULL);
	fprintf(f, "#include \"%s\"\nint main(void) { return 0; }\n", s.file);
	fclose(f);
	snprintf(check, sizeof check, "--check=%s", src);
	clangd[1] = check;
	/* control: clangd outside the box puts the word into a diagnostic */
	CHECK(run_collect(clangd, out, sizeof out, &code) == 0);
	CHECK(strstr(out, SECRET_WORD) != NULL);
	CHECK(sbx_box_command(&argv, &spec, clangd) == 0);
	CHECK(run_collect((const char *const *)argv, out, sizeof out, &code) == 0);
	sbx_argv_free(argv);
	secret_drop(&s);
	unlink(src);
	rmdir(root);
	CHECK(strstr(out, SECRET_WORD) == NULL);
	CHECK(strstr(out, "not found") != NULL);
}

TEST(sbx_box_main__refuses_malformed_arguments)
{
	char a0[] = "lanser-engine", a1[] = "__box", a2[] = "--root", a3[] = "relative",
	     a4[] = "--", a5[] = "/bin/true", a6[] = "--bogus";
	char *bad_root[] = { a0, a1, a2, a3, a4, a5, NULL };
	char *bad_opt[] = { a0, a1, a6, a4, a5, NULL };
	char *no_prog[] = { a0, a1, a2, a3, NULL };

	CHECK_EQ_INT(sbx_box_main(6, bad_root), 2);
	CHECK_EQ_INT(sbx_box_main(5, bad_opt), 2);
	CHECK_EQ_INT(sbx_box_main(4, no_prog), 2);
}

TEST(sbx_box_command__read_only_root_with_tmpfs_and_extra_paths)
{
	const char *root = make_root();
	char cache[300], extra[300], probe[400], script[1200], **argv = NULL, out[8192];
	const char *ro[] = { extra, NULL }, *tmpfs[] = { cache, NULL };
	struct sbx_box_spec spec = { root, false, ro, tmpfs, NULL };
	const char *sh[] = { "/bin/sh", "-c", script, NULL };
	FILE *f;
	int code = -1;

	snprintf(cache, sizeof cache, "%s/.cache", root);
	snprintf(extra, sizeof extra, "/tmp/lanser-box-extra-%d", (int)getpid());
	CHECK(mkdir(extra, 0755) == 0 || errno == EEXIST);
	snprintf(probe, sizeof probe, "%s/probe.txt", extra);
	f = fopen(probe, "w");
	CHECK(f != NULL);
	fprintf(f, "extra-ok\n");
	fclose(f);
	snprintf(script, sizeof script,
		 "echo c > .cache/x && echo cache-ok; touch root-write 2>/dev/null || echo root-ro; "
		 "cat %s; touch %s/w 2>/dev/null || echo extra-ro; echo home=$HOME; pwd",
		 probe, extra);
	CHECK(sbx_box_command(&argv, &spec, sh) == 0);
	CHECK(run_collect((const char *const *)argv, out, sizeof out, &code) == 0);
	sbx_argv_free(argv);
	unlink(probe);
	rmdir(extra);
	rmdir(cache);
	rmdir(root);
	CHECK_EQ_INT(code, 0);
	CHECK(strstr(out, "cache-ok\n") != NULL);
	CHECK(strstr(out, "root-ro\n") != NULL);
	CHECK(strstr(out, "extra-ok\n") != NULL);
	CHECK(strstr(out, "extra-ro\n") != NULL);
	CHECK(strstr(out, "home=/tmp\n") != NULL);
	CHECK(strstr(out, root) != NULL);
}
