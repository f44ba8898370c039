/*
 * tools.h - lanser's commands as tools, for a model (the agent loop,
 * issue 15) and for MCP clients (`lanser mcp`, issue 17): one list and one
 * call path, both from the command table (agent/command.h).
 *
 * A command is a tool when its table entry has AGENT_CMD_TOOL. Its name is
 * the command's name, its input schema is agent_cmd_schema(cmd), and a
 * call is its JSON arguments turned into a command line
 * (agent_cmd_json_argv) and parsed by the same parser as the CLI
 * (agent_cmdline_parse), then run through the warm daemon or in this
 * process (the path of batch lines). A tool is mutating when the command
 * has AGENT_CMD_WRITES; mutations go through the same jail and transaction
 * as on the command line, and preview unless the arguments say "apply".
 *
 * STATUS: interface agreed for issues 15 and 17; implemented in
 * agent/tools.c.
 */
#ifndef LANSER_AGENT_TOOLS_H
#define LANSER_AGENT_TOOLS_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

struct cli;
struct agent_command;

/* The tools as a JSON array (new reference), in table order:
 *   {"name", "description", "inputSchema", "readOnly": bool}
 * read_only: leave the mutating tools out. */
json_t *agent_tools_json(bool read_only);

/* The tool called `name` (a command with AGENT_CMD_TOOL), or NULL. */
const struct agent_command *agent_tool_find(const char *name);

struct agent_tools_opts {
	struct cli *c;          /* the front end's parsed command line: root, config, cwd */
	bool use_daemon;        /* through the workspace's warm daemon (else in-process servers) */
	bool read_only;         /* mutating tools are refused (LN_EPERM) */
	size_t max_text;        /* cap on result.text in bytes (0: 16 KiB); past it the text
				   is cut and ends with a note on how to get the rest */
	volatile sig_atomic_t *cancel; /* non-zero: stop the running call where the
				   command can (LN_ECANCELLED); may be NULL */
};

/* A session of tool calls on one workspace (its servers stay warm between
 * calls). *out belongs to the caller (agent_tools_close). */
struct agent_tools;
int agent_tools_open(struct agent_tools **out, const struct agent_tools_opts *o);
void agent_tools_close(struct agent_tools *t);

struct agent_tool_result {
	int code;               /* LN_E* of the command (0: success) */
	json_t *bundle;         /* the command's Analysis Bundle, or NULL when none came back */
	char *text;             /* short readable result for a person or a model (never NULL) */
	bool truncated;         /* text was cut at max_text */
	char message[512];      /* the error for the caller (and the model) when code != 0 */
};

/*
 * Runs tool `name` with `args` (a JSON object keyed by the JSON names of
 * the command's tool arguments, plus "args": [positional strings]).
 * A bad call (unknown tool, unknown member, wrong type, out of bounds, a
 * path outside the workspace, a mutating tool when read_only) is not a
 * crash: the return is its LN_E* code, r->code the same, r->message says
 * what was wrong in words a model can act on. Returns 0 when the command
 * ran and succeeded. r is always filled; release it.
 */
int agent_tool_call(struct agent_tools *t, const char *name, const json_t *args,
		    struct agent_tool_result *r);
void agent_tool_result_release(struct agent_tool_result *r);

/*
 * ---- Added in agent/tools.c's first cut (the shared run path) ----
 *
 * Batch lines (agent/batch.c) run through the same two steps as a tool
 * call; the agent and MCP need only the calls above.
 *
 * agent_tool_argv: the command line (a JSON array of strings, without the
 * program name) of `cmd` with `options` (an object keyed by JSON names, may
 * be NULL) and `args` (positional strings; NULL: none): "--json", the
 * options, the name, the args (after "--" when one starts with '-': an
 * argument is never taken as an option); checked by the CLI's parser
 * against `cwd`. 0 and *out (new reference), or LN_EUSAGE naming
 * what was wrong.
 *
 * agent_tool_run_argv: runs such a command line, through the daemon of
 * c->root when `use_daemon` and the command is one the daemon answers
 * (AGENT_CMD_DAEMON), else in this process through c->exec (on `ws`, the
 * warm in-process servers, for those commands; ws may be NULL). Relative
 * paths are taken from `cwd`. The command's stdout and stderr are appended
 * to out/err (caller-initialised). Returns the command's LN_E* code, or the
 * daemon's when it could not answer.
 *
 * agent_tool_last_message: the last line of a command's stderr, without
 * "lanser: ", into out (n bytes).
 *
 * agent_tool_render: the text of a result (agent/tooltext.c): facts in the
 * CLI's style, an edit preview's diff, at most `max` bytes (0: no cap) with
 * a note on how to get the rest (*truncated set). bundle may be an array of
 * bundles (test prints one per candidate) or NULL. Never NULL; free it.
 *
 * A call's bundle (agent_tool_result.bundle) is an array when the command
 * printed several (test with several patches).
 *
 * A tool's inputSchema is agent_cmd_schema(cmd) without the "json"
 * property: a call always runs with --json (a "json" member is accepted
 * and ignored).
 *
 * Paths: a tool call takes relative paths from the workspace root (not the
 * front end's cwd), and a file-valued option (or patch's diff) must name a
 * file inside the workspace and outside .git (LN_EPERM). `cancel` is
 * checked before a call starts; a running command is not interrupted.
 *
 * Threads: one call at a time per process (a command run in-process sets
 * process-wide state: the trust of the command line, the current error of
 * its thread); a server front end serialises its calls.
 */
struct buf;
struct lsp_workspace;
int agent_tool_argv(json_t **out, const struct agent_command *cmd, const json_t *options,
		    const json_t *args, const char *cwd);
int agent_tool_run_argv(struct cli *c, struct lsp_workspace *ws, bool use_daemon,
			const json_t *argv, const char *cwd, struct buf *out, struct buf *err);
void agent_tool_last_message(char *out, size_t n, const char *err, size_t len);
char *agent_tool_render(const json_t *bundle, size_t max, bool *truncated);

#endif
