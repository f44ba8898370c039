/*
 * command.c - the command table (agent/command.h; docs/commands.md).
 *
 * Data only: what each command is called, what it takes and which function
 * runs it. The parser, help, batch, traces and schemas read it
 * (agent/options.c, agent/help.c). Compiled twice: with -DLANSER_THIN every
 * command but `help` runs cmd_engine (agent/main.c), which execs the engine.
 */
#include "agent/command.h"
#include "agent/cli.h"
#include "agent/completion.h"
#include "core/text.h"

#include <stddef.h>
#include <string.h>

#ifdef LANSER_THIN
#define CMD(fn) cmd_engine
#else
#define CMD(fn) fn
#endif

#define OFF(f) offsetof(struct cli, f)

/* One spelling per concept (docs/commands.md): JSON names are the long
 * names in camelCase, with "Ms" for milliseconds. */
#define FLAG(n, j, f, h) \
	{ .name = n, .type = AGENT_OPT_FLAG, .help = h, .json = j, .offset = OFF(f) }
#define CLI_FLAG(n, f, h) \
	{ .name = n, .type = AGENT_OPT_FLAG, .help = h, .offset = OFF(f), .flags = AGENT_OPTF_CLI_ONLY }
#define STR(n, mv, j, f, h) \
	{ .name = n, .type = AGENT_OPT_STRING, .metavar = mv, .help = h, .json = j, .offset = OFF(f) }
#define FILEOPT(n, j, f, h) \
	{ .name = n, .type = AGENT_OPT_FILE, .metavar = "FILE", .help = h, .json = j, .offset = OFF(f) }
#define ENUMOPT(n, mv, j, f, w, d, h) \
	{ .name = n, .type = AGENT_OPT_ENUM, .metavar = mv, .help = h, .json = j, .offset = OFF(f), \
	  .words = w, .dflt = d }
#define ALIAS(n, canon, mv, f, w) \
	{ .name = n, .type = AGENT_OPT_ENUM, .metavar = mv, .help = "old spelling of --" canon, \
	  .offset = OFF(f), .words = w, .flags = AGENT_OPTF_ALIAS, .alias_of = canon }
#define END { .name = NULL }

static const char *const enc_words[] = { "codepoint", "utf-8", "utf-16", NULL };
static const char *const verify_words[] = { "diagnostics", NULL };
static const char *const episode_words[] = { "p-grpo", "outcome", "process", "sum", NULL };
static const char *const advantage_words[] = { "grpo", "dr_grpo", "batch", "step", NULL };
static const char *const preset_words[] = { "trl", "verl", "openrlhf", NULL };
static const char *const functional_words[] = { "delta", "paper", "bounded", NULL };
static const char *const format_words[] = { "trl", "openrlhf", "verl", "prm", NULL };

static int store_enc(struct cli *c, const struct agent_option *o, const char *value)
{
	(void)o;
	return ln_enc_parse(&c->index_io, value);
}

static json_t *load_enc(const struct cli *c, const struct agent_option *o)
{
	(void)o;
	return json_string(ln_enc_name(c->index_io));
}

const struct agent_option agent_global_options[] = {
	{ .name = "root", .type = AGENT_OPT_STRING, .metavar = "DIR", .offset = OFF(root_opt),
	  .set_offset = OFF(explicit_root), .flags = AGENT_OPTF_CLI_ONLY,
	  .help = "workspace root (default: nearest .lanser.json, git top, cwd)" },
	FLAG("json", "json", json, "print the Analysis Bundle (JSON, one line)"),
	{ .name = "index-io", .type = AGENT_OPT_ENUM, .metavar = "ENC", .json = "indexIo",
	  .offset = OFF(index_io), .words = enc_words, .dflt = "codepoint", .store = store_enc,
	  .load = load_enc, .flags = AGENT_OPTF_SERVER, .help = "column unit of positions in and out" },
	{ .name = "timeout", .type = AGENT_OPT_MS, .metavar = "MS", .json = "timeoutMs",
	  .offset = OFF(timeout_ms), .set_offset = OFF(timeout_set), .dflt = "30000",
	  .flags = AGENT_OPTF_SERVER,
	  .help = "per-request timeout (default: .lanser.json timeouts.requestMs)" },
	{ .name = "wait-index", .type = AGENT_OPT_MS, .metavar = "MS", .json = "waitIndexMs",
	  .offset = OFF(index_ms), .set_offset = OFF(index_set), .dflt = "120000",
	  .flags = AGENT_OPTF_SERVER,
	  .help = "how long to wait for the server's index (default: .lanser.json timeouts.indexMs)" },
	{ .name = "no-wait", .type = AGENT_OPT_FLAG, .json = "noWait", .offset = OFF(no_wait),
	  .flags = AGENT_OPTF_SERVER, .help = "answer at once; the bundle says \"complete\": false" },
	{ .name = "no-cache", .type = AGENT_OPT_FLAG, .json = "noCache", .offset = OFF(no_cache),
	  .flags = AGENT_OPTF_SERVER, .help = "do not answer from the daemon's answer cache" },
	CLI_FLAG("no-daemon", no_daemon, "answer in this process (also: LANSER_NO_DAEMON=1)"),
	CLI_FLAG("trust", trust, "trust the workspace's .lanser.json for this run (CI)"),
	{ .name = "config", .type = AGENT_OPT_PATH, .metavar = "FILE", .offset = OFF(config_path),
	  .flags = AGENT_OPTF_CLI_ONLY,
	  .help = "read FILE instead of .lanser.json (trusted: you named it; eval/group: "
		  "instead of the base commit's too)" },
	{ .name = "trace", .type = AGENT_OPT_FILE, .metavar = "FILE", .offset = OFF(trace_path),
	  .flags = AGENT_OPTF_CLI_ONLY,
	  .help = "append a replayable JSONL trace of the run (docs/trace.md)" },
	CLI_FLAG("help", help_or_version, "this help; with a command, that command's"),
	CLI_FLAG("version", help_or_version, "print the version"),
	END,
};

static const struct agent_option no_options[] = { END };

static const struct agent_option refs_options[] = {
	FLAG("no-decl", "noDecl", no_decl, "leave the declaration out"),
	END,
};

static const struct agent_option workspace_options[] = {
	FLAG("workspace", "workspace", workspace, "over the whole workspace"),
	END,
};

static const struct agent_option batch_options[] = {
	FILEOPT("in", "in", in_path, "requests, one JSON object per line (- for stdin)"),
	FILEOPT("out", "out", out_path, "bundles, one per line (- for stdout)"),
	END,
};

static const struct agent_option daemon_options[] = {
	FLAG("wait-ready", "waitReady", wait_ready, "start: wait until every server is ready"),
	FLAG("all", "all", all, "stop: every daemon of this user that runs this lanser program "
	     "(others are listed, left alone)"),
	END,
};

static const struct agent_option locate_options[] = {
	STR("at", "REV", "at", at, "the git revision the selector was written against"),
	END,
};

#define EDIT_OPTIONS \
	FLAG("apply", "apply", apply, "write the change (default: preview)"), \
	FLAG("allow-dirty", "allowDirty", allow_dirty, "apply over uncommitted changes (they are kept)"), \
	{ .name = "commit", .type = AGENT_OPT_STRING, .metavar = "MSG", .json = "commit", \
	  .offset = OFF(commit_msg), .flags = AGENT_OPTF_NONEMPTY, \
	  .help = "commit the applied change with this message" }, \
	{ .name = "verify", .type = AGENT_OPT_ENUM, .metavar = "diagnostics", .json = "verify", \
	  .offset = OFF(verify), .words = verify_words, .flags = AGENT_OPTF_OPTIONAL_WORD, \
	  .help = "apply, compare errors before/after, roll back on new ones" }, \
	{ .name = "max-new-errors", .type = AGENT_OPT_INT, .metavar = "N", .json = "maxNewErrors", \
	  .offset = OFF(max_new_errors), .set_offset = OFF(max_new_errors_set), .min = 0, \
	  .max = 100000, .dflt = "0", \
	  .help = "--verify: new errors tolerated (default: .lanser.json verify.maxNewErrors)" }

static const struct agent_option edit_options[] = { EDIT_OPTIONS, END };

static const struct agent_option patch_options[] = {
	STR("diff", "TEXT", "diff", diff_text, "the unified diff itself, instead of a file"),
	EDIT_OPTIONS,
	END,
};

static const struct agent_option actions_options[] = {
	EDIT_OPTIONS,
	{ .name = "pick", .type = AGENT_OPT_INT, .metavar = "N", .json = "pick", .offset = OFF(pick),
	  .min = 1, .max = 100000, .help = "the Nth action (1-based): preview it, or write it with --apply" },
	END,
};

/* `--patch`: test and group take up to 64 candidates, eval one */
#define PATCH_OPTION(most, text) \
	{ .name = "patch", .type = AGENT_OPT_LIST, .metavar = "FILE", .json = "patches", \
	  .offset = OFF(patches), .count_offset = OFF(npatches), .max = (most), .help = (text) }
#define CANDIDATE_OPTIONS(most, patch_help) \
	FILEOPT("task", "task", task_path, "a task file (docs/task.schema.json)"), \
	PATCH_OPTION(most, patch_help), \
	STR("base", "REV", "base", base, "the revision candidates start from (default HEAD)"), \
	STR("tests", "ID,...", "tests", tests, "FAIL_TO_PASS test ids to account for"), \
	{ .name = "test-files", .type = AGENT_OPT_LIST, .metavar = "GLOB", .json = "testFiles", \
	  .offset = OFF(test_files), .count_offset = OFF(ntest_files), .max = 64, \
	  .help = "files a candidate may not change: put back to the base before the tests " \
		  "(replaces .lanser.json testFiles)" }, \
	FLAG("no-isolation", "noIsolation", no_isolation, \
	     "no sandbox box, resource limits only (loudly)"), \
	{ .name = "jobs", .type = AGENT_OPT_INT, .metavar = "N", .json = "jobs", .offset = OFF(jobs), \
	  .min = 1, .max = 64, .dflt = "2", .help = "candidates run at once" }

static const struct agent_option test_options[] = {
	CANDIDATE_OPTIONS(64, "a candidate patch, in a worktree of its own"),
	FLAG("explain", "explain", explain, "say which build and test commands were chosen and why"),
	END,
};

static const struct agent_option reward_options[] = {
	ENUMOPT("episode", "M", "episode", mode, episode_words, "p-grpo",
		"episode: how R_format, R_outcome and R_process combine"),
	ALIAS("mode", "episode", "M", mode, episode_words),
	ENUMOPT("functional", "F", "functional", functional, functional_words, "delta",
		"step: the process-reward functional"),
	FLAG("explain", "explain", explain, "show the formula with the values put in"),
	END,
};

#define ADVANTAGE_OPTIONS(mode_field) \
	ENUMOPT("advantage", "A", "advantage", mode_field, advantage_words, "grpo", \
		"the advantage mode"), \
	ALIAS("mode", "advantage", "A", mode_field, advantage_words), \
	ENUMOPT("preset", "P", "preset", preset, preset_words, "trl", \
		"trainer preset: its epsilon (trl 1e-4, verl 1e-6, openrlhf 1e-9)"), \
	{ .name = "eps", .type = AGENT_OPT_NUMBER, .metavar = "X", .json = "eps", .offset = OFF(eps), \
	  .min = 0, .help = "override the preset's epsilon (a number >= 0)" }

static const struct agent_option advantages_options[] = {
	ADVANTAGE_OPTIONS(mode),
	FILEOPT("in", "in", in_path, "groups, one JSON line each (default: stdin)"),
	END,
};

static const struct agent_option trace_options[] = {
	FLAG("verify", "verify", replay_verify,
	     "replay: compare every bundle and reward instead of printing them"),
	ENUMOPT("format", "F", "format", format, format_words, NULL, "export: the trainer's format"),
	STR("event", "KIND", "event", event_kind, "list, show: only events of this kind"),
	END,
};

static const struct agent_option eval_options[] = {
	CANDIDATE_OPTIONS(1, "the patch to evaluate (one: several are `lanser group`)"),
	ENUMOPT("episode", "M", "episode", episode_mode, episode_words, "p-grpo",
		"the episode reward mode"),
	ALIAS("mode", "episode", "M", episode_mode, episode_words),
	FILEOPT("sarif", "sarif", sarif_path, "write the new diagnostics as SARIF 2.1.0"),
	END,
};

static const struct agent_option group_options[] = {
	CANDIDATE_OPTIONS(64, "a candidate patch (or --in completions)"),
	FILEOPT("in", "in", in_path, "completions, one JSON line each"),
	FILEOPT("out", "out", out_path, "every candidate's eval bundle, one per line"),
	ADVANTAGE_OPTIONS(mode),
	ENUMOPT("episode", "M", "episode", episode_mode, episode_words, "p-grpo",
		"the episode reward mode"),
	FLAG("jsonl", "jsonl", jsonl, "stream a JSON line per candidate as it finishes, then "
	     "the --json document"),
	END,
};

static const struct agent_option agent_options[] = {
	FILEOPT("task", "task", task_path, "the task: instruction, workspace, base, tests, testFiles, budgets "
		"(docs/agent.md)"),
	FILEOPT("tasks", "tasks", agent_tasks, "rollouts: one task per JSON line"),
	{ .name = "samples", .type = AGENT_OPT_INT, .metavar = "K", .json = "samples",
	  .offset = OFF(samples), .min = 1, .max = 64, .dflt = "1",
	  .help = "rollouts: episodes per task, one GRPO group" },
	{ .name = "jobs", .type = AGENT_OPT_INT, .metavar = "N", .json = "jobs", .offset = OFF(jobs),
	  .min = 1, .max = 64, .dflt = "2", .help = "rollouts: episodes run at once" },
	FILEOPT("out", "out", out_path, "rollouts: one result per line (default: stdout)"),
	STR("base", "REV", "base", base, "the revision the agent starts from (default HEAD)"),
	STR("tests", "ID,...", "tests", tests, "FAIL_TO_PASS test ids of the episode reward"),
	{ .name = "test-files", .type = AGENT_OPT_LIST, .metavar = "GLOB", .json = "testFiles",
	  .offset = OFF(test_files), .count_offset = OFF(ntest_files), .max = 64,
	  .help = "files the agent may not change: put back to the base before the final "
		  "tests (replaces the task's and .lanser.json testFiles)" },
	{ .name = "steps", .type = AGENT_OPT_INT, .metavar = "N", .json = "steps",
	  .offset = OFF(agent_steps), .min = 1, .max = 10000, .dflt = "30",
	  .help = "step budget: tool calls and replies (the task's budgets.steps, else 30)" },
	{ .name = "tokens", .type = AGENT_OPT_INT, .metavar = "N", .json = "tokens",
	  .offset = OFF(agent_tokens), .min = 1, .max = 2000000000,
	  .help = "token budget: prompt + completion tokens of every request" },
	{ .name = "wall", .type = AGENT_OPT_MS, .metavar = "MS", .json = "wallMs",
	  .offset = OFF(agent_wall_ms), .help = "wall-clock budget of an episode" },
	STR("model-url", "URL", "modelUrl", llm_base_url,
	    "the OpenAI-compatible server (default: $OPENAI_BASE_URL, .lanser.json model.baseUrl)"),
	STR("model", "NAME", "model", llm_model, "the model's name in requests"),
	STR("api-key-env", "VAR", "apiKeyEnv", llm_key_env,
	    "the environment variable holding the key (default OPENAI_API_KEY)"),
	{ .name = "temperature", .type = AGENT_OPT_NUMBER, .metavar = "X", .json = "temperature",
	  .offset = OFF(temperature), .min = 0, .help = "sampling temperature" },
	{ .name = "seed", .type = AGENT_OPT_INT, .metavar = "N", .json = "seed", .offset = OFF(seed),
	  .set_offset = OFF(seed_set), .min = 0, .max = 2000000000, .help = "sampling seed" },
	{ .name = "max-tokens", .type = AGENT_OPT_INT, .metavar = "N", .json = "maxTokens",
	  .offset = OFF(max_tokens), .min = 1, .max = 10000000, .help = "completion tokens per reply" },
	FLAG("stream", "stream", stream, "stream the model's replies (server-sent events)"),
	FLAG("yes", "yes", yes, "interactive session: apply each edit without asking"),
	FLAG("no-isolation", "noIsolation", no_isolation,
	     "no sandbox box for tests and servers, resource limits only (loudly)"),
	ENUMOPT("episode", "M", "episode", episode_mode, episode_words, "p-grpo",
		"the episode reward mode"),
	ENUMOPT("advantage", "A", "advantage", mode, advantage_words, "grpo",
		"rollouts: the advantage mode of each task's group"),
	{ .name = "sample", .type = AGENT_OPT_STRING, .metavar = "ID", .offset = OFF(sample_id),
	  .flags = AGENT_OPTF_CLI_ONLY | AGENT_OPTF_NONEMPTY,
	  .help = "the episode's id in results and traces (rollout workers)" },
	END,
};

static const struct agent_option read_options[] = {
	STR("lines", "A-B", "lines", lines, "only these lines of the file (1-based, inclusive; A- to "
	    "the end)"),
	END,
};

static const struct agent_option search_options[] = {
	STR("glob", "PATTERN", "glob", glob, "only files whose path (or, without '/', whose name) "
	    "matches PATTERN"),
	{ .name = "max", .type = AGENT_OPT_INT, .metavar = "N", .json = "max",
	  .offset = OFF(max_matches), .min = 1, .max = 10000, .dflt = "100",
	  .help = "stop after N matching lines" },
	END,
};

static const struct agent_option editsel_options[] = {
	STR("text", "STR", "text", edit_text, "the new text of the selected range"),
	{ .name = "with", .type = AGENT_OPT_FILE, .metavar = "FILE", .json = "with",
	  .offset = OFF(edit_with), .help = "the new text from FILE (- for stdin)" },
	EDIT_OPTIONS,
	END,
};

static const struct agent_option serve_options[] = {
	STR("listen", "HOST:PORT", "listen", listen,
	    "address to listen on (default 127.0.0.1:8650; port 0: any free port)"),
	FILEOPT("tasks", "tasks", tasks_path, "the tasks, one JSON line each (docs/serve.md)"),
	FILEOPT("token-file", "tokenFile", token_file, "require this bearer token (needed with "
		"--allow-remote)"),
	FLAG("allow-remote", "allowRemote", allow_remote, "allow a non-loopback --listen address"),
	FILEOPT("port-file", "portFile", port_file, "write the port listened on into FILE"),
	{ .name = "workers", .type = AGENT_OPT_INT, .metavar = "N", .json = "workers",
	  .offset = OFF(workers), .min = 1, .max = 256, .help = "worker threads (default: the CPUs)" },
	{ .name = "queue", .type = AGENT_OPT_INT, .metavar = "N", .json = "queue",
	  .offset = OFF(queue_max), .min = 1, .max = 100000, .dflt = "64",
	  .help = "jobs waiting at most; beyond: 503 with Retry-After" },
	{ .name = "engines-per-task", .type = AGENT_OPT_INT, .metavar = "N",
	  .json = "enginesPerTask", .offset = OFF(engines_per_task), .min = 1, .max = 64,
	  .help = "warm engines (worktree + language servers) per task at most, opened as "
		  "the task's jobs overlap (default: workers / tasks, at most the CPUs)" },
	{ .name = "max-body", .type = AGENT_OPT_INT, .metavar = "BYTES", .json = "maxBody",
	  .offset = OFF(max_body), .min = 1024, .max = 1 << 30, .dflt = "16777216",
	  .help = "largest request body (beyond: 413)" },
	{ .name = "deadline", .type = AGENT_OPT_MS, .metavar = "MS", .json = "deadlineMs",
	  .offset = OFF(deadline_ms), .dflt = "300000",
	  .help = "a request's deadline (a request may ask for less): samples not scored by then are null" },
	{ .name = "sample-timeout", .type = AGENT_OPT_MS, .metavar = "MS", .json = "sampleTimeoutMs",
	  .offset = OFF(sample_timeout_ms),
	  .help = "wall-clock limit of one sample's tests (default: the task's limits.wallMs)" },
	{ .name = "idle-timeout", .type = AGENT_OPT_MS, .metavar = "MS", .json = "idleTimeoutMs",
	  .offset = OFF(idle_timeout_ms), .dflt = "10000",
	  .help = "close a connection idle this long; a body must arrive within 3 times it" },
	{ .name = "max-connections", .type = AGENT_OPT_INT, .metavar = "N", .json = "maxConnections",
	  .offset = OFF(max_conns), .min = 1, .max = 10000, .dflt = "256",
	  .help = "connections at once" },
	ENUMOPT("episode", "M", "episode", episode_mode, episode_words, "p-grpo",
		"the episode reward mode"),
	{ .name = "jobs", .type = AGENT_OPT_INT, .metavar = "N", .json = "jobs", .offset = OFF(jobs),
	  .min = 1, .max = 64, .dflt = "2", .help = "test worktrees at once per task" },
	FLAG("no-isolation", "noIsolation", no_isolation,
	     "no sandbox box, resource limits only (loudly)"),
	END,
};

static const struct agent_option trust_options[] = {
	FLAG("revoke", "revoke", revoke, "forget this workspace's trust"),
	FLAG("list", "list", list, "list the trusted workspaces"),
	END,
};

static const struct agent_option mcp_options[] = {
	CLI_FLAG("read-only", read_only, "leave out the tools that change files or run code "
		 "(also: .lanser.json \"readOnly\": true)"),
	END,
};

#define Q (AGENT_CMD_WORKSPACE | AGENT_CMD_DAEMON)
#define W (AGENT_CMD_WORKSPACE | AGENT_CMD_WRITES)

const struct agent_command agent_commands[] = {
	{ "def", CMD(cmd_def), Q | AGENT_CMD_QUERY | AGENT_CMD_TOOL, "<selector>", "go to definition",
	  "one selector (docs/selectors.md)", 1, 1, no_options },
	{ "refs", CMD(cmd_refs), Q | AGENT_CMD_QUERY | AGENT_CMD_TOOL, "<selector>", "find references",
	  "one selector", 1, 1, refs_options },
	{ "hover", CMD(cmd_hover), Q | AGENT_CMD_QUERY | AGENT_CMD_TOOL, "<selector>", "type and documentation at a position",
	  "one selector", 1, 1, no_options },
	{ "symbols", CMD(cmd_symbols), Q | AGENT_CMD_QUERY | AGENT_CMD_TOOL, "<file> | --workspace [query]",
	  "document or workspace symbols", "a file, or with workspace an optional query", 0, 1,
	  workspace_options },
	{ "diag", CMD(cmd_diag), Q | AGENT_CMD_QUERY | AGENT_CMD_TOOL, "[file...]",
	  "diagnostics for files (default: the whole workspace)", "files (none: the whole workspace)",
	  0, -1, workspace_options },
	{ "batch", CMD(cmd_batch), AGENT_CMD_WORKSPACE, "--in FILE --out FILE",
	  "one request per JSONL line, one bundle per line (docs/daemon.md)", "none", 0, 0,
	  batch_options },
	{ "daemon", CMD(cmd_daemon), AGENT_CMD_WORKSPACE, "start|stop|status|run",
	  "the warm per-workspace daemon (docs/daemon.md)", "the subcommand", 1, 1, daemon_options },
	{ "doctor", CMD(cmd_doctor), AGENT_CMD_WORKSPACE, "", "what is installed, versions, what is missing",
	  "none", 0, 0, no_options },
	{ "schema", CMD(cmd_schema), 0, "bundle|trace|command [name]",
	  "print the JSON Schema of a format, or of a command's arguments",
	  "bundle, trace, or command and a command name", 1, 2, no_options },
	{ "outline", CMD(cmd_outline), Q | AGENT_CMD_TOOL, "<file>", "symbols from tree-sitter alone (no server)",
	  "one file", 1, 1, no_options },
	{ "locate", CMD(cmd_locate), Q | AGENT_CMD_BATCH | AGENT_CMD_TOOL, "<selector>", "resolve or relocate a selector (docs/selectors.md)",
	  "one selector", 1, 1, locate_options },
	{ "read", CMD(cmd_read), AGENT_CMD_WORKSPACE | AGENT_CMD_BATCH | AGENT_CMD_TOOL,
	  "<file|selector> [--lines A-B]", "a file, or the lines a selector resolves to, with "
	  "line numbers", "one file or one selector (docs/selectors.md)", 1, 1, read_options },
	{ "search", CMD(cmd_search), AGENT_CMD_WORKSPACE | AGENT_CMD_BATCH | AGENT_CMD_TOOL,
	  "<regex> [--glob PATTERN] [--max N]",
	  "search the workspace's files for a POSIX extended regular expression",
	  "one regular expression (POSIX ERE)", 1, 1, search_options },
	{ "prepare-rename", CMD(cmd_prepare_rename), AGENT_CMD_WORKSPACE, "<selector>",
	  "can the symbol here be renamed, and its range", "one selector", 1, 1, no_options },
	{ "rename", CMD(cmd_rename), W | AGENT_CMD_TOOL, "<selector> <new-name>",
	  "rename a symbol everywhere (diff preview; --apply writes)", "a selector and the new name",
	  2, 2, edit_options },
	{ "actions", CMD(cmd_actions), W | AGENT_CMD_TOOL, "<selector>",
	  "code actions at a position; --pick N previews one, --apply writes it", "one selector", 1, 1,
	  actions_options },
	{ "patch", CMD(cmd_patch), W | AGENT_CMD_TOOL, "<file|-> | --diff TEXT",
	  "check and preview a unified diff; --apply writes it (docs/edits.md)",
	  "the diff file, or - for stdin (none with diff)", 0, 1, patch_options },
	{ "edit", CMD(cmd_edit), W | AGENT_CMD_BATCH | AGENT_CMD_TOOL,
	  "<selector> --text STR | --with FILE",
	  "replace the text a selector resolves to (diff preview; --apply writes)",
	  "one selector (docs/selectors.md): a function body, a line range, an anchor", 1, 1,
	  editsel_options },
	{ "test", CMD(cmd_test), W | AGENT_CMD_TOOL, "", "build and run the tests in the sandbox (docs/sandbox.md)",
	  "none", 0, 0, test_options },
	{ "reward", CMD(cmd_reward), 0, "step|episode TERM=VALUE...",
	  "process or episode reward from given terms (docs/rewards.md)",
	  "step or episode, then TERM=VALUE pairs", 1, -1, reward_options },
	{ "advantages", CMD(cmd_advantages), 0, "", "GRPO advantages for JSONL groups of rewards "
	  "(docs/rewards.md)", "none", 0, 0, advantages_options },
	{ "trace", CMD(cmd_trace), 0, "list|show|replay|export FILE [RUN]",
	  "read, verify and export traces (docs/trace.md)", "the subcommand, the file, and for "
	  "list/show an optional run id", 2, 3, trace_options },
	{ "eval", CMD(cmd_eval), W | AGENT_CMD_TOOL, "", "CI verdict for a patch: diagnostics, tests, reward, policy "
	  "(docs/eval.md)", "none", 0, 0, eval_options },
	{ "group", CMD(cmd_group), W, "[patch...]",
	  "rewards and GRPO advantages of a group of candidates (docs/eval.md)", "candidate patch files",
	  0, -1, group_options },
	{ "agent", CMD(cmd_agent), W, "[--task FILE | --tasks FILE --samples K]",
	  "an LLM coding loop on lanser's tools, rewarded at every step; without a task, on a "
	  "terminal: an interactive session (docs/agent.md)", "none",
	  0, 0, agent_options },
	{ "trust", CMD(cmd_trust), AGENT_CMD_WORKSPACE, "", "trust this workspace's .lanser.json "
	  "(docs/security.md)", "none", 0, 0, trust_options },
	{ "serve", CMD(cmd_serve), 0, "--tasks FILE [--listen HOST:PORT]",
	  "the reward server for GRPO trainers: OpenRLHF /get_reward, /score, /metrics "
	  "(docs/serve.md)", "none", 0, 0, serve_options },
	{ "mcp", CMD(cmd_mcp), AGENT_CMD_WORKSPACE, "", "serve every tool to an MCP client on "
	  "stdio (docs/mcp.md)", "none", 0, 0, mcp_options },
	{ "completion", cmd_completion, 0, "bash|zsh", "print a shell completion script from this table",
	  "bash or zsh", 1, 1, no_options },
	{ "help", cmd_help, 0, "[command]", "this help, or a command's", "a command name", 0, 1,
	  no_options },
	{ NULL, NULL, 0, NULL, NULL, NULL, 0, 0, NULL },
};

const struct agent_command *agent_command_find(const char *name)
{
	const struct agent_command *c;

	for (c = agent_commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

const struct agent_option *agent_option_find(const struct agent_command *cmd, const char *name)
{
	const struct agent_option *o;

	for (o = agent_global_options; o->name; o++)
		if (!strcmp(o->name, name))
			return o;
	for (o = cmd ? cmd->options : NULL; o && o->name; o++)
		if (!strcmp(o->name, name))
			return o;
	return NULL;
}
