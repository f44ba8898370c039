/*
 * mdtext.c - Markdown to plain text for the human form (agent/mdtext.h).
 * Line by line; only the few constructs language servers write.
 */
#include "agent/mdtext.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

/* "---", "***", "___" (three or more, spaces allowed) */
static bool is_break(const char *s, size_t n)
{
	size_t i, count = 0;
	char c = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == ' ' || s[i] == '\t')
			continue;
		if (s[i] != '-' && s[i] != '*' && s[i] != '_')
			return false;
		if (c && s[i] != c)
			return false;
		c = s[i];
		count++;
	}
	return count >= 3;
}

/* The inline text of a line outside fences: no backticks, no escapes. */
static void add_inline(struct buf *out, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '`')
			continue;
		if (s[i] == '\\' && i + 1 < n && ispunct((unsigned char)s[i + 1]))
			i++;
		buf_addch(out, s[i]);
	}
}

void agent_md_plain(struct buf *out, const char *md)
{
	const char *p = md, *nl;
	bool fence = false;
	int blank = 0;      /* blank lines seen since the last text line */
	bool any = false;   /* a text line written */

	while (p && *p) {
		size_t n, lead = 0;

		nl = strchr(p, '\n');
		n = nl ? (size_t)(nl - p) : strlen(p);
		/* trailing blanks: a Markdown hard break ("  "), or a CR */
		while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		while (lead < n && p[lead] == ' ')
			lead++;
		if (n - lead >= 3 && !strncmp(p + lead, "```", 3)) {
			fence = !fence;
		} else if (!fence && is_break(p, n)) {
			blank++;
		} else if (lead == n) {
			blank++;
		} else {
			if (any)
				buf_adds(out, blank ? "\n\n" : "\n");
			if (fence) {
				buf_add(out, p, n);
			} else {
				size_t h = lead;
				while (h < n && p[h] == '#')
					h++;
				if (h > lead && h - lead <= 6 && h < n && p[h] == ' ')
					add_inline(out, p + h + 1, n - h - 1);
				else
					add_inline(out, p, n);
			}
			any = true;
			blank = 0;
		}
		p = nl ? nl + 1 : NULL;
	}
}
