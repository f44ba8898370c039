/*
 * batch.c - `lanser batch --in requests.jsonl --out bundles.jsonl`.
 *
 * One request per input line, one bundle per output line, in the same
 * order; a line that fails (malformed JSON, unknown command, bad selector,
 * server crash) gets an error bundle, never a missing line. A request is
 * {"command": "def", "args": ["src/a.c@L3:C5"], "options": {...}, "id": any}
 * (docs/daemon.md, "Batch"), its options named and checked by the command
 * table (agent/command.h, docs/commands.md); it runs exactly as the same command line would, through
 * the daemon (or, with --no-daemon, in this process on one shared set of
 * servers), so its bundle has the same bundleId.
 */
#include "agent/cli.h"
#include "agent/command.h"
#include "core/buf.h"
#include "core/bundle.h"
#include "agent/daemon.h"
#include "core/err.h"
#include "core/jsonl.h"
#include "lsp/workspace.h"
#include "core/xalloc.h"
#include "core/limits.h"
#include "core/xjson.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE ((size_t)1 << 20)
#define MAX_LINES 100000
#define MAX_BATCH_ARGS 64

/* The commands a batch line may run: the queries of the command table and
 * locate (AGENT_CMD_BATCH). */
static const struct agent_command *batch_command(const char *name)
{
	const struct agent_command *cmd = name ? agent_command_find(name) : NULL;

	return cmd && (cmd->flags & (AGENT_CMD_QUERY | AGENT_CMD_BATCH)) ? cmd : NULL;
}

static int bad_command(void)
{
	const struct agent_command *cmd;
	struct buf b = BUF_INIT;
	int e;

	for (cmd = agent_commands; cmd->name; cmd++)
		if (cmd->flags & (AGENT_CMD_QUERY | AGENT_CMD_BATCH))
			buf_addf(&b, "%s%s", b.len ? ", " : "", cmd->name);
	e = ln_error_set(LN_EUSAGE, "\"command\" must be one of %s", b.data);
	buf_release(&b);
	return e;
}

/* Checks a command line with the parser every command line goes through
 * (types, bounds, words), without running it. */
static int check_argv(const json_t *argv, const char *cwd)
{
	const struct agent_command *cmd = NULL;
	size_t n = json_array_size(argv), i;
	char **args = xcalloc(n + 2, sizeof *args);
	struct cli c;
	int error;

	memset(&c, 0, sizeof c);
	args[0] = "lanser";
	for (i = 0; i < n; i++)
		args[i + 1] = (char *)json_string_value(json_array_get(argv, i));
	error = agent_cmdline_parse(&c, &cmd, (int)n + 1, args, cwd);
	free(c.argv);
	free(c.config_path);
	free(args);
	return error;
}

/* Turns a request line into a command line (without the program name):
 * `options` by the command table's JSON names (docs/commands.md). */
static int request_argv(json_t **out, const char *line, size_t len, json_t **id,
			const char **command, const char *cwd)
{
	json_error_t jerr;
	json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr), *argv = NULL, *a, *v;
	const struct agent_command *cmd;
	const char *key;
	size_t i;
	int error = 0;

	*out = NULL;
	*id = NULL;
	*command = "batch";
	if (!req)
		return ln_error_set(LN_EUSAGE, "malformed JSON at column %d: %s", jerr.column,
				    jerr.text);
	if (!json_is_object(req)) {
		json_decref(req);
		return ln_error_set(LN_EUSAGE, "a request must be a JSON object");
	}
	if (json_object_get(req, "id"))
		*id = json_incref(json_object_get(req, "id"));
	json_object_foreach(req, key, v)
		if (strcmp(key, "id") && strcmp(key, "command") && strcmp(key, "args") &&
		    strcmp(key, "options")) {
			error = ln_error_set(LN_EUSAGE, "unknown member \"%s\" (a request has id, "
					     "command, args and options)", key);
			goto done;
		}
	cmd = batch_command(json_string_value(json_object_get(req, "command")));
	if (!cmd) {
		error = bad_command();
		goto done;
	}
	*command = cmd->name;
	argv = xjson_pack("[s]", "--json");
	if ((error = agent_cmd_json_argv(argv, cmd, json_object_get(req, "options"))))
		goto done;
	json_array_append_new(argv, json_string(cmd->name));
	a = json_object_get(req, "args");
	if (a && (!json_is_array(a) || json_array_size(a) > MAX_BATCH_ARGS)) {
		error = ln_error_set(LN_EUSAGE, "\"args\" must be an array of at most %d strings",
				     MAX_BATCH_ARGS);
		goto done;
	}
	for (i = 0; i < json_array_size(a); i++) {
		json_t *s = json_array_get(a, i);
		if (!json_is_string(s) || !strncmp(json_string_value(s), "-", 1)) {
			error = ln_error_set(LN_EUSAGE, "args[%zu] must be a string that is not an "
					     "option", i);
			goto done;
		}
		json_array_append(argv, s);
	}
	error = check_argv(argv, cwd);
done:
	json_decref(req);
	if (error) {
		json_decref(argv);
		return error;
	}
	*out = argv;
	return 0;
}

/* An error bundle for a line that produced none. */
static char *error_bundle(const char *command, int code, const char *msg)
{
	json_t *b = ln_bundle_new(command);
	char *s = NULL;

	if (ln_bundle_finish(b, code, msg) == 0)
		s = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(b);
	return s;
}

/* Adds meta.volatile.batch = {line, id} to a bundle line (not hashed). */
static char *stamp(const char *bundle, size_t len, long line, json_t *id)
{
	json_t *b = json_loadb(bundle, len, 0, NULL);
	json_t *vol = json_object_get(json_object_get(b, "meta"), "volatile");
	char *s;

	if (!json_is_object(vol)) {
		json_decref(b);
		return NULL;
	}
	json_object_set_new(vol, "batch", xjson_pack("{s:I}", "line", (json_int_t)line));
	if (id)
		json_object_set(json_object_get(vol, "batch"), "id", id);
	s = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(b);
	return s;
}

/* The last line of a command's stderr, without "lanser: ". */
static void last_message(char *out, size_t n, const char *err, size_t len)
{
	const char *end = err + len, *start;

	while (end > err && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	start = end;
	while (start > err && start[-1] != '\n')
		start--;
	if (end - start > 8 && !strncmp(start, "lanser: ", 8))
		start += 8;
	snprintf(out, n, "%.*s", (int)(end - start), start);
}

/* Runs one request's command line (through the daemon, or in this process
 * on ws); its stdout and stderr land in rout/rerr. The command's LN_E*
 * code, or the daemon's when it could not answer. */
static int run_line(struct cli *c, struct lsp_workspace *ws, bool use_daemon, const json_t *argv,
		    struct buf *rout, struct buf *rerr)
{
	size_t n = json_array_size(argv), i;
	char **args = xcalloc(n + 2, sizeof *args);
	int code;

	args[0] = "lanser";
	for (i = 0; i < n; i++)
		args[i + 1] = (char *)json_string_value(json_array_get(argv, i));
	if (use_daemon) {
		struct daemon_reply r;
		int e = daemon_call(c, (int)n, args + 1, &r);
		if (e == LN_EDAEMON) { /* died mid-request: one more try */
			buf_release(&r.out);
			buf_release(&r.err);
			e = daemon_call(c, (int)n, args + 1, &r);
		}
		if (e) {
			code = e;
		} else {
			*rout = r.out;
			*rerr = r.err;
			code = -r.code; /* exit status -> LN_E* */
		}
	} else {
		char *ob = NULL, *eb = NULL;
		size_t ol = 0, el = 0;
		FILE *o = open_memstream(&ob, &ol), *e = open_memstream(&eb, &el);
		struct exec_result res;
		if (!o || !e)
			ln_die_oom();
		lsp_workspace_refresh(ws);
		c->exec((int)n + 1, args, c->cwd, o, e, NULL, ws, false, &res);
		lsp_workspace_drop_overlays(ws);
		fclose(o);
		fclose(e);
		buf_add(rout, ob, ol);
		buf_add(rerr, eb, el);
		free(ob);
		free(eb);
		code = -res.code;
	}
	free(args);
	return code;
}

int cmd_batch(struct cli *c)
{
	FILE *in = NULL, *out = NULL;
	struct lsp_workspace *ws = NULL;
	struct ln_jsonl rd;
	const char *line;
	size_t got;
	int k;
	long lineno = 0, failed = 0, nreq = 0;
	bool use_daemon = !c->no_daemon && !daemon_disabled();
	int error = 0;

	if (c->argc || !c->in_path || !c->out_path) {
		fprintf(c->err, "usage: lanser batch --in requests.jsonl --out bundles.jsonl\n");
		return ln_error_set(LN_EUSAGE, "batch takes --in and --out (use - for stdin/stdout)");
	}
	in = strcmp(c->in_path, "-") ? fopen(c->in_path, "re") : stdin;
	if (!in)
		return ln_error_set(errno == ENOENT ? LN_ENOTFOUND : LN_EINPUT, "%s: %s",
				    c->in_path, strerror(errno));
	out = strcmp(c->out_path, "-") ? fopen(c->out_path, "we") : c->out;
	if (!out) {
		error = ln_error_set(LN_EPERM, "%s: %s", c->out_path, strerror(errno));
		goto done;
	}
	if (!use_daemon) {
		struct lsp_workspace_opts wo = { 0 };
		wo.root = c->root;
		wo.servers = json_object_get(c->cfg.json, "servers");
		wo.init_ms = c->cfg.init_ms;
		wo.request_ms = c->timeout_ms;
		wo.restart = true;
		error = lsp_workspace_new(&ws, &wo);
		if (error)
			goto done;
	}
	/* the reader refuses a line over the cap before storing it */
	ln_jsonl_init_file(&rd, in, MAX_LINE);
	while ((k = ln_jsonl_next(&rd, &line, &got)) != 0) {
		json_t *argv = NULL, *id = NULL;
		const char *command = "batch";
		char *result = NULL, *stamped;
		struct buf rout = BUF_INIT, rerr = BUF_INIT;
		int code = 0;

		lineno = ln_jsonl_lineno(&rd);
		if (k == LN_EGENERIC) {
			error = ln_error_set(LN_EINPUT, "%s: %s", c->in_path, ln_error_msg());
			break;
		}
		if (k == 1) {
			size_t j = 0;
			while (got > 0 && line[got - 1] == '\r')
				got--;
			while (j < got && (line[j] == ' ' || line[j] == '\t' || line[j] == '\r'))
				j++;
			if (j == got)
				continue; /* blank lines (white space only) are not requests */
		}
		nreq++;
		if (lineno > MAX_LINES) {
			error = ln_error_set(LN_EINPUT, "%s: more than %d lines", c->in_path, MAX_LINES);
			break;
		}
		if (k != 1)
			code = k; /* over the cap or a NUL byte: the reader's message names the line */
		else if ((code = request_argv(&argv, line, got, &id, &command, c->cwd))) {
			/* the message names the line */
			struct ln_error_state st;
			ln_error_capture(&st);
			ln_error_set(code, "line %ld: %s", lineno, st.msg);
		}
		if (!code) {
			code = run_line(c, ws, use_daemon, argv, &rout, &rerr);
			/* a bundle came back: it is the answer, error or not */
			if (rout.len && rout.data[0] == '{') {
				while (rout.len && rout.data[rout.len - 1] == '\n')
					rout.data[--rout.len] = '\0';
				result = xstrdup(rout.data);
			} else if (!code) {
				code = ln_error_set(LN_EGENERIC, "the command printed no bundle");
			} else {
				char msg[512];
				last_message(msg, sizeof msg, rerr.data ? rerr.data : "", rerr.len);
				ln_error_set(code, "%s", msg);
			}
		}
		if (!result)
			result = error_bundle(command, code, ln_error_msg());
		if (code)
			failed++;
		stamped = result ? stamp(result, strlen(result), lineno, id) : NULL;
		if (stamped || result)
			fprintf(out, "%s\n", stamped ? stamped : result);
		else
			fprintf(out, "{\"error\":{\"code\":%d}}\n", ln_exit_code(code));
		free(stamped);
		free(result);
		json_decref(argv);
		json_decref(id);
		buf_release(&rout);
		buf_release(&rerr);
	}
	ln_jsonl_release(&rd);
	if (!error && ferror(in))
		error = ln_error_set(LN_EINPUT, "%s: read error", c->in_path);
	if (!error)
		fprintf(c->err, "lanser: batch: %ld request%s, %ld failed\n", nreq,
			nreq == 1 ? "" : "s", failed);
done:
	lsp_workspace_free(ws);
	if (in && in != stdin)
		fclose(in);
	if (out && out != c->out && fclose(out) != 0 && !error)
		error = ln_error_set(LN_EGENERIC, "%s: write error", c->out_path);
	return error;
}
