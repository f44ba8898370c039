/*
 * session_replay.c - session snapshots and the replay transport
 * (session_impl.h): a session with no server behind it, restored from a
 * snapshot, that replays a recorded trace in lockstep (session.h,
 * docs/trace.md).
 */
#include "lsp/session.h"
#include "lsp/session_impl.h"
#include "core/err.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *lsp_session_snapshot(const struct lsp_session *s)
{
	json_t *docs = json_array(), *prog = json_array(), *pulls = json_array(), *snap;
	char *settings;
	size_t i;

	for (i = 0; i < s->ndocs; i++) {
		const struct doc *d = &s->docs[i];
		json_array_append_new(docs, xjson_pack("{s:s, s:i, s:s, s:I, s:O?, s:i, s:I, s:b, s:b}",
			"uri", d->uri, "version", d->version, "hash", d->hash,
			"syncedSeq", (json_int_t)d->synced_seq, "diags", d->diags,
			"diagVersion", d->diag_version, "diagSeq", (json_int_t)d->diag_seq,
			"hasDiags", d->has_diags, "open", d->open));
	}
	for (i = 0; i < s->npull_ids; i++)
		json_array_append_new(pulls, json_string(s->pull_ids[i]));
	for (i = 0; i < s->nprog; i++)
		json_array_append_new(prog, xjson_pack("{s:s, s:s?, s:b, s:b}", "token", s->prog[i].token,
			"title", s->prog[i].title, "active", s->prog[i].active, "ended", s->prog[i].ended));
	/* settings go back to the server (configuration answers), so they are
	 * kept as text: the member order of the messages a replay builds must
	 * be the original's, and a trace writes its objects with sorted keys */
	settings = s->settings ? json_dumps(s->settings, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	snap = xjson_pack("{s:s, s:s, s:O?, s:s?, s:s?, s:s, s:I, s:I, s:b, s:b, s:i, s:s, s:s?, "
			 "s:s%, s:o, s:o, s:b, s:o}",
		"name", s->name, "root", s->root, "capabilities", s->caps,
		"serverName", s->server_name, "serverVersion", s->server_version,
		"encoding", ln_enc_lsp_name(s->enc), "nextId", (json_int_t)s->next_id,
		"seq", (json_int_t)s->seq, "versionedDiags", s->versioned_diags,
		"unresponsive", s->unresponsive, "error", s->error, "errmsg", s->errmsg,
		"settings", settings, "logs", s->logs.data, s->logs.len,
		"docs", docs, "progress", prog,
		"pullDeclared", s->pull_declared, "pullIds", pulls);
	free(settings);
	return snap;
}

static int snap_fail(const char *what)
{
	return ln_error_set(LN_ETRACE, "server snapshot: %s", what);
}

/* Restores one field set of a snapshot; every value is untrusted. */
static int restore(struct lsp_session *s, const json_t *j)
{
	const json_t *v, *docs, *prog, *d;
	const char *str;
	size_t i;

	if (!json_is_object(j))
		return snap_fail("not an object");
	if (!json_is_string(json_object_get(j, "name")) || !json_is_string(json_object_get(j, "root")))
		return snap_fail("name and root must be strings");
	if (json_string_value(json_object_get(j, "root"))[0] != '/')
		return snap_fail("root must be an absolute path");
	s->name = xstrdup(json_string_value(json_object_get(j, "name")));
	s->root = xstrdup(json_string_value(json_object_get(j, "root")));
	v = json_object_get(j, "capabilities");
	if (!json_is_object(v))
		return snap_fail("capabilities must be an object");
	s->caps = json_deep_copy(v);
	str = json_string_value(json_object_get(j, "encoding"));
	if (!str || ln_enc_parse(&s->enc, str))
		return snap_fail("unknown encoding");
	if ((str = json_string_value(json_object_get(j, "serverName"))))
		s->server_name = xstrdup(str);
	if ((str = json_string_value(json_object_get(j, "serverVersion"))))
		s->server_version = xstrdup(str);
	if (!json_is_integer(json_object_get(j, "nextId")) || !json_is_integer(json_object_get(j, "seq")) ||
	    !json_is_integer(json_object_get(j, "error")))
		return snap_fail("nextId, seq and error must be integers");
	s->next_id = json_integer_value(json_object_get(j, "nextId"));
	s->seq = json_integer_value(json_object_get(j, "seq"));
	s->versioned_diags = json_is_true(json_object_get(j, "versionedDiags"));
	s->pull_declared = json_is_true(json_object_get(j, "pullDeclared"));
	v = json_object_get(j, "pullIds");
	if (v && (!json_is_array(v) || json_array_size(v) > LSP_PULL_IDS_MAX))
		return snap_fail("pullIds must be an array of at most 16 strings");
	json_array_foreach(v, i, d) {
		if (!json_is_string(d))
			return snap_fail("pullIds must be an array of at most 16 strings");
		lsp_session_pull_id(s, json_string_value(d), true);
	}
	s->unresponsive = json_is_true(json_object_get(j, "unresponsive"));
	s->error = (int)json_integer_value(json_object_get(j, "error"));
	if (s->error && (s->error > 0 || s->error < -255))
		return snap_fail("error is not an LN_E* code");
	snprintf(s->errmsg, sizeof s->errmsg, "%s",
		 json_string_value(json_object_get(j, "errmsg")) ? json_string_value(
			 json_object_get(j, "errmsg")) : "");
	v = json_object_get(j, "settings");
	if (json_is_string(v)) {
		s->settings = json_loadb(json_string_value(v), json_string_length(v),
					 JSON_DECODE_ANY, NULL);
		if (!s->settings)
			return snap_fail("settings are not JSON text");
	}
	v = json_object_get(j, "logs");
	if (json_is_string(v) && json_string_length(v) <= LOG_CAP)
		buf_add(&s->logs, json_string_value(v), json_string_length(v));
	docs = json_object_get(j, "docs");
	prog = json_object_get(j, "progress");
	if (!json_is_array(docs) || json_array_size(docs) > 100000 || !json_is_array(prog) ||
	    json_array_size(prog) > 4096)
		return snap_fail("docs and progress must be arrays (at most 100000 and 4096)");
	json_array_foreach(docs, i, d) {
		struct doc *doc;
		const char *uri = json_string_value(json_object_get(d, "uri"));
		const char *hash = json_string_value(json_object_get(d, "hash"));
		if (!uri || !hash || strlen(hash) > 64 || !json_is_integer(json_object_get(d, "version")))
			return snap_fail("a document needs uri, hash and version");
		doc = lsp_session_get_doc(s, uri);
		doc->version = (int)json_integer_value(json_object_get(d, "version"));
		snprintf(doc->hash, sizeof doc->hash, "%s", hash);
		doc->synced_seq = json_integer_value(json_object_get(d, "syncedSeq"));
		v = json_object_get(d, "diags");
		doc->diags = json_is_array(v) ? json_deep_copy(v) : NULL;
		doc->diag_version = (int)json_integer_value(json_object_get(d, "diagVersion"));
		doc->diag_seq = json_integer_value(json_object_get(d, "diagSeq"));
		doc->has_diags = json_is_true(json_object_get(d, "hasDiags")) && doc->diags;
		doc->open = json_is_true(json_object_get(d, "open"));
	}
	json_array_foreach(prog, i, d) {
		const char *tok = json_string_value(json_object_get(d, "token"));
		const char *title = json_string_value(json_object_get(d, "title"));
		struct progress *p;
		if (!tok)
			return snap_fail("a progress token must be a string");
		p = lsp_session_get_progress(s, tok);
		if (!p)
			return snap_fail("too many progress tokens");
		free(p->title);
		p->title = title ? xstrdup(title) : NULL;
		p->active = json_is_true(json_object_get(d, "active"));
		p->ended = json_is_true(json_object_get(d, "ended"));
	}
	return 0;
}

static void clip(char *out, size_t n, const char *body, size_t len)
{
	size_t k = len < n - 4 ? len : n - 4;
	memcpy(out, body, k);
	if (k < len)
		memcpy(out + k, "...", 4);
	else
		out[k] = '\0';
}

static int replay_send(struct lsp_session *s, char *body, size_t len)
{
	struct lsp_replay_item it;
	char got[120], want[120];
	int r = s->replay.peek(s->replay.ctx, &it);

	clip(got, sizeof got, body, len);
	if (r != 1) {
		free(body);
		return lsp_session_fail(s, LN_EREPLAY, "replay: lanser sends %s to %s, but the trace ends there",
			    got, s->name);
	}
	if (it.dir != '>' || it.len != len || memcmp(it.body, body, len)) {
		free(body);
		clip(want, sizeof want, it.body ? it.body : "", it.body ? it.len : 0);
		return lsp_session_fail(s, LN_EREPLAY, "replay: line %ld: lanser sends %s to %s, the trace has "
			    "'%c' %s", it.line, got, s->name, it.dir, want);
	}
	s->replay.advance(s->replay.ctx);
	free(body);
	return 0;
}

/* Dispatches the recorded frames of one pump call, up to its 'p' record. */
static int replay_pump(struct lsp_session *s, int timeout_ms)
{
	struct lsp_replay_item it;
	long long n = 0;

	if (s->error)
		return lsp_session_sticky(s);
	for (;;) {
		if (s->replay.peek(s->replay.ctx, &it) != 1)
			return lsp_session_fail(s, LN_EREPLAY, "replay: lanser reads from %s, but the trace ends "
				    "there", s->name);
		if (it.dir == '<') {
			/* dispatch may send (answers to server requests): the
			 * item is consumed first */
			struct buf body = BUF_INIT;
			buf_add(&body, it.body, it.len);
			s->replay.advance(s->replay.ctx);
			n++;
			if (lsp_session_dispatch(s, body.data, body.len)) {
				buf_release(&body);
				return lsp_session_sticky(s);
			}
			buf_release(&body);
			continue;
		}
		if (it.dir == 'p') {
			json_t *m = json_loadb(it.body, it.len, 0, NULL);
			long line = it.line;
			json_int_t want = json_integer_value(json_object_get(m, "n"));
			json_t *e = json_object_get(m, "error");
			s->replay.advance(s->replay.ctx);
			if (!m || want != n) {
				json_decref(m);
				return lsp_session_fail(s, LN_EREPLAY, "replay: line %ld: the pump of %s dispatched "
					    "%lld frames, the trace says %lld", line, s->name, n,
					    (long long)want);
			}
			if (json_is_integer(e) && json_integer_value(e) < 0 &&
			    json_integer_value(e) > -256) {
				const char *msg = json_string_value(json_object_get(m, "message"));
				int code = (int)json_integer_value(e);
				char copy[512];
				snprintf(copy, sizeof copy, "%s", msg ? msg : "");
				json_decref(m);
				return lsp_session_fail(s, code, "%s", copy);
			}
			json_decref(m);
			return 0;
		}
		return lsp_session_fail(s, LN_EREPLAY, "replay: line %ld: lanser reads from %s here, the trace "
			    "has '%c'", it.line, s->name, it.dir);
	}
}

static bool replay_deadline(struct lsp_session *s, bool passed)
{
	struct lsp_replay_item it;

	if (s->replay.peek(s->replay.ctx, &it) == 1 && it.dir == 'd') {
		s->replay.advance(s->replay.ctx);
		return true;
	}
	return false;
}

/* A replay has no process to stop and no conversation to end. */
const struct lsp_transport lsp_transport_replay = {
	.send = replay_send,
	.pump = replay_pump,
	.deadline = replay_deadline,
	.stop = NULL,
	.close = NULL,
};

int lsp_session_replay_new(struct lsp_session **out, const json_t *snapshot,
			   const struct lsp_replay *src)
{
	struct lsp_session *s = lsp_session_alloc(0);
	int error;

	*out = NULL;
	s->tr = &lsp_transport_replay;
	s->replay = *src;
	error = restore(s, snapshot);
	if (error) {
		if (!s->name)
			s->name = xstrdup("replay");
		if (!s->root)
			s->root = xstrdup("/");
		lsp_session_free(s);
		return error;
	}
	*out = s;
	return 0;
}
