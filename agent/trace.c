/*
 * trace.c - traces of runs (--trace FILE) and the `lanser trace` command:
 * list, show, replay [--verify], export (docs/trace.md).
 *
 * Recording: the workspace's recorder (lsp/workspace.h) turns server
 * snapshots, frames, pump and deadline records, documents and probes into
 * trace events; query_end adds the finished bundle.
 *
 * Replay: the events of one run become a struct lsp_replayer; the recorded
 * command line is run again through the same command function, against a
 * workspace with no server and no disk, and the bundle it builds is
 * compared with the recorded one. The first event that comes out
 * differently is named (exit 76); a trace that cannot be read as one is
 * exit 85.
 */
#include "agent/cli.h"
#include "agent/trace.h"
#include "rewards/advantage.h"
#include "core/buf.h"
#include "core/bundle.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/jcs.h"
#include "core/proc.h"
#include "rewards/reward.h"
#include "core/snapshot.h"
#include "lsp/workspace.h"
#include "rewards/tracefile.h"
#include "core/xalloc.h"
#include "core/limits.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

/* ---- recording ---- */

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
	struct trace_ctx *t;
	struct buf path = BUF_INIT;
	json_t *header, *args, *req;
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
	header = json_pack("{s:s, s:{s:s, s:s}, s:{s:o, s:{s:f, s:f, s:f, s:f}}, s:{s:I}}",
		"lanser", LANSER_VERSION,
		"environment", "platform", plat, "configDigest", c->cfg.digest[0] ? c->cfg.digest : "",
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
	args = json_array();
	for (i = 0; i < c->argc; i++)
		json_array_append_new(args, json_string(c->argv[i]));
	req = json_pack("{s:s, s:o, s:s, s:s, s:o, s:s, s:{s:b, s:s, s:i, s:i, s:b, s:b, s:b}, "
			"s:{s:i, s:i, s:i, s:i}, s:b}",
		"command", command, "args", args, "root", c->root ? c->root : "",
		"cwd", c->cwd ? c->cwd : "",
		"config", c->cfg.json ? json_incref(c->cfg.json) : json_object(),
		"configDigest", c->cfg.digest,
		"options", "json", c->json, "indexIo", ln_enc_name(c->index_io),
		"timeoutMs", c->timeout_ms, "indexMs", c->index_ms, "noWait", c->no_wait,
		"workspace", c->workspace, "noDecl", c->no_decl,
		"configTimes", "requestMs", c->cfg.request_ms, "initMs", c->cfg.init_ms,
		"indexMs", c->cfg.index_ms, "diagnosticsMs", c->cfg.diagnostics_ms,
		"daemon", c->in_daemon);
	/* the workspace's content before the command: the daemon keeps it
	 * current; in process one scan (hashing every file) gives it */
	if (c->ws && lsp_workspace_content_digest(c->ws)) {
		json_object_set_new(req, "workspaceDigest",
				    json_string(lsp_workspace_content_digest(c->ws)));
	} else if (!c->ws && c->root) {
		struct ln_snapshot snap;
		struct ln_file_change *ch = NULL;
		size_t nch = 0;
		ln_snapshot_init(&snap, c->root);
		if (ln_snapshot_scan(&snap, &ch, &nch) == 0 && ln_snapshot_digest(&snap))
			json_object_set_new(req, "workspaceDigest", json_string(ln_snapshot_digest(&snap)));
		ln_file_changes_free(ch, nch);
		ln_snapshot_release(&snap);
		ln_error_clear();
	}
	return rwd_trace_event(t->w, "request", req);
}

int trace_end(struct cli *c, int error)
{
	struct trace_ctx *t = tctx(c);
	int werr;

	if (!t)
		return error;
	if (c->ws) /* a warm workspace must not keep a recorder that is gone */
		lsp_workspace_set_recorder(c->ws, NULL);
	rwd_trace_event(t->w, "end", json_pack("{s:i, s:s}", "exitCode", ln_exit_code(error),
					       "status", ln_err_name(error)));
	{
		/* closing must not replace the command's own message */
		int saved = ln_error_code();
		char *msg = xstrdup(ln_error_msg());
		werr = rwd_trace_close(t->w);
		if (!werr || error)
			ln_error_set(saved, "%s", msg ? msg : "");
		free(msg);
	}
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

static void rec_server(void *ctx, const char *profile, const char *version, const json_t *snap)
{
	struct trace_ctx *t = ctx;
	rwd_trace_event(t->w, "server", json_pack("{s:s, s:s?, s:O}", "server", profile,
						   "version", version, "snapshot", snap));
}

static void rec_frame(void *ctx, const char *profile, char dir, const char *body, size_t len)
{
	struct trace_ctx *t = ctx;
	json_t *ev;

	if (dir == '<' || dir == '>') {
		json_t *b = json_stringn(body, len);
		ev = json_pack("{s:s, s:s, s:o}", "server", profile, "dir", dir == '<' ? "<" : ">",
			       "body", b ? b : json_string("\xef\xbf\xbd (not UTF-8)"));
		rwd_trace_event(t->w, "frame", ev);
	} else if (dir == 'p') {
		ev = json_loadb(body, len, 0, NULL);
		if (!json_is_object(ev)) {
			json_decref(ev);
			ev = json_object();
		}
		json_object_set_new(ev, "server", json_string(profile));
		rwd_trace_event(t->w, "pump", ev);
	} else if (dir == 'd') {
		rwd_trace_event(t->w, "deadline", json_pack("{s:s}", "server", profile));
	}
}

static void rec_document(void *ctx, const char *path, const char *data, size_t len,
			 const char *digest, int error, const char *message)
{
	struct trace_ctx *t = ctx;

	if (!first_time(t, "d", path, NULL))
		return;
	if (error)
		rwd_trace_event(t->w, "document", json_pack("{s:s, s:i, s:s}", "path", path,
							     "error", error, "message",
							     message ? message : ""));
	else
		rwd_trace_event(t->w, "document", json_pack("{s:s, s:s, s:s%}", "path", path,
							     "sha256", digest, "text", data, len));
}

static void rec_probe(void *ctx, const char *name, const char *key, const json_t *value,
		      int error, const char *message)
{
	struct trace_ctx *t = ctx;
	json_t *ev;

	if (!first_time(t, "p", name, key))
		return;
	ev = json_pack("{s:s, s:s}", "name", name, "key", key);
	if (error) {
		json_object_set_new(ev, "error", json_integer(error));
		json_object_set_new(ev, "message", json_string(message ? message : ""));
	} else {
		json_object_set_new(ev, "value", value ? json_deep_copy(value) : json_null());
	}
	rwd_trace_event(t->w, "probe", ev);
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

/* ---- replay ---- */

struct rp_queue {
	struct lsp_replay_item *items;
	size_t n, pos;
};

struct rp_server {
	const char *profile, *version;
	const json_t *snapshot;
	long line;
	bool used;
	struct rp_queue q;
};

struct replayer {
	const char *file;
	struct rp_server *servers;
	size_t nservers;
	const struct rwd_trace_ev **docs, **probes;
	size_t ndocs, nprobes;
	char **owned;          /* pump bodies */
	size_t nowned;
	json_t *produced;      /* the bundle the replay built */
	struct lsp_replayer ops;
};

static int q_peek(void *ctx, struct lsp_replay_item *out)
{
	struct rp_queue *q = ctx;
	if (q->pos >= q->n)
		return 0;
	*out = q->items[q->pos];
	return 1;
}

static void q_advance(void *ctx)
{
	struct rp_queue *q = ctx;
	if (q->pos < q->n)
		q->pos++;
}

static int rp_server_cb(void *ctx, const char *profile, const json_t **snapshot,
			const char **version, struct lsp_replay *src)
{
	struct replayer *rp = ctx;
	size_t i;

	for (i = 0; i < rp->nservers; i++) {
		struct rp_server *s = &rp->servers[i];
		if (s->used || strcmp(s->profile, profile))
			continue;
		s->used = true;
		*snapshot = s->snapshot;
		*version = s->version;
		src->peek = q_peek;
		src->advance = q_advance;
		src->ctx = &s->q;
		return 0;
	}
	return ln_error_set(LN_EREPLAY, "replay: lanser starts %s here, but the trace has no "
			    "(further) %s server", profile, profile);
}

/* A recorded LN_E* code from an untrusted trace. */
static int recorded_code(const json_t *v)
{
	json_int_t e = json_integer_value(v);
	return e < 0 && e > -256 ? (int)e : LN_ETRACE;
}

static int rp_document_cb(void *ctx, const char *path, const char **data, size_t *len,
			  int *error, const char **message)
{
	struct replayer *rp = ctx;
	size_t i;

	for (i = 0; i < rp->ndocs; i++) {
		json_t *ev = rp->docs[i]->ev;
		if (strcmp(json_string_value(json_object_get(ev, "path")), path))
			continue;
		if (json_object_get(ev, "error")) {
			*error = recorded_code(json_object_get(ev, "error"));
			*message = json_string_value(json_object_get(ev, "message"));
			return 0;
		}
		if (!json_is_string(json_object_get(ev, "text")))
			return ln_error_set(LN_ETRACE, "%s:%ld: document event without text", rp->file,
					    rp->docs[i]->line);
		*data = json_string_value(json_object_get(ev, "text"));
		*len = json_string_length(json_object_get(ev, "text"));
		*error = 0;
		return 0;
	}
	return ln_error_set(LN_EREPLAY, "replay: lanser reads %s, which the trace never read", path);
}

static int rp_probe_cb(void *ctx, const char *name, const char *key, const json_t **value,
		       int *error, const char **message)
{
	struct replayer *rp = ctx;
	size_t i;

	for (i = 0; i < rp->nprobes; i++) {
		json_t *ev = rp->probes[i]->ev;
		if (strcmp(json_string_value(json_object_get(ev, "name")), name) ||
		    strcmp(json_string_value(json_object_get(ev, "key")), key))
			continue;
		if (json_object_get(ev, "error")) {
			*error = recorded_code(json_object_get(ev, "error"));
			*message = json_string_value(json_object_get(ev, "message"));
		} else {
			*error = 0;
			*value = json_object_get(ev, "value");
		}
		return 0;
	}
	return ln_error_set(LN_EREPLAY, "replay: lanser looks up %s '%s', which the trace never "
			    "did", name, key);
}

static void rp_release(struct replayer *rp)
{
	size_t i;

	for (i = 0; i < rp->nservers; i++)
		free(rp->servers[i].q.items);
	free(rp->servers);
	free(rp->docs);
	free(rp->probes);
	for (i = 0; i < rp->nowned; i++)
		free(rp->owned[i]);
	free(rp->owned);
	json_decref(rp->produced);
	memset(rp, 0, sizeof *rp);
}

/* Appends to a growable array (capacity doubles at powers of two). */
static void push(void **arr, size_t *n, size_t size, const void *item)
{
	if ((*n & (*n - 1)) == 0)
		*arr = xreallocarray(*arr, *n ? 2 * *n : 1, size);
	memcpy((char *)*arr + *n * size, item, size);
	(*n)++;
}

/* Builds the replayer of the run whose events are ev[0..n). */
static int rp_build(struct replayer *rp, const char *file, const struct rwd_trace_ev *const *ev,
		    size_t n)
{
	size_t i, j;

	memset(rp, 0, sizeof *rp);
	rp->file = file;
	for (i = 0; i < n; i++) {
		const struct rwd_trace_ev *e = ev[i];
		const char *server = json_string_value(json_object_get(e->ev, "server"));
		struct rp_server *cur = NULL;
		struct lsp_replay_item it = { 0, NULL, 0, e->line };
		if (!strcmp(e->type, "server")) {
			struct rp_server s = { 0 };
			s.profile = server;
			s.version = json_string_value(json_object_get(e->ev, "version"));
			s.snapshot = json_object_get(e->ev, "snapshot");
			s.line = e->line;
			push((void **)&rp->servers, &rp->nservers, sizeof s, &s);
			continue;
		}
		if (!strcmp(e->type, "document")) {
			push((void **)&rp->docs, &rp->ndocs, sizeof e, &e);
			continue;
		}
		if (!strcmp(e->type, "probe")) {
			push((void **)&rp->probes, &rp->nprobes, sizeof e, &e);
			continue;
		}
		if (strcmp(e->type, "frame") && strcmp(e->type, "pump") && strcmp(e->type, "deadline"))
			continue;
		/* the latest start of that server; frames before any (the
		 * start-up of a fresh server) are history, not replayed */
		for (j = rp->nservers; j-- > 0;)
			if (!strcmp(rp->servers[j].profile, server)) {
				cur = &rp->servers[j];
				break;
			}
		if (!cur)
			continue;
		if (!strcmp(e->type, "frame")) {
			json_t *b = json_object_get(e->ev, "body");
			it.dir = json_string_value(json_object_get(e->ev, "dir"))[0];
			it.body = json_string_value(b);
			it.len = json_string_length(b);
		} else if (!strcmp(e->type, "pump")) {
			json_t *m = json_pack("{s:O}", "n", json_object_get(e->ev, "n"));
			char *body;
			if (json_object_get(e->ev, "error")) {
				json_object_set(m, "error", json_object_get(e->ev, "error"));
				json_object_set(m, "message", json_object_get(e->ev, "message"));
			}
			body = json_dumps(m, JSON_COMPACT);
			json_decref(m);
			if (!body)
				return ln_error_set(LN_ETRACE, "%s:%ld: malformed pump event", file, e->line);
			push((void **)&rp->owned, &rp->nowned, sizeof body, &body);
			it.dir = 'p';
			it.body = body;
			it.len = strlen(body);
		} else {
			it.dir = 'd';
			it.body = "{}";
			it.len = 2;
		}
		push((void **)&cur->q.items, &cur->q.n, sizeof it, &it);
	}
	rp->ops.server = rp_server_cb;
	rp->ops.document = rp_document_cb;
	rp->ops.probe = rp_probe_cb;
	rp->ops.ctx = rp;
	return 0;
}

const struct lsp_replayer *trace_replayer(struct cli *c)
{
	struct replayer *rp = c->replay;
	return rp ? &rp->ops : NULL;
}

void trace_bundle(struct cli *c, struct lsp_workspace *ws, const json_t *bundle)
{
	struct trace_ctx *t = tctx(c);
	struct replayer *rp = c->replay;

	if (rp) {
		json_decref(rp->produced);
		rp->produced = json_deep_copy(bundle);
		return;
	}
	if (!t)
		return;
	if (ws)
		lsp_workspace_set_recorder(ws, NULL);
	rwd_trace_event(t->w, "bundle", json_pack("{s:s, s:s, s:O, s:o}",
		"command", json_string_value(json_object_get(json_object_get(bundle, "request"),
							     "command")) ?: "",
		"bundleId", json_string_value(json_object_get(bundle, "bundleId")) ?: "",
		"bundle", bundle,
		"inputs", json_deep_copy(json_object_get(bundle, "inputs"))));
}

/* ---- the trace command ---- */

struct run {
	const char *id;
	const struct rwd_trace_ev **ev;
	size_t n;
};

static void runs_of(const struct rwd_trace_file *f, struct run **out, size_t *nout)
{
	json_t *index = json_object(); /* run id -> position in *out */
	size_t i;

	*out = NULL;
	*nout = 0;
	for (i = 0; i < f->n; i++) {
		struct run *r;
		const struct rwd_trace_ev *e = &f->v[i];
		json_t *at = json_object_get(index, e->run);
		if (!at) {
			struct run nr = { e->run, NULL, 0 };
			push((void **)out, nout, sizeof nr, &nr);
			json_object_set_new(index, e->run, json_integer((json_int_t)(*nout - 1)));
			r = &(*out)[*nout - 1];
		} else {
			r = &(*out)[json_integer_value(at)];
		}
		push((void **)&r->ev, &r->n, sizeof e, &e);
	}
	json_decref(index);
}

static void runs_free(struct run *r, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		free(r[i].ev);
	free(r);
}

static const struct rwd_trace_ev *find(const struct run *r, const char *type)
{
	size_t i;
	for (i = 0; i < r->n; i++)
		if (!strcmp(r->ev[i]->type, type))
			return r->ev[i];
	return NULL;
}

static int (*query_fn(const char *cmd))(struct cli *)
{
	if (!strcmp(cmd, "def")) return cmd_def;
	if (!strcmp(cmd, "refs")) return cmd_refs;
	if (!strcmp(cmd, "hover")) return cmd_hover;
	if (!strcmp(cmd, "symbols")) return cmd_symbols;
	if (!strcmp(cmd, "diag")) return cmd_diag;
	return NULL;
}

static int bool_opt(const json_t *o, const char *k)
{
	return json_is_true(json_object_get(o, k));
}

static int int_opt(const json_t *o, const char *k, int dflt)
{
	const json_t *v = json_object_get(o, k);
	json_int_t x = json_integer_value(v);
	return json_is_integer(v) && x >= 0 && x <= LN_TIMEOUT_MAX_MS ? (int)x : dflt;
}

/* Re-runs the query of one run; *out is the bundle it builds (new ref). */
static int replay_query(struct cli *parent, const char *file, const struct run *r,
			const struct rwd_trace_ev *req, json_t **out)
{
	const json_t *ev = req->ev, *opts = json_object_get(ev, "options");
	const json_t *times = json_object_get(ev, "configTimes"), *args = json_object_get(ev, "args");
	int (*fn)(struct cli *) = query_fn(json_string_value(json_object_get(ev, "command")));
	struct replayer rp;
	struct cli c;
	char *obuf = NULL, *ebuf = NULL;
	size_t olen = 0, elen = 0, i;
	int error;

	*out = NULL;
	if (!fn)
		return 0;
	error = rp_build(&rp, file, r->ev, r->n);
	if (error)
		return error;
	memset(&c, 0, sizeof c);
	c.argc = (int)json_array_size(args);
	c.argv = xcalloc(json_array_size(args) + 1, sizeof *c.argv);
	for (i = 0; i < json_array_size(args); i++) {
		if (!json_is_string(json_array_get(args, i))) {
			free(c.argv);
			rp_release(&rp);
			return ln_error_set(LN_ETRACE, "%s:%ld: request args must be strings", file,
					    req->line);
		}
		c.argv[i] = (char *)json_string_value(json_array_get(args, i));
	}
	c.root = xstrdup(json_string_value(json_object_get(ev, "root")));
	c.cwd = xstrdup(json_string_value(json_object_get(ev, "cwd")));
	c.cfg.json = json_incref(json_object_get(ev, "config"));
	snprintf(c.cfg.digest, sizeof c.cfg.digest, "%s",
		 json_string_value(json_object_get(ev, "configDigest")));
	c.cfg.request_ms = int_opt(times, "requestMs", 30000);
	c.cfg.init_ms = int_opt(times, "initMs", 30000);
	c.cfg.index_ms = int_opt(times, "indexMs", 120000);
	c.cfg.diagnostics_ms = int_opt(times, "diagnosticsMs", 10000);
	c.json = bool_opt(opts, "json");
	if (!json_is_string(json_object_get(opts, "indexIo")) ||
	    ln_enc_parse(&c.index_io, json_string_value(json_object_get(opts, "indexIo"))))
		c.index_io = LN_ENC_CODEPOINT;
	c.timeout_ms = int_opt(opts, "timeoutMs", 30000);
	c.index_ms = int_opt(opts, "indexMs", 120000);
	c.no_wait = bool_opt(opts, "noWait");
	c.workspace = bool_opt(opts, "workspace");
	c.no_decl = bool_opt(opts, "noDecl");
	c.in_daemon = json_is_true(json_object_get(ev, "daemon"));
	c.out = open_memstream(&obuf, &olen);
	c.err = open_memstream(&ebuf, &elen);
	if (!c.out || !c.err)
		ln_die_oom();
	c.replay = &rp;
	c.exec = parent->exec;
	fn(&c);
	fclose(c.out);
	fclose(c.err);
	free(obuf);
	free(ebuf);
	*out = rp.produced ? json_incref(rp.produced) : NULL;
	free(c.argv);
	free(c.root);
	free(c.cwd);
	json_decref(c.cfg.json);
	rp_release(&rp);
	ln_error_clear();
	return 0;
}

/* The canonical text of a finite number, for exact comparisons. */
static void num_text(char out[40], const json_t *v)
{
	if (!json_is_number(v) || jcs_format_number(out, 40, json_number_value(v)))
		snprintf(out, 40, "null");
}

static double num(const json_t *o, const char *k, bool *ok)
{
	const json_t *v = json_object_get(o, k);
	if (!json_is_number(v)) {
		*ok = false;
		return 0;
	}
	return json_number_value(v);
}

/* Recomputes a recorded reward from its recorded terms. 0 when equal;
 * LN_EREPLAY naming the line when not; LN_ETRACE when unusable. */
static int replay_reward(const char *file, const struct rwd_trace_ev *e, char *msg, size_t n)
{
	const json_t *ev = e->ev, *terms = json_object_get(ev, "terms");
	const char *kind = json_string_value(json_object_get(ev, "kind"));
	char want[40], got[40];
	bool ok = true;
	double r = 0;
	json_t *rv;

	if (!strcmp(kind, "step")) {
		const json_t *f = json_object_get(ev, "functional"), *w = json_object_get(f, "weights");
		enum rwd_functional fn;
		struct rwd_weights wt;
		struct rwd_step st;
		if (!json_is_string(json_object_get(f, "name")) ||
		    rwd_functional_parse(&fn, json_string_value(json_object_get(f, "name"))))
			return ln_error_set(LN_ETRACE, "%s:%ld: reward event with an unknown functional",
					    file, e->line);
		wt.wd = num(w, "wd", &ok);
		wt.ws = num(w, "ws", &ok);
		wt.wc = num(w, "wc", &ok);
		st.d_prev = num(terms, "D0", &ok);
		st.d = num(terms, "D", &ok);
		st.s = num(terms, "S", &ok);
		st.c = num(terms, "c", &ok);
		st.c_prev = json_object_get(terms, "c0") ? num(terms, "c0", &ok) : st.c;
		if (!ok || rwd_step_check(fn, &wt, &st))
			return ln_error_set(LN_ETRACE, "%s:%ld: reward event with unusable terms", file,
					    e->line);
		r = rwd_process_step(fn, &wt, &st);
	} else if (!strcmp(kind, "episode")) {
		enum rwd_episode_mode m;
		struct rwd_episode ep = { true, "", 0, 0, 0 };
		const char *mode = json_string_value(json_object_get(ev, "mode"));
		if (!mode || rwd_episode_mode_parse(&m, mode))
			return ln_error_set(LN_ETRACE, "%s:%ld: reward event with an unknown mode", file,
					    e->line);
		ep.scorable = !json_is_false(json_object_get(ev, "scorable"));
		ep.r_format = num(terms, "format", &ok);
		ep.r_outcome = num(terms, "outcome", &ok);
		ep.r_process = num(terms, "process", &ok);
		if (!ok)
			return ln_error_set(LN_ETRACE, "%s:%ld: reward event with unusable terms", file,
					    e->line);
		if (json_object_get(ev, "processSteps")) {
			/* R_process from its steps: the mean bounded step reward */
			const json_t *ps = json_object_get(ev, "processSteps");
			const json_t *w = json_object_get(json_object_get(ps, "functional"), "weights");
			const json_t *steps = json_object_get(ps, "steps"), *x;
			struct rwd_weights wt;
			struct rwd_step *st;
			size_t i;
			char p1[40], p2[40];
			json_t *pv;
			wt.wd = num(w, "wd", &ok);
			wt.ws = num(w, "ws", &ok);
			wt.wc = num(w, "wc", &ok);
			if (!ok || !json_is_array(steps) || json_array_size(steps) > 100000)
				return ln_error_set(LN_ETRACE, "%s:%ld: reward event with unusable process "
						    "steps", file, e->line);
			st = xcalloc(json_array_size(steps) + 1, sizeof *st);
			json_array_foreach(steps, i, x) {
				st[i].d_prev = num(x, "D0", &ok);
				st[i].d = num(x, "D", &ok);
				st[i].s = num(x, "S", &ok);
				st[i].c_prev = num(x, "c0", &ok);
				st[i].c = num(x, "c", &ok);
				if (ok && rwd_step_check(RWD_BOUNDED, &wt, &st[i]))
					ok = false;
			}
			if (ok)
				r = rwd_process_episode(&wt, st, json_array_size(steps));
			free(st);
			if (!ok)
				return ln_error_set(LN_ETRACE, "%s:%ld: reward event with unusable process "
						    "steps", file, e->line);
			pv = rwd_number(r);
			num_text(p1, pv);
			json_decref(pv);
			num_text(p2, json_object_get(terms, "process"));
			if (strcmp(p1, p2)) {
				snprintf(msg, n, "%s:%ld: reward event (run %s, seq %lld): R_process "
					 "differs: recorded %s, recomputed from its steps %s", file, e->line,
					 e->run, e->seq, p2, p1);
				return LN_EREPLAY;
			}
		}
		r = rwd_episode_reward(m, &ep);
	} else {
		return 0; /* a kind from a later version: nothing to check */
	}
	rv = rwd_number(r);
	num_text(got, rv);
	json_decref(rv);
	num_text(want, json_object_get(ev, "reward"));
	if (strcmp(got, want)) {
		snprintf(msg, n, "%s:%ld: reward event (run %s, seq %lld) differs: recorded %s, "
			 "recomputed %s", file, e->line, e->run, e->seq, want, got);
		return LN_EREPLAY;
	}
	return 0;
}

/* The first top-level member (meta.volatile and bundleId aside) where two
 * bundles differ, for the mismatch message. */
static const char *first_diff(const json_t *a, const json_t *b)
{
	static const char *const keys[] = { "schema", "request", "resolution", "facts", "complete",
		"inputs", "environment", "capabilities", "meta" };
	size_t i;

	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		json_t *x = json_deep_copy(json_object_get(a, keys[i]));
		json_t *y = json_deep_copy(json_object_get(b, keys[i]));
		bool same;
		json_object_del(x, "volatile");
		json_object_del(y, "volatile");
		same = json_equal(x, y) || (!x && !y);
		json_decref(x);
		json_decref(y);
		if (!same)
			return keys[i];
	}
	return "bundleId";
}

/* Recomputes the advantages events of one run (a `lanser advantages`
 * call: in batch mode its groups share one std, recomputed here too). */
static int replay_advantages(const char *file, const struct run *r, size_t *count, char *msg,
			     size_t n)
{
	struct rwd_group *g = xcalloc(r->n ? r->n : 1, sizeof *g);
	const struct rwd_trace_ev **ev = xcalloc(r->n ? r->n : 1, sizeof *ev);
	size_t k = 0, i, total = 0;
	double mean, std = 0, *all;
	int error = 0;

	for (i = 0; i < r->n && !error; i++) {
		if (strcmp(r->ev[i]->type, "advantages"))
			continue;
		if (rwd_group_parse(&g[k], json_object_get(r->ev[i]->ev, "group")))
			error = ln_error_set(LN_ETRACE, "%s:%ld: advantages event: %s", file,
					     r->ev[i]->line, ln_error_msg());
		ev[k] = r->ev[i];
		total += g[k].n;
		k++;
	}
	all = xmalloc((total ? total : 1) * sizeof *all);
	for (i = 0, total = 0; i < k && !error; i++) {
		memcpy(all + total, g[i].r, g[i].n * sizeof *all);
		total += g[i].n;
	}
	rwd_mean_std(all, total, &mean, &std);
	free(all);
	for (i = 0; i < k && !error; i++) {
		const json_t *e = ev[i]->ev;
		enum rwd_adv_mode mode;
		enum rwd_preset preset;
		const json_t *eps = json_object_get(e, "epsilon");
		json_t *got;
		char *a, *b;
		if (!json_is_string(json_object_get(e, "mode")) || !json_is_string(json_object_get(e,
		    "preset")) || !json_is_number(eps) || json_number_value(eps) < 0 ||
		    rwd_adv_mode_parse(&mode, json_string_value(json_object_get(e, "mode"))) ||
		    rwd_preset_parse(&preset, json_string_value(json_object_get(e, "preset")))) {
			error = ln_error_set(LN_ETRACE, "%s:%ld: advantages event without a valid mode, "
					     "preset and epsilon", file, ev[i]->line);
			break;
		}
		got = rwd_group_advantages(&g[i], mode, preset, json_number_value(eps), std);
		a = jcs_dumps(got);
		b = jcs_dumps(json_object_get(e, "result"));
		if (!a || !b || strcmp(a, b)) {
			snprintf(msg, n, "%s:%ld: advantages event (run %s, seq %lld) differs: recorded "
				 "%.200s, recomputed %.200s", file, ev[i]->line, r->id, ev[i]->seq,
				 b ? b : "(unusable)", a ? a : "(unusable)");
			error = LN_EREPLAY;
		}
		free(a);
		free(b);
		json_decref(got);
		(*count)++;
	}
	for (i = 0; i < r->n; i++)
		rwd_group_release(&g[i]);
	free(g);
	free(ev);
	return error;
}

static int trace_replay(struct cli *c, const char *file)
{
	struct rwd_trace_file f;
	struct run *runs = NULL;
	size_t nruns = 0, i, j, bundles = 0, rewards = 0, advs = 0, unrun = 0;
	int error;
	char msg[1024] = "";

	error = rwd_trace_read(&f, file);
	if (error)
		return error;
	runs_of(&f, &runs, &nruns);
	for (i = 0; i < nruns && !error; i++) {
		const struct run *r = &runs[i];
		const struct rwd_trace_ev *req = find(r, "request"), *be = find(r, "bundle");
		if (!find(r, "end")) {
			error = ln_error_set(LN_ETRACE, "%s:%ld: run %s has no end event (the trace was "
					     "cut, or the run is still being written)", file,
					     r->ev[r->n - 1]->line, r->id);
			break;
		}
		for (j = 0; j < r->n && !error; j++)
			if (!strcmp(r->ev[j]->type, "reward")) {
				error = replay_reward(file, r->ev[j], msg, sizeof msg);
				rewards++;
			}
		if (!error)
			error = replay_advantages(file, r, &advs, msg, sizeof msg);
		if (error || !be)
			continue;
		{
			const json_t *rec = json_object_get(be->ev, "bundle");
			const char *rec_id = json_string_value(json_object_get(be->ev, "bundleId"));
			char own[72];
			json_t *got = NULL;
			/* the recorded bundle must be what its id says */
			if (ln_bundle_compute_id(own, rec) || strcmp(own, rec_id) ||
			    !json_is_string(json_object_get(rec, "bundleId")) ||
			    strcmp(json_string_value(json_object_get(rec, "bundleId")), rec_id)) {
				error = ln_error_set(LN_ETRACE, "%s:%ld: bundle event edited: its bundleId "
						     "does not match its content", file, be->line);
				break;
			}
			if (!req || !query_fn(json_string_value(json_object_get(req->ev, "command")))) {
				unrun++;   /* an edit's bundle: its id checked, not re-run */
				continue;
			}
			error = replay_query(c, file, r, req, &got);
			if (error)
				break;
			bundles++;
			if (!got) {
				snprintf(msg, sizeof msg, "%s:%ld: bundle event (run %s): the replay built "
					 "no bundle", file, be->line, r->id);
				error = LN_EREPLAY;
			} else if (strcmp(json_string_value(json_object_get(got, "bundleId")) ?: "",
					  rec_id)) {
				const json_t *vol = json_object_get(json_object_get(got, "meta"), "volatile");
				const char *why = json_string_value(json_object_get(vol, "message"));
				json_int_t code = json_integer_value(json_object_get(
					json_object_get(got, "meta"), "exitCode"));
				if (code == 85 && why) {
					/* the trace's own data could not be used */
					snprintf(msg, sizeof msg, "%s: run %s (bundle at line %ld): %s", file,
						 r->id, be->line, why);
					json_decref(got);
					error = ln_error_set(LN_ETRACE, "%s", msg);
					break;
				}
				if (code == 76 && why)
					snprintf(msg, sizeof msg, "%s: bundle of run %s (line %ld): %s", file,
						 r->id, be->line, why);
				else
					snprintf(msg, sizeof msg, "%s:%ld: bundle event (run %s, %s) differs "
						 "in \"%s\": recorded %s, replayed %s", file, be->line,
						 r->id, json_string_value(json_object_get(req->ev, "command")),
						 first_diff(rec, got), rec_id,
						 json_string_value(json_object_get(got, "bundleId")) ?: "(none)");
				error = LN_EREPLAY;
			} else if (!c->verify) {
				char *s = jcs_dumps(got);
				if (s)
					fprintf(c->out, "%s\n", s);
				free(s);
			}
			json_decref(got);
		}
	}
	runs_free(runs, nruns);
	rwd_trace_file_release(&f);
	if (error == LN_EREPLAY)
		return ln_error_set(LN_EREPLAY, "%s", msg);
	if (!error && c->verify)
		fprintf(c->out, "verified: %zu bundle%s, %zu reward%s and %zu advantage group%s "
			"recomputed from %s, all equal%s\n", bundles, bundles == 1 ? "" : "s", rewards,
			rewards == 1 ? "" : "s", advs, advs == 1 ? "" : "s", file,
			unrun ? " (bundles of other commands, such as edits, are checked against "
				"their bundleId, not re-run)" : "");
	return error;
}

/* One line per event: line, run, seq, type, what it is about. */
static void summary(FILE *out, const struct rwd_trace_ev *e)
{
	const json_t *ev = e->ev;
	const char *s;

	fprintf(out, "%6ld  %s  %4lld  %-8s ", e->line, ln_printable(e->run), e->seq,
		ln_printable(e->type));
	if (!strcmp(e->type, "frame")) {
		json_t *m = json_loads(json_string_value(json_object_get(ev, "body")), 0, NULL);
		const char *method = json_string_value(json_object_get(m, "method"));
		json_t *id = json_object_get(m, "id");
		fprintf(out, "%s %s %s", ln_printable(json_string_value(json_object_get(ev, "server"))),
			ln_printable(json_string_value(json_object_get(ev, "dir"))),
			method ? ln_printable(method) : "(response)");
		if (json_is_integer(id))
			fprintf(out, " #%lld", (long long)json_integer_value(id));
		json_decref(m);
	} else if (!strcmp(e->type, "bundle")) {
		fprintf(out, "%s %s exit %lld",
			ln_printable(json_string_value(json_object_get(ev, "command"))),
			ln_printable(json_string_value(json_object_get(ev, "bundleId"))),
			(long long)json_integer_value(json_object_get(json_object_get(
				json_object_get(ev, "bundle"), "meta"), "exitCode")));
	} else if (!strcmp(e->type, "request")) {
		size_t i;
		fprintf(out, "%s", ln_printable(json_string_value(json_object_get(ev, "command"))));
		for (i = 0; i < json_array_size(json_object_get(ev, "args")); i++)
			fprintf(out, " %s", ln_printable(json_string_value(json_array_get(
				json_object_get(ev, "args"), i))));
	} else if (!strcmp(e->type, "document")) {
		fprintf(out, "%s %s", ln_printable(json_string_value(json_object_get(ev, "path"))),
			(s = json_string_value(json_object_get(ev, "sha256"))) ? ln_printable(s) :
			"(unreadable)");
	} else if (!strcmp(e->type, "probe")) {
		fprintf(out, "%s", ln_printable(json_string_value(json_object_get(ev, "name"))));
	} else if (!strcmp(e->type, "server") || !strcmp(e->type, "pump") ||
		   !strcmp(e->type, "deadline")) {
		fprintf(out, "%s", ln_printable(json_string_value(json_object_get(ev, "server"))));
		if (!strcmp(e->type, "pump"))
			fprintf(out, " n=%lld", (long long)json_integer_value(json_object_get(ev, "n")));
	} else if (!strcmp(e->type, "reward")) {
		char t[40];
		num_text(t, json_object_get(ev, "reward"));
		fprintf(out, "%s %s", ln_printable(json_string_value(json_object_get(ev, "kind"))),
			t);
	} else if (!strcmp(e->type, "end")) {
		fprintf(out, "exit %lld", (long long)json_integer_value(json_object_get(ev, "exitCode")));
	} else if (!strcmp(e->type, "header")) {
		fprintf(out, "lanser %s", ln_printable(json_string_value(json_object_get(ev, "lanser"))));
	}
	fputc('\n', out);
}

static bool wanted(struct cli *c, const struct rwd_trace_ev *e, const char *run)
{
	if (c->event_kind && strcmp(c->event_kind, e->type))
		return false;
	return !run || !strncmp(e->run, run, strlen(run));
}

static int trace_list_show(struct cli *c, const char *file, bool show, const char *run)
{
	struct rwd_trace_file f;
	size_t i;
	int error = rwd_trace_read(&f, file);

	if (error)
		return error;
	for (i = 0; i < f.n; i++) {
		if (!wanted(c, &f.v[i], run))
			continue;
		if (show) {
			char *s = jcs_dumps(f.v[i].ev);
			if (s)
				fprintf(c->out, "%s\n", s);
			free(s);
		} else {
			summary(c->out, &f.v[i]);
		}
	}
	rwd_trace_file_release(&f);
	return 0;
}

/* ---- export ---- */

static const char *prompt_of(const struct run *r, struct buf *tmp)
{
	const struct rwd_trace_ev *req = find(r, "request");
	size_t i;

	for (i = 0; i < r->n; i++)
		if (!strcmp(r->ev[i]->type, "model") &&
		    !strcmp(json_string_value(json_object_get(r->ev[i]->ev, "role")) ?: "", "user"))
			return json_string_value(json_object_get(r->ev[i]->ev, "content")) ?: "";
	buf_reset(tmp);
	if (req) {
		const json_t *args = json_object_get(req->ev, "args");
		buf_addf(tmp, "lanser %s", json_string_value(json_object_get(req->ev, "command")));
		for (i = 0; i < json_array_size(args); i++)
			buf_addf(tmp, " %s", json_string_value(json_array_get(args, i)));
	}
	return tmp->data;
}

/* The completion: the last assistant message, else the answer's facts. */
static char *completion_of(const struct run *r)
{
	const struct rwd_trace_ev *be = find(r, "bundle");
	size_t i;

	for (i = r->n; i-- > 0;)
		if (!strcmp(r->ev[i]->type, "model") &&
		    !strcmp(json_string_value(json_object_get(r->ev[i]->ev, "role")) ?: "", "assistant"))
			return xstrdup(json_string_value(json_object_get(r->ev[i]->ev, "content")) ?: "");
	if (be)
		return jcs_dumps(json_object_get(json_object_get(be->ev, "bundle"), "facts"));
	return xstrdup("");
}

/* The run's reward: the last episode reward, else the mean of its step
 * rewards, else 1/0 by the bundle's exit status; NAN when unscorable. */
static double reward_of(const struct run *r)
{
	const struct rwd_trace_ev *be = find(r, "bundle");
	double sum = 0;
	size_t i, k = 0;

	for (i = r->n; i-- > 0;)
		if (!strcmp(r->ev[i]->type, "reward") &&
		    !strcmp(json_string_value(json_object_get(r->ev[i]->ev, "kind")), "episode")) {
			const json_t *v = json_object_get(r->ev[i]->ev, "reward");
			return json_is_number(v) ? json_number_value(v) : NAN;
		}
	for (i = 0; i < r->n; i++)
		if (!strcmp(r->ev[i]->type, "reward") &&
		    json_is_number(json_object_get(r->ev[i]->ev, "reward"))) {
			sum += json_number_value(json_object_get(r->ev[i]->ev, "reward"));
			k++;
		}
	if (k)
		return sum / (double)k;
	if (be)
		return json_integer_value(json_object_get(json_object_get(json_object_get(be->ev,
			"bundle"), "meta"), "exitCode")) == 0 ? 1.0 : 0.0;
	return NAN;
}

static int trace_export(struct cli *c, const char *file)
{
	struct rwd_trace_file f;
	struct run *runs = NULL;
	size_t nruns = 0, i, j;
	struct buf tmp = BUF_INIT;
	const char *fmtname = c->format ? c->format : "";
	int error;

	if (strcmp(fmtname, "trl") && strcmp(fmtname, "openrlhf") && strcmp(fmtname, "verl") &&
	    strcmp(fmtname, "prm"))
		return ln_error_set(LN_EUSAGE, "trace export needs --format trl, openrlhf, verl or prm");
	error = rwd_trace_read(&f, file);
	if (error)
		return error;
	runs_of(&f, &runs, &nruns);
	for (i = 0; i < nruns; i++) {
		const struct run *r = &runs[i];
		const char *prompt;
		char *completion;
		double rw;
		json_t *row = NULL;
		if (!find(r, "request"))
			continue;
		prompt = prompt_of(r, &tmp);
		completion = completion_of(r);
		rw = reward_of(r);
		if (!strcmp(fmtname, "trl")) {
			row = json_pack("{s:s, s:s, s:o}", "prompt", prompt, "completion",
					completion ? completion : "", "reward", rwd_number(rw));
		} else if (!strcmp(fmtname, "openrlhf")) {
			row = json_pack("{s:s, s:s, s:o}", "input", prompt, "output",
					completion ? completion : "", "reward", rwd_number(rw));
		} else if (!strcmp(fmtname, "verl")) {
			row = json_pack("{s:s, s:[{s:s, s:s}], s:s, s:{s:s, s:o}, s:{s:s, s:s, s:o}}",
				"data_source", "lanser", "prompt", "role", "user", "content", prompt,
				"ability", "code", "reward_model", "style", "rule", "ground_truth",
				rwd_number(rw), "extra_info", "run", r->id, "response",
				completion ? completion : "", "reward", rwd_number(rw));
		} else {
			json_t *steps = json_array(), *labels = json_array();
			for (j = 0; j < r->n; j++) {
				const json_t *ev = r->ev[j]->ev;
				const json_t *v = json_object_get(ev, "reward");
				char *terms;
				if (strcmp(r->ev[j]->type, "reward") ||
				    strcmp(json_string_value(json_object_get(ev, "kind")), "step"))
					continue;
				terms = jcs_dumps(json_object_get(ev, "terms"));
				json_array_append_new(steps, json_string(terms ? terms : ""));
				free(terms);
				json_array_append_new(labels, json_boolean(json_is_number(v) &&
									  json_number_value(v) > 0));
			}
			if (json_array_size(steps) == 0) {
				json_array_append_new(steps, json_string(completion ? completion : ""));
				json_array_append_new(labels, json_boolean(rw > 0));
			}
			row = json_pack("{s:s, s:o, s:o}", "prompt", prompt, "completions", steps,
					"labels", labels);
		}
		free(completion);
		if (row) {
			char *s = jcs_dumps(row);
			if (s)
				fprintf(c->out, "%s\n", s);
			free(s);
			json_decref(row);
		}
	}
	buf_release(&tmp);
	runs_free(runs, nruns);
	rwd_trace_file_release(&f);
	return 0;
}

int cmd_trace(struct cli *c)
{
	const char *sub = c->argc ? c->argv[0] : "";

	if (c->argc == 3 && !strcmp(sub, "list"))
		return trace_list_show(c, c->argv[1], false, c->argv[2]);
	if (c->argc == 2 && !strcmp(sub, "list"))
		return trace_list_show(c, c->argv[1], false, NULL);
	if ((c->argc == 2 || c->argc == 3) && !strcmp(sub, "show"))
		return trace_list_show(c, c->argv[1], true, c->argc == 3 ? c->argv[2] : NULL);
	if (c->argc == 2 && !strcmp(sub, "replay"))
		return trace_replay(c, c->argv[1]);
	if (c->argc == 2 && !strcmp(sub, "export"))
		return trace_export(c, c->argv[1]);
	fprintf(c->err, "usage: lanser trace list FILE [RUN] [--event KIND]\n"
			"       lanser trace show FILE [RUN] [--event KIND]\n"
			"       lanser trace replay [--verify] FILE\n"
			"       lanser trace export --format trl|openrlhf|verl|prm FILE\n");
	return ln_error_set(LN_EUSAGE, "trace takes list, show, replay or export and a file");
}
