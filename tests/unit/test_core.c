#include "tests/unit/harness.h"
#include "core/buf.h"
#include "core/err.h"

TEST(core_buf__grows_and_stays_terminated)
{
	struct buf b = BUF_INIT;
	int i;

	CHECK_EQ_STR(b.data, "");
	for (i = 0; i < 1000; i++)
		buf_addf(&b, "%d,", i);
	CHECK(b.len > 1000);
	CHECK_EQ_INT(b.data[b.len], 0);
	buf_consume(&b, 2);
	CHECK(strncmp(b.data, "1,2,", 4) == 0);
	buf_release(&b);
	CHECK_EQ_STR(b.data, "");
}

TEST(core_err__exit_code_is_negated_code)
{
	CHECK_EQ_INT(ln_exit_code(LN_ETIMEOUT), 64);
	CHECK_EQ_INT(ln_exit_code(LN_EUSAGE), 129);
	CHECK_EQ_INT(ln_exit_code(0), 0);
	CHECK_EQ_INT(ln_exit_code(-12345), 1);
	CHECK_EQ_STR(ln_err_name(LN_ECRASH), "SERVER_CRASH");
}

TEST(core_err__message_may_wrap_the_previous_message)
{
	ln_error_set(LN_ENOTFOUND, "inner %d", 42);
	ln_error_set(LN_ESELECTOR, "outer: %s", ln_error_msg());
	CHECK_EQ_STR(ln_error_msg(), "outer: inner 42");
	CHECK_EQ_INT(ln_error_code(), LN_ESELECTOR);
}

TEST(core_buf__printable_escapes_controls_and_keeps_utf8)
{
	struct buf b = BUF_INIT;

	buf_add_printable(&b, "a\x1b[31mred\n\tz\x7f\\", 14);
	CHECK_EQ_STR(b.data, "a\\x1b[31mred\\x0a\\x09z\\x7f\\");
	buf_reset(&b);
	/* C1 controls (U+009B is a one-byte CSI for some terminals) and
	 * broken UTF-8 byte by byte; real UTF-8 kept */
	buf_add_printable(&b, "\xc2\x9b" "2J \xc3\xa9 \xe2\x82\xac \xff \xc3", 15);
	CHECK_EQ_STR(b.data, "\\xc2\\x9b2J \xc3\xa9 \xe2\x82\xac \\xff \\xc3");
	buf_release(&b);
	CHECK_EQ_STR(ln_printable("ok/path.c"), "ok/path.c");
	CHECK_EQ_STR(ln_printable(NULL), "(null)");
	{
		const char *x = ln_printable("x\ny"), *y = ln_printable("\x1b");
		CHECK_EQ_STR(x, "x\\x0ay");
		CHECK_EQ_STR(y, "\\x1b");
	}
	CHECK_EQ_STR(ln_printable_text("two\n\tlines\x1b]0;t\x07"), "two\n\tlines\\x1b]0;t\\x07");
}

/* A captured error survives cleanup that sets its own (issue 18, item 5). */
TEST(core_err__capture_and_restore_keep_the_first_error)
{
	struct ln_error_state st;

	ln_error_set(LN_ENOTFOUND, "no such symbol '%s'", "foo");
	ln_error_capture(&st);
	CHECK_EQ_INT(ln_error_code(), LN_ENOTFOUND);
	ln_error_set(LN_EGENERIC, "cleanup failed");
	CHECK_EQ_INT(ln_error_restore(&st), LN_ENOTFOUND);
	CHECK_EQ_INT(ln_error_code(), LN_ENOTFOUND);
	CHECK_EQ_STR(ln_error_msg(), "no such symbol 'foo'");
	ln_error_clear();
}
