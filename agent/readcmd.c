/*
 * readcmd.c - `lanser read <file|selector> [--lines A-B]` (docs/commands.md):
 * a file, or the lines a selector resolves to (a function's body, an
 * anchor), with line numbers, for a person or a model that cannot open
 * files itself.
 *
 * Bounded: at most READ_MAX_LINES lines and READ_MAX_BYTES bytes of text
 * per call; a cut answer is "complete": false and says, in "incomplete",
 * which --lines range reads on. Nothing outside the workspace, nothing
 * inside .git (agent/selrange.h).
 */
#include "agent/cli.h"
#include "agent/cmdctx.h"
#include "agent/selrange.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/text.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_MAX_LINES 2000
#define READ_MAX_BYTES ((size_t)64 << 10)

/* "A-B", "A-" (to the end) or "A": 1-based, inclusive. */
static int parse_lines(const char *s, long *a, long *b)
{
	char *end;

	errno = 0;
	*a = strtol(s, &end, 10);
	if (errno || end == s || *a < 1 || *a > 100000000L || s[0] == '+' || s[0] == ' ')
		goto bad;
	if (*end == '\0') {
		*b = *a;
		return 0;
	}
	if (*end != '-')
		goto bad;
	s = end + 1;
	if (*s == '\0') {
		*b = -1;
		return 0;
	}
	*b = strtol(s, &end, 10);
	if (errno || end == s || *end || *b < *a || *b > 100000000L || s[0] == '+' || s[0] == ' ')
		goto bad;
	return 0;
bad:
	return ln_error_set(LN_EUSAGE, "--lines takes A-B, A- or A (1-based line numbers, "
			    "A <= B), not '%s'", ln_printable(s));
}

static void print_read(struct cmdctx *x)
{
	json_t *f = json_array_get(x->facts, 0), *r;
	long long line = json_integer_value(json_object_get(f, "firstLine"));
	const char *s = json_string_value(json_object_get(f, "text"));
	struct buf b = BUF_INIT;
	size_t i;

	while (s) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);
		struct buf one = BUF_INIT;
		buf_add(&one, s, len);
		buf_addf(&b, "%6lld  %s\n", line++, ln_printable_text(one.data));
		buf_release(&one);
		s = nl ? nl + 1 : NULL;
	}
	fputs(b.data, x->c->out);
	buf_release(&b);
	json_array_foreach(json_object_get(x->bundle, "incomplete"), i, r)
		fprintf(x->c->err, "lanser: %s\n", json_string_value(r));
}

int cmd_read(struct cli *c)
{
	struct cmdctx x;
	struct selrange r;
	struct buf text = BUF_INIT, why = BUF_INIT;
	json_t *fact;
	long a = 0, b = 0, first, last, line;
	int error;

	memset(&r, 0, sizeof r);
	if (c->argc != 1) {
		fprintf(c->err, "usage: lanser read <file|selector> [--lines A-B]\n");
		return ln_error_set(LN_EUSAGE, "read takes one file or selector");
	}
	cmdctx_begin(&x, c, "read", 0);
	if (c->lines && (error = parse_lines(c->lines, &a, &b)))
		goto done;
	if ((error = selrange_resolve(&r, &x, c->argv[0])))
		goto done;
	if (c->lines && r.is_selector) {
		error = ln_error_set(LN_EUSAGE, "--lines takes a file; a selector names its own "
				     "range (read the file with --lines for more)");
		goto done;
	}
	if (c->lines) {
		json_object_set_new(cmdctx_request(&x), "options",
				    xjson_pack("{s:s}", "lines", c->lines));
		if (a > r.text->nlines) {
			error = ln_error_set(LN_ESELECTOR, "%s has %d line%s; --lines starts at %ld",
					     ln_printable(r.rel), r.text->nlines,
					     r.text->nlines == 1 ? "" : "s", a);
			goto done;
		}
		first = a - 1;
		last = b < 0 || b > r.text->nlines ? r.text->nlines - 1 : b - 1;
	} else {
		first = selrange_line_of(r.text, r.start);
		last = selrange_line_of(r.text, r.end);
		/* a range ending at the start of a line does not take that line */
		if (last > first && r.text->line_starts[last] == r.end)
			last--;
		/* "a\n" has an empty last line; a whole file does not show it */
		if (!r.is_selector && last > first && r.text->line_starts[last] == r.text->len)
			last--;
	}
	for (line = first; line <= last; line++) {
		size_t s = r.text->line_starts[line], e = selrange_line_end(r.text, (int)line);
		if (line - first >= READ_MAX_LINES || (line > first && text.len + (e - s) + 1 >
						       READ_MAX_BYTES))
			break;
		if (line > first)
			buf_addch(&text, '\n');
		if (e - s > READ_MAX_BYTES) {
			/* one line longer than the cap: its start, whole characters */
			size_t k = s + READ_MAX_BYTES;
			while (!r.text->latin1 && k > s &&
			       ((unsigned char)r.text->data[k] & 0xC0) == 0x80)
				k--;
			buf_add(&text, r.text->data + s, k - s);
			buf_addf(&why, "line %ld is cut after %zu of its %zu bytes", line + 1, k - s,
				 e - s);
			line++;
			break;
		}
		buf_add(&text, r.text->data + s, e - s);
	}
	if (line <= last) {
		if (why.len)
			buf_adds(&why, "; ");
		buf_addf(&why, "cut at line %ld of %ld (at most %d lines and %zu bytes per read): "
			 "read on with --lines %ld-%ld", line, last + 1, READ_MAX_LINES,
			 READ_MAX_BYTES, line + 1, last + 1);
	}
	if (why.len) {
		json_object_set_new(x.bundle, "complete", json_false());
		json_object_set_new(x.bundle, "incomplete", xjson_pack("[s]", why.data));
	}
	if (r.text->latin1) {
		/* a file that is not UTF-8 (docs/bundle.md): its lines in UTF-8;
		 * inputs.documents marks it */
		struct buf u8 = BUF_INIT;
		ln_latin1_to_utf8(&u8, text.data, text.len);
		buf_release(&text);
		text = u8;
	}
	fact = xjson_pack("{s:s, s:s, s:I, s:I, s:I, s:s%, s:s}",
		"kind", "lines", "path", r.rel, "firstLine", (json_int_t)first + 1,
		"lastLine", (json_int_t)line,
		"totalLines", (json_int_t)r.text->nlines, "text", text.data, text.len,
		"provenance", "lanser");
	json_array_append_new(x.facts, fact);
done:
	buf_release(&text);
	buf_release(&why);
	selrange_release(&r);
	return cmdctx_end(&x, error, print_read);
}
