/*
 * workspace.c - a workspace's language servers (start, crash backoff,
 * replay), readiness, its source files, and trace recording (workspace.h).
 * Document texts and overlays are workspace_docs.c; the warm daemon's
 * refresh, pump and status are workspace_warm.c.
 */
#include "lsp/workspace.h"
#include "lsp/workspace_impl.h"
#include "core/err.h"
#include "core/ignore.h"
#include "core/path.h"
#include "core/snapshot.h"
#include "core/proc.h"
#include "core/xalloc.h"
#include "core/xjson.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int lsp_workspace_new(struct lsp_workspace **out, const struct lsp_workspace_opts *o)
{
	struct lsp_workspace *ws = xcalloc(1, sizeof *ws);
	int error;

	*out = NULL;
	ws->root = xstrdup(o->root);
	ws->init_ms = o->init_ms;
	ws->request_ms = o->request_ms;
	ws->record = o->record;
	ws->record_ctx = o->record_ctx;
	ws->restart = o->restart;
	ws->wrap = o->wrap;
	ws->wrap_ctx = o->wrap_ctx;
	ws->track_files = o->track_files;
	if (o->replay) {
		ws->rep = *o->replay;
		ws->replaying = true;
	}
	ln_snapshot_init(&ws->snap, o->root);
	if (!ws->replaying) {
		ws->ignore = ln_ignore_new(o->root, NULL);
		ln_snapshot_set_filter(&ws->snap, ln_ignore_skip, ws->ignore);
	}
	if (ws->track_files)
		ln_snapshot_watch(&ws->snap); /* else: a stat walk per refresh */
	error = lsp_profiles_load(&ws->profiles, o->servers, o->root);
	if (error) {
		lsp_workspace_free(ws);
		return error;
	}
	*out = ws;
	return 0;
}

void lsp_workspace_text_free(struct cached_text *ct)
{
	free(ct->path);
	ln_text_release(&ct->text);
	free(ct);
}

void lsp_workspace_free(struct lsp_workspace *ws)
{
	size_t i;

	if (!ws)
		return;
	for (i = 0; i < ws->nservers; i++) {
		lsp_session_free(ws->servers[i]->info.session);
		free(ws->servers[i]->info.version);
		free(ws->servers[i]);
	}
	free(ws->servers);
	for (i = 0; i < ws->ntexts; i++)
		lsp_workspace_text_free(ws->texts[i]);
	free(ws->texts);
	json_decref(ws->text_index);
	lsp_profiles_release(&ws->profiles);
	ln_snapshot_release(&ws->snap);
	ln_ignore_free(ws->ignore);
	free(ws->root);
	free(ws);
}

const struct lsp_profiles *lsp_workspace_profiles(const struct lsp_workspace *ws)
{
	return &ws->profiles;
}

const char *lsp_workspace_root(const struct lsp_workspace *ws)
{
	return ws->root;
}

char *lsp_workspace_uri(const struct lsp_workspace *ws, const char *relpath)
{
	struct buf b = BUF_INIT;
	char *uri;

	if (relpath[0] == '/')
		return ln_uri_from_path(relpath);
	buf_addf(&b, "%s/%s", ws->root, relpath);
	uri = ln_uri_from_path(b.data);
	buf_release(&b);
	return uri;
}

/* ---- servers ---- */

static long long backoff_ms(int crashes)
{
	long long d;

	if (crashes <= 1)
		return 0; /* the first crash restarts at once */
	d = 500LL << (crashes - 2 < 16 ? crashes - 2 : 16);
	return d < MAX_BACKOFF_MS ? d : MAX_BACKOFF_MS;
}

/* Records the death of a slot's session and frees it (reaping the process). */
void lsp_workspace_slot_down(struct lsp_workspace *ws, struct server_slot *sl)
{
	long long now = ln_now_ms();
	if (!sl->info.session)
		return;
	snprintf(sl->last_error, sizeof sl->last_error, "%s", ln_error_msg());
	if (now - sl->started_ms > CRASH_FORGET_MS)
		sl->crashes = 0;
	sl->crashes++;
	sl->total_crashes++;
	ws->crashes++;
	sl->next_start_ms = now + backoff_ms(sl->crashes);
	{
		int saved = ln_error_code();
		char msg[512];
		snprintf(msg, sizeof msg, "%s", ln_error_msg());
		lsp_session_free(sl->info.session);
		ln_error_set(saved, "%s", msg);
	}
	sl->info.session = NULL;
}

/* The session recorder while a trace is attached: frames go to the trace
 * under the server's profile name (and to the debug recorder, if any). */
static void slot_record(void *ctx, char dir, const char *body, size_t len)
{
	struct server_slot *sl = ctx;
	struct lsp_workspace *ws = sl->ws;

	if (ws->record && (dir == '<' || dir == '>'))
		ws->record(ws->record_ctx, dir, body, len);
	if (ws->recording && ws->rec.frame)
		ws->rec.frame(ws->rec.ctx, sl->info.profile->name, dir, body, len);
}

/* The first use of a server in a traced request records its state and
 * from then on its frames. `warm`: the session was already running, and
 * lsp_workspace_server() pumps it next (a replay must do the same). */
static void trace_server(struct lsp_workspace *ws, struct server_slot *sl, bool warm)
{
	json_t *snap;

	if (!ws->recording || sl->traced || !sl->info.session)
		return;
	sl->traced = true;
	snap = lsp_session_snapshot(sl->info.session);
	json_object_set_new(snap, "warm", json_boolean(warm));
	json_object_set_new(snap, "restart", json_boolean(ws->restart));
	if (ws->rec.server)
		ws->rec.server(ws->rec.ctx, sl->info.profile->name, sl->info.version, snap);
	json_decref(snap);
	lsp_session_set_recorder(sl->info.session, slot_record, sl);
}

/* Replaying: the server's next recorded start stands in for a process. */
static int replay_start(struct lsp_workspace *ws, struct server_slot *sl)
{
	const json_t *snap = NULL;
	const char *version = NULL;
	struct lsp_replay src;
	const json_t *v = NULL;
	const char *msg = NULL;
	int error, rerr = 0;

	/* a start that failed in the recorded run fails the same way */
	if (ws->rep.probe(ws->rep.ctx, "serverStart", sl->info.profile->name, &v, &rerr, &msg) == 0 &&
	    rerr)
		return ln_error_set(rerr, "%s", msg ? msg : "");
	ln_error_clear();
	error = ws->rep.server(ws->rep.ctx, sl->info.profile->name, &snap, &version, &src);
	if (error)
		return error;
	error = lsp_session_replay_new(&sl->info.session, snap, &src);
	if (error)
		return error;
	if (!sl->info.version && version)
		sl->info.version = xstrdup(version);
	sl->started_ms = ln_now_ms();
	ws->generation++;
	/* recorded from a warm session: lsp_workspace_server() pumped it, and
	 * when that found it dead, the daemon (restart) started it again: the
	 * restart's own server event follows in the trace */
	if (json_is_true(json_object_get(snap, "warm"))) {
		error = lsp_session_pump(sl->info.session, 0);
		if (error) {
			bool restart = json_is_true(json_object_get(snap, "restart"));
			lsp_session_free(sl->info.session);
			sl->info.session = NULL;
			if (restart)
				return replay_start(ws, sl);
		}
		return error;
	}
	return 0;
}

static int slot_start(struct lsp_workspace *ws, struct server_slot *sl)
{
	const struct lsp_profile *profile = sl->info.profile;
	struct lsp_session_opts so = { 0 };
	char *exe = NULL, **wrapped = NULL;
	const char **argv = NULL;
	int error;

	sl->ws = ws;
	if (ws->replaying)
		return replay_start(ws, sl);
	error = lsp_profile_resolve(&exe, profile);
	if (error) {
		lsp_workspace_probe_put(ws, "serverStart", profile->name, NULL, error);
		return error;
	}
	argv = lsp_argv_with_exe(profile->argv, exe);
	if (ws->wrap) {
		error = ws->wrap(ws->wrap_ctx, argv, &wrapped);
		if (error) {
			free((void *)argv);
			free(exe);
			lsp_workspace_probe_put(ws, "serverStart", profile->name, NULL, error);
			return error;
		}
	}
	so.name = profile->name;
	so.argv = wrapped ? (const char *const *)wrapped : argv;
	so.no_process_id = wrapped != NULL;
	so.root = ws->root;
	so.init_options = profile->init_options;
	so.settings = profile->settings;
	so.pull_diagnostics = profile->pull_diagnostics;
	so.init_timeout_ms = ws->init_ms;
	so.stderr_fd = -1;
	so.record = ws->record;
	so.record_ctx = ws->record_ctx;
	if (ws->recording) {
		so.record = slot_record;
		so.record_ctx = sl;
	}
	error = lsp_session_start(&sl->info.session, &so);
	free((void *)argv);
	free(exe);
	if (wrapped) {
		size_t i;
		for (i = 0; wrapped[i]; i++)
			free(wrapped[i]);
		free(wrapped);
	}
	if (error) {
		lsp_workspace_probe_put(ws, "serverStart", profile->name, NULL, error);
		return error;
	}
	if (!sl->info.version)
		lsp_profile_version(&sl->info.version, profile);
	sl->started_ms = ln_now_ms();
	ws->generation++;
	sl->traced = false;
	trace_server(ws, sl, false);
	return 0;
}

int lsp_workspace_server(struct lsp_workspace *ws, struct lsp_server_info **out,
			 const struct lsp_profile *profile)
{
	struct server_slot *sl = NULL;
	size_t i;
	int error;

	*out = NULL;
	for (i = 0; i < ws->nservers; i++)
		if (ws->servers[i]->info.profile == profile)
			sl = ws->servers[i];
	if (sl && sl->info.session) {
		trace_server(ws, sl, true);
		/* A dead session reports its own sticky error and message. */
		error = lsp_session_pump(sl->info.session, 0);
		if (!error || !ws->restart) {
			*out = &sl->info;
			return error;
		}
		lsp_workspace_slot_down(ws, sl);
	}
	if (sl) {
		long long wait = sl->next_start_ms - ln_now_ms();
		if (!ws->restart)
			return ln_error_set(LN_ECRASH, "%s is down: %s", profile->name,
					    sl->last_error);
		if (wait > 0)
			return ln_error_set(LN_ECRASH, "%s crashed %d time%s in a row (%s); next "
					    "restart in %lld ms", profile->name, sl->crashes,
					    sl->crashes == 1 ? "" : "s", sl->last_error, wait);
		error = slot_start(ws, sl);
		if (error) {
			snprintf(sl->last_error, sizeof sl->last_error, "%s", ln_error_msg());
			sl->crashes++;
			sl->total_crashes++;
			sl->next_start_ms = ln_now_ms() + backoff_ms(sl->crashes + 1);
			return error;
		}
		sl->restarts++;
		*out = &sl->info;
		return 0;
	}
	sl = xcalloc(1, sizeof *sl);
	sl->info.profile = profile;
	sl->ws = ws;
	error = slot_start(ws, sl);
	if (error) {
		free(sl);
		return error;
	}
	ws->servers = xrealloc(ws->servers, (ws->nservers + 1) * sizeof *ws->servers);
	ws->servers[ws->nservers++] = sl;
	*out = &sl->info;
	return 0;
}

/* ---- readiness ---- */

/* Whether clangd will build a background index: only from a compilation
 * database (compile_commands.json at the root or in build/, the folders
 * profile.c points it at). compile_flags.txt gives flags but no list of
 * files, and clangd never indexes with it alone: waiting for an index
 * there would only end at the timeout. */
static bool has_cdb(const char *root)
{
	const char *cdb = lsp_cdb_find(root); /* the one lookup, lsp/profile.h */

	/* compile_flags.txt, the lookup's last resort, brings no index */
	return cdb && strcmp(cdb, "compile_flags.txt") != 0;
}

/* Whether the server's answers are complete now (see profile.h). */
static bool is_ready(struct lsp_session *s, const struct lsp_profile *p)
{
	switch (p->readiness) {
	case LSP_READY_INDEX:
		/* The index is done once its progress ended and nothing else
		 * (a re-index after a change) is running. */
		if (p->index_token && !(lsp_session_progress_ended(s, p->index_token) &&
					!lsp_session_progress_active(s, p->index_token)))
			return false;
		if (!p->index_token && lsp_session_progress_active(s, NULL))
			return false;
		return !p->ready_log || lsp_session_log_seen(s, p->ready_log);
	case LSP_READY_PROGRESS:
		return !lsp_session_progress_active(s, NULL);
	default:
		return true;
	}
}

/* has_cdb() of the root, recorded once per traced request (and read
 * from the trace when replaying). */
static bool cdb_probe(struct lsp_workspace *ws)
{
	json_t *v = NULL;
	bool found;

	if (ws->replaying) {
		found = lsp_workspace_probe_get(ws, "hasCdb", "", &v) == 0 && json_is_true(v);
		json_decref(v);
		return found;
	}
	found = has_cdb(ws->root);
	if (ws->recording && !ws->cdb_recorded) {
		ws->cdb_recorded = true;
		lsp_workspace_probe_put(ws, "hasCdb", "", found ? json_true() : json_false(), 0);
	}
	return found;
}

/* 1 ready, 0 not yet, -1 never (no index will come: no compilation database). */
int lsp_workspace_ready_state(struct lsp_workspace *ws, struct lsp_server_info *srv,
			      bool need_index)
{
	const struct lsp_profile *p = srv->profile;

	if (p->readiness == LSP_READY_INDEX) {
		if (!need_index)
			return 1;
		if (p->index_needs_cdb && !cdb_probe(ws))
			return -1;
	}
	return is_ready(srv->session, p) ? 1 : 0;
}

void lsp_workspace_set_wait_hook(struct lsp_workspace *ws, lsp_wait_fn fn, void *ctx)
{
	ws->wait_fn = fn;
	ws->wait_ctx = fn ? ctx : NULL;
}

/* Tells the wait observer what is being waited for now. */
static void wait_note(struct lsp_workspace *ws, struct lsp_server_info *srv)
{
	const struct lsp_profile *p = srv->profile;
	int pct = -1;
	const char *what = lsp_session_progress_now(srv->session, p->index_token, &pct);

	if (!what && !p->index_token)
		what = lsp_session_progress_now(srv->session, NULL, &pct);
	if (!what)
		what = p->readiness == LSP_READY_INDEX && p->index_token ? "its index" :
		       p->ready_log ? "workspace discovery" : "its work in progress";
	ws->wait_fn(ws->wait_ctx, p->name, what, pct);
}

int lsp_workspace_wait_ready(struct lsp_workspace *ws, struct lsp_server_info *srv,
			     bool need_index, int timeout_ms)
{
	long long deadline = ln_now_ms() + timeout_ms;
	int error, r;
	bool noted = false;

	/* Handle what has already arrived before deciding. */
	error = lsp_session_pump(srv->session, 0);
	for (;;) {
		long long left;
		if (error)
			break;
		r = lsp_workspace_ready_state(ws, srv, need_index);
		if (r != 0) {
			r = r > 0 ? 1 : 0; /* never: partial at once */
			break;
		}
		left = deadline - ln_now_ms();
		if (lsp_session_deadline(srv->session, left <= 0)) {
			r = 0;
			break;
		}
		if (ws->wait_fn && !ws->replaying) {
			wait_note(ws, srv);
			noted = true;
		}
		/* returns after the next message (or the deadline) */
		error = lsp_session_pump(srv->session, left > 0 ? (int)left : 0);
	}
	if (noted)
		ws->wait_fn(ws->wait_ctx, srv->profile->name, NULL, -1);
	return error ? error : r;
}

int lsp_workspace_wait_all_ready(struct lsp_workspace *ws, int timeout_ms)
{
	long long deadline = ln_now_ms() + timeout_ms;
	size_t i;
	int all = 1;

	for (i = 0; i < ws->nservers; i++) {
		struct server_slot *sl = ws->servers[i];
		long long left = deadline - ln_now_ms();
		int r;
		if (!sl->info.session)
			continue;
		/* a server whose index will never come (no compilation
		 * database) is as ready as it will get */
		if (lsp_workspace_ready_state(ws, &sl->info, true) < 0)
			continue;
		r = lsp_workspace_wait_ready(ws, &sl->info, true, left > 0 ? (int)left : 0);
		if (r <= 0)
			all = 0;
	}
	return all;
}

/* ---- the files of the workspace ---- */

static bool served(const char *rel, void *ctx)
{
	return lsp_profiles_for_path(ctx, rel, NULL) != NULL;
}

/* The listing itself: the snapshot (already sorted) when the workspace
 * tracks files, else a walk with the same rules. */
static int list_source_files(struct lsp_workspace *ws, json_t **out)
{
	json_t *arr;
	size_t i, n;

	if (!ws->track_files || !ws->snap.scanned)
		return ln_tree_files(out, ws->root, served, &ws->profiles, ln_ignore_skip, ws->ignore,
				     LSP_MAX_WORKSPACE_FILES);
	*out = NULL;
	arr = json_array();
	n = ln_snapshot_count(&ws->snap);
	for (i = 0; i < n; i++) {
		const char *p = ln_snapshot_path(&ws->snap, i);
		if (!served(p, &ws->profiles))
			continue;
		if (json_array_size(arr) >= LSP_MAX_WORKSPACE_FILES) {
			json_decref(arr);
			return ln_error_set(LN_EINPUT, "the workspace has more than %d source files; "
					    "name the files", LSP_MAX_WORKSPACE_FILES);
		}
		json_array_append_new(arr, json_string(p));
	}
	*out = arr;
	return 0;
}

int lsp_workspace_source_files(struct lsp_workspace *ws, json_t **out)
{
	int error;

	/* a disk probe: recorded in traces, answered from them in replay */
	*out = NULL;
	if (ws->replaying) {
		error = lsp_workspace_probe_get(ws, "sourceFiles", "", out);
		if (!error && !json_is_array(*out)) {
			json_decref(*out);
			*out = NULL;
			error = ln_error_set(LN_ETRACE, "trace: the sourceFiles probe is not an array");
		}
		return error;
	}
	error = list_source_files(ws, out);
	lsp_workspace_probe_put(ws, "sourceFiles", "", error ? NULL : *out, error);
	return error;
}

/* ---- traces ---- */

void lsp_workspace_set_recorder(struct lsp_workspace *ws, const struct lsp_recorder *r)
{
	size_t i;

	for (i = 0; i < ws->nservers; i++) {
		struct server_slot *sl = ws->servers[i];
		sl->ws = ws;
		sl->traced = false;
		if (!r && sl->info.session)
			lsp_session_set_recorder(sl->info.session, ws->record, ws->record_ctx);
	}
	ws->cdb_recorded = false;
	if (r) {
		ws->rec = *r;
		ws->recording = true;
	} else {
		memset(&ws->rec, 0, sizeof ws->rec);
		ws->recording = false;
	}
}

bool lsp_workspace_replaying(const struct lsp_workspace *ws)
{
	return ws->replaying;
}

void lsp_workspace_probe_put(struct lsp_workspace *ws, const char *name, const char *key,
			     const json_t *value, int error)
{
	if (ws->recording && ws->rec.probe)
		ws->rec.probe(ws->rec.ctx, name, key, error ? NULL : value, error,
			      error ? ln_error_msg() : NULL);
}

int lsp_workspace_probe_get(struct lsp_workspace *ws, const char *name, const char *key,
			    json_t **out)
{
	const json_t *v = NULL;
	const char *msg = NULL;
	int rerr = 0, error;

	*out = NULL;
	if (!ws->replaying)
		return ln_error_set(LN_EGENERIC, "probe_get outside a replay");
	error = ws->rep.probe(ws->rep.ctx, name, key, &v, &rerr, &msg);
	if (error)
		return error;
	if (rerr)
		return ln_error_set(rerr, "%s", msg ? msg : "");
	*out = v ? json_incref((json_t *)v) : json_null();
	return 0;
}

int lsp_workspace_resolve_path(struct lsp_workspace *ws, char **out_rel, const char *cwd,
			       const char *user_path)
{
	struct buf key = BUF_INIT;
	json_t *v = NULL;
	int error;

	*out_rel = NULL;
	buf_addf(&key, "%s\n%s", cwd ? cwd : "", user_path ? user_path : "");
	if (ws->replaying) {
		error = lsp_workspace_probe_get(ws, "path", key.data, &v);
		if (!error && !json_is_string(v))
			error = ln_error_set(LN_ETRACE, "trace: a path probe is not a string");
		if (!error)
			*out_rel = xstrdup(json_string_value(v));
		json_decref(v);
		buf_release(&key);
		return error;
	}
	error = ln_path_resolve_in_root(out_rel, NULL, ws->root, cwd, user_path);
	if (ws->recording) {
		/* a name that is not UTF-8 goes to the recorder as its bytes
		 * (unchecked), which it writes losslessly (docs/trace.md) */
		v = error ? NULL : json_string(*out_rel);
		if (!error && !v)
			v = json_stringn_nocheck(*out_rel, strlen(*out_rel));
		lsp_workspace_probe_put(ws, "path", key.data, v, error);
		json_decref(v);
	}
	buf_release(&key);
	return error;
}

void lsp_server_note(json_t *servers, const struct lsp_server_info *srv)
{
	json_t *s;
	size_t i;

	json_array_foreach(servers, i, s)
		if (!strcmp(json_string_value(json_object_get(s, "profile")) ?: "", srv->profile->name))
			return;
	/* the version is the server's own word: it may be missing or not UTF-8 */
	json_array_append_new(servers, xjson_pack("{s:s, s:o, s:s}",
		"profile", srv->profile->name,
		"version", xjson_string_lossy(srv->version ? srv->version : "unknown"),
		"positionEncoding", ln_enc_lsp_name(lsp_session_encoding(srv->session))));
}
