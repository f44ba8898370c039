/*
 * workspace_docs.c - the texts of a workspace's documents: read from disk
 * with a stat signature, cached, overlaid in memory, opened in their
 * server (workspace.h).
 */
#include "lsp/workspace.h"
#include "lsp/workspace_impl.h"
#include "core/err.h"
#include "core/hash.h"
#include "core/limits.h"
#include "core/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static size_t text_cost(const struct cached_text *ct)
{
	return ct->text.len + (size_t)ct->text.nlines * sizeof *ct->text.line_starts;
}

/* A cached text by path through the index (a refs answer looks up every
 * file it names); its position in texts[] only when idx is asked for. */
static struct cached_text *find_text(struct lsp_workspace *ws, const char *path, size_t *idx)
{
	json_t *v = json_object_get(ws->text_index, path);
	struct cached_text *ct;
	size_t i;

	if (!v)
		return NULL;
	ct = (struct cached_text *)(intptr_t)json_integer_value(v);
	if (idx)
		for (i = 0; i < ws->ntexts; i++)
			if (ws->texts[i] == ct)
				*idx = i;
	return ct;
}

void lsp_workspace_text_remove(struct lsp_workspace *ws, size_t i)
{
	struct cached_text *ct = ws->texts[i];

	json_object_del(ws->text_index, ct->path);
	ws->text_bytes -= text_cost(ct);
	lsp_workspace_text_free(ct);
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
bool lsp_workspace_text_stale(const struct lsp_workspace *ws,
			      const struct cached_text *ct)
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
	if (!ws->text_index)
		ws->text_index = json_object();
	ws->texts = xrealloc(ws->texts, (ws->ntexts + 1) * sizeof *ws->texts);
	ws->texts[ws->ntexts++] = ct;
	ws->text_bytes += text_cost(ct);
	json_object_set_new(ws->text_index, ct->path, json_integer((json_int_t)(intptr_t)ct));
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
	error = ln_text_init_file(&t, data.data, data.len);
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

bool lsp_workspace_text_latin1(struct lsp_workspace *ws, const char *path)
{
	struct cached_text *ct = find_text(ws, path, NULL);
	return ct && ct->text.latin1;
}

enum ln_enc lsp_workspace_wire_enc(const struct lsp_session *s, const char *uri,
				   const struct ln_text *t, enum ln_enc enc)
{
	if (t && t->latin1 && enc == LN_ENC_UTF8 && !lsp_session_doc_version(s, uri))
		return LN_ENC_CODEPOINT;
	return enc;
}

int lsp_workspace_sync_text(struct lsp_session *s, int *version_out, const char *uri,
			    const char *lang, const struct ln_text *t)
{
	struct buf u8 = BUF_INIT;
	int error;

	if (!t->latin1)
		return lsp_session_sync_doc(s, version_out, uri, lang, t->data, t->len);
	ln_latin1_to_utf8(&u8, t->data, t->len);
	error = lsp_session_sync_doc(s, version_out, uri, lang, u8.data, u8.len);
	buf_release(&u8);
	return error;
}

int lsp_workspace_set_overlay(struct lsp_workspace *ws, const char *path, const char *data,
			      size_t len)
{
	struct cached_text *ct;
	struct ln_text t;
	size_t i = 0;
	int error;

	if (len > LN_FILE_MAX_BYTES)
		return ln_error_set(LN_EINPUT, "%s: overlay larger than %zu bytes", path,
				    LN_FILE_MAX_BYTES);
	error = ln_text_init_file(&t, data, len);
	if (error)
		return ln_error_set(error, "%s: %s", path, ln_error_msg());
	if (find_text(ws, path, &i))
		lsp_workspace_text_remove(ws, i);
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
			lsp_workspace_text_remove(ws, i);
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
	error = lsp_workspace_sync_text((*srv_out)->session, version_out, uri, lang, t);
	free(uri);
	return error;
}
bool lsp_profile_searches_open_files(const struct lsp_profile *p)
{
	/* tsserver searches the projects of the open files: a file outside
	 * every tsconfig "include" (tests, often) only once it is open.
	 * pyright has the same habit for files outside its "include". With
	 * push diagnostics, opening every file made it check every file
	 * before it answered (on more-itertools: past the 30 s request
	 * timeout); with pull diagnostics it checks only the files it is asked
	 * about, so opening them costs a parse and a bind. */
	return !strcmp(p->name, "typescript") || (!strcmp(p->name, "pyright") && p->pull_diagnostics);
}

int lsp_workspace_open_all(struct lsp_workspace *ws, size_t *skipped,
			   const struct lsp_profile *profile, size_t max)
{
	json_t *files = NULL, *f;
	size_t i, n = 0;
	int error;

	*skipped = 0;
	error = lsp_workspace_source_files(ws, &files);
	if (error)
		return error;
	json_array_foreach(files, i, f)
		n += lsp_profiles_for_path(&ws->profiles, json_string_value(f), NULL) == profile;
	if (n > max) {
		json_decref(files);
		return 1;
	}
	json_array_foreach(files, i, f) {
		const char *rel = json_string_value(f);
		struct lsp_server_info *srv;
		int version;
		if (lsp_profiles_for_path(&ws->profiles, rel, NULL) != profile)
			continue;
		error = lsp_workspace_open(ws, &srv, &version, rel);
		if (error == LN_EINPUT || error == LN_ENOTFOUND) {
			/* binary, too large, gone: the server cannot
			 * have it, and the answer misses it */
			(*skipped)++;
			ln_error_clear();
			error = 0;
			continue;
		}
		if (error)
			break;
	}
	json_decref(files);
	return error;
}
