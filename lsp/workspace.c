#include "workspace.h"
#include "buf.h"
#include "err.h"
#include "hash.h"
#include "path.h"
#include "proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cached_text {
	char *path;
	struct ln_text text;
	char digest[LN_SHA256_HEX_SIZE];
};

struct lsp_workspace {
	char *root;
	struct lsp_profiles profiles;
	struct lsp_server_info *servers;
	size_t nservers;
	struct cached_text *texts;
	size_t ntexts;
	int init_ms, request_ms;
	lsp_record_fn record;
	void *record_ctx;
};

int lsp_workspace_new(struct lsp_workspace **out, const struct lsp_workspace_opts *o)
{
	struct lsp_workspace *ws = calloc(1, sizeof *ws);
	int error;

	*out = NULL;
	if (!ws)
		abort();
	ws->root = strdup(o->root);
	ws->init_ms = o->init_ms;
	ws->request_ms = o->request_ms;
	ws->record = o->record;
	ws->record_ctx = o->record_ctx;
	error = lsp_profiles_load(&ws->profiles, o->servers, o->root);
	if (error) {
		lsp_workspace_free(ws);
		return error;
	}
	*out = ws;
	return 0;
}

void lsp_workspace_free(struct lsp_workspace *ws)
{
	size_t i;

	if (!ws)
		return;
	for (i = 0; i < ws->nservers; i++) {
		lsp_session_free(ws->servers[i].session);
		free(ws->servers[i].version);
	}
	free(ws->servers);
	for (i = 0; i < ws->ntexts; i++) {
		free(ws->texts[i].path);
		ln_text_release(&ws->texts[i].text);
	}
	free(ws->texts);
	lsp_profiles_release(&ws->profiles);
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

int lsp_workspace_server(struct lsp_workspace *ws, struct lsp_server_info **out,
			 const struct lsp_profile *profile)
{
	struct lsp_session_opts so = { 0 };
	struct lsp_server_info *si;
	char *exe = NULL;
	const char **argv = NULL;
	size_t i;
	int error;

	*out = NULL;
	for (i = 0; i < ws->nservers; i++) {
		if (ws->servers[i].profile == profile) {
			*out = &ws->servers[i];
			/* A dead session reports its own sticky error and message. */
			return lsp_session_pump(ws->servers[i].session, 0);
		}
	}
	error = lsp_profile_resolve(&exe, profile);
	if (error)
		return error;
	argv = lsp_argv_with_exe(profile->argv, exe);

	ws->servers = realloc(ws->servers, (ws->nservers + 1) * sizeof *ws->servers);
	if (!ws->servers)
		abort();
	si = &ws->servers[ws->nservers];
	memset(si, 0, sizeof *si);
	si->profile = profile;

	so.name = profile->name;
	so.argv = argv;
	so.root = ws->root;
	so.init_options = profile->init_options;
	so.settings = profile->settings;
	so.init_timeout_ms = ws->init_ms;
	so.stderr_fd = -1;
	so.record = ws->record;
	so.record_ctx = ws->record_ctx;
	error = lsp_session_start(&si->session, &so);
	if (error)
		goto done;
	lsp_profile_version(&si->version, profile);
	ws->nservers++;
	*out = si;
done:
	free((void *)argv);
	free(exe);
	return error;
}

static struct cached_text *find_text(struct lsp_workspace *ws, const char *path)
{
	size_t i;
	for (i = 0; i < ws->ntexts; i++)
		if (!strcmp(ws->texts[i].path, path))
			return &ws->texts[i];
	return NULL;
}

int lsp_workspace_text(struct lsp_workspace *ws, const struct ln_text **out, const char *path)
{
	struct cached_text *ct = find_text(ws, path);
	struct buf abs = BUF_INIT, data = BUF_INIT;
	struct ln_text t;
	int error;

	*out = NULL;
	if (ct) {
		*out = &ct->text;
		return 0;
	}
	if (path[0] == '/')
		buf_adds(&abs, path);
	else
		buf_addf(&abs, "%s/%s", ws->root, path);
	error = buf_read_file(&data, abs.data, LSP_MAX_FILE_BYTES);
	if (error)
		goto done;
	error = ln_text_init(&t, data.data, data.len);
	if (error) {
		error = ln_error_set(error, "%s: %s", path, ln_error_msg());
		goto done;
	}
	ws->texts = realloc(ws->texts, (ws->ntexts + 1) * sizeof *ws->texts);
	if (!ws->texts)
		abort();
	ct = &ws->texts[ws->ntexts++];
	ct->path = strdup(path);
	ct->text = t;
	ln_sha256_hex(data.data, data.len, ct->digest);
	*out = &ct->text;
done:
	buf_release(&abs);
	buf_release(&data);
	return error;
}

const char *lsp_workspace_text_digest(struct lsp_workspace *ws, const char *path)
{
	struct cached_text *ct = find_text(ws, path);
	return ct ? ct->digest : NULL;
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

int lsp_workspace_wait_ready(struct lsp_workspace *ws, struct lsp_server_info *srv,
			     bool need_index, int timeout_ms)
{
	long long deadline = ln_now_ms() + timeout_ms;
	const struct lsp_profile *p = srv->profile;
	int error;

	if (p->readiness == LSP_READY_INDEX) {
		if (!need_index)
			return 1;
		if (p->index_needs_cdb && !has_cdb(ws->root))
			return 0; /* no index will ever come: partial at once */
	}
	/* Handle what has already arrived before deciding. */
	error = lsp_session_pump(srv->session, 0);
	for (;;) {
		long long left;
		if (error)
			return error;
		if (is_ready(srv->session, p))
			return 1;
		left = deadline - ln_now_ms();
		if (left <= 0)
			return 0;
		/* returns after the next message (or the deadline) */
		error = lsp_session_pump(srv->session, (int)left);
	}
}
