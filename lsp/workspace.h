/*
 * workspace.h - the language servers of one workspace.
 *
 * Holds the profiles and starts at most one session per profile, on first
 * use. Knows how to bring a file into a server's view (read it, validate
 * it as UTF-8 text, didOpen/didChange) and when a server's answers are
 * complete (readiness, see profile.h).
 *
 * Documents read here are cached by workspace-relative path (or absolute
 * path for external files), so all conversions within one request see the
 * same bytes; pointers returned stay valid until the next
 * lsp_workspace_refresh() or lsp_workspace_drop_overlays().
 *
 * A warm workspace (the daemon's) lives across requests. Before each one
 * the owner calls lsp_workspace_refresh(), which makes the cache and every
 * server's view equal the files on disk; between requests it polls the
 * servers' descriptors, pumps them, and reaps crashed servers with
 * lsp_workspace_reap(). With `restart` set, a crashed server is started
 * again on its next use, after a backoff that grows with repeated crashes.
 *
 * Overlays are in-memory texts that replace a file's disk content for the
 * current request only (verified apply, group evaluation): set them, run
 * the request, drop them; the next refresh puts the disk text back into
 * every server, so an overlay never leaks into another request's answer.
 */
#ifndef LANSER_LSP_WORKSPACE_H
#define LANSER_LSP_WORKSPACE_H

#include <stdbool.h>

#include "lsp/profile.h"
#include "lsp/session.h"
#include "core/text.h"
#include "core/limits.h"

struct lsp_workspace;

struct lsp_server_info {
	const struct lsp_profile *profile;
	struct lsp_session *session;
	char *version;             /* from the version command (cached) */
};

/*
 * Traces (docs/trace.md). A recorder sees, for one request, everything the
 * answer depends on besides the request itself: each server's state when
 * the request first uses it (lsp_session_snapshot) and its frames after
 * that (with pump and deadline records, session.h), every document text
 * read, and every "probe" of the disk: path resolutions ("path", key
 * "<cwd>\n<path>"), the workspace's source files ("sourceFiles"), whether
 * a compilation database exists ("hasCdb"), and whatever callers record
 * with lsp_workspace_probe_put. A replayer hands the same things back, so
 * the same code runs with no server and no disk (lsp_workspace_opts.replay).
 * Callbacks are called on the thread using the workspace.
 */
struct lsp_recorder {
	void (*server)(void *ctx, const char *profile, const char *version, const json_t *snapshot);
	void (*frame)(void *ctx, const char *profile, char dir, const char *body, size_t len);
	/* error 0: the text (data, len, hex digest); else the read failed */
	void (*document)(void *ctx, const char *path, const char *data, size_t len,
			 const char *digest, int error, const char *message);
	void (*probe)(void *ctx, const char *name, const char *key, const json_t *value, int error,
		      const char *message);
	void *ctx;
};
struct lsp_replayer {
	/* The next recorded start of `profile`'s server: its snapshot and
	 * version (borrowed) and the items that followed. LN_EREPLAY when the
	 * trace has none. */
	int (*server)(void *ctx, const char *profile, const json_t **snapshot, const char **version,
		      struct lsp_replay *src);
	/* 0 with *data and *len (borrowed), or with *error set; LN_EREPLAY when the
	 * trace never read the document. */
	int (*document)(void *ctx, const char *path, const char **data, size_t *len, int *error,
			const char **message);
	int (*probe)(void *ctx, const char *name, const char *key, const json_t **value,
		     int *error, const char **message);
	void *ctx;
};

struct lsp_workspace_opts {
	const char *root;          /* absolute, canonical */
	const json_t *servers;     /* config "servers" (borrowed; may be NULL) */
	int init_ms, request_ms;
	lsp_record_fn record;      /* optional frame recorder for every session */
	void *record_ctx;
	bool restart;              /* restart crashed servers (with backoff) */
	bool track_files;          /* keep a snapshot of the tree (refresh) */
	const struct lsp_replayer *replay; /* replay a trace: no server, no disk (copied) */
	/* Optional: wraps every server's command line before it starts (eval
	 * runs servers for untrusted content in a box, agent/eval.c). `argv` is
	 * the resolved command (NULL-terminated, borrowed); on success *out is a
	 * new NULL-terminated malloc'd array of malloc'd strings that the
	 * workspace frees. A negative LN_E* code fails the server's start. */
	int (*wrap)(void *ctx, const char *const *argv, char ***out);
	void *wrap_ctx;
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
 * LN_ENOTFOUND, LN_EINPUT (binary, too large). A file that is not UTF-8
 * is read as Latin-1 (ln_text_init_file(): (*out)->latin1), and its
 * servers are sent its UTF-8 form. */
int lsp_workspace_text(struct lsp_workspace *ws, const struct ln_text **out, const char *path);
/* The hex SHA-256 of a document read through lsp_workspace_text(). */
const char *lsp_workspace_text_digest(struct lsp_workspace *ws, const char *path);
/* Whether a document read through lsp_workspace_text() is Latin-1. */
bool lsp_workspace_text_latin1(struct lsp_workspace *ws, const char *path);
/*
 * The unit a server's columns in document `t` (at `uri`) are in, for a
 * server `s` whose negotiated unit is `enc`. A Latin-1 document the server
 * has open was sent decoded (ln_text_init_file() counts its units); one it
 * has not opened it reads from disk itself, and a UTF-8 server (clangd)
 * then counts raw bytes: LN_ENC_CODEPOINT, one per byte, on a Latin-1 text.
 * Anything else: `enc`.
 */
enum ln_enc lsp_workspace_wire_enc(const struct lsp_session *s, const char *uri,
				   const struct ln_text *t, enum ln_enc enc);
/* Sends a document's text to a server (lsp_session_sync_doc()), in its
 * UTF-8 form when it is Latin-1. */
int lsp_workspace_sync_text(struct lsp_session *s, int *version_out, const char *uri,
			    const char *lang, const struct ln_text *t);

/* Opens (or re-syncs) a workspace file in the server that serves it.
 * *srv_out gets the server, *version_out the document version.
 * LN_ENOSERVER when no profile serves the file. */
int lsp_workspace_open(struct lsp_workspace *ws, struct lsp_server_info **srv_out,
		       int *version_out, const char *relpath);

/* Whether the profile's server answers workspace-wide queries (references,
 * rename) only from the files it has open or loaded:
 * typescript-language-server, and pyright with pull diagnostics (both
 * search files outside their project's "include" only once they are open),
 * whose answers would otherwise depend on which files happened to be
 * opened before (issue 12). */
bool lsp_profile_searches_open_files(const struct lsp_profile *p);
/* Opens every workspace file (lsp_workspace_source_files) that `profile`
 * serves, in path order, so that such a server searches all of them.
 * 0 when done (*skipped counts the files that could not be opened: binary,
 * not UTF-8, too large, gone), 1 when there are more than `max` of them
 * (nothing opened), or a negative LN_E* code. */
#define LSP_OPEN_ALL_MAX 400
int lsp_workspace_open_all(struct lsp_workspace *ws, size_t *skipped,
			   const struct lsp_profile *profile, size_t max);

/* Called while lsp_workspace_wait_ready waits, after each message from the
 * server: `server` is the profile name, `what` what is waited for (the
 * active progress's title, else "its index" / "workspace discovery"),
 * `percentage` the server's last report (0..100, -1: none). Called once
 * more with what == NULL when the wait ends, if it was called at all.
 * Never called while replaying a trace. For display only. */
typedef void (*lsp_wait_fn)(void *ctx, const char *server, const char *what, int percentage);
/* Installs (fn non-NULL) or removes the wait observer. */
void lsp_workspace_set_wait_hook(struct lsp_workspace *ws, lsp_wait_fn fn, void *ctx);

/* Waits until `srv`'s answers are complete according to its profile's
 * readiness: 1 when ready, 0 when timeout_ms passed first (the answer may
 * be partial), or a negative LN_E* code if the server died. `need_index`
 * says whether the request depends on the workspace index (references,
 * cross-file definitions, workspace symbols). */
int lsp_workspace_wait_ready(struct lsp_workspace *ws, struct lsp_server_info *srv,
			     bool need_index, int timeout_ms);

/* file:// URI for a workspace-relative path (malloc'd). */
char *lsp_workspace_uri(const struct lsp_workspace *ws, const char *relpath);

/* The workspace files some enabled profile serves, sorted (hidden
 * directories, node_modules and __pycache__ skipped), as a JSON array of
 * relative paths. From the snapshot when the workspace tracks files.
 * LN_EINPUT when there are more than LSP_MAX_WORKSPACE_FILES. */
#define LSP_MAX_WORKSPACE_FILES 2000
int lsp_workspace_source_files(struct lsp_workspace *ws, json_t **out);

/* ---- traces (see struct lsp_recorder) ---- */

/* Attaches a recorder (copied) for the coming request, or detaches it
 * (NULL). Attaching forgets which servers were already recorded, so each
 * request records the state of every server it uses. */
void lsp_workspace_set_recorder(struct lsp_workspace *ws, const struct lsp_recorder *r);
bool lsp_workspace_replaying(const struct lsp_workspace *ws);

/* ln_path_resolve_in_root() against the workspace root, recorded as a
 * "path" probe (and answered from the trace when replaying). */
int lsp_workspace_resolve_path(struct lsp_workspace *ws, char **out_rel, const char *cwd,
			       const char *user_path);

/* Records the outcome of a disk probe done by the caller (value borrowed;
 * error 0 for success, the message is the last error's), when a recorder
 * is attached. */
void lsp_workspace_probe_put(struct lsp_workspace *ws, const char *name, const char *key,
			     const json_t *value, int error);
/* Replaying: the recorded outcome (*out a new reference, or the recorded
 * error returned with its message). LN_EREPLAY when the trace has none. */
int lsp_workspace_probe_get(struct lsp_workspace *ws, const char *name, const char *key,
			    json_t **out);

/* ---- warm workspaces (the daemon) ---- */

/* Brings the document cache and every running server in line with the
 * disk (see the top of this file). Changes since the last refresh are
 * sent as workspace/didChangeWatchedFiles; changed source files are synced
 * into their server (didOpen/didChange, didClose when deleted) and the
 * other open documents of an affected server are re-versioned so that it
 * publishes fresh diagnostics. Returns 0, or an error when the root is gone. */
int lsp_workspace_refresh(struct lsp_workspace *ws);

/* "sha256:..." over every file of the workspace as of the last refresh, or
 * NULL (not tracking, or the tree is over the snapshot's bounds). */
const char *lsp_workspace_content_digest(const struct lsp_workspace *ws);

/* Whether relpath is one of the files the workspace keeps in sync (the
 * daemon's snapshot, which leaves out what .gitignore excludes): true says
 * "a project file, not ignored" without asking git; false says nothing
 * (no snapshot, or a file outside it). */
bool lsp_workspace_tracked(const struct lsp_workspace *ws, const char *relpath);

/* Counts server starts: changes whenever a server (re)starts, so a cache
 * keyed on it never serves an answer from a server that is gone. */
unsigned long lsp_workspace_generation(const struct lsp_workspace *ws);

/* Starts the servers the workspace needs (one per language present) and
 * opens one file in each so that they begin indexing. Errors are recorded
 * per server (see status) and not returned. */
void lsp_workspace_warm(struct lsp_workspace *ws);

/* Waits until every running server is ready (index included) or the
 * deadline passes: 1 all ready, 0 timeout. */
int lsp_workspace_wait_all_ready(struct lsp_workspace *ws, int timeout_ms);

/* Descriptors to poll for server output (at most `max`); returns the count. */
size_t lsp_workspace_poll_fds(const struct lsp_workspace *ws, int *fds, size_t max);
/* Handles whatever the servers sent (non-blocking). */
void lsp_workspace_pump(struct lsp_workspace *ws);
/* Frees (and reaps) the sessions whose server died; returns how many. */
int lsp_workspace_reap(struct lsp_workspace *ws);
/* Total crashes seen so far. */
unsigned long lsp_workspace_crashes(const struct lsp_workspace *ws);

/* One object per profile that was started:
 * {profile, state ("running"|"crashed"), pid, version, positionEncoding,
 *  ready, restarts, crashes, requestsSent, openDocuments, rssKiB,
 *  uptimeMs, lastError}. */
json_t *lsp_workspace_status(struct lsp_workspace *ws);

/* Adds srv to a bundle's environment.servers array (`servers`) unless its
 * profile is there already: {profile, version ("unknown" when none; bytes
 * that are not UTF-8 become U+FFFD), positionEncoding}. */
void lsp_server_note(json_t *servers, const struct lsp_server_info *srv);

/* Overlays (see the top of this file). `path` is workspace-relative. */
int lsp_workspace_set_overlay(struct lsp_workspace *ws, const char *path, const char *data,
			      size_t len);
void lsp_workspace_drop_overlays(struct lsp_workspace *ws);
bool lsp_workspace_has_overlays(const struct lsp_workspace *ws);

#endif
