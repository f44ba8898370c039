#include "lsp/workspace.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/path.h"
#include "core/proc.h"
#include "core/snapshot.h"
#include "core/xalloc.h"
#include "core/limits.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Documents kept in the cache beyond the open ones (daemon). */
#define MAX_CACHED_TEXTS 512
/* Changed files synced into their server per refresh; beyond that the
 * server only gets the watched-files notification. */
#define MAX_SYNC_PER_REFRESH 64
/* A server that ran this long without crashing starts its backoff afresh. */
#define CRASH_FORGET_MS 60000
#define MAX_BACKOFF_MS 30000
/* How long a refresh waits for the servers to catch up with changed files. */
#define REFRESH_WAIT_MS 10000

struct cached_text {
	char *path;
	struct ln_text text;
	char digest[LN_SHA256_HEX_SIZE];
	bool overlay;
	/* stat signature when read from disk */
	dev_t dev;
	ino_t ino;
	off_t size;
	long long mtime_ns, ctime_ns;
	bool racy;
};

/* A profile's server slot: `info.session` is NULL while it is down. */
struct server_slot {
	struct lsp_server_info info;   /* first: callers hold &slot->info */
	int crashes;                   /* consecutive, for the backoff */
	unsigned long total_crashes;
	int restarts;
	long long started_ms, next_start_ms;
	char last_error[256];
	struct lsp_workspace *ws;      /* back pointer for the trace recorder */
	bool traced;                   /* its state was recorded in this request */
};

struct lsp_workspace {
	char *root;
	struct lsp_profiles profiles;
	struct server_slot **servers;
	size_t nservers;
	struct cached_text **texts;
	size_t ntexts;
	int init_ms, request_ms;
	lsp_record_fn record;
	void *record_ctx;
	bool restart, track_files;
	struct ln_snapshot snap;
	unsigned long generation, crashes;
	struct lsp_recorder rec;       /* valid while `recording` */
	bool recording, cdb_recorded;
	struct lsp_replayer rep;       /* valid while `replaying` */
	bool replaying;
	int (*wrap)(void *ctx, const char *const *argv, char ***out);  /* opts.wrap */
	void *wrap_ctx;
};

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

static void text_free(struct cached_text *ct)
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
		text_free(ws->texts[i]);
	free(ws->texts);
	lsp_profiles_release(&ws->profiles);
	ln_snapshot_release(&ws->snap);
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
static void slot_down(struct lsp_workspace *ws, struct server_slot *sl)
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
		slot_down(ws, sl);
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

/* ---- documents ---- */

static struct cached_text *find_text(struct lsp_workspace *ws, const char *path, size_t *idx)
{
	size_t i;
	for (i = 0; i < ws->ntexts; i++)
		if (!strcmp(ws->texts[i]->path, path)) {
			if (idx)
				*idx = i;
			return ws->texts[i];
		}
	return NULL;
}

static void text_remove(struct lsp_workspace *ws, size_t i)
{
	text_free(ws->texts[i]);
	memmove(&ws->texts[i], &ws->texts[i + 1], (ws->ntexts - i - 1) * sizeof *ws->texts);
	ws->ntexts--;
}

static void abs_path(struct buf *b, const struct lsp_workspace *ws, const char *path)
{
	if (path[0] == '/')
		buf_adds(b, path);
	else
		buf_addf(b, "%s/%s", ws->root, path);
}

static long long ns_of(const struct timespec *t)
{
	return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

/* Whether the file behind a cached text may differ from it now. */
static bool text_stale(const struct lsp_workspace *ws, const struct cached_text *ct)
{
	struct buf abs = BUF_INIT;
	struct stat st;
	int r;

	if (ct->overlay)
		return false;
	abs_path(&abs, ws, ct->path);
	r = stat(abs.data, &st);
	buf_release(&abs);
	return r < 0 || ct->racy || st.st_dev != ct->dev || st.st_ino != ct->ino ||
	       st.st_size != ct->size || ns_of(&st.st_mtim) != ct->mtime_ns ||
	       ns_of(&st.st_ctim) != ct->ctime_ns;
}

static void cache_add(struct lsp_workspace *ws, struct cached_text *ct)
{
	ws->texts = xrealloc(ws->texts, (ws->ntexts + 1) * sizeof *ws->texts);
	ws->texts[ws->ntexts++] = ct;
}

static void record_text(struct lsp_workspace *ws, const struct cached_text *ct)
{
	if (ws->recording && ws->rec.document)
		ws->rec.document(ws->rec.ctx, ct->path, ct->text.data, ct->text.len, ct->digest, 0,
				 NULL);
}

int lsp_workspace_text(struct lsp_workspace *ws, const struct ln_text **out, const char *path)
{
	struct cached_text *ct = find_text(ws, path, NULL);
	struct buf abs = BUF_INIT, data = BUF_INIT;
	struct ln_text t;
	struct stat st;
	struct timespec now;
	int error;

	*out = NULL;
	if (ct) {
		record_text(ws, ct);
		*out = &ct->text;
		return 0;
	}
	if (ws->replaying) {
		const char *d = NULL, *msg = NULL;
		size_t n = 0;
		int rerr = 0;
		error = ws->rep.document(ws->rep.ctx, path, &d, &n, &rerr, &msg);
		if (!error && rerr)
			error = ln_error_set(rerr, "%s", msg ? msg : "");
		if (error)
			goto done;
		memset(&st, 0, sizeof st);
		buf_add(&data, d, n);
	} else {
		abs_path(&abs, ws, path);
		/* stat before reading: a write in between makes the signature
		 * stale, never the other way round */
		if (stat(abs.data, &st) < 0)
			memset(&st, 0, sizeof st);
		error = buf_read_file(&data, abs.data, LN_FILE_MAX_BYTES);
	}
	if (error) {
		if (ws->recording && ws->rec.document)
			ws->rec.document(ws->rec.ctx, path, NULL, 0, NULL, error, ln_error_msg());
		goto done;
	}
	error = ln_text_init(&t, data.data, data.len);
	if (error) {
		error = ln_error_set(error, "%s: %s", path, ln_error_msg());
		if (ws->recording && ws->rec.document)
			ws->rec.document(ws->rec.ctx, path, data.data, data.len, NULL, error,
					 ln_error_msg());
		goto done;
	}
	ct = xcalloc(1, sizeof *ct);
	ct->path = xstrdup(path);
	ct->text = t;
	ln_sha256_hex(data.data, data.len, ct->digest);
	ct->dev = st.st_dev;
	ct->ino = st.st_ino;
	ct->size = st.st_size;
	ct->mtime_ns = ns_of(&st.st_mtim);
	ct->ctime_ns = ns_of(&st.st_ctim);
	clock_gettime(CLOCK_REALTIME, &now);
	ct->racy = ct->mtime_ns > ns_of(&now) - 2000000000LL ||
		   ct->ctime_ns > ns_of(&now) - 2000000000LL;
	cache_add(ws, ct);
	record_text(ws, ct);
	*out = &ct->text;
done:
	buf_release(&abs);
	buf_release(&data);
	return error;
}

const char *lsp_workspace_text_digest(struct lsp_workspace *ws, const char *path)
{
	struct cached_text *ct = find_text(ws, path, NULL);
	return ct ? ct->digest : NULL;
}

int lsp_workspace_set_overlay(struct lsp_workspace *ws, const char *path, const char *data,
			      size_t len)
{
	struct cached_text *ct;
	struct ln_text t;
	size_t i;
	int error;

	if (len > LN_FILE_MAX_BYTES)
		return ln_error_set(LN_EINPUT, "%s: overlay larger than %zu bytes", path,
				    LN_FILE_MAX_BYTES);
	error = ln_text_init(&t, data, len);
	if (error)
		return ln_error_set(error, "%s: %s", path, ln_error_msg());
	if (find_text(ws, path, &i))
		text_remove(ws, i);
	ct = xcalloc(1, sizeof *ct);
	ct->path = xstrdup(path);
	ct->text = t;
	ct->overlay = true;
	ln_sha256_hex(data, len, ct->digest);
	cache_add(ws, ct);
	return 0;
}

void lsp_workspace_drop_overlays(struct lsp_workspace *ws)
{
	size_t i = 0;

	while (i < ws->ntexts)
		if (ws->texts[i]->overlay)
			text_remove(ws, i);
		else
			i++;
}

bool lsp_workspace_has_overlays(const struct lsp_workspace *ws)
{
	size_t i;
	for (i = 0; i < ws->ntexts; i++)
		if (ws->texts[i]->overlay)
			return true;
	return false;
}

int lsp_workspace_open(struct lsp_workspace *ws, struct lsp_server_info **srv_out,
		       int *version_out, const char *relpath)
{
	const struct lsp_profile *p;
	const char *lang = NULL;
	const struct ln_text *t;
	char *uri = NULL;
	int error;

	*srv_out = NULL;
	p = lsp_profiles_for_path(&ws->profiles, relpath, &lang);
	if (!p)
		return ln_error_set(LN_ENOSERVER, "%s: no language server is configured for this "
				    "kind of file", relpath);
	error = lsp_workspace_text(ws, &t, relpath);
	if (error)
		return error;
	error = lsp_workspace_server(ws, srv_out, p);
	if (error)
		return error;
	uri = lsp_workspace_uri(ws, relpath);
	error = lsp_session_sync_doc((*srv_out)->session, version_out, uri, lang, t->data, t->len);
	free(uri);
	return error;
}

/* ---- readiness ---- */

static bool has_cdb(const char *root)
{
	static const char *const names[] = { "compile_commands.json", "compile_flags.txt",
					     "build/compile_commands.json" };
	struct buf b = BUF_INIT;
	bool found = false;
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0] && !found; i++) {
		buf_reset(&b);
		buf_addf(&b, "%s/%s", root, names[i]);
		found = access(b.data, F_OK) == 0;
	}
	buf_release(&b);
	return found;
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
static int ready_state(struct lsp_workspace *ws, struct lsp_server_info *srv, bool need_index)
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

int lsp_workspace_wait_ready(struct lsp_workspace *ws, struct lsp_server_info *srv,
			     bool need_index, int timeout_ms)
{
	long long deadline = ln_now_ms() + timeout_ms;
	int error, r;

	/* Handle what has already arrived before deciding. */
	error = lsp_session_pump(srv->session, 0);
	for (;;) {
		long long left;
		if (error)
			return error;
		r = ready_state(ws, srv, need_index);
		if (r != 0)
			return r > 0 ? 1 : 0; /* never: partial at once */
		left = deadline - ln_now_ms();
		if (lsp_session_deadline(srv->session, left <= 0))
			return 0;
		/* returns after the next message (or the deadline) */
		error = lsp_session_pump(srv->session, left > 0 ? (int)left : 0);
	}
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
		return ln_tree_files(out, ws->root, served, &ws->profiles, LSP_MAX_WORKSPACE_FILES);
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

/* ---- warm workspaces ---- */

/* The workspace-relative path of a file: URI (malloc'd), or NULL when it
 * lies outside the workspace or is not a file: URI. */
static char *rel_of_uri(const struct lsp_workspace *ws, const char *uri)
{
	char *abs = NULL, *rel = NULL;

	if (ln_uri_to_path(&abs, uri))
		return NULL;
	if (ln_path_relativize(&rel, ws->root, abs) != 1) {
		free(rel);
		rel = NULL;
	}
	free(abs);
	return rel;
}

static bool is_open(struct lsp_session *s, const char *uri)
{
	return lsp_session_doc_version(s, uri) != 0;
}

struct pending_doc {
	char *uri;
	int version;
};

/* Syncs one document (reopening it when `reopen`) and, when the server's
 * view changed, remembers the version to wait for. */
static void sync_tracked(struct lsp_session *s, struct pending_doc **pend, size_t *npend,
			 const char *uri, const char *lang, const struct ln_text *t, bool reopen)
{
	int before = lsp_session_doc_version(s, uri), after = 0;

	if (reopen && before)
		lsp_session_close_doc(s, uri);
	if (lsp_session_sync_doc(s, &after, uri, lang, t->data, t->len) || after == before)
		return;
	*pend = xrealloc(*pend, (*npend + 1) * sizeof **pend);
	(*pend)[*npend].uri = xstrdup(uri);
	(*pend)[*npend].version = after;
	(*npend)++;
}

static void refresh_server(struct lsp_workspace *ws, struct server_slot *sl,
			   const struct ln_file_change *ch, size_t nch)
{
	struct lsp_session *s = sl->info.session;
	const struct lsp_profile *p = sl->info.profile;
	json_t *events = json_array();
	struct pending_doc *pend = NULL;
	size_t npend = 0;
	bool affected = false;
	size_t i, n, synced = 0;
	long long deadline;

	for (i = 0; i < nch; i++) {
		const struct lsp_profile *served = lsp_profiles_for_path(&ws->profiles, ch[i].path,
									 NULL);
		char *uri = lsp_workspace_uri(ws, ch[i].path);
		if (served == p || !served)
			affected = true;
		json_array_append_new(events, json_pack("{s:s, s:i}", "uri", uri, "type",
							(int)ch[i].type));
		free(uri);
	}
	if (json_array_size(events))
		lsp_session_notify(s, "workspace/didChangeWatchedFiles",
				   json_pack("{s:O}", "changes", events));
	json_decref(events);

	/* Every open document back to its disk text (this also undoes
	 * overlays of an earlier request). When something this server
	 * reads changed, every open document is reopened: servers skip the
	 * rebuild of a document whose own text did not change (clangd
	 * does), and its diagnostics would stay those of the old headers. */
	n = lsp_session_open_count(s);
	for (i = 0; i < n; i++) {
		const char *u = lsp_session_open_uri(s, i);
		const struct ln_text *t;
		const char *lang = NULL;
		char *uri, *rel;
		if (!u)
			continue;
		uri = xstrdup(u);
		rel = rel_of_uri(ws, uri);
		if (rel && lsp_profiles_for_path(&ws->profiles, rel, &lang) == p &&
		    lsp_workspace_text(ws, &t, rel) == 0)
			sync_tracked(s, &pend, &npend, uri, lang, t, affected);
		else
			lsp_session_close_doc(s, uri);
		free(rel);
		free(uri);
	}

	/* Changed files this server serves: into its view, so that answers
	 * about them (and its in-memory index) follow the disk. */
	for (i = 0; i < nch && synced < MAX_SYNC_PER_REFRESH; i++) {
		const char *lang = NULL;
		const struct ln_text *t;
		char *uri;
		if (ch[i].type == LN_FILE_DELETED ||
		    lsp_profiles_for_path(&ws->profiles, ch[i].path, &lang) != p)
			continue;
		uri = lsp_workspace_uri(ws, ch[i].path);
		if (!lsp_session_doc_version(s, uri) && lsp_workspace_text(ws, &t, ch[i].path) == 0) {
			sync_tracked(s, &pend, &npend, uri, lang, t, false);
			synced++;
		}
		free(uri);
	}

	/* The server has caught up with a document once it published its
	 * diagnostics for the new version (clangd updates its index of an
	 * open file at the same moment): answer only then. */
	deadline = ln_now_ms() + REFRESH_WAIT_MS;
	for (i = 0; i < npend; i++) {
		json_t *d = NULL;
		long long left = deadline - ln_now_ms();
		if (left > 0)
			lsp_session_wait_diagnostics(s, &d, pend[i].uri, pend[i].version, (int)left);
		json_decref(d);
		free(pend[i].uri);
	}
	free(pend);
}

static bool open_anywhere(struct lsp_workspace *ws, const char *path)
{
	char *uri = lsp_workspace_uri(ws, path);
	bool found = false;
	size_t i;

	for (i = 0; i < ws->nservers && !found; i++)
		if (ws->servers[i]->info.session)
			found = is_open(ws->servers[i]->info.session, uri);
	free(uri);
	return found;
}

int lsp_workspace_refresh(struct lsp_workspace *ws)
{
	struct ln_file_change *ch = NULL;
	size_t nch = 0, i;
	int error = 0;

	for (i = 0; i < ws->ntexts;) {
		if (text_stale(ws, ws->texts[i]))
			text_remove(ws, i);
		else
			i++;
	}
	if (ws->track_files) {
		error = ln_snapshot_scan(&ws->snap, &ch, &nch);
		if (error)
			return error;
	}
	for (i = 0; i < ws->nservers; i++)
		if (ws->servers[i]->info.session && !lsp_session_error(ws->servers[i]->info.session))
			refresh_server(ws, ws->servers[i], ch, nch);
	ln_file_changes_free(ch, nch);
	if (ws->ntexts > MAX_CACHED_TEXTS) {
		for (i = 0; i < ws->ntexts;) {
			if (!ws->texts[i]->overlay && !open_anywhere(ws, ws->texts[i]->path))
				text_remove(ws, i);
			else
				i++;
		}
	}
	return 0;
}

const char *lsp_workspace_content_digest(const struct lsp_workspace *ws)
{
	return ws->track_files ? ln_snapshot_digest(&ws->snap) : NULL;
}

unsigned long lsp_workspace_generation(const struct lsp_workspace *ws)
{
	return ws->generation;
}

unsigned long lsp_workspace_crashes(const struct lsp_workspace *ws)
{
	return ws->crashes;
}

void lsp_workspace_warm(struct lsp_workspace *ws)
{
	json_t *files = NULL, *f;
	size_t i, j;

	if (lsp_workspace_source_files(ws, &files))
		return;
	for (i = 0; i < ws->profiles.n; i++) {
		const struct lsp_profile *p = &ws->profiles.v[i];
		struct lsp_server_info *srv;
		int version;
		if (!p->enabled)
			continue;
		json_array_foreach(files, j, f)
			if (lsp_profiles_for_path(&ws->profiles, json_string_value(f), NULL) == p) {
				lsp_workspace_open(ws, &srv, &version, json_string_value(f));
				break;
			}
	}
	json_decref(files);
}

size_t lsp_workspace_poll_fds(const struct lsp_workspace *ws, int *fds, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < ws->nservers; i++) {
		int o, e;
		if (!ws->servers[i]->info.session)
			continue;
		lsp_session_poll_fds(ws->servers[i]->info.session, &o, &e);
		if (o >= 0 && n < max)
			fds[n++] = o;
		if (e >= 0 && n < max)
			fds[n++] = e;
	}
	return n;
}

void lsp_workspace_pump(struct lsp_workspace *ws)
{
	size_t i;
	for (i = 0; i < ws->nservers; i++)
		if (ws->servers[i]->info.session)
			lsp_session_pump(ws->servers[i]->info.session, 0);
}

int lsp_workspace_reap(struct lsp_workspace *ws)
{
	size_t i;
	int n = 0;

	for (i = 0; i < ws->nservers; i++) {
		struct server_slot *sl = ws->servers[i];
		if (sl->info.session && lsp_session_error(sl->info.session)) {
			/* sets the last error to the session's sticky message */
			lsp_session_pump(sl->info.session, 0);
			slot_down(ws, sl);
			n++;
		}
	}
	return n;
}

json_t *lsp_workspace_status(struct lsp_workspace *ws)
{
	json_t *arr = json_array();
	size_t i, j;

	for (i = 0; i < ws->nservers; i++) {
		struct server_slot *sl = ws->servers[i];
		struct lsp_session *s = sl->info.session;
		json_t *o = json_pack("{s:s, s:s, s:s*, s:i, s:I, s:s*}",
				      "profile", sl->info.profile->name,
				      "state", s ? "running" : "crashed",
				      "version", sl->info.version,
				      "restarts", sl->restarts,
				      "crashes", (json_int_t)sl->total_crashes,
				      "lastError", sl->last_error[0] ? sl->last_error : NULL);
		if (s) {
			size_t open = 0, n = lsp_session_open_count(s);
			int r;
			for (j = 0; j < n; j++)
				open += lsp_session_open_uri(s, j) != NULL;
			lsp_session_pump(s, 0);
			r = ready_state(ws, &sl->info, true);
			json_object_set_new(o, "pid", json_integer(lsp_session_pid(s)));
			json_object_set_new(o, "positionEncoding",
					    json_string(ln_enc_lsp_name(lsp_session_encoding(s))));
			json_object_set_new(o, "ready", json_boolean(r != 0));
			json_object_set_new(o, "readiness", json_string(
				r > 0 ? "ready" : r < 0 ? "no-index" : "indexing"));
			json_object_set_new(o, "requestsSent",
					    json_integer(lsp_session_requests_sent(s)));
			json_object_set_new(o, "openDocuments", json_integer((json_int_t)open));
			json_object_set_new(o, "rssKiB",
					    json_integer(ln_proc_rss_kib(lsp_session_pid(s))));
			json_object_set_new(o, "uptimeMs",
					    json_integer(ln_now_ms() - sl->started_ms));
		}
		json_array_append_new(arr, o);
	}
	return arr;
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
		v = error ? NULL : json_string(*out_rel);
		lsp_workspace_probe_put(ws, "path", key.data, v, error);
		json_decref(v);
	}
	buf_release(&key);
	return error;
}
