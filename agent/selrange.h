/*
 * selrange.h - what `read` and `edit` share (agent/readcmd.c,
 * agent/editsel.c): the text a selector (or a file name) stands for.
 *
 * A selector is resolved as `locate` resolves it (selectors/resolve.h),
 * on today's files; the bundle gets request.target, the resolution and
 * inputs.documents. A file name goes through the workspace jail of paths
 * (core/path.h: nothing outside the root) and, like a selector's file,
 * may not be inside .git (sandbox/jail.h, lexical part).
 */
#ifndef LANSER_AGENT_SELRANGE_H
#define LANSER_AGENT_SELRANGE_H

#include <stdbool.h>
#include <stddef.h>

#include "selectors/resolve.h"
#include "selectors/selector.h"

struct cmdctx;
struct sel_files;

struct selrange {
	struct sel sel;
	struct sel_resolution res;
	struct sel_files *files;
	bool is_selector;           /* the argument was a selector (else a file) */
	const char *rel;            /* the file, workspace-relative (borrowed) */
	char *rel_owned;
	const struct ln_text *text; /* its text (borrowed from files) */
	size_t start, end;          /* the range, byte offsets (a file: all of it) */
};

/* Whether `arg` parses as a selector (else it is taken as a file name). */
bool selrange_is_selector(const char *arg);

/* Resolves `arg` (a selector or a file) in x's workspace into *r (zeroed
 * here; release it in every case). 0, or LN_E*: LN_ESELECTOR, LN_ENOTFOUND,
 * LN_EAMBIGUOUS (the message lists the best candidates), LN_EPERM
 * (outside the workspace, .git), LN_EINPUT (binary, not UTF-8, too large). */
int selrange_resolve(struct selrange *r, struct cmdctx *x, const char *arg);
void selrange_release(struct selrange *r);

/* 0-based line of byte offset `off` of t. */
int selrange_line_of(const struct ln_text *t, size_t off);
/* End of line `line0`'s content (before its terminator). */
size_t selrange_line_end(const struct ln_text *t, int line0);

#endif
