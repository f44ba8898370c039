/*
 * main.c - the dispatcher.
 *
 * The dispatcher parses the command line with the command table
 * (agent/command.h; docs/commands.md), finds the workspace root
 * (--root, else the nearest .lanser.json, else the git top, else the
 * current directory), loads the configuration, runs the command, checks
 * stdout for write errors and turns the command's LN_E* code into the exit
 * status (core/err.h; docs/exit-codes.md).
 */
#include "agent/cli.h"
#include "agent/command.h"
#include "agent/daemon.h"
#include "agent/trace.h"
#include "lsp/workspace.h"
#include "core/err.h"
#include "core/path.h"
#include "core/trust.h"
#include "core/xalloc.h"
#ifndef LANSER_THIN
#include "sandbox/box.h"
#include "sandbox/txn.h"
#endif

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Two binaries are built from this file (the Makefile, "Two binaries"):
 * the engine (`lanser-engine`, every command) and, with -DLANSER_THIN, the
 * `lanser` front end, linked with nothing but the core, jansson and Nettle so
 * that a warm call does not pay for loading libgit2, libcurl and their
 * dependencies (~4.5 ms). Both parse with the command table
 * (agent/command.h), so help and usage errors are answered without the
 * engine; the front end forwards query commands to the daemon and execs the
 * engine for everything else (cmd_engine).
 */
#ifdef LANSER_THIN
static char **thin_argv;
#endif

/* Parses the command line with the command table, finds the workspace
 * root and loads the configuration (for commands that need them). Relative
 * paths are taken from `cwd`. *cmd is NULL for --help / --version
 * (c->help_or_version says which; c->help_cmd names the command). */
static int prepare(struct cli *c, const struct agent_command **cmd_out, int argc, char **argv,
		   const char *cwd)
{
	const struct agent_command *cmd = NULL;
	int error;

	error = agent_cmdline_parse(c, &cmd, argc, argv, cwd);
	if (error || !cmd) {
		if (error && !c->help_or_version && !strcmp(ln_error_msg(), "no command given"))
			agent_help_print(c->err);
		*cmd_out = NULL;
		return error;
	}
	*cmd_out = cmd;
	c->cwd = xstrdup(cwd);
	/* Process-wide (core/trust.h): every configuration loaded for this
	 * command, the jail's and eval's base included, sees it. Only set by
	 * a command line that gives it: a batch line run in-process keeps the
	 * trust of the `lanser --trust batch` that runs it. */
	if (c->trust || c->config_path)
		ln_trust_set_cli(c->trust, c->config_path);
	if (cmd->flags & AGENT_CMD_WORKSPACE) {
		error = ln_workspace_find_root(&c->root, c->root_opt, c->cwd);
		if (error)
			return error;
		error = ln_config_load(&c->cfg, c->root);
		if (error)
			return error;
		if (!c->timeout_set)
			c->timeout_ms = c->cfg.request_ms;
		if (!c->index_set)
			c->index_ms = c->cfg.index_ms;
#ifndef LANSER_THIN
		/* an interrupted edit transaction is finished or undone before
		 * anything reads the workspace (docs/edits.md); when that fails,
		 * queries still answer, with the reason and the way out */
		if ((error = sbx_txn_recover(c->root)) < 0) {
			if (cmd->flags & AGENT_CMD_WRITES)
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
		     FILE *progress, struct lsp_workspace *ws, bool in_daemon,
		     struct exec_result *res);
#endif

static void cli_init(struct cli *c, FILE *out, FILE *err)
{
	memset(c, 0, sizeof *c);
	c->out = out;
	c->err = err;
	/* waits are shown on a terminal only (cmdctx_wait_ready; never with --json) */
	if (err == stderr && isatty(STDERR_FILENO))
		c->progress = stderr;
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
		     FILE *progress, struct lsp_workspace *ws, bool in_daemon,
		     struct exec_result *res)
{
	const struct agent_command *cmd = NULL;
	struct cli c;
	/* a nested line (batch) gives back the trust of the command running it */
	bool saved_trust = ln_trust_cli_trust();
	const char *saved_config = ln_trust_cli_config();
	int error;

	cli_init(&c, out, err);
	c.progress = progress;
	memset(res, 0, sizeof *res);
	ln_error_clear();
	error = prepare(&c, &cmd, argc, argv, cwd);
	if (!error && !cmd)
		error = ln_error_set(LN_EUSAGE, "--help and --version are answered by the client");
	if (!error && ws && !(cmd->flags & AGENT_CMD_DAEMON))
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

int cmd_engine(struct cli *c)
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
	const struct agent_command *cmd = NULL;
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
		if (c.help_cmd)
			agent_help_command(stdout, c.help_cmd);
		else
			agent_help_print(stdout);
		goto done;
	}
	if (!error && c.help_or_version == 'V') {
		printf("lanser %s\n", LANSER_VERSION);
		goto done;
	}
	/* An untrusted configuration lost members: say so once, on stderr
	 * (never in the JSON on stdout); doctor says it in full. */
	if (!error && cmd && (cmd->flags & AGENT_CMD_WORKSPACE) && json_array_size(c.cfg.ignored) &&
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
	if (!error && (cmd->flags & AGENT_CMD_DAEMON) && !c.no_daemon && !daemon_disabled()) {
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
