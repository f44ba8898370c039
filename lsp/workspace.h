/*
 * workspace.h - the language servers of one workspace.
 *
 * Holds the profiles and starts at most one session per profile, on first
 * use. Knows how to bring a file into a server's view (read it, validate
 * it as UTF-8 text, didOpen/didChange) and when a server's answers are
 * complete (readiness, see profile.h).
 *
 * Documents read here are cached for the lifetime of the workspace object
 * by workspace-relative path (or absolute path for external files), so all
 * conversions within one request see the same bytes.
 */
#ifndef LANSER_LSP_WORKSPACE_H
#define LANSER_LSP_WORKSPACE_H

#include <stdbool.h>

#include "profile.h"
#include "session.h"
#include "text.h"

#define LSP_MAX_FILE_BYTES ((size_t)16 << 20)

struct lsp_workspace;

struct lsp_server_info {
	const struct lsp_profile *profile;
	struct lsp_session *session;
	char *version;             /* from the version command (cached) */
};

struct lsp_workspace_opts {
	const char *root;          /* absolute, canonical */
	const json_t *servers;     /* config "servers" (borrowed; may be NULL) */
	int init_ms, request_ms;
	lsp_record_fn record;      /* optional frame recorder for every session */
	void *record_ctx;
};

int lsp_workspace_new(struct lsp_workspace **out, const struct lsp_workspace_opts *o);
/* Shuts every server down and reaps it. NULL allowed. */
void lsp_workspace_free(struct lsp_workspace *ws);

const struct lsp_profiles *lsp_workspace_profiles(const struct lsp_workspace *ws);
const char *lsp_workspace_root(const struct lsp_workspace *ws);

/* The running server for `profile`, started if needed. *out is borrowed
 * (owned by the workspace). LN_ENOSERVER / LN_ETIMEOUT / LN_ECRASH. */
int lsp_workspace_server(struct lsp_workspace *ws, struct lsp_server_info **out,
			 const struct lsp_profile *profile);

/* Reads and validates a document. `path` is workspace-relative, or
 * absolute for external files. *out is borrowed from the cache.
 * LN_ENOTFOUND, LN_EINPUT (binary, not UTF-8, too large). */
int lsp_workspace_text(struct lsp_workspace *ws, const struct ln_text **out, const char *path);
/* The hex SHA-256 of a document read through lsp_workspace_text(). */
const char *lsp_workspace_text_digest(struct lsp_workspace *ws, const char *path);

/* Opens (or re-syncs) a workspace file in the server that serves it.
 * *srv_out gets the server, *version_out the document version.
 * LN_ENOSERVER when no profile serves the file. */
int lsp_workspace_open(struct lsp_workspace *ws, struct lsp_server_info **srv_out,
		       int *version_out, const char *relpath);

/* Waits until `srv`'s answers are complete according to its profile's
 * readiness: 1 when ready, 0 when timeout_ms passed first (the answer may
 * be partial), or a negative LN_E* code if the server died. `need_index`
 * says whether the request depends on the workspace index (references,
 * cross-file definitions, workspace symbols). */
int lsp_workspace_wait_ready(struct lsp_workspace *ws, struct lsp_server_info *srv,
			     bool need_index, int timeout_ms);

/* file:// URI for a workspace-relative path (malloc'd). */
char *lsp_workspace_uri(const struct lsp_workspace *ws, const char *relpath);

#endif
