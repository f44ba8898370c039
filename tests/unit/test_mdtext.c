#include "tests/unit/harness.h"
#include "agent/mdtext.h"

static const char *plain(struct buf *b, const char *md)
{
	buf_reset(b);
	agent_md_plain(b, md);
	return b->data;
}

TEST(agent_mdtext__clangd_hover_prints_without_markdown)
{
	struct buf b = BUF_INIT;

	CHECK_EQ_STR(plain(&b, "### function `list_push`  \n\n---\n→ `int`\nParameters:\n"
			       "- `struct list * l`\n\n---\n```cpp\n// In list.h\n"
			       "int list_push(struct list *l, int v)\n```"),
		     "function list_push\n\n→ int\nParameters:\n- struct list * l\n\n"
		     "// In list.h\nint list_push(struct list *l, int v)");
	buf_release(&b);
}

TEST(agent_mdtext__pyright_fence_and_escapes)
{
	struct buf b = BUF_INIT;

	CHECK_EQ_STR(plain(&b, "```python\n(method) def scaled(factor: float) -> Circle\n```\n---\n"
			       "Returns a \\_scaled\\_ copy; `a\\b` kept\r\n"),
		     "(method) def scaled(factor: float) -> Circle\n\nReturns a _scaled_ copy; a\\b kept");
	/* a fence's content stays as it is, markdown-looking lines too */
	CHECK_EQ_STR(plain(&b, "```\n### not a heading\n---\n`x`\n```"), "### not a heading\n---\n`x`");
	CHECK_EQ_STR(plain(&b, "####### seven\n#tag"), "####### seven\n#tag");
	CHECK_EQ_STR(plain(&b, "\n\n---\n\n"), "");
	CHECK_EQ_STR(plain(&b, NULL), "");
	buf_release(&b);
}
