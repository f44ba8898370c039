/*
 * mdtext.h - the human form of a server's Markdown (hover contents).
 *
 * clangd and pyright answer hover with Markdown: "### function `f`",
 * "---" rules, ``` fences and backslash escapes. Bundles keep the text as
 * the server sent it; the human form prints it as plain text.
 */
#ifndef LANSER_AGENT_MDTEXT_H
#define LANSER_AGENT_MDTEXT_H
#include "core/buf.h"

/*
 * Appends md to out as plain text: fence lines (```...) and thematic breaks
 * (---, ***, ___) dropped, heading marks ("### ") stripped, inline code
 * backticks and backslash escapes of punctuation removed outside fences
 * (a fence's content is kept as it is), runs of blank lines collapsed to
 * one, no leading or trailing blank line, no blanks at the end of a line. md may be NULL (nothing).
 */
void agent_md_plain(struct buf *out, const char *md);

#endif
