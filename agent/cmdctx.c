/*
 * cmdctx.c - the command context (see cmdctx.h): one envelope, one
 * printing path and one error discipline for every bundle a command writes.
 */
#include "agent/cmdctx.h"
#include "agent/trace.h"
#include "core/buf.h"
#include "core/bundle.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/jcs.h"
#include "core/proc.h"
#include "core/text.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "lsp/workspace.h"

#include <gen/grammars.h>

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void cmdctx_begin(struct cmdctx *x, struct cli *c, const char *command, unsigned flags)
{
	json_t *env;

	memset(x, 0, sizeof *x);
	x->c = c;
	x->flags = flags;
	x->started_ms = ln_now_ms();
	x->bundle = ln_bundle_new(command);
	if (!x->bundle)
		ln_die_oom();
	x->facts = json_object_get(x->bundle, "facts");
	json_object_set_new(cmdctx_request(x), "indexIo", json_string(ln_enc_name(c->index_io)));
	env = json_object_get(x->bundle, "environment");
	json_object_set_new(env, "configDigest", json_string(c->cfg.digest));
	json_object_set_new(env, "indexIo", json_string(ln_enc_name(c->index_io)));
	if (flags & CMDCTX_PARSERS)
		/* the pinned versions: build/gen/grammars.h, from deps/package.json */
		json_object_set_new(env, "parsers", xjson_pack(
			"[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}]",
			"name", "tree-sitter", "version", LN_TS_CORE_VERSION,
			"name", "tree-sitter-c", "version", LN_TS_C_VERSION,
			"name", "tree-sitter-python", "version", LN_TS_PY_VERSION,
			"name", "tree-sitter-typescript", "version", LN_TS_TS_VERSION,
			"name", "tree-sitter-javascript", "version", LN_TS_JS_VERSION));
}

json_t *cmdctx_volatile(struct cmdctx *x)
{
	return json_object_get(json_object_get(x->bundle, "meta"), "volatile");
}

json_t *cmdctx_request(struct cmdctx *x)
{
	return json_object_get(x->bundle, "request");
}

/* LANSER_DEBUG_FRAMES=FILE appends every LSP frame (">" sent, "<" received)
 * to FILE, one per line: a debugging aid next to traces. */
static void debug_frame(void *ctx, char dir, const char *body, size_t len)
{
	FILE *f = ctx;
	fprintf(f, "%c %.*s\n", dir, (int)len, body);
	fflush(f);
}

int cmdctx_open_workspace(struct cmdctx *x)
{
	struct cli *c = x->c;
	struct lsp_workspace_opts wo = { 0 };
	const char *dbg = getenv("LANSER_DEBUG_FRAMES");
	int error;

	if (x->ws)
		return 0;
	if (c->ws) {
		x->ws = c->ws;
		trace_attach(c, x->ws);
		return 0;
	}
	wo.root = c->root;
	wo.servers = json_object_get(c->cfg.json, "servers");
	wo.init_ms = c->cfg.init_ms;
	wo.request_ms = c->timeout_ms;
	/* `trace replay`: the same command against the recorded data alone */
	wo.replay = trace_replayer(c);
	if (dbg && !wo.replay) {
		x->debug = fopen(dbg, "a");
		if (x->debug) {
			wo.record = debug_frame;
			wo.record_ctx = x->debug;
		}
	}
	error = lsp_workspace_new(&x->ws, &wo);
	if (error) {
		x->ws = NULL;
		return error;
	}
	trace_attach(c, x->ws);
	return 0;
}

static void print_bundle(struct cmdctx *x)
{
	char *s;

	if (x->flags & CMDCTX_PRINT_JCS)
		s = jcs_dumps(x->bundle);
	else if (x->flags & CMDCTX_PRINT_REAL15)
		s = json_dumps(x->bundle, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
	else
		s = json_dumps(x->bundle, JSON_COMPACT | JSON_SORT_KEYS);
	if (s)
		fprintf(x->c->out, "%s\n", s);
	free(s);
}

static void release(struct cmdctx *x)
{
	if (x->ws && x->ws != x->c->ws) {
		lsp_workspace_set_recorder(x->ws, NULL);
		lsp_workspace_free(x->ws);
	}
	x->ws = NULL;
	json_decref(x->bundle);
	x->bundle = NULL;
	x->facts = NULL;
	if (x->debug)
		fclose(x->debug);
	x->debug = NULL;
}

int cmdctx_end(struct cmdctx *x, int err, void (*human)(struct cmdctx *))
{
	struct ln_error_state st;
	json_t *vol = cmdctx_volatile(x);
	struct cli *c = x->c;
	bool complete;

	ln_error_capture(&st);
	json_object_set_new(vol, "elapsedMs", json_integer(ln_now_ms() - x->started_ms));
	json_object_set_new(vol, "daemon", json_boolean(c->in_daemon));
	if (c->in_daemon && (x->flags & CMDCTX_QUERY))
		json_object_set_new(vol, "cacheHit", json_false());
	complete = json_is_true(json_object_get(x->bundle, "complete"));
	if (x->flags & CMDCTX_QUERY) {
		c->cacheable = true;
		c->complete = complete;
	}
	if (ln_bundle_finish(x->bundle, err, err ? st.msg : "") == 0) {
		if (!(x->flags & CMDCTX_NO_TRACE))
			trace_bundle(c, x->ws, x->bundle);
		if (c->json)
			print_bundle(x);
		else if (human && (!err || (x->flags & CMDCTX_HUMAN_ON_ERROR)))
			human(x);
	} else if (!err) {
		/* the finish's own failure is the command's error now */
		err = ln_error_code();
		ln_error_capture(&st);
	}
	if (!err && !c->json && (x->flags & CMDCTX_QUERY) && !complete)
		fprintf(c->err, "lanser: note: the server was not ready; the answer may be "
				"incomplete (see --wait-index)\n");
	release(x);
	if (err)
		ln_error_restore(&st);
	return err;
}

int cmdctx_abandon(struct cmdctx *x, int err)
{
	struct ln_error_state st;

	ln_error_capture(&st);
	release(x);
	if (err)
		ln_error_restore(&st);
	return err;
}

int cmdctx_pack(json_t **out, int code, const char *what, const char *fmt, ...)
{
	json_error_t e;
	va_list ap;

	va_start(ap, fmt);
	*out = json_vpack_ex(&e, 0, fmt, ap);
	va_end(ap);
	if (!*out)
		return ln_error_set(code, "%s: %s (a bundle holds only UTF-8 text)",
				    ln_printable(what ? what : "(null)"), e.text);
	return 0;
}

int cmdctx_target_path(struct cmdctx *x, const char *path)
{
	json_t *t;
	int error = cmdctx_pack(&t, LN_EUSAGE, path, "{s:s}", "path", path);

	if (!error)
		json_object_set_new(cmdctx_request(x), "target", t);
	return error;
}

/* ---- inputs ---- */

void cmdctx_note_server(struct cmdctx *x, struct lsp_server_info *srv)
{
	lsp_server_note(json_object_get(json_object_get(x->bundle, "environment"), "servers"), srv);
}

static void add_document(struct cmdctx *x, const char *path, const char *digest, bool latin1)
{
	json_t *docs = json_object_get(json_object_get(x->bundle, "inputs"), "documents");
	json_t *d;
	size_t i;

	json_array_foreach(docs, i, d)
		if (!strcmp(json_string_value(json_object_get(d, "path")) ?: "", path))
			return;
	d = xjson_pack("{s:s, s:s}", "path", path, "sha256", digest);
	/* its columns are bytes (docs/bundle.md, "Files that are not UTF-8") */
	if (latin1)
		json_object_set_new(d, "encoding", json_string("latin-1"));
	json_array_append_new(docs, d);
}

void cmdctx_note_document(struct cmdctx *x, const char *path)
{
	const char *digest = x->ws ? lsp_workspace_text_digest(x->ws, path) : NULL;

	if (digest)
		add_document(x, path, digest, lsp_workspace_text_latin1(x->ws, path));
}

void cmdctx_note_bytes(struct cmdctx *x, const char *path, const void *data, size_t len)
{
	char hex[LN_SHA256_HEX_SIZE];

	ln_sha256_hex(data, len, hex);
	/* not UTF-8 and not binary: read as Latin-1 (core/text.h) */
	add_document(x, path, hex, !ln_utf8_valid(data, len) && !memchr(data, '\0', len));
}

int cmdctx_require_capability(struct cmdctx *x, struct lsp_server_info *srv, const char *cap,
			      const char *what)
{
	json_t *caps = json_object_get(x->bundle, "capabilities");
	json_t *per = json_object_get(caps, srv->profile->name);
	const json_t *v = json_object_get(lsp_session_capabilities(srv->session), cap);

	if (!per) {
		per = json_object();
		json_object_set_new(caps, srv->profile->name, per);
	}
	json_object_set_new(per, cap, json_boolean(v && !json_is_false(v) && !json_is_null(v)));
	if (!lsp_session_has_capability(srv->session, cap))
		return ln_error_set(LN_EUNSUPPORTED, "%s does not support %s (%s)",
				    srv->profile->name, what, cap);
	return 0;
}

/* The progress line of a wait (cli.h, `progress`): rewritten in place,
 * only when its text changes, and cleared at the end. */
struct wait_line {
	FILE *to;
	char last[160];
};

static void wait_line(void *ctx, const char *server, const char *what, int percentage)
{
	struct wait_line *w = ctx;
	char line[160];

	if (!what) {
		if (w->last[0])
			fputs("\r\033[K", w->to);
		w->last[0] = '\0';
		fflush(w->to);
		return;
	}
	if (percentage >= 0)
		snprintf(line, sizeof line, "lanser: waiting for %s: %s %d%%", server, what, percentage);
	else
		snprintf(line, sizeof line, "lanser: waiting for %s: %s", server, what);
	if (!strcmp(line, w->last))
		return;
	/* what comes from the server: nothing but printable text reaches the terminal */
	fprintf(w->to, "\r%s\033[K", ln_printable(line));
	fflush(w->to);
	snprintf(w->last, sizeof w->last, "%s", line);
}

int cmdctx_wait_ready(struct cmdctx *x, struct lsp_server_info *srv, bool need_index)
{
	struct wait_line w = { .to = x->c->progress, .last = "" };
	int r = 0;

	if (!x->c->no_wait) {
		if (w.to && !x->c->json)
			lsp_workspace_set_wait_hook(x->ws, wait_line, &w);
		r = lsp_workspace_wait_ready(x->ws, srv, need_index, x->c->index_ms);
		lsp_workspace_set_wait_hook(x->ws, NULL, NULL);
	}
	if (r < 0)
		return r;
	if (r == 0)
		json_object_set_new(x->bundle, "complete", json_false());
	return 0;
}
