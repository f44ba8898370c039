#include "tests/unit/harness.h"
#include "sandbox/box.h"

#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct test_case *head, **tail = &head;
int test_failed_flag;
static char repo_root[PATH_MAX];

void test_register(struct test_case *tc)
{
	*tail = tc;
	tail = &tc->next;
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	test_failed_flag = 1;
	fprintf(stderr, "  %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *test_repo_root(void)
{
	return repo_root;
}

int main(int argc, char **argv)
{
	struct test_case *tc;
	int passed = 0, failed = 0;
	const char *env = getenv("LANSER_REPO_ROOT");

	signal(SIGPIPE, SIG_IGN);
	/* boxes of sbx_box_command re-execute this program (sandbox/box.h) */
	if (argc > 1 && !strcmp(argv[1], "__box"))
		return sbx_box_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "__llm"))
		return test_llm_main(argc, argv);
	if (env)
		snprintf(repo_root, sizeof repo_root, "%s", env);
	else if (!getcwd(repo_root, sizeof repo_root))
		repo_root[0] = '\0';

	for (tc = head; tc; tc = tc->next) {
		if (argc > 1 && !strstr(tc->name, argv[1]))
			continue;
		test_failed_flag = 0;
		tc->fn();
		if (test_failed_flag) {
			printf("FAIL %s\n", tc->name);
			failed++;
		} else {
			printf("ok   %s\n", tc->name);
			passed++;
		}
		fflush(stdout);
	}
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
