/*
 * editflow.h - the part every edit command shares (issue 5; docs/edits.md):
 * the edit commands themselves (prepare-rename, rename, actions, patch)
 * are in agent/editcmd.c.
 *
 * Every change, whatever its source (a WorkspaceEdit from the server, a
 * unified diff), becomes one edit set (sandbox/edit.h) and is shown as a
 * diff; only --apply writes it, through one transaction
 * (sandbox/transaction.h). --verify diagnostics keeps the transaction
 * pending while fresh servers look at the result and rolls it back when
 * new errors appear (exit 82). The bundle records the diff, the files,
 * conflicts, diagnostics before/after and the decision (its "edit"
 * member).
 */
#ifndef LANSER_AGENT_EDITFLOW_H
#define LANSER_AGENT_EDITFLOW_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "agent/cmdctx.h"

struct buf;

struct sbx_edits;

/* cmdctx_begin for an edit command: checks --verify and the verify
 * threshold (--max-new-errors, else .lanser.json verify.maxNewErrors),
 * records request.options and opens the workspace when the command needs
 * servers (`need_ws`, or --verify). On an error the context is still
 * valid: end it with cmdctx_end (an error bundle is printed). */
int editflow_begin(struct cmdctx *x, struct cli *c, const char *command, bool need_ws);

/* The bundle's "edit" member (borrowed), created when missing. */
json_t *editflow_edit(struct cmdctx *x);

/* One fact per file of `e` (and per conflict), inputs.documents for the
 * old texts, edit.diff, edit.conflicts and edit.decision ("preview" until
 * decided). LN_EINPUT, recording nothing, when a file name is not UTF-8
 * text. */
int editflow_record(struct cmdctx *x, const struct sbx_edits *e, const char *provenance);

/* Every edit command's tail: records `e`, then previews it (checking all
 * an apply would: jail, conflicts; a dirty tree is only a note) or, with
 * --apply, applies it (verified with --verify diagnostics). */
int editflow_preview_or_apply(struct cmdctx *x, const struct sbx_edits *e, const char *prov);

/* The human output of an edit: the diff of a preview, the files applied,
 * the conflicts, the verification's verdict. */
void editflow_print_result(struct cmdctx *x);
/* Reads `path` (relative to c->cwd; "-": standard input) into b, at most
 * `max` bytes. `what` names it in errors ("the patch", "--with"):
 * LN_ENOTFOUND when it cannot be opened, LN_EINPUT when it is too large. */
int editflow_read_input(struct buf *b, struct cli *c, const char *path, size_t max,
			const char *what);

#endif
