/*
 * trace.h - `--trace FILE` for commands, and the hooks the query commands
 * call so that a trace can be replayed (docs/trace.md).
 *
 * The dispatcher calls trace_begin() before a command and trace_end()
 * after it; a command that talks to language servers calls trace_attach()
 * once its workspace exists and trace_bundle() with its finished bundle
 * (cmdctx_open_workspace/cmdctx_end do both). All of these do nothing when the
 * command is neither traced nor replayed.
 *
 * Replay (`lanser trace replay`) runs the very same command functions with
 * c->replay set: the workspace is then built from the recorded data alone
 * (lsp_workspace_opts.replay), and trace_bundle() hands the bundle to the
 * replayer instead of writing it.
 */
#ifndef LANSER_AGENT_TRACE_H
#define LANSER_AGENT_TRACE_H

#include <jansson.h>

struct cli;
struct lsp_workspace;
struct lsp_replayer;

/* Opens c->trace_path (relative to c->cwd) and writes the run's header and
 * request events. LN_EPERM when the file cannot be written. */
int trace_begin(struct cli *c, const char *command);
/* Writes the end event and closes; returns `error`, or the trace's write
 * error when the command itself succeeded. */
int trace_end(struct cli *c, int error);

/* Starts recording the workspace's servers, documents and probes. */
void trace_attach(struct cli *c, struct lsp_workspace *ws);
/* Records the finished bundle (or, replaying, hands it over) and stops
 * recording `ws` (NULL: nothing to detach). */
void trace_bundle(struct cli *c, struct lsp_workspace *ws, const json_t *bundle);
/* Any other event (`fields` taken over). 0 when not tracing. */
int trace_event(struct cli *c, const char *type, json_t *fields);

/* The replayer of a replayed command, or NULL. */
const struct lsp_replayer *trace_replayer(struct cli *c);

#endif
