/*
 * trace_replay.c - `lanser trace replay [--verify] FILE` (docs/trace.md).
 *
 * The events of one run become a struct lsp_replayer; the recorded
 * command line is rebuilt with the command table's parser and run again
 * through the same command function, against a workspace with no server
 * and no disk, and the bundle it builds is compared with the recorded one.
 * Rewards and advantages are recomputed from their recorded terms. The
 * first event that comes out differently is named (exit 76); a trace that
 * cannot be read as one is exit 85.
 */
#include "agent/cli.h"
#include "agent/command.h"
#include "agent/trace.h"
#include "agent/trace_int.h"
#include "agent/agentcmd.h"
#include "core/buf.h"
#include "core/bundle.h"
#include "core/err.h"
#include "core/jcs.h"
#include "core/limits.h"
#include "core/text.h"
#include "core/xalloc.h"
#include "core/xjson.h"
#include "lsp/workspace.h"
#include "rewards/tracefile.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* A string the recorder wrote as hex bytes (`key`Hex, agent/trace.c): a
 * jansson string holding them unchecked, which only carries them to a path
 * or an argv (new reference in *out). LN_ETRACE for what is not hex, a NUL
 * byte, more than 64 KiB. */
static int hex_string_new(json_t **out, const char *hex)
{
	size_t n = strlen(hex), i;
	char *b;

	*out = NULL;
	if (n % 2 || n / 2 > 65536)
		return ln_error_set(LN_ETRACE, "a recorded ...Hex string must be hex bytes");
	b = xmalloc(n / 2 + 1);
	for (i = 0; i < n / 2; i++) {
		char d[3] = { hex[2 * i], hex[2 * i + 1], 0 };
		if (!isxdigit((unsigned char)d[0]) || !isxdigit((unsigned char)d[1]) ||
		    !(b[i] = (char)strtoul(d, NULL, 16))) {
			free(b);
			return ln_error_set(LN_ETRACE, "a recorded ...Hex string must be hex bytes "
					    "without NUL");
		}
	}
	b[n / 2] = '\0';
	*out = json_stringn_nocheck(b, n / 2);
	free(b);
	return 0;
}

/* Whether the recorded string ev[key] is s: the exact bytes in ev[key+"Hex"]
 * when the recorder had to write them so (agent/trace.c), else the string. */
static bool recorded_is(const json_t *ev, const char *key, const char *s)
{
	char hk[40];
	const char *hex, *v;
	size_t i, n = strlen(s);

	snprintf(hk, sizeof hk, "%sHex", key);
	hex = json_string_value(json_object_get(ev, hk));
	if (!hex) {
		v = json_string_value(json_object_get(ev, key));
		return v && !strcmp(v, s);
	}
	if (strlen(hex) != 2 * n)
		return false;
	for (i = 0; i < n; i++) {
		char b[3] = { hex[2 * i], hex[2 * i + 1], 0 };
		if (strtoul(b, NULL, 16) != (unsigned char)s[i] || !isxdigit((unsigned char)b[0]) ||
		    !isxdigit((unsigned char)b[1]))
			return false;
	}
	return true;
}

static int rp_document_cb(void *ctx, const char *path, const char **data, size_t *len,
			  int *error, const char **message)
{
	struct replayer *rp = ctx;
	size_t i;

	for (i = 0; i < rp->ndocs; i++) {
		json_t *ev = rp->docs[i]->ev;
		if (!recorded_is(ev, "path", path))
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
		if (json_object_get(ev, "encoding")) {
			/* a Latin-1 file recorded in its UTF-8 form: its bytes
			 * again (older traces have no "encoding": UTF-8) */
			struct buf b = BUF_INIT;
			char *bytes;
			if (!recorded_is(ev, "encoding", "latin-1") ||
			    ln_utf8_to_latin1(&b, *data, *len)) {
				buf_release(&b);
				return ln_error_set(LN_ETRACE, "%s:%ld: document event with a bad "
						    "encoding", rp->file, rp->docs[i]->line);
			}
			*len = b.len;
			bytes = buf_detach(&b, NULL);
			trace_push((void **)&rp->owned, &rp->nowned, sizeof bytes, &bytes);
			*data = bytes;
		}
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
		if (!recorded_is(ev, "name", name) || !recorded_is(ev, "key", key))
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

void trace_push(void **arr, size_t *n, size_t size, const void *item)
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
			trace_push((void **)&rp->servers, &rp->nservers, sizeof s, &s);
			continue;
		}
		if (!strcmp(e->type, "document")) {
			trace_push((void **)&rp->docs, &rp->ndocs, sizeof e, &e);
			continue;
		}
		if (!strcmp(e->type, "probe")) {
			const char *hex = json_string_value(json_object_get(e->ev, "valueHex"));
			json_t *v;
			if (hex) {   /* the value as lanser had it: bytes, not U+FFFD */
				if (hex_string_new(&v, hex))
					return ln_error_set(LN_ETRACE, "%s:%ld: %s", file, e->line,
							    ln_error_msg());
				json_object_set_new(e->ev, "value", v);
			}
			trace_push((void **)&rp->probes, &rp->nprobes, sizeof e, &e);
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
			const json_t *nv = json_object_get(e->ev, "n");
			json_t *m;
			char *body;
			if (!nv)
				return ln_error_set(LN_ETRACE, "%s:%ld: malformed pump event", file, e->line);
			m = xjson_pack("{s:O}", "n", nv);
			if (json_object_get(e->ev, "error")) {
				json_object_set(m, "error", json_object_get(e->ev, "error"));
				json_object_set(m, "message", json_object_get(e->ev, "message"));
			}
			body = json_dumps(m, JSON_COMPACT);
			json_decref(m);
			if (!body)
				return ln_error_set(LN_ETRACE, "%s:%ld: malformed pump event", file, e->line);
			trace_push((void **)&rp->owned, &rp->nowned, sizeof body, &body);
			it.dir = 'p';
			it.body = body;
			it.len = strlen(body);
		} else {
			it.dir = 'd';
			it.body = "{}";
			it.len = 2;
		}
		trace_push((void **)&cur->q.items, &cur->q.n, sizeof it, &it);
	}
	rp->ops.server = rp_server_cb;
	rp->ops.document = rp_document_cb;
	rp->ops.probe = rp_probe_cb;
	rp->ops.ctx = rp;
	return 0;
}

bool trace_replay_capture(struct cli *c, const json_t *bundle)
{
	struct replayer *rp = c->replay;

	if (!rp)
		return false;
	json_decref(rp->produced);
	rp->produced = json_deep_copy(bundle);
	return true;
}

const struct lsp_replayer *trace_replayer(struct cli *c)
{
	struct replayer *rp = c->replay;
	return rp ? &rp->ops : NULL;
}

/* The command a request event names, when replay re-runs it (queries). */
static const struct agent_command *query_cmd(const char *name)
{
	const struct agent_command *cmd = name ? agent_command_find(name) : NULL;

	return cmd && (cmd->flags & AGENT_CMD_QUERY) ? cmd : NULL;
}

/* A configured time of the request event; the defaults are core/config.c's. */
static int int_opt(const json_t *o, const char *k, int dflt)
{
	const json_t *v = json_object_get(o, k);
	json_int_t x = json_integer_value(v);
	return json_is_integer(v) && x >= 0 && x <= LN_TIMEOUT_MAX_MS ? (int)x : dflt;
}

/* The recorded command line as argv (the program name first): the options
 * by JSON name, then "--" and the positional args. A version 1 request
 * spelled the readiness wait `indexMs` and recorded workspace and noDecl
 * for every command (the old parser took and ignored them): those a
 * command does not take are left out. */
static int request_argv(json_t **out, const struct agent_command *cmd, const json_t *ev, bool v1)
{
	const json_t *opts = json_object_get(ev, "options"), *args = json_object_get(ev, "args");
	json_t *argv = xjson_pack("[s, s]", "lanser", cmd->name), *use = NULL, *v;
	const char *key;
	size_t i;
	int error = 0;

	if (v1 && json_is_object(opts)) {
		use = json_object();
		json_object_foreach((json_t *)opts, key, v) {
			const char *name = !strcmp(key, "indexMs") ? "waitIndexMs" : key;
			if (agent_option_by_json(cmd, name))
				json_object_set(use, name, v);
		}
	}
	error = agent_cmd_json_argv(argv, cmd, use ? use : opts);
	json_decref(use);
	json_array_append_new(argv, json_string("--"));
	for (i = 0; !error && i < json_array_size(args); i++) {
		const char *hex = json_string_value(json_array_get(json_object_get(ev, "argsHex"), i));
		if (!json_is_string(json_array_get(args, i)))
			error = ln_error_set(LN_ETRACE, "request args must be strings");
		else if (hex && !(error = hex_string_new(&v, hex)))
			json_array_append_new(argv, v);
		else
			json_array_append(argv, json_array_get(args, i));
	}
	if (!error && (!json_is_array(args) || json_array_size(args) > AGENT_CMD_MAX_ARGS))
		error = ln_error_set(LN_ETRACE, "request args must be an array of at most %d strings",
				     AGENT_CMD_MAX_ARGS);
	if (error) {
		json_decref(argv);
		return error;
	}
	*out = argv;
	return 0;
}

/* Rebuilds the command line of a request event into c, with the same
 * parser as the command line (agent/options.c). c->argv points into
 * *argv_json, which the caller releases after c. */
static int request_cli(struct cli *c, json_t **argv_json, const struct agent_command *cmd,
		       const struct trace_run *r, const char *file, const struct rwd_trace_ev *req)
{
	const json_t *ev = req->ev, *times = json_object_get(ev, "configTimes");
	const struct rwd_trace_ev *hd = trace_run_find(r, "header");
	const char *schema = hd ? json_string_value(json_object_get(hd->ev, "schema")) : NULL;
	const struct agent_command *parsed = NULL;
	char **argv;
	size_t n, i;
	int error;

	error = request_argv(argv_json, cmd, ev, !schema || !strcmp(schema, RWD_TRACE_SCHEMA_V1));
	if (error)
		return ln_error_set(LN_ETRACE, "%s:%ld: request event: %s", file, req->line,
				    ln_error_msg());
	n = json_array_size(*argv_json);
	argv = xcalloc(n + 1, sizeof *argv);
	for (i = 0; i < n; i++)
		argv[i] = (char *)json_string_value(json_array_get(*argv_json, i));
	c->index_io = LN_ENC_CODEPOINT;
	error = agent_cmdline_parse(c, &parsed, (int)n, argv, json_string_value(json_object_get(ev, "cwd")));
	free(argv);
	if (!error && parsed != cmd)
		error = ln_error_set(LN_EUSAGE, "not a command line of %s", cmd->name);
	if (error)
		return ln_error_set(LN_ETRACE, "%s:%ld: request event: %s", file, req->line,
				    ln_error_msg());
	c->root = xstrdup(json_string_value(json_object_get(ev, "root")));
	c->cwd = xstrdup(json_string_value(json_object_get(ev, "cwd")));
	c->cfg.json = json_incref(json_object_get(ev, "config"));
	snprintf(c->cfg.digest, sizeof c->cfg.digest, "%s",
		 json_string_value(json_object_get(ev, "configDigest")));
	c->cfg.request_ms = int_opt(times, "requestMs", 30000);
	c->cfg.init_ms = int_opt(times, "initMs", 60000);
	c->cfg.index_ms = int_opt(times, "indexMs", 120000);
	c->cfg.diagnostics_ms = int_opt(times, "diagnosticsMs", 60000);
	if (!c->timeout_set)
		c->timeout_ms = c->cfg.request_ms;
	if (!c->index_set)
		c->index_ms = c->cfg.index_ms;
	c->in_daemon = json_is_true(json_object_get(ev, "daemon"));
	return 0;
}

/* Re-runs the query of one run; *out is the bundle it builds (new ref). */
static int replay_query(struct cli *parent, const char *file, const struct trace_run *r,
			const struct rwd_trace_ev *req, json_t **out)
{
	const struct agent_command *cmd = query_cmd(json_string_value(json_object_get(req->ev, "command")));
	struct replayer rp;
	struct cli c;
	json_t *argv = NULL;
	char *obuf = NULL, *ebuf = NULL;
	size_t olen = 0, elen = 0;
	int error;

	*out = NULL;
	if (!cmd)
		return 0;
	memset(&c, 0, sizeof c);
	error = request_cli(&c, &argv, cmd, r, file, req);
	if (!error)
		error = rp_build(&rp, file, r->ev, r->n);
	if (error)
		goto done;
	c.out = open_memstream(&obuf, &olen);
	c.err = open_memstream(&ebuf, &elen);
	if (!c.out || !c.err)
		ln_die_oom();
	c.replay = &rp;
	c.exec = parent->exec;
	cmd->fn(&c);
	fclose(c.out);
	fclose(c.err);
	free(obuf);
	free(ebuf);
	*out = rp.produced ? json_incref(rp.produced) : NULL;
	rp_release(&rp);
	ln_error_clear();
done:
	free(c.argv);
	free(c.root);
	free(c.cwd);
	json_decref(c.cfg.json);
	json_decref(argv);
	return error;
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

int trace_replay_file(struct cli *c, const char *file)
{
	struct rwd_trace_file f;
	struct trace_run *runs = NULL;
	size_t nruns = 0, i, j, bundles = 0, rewards = 0, advs = 0, unrun = 0, cands = 0;
	size_t agents = 0;
	int error;
	char msg[1024] = "";

	error = rwd_trace_read(&f, file);
	if (error)
		return error;
	trace_runs_of(&f, &runs, &nruns);
	for (i = 0; i < nruns && !error; i++) {
		const struct trace_run *r = &runs[i];
		const struct rwd_trace_ev *req = trace_run_find(r, "request"), *be = trace_run_find(r, "bundle");
		if (!trace_run_find(r, "end")) {
			error = ln_error_set(LN_ETRACE, "%s:%ld: run %s has no end event (the trace was "
					     "cut, or the run is still being written)", file,
					     r->ev[r->n - 1]->line, r->id);
			break;
		}
		if (req && !strcmp(json_string_value(json_object_get(req->ev, "command")) ?: "",
				   "agent")) {
			/* an agent episode: run again with the recorded replies */
			error = agent_replay_run(c, file, r->ev, r->n, msg, sizeof msg);
			agents++;
			continue;
		}
		for (j = 0; j < r->n && !error; j++)
			if (!strcmp(r->ev[j]->type, "reward")) {
				error = trace_replay_reward(file, r->ev[j], msg, sizeof msg);
				rewards++;
			}
		if (!error)
			error = trace_replay_advantages(file, r, &advs, msg, sizeof msg);
		if (!error)
			error = trace_replay_candidates(file, r, &cands, msg, sizeof msg);
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
			if (!req || !query_cmd(json_string_value(json_object_get(req->ev, "command")))) {
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
			} else if (!c->replay_verify) {
				char *s = jcs_dumps(got);
				if (s)
					fprintf(c->out, "%s\n", s);
				free(s);
			}
			json_decref(got);
		}
	}
	trace_runs_free(runs, nruns);
	rwd_trace_file_release(&f);
	if (error == LN_EREPLAY)
		return ln_error_set(LN_EREPLAY, "%s", msg);
	if (!error && c->replay_verify && (!agents || bundles || rewards || advs))
		fprintf(c->out, "verified: %zu bundle%s, %zu reward%s and %zu advantage group%s "
			"recomputed from %s, all equal%s\n", bundles, bundles == 1 ? "" : "s", rewards,
			rewards == 1 ? "" : "s", advs, advs == 1 ? "" : "s", file,
			unrun ? " (bundles of other commands, such as edits, are checked against "
				"their bundleId, not re-run)" : "");
	if (!error && c->replay_verify && cands)
		fprintf(c->out, "verified: %zu candidate eval bundle%s: each matches its bundleId, "
			"its diagnostics give the step's D0 and D, its test record the outcome, its "
			"reward the episode's\n", cands, cands == 1 ? "" : "s");
	return error;
}

/* One line per event: line, run, seq, type, what it is about. */
