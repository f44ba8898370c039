/*
 * trace.c - recording traces of runs (--trace FILE; docs/trace.md).
 *
 * The workspace's recorder (lsp/workspace.h) turns server snapshots,
 * frames, pump and deadline records, documents and probes into trace
 * events; cmdctx_end (agent/cmdctx.c) adds the finished bundle. The request event records
 * the command line by the command table's JSON names (agent/command.h), so
 * replay (agent/trace_replay.c) rebuilds it with the same parser. The
 * `lanser trace` command lives in agent/trace_cmd.c.
 */
#include "agent/cli.h"
#include "agent/command.h"
#include "agent/trace.h"
#include "agent/trace_int.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/ignore.h"
#include "core/proc.h"
#include "core/snapshot.h"
#include "core/text.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "lsp/workspace.h"
#include "rewards/reward.h"
#include "rewards/tracefile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

struct trace_ctx {
	struct rwd_trace *w;
	json_t *seen;          /* "d:<path>" and "p:<name>\n<key>" already recorded */
};

static struct trace_ctx *tctx(struct cli *c)
{
	return c->trace;
}

int trace_event(struct cli *c, const char *type, json_t *fields)
{
	struct trace_ctx *t = tctx(c);

	if (!t) {
		json_decref(fields);
		return 0;
	}
	return rwd_trace_event(t->w, type, fields);
}

/* The bytes of s as lowercase hex (a JSON string). */
static json_t *hex_string(const char *s)
{
	struct buf hex = BUF_INIT;
	const unsigned char *p;
	json_t *v;

	for (p = (const unsigned char *)s; *p; p++)
		buf_addf(&hex, "%02x", *p);
	v = json_string(hex.data);
	buf_release(&hex);
	return v;
}

/* ev[key] = s, losslessly: as it is when it is UTF-8; else each byte of an
 * ill-formed sequence as U+FFFD in `key` and the exact bytes as lowercase
 * hex in `key`Hex (docs/trace.md), which replay matches and decodes. Nothing
 * when s is NULL. A name from the file system, the command line or a
 * server is never a reason to drop an event. */
static void set_str(json_t *ev, const char *key, const char *s)
{
	json_t *v;
	struct buf k = BUF_INIT;

	if (!s)
		return;
	if ((v = json_string(s))) {
		json_object_set_new(ev, key, v);
		return;
	}
	json_object_set_new(ev, key, xjson_string_lossy(s));
	buf_addf(&k, "%sHex", key);
	json_object_set_new(ev, k.data, hex_string(s));
	buf_release(&k);
}

/* An event of one or two (key, value) strings (k2 NULL: one). */
static json_t *str_event(const char *k1, const char *v1, const char *k2, const char *v2)
{
	json_t *ev = json_object();

	set_str(ev, k1, v1);
	if (k2)
		set_str(ev, k2, v2);
	return ev;
}

static void platform(char *out, size_t n)
{
	struct utsname u;

	snprintf(out, n, "unknown");
	if (uname(&u) == 0) {
		char *p;
		snprintf(out, n, "%s-%s", u.sysname, u.machine);
		for (p = out; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	}
}

int trace_begin(struct cli *c, const char *command)
{
	const struct agent_command *cmd = agent_command_find(command);
	struct trace_ctx *t;
	struct buf path = BUF_INIT;
	json_t *header, *args, *args_hex, *req;
	char plat[160];
	int i, error;

	/* not traced: the trace command reads traces (perhaps this very
	 * file), and `daemon` forks a process that outlives the command */
	if (!c->trace_path || c->replay || !strcmp(command, "trace") || !strcmp(command, "daemon"))
		return 0;
	if (c->trace_path[0] == '/' || !c->cwd)
		buf_adds(&path, c->trace_path);
	else
		buf_addf(&path, "%s/%s", c->cwd, c->trace_path);
	t = xcalloc(1, sizeof *t);
	t->seen = json_object();
	platform(plat, sizeof plat);
	header = xjson_pack("{s:s, s:{s:s, s:s}, s:{s:o, s:{s:f, s:f, s:f, s:f}}, s:{s:I}}",
		"lanser", LANSER_VERSION,
		"environment", "platform", plat, "configDigest", c->cfg.digest,
		"weights", "process", rwd_functional_json(RWD_DELTA, &rwd_weights_default),
		"severity", "error", rwd_sev_default.error, "warning", rwd_sev_default.warning,
		"information", rwd_sev_default.information, "hint", rwd_sev_default.hint,
		"volatile", "startedMs", (json_int_t)ln_now_ms());
	error = rwd_trace_open(&t->w, path.data, header);
	buf_release(&path);
	if (error) {
		json_decref(t->seen);
		free(t);
		return error;
	}
	c->trace = t;
	/* arguments that are not UTF-8: U+FFFD in "args", the bytes in
	 * "argsHex" (null for the others) */
	args = json_array();
	args_hex = NULL;
	for (i = 0; i < c->argc; i++) {
		json_t *a = json_string(c->argv[i]);
		json_array_append_new(args, a ? a : xjson_string_lossy(c->argv[i]));
		if (!a && !args_hex) {
			int k;
			args_hex = json_array();
			for (k = 0; k < i; k++)
				json_array_append_new(args_hex, json_null());
		}
		if (args_hex)
			json_array_append_new(args_hex, a ? json_null() : hex_string(c->argv[i]));
	}
	/* the options by the table's JSON names (trace version 2) */
	req = xjson_pack("{s:s, s:o, s:s, s:s, s:o, s:s, s:o, s:{s:i, s:i, s:i, s:i}, s:b}",
		"command", command, "args", args, "root", "", "cwd", "",
		"config", c->cfg.json ? json_incref(c->cfg.json) : json_object(),
		"configDigest", c->cfg.digest,
		"options", cmd ? agent_cmd_options_json(c, cmd) : json_object(),
		"configTimes", "requestMs", c->cfg.request_ms, "initMs", c->cfg.init_ms,
		"indexMs", c->cfg.index_ms, "diagnosticsMs", c->cfg.diagnostics_ms,
		"daemon", c->in_daemon);
	set_str(req, "root", c->root ? c->root : "");
	set_str(req, "cwd", c->cwd ? c->cwd : "");
	if (args_hex)
		json_object_set_new(req, "argsHex", args_hex);
	/* the workspace's content before the command: the daemon keeps it
	 * current; in process one scan (hashing every file) gives it */
	if (c->ws && lsp_workspace_content_digest(c->ws)) {
		json_object_set_new(req, "workspaceDigest",
				    json_string(lsp_workspace_content_digest(c->ws)));
	} else if (!c->ws && c->root) {
		struct ln_snapshot snap;
		struct ln_file_change *ch = NULL;
		size_t nch = 0;
		struct ln_ignore *ig = ln_ignore_new(c->root, NULL);
		ln_snapshot_init(&snap, c->root);
		ln_snapshot_set_filter(&snap, ln_ignore_skip, ig); /* as the daemon's */
		if (ln_snapshot_scan(&snap, &ch, &nch) == 0 && ln_snapshot_digest(&snap))
			json_object_set_new(req, "workspaceDigest", json_string(ln_snapshot_digest(&snap)));
		ln_file_changes_free(ch, nch);
		ln_snapshot_release(&snap);
		ln_ignore_free(ig);
		ln_error_clear();
	}
	return rwd_trace_event(t->w, "request", req);
}

int trace_end(struct cli *c, int error)
{
	struct trace_ctx *t = tctx(c);
	struct ln_error_state saved;
	int werr;

	if (!t)
		return error;
	if (c->ws) /* a warm workspace must not keep a recorder that is gone */
		lsp_workspace_set_recorder(c->ws, NULL);
	rwd_trace_event(t->w, "end", xjson_pack("{s:i, s:s}", "exitCode", ln_exit_code(error),
						"status", ln_err_name(error)));
	/* closing must not replace the command's own message */
	ln_error_capture(&saved);
	werr = rwd_trace_close(t->w);
	if (!werr || error)
		ln_error_restore(&saved);
	json_decref(t->seen);
	free(t);
	c->trace = NULL;
	return error ? error : werr;
}

static bool first_time(struct trace_ctx *t, const char *kind, const char *a, const char *b)
{
	struct buf k = BUF_INIT;
	bool fresh;

	buf_addf(&k, "%s:%s\n%s", kind, a, b ? b : "");
	fresh = !json_object_get(t->seen, k.data);
	if (fresh)
		json_object_set_new(t->seen, k.data, json_true());
	buf_release(&k);
	return fresh;
}

static void record(struct trace_ctx *t, const char *type, json_t *ev)
{
	rwd_trace_event(t->w, type, ev);
}

static void rec_server(void *ctx, const char *profile, const char *version, const json_t *snap)
{
	struct trace_ctx *t = ctx;
	json_t *ev = str_event("server", profile, "version", version);

	if (snap)
		json_object_set(ev, "snapshot", (json_t *)snap);
	record(t, "server", ev);
}

static void rec_frame(void *ctx, const char *profile, char dir, const char *body, size_t len)
{
	struct trace_ctx *t = ctx;
	json_t *ev;

	if (dir == '<' || dir == '>') {
		json_t *b = json_stringn(body, len);
		ev = str_event("server", profile, "dir", dir == '<' ? "<" : ">");
		json_object_set_new(ev, "body", b ? b : json_string("\xef\xbf\xbd (not UTF-8)"));
		record(t, "frame", ev);
	} else if (dir == 'p') {
		ev = json_loadb(body, len, 0, NULL);
		if (!json_is_object(ev)) {
			json_decref(ev);
			ev = json_object();
		}
		set_str(ev, "server", profile);
		rwd_trace_event(t->w, "pump", ev);
	} else if (dir == 'd') {
		record(t, "deadline", str_event("server", profile, NULL, NULL));
	}
}

static void rec_document(void *ctx, const char *path, const char *data, size_t len,
			 const char *digest, int error, const char *message)
{
	struct trace_ctx *t = ctx;
	json_t *text;
	bool latin1;

	if (!first_time(t, "d", path, NULL))
		return;
	text = error ? NULL : json_stringn(data ? data : "", data ? len : 0);
	latin1 = !error && !text && data && !memchr(data, '\0', len);
	if (latin1) {
		/* a Latin-1 file (core/text.h): its UTF-8 form, and the flag
		 * that makes replay read it back as the same bytes */
		struct buf u8 = BUF_INIT;
		ln_latin1_to_utf8(&u8, data, len);
		text = json_stringn(u8.data, u8.len);
		buf_release(&u8);
	}
	if (!error && !text) {
		error = LN_EINPUT;
		message = "the text is not UTF-8";
	}
	if (error) {
		json_t *ev = str_event("path", path, "message", message);
		json_object_set_new(ev, "error", json_integer(error));
		record(t, "document", ev);
	} else {
		json_t *ev = str_event("path", path, "sha256", digest);
		json_object_set_new(ev, "text", text);
		if (latin1)
			json_object_set_new(ev, "encoding", json_string("latin-1"));
		record(t, "document", ev);
	}
}

static void rec_probe(void *ctx, const char *name, const char *key, const json_t *value,
		      int error, const char *message)
{
	struct trace_ctx *t = ctx;
	json_t *ev;

	if (!first_time(t, "p", name, key))
		return;
	ev = str_event("name", name, "key", key ? key : "");
	if (error) {
		json_object_set_new(ev, "error", json_integer(error));
		set_str(ev, "message", message ? message : "");
	} else {
		if (json_is_string(value))   /* a path may hold bytes that are not UTF-8 */
			set_str(ev, "value", json_string_value(value));
		else
			json_object_set_new(ev, "value", value ? json_deep_copy(value) : json_null());
	}
	record(t, "probe", ev);
}

void trace_attach(struct cli *c, struct lsp_workspace *ws)
{
	struct trace_ctx *t = tctx(c);
	struct lsp_recorder r;

	if (!t || !ws)
		return;
	r.server = rec_server;
	r.frame = rec_frame;
	r.document = rec_document;
	r.probe = rec_probe;
	r.ctx = t;
	lsp_workspace_set_recorder(ws, &r);
}

void trace_bundle(struct cli *c, struct lsp_workspace *ws, const json_t *bundle)
{
	struct trace_ctx *t = tctx(c);

	if (trace_replay_capture(c, bundle) || !t)
		return;
	if (ws)
		lsp_workspace_set_recorder(ws, NULL);
	rwd_trace_event(t->w, "bundle", xjson_pack("{s:s, s:s, s:O, s:o?}",
		"command", json_string_value(json_object_get(json_object_get(bundle, "request"),
							     "command")) ?: "",
		"bundleId", json_string_value(json_object_get(bundle, "bundleId")) ?: "",
		"bundle", bundle,
		"inputs", json_deep_copy(json_object_get(bundle, "inputs"))));
}

