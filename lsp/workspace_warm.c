/*
 * workspace_warm.c - a warm workspace (the daemon's): files changed on
 * disk synced into their servers, servers pumped, reaped and restarted,
 * the status report (workspace.h).
 */
#include "lsp/workspace.h"
#include "lsp/workspace_impl.h"
#include "core/err.h"
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
	if (lsp_workspace_sync_text(s, &after, uri, lang, t) || after == before)
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
	bool affected = false, pulls;
	size_t i, n, synced = 0;
	long long deadline;

	for (i = 0; i < nch; i++) {
		const struct lsp_profile *served = lsp_profiles_for_path(&ws->profiles, ch[i].path,
									 NULL);
		char *uri = lsp_workspace_uri(ws, ch[i].path);
		if (served == p || !served)
			affected = true;
		json_array_append_new(events, xjson_pack("{s:s, s:i}", "uri", uri, "type",
							(int)ch[i].type));
		free(uri);
	}
	if (json_array_size(events))
		lsp_session_notify(s, "workspace/didChangeWatchedFiles",
				   xjson_pack("{s:O}", "changes", events));
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
	 * open file at the same moment): answer only then. tsserver's
	 * diagnostics are asked for and computed when asked: no wait. A
	 * server of LSP pull diagnostics (pyright) publishes nothing to wait
	 * for: one pull, which it answers only once it has taken in the
	 * changes (a moved package, a removed configuration), stands for
	 * the wait. */
	pulls = lsp_session_pulls_diagnostics(s);
	deadline = ln_now_ms() + REFRESH_WAIT_MS;
	for (i = 0; i < npend; i++) {
		json_t *d = NULL;
		long long left = deadline - ln_now_ms();
		if (left > 0 && (!pulls || (p->pull_diagnostics && i == 0)))
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
		if (lsp_workspace_text_stale(ws, ws->texts[i]))
			lsp_workspace_text_remove(ws, i);
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
	if (ws->ntexts > MAX_CACHED_TEXTS || ws->text_bytes > MAX_CACHED_TEXT_BYTES) {
		for (i = 0; i < ws->ntexts;) {
			if (!ws->texts[i]->overlay && !open_anywhere(ws, ws->texts[i]->path))
				lsp_workspace_text_remove(ws, i);
			else
				i++;
		}
	}
	return 0;
}

bool lsp_workspace_tracked(const struct lsp_workspace *ws, const char *relpath)
{
	return ws->track_files && !ws->replaying && ln_snapshot_file_hash(&ws->snap, relpath);
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

/* The first file of the snapshot (in its order) that profile `p` serves,
 * or NULL. */
static const char *first_served(const struct lsp_workspace *ws, const struct lsp_profile *p)
{
	size_t i, n = ln_snapshot_count(&ws->snap);

	for (i = 0; i < n; i++)
		if (lsp_profiles_for_path(&ws->profiles, ln_snapshot_path(&ws->snap, i), NULL) == p)
			return ln_snapshot_path(&ws->snap, i);
	return NULL;
}

void lsp_workspace_warm(struct lsp_workspace *ws)
{
	json_t *files = NULL, *f;
	size_t i, j;

	/* One file per profile starts its server. The snapshot lists every
	 * file: a tree with more source files than a workspace-wide answer
	 * takes (LSP_MAX_WORKSPACE_FILES) gets its servers too, where the
	 * capped list failed and left the daemon with none, "ready". */
	if (ws->track_files && ws->snap.scanned) {
		for (i = 0; i < ws->profiles.n; i++) {
			const struct lsp_profile *p = &ws->profiles.v[i];
			struct lsp_server_info *srv;
			const char *rel;
			int version;
			if (p->enabled && (rel = first_served(ws, p)) != NULL &&
			    lsp_workspace_open(ws, &srv, &version, rel))
				ln_error_clear();
		}
		return;
	}
	if (lsp_workspace_source_files(ws, &files)) {
		ln_error_clear();
		return;
	}
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
			lsp_workspace_slot_down(ws, sl);
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
		json_t *o = xjson_pack("{s:s, s:s, s:s*, s:i, s:I, s:s*}",
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
			r = lsp_workspace_ready_state(ws, &sl->info, true);
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