/*
 * position.h - from a selector to a place in a file, for every command
 * that acts at a position (def, refs, hover in query.c; prepare-rename,
 * rename and actions in agent/editcmd.c).
 */
#ifndef LANSER_AGENT_POSITION_H
#define LANSER_AGENT_POSITION_H

#include "agent/cli.h"
#include "selectors/selector.h"
#include "lsp/workspace.h"

struct resolved_position {
	struct sel sel;              /* the parsed selector */
	char *rel;                   /* workspace-relative file */
	const struct ln_text *text;  /* its text (borrowed from the workspace) */
	long line;                   /* 1-based */
	size_t byte;                 /* byte offset in that line */
};

/* Parses `text` as any selector and resolves it (a cursor as is; the other
 * forms where the resolver points: a symbol's name, an anchor's start),
 * recording request.target and the resolution in `bundle` even when it
 * fails (ambiguous (4) and not found (3) leave the candidates there).
 * Always release *p, also after an error. */
int resolve_position(struct resolved_position *p, struct cli *c, struct lsp_workspace *ws,
		     json_t *bundle, const char *text);
void resolved_position_release(struct resolved_position *p);

#endif
