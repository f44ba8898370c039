/*
 * harness.h - a minimal unit-test harness.
 *
 *   TEST(core_buf__grows_past_initial_capacity) { CHECK(...); CHECK_EQ_INT(a, b); }
 *
 * Tests register themselves at load time; tests/unit/main.c runs them all
 * (or those whose name contains argv[1]) and prints "N passed, N failed".
 * A failed CHECK records the failure, prints file:line and the expression,
 * and returns from the test.
 */
#ifndef LANSER_TEST_HARNESS_H
#define LANSER_TEST_HARNESS_H

#include <stdio.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*fn)(void);
	struct test_case *next;
};

void test_register(struct test_case *tc);
void test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Absolute path of the repository root (where the Makefile is). */
const char *test_repo_root(void);
extern int test_failed_flag;
/* The model client's driver (tests/unit/test_llm.c), run as `run __llm ...`. */
int test_llm_main(int argc, char **argv);

#define TEST(name)                                                        \
	static void name(void);                                           \
	static struct test_case name##_tc = { #name, name, NULL };        \
	__attribute__((constructor)) static void name##_reg(void)         \
	{ test_register(&name##_tc); }                                    \
	static void name(void)

#define CHECK(expr) do { if (!(expr)) {                                   \
	test_fail(__FILE__, __LINE__, "CHECK(%s)", #expr); return; } } while (0)

#define CHECK_EQ_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) { test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", \
		#a, #b, a_, b_); return; } } while (0)

#define CHECK_EQ_STR(a, b) do { const char *a_ = (a), *b_ = (b);          \
	if (!a_ || !b_ || strcmp(a_, b_) != 0) {                          \
		test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"",  \
			  #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");    \
		return; } } while (0)

#define CHECK_EQ_DBL(a, b, tol) do { double a_ = (a), b_ = (b);           \
	if (!(a_ - b_ <= (tol) && b_ - a_ <= (tol))) {                     \
		test_fail(__FILE__, __LINE__, "%s == %s: %.17g != %.17g",    \
			  #a, #b, a_, b_); return; } } while (0)

#endif
