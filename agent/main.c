/*
 * main.c - the lanser command table and dispatcher.
 *
 * The dispatcher parses the shared options, finds the workspace root
 * (--root, else the nearest .lanser.json, else the git top, else the
 * current directory), loads the configuration, runs the command, checks
 * stdout for write errors and turns the command's LN_E* code into the exit
 * status (core/err.h; docs/exit-codes.md).
 */
#include "agent/cli.h"
#include "agent/daemon.h"
#include "agent/trace.h"
#include "lsp/workspace.h"
#include "core/err.h"
#include "core/path.h"
#include "core/trust.h"
#include "core/buf.h"
#include "core/xalloc.h"
#include "core/limits.h"
#ifndef LANSER_THIN
#include "sandbox/box.h"
#include "sandbox/txn.h"
#endif

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Two binaries are built from this file (docs/daemon.md, "Two binaries"):
 * the engine (`lanser-engine`, every command) and, with -DLANSER_THIN, the
 * `lanser` front end, linked with nothing but jansson and libcrypto so that
 * a warm call does not pay for loading libgit2, libcurl and their
 * dependencies (~4.5 ms): it forwards query commands to the daemon and
 * execs the engine for everything else.
 */
#ifdef LANSER_THIN
static char **thin_argv;
static int run_engine(struct cli *c);
#define CMD(fn) run_engine
#else
#define CMD(fn) fn
#endif

/* NEEDS_WORKSPACE: finds the root and loads the configuration first.
 * DAEMON: answered by the workspace's warm daemon unless --no-daemon.
 * WRITES: writes the work tree or runs its code; refused while an
 * interrupted edit cannot be undone (the others answer with a warning). */
enum { NEEDS_WORKSPACE = 1, DAEMON = 2, WRITES = 4 };

struct command {
	const char *name;
	int (*fn)(struct cli *);
	int flags;
	const char *args;
	const char *summary;
};

static const struct command commands[] = {
	{ "def", CMD(cmd_def), NEEDS_WORKSPACE | DAEMON, "<selector>", "go to definition" },
	{ "refs", CMD(cmd_refs), NEEDS_WORKSPACE | DAEMON, "<selector>", "find references" },
	{ "hover", CMD(cmd_hover), NEEDS_WORKSPACE | DAEMON, "<selector>", "type and documentation at a position" },
	{ "symbols", CMD(cmd_symbols), NEEDS_WORKSPACE | DAEMON, "<file> | --workspace [query]", "document or workspace symbols" },
	{ "diag", CMD(cmd_diag), NEEDS_WORKSPACE | DAEMON, "[file...]", "diagnostics for files (default: the whole workspace)" },
	{ "batch", CMD(cmd_batch), NEEDS_WORKSPACE, "--in FILE --out FILE", "one request per JSONL line, one bundle per line" },
	{ "daemon", CMD(cmd_daemon), NEEDS_WORKSPACE, "start|stop|status|run", "the warm per-workspace daemon (docs/daemon.md)" },
	{ "doctor", CMD(cmd_doctor), NEEDS_WORKSPACE, "", "what is installed, versions, what is missing" },
	{ "schema", CMD(cmd_schema), 0, "bundle|trace", "print the JSON Schema of a format" },
	{ "outline", CMD(cmd_outline), NEEDS_WORKSPACE | DAEMON, "<file>", "symbols from tree-sitter alone (no server)" },
	{ "locate", CMD(cmd_locate), NEEDS_WORKSPACE | DAEMON, "<selector> [--at REV]", "resolve or relocate a selector (docs/selectors.md)" },
	/* edit commands (issue 5) */
	{ "prepare-rename", CMD(cmd_prepare_rename), NEEDS_WORKSPACE, "<selector>", "can the symbol here be renamed, and its range" },
	{ "rename", CMD(cmd_rename), NEEDS_WORKSPACE | WRITES, "<selector> <new-name>", "rename a symbol everywhere (diff preview; --apply writes)" },
	{ "actions", CMD(cmd_actions), NEEDS_WORKSPACE | WRITES, "<selector> [--pick N]", "code actions at a position; --pick N previews one, --apply writes it" },
	{ "patch", CMD(cmd_patch), NEEDS_WORKSPACE | WRITES, "<file|->", "check and preview a unified diff; --apply writes it (docs/edits.md)" },
	/* sandbox commands (issue 6) */
	{ "test", CMD(cmd_test), NEEDS_WORKSPACE | WRITES, "[--task T] [--patch P]...", "build and run the tests in the sandbox (docs/sandbox.md)" },
	/* reward and trace commands (issue 7) */
	{ "reward", CMD(cmd_reward), 0, "step|episode TERM=VALUE...", "process or episode reward from given terms (docs/rewards.md)" },
	{ "advantages", CMD(cmd_advantages), 0, "< groups.jsonl", "GRPO advantages for JSONL groups of rewards" },
	{ "trace", CMD(cmd_trace), 0, "list|show|replay|export FILE", "read, verify and export traces (docs/trace.md)" },
	{ "eval", CMD(cmd_eval), NEEDS_WORKSPACE | WRITES, "--patch P | --task T [--sarif F]", "CI verdict for a patch: diagnostics, tests, reward, policy (docs/eval.md)" },
	{ "group", CMD(cmd_group), NEEDS_WORKSPACE | WRITES, "[--task T] P... | --in C.jsonl", "rewards and GRPO advantages of a group of candidates (docs/eval.md)" },
	{ "trust", CMD(cmd_trust), NEEDS_WORKSPACE, "[--revoke | --list]", "trust this workspace's .lanser.json (docs/security.md)" },
	{ NULL, NULL, 0, NULL, NULL },
};

static void usage(FILE *out)
{
	const struct command *c;
	const struct ln_err_info *e;

	fprintf(out,
		"usage: lanser [options] <command> [args]\n"
		"\n"
		"Answers questions about code with facts from real language servers.\n"
		"Positions are 1-based lines and columns; the column unit is --index-io.\n"
		"Query commands go through a warm per-workspace daemon that the first call\n"
		"starts (docs/daemon.md); --no-daemon answers in-process, with the same bundle.\n"
		"\n"
		"commands:\n");
	for (c = commands; c->name; c++)
		fprintf(out, "  %-14s %-30s %s\n", c->name, c->args, c->summary);
	fprintf(out,
		"\n"
		"options:\n"
		"  --root DIR           workspace root (default: nearest .lanser.json, git top, cwd)\n"
		"  --trust              trust the workspace's .lanser.json for this run (CI);\n"
		"                       an untrusted one cannot choose programs to run\n"
		"  --config FILE        read FILE instead of .lanser.json (trusted: you named it);\n"
		"                       eval/group: instead of the base commit's too\n"
		"  --revoke, --list     trust: forget this workspace / list trusted workspaces\n"
		"  --json               print the Analysis Bundle (JSON, one line)\n"
		"  --index-io ENC       column unit: codepoint (default), utf-8, utf-16\n"
		"  --timeout MS         per-request timeout (default 30000)\n"
		"  --wait-index MS      how long to wait for the server's index (default 120000)\n"
		"  --no-wait            answer at once; the bundle says \"complete\": false\n"
		"  --workspace          symbols/diag over the whole workspace\n"
		"  --no-decl            refs: leave the declaration out\n"
		"  --at REV             locate: the git revision the selector was written against\n"
		"  --no-daemon          answer in this process (also: LANSER_NO_DAEMON=1)\n"
		"  --no-cache           do not answer from the daemon's answer cache\n"
		"  --wait-ready         daemon start: wait until every server is ready\n"
		"  --all                daemon stop: every daemon of this user that runs this\n"
		"                       lanser program (others are listed, left alone)\n"
		"  --in FILE, --out FILE  batch input (JSONL requests) and output (bundles);\n"
		"                       group: completions JSONL in, candidates' eval bundles out\n"
		"  --apply              rename/actions/patch: write the change (default: preview)\n"
		"  --allow-dirty        apply over uncommitted changes (they are kept)\n"
		"  --commit MSG         commit the applied change with this message\n"
		"  --verify diagnostics apply, compare errors before/after, roll back on new ones\n"
		"  --max-new-errors N   --verify: new errors tolerated (default 0)\n"
		"  --pick N             actions: the Nth action (1-based)\n"
		"  --trace FILE         append a replayable JSONL trace of the run (docs/trace.md)\n"
		"  --mode M             reward episode: p-grpo (default), outcome, process, sum;\n"
		"                       advantages: grpo (default), dr_grpo, batch, step\n"
		"  --functional F       reward step: delta (default), paper, bounded\n"
		"  --preset P           advantages: trl (default, eps 1e-4), verl (1e-6), openrlhf (1e-9)\n"
		"  --eps X              advantages: override the preset's epsilon\n"
		"  --explain            reward: show the formula with the values put in\n"
		"  --verify             trace replay: recompute and compare every bundle and reward\n"
		"  --format F           trace export: trl, openrlhf, verl, prm\n"
		"  --event KIND         trace list/show: only events of this kind\n"
		"  --sarif FILE         eval: write the new diagnostics as SARIF 2.1.0\n"
		"  --episode M          group: episode reward mode (p-grpo, outcome, process, sum);\n"
		"                       eval takes it as --mode\n"
		"  --task FILE          test: a task file (docs/task.schema.json)\n"
		"  --patch FILE         test: a candidate patch, in a worktree of its own (repeatable)\n"
		"  --base REV           test: the revision candidates start from (default HEAD)\n"
		"  --tests ID,...       test: FAIL_TO_PASS test ids to account for\n"
		"  --no-isolation       test: no sandbox box, resource limits only (loudly)\n"
		"  --jobs N             test, group: candidates run at once (default 2)\n"
		"  -h, --help           this help;  --version  print the version\n"
		"\n"
		"exit codes:\n");
	for (e = ln_err_table; e->name; e++)
		fprintf(out, "  %3d  %-22s %s\n", ln_exit_code(e->code), e->name, e->summary);
}

static int parse_ms(const char *s, int *out, const char *opt)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < 0 || v > LN_TIMEOUT_MAX_MS)
		return ln_error_set(LN_EUSAGE, "%s needs a number of milliseconds (0-%d)", opt,
				    LN_TIMEOUT_MAX_MS);
	*out = (int)v;
	return 0;
}

/* `path` made absolute against `cwd` (malloc'd). */
static char *absolute(const char *path, const char *cwd)
{
	struct buf b = BUF_INIT;

	if (path[0] != '/')
		buf_addf(&b, "%s/", cwd);
	buf_adds(&b, path);
	return buf_detach(&b, NULL);
}

/* Parses the options and the command, finds the workspace root and loads
 * the configuration (for commands that need them). Relative paths are
 * taken from `cwd`. *cmd is NULL for --help / --version (c->help_or_version
 * says which, for run_prepared). */
static int prepare(struct cli *c, const struct command **cmd_out, int argc, char **argv,
		   const char *cwd)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "index-io", required_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 't' },
		{ "wait-index", required_argument, NULL, 'w' },
		{ "no-wait", no_argument, NULL, 'W' },
		{ "workspace", no_argument, NULL, 'a' },
		{ "no-decl", no_argument, NULL, 'D' },
		{ "no-daemon", no_argument, NULL, 'N' },
		{ "no-cache", no_argument, NULL, 'C' },
		{ "wait-ready", no_argument, NULL, 'R' },
		{ "all", no_argument, NULL, 'A' },
		{ "in", required_argument, NULL, 'I' },
		{ "out", required_argument, NULL, 'O' },
		{ "at", required_argument, NULL, 'T' },
		/* options of the edit commands (issue 5): codes 1000-1099 */
		{ "apply", no_argument, NULL, 1000 },
		{ "allow-dirty", no_argument, NULL, 1001 },
		{ "commit", required_argument, NULL, 1002 },
		{ "pick", required_argument, NULL, 1003 },
		{ "max-new-errors", required_argument, NULL, 1004 },
		/* options of the sandbox commands (issue 6): codes 1100-1199 */
		{ "task", required_argument, NULL, 1100 },
		{ "patch", required_argument, NULL, 1101 },
		{ "base", required_argument, NULL, 1102 },
		{ "tests", required_argument, NULL, 1103 },
		{ "no-isolation", no_argument, NULL, 1104 },
		{ "jobs", required_argument, NULL, 1105 },
		/* options of the reward and trace commands (issue 7): codes 1200-1299 */
		{ "trace", required_argument, NULL, 1200 },
		{ "mode", required_argument, NULL, 1201 },
		{ "preset", required_argument, NULL, 1202 },
		{ "explain", no_argument, NULL, 1203 },
		{ "format", required_argument, NULL, 1204 },
		/* shared: `--verify diagnostics` (edits) and bare `--verify` (trace
		 * replay); see case 1205 */
		{ "verify", optional_argument, NULL, 1205 },
		{ "functional", required_argument, NULL, 1206 },
		{ "eps", required_argument, NULL, 1207 },
		{ "event", required_argument, NULL, 1208 },
		/* eval and group (issue 7, items 7-8): codes 1300-1399 */
		{ "sarif", required_argument, NULL, 1300 },
		{ "episode", required_argument, NULL, 1301 },
		/* workspace trust: codes 1400-1499 */
		{ "trust", no_argument, NULL, 1400 },
		{ "config", required_argument, NULL, 1401 },
		{ "revoke", no_argument, NULL, 1402 },
		{ "list", no_argument, NULL, 1403 },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd = NULL;
	const char *root_opt = NULL;
	int ch, error = 0, timeout = -1, index_ms = -1;

	*cmd_out = NULL;
	optind = 0; /* full re-initialisation: the daemon parses many times */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+hV", opts, NULL)) != -1 || optind < argc) {
		if (ch == -1) {
			/* a positional argument: the command first, then its args */
			if (!cmd) {
				for (cmd = commands; cmd->name; cmd++)
					if (!strcmp(cmd->name, argv[optind]))
						break;
				if (!cmd->name)
					return ln_error_set(LN_EUSAGE, "unknown command '%s' "
							    "(see lanser --help)", argv[optind]);
				c->argv = xcalloc((size_t)argc, sizeof *c->argv);
			} else {
				c->argv[c->argc++] = argv[optind];
			}
			optind++;
			continue;
		}
		switch (ch) {
		case 'r': root_opt = optarg; c->explicit_root = true; break;
		case 'j': c->json = true; break;
		case 'i':
			if (ln_enc_parse(&c->index_io, optarg))
				return ln_error_set(LN_EUSAGE, "--index-io must be codepoint, utf-8 "
						    "or utf-16 (got '%s')", optarg);
			break;
		case 't': if ((error = parse_ms(optarg, &timeout, "--timeout"))) return error; break;
		case 'w': if ((error = parse_ms(optarg, &index_ms, "--wait-index"))) return error; break;
		case 'W': c->no_wait = true; break;
		case 'a': c->workspace = true; break;
		case 'D': c->no_decl = true; break;
		case 'N': c->no_daemon = true; break;
		case 'C': c->no_cache = true; break;
		case 'R': c->wait_ready = true; break;
		case 'A': c->all = true; break;
		case 'I': c->in_path = optarg; break;
		case 'O': c->out_path = optarg; break;
		case 'T': c->at = optarg; break;
		/* edit commands (issue 5) */
		case 1000: c->apply = true; break;
		case 1001: c->allow_dirty = true; break;
		case 1002:
			if (!*optarg)
				return ln_error_set(LN_EUSAGE, "--commit needs a message");
			c->commit_msg = optarg;
			break;
		case 1003: case 1004: {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (!*optarg || *end || v < (ch == 1003 ? 1 : 0) || v > 100000)
				return ln_error_set(LN_EUSAGE, "%s needs a number", ch == 1003 ?
						    "--pick" : "--max-new-errors");
			if (ch == 1003) {
				c->pick = (int)v;
			} else {
				c->max_new_errors = (int)v;
				c->max_new_errors_set = true;
			}
			break;
		}
		/* sandbox commands (issue 6) */
		case 1100: c->task_path = optarg; break;
		case 1101:
			if (c->npatches == (int)(sizeof c->patches / sizeof c->patches[0]))
				return ln_error_set(LN_EUSAGE, "at most %zu --patch options (use a task "
						    "file with \"candidates\")",
						    sizeof c->patches / sizeof c->patches[0]);
			c->patches[c->npatches++] = optarg;
			break;
		case 1102: c->base = optarg; break;
		case 1103: c->tests = optarg; break;
		case 1104: c->no_isolation = true; break;
		case 1105: {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (!*optarg || *end || v < 1 || v > 64)
				return ln_error_set(LN_EUSAGE, "--jobs needs a number from 1 to 64");
			c->jobs = (int)v;
			break;
		}
		/* reward and trace commands (issue 7) */
		case 1200: c->trace_path = optarg; break;
		case 1201: c->mode = optarg; break;
		case 1202: c->preset = optarg; break;
		case 1203: c->explain = true; break;
		case 1204: c->format = optarg; break;
		case 1205:
			/* --verify=MODE, --verify diagnostics (the one edit mode), or
			 * a bare --verify (trace replay): "" */
			if (optarg)
				c->verify = optarg;
			else if (optind < argc && !strcmp(argv[optind], "diagnostics"))
				c->verify = argv[optind++];
			else
				c->verify = "";
			break;
		case 1206: c->functional = optarg; break;
		case 1207: c->eps = optarg; break;
		case 1208: c->event_kind = optarg; break;
		case 1300: c->sarif_path = optarg; break;
		case 1301: c->episode_mode = optarg; break;
		case 1400: c->trust = true; break;
		case 1401:
			free(c->config_path);
			c->config_path = absolute(optarg, cwd);
			break;
		case 1402: c->revoke = true; break;
		case 1403: c->list = true; break;
		case 'h': c->help_or_version = 'h'; return 0;
		case 'V': c->help_or_version = 'V'; return 0;
		default:
			return ln_error_set(LN_EUSAGE, "unknown or incomplete option '%s' "
					    "(see lanser --help)", argv[optind - 1]);
		}
	}
	if (!cmd) {
		usage(c->err);
		return ln_error_set(LN_EUSAGE, "no command given");
	}
	*cmd_out = cmd;
	c->cwd = xstrdup(cwd);
	/* Process-wide (core/trust.h): every configuration loaded for this
	 * command, the jail's and eval's base included, sees it. Only set by
	 * a command line that gives it: a batch line run in-process keeps the
	 * trust of the `lanser --trust batch` that runs it. */
	if (c->trust || c->config_path)
		ln_trust_set_cli(c->trust, c->config_path);
	if (cmd->flags & NEEDS_WORKSPACE) {
		error = ln_workspace_find_root(&c->root, root_opt, c->cwd);
		if (error)
			return error;
		error = ln_config_load(&c->cfg, c->root);
		if (error)
			return error;
		c->timeout_ms = timeout >= 0 ? timeout : c->cfg.request_ms;
		c->index_ms = index_ms >= 0 ? index_ms : c->cfg.index_ms;
#ifndef LANSER_THIN
		/* an interrupted edit transaction is finished or undone before
		 * anything reads the workspace (docs/edits.md); when that fails,
		 * queries still answer, with the reason and the way out */
		if ((error = sbx_txn_recover(c->root)) < 0) {
			if (cmd->flags & WRITES)
				return error;
			fprintf(c->err, "lanser: warning: %s\n", ln_printable(ln_error_msg()));
			ln_error_clear();
		}
		error = 0;
#endif
	}
	return 0;
}

static void cli_release(struct cli *c)
{
	if (c->trust || c->config_path)
		ln_trust_set_cli(false, NULL);
	free(c->config_path);
	ln_config_release(&c->cfg);
	free(c->argv);
	free(c->root);
	free(c->cwd);
}

#ifndef LANSER_THIN
/* Runs a command in this process (or, with ws set, inside the daemon) and
 * writes its output, and its error message, to out/err. */
static int exec_argv(int argc, char **argv, const char *cwd, FILE *out, FILE *err,
		     struct lsp_workspace *ws, bool in_daemon, struct exec_result *res);
#endif

static void cli_init(struct cli *c, FILE *out, FILE *err)
{
	memset(c, 0, sizeof *c);
	c->out = out;
	c->err = err;
	c->index_io = LN_ENC_CODEPOINT;
#ifndef LANSER_THIN
	c->exec = exec_argv;
#endif
}

static int finish(struct cli *c, int error)
{
	if (fflush(c->out) != 0 || ferror(c->out)) {
		if (!error)
			error = ln_error_set(LN_EGENERIC, "error writing to standard output");
	}
	if (error)
		fprintf(c->err, "lanser: %s\n", ln_error_msg()[0] ? ln_printable(ln_error_msg()) :
			ln_err_name(error));
	return error;
}

#ifndef LANSER_THIN
static int exec_argv(int argc, char **argv, const char *cwd, FILE *out, FILE *err,
		     struct lsp_workspace *ws, bool in_daemon, struct exec_result *res)
{
	const struct command *cmd = NULL;
	struct cli c;
	/* a nested line (batch) gives back the trust of the command running it */
	bool saved_trust = ln_trust_cli_trust();
	const char *saved_config = ln_trust_cli_config();
	int error;

	cli_init(&c, out, err);
	memset(res, 0, sizeof *res);
	ln_error_clear();
	error = prepare(&c, &cmd, argc, argv, cwd);
	if (!error && !cmd)
		error = ln_error_set(LN_EUSAGE, "--help and --version are answered by the client");
	if (!error && ws && !(cmd->flags & DAEMON))
		error = ln_error_set(LN_EUSAGE, "the daemon does not run '%s'", cmd->name);
	if (!error && ws && (c.trust || c.config_path))
		error = ln_error_set(LN_EUSAGE, "--trust and --config are not taken through the "
				     "daemon (the client answers in-process)");
	if (!error && ws && strcmp(c.root, lsp_workspace_root(ws)))
		error = ln_error_set(LN_EUSAGE, "this daemon serves %s, not %s",
				     lsp_workspace_root(ws), c.root);
	if (!error) {
		c.ws = ws;
		c.in_daemon = in_daemon;
		error = trace_begin(&c, cmd->name);
		if (!error)
			error = trace_end(&c, cmd->fn(&c));
		res->cacheable = c.cacheable;
		res->complete = c.complete;
		res->no_cache = c.no_cache;
	}
	error = finish(&c, error);
	res->code = ln_exit_code(error);
	cli_release(&c);
	ln_trust_set_cli(saved_trust, saved_config);
	return res->code;
}

#else
/* The engine binary: LANSER_ENGINE, else `lanser-engine` next to us. */
static void find_engine(void)
{
	static char path[4096];
	const char *env = getenv("LANSER_ENGINE");
	ssize_t n;
	char *slash;

	if (env && *env) {
		lanser_engine_path = env;
		return;
	}
	n = readlink("/proc/self/exe", path, sizeof path - 32);
	if (n <= 0)
		return;
	path[n] = '\0';
	slash = strrchr(path, '/');
	snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "lanser-engine");
	lanser_engine_path = path;
}

static int run_engine(struct cli *c)
{
	fflush(c->out);
	fflush(c->err);
	execv(lanser_engine_path, thin_argv);
	return ln_error_set(LN_EGENERIC, "cannot run %s: %s (run 'make')", lanser_engine_path,
			    strerror(errno));
}
#endif

int main(int argc, char **argv)
{
	const struct command *cmd = NULL;
	struct cli c;
	char *cwd;
	int error;

	/* A server that dies while we write to it must surface as EPIPE
	 * (-> SERVER_CRASH), not kill lanser. */
	signal(SIGPIPE, SIG_IGN);
#ifndef LANSER_THIN
	/* the sandbox's trampoline (sandbox/box.h): not a command, in no help */
	if (argc > 1 && !strcmp(argv[1], "__box"))
		return sbx_box_main(argc, argv);
#endif
#ifdef LANSER_THIN
	thin_argv = argv;
	find_engine();
#endif
	cli_init(&c, stdout, stderr);
	cwd = getcwd(NULL, 0);
	if (!cwd) {
		fprintf(stderr, "lanser: cannot read the current directory\n");
		return ln_exit_code(LN_EGENERIC);
	}
	error = prepare(&c, &cmd, argc, argv, cwd);
	if (!error && c.help_or_version == 'h') {
		usage(stdout);
		goto done;
	}
	if (!error && c.help_or_version == 'V') {
		printf("lanser %s\n", LANSER_VERSION);
		goto done;
	}
	/* An untrusted configuration lost members: say so once, on stderr
	 * (never in the JSON on stdout); doctor says it in full. */
	if (!error && cmd && (cmd->flags & NEEDS_WORKSPACE) && json_array_size(c.cfg.ignored) &&
	    strcmp(cmd->name, "trust") && strcmp(cmd->name, "doctor") &&
	    !getenv("LANSER_TRUST_NOTED")) {
		size_t i;
		json_t *v;
		fprintf(stderr, "lanser: note: untrusted workspace, ignored in %s:", c.cfg.source);
		json_array_foreach(c.cfg.ignored, i, v)
			fprintf(stderr, "%s %s", i ? "," : "", json_string_value(v));
		fprintf(stderr, " (built-in servers are used; 'lanser trust' trusts it)\n");
		/* the thin front end may exec the engine, which must not repeat it */
		setenv("LANSER_TRUST_NOTED", "1", 1);
	}
	/* Trust given on the command line is this run's alone: the daemon
	 * keeps the trust store's decision, so the query runs in-process. */
	if (!error && (c.trust || c.config_path)) {
		c.no_daemon = true;
#ifdef LANSER_THIN
		setenv("LANSER_NO_DAEMON", "1", 1);
#endif
	}
	if (!error && (cmd->flags & DAEMON) && !c.no_daemon && !daemon_disabled()) {
		int code;
		if (daemon_forward(&c, argc - 1, argv + 1, &code) == 0) {
			cli_release(&c);
			free(cwd);
			return code;
		}
		/* no daemon could be reached: say why, answer in-process */
		fprintf(stderr, "lanser: note: %s; answering without the daemon\n",
			ln_printable(ln_error_msg()));
		ln_error_clear();
#ifdef LANSER_THIN
		setenv("LANSER_NO_DAEMON", "1", 1);
#endif
	}
#ifndef LANSER_THIN
	if (!error)
		error = trace_begin(&c, cmd->name);
	if (!error)
		error = trace_end(&c, cmd->fn(&c));
#else
	if (!error)
		error = cmd->fn(&c);
#endif
done:
	error = finish(&c, error);
	cli_release(&c);
	free(cwd);
	return ln_exit_code(error);
}
