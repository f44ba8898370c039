/*
 * position.h - from a selector to a place in a file, and from a server's
 * range back to the user's units, for every command that acts at a
 * position (def, refs, hover in agent/query.c; symbols and diag in
 * agent/docquery.c; prepare-rename, rename and actions in agent/editcmd.c).
 */
#ifndef LANSER_AGENT_POSITION_H
#define LANSER_AGENT_POSITION_H

#include "agent/cmdctx.h"
#include "core/text.h"
#include "selectors/selector.h"
#include "lsp/workspace.h"

struct position_resolved {
	struct sel sel;              /* the parsed selector */
	char *rel;                   /* workspace-relative file */
	const struct ln_text *text;  /* its text (borrowed from the workspace) */
	long line;                   /* 1-based */
	size_t byte;                 /* byte offset in that line */
};

/* Parses `text` as any selector and resolves it (a cursor as is; the other
 * forms where the resolver points: a symbol's name, an anchor's start),
 * recording request.target and the resolution in x's bundle even when it
 * fails (ambiguous (4) and not found (3) leave the candidates there).
 * Always release *p, also after an error. */
int position_resolve(struct position_resolved *p, struct cmdctx *x, const char *text);
void position_release(struct position_resolved *p);

/* An LSP range (server units `srv`, 0-based) as a bundle range (the user's
 * `user` units, 1-based) through the document text `t`. Without a text
 * (t NULL) the columns stay in the server's units: *relabel is then set
 * when those differ from the user's, and the caller must say so in the
 * fact ("encoding"). LN_ECRASH when the range is malformed or does not fit
 * the document. */
int position_user_range(json_t **out, bool *relabel, const struct ln_text *t,
			enum ln_enc srv, enum ln_enc user, const json_t *range);

/* Sets fact.range from an LSP range and, when it had to stay in the
 * server's units, fact.encoding. */
int position_set_range(json_t *fact, const struct ln_text *t, enum ln_enc srv, enum ln_enc user,
		       const json_t *range);

/* Builds {kind, path, external?, range, encoding?} for a location `uri` of
 * any file (a non-file URI is kept as the path, marked external), noting
 * workspace documents in the bundle. */
int position_location_fact(struct cmdctx *x, json_t **out, const char *kind, const char *uri,
			   const json_t *range, struct lsp_server_info *srv);

#endif
