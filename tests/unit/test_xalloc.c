#include "tests/unit/harness.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

TEST(core_xalloc__zero_sizes_give_freeable_pointers)
{
	void *a = xmalloc(0), *b = xcalloc(0, 0), *c = xrealloc(NULL, 0);

	CHECK(a && b && c);
	free(a);
	free(b);
	free(c);
}

TEST(core_xalloc__strings_and_formats)
{
	char *a = xstrdup("abc"), *b = xstrndup("abcdef", 3), *c = xstrndup("ab", 9);
	char *d = xasprintf("%s-%d", "x", 42);

	CHECK_EQ_STR(a, "abc");
	CHECK_EQ_STR(b, "abc");
	CHECK_EQ_STR(c, "ab");
	CHECK_EQ_STR(d, "x-42");
	free(a);
	free(b);
	free(c);
	free(d);
}

/* An overflowing count times size dies with the one message, in a child. */
TEST(core_xalloc__calloc_overflow_dies_with_one_message)
{
	int p[2], st = 0;
	char msg[64] = "";
	ssize_t n;
	pid_t pid;

	CHECK(pipe(p) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 2);
		signal(SIGABRT, SIG_DFL);
		free(xcalloc(SIZE_MAX / 2, 4));
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], msg, sizeof msg - 1);
	close(p[0]);
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(n > 0);
	msg[n] = '\0';
	CHECK_EQ_STR(msg, "lanser: out of memory\n");
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
}

TEST(core_xalloc__write_all_writes_every_byte_through_a_pipe)
{
	static char big[200000];
	char *back = xmalloc(sizeof big);
	size_t got = 0;
	int p[2], st = 0;
	pid_t pid;

	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)(i * 7);
	CHECK(pipe(p) == 0);
	pid = fork(); /* the pipe holds less than big: the writer must loop */
	CHECK(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		_exit(ln_write_all(p[1], big, sizeof big) == 0 ? 0 : 1);
	}
	close(p[1]);
	for (;;) {
		ssize_t n = read(p[0], back + got, sizeof big - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(p[0]);
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_EQ_INT(got, sizeof big);
	CHECK(memcmp(back, big, sizeof big) == 0);
	free(back);
}

/* xjson_pack packs like json_pack and dies, naming the format, where
 * json_pack would return NULL (a NULL string). */
TEST(core_xjson__packs_and_dies_on_a_null_string)
{
	int p[2], st = 0;
	char msg[160] = "";
	ssize_t n;
	pid_t pid;
	json_t *v = xjson_pack("{s:s, s:i}", "a", "b", "n", 3);

	CHECK_EQ_STR(json_string_value(json_object_get(v, "a")), "b");
	CHECK_EQ_INT(json_integer_value(json_object_get(v, "n")), 3);
	json_decref(v);
	CHECK(pipe(p) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		const char *none = NULL;
		dup2(p[1], 2);
		signal(SIGABRT, SIG_DFL);
		json_decref(xjson_pack("{s:s}", "a", none));
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], msg, sizeof msg - 1);
	close(p[0]);
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(n > 0);
	msg[n] = '\0';
	CHECK(strstr(msg, "lanser: internal error: json_pack(\"{s:s}\")") == msg);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
}

TEST(core_xjson__lossy_strings_replace_ill_formed_bytes_and_keep_the_rest)
{
	json_t *a = xjson_stringn_lossy("caf\xc3\xa9", 5);
	json_t *b = xjson_stringn_lossy("a\xff" "b\xc3", 4);
	json_t *c = xjson_string_lossy(NULL);
	json_t *d = xjson_stringn_lossy("x\0y", 3);
	char *dump;

	CHECK_EQ_STR(json_string_value(a), "caf\xc3\xa9");
	/* every byte of an ill-formed sequence is one U+FFFD; a cut sequence too */
	CHECK_EQ_STR(json_string_value(b), "a\xef\xbf\xbd" "b\xef\xbf\xbd");
	CHECK_EQ_STR(json_string_value(c), "");
	CHECK_EQ_INT(json_string_length(d), 3);
	/* and it dumps (jansson refuses to dump ill-formed UTF-8) */
	dump = json_dumps(b, JSON_ENCODE_ANY);
	CHECK(dump != NULL);
	free(dump);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(d);
}
