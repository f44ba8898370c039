/*
 * tools.c - lanser's commands as tools (agent/tools.h): the tool list from
 * the command table, and the one path that runs a command line for a batch
 * line, the agent loop and the MCP server.
 *
 * A call is checked twice before anything runs: its JSON arguments become
 * a command line by the table (agent_cmd_json_argv) and that command line
 * goes through the CLI's own parser (agent_cmdline_parse). It then runs
 * through the workspace's warm daemon (commands the daemon answers) or in
 * this process through c->exec, with stdout and stderr captured; the
 * bundle it printed (always --json) is the result, and agent/tooltext.c
 * renders it as short text for a model.
 */
#include "agent/tools.h"
#include "agent/cli.h"
#include "agent/command.h"
#include "agent/daemon.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/path.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "lsp/workspace.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOOL_MAX_ARGS 64
#define TOOL_DEFAULT_TEXT ((size_t)16 << 10)
#define TOOL_MIN_TEXT ((size_t)512)

struct agent_tools {
	struct agent_tools_opts o;
	struct cli *c;
	char *cwd;                 /* where tool paths are taken from: the workspace root */
	struct lsp_workspace *ws;  /* in-process warm servers (!use_daemon), or NULL */
};

/* ---- the list ---- */

static json_t *tool_json(const struct agent_command *cmd)
{
	struct buf d = BUF_INIT;
	json_t *t, *schema;

	buf_addf(&d, "%s. Usage: lanser %s %s. args: %s.", cmd->summary, cmd->name,
		 cmd->synopsis, cmd->args_help);
	if (cmd->flags & AGENT_CMD_WRITES)
		buf_adds(&d, " Mutating: previews (a diff) unless \"apply\": true.");
	schema = agent_cmd_schema(cmd);
	/* a tool always answers with its bundle: "json" is no argument of it */
	json_object_del(json_object_get(schema, "properties"), "json");
	t = xjson_pack("{s:s, s:s, s:o, s:b}", "name", cmd->name, "description", d.data,
		       "inputSchema", schema, "readOnly", !(cmd->flags & AGENT_CMD_WRITES));
	buf_release(&d);
	return t;
}

json_t *agent_tools_json(bool read_only)
{
	const struct agent_command *cmd;
	json_t *a = json_array();

	for (cmd = agent_commands; cmd->name; cmd++) {
		if (!(cmd->flags & AGENT_CMD_TOOL))
			continue;
		if (read_only && (cmd->flags & AGENT_CMD_WRITES))
			continue;
		json_array_append_new(a, tool_json(cmd));
	}
	return a;
}

const struct agent_command *agent_tool_find(const char *name)
{
	const struct agent_command *cmd = name ? agent_command_find(name) : NULL;

	return cmd && (cmd->flags & AGENT_CMD_TOOL) ? cmd : NULL;
}

/* ---- command lines ---- */

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

int agent_tool_argv(json_t **out, const struct agent_command *cmd, const json_t *options,
		    const json_t *args, const char *cwd)
{
	json_t *argv = xjson_pack("[s]", "--json");
	bool dashdash = false;
	size_t i;
	int error;

	*out = NULL;
	if ((error = agent_cmd_json_argv(argv, cmd, options)))
		goto done;
	json_array_append_new(argv, json_string(cmd->name));
	if (args && (!json_is_array(args) || json_array_size(args) > TOOL_MAX_ARGS)) {
		error = ln_error_set(LN_EUSAGE, "\"args\" must be an array of at most %d strings",
				     TOOL_MAX_ARGS);
		goto done;
	}
	for (i = 0; i < json_array_size(args); i++) {
		json_t *s = json_array_get(args, i);
		if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s)) {
			error = ln_error_set(LN_EUSAGE, "args[%zu] must be a string without NUL", i);
			goto done;
		}
		/* an argument is never an option: "->next" is searched for */
		if (json_string_value(s)[0] == '-' && !dashdash) {
			json_array_append_new(argv, json_string("--"));
			dashdash = true;
		}
		json_array_append(argv, s);
	}
	error = check_argv(argv, cwd);
done:
	if (error) {
		json_decref(argv);
		return error;
	}
	*out = argv;
	return 0;
}

int agent_tool_run_argv(struct cli *c, struct lsp_workspace *ws, bool use_daemon,
			const json_t *argv, const char *cwd, struct buf *rout, struct buf *rerr)
{
	size_t n = json_array_size(argv), i;
	char **args = xcalloc(n + 2, sizeof *args);
	const struct agent_command *cmd = NULL;
	int code;

	args[0] = "lanser";
	for (i = 0; i < n; i++)
		args[i + 1] = (char *)json_string_value(json_array_get(argv, i));
	{
		/* which command: the parser knows (an option's value may be any word) */
		struct cli pc;
		memset(&pc, 0, sizeof pc);
		if (agent_cmdline_parse(&pc, &cmd, (int)n + 1, args, cwd))
			cmd = NULL;
		free(pc.argv);
		free(pc.config_path);
		ln_error_clear();
	}
	if (use_daemon && cmd && (cmd->flags & AGENT_CMD_DAEMON)) {
		struct daemon_reply r;
		struct cli dc = *c;       /* the daemon takes the line's cwd from it */
		int e;
		dc.cwd = (char *)cwd;
		e = daemon_call(&dc, (int)n, args + 1, &r);
		if (e == LN_EDAEMON) { /* died mid-request: one more try */
			buf_release(&r.out);
			buf_release(&r.err);
			e = daemon_call(&dc, (int)n, args + 1, &r);
		}
		if (e) {
			code = e;
		} else {
			*rout = r.out;
			*rerr = r.err;
			code = -r.code; /* exit status -> LN_E* */
		}
	} else if (!c->exec) {
		code = ln_error_set(LN_EGENERIC, "this binary cannot run commands in-process");
	} else {
		char *ob = NULL, *eb = NULL;
		size_t ol = 0, el = 0;
		FILE *o = open_memstream(&ob, &ol), *e = open_memstream(&eb, &el);
		struct exec_result res;
		/* the warm servers serve the commands the daemon would answer;
		 * the others (edits, tests) start their own, as on the CLI */
		struct lsp_workspace *w = cmd && (cmd->flags & AGENT_CMD_DAEMON) ? ws : NULL;
		if (!o || !e)
			ln_die_oom();
		if (w)
			lsp_workspace_refresh(w);
		c->exec((int)n + 1, args, cwd, o, e, NULL, w, false, &res);
		if (w)
			lsp_workspace_drop_overlays(w);
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

void agent_tool_last_message(char *out, size_t n, const char *err, size_t len)
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

/* ---- a session ---- */

int agent_tools_open(struct agent_tools **out, const struct agent_tools_opts *o)
{
	struct agent_tools *t;
	int error;

	*out = NULL;
	if (!o || !o->c)
		return ln_error_set(LN_EUSAGE, "tools: no command line to work from");
	t = xcalloc(1, sizeof *t);
	t->o = *o;
	t->c = o->c;
	if (!t->o.max_text)
		t->o.max_text = TOOL_DEFAULT_TEXT;
	if (t->o.max_text < TOOL_MIN_TEXT)
		t->o.max_text = TOOL_MIN_TEXT;
	/* a model names files relative to the workspace, wherever lanser
	 * was started from */
	t->cwd = xstrdup(o->c->root ? o->c->root : o->c->cwd ? o->c->cwd : ".");
	if (!o->use_daemon && o->c->root) {
		struct lsp_workspace_opts wo = { 0 };
		wo.root = o->c->root;
		wo.servers = json_object_get(o->c->cfg.json, "servers");
		wo.init_ms = o->c->cfg.init_ms;
		wo.request_ms = o->c->timeout_ms;
		wo.restart = true;
		if ((error = lsp_workspace_new(&t->ws, &wo))) {
			free(t->cwd);
			free(t);
			return error;
		}
	}
	*out = t;
	return 0;
}

void agent_tools_close(struct agent_tools *t)
{
	if (!t)
		return;
	lsp_workspace_free(t->ws);
	free(t->cwd);
	free(t);
}

/* A file a tool names (a FILE or PATH option, patch's diff) must be inside
 * the workspace: a model cannot make lanser read or write elsewhere. */
static int inside_workspace(const struct agent_tools *t, const char *what, const char *path)
{
	struct buf p = BUF_INIT;
	char *real = NULL, *slash;
	const char *root = t->c->root ? t->c->root : t->cwd;
	size_t rl = strlen(root);
	int error = 0;

	if (!strcmp(path, "-"))
		return ln_error_set(LN_EUSAGE, "%s: a tool cannot read standard input; name a file "
				    "in the workspace", what);
	if (path[0] == '/')
		buf_adds(&p, path);
	else
		buf_addf(&p, "%s/%s", t->cwd, path);
	real = realpath(p.data, NULL);
	if (!real && errno == ENOENT) {
		/* a file to be written: its folder must exist, inside */
		slash = strrchr(p.data, '/');
		if (slash && slash != p.data) {
			*slash = '\0';
			real = realpath(p.data, NULL);
		}
	}
	if (!real)
		error = ln_error_set(LN_ENOTFOUND, "%s: %s: %s", what, path, strerror(errno));
	else if (strncmp(real, root, rl) || (real[rl] != '/' && real[rl] != '\0'))
		error = ln_error_set(LN_EPERM, "%s: %s is outside the workspace (tools only touch "
				     "files inside it)", what, path);
	else if (strstr(real + rl, "/.git/") || !strcmp(real + rl, "/.git") ||
		 (strlen(real + rl) > 5 && !strcmp(real + strlen(real) - 5, "/.git")))
		error = ln_error_set(LN_EPERM, "%s: %s is inside .git", what, path);
	free(real);
	buf_release(&p);
	return error;
}

static int check_paths(const struct agent_tools *t, const struct agent_command *cmd,
		       const json_t *opts, const json_t *args)
{
	const char *key;
	json_t *v;
	int error;

	json_object_foreach((json_t *)opts, key, v) {
		const struct agent_option *o = agent_option_by_json(cmd, key);
		size_t i;
		json_t *s;
		if (!o || (o->type != AGENT_OPT_FILE && o->type != AGENT_OPT_PATH &&
			   o->type != AGENT_OPT_LIST))
			continue;
		if (json_is_string(v) && (error = inside_workspace(t, key, json_string_value(v))))
			return error;
		json_array_foreach(v, i, s)
			if (json_is_string(s) && (error = inside_workspace(t, key, json_string_value(s))))
				return error;
	}
	/* patch's positional argument is the diff file */
	if (!strcmp(cmd->name, "patch") && json_is_string(json_array_get(args, 0)))
		return inside_workspace(t, "patch", json_string_value(json_array_get(args, 0)));
	return 0;
}

/* The bundle (or bundles: test prints one line per candidate) on stdout. */
static json_t *parse_bundles(const struct buf *out)
{
	json_t *all = json_array(), *one;
	const char *p = out->data, *end = out->data + out->len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (len && p[0] == '{' && (one = json_loadb(p, len, 0, NULL)) != NULL)
			json_array_append_new(all, one);
		p += len + 1;
	}
	if (json_array_size(all) == 1) {
		one = json_incref(json_array_get(all, 0));
		json_decref(all);
		return one;
	}
	if (!json_array_size(all)) {
		json_decref(all);
		return NULL;
	}
	return all;
}

static void result_fail(struct agent_tool_result *r, int code, const char *msg)
{
	struct buf b = BUF_INIT;

	r->code = code;
	snprintf(r->message, sizeof r->message, "%s", msg && *msg ? msg : ln_err_name(code));
	buf_addf(&b, "error %s (exit %d): %s", ln_err_name(code), ln_exit_code(code), r->message);
	free(r->text);
	r->text = buf_detach(&b, NULL);
}

int agent_tool_call(struct agent_tools *t, const char *name, const json_t *args,
		    struct agent_tool_result *r)
{
	const struct agent_command *cmd;
	json_t *opts = NULL, *pos = NULL, *argv = NULL;
	struct buf out = BUF_INIT, err = BUF_INIT;
	const char *key;
	json_t *v;
	int code = 0;

	memset(r, 0, sizeof *r);
	ln_error_clear();
	cmd = agent_tool_find(name);
	if (!t) {
		code = ln_error_set(LN_EUSAGE, "tools: no session");
		goto done;
	}
	if (!cmd) {
		struct buf names = BUF_INIT;
		const struct agent_command *k;
		for (k = agent_commands; k->name; k++)
			if ((k->flags & AGENT_CMD_TOOL) &&
			    !(t->o.read_only && (k->flags & AGENT_CMD_WRITES)))
				buf_addf(&names, "%s%s", names.len ? ", " : "", k->name);
		code = ln_error_set(LN_EUSAGE, "unknown tool \"%s\" (the tools are %s)",
				    name ? name : "(none)", names.data);
		buf_release(&names);
		goto done;
	}
	if (t->o.read_only && (cmd->flags & AGENT_CMD_WRITES)) {
		code = ln_error_set(LN_EPERM, "%s changes the workspace or runs its code; this "
				    "session is read-only", cmd->name);
		goto done;
	}
	if (args && !json_is_object(args)) {
		code = ln_error_set(LN_EUSAGE, "the arguments of %s must be a JSON object",
				    cmd->name);
		goto done;
	}
	if (t->o.cancel && *t->o.cancel) {
		code = ln_error_set(LN_ECANCELLED, "cancelled before %s ran", cmd->name);
		goto done;
	}
	/* "args" are the positional arguments; "json" is implied (the bundle
	 * is the result) */
	opts = json_object();
	json_object_foreach((json_t *)args, key, v) {
		if (!strcmp(key, "args"))
			pos = v;
		else if (strcmp(key, "json"))
			json_object_set(opts, key, v);
	}
	if ((code = agent_tool_argv(&argv, cmd, opts, pos, t->cwd)))
		goto done;
	/* the session's workspace, not the one found again from its root: a
	 * root without .lanser.json would otherwise go up to an ancestor's */
	if (t->c->root) {
		json_array_insert_new(argv, 0, json_string(t->c->root));
		json_array_insert_new(argv, 0, json_string("--root"));
	}
	if (t->o.trace_path) {
		json_array_insert_new(argv, 0, json_string(t->o.trace_path));
		json_array_insert_new(argv, 0, json_string("--trace"));
	}
	if ((code = check_paths(t, cmd, opts, pos)))
		goto done;
	code = agent_tool_run_argv(t->c, t->ws, t->o.use_daemon, argv, t->cwd, &out, &err);
	if (code == LN_EDAEMON && !out.len && !(cmd->flags & AGENT_CMD_WRITES)) {
		/* no daemon could answer: in this process, as the CLI does */
		buf_reset(&err);
		code = agent_tool_run_argv(t->c, t->ws, false, argv, t->cwd, &out, &err);
	}
	r->bundle = parse_bundles(&out);
	if (!r->bundle && !code)
		code = ln_error_set(LN_EGENERIC, "%s printed no bundle", cmd->name);
	else if (code) {
		char msg[512];
		const char *m = json_string_value(json_object_get(json_object_get(json_object_get(
			r->bundle, "meta"), "volatile"), "message"));
		if (m)
			snprintf(msg, sizeof msg, "%s", m);
		else if (err.len)
			agent_tool_last_message(msg, sizeof msg, err.data, err.len);
		else
			snprintf(msg, sizeof msg, "%s", ln_error_msg());
		ln_error_set(code, "%s", msg);
	}
done:
	if (code) {
		result_fail(r, code, ln_error_msg());
		if (r->bundle) {
			/* the bundle says more than the message (conflicts, verify) */
			size_t used = strlen(r->text) + 1;
			size_t room = t->o.max_text > used + TOOL_MIN_TEXT / 2 ? t->o.max_text - used
									     : TOOL_MIN_TEXT / 2;
			char *more = agent_tool_render(r->bundle, room, &r->truncated);
			if (*more) {
				struct buf b = BUF_INIT;
				buf_addf(&b, "%s\n%s", r->text, more);
				free(r->text);
				r->text = buf_detach(&b, NULL);
			}
			free(more);
		}
	} else {
		r->text = agent_tool_render(r->bundle, t->o.max_text, &r->truncated);
	}
	json_decref(opts);
	json_decref(argv);
	buf_release(&out);
	buf_release(&err);
	return code;
}

void agent_tool_result_release(struct agent_tool_result *r)
{
	if (!r)
		return;
	json_decref(r->bundle);
	free(r->text);
	r->bundle = NULL;
	r->text = NULL;
}
