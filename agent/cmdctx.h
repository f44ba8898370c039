/*
 * cmdctx.h - one command context for every bundle-producing command
 * (issue 18, item 2): the query commands (agent/query.c, docquery.c), the
 * edit commands (editcmd.c, editflow.c) and the tree-sitter commands
 * (locate.c).
 *
 * A command writes its answer into one Analysis Bundle (core/bundle.h):
 *
 *   cmdctx_begin          the skeleton: request.indexIo, environment
 *                         (configDigest, indexIo, optionally parsers)
 *   cmdctx_open_workspace the language servers: the daemon's warm workspace
 *                         (c->ws, borrowed), the trace's recorded one while
 *                         `trace replay` re-runs the command, or a new one;
 *                         a --trace run records it (agent/trace.h)
 *   ... the command adds request.target, resolution, facts ...
 *   cmdctx_end            meta.volatile (elapsedMs, daemon, cacheHit in the
 *                         daemon), the canonical finish (bundleId), the
 *                         bundle handed to the trace, one printing path
 *                         (--json, else the command's human form), and
 *                         every resource freed; the command's own error
 *                         (code and message) survives that cleanup.
 *
 * A command whose workspace cannot be opened either ends normally (an
 * error bundle is printed: the edit commands) or gives the context up with
 * cmdctx_abandon (nothing printed: the query commands, as they always did).
 *
 * Eval (agent/eval.c) builds the same envelope and can adopt the context:
 * cmdctx_begin(x, c, "eval", CMDCTX_PRINT_JCS | CMDCTX_HUMAN_ON_ERROR |
 * CMDCTX_NO_TRACE), its own environment.configDigest (the base commit's),
 * request, facts, outcome and volatile members set on x->bundle, the
 * verdict's code and message set with ln_error_set, then cmdctx_end.
 */
#ifndef LANSER_AGENT_CMDCTX_H
#define LANSER_AGENT_CMDCTX_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "agent/cli.h"

struct lsp_workspace;
struct lsp_server_info;

enum {
	/* environment.parsers: the pinned tree-sitter versions (locate, outline) */
	CMDCTX_PARSERS = 1,
	/* the human form is printed after an error too (edit commands: conflicts) */
	CMDCTX_HUMAN_ON_ERROR = 2,
	/* a query: the daemon may cache the answer (c->cacheable, c->complete),
	 * and an incomplete answer gets a note on stderr */
	CMDCTX_QUERY = 4,
	/* how --json prints the bundle. Default: jansson's full precision.
	 * REAL15: reals with 15 significant digits (locate, outline).
	 * JCS: RFC 8785 canonical text (eval). The bundleId never depends on it. */
	CMDCTX_PRINT_REAL15 = 8,
	CMDCTX_PRINT_JCS = 16,
	/* the bundle is not handed to the trace: a command that records its
	 * own events instead (eval: edit, outcome and reward events) */
	CMDCTX_NO_TRACE = 32,
};

struct cmdctx {
	struct cli *c;
	struct lsp_workspace *ws;   /* owned unless it is c->ws; NULL before open */
	json_t *bundle;             /* owned */
	json_t *facts;              /* borrowed from bundle */
	long long started_ms;
	unsigned flags;
	FILE *debug;                /* LANSER_DEBUG_FRAMES */
};

/* Fills *x with a new bundle for `command`. Never fails. */
void cmdctx_begin(struct cmdctx *x, struct cli *c, const char *command, unsigned flags);

/* Opens (or borrows) the workspace and attaches the trace. 0 or the
 * workspace's error (x stays valid: end or abandon it). */
int cmdctx_open_workspace(struct cmdctx *x);

/* Finishes, records, prints (human: may be NULL) and frees. Returns `err`
 * with its message kept, or the finish's own error when err is 0. */
int cmdctx_end(struct cmdctx *x, int err, void (*human)(struct cmdctx *));

/* Frees without printing anything; returns `err` with its message kept. */
int cmdctx_abandon(struct cmdctx *x, int err);

/* meta.volatile (borrowed), for command-specific volatile members. */
json_t *cmdctx_volatile(struct cmdctx *x);
/* request (borrowed) */
json_t *cmdctx_request(struct cmdctx *x);

/* json_pack for values that come from outside (the command line, file
 * names, servers), checked: 0 and *out, or `code` with a message naming
 * `what` (printable) when a string is missing or not UTF-8 text, which a
 * bundle cannot hold. Never aborts. */
int cmdctx_pack(json_t **out, int code, const char *what, const char *fmt, ...);

/* request.target = {"path": path}; LN_EUSAGE when `path` (the user's
 * spelling) is not UTF-8 text. */
int cmdctx_target_path(struct cmdctx *x, const char *path);

/* ---- what the bundle records about its inputs ---- */

/* environment.servers gets {profile, version, positionEncoding} once. */
void cmdctx_note_server(struct cmdctx *x, struct lsp_server_info *srv);
/* inputs.documents gets {path, sha256} of the workspace's text of `path`
 * once (nothing when the workspace has no text for it). */
void cmdctx_note_document(struct cmdctx *x, const char *path);
/* The same for bytes the command read itself. */
void cmdctx_note_bytes(struct cmdctx *x, const char *path, const void *data, size_t len);
/* Records capabilities[profile][cap]; LN_EUNSUPPORTED (named `what`) when
 * the server lacks it. */
int cmdctx_require_capability(struct cmdctx *x, struct lsp_server_info *srv, const char *cap,
			      const char *what);
/* Waits for the server's readiness (--wait-index; --no-wait: not at all);
 * "complete": false when it did not come. Errors only when the server
 * failed. */
int cmdctx_wait_ready(struct cmdctx *x, struct lsp_server_info *srv, bool need_index);

#endif
